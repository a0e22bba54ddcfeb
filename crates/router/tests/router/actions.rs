//! Every action on the bus: one carrier, weighted (segments together), failover on
//! carrier health and after hand-backs (and its limit), least cost, reject, no route and
//! opted-out destinations with their failure receipts, and the status records.

use std::collections::BTreeSet;

use async_nats::jetstream::kv;
use herald_bus::ConsumerSpec;
use herald_proto::bus::v1::{CarrierHealth, Event, MessageState};
use herald_router::failover::hand_back;
use herald_router::health::HEALTH_BUCKET;
use serde_json::json;

use crate::*;

fn rules() -> Vec<(String, Value)> {
    let route = |id: &str, prefix: &str, action: Value| {
        (
            format!("routes/{id}"),
            json!({"id": id, "match": {"destination_prefixes": [prefix]}, "action": action}),
        )
    };
    vec![
        route("one", "4411", json!({"type": "carrier", "carrier": "a"})),
        route(
            "split",
            "4412",
            json!({"type": "weighted", "split": [{"carrier": "a", "weight": 1}, {"carrier": "b", "weight": 1}, {"carrier": "c", "weight": 1}]}),
        ),
        route(
            "chain",
            "4413",
            json!({"type": "failover", "carriers": ["a", "b", "c"]}),
        ),
        route(
            "healthy-first",
            "4414",
            json!({"type": "failover", "carriers": ["b", "c"]}),
        ),
        route(
            "cheap",
            "4415",
            json!({"type": "least_cost", "carriers": ["a", "b", "c"]}),
        ),
        route(
            "blocked",
            "4416",
            json!({"type": "reject", "status": "ESME_RINVDSTADR"}),
        ),
        (
            "prices/a".into(),
            json!({"id": "a", "carrier": "a", "currency": "EUR", "entries": [{"prefix": "44", "price_micros": 5000}]}),
        ),
        (
            "prices/b".into(),
            json!({"id": "b", "carrier": "b", "currency": "EUR", "entries": [{"prefix": "4415", "price_micros": 1000}]}),
        ),
        (
            "prices/c".into(),
            json!({"id": "c", "carrier": "c", "currency": "EUR", "entries": [{"prefix": "4415", "price_micros": 2000}],
                   "default_price_micros": 9000}),
        ),
        (
            "opt-outs/acme".into(),
            json!({"id": "acme", "account": "acme", "numbers": ["441100000666"]}),
        ),
        (
            "networks/234-11".into(),
            json!({"id": "234-11", "prefixes": ["4411"]}),
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_action_end_to_end() {
    let nats = herald_harness::nats().run().await.unwrap();
    let bus = bus(&nats.client_url()).await;
    let queues = carrier_queues(&bus, &["a", "b", "c"]).await;
    let events = collect::<Event>(&bus, ConsumerSpec::account("acme")).await;
    let status = bus.status_store().await.unwrap();

    // Carrier b reports no bind up before the router starts.
    let health = bus
        .jetstream()
        .create_key_value(kv::Config {
            bucket: HEALTH_BUCKET.into(),
            history: 1,
            max_age: Duration::from_secs(60),
            storage: async_nats::jetstream::stream::StorageType::Memory,
            ..Default::default()
        })
        .await
        .unwrap();
    let report = CarrierHealth {
        carrier_id: "b".into(),
        node_id: "connector-1".into(),
        binds_up: 0,
        interval_ms: 20_000,
        ..Default::default()
    };
    health
        .put("b.connector-1", herald_bus::publish::encode(&report))
        .await
        .unwrap();

    let router = Running::start(&bus, fixed_rules(7, rules()), None, router_config()).await;
    eventually("the router sees b down", || async {
        router.router.unhealthy_carriers().down().any(|c| c == "b")
    })
    .await;

    let segments: Vec<MtMessage> = (1..=3)
        .map(|seq| {
            segment_of(
                mt(&format!("seg-{seq}"), "acme", "441200000001", 1),
                77,
                seq,
                3,
            )
        })
        .collect();
    let mut messages = vec![
        mt("one", "acme", "+441100000001", 1),
        mt("national", "acme", "01100000002", 1),
        mt("healthy-first", "acme", "441400000001", 1),
        mt("cheap", "acme", "441500000001", 1),
        mt("chain", "acme", "441300000001", 1),
        mt("blocked", "acme", "441600000001", 1),
        mt("nowhere", "acme", "990000000001", 2),
        mt("nowhere-quiet", "acme", "990000000002", 0),
        mt("opted-out", "acme", "441100000666", 1),
    ];
    messages[1].destination.as_mut().unwrap().ton = 0;
    messages.extend(segments);
    messages.extend((0..40).map(|i| mt(&format!("split-{i}"), "acme", "441200000002", 0)));
    publish_all(&bus, messages).await;

    eventually("every routable message reaches a carrier queue", || async {
        routed(&queues).len() == 2 + 1 + 1 + 1 + 3 + 40
    })
    .await;
    let routed_to = |id: &str| {
        routed(&queues)
            .into_iter()
            .find(|(_, m)| m.id == id)
            .unwrap_or_else(|| panic!("{id} not routed"))
    };
    let (carrier, one) = routed_to("one");
    assert_eq!(carrier, "a");
    let decision = one.route.as_ref().unwrap();
    assert_eq!(decision.rule_id, "one");
    assert_eq!(decision.carrier_id, "a");
    assert_eq!(decision.rules_revision, 7);
    assert_eq!(decision.candidates, ["a"]);
    assert_eq!(
        decision.network, "234-11",
        "the network the connector's rules read"
    );
    assert_eq!(
        one.destination.as_ref().unwrap().addr,
        "441100000001",
        "E.164, no +"
    );
    let (_, national) = routed_to("national");
    assert_eq!(national.destination.as_ref().unwrap().addr, "441100000002");
    assert_eq!(national.destination.as_ref().unwrap().ton, 1);
    assert_eq!(routed_to("healthy-first").0, "c", "b is down");
    let unknown = routed_to("healthy-first").1.route.unwrap().network;
    assert_eq!(unknown, "", "no network known for 4414");
    assert_eq!(
        routed_to("healthy-first").1.route.unwrap().candidates,
        ["c", "b"]
    );
    assert_eq!(
        routed_to("cheap").0,
        "c",
        "b is cheapest but down; c is next"
    );
    assert_eq!(
        routed_to("cheap").1.route.unwrap().candidates,
        ["c", "a", "b"]
    );
    let seg_carriers: BTreeSet<String> =
        (1..=3).map(|s| routed_to(&format!("seg-{s}")).0).collect();
    assert_eq!(seg_carriers.len(), 1, "segments together: {seg_carriers:?}");
    let split_carriers: BTreeSet<String> = (0..40)
        .map(|i| routed_to(&format!("split-{i}")).0)
        .collect();
    assert_eq!(
        split_carriers,
        BTreeSet::from(["a".into(), "c".into()]),
        "b is down"
    );

    // Failover: a connector hands "chain" back after a fails for good; the router
    // sends it to the next candidate (b is down, so c first), then gives up once
    // max_attempts (3) is reached.
    let (carrier, chain) = routed_to("chain");
    assert_eq!(carrier, "a");
    assert_eq!(chain.route.as_ref().unwrap().candidates, ["a", "c", "b"]);
    bus.publisher()
        .publish_acked(hand_back(&chain, "a").unwrap())
        .await
        .unwrap();
    eventually("the hand-back is routed to c", || async {
        queues["c"].all().iter().any(|m| m.id == "chain")
    })
    .await;
    let second = queues["c"]
        .all()
        .into_iter()
        .find(|m| m.id == "chain")
        .unwrap();
    assert_eq!(second.attempt, 1);
    assert_eq!(second.failed_carriers, ["a"]);
    assert_eq!(second.route.as_ref().unwrap().candidates, ["c", "b"]);
    bus.publisher()
        .publish_acked(hand_back(&second, "c").unwrap())
        .await
        .unwrap();
    eventually("then to b, the last candidate", || async {
        queues["b"].all().iter().any(|m| m.id == "chain")
    })
    .await;
    let third = queues["b"]
        .all()
        .into_iter()
        .find(|m| m.id == "chain")
        .unwrap();
    assert_eq!((third.attempt, third.failed_carriers.len()), (2, 2));
    // A hand-back past max_attempts (a connector that ignores the candidates): receipt.
    let mut fourth = third.clone();
    fourth.attempt = 3;
    fourth.failed_carriers.push("b".into());
    bus.publisher()
        .publish_acked(herald_bus::Outgoing::new(
            herald_bus::subject::mt("acme"),
            "chain:3",
            herald_bus::publish::encode(&fourth),
        ))
        .await
        .unwrap();

    // Refusals: failure receipts for those that asked for them.
    eventually("four failure receipts", || async {
        receipts(&events).len() == 4
    })
    .await;
    let receipt = |id: &str| {
        receipts(&events)
            .into_iter()
            .find(|r| r.message_id == id)
            .unwrap_or_else(|| panic!("no receipt for {id}"))
    };
    let blocked = receipt("blocked");
    assert!(blocked.synthetic);
    assert_eq!(blocked.state(), MessageState::Rejected);
    assert!(
        blocked.error.contains("ESME_RINVDSTADR"),
        "{}",
        blocked.error
    );
    assert_eq!(blocked.account_id, "acme");
    assert_eq!(receipt("nowhere").state(), MessageState::Undeliverable);
    assert_eq!(receipt("opted-out").state(), MessageState::Rejected);
    assert!(receipt("opted-out").error.contains("opted out"));
    let gave_up = receipt("chain");
    assert_eq!(gave_up.state(), MessageState::Undeliverable);
    assert!(gave_up.error.contains("3 attempts"), "{}", gave_up.error);
    assert!(
        receipts(&events)
            .iter()
            .all(|r| r.message_id != "nowhere-quiet"),
        "registered_delivery 0 asks for no receipt"
    );

    // Status records: routed, and final for refusals.
    eventually("statuses recorded", || async {
        let routed = status.get("one").await.unwrap();
        let refused = status.get("nowhere-quiet").await.unwrap();
        routed.is_some_and(|s| s.stage == "routed" && s.carrier_id == "a")
            && refused.is_some_and(|s| s.stage == "final")
    })
    .await;

    // Nothing is left unacknowledged in the routers' consumer.
    let consumer = bus.consumer(routers_spec()).await.unwrap();
    eventually("the MT stream drains", || {
        let mut c = consumer.clone();
        async move { c.backlog().await.unwrap() == 0 }
    })
    .await;
    router.stop().await;
}
