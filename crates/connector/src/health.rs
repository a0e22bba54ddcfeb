//! What the connector knows about its binds and carriers, for [`crate::Connector::binds`]
//! (the `NodeService` listing) and for the routers' health view.
//!
//! Each bind has a `BindStatus` and each carrier a `CarrierStats`: counters are atomics
//! bumped by the sending and bind tasks (no lock on the message path); the state of a bind
//! changes under a small lock, a few times per bind life. The health task turns them into a
//! [`CarrierHealth`] per carrier every `health_interval` and writes it to the KV bucket
//! [`HEALTH_BUCKET`] under `<carrier>.<node>`; the bucket's max age removes the entries of
//! a connector that is gone.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use async_nats::jetstream::{self, kv};
use herald_bus::publish::encode;
use herald_bus::subject::kv_key;
use herald_proto::bus::v1::{BindHealth, CarrierHealth};
use herald_smpp::session::BindMode;

use herald_bus::lifecycle::unix_ms;

/// The KV bucket of carrier health ([`herald_bus::topology::CARRIER_HEALTH_BUCKET`]).
pub use herald_bus::topology::CARRIER_HEALTH_BUCKET as HEALTH_BUCKET;

/// Where a bind is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BindState {
    /// Connecting and binding.
    Connecting,
    /// Bound: submitting (transceiver, transmitter) or receiving.
    Bound,
    /// Waiting before the next attempt after a failure.
    Backoff,
    /// Unbinding: its slot is being given up.
    Closing,
}

impl BindState {
    /// The lowercase name used in listings and the health view.
    pub const fn as_str(self) -> &'static str {
        match self {
            BindState::Connecting => "connecting",
            BindState::Bound => "bound",
            BindState::Backoff => "backoff",
            BindState::Closing => "closing",
        }
    }
}

/// One bind as [`crate::Connector::binds`] lists it.
#[derive(Clone, Debug, PartialEq)]
pub struct BindInfo {
    /// The carrier.
    pub carrier_id: String,
    /// The bind slot it holds (`/herald/v1/binds/<carrier>/<slot>`).
    pub slot: u32,
    /// How it binds.
    pub mode: BindMode,
    /// Where it is now.
    pub state: BindState,
    /// Since when it is in that state.
    pub since: SystemTime,
    /// Outstanding submits allowed now (after throttling adjustments).
    pub window: u32,
    /// Submits awaiting their response.
    pub in_flight: u32,
    /// Submits accepted by the carrier on this bind.
    pub submitted: u64,
    /// Submits answered with a throttling status.
    pub throttled: u64,
    /// Errors (answers other than OK, timeouts) / all answers since the bind came up.
    pub error_rate: f64,
    /// Why the last bind attempt or session failed, if it did.
    pub last_error: Option<String>,
}

/// The live status of one bind.
#[derive(Debug)]
pub(crate) struct BindStatus {
    pub(crate) carrier_id: String,
    pub(crate) slot: u32,
    pub(crate) mode: BindMode,
    state: Mutex<(BindState, SystemTime, Option<String>)>,
    pub(crate) window: AtomicU32,
    pub(crate) in_flight: AtomicU32,
    pub(crate) ok: AtomicU64,
    pub(crate) errors: AtomicU64,
    pub(crate) throttled: AtomicU64,
}

impl BindStatus {
    pub(crate) fn new(carrier_id: &str, slot: u32, mode: BindMode, window: u32) -> Self {
        BindStatus {
            carrier_id: carrier_id.to_owned(),
            slot,
            mode,
            state: Mutex::new((BindState::Connecting, SystemTime::now(), None)),
            window: AtomicU32::new(window),
            in_flight: AtomicU32::new(0),
            ok: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            throttled: AtomicU64::new(0),
        }
    }

