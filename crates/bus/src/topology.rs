//! The streams, and the buckets, Herald declares at start.
//!
//! `HERALD_MT`, `HERALD_OUT` and `HERALD_EVENTS` are each split over `nats.partitions`
//! streams by account or carrier (`HERALD_MT_P1`, ... with subjects `herald.mt-p1.>`, ...:
//! [`crate::partition`], ADR 0022); the table names the first.
//!
//! | stream | subjects | retention | consumers |
//! | --- | --- | --- | --- |
//! | `HERALD_MT` | `herald.mt.<account>[.urgent]` | work queue | `routers` (bulk) and `routers-urgent`, shared by every router |
//! | `HERALD_OUT` | `herald.out.<carrier>[.urgent]` | work queue | `carrier-<id>` (bulk) and `carrier-<id>-urgent`, per carrier |
//! | `HERALD_EVENTS` | `herald.ev.<account>.{dlr,mo}` | limits, max age | `account-<id>`, one per account |
//! | `HERALD_MO` | `herald.mo.<carrier>` | work queue | `routers` |
//! | `HERALD_DLQ` | `herald.dlq.>` | limits, max age | read by operators |
//!
//! Buckets: `herald_status` (message status by id), `herald_carrier_ids` (carrier message
//! id → Herald id), each split over `nats.partitions` buckets by key hash
//! (`herald_status`, `herald_status_p1`, ...: [`crate::partition`]), `herald_quota` (cluster-wide rate counters, in memory),
//! `herald_lockouts` (failed authentications the edges count together, in memory),
//! `herald_cancels` (messages cancelled before they reached a carrier), `herald_opt_outs`
//! (subscriber opt-outs); the object store `herald_porting` (the ported-numbers snapshot).
//!
//! The urgent lane (`.urgent` subjects, ADR 0018) has consumers of its own, so urgent
//! messages never wait behind a bulk backlog; the bulk consumers' filters name one token
//! less, so the two never overlap (a work queue forbids overlapping consumers).
//!
//! Events use limits retention rather than work queue or interest: an account that has
//! never bound has no consumer yet, and its receipts must wait for it rather than vanish.
//!
//! Declaring is create-or-update and never deletes: a node that starts with the same
//! config changes nothing, and none of these calls purges a stream.

use std::time::Duration;

use async_nats::jetstream::{self, kv, stream};

use crate::config::BusConfig;
use crate::error::BusError;
use crate::{partition, subject};

/// The streams Herald uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StreamKind {
    /// Accepted MT, waiting for a router.
    Mt,
    /// Routed MT, waiting for a carrier's connector.
    Out,
    /// Receipts and MO, waiting for an account's sessions.
    Events,
    /// MO from carriers, waiting for MO routing.
    Mo,
    /// Messages no consumer could process.
    DeadLetters,
}

impl StreamKind {
    /// Every stream, in declaration order.
    pub const ALL: [StreamKind; 5] = [
        StreamKind::Mt,
        StreamKind::Out,
        StreamKind::Events,
        StreamKind::Mo,
        StreamKind::DeadLetters,
    ];

    /// The JetStream stream name.
    pub const fn name(self) -> &'static str {
        match self {
            StreamKind::Mt => "HERALD_MT",
            StreamKind::Out => "HERALD_OUT",
            StreamKind::Events => "HERALD_EVENTS",
            StreamKind::Mo => "HERALD_MO",
            StreamKind::DeadLetters => "HERALD_DLQ",
        }
    }

    /// Whether it is split over `nats.partitions` streams by account or carrier (ADR 0022).
    pub const fn partitioned(self) -> bool {
        matches!(self, StreamKind::Mt | StreamKind::Out | StreamKind::Events)
    }

    /// The name of its partition `index`: [`StreamKind::name`] for the first,
    /// `<name>_P<index>` for the others.
    pub fn partition_name(self, index: usize) -> std::borrow::Cow<'static, str> {
        if index == 0 {
            std::borrow::Cow::Borrowed(self.name())
        } else {
            std::borrow::Cow::Owned(format!("{}_P{index}", self.name()))
        }
    }

    /// The subjects it captures.
    pub const fn subjects(self) -> &'static str {
        match self {
            StreamKind::Mt => subject::MT_ALL,
            StreamKind::Out => subject::OUT_ALL,
            StreamKind::Events => subject::EVENTS_ALL,
            StreamKind::Mo => subject::MO_ALL,
            StreamKind::DeadLetters => subject::DLQ_ALL,
        }
    }
}

