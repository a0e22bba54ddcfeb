//! Node registration: appears, follows updates, survives an etcd restart, and disappears
//! when its keep-alive stops (lease expiry) or at once when deregistered.

use std::time::Duration;

use herald_rules::{NodeInfo, RulesClient};

use crate::{config, eventually};

/// The registrations' lease TTL. Long enough that "still registered after two TTLs" does
/// not hang on a keep-alive answer arriving within a tight bound on a machine busy with
/// every other test (a 2 s TTL once failed that way).
const TTL: Duration = Duration::from_secs(6);

async fn listed(client: &RulesClient, role: &str, id: &str) -> Option<NodeInfo> {
    client
        .list_nodes(Some(role))
        .await
        .ok()?
        .into_iter()
        .find(|n| n.id == id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registration_appears_updates_and_expires_when_keep_alive_stops() {
    let etcd = herald_harness::etcd().run().await.unwrap();
    let client = RulesClient::connect(&config(&etcd.client_url()))
        .await
        .unwrap();
    let info = NodeInfo::new("edge", "edge-1", "0.1.0").with_address("smpp", "127.0.0.1:2775");
    let registration = client.register_node(info.clone(), TTL).await.unwrap();
    assert_eq!(registration.key(), "/herald/v1/nodes/edge/edge-1");
    let other = client
        .register_node(NodeInfo::new("router", "router-1", "0.1.0"), TTL)
        .await
        .unwrap();

    let seen = listed(&client, "edge", "edge-1").await.unwrap();
    assert_eq!(seen.addresses["smpp"], "127.0.0.1:2775");
    assert_eq!(client.list_nodes(None).await.unwrap().len(), 2);
    assert_eq!(client.list_nodes(Some("router")).await.unwrap().len(), 1);

    registration.set_rules_revision(42);
    eventually("the update is registered", || async {
        listed(&client, "edge", "edge-1")
            .await
            .is_some_and(|n| n.rules_revision == 42)
    })
    .await;

    // Kept alive well past its TTL.
    tokio::time::sleep(TTL * 2).await;
    assert!(
        listed(&client, "edge", "edge-1").await.is_some(),
        "keep-alive holds the lease"
    );

    // Dropping it is a crash: no revoke, the lease runs out.
    drop(registration);
    eventually("the key goes when its lease expires", || async {
        listed(&client, "edge", "edge-1").await.is_none()
    })
    .await;

    // Deregistering revokes the lease: the key goes without waiting for the TTL.
    other.deregister().await.unwrap();
    assert!(listed(&client, "router", "router-1").await.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registration_comes_back_after_an_etcd_restart() {
    let mut etcd = herald_harness::etcd().run().await.unwrap();
    let client = RulesClient::connect(&config(&etcd.client_url()))
        .await
        .unwrap();
    let registration = client
        .register_node(NodeInfo::new("connector", "c-1", "0.1.0"), TTL)
        .await
        .unwrap();

    etcd.kill().await;
    tokio::time::sleep(TTL).await;
    registration.set_rules_revision(7);
    etcd.restart().await.unwrap();

    let client = RulesClient::connect(&config(&etcd.client_url()))
        .await
        .unwrap();
    eventually("the node is registered again, with its update", || async {
        listed(&client, "connector", "c-1")
            .await
            .is_some_and(|n| n.rules_revision == 7)
    })
    .await;
    // And it stays: the renewals run on the new session.
    tokio::time::sleep(TTL * 2).await;
    assert!(listed(&client, "connector", "c-1").await.is_some());
}
