//! The configuration structs: one field per setting, its doc comment the user's reference.
//!
//! Every section has `#[serde(default)]` (a missing field takes its default) and
//! `#[serde(deny_unknown_fields)]` (a misspelt field is an error, not silently ignored).
//! `docs/configuration.md` and `crates/config/herald.example.toml` repeat these defaults;
//! tests keep the three in step.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Herald's whole configuration. Every role reads the same struct and uses its sections.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Who this node is.
    pub node: NodeConfig,
    /// The admin HTTP port: `/metrics`, `/healthz`, `/readyz`.
    pub admin: AdminConfig,
    /// The gRPC port of `NodeService`, served by every node.
    pub grpc: GrpcConfig,
    /// The NATS JetStream bus.
    pub nats: NatsConfig,
    /// The etcd cluster holding rules and leases.
    pub etcd: EtcdConfig,
    /// Logs and traces.
    pub telemetry: TelemetryConfig,
    /// The edge role: SMPP server for ESMEs and HTTP submit API.
    pub edge: EdgeConfig,
    /// The router role.
    pub router: RouterConfig,
    /// The connector role: SMPP client binds to carriers.
    pub connector: ConnectorConfig,
    /// The control role: the admin gRPC API.
    pub control: ControlConfig,
}

/// Who this node is.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NodeConfig {
    /// This node's id, unique in the cluster: it names the node in etcd, in metrics and in
    /// traces. Letters, digits, `.`, `_` and `-`, at most 64. Unset: the host name (the
    /// `HOSTNAME` variable, then the kernel's host name), else a generated `herald-<hex>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The region or zone this node runs in, registered with the node and shown by
    /// `heraldctl get nodes`. Unset: none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Threads running the node's tasks; 0: one per CPU core. Where several Herald
    /// processes share a machine's cores (`herald dev`, a small VM), 1 each spends less on
    /// wake-ups and thread hand-offs and carries more.
    pub worker_threads: u16,
}

impl NodeConfig {
    /// The node id: after [`crate::Config::load`] always the configured or derived id;
    /// `herald` on a config that did not go through `load`.
    pub fn id(&self) -> &str {
        self.id.as_deref().unwrap_or("herald")
    }
}

/// The admin HTTP port.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdminConfig {
    /// Address of the admin HTTP server (`/metrics`, `/healthz`, `/readyz`).
    pub listen: SocketAddr,
}

impl Default for AdminConfig {
    fn default() -> Self {
        AdminConfig { listen: any(9090) }
    }
}

/// The gRPC port every node serves.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GrpcConfig {
    /// Address of the gRPC server of `NodeService` (health, info, drain, sessions, binds).
    pub listen: SocketAddr,
    /// The address other nodes reach `NodeService` at, registered in etcd: an IP or host
    /// name, with or without a port (without one, the listening port is added). Unset:
    /// the listening address, which is no use to others when it is `0.0.0.0`; in
    /// Kubernetes set it to the pod IP.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub advertise: Option<String>,
    /// File of the node token, shared by every node and the control role: NodeService
    /// admits only calls that bear one of its tokens (one per line; two during a
    /// rotation), and the control role presents the first when it calls a node. Unset:
    /// NodeService admits anonymous calls, which a node allows only when `grpc.listen` is
    /// a loopback address (it refuses to start otherwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_file: Option<PathBuf>,
    /// NodeService over TLS: this node serves it with `cert`, and the control role trusts
    /// nodes whose certificates chain to `ca` and carry `server_name`. Unset: plain
    /// HTTP/2 (the node token crosses the network in clear).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<GrpcTlsConfig>,
}

impl Default for GrpcConfig {
    fn default() -> Self {
        GrpcConfig {
            listen: any(9091),
            advertise: None,
            token_file: None,
            tls: None,
        }
    }
}

/// TLS on NodeService, the same on every node: one certificate for all (nodes are
/// reached by their pod IPs, so the control role checks a shared name, not the address).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrpcTlsConfig {
    /// Certificate chain, PEM, naming `server_name`.
    pub cert: PathBuf,
    /// Private key, PEM.
    pub key: PathBuf,
    /// CA certificates, PEM, that nodes' certificates must chain to (read by the control
    /// role, which calls the nodes).
    pub ca: PathBuf,
    /// The DNS name the nodes' certificate carries; the control role checks it.
    #[serde(default = "default_node_server_name")]
    pub server_name: String,
}

