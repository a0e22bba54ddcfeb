//! A router killed with SIGKILL mid-stream: the messages it had pulled but not
//! acknowledged go to another router after the ack wait; none is lost, none is routed
//! twice (a batch it had routed but not acked is routed again into the same carrier
//! batch, with the same dedup id, which the carrier queue drops).
//!
//! The killed router is this test binary run again as a child process, executing only the
//! ignored test [`child_router`] (which does nothing unless the parent set
//! [`CHILD_NATS`]).

use std::process::Stdio;

use crate::*;

/// The environment variable that makes [`child_router`] run a router against this NATS.
const CHILD_NATS: &str = "HERALD_ROUTER_TEST_CHILD_NATS";

fn rules() -> Vec<(String, Value)> {
    vec![(
        "routes/uk".into(),
        json!({"id": "uk", "match": {"destination_prefixes": ["44"]},
               "action": {"type": "carrier", "carrier": "a"}}),
    )]
}

/// The child's router: revision 1, so its messages are told apart from the survivor's
/// (revision 2). Pulls big batches with many in flight, so it holds unacknowledged
/// messages when it dies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run as a child process by a_killed_router_s_messages_go_to_another"]
async fn child_router() {
    let Ok(url) = std::env::var(CHILD_NATS) else {
        return;
    };
    let bus = bus(&url).await;
    let config = RouterConfig {
        batch: 500,
        in_flight: 2000,
        ..quick()
    };
    let _router = Running::start(&bus, fixed_rules(1, rules()), None, config).await;
    println!("child router running");
    std::future::pending::<()>().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_router_s_messages_go_to_another() {
    let nats = herald_harness::nats().run().await.unwrap();
    let bus = bus(&nats.client_url()).await;
    let queues = carrier_queues(&bus, &["a"]).await;
    let all = ids("k-", 4000);
    // In batches, as a busy edge publishes: a batch the child routed but never acked is
    // routed again by the survivor into the same carrier batch, which the queue drops.
    let messages = all.iter().map(|id| mt(id, "acme", "447700900123", 0));
    publish_batched(&bus, messages, 25).await;

    let mut child = tokio::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "kill::child_router",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_NATS, nats.client_url())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    eventually("the child router routes", || async {
        !queues["a"].all().is_empty()
    })
    .await;
    // SIGKILL: no shutdown, no acks, no goodbye.
    child.kill().await.unwrap();
    let killed_after = routed(&queues).len();

    let survivor = Running::start(&bus, fixed_rules(2, rules()), None, quick()).await;
    eventually("every message is routed", || async {
        routed(&queues).len() >= all.len()
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_exactly_once(&queues, &all);
    let by_child = routed(&queues)
        .iter()
        .filter(|(_, m)| m.route.as_ref().unwrap().rules_revision == 1)
        .count();
    // The child may have routed a message (it is in the carrier queue) without acking it:
    // it is redelivered after the ack wait, routed again into the same dedup id, and only
    // then leaves the routers' backlog.
    let consumer = bus.consumer(routers_spec()).await.unwrap();
    eventually("nothing left pending", || async {
        consumer.clone().backlog().await.unwrap() == 0
    })
    .await;
    assert_exactly_once(&queues, &all);
    println!(
        "child routed {by_child} before it was killed ({killed_after} seen at the kill); \
         the survivor routed the other {}",
        all.len() - by_child
    );
    assert!(by_child > 0 && by_child < all.len());
    survivor.stop().await;
}
