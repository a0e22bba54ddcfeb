//! Sending one carrier's queue over this connector's binds to it.
//!
//! One task per carrier (while this connector holds at least one of its slots) owns
//! everything on the message path, so nothing on it takes a lock: the bound sessions
//! ("lanes", each with its AIMD [`Window`]), the token bucket of this connector's share of
//! the carrier's TPS ([`SendRate`]), the messages ready to send, and the futures of the
//! submits in flight and of their settlement. Two puller tasks (`sender/pull.rs`) fetch
//! from the carrier's durable consumers, one per priority lane (bulk and urgent), and the
//! sending task takes from them only while some lane has a free window slot, so what this connector holds
//! unsent stays small (the pull batch is the sum of the windows). Settling each answer is
//! [`crate::settle`]'s.
//!
//! Urgent messages are sent before bulk ones, with a bound on starvation
//! (`sender/ready.rs`). Each message is sent on the lane with the most free window, when a
//! token is there; the
//! answer is classified ([`crate::outcome`]) and settled ([`crate::settle`]):
//! - accepted: status `submitted`, id map (until stored), ack; a carrier's SMPP 5.0
//!   `congestion_state` in the answer slows the lane and the rate before it throttles
//!   ([`crate::pacing`]);
//! - throttled: lane window and send rate halve; the message waits a short pause and goes
//!   again from this connector (it is not handed back to the bus, so throttling costs no
//!   redelivery and no attempt), up to [`MAX_LOCAL_THROTTLES`] times;
//! - temporary: redelivery after the carrier's retry schedule; once `max_attempts`
//!   deliveries are spent, it fails as below;
//! - permanent: failover to the routers when the route has another candidate
//!   ([`herald_bus::Outgoing::handed_back`]), else a failure receipt for the account.
//!
//! A redelivered message (a connector died, an ack was lost) is looked up in the status
//! store first: if this carrier already accepted it, it is acked without sending again
//! (its mapping repaired if the crash came between the two records).
//! A message whose validity passed is not sent: it gets an `EXPIRED` receipt.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

use futures::StreamExt as _;
use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;
use herald_bus::Delivery;
use herald_proto::bus::v1::MtMessage;
use herald_rules::Carrier;
use herald_smpp::receipt::MessageState;
use herald_smpp::session::{Session, SessionError};
use herald_smpp::{Pdu, PduBody};
use herald_telemetry::names;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use crate::bind::BindEvent;
use crate::connector::Shared;
use crate::health::{BindStatus, CarrierStats};
use crate::outcome::{SubmitOutcome, classify, congestion_state};
use crate::pacing::{SendRate, Window};
use crate::settle::{self, Failure, Job, fail, hand_back, temporary};
use crate::submit::{is_expired, submit_sm};

mod pull;
mod ready;

use pull::{Pulled, Puller, recv};
use ready::Ready;

/// Throttling answers one message may get before it goes back to the bus with the
/// carrier's retry schedule.
pub const MAX_LOCAL_THROTTLES: u32 = 32;

/// What becomes of a message the carrier throttled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AfterThrottle {
    /// Back to the bus at once: this connector is draining.
    HandBack,
    /// A temporary failure: the carrier's retry schedule (an attempt spent).
    Temporary,
    /// Sent again from here after a pause; no attempt spent.
    SendAgainAfter(Duration),
}

/// The rule for a message throttled `throttles` times so far: a short pause, growing with
/// the throttles it met (the halved rate does the real pacing), until
/// [`MAX_LOCAL_THROTTLES`]; then the carrier's retry schedule. A draining connector keeps
/// nothing.
fn after_throttle(throttles: u32, draining: bool) -> AfterThrottle {
    if draining {
        AfterThrottle::HandBack
    } else if throttles > MAX_LOCAL_THROTTLES {
        AfterThrottle::Temporary
    } else {
        AfterThrottle::SendAgainAfter(Duration::from_millis(50) * 2u32.pow(throttles.min(4)))
    }
}
/// How long the sending task keeps pulling after its last bind went away, hoping for a
/// quick rebind, before it stops (what it fetched but cannot send is handed back).
const NO_LANE_GRACE: Duration = Duration::from_secs(2);
/// What the sending task of a carrier knows about its slots.
#[derive(Clone, Debug)]
pub(crate) struct CarrierPlan {
    /// The carrier as the rules have it now.
    pub(crate) carrier: Arc<Carrier>,
    /// Submitting slots this connector holds.
    pub(crate) submit_slots: u32,
}

