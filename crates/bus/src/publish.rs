//! Pipelined publishing.
//!
//! [`Publisher::publish`] hands the message to the client and returns at once with a
//! [`PendingAck`]; the caller awaits that when it needs the answer. A session with a
//! window of 100 therefore has 100 publishes in flight on one connection, and each caller
//! gets its own completion. The message id goes out as `Nats-Msg-Id`, so a republish of
//! the same message within the stream's duplicate window is stored once.
//!
//! The typed constructors ([`Outgoing::accepted`] and the rest) put the message id, the
//! account and the current span's trace context in headers, so a consumer can route and
//! join the trace without decoding the body.
//!
//! The number of publishes awaiting acks is bounded by
//! [`crate::BusConfig::max_inflight_publishes`]; past it, `publish` fails at once with
//! [`BusError::Full`] instead of queueing without bound.
//!
//! **Held through a failover.** When a NATS server dies, the publishes it held get no
//! ack (their connection is gone) and the streams it led have no leader until the
//! others elect one. Neither is the message's fault, and both pass within seconds, so a
//! publish that fails that way is sent again, same dedup id and all, until it is acked or
//! [`crate::BusConfig::publish_hold`] has passed since it was first sent. The dedup id
//! makes that safe: a copy the dead server did store is dropped as a duplicate. The
//! caller sees one slower publish instead of a refusal (the edge: an ESME's submit
//! answered late rather than `ESME_RSYSERR`). Errors a retry cannot cure (too many in
//! flight, too large, a wrong expected sequence) fail at once.

use std::borrow::Cow;
use std::future::IntoFuture;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::HeaderMap;
use async_nats::jetstream::context::{PublishAckFuture, PublishError, PublishErrorKind};
use async_nats::jetstream::{self, publish::PublishAck};
use bytes::Bytes;
use futures::future::BoxFuture;
use herald_proto::bus::v1::{Event, MoMessage, MtMessage, event};

use crate::error::BusError;
use crate::partition::Partitions;
use crate::{stats, subject};

/// Header carrying the Herald message id on every bus message.
pub const MESSAGE_ID_HEADER: &str = "Herald-Msg-Id";
/// Header carrying the account, so consumers can route without decoding the body.
pub const ACCOUNT_HEADER: &str = "Herald-Account";
/// Header on a routed message whose accepted copy was delivered to a router before: it
/// may be queued for a carrier already (in a batch formed differently, which the dedup
/// window cannot drop), so the connector checks its status before sending it.
pub const REDELIVERED_HEADER: &str = "Herald-Redelivered";

/// The dedup id of the final receipt event of message `message_id`, whoever makes it (a
/// carrier's receipt, a connector's or a router's failure): one per message, so a repeat
/// published unbatched within the duplicate window is dropped by the bus.
pub fn final_receipt_id(message_id: &str) -> String {
    format!("{message_id}:final")
}

/// A message ready to publish: subject, dedup id, body and headers.
#[derive(Clone, Debug)]
pub struct Outgoing {
    pub(crate) subject: String,
    pub(crate) id: String,
    pub(crate) payload: Bytes,
    pub(crate) headers: HeaderMap,
}

/// The accepted-MT subject of `mt`'s lane.
fn accepted_subject(mt: &MtMessage) -> String {
    if mt.urgent {
        subject::mt_urgent(&mt.account_id)
    } else {
        subject::mt(&mt.account_id)
    }
}

impl Outgoing {
    /// A message with `id` as its dedup id.
    pub fn new(subject: impl Into<String>, id: impl Into<String>, payload: Bytes) -> Self {
        Outgoing {
            subject: subject.into(),
            id: id.into(),
            payload,
            headers: HeaderMap::new(),
        }
    }

    /// An accepted MT for the routers.
    pub fn accepted(mt: &MtMessage) -> Self {
        Outgoing::new(accepted_subject(mt), mt.id.clone(), encode(mt))
            .header(MESSAGE_ID_HEADER, &mt.id)
            .header(ACCOUNT_HEADER, &mt.account_id)
            .with_trace_context()
    }

    /// A routed MT for `carrier`'s queue. Each attempt has its own dedup id, so a
    /// failover to another carrier is not taken for a duplicate.
    pub fn routed(carrier: &str, mt: &MtMessage) -> Self {
        let id = format!("{}:{}", mt.id, mt.attempt);
        let subject = if mt.urgent {
            subject::out_urgent(carrier)
        } else {
            subject::out(carrier)
        };
        Outgoing::new(subject, id, encode(mt))
            .header(MESSAGE_ID_HEADER, &mt.id)
            .header(ACCOUNT_HEADER, &mt.account_id)
            .with_trace_context()
    }

