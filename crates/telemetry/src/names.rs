//! Every Herald metric, named in one place.
//!
//! Names follow the Prometheus conventions: a `herald_<component>_` prefix, base units
//! (`_seconds`), `_total` on counters. Labels are bounded: only the keys in [`labels`]
//! are used, and their values come from configuration or from small fixed sets, never
//! from traffic (no phone number, message id or free text ever becomes a label).
//!
//! | label | values |
//! | --- | --- |
//! | `account` | an account id from the rules (bounded by the number of accounts) |
//! | `carrier` | a carrier id from the rules (bounded by the number of carriers) |
//! | `status` | a small fixed set per metric: an SMPP status name (`ESME_ROK`, `ESME_RTHROTTLED`, ...) or an outcome word (`ok`, `error`, ...) |
//! | `role` | `edge`, `router`, `connector`, `control` (`dev` runs several in one process) |
//!
//! [`herald_node_info`](NODE_INFO) alone also carries `node` and `version`, constant for
//! the life of a process.
//!
//! [`ALL`] lists every metric with its type, unit, labels and help text; [`describe_all`]
//! registers them with the installed recorder, and `docs/metrics.md` is the same table for
//! operators (a test keeps them in step).

use metrics::Unit;

/// The label keys Herald uses.
pub mod labels {
    /// An account id.
    pub const ACCOUNT: &str = "account";
    /// A carrier id.
    pub const CARRIER: &str = "carrier";
    /// An outcome: an SMPP status name or an outcome word, from a fixed set per metric.
    pub const STATUS: &str = "status";
    /// How an ESME bound: `tx`, `rx` or `trx`.
    pub const MODE: &str = "mode";
    /// The SMPP request: `submit_sm`, `data_sm`, `submit_multi`.
    pub const COMMAND: &str = "command";
    /// The role of the component that recorded the sample.
    pub const ROLE: &str = "role";
    /// The node id (only on `herald_node_info`).
    pub const NODE: &str = "node";
    /// The Herald version (only on `herald_node_info`).
    pub const VERSION: &str = "version";
    /// A JetStream stream name (`HERALD_MT`, ...).
    pub const STREAM: &str = "stream";
    /// A durable consumer's name (one per role queue, carrier or account).
    pub const CONSUMER: &str = "consumer";
    /// A listener: the edge's `smpp`, `smpp_tls`, `http`, `https`; a node's own `admin`
    /// (HTTP), `control` (the admin gRPC API), `node_service`.
    pub const LISTENER: &str = "listener";
    /// A KV bucket name (`herald_status`, ...).
    pub const BUCKET: &str = "bucket";
    /// An operation: a KV bucket's `get`, `put`, `create`, `update`, ...; a NATS client's
    /// `out` (messages sent) or `in` (received).
    pub const OP: &str = "op";
    /// A route's id.
    pub const ROUTE: &str = "route";
}

use labels::{
    ACCOUNT, BUCKET, CARRIER, COMMAND, CONSUMER, LISTENER, MODE, NODE, OP, ROLE, ROUTE, STATUS,
    STREAM, VERSION,
};

// Edge: SMPP server for ESMEs and HTTP submit API.

