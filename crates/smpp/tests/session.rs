//! The session engine against a scripted raw peer, over an in-memory duplex pipe, with
//! paused time: every timer (bind, response, enquire_link, inactivity, unbind) is exercised
//! by the clock advancing, not by real sleeps.
#![cfg(feature = "session")]
#![allow(clippy::unwrap_used, reason = "a test fails by panicking")]

use std::time::Duration;

use bytes::BytesMut;
use herald_smpp::pdu::{Bind, BindResp, MessageIdResp, SubmitSm};
use herald_smpp::session::{
    self, BindError, BindMode, CloseReason, InboundOverflow, SessionConfig, SessionError,
    SessionState,
};
use herald_smpp::{Address, CommandId, CommandStatus, Framer, Pdu, PduBody};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream, duplex};
use tokio::time::{Instant, timeout};

/// A peer that speaks raw PDUs, so tests control every byte the session sees.
struct RawPeer {
    io: DuplexStream,
    buf: BytesMut,
}

impl RawPeer {
    async fn send(&mut self, pdu: Pdu) {
        self.io.write_all(&pdu.to_bytes().unwrap()).await.unwrap();
    }

    async fn send_raw(&mut self, bytes: &[u8]) {
        self.io.write_all(bytes).await.unwrap();
    }

    /// The next PDU, or `None` when the session closed the connection.
    async fn recv(&mut self) -> Option<Pdu> {
        let framer = Framer::default();
        loop {
            if let Some(frame) = framer.next_frame(&mut self.buf).unwrap() {
                return Some(Pdu::decode(frame).unwrap());
            }
            if self.io.read_buf(&mut self.buf).await.unwrap() == 0 {
                return None;
            }
        }
    }

    /// Asserts nothing arrives within `d` of (virtual) time.
    async fn expect_silence(&mut self, d: Duration) {
        if let Ok(pdu) = timeout(d, self.recv()).await {
            panic!("expected silence, got {pdu:?}");
        }
    }
}

fn pipe() -> (DuplexStream, RawPeer) {
    let (a, b) = duplex(64 * 1024);
    (
        a,
        RawPeer {
            io: b,
            buf: BytesMut::new(),
        },
    )
}

fn bind_body(mode: BindMode) -> PduBody {
    let bind = Bind {
        system_id: "esme".into(),
        password: "secret".into(),
        ..Bind::default()
    };
    match mode {
        BindMode::Transmitter => PduBody::BindTransmitter(bind),
        BindMode::Receiver => PduBody::BindReceiver(bind),
        BindMode::Transceiver => PduBody::BindTransceiver(bind),
    }
}

fn submit(dest: &str) -> PduBody {
    PduBody::SubmitSm(SubmitSm {
        source: Address::alphanumeric("Herald"),
        dest: Address::international(dest),
        short_message: bytes::Bytes::from_static(b"hello"),
        ..SubmitSm::default()
    })
}

fn submit_resp(id: &str) -> PduBody {
    PduBody::SubmitSmResp(MessageIdResp::new(id))
}

/// An SMSC-side session bound in `mode`, with the raw peer acting as the ESME.
async fn smsc_session(
    mode: BindMode,
    config: SessionConfig,
) -> (session::Session, session::Inbox, RawPeer) {
    let (io, mut peer) = pipe();
    let accepting = tokio::spawn(session::accept(io, config));
    peer.send(Pdu::new(1, bind_body(mode))).await;
    let request = accepting.await.unwrap().unwrap();
    assert_eq!(request.mode, mode);
    assert_eq!(request.bind.system_id, "esme");
    let (session, inbox) = request.accept("herald").await.unwrap();
    let resp = peer.recv().await.unwrap();
    assert_eq!(resp.command_id(), mode.bind_command().response().unwrap());
    assert_eq!(resp.sequence_number, 1);
    assert!(resp.command_status.is_ok());
    (session, inbox, peer)
}

