//! [`Connector`]: the role's entry point, and the supervisor that keeps this connector's
//! share of every carrier's bind slots, a bind task per slot and a sending task per
//! carrier.
//!
//! The supervisor reconciles on every etcd change under `binds/` and `nodes/connector/`,
//! on every rules change, and every `rebalance_interval`: carriers removed or disabled are
//! given up; for the others it takes free slots up to the fair share
//! ([`crate::slots::target_slots`]) and gives up any beyond it (or beyond the carrier's
//! limit). A carrier whose settings changed gets fresh binds on the same slots.
//!
//! Giving a slot up goes: the bind withdraws from the sender, finishes in-flight work and
//! unbinds; only then is the key deleted. Giving a whole carrier up stops its sender
//! first (no new pulls, in-flight answers awaited), then its binds. The drain at
//! shutdown gives everything up that way and revokes the lease.
//!
//! Every task is owned here and aborted when the connector is dropped (a test's "crash"):
//! its slots then stay taken until its lease runs out, exactly as after a `SIGKILL`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use herald_bus::{BatchLimits, Bus, CarrierIdMap, CoalescingPublisher, Publisher, StatusStore};
use herald_config::ConnectorConfig;
use herald_rules::model::CarrierBindMode;
use herald_rules::{Carrier, RulesClient, RulesStore};
use herald_smpp::session::BindMode;
use herald_telemetry::names;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::bind::{BindEvent, BindTask};
use crate::error::ConnectorError;
use crate::health::{self, BindInfo, BindStatus, CarrierStats, Registry};
use crate::inbound::MoIds;
use crate::sender::{CarrierPlan, CarrierSender};
use crate::slots::{LeaseState, SlotStore, keep_lease, target_slots};

/// What the connector needs from the rest of the node.
#[derive(Clone)]
pub struct ConnectorDeps {
    /// The bus, with its topology declared.
    pub bus: Bus,
    /// The rules store (carriers).
    pub rules: RulesStore,
    /// The etcd client of the rules, for the bind-slot leases.
    pub rules_client: RulesClient,
    /// This node's id: the value of the slot keys it holds, and its name in the health
    /// view. Must be the id it registers under `nodes/connector/`.
    pub node_id: String,
}

impl std::fmt::Debug for ConnectorDeps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectorDeps")
            .field("node_id", &self.node_id)
            .finish_non_exhaustive()
    }
}

/// Receipt dedup ids a connector remembers: at 20,000 receipts a second, repeats a few
/// seconds apart (a carrier resending after a slow `deliver_sm_resp`).
const RECENT_RECEIPTS: usize = 100_000;

/// What the connector's tasks share.
pub(crate) struct Shared {
    pub(crate) config: ConnectorConfig,
    pub(crate) bus: Bus,
    pub(crate) publisher: Publisher,
    /// Carrier receipts and MO go out through it: batched per account (receipts) or
    /// carrier (MO) while an ack is in flight.
    pub(crate) events: CoalescingPublisher,
    pub(crate) id_map: CarrierIdMap,
    pub(crate) status: StatusStore,
    pub(crate) rules: RulesStore,
    pub(crate) node_id: String,
    pub(crate) registry: Arc<Registry>,
    pub(crate) mo_ids: MoIds,
    /// Receipts this connector published lately (their dedup ids): a carrier's repeat is
    /// answered without publishing it again, since in a batch the bus would not drop it.
    pub(crate) published_receipts: herald_bus::RecentIds,
    /// Messages their ESME cancelled; checked before a message is sent.
    pub(crate) cancelled: herald_bus::CancelledSet,
}

/// The connector role.
pub struct Connector {
    shared: Arc<Shared>,
    slots: SlotStore,
    etcd: etcd_client::Client,
    health: async_nats::jetstream::kv::Store,
    drain: watch::Sender<bool>,
}

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connector")
            .field("node_id", &self.shared.node_id)
            .finish_non_exhaustive()
    }
}

