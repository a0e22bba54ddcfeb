//! Answering a bound session's requests.
//!
//! One loop per session takes requests in arrival order. Checks are synchronous and
//! cheap; the publish is sent at once and its ack awaited alongside the next requests, so
//! a session with a window of 100 has 100 publishes in flight and each `submit_sm_resp`
//! goes out the moment its own ack arrives. OK is answered only after the ack: what the
//! ESME hears as accepted is on the bus.
//!
//! Every message, whichever door it came in by (an SMPP session here, the HTTP API in
//! [`crate::http`]), goes the same way: `admit` (the field checks of [`crate::submit`],
//! the account's sender policy, the no-route check), `take_token` (the account's rate
//! across the cluster), `publish`, and `confirm` once the bus acked.
//!
//! The mapping from every failure to a `command_status` is in one place,
//! [`publish_status`] and the checks of [`crate::submit`].

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::StreamExt as _;
use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;
use herald_bus::kv::Stage;
use herald_bus::lifecycle;
use herald_bus::{BusError, Outgoing, PendingAck, RateCounters, StatusStore};
use herald_proto::bus::v1::{self as bus, MessageStatus};
use herald_rules::model::{Quota, UtcOffset};
use herald_rules::routing::{AllHealthy, RouteOutcome, RouteRequest};
use herald_rules::{Account, RulesSnapshot};
use herald_smpp::pdu::{
    CancelSm, DataSm, DestAddress, MessageIdResp, QuerySm, QuerySmResp, ReplaceSm, SubmitMulti,
    SubmitMultiResp, SubmitSm, UnsuccessSme,
};
use herald_smpp::session::{Inbound, Inbox, Responder, Session};
use herald_smpp::types::{Address, COctetString};
use herald_smpp::{CommandStatus, PduBody, Tag, Tlv};
use herald_telemetry::names;
use tracing::Instrument as _;

use crate::message_id::MessageId;
use crate::quota::ClusterQuota;
use crate::server::Shared;
use crate::submit::{
    CheckedSubmit, Origin, Rejection, check_submit, default_alphabet, default_sender, envelope,
    transliterate,
};

/// A bound session and what its bind said about how to answer it.
struct BoundSession {
    session: Session,
    /// It bound with `interface_version` 0x50: its responses carry `congestion_state`.
    smpp_50: bool,
}

/// Answers `session`'s requests until it closes; `smpp_50` when it bound as SMPP 5.0.
pub(crate) async fn serve(
    shared: Arc<Shared>,
    account_id: String,
    session: Session,
    mut inbox: Inbox,
    smpp_50: bool,
) {
    let session = BoundSession { session, smpp_50 };
    let mut pending: FuturesUnordered<BoxFuture<'static, ()>> = FuturesUnordered::new();
    let mut quota = QuotaCache::default();
    let metrics = Arc::new(SessionMetrics::new(&account_id));
    loop {
        tokio::select! {
            inbound = inbox.recv() => match inbound {
                Some(inbound) => {
                    if let Some(work) = handle(&shared, &account_id, &session, inbound, pending.len(), &mut quota, &metrics).await {
                        pending.push(work);
                    }
                }
                None => break,
            },
            Some(()) = pending.next(), if !pending.is_empty() => {}
        }
    }
    // The session is gone, but what was published is on its way: let the acks land so
    // the counters and logs are right (the ESME will resubmit what it heard nothing of).
    while pending.next().await.is_some() {}
}

/// Handles one request; returns the part that waits for the bus, if any.
async fn handle(
    shared: &Arc<Shared>,
    account_id: &str,
    session: &BoundSession,
    inbound: Inbound,
    in_flight: usize,
    quota: &mut QuotaCache,
    metrics: &Arc<SessionMetrics>,
) -> Option<BoxFuture<'static, ()>> {
    let Inbound { pdu, responder } = inbound;
    let snapshot = shared.rules.snapshot();
    let Some(account) = bound_account(&snapshot, account_id) else {
        // Deleted or disabled while bound: refuse, and end the session.
        responder.respond_status(CommandStatus::ESME_RSUBMITFAIL);
        let session = session.session.clone();
        tokio::spawn(async move { session.unbind().await });
        return None;
    };
    let Some(command) = metered_command(&pdu.body) else {
        tracing::debug!(command = %pdu.body.command_id(), "not offered to ESMEs");
        responder.respond(PduBody::GenericNack, CommandStatus::ESME_RINVCMDID);
        return None;
    };
    // Every request here reads or writes the bus: each takes a window slot (and below, a
    // token of the account's rate), so a flood of queries or cancels costs the account
    // what a flood of submits would.
    if in_flight >= usize::try_from(account.window).unwrap_or(usize::MAX) {
        count_submit(account_id, command, CommandStatus::ESME_RTHROTTLED);
        responder.respond_status(CommandStatus::ESME_RTHROTTLED);
        return None;
    }
    let quota = quota.get(shared, account);
    let congestion = session.smpp_50.then(|| {
        congestion_state(
            in_flight,
            account.window,
            shared.awaiting_bus.load(Ordering::Relaxed),
            shared.bus.config().max_inflight_publishes,
        )
    });
    let later = match pdu.body {
        PduBody::SubmitSm(mut sm) => {
            default_sender(account, &mut sm.source);
            default_alphabet(account, &mut sm.data_coding);
            let (coding, class) = (&mut sm.data_coding, sm.esm_class);
            transliterate(account, coding, class, &mut sm.short_message, &mut sm.tlvs);
            let reply = Reply::SubmitSm(responder, congestion);
            submit(shared, &snapshot, account, &quota, metrics, sm, reply).await
        }
        PduBody::DataSm(data) => {
            let (mut sm, reply) = (from_data_sm(data), Reply::DataSm(responder, congestion));
            default_sender(account, &mut sm.source);
            default_alphabet(account, &mut sm.data_coding);
            let (coding, class) = (&mut sm.data_coding, sm.esm_class);
            transliterate(account, coding, class, &mut sm.short_message, &mut sm.tlvs);
            submit(shared, &snapshot, account, &quota, metrics, sm, reply).await
        }
        PduBody::SubmitMulti(mut multi) => {
            default_sender(account, &mut multi.source);
            default_alphabet(account, &mut multi.data_coding);
            let (coding, class) = (&mut multi.data_coding, multi.esm_class);
            transliterate(
                account,
                coding,
                class,
                &mut multi.short_message,
                &mut multi.tlvs,
            );
            submit_multi(shared, &snapshot, account, &quota, multi, responder).await
        }
        PduBody::QuerySm(query) => metered(shared, account_id, quota, command, responder, {
            let id = account.id.clone();
            move |shared, responder| query_sm(&shared, id, query, responder)
        }),
        PduBody::CancelSm(cancel) => metered(shared, account_id, quota, command, responder, {
            let id = account.id.clone();
            move |shared, responder| cancel_sm(&shared, id, cancel, responder)
        }),
        PduBody::ReplaceSm(replace) => metered(shared, account_id, quota, command, responder, {
            let id = account.id.clone();
            move |shared, responder| replace_sm(&shared, id, replace, responder)
        }),
        // metered_command named only the requests above.
        _ => return None,
    };
    Some(later)
}

