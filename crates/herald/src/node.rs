//! What every role's process does around the role itself: telemetry, the admin port,
//! connections to NATS and etcd, node registration, readiness and the drain on shutdown.

use herald_backoff::Backoff;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use herald_bus::{Bus, BusConfig, ClientCertificate, DepthPoller, NatsAuth, NatsTls};
use herald_config::{Config, LogFormat, SecretRef as ConfigSecret};
use herald_connector::{Connector, ConnectorDeps};
use herald_control::{Control, ControlDeps, NodeAuth, NodeTls, NodeToken};
use herald_edge::rebalance::Peers;
use herald_edge::session_slots::SessionSlots;
use herald_edge::tls::ReloadingAcceptor;
use herald_edge::{Edge, EdgeDeps};
use herald_proto::node::v1::node_service_server::NodeServiceServer;
use herald_router::{Router, RouterDeps};
use herald_rules::model::UtcOffset;
use herald_rules::{
    EtcdTls, EtcdUser, NodeInfo, NodeRegistration, RulesClient, RulesStore, StoreConfig,
};
use herald_telemetry::ports::{LimitedListener, PortLimits, grpc_server};
use herald_telemetry::{AdminServer, Readiness, ReadyFlag, TelemetryConfig, names};
use tokio::net::TcpListener;

use crate::node_service::{Identity, NodeServiceImpl};
use tokio::sync::watch;

/// The version registered with the node and shown in `herald_node_info`.
const VERSION: &str = env!("CARGO_PKG_VERSION");
/// How often routers poll the bus for its stream and consumer depths.
pub(crate) const DEPTH_POLL_INTERVAL: Duration = Duration::from_secs(15);

/// The role a node plays: which of Herald's libraries this process runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    /// The SMPP and HTTP server ESMEs reach.
    Edge,
    /// Routes accepted messages to carriers' queues and MO to accounts.
    Router,
    /// Holds the binds to carriers.
    Connector,
    /// Serves the admin API.
    Control,
}

impl Role {
    /// Its name: the subcommand, the node registration's role, the metrics' `role` label.
    pub(crate) const fn name(self) -> &'static str {
        match self {
            Role::Edge => "edge",
            Role::Router => "router",
            Role::Connector => "connector",
            Role::Control => "control",
        }
    }
}

/// Runs `role` until SIGTERM or Ctrl-C, then drains and returns.
pub(crate) async fn run(role: Role, config: Config) -> anyhow::Result<()> {
    let _telemetry = start_telemetry(role, &config)?;
    let (node, node_service, listeners) = Node::start(role, config).await?;
    let result = match listeners {
        RoleListeners::Edge(listeners) => node.run_edge(node_service, listeners).await,
        RoleListeners::Router => node.run_router(node_service).await,
        RoleListeners::Connector => node.run_connector(node_service).await,
        RoleListeners::Control(listener) => node.run_control(node_service, listener).await,
    };
    node.finish().await;
    result
}

/// Logs, traces and metrics for this process, labelled with the node and its role.
fn start_telemetry(
    role: Role,
    config: &Config,
) -> anyhow::Result<herald_telemetry::TelemetryGuard> {
    let node_id = config.node.id();
    let telemetry = herald_telemetry::init(&TelemetryConfig {
        log_format: match config.telemetry.log_format {
            LogFormat::Human => herald_telemetry::LogFormat::Human,
            LogFormat::Json => herald_telemetry::LogFormat::Json,
        },
        log_filter: config.telemetry.log_filter.clone(),
        otlp_endpoint: config.telemetry.otlp_endpoint.clone(),
        service_name: "herald".into(),
        node_id: node_id.to_owned(),
        role: role.name().into(),
    })
    .context("telemetry")?;
    herald_telemetry::install_metrics().context("metrics")?;
    herald_telemetry::describe_all();
    herald_telemetry::set_node_info(node_id, role.name());
    Ok(telemetry)
}

/// The ports a role serves besides the admin port and NodeService, bound before the node
/// registers so that it registers their real addresses. Which variant also says which
/// role runs.
enum RoleListeners {
    Edge(EdgeListeners),
    Router,
    Connector,
    /// AdminService.
    Control(TcpListener),
}

/// The edge's listeners: SMPP, and as configured SMPP over TLS, HTTPS and HTTP.
struct EdgeListeners {
    smpp: TcpListener,
    tls: Option<EdgeTls>,
    http: Option<TcpListener>,
}

