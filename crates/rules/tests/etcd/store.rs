//! The store: prompt changes, last-known-good through an etcd outage, resync after a
//! compaction, problems from objects written behind the control plane's back, and a typed
//! start-up failure.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use herald_rules::{Error, Expected, Kind, Route, RulesClient, RulesStore, ValidationError};

use crate::proxy::Proxy;
use crate::{account, carrier, config, eventually};

fn route_to(id: &str, carrier: &str) -> Route {
    serde_json::from_value(serde_json::json!({
        "id": id,
        "priority": 10,
        "match": {"destination_prefixes": ["44"]},
        "action": {"type": "carrier", "carrier": carrier},
    }))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_reaches_the_store_and_its_subscribers() {
    let etcd = herald_harness::etcd().run().await.unwrap();
    let client = RulesClient::connect(&config(&etcd.client_url()))
        .await
        .unwrap();
    let first = client
        .put(&account("acme"), Expected::Absent)
        .await
        .unwrap();

    let store = RulesStore::connect(config(&etcd.client_url()))
        .await
        .unwrap();
    assert!(store.connected());
    assert_eq!(store.revision(), first);
    assert!(store.snapshot().account("acme").is_some());
    let mut changes = store.changes();
    assert_eq!(*changes.borrow_and_update(), first);

    client
        .put(&carrier("voda"), Expected::Absent)
        .await
        .unwrap();
    let routed = client
        .put(&route_to("uk", "voda"), Expected::Absent)
        .await
        .unwrap();
    eventually("the route is served", || async {
        store.snapshot().route("uk").is_some()
    })
    .await;
    assert_eq!(store.revision(), routed);
    assert!(store.load().carrier("voda").is_some());
    assert!(
        store.snapshot().problems().is_empty(),
        "{:?}",
        store.snapshot().problems()
    );
    tokio::time::timeout(herald_harness::PATIENCE, changes.changed())
        .await
        .unwrap()
        .unwrap();
    eventually("the subscriber sees the route's revision", || {
        let seen = *changes.borrow_and_update();
        async move { seen == routed }
    })
    .await;

    let deleted = client
        .delete(Kind::Route, "uk", Expected::Any)
        .await
        .unwrap();
    eventually("the route is gone", || async {
        store.snapshot().route("uk").is_none()
    })
    .await;
    assert_eq!(store.revision(), deleted);
    assert_eq!(
        store.status().full_loads,
        1,
        "changes apply without reloading"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_last_snapshot_serves_while_etcd_is_down_then_resyncs() {
    let mut etcd = herald_harness::etcd().run().await.unwrap();
    let client = RulesClient::connect(&config(&etcd.client_url()))
        .await
        .unwrap();
    let before = client
        .put(&account("acme"), Expected::Absent)
        .await
        .unwrap();
    let store = RulesStore::connect(config(&etcd.client_url()))
        .await
        .unwrap();

    // A reader hammers the store for the whole outage: it must always get the snapshot.
    let stop = Arc::new(AtomicBool::new(false));
    let reads = Arc::new(AtomicU64::new(0));
    let reader = tokio::spawn({
        let (store, stop, reads) = (store.clone(), stop.clone(), reads.clone());
        async move {
            while !stop.load(Ordering::Relaxed) {
                let snapshot = store.snapshot();
                assert!(snapshot.account("acme").is_some(), "the account vanished");
                assert!(snapshot.revision() >= before);
                reads.fetch_add(1, Ordering::Relaxed);
                tokio::task::yield_now().await;
            }
        }
    });

    // Kill etcd mid-watch.
    eventually("the watch is up", || async { store.status().watches == 1 }).await;
    etcd.kill().await;
    // The connection flag and the error are two updates: wait for both.
    eventually("the store notices etcd is gone", || async {
        !store.connected() && store.status().last_error.is_some()
    })
    .await;
    let status = store.status();
    assert_eq!(
        status.revision, before,
        "still serving the last-known-good rules"
    );
    assert!(status.last_error.is_some());
    let reads_while_down = reads.load(Ordering::Relaxed);
    eventually("readers keep reading while etcd is down", || async {
        reads.load(Ordering::Relaxed) > reads_while_down + 100
    })
    .await;
    assert_eq!(store.revision(), before);

    etcd.restart().await.unwrap();
    eventually("the store reconnects", || async { store.connected() }).await;
    // The client made before the outage recovers too (its channel reconnects).
    eventually("the old client can write again", || {
        let client = client.clone();
        async move { client.get_json(Kind::Account, "acme").await.is_ok() }
    })
    .await;
    let after = client
        .put(&account("beta"), Expected::Absent)
        .await
        .unwrap();
    eventually("a change made after the restart arrives", || async {
        store.snapshot().account("beta").is_some()
    })
    .await;
    assert_eq!(store.revision(), after);
    let status = store.status();
    assert!(status.watches >= 2, "{status:?}");
    assert_eq!(
        status.full_loads, 1,
        "the watch resumed, nothing was reloaded"
    );

    stop.store(true, Ordering::Relaxed);
    reader.await.unwrap();
    assert!(reads.load(Ordering::Relaxed) > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_compaction_past_the_watch_revision_forces_a_full_reload() {
    let etcd = herald_harness::etcd().run().await.unwrap();
    let proxy = Proxy::start(etcd.port()).await;
    let client = RulesClient::connect(&config(&etcd.client_url()))
        .await
        .unwrap();
    client
        .put(&account("gone-soon"), Expected::Absent)
        .await
        .unwrap();
    let store = RulesStore::connect(config(&proxy.url())).await.unwrap();
    assert!(store.snapshot().account("gone-soon").is_some());

    // Cut the store off while etcd lives on, change things, and compact the history the
    // store would need to resume its watch.
    eventually("the watch is up", || async { store.status().watches == 1 }).await;
    proxy.cut();
    eventually("the store notices it is cut off", || async {
        !store.connected()
    })
    .await;
    let served = store.revision();
    client
        .put(&account("alpha"), Expected::Absent)
        .await
        .unwrap();
    client
        .delete(Kind::Account, "gone-soon", Expected::Any)
        .await
        .unwrap();
    let last = client
        .put(&account("beta"), Expected::Absent)
        .await
        .unwrap();
    let mut raw = client.etcd_client();
    raw.compact(i64::try_from(last).unwrap(), None)
        .await
        .unwrap();
    assert_eq!(
        store.revision(),
        served,
        "nothing reached the store meanwhile"
    );

    proxy.restore();
    eventually("the store reloads after the compaction", || async {
        let s = store.snapshot();
        s.account("alpha").is_some() && s.account("beta").is_some()
    })
    .await;
    let snapshot = store.snapshot();
    assert!(
        snapshot.account("gone-soon").is_none(),
        "the delete was not missed"
    );
    assert_eq!(snapshot.revision(), last);
    assert!(store.status().full_loads >= 2, "{:?}", store.status());
    eventually("the watch is back", || async { store.connected() }).await;

    // And it follows changes again.
    let next = client
        .put(&account("gamma"), Expected::Absent)
        .await
        .unwrap();
    eventually("a later change arrives", || async {
        store.revision() == next
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_written_behind_the_control_plane_are_skipped_and_reported() {
    let etcd = herald_harness::etcd().run().await.unwrap();
    let client = RulesClient::connect(&config(&etcd.client_url()))
        .await
        .unwrap();
    client
        .put(&account("good"), Expected::Absent)
        .await
        .unwrap();
    let mut raw = client.etcd_client();
    raw.put("/herald/v1/accounts/broken", "{not json", None)
        .await
        .unwrap();
    raw.put(
        "/herald/v1/routes/dangling",
        r#"{"id": "dangling", "action": {"type": "carrier", "carrier": "nowhere"}}"#,
        None,
    )
    .await
    .unwrap();

    let store = RulesStore::connect(config(&etcd.client_url()))
        .await
        .unwrap();
    let snapshot = store.snapshot();
    assert!(snapshot.account("good").is_some());
    assert!(snapshot.route("dangling").is_none());
    assert_eq!(snapshot.problems().len(), 2, "{:?}", snapshot.problems());
    assert_eq!(store.status().problems, 2);
    assert!(matches!(
        snapshot.problems()[0].error,
        ValidationError::Decode {
            kind: Kind::Account,
            ..
        }
    ));
    assert!(matches!(
        &snapshot.problems()[1].error,
        ValidationError::Dangling { target: Kind::Carrier, target_id, .. } if target_id == "nowhere"
    ));

    // Creating the carrier heals the route on the next snapshot.
    client
        .put(&carrier("nowhere"), Expected::Absent)
        .await
        .unwrap();
    eventually("the route is served once its carrier exists", || async {
        store.snapshot().route("dangling").is_some()
    })
    .await;
    assert_eq!(store.snapshot().problems().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_up_fails_with_a_typed_error_when_etcd_is_unreachable() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut c = config(&format!("http://127.0.0.1:{port}"));
    c.connect_timeout = Duration::from_secs(1);
    c.request_timeout = Duration::from_secs(1);
    let store = RulesStore::connect(c.clone()).await;
    assert!(
        matches!(store, Err(Error::Timeout { .. } | Error::Etcd { .. })),
        "{:?}",
        store.err()
    );
    let client = RulesClient::connect(&c).await;
    assert!(matches!(
        client,
        Err(Error::Timeout { .. } | Error::Etcd { .. })
    ));
}
