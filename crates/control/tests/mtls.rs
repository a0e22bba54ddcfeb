//! The admin API over TLS, on real etcd, called by the real `heraldctl` binary: a client
//! certificate from the configured client CA authenticates a call without a token; a call
//! with neither a certificate nor a token is refused; a certificate from another CA, a
//! plain-text client and a server certificate the client does not trust all fail.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use herald_config::{AdminRole, ControlConfig, ControlTlsConfig};
use herald_control::Control;

use crate::common::Served;
use herald_harness::seed;
use herald_rules::{RulesClient, RulesStore, StoreConfig};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};

const TOKEN: &str = "mtls-test-token";

/// A certificate authority for the test.
fn authority(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}

/// A certificate `ca` signs for `names`, written to `<dir>/<file>.crt` and `.key`.
fn issue(
    ca: &CertifiedIssuer<'static, KeyPair>,
    names: &[&str],
    usage: ExtendedKeyUsagePurpose,
    dir: &Path,
    file: &str,
) -> (PathBuf, PathBuf) {
    let key = KeyPair::generate().unwrap();
    let mut params =
        CertificateParams::new(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>()).unwrap();
    params.distinguished_name.push(DnType::CommonName, file);
    params.extended_key_usages = vec![usage];
    let cert = params.signed_by(&key, ca).unwrap();
    let (cert_path, key_path) = (
        dir.join(format!("{file}.crt")),
        dir.join(format!("{file}.key")),
    );
    std::fs::write(&cert_path, cert.pem()).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    (cert_path, key_path)
}

fn write_ca(ca: &CertifiedIssuer<'static, KeyPair>, dir: &Path, file: &str) -> PathBuf {
    let path = dir.join(file);
    std::fs::write(&path, ca.pem()).unwrap();
    path
}

