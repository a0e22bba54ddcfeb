//! Herald's webhooks: what an HTTP customer is pushed (receipts, MO) and how it can trust it.
//!
//! - [`sign`]: the Standard Webhooks scheme (`webhook-id`, `webhook-timestamp`,
//!   `webhook-signature: v1,<base64 HMAC-SHA256>`, `whsec_` secrets), so customers verify
//!   with the published libraries; two secrets sign at once while one is rotated out.
//! - [`client`]: posting an event to an endpoint over HTTP/1.1 (TLS verified), keeping
//!   the connection, and what the answer means ([`Outcome`]: delivered, retry, refused).
//! - [`event`]: the versioned JSON body of a receipt or an MO.
//! - [`sink`]: a minimal receiver, for `herald dev`'s demo and the benchmarks.
#![forbid(unsafe_code)]

pub mod client;
pub mod event;
pub mod sign;
pub mod sink;

pub use client::{Connection, Endpoint, EndpointError, Outcome};
pub use sign::{Secret, SecretError, Signer};
