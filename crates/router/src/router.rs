//! [`Router`]: what a router process runs. It opens the consumers, starts the MT
//! pipelines (bulk, and one for the urgent lane), the MO pipeline, the carrier health watcher and the revision reporter, and
//! on shutdown stops pulling, finishes what it has in flight and returns.

use herald_backoff::Backoff;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::stream::FuturesUnordered;
use futures::{FutureExt as _, StreamExt as _};
use herald_bus::{Bus, BusError, ConsumerSpec, Delivery, OptOutStore, Publisher, StatusStore};
use herald_config::RouterConfig;
use herald_rules::model::UtcOffset;
use herald_rules::porting::PortingTable;
use herald_rules::routing::UnhealthyCarriers;
use herald_rules::{RulesClient, RulesStore};
use herald_telemetry::names;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::health::HealthView;
use crate::mt::NumberLookups;

/// How long a shutdown waits for in-flight messages before abandoning them to the ack
/// wait (they are redelivered to another router, never lost).
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// What the router needs from the rest of the node.
#[derive(Clone)]
pub struct RouterDeps {
    /// The bus, with its topology declared.
    pub bus: Bus,
    /// The rules it routes by.
    pub rules: RulesStore,
    /// This node's id (logs, consumer client name).
    pub node_id: String,
    /// Lets an opt-in keyword also take the number off the account's opt-out lists in
    /// etcd (opt-outs themselves are recorded in the bus's opt-out bucket). `None`: those
    /// lists are left alone.
    pub rules_writer: Option<RulesClient>,
}

impl std::fmt::Debug for RouterDeps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RouterDeps")
            .field("node_id", &self.node_id)
            .field("rules_writer", &self.rules_writer.is_some())
            .finish_non_exhaustive()
    }
}

/// Why the router could not start.
#[derive(Debug, thiserror::Error)]
pub enum RouterError {
    /// The bus refused a consumer, a bucket or a store.
    #[error("bus: {0}")]
    Bus(#[from] BusError),
}

/// What every pipeline shares.
pub(crate) struct Shared {
    pub(crate) config: RouterConfig,
    pub(crate) bus: Bus,
    pub(crate) rules: RulesStore,
    pub(crate) writer: Option<RulesClient>,
    pub(crate) publisher: Publisher,
    pub(crate) status: StatusStore,
    pub(crate) health: HealthView,
    pub(crate) node_id: String,
    pub(crate) default_time_zone: UtcOffset,
    /// `opt_out_keywords`, `opt_in_keywords` and `help_keywords`, upper-cased once.
    pub(crate) opt_out_keywords: Vec<String>,
    pub(crate) opt_in_keywords: Vec<String>,
    pub(crate) help_keywords: Vec<String>,
    /// The subscriber opt-out bucket.
    pub(crate) opt_out_store: OptOutStore,
    /// This router's copies of the opt-outs and the ported numbers.
    pub(crate) numbers: NumberLookups,
}

/// The router role.
#[derive(Clone)]
pub struct Router {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Router {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Router")
            .field("node_id", &self.shared.node_id)
            .finish_non_exhaustive()
    }
}

impl Router {
    /// Prepares a router: opens the status store. Nothing is consumed until
    /// [`Router::run`].
    pub async fn new(config: RouterConfig, deps: RouterDeps) -> Result<Router, RouterError> {
        let status = deps.bus.status_store().await?;
        // Every opt-out is in memory before the first MT is routed: a router that started
        // routing first could send to a number that opted out.
        let opt_out_store = deps.bus.opt_outs().await?;
        let opt_outs = opt_out_store.follow().await?;
        // The ported numbers too, when a snapshot is stored; one that does not decode is
        // logged and routing goes by prefix until a good one is stored.
        let porting = deps
            .bus
            .porting()
            .await?
            .follow(|bytes: &[u8]| PortingTable::decode(bytes))
            .await?;
        let default_time_zone =
            UtcOffset::from_minutes(config.default_timezone.minutes()).unwrap_or(UtcOffset::UTC);
        let upper = |words: &[String]| words.iter().map(|w| w.to_uppercase()).collect();
        Ok(Router {
            shared: Arc::new(Shared {
                publisher: deps.bus.publisher(),
                status,
                health: HealthView::new(config.unhealthy_error_rate),
                opt_out_keywords: upper(&config.opt_out_keywords),
                opt_in_keywords: upper(&config.opt_in_keywords),
                help_keywords: upper(&config.help_keywords),
                opt_out_store,
                numbers: NumberLookups {
                    opt_outs,
                    porting: Some(porting),
                },
                default_time_zone,
                config,
                bus: deps.bus,
                rules: deps.rules,
                writer: deps.rules_writer,
                node_id: deps.node_id,
            }),
        })
    }