impl Connector {
    /// Prepares a connector: opens the id map, the status store and the health bucket.
    pub async fn new(config: ConnectorConfig, deps: ConnectorDeps) -> Result<Self, ConnectorError> {
        let id_map = deps.bus.carrier_id_map().await?;
        let cancelled = deps.bus.cancel_marks().await?.follow().await?;
        let status = deps.bus.status_store().await?;
        let health = health::open_bucket(deps.bus.jetstream(), config.health_interval).await?;
        let etcd = deps.rules_client.etcd_client();
        let slots = SlotStore::new(etcd.clone(), deps.rules_client.prefix(), &deps.node_id);
        let (drain, _) = watch::channel(false);
        Ok(Connector {
            shared: Arc::new(Shared {
                publisher: deps.bus.publisher(),
                events: deps.bus.coalescing_publisher(BatchLimits::default()),
                id_map,
                cancelled,
                status,
                rules: deps.rules,
                node_id: deps.node_id,
                registry: Arc::new(Registry::default()),
                mo_ids: MoIds::new(),
                published_receipts: herald_bus::RecentIds::new(
                    RECENT_RECEIPTS,
                    deps.bus.duplicate_window(),
                ),
                bus: deps.bus,
                config,
            }),
            slots,
            etcd,
            health,
            drain,
        })
    }

    /// Runs until `shutdown` completes (or [`Connector::drain`] is called), then drains:
    /// stops pulling, lets in-flight submits get their answers, unbinds, gives the slots
    /// back and revokes the lease.
    pub async fn run(&self, shutdown: impl Future<Output = ()>) -> Result<(), ConnectorError> {
        let config = &self.shared.config;
        let (lease_tx, lease_rx) = watch::channel(LeaseState::Pending);
        let _lease = AbortOnDrop(tokio::spawn(keep_lease(
            self.etcd.clone(),
            config.slot_lease_ttl,
            lease_tx,
            config.reconnect_backoff_min,
        )));
        let _health = AbortOnDrop(tokio::spawn(health::publish_loop(
            self.health.clone(),
            self.shared.registry.clone(),
            self.shared.node_id.clone(),
            config.health_interval,
        )));
        let _held = AbortOnDrop(tokio::spawn(crate::held::run(
            self.shared.clone(),
            self.drain.subscribe(),
        )));
        let mut supervisor = Supervisor {
            shared: self.shared.clone(),
            slots: self.slots.clone(),
            lease: lease_rx,
            held_lease: None,
            unleased_since: None,
            carriers: BTreeMap::new(),
        };
        let mut drain = self.drain.subscribe();
        let stop = async move {
            tokio::select! {
                () = shutdown => {}
                _ = drain.wait_for(|d| *d) => {}
            }
        };
        supervisor.run(stop).await;
        Ok(())
    }

    /// Asks a running connector to drain and return from [`Connector::run`].
    pub fn drain(&self) {
        self.drain.send_replace(true);
    }

    /// This connector's binds now, by carrier and slot.
    pub fn binds(&self) -> Vec<BindInfo> {
        self.shared
            .registry
            .binds()
            .iter()
            .map(|b| b.info())
            .collect()
    }

    /// This connector's node id.
    pub fn node_id(&self) -> &str {
        &self.shared.node_id
    }
}

/// A task aborted when its handle is dropped.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl AbortOnDrop {
    /// Waits up to `limit` for the task to end, then aborts it.
    async fn join(mut self, limit: Duration) {
        if tokio::time::timeout(limit, &mut self.0).await.is_err() {
            self.0.abort();
        }
    }
}

/// One bind task.
struct BindHandle {
    stop: watch::Sender<bool>,
    task: AbortOnDrop,
}

/// One carrier this connector holds slots of.
struct CarrierRun {
    carrier: Arc<Carrier>,
    plan: watch::Sender<CarrierPlan>,
    events: mpsc::UnboundedSender<BindEvent>,
    sender_stop: watch::Sender<bool>,
    sender: AbortOnDrop,
    binds: BTreeMap<u32, BindHandle>,
    stats: Arc<CarrierStats>,
}

