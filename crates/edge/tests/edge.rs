//! The edge against real NATS and etcd, with Herald's own SMPP client as the ESME
//! (third-party ESMEs are in the workspace's interop tests): binds and their failures,
//! submits accepted only once on the bus, precise statuses for bad input, receipts
//! delivered and acked after `deliver_sm_resp`, and a bus outage answered promptly.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use herald_bus::{Bus, ConsumerSpec, Outgoing, StreamKind};
use herald_config::EdgeConfig;
use herald_edge::session_slots::SessionSlots;
use herald_edge::{Edge, EdgeDeps};
use herald_harness::{Backing, PATIENCE, eventually_some, eventually_sync, seed};
use herald_proto::bus::v1::{self as bus, Event, MtMessage, Receipt, event};
use herald_rules::{Expected, Kind, NodeInfo};
use herald_smpp::pdu::{Bind, BroadcastSm, MessageIdResp, SubmitSm};
use herald_smpp::receipt::{MessageState, ReceiptTlvs};
use herald_smpp::session::{BindError, BindMode, Inbox, Session, SessionConfig, bind};
use herald_smpp::text::Encoding;
use herald_smpp::types::{Address, COctetString, DataCoding, Npi, Ton};
use herald_smpp::{CommandStatus, PduBody, Tag, Tlv};
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

struct Cluster {
    backing: Backing,
    bus: Bus,
    port: u16,
    _stop: Vec<oneshot::Sender<()>>,
}

impl Cluster {
    /// Starts one more edge on the same NATS and etcd; its SMPP port.
    async fn another_edge(&mut self) -> u16 {
        let (port, stop) = start_edge(&self.bus, &self.backing, None).await;
        self._stop.push(stop);
        port
    }
}

async fn start_edge(
    bus: &Bus,
    backing: &Backing,
    session_slots: Option<SessionSlots>,
) -> (u16, oneshot::Sender<()>) {
    let edge = Edge::new(
        EdgeConfig {
            failed_bind_delay: Duration::from_millis(10),
            ..EdgeConfig::default()
        },
        EdgeDeps {
            bus: bus.clone(),
            rules: backing.rules_store().await,
            node_id: "edge-test".into(),
            session_slots,
            route_time_zone: herald_rules::model::UtcOffset::UTC,
        },
    )
    .await
    .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(async move {
        edge.serve(listener, async {
            let _ = stopped.await;
        })
        .await
        .unwrap();
    });
    (port, stop)
}

/// NATS, etcd, the accounts `acme` and `metered`, a route for UK numbers and an edge.
async fn cluster() -> Cluster {
    let backing = Backing::start().await;
    let rules = &backing.rules;
    let acme = json!({
        "quota": { "tps": 1000 }, "window": 50, "max_binds": 3,
        "sender_ids": { "allowed": ["ACME"], "allow_numeric": true },
    });
    seed::account(rules, "acme", "secret", acme).await;
    // A carrier and a route for UK numbers: the edge refuses destinations no route takes.
    seed::carrier(rules, seed::NO_CARRIER_PORT, json!({})).await;
    seed::route(rules, "uk", &["44"]).await;
    // UK mobiles on 4479 go by a route of their own, capped at 20/s whoever sends.
    let capped = json!({
        "id": "capped", "priority": 5, "match": { "destination_prefixes": ["4479"] },
        "action": { "type": "carrier", "carrier": seed::CARRIER }, "quota": { "tps": 20 },
    });
    rules
        .put_json(Kind::Route, "capped", &capped.to_string(), Expected::Any)
        .await
        .unwrap();
    let metered = json!({ "quota": { "tps": 100 }, "window": 50 });
    seed::account(rules, "metered", "secret", metered).await;
    let brand = json!({
        "quota": { "tps": 100 }, "default_sender": "+447700900999", "default_alphabet": "latin1",
        "transliterate": true,
    });
    seed::account(rules, "brand", "secret", brand).await;
    let otp = json!({ "quota": { "tps": 100 }, "priority_lane": "urgent" });
    seed::account(rules, "otp", "secret", otp).await;
    let promo = json!({ "quota": { "tps": 100 }, "priority_lane": "bulk" });
    seed::account(rules, "promo", "secret", promo).await;
    let bus = backing
        .bus_with(|config| {
            config.request_timeout = Duration::from_secs(2);
            // A bus down for good: a submit is held this long, then refused.
            config.publish_hold = Duration::from_secs(2);
        })
        .await;
    let (port, stop) = start_edge(&bus, &backing, None).await;
    Cluster {
        backing,
        bus,
        port,
        _stop: vec![stop],
    }
}

async fn esme(
    port: u16,
    mode: BindMode,
    system_id: &str,
    password: &str,
) -> Result<(Session, Inbox), BindError> {
    esme_speaking(0x34, port, mode, system_id, password).await
}

/// [`esme`] binding with `interface_version`.
async fn esme_speaking(
    interface_version: u8,
    port: u16,
    mode: BindMode,
    system_id: &str,
    password: &str,
) -> Result<(Session, Inbox), BindError> {
    let io = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let request = Bind {
        system_id: COctetString::from(system_id),
        password: COctetString::from(password),
        interface_version,
        ..Bind::default()
    };
    let (session, inbox, _) = bind(io, SessionConfig::default(), mode, request).await?;
    Ok((session, inbox))
}

fn submit(dest: &str) -> PduBody {
    PduBody::SubmitSm(SubmitSm {
        source: Address::alphanumeric("ACME"),
        dest: Address::international(dest),
        registered_delivery: herald_smpp::types::RegisteredDelivery(1),
        short_message: Bytes::from_static(b"hello from the test"),
        ..SubmitSm::default()
    })
}

