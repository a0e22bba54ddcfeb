//! Round trips: every PDU built in code encodes and decodes back to itself; PDUs received
//! from the wire (vendor TLVs, odd lengths, odd order) are re-emitted byte-exact; and
//! property tests over generated PDUs and over arbitrary or mutated bytes, which must never
//! make the framer or the decoder panic.
#![allow(clippy::unwrap_used, reason = "a test fails by panicking")]

use std::collections::BTreeSet;

use bytes::{Bytes, BytesMut};
use herald_smpp::pdu::{
    AlertNotification, Bind, BindResp, BroadcastSm, BroadcastSmResp, CancelBroadcastSm, CancelSm,
    DataSm, DeliverSm, DestAddress, INTERFACE_VERSION_34, INTERFACE_VERSION_50, MessageIdResp,
    Outbind, QueryBroadcastSm, QueryBroadcastSmResp, QuerySm, QuerySmResp, ReplaceSm, SubmitMulti,
    SubmitMultiResp, SubmitSm, UnsuccessSme,
};
use herald_smpp::tlv::ValueFormat;
use herald_smpp::{
    Address, COctetString, CommandId, CommandStatus, DataCoding, DecodeError, EsmClass, Framer,
    Npi, Pdu, PduBody, Quirks, RegisteredDelivery, Tag, Tlv, Tlvs, Ton,
};
use proptest::collection::vec;
use proptest::prelude::*;

/// The vendor TLV every hand-built PDU below carries somewhere.
const VENDOR: Tag = Tag(0x1401);

fn tlvs(items: impl IntoIterator<Item = Tlv>) -> Tlvs {
    items.into_iter().collect()
}

fn vendor_tlv() -> Tlv {
    Tlv::new(VENDOR, &b"\x01acme-route-7"[..])
}

fn c(s: &str) -> COctetString {
    COctetString::from(s)
}

