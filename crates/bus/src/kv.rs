//! The KV buckets: message status by id, carrier message id → Herald id, and the
//! cluster-wide rate counters.
//!
//! Each is a JetStream KV bucket with a TTL ([`crate::BusConfig::status_ttl`],
//! [`crate::BusConfig::id_map_ttl`], [`crate::topology::QUOTA_TTL`]), so they bound
//! themselves without a sweeper.

use std::collections::HashMap;
use std::sync::Arc;

use async_nats::jetstream::{self, kv};
use herald_proto::bus::v1::{CarrierIdMapping, MessageStatus};

use prost::Message as _;

use crate::bucket::Bucket;
use crate::error::{BusError, NatsError};
use crate::partition::{PartitionedBucket, Partitions};
use crate::publish::encode;
use crate::subject::kv_key;
use crate::topology::{CANCEL_BUCKET, CARRIER_ID_BUCKET, QUOTA_BUCKET, STATUS_BUCKET};

/// Where a message is in Herald; later stages are never overwritten by earlier ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stage {
    /// Published by an edge.
    Accepted,
    /// Handed to a carrier's queue by a router.
    Routed,
    /// Accepted by the carrier (submit_sm_resp OK).
    Submitted,
    /// Final: a receipt arrived, or Herald gave up and made one.
    Final,
}

impl Stage {
    /// The name stored in [`MessageStatus::stage`].
    pub const fn as_str(self) -> &'static str {
        match self {
            Stage::Accepted => "accepted",
            Stage::Routed => "routed",
            Stage::Submitted => "submitted",
            Stage::Final => "final",
        }
    }

    /// Parses a stored stage name; unknown names sort first, so they never block.
    pub fn parse(name: &str) -> Option<Stage> {
        match name {
            "accepted" => Some(Stage::Accepted),
            "routed" => Some(Stage::Routed),
            "submitted" => Some(Stage::Submitted),
            "final" => Some(Stage::Final),
            _ => None,
        }
    }
}

/// Message status by Herald id: what `query_sm` and message lookup read. Split over
/// [`Partitions`] by the key's hash.
#[derive(Clone, Debug)]
pub struct StatusStore {
    store: PartitionedBucket,
    /// For writes the server does not answer ([`StatusStore::put_unconfirmed`]).
    client: async_nats::Client,
}

/// How many times [`StatusStore::advance`] retries a lost compare-and-swap race. Each
/// round of a race has a winner, so a writer among N concurrent ones loses at most N - 1
/// times; a message's status has two or three writers at most, and tests use 16.
const ADVANCE_ATTEMPTS: usize = 32;

impl StatusStore {
    pub(crate) async fn open(
        jetstream: &jetstream::Context,
        partitions: Partitions,
    ) -> Result<Self, BusError> {
        let store = PartitionedBucket::open(jetstream, STATUS_BUCKET, partitions).await?;
        Ok(StatusStore {
            store,
            client: jetstream.client(),
        })
    }

    /// Writes `status` over whatever is stored, without waiting for the server: one
    /// publish and no answer, which costs the server and the caller about half of an
    /// acknowledged write.
    ///
    /// For the `submitted` record, written on every message the moment the carrier takes
    /// it: it is sent on the connection before anything that follows from it (the
    /// receipt's final status, the carrier-queue ack), and the server handles one
    /// connection's messages in order, so it is stored before them. Losing it (a NATS
    /// server dying with it unreplicated) loses no message: `query_sm` then reports the
    /// stage before, and a crash-redelivered message is not known to have been sent.
    pub async fn put_unconfirmed(&self, status: &MessageStatus) -> Result<(), BusError> {
        let key = kv_key(&status.message_id);
        let bucket = self.store.of(&key);
        let store = bucket.store();
        if store.use_jetstream_prefix {
            // A JetStream domain prefix is not ours to rebuild: take the answered path.
            return self.advance(status).await.map(drop);
        }
        let prefix = store.put_prefix.as_ref().unwrap_or(&store.prefix);
        let subject = format!("{prefix}{key}");
        bucket.count_put_unanswered();
        self.client
            .publish(subject, encode(status))
            .await
            .map_err(|source| kv_error(STATUS_BUCKET, "write", source))
    }

