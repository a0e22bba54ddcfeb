//! The integration-test harness: real `nats-server` (JetStream on) and real `etcd`, each a
//! child process on free loopback ports with its data in a temporary directory, started
//! and waited on until healthy, and killed when dropped. No mock stands in for either.
//!
//! ```no_run
//! # async fn demo() -> Result<(), herald_harness::HarnessError> {
//! let nats = herald_harness::nats().run().await?;
//! let etcd = herald_harness::etcd().run().await?;
//! println!("{} {}", nats.client_url(), etcd.client_url());
//! # Ok(()) }
//! ```
//!
//! The binaries come from `scripts/install-deps.sh`; a missing one is an error, never a
//! skipped test.
#![forbid(unsafe_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

/// Why a server could not be started.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    /// The binary could not be run (not installed?).
    #[error("cannot start {binary} (run scripts/install-deps.sh): {source}")]
    Spawn {
        /// The program.
        binary: &'static str,
        /// The error.
        source: std::io::Error,
    },
    /// It did not become healthy in time.
    #[error("{0} did not become healthy within {1:?}")]
    Unhealthy(&'static str, Duration),
    /// It exited before it became healthy (after [`START_ATTEMPTS`] tries with new ports,
    /// when the ports were ours to choose).
    #[error("{0} exited before it became healthy")]
    Exited(&'static str),
    /// A temporary directory or port could not be had.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// How long a server may take to become healthy (a JetStream cluster electing its meta
/// leader on a machine busy with other tests can take half a minute).
const STARTUP: Duration = Duration::from_secs(60);

/// How many times a server whose ports we chose is started before its early exit is
/// reported: a port can be taken (often as the local end of some other test's outgoing
/// connection) between choosing it and the server binding it.
pub const START_ATTEMPTS: usize = 3;

/// `n` distinct free loopback ports: all bound at once (so none repeats), read, released.
/// The race with other processes between release and use is covered by
/// [`START_ATTEMPTS`].
fn free_ports(n: usize) -> std::io::Result<Vec<u16>> {
    let held = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0"))
        .collect::<std::io::Result<Vec<_>>>()?;
    held.iter()
        .map(|listener| Ok(listener.local_addr()?.port()))
        .collect()
}

/// Runs `start` until it succeeds, fails otherwise than by an early exit, or has been
/// tried [`START_ATTEMPTS`] times; once only when the ports were not ours to choose
/// (`ports_ours` false), since new ones would not be tried.
async fn start_with_retries<T, F, Fut>(ports_ours: bool, start: F) -> Result<T, HarnessError>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<T, HarnessError>>,
{
    let mut attempt = 1;
    loop {
        let started = start().await;
        let exited = matches!(started, Err(HarnessError::Exited(_)));
        if !(exited && ports_ours && attempt < START_ATTEMPTS) {
            return started;
        }
        attempt += 1;
    }
}

/// `GET path` over plain HTTP/1.0; the status code and body, or `None` if unreachable.
async fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.ok()?;
    let request = format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
    stream.write_all(request.as_bytes()).await.ok()?;
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(2), stream.read_to_end(&mut response))
        .await
        .ok()?
        .ok()?;
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Some((status, body))
}