/// The name (the `command` label) of a request an ESME may send the edge; `None` for one
/// it may not (answered `generic_nack`).
fn metered_command(body: &PduBody) -> Option<&'static str> {
    Some(match body {
        PduBody::SubmitSm(_) => "submit_sm",
        PduBody::DataSm(_) => "data_sm",
        PduBody::SubmitMulti(_) => "submit_multi",
        PduBody::QuerySm(_) => "query_sm",
        PduBody::CancelSm(_) => "cancel_sm",
        PduBody::ReplaceSm(_) => "replace_sm",
        _ => return None,
    })
}

/// The bound session's account, if it may still send: deleted or disabled, its requests
/// are refused (`ESME_RSUBMITFAIL`) and the session ended.
pub(crate) fn bound_account<'a>(
    snapshot: &'a RulesSnapshot,
    account_id: &str,
) -> Option<&'a Account> {
    snapshot.account(account_id).filter(|a| a.enabled)
}

/// The metric handles a session records on every accepted message, looked up once when it
/// binds: recording through a handle is an atomic update, with no registry lookup and no
/// label allocation per message. Refusals (rare) go through [`count_submit`].
struct SessionMetrics {
    account: String,
    accepted: [metrics::Counter; 2],
    latency: metrics::Histogram,
    in_flight: metrics::Gauge,
}

impl SessionMetrics {
    /// The commands whose acceptances are counted through a handle.
    const COMMANDS: [&'static str; 2] = ["submit_sm", "data_sm"];

    fn new(account: &str) -> Self {
        let accepted = Self::COMMANDS.map(|command| {
            metrics::counter!(
                names::EDGE_SUBMIT_TOTAL,
                names::labels::ACCOUNT => account.to_owned(),
                names::labels::COMMAND => command,
                names::labels::STATUS => CommandStatus::ESME_ROK.name()
            )
        });
        SessionMetrics {
            account: account.to_owned(),
            accepted,
            latency: metrics::histogram!(
                names::EDGE_SUBMIT_SECONDS,
                names::labels::ACCOUNT => account.to_owned()
            ),
            in_flight: metrics::gauge!(names::EDGE_INFLIGHT),
        }
    }

    fn accepted(&self, command: &'static str) -> &metrics::Counter {
        let index = Self::COMMANDS
            .iter()
            .position(|c| *c == command)
            .unwrap_or(0);
        &self.accepted[index]
    }
}

/// The session's handle on its account's rate limit, refreshed only when the account's
/// quota changes, so the shared table is not consulted per message.
#[derive(Default)]
struct QuotaCache {
    current: Option<(Quota, Arc<ClusterQuota>)>,
}

impl QuotaCache {
    fn get(&mut self, shared: &Shared, account: &Account) -> Arc<ClusterQuota> {
        match &self.current {
            Some((quota, limiter)) if *quota == account.quota => limiter.clone(),
            _ => {
                let limiter = shared.quota(account);
                self.current = Some((account.quota, limiter.clone()));
                limiter
            }
        }
    }
}

/// Runs `request` once it has a token of the account's rate; answers `ESME_RTHROTTLED`
/// (counted under `command`) when there is none.
fn metered(
    shared: &Arc<Shared>,
    account: &str,
    quota: Arc<ClusterQuota>,
    command: &'static str,
    responder: Responder,
    request: impl FnOnce(Arc<Shared>, Responder) -> BoxFuture<'static, ()> + Send + 'static,
) -> BoxFuture<'static, ()> {
    let shared = shared.clone();
    let account = account.to_owned();
    Box::pin(async move {
        if take_token(shared.live_rate_counters(), &quota, SystemTime::now())
            .await
            .is_err()
        {
            count_submit(&account, command, CommandStatus::ESME_RTHROTTLED);
            responder.respond_status(CommandStatus::ESME_RTHROTTLED);
            return;
        }
        request(shared, responder).await;
    })
}

