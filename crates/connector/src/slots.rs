//! Carrier bind slots, leased in etcd, so that all connectors together never open more
//! binds to a carrier than it allows.
//!
//! A carrier with `binds: n` has submitting slots `0..n` and, with `tx+rx`, receiver slots
//! `n..n + receiver_binds`. Slot `s` of carrier `c` is the key `<prefix>binds/<c>/<s>`,
//! valued with the holder's node id and attached to that connector's lease: it is taken
//! with a transaction that creates the key only if absent, and given up with one that
//! deletes it only if it still hangs on our lease. A connector opens a bind only for a
//! slot it holds, and closes the bind before it gives the slot up, so open binds never
//! exceed the keys, and the keys never exceed the limit.
//!
//! A connector that dies stops renewing its lease; etcd deletes its keys when the lease
//! runs out, and the others take the slots. A connector that cannot renew its lease for
//! two thirds of the TTL closes all its binds before etcd can give them away
//! (`LeaseState::Lost`), then starts over with a new lease.
//!
//! Fair share: each connector holds at most `ceil(slots / live connectors)` of a carrier's
//! slots of each kind ([`target_slots`]), the live connectors being those registered under
//! `<prefix>nodes/connector/` (plus itself). When a connector joins, the others give up
//! their surplus and it takes them.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use etcd_client::{
    Compare, CompareOp, GetOptions, PutOptions, Txn, TxnOp, WatchOptions, WatchStream,
};
use tokio::sync::watch;
use tokio::time::{Instant, MissedTickBehavior};

use crate::error::ConnectorError;
use herald_backoff::Backoff;

/// Longest wait for one etcd request.
const ETCD_TIMEOUT: Duration = Duration::from_secs(5);

/// Most slots of one kind a connector may hold: an even share, rounded up.
pub fn target_slots(total: u32, live_connectors: usize) -> u32 {
    let live = u32::try_from(live_connectors.max(1)).unwrap_or(u32::MAX);
    total.div_ceil(live)
}

/// Where this connector's lease stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LeaseState {
    /// No lease yet (etcd unreachable at start).
    Pending,
    /// Held and renewed: the id to attach slots to.
    Alive(i64),
    /// Not renewed in time: every bind must close now; a new lease follows.
    Lost,
}

/// Keeps a lease of `ttl` alive for ever, granting a new one whenever it is lost.
pub(crate) async fn keep_lease(
    mut client: etcd_client::Client,
    ttl: Duration,
    state: watch::Sender<LeaseState>,
    backoff_min: Duration,
    backoff_max: Duration,
) {
    let ttl_secs = i64::try_from(ttl.as_secs().max(1)).unwrap_or(i64::MAX);
    let mut backoff = Backoff::new(backoff_min.min(Duration::from_secs(1)), backoff_max);
    loop {
        let granted = tokio::time::timeout(ETCD_TIMEOUT, async {
            let lease = client.lease_grant(ttl_secs, None).await?.id();
            let (keeper, stream) = client.lease_keep_alive(lease).await?;
            Ok::<_, etcd_client::Error>((lease, keeper, stream))
        })
        .await;
        let (lease, mut keeper, mut stream) = match granted {
            Ok(Ok(granted)) => granted,
            Ok(Err(error)) => {
                tracing::warn!(%error, "cannot obtain a bind-slot lease");
                tokio::time::sleep(backoff.next_delay()).await;
                continue;
            }
            Err(_) => {
                tracing::warn!("cannot obtain a bind-slot lease: etcd timed out");
                tokio::time::sleep(backoff.next_delay()).await;
                continue;
            }
        };
        backoff.reset();
        tracing::info!(lease, "bind-slot lease granted");
        let _ = state.send(LeaseState::Alive(lease));
        let mut last_ok = Instant::now();
        let mut tick = tokio::time::interval((ttl / 3).max(Duration::from_millis(100)));
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        // Give up well before etcd could expire the lease and hand our slots out.
        let limit = ttl * 2 / 3;
        let reason = 'renew: loop {
            let interruption = tokio::select! {
                _ = tick.tick() => {
                    if last_ok.elapsed() > limit {
                        break 'renew "not renewed in time".to_owned();
                    }
                    match keeper.keep_alive().await {
                        Ok(()) => continue,
                        Err(error) => error.to_string(),
                    }
                }
                message = stream.message() => match message {
                    Ok(Some(response)) if response.ttl() > 0 => {
                        last_ok = Instant::now();
                        continue;
                    }
                    Ok(Some(_)) => break 'renew "expired".to_owned(),
                    Ok(None) => "keep-alive stream closed".to_owned(),
                    Err(error) => error.to_string(),
                },
                () = tokio::time::sleep_until(last_ok + limit) => {
                    break 'renew "not renewed in time".to_owned();
                }
            };
            // The stream to one etcd member broke (that member died, say), but the lease
            // lives on in the cluster until its TTL: renew it through another member if
            // one answers in time, rather than closing every carrier bind.
            tracing::warn!(lease, reason = %interruption, "bind-slot lease keep-alive interrupted; resuming it");
            match resume_keep_alive(&mut client, lease, last_ok + limit).await {
                Some((resumed_keeper, resumed_stream)) => {
                    keeper = resumed_keeper;
                    stream = resumed_stream;
                    // Opening the stream renewed the lease (etcd answered with its TTL).
                    last_ok = Instant::now();
                    if let Err(error) = keeper.keep_alive().await {
                        break 'renew error.to_string();
                    }
                }
                None => break 'renew interruption,
            }
        };
        tracing::warn!(lease, %reason, "bind-slot lease lost: closing every bind");
        let _ = state.send(LeaseState::Lost);
        // If etcd still has it, it holds nothing we use any more.
        // Best effort, bounded: a lease not revoked expires by its TTL.
        let _ = tokio::time::timeout(Duration::from_secs(1), client.lease_revoke(lease)).await;
        tokio::time::sleep(backoff.next_delay()).await;
    }
}