    /// Moves to `state`; `error` replaces the last error when given.
    pub(crate) fn set(&self, state: BindState, error: Option<String>) {
        if let Ok(mut current) = self.state.lock() {
            if current.0 != state {
                current.0 = state;
                current.1 = SystemTime::now();
            }
            if error.is_some() {
                current.2 = error;
            }
        }
        if state == BindState::Bound {
            self.ok.store(0, Ordering::Relaxed);
            self.errors.store(0, Ordering::Relaxed);
        }
    }

    pub(crate) fn state(&self) -> BindState {
        self.state.lock().map_or(BindState::Closing, |s| s.0)
    }

    pub(crate) fn info(&self) -> BindInfo {
        let (state, since, last_error) = self.state.lock().map(|s| s.clone()).unwrap_or((
            BindState::Closing,
            SystemTime::now(),
            None,
        ));
        let ok = self.ok.load(Ordering::Relaxed);
        let errors = self.errors.load(Ordering::Relaxed);
        BindInfo {
            carrier_id: self.carrier_id.clone(),
            slot: self.slot,
            mode: self.mode,
            state,
            since,
            window: self.window.load(Ordering::Relaxed),
            in_flight: self.in_flight.load(Ordering::Relaxed),
            submitted: ok,
            throttled: self.throttled.load(Ordering::Relaxed),
            error_rate: ratio(errors, ok + errors),
            last_error,
        }
    }
}

/// Counters of one carrier on this connector.
#[derive(Debug, Default)]
pub(crate) struct CarrierStats {
    pub(crate) ok: AtomicU64,
    pub(crate) throttled: AtomicU64,
    pub(crate) failed: AtomicU64,
    pub(crate) timed_out: AtomicU64,
    /// `f64` bits of the send rate allowed now.
    pub(crate) rate_limit: AtomicU64,
    pub(crate) slots_held: AtomicU32,
    pub(crate) slots_total: AtomicU32,
}

impl CarrierStats {
    pub(crate) fn set_rate(&self, rate: f64) {
        self.rate_limit.store(rate.to_bits(), Ordering::Relaxed);
    }
}

/// Every bind and carrier of this connector: changed when binds start and stop, read by
/// listings and the health task.
#[derive(Debug, Default)]
pub(crate) struct Registry {
    binds: Mutex<BTreeMap<(String, u32), Arc<BindStatus>>>,
    carriers: Mutex<BTreeMap<String, Arc<CarrierStats>>>,
}

impl Registry {
    pub(crate) fn add_bind(&self, status: Arc<BindStatus>) {
        if let Ok(mut binds) = self.binds.lock() {
            binds.insert((status.carrier_id.clone(), status.slot), status);
        }
    }

    pub(crate) fn remove_bind(&self, carrier: &str, slot: u32) {
        if let Ok(mut binds) = self.binds.lock() {
            binds.remove(&(carrier.to_owned(), slot));
        }
    }

    pub(crate) fn binds(&self) -> Vec<Arc<BindStatus>> {
        self.binds
            .lock()
            .map(|b| b.values().cloned().collect())
            .unwrap_or_default()
    }

    /// The stats of `carrier`, made on first use.
    pub(crate) fn carrier(&self, carrier: &str) -> Arc<CarrierStats> {
        let Ok(mut carriers) = self.carriers.lock() else {
            return Arc::default();
        };
        carriers.entry(carrier.to_owned()).or_default().clone()
    }

    pub(crate) fn remove_carrier(&self, carrier: &str) {
        if let Ok(mut carriers) = self.carriers.lock() {
            carriers.remove(carrier);
        }
    }

