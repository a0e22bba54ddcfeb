//! [`RulesStore`]: the rules a process runs on. It loads a snapshot from etcd, follows the
//! watch from that revision and swaps each rebuilt snapshot in atomically; readers call
//! [`RulesStore::snapshot`] or [`RulesStore::load`] and never lock.
//!
//! While etcd is away the store keeps serving its last snapshot, reconnects with
//! exponential back-off and jitter, and resumes the watch where it stopped; if etcd has
//! compacted that history (or went back in time, restored from a backup) it reloads
//! everything. See `docs/rules.md` and ADR 0003.

mod follower;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use arc_swap::{ArcSwap, ArcSwapOption};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::StoreConfig;
use crate::error::Error;
use crate::etcd::Etcd;
use crate::snapshot::RulesSnapshot;
use follower::Follower;

/// A cheap, short-lived borrow of the current snapshot (see [`RulesStore::load`]).
pub type SnapshotGuard = arc_swap::Guard<Arc<RulesSnapshot>>;

/// How the store is doing, for readiness checks and metrics.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreStatus {
    /// Whether the watch on etcd is established (false: serving the last-known-good rules).
    pub connected: bool,
    /// The revision of the snapshot being served.
    pub revision: u64,
    /// Problems in that snapshot.
    pub problems: usize,
    /// Full loads so far (1 at start-up, one more after each compaction or rollback).
    pub full_loads: u64,
    /// Watches established so far (1 at start-up, one more after each reconnection).
    pub watches: u64,
    /// The last error talking to etcd, if any.
    pub last_error: Option<String>,
}

/// What the store and its background task share.
struct Shared {
    snapshot: ArcSwap<RulesSnapshot>,
    revisions: watch::Sender<u64>,
    connected: AtomicBool,
    full_loads: AtomicU64,
    watches: AtomicU64,
    last_error: ArcSwapOption<String>,
}

impl Shared {
    fn new(snapshot: RulesSnapshot) -> Shared {
        let (revisions, _) = watch::channel(snapshot.revision());
        Shared {
            snapshot: ArcSwap::from_pointee(snapshot),
            revisions,
            connected: AtomicBool::new(false),
            full_loads: AtomicU64::new(0),
            watches: AtomicU64::new(0),
            last_error: ArcSwapOption::empty(),
        }
    }
}

/// Stops the background task when the last handle goes.
struct TaskGuard(JoinHandle<()>);

impl Drop for TaskGuard {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The rules a process serves, kept current from etcd. Clones share one snapshot and one
/// background task, which stops when the last clone is dropped.
#[derive(Clone)]
pub struct RulesStore {
    shared: Arc<Shared>,
    _task: Option<Arc<TaskGuard>>,
}

impl RulesStore {
    /// Loads the rules under `config.prefix` and starts following changes. Fails with
    /// [`Error::Timeout`] or [`Error::Etcd`] if etcd cannot be reached and read within
    /// `connect_timeout` (the caller decides whether to retry or exit); after that the store
    /// never fails, it only goes stale.
    pub async fn connect(config: StoreConfig) -> Result<RulesStore, Error> {
        config.validate()?;
        let etcd = Etcd::connect(&config).await?;
        let loaded =
            match tokio::time::timeout(config.connect_timeout, etcd.load(&config.prefix)).await {
                Ok(loaded) => loaded?,
                Err(_) => {
                    return Err(Error::Timeout {
                        endpoints: config.endpoints.join(","),
                        operation: "initial load",
                        timeout: config.connect_timeout,
                    });
                }
            };
        let shared = Arc::new(Shared::new(RulesSnapshot::default()));
        let follower = Follower::new(shared.clone(), config, etcd, loaded);
        let task = tokio::spawn(follower.run());
        Ok(RulesStore {
            shared,
            _task: Some(Arc::new(TaskGuard(task))),
        })
    }

    /// A store that serves `snapshot` forever, with no etcd (tests, tools).
    pub fn fixed(snapshot: RulesSnapshot) -> RulesStore {
        RulesStore {
            shared: Arc::new(Shared::new(snapshot)),
            _task: None,
        }
    }

    /// The current snapshot, to keep as long as needed.
    pub fn snapshot(&self) -> Arc<RulesSnapshot> {
        self.shared.snapshot.load_full()
    }

    /// The current snapshot for a short look (no reference-count traffic on the hot path);
    /// do not hold it across an `.await`.
    pub fn load(&self) -> SnapshotGuard {
        self.shared.snapshot.load()
    }

    /// The revision of the snapshot being served.
    pub fn revision(&self) -> u64 {
        self.shared.snapshot.load().revision()
    }

    /// The revision of each new snapshot, as it is swapped in (the receiver starts at the
    /// current one).
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.shared.revisions.subscribe()
    }

    /// Whether the watch on etcd is up (for readiness: a node with stale rules still
    /// serves them, but may want to say so).
    pub fn connected(&self) -> bool {
        self.shared.connected.load(Ordering::Relaxed)
    }

    /// Connection state, revision and counters.
    pub fn status(&self) -> StoreStatus {
        let snapshot = self.shared.snapshot.load();
        StoreStatus {
            connected: self.connected(),
            revision: snapshot.revision(),
            problems: snapshot.problems().len(),
            full_loads: self.shared.full_loads.load(Ordering::Relaxed),
            watches: self.shared.watches.load(Ordering::Relaxed),
            last_error: self.shared.last_error.load_full().map(|e| e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fixed_store_serves_its_snapshot() {
        let store = RulesStore::fixed(RulesSnapshot::build(9, Vec::<(String, Vec<u8>)>::new()));
        assert_eq!(store.revision(), 9);
        assert_eq!(*store.changes().borrow(), 9);
        assert!(!store.connected());
        assert_eq!(store.load().revision(), 9);
        assert_eq!(store.status().full_loads, 0);
    }
}