/// One PDU of each of the 33 operations, with realistic values.
fn every_pdu() -> Vec<Pdu> {
    let bind = |system_id: &str, version: u8| Bind {
        system_id: c(system_id),
        password: c("s3cr3t!"),
        system_type: c("HERALD"),
        interface_version: version,
        addr_ton: Ton::INTERNATIONAL,
        addr_npi: Npi::ISDN,
        address_range: c("^44"),
    };
    let submit = SubmitSm {
        service_type: c("CMT"),
        source: Address::alphanumeric("MyBank"),
        dest: Address::international("447700900123"),
        esm_class: EsmClass(0x40),
        protocol_id: 0,
        priority_flag: 1,
        schedule_delivery_time: c(""),
        validity_period: c("000001000000000R"),
        registered_delivery: RegisteredDelivery(0x01),
        replace_if_present_flag: 0,
        data_coding: DataCoding(0x08),
        sm_default_msg_id: 0,
        short_message: Bytes::from_static(b"\x05\x00\x03\x2a\x02\x01\x00H\x00i"),
        tlvs: tlvs([
            Tlv::u16(Tag::SAR_MSG_REF_NUM, 42),
            Tlv::u8(Tag::SAR_TOTAL_SEGMENTS, 2),
            Tlv::u8(Tag::SAR_SEGMENT_SEQNUM, 1),
            vendor_tlv(),
            // A standard TLV of unexpected length: user_message_reference is two octets.
            Tlv::new(Tag::USER_MESSAGE_REFERENCE, &[0u8, 0, 0, 7][..]),
        ]),
    };
    let receipt = DeliverSm {
        service_type: c(""),
        source: Address::international("447700900123"),
        dest: Address::alphanumeric("MyBank"),
        esm_class: EsmClass(EsmClass::DELIVERY_RECEIPT),
        registered_delivery: RegisteredDelivery(0),
        short_message: Bytes::from_static(
            b"id:5f3a9c01 sub:001 dlvrd:001 submit date:2501011200 done date:2501011201 \
              stat:DELIVRD err:000 text:Hi",
        ),
        tlvs: tlvs([
            Tlv::c_string(Tag::RECEIPTED_MESSAGE_ID, b"5f3a9c01"),
            Tlv::u8(Tag::MESSAGE_STATE, 2),
            Tlv::new(Tag::NETWORK_ERROR_CODE, &[3u8, 0x00, 0x00][..]),
            vendor_tlv(),
        ]),
        ..SubmitSm::default()
    };
    let data_sm = DataSm {
        service_type: c("WAP"),
        source: Address::new(Ton::NATIONAL, Npi::ISDN, "07700900123"),
        dest: Address::international("33612345678"),
        esm_class: EsmClass(0),
        registered_delivery: RegisteredDelivery(0x11),
        data_coding: DataCoding(0x04),
        tlvs: tlvs([
            Tlv::u16(Tag::SOURCE_PORT, 9200),
            Tlv::u16(Tag::DESTINATION_PORT, 2948),
            Tlv::new(Tag::MESSAGE_PAYLOAD, vec![0xA5u8; 300]),
            vendor_tlv(),
        ]),
    };
    let multi = SubmitMulti {
        service_type: c(""),
        source: Address::international("447700900001"),
        dests: vec![
            DestAddress::Sme(Address::international("447700900123")),
            DestAddress::Sme(Address::new(Ton::NATIONAL, Npi::ISDN, "0612345678")),
            DestAddress::DistributionList(c("sales-team")),
        ],
        esm_class: EsmClass(0x03),
        registered_delivery: RegisteredDelivery(0x01),
        short_message: Bytes::from_static(b"Meeting moved to 3pm"),
        tlvs: tlvs([vendor_tlv()]),
        ..SubmitMulti::default()
    };
    let broadcast = BroadcastSm {
        service_type: c("CBS"),
        source: Address::alphanumeric("CivilDef"),
        message_id: c(""),
        priority_flag: 1,
        schedule_delivery_time: c(""),
        validity_period: c("000000020000000R"),
        replace_if_present_flag: 0,
        data_coding: DataCoding(0),
        sm_default_msg_id: 0,
        tlvs: tlvs([
            Tlv::new(Tag::BROADCAST_AREA_IDENTIFIER, &b"\x00LONDON-CENTRAL"[..]),
            Tlv::new(Tag::BROADCAST_CONTENT_TYPE, &[1u8, 0x00, 0x01][..]),
            Tlv::u16(Tag::BROADCAST_REP_NUM, 3),
            Tlv::new(Tag::BROADCAST_FREQUENCY_INTERVAL, &[0x09u8, 0x00, 0x05][..]),
            Tlv::new(
                Tag::MESSAGE_PAYLOAD,
                &b"Flood warning: avoid the river path"[..],
            ),
            vendor_tlv(),
        ]),
    };
    let bodies = vec![
        PduBody::BindTransmitter(bind("herald-tx", INTERFACE_VERSION_34)),
        PduBody::BindTransmitterResp(BindResp::new("SMSC-LDN-1", INTERFACE_VERSION_34)),
        PduBody::BindReceiver(bind("herald-rx", INTERFACE_VERSION_50)),
        PduBody::BindReceiverResp(BindResp {
            system_id: c("SMSC-LDN-1"),
            tlvs: tlvs([Tlv::u8(Tag::SC_INTERFACE_VERSION, 0x50), vendor_tlv()]),
        }),
        PduBody::BindTransceiver(bind("herald-trx", INTERFACE_VERSION_34)),
        PduBody::BindTransceiverResp(BindResp::new("SMSC-LDN-1", INTERFACE_VERSION_50)),
        PduBody::Outbind(Outbind {
            system_id: c("SMSC-LDN-1"),
            password: c("ob-pass"),
        }),
        PduBody::Unbind,
        PduBody::UnbindResp,
        PduBody::GenericNack,
        PduBody::EnquireLink,
        PduBody::EnquireLinkResp,
        PduBody::SubmitSm(submit),
        PduBody::SubmitSmResp(MessageIdResp::new("5f3a9c01")),
        PduBody::SubmitMulti(multi),
        PduBody::SubmitMultiResp(SubmitMultiResp {
            message_id: c("7d00e1"),
            unsuccess: vec![UnsuccessSme {
                dest: Address::new(Ton::NATIONAL, Npi::ISDN, "0612345678"),
                error_status_code: CommandStatus::ESME_RINVDSTADR,
            }],
            tlvs: tlvs([vendor_tlv()]),
        }),
        PduBody::DeliverSm(receipt),
        PduBody::DeliverSmResp(MessageIdResp::default()),
        PduBody::DataSm(data_sm),
        PduBody::DataSmResp(MessageIdResp {
            message_id: c("a1b2c3"),
            tlvs: tlvs([
                Tlv::c_string(Tag::ADDITIONAL_STATUS_INFO_TEXT, b"queued"),
                vendor_tlv(),
            ]),
        }),
        PduBody::QuerySm(QuerySm {
            message_id: c("5f3a9c01"),
            source: Address::alphanumeric("MyBank"),
            tlvs: Tlvs::new(),
        }),
        PduBody::QuerySmResp(QuerySmResp {
            message_id: c("5f3a9c01"),
            final_date: c("250101120100000+"),
            message_state: 2,
            error_code: 0,
            tlvs: tlvs([vendor_tlv()]),
        }),
        PduBody::CancelSm(CancelSm {
            service_type: c(""),
            message_id: c("5f3a9c01"),
            source: Address::alphanumeric("MyBank"),
            dest: Address::international("447700900123"),
            tlvs: Tlvs::new(),
        }),
        PduBody::CancelSmResp,
        PduBody::ReplaceSm(ReplaceSm {
            message_id: c("5f3a9c01"),
            source: Address::alphanumeric("MyBank"),
            schedule_delivery_time: c("250101130000000+"),
            validity_period: c(""),
            registered_delivery: RegisteredDelivery(0x01),
            sm_default_msg_id: 0,
            short_message: Bytes::from_static(b"Your code is 493817"),
            tlvs: tlvs([vendor_tlv()]),
        }),
        PduBody::ReplaceSmResp,
        PduBody::AlertNotification(AlertNotification {
            source: Address::international("447700900123"),
            esme: Address::new(Ton::UNKNOWN, Npi::UNKNOWN, "herald-rx"),
            tlvs: tlvs([Tlv::u8(Tag::MS_AVAILABILITY_STATUS, 0)]),
        }),
        PduBody::BroadcastSm(broadcast),
        PduBody::BroadcastSmResp(BroadcastSmResp {
            message_id: c("bc-0001"),
            tlvs: tlvs([Tlv::u32(Tag::BROADCAST_ERROR_STATUS, 0)]),
        }),
        PduBody::QueryBroadcastSm(QueryBroadcastSm {
            message_id: c("bc-0001"),
            source: Address::alphanumeric("CivilDef"),
            tlvs: tlvs([Tlv::u16(Tag::USER_MESSAGE_REFERENCE, 77)]),
        }),
        PduBody::QueryBroadcastSmResp(QueryBroadcastSmResp {
            message_id: c("bc-0001"),
            tlvs: tlvs([
                Tlv::u8(Tag::MESSAGE_STATE, 1),
                Tlv::new(Tag::BROADCAST_AREA_IDENTIFIER, &b"\x00LONDON-CENTRAL"[..]),
                Tlv::u8(Tag::BROADCAST_AREA_SUCCESS, 80),
                vendor_tlv(),
            ]),
        }),
        PduBody::CancelBroadcastSm(CancelBroadcastSm {
            service_type: c("CBS"),
            message_id: c("bc-0001"),
            source: Address::alphanumeric("CivilDef"),
            tlvs: tlvs([vendor_tlv()]),
        }),
        PduBody::CancelBroadcastSmResp,
    ];
    bodies
        .into_iter()
        .enumerate()
        .map(|(i, body)| Pdu::new(0x0100_0000 + i as u32, body))
        .collect()
}