    fn carriers(&self) -> Vec<(String, Arc<CarrierStats>)> {
        self.carriers
            .lock()
            .map(|c| c.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default()
    }
}

fn ratio(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// Creates the health bucket (idempotent) and returns it; entries live three intervals.
pub(crate) async fn open_bucket(
    jetstream: &jetstream::Context,
    interval: Duration,
) -> Result<kv::Store, herald_bus::BusError> {
    let config = kv::Config {
        bucket: HEALTH_BUCKET.to_owned(),
        description: "Herald carrier health by carrier and connector".to_owned(),
        history: 1,
        max_age: (interval * 3).max(Duration::from_secs(15)),
        storage: jetstream::stream::StorageType::Memory,
        ..Default::default()
    };
    jetstream
        .create_or_update_key_value(config)
        .await
        .map_err(|source| herald_bus::BusError::Topology {
            what: format!("KV bucket {HEALTH_BUCKET}"),
            source: Box::new(source),
        })
}

/// The key of `carrier`'s health as written by `node`.
pub fn health_key(carrier: &str, node: &str) -> String {
    format!("{carrier}.{}", kv_key(node))
}

/// Writes every carrier's health every `interval`, forever.
pub(crate) async fn publish_loop(
    store: kv::Store,
    registry: Arc<Registry>,
    node: String,
    interval: Duration,
) {
    let mut previous: HashMap<String, [u64; 4]> = HashMap::new();
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let binds = registry.binds();
        let carriers = registry.carriers();
        let known: Vec<String> = carriers.iter().map(|(id, _)| id.clone()).collect();
        for (carrier, stats) in carriers {
            let now = [
                stats.ok.load(Ordering::Relaxed),
                stats.throttled.load(Ordering::Relaxed),
                stats.failed.load(Ordering::Relaxed),
                stats.timed_out.load(Ordering::Relaxed),
            ];
            let before = previous.insert(carrier.clone(), now).unwrap_or([0; 4]);
            let delta: Vec<u64> = now
                .iter()
                .zip(before)
                .map(|(n, b)| n.saturating_sub(b))
                .collect();
            let (ok, throttled, failed, timed_out) = (delta[0], delta[1], delta[2], delta[3]);
            let mine: Vec<&Arc<BindStatus>> =
                binds.iter().filter(|b| b.carrier_id == carrier).collect();
            let health = CarrierHealth {
                carrier_id: carrier.clone(),
                node_id: node.clone(),
                slots_held: stats.slots_held.load(Ordering::Relaxed),
                slots_total: stats.slots_total.load(Ordering::Relaxed),
                binds_up: u32::try_from(
                    mine.iter()
                        .filter(|b| b.mode.esme_sends() && b.state() == BindState::Bound)
                        .count(),
                )
                .unwrap_or(u32::MAX),
                binds: mine
                    .iter()
                    .map(|b| {
                        let info = b.info();
                        BindHealth {
                            slot: info.slot,
                            state: info.state.as_str().to_owned(),
                            mode: info.mode.as_str().to_owned(),
                            window: info.window,
                            in_flight: info.in_flight,
                            since_unix_ms: unix_ms(info.since),
                            last_error: info.last_error.unwrap_or_default(),
                        }
                    })
                    .collect(),
                submits_ok: ok,
                submits_throttled: throttled,
                submits_failed: failed,
                submits_timed_out: timed_out,
                // Throttling is the carrier pacing us, not failing.
                error_rate: ratio(failed + timed_out, ok + throttled + failed + timed_out),
                rate_limit: f64::from_bits(stats.rate_limit.load(Ordering::Relaxed)),
                updated_unix_ms: unix_ms(SystemTime::now()),
                interval_ms: u64::try_from(interval.as_millis()).unwrap_or(u64::MAX),
            };
            if let Err(error) = store
                .put(health_key(&carrier, &node), encode(&health))
                .await
            {
                tracing::debug!(%carrier, %error, "cannot write carrier health");
            }
        }
        // Carriers this connector gave up: remove their entries at once.
        previous.retain(|carrier, _| {
            let keep = known.contains(carrier);
            if !keep {
                let store = store.clone();
                let key = health_key(carrier, &node);
                tokio::spawn(async move {
                    // Best effort: a report left behind ages out of the bucket, and
                    // routers already ignore one whose carrier is gone.
                    if let Err(error) = store.delete(key).await {
                        tracing::debug!(%error, "stale health report not deleted");
                    }
                });
            }
            keep
        });
    }
}
