//! [`Edge`]: the SMPP listeners, one task per connection, the table of bound sessions, and
//! the HTTP submit API's listener ([`Edge::serve_http`], served by [`crate::http`]).
//!
//! A connection goes: bind handshake (the session engine's [`accept`]) →
//! [`crate::bind::Authenticator`] → bind response → `requests::serve` until the session ends. Receiver
//! and transceiver sessions are also handed to [`crate::delivery`], which brings their account's
//! receipts and MO. On shutdown the edge stops accepting, unbinds every session (each
//! finishes what it has in flight) and returns.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use herald_bus::{
    BatchLimits, Bus, BusError, CancelMarks, CoalescingPublisher, IdempotencyKeys, RateCounters,
    StatusStore,
};
use herald_config::EdgeConfig;
use herald_rules::model::{Quota, UtcOffset};
use herald_rules::{Account, RulesStore};
use herald_smpp::CommandStatus;
use herald_smpp::session::{BindMode, InboundOverflow, Session, SessionConfig, accept};
use herald_telemetry::names;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use crate::bind::{Authenticator, BindAttempt, BindThrottle};
use crate::connections::{Admitted, ConnectionLimits, Listener, accept_admitted};
use crate::delivery::Receivers;
use crate::guard::AuthGuard;
use crate::message_id::MessageIdGenerator;
use crate::quota::ClusterQuota;
use crate::rebalance::Peers;
use crate::requests;
use crate::session_slots::{Claim, SessionSlots};
use crate::tls::ReloadingAcceptor;

/// The `system_id` the edge answers binds with.
pub const SMSC_SYSTEM_ID: &str = "herald";

/// How long a shutdown waits for sessions to unbind.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// What the edge needs from the rest of the node.
#[derive(Clone)]
pub struct EdgeDeps {
    /// The bus, with its topology declared.
    pub bus: Bus,
    /// The rules store (accounts, routes).
    pub rules: RulesStore,
    /// This node's id, recorded in every envelope.
    pub node_id: String,
    /// The cluster-wide bind slots; `None` counts binds on this edge only.
    pub session_slots: Option<SessionSlots>,
    /// The offset of route time windows that name none (the routers' `default_timezone`),
    /// so the no-route check agrees with the routers.
    pub route_time_zone: UtcOffset,
}

/// Why the edge could not start or go on.
#[derive(Debug, thiserror::Error)]
pub enum EdgeError {
    /// The bus refused to open a store or consumer.
    #[error("bus: {0}")]
    Bus(#[from] BusError),
    /// The listener failed.
    #[error("cannot accept connections: {0}")]
    Accept(#[source] std::io::Error),
}

/// The edge role: serves SMPP on the listeners it is given.
#[derive(Clone)]
pub struct Edge {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Edge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Edge")
            .field("node_id", &self.shared.node_id)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for EdgeDeps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EdgeDeps")
            .field("node_id", &self.node_id)
            .finish_non_exhaustive()
    }
}

/// Everything the connection tasks share.
pub(crate) struct Shared {
    pub(crate) config: EdgeConfig,
    pub(crate) rules: RulesStore,
    pub(crate) bus: Bus,
    /// Accepted MT goes out through it: batched per account while an ack is in flight.
    pub(crate) publisher: CoalescingPublisher,
    pub(crate) status: StatusStore,
    pub(crate) cancel_marks: CancelMarks,
    /// The HTTP API's requests by `Idempotency-Key`.
    pub(crate) idempotency: IdempotencyKeys,
    pub(crate) ids: MessageIdGenerator,
    pub(crate) node_id: String,
    pub(crate) throttle: Arc<BindThrottle>,
    pub(crate) auth: Authenticator,
    /// Every listener's connections, against `edge.max_connections` (and per address).
    pub(crate) connections: Arc<ConnectionLimits>,
    pub(crate) sessions: SessionTable,
    pub(crate) receivers: Receivers,
    pub(crate) rate_counters: Option<RateCounters>,
    pub(crate) route_time_zone: UtcOffset,
    session_slots: Option<SessionSlots>,
    /// Each account's rate limit with the quota it was made for. Read without a lock (an
    /// HTTP request looks its account's up each time); replaced whole, copy on write, when
    /// an account is first seen or its quota changes.
    limiters: Limiters,
    /// Each route's rate limit (routes with a `quota`), shared like the accounts'.
    route_limiters: Limiters,
    /// SMPP submits accepted and awaiting the bus's ack, across this edge's sessions: the
    /// edge's share of SMPP 5.0's `congestion_state`.
    pub(crate) awaiting_bus: AtomicUsize,
}

impl Shared {
    /// The cluster-wide rate counters while the bus is connected. While it is not, they
    /// cannot answer: the local bucket alone decides at once, rather than after a request
    /// timeout (the publish that follows then fails within its own).
    pub(crate) fn live_rate_counters(&self) -> Option<&RateCounters> {
        self.rate_counters
            .as_ref()
            .filter(|_| self.bus.is_connected())
    }

