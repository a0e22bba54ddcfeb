//! The connector's one error type.
//!
//! Only start-up returns these from [`crate::Connector::new`] and [`crate::Connector::run`]:
//! once running, a connector rides out NATS, etcd and carrier outages itself (retrying with
//! back-off, keeping what it can) and logs what went wrong.

use herald_bus::BusError;

/// Why the connector could not start.
#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    /// The bus refused to open a store, a bucket or a consumer.
    #[error("bus: {0}")]
    Bus(#[from] BusError),
    /// An etcd request failed.
    #[error("etcd: {action} failed")]
    Etcd {
        /// What was being done.
        action: &'static str,
        /// Why.
        #[source]
        source: etcd_client::Error,
    },
    /// An etcd request got no answer in time.
    #[error("etcd: {action} timed out")]
    EtcdTimeout {
        /// What was being done.
        action: &'static str,
    },
}