/// Polls `healthy` until it returns true or the start-up time is over; fails early if the
/// child exits.
async fn wait_healthy<F, Fut>(
    name: &'static str,
    child: &mut Child,
    healthy: F,
) -> Result<(), HarnessError>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + STARTUP;
    while tokio::time::Instant::now() < deadline {
        if healthy().await {
            return Ok(());
        }
        if let Ok(Some(_)) = child.try_wait() {
            return Err(HarnessError::Exited(name));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(HarnessError::Unhealthy(name, STARTUP))
}

/// Where a server keeps its data: a temporary directory deleted with it (tests), or a
/// directory that outlives it (`herald dev`).
#[derive(Debug)]
enum Storage {
    Temporary(tempfile::TempDir),
    Kept(PathBuf),
}

impl Storage {
    fn at(dir: Option<PathBuf>) -> Result<Storage, HarnessError> {
        Ok(match dir {
            Some(dir) => {
                std::fs::create_dir_all(&dir)?;
                Storage::Kept(dir)
            }
            None => Storage::Temporary(tempfile::tempdir()?),
        })
    }

    fn path(&self) -> &Path {
        match self {
            Storage::Temporary(dir) => dir.path(),
            Storage::Kept(dir) => dir,
        }
    }
}

/// Builder of a single `nats-server` with JetStream.
#[derive(Debug, Default)]
pub struct NatsBuilder {
    port: Option<u16>,
    monitor_port: Option<u16>,
    data_dir: Option<PathBuf>,
}

/// Starts configuring a `nats-server`.
pub fn nats() -> NatsBuilder {
    NatsBuilder::default()
}

impl NatsBuilder {
    /// Listens for clients on `port` instead of a free one.
    pub fn port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }

    /// Serves monitoring on `port` instead of a free one.
    pub fn monitor_port(mut self, port: u16) -> Self {
        self.monitor_port = Some(port);
        self
    }

    /// Keeps the JetStream store in `dir`, which outlives the server, instead of a
    /// temporary directory.
    pub fn data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.data_dir = Some(dir.into());
        self
    }

    /// Starts it and waits until JetStream is healthy.
    pub async fn run(self) -> Result<NatsServer, HarnessError> {
        let ports_ours = self.port.is_none() || self.monitor_port.is_none();
        start_with_retries(ports_ours, || async {
            let dir = Storage::at(self.data_dir.clone())?;
            let free = free_ports(2)?;
            let port = self.port.unwrap_or(free[0]);
            let monitor_port = self.monitor_port.unwrap_or(free[1]);
            NatsServer::start_in(dir, port, monitor_port).await
        })
        .await
    }
}

/// A running `nats-server`; killed, and its store deleted, on drop.
pub struct NatsServer {
    child: Child,
    port: u16,
    monitor_port: u16,
    dir: Storage,
}

impl NatsServer {
    async fn start_in(
        dir: Storage,
        port: u16,
        monitor_port: u16,
    ) -> Result<NatsServer, HarnessError> {
        let mut child = spawn_nats(dir.path(), port, monitor_port)?;
        wait_healthy("nats-server", &mut child, || async move {
            matches!(
                http_get(monitor_port, "/healthz?js-enabled-only=true").await,
                Some((200, _))
            )
        })
        .await?;
        Ok(NatsServer {
            child,
            port,
            monitor_port,
            dir,
        })
    }

    /// `nats://127.0.0.1:PORT`.
    pub fn client_url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// The client port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The HTTP monitoring port (`/healthz`, `/jsz`, `/varz`).
    pub fn monitor_port(&self) -> u16 {
        self.monitor_port
    }

    /// The JetStream store directory.
    pub fn store_dir(&self) -> &Path {
        self.dir.path()
    }

    /// Kills the server (like a crash) and starts it again on the same port and store.
    pub async fn restart(&mut self) -> Result<(), HarnessError> {
        self.kill().await;
        self.child = spawn_nats(self.dir.path(), self.port, self.monitor_port)?;
        let monitor_port = self.monitor_port;
        wait_healthy("nats-server", &mut self.child, || async move {
            matches!(
                http_get(monitor_port, "/healthz?js-enabled-only=true").await,
                Some((200, _))
            )
        })
        .await
    }

    /// Kills the server with SIGKILL and waits for it to exit.
    pub async fn kill(&mut self) {
        let _ = self.child.kill().await;
    }
}

fn spawn_nats(store: &Path, port: u16, monitor_port: u16) -> Result<Child, HarnessError> {
    spawn_nats_with(store, port, monitor_port, &[])
}

