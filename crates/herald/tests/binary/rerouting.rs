//! A carrier's failure receipt sending the message on (issue 20): `herald edge`, `router`
//! and `connector` processes, two simulated carriers behind a failover route. The first
//! takes every message and reports it undeliverable, and its rules say such receipts
//! reroute; the second delivers. The ESME hears one final receipt per message, the
//! second carrier's.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

use herald_harness::{PATIENCE, seed};
use herald_rules::{Expected, Kind};
use herald_sim::{SimConfig, SimSmsc};
use herald_smpp::receipt::{MessageState, ReceiptTlvs};
use herald_smpp::{CommandStatus, PduBody};

use super::{bind_transceiver, seeded, spawn_edge, spawn_role, submit_with_receipts};

/// A simulated carrier with Herald's credentials, answering receipts in `state`.
async fn carrier(state: MessageState) -> SimSmsc {
    SimSmsc::start_local(SimConfig {
        system_id: "herald".into(),
        password: "simsecret".into(),
        receipt_delay: Duration::from_millis(20),
        receipt_state: state,
        ..SimConfig::default()
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_receipt_sends_the_message_to_the_next_carrier_and_the_esme_hears_once() {
    let (nats, etcd, client) = seeded().await;
    let failing = carrier(MessageState::Undeliverable).await;
    let reroute = serde_json::json!({ "reroute_on_receipt": { "states": ["UNDELIV"] } });
    seed::carrier(&client, failing.local_addr().port(), reroute).await;
    let backup = carrier(MessageState::Delivered).await;
    let second = serde_json::json!({
        "id": "backup", "host": "127.0.0.1", "port": backup.local_addr().port(),
        "system_id": "herald", "password": { "env": "HERALD_SIM_PASSWORD" },
        "throughput": { "tps": 1000 },
    });
    client
        .put_json(Kind::Carrier, "backup", &second.to_string(), Expected::Any)
        .await
        .unwrap();
    let route = serde_json::json!({
        "id": "all", "priority": 10, "match": {},
        "action": { "type": "failover", "carriers": [seed::CARRIER, "backup"] },
    });
    client
        .put_json(Kind::Route, "all", &route.to_string(), Expected::Any)
        .await
        .unwrap();
    let (_edge, smpp, _) = spawn_edge("edge-reroute", &nats, &etcd, &client).await;
    let (_router, _) = spawn_role("router", "router-reroute", &nats, &etcd, &client).await;
    let (_connector, _) = spawn_role("connector", "connector-reroute", &nats, &etcd, &client).await;

    let (session, mut inbox) = bind_transceiver(&smpp).await;
    let count = 10;
    let ids = submit_with_receipts(&session, count).await;

    // Receipts until every message has one, then two quiet seconds for any extra one.
    let mut receipts: HashMap<String, Vec<MessageState>> = HashMap::new();
    loop {
        let patience = if receipts.len() < ids.len() {
            PATIENCE
        } else {
            Duration::from_secs(2)
        };
        let Ok(inbound) = tokio::time::timeout(patience, inbox.recv()).await else {
            assert_eq!(
                receipts.len(),
                ids.len(),
                "receipts for every message in time"
            );
            break;
        };
        let inbound = inbound.unwrap();
        let PduBody::DeliverSm(sm) = &inbound.pdu.body else {
            panic!("{:?}", inbound.pdu.body)
        };
        let tlvs = ReceiptTlvs::from_tlvs(&sm.tlvs).unwrap();
        let id = tlvs.receipted_message_id.unwrap();
        assert!(
            ids.contains(&id),
            "a receipt for {id}, which we were not given"
        );
        receipts
            .entry(id)
            .or_default()
            .push(tlvs.message_state.unwrap());
        inbound.responder.respond(
            PduBody::DeliverSmResp(herald_smpp::pdu::MessageIdResp::default()),
            CommandStatus::ESME_ROK,
        );
    }
    for (id, states) in &receipts {
        assert_eq!(
            states,
            &[MessageState::Delivered],
            "{id}: one final receipt, the second carrier's"
        );
    }
    let submits = |sim: &SimSmsc| sim.counters().submits.load(Ordering::Relaxed);
    assert_eq!(
        submits(&failing),
        count as u64,
        "each tried on the first carrier"
    );
    assert_eq!(
        submits(&backup),
        count as u64,
        "and sent on to the second once"
    );
}
