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
//! A batch ([`crate::batch`]) is handed out member by member: each member is a
//! [`Delivery`] with the same methods, and the batch is acked once all are settled. A
//! member's retry republishes it alone (the batch cannot be naked for one member without
//! redelivering the others), and its dead letter holds that member alone.
//!
//! The server's own `max_deliver` is left unlimited: when a message has been delivered
//! more often than [`ConsumerSpec::max_deliveries`] (a node crashing on it, say), the
//! next node to pull it moves it to the dead letters instead of working on it again. With
//! a server-side limit the message would instead sit in the work queue forever, never
//! delivered and never removed.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use async_nats::jetstream::{self, AckKind, consumer::pull};
use bytes::Bytes;
use futures::StreamExt as _;
use herald_proto::bus::v1::BatchMember;

use crate::batch::{self, BATCH_HEADER, NOT_BEFORE_HEADER, PRIOR_DELIVERIES_HEADER};
use crate::error::BusError;
use crate::partition::Partitions;
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
/// Header on a dead letter: the consumer that gave it up (`webhook-acme`, `account-acme`).
pub const DLQ_CONSUMER_HEADER: &str = "Herald-Dlq-Consumer";

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
    /// A new durable starts at the messages published from now on, not at the stream's
    /// first (a webhook added to an account gets what comes next, not its history).
    pub only_new: bool,
}

impl ConsumerSpec {
    /// The routers' consumer of accepted bulk MT.
    pub fn routers() -> Self {
        ConsumerSpec::new(StreamKind::Mt, "routers", subject::MT_BULK)
    }

    /// The routers' consumer of accepted urgent MT.
    pub fn urgent_routers() -> Self {
        ConsumerSpec::new(StreamKind::Mt, "routers-urgent", subject::MT_URGENT)
    }

    /// The routers' consumer of carrier MO.
    pub fn mo_routers() -> Self {
        ConsumerSpec::new(StreamKind::Mo, "routers", subject::MO_ALL)
    }

    /// The consumer of `carrier`'s bulk queue, shared by the connectors holding its binds.
    pub fn carrier(carrier: &str) -> Self {
        ConsumerSpec::new(
            StreamKind::Out,
            format!("carrier-{carrier}"),
            subject::out(carrier),
        )
    }

    /// The consumer of `carrier`'s urgent queue, shared by the connectors holding its
    /// binds.
    pub fn urgent_carrier(carrier: &str) -> Self {
        ConsumerSpec::new(
            StreamKind::Out,
            format!("carrier-{carrier}-urgent"),
            subject::out_urgent(carrier),
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
            only_new: false,
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
            deliver_policy: if self.only_new {
                jetstream::consumer::DeliverPolicy::New
            } else {
                jetstream::consumer::DeliverPolicy::All
            },
            ..Default::default()
        }
    }
}

/// A handle to a durable pull consumer: on one stream, or (for a partitioned stream,
/// ADR 0022) the same durable on each partition it reads, pulled together.
#[derive(Clone, Debug)]
pub struct WorkConsumer {
    consumers: Vec<jetstream::consumer::Consumer<pull::Config>>,
    shared: Arc<Shared>,
}

/// What every delivery of one consumer needs, behind one `Arc` so that handing out a
/// delivery costs one reference count, not a clone of the JetStream context.
#[derive(Debug)]
struct Shared {
    spec: ConsumerSpec,
    /// For dead letters and republished batch members.
    publisher: Publisher,
}

/// Messages of several partitions' consumers, as they arrive from any.
type Merged = futures::stream::SelectAll<
    futures::stream::BoxStream<'static, Result<jetstream::Message, async_nats::Error>>,
>;

impl WorkConsumer {
    pub(crate) async fn create(
        jetstream: &jetstream::Context,
        dead_letters: Publisher,
        spec: ConsumerSpec,
        partitions: Partitions,
    ) -> Result<Self, BusError> {
        let indices = if spec.stream.partitioned() {
            partitions.read_by(&spec.filter)
        } else {
            vec![0]
        };
        let mut consumers = Vec::with_capacity(indices.len());
        for index in indices {
            let name = spec.stream.partition_name(index);
            let topology_error = |source: async_nats::Error| BusError::Topology {
                what: format!("consumer {} on {name}", spec.durable),
                source,
            };
            let stream = jetstream
                .get_stream(name.as_ref())
                .await
                .map_err(|e| topology_error(Box::new(e)))?;
            let mut config = spec.server_config();
            config.filter_subject = subject::in_partition(&spec.filter, index).into_owned();
            consumers.push(
                stream
                    .create_consumer(config)
                    .await
                    .map_err(|e| topology_error(Box::new(e)))?,
            );
        }
        Ok(WorkConsumer {
            consumers,
            shared: Arc::new(Shared {
                spec,
                publisher: dead_letters,
            }),
        })
    }