    /// A receipt or MO for `account`'s sessions; `id` dedups a carrier's repeated receipt.
    pub fn event(account: &str, id: impl Into<String>, event: &Event) -> Self {
        let subject = match event.kind {
            Some(event::Kind::Mo(_)) => subject::mo_event(account),
            _ => subject::receipt(account),
        };
        let id = id.into();
        Outgoing::new(subject, id.clone(), encode(event))
            .header(MESSAGE_ID_HEADER, &id)
            .header(ACCOUNT_HEADER, account)
            .with_trace_context()
    }

    /// A message `failed_carrier` could not take, handed back to the routers for the next
    /// carrier of its route; `None` when the route has no untried candidate left (the
    /// caller then sends the failure receipt itself).
    ///
    /// This is the one implementation of the failover contract (`docs/router.md`): the
    /// same envelope with `attempt + 1` and the carrier appended to `failed_carriers`,
    /// published to the accepted-MT subject with dedup id `<id>:<attempt>`.
    pub fn handed_back(mt: &MtMessage, failed_carrier: &str) -> Option<Self> {
        let route = mt.route.as_ref()?;
        let failed = |c: &String| c == failed_carrier || mt.failed_carriers.contains(c);
        if route.candidates.iter().all(failed) {
            return None;
        }
        let mut next = mt.clone();
        next.attempt = mt.attempt.saturating_add(1);
        if !next.failed_carriers.iter().any(|c| c == failed_carrier) {
            next.failed_carriers.push(failed_carrier.to_owned());
        }
        Some(
            Outgoing::new(
                accepted_subject(&next),
                format!("{}:{}", next.id, next.attempt),
                encode(&next),
            )
            .header(MESSAGE_ID_HEADER, &next.id)
            .header(ACCOUNT_HEADER, &next.account_id)
            .with_trace_context(),
        )
    }

    /// An MO from `mo.carrier_id`, for MO routing.
    pub fn mo(mo: &MoMessage) -> Self {
        Outgoing::new(subject::mo(&mo.carrier_id), mo.id.clone(), encode(mo))
            .header(MESSAGE_ID_HEADER, &mo.id)
            .with_trace_context()
    }

    /// Adds a header (trace context, reasons); later values of one name are kept too.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.append(name, value);
        self
    }

    /// Adds the trace context of the current span (`traceparent`, `tracestate`), so the
    /// consumer's work joins the same trace.
    pub fn with_trace_context(mut self) -> Self {
        if !herald_telemetry::message_spans() {
            return self;
        }
        herald_telemetry::inject_current(|name, value| {
            self.headers.insert(name, value.as_str());
        });
        self
    }

    /// Adds every `(name, value)` pair.
    pub fn headers<'a>(mut self, pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        for (name, value) in pairs {
            self.headers.append(name, value);
        }
        self
    }

    /// The subject it goes to.
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// Its dedup id.
    pub fn id(&self) -> &str {
        &self.id
    }
}

/// Encodes a protobuf message into a fresh buffer of the exact size.
pub fn encode(message: &impl prost::Message) -> Bytes {
    Bytes::from(message.encode_to_vec())
}

/// The server's answer to one publish.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Acked {
    /// The stream that stored it.
    pub stream: String,
    /// Its sequence in that stream.
    pub sequence: u64,
    /// True when the id was seen within the duplicate window and this copy was dropped;
    /// the first copy is stored, so to the publisher this is still a success.
    pub duplicate: bool,
}

/// A publish on its way; await it for the server's ack.
#[must_use = "a publish is only durable once its ack arrives"]
pub struct PendingAck {
    inner: Pending,
}

/// What a [`PendingAck`] waits on.
enum Pending {
    /// A JetStream publish of its own (a single message or a whole batch).
    Direct {
        subject: String,
        timeout: Duration,
        sent: Instant,
        inflight: InflightPublish,
        /// The first attempt's ack; `None` when its send already failed in a way a
        /// resend may cure.
        ack: Option<PublishAckFuture>,
        /// What to send again while the bus fails over; `None` when nothing is held.
        resend: Option<Box<Resend>>,
    },
    /// A member of a batch a [`crate::CoalescingPublisher`] forms: the batch's answer.
    Coalesced(tokio::sync::oneshot::Receiver<Result<Acked, BusError>>),
}

