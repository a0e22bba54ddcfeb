//! Carrier bind slots, leased in etcd, so that all connectors together never open more
//! binds to a carrier than it allows.
//!
//! A carrier with `binds: n` has submitting slots `0..n` and, with `tx+rx`, receiver slots
//! `n..n + receiver_binds`. Slot `s` of carrier `c` is the key `<prefix>binds/<c>/<s>`,
//! valued with the holder's node id and attached to that connector's lease: it is taken
//! with a transaction that creates the key only if absent, and given up with one that
//! deletes it only if it still hangs on our lease. A connector opens a bind only for a
//! slot it holds, and closes the bind before it gives the slot up, so while every
//! connector reaches etcd open binds never exceed the keys, and the keys never exceed the
//! limit.
//!
//! A connector that dies stops renewing its lease; etcd deletes its keys when the lease
//! runs out, and the others take the slots. A connector that cannot renew its lease for
//! two thirds of the TTL (`LeaseState::Unreachable`) keeps the binds it holds but takes
//! no slot, for at most `connector.etcd_unreachable_grace`; when etcd answers again it
//! resumes the same lease, or takes a new one and claims its slots again
//! (`SlotStore::reclaim`), closing the bind of any slot another connector took
//! meanwhile. docs/adr/0014 bounds the binds a carrier may see in between.
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
    /// Not renewed for two thirds of the TTL since `since`, etcd's last renewal: etcd may
    /// expire the lease and give its slots away at any moment. The binds held stay up (no
    /// new one opens) until etcd answers again, or until `connector.etcd_unreachable_grace`
    /// after `since`, when they close (docs/adr/0014).
    Unreachable {
        /// When etcd last renewed the lease.
        since: Instant,
    },
}

/// Longest pause between two attempts to reach etcd again: an attempt is one small
/// request, and every second of waiting after etcd is back is a second of binds held
/// without a lease.
const ETCD_RETRY_MAX: Duration = Duration::from_secs(2);

/// Keeps a lease of `ttl` alive for ever. When etcd stops renewing it, it says
/// [`LeaseState::Unreachable`] and keeps trying: first to resume the same lease (etcd
/// keeps leases through its own restart and extends them when a leader is elected), and
/// if etcd no longer has it, to grant a new one.
pub(crate) async fn keep_lease(
    mut client: etcd_client::Client,
    ttl: Duration,
    state: watch::Sender<LeaseState>,
    backoff_min: Duration,
) {
    let ttl_secs = i64::try_from(ttl.as_secs().max(1)).unwrap_or(i64::MAX);
    let mut backoff = Backoff::new(backoff_min.min(Duration::from_secs(1)), ETCD_RETRY_MAX);
    // The lease our slots hang on, to resume before granting another.
    let mut previous: Option<i64> = None;
    loop {
        let (lease, mut keeper, mut stream) =
            match obtain_lease(&mut client, previous, ttl_secs).await {
                Ok(obtained) => obtained,
                Err(reason) => {
                    tracing::warn!(%reason, "cannot obtain a bind-slot lease");
                    tokio::time::sleep(backoff.next_delay()).await;
                    continue;
                }
            };
        backoff.reset();
        if previous == Some(lease) {
            tracing::info!(lease, "bind-slot lease resumed");
        } else {
            tracing::info!(lease, "bind-slot lease granted");
        }
        previous = Some(lease);
        let _ = state.send(LeaseState::Alive(lease));
        let mut last_ok = Instant::now();
        let mut tick = tokio::time::interval((ttl / 3).max(Duration::from_millis(100)));
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        // Stop counting on the lease well before etcd could expire it and hand our slots
        // out: from then on no slot may be taken on it.
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
            // one answers in time.
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
        tracing::warn!(lease, %reason, "bind-slot lease not renewed: keeping the binds held, taking no slot, until etcd answers");
        let _ = state.send(LeaseState::Unreachable { since: last_ok });
        tokio::time::sleep(backoff.next_delay()).await;
    }
}

/// Resumes `previous` if etcd still has it, or grants a new lease; with its keep-alive.
async fn obtain_lease(
    client: &mut etcd_client::Client,
    previous: Option<i64>,
    ttl_secs: i64,
) -> Result<
    (
        i64,
        etcd_client::LeaseKeeper,
        etcd_client::LeaseKeepAliveStream,
    ),
    String,
> {
    let attempt = async {
        if let Some(lease) = previous {
            match client.lease_keep_alive(lease).await {
                Ok((keeper, stream)) => return Ok((lease, keeper, stream)),
                // Expired or revoked: a new one, and the slots are claimed again.
                Err(error) if lease_not_found(&error) => {}
                Err(error) => return Err(error),
            }
        }
        let lease = client.lease_grant(ttl_secs, None).await?.id();
        let (keeper, stream) = client.lease_keep_alive(lease).await?;
        Ok((lease, keeper, stream))
    };
    match tokio::time::timeout(ETCD_TIMEOUT, attempt).await {
        Ok(Ok(obtained)) => Ok(obtained),
        Ok(Err(error)) => Err(error.to_string()),
        Err(_) => Err("etcd timed out".to_owned()),
    }
}

/// The client's answer when a keep-alive finds no such lease (etcd answers TTL 0).
fn lease_not_found(error: &etcd_client::Error) -> bool {
    error.to_string().contains("lease not found")
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
            Ok(Err(error)) if lease_not_found(&error) => return None,
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

    /// Claims `slot` of `carrier`, held by this connector before it lost etcd, under
    /// `lease`: taken if nobody holds it, moved onto `lease` if its key still names this
    /// node (it hangs on our old lease, or already on `lease`). False when another
    /// connector took it meanwhile: the bind on it is surplus.
    pub(crate) async fn reclaim(
        &self,
        carrier: &str,
        slot: u32,
        lease: i64,
    ) -> Result<bool, ConnectorError> {
        if self.try_acquire(carrier, slot, lease).await? {
            return Ok(true);
        }
        let key = self.key(carrier, slot);
        let txn = Txn::new()
            .when([Compare::value(
                key.clone(),
                CompareOp::Equal,
                self.node.clone(),
            )])
            .and_then([TxnOp::put(
                key,
                self.node.clone(),
                Some(PutOptions::new().with_lease(lease)),
            )]);
        let mut client = self.client.clone();
        Ok(etcd("reclaim slot", client.txn(txn)).await?.succeeded())
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