fn spawn_nats_with(
    store: &Path,
    port: u16,
    monitor_port: u16,
    extra: &[String],
) -> Result<Child, HarnessError> {
    let (port, monitor_port) = (port.to_string(), monitor_port.to_string());
    Command::new("nats-server")
        .args(["-a", "127.0.0.1", "-p", &port, "-m", &monitor_port])
        .args(extra)
        .arg("-js")
        .arg("-sd")
        .arg(store)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|source| HarnessError::Spawn {
            binary: "nats-server",
            source,
        })
}

/// Builder of a single-member `etcd`.
#[derive(Debug, Default)]
pub struct EtcdBuilder {
    port: Option<u16>,
    peer_port: Option<u16>,
    data_dir: Option<PathBuf>,
}

/// Starts configuring an `etcd`.
pub fn etcd() -> EtcdBuilder {
    EtcdBuilder::default()
}

impl EtcdBuilder {
    /// Listens for clients on `port` instead of a free one.
    pub fn port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }

    /// Listens for peers on `port` instead of a free one.
    pub fn peer_port(mut self, port: u16) -> Self {
        self.peer_port = Some(port);
        self
    }

    /// Keeps the data in `dir`, which outlives the server, instead of a temporary
    /// directory.
    pub fn data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.data_dir = Some(dir.into());
        self
    }

    /// Starts it and waits until `/health` says so.
    pub async fn run(self) -> Result<Etcd, HarnessError> {
        let ports_ours = self.port.is_none() || self.peer_port.is_none();
        start_with_retries(ports_ours, || self.start_once()).await
    }

    async fn start_once(&self) -> Result<Etcd, HarnessError> {
        let dir = Storage::at(self.data_dir.clone())?;
        let free = free_ports(2)?;
        let client_port = self.port.unwrap_or(free[0]);
        let peer_port = self.peer_port.unwrap_or(free[1]);
        let data = dir.path().join("data");
        let mut child = spawn_etcd(&data, client_port, peer_port)?;
        wait_etcd(&mut child, client_port).await?;
        Ok(Etcd {
            child,
            client_port,
            peer_port,
            data,
            _dir: dir,
        })
    }
}

/// A running `etcd`; killed, and its data deleted, on drop.
pub struct Etcd {
    child: Child,
    client_port: u16,
    peer_port: u16,
    data: PathBuf,
    _dir: Storage,
}

impl Etcd {
    /// `http://127.0.0.1:PORT`, the endpoint for `etcd-client`.
    pub fn client_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.client_port)
    }

    /// The client port.
    pub fn port(&self) -> u16 {
        self.client_port
    }

    /// Kills etcd with SIGKILL and waits for it to exit (for tests of etcd outages).
    pub async fn kill(&mut self) {
        let _ = self.child.kill().await;
    }

    /// Starts it again on the same ports and data, after [`Etcd::kill`].
    pub async fn restart(&mut self) -> Result<(), HarnessError> {
        self.kill().await;
        self.child = spawn_etcd(&self.data, self.client_port, self.peer_port)?;
        wait_etcd(&mut self.child, self.client_port).await
    }
}

fn spawn_etcd(data: &Path, client_port: u16, peer_port: u16) -> Result<Child, HarnessError> {
    let initial = format!("default=http://127.0.0.1:{peer_port}");
    spawn_etcd_member(data, "default", client_port, peer_port, &initial)
}

fn spawn_etcd_member(
    data: &Path,
    name: &str,
    client_port: u16,
    peer_port: u16,
    initial_cluster: &str,
) -> Result<Child, HarnessError> {
    let client = format!("http://127.0.0.1:{client_port}");
    let peer = format!("http://127.0.0.1:{peer_port}");
    Command::new("etcd")
        .args(["--name", name, "--initial-cluster-token", "herald-test"])
        .arg("--data-dir")
        .arg(data)
        .args([
            "--listen-client-urls",
            &client,
            "--advertise-client-urls",
            &client,
        ])
        .args([
            "--listen-peer-urls",
            &peer,
            "--initial-advertise-peer-urls",
            &peer,
        ])
        .args(["--initial-cluster", initial_cluster])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|source| HarnessError::Spawn {
            binary: "etcd",
            source,
        })
}

