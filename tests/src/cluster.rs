//! An in-process Herald cluster for cross-crate tests: real `nats-server` and `etcd`
//! (from the harness), the rules seeded through the real rules client, and Herald's
//! roles started as libraries on loopback ports.

use std::time::Duration;

use anyhow::{Context, Result};
use herald_bus::Bus;
use herald_config::EdgeConfig;
use herald_edge::{Edge, EdgeDeps};
use herald_harness::{Backing, seed};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// NATS, etcd and an edge; everything stops when dropped.
pub struct Cluster {
    /// NATS, etcd and a rules client for the test's own writes.
    pub backing: Backing,
    /// A bus connection for the test's own use.
    pub bus: Bus,
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
        let backing = Backing::start().await;
        for &(system_id, password, max_binds) in accounts {
            let settings = serde_json::json!({
                "quota": { "tps": 1000 },
                "window": 100,
                "max_binds": max_binds,
            });
            seed::account(&backing.rules, system_id, password, settings).await;
        }
        // A carrier and a route for every number: the edge refuses destinations no route takes.
        seed::carrier(&backing.rules, seed::NO_CARRIER_PORT, serde_json::json!({})).await;
        seed::route(&backing.rules, "all", &[]).await;
        let bus = backing.bus().await;
        let mut cluster = Cluster {
            backing,
            bus,
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
        let store = self.backing.rules_store().await;
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
