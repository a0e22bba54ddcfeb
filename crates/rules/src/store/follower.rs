//! The store's background task: follows etcd's watch, applies each change to the raw
//! key-values it keeps, rebuilds the snapshot and swaps it in; on trouble it reconnects,
//! resumes, or reloads everything.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use etcd_client::{Event, EventType, WatchOptions};
use tracing::{info, warn};

use super::Shared;
use crate::config::StoreConfig;
use crate::error::Error;
use crate::etcd::{Etcd, Loaded, revision_of, to_etcd_revision};
use crate::kind::{KeyClass, classify};
use crate::snapshot::RulesSnapshot;
use herald_backoff::Backoff;

/// Why following the watch stopped.
enum Interrupted {
    /// etcd compacted past the revision the watch asked for.
    Compacted(i64),
    /// etcd is not the history we followed: its revision is below ours, or another
    /// cluster answers (restored from a backup, replaced).
    Diverged(String),
    /// The connection or the stream failed.
    Lost(Error),
}

pub(super) struct Follower {
    shared: Arc<Shared>,
    config: StoreConfig,
    etcd: Etcd,
    /// The rules key-values, relative to the prefix: what the next snapshot is built from.
    raw: BTreeMap<String, Vec<u8>>,
    /// The revision of the snapshot (the last rules change, or the last full load).
    revision: u64,
    /// The last revision the watch is known to have delivered (rules or not); a resumed
    /// watch starts after it.
    seen: u64,
    /// The etcd cluster the state came from.
    cluster_id: u64,
    backoff: Backoff,
}

impl Follower {
    /// Publishes the start-up load as the first snapshot.
    pub(super) fn new(
        shared: Arc<Shared>,
        config: StoreConfig,
        etcd: Etcd,
        loaded: Loaded,
    ) -> Follower {
        let backoff = Backoff::new(config.reconnect_backoff_min, config.reconnect_backoff_max);
        let mut follower = Follower {
            shared,
            config,
            etcd,
            raw: BTreeMap::new(),
            revision: 0,
            seen: 0,
            cluster_id: 0,
            backoff,
        };
        follower.loaded(loaded);
        follower.shared.connected.store(true, Ordering::Relaxed);
        follower
    }

    pub(super) async fn run(mut self) {
        let mut reload = false;
        loop {
            if reload {
                match self.etcd.load(&self.config.prefix).await {
                    Ok(loaded) => {
                        self.loaded(loaded);
                        reload = false;
                    }
                    Err(e) => {
                        self.disconnected(e);
                        self.pause().await;
                        continue;
                    }
                }
            }
            let (interrupted, progressed) = self.follow().await;
            match interrupted {
                Interrupted::Compacted(compacted) => {
                    info!(
                        watch_from = self.seen + 1,
                        compacted, "etcd compacted past the watch: reloading all rules"
                    );
                    reload = true;
                    if !progressed {
                        // Compacted again right after a reload: do not spin.
                        self.pause().await;
                    }
                }
                Interrupted::Diverged(why) => {
                    warn!(served = self.revision, "{why}: reloading all rules");
                    reload = true;
                    self.pause().await;
                }
                Interrupted::Lost(e) => {
                    self.disconnected(e);
                    self.pause().await;
                }
            }
        }
    }

    /// Takes a full load as the new state and publishes it.
    fn loaded(&mut self, loaded: Loaded) {
        let Loaded {
            revision,
            cluster_id,
            kvs,
        } = loaded;
        let prefix = self.config.prefix.as_bytes();
        self.raw = kvs
            .into_iter()
            .filter_map(|kv| {
                let relative = String::from_utf8_lossy(kv.key.strip_prefix(prefix)?).into_owned();
                (classify(&relative) != KeyClass::Reserved).then_some((relative, kv.value))
            })
            .collect();
        self.revision = revision;
        self.seen = revision;
        self.cluster_id = cluster_id;
        self.shared.full_loads.fetch_add(1, Ordering::Relaxed);
        self.publish();
    }