    /// Its spec.
    pub fn spec(&self) -> &ConsumerSpec {
        &self.shared.spec
    }

    /// Starts pulling, `batch` messages per pull request (from each partition read).
    pub async fn messages(&self, batch: usize) -> Result<Deliveries, BusError> {
        let mut streams = Vec::with_capacity(self.consumers.len());
        for consumer in &self.consumers {
            streams.push(
                consumer
                    .stream()
                    .max_messages_per_batch(batch.max(1))
                    .messages()
                    .await
                    .map_err(|source| self.error("pull", Box::new(source)))?,
            );
        }
        let source = if streams.len() == 1 {
            Source::Stream(streams.remove(0))
        } else {
            Source::Merged(futures::stream::select_all(streams.into_iter().map(|s| {
                s.map(|m| m.map_err(|e| Box::new(e) as async_nats::Error))
                    .boxed()
            })))
        };
        Ok(Deliveries {
            source,
            shared: self.shared.clone(),
            members: VecDeque::new(),
        })
    }

    /// One pull request: at most `max` messages, those the server has now and those that
    /// arrive within `expires`; the deliveries end when `max` came or `expires` passed.
    /// Reading several partitions (only while the partition count changes, for a keyed
    /// consumer), `max` is shared among them.
    ///
    /// For a consumer that must not hold more than it can work on: unlike
    /// [`WorkConsumer::messages`], nothing is prefetched beyond `max`, so no message
    /// waits unseen in a client buffer while its ack wait runs out.
    pub async fn pull(&self, max: usize, expires: Duration) -> Result<Deliveries, BusError> {
        let share = max.max(1).div_ceil(self.consumers.len()).max(1);
        let mut batches = Vec::with_capacity(self.consumers.len());
        for consumer in &self.consumers {
            batches.push(
                consumer
                    .batch()
                    .max_messages(share)
                    .expires(expires)
                    .messages()
                    .await
                    .map_err(|source| self.error("pull", Box::new(source)))?,
            );
        }
        let source = if batches.len() == 1 {
            Source::Batch(batches.remove(0))
        } else {
            Source::Merged(futures::stream::select_all(
                batches.into_iter().map(futures::StreamExt::boxed),
            ))
        };
        Ok(Deliveries {
            source,
            shared: self.shared.clone(),
            members: VecDeque::new(),
        })
    }

