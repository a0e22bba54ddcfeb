//! Issue 14's crash plan, as an operator would meet it: `herald edge`, `router` and
//! `connector` as separate processes on one NATS server and one etcd; a third-party ESME
//! (npm `smpp`, `tests/interop/node/esme_load.js`: 4 sessions × window 100, receipts on)
//! and a third-party carrier that keeps every receipt until Herald acknowledges it and
//! offers it again on any bind (`tests/interop/node/carrier_sink.js`). While the ESME
//! submits, the router is SIGKILLed and restarted, then the connector, then nats-server.
//! Every message answered OK must get its receipt; duplicates are counted and printed.
//!
//! `HERALD_CHAOS_MESSAGES` (default 4,000) and `HERALD_CHAOS_RUNS` (default 1) scale it:
//! the figures in issue 14's closing note come from
//! `HERALD_CHAOS_MESSAGES=100000 HERALD_CHAOS_RUNS=3 cargo test --release -p herald --test binary chaos -- --nocapture`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncBufReadExt;
use tokio::process::Command;

use super::{seeded, spawn_role_with};

/// Where the Node peers live.
fn node_peer(script: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("../../tests/interop/node/{script}"))
}

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The carrier: its port, and its latest stats line.
struct Sink {
    child: tokio::process::Child,
    port: u16,
    submits: Arc<AtomicU64>,
    last: Arc<std::sync::Mutex<serde_json::Value>>,
}

impl Sink {
    async fn start() -> Sink {
        let mut child = Command::new("node")
            .arg(node_peer("carrier_sink.js"))
            .args([
                "--port",
                "0",
                "--system-id",
                "herald",
                "--password",
                "simsecret",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("node (scripts/install-deps.sh installs it)");
        let stdout = child.stdout.take().unwrap();
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        let first = lines
            .next_line()
            .await
            .unwrap()
            .expect("the listening line");
        let listening: serde_json::Value = serde_json::from_str(&first).unwrap();
        let port = u16::try_from(listening["port"].as_u64().unwrap()).unwrap();
        let submits = Arc::new(AtomicU64::new(0));
        let last = Arc::new(std::sync::Mutex::new(serde_json::Value::Null));
        let (seen, latest) = (submits.clone(), last.clone());
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                let Ok(stats) = serde_json::from_str::<serde_json::Value>(&line) else {
                    continue;
                };
                if stats["event"] == "stats" {
                    seen.store(stats["submits"].as_u64().unwrap_or(0), Ordering::Relaxed);
                    *latest.lock().unwrap() = stats;
                }
            }
        });
        Sink {
            child,
            port,
            submits,
            last,
        }
    }

    /// Waits until the carrier has taken `count` submits.
    async fn reached(&self, count: u64) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(180);
        while self.submits.load(Ordering::Relaxed) < count {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the carrier never got {count} submits"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn stats(&self) -> serde_json::Value {
        self.last.lock().unwrap().clone()
    }
}

/// SIGKILLs a role process and waits for it to be gone.
async fn kill(child: &mut tokio::process::Child, what: &str) {
    child.start_kill().unwrap();
    let _ = child.wait().await;
    eprintln!("killed the {what}");
}

/// The counters of `metric` a node exports, by their `status` label.
async fn counters(admin: &str, metric: &str) -> HashMap<String, f64> {
    let (_, body) = super::http_get(admin, "/metrics").await;
    let mut out = HashMap::new();
    for line in body.lines().filter(|l| l.starts_with(metric)) {
        let status = line
            .split("status=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap_or("");
        let value = line
            .rsplit(' ')
            .next()
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0);
        *out.entry(status.to_owned()).or_default() += value;
    }
    out
}

/// One run of the plan with `messages` messages; panics if a receipt is lost.
async fn run_once(messages: usize, run: usize) {
    let (mut nats, etcd, client) = seeded().await;
    let sink = Sink::start().await;
    let carrier = serde_json::json!({ "binds": 2, "window": 100, "throughput": { "tps": 50000 } });
    herald_harness::seed::carrier(&client, sink.port, carrier).await;
    let env = [
        // Redeliveries of what a killed node held come after the ack wait: keep it short.
        ("HERALD_ROUTER__ACK_WAIT", "5s"),
        ("HERALD_CONNECTOR__ACK_WAIT", "5s"),
        ("HERALD_CONNECTOR__RECEIPT_MATCH_RETRY", "2s"),
        ("HERALD_CONNECTOR__RECEIPT_HOLD", "60s"),
    ];
    let (nats_url, etcd_url) = (nats.client_url(), etcd.client_url());
    let spawn = |role, id| spawn_role_with(role, id, &nats_url, &etcd_url, &client, &env);
    let (_edge, edge) = spawn("edge", "edge-chaos").await;
    let (mut router, _) = spawn("router", "router-chaos-1").await;
    let (mut connector, _) = spawn("connector", "connector-chaos-1").await;

    let esme = Command::new("node")
        .arg(node_peer("esme_load.js"))
        .args(["--port", edge.addresses["smpp"].rsplit(':').next().unwrap()])
        .args(["--system-id", "acme", "--password", "secret"])
        .args([
            "--count",
            &messages.to_string(),
            "--sessions",
            "4",
            "--window",
            "100",
        ])
        .args(["--receipt-wait", "90"])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let started = tokio::time::Instant::now();
    let total = u64::try_from(messages).unwrap();

    sink.reached(total / 5).await;
    kill(&mut router, "router").await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (_router, _) = spawn("router", "router-chaos-2").await;

    sink.reached(total * 2 / 5).await;
    kill(&mut connector, "connector").await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (_connector, connector_node) = spawn("connector", "connector-chaos-2").await;

    sink.reached(total * 3 / 5).await;
    nats.kill().await;
    eprintln!("killed nats-server");
    tokio::time::sleep(Duration::from_secs(2)).await;
    nats.restart().await.unwrap();

    let output = tokio::time::timeout(Duration::from_secs(600), esme.wait_with_output())
        .await
        .expect("the ESME finished")
        .unwrap();
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("ESME summary {:?}: {e}", output.stdout));
    let admin = &connector_node.addresses["admin"];
    let receipts = counters(admin, "herald_connector_receipts_total").await;
    let redelivered = counters(admin, "herald_connector_redelivered_total").await;
    eprintln!(
        "chaos run {run}: {messages} messages in {:.1} s\n  ESME: {summary}\n  carrier: {}\n  \
         second connector's receipts: {receipts:?}\n  second connector's redeliveries: {redelivered:?}",
        started.elapsed().as_secs_f64(),
        sink.stats()
    );
    assert_eq!(
        summary["unanswered"], 0,
        "every message was answered in the end"
    );
    assert_eq!(
        summary["missing"], 0,
        "every message answered OK got its receipt: {summary}"
    );
    drop(sink.child);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn router_connector_and_nats_killed_in_turn_lose_no_receipt() {
    let messages = env_number("HERALD_CHAOS_MESSAGES", 4000);
    for run in 1..=env_number("HERALD_CHAOS_RUNS", 1) {
        run_once(messages, run).await;
    }
}