/// The slot kinds of a carrier: submitting slots, then receivers (with `tx+rx`).
fn slot_groups(carrier: &Carrier) -> [(std::ops::Range<u32>, u32); 2] {
    let submit = carrier.binds;
    let receivers = match carrier.bind_mode {
        CarrierBindMode::Transceiver => 0,
        CarrierBindMode::TransmitterAndReceiver => carrier.receiver_binds,
    };
    [
        (0..submit, submit),
        (submit..submit.saturating_add(receivers), receivers),
    ]
}

/// How the bind of `slot` binds.
fn slot_mode(carrier: &Carrier, slot: u32) -> BindMode {
    match carrier.bind_mode {
        CarrierBindMode::Transceiver => BindMode::Transceiver,
        CarrierBindMode::TransmitterAndReceiver if slot < carrier.binds => BindMode::Transmitter,
        CarrierBindMode::TransmitterAndReceiver => BindMode::Receiver,
    }
}

/// Keeps slots, binds and senders in line with etcd and the rules.
struct Supervisor {
    shared: Arc<Shared>,
    slots: SlotStore,
    lease: watch::Receiver<LeaseState>,
    /// The lease the held slots hang on.
    held_lease: Option<i64>,
    /// etcd's last renewal of `held_lease` when it stopped renewing it, until the slots are
    /// confirmed on a lease again (resumed, or claimed again): the grace counts from it.
    unleased_since: Option<tokio::time::Instant>,
    carriers: BTreeMap<String, CarrierRun>,
}

