//! `heraldctl` against an in-process control plane on real etcd: `get` as JSON, `apply`
//! with `--dry-run`, creating, then nothing to do, and a wrong token refused; with real
//! NATS too: `msg` prints a message's history, `route explain` the chosen route, and
//! `-o yaml` output parses as YAML.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod common;

use std::process::Output;

use herald_config::ControlConfig;

use crate::common::Served;
use herald_harness::{Backing, seed};
use herald_rules::{Expected, Kind, PasswordHash, RulesClient, RulesStore, StoreConfig};

const TOKEN: &str = "heraldctl-test-token";

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
    let served = Served::start(&config, common::deps(&client, rules, None)).await;
    let server = format!("http://{}", served.addr);

    // get accounts -o json after seeding one.
    let acme = serde_json::json!({ "quota": { "tps": 100 }, "window": 10 });
    seed::account(&client, "acme", "secret", acme).await;
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

    served.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heraldctl_shows_messages_explains_routes_and_prints_yaml() {
    use herald_proto::bus::v1::{MessageState, MessageStatus};

    let backing = Backing::start().await;
    // A carrier and a route for UK numbers, seeded before the rules snapshot is loaded.
    // The carrier gives an alphanumeric (or empty) sender to UK numbers a number.
    let senders = serde_json::json!({"senders": [{"match": {"destination_prefixes": ["44"]},
        "action": {"type": "numeric", "pool": ["+447700900100"]}}]});
    seed::carrier(&backing.rules, seed::NO_CARRIER_PORT, senders).await;
    seed::route(&backing.rules, "uk", &["44"]).await;
    // UK numbers on 4479 go by a route capped at 20/s.
    let capped = serde_json::json!({"id": "capped", "priority": 5,
        "match": {"destination_prefixes": ["4479"]}, "quota": {"tps": 20},
        "action": {"type": "carrier", "carrier": seed::CARRIER}});
    backing
        .rules
        .put_json(Kind::Route, "capped", &capped.to_string(), Expected::Any)
        .await
        .unwrap();
    let rules = backing.rules_store().await;
    let bus = backing.bus().await;
    let client = backing.rules.clone();
    let status = bus.status_store().await.unwrap();

    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens");
    std::fs::write(&tokens, format!("{TOKEN}\n")).unwrap();
    let config = ControlConfig {
        tokens_file: Some(tokens),
        ..ControlConfig::default()
    };
    let served = Served::start(&config, common::deps(&client, rules, Some(status.clone()))).await;
    let server = format!("http://{}", served.addr);

    // A message's status, accepted then final (delivered), as edge and connector record it.
    let id = "HERALDCTLMSG0001";
    for (stage, state, at) in [
        ("accepted", MessageState::Enroute, 1_700_000_000_000),
        ("final", MessageState::Delivered, 1_700_000_001_500),
    ] {
        let recorded = status
            .advance(&MessageStatus {
                message_id: id.into(),
                account_id: "acme".into(),
                state: state.into(),
                stage: stage.into(),
                carrier_id: "sim".into(),
                updated_unix_ms: at,
                ..MessageStatus::default()
            })
            .await
            .unwrap();
        assert!(recorded);
    }
    let out = heraldctl(&server, TOKEN, &["msg", id]).await;
    assert!(out.status.success(), "{out:?}");
    let text = stdout(&out);
    assert!(text.contains(&format!("message:  {id}")), "{text}");
    assert!(text.contains("account:  acme"), "{text}");
    assert!(text.contains("carrier:  sim"), "{text}");
    assert!(text.contains("state:    delivered"), "{text}");
    assert!(text.contains("AT") && text.contains("STATE"), "{text}");
    let accepted = text.find("2023-11-14 22:13:20.000  accepted");
    let delivered = text.find("2023-11-14 22:13:21.500  final");
    assert!(
        accepted.is_some() && delivered.is_some() && accepted < delivered,
        "history oldest first, in UTC: {text}"
    );
    let out = heraldctl(&server, TOKEN, &["msg", "NOSUCHMESSAGE"]).await;
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let error = String::from_utf8_lossy(&out.stderr);
    assert!(error.contains("not found"), "{error}");

    // msg -o yaml parses as YAML.
    let out = heraldctl(&server, TOKEN, &["msg", id, "-o", "yaml"]).await;
    assert!(out.status.success(), "{out:?}");
    let yaml: serde_yaml::Value = serde_yaml::from_slice(&out.stdout).unwrap();
    assert_eq!(yaml["message_id"].as_str(), Some(id));
    assert_eq!(yaml["state"].as_str(), Some("delivered"));
    let history = yaml["history"].as_sequence().unwrap();
    assert_eq!(history.len(), 2, "{yaml:?}");
    assert_eq!(history[1]["state"].as_str(), Some("final"));

    // route explain: the seeded route and its carrier.
    let explain = [
        "route",
        "explain",
        "--account",
        "acme",
        "--to",
        "+447700900001",
    ];
    let out = heraldctl(&server, TOKEN, &explain).await;
    assert!(out.status.success(), "{out:?}");
    let text = stdout(&out);
    assert!(text.contains("rule:     uk"), "{text}");
    assert!(text.contains("carrier:  sim"), "{text}");
    assert!(text.contains("CANDIDATE"), "{text}");
    assert!(
        text.contains("sender:   +447700900100 (the carrier's senders[0])"),
        "{text}"
    );
    assert!(!text.contains("quota:"), "{text}");
    let mut yaml_args = explain.to_vec();
    yaml_args.extend(["-o", "yaml"]);
    let out = heraldctl(&server, TOKEN, &yaml_args).await;
    assert!(out.status.success(), "{out:?}");
    let yaml: serde_yaml::Value = serde_yaml::from_slice(&out.stdout).unwrap();
    assert_eq!(yaml["rule_id"].as_str(), Some("uk"));
    assert_eq!(yaml["carrier_id"].as_str(), Some("sim"));
    assert_eq!(yaml["candidates"][0]["carrier_id"].as_str(), Some("sim"));
    assert_eq!(yaml["sender"].as_str(), Some("+447700900100"));
    // A numeric sender is kept; the capped route shows its quota.
    let out = heraldctl(
        &server,
        TOKEN,
        &[
            "route",
            "explain",
            "--account",
            "acme",
            "--to",
            "+447900900001",
            "--from",
            "447700900555",
        ],
    )
    .await;
    assert!(out.status.success(), "{out:?}");
    let text = stdout(&out);
    assert!(text.contains("rule:     capped"), "{text}");
    assert!(text.contains("quota:    20/s, burst 20"), "{text}");
    assert!(!text.contains("sender:"), "{text}");
    // A destination no route takes: no rule, no carrier.
    let out = heraldctl(
        &server,
        TOKEN,
        &["route", "explain", "--account", "acme", "--to", "+15550100"],
    )
    .await;
    assert!(out.status.success(), "{out:?}");
    let text = stdout(&out);
    assert!(text.contains("rule:     -"), "{text}");
    assert!(text.contains("reason:   no_route"), "{text}");

    // get routes -o yaml parses as YAML, as a rules file would.
    let out = heraldctl(&server, TOKEN, &["get", "routes", "-o", "yaml"]).await;
    assert!(out.status.success(), "{out:?}");
    let yaml: serde_yaml::Value = serde_yaml::from_slice(&out.stdout).unwrap();
    // Both routes, the capped one listed first.
    assert_eq!(yaml["routes"][0]["id"].as_str(), Some("capped"));
    assert_eq!(yaml["routes"][0]["quota"]["tps"].as_u64(), Some(20));
    assert_eq!(yaml["routes"][1]["id"].as_str(), Some("uk"));
    assert_eq!(yaml["routes"][1]["action"]["carrier"].as_str(), Some("sim"));

    served.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heraldctl_imports_exports_and_audits_opt_outs() {
    let backing = Backing::start().await;
    seed::carrier(&backing.rules, seed::NO_CARRIER_PORT, serde_json::json!({})).await;
    seed::route(&backing.rules, "uk", &["44"]).await;
    let rules = backing.rules_store().await;
    let bus = backing.bus().await;
    let client = backing.rules.clone();
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens");
    std::fs::write(
        &tokens,
        format!("admin ops {TOKEN}\nviewer support viewer-token\n"),
    )
    .unwrap();
    let config = ControlConfig {
        tokens_file: Some(tokens),
        ..ControlConfig::default()
    };
    let mut deps = common::deps(&client, rules, None);
    deps.opt_outs = Some(bus.opt_outs().await.unwrap());
    let served = Served::start(&config, deps).await;
    let server = format!("http://{}", served.addr);

    // Import a file: a header, three numbers, a line that is not one.
    let file = dir.path().join("stops.csv");
    std::fs::write(
        &file,
        "number,date\n+447700900001,2026-01-02\n447700900002\nnot-a-number\n447700900003\n",
    )
    .unwrap();
    let file_arg = file.to_string_lossy().into_owned();
    let args = [
        "opt-outs",
        "import",
        "--account",
        "acme",
        "--note",
        "old list",
        &file_arg,
    ];
    let out = heraldctl(&server, TOKEN, &args).await;
    assert!(out.status.success(), "{out:?}");
    assert!(
        stdout(&out).contains("imported 3 opt-outs for acme; 1 lines skipped"),
        "{out:?}"
    );
    let errors = String::from_utf8_lossy(&out.stderr);
    assert!(errors.contains("stops.csv:4: not a number"), "{errors}");
    // A viewer may read, not write.
    let args = ["opt-outs", "add", "--account", "acme", "447700900009"];
    let out = heraldctl(&server, "viewer-token", &args).await;
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("permission denied"),
        "{out:?}"
    );

    // Lift one; export what remains, and everything.
    let args = [
        "opt-outs",
        "remove",
        "--account",
        "acme",
        "--note",
        "asked by phone",
        "447700900002",
    ];
    assert!(heraldctl(&server, TOKEN, &args).await.status.success());
    let out = heraldctl(
        &server,
        "viewer-token",
        &["opt-outs", "export", "--account", "acme"],
    )
    .await;
    assert!(out.status.success(), "{out:?}");
    let csv = stdout(&out);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "number,sender,opted_out,at_unix_ms,by,note");
    assert_eq!(lines.len(), 3, "{csv}");
    assert!(lines[1].starts_with("447700900001,,true,"), "{csv}");
    assert!(lines[1].ends_with(",operator:token:ops,old list"), "{csv}");
    let args = ["opt-outs", "export", "--account", "acme", "--all"];
    let all = stdout(&heraldctl(&server, TOKEN, &args).await);
    assert!(all.contains("447700900002,,false,"), "{all}");

    // The audit trail of one number: who opted it out, who lifted it.
    let args = [
        "opt-outs",
        "history",
        "--account",
        "acme",
        "447700900002",
        "-o",
        "json",
    ];
    let out = heraldctl(&server, TOKEN, &args).await;
    assert!(out.status.success(), "{out:?}");
    let history: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let trail: Vec<(bool, &str)> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["opted_out"].as_bool().unwrap(),
                r["note"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(trail, [(true, "old list"), (false, "asked by phone")]);

    // route explain sees the bucket: an opted-out number is not routed.
    let args = [
        "route",
        "explain",
        "--account",
        "acme",
        "--to",
        "+447700900003",
    ];
    let text = stdout(&heraldctl(&server, TOKEN, &args).await);
    assert!(text.contains("reason:   opted_out"), "{text}");
    let args = [
        "route",
        "explain",
        "--account",
        "acme",
        "--to",
        "+447700900002",
    ];
    let text = stdout(&heraldctl(&server, TOKEN, &args).await);
    assert!(text.contains("rule:     uk"), "{text}");

    served.stop().await;
}