impl RoleListeners {
    async fn bind(role: Role, config: &Config) -> anyhow::Result<Self> {
        Ok(match role {
            Role::Edge => {
                let tls = match &config.edge.tls {
                    Some(tls) => Some(EdgeTls {
                        acceptor: ReloadingAcceptor::load(&tls.cert, &tls.key)
                            .context("edge TLS")?,
                        smpp: listen(tls.listen).await?,
                        https: match tls.http_listen {
                            Some(addr) => Some(listen(addr).await?),
                            None => None,
                        },
                    }),
                    None => None,
                };
                RoleListeners::Edge(EdgeListeners {
                    smpp: listen(config.edge.smpp_listen).await?,
                    tls,
                    http: match config.edge.http_listen {
                        Some(addr) => Some(listen(addr).await?),
                        None => None,
                    },
                })
            }
            Role::Router => RoleListeners::Router,
            Role::Connector => RoleListeners::Connector,
            Role::Control => RoleListeners::Control(listen(config.control.listen).await?),
        })
    }

    /// Each listener's name in the node registration, and its address.
    fn addresses(&self) -> std::io::Result<Vec<(&'static str, SocketAddr)>> {
        let mut addresses = Vec::new();
        match self {
            RoleListeners::Edge(edge) => {
                addresses.push(("smpp", edge.smpp.local_addr()?));
                if let Some(tls) = &edge.tls {
                    addresses.push(("smpp_tls", tls.smpp.local_addr()?));
                    if let Some(https) = &tls.https {
                        addresses.push(("https", https.local_addr()?));
                    }
                }
                if let Some(http) = &edge.http {
                    addresses.push(("http", http.local_addr()?));
                }
            }
            RoleListeners::Control(listener) => addresses.push(("control", listener.local_addr()?)),
            RoleListeners::Router | RoleListeners::Connector => {}
        }
        Ok(addresses)
    }
}

async fn listen(addr: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))
}

/// What every role runs within, built once before the role starts: the bus and the rules
/// store connected, the node registered with its addresses, readiness kept in step with
/// the connections, the stop signal, and NodeService ready to serve.
struct Node {
    config: Config,
    node_id: String,
    bus: Bus,
    rules: RulesStore,
    client: RulesClient,
    registration: Arc<NodeRegistration>,
    readiness: Readiness,
    /// Turns true on SIGTERM or Ctrl-C (or NodeService's drain): the role drains.
    stop: watch::Receiver<bool>,
    /// Turns true when the role has finished: the admin port and NodeService stop.
    finished: watch::Sender<bool>,
    /// Keeps readiness, the registration and the metrics in step; aborted at the end.
    follower: tokio::task::JoinHandle<()>,
    /// The time zone route time windows are read in (`router.default_timezone`).
    route_time_zone: UtcOffset,
}

/// NodeService's listener and what it serves, until the role's own part is known.
struct NodeServicePort {
    listener: TcpListener,
    access: NodeServiceAccess,
    service: NodeServiceImpl,
}

