//! Herald's control plane: the `herald.admin.v1.AdminService` the control role serves and
//! `heraldctl` talks to.
//!
//! - Rules objects (accounts, carriers, routes, MO routes, networks, opt-out lists) are
//!   created, updated, deleted, read and listed as their JSON documents through
//!   [`herald_rules::RulesClient`], validated, with compare-and-swap on the revision.
//! - Nodes are listed from their etcd registration; sessions, binds and drain go to each
//!   node's own `NodeService` at its registered `grpc` address.
//! - Message lookup reads the bus's status store; route explain asks the current rules
//!   snapshot ([`herald_rules::RulesSnapshot::explain`]).
//! - Every call passes [`AdminAuth`] first: a bearer token or a verified client
//!   certificate, each with a role ([`herald_config::AdminRole`]): a `viewer` reads, only
//!   an `admin` applies, deletes and drains (`PERMISSION_DENIED` otherwise). The API is
//!   served over TLS when `control.tls` is set.
//! - Every change (apply, delete, drain) leaves an audit record in etcd, written with the
//!   change itself, read back with `ListAudit` (`heraldctl audit`).
//! - Nodes' `NodeService` admits the holders of the node token ([`NodeAuth`],
//!   [`NodeToken`]); the control plane presents it when it calls them.
//!
//! Modules: `auth` (the admin API's callers and roles), `node_auth` (the node token),
//! `audit` (the audit records), `service` (the API), `error`.
//!
//! Errors map to gRPC codes in one place, [`ControlError::to_status`]. The API, its
//! authentication and its errors are described in `docs/control.md`.
//!
//! ```no_run
//! # async fn demo(deps: herald_control::ControlDeps) -> Result<(), herald_control::ControlError> {
//! let config = herald_config::ControlConfig::default();
//! let control = herald_control::Control::new(&config, deps)?;
//! let listener = tokio::net::TcpListener::bind(config.listen).await.map_err(|e| {
//!     herald_control::ControlError::InvalidArgument(e.to_string())
//! })?;
//! control.serve(listener, std::future::pending()).await
//! # }
//! ```
#![forbid(unsafe_code)]

mod audit;
mod auth;
mod error;
mod node_auth;
pub mod opt_outs;
pub mod porting;
mod service;

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use herald_bus::{
    DeadLetters, FollowedSnapshot, OptOutStore, PortingStore, Publisher, StatusStore,
};
use herald_config::{ControlConfig, ControlTlsConfig};
use herald_proto::admin::v1::admin_service_server::AdminServiceServer;
use herald_rules::porting::PortingTable;
use herald_rules::{RulesClient, RulesStore};
use herald_telemetry::ports::{LimitedListener, PortLimits, grpc_server};
use tokio::net::TcpListener;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Certificate, Identity, ServerTlsConfig};

pub use auth::{AdminAuth, Caller, ClientCertificates, Tokens};
pub use error::{CURRENT_REVISION_HEADER, ControlError};
pub use node_auth::{NodeAuth, NodeTls, NodeToken};

/// What the control plane works with.
#[derive(Clone)]
pub struct ControlDeps {
    /// Writes and reads rules objects, lists nodes.
    pub rules_client: RulesClient,
    /// The live rules snapshot (route explain).
    pub rules: RulesStore,
    /// Message status by id (message lookup); `None`: lookup answers `UNAVAILABLE`.
    pub status: Option<StatusStore>,
    /// Subscriber opt-outs (list, change, history, and route explain's check); `None`:
    /// those calls answer `UNAVAILABLE` and explain checks the rules' lists alone.
    pub opt_outs: Option<OptOutStore>,
    /// The dead-letter stream and a publisher to replay from it; `None`: those calls answer
    /// `UNAVAILABLE`.
    pub dead_letters: Option<(DeadLetters, Publisher)>,
    /// The ported-numbers store (import) and this node's copy of its table (route
    /// explain); `None`: import answers `UNAVAILABLE` and explain goes by prefix.
    pub porting: Option<(PortingStore, FollowedSnapshot<PortingTable>)>,
    /// How long a call to a node's NodeService may take, connecting included.
    pub node_timeout: Duration,
    /// The node token presented to nodes' NodeService (`grpc.token_file`); `None`: calls
    /// go anonymous, which only nodes on loopback (`herald dev`, tests) admit.
    pub node_token: Option<NodeToken>,
    /// The time zone of route time windows that name none (`router.default_timezone`),
    /// as the routers use it.
    pub route_time_zone: herald_rules::model::UtcOffset,
    /// NodeService's TLS (`grpc.tls`): how the control role checks a node that registered
    /// a `grpc_tls` address. `None`: such a node cannot be called.
    pub node_tls: Option<NodeTls>,
}