/// An ESME-side session bound in `mode`, with the raw peer acting as the SMSC.
async fn esme_session(
    mode: BindMode,
    config: SessionConfig,
) -> (session::Session, session::Inbox, RawPeer) {
    let (io, mut peer) = pipe();
    let bind = Bind {
        system_id: "herald".into(),
        password: "pw".into(),
        ..Bind::default()
    };
    let binding = tokio::spawn(session::bind(io, config, mode, bind));
    let req = peer.recv().await.unwrap();
    assert_eq!(req.command_id(), mode.bind_command());
    let resp = match mode {
        BindMode::Transmitter => PduBody::BindTransmitterResp(BindResp::new("smsc", 0x34)),
        BindMode::Receiver => PduBody::BindReceiverResp(BindResp::new("smsc", 0x34)),
        BindMode::Transceiver => PduBody::BindTransceiverResp(BindResp::new("smsc", 0x34)),
    };
    peer.send(Pdu::new(req.sequence_number, resp)).await;
    let (session, inbox, resp) = binding.await.unwrap().unwrap();
    assert_eq!(resp.sc_interface_version(), Some(0x34));
    (session, inbox, peer)
}

#[tokio::test(start_paused = true)]
async fn submit_is_forwarded_and_answered_with_the_same_sequence() {
    let (session, mut inbox, mut peer) =
        smsc_session(BindMode::Transceiver, SessionConfig::default()).await;
    assert_eq!(session.state(), SessionState::Bound(BindMode::Transceiver));
    peer.send(Pdu::new(7, submit("447700900001"))).await;
    let inbound = inbox.recv().await.unwrap();
    assert_eq!(inbound.pdu.command_id(), CommandId::SubmitSm);
    inbound
        .responder
        .respond(submit_resp("m-1"), CommandStatus::ESME_ROK);
    let resp = peer.recv().await.unwrap();
    assert_eq!(resp.sequence_number, 7);
    assert_eq!(resp.body, submit_resp("m-1"));
}

#[tokio::test(start_paused = true)]
async fn esme_request_gets_its_response_and_sequences_increase() {
    let (session, _inbox, mut peer) =
        esme_session(BindMode::Transmitter, SessionConfig::default()).await;
    let s = session.clone();
    let call = tokio::spawn(async move { s.request(submit("1")).await });
    let req = peer.recv().await.unwrap();
    assert_eq!(req.sequence_number, 2, "the bind used 1");
    peer.send(Pdu::new(2, submit_resp("abc"))).await;
    let resp = call.await.unwrap().unwrap();
    assert_eq!(resp.body, submit_resp("abc"));
}

#[tokio::test(start_paused = true)]
async fn operation_matrix_is_enforced_both_ways() {
    // An ESME bound as receiver may not submit: answered ESME_RINVBNDSTS, session carries on.
    let (session, _inbox, mut peer) =
        smsc_session(BindMode::Receiver, SessionConfig::default()).await;
    peer.send(Pdu::new(3, submit("1"))).await;
    let resp = peer.recv().await.unwrap();
    assert_eq!(resp.command_id(), CommandId::SubmitSmResp);
    assert_eq!(resp.sequence_number, 3);
    assert_eq!(resp.command_status, CommandStatus::ESME_RINVBNDSTS);
    // A second bind while bound: ESME_RALYBND.
    peer.send(Pdu::new(4, bind_body(BindMode::Transceiver)))
        .await;
    let resp = peer.recv().await.unwrap();
    assert_eq!(resp.command_id(), CommandId::BindTransceiverResp);
    assert_eq!(resp.command_status, CommandStatus::ESME_RALYBND);
    // And locally: the SMSC may not send submit_sm to its ESME.
    assert!(matches!(
        session.request(submit("1")).await,
        Err(SessionError::NotAllowed(CommandId::SubmitSm, _))
    ));
    assert_eq!(session.state(), SessionState::Bound(BindMode::Receiver));
}