fn message_id(resp: &herald_smpp::Pdu) -> String {
    match &resp.body {
        PduBody::SubmitSmResp(MessageIdResp { message_id, .. }) => message_id.to_string_lossy(),
        other => panic!("not a submit_sm_resp: {other:?}"),
    }
}

#[tokio::test]
async fn binds_are_checked_against_the_accounts_in_etcd() {
    let cluster = cluster().await;
    let wrong_password = esme(cluster.port, BindMode::Transceiver, "acme", "nope").await;
    assert!(matches!(
        wrong_password,
        Err(BindError::Rejected(CommandStatus::ESME_RINVPASWD))
    ));
    // An unknown system_id is answered as a wrong password: names cannot be probed.
    let unknown = esme(cluster.port, BindMode::Transceiver, "nobody", "secret").await;
    assert!(matches!(
        unknown,
        Err(BindError::Rejected(CommandStatus::ESME_RINVPASWD))
    ));

    let mut bound = Vec::new();
    for _ in 0..3 {
        bound.push(
            esme(cluster.port, BindMode::Transmitter, "acme", "secret")
                .await
                .unwrap(),
        );
    }
    // A verified password is remembered; a wrong one after it is still wrong.
    let wrong_again = esme(cluster.port, BindMode::Transmitter, "acme", "Secret").await;
    assert!(matches!(
        wrong_again,
        Err(BindError::Rejected(CommandStatus::ESME_RINVPASWD))
    ));
    let fourth = esme(cluster.port, BindMode::Transmitter, "acme", "secret").await;
    assert!(matches!(
        fourth,
        Err(BindError::Rejected(CommandStatus::ESME_RBINDFAIL))
    ));
    // One leaves; its bind is free again.
    bound.pop().unwrap().0.unbind().await;
    // The slot is freed when the edge has closed the session: wait for that, not a count.
    let _again = eventually_some("a freed bind can be taken", || async {
        esme(cluster.port, BindMode::Transmitter, "acme", "secret")
            .await
            .ok()
    })
    .await;
}

