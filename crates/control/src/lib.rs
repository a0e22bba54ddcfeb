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
//! - Every call passes [`BearerAuth`] first.
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

mod auth;
mod error;
mod service;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use herald_bus::StatusStore;
use herald_config::ControlConfig;
use herald_proto::admin::v1::admin_service_server::AdminServiceServer;
use herald_rules::{RulesClient, RulesStore};
use tokio::net::TcpListener;
use tonic::service::interceptor::InterceptedService;

pub use auth::{BearerAuth, Tokens};
pub use error::{CURRENT_REVISION_HEADER, ControlError};

/// What the control plane works with.
#[derive(Clone)]
pub struct ControlDeps {
    /// Writes and reads rules objects, lists nodes.
    pub rules_client: RulesClient,
    /// The live rules snapshot (route explain).
    pub rules: RulesStore,
    /// Message status by id (message lookup); `None`: lookup answers `UNAVAILABLE`.
    pub status: Option<StatusStore>,
    /// How long a call to a node's NodeService may take, connecting included.
    pub node_timeout: Duration,
}

/// The AdminService as tonic serves it: behind the bearer-token interceptor.
pub type AdminServer = InterceptedService<AdminServiceServer<Control>, BearerAuth>;

/// The control plane (cheap to clone).
#[derive(Clone)]
pub struct Control {
    deps: Arc<ControlDeps>,
    auth: BearerAuth,
}

impl Control {
    /// The control plane of `config`: loads the tokens of `control.tokens_file` (unset:
    /// every call is refused). Fails on an unreadable or empty tokens file.
    pub fn new(config: &ControlConfig, deps: ControlDeps) -> Result<Control, ControlError> {
        let tokens = config
            .tokens_file
            .as_deref()
            .map(Tokens::load)
            .transpose()?;
        if tokens.is_none() {
            tracing::warn!("control.tokens_file is unset: the admin API refuses every call");
        }
        Ok(Control {
            deps: Arc::new(deps),
            auth: BearerAuth::new(tokens),
        })
    }

    /// The tonic service, with the bearer-token interceptor in front.
    pub fn service(&self) -> AdminServer {
        AdminServiceServer::with_interceptor(self.clone(), self.auth.clone())
    }

    /// Serves [`Control::service`] on `listener` until `shutdown` completes.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), ControlError> {
        let incoming = tonic::transport::server::TcpIncoming::from(listener);
        tonic::transport::Server::builder()
            .add_service(self.service())
            .serve_with_incoming_shutdown(incoming, shutdown)
            .await?;
        Ok(())
    }
}
