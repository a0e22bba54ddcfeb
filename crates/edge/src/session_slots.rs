//! An account's bind limit across every edge: one etcd key per bind slot.
//!
//! Slot `n` of account `a` is `<prefix>sessions/<a>/<n>`, for `n` below the account's
//! `max_binds`. A bind claims a free slot with a transaction that creates the
//! key only if it does not exist, under the node's registration lease, and frees it when
//! the session ends. Two edges racing for the last slot cannot both win, so the limit
//! holds exactly across the cluster; the slots of an edge that dies go with its lease.
//!
//! While etcd cannot be reached, binds are counted on this edge only: known accounts
//! keep binding during an etcd outage, at the cost of the cross-edge limit.

use std::sync::Arc;

use etcd_client::{Compare, CompareOp, Txn, TxnOp};
use herald_rules::NodeRegistration;

/// Claims and frees session slots in etcd.
#[derive(Clone)]
pub struct SessionSlots {
    etcd: etcd_client::Client,
    prefix: String,
    registration: Arc<NodeRegistration>,
    node_id: String,
    /// Keys of ended sessions, deleted by one task: a held slot costs its key, not a
    /// client of its own.
    release: tokio::sync::mpsc::UnboundedSender<String>,
}

impl std::fmt::Debug for SessionSlots {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionSlots")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

/// What claiming found.
#[derive(Debug)]
pub enum Claim {
    /// A slot is this session's until the guard drops.
    Held(SlotGuard),
    /// Every slot is taken.
    Full,
    /// etcd did not answer; the caller decides locally.
    Unknown,
}

impl SessionSlots {
    /// Slots under `prefix` (the rules prefix, ending in `/`), leased with the node's
    /// registration lease.
    pub fn new(
        etcd: etcd_client::Client,
        prefix: impl Into<String>,
        registration: Arc<NodeRegistration>,
        node_id: impl Into<String>,
    ) -> Self {
        let (release, mut released) = tokio::sync::mpsc::unbounded_channel::<String>();
        let mut deleter = etcd.clone();
        tokio::spawn(async move {
            while let Some(key) = released.recv().await {
                if let Err(err) = deleter.delete(key.clone(), None).await {
                    // The lease frees it when this node goes; until then it counts.
                    tracing::warn!(%key, error = %err, "session slot not freed");
                }
            }
        });
        SessionSlots {
            etcd,
            prefix: prefix.into(),
            registration,
            node_id: node_id.into(),
            release,
        }
    }

    /// Claims a free slot of `account`, one of `max_binds`.
    ///
    /// A few slots picked at random are tried first, so an account with thousands of
    /// binds still binds in one or two round trips; when those are taken, one range read
    /// lists the slots held and the free ones are tried in order.
    pub async fn claim(&self, account: &str, max_binds: u32) -> Claim {
        if max_binds == 0 {
            return Claim::Full;
        }
        let mut candidates: Vec<u32> = (0..RANDOM_PROBES.min(max_binds))
            .map(|i| probe(account, i) % max_binds)
            .collect();
        candidates.dedup();
        match self.try_slots(account, candidates).await {
            Claim::Full => {}
            settled => return settled,
        }
        let prefix = format!("{}sessions/{account}/", self.prefix);
        let mut etcd = self.etcd.clone();
        let listing = tokio::time::timeout(
            std::time::Duration::from_secs(2),
            etcd.get(
                prefix.clone(),
                Some(
                    etcd_client::GetOptions::new()
                        .with_prefix()
                        .with_keys_only(),
                ),
            ),
        )
        .await;
        let held: std::collections::HashSet<u32> = match listing {
            Ok(Ok(response)) => response
                .kvs()
                .iter()
                .filter_map(|kv| kv.key_str().ok()?.strip_prefix(&prefix)?.parse().ok())
                .collect(),
            Ok(Err(err)) => {
                tracing::warn!(%account, error = %err, "session slots unavailable");
                return Claim::Unknown;
            }
            Err(_) => return Claim::Unknown,
        };
        let mut free: Vec<u32> = (0..max_binds).filter(|slot| !held.contains(slot)).collect();
        // Start at a random free slot: binds racing for the same account then spread over
        // the free slots instead of all contending for the lowest one.
        if !free.is_empty() {
            let start = usize::try_from(probe(account, u32::MAX)).unwrap_or(0) % free.len();
            free.rotate_left(start);
        }
        self.try_slots(account, free).await
    }

    async fn try_slots(&self, account: &str, slots: Vec<u32>) -> Claim {
        let mut etcd = self.etcd.clone();
        let lease = self.registration.lease_id();
        for slot in slots {
            let key = format!("{}sessions/{account}/{slot}", self.prefix);
            let txn = Txn::new()
                .when([Compare::create_revision(key.clone(), CompareOp::Equal, 0)])
                .and_then([TxnOp::put(
                    key.clone(),
                    self.node_id.clone(),
                    Some(etcd_client::PutOptions::new().with_lease(lease)),
                )]);
            let call = tokio::time::timeout(std::time::Duration::from_secs(2), etcd.txn(txn));
            match call.await {
                Ok(Ok(response)) if response.succeeded() => {
                    return Claim::Held(SlotGuard {
                        release: self.release.clone(),
                        key: Some(key),
                    });
                }
                Ok(Ok(_)) => continue,
                Ok(Err(err)) => {
                    tracing::warn!(%account, error = %err, "session slots unavailable");
                    return Claim::Unknown;
                }
                Err(_) => {
                    tracing::warn!(%account, "session slots did not answer");
                    return Claim::Unknown;
                }
            }
        }
        Claim::Full
    }
}

/// Random slots tried before listing the held ones.
const RANDOM_PROBES: u32 = 4;

/// A slot number that differs per call, from the standard library's randomly keyed
/// hasher (no random-number crate needed for spreading probes).
fn probe(account: &str, attempt: u32) -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write(account.as_bytes());
    hasher.write_u32(attempt);
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    u32::try_from(hasher.finish() & u64::from(u32::MAX)).unwrap_or(0)
}

/// A held slot; deleted when dropped (or with the lease, if this edge dies).
pub struct SlotGuard {
    release: tokio::sync::mpsc::UnboundedSender<String>,
    key: Option<String>,
}

impl std::fmt::Debug for SlotGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlotGuard").field("key", &self.key).finish()
    }
}

impl Drop for SlotGuard {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            // With the releasing task gone (shutdown), the lease frees the slot.
            let _ = self.release.send(key);
        }
    }
}