/// The TLVs of a body, if it has any.
fn tlvs_of(body: &mut PduBody) -> Option<&mut Tlvs> {
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

/// What survives re-encoding: trailing octets and the decoder's quirk flags are not emitted.
fn emitted(mut pdu: Pdu) -> Pdu {
    pdu.quirks = Quirks::empty();
    if let Some(t) = tlvs_of(&mut pdu.body) {
        t.trailing = Bytes::new();
    }
    pdu
}

/// The quirks the decoder must report for these TLVs.
fn tlv_quirks(tlvs: &Tlvs) -> Quirks {
    let mut q = Quirks::empty();
    let mut seen = BTreeSet::new();
    for t in tlvs {
        if !t.has_expected_length() {
            q |= Quirks::TLV_UNEXPECTED_LENGTH;
        }
        if !seen.insert(t.tag) {
            q |= Quirks::DUPLICATE_TLV;
        }
    }
    q
}

fn expected_quirks(pdu: &Pdu) -> Quirks {
    let mut body = pdu.body.clone();
    tlvs_of(&mut body).map_or(Quirks::empty(), |t| tlv_quirks(t))
}

/// Encodes, decodes, and checks the PDU came back whole and re-encodes to the same octets.
fn assert_round_trip(pdu: &Pdu) -> Bytes {
    let bytes = pdu.to_bytes().expect("encodes");
    assert_eq!(
        bytes.len(),
        pdu.wire_len(),
        "wire_len of {}",
        pdu.command_id()
    );
    assert_eq!(
        u32::from_be_bytes(bytes[..4].try_into().unwrap()) as usize,
        bytes.len(),
        "command_length"
    );
    let decoded = Pdu::decode(bytes.clone())
        .unwrap_or_else(|e| panic!("{} does not decode: {e}", pdu.command_id()));
    assert_eq!(decoded.quirks, expected_quirks(pdu), "{}", pdu.command_id());
    assert_eq!(emitted(decoded.clone()), *pdu);
    assert_eq!(
        decoded.to_bytes().unwrap(),
        bytes,
        "re-encoding {}",
        pdu.command_id()
    );
    bytes
}

#[test]
fn every_pdu_type_round_trips() {
    let pdus = every_pdu();
    let ids: BTreeSet<u32> = pdus.iter().map(|p| p.command_id().as_u32()).collect();
    let all: BTreeSet<u32> = CommandId::ALL.iter().map(|id| id.as_u32()).collect();
    assert_eq!(ids, all, "one PDU per operation");
    assert_eq!(pdus.len(), 33);
    for pdu in &pdus {
        assert_round_trip(pdu);
    }
}

#[test]
fn only_the_odd_length_tlv_is_flagged() {
    for pdu in every_pdu() {
        let decoded = Pdu::decode(pdu.to_bytes().unwrap()).unwrap();
        if pdu.command_id() == CommandId::SubmitSm {
            assert_eq!(decoded.quirks, Quirks::TLV_UNEXPECTED_LENGTH);
            let PduBody::SubmitSm(sm) = &decoded.body else {
                unreachable!()
            };
            let odd = sm.tlvs.get(Tag::USER_MESSAGE_REFERENCE).unwrap();
            assert_eq!(&odd.value[..], &[0, 0, 0, 7]);
            assert_eq!(sm.tlvs.get_u16(Tag::USER_MESSAGE_REFERENCE), None);
            assert_eq!(sm.tlvs.sar(), Some((42, 2, 1)));
        } else {
            assert_eq!(decoded.quirks, Quirks::empty(), "{}", pdu.command_id());
        }
    }
}

#[test]
fn vendor_tlvs_are_kept_in_order_with_their_values() {
    for pdu in every_pdu() {
        let mut decoded = Pdu::decode(pdu.to_bytes().unwrap()).unwrap();
        let mut original = pdu.clone();
        let (Some(got), Some(want)) = (tlvs_of(&mut decoded.body), tlvs_of(&mut original.body))
        else {
            continue;
        };
        let got: Vec<_> = got.iter().map(|t| (t.tag, t.value.clone())).collect();
        let want: Vec<_> = want.iter().map(|t| (t.tag, t.value.clone())).collect();
        assert_eq!(got, want);
    }
}

#[test]
fn error_responses_are_sent_header_only_and_decode_back() {
    for pdu in every_pdu()
        .into_iter()
        .filter(|p| p.command_id().is_response())
    {
        let id = pdu.command_id();
        let empty = PduBody::error_response(id).unwrap();
        let nack = Pdu::new(9, empty.clone()).with_status(CommandStatus::ESME_RTHROTTLED);
        let bytes = nack.to_bytes().unwrap();
        assert_eq!(bytes.len(), 16, "{id} with an error is header-only");
        let back = Pdu::decode(bytes).unwrap();
        assert_eq!(back, nack);
        // A response with an error status but a real body keeps its body.
        if pdu.body != empty {
            let with_body = pdu.clone().with_status(CommandStatus::ESME_RSYSERR);
            assert!(with_body.to_bytes().unwrap().len() > 16, "{id}");
        }
    }
}

/// A deliver_sm as a carrier might send it: vendor TLVs before and after standard ones,
/// an empty vendor TLV, a standard TLV of unexpected length, and a duplicate.
const RECEIVED_DELIVER_SM: &str = concat!(
    "00000093 00000005 00000000 0000002a", // header: 147 octets, deliver_sm, seq 42
    "00",                                  // service_type ""
    "0101 34343737303039303031323300",     // source 1/1 "447700900123"
    "0500 4d7942616e6b00",                 // dest 5/0 "MyBank"
    "04 00 00",                            // esm_class receipt, protocol_id, priority
    "00 00",                               // schedule_delivery_time, validity_period
    "00 00 00 00",                         // registered_delivery .. sm_default_msg_id
    "20",                                  // sm_length 32
    // "id:5f3a9c01 stat:DELIVRD err:000"
    "69643a356633613963303120737461743a44454c49565244", // "id:5f3a9c01 stat:DELIVRD"
    "206572723a303030",                                 // " err:000"
    "1401 0003 010203",                                 // vendor 0x1401, 3 octets
    "001e 0009 356633613963303100",                     // receipted_message_id "5f3a9c01"
    "3fff 0000",                                        // vendor 0x3FFF, empty
    "0427 0002 0002",                                   // message_state with 2 octets (spec: 1)
    "2150 000a 00112233445566778899",                   // vendor 0x2150, 10 octets
    "0423 0003 030000",                                 // network_error_code GSM 0
    "1401 0001 ff",                                     // vendor 0x1401 again
    "ffff 0004 deadbeef",                               // a tag outside every table
);

#[test]
fn received_pdus_are_re_emitted_byte_exact() {
    let compact: String = RECEIVED_DELIVER_SM.split_whitespace().collect();
    let bytes = Bytes::from(hex::decode(compact).unwrap());
    assert_eq!(bytes.len(), 0x93);
    let pdu = Pdu::decode(bytes.clone()).unwrap();
    assert_eq!(
        pdu.quirks,
        Quirks::TLV_UNEXPECTED_LENGTH | Quirks::DUPLICATE_TLV
    );
    let PduBody::DeliverSm(sm) = &pdu.body else {
        panic!("not a deliver_sm: {pdu:?}")
    };
    let tags: Vec<u16> = sm.tlvs.iter().map(|t| t.tag.0).collect();
    assert_eq!(
        tags,
        [
            0x1401, 0x001e, 0x3fff, 0x0427, 0x2150, 0x0423, 0x1401, 0xffff
        ]
    );
    assert_eq!(sm.tlvs.receipted_message_id(), Some(&b"5f3a9c01"[..]));
    assert_eq!(
        sm.tlvs.message_state(),
        None,
        "two octets: not read as a u8"
    );
    assert_eq!(sm.tlvs.network_error_code(), Some((3, 0)));
    assert!(sm.esm_class.is_receipt());
    assert_eq!(pdu.to_bytes().unwrap(), bytes);

    // Every PDU built above, once encoded, is also a "received" PDU: re-emitted exactly.
    for pdu in every_pdu() {
        let bytes = pdu.to_bytes().unwrap();
        let again = Pdu::decode(bytes.clone()).unwrap().to_bytes().unwrap();
        assert_eq!(again, bytes);
    }
}

#[test]
fn a_stream_of_every_pdu_is_framed_and_decoded_in_order() {
    let pdus = every_pdu();
    let mut stream = BytesMut::new();
    for p in &pdus {
        p.encode(&mut stream).unwrap();
    }
    // Feed it in awkward pieces.
    let all = stream.freeze();
    let framer = Framer::default();
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    for chunk in all.chunks(7) {
        buf.extend_from_slice(chunk);
        while let Some(frame) = framer.next_frame(&mut buf).unwrap() {
            out.push(emitted(Pdu::decode(frame).unwrap()));
        }
    }
    assert!(buf.is_empty());
    assert_eq!(out, pdus);
}

// ---------------------------------------------------------------------------------------
// Strategies.

/// Printable ASCII of at most `max_with_nul - 1` characters: a C-octet string within spec.
fn c_string(max_with_nul: usize) -> impl Strategy<Value = COctetString> {
    vec(0x20u8..0x7F, 0..max_with_nul).prop_map(|v| COctetString::from_bytes(v.into()).unwrap())
}

fn address(max_with_nul: usize) -> impl Strategy<Value = Address> {
    (any::<u8>(), any::<u8>(), c_string(max_with_nul)).prop_map(|(ton, npi, addr)| Address {
        ton: Ton(ton),
        npi: Npi(npi),
        addr,
    })
}

/// An SMPP time field: empty, or the 16-character `YYMMDDhhmmsstnnp` form.
fn time() -> impl Strategy<Value = COctetString> {
    prop_oneof![
        Just(COctetString::empty()),
        (
            0u8..100,
            1u8..13,
            1u8..29,
            0u8..24,
            0u8..60,
            0u8..60,
            0u8..10,
            0u8..49
        )
            .prop_map(|(y, mo, d, h, mi, s, t, nn)| c(&format!(
                "{y:02}{mo:02}{d:02}{h:02}{mi:02}{s:02}{t}{nn:02}+"
            ))),
        (0u8..100, 0u8..24).prop_map(|(d, h)| c(&format!("0000{d:02}{h:02}0000000R"))),
    ]
}

/// The value lengths a standard tag's format allows, capped to keep cases small.
fn allowed_lengths(format: ValueFormat) -> (usize, usize) {
    let (min, max) = match format {
        ValueFormat::Empty => (0, 0),
        ValueFormat::U8 => (1, 1),
        ValueFormat::U16 => (2, 2),
        ValueFormat::U32 => (4, 4),
        ValueFormat::EmptyOrU8 => (0, 1),
        ValueFormat::COctet { max } => (1, max as usize),
        ValueFormat::Octets { min, max } => (min as usize, max as usize),
    };
    (min, max.min(min.max(40)))
}

/// A TLV: mostly standard tags with lengths their spec allows, some vendor tags, and now
/// and then anything at all (which the decoder must keep, flagging odd lengths).
fn tlv() -> impl Strategy<Value = Tlv> {
    prop_oneof![
        6 => (0..Tag::ALL.len()).prop_flat_map(|i| {
            let tag = Tag::ALL[i];
            let (min, max) = allowed_lengths(tag.spec().unwrap().format);
            vec(any::<u8>(), min..=max).prop_map(move |v| Tlv::new(tag, v))
        }),
        3 => (0x1400u16..=0x3FFF, vec(any::<u8>(), 0..24))
            .prop_map(|(tag, v)| Tlv::new(Tag(tag), v)),
        1 => (any::<u16>(), vec(any::<u8>(), 0..8)).prop_map(|(tag, v)| Tlv::new(Tag(tag), v)),
    ]
}

fn tlv_list() -> impl Strategy<Value = Tlvs> {
    vec(tlv(), 0..6).prop_map(|v| v.into_iter().collect())
}

fn short_message() -> impl Strategy<Value = Bytes> {
    prop_oneof![
        vec(any::<u8>(), 0..=255),
        vec(0x20u8..0x7F, 0..=160),
        Just(Vec::new()),
    ]
    .prop_map(Bytes::from)
}

fn submit_sm() -> impl Strategy<Value = SubmitSm> {
    (
        (c_string(6), address(21), address(21)),
        (any::<u8>(), any::<u8>(), any::<u8>(), time(), time()),
        (any::<u8>(), any::<u8>(), any::<u8>(), any::<u8>()),
        short_message(),
        tlv_list(),
    )
        .prop_map(
            |(
                (service_type, source, dest),
                (esm, pid, prio, sched, valid),
                (rd, rip, dc, dm),
                sm,
                tlvs,
            )| {
                SubmitSm {
                    service_type,
                    source,
                    dest,
                    esm_class: EsmClass(esm),
                    protocol_id: pid,
                    priority_flag: prio,
                    schedule_delivery_time: sched,
                    validity_period: valid,
                    registered_delivery: RegisteredDelivery(rd),
                    replace_if_present_flag: rip,
                    data_coding: DataCoding(dc),
                    sm_default_msg_id: dm,
                    short_message: sm,
                    tlvs,
                }
            },
        )
}

fn data_sm() -> impl Strategy<Value = DataSm> {
    (
        c_string(6),
        address(65),
        address(65),
        any::<u8>(),
        any::<u8>(),
        any::<u8>(),
        tlv_list(),
    )
        .prop_map(|(service_type, source, dest, esm, rd, dc, tlvs)| DataSm {
            service_type,
            source,
            dest,
            esm_class: EsmClass(esm),
            registered_delivery: RegisteredDelivery(rd),
            data_coding: DataCoding(dc),
            tlvs,
        })
}

fn dest_address() -> impl Strategy<Value = DestAddress> {
    prop_oneof![
        3 => address(21).prop_map(DestAddress::Sme),
        1 => c_string(21).prop_map(DestAddress::DistributionList),
    ]
}

fn submit_multi() -> impl Strategy<Value = SubmitMulti> {
    (submit_sm(), vec(dest_address(), 1..12)).prop_map(|(sm, dests)| SubmitMulti {
        service_type: sm.service_type,
        source: sm.source,
        dests,
        esm_class: sm.esm_class,
        protocol_id: sm.protocol_id,
        priority_flag: sm.priority_flag,
        schedule_delivery_time: sm.schedule_delivery_time,
        validity_period: sm.validity_period,
        registered_delivery: sm.registered_delivery,
        replace_if_present_flag: sm.replace_if_present_flag,
        data_coding: sm.data_coding,
        sm_default_msg_id: sm.sm_default_msg_id,
        short_message: sm.short_message,
        tlvs: sm.tlvs,
    })
}

fn bind() -> impl Strategy<Value = PduBody> {
    (
        0..3u8,
        (c_string(16), c_string(9), c_string(13)),
        (any::<u8>(), any::<u8>(), any::<u8>()),
        c_string(41),
    )
        .prop_map(|(kind, (id, pw, st), (v, ton, npi), range)| {
            let b = Bind {
                system_id: id,
                password: pw,
                system_type: st,
                interface_version: v,
                addr_ton: Ton(ton),
                addr_npi: Npi(npi),
                address_range: range,
            };
            match kind {
                0 => PduBody::BindTransmitter(b),
                1 => PduBody::BindReceiver(b),
                _ => PduBody::BindTransceiver(b),
            }
        })
}

fn bind_resp() -> impl Strategy<Value = PduBody> {
    (0..3u8, c_string(16), tlv_list()).prop_map(|(kind, system_id, tlvs)| {
        let b = BindResp { system_id, tlvs };
        match kind {
            0 => PduBody::BindTransmitterResp(b),
            1 => PduBody::BindReceiverResp(b),
            _ => PduBody::BindTransceiverResp(b),
        }
    })
}

/// Any of the generated bodies, in a PDU with any sequence number.
fn generated_pdu() -> impl Strategy<Value = Pdu> {
    let body = prop_oneof![
        submit_sm().prop_map(PduBody::SubmitSm),
        submit_sm().prop_map(PduBody::DeliverSm),
        data_sm().prop_map(PduBody::DataSm),
        submit_multi().prop_map(PduBody::SubmitMulti),
        bind(),
        bind_resp(),
    ];
    (any::<u32>(), body).prop_map(|(seq, body)| Pdu::new(seq, body))
}

/// A valid PDU to start mutating from: generated, or one of the 33 hand-built ones.
fn valid_pdu_bytes() -> impl Strategy<Value = Vec<u8>> {
    let fixed = every_pdu();
    prop_oneof![
        generated_pdu(),
        (0..fixed.len()).prop_map(move |i| fixed[i].clone()),
    ]
    .prop_map(|p| p.to_bytes().unwrap().to_vec())
}

#[derive(Clone, Debug)]
enum Mutation {
    FlipBit(usize, u8),
    SetByte(usize, u8),
    Truncate(usize),
    Insert(usize, Vec<u8>),
    Remove(usize, usize),
    /// Overwrite `command_length` with any value.
    SetLength(u32),
    /// Nudge `command_length` by a few octets.
    NudgeLength(i8),
    /// Make `command_length` agree with the octets, so the body decoder gets to run.
    FixLength,
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => (any::<usize>(), 0..8u8).prop_map(|(i, b)| Mutation::FlipBit(i, b)),
        3 => (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::SetByte(i, b)),
        2 => any::<usize>().prop_map(Mutation::Truncate),
        2 => (any::<usize>(), vec(any::<u8>(), 1..6)).prop_map(|(i, v)| Mutation::Insert(i, v)),
        2 => (any::<usize>(), 1..6usize).prop_map(|(i, n)| Mutation::Remove(i, n)),
        1 => any::<u32>().prop_map(Mutation::SetLength),
        2 => any::<i8>().prop_map(Mutation::NudgeLength),
        4 => Just(Mutation::FixLength),
    ]
}

