//! The client: compare-and-swap on the revision, validation before writing, JSON documents,
//! and argon2id passwords end to end.

use herald_rules::{
    Account, Error, Expected, Kind, PasswordHash, RulesClient, RulesStore, ValidationError,
};

use crate::{account, config, eventually};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compare_and_swap_detects_conflicts() {
    let etcd = herald_harness::etcd().run().await.unwrap();
    let client = RulesClient::connect(&config(&etcd.client_url()))
        .await
        .unwrap();
    let mut acme = account("acme");

    let created = client.put(&acme, Expected::Absent).await.unwrap();
    let conflict = client.put(&acme, Expected::Absent).await;
    assert!(
        matches!(conflict, Err(Error::Conflict { kind: Kind::Account, ref id, current_revision: Some(r) })
            if id == "acme" && r == created),
        "{conflict:?}"
    );

    let read = client.get::<Account>("acme").await.unwrap().unwrap();
    assert_eq!(read.mod_revision, created);
    assert_eq!(read.value, acme);

    // Two writers read the same revision; the second loses.
    acme.window = 50;
    let updated = client
        .put(&acme, Expected::Revision(read.mod_revision))
        .await
        .unwrap();
    assert!(updated > created);
    acme.window = 99;
    let stale = client
        .put(&acme, Expected::Revision(read.mod_revision))
        .await;
    assert!(
        matches!(stale, Err(Error::Conflict { current_revision: Some(r), .. }) if r == updated),
        "{stale:?}"
    );
    assert_eq!(
        client
            .get::<Account>("acme")
            .await
            .unwrap()
            .unwrap()
            .value
            .window,
        50
    );

    // Deletes compare too.
    let stale_delete = client
        .delete(Kind::Account, "acme", Expected::Revision(created))
        .await;
    assert!(matches!(stale_delete, Err(Error::Conflict { .. })));
    client
        .delete(Kind::Account, "acme", Expected::Revision(updated))
        .await
        .unwrap();
    assert!(client.get::<Account>("acme").await.unwrap().is_none());
    let on_absent = client.put(&acme, Expected::Revision(updated)).await;
    assert!(
        matches!(
            on_absent,
            Err(Error::Conflict {
                current_revision: None,
                ..
            })
        ),
        "{on_absent:?}"
    );
    // Last writer wins when asked to.
    client.put(&acme, Expected::Any).await.unwrap();
    client.put(&acme, Expected::Any).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_are_validated_and_documents_canonical() {
    let etcd = herald_harness::etcd().run().await.unwrap();
    let client = RulesClient::connect(&config(&etcd.client_url()))
        .await
        .unwrap();

    let mut clear_text = account("acme");
    clear_text.password_hash = PasswordHash::from_phc("hunter2");
    let refused = client.put(&clear_text, Expected::Any).await;
    assert!(
        matches!(&refused, Err(Error::Invalid(ValidationError::Field { field, .. })) if field == "password_hash"),
        "{refused:?}"
    );
    assert!(
        client
            .get_json(Kind::Account, "acme")
            .await
            .unwrap()
            .is_none(),
        "nothing written"
    );

    let typo = r#"{"id": "voda", "host": "h", "port": 2775, "system_id": "s",
        "password": {"env": "PW"}, "throughput": {"tps": 5}, "windw": 10}"#;
    let refused = client
        .put_json(Kind::Carrier, "voda", typo, Expected::Absent)
        .await;
    assert!(
        matches!(&refused, Err(Error::Invalid(ValidationError::UnknownField { field, .. })) if field == "windw"),
        "{refused:?}"
    );

    let doc = r#"{"id": "voda", "host": "h", "port": 2775, "system_id": "s",
        "password": {"env": "PW"}, "throughput": {"tps": 5}}"#;
    let revision = client
        .put_json(Kind::Carrier, "voda", doc, Expected::Absent)
        .await
        .unwrap();
    let stored = client
        .get_json(Kind::Carrier, "voda")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.mod_revision, revision);
    let stored: serde_json::Value = serde_json::from_str(&stored.json).unwrap();
    assert_eq!(stored["window"], 10, "defaults are written out");
    assert_eq!(stored["enquire_link_interval"], "30s");

    let listing = client.list_json(Kind::Carrier).await.unwrap();
    assert_eq!(listing.revision, revision);
    assert_eq!(listing.objects.len(), 1);
    assert_eq!(listing.objects[0].id, "voda");
    assert!(
        client
            .list_json(Kind::Route)
            .await
            .unwrap()
            .objects
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn argon2id_passwords_verify_through_the_store() {
    let etcd = herald_harness::etcd().run().await.unwrap();
    let client = RulesClient::connect(&config(&etcd.client_url()))
        .await
        .unwrap();
    let mut acme = account("acme");
    acme.password_hash = PasswordHash::hash("correct horse").unwrap();
    client.put(&acme, Expected::Absent).await.unwrap();

    let stored = client
        .get_json(Kind::Account, "acme")
        .await
        .unwrap()
        .unwrap();
    assert!(stored.json.contains("$argon2id$v=19$m=19456,t=2,p=1$"));
    assert!(
        !stored.json.contains("correct horse"),
        "no clear text in etcd"
    );

    let store = RulesStore::connect(config(&etcd.client_url()))
        .await
        .unwrap();
    eventually("the account is served", || async {
        store.snapshot().account("acme").is_some()
    })
    .await;
    let snapshot = store.snapshot();
    let served = snapshot.account_by_system_id("acme").unwrap();
    assert!(served.verify_password("correct horse"));
    assert!(!served.verify_password("correct horse "));
    assert!(!served.verify_password("Correct horse"));
    assert!(!served.verify_password(""));
}