fn default_node_server_name() -> String {
    "herald-node".to_owned()
}

/// The NATS JetStream bus.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NatsConfig {
    /// NATS server URLs (`nats://host:4222`, `tls://host:4222`); the client fails over
    /// between them.
    pub urls: Vec<String>,
    /// Replicas of every stream and bucket: 1 for a single server, 3 in a cluster (1 to 5).
    pub replicas: usize,
    /// Partitions of the per-message buckets (status, carrier ids: by key hash) and of the
    /// accepted-MT, carrier-queue and event streams (by account or carrier), so that no one
    /// NATS server leads every message's writes (1 to 64; ADR 0021, 0022). Every node must
    /// agree: change it in the two steps of docs/operations.md.
    pub partitions: u16,
    /// While `partitions` changes: the other count, whose buckets and streams are read
    /// too. Unset: none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partitions_also_read: Option<u16>,
    /// Timeout of the first connection to NATS.
    #[serde(with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// Timeout of JetStream API calls and publish acks.
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
    /// How long a publish is sent again (same dedup id) after failures a NATS server's
    /// loss causes, before it fails; `0s`: never.
    #[serde(with = "humantime_serde")]
    pub publish_hold: Duration,
    /// Publishes awaiting their ack, per process, before new ones are refused (the edge
    /// then answers `ESME_RMSGQFUL`).
    pub max_inflight_publishes: usize,
    /// NATS credentials (`.creds`: user JWT and NKey seed), for NATS in operator (JWT)
    /// mode: a file path, or `{ file = "..." }` / `{ env = "VARIABLE" }`. One kind of
    /// credentials at a time. Unset: no `.creds`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "credentials_serde"
    )]
    pub credentials: Option<SecretRef>,
    /// NKey seed (`SU...`) of an NKey user: `{ file = "..." }` or `{ env = "VARIABLE" }`.
    /// Unset: none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nkey_seed: Option<SecretRef>,
    /// User name, with `nats.password`. Unset: none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Password of `nats.user`: `{ file = "..." }` or `{ env = "VARIABLE" }`. Unset: none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<SecretRef>,
    /// Token: `{ file = "..." }` or `{ env = "VARIABLE" }`. Unset: none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<SecretRef>,
    /// TLS to NATS, required on every connection once set (`tls://` URLs ask for it too,
    /// trusting the system's CAs). Unset: TLS only for `tls://` URLs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<NatsTlsConfig>,
    /// How long a message id is remembered so a republished copy is dropped.
    #[serde(with = "humantime_serde")]
    pub duplicate_window: Duration,
    /// How long receipts and MO wait in the bus for their account's sessions.
    #[serde(with = "humantime_serde")]
    pub events_max_age: Duration,
    /// How long dead letters are kept.
    #[serde(with = "humantime_serde")]
    pub dead_letter_max_age: Duration,
    /// How long a message's status stays queryable (`query_sm`, message lookup).
    #[serde(with = "humantime_serde")]
    pub status_ttl: Duration,
    /// How long a carrier message id maps to its Herald id: the longest a carrier may take
    /// to send a receipt.
    #[serde(with = "humantime_serde")]
    pub id_map_ttl: Duration,
    /// How long the HTTP API remembers a request's `Idempotency-Key`: a retry within it
    /// gets the first answer instead of sending its messages again. At least 10 minutes.
    #[serde(with = "humantime_serde")]
    pub idempotency_ttl: Duration,
    /// Carry several messages in one bus message under load (ADR 0010). Nodes older than
    /// batching cannot read batches: when upgrading a cluster from such a version, roll
    /// out with `false`, then set `true` once every node runs the new version.
    pub batching: bool,
}

/// TLS to NATS.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NatsTlsConfig {
    /// CA certificates, PEM, that NATS's certificate must chain to. Unset: the system's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca: Option<PathBuf>,
    /// Client certificate chain, PEM, for a NATS that verifies clients (mutual TLS); with
    /// `key`. Unset: none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cert: Option<PathBuf>,
    /// The client certificate's private key, PEM; with `cert`. Unset: none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<PathBuf>,
}

