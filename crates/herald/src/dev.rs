//! `herald dev`: the one-command local cluster.
//!
//! Starts `nats-server` (JetStream) and `etcd` as child processes with their data under a
//! local directory, the carrier simulator, and the edge, router and connector roles in
//! this process; seeds the demo rules from a YAML file (objects that exist are kept);
//! prints how to connect; and on Ctrl-C stops everything it started.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use herald_bus::{Bus, DepthPoller};
use herald_config::Config;
use herald_connector::{Connector, ConnectorDeps};
use herald_edge::{Edge, EdgeDeps};
use herald_router::{Router, RouterDeps};
use herald_rules::model::UtcOffset;
use herald_rules::{
    Error as RulesError, Expected, Kind, NodeInfo, PasswordHash, RulesClient, RulesStore,
};
use herald_sim::{SimConfig, SimSmsc};
use herald_telemetry::{AdminServer, TelemetryConfig};
use serde::Deserialize;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::node::{bus_config, shutdown_signal, stopped, store_config};

/// What `herald dev` was asked for.
#[derive(Debug)]
pub(crate) struct DevOptions {
    /// Where NATS and etcd keep their data, and the simulator's password file.
    pub(crate) data_dir: PathBuf,
    /// The rules to seed; `None`: [`DEFAULT_SEED`].
    pub(crate) seed: Option<PathBuf>,
}

/// The demo rules `herald dev` seeds unless told otherwise, built in.
const DEFAULT_SEED: &str = include_str!("../../../deploy/dev/rules.yaml");

