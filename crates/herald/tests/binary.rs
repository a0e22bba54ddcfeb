//! The `herald` binary as an operator runs it: a bad config exits 64 before binding
//! anything; `herald edge` against real NATS and etcd registers itself, serves SMPP and
//! the admin port, and on SIGTERM drains, deregisters and exits 0.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::process::Stdio;
use std::time::Duration;

use bytes::Bytes;
use herald_rules::{Expected, Kind, PasswordHash, RulesClient, StoreConfig};
use herald_smpp::pdu::{Bind, SubmitSm};
use herald_smpp::session::{BindMode, SessionConfig, bind};
use herald_smpp::types::{Address, COctetString};
use herald_smpp::{CommandStatus, PduBody};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::process::Command;

const HERALD: &str = env!("CARGO_BIN_EXE_herald");
const PATIENCE: Duration = Duration::from_secs(30);

#[tokio::test]
async fn a_bad_config_exits_64_and_names_every_problem() {
    let output = Command::new(HERALD)
        .args(["--set", "edge.max_window=0", "--set", "nats.urls=", "edge"])
        .env_remove("HERALD_CONFIG")
        .output()
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(64));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("edge.max_window"), "{stderr}");
    assert!(stderr.contains("nats.urls"), "{stderr}");
}

#[tokio::test]
async fn an_unknown_key_in_the_file_is_refused_with_its_name() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("herald.toml");
    std::fs::write(&file, "[edge]\nsmpp_lisen = \"0.0.0.0:2775\"\n").unwrap();
    let output = Command::new(HERALD)
        .arg("--config")
        .arg(&file)
        .arg("check-config")
        .output()
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&output.stderr).contains("smpp_lisen"));
}

#[tokio::test]
async fn herald_edge_registers_serves_and_drains_on_sigterm() {
    let nats = herald_harness::nats().run().await.unwrap();
    let etcd = herald_harness::etcd().run().await.unwrap();
    let store = StoreConfig::new([etcd.client_url()]);
    let client = RulesClient::connect(&store).await.unwrap();
    let account = serde_json::json!({
        "id": "acme",
        "password_hash": PasswordHash::hash("secret").unwrap(),
        "quota": { "tps": 100 },
    });
    client
        .put_json(
            Kind::Account,
            "acme",
            &account.to_string(),
            Expected::Absent,
        )
        .await
        .unwrap();

    let mut child = Command::new(HERALD)
        .arg("edge")
        .env("HERALD_NODE__ID", "edge-binary-test")
        .env("HERALD_NATS__URLS", nats.client_url())
        .env("HERALD_ETCD__ENDPOINTS", etcd.client_url())
        .env("HERALD_ETCD__LEASE_TTL", "3s")
        .env("HERALD_ADMIN__LISTEN", "127.0.0.1:0")
        .env("HERALD_GRPC__LISTEN", "127.0.0.1:0")
        .env("HERALD_CONTROL__LISTEN", "127.0.0.1:0")
        .env("HERALD_EDGE__SMPP_LISTEN", "127.0.0.1:0")
        .env("HERALD_TELEMETRY__LOG_FORMAT", "json")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .unwrap();

    // The node's registration says where it listens.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let node = loop {
        let nodes = client.list_nodes(Some("edge")).await.unwrap();
        if let Some(node) = nodes.into_iter().find(|n| n.id == "edge-binary-test") {
            break node;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "edge never registered"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let smpp = node.addresses["smpp"].clone();
    let admin = node.addresses["admin"].clone();
    assert_eq!(node.version, env!("CARGO_PKG_VERSION"));

    let (status, body) = http_get(&admin, "/readyz").await;
    assert_eq!(status, 200, "{body}");
    let (status, metrics) = http_get(&admin, "/metrics").await;
    assert_eq!(status, 200);
    assert!(metrics.contains("herald_node_info"), "{metrics}");

    let io = TcpStream::connect(&smpp).await.unwrap();
    let request = Bind {
        system_id: COctetString::from("acme"),
        password: COctetString::from("secret"),
        interface_version: 0x34,
        ..Bind::default()
    };
    let (session, _inbox, _) = bind(io, SessionConfig::default(), BindMode::Transmitter, request)
        .await
        .unwrap();
    let resp = session
        .request(PduBody::SubmitSm(SubmitSm {
            source: Address::international("447700900000"),
            dest: Address::international("447700900001"),
            short_message: Bytes::from_static(b"through the binary"),
            ..SubmitSm::default()
        }))
        .await
        .unwrap();
    assert_eq!(resp.command_status, CommandStatus::ESME_ROK);

    // SIGTERM: the session is unbound by the edge, the process exits 0 and deregisters.
    let pid = child.id().unwrap();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    assert!(killed.unwrap().success());
    let closed = tokio::time::timeout(PATIENCE, session.closed())
        .await
        .unwrap();
    assert_eq!(closed, herald_smpp::session::CloseReason::PeerUnbound);
    let exit = tokio::time::timeout(PATIENCE, child.wait())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(exit.code(), Some(0));
    let nodes = client.list_nodes(Some("edge")).await.unwrap();
    assert!(
        nodes.iter().all(|n| n.id != "edge-binary-test"),
        "{nodes:?}"
    );
}

async fn http_get(addr: &str, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    (status, body)
}