/// Opens a new keep-alive stream for `lease` (through whichever etcd member answers),
/// trying until `deadline`; `None` when none could be had in time.
async fn resume_keep_alive(
    client: &mut etcd_client::Client,
    lease: i64,
    deadline: Instant,
) -> Option<(etcd_client::LeaseKeeper, etcd_client::LeaseKeepAliveStream)> {
    while Instant::now() < deadline {
        match tokio::time::timeout_at(deadline, client.lease_keep_alive(lease)).await {
            Ok(Ok(pair)) => return Some(pair),
            // Gone from etcd (expired, revoked): nothing to resume.
            Ok(Err(error)) if error.to_string().contains("lease not found") => return None,
            Ok(Err(error)) => tracing::debug!(lease, %error, "keep-alive not resumed yet"),
            Err(_) => return None,
        }
        tokio::time::sleep(Duration::from_millis(100).min(deadline - Instant::now())).await;
    }
    None
}

/// The slot keys in etcd.
#[derive(Clone)]
pub(crate) struct SlotStore {
    client: etcd_client::Client,
    prefix: String,
    node: String,
}

impl SlotStore {
    pub(crate) fn new(client: etcd_client::Client, prefix: &str, node: &str) -> Self {
        SlotStore {
            client,
            prefix: prefix.to_owned(),
            node: node.to_owned(),
        }
    }

    /// `<prefix>binds/<carrier>/<slot>`.
    pub(crate) fn key(&self, carrier: &str, slot: u32) -> String {
        format!("{}binds/{carrier}/{slot}", self.prefix)
    }

    fn carrier_prefix(&self, carrier: &str) -> String {
        format!("{}binds/{carrier}/", self.prefix)
    }

    fn nodes_prefix(&self) -> String {
        format!("{}nodes/connector/", self.prefix)
    }

    /// The connectors registered now, this one included.
    pub(crate) async fn live_connectors(&self) -> Result<BTreeSet<String>, ConnectorError> {
        let prefix = self.nodes_prefix();
        let mut client = self.client.clone();
        let response = etcd(
            "list connectors",
            client.get(
                prefix.clone(),
                Some(GetOptions::new().with_prefix().with_keys_only()),
            ),
        )
        .await?;
        let mut live: BTreeSet<String> = response
            .kvs()
            .iter()
            .filter_map(|kv| {
                let key = std::str::from_utf8(kv.key()).ok()?;
                key.strip_prefix(prefix.as_str()).map(str::to_owned)
            })
            .collect();
        live.insert(self.node.clone());
        Ok(live)
    }

