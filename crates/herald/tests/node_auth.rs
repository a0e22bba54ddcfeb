//! NodeService authentication with real processes on real NATS and etcd: a node with the
//! node token (`grpc.token_file`) refuses anonymous and wrong-token `Info`,
//! `ListSessions` and `Drain` with UNAUTHENTICATED, and answers the control node, which
//! presents the token, for `ListSessions` and `DrainNode` (heraldctl's `get sessions`
//! and `drain`); a viewer's
//! drain is refused; the drain leaves an audit record; and a node whose NodeService would
//! listen beyond loopback without a node token refuses to start (exit 64).
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use herald_harness::{Backing, PATIENCE, seed};
use herald_proto::admin::v1 as admin_api;
use herald_proto::admin::v1::admin_service_client::AdminServiceClient;
use herald_proto::node::v1::node_service_client::NodeServiceClient;
use herald_proto::node::v1::{DrainRequest, InfoRequest, ListSessionsRequest};
use herald_rules::RulesClient;
use tokio::process::Command;
use tonic::Code;

const HERALD: &str = env!("CARGO_BIN_EXE_herald");
const NODE_TOKEN: &str = "node-token-5e2b91";
const ADMIN: &str = "ops-admin-token";
const VIEWER: &str = "ops-viewer-token";

/// Starts `herald <role>` as node `id` with `env` on top of the loopback settings, and
/// waits for its registration in etcd.
async fn spawn_role(
    role: &str,
    id: &str,
    nats: &herald_harness::NatsServer,
    etcd: &herald_harness::Etcd,
    client: &RulesClient,
    env: &[(&str, &std::ffi::OsStr)],
) -> (tokio::process::Child, herald_rules::NodeInfo) {
    herald_harness::node(HERALD, role, id)
        .nats(nats.client_url())
        .etcd(etcd.client_url())
        .envs(env.iter().copied())
        .spawn(client)
        .await
}

