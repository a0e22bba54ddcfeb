//! Durable pull consumers, and what a consumer does with each message.
//!
//! A [`WorkConsumer`] pulls in batches. Each [`Delivery`] ends in exactly one of:
//! - [`Delivery::ack`] once its work is durable elsewhere (published on, sent to a
//!   carrier, delivered to an ESME);
//! - [`Delivery::retry`]: a nak with a delay taken from the consumer's backoff schedule
//!   by the delivery count, or the dead-letter subject once the deliveries are used up;
//! - [`Delivery::dead_letter`]: for a message that can never succeed (undecodable, or a
//!   permanent error with nobody to tell).
//!
//! [`Delivery::in_progress`] keeps a slow message from being redelivered while it is
//! worked on. Dropping a delivery without any of these leaves it to the ack wait, after
//! which the server redelivers it: that is how a crashed node's messages reach the others.
//!
//! The server's own `max_deliver` is left unlimited: when a message has been delivered
//! more often than [`ConsumerSpec::max_deliveries`] (a node crashing on it, say), the
//! next node to pull it moves it to the dead letters instead of working on it again. With
//! a server-side limit the message would instead sit in the work queue forever, never
//! delivered and never removed.

use std::sync::Arc;
use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream::{self, AckKind, consumer::pull};
use bytes::Bytes;
use futures::StreamExt as _;

use crate::error::BusError;
use crate::publish::{Outgoing, Publisher};
use crate::topology::StreamKind;
use crate::{stats, subject};

/// Header on a dead letter: why it was given up.
pub const DLQ_REASON_HEADER: &str = "Herald-Dlq-Reason";
/// Header on a dead letter: the subject it was published to.
pub const DLQ_SUBJECT_HEADER: &str = "Herald-Dlq-Subject";
/// Header on a dead letter: how many times it was delivered.
pub const DLQ_DELIVERIES_HEADER: &str = "Herald-Dlq-Deliveries";
/// Header on a dead letter: its stream and sequence, `HERALD_OUT:42`.
pub const DLQ_ORIGIN_HEADER: &str = "Herald-Dlq-Origin";

/// A durable consumer: which stream, which subjects, and its redelivery policy.
#[derive(Clone, Debug)]
pub struct ConsumerSpec {
    /// The stream it reads.
    pub stream: StreamKind,
    /// Its durable name, shared by every node that does this work.
    pub durable: String,
    /// The subjects it takes.
    pub filter: String,
    /// How long the server waits for an ack before redelivering.
    pub ack_wait: Duration,
    /// Unacked messages the server hands out to all pullers together.
    pub max_ack_pending: i64,
    /// Deliveries after which a failing message goes to the dead letters.
    pub max_deliveries: u32,
    /// The nak delay by attempt: the first retry waits `backoff[0]`, and attempts past the
    /// end of the list wait its last entry.
    pub backoff: Vec<Duration>,
}

impl ConsumerSpec {
    /// The routers' consumer of accepted MT.
    pub fn routers() -> Self {
        ConsumerSpec::new(StreamKind::Mt, "routers", subject::MT_ALL)
    }

    /// The routers' consumer of carrier MO.
    pub fn mo_routers() -> Self {
        ConsumerSpec::new(StreamKind::Mo, "routers", subject::MO_ALL)
    }

    /// The consumer of `carrier`'s queue, shared by the connectors holding its binds.
    pub fn carrier(carrier: &str) -> Self {
        ConsumerSpec::new(
            StreamKind::Out,
            format!("carrier-{carrier}"),
            subject::out(carrier),
        )
    }

    /// The consumer of `account`'s receipts and MO, shared by the edges holding its
    /// receiver sessions.
    pub fn account(account: &str) -> Self {
        ConsumerSpec::new(
            StreamKind::Events,
            format!("account-{account}"),
            subject::events_of(account),
        )
    }

    /// A consumer with Herald's default policy: 30 s ack wait, 10 deliveries, backoff
    /// 1 s, 5 s, 30 s, 2 min, 5 min.
    pub fn new(stream: StreamKind, durable: impl Into<String>, filter: impl Into<String>) -> Self {
        ConsumerSpec {
            stream,
            durable: durable.into(),
            filter: filter.into(),
            ack_wait: Duration::from_secs(30),
            max_ack_pending: 20_000,
            max_deliveries: 10,
            backoff: [1, 5, 30, 120, 300].map(Duration::from_secs).to_vec(),
        }
    }