    /// The latest status of `message_id`, if known and not expired. While the partition
    /// count changes, the further advanced of its records under the two layouts.
    pub async fn get(&self, message_id: &str) -> Result<Option<MessageStatus>, BusError> {
        let key = kv_key(message_id);
        let current = status_in(self.store.of(&key), &key).await?;
        let Some(other) = self.store.other(&key) else {
            return Ok(current);
        };
        let before = status_in(other, &key).await?;
        Ok(match (current, before) {
            (Some(current), Some(before))
                if Stage::parse(&before.stage) > Stage::parse(&current.stage) =>
            {
                Some(before)
            }
            (current, before) => current.or(before),
        })
    }

    /// Records `status` if its stage is not behind the stored one; returns whether it
    /// was written. Concurrent writers (a receipt racing the submit confirmation) are
    /// ordered by compare-and-swap on the key's revision, so a late "submitted" never
    /// hides a "final".
    pub async fn advance(&self, status: &MessageStatus) -> Result<bool, BusError> {
        let key = kv_key(&status.message_id);
        let bucket = self.store.of(&key);
        let stage = Stage::parse(&status.stage);
        let value = encode(status);
        // Nothing stands above a final status, so it needs no read: one write. Earlier
        // stages racing it compare revisions and see it (a second final, a carrier's
        // repeated receipt, replaces the first).
        if stage == Some(Stage::Final) {
            bucket
                .put(&key, value)
                .await
                .map_err(|e| kv_error(STATUS_BUCKET, "write", e))?;
            return Ok(true);
        }
        // An early stage is usually the message's first status: try to create it outright,
        // one round trip instead of a read and a write. Only if it exists already do the
        // read-compare-write below decide.
        if stage.is_some_and(|s| s <= Stage::Submitted) {
            match bucket.create(&key, value.clone()).await {
                Ok(_) => return Ok(true),
                Err(e) if e.kind() == kv::CreateErrorKind::AlreadyExists => {}
                Err(e) => return Err(kv_error(STATUS_BUCKET, "write", e)),
            }
        }
        for _ in 0..ADVANCE_ATTEMPTS {
            let current = bucket
                .entry(key.clone())
                .await
                .map_err(|source| kv_error(STATUS_BUCKET, "get", source))?;
            let written: Result<u64, (bool, NatsError)> =
                match current.filter(|e| e.operation == kv::Operation::Put) {
                    None => bucket.create(&key, value.clone()).await.map_err(|e| {
                        (
                            e.kind() == kv::CreateErrorKind::AlreadyExists,
                            Box::new(e) as _,
                        )
                    }),
                    Some(entry) => {
                        let stored: MessageStatus = decode(STATUS_BUCKET, &entry.value)?;
                        if stage < Stage::parse(&stored.stage) {
                            return Ok(false);
                        }
                        bucket
                            .update(&key, value.clone(), entry.revision)
                            .await
                            .map_err(|e| {
                                (
                                    e.kind() == kv::UpdateErrorKind::WrongLastRevision,
                                    Box::new(e) as _,
                                )
                            })
                    }
                };
            match written {
                Ok(_) => return Ok(true),
                Err((true, _lost_race)) => continue,
                Err((false, source)) => {
                    return Err(BusError::Kv {
                        bucket: STATUS_BUCKET,
                        action: "write",
                        source,
                    });
                }
            }
        }
        Err(BusError::Kv {
            bucket: STATUS_BUCKET,
            action: "advance",
            source: "too many concurrent writers".into(),
        })
    }

