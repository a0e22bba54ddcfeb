//! The edge role: the SMPP server that ESMEs bind to, and the HTTP submit API.
//!
//! The edge is stateless: any ESME may bind to any edge replica, and everything it accepts
//! is on the bus before the ESME hears OK. What it keeps in memory (the sessions bound to
//! it, a rate limiter per account) is rebuilt by the ESMEs binding again.
//!
//! - [`server`]: [`Edge`], the listeners (TCP and TLS) and one task per connection.
//! - [`tls`]: the TLS certificate, reloaded when its files change.
//! - [`connections`]: the edge's connections against its limits, in all and per address.
//! - [`bind`]: authenticating a bind (or an HTTP request) against the rules store.
//! - [`guard`]: lockouts after repeated failures, and a bounded number of password checks.
//! - [`http`]: the HTTP submit API, `POST /v1/messages` and `GET /v1/messages/{id}`.
//! - [`requests`]: answering a bound session's requests: `submit_sm`, `data_sm`,
//!   `submit_multi`, `query_sm`, and the rest.
//! - [`delivery`]: receipts and MO from the bus to the account's bound sessions.
//! - [`submit`]: checks a `submit_sm` field by field, with the status the specification
//!   gives each fault, and turns it into the bus envelope.
//! - [`message_id`]: cluster-unique, time-sortable message ids made without coordination.
//! - [`quota`]: the per-account rate limit, enforced across edges.
//! - [`session_slots`]: the per-account bind limit, enforced across edges.
//! - [`rebalance`]: sessions shed by an edge holding more than its share, after scale-up.
//! - [`webhooks`]: accounts' receipts and MO posted to their webhooks, signed, retried.
//!
//! With the `fuzzing` feature (off by default), a hidden `fuzzing` module exposes the
//! synchronous decisions of [`requests`] to the fuzz target in `crates/edge/fuzz`.
#![forbid(unsafe_code)]

pub mod bind;
pub mod connections;
pub mod delivery;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
pub mod guard;
pub mod http;
pub mod idempotency;
pub mod message_id;
pub mod quota;
pub mod rebalance;
pub mod requests;
pub mod server;
pub mod session_slots;
pub mod submit;
pub mod tls;
pub mod webhooks;

pub use server::{Edge, EdgeDeps, EdgeError};