/// The message status bucket (`query_sm`, message lookup).
pub const STATUS_BUCKET: &str = "herald_status";
/// The carrier message id → Herald id bucket.
pub const CARRIER_ID_BUCKET: &str = "herald_carrier_ids";
/// Messages their ESME cancelled (`cancel_sm`) before they reached a carrier.
pub const CANCEL_BUCKET: &str = "herald_cancels";
/// The most the cancel-mark bucket holds: with a replacement at most a `short_message`
/// long, some 200,000 marks. Full, it refuses new marks (`cancel_sm` and `replace_sm`
/// then fail) rather than grow.
pub const CANCEL_MAX_BYTES: i64 = 64 * 1024 * 1024;
/// Requests remembered by their client's idempotency key (the HTTP API).
pub const IDEMPOTENCY_BUCKET: &str = "herald_idempotency";
/// The cluster-wide rate counters (one key per account and second).
pub const QUOTA_BUCKET: &str = "herald_quota";
/// How long a rate counter lives: long past its second, short enough to stay small.
pub const QUOTA_TTL: Duration = Duration::from_secs(30);
/// Carrier health, one key per carrier and connector (`<carrier>.<node>`, the node id
/// escaped with [`crate::subject::kv_key`]), value a protobuf `CarrierHealth`: written by
/// connectors, read by routers.
pub const CARRIER_HEALTH_BUCKET: &str = "herald_carrier_health";
/// Failed authentications by `system_id` and address, shared by the edges' lockouts.
pub const LOCKOUT_BUCKET: &str = "herald_lockouts";
/// How long a failure record lives after its last write: a key an hour without a failure
/// starts afresh (and no lockout lasts longer).
pub const LOCKOUT_TTL: Duration = Duration::from_secs(3600);
/// The most the lockout bucket holds: some 200,000 keys. Full, it refuses writes (an
/// update too) until records age out, and each edge counts on its own meanwhile; the
/// lockouts already in it still hold.
pub const LOCKOUT_MAX_BYTES: i64 = 32 * 1024 * 1024;
/// Subscriber opt-outs, one key per account, scope and number ([`crate::opt_outs`]).
pub const OPT_OUT_BUCKET: &str = "herald_opt_outs";
/// Revisions kept per opt-out key: the audit trail of who opted the number out or in.
pub const OPT_OUT_HISTORY: i64 = 16;
/// The most the opt-out bucket holds: some 25 million changes (about 170 bytes each on
/// disk). Full, it refuses new opt-outs: the keyword's MO is retried rather than delivered
/// without its opt-out (`herald_router_mo_total{status="error"}`), and operators' changes
/// fail; the opt-outs already in it still hold.
pub const OPT_OUT_MAX_BYTES: i64 = 4 * 1024 * 1024 * 1024;
/// The ported-numbers snapshot, one object ([`crate::porting`]).
pub const PORTING_BUCKET: &str = "herald_porting";
/// The most the porting store holds: two snapshots of 100 million numbers (a new one is
/// written in full before the old one's chunks are purged).
pub const PORTING_MAX_BYTES: i64 = 4 * 1024 * 1024 * 1024;
/// Revisions kept per status key: the message's recent status history.
pub const STATUS_HISTORY: i64 = 8;

/// Stream and bucket configurations derived from a [`BusConfig`].
#[derive(Clone, Debug)]
pub struct Topology {
    replicas: usize,
    partitions: crate::Partitions,
    duplicate_window: Duration,
    events_max_age: Duration,
    dead_letter_max_age: Duration,
    status_ttl: Duration,
    id_map_ttl: Duration,
    idempotency_ttl: Duration,
}