    /// The nak delay for a message delivered `deliveries` times.
    pub fn delay_after(&self, deliveries: u32) -> Duration {
        let index = usize::try_from(deliveries.saturating_sub(1)).unwrap_or(usize::MAX);
        self.backoff
            .get(index)
            .or(self.backoff.last())
            .copied()
            .unwrap_or(Duration::from_secs(1))
    }

    fn server_config(&self) -> pull::Config {
        pull::Config {
            durable_name: Some(self.durable.clone()),
            filter_subject: self.filter.clone(),
            ack_policy: jetstream::consumer::AckPolicy::Explicit,
            ack_wait: self.ack_wait,
            max_ack_pending: self.max_ack_pending,
            // See the module docs: the dead-letter decision is ours.
            max_deliver: -1,
            ..Default::default()
        }
    }
}

/// A handle to a durable pull consumer.
#[derive(Clone, Debug)]
pub struct WorkConsumer {
    consumer: jetstream::consumer::Consumer<pull::Config>,
    shared: Arc<Shared>,
}

/// What every delivery of one consumer needs, behind one `Arc` so that handing out a
/// delivery costs one reference count, not a clone of the JetStream context.
#[derive(Debug)]
struct Shared {
    spec: ConsumerSpec,
    dead_letters: Publisher,
}

impl WorkConsumer {
    pub(crate) async fn create(
        jetstream: &jetstream::Context,
        dead_letters: Publisher,
        spec: ConsumerSpec,
    ) -> Result<Self, BusError> {
        let topology_error = |source: async_nats::Error| BusError::Topology {
            what: format!("consumer {} on {}", spec.durable, spec.stream.name()),
            source,
        };
        let stream = jetstream
            .get_stream(spec.stream.name())
            .await
            .map_err(|e| topology_error(Box::new(e)))?;
        let consumer = stream
            .create_consumer(spec.server_config())
            .await
            .map_err(|e| topology_error(Box::new(e)))?;
        Ok(WorkConsumer {
            consumer,
            shared: Arc::new(Shared { spec, dead_letters }),
        })
    }

    /// Its spec.
    pub fn spec(&self) -> &ConsumerSpec {
        &self.shared.spec
    }

    /// Starts pulling, `batch` messages per pull request.
    pub async fn messages(&self, batch: usize) -> Result<Deliveries, BusError> {
        let stream = self
            .consumer
            .stream()
            .max_messages_per_batch(batch.max(1))
            .messages()
            .await
            .map_err(|source| self.error("pull", Box::new(source)))?;
        Ok(Deliveries {
            source: Source::Stream(stream),
            shared: self.shared.clone(),
        })
    }

    /// One pull request: at most `max` messages, those the server has now and those that
    /// arrive within `expires`; the deliveries end when `max` came or `expires` passed.
    ///
    /// For a consumer that must not hold more than it can work on: unlike
    /// [`WorkConsumer::messages`], nothing is prefetched beyond `max`, so no message
    /// waits unseen in a client buffer while its ack wait runs out.
    pub async fn pull(&self, max: usize, expires: Duration) -> Result<Deliveries, BusError> {
        let batch = self
            .consumer
            .batch()
            .max_messages(max.max(1))
            .expires(expires)
            .messages()
            .await
            .map_err(|source| self.error("pull", Box::new(source)))?;
        Ok(Deliveries {
            source: Source::Batch(batch),
            shared: self.shared.clone(),
        })
    }

    /// Messages the server holds for this consumer that nobody has pulled yet, plus those
    /// pulled and not acked.
    pub async fn backlog(&mut self) -> Result<u64, BusError> {
        let durable = self.shared.spec.durable.clone();
        let info = self
            .consumer
            .info()
            .await
            .map_err(|source| BusError::Consume {
                consumer: durable,
                action: "info",
                source: Box::new(source),
            })?;
        Ok(info.num_pending + u64::try_from(info.num_ack_pending).unwrap_or(0))
    }

