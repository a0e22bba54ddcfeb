//! The bus against a real `nats-server` with JetStream: topology, pipelined publishing with
//! dedup, pull consumers with retry, in-progress and dead letters, the KV buckets, and a
//! server restart.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::collections::HashSet;
use std::time::Duration;

use bytes::Bytes;
use herald_bus::consume::{DLQ_DELIVERIES_HEADER, DLQ_REASON_HEADER, DLQ_SUBJECT_HEADER};
use herald_bus::kv::Stage;
use herald_bus::{Bus, BusConfig, BusError, ConsumerSpec, Outgoing, StreamKind, subject};
use herald_harness::{NatsServer, PATIENCE, eventually_sync};
use herald_proto::bus::v1::{
    Address, CarrierIdMapping, Event, MessageState, MessageStatus, MtMessage, Receipt, event,
};

async fn start() -> (NatsServer, Bus) {
    let nats = herald_harness::nats().run().await.unwrap();
    let bus = Bus::connect(BusConfig::local(nats.client_url()))
        .await
        .unwrap();
    (nats, bus)
}

fn mt(id: &str, account: &str) -> MtMessage {
    MtMessage {
        id: id.into(),
        account_id: account.into(),
        destination: Some(Address {
            addr: "447700900001".into(),
            ton: 1,
            npi: 1,
        }),
        payload: b"hello".to_vec(),
        ..Default::default()
    }
}

async fn stream_messages(bus: &Bus, kind: StreamKind) -> u64 {
    let mut stream = bus.jetstream().get_stream(kind.name()).await.unwrap();
    stream.info().await.unwrap().state.messages
}

#[tokio::test]
async fn declaring_twice_changes_nothing_and_keeps_messages() {
    let (nats, bus) = start().await;
    bus.publisher()
        .publish_acked(Outgoing::accepted(&mt("m1", "acme")))
        .await
        .unwrap();

    // A second node starting with the same config.
    let again = Bus::connect(BusConfig::local(nats.client_url()))
        .await
        .unwrap();
    assert_eq!(stream_messages(&again, StreamKind::Mt).await, 1);
    for kind in StreamKind::ALL {
        let mut stream = again.jetstream().get_stream(kind.name()).await.unwrap();
        let config = stream.info().await.unwrap().config.clone();
        assert_eq!(config.subjects, vec![kind.subjects().to_owned()]);
    }
}

#[tokio::test]
async fn many_publishes_in_flight_each_get_their_ack_and_duplicates_are_dropped() {
    let (_nats, bus) = start().await;
    let publisher = bus.publisher();
    let mut pending = Vec::new();
    for i in 0..500 {
        pending.push(
            publisher
                .publish(Outgoing::accepted(&mt(&format!("m{i}"), "acme")))
                .await
                .unwrap(),
        );
    }
    let mut sequences = HashSet::new();
    for ack in pending {
        let ack = ack.await.unwrap();
        assert_eq!(ack.stream, "HERALD_MT");
        assert!(!ack.duplicate);
        sequences.insert(ack.sequence);
    }
    assert_eq!(sequences.len(), 500, "every publish has its own sequence");

    // The same id again (an edge retrying after a lost ack) is stored once.
    let again = publisher
        .publish_acked(Outgoing::accepted(&mt("m7", "acme")))
        .await
        .unwrap();
    assert!(again.duplicate);
    assert_eq!(stream_messages(&bus, StreamKind::Mt).await, 500);
}

#[tokio::test]
async fn past_the_in_flight_limit_publish_fails_at_once_with_full() {
    let nats = herald_harness::nats().run().await.unwrap();
    let mut config = BusConfig::local(nats.client_url());
    config.max_inflight_publishes = 2;
    let bus = Bus::connect(config).await.unwrap();
    let publisher = bus.publisher();
    let first = publisher
        .publish(Outgoing::accepted(&mt("a", "acme")))
        .await
        .unwrap();
    let second = publisher
        .publish(Outgoing::accepted(&mt("b", "acme")))
        .await
        .unwrap();
    let third = publisher
        .publish(Outgoing::accepted(&mt("c", "acme")))
        .await;
    assert!(matches!(third, Err(BusError::Full)), "{third:?}");
    first.await.unwrap();
    second.await.unwrap();
    // Acks returned free the slots again.
    publisher
        .publish_acked(Outgoing::accepted(&mt("c", "acme")))
        .await
        .unwrap();
}

#[tokio::test]
async fn consumers_see_body_and_headers_and_ack_removes_from_the_work_queue() {
    let (_nats, bus) = start().await;
    let publisher = bus.publisher();
    let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    publisher
        .publish_acked(
            Outgoing::accepted(&mt("m1", "acme")).headers([("traceparent", traceparent)]),
        )
        .await
        .unwrap();

    let consumer = bus.consumer(ConsumerSpec::routers()).await.unwrap();
    let mut deliveries = consumer.messages(16).await.unwrap();
    let delivery = next(&mut deliveries).await;
    assert_eq!(delivery.subject(), "herald.mt.acme");
    assert_eq!(delivery.header("traceparent"), Some(traceparent));
    assert_eq!(delivery.header("Herald-Msg-Id"), Some("m1"));
    assert_eq!(delivery.header("Herald-Account"), Some("acme"));
    assert_eq!(delivery.deliveries(), 1);
    let decoded: MtMessage = delivery.decode().unwrap();
    assert_eq!(decoded, mt("m1", "acme"));
    delivery.ack_confirmed().await.unwrap();
    assert_eq!(stream_messages(&bus, StreamKind::Mt).await, 0);
}