impl Supervisor {
    async fn run(&mut self, stop: impl Future<Output = ()>) {
        tokio::pin!(stop);
        let mut tick = tokio::time::interval(self.shared.config.rebalance_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut rules = self.shared.rules.changes();
        let mut watch: Option<etcd_client::WatchStream> = None;
        loop {
            if watch.is_none() && matches!(*self.lease.borrow(), LeaseState::Alive(_)) {
                watch = self.slots.watch().await.ok();
            }
            self.report_lease();
            let grace_over = self.grace_deadline();
            tokio::select! {
                () = &mut stop => break,
                _ = tick.tick() => {}
                changed = rules.changed() => if changed.is_err() {
                    // The store is gone; keep serving what we have, on the tick.
                    rules = self.shared.rules.changes();
                    tick.tick().await;
                },
                changed = self.lease.changed() => {
                    if changed.is_err() {
                        break;
                    }
                    let state = *self.lease.borrow_and_update();
                    if let LeaseState::Unreachable { since } = state {
                        self.unleased_since.get_or_insert(since);
                        let binds = self.binds_held();
                        tracing::warn!(binds, grace = ?self.shared.config.etcd_unreachable_grace,
                            "etcd unreachable: keeping the binds held, taking no slot");
                    }
                }
                () = sleep_until_some(grace_over) => {
                    tracing::warn!(binds = self.binds_held(),
                        "etcd unreachable for longer than connector.etcd_unreachable_grace: closing every bind");
                    self.abandon_all().await;
                }
                message = next_event(&mut watch) => if !matches!(message, Ok(Some(_))) {
                    watch = None;
                },
            }
            if let Err(error) = self.reconcile().await {
                tracing::warn!(%error, "slot reconciliation incomplete");
            }
        }
        self.drain().await;
    }

    /// Binds held now, across carriers.
    fn binds_held(&self) -> usize {
        self.carriers.values().map(|run| run.binds.len()).sum()
    }

    /// When the binds held without a lease must close: `etcd_unreachable_grace` after
    /// etcd's last renewal; `None` while the slots are confirmed on a renewed lease (a
    /// lease renewed again but slots not yet claimed again still count) or nothing is held.
    fn grace_deadline(&self) -> Option<tokio::time::Instant> {
        let since = self.unleased_since.filter(|_| !self.carriers.is_empty())?;
        Some(since + self.shared.config.etcd_unreachable_grace)
    }

    /// The gauges operators alert on: is the lease renewed, and how many binds are held
    /// without it.
    fn report_lease(&self) {
        let reachable = matches!(*self.lease.borrow(), LeaseState::Alive(_));
        metrics::gauge!(names::CONNECTOR_ETCD_REACHABLE).set(if reachable { 1.0 } else { 0.0 });
        let unleased = if self.unleased_since.is_some() {
            self.binds_held()
        } else {
            0
        };
        metrics::gauge!(names::CONNECTOR_BINDS_UNLEASED).set(unleased as f64);
    }

    /// Brings held slots in line with the rules and the fair share.
    async fn reconcile(&mut self) -> Result<(), ConnectorError> {
        let LeaseState::Alive(lease) = *self.lease.borrow() else {
            // No lease to count on: keep what is held, take nothing (docs/adr/0014).
            return Ok(());
        };
        if self.held_lease.is_some_and(|held| held != lease) {
            // etcd lost our lease while it was out of reach: claim the slots again.
            self.reclaim(lease).await?;
        }
        self.held_lease = Some(lease);
        self.unleased_since = None;
        let snapshot = self.shared.rules.snapshot();
        let gone: Vec<String> = self
            .carriers
            .keys()
            .filter(|id| snapshot.carrier(id).is_none_or(|c| !c.enabled))
            .cloned()
            .collect();
        for id in gone {
            self.release_carrier(&id, lease).await;
        }
        let live = self.slots.live_connectors().await?.len();
        for carrier in snapshot.carriers().filter(|c| c.enabled) {
            self.reconcile_carrier(Arc::new(carrier.clone()), live, lease)
                .await?;
        }
        Ok(())
    }

    async fn reconcile_carrier(
        &mut self,
        carrier: Arc<Carrier>,
        live: usize,
        lease: i64,
    ) -> Result<(), ConnectorError> {
        let id = carrier.id.clone();
        let groups = slot_groups(&carrier);
        let valid = |slot: u32| groups.iter().any(|(range, _)| range.contains(&slot));
        // Slots beyond the carrier's limits, then the surplus over the fair share.
        let mut surplus: Vec<u32> = Vec::new();
        let held: Vec<u32> = self
            .carriers
            .get(&id)
            .map(|run| run.binds.keys().copied().collect())
            .unwrap_or_default();
        surplus.extend(held.iter().copied().filter(|&s| !valid(s)));
        for (range, total) in &groups {
            let mine: Vec<u32> = held.iter().copied().filter(|s| range.contains(s)).collect();
            let target = target_slots(*total, live) as usize;
            if mine.len() > target {
                surplus.extend(mine.iter().rev().take(mine.len() - target));
            }
        }
        for slot in surplus {
            self.release_slot(&id, slot, lease).await;
        }
        // A slot whose key is gone or hangs on another lease is not ours any more (deleted
        // by hand, or an old lease's): its bind closes at once.
        let holders = self.slots.holders(&id).await?;
        let lost: Vec<u32> = self
            .carriers
            .get(&id)
            .map(|run| {
                run.binds
                    .keys()
                    .copied()
                    .filter(|slot| holders.get(slot) != Some(&lease))
                    .collect()
            })
            .unwrap_or_default();
        for slot in lost {
            tracing::warn!(carrier = %id, slot, "bind slot no longer held: closing its bind");
            self.close_bind(&id, slot).await;
            self.publish_plan(&id);
        }
        // New settings: fresh binds on the same slots.
        let changed = self
            .carriers
            .get(&id)
            .is_some_and(|run| *run.carrier != *carrier);
        if changed {
            tracing::info!(carrier = %id, "carrier settings changed: rebinding");
            self.restart_binds(&carrier).await;
        }
        // Take free slots up to the fair share.
        for (range, total) in groups {
            let target = target_slots(total, live) as usize;
            let mine = self.carriers.get(&id).map_or(0, |run| {
                run.binds.keys().filter(|s| range.contains(s)).count()
            });
            if mine >= target {
                continue;
            }
            let mut wanted = target - mine;
            for slot in range {
                if wanted == 0 {
                    break;
                }
                let taken = match holders.get(&slot) {
                    None => self.slots.try_acquire(&id, slot, lease).await?,
                    // Ours without a bind: its bind was closed when etcd stayed out of
                    // reach past the grace, and the lease came back with its keys.
                    Some(&holder) => holder == lease && !self.has_bind(&id, slot),
                };
                if taken {
                    tracing::info!(carrier = %id, slot, "bind slot taken");
                    self.start_bind(&carrier, slot);
                    wanted -= 1;
                }
            }
        }
        // Keys on our lease beyond the share, with no bind: give them back.
        for (&slot, &holder) in &holders {
            if holder == lease
                && !self.has_bind(&id, slot)
                && let Err(error) = self.slots.release(&id, slot, lease).await
            {
                tracing::warn!(carrier = %id, slot, %error, "unused bind slot not released");
            }
        }
        self.publish_plan(&id);
        Ok(())
    }

    fn has_bind(&self, id: &str, slot: u32) -> bool {
        self.carriers
            .get(id)
            .is_some_and(|run| run.binds.contains_key(&slot))
    }

    /// The run of `carrier`, started with its sender if new.
    fn run_of(&mut self, carrier: &Arc<Carrier>) -> &mut CarrierRun {
        let shared = self.shared.clone();
        self.carriers.entry(carrier.id.clone()).or_insert_with(|| {
            let (plan, plan_rx) = watch::channel(CarrierPlan {
                carrier: carrier.clone(),
                submit_slots: 0,
            });
            let (events, events_rx) = mpsc::unbounded_channel();
            let (sender_stop, stop_rx) = watch::channel(false);
            let stats = shared.registry.carrier(&carrier.id);
            stats.slots_total.store(carrier.binds, Ordering::Relaxed);
            let sender = CarrierSender {
                shared: shared.clone(),
                carrier_id: carrier.id.clone(),
                plan: plan_rx,
                events: events_rx,
                stop: stop_rx,
                stats: stats.clone(),
            };
            CarrierRun {
                carrier: carrier.clone(),
                plan,
                events,
                sender_stop,
                sender: AbortOnDrop(tokio::spawn(sender.run())),
                binds: BTreeMap::new(),
                stats,
            }
        })
    }

    fn start_bind(&mut self, carrier: &Arc<Carrier>, slot: u32) {
        let shared = self.shared.clone();
        let run = self.run_of(carrier);
        let mode = slot_mode(carrier, slot);
        let status = Arc::new(BindStatus::new(&carrier.id, slot, mode, carrier.window));
        shared.registry.add_bind(status.clone());
        let (stop, stop_rx) = watch::channel(false);
        let task = BindTask {
            shared: shared.clone(),
            carrier: carrier.clone(),
            slot,
            mode,
            events: run.events.clone(),
            stop: stop_rx,
            status,
        };
        run.binds.insert(
            slot,
            BindHandle {
                stop,
                task: AbortOnDrop(tokio::spawn(task.run())),
            },
        );
    }

    /// Tells the sender how many submitting slots it has, and the carrier's settings.
    fn publish_plan(&mut self, id: &str) {
        let Some(run) = self.carriers.get(id) else {
            return;
        };
        let submit_slots =
            u32::try_from(run.binds.keys().filter(|&&s| s < run.carrier.binds).count())
                .unwrap_or(u32::MAX);
        run.stats.slots_held.store(
            u32::try_from(run.binds.len()).unwrap_or(u32::MAX),
            Ordering::Relaxed,
        );
        run.stats
            .slots_total
            .store(run.carrier.binds, Ordering::Relaxed);
        run.plan.send_replace(CarrierPlan {
            carrier: run.carrier.clone(),
            submit_slots,
        });
        if run.binds.is_empty() {
            // Nothing held any more: the carrier's run ends.
            let id = id.to_owned();
            if let Some(run) = self.carriers.remove(&id) {
                self.shared.registry.remove_carrier(&id);
                let limit = self.shared.config.drain_timeout;
                tokio::spawn(async move {
                    let _ = run.sender_stop.send(true);
                    run.sender.join(limit).await;
                });
            }
        }
    }

    /// Closes the bind of `slot` (after its in-flight work); true if there was one.
    async fn close_bind(&mut self, id: &str, slot: u32) -> bool {
        let Some(handle) = self
            .carriers
            .get_mut(id)
            .and_then(|run| run.binds.remove(&slot))
        else {
            return false;
        };
        let _ = handle.stop.send(true);
        handle.task.join(self.shared.config.drain_timeout).await;
        self.shared.registry.remove_bind(id, slot);
        true
    }

    /// Closes the bind of `slot` (after its in-flight work), then gives the slot up.
    async fn release_slot(&mut self, id: &str, slot: u32, lease: i64) {
        if !self.close_bind(id, slot).await {
            return;
        }
        match self.slots.release(id, slot, lease).await {
            Ok(()) => tracing::info!(carrier = %id, slot, "bind slot given up"),
            // It expires with the lease; until then nobody else can bind on it.
            Err(error) => tracing::warn!(carrier = %id, slot, %error, "bind slot not released"),
        }
        self.publish_plan(id);
    }

    /// Gives up every slot of `id`: the sender first, then the binds.
    async fn release_carrier(&mut self, id: &str, lease: i64) {
        if let Some(run) = self.carriers.remove(id) {
            give_up(
                id.to_owned(),
                run,
                self.slots.clone(),
                self.shared.registry.clone(),
                self.shared.config.drain_timeout,
                lease,
            )
            .await;
        }
    }

    /// New settings for a carrier: its binds restart on the slots they hold.
    async fn restart_binds(&mut self, carrier: &Arc<Carrier>) {
        let limit = self.shared.config.drain_timeout;
        let slots: Vec<u32> = match self.carriers.get_mut(&carrier.id) {
            Some(run) => {
                run.carrier = carrier.clone();
                let binds = std::mem::take(&mut run.binds);
                for handle in binds.values() {
                    let _ = handle.stop.send(true);
                }
                let slots = binds.keys().copied().collect();
                for (_, handle) in binds {
                    handle.task.join(limit).await;
                }
                slots
            }
            None => return,
        };
        for slot in slots {
            self.shared.registry.remove_bind(&carrier.id, slot);
            self.start_bind(carrier, slot);
        }
    }

    /// The binds held under a lease etcd no longer has are claimed under `lease`; a bind
    /// whose slot another connector took meanwhile is surplus and closes after its
    /// in-flight work. Bounded by `drain_timeout` per bind, and rare.
    async fn reclaim(&mut self, lease: i64) -> Result<(), ConnectorError> {
        let held: Vec<(String, u32)> = self
            .carriers
            .iter()
            .flat_map(|(id, run)| run.binds.keys().map(move |slot| (id.clone(), *slot)))
            .collect();
        let mut surplus = Vec::new();
        for (id, slot) in held {
            let kept = self.slots.reclaim(&id, slot, lease).await?;
            let status = if kept { "kept" } else { "surplus" };
            metrics::counter!(names::CONNECTOR_SLOT_RECLAIMS_TOTAL,
                names::labels::CARRIER => id.clone(), names::labels::STATUS => status)
            .increment(1);
            if kept {
                tracing::info!(carrier = %id, slot, lease, "bind slot claimed again");
            } else {
                tracing::warn!(carrier = %id, slot, "bind slot taken by another connector while etcd was out of reach: closing its bind");
                surplus.push((id, slot));
            }
        }
        for (id, slot) in surplus {
            self.close_bind(&id, slot).await;
            self.publish_plan(&id);
        }
        Ok(())
    }

    /// Closes everything now: the grace without etcd ran out, or a drain without a lease.
    async fn abandon_all(&mut self) {
        let grace = self.shared.config.slot_lease_ttl / 3;
        let carriers = std::mem::take(&mut self.carriers);
        let mut joins = Vec::new();
        for (id, run) in carriers {
            let _ = run.sender_stop.send(true);
            for (slot, handle) in run.binds {
                let _ = handle.stop.send(true);
                self.shared.registry.remove_bind(&id, slot);
                joins.push(handle.task.join(grace));
            }
            joins.push(run.sender.join(grace));
            self.shared.registry.remove_carrier(&id);
        }
        futures::future::join_all(joins).await;
        self.held_lease = None;
        self.unleased_since = None;
    }

    /// Shutdown: give every carrier up (all at once), then the lease.
    async fn drain(&mut self) {
        tracing::info!("connector draining");
        let renewed = matches!(*self.lease.borrow(), LeaseState::Alive(lease) if Some(lease) == self.held_lease);
        let Some(lease) = self.held_lease.filter(|_| renewed) else {
            // etcd is out of reach: nothing to release; the keys expire with the lease.
            self.abandon_all().await;
            return;
        };
        let carriers = std::mem::take(&mut self.carriers);
        let releases = carriers.into_iter().map(|(id, run)| {
            give_up(
                id,
                run,
                self.slots.clone(),
                self.shared.registry.clone(),
                self.shared.config.drain_timeout,
                lease,
            )
        });
        futures::future::join_all(releases).await;
        if let Err(error) = self.slots.revoke(lease).await {
            tracing::debug!(%error, "lease not revoked; it will expire");
        }
        self.held_lease = None;
    }
}

/// Gives a carrier up: its sender stops pulling and finishes what is in flight, then its
/// binds unbind, then its slots are released.
async fn give_up(
    id: String,
    run: CarrierRun,
    slots: SlotStore,
    registry: Arc<Registry>,
    limit: Duration,
    lease: i64,
) {
    let _ = run.sender_stop.send(true);
    run.sender.join(limit).await;
    for handle in run.binds.values() {
        let _ = handle.stop.send(true);
    }
    for (slot, handle) in run.binds {
        handle.task.join(limit).await;
        registry.remove_bind(&id, slot);
        if let Err(error) = slots.release(&id, slot, lease).await {
            tracing::warn!(carrier = %id, slot, %error, "bind slot not released; it expires with the lease");
        }
    }
    registry.remove_carrier(&id);
    tracing::info!(carrier = %id, "carrier given up");
}

/// Sleeps until `deadline`, or for ever without one.
async fn sleep_until_some(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

async fn next_event(
    watch: &mut Option<etcd_client::WatchStream>,
) -> Result<Option<etcd_client::WatchResponse>, etcd_client::Error> {
    match watch {
        Some(watch) => watch.message().await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    fn carrier(mode: &str, binds: u32, receiver_binds: u32) -> Carrier {
        serde_json::from_value(serde_json::json!({
            "id": "sim", "host": "127.0.0.1", "port": 2775, "system_id": "herald",
            "password": {"env": "X"}, "throughput": {"tps": 10},
            "bind_mode": mode, "binds": binds, "receiver_binds": receiver_binds,
        }))
        .unwrap()
    }

    #[test]
    fn transceivers_take_every_slot_and_need_no_receivers() {
        let carrier = carrier("trx", 3, 2);
        assert_eq!(slot_groups(&carrier), [(0..3, 3), (3..3, 0)]);
        assert!((0..3).all(|slot| slot_mode(&carrier, slot) == BindMode::Transceiver));
    }

    #[test]
    fn transmitters_come_first_then_the_receivers() {
        let carrier = carrier("tx+rx", 2, 1);
        assert_eq!(slot_groups(&carrier), [(0..2, 2), (2..3, 1)]);
        assert_eq!(slot_mode(&carrier, 0), BindMode::Transmitter);
        assert_eq!(slot_mode(&carrier, 1), BindMode::Transmitter);
        assert_eq!(slot_mode(&carrier, 2), BindMode::Receiver);
    }
}
