//! Connector throughput: messages per second from a carrier's queue on the bus to the
//! carrier simulator through one connector, with real `nats-server` and `etcd` on loopback.
//!
//! `cargo bench -p herald-benches --bench connector` fills the carrier's queue with
//! 20,000 messages, starts one connector (4 binds × window 10, carrier TPS uncapped) against
//! the simulator answering after 1 ms, and prints the rate at which the simulator accepted
//! them (median of three runs), once without receipts and once with a receipt per message
//! (each matched through the id map and published as an event before `deliver_sm_resp`;
//! that run ends when the last receipt is answered).
//! Every message costs the connector a pull, a `submit_sm`, an id-map write, a status
//! write and an ack; a receipt adds an id-map read, an event publish and a status write.
//! Run without `--bench` (as the test runner does) it does nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "benchmark")]

use std::future::IntoFuture as _;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use futures::stream::FuturesUnordered;
use herald_bus::{Bus, BusConfig, Outgoing};
use herald_config::ConnectorConfig;
use herald_connector::{Connector, ConnectorDeps};
use herald_proto::bus::v1::{Address, MtMessage};
use herald_rules::{Expected, Kind, RulesClient, RulesStore, StoreConfig};
use herald_sim::{SimConfig, SimSmsc};

const MESSAGES: usize = 20_000;
const RUNS: usize = 3;
const BINDS: u32 = 4;
const WINDOW: u32 = 10;

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run());
}

fn envelope(run: usize, i: usize, receipts: bool) -> MtMessage {
    MtMessage {
        id: format!("B{run}R{}{i:08}", u8::from(receipts)),
        account_id: "acme".into(),
        source: Some(Address {
            addr: "Herald".into(),
            ton: 5,
            npi: 0,
        }),
        destination: Some(Address {
            addr: "447700900001".into(),
            ton: 1,
            npi: 1,
        }),
        registered_delivery: u32::from(receipts),
        payload: vec![b'x'; 140],
        accepted_unix_ms: 1_764_115_200_000,
        ..MtMessage::default()
    }
}

async fn run() {
    for receipts in [false, true] {
        let mut rates = Vec::new();
        for run in 0..RUNS {
            rates.push(once(run, receipts).await);
        }
        rates.sort_by(f64::total_cmp);
        println!(
            "connector bus→carrier, {BINDS} binds × window {WINDOW}, 1 ms carrier latency, {}: {:.0} msg/s (median of {RUNS}; runs {:?})",
            if receipts {
                "with a receipt per message"
            } else {
                "no receipts"
            },
            rates[RUNS / 2],
            rates.iter().map(|r| r.round()).collect::<Vec<_>>()
        );
    }
}

/// One run on fresh servers; the rate the simulator accepted the messages at.
async fn once(run: usize, receipts: bool) -> f64 {
    let nats = herald_harness::nats().run().await.unwrap();
    let etcd = herald_harness::etcd().run().await.unwrap();
    let sim = SimSmsc::start_local(SimConfig {
        max_binds: BINDS as usize,
        submit_latency: Duration::from_millis(1),
        receipt_delay: Duration::from_millis(1),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let password = std::env::temp_dir().join(format!("herald-bench-{}", std::process::id()));
    std::fs::write(&password, "secret").unwrap();
    let store = StoreConfig::new([etcd.client_url()]);
    let client = RulesClient::connect(&store).await.unwrap();
    let carrier = serde_json::json!({
        "id": "sim", "host": "127.0.0.1", "port": sim.local_addr().port(),
        "system_id": "carrier", "password": {"file": password},
        "binds": BINDS, "window": WINDOW, "throughput": {"tps": 1_000_000},
    });
    client
        .put_json(Kind::Carrier, "sim", &carrier.to_string(), Expected::Any)
        .await
        .unwrap();
    let bus = Bus::connect(BusConfig::local(nats.client_url()))
        .await
        .unwrap();
    // The backlog first: the connector drains a full queue.
    let publisher = bus.publisher();
    let mut acks = FuturesUnordered::new();
    for i in 0..MESSAGES {
        let pending = publisher
            .publish(Outgoing::routed("sim", &envelope(run, i, receipts)))
            .await
            .unwrap();
        acks.push(pending.into_future());
        if acks.len() >= 1024 {
            acks.next().await.unwrap().unwrap();
        }
    }
    while let Some(ack) = acks.next().await {
        ack.unwrap();
    }
    let rules = RulesStore::connect(store.clone()).await.unwrap();
    let connector = Arc::new(
        Connector::new(
            ConnectorConfig::default(),
            ConnectorDeps {
                bus: bus.clone(),
                rules,
                rules_client: client,
                node_id: "bench".into(),
            },
        )
        .await
        .unwrap(),
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn({
        let connector = connector.clone();
        async move {
            connector
                .run(async {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        }
    });
    // The clock starts with the first submit the carrier sees.
    let submits = &sim.counters().submits;
    while submits.load(Ordering::Relaxed) == 0 {
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
    let started = Instant::now();
    let first = submits.load(Ordering::Relaxed);
    while submits.load(Ordering::Relaxed) < MESSAGES as u64 {
        tokio::time::sleep(Duration::from_micros(500)).await;
    }
    // With receipts, the run ends when the last receipt is on the bus and answered.
    while receipts && sim.counters().receipts_acked.load(Ordering::Relaxed) < MESSAGES as u64 {
        tokio::time::sleep(Duration::from_micros(500)).await;
    }
    let elapsed = started.elapsed();
    let _ = stop.send(());
    let _ = task.await;
    let _ = std::fs::remove_file(&password);
    (MESSAGES as u64 - first) as f64 / elapsed.as_secs_f64()
}