/// A publish kept to be sent again, unchanged, until `deadline`.
struct Resend {
    publisher: Publisher,
    message: Outgoing,
    deadline: Instant,
}

/// How long the first attempt of a held publish waits for its ack before it is sent
/// again; each later attempt waits twice as long, up to the request timeout. An ack
/// slower than this is not lost: the resend is dropped as a duplicate and answered.
const FIRST_ATTEMPT_WAIT: Duration = Duration::from_secs(1);
/// The pause before the first resend, doubling up to [`MAX_RESEND_PAUSE`]: short, since
/// a lost connection is replaced in milliseconds; longer while a stream elects a leader.
const FIRST_RESEND_PAUSE: Duration = Duration::from_millis(50);
const MAX_RESEND_PAUSE: Duration = Duration::from_millis(800);

/// Whether a failed publish may succeed if sent again: its connection was lost, no
/// server answered for its stream (no leader yet), its ack did not come, or JetStream
/// said it is unavailable for now.
fn recoverable(error: &PublishError) -> bool {
    match error.kind() {
        PublishErrorKind::TimedOut
        | PublishErrorKind::BrokenPipe
        | PublishErrorKind::StreamNotFound => true,
        PublishErrorKind::Other => std::error::Error::source(error)
            .and_then(|source| source.downcast_ref::<jetstream::Error>())
            .is_some_and(|api| api.code() == 503),
        _ => false,
    }
}

impl PendingAck {
    pub(crate) fn coalesced(
        answer: tokio::sync::oneshot::Receiver<Result<Acked, BusError>>,
    ) -> Self {
        PendingAck {
            inner: Pending::Coalesced(answer),
        }
    }
}

/// One publish counted in `herald_bus_inflight_publishes` until dropped: when its ack has
/// come, or when its [`PendingAck`] is dropped unawaited.
struct InflightPublish;

impl InflightPublish {
    fn new() -> Self {
        stats::publish_metrics().inflight.increment(1.0);
        InflightPublish
    }
}

impl Drop for InflightPublish {
    fn drop(&mut self) {
        stats::publish_metrics().inflight.decrement(1.0);
    }
}

impl std::fmt::Debug for PendingAck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.inner {
            Pending::Direct { subject, .. } => f
                .debug_struct("PendingAck")
                .field("subject", subject)
                .finish_non_exhaustive(),
            Pending::Coalesced(_) => f.debug_struct("PendingAck").finish_non_exhaustive(),
        }
    }
}

impl IntoFuture for PendingAck {
    type Output = Result<Acked, BusError>;
    type IntoFuture = BoxFuture<'static, Self::Output>;

    fn into_future(self) -> Self::IntoFuture {
        match self.inner {
            Pending::Direct {
                subject,
                timeout,
                sent,
                inflight,
                ack,
                resend,
            } => Box::pin(async move {
                let answer = settle(ack, resend.as_deref(), timeout).await;
                drop(inflight);
                let metrics = stats::publish_metrics();
                match answer {
                    Ok(ack) => {
                        metrics.seconds.record(sent.elapsed().as_secs_f64());
                        if ack.duplicate {
                            metrics.duplicate.increment(1);
                        } else {
                            metrics.ok.increment(1);
                        }
                        Ok(Acked {
                            stream: ack.stream,
                            sequence: ack.sequence,
                            duplicate: ack.duplicate,
                        })
                    }
                    Err(err) if err.kind() == PublishErrorKind::TimedOut => {
                        metrics.error.increment(1);
                        Err(BusError::AckTimeout(timeout))
                    }
                    Err(err) if err.kind() == PublishErrorKind::MaxAckPending => {
                        metrics.full.increment(1);
                        Err(BusError::Full)
                    }
                    Err(err) => {
                        metrics.error.increment(1);
                        Err(BusError::Publish {
                            subject,
                            source: Box::new(err),
                        })
                    }
                }
            }),
            // The coalescer answers every member it took; a closed channel means it was
            // dropped mid-publish, so the message may not be stored.
            Pending::Coalesced(answer) => Box::pin(async move {
                answer.await.unwrap_or_else(|_| {
                    Err(BusError::Nats("the batching publisher stopped".into()))
                })
            }),
        }
    }
}

