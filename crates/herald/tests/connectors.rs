//! `herald connector` processes against real NATS and etcd and a real SMSC (the carrier
//! simulator, and the npm `smpp` package's server driven by `tests/interop/node/smsc.js`),
//! with routed messages published straight to the carrier's queue:
//!
//! - three connectors joining while traffic flows never hold more binds open at once than
//!   the carrier's `binds`, and every message reaches the carrier (the simulator; the npm
//!   SMSC, which also throttles every tenth submit);
//! - a connector killed with SIGKILL mid-stream: its slots move to the survivors and every
//!   message reaches the carrier at least once (duplicates counted and printed);
//! - a throttling carrier: every message is eventually accepted;
//! - the carrier restarting mid-stream: the connector rebinds to the new one and every
//!   message reaches a carrier at least once;
//! - receipts the npm SMSC sends before its `submit_sm_resp` are matched to Herald's ids.
//!
//! Set `HERALD_TEST_LOGS=1` to see the connectors' logs on stderr.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use herald_bus::{Bus, ConsumerSpec, Outgoing};
use herald_harness::seed::{self, CARRIER};
use herald_harness::{Backing, PATIENCE, eventually_sync};
use herald_proto::bus::v1::{self as bus, Event, MessageState, MtMessage, Receipt, event};
use herald_sim::{Faults, SimConfig, SimSmsc};
use herald_tests::NodeSmsc;
use tokio::process::Child;

const HERALD: &str = env!("CARGO_BIN_EXE_herald");
const ACCOUNT: &str = "acme";
/// The carrier's credentials; the connectors read the password from
/// `HERALD_SIM_PASSWORD`, as the carrier's rules say.
const SYSTEM_ID: &str = "herald";
const PASSWORD: &str = "simsecret";

/// Real NATS and etcd, a rules client and a bus client on them.
struct Cluster {
    backing: Backing,
    bus: Bus,
}

impl Cluster {
    async fn start() -> Cluster {
        let backing = Backing::start().await;
        let bus = backing.bus().await;
        Cluster { backing, bus }
    }

    /// The carrier at `127.0.0.1:port` (plus `extra` settings) and a route for every
    /// number to it.
    async fn seed(&self, port: u16, extra: serde_json::Value) {
        let mut carrier = serde_json::json!({
            "enquire_link_interval": "1s",
            "response_timeout": "2s",
            "retry_schedule": ["200ms"],
            "max_attempts": 20,
        });
        carrier
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        seed::carrier(&self.backing.rules, port, carrier).await;
        seed::route(&self.backing.rules, "all", &[]).await;
    }

    /// Starts `herald connector` as node `id` and waits for its registration.
    async fn connector(&self, id: &str) -> Child {
        let (child, _) = herald_harness::node(HERALD, "connector", id)
            .on(&self.backing)
            .env("HERALD_SIM_PASSWORD", PASSWORD)
            .env("HERALD_CONNECTOR__SLOT_LEASE_TTL", "3s")
            .env("HERALD_CONNECTOR__ACK_WAIT", "5s")
            .env("HERALD_CONNECTOR__MAX_DELIVERIES", "50")
            .env("HERALD_CONNECTOR__RECONNECT_BACKOFF_MIN", "100ms")
            .env("HERALD_CONNECTOR__RECONNECT_BACKOFF_MAX", "1s")
            .env("HERALD_CONNECTOR__REBALANCE_INTERVAL", "500ms")
            .env("HERALD_CONNECTOR__HEALTH_INTERVAL", "1s")
            .spawn(&self.backing.rules)
            .await;
        child
    }

    /// Publishes messages `range` to the carrier's queue, as a router would.
    async fn publish(&self, range: std::ops::Range<usize>, registered_delivery: u32) {
        let publisher = self.bus.publisher();
        for i in range {
            publisher
                .publish_acked(Outgoing::routed(CARRIER, &mt(i, registered_delivery)))
                .await
                .unwrap();
        }
    }