/// The seed file (`deploy/dev/rules.yaml`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Seed {
    simulator: SimulatorSeed,
    #[serde(default)]
    accounts: Vec<serde_json::Value>,
    #[serde(default)]
    carriers: Vec<serde_json::Value>,
    #[serde(default)]
    routes: Vec<serde_json::Value>,
    /// The webhook receiver `herald dev` runs (the demo account's webhook points at it).
    #[serde(default)]
    webhook_sink: Option<WebhookSinkSeed>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WebhookSinkSeed {
    listen: SocketAddr,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SimulatorSeed {
    listen: SocketAddr,
    system_id: String,
    password: String,
    #[serde(with = "humantime_serde", default = "half_a_second")]
    receipt_delay: Duration,
}

fn half_a_second() -> Duration {
    Duration::from_millis(500)
}

/// Runs the local cluster until Ctrl-C.
pub(crate) async fn run(mut config: Config, options: DevOptions) -> anyhow::Result<()> {
    // A development cluster listens on loopback only, whatever the defaults say.
    for addr in [
        &mut config.edge.smpp_listen,
        &mut config.admin.listen,
        &mut config.control.listen,
    ] {
        if addr.ip().is_unspecified() {
            addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
        }
    }
    // The demo webhook receiver is plain HTTP on loopback.
    config.edge.webhooks.allow_http = true;
    let _telemetry = herald_telemetry::init(&TelemetryConfig {
        log_format: herald_telemetry::LogFormat::Human,
        log_filter: config.telemetry.log_filter.clone(),
        otlp_endpoint: config.telemetry.otlp_endpoint.clone(),
        service_name: "herald".into(),
        node_id: config.node.id().to_owned(),
        role: "dev".into(),
    })
    .context("telemetry")?;
    herald_telemetry::install_metrics().context("metrics")?;
    herald_telemetry::describe_all();
    herald_telemetry::set_node_info(config.node.id(), "dev");

    let (seed_text, seed_name) = match &options.seed {
        Some(path) => (
            std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the seed file {}", path.display()))?,
            path.display().to_string(),
        ),
        None => (
            DEFAULT_SEED.to_owned(),
            "the built-in demo rules (deploy/dev/rules.yaml)".to_owned(),
        ),
    };
    let seed: Seed = serde_yaml::from_str(&seed_text)
        .with_context(|| format!("{seed_name} is not a valid seed file"))?;
    std::fs::create_dir_all(&options.data_dir)
        .with_context(|| format!("cannot create {}", options.data_dir.display()))?;
    let data_dir = std::fs::canonicalize(&options.data_dir)?;

    // NATS and etcd on the ports the config names, data kept between runs.
    let nats_port = port_of(&config.nats.urls[0], 4222);
    let etcd_port = port_of(&config.etcd.endpoints[0], 2379);
    println!(
        "starting nats-server on 127.0.0.1:{nats_port} and etcd on 127.0.0.1:{etcd_port} (data in {})",
        data_dir.display()
    );
    let nats = herald_harness::nats()
        .port(nats_port)
        .monitor_port(nats_port.wrapping_add(4000))
        .data_dir(data_dir.join("nats"))
        .run()
        .await
        .with_context(|| format!("nats-server on port {nats_port} (is one already running? run scripts/install-deps.sh if it is missing)"))?;
    let etcd = herald_harness::etcd()
        .port(etcd_port)
        .peer_port(etcd_port.wrapping_add(1))
        .data_dir(data_dir.join("etcd"))
        .run()
        .await
        .with_context(|| format!("etcd on port {etcd_port} (is one already running? run scripts/install-deps.sh if it is missing)"))?;
    config.nats.urls = vec![nats.client_url()];
    config.etcd.endpoints = vec![etcd.client_url()];
    // The servers started here are open, reachable on loopback only: credentials or TLS
    // from the config would be refused by them, so they are dropped, and said to be.
    let nats_locked = config.nats.credentials.is_some()
        || config.nats.nkey_seed.is_some()
        || config.nats.user.is_some()
        || config.nats.token.is_some()
        || config.nats.tls.is_some();
    let etcd_locked = config.etcd.user.is_some() || config.etcd.tls.is_some();
    if nats_locked || etcd_locked {
        println!(
            "ignoring the config's NATS and etcd credentials and TLS: herald dev starts its own servers"
        );
    }
    config.nats = herald_config::NatsConfig {
        credentials: None,
        nkey_seed: None,
        user: None,
        password: None,
        token: None,
        tls: None,
        ..config.nats
    };
    config.etcd = herald_config::EtcdConfig {
        user: None,
        password: None,
        tls: None,
        ..config.etcd
    };
    println!(
        "NATS and etcd run without authentication or TLS, listening on 127.0.0.1 only: for development, not for a network"
    );
    println!(
        "the roles serve no NodeService (heraldctl drain, get sessions and get binds need a cluster)"
    );

    // The carrier simulator, and the rules that point at it.
    let password_file = data_dir.join("sim-password");
    std::fs::write(&password_file, &seed.simulator.password)?;
    let sim = SimSmsc::start(
        TcpListener::bind(seed.simulator.listen)
            .await
            .with_context(|| format!("simulator on {}", seed.simulator.listen))?,
        SimConfig {
            system_id: seed.simulator.system_id.clone(),
            password: seed.simulator.password.clone(),
            receipt_delay: seed.simulator.receipt_delay,
            max_binds: 16,
            ..SimConfig::default()
        },
    )?;
    // The demo webhook receiver, and the secret the demo account's webhook signs with.
    let webhook_sink = match &seed.webhook_sink {
        Some(sink) => {
            let secret = crate::dev_webhooks::demo_secret(&data_dir.join("demo-webhook-secret"))?;
            let listener = TcpListener::bind(sink.listen)
                .await
                .with_context(|| format!("webhook receiver on {}", sink.listen))?;
            let addr = listener.local_addr()?;
            Some((
                crate::node::AbortOnDrop(crate::dev_webhooks::start(listener, secret)),
                addr,
            ))
        }
        None => None,
    };
    let store = store_config(&config);
    let client = RulesClient::connect(&store).await.context("etcd")?;
    let seeded = apply_seed(&client, &seed, &data_dir).await?;

    // The roles, in this process, sharing one bus connection and one rules store.
    let node_id = config.node.id().to_owned();
    let bus = Bus::connect(bus_config(&config, "dev", &node_id))
        .await
        .context("NATS")?;
    let rules = RulesStore::connect(store.clone())
        .await
        .context("etcd rules store")?;
    let admin = AdminServer::bind(config.admin.listen)
        .await
        .context("admin port")?;
    let admin_addr = admin.local_addr();
    let readiness = admin.readiness().clone();
    let (stop_tx, stop) = watch::channel(false);
    tokio::spawn(admin.serve(stopped(stop.clone())));
    let smpp = TcpListener::bind(config.edge.smpp_listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.edge.smpp_listen))?;
    let smpp_addr = smpp.local_addr()?;
    let http_addr = config
        .edge
        .http_listen
        .unwrap_or(SocketAddr::from(([127, 0, 0, 1], 8080)));
    let http = TcpListener::bind(http_addr)
        .await
        .with_context(|| format!("cannot listen on {http_addr}"))?;
    let mut registrations = Vec::new();
    for role in ["edge", "router", "connector"] {
        let info = NodeInfo::new(role, format!("{node_id}-{role}"), env!("CARGO_PKG_VERSION"))
            .with_address("admin", admin_addr.to_string());
        let info = if role == "edge" {
            info.with_address("smpp", smpp_addr.to_string())
        } else {
            info
        };
        registrations.push(client.register_node(info, config.etcd.lease_ttl).await?);
    }
    let time_zone =
        UtcOffset::from_minutes(config.router.default_timezone.minutes()).unwrap_or(UtcOffset::UTC);
    let edge = Edge::new(
        config.edge.clone(),
        EdgeDeps {
            bus: bus.clone(),
            rules: rules.clone(),
            node_id: format!("{node_id}-edge"),
            session_slots: None,
            route_time_zone: time_zone,
        },
    )
    .await?;
    let _depths = DepthPoller::start(
        bus.jetstream().clone(),
        bus.config().partitions,
        crate::node::DEPTH_POLL_INTERVAL,
    );
    let _webhooks = config
        .edge
        .webhooks
        .enabled
        .then(|| crate::node::AbortOnDrop(edge.deliver_webhooks()));
    let router = Router::new(
        config.router.clone(),
        RouterDeps {
            bus: bus.clone(),
            rules: rules.clone(),
            node_id: format!("{node_id}-router"),
            rules_writer: Some(client.clone()),
        },
    )
    .await?;
    let connector = Arc::new(
        Connector::new(
            config.connector.clone(),
            ConnectorDeps {
                bus: bus.clone(),
                rules: rules.clone(),
                rules_client: client.clone(),
                node_id: format!("{node_id}-connector"),
            },
        )
        .await?,
    );
    // The admin API, with a token made for this data directory (kept between runs).
    let token_file = data_dir.join("admin-token");
    let token = admin_token(&token_file)?;
    config.control.tokens_file = Some(token_file.clone());
    let control = herald_control::Control::new(
        &config.control,
        herald_control::ControlDeps {
            rules_client: client.clone(),
            rules: rules.clone(),
            status: Some(bus.status_store().await?),
            opt_outs: Some(bus.opt_outs().await?),
            porting: Some(herald_control::porting::open(&bus).await?),
            dead_letters: Some((bus.dead_letters().await?, bus.publisher())),
            node_timeout: Duration::from_secs(5),
            // The dev roles serve no NodeService (they register no grpc address).
            node_token: None,
            node_tls: None,
            route_time_zone: herald_rules::model::UtcOffset::from_minutes(
                config.router.default_timezone.minutes(),
            )
            .unwrap_or(herald_rules::model::UtcOffset::UTC),
        },
    )?;
    let control_listener = TcpListener::bind(config.control.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.control.listen))?;
    let control_addr = control_listener.local_addr()?;
    readiness.register("cluster").set(true);

    let account = seed.accounts.first();
    let system_id = account
        .and_then(|a| a.get("system_id").or(a.get("id")))
        .and_then(|v| v.as_str())
        .unwrap_or("demo");
    let password = account
        .and_then(|a| a.get("password"))
        .and_then(|v| v.as_str())
        .unwrap_or("?");
    println!(
        "\nHerald is running: edge, router, connector and the admin API, with a carrier simulator on {}.\n\
         \n  SMPP        {smpp_addr}   system_id {system_id}   password {password}\n  \
         HTTP        http://{http_addr}/v1/messages   (Basic auth {system_id}:{password})\n  \
         metrics     http://{admin_addr}/metrics   (also /healthz, /readyz)\n  \
         admin API   http://{control_addr}   (gRPC AdminService, bearer token {token})\n  \
         heraldctl   target/release/heraldctl --server http://{control_addr} --token {token} get nodes\n  \
         NATS        {}   etcd {}\n  \
         seeded      {seeded} new object(s) from {}\n\
         \nSend a test message with any SMPP client, for example:\n  \
         python3 tests/interop/esme_smpplib.py --port {} --system-id {system_id} --password {password} --count 5 --expect-deliver 5\n  \
         curl -u {system_id}:{password} -H 'content-type: application/json' \\\n       \
         -d '{{\"from\": \"Herald\", \"to\": \"+447700900001\", \"text\": \"Hello\"}}' http://{http_addr}/v1/messages\n\
         \nCtrl-C stops everything.\n",
        seed.simulator.listen,
        nats.client_url(),
        etcd.client_url(),
        seed_name,
        smpp_addr.port(),
    );
    if let Some((_, addr)) = &webhook_sink {
        println!(
            "Webhooks: {system_id}'s receipts and MO are also posted to http://{addr}/webhook, signed \
             with the secret in {}; each is printed here as `webhook  …`.\n",
            data_dir.join("demo-webhook-secret").display()
        );
    }

    tokio::spawn(async move {
        shutdown_signal().await;
        println!("\nstopping…");
        let _ = stop_tx.send(true);
    });
    let edge_run = {
        let readiness = readiness.clone();
        let stop = stop.clone();
        edge.serve(smpp, async move {
            stopped(stop).await;
            readiness.drain();
        })
    };
    let http_run = edge.serve_http(http, stopped(stop.clone()));
    let control_run = control.serve(control_listener, stopped(stop.clone()));
    let (edge_result, http_result, control_result, router_result, connector_result) = tokio::join!(
        edge_run,
        http_run,
        control_run,
        router.run(stopped(stop.clone())),
        connector.run(stopped(stop.clone())),
    );
    for registration in registrations {
        // Best effort on the way out: the lease expires anyway.
        let _ = registration.deregister().await;
    }
    drop(sim);
    drop(nats);
    drop(etcd);
    edge_result.context("edge")?;
    http_result.context("edge HTTP API")?;
    control_result.context("admin API")?;
    router_result.context("router")?;
    connector_result.context("connector")?;
    println!("stopped; data kept in {}", data_dir.display());
    Ok(())
}

