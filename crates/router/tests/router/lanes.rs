//! The urgent lane through the router: an urgent message is routed from its own consumer
//! to the carrier's urgent queue, also on a stream whose routers' consumer predates the
//! lane and took every MT subject.

use herald_bus::{ConsumerSpec, StreamKind, subject};
use herald_harness::eventually;
use herald_proto::bus::v1::MtMessage;
use serde_json::json;

use super::{Running, bus, collect, fixed_rules, mt, publish_all, quick, routers_spec};

#[tokio::test]
async fn each_message_is_routed_to_its_lane_of_the_carriers_queue() {
    let nats = herald_harness::nats().run().await.unwrap();
    let bus = bus(&nats.client_url()).await;
    // The routers' consumer as a router before the urgent lane declared it.
    let before = ConsumerSpec {
        filter: subject::MT_ALL.to_owned(),
        ..routers_spec()
    };
    bus.consumer(before).await.unwrap();
    let bulk_queue = collect::<MtMessage>(&bus, ConsumerSpec::carrier("a")).await;
    let urgent_queue = collect::<MtMessage>(&bus, ConsumerSpec::urgent_carrier("a")).await;
    let mut otp = mt("otp", "acme", "441100000001", 1);
    otp.urgent = true;
    otp.priority = 1;
    publish_all(&bus, [mt("promo", "acme", "441100000002", 1), otp]).await;

    let route = json!({"id": "all", "priority": 10, "match": {},
                       "action": {"type": "carrier", "carrier": "a"}});
    let router = Running::start(
        &bus,
        fixed_rules(1, vec![("routes/all".to_owned(), route)]),
        None,
        quick(),
    )
    .await;
    eventually("both messages are routed", || async {
        bulk_queue.len() == 1 && urgent_queue.len() == 1
    })
    .await;
    let lane = |queue: &super::Collected<MtMessage>| -> Vec<(String, bool, u32)> {
        queue
            .all()
            .into_iter()
            .map(|m| (m.id, m.urgent, m.priority))
            .collect()
    };
    assert_eq!(lane(&bulk_queue), [("promo".to_owned(), false, 0)]);
    assert_eq!(lane(&urgent_queue), [("otp".to_owned(), true, 1)]);

    // The bulk consumer was narrowed to its lane, and the urgent one has its own.
    let mut stream = bus
        .jetstream()
        .get_stream(StreamKind::Mt.name())
        .await
        .unwrap();
    let filter = |name: &'static str| {
        let stream = stream.clone();
        async move {
            let info = stream.consumer_info(name).await.unwrap();
            info.config.filter_subject
        }
    };
    assert_eq!(filter("routers").await, subject::MT_BULK);
    assert_eq!(filter("routers-urgent").await, subject::MT_URGENT);
    assert_eq!(stream.info().await.unwrap().state.messages, 0);
    router.stop().await;
}
