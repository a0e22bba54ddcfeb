//! The admin HTTP port: `/metrics`, `/healthz`, `/readyz`.
//!
//! ```text
//! GET /metrics  200  Prometheus text exposition of every recorded metric
//! GET /healthz  200  "ok" while the process runs (liveness)
//! GET /readyz   200  "ready" when every readiness check is ready
//!               503  "not ready: <reasons>" naming the failing checks, or "draining"
//! ```
//!
//! Binding and serving are two steps so a caller (a test) can bind `127.0.0.1:0` and read
//! the port before serving.
//!
//! The port is reachable from the pod network before anything else, so it is bounded like
//! every other ([`crate::ports`]): 256 connections, 10 s to send the first byte, and
//! [`HEADER_TIMEOUT`] for each request's headers (and for an idle keep-alive connection's
//! next request).

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use tokio::net::TcpListener;

use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;

use crate::ports::{LimitedListener, PortLimits};
use crate::{MetricsHandle, Readiness, TelemetryError, install_metrics};

/// How often histogram samples are folded into their buckets between scrapes.
const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

/// How long a client may take over a request's headers, or idle between requests.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// How long requests in progress may finish after the shutdown.
const DRAIN: Duration = Duration::from_secs(5);

/// The Prometheus text format's content type.
const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The admin HTTP server, bound and ready to serve.
#[derive(Debug)]
pub struct AdminServer {
    listener: TcpListener,
    limits: PortLimits,
    header_timeout: Duration,
    local_addr: SocketAddr,
    metrics: MetricsHandle,
    readiness: Readiness,
}

#[derive(Clone)]
struct AppState {
    metrics: MetricsHandle,
    readiness: Readiness,
}

impl AdminServer {
    /// Binds `addr` and installs the metrics recorder ([`install_metrics`], idempotent).
    /// The server starts with a fresh [`Readiness`]; see [`AdminServer::readiness`] and
    /// [`AdminServer::with_readiness`].
    ///
    /// # Errors
    ///
    /// [`TelemetryError::Bind`] if the address cannot be bound, or the errors of
    /// [`install_metrics`].
    pub async fn bind(addr: SocketAddr) -> Result<AdminServer, TelemetryError> {
        let metrics = install_metrics()?;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| TelemetryError::Bind { addr, source })?;
        let local_addr = listener
            .local_addr()
            .map_err(|source| TelemetryError::Bind { addr, source })?;
        Ok(AdminServer {
            listener,
            limits: PortLimits::default(),
            header_timeout: HEADER_TIMEOUT,
            local_addr,
            metrics,
            readiness: Readiness::new(),
        })
    }

    /// The address actually bound (the port the OS chose for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The readiness `/readyz` reports; clone it and hand it to components.
    pub fn readiness(&self) -> &Readiness {
        &self.readiness
    }

    /// Serves `readiness` on `/readyz` instead of the server's own.
    #[must_use]
    pub fn with_readiness(mut self, readiness: Readiness) -> Self {
        self.readiness = readiness;
        self
    }

    /// Holds connections within `limits` rather than the default ones.
    #[must_use]
    pub fn with_limits(mut self, limits: PortLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Gives each request's headers `timeout` rather than [`HEADER_TIMEOUT`].
    #[must_use]
    pub fn with_header_timeout(mut self, timeout: Duration) -> Self {
        self.header_timeout = timeout;
        self
    }

    /// Serves until `shutdown` completes, then stops accepting and finishes the requests
    /// in progress (for at most 5 s). A failing accept (out of file descriptors) pauses
    /// and tries again ([`crate::ports`]), so serving never fails on its own.
    pub async fn serve(self, shutdown: impl Future<Output = ()> + Send + 'static) {
        let state = AppState {
            metrics: self.metrics.clone(),
            readiness: self.readiness,
        };
        let app = Router::new()
            .route("/metrics", get(metrics))
            .route("/healthz", get(healthz))
            .route("/readyz", get(readyz))
            .with_state(state);

        let upkeep = tokio::spawn(upkeep(self.metrics));
        let listener = LimitedListener::new(self.listener, "admin", self.limits);
        let graceful = GracefulShutdown::new();
        let mut http = hyper::server::conn::http1::Builder::new();
        http.timer(TokioTimer::new())
            .header_read_timeout(self.header_timeout)
            .keep_alive(true);
        tokio::pin!(shutdown);
        loop {
            let (io, peer) = tokio::select! {
                () = &mut shutdown => break,
                accepted = listener.accept() => accepted,
            };
            let service = TowerToHyperService::new(app.clone());
            let connection = graceful.watch(http.serve_connection(TokioIo::new(io), service));
            tokio::spawn(async move {
                if let Err(error) = connection.await {
                    tracing::debug!(%peer, %error, "admin HTTP connection ended with an error");
                }
            });
        }
        drop(listener);
        if tokio::time::timeout(DRAIN, graceful.shutdown())
            .await
            .is_err()
        {
            tracing::debug!("admin HTTP requests still in progress after the drain");
        }
        upkeep.abort();
    }
}

async fn upkeep(metrics: MetricsHandle) {
    let mut interval = tokio::time::interval(UPKEEP_INTERVAL);
    loop {
        interval.tick().await;
        metrics.run_upkeep();
    }
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, PROMETHEUS_TEXT)],
        state.metrics.render(),
    )
}

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(State(state): State<AppState>) -> (StatusCode, String) {
    let not_ready = state.readiness.not_ready();
    if not_ready.is_empty() {
        (StatusCode::OK, "ready\n".to_owned())
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {}\n", not_ready.join(", ")),
        )
    }
}
