//! Golden fixtures: PDUs assembled by hand, field by field, from the layouts of SMPP 3.4
//! (§4) and SMPP 5.0 (§4), each decoded to the fields it spells and encoded back to the
//! same octets. The bind_transmitter is the sample PDU the SMPP 5.0 specification decodes
//! octet by octet when it introduces the PDU format; the others were cross-checked against
//! published decoder test vectors of other SMPP libraries (and the rusmpp oracle test).
#![allow(clippy::unwrap_used, reason = "a test fails by panicking")]

use bytes::Bytes;
use herald_smpp::pdu::{
    Bind, BindResp, BroadcastSm, DataSm, DeliverSm, DestAddress, MessageIdResp, QuerySmResp,
    SubmitMulti, SubmitMultiResp, SubmitSm, UnsuccessSme,
};
use herald_smpp::tlv::TlvValue;
use herald_smpp::{
    Address, COctetString, CommandId, CommandStatus, DataCoding, EsmClass, Framer, Npi, Pdu,
    PduBody, Quirks, RegisteredDelivery, Tag, Tlv, Tlvs, Ton,
};

/// The fixture's octets: hex, with spaces between fields.
fn octets(hex: &str) -> Bytes {
    let compact: String = hex.split_whitespace().collect();
    Bytes::from(hex::decode(compact).expect("fixture is hex"))
}

fn c(s: &str) -> COctetString {
    COctetString::from(s)
}

/// Decodes the fixture to exactly `expected` (nothing let through), and encodes `expected`
/// to exactly the fixture.
fn golden(hex: &str, expected: &Pdu) -> Pdu {
    let bytes = octets(hex);
    let declared = u32::from_be_bytes(bytes[..4].try_into().unwrap()) as usize;
    assert_eq!(declared, bytes.len(), "the fixture's own command_length");
    let decoded = Pdu::decode(bytes.clone()).expect("decodes");
    assert_eq!(decoded.quirks, Quirks::empty());
    assert_eq!(&decoded, expected);
    assert_eq!(expected.wire_len(), bytes.len());
    assert_eq!(
        hex::encode(expected.to_bytes().unwrap()),
        hex::encode(&bytes),
        "encoding"
    );
    // And through the framer, as it arrives from a socket.
    let mut buf = bytes::BytesMut::from(&bytes[..]);
    let frame = Framer::default().next_frame(&mut buf).unwrap().unwrap();
    assert_eq!(frame, bytes);
    decoded
}

/// The SMPP 5.0 specification's sample PDU.
const BIND_TRANSMITTER: &str = concat!(
    "0000002f",             // command_length 47
    "00000002",             // command_id bind_transmitter
    "00000000",             // command_status 0
    "00000001",             // sequence_number 1
    "534d5050335445535400", // system_id "SMPP3TEST"
    "7365637265743038 00",  // password "secret08"
    "5355424d49543100",     // system_type "SUBMIT1"
    "50",                   // interface_version 5.0
    "01",                   // addr_ton international
    "01",                   // addr_npi ISDN
    "00",                   // address_range NULL
);

#[test]
fn bind_transmitter() {
    let pdu = golden(
        BIND_TRANSMITTER,
        &Pdu::new(
            1,
            PduBody::BindTransmitter(Bind {
                system_id: c("SMPP3TEST"),
                password: c("secret08"),
                system_type: c("SUBMIT1"),
                interface_version: 0x50,
                addr_ton: Ton::INTERNATIONAL,
                addr_npi: Npi::ISDN,
                address_range: c(""),
            }),
        ),
    );
    assert!(pdu.body.is_bind());
    assert_eq!(pdu.command_id(), CommandId::BindTransmitter);
}

const BIND_TRANSCEIVER_RESP: &str = concat!(
    "0000001e",           // command_length 30
    "80000009",           // bind_transceiver_resp
    "00000000",           // ESME_ROK
    "00000001",           // sequence_number 1
    "534d53432d4c444e00", // system_id "SMSC-LDN"
    "0210 0001 50",       // sc_interface_version = 0x50
);