async fn wait_etcd(child: &mut Child, port: u16) -> Result<(), HarnessError> {
    wait_healthy("etcd", child, || async move {
        matches!(http_get(port, "/health").await, Some((200, body)) if body.contains("true"))
    })
    .await
}

/// How many members the test clusters have.
pub const CLUSTER_SIZE: usize = 3;

/// One member of a test cluster: its process (when running) and how to start it again.
struct Member {
    child: Option<Child>,
    port: u16,
    health_port: u16,
    args: Vec<String>,
    data: PathBuf,
}

/// Starts configuring a 3-node NATS cluster with JetStream (for R3 streams).
pub fn nats_cluster() -> NatsClusterBuilder {
    NatsClusterBuilder::default()
}

/// Builder of a [`NatsCluster`].
#[derive(Debug, Default)]
pub struct NatsClusterBuilder {
    _private: (),
}

impl NatsClusterBuilder {
    /// Starts three servers routed to each other and waits until all are healthy.
    pub async fn run(self) -> Result<NatsCluster, HarnessError> {
        start_with_retries(true, Self::start_once).await
    }

    async fn start_once() -> Result<NatsCluster, HarnessError> {
        let dir = tempfile::tempdir()?;
        let free = free_ports(3 * CLUSTER_SIZE)?;
        let ports: Vec<(u16, u16, u16)> = free.chunks(3).map(|p| (p[0], p[1], p[2])).collect();
        let routes = ports
            .iter()
            .map(|(_, _, cluster)| format!("nats://127.0.0.1:{cluster}"))
            .collect::<Vec<_>>()
            .join(",");
        let mut members = Vec::new();
        for (i, &(port, monitor, cluster)) in ports.iter().enumerate() {
            let args = vec![
                "-n".to_owned(),
                format!("n{i}"),
                "--cluster_name".to_owned(),
                "herald-test".to_owned(),
                "--cluster".to_owned(),
                format!("nats://127.0.0.1:{cluster}"),
                "--routes".to_owned(),
                routes.clone(),
            ];
            let data = dir.path().join(format!("n{i}"));
            let child = spawn_nats_with(&data, port, monitor, &args)?;
            members.push(Member {
                child: Some(child),
                port,
                health_port: monitor,
                args,
                data,
            });
        }
        let mut cluster = NatsCluster { members, _dir: dir };
        for i in 0..CLUSTER_SIZE {
            cluster.wait(i).await?;
        }
        Ok(cluster)
    }
}

/// A running 3-node NATS cluster; every member is killed on drop.
pub struct NatsCluster {
    members: Vec<Member>,
    _dir: tempfile::TempDir,
}

impl NatsCluster {
    /// Client URLs of all members, for a client that fails over between them.
    pub fn client_urls(&self) -> Vec<String> {
        self.members
            .iter()
            .map(|m| format!("nats://127.0.0.1:{}", m.port))
            .collect()
    }

    /// Kills member `i` with SIGKILL.
    pub async fn stop(&mut self, i: usize) {
        if let Some(mut child) = self.members.get_mut(i).and_then(|m| m.child.take()) {
            let _ = child.kill().await;
        }
    }

    /// Starts member `i` again with its store and waits until it is healthy.
    pub async fn start(&mut self, i: usize) -> Result<(), HarnessError> {
        self.stop(i).await;
        if let Some(m) = self.members.get_mut(i) {
            m.child = Some(spawn_nats_with(&m.data, m.port, m.health_port, &m.args)?);
        }
        self.wait(i).await
    }

    async fn wait(&mut self, i: usize) -> Result<(), HarnessError> {
        let Some(m) = self.members.get_mut(i) else {
            return Ok(());
        };
        let Some(child) = m.child.as_mut() else {
            return Ok(());
        };
        let port = m.health_port;
        // Plain /healthz also waits for JetStream to be current with the cluster.
        wait_healthy("nats-server", child, || async move {
            matches!(http_get(port, "/healthz").await, Some((200, _)))
        })
        .await
    }
}

