//! Validation: every problem at once, each with its key.

#![allow(clippy::unwrap_used, reason = "tests")]

use std::time::Duration;

use herald_config::{
    Config, ControlTlsConfig, EdgeTlsConfig, EtcdTlsConfig, NatsTlsConfig, SecretRef, UtcOffset,
};

fn keys(config: &Config) -> Vec<String> {
    config
        .validate()
        .unwrap_err()
        .problems()
        .iter()
        .map(|p| p.key.clone())
        .collect()
}

#[test]
fn defaults_are_valid() {
    Config::default().validate().unwrap();
}

#[test]
fn an_idempotency_key_outlives_any_request() {
    let mut config = Config::default();
    config.nats.idempotency_ttl = Duration::from_secs(60);
    assert_eq!(keys(&config), ["nats.idempotency_ttl"]);
    config.nats.idempotency_ttl = Duration::from_secs(600);
    config.validate().unwrap();
}

#[test]
fn binds_may_be_dropped_as_soon_as_etcd_is_lost() {
    let mut config = Config::default();
    assert_eq!(
        config.connector.etcd_unreachable_grace,
        Duration::from_secs(600)
    );
    // Zero is the strictest setting, not a mistake: binds close with the lease.
    config.connector.etcd_unreachable_grace = Duration::ZERO;
    config.validate().unwrap();
}

#[test]
fn several_problems_are_collected_at_once() {
    let mut config = Config::default();
    config.nats.urls.clear();
    config.edge.max_window = 0;
    config.edge.enquire_link_interval = Duration::from_secs(300);
    config.edge.tls = Some(EdgeTlsConfig {
        listen: "0.0.0.0:3550".parse().unwrap(),
        cert: "/nonexistent/edge.crt".into(),
        key: "/nonexistent/edge.key".into(),
        http_listen: None,
    });
    config.etcd.prefix = "herald".into();
    config.router.workers = 0;
    config.control.tls = Some(ControlTlsConfig {
        cert: "/nonexistent/control.crt".into(),
        key: "/nonexistent/control.key".into(),
        client_ca: Some("/nonexistent/clients.pem".into()),
        client_roles: Default::default(),
        client_default_role: Default::default(),
    });
    config.grpc.token_file = Some("/nonexistent/node-token".into());
    config.control.audit_retention = Duration::from_secs(60);

    let errors = config.validate().unwrap_err();
    let text = errors.to_string();
    for expected in [
        "nats.urls: empty",
        "edge.max_window: must be at least 1",
        "edge.enquire_link_interval: must be shorter than edge.inactivity_timeout",
        "edge.tls.cert: file /nonexistent/edge.crt does not exist",
        "edge.tls.key: file /nonexistent/edge.key does not exist",
        "etcd.prefix:",
        "router.workers: must be at least 1",
        "control.tls.cert: file /nonexistent/control.crt does not exist",
        "control.tls.key: file /nonexistent/control.key does not exist",
        "control.tls.client_ca: file /nonexistent/clients.pem does not exist",
        "grpc.token_file: file /nonexistent/node-token does not exist",
        "control.audit_retention: under an hour",
    ] {
        assert!(text.contains(expected), "{expected:?} not in:\n{text}");
    }
    assert_eq!(errors.len(), 12, "{text}");
}

#[test]
fn two_listeners_on_one_address_clash() {
    let mut config = Config::default();
    config.control.listen = "127.0.0.1:9090".parse().unwrap(); // admin has 0.0.0.0:9090
    config.edge.http_listen = Some("0.0.0.0:2775".parse().unwrap()); // edge.smpp_listen
    assert_eq!(keys(&config), ["edge.http_listen", "control.listen"]);

    // Port 0 asks the OS for a free port: any number of listeners may.
    let mut config = Config::default();
    config.admin.listen = "127.0.0.1:0".parse().unwrap();
    config.grpc.listen = "127.0.0.1:0".parse().unwrap();
    config.validate().unwrap();
    // Same port on two distinct IPs is fine.
    config.control.listen = "127.0.0.2:2775".parse().unwrap();
    config.edge.smpp_listen = "127.0.0.1:2775".parse().unwrap();
    config.validate().unwrap();
}

