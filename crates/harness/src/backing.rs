//! [`Backing`]: what every role stands on, started for one test. A real `nats-server` with
//! JetStream and a real etcd (from [`nats`](crate::nats) and [`etcd`](crate::etcd)), and
//! a rules client on etcd for the test's own writes; a bus connection on NATS when the
//! test asks for one ([`Backing::bus`]), since connecting declares the topology.
//!
//! A role's own test fixture (an edge serving on a port, a connector in a task) keeps its
//! struct in its test file and builds it from a [`Backing`].

use herald_bus::{Bus, BusConfig};
use herald_rules::{RulesClient, RulesStore, StoreConfig};

use crate::{Etcd, NatsServer};

/// Real NATS (JetStream) and etcd, and a rules client on etcd; both servers are killed
/// when it is dropped.
pub struct Backing {
    /// The NATS server.
    pub nats: NatsServer,
    /// The etcd server.
    pub etcd: Etcd,
    /// A rules client on `etcd`, for the test's own writes ([`crate::seed`]).
    pub rules: RulesClient,
}

impl Backing {
    /// Starts NATS and etcd and connects the rules client.
    ///
    /// # Panics
    ///
    /// If a server does not start (a binary missing: run `scripts/install-deps.sh`) or the
    /// client cannot connect.
    pub async fn start() -> Backing {
        let nats = crate::nats().run().await.expect("nats-server starts");
        let etcd = crate::etcd().run().await.expect("etcd starts");
        let rules = RulesClient::connect(&StoreConfig::new([etcd.client_url()]))
            .await
            .expect("a rules client connects to the fresh etcd");
        Backing { nats, etcd, rules }
    }

    /// A rules-store configuration for this etcd, with the store's defaults.
    pub fn store_config(&self) -> StoreConfig {
        StoreConfig::new([self.etcd.client_url()])
    }

    /// A rules store on this etcd, as a role reads its rules.
    ///
    /// # Panics
    ///
    /// If it cannot connect.
    pub async fn rules_store(&self) -> RulesStore {
        RulesStore::connect(self.store_config())
            .await
            .expect("a rules store connects to the fresh etcd")
    }

    /// A bus connection on this NATS ([`BusConfig::local`]), the topology declared.
    ///
    /// # Panics
    ///
    /// If it cannot connect.
    pub async fn bus(&self) -> Bus {
        self.bus_with(|_| {}).await
    }

    /// [`Backing::bus`] with its configuration changed by `configure` first (e.g. a
    /// shorter request timeout, so a test of a bus outage is answered promptly).
    ///
    /// # Panics
    ///
    /// If it cannot connect.
    pub async fn bus_with(&self, configure: impl FnOnce(&mut BusConfig)) -> Bus {
        let mut config = BusConfig::local(self.nats.client_url());
        configure(&mut config);
        Bus::connect(config)
            .await
            .expect("a bus connects to the fresh nats-server")
    }
}
