//! Checks that values which parsed also make sense: run before any port is bound.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use crate::{Config, ConfigErrors, SecretRef};

/// The most `nats.partitions` may be: `herald_bus::partition::MAX_PARTITIONS`, which the
/// node's tests check it equals (this crate does not depend on the bus).
pub const MAX_NATS_PARTITIONS: u16 = 64;

/// Shortest `nats.idempotency_ttl`: well past the longest an HTTP request may run.
const MIN_IDEMPOTENCY_TTL: Duration = Duration::from_secs(600);

/// NATS URL schemes the client understands.
const NATS_SCHEMES: &[&str] = &["nats", "tls", "ws", "wss"];

impl Config {
    /// Checks every section and returns every problem found, each with its key.
    ///
    /// # Errors
    ///
    /// [`ConfigErrors`] listing each problem: empty lists, zero sizes and durations,
    /// missing files, contradictory timeouts, two listeners on one address.
    pub fn validate(&self) -> Result<(), ConfigErrors> {
        let mut e = ConfigErrors::default();
        self.validate_node(&mut e);
        self.validate_nats(&mut e);
        self.validate_etcd(&mut e);
        self.validate_telemetry(&mut e);
        self.validate_edge(&mut e);
        self.validate_router(&mut e);
        self.validate_connector(&mut e);
        self.validate_control(&mut e);
        self.validate_listeners(&mut e);
        for (key, value) in self.secrets() {
            secret(&mut e, key, value);
        }
        e.into_result()
    }

    fn validate_node(&self, e: &mut ConfigErrors) {
        if let Some(id) = &self.node.id {
            name(e, "node.id", id);
        }
        if let Some(region) = &self.node.region {
            name(e, "node.region", region);
        }
        if let Some(advertise) = &self.grpc.advertise
            && !is_advertisable(advertise)
        {
            e.add(
                "grpc.advertise",
                format!(
                    "{advertise:?} is not an IP or host name with an optional port (10.0.0.7, edge-0.herald:9091)"
                ),
            );
        }
    }

    fn validate_control(&self, e: &mut ConfigErrors) {
        let c = &self.control;
        if let Some(path) = &c.tokens_file {
            file_exists(e, "control.tokens_file", path);
        }
        if c.audit_retention < Duration::from_secs(3600) {
            e.add(
                "control.audit_retention",
                "under an hour: audit records would vanish before anyone reads them",
            );
        }
        if let Some(path) = &self.grpc.token_file {
            file_exists(e, "grpc.token_file", path);
        }
        if let Some(tls) = &self.grpc.tls {
            file_exists(e, "grpc.tls.cert", &tls.cert);
            file_exists(e, "grpc.tls.key", &tls.key);
            file_exists(e, "grpc.tls.ca", &tls.ca);
            if !is_dns_name(&tls.server_name) {
                e.add(
                    "grpc.tls.server_name",
                    format!("{:?} is not a DNS name", tls.server_name),
                );
            }
        }
        if let Some(tls) = &c.tls {
            file_exists(e, "control.tls.cert", &tls.cert);
            file_exists(e, "control.tls.key", &tls.key);
            if let Some(ca) = &tls.client_ca {
                file_exists(e, "control.tls.client_ca", ca);
            }
        }
    }