/// Where a submit's answer goes: the response types differ, the logic does not. Each
/// carries the `congestion_state` to report, for an SMPP 5.0 session.
enum Reply {
    SubmitSm(Responder, Option<u8>),
    DataSm(Responder, Option<u8>),
}

impl Reply {
    fn command(&self) -> &'static str {
        match self {
            Reply::SubmitSm(..) => "submit_sm",
            Reply::DataSm(..) => "data_sm",
        }
    }

    fn ok(self, message_id: &str) {
        let mut resp = MessageIdResp::new(message_id);
        let (Reply::SubmitSm(_, congestion) | Reply::DataSm(_, congestion)) = &self;
        if let Some(congestion) = congestion {
            resp.tlvs.push(Tlv::u8(Tag::CONGESTION_STATE, *congestion));
        }
        match self {
            Reply::SubmitSm(r, _) => {
                r.respond(PduBody::SubmitSmResp(resp), CommandStatus::ESME_ROK);
            }
            Reply::DataSm(r, _) => r.respond(PduBody::DataSmResp(resp), CommandStatus::ESME_ROK),
        }
    }

    fn fail(self, status: CommandStatus) {
        match self {
            Reply::SubmitSm(r, _) | Reply::DataSm(r, _) => r.respond_status(status),
        }
    }
}

/// SMPP 5.0's `congestion_state` (§4.8.4.19: 0 idle, 80–89 optimum load, 90–99 nearing
/// congestion, 100 congested) as this edge sees it for one session: whichever is fuller,
/// the session's window (`in_flight` requests of the account's `window`; past it
/// submits are throttled) or the edge's submits awaiting the bus's ack (`awaiting`,
/// measured against `nats.max_inflight_publishes`, which the batching queue's bound
/// matches; past either the edge answers `ESME_RMSGQFUL`).
pub(crate) fn congestion_state(in_flight: usize, window: u32, awaiting: usize, max: usize) -> u8 {
    let percent = |used: usize, of: usize| match of {
        0 => 100,
        of => (used.saturating_mul(100) / of).min(100),
    };
    let window = usize::try_from(window).unwrap_or(usize::MAX);
    u8::try_from(percent(in_flight, window).max(percent(awaiting, max))).unwrap_or(100)
}

/// Checks, limits, publishes; the returned future answers once the bus has acked.
async fn submit(
    shared: &Arc<Shared>,
    snapshot: &RulesSnapshot,
    account: &Account,
    quota: &ClusterQuota,
    metrics: &Arc<SessionMetrics>,
    sm: SubmitSm,
    reply: Reply,
) -> BoxFuture<'static, ()> {
    let started = std::time::Instant::now();
    let command = reply.command();
    let metrics = metrics.clone();
    let awaiting = shared.clone();
    match accept(shared, snapshot, account, quota, &sm, None, command).await {
        Ok((message_id, ack)) => Box::pin(async move {
            metrics.in_flight.increment(1.0);
            awaiting.awaiting_bus.fetch_add(1, Ordering::Relaxed);
            match confirm(ack).await {
                Ok(()) => {
                    metrics.accepted(command).increment(1);
                    reply.ok(&message_id);
                }
                Err(Rejection { status, .. }) => {
                    count_submit(&metrics.account, command, status);
                    reply.fail(status);
                }
            }
            metrics.in_flight.decrement(1.0);
            awaiting.awaiting_bus.fetch_sub(1, Ordering::Relaxed);
            metrics.latency.record(started.elapsed().as_secs_f64());
        }),
        Err(status) => {
            reply.fail(status);
            Box::pin(async {})
        }
    }
}

/// One SMPP message through every check and onto the bus; the pending ack on success.
/// Each refusal is counted in `herald_edge_submit_total`.
async fn accept(
    shared: &Shared,
    snapshot: &RulesSnapshot,
    account: &Account,
    quota: &ClusterQuota,
    sm: &SubmitSm,
    message_id: Option<String>,
    command: &'static str,
) -> Result<(String, PendingAck), CommandStatus> {
    let now = SystemTime::now();
    let accepted = async {
        let checked = admit(shared.route_time_zone, snapshot, account, sm, now)?;
        take_route_token(shared, &checked, now).await?;
        take_token(shared.live_rate_counters(), quota, now).await?;
        let message_id = message_id.unwrap_or_else(|| shared.ids.next_id().to_string());
        let ack = publish(shared, account, sm, &checked, &message_id, now, None).await?;
        Ok((message_id, ack))
    };
    accepted.await.map_err(|Rejection { status, .. }| {
        count_submit(&account.id, command, status);
        status
    })
}