/// Writes the seed's objects that do not exist yet; how many were written.
async fn apply_seed(client: &RulesClient, seed: &Seed, data_dir: &Path) -> anyhow::Result<usize> {
    let mut written = 0;
    let mut put = async |kind: Kind, object: serde_json::Value| -> anyhow::Result<()> {
        let Some(id) = object.get("id").and_then(|v| v.as_str()).map(str::to_owned) else {
            bail!("a seeded {kind} has no id");
        };
        match client
            .put_json(kind, &id, &object.to_string(), Expected::Absent)
            .await
        {
            Ok(_) => {
                written += 1;
                Ok(())
            }
            Err(RulesError::Conflict { .. }) => Ok(()),
            Err(error) => Err(error).with_context(|| format!("seeding {kind} {id}")),
        }
    };
    for account in &seed.accounts {
        let mut account = account.clone();
        if let Some(map) = account.as_object_mut()
            && let Some(clear) = map.remove("password")
        {
            let clear = clear
                .as_str()
                .context("an account password must be a string")?;
            let hash = PasswordHash::hash(clear)?;
            map.insert("password_hash".into(), serde_json::to_value(hash)?);
        }
        // Relative webhook secret files are the data directory's, like carrier passwords.
        if let Some(secrets) = account
            .pointer_mut("/webhook/secrets")
            .and_then(serde_json::Value::as_array_mut)
        {
            for secret in secrets {
                if let Some(file) = secret.get_mut("file")
                    && let Some(path) = file.as_str()
                    && Path::new(path).is_relative()
                {
                    *file = serde_json::Value::String(data_dir.join(path).display().to_string());
                }
            }
        }
        put(Kind::Account, account).await?;
    }
    for carrier in &seed.carriers {
        let mut carrier = carrier.clone();
        // A relative password file is the one in the data directory.
        if let Some(file) = carrier.pointer_mut("/password/file")
            && let Some(path) = file.as_str()
            && Path::new(path).is_relative()
        {
            *file = serde_json::Value::String(data_dir.join(path).display().to_string());
        }
        put(Kind::Carrier, carrier).await?;
    }
    for route in &seed.routes {
        put(Kind::Route, route.clone()).await?;
    }
    Ok(written)
}

