//! Number portability in the router: a destination in the stored porting snapshot is
//! routed by the network it was ported to, not by its prefix, and a new snapshot takes
//! effect without a restart.

use herald_bus::ConsumerSpec;
use herald_harness::eventually;
use herald_proto::bus::v1::MtMessage;
use herald_rules::porting::PortingTable;
use serde_json::json;

use super::{Running, bus, collect, fixed_rules, mt, publish_all, quick};

#[tokio::test]
async fn a_ported_number_is_routed_by_the_network_it_moved_to() {
    let nats = herald_harness::nats().run().await.unwrap();
    let bus = bus(&nats.client_url()).await;
    let store = bus.porting().await.unwrap();
    // 447700900123 moved from 234-15 (its prefix) to 234-30, and so did a range.
    let csv = b"number,network\n447700900123,234-30\n447700901000-447700901999,23430\n";
    let (table, errors) = PortingTable::import_csv(csv);
    assert!(errors.is_empty());
    store
        .put(&table.encode(), Default::default())
        .await
        .unwrap();

    let rules = vec![
        (
            "networks/234-15".to_owned(),
            json!({"id": "234-15", "prefixes": ["4477"]}),
        ),
        (
            "networks/234-30".to_owned(),
            json!({"id": "234-30", "prefixes": ["4479"]}),
        ),
        (
            "routes/ee".to_owned(),
            json!({"id": "ee", "priority": 5, "match": {"networks": ["234-30"]},
                   "action": {"type": "carrier", "carrier": "b"}}),
        ),
        (
            "routes/all".to_owned(),
            json!({"id": "all", "priority": 10, "match": {},
                   "action": {"type": "carrier", "carrier": "a"}}),
        ),
    ];
    let a = collect::<MtMessage>(&bus, ConsumerSpec::carrier("a")).await;
    let b = collect::<MtMessage>(&bus, ConsumerSpec::carrier("b")).await;
    let router = Running::start(&bus, fixed_rules(1, rules), None, quick()).await;
    publish_all(
        &bus,
        [
            mt("ported", "beta", "447700900123", 0),
            mt("in-range", "beta", "447700901500", 0),
            mt("stayed", "beta", "447700900124", 0),
        ],
    )
    .await;
    eventually("three routed", || async { a.len() + b.len() == 3 }).await;
    let ids = |queue: &super::Collected<MtMessage>| -> Vec<(String, String)> {
        let mut all: Vec<(String, String)> = queue
            .all()
            .into_iter()
            .map(|m| (m.id, m.route.unwrap_or_default().network))
            .collect();
        all.sort();
        all
    };
    assert_eq!(
        ids(&b),
        [
            ("in-range".to_owned(), "234-30".to_owned()),
            ("ported".to_owned(), "234-30".to_owned())
        ]
    );
    assert_eq!(ids(&a), [("stayed".to_owned(), "234-15".to_owned())]);

    // Ported back: a new snapshot without the number, followed without a restart.
    let (back, errors) =
        table.apply(&herald_rules::porting::parse_csv(b"447700900123,,delete\n").rows);
    assert!(errors.is_empty());
    store.put(&back.encode(), Default::default()).await.unwrap();
    let mut n = 0;
    eventually("the number goes by its prefix again", || {
        n += 1;
        let (bus, a) = (bus.clone(), a.clone());
        let id = format!("again-{n}");
        async move {
            publish_all(&bus, [mt(&id, "beta", "447700900123", 0)]).await;
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            a.all().iter().any(|m| m.id == id)
        }
    })
    .await;
    router.stop().await;
}
