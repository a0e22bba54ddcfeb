//! The router against real NATS (JetStream) and real etcd started by `herald-harness`:
//! every action end to end on the bus, failover after a carrier failure, failure receipts,
//! hot reload while messages flow, two routers sharing the work, a router killed with
//! SIGKILL mid-stream, MO routing and the opt-out round trip, the urgent lane, ported numbers.
//!
//! Nothing here plays the connector or the edge: the tests publish what an edge publishes
//! (`Outgoing::accepted`), read the carrier queues and event subjects with their own
//! consumers, and hand messages back as a connector does (`failover::hand_back`). No test
//! asserts how fast anything happens: each waits for its outcome with a generous deadline.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod actions;
mod cluster;
mod kill;
mod lanes;
mod mo;
mod porting;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use herald_bus::{Bus, BusConfig, ConsumerSpec, Outgoing};
use herald_config::RouterConfig;
use herald_harness::{eventually, seed::SECRET_HASH};
use herald_proto::bus::v1::{Address, Event, MtMessage, Receipt, Segment, event};
use herald_router::{Router, RouterDeps};
use herald_rules::{RulesClient, RulesSnapshot, RulesStore, StoreConfig};
use serde_json::{Value, json};
use tokio::task::JoinHandle;

/// A router configuration for tests: a short ack wait so a dead router's messages move
/// on quickly.
fn router_config() -> RouterConfig {
    RouterConfig {
        workers: 2,
        in_flight: 200,
        batch: 50,
        ack_wait: Duration::from_secs(2),
        max_attempts: 3,
        mo_default_account: "beta".into(),
        record_routed: true,
        ..RouterConfig::default()
    }
}

/// The routers' MT consumer as the test routers declare it (declaring it with another
/// ack wait would change theirs).
fn routers_spec() -> ConsumerSpec {
    let mut spec = ConsumerSpec::routers();
    spec.ack_wait = router_config().ack_wait;
    spec.max_deliveries = router_config().max_deliveries;
    spec
}

/// [`router_config`] without status records, for the tests that only count messages
/// (half the bus round trips per message on a busy test machine).
fn quick() -> RouterConfig {
    RouterConfig {
        record_routed: false,
        ..router_config()
    }
}

fn store_config(etcd_url: &str) -> StoreConfig {
    let mut c = StoreConfig::new([etcd_url]);
    c.connect_timeout = Duration::from_secs(5);
    c.request_timeout = Duration::from_secs(2);
    c.reconnect_backoff_min = Duration::from_millis(50);
    c.reconnect_backoff_max = Duration::from_millis(500);
    c
}

async fn bus(url: &str) -> Bus {
    Bus::connect(BusConfig::local(url)).await.unwrap()
}

/// The accounts and carriers every test uses: `acme` (UK numbering plan) and `beta`;
/// carriers `a`, `b`, `c`.
fn base_rules() -> Vec<(String, Value)> {
    let mut rules = vec![
        (
            "accounts/acme".to_owned(),
            json!({"id": "acme", "password_hash": SECRET_HASH, "quota": {"tps": 1000},
                   "numbering": {"country_code": "44"}}),
        ),
        (
            "accounts/beta".to_owned(),
            json!({"id": "beta", "password_hash": SECRET_HASH, "quota": {"tps": 1000}}),
        ),
    ];
    for c in ["a", "b", "c"] {
        rules.push((
            format!("carriers/{c}"),
            json!({"id": c, "host": "127.0.0.1", "port": 2775, "system_id": "herald",
                   "password": {"env": "PW"}, "throughput": {"tps": 100}}),
        ));
    }
    rules
}

/// A fixed rules store (no etcd) with the base rules plus `extra`, at `revision`.
fn fixed_rules(revision: u64, extra: Vec<(String, Value)>) -> RulesStore {
    let entries = base_rules()
        .into_iter()
        .chain(extra)
        .map(|(k, v)| (k, serde_json::to_vec(&v).unwrap()));
    let snapshot = RulesSnapshot::build(revision, entries);
    assert!(
        snapshot.problems().iter().all(|p| !p.skipped),
        "{:?}",
        snapshot.problems()
    );
    RulesStore::fixed(snapshot)
}

/// Writes the base rules plus `extra` to etcd.
async fn put_rules(client: &RulesClient, rules: Vec<(String, Value)>) -> u64 {
    let mut revision = 0;
    for (key, value) in base_rules().into_iter().chain(rules) {
        let (kind, id) = key.split_once('/').unwrap();
        let kind = herald_rules::Kind::from_segment(kind).unwrap();
        revision = client
            .put_json(kind, id, &value.to_string(), herald_rules::Expected::Any)
            .await
            .unwrap();
    }
    revision
}

