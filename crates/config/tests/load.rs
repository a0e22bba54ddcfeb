//! Loading: defaults, file, environment and `--set`, each over the previous; errors that
//! name the key and the source.

#![allow(clippy::unwrap_used, reason = "tests")]

use std::collections::HashMap;
use std::io::Write as _;
use std::time::Duration;

use herald_config::{Config, ConfigError, LoadOptions, LogFormat, SecretRef};

fn env(vars: &[(&str, &str)]) -> HashMap<String, String> {
    let mut map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    map.entry("HOSTNAME".to_owned())
        .or_insert_with(|| "test-host".to_owned());
    map
}

fn toml_file(text: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
    file.write_all(text.as_bytes()).unwrap();
    file
}

fn load(
    file: Option<&tempfile::NamedTempFile>,
    vars: &[(&str, &str)],
    set: &[(&str, &str)],
) -> Result<Config, ConfigError> {
    Config::load(LoadOptions {
        file: file.map(|f| f.path().to_owned()),
        env: env(vars),
        overrides: set
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    })
}

fn parse_problems(result: Result<Config, ConfigError>) -> Vec<String> {
    match result {
        Err(ConfigError::Parse(errors)) => {
            errors.problems().iter().map(ToString::to_string).collect()
        }
        other => panic!("expected a parse error, got {other:?}"),
    }
}

#[test]
fn defaults_are_valid() {
    Config::default().validate().unwrap();
    let config = load(None, &[], &[]).unwrap();
    let mut expected = Config::default();
    expected.node.id = Some("test-host".to_owned());
    assert_eq!(config, expected);
}

#[test]
fn node_id_falls_back_to_a_sanitised_host_name() {
    let config = load(None, &[("HOSTNAME", "edge 1/a")], &[]).unwrap();
    assert_eq!(config.node.id(), "edge-1-a");
}

#[test]
fn file_overrides_defaults() {
    let file = toml_file(
        r#"
        [node]
        id = "edge-1"
        [edge]
        smpp_listen = "127.0.0.1:2776"
        enquire_link_interval = "500ms"
        max_window = 50
        [nats]
        urls = ["nats://a:4222", "nats://b:4222"]
        replicas = 3
        [telemetry]
        log_format = "json"
        "#,
    );
    let config = load(Some(&file), &[], &[]).unwrap();
    assert_eq!(config.node.id(), "edge-1");
    assert_eq!(config.edge.smpp_listen, "127.0.0.1:2776".parse().unwrap());
    assert_eq!(
        config.edge.enquire_link_interval,
        Duration::from_millis(500)
    );
    assert_eq!(config.edge.max_window, 50);
    assert_eq!(config.nats.urls, ["nats://a:4222", "nats://b:4222"]);
    assert_eq!(config.nats.replicas, 3);
    assert_eq!(config.telemetry.log_format, LogFormat::Json);
    // Untouched keys keep their defaults.
    assert_eq!(config.edge.bind_timeout, Duration::from_secs(10));
}

#[test]
fn environment_beats_the_file() {
    let file = toml_file("[edge]\nsmpp_listen = \"127.0.0.1:2776\"\nmax_window = 50\n");
    let config = load(
        Some(&file),
        &[
            ("HERALD_EDGE__SMPP_LISTEN", "0.0.0.0:2777"),
            ("HERALD_NATS__URLS", "nats://a:4222, nats://b:4222"),
            ("HERALD_EDGE__TLS__CERT", file.path().to_str().unwrap()),
            ("HERALD_EDGE__TLS__KEY", file.path().to_str().unwrap()),
            ("HERALD_NODE__ID", "1234"),
            // Not configuration: no double underscore (a Kubernetes service variable).
            ("HERALD_EDGE_PORT", "tcp://10.0.0.1:2775"),
        ],
        &[],
    )
    .unwrap();
    assert_eq!(config.edge.smpp_listen, "0.0.0.0:2777".parse().unwrap());
    assert_eq!(
        config.edge.max_window, 50,
        "the file still applies where env is silent"
    );
    assert_eq!(config.nats.urls, ["nats://a:4222", "nats://b:4222"]);
    let tls = config.edge.tls.unwrap();
    assert_eq!(tls.cert, file.path());
    assert_eq!(tls.listen, "0.0.0.0:3550".parse().unwrap());
    assert_eq!(
        config.node.id(),
        "1234",
        "a numeric-looking string stays a string"
    );
}

#[test]
fn set_beats_the_environment() {
    let config = load(
        None,
        &[
            ("HERALD_EDGE__MAX_WINDOW", "50"),
            ("HERALD_ROUTER__ACK_WAIT", "1m"),
        ],
        &[
            ("edge.max_window", "20"),
            ("etcd.endpoints", "http://e1:2379,http://e2:2379"),
        ],
    )
    .unwrap();
    assert_eq!(config.edge.max_window, 20);
    assert_eq!(config.router.ack_wait, Duration::from_secs(60));
    assert_eq!(config.etcd.endpoints, ["http://e1:2379", "http://e2:2379"]);
}

#[test]
fn unknown_keys_are_rejected_with_their_name_and_source() {
    let file = toml_file("[edge]\nsmpp_lsten = \"0.0.0.0:2775\"\n");
    let problems = parse_problems(load(Some(&file), &[], &[]));
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].starts_with("edge.smpp_lsten: unknown key"),
        "{problems:?}"
    );
    assert!(
        problems[0].contains(&file.path().display().to_string()),
        "{problems:?}"
    );

    let problems = parse_problems(load(None, &[("HERALD_EDGE__WINDOW", "5")], &[]));
    assert!(
        problems[0].starts_with("edge.window: unknown key"),
        "{problems:?}"
    );
    assert!(
        problems[0].contains("environment variable HERALD_EDGE__WINDOW"),
        "{problems:?}"
    );

    let problems = parse_problems(load(None, &[], &[("edgy.max_window", "5")]));
    assert!(problems[0].starts_with("edgy: unknown"), "{problems:?}");
    assert!(
        problems[0].contains("--set edgy.max_window"),
        "{problems:?}"
    );
}

