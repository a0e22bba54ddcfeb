//! A Herald node as an operator runs it: the `herald` binary, whose path the test passes
//! (`env!("CARGO_BIN_EXE_herald")`: the harness depends on no role), started as one role
//! and waited on until it has registered in etcd.
//!
//! Every listener is on 127.0.0.1 with a port of its own choosing (admin, gRPC, control,
//! SMPP; the registration says which), the etcd lease is short, the logs are JSON and
//! reach the test's stderr only when `HERALD_TEST_LOGS` is set, no `HERALD_CONFIG` is
//! inherited, and the process is killed when its [`Child`] is dropped.
//!
//! ```no_run
//! # async fn demo(backing: herald_harness::Backing) {
//! let (_edge, node) = herald_harness::node("target/debug/herald", "edge", "edge-1")
//!     .on(&backing)
//!     .env("HERALD_EDGE__MAX_WINDOW", "10")
//!     .spawn(&backing.rules)
//!     .await;
//! println!("SMPP on {}", node.addresses["smpp"]);
//! # }
//! ```

use std::ffi::OsStr;
use std::process::Stdio;

use herald_rules::{NodeInfo, RulesClient};
use tokio::process::{Child, Command};

use crate::{Backing, PATIENCE};

/// Builder of one Herald node process; see the [module](self).
#[derive(Debug)]
pub struct NodeBuilder {
    command: Command,
    role: String,
    id: String,
    hint: String,
}

/// Starts configuring `program <role>` (the `herald` binary) as node `id`.
pub fn node(program: impl AsRef<OsStr>, role: &str, id: &str) -> NodeBuilder {
    let mut command = Command::new(program);
    command
        .arg(role)
        .env_remove("HERALD_CONFIG")
        .env("HERALD_NODE__ID", id)
        .env("HERALD_ETCD__LEASE_TTL", "3s")
        .env("HERALD_ADMIN__LISTEN", "127.0.0.1:0")
        .env("HERALD_GRPC__LISTEN", "127.0.0.1:0")
        .env("HERALD_CONTROL__LISTEN", "127.0.0.1:0")
        .env("HERALD_EDGE__SMPP_LISTEN", "127.0.0.1:0")
        .env("HERALD_TELEMETRY__LOG_FORMAT", "json")
        .stdout(Stdio::null())
        .stderr(if std::env::var_os("HERALD_TEST_LOGS").is_some() {
            Stdio::inherit()
        } else {
            Stdio::null()
        })
        .kill_on_drop(true);
    NodeBuilder {
        command,
        role: role.to_owned(),
        id: id.to_owned(),
        hint: String::new(),
    }
}

impl NodeBuilder {
    /// Uses `backing`'s NATS and etcd.
    pub fn on(self, backing: &Backing) -> Self {
        self.nats(backing.nats.client_url())
            .etcd(backing.etcd.client_url())
    }

    /// Connects to NATS at `urls` (comma-separated).
    pub fn nats(self, urls: impl AsRef<OsStr>) -> Self {
        self.env("HERALD_NATS__URLS", urls)
    }

    /// Connects to etcd at `endpoints` (comma-separated).
    pub fn etcd(self, endpoints: impl AsRef<OsStr>) -> Self {
        self.env("HERALD_ETCD__ENDPOINTS", endpoints)
    }

    /// Sets one environment variable (a `HERALD_…` setting), over the defaults above.
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.command.env(key, value);
        self
    }

    /// Sets each of `vars`, over the defaults above.
    pub fn envs<K, V>(mut self, vars: impl IntoIterator<Item = (K, V)>) -> Self
    where
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        self.command.envs(vars);
        self
    }

    /// Where to look when it never registers, added to the panic message.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = hint.into();
        self
    }

    /// Starts it and waits until it has registered (read through `rules`); the process,
    /// killed when dropped, and its registration (its addresses).
    ///
    /// # Panics
    ///
    /// If it cannot be started, exits before it registers, or has not registered within
    /// [`PATIENCE`].
    pub async fn spawn(mut self, rules: &RulesClient) -> (Child, NodeInfo) {
        let (role, id, hint) = (self.role, self.id, self.hint);
        let mut child = self
            .command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {role} {id}: {e}"));
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let nodes = rules
                .list_nodes(Some(&role))
                .await
                .expect("the nodes listed from etcd");
            if let Some(node) = nodes.into_iter().find(|n| n.id == id) {
                return (child, node);
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "{role} exited before it registered: {status} (HERALD_TEST_LOGS=1 shows why)"
                );
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{role} {id} never registered within {PATIENCE:?} {hint}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
}
