//! Stage one and two on arbitrary bytes: the framer cuts the input into frames and each is
//! decoded; the input is also decoded whole, with its `command_length` made to agree so the
//! body decoders run on everything. Nothing may panic, and a PDU that decodes must encode,
//! and decode again to the same PDU (less what is never emitted: trailing octets after the
//! TLVs and the decoder's quirk flags).
#![no_main]

use bytes::{Bytes, BytesMut};
use herald_smpp::{Framer, Pdu, PduBody, Quirks, Tlvs};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let framer = Framer::default();
    let mut buf = BytesMut::from(data);
    while let Ok(Some(frame)) = framer.next_frame(&mut buf) {
        check(frame);
    }
    if data.len() >= 16 {
        let mut whole = data.to_vec();
        let len = whole.len() as u32;
        whole[..4].copy_from_slice(&len.to_be_bytes());
        check(Bytes::from(whole));
    }
});

fn check(frame: Bytes) {
    let Ok(pdu) = Pdu::decode(frame) else {
        return;
    };
    let bytes = pdu.to_bytes().expect("a decoded PDU encodes");
    assert_eq!(bytes.len(), pdu.wire_len());
    let again = Pdu::decode(bytes).expect("a re-encoded PDU decodes");
    assert_eq!(emitted(again), emitted(pdu));
}

fn emitted(mut pdu: Pdu) -> Pdu {
    pdu.quirks = Quirks::empty();
    if let Some(tlvs) = tlvs_mut(&mut pdu.body) {
        tlvs.trailing = Bytes::new();
    }
    pdu
}

fn tlvs_mut(body: &mut PduBody) -> Option<&mut Tlvs> {
    use PduBody::*;
    Some(match body {
        BindTransmitterResp(b) | BindReceiverResp(b) | BindTransceiverResp(b) => &mut b.tlvs,
        SubmitSm(b) | DeliverSm(b) => &mut b.tlvs,
        SubmitSmResp(b) | DeliverSmResp(b) | DataSmResp(b) => &mut b.tlvs,
        SubmitMulti(b) => &mut b.tlvs,
        SubmitMultiResp(b) => &mut b.tlvs,
        DataSm(b) => &mut b.tlvs,
        QuerySm(b) => &mut b.tlvs,
        QuerySmResp(b) => &mut b.tlvs,
        CancelSm(b) => &mut b.tlvs,
        ReplaceSm(b) => &mut b.tlvs,
        AlertNotification(b) => &mut b.tlvs,
        BroadcastSm(b) => &mut b.tlvs,
        BroadcastSmResp(b) => &mut b.tlvs,
        QueryBroadcastSm(b) => &mut b.tlvs,
        QueryBroadcastSmResp(b) => &mut b.tlvs,
        CancelBroadcastSm(b) => &mut b.tlvs,
        _ => return None,
    })
}
