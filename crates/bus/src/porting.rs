//! The ported-numbers snapshot: one object in the `herald_porting` object store, written
//! whole by the control plane after each import and followed by every router.
//!
//! The snapshot is the encoded form of `herald_rules::porting::PortingTable` (tens of
//! millions of numbers in about 10 bytes each): too big for a KV value or an etcd key,
//! and read whole anyway, so it lives as one object, chunked by JetStream's object store
//! and replicated like the streams. Storing a new snapshot replaces the old one (the
//! object store purges the old chunks); a follower sees the change on the store's watch,
//! fetches the new object and swaps the decoded table in, so lookups never wait for a
//! reload and never lock. This crate does not know the table: the follower takes the
//! decoder.

use std::collections::HashMap;
use std::fmt::Display;
use std::sync::{Arc, Weak};
use std::time::Duration;

use arc_swap::ArcSwapOption;
use async_nats::jetstream::{self, object_store};
use futures::StreamExt as _;
use tokio::io::AsyncReadExt as _;

use crate::error::BusError;
use crate::topology::PORTING_BUCKET;

/// The object's name in [`PORTING_BUCKET`].
pub const PORTING_OBJECT: &str = "ported-numbers";

/// What is known of the stored snapshot without reading it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SnapshotInfo {
    /// Its size in bytes.
    pub size: u64,
    /// When it was stored, in Unix milliseconds (0: unknown).
    pub stored_unix_ms: i64,
    /// The object's unique id; a new snapshot has a new one.
    pub nuid: String,
    /// What the writer recorded with it (counts, who imported it).
    pub metadata: HashMap<String, String>,
}

impl SnapshotInfo {
    fn of(info: &object_store::ObjectInfo) -> SnapshotInfo {
        SnapshotInfo {
            size: info.size as u64,
            stored_unix_ms: info.modified.map_or(0, |t| {
                i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(0)
            }),
            nuid: info.nuid.clone(),
            metadata: info.metadata.clone(),
        }
    }
}

/// The `herald_porting` object store.
#[derive(Clone)]
pub struct PortingStore {
    store: object_store::ObjectStore,
}

impl std::fmt::Debug for PortingStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PortingStore").finish_non_exhaustive()
    }
}

fn store_error(action: &'static str, source: impl Into<crate::error::NatsError>) -> BusError {
    BusError::Object {
        bucket: PORTING_BUCKET,
        action,
        source: source.into(),
    }
}

impl PortingStore {
    pub(crate) async fn open(jetstream: &jetstream::Context) -> Result<Self, BusError> {
        let store = jetstream
            .get_object_store(PORTING_BUCKET)
            .await
            .map_err(|e| store_error("open", e))?;
        Ok(PortingStore { store })
    }

    /// Stores `snapshot` as the current one, with `metadata`; replaces the one before.
    pub async fn put(
        &self,
        snapshot: &[u8],
        metadata: HashMap<String, String>,
    ) -> Result<SnapshotInfo, BusError> {
        let meta = object_store::ObjectMetadata {
            name: PORTING_OBJECT.to_owned(),
            description: Some("Herald ported numbers (encoded PortingTable)".to_owned()),
            // Fewer, larger chunks: a snapshot is read whole.
            // Well under NATS's 1 MiB default max_payload.
            chunk_size: Some(256 * 1024),
            metadata,
            headers: None,
        };
        let mut reader = snapshot;
        let info = self
            .store
            .put(meta, &mut reader)
            .await
            .map_err(|e| store_error("put", e))?;
        Ok(SnapshotInfo::of(&info))
    }

    /// What is known of the current snapshot; `None` when none was ever stored.
    pub async fn info(&self) -> Result<Option<SnapshotInfo>, BusError> {
        match self.store.info(PORTING_OBJECT).await {
            Ok(info) if info.deleted => Ok(None),
            Ok(info) => Ok(Some(SnapshotInfo::of(&info))),
            Err(e) if e.kind() == object_store::InfoErrorKind::NotFound => Ok(None),
            Err(e) => Err(store_error("info", e)),
        }
    }

    /// The current snapshot's bytes and what is known of it; `None` when none was stored.
    pub async fn get(&self) -> Result<Option<(Vec<u8>, SnapshotInfo)>, BusError> {
        let mut object = match self.store.get(PORTING_OBJECT).await {
            Ok(object) => object,
            Err(e) if e.kind() == object_store::GetErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(store_error("get", e)),
        };
        let info = SnapshotInfo::of(object.info());
        let mut bytes = Vec::with_capacity(usize::try_from(info.size).unwrap_or(0));
        // A snapshot replaced while it is read has its chunks purged under the reader,
        // which would then wait forever: give up after a generous time for its size, and
        // the follower reads the new one.
        let patience = Duration::from_secs(60) + Duration::from_secs(info.size / (10 << 20));
        tokio::time::timeout(patience, object.read_to_end(&mut bytes))
            .await
            .map_err(|_| store_error("read", "the snapshot's chunks stopped coming"))?
            .map_err(|e| store_error("read", e))?;
        Ok(Some((bytes, info)))
    }