#[test]
fn bind_transceiver_resp_with_sc_interface_version() {
    let pdu = golden(
        BIND_TRANSCEIVER_RESP,
        &Pdu::new(
            1,
            PduBody::BindTransceiverResp(BindResp::new("SMSC-LDN", 0x50)),
        ),
    );
    let PduBody::BindTransceiverResp(resp) = pdu.body else {
        unreachable!()
    };
    assert_eq!(resp.system_id, "SMSC-LDN");
    assert_eq!(resp.sc_interface_version(), Some(0x50));
}

/// A one-segment text from an alphanumeric sender with five TLVs; also the benchmark's PDU.
pub const SUBMIT_SM: &str = concat!(
    "000000ae",                           // command_length 174
    "00000004",                           // submit_sm
    "00000000",                           // command_status
    "00000105",                           // sequence_number 261
    "00",                                 // service_type NULL
    "05 00 486572616c6400",               // source: alphanumeric, unknown, "Herald"
    "01 01 34343737303039303031323300",   // dest: international, ISDN, "447700900123"
    "00",                                 // esm_class: default mode, default type
    "00",                                 // protocol_id
    "00",                                 // priority_flag
    "00",                                 // schedule_delivery_time NULL: now
    "3030303030313030303030303030305200", // validity_period "000001000000000R": 1 day
    "01",                                 // registered_delivery: receipt on success or failure
    "00",                                 // replace_if_present_flag
    "00",                                 // data_coding: SMSC default alphabet
    "00",                                 // sm_default_msg_id
    "4d",                                 // sm_length 77
    // "Your Herald code is 493817. It expires in 10 min. Never share it with anyone."
    "596f757220486572616c6420636f64652069732034393338", // "Your Herald code is 4938"
    "31372e204974206578706972657320696e203130206d696e", // "17. It expires in 10 min"
    "2e204e65766572207368617265206974207769746820616e", // ". Never share it with an"
    "796f6e652e",                                       // "yone."
    "0204 0002 3039",                                   // user_message_reference 12345
    "020c 0002 002a",                                   // sar_msg_ref_num 42
    "020e 0001 01",                                     // sar_total_segments 1
    "020f 0001 01",                                     // sar_segment_seqnum 1
    "1401 0004 00000007",                               // vendor TLV 0x1401: a route hint
);

fn submit_sm_pdu() -> Pdu {
    Pdu::new(
        261,
        PduBody::SubmitSm(SubmitSm {
            service_type: c(""),
            source: Address::alphanumeric("Herald"),
            dest: Address::international("447700900123"),
            esm_class: EsmClass(0),
            protocol_id: 0,
            priority_flag: 0,
            schedule_delivery_time: c(""),
            validity_period: c("000001000000000R"),
            registered_delivery: RegisteredDelivery(1),
            replace_if_present_flag: 0,
            data_coding: DataCoding(0),
            sm_default_msg_id: 0,
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
        }),
    )
}

#[test]
fn submit_sm_with_five_tlvs() {
    assert_eq!(octets(SUBMIT_SM).len(), 174);
    let pdu = golden(SUBMIT_SM, &submit_sm_pdu());
    let PduBody::SubmitSm(sm) = &pdu.body else {
        unreachable!()
    };
    assert_eq!(sm.source.ton, Ton::ALPHANUMERIC);
    assert_eq!(sm.dest.addr, "447700900123");
    assert_eq!(sm.validity_period, "000001000000000R");
    assert_eq!(sm.short_message.len(), 77);
    assert_eq!(sm.user_data(), &sm.short_message);
    assert_eq!(sm.tlvs.len(), 5);
    assert_eq!(sm.tlvs.get_u16(Tag::USER_MESSAGE_REFERENCE), Some(12345));
    assert_eq!(sm.tlvs.sar(), Some((42, 1, 1)));
    let vendor = sm.tlvs.get(Tag(0x1401)).unwrap();
    assert!(vendor.tag.is_vendor());
    assert_eq!(vendor.typed(), Ok(TlvValue::Octets(&[0, 0, 0, 7])));
}