/// Starts configuring a 3-member etcd cluster.
pub fn etcd_cluster() -> EtcdClusterBuilder {
    EtcdClusterBuilder::default()
}

/// Builder of an [`EtcdCluster`].
#[derive(Debug, Default)]
pub struct EtcdClusterBuilder {
    _private: (),
}

impl EtcdClusterBuilder {
    /// Starts three members together and waits until each reports a healthy cluster.
    pub async fn run(self) -> Result<EtcdCluster, HarnessError> {
        start_with_retries(true, Self::start_once).await
    }

    async fn start_once() -> Result<EtcdCluster, HarnessError> {
        let dir = tempfile::tempdir()?;
        let free = free_ports(2 * CLUSTER_SIZE)?;
        let ports: Vec<(u16, u16)> = free.chunks(2).map(|p| (p[0], p[1])).collect();
        let initial = ports
            .iter()
            .enumerate()
            .map(|(i, (_, peer))| format!("e{i}=http://127.0.0.1:{peer}"))
            .collect::<Vec<_>>()
            .join(",");
        let mut members = Vec::new();
        for (i, &(client, peer)) in ports.iter().enumerate() {
            let data = dir.path().join(format!("e{i}"));
            let name = format!("e{i}");
            let child = spawn_etcd_member(&data, &name, client, peer, &initial)?;
            let args = vec![name, peer.to_string(), initial.clone()];
            members.push(Member {
                child: Some(child),
                port: client,
                health_port: client,
                args,
                data,
            });
        }
        let mut cluster = EtcdCluster { members, _dir: dir };
        for i in 0..CLUSTER_SIZE {
            cluster.wait(i).await?;
        }
        Ok(cluster)
    }
}

/// A running 3-member etcd cluster; every member is killed on drop.
pub struct EtcdCluster {
    members: Vec<Member>,
    _dir: tempfile::TempDir,
}

impl EtcdCluster {
    /// Client URLs of all members.
    pub fn client_urls(&self) -> Vec<String> {
        self.members
            .iter()
            .map(|m| format!("http://127.0.0.1:{}", m.port))
            .collect()
    }

    /// Kills member `i` with SIGKILL.
    pub async fn stop(&mut self, i: usize) {
        if let Some(mut child) = self.members.get_mut(i).and_then(|m| m.child.take()) {
            let _ = child.kill().await;
        }
    }

    /// Starts member `i` again with its data and waits until it is healthy.
    pub async fn start(&mut self, i: usize) -> Result<(), HarnessError> {
        self.stop(i).await;
        if let Some(m) = self.members.get_mut(i) {
            let peer: u16 = m.args[1].parse().unwrap_or_default();
            m.child = Some(spawn_etcd_member(
                &m.data, &m.args[0], m.port, peer, &m.args[2],
            )?);
        }
        self.wait(i).await
    }