#[tokio::test]
async fn retry_redelivers_after_the_backoff_then_dead_letters_after_max_deliveries() {
    let (_nats, bus) = start().await;
    let mut spec = ConsumerSpec::carrier("tmo");
    spec.max_deliveries = 3;
    spec.backoff = vec![Duration::from_millis(100), Duration::from_millis(200)];
    assert_eq!(spec.delay_after(1), Duration::from_millis(100));
    assert_eq!(spec.delay_after(2), Duration::from_millis(200));
    assert_eq!(spec.delay_after(9), Duration::from_millis(200));
    let consumer = bus.consumer(spec).await.unwrap();
    let mut m = mt("m1", "acme");
    m.attempt = 1;
    bus.publisher()
        .publish_acked(Outgoing::routed("tmo", &m))
        .await
        .unwrap();

    let mut deliveries = consumer.messages(16).await.unwrap();
    for expected in 1..=3 {
        let delivery = next(&mut deliveries).await;
        assert_eq!(delivery.deliveries(), expected);
        delivery.retry("carrier said 0x58").await.unwrap();
    }

    // The third failure was the last allowed: it is in the dead letters, with why.
    let dlq = bus
        .consumer(ConsumerSpec::new(
            StreamKind::DeadLetters,
            "ops",
            subject::DLQ_ALL,
        ))
        .await
        .unwrap();
    let mut letters = dlq.messages(16).await.unwrap();
    let letter = next(&mut letters).await;
    assert_eq!(letter.subject(), "herald.dlq.out.tmo");
    assert_eq!(letter.header(DLQ_REASON_HEADER), Some("carrier said 0x58"));
    assert_eq!(letter.header(DLQ_SUBJECT_HEADER), Some("herald.out.tmo"));
    assert_eq!(letter.header(DLQ_DELIVERIES_HEADER), Some("3"));
    assert_eq!(letter.decode::<MtMessage>().unwrap(), m);
    letter.ack().await.unwrap();
    assert_eq!(
        stream_messages(&bus, StreamKind::Out).await,
        0,
        "terminated, not redelivered"
    );
}

#[tokio::test]
async fn a_message_whose_worker_keeps_dying_goes_to_the_dead_letters() {
    let (_nats, bus) = start().await;
    let mut spec = ConsumerSpec::routers();
    spec.ack_wait = Duration::from_millis(300);
    spec.max_deliveries = 2;
    let consumer = bus.consumer(spec).await.unwrap();
    bus.publisher()
        .publish_acked(Outgoing::accepted(&mt("poison", "acme")))
        .await
        .unwrap();

    // Two workers take it and vanish without a word (dropped, as by a crash).
    for _ in 0..2 {
        let mut deliveries = consumer.messages(1).await.unwrap();
        drop(next(&mut deliveries).await);
    }
    // The next puller sees the third delivery and moves it aside instead of working on it.
    let mut deliveries = consumer.messages(1).await.unwrap();
    let pulled = tokio::time::timeout(Duration::from_secs(3), deliveries.next()).await;
    assert!(
        pulled.is_err(),
        "the poison message must not be handed out again"
    );
    assert_eq!(stream_messages(&bus, StreamKind::DeadLetters).await, 1);
    assert_eq!(stream_messages(&bus, StreamKind::Mt).await, 0);
}

#[tokio::test]
async fn in_progress_keeps_a_slow_message_from_being_redelivered() {
    let (_nats, bus) = start().await;
    let mut spec = ConsumerSpec::routers();
    // Ten times the interval of the in-progress signals below, so that a machine busy with
    // other tests does not stretch one gap past it.
    spec.ack_wait = Duration::from_secs(1);
    let consumer = bus.consumer(spec).await.unwrap();
    bus.publisher()
        .publish_acked(Outgoing::accepted(&mt("slow", "acme")))
        .await
        .unwrap();

    let mut deliveries = consumer.messages(4).await.unwrap();
    let delivery = next(&mut deliveries).await;
    // Work for three ack waits, saying so every 100 ms.
    for _ in 0..30 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        delivery.in_progress().await.unwrap();
    }
    let redelivered = tokio::time::timeout(Duration::from_millis(50), deliveries.next()).await;
    assert!(redelivered.is_err(), "no second copy while in progress");
    delivery.ack_confirmed().await.unwrap();
    let mut info_consumer = consumer.clone();
    assert_eq!(info_consumer.backlog().await.unwrap(), 0);
}

#[tokio::test]
async fn events_wait_for_an_account_that_never_bound() {
    let (_nats, bus) = start().await;
    let receipt = Event {
        kind: Some(event::Kind::Receipt(Receipt {
            message_id: "m1".into(),
            account_id: "acme".into(),
            state: MessageState::Delivered.into(),
            ..Default::default()
        })),
    };
    bus.publisher()
        .publish_acked(Outgoing::event("acme", "dlr:m1:3", &receipt))
        .await
        .unwrap();
    // No consumer existed when it was published; the one created later still gets it.
    let consumer = bus.consumer(ConsumerSpec::account("acme")).await.unwrap();
    let mut deliveries = consumer.messages(4).await.unwrap();
    let delivery = next(&mut deliveries).await;
    assert_eq!(delivery.subject(), "herald.ev.acme.dlr");
    assert_eq!(delivery.decode::<Event>().unwrap(), receipt);
}