/// Bind requests from ESMEs, by outcome (`status`: the `bind_*_resp` status name).
pub const EDGE_BINDS_TOTAL: &str = "herald_edge_binds_total";
/// ESME sessions currently bound on this edge.
pub const EDGE_SESSIONS: &str = "herald_edge_sessions";
/// Sessions this edge unbound because it held more than its share of the cluster's
/// (`edge.rebalance`).
pub const EDGE_SESSIONS_SHED_TOTAL: &str = "herald_edge_sessions_shed_total";
/// Connections this edge holds, bound or not, by listener.
pub const EDGE_CONNECTIONS: &str = "herald_edge_connections";
/// Connections closed as they were accepted because a limit was reached (`status`:
/// `total`, `per_ip`), by listener.
pub const EDGE_CONNECTIONS_REFUSED_TOTAL: &str = "herald_edge_connections_refused_total";
/// ESME sessions ended, by why (`status`: `unbound`, `peer_unbound`, `peer_closed`,
/// `peer_dead`, `inactive`, `framing`, `io`, `write_stalled`).
pub const EDGE_SESSION_ENDS_TOTAL: &str = "herald_edge_session_ends_total";
/// Binds and HTTP authentications refused before their password was checked (`status`:
/// `locked_out`, `queue_full`, `address_busy`).
pub const EDGE_AUTH_REFUSED_TOTAL: &str = "herald_edge_auth_refused_total";
/// Webhook delivery attempts by account and outcome (`status`: `delivered`, `retried`,
/// `refused`, `expired`, `misconfigured`).
pub const EDGE_WEBHOOK_DELIVERIES_TOTAL: &str = "herald_edge_webhook_deliveries_total";
/// How long a webhook attempt took, by account.
pub const EDGE_WEBHOOK_SECONDS: &str = "herald_edge_webhook_seconds";
/// Lockouts begun after repeated failures (`status`: `account`, `address`).
pub const EDGE_LOCKOUTS_TOTAL: &str = "herald_edge_lockouts_total";
/// HTTP connections or requests cut off by a timeout (`status`: `header`, the headers or
/// the next request on an idle connection; `body`, the body).
pub const EDGE_HTTP_TIMEOUTS_TOTAL: &str = "herald_edge_http_timeouts_total";
/// `submit_sm`, `data_sm` and `submit_multi` destinations answered, by command and
/// response status name.
pub const EDGE_SUBMIT_TOTAL: &str = "herald_edge_submit_total";
/// Submits refused because their route was over its `quota`, by route.
pub const EDGE_ROUTE_THROTTLED_TOTAL: &str = "herald_edge_route_throttled_total";
/// Accepted messages whose publish the edge is waiting on the bus to acknowledge.
pub const EDGE_INFLIGHT: &str = "herald_edge_inflight";
/// Time from reading a `submit_sm` to writing its `submit_sm_resp` (includes the bus ack).
pub const EDGE_SUBMIT_SECONDS: &str = "herald_edge_submit_seconds";
/// `deliver_sm` (receipts and MO) sent to ESMEs, by the `deliver_sm_resp` status name
/// (`timeout` when none came).
pub const EDGE_DELIVER_TOTAL: &str = "herald_edge_deliver_total";
/// Time from writing a `deliver_sm` to reading its `deliver_sm_resp`.
pub const EDGE_DELIVER_SECONDS: &str = "herald_edge_deliver_seconds";
/// HTTP submit API requests, by HTTP status code.
pub const EDGE_HTTP_SUBMIT_TOTAL: &str = "herald_edge_http_submit_total";
/// HTTP submit requests with an `Idempotency-Key`, by what the key decided (`claimed`,
/// `replayed`, `in_use`, `interrupted`, `reused`, `error`).
pub const EDGE_HTTP_IDEMPOTENCY_TOTAL: &str = "herald_edge_http_idempotency_total";

// Router.

/// MT messages routed, by outcome (`routed`, `rerouted` after a carrier failure,
/// `rejected`, `opted_out`, `no_route`, `unreachable`, `exhausted`, `expired`, `invalid`,
/// `error` when the publish failed and the message is retried; see `docs/router.md`);
/// `carrier` is empty when no carrier was chosen.
pub const ROUTER_ROUTE_TOTAL: &str = "herald_router_route_total";
/// Time to route one MT message: from consuming it to the ack of its publish to the
/// carrier queue.
pub const ROUTER_ROUTE_SECONDS: &str = "herald_router_route_seconds";
/// MO messages routed to accounts, by outcome (`routed`, `default` to the default
/// account, `opt_out`, `opt_in`, `no_route` dropped, `invalid`, `error` retried).
pub const ROUTER_MO_TOTAL: &str = "herald_router_mo_total";
/// Replies sent to subscribers' keywords (`status`: `help`, `opt_out`, `opt_in`).
pub const ROUTER_MO_REPLIES_TOTAL: &str = "herald_router_mo_replies_total";

// Connector.

