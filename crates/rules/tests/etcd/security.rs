//! A locked etcd: over TLS with `--client-cert-auth`, and with authentication on (a user
//! whose role may only touch Herald's prefix). The store reads, follows the watch and the
//! client writes and registers a node through each; without the certificate or the
//! password, or with wrong ones, nothing gets through.

use std::time::Duration;

use herald_rules::{
    EtcdTls, EtcdUser, Expected, NodeInfo, RulesClient, RulesStore, SecretRef, StoreConfig,
};

use crate::{account, carrier, config, eventually};

/// Reads, watches and writes through `config`: the store loads what is there, the client
/// writes more, the store's watch brings it, and a node registers under a lease.
async fn reads_watches_and_writes(config: &StoreConfig) {
    let client = RulesClient::connect(config).await.unwrap();
    client
        .put(&account("acme"), Expected::Absent)
        .await
        .unwrap();
    let store = RulesStore::connect(config.clone()).await.unwrap();
    assert!(store.snapshot().account("acme").is_some(), "read");
    let written = client
        .put(&carrier("voda"), Expected::Absent)
        .await
        .unwrap();
    eventually("the watch brings the new carrier", || async {
        store.revision() >= written && store.snapshot().carrier("voda").is_some()
    })
    .await;
    assert!(store.connected());
    let read = client
        .get::<herald_rules::Carrier>("voda")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read.mod_revision, written);
    let registration = client
        .register_node(
            NodeInfo::new("edge", "edge-1", "test"),
            Duration::from_secs(5),
        )
        .await
        .unwrap();
    let nodes = client.list_nodes(Some("edge")).await.unwrap();
    assert_eq!(nodes.len(), 1, "{nodes:?}");
    registration.deregister().await.unwrap();
}

/// `config` cannot even load the rules.
async fn shut_out(what: &str, config: StoreConfig) {
    let config = StoreConfig {
        connect_timeout: Duration::from_secs(2),
        ..config
    };
    let result = RulesStore::connect(config).await;
    assert!(result.is_err(), "{what}: the store connected");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_tls_with_client_certificates_only_a_certified_client_gets_in() {
    let etcd = herald_harness::etcd().tls(true).run().await.unwrap();
    let pki = etcd.pki().unwrap();
    let with_tls = |cert: Option<(std::path::PathBuf, std::path::PathBuf)>| StoreConfig {
        tls: Some(EtcdTls {
            ca: pki.ca(),
            cert: cert.as_ref().map(|c| c.0.clone()),
            key: cert.map(|c| c.1),
        }),
        ..config(&etcd.client_url())
    };

    shut_out("no client certificate", with_tls(None)).await;
    shut_out(
        "a stranger's certificate",
        with_tls(Some((pki.rogue_client_cert(), pki.rogue_client_key()))),
    )
    .await;
    // Trusting another CA (here: the client certificate, not a CA) fails the handshake.
    let mut untrusting = with_tls(Some((pki.client_cert(), pki.client_key())));
    if let Some(tls) = untrusting.tls.as_mut() {
        tls.ca = pki.client_cert();
    }
    shut_out("the server's CA not trusted", untrusting).await;
    // Plain text to the TLS port.
    let plain = config(&etcd.client_url().replace("https://", "http://"));
    shut_out("plain text", plain).await;

    reads_watches_and_writes(&with_tls(Some((pki.client_cert(), pki.client_key())))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_authentication_on_only_the_user_with_its_password_gets_in() {
    let etcd = herald_harness::etcd()
        .auth("root-password")
        .run()
        .await
        .unwrap();
    etcd.add_user("herald", "herald-password", "/herald/")
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let password_file = |name: &str, password: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, format!("{password}\n")).unwrap();
        SecretRef::File(path)
    };
    let as_user = |password: SecretRef| StoreConfig {
        user: Some(EtcdUser {
            name: "herald".into(),
            password,
        }),
        ..config(&etcd.client_url())
    };

    shut_out("anonymous", config(&etcd.client_url())).await;
    shut_out(
        "a wrong password",
        as_user(password_file("wrong", "not-the-password")),
    )
    .await;
    shut_out(
        "a password variable that is not set",
        as_user(SecretRef::Env("HERALD_RULES_TEST_UNSET_PASSWORD".into())),
    )
    .await;
    // The role covers Herald's prefix only: another prefix is out of bounds.
    let elsewhere = StoreConfig {
        prefix: "/elsewhere/".into(),
        ..as_user(password_file("right-1", "herald-password"))
    };
    shut_out("outside the role's prefix", elsewhere).await;

    reads_watches_and_writes(&as_user(password_file("right", "herald-password"))).await;
}
