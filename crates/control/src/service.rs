//! The `AdminService` implementation on [`Control`].

use std::time::SystemTime;

use herald_proto::admin::v1 as api;
use herald_proto::admin::v1::admin_service_server::AdminService;
use herald_proto::bus::v1::MessageState;
use herald_proto::node::v1 as node_api;
use herald_proto::node::v1::node_service_client::NodeServiceClient;
use herald_rules::routing::AllHealthy;
use herald_rules::{AuditWrite, Expected, Kind, NodeInfo, RouteRequest, StoredObject};
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Request, Response, Status};

use crate::Control;
use crate::audit;
use crate::auth::{Caller, require_admin};
use crate::error::ControlError;

type Answer<T> = Result<Response<T>, Status>;

/// A change to a rules object.
#[derive(Clone, Copy)]
enum Change<'a> {
    /// Write this JSON document.
    Put(&'a str),
    /// Delete it.
    Delete,
}

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
        region: info.region.unwrap_or_default(),
        sessions: info.sessions,
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

    /// A NodeService client for `node`: over TLS at its registered `grpc_tls` address,
    /// or in clear at its `grpc` address.
    async fn node_client(
        &self,
        node: &NodeInfo,
    ) -> Result<NodeServiceClient<Channel>, ControlError> {
        let tls_address = node.addresses.get("grpc_tls");
        let address = tls_address
            .or_else(|| node.addresses.get("grpc"))
            .cloned()
            .unwrap_or_default();
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
        let scheme = if tls_address.is_some() {
            "https"
        } else {
            "http"
        };
        let mut endpoint = Endpoint::from_shared(format!("{scheme}://{address}"))
            .map_err(|e| failed(e.to_string(), Code::FailedPrecondition))?;
        if tls_address.is_some() {
            let Some(tls) = &self.deps.node_tls else {
                return Err(failed(
                    "serves NodeService over TLS, and this control node has no grpc.tls to check it with".into(),
                    Code::FailedPrecondition,
                ));
            };
            endpoint = endpoint
                .tls_config(tls.client())
                .map_err(|e| failed(e.to_string(), Code::FailedPrecondition))?;
        }
        let channel = endpoint
            .connect_timeout(timeout)
            .timeout(timeout)
            .connect()
            .await
            .map_err(|e| failed(e.to_string(), Code::Unavailable))?;
        Ok(NodeServiceClient::new(channel))
    }

    /// `message` as a NodeService request, bearing the node token when there is one.
    fn node_request<T>(&self, message: T) -> Result<Request<T>, ControlError> {
        let mut request = Request::new(message);
        if let Some(token) = &self.deps.node_token {
            token.bearer(&mut request)?;
        }
        Ok(request)
    }

    /// `at` in Unix milliseconds.
    fn unix_ms_of(at: SystemTime) -> i64 {
        at.duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
    }

    /// The dead letters `request` names.
    async fn dead_letters_of(
        &self,
        request: &api::DeadLettersRequest,
    ) -> Result<Vec<herald_bus::DeadLetter>, ControlError> {
        require_id(&request.account_id)?;
        let (dead_letters, _) = self
            .deps
            .dead_letters
            .as_ref()
            .ok_or(ControlError::NoDeadLetters)?;
        let at = |ms: i64| {
            SystemTime::UNIX_EPOCH
                + std::time::Duration::from_millis(u64::try_from(ms).unwrap_or(0))
        };
        let until = match request.until_unix_ms {
            0 => SystemTime::now(),
            ms => at(ms),
        };
        let limit = match request.limit {
            0 => 1_000,
            n => usize::try_from(n).unwrap_or(usize::MAX).min(100_000),
        };
        Ok(dead_letters
            .account_events(&request.account_id, at(request.since_unix_ms), until, limit)
            .await?)
    }

    /// The opt-out store, or why there is none.
    fn opt_out_store(&self) -> Result<&herald_bus::OptOutStore, ControlError> {
        self.deps
            .opt_outs
            .as_ref()
            .ok_or(ControlError::NoOptOutStore)
    }

    /// Whether `destination` opted out of `account`'s messages (or those from `source`) in
    /// the opt-out bucket; false when this node has none.
    async fn subscriber_opted_out(
        &self,
        account: &str,
        source: &str,
        destination: &str,
    ) -> Result<bool, ControlError> {
        let Some(store) = &self.deps.opt_outs else {
            return Ok(false);
        };
        let snapshot = self.deps.rules.load();
        let Some(number) = snapshot.normalize_destination(account, destination, 0) else {
            return Ok(false);
        };
        let sender = source.strip_prefix('+').unwrap_or(source);
        let mut scopes = vec![herald_bus::OptOutScope::Account];
        if !sender.is_empty() {
            scopes.push(herald_bus::OptOutScope::Sender(sender));
        }
        for scope in scopes {
            match store.get(account, scope, number.as_str()).await {
                Ok(Some(record)) if record.opted_out => return Ok(true),
                Ok(_) | Err(herald_bus::BusError::Invalid(_)) => {}
                Err(error) => return Err(error.into()),
            }
        }
        Ok(false)
    }

    /// Appends the audit record of an action that is not a rules write (it has no
    /// transaction to ride in); `done` says what already happened, for the error when the
    /// record cannot be written.
    async fn record_action(
        &self,
        caller: Option<&Caller>,
        action: &str,
        kind: &str,
        id: &str,
        done: &str,
    ) -> Result<(), ControlError> {
        let audit = self.audit_write(caller, action, kind, id, 0)?;
        self.deps
            .rules_client
            .append_audit(&audit)
            .await
            .map(drop)
            .map_err(|e| {
                ControlError::Audit(format!("{done}, but its audit record was not written: {e}"))
            })
    }

    /// The audit record of `action` on `kind` `id` by `caller`, which found the object at
    /// `old_revision` (0: absent).
    fn audit_write(
        &self,
        caller: Option<&Caller>,
        action: &str,
        kind: &str,
        id: &str,
        old_revision: u64,
    ) -> Result<AuditWrite, ControlError> {
        audit::write(caller, action, kind, id, old_revision, self.audit_retention)
    }

    /// Makes `change` to object `id` of `kind`, with its audit record in the same
    /// transaction. A negative `expected_revision` (any) is made exact by reading the
    /// object first, so that the record names the revision the change replaced; a
    /// conflict with a concurrent writer then reads again (a few times), keeping "last
    /// writer wins". 0 expects the object absent.
    async fn change(
        &self,
        caller: Option<&Caller>,
        kind: Kind,
        id: &str,
        expected_revision: i64,
        change: Change<'_>,
    ) -> Result<u64, ControlError> {
        let mut attempts = 0;
        loop {
            let old = if expected_revision >= 0 {
                expected_revision.unsigned_abs()
            } else {
                self.deps
                    .rules_client
                    .get_json(kind, id)
                    .await?
                    .map_or(0, |s| s.mod_revision)
            };
            let expected = if old == 0 {
                Expected::Absent
            } else {
                Expected::Revision(old)
            };
            let client = &self.deps.rules_client;
            let written = match change {
                Change::Put(json) => {
                    let audit = self.audit_write(caller, "apply", kind.name(), id, old)?;
                    client
                        .put_json_audited(kind, id, json, expected, &audit)
                        .await
                }
                Change::Delete => {
                    let audit = self.audit_write(caller, "delete", kind.name(), id, old)?;
                    client.delete_audited(kind, id, expected, &audit).await
                }
            };
            match written {
                Err(herald_rules::Error::Conflict { .. })
                    if expected_revision < 0 && attempts < 4 =>
                {
                    attempts += 1;
                }
                other => return Ok(other?),
            }
        }
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
        require_admin(&request, "apply")?;
        let caller = Caller::of(&request).cloned();
        let request = request.into_inner();
        let object = request
            .object
            .ok_or_else(|| ControlError::InvalidArgument("an object is required".into()))?;
        let kind = kind_of(object.kind)?;
        require_id(&object.id)?;
        let written = self
            .change(
                caller.as_ref(),
                kind,
                &object.id,
                request.expected_revision,
                Change::Put(&object.json),
            )
            .await?;
        tracing::info!(%kind, id = %object.id, revision = written, "rules object written");
        Ok(Response::new(api::PutResponse {
            revision: revision(written),
        }))
    }

    async fn delete(&self, request: Request<api::DeleteRequest>) -> Answer<api::DeleteResponse> {
        require_admin(&request, "delete")?;
        let caller = Caller::of(&request).cloned();
        let request = request.into_inner();
        let kind = kind_of(request.kind)?;
        require_id(&request.id)?;
        // Deleting takes no "must be absent": 0 means any revision, as a negative one does.
        let expected_revision = if request.expected_revision <= 0 {
            -1
        } else {
            request.expected_revision
        };
        let deleted = self
            .change(
                caller.as_ref(),
                kind,
                &request.id,
                expected_revision,
                Change::Delete,
            )
            .await?;
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
                        .list_sessions(self.node_request(node_api::ListSessionsRequest {
                            account_id: account,
                        })?)
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
                        .list_binds(self.node_request(node_api::ListBindsRequest {
                            carrier_id: carrier,
                        })?)
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
        let opted_out = self
            .subscriber_opted_out(&request.account_id, &request.source, &request.destination)
            .await?;
        let check = move |_: &str| opted_out;
        let snapshot = self.deps.rules.load();
        let porting = self.deps.porting.as_ref().and_then(|(_, p)| p.load());
        let route_request = RouteRequest::new(
            &request.account_id,
            &request.source,
            &request.destination,
            data_coding,
            SystemTime::now(),
        )
        // The router's own default, so the explanation is the router's decision.
        .default_time_zone(self.deps.route_time_zone)
        .subscriber_opt_outs(&check)
        .porting(porting.as_deref());
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
        let route_quota = explanation
            .quota
            .map(|q| format!("{}/s, burst {}", q.tps, q.burst()))
            .unwrap_or_default();
        let (sender, sender_rule) = explanation
            .sender
            .map(|s| (s.sender, format!("senders[{}]", s.rule)))
            .unwrap_or_default();
        Ok(Response::new(api::ExplainRouteResponse {
            rule_id: explanation.matched_rule.unwrap_or_default(),
            carrier_id: explanation.carrier.unwrap_or_default(),
            candidates,
            reason,
            rules_revision: explanation.revision,
            route_quota,
            sender,
            sender_rule,
            network: explanation.network.unwrap_or_default(),
            ported: explanation
                .ported
                .map(|p| {
                    let mut text = p.network;
                    if let Some(range) = p.range {
                        text.push_str(&format!(" (range {range})"));
                    }
                    if let Some(home) = p.by_prefix {
                        text.push_str(&format!(", ported from {home}"));
                    }
                    text
                })
                .unwrap_or_default(),
        }))
    }

    async fn drain_node(
        &self,
        request: Request<api::DrainNodeRequest>,
    ) -> Answer<api::DrainNodeResponse> {
        require_admin(&request, "drain")?;
        let caller = Caller::of(&request).cloned();
        let request = request.into_inner();
        require_id(&request.node_id)?;
        let nodes = self.nodes(None, &request.node_id).await?;
        let mut draining = false;
        for node in nodes {
            let mut client = self.node_client(&node).await?;
            let answer = client
                .drain(self.node_request(node_api::DrainRequest {})?)
                .await
                .map_err(|s| Control::node_failed(&node, &s))?;
            tracing::info!(node = %node.id, role = %node.role, "drain requested");
            let done = format!("node {} is draining", node.id);
            self.record_action(caller.as_ref(), "drain", "node", &node.id, &done)
                .await?;
            draining |= answer.into_inner().draining;
        }
        Ok(Response::new(api::DrainNodeResponse { draining }))
    }

    type ListOptOutsStream = std::pin::Pin<
        Box<dyn futures::Stream<Item = Result<api::OptOutBatch, Status>> + Send + 'static>,
    >;

    async fn list_opt_outs(
        &self,
        request: Request<api::ListOptOutsRequest>,
    ) -> Answer<Self::ListOptOutsStream> {
        let request = request.into_inner();
        require_id(&request.account_id)?;
        let store = self.opt_out_store()?;
        let batches =
            crate::opt_outs::list(store, &request.account_id, request.include_lifted).await?;
        let stream = futures::stream::iter(batches.into_iter().map(Ok));
        Ok(Response::new(Box::pin(stream)))
    }

    async fn change_opt_outs(
        &self,
        request: Request<api::ChangeOptOutsRequest>,
    ) -> Answer<api::ChangeOptOutsResponse> {
        require_admin(&request, "changing opt-outs")?;
        let caller = Caller::of(&request).cloned();
        let request = request.into_inner();
        require_id(&request.account_id)?;
        let store = self.opt_out_store()?;
        let now = i64::try_from(
            SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap_or_default()
                .as_millis(),
        )
        .unwrap_or(i64::MAX);
        let answer = crate::opt_outs::change(store, caller.as_ref(), &request, now).await?;
        // One audit record per call: an import of a million numbers is one operator action.
        let action = if request.opted_out {
            "opt-out"
        } else {
            "opt-in"
        };
        let done = format!(
            "{} numbers changed for {}",
            answer.changed, request.account_id
        );
        self.record_action(
            caller.as_ref(),
            action,
            "opt-outs",
            &request.account_id,
            &done,
        )
        .await?;
        Ok(Response::new(answer))
    }

    async fn list_dead_letters(
        &self,
        request: Request<api::DeadLettersRequest>,
    ) -> Answer<api::ListDeadLettersResponse> {
        let request = request.into_inner();
        let letters = self.dead_letters_of(&request).await?;
        Ok(Response::new(api::ListDeadLettersResponse {
            letters: letters
                .iter()
                .map(|l| api::DeadLetterInfo {
                    sequence: l.sequence,
                    subject: l.subject.clone(),
                    reason: l.reason.clone(),
                    at_unix_ms: Self::unix_ms_of(l.at),
                    message_id: l.message_id.clone(),
                    consumer: l.consumer.clone(),
                })
                .collect(),
        }))
    }

    async fn replay_dead_letters(
        &self,
        request: Request<api::DeadLettersRequest>,
    ) -> Answer<api::ReplayDeadLettersResponse> {
        require_admin(&request, "replaying dead letters")?;
        let caller = Caller::of(&request).cloned();
        let request = request.into_inner();
        let letters = self.dead_letters_of(&request).await?;
        let (dead_letters, publisher) = self
            .deps
            .dead_letters
            .as_ref()
            .ok_or(ControlError::NoDeadLetters)?;
        let mut replayed = 0u64;
        for letter in &letters {
            dead_letters
                .replay_to_webhook(publisher, &request.account_id, letter)
                .await
                .map_err(ControlError::from)?;
            replayed += 1;
        }
        let done = format!(
            "{replayed} dead letters of {} replayed to its webhook",
            request.account_id
        );
        self.record_action(
            caller.as_ref(),
            "replay",
            "dead-letters",
            &request.account_id,
            &done,
        )
        .await?;
        Ok(Response::new(api::ReplayDeadLettersResponse { replayed }))
    }

    async fn import_ported_numbers(
        &self,
        request: Request<tonic::Streaming<api::PortedNumbersChunk>>,
    ) -> Answer<api::ImportPortedNumbersResponse> {
        require_admin(&request, "importing ported numbers")?;
        let caller = Caller::of(&request).cloned();
        let (store, _) = self
            .deps
            .porting
            .as_ref()
            .ok_or(ControlError::NoPortingStore)?;
        let (csv, replace) = crate::porting::read_chunks(request.into_inner()).await?;
        let by = format!(
            "operator:{}",
            caller.as_ref().map_or("anonymous", |c| c.name.as_str())
        );
        let answer = crate::porting::import(store, csv, replace, &by).await?;
        let done = format!(
            "{} rows {} ({} refused): {} numbers, {} ranges",
            answer.rows,
            if replace {
                "replaced the table"
            } else {
                "merged"
            },
            answer.error_count,
            answer.numbers,
            answer.ranges
        );
        self.record_action(caller.as_ref(), "import", "ported-numbers", "", &done)
            .await?;
        Ok(Response::new(answer))
    }

    async fn opt_out_history(
        &self,
        request: Request<api::OptOutHistoryRequest>,
    ) -> Answer<api::OptOutHistoryResponse> {
        let request = request.into_inner();
        require_id(&request.account_id)?;
        let store = self.opt_out_store()?;
        Ok(Response::new(
            crate::opt_outs::history(store, &request).await?,
        ))
    }

    async fn list_audit(
        &self,
        request: Request<api::ListAuditRequest>,
    ) -> Answer<api::ListAuditResponse> {
        let limit = match request.into_inner().limit {
            0 => 100,
            n => usize::try_from(n).unwrap_or(usize::MAX),
        };
        let stored = self
            .deps
            .rules_client
            .list_audit(limit)
            .await
            .map_err(|e| ControlError::Audit(e.to_string()))?;
        let records = stored
            .into_iter()
            .map(|s| audit::decode(&s))
            .collect::<Result<_, _>>()?;
        Ok(Response::new(api::ListAuditResponse { records }))
    }
}
