//! SMPP and the HTTP submit API over TLS against the edge: a bind and submit over TLS, the
//! account's TLS-required flag, a certificate replaced on disk taking effect without a
//! restart, and Python's HTTPS client (OpenSSL) posting to the HTTPS listener.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use herald_bus::Bus;
use herald_config::EdgeConfig;
use herald_edge::tls::ReloadingAcceptor;
use herald_edge::{Edge, EdgeDeps};
use herald_harness::{Backing, eventually, seed};
use herald_smpp::pdu::{Bind, SubmitSm};
use herald_smpp::session::{BindError, BindMode, SessionConfig, bind};
use herald_smpp::types::{Address, COctetString};
use herald_smpp::{CommandStatus, PduBody};
use rustls::pki_types::{CertificateDer, ServerName};
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

/// A fresh self-signed certificate for 127.0.0.1 written to `dir`; its DER.
fn write_certificate(dir: &Path) -> CertificateDer<'static> {
    let certified =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()]).unwrap();
    // Write the key first and the certificate last, as a renewal tool would: the pair is
    // complete once the certificate changes.
    std::fs::write(dir.join("key.pem"), certified.signing_key.serialize_pem()).unwrap();
    std::fs::write(dir.join("cert.pem"), certified.cert.pem()).unwrap();
    certified.cert.der().clone()
}

fn client_config(trusted: &CertificateDer<'static>) -> tokio_rustls::TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(trusted.clone()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

struct TlsEdge {
    _backing: Backing,
    plain_port: u16,
    tls_port: u16,
    http_port: u16,
    https_port: u16,
    bus: Bus,
    _stop: oneshot::Sender<()>,
}

async fn start(cert_dir: &Path) -> TlsEdge {
    let backing = Backing::start().await;
    let bank = json!({ "quota": { "tps": 100 }, "tls_required": true });
    seed::account(&backing.rules, "bank", "secret", bank).await;
    // A carrier and a route for UK numbers: the edge refuses destinations no route takes.
    seed::carrier(&backing.rules, seed::NO_CARRIER_PORT, json!({})).await;
    seed::route(&backing.rules, "uk", &["44"]).await;
    let rules = backing.rules_store().await;
    let bus = backing.bus().await;
    let edge = Edge::new(
        EdgeConfig {
            failed_bind_delay: Duration::from_millis(10),
            ..EdgeConfig::default()
        },
        EdgeDeps {
            bus: bus.clone(),
            rules,
            node_id: "edge-tls".into(),
            session_slots: None,
            route_time_zone: herald_rules::model::UtcOffset::UTC,
        },
    )
    .await
    .unwrap();
    let acceptor =
        ReloadingAcceptor::load(cert_dir.join("cert.pem"), cert_dir.join("key.pem")).unwrap();
    let reloader = acceptor.watch(Duration::from_millis(100));
    let port = |l: &TcpListener| l.local_addr().unwrap().port();
    let plain = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let secure = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let http = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let https = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (plain_port, tls_port, http_port, https_port) =
        (port(&plain), port(&secure), port(&http), port(&https));
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let (tx, _) = tokio::sync::broadcast::channel::<()>(1);
        let until = |mut rx: tokio::sync::broadcast::Receiver<()>| async move {
            let _ = rx.recv().await;
        };
        let plain = edge.serve(plain, until(tx.subscribe()));
        let secure = edge.serve_tls(secure, acceptor.clone(), until(tx.subscribe()));
        let http = edge.serve_http(http, until(tx.subscribe()));
        let https = edge.serve_https(https, acceptor, until(tx.subscribe()));
        let signal = async move {
            let _ = stopped.await;
            let _ = tx.send(());
        };
        let _ = tokio::join!(plain, secure, http, https, signal);
        reloader.abort();
    });
    TlsEdge {
        _backing: backing,
        plain_port,
        tls_port,
        http_port,
        https_port,
        bus,
        _stop: stop,
    }
}