/// The checks every message goes through before it may take a token and be published,
/// received at `now`: its fields ([`check_submit`]), the account's sender policy, and
/// whether any route takes its destination (evaluated with `route_time_zone`, the routers'
/// default offset for time windows). Synchronous and cheap.
pub(crate) fn admit(
    route_time_zone: UtcOffset,
    snapshot: &RulesSnapshot,
    account: &Account,
    sm: &SubmitSm,
    now: SystemTime,
) -> Result<CheckedSubmit, Rejection> {
    let refused = |rejection: Rejection| {
        tracing::debug!(account = %account.id, status = %rejection.status, reason = rejection.reason, "submit refused");
        rejection
    };
    let mut checked = check_submit(sm, now).map_err(refused)?;
    let sender = sm.source.addr.to_text();
    if !sender.is_empty() && !account.sender_ids.permits(&sender) {
        return Err(refused(Rejection {
            status: CommandStatus::ESME_RINVSRCADR,
            reason: "the account's sender_ids do not allow this source address",
        }));
    }
    // The same evaluation the router makes: a destination no route takes is refused now,
    // not after a round trip through the bus. Other outcomes (reject routes, opt-outs,
    // carriers down) are accepted and end in a failure receipt from the router.
    let destination = sm.dest.addr.to_text();
    let request = RouteRequest::new(&account.id, &sender, &destination, sm.data_coding.0, now)
        .destination_ton(sm.dest.ton.0)
        .default_time_zone(route_time_zone);
    match snapshot.evaluate(&request, &AllHealthy) {
        RouteOutcome::NoRoute => {
            return Err(refused(Rejection {
                status: CommandStatus::ESME_RINVDSTADR,
                reason: "no route takes this destination",
            }));
        }
        RouteOutcome::Route(pick) => {
            checked.route_quota = pick.quota.map(|quota| (pick.rule_id.to_owned(), quota));
        }
        _ => {}
    }
    Ok(checked)
}

/// Takes one message's token from the account's rate, counted against the second of
/// `now` (cluster-wide through `counters`, [`Shared::live_rate_counters`], else this
/// edge's bucket alone); `ESME_RTHROTTLED` when the account is over it.
pub(crate) async fn take_token(
    counters: Option<&RateCounters>,
    quota: &ClusterQuota,
    now: SystemTime,
) -> Result<(), Rejection> {
    if quota.try_acquire(counters, now).await {
        Ok(())
    } else {
        Err(Rejection {
            status: CommandStatus::ESME_RTHROTTLED,
            reason: "over the account's rate (quota.tps)",
        })
    }
}

/// Takes one message's token from its route's rate, when its route has a `quota`
/// (`checked.route_quota`), as [`take_token`] does from the account's; `ESME_RTHROTTLED`
/// when the route is over it, counted in `herald_edge_route_throttled_total`.
pub(crate) async fn take_route_token(
    shared: &Shared,
    checked: &CheckedSubmit,
    now: SystemTime,
) -> Result<(), Rejection> {
    let Some((route, quota)) = &checked.route_quota else {
        return Ok(());
    };
    let limiter = shared.route_quota(route, *quota);
    if limiter.try_acquire(shared.live_rate_counters(), now).await {
        return Ok(());
    }
    metrics::counter!(names::EDGE_ROUTE_THROTTLED_TOTAL, names::labels::ROUTE => route.clone())
        .increment(1);
    Err(Rejection {
        status: CommandStatus::ESME_RTHROTTLED,
        reason: "over the route's rate (its quota.tps)",
    })
}

/// Publishes an admitted message as `message_id`, accepted at `now`, with the HTTP
/// request's `client_ref` if it has one (an SMPP one comes in the PDU); returns at once
/// with the pending ack (await it with [`confirm`]).
pub(crate) async fn publish(
    shared: &Shared,
    account: &Account,
    sm: &SubmitSm,
    checked: &CheckedSubmit,
    message_id: &str,
    now: SystemTime,
    client_ref: Option<&str>,
) -> Result<PendingAck, Rejection> {
    let mut mt = accepted_envelope(&shared.node_id, account, sm, checked, message_id, now);
    if let Some(client_ref) = client_ref {
        client_ref.clone_into(&mut mt.client_ref);
    }
    // The first span of the message's trace: router, connector and the receipt's way back
    // all join it through the bus headers.
    let span = if herald_telemetry::message_spans() {
        tracing::info_span!("edge.accept", message_id = %mt.id, account = %mt.account_id)
    } else {
        tracing::Span::none()
    };
    let outgoing = span.in_scope(|| Outgoing::accepted(&mt));
    shared
        .publisher
        .publish(outgoing)
        .instrument(span)
        .await
        .map_err(|err| {
            let rejection = publish_rejection(&err);
            tracing::warn!(error = %err, status = %rejection.status, "publish failed");
            rejection
        })
}

/// The envelope [`publish`] sends for an admitted message: accepted by `edge_node` for
/// `account` at `now`, as `message_id`, in the lane the account's `priority_lane` and
/// the message's `priority_flag` give it.
pub(crate) fn accepted_envelope(
    edge_node: &str,
    account: &Account,
    sm: &SubmitSm,
    checked: &CheckedSubmit,
    message_id: &str,
    now: SystemTime,
) -> bus::MtMessage {
    let mut mt = envelope(
        sm,
        checked,
        Origin {
            message_id,
            account_id: &account.id,
            edge_node,
            accepted: now,
        },
    );
    mt.urgent = account.priority_lane.is_urgent(sm.priority_flag);
    mt
}

/// Waits for a publish's ack: only then is the message durable and may be answered OK.
pub(crate) async fn confirm(ack: PendingAck) -> Result<(), Rejection> {
    match ack.await {
        Ok(_) => Ok(()),
        Err(err) => {
            let rejection = publish_rejection(&err);
            tracing::warn!(error = %err, status = %rejection.status, "publish not acknowledged");
            Err(rejection)
        }
    }
}

/// The one mapping of bus failures to SMPP: too many in flight is a full queue the ESME
/// may retry shortly; anything else is a system error.
pub fn publish_status(err: &BusError) -> CommandStatus {
    match err {
        BusError::Full => CommandStatus::ESME_RMSGQFUL,
        _ => CommandStatus::ESME_RSYSERR,
    }
}

