//! The `AdminService` implementation on [`Control`].

use std::time::SystemTime;

use herald_proto::admin::v1 as api;
use herald_proto::admin::v1::admin_service_server::AdminService;
use herald_proto::bus::v1::MessageState;
use herald_proto::node::v1 as node_api;
use herald_proto::node::v1::node_service_client::NodeServiceClient;
use herald_rules::routing::AllHealthy;
use herald_rules::{Expected, Kind, NodeInfo, RouteRequest, StoredObject};
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Request, Response, Status};

use crate::Control;
use crate::error::ControlError;

type Answer<T> = Result<Response<T>, Status>;

/// The rules kind of an API kind.
fn kind_of(raw: i32) -> Result<Kind, ControlError> {
    match api::Kind::try_from(raw) {
        Ok(api::Kind::Account) => Ok(Kind::Account),
        Ok(api::Kind::Carrier) => Ok(Kind::Carrier),
        Ok(api::Kind::Route) => Ok(Kind::Route),
        Ok(api::Kind::MoRoute) => Ok(Kind::MoRoute),
        Ok(api::Kind::OptOut) => Ok(Kind::OptOut),
        Ok(api::Kind::Network) => Ok(Kind::Network),
        Ok(api::Kind::Unspecified) | Err(_) => Err(ControlError::InvalidArgument(format!(
            "kind {raw} is not a rules kind"
        ))),
    }
}

fn api_kind(kind: Kind) -> api::Kind {
    match kind {
        Kind::Account => api::Kind::Account,
        Kind::Carrier => api::Kind::Carrier,
        Kind::Route => api::Kind::Route,
        Kind::MoRoute => api::Kind::MoRoute,
        Kind::OptOut => api::Kind::OptOut,
        Kind::Network => api::Kind::Network,
        Kind::Price => api::Kind::Unspecified,
    }
}

fn revision(r: u64) -> i64 {
    i64::try_from(r).unwrap_or(i64::MAX)
}

fn object(stored: StoredObject) -> api::Object {
    api::Object {
        kind: api_kind(stored.kind).into(),
        id: stored.id,
        json: stored.json,
        mod_revision: revision(stored.mod_revision),
    }
}

fn require_id(id: &str) -> Result<(), ControlError> {
    if id.is_empty() {
        return Err(ControlError::InvalidArgument("an id is required".into()));
    }
    Ok(())
}

fn node(info: NodeInfo) -> api::Node {
    api::Node {
        node_id: info.id,
        role: info.role,
        version: info.version,
        rules_revision: info.rules_revision,
        addresses: info
            .addresses
            .into_iter()
            .map(|(name, addr)| format!("{name}={addr}"))
            .collect(),
    }
}

impl Control {
    /// The registered nodes of `role` (all if `None`), narrowed to `node_id` if not empty
    /// (then it must exist).
    async fn nodes(
        &self,
        role: Option<&str>,
        node_id: &str,
    ) -> Result<Vec<NodeInfo>, ControlError> {
        let nodes: Vec<_> = self
            .deps
            .rules_client
            .list_nodes(role)
            .await?
            .into_iter()
            .filter(|n| node_id.is_empty() || n.id == node_id)
            .collect();
        if !node_id.is_empty() && nodes.is_empty() {
            let role = role.unwrap_or("any");
            return Err(ControlError::NotFound(format!(
                "no {role} node {node_id:?} is registered"
            )));
        }
        Ok(nodes)
    }

    /// A NodeService client for `node`, at its registered `grpc` address.
    async fn node_client(
        &self,
        node: &NodeInfo,
    ) -> Result<NodeServiceClient<Channel>, ControlError> {
        let address = node.addresses.get("grpc").cloned().unwrap_or_default();
        let failed = |reason: String, code| ControlError::Node {
            node: node.id.clone(),
            address: address.clone(),
            reason,
            code,
        };
        if address.is_empty() {
            return Err(failed(
                "registered no grpc address".into(),
                Code::FailedPrecondition,
            ));
        }
        let timeout = self.deps.node_timeout;
        let channel = Endpoint::from_shared(format!("http://{address}"))
            .map_err(|e| failed(e.to_string(), Code::FailedPrecondition))?
            .connect_timeout(timeout)
            .timeout(timeout)
            .connect()
            .await
            .map_err(|e| failed(e.to_string(), Code::Unavailable))?;
        Ok(NodeServiceClient::new(channel))
    }

    fn node_failed(node: &NodeInfo, status: &Status) -> ControlError {
        ControlError::Node {
            node: node.id.clone(),
            address: node.addresses.get("grpc").cloned().unwrap_or_default(),
            reason: status.message().to_owned(),
            code: status.code(),
        }
    }

