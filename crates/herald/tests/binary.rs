//! The `herald` binary as an operator runs it: a bad config exits 64 before binding
//! anything; `herald edge` against real NATS and etcd registers itself, serves SMPP and
//! the admin port, and on SIGTERM drains, deregisters and exits 0.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::time::Duration;

use bytes::Bytes;
use herald_harness::{Backing, PATIENCE, eventually_sync, seed};
use herald_rules::{RulesClient, StoreConfig};
use herald_smpp::pdu::{Bind, SubmitSm};
use herald_smpp::session::{BindMode, SessionConfig, bind};
use herald_smpp::types::{Address, COctetString};
use herald_smpp::{CommandStatus, PduBody};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::process::Command;

#[path = "binary/chaos.rs"]
mod chaos;
#[path = "binary/rerouting.rs"]
mod rerouting;
#[path = "binary/webhooks.rs"]
mod webhooks;

const HERALD: &str = env!("CARGO_BIN_EXE_herald");

#[tokio::test]
async fn a_bad_config_exits_64_and_names_every_problem() {
    let output = Command::new(HERALD)
        .args(["--set", "edge.max_window=0", "--set", "nats.urls=", "edge"])
        .env_remove("HERALD_CONFIG")
        .output()
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(64));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("edge.max_window"), "{stderr}");
    assert!(stderr.contains("nats.urls"), "{stderr}");
}

#[tokio::test]
async fn an_unknown_key_in_the_file_is_refused_with_its_name() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("herald.toml");
    std::fs::write(&file, "[edge]\nsmpp_lisen = \"0.0.0.0:2775\"\n").unwrap();
    let output = Command::new(HERALD)
        .arg("--config")
        .arg(&file)
        .arg("check-config")
        .output()
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&output.stderr).contains("smpp_lisen"));
}

/// Starts `herald edge` against `nats` and `etcd` as node `id`; its SMPP and admin
/// addresses from its registration.
async fn spawn_edge(
    id: &str,
    nats: &herald_harness::NatsServer,
    etcd: &herald_harness::Etcd,
    client: &RulesClient,
) -> (tokio::process::Child, String, String) {
    let (child, node) = spawn_role("edge", id, nats, etcd, client).await;
    (
        child,
        node.addresses["smpp"].clone(),
        node.addresses["grpc"].clone(),
    )
}

/// Starts `herald <role>` as node `id` and waits for its registration.
async fn spawn_role(
    role: &str,
    id: &str,
    nats: &herald_harness::NatsServer,
    etcd: &herald_harness::Etcd,
    client: &RulesClient,
) -> (tokio::process::Child, herald_rules::NodeInfo) {
    spawn_role_with(
        role,
        id,
        &nats.client_url(),
        &etcd.client_url(),
        client,
        &[],
    )
    .await
}

/// [`spawn_role`] with extra environment variables.
async fn spawn_role_with(
    role: &str,
    id: &str,
    nats_urls: &str,
    etcd_urls: &str,
    client: &RulesClient,
    env: &[(&str, &str)],
) -> (tokio::process::Child, herald_rules::NodeInfo) {
    herald_harness::node(HERALD, role, id)
        .nats(nats_urls)
        .etcd(etcd_urls)
        .env("HERALD_SIM_PASSWORD", "simsecret")
        .env("HERALD_CONNECTOR__SLOT_LEASE_TTL", "3s")
        .envs(env.iter().copied())
        .spawn(client)
        .await
}

/// NATS and etcd, and the rules client on etcd that wrote [`seed_acme`].
async fn seeded() -> (
    herald_harness::NatsServer,
    herald_harness::Etcd,
    RulesClient,
) {
    let Backing { nats, etcd, rules } = Backing::start().await;
    seed_acme(&rules).await;
    (nats, etcd, rules)
}

/// [`seed_acme`] on `etcd`; the client that wrote it.
async fn seed_account(etcd: &herald_harness::Etcd) -> RulesClient {
    seed_account_at(vec![etcd.client_url()]).await
}

/// [`seed_account`] through the etcd `endpoints` (a cluster's members).
async fn seed_account_at(endpoints: Vec<String>) -> RulesClient {
    let client = RulesClient::connect(&StoreConfig::new(endpoints))
        .await
        .unwrap();
    seed_acme(&client).await;
    client
}

/// The account `acme` (password `secret`, 10,000 msg/s, window 100) and a route for every
/// number, through `client`.
async fn seed_acme(client: &RulesClient) {
    let acme = serde_json::json!({ "quota": { "tps": 10000 }, "window": 100 });
    seed::account(client, "acme", "secret", acme).await;
    // A carrier and a route for every number: the edge refuses destinations no route takes.
    seed::carrier(client, seed::NO_CARRIER_PORT, serde_json::json!({})).await;
    seed::route(client, "all", &[]).await;
}

/// A simulated carrier answering receipts after 20 ms, with the seeded carrier `sim`
/// pointed at it.
async fn simulated_carrier(client: &RulesClient) -> herald_sim::SimSmsc {
    simulated_carrier_with(
        client,
        herald_sim::SimConfig {
            receipt_delay: Duration::from_millis(20),
            ..herald_sim::SimConfig::default()
        },
    )
    .await
}

/// A simulated carrier from `config` (with Herald's credentials), with the seeded carrier
/// `sim` pointed at it.
async fn simulated_carrier_with(
    client: &RulesClient,
    config: herald_sim::SimConfig,
) -> herald_sim::SimSmsc {
    let sim = herald_sim::SimSmsc::start_local(herald_sim::SimConfig {
        system_id: "herald".into(),
        password: "simsecret".into(),
        ..config
    })
    .await
    .unwrap();
    seed::carrier(client, sim.local_addr().port(), serde_json::json!({})).await;
    sim
}

