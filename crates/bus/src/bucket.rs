//! A KV bucket as every store of the bus uses it ([`crate::kv`], [`crate::idempotency`],
//! [`crate::lockouts`]): opened by name, and each operation counted in
//! `herald_bus_kv_operations_total{bucket, op}`, so that what a message costs in KV round
//! trips can be measured per role (the cluster benchmark prints it per 1,000 messages).
//!
//! The counters are resolved once per bucket when it is opened: an operation pays an
//! atomic add, no registry lookup.

use async_nats::jetstream::{self, kv};
use bytes::Bytes;
use herald_telemetry::names;
use metrics::Counter;

use crate::error::BusError;

/// A KV bucket whose operations are counted.
#[derive(Clone, Debug)]
pub(crate) struct Bucket {
    store: kv::Store,
    ops: Ops,
}

/// One counter per operation of one bucket.
#[derive(Clone, Debug)]
struct Ops {
    get: Counter,
    entry: Counter,
    put: Counter,
    put_unanswered: Counter,
    create: Counter,
    update: Counter,
    keys: Counter,
    history: Counter,
    delete: Counter,
}

impl Ops {
    fn of(bucket: &'static str) -> Self {
        let op = |op: &'static str| {
            metrics::counter!(
                names::BUS_KV_OPERATIONS_TOTAL,
                names::labels::BUCKET => bucket,
                names::labels::OP => op
            )
        };
        Ops {
            get: op("get"),
            entry: op("entry"),
            put: op("put"),
            put_unanswered: op("put_unanswered"),
            create: op("create"),
            update: op("update"),
            keys: op("keys"),
            history: op("history"),
            delete: op("delete"),
        }
    }
}

impl Bucket {
    /// Opens the bucket `name`, which the topology has declared.
    pub(crate) async fn open(
        jetstream: &jetstream::Context,
        name: &'static str,
    ) -> Result<Self, BusError> {
        Bucket::open_partition(jetstream, name, 0).await
    }

    /// Opens partition `index` of the bucket `base` ([`crate::partition`]); its
    /// operations are counted under `base`.
    pub(crate) async fn open_partition(
        jetstream: &jetstream::Context,
        base: &'static str,
        index: usize,
    ) -> Result<Self, BusError> {
        let store = jetstream
            .get_key_value(crate::partition::bucket_name(base, index))
            .await
            .map_err(|source| BusError::Kv {
                bucket: base,
                action: "open",
                source: Box::new(source),
            })?;
        Ok(Bucket {
            store,
            ops: Ops::of(base),
        })
    }

    /// The value of `key`, if it has one (a deleted or purged key has none).
    pub(crate) async fn get(
        &self,
        key: impl Into<String>,
    ) -> Result<Option<Bytes>, kv::EntryError> {
        self.ops.get.increment(1);
        self.store.get(key).await
    }

    /// The entry of `key` with its revision, for a compare-and-swap.
    pub(crate) async fn entry(
        &self,
        key: impl Into<String>,
    ) -> Result<Option<kv::Entry>, kv::EntryError> {
        self.ops.entry.increment(1);
        self.store.entry(key).await
    }

    /// Writes `value` over whatever `key` holds; its new revision.
    pub(crate) async fn put(
        &self,
        key: impl AsRef<str>,
        value: Bytes,
    ) -> Result<u64, kv::PutError> {
        self.ops.put.increment(1);
        self.store.put(key, value).await
    }

    /// Creates `key` with `value`, failing if it exists.
    pub(crate) async fn create(
        &self,
        key: impl AsRef<str>,
        value: Bytes,
    ) -> Result<u64, kv::CreateError> {
        self.ops.create.increment(1);
        self.store.create(key, value).await
    }

    /// Writes `value` to `key` if its revision is still `revision`.
    pub(crate) async fn update(
        &self,
        key: impl AsRef<str>,
        value: Bytes,
        revision: u64,
    ) -> Result<u64, kv::UpdateError> {
        self.ops.update.increment(1);
        self.store.update(key, value, revision).await
    }

    /// Every key the bucket holds.
    pub(crate) async fn keys(&self) -> Result<kv::Keys, kv::HistoryError> {
        self.ops.keys.increment(1);
        self.store.keys().await
    }

    /// The stored revisions of `key`, oldest first.
    pub(crate) async fn history(
        &self,
        key: impl AsRef<str>,
    ) -> Result<kv::History, kv::HistoryError> {
        self.ops.history.increment(1);
        self.store.history(key).await
    }

    /// Deletes `key` if its revision is still `revision` (any revision when `None`).
    pub(crate) async fn delete_expect_revision(
        &self,
        key: impl AsRef<str>,
        revision: Option<u64>,
    ) -> Result<(), kv::DeleteError> {
        self.ops.delete.increment(1);
        self.store.delete_expect_revision(key, revision).await
    }

    /// Counts a write its caller publishes straight to the bucket's subject, unanswered.
    pub(crate) fn count_put_unanswered(&self) {
        self.ops.put_unanswered.increment(1);
    }

    /// The store itself, for what is not per message (its status, a watch, its subject
    /// prefixes).
    pub(crate) fn store(&self) -> &kv::Store {
        &self.store
    }
}