#[test]
fn bad_values_name_the_key_and_the_source() {
    let problems = parse_problems(load(
        None,
        &[("HERALD_EDGE__BIND_TIMEOUT", "10 parsecs")],
        &[],
    ));
    assert!(
        problems[0].starts_with("edge.bind_timeout: "),
        "{problems:?}"
    );
    assert!(
        problems[0].contains("HERALD_EDGE__BIND_TIMEOUT"),
        "{problems:?}"
    );

    let file = toml_file("[admin]\nlisten = \"localhost:http\"\n");
    let problems = parse_problems(load(Some(&file), &[], &[]));
    assert!(problems[0].starts_with("admin.listen: "), "{problems:?}");
    assert!(problems[0].contains("file "), "{problems:?}");

    let problems = parse_problems(load(None, &[], &[("edge.max_window", "lots")]));
    assert!(problems[0].starts_with("edge.max_window: "), "{problems:?}");
    assert!(
        problems[0].contains("--set edge.max_window"),
        "{problems:?}"
    );
}

#[test]
fn parse_problems_in_several_sections_are_reported_together() {
    let problems = parse_problems(load(
        None,
        &[
            ("HERALD_EDGE__BIND_TIMEOUT", "soon"),
            ("HERALD_ROUTER__DEFAULT_TIMEZONE", "+25:00"),
        ],
        &[("nats.replicas", "three")],
    ));
    assert_eq!(problems.len(), 3, "{problems:?}");
}

#[test]
fn a_missing_file_and_bad_toml_are_errors() {
    let missing = Config::load(LoadOptions {
        file: Some("/nonexistent/herald.toml".into()),
        env: env(&[]),
        overrides: vec![],
    });
    assert!(matches!(missing, Err(ConfigError::Read { .. })));
    let file = toml_file("[edge\n");
    assert!(matches!(
        load(Some(&file), &[], &[]),
        Err(ConfigError::Syntax { .. })
    ));
    assert_eq!(ConfigError::EXIT_CODE, 64);
}

#[test]
fn validation_problems_carry_their_source() {
    let result = load(None, &[("HERALD_EDGE__MAX_WINDOW", "0")], &[]);
    let Err(ConfigError::Invalid(errors)) = result else {
        panic!("{result:?}")
    };
    let problem = errors.at("edge.max_window").next().unwrap();
    assert_eq!(
        problem.origin.as_deref(),
        Some("environment variable HERALD_EDGE__MAX_WINDOW")
    );
}

#[test]
fn nats_and_etcd_credentials_are_references_to_files_or_variables() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, "secret\n").unwrap();
        path.to_string_lossy().into_owned()
    };
    let (creds, password, ca) = (write("nats.creds"), write("etcd-password"), write("ca.pem"));
    let file = toml_file(&format!(
        "[nats]\ncredentials = {creds:?}\n[nats.tls]\nca = {ca:?}\n\
         [etcd]\nendpoints = [\"https://etcd:2379\"]\nuser = \"herald\"\n\
         password = {{ file = {password:?} }}\n[etcd.tls]\nca = {ca:?}\n"
    ));
    let config = load(Some(&file), &[], &[]).unwrap();
    // A plain path is still a .creds file.
    assert_eq!(
        config.nats.credentials,
        Some(SecretRef::File(creds.clone().into()))
    );
    assert_eq!(config.etcd.password, Some(SecretRef::File(password.into())));
    assert_eq!(config.etcd.tls.unwrap().ca, std::path::PathBuf::from(&ca));
    assert_eq!(config.nats.tls.unwrap().ca, Some(ca.into()));
    // Written back, a file is a path again.
    assert!(
        toml::to_string(&load(Some(&file), &[], &[]).unwrap())
            .unwrap()
            .contains(&format!("credentials = {creds:?}"))
    );

    // From the environment: the variable holding the token must be set.
    let vars = [("HERALD_NATS__TOKEN__ENV", "NATS_TOKEN")];
    let result = load(None, &vars, &[]);
    let Err(ConfigError::Invalid(errors)) = result else {
        panic!("{result:?}")
    };
    let problem = errors.at("nats.token.env").next().unwrap();
    assert!(
        problem.message.contains("NATS_TOKEN is not set"),
        "{problem}"
    );
    let config = load(None, &[vars[0], ("NATS_TOKEN", "t0k3n")], &[]).unwrap();
    assert_eq!(config.nats.token, Some(SecretRef::Env("NATS_TOKEN".into())));
    // `nats.credentials` from a variable too.
    let config = load(
        None,
        &[
            ("HERALD_NATS__CREDENTIALS__ENV", "NATS_CREDS"),
            ("NATS_CREDS", "..."),
        ],
        &[],
    )
    .unwrap();
    assert_eq!(
        config.nats.credentials,
        Some(SecretRef::Env("NATS_CREDS".into()))
    );
    // A secret given in clear is refused: it is not a reference.
    let file = toml_file("[nats]\ntoken = \"t0k3n\"\n");
    let problems = parse_problems(load(Some(&file), &[], &[]));
    assert!(
        problems.iter().any(|p| p.starts_with("nats.token")),
        "{problems:?}"
    );
}
