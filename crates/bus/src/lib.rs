//! Herald's message bus on NATS JetStream.
//!
//! Every role talks to the others through the streams declared here: the edge publishes
//! accepted messages to `HERALD_MT`, routers move them to a carrier's queue in
//! `HERALD_OUT`, connectors publish receipts and MO to `HERALD_EVENTS` and `HERALD_MO`, and
//! anything that cannot be processed ends in `HERALD_DLQ`. Two KV buckets hold the status
//! of each message and the carrier-id → Herald-id map.
//!
//! - [`config`]: [`BusConfig`], where NATS is and how to size the streams; TLS to it.
//! - [`auth`]: [`NatsAuth`], the client's credentials, each read from a file or variable.
//! - [`topology`]: stream, consumer and bucket definitions, created or updated at start,
//!   never deleted.
//! - [`subject`]: subject names and KV key encoding.
//! - [`publish`]: pipelined publishing with the message id as the dedup id.
//! - [`batch`]: several messages in one JetStream message, formed by the caller or by a
//!   [`CoalescingPublisher`] under load, handed out member by member.
//! - [`consume`]: durable pull consumers; ack, retry with backoff, in-progress, dead letters.
//! - [`kv`]: the status store and the carrier-id map.
//! - [`partition`]: how those two are split over several buckets by key hash.
//! - [`idempotency`]: the HTTP API's requests by their client's idempotency key.
//! - [`stats`]: publish and consume counters, and stream and consumer depths.
//!
//! [`Bus::connect`] is the entry point: it connects, declares the topology and hands out
//! publishers, consumers and stores.
#![forbid(unsafe_code)]

pub mod auth;
pub mod batch;
mod bucket;
pub mod config;
pub mod consume;
pub mod dead_letters;
pub mod error;
pub mod idempotency;
pub mod kv;
pub mod lifecycle;
pub mod lockouts;
pub mod opt_outs;
pub mod partition;
pub mod porting;
pub mod publish;
pub mod stats;
pub mod subject;
pub mod topology;

use async_nats::jetstream;

pub use auth::{NatsAuth, SecretRef};
pub use batch::{BatchLimits, CoalescingPublisher};
pub use config::{BusConfig, ClientCertificate, NatsTls};
pub use consume::{ConsumerSpec, Deliveries, Delivery, WorkConsumer};
pub use dead_letters::{DeadLetter, DeadLetters};
pub use error::BusError;
pub use idempotency::{Claim, IdempotencyKeys};
pub use kv::{CancelMarks, CancelledSet, CarrierIdMap, RateCounters, RecentIds, StatusStore};
pub use lockouts::{AuthFailures, FailureRecord, LockoutKey};
pub use opt_outs::{OptOutEntry, OptOutScope, OptOutSet, OptOutStore};
pub use partition::Partitions;
pub use porting::{FollowedSnapshot, PortingStore, SnapshotInfo};
pub use publish::{Acked, Outgoing, PendingAck, Publisher};
pub use stats::{DepthPoller, Depths};
pub use topology::{StreamKind, Topology};

/// A connection to the bus with its topology declared.
#[derive(Clone, Debug)]
pub struct Bus {
    client: async_nats::Client,
    jetstream: jetstream::Context,
    config: BusConfig,
}

impl Bus {
    /// Connects to NATS, then creates or updates every stream and bucket Herald uses.
    ///
    /// Fails with [`BusError::Secret`] when a credential cannot be read,
    /// [`BusError::Refused`] when NATS refuses the credentials, [`BusError::Connect`] when
    /// no server answers within the connect timeout (or TLS fails), and with
    /// [`BusError::Topology`] when a stream cannot be declared (for example a retention
    /// policy that differs from an existing stream's, which JetStream cannot change in
    /// place, or a user not allowed to).
    pub async fn connect(config: BusConfig) -> Result<Self, BusError> {
        let client = config
            .connect_options()?
            // The list, not a joined string: async-nats reads a string as one address.
            .connect(config.urls.as_slice())
            .await
            .map_err(|source| {
                let urls = config.urls.join(",");
                match source.kind() {
                    async_nats::ConnectErrorKind::AuthorizationViolation
                    | async_nats::ConnectErrorKind::Authentication => BusError::Refused {
                        urls,
                        auth: config.auth.kind(),
                        source: Box::new(source),
                    },
                    _ => BusError::Connect {
                        urls,
                        source: Box::new(source),
                    },
                }
            })?;
        let jetstream = jetstream::ContextBuilder::new()
            .timeout(config.request_timeout)
            .max_ack_inflight(config.max_inflight_publishes)
            .backpressure_on_inflight(false)
            .build(client.clone());
        let bus = Bus {
            client,
            jetstream,
            config,
        };
        bus.topology().ensure(&bus.jetstream).await?;
        Ok(bus)
    }