/// Where a secret is found, never the secret itself: `{ file = "/run/secrets/x" }` (a file,
/// trailing newlines trimmed, such as a mounted Kubernetes Secret) or
/// `{ env = "VARIABLE" }` (an environment variable of the process). Read at every
/// connection, so a rotated file is used from the next reconnection on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum SecretRef {
    /// A file.
    File(PathBuf),
    /// An environment variable.
    Env(String),
}

/// `nats.credentials` was a plain path before it could come from a variable: a string is
/// still read as a file path, and a file is written back as one.
mod credentials_serde {
    use std::path::PathBuf;

    use serde::de::value::MapAccessDeserializer;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::SecretRef;

    pub(super) fn serialize<S: Serializer>(
        value: &Option<SecretRef>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(SecretRef::File(path)) => path.serialize(serializer),
            other => other.serialize(serializer),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<SecretRef>, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Option<SecretRef>;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a file path, { file = \"...\" } or { env = \"VARIABLE\" }")
            }

            fn visit_str<E: serde::de::Error>(self, path: &str) -> Result<Self::Value, E> {
                Ok(Some(SecretRef::File(PathBuf::from(path))))
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<Self::Value, A::Error> {
                SecretRef::deserialize(MapAccessDeserializer::new(map)).map(Some)
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

impl Default for NatsConfig {
    fn default() -> Self {
        NatsConfig {
            urls: vec!["nats://127.0.0.1:4222".to_owned()],
            replicas: 1,
            partitions: 1,
            partitions_also_read: None,
            connect_timeout: secs(5),
            request_timeout: secs(5),
            publish_hold: secs(10),
            max_inflight_publishes: 8192,
            credentials: None,
            nkey_seed: None,
            user: None,
            password: None,
            token: None,
            tls: None,
            duplicate_window: secs(120),
            events_max_age: days(3),
            dead_letter_max_age: days(14),
            status_ttl: days(3),
            id_map_ttl: days(3),
            idempotency_ttl: days(1),
            batching: true,
        }
    }
}

/// The etcd cluster.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EtcdConfig {
    /// etcd endpoints (`http://host:2379` or `https://...`).
    pub endpoints: Vec<String>,
    /// Key prefix of everything Herald stores; starts and ends with `/`.
    pub prefix: String,
    /// Timeout of the first connection to etcd.
    #[serde(with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// TTL of this node's lease (its registration and the bind slots it holds): how long
    /// after a crash others take over. Whole seconds, at least 1s.
    #[serde(with = "humantime_serde")]
    pub lease_ttl: Duration,
    /// etcd user, for an etcd with authentication on; with `etcd.password`. Unset: none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Password of `etcd.user`: `{ file = "..." }` or `{ env = "VARIABLE" }`. Unset: none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<SecretRef>,
    /// TLS to etcd: required by `https://` endpoints, refused with `http://` ones. Unset:
    /// plain `http://`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<EtcdTlsConfig>,
}

/// TLS to etcd.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EtcdTlsConfig {
    /// CA certificates, PEM, that etcd's certificate must chain to. Required when
    /// `etcd.tls` is set.
    pub ca: PathBuf,
    /// Client certificate chain, PEM, for an etcd started with `--client-cert-auth`; with
    /// `key`. Unset: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert: Option<PathBuf>,
    /// The client certificate's private key, PEM; with `cert`. Unset: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<PathBuf>,
}

impl Default for EtcdConfig {
    fn default() -> Self {
        EtcdConfig {
            endpoints: vec!["http://127.0.0.1:2379".to_owned()],
            prefix: "/herald/v1/".to_owned(),
            connect_timeout: secs(5),
            lease_ttl: secs(10),
            user: None,
            password: None,
            tls: None,
        }
    }
}

/// Logs and traces.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TelemetryConfig {
    /// Log line format on stderr: `human` or `json`.
    pub log_format: LogFormat,
    /// Which logs and spans are kept, in `tracing` `EnvFilter` syntax (`info`,
    /// `warn,herald_edge=debug`).
    pub log_filter: String,
    /// OTLP/gRPC collector receiving traces (`http://otel-collector:4317`). Unset: traces
    /// are not exported and no per-message spans are made (docs/tracing.md).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub otlp_endpoint: Option<String>,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        TelemetryConfig {
            log_format: LogFormat::Human,
            log_filter: "info".to_owned(),
            otlp_endpoint: None,
        }
    }
}