const DELIVER_SM_RECEIPT: &str = concat!(
    "000000c1",                                         // command_length 193
    "00000005",                                         // deliver_sm
    "00000000",                                         // command_status
    "00000002",                                         // sequence_number 2
    "00",                                               // service_type NULL
    "01 01 34343737303039303031323300",                 // source: the handset, "447700900123"
    "05 00 486572616c6400",                             // dest: the original sender, "Herald"
    "04",                                               // esm_class: SMSC delivery receipt
    "00 00",                                            // protocol_id, priority_flag
    "00 00",       // schedule_delivery_time, validity_period: NULL in a receipt
    "00 00 00 00", // registered_delivery, replace_if_present, data_coding, sm_default_msg_id
    "75",          // sm_length 117: the receipt text, in the de facto format of SMPP 3.4 Appendix B
    "69643a3566336139633031207375623a30303120646c7672", // "id:5f3a9c01 sub:001 dlvr"
    "643a303031207375626d697420646174653a323530313031", // "d:001 submit date:250101"
    "3132303020646f6e6520646174653a323530313031313230", // "1200 done date:250101120"
    "3120737461743a44454c49565244206572723a3030302074", // "1 stat:DELIVRD err:000 t"
    "6578743a596f757220486572616c64207665726966", // "ext:Your Herald verif"
    "001e 0009 356633613963303100", // receipted_message_id "5f3a9c01"
    "0427 0001 02", // message_state DELIVERED
    "0423 0003 030000", // network_error_code: GSM, 0
);

#[test]
fn deliver_sm_receipt() {
    let text = b"id:5f3a9c01 sub:001 dlvrd:001 submit date:2501011200 done date:2501011201 \
                 stat:DELIVRD err:000 text:Your Herald verif";
    let pdu = golden(
        DELIVER_SM_RECEIPT,
        &Pdu::new(
            2,
            PduBody::DeliverSm(DeliverSm {
                source: Address::international("447700900123"),
                dest: Address::alphanumeric("Herald"),
                esm_class: EsmClass(EsmClass::DELIVERY_RECEIPT),
                short_message: Bytes::from_static(text),
                tlvs: [
                    Tlv::c_string(Tag::RECEIPTED_MESSAGE_ID, b"5f3a9c01"),
                    Tlv::u8(Tag::MESSAGE_STATE, 2),
                    Tlv::new(Tag::NETWORK_ERROR_CODE, &[3u8, 0, 0][..]),
                ]
                .into_iter()
                .collect(),
                ..DeliverSm::default()
            }),
        ),
    );
    let PduBody::DeliverSm(sm) = &pdu.body else {
        unreachable!()
    };
    assert!(sm.esm_class.is_receipt());
    assert_eq!(sm.tlvs.receipted_message_id(), Some(&b"5f3a9c01"[..]));
    assert_eq!(sm.tlvs.message_state(), Some(2));
    assert_eq!(sm.tlvs.network_error_code(), Some((3, 0)));
}

#[test]
fn enquire_link_and_its_response() {
    golden(
        concat!("00000010", "00000015", "00000000", "00000007"),
        &Pdu::new(7, PduBody::EnquireLink),
    );
    golden(
        concat!("00000010", "80000015", "00000000", "00000007"),
        &Pdu::new(7, PduBody::EnquireLinkResp),
    );
}

#[test]
fn generic_nack() {
    // The answer to a PDU with an unknown command_id: ESME_RINVCMDID, the same sequence.
    let pdu = golden(
        concat!("00000010", "80000000", "00000003", "0000002a"),
        &Pdu::new(42, PduBody::GenericNack).with_status(CommandStatus::ESME_RINVCMDID),
    );
    assert_eq!(pdu.command_status.as_u32(), 3);
}

const SUBMIT_MULTI: &str = concat!(
    "00000058",                            // command_length 88
    "00000021",                            // submit_multi
    "00000000",                            // command_status
    "00000003",                            // sequence_number 3
    "00",                                  // service_type NULL
    "05 00 486572616c6400",                // source: alphanumeric "Herald"
    "03",                                  // number_of_dests 3
    "01 01 01 34343737303039303031323300", // dest_flag 1 (SME): international "447700900123"
    "01 02 01 303737303039303034353600",   // dest_flag 1 (SME): national "07700900456"
    "02 73616c657300",                     // dest_flag 2 (distribution list) "sales"
    "00 00 00",                            // esm_class, protocol_id, priority_flag
    "00 00",                               // schedule_delivery_time, validity_period NULL
    "01 00 00 00", // registered_delivery, replace_if_present, data_coding, sm_default_msg_id
    "0d 5374616e642d757020393a3330", // sm_length 13, "Stand-up 9:30"
);