/// Carrier binds currently up.
pub const CONNECTOR_BINDS: &str = "herald_connector_binds";
/// Bind attempts to carriers, by outcome (the `bind_*_resp` status name, or `error`).
pub const CONNECTOR_BIND_ATTEMPTS_TOTAL: &str = "herald_connector_bind_attempts_total";
/// `submit_sm` sent to carriers, by the carrier's `submit_sm_resp` status name
/// (`timeout` when none came, `bind_lost` when the bind went first, `not_sent` when the
/// session refused it before writing).
pub const CONNECTOR_SUBMIT_TOTAL: &str = "herald_connector_submit_total";
/// Time from writing a `submit_sm` to a carrier to reading its `submit_sm_resp`.
pub const CONNECTOR_SUBMIT_SECONDS: &str = "herald_connector_submit_seconds";
/// Submits to carriers awaiting their response (the window in use).
pub const CONNECTOR_INFLIGHT: &str = "herald_connector_inflight";
/// Delivery receipts from carriers, by outcome: `matched`; `held` (no mapping yet: kept
/// in the dead letters and matched again); `matched_late` (a held one that found its
/// message); `repeated` (a carrier's resend, or the receipt of a message's duplicate
/// send); `rerouted` (a failure receipt that sent the message to the route's next
/// carrier); `unmatched` (held past `connector.receipt_hold` without a match); `invalid`.
pub const CONNECTOR_RECEIPTS_TOTAL: &str = "herald_connector_receipts_total";
/// Messages delivered to a connector again (a connector died, an ack was lost), by what
/// became of them: `already_submitted` (not sent again), `mapping_repaired` (not sent
/// again; its carrier-id mapping written from its status), `sent_again` (no record that
/// the carrier took it: sent again, a possible duplicate).
pub const CONNECTOR_REDELIVERED_TOTAL: &str = "herald_connector_redelivered_total";
/// Messages whose ESME-set TLVs, `protocol_id` or `service_type` the carrier's content
/// policy did not allow (`status`: `refused`, `stripped`).
pub const CONNECTOR_CONTENT_POLICY_TOTAL: &str = "herald_connector_content_policy_total";
/// Messages whose sender a carrier's `senders` rules rewrote.
pub const CONNECTOR_SENDERS_REWRITTEN_TOTAL: &str = "herald_connector_senders_rewritten_total";
/// MO messages received from carriers.
pub const CONNECTOR_MO_TOTAL: &str = "herald_connector_mo_total";
/// Binds the carrier's rules allow across the cluster.
pub const CONNECTOR_BINDS_CONFIGURED: &str = "herald_connector_binds_configured";
/// The carrier's TPS limit from the rules, across the cluster.
pub const CONNECTOR_TPS_LIMIT: &str = "herald_connector_tps_limit";
/// The sum of this connector's current submit windows to the carrier.
pub const CONNECTOR_WINDOW_SIZE: &str = "herald_connector_window_size";
/// The SMPP 5.0 `congestion_state` (0–100) in the carrier's latest accepting answer;
/// absent for carriers that send none.
pub const CONNECTOR_CARRIER_CONGESTION: &str = "herald_connector_carrier_congestion";
/// 1 while etcd renews this connector's bind-slot lease; 0 while it cannot (the binds
/// held stay up, no slot is taken, for at most `connector.etcd_unreachable_grace`) or before the
/// first lease.
pub const CONNECTOR_ETCD_REACHABLE: &str = "herald_connector_etcd_reachable";
/// Carrier binds this connector keeps while etcd does not renew its slot lease: other
/// connectors may take their slots once the lease expires (docs/adr/0014).
pub const CONNECTOR_BINDS_UNLEASED: &str = "herald_connector_binds_unleased";
/// Bind slots claimed again under a new lease after etcd came back, by outcome: `kept`,
/// or `surplus` (another connector took the slot meanwhile: its bind closes after its
/// in-flight work).
pub const CONNECTOR_SLOT_RECLAIMS_TOTAL: &str = "herald_connector_slot_reclaims_total";

// Bus (JetStream).