/// Runs `heraldctl get accounts -o json` against `server` with `args` in front.
async fn get_accounts(server: &str, args: &[&str]) -> Output {
    common::heraldctl()
        .arg("--server")
        .arg(server)
        .args(args)
        .args(["get", "accounts", "-o", "json"])
        .output()
        .await
        .unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The listed account ids of a successful `get accounts -o json`.
fn listed(output: &Output) -> Vec<String> {
    assert!(output.status.success(), "{output:?}");
    let listed: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    listed["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_owned())
        .collect()
}

fn refused(output: &Output) -> String {
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    stderr(output)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_certificate_or_a_token_authenticates_and_nothing_else_does() {
    let etcd = herald_harness::etcd().run().await.unwrap();
    let store_config = StoreConfig::new([etcd.client_url()]);
    let client = RulesClient::connect(&store_config).await.unwrap();
    let rules = RulesStore::connect(store_config).await.unwrap();
    let acme = serde_json::json!({ "quota": { "tps": 100 }, "window": 10 });
    seed::account(&client, "acme", "secret", acme).await;

    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let server_ca = authority("herald test server CA");
    let client_ca = authority("herald test client CA");
    let rogue_ca = authority("someone else's CA");
    let (server_cert, server_key) = issue(
        &server_ca,
        &["127.0.0.1", "control.herald.test"],
        ExtendedKeyUsagePurpose::ServerAuth,
        d,
        "control",
    );
    let (ops_cert, ops_key) = issue(
        &client_ca,
        &["ops.herald.test"],
        ExtendedKeyUsagePurpose::ClientAuth,
        d,
        "ops",
    );
    let (rogue_cert, rogue_key) = issue(
        &rogue_ca,
        &["ops.herald.test"],
        ExtendedKeyUsagePurpose::ClientAuth,
        d,
        "rogue",
    );
    let (grafana_cert, grafana_key) = issue(
        &client_ca,
        &["grafana.herald.test"],
        ExtendedKeyUsagePurpose::ClientAuth,
        d,
        "grafana",
    );
    let server_ca_file = write_ca(&server_ca, d, "server-ca.crt");
    let client_ca_file = write_ca(&client_ca, d, "client-ca.crt");
    let rogue_ca_file = write_ca(&rogue_ca, d, "rogue-ca.crt");
    let tokens = d.join("tokens");
    std::fs::write(&tokens, format!("{TOKEN}\n")).unwrap();

    let config = ControlConfig {
        tokens_file: Some(tokens),
        tls: Some(ControlTlsConfig {
            cert: server_cert,
            key: server_key,
            client_ca: Some(client_ca_file),
            client_roles: [("grafana".to_owned(), AdminRole::Viewer)].into(),
            client_default_role: AdminRole::Admin,
        }),
        ..ControlConfig::default()
    };
    let served = Served::start(&config, common::deps(&client, rules, None)).await;
    let addr = served.addr;
    let https = format!("https://{addr}");

    let ca = server_ca_file.to_str().unwrap();
    let (ops_cert, ops_key) = (ops_cert.to_str().unwrap(), ops_key.to_str().unwrap());

    // A client certificate from the client CA, and no token: admitted.
    let out = get_accounts(&https, &["--ca", ca, "--cert", ops_cert, "--key", ops_key]).await;
    assert_eq!(listed(&out), ["acme"]);
    // The same with the server checked under another of its names.
    let out = get_accounts(
        &https,
        &[
            "--ca",
            ca,
            "--cert",
            ops_cert,
            "--key",
            ops_key,
            "--tls-server-name",
            "control.herald.test",
        ],
    )
    .await;
    assert_eq!(listed(&out), ["acme"]);

    // A certificate's role comes from its common name: `grafana` is a viewer (it reads,
    // and may not drain), `ops` is not listed and gets the default, admin (its drain of
    // an unknown node passes the role check and finds no node).
    let (grafana_cert, grafana_key) = (
        grafana_cert.to_str().unwrap(),
        grafana_key.to_str().unwrap(),
    );
    let viewer = ["--ca", ca, "--cert", grafana_cert, "--key", grafana_key];
    assert_eq!(listed(&get_accounts(&https, &viewer).await), ["acme"]);
    let drain = |args: &[&str]| {
        common::heraldctl()
            .arg("--server")
            .arg(&https)
            .args(args)
            .args(["drain", "no-such-node"])
            .output()
    };
    let error = refused(&drain(&viewer).await.unwrap());
    assert!(
        error.contains("permission denied") && error.contains("cert:CN=grafana"),
        "{error}"
    );
    let error = refused(
        &drain(&["--ca", ca, "--cert", ops_cert, "--key", ops_key])
            .await
            .unwrap(),
    );
    assert!(error.contains("not found"), "{error}");

    // TLS with a token and no certificate: admitted.
    let out = get_accounts(&https, &["--ca", ca, "--token", TOKEN]).await;
    assert_eq!(listed(&out), ["acme"]);

    // TLS with neither: refused by the API, with the reason.
    let error = refused(&get_accounts(&https, &["--ca", ca]).await);
    assert!(
        error.contains("unauthenticated") && error.contains("authorization"),
        "{error}"
    );
    // A wrong token without a certificate: refused.
    let error = refused(&get_accounts(&https, &["--ca", ca, "--token", "wrong"]).await);
    assert!(error.contains("unknown bearer token"), "{error}");

    // A certificate from a CA the control node does not trust: the handshake fails, even
    // with a valid token beside it (a client that offers a certificate must offer a good
    // one).
    let (rogue_cert, rogue_key) = (rogue_cert.to_str().unwrap(), rogue_key.to_str().unwrap());
    let out = get_accounts(
        &https,
        &[
            "--ca", ca, "--cert", rogue_cert, "--key", rogue_key, "--token", TOKEN,
        ],
    )
    .await;
    let error = refused(&out);
    // The server's refusal reaches a TLS 1.3 client after its handshake, so it shows as a
    // cut connection under the first call (or, when read early, as the alert itself).
    assert!(
        error.contains("refused the client certificate") || error.contains("alert"),
        "{error}"
    );
    assert!(out.stdout.is_empty(), "{out:?}");

    // The client does not trust a server certificate its --ca did not sign.
    let out = get_accounts(
        &https,
        &[
            "--ca",
            rogue_ca_file.to_str().unwrap(),
            "--cert",
            ops_cert,
            "--key",
            ops_key,
        ],
    )
    .await;
    refused(&out);
    assert!(out.stdout.is_empty(), "{out:?}");
    // Nor a name the certificate does not carry.
    let out = get_accounts(
        &https,
        &[
            "--ca",
            ca,
            "--token",
            TOKEN,
            "--tls-server-name",
            "elsewhere.test",
        ],
    )
    .await;
    refused(&out);
    assert!(out.stdout.is_empty(), "{out:?}");

    // Plain text against the TLS port gets nothing.
    let out = get_accounts(&format!("http://{addr}"), &["--token", TOKEN]).await;
    let error = refused(&out);
    assert!(error.contains("use an https:// URL"), "{error}");
    assert!(out.stdout.is_empty(), "{out:?}");

    // heraldctl's own mistakes are named before it connects.
    let error = refused(&get_accounts(&https, &["--token", TOKEN]).await);
    assert!(error.contains("needs --ca"), "{error}");
    let error = refused(&get_accounts(&format!("http://{addr}"), &["--ca", ca]).await);
    assert!(error.contains("https://"), "{error}");

    served.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_certificates_alone_admit_only_their_holders() {
    let etcd = herald_harness::etcd().run().await.unwrap();
    let store_config = StoreConfig::new([etcd.client_url()]);
    let client = RulesClient::connect(&store_config).await.unwrap();
    let rules = RulesStore::connect(store_config).await.unwrap();

    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ca = authority("herald test CA");
    let (server_cert, server_key) = issue(
        &ca,
        &["127.0.0.1"],
        ExtendedKeyUsagePurpose::ServerAuth,
        d,
        "control",
    );
    let (ops_cert, ops_key) = issue(
        &ca,
        &["ops.herald.test"],
        ExtendedKeyUsagePurpose::ClientAuth,
        d,
        "ops",
    );
    let ca_file = write_ca(&ca, d, "ca.crt");
    // No tokens file: client certificates are the only way in.
    let config = ControlConfig {
        tls: Some(ControlTlsConfig {
            cert: server_cert,
            key: server_key,
            client_ca: Some(ca_file.clone()),
            client_roles: Default::default(),
            client_default_role: AdminRole::Admin,
        }),
        ..ControlConfig::default()
    };
    let deps = common::deps(&client, rules, None);

    // A certificate, key or CA file that does not hold what it should stops the role at
    // start, named.
    let garbage = d.join("garbage.pem");
    std::fs::write(&garbage, "not PEM at all\n").unwrap();
    let tls = config.tls.clone().unwrap();
    for (broken, named) in [
        (
            ControlTlsConfig {
                cert: garbage.clone(),
                ..tls.clone()
            },
            &garbage,
        ),
        (
            ControlTlsConfig {
                key: server_cert_path(d),
                ..tls.clone()
            },
            &tls.cert,
        ),
        (
            ControlTlsConfig {
                client_ca: Some(garbage.clone()),
                ..tls.clone()
            },
            &garbage,
        ),
    ] {
        let config = ControlConfig {
            tls: Some(broken),
            ..ControlConfig::default()
        };
        match Control::new(&config, deps.clone()) {
            Err(herald_control::ControlError::Tls { path, .. }) => assert_eq!(&path, named),
            Err(other) => panic!("{other}"),
            Ok(_) => panic!("{config:?} was taken"),
        }
    }

    let served = Served::start(&config, deps).await;
    let https = format!("https://{}", served.addr);
    let ca = ca_file.to_str().unwrap();

    let out = get_accounts(
        &https,
        &[
            "--ca",
            ca,
            "--cert",
            ops_cert.to_str().unwrap(),
            "--key",
            ops_key.to_str().unwrap(),
        ],
    )
    .await;
    assert!(listed(&out).is_empty());

    let error = refused(&get_accounts(&https, &["--ca", ca, "--token", "anything"]).await);
    assert!(
        error.contains("unauthenticated") && error.contains("client certificate"),
        "{error}"
    );

    served.stop().await;
}

/// Where [`issue`] wrote the `control` certificate: a PEM file that is no key.
fn server_cert_path(dir: &Path) -> PathBuf {
    dir.join("control.crt")
}