#[tokio::test]
async fn status_only_moves_forward_and_keeps_its_history() {
    let (_nats, bus) = start().await;
    let store = bus.status_store().await.unwrap();
    let status = |stage: Stage, state: MessageState| MessageStatus {
        message_id: "0196f3a2.c4".into(),
        account_id: "acme".into(),
        stage: stage.as_str().into(),
        state: state.into(),
        ..Default::default()
    };
    assert!(store.get("0196f3a2.c4").await.unwrap().is_none());
    assert!(
        store
            .advance(&status(Stage::Accepted, MessageState::Accepted))
            .await
            .unwrap()
    );
    assert!(
        store
            .advance(&status(Stage::Final, MessageState::Delivered))
            .await
            .unwrap()
    );
    // The submit confirmation arriving after the receipt does not hide it.
    assert!(
        !store
            .advance(&status(Stage::Submitted, MessageState::Enroute))
            .await
            .unwrap()
    );
    let latest = store.get("0196f3a2.c4").await.unwrap().unwrap();
    assert_eq!(latest.state(), MessageState::Delivered);
    let history = store.history("0196f3a2.c4").await.unwrap();
    let stages: Vec<_> = history.iter().map(|s| s.stage.as_str()).collect();
    assert_eq!(stages, ["accepted", "final"]);
}

