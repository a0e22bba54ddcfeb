//! Logs and traces: one global `tracing` subscriber per process.
//!
//! [`init`] installs an `EnvFilter`, a formatter (human or JSON, to stderr) and the
//! OpenTelemetry layer. The OpenTelemetry layer is always present, so every span has a
//! trace context that [`crate::inject_current`] can carry to the next node even when this
//! node exports nothing; with an OTLP endpoint configured, spans are also sent there by a
//! batch exporter over gRPC. The cost without an endpoint is the span bookkeeping only.

use std::sync::atomic::{AtomicBool, Ordering};

use opentelemetry::KeyValue;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::{Layer as _, SubscriberExt as _};
use tracing_subscriber::util::SubscriberInitExt as _;

use crate::TelemetryError;

/// The resource attribute carrying the node's role.
const ROLE_ATTRIBUTE: &str = "herald.role";

/// How log lines are written to stderr.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines, for a terminal.
    #[default]
    Human,
    /// One JSON object per line, for a log collector.
    Json,
}

/// What [`init`] sets up.
#[derive(Clone, Debug)]
pub struct TelemetryConfig {
    /// Human or JSON log lines.
    pub log_format: LogFormat,
    /// Which spans and events are kept, in `EnvFilter` syntax (`info`,
    /// `herald_edge=debug,info`); applies to logs and traces alike.
    pub log_filter: String,
    /// The OTLP/gRPC collector to export spans to (`http://otel-collector:4317`); `None`
    /// exports nothing.
    pub otlp_endpoint: Option<String>,
    /// The OpenTelemetry `service.name`.
    pub service_name: String,
    /// This node's id: the OpenTelemetry `service.instance.id`.
    pub node_id: String,
    /// This process's role: the `herald.role` resource attribute.
    pub role: String,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        TelemetryConfig {
            log_format: LogFormat::Human,
            log_filter: "info".to_owned(),
            otlp_endpoint: None,
            service_name: "herald".to_owned(),
            node_id: String::new(),
            role: String::new(),
        }
    }
}

/// Keeps the trace pipeline alive; dropping it flushes the spans still queued and shuts
/// the exporter down. Hold it until the end of `main`, and drop it on a multi-threaded
/// Tokio runtime or after the runtime has stopped: the flush waits on the gRPC client.
#[derive(Debug)]
#[must_use = "dropping the guard shuts the trace pipeline down"]
pub struct TelemetryGuard {
    provider: SdkTracerProvider,
}

impl TelemetryGuard {
    /// Exports every finished span now rather than at the next batch.
    pub fn flush(&self) {
        if let Err(error) = self.provider.force_flush() {
            tracing::warn!(%error, "flushing spans failed");
        }
    }
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        // Nothing useful can be done with an error this late: the subscriber may be gone.
        let _ = self.provider.shutdown();
    }
}

/// Installs the global tracing subscriber: filter, log formatter, OpenTelemetry layer,
/// and (with an endpoint) the OTLP exporter. Also sets the W3C TraceContext propagator as
/// OpenTelemetry's global propagator.
///
/// # Errors
///
/// [`TelemetryError::Filter`] for a bad filter, [`TelemetryError::NoRuntime`] or
/// [`TelemetryError::Otlp`] if the exporter cannot be built, and
/// [`TelemetryError::AlreadyInitialized`] if a global subscriber is already set (a second
/// call in one process): that call changes nothing.
pub fn init(config: &TelemetryConfig) -> Result<TelemetryGuard, TelemetryError> {
    let filter =
        EnvFilter::try_new(&config.log_filter).map_err(|source| TelemetryError::Filter {
            filter: config.log_filter.clone(),
            source,
        })?;
    let provider = tracer_provider(config)?;
    let tracer = provider.tracer("herald");

    let (human, json) = match config.log_format {
        LogFormat::Human => (
            Some(tracing_subscriber::fmt::layer().with_writer(std::io::stderr)),
            None,
        ),
        LogFormat::Json => (
            None,
            Some(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_current_span(true)
                    .with_span_list(false)
                    .with_writer(std::io::stderr),
            ),
        ),
    };
    let installed = tracing_subscriber::registry()
        .with(filter)
        .with(human)
        .with(json)
        .with(
            tracing_opentelemetry::layer()
                .with_tracer(tracer)
                .with_filter(not_exporter_internals()),
        )
        .try_init();
    if let Err(error) = installed {
        let _ = provider.shutdown();
        return Err(TelemetryError::AlreadyInitialized(error.to_string()));
    }

    // Only the propagator becomes global: Herald's spans reach the provider through the
    // layer, and leaving the global tracer provider alone keeps a refused second call from
    // disturbing the first.
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let exporting = config
        .otlp_endpoint
        .as_deref()
        .is_some_and(|e| !e.is_empty());
    MESSAGE_SPANS.store(exporting, Ordering::Relaxed);
    Ok(TelemetryGuard { provider })
}

/// Whether per-message spans are exported; see [`message_spans`].
static MESSAGE_SPANS: AtomicBool = AtomicBool::new(false);

/// True when [`init`] configured an OTLP endpoint. The roles open a span per message (and
/// carry its context across the bus) only then: without an exporter nobody would see
/// those spans, and at tens of thousands of messages a second they are not free.
pub fn message_spans() -> bool {
    MESSAGE_SPANS.load(Ordering::Relaxed)
}

/// Keeps the exporter's own machinery (gRPC client, HTTP/2, the SDK) out of the traces it
/// exports, which would otherwise feed back on itself.
fn not_exporter_internals() -> Targets {
    Targets::new()
        .with_default(LevelFilter::TRACE)
        .with_targets(
            [
                "opentelemetry",
                "opentelemetry_sdk",
                "opentelemetry_otlp",
                "tonic",
                "h2",
                "hyper",
                "hyper_util",
                "tower",
            ]
            .map(|t| (t, LevelFilter::OFF)),
        )
}

fn tracer_provider(config: &TelemetryConfig) -> Result<SdkTracerProvider, TelemetryError> {
    let resource = Resource::builder()
        .with_service_name(config.service_name.clone())
        .with_attributes([
            KeyValue::new("service.instance.id", config.node_id.clone()),
            KeyValue::new(ROLE_ATTRIBUTE, config.role.clone()),
        ])
        .build();
    let builder = SdkTracerProvider::builder().with_resource(resource);
    let Some(endpoint) = config.otlp_endpoint.as_deref().filter(|e| !e.is_empty()) else {
        return Ok(builder.build());
    };
    // The tonic channel spawns its connection task on the current runtime.
    if tokio::runtime::Handle::try_current().is_err() {
        return Err(TelemetryError::NoRuntime);
    }
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(endpoint)
        .build()
        .map_err(|source| TelemetryError::Otlp {
            endpoint: endpoint.to_owned(),
            source,
        })?;
    Ok(builder.with_batch_exporter(exporter).build())
}
