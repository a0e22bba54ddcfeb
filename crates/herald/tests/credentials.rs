//! The `herald` binary with locked NATS and etcd: a node NATS refuses says why, stays not
//! ready and keeps trying, and gets in once its mounted password is right (read anew at
//! each attempt); etcd over TLS with a client certificate; `herald check-config` on the
//! credentials a pod would mount.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use herald_harness::eventually;
use herald_rules::{EtcdTls, RulesClient, StoreConfig};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::Command;

const HERALD: &str = env!("CARGO_BIN_EXE_herald");

async fn http_status(addr: &str, path: &str) -> u16 {
    let Ok(mut stream) = TcpStream::connect(addr).await else {
        return 0;
    };
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response).await;
    response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// The `fields` of the JSON log lines so far whose message contains `text`.
fn logged(lines: &Mutex<Vec<String>>, text: &str) -> Vec<serde_json::Value> {
    lines
        .lock()
        .unwrap()
        .iter()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .map(|line| line["fields"].clone())
        .filter(|fields| fields["message"].as_str().is_some_and(|m| m.contains(text)))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_refused_by_nats_says_why_stays_unready_and_gets_in_once_its_password_is_right() {
    let nats = herald_harness::nats()
        .user("router", "right-password")
        .run()
        .await
        .unwrap();
    let etcd = herald_harness::etcd().tls(true).run().await.unwrap();
    let pki = etcd.pki().unwrap();
    let store = StoreConfig {
        tls: Some(EtcdTls {
            ca: pki.ca(),
            cert: Some(pki.client_cert()),
            key: Some(pki.client_key()),
        }),
        ..StoreConfig::new([etcd.client_url()])
    };
    let client = RulesClient::connect(&store).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let password = dir.path().join("nats-password");
    std::fs::write(&password, "wrong-password\n").unwrap();

    let path = |p: &Path| p.to_string_lossy().into_owned();
    let mut child = Command::new(HERALD)
        .arg("router")
        .env("HERALD_NODE__ID", "router-locked")
        .env("HERALD_NATS__URLS", nats.client_url())
        .env("HERALD_NATS__USER", "router")
        .env("HERALD_NATS__PASSWORD__FILE", path(&password))
        .env("HERALD_ETCD__ENDPOINTS", etcd.client_url())
        .env("HERALD_ETCD__TLS__CA", path(&pki.ca()))
        .env("HERALD_ETCD__TLS__CERT", path(&pki.client_cert()))
        .env("HERALD_ETCD__TLS__KEY", path(&pki.client_key()))
        .env("HERALD_ETCD__LEASE_TTL", "3s")
        .env("HERALD_ADMIN__LISTEN", "127.0.0.1:0")
        .env("HERALD_GRPC__LISTEN", "127.0.0.1:0")
        .env("HERALD_TELEMETRY__LOG_FORMAT", "json")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let lines = Arc::new(Mutex::new(Vec::new()));
    {
        let lines = lines.clone();
        let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
        tokio::spawn(async move {
            while let Ok(Some(line)) = stderr.next_line().await {
                lines.lock().unwrap().push(line);
            }
        });
    }

    eventually(
        "the node says NATS refused it, twice (it keeps trying)",
        || async { logged(&lines, "NATS refused this node's credentials").len() >= 2 },
    )
    .await;
    let refusal = &logged(&lines, "NATS refused this node's credentials")[0];
    assert_eq!(refusal["credentials"], "user and password", "{refusal}");
    assert!(
        !lines
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.contains("wrong-password")),
        "the password is never logged"
    );
    let admin = logged(&lines, "admin port serving")[0]["admin_addr"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(http_status(&admin, "/healthz").await, 200, "alive");
    assert_ne!(http_status(&admin, "/readyz").await, 200, "not ready");
    assert!(client.list_nodes(Some("router")).await.unwrap().is_empty());

    // The operator fixes the mounted Secret; the next attempt reads it.
    std::fs::write(&password, "right-password\n").unwrap();
    eventually("the node registers through etcd over TLS", || async {
        !client.list_nodes(Some("router")).await.unwrap().is_empty()
    })
    .await;
    eventually("the node is ready", || async {
        http_status(&admin, "/readyz").await == 200
    })
    .await;
    assert!(child.try_wait().unwrap().is_none(), "still running");
}

#[tokio::test]
async fn check_config_passes_on_mounted_credentials_and_names_a_missing_one() {
    let dir = tempfile::tempdir().unwrap();
    let file = |name: &str, content: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, content).unwrap();
        path.to_string_lossy().into_owned()
    };
    let creds = file("nats.creds", "-----BEGIN NATS USER JWT-----\nsecret-jwt\n");
    let ca = file("ca.pem", "");
    let etcd_password = file("etcd-password", "secret-password");
    let node_token = file("node-token", "node-token\n");
    let check = |env: &[(&str, &str)]| {
        Command::new(HERALD)
            .arg("check-config")
            .env_remove("HERALD_CONFIG")
            .env("HERALD_NATS__CREDENTIALS", &creds)
            .env("HERALD_NATS__TLS__CA", &ca)
            .env("HERALD_ETCD__ENDPOINTS", "https://etcd-0:2379")
            .env("HERALD_ETCD__TLS__CA", &ca)
            .env("HERALD_ETCD__USER", "herald")
            .env("HERALD_ETCD__PASSWORD__FILE", &etcd_password)
            .env("HERALD_GRPC__TOKEN_FILE", &node_token)
            .envs(env.iter().copied())
            .output()
    };

    let output = check(&[]).await.unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{output:?}");
    assert!(
        stdout.contains(&format!("credentials = {creds:?}")),
        "{stdout}"
    );
    assert!(stdout.contains("[etcd.tls]"), "{stdout}");
    assert!(
        !stdout.contains("secret-jwt") && !stdout.contains("secret-password"),
        "references are printed, never secrets: {stdout}"
    );

    // Two kinds of NATS credentials, and a token variable that is not set.
    let output = check(&[("HERALD_NATS__TOKEN__ENV", "HERALD_TEST_UNSET_NATS_TOKEN")])
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(64), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("nats.token: only one kind of NATS credentials at a time"),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "nats.token.env: environment variable HERALD_TEST_UNSET_NATS_TOKEN is not set"
        ),
        "{stderr}"
    );
}