    /// The slots of `carrier` held by anyone, with the lease each hangs on.
    pub(crate) async fn holders(
        &self,
        carrier: &str,
    ) -> Result<BTreeMap<u32, i64>, ConnectorError> {
        let prefix = self.carrier_prefix(carrier);
        let mut client = self.client.clone();
        let response = etcd(
            "list slots",
            client.get(
                prefix.clone(),
                Some(GetOptions::new().with_prefix().with_keys_only()),
            ),
        )
        .await?;
        Ok(response
            .kvs()
            .iter()
            .filter_map(|kv| {
                let key = std::str::from_utf8(kv.key()).ok()?;
                let slot = key.strip_prefix(prefix.as_str())?.parse().ok()?;
                Some((slot, kv.lease()))
            })
            .collect())
    }

    /// Takes `slot` of `carrier` under `lease` if nobody holds it.
    pub(crate) async fn try_acquire(
        &self,
        carrier: &str,
        slot: u32,
        lease: i64,
    ) -> Result<bool, ConnectorError> {
        let key = self.key(carrier, slot);
        let txn = Txn::new()
            .when([Compare::create_revision(key.clone(), CompareOp::Equal, 0)])
            .and_then([TxnOp::put(
                key,
                self.node.clone(),
                Some(PutOptions::new().with_lease(lease)),
            )]);
        let mut client = self.client.clone();
        Ok(etcd("acquire slot", client.txn(txn)).await?.succeeded())
    }

    /// Gives `slot` up if it still hangs on `lease`.
    pub(crate) async fn release(
        &self,
        carrier: &str,
        slot: u32,
        lease: i64,
    ) -> Result<(), ConnectorError> {
        let key = self.key(carrier, slot);
        let txn = Txn::new()
            .when([Compare::lease(key.clone(), CompareOp::Equal, lease)])
            .and_then([TxnOp::delete(key, None)]);
        let mut client = self.client.clone();
        etcd("release slot", client.txn(txn)).await.map(drop)
    }

    /// Revokes `lease`: every slot on it is released at once.
    pub(crate) async fn revoke(&self, lease: i64) -> Result<(), ConnectorError> {
        let mut client = self.client.clone();
        etcd("revoke lease", client.lease_revoke(lease))
            .await
            .map(drop)
    }

    /// Watches slot and connector changes: any event is a reason to reconcile.
    pub(crate) async fn watch(&self) -> Result<WatchStream, ConnectorError> {
        let mut client = self.client.clone();
        let mut stream = etcd(
            "watch slots",
            client.watch(
                format!("{}binds/", self.prefix),
                Some(WatchOptions::new().with_prefix()),
            ),
        )
        .await?;
        etcd(
            "watch connectors",
            stream.watch(self.nodes_prefix(), Some(WatchOptions::new().with_prefix())),
        )
        .await?;
        Ok(stream)
    }
}

async fn etcd<T>(
    action: &'static str,
    call: impl Future<Output = Result<T, etcd_client::Error>>,
) -> Result<T, ConnectorError> {
    match tokio::time::timeout(ETCD_TIMEOUT, call).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(source)) => Err(ConnectorError::Etcd { action, source }),
        Err(_) => Err(ConnectorError::EtcdTimeout { action }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fair_share_rounds_up_and_never_exceeds_the_total() {
        assert_eq!(target_slots(4, 1), 4);
        assert_eq!(target_slots(4, 2), 2);
        assert_eq!(target_slots(4, 3), 2);
        assert_eq!(target_slots(1, 3), 1);
        assert_eq!(target_slots(3, 0), 3);
        assert_eq!(target_slots(0, 2), 0);
        for total in 0..20u32 {
            for live in 1..8usize {
                let t = target_slots(total, live);
                assert!(t <= total);
                // Enough room for every slot to be held.
                assert!(t as usize * live >= total as usize);
            }
        }
    }
}