    /// Messages the server holds for this consumer that nobody has pulled yet, plus those
    /// pulled and not acked.
    pub async fn backlog(&mut self) -> Result<u64, BusError> {
        let mut backlog = 0;
        for consumer in &mut self.consumers {
            let info = consumer.info().await.map_err(|source| BusError::Consume {
                consumer: self.shared.spec.durable.clone(),
                action: "info",
                source: Box::new(source),
            })?;
            backlog += info.num_pending + u64::try_from(info.num_ack_pending).unwrap_or(0);
        }
        Ok(backlog)
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
    /// The members of the latest batch not handed out yet.
    members: VecDeque<Delivery>,
}

/// Where [`Deliveries`] come from: a continuous pull, or one pull request; of several
/// partitions, either merged.
enum Source {
    Stream(pull::Stream),
    Batch(pull::Batch),
    Merged(Merged),
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
            if let Some(member) = self.members.pop_front() {
                return Some(Ok(member));
            }
            match self.fetch().await? {
                Ok(Fetched::One(delivery)) => return Some(Ok(delivery)),
                Ok(Fetched::Batch) => {}
                Err(err) => return Some(Err(err)),
            }
        }
    }

    /// The next JetStream message's deliveries together: one, or every member of a batch
    /// still to be handed out, in order. For a consumer whose output for a group must
    /// be the same whenever the group is redelivered (the router: what one batch routes to
    /// one carrier becomes one batch again, with the same dedup id). Otherwise as
    /// [`Deliveries::next`].
    pub async fn next_group(&mut self) -> Option<Result<Vec<Delivery>, BusError>> {
        loop {
            if !self.members.is_empty() {
                return Some(Ok(self.members.drain(..).collect()));
            }
            match self.fetch().await? {
                Ok(Fetched::One(delivery)) => return Some(Ok(vec![delivery])),
                Ok(Fetched::Batch) => {}
                Err(err) => return Some(Err(err)),
            }
        }
    }

    /// Stops pulling and hands back the batch members queued here but not handed out yet:
    /// each is republished alone (at once, no delay), so its batch can be acked and the
    /// members already handed out are not redelivered with them. Messages the client had
    /// prefetched whole are redelivered after their ack wait, as when dropped (and so may
    /// a handed-back member the server gave to this puller's last request).
    pub async fn release(self) {
        let Deliveries {
            source, members, ..
        } = self;
        // Stop pulling first, so the members handed back are not pulled again here.
        drop(source);
        for member in members {
            if let Err(error) = member.retry_after(Duration::ZERO).await {
                tracing::warn!(%error, "queued batch member not handed back; its batch will be redelivered");
            }
        }
    }

    /// Pulls the next JetStream message: a delivery, or a batch whose members it queued
    /// (possibly none, when they all went to the dead letters).
    async fn fetch(&mut self) -> Option<Result<Fetched, BusError>> {
        loop {
            let next = match &mut self.source {
                Source::Stream(stream) => stream
                    .next()
                    .await?
                    .map_err(|e| Box::new(e) as async_nats::Error),
                Source::Batch(batch) => batch.next().await?,
                Source::Merged(merged) => merged.next().await?,
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
            let batched = message
                .headers
                .as_ref()
                .is_some_and(|h| h.get(BATCH_HEADER).is_some());
            if batched {
                // An undecodable batch is handed out whole: the consumer's decode fails
                // and dead-letters it like any other undecodable message.
                if let Ok(members) = batch::unpack(&message.payload) {
                    return Some(
                        self.unbatch(message, members)
                            .await
                            .map(|()| Fetched::Batch),
                    );
                }
            } else if let Some(wait) = not_yet(&message) {
                // A retried batch member waiting out its delay.
                if let Err(source) = message.ack_with(AckKind::Nak(Some(wait))).await {
                    return Some(Err(BusError::Consume {
                        consumer: self.shared.spec.durable.clone(),
                        action: "nak",
                        source,
                    }));
                }
                continue;
            }
            let delivery = Delivery::new(message, self.shared.clone());
            if delivery.deliveries > self.shared.spec.max_deliveries {
                let reason = format!("delivered {} times", delivery.deliveries);
                if let Err(err) = delivery.dead_letter(&reason).await {
                    return Some(Err(err));
                }
                continue;
            }
            return Some(Ok(Fetched::One(delivery)));
        }
    }

    /// Queues the members of a batch as deliveries of their own; or, when the batch was
    /// delivered too often, moves every member to the dead letters.
    async fn unbatch(
        &mut self,
        message: jetstream::Message,
        members: Vec<BatchMember>,
    ) -> Result<(), BusError> {
        let (deliveries, stream_sequence) = delivery_info(&message);
        let shared_batch = Arc::new(Batch {
            members: members.len(),
            unsettled: AtomicUsize::new(members.len()),
            message,
        });
        let give_up = deliveries > self.shared.spec.max_deliveries;
        let mut doomed = Vec::new();
        for (index, member) in members.into_iter().enumerate() {
            let delivery = Delivery {
                body: Body::Member {
                    batch: shared_batch.clone(),
                    index,
                    member,
                },
                deliveries,
                stream_sequence,
                shared: self.shared.clone(),
            };
            if give_up {
                doomed.push(delivery);
            } else {
                self.members.push_back(delivery);
            }
        }
        if give_up {
            // In a task of its own: `next` is polled in `select!` loops that may drop it
            // at any await, and a batch dead-lettered halfway would come back for ever.
            tokio::spawn(async move {
                let reason = format!("delivered {deliveries} times");
                for delivery in doomed {
                    if let Err(error) = delivery.dead_letter(&reason).await {
                        tracing::warn!(%error, "batch member not dead-lettered; the batch will be redelivered");
                    }
                }
            });
            return Ok(());
        }
        if shared_batch.unsettled.load(Ordering::Acquire) == 0 {
            // An empty batch: nothing to hand out, nothing to redeliver.
            shared_batch
                .message
                .ack()
                .await
                .map_err(|source| BusError::Consume {
                    consumer: self.shared.spec.durable.clone(),
                    action: "ack",
                    source,
                })?;
        }
        Ok(())
    }
}

