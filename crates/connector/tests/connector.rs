//! The connector against real NATS and etcd, with the carrier simulator as the SMSC:
//! messages to the carrier and receipts back with the Herald id, the receipt that outruns
//! its `submit_sm_resp`, throttling without loss, permanent errors (failure receipt or
//! failover hand-back), expired messages, MO, bind slots shared by two connectors and
//! taken over from a crashed one, a carrier that drops its connections mid-stream, and
//! urgent messages overtaking a bulk backlog.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use herald_bus::{ConsumerSpec, Deliveries, Outgoing, StreamKind};
use herald_config::ConnectorConfig;
use herald_connector::{BindState, Connector, ConnectorDeps, HEALTH_BUCKET};
use herald_harness::seed::{self, CARRIER};
use herald_harness::{PATIENCE, eventually, eventually_some, eventually_sync};
use herald_proto::bus::v1::{
    self as bus, CarrierHealth, Event, MessageState, MoMessage, MtMessage, Receipt, RouteDecision,
    event,
};
use herald_rules::{NodeInfo, NodeRegistration};
use herald_sim::{Faults, SimConfig, SimSmsc};
use herald_smpp::CommandStatus;
use herald_smpp::types::Address;
use prost::Message as _;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

mod common;

use common::{ACCOUNT, Cluster, cluster, ids, mt, now_ms};

fn config() -> ConnectorConfig {
    ConnectorConfig {
        batch: 100,
        ack_wait: Duration::from_secs(5),
        max_deliveries: 50,
        reconnect_backoff_min: Duration::from_millis(50),
        reconnect_backoff_max: Duration::from_millis(500),
        receipt_match_retry: Duration::from_secs(5),
        receipt_hold: Duration::from_secs(60),
        slot_lease_ttl: Duration::from_secs(2),
        etcd_unreachable_grace: Duration::from_secs(600),
        rebalance_interval: Duration::from_millis(300),
        health_interval: Duration::from_millis(500),
        drain_timeout: Duration::from_secs(5),
    }
}

/// A connector running in this process, as the binary would run it.
struct Running {
    connector: Arc<Connector>,
    task: JoinHandle<()>,
    stop: oneshot::Sender<()>,
    registration: NodeRegistration,
}

impl Running {
    /// Drains and waits for it to return.
    async fn shutdown(self) {
        let _ = self.stop.send(());
        tokio::time::timeout(PATIENCE, self.task)
            .await
            .expect("drained in time")
            .unwrap();
        self.registration.deregister().await.unwrap();
    }

    /// Stops it dead: no drain, no lease revoked, no deregistration (SIGKILL).
    fn crash(self) {
        self.task.abort();
        drop(self.registration);
    }

    fn bound(&self) -> usize {
        self.connector
            .binds()
            .iter()
            .filter(|b| b.state == BindState::Bound)
            .count()
    }
}

impl Cluster {
    async fn put_carrier(&self, sim: &SimSmsc, extra: serde_json::Value) {
        let mut carrier = serde_json::json!({
            "system_id": "carrier",
            "password": {"file": self.password_file},
            "binds": 2,
            "window": 10,
            "throughput": {"tps": 2000},
            "enquire_link_interval": "1s",
            "response_timeout": "2s",
            "retry_schedule": ["200ms"],
            "max_attempts": 20,
        });
        carrier
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        seed::carrier(&self.backing.rules, sim.local_addr().port(), carrier).await;
    }

    async fn connector(&self, node: &str) -> Running {
        self.connector_with(node, config()).await
    }