fn apply(bytes: &mut Vec<u8>, m: &Mutation) {
    let len = bytes.len();
    let set_len = |bytes: &mut Vec<u8>, v: u32| {
        if bytes.len() >= 4 {
            bytes[..4].copy_from_slice(&v.to_be_bytes());
        }
    };
    match *m {
        Mutation::FlipBit(i, b) if len > 0 => bytes[i % len] ^= 1 << b,
        Mutation::SetByte(i, v) if len > 0 => bytes[i % len] = v,
        Mutation::Truncate(n) => bytes.truncate(n % (len + 1)),
        Mutation::Insert(i, ref v) => {
            let at = i % (len + 1);
            bytes.splice(at..at, v.iter().copied());
        }
        Mutation::Remove(i, n) if len > 0 => {
            let at = i % len;
            bytes.drain(at..(at + n).min(len));
        }
        Mutation::SetLength(v) => set_len(bytes, v),
        Mutation::NudgeLength(d) if len >= 4 => {
            let cur = u32::from_be_bytes(bytes[..4].try_into().unwrap());
            set_len(bytes, cur.wrapping_add_signed(d.into()));
        }
        Mutation::FixLength => set_len(bytes, len as u32),
        _ => {}
    }
}

/// What must hold for any frame: decoding does not panic; a decoded PDU re-encodes and
/// decodes again to the same PDU; a decode error yields an answer that encodes, for the
/// same sequence number.
fn check_frame(frame: Bytes) {
    match Pdu::decode(frame.clone()) {
        Ok(pdu) => {
            let bytes = pdu
                .to_bytes()
                .unwrap_or_else(|e| panic!("decoded {pdu:?} but cannot encode it: {e}"));
            assert_eq!(bytes.len(), pdu.wire_len());
            let again = Pdu::decode(bytes.clone()).unwrap_or_else(|e| {
                panic!("{frame:02x?} decoded to {pdu:?}, re-encoded to {bytes:02x?}: {e}")
            });
            assert_eq!(emitted(again), emitted(pdu));
        }
        Err(e) => check_error(&e),
    }
}