    /// The rate limit of `account`, made anew when its quota changed. Lock-free when the
    /// account's limiter exists; every caller gets the same limiter for the same quota.
    pub(crate) fn quota(&self, account: &Account) -> Arc<ClusterQuota> {
        shared_limiter(&self.limiters, &account.id, account.quota, || {
            ClusterQuota::new(&account.id, account.quota.tps, burst(account.quota))
        })
    }

    /// The rate limit of route `id` with `quota`, as [`Shared::quota`] is an account's.
    pub(crate) fn route_quota(&self, id: &str, quota: Quota) -> Arc<ClusterQuota> {
        shared_limiter(&self.route_limiters, id, quota, || {
            ClusterQuota::route(id, quota.tps, burst(quota))
        })
    }
}

impl Edge {
    /// Prepares an edge; opens the status store it answers `query_sm` from.
    pub async fn new(config: EdgeConfig, deps: EdgeDeps) -> Result<Self, EdgeError> {
        let status = deps.bus.status_store().await?;
        let cancel_marks = deps.bus.cancel_marks().await?;
        let idempotency = deps.bus.idempotency_keys().await?;
        let rate_counters = Some(deps.bus.rate_counters().await?);
        let throttle = BindThrottle::new(config.failed_bind_delay);
        let guard = AuthGuard::new(
            config.lockout_failures,
            config.lockout,
            config.password_checks,
            config.password_check_queue,
        )
        .with_shared(deps.bus.auth_failures().await?);
        let auth = Authenticator::new(guard, config.detailed_bind_errors);
        let connections =
            ConnectionLimits::new(config.max_connections, config.max_connections_per_ip);
        Ok(Edge {
            shared: Arc::new(Shared {
                publisher: deps.bus.coalescing_publisher(BatchLimits::default()),
                status,
                cancel_marks,
                idempotency,
                ids: MessageIdGenerator::new(),
                throttle,
                auth,
                connections,
                sessions: SessionTable::default(),
                receivers: Receivers::default(),
                rate_counters,
                session_slots: deps.session_slots,
                route_time_zone: deps.route_time_zone,
                limiters: ArcSwap::default(),
                route_limiters: ArcSwap::default(),
                awaiting_bus: AtomicUsize::new(0),
                config,
                rules: deps.rules,
                bus: deps.bus,
                node_id: deps.node_id,
            }),
        })
    }

    /// Serves plain-TCP SMPP on `listener` until `shutdown` completes, then unbinds every
    /// session and returns.
    pub async fn serve(
        &self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), EdgeError> {
        self.serve_with(listener, None, shutdown).await
    }

    /// Serves SMPP over TLS on `listener` with `tls`'s current certificate, until
    /// `shutdown` completes; then unbinds every session and returns. The TLS handshake
    /// must finish within the bind timeout.
    pub async fn serve_tls(
        &self,
        listener: TcpListener,
        tls: ReloadingAcceptor,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), EdgeError> {
        self.serve_with(listener, Some(tls), shutdown).await
    }

    /// Serves the HTTP submit API (see [`crate::http`]) on `listener` until `shutdown`
    /// completes; then stops accepting connections, lets requests in progress finish
    /// (their publishes acked and answered, for at most 10 s) and returns.
    ///
    /// The listener is plain HTTP: accounts that require TLS are refused with 403.
    pub async fn serve_http(
        &self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), EdgeError> {
        crate::http::serve(self.shared.clone(), listener, None, shutdown, DRAIN_TIMEOUT).await
    }

