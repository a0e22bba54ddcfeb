//! Node registration: each process keeps `/herald/v1/nodes/<role>/<id>` alive under a
//! lease, so the cluster can see who is up, at which version and on which rules revision.
//! A process that dies stops renewing, and etcd deletes its key when the lease runs out.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime};

use etcd_client::{GetOptions, LeaseKeepAliveStream, LeaseKeeper, PutOptions};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};
use tracing::{info, warn};

use crate::config::StoreConfig;
use crate::error::Error;
use crate::etcd::Etcd;
use crate::model::is_valid_id;
use herald_backoff::Backoff;

/// What a node says about itself (the value of its key, as JSON).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeInfo {
    /// The role (`edge`, `router`, `connector`, `control`, `dev`).
    pub role: String,
    /// The node id, unique within the role (a pod name): 1 to 253 of `A-Z a-z 0-9 . _ -`.
    pub id: String,
    /// Where it listens, by name (`smpp`, `admin`, `grpc`) → `host:port`.
    #[serde(default)]
    pub addresses: BTreeMap<String, String>,
    /// The software version.
    pub version: String,
    /// The region or zone it runs in (`node.region`), if configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// The rules revision it serves.
    #[serde(default)]
    pub rules_revision: u64,
    /// The SMPP sessions it holds (edges), as of its last registration update; `None` for
    /// other roles and for edges of releases that did not say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sessions: Option<u32>,
    /// When the process started (RFC 3339).
    #[serde(with = "humantime_serde")]
    pub started_at: SystemTime,
}

impl NodeInfo {
    /// A node of `role` with `id` and `version`, started now, with no addresses yet.
    pub fn new(role: impl Into<String>, id: impl Into<String>, version: impl Into<String>) -> Self {
        NodeInfo {
            role: role.into(),
            id: id.into(),
            addresses: BTreeMap::new(),
            version: version.into(),
            region: None,
            rules_revision: 0,
            sessions: None,
            started_at: SystemTime::now(),
        }
    }

    /// In `region` (a region or zone), when there is one.
    pub fn with_region(mut self, region: Option<String>) -> Self {
        self.region = region;
        self
    }

    /// With an address under `name`.
    pub fn with_address(mut self, name: impl Into<String>, address: impl Into<String>) -> Self {
        self.addresses.insert(name.into(), address.into());
        self
    }

    fn validate(&self) -> Result<(), Error> {
        if !is_valid_id(&self.role) {
            return Err(Error::Config(format!(
                "node role {:?} is not an id",
                self.role
            )));
        }
        let id_ok = (1..=253).contains(&self.id.len())
            && self
                .id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if !id_ok {
            return Err(Error::Config(format!(
                "node id {:?} is not a valid node id",
                self.id
            )));
        }
        Ok(())
    }
}

/// One lease and its keep-alive stream.
struct LeaseSession {
    lease: i64,
    keeper: LeaseKeeper,
    stream: LeaseKeepAliveStream,
}

/// This process's registration. The key is renewed in the background every third of the
/// TTL, re-created under a new lease if etcd lost the old one, and rewritten when
/// [`NodeRegistration::update`] changes the info.
///
/// Dropping it stops the renewals, as a crash would: the key disappears within the TTL.
/// [`NodeRegistration::deregister`] removes it at once (graceful shutdown).
pub struct NodeRegistration {
    key: String,
    info: watch::Sender<NodeInfo>,
    lease: Arc<AtomicI64>,
    etcd: Etcd,
    task: JoinHandle<()>,
}

