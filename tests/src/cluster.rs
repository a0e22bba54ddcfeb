//! An in-process Herald cluster for cross-crate tests: real `nats-server` and `etcd`
//! (from the harness), the rules seeded through the real rules client, and Herald's
//! roles started as libraries on loopback ports.

use std::time::Duration;

use anyhow::{Context, Result};
use herald_bus::{Bus, BusConfig};
use herald_config::EdgeConfig;
use herald_edge::{Edge, EdgeDeps};
use herald_harness::{Etcd, NatsServer};
use herald_rules::{Expected, Kind, PasswordHash, RulesClient, RulesStore, StoreConfig};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// NATS, etcd and an edge; everything stops when dropped.
pub struct Cluster {
    /// The NATS server.
    pub nats: NatsServer,
    /// The etcd server.
    pub etcd: Etcd,
    /// A bus connection for the test's own use.
    pub bus: Bus,
    /// A rules client for the test's own writes.
    pub rules: RulesClient,
    /// The edge's SMPP port on 127.0.0.1.
    pub edge_port: u16,
    /// The edge's HTTP submit API port on 127.0.0.1.
    pub http_port: u16,
    _stop: Vec<oneshot::Sender<()>>,
}

impl Cluster {
    /// Starts NATS and etcd, seeds account `system_id` / `password` (1,000 msg/s, 10
    /// binds, window 100, any sender), and starts an edge (SMPP and HTTP).
    pub async fn start(system_id: &str, password: &str) -> Result<Cluster> {
        let config = EdgeConfig {
            failed_bind_delay: Duration::from_millis(10),
            ..EdgeConfig::default()
        };
        Cluster::start_with(&[(system_id, password, 10)], config).await
    }

    /// [`Cluster::start`] with the accounts `(system_id, password, max_binds)` and the
    /// edge configured by `config`.
    pub async fn start_with(accounts: &[(&str, &str, u32)], config: EdgeConfig) -> Result<Cluster> {
        let nats = herald_harness::nats().run().await?;
        let etcd = herald_harness::etcd().run().await?;
        let store = StoreConfig::new([etcd.client_url()]);
        let rules = RulesClient::connect(&store).await?;
        for &(system_id, password, max_binds) in accounts {
            let account = serde_json::json!({
                "id": system_id,
                "password_hash": PasswordHash::hash(password)?,
                "quota": { "tps": 1000 },
                "window": 100,
                "max_binds": max_binds,
            });
            rules
                .put_json(
                    Kind::Account,
                    system_id,
                    &account.to_string(),
                    Expected::Absent,
                )
                .await?;
        }
        // A carrier and a route for every number: the edge refuses destinations no route takes.
        let carrier = serde_json::json!({
            "id": "sim", "host": "127.0.0.1", "port": 2776, "system_id": "herald",
            "password": { "env": "HERALD_SIM_PASSWORD" }, "throughput": { "tps": 1000 },
        });
        rules
            .put_json(Kind::Carrier, "sim", &carrier.to_string(), Expected::Any)
            .await?;
        let route = serde_json::json!({
            "id": "all", "priority": 10, "match": {},
            "action": { "type": "carrier", "carrier": "sim" },
        });
        rules
            .put_json(Kind::Route, "all", &route.to_string(), Expected::Any)
            .await?;
        let bus = Bus::connect(BusConfig::local(nats.client_url())).await?;
        let mut cluster = Cluster {
            nats,
            etcd,
            bus,
            rules,
            edge_port: 0,
            http_port: 0,
            _stop: Vec::new(),
        };
        (cluster.edge_port, cluster.http_port) = cluster.another_edge(config).await?;
        Ok(cluster)
    }

    /// Starts one more edge on the same NATS and etcd, configured by `config`; its SMPP
    /// and HTTP ports on 127.0.0.1.
    pub async fn another_edge(&mut self, config: EdgeConfig) -> Result<(u16, u16)> {
        let store = RulesStore::connect(StoreConfig::new([self.etcd.client_url()])).await?;
        let edge = Edge::new(
            config,
            EdgeDeps {
                bus: self.bus.clone(),
                rules: store,
                node_id: format!("edge-test-{}", self._stop.len()),
                session_slots: None,
                route_time_zone: herald_rules::model::UtcOffset::UTC,
            },
        )
        .await?;
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let edge_port = listener.local_addr().context("edge port")?.port();
        let http = TcpListener::bind("127.0.0.1:0").await?;
        let http_port = http.local_addr().context("http port")?.port();
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let stopped = futures::FutureExt::shared(async {
                let _ = stopped.await;
            });
            let _ = tokio::join!(
                edge.serve(listener, stopped.clone()),
                edge.serve_http(http, stopped)
            );
        });
        self._stop.push(stop);
        Ok((edge_port, http_port))
    }
}