    async fn wait(&mut self, i: usize) -> Result<(), HarnessError> {
        let Some(m) = self.members.get_mut(i) else {
            return Ok(());
        };
        let Some(child) = m.child.as_mut() else {
            return Ok(());
        };
        wait_etcd(child, m.port).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `start_with_retries` over a start that exits early `exits` times, then works;
    /// the result and how many starts were made.
    async fn starts(exits: usize, ports_ours: bool) -> (Result<(), HarnessError>, usize) {
        let made = std::sync::atomic::AtomicUsize::new(0);
        let result = start_with_retries(ports_ours, || async {
            let n = made.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if n < exits {
                Err(HarnessError::Exited("server"))
            } else {
                Ok(())
            }
        })
        .await;
        (result, made.into_inner())
    }

    #[tokio::test]
    async fn an_early_exit_is_retried_with_new_ports_only_when_the_ports_are_ours() {
        assert!(matches!(starts(0, true).await, (Ok(()), 1)));
        assert!(matches!(starts(2, true).await, (Ok(()), 3)));
        assert!(matches!(
            starts(3, true).await,
            (Err(HarnessError::Exited("server")), 3)
        ));
        assert!(matches!(
            starts(1, false).await,
            (Err(HarnessError::Exited("server")), 1)
        ));
    }

    #[test]
    fn free_ports_are_distinct() {
        let ports = free_ports(9).unwrap();
        let distinct: std::collections::HashSet<_> = ports.iter().collect();
        assert_eq!(distinct.len(), 9, "{ports:?}");
    }

    #[tokio::test]
    async fn nats_starts_with_jetstream_and_restarts_after_a_kill() {
        let mut nats = nats().run().await.unwrap();
        let (status, body) = http_get(nats.monitor_port(), "/jsz").await.unwrap();
        assert_eq!(status, 200);
        assert!(body.contains("\"config\""), "JetStream is enabled: {body}");
        assert!(nats.client_url().starts_with("nats://127.0.0.1:"));
        nats.restart().await.unwrap();
        assert_eq!(
            http_get(nats.monitor_port(), "/healthz").await.map(|r| r.0),
            Some(200)
        );
    }

    #[tokio::test]
    async fn etcd_starts_healthy_and_restarts_after_a_kill() {
        let mut etcd = etcd().run().await.unwrap();
        let (status, body) = http_get(etcd.port(), "/version").await.unwrap();
        assert_eq!(status, 200);
        assert!(body.contains("etcdserver"), "{body}");
        etcd.kill().await;
        assert!(
            http_get(etcd.port(), "/health").await.is_none(),
            "down after kill"
        );
        etcd.restart().await.unwrap();
        assert_eq!(
            http_get(etcd.port(), "/health").await.map(|r| r.0),
            Some(200)
        );
    }

    #[tokio::test]
    async fn dropping_a_server_stops_it() {
        let nats = nats().run().await.unwrap();
        let port = nats.monitor_port();
        drop(nats);
        // SIGKILL is delivered asynchronously: poll until the port stops answering.
        let mut down = false;
        for _ in 0..200 {
            if http_get(port, "/healthz").await.is_none() {
                down = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(
            down,
            "nats-server still answers after its handle was dropped"
        );
    }

    #[tokio::test]
    async fn nats_cluster_keeps_serving_with_one_member_down() {
        let mut cluster = nats_cluster().run().await.unwrap();
        assert_eq!(cluster.client_urls().len(), 3);
        let port = cluster.members[1].health_port;
        let (_, routez) = http_get(port, "/routez").await.unwrap();
        assert!(routez.contains("\"num_routes\""), "{routez}");
        cluster.stop(0).await;
        assert!(
            http_get(cluster.members[0].health_port, "/healthz")
                .await
                .is_none()
        );
        assert!(
            health_becomes(port, "/healthz", true).await,
            "two of three keep serving"
        );
        cluster.start(0).await.unwrap();
    }

    /// Polls a health endpoint until it is (or is not) healthy; false after 20 s.
    async fn health_becomes(port: u16, path: &str, healthy: bool) -> bool {
        for _ in 0..100 {
            let ok = matches!(http_get(port, path).await, Some((200, _)));
            if ok == healthy {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        false
    }

    #[tokio::test]
    async fn etcd_cluster_survives_a_member_restart() {
        let mut cluster = etcd_cluster().run().await.unwrap();
        assert_eq!(cluster.client_urls().len(), 3);
        let first = cluster.members[0].port;
        cluster.stop(1).await;
        assert_eq!(http_get(cluster.members[1].port, "/health").await, None);
        // Two of three keep quorum (after a new election if member 1 led).
        assert!(
            health_becomes(first, "/health", true).await,
            "two members keep quorum"
        );
        // One of three has none: the members really are one cluster.
        cluster.stop(2).await;
        assert!(
            health_becomes(first, "/health", false).await,
            "a lone member has no quorum"
        );
        cluster.start(1).await.unwrap();
        assert!(health_becomes(first, "/health", true).await);
        cluster.start(2).await.unwrap();
    }
}
