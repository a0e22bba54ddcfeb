//! The reference stays true: `herald.example.toml` is the defaults, and it and
//! `docs/configuration.md` mention every key.

#![allow(clippy::unwrap_used, reason = "tests")]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use figment::value::Value;
use herald_config::{
    AdminRole, Config, ControlTlsConfig, EdgeTlsConfig, EtcdTlsConfig, GrpcTlsConfig, LoadOptions,
    NatsTlsConfig, SecretRef,
};

const MANIFEST: &str = env!("CARGO_MANIFEST_DIR");

/// A config with every optional key set, so every key path appears when serialised.
fn everything_set() -> Config {
    let mut config = Config::default();
    config.node.id = Some("edge-1".into());
    config.node.region = Some("eu".into());
    config.nats.credentials = Some(SecretRef::File("/c".into()));
    config.nats.nkey_seed = Some(SecretRef::File("/s".into()));
    config.nats.user = Some("herald".into());
    config.nats.password = Some(SecretRef::Env("NATS_PASSWORD".into()));
    config.nats.token = Some(SecretRef::File("/t".into()));
    config.nats.tls = Some(NatsTlsConfig {
        ca: Some("/ca".into()),
        cert: Some("/c".into()),
        key: Some("/k".into()),
    });
    config.etcd.user = Some("herald".into());
    config.etcd.password = Some(SecretRef::File("/p".into()));
    config.etcd.tls = Some(EtcdTlsConfig {
        ca: "/ca".into(),
        cert: Some("/c".into()),
        key: Some("/k".into()),
    });
    config.telemetry.otlp_endpoint = Some("http://c:4317".into());
    config.edge.tls = Some(EdgeTlsConfig {
        listen: "0.0.0.0:3550".parse().unwrap(),
        cert: "/c".into(),
        key: "/k".into(),
        http_listen: Some("0.0.0.0:8443".parse().unwrap()),
    });
    config.edge.http_listen = Some("0.0.0.0:8080".parse().unwrap());
    config.control.tokens_file = Some("/t".into());
    config.control.tls = Some(ControlTlsConfig {
        cert: "/c".into(),
        key: "/k".into(),
        client_ca: Some("/ca".into()),
        // A map: its keys are names, not config keys; documented at `client_roles`.
        client_roles: Default::default(),
        client_default_role: AdminRole::Viewer,
    });
    config.grpc.token_file = Some("/n".into());
    config.grpc.tls = Some(GrpcTlsConfig {
        cert: "/c".into(),
        key: "/k".into(),
        ca: "/ca".into(),
        server_name: "herald-node".into(),
    });
    config
}

/// Every key path under `value`. A secret reference (`{ file = ... }`, `{ env = ... }`) is
/// one value, documented at its key.
fn key_paths(value: &Value, prefix: &str, out: &mut BTreeSet<String>) {
    match value {
        Value::Dict(_, dict)
            if !(dict.len() == 1 && (dict.contains_key("file") || dict.contains_key("env"))) =>
        {
            for (k, v) in dict {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                key_paths(v, &path, out);
            }
        }
        _ => {
            out.insert(prefix.to_owned());
        }
    }
}

fn all_keys() -> BTreeSet<String> {
    let mut keys = BTreeSet::new();
    key_paths(&Value::serialize(everything_set()).unwrap(), "", &mut keys);
    assert!(
        keys.contains("edge.tls.cert") && keys.contains("nats.urls"),
        "{keys:?}"
    );
    keys
}

#[test]
fn the_example_file_is_the_defaults() {
    let env: BTreeMap<String, String> = [("HOSTNAME".to_owned(), "test-host".to_owned())].into();
    let loaded = Config::load(LoadOptions {
        file: Some(Path::new(MANIFEST).join("herald.example.toml")),
        env,
        overrides: vec![],
    })
    .unwrap();
    let mut expected = Config::default();
    expected.node.id = Some("test-host".into());
    assert_eq!(loaded, expected);
}

#[test]
fn the_example_file_lists_every_key() {
    let text = std::fs::read_to_string(Path::new(MANIFEST).join("herald.example.toml")).unwrap();
    let mut listed = BTreeSet::new();
    let mut section = String::new();
    for line in text.lines() {
        let line = line.trim_start_matches('#').trim();
        if let Some(header) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = header.to_owned();
        } else if let Some((key, _)) = line.split_once(" = ")
            && key.chars().all(|c| c.is_ascii_lowercase() || c == '_')
        {
            listed.insert(format!("{section}.{key}"));
        }
    }
    let missing: Vec<_> = all_keys().difference(&listed).cloned().collect();
    assert!(
        missing.is_empty(),
        "missing from herald.example.toml: {missing:?}"
    );
}

#[test]
fn the_docs_mention_every_key() {
    let docs =
        std::fs::read_to_string(Path::new(MANIFEST).join("../../docs/configuration.md")).unwrap();
    let missing: Vec<_> = all_keys()
        .into_iter()
        .filter(|k| !docs.contains(&format!("`{k}`")))
        .collect();
    assert!(
        missing.is_empty(),
        "missing from docs/configuration.md: {missing:?}"
    );
}
