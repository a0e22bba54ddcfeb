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
//! Either server can be started locked: `nats().user(..)`, `.nkey_user(..)`, `.token(..)`,
//! `.operator()` (JWT accounts and a `.creds` file), `.tls(verify_clients)` and `.config(..)`
//! (any more configuration: users with permissions, a log file);
//! `etcd().tls(client_cert_auth)` and `.auth(root_password)` with [`Etcd::add_user`].
//!
//! - [`pki`]: [`TestPki`], the throw-away CA and certificates TLS servers and clients use.
//! - [`wait`]: [`PATIENCE`] and [`eventually`], how every test waits for an outcome.
//! - [`backing`]: [`Backing`], NATS and etcd with a rules client: what every role stands on.
//! - [`node`](mod@node): [`node()`], the `herald` binary started as one role on loopback,
//!   waited on until it has registered.
//! - [`seed`]: the accounts, carrier and routes tests start from, written through
//!   herald-rules.
//! - [`proxy`]: [`TcpProxy`], a loopback TCP proxy a test cuts to partition one client
//!   from a server (a connector from etcd).
//! - `nats_auth`: the `nats-server` configuration of users, tokens and operator JWTs.
//!
//! The binaries come from `scripts/install-deps.sh`; a missing one is an error, never a
//! skipped test.
#![forbid(unsafe_code)]

pub mod backing;
mod nats_auth;
pub mod node;
pub mod pki;
pub mod proxy;
pub mod seed;
pub mod wait;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

pub use backing::Backing;
pub use nats_auth::nkey_user;
use nats_auth::{NatsAuth, NatsUser, Operator};
pub use node::{NodeBuilder, node};
pub use pki::TestPki;
pub use proxy::TcpProxy;
pub use wait::{PATIENCE, eventually, eventually_some, eventually_sync};

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
    /// A temporary directory or port could not be had, or a file written.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// A test certificate, key or JWT could not be made.
    #[error("cannot make test credentials: {0}")]
    Certificate(String),
    /// A started server could not be set up (users, roles, authentication).
    #[error("cannot set up the server: {0}")]
    Setup(String),
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

/// A temporary directory for a server's data: in memory (`/dev/shm`) where the machine
/// has it, else on disk. etcd syncs every write to disk, and on a machine whose disk is
/// busy (builds and other tests beside it) one stalled sync once held a lease grant past
/// its 5 s timeout; the tests are about behaviour, not the disk.
fn scratch_dir() -> std::io::Result<tempfile::TempDir> {
    let shm = Path::new("/dev/shm");
    if shm.is_dir()
        && let Ok(dir) = tempfile::Builder::new().prefix("herald-").tempdir_in(shm)
    {
        return Ok(dir);
    }
    tempfile::tempdir()
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
            None => Storage::Temporary(scratch_dir()?),
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
    auth: NatsAuth,
    tls: Option<bool>,
    extra_config: String,
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

    /// Lets in `user` with `password` (and, with more calls, other users); no one else.
    pub fn user(mut self, user: impl Into<String>, password: impl Into<String>) -> Self {
        self.add_user(NatsUser::Password {
            user: user.into(),
            password: password.into(),
        });
        self
    }

    /// Lets in the NKey user `public_key` (`U...`, see [`nkey_user`]); no one else but the
    /// other users given.
    pub fn nkey_user(mut self, public_key: impl Into<String>) -> Self {
        self.add_user(NatsUser::NKey {
            public_key: public_key.into(),
        });
        self
    }

    fn add_user(&mut self, user: NatsUser) {
        match &mut self.auth {
            NatsAuth::Users(users) => users.push(user),
            other => *other = NatsAuth::Users(vec![user]),
        }
    }

    /// Lets in whoever presents `token`, and no one else (replaces any users).
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.auth = NatsAuth::Token(token.into());
        self
    }

    /// Operator (JWT) mode: only users of the server's JetStream-enabled account get in,
    /// each with a `.creds` file; [`NatsServer::creds`] is one (replaces any users).
    pub fn operator(mut self) -> Self {
        self.auth = NatsAuth::Operator;
        self
    }

    /// Clients connect over TLS only, with a certificate from [`NatsServer::pki`]; with
    /// `verify_clients`, each must also present a client certificate that CA signed.
    pub fn tls(mut self, verify_clients: bool) -> Self {
        self.tls = Some(verify_clients);
        self
    }

    /// Adds `text` to the server's configuration file, after what the other options
    /// write: for example an `authorization` block of users with permissions, or
    /// `log_file` and `trace` to see what clients do.
    pub fn config(mut self, text: impl AsRef<str>) -> Self {
        self.extra_config.push_str(text.as_ref());
        self.extra_config.push('\n');
        self
    }

    /// Starts it and waits until JetStream is healthy.
    pub async fn run(self) -> Result<NatsServer, HarnessError> {
        let ports_ours = self.port.is_none() || self.monitor_port.is_none();
        let secrets = tempfile::tempdir()?;
        let operator = match self.auth {
            NatsAuth::Operator => Some(Operator::generate(secrets.path())?),
            _ => None,
        };
        let pki = match self.tls {
            Some(_) => Some(TestPki::generate()?),
            None => None,
        };
        let mut conf =
            nats_auth::server_config(&self.auth, operator.as_ref(), pki.as_ref().zip(self.tls));
        conf.push_str(&self.extra_config);
        let mut args = Vec::new();
        if !conf.is_empty() {
            let path = secrets.path().join("nats.conf");
            std::fs::write(&path, conf)?;
            args = vec!["-c".to_owned(), path.to_string_lossy().into_owned()];
        }
        let security = NatsSecurity {
            args,
            pki,
            operator,
            _secrets: secrets,
        };
        let security = std::sync::Arc::new(security);
        start_with_retries(ports_ours, || async {
            let dir = Storage::at(self.data_dir.clone())?;
            let free = free_ports(2)?;
            let port = self.port.unwrap_or(free[0]);
            let monitor_port = self.monitor_port.unwrap_or(free[1]);
            NatsServer::start_in(dir, port, monitor_port, security.clone()).await
        })
        .await
    }
}