impl Node {
    /// Serves the admin port, connects the bus and the rules store (waiting for them),
    /// binds the role's listeners and registers the node.
    async fn start(
        role: Role,
        config: Config,
    ) -> anyhow::Result<(Node, NodeServicePort, RoleListeners)> {
        let role_name = role.name();
        let node_id = config.node.id().to_owned();
        let (stop_tx, stop) = watch::channel(false);
        let stop_tx = Arc::new(stop_tx);
        {
            let stop_tx = stop_tx.clone();
            tokio::spawn(async move {
                shutdown_signal().await;
                tracing::info!("shutdown requested: draining");
                // Nobody listening for the stop means the role has already ended.
                let _ = stop_tx.send(true);
            });
        }

        // The admin port and NodeService outlive the stop signal: while the role drains,
        // `/readyz` says `draining`, `/metrics` and `/healthz` still answer (the liveness
        // probe must not restart a draining pod) and NodeService still lists sessions and
        // binds. They stop when the role has finished.
        let (finished, finished_rx) = watch::channel(false);
        let admin = AdminServer::bind(config.admin.listen)
            .await
            .context("admin port")?;
        let admin_addr = admin.local_addr();
        let readiness = admin.readiness().clone();
        let bus_ready = readiness.register("bus");
        let rules_ready = readiness.register("rules");
        tokio::spawn(admin.serve(stopped(finished_rx.clone())));
        tracing::info!(%admin_addr, role = role_name, node = %node_id, "admin port serving /metrics /healthz /readyz");

        let bus = connect_bus(bus_config(&config, role_name, &node_id), stop.clone()).await?;
        bus_ready.set(true);
        let store_config = store_config(&config);
        let rules = RulesStore::connect(store_config.clone())
            .await
            .context("etcd rules store")?;
        rules_ready.set(true);
        let client = RulesClient::connect(&store_config).await.context("etcd")?;

        let listeners = RoleListeners::bind(role, &config).await?;
        let access = NodeServiceAccess::load(&config)?;
        let grpc = listen(config.grpc.listen).await?;
        let grpc_addr = grpc.local_addr()?;
        let mut info = NodeInfo::new(role_name, node_id.clone(), VERSION)
            .with_region(config.node.region.clone())
            .with_address("admin", admin_addr.to_string());
        for (name, addr) in listeners.addresses()? {
            info = info.with_address(name, addr.to_string());
        }
        let grpc_advertised = config.grpc.advertise.as_deref().map_or_else(
            || grpc_addr.to_string(),
            |advertise| advertised(advertise, grpc_addr.port()),
        );
        // A node under TLS registers its address by another name, so that a control node
        // (old or new, during a rollout) never calls it in clear.
        let grpc_name = if access.tls.is_some() {
            "grpc_tls"
        } else {
            "grpc"
        };
        info = info.with_address(grpc_name, grpc_advertised);
        let identity = Arc::new(Identity {
            node_id: node_id.clone(),
            role: role_name.to_owned(),
            version: VERSION.to_owned(),
            started: info.started_at,
            addresses: info
                .addresses
                .iter()
                .map(|(name, addr)| format!("{name}={addr}"))
                .collect(),
        });
        let registration = Arc::new(
            client
                .register_node(info, config.etcd.lease_ttl)
                .await
                .context("node registration")?,
        );
        let follower = follow_connections(&rules, &bus, &registration, bus_ready);
        let service = NodeServiceImpl {
            identity,
            readiness: readiness.clone(),
            rules: rules.clone(),
            stop: stop_tx,
            edge: None,
            connector: None,
        };
        let route_time_zone = UtcOffset::from_minutes(config.router.default_timezone.minutes())
            .unwrap_or(UtcOffset::UTC);
        let node = Node {
            config,
            node_id,
            bus,
            rules,
            client,
            registration,
            readiness,
            stop,
            finished,
            follower,
            route_time_zone,
        };
        let node_service = NodeServicePort {
            listener: grpc,
            access,
            service,
        };
        Ok((node, node_service, listeners))
    }

    /// What a role awaits to stop: the stop signal, after which readiness goes false.
    fn until_stopped(&self) -> impl Future<Output = ()> + use<> {
        let readiness = self.readiness.clone();
        let stop = self.stop.clone();
        async move {
            stopped(stop).await;
            readiness.drain();
        }
    }

    /// Serves NodeService (the node's own, with the role's part set) until the role has
    /// finished.
    fn serve_node_service(&self, port: NodeServicePort) {
        serve_node_service(
            port.listener,
            port.service,
            port.access,
            self.finished.subscribe(),
        );
    }

    async fn run_edge(
        &self,
        mut node_service: NodeServicePort,
        listeners: EdgeListeners,
    ) -> anyhow::Result<()> {
        let deps = EdgeDeps {
            bus: self.bus.clone(),
            rules: self.rules.clone(),
            node_id: self.node_id.clone(),
            session_slots: Some(SessionSlots::new(
                self.client.etcd_client(),
                self.config.etcd.prefix.clone(),
                self.registration.clone(),
                self.node_id.clone(),
            )),
            route_time_zone: self.route_time_zone,
        };
        let edge = Edge::new(self.config.edge.clone(), deps)
            .await
            .context("edge")?;
        node_service.service.edge = Some(edge.clone());
        self.serve_node_service(node_service);
        let peers = Peers::new(self.registration.clone(), self.client.clone());
        let _rebalance = AbortOnDrop(edge.rebalance(peers));
        let _webhooks = self
            .config
            .edge
            .webhooks
            .enabled
            .then(|| AbortOnDrop(edge.deliver_webhooks()));
        run_edge(edge, listeners, self.until_stopped(), self.stop.clone()).await
    }

