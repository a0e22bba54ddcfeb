//! Benchmark fixtures shared by the benches: the PDUs both codecs are measured on.
//!
//! Run with `cargo bench -p herald-benches`; `benches/codec.rs` says what is measured.

use bytes::{BufMut, Bytes, BytesMut};
use herald_smpp::pdu::{MessageIdResp, SubmitSm};
use herald_smpp::{Address, COctetString, EsmClass, Pdu, PduBody, RegisteredDelivery, Tag, Tlv};
use rusmpp::decode::DecodeWithLength;
use rusmpp::encode::Length;
use rusmpp::encode::owned::Encode as _;

/// The benchmark's submit_sm: an alphanumeric sender, a 77-octet text, a one-day validity,
/// a receipt request and five TLVs (user_message_reference, the three SAR TLVs and a vendor
/// TLV), 174 octets in all. The same octets are a golden fixture in
/// `crates/smpp/tests/golden.rs`.
pub fn submit_sm(sequence_number: u32) -> Pdu {
    let sm = SubmitSm {
        source: Address::alphanumeric("Herald"),
        dest: Address::international("447700900123"),
        validity_period: COctetString::from_static("000001000000000R"),
        registered_delivery: RegisteredDelivery(1),
        esm_class: EsmClass(0),
        short_message: Bytes::from_static(
            b"Your Herald code is 493817. It expires in 10 min. Never share it with anyone.",
        ),
        tlvs: [
            Tlv::u16(Tag::USER_MESSAGE_REFERENCE, 12345),
            Tlv::u16(Tag::SAR_MSG_REF_NUM, 42),
            Tlv::u8(Tag::SAR_TOTAL_SEGMENTS, 1),
            Tlv::u8(Tag::SAR_SEGMENT_SEQNUM, 1),
            Tlv::new(Tag(0x1401), &[0u8, 0, 0, 7][..]),
        ]
        .into_iter()
        .collect(),
        ..SubmitSm::default()
    };
    Pdu::new(sequence_number, PduBody::SubmitSm(sm))
}

/// The octets of [`submit_sm`].
pub fn submit_sm_octets(sequence_number: u32) -> Bytes {
    submit_sm(sequence_number)
        .to_bytes()
        .expect("the fixture encodes")
}

/// A read buffer holding `n` PDUs as a busy session receives them: submit_sm, then
/// submit_sm_resp and enquire_link now and then.
pub fn stream(n: usize) -> BytesMut {
    let mut out = BytesMut::new();
    for i in 0..n {
        let seq = i as u32 + 1;
        let pdu = match i % 10 {
            9 => Pdu::new(seq, PduBody::EnquireLink),
            5 => Pdu::new(
                seq,
                PduBody::SubmitSmResp(MessageIdResp::new(format!("{seq:08x}"))),
            ),
            _ => submit_sm(seq),
        };
        pdu.encode(&mut out).expect("the fixture encodes");
    }
    out
}

/// rusmpp's reading of a whole PDU (`command_length` first), as its tokio codec does it.
pub fn rusmpp_decode(frame: &mut BytesMut) -> Result<rusmpp::Command, rusmpp::decode::DecodeError> {
    let length = frame.len() - 4;
    let _ = frame.split_to(4);
    rusmpp::Command::decode(frame, length).map(|(command, _)| command)
}

/// rusmpp's writing of a whole PDU, as its tokio codec does it.
pub fn rusmpp_encode(command: &rusmpp::Command, out: &mut BytesMut) {
    let length = 4 + command.length();
    out.reserve(length);
    out.put_u32(length as u32);
    command.encode(out);
}