impl Topology {
    /// The topology for `config`.
    pub fn new(config: &BusConfig) -> Self {
        Topology {
            replicas: config.replicas.max(1),
            partitions: config.partitions,
            duplicate_window: config.duplicate_window,
            events_max_age: config.events_max_age,
            dead_letter_max_age: config.dead_letter_max_age,
            status_ttl: config.status_ttl,
            id_map_ttl: config.id_map_ttl,
            idempotency_ttl: config.idempotency_ttl,
        }
    }

    /// The JetStream configuration of `kind` (its first partition).
    pub fn stream(&self, kind: StreamKind) -> stream::Config {
        self.stream_partition(kind, 0)
    }

    /// The JetStream configuration of partition `index` of `kind`: its name and subjects
    /// marked for the partition ([`StreamKind::partition_name`],
    /// [`crate::subject::in_partition`]), the rest as the first's.
    pub fn stream_partition(&self, kind: StreamKind, index: usize) -> stream::Config {
        let (retention, max_age) = match kind {
            StreamKind::Mt | StreamKind::Out | StreamKind::Mo => {
                (stream::RetentionPolicy::WorkQueue, Duration::ZERO)
            }
            StreamKind::Events => (stream::RetentionPolicy::Limits, self.events_max_age),
            StreamKind::DeadLetters => (stream::RetentionPolicy::Limits, self.dead_letter_max_age),
        };
        stream::Config {
            name: kind.partition_name(index).into_owned(),
            subjects: vec![subject::in_partition(kind.subjects(), index).into_owned()],
            retention,
            max_age,
            storage: stream::StorageType::File,
            num_replicas: self.replicas,
            duplicate_window: self.duplicate_window,
            // Publishers must hear "full" rather than have old messages dropped.
            discard: stream::DiscardPolicy::New,
            // A stream is Herald's record of what it accepted: nobody deletes single
            // messages out from under the consumers.
            deny_delete: true,
            allow_direct: true,
            ..Default::default()
        }
    }

    /// How many partitions of `kind` are declared: every one either layout uses for a
    /// partitioned stream, else one.
    pub fn stream_partitions(&self, kind: StreamKind) -> usize {
        if kind.partitioned() {
            usize::from(self.partitions.declared())
        } else {
            1
        }
    }

    /// The KV configuration of the status bucket (its first partition).
    pub fn status_bucket(&self) -> kv::Config {
        self.status_partition(0)
    }

    /// The KV configuration of partition `index` of the status bucket.
    pub fn status_partition(&self, index: usize) -> kv::Config {
        kv::Config {
            bucket: partition::bucket_name(STATUS_BUCKET, index),
            description: "Herald message status by message id".to_owned(),
            history: STATUS_HISTORY,
            max_age: self.status_ttl,
            storage: stream::StorageType::File,
            num_replicas: self.replicas,
            ..Default::default()
        }
    }

    /// The KV configuration of the carrier-id bucket (its first partition).
    pub fn carrier_id_bucket(&self) -> kv::Config {
        self.carrier_id_partition(0)
    }

    /// The KV configuration of partition `index` of the carrier-id bucket.
    pub fn carrier_id_partition(&self, index: usize) -> kv::Config {
        kv::Config {
            bucket: partition::bucket_name(CARRIER_ID_BUCKET, index),
            description: "Herald message id by carrier and carrier message id".to_owned(),
            history: 1,
            max_age: self.id_map_ttl,
            storage: stream::StorageType::File,
            num_replicas: self.replicas,
            ..Default::default()
        }
    }

    /// The KV configuration of the rate-counter bucket: in memory, since a counter lost
    /// with a server restart only forgives one second of traffic.
    pub fn quota_bucket(&self) -> kv::Config {
        kv::Config {
            bucket: QUOTA_BUCKET.to_owned(),
            description: "Herald rate counters by account and second".to_owned(),
            history: 1,
            max_age: QUOTA_TTL,
            storage: stream::StorageType::Memory,
            num_replicas: self.replicas,
            ..Default::default()
        }
    }

    /// The KV configuration of the lockout bucket: in memory, since a record lost with a
    /// server restart only forgives an attacker some failures (each edge keeps its own
    /// lockouts too).
    pub fn lockout_bucket(&self) -> kv::Config {
        kv::Config {
            bucket: LOCKOUT_BUCKET.to_owned(),
            description: "Herald failed authentications by system_id and address".to_owned(),
            history: 1,
            max_age: LOCKOUT_TTL,
            max_bytes: LOCKOUT_MAX_BYTES,
            storage: stream::StorageType::Memory,
            num_replicas: self.replicas,
            ..Default::default()
        }
    }

