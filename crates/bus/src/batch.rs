//! Batched envelopes (ADR 0010): several bus messages carried as one JetStream message.
//!
//! A JetStream operation costs the same whether it carries one message or forty, and a
//! message used to take three of them on each hop (publish, delivery, ack). Under load
//! each hop now carries batches, so those operations are shared by every member:
//!
//! - **On the wire**, a batch is a [`BusBatch`] with the [`BATCH_HEADER`] giving its size.
//!   A batch of one is sent as the member itself, byte for byte what an unbatched
//!   publisher sends, so consumers read both and nodes of both versions can coexist.
//! - **Publishing**: [`crate::Publisher::publish_batch`] sends a group the caller formed
//!   (the router: what one delivery routed to one carrier, so a redelivery forms the same
//!   batch again and its dedup id drops it). [`CoalescingPublisher`] forms batches by
//!   itself, like Nagle's algorithm without the delay: a message goes out at once when
//!   nothing of its subject is in flight, and while something is, later ones gather and
//!   leave together when its ack lands. At low rates every batch is one message; at high
//!   rates batches grow with the ack's round trip.
//! - **Dedup**: a batch's `Nats-Msg-Id` is a hash of its members' ids, in order.
//! - **Consuming** ([`crate::consume`]): each member is a [`crate::Delivery`] of its own.
//!   The batch is acked when the last member is settled. A member to be retried is
//!   republished alone (with [`NOT_BEFORE_HEADER`] for its delay and
//!   [`PRIOR_DELIVERIES_HEADER`] for its count) and counts as settled; a dead-lettered
//!   member goes to the dead letters alone. So one poison member never holds its batch
//!   hostage, and the members already done are not redelivered for its sake.

use std::collections::HashMap;

use bytes::Bytes;
use futures::StreamExt as _;
use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;
use herald_proto::bus::v1::{BatchHeader, BatchMember, BusBatch};
use prost::Message as _;
use sha2::{Digest as _, Sha256};
use tokio::sync::{mpsc, oneshot};

use crate::error::BusError;
use crate::publish::{Acked, Outgoing, PendingAck, Publisher};
use crate::subject::lower_hex;

/// Header on a batch: how many members it holds.
pub const BATCH_HEADER: &str = "Herald-Batch";
/// Header on a republished member: not to be worked on before this time (Unix ms). The
/// consumer naks it until then, which is how a member gets the delay of a nak.
pub const NOT_BEFORE_HEADER: &str = "Herald-Not-Before";
/// Header on a republished member: how often it was delivered before, so the dead-letter
/// limit counts every delivery and not only those of its latest copy.
pub const PRIOR_DELIVERIES_HEADER: &str = "Herald-Prior-Deliveries";

/// How big a batch may grow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchLimits {
    /// Most members in one batch.
    pub max_members: usize,
    /// Most payload bytes in one batch (well under NATS's `max_payload`).
    pub max_bytes: usize,
    /// Batches of one subject in flight at once; more queue and coalesce.
    pub max_in_flight: usize,
    /// Messages waiting in the coalescer, past which `publish` fails with
    /// [`BusError::Full`].
    pub max_queued: usize,
}

impl Default for BatchLimits {
    fn default() -> Self {
        BatchLimits {
            max_members: 64,
            max_bytes: 64 * 1024,
            max_in_flight: 1,
            max_queued: 8192,
        }
    }
}

/// The dedup id of a batch: a hash of its members' ids in order.
pub fn batch_id<'a>(ids: impl IntoIterator<Item = &'a str>) -> String {
    let mut hash = Sha256::new();
    for id in ids {
        hash.update(id.as_bytes());
        // A separator no id contains, so ["ab","c"] and ["a","bc"] differ.
        hash.update([0u8]);
    }
    let digest = hash.finalize();
    // 128 bits are plenty to tell batches apart within a dedup window.
    format!("batch:{}", lower_hex(&digest[..16]))
}

/// `members`, all to one subject, as the one message to publish: the member itself when
/// it is alone, else a [`BusBatch`].
pub(crate) fn envelope(members: Vec<Outgoing>) -> Result<Outgoing, BusError> {
    let Some(first) = members.first() else {
        return Err(BusError::Batch("a batch needs at least one member"));
    };
    if members.len() == 1 {
        return Ok(members.into_iter().next().expect("one member"));
    }
    if members.iter().any(|m| m.subject != first.subject) {
        return Err(BusError::Batch("the members of a batch share one subject"));
    }
    let subject = first.subject.clone();
    let id = batch_id(members.iter().map(|m| m.id.as_str()));
    let count = members.len();
    let batch = BusBatch {
        members: members.into_iter().map(member).collect(),
    };
    Ok(
        Outgoing::new(subject, id, Bytes::from(batch.encode_to_vec()))
            .header(BATCH_HEADER, &count.to_string()),
    )
}

