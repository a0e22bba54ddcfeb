//! The process-wide Prometheus recorder.
//!
//! `metrics` has one global recorder per process. [`install_metrics`] installs Herald's
//! the first time and hands back the same [`MetricsHandle`] on every later call, so tests
//! and roles started in one process can all call it.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{BuildError, Matcher, PrometheusBuilder, PrometheusHandle};

use crate::TelemetryError;

/// Histogram buckets, in seconds, for every metric whose name ends in `_seconds`: from
/// 50 µs (a local bus ack) to 10 s (a carrier response timeout), about three per decade.
pub const LATENCY_BUCKETS: &[f64] = &[
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5, 5.0, 10.0,
];

/// Buckets for any other histogram (counts and sizes).
const COUNT_BUCKETS: &[f64] = &[1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0];

static HANDLE: OnceLock<Result<MetricsHandle, Failure>> = OnceLock::new();

/// Why the first install failed, kept so later calls report the same.
#[derive(Clone, Debug)]
enum Failure {
    Installed,
    Build(String),
}

/// Reads the installed recorder: renders the Prometheus text exposition.
#[derive(Clone, Debug)]
pub struct MetricsHandle(PrometheusHandle);

impl MetricsHandle {
    /// Every metric recorded so far, in the Prometheus text format.
    pub fn render(&self) -> String {
        self.0.render()
    }

    /// Drains histogram samples into their buckets. The admin server runs it periodically;
    /// call it yourself only if you render without one.
    pub fn run_upkeep(&self) {
        self.0.run_upkeep();
    }
}

/// Installs Herald's Prometheus recorder as the process's `metrics` recorder, registers
/// every description ([`crate::describe_all`]) and returns a handle to render it.
///
/// Idempotent: the first call installs, later calls return the same handle.
///
/// # Errors
///
/// [`TelemetryError::RecorderInstalled`] if some other recorder was installed first.
pub fn install_metrics() -> Result<MetricsHandle, TelemetryError> {
    HANDLE
        .get_or_init(|| {
            let recorder = builder()
                .map_err(|e| Failure::Build(e.to_string()))?
                .build_recorder();
            let handle = MetricsHandle(recorder.handle());
            metrics::set_global_recorder(recorder).map_err(|_| Failure::Installed)?;
            crate::describe_all();
            Ok(handle)
        })
        .clone()
        .map_err(|failure| match failure {
            Failure::Installed => TelemetryError::RecorderInstalled,
            Failure::Build(reason) => TelemetryError::Recorder(reason),
        })
}

fn builder() -> Result<PrometheusBuilder, BuildError> {
    PrometheusBuilder::new()
        .set_buckets(COUNT_BUCKETS)?
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)
}
