//! The crate's one error type.

use std::net::SocketAddr;

/// What can go wrong setting up telemetry. Every variant is a start-up failure: the binary
/// reports it and exits; nothing here happens while a node serves traffic.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// Returned by [`crate::install_metrics`] when a recorder other than Herald's was
    /// installed first.
    #[error("another metrics recorder is already installed in this process")]
    RecorderInstalled,

    /// Returned by [`crate::install_metrics`] when the recorder cannot be built.
    #[error("cannot build the metrics recorder: {0}")]
    Recorder(String),

    /// Returned by [`crate::init`] when a global tracing subscriber (or `log` logger) is
    /// already set, for example on a second call in one process.
    #[error("logging is already initialised in this process: {0}")]
    AlreadyInitialized(String),

    /// Returned by [`crate::init`] when the log filter is not valid `EnvFilter` syntax.
    #[error("invalid log filter {filter:?}: {source}")]
    Filter {
        /// The filter as configured.
        filter: String,
        /// Why it did not parse.
        source: tracing_subscriber::filter::ParseError,
    },

    /// Returned by [`crate::init`] when the OTLP exporter cannot be built (a malformed
    /// endpoint, say).
    #[error("cannot build the OTLP exporter for {endpoint}: {source}")]
    Otlp {
        /// The endpoint as configured.
        endpoint: String,
        /// The exporter's reason.
        source: opentelemetry_otlp::ExporterBuildError,
    },

    /// Returned by [`crate::init`] when OTLP is configured but no Tokio runtime is running:
    /// the gRPC client needs one.
    #[error("OTLP export needs a Tokio runtime: call init() from inside one")]
    NoRuntime,

    /// Returned by [`crate::AdminServer::bind`] when the admin address cannot be bound.
    #[error("cannot bind the admin HTTP port {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The operating system's reason.
        source: std::io::Error,
    },
}