    /// The stored revisions of `message_id`, oldest first: its recent status history
    /// (while the partition count changes, the other layout's revisions first, since
    /// they were written before the change).
    pub async fn history(&self, message_id: &str) -> Result<Vec<MessageStatus>, BusError> {
        let key = kv_key(message_id);
        let mut history = Vec::new();
        if let Some(other) = self.store.other(&key) {
            history_in(other, &key, &mut history).await?;
        }
        history_in(self.store.of(&key), &key, &mut history).await?;
        Ok(history)
    }
}

/// `key`'s status in one partition.
async fn status_in(bucket: &Bucket, key: &str) -> Result<Option<MessageStatus>, BusError> {
    let value = bucket
        .get(key)
        .await
        .map_err(|source| kv_error(STATUS_BUCKET, "get", source))?;
    value.map(|bytes| decode(STATUS_BUCKET, &bytes)).transpose()
}

/// Appends `key`'s revisions in one partition, oldest first.
async fn history_in(
    bucket: &Bucket,
    key: &str,
    history: &mut Vec<MessageStatus>,
) -> Result<(), BusError> {
    use futures::StreamExt as _;
    let mut entries = bucket
        .history(key)
        .await
        .map_err(|source| kv_error(STATUS_BUCKET, "history", source))?;
    while let Some(entry) = entries.next().await {
        let entry = entry.map_err(|source| kv_error(STATUS_BUCKET, "history", source))?;
        if entry.operation == kv::Operation::Put {
            history.push(decode(STATUS_BUCKET, &entry.value)?);
        }
    }
    Ok(())
}

/// Carrier message id → Herald message, for matching receipts.
///
/// Backed by the `herald_carrier_ids` bucket, which any connector can read when a
/// receipt comes back on another bind or node. The mappings this process wrote recently
/// are also kept in memory (two bounded generations), so the usual case, a receipt on the
/// connector that submitted, is matched without a round trip to the server.
#[derive(Clone, Debug)]
pub struct CarrierIdMap {
    store: PartitionedBucket,
    recent: Arc<RecentMappings>,
}

impl CarrierIdMap {
    pub(crate) async fn open(
        jetstream: &jetstream::Context,
        partitions: Partitions,
    ) -> Result<Self, BusError> {
        let store = PartitionedBucket::open(jetstream, CARRIER_ID_BUCKET, partitions).await?;
        Ok(CarrierIdMap {
            store,
            recent: Arc::new(RecentMappings::new(RECENT_MAPPINGS)),
        })
    }

    /// Records that `carrier` knows the message as `carrier_message_id`: in memory, then in
    /// the bucket (done when this returns `Ok`).
    pub async fn insert(
        &self,
        carrier: &str,
        carrier_message_id: &str,
        mapping: &CarrierIdMapping,
    ) -> Result<(), BusError> {
        let key = key(carrier, carrier_message_id);
        // Memory first: a receipt that overtakes the bucket write on this connector is
        // matched at once, and still matched here if the bucket write fails.
        self.recent.insert(key.clone(), mapping.clone());
        self.store
            .of(&key)
            .put(&key, encode(mapping))
            .await
            .map_err(|source| kv_error(CARRIER_ID_BUCKET, "put", source))?;
        Ok(())
    }

    /// Records that `mapping`'s message is being sent to `carrier` again after an attempt
    /// whose outcome nobody recorded, under its destination `handset`: a receipt for that
    /// earlier attempt carries a carrier id Herald never learned, and is recognised as
    /// the message's by its handset ([`CarrierIdMap::resent_to`]). The latest resend to a
    /// handset wins; done when this returns `Ok`.
    pub async fn record_resend(
        &self,
        carrier: &str,
        handset: &str,
        mapping: &CarrierIdMapping,
    ) -> Result<(), BusError> {
        let key = resend_key(carrier, handset);
        self.store
            .of(&key)
            .put(&key, encode(mapping))
            .await
            .map_err(|source| kv_error(CARRIER_ID_BUCKET, "put", source))?;
        Ok(())
    }