    /// The declared topology: stream, consumer and bucket settings from the config.
    pub fn topology(&self) -> Topology {
        Topology::new(&self.config)
    }

    /// A publisher sharing this connection; cheap to clone.
    pub fn publisher(&self) -> Publisher {
        Publisher::new(
            self.jetstream.clone(),
            self.config.request_timeout,
            self.config.publish_hold,
            self.config.partitions,
        )
    }

    /// A publisher that batches what is published to one subject while an earlier
    /// publish to it awaits its ack ([`batch`]); cheap to clone.
    pub fn coalescing_publisher(&self, limits: BatchLimits) -> CoalescingPublisher {
        if self.config.batching {
            CoalescingPublisher::new(self.publisher(), limits)
        } else {
            CoalescingPublisher::unbatched(self.publisher())
        }
    }

    /// How long a message id is remembered to drop a republished copy.
    pub fn duplicate_window(&self) -> std::time::Duration {
        self.config.duplicate_window
    }

    /// Whether publishers may batch (`nats.batching`).
    pub fn batching(&self) -> bool {
        self.config.batching
    }

    /// Creates or updates the durable consumer `spec` and returns a handle to pull from it.
    pub async fn consumer(&self, spec: ConsumerSpec) -> Result<WorkConsumer, BusError> {
        WorkConsumer::create(
            &self.jetstream,
            self.publisher(),
            spec,
            self.config.partitions,
        )
        .await
    }

    /// The message status store.
    pub async fn status_store(&self) -> Result<StatusStore, BusError> {
        StatusStore::open(&self.jetstream, self.config.partitions).await
    }

    /// The carrier-id map.
    pub async fn carrier_id_map(&self) -> Result<CarrierIdMap, BusError> {
        CarrierIdMap::open(&self.jetstream, self.config.partitions).await
    }

    /// The cancel marks.
    pub async fn cancel_marks(&self) -> Result<CancelMarks, BusError> {
        CancelMarks::open(&self.jetstream).await
    }

    /// The HTTP API's idempotency keys.
    pub async fn idempotency_keys(&self) -> Result<IdempotencyKeys, BusError> {
        IdempotencyKeys::open(&self.jetstream).await
    }

    /// The failed authentications the edges count together.
    pub async fn auth_failures(&self) -> Result<AuthFailures, BusError> {
        AuthFailures::open(&self.jetstream).await
    }

    /// The subscriber opt-outs.
    pub async fn opt_outs(&self) -> Result<OptOutStore, BusError> {
        OptOutStore::open(&self.jetstream).await
    }

    /// The dead-letter stream, for listing and replaying.
    pub async fn dead_letters(&self) -> Result<DeadLetters, BusError> {
        DeadLetters::open(&self.jetstream, self.client.clone()).await
    }

    /// The ported-numbers snapshot store.
    pub async fn porting(&self) -> Result<PortingStore, BusError> {
        PortingStore::open(&self.jetstream).await
    }

    /// The cluster-wide rate counters.
    pub async fn rate_counters(&self) -> Result<RateCounters, BusError> {
        RateCounters::open(&self.jetstream).await
    }

    /// The settings it connected with.
    pub fn config(&self) -> &BusConfig {
        &self.config
    }

    /// The underlying JetStream context, for tools and tests.
    pub fn jetstream(&self) -> &jetstream::Context {
        &self.jetstream
    }

    /// The underlying NATS client.
    pub fn client(&self) -> &async_nats::Client {
        &self.client
    }

    /// True while the client holds a connection to a server.
    pub fn is_connected(&self) -> bool {
        self.client.connection_state() == async_nats::connection::State::Connected
    }

    /// Copies the NATS client's own counts of messages sent and received into
    /// `herald_bus_client_messages_total{op}`: called on an interval (the node does so every
    /// second), since the client counts them itself and per message nothing more is paid.
    pub fn record_client_statistics(&self) {
        use std::sync::atomic::Ordering::Relaxed;
        let statistics = self.client.statistics();
        let count = |op: &'static str| metrics::counter!(herald_telemetry::names::BUS_CLIENT_MESSAGES_TOTAL, herald_telemetry::names::labels::OP => op);
        count("out").absolute(statistics.out_messages.load(Relaxed));
        count("in").absolute(statistics.in_messages.load(Relaxed));
    }

    /// Flushes what the client buffered and waits for the server to have it.
    pub async fn flush(&self) -> Result<(), BusError> {
        self.client
            .flush()
            .await
            .map_err(|source| BusError::Nats(Box::new(source)))
    }
}