/// What one pull of [`Deliveries::fetch`] gave.
#[allow(
    clippy::large_enum_variant,
    reason = "returned once per message and unpacked at once; boxing would allocate"
)]
enum Fetched {
    /// A message of its own.
    One(Delivery),
    /// A batch, its members queued in [`Deliveries::members`].
    Batch,
}

/// How long a republished member still has to wait, if its not-before time is ahead.
fn not_yet(message: &jetstream::Message) -> Option<Duration> {
    wait_before(message.headers.as_ref(), SystemTime::now())
}

/// How long after `now` the not-before time in `headers` is, if it is ahead.
fn wait_before(headers: Option<&async_nats::HeaderMap>, now: SystemTime) -> Option<Duration> {
    let at: u64 = headers?.get(NOT_BEFORE_HEADER)?.as_str().parse().ok()?;
    let at = std::time::UNIX_EPOCH + Duration::from_millis(at);
    at.duration_since(now).ok().filter(|wait| !wait.is_zero())
}

/// A message's delivery count (plus those of its earlier copies, for a republished
/// member) and its stream sequence.
fn delivery_info(message: &jetstream::Message) -> (u32, u64) {
    let (delivered, sequence) = message
        .info()
        .map(|info| {
            (
                u32::try_from(info.delivered).unwrap_or(u32::MAX),
                info.stream_sequence,
            )
        })
        .unwrap_or((1, 0));
    (attempts(delivered, message.headers.as_ref()), sequence)
}

/// The attempts a message delivered `delivered` times has had: its earlier copies' (a
/// republished member carries their count), plus its own deliveries less the one spent
/// waiting out a not-before time, which was no attempt.
fn attempts(delivered: u32, headers: Option<&async_nats::HeaderMap>) -> u32 {
    let prior: u32 = headers
        .and_then(|h| h.get(PRIOR_DELIVERIES_HEADER))
        .and_then(|v| v.as_str().parse().ok())
        .unwrap_or(0);
    let waited =
        u32::from(delivered > 1 && headers.is_some_and(|h| h.get(NOT_BEFORE_HEADER).is_some()));
    prior.saturating_add(delivered - waited)
}

/// A batch being worked on: acked when its last member is settled.
#[derive(Debug)]
struct Batch {
    message: jetstream::Message,
    members: usize,
    unsettled: AtomicUsize,
}

/// What a [`Delivery`] is: a JetStream message of its own, or one member of a batch.
#[derive(Debug)]
#[allow(
    clippy::large_enum_variant,
    reason = "boxing the whole message would add an allocation to every unbatched delivery"
)]
enum Body {
    Whole(jetstream::Message),
    Member {
        batch: Arc<Batch>,
        index: usize,
        member: BatchMember,
    },
}

/// One message pulled from a consumer, to be acked, retried or dead-lettered.
#[derive(Debug)]
pub struct Delivery {
    body: Body,
    deliveries: u32,
    stream_sequence: u64,
    shared: Arc<Shared>,
}

/// Logs an ack, retry, in-progress or dead-lettering that did not reach the bus. There is
/// nothing else to do about it: the ack wait redelivers the message, and every consumer
/// takes a redelivery (at-least-once).
pub fn settle_logged(result: Result<(), BusError>) {
    if let Err(error) = result {
        tracing::warn!(%error, "could not settle a delivery; it will be redelivered");
    }
}

impl Delivery {
    fn new(message: jetstream::Message, shared: Arc<Shared>) -> Self {
        let (deliveries, stream_sequence) = delivery_info(&message);
        Delivery {
            body: Body::Whole(message),
            deliveries,
            stream_sequence,
            shared,
        }
    }

    /// The JetStream message it came in: its own, or its batch's.
    fn message(&self) -> &jetstream::Message {
        match &self.body {
            Body::Whole(message) => message,
            Body::Member { batch, .. } => &batch.message,
        }
    }

    /// The subject it was published to.
    pub fn subject(&self) -> &str {
        self.message().subject.as_str()
    }