/// The dev admin API's token, kept in `path` between runs: read if the file exists (its
/// mode set to 0600, which files written by older versions lacked), else 128 bits from the
/// OS random source, as hex, written to a new file of mode 0600.
fn admin_token(path: &Path) -> anyhow::Result<String> {
    if path.exists() {
        restrict(path)?;
        let token = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        return Ok(token.trim().to_owned());
    }
    let token = fresh_token()?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    std::io::Write::write_all(&mut file, format!("{token}\n").as_bytes())?;
    Ok(token)
}

/// Makes `path` readable and writable by its owner only.
fn restrict(path: &Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("cannot make {} private", path.display()))?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// 128 bits from the OS random source, as 32 hex digits.
fn fresh_token() -> anyhow::Result<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("the OS random source: {e}"))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// The port of `url` (`nats://127.0.0.1:4222`, `http://127.0.0.1:2379`), or `default`.
fn port_of(url: &str, default: u16) -> u16 {
    url.rsplit(':')
        .next()
        .and_then(|p| p.trim_end_matches('/').parse().ok())
        .unwrap_or(default)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

    use super::*;

    #[cfg(unix)]
    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn the_built_in_seed_is_the_demo_rules_file_and_parses() {
        let on_disk = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/dev/rules.yaml"),
        )
        .unwrap();
        assert_eq!(DEFAULT_SEED, on_disk);
        let seed: Seed = serde_yaml::from_str(DEFAULT_SEED).unwrap();
        assert!(!seed.accounts.is_empty(), "the demo account");
    }

    #[test]
    #[cfg(unix)]
    fn the_admin_token_is_random_and_its_file_is_the_owner_s_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("admin-token");
        let token = admin_token(&path).unwrap();
        assert_eq!(token.len(), 32);
        assert!(token.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(mode(&path), 0o600);
        // Kept between runs.
        assert_eq!(admin_token(&path).unwrap(), token);
        // Another data directory, another token.
        let other = dir.path().join("other-token");
        assert_ne!(admin_token(&other).unwrap(), token);
    }

    #[test]
    #[cfg(unix)]
    fn a_world_readable_token_file_from_an_older_version_is_made_private() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("admin-token");
        std::fs::write(&path, "0123456789abcdef\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(admin_token(&path).unwrap(), "0123456789abcdef");
        assert_eq!(mode(&path), 0o600);
    }
}