    /// Calls `call` on each of `nodes`; with one node named its failure is the answer,
    /// otherwise unreachable nodes are skipped with a warning.
    async fn fan_out<T, F, Fut>(
        &self,
        nodes: Vec<NodeInfo>,
        named: bool,
        call: F,
    ) -> Result<Vec<T>, ControlError>
    where
        F: Fn(NodeServiceClient<Channel>, NodeInfo) -> Fut,
        Fut: Future<Output = Result<Vec<T>, ControlError>>,
    {
        let mut out = Vec::new();
        for node in nodes {
            let result = match self.node_client(&node).await {
                Ok(client) => call(client, node.clone()).await,
                Err(e) => Err(e),
            };
            match result {
                Ok(items) => out.extend(items),
                Err(error) if named => return Err(error),
                Err(error) => tracing::warn!(node = %node.id, %error, "node skipped"),
            }
        }
        Ok(out)
    }
}

#[tonic::async_trait]
impl AdminService for Control {
    async fn put(&self, request: Request<api::PutRequest>) -> Answer<api::PutResponse> {
        let request = request.into_inner();
        let object = request
            .object
            .ok_or_else(|| ControlError::InvalidArgument("an object is required".into()))?;
        let kind = kind_of(object.kind)?;
        require_id(&object.id)?;
        let expected = match request.expected_revision {
            0 => Expected::Absent,
            r if r < 0 => Expected::Any,
            r => Expected::Revision(r.unsigned_abs()),
        };
        let written = self
            .deps
            .rules_client
            .put_json(kind, &object.id, &object.json, expected)
            .await
            .map_err(ControlError::from)?;
        tracing::info!(%kind, id = %object.id, revision = written, "rules object written");
        Ok(Response::new(api::PutResponse {
            revision: revision(written),
        }))
    }

    async fn delete(&self, request: Request<api::DeleteRequest>) -> Answer<api::DeleteResponse> {
        let request = request.into_inner();
        let kind = kind_of(request.kind)?;
        require_id(&request.id)?;
        let expected = match request.expected_revision {
            r if r <= 0 => Expected::Any,
            r => Expected::Revision(r.unsigned_abs()),
        };
        let deleted = self
            .deps
            .rules_client
            .delete(kind, &request.id, expected)
            .await
            .map_err(ControlError::from)?;
        tracing::info!(%kind, id = %request.id, revision = deleted, "rules object deleted");
        Ok(Response::new(api::DeleteResponse {
            revision: revision(deleted),
        }))
    }

    async fn get(&self, request: Request<api::GetRequest>) -> Answer<api::GetResponse> {
        let request = request.into_inner();
        let kind = kind_of(request.kind)?;
        require_id(&request.id)?;
        let stored = self
            .deps
            .rules_client
            .get_json(kind, &request.id)
            .await
            .map_err(ControlError::from)?
            .ok_or_else(|| ControlError::NotFound(format!("no {kind} {:?}", request.id)))?;
        Ok(Response::new(api::GetResponse {
            object: Some(object(stored)),
        }))
    }

    async fn list(&self, request: Request<api::ListRequest>) -> Answer<api::ListResponse> {
        let kind = kind_of(request.into_inner().kind)?;
        let listing = self
            .deps
            .rules_client
            .list_json(kind)
            .await
            .map_err(ControlError::from)?;
        Ok(Response::new(api::ListResponse {
            objects: listing.objects.into_iter().map(object).collect(),
            revision: revision(listing.revision),
        }))
    }

    async fn list_nodes(
        &self,
        request: Request<api::ListNodesRequest>,
    ) -> Answer<api::ListNodesResponse> {
        let role = request.into_inner().role;
        let role = (!role.is_empty()).then_some(role.as_str());
        let nodes = self.nodes(role, "").await?;
        Ok(Response::new(api::ListNodesResponse {
            nodes: nodes.into_iter().map(node).collect(),
        }))
    }

    async fn list_sessions(
        &self,
        request: Request<api::ListSessionsRequest>,
    ) -> Answer<api::ListSessionsResponse> {
        let request = request.into_inner();
        let nodes = self.nodes(Some("edge"), &request.node_id).await?;
        let account = request.account_id;
        let sessions = self
            .fan_out(nodes, !request.node_id.is_empty(), |mut client, node| {
                let account = account.clone();
                async move {
                    let answer = client
                        .list_sessions(node_api::ListSessionsRequest {
                            account_id: account,
                        })
                        .await
                        .map_err(|s| Control::node_failed(&node, &s))?;
                    Ok(answer
                        .into_inner()
                        .sessions
                        .into_iter()
                        .map(|s| api::Session {
                            node_id: node.id.clone(),
                            session_id: s.session_id,
                            account_id: s.account_id,
                            bind_mode: s.bind_mode,
                            peer: s.peer,
                        })
                        .collect())
                }
            })
            .await?;
        Ok(Response::new(api::ListSessionsResponse { sessions }))
    }