#[tokio::test]
async fn an_accepted_submit_is_on_the_bus_with_every_field() {
    let cluster = cluster().await;
    let (session, _inbox) = esme(cluster.port, BindMode::Transceiver, "acme", "secret")
        .await
        .unwrap();
    let resp = session.request(submit("447700900001")).await.unwrap();
    assert_eq!(resp.command_status, CommandStatus::ESME_ROK);
    let id = message_id(&resp);
    assert_eq!(id.len(), 20);

    let consumer = cluster.bus.consumer(ConsumerSpec::routers()).await.unwrap();
    let mut deliveries = consumer.messages(8).await.unwrap();
    let delivery = tokio::time::timeout(PATIENCE, deliveries.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let mt: MtMessage = delivery.decode().unwrap();
    assert_eq!(mt.id, id);
    assert_eq!(mt.account_id, "acme");
    assert_eq!(mt.destination.unwrap().addr, "447700900001");
    assert_eq!(mt.source.unwrap().addr, "ACME");
    assert_eq!(mt.payload, b"hello from the test");
    assert_eq!(mt.registered_delivery, 1);
    assert_eq!(mt.edge_node, "edge-test");
}

#[tokio::test]
async fn an_empty_source_and_data_coding_0_take_the_accounts_defaults() {
    let cluster = cluster().await;
    let (session, _inbox) = esme(cluster.port, BindMode::Transceiver, "brand", "secret")
        .await
        .unwrap();
    let mut sm = SubmitSm {
        dest: Address::international("447700900001"),
        // "Hé" in Latin-1, the account's data_coding 0.
        short_message: Bytes::from_static(b"H\xE9"),
        ..SubmitSm::default()
    };
    let resp = session
        .request(PduBody::SubmitSm(sm.clone()))
        .await
        .unwrap();
    assert_eq!(resp.command_status, CommandStatus::ESME_ROK);
    sm.source = Address::alphanumeric("MINE");
    let resp = session.request(PduBody::SubmitSm(sm)).await.unwrap();
    assert_eq!(resp.command_status, CommandStatus::ESME_ROK);
    let data = herald_smpp::pdu::DataSm {
        dest: Address::international("447700900002"),
        tlvs: [herald_smpp::Tlv::new(
            herald_smpp::Tag::MESSAGE_PAYLOAD,
            &b"data_sm"[..],
        )]
        .into_iter()
        .collect(),
        ..herald_smpp::pdu::DataSm::default()
    };
    let resp = session.request(PduBody::DataSm(data)).await.unwrap();
    assert_eq!(resp.command_status, CommandStatus::ESME_ROK);

    let mut sources = Vec::new();
    for mt in accepted_mts(&cluster.bus, 3).await {
        let source = mt.source.unwrap_or_default();
        sources.push((source.addr, source.ton, source.npi));
        assert_eq!(
            mt.data_coding, 3,
            "data_coding 0 named as the account's Latin-1"
        );
    }
    sources.sort();
    assert_eq!(
        sources,
        [
            ("447700900999".into(), 1, 1),
            ("447700900999".into(), 1, 1),
            ("MINE".into(), 5, 0),
        ],
        "the default, international, for submit_sm and data_sm; the ESME's own kept"
    );
}

#[tokio::test]
async fn ucs2_look_alikes_go_in_gsm_for_an_account_that_transliterates() {
    let cluster = cluster().await;
    let (session, _inbox) = esme(cluster.port, BindMode::Transceiver, "brand", "secret")
        .await
        .unwrap();
    let ucs2 = |text: &str| Bytes::from(herald_smpp::text::encode(text, Encoding::Ucs2).unwrap());
    let submit = |dest: &str, short_message: Bytes, udhi: bool| SubmitSm {
        source: Address::alphanumeric("ACME"),
        dest: Address::international(dest),
        esm_class: herald_smpp::EsmClass::default().with_udhi(udhi),
        data_coding: DataCoding(8),
        short_message,
        ..SubmitSm::default()
    };
    let quoted = "\u{201C}Hi\u{201D} \u{2014} it\u{2019}s me";
    let sent = [
        // Typography only: GSM 7-bit.
        submit("447700900001", ucs2(quoted), false),
        // An emoji needs UCS-2 anyway: kept as written.
        submit("447700900002", ucs2("\u{201C}Hi\u{201D} \u{1F600}"), false),
        // One part of a message the ESME split (UDH): left alone.
        submit(
            "447700900003",
            [&[5, 0, 3, 9, 2, 1][..], &ucs2(quoted)[..]].concat().into(),
            true,
        ),
        // 100 ellipses: 300 septets, more than short_message holds.
        submit("447700900004", ucs2(&"\u{2026}".repeat(100)), false),
    ];
    for sm in sent {
        let resp = session.request(PduBody::SubmitSm(sm)).await.unwrap();
        assert_eq!(resp.command_status, CommandStatus::ESME_ROK);
    }
    let seen: BTreeMap<String, (u32, Vec<u8>)> = accepted_mts(&cluster.bus, 4)
        .await
        .into_iter()
        .map(|mt| {
            let dest = mt.destination.unwrap_or_default().addr;
            (dest, (mt.data_coding, mt.payload))
        })
        .collect();
    let gsm = |text: &str| herald_smpp::text::encode(text, Encoding::GSM7).unwrap();
    assert_eq!(seen["447700900001"], (0, gsm("\"Hi\" - it's me")));
    assert_eq!(seen["447700900002"].0, 8);
    assert_eq!(seen["447700900003"].0, 8);
    assert_eq!(seen["447700900004"], (0, gsm(&".".repeat(300))));
}

#[tokio::test]
async fn each_message_takes_the_lane_its_account_and_priority_flag_give_it() {
    let cluster = cluster().await;
    let with_priority = |dest: &str, priority_flag: u8| {
        let PduBody::SubmitSm(sm) = submit(dest) else {
            unreachable!("submit builds a submit_sm")
        };
        PduBody::SubmitSm(SubmitSm {
            priority_flag,
            ..sm
        })
    };
    // account, destination, priority_flag
    let sent = [
        ("acme", "447700900001", 0),
        ("acme", "447700900002", 1),
        ("acme", "447700900003", 3),
        ("otp", "447700900004", 0),
        ("promo", "447700900005", 2),
    ];
    for (account, dest, flag) in sent {
        let (session, _inbox) = esme(cluster.port, BindMode::Transmitter, account, "secret")
            .await
            .unwrap();
        let resp = session.request(with_priority(dest, flag)).await.unwrap();
        assert_eq!(
            resp.command_status,
            CommandStatus::ESME_ROK,
            "{account} {dest}"
        );
    }
    let lane = |mts: Vec<MtMessage>| -> BTreeMap<String, (bool, u32)> {
        mts.into_iter()
            .map(|mt| {
                let dest = mt.destination.unwrap_or_default().addr;
                (dest, (mt.urgent, mt.priority))
            })
            .collect()
    };
    let urgent = lane(accepted_in(&cluster.bus, ConsumerSpec::urgent_routers(), 3).await);
    let bulk = lane(accepted_in(&cluster.bus, ConsumerSpec::routers(), 2).await);
    // The flag travels to the carrier whichever lane the message takes.
    assert_eq!(
        urgent,
        BTreeMap::from([
            ("447700900002".to_owned(), (true, 1)),
            ("447700900003".to_owned(), (true, 3)),
            ("447700900004".to_owned(), (true, 0)),
        ])
    );
    assert_eq!(
        bulk,
        BTreeMap::from([
            ("447700900001".to_owned(), (false, 0)),
            ("447700900005".to_owned(), (false, 2)),
        ])
    );
}

#[tokio::test]
async fn smpp_50_esmes_are_told_the_congestion_state_and_34_ones_are_not() {
    let cluster = cluster().await;
    let congestion = |resp: &herald_smpp::Pdu| match &resp.body {
        PduBody::SubmitSmResp(r) => r
            .tlvs
            .iter()
            .find(|t| t.tag == herald_smpp::Tag::CONGESTION_STATE)
            .map(|t| t.value.to_vec()),
        other => panic!("not a submit_sm_resp: {other:?}"),
    };
    let (v50, _inbox) = esme_speaking(0x50, cluster.port, BindMode::Transmitter, "acme", "secret")
        .await
        .unwrap();
    let resp = v50.request(submit("447700900001")).await.unwrap();
    assert_eq!(resp.command_status, CommandStatus::ESME_ROK);
    // One request of a window of 50 in progress when it came, nothing else on the edge:
    // 0 % (rounded down), as one octet.
    assert_eq!(congestion(&resp), Some(vec![0]));
    // Forty at once: the later ones came with part of the window in use.
    let burst = (0..40).map(|_| v50.request(submit("447700900001")));
    let states: Vec<u8> = futures::future::join_all(burst)
        .await
        .into_iter()
        .map(|resp| congestion(&resp.unwrap()).unwrap()[0])
        .collect();
    assert!(states.iter().all(|&s| s <= 100), "{states:?}");
    // Each is 2 % per request already in progress when it came (a window of 50); forty
    // pipelined arrive faster than the bus acks them.
    assert!(states.iter().all(|&s| s % 2 == 0), "{states:?}");
    assert!(
        states.iter().any(|&s| s >= 20),
        "a window filling up is reported: {states:?}"
    );

    let (v34, _inbox) = esme(cluster.port, BindMode::Transmitter, "acme", "secret")
        .await
        .unwrap();
    let resp = v34.request(submit("447700900001")).await.unwrap();
    assert_eq!(resp.command_status, CommandStatus::ESME_ROK);
    assert_eq!(congestion(&resp), None, "SMPP 3.4 has no congestion_state");
}

#[tokio::test]
async fn pipelined_submits_each_get_their_own_id() {
    let cluster = cluster().await;
    let (session, _inbox) = esme(cluster.port, BindMode::Transmitter, "acme", "secret")
        .await
        .unwrap();
    let requests = (0..40).map(|i| {
        let session = session.clone();
        async move {
            session
                .request(submit(&format!("4477009{i:05}")))
                .await
                .unwrap()
        }
    });
    let responses = futures::future::join_all(requests).await;
    let mut ids: Vec<String> = responses
        .iter()
        .map(|r| {
            assert_eq!(r.command_status, CommandStatus::ESME_ROK);
            message_id(r)
        })
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 40);
    // Each is on the bus once, some of them batched together.
    let mut stream = cluster
        .bus
        .jetstream()
        .get_stream(StreamKind::Mt.name())
        .await
        .unwrap();
    assert!((1..=40).contains(&stream.info().await.unwrap().state.messages));
    let consumer = cluster
        .bus
        .consumer(herald_bus::ConsumerSpec::routers())
        .await
        .unwrap();
    let mut deliveries = consumer.messages(64).await.unwrap();
    let mut on_bus = Vec::new();
    while on_bus.len() < 40 {
        let delivery = tokio::time::timeout(PATIENCE, deliveries.next())
            .await
            .expect("every accepted message is on the bus")
            .unwrap()
            .unwrap();
        on_bus.push(delivery.header("Herald-Msg-Id").unwrap().to_owned());
    }
    on_bus.sort();
    assert_eq!(on_bus, ids);
}