impl NodeRegistration {
    pub(crate) async fn start(
        etcd: Etcd,
        config: StoreConfig,
        info: NodeInfo,
        ttl: Duration,
    ) -> Result<NodeRegistration, Error> {
        info.validate()?;
        let key = format!("{}nodes/{}/{}", config.prefix, info.role, info.id);
        let session = establish(&etcd, &key, &info, ttl).await?;
        let lease = Arc::new(AtomicI64::new(session.lease));
        let (sender, receiver) = watch::channel(info);
        let keeper = Keeper {
            etcd: etcd.clone(),
            config,
            key: key.clone(),
            ttl,
            info: receiver,
            lease: lease.clone(),
        };
        let task = tokio::spawn(keeper.run(session));
        Ok(NodeRegistration {
            key,
            info: sender,
            lease,
            etcd,
            task,
        })
    }

    /// The key (`<prefix>nodes/<role>/<id>`).
    pub fn key(&self) -> &str {
        &self.key
    }

    /// What is registered (or about to be).
    pub fn info(&self) -> NodeInfo {
        self.info.borrow().clone()
    }

    /// Changes the registered info; the key is rewritten in the background.
    pub fn update(&self, change: impl FnOnce(&mut NodeInfo)) {
        self.info.send_modify(change);
    }

    /// Registers a new rules revision (if it changed).
    pub fn set_rules_revision(&self, revision: u64) {
        self.info.send_if_modified(|info| {
            let changed = info.rules_revision != revision;
            info.rules_revision = revision;
            changed
        });
    }

    /// Registers how many SMPP sessions this node holds (if it changed).
    pub fn set_sessions(&self, sessions: u32) {
        self.info.send_if_modified(|info| {
            let changed = info.sessions != Some(sessions);
            info.sessions = Some(sessions);
            changed
        });
    }

    /// The current lease id.
    pub fn lease_id(&self) -> i64 {
        self.lease.load(Ordering::Relaxed)
    }

    /// Stops renewing and revokes the lease, which deletes the key now. Takes `&self` so a
    /// node can deregister while parts of it (a draining role's services) still hold it.
    pub async fn deregister(&self) -> Result<(), Error> {
        self.task.abort();
        let lease = self.lease_id();
        self.etcd
            .call("lease revoke", |mut c| async move {
                c.lease_revoke(lease).await
            })
            .await
            .map(drop)
    }
}

impl Drop for NodeRegistration {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Grants a lease, writes the key under it and opens the keep-alive stream.
async fn establish(
    etcd: &Etcd,
    key: &str,
    info: &NodeInfo,
    ttl: Duration,
) -> Result<LeaseSession, Error> {
    let ttl_secs = i64::try_from(ttl.as_secs_f64().ceil() as u64)
        .unwrap_or(i64::MAX)
        .max(1);
    let grant = etcd
        .call("lease grant", |mut c| async move {
            c.lease_grant(ttl_secs, None).await
        })
        .await?;
    let lease = grant.id();
    write(etcd, key, info, lease).await?;
    let (keeper, stream) = etcd
        .call("lease keep-alive", |mut c| async move {
            c.lease_keep_alive(lease).await
        })
        .await?;
    Ok(LeaseSession {
        lease,
        keeper,
        stream,
    })
}

async fn write(etcd: &Etcd, key: &str, info: &NodeInfo, lease: i64) -> Result<(), Error> {
    let value = serde_json::to_vec(info).map_err(|e| Error::Config(e.to_string()))?;
    let key = key.to_owned();
    etcd.call("register", |mut c| async move {
        c.put(key, value, Some(PutOptions::new().with_lease(lease)))
            .await
    })
    .await
    .map(drop)
}

/// The background task of a registration.
struct Keeper {
    etcd: Etcd,
    config: StoreConfig,
    key: String,
    ttl: Duration,
    info: watch::Receiver<NodeInfo>,
    lease: Arc<AtomicI64>,
}

impl Keeper {
    async fn run(mut self, mut session: LeaseSession) {
        let mut backoff = Backoff::new(
            self.config.reconnect_backoff_min,
            self.config.reconnect_backoff_max,
        );
        loop {
            let e = self.renew(&mut session).await;
            warn!(key = %self.key, "node registration interrupted: {e}");
            loop {
                tokio::time::sleep(backoff.next_delay()).await;
                if let Ok(etcd) = Etcd::connect(&self.config).await {
                    self.etcd = etcd;
                }
                let info = self.info.borrow_and_update().clone();
                match establish(&self.etcd, &self.key, &info, self.ttl).await {
                    Ok(fresh) => {
                        let old = std::mem::replace(&mut session, fresh).lease;
                        self.lease.store(session.lease, Ordering::Relaxed);
                        // The key now hangs on the new lease; the old one, if etcd still
                        // has it, holds nothing. Tidy it up, but do not insist.
                        let _ = self
                            .etcd
                            .call(
                                "lease revoke",
                                |mut c| async move { c.lease_revoke(old).await },
                            )
                            .await;
                        backoff.reset();
                        info!(key = %self.key, "node registered again");
                        break;
                    }
                    Err(e) => warn!(key = %self.key, "node registration failed: {e}"),
                }
            }
        }
    }