fn bearing<T>(message: T, token: Option<&str>) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    if let Some(token) = token {
        request
            .metadata_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
    }
    request
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_service_refuses_anonymous_calls_and_answers_the_control_node() {
    let Backing {
        nats,
        etcd,
        rules: client,
    } = Backing::start().await;
    let acme = serde_json::json!({ "quota": { "tps": 100 }, "window": 10 });
    seed::account(&client, "acme", "secret", acme).await;
    let dir = tempfile::tempdir().unwrap();
    let node_token = dir.path().join("node-token");
    std::fs::write(&node_token, format!("{NODE_TOKEN}\n")).unwrap();
    let tokens = dir.path().join("tokens");
    std::fs::write(
        &tokens,
        format!("admin ops {ADMIN}\nviewer grafana {VIEWER}\n"),
    )
    .unwrap();
    let guarded = [("HERALD_GRPC__TOKEN_FILE", node_token.as_os_str())];
    let (mut edge, edge_node) =
        spawn_role("edge", "edge-guarded", &nats, &etcd, &client, &guarded).await;
    let control_env = [
        ("HERALD_GRPC__TOKEN_FILE", node_token.as_os_str()),
        ("HERALD_CONTROL__TOKENS_FILE", tokens.as_os_str()),
    ];
    let (_control, control_node) = spawn_role(
        "control",
        "control-guarded",
        &nats,
        &etcd,
        &client,
        &control_env,
    )
    .await;
    let server = format!("http://{}", control_node.addresses["control"]);

    // Anonymous and wrong-token calls are refused, the drain included.
    let mut node = NodeServiceClient::connect(format!("http://{}", edge_node.addresses["grpc"]))
        .await
        .unwrap();
    for token in [None, Some("not-the-node-token")] {
        let info = node.info(bearing(InfoRequest {}, token)).await.unwrap_err();
        assert_eq!(info.code(), Code::Unauthenticated, "{info:?}");
        let sessions = node
            .list_sessions(bearing(ListSessionsRequest::default(), token))
            .await
            .unwrap_err();
        assert_eq!(sessions.code(), Code::Unauthenticated, "{sessions:?}");
        let drain = node
            .drain(bearing(DrainRequest {}, token))
            .await
            .unwrap_err();
        assert_eq!(drain.code(), Code::Unauthenticated, "{drain:?}");
    }
    assert!(edge.try_wait().unwrap().is_none(), "the edge drained");
    // The token itself is admitted.
    let info = node
        .info(bearing(InfoRequest {}, Some(NODE_TOKEN)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(info.node_id, "edge-guarded");

    // The control node presents the token: sessions of the named node (a refusal would
    // fail the call), then a viewer's drain refused and an admin's done.
    let mut admin = AdminServiceClient::connect(server).await.unwrap();
    admin
        .list_sessions(bearing(
            admin_api::ListSessionsRequest {
                node_id: "edge-guarded".into(),
                account_id: String::new(),
            },
            Some(VIEWER),
        ))
        .await
        .unwrap();
    let drain = admin_api::DrainNodeRequest {
        node_id: "edge-guarded".into(),
    };
    let refused = admin
        .drain_node(bearing(drain.clone(), Some(VIEWER)))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");
    assert!(
        edge.try_wait().unwrap().is_none(),
        "the viewer drained the edge"
    );
    let drained = admin
        .drain_node(bearing(drain, Some(ADMIN)))
        .await
        .unwrap()
        .into_inner();
    assert!(drained.draining);
    let exit = tokio::time::timeout(PATIENCE, edge.wait())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(exit.code(), Some(0));

    // The drain is in the audit log, and the refused one is not.
    let records = admin
        .list_audit(bearing(
            admin_api::ListAuditRequest { limit: 0 },
            Some(VIEWER),
        ))
        .await
        .unwrap()
        .into_inner()
        .records;
    assert_eq!(records.len(), 1, "{records:?}");
    let record = &records[0];
    assert_eq!(
        (
            record.who.as_str(),
            record.role.as_str(),
            record.action.as_str(),
            record.kind.as_str(),
            record.id.as_str()
        ),
        ("token:ops", "admin", "drain", "node", "edge-guarded")
    );
}

#[tokio::test]
async fn a_node_service_beyond_loopback_without_a_node_token_refuses_to_start() {
    // No NATS nor etcd: a node that started would wait for them, and this would time out.
    let output = Command::new(HERALD)
        .arg("router")
        .env_remove("HERALD_CONFIG")
        .env("HERALD_GRPC__LISTEN", "0.0.0.0:0")
        .env("HERALD_ADMIN__LISTEN", "127.0.0.1:0")
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(PATIENCE, output)
        .await
        .expect("the node refused to start rather than waiting for NATS")
        .unwrap();
    assert_eq!(output.status.code(), Some(64), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("grpc.token_file"), "{stderr}");
    // `herald check-config` says the same of what the roles would load.
    let checked = Command::new(HERALD)
        .arg("check-config")
        .env_remove("HERALD_CONFIG")
        .output()
        .await
        .unwrap();
    assert_eq!(checked.status.code(), Some(64), "{checked:?}");
    assert!(String::from_utf8_lossy(&checked.stderr).contains("grpc.token_file"));
    let token = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(token.path(), "a-node-token\n").unwrap();
    let checked = Command::new(HERALD)
        .arg("check-config")
        .env_remove("HERALD_CONFIG")
        .env("HERALD_GRPC__TOKEN_FILE", token.path())
        .output()
        .await
        .unwrap();
    assert!(checked.status.success(), "{checked:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_service_over_tls_answers_the_control_node_and_no_one_in_clear() {
    let Backing {
        nats,
        etcd,
        rules: client,
    } = Backing::start().await;
    let pki = herald_harness::TestPki::generate().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let node_token = dir.path().join("node-token");
    std::fs::write(&node_token, format!("{NODE_TOKEN}\n")).unwrap();
    let tokens = dir.path().join("tokens");
    std::fs::write(&tokens, format!("admin ops {ADMIN}\n")).unwrap();
    let (cert, key, ca) = (pki.server_cert(), pki.server_key(), pki.ca());
    // The harness's server certificate names localhost (and 127.0.0.1).
    let node_tls = [
        ("HERALD_GRPC__TOKEN_FILE", node_token.as_os_str()),
        ("HERALD_GRPC__TLS__CERT", cert.as_os_str()),
        ("HERALD_GRPC__TLS__KEY", key.as_os_str()),
        ("HERALD_GRPC__TLS__CA", ca.as_os_str()),
        ("HERALD_GRPC__TLS__SERVER_NAME", "localhost".as_ref()),
    ];
    let (_edge, edge_node) = spawn_role("edge", "edge-tls", &nats, &etcd, &client, &node_tls).await;
    assert!(
        !edge_node.addresses.contains_key("grpc"),
        "a node under TLS registers no clear-text address: {:?}",
        edge_node.addresses
    );
    let address = edge_node.addresses["grpc_tls"].clone();

    // In clear, even with the token, the node answers nothing.
    let clear = async {
        let mut node = NodeServiceClient::connect(format!("http://{address}")).await?;
        node.info(bearing(InfoRequest {}, Some(NODE_TOKEN)))
            .await
            .map_err(Into::<Box<dyn std::error::Error + Send + Sync>>::into)
    };
    assert!(
        tokio::time::timeout(PATIENCE, clear)
            .await
            .unwrap()
            .is_err(),
        "NodeService answered in clear"
    );
    // Over TLS, trusting the CA, it does.
    let channel = tonic::transport::Endpoint::from_shared(format!("https://{address}"))
        .unwrap()
        .tls_config(
            tonic::transport::ClientTlsConfig::new()
                .ca_certificate(tonic::transport::Certificate::from_pem(
                    std::fs::read(&ca).unwrap(),
                ))
                .domain_name("localhost"),
        )
        .unwrap()
        .connect()
        .await
        .unwrap();
    let info = NodeServiceClient::new(channel)
        .info(bearing(InfoRequest {}, Some(NODE_TOKEN)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(info.node_id, "edge-tls");

    // A control node without grpc.tls cannot check the node, and says so.
    let untrusting = [
        ("HERALD_GRPC__TOKEN_FILE", node_token.as_os_str()),
        ("HERALD_CONTROL__TOKENS_FILE", tokens.as_os_str()),
    ];
    let (_plain_control, plain_control) = spawn_role(
        "control",
        "control-plain",
        &nats,
        &etcd,
        &client,
        &untrusting,
    )
    .await;
    let sessions = admin_api::ListSessionsRequest {
        node_id: "edge-tls".into(),
        account_id: String::new(),
    };
    let mut plain_admin =
        AdminServiceClient::connect(format!("http://{}", plain_control.addresses["control"]))
            .await
            .unwrap();
    let refused = plain_admin
        .list_sessions(bearing(sessions.clone(), Some(ADMIN)))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");
    assert!(refused.message().contains("grpc.tls"), "{refused:?}");

    // A control node with it reaches the node over TLS.
    let mut control_env = node_tls.to_vec();
    control_env.push(("HERALD_CONTROL__TOKENS_FILE", tokens.as_os_str()));
    let (_control, control_node) = spawn_role(
        "control",
        "control-tls",
        &nats,
        &etcd,
        &client,
        &control_env,
    )
    .await;
    let mut admin =
        AdminServiceClient::connect(format!("http://{}", control_node.addresses["control"]))
            .await
            .unwrap();
    admin
        .list_sessions(bearing(sessions, Some(ADMIN)))
        .await
        .unwrap();
}
