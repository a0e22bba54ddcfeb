//! `heraldctl` against an in-process control plane on real etcd: `get` as JSON, `apply`
//! with `--dry-run`, creating, then nothing to do, and a wrong token refused.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::process::Output;
use std::time::Duration;

use herald_config::ControlConfig;
use herald_control::{Control, ControlDeps};
use herald_rules::{Expected, Kind, PasswordHash, RulesClient, RulesStore, StoreConfig};

const HERALDCTL: &str = env!("CARGO_BIN_EXE_heraldctl");
const TOKEN: &str = "heraldctl-test-token";

async fn heraldctl(server: &str, token: &str, args: &[&str]) -> Output {
    tokio::process::Command::new(HERALDCTL)
        .env_remove("HERALDCTL_SERVER")
        .env_remove("HERALDCTL_TOKEN")
        .arg("--server")
        .arg(server)
        .arg("--token")
        .arg(token)
        .args(args)
        .output()
        .await
        .unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

const RULES: &str = "\
# ignored: not a rules kind
simulator: { listen: 127.0.0.1:2776 }
accounts:
  - id: demo
    name: Demo account
    password: demopass
    quota: { tps: 1000 }
    window: 100
carriers:
  - id: sim
    host: 127.0.0.1
    port: 2776
    system_id: herald
    password: { env: HERALD_SIM_PASSWORD }
    throughput: { tps: 5000 }
routes:
  - id: everything
    priority: 100
    action: { type: carrier, carrier: sim }
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heraldctl_gets_applies_and_reports_errors() {
    let etcd = herald_harness::etcd().run().await.unwrap();
    let store_config = StoreConfig::new([etcd.client_url()]);
    let client = RulesClient::connect(&store_config).await.unwrap();
    let rules = RulesStore::connect(store_config).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens");
    std::fs::write(&tokens, format!("{TOKEN}\n")).unwrap();
    let config = ControlConfig {
        tokens_file: Some(tokens),
        ..ControlConfig::default()
    };
    let deps = ControlDeps {
        rules_client: client.clone(),
        rules,
        status: None,
        node_timeout: Duration::from_secs(2),
    };
    let control = Control::new(&config, deps).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(control.serve(listener, async {
        let _ = stopped.await;
    }));

    // get accounts -o json after seeding one.
    let seeded = serde_json::json!({
        "id": "acme", "password_hash": PasswordHash::hash("secret").unwrap(),
        "quota": { "tps": 100 }, "window": 10,
    });
    client
        .put_json(Kind::Account, "acme", &seeded.to_string(), Expected::Absent)
        .await
        .unwrap();
    let out = heraldctl(&server, TOKEN, &["get", "accounts", "-o", "json"]).await;
    assert!(out.status.success(), "{out:?}");
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listed["accounts"][0]["id"], "acme");
    assert_eq!(listed["accounts"][0]["quota"]["tps"], 100);
    let out = heraldctl(&server, TOKEN, &["get", "accounts"]).await;
    assert!(out.status.success(), "{out:?}");
    let table = stdout(&out);
    assert!(table.starts_with("ID"), "{table}");
    assert!(
        table.contains("REVISION") && table.contains("acme"),
        "{table}"
    );

    // apply --dry-run prints the plan and changes nothing.
    let file = dir.path().join("rules.yaml");
    std::fs::write(&file, RULES).unwrap();
    let file = file.to_str().unwrap();
    let out = heraldctl(&server, TOKEN, &["apply", "-f", file, "--dry-run"]).await;
    assert!(out.status.success(), "{out:?}");
    let plan = stdout(&out);
    for line in ["+ carrier sim", "+ account demo", "+ route everything"] {
        assert!(plan.contains(line), "{plan}");
    }
    assert!(plan.contains("dry run"), "{plan}");
    assert!(
        client
            .get_json(Kind::Account, "demo")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        client
            .get_json(Kind::Route, "everything")
            .await
            .unwrap()
            .is_none()
    );

    // apply creates (the password is stored hashed).
    let out = heraldctl(&server, TOKEN, &["apply", "-f", file]).await;
    assert!(out.status.success(), "{out:?}");
    let demo = client
        .get_json(Kind::Account, "demo")
        .await
        .unwrap()
        .unwrap();
    let demo: serde_json::Value = serde_json::from_str(&demo.json).unwrap();
    let hash = demo["password_hash"].as_str().unwrap();
    assert!(PasswordHash::from_phc(hash).verify("demopass"));
    assert!(
        client
            .get_json(Kind::Route, "everything")
            .await
            .unwrap()
            .is_some()
    );

    // A second apply has nothing to do; an edit is an update; --prune deletes acme.
    let out = heraldctl(&server, TOKEN, &["apply", "-f", file]).await;
    assert!(out.status.success(), "{out:?}");
    let plan = stdout(&out);
    assert!(
        plan.contains("0 to create, 0 to update, 0 to delete, 3 unchanged"),
        "{plan}"
    );
    let edited = dir.path().join("edited.yaml");
    std::fs::write(&edited, RULES.replace("priority: 100", "priority: 50")).unwrap();
    let edited = edited.to_str().unwrap();
    let out = heraldctl(&server, TOKEN, &["apply", "-f", edited, "--prune"]).await;
    assert!(out.status.success(), "{out:?}");
    let plan = stdout(&out);
    assert!(plan.contains("~ route everything (priority)"), "{plan}");
    assert!(plan.contains("- account acme"), "{plan}");
    assert!(
        client
            .get_json(Kind::Account, "acme")
            .await
            .unwrap()
            .is_none()
    );

    // A wrong token: exit 1 with the gRPC code and message.
    let out = heraldctl(&server, "wrong", &["get", "routes"]).await;
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let error = String::from_utf8_lossy(&out.stderr);
    assert!(
        error.contains("unauthenticated: unknown bearer token"),
        "{error}"
    );

    let _ = stop.send(());
    serving.await.unwrap().unwrap();
}