    /// The KV configuration of the cancel-mark bucket: kept as long as statuses, at most
    /// [`CANCEL_MAX_BYTES`].
    pub fn cancel_bucket(&self) -> kv::Config {
        kv::Config {
            bucket: CANCEL_BUCKET.to_owned(),
            description: "Herald messages cancelled by their ESME, by account and id".to_owned(),
            history: 1,
            max_age: self.status_ttl,
            max_bytes: CANCEL_MAX_BYTES,
            storage: stream::StorageType::File,
            num_replicas: self.replicas,
            ..Default::default()
        }
    }

    /// The KV configuration of the opt-out bucket: on disk and replicated, kept forever
    /// (an opt-out lasts until the subscriber or an operator lifts it), with the last
    /// [`OPT_OUT_HISTORY`] changes of each number as its audit trail.
    pub fn opt_out_bucket(&self) -> kv::Config {
        kv::Config {
            bucket: OPT_OUT_BUCKET.to_owned(),
            description: "Herald subscriber opt-outs by account, scope and number".to_owned(),
            history: OPT_OUT_HISTORY,
            max_bytes: OPT_OUT_MAX_BYTES,
            storage: stream::StorageType::File,
            num_replicas: self.replicas,
            ..Default::default()
        }
    }

    /// The KV configuration of the idempotency-key bucket: on disk and replicated, since
    /// a forgotten key lets a retry send its messages twice.
    pub fn idempotency_bucket(&self) -> kv::Config {
        kv::Config {
            bucket: IDEMPOTENCY_BUCKET.to_owned(),
            description: "Herald HTTP requests by account and idempotency key".to_owned(),
            history: 1,
            max_age: self.idempotency_ttl,
            storage: stream::StorageType::File,
            num_replicas: self.replicas,
            ..Default::default()
        }
    }

    /// The object-store configuration of the ported-numbers store: on disk, replicated.
    pub fn porting_store(&self) -> jetstream::object_store::Config {
        jetstream::object_store::Config {
            bucket: PORTING_BUCKET.to_owned(),
            description: Some("Herald ported numbers (number portability)".to_owned()),
            max_bytes: PORTING_MAX_BYTES,
            storage: stream::StorageType::File,
            num_replicas: self.replicas,
            ..Default::default()
        }
    }

    /// Creates what is missing and updates what differs. Never deletes a stream, a
    /// consumer or a message.
    pub async fn ensure(&self, jetstream: &jetstream::Context) -> Result<(), BusError> {
        for kind in StreamKind::ALL {
            for index in 0..self.stream_partitions(kind) {
                let config = self.stream_partition(kind, index);
                let what = format!("stream {}", config.name);
                jetstream
                    .create_or_update_stream(config)
                    .await
                    .map_err(|source| BusError::Topology {
                        what,
                        source: Box::new(source),
                    })?;
            }
        }
        let partitions = 0..usize::from(self.partitions.declared());
        let partitioned = partitions
            .clone()
            .map(|index| self.status_partition(index))
            .chain(partitions.map(|index| self.carrier_id_partition(index)));
        for bucket in partitioned.chain([
            self.quota_bucket(),
            self.lockout_bucket(),
            self.cancel_bucket(),
            self.idempotency_bucket(),
            self.opt_out_bucket(),
        ]) {
            let name = bucket.bucket.clone();
            jetstream
                .create_or_update_key_value(bucket)
                .await
                .map_err(|source| BusError::Topology {
                    what: format!("KV bucket {name}"),
                    source: Box::new(source),
                })?;
        }
        // An object store has no create-or-update: it is created once, as configured.
        if jetstream.get_object_store(PORTING_BUCKET).await.is_err() {
            jetstream
                .create_object_store(self.porting_store())
                .await
                .map_err(|source| BusError::Topology {
                    what: format!("object store {PORTING_BUCKET}"),
                    source: Box::new(source),
                })?;
        }
        Ok(())
    }
}
