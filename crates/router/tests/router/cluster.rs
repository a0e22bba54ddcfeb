//! Routers as a cluster: a rule change in etcd applies while messages flow, with nothing
//! lost or routed twice; two routers share one consumer with nothing lost or duplicated.

use std::collections::BTreeSet;

use serde_json::json;

use crate::*;

fn uk_to(carrier: &str) -> (String, Value) {
    (
        "routes/uk".into(),
        json!({"id": "uk", "match": {"destination_prefixes": ["44"]},
               "action": {"type": "carrier", "carrier": carrier}}),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_route_change_applies_while_messages_flow() {
    let nats = herald_harness::nats().run().await.unwrap();
    let etcd = herald_harness::etcd().run().await.unwrap();
    let bus = bus(&nats.client_url()).await;
    let client = RulesClient::connect(&store_config(&etcd.client_url()))
        .await
        .unwrap();
    put_rules(&client, vec![uk_to("a")]).await;
    let store = RulesStore::connect(store_config(&etcd.client_url()))
        .await
        .unwrap();
    let queues = carrier_queues(&bus, &["a", "b"]).await;
    let router = Running::start(&bus, store, None, quick()).await;

    let before = ids("before-", 1000);
    let after = ids("after-", 1000);
    let publishing = {
        let bus = bus.clone();
        let messages: Vec<MtMessage> = before
            .iter()
            .map(|id| mt(id, "acme", "447700900123", 0))
            .collect();
        tokio::spawn(async move { publish_all(&bus, messages).await })
    };
    eventually("traffic flows", || async { routed(&queues).len() >= 200 }).await;
    let (kind, id, json) = {
        let (key, value) = uk_to("b");
        let (kind, id) = key
            .split_once('/')
            .map(|(k, i)| (k.to_owned(), i.to_owned()))
            .unwrap();
        (kind, id, value.to_string())
    };
    let changed = client
        .put_json(
            herald_rules::Kind::from_segment(&kind).unwrap(),
            &id,
            &json,
            herald_rules::Expected::Any,
        )
        .await
        .unwrap();
    eventually("the router serves the change", || async {
        router.router.rules_revision() >= changed
    })
    .await;
    publishing.await.unwrap();
    publish_all(
        &bus,
        after.iter().map(|id| mt(id, "acme", "447700900123", 0)),
    )
    .await;

    let all: Vec<String> = before.iter().chain(&after).cloned().collect();
    eventually("every message is routed", || async {
        routed(&queues).len() >= all.len()
    })
    .await;
    // Let any straggling duplicate arrive before counting.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_exactly_once(&queues, &all);
    let after: BTreeSet<&String> = after.iter().collect();
    let mut by_revision = BTreeMap::<(bool, String), usize>::new();
    for (carrier, m) in routed(&queues) {
        let revision = m.route.as_ref().unwrap().rules_revision;
        // Each message went where the rules it was routed by said.
        let expected = if revision >= changed { "b" } else { "a" };
        assert_eq!(carrier, expected, "{} at revision {revision}", m.id);
        if after.contains(&m.id) {
            assert_eq!(
                carrier, "b",
                "{} was published after the change was served",
                m.id
            );
        }
        *by_revision
            .entry((revision >= changed, carrier))
            .or_default() += 1;
    }
    assert!(
        by_revision.len() == 2,
        "both rule sets routed traffic: {by_revision:?}"
    );
    router.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_routers_share_the_work() {
    let nats = herald_harness::nats().run().await.unwrap();
    let bus = bus(&nats.client_url()).await;
    let queues = carrier_queues(&bus, &["a"]).await;
    // Identical rules at different revisions: each routed message says which router
    // routed it.
    let first = Running::start(&bus, fixed_rules(1, vec![uk_to("a")]), None, quick()).await;
    let second = Running::start(&bus, fixed_rules(2, vec![uk_to("a")]), None, quick()).await;

    let all = ids("m-", 3000);
    for wave in all.chunks(500) {
        publish_all(
            &bus,
            wave.iter().map(|id| mt(id, "acme", "447700900123", 0)),
        )
        .await;
    }
    eventually("every message is routed", || async {
        routed(&queues).len() >= all.len()
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_exactly_once(&queues, &all);
    let mut per_router = BTreeMap::<u64, usize>::new();
    for (_, m) in routed(&queues) {
        *per_router
            .entry(m.route.unwrap().rules_revision)
            .or_default() += 1;
    }
    assert_eq!(
        per_router.len(),
        2,
        "both routers took a share: {per_router:?}"
    );
    first.stop().await;
    second.stop().await;
}