fn publish_rejection(err: &BusError) -> Rejection {
    let status = publish_status(err);
    let reason = match status {
        CommandStatus::ESME_RMSGQFUL => "too many messages are awaiting the bus's acknowledgement",
        _ => "the bus did not take the message",
    };
    Rejection { status, reason }
}

fn count_submit(account: &str, command: &'static str, status: CommandStatus) {
    metrics::counter!(
        names::EDGE_SUBMIT_TOTAL,
        names::labels::ACCOUNT => account.to_owned(),
        names::labels::COMMAND => command,
        names::labels::STATUS => status.name()
    )
    .increment(1);
}

/// `data_sm` carries the same meaning as `submit_sm` with its text in `message_payload`.
pub(crate) fn from_data_sm(data: DataSm) -> SubmitSm {
    SubmitSm {
        service_type: data.service_type,
        source: data.source,
        dest: data.dest,
        esm_class: data.esm_class,
        registered_delivery: data.registered_delivery,
        data_coding: data.data_coding,
        tlvs: data.tlvs,
        ..SubmitSm::default()
    }
}

/// `submit_multi`: every destination becomes its own message, with id `<base>-<n>` (n
/// from 1 in the order given); the response carries `<base>` and the destinations that
/// failed with their statuses.
async fn submit_multi(
    shared: &Arc<Shared>,
    snapshot: &RulesSnapshot,
    account: &Account,
    quota: &ClusterQuota,
    multi: SubmitMulti,
    responder: Responder,
) -> BoxFuture<'static, ()> {
    let base = shared.ids.next_id().to_string();
    let mut unsuccess = Vec::new();
    let mut acks = Vec::new();
    for (n, sm) in multi_destinations(multi).into_iter().enumerate() {
        let sm = match sm {
            Ok(sm) => sm,
            Err(refused) => {
                unsuccess.push(refused);
                continue;
            }
        };
        match accept(
            shared,
            snapshot,
            account,
            quota,
            &sm,
            Some(multi_message_id(&base, n)),
            "submit_multi",
        )
        .await
        {
            Ok((_, ack)) => acks.push((sm.dest, ack)),
            Err(status) => unsuccess.push(UnsuccessSme {
                dest: sm.dest,
                error_status_code: status,
            }),
        }
    }
    Box::pin(async move {
        let total = acks.len() + unsuccess.len();
        for (dest, ack) in acks {
            if let Err(Rejection { status, .. }) = confirm(ack).await {
                unsuccess.push(UnsuccessSme {
                    dest,
                    error_status_code: status,
                });
            }
        }
        match multi_answer(&base, unsuccess, total) {
            Ok(resp) => {
                responder.respond(PduBody::SubmitMultiResp(resp), CommandStatus::ESME_ROK);
            }
            Err(status) => responder.respond_status(status),
        }
    })
}

/// A `submit_multi` split into one `submit_sm` per destination, in the order given; a
/// distribution list is refused at once (`ESME_RINVDLNAME`).
pub(crate) fn multi_destinations(multi: SubmitMulti) -> Vec<Result<SubmitSm, UnsuccessSme>> {
    let template = SubmitSm {
        service_type: multi.service_type,
        source: multi.source,
        esm_class: multi.esm_class,
        protocol_id: multi.protocol_id,
        priority_flag: multi.priority_flag,
        schedule_delivery_time: multi.schedule_delivery_time,
        validity_period: multi.validity_period,
        registered_delivery: multi.registered_delivery,
        replace_if_present_flag: multi.replace_if_present_flag,
        data_coding: multi.data_coding,
        sm_default_msg_id: multi.sm_default_msg_id,
        short_message: multi.short_message,
        tlvs: multi.tlvs,
        ..SubmitSm::default()
    };
    multi
        .dests
        .into_iter()
        .map(|dest| match dest {
            DestAddress::Sme(dest) => Ok(SubmitSm {
                dest,
                ..template.clone()
            }),
            DestAddress::DistributionList(name) => {
                // Herald keeps no distribution lists; SMPP has no address to report a
                // list's failure under, so it is reported with an empty one.
                tracing::debug!(list = %name.to_string_lossy(), "distribution list refused");
                Err(UnsuccessSme {
                    dest: Default::default(),
                    error_status_code: CommandStatus::ESME_RINVDLNAME,
                })
            }
        })
        .collect()
}

/// The message id of a `submit_multi`'s destination `n` (from 0, counting refused ones):
/// `<base>-<n + 1>`.
pub(crate) fn multi_message_id(base: &str, n: usize) -> String {
    format!("{base}-{}", n + 1)
}

/// The answer to a `submit_multi` of `total` destinations of which `unsuccess` failed:
/// `ESME_RSUBMITFAIL` when none was accepted (the request as a whole failed), else the
/// response carrying `base` and the failures.
pub(crate) fn multi_answer(
    base: &str,
    unsuccess: Vec<UnsuccessSme>,
    total: usize,
) -> Result<SubmitMultiResp, CommandStatus> {
    if unsuccess.len() == total {
        return Err(CommandStatus::ESME_RSUBMITFAIL);
    }
    let unsuccess = unsuccess
        .into_iter()
        .map(|failed| UnsuccessSme {
            dest: strictly(&failed.dest),
            ..failed
        })
        .collect();
    Ok(SubmitMultiResp {
        message_id: COctetString::from(base),
        unsuccess,
        ..Default::default()
    })
}

/// The longest `destination_addr` SMPP allows, without its NUL.
const MAX_DESTINATION_OCTETS: usize = 20;

