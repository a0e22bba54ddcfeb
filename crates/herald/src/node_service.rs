//! `herald.node.v1.NodeService`, served by every node on `grpc.listen`: health, identity,
//! drain, and the role's own view (the edge's sessions; the connector's binds).

use std::sync::Arc;
use std::time::SystemTime;

use herald_bus::lifecycle::unix_ms;

use herald_connector::Connector;
use herald_edge::Edge;
use herald_proto::node::v1::node_service_server::NodeService;
use herald_proto::node::v1::{
    Bind, DrainRequest, DrainResponse, HealthRequest, HealthResponse, InfoRequest, InfoResponse,
    ListBindsRequest, ListBindsResponse, ListSessionsRequest, ListSessionsResponse, Session,
};
use herald_rules::RulesStore;
use herald_telemetry::Readiness;
use tokio::sync::watch;
use tonic::{Request, Response, Status};

/// What a node says about itself, fixed at start.
#[derive(Clone, Debug)]
pub(crate) struct Identity {
    pub(crate) node_id: String,
    pub(crate) role: String,
    pub(crate) version: String,
    pub(crate) started: SystemTime,
    pub(crate) addresses: Vec<String>,
}

/// The service; cheap to clone.
#[derive(Clone)]
pub(crate) struct NodeServiceImpl {
    pub(crate) identity: Arc<Identity>,
    pub(crate) readiness: Readiness,
    pub(crate) rules: RulesStore,
    /// Sending `true` starts the same drain as SIGTERM.
    pub(crate) stop: Arc<watch::Sender<bool>>,
    pub(crate) edge: Option<Edge>,
    pub(crate) connector: Option<Arc<Connector>>,
}

#[tonic::async_trait]
impl NodeService for NodeServiceImpl {
    async fn health(&self, _: Request<HealthRequest>) -> Result<Response<HealthResponse>, Status> {
        let not_ready = self.readiness.not_ready();
        Ok(Response::new(HealthResponse {
            live: true,
            ready: not_ready.is_empty() && !self.readiness.is_draining(),
            detail: if self.readiness.is_draining() {
                "draining".into()
            } else {
                not_ready.join(", ")
            },
        }))
    }

    async fn info(&self, _: Request<InfoRequest>) -> Result<Response<InfoResponse>, Status> {
        let identity = &self.identity;
        Ok(Response::new(InfoResponse {
            node_id: identity.node_id.clone(),
            role: identity.role.clone(),
            version: identity.version.clone(),
            rules_revision: self.rules.revision(),
            started_unix_ms: unix_ms(identity.started),
            addresses: identity.addresses.clone(),
        }))
    }

    async fn drain(&self, _: Request<DrainRequest>) -> Result<Response<DrainResponse>, Status> {
        tracing::info!("drain requested over NodeService");
        self.readiness.drain();
        if let Some(connector) = &self.connector {
            connector.drain();
        }
        let _ = self.stop.send(true);
        Ok(Response::new(DrainResponse { draining: true }))
    }

    async fn list_sessions(
        &self,
        request: Request<ListSessionsRequest>,
    ) -> Result<Response<ListSessionsResponse>, Status> {
        let Some(edge) = &self.edge else {
            return Err(Status::unimplemented("only edges hold ESME sessions"));
        };
        let account = request.into_inner().account_id;
        let sessions = edge
            .sessions()
            .into_iter()
            .filter(|s| account.is_empty() || s.account == account)
            .map(|s| Session {
                session_id: s.id.to_string(),
                account_id: s.account.clone(),
                system_id: s.account,
                bind_mode: format!("{:?}", s.mode).to_lowercase(),
                peer: s.peer.to_string(),
                tls: s.tls,
                bound_unix_ms: unix_ms(s.bound_at),
                in_flight: 0,
            })
            .collect();
        Ok(Response::new(ListSessionsResponse { sessions }))
    }

    async fn list_binds(
        &self,
        request: Request<ListBindsRequest>,
    ) -> Result<Response<ListBindsResponse>, Status> {
        let Some(connector) = &self.connector else {
            return Err(Status::unimplemented("only connectors hold carrier binds"));
        };
        let carrier = request.into_inner().carrier_id;
        let binds = connector
            .binds()
            .into_iter()
            .filter(|b| carrier.is_empty() || b.carrier_id == carrier)
            .map(|b| Bind {
                carrier_id: b.carrier_id,
                slot: b.slot,
                state: format!("{:?}", b.state).to_lowercase(),
                window: b.window,
                in_flight: b.in_flight,
                error_rate: b.error_rate,
            })
            .collect();
        Ok(Response::new(ListBindsResponse { binds }))
    }
}
