//! The whole cluster under load with receipts: `nats-server`, `etcd`, one `herald edge`,
//! one `herald router` and one `herald connector` as separate processes (built here with
//! `cargo build --release -p herald`), the carrier simulator in this process, and the load
//! generator (`herald-load`, as a library) in this process too.
//!
//! `cargo bench -p herald-benches --bench cluster` prints, for
//! (a) 30,000 messages as fast as possible on 4 sessions × window 100, and
//! (b) 5,000 msgs/s offered for 10 s:
//! end-to-end msgs/s with receipts, `submit_sm_resp` p50/p99, receipt latency p50/p99,
//! loss, and CPU-seconds per 1,000 messages of each role process, `nats-server` and this
//! process (load generator and simulator), from `/proc/<pid>/stat`; and the bus operations
//! per message: each role's NATS messages sent, stream publishes, settled deliveries and
//! KV operations by bucket (from its `/metrics`), and the messages `nats-server` took in
//! and sent out (from its `/varz`).
//!
//! `HERALD_BENCH_SCENARIO=failover` runs instead (c): availability through a rolling
//! restart of NATS. Three NATS servers with every stream and bucket replicated three
//! times (R3), etcd, the three roles and the simulator; 3,000 msgs/s offered for 40 s with
//! receipts while each server in turn is SIGKILLed (5 s, 15 s and 25 s in) and started
//! again 5 s later. It prints the submits refused (by status), `submit_sm_resp` p50, p99
//! and max, and loss, once per `nats.publish_hold` in `HERALD_BENCH_HOLDS` (default
//! `0s,10s`: without holding, then as shipped), each on a fresh cluster.
//!
//! `HERALD_BENCH_NATS` sets how the roles reach NATS: `plain` (the default), `auth` (a
//! user and password, from a file), or `tls` (the same user, over TLS with a client
//! certificate the server verifies: mutual TLS): the cost of securing the bus.
//!
//! Run without `--bench` (as the test runner does) it does nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "benchmark")]

use std::process::Stdio;
use std::time::Duration;

use herald_load::{LoadConfig, Rate, Report};
use herald_rules::{Expected, Kind, PasswordHash, RulesClient, StoreConfig};
use herald_sim::{SimConfig, SimSmsc};
use herald_smpp::session::SessionConfig;

/// The load generator and the simulator run in this process: the same allocator as the
/// `herald` binary.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const SIM_SYSTEM_ID: &str = "herald";
const SIM_PASSWORD: &str = "simsecret";
/// Connector binds to the simulator and the window on each.
const CARRIER_BINDS: u32 = 4;
const CARRIER_WINDOW: u32 = 200;
/// The NATS user the roles log in as, with `HERALD_BENCH_NATS=auth` or `tls`.
const NATS_USER: &str = "herald";
const NATS_PASSWORD: &str = "bench-nats-password";

/// How the roles reach NATS.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum NatsSecurity {
    Plain,
    Auth,
    Tls,
}

impl NatsSecurity {
    fn from_env() -> Self {
        match std::env::var("HERALD_BENCH_NATS").as_deref() {
            Ok("auth") => NatsSecurity::Auth,
            Ok("tls") => NatsSecurity::Tls,
            Ok("plain") | Err(_) => NatsSecurity::Plain,
            Ok(other) => panic!("HERALD_BENCH_NATS={other}: plain, auth or tls"),
        }
    }
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let herald = build_herald();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    if std::env::var("HERALD_BENCH_SCENARIO").as_deref() == Ok("failover") {
        runtime.block_on(failover(herald));
    } else {
        runtime.block_on(bench(herald));
    }
}

fn build_herald() -> std::path::PathBuf {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let built = std::process::Command::new(env!("CARGO"))
        .args(["build", "--release", "--quiet", "-p", "herald"])
        .current_dir(&root)
        .status()
        .unwrap();
    assert!(built.success(), "cargo build --release -p herald failed");
    let target = std::env::var("CARGO_TARGET_DIR").map_or(root.join("target"), Into::into);
    target.join("release/herald")
}