/// Publishes to the bus, by outcome (`ok`, `duplicate`, `full`, `error`).
pub const BUS_PUBLISH_TOTAL: &str = "herald_bus_publish_total";
/// Time from a publish to its JetStream ack.
pub const BUS_PUBLISH_SECONDS: &str = "herald_bus_publish_seconds";
/// Publishes sent again (same dedup id) after a failure the bus recovers from: a lost
/// connection, a stream without a leader, an ack that did not come.
pub const BUS_PUBLISH_RETRIES_TOTAL: &str = "herald_bus_publish_retries_total";
/// Publishes currently awaiting their ack.
pub const BUS_INFLIGHT_PUBLISHES: &str = "herald_bus_inflight_publishes";
/// Messages per batch a batching publisher sent (1 when nothing was waiting).
pub const BUS_BATCH_MEMBERS: &str = "herald_bus_batch_members";
/// Messages consumed from the bus, by outcome (`ack`, `nak`, `term`, `dead_letter`).
pub const BUS_CONSUME_TOTAL: &str = "herald_bus_consume_total";
/// 1 while connected to NATS, 0 otherwise.
pub const BUS_CONNECTED: &str = "herald_bus_connected";
/// Operations on the bus's KV buckets, by bucket and operation (`get`, `put`, `create`,
/// `update`, `put_unanswered`, `keys`): what a message costs in KV round trips.
pub const BUS_KV_OPERATIONS_TOTAL: &str = "herald_bus_kv_operations_total";
/// Messages this process's NATS connection sent (`op="out"`: publishes, acks, KV
/// operations, pull requests) and received (`op="in"`), from the client's own count.
pub const BUS_CLIENT_MESSAGES_TOTAL: &str = "herald_bus_client_messages_total";
/// Messages stored in a stream (polled by routers).
pub const BUS_STREAM_MESSAGES: &str = "herald_bus_stream_messages";
/// Messages of a stream not yet delivered to a durable consumer (polled by routers).
pub const BUS_CONSUMER_PENDING: &str = "herald_bus_consumer_pending";
/// Messages delivered to a durable consumer and not yet acknowledged (polled by routers).
pub const BUS_CONSUMER_ACK_PENDING: &str = "herald_bus_consumer_ack_pending";

// Rules (etcd).

/// The etcd revision of the rules snapshot this node routes with.
pub const RULES_REVISION: &str = "herald_rules_revision";
/// Rules snapshot rebuilds (start-up and every watch event), by outcome (`ok`, `error`).
pub const RULES_RELOAD_TOTAL: &str = "herald_rules_reload_total";
/// Unix time of the last successful rules snapshot rebuild.
pub const RULES_LAST_RELOAD_TIMESTAMP_SECONDS: &str = "herald_rules_last_reload_timestamp_seconds";
/// 1 while etcd is unreachable and the node serves its last-known-good rules.
pub const RULES_STALE: &str = "herald_rules_stale";

// Node.

/// Always 1; its labels say which node, role and version this process is.
pub const NODE_INFO: &str = "herald_node_info";
/// 1 while `/readyz` answers 200, 0 otherwise (not ready yet, or draining).
pub const NODE_READY: &str = "herald_node_ready";
/// Connections held by a node's own ports (admin HTTP, admin gRPC, NodeService), by
/// listener.
pub const NODE_CONNECTIONS: &str = "herald_node_connections";
/// Connections a node's own port closed: beyond its cap as they were accepted
/// (`status`: `total`), or silent past the first-byte timeout (`silent`), by listener.
pub const NODE_CONNECTIONS_REFUSED_TOTAL: &str = "herald_node_connections_refused_total";

/// The type of a metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetricKind {
    /// Only goes up; resets on restart.
    Counter,
    /// Goes up and down.
    Gauge,
    /// A distribution, rendered as a Prometheus histogram.
    Histogram,
}

impl MetricKind {
    /// The Prometheus type name.
    pub const fn as_str(self) -> &'static str {
        match self {
            MetricKind::Counter => "counter",
            MetricKind::Gauge => "gauge",
            MetricKind::Histogram => "histogram",
        }
    }
}

/// One metric: its name, type, unit, label keys and help text.
#[derive(Clone, Copy, Debug)]
pub struct MetricDef {
    /// The full Prometheus name.
    pub name: &'static str,
    /// Counter, gauge or histogram.
    pub kind: MetricKind,
    /// The unit of its values.
    pub unit: Unit,
    /// The label keys it is recorded with.
    pub labels: &'static [&'static str],
    /// The help text shown in `/metrics`.
    pub help: &'static str,
}

const fn def(
    name: &'static str,
    kind: MetricKind,
    unit: Unit,
    labels: &'static [&'static str],
    help: &'static str,
) -> MetricDef {
    MetricDef {
        name,
        kind,
        unit,
        labels,
        help,
    }
}

