//! The edge under load, on a real `nats-server` and `etcd` started on loopback.
//!
//! `cargo bench -p herald-benches --bench edge` prints:
//! 1. one session with a window of 100 submitting 100,000 `submit_sm` as fast as the
//!    edge answers (each answer after the bus acked the publish): msgs/s and
//!    `submit_sm_resp` latency p50/p90/p99/max, with the edge in this process;
//! 2. 10,000 idle bound sessions on one `herald edge` process (built here with
//!    `cargo build --release -p herald`): its resident memory per session and its CPU
//!    while the sessions are idle.
//!
//! Run without `--bench` (as the test runner does) it does nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "benchmark")]

use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt as _;
use futures::stream::FuturesUnordered;
use herald_bus::{Bus, BusConfig};
use herald_config::EdgeConfig;
use herald_edge::{Edge, EdgeDeps};
use herald_rules::{Expected, Kind, PasswordHash, RulesClient, RulesStore, StoreConfig};
use herald_smpp::pdu::{Bind, SubmitSm};
use herald_smpp::session::{BindMode, SessionConfig, bind};
use herald_smpp::{Address, COctetString, CommandStatus, PduBody};
use tokio::net::{TcpListener, TcpStream};

const SUBMITS: usize = 100_000;
const WINDOW: usize = 100;
/// Idle sessions bound in part 2; `HERALD_BENCH_IDLE_SESSIONS` overrides.
const IDLE_SESSIONS: usize = 10_000;

fn idle_sessions_wanted() -> usize {
    std::env::var("HERALD_BENCH_IDLE_SESSIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(IDLE_SESSIONS)
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let nats = herald_harness::nats().run().await.unwrap();
        let etcd = herald_harness::etcd().run().await.unwrap();
        let store = StoreConfig::new([etcd.client_url()]);
        let client = RulesClient::connect(&store).await.unwrap();
        let account = serde_json::json!({
            "id": "bench",
            "password_hash": PasswordHash::hash("secret").unwrap(),
            "quota": { "tps": 1_000_000 },
            "window": WINDOW,
            "max_binds": IDLE_SESSIONS + 10,
        });
        client
            .put_json(Kind::Account, "bench", &account.to_string(), Expected::Any)
            .await
            .unwrap();
        // A carrier and a route for every number: the edge refuses destinations no route takes.
        let carrier = serde_json::json!({
            "id": "sim", "host": "127.0.0.1", "port": 2776, "system_id": "herald",
            "password": { "env": "HERALD_SIM_PASSWORD" }, "throughput": { "tps": 1000 },
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
        submit_throughput(&nats, &store).await;
        idle_sessions(&nats, &etcd).await;
    });
}

fn bind_request() -> Bind {
    Bind {
        system_id: COctetString::from("bench"),
        password: COctetString::from("secret"),
        interface_version: 0x34,
        ..Bind::default()
    }
}

async fn submit_throughput(nats: &herald_harness::NatsServer, store: &StoreConfig) {
    let rules = RulesStore::connect(store.clone()).await.unwrap();
    let bus = Bus::connect(BusConfig::local(nats.client_url()))
        .await
        .unwrap();
    let edge = Edge::new(
        EdgeConfig {
            max_window: u32::try_from(WINDOW).unwrap(),
            ..EdgeConfig::default()
        },
        EdgeDeps {
            bus,
            rules,
            node_id: "bench".into(),
            session_slots: None,
            route_time_zone: herald_rules::model::UtcOffset::UTC,
        },
    )
    .await
    .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { edge.serve(listener, std::future::pending()).await });

    let io = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    io.set_nodelay(true).unwrap();
    let config = SessionConfig {
        window: WINDOW,
        ..SessionConfig::default()
    };
    let (session, _inbox, _) = bind(io, config, BindMode::Transmitter, bind_request())
        .await
        .unwrap();
    let submit = |i: usize| {
        let session = session.clone();
        async move {
            let body = PduBody::SubmitSm(SubmitSm {
                source: Address::alphanumeric("Bench"),
                dest: Address::international(&format!("4477{:08}", i % 100_000_000)),
                registered_delivery: herald_smpp::RegisteredDelivery(1),
                short_message: Bytes::from_static(b"Your verification code is 123456"),
                ..SubmitSm::default()
            });
            let started = Instant::now();
            let resp = session.request(body).await.unwrap();
            (resp.command_status, started.elapsed())
        }
    };
    let started = Instant::now();
    let mut pending = FuturesUnordered::new();
    let mut latencies = Vec::with_capacity(SUBMITS);
    let mut errors = 0usize;
    for i in 0..SUBMITS {
        if pending.len() >= WINDOW {
            let (status, latency) = pending.next().await.unwrap();
            errors += usize::from(status != CommandStatus::ESME_ROK);
            latencies.push(latency);
        }
        pending.push(submit(i));
    }
    while let Some((status, latency)) = pending.next().await {
        errors += usize::from(status != CommandStatus::ESME_ROK);
        latencies.push(latency);
    }
    let elapsed = started.elapsed();
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() as f64 - 1.0) * q) as usize];
    println!(
        "edge submit: {SUBMITS} submit_sm, 1 session, window {WINDOW}: {:.0} msg/s; \
         submit_sm_resp p50 {:?} p90 {:?} p99 {:?} max {:?}; {errors} errors",
        SUBMITS as f64 / elapsed.as_secs_f64(),
        at(0.50),
        at(0.90),
        at(0.99),
        latencies[latencies.len() - 1],
    );
}