/// Log line format.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Human,
    /// One JSON object per line.
    Json,
}

/// The edge role.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EdgeConfig {
    /// Address of the SMPP server (plain TCP).
    pub smpp_listen: SocketAddr,
    /// SMPP over TLS. Unset: no TLS listener. Setting `cert` and `key` enables it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<EdgeTlsConfig>,
    /// Address of the HTTP submit API. Unset: no HTTP API.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_listen: Option<SocketAddr>,
    /// How long a new connection may take to send its bind (and a TLS connection its
    /// handshake, SMPP or HTTPS) before it is closed.
    #[serde(with = "humantime_serde")]
    pub bind_timeout: Duration,
    /// Silence on a session after which the edge sends `enquire_link`.
    #[serde(with = "humantime_serde")]
    pub enquire_link_interval: Duration,
    /// Silence on a session after which the edge unbinds it; longer than
    /// `enquire_link_interval`.
    #[serde(with = "humantime_serde")]
    pub inactivity_timeout: Duration,
    /// How long the edge waits for an ESME's response to its requests (`deliver_sm`,
    /// `enquire_link`, `unbind`) before giving up on it.
    #[serde(with = "humantime_serde")]
    pub response_timeout: Duration,
    /// Largest window a session may use: requests in flight in each direction. An account's
    /// own window, when smaller, applies.
    pub max_window: u32,
    /// Largest PDU accepted, in octets, header included; a longer one closes the session.
    pub max_pdu_len: u32,
    /// Sessions this edge holds at most; binds beyond are refused with `ESME_RBINDFAIL`.
    pub max_sessions: u32,
    /// Connections this edge holds at most, over all its listeners (SMPP, SMPP over TLS,
    /// HTTP, HTTPS), bound or not; more are closed as they are accepted.
    pub max_connections: u32,
    /// Connections from one IP address this edge holds at most, over all its listeners.
    pub max_connections_per_ip: u32,
    /// How long a session's output may wait with none of it read by the ESME before the
    /// session is closed (its in-flight receipts go back to the bus).
    #[serde(with = "humantime_serde")]
    pub write_timeout: Duration,
    /// How long an HTTP client may take to send a request's headers, and how long an idle
    /// keep-alive connection waits for the next request, before it is closed.
    #[serde(with = "humantime_serde")]
    pub http_header_timeout: Duration,
    /// How long an HTTP client may take to send a request's body (read only after its
    /// credentials are checked), before the request is refused with 408.
    #[serde(with = "humantime_serde")]
    pub http_body_timeout: Duration,
    /// Delay before answering a failed bind (wrong password, unknown system id), to slow
    /// down password guessing.
    #[serde(with = "humantime_serde")]
    pub failed_bind_delay: Duration,
    /// Password checks (argon2id) this edge runs at once; more wait.
    pub password_checks: u32,
    /// Password checks that may wait for one of `password_checks`; a bind beyond is
    /// refused at once (`ESME_RSYSERR`, HTTP 503).
    pub password_check_queue: u32,
    /// Failed binds or HTTP authentications of one account, or from one address, after
    /// which it is locked out: its passwords are no longer checked (a password this edge
    /// verified before still binds) until the lockout ends.
    pub lockout_failures: u32,
    /// The first lockout; each failure during or right after one doubles the next, up to
    /// an hour.
    #[serde(with = "humantime_serde")]
    pub lockout: Duration,
    /// Tell a failed bind why (`ESME_RINVSYSID` for an unknown system_id, the reason in
    /// HTTP answers), for private deployments. Off: an unknown system_id and a wrong
    /// password get the same answer (`ESME_RINVPASWD`, 401), so account names cannot be
    /// found by trying.
    pub detailed_bind_errors: bool,
    /// Shed sessions when this edge holds clearly more than its share of the cluster's
    /// (from the edges' node registrations), so that ESMEs reconnect to newer edges.
    pub rebalance: bool,
    /// How often the edge registers its session count and compares it with its share.
    #[serde(with = "humantime_serde")]
    pub rebalance_interval: Duration,
    /// Sessions an edge unbinds at most per `rebalance_interval`, each after its in-flight
    /// requests are answered.
    pub rebalance_max_sheds: u32,
    /// Delivering accounts' webhooks.
    pub webhooks: EdgeWebhooksConfig,
}

