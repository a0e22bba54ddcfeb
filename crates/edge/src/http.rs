//! The HTTP submit API: the same acceptance as SMPP `submit_sm`, for clients that speak
//! JSON over HTTP/1.1 rather than SMPP, on a plain listener and, with the SMPP-over-TLS
//! certificate, an HTTPS one.
//!
//! | endpoint | what it does |
//! | --- | --- |
//! | `POST /v1/messages` | encodes `text`, splits it into SMS segments and accepts one message per segment per destination; `202` once the bus acked every one |
//! | `GET /v1/messages/{id}` | the status of one of the caller's messages, from the bus's status store |
//!
//! Both authenticate with HTTP Basic (`system_id:password`) exactly as a bind does
//! ([`crate::bind::Authenticator`]: the argon2id password through [`VerifiedPasswords`]
//! behind the lockouts and bounded checks, then the account enabled, the peer address
//! allowed, TLS if the account requires it), as a transmitter (module `auth`). Failed
//! attempts are slowed down per address as failed binds are. Connections come through
//! module `listener`, which holds them to the edge's connection limits.
//!
//! Every segment goes through the same path as an SMPP `submit_sm`: `admit` (the field
//! checks, the sender policy, the no-route check), `take_token`, `publish`, and
//! `confirm`. A destination's segments are admitted and given their tokens before any
//! of them is published, so a refusal never leaves half a message on the bus.
//!
//! A request may carry an `Idempotency-Key`, which makes its retries safe: see
//! [`crate::idempotency`].
//!
//! Failures are answered as `{"error": {"status": "<SMPP status name>", "message": "..."}}`;
//! [`http_status`] is the one mapping from SMPP statuses to HTTP. See `docs/edge.md` for
//! the whole contract.
//!
//! The modules, by concern: `listener` (connections, TLS, limits, drain), `auth` (the
//! credentials), `body` (the JSON body read into SMPP fields), `submit` and `status` (the
//! two endpoints), `answer` (errors, the status mapping, JSON responses).
//!
//! [`VerifiedPasswords`]: crate::bind::VerifiedPasswords

use std::hash::BuildHasher as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::SystemTime;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};

use crate::server::Shared;

mod answer;
mod auth;
mod body;
mod listener;
mod status;
mod submit;

pub use answer::{ApiError, http_status};
pub(crate) use listener::serve;

/// Largest request body, in octets: a text of 255 UCS-2 segments written as JSON escapes
/// and 100 destinations fit with room to spare.
pub const MAX_BODY_OCTETS: usize = 256 * 1024;

/// Most destinations in one request.
pub const MAX_DESTINATIONS: usize = 100;

/// The API's routes, with the body limit.
fn router(api: Api) -> Router {
    Router::new()
        .route("/v1/messages", post(submit::submit))
        .route("/v1/messages/{id}", get(status::message_status))
        .layer(DefaultBodyLimit::max(MAX_BODY_OCTETS))
        .with_state(api)
}

/// What the handlers share.
#[derive(Clone)]
struct Api {
    shared: Arc<Shared>,
    /// The next concatenation reference; starts at random so that restarts and other
    /// edges do not begin at the same one.
    references: Arc<AtomicU16>,
    /// Whether this API is served over TLS (accounts with `tls_required` may use it).
    tls: bool,
}

impl Api {
    fn new(shared: Arc<Shared>, tls: bool) -> Self {
        let start = std::collections::hash_map::RandomState::new().hash_one(SystemTime::now());
        Api {
            shared,
            references: Arc::new(AtomicU16::new((start & 0xFFFF) as u16)),
            tls,
        }
    }

    /// The 8-bit concatenation reference of the next long message.
    fn next_reference(&self) -> u8 {
        (self.references.fetch_add(1, Ordering::Relaxed) & 0xFF) as u8
    }
}