/// Binds to an edge at `smpp` as the seeded account, transceiver.
async fn bind_transceiver(
    smpp: &str,
) -> (herald_smpp::session::Session, herald_smpp::session::Inbox) {
    let io = TcpStream::connect(smpp).await.unwrap();
    let request = Bind {
        system_id: COctetString::from("acme"),
        password: COctetString::from("secret"),
        interface_version: 0x34,
        ..Bind::default()
    };
    // A patient ESME's response timer: longer than the edge holds a submit through a
    // NATS failover (`nats.publish_hold`, 10 s).
    let config = SessionConfig {
        response_timeout: Duration::from_secs(30),
        ..SessionConfig::default()
    };
    let (session, inbox, _) = bind(io, config, BindMode::Transceiver, request)
        .await
        .unwrap();
    (session, inbox)
}

/// Submits `count` messages asking for receipts on `session`, each answered OK; their ids.
async fn submit_with_receipts(
    session: &herald_smpp::session::Session,
    count: usize,
) -> std::collections::HashSet<String> {
    let mut ids = std::collections::HashSet::new();
    for i in 0..count {
        let mut body = submit_body(i);
        if let PduBody::SubmitSm(sm) = &mut body {
            sm.registered_delivery = herald_smpp::RegisteredDelivery(1);
        }
        let resp = session.request(body).await.unwrap();
        assert_eq!(resp.command_status, CommandStatus::ESME_ROK);
        let PduBody::SubmitSmResp(resp) = resp.body else {
            panic!("{resp:?}")
        };
        ids.insert(resp.message_id.to_string_lossy());
    }
    ids
}

fn submit_body(i: usize) -> PduBody {
    PduBody::SubmitSm(SubmitSm {
        source: Address::international("447700900000"),
        dest: Address::international(&format!("4477009{i:05}")),
        short_message: Bytes::from_static(b"must not be lost"),
        ..SubmitSm::default()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_message_answered_ok_survives_an_edge_killed_mid_stream() {
    let (nats, etcd, client) = seeded().await;
    let (mut child, smpp, _) = spawn_edge("edge-crash-test", &nats, &etcd, &client).await;

    let io = TcpStream::connect(&smpp).await.unwrap();
    let request = Bind {
        system_id: COctetString::from("acme"),
        password: COctetString::from("secret"),
        interface_version: 0x34,
        ..Bind::default()
    };
    let (session, _inbox, _) = bind(io, SessionConfig::default(), BindMode::Transmitter, request)
        .await
        .unwrap();
    // Keep a window of submits flowing, and kill the edge with SIGKILL in the middle.
    let submitter = tokio::spawn(async move {
        let mut ok = Vec::new();
        let mut i = 0;
        loop {
            let batch = (0..50).map(|k| session.request(submit_body(i + k)));
            let mut closed = false;
            for resp in futures::future::join_all(batch).await {
                match resp {
                    Ok(pdu) if pdu.command_status == CommandStatus::ESME_ROK => {
                        if let PduBody::SubmitSmResp(r) = pdu.body {
                            ok.push(r.message_id.to_string_lossy());
                        }
                    }
                    Ok(_) => {}
                    Err(_) => closed = true,
                }
            }
            if closed {
                return ok;
            }
            i += 50;
        }
    });
    tokio::time::sleep(Duration::from_millis(1500)).await;
    child.start_kill().unwrap();
    let _ = child.wait().await;
    let answered_ok = tokio::time::timeout(PATIENCE, submitter)
        .await
        .unwrap()
        .unwrap();
    assert!(
        !answered_ok.is_empty(),
        "some submits were answered before the kill"
    );

    // Every id the ESME heard OK for is on the bus.
    let bus = herald_bus::Bus::connect(herald_bus::BusConfig::local(nats.client_url()))
        .await
        .unwrap();
    let consumer = bus
        .consumer(herald_bus::ConsumerSpec::routers())
        .await
        .unwrap();
    let mut deliveries = consumer.messages(512).await.unwrap();
    let mut on_bus = std::collections::HashSet::new();
    while let Ok(Some(Ok(delivery))) =
        tokio::time::timeout(Duration::from_secs(2), deliveries.next()).await
    {
        on_bus.insert(delivery.header("Herald-Msg-Id").unwrap().to_owned());
        delivery.ack().await.unwrap();
    }
    eprintln!(
        "{} answered OK before the kill, {} on the bus",
        answered_ok.len(),
        on_bus.len()
    );
    let lost: Vec<_> = answered_ok
        .iter()
        .filter(|id| !on_bus.contains(*id))
        .collect();
    assert!(
        lost.is_empty(),
        "{} of {} answered OK are missing: {lost:?}",
        lost.len(),
        answered_ok.len()
    );
}

#[tokio::test]
async fn herald_edge_registers_serves_and_drains_on_sigterm() {
    let (nats, etcd, client) = seeded().await;
    let (mut child, smpp, _grpc) = spawn_edge("edge-binary-test", &nats, &etcd, &client).await;
    let nodes = client.list_nodes(Some("edge")).await.unwrap();
    let node = nodes.iter().find(|n| n.id == "edge-binary-test").unwrap();
    assert_eq!(node.version, env!("CARGO_PKG_VERSION"));
    let admin = node.addresses["admin"].clone();

    let (status, body) = http_get(&admin, "/readyz").await;
    assert_eq!(status, 200, "{body}");
    let (status, metrics) = http_get(&admin, "/metrics").await;
    assert_eq!(status, 200);
    assert!(metrics.contains("herald_node_info"), "{metrics}");

    let io = TcpStream::connect(&smpp).await.unwrap();
    let request = Bind {
        system_id: COctetString::from("acme"),
        password: COctetString::from("secret"),
        interface_version: 0x34,
        ..Bind::default()
    };
    let (session, _inbox, _) = bind(io, SessionConfig::default(), BindMode::Transmitter, request)
        .await
        .unwrap();
    let resp = session
        .request(PduBody::SubmitSm(SubmitSm {
            source: Address::international("447700900000"),
            dest: Address::international("447700900001"),
            short_message: Bytes::from_static(b"through the binary"),
            ..SubmitSm::default()
        }))
        .await
        .unwrap();
    assert_eq!(resp.command_status, CommandStatus::ESME_ROK);

    // A second ESME that binds and then never answers the edge's unbind: it keeps the
    // edge draining (until the unbind timeout), so the drain can be watched from outside.
    let mut silent = TcpStream::connect(&smpp).await.unwrap();
    let mut pdu = Vec::new();
    pdu.extend_from_slice(&[0, 0, 0, 0]); // command_length, filled in below
    pdu.extend_from_slice(&0x0000_0002u32.to_be_bytes()); // bind_transmitter
    pdu.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 1]); // command_status, sequence_number
    pdu.extend_from_slice(b"acme\0secret\0\0\x34\0\0\0");
    let length = u32::try_from(pdu.len()).unwrap().to_be_bytes();
    pdu[..4].copy_from_slice(&length);
    silent.write_all(&pdu).await.unwrap();
    let mut header = [0u8; 16];
    silent.read_exact(&mut header).await.unwrap();
    assert_eq!(
        &header[4..12],
        &[0x80, 0, 0, 2, 0, 0, 0, 0],
        "bind_transmitter_resp OK"
    );

    // SIGTERM: the session is unbound by the edge, the process exits 0 and deregisters.
    let pid = child.id().unwrap();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    assert!(killed.unwrap().success());
    let closed = tokio::time::timeout(PATIENCE, session.closed())
        .await
        .unwrap();
    assert_eq!(closed, herald_smpp::session::CloseReason::PeerUnbound);
    // While it drains, the node says so and still answers its probes and scrapes.
    let (status, body) = http_get(&admin, "/readyz").await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("draining"), "{body}");
    assert_eq!(http_get(&admin, "/healthz").await.0, 200);
    assert_eq!(http_get(&admin, "/metrics").await.0, 200);
    drop(silent);
    let exit = tokio::time::timeout(PATIENCE, child.wait())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(exit.code(), Some(0));
    let nodes = client.list_nodes(Some("edge")).await.unwrap();
    assert!(
        nodes.iter().all(|n| n.id != "edge-binary-test"),
        "{nodes:?}"
    );
}

