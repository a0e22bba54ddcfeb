//! W3C trace context in bus message headers.
//!
//! The bus maps these onto NATS headers; this module knows nothing of NATS. A publisher
//! calls [`inject_current`] with a closure that inserts a header; a consumer calls
//! [`extract_parent`] with a closure that reads one, then [`set_parent`] on the span it
//! processes the message in, so the consumer's span continues the publisher's trace.
//!
//! ```
//! use std::collections::HashMap;
//!
//! let mut headers = HashMap::new();
//! herald_telemetry::inject_current(|k, v| {
//!     headers.insert(k, v);
//! });
//! let span = tracing::info_span!("consume");
//! let _ = herald_telemetry::set_parent_from(&span, |k| headers.get(k).cloned());
//! ```

use opentelemetry::Context;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator as _};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing_opentelemetry::{OpenTelemetrySpanExt as _, SetParentError};

/// The W3C header carrying trace id, parent span id and flags.
pub const TRACEPARENT: &str = "traceparent";
/// The W3C header carrying vendor trace state.
pub const TRACESTATE: &str = "tracestate";

/// Writes the trace context of the current `tracing` span as `traceparent` (and
/// `tracestate` when not empty) through `set`. Writes nothing when the current span has no
/// trace context (no subscriber with the OpenTelemetry layer, or no span).
pub fn inject_current(set: impl FnMut(&'static str, String)) {
    inject_context(&tracing::Span::current().context(), set);
}

/// Writes the trace context of `cx` through `set`, as [`inject_current`] does.
pub fn inject_context(cx: &Context, set: impl FnMut(&'static str, String)) {
    TraceContextPropagator::new().inject_context(cx, &mut FnInjector(set));
}

/// The `traceparent` of `span`, to keep with data that outlives it (the connector's
/// carrier-id map); empty when the span has no trace context.
pub fn traceparent_of(span: &tracing::Span) -> String {
    let mut traceparent = String::new();
    inject_context(&span.context(), |name, value| {
        if name == TRACEPARENT {
            traceparent = value;
        }
    });
    traceparent
}

/// Reads `traceparent` and `tracestate` through `get` and returns the remote parent
/// context they describe; an empty context when they are absent or malformed.
pub fn extract_parent(get: impl Fn(&str) -> Option<String>) -> Context {
    let fetched = Fetched {
        traceparent: get(TRACEPARENT),
        tracestate: get(TRACESTATE),
    };
    TraceContextPropagator::new().extract(&fetched)
}

/// Makes `cx` the parent of `span`. Call it before the span is first entered.
///
/// # Errors
///
/// The span has already started, is disabled by the filter, or the subscriber has no
/// OpenTelemetry layer.
pub fn set_parent(span: &tracing::Span, cx: Context) -> Result<(), SetParentError> {
    span.set_parent(cx)
}

/// [`extract_parent`] then [`set_parent`]: continues the trace described by the headers
/// `get` reads in `span`.
///
/// # Errors
///
/// As [`set_parent`].
pub fn set_parent_from(
    span: &tracing::Span,
    get: impl Fn(&str) -> Option<String>,
) -> Result<(), SetParentError> {
    set_parent(span, extract_parent(get))
}

struct FnInjector<F>(F);

impl<F: FnMut(&'static str, String)> Injector for FnInjector<F> {
    fn set(&mut self, key: &str, value: String) {
        // The TraceContext propagator writes only these two keys; map them to statics so
        // callers can use them as header names without allocating.
        match key {
            TRACEPARENT => (self.0)(TRACEPARENT, value),
            TRACESTATE if !value.is_empty() => (self.0)(TRACESTATE, value),
            _ => {}
        }
    }
}

struct Fetched {
    traceparent: Option<String>,
    tracestate: Option<String>,
}

impl Extractor for Fetched {
    fn get(&self, key: &str) -> Option<&str> {
        match key {
            TRACEPARENT => self.traceparent.as_deref(),
            TRACESTATE => self.tracestate.as_deref(),
            _ => None,
        }
    }

    fn keys(&self) -> Vec<&str> {
        let mut keys = Vec::with_capacity(2);
        if self.traceparent.is_some() {
            keys.push(TRACEPARENT);
        }
        if self.tracestate.is_some() {
            keys.push(TRACESTATE);
        }
        keys
    }
}
