//! SMPP over TLS against the edge: a bind and submit over TLS, the account's
//! TLS-required flag, and a certificate replaced on disk taking effect without a restart.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use herald_bus::{Bus, BusConfig};
use herald_config::EdgeConfig;
use herald_edge::tls::ReloadingAcceptor;
use herald_edge::{Edge, EdgeDeps};
use herald_rules::{Expected, Kind, PasswordHash, RulesClient, RulesStore, StoreConfig};
use herald_smpp::pdu::{Bind, SubmitSm};
use herald_smpp::session::{BindError, BindMode, SessionConfig, bind};
use herald_smpp::types::{Address, COctetString};
use herald_smpp::{CommandStatus, PduBody};
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

const PATIENCE: Duration = Duration::from_secs(30);

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
    _nats: herald_harness::NatsServer,
    _etcd: herald_harness::Etcd,
    plain_port: u16,
    tls_port: u16,
    _stop: oneshot::Sender<()>,
}

async fn start(cert_dir: &Path) -> TlsEdge {
    let nats = herald_harness::nats().run().await.unwrap();
    let etcd = herald_harness::etcd().run().await.unwrap();
    let store = StoreConfig::new([etcd.client_url()]);
    let client = RulesClient::connect(&store).await.unwrap();
    let account = serde_json::json!({
        "id": "bank",
        "password_hash": PasswordHash::hash("secret").unwrap(),
        "quota": { "tps": 100 },
        "tls_required": true,
    });
    client
        .put_json(
            Kind::Account,
            "bank",
            &account.to_string(),
            Expected::Absent,
        )
        .await
        .unwrap();
    // A carrier and a route for UK numbers: the edge refuses destinations no route takes.
    let carrier = serde_json::json!({
        "id": "sim", "host": "127.0.0.1", "port": 2776, "system_id": "herald",
        "password": { "env": "HERALD_SIM_PASSWORD" }, "throughput": { "tps": 1000 },
    });
    client
        .put_json(Kind::Carrier, "sim", &carrier.to_string(), Expected::Any)
        .await
        .unwrap();
    let route = serde_json::json!({
        "id": "uk", "priority": 10, "match": { "destination_prefixes": ["44"] },
        "action": { "type": "carrier", "carrier": "sim" },
    });
    client
        .put_json(Kind::Route, "uk", &route.to_string(), Expected::Any)
        .await
        .unwrap();
    let rules = RulesStore::connect(store).await.unwrap();
    let bus = Bus::connect(BusConfig::local(nats.client_url()))
        .await
        .unwrap();
    let edge = Edge::new(
        EdgeConfig {
            failed_bind_delay: Duration::from_millis(10),
            ..EdgeConfig::default()
        },
        EdgeDeps {
            bus,
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
    let plain = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let secure = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (plain_port, tls_port) = (
        plain.local_addr().unwrap().port(),
        secure.local_addr().unwrap().port(),
    );
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let (tx, _) = tokio::sync::broadcast::channel::<()>(1);
        let mut a = tx.subscribe();
        let mut b = tx.subscribe();
        let plain = edge.serve(plain, async move {
            let _ = a.recv().await;
        });
        let secure = edge.serve_tls(secure, acceptor, async move {
            let _ = b.recv().await;
        });
        let signal = async move {
            let _ = stopped.await;
            let _ = tx.send(());
        };
        let _ = tokio::join!(plain, secure, signal);
        reloader.abort();
    });
    TlsEdge {
        _nats: nats,
        _etcd: etcd,
        plain_port,
        tls_port,
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
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let io = TcpStream::connect(("127.0.0.1", edge.tls_port))
            .await
            .unwrap();
        if client_config(&second)
            .connect(name.clone(), io)
            .await
            .is_ok()
        {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the new certificate never served"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The session made with the first certificate carries on.
    let resp = session.request(PduBody::EnquireLink).await.unwrap();
    assert_eq!(resp.command_status, CommandStatus::ESME_ROK);
}