    /// Serves the HTTP submit API over TLS (HTTPS) on `listener` with `tls`'s current
    /// certificate, as [`Edge::serve_http`] does otherwise; accounts that require TLS may
    /// use it. The TLS handshake must finish within the bind timeout.
    pub async fn serve_https(
        &self,
        listener: TcpListener,
        tls: ReloadingAcceptor,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), EdgeError> {
        crate::http::serve(
            self.shared.clone(),
            listener,
            Some(tls),
            shutdown,
            DRAIN_TIMEOUT,
        )
        .await
    }

    async fn serve_with(
        &self,
        listener: TcpListener,
        tls: Option<ReloadingAcceptor>,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), EdgeError> {
        let kind = if tls.is_some() {
            Listener::SmppTls
        } else {
            Listener::Smpp
        };
        let mut connections = JoinSet::new();
        tokio::pin!(shutdown);
        let result = loop {
            tokio::select! {
                () = &mut shutdown => break Ok(()),
                accepted = accept_admitted(&listener, &self.shared.connections, kind) => match accepted {
                    Ok((stream, peer, admitted)) => {
                        let shared = self.shared.clone();
                        match &tls {
                            None => {
                                connections.spawn(connection(shared, stream, peer, false, admitted));
                            }
                            Some(tls) => {
                                let handshake = tls.handshake(stream, peer, shared.config.bind_timeout);
                                connections.spawn(async move {
                                    if let Some(stream) = handshake.await {
                                        connection(shared, stream, peer, true, admitted).await;
                                    }
                                });
                            }
                        }
                    }
                    Err(err) => break Err(EdgeError::Accept(err)),
                },
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
            }
        };
        drop(listener);
        self.drain().await;
        let deadline = tokio::time::sleep(DRAIN_TIMEOUT);
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                () = &mut deadline => { connections.abort_all(); break; }
                next = connections.join_next() => if next.is_none() { break },
            }
        }
        result
    }

    /// Unbinds every session: each finishes its in-flight requests first.
    pub async fn drain(&self) {
        let sessions = self.shared.sessions.all();
        let unbinds = sessions.iter().map(|s| s.session.unbind());
        if tokio::time::timeout(DRAIN_TIMEOUT, futures::future::join_all(unbinds))
            .await
            .is_err()
        {
            tracing::warn!(timeout = ?DRAIN_TIMEOUT, "sessions still unbinding after the drain timeout; closing");
        }
    }

    /// Registers this edge's session count with `peers` every `edge.rebalance_interval`
    /// and, with `edge.rebalance`, sheds sessions beyond its share ([`crate::rebalance`]),
    /// until the returned task is aborted.
    pub fn rebalance(&self, peers: Peers) -> tokio::task::JoinHandle<()> {
        tokio::spawn(crate::rebalance::run(self.shared.clone(), peers))
    }

    /// Delivers the webhooks of every account that has one ([`crate::webhooks`]), until
    /// the returned task is aborted.
    pub fn deliver_webhooks(&self) -> tokio::task::JoinHandle<()> {
        tokio::spawn(crate::webhooks::run(self.shared.clone()))
    }

    /// The sessions bound to this edge now.
    pub fn sessions(&self) -> Vec<SessionInfo> {
        self.shared
            .sessions
            .all()
            .into_iter()
            .map(|e| e.info)
            .collect()
    }
}

/// The `mode` label of a bind.
fn mode_label(mode: BindMode) -> &'static str {
    match mode {
        BindMode::Transmitter => "tx",
        BindMode::Receiver => "rx",
        BindMode::Transceiver => "trx",
    }
}

fn session_config(config: &EdgeConfig) -> SessionConfig {
    let window = usize::try_from(config.max_window)
        .unwrap_or(usize::MAX)
        .max(1);
    SessionConfig {
        max_pdu_len: config.max_pdu_len,
        bind_timeout: config.bind_timeout,
        response_timeout: config.response_timeout,
        enquire_link_interval: config.enquire_link_interval,
        inactivity_timeout: Some(config.inactivity_timeout),
        window,
        inbound_window: window,
        inbound_overflow: InboundOverflow::Throttle,
        write_timeout: config.write_timeout,
        ..SessionConfig::default()
    }
}

