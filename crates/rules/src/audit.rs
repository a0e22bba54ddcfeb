//! The audit log's storage: one record per change made through the admin API, under
//! `<prefix>audit/<unix ms, 13 digits>-<16 hex digits>`, written in the same etcd
//! transaction as the change it records (no change without its record, no record of a
//! change that did not happen). Records older than the retention are deleted by the same
//! transactions. The record's body is the writer's (the control plane's JSON); its
//! `mod_revision` is the revision the change wrote.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use etcd_client::{DeleteOptions, GetOptions, SortOrder, SortTarget, TxnOp};

use crate::client::RulesClient;
use crate::error::Error;
use crate::etcd::revision_of;

/// The key segment under the prefix that holds audit records.
pub const AUDIT_SEGMENT: &str = "audit";

/// A record to write with a change.
#[derive(Clone, Debug)]
pub struct AuditWrite {
    /// When the change is made (the key's time).
    pub at: SystemTime,
    /// The record, as the writer encodes it.
    pub body: Vec<u8>,
    /// Records older than `at - retention` are deleted by the same transaction.
    pub retention: Duration,
}

/// A record as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredAudit {
    /// The record, as written.
    pub body: Vec<u8>,
    /// The revision of the transaction that wrote it: the change's revision.
    pub revision: u64,
}

impl AuditWrite {
    /// The transaction operations that write this record under `prefix` and prune the
    /// expired ones.
    pub(crate) fn ops(&self, prefix: &str) -> Vec<TxnOp> {
        let at = unix_ms(self.at);
        let cutoff =
            at.saturating_sub(u64::try_from(self.retention.as_millis()).unwrap_or(u64::MAX));
        let key = format!("{prefix}{AUDIT_SEGMENT}/{at:013}-{:016x}", unique());
        vec![
            TxnOp::put(key, self.body.clone(), None),
            TxnOp::delete(
                format!("{prefix}{AUDIT_SEGMENT}/"),
                Some(
                    DeleteOptions::new()
                        .with_range(format!("{prefix}{AUDIT_SEGMENT}/{cutoff:013}")),
                ),
            ),
        ]
    }
}

impl RulesClient {
    /// Writes `record` on its own (a change that is not a rules write, like a drain); the
    /// revision it was written at.
    pub async fn append_audit(&self, record: &AuditWrite) -> Result<u64, Error> {
        let txn = etcd_client::Txn::new().and_then(record.ops(self.prefix()));
        let response = self
            .etcd
            .call("audit", |mut c| async move { c.txn(txn).await })
            .await?;
        Ok(response.header().map_or(0, |h| revision_of(h.revision())))
    }

    /// The newest `limit` audit records, newest first.
    pub async fn list_audit(&self, limit: usize) -> Result<Vec<StoredAudit>, Error> {
        let prefix = format!("{}{AUDIT_SEGMENT}/", self.prefix());
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let response = self
            .etcd
            .call("audit list", |mut c| {
                let prefix = prefix.clone();
                async move {
                    let options = GetOptions::new()
                        .with_prefix()
                        .with_sort(SortTarget::Key, SortOrder::Descend)
                        .with_limit(limit);
                    c.get(prefix, Some(options)).await
                }
            })
            .await?;
        Ok(response
            .kvs()
            .iter()
            .map(|kv| StoredAudit {
                body: kv.value().to_vec(),
                revision: revision_of(kv.mod_revision()),
            })
            .collect())
    }
}

fn unix_ms(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// A value unlikely to repeat, so that two control nodes writing in the same millisecond
/// write two keys (the standard library's randomly keyed hasher over a counter).
fn unique() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    hasher.finish()
}