    async fn run_router(&self, node_service: NodeServicePort) -> anyhow::Result<()> {
        // Routers are in every deployment, so they report the bus's depths.
        let _depths = DepthPoller::start(
            self.bus.jetstream().clone(),
            self.bus.config().partitions,
            DEPTH_POLL_INTERVAL,
        );
        let deps = RouterDeps {
            bus: self.bus.clone(),
            rules: self.rules.clone(),
            node_id: self.node_id.clone(),
            rules_writer: Some(self.client.clone()),
        };
        let router = Router::new(self.config.router.clone(), deps)
            .await
            .context("router")?;
        self.serve_node_service(node_service);
        router.run(self.until_stopped()).await.context("router")
    }

    async fn run_connector(&self, mut node_service: NodeServicePort) -> anyhow::Result<()> {
        let deps = ConnectorDeps {
            bus: self.bus.clone(),
            rules: self.rules.clone(),
            rules_client: self.client.clone(),
            node_id: self.node_id.clone(),
        };
        let connector = Arc::new(
            Connector::new(self.config.connector.clone(), deps)
                .await
                .context("connector")?,
        );
        node_service.service.connector = Some(connector.clone());
        self.serve_node_service(node_service);
        connector
            .run(self.until_stopped())
            .await
            .context("connector")
    }

    async fn run_control(
        &self,
        node_service: NodeServicePort,
        listener: TcpListener,
    ) -> anyhow::Result<()> {
        let deps = ControlDeps {
            rules_client: self.client.clone(),
            rules: self.rules.clone(),
            status: Some(self.bus.status_store().await.context("status store")?),
            opt_outs: Some(self.bus.opt_outs().await.context("opt-out store")?),
            dead_letters: Some((
                self.bus.dead_letters().await.context("dead letters")?,
                self.bus.publisher(),
            )),
            porting: Some(
                herald_control::porting::open(&self.bus)
                    .await
                    .context("porting store")?,
            ),
            node_timeout: Duration::from_secs(5),
            node_token: node_service.access.token.clone(),
            node_tls: node_service.access.tls.clone(),
            route_time_zone: self.route_time_zone,
        };
        let control = Control::new(&self.config.control, deps).context("control")?;
        self.serve_node_service(node_service);
        if let Ok(addr) = listener.local_addr() {
            tracing::info!(%addr, "control serving AdminService");
        }
        control
            .serve(listener, self.until_stopped())
            .await
            .context("control")
    }

    /// After the role has ended: not ready, deregistered, the admin port and NodeService
    /// stopped.
    async fn finish(self) {
        self.readiness.drain();
        self.follower.abort();
        // Aborted: its JoinError says so, and nothing more is to be learned from it.
        let _ = self.follower.await;
        if let Err(error) = self.registration.deregister().await {
            tracing::warn!(%error, "deregistration failed; the lease will expire");
        }
        // Nobody listening means the admin port and NodeService have stopped already.
        let _ = self.finished.send(true);
    }
}