/// What a server was started with to authenticate clients: its extra arguments (the
/// configuration file) and the files clients need.
#[derive(Debug)]
struct NatsSecurity {
    args: Vec<String>,
    pki: Option<TestPki>,
    operator: Option<Operator>,
    _secrets: tempfile::TempDir,
}

/// A running `nats-server`; killed, and its store deleted, on drop.
pub struct NatsServer {
    child: Child,
    port: u16,
    monitor_port: u16,
    dir: Storage,
    security: std::sync::Arc<NatsSecurity>,
}

impl NatsServer {
    async fn start_in(
        dir: Storage,
        port: u16,
        monitor_port: u16,
        security: std::sync::Arc<NatsSecurity>,
    ) -> Result<NatsServer, HarnessError> {
        let mut child = spawn_nats_with(dir.path(), port, monitor_port, &security.args)?;
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
            security,
        })
    }

    /// `nats://127.0.0.1:PORT`, or `tls://127.0.0.1:PORT` for a server started with TLS.
    pub fn client_url(&self) -> String {
        let scheme = if self.security.pki.is_some() {
            "tls"
        } else {
            "nats"
        };
        format!("{scheme}://127.0.0.1:{}", self.port)
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

    /// The certificates of a server started with [`NatsBuilder::tls`]: its CA, and a client
    /// certificate it accepts.
    pub fn pki(&self) -> Option<&TestPki> {
        self.security.pki.as_ref()
    }

    /// The `.creds` file of a user of a server started with [`NatsBuilder::operator`].
    pub fn creds(&self) -> Option<&Path> {
        self.security.operator.as_ref().map(|o| o.creds.as_path())
    }

    /// Kills the server (like a crash) and starts it again on the same port and store.
    pub async fn restart(&mut self) -> Result<(), HarnessError> {
        self.kill().await;
        self.child = spawn_nats_with(
            self.dir.path(),
            self.port,
            self.monitor_port,
            &self.security.args,
        )?;
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
    tls: Option<bool>,
    root_password: Option<String>,
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

    /// Serves clients over TLS only (`https://`), with a certificate from [`Etcd::pki`];
    /// with `client_cert_auth`, etcd's `--client-cert-auth`: each client must present a
    /// certificate that CA signed.
    pub fn tls(mut self, client_cert_auth: bool) -> Self {
        self.tls = Some(client_cert_auth);
        self
    }

    /// Turns authentication on (what `etcd --auth`, `etcdctl auth enable`, does): a `root`
    /// user with `password` is created and every request must then authenticate; add
    /// other users with [`Etcd::add_user`].
    pub fn auth(mut self, root_password: impl Into<String>) -> Self {
        self.root_password = Some(root_password.into());
        self
    }

    /// Starts it and waits until `/health` says so.
    pub async fn run(self) -> Result<Etcd, HarnessError> {
        let ports_ours = self.port.is_none() || self.peer_port.is_none();
        let tls = match self.tls {
            Some(client_cert_auth) => Some(std::sync::Arc::new(EtcdTls {
                pki: TestPki::generate()?,
                client_cert_auth,
            })),
            None => None,
        };
        let mut etcd = start_with_retries(ports_ours, || self.start_once(tls.clone())).await?;
        if let Some(password) = &self.root_password {
            etcd.enable_auth(password).await?;
        }
        Ok(etcd)
    }

    async fn start_once(&self, tls: Option<std::sync::Arc<EtcdTls>>) -> Result<Etcd, HarnessError> {
        let dir = Storage::at(self.data_dir.clone())?;
        let free = free_ports(3)?;
        let client_port = self.port.unwrap_or(free[0]);
        let peer_port = self.peer_port.unwrap_or(free[1]);
        // Over TLS, `/health` is served on a plain metrics port for the harness to poll.
        let health_port = if tls.is_some() { free[2] } else { client_port };
        let data = dir.path().join("data");
        let member = EtcdMember {
            name: "default".to_owned(),
            client_port,
            peer_port,
            initial_cluster: format!("default=http://127.0.0.1:{peer_port}"),
            tls: tls.clone(),
            health_port,
        };
        let mut child = spawn_etcd_member(&data, &member)?;
        wait_etcd(&mut child, health_port).await?;
        Ok(Etcd {
            child,
            member,
            data,
            root_password: None,
            _dir: dir,
        })
    }
}

/// The TLS an etcd serves clients with.
#[derive(Debug)]
struct EtcdTls {
    pki: TestPki,
    client_cert_auth: bool,
}

/// How one etcd member is started: enough to start it again.
#[derive(Debug, Clone)]
struct EtcdMember {
    name: String,
    client_port: u16,
    peer_port: u16,
    initial_cluster: String,
    tls: Option<std::sync::Arc<EtcdTls>>,
    /// Where `/health` is served: the client port, or a plain metrics port under TLS.
    health_port: u16,
}

/// A running `etcd`; killed, and its data deleted, on drop.
pub struct Etcd {
    child: Child,
    member: EtcdMember,
    data: PathBuf,
    root_password: Option<String>,
    _dir: Storage,
}

impl Etcd {
    /// `http://127.0.0.1:PORT` (`https://` for a server started with TLS), the endpoint
    /// for `etcd-client`.
    pub fn client_url(&self) -> String {
        let scheme = if self.member.tls.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://127.0.0.1:{}", self.member.client_port)
    }

    /// The client port.
    pub fn port(&self) -> u16 {
        self.member.client_port
    }

    /// The certificates of a server started with [`EtcdBuilder::tls`]: its CA, and a
    /// client certificate it accepts.
    pub fn pki(&self) -> Option<&TestPki> {
        self.member.tls.as_ref().map(|tls| &tls.pki)
    }

    /// Kills etcd with SIGKILL and waits for it to exit (for tests of etcd outages).
    pub async fn kill(&mut self) {
        let _ = self.child.kill().await;
    }

    /// Starts it again on the same ports and data, after [`Etcd::kill`].
    pub async fn restart(&mut self) -> Result<(), HarnessError> {
        self.kill().await;
        self.child = spawn_etcd_member(&self.data, &self.member)?;
        wait_etcd(&mut self.child, self.member.health_port).await
    }

    /// Adds user `name` with `password` and a role of the same name that may read and
    /// write every key under `prefix` (and nothing else), on a server started with
    /// [`EtcdBuilder::auth`].
    pub async fn add_user(
        &self,
        name: &str,
        password: &str,
        prefix: &str,
    ) -> Result<(), HarnessError> {
        let mut client = self.admin_client(self.root_password.as_deref()).await?;
        let failed =
            |e: etcd_client::Error| HarnessError::Setup(format!("etcd add user {name}: {e}"));
        client.role_add(name).await.map_err(failed)?;
        let permission = etcd_client::Permission::read_write(prefix).with_prefix();
        client
            .role_grant_permission(name, permission)
            .await
            .map_err(failed)?;
        client
            .user_add(name, password, None)
            .await
            .map_err(failed)?;
        client.user_grant_role(name, name).await.map_err(failed)?;
        Ok(())
    }

    async fn enable_auth(&mut self, password: &str) -> Result<(), HarnessError> {
        let mut client = self.admin_client(None).await?;
        let failed = |e: etcd_client::Error| HarnessError::Setup(format!("etcd auth enable: {e}"));
        client
            .user_add("root", password, None)
            .await
            .map_err(failed)?;
        client
            .user_grant_role("root", "root")
            .await
            .map_err(failed)?;
        client.auth_enable().await.map_err(failed)?;
        self.root_password = Some(password.to_owned());
        Ok(())
    }

    /// A client with the harness's own client certificate (under TLS) and, when given, as
    /// `root` with `password`.
    async fn admin_client(
        &self,
        password: Option<&str>,
    ) -> Result<etcd_client::Client, HarnessError> {
        let mut options = etcd_client::ConnectOptions::new();
        if let Some(tls) = &self.member.tls {
            let read = |path: PathBuf| std::fs::read(path);
            let mut tls_options = etcd_client::TlsOptions::new()
                .ca_certificate(etcd_client::Certificate::from_pem(read(tls.pki.ca())?));
            if tls.client_cert_auth {
                tls_options = tls_options.identity(etcd_client::Identity::from_pem(
                    read(tls.pki.client_cert())?,
                    read(tls.pki.client_key())?,
                ));
            }
            options = options.with_tls(tls_options);
        }
        if let Some(password) = password {
            options = options.with_user("root", password);
        }
        etcd_client::Client::connect([self.client_url()], Some(options))
            .await
            .map_err(|e| HarnessError::Setup(format!("etcd admin client: {e}")))
    }
}

fn spawn_etcd_member(data: &Path, member: &EtcdMember) -> Result<Child, HarnessError> {
    let scheme = if member.tls.is_some() {
        "https"
    } else {
        "http"
    };
    let client = format!("{scheme}://127.0.0.1:{}", member.client_port);
    let peer = format!("http://127.0.0.1:{}", member.peer_port);
    let mut command = Command::new("etcd");
    command
        .args([
            "--name",
            &member.name,
            "--initial-cluster-token",
            "herald-test",
        ])
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
        .args(["--initial-cluster", &member.initial_cluster]);
    if let Some(tls) = &member.tls {
        command
            .arg("--cert-file")
            .arg(tls.pki.server_cert())
            .arg("--key-file")
            .arg(tls.pki.server_key())
            .arg("--trusted-ca-file")
            .arg(tls.pki.ca())
            .arg(format!(
                "--listen-metrics-urls=http://127.0.0.1:{}",
                member.health_port
            ));
        if tls.client_cert_auth {
            command.arg("--client-cert-auth");
        }
    }
    command
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
        let dir = scratch_dir()?;
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

    /// Monitoring ports of all members (`/varz`, `/jsz`, `/healthz`), in member order;
    /// member `i` is server `n<i>`.
    pub fn monitor_ports(&self) -> Vec<u16> {
        self.members.iter().map(|m| m.health_port).collect()
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
        let dir = scratch_dir()?;
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
            let child = spawn_etcd_member(&data, &cluster_member(&name, client, peer, &initial))?;
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

/// Member `name` of a plain-HTTP test cluster.
fn cluster_member(
    name: &str,
    client_port: u16,
    peer_port: u16,
    initial_cluster: &str,
) -> EtcdMember {
    EtcdMember {
        name: name.to_owned(),
        client_port,
        peer_port,
        initial_cluster: initial_cluster.to_owned(),
        tls: None,
        health_port: client_port,
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
            let member = cluster_member(&m.args[0], m.port, peer, &m.args[2]);
            m.child = Some(spawn_etcd_member(&m.data, &member)?);
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
    async fn locked_nats_servers_start_with_jetstream() {
        let (public_key, _seed) = nkey_user().unwrap();
        let users = nats()
            .user("herald", "pw")
            .nkey_user(public_key)
            .run()
            .await
            .unwrap();
        assert!(users.client_url().starts_with("nats://"));
        let token = nats().token("t0k3n").run().await.unwrap();
        assert!(token.creds().is_none());
        let operator = nats().operator().run().await.unwrap();
        let creds = std::fs::read_to_string(operator.creds().unwrap()).unwrap();
        assert!(creds.contains("BEGIN NATS USER JWT") && creds.contains("BEGIN USER NKEY SEED"));
        let tls = nats().tls(true).run().await.unwrap();
        assert!(tls.client_url().starts_with("tls://127.0.0.1:"));
        assert!(tls.pki().unwrap().client_cert().is_file());
    }

    #[tokio::test]
    async fn locked_etcd_servers_start_healthy() {
        let mut tls = etcd().tls(true).run().await.unwrap();
        assert!(tls.client_url().starts_with("https://127.0.0.1:"));
        tls.restart().await.unwrap();
        let auth = etcd().auth("root-pw").run().await.unwrap();
        auth.add_user("herald", "pw", "/herald/").await.unwrap();
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
