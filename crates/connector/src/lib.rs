//! The connector role: Herald's SMPP client binds to carriers' SMSCs.
//!
//! A connector leases bind slots of each carrier in etcd (never more binds cluster-wide
//! than the carrier allows), holds a bind per slot, sends the messages routed to the
//! carriers it holds slots of (a window per bind, the carrier's TPS shared across the
//! cluster, AIMD on throttling), records carrier message id → Herald id before acking,
//! and turns what carriers send back (receipts, MO) into bus events before answering.
//! `docs/connector.md` is the reference.
//!
//! - [`connector`]: [`Connector`], its dependencies, the supervisor that leases slots and
//!   runs binds and senders, and the drain.
//! - [`slots`]: slot keys and leases in etcd, the fair share.
//! - [`bind`]: one bind: connect, bind, serve the carrier's requests, rebind with back-off.
//! - [`sender`]: one carrier's sending loop: pull, pace, submit, settle.
//! - [`outcome`]: what a carrier's answer means, and the failover hand-back.
//! - [`settle`]: how a message ends: what is recorded, in which order, before the ack.
//! - [`submit`]: the `submit_sm` built from a bus message for a carrier.
//! - [`inbound`]: receipts (matched against the id map, with the race handled) and MO.
//! - [`held`]: receipts that found no message when they came, matched later.
//! - [`pacing`]: the window and rate controllers (AIMD).
//! - [`health`]: bind listings and the carrier health published for the routers.
//! - [`tls`]: TLS towards carriers.
#![forbid(unsafe_code)]

pub mod bind;
pub mod connector;
pub mod error;
pub mod health;
pub mod held;
pub mod inbound;
pub mod outcome;
pub mod pacing;
pub mod sender;
pub mod settle;
pub mod slots;
pub mod submit;
pub mod tls;

pub use connector::{Connector, ConnectorDeps};
pub use error::ConnectorError;
pub use health::{BindInfo, BindState, HEALTH_BUCKET};