/// Keeps readiness, the node registration and the connection metrics in step with the bus
/// and the rules store, once a second and on every rules change. Runs through the drain
/// too (the admin port still serves the metrics it sets) until aborted.
fn follow_connections(
    rules: &RulesStore,
    bus: &Bus,
    registration: &Arc<NodeRegistration>,
    bus_ready: ReadyFlag,
) -> tokio::task::JoinHandle<()> {
    let rules = rules.clone();
    let bus = bus.clone();
    let registration = registration.clone();
    tokio::spawn(async move {
        let mut changes = rules.changes();
        // The snapshot the node started with is its first load.
        record_rules_reload(&rules);
        loop {
            let revision = rules.revision();
            registration.set_rules_revision(revision);
            metrics::gauge!(names::RULES_REVISION).set(revision as f64);
            metrics::gauge!(names::RULES_STALE).set(if rules.connected() { 0.0 } else { 1.0 });
            metrics::gauge!(names::BUS_CONNECTED).set(if bus.is_connected() { 1.0 } else { 0.0 });
            bus_ready.set(bus.is_connected());
            bus.record_client_statistics();
            tokio::select! {
                _ = changes.changed() => record_rules_reload(&rules),
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    })
}

/// The edge's TLS listeners and their certificate.
struct EdgeTls {
    /// SMPP over TLS.
    smpp: TcpListener,
    /// The HTTP submit API over TLS, when configured.
    https: Option<TcpListener>,
    /// The certificate both serve, reloaded when its files change.
    acceptor: ReloadingAcceptor,
}

/// Serves SMPP on the plain listener and, when configured, the TLS one and the HTTP API
/// (plain and over TLS), until stopped.
async fn run_edge(
    edge: Edge,
    EdgeListeners {
        smpp: listener,
        tls,
        http,
    }: EdgeListeners,
    until_stopped: impl Future<Output = ()>,
    stop: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "edge serving SMPP");
    }
    let plain = edge.serve(listener, until_stopped);
    let secure = async {
        let Some(EdgeTls {
            smpp,
            https,
            acceptor,
        }) = tls
        else {
            return Ok(());
        };
        if let Ok(addr) = smpp.local_addr() {
            tracing::info!(%addr, "edge serving SMPP over TLS");
        }
        let _reloader = AbortOnDrop(acceptor.watch(Duration::from_secs(5)));
        let smpp = edge.serve_tls(smpp, acceptor.clone(), stopped(stop.clone()));
        let https = async {
            match https {
                Some(listener) => {
                    edge.serve_https(listener, acceptor, stopped(stop.clone()))
                        .await
                }
                None => Ok(()),
            }
        };
        let (smpp, https) = tokio::join!(smpp, https);
        smpp.and(https)
    };
    let api = async {
        let Some(listener) = http else {
            return Ok(());
        };
        edge.serve_http(listener, stopped(stop.clone())).await
    };
    let (plain, secure, api) = tokio::join!(plain, secure, api);
    plain.and(secure).and(api).context("edge")
}

/// Who may call this node's NodeService, and how: the node token's interceptor, and TLS
/// when `grpc.tls` is set.
#[derive(Clone)]
struct NodeServiceAccess {
    auth: NodeAuth,
    /// The node token: what NodeService admits, and what the control role presents to the
    /// other nodes.
    token: Option<NodeToken>,
    tls: Option<NodeTls>,
}

impl NodeServiceAccess {
    /// The token and TLS `grpc` configures, read from their files. Without a token, main
    /// has made sure NodeService listens on loopback.
    fn load(config: &Config) -> anyhow::Result<Self> {
        let token = config
            .grpc
            .token_file
            .as_deref()
            .map(NodeToken::load)
            .transpose()
            .context("grpc.token_file")?;
        if token.is_none() {
            tracing::warn!(
                listen = %config.grpc.listen,
                "grpc.token_file is unset: NodeService admits anonymous calls, on loopback only"
            );
        }
        let tls = config
            .grpc
            .tls
            .as_ref()
            .map(NodeTls::load)
            .transpose()
            .context("grpc.tls")?;
        Ok(NodeServiceAccess {
            auth: NodeAuth::new(token.clone()),
            token,
            tls,
        })
    }
}

/// Serves NodeService on `listener` until `finished` (the role has ended, not merely been
/// told to stop).
fn serve_node_service(
    listener: TcpListener,
    service: NodeServiceImpl,
    access: NodeServiceAccess,
    finished: watch::Receiver<bool>,
) {
    tokio::spawn(async move {
        let incoming =
            LimitedListener::new(listener, "node_service", PortLimits::default()).incoming();
        let mut server = grpc_server(tonic::transport::Server::builder());
        if let Some(tls) = &access.tls {
            // Checked when the node started (NodeTls::load): this does not fail.
            server = match server.tls_config(tls.server()) {
                Ok(server) => server,
                Err(error) => {
                    tracing::error!(%error, "NodeService TLS refused; NodeService not served");
                    return;
                }
            };
        }
        let served = server
            .add_service(NodeServiceServer::with_interceptor(service, access.auth))
            .serve_with_incoming_shutdown(incoming, stopped(finished))
            .await;
        if let Err(error) = served {
            tracing::warn!(%error, "NodeService stopped");
        }
    });
}