    async fn list_binds(
        &self,
        request: Request<api::ListBindsRequest>,
    ) -> Answer<api::ListBindsResponse> {
        let request = request.into_inner();
        let nodes = self.nodes(Some("connector"), &request.node_id).await?;
        let carrier = request.carrier_id;
        let binds = self
            .fan_out(nodes, !request.node_id.is_empty(), |mut client, node| {
                let carrier = carrier.clone();
                async move {
                    let answer = client
                        .list_binds(node_api::ListBindsRequest {
                            carrier_id: carrier,
                        })
                        .await
                        .map_err(|s| Control::node_failed(&node, &s))?;
                    Ok(answer
                        .into_inner()
                        .binds
                        .into_iter()
                        .map(|b| api::Bind {
                            node_id: node.id.clone(),
                            carrier_id: b.carrier_id,
                            slot: b.slot,
                            state: b.state,
                        })
                        .collect())
                }
            })
            .await?;
        Ok(Response::new(api::ListBindsResponse { binds }))
    }

    async fn get_message(
        &self,
        request: Request<api::GetMessageRequest>,
    ) -> Answer<api::GetMessageResponse> {
        let id = request.into_inner().message_id;
        require_id(&id)?;
        let status = self
            .deps
            .status
            .as_ref()
            .ok_or(ControlError::NoStatusStore)?;
        let mut history = status.history(&id).await.map_err(ControlError::from)?;
        if history.is_empty()
            && let Some(latest) = status.get(&id).await.map_err(ControlError::from)?
        {
            history.push(latest);
        }
        let latest = history
            .last()
            .cloned()
            .ok_or_else(|| ControlError::NotFound(format!("no message {id:?} (or it expired)")))?;
        let state = |raw: i32| {
            MessageState::try_from(raw)
                .unwrap_or(MessageState::Unknown)
                .as_str_name()
                .trim_start_matches("MESSAGE_STATE_")
                .to_lowercase()
        };
        Ok(Response::new(api::GetMessageResponse {
            message_id: latest.message_id.clone(),
            account_id: latest.account_id.clone(),
            carrier_id: latest.carrier_id.clone(),
            state: state(latest.state),
            history: history
                .into_iter()
                .map(|s| api::StatusChange {
                    state: if s.stage.is_empty() {
                        state(s.state)
                    } else {
                        s.stage
                    },
                    at_unix_ms: s.updated_unix_ms,
                    detail: s.error,
                })
                .collect(),
        }))
    }

    async fn explain_route(
        &self,
        request: Request<api::ExplainRouteRequest>,
    ) -> Answer<api::ExplainRouteResponse> {
        let request = request.into_inner();
        let data_coding = u8::try_from(request.data_coding).map_err(|_| {
            ControlError::InvalidArgument(format!(
                "data_coding {} is not a byte",
                request.data_coding
            ))
        })?;
        let snapshot = self.deps.rules.load();
        let route_request = RouteRequest::new(
            &request.account_id,
            &request.source,
            &request.destination,
            data_coding,
            SystemTime::now(),
        );
        let explanation = snapshot.explain(&route_request, &AllHealthy);
        let candidates = explanation
            .candidates
            .iter()
            .map(|c| {
                let mut note = match c.rank {
                    Some(0) => "chosen".to_owned(),
                    Some(rank) => format!("rank {rank}"),
                    None => "not usable".to_owned(),
                };
                if c.failed {
                    note.push_str(", already failed");
                }
                if let Some(weight) = c.weight {
                    note.push_str(&format!(", weight {weight}"));
                }
                api::Candidate {
                    carrier_id: c.carrier.clone(),
                    healthy: c.healthy,
                    price: c.price_micros.map_or(0.0, |p| p as f64 / 1_000_000.0),
                    note,
                }
            })
            .collect();
        let reason = if explanation.reason.is_empty() {
            explanation.outcome.clone()
        } else {
            format!("{}: {}", explanation.outcome, explanation.reason)
        };
        Ok(Response::new(api::ExplainRouteResponse {
            rule_id: explanation.matched_rule.unwrap_or_default(),
            carrier_id: explanation.carrier.unwrap_or_default(),
            candidates,
            reason,
            rules_revision: explanation.revision,
        }))
    }

    async fn drain_node(
        &self,
        request: Request<api::DrainNodeRequest>,
    ) -> Answer<api::DrainNodeResponse> {
        let request = request.into_inner();
        require_id(&request.node_id)?;
        let nodes = self.nodes(None, &request.node_id).await?;
        let mut draining = false;
        for node in nodes {
            let mut client = self.node_client(&node).await?;
            let answer = client
                .drain(node_api::DrainRequest {
                    grace_seconds: request.grace_seconds,
                })
                .await
                .map_err(|s| Control::node_failed(&node, &s))?;
            tracing::info!(node = %node.id, role = %node.role, "drain requested");
            draining |= answer.into_inner().draining;
        }
        Ok(Response::new(api::DrainNodeResponse { draining }))
    }
}