    /// Routes MT and MO until `shutdown` completes, then stops pulling, finishes the
    /// messages in flight (for at most 30 s) and returns. Fails only if the consumers
    /// cannot be created at start; later bus trouble is retried.
    pub async fn run(&self, shutdown: impl Future<Output = ()>) -> Result<(), RouterError> {
        let config = &self.shared.config;
        // Declared here so that a bus that refuses them fails the start; the pipelines
        // declare them again whenever they restart their pull.
        let mt_spec = self.consumer_spec(ConsumerSpec::routers());
        let urgent_spec = self.consumer_spec(ConsumerSpec::urgent_routers());
        let mo_spec = self.consumer_spec(ConsumerSpec::mo_routers());
        // Bulk first: a stream from before the urgent lane has `routers` on every MT
        // subject, which would overlap the urgent consumer until narrowed.
        self.shared.bus.consumer(mt_spec.clone()).await?;
        self.shared.bus.consumer(urgent_spec.clone()).await?;
        self.shared.bus.consumer(mo_spec.clone()).await?;
        let (stop, stopping) = watch::channel(false);

        let mut background = JoinSet::new();
        background.spawn(crate::health::watch(
            self.shared.bus.clone(),
            self.shared.health.clone(),
        ));
        background.spawn(report_revision(self.shared.rules.clone()));

        let mut pipelines = JoinSet::new();
        for _ in 0..config.workers.max(1) {
            let shared = self.shared.clone();
            pipelines.spawn(consume(
                self.shared.bus.clone(),
                mt_spec.clone(),
                config.batch,
                config.in_flight,
                stopping.clone(),
                move |group| crate::mt::route(shared.clone(), group),
            ));
        }
        // The urgent lane has a pipeline of its own: an urgent message is pulled as soon
        // as it is published, however many bulk ones wait (ADR 0018).
        let shared = self.shared.clone();
        pipelines.spawn(consume(
            self.shared.bus.clone(),
            urgent_spec,
            config.batch,
            config.in_flight,
            stopping.clone(),
            move |group| crate::mt::route(shared.clone(), group),
        ));
        let shared = self.shared.clone();
        pipelines.spawn(consume(
            self.shared.bus.clone(),
            mo_spec,
            config.batch,
            config.in_flight,
            stopping,
            move |group: Vec<Delivery>| {
                let shared = shared.clone();
                futures::future::join_all(
                    group
                        .into_iter()
                        .map(move |delivery| crate::mo::route(shared.clone(), delivery)),
                )
                .map(drop)
            },
        ));
        tracing::info!(node = %self.shared.node_id, workers = config.workers, "router running");

        shutdown.await;
        let _ = stop.send(true);
        let drained = tokio::time::timeout(DRAIN_TIMEOUT, async {
            while pipelines.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tracing::warn!("router shutdown: in-flight messages left to the ack wait");
            pipelines.abort_all();
        }
        background.abort_all();
        Ok(())
    }

    /// The rules revision this router routes with.
    pub fn rules_revision(&self) -> u64 {
        self.shared.rules.revision()
    }

    /// The carriers currently considered unhealthy.
    pub fn unhealthy_carriers(&self) -> Arc<UnhealthyCarriers> {
        self.shared.health.current()
    }

    fn consumer_spec(&self, mut spec: ConsumerSpec) -> ConsumerSpec {
        spec.ack_wait = self.shared.config.ack_wait;
        spec.max_deliveries = self.shared.config.max_deliveries;
        spec
    }
}

/// Keeps [`names::RULES_REVISION`] at the revision being served.
async fn report_revision(rules: RulesStore) {
    let mut changes = rules.changes();
    loop {
        let revision = *changes.borrow_and_update();
        metrics::gauge!(names::RULES_REVISION).set(revision as f64);
        if changes.changed().await.is_err() {
            return;
        }
    }
}

/// Pulls from the consumer `spec` and runs `handle` on the deliveries of each bus message
/// (one, or a batch's members; [`herald_bus::Deliveries::next_group`]), up to `in_flight`
/// at once, until `stopping` turns true; then finishes what is in flight. Declares the
/// consumer and pulls again after bus trouble, with a doubling back-off.
pub(crate) async fn consume<F, Fut>(
    bus: Bus,
    spec: ConsumerSpec,
    batch: usize,
    in_flight: usize,
    mut stopping: watch::Receiver<bool>,
    handle: F,
) where
    F: Fn(Vec<Delivery>) -> Fut,
    Fut: Future<Output = ()>,
{
    let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(10));
    while !*stopping.borrow() {
        let pulled = match bus.consumer(spec.clone()).await {
            Ok(consumer) => consumer.messages(batch).await,
            Err(err) => Err(err),
        };
        let deliveries = match pulled {
            Ok(deliveries) => deliveries,
            Err(err) => {
                let delay = backoff.next_delay();
                tracing::warn!(consumer = %spec.durable, error = %err, retry_in = ?delay,
                    "cannot pull; retrying");
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    _ = stopping.changed() => {}
                }
                continue;
            }
        };
        backoff.reset();
        if pump(deliveries, in_flight.max(1), &mut stopping, &handle).await {
            return;
        }
    }
}

/// One pull subscription's loop; true when it stopped because of `stopping`.
async fn pump<F, Fut>(
    mut deliveries: herald_bus::Deliveries,
    max_in_flight: usize,
    stopping: &mut watch::Receiver<bool>,
    handle: &F,
) -> bool
where
    F: Fn(Vec<Delivery>) -> Fut,
    Fut: Future<Output = ()>,
{
    let mut in_flight = FuturesUnordered::new();
    let stopped = loop {
        tokio::select! {
            biased;
            changed = stopping.changed() => {
                if changed.is_err() || *stopping.borrow() {
                    break true;
                }
            }
            Some(()) = in_flight.next(), if !in_flight.is_empty() => {}
            next = deliveries.next_group(), if in_flight.len() < max_in_flight => match next {
                Some(Ok(delivery)) => in_flight.push(handle(delivery)),
                Some(Err(err)) => tracing::debug!(error = %err, "pull interrupted"),
                None => break false,
            },
        }
    };
    while in_flight.next().await.is_some() {}
    stopped
}