#[tokio::test(start_paused = true)]
async fn unknown_and_malformed_pdus_are_answered_and_the_session_carries_on() {
    let (_session, mut inbox, mut peer) =
        smsc_session(BindMode::Transceiver, SessionConfig::default()).await;
    // Unknown command id 0x00000099.
    peer.send_raw(&[0, 0, 0, 16, 0, 0, 0, 0x99, 0, 0, 0, 0, 0, 0, 0, 5])
        .await;
    let nack = peer.recv().await.unwrap();
    assert_eq!(nack.command_id(), CommandId::GenericNack);
    assert_eq!(nack.command_status, CommandStatus::ESME_RINVCMDID);
    assert_eq!(nack.sequence_number, 5);
    // A submit_sm whose body stops inside service_type (no NUL): its own resp, RINVCMDLEN.
    peer.send_raw(&[0, 0, 0, 18, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 6, b'A', b'B'])
        .await;
    let resp = peer.recv().await.unwrap();
    assert_eq!(resp.command_id(), CommandId::SubmitSmResp);
    assert_eq!(resp.command_status, CommandStatus::ESME_RINVCMDLEN);
    assert_eq!(resp.sequence_number, 6);
    // Still alive: enquire_link answered, submits still flow.
    peer.send(Pdu::new(8, PduBody::EnquireLink)).await;
    let resp = peer.recv().await.unwrap();
    assert_eq!(
        (resp.command_id(), resp.sequence_number),
        (CommandId::EnquireLinkResp, 8)
    );
    peer.send(Pdu::new(9, submit("1"))).await;
    assert_eq!(inbox.recv().await.unwrap().pdu.sequence_number, 9);
}

#[tokio::test(start_paused = true)]
async fn framing_error_nacks_and_closes() {
    let (session, _inbox, mut peer) =
        smsc_session(BindMode::Transceiver, SessionConfig::default()).await;
    peer.send_raw(&[0, 0, 0, 8, 0, 0, 0, 4]).await; // command_length 8 < 16
    let nack = peer.recv().await.unwrap();
    assert_eq!(nack.command_id(), CommandId::GenericNack);
    assert_eq!(nack.command_status, CommandStatus::ESME_RINVCMDLEN);
    assert!(peer.recv().await.is_none(), "connection closed");
    assert!(matches!(session.closed().await, CloseReason::Framing(_)));
}

#[tokio::test(start_paused = true)]
async fn unanswered_request_times_out_and_frees_its_window_slot() {
    let config = SessionConfig {
        window: 1,
        response_timeout: Duration::from_secs(5),
        ..Default::default()
    };
    let (session, _inbox, mut peer) = esme_session(BindMode::Transmitter, config).await;
    let started = Instant::now();
    let s = session.clone();
    let first = tokio::spawn(async move { s.request(submit("1")).await });
    assert_eq!(peer.recv().await.unwrap().command_id(), CommandId::SubmitSm);
    let s = session.clone();
    let second = tokio::spawn(async move { s.request(submit("2")).await });
    // The window holds one: the second waits until the first times out.
    assert_eq!(
        first.await.unwrap(),
        Err(SessionError::Timeout(Duration::from_secs(5)))
    );
    assert!(started.elapsed() >= Duration::from_secs(5));
    let req = peer.recv().await.unwrap();
    assert_eq!(req.command_id(), CommandId::SubmitSm);
    assert_eq!(
        started.elapsed(),
        Duration::from_secs(5),
        "sent as soon as the slot freed"
    );
    peer.send(Pdu::new(req.sequence_number, submit_resp("x")))
        .await;
    assert!(second.await.unwrap().unwrap().command_status.is_ok());
    // A late response to the timed-out request is ignored, not misdelivered.
    peer.send(Pdu::new(2, submit_resp("late"))).await;
    let s = session.clone();
    let third = tokio::spawn(async move { s.request(submit("3")).await });
    let req = peer.recv().await.unwrap();
    peer.send(Pdu::new(req.sequence_number, submit_resp("third")))
        .await;
    assert_eq!(third.await.unwrap().unwrap().body, submit_resp("third"));
}

