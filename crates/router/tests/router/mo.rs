//! MO: routing by MO rules and to the default account, the opt-out round trip — STOP
//! records the sender in the opt-out bucket, the next MT from the account to it gets a
//! failure receipt, START lifts it and MT flows again — opt-outs scoped to one sender, and
//! the replies to HELP, STOP and START.

use herald_bus::OptOutScope;
use herald_bus::{ConsumerSpec, Outgoing};
use herald_proto::bus::v1::{Event, MessageState, MoMessage};

use crate::*;

fn mo(id: &str, from: &str, to: &str, text: &str) -> MoMessage {
    MoMessage {
        id: id.into(),
        carrier_id: "a".into(),
        source: Some(Address {
            addr: from.into(),
            ton: 1,
            npi: 1,
        }),
        destination: Some(Address {
            addr: to.into(),
            ton: 0,
            npi: 1,
        }),
        payload: text.as_bytes().to_vec(),
        ..Default::default()
    }
}

fn mos(events: &Collected<Event>) -> Vec<MoMessage> {
    events
        .all()
        .into_iter()
        .filter_map(|e| match e.kind {
            Some(herald_proto::bus::v1::event::Kind::Mo(m)) => Some(m),
            _ => None,
        })
        .collect()
}

/// NATS, etcd with `rules`, a router with a rules writer, carrier `a`'s queues (bulk, and
/// urgent where keyword replies go) and `acme`'s events: what every MO test starts from.
struct MoWorld {
    _nats: herald_harness::NatsServer,
    _etcd: herald_harness::Etcd,
    bus: Bus,
    client: RulesClient,
    store: RulesStore,
    queue: Collected<MtMessage>,
    urgent_queue: Collected<MtMessage>,
    acme: Collected<Event>,
    router: Running,
}

