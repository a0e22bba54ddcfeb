//! OTLP export end to end: `init` with an endpoint sends our spans, with Herald's resource
//! attributes, to a fake collector (the OTLP gRPC TraceService on a loopback port).
//!
//! `init` sets the process's global subscriber, so this file holds one test.

#![allow(clippy::unwrap_used, reason = "tests")]

use herald_telemetry::{LogFormat, TelemetryConfig, TelemetryError, init};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use tokio::sync::mpsc;
use tonic::transport::server::TcpIncoming;

struct Collector(mpsc::UnboundedSender<ExportTraceServiceRequest>);

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let _ = self.0.send(request.into_inner());
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_reach_the_collector_with_resource_attributes() {
    let incoming = TcpIncoming::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = incoming.local_addr().unwrap();
    let (tx, mut rx) = mpsc::unbounded_channel();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(Collector(tx)))
            .serve_with_incoming(incoming),
    );

    let config = TelemetryConfig {
        log_format: LogFormat::Json,
        log_filter: "info".to_owned(),
        otlp_endpoint: Some(format!("http://{addr}")),
        service_name: "herald".to_owned(),
        node_id: "edge-7".to_owned(),
        role: "edge".to_owned(),
    };
    let guard = init(&config).unwrap();

    // A second init in the same process is refused, not a panic.
    assert!(matches!(
        init(&config),
        Err(TelemetryError::AlreadyInitialized(_))
    ));

    tracing::info_span!("submit", account = "acme").in_scope(|| tracing::info!("accepted"));
    // Shutting the pipeline down flushes the batch.
    tokio::task::spawn_blocking(move || drop(guard))
        .await
        .unwrap();

    let request = rx.recv().await.unwrap();
    let resource_spans = &request.resource_spans[0];
    let attributes: Vec<(String, String)> = resource_spans
        .resource
        .as_ref()
        .unwrap()
        .attributes
        .iter()
        .filter_map(|kv| match kv.value.as_ref()?.value.as_ref()? {
            Value::StringValue(s) => Some((kv.key.clone(), s.clone())),
            _ => None,
        })
        .collect();
    for expected in [
        ("service.name", "herald"),
        ("service.instance.id", "edge-7"),
        ("herald.role", "edge"),
    ] {
        assert!(
            attributes
                .iter()
                .any(|(k, v)| k == expected.0 && v == expected.1),
            "{expected:?} not in {attributes:?}"
        );
    }
    let names: Vec<&str> = resource_spans
        .scope_spans
        .iter()
        .flat_map(|s| &s.spans)
        .map(|s| s.name.as_str())
        .collect();
    assert!(names.contains(&"submit"), "{names:?}");
}

#[test]
fn bad_filter_is_a_typed_error() {
    let config = TelemetryConfig {
        log_filter: "edge=nonsense=x".to_owned(),
        ..Default::default()
    };
    assert!(matches!(init(&config), Err(TelemetryError::Filter { .. })));
}