/// Webhook delivery from the edges.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EdgeWebhooksConfig {
    /// This edge delivers webhooks (every edge does by default; any one suffices).
    pub enabled: bool,
    /// Allow `http://` webhook URLs (private networks, `herald dev`); off: https only.
    pub allow_http: bool,
}

impl Default for EdgeWebhooksConfig {
    fn default() -> Self {
        EdgeWebhooksConfig {
            enabled: true,
            allow_http: false,
        }
    }
}

impl Default for EdgeConfig {
    fn default() -> Self {
        EdgeConfig {
            smpp_listen: any(2775),
            tls: None,
            http_listen: None,
            bind_timeout: secs(10),
            enquire_link_interval: secs(30),
            inactivity_timeout: secs(120),
            response_timeout: secs(10),
            max_window: 100,
            max_pdu_len: 70_000,
            max_sessions: 10_000,
            max_connections: 20_000,
            max_connections_per_ip: 256,
            write_timeout: secs(60),
            http_header_timeout: secs(10),
            http_body_timeout: secs(10),
            failed_bind_delay: secs(1),
            password_checks: 4,
            password_check_queue: 64,
            lockout_failures: 10,
            lockout: secs(60),
            detailed_bind_errors: false,
            rebalance: true,
            rebalance_interval: secs(30),
            rebalance_max_sheds: 4,
            webhooks: EdgeWebhooksConfig::default(),
        }
    }
}

/// TLS on the edge: SMPP over TLS and, optionally, the HTTP submit API over TLS.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EdgeTlsConfig {
    /// Address of the SMPP-over-TLS server.
    #[serde(default = "default_tls_listen")]
    pub listen: SocketAddr,
    /// Certificate chain, PEM. Required when `edge.tls` is set.
    pub cert: PathBuf,
    /// Private key, PEM. Required when `edge.tls` is set.
    pub key: PathBuf,
    /// Address of the HTTP submit API over TLS (HTTPS), with the same certificate; accounts
    /// with `tls_required` may use it. Unset: no HTTPS listener.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_listen: Option<SocketAddr>,
}

fn default_tls_listen() -> SocketAddr {
    any(3550)
}

/// The router role.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RouterConfig {
    /// MT pipelines this router runs, each its own pull loop and task; each keeps up to
    /// `in_flight` messages in flight.
    pub workers: usize,
    /// Messages each pipeline routes at once (publishes awaiting their ack).
    pub in_flight: usize,
    /// Messages fetched from the bus per pull.
    pub batch: usize,
    /// How long the bus waits for a router's ack before redelivering a message to another.
    #[serde(with = "humantime_serde")]
    pub ack_wait: Duration,
    /// Deliveries after which a message that keeps failing goes to the dead letters.
    pub max_deliveries: u32,
    /// UTC offset for routing-rule time windows that name none (`+00:00`, `-05:00`, `Z`).
    pub default_timezone: UtcOffset,
    /// Carrier attempts per message (the first plus failovers) after which a message a
    /// carrier handed back gets a failure receipt instead of another carrier.
    pub max_attempts: u32,
    /// Also record the `routed` stage of each message in the status bucket (refusals always
    /// record `final`). Costs a KV read and write per message, about half the router's
    /// throughput; the edge's `accepted` and the connector's `submitted` bracket it anyway.
    pub record_routed: bool,
    /// A carrier is unhealthy when every connector reporting on it has no bind up, or
    /// sees at least this share of its submits fail or time out (0 to 1; 1 ignores
    /// error rates).
    pub unhealthy_error_rate: f64,
    /// The account that receives MO no MO route matches; empty: such MO is counted and
    /// dropped.
    pub mo_default_account: String,
    /// First words of an MO (case-insensitive) that add its sender to the receiving
    /// account's opt-out list.
    pub opt_out_keywords: Vec<String>,
    /// First words of an MO (case-insensitive) that take its sender off the receiving
    /// account's opt-out lists.
    pub opt_in_keywords: Vec<String>,
    /// First words of an MO (case-insensitive) that ask for help: answered with the MO
    /// route's `replies.help`, if it has one.
    pub help_keywords: Vec<String>,
}