async fn bench(herald: std::path::PathBuf) {
    let security = NatsSecurity::from_env();
    let mut nats = herald_harness::nats();
    if security != NatsSecurity::Plain {
        nats = nats.user(NATS_USER, NATS_PASSWORD);
    }
    if security == NatsSecurity::Tls {
        nats = nats.tls(true);
    }
    let nats = nats.run().await.unwrap();
    eprintln!("NATS: {security:?}");
    let secrets = tempfile::tempdir().unwrap();
    let password_file = secrets.path().join("nats-password");
    std::fs::write(&password_file, NATS_PASSWORD).unwrap();
    let etcd = herald_harness::etcd().run().await.unwrap();
    let sim = start_carrier(SimConfig::default()).await;
    let client = RulesClient::connect(&StoreConfig::new([etcd.client_url()]))
        .await
        .unwrap();
    seed(&client, sim.local_addr().port()).await;

    let mut children = Vec::new();
    let mut pids = Vec::new();
    let mut admins = Vec::new();
    let mut smpp = String::new();
    for role in ["edge", "router", "connector"] {
        let env = nats_env(&nats, security, &password_file);
        let (child, node) = spawn_role(
            &herald,
            role,
            &format!("{role}-bench"),
            &env,
            &etcd,
            &client,
        )
        .await;
        pids.push((role.to_owned(), child.id().unwrap()));
        admins.push((role.to_owned(), node.addresses["admin"].clone()));
        if role == "edge" {
            smpp = node.addresses["smpp"].clone();
        }
        children.push(child);
    }
    pids.push(("nats-server".into(), nats_pid(nats.port())));
    let counted = Counted {
        roles: admins,
        nats_monitor: format!("127.0.0.1:{}", nats.monitor_port()),
    };
    pids.push(("bench (load+sim)".into(), std::process::id()));
    wait_bound(&sim).await;
    let base = load_config(&smpp);
    eprintln!(
        "cluster up: edge {smpp}, carrier simulator {}",
        sim.local_addr()
    );

    warm_up(&base).await;

    // HERALD_BENCH_COUNT sets (a)'s count: longer runs weigh the start-up less.
    let count: u64 = std::env::var("HERALD_BENCH_COUNT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30_000);
    measure(
        &format!("(a) {count} msgs as fast as possible, 4 sessions × window 100"),
        LoadConfig {
            count: Some(count),
            ..base.clone()
        },
        &pids,
        &counted,
    )
    .await;
    measure(
        "(b) 5,000 msgs/s offered for 10 s, 4 sessions × window 100",
        LoadConfig {
            count: None,
            duration: Some(Duration::from_secs(10)),
            rate: Rate::PerSecond(5_000.0),
            ..base.clone()
        },
        &pids,
        &counted,
    )
    .await;
    for mut child in children {
        let _ = child.kill().await;
    }
}

/// The carrier simulator, as the benches configure it over `config`: no receipt delay,
/// binds and window for the connector's.
async fn start_carrier(config: SimConfig) -> SimSmsc {
    SimSmsc::start_local(SimConfig {
        system_id: SIM_SYSTEM_ID.into(),
        password: SIM_PASSWORD.into(),
        max_binds: 16,
        receipt_delay: Duration::ZERO,
        session: SessionConfig {
            inbound_window: CARRIER_WINDOW as usize * 2,
            ..SessionConfig::default()
        },
        ..config
    })
    .await
    .unwrap()
}

/// Waits until the connector holds all its binds to `sim`.
async fn wait_bound(sim: &SimSmsc) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while sim.bound_now() < CARRIER_BINDS as usize {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the connector never bound"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The load generator's settings against the edge at `smpp` (`host:port`).
fn load_config(smpp: &str) -> LoadConfig {
    let (host, port) = smpp.rsplit_once(':').unwrap();
    LoadConfig {
        host: host.to_owned(),
        port: port.parse().unwrap(),
        system_id: "load".into(),
        password: "secret".into(),
        sessions: 4,
        window: 100,
        registered_delivery: true,
        grace: Duration::from_secs(10),
        ..LoadConfig::default()
    }
}

/// Warm-up: connections, JetStream consumers, allocator.
async fn warm_up(base: &LoadConfig) {
    let warm = herald_load::run(LoadConfig {
        count: Some(2_000),
        ..base.clone()
    })
    .await
    .unwrap();
    eprintln!("warm-up: {} receipts, {} lost", warm.receipts, warm.lost);
}

/// (c): a rolling restart of NATS under load, once per publish hold.
async fn failover(herald: std::path::PathBuf) {
    let holds = std::env::var("HERALD_BENCH_HOLDS").unwrap_or_else(|_| "0s,10s".into());
    for hold in holds.split(',') {
        failover_run(&herald, hold.trim()).await;
    }
}

async fn failover_run(herald: &std::path::Path, hold: &str) {
    const RATE: f64 = 3_000.0;
    const RUN: Duration = Duration::from_secs(40);
    const DOWN: Duration = Duration::from_secs(5);
    let mut nats = herald_harness::nats_cluster().run().await.unwrap();
    let etcd = herald_harness::etcd().run().await.unwrap();
    // Like a real carrier, the simulator keeps offering a receipt Herald could not take
    // while the bus elected leaders.
    let sim = start_carrier(SimConfig {
        receipt_retries: 240,
        ..SimConfig::default()
    })
    .await;
    let client = RulesClient::connect(&StoreConfig::new([etcd.client_url()]))
        .await
        .unwrap();
    seed(&client, sim.local_addr().port()).await;
    let env: Vec<(String, String)> = [
        ("HERALD_NATS__URLS", nats.client_urls().join(",")),
        ("HERALD_NATS__REPLICAS", "3".into()),
        ("HERALD_NATS__PUBLISH_HOLD", hold.into()),
        // Redeliveries of what a dying server held come after the ack wait.
        ("HERALD_ROUTER__ACK_WAIT", "5s".into()),
        ("HERALD_CONNECTOR__ACK_WAIT", "5s".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let mut children = Vec::new();
    let mut smpp = String::new();
    for role in ["edge", "router", "connector"] {
        let id = format!("{role}-failover");
        let (child, node) = spawn_role(herald, role, &id, &env, &etcd, &client).await;
        if role == "edge" {
            smpp = node.addresses["smpp"].clone();
        }
        children.push(child);
    }
    wait_bound(&sim).await;
    let base = LoadConfig {
        // An ESME's response timer: SMPP leaves it to the client; 30 s is common.
        response_timeout: Duration::from_secs(30),
        grace: Duration::from_secs(90),
        ..load_config(&smpp)
    };
    warm_up(&base).await;
    let load = tokio::spawn(herald_load::run(LoadConfig {
        count: None,
        duration: Some(RUN),
        rate: Rate::PerSecond(RATE),
        ..base
    }));
    let start = tokio::time::Instant::now();
    for member in 0..herald_harness::CLUSTER_SIZE {
        tokio::time::sleep_until(start + Duration::from_secs(5 + 10 * member as u64)).await;
        nats.stop(member).await;
        eprintln!(
            "{:>5.1} s: NATS server n{member} killed",
            start.elapsed().as_secs_f64()
        );
        tokio::time::sleep(DOWN).await;
        nats.start(member).await.unwrap();
        eprintln!(
            "{:>5.1} s: n{member} healthy again",
            start.elapsed().as_secs_f64()
        );
    }
    let report = load.await.unwrap().unwrap();
    println!(
        "(c) rolling SIGKILL of each of 3 NATS servers (R3; {} s down, 10 s apart), {RATE:.0} msgs/s offered for {} s, nats.publish_hold {hold}",
        DOWN.as_secs(),
        RUN.as_secs()
    );
    println!(
        "  submits {}: {} answered OK, {} refused or unanswered {:?}",
        report.submits, report.submits_ok, report.submit_errors, report.errors
    );
    println!(
        "  submit_sm_resp p50 {:.2} ms p99 {:.2} ms max {:.2} ms; receipt p99 {:.2} ms",
        report.submit_latency.p50_ms,
        report.submit_latency.p99_ms,
        report.submit_latency.max_ms,
        report.receipt_latency.p99_ms,
    );
    println!(
        "  loss {} of {} receipts expected; unmatched receipts {}",
        report.lost, report.receipts_expected, report.receipts_unmatched
    );
    for mut child in children {
        let _ = child.kill().await;
    }
}

async fn measure(title: &str, config: LoadConfig, pids: &[(String, u32)], counted: &Counted) {
    let operations_before = counted.read().await;
    let before: Vec<u64> = pids.iter().map(|(_, pid)| cpu_ticks(*pid)).collect();
    let report: Report = herald_load::run(config).await.unwrap();
    let after: Vec<u64> = pids.iter().map(|(_, pid)| cpu_ticks(*pid)).collect();
    let operations_after = counted.read().await;
    let thousands = report.messages as f64 / 1000.0;
    println!("{title}");
    println!(
        "  end to end with receipts: {:.0} msgs/s ({} receipts in {:.2} s); submits {:.0} msgs/s",
        report.receipt_rate, report.receipts, report.receipt_seconds, report.submit_rate
    );
    println!(
        "  submit_sm_resp p50 {:.2} ms p99 {:.2} ms max {:.2} ms; receipt p50 {:.2} ms p99 {:.2} ms",
        report.submit_latency.p50_ms,
        report.submit_latency.p99_ms,
        report.submit_latency.max_ms,
        report.receipt_latency.p50_ms,
        report.receipt_latency.p99_ms,
    );
    println!(
        "  loss {} of {}; errors {:?}; unmatched receipts {}",
        report.lost, report.receipts_expected, report.errors, report.receipts_unmatched
    );
    let cpu: Vec<String> = pids
        .iter()
        .zip(before.iter().zip(&after))
        .map(|((name, _), (b, a))| {
            let seconds = (a - b) as f64 / ticks_per_second();
            format!("{name} {:.3}", seconds / thousands)
        })
        .collect();
    println!("  CPU-seconds per 1,000 msgs: {}", cpu.join(", "));
    println!("  bus operations per message:");
    let messages = report.messages as f64;
    for (name, after) in &operations_after {
        let before = operations_before.get(name).cloned().unwrap_or_default();
        let per_message = |key: &str| {
            (after.get(key).copied().unwrap_or(0.0) - before.get(key).copied().unwrap_or(0.0))
                / messages
        };
        let mut keys: Vec<&String> = after.keys().collect();
        keys.sort();
        let figures: Vec<String> = keys
            .into_iter()
            .map(|key| (key, per_message(key)))
            .filter(|(_, value)| *value >= 0.005)
            .map(|(key, value)| format!("{key} {value:.2}"))
            .collect();
        println!("    {name}: {}", figures.join(", "));
    }
}

/// Where the bus operations are counted: each role's admin port (`/metrics`) and the NATS
/// server's monitoring port (`/varz`).
struct Counted {
    roles: Vec<(String, String)>,
    nats_monitor: String,
}

/// Counts by process, then by what was counted.
type Counts = std::collections::BTreeMap<String, std::collections::HashMap<String, f64>>;

impl Counted {
    /// Every count now. The roles copy their NATS client's message counts into their
    /// metrics once a second: wait that out first, so that what came before is in.
    async fn read(&self) -> Counts {
        tokio::time::sleep(Duration::from_millis(1_500)).await;
        let mut counts = Counts::new();
        for (role, admin) in &self.roles {
            let text = http_get(admin, "/metrics").await;
            counts.insert(role.clone(), bus_operations(&text));
        }
        let varz: serde_json::Value =
            serde_json::from_str(&http_get(&self.nats_monitor, "/varz").await).unwrap();
        let server = ["in_msgs", "out_msgs"]
            .into_iter()
            .map(|key| (key.to_owned(), varz[key].as_f64().unwrap_or(0.0)))
            .collect();
        counts.insert("nats-server".to_owned(), server);
        counts
    }
}

/// A role's bus operations from its metrics text: NATS messages sent (`nats_out`), stream
/// publishes and settled deliveries by outcome, and KV operations as `<bucket>.<op>`.
fn bus_operations(text: &str) -> std::collections::HashMap<String, f64> {
    let mut counts = std::collections::HashMap::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let Ok(value) = value.parse::<f64>() else {
            continue;
        };
        let label = |name: &str| {
            let start = series.find(&format!("{name}=\""))? + name.len() + 2;
            let end = series[start..].find('"')?;
            Some(series[start..start + end].to_owned())
        };
        let key = if series.starts_with("herald_bus_client_messages_total{") {
            label("op")
                .filter(|op| op == "out")
                .map(|_| "nats_out".to_owned())
        } else if series.starts_with("herald_bus_publish_total{") {
            Some("publish".to_owned())
        } else if series.starts_with("herald_bus_consume_total{") {
            label("status").map(|status| format!("consume.{status}"))
        } else if series.starts_with("herald_bus_kv_operations_total{") {
            label("bucket")
                .zip(label("op"))
                .map(|(bucket, op)| format!("{}.{op}", bucket.trim_start_matches("herald_")))
        } else {
            None
        };
        if let Some(key) = key {
            *counts.entry(key).or_insert(0.0) += value;
        }
    }
    counts
}

/// The body of `GET path` from `addr` (`host:port`), over HTTP/1.0.
async fn http_get(addr: &str, path: &str) -> String {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default()
}

/// The account, the carrier (the simulator) and a route for every number.
async fn seed(client: &RulesClient, sim_port: u16) {
    let account = serde_json::json!({
        "id": "load",
        "password_hash": PasswordHash::hash("secret").unwrap(),
        "quota": { "tps": 1_000_000 },
        "window": 100,
        "max_binds": 16,
    });
    client
        .put_json(Kind::Account, "load", &account.to_string(), Expected::Any)
        .await
        .unwrap();
    let carrier = serde_json::json!({
        "id": "sim", "host": "127.0.0.1", "port": sim_port, "system_id": SIM_SYSTEM_ID,
        "password": { "env": "HERALD_SIM_PASSWORD" },
        "throughput": { "tps": 1_000_000 },
        "binds": CARRIER_BINDS, "window": CARRIER_WINDOW,
    });
    client
        .put_json(Kind::Carrier, "sim", &carrier.to_string(), Expected::Any)
        .await
        .unwrap();
    let route = serde_json::json!({
        "id": "all", "priority": 10, "match": {},
        "action": { "type": "carrier", "carrier": "sim" },
    });
    client
        .put_json(Kind::Route, "all", &route.to_string(), Expected::Any)
        .await
        .unwrap();
}

/// The environment that tells a role how to reach `nats` with `security`.
fn nats_env(
    nats: &herald_harness::NatsServer,
    security: NatsSecurity,
    password_file: &std::path::Path,
) -> Vec<(String, String)> {
    let mut env = vec![("HERALD_NATS__URLS".to_owned(), nats.client_url())];
    if security != NatsSecurity::Plain {
        env.push(("HERALD_NATS__USER".into(), NATS_USER.into()));
        env.push((
            "HERALD_NATS__PASSWORD__FILE".into(),
            password_file.display().to_string(),
        ));
    }
    if let Some(pki) = nats.pki() {
        for (name, path) in [
            ("HERALD_NATS__TLS__CA", pki.ca()),
            ("HERALD_NATS__TLS__CERT", pki.client_cert()),
            ("HERALD_NATS__TLS__KEY", pki.client_key()),
        ] {
            env.push((name.into(), path.display().to_string()));
        }
    }
    env
}

/// Starts `herald <role>` as node `id` with `env` added (at least `HERALD_NATS__URLS`)
/// and waits for its registration.
async fn spawn_role(
    herald: &std::path::Path,
    role: &str,
    id: &str,
    env: &[(String, String)],
    etcd: &herald_harness::Etcd,
    client: &RulesClient,
) -> (tokio::process::Child, herald_rules::NodeInfo) {
    let log = std::env::var_os("HERALD_BENCH_LOG").is_some();
    let child = tokio::process::Command::new(herald)
        .arg(role)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env("HERALD_NODE__ID", id)
        .env("HERALD_ETCD__ENDPOINTS", etcd.client_url())
        .env("HERALD_ADMIN__LISTEN", "127.0.0.1:0")
        .env("HERALD_GRPC__LISTEN", "127.0.0.1:0")
        .env("HERALD_CONTROL__LISTEN", "127.0.0.1:0")
        .env("HERALD_EDGE__SMPP_LISTEN", "127.0.0.1:0")
        .env("HERALD_TELEMETRY__LOG_FILTER", "warn")
        // Six processes share two cores: one worker thread each (see docs/load.md).
        .env("HERALD_NODE__WORKER_THREADS", "1")
        .env("HERALD_SIM_PASSWORD", SIM_PASSWORD)
        .stdout(Stdio::null())
        .stderr(if log { Stdio::inherit() } else { Stdio::null() })
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let nodes = client.list_nodes(Some(role)).await.unwrap();
        if let Some(node) = nodes.into_iter().find(|n| n.id == id) {
            return (child, node);
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{role} never registered"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The pid of the `nats-server` listening on `port` (the harness does not expose it).
fn nats_pid(port: u16) -> u32 {
    let wanted = format!("\0-p\0{port}\0");
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline);
        if cmdline.contains("nats-server") && cmdline.contains(&wanted) {
            return pid;
        }
    }
    panic!("no nats-server on port {port}");
}

fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

fn ticks_per_second() -> f64 {
    100.0
}
