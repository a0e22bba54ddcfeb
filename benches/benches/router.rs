//! Router throughput, bus to bus: accepted MT in `HERALD_MT` → routed MT in
//! `HERALD_OUT`, through one `herald-router` on a real `nats-server` (JetStream, file
//! store, R1) started on loopback.
//!
//! Each run starts a fresh server, publishes the messages first (not timed), then starts
//! the router and times until every message is in the carrier queues (a weighted route
//! over three carriers, destinations under 1,000 prefixes, the full decision: rules,
//! envelope decode and encode, publish, publish ack, ack). Printed per configuration:
//! the router's runtime threads, whether it records each message's status in the KV
//! bucket, and messages per second (median of three runs).
//!
//! `cargo bench -p herald-benches --bench router`
//! Run without `--bench` (as the test runner does) it does nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "benchmark")]

use std::time::{Duration, Instant};

use herald_bus::{Bus, BusConfig, Outgoing, StreamKind};
use herald_config::RouterConfig;
use herald_proto::bus::v1::{Address, MtMessage};
use herald_router::{Router, RouterDeps};
use herald_rules::{RulesSnapshot, RulesStore};
use serde_json::json;

const MESSAGES: usize = 50_000;
const RUNS: usize = 3;
const HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$h36T/2CbytHucVk5Xx4g0w$4AjfNxW0BDrHf6jqsAkMT9+RewRiH/T5exmLoRw/T1E";

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    println!(
        "router: {MESSAGES} MT per run, weighted route over 3 carriers, 1000 prefixes; \
         median of {RUNS} runs"
    );
    for (threads, record_routed) in [(1, false), (1, true), (2, false), (2, true)] {
        let mut rates: Vec<f64> = (0..RUNS).map(|_| run(threads, record_routed)).collect();
        rates.sort_by(f64::total_cmp);
        println!(
            "router: {threads} runtime thread(s), record_routed = {record_routed:5}: \
             {:>8.0} msg/s",
            rates[RUNS / 2]
        );
    }
}

fn rules() -> RulesStore {
    let mut entries = vec![(
        "accounts/acme".to_owned(),
        json!({"id": "acme", "password_hash": HASH, "quota": {"tps": 100000}}),
    )];
    for c in ["a", "b", "c"] {
        entries.push((
            format!("carriers/{c}"),
            json!({"id": c, "host": "h", "port": 1, "system_id": "h",
                   "password": {"env": "PW"}, "throughput": {"tps": 1000}}),
        ));
    }
    let prefixes: Vec<String> = (0..1000).map(|i| format!("44{i:04}")).collect();
    entries.push((
        "routes/uk".to_owned(),
        json!({"id": "uk", "match": {"destination_prefixes": prefixes},
               "action": {"type": "weighted", "split": [
                   {"carrier": "a", "weight": 5}, {"carrier": "b", "weight": 3},
                   {"carrier": "c", "weight": 2}]}}),
    ));
    let entries = entries
        .into_iter()
        .map(|(k, v)| (k, serde_json::to_vec(&v).unwrap()));
    RulesStore::fixed(RulesSnapshot::build(1, entries))
}

fn envelope(i: usize) -> MtMessage {
    MtMessage {
        id: format!("0196f3a2c4e07a1b{i:08x}"),
        account_id: "acme".into(),
        source: Some(Address {
            addr: "Herald".into(),
            ton: 5,
            npi: 0,
        }),
        destination: Some(Address {
            addr: format!("44{:04}{:06}", i % 1000, i),
            ton: 1,
            npi: 1,
        }),
        registered_delivery: 1,
        payload: vec![b'x'; 160],
        accepted_unix_ms: 1_764_115_200_000,
        edge_node: "edge-0".into(),
        ..Default::default()
    }
}

/// One run: a fresh server, the backlog published, one router timed draining it.
fn run(threads: usize, record_routed: bool) -> f64 {
    // The server and the publishing client live on their own runtime, so the router's
    // runtime has only the router on it.
    let infra = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let (nats, bus) = infra.block_on(async {
        let nats = herald_harness::nats().run().await.unwrap();
        let bus = Bus::connect(BusConfig::local(nats.client_url()))
            .await
            .unwrap();
        let publisher = bus.publisher();
        let mut pending = Vec::new();
        for i in 0..MESSAGES {
            pending.push(
                publisher
                    .publish(Outgoing::accepted(&envelope(i)))
                    .await
                    .unwrap(),
            );
            if pending.len() == 1024 {
                for p in pending.drain(..) {
                    p.await.unwrap();
                }
            }
        }
        for p in pending {
            p.await.unwrap();
        }
        (nats, bus)
    });

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
        .unwrap();
    let rate = runtime.block_on(async {
        let router_bus = Bus::connect(BusConfig::local(nats.client_url()))
            .await
            .unwrap();
        let config = RouterConfig {
            workers: threads,
            in_flight: 1000,
            batch: 256,
            record_routed,
            ..RouterConfig::default()
        };
        let deps = RouterDeps {
            bus: router_bus,
            rules: rules(),
            node_id: "bench".into(),
            rules_writer: None,
        };
        let router = Router::new(config, deps).await.unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let started = Instant::now();
        let task = tokio::spawn(async move {
            router
                .run(async {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        });
        let js = bus.jetstream().clone();
        loop {
            let mut out = js.get_stream(StreamKind::Out.name()).await.unwrap();
            let stored = out.info().await.unwrap().state.messages;
            if stored >= MESSAGES as u64 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let elapsed = started.elapsed();
        let _ = stop.send(());
        let _ = task.await;
        MESSAGES as f64 / elapsed.as_secs_f64()
    });
    drop(runtime);
    infra.block_on(async move {
        drop(bus);
        drop(nats);
    });
    rate
}
