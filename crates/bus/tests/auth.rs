//! The bus against a locked `nats-server`: refused without credentials (or with wrong
//! ones), admitted with each kind Herald supports (a `.creds` file, an NKey seed, a user
//! and password, a token) and over TLS with a client certificate. Each admitted bus
//! declares its topology and round-trips a publish, so JetStream works for that user.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::path::{Path, PathBuf};

use bytes::Bytes;
use herald_bus::{
    Bus, BusConfig, BusError, ClientCertificate, NatsAuth, NatsTls, Outgoing, SecretRef,
};
use herald_harness::NatsServer;

fn config(nats: &NatsServer, auth: NatsAuth) -> BusConfig {
    BusConfig {
        auth,
        ..BusConfig::local(nats.client_url())
    }
}

/// Writes `secret` to a file in `dir` and refers to it.
fn secret_file(dir: &Path, name: &str, secret: &str) -> SecretRef {
    let path = dir.join(name);
    std::fs::write(&path, format!("{secret}\n")).unwrap();
    SecretRef::File(path)
}

/// Connects, and proves the connection works: the topology is declared (JetStream API)
/// and a publish to HERALD_MT is acknowledged.
async fn admitted(config: BusConfig) {
    let what = config.auth.kind();
    let bus = Bus::connect(config)
        .await
        .unwrap_or_else(|e| panic!("{what}: refused: {e:?}"));
    let ack = bus
        .publisher()
        .publish_acked(Outgoing::new(
            herald_bus::subject::mt("acme"),
            format!("auth-{what}"),
            Bytes::from_static(b"x"),
        ))
        .await
        .unwrap();
    assert!(!ack.duplicate, "{what}");
}

/// Connecting fails because NATS refused the credentials, and the error says so.
async fn refused(config: BusConfig) {
    let what = config.auth.kind();
    match Bus::connect(config).await {
        Err(error @ BusError::Refused { .. }) => {
            let text = error.to_string();
            assert!(text.contains("refused"), "{text}");
        }
        Err(other) => panic!("{what}: expected a refusal, got {other:?}"),
        Ok(_) => panic!("{what}: admitted"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_with_a_password_or_an_nkey_are_admitted_and_no_one_else() {
    let (nkey_public, nkey_seed) = herald_harness::nkey_user().unwrap();
    let (_, other_seed) = herald_harness::nkey_user().unwrap();
    let nats = herald_harness::nats()
        .user("herald", "right-password")
        .nkey_user(nkey_public)
        .run()
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();

    refused(config(&nats, NatsAuth::None)).await;
    refused(config(
        &nats,
        NatsAuth::UserPassword {
            user: "herald".into(),
            password: secret_file(d, "wrong", "wrong-password"),
        },
    ))
    .await;
    refused(config(
        &nats,
        NatsAuth::NKey(secret_file(d, "other.seed", &other_seed)),
    ))
    .await;

    admitted(config(
        &nats,
        NatsAuth::UserPassword {
            user: "herald".into(),
            password: secret_file(d, "password", "right-password"),
        },
    ))
    .await;
    admitted(config(
        &nats,
        NatsAuth::NKey(secret_file(d, "herald.seed", &nkey_seed)),
    ))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_server_admits_its_token_only() {
    let nats = herald_harness::nats().token("t0k3n-1").run().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    refused(config(&nats, NatsAuth::None)).await;
    refused(config(
        &nats,
        NatsAuth::Token(secret_file(dir.path(), "old", "t0k3n-0")),
    ))
    .await;
    admitted(config(
        &nats,
        NatsAuth::Token(secret_file(dir.path(), "token", "t0k3n-1")),
    ))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_mode_server_admits_a_creds_file() {
    let nats = herald_harness::nats().operator().run().await.unwrap();
    let creds = nats.creds().unwrap().to_owned();
    refused(config(&nats, NatsAuth::None)).await;
    // A seed alone is not a user of the operator's account.
    let (_, stranger) = herald_harness::nkey_user().unwrap();
    let dir = tempfile::tempdir().unwrap();
    refused(config(
        &nats,
        NatsAuth::NKey(secret_file(dir.path(), "stranger.seed", &stranger)),
    ))
    .await;
    admitted(config(&nats, NatsAuth::Credentials(SecretRef::File(creds)))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_server_that_verifies_clients_admits_a_client_certificate_its_ca_signed() {
    let nats = herald_harness::nats().tls(true).run().await.unwrap();
    let pki = nats.pki().unwrap();
    let tls = |ca: Option<PathBuf>, client: Option<(PathBuf, PathBuf)>| BusConfig {
        tls: Some(NatsTls {
            ca,
            client_certificate: client.map(|(cert, key)| ClientCertificate { cert, key }),
        }),
        connect_timeout: std::time::Duration::from_secs(2),
        ..config(&nats, NatsAuth::None)
    };
    let client = (pki.client_cert(), pki.client_key());
    let rogue = (pki.rogue_client_cert(), pki.rogue_client_key());

    // Without a client certificate, with one from another CA, or without trusting the
    // server's CA, the TLS handshake fails.
    for (what, config) in [
        ("no client certificate", tls(Some(pki.ca()), None)),
        ("a stranger's certificate", tls(Some(pki.ca()), Some(rogue))),
        (
            "the server's CA not trusted",
            tls(None, Some(client.clone())),
        ),
    ] {
        let result = Bus::connect(config).await;
        assert!(
            matches!(
                result,
                Err(BusError::Connect { .. } | BusError::Refused { .. })
            ),
            "{what}: {result:?}"
        );
    }
    // Plain text to a TLS-only server fails too.
    let plain = BusConfig {
        urls: vec![format!("nats://127.0.0.1:{}", nats.port())],
        connect_timeout: std::time::Duration::from_secs(2),
        ..config(&nats, NatsAuth::None)
    };
    assert!(Bus::connect(plain).await.is_err());

    admitted(tls(Some(pki.ca()), Some(client))).await;
}
