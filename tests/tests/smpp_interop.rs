//! Interop with third-party SMPP software, over real TCP on loopback.
//!
//! - PyPI `smpplib` and npm `smpp` as ESMEs bind, submit (short and concatenated), receive
//!   `deliver_sm` receipts and unbind against an SMSC built on Herald's session engine
//!   (the carrier simulator, `herald-sim`).
//! - Herald's session engine as an ESME binds, submits and receives receipts from the npm
//!   `smpp` package's SMSC, and is refused with the right status on a bad password.
#![allow(clippy::unwrap_used, reason = "a test fails by panicking")]

use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use herald_sim::{SimConfig, SimSmsc};
use herald_smpp::pdu::{Bind, MessageIdResp, SubmitSm};
use herald_smpp::receipt::DeliveryReceipt;
use herald_smpp::session::{self, BindError, BindMode, SessionConfig};
use herald_smpp::{
    Address, CommandId, CommandStatus, DataCoding, PduBody, RegisteredDelivery, Tag,
};
use herald_tests::{Esme, NodeSmsc};
use tokio::net::TcpStream;

fn sim_config() -> SimConfig {
    SimConfig {
        system_id: "interop".into(),
        password: "secret".into(),
        receipt_delay: Duration::from_millis(5),
        ..SimConfig::default()
    }
}

/// Checks a third-party ESME's summary: every submit OK with an id, one receipt per
/// submit naming one of those ids, enquire_link answered, clean unbind.
fn assert_full_exchange(summary: &serde_json::Value, submits: usize) {
    assert_eq!(summary["bound"], true, "{summary}");
    assert_eq!(summary["unbound"], true, "{summary}");
    assert_eq!(summary["enquire_link_ok"], true, "{summary}");
    let submitted = summary["submitted"].as_array().unwrap();
    assert_eq!(submitted.len(), submits, "{summary}");
    let mut ids: Vec<&str> = Vec::new();
    for s in submitted {
        assert_eq!(s["status"], 0, "{s}");
        ids.push(s["message_id"].as_str().unwrap());
    }
    let delivered = summary["delivered"].as_array().unwrap();
    assert_eq!(delivered.len(), submits, "{summary}");
    for d in delivered {
        assert_eq!(d["esm_class"], 4, "a receipt: {d}");
        let text = hex::decode(d["short_message_hex"].as_str().unwrap()).unwrap();
        let receipt = DeliveryReceipt::parse(&text).unwrap();
        assert!(
            ids.contains(&receipt.id.as_str()),
            "receipt for an id we gave: {d}"
        );
        assert_eq!(
            d["receipted_message_id"].as_str(),
            Some(receipt.id.as_str())
        );
    }
}

async fn third_party_esme_against_our_smsc(esme: Esme) {
    let sim = SimSmsc::start_local(sim_config()).await.unwrap();
    let port = sim.local_addr().port();
    // Five short messages and one long one, split by the client library itself.
    let run = esme
        .run(
            port,
            &[
                "--system-id",
                "interop",
                "--password",
                "secret",
                "--count",
                "5",
                "--long",
                "--expect-deliver",
                "7",
                "--timeout",
                "20",
            ],
        )
        .await
        .unwrap();
    let parts = run.summary["submitted"].as_array().unwrap().len();
    assert!(parts >= 7, "5 short + at least 2 parts: {}", run.summary);
    assert_eq!(run.code, 0, "{}", run.summary);
    assert_eq!(sim.counters().binds.load(Ordering::Relaxed), 1);
    assert_eq!(
        sim.counters().submits.load(Ordering::Relaxed) as usize,
        parts
    );
}

async fn third_party_esme_full_exchange(esme: Esme) {
    let sim = SimSmsc::start_local(sim_config()).await.unwrap();
    let port = sim.local_addr().port();
    let run = esme
        .run(
            port,
            &[
                "--system-id",
                "interop",
                "--password",
                "secret",
                "--count",
                "5",
                "--expect-deliver",
                "5",
                "--timeout",
                "20",
            ],
        )
        .await
        .unwrap();
    assert_eq!(run.code, 0, "{}", run.summary);
    assert_full_exchange(&run.summary, 5);
    assert_eq!(sim.counters().submits.load(Ordering::Relaxed), 5);
}

#[tokio::test]
async fn smpplib_esme_binds_submits_gets_receipts_and_unbinds() {
    third_party_esme_full_exchange(Esme::Smpplib).await;
}

#[tokio::test]
async fn smpplib_long_message_parts_are_accepted() {
    third_party_esme_against_our_smsc(Esme::Smpplib).await;
}

#[tokio::test]
async fn node_smpp_esme_binds_submits_gets_receipts_and_unbinds() {
    third_party_esme_full_exchange(Esme::NodeSmpp).await;
}

#[tokio::test]
async fn node_smpp_long_message_parts_are_accepted() {
    third_party_esme_against_our_smsc(Esme::NodeSmpp).await;
}

#[tokio::test]
async fn third_party_esme_with_a_bad_password_is_refused_with_rinvpaswd() {
    let sim = SimSmsc::start_local(sim_config()).await.unwrap();
    let port = sim.local_addr().port();
    for esme in [Esme::Smpplib, Esme::NodeSmpp] {
        let run = esme
            .run(
                port,
                &[
                    "--system-id",
                    "interop",
                    "--password",
                    "wrong",
                    "--timeout",
                    "10",
                ],
            )
            .await
            .unwrap();
        assert_eq!(run.code, 2, "{esme:?}: {}", run.summary);
        assert_eq!(
            run.summary["bind_status"],
            CommandStatus::ESME_RINVPASWD.as_u32(),
            "{esme:?}"
        );
    }
    assert_eq!(sim.counters().binds_rejected.load(Ordering::Relaxed), 2);
}