impl CarrierPlan {
    /// This connector's share of the carrier's TPS and burst: each submitting slot gets
    /// `1 / binds` of them.
    fn share(&self) -> (f64, f64) {
        let fraction = f64::from(self.submit_slots) / f64::from(self.carrier.binds.max(1));
        let quota = &self.carrier.throughput;
        (
            f64::from(quota.tps) * fraction,
            (f64::from(quota.burst()) * fraction).max(1.0),
        )
    }
}

/// What the rules allow a carrier, as gauges, so dashboards can set use against limits.
struct CarrierLimitGauges {
    binds: metrics::Gauge,
    tps: metrics::Gauge,
}

impl CarrierLimitGauges {
    fn new(carrier_id: &str) -> CarrierLimitGauges {
        let label = || (names::labels::CARRIER, carrier_id.to_owned());
        CarrierLimitGauges {
            binds: metrics::gauge!(names::CONNECTOR_BINDS_CONFIGURED, &[label()]),
            tps: metrics::gauge!(names::CONNECTOR_TPS_LIMIT, &[label()]),
        }
    }

    fn set(&self, carrier: &Carrier) {
        self.binds.set(f64::from(carrier.binds));
        self.tps.set(f64::from(carrier.throughput.tps));
    }

    fn clear(&self) {
        self.binds.set(0.0);
        self.tps.set(0.0);
    }
}

/// A bound session the sender may use.
struct Lane {
    /// Unique per bound session (a slot rebinds as a new lane), so answers from a lost
    /// session are never booked against its successor.
    id: u64,
    slot: u32,
    session: Session,
    status: Arc<BindStatus>,
    window: Window,
    in_flight: u32,
}

impl Lane {
    fn free(&self) -> u32 {
        self.window.limit().saturating_sub(self.in_flight)
    }

    fn publish(&self) {
        self.status
            .window
            .store(self.window.limit(), Ordering::Relaxed);
        self.status
            .in_flight
            .store(self.in_flight, Ordering::Relaxed);
    }
}

/// A submit's answer.
struct Done {
    lane: u64,
    job: Job,
    result: Result<Pdu, SessionError>,
    elapsed: Duration,
}

/// The sending task of one carrier.
pub(crate) struct CarrierSender {
    pub(crate) shared: Arc<Shared>,
    pub(crate) carrier_id: String,
    pub(crate) plan: watch::Receiver<CarrierPlan>,
    pub(crate) events: mpsc::UnboundedReceiver<BindEvent>,
    pub(crate) stop: watch::Receiver<bool>,
    pub(crate) stats: Arc<CarrierStats>,
}

/// Everything the loop owns.
struct State {
    carrier: Arc<Carrier>,
    lanes: Vec<Lane>,
    /// Pulled and not yet sent, urgent lane first ([`ready`]).
    ready: Ready<Job>,
    submits: FuturesUnordered<BoxFuture<'static, Done>>,
    settling: FuturesUnordered<BoxFuture<'static, ()>>,
    waiting: FuturesUnordered<BoxFuture<'static, Option<Job>>>,
    rate: SendRate,
    token_at: Option<Instant>,
    draining: bool,
    counters: HashMap<&'static str, metrics::Counter>,
    /// The carrier's last reported SMPP 5.0 `congestion_state`.
    congestion: metrics::Gauge,
    /// Pull the bulk and the urgent queue while some lane is up and nothing stops the
    /// sender.
    bulk_puller: Option<Puller>,
    urgent_puller: Option<Puller>,
    /// Since when no lane has been up (pulling goes on for [`NO_LANE_GRACE`]).
    no_lanes_since: Option<Instant>,
    next_lane: u64,
    /// The bind-event and plan channels are open (a closed one is ready at once, so it
    /// is no longer polled).
    events_open: bool,
    plan_open: bool,
}