async fn idle_sessions(nats: &herald_harness::NatsServer, etcd: &herald_harness::Etcd) {
    let wanted = idle_sessions_wanted();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let built = std::process::Command::new(env!("CARGO"))
        .args(["build", "--release", "--quiet", "-p", "herald"])
        .current_dir(&root)
        .status()
        .unwrap();
    assert!(built.success(), "cargo build --release -p herald failed");
    let target = std::env::var("CARGO_TARGET_DIR").map_or(root.join("target"), Into::into);
    let mut edge = tokio::process::Command::new(target.join("release/herald"))
        .arg("edge")
        .env("HERALD_NODE__ID", "edge-idle-bench")
        .env("HERALD_NATS__URLS", nats.client_url())
        .env("HERALD_ETCD__ENDPOINTS", etcd.client_url())
        .env("HERALD_ADMIN__LISTEN", "127.0.0.1:0")
        .env("HERALD_GRPC__LISTEN", "127.0.0.1:0")
        .env("HERALD_CONTROL__LISTEN", "127.0.0.1:0")
        .env("HERALD_EDGE__SMPP_LISTEN", "127.0.0.1:0")
        .env("HERALD_EDGE__MAX_SESSIONS", (IDLE_SESSIONS * 2).to_string())
        .env("HERALD_TELEMETRY__LOG_FILTER", "warn")
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let pid = edge.id().unwrap();
    let client = RulesClient::connect(&StoreConfig::new([etcd.client_url()]))
        .await
        .unwrap();
    let smpp = loop {
        let nodes = client.list_nodes(Some("edge")).await.unwrap();
        if let Some(node) = nodes.into_iter().find(|n| n.id == "edge-idle-bench") {
            break node.addresses["smpp"].clone();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = rss_kib(pid);

    let idle = SessionConfig {
        enquire_link_interval: Duration::from_secs(3600),
        ..SessionConfig::default()
    };
    let started = Instant::now();
    let mut sessions = Vec::with_capacity(wanted);
    let mut binding = FuturesUnordered::new();
    for _ in 0..wanted {
        if binding.len() >= 200 {
            sessions.push(binding.next().await.unwrap());
            if sessions.len() % 1000 == 0 {
                eprintln!("{} bound after {:.1?}", sessions.len(), started.elapsed());
            }
        }
        let (smpp, idle) = (smpp.clone(), idle.clone());
        binding.push(async move {
            let io = TcpStream::connect(&smpp).await.unwrap();
            match bind(io, idle, BindMode::Transceiver, bind_request()).await {
                Ok(bound) => bound,
                Err(err) => panic!("bind failed: {err:?}"),
            }
        });
    }
    while let Some(session) = binding.next().await {
        sessions.push(session);
    }
    let bound_in = started.elapsed();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = rss_kib(pid);
    let cpu_before = cpu_ticks(pid);
    let idle_for = Duration::from_secs(10);
    tokio::time::sleep(idle_for).await;
    let cpu = (cpu_ticks(pid) - cpu_before) as f64 / ticks_per_second();
    println!(
        "edge idle: {wanted} transceiver sessions bound in {bound_in:.1?}; RSS {} MiB → {} MiB, \
         {:.1} KiB per session; CPU while idle {:.2}% of one core",
        before / 1024,
        after / 1024,
        (after - before) as f64 / wanted as f64,
        cpu / idle_for.as_secs_f64() * 100.0,
    );
    drop(sessions);
    let _ = edge.kill().await;
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
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