async fn http_get(addr: &str, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    (status, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_service_tells_who_the_node_is_lists_sessions_and_drains_it() {
    use herald_proto::node::v1::node_service_client::NodeServiceClient;
    use herald_proto::node::v1::{DrainRequest, InfoRequest, ListSessionsRequest};

    let (nats, etcd, client) = seeded().await;
    let (mut child, smpp, grpc) = spawn_edge("edge-grpc-test", &nats, &etcd, &client).await;
    let mut node = NodeServiceClient::connect(format!("http://{grpc}"))
        .await
        .unwrap();
    let info = node.info(InfoRequest {}).await.unwrap().into_inner();
    assert_eq!(
        (info.node_id.as_str(), info.role.as_str()),
        ("edge-grpc-test", "edge")
    );
    assert!(info.rules_revision > 0);

    let io = TcpStream::connect(&smpp).await.unwrap();
    let request = Bind {
        system_id: COctetString::from("acme"),
        password: COctetString::from("secret"),
        interface_version: 0x34,
        ..Bind::default()
    };
    let (session, _inbox, _) = bind(io, SessionConfig::default(), BindMode::Transceiver, request)
        .await
        .unwrap();
    // The edge lists a session once it has recorded it, which may come just after the
    // bind_resp the client has already read.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let sessions = loop {
        let sessions = node
            .list_sessions(ListSessionsRequest {
                account_id: "acme".into(),
            })
            .await
            .unwrap()
            .into_inner()
            .sessions;
        if !sessions.is_empty() || tokio::time::Instant::now() > deadline {
            break sessions;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0].bind_mode, "transceiver");

    assert!(
        node.drain(DrainRequest {})
            .await
            .unwrap()
            .into_inner()
            .draining
    );
    let closed = tokio::time::timeout(PATIENCE, session.closed())
        .await
        .unwrap();
    assert_eq!(closed, herald_smpp::session::CloseReason::PeerUnbound);
    let exit = tokio::time::timeout(PATIENCE, child.wait())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(exit.code(), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edge_and_router_processes_bring_a_message_to_its_carriers_queue() {
    let (nats, etcd, client) = seeded().await;
    let (_edge, smpp, _) = spawn_edge("edge-e2e", &nats, &etcd, &client).await;
    let (mut router, _) = spawn_role("router", "router-e2e", &nats, &etcd, &client).await;

    let io = TcpStream::connect(&smpp).await.unwrap();
    let request = Bind {
        system_id: COctetString::from("acme"),
        password: COctetString::from("secret"),
        interface_version: 0x34,
        ..Bind::default()
    };
    let (session, _inbox, _) = bind(io, SessionConfig::default(), BindMode::Transmitter, request)
        .await
        .unwrap();
    let resp = session.request(submit_body(7)).await.unwrap();
    assert_eq!(resp.command_status, CommandStatus::ESME_ROK);
    let PduBody::SubmitSmResp(resp) = resp.body else {
        panic!("{resp:?}")
    };
    let id = resp.message_id.to_string_lossy();

    let bus = herald_bus::Bus::connect(herald_bus::BusConfig::local(nats.client_url()))
        .await
        .unwrap();
    let consumer = bus
        .consumer(herald_bus::ConsumerSpec::carrier("sim"))
        .await
        .unwrap();
    let mut deliveries = consumer.messages(8).await.unwrap();
    let delivery = tokio::time::timeout(PATIENCE, deliveries.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let mt: herald_proto::bus::v1::MtMessage = delivery.decode().unwrap();
    assert_eq!(mt.id, id);
    let route = mt.route.unwrap();
    assert_eq!(
        (route.rule_id.as_str(), route.carrier_id.as_str()),
        ("all", "sim")
    );

    let pid = router.id().unwrap();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    assert!(killed.unwrap().success());
    let exit = tokio::time::timeout(PATIENCE, router.wait())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(exit.code(), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_reaches_the_carrier_and_its_receipt_comes_back_through_three_processes() {
    let (nats, etcd, client) = seeded().await;
    let sim = simulated_carrier(&client).await;

    let (_edge, smpp, _) = spawn_edge("edge-full", &nats, &etcd, &client).await;
    let (_router, _) = spawn_role("router", "router-full", &nats, &etcd, &client).await;
    let (_connector, _) = spawn_role("connector", "connector-full", &nats, &etcd, &client).await;

    let (session, mut inbox) = bind_transceiver(&smpp).await;
    let ids = submit_with_receipts(&session, 20).await;
    // Every message gets its DELIVRD receipt, naming the id the ESME was given.
    let mut receipted = std::collections::HashSet::new();
    while receipted.len() < ids.len() {
        let inbound = tokio::time::timeout(PATIENCE, inbox.recv())
            .await
            .expect("a receipt")
            .unwrap();
        let PduBody::DeliverSm(sm) = &inbound.pdu.body else {
            panic!("{:?}", inbound.pdu.body)
        };
        let tlvs = herald_smpp::receipt::ReceiptTlvs::from_tlvs(&sm.tlvs).unwrap();
        let id = tlvs.receipted_message_id.unwrap();
        assert!(
            ids.contains(&id),
            "a receipt for {id}, which we were not given"
        );
        assert_eq!(
            tlvs.message_state,
            Some(herald_smpp::receipt::MessageState::Delivered)
        );
        receipted.insert(id);
        inbound.responder.respond(
            PduBody::DeliverSmResp(herald_smpp::pdu::MessageIdResp::default()),
            CommandStatus::ESME_ROK,
        );
    }
    assert_eq!(
        sim.counters()
            .submits
            .load(std::sync::atomic::Ordering::Relaxed),
        20
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_an_edge_is_killed_the_esme_rebinds_elsewhere_and_gets_its_pending_receipts() {
    use herald_proto::bus::v1::{Event, MessageState, Receipt, event};

    let (nats, etcd, client) = seeded().await;
    let (mut first, first_smpp, _) = spawn_edge("edge-doomed", &nats, &etcd, &client).await;
    let (_second, second_smpp, _) = spawn_edge("edge-survivor", &nats, &etcd, &client).await;
    let bind_to = |addr: String| async move {
        let io = TcpStream::connect(&addr).await.unwrap();
        let request = Bind {
            system_id: COctetString::from("acme"),
            password: COctetString::from("secret"),
            interface_version: 0x34,
            ..Bind::default()
        };
        bind(io, SessionConfig::default(), BindMode::Receiver, request)
            .await
            .unwrap()
    };

    // 200 receipts wait for acme; its receiver is on the first edge.
    let bus = herald_bus::Bus::connect(herald_bus::BusConfig::local(nats.client_url()))
        .await
        .unwrap();
    let publisher = bus.publisher();
    let mut expected = std::collections::HashSet::new();
    for i in 0..200 {
        let id = format!("PEND{i:016}");
        let receipt = Receipt {
            message_id: id.clone(),
            account_id: "acme".into(),
            state: MessageState::Delivered.into(),
            ..Default::default()
        };
        let event = Event {
            kind: Some(event::Kind::Receipt(receipt)),
        };
        publisher
            .publish_acked(herald_bus::Outgoing::event("acme", id.clone(), &event))
            .await
            .unwrap();
        expected.insert(id);
    }
    let mut received = std::collections::HashSet::new();
    let (_session, mut inbox, _) = bind_to(first_smpp).await;
    // Take some, then the edge dies (SIGKILL) with deliveries in flight.
    while received.len() < 20 {
        let inbound = tokio::time::timeout(PATIENCE, inbox.recv())
            .await
            .unwrap()
            .unwrap();
        if let PduBody::DeliverSm(sm) = &inbound.pdu.body {
            let tlvs = herald_smpp::receipt::ReceiptTlvs::from_tlvs(&sm.tlvs).unwrap();
            received.insert(tlvs.receipted_message_id.unwrap());
        }
        inbound.responder.respond(
            PduBody::DeliverSmResp(herald_smpp::pdu::MessageIdResp::default()),
            CommandStatus::ESME_ROK,
        );
    }
    first.start_kill().unwrap();
    let _ = first.wait().await;

    // The ESME binds to the other edge and gets everything else, at least once (what
    // the dead edge had in flight comes back after the consumer's ack wait).
    let (_session, mut inbox, _) = bind_to(second_smpp).await;
    let mut duplicates = 0;
    while !expected.is_subset(&received) {
        let inbound = tokio::time::timeout(Duration::from_secs(90), inbox.recv())
            .await
            .expect("pending receipts keep coming")
            .unwrap();
        if let PduBody::DeliverSm(sm) = &inbound.pdu.body {
            let tlvs = herald_smpp::receipt::ReceiptTlvs::from_tlvs(&sm.tlvs).unwrap();
            if !received.insert(tlvs.receipted_message_id.unwrap()) {
                duplicates += 1;
            }
        }
        inbound.responder.respond(
            PduBody::DeliverSmResp(herald_smpp::pdu::MessageIdResp::default()),
            CommandStatus::ESME_ROK,
        );
    }
    eprintln!("all 200 receipts arrived; {duplicates} more than once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_sm_and_replace_sm_act_before_the_carrier_and_fail_after_it() {
    use herald_smpp::pdu::{CancelSm, QuerySm};

    let (nats, etcd, client) = seeded().await;
    let sim = simulated_carrier_with(
        &client,
        herald_sim::SimConfig {
            record_submits: true,
            ..herald_sim::SimConfig::default()
        },
    )
    .await;
    // Edge and router only, for now: accepted messages wait in the carrier's queue.
    let (_edge, smpp, _) = spawn_edge("edge-cancel", &nats, &etcd, &client).await;
    let (_router, _) = spawn_role("router", "router-cancel", &nats, &etcd, &client).await;
    let io = TcpStream::connect(&smpp).await.unwrap();
    let request = Bind {
        system_id: COctetString::from("acme"),
        password: COctetString::from("secret"),
        interface_version: 0x34,
        ..Bind::default()
    };
    let (session, _inbox, _) = bind(io, SessionConfig::default(), BindMode::Transceiver, request)
        .await
        .unwrap();
    let submit = |i| {
        let session = session.clone();
        async move {
            let resp = session.request(submit_body(i)).await.unwrap();
            let PduBody::SubmitSmResp(resp) = resp.body else {
                panic!("{resp:?}")
            };
            resp.message_id.to_string_lossy()
        }
    };
    let cancel = |id: String| {
        let session = session.clone();
        async move {
            let body = PduBody::CancelSm(CancelSm {
                message_id: COctetString::from(id.as_str()),
                ..CancelSm::default()
            });
            session.request(body).await.unwrap().command_status
        }
    };
    let doomed = submit(1).await;
    assert_eq!(cancel(doomed.clone()).await, CommandStatus::ESME_ROK);
    let kept = submit(2).await;
    let amended = submit(3).await;
    let replace = PduBody::ReplaceSm(herald_smpp::pdu::ReplaceSm {
        message_id: COctetString::from(amended.as_str()),
        short_message: Bytes::from_static(b"replaced text"),
        ..herald_smpp::pdu::ReplaceSm::default()
    });
    assert_eq!(
        session.request(replace).await.unwrap().command_status,
        CommandStatus::ESME_ROK
    );

    // The connector comes up, sends the message that was kept and skips the cancelled one.
    let (_connector, _) = spawn_role("connector", "connector-cancel", &nats, &etcd, &client).await;
    eventually_sync("the kept message arrives", || !sim.submitted().is_empty()).await;
    // query_sm shows the cancelled one as DELETED once the connector has recorded it.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let body = PduBody::QuerySm(QuerySm {
            message_id: COctetString::from(doomed.as_str()),
            ..QuerySm::default()
        });
        let resp = session.request(body).await.unwrap();
        if let PduBody::QuerySmResp(r) = &resp.body
            && resp.command_status == CommandStatus::ESME_ROK
            && r.message_state == 4
        {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never recorded as deleted: {resp:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let sent = sim.submitted();
    assert_eq!(
        sent.len(),
        2,
        "only the kept messages reached the carrier: {sent:?}"
    );
    let texts: Vec<&[u8]> = sent.iter().map(|s| s.user_data.as_ref()).collect();
    assert!(texts.contains(&&b"must not be lost"[..]), "{texts:?}");
    assert!(
        texts.contains(&&b"replaced text"[..]),
        "the replacement was sent: {texts:?}"
    );
    // The kept one is at the carrier: too late to cancel it.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        match cancel(kept.clone()).await {
            CommandStatus::ESME_RCANCELFAIL => break,
            // Its "submitted" status may not be recorded yet.
            CommandStatus::ESME_ROK if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            other => panic!("cancelling a submitted message: {other}"),
        }
    }
}

/// A fake OTLP collector: the TraceService on a loopback port, forwarding every export.
struct Collector(tokio::sync::mpsc::UnboundedSender<ExportTraceServiceRequest>);

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let _ = self.0.send(request.into_inner());
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_message_is_one_trace_from_the_edge_through_router_and_connector_and_back() {
    let incoming =
        tonic::transport::server::TcpIncoming::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let collector = format!("http://{}", incoming.local_addr().unwrap());
    let (tx, mut exports) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(Collector(tx)))
            .serve_with_incoming(incoming),
    );

    let (nats, etcd, client) = seeded().await;
    let _sim = simulated_carrier(&client).await;
    // Export quickly rather than on the SDK's default 5 s schedule.
    let env = [
        ("HERALD_TELEMETRY__OTLP_ENDPOINT", collector.as_str()),
        ("OTEL_BSP_SCHEDULE_DELAY", "100"),
    ];
    let (nats_url, etcd_url) = (nats.client_url(), etcd.client_url());
    let spawn = |role, id| spawn_role_with(role, id, &nats_url, &etcd_url, &client, &env);
    let (_edge, node) = spawn("edge", "edge-traced").await;
    let (_router, _) = spawn("router", "router-traced").await;
    let (_connector, _) = spawn("connector", "connector-traced").await;

    let (session, mut inbox) = bind_transceiver(&node.addresses["smpp"]).await;
    let mut body = submit_body(1);
    if let PduBody::SubmitSm(sm) = &mut body {
        sm.registered_delivery = herald_smpp::RegisteredDelivery(1);
    }
    let resp = session.request(body).await.unwrap();
    assert_eq!(resp.command_status, CommandStatus::ESME_ROK);
    let inbound = tokio::time::timeout(PATIENCE, inbox.recv())
        .await
        .expect("a receipt")
        .unwrap();
    inbound.responder.respond(
        PduBody::DeliverSmResp(herald_smpp::pdu::MessageIdResp::default()),
        CommandStatus::ESME_ROK,
    );

    // The message's spans, in the order the message passes through the roles; each is
    // the child of the one before, all in one trace.
    let chain = [
        "edge.accept",
        "router.route",
        "connector.submit",
        "connector.receipt",
        "edge.deliver",
    ];
    let mut spans = std::collections::HashMap::new();
    tokio::time::timeout(PATIENCE, async {
        while !chain.iter().all(|name| spans.contains_key(*name)) {
            let export = exports.recv().await.unwrap();
            for span in export
                .resource_spans
                .into_iter()
                .flat_map(|r| r.scope_spans)
                .flat_map(|s| s.spans)
            {
                spans.insert(span.name.clone(), span);
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("spans seen: {:?}", spans.keys().collect::<Vec<_>>()));
    let first = &spans[chain[0]];
    assert!(first.parent_span_id.is_empty(), "the edge starts the trace");
    for pair in chain.windows(2) {
        let (parent, child) = (&spans[pair[0]], &spans[pair[1]]);
        assert_eq!(
            child.trace_id, first.trace_id,
            "{} is in the trace",
            pair[1]
        );
        assert_eq!(
            child.parent_span_id, parent.span_id,
            "{} is a child of {}",
            pair[1], pair[0]
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nats_server_killed_mid_stream_loses_no_accepted_message_or_receipt() {
    // Three NATS servers with every stream and bucket replicated three times; edge, router
    // and connector processes fail over between them. The server leading `HERALD_MT` is
    // SIGKILLed while an ESME submits: submits may fail while a new leader is elected,
    // but every message answered OK reaches the carrier and its receipt reaches the ESME.
    // Kept whole: its processes live as long as it does.
    let mut cluster = R3Cluster::start("nats").await;
    let (nats, sim, smpp) = (&mut cluster.nats, &cluster.sim, &cluster.smpp);
    let urls = nats.client_urls();
    let bus = herald_bus::Bus::connect(herald_bus::BusConfig {
        urls: urls.clone(),
        replicas: 3,
        ..herald_bus::BusConfig::local(urls[0].clone())
    })
    .await
    .unwrap();

    let crash = async {
        let mut stream = bus.jetstream().get_stream("HERALD_MT").await.unwrap();
        kill_the_leader_of(nats, &mut stream).await;
    };
    submit_through_a_crash(smpp, 400, Duration::from_millis(5), crash).await;
    all_reached_the_carrier(sim, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nats_server_leading_a_partition_killed_under_load_through_three_edges_loses_nothing() {
    // Issue 17's loss test on the partitioned layout (ADR 0021, 0022): three NATS
    // servers, every stream and bucket R3 and in three partitions, three edges with a
    // session each. The server leading the partition that holds `acme`'s accepted MT is
    // SIGKILLed while the three sessions submit: every message answered OK reaches the
    // carrier and its receipt comes back (on any of the account's sessions).
    // Kept whole: its processes live as long as it does.
    let mut cluster = R3Cluster::start_with("partitions", 3, 3).await;
    let urls = cluster.nats.client_urls();
    let bus = herald_bus::Bus::connect(herald_bus::BusConfig {
        urls: urls.clone(),
        replicas: 3,
        partitions: herald_bus::Partitions::new(3),
        ..herald_bus::BusConfig::local(urls[0].clone())
    })
    .await
    .unwrap();
    let partition = herald_bus::partition::index("acme", 3);
    let stream_name = herald_bus::StreamKind::Mt.partition_name(partition);
    let mut stream = bus
        .jetstream()
        .get_stream(stream_name.as_ref())
        .await
        .unwrap();
    let before = stream.info().await.unwrap().state.last_sequence;
    let (nats, sim, edges) = (&mut cluster.nats, &cluster.sim, &cluster.edges);

    let crash = kill_the_leader_of(nats, &mut stream);
    let (accepted, _refused) =
        submit_through_edges_and_a_crash(edges, 600, Duration::from_millis(5), crash).await;
    assert_eq!(accepted, 600);
    all_reached_the_carrier(sim, 600);
    // The account's messages went through its own partition's stream.
    let after = stream.info().await.unwrap().state.last_sequence;
    assert!(after > before, "nothing went through {stream_name}");
}

/// SIGKILLs the server of `nats` that leads `stream` (the first, if none does).
async fn kill_the_leader_of(
    nats: &mut herald_harness::NatsCluster,
    stream: &mut async_nats::jetstream::stream::Stream,
) {
    let info = stream.info().await.unwrap();
    let leader = info.cluster.as_ref().and_then(|c| c.leader.clone());
    let member = leader
        .as_deref()
        .and_then(|name| name.strip_prefix('n'))
        .and_then(|n| n.parse::<usize>().ok())
        .unwrap_or(0);
    nats.stop(member).await;
    eprintln!(
        "killed NATS server n{member} (leader of {}: {leader:?})",
        info.config.name
    );
}

/// Binds one session to each edge of `edges`, submits `count` messages asking for
/// receipts spread over them (each session one every `pace`, a refused one submitted
/// again 50 ms later), runs `crash` alongside from the first quarter on, and waits until
/// every message answered OK has its receipt on any of the sessions. Returns how many
/// were answered OK and how many submits were refused (or unanswered) meanwhile.
async fn submit_through_edges_and_a_crash(
    edges: &[String],
    count: usize,
    pace: Duration,
    crash: impl Future<Output = ()>,
) -> (usize, usize) {
    let (receipts_tx, mut receipts) = tokio::sync::mpsc::unbounded_channel();
    let mut sessions = Vec::new();
    for smpp in edges {
        let (session, mut inbox) = bind_transceiver(smpp).await;
        let receipts_tx = receipts_tx.clone();
        tokio::spawn(async move {
            while let Some(inbound) = inbox.recv().await {
                if let PduBody::DeliverSm(sm) = &inbound.pdu.body
                    && let Ok(tlvs) = herald_smpp::receipt::ReceiptTlvs::from_tlvs(&sm.tlvs)
                    && let Some(id) = tlvs.receipted_message_id
                {
                    let _ = receipts_tx.send(id);
                }
                inbound.responder.respond(
                    PduBody::DeliverSmResp(herald_smpp::pdu::MessageIdResp::default()),
                    CommandStatus::ESME_ROK,
                );
            }
        });
        sessions.push(session);
    }
    let (crash_now, crash_when) = tokio::sync::oneshot::channel::<()>();
    let crash = async move {
        if crash_when.await.is_ok() {
            crash.await;
        }
    };
    let crash_now = std::sync::Mutex::new(Some(crash_now));
    let give_up = tokio::time::Instant::now() + Duration::from_secs(120);
    let per_session = count.div_ceil(sessions.len());
    let submit_all = sessions.iter().enumerate().map(|(s, session)| {
        let crash_now = &crash_now;
        async move {
            let mut accepted = Vec::new();
            let mut refused = 0;
            for i in (s * per_session)..((s + 1) * per_session).min(count) {
                if i == count / 4
                    && let Some(now) = crash_now.lock().unwrap().take()
                {
                    let _ = now.send(());
                }
                tokio::time::sleep(pace).await;
                loop {
                    let mut body = submit_body(i);
                    if let PduBody::SubmitSm(sm) = &mut body {
                        sm.registered_delivery = herald_smpp::RegisteredDelivery(1);
                    }
                    match session.request(body).await {
                        Ok(resp) if resp.command_status == CommandStatus::ESME_ROK => {
                            let PduBody::SubmitSmResp(resp) = resp.body else {
                                panic!("{resp:?}")
                            };
                            accepted.push(resp.message_id.to_string_lossy());
                            break;
                        }
                        other => {
                            eprintln!(
                                "submit {i} refused: {:?}",
                                other.map(|resp| resp.command_status)
                            );
                            refused += 1;
                            assert!(
                                tokio::time::Instant::now() < give_up,
                                "the cluster never took submits again ({refused} refused)"
                            );
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                    }
                }
            }
            (accepted, refused)
        }
    });
    let ((), results) = tokio::join!(crash, futures::future::join_all(submit_all));
    let mut accepted = std::collections::HashSet::new();
    let mut refused = 0;
    for (ids, refusals) in results {
        accepted.extend(ids);
        refused += refusals;
    }
    eprintln!(
        "{} accepted through {} edges, {refused} refusals while the cluster recovered",
        accepted.len(),
        edges.len()
    );
    let mut receipted = std::collections::HashSet::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    while !accepted.is_subset(&receipted) {
        let Ok(Some(id)) = tokio::time::timeout_at(deadline, receipts.recv()).await else {
            let lost: Vec<_> = accepted.difference(&receipted).take(10).collect();
            panic!(
                "{} of {} accepted messages got no receipt, e.g. {lost:?}",
                accepted.difference(&receipted).count(),
                accepted.len()
            );
        };
        receipted.insert(id);
    }
    (accepted.len(), refused)
}

/// Three NATS servers (every stream and bucket R3), etcd seeded by [`seed_account`], a
/// [`persistent_carrier`], and edge, router and connector processes failing over between
/// the servers; the processes are killed on drop.
struct R3Cluster {
    nats: herald_harness::NatsCluster,
    sim: herald_sim::SimSmsc,
    /// The (first) edge's SMPP address.
    smpp: String,
    /// Every edge's SMPP address.
    edges: Vec<String>,
    _etcd: herald_harness::Etcd,
    _roles: Vec<tokio::process::Child>,
}

impl R3Cluster {
    /// Starts it with one edge and one partition, naming the nodes `<role>-<name>`.
    async fn start(name: &str) -> R3Cluster {
        R3Cluster::start_with(name, 1, 1).await
    }

    /// Starts it with `edges` edges and the streams and buckets in `partitions`
    /// partitions (`nats.partitions`).
    async fn start_with(name: &str, partitions: u16, edges: usize) -> R3Cluster {
        let nats = herald_harness::nats_cluster().run().await.unwrap();
        let etcd = herald_harness::etcd().run().await.unwrap();
        let client = seed_account(&etcd).await;
        // The simulator keeps offering a receipt Herald could not take while the bus
        // elected new leaders.
        let sim = persistent_carrier(&client).await;
        let partitions = partitions.to_string();
        let env = [
            ("HERALD_NATS__REPLICAS", "3"),
            ("HERALD_NATS__PARTITIONS", partitions.as_str()),
            // Redeliveries of what a dying server held come after the ack wait.
            ("HERALD_ROUTER__ACK_WAIT", "5s"),
            ("HERALD_CONNECTOR__ACK_WAIT", "5s"),
        ];
        let (urls, etcd_url) = (nats.client_urls().join(","), etcd.client_url());
        let mut roles = Vec::new();
        let mut smpp = Vec::new();
        let nodes = (1..=edges)
            .map(|n| ("edge", n))
            .chain([("router", 1), ("connector", 1)]);
        for (role, n) in nodes {
            let id = format!("{role}-{name}-{n}");
            let (child, node) = spawn_role_with(role, &id, &urls, &etcd_url, &client, &env).await;
            if role == "edge" {
                smpp.push(node.addresses["smpp"].clone());
            }
            roles.push(child);
        }
        R3Cluster {
            nats,
            sim,
            smpp: smpp[0].clone(),
            edges: smpp,
            _etcd: etcd,
            _roles: roles,
        }
    }
}

/// The carrier never gave up on a receipt, and took at least `count` messages (a
/// receipt is the carrier's word that a message reached it).
fn all_reached_the_carrier(sim: &herald_sim::SimSmsc, count: u64) {
    let counters = sim.counters();
    assert_eq!(
        counters
            .receipts_failed
            .load(std::sync::atomic::Ordering::Relaxed),
        0,
        "the carrier never gave up on a receipt"
    );
    assert!(counters.submits.load(std::sync::atomic::Ordering::Relaxed) >= count);
}

/// A simulated carrier that, like a real one, keeps offering a receipt Herald could not
/// take (for a minute here; carriers try for hours), for the crash tests.
async fn persistent_carrier(client: &RulesClient) -> herald_sim::SimSmsc {
    simulated_carrier_with(
        client,
        herald_sim::SimConfig {
            receipt_delay: Duration::from_millis(20),
            receipt_retries: 120,
            ..herald_sim::SimConfig::default()
        },
    )
    .await
}

/// Binds to the edge at `smpp`, submits `count` messages asking for receipts, one every
/// `pace` (a refused one is submitted again 50 ms later, as an ESME does), runs `crash`
/// alongside from the first quarter on, and waits until every message answered OK has its
/// receipt. Returns how many submits were refused (or unanswered) meanwhile.
async fn submit_through_a_crash(
    smpp: &str,
    count: usize,
    pace: Duration,
    crash: impl Future<Output = ()>,
) -> usize {
    let (accepted, refused) =
        submit_through_edges_and_a_crash(&[smpp.to_owned()], count, pace, crash).await;
    assert_eq!(accepted, count);
    refused
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_restart_of_nats_refuses_no_submit_and_loses_nothing() {
    // Three NATS servers with every stream and bucket replicated three times. Each is
    // SIGKILLed in turn and started again, as a Kubernetes upgrade restarts them, while an
    // ESME submits: the edge holds a submit through the failover (ADR 0016) instead of
    // refusing it, and every message reaches the carrier with its receipt.
    // Kept whole: its processes live as long as it does.
    let mut cluster = R3Cluster::start("rolling").await;
    let (nats, sim, smpp) = (&mut cluster.nats, &cluster.sim, &cluster.smpp);

    let rolling_restart = async {
        for member in 0..herald_harness::CLUSTER_SIZE {
            nats.stop(member).await;
            tokio::time::sleep(Duration::from_secs(2)).await;
            nats.start(member).await.unwrap();
            eprintln!("NATS server n{member} killed and back");
        }
    };
    // One submit every 20 ms, and a refused one again after 50 ms: unheld
    // (`HERALD_NATS__PUBLISH_HOLD=0s` in the test's environment), the rolling restart
    // cost 102 refusals. Held, none is expected (7 runs of 8 had none, one had a single
    // refusal); the bound is the issue's, about a second's worth of submits in all.
    let (count, pace) = (600, Duration::from_millis(20));
    let a_seconds_worth = (Duration::from_secs(1).as_millis() / pace.as_millis()) as usize;
    let refused = submit_through_a_crash(smpp, count, pace, rolling_restart).await;
    assert!(
        refused <= a_seconds_worth,
        "{refused} submits refused while NATS failed over"
    );
    all_reached_the_carrier(sim, count as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_etcd_member_killed_mid_stream_loses_no_accepted_message_or_receipt() {
    // Three etcd members; every role is given all three. One is SIGKILLed while an ESME
    // submits: rules, node leases, bind slots and session slots carry on with the other
    // two, and every message answered OK gets its receipt.
    let nats = herald_harness::nats().run().await.unwrap();
    let mut etcd = herald_harness::etcd_cluster().run().await.unwrap();
    let endpoints = etcd.client_urls();
    let client = seed_account_at(endpoints.clone()).await;
    // The simulator keeps offering a receipt while Herald's bind is down.
    let sim = persistent_carrier(&client).await;
    let (nats_url, etcd_urls) = (nats.client_url(), endpoints.join(","));
    let spawn = |role, id| spawn_role_with(role, id, &nats_url, &etcd_urls, &client, &[]);
    let (_edge, node) = spawn("edge", "edge-etcd").await;
    let (_router, _) = spawn("router", "router-etcd").await;
    let (_connector, _) = spawn("connector", "connector-etcd").await;

    let crash = async {
        etcd.stop(0).await;
        eprintln!("killed etcd member 0");
    };
    submit_through_a_crash(
        &node.addresses["smpp"],
        400,
        Duration::from_millis(5),
        crash,
    )
    .await;
    all_reached_the_carrier(&sim, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_started_before_nats_waits_for_it_and_then_registers() {
    let etcd = herald_harness::etcd().run().await.unwrap();
    let client = seed_account(&etcd).await;
    // A port nothing listens on yet; NATS comes up there a little later.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("nats://127.0.0.1:{port}");
    let etcd_url = etcd.client_url();
    let nats_later = async {
        // Long enough for the node's first attempts to fail.
        tokio::time::sleep(Duration::from_secs(2)).await;
        herald_harness::nats().port(port).run().await.unwrap()
    };
    let ((_router, node), _nats) = tokio::join!(
        spawn_role_with("router", "router-early", &url, &etcd_url, &client, &[]),
        nats_later
    );
    assert_eq!(node.role, "router");
}

/// The MO path end to end, through three processes to a third-party ESME: the carrier
/// sends an MO to a short code, the connector publishes it, the router's MO rules give it
/// to `acme`, and the edge delivers it as a `deliver_sm` to PyPI `smpplib` bound as a
/// receiver.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_mo_from_the_carrier_reaches_a_third_party_esme_through_three_processes() {
    let (nats, etcd, client) = seeded().await;
    let mo_route = serde_json::json!({"id": "acme", "destination": "80080", "account": "acme"});
    client
        .put_json(
            herald_rules::Kind::MoRoute,
            "acme",
            &mo_route.to_string(),
            herald_rules::Expected::Any,
        )
        .await
        .unwrap();
    let sim = simulated_carrier(&client).await;
    let (_edge, smpp, _) = spawn_edge("edge-mo", &nats, &etcd, &client).await;
    let (_router, _) = spawn_role("router", "router-mo", &nats, &etcd, &client).await;
    let (_connector, _) = spawn_role("connector", "connector-mo", &nats, &etcd, &client).await;
    eventually_sync("the connector binds to the carrier", || sim.bound_now() > 0).await;
    assert_eq!(
        sim.send_mo("447700900123", "80080", "Hello Herald").await,
        Some(CommandStatus::ESME_ROK)
    );

    let port: u16 = smpp.rsplit_once(':').unwrap().1.parse().unwrap();
    let run = herald_tests::Esme::Smpplib
        .run(
            port,
            &[
                "--system-id",
                "acme",
                "--password",
                "secret",
                "--bind",
                "rx",
                "--count",
                "0",
                "--expect-deliver",
                "1",
                "--timeout",
                "30",
            ],
        )
        .await
        .unwrap();
    let summary = &run.summary;
    assert_eq!(run.code, 0, "{summary}");
    let delivered = summary["delivered"].as_array().unwrap();
    assert_eq!(delivered.len(), 1, "{summary}");
    let mo = &delivered[0];
    assert_eq!(mo["source_addr"], "447700900123", "{mo}");
    assert_eq!(mo["destination_addr"], "80080", "{mo}");
    assert_eq!(mo["esm_class"], 0, "an MO, not a receipt: {mo}");
    assert_eq!(
        mo["short_message_hex"], "48656c6c6f20486572616c64",
        "the text, GSM 7-bit unpacked as the carrier sent it: {mo}"
    );
}
