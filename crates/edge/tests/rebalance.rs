//! Rebalancing after scale-up, with three edges on real NATS and etcd: the edge that held
//! every session before the other two came sheds down to its share, each shed session is
//! unbound by the edge (after its in-flight submit was answered), and once the ESMEs have
//! reconnected to the new edges (as a load balancer would send them) nobody sheds more.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use herald_bus::Bus;
use herald_config::EdgeConfig;
use herald_edge::rebalance::Peers;
use herald_edge::{Edge, EdgeDeps};
use herald_harness::{Backing, eventually_sync, seed};
use herald_rules::{NodeInfo, NodeRegistration};
use herald_smpp::pdu::{Bind, SubmitSm};
use herald_smpp::session::{BindMode, CloseReason, Session, SessionConfig, bind};
use herald_smpp::types::{Address, COctetString};
use herald_smpp::{CommandStatus, PduBody};
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};

/// Sessions the first edge holds before the others start: three per edge once balanced.
const SESSIONS: usize = 9;
/// Sheds per interval: fewer than the six the first edge must shed, so it takes rounds.
const MAX_SHEDS: u32 = 4;

/// One edge serving SMPP, registered and rebalancing.
struct RunningEdge {
    edge: Edge,
    port: u16,
    registration: Arc<NodeRegistration>,
    _tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for RunningEdge {
    fn drop(&mut self) {
        for task in &self._tasks {
            task.abort();
        }
    }
}

async fn start_edge(backing: &Backing, bus: &Bus, id: &str) -> RunningEdge {
    start_edge_with(backing, bus, id, true).await
}

async fn start_edge_with(backing: &Backing, bus: &Bus, id: &str, rebalance: bool) -> RunningEdge {
    let registration = Arc::new(
        backing
            .rules
            .register_node(NodeInfo::new("edge", id, "test"), Duration::from_secs(5))
            .await
            .unwrap(),
    );
    let edge = Edge::new(
        EdgeConfig {
            rebalance_interval: Duration::from_millis(500),
            rebalance_max_sheds: MAX_SHEDS,
            rebalance,
            ..EdgeConfig::default()
        },
        EdgeDeps {
            bus: bus.clone(),
            rules: backing.rules_store().await,
            node_id: id.into(),
            session_slots: None,
            route_time_zone: herald_rules::model::UtcOffset::UTC,
        },
    )
    .await
    .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let serving = {
        let edge = edge.clone();
        tokio::spawn(async move {
            edge.serve(listener, std::future::pending()).await.unwrap();
        })
    };
    let rebalancing = edge.rebalance(Peers::new(registration.clone(), backing.rules.clone()));
    RunningEdge {
        edge,
        port,
        registration,
        _tasks: vec![serving, rebalancing],
    }
}

async fn esme(port: u16) -> Session {
    let io = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let request = Bind {
        system_id: COctetString::from("acme"),
        password: COctetString::from("secret"),
        interface_version: 0x34,
        ..Bind::default()
    };
    let (session, _inbox, _) = bind(io, SessionConfig::default(), BindMode::Transmitter, request)
        .await
        .unwrap();
    session
}

fn submit() -> PduBody {
    PduBody::SubmitSm(SubmitSm {
        source: Address::alphanumeric("ACME"),
        dest: Address::international("447700900123"),
        short_message: Bytes::from_static(b"hello"),
        ..SubmitSm::default()
    })
}

/// NATS and etcd with the account `acme` (up to 20 binds), a route for UK numbers, and a
/// bus connection.
async fn seeded() -> (Backing, Bus) {
    let backing = Backing::start().await;
    let acme = json!({
        "quota": { "tps": 1000 }, "window": 50, "max_binds": 20,
        "sender_ids": { "allowed": ["ACME"] },
    });
    seed::account(&backing.rules, "acme", "secret", acme).await;
    seed::carrier(&backing.rules, seed::NO_CARRIER_PORT, json!({})).await;
    seed::route(&backing.rules, "uk", &["44"]).await;
    let bus = backing.bus().await;
    (backing, bus)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edge_holding_every_session_sheds_down_to_its_share_when_two_edges_join() {
    let (backing, bus) = seeded().await;

    let first = start_edge(&backing, &bus, "edge-a").await;
    let mut sessions = Vec::new();
    for _ in 0..SESSIONS {
        sessions.push(esme(first.port).await);
    }
    // Alone, it holds them all and sheds none.
    eventually_sync("the first edge registers its nine sessions", || {
        first.registration.info().sessions == Some(SESSIONS as u32)
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(sessions.iter().all(|s| s.close_reason().is_none()));

    // Each session has a submit in flight when the others join: whichever are shed, every
    // one is answered before its unbind.
    let in_flight: Vec<_> = sessions
        .iter()
        .map(|session| {
            let session = session.clone();
            tokio::spawn(async move { session.request(submit()).await })
        })
        .collect();
    let second = start_edge(&backing, &bus, "edge-b").await;
    let third = start_edge(&backing, &bus, "edge-c").await;
    for answer in in_flight {
        let answer = answer.await.unwrap().expect("answered, shed or not");
        assert_eq!(answer.command_status, CommandStatus::ESME_ROK);
    }

    // Nine over three edges: a share of three; the first sheds the six beyond it, at most
    // four a round (those not back yet still count, so it stops at its share), and the
    // edge unbinds them (the ESME sees its peer unbind).
    eventually_sync("the first edge sheds down to its share", || {
        first.edge.sessions().len() == SESSIONS / 3
    })
    .await;
    let shed: Vec<&Session> = sessions
        .iter()
        .filter(|s| s.close_reason().is_some())
        .collect();
    assert_eq!(
        shed.len(),
        SESSIONS - SESSIONS / 3,
        "only what was beyond its share"
    );
    for session in &shed {
        assert_eq!(session.closed().await, CloseReason::PeerUnbound);
    }

    // The shed ESMEs come back through the load balancer, to the new edges.
    let mut rebound = Vec::new();
    for (n, _) in shed.iter().enumerate() {
        let port = if n % 2 == 0 { second.port } else { third.port };
        rebound.push(esme(port).await);
    }
    eventually_sync("every edge registers three sessions", || {
        [&first, &second, &third]
            .iter()
            .all(|edge| edge.registration.info().sessions == Some(3))
    })
    .await;
    // Balanced: a few more rounds shed nothing.
    tokio::time::sleep(Duration::from_secs(2)).await;
    for edge in [&first, &second, &third] {
        assert_eq!(edge.edge.sessions().len(), 3);
    }
    assert!(rebound.iter().all(|s| s.close_reason().is_none()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_rebalancing_off_an_edge_registers_its_count_and_sheds_nothing() {
    let (backing, bus) = seeded().await;
    let first = start_edge_with(&backing, &bus, "edge-a", false).await;
    let mut sessions = Vec::new();
    for _ in 0..4 {
        sessions.push(esme(first.port).await);
    }
    let second = start_edge_with(&backing, &bus, "edge-b", false).await;
    eventually_sync("both edges register their counts", || {
        first.registration.info().sessions == Some(4)
            && second.registration.info().sessions == Some(0)
    })
    .await;
    // Four against none would shed two with rebalancing on; several rounds pass.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(first.edge.sessions().len(), 4);
    assert!(sessions.iter().all(|s| s.close_reason().is_none()));
}