async fn connection<IO>(
    shared: Arc<Shared>,
    io: IO,
    peer: SocketAddr,
    tls: bool,
    _admitted: Admitted,
) where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let request = match accept(io, session_config(&shared.config)).await {
        Ok(request) => request,
        Err(err) => {
            tracing::debug!(%peer, error = %err, "no bind");
            return;
        }
    };
    let attempt = BindAttempt {
        system_id: request.bind.system_id.to_string_lossy(),
        password: request.bind.password.to_string_lossy(),
        mode: request.mode,
        peer: peer.ip(),
        tls,
    };
    let snapshot = shared.rules.snapshot();
    let outcome = match shared.auth.authenticate(&snapshot, &attempt).await {
        Ok(account) => {
            match shared
                .sessions
                .open(&account, &attempt, peer, shared.config.max_sessions)
            {
                Ok(slot) => match &shared.session_slots {
                    Some(slots) => match slots.claim(&account.id, account.max_binds).await {
                        Claim::Held(guard) => Ok((account, slot, Some(guard))),
                        Claim::Unknown => Ok((account, slot, None)),
                        Claim::Full => Err((
                            CommandStatus::ESME_RBINDFAIL,
                            "the account's binds are all in use across the cluster",
                        )),
                    },
                    None => Ok((account, slot, None)),
                },
                Err(full) => Err((CommandStatus::ESME_RBINDFAIL, full)),
            }
        }
        Err(rejection) => Err(rejection),
    };
    let (account, slot, cluster_slot) = match outcome {
        Ok(bound) => bound,
        Err((status, reason)) => {
            // Only a known account is a label value: system_ids of failed binds are the
            // prober's choice and would make the label set unbounded.
            let account = snapshot
                .account_by_system_id(&attempt.system_id)
                .map_or_else(String::new, |a| a.id.clone());
            metrics::counter!(
                names::EDGE_BINDS_TOTAL,
                names::labels::ACCOUNT => account,
                names::labels::MODE => mode_label(attempt.mode),
                names::labels::STATUS => status.name()
            )
            .increment(1);
            tracing::info!(%peer, system_id = %attempt.system_id, %status, reason, "bind refused");
            tokio::time::sleep(shared.throttle.failed(peer.ip())).await;
            // The connection closes either way; a peer gone meanwhile needs no answer.
            let _ = request.reject(status).await;
            return;
        }
    };
    // SMPP 5.0 ESMEs are told the edge's load in each response (`congestion_state`).
    let smpp_50 = request.bind.interface_version >= herald_smpp::pdu::INTERFACE_VERSION_50;
    let (session, inbox) = match request.accept(SMSC_SYSTEM_ID).await {
        Ok(bound) => bound,
        Err(err) => {
            tracing::debug!(%peer, error = %err, "bind response failed");
            return;
        }
    };
    metrics::counter!(
        names::EDGE_BINDS_TOTAL,
        names::labels::ACCOUNT => account.id.clone(),
        names::labels::MODE => mode_label(attempt.mode),
        names::labels::STATUS => CommandStatus::ESME_ROK.name()
    )
    .increment(1);
    tracing::info!(%peer, account = %account.id, mode = ?attempt.mode, "bound");
    let slot = slot.attach(session.clone());
    let receiver = (attempt.mode != BindMode::Transmitter).then(|| {
        shared
            .receivers
            .register(&shared, &account.id, session.clone())
    });
    requests::serve(
        shared.clone(),
        account.id.clone(),
        session.clone(),
        inbox,
        smpp_50,
    )
    .await;
    let reason = session.closed().await;
    metrics::counter!(names::EDGE_SESSION_ENDS_TOTAL, names::labels::STATUS => reason.name())
        .increment(1);
    tracing::info!(%peer, account = %account.id, %reason, "session ended");
    drop(receiver);
    drop(slot);
    drop(cluster_slot);
}

/// What the edge tells about a bound session (NodeService, heraldctl).
#[derive(Clone, Debug)]
pub struct SessionInfo {
    /// The edge-local session number.
    pub id: u64,
    /// The account.
    pub account: String,
    /// How it bound.
    pub mode: BindMode,
    /// Where from.
    pub peer: SocketAddr,
    /// Whether over TLS.
    pub tls: bool,
    /// Since when.
    pub bound_at: SystemTime,
}

#[derive(Clone, Debug)]
pub(crate) struct SessionEntry {
    info: SessionInfo,
    session: Session,
}

impl SessionEntry {
    /// What the session is.
    pub(crate) fn info(&self) -> &SessionInfo {
        &self.info
    }

