//! The carrier simulator seen from an ESME built on Herald's session engine: binds and
//! the bind limit, receipts (mix of states, before the answer, decimal ids, text only),
//! injected faults (throttling by percentage and by TPS, errors, silence, dropped
//! connections), MO traffic and the counters.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use herald_harness::{PATIENCE, eventually_sync};
use herald_sim::{Faults, SimConfig, SimSmsc};
use herald_smpp::pdu::{Bind, SubmitSm};
use herald_smpp::receipt::{DeliveryReceipt, MessageState, ReceiptTlvs};
use herald_smpp::session::{
    BindError, BindMode, Inbox, Session, SessionConfig, SessionError, bind,
};
use herald_smpp::types::{Address, COctetString, RegisteredDelivery};
use herald_smpp::{CommandStatus, Pdu, PduBody};
use tokio::net::TcpStream;

async fn esme(
    sim: &SimSmsc,
    mode: BindMode,
    password: &str,
) -> Result<(Session, Inbox), BindError> {
    esme_with(sim, mode, password, SessionConfig::default()).await
}

async fn esme_with(
    sim: &SimSmsc,
    mode: BindMode,
    password: &str,
    config: SessionConfig,
) -> Result<(Session, Inbox), BindError> {
    let io = TcpStream::connect(sim.local_addr()).await.unwrap();
    let request = Bind {
        system_id: COctetString::from("carrier"),
        password: COctetString::from(password),
        interface_version: 0x34,
        ..Bind::default()
    };
    let (session, inbox, _) = bind(io, config, mode, request).await?;
    Ok((session, inbox))
}

fn submit(text: &str, receipt: bool) -> PduBody {
    PduBody::SubmitSm(SubmitSm {
        source: Address::alphanumeric("ACME"),
        dest: Address::international("447700900001"),
        registered_delivery: RegisteredDelivery(u8::from(receipt)),
        short_message: Bytes::from(text.as_bytes().to_vec()),
        ..SubmitSm::default()
    })
}

fn message_id(resp: &Pdu) -> String {
    match &resp.body {
        PduBody::SubmitSmResp(r) => r.message_id.to_string_lossy(),
        other => panic!("{other:?}"),
    }
}

/// The next request in `inbox`, answered OK.
async fn next_deliver(inbox: &mut Inbox) -> Pdu {
    let inbound = tokio::time::timeout(PATIENCE, inbox.recv())
        .await
        .expect("a deliver_sm in time")
        .expect("session open");
    let pdu = inbound.pdu.clone();
    inbound.responder.respond(
        PduBody::DeliverSmResp(Default::default()),
        CommandStatus::ESME_ROK,
    );
    pdu
}

fn receipt_of(pdu: &Pdu) -> (DeliveryReceipt, ReceiptTlvs) {
    let PduBody::DeliverSm(sm) = &pdu.body else {
        panic!("{pdu:?}")
    };
    assert!(sm.esm_class.is_receipt());
    (
        DeliveryReceipt::parse(&sm.short_message).unwrap(),
        ReceiptTlvs::from_tlvs(&sm.tlvs).unwrap(),
    )
}

