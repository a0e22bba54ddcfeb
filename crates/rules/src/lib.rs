//! Herald's rules: typed, validated accounts, carriers, routes, MO routes, networks, price
//! tables and opt-out lists kept in etcd, served to every role as an immutable snapshot.
//!
//! - [`model`]: the objects and their self-validation ([`RulesObject`]).
//! - [`snapshot`]: [`RulesSnapshot::build`], the one function that turns etcd's key-values
//!   into a snapshot, at start-up and after every change, with cross-reference checks and a
//!   [`Problem`] list for what it had to skip.
//! - [`store`]: [`RulesStore`] loads a snapshot, follows etcd's watch from its revision and
//!   swaps each new snapshot in atomically; readers never lock, and it keeps serving the
//!   last-known-good snapshot while etcd is away.
//! - [`client`]: [`RulesClient`] writes with compare-and-swap on the revision
//!   ([`Expected`]), reads and lists, and registers nodes.
//! - [`audit`]: the admin API's audit log, written in the same transaction as the change
//!   it records ([`AuditWrite`]) and read back newest first ([`RulesClient::list_audit`]).
//! - [`nodes`]: [`NodeRegistration`], a process's key under a kept-alive lease.
//! - [`password`]: [`PasswordHash`], argon2id PHC strings for account passwords.
//! - [`porting`]: [`porting::PortingTable`], ported numbers and ranges → the MCC-MNC of
//!   the network now serving them, looked up before the network prefixes; CSV import and
//!   a checksummed snapshot form.
//! - [`routing`]: the MT routing engine: [`RulesSnapshot::evaluate`] picks a carrier (or
//!   a rejection) for a message, [`RulesSnapshot::explain`] says why.
//! - [`config`]: [`StoreConfig`], the etcd endpoints, key prefix, timeouts and back-off,
//!   TLS ([`EtcdTls`]) and the etcd user ([`EtcdUser`]).
//!
//! The key layout and the JSON shape of every object are in `docs/rules.md`.
//!
//! ```no_run
//! # async fn demo() -> Result<(), herald_rules::Error> {
//! use herald_rules::{Account, Expected, RulesClient, RulesStore, StoreConfig};
//!
//! let config = StoreConfig::new(["http://127.0.0.1:2379"]);
//! // A role: serve the rules, never lock, keep serving if etcd goes away.
//! let store = RulesStore::connect(config.clone()).await?;
//! if let Some(account) = store.load().account_by_system_id("acme") {
//!     let _ok = account.verify_password("secret");
//! }
//! // The control plane: read, change, write back with compare-and-swap.
//! let client = RulesClient::connect(&config).await?;
//! if let Some(mut read) = client.get::<Account>("acme").await? {
//!     read.value.window = 50;
//!     client.put(&read.value, Expected::Revision(read.mod_revision)).await?;
//! }
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]

pub mod audit;
pub mod client;
pub mod config;
pub mod error;
mod etcd;
pub mod kind;
pub mod model;
pub mod nodes;
pub mod password;
pub mod porting;
pub mod routing;
pub mod snapshot;
pub mod store;

pub use audit::{AuditWrite, StoredAudit};
pub use client::{Expected, Listing, RulesClient, StoredObject, Versioned};
pub use config::{EtcdTls, EtcdUser, StoreConfig};
pub use error::{Error, ValidationError};
pub use kind::{Kind, RulesObject};
pub use model::{
    Account, AddressPattern, Carrier, Cidr, DefaultAlphabet, MoRoute, Network, OptOutList,
    PriceTable, Quota, Route, RouteAction, SecretRef,
};
pub use nodes::{NodeInfo, NodeRegistration};
pub use password::PasswordHash;
pub use routing::{CarrierHealth, Explanation, RouteOutcome, RoutePick, RouteRequest};
pub use snapshot::{Problem, RulesSnapshot};
pub use store::{RulesStore, SnapshotGuard, StoreStatus};

/// What this crate's fallible functions return.
pub type Result<T, E = Error> = std::result::Result<T, E>;