    fn validate_nats(&self, e: &mut ConfigErrors) {
        let n = &self.nats;
        if n.urls.is_empty() {
            e.add("nats.urls", "empty: give at least one NATS server URL");
        }
        for (i, url) in n.urls.iter().enumerate() {
            let scheme_ok = match url.split_once("://") {
                Some((scheme, rest)) => NATS_SCHEMES.contains(&scheme) && !rest.is_empty(),
                None => !url.is_empty(),
            };
            if !scheme_ok || url.contains(char::is_whitespace) {
                e.add(
                    format!("nats.urls[{i}]"),
                    format!("{url:?} is not a NATS URL (nats://host:4222, tls://host:4222)"),
                );
            }
        }
        if !(1..=5).contains(&n.replicas) {
            e.add(
                "nats.replicas",
                format!("must be from 1 to 5, not {}", n.replicas),
            );
        }
        let max_partitions = MAX_NATS_PARTITIONS;
        for (key, count) in [
            ("nats.partitions", Some(n.partitions)),
            ("nats.partitions_also_read", n.partitions_also_read),
        ] {
            if let Some(count) = count.filter(|c| !(1..=max_partitions).contains(c)) {
                e.add(
                    key,
                    format!("must be from 1 to {max_partitions}, not {count}"),
                );
            }
        }
        positive(e, "nats.connect_timeout", n.connect_timeout);
        positive(e, "nats.request_timeout", n.request_timeout);
        if n.publish_hold > Duration::from_secs(60) {
            // A submit held that long has been given up on by its ESME.
            e.add(
                "nats.publish_hold",
                format!(
                    "must be at most 60s, not {}",
                    humantime_serde::re::humantime::format_duration(n.publish_hold)
                ),
            );
        }
        at_least_one(e, "nats.max_inflight_publishes", n.max_inflight_publishes);
        validate_nats_auth(e, n);
        if let Some(tls) = &n.tls {
            if let Some(ca) = &tls.ca {
                file_exists(e, "nats.tls.ca", ca);
            }
            client_certificate(e, "nats.tls", tls.cert.as_deref(), tls.key.as_deref());
        }
        positive(e, "nats.duplicate_window", n.duplicate_window);
        positive(e, "nats.events_max_age", n.events_max_age);
        positive(e, "nats.dead_letter_max_age", n.dead_letter_max_age);
        positive(e, "nats.status_ttl", n.status_ttl);
        positive(e, "nats.id_map_ttl", n.id_map_ttl);
        // Shorter than a request may take to settle, and a retry could claim the key of a
        // request still running, and send it all again.
        if n.idempotency_ttl < MIN_IDEMPOTENCY_TTL {
            e.add(
                "nats.idempotency_ttl",
                format!(
                    "must be at least {}",
                    humantime_serde::re::humantime::format_duration(MIN_IDEMPOTENCY_TTL)
                ),
            );
        }
    }

    fn validate_etcd(&self, e: &mut ConfigErrors) {
        let c = &self.etcd;
        if c.endpoints.is_empty() {
            e.add("etcd.endpoints", "empty: give at least one etcd endpoint");
        }
        for (i, endpoint) in c.endpoints.iter().enumerate() {
            if !is_http_url(endpoint) {
                e.add(
                    format!("etcd.endpoints[{i}]"),
                    format!("{endpoint:?} is not an etcd endpoint (http://host:2379)"),
                );
            }
        }
        if !c.prefix.starts_with('/') || !c.prefix.ends_with('/') {
            e.add(
                "etcd.prefix",
                format!("{:?} must start and end with '/'", c.prefix),
            );
        }
        positive(e, "etcd.connect_timeout", c.connect_timeout);
        let https = c
            .endpoints
            .iter()
            .filter(|endpoint| endpoint.starts_with("https://"))
            .count();
        match &c.tls {
            Some(tls) => {
                if https != c.endpoints.len() {
                    e.add(
                        "etcd.tls",
                        "is set, so every etcd.endpoints entry must be https://",
                    );
                }
                file_exists(e, "etcd.tls.ca", &tls.ca);
                client_certificate(e, "etcd.tls", tls.cert.as_deref(), tls.key.as_deref());
            }
            None if https > 0 => e.add(
                "etcd.endpoints",
                "https:// endpoints need etcd.tls.ca (the CA of etcd's certificate)",
            ),
            None => {}
        }
        match (&c.user, &c.password) {
            (Some(user), Some(_)) if user.is_empty() => e.add("etcd.user", "is empty"),
            (Some(_), None) => e.add("etcd.user", "needs etcd.password"),
            (None, Some(_)) => e.add("etcd.password", "needs etcd.user"),
            _ => {}
        }
        if c.lease_ttl < Duration::from_secs(1) || c.lease_ttl.subsec_nanos() != 0 {
            e.add(
                "etcd.lease_ttl",
                format!(
                    "must be a whole number of seconds, at least 1s, not {:?}",
                    c.lease_ttl
                ),
            );
        }
    }