    /// The latest message resent to `carrier` for `handset`
    /// ([`CarrierIdMap::record_resend`]), if any.
    pub async fn resent_to(
        &self,
        carrier: &str,
        handset: &str,
    ) -> Result<Option<CarrierIdMapping>, BusError> {
        self.stored(&resend_key(carrier, handset)).await
    }

    /// The mapping of `carrier_message_id` if this process recorded it lately: memory
    /// only, no bucket read.
    pub fn recent(&self, carrier: &str, carrier_message_id: &str) -> Option<CarrierIdMapping> {
        self.recent.get(&key(carrier, carrier_message_id))
    }

    /// The Herald message `carrier` calls `carrier_message_id`, if recorded and not
    /// expired.
    pub async fn get(
        &self,
        carrier: &str,
        carrier_message_id: &str,
    ) -> Result<Option<CarrierIdMapping>, BusError> {
        let key = key(carrier, carrier_message_id);
        if let Some(mapping) = self.recent.get(&key) {
            return Ok(Some(mapping));
        }
        self.stored(&key).await
    }

    /// `key`'s mapping in the bucket: its partition, then (while the partition count
    /// changes) its partition under the other layout.
    async fn stored(&self, key: &str) -> Result<Option<CarrierIdMapping>, BusError> {
        for bucket in std::iter::once(self.store.of(key)).chain(self.store.other(key)) {
            let value = bucket
                .get(key)
                .await
                .map_err(|source| kv_error(CARRIER_ID_BUCKET, "get", source))?;
            if let Some(bytes) = value {
                return decode(CARRIER_ID_BUCKET, &bytes).map(Some);
            }
        }
        Ok(None)
    }
}

/// How many mappings [`RecentMappings`] keeps (in two generations): at 20,000 messages a
/// second, receipts up to a few seconds late are matched from memory, in at most ~25 MB.
const RECENT_MAPPINGS: usize = 100_000;

/// Shards of [`RecentMappings`]: the sender and the binds' receipt tasks touch different
/// shards most of the time.
const RECENT_SHARDS: usize = 16;

/// The carrier-id mappings this process wrote lately, newest generation first.
///
/// Each shard holds two generations; when the current one is full it becomes the
/// previous and the old previous is dropped, so memory stays bounded with no per-entry
/// clock. A shard's lock is held for one hash-map operation, against the server round
/// trip a hit saves.
type RecentMappings = Recent<CarrierIdMapping>;

/// A bounded map of what this process handled lately: [`RecentMappings`], [`RecentIds`].
#[derive(Debug)]
struct Recent<V> {
    shards: Vec<std::sync::Mutex<Generations<V>>>,
    per_generation: usize,
}

#[derive(Debug)]
struct Generations<V> {
    current: HashMap<String, V>,
    previous: HashMap<String, V>,
}

impl<V> Default for Generations<V> {
    fn default() -> Self {
        Generations {
            current: HashMap::new(),
            previous: HashMap::new(),
        }
    }
}

impl<V: Clone> Recent<V> {
    fn new(capacity: usize) -> Self {
        Recent {
            shards: (0..RECENT_SHARDS).map(|_| Default::default()).collect(),
            per_generation: (capacity / RECENT_SHARDS / 2).max(1),
        }
    }

    fn shard(&self, key: &str) -> std::sync::MutexGuard<'_, Generations<V>> {
        let index = shard_index(key);
        // A poisoned shard only means a panic elsewhere mid-insert; the maps are still
        // valid maps.
        self.shards[index]
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn insert(&self, key: String, mapping: V) {
        let per_generation = self.per_generation;
        let retired = {
            let mut shard = self.shard(&key);
            let retired = if shard.current.len() >= per_generation {
                let current = std::mem::take(&mut shard.current);
                Some(std::mem::replace(&mut shard.previous, current))
            } else {
                None
            };
            shard.current.insert(key, mapping);
            retired
        };
        // The oldest generation is freed after the lock is released.
        drop(retired);
    }