#[tokio::test(start_paused = true)]
async fn window_limits_requests_in_flight() {
    let config = SessionConfig {
        window: 3,
        ..Default::default()
    };
    let (session, _inbox, mut peer) = esme_session(BindMode::Transmitter, config).await;
    let mut calls = Vec::new();
    for i in 0..5 {
        let s = session.clone();
        calls.push(tokio::spawn(async move {
            s.request(submit(&i.to_string())).await
        }));
    }
    let mut seen = Vec::new();
    for _ in 0..3 {
        seen.push(peer.recv().await.unwrap().sequence_number);
    }
    peer.expect_silence(Duration::from_secs(1)).await;
    // Answer one: exactly one more is sent.
    peer.send(Pdu::new(seen[0], submit_resp("a"))).await;
    seen.push(peer.recv().await.unwrap().sequence_number);
    peer.expect_silence(Duration::from_secs(1)).await;
    for &seq in &seen[1..] {
        peer.send(Pdu::new(seq, submit_resp("b"))).await;
    }
    let last = peer.recv().await.unwrap().sequence_number;
    peer.send(Pdu::new(last, submit_resp("c"))).await;
    for call in calls {
        assert!(call.await.unwrap().unwrap().command_status.is_ok());
    }
}

#[tokio::test(start_paused = true)]
async fn idle_session_probes_with_enquire_link_and_drops_a_dead_peer() {
    let config = SessionConfig {
        enquire_link_interval: Duration::from_secs(30),
        response_timeout: Duration::from_secs(10),
        ..Default::default()
    };
    let (session, _inbox, mut peer) = esme_session(BindMode::Transceiver, config).await;
    let started = Instant::now();
    let probe = peer.recv().await.unwrap();
    assert_eq!(probe.command_id(), CommandId::EnquireLink);
    assert_eq!(started.elapsed(), Duration::from_secs(30));
    peer.send(Pdu::new(probe.sequence_number, PduBody::EnquireLinkResp))
        .await;
    // Answered: the session lives and probes again after another idle interval.
    let probe = peer.recv().await.unwrap();
    assert_eq!(probe.command_id(), CommandId::EnquireLink);
    assert_eq!(started.elapsed(), Duration::from_secs(60));
    // Not answered: dead after the response timeout.
    assert_eq!(session.closed().await, CloseReason::PeerDead);
    assert_eq!(started.elapsed(), Duration::from_secs(70));
}

#[tokio::test(start_paused = true)]
async fn traffic_from_the_peer_postpones_the_probe() {
    let config = SessionConfig {
        enquire_link_interval: Duration::from_secs(30),
        ..Default::default()
    };
    let (_session, _inbox, mut peer) = esme_session(BindMode::Transceiver, config).await;
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(20)).await;
    peer.send(Pdu::new(50, PduBody::EnquireLink)).await;
    assert_eq!(
        peer.recv().await.unwrap().command_id(),
        CommandId::EnquireLinkResp
    );
    let probe = peer.recv().await.unwrap();
    assert_eq!(probe.command_id(), CommandId::EnquireLink);
    assert_eq!(started.elapsed(), Duration::from_secs(50));
}