    fn validate_telemetry(&self, e: &mut ConfigErrors) {
        let t = &self.telemetry;
        if let Err(error) = tracing_subscriber::EnvFilter::try_new(&t.log_filter) {
            e.add(
                "telemetry.log_filter",
                format!("{:?} is not a valid filter: {error}", t.log_filter),
            );
        }
        if let Some(endpoint) = &t.otlp_endpoint
            && !is_http_url(endpoint)
        {
            e.add(
                "telemetry.otlp_endpoint",
                format!("{endpoint:?} is not an OTLP/gRPC URL (http://collector:4317)"),
            );
        }
    }

    fn validate_edge(&self, e: &mut ConfigErrors) {
        let c = &self.edge;
        if let Some(tls) = &c.tls {
            file_exists(e, "edge.tls.cert", &tls.cert);
            file_exists(e, "edge.tls.key", &tls.key);
        }
        positive(e, "edge.bind_timeout", c.bind_timeout);
        positive(e, "edge.enquire_link_interval", c.enquire_link_interval);
        positive(e, "edge.inactivity_timeout", c.inactivity_timeout);
        positive(e, "edge.response_timeout", c.response_timeout);
        if c.enquire_link_interval >= c.inactivity_timeout {
            e.add(
                "edge.enquire_link_interval",
                format!(
                    "must be shorter than edge.inactivity_timeout ({} is not shorter than {})",
                    humantime_serde::re::humantime::format_duration(c.enquire_link_interval),
                    humantime_serde::re::humantime::format_duration(c.inactivity_timeout),
                ),
            );
        }
        at_least_one(e, "edge.max_window", c.max_window as usize);
        if !(512..=16 * 1024 * 1024).contains(&c.max_pdu_len) {
            e.add(
                "edge.max_pdu_len",
                format!("must be from 512 to 16777216, not {}", c.max_pdu_len),
            );
        }
        at_least_one(e, "edge.max_sessions", c.max_sessions as usize);
        at_least_one(e, "edge.max_connections", c.max_connections as usize);
        at_least_one(
            e,
            "edge.max_connections_per_ip",
            c.max_connections_per_ip as usize,
        );
        positive(e, "edge.write_timeout", c.write_timeout);
        positive(e, "edge.http_header_timeout", c.http_header_timeout);
        positive(e, "edge.http_body_timeout", c.http_body_timeout);
        at_least_one(e, "edge.password_checks", c.password_checks as usize);
        at_least_one(e, "edge.lockout_failures", c.lockout_failures as usize);
        positive(e, "edge.lockout", c.lockout);
        positive(e, "edge.rebalance_interval", c.rebalance_interval);
        at_least_one(
            e,
            "edge.rebalance_max_sheds",
            c.rebalance_max_sheds as usize,
        );
    }

    fn validate_router(&self, e: &mut ConfigErrors) {
        let c = &self.router;
        at_least_one(e, "router.workers", c.workers);
        at_least_one(e, "router.batch", c.batch);
        positive(e, "router.ack_wait", c.ack_wait);
        at_least_one(e, "router.max_deliveries", c.max_deliveries as usize);
        at_least_one(e, "router.in_flight", c.in_flight);
        at_least_one(e, "router.max_attempts", c.max_attempts as usize);
        if !(c.unhealthy_error_rate > 0.0 && c.unhealthy_error_rate <= 1.0) {
            e.add(
                "router.unhealthy_error_rate",
                "must be above 0 and at most 1",
            );
        }
    }