    fn get(&self, key: &str) -> Option<V> {
        let shard = self.shard(key);
        shard
            .current
            .get(key)
            .or_else(|| shard.previous.get(key))
            .cloned()
    }
}

/// Ids this process handled within a time window, bounded like the carrier-id map's
/// memory (about the last `capacity`): for dropping a repeat that the bus's dedup window
/// no longer can, because it would land in another batch.
#[derive(Debug)]
pub struct RecentIds {
    recent: Recent<std::time::Instant>,
    window: std::time::Duration,
}

impl RecentIds {
    /// Remembers about the last `capacity` ids, each for `window` (the bus's duplicate
    /// window, so a repeat is dropped as long as an unbatched one would have been).
    pub fn new(capacity: usize, window: std::time::Duration) -> Self {
        RecentIds {
            recent: Recent::new(capacity),
            window,
        }
    }

    /// Remembers `id` from now.
    pub fn insert(&self, id: String) {
        self.recent.insert(id, std::time::Instant::now());
    }

    /// Whether `id` was inserted within the window.
    pub fn contains(&self, id: &str) -> bool {
        self.recent
            .get(id)
            .is_some_and(|at| at.elapsed() < self.window)
    }
}

/// A stable shard for `key` (FNV-1a over its bytes: cheap, and keys are not chosen by an
/// attacker who could gain from collisions; the maps themselves use the std hasher).
fn shard_index(key: &str) -> usize {
    crate::partition::fnv1a(key) as usize % RECENT_SHARDS
}

fn key(carrier: &str, carrier_message_id: &str) -> String {
    format!("{carrier}.{}", kv_key(carrier_message_id))
}

/// Three tokens where [`key`] makes two ([`kv_key`] never yields a dot), so a handset
/// never meets a carrier id.
fn resend_key(carrier: &str, handset: &str) -> String {
    format!("{carrier}.resent.{}", kv_key(handset))
}

pub(crate) fn kv_error(
    bucket: &'static str,
    action: &'static str,
    source: impl Into<NatsError>,
) -> BusError {
    BusError::Kv {
        bucket,
        action,
        source: source.into(),
    }
}

fn decode<M: prost::Message + Default>(bucket: &'static str, bytes: &[u8]) -> Result<M, BusError> {
    M::decode(bytes).map_err(|source| BusError::Decode {
        what: bucket,
        source,
    })
}

/// Cluster-wide counters of what was admitted per key and second: the shared half of a
/// rate limit enforced across nodes. Nodes take tokens in chunks ([`RateCounters::take`])
/// and spend them locally, so a counter sees one write per chunk, not per message.
#[derive(Clone, Debug)]
pub struct RateCounters {
    store: Bucket,
}

impl RateCounters {
    pub(crate) async fn open(jetstream: &jetstream::Context) -> Result<Self, BusError> {
        let store = Bucket::open(jetstream, QUOTA_BUCKET).await?;
        Ok(RateCounters { store })
    }