impl Default for RouterConfig {
    fn default() -> Self {
        RouterConfig {
            workers: 4,
            in_flight: 1000,
            batch: 100,
            ack_wait: secs(30),
            max_deliveries: 10,
            default_timezone: UtcOffset::UTC,
            max_attempts: 5,
            record_routed: false,
            unhealthy_error_rate: 0.5,
            mo_default_account: String::new(),
            opt_out_keywords: ["STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"]
                .map(String::from)
                .to_vec(),
            opt_in_keywords: ["START", "UNSTOP"].map(String::from).to_vec(),
            help_keywords: ["HELP", "INFO"].map(String::from).to_vec(),
        }
    }
}

/// The connector role.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConnectorConfig {
    /// Messages fetched from a carrier's queue per pull.
    pub batch: usize,
    /// How long the bus waits for a connector's ack (the carrier's answer included) before
    /// redelivering a message.
    #[serde(with = "humantime_serde")]
    pub ack_wait: Duration,
    /// Deliveries after which a message that keeps failing goes to the dead letters.
    pub max_deliveries: u32,
    /// First delay before rebinding to a carrier after a lost or refused bind; doubles on
    /// each failure.
    #[serde(with = "humantime_serde")]
    pub reconnect_backoff_min: Duration,
    /// Longest delay between rebind attempts.
    #[serde(with = "humantime_serde")]
    pub reconnect_backoff_max: Duration,
    /// How long a receipt whose carrier message id is not mapped yet (the receipt overtook
    /// the `submit_sm_resp` bookkeeping) is looked up again before the carrier is answered
    /// and the receipt held in the dead letters for `receipt_hold`.
    #[serde(with = "humantime_serde")]
    pub receipt_match_retry: Duration,
    /// How long a held receipt is matched again (its message's mapping may still come,
    /// from a connector that crashed before writing it) before it is reported unmatched.
    #[serde(with = "humantime_serde")]
    pub receipt_hold: Duration,
    /// TTL of the etcd lease this connector holds its carrier bind slots under (whole
    /// seconds): a connector that dies loses its slots to the others within it.
    #[serde(with = "humantime_serde")]
    pub slot_lease_ttl: Duration,
    /// How long a connector that cannot reach etcd keeps the binds it holds (taking no
    /// new slot) before it closes them; counted from etcd's last renewal of its slot lease.
    /// While it lasts, another connector that reaches etcd may take slots whose lease
    /// expired, so the carrier may see more binds than it allows (docs/adr/0014). `0s`
    /// closes every bind as soon as the lease cannot be renewed.
    #[serde(with = "humantime_serde")]
    pub etcd_unreachable_grace: Duration,
    /// How often slots are rebalanced among the live connectors even when no etcd change
    /// wakes the connector earlier.
    #[serde(with = "humantime_serde")]
    pub rebalance_interval: Duration,
    /// How often each carrier's health (binds, error rate) is written for the routers.
    #[serde(with = "humantime_serde")]
    pub health_interval: Duration,
    /// How long a drain may take: messages in flight get their carrier's answer, then the
    /// binds unbind and the slots are released.
    #[serde(with = "humantime_serde")]
    pub drain_timeout: Duration,
}

impl Default for ConnectorConfig {
    fn default() -> Self {
        ConnectorConfig {
            batch: 100,
            ack_wait: secs(30),
            max_deliveries: 10,
            reconnect_backoff_min: secs(1),
            reconnect_backoff_max: secs(60),
            receipt_match_retry: secs(5),
            receipt_hold: secs(600),
            slot_lease_ttl: secs(10),
            etcd_unreachable_grace: secs(600),
            rebalance_interval: secs(2),
            health_interval: secs(5),
            drain_timeout: secs(30),
        }
    }
}

/// The control role.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ControlConfig {
    /// Address of the admin gRPC API (`AdminService`) that `heraldctl` talks to.
    pub listen: SocketAddr,
    /// File of API tokens, one per line; `heraldctl` sends one as a bearer token. A line
    /// is `TOKEN` (an admin) or `ROLE NAME TOKEN` (`viewer` or `admin`; the name is what
    /// the audit log records). A call needs one of these tokens or a client certificate
    /// `tls.client_ca` vouches for; with neither configured, every call is refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tokens_file: Option<PathBuf>,
    /// The admin API over TLS, optionally with client certificates (mTLS). Unset: plain
    /// HTTP/2, for a private network only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<ControlTlsConfig>,
    /// How long an audit record of a change made through the admin API is kept (in etcd,
    /// under `<etcd.prefix>audit/`); older records are removed as new ones are written.
    #[serde(with = "humantime_serde")]
    pub audit_retention: Duration,
}