/// `address` as a refused destination is echoed back: as the ESME sent it when that was
/// well-formed; one the lenient decoder let through overlong or with non-ASCII octets
/// is cut to 20 octets, each such octet a `?`, so the answer is strict whatever was sent.
fn strictly(address: &Address) -> Address {
    let octets = address.addr.as_bytes();
    if octets.len() <= MAX_DESTINATION_OCTETS && octets.iter().all(u8::is_ascii_graphic) {
        return address.clone();
    }
    let text: String = octets
        .iter()
        .take(MAX_DESTINATION_OCTETS)
        .map(|&b| {
            if b.is_ascii_graphic() {
                char::from(b)
            } else {
                '?'
            }
        })
        .collect();
    Address::new(address.ton, address.npi, COctetString::from(text.as_str()))
}

/// `query_sm`, answered from the status store; another account's message is reported as
/// unknown, so ids cannot be probed across accounts.
fn query_sm(
    shared: &Arc<Shared>,
    account_id: String,
    query: QuerySm,
    responder: Responder,
) -> BoxFuture<'static, ()> {
    let status = shared.status.clone();
    Box::pin(async move {
        let id = query.message_id.to_string_lossy();
        match status.get(&id).await {
            Ok(Some(record)) if record.account_id == account_id => {
                let resp = query_response(&id, &record);
                responder.respond(PduBody::QuerySmResp(resp), CommandStatus::ESME_ROK);
            }
            Ok(_) => responder.respond_status(CommandStatus::ESME_RINVMSGID),
            Err(err) => {
                tracing::warn!(error = %err, "status lookup failed");
                responder.respond_status(CommandStatus::ESME_RQUERYFAIL);
            }
        }
    })
}

fn query_response(id: &str, record: &MessageStatus) -> QuerySmResp {
    let state = record.state();
    let final_date = if lifecycle::is_final(state) && record.updated_unix_ms > 0 {
        smpp_date(record.updated_unix_ms)
    } else {
        COctetString::empty()
    };
    QuerySmResp {
        message_id: COctetString::from(id),
        final_date,
        message_state: lifecycle::smpp_state(state).to_u8(),
        error_code: 0,
        ..Default::default()
    }
}

fn smpp_date(unix_ms: i64) -> COctetString {
    let at = UNIX_EPOCH + std::time::Duration::from_millis(u64::try_from(unix_ms).unwrap_or(0));
    match herald_smpp::time::AbsoluteTime::from_system_time(at, 0) {
        Ok(time) => {
            let bytes = herald_smpp::time::SmppTime::Absolute(time).to_bytes();
            COctetString::from(std::str::from_utf8(&bytes).unwrap_or_default())
        }
        Err(_) => COctetString::empty(),
    }
}

/// `cancel_sm` by message id: effective while the message has not reached a carrier. The
/// mark is kept in the bus's `herald_cancels` bucket under the account and id; the
/// connector checks it before submitting. A message the carrier already accepted (or
/// that is final) cannot be cancelled: `ESME_RCANCELFAIL`. Another account's id is
/// `ESME_RINVMSGID`. Cancelling by source and destination without an id is not offered
/// (`ESME_RCANCELFAIL`).
fn cancel_sm(
    shared: &Arc<Shared>,
    account_id: String,
    cancel: CancelSm,
    responder: Responder,
) -> BoxFuture<'static, ()> {
    let status = shared.status.clone();
    let marks = shared.cancel_marks.clone();
    Box::pin(async move {
        let id = match cancel_target(&cancel) {
            Ok(id) => id,
            Err(refused) => {
                responder.respond_status(refused);
                return;
            }
        };
        if let Err(refused) =
            amendable(&status, &id, &account_id, CommandStatus::ESME_RCANCELFAIL).await
        {
            responder.respond_status(refused);
            return;
        }
        match marks.mark(&account_id, &id).await {
            Ok(()) => responder.respond(PduBody::CancelSmResp, CommandStatus::ESME_ROK),
            Err(err) => {
                tracing::warn!(error = %err, "cancel mark not written");
                responder.respond_status(CommandStatus::ESME_RCANCELFAIL);
            }
        }
    })
}

/// The message id a `cancel_sm` names; `ESME_RCANCELFAIL` without one (cancelling by
/// source and destination is not offered).
pub(crate) fn cancel_target(cancel: &CancelSm) -> Result<String, CommandStatus> {
    let id = cancel.message_id.to_string_lossy();
    if id.is_empty() {
        return Err(CommandStatus::ESME_RCANCELFAIL);
    }
    Ok(id)
}

/// `id` as a Herald message id; `ESME_RINVMSGID` when it is none (no message of ours).
pub(crate) fn herald_id(id: &str) -> Result<MessageId, CommandStatus> {
    MessageId::parse(id).ok_or(CommandStatus::ESME_RINVMSGID)
}

/// The longest replacement text: what `short_message` carries. A message Herald sent is
/// one SMS segment, so its replacement is too.
pub const MAX_REPLACEMENT_OCTETS: usize = 254;

/// How long after its id was made a message may still have no status (accepted, not yet
/// routed) and be amended: routers record `routed` within moments, unless they are all
/// down. An older id with no status is no message of ours.
pub const UNRECORDED_AMENDABLE_FOR: Duration = Duration::from_secs(3600);