    /// Takes up to `want` tokens of `key`'s `limit` for second `second` (Unix time);
    /// returns how many were granted (0 once the second's limit is used up).
    pub async fn take(
        &self,
        key: &str,
        second: u64,
        want: u32,
        limit: u32,
    ) -> Result<u32, BusError> {
        let key = format!("{}.{second}", kv_key(key));
        for _ in 0..ADVANCE_ATTEMPTS * 4 {
            let current = self
                .store
                .entry(key.clone())
                .await
                .map_err(|source| kv_error(QUOTA_BUCKET, "get", source))?;
            let (used, revision) = match &current {
                Some(entry) if entry.operation == kv::Operation::Put => {
                    let used = std::str::from_utf8(&entry.value)
                        .ok()
                        .and_then(|text| text.parse::<u32>().ok())
                        .unwrap_or(limit);
                    (used, Some(entry.revision))
                }
                _ => (0, None),
            };
            let granted = want.min(limit.saturating_sub(used));
            if granted == 0 {
                return Ok(0);
            }
            let value = bytes::Bytes::from((used + granted).to_string());
            let written = match revision {
                None => self
                    .store
                    .create(&key, value)
                    .await
                    .map(|_| ())
                    .map_err(|e| {
                        (
                            e.kind() == kv::CreateErrorKind::AlreadyExists,
                            Box::new(e) as NatsError,
                        )
                    }),
                Some(revision) => self
                    .store
                    .update(&key, value, revision)
                    .await
                    .map(|_| ())
                    .map_err(|e| {
                        (
                            e.kind() == kv::UpdateErrorKind::WrongLastRevision,
                            Box::new(e) as NatsError,
                        )
                    }),
            };
            match written {
                Ok(()) => return Ok(granted),
                Err((true, _lost_race)) => continue,
                Err((false, source)) => {
                    return Err(BusError::Kv {
                        bucket: QUOTA_BUCKET,
                        action: "take",
                        source,
                    });
                }
            }
        }
        Err(BusError::Kv {
            bucket: QUOTA_BUCKET,
            action: "take",
            source: "too many concurrent takers".into(),
        })
    }
}

/// Cancel marks: `cancel_sm` writes one; whoever would hand the message on (the
/// connector, before submitting) checks it. Keyed by account and message id, so an
/// account can only cancel its own messages.
#[derive(Clone, Debug)]
pub struct CancelMarks {
    store: Bucket,
}

impl CancelMarks {
    pub(crate) async fn open(jetstream: &jetstream::Context) -> Result<Self, BusError> {
        let store = Bucket::open(jetstream, CANCEL_BUCKET).await?;
        Ok(CancelMarks { store })
    }

    /// Marks `account`'s message `message_id` cancelled.
    pub async fn mark(&self, account: &str, message_id: &str) -> Result<(), BusError> {
        let cancel = herald_proto::bus::v1::Amendment {
            cancel: true,
            ..Default::default()
        };
        self.amend(account, message_id, &cancel).await
    }

    /// Records a replacement (or a cancel) of `account`'s message `message_id`.
    pub async fn amend(
        &self,
        account: &str,
        message_id: &str,
        amendment: &herald_proto::bus::v1::Amendment,
    ) -> Result<(), BusError> {
        self.store
            .put(cancel_key(account, message_id), encode(amendment))
            .await
            .map_err(|source| kv_error(CANCEL_BUCKET, "put", source))?;
        Ok(())
    }