/// Aborts a background task when dropped.
pub(crate) struct AbortOnDrop(pub(crate) tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Connects to the bus, trying again while NATS is unreachable or JetStream cannot declare
/// the topology yet (a cluster still electing its leaders): a node started before or
/// with NATS waits for it, reporting not ready, rather than exiting. Gives up only when
/// told to stop.
async fn connect_bus(config: BusConfig, mut stop: watch::Receiver<bool>) -> anyhow::Result<Bus> {
    let mut backoff = Backoff::new(Duration::from_millis(500), Duration::from_secs(5));
    loop {
        let delay = backoff.next_delay();
        match Bus::connect(config.clone()).await {
            Ok(bus) => return Ok(bus),
            Err(err @ herald_bus::BusError::Refused { auth, .. }) => {
                // Not an outage: NATS is there and said no. Say which credentials were
                // presented (never their value) and keep trying, since the secret may be
                // rotated in place or the server's users fixed.
                tracing::error!(
                    error = %format!("{:#}", anyhow::Error::new(err)),
                    credentials = auth,
                    retry_in = ?delay,
                    "NATS refused this node's credentials (authorization violation): check nats.credentials, nats.nkey_seed, nats.user and nats.password, or nats.token"
                );
            }
            Err(err) => {
                tracing::warn!(error = %format!("{:#}", anyhow::Error::new(err)), retry_in = ?delay, "NATS not ready");
            }
        }
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            _ = stop.wait_for(|stopped| *stopped) => anyhow::bail!("stopped before NATS was ready"),
        }
    }
}

pub(crate) fn bus_config(config: &Config, role: &str, node_id: &str) -> BusConfig {
    let nats = &config.nats;
    BusConfig {
        urls: nats.urls.clone(),
        name: format!("{role}-{node_id}"),
        inbox_prefix: Some(format!("_INBOX_{role}")),
        replicas: nats.replicas,
        partitions: herald_bus::Partitions {
            count: nats.partitions,
            also_read: nats.partitions_also_read,
        },
        duplicate_window: nats.duplicate_window,
        events_max_age: nats.events_max_age,
        dead_letter_max_age: nats.dead_letter_max_age,
        status_ttl: nats.status_ttl,
        id_map_ttl: nats.id_map_ttl,
        idempotency_ttl: nats.idempotency_ttl,
        max_inflight_publishes: nats.max_inflight_publishes,
        request_timeout: nats.request_timeout,
        publish_hold: nats.publish_hold,
        connect_timeout: nats.connect_timeout,
        batching: nats.batching,
        auth: nats_auth(nats),
        tls: nats.tls.as_ref().map(|tls| NatsTls {
            ca: tls.ca.clone(),
            client_certificate: tls
                .cert
                .clone()
                .zip(tls.key.clone())
                .map(|(cert, key)| ClientCertificate { cert, key }),
        }),
    }
}

/// The one kind of NATS credentials the config sets (validation allows no more).
fn nats_auth(nats: &herald_config::NatsConfig) -> NatsAuth {
    let bus_secret = |secret: &ConfigSecret| match secret {
        ConfigSecret::File(path) => herald_bus::SecretRef::File(path.clone()),
        ConfigSecret::Env(name) => herald_bus::SecretRef::Env(name.clone()),
    };
    if let Some(creds) = &nats.credentials {
        NatsAuth::Credentials(bus_secret(creds))
    } else if let Some(seed) = &nats.nkey_seed {
        NatsAuth::NKey(bus_secret(seed))
    } else if let (Some(user), Some(password)) = (&nats.user, &nats.password) {
        NatsAuth::UserPassword {
            user: user.clone(),
            password: bus_secret(password),
        }
    } else if let Some(token) = &nats.token {
        NatsAuth::Token(bus_secret(token))
    } else {
        NatsAuth::None
    }
}

pub(crate) fn store_config(config: &Config) -> StoreConfig {
    let etcd = &config.etcd;
    let mut store = StoreConfig::new(etcd.endpoints.clone()).with_prefix(&etcd.prefix);
    store.connect_timeout = etcd.connect_timeout;
    store.tls = etcd.tls.as_ref().map(|tls| EtcdTls {
        ca: tls.ca.clone(),
        cert: tls.cert.clone(),
        key: tls.key.clone(),
    });
    store.user = etcd
        .user
        .clone()
        .zip(etcd.password.as_ref())
        .map(|(name, password)| EtcdUser {
            name,
            password: match password {
                ConfigSecret::File(path) => herald_rules::SecretRef::File(path.clone()),
                ConfigSecret::Env(name) => herald_rules::SecretRef::Env(name.clone()),
            },
        });
    store
}