#[tokio::test]
async fn bind_limit_and_credentials() {
    let sim = SimSmsc::start_local(SimConfig {
        max_binds: 2,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let wrong = esme(&sim, BindMode::Transceiver, "nope").await.unwrap_err();
    assert!(matches!(
        wrong,
        BindError::Rejected(CommandStatus::ESME_RINVPASWD)
    ));
    let a = esme(&sim, BindMode::Transceiver, "secret").await.unwrap();
    let b = esme(&sim, BindMode::Transmitter, "secret").await.unwrap();
    let third = esme(&sim, BindMode::Receiver, "secret").await.unwrap_err();
    assert!(matches!(
        third,
        BindError::Rejected(CommandStatus::ESME_RBINDFAIL)
    ));
    assert_eq!(sim.bound_now(), 2);
    assert_eq!(sim.peak_binds(), 2);
    a.0.unbind().await;
    // The freed slot can be taken again.
    eventually_sync("the slot freed", || sim.bound_now() == 1).await;
    let _c = esme(&sim, BindMode::Receiver, "secret").await.unwrap();
    drop(b);
    assert_eq!(sim.counters().binds_rejected.load(Ordering::Relaxed), 2);
    assert_eq!(sim.peak_binds(), 2);
}

#[tokio::test]
async fn receipts_follow_the_mix_and_name_the_id() {
    let sim = SimSmsc::start_local(SimConfig {
        receipt_mix: vec![
            (MessageState::Delivered, 1),
            (MessageState::Undeliverable, 1),
        ],
        receipt_delay: Duration::from_millis(1),
        seed: 42,
        record_submits: true,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let (session, mut inbox) = esme(&sim, BindMode::Transceiver, "secret").await.unwrap();
    let mut ids = Vec::new();
    for i in 0..20 {
        let resp = session
            .request(submit(&format!("m{i}"), true))
            .await
            .unwrap();
        assert!(resp.command_status.is_ok());
        ids.push(message_id(&resp));
    }
    let mut states = Vec::new();
    for _ in 0..20 {
        let (text, tlvs) = receipt_of(&next_deliver(&mut inbox).await);
        assert!(ids.contains(&text.id));
        assert_eq!(tlvs.receipted_message_id.as_deref(), Some(text.id.as_str()));
        assert_eq!(tlvs.message_state, text.state);
        states.push(text.state.unwrap());
    }
    assert!(states.contains(&MessageState::Delivered));
    assert!(states.contains(&MessageState::Undeliverable));
    let records = sim.submitted();
    assert_eq!(records.len(), 20);
    assert_eq!(&records[3].user_data[..], b"m3");
    assert_eq!(records[3].message_id, ids[3]);
}

#[tokio::test]
async fn a_receipt_can_come_before_the_answer_in_decimal_and_text_only() {
    let sim = SimSmsc::start_local(SimConfig {
        receipt_first: true,
        receipt_id_decimal: true,
        receipt_tlvs: false,
        receipt_delay: Duration::from_millis(50),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let (session, mut inbox) = esme(&sim, BindMode::Transceiver, "secret").await.unwrap();
    let request = tokio::spawn({
        let session = session.clone();
        async move { session.request(submit("race", true)).await }
    });
    let receipt = next_deliver(&mut inbox).await;
    // The answer has not come yet when the receipt is in.
    assert!(!request.is_finished());
    let resp = request.await.unwrap().unwrap();
    let (text, tlvs) = receipt_of(&receipt);
    assert_eq!(tlvs, ReceiptTlvs::default());
    let hex = message_id(&resp);
    assert_eq!(text.id, u128::from_str_radix(&hex, 16).unwrap().to_string());
}

#[tokio::test]
async fn faults_throttle_error_and_silence() {
    let sim = SimSmsc::start_local(SimConfig {
        faults: Faults {
            throttle_percent: 100,
            ..Faults::default()
        },
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let config = SessionConfig {
        response_timeout: Duration::from_millis(300),
        ..SessionConfig::default()
    };
    let (session, _inbox) = esme_with(&sim, BindMode::Transceiver, "secret", config)
        .await
        .unwrap();
    let resp = session.request(submit("x", false)).await.unwrap();
    assert_eq!(resp.command_status, CommandStatus::ESME_RTHROTTLED);

    sim.set_faults(Faults {
        error_percent: 100,
        error_status: CommandStatus::ESME_RINVDSTADR,
        ..Faults::default()
    });
    let resp = session.request(submit("x", false)).await.unwrap();
    assert_eq!(resp.command_status, CommandStatus::ESME_RINVDSTADR);

    sim.set_faults(Faults {
        silent_percent: 100,
        ..Faults::default()
    });
    let err = session.request(submit("x", false)).await.unwrap_err();
    assert!(matches!(err, SessionError::Timeout(_)));

    sim.set_faults(Faults::default());
    let resp = session.request(submit("x", false)).await.unwrap();
    assert!(resp.command_status.is_ok());
    let c = sim.counters();
    assert_eq!(c.throttled.load(Ordering::Relaxed), 1);
    assert_eq!(c.errors.load(Ordering::Relaxed), 1);
    assert_eq!(c.silent.load(Ordering::Relaxed), 1);
    assert_eq!(c.submits.load(Ordering::Relaxed), 1);
}

#[tokio::test]
async fn a_tps_cap_throttles_the_excess() {
    let sim = SimSmsc::start_local(SimConfig {
        faults: Faults {
            max_tps: Some(5),
            ..Faults::default()
        },
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let (session, _inbox) = esme(&sim, BindMode::Transmitter, "secret").await.unwrap();
    let mut throttled = 0;
    for _ in 0..20 {
        let resp = session.request(submit("x", false)).await.unwrap();
        if resp.command_status == CommandStatus::ESME_RTHROTTLED {
            throttled += 1;
        }
    }
    // A burst of 20 at once against a bucket of 5 cannot all pass.
    assert!(throttled > 0);
    assert_eq!(
        sim.counters().throttled.load(Ordering::Relaxed),
        throttled as u64
    );
}

#[tokio::test]
async fn a_dropped_connection_loses_the_answer_but_not_the_receipt() {
    let sim = SimSmsc::start_local(SimConfig {
        faults: Faults {
            disconnect_every: Some(3),
            ..Faults::default()
        },
        receipt_retry_delay: Duration::from_millis(50),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let (session, _inbox) = esme(&sim, BindMode::Transmitter, "secret").await.unwrap();
    assert!(
        session
            .request(submit("1", true))
            .await
            .unwrap()
            .command_status
            .is_ok()
    );
    assert!(
        session
            .request(submit("2", true))
            .await
            .unwrap()
            .command_status
            .is_ok()
    );
    let lost = session.request(submit("3", true)).await.unwrap_err();
    assert!(matches!(lost, SessionError::Closed(_)), "{lost:?}");
    assert_eq!(sim.counters().submits.load(Ordering::Relaxed), 3);
    assert_eq!(sim.counters().disconnects.load(Ordering::Relaxed), 1);
    // The receipts (including the lost answer's) wait for a receiver and are retried.
    let (_rx, mut inbox) = esme(&sim, BindMode::Receiver, "secret").await.unwrap();
    for _ in 0..3 {
        receipt_of(&next_deliver(&mut inbox).await);
    }
}

#[tokio::test]
async fn disconnect_all_cuts_every_session() {
    let sim = SimSmsc::start_local(SimConfig::default()).await.unwrap();
    let (a, _ia) = esme(&sim, BindMode::Transceiver, "secret").await.unwrap();
    let (b, _ib) = esme(&sim, BindMode::Transceiver, "secret").await.unwrap();
    sim.disconnect_all();
    for session in [a, b] {
        tokio::time::timeout(PATIENCE, session.closed())
            .await
            .unwrap();
    }
    assert_eq!(sim.counters().disconnects.load(Ordering::Relaxed), 2);
    // The simulator forgets them too: their bind slots are free again.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while sim.bound_now() != 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "still bound: {}",
            sim.bound_now()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn mo_on_demand_and_generated() {
    let sim = SimSmsc::start_local(SimConfig {
        mo_interval: Some(Duration::from_millis(20)),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    assert_eq!(sim.send_mo("447700900009", "80080", "STOP").await, None);
    let (_session, mut inbox) = esme(&sim, BindMode::Receiver, "secret").await.unwrap();
    let mut texts = Vec::new();
    while texts.len() < 3 {
        let pdu = next_deliver(&mut inbox).await;
        let PduBody::DeliverSm(sm) = &pdu.body else {
            panic!()
        };
        assert!(!sm.esm_class.is_receipt());
        texts.push(String::from_utf8(sm.short_message.to_vec()).unwrap());
    }
    assert!(texts.iter().all(|t| t.starts_with("MO ")), "{texts:?}");
    let sent = tokio::spawn(async move {
        let status = sim.send_mo("447700900009", "80080", "STOP").await;
        (status, sim)
    });
    loop {
        let pdu = next_deliver(&mut inbox).await;
        let PduBody::DeliverSm(sm) = &pdu.body else {
            panic!()
        };
        if &sm.short_message[..] == b"STOP" {
            assert_eq!(sm.source.addr.as_str(), Some("447700900009"));
            break;
        }
    }
    let (status, sim) = sent.await.unwrap();
    assert_eq!(status, Some(CommandStatus::ESME_ROK));
    assert!(sim.counters().mo_acked.load(Ordering::Relaxed) >= 4);
}