    /// Who holds each of the carrier's bind slots now (etcd's slot keys).
    async fn slot_holders(&self) -> BTreeMap<u32, String> {
        let prefix = format!("{}binds/{CARRIER}/", self.backing.rules.prefix());
        let response = self
            .backing
            .rules
            .etcd_client()
            .get(
                prefix.clone(),
                Some(etcd_client::GetOptions::new().with_prefix()),
            )
            .await
            .unwrap();
        response
            .kvs()
            .iter()
            .map(|kv| {
                let key = kv.key_str().unwrap();
                let slot = key.strip_prefix(prefix.as_str()).unwrap().parse().unwrap();
                (slot, kv.value_str().unwrap().to_owned())
            })
            .collect()
    }

    /// Waits until `check` holds for the slot holders.
    async fn wait_for_slots(&self, what: &str, check: impl Fn(&BTreeMap<u32, String>) -> bool) {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let holders = self.slot_holders().await;
            if check(&holders) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for {what}; slots: {holders:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Sends SIGKILL to `child` and reaps it.
async fn sigkill(child: &mut Child) {
    let pid = child.id().unwrap();
    let killed = std::process::Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let _ = child.wait().await;
}

fn now_ms() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
}

/// Routed message `i`: id `T<i>`, text `msg T<i>` (how the carrier's records name it).
fn mt(i: usize, registered_delivery: u32) -> MtMessage {
    let id = format!("T{i:05}");
    MtMessage {
        payload: format!("msg {id}").into_bytes(),
        id,
        account_id: ACCOUNT.into(),
        source: Some(bus::Address {
            addr: "ACME".into(),
            ton: 5,
            npi: 0,
        }),
        destination: Some(bus::Address {
            addr: format!("4477009{i:05}"),
            ton: 1,
            npi: 1,
        }),
        registered_delivery,
        accepted_unix_ms: now_ms(),
        ..MtMessage::default()
    }
}

fn ids(range: std::ops::Range<usize>) -> BTreeSet<String> {
    range.map(|i| format!("T{i:05}")).collect()
}

/// The Herald id in a submitted text, `msg <id>`.
fn herald_id(user_data: &[u8]) -> Option<String> {
    String::from_utf8_lossy(user_data)
        .strip_prefix("msg ")
        .map(str::to_owned)
}

/// How many times each message reached the simulator.
fn arrivals(sim: &SimSmsc) -> BTreeMap<String, usize> {
    let mut seen = BTreeMap::new();
    for record in sim.submitted() {
        if let Some(id) = herald_id(&record.user_data) {
            *seen.entry(id).or_default() += 1;
        }
    }
    seen
}

/// Copies beyond the first, over all messages.
fn duplicates(seen: &BTreeMap<String, usize>) -> usize {
    seen.values().map(|n| n - 1).sum()
}

/// Waits until the simulator has seen every message of `expected`.
async fn all_arrive(sim: &SimSmsc, expected: &BTreeSet<String>) -> BTreeMap<String, usize> {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let seen = arrivals(sim);
        if expected.iter().all(|id| seen.contains_key(id)) {
            return seen;
        }
        if tokio::time::Instant::now() > deadline {
            let missing: Vec<_> = expected.iter().filter(|i| !seen.contains_key(*i)).collect();
            panic!(
                "{} of {} never reached the carrier: {missing:?}",
                missing.len(),
                expected.len()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn sim_config() -> SimConfig {
    SimConfig {
        system_id: SYSTEM_ID.into(),
        password: PASSWORD.into(),
        // Well above the carrier's `binds`: the simulator counts what the connectors
        // open instead of refusing the excess.
        max_binds: 20,
        record_submits: true,
        ..SimConfig::default()
    }
}

/// What the npm SMSC reported, from its event lines.
#[derive(Debug, Default)]
struct NodeLog {
    /// Sessions bound now.
    bound: BTreeSet<u64>,
    /// The most sessions bound at once.
    peak_bound: usize,
    /// Accepted submits per Herald id.
    arrivals: BTreeMap<String, usize>,
    /// The SMSC's message id → the Herald id.
    carrier_ids: HashMap<String, String>,
    /// Submits answered `ESME_RTHROTTLED`.
    throttled: usize,
    /// Submits whose receipt went out before their `submit_sm_resp`.
    receipts_first: usize,
    /// Receipts answered `ESME_ROK`.
    receipts_acked: usize,
}

impl NodeLog {
    fn apply(&mut self, event: &serde_json::Value) {
        let session = event["session"].as_u64().unwrap_or_default();
        match event["event"].as_str().unwrap_or_default() {
            "bind" if event["result"] == 0 => {
                self.bound.insert(session);
                self.peak_bound = self.peak_bound.max(self.bound.len());
            }
            // The SMSC counts a session unbound from its `unbind` on.
            "unbind" | "close" => {
                self.bound.remove(&session);
            }
            "submit_sm" if event["status"] == 0 => {
                let data = unhex(event["short_message_hex"].as_str().unwrap_or_default());
                if let Some(id) = herald_id(&data) {
                    *self.arrivals.entry(id.clone()).or_default() += 1;
                    let carrier_id = event["message_id"].as_str().unwrap().to_owned();
                    self.carrier_ids.insert(carrier_id, id);
                }
                if event["receipt_first"] == true {
                    self.receipts_first += 1;
                }
            }
            "submit_sm" if event["status"] == 0x58 => self.throttled += 1,
            "deliver_sm_resp" if event["status"] == 0 => self.receipts_acked += 1,
            _ => {}
        }
    }
}

fn unhex(hex: &str) -> Vec<u8> {
    (0..hex.len() / 2)
        .filter_map(|i| u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok())
        .collect()
}

/// Reads the npm SMSC's events for as long as the test runs (its stdout must be drained
/// or it blocks), folding them into a [`NodeLog`]; the SMSC stops with the test.
fn observe(mut smsc: NodeSmsc) -> Arc<Mutex<NodeLog>> {
    let log = Arc::new(Mutex::new(NodeLog::default()));
    let sink = log.clone();
    tokio::spawn(async move {
        while let Ok(event) = smsc.next_event(Duration::from_secs(3600)).await {
            sink.lock().unwrap().apply(&event);
        }
    });
    log
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_connectors_never_bind_the_simulator_beyond_its_limit() {
    let cluster = Cluster::start().await;
    let sim = SimSmsc::start_local(sim_config()).await.unwrap();
    cluster
        .seed(
            sim.local_addr().port(),
            serde_json::json!({"binds": 3, "throughput": {"tps": 100}}),
        )
        .await;
    // One connector takes every slot; the two that join while messages flow make it give
    // slots up, each closed before it is handed over.
    let _c1 = cluster.connector("c1").await;
    cluster.publish(0..300, 0).await;
    eventually_sync("traffic flowing", || arrivals(&sim).len() >= 30).await;
    let (_c2, _c3) = tokio::join!(cluster.connector("c2"), cluster.connector("c3"));
    cluster
        .wait_for_slots("a slot for each connector", |holders| {
            holders.len() == 3 && holders.values().collect::<BTreeSet<_>>().len() == 3
        })
        .await;
    let seen = all_arrive(&sim, &ids(0..300)).await;
    eprintln!(
        "simulator: peak binds {}, {} binds in all, {} duplicate submits",
        sim.peak_binds(),
        sim.counters().binds.load(Ordering::Relaxed),
        duplicates(&seen)
    );
    assert!(sim.peak_binds() <= 3, "peak {}", sim.peak_binds());
    assert_eq!(sim.counters().binds_rejected.load(Ordering::Relaxed), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_connectors_never_bind_the_npm_smsc_beyond_its_limit_and_lose_nothing() {
    let cluster = Cluster::start().await;
    // The third-party SMSC, throttling every tenth submit on top.
    let smsc = NodeSmsc::start(SYSTEM_ID, PASSWORD, &["--throttle-every", "10"])
        .await
        .unwrap();
    cluster
        .seed(
            smsc.port,
            serde_json::json!({"binds": 3, "throughput": {"tps": 100}}),
        )
        .await;
    let log = observe(smsc);
    let arrived = |log: &Mutex<NodeLog>| log.lock().unwrap().arrivals.len();
    let _c1 = cluster.connector("c1").await;
    cluster.publish(0..300, 0).await;
    eventually_sync("traffic flowing", || arrived(&log) >= 30).await;
    let (_c2, _c3) = tokio::join!(cluster.connector("c2"), cluster.connector("c3"));
    cluster
        .wait_for_slots("a slot for each connector", |holders| {
            holders.len() == 3 && holders.values().collect::<BTreeSet<_>>().len() == 3
        })
        .await;
    let expected = ids(0..300);
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let missing = {
            let log = log.lock().unwrap();
            expected
                .iter()
                .filter(|id| !log.arrivals.contains_key(*id))
                .count()
        };
        if missing == 0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{missing} never reached the npm SMSC"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let log = log.lock().unwrap();
    eprintln!(
        "npm SMSC: peak binds {}, {} throttled, {} duplicate submits",
        log.peak_bound,
        log.throttled,
        duplicates(&log.arrivals)
    );
    assert!(log.peak_bound <= 3, "peak {}", log.peak_bound);
    assert!(log.throttled > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connector_killed_mid_stream_hands_its_slots_over_and_nothing_is_lost() {
    let cluster = Cluster::start().await;
    let sim = SimSmsc::start_local(sim_config()).await.unwrap();
    cluster
        .seed(
            sim.local_addr().port(),
            serde_json::json!({"binds": 3, "throughput": {"tps": 100}}),
        )
        .await;
    let (c1, c2, c3) = tokio::join!(
        cluster.connector("c1"),
        cluster.connector("c2"),
        cluster.connector("c3")
    );
    let mut connectors = BTreeMap::from([("c1", c1), ("c2", c2), ("c3", c3)]);
    cluster
        .wait_for_slots("a slot for each connector", |holders| {
            holders.len() == 3 && holders.values().collect::<BTreeSet<_>>().len() == 3
        })
        .await;
    cluster.publish(0..300, 0).await;
    eventually_sync("traffic flowing", || arrivals(&sim).len() >= 60).await;

    // The holder of slot 0 dies without a word: no unbind, no drain, no lease revoked.
    let victim = cluster.slot_holders().await[&0].clone();
    let mut child = connectors.remove(victim.as_str()).unwrap();
    sigkill(&mut child).await;
    let killed_at = tokio::time::Instant::now();
    let at_kill = arrivals(&sim).len();
    cluster
        .wait_for_slots("the survivors holding every slot", |holders| {
            holders.len() == 3 && holders.values().all(|node| *node != victim)
        })
        .await;
    let handed_over = killed_at.elapsed();
    let seen = all_arrive(&sim, &ids(0..300)).await;
    eprintln!(
        "{victim} killed after {at_kill} of 300 reached the carrier; its slot moved in \
         {handed_over:?}; {} duplicate submits; peak binds {}",
        duplicates(&seen),
        sim.peak_binds()
    );
    assert!(at_kill < 300, "killed after the stream ended");
    assert!(sim.peak_binds() <= 3, "peak {}", sim.peak_binds());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throttling_carrier_gets_every_message_in_the_end() {
    let cluster = Cluster::start().await;
    let sim = SimSmsc::start_local(SimConfig {
        faults: Faults {
            throttle_percent: 30,
            ..Faults::default()
        },
        ..sim_config()
    })
    .await
    .unwrap();
    cluster
        .seed(sim.local_addr().port(), serde_json::json!({"binds": 2}))
        .await;
    let _connector = cluster.connector("c1").await;
    cluster.publish(0..300, 0).await;
    let seen = all_arrive(&sim, &ids(0..300)).await;
    let throttled = sim.counters().throttled.load(Ordering::Relaxed);
    eprintln!(
        "throttled {throttled} times; {} duplicate submits",
        duplicates(&seen)
    );
    assert!(throttled > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_connector_rebinds_after_the_carrier_restarts_and_loses_nothing() {
    let cluster = Cluster::start().await;
    let first = SimSmsc::start_local(sim_config()).await.unwrap();
    let addr = first.local_addr();
    cluster
        .seed(
            addr.port(),
            serde_json::json!({"binds": 2, "throughput": {"tps": 100}}),
        )
        .await;
    let _connector = cluster.connector("c1").await;
    cluster.publish(0..300, 0).await;
    eventually_sync("traffic flowing", || arrivals(&first).len() >= 50).await;

    // The carrier hangs (accepts nothing more, answers nothing more), then goes away: what
    // it recorded is then final.
    first.set_faults(Faults {
        silent_percent: 100,
        ..Faults::default()
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut seen = arrivals(&first);
    drop(first);
    tokio::time::sleep(Duration::from_millis(500)).await;
    // A new carrier on the same port (once the old listener is closed).
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let listener = loop {
        match tokio::net::TcpListener::bind(addr).await {
            Ok(listener) => break listener,
            Err(error) => {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "cannot listen on {addr} again: {error}"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    let before_restart = seen.len();
    let second = SimSmsc::start(listener, sim_config()).unwrap();
    let expected = ids(0..300);
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let now = arrivals(&second);
        if expected
            .iter()
            .all(|id| seen.contains_key(id) || now.contains_key(id))
        {
            for (id, n) in now {
                *seen.entry(id).or_default() += n;
            }
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "messages lost: {} before the restart, {} after",
            seen.len(),
            now.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!(
        "{before_restart} of 300 reached the first carrier, the rest the second; \
         {} duplicate submits",
        duplicates(&seen)
    );
    assert!(before_restart < 300, "restarted after the stream ended");
    assert!(second.counters().binds.load(Ordering::Relaxed) > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipts_the_npm_smsc_sends_before_its_responses_are_matched() {
    let cluster = Cluster::start().await;
    // Each receipt leads its submit_sm_resp by 300 ms.
    let smsc = NodeSmsc::start(
        SYSTEM_ID,
        PASSWORD,
        &["--receipts", "--receipt-first", "--receipt-delay-ms", "300"],
    )
    .await
    .unwrap();
    cluster.seed(smsc.port, serde_json::json!({})).await;
    let log = observe(smsc);
    let mut events = cluster
        .bus
        .consumer(ConsumerSpec::account(ACCOUNT))
        .await
        .unwrap()
        .messages(100)
        .await
        .unwrap();
    let _connector = cluster.connector("c1").await;
    cluster.publish(0..20, 1).await;

    let mut receipts: Vec<Receipt> = Vec::new();
    while receipts.len() < 20 {
        let delivery = tokio::time::timeout(PATIENCE, events.next())
            .await
            .expect("receipts in time")
            .unwrap()
            .unwrap();
        let event: Event = delivery.decode().unwrap();
        delivery.ack().await.unwrap();
        if let Some(event::Kind::Receipt(receipt)) = event.kind {
            receipts.push(receipt);
        }
    }
    let matched: BTreeSet<String> = receipts.iter().map(|r| r.message_id.clone()).collect();
    assert_eq!(matched, ids(0..20));
    eventually_sync("every receipt answered OK", || {
        log.lock().unwrap().receipts_acked == 20
    })
    .await;
    let log = log.lock().unwrap();
    assert_eq!(log.receipts_first, 20, "{log:?}");
    for receipt in &receipts {
        assert_eq!(receipt.state(), MessageState::Delivered);
        assert!(!receipt.synthetic);
        assert_eq!(receipt.carrier_id, CARRIER);
        // The SMSC's id for the message the receipt names.
        assert_eq!(
            log.carrier_ids.get(&receipt.carrier_message_id),
            Some(&receipt.message_id)
        );
    }
}