    fn error(&self, action: &'static str, source: async_nats::Error) -> BusError {
        BusError::Consume {
            consumer: self.shared.spec.durable.clone(),
            action,
            source,
        }
    }
}

/// The messages of a consumer, as they arrive.
pub struct Deliveries {
    source: Source,
    shared: Arc<Shared>,
}

/// Where [`Deliveries`] come from: a continuous pull, or one pull request.
enum Source {
    Stream(pull::Stream),
    Batch(pull::Batch),
}

impl std::fmt::Debug for Deliveries {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deliveries")
            .field("consumer", &self.shared.spec.durable)
            .finish_non_exhaustive()
    }
}

impl Deliveries {
    /// The next message. Messages delivered more often than the spec allows go to the
    /// dead letters here and are not returned. `None` when the consumer was deleted.
    ///
    /// From [`WorkConsumer::messages`], errors are transient (a missed heartbeat while NATS
    /// restarts, say): the stream goes on after them, so log and call again. From
    /// [`WorkConsumer::pull`], an error ends the request (the server refused or cut it).
    pub async fn next(&mut self) -> Option<Result<Delivery, BusError>> {
        loop {
            let next = match &mut self.source {
                Source::Stream(stream) => stream
                    .next()
                    .await?
                    .map_err(|e| Box::new(e) as async_nats::Error),
                Source::Batch(batch) => batch.next().await?,
            };
            let message = match next {
                Ok(message) => message,
                Err(source) => {
                    return Some(Err(BusError::Consume {
                        consumer: self.shared.spec.durable.clone(),
                        action: "pull",
                        source,
                    }));
                }
            };
            let delivery = Delivery::new(message, self.shared.clone());
            if delivery.deliveries > self.shared.spec.max_deliveries {
                let reason = format!("delivered {} times", delivery.deliveries);
                if let Err(err) = delivery.dead_letter(&reason).await {
                    return Some(Err(err));
                }
                continue;
            }
            return Some(Ok(delivery));
        }
    }
}

/// One message pulled from a consumer, to be acked, retried or dead-lettered.
#[derive(Debug)]
pub struct Delivery {
    message: jetstream::Message,
    deliveries: u32,
    stream_sequence: u64,
    shared: Arc<Shared>,
}

impl Delivery {
    fn new(message: jetstream::Message, shared: Arc<Shared>) -> Self {
        let (deliveries, stream_sequence) = message
            .info()
            .map(|info| {
                (
                    u32::try_from(info.delivered).unwrap_or(u32::MAX),
                    info.stream_sequence,
                )
            })
            .unwrap_or((1, 0));
        Delivery {
            message,
            deliveries,
            stream_sequence,
            shared,
        }
    }

    /// The subject it was published to.
    pub fn subject(&self) -> &str {
        self.message.subject.as_str()
    }

    /// Its body.
    pub fn payload(&self) -> &Bytes {
        &self.message.payload
    }

    /// Its headers, if any.
    pub fn headers(&self) -> Option<&HeaderMap> {
        self.message.headers.as_ref()
    }