    fn validate_connector(&self, e: &mut ConfigErrors) {
        let c = &self.connector;
        at_least_one(e, "connector.batch", c.batch);
        positive(e, "connector.ack_wait", c.ack_wait);
        at_least_one(e, "connector.max_deliveries", c.max_deliveries as usize);
        positive(
            e,
            "connector.reconnect_backoff_min",
            c.reconnect_backoff_min,
        );
        if c.reconnect_backoff_min > c.reconnect_backoff_max {
            e.add(
                "connector.reconnect_backoff_min",
                "must not be longer than connector.reconnect_backoff_max",
            );
        }
        positive(e, "connector.receipt_match_retry", c.receipt_match_retry);
        positive(e, "connector.receipt_hold", c.receipt_hold);
        if c.slot_lease_ttl < Duration::from_secs(1) || c.slot_lease_ttl.subsec_nanos() != 0 {
            e.add(
                "connector.slot_lease_ttl",
                "must be whole seconds, at least 1s",
            );
        }
        positive(e, "connector.rebalance_interval", c.rebalance_interval);
        positive(e, "connector.health_interval", c.health_interval);
        positive(e, "connector.drain_timeout", c.drain_timeout);
    }

    /// Every secret this config refers to, with its key: NATS and etcd credentials.
    pub fn secrets(&self) -> Vec<(&'static str, &SecretRef)> {
        [
            ("nats.credentials", &self.nats.credentials),
            ("nats.nkey_seed", &self.nats.nkey_seed),
            ("nats.password", &self.nats.password),
            ("nats.token", &self.nats.token),
            ("etcd.password", &self.etcd.password),
        ]
        .into_iter()
        .filter_map(|(key, secret)| secret.as_ref().map(|s| (key, s)))
        .collect()
    }

    /// Every listener this config names, with its key. All roles' listeners are checked
    /// together, since `herald dev` runs every role in one process.
    pub fn listeners(&self) -> Vec<(&'static str, SocketAddr)> {
        let mut listeners = vec![
            ("admin.listen", self.admin.listen),
            ("grpc.listen", self.grpc.listen),
            ("edge.smpp_listen", self.edge.smpp_listen),
        ];
        if let Some(tls) = &self.edge.tls {
            listeners.push(("edge.tls.listen", tls.listen));
            if let Some(https) = tls.http_listen {
                listeners.push(("edge.tls.http_listen", https));
            }
        }
        if let Some(http) = self.edge.http_listen {
            listeners.push(("edge.http_listen", http));
        }
        listeners.push(("control.listen", self.control.listen));
        listeners
    }

    fn validate_listeners(&self, e: &mut ConfigErrors) {
        let listeners = self.listeners();
        for (i, (key, addr)) in listeners.iter().enumerate() {
            if let Some((other, _)) = listeners[..i].iter().find(|(_, a)| clash(*a, *addr)) {
                e.add(
                    *key,
                    format!("{addr} is also {other}'s address: one port, one listener"),
                );
            }
        }
    }
}

/// One kind of NATS credentials at most, each secret where it says, a user with a password.
fn validate_nats_auth(e: &mut ConfigErrors, n: &crate::NatsConfig) {
    let kinds: Vec<&str> = [
        ("nats.credentials", n.credentials.is_some()),
        ("nats.nkey_seed", n.nkey_seed.is_some()),
        ("nats.user", n.user.is_some() || n.password.is_some()),
        ("nats.token", n.token.is_some()),
    ]
    .into_iter()
    .filter_map(|(key, set)| set.then_some(key))
    .collect();
    if let [first, others @ ..] = kinds.as_slice() {
        for other in others {
            e.add(
                *other,
                format!("only one kind of NATS credentials at a time: {first} is set too"),
            );
        }
    }
    match (&n.user, &n.password) {
        (Some(user), _) if user.is_empty() => e.add("nats.user", "is empty"),
        (Some(_), None) => e.add("nats.user", "needs nats.password"),
        (None, Some(_)) => e.add("nats.password", "needs nats.user"),
        _ => {}
    }
}