/// The AdminService as tonic serves it: behind the authentication interceptor.
pub type AdminServer = InterceptedService<AdminServiceServer<Control>, AdminAuth>;

/// The control plane (cheap to clone).
#[derive(Clone)]
pub struct Control {
    deps: Arc<ControlDeps>,
    auth: AdminAuth,
    tls: Option<ServerTlsConfig>,
    /// How long audit records are kept (`control.audit_retention`).
    audit_retention: Duration,
}

impl Control {
    /// The control plane of `config`: loads the tokens of `control.tokens_file` and the
    /// certificates of `control.tls`. With neither tokens nor a client CA, every call is
    /// refused. Fails on an unreadable or empty tokens file or unreadable TLS files.
    pub fn new(config: &ControlConfig, deps: ControlDeps) -> Result<Control, ControlError> {
        let tokens = config
            .tokens_file
            .as_deref()
            .map(Tokens::load)
            .transpose()?;
        let tls = config.tls.as_ref().map(server_tls).transpose()?;
        let client_certs = match &config.tls {
            Some(tls) if tls.client_ca.is_some() => ClientCertificates::Admit {
                roles: tls.client_roles.clone(),
                default_role: tls.client_default_role,
            },
            _ => ClientCertificates::NotAsked,
        };
        let auth = AdminAuth::new(tokens, client_certs);
        if !auth.has_credentials() {
            tracing::warn!(
                "neither control.tokens_file nor control.tls.client_ca is set: the admin API refuses every call"
            );
        }
        if tls.is_none() {
            tracing::info!("control.tls is unset: the admin API is served without TLS");
        }
        Ok(Control {
            deps: Arc::new(deps),
            auth,
            tls,
            audit_retention: config.audit_retention,
        })
    }

    /// The tonic service, with the authentication interceptor in front. (TLS is the
    /// server's: [`Control::serve`] sets it up.)
    pub fn service(&self) -> AdminServer {
        AdminServiceServer::with_interceptor(self.clone(), self.auth.clone())
    }

    /// Serves [`Control::service`] on `listener` until `shutdown` completes.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), ControlError> {
        let incoming = LimitedListener::new(listener, "control", PortLimits::default()).incoming();
        let mut server = grpc_server(tonic::transport::Server::builder());
        if let Some(tls) = self.tls.clone() {
            server = server.tls_config(tls)?;
        }
        server
            .add_service(self.service())
            .serve_with_incoming_shutdown(incoming, shutdown)
            .await?;
        Ok(())
    }
}

/// The server side of `control.tls`: its certificate and, with `client_ca`, client
/// certificates verified when offered (a call without one may still bring a token).
/// Built once here so that a bad certificate, key or CA stops the role at start, named.
fn server_tls(tls: &ControlTlsConfig) -> Result<ServerTlsConfig, ControlError> {
    let cert = read_pem(&tls.cert)?;
    let key = read_pem(&tls.key)?;
    let config = ServerTlsConfig::new()
        .identity(Identity::from_pem(cert, key))
        .timeout(TLS_HANDSHAKE_TIMEOUT);
    tonic::transport::Server::builder()
        .tls_config(config.clone())
        .map_err(|e| tls_refused(&tls.cert, &e))?;
    let Some(ca) = &tls.client_ca else {
        return Ok(config);
    };
    let pem = read_pem(ca)?;
    // tonic skips what it cannot parse in a CA file: make sure there is something.
    if pem_certificates(&pem) == 0 {
        return Err(ControlError::Tls {
            path: ca.clone(),
            reason: "no PEM certificate in the file".into(),
        });
    }
    let config = config
        .client_ca_root(Certificate::from_pem(pem))
        .client_auth_optional(true);
    tonic::transport::Server::builder()
        .tls_config(config.clone())
        .map_err(|e| tls_refused(ca, &e))?;
    Ok(config)
}

/// A TLS setup error about `path`, with its causes (tonic's own message is only
/// "transport error").
pub(crate) fn tls_refused(path: &Path, error: &tonic::transport::Error) -> ControlError {
    let mut reason = error.to_string();
    let mut cause = std::error::Error::source(error);
    while let Some(inner) = cause {
        reason = format!("{reason}: {inner}");
        cause = inner.source();
    }
    ControlError::Tls {
        path: path.to_owned(),
        reason,
    }
}

/// How long a client may take over its TLS handshake before the connection is closed.
pub(crate) const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The `CERTIFICATE` blocks in a PEM file.
pub(crate) fn pem_certificates(pem: &[u8]) -> usize {
    String::from_utf8_lossy(pem)
        .matches("-----BEGIN CERTIFICATE-----")
        .count()
}

pub(crate) fn read_pem(path: &Path) -> Result<Vec<u8>, ControlError> {
    std::fs::read(path).map_err(|e| ControlError::Tls {
        path: path.to_owned(),
        reason: e.to_string(),
    })
}