fn bind_fields(password: &str) -> Bind {
    Bind {
        system_id: "herald".into(),
        password: password.into(),
        interface_version: 0x34,
        ..Bind::default()
    }
}

#[tokio::test]
async fn our_esme_binds_submits_and_gets_receipts_from_node_smpp_smsc() {
    let mut smsc = NodeSmsc::start("herald", "secret", &["--receipts"])
        .await
        .unwrap();
    let stream = TcpStream::connect(("127.0.0.1", smsc.port)).await.unwrap();
    let (session, mut inbox, resp) = session::bind(
        stream,
        SessionConfig::default(),
        BindMode::Transceiver,
        bind_fields("secret"),
    )
    .await
    .unwrap();
    assert!(!resp.system_id.is_empty());
    let bind = smsc.wait_for("bind", Duration::from_secs(5)).await.unwrap();
    assert_eq!(bind["system_id"], "herald");

    // Ten submits in flight at once through the window.
    let mut calls = Vec::new();
    for i in 0..10 {
        let s = session.clone();
        calls.push(tokio::spawn(async move {
            s.request(PduBody::SubmitSm(SubmitSm {
                source: Address::alphanumeric("Herald"),
                dest: Address::international(&format!("4477009000{i:02}")),
                registered_delivery: RegisteredDelivery(1),
                data_coding: DataCoding(0),
                short_message: Bytes::from(format!("interop message {i}")),
                ..SubmitSm::default()
            }))
            .await
        }));
    }
    let mut ids = Vec::new();
    for call in calls {
        let resp = call.await.unwrap().unwrap();
        assert_eq!(resp.command_id(), CommandId::SubmitSmResp);
        assert!(resp.command_status.is_ok());
        let PduBody::SubmitSmResp(MessageIdResp { message_id, .. }) = resp.body else {
            panic!("not a submit_sm_resp");
        };
        ids.push(message_id.to_string());
    }
    // What the SMSC decoded is what we sent.
    for _ in 0..10 {
        let event = smsc
            .wait_for("submit_sm", Duration::from_secs(5))
            .await
            .unwrap();
        let sm = hex::decode(event["short_message_hex"].as_str().unwrap()).unwrap();
        assert!(sm.starts_with(b"interop message "), "{event}");
        assert_eq!(event["source_addr"], "Herald");
    }
    // Ten receipts come back as deliver_sm; answering them is what acknowledges them.
    let mut receipted = Vec::new();
    while receipted.len() < 10 {
        let inbound = tokio::time::timeout(Duration::from_secs(10), inbox.recv())
            .await
            .unwrap()
            .unwrap();
        let PduBody::DeliverSm(dm) = &inbound.pdu.body else {
            panic!("expected deliver_sm, got {:?}", inbound.pdu);
        };
        assert!(dm.esm_class.is_receipt());
        let receipt = DeliveryReceipt::parse(dm.user_data()).unwrap();
        let tlv_id = dm.tlvs.get_c_string(Tag::RECEIPTED_MESSAGE_ID).unwrap();
        assert_eq!(tlv_id, receipt.id.as_bytes());
        receipted.push(receipt.id);
        inbound.responder.respond(
            PduBody::DeliverSmResp(MessageIdResp::default()),
            CommandStatus::ESME_ROK,
        );
    }
    receipted.sort();
    ids.sort();
    assert_eq!(receipted, ids);
    session.unbind().await;
    smsc.wait_for("unbind", Duration::from_secs(5))
        .await
        .unwrap();
}

#[tokio::test]
async fn our_esme_is_refused_by_node_smpp_smsc_on_a_bad_password() {
    let smsc = NodeSmsc::start("herald", "secret", &[]).await.unwrap();
    let stream = TcpStream::connect(("127.0.0.1", smsc.port)).await.unwrap();
    let result = session::bind(
        stream,
        SessionConfig::default(),
        BindMode::Transmitter,
        bind_fields("nope"),
    )
    .await;
    assert!(
        matches!(
            result,
            Err(BindError::Rejected(CommandStatus::ESME_RINVPASWD))
        ),
        "{:?}",
        result.err()
    );
}

#[tokio::test]
async fn node_smpp_throttling_reaches_our_esme_as_rthrottled() {
    let smsc = NodeSmsc::start("herald", "secret", &["--throttle-every", "2"])
        .await
        .unwrap();
    let stream = TcpStream::connect(("127.0.0.1", smsc.port)).await.unwrap();
    let (session, _inbox, _) = session::bind(
        stream,
        SessionConfig::default(),
        BindMode::Transmitter,
        bind_fields("secret"),
    )
    .await
    .unwrap();
    let mut statuses = Vec::new();
    for i in 0..4 {
        let resp = session
            .request(PduBody::SubmitSm(SubmitSm {
                dest: Address::international("447700900001"),
                short_message: Bytes::from(format!("m{i}")),
                ..SubmitSm::default()
            }))
            .await
            .unwrap();
        statuses.push(resp.command_status);
    }
    assert_eq!(
        statuses,
        [
            CommandStatus::ESME_ROK,
            CommandStatus::ESME_RTHROTTLED,
            CommandStatus::ESME_ROK,
            CommandStatus::ESME_RTHROTTLED
        ]
    );
    session.unbind().await;
}