use MetricKind::{Counter, Gauge, Histogram};

/// Every Herald metric.
pub const ALL: &[MetricDef] = &[
    def(
        EDGE_BINDS_TOTAL,
        Counter,
        Unit::Count,
        &[ACCOUNT, MODE, STATUS],
        "Bind requests from ESMEs, by bind mode and outcome.",
    ),
    def(
        EDGE_SESSIONS,
        Gauge,
        Unit::Count,
        &[ACCOUNT],
        "ESME sessions currently bound on this edge.",
    ),
    def(
        EDGE_SESSIONS_SHED_TOTAL,
        Counter,
        Unit::Count,
        &[],
        "Sessions this edge unbound because it held more than its share of the cluster's.",
    ),
    def(
        EDGE_CONNECTIONS,
        Gauge,
        Unit::Count,
        &[LISTENER],
        "Connections this edge holds, bound or not, by listener.",
    ),
    def(
        EDGE_CONNECTIONS_REFUSED_TOTAL,
        Counter,
        Unit::Count,
        &[LISTENER, STATUS],
        "Connections closed as accepted because a connection limit was reached.",
    ),
    def(
        EDGE_SESSION_ENDS_TOTAL,
        Counter,
        Unit::Count,
        &[STATUS],
        "ESME sessions ended, by why.",
    ),
    def(
        EDGE_AUTH_REFUSED_TOTAL,
        Counter,
        Unit::Count,
        &[STATUS],
        "Binds and HTTP authentications refused before their password was checked.",
    ),
    def(
        EDGE_LOCKOUTS_TOTAL,
        Counter,
        Unit::Count,
        &[STATUS],
        "Lockouts begun after repeated authentication failures, of an account or an address.",
    ),
    def(
        EDGE_HTTP_TIMEOUTS_TOTAL,
        Counter,
        Unit::Count,
        &[STATUS],
        "HTTP connections or requests cut off by the header or body timeout.",
    ),
    def(
        EDGE_SUBMIT_TOTAL,
        Counter,
        Unit::Count,
        &[ACCOUNT, COMMAND, STATUS],
        "submit_sm, data_sm and submit_multi destinations answered, by command and status.",
    ),
    def(
        EDGE_ROUTE_THROTTLED_TOTAL,
        Counter,
        Unit::Count,
        &[ROUTE],
        "Submits refused because their route was over its quota.",
    ),
    def(
        EDGE_INFLIGHT,
        Gauge,
        Unit::Count,
        &[],
        "Accepted messages waiting for the bus to acknowledge their publish.",
    ),
    def(
        EDGE_SUBMIT_SECONDS,
        Histogram,
        Unit::Seconds,
        &[ACCOUNT],
        "Time from reading a submit_sm to writing its submit_sm_resp.",
    ),
    def(
        EDGE_DELIVER_TOTAL,
        Counter,
        Unit::Count,
        &[ACCOUNT, STATUS],
        "deliver_sm sent to ESMEs, by deliver_sm_resp status.",
    ),
    def(
        EDGE_DELIVER_SECONDS,
        Histogram,
        Unit::Seconds,
        &[ACCOUNT],
        "Time from writing a deliver_sm to reading its deliver_sm_resp.",
    ),
    def(
        EDGE_HTTP_SUBMIT_TOTAL,
        Counter,
        Unit::Count,
        &[ACCOUNT, STATUS],
        "HTTP submit API requests, by HTTP status code.",
    ),
    def(
        EDGE_HTTP_IDEMPOTENCY_TOTAL,
        Counter,
        Unit::Count,
        &[ACCOUNT, STATUS],
        "HTTP submit requests with an Idempotency-Key, by what the key decided.",
    ),
    def(
        ROUTER_ROUTE_TOTAL,
        Counter,
        Unit::Count,
        &[ACCOUNT, CARRIER, STATUS],
        "MT messages routed, by outcome.",
    ),
    def(
        ROUTER_ROUTE_SECONDS,
        Histogram,
        Unit::Seconds,
        &[CARRIER],
        "Time to route one MT message, consume to publish ack.",
    ),
    def(
        ROUTER_MO_TOTAL,
        Counter,
        Unit::Count,
        &[ACCOUNT, CARRIER, STATUS],
        "MO messages routed to accounts, by outcome.",
    ),
    def(
        ROUTER_MO_REPLIES_TOTAL,
        Counter,
        Unit::Count,
        &[ACCOUNT, STATUS],
        "Replies sent to subscribers' HELP, opt-out and opt-in keywords.",
    ),
    def(
        CONNECTOR_BINDS,
        Gauge,
        Unit::Count,
        &[CARRIER],
        "Carrier binds currently up.",
    ),
    def(
        CONNECTOR_BIND_ATTEMPTS_TOTAL,
        Counter,
        Unit::Count,
        &[CARRIER, STATUS],
        "Bind attempts to carriers, by outcome.",
    ),
    def(
        CONNECTOR_SUBMIT_TOTAL,
        Counter,
        Unit::Count,
        &[CARRIER, STATUS],
        "submit_sm sent to carriers, by submit_sm_resp status.",
    ),
    def(
        CONNECTOR_SUBMIT_SECONDS,
        Histogram,
        Unit::Seconds,
        &[CARRIER],
        "Time from writing a submit_sm to a carrier to reading its response.",
    ),
    def(
        CONNECTOR_INFLIGHT,
        Gauge,
        Unit::Count,
        &[CARRIER],
        "Submits to carriers awaiting their response.",
    ),
    def(
        CONNECTOR_RECEIPTS_TOTAL,
        Counter,
        Unit::Count,
        &[CARRIER, STATUS],
        "Delivery receipts from carriers, by outcome.",
    ),
    def(
        CONNECTOR_REDELIVERED_TOTAL,
        Counter,
        Unit::Count,
        &[CARRIER, STATUS],
        "Messages delivered to a connector again, by what became of them.",
    ),
    def(
        CONNECTOR_CONTENT_POLICY_TOTAL,
        Counter,
        Unit::Count,
        &[CARRIER, STATUS],
        "Messages with content the carrier's policy does not allow, refused or stripped.",
    ),
    def(
        CONNECTOR_SENDERS_REWRITTEN_TOTAL,
        Counter,
        Unit::Count,
        &[CARRIER],
        "Messages whose sender the carrier's sender rewriting rules changed.",
    ),
    def(
        CONNECTOR_MO_TOTAL,
        Counter,
        Unit::Count,
        &[CARRIER],
        "MO messages received from carriers.",
    ),
    def(
        CONNECTOR_BINDS_CONFIGURED,
        Gauge,
        Unit::Count,
        &[CARRIER],
        "Binds the carrier's rules allow across the cluster.",
    ),
    def(
        CONNECTOR_TPS_LIMIT,
        Gauge,
        Unit::Count,
        &[CARRIER],
        "The carrier's TPS limit from the rules, across the cluster.",
    ),
    def(
        CONNECTOR_WINDOW_SIZE,
        Gauge,
        Unit::Count,
        &[CARRIER],
        "The sum of this connector's current submit windows to the carrier.",
    ),
    def(
        CONNECTOR_CARRIER_CONGESTION,
        Gauge,
        Unit::Count,
        &[CARRIER],
        "The congestion_state (0-100) in the carrier's latest accepting answer.",
    ),
    def(
        CONNECTOR_ETCD_REACHABLE,
        Gauge,
        Unit::Count,
        &[],
        "1 while etcd renews the connector's bind-slot lease, 0 while binds are held without it.",
    ),
    def(
        CONNECTOR_BINDS_UNLEASED,
        Gauge,
        Unit::Count,
        &[],
        "Carrier binds kept while etcd does not renew the connector's bind-slot lease.",
    ),
    def(
        CONNECTOR_SLOT_RECLAIMS_TOTAL,
        Counter,
        Unit::Count,
        &[CARRIER, STATUS],
        "Bind slots claimed again after etcd came back, kept or surplus.",
    ),
    def(
        BUS_PUBLISH_TOTAL,
        Counter,
        Unit::Count,
        &[STATUS],
        "Publishes to the bus, by outcome.",
    ),
    def(
        BUS_PUBLISH_SECONDS,
        Histogram,
        Unit::Seconds,
        &[],
        "Time from a publish to its JetStream ack.",
    ),
    def(
        BUS_PUBLISH_RETRIES_TOTAL,
        Counter,
        Unit::Count,
        &[],
        "Publishes sent again (same dedup id) while the bus fails over.",
    ),
    def(
        BUS_BATCH_MEMBERS,
        Histogram,
        Unit::Count,
        &[],
        "Messages per batch a batching publisher sent (1 when nothing was waiting).",
    ),
    def(
        BUS_INFLIGHT_PUBLISHES,
        Gauge,
        Unit::Count,
        &[],
        "Publishes currently awaiting their ack.",
    ),
    def(
        BUS_CONSUME_TOTAL,
        Counter,
        Unit::Count,
        &[STATUS],
        "Messages consumed from the bus, by outcome.",
    ),
    def(
        BUS_KV_OPERATIONS_TOTAL,
        Counter,
        Unit::Count,
        &[BUCKET, OP],
        "Operations on the bus's KV buckets, by bucket and operation.",
    ),
    def(
        BUS_CLIENT_MESSAGES_TOTAL,
        Counter,
        Unit::Count,
        &[OP],
        "Messages this process's NATS connection sent (out) and received (in).",
    ),
    def(
        BUS_STREAM_MESSAGES,
        Gauge,
        Unit::Count,
        &[STREAM],
        "Messages stored in a stream (polled by routers).",
    ),
    def(
        BUS_CONSUMER_PENDING,
        Gauge,
        Unit::Count,
        &[STREAM, CONSUMER],
        "Messages of a stream not yet delivered to a durable consumer (polled by routers).",
    ),
    def(
        BUS_CONSUMER_ACK_PENDING,
        Gauge,
        Unit::Count,
        &[STREAM, CONSUMER],
        "Messages delivered to a durable consumer, not yet acknowledged (polled by routers).",
    ),
    def(
        BUS_CONNECTED,
        Gauge,
        Unit::Count,
        &[],
        "1 while connected to NATS, 0 otherwise.",
    ),
    def(
        RULES_REVISION,
        Gauge,
        Unit::Count,
        &[],
        "etcd revision of the rules snapshot in use.",
    ),
    def(
        RULES_RELOAD_TOTAL,
        Counter,
        Unit::Count,
        &[STATUS],
        "Rules snapshot rebuilds, by outcome.",
    ),
    def(
        RULES_LAST_RELOAD_TIMESTAMP_SECONDS,
        Gauge,
        Unit::Seconds,
        &[],
        "Unix time of the last successful rules rebuild.",
    ),
    def(
        RULES_STALE,
        Gauge,
        Unit::Count,
        &[],
        "1 while serving last-known-good rules with etcd unreachable.",
    ),
    def(
        NODE_INFO,
        Gauge,
        Unit::Count,
        &[NODE, ROLE, VERSION],
        "Always 1; labels name this node, its role and version.",
    ),
    def(
        NODE_READY,
        Gauge,
        Unit::Count,
        &[],
        "1 while /readyz answers 200, 0 otherwise.",
    ),
    def(
        NODE_CONNECTIONS,
        Gauge,
        Unit::Count,
        &[LISTENER],
        "Connections held by a node's own ports (admin HTTP, admin gRPC, NodeService).",
    ),
    def(
        NODE_CONNECTIONS_REFUSED_TOTAL,
        Counter,
        Unit::Count,
        &[LISTENER, STATUS],
        "Connections a node's own port closed: beyond its cap (total), or silent past the first-byte timeout (silent).",
    ),
];

/// Registers the help text and unit of every metric in [`ALL`] with the installed
/// recorder. [`crate::install_metrics`] calls it; calling it again is harmless.
pub fn describe_all() {
    for def in ALL {
        match def.kind {
            MetricKind::Counter => metrics::describe_counter!(def.name, def.unit, def.help),
            MetricKind::Gauge => metrics::describe_gauge!(def.name, def.unit, def.help),
            MetricKind::Histogram => metrics::describe_histogram!(def.name, def.unit, def.help),
        }
    }
}

/// Sets [`NODE_INFO`] to 1 with this process's node id, role and version.
pub fn set_node_info(node: &str, role: &str) {
    metrics::gauge!(
        NODE_INFO,
        NODE => node.to_owned(),
        ROLE => role.to_owned(),
        VERSION => env!("CARGO_PKG_VERSION"),
    )
    .set(1.0);
}