    /// Renews the lease and rewrites the key on updates until something fails.
    async fn renew(&mut self, session: &mut LeaseSession) -> Error {
        let mut tick = tokio::time::interval((self.ttl / 3).max(Duration::from_millis(100)));
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut last_ack = Instant::now();
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    if last_ack.elapsed() > self.ttl {
                        return self.etcd.stream_ended("lease keep-alive", "no answer within the TTL");
                    }
                    if let Err(e) = session.keeper.keep_alive().await {
                        return self.etcd.error("lease keep-alive", e);
                    }
                }
                message = session.stream.message() => match message {
                    Ok(Some(r)) if r.ttl() > 0 => last_ack = Instant::now(),
                    Ok(Some(_)) => return self.etcd.stream_ended("lease keep-alive", "lease expired"),
                    Ok(None) => return self.etcd.stream_ended("lease keep-alive", "closed by etcd"),
                    Err(e) => return self.etcd.error("lease keep-alive", e),
                },
                changed = self.info.changed() => {
                    if changed.is_err() {
                        // The registration is gone; its drop aborts this task anyway.
                        std::future::pending::<()>().await;
                    }
                    let info = self.info.borrow_and_update().clone();
                    if let Err(e) = write(&self.etcd, &self.key, &info, session.lease).await {
                        return e;
                    }
                }
            }
        }
    }
}

/// The registered nodes under `prefix`, of `role` or all.
pub(crate) async fn list(
    etcd: &Etcd,
    prefix: &str,
    role: Option<&str>,
) -> Result<Vec<NodeInfo>, Error> {
    let key = match role {
        Some(role) => format!("{prefix}nodes/{role}/"),
        None => format!("{prefix}nodes/"),
    };
    let response = etcd
        .call("list nodes", |mut c| async move {
            c.get(key, Some(GetOptions::new().with_prefix())).await
        })
        .await?;
    Ok(response
        .kvs()
        .iter()
        .filter_map(|kv| match serde_json::from_slice::<NodeInfo>(kv.value()) {
            Ok(info) => Some(info),
            Err(e) => {
                warn!(key = %String::from_utf8_lossy(kv.key()), "unreadable node registration: {e}");
                None
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_info_json_and_validation() {
        let info = NodeInfo::new("edge", "herald-edge-7f9c.local", "0.1.0")
            .with_address("smpp", "10.0.0.1:2775");
        assert!(info.validate().is_ok());
        let json = serde_json::to_value(&info).unwrap();
        assert!(json["started_at"].as_str().unwrap().ends_with('Z'));
        assert_eq!(json["addresses"]["smpp"], "10.0.0.1:2775");
        let back: NodeInfo = serde_json::from_value(json).unwrap();
        assert_eq!(back.id, info.id);
        assert!(NodeInfo::new("Edge", "e1", "v").validate().is_err());
        assert!(NodeInfo::new("edge", "e/1", "v").validate().is_err());
        assert!(NodeInfo::new("edge", "", "v").validate().is_err());
    }
}