impl Default for ControlConfig {
    fn default() -> Self {
        ControlConfig {
            listen: any(9092),
            tokens_file: None,
            tls: None,
            audit_retention: Duration::from_secs(90 * 24 * 3600),
        }
    }
}

/// What a caller of the admin API may do.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AdminRole {
    /// Read only: get, list, nodes, sessions, binds, message lookup, route explain, audit.
    Viewer,
    /// Everything a viewer may, and apply, delete and drain.
    #[default]
    Admin,
}

impl AdminRole {
    /// The role's name as written in the tokens file and the config.
    pub const fn as_str(self) -> &'static str {
        match self {
            AdminRole::Viewer => "viewer",
            AdminRole::Admin => "admin",
        }
    }
}

impl fmt::Display for AdminRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AdminRole {
    type Err = String;

    fn from_str(s: &str) -> Result<AdminRole, String> {
        match s {
            "viewer" => Ok(AdminRole::Viewer),
            "admin" => Ok(AdminRole::Admin),
            other => Err(format!("{other:?} is not a role (viewer, admin)")),
        }
    }
}

/// TLS on the control role's admin API.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ControlTlsConfig {
    /// Certificate chain, PEM.
    pub cert: PathBuf,
    /// Private key, PEM.
    pub key: PathBuf,
    /// CA certificates, PEM, whose client certificates authenticate a call on their own
    /// (mTLS). Unset: no client certificates are asked for; calls need a bearer token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_ca: Option<PathBuf>,
    /// The role of a client certificate by its subject's common name
    /// (`{ "ops-dashboard" = "viewer" }`); a name not listed gets `client_default_role`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub client_roles: BTreeMap<String, AdminRole>,
    /// The role of a verified client certificate whose common name `client_roles` does
    /// not list: `admin` (every certificate the CA vouches for is an admin, as before
    /// roles existed) or `viewer`.
    #[serde(default)]
    pub client_default_role: AdminRole,
}

/// A fixed offset from UTC, written `+HH:MM`, `-HH:MM` or `Z`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UtcOffset {
    minutes: i16,
}

impl UtcOffset {
    /// UTC itself.
    pub const UTC: UtcOffset = UtcOffset { minutes: 0 };

    /// The offset from UTC in minutes (east positive), from -12:00 to +14:00.
    pub const fn minutes(self) -> i16 {
        self.minutes
    }
}

/// Why a UTC offset did not parse.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid UTC offset {0:?}: expected +HH:MM, -HH:MM or Z, from -12:00 to +14:00")]
pub struct UtcOffsetError(String);

impl FromStr for UtcOffset {
    type Err = UtcOffsetError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let error = || UtcOffsetError(s.to_owned());
        if s == "Z" || s.eq_ignore_ascii_case("utc") {
            return Ok(UtcOffset::UTC);
        }
        let (sign, rest) = match s.as_bytes().first() {
            Some(b'+') => (1, &s[1..]),
            Some(b'-') => (-1, &s[1..]),
            _ => return Err(error()),
        };
        let (hours, mins) = rest.split_once(':').ok_or_else(error)?;
        if hours.len() != 2 || mins.len() != 2 {
            return Err(error());
        }
        let hours: i16 = hours.parse().map_err(|_| error())?;
        let mins: i16 = mins.parse().map_err(|_| error())?;
        if mins >= 60 {
            return Err(error());
        }
        let minutes = sign * (hours * 60 + mins);
        if !(-12 * 60..=14 * 60).contains(&minutes) {
            return Err(error());
        }
        Ok(UtcOffset { minutes })
    }
}

impl fmt::Display for UtcOffset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.minutes < 0 { '-' } else { '+' };
        let abs = self.minutes.unsigned_abs();
        write!(f, "{sign}{:02}:{:02}", abs / 60, abs % 60)
    }
}

impl Serialize for UtcOffset {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for UtcOffset {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

const fn any(port: u16) -> SocketAddr {
    SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::UNSPECIFIED), port)
}

const fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

const fn days(n: u64) -> Duration {
    Duration::from_secs(n * 24 * 3600)
}
