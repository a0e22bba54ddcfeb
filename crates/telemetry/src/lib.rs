//! Herald's telemetry: everything a node needs to be observed.
//!
//! - [`handles`]: metric handles for per-message code, cached per thread (no allocation,
//!   no registry lock once warm).
//! - [`names`]: every Herald metric name, its type, unit, labels and meaning, in one place;
//!   [`describe_all`] registers them with the recorder.
//! - [`install_metrics`]: the process-wide Prometheus recorder (idempotent), with latency
//!   buckets for `_seconds` histograms.
//! - [`AdminServer`] and [`Readiness`]: the admin HTTP port serving `/metrics`, `/healthz`
//!   and `/readyz`, and the named readiness checks components flip.
//! - [`ports`]: the bounds every port of a node's own (admin HTTP, admin gRPC,
//!   NodeService) holds: a cap on connections, a first-byte timeout.
//! - [`init`]: logs (human or JSON) and traces (OpenTelemetry, exported over OTLP/gRPC when
//!   an endpoint is configured); the returned [`TelemetryGuard`] flushes on drop.
//! - [`inject_current`], [`extract_parent`], [`set_parent`]: W3C trace context in bus
//!   message headers, without depending on NATS; [`message_spans`] says whether the roles
//!   open a span per message (only when traces are exported).

#![forbid(unsafe_code)]

mod admin;
mod error;
pub mod handles;
pub mod names;
pub mod ports;
mod propagation;
mod readiness;
mod recorder;
mod tracing_setup;

pub use admin::{AdminServer, HEADER_TIMEOUT};
pub use error::TelemetryError;
pub use names::{describe_all, set_node_info};
pub use propagation::{
    TRACEPARENT, TRACESTATE, extract_parent, inject_context, inject_current, set_parent,
    set_parent_from, traceparent_of,
};
pub use readiness::{Readiness, ReadyFlag};
pub use recorder::{LATENCY_BUCKETS, MetricsHandle, install_metrics};
pub use tracing_setup::{LogFormat, TelemetryConfig, TelemetryGuard, init, message_spans};