fn member(message: Outgoing) -> BatchMember {
    let headers = message
        .headers
        .iter()
        .flat_map(|(name, values)| {
            let name: &str = name.as_ref();
            values.iter().map(move |value| BatchHeader {
                name: name.to_owned(),
                value: value.as_str().to_owned(),
            })
        })
        .collect();
    BatchMember {
        id: message.id,
        payload: message.payload,
        headers,
    }
}

/// The members of a batch's body. The payloads are slices of `payload`, not copies.
pub fn unpack(payload: &Bytes) -> Result<Vec<BatchMember>, BusError> {
    BusBatch::decode(payload.clone())
        .map(|batch| batch.members)
        .map_err(|source| BusError::Decode {
            what: "herald.bus.v1.BusBatch",
            source,
        })
}

/// The value of header `name` of a batch member.
pub(crate) fn member_header<'a>(member: &'a BatchMember, name: &str) -> Option<&'a str> {
    member
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case(name))
        .map(|h| h.value.as_str())
}

/// A publisher that forms batches by itself, per subject (see the module docs). Cheap to
/// clone; the batches are formed by one task, which ends when every clone is dropped and
/// what they queued has been answered.
#[derive(Clone, Debug)]
pub struct CoalescingPublisher {
    inner: Coalescing,
}

/// Batching, or (with `nats.batching` off) passing every message straight through.
#[derive(Clone, Debug)]
enum Coalescing {
    Batching(mpsc::Sender<Queued>),
    // Boxed: a publisher is a JetStream context, and this is cloned into every session.
    Unbatched(Box<Publisher>),
}

/// A message waiting for its batch, and where its answer goes.
struct Queued {
    message: Outgoing,
    answer: oneshot::Sender<Result<Acked, BusError>>,
}

impl CoalescingPublisher {
    /// Starts the task that forms and sends the batches (needs a Tokio runtime).
    pub fn new(publisher: Publisher, limits: BatchLimits) -> Self {
        let (queue, queued) = mpsc::channel(limits.max_queued.max(1));
        tokio::spawn(coalesce(publisher, limits, queued));
        CoalescingPublisher {
            inner: Coalescing::Batching(queue),
        }
    }

    /// One that publishes every message on its own, as [`Publisher::publish`] does.
    pub fn unbatched(publisher: Publisher) -> Self {
        CoalescingPublisher {
            inner: Coalescing::Unbatched(Box::new(publisher)),
        }
    }

    /// Queues `message` for the next batch of its subject and returns its pending ack,
    /// which is the ack of that batch.
    ///
    /// Fails at once with [`BusError::Full`] when too many messages are waiting.
    pub async fn publish(&self, message: Outgoing) -> Result<PendingAck, BusError> {
        let queue = match &self.inner {
            Coalescing::Batching(queue) => queue,
            Coalescing::Unbatched(publisher) => return publisher.publish(message).await,
        };
        let (answer, answered) = oneshot::channel();
        match queue.try_send(Queued { message, answer }) {
            Ok(()) => Ok(PendingAck::coalesced(answered)),
            Err(mpsc::error::TrySendError::Full(_)) => {
                crate::stats::publish_metrics().full.increment(1);
                Err(BusError::Full)
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                Err(BusError::Nats("the batching publisher stopped".into()))
            }
        }
    }

    /// Publishes and waits for the ack.
    pub async fn publish_acked(&self, message: Outgoing) -> Result<Acked, BusError> {
        self.publish(message).await?.await
    }
}

/// One subject's queue in the coalescer.
#[derive(Default)]
struct Lane {
    in_flight: usize,
    waiting: Vec<Queued>,
}

/// The coalescer: takes queued messages, sends a subject's batch whenever it has fewer
/// than `max_in_flight` in flight, and fans each batch's ack out to its members.
async fn coalesce(publisher: Publisher, limits: BatchLimits, mut queued: mpsc::Receiver<Queued>) {
    let mut lanes: HashMap<String, Lane> = HashMap::new();
    let mut acks: FuturesUnordered<BoxFuture<'static, String>> = FuturesUnordered::new();
    let mut open = true;
    while open || !acks.is_empty() {
        tokio::select! {
            next = queued.recv(), if open => match next {
                Some(first) => {
                    // Take everything already queued before sending, so a burst leaves as
                    // one batch rather than a first message and then the rest.
                    let mut touched = Vec::new();
                    let mut item = first;
                    loop {
                        let subject = item.message.subject.as_str();
                        if !lanes.contains_key(subject) {
                            lanes.insert(subject.to_owned(), Lane::default());
                        }
                        if let Some(lane) = lanes.get_mut(subject) {
                            if lane.waiting.is_empty() {
                                touched.push(item.message.subject.clone());
                            }
                            lane.waiting.push(item);
                        }
                        match queued.try_recv() {
                            Ok(next) => item = next,
                            Err(_) => break,
                        }
                    }
                    for subject in touched {
                        send_ready(&publisher, &limits, &mut lanes, &subject, &mut acks).await;
                    }
                }
                None => open = false,
            },
            Some(subject) = acks.next(), if !acks.is_empty() => {
                if let Some(lane) = lanes.get_mut(&subject) {
                    lane.in_flight = lane.in_flight.saturating_sub(1);
                }
                send_ready(&publisher, &limits, &mut lanes, &subject, &mut acks).await;
            }
        }
    }
}