impl MoWorld {
    async fn start(rules: Vec<(String, Value)>) -> MoWorld {
        let nats = herald_harness::nats().run().await.unwrap();
        let etcd = herald_harness::etcd().run().await.unwrap();
        let bus = bus(&nats.client_url()).await;
        let client = RulesClient::connect(&store_config(&etcd.client_url()))
            .await
            .unwrap();
        put_rules(&client, rules).await;
        let store = RulesStore::connect(store_config(&etcd.client_url()))
            .await
            .unwrap();
        let queue = carrier_queues(&bus, &["a"]).await.remove("a").unwrap();
        let urgent_queue = collect::<MtMessage>(&bus, ConsumerSpec::urgent_carrier("a")).await;
        let acme = collect::<Event>(&bus, ConsumerSpec::account("acme")).await;
        let router =
            Running::start(&bus, store.clone(), Some(client.clone()), router_config()).await;
        MoWorld {
            _nats: nats,
            _etcd: etcd,
            bus,
            client,
            store,
            queue,
            urgent_queue,
            acme,
            router,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mo_routing_and_the_opt_out_round_trip() {
    let MoWorld {
        _nats,
        _etcd,
        bus,
        client,
        store,
        queue,
        acme,
        router,
        ..
    } = MoWorld::start(vec![
        (
            "mo-routes/acme".into(),
            json!({"id": "acme", "destination": "80080", "account": "acme"}),
        ),
        (
            "routes/uk".into(),
            json!({"id": "uk", "match": {"destination_prefixes": ["44"]},
                       "action": {"type": "carrier", "carrier": "a"}}),
        ),
    ])
    .await;
    let beta = collect::<Event>(&bus, ConsumerSpec::account("beta")).await;
    let publisher = bus.publisher();

    // Routing: by rule, and to the default account.
    publisher
        .publish_acked(Outgoing::mo(&mo("mo-1", "447700900123", "80080", "hello")))
        .await
        .unwrap();
    publisher
        .publish_acked(Outgoing::mo(&mo("mo-2", "447700900123", "99999", "hi")))
        .await
        .unwrap();
    eventually("MO reaches acme", || async { !mos(&acme).is_empty() }).await;
    eventually("unmatched MO reaches the default account", || async {
        !mos(&beta).is_empty()
    })
    .await;
    assert_eq!(mos(&acme)[0].account_id, "acme");
    assert_eq!(mos(&acme)[0].id, "mo-1");
    assert_eq!(mos(&beta)[0].id, "mo-2");

    // STOP: recorded in the opt-out bucket (who: the MO's carrier), delivered to the
    // account too.
    publisher
        .publish_acked(Outgoing::mo(&mo("mo-3", "+447700900123", "80080", "Stop.")))
        .await
        .unwrap();
    eventually("the STOP is delivered", || async { mos(&acme).len() == 2 }).await;
    let opt_outs = bus.opt_outs().await.unwrap();
    let recorded = opt_outs
        .get("acme", OptOutScope::Account, "447700900123")
        .await
        .unwrap()
        .expect("the opt-out is recorded");
    assert!(recorded.opted_out);
    assert_eq!(
        (recorded.by.as_str(), recorded.note.as_str()),
        ("mo:a", "STOP")
    );
    // An opt-out written in etcd before the bucket existed still counts.
    put_rules(
        &client,
        vec![(
            "opt-outs/legacy".into(),
            json!({"id": "legacy", "account": "acme", "numbers": ["447700900124"]}),
        )],
    )
    .await;
    eventually("every node sees the etcd list", || async {
        store.snapshot().is_opted_out("acme", "447700900124")
    })
    .await;

    // MT to the opted-out number: a failure receipt, nothing to the carrier.
    publish_all(&bus, [mt("to-stopped", "acme", "447700900123", 1)]).await;
    eventually("the opted-out MT gets a receipt", || async {
        receipts(&acme).iter().any(|r| r.message_id == "to-stopped")
    })
    .await;
    let receipt = receipts(&acme)
        .into_iter()
        .find(|r| r.message_id == "to-stopped")
        .unwrap();
    assert_eq!(receipt.state(), MessageState::Rejected);
    assert!(receipt.synthetic);
    assert!(queue.all().is_empty());
    // Another account's MT to that number still goes.
    publish_all(&bus, [mt("from-beta", "beta", "447700900123", 0)]).await;
    eventually("beta's MT is routed", || async { queue.len() == 1 }).await;

    // START lifts it (the record says who); the next MT is routed.
    publisher
        .publish_acked(Outgoing::mo(&mo("mo-4", "447700900123", "80080", "start")))
        .await
        .unwrap();
    eventually("the opt-out is lifted", || async {
        opt_outs
            .get("acme", OptOutScope::Account, "447700900123")
            .await
            .unwrap()
            .is_some_and(|r| !r.opted_out)
    })
    .await;
    let history = opt_outs
        .history("acme", OptOutScope::Account, "447700900123")
        .await
        .unwrap();
    let trail: Vec<(bool, &str)> = history
        .iter()
        .map(|r| (r.opted_out, r.note.as_str()))
        .collect();
    assert_eq!(trail, [(true, "STOP"), (false, "START")]);
    publish_all(&bus, [mt("after-start", "acme", "447700900123", 1)]).await;
    eventually("the MT after START is routed", || async {
        queue.all().iter().any(|m| m.id == "after-start")
    })
    .await;
    // START also takes the number off the account's etcd lists.
    publisher
        .publish_acked(Outgoing::mo(&mo("mo-5", "447700900124", "80080", "UNSTOP")))
        .await
        .unwrap();
    eventually("the etcd list loses the number", || async {
        !store.snapshot().is_opted_out("acme", "447700900124")
    })
    .await;
    router.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn help_and_opt_out_keywords_are_answered_through_the_carrier_the_mo_came_from() {
    let MoWorld {
        _nats,
        _etcd,
        bus,
        queue,
        urgent_queue,
        acme,
        router,
        ..
    } = MoWorld::start(vec![(
        "mo-routes/acme".into(),
        json!({"id": "acme", "destination": "80080", "account": "acme", "replies": {
                "help": "ACME alerts: 4 msgs/month. Reply STOP to end.",
                "opt_out": "ACME: you are unsubscribed and will get no more messages.",
                "opt_in": "ACME: welcome back \u{2014} reply STOP to end."}}),
    )])
    .await;
    let publisher = bus.publisher();
    for (id, text) in [
        ("mo-h", "help"),
        ("mo-x", "hello there"),
        ("mo-s", "STOP"),
        ("mo-g", "Start"),
    ] {
        publisher
            .publish_acked(Outgoing::mo(&mo(id, "447700900123", "80080", text)))
            .await
            .unwrap();
    }
    eventually("every MO is delivered to the account", || async {
        mos(&acme).len() == 4
    })
    .await;
    eventually("three replies queued for carrier a, urgent", || async {
        urgent_queue.len() == 3
    })
    .await;
    assert_eq!(queue.len(), 0, "no reply in the bulk lane");
    let replies: BTreeMap<String, MtMessage> = urgent_queue
        .all()
        .into_iter()
        .map(|m| (m.id.clone(), m))
        .collect();
    assert!(replies.values().all(|m| m.urgent));
    assert_eq!(
        replies.keys().map(String::as_str).collect::<Vec<_>>(),
        ["mo-gR", "mo-hR", "mo-sR"],
        "HELP, STOP and START answered; a plain MO not"
    );
    let text = |m: &MtMessage| {
        let encoding =
            herald_smpp::text::Encoding::from_data_coding(u8::try_from(m.data_coding).unwrap())
                .unwrap();
        herald_smpp::text::decode(&m.payload, encoding).unwrap()
    };
    let help = &replies["mo-hR"];
    assert_eq!(text(help), "ACME alerts: 4 msgs/month. Reply STOP to end.");
    assert_eq!(help.data_coding, 0, "GSM 7-bit");
    assert_eq!(help.source.as_ref().unwrap().addr, "80080");
    assert_eq!(help.destination.as_ref().unwrap().addr, "447700900123");
    assert_eq!(help.account_id, "acme");
    assert_eq!(help.registered_delivery, 0, "no receipt for the account");
    assert_eq!(
        text(&replies["mo-sR"]),
        "ACME: you are unsubscribed and will get no more messages."
    );
    assert_eq!(replies["mo-gR"].data_coding, 8, "the dash needs UCS-2");
    assert_eq!(
        text(&replies["mo-gR"]),
        "ACME: welcome back \u{2014} reply STOP to end."
    );
    router.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_opt_out_scoped_to_a_short_code_stops_only_its_messages() {
    let MoWorld {
        _nats,
        _etcd,
        bus,
        queue,
        acme,
        router,
        ..
    } = MoWorld::start(vec![
        (
            "accounts/acme".into(),
            json!({"id": "acme", "password_hash": SECRET_HASH, "quota": {"tps": 10},
                       "opt_out_scope": "sender"}),
        ),
        (
            "mo-routes/acme".into(),
            json!({"id": "acme", "destination": "80080", "account": "acme"}),
        ),
        (
            "routes/uk".into(),
            json!({"id": "uk", "match": {"destination_prefixes": ["44"]},
                       "action": {"type": "carrier", "carrier": "a"}}),
        ),
    ])
    .await;
    bus.publisher()
        .publish_acked(Outgoing::mo(&mo("mo-1", "447700900123", "80080", "STOP")))
        .await
        .unwrap();
    let opt_outs = bus.opt_outs().await.unwrap();
    eventually("the opt-out is recorded for 80080", || async {
        opt_outs
            .get("acme", OptOutScope::Sender("80080"), "447700900123")
            .await
            .unwrap()
            .is_some_and(|r| r.opted_out)
    })
    .await;
    let from = |id: &str, sender: &str| {
        let mut m = mt(id, "acme", "447700900123", 1);
        m.source.as_mut().unwrap().addr = sender.into();
        m
    };
    publish_all(
        &bus,
        [from("from-80080", "80080"), from("from-80081", "80081")],
    )
    .await;
    eventually("80081's message is routed", || async {
        queue.all().iter().any(|m| m.id == "from-80081")
    })
    .await;
    eventually("80080's is refused with a receipt", || async {
        receipts(&acme).iter().any(|r| r.message_id == "from-80080")
    })
    .await;
    assert!(!queue.all().iter().any(|m| m.id == "from-80080"));
    router.stop().await;
}