    /// Its body.
    pub fn payload(&self) -> &Bytes {
        match &self.body {
            Body::Whole(message) => &message.payload,
            Body::Member { member, .. } => &member.payload,
        }
    }

    /// The value of header `name`, if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        match &self.body {
            Body::Whole(message) => message.headers.as_ref()?.get(name).map(|v| v.as_str()),
            Body::Member { member, .. } => batch::member_header(member, name),
        }
    }

    /// Every header as `(name, value)`, in order.
    fn header_pairs(&self) -> Vec<(String, String)> {
        match &self.body {
            Body::Whole(message) => message
                .headers
                .iter()
                .flat_map(|headers| headers.iter())
                .flat_map(|(name, values)| {
                    let name: &str = name.as_ref();
                    values
                        .iter()
                        .map(move |value| (name.to_owned(), value.as_str().to_owned()))
                })
                .collect(),
            Body::Member { member, .. } => member
                .headers
                .iter()
                .map(|h| (h.name.clone(), h.value.clone()))
                .collect(),
        }
    }

    /// True when it arrived as a member of a batch.
    pub fn is_batch_member(&self) -> bool {
        matches!(self.body, Body::Member { .. })
    }

    /// How many messages came in the same JetStream message: 1, or its batch's size. A
    /// puller that must not take more than it can work on sizes its requests by it.
    pub fn batch_len(&self) -> usize {
        match &self.body {
            Body::Whole(_) => 1,
            Body::Member { batch, .. } => batch.members,
        }
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
        let nanos = self.message().info().ok()?.published.unix_timestamp_nanos();
        let nanos = u64::try_from(nanos).ok()?;
        Some(std::time::UNIX_EPOCH + Duration::from_nanos(nanos))
    }

    /// Its sequence in the stream (its batch's, for a member).
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

    /// Done: the server removes it from a work queue (a batch once all its members are
    /// done).
    pub async fn ack(self) -> Result<(), BusError> {
        self.settle(false).await?;
        stats::consume_metrics().ack.increment(1);
        Ok(())
    }

    /// Done, and waits until the server confirms the ack, so it cannot be redelivered
    /// (for a member: confirmed when it is the batch's last; until then the batch's ack
    /// is still to come).
    pub async fn ack_confirmed(self) -> Result<(), BusError> {
        self.settle(true).await?;
        stats::consume_metrics().ack.increment(1);
        Ok(())
    }

    /// Settles it: acks the message, or counts the member off and acks its batch when it
    /// was the last.
    async fn settle(&self, confirmed: bool) -> Result<(), BusError> {
        let message = match &self.body {
            Body::Whole(message) => message,
            Body::Member { batch, .. } => {
                if batch.unsettled.fetch_sub(1, Ordering::AcqRel) != 1 {
                    return Ok(());
                }
                &batch.message
            }
        };
        let acked = if confirmed {
            message.double_ack().await
        } else {
            message.ack().await
        };
        acked.map_err(|e| self.error("ack", e))
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
    /// own retry-after, say). A batch member is republished alone, to be worked on no
    /// sooner than `delay` from now.
    pub async fn retry_after(self, delay: Duration) -> Result<(), BusError> {
        match &self.body {
            Body::Whole(message) => message
                .ack_with(AckKind::Nak(Some(delay)))
                .await
                .map_err(|e| self.error("nak", e))?,
            Body::Member { member, .. } => {
                // Its batch's sequence in the id: a redelivered batch retrying the same
                // member again republishes a duplicate, which the window drops.
                let mut copy = Outgoing::new(
                    self.subject().to_owned(),
                    format!("{}:r{}", member.id, self.stream_sequence),
                    member.payload.clone(),
                );
                for header in &member.headers {
                    copy = copy.header(&header.name, &header.value);
                }
                copy = copy.header(PRIOR_DELIVERIES_HEADER, &self.deliveries.to_string());
                if !delay.is_zero() {
                    let at = SystemTime::now() + delay;
                    let at_ms = at
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |d| d.as_millis());
                    copy = copy.header(NOT_BEFORE_HEADER, &at_ms.to_string());
                }
                self.shared.publisher.publish_acked(copy).await?;
                self.settle(false).await?;
            }
        }
        stats::consume_metrics().nak.increment(1);
        Ok(())
    }

    /// Still working on it: resets the ack wait (of its batch, for a member).
    pub async fn in_progress(&self) -> Result<(), BusError> {
        self.message()
            .ack_with(AckKind::Progress)
            .await
            .map_err(|e| self.error("in-progress", e))
    }

    /// Gives up: publishes it to the dead-letter subject with the reason, waits for that
    /// to be stored, then terminates it so it is never redelivered (a member: counts it
    /// off its batch instead, like an ack).
    pub async fn dead_letter(self, reason: &str) -> Result<(), BusError> {
        // The partition's stream it was read from (its reply subject names it).
        let stream = self
            .message()
            .info()
            .map_or(self.shared.spec.stream.name(), |info| info.stream);
        let origin = format!("{stream}:{}", self.stream_sequence);
        // The consumer's name too: two consumers of one stream (an account's SMPP delivery
        // and its webhook) may each give the same message up, and each letter must stay.
        let durable = &self.shared.spec.durable;
        let id = match &self.body {
            Body::Whole(_) => format!("dlq:{origin}:{durable}"),
            Body::Member { index, .. } => format!("dlq:{origin}:{index}:{durable}"),
        };
        let mut letter = Outgoing::new(
            subject::dead_letter(self.subject()),
            id,
            self.payload().clone(),
        );
        for (name, value) in self.header_pairs() {
            // The dead letter has its own dedup id (its origin), so a second attempt to
            // dead-letter the same delivery is dropped as a duplicate; and it is one
            // message, whatever it came in.
            if name == "Nats-Msg-Id" || name == BATCH_HEADER {
                continue;
            }
            letter = letter.header(&name, &value);
        }
        let letter = letter
            .header(DLQ_REASON_HEADER, reason)
            .header(DLQ_SUBJECT_HEADER, self.subject())
            .header(DLQ_DELIVERIES_HEADER, &self.deliveries.to_string())
            .header(DLQ_ORIGIN_HEADER, &origin)
            .header(DLQ_CONSUMER_HEADER, durable);
        self.shared.publisher.publish_acked(letter).await?;
        tracing::warn!(
            consumer = %self.shared.spec.durable,
            subject = %self.subject(),
            deliveries = self.deliveries,
            reason,
            "message moved to dead letters"
        );
        match &self.body {
            Body::Whole(message) => message
                .ack_with(AckKind::Term)
                .await
                .map_err(|e| self.error("term", e))?,
            Body::Member { .. } => self.settle(false).await?,
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> async_nats::HeaderMap {
        let mut headers = async_nats::HeaderMap::new();
        for (name, value) in pairs {
            headers.insert(*name, *value);
        }
        headers
    }

    #[test]
    fn a_plain_message_has_had_as_many_attempts_as_deliveries() {
        assert_eq!(attempts(1, None), 1);
        assert_eq!(attempts(4, Some(&headers(&[]))), 4);
    }

    #[test]
    fn a_republished_member_counts_its_earlier_copies_but_not_its_wait() {
        // Republished after 2 attempts in its batch, to wait out a retry delay.
        let member = headers(&[
            (PRIOR_DELIVERIES_HEADER, "2"),
            (NOT_BEFORE_HEADER, "1796644800000"),
        ]);
        // First delivered before its time: nothing attempted yet beyond the two.
        assert_eq!(attempts(1, Some(&member)), 3);
        // Delivered again once its time came: the early delivery was no attempt.
        assert_eq!(attempts(2, Some(&member)), 3);
        assert_eq!(attempts(3, Some(&member)), 4);
        // A count that does not parse is no count.
        let garbled = headers(&[(PRIOR_DELIVERIES_HEADER, "many")]);
        assert_eq!(attempts(1, Some(&garbled)), 1);
    }

    #[test]
    fn a_not_before_time_ahead_is_waited_out_and_one_past_is_not() {
        let at = std::time::UNIX_EPOCH + Duration::from_millis(1_796_644_800_000);
        let member = headers(&[(NOT_BEFORE_HEADER, "1796644800000")]);
        assert_eq!(
            wait_before(Some(&member), at - Duration::from_secs(3)),
            Some(Duration::from_secs(3))
        );
        assert_eq!(wait_before(Some(&member), at), None);
        assert_eq!(
            wait_before(Some(&member), at + Duration::from_secs(1)),
            None
        );
        assert_eq!(wait_before(None, at), None);
        let garbled = headers(&[(NOT_BEFORE_HEADER, "soon")]);
        assert_eq!(wait_before(Some(&garbled), at), None);
    }
}