pub(crate) async fn stopped(mut stop: watch::Receiver<bool>) {
    while !*stop.borrow_and_update() {
        if stop.changed().await.is_err() {
            return;
        }
    }
}

pub(crate) async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                // No SIGTERM handler: Ctrl-C alone; if that fails too, stop now.
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        // If Ctrl-C cannot be listened for, stop now rather than never.
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Counts a rules snapshot swapped in: `error` when it had to skip invalid objects (they
/// are named in the log), `ok` otherwise.
fn record_rules_reload(rules: &RulesStore) {
    let status = if rules.status().problems == 0 {
        "ok"
    } else {
        "error"
    };
    metrics::counter!(names::RULES_RELOAD_TOTAL, names::labels::STATUS => status).increment(1);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    metrics::gauge!(names::RULES_LAST_RELOAD_TIMESTAMP_SECONDS).set(now.as_secs_f64());
}

/// The `host:port` others reach a listener at, from `grpc.advertise` (an IP, a host name,
/// either with a port) and the port actually bound.
fn advertised(advertise: &str, port: u16) -> String {
    if advertise.parse::<std::net::SocketAddr>().is_ok() {
        return advertise.to_owned();
    }
    if let Ok(ip) = advertise.parse::<std::net::IpAddr>() {
        return std::net::SocketAddr::new(ip, port).to_string();
    }
    match advertise.rsplit_once(':') {
        Some((host, p)) if !host.contains(':') && p.parse::<u16>().is_ok() => advertise.to_owned(),
        _ => format!("{advertise}:{port}"),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use herald_bus::{StreamKind, Topology};

    use super::{advertised, bus_config};

    #[test]
    fn the_nats_retention_keys_reach_the_streams_and_buckets_declared() {
        let mut config = herald_config::Config::default();
        let hours = |h: u64| Duration::from_secs(h * 3600);
        config.nats.replicas = 3;
        config.nats.duplicate_window = Duration::from_secs(301);
        config.nats.events_max_age = hours(11);
        config.nats.dead_letter_max_age = hours(12);
        config.nats.status_ttl = hours(13);
        config.nats.id_map_ttl = hours(14);
        config.nats.idempotency_ttl = hours(15);
        let topology = Topology::new(&bus_config(&config, "edge", "e1"));
        let events = topology.stream(StreamKind::Events);
        assert_eq!(events.max_age, hours(11));
        assert_eq!(events.duplicate_window, Duration::from_secs(301));
        assert_eq!(events.num_replicas, 3);
        assert_eq!(topology.stream(StreamKind::DeadLetters).max_age, hours(12));
        assert_eq!(topology.status_bucket().max_age, hours(13));
        assert_eq!(topology.cancel_bucket().max_age, hours(13));
        assert_eq!(topology.carrier_id_bucket().max_age, hours(14));
        assert_eq!(topology.idempotency_bucket().max_age, hours(15));
    }

    #[test]
    fn the_partition_keys_reach_the_bus_and_agree_on_their_limit() {
        let mut config = herald_config::Config::default();
        assert_eq!(
            bus_config(&config, "edge", "e1").partitions,
            herald_bus::Partitions::ONE
        );
        config.nats.partitions = 3;
        config.nats.partitions_also_read = Some(1);
        let bus = bus_config(&config, "edge", "e1");
        assert_eq!(bus.partitions.count, 3);
        assert_eq!(bus.partitions.also_read, Some(1));
        assert_eq!(
            Topology::new(&bus).carrier_id_partition(2).bucket,
            "herald_carrier_ids_p2"
        );
        assert_eq!(
            herald_config::MAX_NATS_PARTITIONS,
            herald_bus::partition::MAX_PARTITIONS
        );
    }

    #[test]
    fn the_advertised_address_gets_the_listening_port_when_it_has_none() {
        assert_eq!(advertised("10.1.2.3", 9091), "10.1.2.3:9091");
        assert_eq!(advertised("10.1.2.3:7000", 9091), "10.1.2.3:7000");
        assert_eq!(advertised("fd00::7", 9091), "[fd00::7]:9091");
        assert_eq!(advertised("[fd00::7]:7000", 9091), "[fd00::7]:7000");
        assert_eq!(advertised("edge-0.herald", 9091), "edge-0.herald:9091");
        assert_eq!(advertised("edge-0.herald:7000", 9091), "edge-0.herald:7000");
    }
}
