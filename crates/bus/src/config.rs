//! How the bus connects and sizes its streams.

use std::path::PathBuf;
use std::time::Duration;

use crate::auth::NatsAuth;
use crate::error::BusError;

/// Connection and topology settings. The role binaries fill this from Herald's config.
#[derive(Clone, Debug)]
pub struct BusConfig {
    /// NATS server URLs; the client fails over between them.
    pub urls: Vec<String>,
    /// Client name shown in NATS monitoring, usually `<role>-<node id>`.
    pub name: String,
    /// Stream and bucket replicas: 1 for a single server, 3 in a cluster.
    pub replicas: usize,
    /// How the per-message buckets are split ([`crate::partition`]).
    pub partitions: crate::Partitions,
    /// How long a message id is remembered to drop a republished copy.
    pub duplicate_window: Duration,
    /// How long receipts and MO wait for their account's sessions.
    pub events_max_age: Duration,
    /// How long dead letters are kept.
    pub dead_letter_max_age: Duration,
    /// How long a message's status stays queryable.
    pub status_ttl: Duration,
    /// How long a carrier message id maps to its Herald id (the longest a carrier may
    /// take to send a receipt).
    pub id_map_ttl: Duration,
    /// How long a request's idempotency key is remembered (the HTTP API).
    pub idempotency_ttl: Duration,
    /// Publishes waiting for their ack before [`crate::BusError::Full`].
    pub max_inflight_publishes: usize,
    /// Timeout of JetStream API calls and publish acks.
    pub request_timeout: Duration,
    /// How long a publish is sent again after failures a NATS failover causes (a lost
    /// connection, a stream electing a leader) before it fails; zero: never.
    pub publish_hold: Duration,
    /// Timeout of the first connection.
    pub connect_timeout: Duration,
    /// Whether publishers may batch ([`crate::batch`]); off, every message is published
    /// on its own, for clusters where some nodes cannot read batches yet.
    pub batching: bool,
    /// How the client authenticates.
    pub auth: NatsAuth,
    /// TLS to NATS; `None`: TLS only if a URL says `tls://` (with the system's CAs).
    pub tls: Option<NatsTls>,
    /// The prefix of this client's reply subjects (publish acks, pulled messages, API
    /// answers, KV watches); `None`: NATS's `_INBOX`. Nodes use `_INBOX_<role>`, so a NATS
    /// user's permissions can let each role read its own replies only.
    pub inbox_prefix: Option<String>,
}

/// TLS to NATS: required on every connection once set.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NatsTls {
    /// CA certificates (PEM) the server's certificate must chain to; `None`: the system's.
    pub ca: Option<PathBuf>,
    /// A client certificate and its key (PEM), for servers that verify clients (mutual
    /// TLS); `None`: no client certificate.
    pub client_certificate: Option<ClientCertificate>,
}

/// A client certificate chain and its private key, PEM files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientCertificate {
    /// The certificate chain.
    pub cert: PathBuf,
    /// The private key.
    pub key: PathBuf,
}

impl BusConfig {
    /// Settings for one local server, as tests and `herald dev` use.
    pub fn local(url: impl Into<String>) -> Self {
        BusConfig {
            urls: vec![url.into()],
            name: "herald".into(),
            replicas: 1,
            partitions: crate::Partitions::ONE,
            duplicate_window: Duration::from_secs(120),
            events_max_age: Duration::from_secs(3 * 24 * 3600),
            dead_letter_max_age: Duration::from_secs(14 * 24 * 3600),
            status_ttl: Duration::from_secs(3 * 24 * 3600),
            id_map_ttl: Duration::from_secs(3 * 24 * 3600),
            idempotency_ttl: Duration::from_secs(24 * 3600),
            max_inflight_publishes: 8192,
            request_timeout: Duration::from_secs(5),
            publish_hold: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
            batching: true,
            auth: NatsAuth::None,
            tls: None,
            inbox_prefix: None,
        }
    }

    /// The client's options: name, timeouts, credentials and TLS.
    ///
    /// # Errors
    ///
    /// [`BusError::Secret`] when a credential cannot be read.
    pub(crate) fn connect_options(&self) -> Result<async_nats::ConnectOptions, BusError> {
        let mut options = self.auth.connect_options()?;
        if let Some(tls) = &self.tls {
            options = options.require_tls(true);
            if let Some(ca) = &tls.ca {
                options = options.add_root_certificates(ca.clone());
            }
            if let Some(client) = &tls.client_certificate {
                options = options.add_client_certificate(client.cert.clone(), client.key.clone());
            }
        }
        if let Some(prefix) = &self.inbox_prefix {
            options = options.custom_inbox_prefix(prefix);
        }
        Ok(options
            .name(&self.name)
            .connection_timeout(self.connect_timeout)
            .request_timeout(Some(self.request_timeout))
            // After the first connection, reconnect forever: a node outlives a NATS restart.
            .max_reconnects(None))
    }
}