/// A router running in a task until its handle is stopped.
struct Running {
    router: Router,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl Running {
    async fn start(
        bus: &Bus,
        rules: RulesStore,
        writer: Option<RulesClient>,
        config: RouterConfig,
    ) -> Running {
        let deps = RouterDeps {
            bus: bus.clone(),
            rules,
            node_id: "router-test".into(),
            rules_writer: writer,
        };
        let router = Router::new(config, deps).await.unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let runner = router.clone();
        let task = tokio::spawn(async move {
            runner
                .run(async {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        });
        Running {
            router,
            stop: Some(stop),
            task,
        }
    }

    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
    }
}

/// An MT as an edge would publish it.
fn mt(id: &str, account: &str, destination: &str, registered_delivery: u32) -> MtMessage {
    MtMessage {
        id: id.into(),
        account_id: account.into(),
        source: Some(Address {
            addr: "ACME".into(),
            ton: 5,
            npi: 0,
        }),
        destination: Some(Address {
            addr: destination.into(),
            ton: 1,
            npi: 1,
        }),
        registered_delivery,
        payload: b"hello".to_vec(),
        accepted_unix_ms: 1_764_115_200_000,
        ..Default::default()
    }
}

fn segment_of(mut m: MtMessage, reference: u32, seq: u32, total: u32) -> MtMessage {
    m.segment = Some(Segment {
        reference,
        total,
        seq,
    });
    m
}

/// Publishes accepted MT, many in flight, and waits for every ack.
async fn publish_all(bus: &Bus, messages: impl IntoIterator<Item = MtMessage>) {
    let publisher = bus.publisher();
    let mut pending = Vec::new();
    for m in messages {
        pending.push(publisher.publish(Outgoing::accepted(&m)).await.unwrap());
        if pending.len() >= 500 {
            for p in pending.drain(..) {
                p.await.unwrap();
            }
        }
    }
    for p in pending {
        p.await.unwrap();
    }
}

/// Publishes `messages` as accepted MT in batches of `size`, as a busy edge does.
async fn publish_batched(bus: &Bus, messages: impl IntoIterator<Item = MtMessage>, size: usize) {
    let publisher = bus.publisher();
    let messages: Vec<MtMessage> = messages.into_iter().collect();
    let mut pending = Vec::new();
    for chunk in messages.chunks(size.max(1)) {
        let batch = chunk.iter().map(Outgoing::accepted).collect();
        pending.push(publisher.publish_batch(batch).await.unwrap());
    }
    for p in pending {
        p.await.unwrap();
    }
}

/// Everything a consumer received, decoded, in arrival order.
#[derive(Clone, Default)]
struct Collected<T> {
    items: Arc<Mutex<Vec<T>>>,
}

impl<T: Clone> Collected<T> {
    fn len(&self) -> usize {
        self.items.lock().unwrap().len()
    }

    fn all(&self) -> Vec<T> {
        self.items.lock().unwrap().clone()
    }
}

/// Reads `spec`'s messages forever (acking each), decoding them as `T`.
async fn collect<T>(bus: &Bus, spec: ConsumerSpec) -> Collected<T>
where
    T: prost::Message + Default + Clone + Send + 'static,
{
    let collected = Collected::<T>::default();
    let consumer = bus.consumer(spec).await.unwrap();
    let items = collected.items.clone();
    tokio::spawn(async move {
        let mut deliveries = consumer.messages(100).await.unwrap();
        while let Some(delivery) = deliveries.next().await {
            let Ok(delivery) = delivery else { continue };
            let item: T = delivery.decode().unwrap();
            items.lock().unwrap().push(item);
            delivery.ack().await.unwrap();
        }
    });
    collected
}

/// The carrier queues of `carriers`, collected.
async fn carrier_queues(bus: &Bus, carriers: &[&str]) -> BTreeMap<String, Collected<MtMessage>> {
    let mut out = BTreeMap::new();
    for c in carriers {
        out.insert(
            (*c).to_owned(),
            collect(bus, ConsumerSpec::carrier(c)).await,
        );
    }
    out
}

/// The receipts in `account`'s events.
fn receipts(events: &Collected<Event>) -> Vec<Receipt> {
    events
        .all()
        .into_iter()
        .filter_map(|e| match e.kind {
            Some(event::Kind::Receipt(r)) => Some(r),
            _ => None,
        })
        .collect()
}

/// Every routed message across `queues`, as (carrier, message).
fn routed(queues: &BTreeMap<String, Collected<MtMessage>>) -> Vec<(String, MtMessage)> {
    queues
        .iter()
        .flat_map(|(c, q)| q.all().into_iter().map(move |m| (c.clone(), m)))
        .collect()
}

/// Asserts each of `ids` was routed exactly once across `queues`.
fn assert_exactly_once(queues: &BTreeMap<String, Collected<MtMessage>>, ids: &[String]) {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for (_, m) in routed(queues) {
        *seen.entry(m.id).or_default() += 1;
    }
    let missing: Vec<&String> = ids.iter().filter(|id| !seen.contains_key(*id)).collect();
    let twice: Vec<(&String, &usize)> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        missing.is_empty(),
        "{} lost, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
    assert!(
        twice.is_empty(),
        "{} routed twice, e.g. {:?}",
        twice.len(),
        &twice[..twice.len().min(5)]
    );
    assert_eq!(seen.len(), ids.len(), "nothing else was routed");
}

/// `n` message ids with a prefix.
fn ids(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i:06}")).collect()
}