impl State {
    /// Draining, and nothing left to settle.
    fn finished(&self) -> bool {
        self.draining
            && self.submits.is_empty()
            && self.settling.is_empty()
            && self.waiting.is_empty()
            && self.ready.is_empty()
    }

    /// No lane came back within the grace after the last one went.
    fn idle_too_long(&self) -> bool {
        self.no_lanes_since
            .is_some_and(|since| since.elapsed() >= NO_LANE_GRACE)
    }
}

/// What wakes the sending loop; each has its handler.
#[allow(
    clippy::large_enum_variant,
    reason = "one per wake-up, moved once; boxing would allocate per message"
)]
enum Wake {
    Bind(Option<BindEvent>),
    Answered(Done),
    Settled,
    Waited(Option<Job>),
    Pulled {
        urgent: bool,
        pulled: Option<Pulled>,
    },
    TokenDue,
    GraceOver,
    PlanChanged {
        open: bool,
    },
    Stop,
    KeepAlive,
}

/// The carrier's gauges the loop keeps current.
struct SenderGauges {
    inflight: metrics::Gauge,
    window: metrics::Gauge,
    submit_seconds: metrics::Histogram,
    limits: CarrierLimitGauges,
}

impl SenderGauges {
    fn new(carrier_id: &str) -> SenderGauges {
        let label = || (names::labels::CARRIER, carrier_id.to_owned());
        SenderGauges {
            inflight: metrics::gauge!(names::CONNECTOR_INFLIGHT, &[label()]),
            window: metrics::gauge!(names::CONNECTOR_WINDOW_SIZE, &[label()]),
            submit_seconds: metrics::histogram!(names::CONNECTOR_SUBMIT_SECONDS, &[label()]),
            limits: CarrierLimitGauges::new(carrier_id),
        }
    }

    fn show(&self, s: &State) {
        self.inflight
            .set(f64::from(s.lanes.iter().map(|l| l.in_flight).sum::<u32>()));
        self.window.set(f64::from(
            s.lanes.iter().map(|l| l.window.limit()).sum::<u32>(),
        ));
    }
}