/// Whether `account`'s message `id` can still be cancelled or replaced: it is a Herald
/// message id, not another account's (`ESME_RINVMSGID`), and has not reached a carrier
/// (`refused`, also when its status cannot be read). An id with no status yet is still on
/// its way if it was made within [`UNRECORDED_AMENDABLE_FOR`]; one that is not a Herald
/// id, or older, is unknown (`ESME_RINVMSGID`), and no mark is written for it.
async fn amendable(
    status: &StatusStore,
    id: &str,
    account: &str,
    refused: CommandStatus,
) -> Result<(), CommandStatus> {
    let parsed = herald_id(id)?;
    let record = status.get(id).await.map_err(|err| {
        tracing::warn!(error = %err, "status lookup failed");
        refused
    })?;
    match record {
        Some(record) if record.account_id != account && !record.account_id.is_empty() => {
            Err(CommandStatus::ESME_RINVMSGID)
        }
        Some(record) if Stage::parse(&record.stage) >= Some(Stage::Submitted) => Err(refused),
        Some(_) => Ok(()),
        None => {
            let made = parsed.timestamp();
            let now = SystemTime::now();
            let recent = now
                .duration_since(made)
                .is_ok_and(|age| age <= UNRECORDED_AMENDABLE_FOR)
                || made
                    .duration_since(now)
                    .is_ok_and(|ahead| ahead <= Duration::from_secs(60));
            if recent {
                Ok(())
            } else {
                Err(CommandStatus::ESME_RINVMSGID)
            }
        }
    }
}

/// `replace_sm`: like `cancel_sm`, effective while the message has not reached a carrier.
/// The new text (and registered_delivery, schedule and validity when given) is recorded
/// in the same bucket; the connector applies it just before submitting.
fn replace_sm(
    shared: &Arc<Shared>,
    account_id: String,
    replace: ReplaceSm,
    responder: Responder,
) -> BoxFuture<'static, ()> {
    let status = shared.status.clone();
    let marks = shared.cancel_marks.clone();
    Box::pin(async move {
        let Replacement { id, amendment } = match check_replace(&replace, SystemTime::now()) {
            Ok(replacement) => replacement,
            Err(fault) => {
                responder.respond_status(fault);
                return;
            }
        };
        if let Err(refused) =
            amendable(&status, &id, &account_id, CommandStatus::ESME_RREPLACEFAIL).await
        {
            responder.respond_status(refused);
            return;
        }
        match marks.amend(&account_id, &id, &amendment).await {
            Ok(()) => responder.respond(PduBody::ReplaceSmResp, CommandStatus::ESME_ROK),
            Err(err) => {
                tracing::warn!(error = %err, "replacement not written");
                responder.respond_status(CommandStatus::ESME_RREPLACEFAIL);
            }
        }
    })
}

/// A `replace_sm` whose fields passed [`check_replace`]: the message it names and the
/// amendment to record for it, if it is still [`amendable`].
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Replacement {
    /// The message id as the ESME sent it (not yet known to be a Herald id).
    pub(crate) id: String,
    /// The new text, registered_delivery, schedule and validity.
    pub(crate) amendment: herald_proto::bus::v1::Amendment,
}