    async fn connector_with(&self, node: &str, config: ConnectorConfig) -> Running {
        let registration = self
            .backing
            .rules
            .register_node(
                NodeInfo::new("connector", node, "test"),
                Duration::from_secs(2),
            )
            .await
            .unwrap();
        let rules = self.backing.rules_store().await;
        let deps = ConnectorDeps {
            bus: self.bus.clone(),
            rules,
            rules_client: self.backing.rules.clone(),
            node_id: node.to_owned(),
        };
        let connector = Arc::new(Connector::new(config, deps).await.unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        let running = connector.clone();
        let task = tokio::spawn(async move {
            running
                .run(async {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        });
        Running {
            connector,
            task,
            stop,
            registration,
        }
    }

    async fn publish(&self, mt: &MtMessage) {
        self.bus
            .publisher()
            .publish_acked(Outgoing::routed(CARRIER, mt))
            .await
            .unwrap();
    }

    /// Publishes `mts` to the carrier queue as one batch, as a router under load does.
    async fn publish_batch(&self, mts: &[MtMessage]) {
        self.bus
            .publisher()
            .publish_batch(mts.iter().map(|mt| Outgoing::routed(CARRIER, mt)).collect())
            .await
            .unwrap()
            .await
            .unwrap();
    }

    /// Publishes `mt` to the carrier queue marked as routed again (as after a crash).
    async fn publish_redelivered(&self, mt: &MtMessage) {
        self.bus
            .publisher()
            .publish_acked(
                Outgoing::routed(CARRIER, mt).header(herald_bus::publish::REDELIVERED_HEADER, "1"),
            )
            .await
            .unwrap();
    }

    /// Records `mt` as `submitted` to the carrier as `carrier_message_id`.
    async fn record_submitted(&self, mt: &MtMessage, carrier_message_id: &str) {
        self.bus
            .status_store()
            .await
            .unwrap()
            .advance(&bus::MessageStatus {
                message_id: mt.id.clone(),
                account_id: ACCOUNT.into(),
                stage: herald_bus::kv::Stage::Submitted.as_str().into(),
                carrier_id: CARRIER.into(),
                carrier_message_id: carrier_message_id.into(),
                submit_unix_ms: now_ms(),
                ..Default::default()
            })
            .await
            .unwrap();
    }

    /// Maps `carrier_message_id` to `mt`, as a connector does when the carrier takes it.
    async fn record_mapping(&self, mt: &MtMessage, carrier_message_id: &str, resent: bool) {
        let mapping = bus::CarrierIdMapping {
            message_id: mt.id.clone(),
            account_id: ACCOUNT.into(),
            submit_unix_ms: now_ms(),
            source: mt.source.clone(),
            destination: mt.destination.clone(),
            registered_delivery: mt.registered_delivery,
            resent,
            ..Default::default()
        };
        self.bus
            .carrier_id_map()
            .await
            .unwrap()
            .insert(CARRIER, carrier_message_id, &mapping)
            .await
            .unwrap();
    }

    /// Waits until the carrier queue is empty (everything on it acked).
    async fn queue_emptied(&self) {
        eventually("the carrier queue emptied", || async {
            self.stream_messages(StreamKind::Out).await == 0
        })
        .await;
    }

    /// Messages stored in `stream`.
    async fn stream_messages(&self, stream: StreamKind) -> u64 {
        let mut stream = self
            .bus
            .jetstream()
            .get_stream(stream.name())
            .await
            .unwrap();
        stream.info().await.unwrap().state.messages
    }

    /// Waits until the receipt matcher has settled every held receipt (none pending, none
    /// awaiting a redelivery).
    async fn held_receipts_settled(&self) {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let stream = self
                .bus
                .jetstream()
                .get_stream(StreamKind::DeadLetters.name())
                .await
                .unwrap();
            if let Ok(mut consumer) = stream
                .get_consumer::<async_nats::jetstream::consumer::pull::Config>(
                    herald_connector::held::MATCHER,
                )
                .await
            {
                let info = consumer.info().await.unwrap();
                if info.num_pending == 0
                    && info.num_ack_pending == 0
                    && info.delivered.stream_sequence > 0
                {
                    return;
                }
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "held receipts never settled"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn pull(&self, spec: ConsumerSpec) -> Deliveries {
        self.bus
            .consumer(spec)
            .await
            .unwrap()
            .messages(100)
            .await
            .unwrap()
    }
}

/// The next `n` receipts of the account's event stream, acked.
async fn receipts(deliveries: &mut Deliveries, n: usize) -> Vec<Receipt> {
    let mut out = Vec::new();
    while out.len() < n {
        let delivery = tokio::time::timeout(PATIENCE, deliveries.next())
            .await
            .expect("receipts in time")
            .unwrap()
            .unwrap();
        let event: Event = delivery.decode().unwrap();
        delivery.ack().await.unwrap();
        if let Some(event::Kind::Receipt(receipt)) = event.kind {
            out.push(receipt);
        }
    }
    out
}

/// A simulated carrier that records what it is sent.
async fn recording_sim() -> SimSmsc {
    SimSmsc::start_local(SimConfig {
        record_submits: true,
        ..SimConfig::default()
    })
    .await
    .unwrap()
}

/// Has the carrier send a `DELIVRD` receipt for `carrier_message_id`, about `mt`'s
/// handset; returns Herald's answer.
async fn send_receipt(
    sim: &SimSmsc,
    carrier_message_id: &str,
    mt: &MtMessage,
) -> Option<CommandStatus> {
    let to = mt.destination.clone().unwrap();
    sim.send_receipt(
        carrier_message_id,
        herald_smpp::receipt::MessageState::Delivered,
        Address::alphanumeric("ACME"),
        Address::international(&to.addr),
    )
    .await
}

/// Publishes messages `0..count` to the carrier queue and waits until each reached `sim`;
/// the smallest window any of `connector`'s binds had meanwhile.
async fn lowest_window_while_all_arrive(
    cluster: &Cluster,
    connector: &Running,
    sim: &SimSmsc,
    count: usize,
) -> u32 {
    for i in 0..count {
        cluster.publish(&mt(i, 0)).await;
    }
    let mut lowest_window = u32::MAX;
    eventually_sync("all messages submitted", || {
        for bind in connector.connector.binds() {
            lowest_window = lowest_window.min(bind.window);
        }
        arrivals(sim).len() >= count
    })
    .await;
    lowest_window
}

/// How many times each message id reached the carrier.
fn arrivals(sim: &SimSmsc) -> BTreeMap<String, usize> {
    let mut seen = BTreeMap::new();
    for record in sim.submitted() {
        let text = String::from_utf8_lossy(&record.user_data).into_owned();
        if let Some(id) = text.strip_prefix("msg ") {
            *seen.entry(id.to_owned()).or_default() += 1;
        }
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_reach_the_carrier_and_receipts_come_back_with_the_herald_id() {
    let cluster = cluster().await;
    let sim = recording_sim().await;
    cluster.put_carrier(&sim, serde_json::json!({})).await;
    let mut events = cluster.pull(ConsumerSpec::account(ACCOUNT)).await;
    let connector = cluster.connector("c1").await;
    for i in 0..30 {
        // The customer's reference of each message comes back in its receipt.
        let with_ref = MtMessage {
            client_ref: format!("ref-{i}"),
            ..mt(i, 1)
        };
        cluster.publish(&with_ref).await;
    }
    let got = receipts(&mut events, 30).await;
    let by_id: BTreeMap<String, &Receipt> = got.iter().map(|r| (r.message_id.clone(), r)).collect();
    assert_eq!(by_id.keys().cloned().collect::<BTreeSet<_>>(), ids(0..30));
    let records = sim.submitted();
    for receipt in &got {
        assert_eq!(receipt.state(), MessageState::Delivered);
        assert_eq!(receipt.account_id, ACCOUNT);
        assert_eq!(receipt.carrier_id, CARRIER);
        assert!(!receipt.synthetic);
        let number: usize = receipt.message_id[1..].parse().unwrap();
        assert_eq!(receipt.client_ref, format!("ref-{number}"));
        assert_eq!(receipt.destination.as_ref().unwrap().addr.len(), 12);
        // The carrier's own id for it, as its submit_sm_resp gave it.
        let record = records
            .iter()
            .find(|r| r.message_id == receipt.carrier_message_id)
            .expect("carrier id of a submitted message");
        assert_eq!(
            String::from_utf8_lossy(&record.user_data),
            format!("msg {}", receipt.message_id)
        );
        // Final receipts are always requested from the carrier.
        assert_eq!(record.registered_delivery & 0x03, 1);
        assert_eq!(record.source.addr.as_str(), Some("ACME"));
    }
    // The status store follows.
    let status = cluster.bus.status_store().await.unwrap();
    let last = status.get("T00029").await.unwrap().unwrap();
    assert_eq!(last.carrier_id, CARRIER);
    let stage = last.stage.clone();
    assert!(stage == "final" || stage == "submitted", "{stage}");
    // Both slots bound, listed, and the health view written.
    eventually_sync("two binds up", || connector.bound() == 2).await;
    let binds = connector.connector.binds();
    assert!(
        binds
            .iter()
            .all(|b| b.carrier_id == CARRIER && b.window == 10)
    );
    let health = cluster
        .bus
        .jetstream()
        .get_key_value(HEALTH_BUCKET)
        .await
        .unwrap();
    let carrier_health = eventually_some("health written", || async {
        let value = health
            .get(herald_connector::health::health_key(CARRIER, "c1"))
            .await
            .unwrap()?;
        let h = CarrierHealth::decode(value.as_ref()).unwrap();
        (h.binds_up == 2).then_some(h)
    })
    .await;
    assert_eq!(carrier_health.slots_held, 2);
    assert_eq!(carrier_health.slots_total, 2);
    connector.shutdown().await;
    // Drained: the slots are free again.
    let mut etcd = cluster.backing.rules.etcd_client();
    let left = etcd
        .get(
            "/herald/v1/binds/sim/",
            Some(etcd_client::GetOptions::new().with_prefix()),
        )
        .await
        .unwrap();
    assert!(left.kvs().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_carrier_resending_a_receipt_gets_ok_and_the_account_gets_it_once() {
    // A carrier that resends a receipt (its deliver_sm_resp came late, say) is answered
    // OK and the account gets the receipt once: the connector remembers what it published
    // (a repeat landing in a batch would not be dropped by the bus's dedup window).
    let cluster = cluster().await;
    let sim = recording_sim().await;
    cluster.put_carrier(&sim, serde_json::json!({})).await;
    let mut events = cluster.pull(ConsumerSpec::account(ACCOUNT)).await;
    let connector = cluster.connector("c1").await;
    cluster.publish(&mt(0, 1)).await;
    let first = receipts(&mut events, 1).await;
    let record = sim
        .submitted()
        .into_iter()
        .find(|r| r.message_id == first[0].carrier_message_id)
        .expect("the carrier's record of it");
    let status = sim
        .send_receipt(
            &record.message_id,
            herald_smpp::receipt::MessageState::Delivered,
            record.source.clone(),
            record.dest.clone(),
        )
        .await;
    assert_eq!(status, Some(CommandStatus::ESME_ROK));
    let again = tokio::time::timeout(Duration::from_secs(2), events.next()).await;
    assert!(again.is_err(), "the repeat is not published: {again:?}");
    let mut stream = cluster
        .bus
        .jetstream()
        .get_stream(StreamKind::Events.name())
        .await
        .unwrap();
    assert_eq!(stream.info().await.unwrap().state.messages, 1);
    connector.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_a_router_routed_again_is_not_sent_when_already_submitted() {
    // A router crashed after queueing a batch and the survivor routed the group again,
    // into a batch formed differently: the copy comes with a first delivery but marked
    // redelivered, so the connector checks the status before sending. Its mapping is
    // there: nothing to repair.
    let cluster = cluster().await;
    let sim = recording_sim().await;
    cluster.put_carrier(&sim, serde_json::json!({})).await;
    let sent = mt(0, 0);
    cluster.record_submitted(&sent, "abc").await;
    cluster.record_mapping(&sent, "abc", false).await;
    let connector = cluster.connector("c1").await;
    cluster.publish_redelivered(&sent).await;
    // And a fresh one behind it, which is sent.
    cluster.publish(&mt(1, 0)).await;
    eventually_sync("the fresh message sent", || arrivals(&sim).len() == 1).await;
    cluster.queue_emptied().await;
    let seen = arrivals(&sim);
    assert!(seen.contains_key(&mt(1, 0).id), "{seen:?}");
    assert!(!seen.contains_key(&sent.id), "the copy was sent: {seen:?}");
    connector.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connector_killed_between_the_status_and_the_mapping_is_repaired_on_redelivery() {
    // The interleaving of issue 14: `submitted` stored, then the connector died before
    // the carrier-id mapping. The redelivered message is not sent again, its mapping is
    // written from the status, and the carrier's receipt reaches the account.
    let cluster = cluster().await;
    let sim = recording_sim().await;
    cluster.put_carrier(&sim, serde_json::json!({})).await;
    let mut events = cluster.pull(ConsumerSpec::account(ACCOUNT)).await;
    let sent = mt(0, 1);
    cluster.record_submitted(&sent, "abc").await;
    let connector = cluster.connector("c1").await;
    eventually_sync("binds up", || connector.bound() == 2).await;
    cluster.publish_redelivered(&sent).await;
    cluster.queue_emptied().await;
    assert!(
        arrivals(&sim).is_empty(),
        "sent again: {:?}",
        arrivals(&sim)
    );
    let mapping = cluster
        .bus
        .carrier_id_map()
        .await
        .unwrap()
        .get(CARRIER, "abc")
        .await
        .unwrap()
        .expect("the mapping repaired from the status");
    assert_eq!(mapping.message_id, sent.id);
    assert_eq!(mapping.registered_delivery, 1);
    assert!(!mapping.resent);

    let status = send_receipt(&sim, "abc", &sent).await;
    assert_eq!(status, Some(CommandStatus::ESME_ROK));
    let got = receipts(&mut events, 1).await;
    assert_eq!(got[0].message_id, sent.id);
    assert_eq!(got[0].carrier_message_id, "abc");
    connector.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_with_no_record_is_sent_again_and_its_lost_attempts_receipt_is_a_repeat() {
    // The connector died before anything of the first attempt was recorded, after the
    // carrier took it (as `lost-1`). The redelivery sends it again; both attempts'
    // receipts come back, the lost one matched by nothing but its handset: the account
    // gets one final receipt.
    let cluster = cluster().await;
    let sim = recording_sim().await;
    cluster.put_carrier(&sim, serde_json::json!({})).await;
    let mut events = cluster.pull(ConsumerSpec::account(ACCOUNT)).await;
    let mut config = config();
    config.receipt_match_retry = Duration::from_millis(300);
    let connector = cluster.connector_with("c1", config).await;
    eventually_sync("binds up", || connector.bound() == 2).await;
    let sent = mt(1, 1);
    // The first attempt's receipt comes before the message is redelivered: held.
    let status = send_receipt(&sim, "lost-1", &sent).await;
    assert_eq!(status, Some(CommandStatus::ESME_ROK));
    cluster.publish_redelivered(&sent).await;
    let got = receipts(&mut events, 1).await;
    assert_eq!(got[0].message_id, sent.id);
    assert_ne!(got[0].carrier_message_id, "lost-1");
    assert_eq!(arrivals(&sim).get(&sent.id), Some(&1));
    let second = cluster
        .bus
        .carrier_id_map()
        .await
        .unwrap()
        .get(CARRIER, &got[0].carrier_message_id)
        .await
        .unwrap()
        .unwrap();
    assert!(
        second.resent,
        "the resend's mapping says it may have a twin"
    );
    // The held receipt is looked at again, recognised, and not published.
    cluster.held_receipts_settled().await;
    let again = tokio::time::timeout(Duration::from_secs(2), events.next()).await;
    assert!(again.is_err(), "a second final receipt: {again:?}");
    assert_eq!(cluster.stream_messages(StreamKind::Events).await, 1);
    connector.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_receipt_the_carrier_reroutes_on_sends_the_message_to_the_next_carrier() {
    // The carrier answers UNDELIV for everything, and its rules say UNDELIV reroutes once:
    // the first message goes back to the routers for the route's next carrier, and its
    // account hears nothing yet; the second, rerouted once already, ends with the receipt.
    let cluster = cluster().await;
    let sim = SimSmsc::start_local(SimConfig {
        record_submits: true,
        receipt_state: herald_smpp::receipt::MessageState::Undeliverable,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let rule = serde_json::json!({ "reroute_on_receipt": { "states": ["UNDELIV"] } });
    cluster.put_carrier(&sim, rule).await;
    let mut routers = cluster.pull(ConsumerSpec::routers()).await;
    let mut events = cluster.pull(ConsumerSpec::account(ACCOUNT)).await;
    let connector = cluster.connector("c1").await;
    let routed = |mt: MtMessage| MtMessage {
        route: Some(RouteDecision {
            rule_id: "uk".into(),
            carrier_id: CARRIER.into(),
            candidates: vec![CARRIER.into(), "backup".into()],
            ..RouteDecision::default()
        }),
        ..mt
    };
    let first = routed(mt(0, 1));
    let spent = MtMessage {
        receipt_reroutes: 1,
        ..routed(mt(1, 1))
    };
    cluster.publish(&first).await;
    cluster.publish(&spent).await;

    let delivery = tokio::time::timeout(PATIENCE, routers.next())
        .await
        .expect("handed back in time")
        .unwrap()
        .unwrap();
    let back: MtMessage = delivery.decode().unwrap();
    delivery.ack().await.unwrap();
    assert_eq!(back.id, first.id);
    assert_eq!(back.payload, first.payload, "the whole message, as sent");
    assert_eq!(back.attempt, 1);
    assert_eq!(back.failed_carriers, [CARRIER]);
    assert_eq!(back.receipt_reroutes, 1);

    let got = receipts(&mut events, 1).await;
    assert_eq!(
        got[0].message_id, spent.id,
        "past max_reroutes the failure stands"
    );
    assert_eq!(got[0].state(), MessageState::Undeliverable);

    // The carrier repeats the first message's receipt: answered, not sent on again.
    let carrier_id = sim
        .submitted()
        .into_iter()
        .find(|r| r.user_data.as_ref() == first.payload.as_slice())
        .unwrap()
        .message_id;
    let to = first.destination.clone().unwrap();
    let repeat = sim
        .send_receipt(
            &carrier_id,
            herald_smpp::receipt::MessageState::Undeliverable,
            Address::alphanumeric("ACME"),
            Address::international(&to.addr),
        )
        .await;
    assert_eq!(repeat, Some(CommandStatus::ESME_ROK));
    let again = tokio::time::timeout(Duration::from_secs(2), routers.next()).await;
    assert!(again.is_err(), "sent on twice: {again:?}");
    let receipt = tokio::time::timeout(Duration::from_secs(1), events.next()).await;
    assert!(
        receipt.is_err(),
        "a receipt for the rerouted message: {receipt:?}"
    );
    connector.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_sent_twice_under_two_mapped_ids_gets_one_final_receipt() {
    // The first attempt's mapping was stored but its `submitted` status lost: the
    // redelivery sends it again, and the receipts of both carrier ids are matched.
    let cluster = cluster().await;
    let sim = recording_sim().await;
    cluster.put_carrier(&sim, serde_json::json!({})).await;
    let mut events = cluster.pull(ConsumerSpec::account(ACCOUNT)).await;
    let connector = cluster.connector("c1").await;
    eventually_sync("binds up", || connector.bound() == 2).await;
    let sent = mt(3, 1);
    cluster.record_mapping(&sent, "first-3", false).await;
    cluster.publish_redelivered(&sent).await;
    let got = receipts(&mut events, 1).await;
    assert_eq!(got[0].message_id, sent.id);
    let status = send_receipt(&sim, "first-3", &sent).await;
    assert_eq!(status, Some(CommandStatus::ESME_ROK));
    let again = tokio::time::timeout(Duration::from_secs(2), events.next()).await;
    assert!(again.is_err(), "a second final receipt: {again:?}");
    connector.shutdown().await;

    // On another connector (the first one's memory gone), the resend's own receipt
    // repeated after the first attempt's went out is recognised by the status.
    let other = mt(4, 1);
    cluster.record_mapping(&other, "first-4", false).await;
    cluster.record_mapping(&other, "second-4", true).await;
    let connector = cluster.connector("c2").await;
    eventually_sync("binds up", || connector.bound() == 2).await;
    assert_eq!(
        send_receipt(&sim, "first-4", &other).await,
        Some(CommandStatus::ESME_ROK)
    );
    let got = receipts(&mut events, 1).await;
    assert_eq!(got[0].carrier_message_id, "first-4");
    let connector2 = cluster.connector("c3").await;
    connector.shutdown().await;
    eventually_sync("binds up", || connector2.bound() == 2).await;
    assert_eq!(
        send_receipt(&sim, "second-4", &other).await,
        Some(CommandStatus::ESME_ROK)
    );
    let again = tokio::time::timeout(Duration::from_secs(2), events.next()).await;
    assert!(again.is_err(), "a second final receipt: {again:?}");
    connector2.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_receipt_is_matched_when_its_mapping_comes_late() {
    // The receipt came before any mapping (its connector died before writing it, and
    // the redelivery has not repaired it yet): held, then matched from the dead letters.
    let cluster = cluster().await;
    let sim = recording_sim().await;
    cluster.put_carrier(&sim, serde_json::json!({})).await;
    let mut events = cluster.pull(ConsumerSpec::account(ACCOUNT)).await;
    let mut config = config();
    config.receipt_match_retry = Duration::from_millis(200);
    let connector = cluster.connector_with("c1", config).await;
    eventually_sync("binds up", || connector.bound() == 2).await;
    let late = mt(2, 1);
    let status = send_receipt(&sim, "late-2", &late).await;
    assert_eq!(status, Some(CommandStatus::ESME_ROK), "answered while held");
    tokio::time::sleep(Duration::from_millis(500)).await;
    cluster.record_mapping(&late, "late-2", false).await;
    let got = receipts(&mut events, 1).await;
    assert_eq!(got[0].message_id, late.id);
    assert_eq!(got[0].carrier_message_id, "late-2");
    cluster.held_receipts_settled().await;
    connector.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receipt_that_never_matches_is_given_up_after_the_hold() {
    let cluster = cluster().await;
    let sim = recording_sim().await;
    cluster.put_carrier(&sim, serde_json::json!({})).await;
    let mut config = config();
    config.receipt_match_retry = Duration::from_millis(200);
    config.receipt_hold = Duration::from_secs(3);
    let connector = cluster.connector_with("c1", config).await;
    eventually_sync("binds up", || connector.bound() == 2).await;
    let status = send_receipt(&sim, "ghost", &mt(9, 1)).await;
    assert_eq!(status, Some(CommandStatus::ESME_ROK));
    let started = tokio::time::Instant::now();
    cluster.held_receipts_settled().await;
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "held for the hold, not given up at once"
    );
    assert_eq!(cluster.stream_messages(StreamKind::Events).await, 0);
    // The dead letter stays for operators.
    assert_eq!(cluster.stream_messages(StreamKind::DeadLetters).await, 1);
    connector.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receipt_before_its_submit_response_is_still_matched() {
    let cluster = cluster().await;
    let sim = SimSmsc::start_local(SimConfig {
        receipt_first: true,
        receipt_delay: Duration::from_millis(200),
        // A common dialect too: hex in the response, decimal in the receipt, text only.
        receipt_id_decimal: true,
        receipt_tlvs: false,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    cluster
        .put_carrier(&sim, serde_json::json!({"receipt_id_format": "decimal"}))
        .await;
    let mut events = cluster.pull(ConsumerSpec::account(ACCOUNT)).await;
    let connector = cluster.connector("c1").await;
    for i in 0..10 {
        cluster.publish(&mt(i, 1)).await;
    }
    let got = receipts(&mut events, 10).await;
    let matched: BTreeSet<String> = got.iter().map(|r| r.message_id.clone()).collect();
    assert_eq!(matched, ids(0..10));
    // Each answered once its event was stored.
    eventually_sync("receipts answered", || {
        sim.counters().receipts_acked.load(Ordering::Relaxed) == 10
    })
    .await;
    connector.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_slows_the_connector_down_and_loses_nothing() {
    let cluster = cluster().await;
    let sim = SimSmsc::start_local(SimConfig {
        record_submits: true,
        faults: Faults {
            max_tps: Some(100),
            throttle_percent: 10,
            ..Faults::default()
        },
        ..SimConfig::default()
    })
    .await
    .unwrap();
    cluster.put_carrier(&sim, serde_json::json!({})).await;
    let connector = cluster.connector("c1").await;
    let lowest_window = lowest_window_while_all_arrive(&cluster, &connector, &sim, 300).await;
    let seen = arrivals(&sim);
    assert_eq!(seen.keys().cloned().collect::<BTreeSet<_>>(), ids(0..300));
    let throttled = sim.counters().throttled.load(Ordering::Relaxed);
    assert!(throttled > 0);
    // The connector backed off: windows came down at some point.
    assert!(lowest_window < 10, "window stayed at {lowest_window}");
    let counted: u64 = connector
        .connector
        .binds()
        .iter()
        .map(|b| b.throttled)
        .sum();
    assert!(counted > 0);
    // A throttled message is sent again, never duplicated once accepted.
    assert!(seen.values().all(|&n| n == 1), "duplicates: {seen:?}");
    connector.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_carrier_nearing_congestion_is_slowed_before_it_throttles() {
    // The carrier throttles nothing, but says in every answer (SMPP 5.0 congestion_state)
    // that it is nearing congestion: the connector's windows come down as they would for
    // a throttle, and everything still arrives once.
    let cluster = cluster().await;
    let sim = SimSmsc::start_local(SimConfig {
        record_submits: true,
        faults: Faults {
            congestion_state: Some(95),
            ..Faults::default()
        },
        ..SimConfig::default()
    })
    .await
    .unwrap();
    cluster.put_carrier(&sim, serde_json::json!({})).await;
    let connector = cluster.connector("c1").await;
    let lowest_window = lowest_window_while_all_arrive(&cluster, &connector, &sim, 200).await;
    assert_eq!(sim.counters().throttled.load(Ordering::Relaxed), 0);
    assert!(
        lowest_window < 10,
        "the windows came down without a throttle: {lowest_window}"
    );
    let seen = arrivals(&sim);
    assert_eq!(seen.keys().cloned().collect::<BTreeSet<_>>(), ids(0..200));
    assert!(seen.values().all(|&n| n == 1), "duplicates: {seen:?}");
    connector.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_carrier_throttling_for_longer_than_the_ack_wait_gets_each_message_once() {
    // The carrier takes 40 a second and throttles a third of what it gets, so most
    // messages wait here far longer than the 1 s ack wait. Only what the windows can take
    // is pulled, and what waits is kept in progress: nothing is redelivered meanwhile,
    // so nothing reaches the carrier twice.
    throttling_carrier_gets_each_message_once(1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_from_the_router_reach_a_throttling_carrier_each_message_once() {
    // The same throttling carrier, with the queue holding batches of 25: a pull brings
    // far more messages than the windows take, throttled members are republished alone,
    // and the batch is acked only when every member is settled. Nothing is redelivered
    // while it waits, nothing is lost, nothing reaches the carrier twice.
    throttling_carrier_gets_each_message_once(25).await;
}

/// 150 messages queued `per_bus_message` to a bus message, through a carrier taking 40 a
/// second and throttling a third, with a 1 s ack wait: each reaches it exactly once and
/// the queue is left empty.
async fn throttling_carrier_gets_each_message_once(per_bus_message: usize) {
    let cluster = cluster().await;
    let sim = SimSmsc::start_local(SimConfig {
        record_submits: true,
        faults: Faults {
            max_tps: Some(40),
            throttle_percent: 33,
            ..Faults::default()
        },
        ..SimConfig::default()
    })
    .await
    .unwrap();
    cluster.put_carrier(&sim, serde_json::json!({})).await;
    let connector = cluster
        .connector_with(
            "c1",
            ConnectorConfig {
                ack_wait: Duration::from_secs(1),
                ..config()
            },
        )
        .await;
    let all: Vec<MtMessage> = (0..150).map(|i| mt(i, 0)).collect();
    for chunk in all.chunks(per_bus_message) {
        match chunk {
            [one] => cluster.publish(one).await,
            many => cluster.publish_batch(many).await,
        }
    }
    eventually_sync("every message submitted", || arrivals(&sim).len() == 150).await;
    // A redelivered copy would go out after its ack wait: give it that long to show.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let seen = arrivals(&sim);
    assert_eq!(seen.len(), 150);
    assert!(sim.counters().throttled.load(Ordering::Relaxed) > 0);
    let twice: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "sent more than once: {twice:?}");
    // Every message (or batch) acked once all it held was settled.
    let mut stream = cluster
        .bus
        .jetstream()
        .get_stream("HERALD_OUT")
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while stream.info().await.unwrap().state.messages > 0 {
        assert!(tokio::time::Instant::now() < deadline, "left unacked");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    connector.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_carrier_queue_consumer_deleted_under_a_connector_is_made_again() {
    // An operator (or a stream restore) deletes the carrier's durable consumer while a
    // connector pulls from it: the pull fails, the connector declares the consumer again
    // and carries on with what is published next.
    let cluster = cluster().await;
    let sim = recording_sim().await;
    cluster.put_carrier(&sim, serde_json::json!({})).await;
    let connector = cluster.connector("c1").await;
    for i in 0..20 {
        cluster.publish(&mt(i, 0)).await;
    }
    eventually_sync("the first messages submitted", || {
        arrivals(&sim).len() == 20
    })
    .await;

    let stream = cluster
        .bus
        .jetstream()
        .get_stream(StreamKind::Out.name())
        .await
        .unwrap();
    stream
        .delete_consumer(&format!("carrier-{CARRIER}"))
        .await
        .unwrap();
    for i in 20..60 {
        cluster.publish(&mt(i, 0)).await;
    }
    eventually_sync("the rest submitted after the consumer came back", || {
        arrivals(&sim).len() == 60
    })
    .await;
    assert_eq!(
        arrivals(&sim).keys().cloned().collect::<BTreeSet<_>>(),
        ids(0..60)
    );
    connector.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permanent_error_makes_a_failure_receipt_or_a_failover() {
    let cluster = cluster().await;
    let sim = SimSmsc::start_local(SimConfig {
        faults: Faults {
            error_percent: 100,
            error_status: CommandStatus::ESME_RINVDSTADR,
            ..Faults::default()
        },
        ..SimConfig::default()
    })
    .await
    .unwrap();
    cluster.put_carrier(&sim, serde_json::json!({})).await;
    let mut events = cluster.pull(ConsumerSpec::account(ACCOUNT)).await;
    let mut accepted = cluster.pull(ConsumerSpec::routers()).await;
    let connector = cluster.connector("c1").await;

    // No other carrier on the route: a failure receipt with the carrier's error.
    cluster.publish(&mt(1, 1)).await;
    let got = receipts(&mut events, 1).await;
    assert_eq!(got[0].message_id, "T00001");
    assert_eq!(got[0].state(), MessageState::Rejected);
    assert!(got[0].synthetic);
    assert!(got[0].error.contains("ESME_RINVDSTADR"), "{}", got[0].error);
    assert_eq!(got[0].network_error_code, 0x0B);

    // A route with another candidate: back to the routers, attempt + 1.
    let mut routed = mt(2, 1);
    routed.route = Some(RouteDecision {
        carrier_id: CARRIER.into(),
        candidates: vec![CARRIER.into(), "other".into()],
        ..RouteDecision::default()
    });
    cluster.publish(&routed).await;
    let delivery = tokio::time::timeout(PATIENCE, accepted.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(delivery.subject(), "herald.mt.acme");
    let back: MtMessage = delivery.decode().unwrap();
    assert_eq!(back.id, "T00002");
    assert_eq!(back.attempt, 1);
    assert_eq!(back.failed_carriers, vec![CARRIER.to_owned()]);
    delivery.ack().await.unwrap();
    // And no receipt for it.
    assert!(
        tokio::time::timeout(Duration::from_millis(500), events.next())
            .await
            .is_err()
    );
    connector.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_sms_never_reaches_a_carrier_whose_policy_does_not_allow_it() {
    // protocol_id 0x40 ("type 0", shown to nobody) and a vendor TLV are refused by the
    // default content policy: the account gets a failure receipt, the carrier nothing.
    let cluster = cluster().await;
    let sim = recording_sim().await;
    cluster.put_carrier(&sim, serde_json::json!({})).await;
    let mut events = cluster.pull(ConsumerSpec::account(ACCOUNT)).await;
    let connector = cluster.connector("c1").await;
    let mut silent = mt(0, 1);
    silent.protocol_id = 0x40;
    let mut vendor = mt(1, 1);
    vendor.tlvs.push(bus::Tlv {
        tag: 0x1500,
        value: b"x".to_vec(),
    });
    let plain = mt(2, 1);
    for m in [&silent, &vendor, &plain] {
        cluster.publish(m).await;
    }
    let got = receipts(&mut events, 3).await;
    let by_id: BTreeMap<_, _> = got.iter().map(|r| (r.message_id.clone(), r)).collect();
    for (refused, status) in [
        (&silent, CommandStatus::ESME_RPROHIBITED),
        (&vendor, CommandStatus::ESME_RTLVNOTALLWD),
    ] {
        let receipt = by_id[&refused.id];
        assert_eq!(receipt.state(), MessageState::Rejected);
        assert!(receipt.synthetic);
        assert_eq!(receipt.network_error_code, status.as_u32());
    }
    assert_eq!(by_id[&plain.id].state(), MessageState::Delivered);
    let seen = arrivals(&sim);
    assert_eq!(
        seen.keys().collect::<Vec<_>>(),
        [&plain.id],
        "only the plain one"
    );
    connector.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_message_is_not_sent_and_gets_an_expired_receipt() {
    let cluster = cluster().await;
    let sim = SimSmsc::start_local(SimConfig::default()).await.unwrap();
    cluster.put_carrier(&sim, serde_json::json!({})).await;
    let mut events = cluster.pull(ConsumerSpec::account(ACCOUNT)).await;
    let mut late = mt(7, 1);
    late.validity_unix_ms = now_ms() - 1_000;
    cluster.publish(&late).await;
    let connector = cluster.connector("c1").await;
    let got = receipts(&mut events, 1).await;
    assert_eq!(got[0].message_id, "T00007");
    assert_eq!(got[0].state(), MessageState::Expired);
    assert!(got[0].synthetic);
    assert_eq!(sim.counters().submits.load(Ordering::Relaxed), 0);
    connector.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mo_goes_to_mo_routing_and_unmatched_receipts_to_dead_letters() {
    let cluster = cluster().await;
    let sim = SimSmsc::start_local(SimConfig::default()).await.unwrap();
    cluster.put_carrier(&sim, serde_json::json!({})).await;
    let mut mo = cluster.pull(ConsumerSpec::mo_routers()).await;
    let mut config = config();
    config.receipt_match_retry = Duration::from_millis(300);
    let connector = cluster.connector_with("c1", config).await;
    eventually_sync("binds up", || connector.bound() == 2).await;

    let status = sim.send_mo("447700900123", "80080", "STOP").await;
    assert_eq!(status, Some(CommandStatus::ESME_ROK));
    let delivery = tokio::time::timeout(PATIENCE, mo.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(delivery.subject(), "herald.mo.sim");
    let message: MoMessage = delivery.decode().unwrap();
    assert_eq!(message.carrier_id, CARRIER);
    assert_eq!(message.payload, b"STOP");
    assert_eq!(message.source.unwrap().addr, "447700900123");
    assert_eq!(message.destination.unwrap().addr, "80080");
    delivery.ack().await.unwrap();

    // A receipt for an id nobody sent: answered OK, kept in the dead letters.
    let status = sim
        .send_receipt(
            "deadbeef",
            herald_smpp::receipt::MessageState::Delivered,
            Address::alphanumeric("ACME"),
            Address::international("447700900001"),
        )
        .await;
    assert_eq!(status, Some(CommandStatus::ESME_ROK));
    let dlq = cluster
        .bus
        .jetstream()
        .get_stream(StreamKind::DeadLetters.name())
        .await
        .unwrap();
    let letter = dlq
        .get_last_raw_message_by_subject("herald.dlq.receipts.sim")
        .await
        .unwrap();
    let raw = herald_smpp::Pdu::decode(letter.payload.clone()).unwrap();
    assert_eq!(raw.command_id(), herald_smpp::CommandId::DeliverSm);
    connector.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_connectors_share_the_slots_and_a_crashed_ones_move_to_the_other() {
    let cluster = cluster().await;
    let sim = SimSmsc::start_local(SimConfig {
        max_binds: 20,
        record_submits: true,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    cluster
        .put_carrier(&sim, serde_json::json!({"binds": 3}))
        .await;
    let a = cluster.connector("a").await;
    eventually_sync("a holds all three slots", || a.bound() == 3).await;
    let b = cluster.connector("b").await;
    // ceil(3 / 2) = 2 each at most: a gives one up, b takes it.
    eventually_sync("slots shared", || {
        a.bound() + b.bound() == 3 && a.bound() >= 1 && b.bound() >= 1
    })
    .await;
    for i in 0..40 {
        cluster.publish(&mt(i, 0)).await;
    }
    eventually_sync("first batch submitted", || arrivals(&sim).len() == 40).await;

    // a dies without a word: its slots stay taken until its lease runs out, then b has
    // them all, and what a held unacked is redelivered to b.
    a.crash();
    for i in 40..80 {
        cluster.publish(&mt(i, 0)).await;
    }
    eventually_sync("b holds all three slots", || b.bound() == 3).await;
    eventually_sync("every message submitted", || arrivals(&sim).len() == 80).await;
    assert_eq!(
        arrivals(&sim).keys().cloned().collect::<BTreeSet<_>>(),
        ids(0..80)
    );
    // Never more binds than the carrier allows, at any moment.
    assert!(sim.peak_binds() <= 3, "peak {}", sim.peak_binds());
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_carrier_dropping_connections_mid_stream_loses_nothing() {
    let cluster = cluster().await;
    let sim = SimSmsc::start_local(SimConfig {
        record_submits: true,
        faults: Faults {
            disconnect_every: Some(25),
            ..Faults::default()
        },
        ..SimConfig::default()
    })
    .await
    .unwrap();
    cluster.put_carrier(&sim, serde_json::json!({})).await;
    let connector = cluster.connector("c1").await;
    for i in 0..200 {
        cluster.publish(&mt(i, 0)).await;
    }
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while arrivals(&sim).len() < 200 {
        if tokio::time::Instant::now() > deadline {
            let seen = arrivals(&sim);
            let missing: Vec<String> = ids(0..200)
                .into_iter()
                .filter(|i| !seen.contains_key(i))
                .collect();
            panic!(
                "missing {missing:?}; binds {:?}; sim bound {} disconnects {}",
                connector.connector.binds(),
                sim.bound_now(),
                sim.counters().disconnects.load(Ordering::Relaxed)
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let seen = arrivals(&sim);
    assert_eq!(seen.keys().cloned().collect::<BTreeSet<_>>(), ids(0..200));
    let disconnects = sim.counters().disconnects.load(Ordering::Relaxed);
    let duplicates: usize = seen.values().map(|n| n - 1).sum();
    eprintln!("{disconnects} disconnects, {duplicates} duplicate submits");
    assert!(disconnects >= 2);
    // Only what was in flight on a lost bind can go twice.
    assert!(duplicates as u64 <= disconnects * 10);
    connector.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binds_over_tls_verify_the_carrier() {
    use rustls::pki_types::pem::PemObject as _;
    let cluster = cluster().await;
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let ca = cluster._dir.path().join("carrier-ca.pem");
    std::fs::write(&ca, certified.cert.pem()).unwrap();
    let key = rustls::pki_types::PrivateKeyDer::from_pem_slice(
        certified.signing_key.serialize_pem().as_bytes(),
    )
    .unwrap();
    let server = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![certified.cert.der().clone()], key)
    .unwrap();
    let sim = SimSmsc::start_local(SimConfig {
        tls: Some(Arc::new(server)),
        record_submits: true,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    // A name the certificate does not carry: the handshake fails, nothing is sent.
    cluster
        .put_carrier(
            &sim,
            serde_json::json!({"tls": {"enabled": true, "ca_file": ca, "server_name": "wrong.example"}}),
        )
        .await;
    let connector = cluster.connector("c1").await;
    eventually_sync("a failed handshake", || {
        connector.connector.binds().iter().any(|b| {
            b.last_error
                .as_deref()
                .is_some_and(|e| e.contains("TLS handshake"))
        })
    })
    .await;
    assert_eq!(sim.counters().binds.load(Ordering::Relaxed), 0);
    // The right name: bound over TLS, messages flow.
    cluster
        .put_carrier(
            &sim,
            serde_json::json!({"tls": {"enabled": true, "ca_file": ca, "server_name": "localhost"}}),
        )
        .await;
    for i in 0..5 {
        cluster.publish(&mt(i, 0)).await;
    }
    eventually_sync("messages over TLS", || arrivals(&sim).len() == 5).await;
    connector.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binds_with_a_client_certificate_to_a_carrier_that_requires_one() {
    let cluster = cluster().await;
    let pki = herald_harness::pki::TestPki::generate().unwrap();
    let server =
        herald_sim::tls::server_config(&pki.server_cert(), &pki.server_key(), Some(&pki.ca()))
            .unwrap();
    let sim = SimSmsc::start_local(SimConfig {
        tls: Some(server),
        record_submits: true,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let tls = |client: Option<(std::path::PathBuf, std::path::PathBuf)>| {
        let mut tls =
            serde_json::json!({"enabled": true, "ca_file": pki.ca(), "server_name": "localhost"});
        if let Some((cert, key)) = client {
            tls["client_cert_file"] = serde_json::json!(cert);
            tls["client_key_file"] = serde_json::json!(key);
        }
        serde_json::json!({ "tls": tls })
    };
    let failures = || sim.counters().tls_failures.load(Ordering::Relaxed);
    let binds = || sim.counters().binds.load(Ordering::Relaxed);

    // No certificate: the carrier ends the handshake, the bind never happens.
    cluster.put_carrier(&sim, tls(None)).await;
    let connector = cluster.connector("c1").await;
    eventually_sync("a refused handshake", || {
        failures() >= 1
            && connector
                .connector
                .binds()
                .iter()
                .any(|b| b.last_error.is_some())
    })
    .await;
    assert_eq!(binds(), 0);

    // A certificate from a CA the carrier does not trust: refused the same way.
    let before = failures();
    cluster
        .put_carrier(
            &sim,
            tls(Some((pki.rogue_client_cert(), pki.rogue_client_key()))),
        )
        .await;
    eventually_sync("the rogue certificate refused", || failures() > before).await;
    assert_eq!(binds(), 0);
    assert_eq!(
        sim.counters()
            .tls_client_certificates
            .load(Ordering::Relaxed),
        0
    );

    // The certificate the carrier issued for us: bound, and messages flow.
    cluster
        .put_carrier(&sim, tls(Some((pki.client_cert(), pki.client_key()))))
        .await;
    for i in 0..5 {
        cluster.publish(&mt(i, 0)).await;
    }
    eventually_sync("messages over mutual TLS", || arrivals(&sim).len() == 5).await;
    assert!(binds() >= 1);
    assert!(
        sim.counters()
            .tls_client_certificates
            .load(Ordering::Relaxed)
            >= binds(),
        "every bound session presented the client certificate"
    );
    connector.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_carriers_sender_rules_rewrite_what_the_carrier_is_sent() {
    let cluster = cluster().await;
    let sim = recording_sim().await;
    let senders = serde_json::json!({"senders": [
        {"match": {"networks": ["234-15"]}, "action": {"type": "replace", "sender": "VODA"}},
        {"match": {"destination_prefixes": ["44"]},
         "action": {"type": "numeric", "pool": ["+447700900100", "+447700900101"]}},
    ]});
    cluster.put_carrier(&sim, senders).await;
    let connector = cluster.connector("c1").await;
    let mut on_network = mt(0, 0);
    on_network.route = Some(herald_proto::bus::v1::RouteDecision {
        network: "234-15".into(),
        ..Default::default()
    });
    let mut numeric = mt(1, 0);
    numeric.source = Some(herald_proto::bus::v1::Address {
        addr: "447700900555".into(),
        ton: 1,
        npi: 1,
    });
    cluster.publish(&on_network).await;
    cluster.publish(&numeric).await;
    for i in 2..12 {
        cluster.publish(&mt(i, 0)).await;
    }
    eventually_sync("every message at the carrier", || {
        arrivals(&sim).len() == 12
    })
    .await;
    let sent: BTreeMap<String, (String, u8)> = sim
        .submitted()
        .into_iter()
        .map(|r| {
            let text = String::from_utf8_lossy(&r.user_data).into_owned();
            let source = String::from_utf8_lossy(r.source.addr.as_bytes()).into_owned();
            (text, (source, r.source.ton.0))
        })
        .collect();
    assert_eq!(sent["msg T00000"], ("VODA".into(), 5), "the network's rule");
    assert_eq!(
        sent["msg T00001"],
        ("447700900555".into(), 1),
        "numeric: kept"
    );
    let pooled: BTreeSet<&str> = (2..12)
        .map(|i| {
            let (source, ton) = &sent[&format!("msg T{i:05}")];
            assert_eq!(*ton, 1, "a pool number, international");
            source.as_str()
        })
        .collect();
    assert!(
        pooled
            .iter()
            .all(|s| ["447700900100", "447700900101"].contains(s)),
        "{pooled:?}"
    );
    connector.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn urgent_messages_overtake_a_bulk_backlog_at_a_slow_carrier() {
    let cluster = cluster().await;
    let sim = recording_sim().await;
    // 50 messages a second: the backlog below takes ten seconds to send.
    let slow = serde_json::json!({"binds": 1, "throughput": {"tps": 50}});
    cluster.put_carrier(&sim, slow).await;
    let bulk: Vec<MtMessage> = (0..500).map(|i| mt(i, 0)).collect();
    for chunk in bulk.chunks(100) {
        cluster.publish_batch(chunk).await;
    }
    let connector = cluster.connector("c1").await;
    eventually_sync("the backlog is being sent", || arrivals(&sim).len() >= 20).await;
    let urgent: Vec<MtMessage> = (1000..1005)
        .map(|i| MtMessage {
            urgent: true,
            priority: 1,
            ..mt(i, 0)
        })
        .collect();
    let published_at = sim.submitted().len();
    for m in &urgent {
        cluster.publish(m).await;
    }
    eventually_sync("every urgent message at the carrier", || {
        ids(1000..1005)
            .iter()
            .all(|id| arrivals(&sim).contains_key(id))
    })
    .await;
    // Where each urgent one came in the carrier's arrivals: right after what was in
    // flight or held when it was published, not after the ~480 bulk ones still queued.
    let order: Vec<String> = sim
        .submitted()
        .iter()
        .map(|r| String::from_utf8_lossy(&r.user_data).into_owned())
        .collect();
    for m in &urgent {
        let at = order
            .iter()
            .position(|text| *text == format!("msg {}", m.id))
            .unwrap();
        assert!(
            at < published_at + 100,
            "{} came {} sends after it was published; {} bulk were queued",
            m.id,
            at - published_at.min(at),
            500 - published_at
        );
    }
    // And the bulk backlog still all arrives, each message once.
    eventually_sync("the whole backlog at the carrier", || {
        arrivals(&sim).len() == 505
    })
    .await;
    assert!(arrivals(&sim).values().all(|n| *n == 1));
    let queued = cluster
        .bus
        .jetstream()
        .get_stream(StreamKind::Out.name())
        .await
        .unwrap()
        .info()
        .await
        .unwrap()
        .state
        .messages;
    assert_eq!(queued, 0);
    connector.shutdown().await;
}