    /// Follows the bucket into a set that is checked without a lock or a round trip. Each
    /// change makes a new version of the set that shares all but the changed path with
    /// the old one (a persistent map: O(log n), not a copy of every mark), swapped in
    /// atomically; marks older than the bucket's max age are dropped as the bucket drops
    /// them (its watch does not say so). It holds every mark present when this returns;
    /// the task ends when the returned set is dropped, and starts over after a bus error.
    pub async fn follow(&self) -> Result<CancelledSet, BusError> {
        use futures::TryStreamExt as _;
        let keys: Vec<String> = self
            .store
            .keys()
            .await
            .map_err(|source| kv_error(CANCEL_BUCKET, "keys", source))?
            .try_collect()
            .await
            .map_err(|source| kv_error(CANCEL_BUCKET, "keys", source))?;
        let mut present = Amendments::new();
        for key in keys {
            if let Some(value) = self
                .store
                .get(key.clone())
                .await
                .map_err(|source| kv_error(CANCEL_BUCKET, "get", source))?
            {
                present.insert(key, decode_amendment(&value));
            }
        }
        let set = CancelledSet::default();
        set.inner.store(std::sync::Arc::new(present));
        let weak = std::sync::Arc::downgrade(&set.inner);
        let store = self.store.store().clone();
        let max_age = match store.status().await {
            Ok(status) if !status.max_age().is_zero() => status.max_age(),
            _ => std::time::Duration::from_secs(3 * 24 * 3600),
        };
        tokio::spawn(async move {
            use futures::StreamExt as _;
            let mut backoff = herald_backoff::Backoff::new(
                std::time::Duration::from_millis(200),
                std::time::Duration::from_secs(5),
            );
            loop {
                let mut known = Amendments::new();
                let mut written = Written::default();
                let mut watch = match store.watch_with_history(">").await {
                    Ok(watch) => watch,
                    Err(error) => {
                        let delay = backoff.next_delay();
                        tracing::warn!(%error, retry_in = ?delay, "cancel marks unavailable");
                        tokio::time::sleep(delay).await;
                        continue;
                    }
                };
                backoff.reset();
                while let Some(entry) = watch.next().await {
                    let Some(inner) = weak.upgrade() else { return };
                    let Ok(entry) = entry else { break };
                    let at = std::time::SystemTime::from(entry.created);
                    match entry.operation {
                        kv::Operation::Put => {
                            written.record(at, &entry.key);
                            known.insert(entry.key, decode_amendment(&entry.value));
                        }
                        kv::Operation::Delete | kv::Operation::Purge => {
                            known.remove(&entry.key);
                        }
                    }
                    written.forget_expired(&mut known, max_age);
                    // O(1): the new version shares the map's structure.
                    inner.store(std::sync::Arc::new(known.clone()));
                }
                if weak.strong_count() == 0 {
                    return;
                }
                // The watch ended (a reconnect): follow again, from the start.
                tokio::time::sleep(backoff.next_delay()).await;
            }
        });
        Ok(set)
    }
}

type Amendments = imbl::HashMap<String, herald_proto::bus::v1::Amendment>;

/// When each mark was last written, oldest first, to drop expired ones as the bucket does.
#[derive(Debug, Default)]
struct Written {
    order: std::collections::VecDeque<(std::time::SystemTime, String)>,
    last: std::collections::HashMap<String, std::time::SystemTime>,
}

impl Written {
    fn record(&mut self, at: std::time::SystemTime, key: &str) {
        self.order.push_back((at, key.to_owned()));
        self.last.insert(key.to_owned(), at);
    }

    /// Drops from `known` the marks last written longer than `max_age` ago.
    fn forget_expired(&mut self, known: &mut Amendments, max_age: std::time::Duration) {
        let Some(horizon) = std::time::SystemTime::now().checked_sub(max_age) else {
            return;
        };
        while self.order.front().is_some_and(|(at, _)| *at < horizon) {
            let Some((at, key)) = self.order.pop_front() else {
                break;
            };
            // Rewritten since: its newer write is further back in the queue.
            if self.last.get(&key) == Some(&at) {
                self.last.remove(&key);
                known.remove(&key);
            }
        }
    }
}

/// The cancelled and replaced messages, as last seen; cheap to clone and to check.
#[derive(Clone, Debug, Default)]
pub struct CancelledSet {
    inner: std::sync::Arc<arc_swap::ArcSwap<Amendments>>,
}

impl CancelledSet {
    /// Whether `account` cancelled `message_id`.
    pub fn contains(&self, account: &str, message_id: &str) -> bool {
        let all = self.inner.load();
        // The common case, no amendment anywhere, costs one atomic load.
        !all.is_empty()
            && all
                .get(&cancel_key(account, message_id))
                .is_some_and(|a| a.cancel)
    }

    /// The replacement `account` asked for `message_id`, if any.
    pub fn replacement(
        &self,
        account: &str,
        message_id: &str,
    ) -> Option<herald_proto::bus::v1::Amendment> {
        let all = self.inner.load();
        if all.is_empty() {
            return None;
        }
        all.get(&cancel_key(account, message_id))
            .filter(|a| !a.cancel)
            .cloned()
    }
}