/// A secret's file exists; a variable's name is one.
fn secret(e: &mut ConfigErrors, key: &str, value: &SecretRef) {
    match value {
        SecretRef::File(path) => file_exists(e, key, path),
        SecretRef::Env(name) => {
            let valid = name.bytes().next().is_some_and(|b| !b.is_ascii_digit())
                && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
            if !valid {
                e.add(
                    format!("{key}.env"),
                    format!("{name:?} is not an environment variable name"),
                );
            }
        }
    }
}

/// A client certificate and its key are both given or both not, and exist.
fn client_certificate(
    e: &mut ConfigErrors,
    section: &str,
    cert: Option<&Path>,
    key: Option<&Path>,
) {
    match (cert, key) {
        (Some(cert), Some(key)) => {
            file_exists(e, &format!("{section}.cert"), cert);
            file_exists(e, &format!("{section}.key"), key);
        }
        (Some(_), None) => e.add(format!("{section}.cert"), format!("needs {section}.key")),
        (None, Some(_)) => e.add(format!("{section}.key"), format!("needs {section}.cert")),
        (None, None) => {}
    }
}

/// Two listeners clash when they use the same port on overlapping addresses (the same IP,
/// or either one the unspecified address). Port 0 asks the OS for a free port: no clash.
fn clash(a: SocketAddr, b: SocketAddr) -> bool {
    a.port() != 0
        && a.port() == b.port()
        && (a.ip() == b.ip() || a.ip().is_unspecified() || b.ip().is_unspecified())
}

fn positive(e: &mut ConfigErrors, key: &str, value: Duration) {
    if value.is_zero() {
        e.add(key, "must be longer than zero");
    }
}

fn at_least_one(e: &mut ConfigErrors, key: &str, value: usize) {
    if value == 0 {
        e.add(key, "must be at least 1");
    }
}

fn file_exists(e: &mut ConfigErrors, key: &str, path: &Path) {
    if !path.is_file() {
        e.add(key, format!("file {} does not exist", path.display()));
    }
}

fn name(e: &mut ConfigErrors, key: &str, value: &str) {
    let valid = !value.is_empty()
        && value.len() <= 64
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if !valid {
        e.add(
            key,
            format!("{value:?}: use 1 to 64 letters, digits, '.', '_' or '-'"),
        );
    }
}

/// Whether `name` is a DNS name a certificate can carry: labels of letters, digits and
/// `-`, dot-separated, at most 253 octets.
fn is_dns_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

fn is_http_url(url: &str) -> bool {
    ["http://", "https://"].iter().any(|scheme| {
        url.strip_prefix(scheme)
            .is_some_and(|rest| !rest.is_empty())
    }) && !url.contains(char::is_whitespace)
}

/// Whether `address` is an IP, a bracketed IPv6 or a host name, each with an optional
/// port: no scheme, no path, no blanks.
fn is_advertisable(address: &str) -> bool {
    if address.parse::<std::net::SocketAddr>().is_ok()
        || address.parse::<std::net::IpAddr>().is_ok()
    {
        return true;
    }
    let host = match address.rsplit_once(':') {
        Some((host, port)) => {
            if port.parse::<u16>().is_err() {
                return false;
            }
            host
        }
        None => address,
    };
    !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

#[cfg(test)]
mod advertise_tests {
    use super::is_advertisable;

    #[test]
    fn advertised_addresses_are_hosts_or_ips_with_optional_ports() {
        for good in [
            "10.0.0.7",
            "10.0.0.7:9091",
            "fd00::7",
            "[fd00::7]:9091",
            "edge-0.herald",
            "edge-0.herald:9091",
        ] {
            assert!(is_advertisable(good), "{good}");
        }
        for bad in [
            "",
            " ",
            "http://edge:9091",
            "edge:x",
            "edge:9091:9091",
            "edge/0",
            "a..b",
        ] {
            assert!(!is_advertisable(bad), "{bad}");
        }
    }
}