#[test]
fn submit_multi_with_sme_and_distribution_list_destinations() {
    let pdu = golden(
        SUBMIT_MULTI,
        &Pdu::new(
            3,
            PduBody::SubmitMulti(SubmitMulti {
                source: Address::alphanumeric("Herald"),
                dests: vec![
                    DestAddress::Sme(Address::international("447700900123")),
                    DestAddress::Sme(Address::new(Ton::NATIONAL, Npi::ISDN, "07700900456")),
                    DestAddress::DistributionList(c("sales")),
                ],
                registered_delivery: RegisteredDelivery(1),
                short_message: Bytes::from_static(b"Stand-up 9:30"),
                ..SubmitMulti::default()
            }),
        ),
    );
    let PduBody::SubmitMulti(m) = pdu.body else {
        unreachable!()
    };
    assert_eq!(m.dests.len(), 3);
    assert!(matches!(&m.dests[2], DestAddress::DistributionList(n) if *n == "sales"));
}

const SUBMIT_MULTI_RESP: &str = concat!(
    "0000003d",                                  // command_length 61
    "80000021",                                  // submit_multi_resp
    "00000000",                                  // command_status: accepted for the others
    "00000003",                                  // sequence_number 3
    "6d2d3030303100",                            // message_id "m-0001"
    "02",                                        // no_unsuccess 2
    "01 01 34343737303039303031323300 0000000b", // 447700900123: ESME_RINVDSTADR
    "02 01 303737303039303034353600 00000045",   // 07700900456: ESME_RSUBMITFAIL
);

#[test]
fn submit_multi_resp_with_unsuccess_list() {
    golden(
        SUBMIT_MULTI_RESP,
        &Pdu::new(
            3,
            PduBody::SubmitMultiResp(SubmitMultiResp {
                message_id: c("m-0001"),
                unsuccess: vec![
                    UnsuccessSme {
                        dest: Address::international("447700900123"),
                        error_status_code: CommandStatus::ESME_RINVDSTADR,
                    },
                    UnsuccessSme {
                        dest: Address::new(Ton::NATIONAL, Npi::ISDN, "07700900456"),
                        error_status_code: CommandStatus::ESME_RSUBMITFAIL,
                    },
                ],
                tlvs: Tlvs::new(),
            }),
        ),
    );
}

const DATA_SM: &str = concat!(
    "00000050",                         // command_length 80
    "00000103",                         // data_sm
    "00000000",                         // command_status
    "00000004",                         // sequence_number 4
    "00",                               // service_type NULL
    "05 00 486572616c6400",             // source: alphanumeric "Herald"
    "01 01 34343737303039303031323300", // dest: international "447700900123"
    "00",                               // esm_class
    "01",                               // registered_delivery
    "08",                               // data_coding UCS2
    // message_payload "Hello, world" in UCS2
    "0424 0018",
    "00480065006c006c006f002c00200077006f0072006c0064",
    "0017 0004 00000e10", // qos_time_to_live 3600 s
);

#[test]
fn data_sm_with_message_payload() {
    let payload = Bytes::from(
        "Hello, world"
            .encode_utf16()
            .flat_map(u16::to_be_bytes)
            .collect::<Vec<u8>>(),
    );
    let pdu = golden(
        DATA_SM,
        &Pdu::new(
            4,
            PduBody::DataSm(DataSm {
                service_type: c(""),
                source: Address::alphanumeric("Herald"),
                dest: Address::international("447700900123"),
                esm_class: EsmClass(0),
                registered_delivery: RegisteredDelivery(1),
                data_coding: DataCoding(8),
                tlvs: [
                    Tlv::new(Tag::MESSAGE_PAYLOAD, payload.clone()),
                    Tlv::u32(Tag::QOS_TIME_TO_LIVE, 3600),
                ]
                .into_iter()
                .collect(),
            }),
        ),
    );
    let PduBody::DataSm(d) = pdu.body else {
        unreachable!()
    };
    assert_eq!(d.tlvs.message_payload(), Some(&payload));
    assert_eq!(d.tlvs.get_u32(Tag::QOS_TIME_TO_LIVE), Some(3600));
}