#[test]
fn urls_endpoints_and_names_are_checked() {
    let mut config = Config::default();
    config.nats.urls = vec!["nats://a:4222".into(), "http://b:4222".into()];
    config.etcd.endpoints = vec!["e1:2379".into()];
    config.telemetry.otlp_endpoint = Some("collector:4317".into());
    config.node.id = Some("edge/1".into());
    config.nats.replicas = 7;
    config.nats.partitions = 0;
    config.nats.partitions_also_read = Some(65);
    config.etcd.lease_ttl = Duration::from_millis(1500);
    config.connector.reconnect_backoff_min = Duration::from_secs(120);
    assert_eq!(
        keys(&config),
        [
            "node.id",
            "nats.urls[1]",
            "nats.replicas",
            "nats.partitions",
            "nats.partitions_also_read",
            "etcd.endpoints[0]",
            "etcd.lease_ttl",
            "telemetry.otlp_endpoint",
            "connector.reconnect_backoff_min",
        ]
    );
}

#[test]
fn utc_offsets_parse_and_print() {
    for (text, minutes, shown) in [
        ("Z", 0, "+00:00"),
        ("+05:30", 330, "+05:30"),
        ("-03:00", -180, "-03:00"),
        ("+14:00", 840, "+14:00"),
    ] {
        let offset: UtcOffset = text.parse().unwrap();
        assert_eq!(offset.minutes(), minutes);
        assert_eq!(offset.to_string(), shown);
    }
    for bad in ["", "5", "+5:00", "+15:00", "+01:60", "-12:01", "+aa:00"] {
        assert!(bad.parse::<UtcOffset>().is_err(), "{bad:?}");
    }
}

#[test]
fn one_kind_of_nats_credentials_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("secret");
    std::fs::write(&path, "x").unwrap();
    let file = || SecretRef::File(path.clone());

    let mut config = Config::default();
    config.nats.credentials = Some(file());
    config.nats.token = Some(file());
    config.nats.user = Some("herald".into());
    config.nats.password = Some(file());
    let errors = config.validate().unwrap_err();
    let text = errors.to_string();
    assert_eq!(keys(&config), ["nats.user", "nats.token"], "{text}");
    assert!(
        text.contains(
            "nats.token: only one kind of NATS credentials at a time: nats.credentials is set too"
        ),
        "{text}"
    );

    let mut config = Config::default();
    config.nats.user = Some("herald".into());
    assert_eq!(keys(&config), ["nats.user"], "a user needs a password");
    config.nats.user = None;
    config.nats.password = Some(file());
    assert_eq!(keys(&config), ["nats.password"], "a password needs a user");
    config.nats.password = None;
    config.nats.nkey_seed = Some(SecretRef::File("/nonexistent/seed".into()));
    assert_eq!(
        keys(&config),
        ["nats.nkey_seed"],
        "the seed file must exist"
    );
    config.nats.nkey_seed = Some(SecretRef::Env("1BAD".into()));
    assert_eq!(keys(&config), ["nats.nkey_seed.env"]);
    config.nats.nkey_seed = Some(file());
    config.validate().unwrap();
}

#[test]
fn tls_to_nats_and_etcd_is_checked() {
    let mut config = Config::default();
    config.nats.tls = Some(NatsTlsConfig {
        ca: Some("/nonexistent/ca.pem".into()),
        cert: Some("/nonexistent/client.pem".into()),
        key: None,
    });
    config.etcd.endpoints = vec!["https://etcd:2379".into()];
    assert_eq!(
        keys(&config),
        ["nats.tls.ca", "nats.tls.cert", "etcd.endpoints"],
        "{}",
        config.validate().unwrap_err()
    );

    let mut config = Config::default();
    config.etcd.tls = Some(EtcdTlsConfig {
        ca: "/nonexistent/ca.pem".into(),
        cert: None,
        key: Some("/nonexistent/key.pem".into()),
    });
    config.etcd.user = Some("herald".into());
    assert_eq!(
        keys(&config),
        ["etcd.tls", "etcd.tls.ca", "etcd.tls.key", "etcd.user"],
        "http:// endpoints with etcd.tls; a key without its certificate; a user without a password"
    );
}