#[tokio::test]
async fn bad_input_gets_the_status_that_names_it_and_the_session_goes_on() {
    let cluster = cluster().await;
    let (session, _inbox) = esme(cluster.port, BindMode::Transceiver, "acme", "secret")
        .await
        .unwrap();
    let status_of = |body| {
        let session = session.clone();
        async move { session.request(body).await.unwrap().command_status }
    };
    let mut sm = SubmitSm {
        source: Address::alphanumeric("ACME"),
        dest: Address::new(Ton::ALPHANUMERIC, Npi::UNKNOWN, COctetString::from("bob")),
        short_message: Bytes::from_static(b"x"),
        ..SubmitSm::default()
    };
    assert_eq!(
        status_of(PduBody::SubmitSm(sm.clone())).await,
        CommandStatus::ESME_RINVDSTADR
    );
    // No route takes French numbers in this cluster.
    sm.dest = Address::international("33612345678");
    assert_eq!(
        status_of(PduBody::SubmitSm(sm.clone())).await,
        CommandStatus::ESME_RINVDSTADR
    );
    sm.dest = Address::international("447700900001");
    sm.source = Address::alphanumeric("EVIL");
    assert_eq!(
        status_of(PduBody::SubmitSm(sm.clone())).await,
        CommandStatus::ESME_RINVSRCADR
    );
    sm.source = Address::alphanumeric("ACME");
    sm.validity_period = COctetString::from("garbage");
    assert_eq!(
        status_of(PduBody::SubmitSm(sm.clone())).await,
        CommandStatus::ESME_RINVEXPIRY
    );
    // An operation the edge does not offer: generic_nack, and the session carries on.
    let mut broadcast = BroadcastSm::default();
    broadcast
        .tlvs
        .push(Tlv::new(Tag::BROADCAST_AREA_IDENTIFIER, &[0, 0x44][..]));
    broadcast
        .tlvs
        .push(Tlv::new(Tag::BROADCAST_CONTENT_TYPE, &[0, 0, 0][..]));
    broadcast.tlvs.push(Tlv::u16(Tag::BROADCAST_REP_NUM, 1));
    broadcast.tlvs.push(Tlv::new(
        Tag::BROADCAST_FREQUENCY_INTERVAL,
        &[0x09, 0, 1][..],
    ));
    let nack = session
        .request(PduBody::BroadcastSm(broadcast))
        .await
        .unwrap();
    assert_eq!(nack.command_id(), herald_smpp::CommandId::GenericNack);
    assert_eq!(nack.command_status, CommandStatus::ESME_RINVCMDID);
    assert_eq!(
        status_of(submit("447700900001")).await,
        CommandStatus::ESME_ROK
    );
}