const QUERY_SM_RESP: &str = concat!(
    "0000002c",           // command_length 44
    "80000003",           // query_sm_resp
    "00000000",           // command_status
    "00000005",           // sequence_number 5
    "356633613963303100", // message_id "5f3a9c01"
    // final_date "250101120100004+": 2025-01-01 12:01:00, UTC+1
    "3235303130313132303130303030342b00",
    "02", // message_state DELIVERED
    "00", // error_code
);

#[test]
fn query_sm_resp() {
    golden(
        QUERY_SM_RESP,
        &Pdu::new(
            5,
            PduBody::QuerySmResp(QuerySmResp {
                message_id: c("5f3a9c01"),
                final_date: c("250101120100004+"),
                message_state: 2,
                error_code: 0,
                tlvs: Tlvs::new(),
            }),
        ),
    );
}

const BROADCAST_SM: &str = concat!(
    "00000069",                 // command_length 105
    "00000111",                 // broadcast_sm
    "00000000",                 // command_status
    "00000006",                 // sequence_number 6
    "43425300",                 // service_type "CBS"
    "05 00 436976696c44656600", // source: alphanumeric "CivilDef"
    "00",                       // message_id NULL: a new broadcast
    "01",                       // priority_flag
    "00 00",                    // schedule_delivery_time, validity_period NULL
    "00",                       // replace_if_present_flag
    "00",                       // data_coding
    "00",                       // sm_default_msg_id
    "0606 0004 004c444e",       // broadcast_area_identifier: alias format, "LDN"
    "0601 0003 010001",         // broadcast_content_type: GSM, emergency broadcasts
    "0604 0002 0003",           // broadcast_rep_num 3
    "0605 0003 090005",         // broadcast_frequency_interval: every 5 minutes
    "0424 0023 466c6f6f64207761726e696e673a2061766f6964207468652072697665722070617468",
    // message_payload "Flood warning: avoid the river path"
);

#[test]
fn broadcast_sm() {
    let pdu = golden(
        BROADCAST_SM,
        &Pdu::new(
            6,
            PduBody::BroadcastSm(BroadcastSm {
                service_type: c("CBS"),
                source: Address::alphanumeric("CivilDef"),
                priority_flag: 1,
                tlvs: [
                    Tlv::new(Tag::BROADCAST_AREA_IDENTIFIER, &b"\x00LDN"[..]),
                    Tlv::new(Tag::BROADCAST_CONTENT_TYPE, &[1u8, 0, 1][..]),
                    Tlv::u16(Tag::BROADCAST_REP_NUM, 3),
                    Tlv::new(Tag::BROADCAST_FREQUENCY_INTERVAL, &[9u8, 0, 5][..]),
                    Tlv::new(
                        Tag::MESSAGE_PAYLOAD,
                        &b"Flood warning: avoid the river path"[..],
                    ),
                ]
                .into_iter()
                .collect(),
                ..BroadcastSm::default()
            }),
        ),
    );
    let PduBody::BroadcastSm(b) = pdu.body else {
        unreachable!()
    };
    assert_eq!(b.tlvs.get_u16(Tag::BROADCAST_REP_NUM), Some(3));
}

#[test]
fn responses_with_message_ids() {
    // submit_sm_resp carrying the SMSC's id, and the header-only form of an error.
    golden(
        concat!("00000019 80000004 00000000 00000105", "356633613963303100"),
        &Pdu::new(261, PduBody::SubmitSmResp(MessageIdResp::new("5f3a9c01"))),
    );
    golden(
        concat!("00000010", "80000004", "00000058", "00000105"),
        &Pdu::new(261, PduBody::SubmitSmResp(MessageIdResp::default()))
            .with_status(CommandStatus::ESME_RTHROTTLED),
    );
}