fn bind_request() -> Bind {
    Bind {
        system_id: COctetString::from("bank"),
        password: COctetString::from("secret"),
        interface_version: 0x34,
        ..Bind::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_binds_submit_and_a_renewed_certificate_applies_without_restart() {
    let dir = tempfile::tempdir().unwrap();
    let first = write_certificate(dir.path());
    let edge = start(dir.path()).await;

    // Over plain TCP, an account that requires TLS is refused.
    let io = TcpStream::connect(("127.0.0.1", edge.plain_port))
        .await
        .unwrap();
    let refused = bind(
        io,
        SessionConfig::default(),
        BindMode::Transmitter,
        bind_request(),
    )
    .await;
    assert!(matches!(
        refused,
        Err(BindError::Rejected(CommandStatus::ESME_RBINDFAIL))
    ));

    // Over TLS it binds and submits.
    let io = TcpStream::connect(("127.0.0.1", edge.tls_port))
        .await
        .unwrap();
    let name = ServerName::try_from("127.0.0.1").unwrap();
    let io = client_config(&first)
        .connect(name.clone(), io)
        .await
        .unwrap();
    let (session, _inbox, _) = bind(
        io,
        SessionConfig::default(),
        BindMode::Transmitter,
        bind_request(),
    )
    .await
    .unwrap();
    let resp = session
        .request(PduBody::SubmitSm(SubmitSm {
            source: Address::international("447700900000"),
            dest: Address::international("447700900001"),
            short_message: Bytes::from_static(b"over TLS"),
            ..SubmitSm::default()
        }))
        .await
        .unwrap();
    assert_eq!(resp.command_status, CommandStatus::ESME_ROK);

    // A renewed certificate: new connections get it, no restart.
    let second = write_certificate(dir.path());
    eventually("the new certificate served", || async {
        let io = TcpStream::connect(("127.0.0.1", edge.tls_port))
            .await
            .unwrap();
        let connected = client_config(&second).connect(name.clone(), io).await;
        connected.is_ok()
    })
    .await;
    // The session made with the first certificate carries on.
    let resp = session.request(PduBody::EnquireLink).await.unwrap();
    assert_eq!(resp.command_status, CommandStatus::ESME_ROK);
}

/// One request by Python's `http.client` (HTTPS through its `ssl` module, which is
/// OpenSSL) as the `bank` account; the status and the JSON body.
async fn python_request(
    scheme: &str,
    port: u16,
    trusted: &Path,
    method: &str,
    path: &str,
    body: Option<&serde_json::Value>,
) -> (u16, serde_json::Value) {
    const CLIENT: &str = r#"
import base64, http.client, json, ssl, sys
scheme, port, cafile, method, path, body = sys.argv[1:7]
if scheme == "https":
    context = ssl.create_default_context(cafile=cafile)
    conn = http.client.HTTPSConnection("127.0.0.1", int(port), context=context, timeout=30)
else:
    conn = http.client.HTTPConnection("127.0.0.1", int(port), timeout=30)
headers = {"Authorization": "Basic " + base64.b64encode(b"bank:secret").decode()}
if body:
    headers["Content-Type"] = "application/json"
conn.request(method, path, body=body or None, headers=headers)
response = conn.getresponse()
print(json.dumps({"status": response.status, "body": json.loads(response.read() or b"null")}))
"#;
    let body = body.map(ToString::to_string).unwrap_or_default();
    let out = tokio::process::Command::new("python3")
        .args(["-c", CLIENT, scheme, &port.to_string()])
        .arg(trusted)
        .args([method, path, &body])
        .output()
        .await
        .expect("python3 runs (scripts/install-deps.sh installs it)");
    assert!(out.status.success(), "{out:?}");
    let answer: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    (
        u16::try_from(answer["status"].as_u64().unwrap()).unwrap(),
        answer["body"].clone(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_that_requires_tls_submits_over_https_and_is_refused_over_http() {
    let dir = tempfile::tempdir().unwrap();
    write_certificate(dir.path());
    let cert = dir.path().join("cert.pem");
    let edge = start(dir.path()).await;
    let message = serde_json::json!({ "to": "+447700900001", "text": "over HTTPS" });

    // Plain HTTP: the account requires TLS, so 403, and nothing is accepted.
    let (status, body) = python_request(
        "http",
        edge.http_port,
        &cert,
        "POST",
        "/v1/messages",
        Some(&message),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["status"], "ESME_RBINDFAIL", "{body}");

    // A client that connects and never starts its handshake holds up nobody: each
    // handshake runs on its own.
    let _silent = TcpStream::connect(("127.0.0.1", edge.https_port))
        .await
        .unwrap();

    // HTTPS: accepted, on the bus, and its status can be asked for over HTTPS (none is
    // recorded yet: no router runs here, so the answer is "unknown", not "forbidden").
    assert_eq!(messages_on_the_bus(&edge.bus).await, 0);
    let (status, body) = python_request(
        "https",
        edge.https_port,
        &cert,
        "POST",
        "/v1/messages",
        Some(&message),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(messages_on_the_bus(&edge.bus).await, 1);
    let id = body["messages"][0]["ids"][0].as_str().unwrap().to_owned();
    let (status, body) = python_request(
        "https",
        edge.https_port,
        &cert,
        "GET",
        &format!("/v1/messages/{id}"),
        None,
    )
    .await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"]["status"], "ESME_RINVMSGID", "{body}");

    // A client that does not trust the certificate refuses the server (Python's check;
    // the server's part is to present the certificate it was given).
    let other = tempfile::tempdir().unwrap();
    write_certificate(other.path());
    let refused = tokio::process::Command::new("python3")
        .args([
            "-c",
            "import http.client, ssl, sys\n\
             c = http.client.HTTPSConnection('127.0.0.1', int(sys.argv[1]), \
             context=ssl.create_default_context(cafile=sys.argv[2]), timeout=30)\n\
             c.request('GET', '/v1/messages/x')",
            &edge.https_port.to_string(),
        ])
        .arg(other.path().join("cert.pem"))
        .output()
        .await
        .unwrap();
    assert!(!refused.status.success(), "{refused:?}");
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("CERTIFICATE_VERIFY_FAILED"),
        "{refused:?}"
    );
}

async fn messages_on_the_bus(bus: &Bus) -> u64 {
    let mut stream = bus
        .jetstream()
        .get_stream(herald_bus::StreamKind::Mt.name())
        .await
        .unwrap();
    stream.info().await.unwrap().state.messages
}