    /// Watches from `seen + 1` until something interrupts; also says whether it got past
    /// the creation (events or progress notifications).
    async fn follow(&mut self) -> (Interrupted, bool) {
        let start = match to_etcd_revision(self.seen + 1) {
            Ok(r) => r,
            Err(e) => return (Interrupted::Lost(e), false),
        };
        let options = WatchOptions::new()
            .with_prefix()
            .with_start_revision(start)
            .with_progress_notify();
        let prefix = self.config.prefix.clone();
        let watching = self
            .etcd
            .call("watch", |mut c| async move {
                c.watch(prefix, Some(options)).await
            })
            .await;
        let mut stream = match watching {
            Ok(stream) => stream,
            Err(e) => return (Interrupted::Lost(e), false),
        };
        let mut established = false;
        let mut progressed = false;
        loop {
            let next = if established {
                stream.message().await
            } else {
                match tokio::time::timeout(self.etcd.timeout(), stream.message()).await {
                    Ok(next) => next,
                    Err(_) => return (Interrupted::Lost(self.etcd.timed_out("watch")), false),
                }
            };
            let response = match next {
                Ok(Some(response)) => response,
                Ok(None) => {
                    let e = self.etcd.stream_ended("watch", "closed by etcd");
                    return (Interrupted::Lost(e), progressed);
                }
                Err(e) => return (Interrupted::Lost(self.etcd.error("watch", e)), progressed),
            };
            if response.compact_revision() != 0 {
                return (
                    Interrupted::Compacted(response.compact_revision()),
                    progressed,
                );
            }
            if response.canceled() {
                let reason = format!("cancelled: {}", response.cancel_reason());
                let e = self.etcd.stream_ended("watch", reason);
                return (Interrupted::Lost(e), progressed);
            }
            let header_revision = response.header().map_or(0, |h| revision_of(h.revision()));
            if !established {
                let cluster_id = response.header().map_or(0, |h| h.cluster_id());
                if cluster_id != self.cluster_id {
                    let why = format!(
                        "another etcd cluster answers ({cluster_id:x}, was {:x})",
                        self.cluster_id
                    );
                    return (Interrupted::Diverged(why), false);
                }
                if header_revision < self.seen {
                    let why = format!(
                        "etcd is at revision {header_revision}, behind the {} already seen \
                         (restored from a backup?)",
                        self.seen
                    );
                    return (Interrupted::Diverged(why), false);
                }
                established = true;
                self.connected();
            }
            if response.events().is_empty() {
                // A progress notification (or the creation): everything up to the header's
                // revision has been delivered.
                if !response.created() {
                    self.seen = self.seen.max(header_revision);
                    progressed = true;
                }
            } else {
                self.apply(response.events());
                progressed = true;
            }
        }
    }

    /// Applies a batch of watch events (all of one or more whole revisions).
    fn apply(&mut self, events: &[Event]) {
        let prefix = self.config.prefix.as_bytes();
        let mut changed = false;
        for event in events {
            let Some(kv) = event.kv() else { continue };
            self.seen = self.seen.max(revision_of(kv.mod_revision()));
            let Some(relative) = kv.key().strip_prefix(prefix) else {
                continue;
            };
            let relative = String::from_utf8_lossy(relative).into_owned();
            if classify(&relative) == KeyClass::Reserved {
                continue;
            }
            match event.event_type() {
                EventType::Put => {
                    self.raw.insert(relative, kv.value().to_vec());
                }
                EventType::Delete => {
                    self.raw.remove(&relative);
                }
            }
            changed = true;
        }
        if changed {
            self.revision = self.seen;
            self.publish();
        }
    }

    /// Builds the snapshot of the current raw state and swaps it in.
    fn publish(&self) {
        let entries = self.raw.iter().map(|(k, v)| (k.as_str(), v.as_slice()));
        let snapshot = RulesSnapshot::build(self.revision, entries);
        let previous = self.shared.snapshot.load();
        for problem in snapshot.problems() {
            if !previous.problems().contains(problem) {
                warn!(key = %problem.key, skipped = problem.skipped, "rules problem: {}", problem.error);
            }
        }
        info!(
            revision = self.revision,
            problems = snapshot.problems().len(),
            "rules snapshot swapped in"
        );
        self.shared.snapshot.store(Arc::new(snapshot));
        self.shared.revisions.send_replace(self.revision);
    }

    fn connected(&mut self) {
        self.backoff.reset();
        self.shared.watches.fetch_add(1, Ordering::Relaxed);
        if !self.shared.connected.swap(true, Ordering::Relaxed) {
            info!(revision = self.revision, "rules watch re-established");
        }
    }

    fn disconnected(&mut self, e: Error) {
        if self.shared.connected.swap(false, Ordering::Relaxed) {
            warn!(
                revision = self.revision,
                "lost etcd, serving the last-known-good rules: {e}"
            );
        }
        self.shared.last_error.store(Some(Arc::new(e.to_string())));
    }

    /// Waits out the back-off, then starts over with a fresh client (a channel that saw
    /// its server die is not trusted to recover).
    async fn pause(&mut self) {
        tokio::time::sleep(self.backoff.next_delay()).await;
        match Etcd::connect(&self.config).await {
            Ok(etcd) => self.etcd = etcd,
            Err(e) => self.disconnected(e),
        }
    }
}
