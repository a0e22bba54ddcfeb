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
//! `0s,10s`: without holding, then as shipped), each on a fresh cluster, with
//! `HERALD_BENCH_PARTITIONS` partitions (`nats.partitions`, default 1).
//!
//! `HERALD_BENCH_SCENARIO=scale-out` runs instead (d): the same flat-out load
//! (`HERALD_BENCH_COUNT` messages, default 30,000) through three shapes of cluster in one
//! run, each started fresh: one NATS server with one edge, router and connector (the
//! baseline); three NATS servers (R3) and three etcd members with one of each role; and
//! R3 with 3 edges, 2 routers and 2 connectors, the sessions spread over the edges
//! (`herald-load --also`), first with one partition and then with the status and
//! carrier-id buckets in three (`nats.partitions`, ADR 0021). Each prints what (a) prints, with CPU summed per role (each
//! process in parentheses) and per NATS server, and which server leads each stream and
//! bucket.
//!
//! `HERALD_BENCH_SCENARIO=priority` runs instead (e): one-time passwords behind a bulk
//! backlog at a slow carrier (`HERALD_BENCH_SLOW_TPS`, default 200 msgs/s). A stream of
//! OTPs (`priority_flag` 1, 4 a second for 15 s) is sent to the idle cluster, then
//! `HERALD_BENCH_BACKLOG` bulk messages (default 100,000) are queued and the same OTP
//! stream sent again. It prints each stream's latency from `submit_sm_resp` to the
//! carrier's receiving the message (p50, p99, max), the backlog still queued when the
//! last OTP arrived, and how long a message at the back of the backlog waits.
//!
//! `HERALD_BENCH_SCENARIO=webhooks` runs instead (f): the account also has a webhook (a
//! receiver in this process, plain HTTP on loopback, answering 204), and
//! `HERALD_BENCH_COUNT` messages (default 30,000) go flat out with receipts. It prints the
//! SMPP figures of (a) and, from the same run, receipts delivered by webhook per second
//! and their latency from the connector's submit to the carrier to the webhook's arrival
//! (p50, p99), and how many arrived.
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
    match std::env::var("HERALD_BENCH_SCENARIO").as_deref() {
        Ok("failover") => runtime.block_on(failover(herald)),
        Ok("scale-out") => runtime.block_on(scale_out(herald)),
        Ok("priority") => runtime.block_on(priority(herald)),
        Ok("webhooks") => runtime.block_on(webhooks(herald)),
        Ok(other) if !other.is_empty() => {
            panic!("HERALD_BENCH_SCENARIO={other}: failover, scale-out, priority or webhooks")
        }
        _ => runtime.block_on(bench(herald)),
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
    seed(&client, sim.local_addr().port(), 1_000_000).await;

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
            &etcd.client_url(),
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
        nats_monitors: vec![format!("127.0.0.1:{}", nats.monitor_port())],
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

/// `nats.partitions` for the failover scenario: `HERALD_BENCH_PARTITIONS`, default 1.
fn partitions() -> String {
    std::env::var("HERALD_BENCH_PARTITIONS").unwrap_or_else(|_| "1".into())
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
    seed(&client, sim.local_addr().port(), 1_000_000).await;
    let env: Vec<(String, String)> = [
        ("HERALD_NATS__URLS", nats.client_urls().join(",")),
        ("HERALD_NATS__REPLICAS", "3".into()),
        ("HERALD_NATS__PUBLISH_HOLD", hold.into()),
        ("HERALD_NATS__PARTITIONS", partitions()),
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
        let (child, node) = spawn_role(herald, role, &id, &env, &etcd.client_url(), &client).await;
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
        "(c) rolling SIGKILL of each of 3 NATS servers (R3; {} s down, 10 s apart), {RATE:.0} msgs/s offered for {} s, nats.publish_hold {hold}, nats.partitions {}",
        DOWN.as_secs(),
        RUN.as_secs(),
        partitions()
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

/// (e): OTPs behind a bulk backlog at a slow carrier.
async fn priority(herald: std::path::PathBuf) {
    let env_number = |name: &str, default: u64| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let tps = u32::try_from(env_number("HERALD_BENCH_SLOW_TPS", 200)).unwrap();
    let backlog = env_number("HERALD_BENCH_BACKLOG", 100_000);
    let nats = herald_harness::nats().run().await.unwrap();
    let etcd = herald_harness::etcd().run().await.unwrap();
    let sim = start_carrier(SimConfig {
        record_submits: true,
        ..SimConfig::default()
    })
    .await;
    let client = RulesClient::connect(&StoreConfig::new([etcd.client_url()]))
        .await
        .unwrap();
    seed(&client, sim.local_addr().port(), tps).await;
    let password_file = std::path::PathBuf::new();
    let env = nats_env(&nats, NatsSecurity::Plain, &password_file);
    let mut children = Vec::new();
    let mut smpp = String::new();
    for role in ["edge", "router", "connector"] {
        let (child, node) = spawn_role(
            &herald,
            role,
            &format!("{role}-bench"),
            &env,
            &etcd.client_url(),
            &client,
        )
        .await;
        if role == "edge" {
            smpp = node.addresses["smpp"].clone();
        }
        children.push(child);
    }
    wait_bound(&sim).await;
    eprintln!("cluster up: carrier at {tps} msgs/s");

    let idle = otp_stream(&smpp, &sim, "idle").await;
    let queued_at = std::time::Instant::now();
    let bulk = herald_load::run(LoadConfig {
        count: Some(backlog),
        registered_delivery: false,
        ..load_config(&smpp)
    })
    .await
    .unwrap();
    eprintln!(
        "queued {} bulk messages in {:.1} s",
        bulk.messages,
        queued_at.elapsed().as_secs_f64()
    );
    let behind = otp_stream(&smpp, &sim, "behind").await;
    let bulk_sent = sim
        .submitted()
        .iter()
        .filter(|r| !r.user_data.starts_with(b"otp "))
        .count() as u64;
    let still_queued = bulk.messages.saturating_sub(bulk_sent);
    println!("(e) OTPs (priority_flag 1, 4/s for 15 s) at a carrier taking {tps} msgs/s");
    for (name, latencies) in [("idle", &idle), ("behind the backlog", &behind)] {
        println!(
            "  {name}: submit_sm_resp to carrier p50 {:.1} ms p99 {:.1} ms max {:.1} ms ({} OTPs)",
            percentile(latencies, 0.50),
            percentile(latencies, 0.99),
            percentile(latencies, 1.0),
            latencies.len()
        );
    }
    println!(
        "  backlog: {} bulk queued, {still_queued} still queued when the last OTP arrived; \
         the last of them waits about {:.0} s at {tps} msgs/s (where an OTP in one FIFO would)",
        bulk.messages,
        bulk.messages as f64 / f64::from(tps)
    );
    for mut child in children {
        let _ = child.kill().await;
    }
}

/// (f): receipts by webhook next to receipts over SMPP, in one run.
async fn webhooks(herald: std::path::PathBuf) {
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let count: u64 = std::env::var("HERALD_BENCH_COUNT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30_000);
    let nats = herald_harness::nats().run().await.unwrap();
    let etcd = herald_harness::etcd().run().await.unwrap();
    let sim = start_carrier(SimConfig::default()).await;
    let client = RulesClient::connect(&StoreConfig::new([etcd.client_url()]))
        .await
        .unwrap();
    seed(&client, sim.local_addr().port(), 1_000_000).await;
    let hook = WebhookSink::start().await;
    let account = serde_json::json!({
        "id": "load",
        "password_hash": PasswordHash::hash("secret").unwrap(),
        "quota": { "tps": 1_000_000 }, "window": 100, "max_binds": 16,
        "webhook": {
            "url": format!("http://{}/hook", hook.addr),
            "secrets": [{"env": "HERALD_BENCH_WHSEC"}],
            "events": ["receipt"], "concurrency": 64,
        },
    });
    client
        .put_json(Kind::Account, "load", &account.to_string(), Expected::Any)
        .await
        .unwrap();
    let password_file = std::path::PathBuf::new();
    let mut env = nats_env(&nats, NatsSecurity::Plain, &password_file);
    env.push(("HERALD_EDGE__WEBHOOKS__ALLOW_HTTP".into(), "true".into()));
    env.push(("HERALD_BENCH_WHSEC".into(), SECRET.into()));
    let mut children = Vec::new();
    let mut pids = Vec::new();
    let mut admins = Vec::new();
    let mut smpp = String::new();
    for role in ["edge", "router", "connector"] {
        let (child, node) = spawn_role(
            &herald,
            role,
            &format!("{role}-bench"),
            &env,
            &etcd.client_url(),
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
    pids.push(("bench (load+sim+webhook sink)".into(), std::process::id()));
    let counted = Counted {
        roles: admins,
        nats_monitors: vec![format!("127.0.0.1:{}", nats.monitor_port())],
    };
    wait_bound(&sim).await;
    let base = load_config(&smpp);
    warm_up(&base).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while hook.arrivals().len() < 2_000 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    hook.clear();
    measure(
        &format!("(f) {count} msgs as fast as possible with receipts, over SMPP and by webhook"),
        LoadConfig {
            count: Some(count),
            ..base.clone()
        },
        &pids,
        &counted,
    )
    .await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    while (hook.arrivals().len() as u64) < count && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let arrivals = hook.arrivals();
    let latencies: Vec<f64> = arrivals
        .iter()
        .map(|(at_ms, submitted_ms)| (at_ms - submitted_ms) as f64)
        .collect();
    let first = arrivals.iter().map(|(at, _)| *at).min().unwrap_or(0);
    let last = arrivals.iter().map(|(at, _)| *at).max().unwrap_or(0);
    let seconds = ((last - first) as f64 / 1000.0).max(0.001);
    println!(
        "  by webhook: {} of {count} receipts, {:.0} receipts/s; submit-to-carrier to webhook p50 {:.1} ms p99 {:.1} ms",
        arrivals.len(),
        arrivals.len() as f64 / seconds,
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99),
    );
    for mut child in children {
        let _ = child.kill().await;
    }
}

/// A webhook endpoint in this process (`herald_webhook::sink`, answering 204), keeping
/// for each receipt when it arrived and when its message went to the carrier (Unix ms).
struct WebhookSink {
    addr: std::net::SocketAddr,
    arrivals: std::sync::Arc<std::sync::Mutex<Vec<(i64, i64)>>>,
}

impl WebhookSink {
    async fn start() -> WebhookSink {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, mut received) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(herald_webhook::sink::serve(listener, tx));
        let arrivals = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let kept = arrivals.clone();
        tokio::spawn(async move {
            while let Some(request) = received.recv().await {
                let at_ms = request
                    .at
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_millis() as i64;
                if let Ok(event) = serde_json::from_slice::<serde_json::Value>(&request.body) {
                    let submitted = event["data"]["submitted_at_ms"].as_i64().unwrap_or(at_ms);
                    kept.lock().unwrap().push((at_ms, submitted));
                }
            }
        });
        WebhookSink { addr, arrivals }
    }

    fn arrivals(&self) -> Vec<(i64, i64)> {
        self.arrivals.lock().unwrap().clone()
    }

    fn clear(&self) {
        self.arrivals.lock().unwrap().clear();
    }
}

/// Sends 60 OTPs with `priority_flag` 1 at 4 a second over one transmitter session, and
/// returns each one's milliseconds from its `submit_sm_resp` to its arrival at `sim`.
async fn otp_stream(smpp: &str, sim: &SimSmsc, tag: &str) -> Vec<f64> {
    use herald_smpp::pdu::{Bind, SubmitSm};
    use herald_smpp::session::{BindMode, bind};
    use herald_smpp::{Address, COctetString, CommandStatus, PduBody};

    const OTPS: usize = 60;
    let io = tokio::net::TcpStream::connect(smpp).await.unwrap();
    let request = Bind {
        system_id: COctetString::from("load"),
        password: COctetString::from("secret"),
        interface_version: 0x34,
        ..Bind::default()
    };
    let (session, _inbox, _) = bind(io, SessionConfig::default(), BindMode::Transmitter, request)
        .await
        .unwrap();
    let mut answered = std::collections::HashMap::new();
    let mut ticks = tokio::time::interval(Duration::from_millis(250));
    for i in 0..OTPS {
        ticks.tick().await;
        let text = format!("otp {tag} {i:03}");
        let sm = SubmitSm {
            source: Address::alphanumeric("BANK"),
            dest: Address::international(&format!("4477009{i:05}")),
            priority_flag: 1,
            short_message: bytes::Bytes::from(text.clone().into_bytes()),
            ..SubmitSm::default()
        };
        let resp = session.request(PduBody::SubmitSm(sm)).await.unwrap();
        assert_eq!(resp.command_status, CommandStatus::ESME_ROK);
        answered.insert(text, std::time::Instant::now());
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let arrived: Vec<(String, std::time::Instant)> = sim
            .submitted()
            .into_iter()
            .filter(|r| r.user_data.starts_with(format!("otp {tag} ").as_bytes()))
            .map(|r| {
                (
                    String::from_utf8_lossy(&r.user_data).into_owned(),
                    r.received,
                )
            })
            .collect();
        if arrived.len() >= OTPS {
            let _ = session.unbind().await;
            return arrived
                .into_iter()
                .filter_map(|(text, at)| {
                    let answered = answered.get(&text)?;
                    Some(at.saturating_duration_since(*answered).as_secs_f64() * 1000.0)
                })
                .collect();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {} of {OTPS} OTPs reached the carrier",
            arrived.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The `q` quantile of `values` (nearest rank).
fn percentile(values: &[f64], q: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len().max(1));
    sorted.get(rank - 1).copied().unwrap_or(0.0)
}

/// A cluster's shape in scenario (d).
#[derive(Clone, Copy, Debug)]
struct Shape {
    /// 1: one NATS server and one etcd; 3: three of each, streams and buckets R3.
    servers: usize,
    edges: usize,
    routers: usize,
    connectors: usize,
    /// `nats.partitions`: the status and carrier-id buckets split this many ways.
    partitions: u16,
}

/// (d): the same load through each shape, one after the other.
async fn scale_out(herald: std::path::PathBuf) {
    let count: u64 = std::env::var("HERALD_BENCH_COUNT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30_000);
    let one_of_each = Shape {
        servers: 1,
        edges: 1,
        routers: 1,
        connectors: 1,
        partitions: 1,
    };
    let spread = Shape {
        servers: 3,
        edges: 3,
        routers: 2,
        connectors: 2,
        partitions: 1,
    };
    let shapes = [
        one_of_each,
        Shape {
            servers: 3,
            ..one_of_each
        },
        spread,
        Shape {
            partitions: 3,
            ..spread
        },
    ];
    for shape in shapes {
        scale_out_run(&herald, shape, count).await;
    }
}

/// NATS for one shape: a server, or a cluster of three.
enum NatsServers {
    One(Box<herald_harness::NatsServer>),
    Three(herald_harness::NatsCluster),
}

impl NatsServers {
    fn urls(&self) -> Vec<String> {
        match self {
            NatsServers::One(server) => vec![server.client_url()],
            NatsServers::Three(cluster) => cluster.client_urls(),
        }
    }

    fn monitors(&self) -> Vec<String> {
        let ports = match self {
            NatsServers::One(server) => vec![server.monitor_port()],
            NatsServers::Three(cluster) => cluster.monitor_ports(),
        };
        ports
            .into_iter()
            .map(|p| format!("127.0.0.1:{p}"))
            .collect()
    }
}

/// etcd for one shape: a member, or a cluster of three.
enum EtcdMembers {
    One(Box<herald_harness::Etcd>),
    Three(herald_harness::EtcdCluster),
}

impl EtcdMembers {
    fn urls(&self) -> Vec<String> {
        match self {
            EtcdMembers::One(etcd) => vec![etcd.client_url()],
            EtcdMembers::Three(cluster) => cluster.client_urls(),
        }
    }
}

async fn scale_out_run(herald: &std::path::Path, shape: Shape, count: u64) {
    let (bus, rules) = if shape.servers == 1 {
        (
            NatsServers::One(Box::new(herald_harness::nats().run().await.unwrap())),
            EtcdMembers::One(Box::new(herald_harness::etcd().run().await.unwrap())),
        )
    } else {
        (
            NatsServers::Three(herald_harness::nats_cluster().run().await.unwrap()),
            EtcdMembers::Three(herald_harness::etcd_cluster().run().await.unwrap()),
        )
    };
    let etcd_urls = rules.urls().join(",");
    let sim = start_carrier(SimConfig::default()).await;
    let client = RulesClient::connect(&StoreConfig::new(rules.urls()))
        .await
        .unwrap();
    seed(&client, sim.local_addr().port(), 1_000_000).await;
    let env: Vec<(String, String)> = vec![
        ("HERALD_NATS__URLS".into(), bus.urls().join(",")),
        ("HERALD_NATS__REPLICAS".into(), shape.servers.to_string()),
        (
            "HERALD_NATS__PARTITIONS".into(),
            shape.partitions.to_string(),
        ),
    ];
    let mut children = Vec::new();
    let mut pids = Vec::new();
    let mut admins = Vec::new();
    let mut edges = Vec::new();
    let roles = [
        ("edge", shape.edges),
        ("router", shape.routers),
        ("connector", shape.connectors),
    ];
    for (role, replicas) in roles {
        for n in 1..=replicas {
            let name = format!("{role}#{n}");
            let id = format!("{role}-{n}");
            let (child, node) = spawn_role(herald, role, &id, &env, &etcd_urls, &client).await;
            pids.push((name.clone(), child.id().unwrap()));
            admins.push((name, node.addresses["admin"].clone()));
            if role == "edge" {
                edges.push(node.addresses["smpp"].clone());
            }
            children.push(child);
        }
    }
    for (n, url) in bus.urls().iter().enumerate() {
        let port = url.rsplit_once(':').unwrap().1.parse().unwrap();
        pids.push((format!("nats-server#n{n}"), nats_pid(port)));
    }
    pids.push(("bench (load+sim)".into(), std::process::id()));
    let counted = Counted {
        roles: admins,
        nats_monitors: bus.monitors(),
    };
    wait_bound(&sim).await;
    let base = LoadConfig {
        sessions: 2 * shape.edges.max(2),
        also: edges[1..].to_vec(),
        ..load_config(&edges[0])
    };
    warm_up(&base).await;
    let title = format!(
        "(d) {} NATS server(s) (R{}), {} partition(s), {} etcd, {} edge(s), {} router(s), {} connector(s): {count} msgs as fast as possible, {} sessions × window 100",
        shape.servers,
        shape.servers,
        shape.partitions,
        shape.servers,
        shape.edges,
        shape.routers,
        shape.connectors,
        base.sessions
    );
    measure(
        &title,
        LoadConfig {
            count: Some(count),
            ..base
        },
        &pids,
        &counted,
    )
    .await;
    println!("  leaders: {}", leaders(&bus).await);
    for mut child in children {
        let _ = child.kill().await;
    }
}

/// Which server leads the JetStream meta group and how many streams (KV buckets are
/// streams) each server leads, from the first server's `/jsz`.
async fn leaders(bus: &NatsServers) -> String {
    let monitor = &bus.monitors()[0];
    let jsz: serde_json::Value =
        serde_json::from_str(&http_get(monitor, "/jsz?streams=true&accounts=true").await).unwrap();
    let meta = jsz["meta_cluster"]["leader"]
        .as_str()
        .unwrap_or("-")
        .to_owned();
    let mut led: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for account in jsz["account_details"].as_array().into_iter().flatten() {
        for stream in account["stream_detail"].as_array().into_iter().flatten() {
            let name = stream["name"].as_str().unwrap_or("?").to_owned();
            let leader = stream["cluster"]["leader"]
                .as_str()
                .unwrap_or("this server")
                .to_owned();
            led.entry(leader).or_default().push(name);
        }
    }
    let streams: Vec<String> = led
        .into_iter()
        .map(|(server, names)| format!("{server} {} ({})", names.len(), names.join(" ")))
        .collect();
    format!("meta {meta}; streams {}", streams.join("; "))
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
    // Processes named `<role>#<n>` are summed per role, each shown in parentheses.
    let mut cpu: Vec<(String, f64, Vec<String>)> = Vec::new();
    for ((name, _), (b, a)) in pids.iter().zip(before.iter().zip(&after)) {
        let per_thousand = (a - b) as f64 / ticks_per_second() / thousands;
        let (role, member) = name.split_once('#').unwrap_or((name, ""));
        if !cpu.iter().any(|(r, _, _)| r == role) {
            cpu.push((role.to_owned(), 0.0, Vec::new()));
        }
        if let Some((_, total, members)) = cpu.iter_mut().find(|(r, _, _)| r == role) {
            *total += per_thousand;
            if !member.is_empty() {
                members.push(format!("{member} {per_thousand:.3}"));
            }
        }
    }
    let cpu: Vec<String> = cpu
        .into_iter()
        .map(|(role, total, members)| match members.len() {
            0 | 1 => format!("{role} {total:.3}"),
            _ => format!("{role} {total:.3} ({})", members.join(", ")),
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
    /// Every NATS server's monitoring address: their counts are summed.
    nats_monitors: Vec<String>,
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
        let mut servers = std::collections::HashMap::new();
        for monitor in &self.nats_monitors {
            let varz: serde_json::Value =
                serde_json::from_str(&http_get(monitor, "/varz").await).unwrap();
            for key in ["in_msgs", "out_msgs"] {
                *servers.entry(key.to_owned()).or_insert(0.0) += varz[key].as_f64().unwrap_or(0.0);
            }
        }
        counts.insert("nats-server".to_owned(), servers);
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

/// The account, the carrier (the simulator, at `carrier_tps`) and a route for every
/// number.
async fn seed(client: &RulesClient, sim_port: u16, carrier_tps: u32) {
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
        "throughput": { "tps": carrier_tps },
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
    etcd_urls: &str,
    client: &RulesClient,
) -> (tokio::process::Child, herald_rules::NodeInfo) {
    let log = std::env::var_os("HERALD_BENCH_LOG").is_some();
    let child = tokio::process::Command::new(herald)
        .arg(role)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env("HERALD_NODE__ID", id)
        .env("HERALD_ETCD__ENDPOINTS", etcd_urls)
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