fn check_error(e: &DecodeError) {
    let _ = e.to_string();
    let Some(answer) = e.response() else {
        assert!(
            e.header.command_id.is_response()
                || matches!(
                    e.header.command_id,
                    CommandId::Outbind | CommandId::AlertNotification
                ),
            "{e}"
        );
        return;
    };
    assert_eq!(answer.sequence_number, e.header.sequence_number);
    assert_eq!(answer.command_status, e.status);
    assert!(!e.status.is_ok());
    let expected_id = match e.header.command_id {
        CommandId::Unknown(_) => CommandId::GenericNack,
        id => id.response().unwrap(),
    };
    assert_eq!(answer.command_id(), expected_id);
    let bytes = answer.to_bytes().expect("the answer encodes");
    assert_eq!(bytes.len(), 16, "error answers are header-only");
}

/// Runs a byte stream through the framer and checks every frame it cuts.
fn check_stream(bytes: &[u8], framer: Framer) {
    let mut buf = BytesMut::from(bytes);
    while let Ok(Some(frame)) = framer.next_frame(&mut buf) {
        assert!(frame.len() >= 16 && frame.len() <= framer.max_len() as usize);
        check_frame(frame);
    }
}

/// 512 cases a property by default; `PROPTEST_CASES=100000` for a deep run.
fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(512);
    ProptestConfig::with_cases(cases)
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn generated_pdus_round_trip(pdu in generated_pdu()) {
        assert_round_trip(&pdu);
    }

    #[test]
    fn framer_and_decoder_never_panic_on_arbitrary_bytes(bytes in vec(any::<u8>(), 0..600)) {
        check_stream(&bytes, Framer::default());
        check_stream(&bytes, Framer::new(64));
        // The same octets as a body behind a well-formed header.
        check_frame(Bytes::from(bytes.clone()));
    }

    #[test]
    fn decoder_never_panics_on_arbitrary_bodies(
        id in prop_oneof![
            4 => (0..CommandId::ALL.len()).prop_map(|i| CommandId::ALL[i].as_u32()),
            1 => any::<u32>(),
        ],
        status in prop_oneof![Just(0u32), any::<u32>()],
        seq in any::<u32>(),
        body in prop_oneof![Just(Vec::new()), vec(any::<u8>(), 0..200)],
    ) {
        let mut frame = Vec::with_capacity(16 + body.len());
        frame.extend_from_slice(&((16 + body.len()) as u32).to_be_bytes());
        frame.extend_from_slice(&id.to_be_bytes());
        frame.extend_from_slice(&status.to_be_bytes());
        frame.extend_from_slice(&seq.to_be_bytes());
        frame.extend_from_slice(&body);
        check_stream(&frame, Framer::default());
    }

    #[test]
    fn framer_and_decoder_never_panic_on_mutated_pdus(
        original in valid_pdu_bytes(),
        mutations in vec(mutation(), 1..5),
        tail in vec(valid_pdu_bytes(), 0..2),
    ) {
        let mut bytes = original;
        for m in &mutations {
            apply(&mut bytes, m);
        }
        // A valid PDU after the broken one shows what the framer does next.
        for t in &tail {
            bytes.extend_from_slice(t);
        }
        check_stream(&bytes, Framer::default());
        check_frame(Bytes::from(bytes));
    }
}