impl CarrierSender {
    /// Sends until told to stop, then finishes what is in flight and returns.
    pub(crate) async fn run(mut self) {
        let plan = self.plan.borrow().clone();
        let (tps, burst) = plan.share();
        let mut s = State {
            carrier: plan.carrier.clone(),
            lanes: Vec::new(),
            ready: Ready::default(),
            submits: FuturesUnordered::new(),
            settling: FuturesUnordered::new(),
            waiting: FuturesUnordered::new(),
            rate: SendRate::new(tps, burst, Instant::now()),
            token_at: None,
            draining: *self.stop.borrow(),
            counters: HashMap::new(),
            congestion: metrics::gauge!(
                names::CONNECTOR_CARRIER_CONGESTION,
                names::labels::CARRIER => self.carrier_id.clone()
            ),
            bulk_puller: None,
            urgent_puller: None,
            no_lanes_since: None,
            next_lane: 0,
            events_open: true,
            plan_open: true,
        };
        self.stats.set_rate(s.rate.rate());
        let gauges = SenderGauges::new(&self.carrier_id);
        gauges.limits.set(&s.carrier);
        settle::register_redelivered(&self.carrier_id);
        let ack_wait = self.shared.config.ack_wait;
        let mut keepalive = tokio::time::interval((ack_wait / 3).max(Duration::from_millis(100)));
        keepalive.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            self.prepare(&mut s).await;
            gauges.show(&s);
            if s.finished() {
                break;
            }
            match self.next_wake(&mut s, &mut keepalive).await {
                Wake::Bind(event) => self.on_bind_event(&mut s, event),
                Wake::Answered(done) => {
                    if done.result.is_ok() {
                        gauges.submit_seconds.record(done.elapsed.as_secs_f64());
                    }
                    self.on_done(&mut s, done);
                }
                Wake::Settled | Wake::GraceOver => {}
                Wake::TokenDue => s.token_at = None,
                Wake::Waited(job) => on_waited(&mut s, job),
                Wake::Pulled { urgent, pulled } => self.on_pulled(&mut s, urgent, pulled),
                Wake::PlanChanged { open } => self.on_plan_changed(&mut s, open, &gauges),
                Wake::Stop => s.draining = true,
                Wake::KeepAlive => keep_ready_alive(&mut s, ack_wait).await,
            }
        }
        stop_pullers(&mut s).await;
        gauges.inflight.set(0.0);
        gauges.window.set(0.0);
        // A carrier gone from the rules (or disabled) must not look configured-but-down.
        // A carrier merely handed to a new sender keeps its limits: that sender set them.
        let still_configured = self
            .shared
            .rules
            .load()
            .carrier(&self.carrier_id)
            .is_some_and(|c| c.enabled);
        if !still_configured {
            gauges.limits.clear();
        }
    }

    /// Before each wait: pulling started or stopped as the lanes and the drain say, what
    /// cannot be sent soon handed back, ready messages sent, the next pull asked for.
    async fn prepare(&self, s: &mut State) {
        // Pull only while there is somewhere to send.
        if !s.draining && !s.lanes.is_empty() {
            if s.bulk_puller.is_none() {
                s.bulk_puller = Some(self.start_puller(s, false));
            }
            if s.urgent_puller.is_none() {
                s.urgent_puller = Some(self.start_puller(s, true));
            }
        }
        let idle_too_long = s.idle_too_long();
        if s.draining || idle_too_long {
            stop_pullers(s).await;
            // Nothing can be sent soon: hand back what waits.
            while let Some(job) = s.ready.pop_front() {
                s.settling.push(Box::pin(hand_back(job)));
            }
        }
        self.dispatch(s);
        if s.draining {
            return;
        }
        let free: u32 = s.lanes.iter().map(Lane::free).sum();
        let queued = s.ready.len() + s.waiting.len();
        // No more than a second's worth at the current rate either: a slow carrier's
        // messages wait on the bus, not here being kept alive.
        let per_second = s.rate.rate().ceil().max(1.0) as usize;
        let room = usize::try_from(free).unwrap_or(0).min(per_second);
        if let Some(p) = s.bulk_puller.as_mut() {
            p.request(room.saturating_sub(queued), queued);
        }
        // Urgent messages are pulled whatever bulk holds here: they go before it.
        let urgent_queued = s.ready.lane_len(true);
        if let Some(p) = s.urgent_puller.as_mut() {
            p.request(room.saturating_sub(urgent_queued), urgent_queued);
        }
    }

    /// Waits for whatever comes first.
    async fn next_wake(&mut self, s: &mut State, keepalive: &mut tokio::time::Interval) -> Wake {
        let token_at = s.token_at;
        let grace_left = s
            .no_lanes_since
            .filter(|_| s.bulk_puller.is_some() || s.urgent_puller.is_some())
            .map(|since| since + NO_LANE_GRACE);
        tokio::select! {
            event = self.events.recv(), if s.events_open => Wake::Bind(event),
            Some(done) = s.submits.next(), if !s.submits.is_empty() => Wake::Answered(done),
            Some(()) = s.settling.next(), if !s.settling.is_empty() => Wake::Settled,
            Some(job) = s.waiting.next(), if !s.waiting.is_empty() => Wake::Waited(job),
            pulled = recv(&mut s.urgent_puller) => Wake::Pulled { urgent: true, pulled },
            pulled = recv(&mut s.bulk_puller) => Wake::Pulled { urgent: false, pulled },
            () = sleep_until(token_at), if token_at.is_some() => Wake::TokenDue,
            () = sleep_until(grace_left), if grace_left.is_some() => Wake::GraceOver,
            changed = self.plan.changed(), if s.plan_open => {
                Wake::PlanChanged { open: changed.is_ok() }
            }
            _ = self.stop.changed(), if !s.draining => Wake::Stop,
            _ = keepalive.tick() => Wake::KeepAlive,
        }
    }

    /// A bind came up (a new lane) or went down.
    fn on_bind_event(&self, s: &mut State, event: Option<BindEvent>) {
        match event {
            Some(BindEvent::Up {
                slot,
                session,
                status,
            }) => {
                s.lanes.retain(|l| l.slot != slot);
                s.next_lane += 1;
                let lane = Lane {
                    id: s.next_lane,
                    slot,
                    session,
                    status,
                    window: Window::new(s.carrier.window),
                    in_flight: 0,
                };
                lane.publish();
                s.lanes.push(lane);
                s.no_lanes_since = None;
            }
            Some(BindEvent::Down { slot }) => {
                s.lanes.retain(|l| l.slot != slot);
                if s.lanes.is_empty() {
                    s.no_lanes_since = Some(Instant::now());
                }
            }
            // The supervisor is gone: nobody will send bind events any more.
            None => {
                s.events_open = false;
                s.draining = true;
            }
        }
    }

    /// What a puller (of the urgent or the bulk queue) brought: a message to take, or the
    /// end of a request.
    fn on_pulled(&self, s: &mut State, urgent: bool, pulled: Option<Pulled>) {
        let puller = if urgent {
            &mut s.urgent_puller
        } else {
            &mut s.bulk_puller
        };
        match pulled {
            Some(Pulled::Message(delivery)) => {
                if let Some(p) = puller.as_mut() {
                    p.observe(delivery.batch_len());
                }
                self.take(s, delivery);
            }
            Some(Pulled::Done) => {
                if let Some(p) = puller.as_mut() {
                    p.done();
                }
            }
            None => {
                // The pull task ended on its own (it never should): start afresh.
                tracing::warn!(carrier = %self.carrier_id, urgent, "puller ended; restarting it");
                *puller = None;
            }
        }
    }

    /// The carrier's rules or this connector's slots changed: new share, new windows.
    fn on_plan_changed(&mut self, s: &mut State, open: bool, gauges: &SenderGauges) {
        if !open {
            s.plan_open = false;
            s.draining = true;
            return;
        }
        let plan = self.plan.borrow_and_update().clone();
        let (tps, burst) = plan.share();
        s.rate.set_share(tps, burst, Instant::now());
        for lane in &mut s.lanes {
            lane.window.set_max(plan.carrier.window);
        }
        s.carrier = plan.carrier;
        let batch = self.batch_size(s);
        for p in [&mut s.bulk_puller, &mut s.urgent_puller]
            .into_iter()
            .flatten()
        {
            p.set_batch(batch);
        }
        gauges.limits.set(&s.carrier);
        self.stats.set_rate(s.rate.rate());
    }

    /// The most one pull request asks for: every window of the slots held, at most
    /// `connector.batch`.
    fn batch_size(&self, s: &State) -> usize {
        let window_total =
            u64::from(s.carrier.window) * u64::from(self.plan.borrow().submit_slots.max(1));
        usize::try_from(window_total)
            .unwrap_or(usize::MAX)
            .clamp(1, self.shared.config.batch.max(1))
    }

    /// Starts pulling the carrier's urgent or bulk queue.
    fn start_puller(&self, s: &State, urgent: bool) -> Puller {
        Puller::start(
            self.shared.clone(),
            self.carrier_id.clone(),
            urgent,
            self.batch_size(s),
        )
    }

    /// A fresh delivery: decode, then straight to the ready queue, or through a status
    /// check when it was delivered before.
    fn take(&self, s: &mut State, delivery: Delivery) {
        let mt: MtMessage = match delivery.decode() {
            Ok(mt) => mt,
            Err(error) => {
                s.settling.push(Box::pin(async move {
                    let _ = delivery
                        .dead_letter(&format!("undecodable message: {error}"))
                        .await;
                }));
                return;
            }
        };
        if self.shared.cancelled.contains(&mt.account_id, &mt.id) {
            // The ESME cancelled it before it reached the carrier: record that and drop it.
            let shared = self.shared.clone();
            s.settling.push(Box::pin(async move {
                settle::cancelled(&shared, delivery, mt).await;
            }));
            return;
        }
        let mut mt = mt;
        if let Some(replacement) = self.shared.cancelled.replacement(&mt.account_id, &mt.id) {
            // replace_sm arrived while the message waited: send the new text instead.
            tracing::info!(message = %mt.id, "replaced before submission");
            mt.payload = replacement.payload;
            mt.registered_delivery = replacement.registered_delivery;
            if replacement.validity_unix_ms > 0 {
                mt.validity_unix_ms = replacement.validity_unix_ms;
            }
            if replacement.schedule_delivery_unix_ms > 0 {
                mt.schedule_delivery_unix_ms = replacement.schedule_delivery_unix_ms;
            }
        }
        let span = delivery.traced(|| {
            tracing::info_span!("connector.submit", message_id = %mt.id, carrier = %self.carrier_id)
        });
        let job = Job::new(delivery, mt, span);
        let redelivered = job.delivery.deliveries() > 1
            || job
                .delivery
                .header(herald_bus::publish::REDELIVERED_HEADER)
                .is_some();
        if redelivered {
            let shared = self.shared.clone();
            let carrier = self.carrier_id.clone();
            s.waiting.push(Box::pin(async move {
                settle::redelivered(&shared, &carrier, job).await
            }));
        } else {
            s.ready.push_back(job.mt.urgent, job);
        }
    }

    /// Sends ready messages while a lane has room and the bucket has tokens.
    fn dispatch(&self, s: &mut State) {
        let ack_wait = self.shared.config.ack_wait;
        while !s.ready.is_empty() && !s.draining {
            let Some(lane) = s
                .lanes
                .iter_mut()
                .filter(|l| l.free() > 0)
                .max_by_key(|l| l.free())
            else {
                return;
            };
            let now = Instant::now();
            let wall = SystemTime::now();
            // Expired messages cost no token.
            if s.ready.front().is_some_and(|job| is_expired(&job.mt, wall)) {
                if let Some(job) = s.ready.pop_front() {
                    let (shared, carrier) = (self.shared.clone(), s.carrier.clone());
                    s.settling.push(Box::pin(async move {
                        let failure = Failure {
                            state: MessageState::Expired,
                            error: "validity period passed before the carrier was reached".into(),
                            network_error_code: 0,
                            may_fail_over: false,
                        };
                        fail(&shared, &carrier, job, failure).await;
                    }));
                }
                continue;
            }
            if let Err(at) = s.rate.try_take(now) {
                s.token_at = Some(at);
                return;
            }
            let Some(mut job) = s.ready.pop_front() else {
                return;
            };
            let sm = match submit_sm(&job.mt, &s.carrier, wall) {
                Ok(sm) => sm,
                Err(error) => {
                    let (shared, carrier) = (self.shared.clone(), s.carrier.clone());
                    s.settling.push(Box::pin(async move {
                        let failure = Failure {
                            state: MessageState::Rejected,
                            error: error.to_string(),
                            network_error_code: error.status().as_u32(),
                            may_fail_over: true,
                        };
                        fail(&shared, &carrier, job, failure).await;
                    }));
                    continue;
                }
            };
            lane.in_flight += 1;
            lane.publish();
            let lane_id = lane.id;
            let session = lane.session.clone();
            s.submits.push(Box::pin(async move {
                job.keep_alive(ack_wait).await;
                let started = Instant::now();
                let result = session.request(PduBody::SubmitSm(sm)).await;
                Done {
                    lane: lane_id,
                    job,
                    result,
                    elapsed: started.elapsed(),
                }
            }));
        }
    }

    /// Books a submit's answer and starts its settlement.
    fn on_done(&self, s: &mut State, done: Done) {
        let Done {
            lane: lane_id,
            mut job,
            result,
            ..
        } = done;
        let outcome = classify(&result);
        let label = outcome.label(&result);
        s.counters
            .entry(label)
            .or_insert_with(|| {
                metrics::counter!(
                    names::CONNECTOR_SUBMIT_TOTAL,
                    names::labels::CARRIER => self.carrier_id.clone(),
                    names::labels::STATUS => label
                )
            })
            .increment(1);
        let now = Instant::now();
        let lane = s.lanes.iter_mut().find(|l| l.id == lane_id);
        let (shared, carrier) = (self.shared.clone(), s.carrier.clone());
        match outcome {
            SubmitOutcome::Accepted { carrier_message_id } => {
                self.stats.ok.fetch_add(1, Ordering::Relaxed);
                let congestion = congestion_state(&result);
                if let Some(lane) = lane {
                    lane.in_flight = lane.in_flight.saturating_sub(1);
                    lane.window.on_accepted(congestion, now);
                    lane.status.ok.fetch_add(1, Ordering::Relaxed);
                    lane.publish();
                }
                if let Some(state) = congestion {
                    s.congestion.set(f64::from(state));
                    s.rate.on_accepted(congestion, now);
                    self.stats.set_rate(s.rate.rate());
                }
                s.settling.push(Box::pin(async move {
                    settle::accepted(&shared, &carrier, job, carrier_message_id).await;
                }));
            }
            SubmitOutcome::Throttled(status) => {
                self.stats.throttled.fetch_add(1, Ordering::Relaxed);
                if let Some(lane) = lane {
                    lane.in_flight = lane.in_flight.saturating_sub(1);
                    lane.window.on_throttle(now);
                    lane.status.throttled.fetch_add(1, Ordering::Relaxed);
                    lane.status.errors.fetch_add(1, Ordering::Relaxed);
                    lane.publish();
                }
                s.rate.on_throttle(now);
                self.stats.set_rate(s.rate.rate());
                job.throttles += 1;
                match after_throttle(job.throttles, s.draining) {
                    AfterThrottle::HandBack => s.settling.push(Box::pin(hand_back(job))),
                    AfterThrottle::Temporary => {
                        let reason = format!("carrier answered {status} {} times", job.throttles);
                        s.settling.push(Box::pin(async move {
                            temporary(&shared, &carrier, job, reason).await;
                        }));
                    }
                    AfterThrottle::SendAgainAfter(pause) => {
                        s.waiting.push(Box::pin(async move {
                            tokio::time::sleep(pause).await;
                            Some(job)
                        }));
                    }
                }
            }
            SubmitOutcome::NotSent => {
                if let Some(lane) = lane {
                    lane.in_flight = lane.in_flight.saturating_sub(1);
                    lane.publish();
                }
                if s.draining {
                    s.settling.push(Box::pin(hand_back(job)));
                } else {
                    s.ready.push_front(job.mt.urgent, job);
                }
            }
            SubmitOutcome::Temporary(reason) => {
                let counter = if matches!(result, Err(SessionError::Timeout(_))) {
                    &self.stats.timed_out
                } else {
                    &self.stats.failed
                };
                counter.fetch_add(1, Ordering::Relaxed);
                if let Some(lane) = lane {
                    lane.in_flight = lane.in_flight.saturating_sub(1);
                    lane.status.errors.fetch_add(1, Ordering::Relaxed);
                    lane.publish();
                }
                s.settling.push(Box::pin(async move {
                    temporary(&shared, &carrier, job, reason).await;
                }));
            }
            SubmitOutcome::Permanent(status) => {
                self.stats.failed.fetch_add(1, Ordering::Relaxed);
                if let Some(lane) = lane {
                    lane.in_flight = lane.in_flight.saturating_sub(1);
                    lane.status.errors.fetch_add(1, Ordering::Relaxed);
                    lane.publish();
                }
                s.settling.push(Box::pin(async move {
                    let failure = Failure {
                        state: MessageState::Rejected,
                        error: format!("carrier answered {status}"),
                        network_error_code: status.as_u32(),
                        may_fail_over: true,
                    };
                    fail(&shared, &carrier, job, failure).await;
                }));
            }
        }
    }
}