/// The field checks of a `replace_sm` received at `now`, in the order answered: a message
/// id (`ESME_RINVMSGID`), a replacement text of 1 to [`MAX_REPLACEMENT_OCTETS`] octets
/// (`message_payload` when `short_message` is empty; `ESME_RINVMSGLEN`), registered_delivery
/// (`ESME_RINVREGDLVFLG`), no canned message (`ESME_RINVDFTMSGID`), then the schedule
/// (`ESME_RINVSCHED`) and validity (`ESME_RINVEXPIRY`) times, resolved at `now`.
pub(crate) fn check_replace(
    replace: &ReplaceSm,
    now: SystemTime,
) -> Result<Replacement, CommandStatus> {
    let id = replace.message_id.to_string_lossy();
    let payload = match replace.tlvs.message_payload() {
        Some(payload) if replace.short_message.is_empty() => payload.clone(),
        _ => replace.short_message.clone(),
    };
    let resolve = |field: &COctetString| {
        herald_smpp::time::SmppTime::parse_optional(field.as_bytes())
            .and_then(|t| t.map(|t| t.resolve(now)).transpose())
    };
    let fault = if id.is_empty() {
        Some(CommandStatus::ESME_RINVMSGID)
    } else if payload.is_empty() || payload.len() > MAX_REPLACEMENT_OCTETS {
        Some(CommandStatus::ESME_RINVMSGLEN)
    } else if !replace.registered_delivery.is_valid() {
        Some(CommandStatus::ESME_RINVREGDLVFLG)
    } else if replace.sm_default_msg_id != 0 {
        Some(CommandStatus::ESME_RINVDFTMSGID)
    } else {
        None
    };
    if let Some(fault) = fault {
        return Err(fault);
    }
    let schedule =
        resolve(&replace.schedule_delivery_time).map_err(|_| CommandStatus::ESME_RINVSCHED)?;
    let validity = resolve(&replace.validity_period).map_err(|_| CommandStatus::ESME_RINVEXPIRY)?;
    let unix_ms = |t: Option<SystemTime>| t.map_or(0, lifecycle::unix_ms);
    let amendment = herald_proto::bus::v1::Amendment {
        cancel: false,
        payload: payload.to_vec(),
        registered_delivery: u32::from(replace.registered_delivery.0),
        validity_unix_ms: unix_ms(validity),
        schedule_delivery_unix_ms: unix_ms(schedule),
    };
    Ok(Replacement { id, amendment })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use herald_smpp::types::{Npi, Ton};
    use herald_smpp::{Pdu, Quirks};

    use super::*;

    #[test]
    fn congestion_is_the_fuller_of_the_sessions_window_and_the_edges_bus_backlog() {
        assert_eq!(congestion_state(0, 10, 0, 8192), 0, "idle");
        assert_eq!(congestion_state(5, 10, 100, 8192), 50, "half the window");
        assert_eq!(
            congestion_state(1, 100, 7373, 8192),
            90,
            "the edge nears its limit"
        );
        assert_eq!(congestion_state(10, 10, 0, 8192), 100, "a full window");
        assert_eq!(congestion_state(20, 10, 9000, 8192), 100, "never past 100");
        assert_eq!(congestion_state(0, 0, 0, 8192), 100, "no window at all");
    }

    #[test]
    fn refused_destinations_are_echoed_strictly_whatever_the_esme_sent() {
        // Overlong and with non-ASCII octets, as the lenient decoder lets through (the
        // edge fuzz target's finding).
        let sent = COctetString::from_bytes(bytes::Bytes::from_static(
            b"447700900\xc2\xc2\xc2\xc2\xc2\xc2\xc2\xc2\xc2\xc2123",
        ))
        .unwrap();
        let fine = Address::new(Ton(1), Npi(1), "447700900123");
        let unsuccess = vec![
            UnsuccessSme {
                dest: Address::new(Ton(1), Npi(1), sent),
                error_status_code: CommandStatus::ESME_RINVDSTADR,
            },
            UnsuccessSme {
                dest: fine.clone(),
                error_status_code: CommandStatus::ESME_RINVDSTADR,
            },
        ];
        let resp = multi_answer("M1", unsuccess, 3).unwrap();
        assert_eq!(
            resp.unsuccess[0].dest.addr.as_bytes(),
            b"447700900??????????1"
        );
        assert_eq!(resp.unsuccess[1].dest, fine, "a well-formed one as sent");
        let bytes = Pdu::new(7, PduBody::SubmitMultiResp(resp))
            .to_bytes()
            .unwrap();
        assert_eq!(Pdu::decode(bytes).unwrap().quirks, Quirks::empty());
    }

    #[tokio::test]
    async fn without_the_clusters_counters_the_edges_own_bucket_decides() {
        let quota = ClusterQuota::new("acme", 1, 1);
        let now = SystemTime::now();
        assert!(take_token(None, &quota, now).await.is_ok());
        let refused = take_token(None, &quota, now).await.unwrap_err();
        assert_eq!(refused.status, CommandStatus::ESME_RTHROTTLED);
    }

    #[test]
    fn a_bus_that_is_full_asks_for_a_retry_and_any_other_failure_is_a_system_error() {
        assert_eq!(
            publish_status(&BusError::Full),
            CommandStatus::ESME_RMSGQFUL
        );
        assert_eq!(
            publish_status(&BusError::AckTimeout(Duration::from_secs(5))),
            CommandStatus::ESME_RSYSERR
        );
    }

    #[test]
    fn query_sm_gives_a_final_date_only_for_a_final_state() {
        // 2026-12-07 12:00:00 UTC.
        let at = 1_796_644_800_000;
        let record = |state: bus::MessageState| {
            let mut record = MessageStatus {
                updated_unix_ms: at,
                ..MessageStatus::default()
            };
            record.set_state(state);
            record
        };
        let delivered = query_response("M1", &record(bus::MessageState::Delivered));
        assert_eq!(delivered.message_id.as_bytes(), b"M1");
        assert_eq!(delivered.message_state, 2, "DELIVERED");
        assert_eq!(delivered.final_date.as_bytes(), b"261207120000000+");
        let enroute = query_response("M1", &record(bus::MessageState::Enroute));
        assert_eq!(enroute.message_state, 1, "ENROUTE");
        assert!(enroute.final_date.is_empty());
        // A final state with no time recorded: no date rather than 1970.
        let undated = MessageStatus {
            updated_unix_ms: 0,
            ..record(bus::MessageState::Undeliverable)
        };
        assert!(query_response("M1", &undated).final_date.is_empty());
    }

    #[test]
    fn data_sm_becomes_the_submit_sm_it_means() {
        let data = DataSm {
            service_type: COctetString::from("WAP"),
            source: Address::alphanumeric("ACME"),
            dest: Address::international("447700900123"),
            registered_delivery: herald_smpp::types::RegisteredDelivery(1),
            data_coding: herald_smpp::types::DataCoding(8),
            ..DataSm::default()
        };
        let sm = from_data_sm(data.clone());
        assert_eq!(sm.service_type, data.service_type);
        assert_eq!(sm.source, data.source);
        assert_eq!(sm.dest, data.dest);
        assert_eq!(sm.registered_delivery, data.registered_delivery);
        assert_eq!(sm.data_coding, data.data_coding);
        assert!(
            sm.short_message.is_empty(),
            "the text stays in message_payload"
        );
    }

    #[test]
    fn a_cancel_needs_an_id_and_only_herald_ids_are_ours() {
        let cancel = |id: &str| CancelSm {
            message_id: COctetString::from(id),
            ..CancelSm::default()
        };
        assert_eq!(
            cancel_target(&cancel("")),
            Err(CommandStatus::ESME_RCANCELFAIL)
        );
        assert_eq!(cancel_target(&cancel("abc")).unwrap(), "abc");
        assert_eq!(
            herald_id("not-ours").unwrap_err(),
            CommandStatus::ESME_RINVMSGID
        );
    }
}
