//! The router role: moves accepted MT from the bus to the chosen carrier's queue, and MO
//! from carriers to the account that should receive it.
//!
//! A router keeps no state of its own beyond caches: the rules come from the etcd snapshot
//! ([`herald_rules::RulesStore`], swapped atomically on every change), carrier health from
//! the connectors' reports on the bus, and the work from durable consumers shared by every
//! router, so any number of routers split the traffic and a dead router's unacknowledged
//! messages go to the others after the ack wait.
//!
//! - [`router`]: [`Router`], its dependencies and [`Router::run`].
//! - [`mt`]: the MT pipeline: decide ([`mt::decide`]), publish to the carrier, then ack;
//!   refusals become synthetic failure receipts ([`herald_bus::lifecycle`]).
//! - [`mo`]: MO routing by the MO rules, opt-out keywords (recorded in the opt-out
//!   bucket) and the replies to HELP, opt-out and opt-in.
//! - [`opt_out`]: editing the rules' opt-out lists in etcd with compare-and-swap (an
//!   opt-in takes the number off them).
//! - [`health`]: the carrier health view built from the connectors' reports.
//! - [`failover`]: the hand-back contract between connectors and routers.
//!
//! `docs/router.md` describes the routing semantics, the failover contract, MO and
//! opt-out, and the metrics.
#![forbid(unsafe_code)]

pub mod failover;
pub mod health;
pub mod mo;
pub mod mt;
pub mod opt_out;
pub mod router;

pub use router::{Router, RouterDeps, RouterError};
