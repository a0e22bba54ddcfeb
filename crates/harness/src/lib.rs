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
    /// A temporary directory or port could not be had.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// How long a server may take to become healthy.
const STARTUP: Duration = Duration::from_secs(30);

/// A free loopback port: bound, read, released. The tiny race with other processes is
/// covered by starting again on failure.
fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
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
            return Err(HarnessError::Unhealthy(name, STARTUP));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(HarnessError::Unhealthy(name, STARTUP))
}

/// Builder of a single `nats-server` with JetStream.
#[derive(Debug, Default)]
pub struct NatsBuilder {
    _private: (),
}

/// Starts configuring a `nats-server`.
pub fn nats() -> NatsBuilder {
    NatsBuilder::default()
}

impl NatsBuilder {
    /// Starts it and waits until JetStream is healthy.
    pub async fn run(self) -> Result<NatsServer, HarnessError> {
        let dir = tempfile::tempdir()?;
        NatsServer::start_in(dir).await
    }
}

/// A running `nats-server`; killed, and its store deleted, on drop.
pub struct NatsServer {
    child: Child,
    port: u16,
    monitor_port: u16,
    dir: tempfile::TempDir,
}

impl NatsServer {
    async fn start_in(dir: tempfile::TempDir) -> Result<NatsServer, HarnessError> {
        let port = free_port()?;
        let monitor_port = free_port()?;
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
    Command::new("nats-server")
        .args([
            "-a",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-m",
            &monitor_port.to_string(),
        ])
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
    _private: (),
}

/// Starts configuring an `etcd`.
pub fn etcd() -> EtcdBuilder {
    EtcdBuilder::default()
}

impl EtcdBuilder {
    /// Starts it and waits until `/health` says so.
    pub async fn run(self) -> Result<Etcd, HarnessError> {
        let dir = tempfile::tempdir()?;
        let client_port = free_port()?;
        let peer_port = free_port()?;
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
    _dir: tempfile::TempDir,
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
    let client = format!("http://127.0.0.1:{client_port}");
    let peer = format!("http://127.0.0.1:{peer_port}");
    Command::new("etcd")
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
        .args(["--initial-cluster", &format!("default={peer}")])
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
