//! The session engine's input path, SMSC side (what the edge runs toward ESMEs it does not
//! trust): arbitrary bytes from the peer, after a valid bind or without one. Time is
//! paused, so keep-alive and response timers fire at once. Nothing may panic (a panic in
//! the driver task aborts the fuzzer too), the session must end once the peer has closed,
//! and everything the session writes must be well-formed PDUs that Herald decodes with no
//! quirk: strict in what it emits, whatever it was sent.
#![no_main]

use std::time::Duration;

use bytes::BytesMut;
use herald_smpp::pdu::MessageIdResp;
use herald_smpp::session::{SessionConfig, accept};
use herald_smpp::{CommandId, CommandStatus, Framer, Pdu, PduBody, Quirks};
use libfuzzer_sys::fuzz_target;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// bind_transceiver "fuzz"/"pw", interface version 3.4, sequence 1.
const BIND: &[u8] = &[
    0, 0, 0, 0x1F, 0, 0, 0, 0x09, 0, 0, 0, 0, 0, 0, 0, 1, b'f', b'u', b'z', b'z', 0, b'p', b'w', 0,
    0, 0x34, 0, 0, 0,
];

fuzz_target!(|data: &[u8]| {
    // Even-length inputs bind first (to reach the bound state's input path); odd ones are
    // the unbound state's. No octet is spent on the choice, so seeds are plain PDUs.
    let bind_first = data.len().is_multiple_of(2);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("runtime");
    runtime.block_on(run(bind_first, data));
});

async fn run(bind_first: bool, input: &[u8]) {
    let (mut peer, ours) = tokio::io::duplex(1 << 16);
    let config = SessionConfig {
        window: 4,
        inbound_window: 4,
        ..SessionConfig::default()
    };
    let smsc = async move {
        let Ok(request) = accept(ours, config).await else {
            return;
        };
        let Ok((session, mut inbox)) = request.accept("HERALD").await else {
            return;
        };
        let mut n = 0u32;
        while let Some(inbound) = inbox.recv().await {
            n += 1;
            // Answer like an edge: accept some, throttle some, drop some unanswered.
            match (inbound.pdu.command_id(), n % 3) {
                (CommandId::SubmitSm, 0) => inbound.responder.respond(
                    PduBody::SubmitSmResp(MessageIdResp::new(format!("m{n}"))),
                    CommandStatus::ESME_ROK,
                ),
                (_, 1) => inbound
                    .responder
                    .respond_status(CommandStatus::ESME_RTHROTTLED),
                _ => drop(inbound.responder),
            }
        }
        session.closed().await;
    };
    let esme = async move {
        if bind_first {
            let _ = peer.write_all(BIND).await;
        }
        let _ = peer.write_all(input).await;
        let _ = peer.shutdown().await;
        let mut written = Vec::new();
        let _ = peer.read_to_end(&mut written).await;
        written
    };
    let limit = Duration::from_secs(24 * 3600);
    let ((), written) = tokio::time::timeout(limit, async { tokio::join!(smsc, esme) })
        .await
        .expect("the session ends once the peer has closed");

    // Everything the session wrote: whole PDUs, decoded with nothing let through.
    let framer = Framer::default();
    let mut buf = BytesMut::from(&written[..]);
    while let Some(frame) = framer.next_frame(&mut buf).expect("our framing") {
        let pdu = Pdu::decode(frame).expect("our PDUs decode");
        assert_eq!(pdu.quirks, Quirks::empty(), "{pdu:?}");
    }
    assert!(buf.is_empty(), "a partial PDU at the end: {buf:02x?}");
}
