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

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use tokio::net::TcpListener;

use crate::{MetricsHandle, Readiness, TelemetryError, install_metrics};

/// How often histogram samples are folded into their buckets between scrapes.
const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

/// The Prometheus text format's content type.
const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The admin HTTP server, bound and ready to serve.
#[derive(Debug)]
pub struct AdminServer {
    listener: TcpListener,
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

    /// Serves until `shutdown` completes, then stops accepting and finishes the requests
    /// in progress.
    ///
    /// # Errors
    ///
    /// [`TelemetryError::Serve`] if the listener fails.
    pub async fn serve(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), TelemetryError> {
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
        let result = axum::serve(self.listener, app)
            .with_graceful_shutdown(shutdown)
            .await
            .map_err(TelemetryError::Serve);
        upkeep.abort();
        result
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
