//! Trace context through bus headers: inject on one side, extract on the other, same trace.

#![allow(clippy::unwrap_used, reason = "tests")]

use std::collections::HashMap;

use herald_telemetry::{TRACEPARENT, extract_parent, inject_current, set_parent_from};
use opentelemetry::trace::{TraceContextExt as _, TracerProvider as _};
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use tracing_subscriber::layer::SubscriberExt as _;

fn subscriber() -> impl tracing::Subscriber + Send + Sync {
    let provider = SdkTracerProvider::builder().build();
    tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")))
}

#[test]
fn inject_then_extract_keeps_the_trace_id() {
    tracing::subscriber::with_default(subscriber(), || {
        let mut headers: HashMap<&'static str, String> = HashMap::new();
        let publish = tracing::info_span!("publish");
        let sent = {
            let _entered = publish.enter();
            inject_current(|k, v| {
                headers.insert(k, v);
            });
            publish.context().span().span_context().clone()
        };
        assert!(sent.is_valid());
        let traceparent = &headers[TRACEPARENT];
        assert!(
            traceparent.contains(&sent.trace_id().to_string()),
            "{traceparent}"
        );

        let consume = tracing::info_span!("consume");
        set_parent_from(&consume, |k| headers.get(k).cloned()).unwrap();
        let received = consume.context().span().span_context().clone();
        assert_eq!(received.trace_id(), sent.trace_id());
        assert_ne!(received.span_id(), sent.span_id());
    });
}

#[test]
fn missing_or_malformed_headers_give_no_parent() {
    let cx = extract_parent(|_| None);
    assert!(!cx.span().span_context().is_valid());
    let cx = extract_parent(|k| (k == TRACEPARENT).then(|| "00-nonsense".to_owned()));
    assert!(!cx.span().span_context().is_valid());
}

#[test]
fn without_a_trace_layer_nothing_is_injected() {
    let mut headers = HashMap::new();
    let span = tracing::info_span!("no subscriber");
    let _entered = span.enter();
    inject_current(|k, v| {
        headers.insert(k, v);
    });
    assert!(headers.is_empty());
}