/// An amendment's value; an empty or undecodable one (an older writer) is a cancel.
fn decode_amendment(value: &[u8]) -> herald_proto::bus::v1::Amendment {
    match herald_proto::bus::v1::Amendment::decode(value) {
        Ok(amendment) if value.is_empty() => herald_proto::bus::v1::Amendment {
            cancel: true,
            ..amendment
        },
        Ok(amendment) => amendment,
        Err(_) => herald_proto::bus::v1::Amendment {
            cancel: true,
            ..Default::default()
        },
    }
}

fn cancel_key(account: &str, message_id: &str) -> String {
    format!("{}.{}", kv_key(account), kv_key(message_id))
}

#[cfg(test)]
mod recent_mappings_tests {
    use super::*;

    fn mapping(id: &str) -> CarrierIdMapping {
        CarrierIdMapping {
            message_id: id.to_owned(),
            ..Default::default()
        }
    }

    #[test]
    fn cancel_marks_expire_as_the_bucket_drops_them_unless_rewritten() {
        let now = std::time::SystemTime::now();
        let hour = std::time::Duration::from_secs(3600);
        let mut known = Amendments::new();
        let mut written = Written::default();
        for (key, age) in [("old", 3), ("rewritten", 3), ("new", 0), ("rewritten", 0)] {
            written.record(now - hour * age, key);
            known.insert(key.to_owned(), Default::default());
        }
        written.forget_expired(&mut known, hour * 2);
        assert!(!known.contains_key("old"));
        assert!(known.contains_key("rewritten"), "its newer write is recent");
        assert!(known.contains_key("new"));
        assert_eq!(written.order.len(), 2);
    }

    #[test]
    fn a_handset_key_never_meets_a_carrier_id_key() {
        assert_ne!(resend_key("sim", "x"), key("sim", "resent.x"));
        assert_ne!(resend_key("sim", "x"), key("sim", "resent=2Ex"));
        assert_eq!(resend_key("sim", "+4477"), "sim.resent.=2B4477");
    }

    #[test]
    fn keeps_two_generations_and_forgets_older_ones() {
        // 16 shards × 2 generations × 1 entry: each shard holds its two newest keys.
        let recent = RecentMappings::new(2 * RECENT_SHARDS);
        let keys: Vec<String> = (0..2000).map(|i| format!("sim.{i}")).collect();
        for key in &keys {
            recent.insert(key.clone(), mapping(key));
        }
        let last = keys.last().unwrap();
        assert_eq!(recent.get(last).unwrap().message_id, *last);
        let remembered = keys.iter().filter(|k| recent.get(k).is_some()).count();
        assert!(
            remembered <= 2 * RECENT_SHARDS,
            "bounded: {remembered} remembered"
        );
        assert!(recent.get("sim.0").is_none(), "the oldest are forgotten");
        assert!(recent.get("other.1").is_none());
    }

    #[test]
    fn recent_ids_remember_the_latest_and_forget_the_oldest() {
        let ids = RecentIds::new(2 * RECENT_SHARDS, std::time::Duration::from_secs(120));
        assert!(!ids.contains("dlr:a:DELIVRD"));
        ids.insert("dlr:a:DELIVRD".into());
        assert!(ids.contains("dlr:a:DELIVRD"));
        assert!(
            !ids.contains("dlr:a:UNDELIV"),
            "another state is another receipt"
        );
        for i in 0..1000 {
            ids.insert(format!("dlr:{i}:DELIVRD"));
        }
        assert!(ids.contains("dlr:999:DELIVRD"));
        assert!(
            !ids.contains("dlr:a:DELIVRD"),
            "bounded: the oldest are forgotten"
        );
        let brief = RecentIds::new(100, std::time::Duration::ZERO);
        brief.insert("dlr:b:DELIVRD".into());
        assert!(!brief.contains("dlr:b:DELIVRD"), "past its window");
    }
}