/// Sends batches of `subject` while it has room in flight and messages waiting; forgets
/// the subject once nothing of it is waiting or in flight.
async fn send_ready(
    publisher: &Publisher,
    limits: &BatchLimits,
    lanes: &mut HashMap<String, Lane>,
    subject: &str,
    acks: &mut FuturesUnordered<BoxFuture<'static, String>>,
) {
    let Some(lane) = lanes.get_mut(subject) else {
        return;
    };
    while lane.in_flight < limits.max_in_flight.max(1) && !lane.waiting.is_empty() {
        let mut bytes = 0;
        let mut take = 0;
        for item in &lane.waiting {
            let size = item.message.payload.len();
            if take > 0 && (take == limits.max_members || bytes + size > limits.max_bytes) {
                break;
            }
            bytes += size;
            take += 1;
        }
        let (messages, answers): (Vec<_>, Vec<_>) = lane
            .waiting
            .drain(..take)
            .map(|q| (q.message, q.answer))
            .unzip();
        crate::stats::publish_metrics()
            .batch_members
            .record(messages.len() as f64);
        match publisher.publish_batch(messages).await {
            Ok(pending) => {
                lane.in_flight += 1;
                let subject = subject.to_owned();
                acks.push(Box::pin(async move {
                    let answer = pending.await;
                    for member in answers {
                        let _ = member.send(
                            answer
                                .as_ref()
                                .map(Clone::clone)
                                .map_err(BusError::for_member),
                        );
                    }
                    subject
                }));
            }
            Err(error) => {
                for member in answers {
                    let _ = member.send(Err(BusError::for_member(&error)));
                }
            }
        }
    }
    if lane.in_flight == 0 && lane.waiting.is_empty() {
        // Idle subjects (an account gone quiet) do not stay in the map.
        lanes.remove(subject);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_id_depends_on_every_member_id_and_their_order() {
        let ab = batch_id(["a", "b"]);
        assert_eq!(ab, batch_id(["a", "b"]));
        assert_ne!(ab, batch_id(["b", "a"]));
        assert_ne!(batch_id(["ab", "c"]), batch_id(["a", "bc"]));
        assert!(ab.starts_with("batch:"));
        assert_eq!(ab.len(), "batch:".len() + 32);
    }

    #[test]
    fn one_member_is_sent_as_itself() {
        let message = Outgoing::new("herald.mt.a", "m1", Bytes::from_static(b"body"))
            .header("Herald-Account", "a");
        let sent = envelope(vec![message]).unwrap();
        assert_eq!(sent.id, "m1");
        assert_eq!(sent.payload.as_ref(), b"body");
        assert!(sent.headers.get(BATCH_HEADER).is_none());
    }

    #[test]
    fn members_round_trip_with_their_ids_bodies_and_headers() {
        let members = vec![
            Outgoing::new("herald.mt.a", "m1", Bytes::from_static(b"one"))
                .header("Herald-Account", "a")
                .header("traceparent", "00-abc-def-01"),
            Outgoing::new("herald.mt.a", "m2", Bytes::from_static(b"two")),
        ];
        let sent = envelope(members).unwrap();
        assert_eq!(sent.subject, "herald.mt.a");
        assert_eq!(sent.id, batch_id(["m1", "m2"]));
        assert_eq!(
            sent.headers.get(BATCH_HEADER).map(|v| v.as_str()),
            Some("2")
        );
        let unpacked = unpack(&sent.payload).unwrap();
        assert_eq!(unpacked.len(), 2);
        assert_eq!(unpacked[0].id, "m1");
        assert_eq!(unpacked[0].payload.as_ref(), b"one");
        assert_eq!(member_header(&unpacked[0], "herald-account"), Some("a"));
        assert_eq!(
            member_header(&unpacked[0], "traceparent"),
            Some("00-abc-def-01")
        );
        assert_eq!(unpacked[1].id, "m2");
        assert!(unpacked[1].headers.is_empty());
    }

    #[test]
    fn a_batch_is_refused_empty_or_across_subjects() {
        assert!(matches!(envelope(Vec::new()), Err(BusError::Batch(_))));
        let mixed = vec![
            Outgoing::new("herald.mt.a", "m1", Bytes::new()),
            Outgoing::new("herald.mt.b", "m2", Bytes::new()),
        ];
        assert!(matches!(envelope(mixed), Err(BusError::Batch(_))));
    }

    #[test]
    fn a_corrupt_batch_is_a_decode_error() {
        let garbage = Bytes::from_static(&[0xff, 0xff, 0xff]);
        assert!(matches!(unpack(&garbage), Err(BusError::Decode { .. })));
    }
}