#[tokio::test]
async fn receipts_reach_a_bound_receiver_and_are_acked_after_its_answer() {
    let cluster = cluster().await;
    // The receipt is on the bus before anyone binds: it waits.
    let receipt = Receipt {
        message_id: "01JD00000000000000AB".into(),
        account_id: "acme".into(),
        state: bus::MessageState::Delivered.into(),
        source: Some(bus::Address {
            addr: "ACME".into(),
            ton: 5,
            npi: 0,
        }),
        destination: Some(bus::Address {
            addr: "447700900001".into(),
            ton: 1,
            npi: 1,
        }),
        submit_unix_ms: 1_764_115_200_000,
        done_unix_ms: 1_764_115_205_000,
        ..Default::default()
    };
    let event = Event {
        kind: Some(event::Kind::Receipt(receipt)),
    };
    cluster
        .bus
        .publisher()
        .publish_acked(Outgoing::event("acme", "dlr-1", &event))
        .await
        .unwrap();

    let (_session, mut inbox) = esme(cluster.port, BindMode::Receiver, "acme", "secret")
        .await
        .unwrap();
    let inbound = tokio::time::timeout(PATIENCE, inbox.recv())
        .await
        .unwrap()
        .unwrap();
    let PduBody::DeliverSm(sm) = &inbound.pdu.body else {
        panic!("expected deliver_sm, got {:?}", inbound.pdu.body);
    };
    assert!(sm.esm_class.is_receipt());
    assert_eq!(sm.source.addr.to_string_lossy(), "447700900001");
    assert_eq!(sm.dest.addr.to_string_lossy(), "ACME");
    let tlvs = ReceiptTlvs::from_tlvs(&sm.tlvs).unwrap();
    assert_eq!(
        tlvs.receipted_message_id.as_deref(),
        Some("01JD00000000000000AB")
    );
    assert_eq!(tlvs.message_state, Some(MessageState::Delivered));
    let text = String::from_utf8(sm.short_message.to_vec()).unwrap();
    assert!(
        text.starts_with("id:01JD00000000000000AB sub:001 dlvrd:001"),
        "{text}"
    );
    assert!(text.contains("stat:DELIVRD"), "{text}");
    inbound.responder.respond(
        PduBody::DeliverSmResp(MessageIdResp::default()),
        CommandStatus::ESME_ROK,
    );

    // Acked: the account's consumer has nothing left.
    let stream = cluster
        .bus
        .jetstream()
        .get_stream(StreamKind::Events.name())
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let mut consumer: async_nats::jetstream::consumer::PullConsumer =
            stream.get_consumer("account-acme").await.unwrap();
        let info = consumer.info().await.unwrap();
        if info.num_pending == 0 && info.num_ack_pending == 0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "receipt never acked: {info:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_final_receipt_delivered_once_is_not_delivered_again() {
    // After a bus outage or a connector crash the same final receipt can be on the bus
    // twice (in two batches, under two ids): the ESME gets it once; the repeat is acked.
    let cluster = cluster().await;
    let receipt = |state: bus::MessageState| Event {
        kind: Some(event::Kind::Receipt(Receipt {
            message_id: "01JD00000000000000CD".into(),
            account_id: "acme".into(),
            state: state.into(),
            ..Default::default()
        })),
    };
    let publisher = cluster.bus.publisher();
    for (id, state) in [
        ("dlr-a", bus::MessageState::Enroute),
        ("dlr-b", bus::MessageState::Delivered),
        ("dlr-c", bus::MessageState::Delivered),
    ] {
        publisher
            .publish_acked(Outgoing::event("acme", id, &receipt(state)))
            .await
            .unwrap();
    }
    let (_session, mut inbox) = esme(cluster.port, BindMode::Receiver, "acme", "secret")
        .await
        .unwrap();
    let mut states = Vec::new();
    while let Ok(Some(inbound)) = tokio::time::timeout(Duration::from_secs(3), inbox.recv()).await {
        let PduBody::DeliverSm(sm) = &inbound.pdu.body else {
            panic!("expected deliver_sm, got {:?}", inbound.pdu.body);
        };
        states.push(ReceiptTlvs::from_tlvs(&sm.tlvs).unwrap().message_state);
        inbound.responder.respond(
            PduBody::DeliverSmResp(MessageIdResp::default()),
            CommandStatus::ESME_ROK,
        );
    }
    assert_eq!(
        states,
        [Some(MessageState::Enroute), Some(MessageState::Delivered)],
        "the intermediate and one final"
    );
}

#[tokio::test]
async fn an_event_replayed_to_the_webhook_alone_is_not_sent_to_smpp_receivers() {
    let cluster = cluster().await;
    let receipt = |id: &str| Event {
        kind: Some(event::Kind::Receipt(Receipt {
            message_id: id.into(),
            account_id: "acme".into(),
            state: bus::MessageState::Delivered.into(),
            ..Default::default()
        })),
    };
    let publisher = cluster.bus.publisher();
    let replayed = Outgoing::new(
        herald_bus::subject::webhook_replay("acme", "dlr"),
        "replayed",
        herald_bus::publish::encode(&receipt("01JD00000000000000R1")),
    );
    publisher.publish_acked(replayed).await.unwrap();
    publisher
        .publish_acked(Outgoing::event(
            "acme",
            "dlr-n",
            &receipt("01JD00000000000000N1"),
        ))
        .await
        .unwrap();
    let (_session, mut inbox) = esme(cluster.port, BindMode::Receiver, "acme", "secret")
        .await
        .unwrap();
    let mut ids = Vec::new();
    while let Ok(Some(inbound)) = tokio::time::timeout(Duration::from_secs(3), inbox.recv()).await {
        let PduBody::DeliverSm(sm) = &inbound.pdu.body else {
            panic!("expected deliver_sm, got {:?}", inbound.pdu.body);
        };
        ids.push(
            ReceiptTlvs::from_tlvs(&sm.tlvs)
                .unwrap()
                .receipted_message_id,
        );
        inbound.responder.respond(
            PduBody::DeliverSmResp(MessageIdResp::default()),
            CommandStatus::ESME_ROK,
        );
    }
    assert_eq!(ids, [Some("01JD00000000000000N1".to_owned())]);
    // And it was acked, not left waiting for a session.
    let events = cluster
        .bus
        .jetstream()
        .get_stream(StreamKind::Events.name())
        .await
        .unwrap();
    let consumer = events.consumer_info("account-acme").await.unwrap();
    assert_eq!(consumer.num_ack_pending + consumer.num_pending as usize, 0);
}

