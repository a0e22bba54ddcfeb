//! Admin roles and the audit log against an in-process control plane on real etcd: a
//! `viewer` token reads but is refused `apply` (PERMISSION_DENIED, nothing written, no
//! record); an `admin` token's creates and update, and an untagged (pre-roles) token's
//! delete, each leave one audit record that `heraldctl audit` reads back with who did it
//! (never the token), the kind and id, and the revisions before and after; the rules
//! store skips the records.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod common;

use std::process::Output;

use herald_config::ControlConfig;
use herald_proto::admin::v1 as api;
use herald_proto::admin::v1::admin_service_client::AdminServiceClient;
use herald_rules::{Kind, RulesClient, RulesStore, StoreConfig};

use crate::common::Served;

const VIEWER: &str = "viewer-token-4f0c";
const ALICE: &str = "alice-token-9d1e";
const LEGACY: &str = "legacy-token-77aa";

async fn heraldctl(server: &str, token: &str, args: &[&str]) -> Output {
    common::heraldctl()
        .arg("--server")
        .arg(server)
        .arg("--token")
        .arg(token)
        .args(args)
        .output()
        .await
        .unwrap()
}

fn rules(window: u32) -> String {
    format!(
        "\
accounts:
  - id: demo
    password: demopass
    quota: {{ tps: 1000 }}
    window: {window}
carriers:
  - id: sim
    host: 127.0.0.1
    port: 2776
    system_id: herald
    password: {{ env: HERALD_SIM_PASSWORD }}
    throughput: {{ tps: 5000 }}
routes:
  - id: everything
    priority: 100
    action: {{ type: carrier, carrier: sim }}
"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_reads_but_may_not_apply_and_every_change_is_audited() {
    let etcd = herald_harness::etcd().run().await.unwrap();
    let store_config = StoreConfig::new([etcd.client_url()]);
    let client = RulesClient::connect(&store_config).await.unwrap();
    let rules_store = RulesStore::connect(store_config).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens");
    std::fs::write(
        &tokens,
        format!("# roles\nviewer grafana {VIEWER}\nadmin alice {ALICE}\n{LEGACY}\n"),
    )
    .unwrap();
    let config = ControlConfig {
        tokens_file: Some(tokens),
        ..ControlConfig::default()
    };
    let served = Served::start(&config, common::deps(&client, rules_store.clone(), None)).await;
    let server = format!("http://{}", served.addr);
    let file = dir.path().join("rules.yaml");
    std::fs::write(&file, rules(100)).unwrap();
    let file = file.to_str().unwrap();

    // The viewer reads, and is refused the write, which changes nothing.
    let out = heraldctl(&server, VIEWER, &["get", "accounts"]).await;
    assert!(out.status.success(), "{out:?}");
    let out = heraldctl(&server, VIEWER, &["apply", "-f", file]).await;
    assert!(!out.status.success(), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("permission denied"), "{stderr}");
    assert!(stderr.contains("token:grafana"), "{stderr}");
    assert!(!stderr.contains(VIEWER), "{stderr}");
    assert!(
        client
            .get_json(Kind::Account, "demo")
            .await
            .unwrap()
            .is_none()
    );
    // So is a delete, straight through the API.
    let mut api_client = AdminServiceClient::connect(server.clone()).await.unwrap();
    let mut delete = tonic::Request::new(api::DeleteRequest {
        kind: api::Kind::Route.into(),
        id: "everything".into(),
        expected_revision: 0,
    });
    delete
        .metadata_mut()
        .insert("authorization", format!("Bearer {VIEWER}").parse().unwrap());
    let refused = api_client.delete(delete).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::PermissionDenied);

    // Alice creates three objects, then changes the account.
    let out = heraldctl(&server, ALICE, &["apply", "-f", file]).await;
    assert!(out.status.success(), "{out:?}");
    let created = client
        .get_json(Kind::Account, "demo")
        .await
        .unwrap()
        .unwrap()
        .mod_revision;
    std::fs::write(dir.path().join("rules.yaml"), rules(50)).unwrap();
    let out = heraldctl(&server, ALICE, &["apply", "-f", file]).await;
    assert!(out.status.success(), "{out:?}");
    let updated = client
        .get_json(Kind::Account, "demo")
        .await
        .unwrap()
        .unwrap()
        .mod_revision;
    assert!(updated > created);

    // The token from before roles deletes the route, as an admin.
    let route = client
        .get_json(Kind::Route, "everything")
        .await
        .unwrap()
        .unwrap()
        .mod_revision;
    let mut delete = tonic::Request::new(api::DeleteRequest {
        kind: api::Kind::Route.into(),
        id: "everything".into(),
        expected_revision: 0,
    });
    delete
        .metadata_mut()
        .insert("authorization", format!("Bearer {LEGACY}").parse().unwrap());
    let deleted = api_client
        .delete(delete)
        .await
        .unwrap()
        .into_inner()
        .revision;

    // heraldctl audit, as the viewer (reading the log is a read): newest first.
    let out = heraldctl(&server, VIEWER, &["audit", "-o", "json"]).await;
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    for token in [VIEWER, ALICE, LEGACY] {
        assert!(!text.contains(token), "a token in the audit log: {text}");
    }
    let log: serde_json::Value = serde_json::from_str(&text).unwrap();
    let records = log["audit"].as_array().unwrap();
    let summary: Vec<(String, String, String, String, String, String)> = records
        .iter()
        .map(|r| {
            let field = |k: &str| r[k].as_str().unwrap().to_owned();
            (
                field("who"),
                field("action"),
                field("kind"),
                field("id"),
                field("old_revision"),
                field("new_revision"),
            )
        })
        .collect();
    let legacy_who = &summary[0].0;
    assert!(legacy_who.starts_with("token:sha256:"), "{summary:?}");
    let row = |who: &str, action: &str, kind: &str, id: &str, old: String, new: String| {
        (
            who.to_owned(),
            action.to_owned(),
            kind.to_owned(),
            id.to_owned(),
            old,
            new,
        )
    };
    assert_eq!(summary.len(), 5, "{summary:?}");
    assert_eq!(
        summary[0],
        row(
            legacy_who,
            "delete",
            "route",
            "everything",
            route.to_string(),
            deleted.to_string()
        )
    );
    assert_eq!(
        summary[1],
        row(
            "token:alice",
            "apply",
            "account",
            "demo",
            created.to_string(),
            updated.to_string()
        )
    );
    // The three creates (in the order heraldctl applies them), from nothing.
    let mut creates: Vec<_> = summary[2..]
        .iter()
        .map(|(who, action, kind, _, old, _)| {
            (who.as_str(), action.as_str(), kind.as_str(), old.as_str())
        })
        .collect();
    creates.sort();
    assert_eq!(
        creates,
        [
            ("token:alice", "apply", "account", "-"),
            ("token:alice", "apply", "carrier", "-"),
            ("token:alice", "apply", "route", "-"),
        ]
    );
    assert!(
        records
            .iter()
            .all(|r| r["at"].as_str().unwrap().ends_with('Z'))
    );
    // The rules store skips the audit records: no problem reported, the snapshot at the
    // last write's revision.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while rules_store.revision() < deleted.unsigned_abs() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the store never caught up"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(
        rules_store.status().problems,
        0,
        "{:?}",
        rules_store.status()
    );
    served.stop().await;
}
