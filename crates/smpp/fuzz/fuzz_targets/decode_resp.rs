//! The answer to a PDU that does not decode: [`DecodeError::response`] must build a PDU
//! that encodes (header-only), carries the request's sequence number and the error's
//! status, answers with the request's own `_resp` or `generic_nack`, and decodes back to
//! itself. The input is tried as it is and with its `command_length` made to agree.
#![no_main]

use bytes::Bytes;
use herald_smpp::{CommandId, DecodeError, Pdu};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    check(Bytes::copy_from_slice(data));
    if data.len() >= 4 {
        let mut fixed = data.to_vec();
        let len = fixed.len() as u32;
        fixed[..4].copy_from_slice(&len.to_be_bytes());
        check(Bytes::from(fixed));
    }
});

fn check(frame: Bytes) {
    if let Err(e) = Pdu::decode(frame) {
        answer(&e);
    }
}

fn answer(e: &DecodeError) {
    let _ = e.to_string();
    assert!(!e.status.is_ok(), "{e}");
    let Some(resp) = e.response() else {
        let id = e.header.command_id;
        assert!(
            id.is_response() || matches!(id, CommandId::Outbind | CommandId::AlertNotification),
            "{e}: a request must be answered"
        );
        return;
    };
    assert_eq!(resp.sequence_number, e.header.sequence_number);
    assert_eq!(resp.command_status, e.status);
    let expected = match e.header.command_id.response() {
        Some(CommandId::Unknown(_)) | None => unreachable!("{e}"),
        Some(id) => id,
    };
    assert!(
        resp.command_id() == expected || resp.command_id() == CommandId::GenericNack,
        "{e}: answered with {}",
        resp.command_id()
    );
    let bytes = resp.to_bytes().expect("the answer encodes");
    assert_eq!(bytes.len(), 16, "error answers are header-only");
    assert_eq!(Pdu::decode(bytes).expect("the answer decodes"), resp);
}