/// Waits for a publish's ack; with `resend`, sends it again after each recoverable
/// failure until its deadline has passed.
async fn settle(
    first: Option<PublishAckFuture>,
    resend: Option<&Resend>,
    timeout: Duration,
) -> Result<PublishAck, PublishError> {
    let Some(resend) = resend else {
        return match first {
            Some(ack) => ack.await,
            None => Err(PublishError::new(PublishErrorKind::BrokenPipe)),
        };
    };
    let mut ack = first;
    let mut wait = FIRST_ATTEMPT_WAIT.min(timeout);
    let mut pause = FIRST_RESEND_PAUSE;
    loop {
        let attempt = match ack.take() {
            Some(ack) => Ok(ack),
            None => resend.publisher.send(resend.message.clone()).await,
        };
        let outcome = match attempt {
            Ok(ack) => tokio::time::timeout(wait, ack.into_future())
                .await
                .unwrap_or_else(|_| Err(PublishError::new(PublishErrorKind::TimedOut))),
            Err(err) => Err(err),
        };
        match outcome {
            Err(err) if recoverable(&err) && Instant::now() + pause < resend.deadline => {
                tracing::debug!(subject = %resend.message.subject, error = %err, "publish sent again");
                stats::publish_metrics().retries.increment(1);
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(MAX_RESEND_PAUSE);
                wait = (wait * 2).min(timeout);
            }
            outcome => return outcome,
        }
    }
}

/// Publishes to JetStream with many publishes in flight. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Publisher {
    jetstream: Arc<jetstream::Context>,
    timeout: Duration,
    hold: Duration,
    partitions: Partitions,
}

impl Publisher {
    /// A publisher whose acks time out after `timeout`, whose publishes are sent again
    /// through a failover for up to `hold` (zero: never), and which places each subject in
    /// its stream's partition under `partitions`.
    pub(crate) fn new(
        jetstream: jetstream::Context,
        timeout: Duration,
        hold: Duration,
        partitions: Partitions,
    ) -> Self {
        Publisher {
            jetstream: Arc::new(jetstream),
            timeout,
            hold,
            partitions,
        }
    }

    /// Sends `message` and returns its pending ack without waiting for it. A subject of a
    /// partitioned stream goes to its key's partition ([`Partitions::place`]).
    ///
    /// Fails at once with [`BusError::Full`] when too many acks are outstanding.
    pub async fn publish(&self, mut message: Outgoing) -> Result<PendingAck, BusError> {
        if let Cow::Owned(placed) = self.partitions.place(&message.subject) {
            message.subject = placed;
        }
        let sent = Instant::now();
        let metrics = stats::publish_metrics();
        // Kept only when it may be sent again: the headers' copy is the one cost.
        let resend = (!self.hold.is_zero()).then(|| {
            Box::new(Resend {
                publisher: self.clone(),
                message: message.clone(),
                deadline: sent + self.hold,
            })
        });
        let subject = message.subject.clone();
        let ack = match self.send(message).await {
            Ok(ack) => Some(ack),
            Err(err) if err.kind() == PublishErrorKind::MaxAckPending => {
                metrics.full.increment(1);
                return Err(BusError::Full);
            }
            Err(err) if resend.is_some() && recoverable(&err) => None,
            Err(err) => {
                metrics.error.increment(1);
                return Err(BusError::Publish {
                    subject,
                    source: Box::new(err),
                });
            }
        };
        Ok(PendingAck {
            inner: Pending::Direct {
                subject,
                timeout: self.timeout,
                sent,
                inflight: InflightPublish::new(),
                ack,
                resend,
            },
        })
    }

    /// One attempt: `message` handed to the client, its ack to come.
    async fn send(&self, message: Outgoing) -> Result<PublishAckFuture, PublishError> {
        let Outgoing {
            subject,
            id,
            payload,
            headers,
        } = message;
        let publish = jetstream::message::PublishMessage::build()
            .payload(payload)
            .headers(headers)
            .message_id(id);
        self.jetstream.send_publish(subject, publish).await
    }

    /// Sends `members` (all to one subject) as one JetStream message, a batch
    /// ([`crate::batch`]), and returns its pending ack. One member goes out as itself, the
    /// same on the wire as [`Publisher::publish`].
    ///
    /// The batch's dedup id is derived from its members' ids, so publishing the same
    /// members in the same order again is dropped as a duplicate within the window.
    pub async fn publish_batch(&self, members: Vec<Outgoing>) -> Result<PendingAck, BusError> {
        let message = crate::batch::envelope(members)?;
        self.publish(message).await
    }

    /// Publishes and waits for the ack.
    pub async fn publish_acked(&self, message: Outgoing) -> Result<Acked, BusError> {
        self.publish(message).await?.await
    }
}