    /// Unbinds it, after its in-flight requests are answered.
    pub(crate) async fn unbind(&self) {
        self.session.unbind().await;
    }
}

/// The sessions bound to this edge, for `max_binds`, draining and listing.
#[derive(Debug, Default)]
pub(crate) struct SessionTable {
    next_id: AtomicU64,
    entries: Mutex<HashMap<u64, Option<SessionEntry>>>,
    per_account: Mutex<HashMap<String, u32>>,
    /// Binds reserved on this edge, all accounts together.
    total: AtomicU64,
}

impl SessionTable {
    /// Reserves a bind of `account` unless all its binds, or the edge's `max_sessions`, are
    /// taken (the reason).
    fn open(
        &self,
        account: &Account,
        attempt: &BindAttempt,
        peer: SocketAddr,
        max_sessions: u32,
    ) -> Result<Slot<'_>, &'static str> {
        const BROKEN: &str = "the session table is unusable";
        let mut per_account = self.per_account.lock().map_err(|_| BROKEN)?;
        if self.total.load(Ordering::Relaxed) >= u64::from(max_sessions) {
            return Err("the edge's sessions are all in use (edge.max_sessions)");
        }
        let count = per_account.entry(account.id.clone()).or_insert(0);
        if *count >= account.max_binds {
            return Err("the account's binds are all in use");
        }
        *count += 1;
        self.total.fetch_add(1, Ordering::Relaxed);
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        Ok(Slot {
            table: self,
            id,
            info: SessionInfo {
                id,
                account: account.id.clone(),
                mode: attempt.mode,
                peer,
                tls: attempt.tls,
                bound_at: SystemTime::now(),
            },
        })
    }

    pub(crate) fn all(&self) -> Vec<SessionEntry> {
        self.entries
            .lock()
            .map(|entries| entries.values().flatten().cloned().collect())
            .unwrap_or_default()
    }
}

/// A reserved bind; releases it when dropped.
struct Slot<'a> {
    table: &'a SessionTable,
    id: u64,
    info: SessionInfo,
}

impl Slot<'_> {
    fn attach(self, session: Session) -> Self {
        if let Ok(mut entries) = self.table.entries.lock() {
            entries.insert(
                self.id,
                Some(SessionEntry {
                    info: self.info.clone(),
                    session,
                }),
            );
        }
        metrics::gauge!(names::EDGE_SESSIONS, names::labels::ACCOUNT => self.info.account.clone())
            .increment(1.0);
        self
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        if let Ok(mut entries) = self.table.entries.lock()
            && entries.remove(&self.id).is_some()
        {
            metrics::gauge!(names::EDGE_SESSIONS, names::labels::ACCOUNT => self.info.account.clone())
                .decrement(1.0);
        }
        if let Ok(mut per_account) = self.table.per_account.lock()
            && let Some(count) = per_account.get_mut(&self.info.account)
        {
            *count = count.saturating_sub(1);
            self.table.total.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// Limiters by id, each with the quota it was made for.
type Limiters = ArcSwap<HashMap<String, (Quota, Arc<ClusterQuota>)>>;

fn burst(quota: Quota) -> u32 {
    quota.burst.unwrap_or(quota.tps)
}

/// The limiter of `id` in `limiters` for `quota`, made (by `make`) when it has none or one
/// for another quota. A racing caller may store one meanwhile: the stored one wins, so an
/// id never has two local buckets.
fn shared_limiter(
    limiters: &Limiters,
    id: &str,
    quota: Quota,
    make: impl FnOnce() -> ClusterQuota,
) -> Arc<ClusterQuota> {
    let current = |limiters: &HashMap<String, (Quota, Arc<ClusterQuota>)>| {
        limiters
            .get(id)
            .filter(|(made_for, _)| *made_for == quota)
            .map(|(_, limiter)| limiter.clone())
    };
    if let Some(limiter) = current(&limiters.load()) {
        return limiter;
    }
    let made = Arc::new(make());
    let mut chosen = made.clone();
    limiters.rcu(|stored| {
        if let Some(limiter) = current(stored) {
            chosen = limiter;
            return Arc::clone(stored);
        }
        chosen = made.clone();
        let mut next = HashMap::clone(stored);
        next.insert(id.to_owned(), (quota, made.clone()));
        Arc::new(next)
    });
    chosen
}