    /// The value of header `name`, if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers()?.get(name).map(|v| v.as_str())
    }

    /// Makes `span` a child of the trace the publisher was in, when the message carries
    /// a trace context.
    pub fn join_trace(&self, span: &tracing::Span) {
        if self.header(herald_telemetry::TRACEPARENT).is_some() {
            let _ = herald_telemetry::set_parent_from(span, |name| {
                self.header(name).map(str::to_owned)
            });
        }
    }

    /// The span to process this message in, made by `make` and joined to the publisher's
    /// trace; [`tracing::Span::none`] when traces are not exported
    /// ([`herald_telemetry::message_spans`]), so untraced nodes pay nothing per message.
    pub fn traced(&self, make: impl FnOnce() -> tracing::Span) -> tracing::Span {
        if !herald_telemetry::message_spans() {
            return tracing::Span::none();
        }
        let span = make();
        self.join_trace(&span);
        span
    }

    /// How many times it has been delivered, this time included.
    pub fn deliveries(&self) -> u32 {
        self.deliveries
    }

    /// When the server stored it (the first publish, whatever the redeliveries since).
    pub fn published(&self) -> Option<std::time::SystemTime> {
        let nanos = self.message.info().ok()?.published.unix_timestamp_nanos();
        let nanos = u64::try_from(nanos).ok()?;
        Some(std::time::UNIX_EPOCH + Duration::from_nanos(nanos))
    }

    /// Its sequence in the stream.
    pub fn stream_sequence(&self) -> u64 {
        self.stream_sequence
    }

    /// Decodes the body as protobuf message `M`.
    pub fn decode<M: prost::Message + Default>(&self) -> Result<M, BusError> {
        M::decode(self.payload().as_ref()).map_err(|source| BusError::Decode {
            what: std::any::type_name::<M>(),
            source,
        })
    }

    /// Done: the server removes it from a work queue.
    pub async fn ack(self) -> Result<(), BusError> {
        self.message.ack().await.map_err(|e| self.error("ack", e))?;
        stats::consume_metrics().ack.increment(1);
        Ok(())
    }

    /// Done, and waits until the server confirms the ack, so it cannot be redelivered.
    pub async fn ack_confirmed(self) -> Result<(), BusError> {
        self.message
            .double_ack()
            .await
            .map_err(|e| self.error("ack", e))?;
        stats::consume_metrics().ack.increment(1);
        Ok(())
    }

    /// Failed for now: redeliver after the backoff for this attempt, or move it to the
    /// dead letters when this was its last allowed delivery.
    pub async fn retry(self, reason: &str) -> Result<(), BusError> {
        if self.deliveries >= self.shared.spec.max_deliveries {
            return self.dead_letter(reason).await;
        }
        let delay = self.shared.spec.delay_after(self.deliveries);
        self.retry_after(delay).await
    }

    /// Failed for now: redeliver after `delay` whatever the schedule says (a carrier's
    /// own retry-after, say).
    pub async fn retry_after(self, delay: Duration) -> Result<(), BusError> {
        self.message
            .ack_with(AckKind::Nak(Some(delay)))
            .await
            .map_err(|e| self.error("nak", e))?;
        stats::consume_metrics().nak.increment(1);
        Ok(())
    }

    /// Still working on it: resets the ack wait.
    pub async fn in_progress(&self) -> Result<(), BusError> {
        self.message
            .ack_with(AckKind::Progress)
            .await
            .map_err(|e| self.error("in-progress", e))
    }

    /// Gives up: publishes it to the dead-letter subject with the reason, waits for that
    /// to be stored, then terminates it so it is never redelivered.
    pub async fn dead_letter(self, reason: &str) -> Result<(), BusError> {
        let origin = format!(
            "{}:{}",
            self.shared.spec.stream.name(),
            self.stream_sequence
        );
        let mut letter = Outgoing::new(
            subject::dead_letter(self.subject()),
            format!("dlq:{origin}"),
            self.message.payload.clone(),
        );
        if let Some(headers) = &self.message.headers {
            for (name, values) in headers.iter() {
                // The dead letter has its own dedup id (its origin), so a second attempt
                // to dead-letter the same delivery is dropped as a duplicate.
                if AsRef::<str>::as_ref(name) == "Nats-Msg-Id" {
                    continue;
                }
                for value in values {
                    letter = letter.header(AsRef::<str>::as_ref(name), value.as_str());
                }
            }
        }
        let letter = letter
            .header(DLQ_REASON_HEADER, reason)
            .header(DLQ_SUBJECT_HEADER, self.subject())
            .header(DLQ_DELIVERIES_HEADER, &self.deliveries.to_string())
            .header(DLQ_ORIGIN_HEADER, &origin);
        self.shared.dead_letters.publish_acked(letter).await?;
        tracing::warn!(
            consumer = %self.shared.spec.durable,
            subject = %self.subject(),
            deliveries = self.deliveries,
            reason,
            "message moved to dead letters"
        );
        self.message
            .ack_with(AckKind::Term)
            .await
            .map_err(|e| self.error("term", e))?;
        stats::consume_metrics().dead_letter.increment(1);
        Ok(())
    }

    fn error(&self, action: &'static str, source: async_nats::Error) -> BusError {
        BusError::Consume {
            consumer: self.shared.spec.durable.clone(),
            action,
            source,
        }
    }
}