#[tokio::test]
async fn a_receipt_the_esme_refuses_for_now_comes_again() {
    let cluster = cluster().await;
    let event = Event {
        kind: Some(event::Kind::Receipt(Receipt {
            message_id: "01JD00000000000000CD".into(),
            account_id: "acme".into(),
            state: bus::MessageState::Undeliverable.into(),
            ..Default::default()
        })),
    };
    let (_session, mut inbox) = esme(cluster.port, BindMode::Transceiver, "acme", "secret")
        .await
        .unwrap();
    cluster
        .bus
        .publisher()
        .publish_acked(Outgoing::event("acme", "dlr-2", &event))
        .await
        .unwrap();
    let first = tokio::time::timeout(PATIENCE, inbox.recv())
        .await
        .unwrap()
        .unwrap();
    first.responder.respond(
        PduBody::DeliverSmResp(MessageIdResp::default()),
        CommandStatus::ESME_RX_T_APPN,
    );
    let second = tokio::time::timeout(PATIENCE, inbox.recv())
        .await
        .unwrap()
        .unwrap();
    let PduBody::DeliverSm(sm) = &second.pdu.body else {
        panic!("{:?}", second.pdu.body)
    };
    let tlvs = ReceiptTlvs::from_tlvs(&sm.tlvs).unwrap();
    assert_eq!(
        tlvs.receipted_message_id.as_deref(),
        Some("01JD00000000000000CD")
    );
    assert_eq!(tlvs.message_state, Some(MessageState::Undeliverable));
}

#[tokio::test]
async fn with_the_bus_down_submits_fail_promptly_and_never_hang() {
    let mut cluster = cluster().await;
    let (session, _inbox) = esme(cluster.port, BindMode::Transmitter, "acme", "secret")
        .await
        .unwrap();
    assert_eq!(
        session
            .request(submit("447700900001"))
            .await
            .unwrap()
            .command_status,
        CommandStatus::ESME_ROK
    );
    cluster.backing.nats.kill().await;
    // Each answer comes after the publish hold (2 s here) and one more ack wait; none is OK.
    for _ in 0..3 {
        let resp = tokio::time::timeout(
            Duration::from_secs(15),
            session.request(submit("447700900001")),
        )
        .await
        .expect("an answer, not a hang")
        .unwrap();
        assert!(
            matches!(
                resp.command_status,
                CommandStatus::ESME_RSYSERR | CommandStatus::ESME_RMSGQFUL
            ),
            "{}",
            resp.command_status
        );
    }
}

/// The first `count` messages the edges put on the bus for the routers, acked.
async fn accepted_mts(bus: &Bus, count: usize) -> Vec<MtMessage> {
    accepted_in(bus, ConsumerSpec::routers(), count).await
}