#[tokio::test]
async fn concurrent_status_writers_end_on_the_latest_stage() {
    let (_nats, bus) = start().await;
    let store = bus.status_store().await.unwrap();
    let mut tasks = Vec::new();
    for (i, stage) in [
        Stage::Accepted,
        Stage::Routed,
        Stage::Submitted,
        Stage::Final,
    ]
    .into_iter()
    .cycle()
    .take(16)
    .enumerate()
    {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let status = MessageStatus {
                message_id: "race".into(),
                stage: stage.as_str().into(),
                error: i.to_string(),
                ..Default::default()
            };
            store.advance(&status).await.unwrap()
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(store.get("race").await.unwrap().unwrap().stage, "final");
}

#[tokio::test]
async fn carrier_ids_map_back_to_herald_ids_whatever_their_characters() {
    let (_nats, bus) = start().await;
    let map = bus.carrier_id_map().await.unwrap();
    let mapping = CarrierIdMapping {
        message_id: "m1".into(),
        account_id: "acme".into(),
        ..Default::default()
    };
    map.insert("tmo", "AB.12/x y", &mapping).await.unwrap();
    assert_eq!(map.get("tmo", "AB.12/x y").await.unwrap(), Some(mapping));
    assert_eq!(map.get("tmo", "AB.12/x_y").await.unwrap(), None);
    assert_eq!(map.get("vodafone", "AB.12/x y").await.unwrap(), None);
}

#[tokio::test]
async fn publishing_and_consuming_resume_after_nats_restarts() {
    let (mut nats, bus) = start().await;
    let publisher = bus.publisher();
    publisher
        .publish_acked(Outgoing::accepted(&mt("before", "acme")))
        .await
        .unwrap();
    nats.restart().await.unwrap();

    // The client reconnects by itself; publish until it has (each try has its own
    // bounded timeout, so this cannot hang).
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        match publisher
            .publish_acked(Outgoing::accepted(&mt("after", "acme")))
            .await
        {
            Ok(_) => break,
            Err(err) if tokio::time::Instant::now() < deadline => {
                eprintln!("not yet: {err}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(err) => panic!("bus did not recover: {err}"),
        }
    }
    let consumer = bus.consumer(ConsumerSpec::routers()).await.unwrap();
    let mut deliveries = consumer.messages(8).await.unwrap();
    let mut ids = HashSet::new();
    while ids.len() < 2 {
        let delivery = next(&mut deliveries).await;
        ids.insert(delivery.header("Herald-Msg-Id").unwrap().to_owned());
        delivery.ack().await.unwrap();
    }
    assert_eq!(
        ids,
        HashSet::from(["before".to_owned(), "after".to_owned()])
    );
}

#[tokio::test]
async fn a_publish_made_while_nats_is_down_is_held_and_stored_once_when_it_is_back() {
    // `BusConfig::local` holds a publish through a failover for 10 s, as production does.
    let (mut nats, bus) = start().await;
    let publisher = bus.publisher();
    publisher
        .publish_acked(Outgoing::accepted(&mt("before", "acme")))
        .await
        .unwrap();
    nats.kill().await;
    let held = tokio::spawn({
        let publisher = publisher.clone();
        async move {
            publisher
                .publish_acked(Outgoing::accepted(&mt("held", "acme")))
                .await
        }
    });
    // Long enough for the first attempt to be lost and sent again at least once.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(!held.is_finished(), "held, not failed, while NATS is down");
    nats.restart().await.unwrap();
    let acked = held.await.unwrap().expect("acked once NATS is back");
    assert_eq!(acked.stream, StreamKind::Mt.name());

    // Every copy sent carried the same dedup id: the message is stored once.
    assert_eq!(stream_messages(&bus, StreamKind::Mt).await, 2);
    let consumer = bus.consumer(ConsumerSpec::routers()).await.unwrap();
    let mut deliveries = consumer.messages(8).await.unwrap();
    let mut ids = Vec::new();
    for _ in 0..2 {
        let delivery = next(&mut deliveries).await;
        ids.push(delivery.header("Herald-Msg-Id").unwrap().to_owned());
        delivery.ack().await.unwrap();
    }
    ids.sort();
    assert_eq!(ids, ["before", "held"]);
}

#[tokio::test]
async fn with_no_hold_a_publish_fails_while_nats_is_down() {
    let mut nats = herald_harness::nats().run().await.unwrap();
    let bus = Bus::connect(BusConfig {
        publish_hold: Duration::ZERO,
        request_timeout: Duration::from_secs(1),
        ..BusConfig::local(nats.client_url())
    })
    .await
    .unwrap();
    nats.kill().await;
    let answer = bus
        .publisher()
        .publish_acked(Outgoing::accepted(&mt("lost", "acme")))
        .await;
    assert!(
        matches!(
            answer,
            Err(BusError::AckTimeout(_) | BusError::Publish { .. })
        ),
        "{answer:?}"
    );
}

#[tokio::test]
async fn raw_payloads_that_are_not_envelopes_are_reported_not_panicked_on() {
    let (_nats, bus) = start().await;
    bus.publisher()
        .publish_acked(Outgoing::new(
            subject::mt("acme"),
            "junk",
            Bytes::from_static(&[0xFF; 7]),
        ))
        .await
        .unwrap();
    let consumer = bus.consumer(ConsumerSpec::routers()).await.unwrap();
    let mut deliveries = consumer.messages(1).await.unwrap();
    let delivery = next(&mut deliveries).await;
    let err = delivery.decode::<MtMessage>().unwrap_err();
    assert!(matches!(err, BusError::Decode { .. }), "{err}");
    delivery.dead_letter("undecodable").await.unwrap();
    assert_eq!(stream_messages(&bus, StreamKind::DeadLetters).await, 1);
}

async fn next(deliveries: &mut herald_bus::Deliveries) -> herald_bus::Delivery {
    tokio::time::timeout(PATIENCE, async {
        loop {
            match deliveries.next().await {
                Some(Ok(delivery)) => return delivery,
                Some(Err(err)) => eprintln!("transient: {err}"),
                None => panic!("consumer gone"),
            }
        }
    })
    .await
    .expect("a message within the patience bound")
}

#[tokio::test]
async fn rate_counters_grant_each_second_up_to_its_limit_across_takers() {
    let (_nats, bus) = start().await;
    let counters = bus.rate_counters().await.unwrap();
    // Two nodes taking chunks of 7 from a limit of 50 for the same second.
    let mut tasks = Vec::new();
    for _ in 0..2 {
        let counters = counters.clone();
        tasks.push(tokio::spawn(async move {
            let mut total = 0;
            loop {
                let got = counters.take("acme", 1_764_115_200, 7, 50).await.unwrap();
                if got == 0 {
                    return total;
                }
                total += got;
            }
        }));
    }
    let mut granted = 0;
    for task in tasks {
        granted += task.await.unwrap();
    }
    assert_eq!(
        granted, 50,
        "exactly the limit, however the takers interleave"
    );
    // The next second starts afresh; another key is independent.
    assert_eq!(
        counters.take("acme", 1_764_115_201, 7, 50).await.unwrap(),
        7
    );
    assert_eq!(
        counters.take("other", 1_764_115_200, 7, 50).await.unwrap(),
        7
    );
}

#[tokio::test]
async fn cancel_marks_reach_followers_and_stay_with_their_account() {
    let (_nats, bus) = start().await;
    let marks = bus.cancel_marks().await.unwrap();
    marks.mark("acme", "early").await.unwrap();
    let set = marks.follow().await.unwrap();
    assert!(
        set.contains("acme", "early"),
        "marks present before following are there at once"
    );
    marks.mark("acme", "later").await.unwrap();
    eventually_sync("both marks arrive", || {
        set.contains("acme", "early") && set.contains("acme", "later")
    })
    .await;
    assert!(
        !set.contains("other", "early"),
        "another account cannot cancel acme's message"
    );
    assert!(!set.contains("acme", "never"));
}

#[tokio::test]
async fn opt_outs_are_followed_scoped_and_keep_who_changed_them() {
    use herald_bus::OptOutScope::{Account, Sender};
    use herald_proto::bus::v1::OptOut;

    let (_nats, bus) = start().await;
    let store = bus.opt_outs().await.unwrap();
    let record = |opted_out: bool, by: &str| OptOut {
        opted_out,
        at_unix_ms: 1_764_115_200_000,
        by: by.into(),
        note: String::new(),
    };
    // An empty bucket: following returns at once, with nothing in it.
    let empty = store.follow().await.unwrap();
    assert!(empty.is_empty());
    // 1,000 numbers present before following are all there when it returns.
    for n in 0..1000 {
        let number = format!("4477009{n:05}");
        store
            .record("acme", Account, &number, &record(true, "operator:import"))
            .await
            .unwrap();
    }
    store
        .record(
            "acme",
            Sender("80080"),
            "447711111111",
            &record(true, "mo:voda"),
        )
        .await
        .unwrap();
    let set = store.follow().await.unwrap();
    assert_eq!(set.len(), 1001);
    assert!(set.contains("acme", "ANYONE", "447700900000"));
    assert!(!set.contains("acme", "ANYONE", "+447711111111"));
    assert!(
        set.contains("acme", "80080", "447711111111"),
        "scoped to 80080"
    );
    assert!(
        !set.contains("other", "80080", "447711111111"),
        "another account"
    );
    // Changes arrive: an opt-in (written, not deleted) and a new opt-out.
    store
        .record("acme", Account, "447700900000", &record(false, "mo:voda"))
        .await
        .unwrap();
    store
        .record("beta", Account, "15550100", &record(true, "operator:ops"))
        .await
        .unwrap();
    eventually_sync("both changes followed", || {
        !set.contains("acme", "X", "447700900000") && set.contains("beta", "X", "15550100")
    })
    .await;
    // The audit trail: who changed it, oldest first; and the listing of an account.
    let history = store
        .history("acme", Account, "447700900000")
        .await
        .unwrap();
    let by: Vec<(&str, bool)> = history
        .iter()
        .map(|r| (r.by.as_str(), r.opted_out))
        .collect();
    assert_eq!(by, [("operator:import", true), ("mo:voda", false)]);
    assert!(
        store
            .history("acme", Account, "1")
            .await
            .unwrap()
            .is_empty()
    );
    let listed = store.list("acme").await.unwrap();
    assert_eq!(listed.len(), 1001);
    let scoped: Vec<_> = listed.iter().filter(|e| e.sender.is_some()).collect();
    assert_eq!(scoped.len(), 1);
    assert_eq!(scoped[0].sender.as_deref(), Some("80080"));
    assert!(store.list("nobody").await.unwrap().is_empty());
    // What cannot be a key is refused, not stored.
    assert!(matches!(
        store
            .record("acme", Account, "+44 7700", &record(true, "x"))
            .await,
        Err(BusError::Invalid(_))
    ));
}

#[tokio::test]
async fn depths_count_stored_undelivered_and_unacked_messages() {
    let (_nats, bus) = start().await;
    let publisher = bus.publisher();
    for i in 0..5 {
        publisher
            .publish_acked(Outgoing::accepted(&mt(&format!("d{i}"), "acme")))
            .await
            .unwrap();
    }
    let consumer = bus.consumer(ConsumerSpec::routers()).await.unwrap();
    let mut deliveries = consumer.messages(2).await.unwrap();
    // Two taken and held unacked; three still waiting for any router.
    let first = deliveries.next().await.unwrap().unwrap();
    let second = deliveries.next().await.unwrap().unwrap();

    let depths = tokio::time::timeout(PATIENCE, async {
        loop {
            let depths = herald_bus::Depths::fetch(bus.jetstream(), bus.config().partitions)
                .await
                .unwrap();
            let routers = depths
                .consumers
                .iter()
                .find(|c| c.stream == "HERALD_MT" && c.consumer == "routers")
                .cloned();
            if routers.as_ref().is_some_and(|c| c.ack_pending >= 2) {
                return depths;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the deliveries show as ack pending");
    let stored: Vec<_> = depths
        .streams
        .iter()
        .map(|(name, _)| name.as_str())
        .collect();
    assert_eq!(
        stored,
        StreamKind::ALL.map(StreamKind::name).to_vec(),
        "every stream is reported"
    );
    assert!(depths.streams.contains(&("HERALD_MT".to_owned(), 5)));
    let routers = depths
        .consumers
        .iter()
        .find(|c| c.consumer == "routers" && c.stream == "HERALD_MT")
        .unwrap();
    // The pull may have buffered more than the two read; what is not delivered is pending.
    assert_eq!(routers.pending + routers.ack_pending, 5);

    first.ack().await.unwrap();
    second.ack().await.unwrap();
    drop(deliveries);
    tokio::time::timeout(PATIENCE, async {
        loop {
            let depths = herald_bus::Depths::fetch(bus.jetstream(), bus.config().partitions)
                .await
                .unwrap();
            if depths.streams.contains(&("HERALD_MT".to_owned(), 3)) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("acked messages leave the work queue");
}

#[test]
fn a_consumer_gone_since_the_last_poll_reads_zero_not_its_last_backlog() {
    let metrics = herald_telemetry::install_metrics().unwrap();
    let consumer = |name: &str, pending| herald_bus::stats::ConsumerDepth {
        stream: "HERALD_EVENTS".into(),
        consumer: name.to_owned(),
        pending,
        ack_pending: 1,
    };
    let before = herald_bus::Depths {
        streams: vec![("HERALD_EVENTS".into(), 50)],
        consumers: vec![consumer("account-gone", 40), consumer("account-kept", 10)],
    };
    before.record();
    let after = herald_bus::Depths {
        streams: vec![("HERALD_EVENTS".into(), 12)],
        consumers: vec![consumer("account-kept", 12)],
    };
    after.record_after(&before);
    let text = metrics.render();
    let value = |consumer: &str| {
        text.lines()
            .find(|l| {
                l.starts_with("herald_bus_consumer_pending{")
                    && l.contains(&format!("consumer=\"{consumer}\""))
            })
            .and_then(|l| l.rsplit(' ').next())
            .map(str::to_owned)
    };
    assert_eq!(value("account-gone").as_deref(), Some("0"), "{text}");
    assert_eq!(value("account-kept").as_deref(), Some("12"), "{text}");
}

/// Messages `m<from>..m<to>` of `account` as accepted MT, for batch tests.
fn accepted(account: &str, ids: std::ops::Range<usize>) -> Vec<Outgoing> {
    ids.map(|i| Outgoing::accepted(&mt(&format!("m{i}"), account)))
        .collect()
}

#[tokio::test]
async fn a_coalescing_publisher_batches_a_burst_and_each_member_is_delivered_once() {
    let (_nats, bus) = start().await;
    let publisher = bus.coalescing_publisher(herald_bus::BatchLimits::default());
    let mut pending = Vec::new();
    for message in accepted("acme", 0..500) {
        pending.push(publisher.publish(message).await.unwrap());
    }
    for ack in pending {
        let ack = ack.await.unwrap();
        assert_eq!(ack.stream, "HERALD_MT");
    }
    // The first went alone; the rest gathered behind its ack, at most 64 to a batch.
    let stored = stream_messages(&bus, StreamKind::Mt).await;
    assert!(
        (8..500).contains(&stored),
        "{stored} messages for 500 members"
    );

    let consumer = bus.consumer(ConsumerSpec::routers()).await.unwrap();
    let mut deliveries = consumer.messages(64).await.unwrap();
    let mut seen = HashSet::new();
    let mut members = 0;
    while seen.len() < 500 {
        let delivery = next(&mut deliveries).await;
        members += usize::from(delivery.is_batch_member());
        assert_eq!(delivery.subject(), "herald.mt.acme");
        assert_eq!(delivery.deliveries(), 1);
        let decoded: MtMessage = delivery.decode().unwrap();
        assert_eq!(delivery.header("Herald-Msg-Id"), Some(decoded.id.as_str()));
        assert!(seen.insert(decoded.id), "each member once");
        delivery.ack().await.unwrap();
    }
    assert!(members >= 499 - 1, "all but the first came in batches");
    bus.flush().await.unwrap();
    wait_until_empty(&bus, StreamKind::Mt).await;
}

#[tokio::test]
async fn separate_subjects_form_separate_batches() {
    let (_nats, bus) = start().await;
    let publisher = bus.coalescing_publisher(herald_bus::BatchLimits::default());
    let mut pending = Vec::new();
    for i in 0..100 {
        let account = if i % 2 == 0 { "even" } else { "odd" };
        let message = Outgoing::accepted(&mt(&format!("m{i}"), account));
        pending.push(publisher.publish(message).await.unwrap());
    }
    for ack in pending {
        ack.await.unwrap();
    }
    let consumer = bus
        .consumer(ConsumerSpec::new(StreamKind::Mt, "odd", "herald.mt.odd"))
        .await
        .unwrap();
    let mut deliveries = consumer.messages(64).await.unwrap();
    for _ in 0..50 {
        let delivery = next(&mut deliveries).await;
        assert_eq!(delivery.header("Herald-Account"), Some("odd"));
        delivery.ack().await.unwrap();
    }
}

#[tokio::test]
async fn the_same_batch_published_twice_is_stored_once() {
    let (_nats, bus) = start().await;
    let first = publish_batch(&bus, 0..3).await;
    let again = publish_batch(&bus, 0..3).await;
    assert!(!first.duplicate);
    assert!(
        again.duplicate,
        "same members, same order: the window drops it"
    );
    let reordered = publish_batch(&bus, 1..3).await;
    assert!(!reordered.duplicate, "other members: another batch");
    assert_eq!(stream_messages(&bus, StreamKind::Mt).await, 2);
}

#[tokio::test]
async fn a_retried_member_comes_back_alone_after_its_delay_and_its_batch_is_acked() {
    let (_nats, bus) = start().await;
    publish_batch(&bus, 0..3).await;
    let consumer = bus.consumer(ConsumerSpec::routers()).await.unwrap();
    let mut deliveries = consumer.messages(16).await.unwrap();
    let ids: Vec<String> = futures_ids(&mut deliveries, 3, |id, delivery| async move {
        if id == "m1" {
            delivery
                .retry_after(Duration::from_millis(1500))
                .await
                .unwrap();
        } else {
            delivery.ack().await.unwrap();
        }
    })
    .await;
    assert_eq!(ids, ["m0", "m1", "m2"]);
    let retried_at = std::time::Instant::now();

    // Only m1 comes back, alone, counted as its second delivery, no sooner than asked.
    let delivery = next(&mut deliveries).await;
    assert!(retried_at.elapsed() >= Duration::from_millis(1400));
    assert!(!delivery.is_batch_member());
    assert_eq!(delivery.decode::<MtMessage>().unwrap().id, "m1");
    assert_eq!(delivery.header("Herald-Msg-Id"), Some("m1"));
    assert_eq!(delivery.deliveries(), 2);
    delivery.ack_confirmed().await.unwrap();
    let more = tokio::time::timeout(Duration::from_secs(2), deliveries.next()).await;
    assert!(more.is_err(), "nothing else is redelivered");
    wait_until_empty(&bus, StreamKind::Mt).await;
}

#[tokio::test]
async fn a_dead_lettered_member_goes_alone_and_the_rest_are_acked() {
    let (_nats, bus) = start().await;
    publish_batch(&bus, 0..2).await;
    let consumer = bus.consumer(ConsumerSpec::routers()).await.unwrap();
    let mut deliveries = consumer.messages(16).await.unwrap();
    futures_ids(&mut deliveries, 2, |id, delivery| async move {
        if id == "m0" {
            delivery.dead_letter("poison").await.unwrap();
        } else {
            delivery.ack().await.unwrap();
        }
    })
    .await;

    let dlq = bus
        .consumer(ConsumerSpec::new(
            StreamKind::DeadLetters,
            "ops",
            subject::DLQ_ALL,
        ))
        .await
        .unwrap();
    let mut letters = dlq.messages(16).await.unwrap();
    let letter = next(&mut letters).await;
    assert!(!letter.is_batch_member());
    assert_eq!(letter.decode::<MtMessage>().unwrap().id, "m0");
    assert_eq!(letter.header("Herald-Msg-Id"), Some("m0"));
    assert_eq!(letter.header(DLQ_REASON_HEADER), Some("poison"));
    assert_eq!(letter.header(DLQ_SUBJECT_HEADER), Some("herald.mt.acme"));
    assert_eq!(letter.header(herald_bus::batch::BATCH_HEADER), None);
    letter.ack().await.unwrap();
    assert_eq!(stream_messages(&bus, StreamKind::DeadLetters).await, 1);
    wait_until_empty(&bus, StreamKind::Mt).await;
}

#[tokio::test]
async fn a_batch_left_unsettled_is_redelivered_whole_and_then_dead_lettered_member_by_member() {
    let (_nats, bus) = start().await;
    let mut spec = ConsumerSpec::routers();
    spec.ack_wait = Duration::from_millis(300);
    spec.max_deliveries = 1;
    let consumer = bus.consumer(spec).await.unwrap();
    publish_batch(&bus, 0..3).await;

    // A worker acks two members and dies with the third.
    let mut deliveries = consumer.messages(16).await.unwrap();
    let first = next(&mut deliveries).await;
    let second = next(&mut deliveries).await;
    let third = next(&mut deliveries).await;
    first.ack().await.unwrap();
    second.ack().await.unwrap();
    drop(third);
    drop(deliveries);

    // The batch was never acked: it comes back whole, past its limit, so each member goes
    // to the dead letters on its own and nothing is handed out.
    let mut deliveries = consumer.messages(16).await.unwrap();
    let pulled = tokio::time::timeout(Duration::from_secs(3), deliveries.next()).await;
    assert!(pulled.is_err(), "nothing handed out past the limit");
    assert_eq!(stream_messages(&bus, StreamKind::DeadLetters).await, 3);
    wait_until_empty(&bus, StreamKind::Mt).await;
}

/// Publishes accepted MT `m<ids>` of account `acme` as one batch and waits for the ack.
async fn publish_batch(bus: &Bus, ids: std::ops::Range<usize>) -> herald_bus::Acked {
    bus.publisher()
        .publish_batch(accepted("acme", ids))
        .await
        .unwrap()
        .await
        .unwrap()
}

/// Takes `n` deliveries, settling each with `settle(id, delivery)`; returns their ids in
/// order.
async fn futures_ids<F, Fut>(
    deliveries: &mut herald_bus::Deliveries,
    n: usize,
    settle: F,
) -> Vec<String>
where
    F: Fn(String, herald_bus::Delivery) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut ids = Vec::new();
    for _ in 0..n {
        let delivery = next(deliveries).await;
        assert!(delivery.is_batch_member());
        let id = delivery.decode::<MtMessage>().unwrap().id;
        ids.push(id.clone());
        settle(id, delivery).await;
    }
    ids
}

/// Waits until `kind` holds no message (acks are asynchronous on the server).
async fn wait_until_empty(bus: &Bus, kind: StreamKind) {
    tokio::time::timeout(PATIENCE, async {
        while stream_messages(bus, kind).await > 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the stream empties");
}

#[tokio::test]
async fn next_group_hands_out_a_batch_together_and_a_single_message_alone() {
    let (_nats, bus) = start().await;
    publish_batch(&bus, 0..3).await;
    bus.publisher()
        .publish_acked(Outgoing::accepted(&mt("single", "acme")))
        .await
        .unwrap();
    let consumer = bus.consumer(ConsumerSpec::routers()).await.unwrap();
    let mut deliveries = consumer.messages(16).await.unwrap();
    let ids = |group: &[herald_bus::Delivery]| -> Vec<String> {
        group
            .iter()
            .map(|d| d.decode::<MtMessage>().unwrap().id)
            .collect()
    };
    let batch = deliveries.next_group().await.unwrap().unwrap();
    assert_eq!(ids(&batch), ["m0", "m1", "m2"]);
    let single = deliveries.next_group().await.unwrap().unwrap();
    assert_eq!(ids(&single), ["single"]);
    for delivery in batch.into_iter().chain(single) {
        delivery.ack().await.unwrap();
    }
    wait_until_empty(&bus, StreamKind::Mt).await;
}

#[tokio::test]
async fn unanswered_status_writes_are_stored_in_the_order_they_were_sent() {
    let (_nats, bus) = start().await;
    let store = bus.status_store().await.unwrap();
    let status = |stage: Stage, state: MessageState| MessageStatus {
        message_id: "0196f3a2.c5".into(),
        account_id: "acme".into(),
        stage: stage.as_str().into(),
        state: state.into(),
        ..Default::default()
    };
    store
        .advance(&status(Stage::Routed, MessageState::Enroute))
        .await
        .unwrap();
    // The connector's two records of a message, neither answered: submitted, then final.
    store
        .put_unconfirmed(&status(Stage::Submitted, MessageState::Enroute))
        .await
        .unwrap();
    store
        .put_unconfirmed(&status(Stage::Final, MessageState::Delivered))
        .await
        .unwrap();
    bus.flush().await.unwrap();
    let history = tokio::time::timeout(PATIENCE, async {
        loop {
            let history = store.history("0196f3a2.c5").await.unwrap();
            if history.len() == 3 {
                return history;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("both writes stored");
    let stages: Vec<_> = history.iter().map(|s| s.stage.as_str()).collect();
    assert_eq!(stages, ["routed", "submitted", "final"]);
    let latest = store.get("0196f3a2.c5").await.unwrap().unwrap();
    assert_eq!(latest.state(), MessageState::Delivered);
}

#[tokio::test]
async fn with_batching_off_every_message_is_published_on_its_own() {
    // For a rollout over nodes that cannot read batches yet (`nats.batching = false`).
    let nats = herald_harness::nats().run().await.unwrap();
    let bus = Bus::connect(BusConfig {
        batching: false,
        ..BusConfig::local(nats.client_url())
    })
    .await
    .unwrap();
    assert!(!bus.batching());
    let publisher = bus.coalescing_publisher(herald_bus::BatchLimits::default());
    let mut pending = Vec::new();
    for message in accepted("acme", 0..100) {
        pending.push(publisher.publish(message).await.unwrap());
    }
    for ack in pending {
        ack.await.unwrap();
    }
    assert_eq!(stream_messages(&bus, StreamKind::Mt).await, 100);
}

#[tokio::test]
async fn released_deliveries_hand_back_their_queued_members_and_the_batch_is_acked() {
    // An edge whose last session closed stops pulling mid-batch: the members it had not
    // handed out go back alone, and the one it delivered is not redelivered with them.
    let (_nats, bus) = start().await;
    publish_batch(&bus, 0..3).await;
    // A short ack wait: the server may still hand a republished member to the released
    // puller's last request, from which it comes back after the ack wait.
    let mut spec = ConsumerSpec::routers();
    spec.ack_wait = Duration::from_millis(500);
    let consumer = bus.consumer(spec).await.unwrap();
    let mut deliveries = consumer.messages(16).await.unwrap();
    let first = next(&mut deliveries).await;
    assert_eq!(first.decode::<MtMessage>().unwrap().id, "m0");
    first.ack().await.unwrap();
    deliveries.release().await;

    let mut again = consumer.messages(16).await.unwrap();
    let mut back = Vec::new();
    for _ in 0..2 {
        let delivery = next(&mut again).await;
        assert!(!delivery.is_batch_member());
        back.push(delivery.decode::<MtMessage>().unwrap().id);
        delivery.ack().await.unwrap();
    }
    back.sort();
    assert_eq!(back, ["m1", "m2"]);
    let more = tokio::time::timeout(Duration::from_secs(2), again.next()).await;
    assert!(more.is_err(), "m0 is not redelivered");
    wait_until_empty(&bus, StreamKind::Mt).await;
}

#[tokio::test]
async fn a_stored_porting_snapshot_is_followed_past_one_that_does_not_decode() {
    let (_nats, bus) = start().await;
    let store = bus.porting().await.unwrap();
    assert_eq!(store.info().await.unwrap(), None);
    // The decoder stands in for the porting table's: a snapshot is good when it is UTF-8.
    let decode = |bytes: &[u8]| String::from_utf8(bytes.to_vec());
    let followed = store.follow(decode).await.unwrap();
    assert!(followed.load().is_none(), "nothing stored yet");

    // A snapshot bigger than one chunk, stored with its metadata.
    let big = "4477009".repeat(300_000);
    let metadata = std::collections::HashMap::from([("numbers".to_owned(), "3".to_owned())]);
    let info = store.put(big.as_bytes(), metadata.clone()).await.unwrap();
    assert_eq!(info.size, big.len() as u64);
    assert_eq!(info.metadata, metadata);
    eventually_sync("the follower has the snapshot", || {
        followed.load().is_some_and(|s| *s == big)
    })
    .await;
    let (bytes, read) = store.get().await.unwrap().unwrap();
    assert_eq!(bytes, big.as_bytes());
    assert_eq!(read.nuid, info.nuid);

    // A snapshot that does not decode is skipped; one that does replaces it.
    store.put(&[0xFF, 0xFE], Default::default()).await.unwrap();
    store.put(b"second", Default::default()).await.unwrap();
    eventually_sync("the follower has the second snapshot", || {
        followed.load().is_some_and(|s| *s == "second")
    })
    .await;
    // A new follower starts from what is stored.
    let late = store.follow(decode).await.unwrap();
    assert_eq!(late.load().as_deref().map(String::as_str), Some("second"));
}