/// A job back from its pause (throttled, or checked after a redelivery): ready again, or
/// handed back when draining.
fn on_waited(s: &mut State, job: Option<Job>) {
    let Some(job) = job else { return };
    if s.draining {
        s.settling.push(Box::pin(hand_back(job)));
    } else {
        s.ready.push_back(job.mt.urgent, job);
    }
}

/// Stops both pullers; what their requests under way bring goes back to the bus.
async fn stop_pullers(s: &mut State) {
    for puller in [s.bulk_puller.take(), s.urgent_puller.take()]
        .into_iter()
        .flatten()
    {
        puller.stop().await;
    }
}

/// Messages waiting here must not be redelivered elsewhere meanwhile. The members of one
/// batch share its ack wait: one in-progress each.
async fn keep_ready_alive(s: &mut State, ack_wait: Duration) {
    let mut kept = std::collections::HashSet::new();
    for job in s.ready.iter_mut() {
        if job.last_progress.elapsed() >= ack_wait / 3 {
            if !job.delivery.is_batch_member() || kept.insert(job.delivery.stream_sequence()) {
                herald_bus::consume::settle_logged(job.delivery.in_progress().await);
            }
            job.last_progress = Instant::now();
        }
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    fn plan(binds: u32, submit_slots: u32, tps: u32) -> CarrierPlan {
        let carrier: Carrier = serde_json::from_value(serde_json::json!({
            "id": "sim", "host": "127.0.0.1", "port": 2775, "system_id": "herald",
            "password": {"env": "X"}, "binds": binds, "throughput": {"tps": tps},
        }))
        .unwrap();
        CarrierPlan {
            carrier: Arc::new(carrier),
            submit_slots,
        }
    }

    #[test]
    fn a_throttled_message_waits_longer_each_time_then_spends_an_attempt() {
        let pause = |throttles| match after_throttle(throttles, false) {
            AfterThrottle::SendAgainAfter(pause) => pause,
            other => panic!("{throttles} throttles: {other:?}"),
        };
        assert_eq!(pause(1), Duration::from_millis(100));
        assert_eq!(pause(2), Duration::from_millis(200));
        assert_eq!(pause(4), Duration::from_millis(800));
        assert_eq!(
            pause(MAX_LOCAL_THROTTLES),
            Duration::from_millis(800),
            "capped"
        );
        assert_eq!(
            after_throttle(MAX_LOCAL_THROTTLES + 1, false),
            AfterThrottle::Temporary
        );
        assert_eq!(after_throttle(1, true), AfterThrottle::HandBack);
        assert_eq!(
            after_throttle(MAX_LOCAL_THROTTLES + 1, true),
            AfterThrottle::HandBack
        );
    }

    #[test]
    fn each_slot_gets_its_share_of_the_carriers_rate() {
        let (tps, burst) = plan(4, 1, 100).share();
        assert!((tps - 25.0).abs() < 1e-9, "{tps}");
        assert!(burst >= 1.0);
        let (all, _) = plan(4, 4, 100).share();
        assert!((all - 100.0).abs() < 1e-9, "{all}");
        // A tiny share still allows a burst of one.
        let (_, burst) = plan(100, 1, 1).share();
        assert!((burst - 1.0).abs() < 1e-9, "{burst}");
    }
}