/// The next `count` envelopes the routers' consumer `spec` (one lane's) takes, acked.
async fn accepted_in(bus: &Bus, spec: ConsumerSpec, count: usize) -> Vec<MtMessage> {
    let consumer = bus.consumer(spec).await.unwrap();
    let mut deliveries = consumer.messages(8).await.unwrap();
    let mut mts = Vec::new();
    while mts.len() < count {
        let delivery = tokio::time::timeout(PATIENCE, deliveries.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        mts.push(delivery.decode().unwrap());
        delivery.ack().await.unwrap();
    }
    mts
}

/// Every accepted envelope on the bus that `keep` keeps, counted by the second (Unix) it
/// was accepted in; and the counts of the whole seconds (the first and last were only
/// partly offered).
async fn accepted_per_whole_second(
    bus: &Bus,
    keep: impl Fn(&MtMessage) -> bool,
) -> (std::collections::BTreeMap<i64, u32>, Vec<u32>) {
    let consumer = bus.consumer(ConsumerSpec::routers()).await.unwrap();
    let mut deliveries = consumer.messages(256).await.unwrap();
    let mut per_second = std::collections::BTreeMap::<i64, u32>::new();
    while let Ok(Some(Ok(delivery))) =
        tokio::time::timeout(Duration::from_secs(2), deliveries.next()).await
    {
        let mt: MtMessage = delivery.decode().unwrap();
        if keep(&mt) {
            *per_second.entry(mt.accepted_unix_ms / 1000).or_default() += 1;
        }
        delivery.ack().await.unwrap();
    }
    let mut whole: Vec<u32> = per_second.values().copied().skip(1).collect();
    whole.pop();
    (per_second, whole)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_accounts_rate_holds_across_edges() {
    let mut cluster = cluster().await;
    let second_edge = cluster.another_edge().await;
    // One session on each edge, each offering far more than the account's 100/s.
    let mut offered = Vec::new();
    for port in [cluster.port, second_edge] {
        let (session, _inbox) = esme(port, BindMode::Transmitter, "metered", "secret")
            .await
            .unwrap();
        offered.push(tokio::spawn(async move {
            let until = tokio::time::Instant::now() + Duration::from_millis(4500);
            let mut throttled = 0u32;
            while tokio::time::Instant::now() < until {
                let burst = (0..20).map(|_| session.request(submit("447700900001")));
                for resp in futures::future::join_all(burst).await {
                    if resp.unwrap().command_status == CommandStatus::ESME_RTHROTTLED {
                        throttled += 1;
                    }
                }
            }
            throttled
        }));
    }
    let mut throttled = 0;
    for task in offered {
        throttled += task.await.unwrap();
    }
    assert!(throttled > 0, "the offered load was over the limit");

    // Count what was accepted in each whole second, from the envelopes themselves.
    let (per_second, whole) = accepted_per_whole_second(&cluster.bus, |_| true).await;
    assert!(whole.len() >= 2, "{per_second:?}");
    for &count in &whole {
        assert!(
            (90..=100).contains(&count),
            "within 10% of 100/s each second: {per_second:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_routes_quota_holds_across_edges_and_accounts_and_spares_other_routes() {
    let mut cluster = cluster().await;
    let second_edge = cluster.another_edge().await;
    // Two accounts on two edges, each offering far more than the capped route's 20/s,
    // and a message to another route now and then, which the cap must not touch.
    let mut offered = Vec::new();
    for (port, account) in [(cluster.port, "acme"), (second_edge, "metered")] {
        let (session, _inbox) = esme(port, BindMode::Transmitter, account, "secret")
            .await
            .unwrap();
        offered.push(tokio::spawn(async move {
            let until = tokio::time::Instant::now() + Duration::from_millis(3500);
            let (mut capped_throttled, mut other_throttled) = (0u32, 0u32);
            while tokio::time::Instant::now() < until {
                let burst = (0..10).map(|_| session.request(submit("447900900001")));
                for resp in futures::future::join_all(burst).await {
                    if resp.unwrap().command_status == CommandStatus::ESME_RTHROTTLED {
                        capped_throttled += 1;
                    }
                }
                let other = session.request(submit("447700900001")).await.unwrap();
                if other.command_status != CommandStatus::ESME_ROK {
                    other_throttled += 1;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            (capped_throttled, other_throttled)
        }));
    }
    for task in offered {
        let (capped, other) = task.await.unwrap();
        assert!(capped > 0, "the offered load was over the route's limit");
        assert_eq!(other, 0, "another route's messages are not held to the cap");
    }

    // What the capped route took, per whole second, from the envelopes themselves.
    let capped = |mt: &MtMessage| {
        mt.destination
            .as_ref()
            .is_some_and(|d| d.addr.starts_with("4479"))
    };
    let (per_second, whole) = accepted_per_whole_second(&cluster.bus, capped).await;
    assert!(!whole.is_empty(), "{per_second:?}");
    for &count in &whole {
        assert!(
            count <= 20,
            "at most the route's 20/s each second: {per_second:?}"
        );
        assert!(count >= 15, "and close to it, not starved: {per_second:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_accounts_bind_limit_holds_across_edges() {
    let mut cluster = cluster().await;
    let client = cluster.backing.rules.clone();
    let mut ports = Vec::new();
    for node in ["edge-a", "edge-b"] {
        let registration = client
            .register_node(NodeInfo::new("edge", node, "test"), Duration::from_secs(5))
            .await
            .unwrap();
        let slots = SessionSlots::new(
            client.etcd_client(),
            "/herald/v1/",
            std::sync::Arc::new(registration),
            node,
        );
        let (port, stop) = start_edge(&cluster.bus, &cluster.backing, Some(slots)).await;
        cluster._stop.push(stop);
        ports.push(port);
    }
    // acme may hold 3 binds: two on one edge, one on the other.
    let mut held = Vec::new();
    for port in [ports[0], ports[0], ports[1]] {
        held.push(
            esme(port, BindMode::Transmitter, "acme", "secret")
                .await
                .unwrap(),
        );
    }
    for port in [ports[0], ports[1]] {
        let over = esme(port, BindMode::Transmitter, "acme", "secret").await;
        assert!(
            matches!(
                over,
                Err(BindError::Rejected(CommandStatus::ESME_RBINDFAIL))
            ),
            "a fourth bind anywhere is refused"
        );
    }
    // A session on the first edge ends; the other edge may now take its slot.
    held.remove(0).0.unbind().await;
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        match esme(ports[1], BindMode::Transmitter, "acme", "secret").await {
            Ok(session) => {
                held.push(session);
                break;
            }
            Err(_) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(err) => panic!("the freed slot never became available: {err:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipts_go_to_their_own_account_on_whichever_edge_holds_it() {
    let mut cluster = cluster().await;
    let second_edge = cluster.another_edge().await;
    // acme is bound on both edges, metered on the second only.
    let (_a1, acme_first) = esme(cluster.port, BindMode::Receiver, "acme", "secret")
        .await
        .unwrap();
    let (_a2, acme_second) = esme(second_edge, BindMode::Transceiver, "acme", "secret")
        .await
        .unwrap();
    let (_m, metered) = esme(second_edge, BindMode::Receiver, "metered", "secret")
        .await
        .unwrap();

    let publisher = cluster.bus.publisher();
    let receipt = |account: &str, id: String| Event {
        kind: Some(event::Kind::Receipt(Receipt {
            message_id: id,
            account_id: account.into(),
            state: bus::MessageState::Delivered.into(),
            ..Default::default()
        })),
    };
    let mut expected_acme = std::collections::HashSet::new();
    for i in 0..20 {
        let id = format!("ACME{i:016}");
        publisher
            .publish_acked(Outgoing::event(
                "acme",
                id.clone(),
                &receipt("acme", id.clone()),
            ))
            .await
            .unwrap();
        expected_acme.insert(id);
        let id = format!("METE{i:016}");
        publisher
            .publish_acked(Outgoing::event(
                "metered",
                id.clone(),
                &receipt("metered", id),
            ))
            .await
            .unwrap();
    }

    // Drain the three inboxes, answering OK, until acme's 20 and metered's 20 are in.
    let received_acme = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let received_metered = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let answer = |mut inbox: Inbox, into: std::sync::Arc<std::sync::Mutex<Vec<String>>>| async move {
        while let Some(inbound) = inbox.recv().await {
            if let PduBody::DeliverSm(sm) = &inbound.pdu.body {
                let tlvs = ReceiptTlvs::from_tlvs(&sm.tlvs).unwrap();
                into.lock()
                    .unwrap()
                    .push(tlvs.receipted_message_id.unwrap());
            }
            inbound.responder.respond(
                PduBody::DeliverSmResp(MessageIdResp::default()),
                CommandStatus::ESME_ROK,
            );
        }
    };
    tokio::spawn(answer(acme_first, received_acme.clone()));
    tokio::spawn(answer(acme_second, received_acme.clone()));
    tokio::spawn(answer(metered, received_metered.clone()));
    eventually_sync("20 receipts each for acme and metered", || {
        received_acme.lock().unwrap().len() >= 20 && received_metered.lock().unwrap().len() >= 20
    })
    .await;
    let acme: std::collections::HashSet<String> =
        received_acme.lock().unwrap().iter().cloned().collect();
    assert_eq!(
        acme, expected_acme,
        "every acme receipt, and only acme's, reached acme"
    );
    assert!(
        received_metered
            .lock()
            .unwrap()
            .iter()
            .all(|id| id.starts_with("METE"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_etcd_stopped_sessions_keep_submitting_and_known_accounts_still_bind() {
    let mut cluster = cluster().await;
    let (session, _inbox) = esme(cluster.port, BindMode::Transmitter, "acme", "secret")
        .await
        .unwrap();
    cluster.backing.etcd.kill().await;
    let resp = session.request(submit("447700900001")).await.unwrap();
    assert_eq!(resp.command_status, CommandStatus::ESME_ROK);
    let (again, _inbox) = esme(cluster.port, BindMode::Transmitter, "acme", "secret")
        .await
        .unwrap();
    let resp = again.request(submit("447700900002")).await.unwrap();
    assert_eq!(resp.command_status, CommandStatus::ESME_ROK);
    let unknown = esme(cluster.port, BindMode::Transmitter, "nobody", "secret").await;
    assert!(matches!(
        unknown,
        Err(BindError::Rejected(CommandStatus::ESME_RINVPASWD))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_given_just_before_an_unbind_still_ack_their_receipts() {
    let cluster = cluster().await;
    let publisher = cluster.bus.publisher();
    for i in 0..5 {
        let id = format!("LAST{i:016}");
        let event = Event {
            kind: Some(event::Kind::Receipt(Receipt {
                message_id: id.clone(),
                account_id: "acme".into(),
                state: bus::MessageState::Delivered.into(),
                ..Default::default()
            })),
        };
        publisher
            .publish_acked(Outgoing::event("acme", id, &event))
            .await
            .unwrap();
    }
    let (session, mut inbox) = esme(cluster.port, BindMode::Receiver, "acme", "secret")
        .await
        .unwrap();
    for _ in 0..5 {
        let inbound = tokio::time::timeout(PATIENCE, inbox.recv())
            .await
            .unwrap()
            .unwrap();
        inbound.responder.respond(
            PduBody::DeliverSmResp(MessageIdResp::default()),
            CommandStatus::ESME_ROK,
        );
    }
    // Unbind at once: the edge must still count those five answers.
    session.unbind().await;
    let stream = cluster
        .bus
        .jetstream()
        .get_stream(StreamKind::Events.name())
        .await
        .unwrap();
    // Well inside the consumer's 30 s ack wait, after which an unacked one would return.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let mut consumer: async_nats::jetstream::consumer::PullConsumer =
            stream.get_consumer("account-acme").await.unwrap();
        let info = consumer.info().await.unwrap();
        if info.num_pending == 0 && info.num_ack_pending == 0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "answered receipts left unacked: {info:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipts_older_than_the_accounts_retention_are_dropped_not_delivered_late() {
    let cluster = cluster().await;
    let brief = json!({ "quota": { "tps": 100 }, "receipt_retention": "1s" });
    seed::account(&cluster.backing.rules, "brief", "secret", brief).await;
    let receipt = |id: &str| Event {
        kind: Some(event::Kind::Receipt(Receipt {
            message_id: id.into(),
            account_id: "brief".into(),
            state: bus::MessageState::Delivered.into(),
            ..Default::default()
        })),
    };
    let publisher = cluster.bus.publisher();
    publisher
        .publish_acked(Outgoing::event("brief", "stale", &receipt("STALE")))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let mut bound = None;
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while bound.is_none() {
        // The edge's snapshot may not have the new account yet.
        match esme(cluster.port, BindMode::Receiver, "brief", "secret").await {
            Ok(session) => bound = Some(session),
            Err(_) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(err) => panic!("{err:?}"),
        }
    }
    let (_session, mut inbox) = bound.unwrap();
    publisher
        .publish_acked(Outgoing::event("brief", "fresh", &receipt("FRESH")))
        .await
        .unwrap();
    let inbound = tokio::time::timeout(PATIENCE, inbox.recv())
        .await
        .unwrap()
        .unwrap();
    let PduBody::DeliverSm(sm) = &inbound.pdu.body else {
        panic!("{:?}", inbound.pdu.body)
    };
    let tlvs = ReceiptTlvs::from_tlvs(&sm.tlvs).unwrap();
    assert_eq!(
        tlvs.receipted_message_id.as_deref(),
        Some("FRESH"),
        "the stale one was dropped"
    );
    inbound.responder.respond(
        PduBody::DeliverSmResp(MessageIdResp::default()),
        CommandStatus::ESME_ROK,
    );
    let more = tokio::time::timeout(Duration::from_secs(2), inbox.recv()).await;
    assert!(more.is_err(), "nothing else comes: {more:?}");
}