    /// Follows the snapshot: reads the current one, then swaps in each new one as it is
    /// stored, decoded with `decode`. A snapshot that does not decode is logged and
    /// skipped (the last good one keeps serving). Ends when the returned handle and its
    /// clones are dropped.
    pub async fn follow<T, E, F>(&self, decode: F) -> Result<FollowedSnapshot<T>, BusError>
    where
        T: Send + Sync + 'static,
        E: Display + Send + 'static,
        F: Fn(&[u8]) -> Result<T, E> + Send + Sync + 'static,
    {
        let decode = Arc::new(decode);
        let followed = FollowedSnapshot {
            current: Arc::new(ArcSwapOption::empty()),
        };
        // Watch first, then read: a snapshot stored in between is seen by the watch.
        let watch = self
            .store
            .watch()
            .await
            .map_err(|e| store_error("watch", e))?;
        let mut seen = String::new();
        self.load(&followed.current, &decode, &mut seen).await?;
        let weak = Arc::downgrade(&followed.current);
        let store = self.clone();
        tokio::spawn(async move { store.keep_following(weak, decode, watch, seen).await });
        Ok(followed)
    }

    /// Reads the current snapshot into `current` unless its nuid is `seen`.
    async fn load<T, E, F>(
        &self,
        current: &ArcSwapOption<T>,
        decode: &Arc<F>,
        seen: &mut String,
    ) -> Result<(), BusError>
    where
        T: Send + Sync + 'static,
        E: Display + Send + 'static,
        F: Fn(&[u8]) -> Result<T, E> + Send + Sync + 'static,
    {
        let Some((bytes, info)) = self.get().await? else {
            current.store(None);
            seen.clear();
            return Ok(());
        };
        if info.nuid == *seen {
            return Ok(());
        }
        // Tens of millions of numbers take a few hundred milliseconds to check and decode:
        // not on the runtime's workers, which route meanwhile.
        let decoder = decode.clone();
        let decoded = tokio::task::spawn_blocking(move || decoder(&bytes))
            .await
            .map_err(|e| store_error("decode", e))?;
        match decoded {
            Ok(value) => {
                current.store(Some(Arc::new(value)));
                tracing::info!(bytes = info.size, "ported numbers loaded");
            }
            Err(error) => {
                tracing::error!(%error, bytes = info.size,
                    "the stored ported-numbers snapshot does not decode; keeping the last one");
            }
        }
        *seen = info.nuid;
        Ok(())
    }

    async fn keep_following<T, E, F>(
        self,
        current: Weak<ArcSwapOption<T>>,
        decode: Arc<F>,
        mut watch: object_store::Watch,
        mut seen: String,
    ) where
        T: Send + Sync + 'static,
        E: Display + Send + 'static,
        F: Fn(&[u8]) -> Result<T, E> + Send + Sync + 'static,
    {
        let mut backoff =
            herald_backoff::Backoff::new(Duration::from_millis(200), Duration::from_secs(10));
        loop {
            let changed = watch.next().await;
            let Some(target) = current.upgrade() else {
                return;
            };
            let result = match changed {
                Some(Ok(info)) if info.name == PORTING_OBJECT => {
                    self.load(&target, &decode, &mut seen).await
                }
                Some(Ok(_)) => Ok(()),
                Some(Err(e)) => Err(store_error("watch", e)),
                None => Err(store_error("watch", "the watch ended")),
            };
            drop(target);
            if let Err(error) = result {
                let delay = backoff.next_delay();
                tracing::warn!(%error, retry_in = ?delay, "ported-numbers watch lost; reading again");
                tokio::time::sleep(delay).await;
                match self.store.watch().await {
                    Ok(again) => watch = again,
                    Err(_) => continue,
                }
                if let Some(target) = current.upgrade()
                    && self.load(&target, &decode, &mut seen).await.is_ok()
                {
                    backoff.reset();
                }
            } else {
                backoff.reset();
            }
        }
    }
}

/// The followed snapshot, decoded: cheap to clone, read without locking.
pub struct FollowedSnapshot<T> {
    current: Arc<ArcSwapOption<T>>,
}

impl<T> Clone for FollowedSnapshot<T> {
    fn clone(&self) -> Self {
        FollowedSnapshot {
            current: self.current.clone(),
        }
    }
}

impl<T> std::fmt::Debug for FollowedSnapshot<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FollowedSnapshot")
            .field("loaded", &self.current.load().is_some())
            .finish()
    }
}

impl<T> FollowedSnapshot<T> {
    /// The snapshot now; `None` when none is stored (or none decoded yet).
    pub fn load(&self) -> Option<Arc<T>> {
        self.current.load_full()
    }

    /// The snapshot now, borrowed for a short read (one routing decision): no reference
    /// count is touched, so readers on every worker do not contend.
    pub fn guard(&self) -> arc_swap::Guard<Option<Arc<T>>> {
        self.current.load()
    }

    /// A handle that never has a snapshot (a role or a test without porting).
    pub fn none() -> Self {
        FollowedSnapshot {
            current: Arc::new(ArcSwapOption::empty()),
        }
    }
}