#[tokio::test(start_paused = true)]
async fn inactivity_timeout_unbinds() {
    let config = SessionConfig {
        inactivity_timeout: Some(Duration::from_secs(120)),
        enquire_link_interval: Duration::from_secs(30),
        ..Default::default()
    };
    let (session, _inbox, mut peer) = smsc_session(BindMode::Transceiver, config).await;
    let started = Instant::now();
    loop {
        let pdu = peer.recv().await.unwrap();
        match pdu.command_id() {
            // Keep-alives do not count as activity.
            CommandId::EnquireLink => {
                peer.send(Pdu::new(pdu.sequence_number, PduBody::EnquireLinkResp))
                    .await;
            }
            CommandId::Unbind => {
                assert_eq!(started.elapsed(), Duration::from_secs(120));
                peer.send(Pdu::new(pdu.sequence_number, PduBody::UnbindResp))
                    .await;
                break;
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(session.closed().await, CloseReason::Unbound);
    assert!(peer.recv().await.is_none());
}

#[tokio::test(start_paused = true)]
async fn unbind_handshake_between_two_engines() {
    let (esme_io, smsc_io) = duplex(64 * 1024);
    let accepting = tokio::spawn(session::accept(smsc_io, SessionConfig::default()));
    let bind = Bind {
        system_id: "esme".into(),
        ..Bind::default()
    };
    let binding = tokio::spawn(session::bind(
        esme_io,
        SessionConfig::default(),
        BindMode::Transceiver,
        bind,
    ));
    let (smsc, mut smsc_inbox) = accepting
        .await
        .unwrap()
        .unwrap()
        .accept("herald")
        .await
        .unwrap();
    let (esme, _esme_inbox, resp) = binding.await.unwrap().unwrap();
    assert_eq!(resp.system_id, "herald");
    assert_eq!(resp.sc_interface_version(), Some(0x50));
    // The ESME's submit is in flight when it unbinds: the unbind waits for its answer.
    let e = esme.clone();
    let call = tokio::spawn(async move { e.request(submit("1")).await });
    let inbound = smsc_inbox.recv().await.unwrap();
    let e = esme.clone();
    let unbind = tokio::spawn(async move { e.unbind().await });
    // The spawned unbind starts when the runtime gets to it: wait for that, not a set time.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while esme.state() != SessionState::Unbinding {
        assert!(
            tokio::time::Instant::now() < deadline,
            "never unbinding: {:?}",
            esme.state()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    inbound
        .responder
        .respond(submit_resp("1"), CommandStatus::ESME_ROK);
    assert!(call.await.unwrap().unwrap().command_status.is_ok());
    unbind.await.unwrap();
    assert_eq!(esme.close_reason(), Some(CloseReason::Unbound));
    assert_eq!(smsc.closed().await, CloseReason::PeerUnbound);
    assert!(smsc_inbox.recv().await.is_none());
    // After closing, requests fail at once.
    assert!(matches!(
        esme.request(submit("2")).await,
        Err(SessionError::Closed(_))
    ));
}

#[tokio::test(start_paused = true)]
async fn peer_unbind_waits_for_our_answers_first() {
    let (session, mut inbox, mut peer) =
        smsc_session(BindMode::Transmitter, SessionConfig::default()).await;
    peer.send(Pdu::new(2, submit("1"))).await;
    peer.send(Pdu::new(3, PduBody::Unbind)).await;
    let inbound = inbox.recv().await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    inbound
        .responder
        .respond(submit_resp("ok"), CommandStatus::ESME_ROK);
    let first = peer.recv().await.unwrap();
    assert_eq!(
        (first.command_id(), first.sequence_number),
        (CommandId::SubmitSmResp, 2)
    );
    let second = peer.recv().await.unwrap();
    assert_eq!(
        (second.command_id(), second.sequence_number),
        (CommandId::UnbindResp, 3)
    );
    assert_eq!(session.closed().await, CloseReason::PeerUnbound);
}

#[tokio::test(start_paused = true)]
async fn inbound_window_throttles_the_excess() {
    let config = SessionConfig {
        inbound_window: 2,
        ..Default::default()
    };
    let (_session, mut inbox, mut peer) = smsc_session(BindMode::Transmitter, config).await;
    for seq in 10..13 {
        peer.send(Pdu::new(seq, submit("1"))).await;
    }
    let resp = peer.recv().await.unwrap();
    assert_eq!(resp.sequence_number, 12);
    assert_eq!(resp.command_status, CommandStatus::ESME_RTHROTTLED);
    let a = inbox.recv().await.unwrap();
    let _b = inbox.recv().await.unwrap();
    // Answering one frees a slot.
    a.responder.respond_status(CommandStatus::ESME_ROK);
    assert_eq!(peer.recv().await.unwrap().sequence_number, 10);
    peer.send(Pdu::new(13, submit("1"))).await;
    assert_eq!(inbox.recv().await.unwrap().pdu.sequence_number, 13);
}

#[tokio::test(start_paused = true)]
async fn backpressure_mode_stops_reading_at_the_window() {
    let config = SessionConfig {
        inbound_window: 2,
        inbound_overflow: InboundOverflow::Backpressure,
        ..Default::default()
    };
    let (_session, mut inbox, mut peer) = esme_session(BindMode::Receiver, config).await;
    let deliver = || PduBody::DeliverSm(SubmitSm::default());
    for seq in 1..=4 {
        peer.send(Pdu::new(seq, deliver())).await;
    }
    let first = inbox.recv().await.unwrap();
    let second = inbox.recv().await.unwrap();
    // The third waits unread: nothing is throttled, nothing more is delivered.
    assert!(timeout(Duration::from_secs(5), inbox.recv()).await.is_err());
    first.responder.respond_status(CommandStatus::ESME_ROK);
    let third = inbox.recv().await.unwrap();
    assert_eq!(third.pdu.sequence_number, 3);
    second.responder.respond_status(CommandStatus::ESME_ROK);
    let fourth = inbox.recv().await.unwrap();
    assert_eq!(fourth.pdu.sequence_number, 4);
    third.responder.respond_status(CommandStatus::ESME_ROK);
    fourth.responder.respond_status(CommandStatus::ESME_ROK);
    for seq in 1..=4 {
        let resp = peer.recv().await.unwrap();
        assert_eq!(
            (resp.command_id(), resp.sequence_number),
            (CommandId::DeliverSmResp, seq)
        );
        assert!(resp.command_status.is_ok());
    }
}

#[tokio::test(start_paused = true)]
async fn a_dropped_responder_answers_system_error() {
    let (_session, mut inbox, mut peer) =
        smsc_session(BindMode::Transmitter, SessionConfig::default()).await;
    peer.send(Pdu::new(4, submit("1"))).await;
    drop(inbox.recv().await.unwrap());
    let resp = peer.recv().await.unwrap();
    assert_eq!(
        (resp.command_id(), resp.sequence_number),
        (CommandId::SubmitSmResp, 4)
    );
    assert_eq!(resp.command_status, CommandStatus::ESME_RSYSERR);
}

#[tokio::test(start_paused = true)]
async fn bind_timeout_and_requests_before_bind() {
    let (io, mut peer) = pipe();
    let started = Instant::now();
    let accepting = tokio::spawn(session::accept(io, SessionConfig::default()));
    // Before a bind, enquire_link is answered and submit_sm refused with RINVBNDSTS.
    peer.send(Pdu::new(1, PduBody::EnquireLink)).await;
    assert_eq!(
        peer.recv().await.unwrap().command_id(),
        CommandId::EnquireLinkResp
    );
    peer.send(Pdu::new(2, submit("1"))).await;
    let resp = peer.recv().await.unwrap();
    assert_eq!(resp.command_status, CommandStatus::ESME_RINVBNDSTS);
    assert!(matches!(accepting.await.unwrap(), Err(BindError::Timeout)));
    assert_eq!(started.elapsed(), Duration::from_secs(10));
}

#[tokio::test(start_paused = true)]
async fn rejected_bind_is_reported_with_its_status() {
    let (client_io, server_io) = duplex(4096);
    let server = tokio::spawn(async move {
        let req = session::accept(server_io, SessionConfig::default())
            .await
            .unwrap();
        req.reject(CommandStatus::ESME_RINVPASWD).await.unwrap();
    });
    let result = session::bind(
        client_io,
        SessionConfig::default(),
        BindMode::Transmitter,
        Bind::default(),
    )
    .await;
    assert!(matches!(
        result,
        Err(BindError::Rejected(CommandStatus::ESME_RINVPASWD))
    ));
    server.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn peer_closing_fails_outstanding_requests() {
    let (session, mut inbox, mut peer) =
        esme_session(BindMode::Transceiver, SessionConfig::default()).await;
    let s = session.clone();
    let call = tokio::spawn(async move { s.request(submit("1")).await });
    peer.recv().await.unwrap();
    drop(peer);
    assert_eq!(
        call.await.unwrap(),
        Err(SessionError::Closed(CloseReason::PeerClosed))
    );
    assert!(inbox.recv().await.is_none());
}

#[tokio::test(start_paused = true)]
async fn reading_goes_on_while_the_peer_does_not_read_our_answers() {
    // A 1 KiB pipe: our answers fill it quickly because the peer reads none of them. The
    // peer's 200 submits (~9 KiB) still all get through, so a peer that writes before it
    // reads can never deadlock against us.
    let (io, peer_io) = duplex(1024);
    let mut peer = RawPeer {
        io: peer_io,
        buf: BytesMut::new(),
    };
    let config = SessionConfig {
        inbound_window: 1000,
        ..Default::default()
    };
    let accepting = tokio::spawn(session::accept(io, config));
    peer.send(Pdu::new(1, bind_body(BindMode::Transmitter)))
        .await;
    let (_session, mut inbox) = accepting
        .await
        .unwrap()
        .unwrap()
        .accept("herald")
        .await
        .unwrap();
    let app = tokio::spawn(async move {
        let mut n = 0;
        while let Some(inbound) = inbox.recv().await {
            inbound
                .responder
                .respond(submit_resp("id"), CommandStatus::ESME_ROK);
            n += 1;
            if n == 200 {
                break;
            }
        }
        n
    });
    let mut batch = BytesMut::new();
    for seq in 2..202 {
        Pdu::new(seq, submit("447700900001"))
            .encode(&mut batch)
            .unwrap();
    }
    assert!(batch.len() > 8 * 1024);
    peer.send_raw(&batch).await;
    assert_eq!(app.await.unwrap(), 200);
    let bind_resp = peer.recv().await.unwrap();
    assert_eq!(bind_resp.command_id(), CommandId::BindTransmitterResp);
    for seq in 2..202 {
        let resp = peer.recv().await.unwrap();
        assert_eq!(
            (resp.command_id(), resp.sequence_number),
            (CommandId::SubmitSmResp, seq)
        );
    }
}

/// An I/O whose writes can be made to fail while its reads stay open (a peer that reset
/// the connection while we still had data to send).
struct BreakableWrites {
    io: DuplexStream,
    broken: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl tokio::io::AsyncRead for BreakableWrites {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for BreakableWrites {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        if self.broken.load(std::sync::atomic::Ordering::SeqCst) {
            return std::task::Poll::Ready(Err(std::io::ErrorKind::BrokenPipe.into()));
        }
        std::pin::Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// A failed write ends the session at once (it used to retry the write for ever).
#[tokio::test]
async fn a_failed_write_closes_the_session() {
    let (io, mut peer) = pipe();
    let broken = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let io = BreakableWrites {
        io,
        broken: broken.clone(),
    };
    let bind = Bind {
        system_id: "herald".into(),
        password: "pw".into(),
        ..Bind::default()
    };
    let binding = tokio::spawn(session::bind(
        io,
        SessionConfig::default(),
        BindMode::Transmitter,
        bind,
    ));
    let req = peer.recv().await.unwrap();
    let resp = PduBody::BindTransmitterResp(BindResp::new("smsc", 0x34));
    peer.send(Pdu::new(req.sequence_number, resp)).await;
    let (session, _inbox, _) = binding.await.unwrap().unwrap();
    broken.store(true, std::sync::atomic::Ordering::SeqCst);
    let result = timeout(
        Duration::from_secs(5),
        session.request(submit("447700900001")),
    )
    .await
    .expect("the request ends");
    assert_eq!(
        result.unwrap_err(),
        SessionError::Closed(CloseReason::Io(std::io::ErrorKind::BrokenPipe))
    );
    let reason = timeout(Duration::from_secs(5), session.closed())
        .await
        .unwrap();
    assert_eq!(reason, CloseReason::Io(std::io::ErrorKind::BrokenPipe));
}

#[tokio::test(start_paused = true)]
async fn a_peer_that_never_reads_is_read_no_more_and_closed_after_the_write_timeout() {
    // The peer floods enquire_links and reads nothing: our answers pile up, reading stops
    // once they are large (so the flood costs bounded memory), and after the write
    // timeout with nothing written the session closes.
    let (io, peer_io) = duplex(1024);
    let (mut peer_read, mut peer_write) = tokio::io::split(peer_io);
    let config = SessionConfig {
        write_timeout: Duration::from_secs(30),
        enquire_link_interval: Duration::from_secs(3600),
        ..Default::default()
    };
    let accepting = tokio::spawn(session::accept(io, config));
    peer_write
        .write_all(
            &Pdu::new(1, bind_body(BindMode::Transceiver))
                .to_bytes()
                .unwrap(),
        )
        .await
        .unwrap();
    let request = accepting.await.unwrap().unwrap();
    let (session, _inbox) = request.accept("herald").await.unwrap();
    // Take the bind_resp, then never read again.
    let mut first = [0u8; 64];
    let _ = peer_read.read(&mut first).await.unwrap();
    let written = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = written.clone();
    let flood = tokio::spawn(async move {
        let link = Pdu::new(7, PduBody::EnquireLink).to_bytes().unwrap();
        for _ in 0..250_000 {
            if peer_write.write_all(&link).await.is_err() {
                break;
            }
            counter.fetch_add(link.len(), std::sync::atomic::Ordering::Relaxed);
        }
    });
    let started = Instant::now();
    let reason = timeout(Duration::from_secs(120), session.closed())
        .await
        .expect("closed");
    assert_eq!(reason, CloseReason::WriteStalled);
    assert!(started.elapsed() >= Duration::from_secs(30));
    let _ = flood.await;
    let taken = written.load(std::sync::atomic::Ordering::Relaxed);
    assert!(
        taken < 1536 * 1024,
        "reading stopped: {taken} of 4 MB were taken from the peer"
    );
    drop(peer_read);
}

#[tokio::test(start_paused = true)]
async fn a_large_pdu_announced_before_bind_is_nacked_and_the_connection_closed() {
    // No buffer is reserved for what an unbound peer announces beyond a bind's size.
    let (io, mut peer) = pipe();
    let accepting = tokio::spawn(session::accept(io, SessionConfig::default()));
    let mut header = Vec::new();
    header.extend_from_slice(&70_000u32.to_be_bytes());
    header.extend_from_slice(&0x0000_0004u32.to_be_bytes());
    header.extend_from_slice(&0u32.to_be_bytes());
    header.extend_from_slice(&2u32.to_be_bytes());
    peer.send_raw(&header).await;
    let nack = peer.recv().await.expect("a generic_nack");
    assert_eq!(nack.command_id(), CommandId::GenericNack);
    assert_eq!(nack.command_status, CommandStatus::ESME_RINVCMDLEN);
    assert!(matches!(
        accepting.await.unwrap(),
        Err(BindError::Framing(_))
    ));
    assert!(peer.recv().await.is_none(), "closed");
    const { assert!(session::MAX_UNBOUND_PDU_LEN < 70_000) };
}
