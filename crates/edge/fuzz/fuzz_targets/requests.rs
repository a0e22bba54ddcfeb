//! The edge's request handling on arbitrary bytes from a bound ESME: the input is cut into
//! frames by the edge's framer (`edge.max_pdu_len`) and decoded, and each request that
//! decodes goes through `herald_edge::fuzzing::decide`, the checks the edge runs before the
//! bus, against a fixed rules snapshot. The input is also decoded whole, with its
//! `command_length` made to agree, so mutations inside a PDU are not lost to framing.
//!
//! Nothing may panic, and what the edge decides must hold together: an accepted message's
//! envelope agrees with the PDU field by field and survives protobuf encoding; a refusal
//! is a non-OK status the command may be answered with, in a response that encodes;
//! a `submit_multi` has one outcome per destination and an answer that adds them up.
#![no_main]

use std::sync::LazyLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::{Bytes, BytesMut};
use herald_edge::fuzzing::{self, Decision, EDGE_NODE, Multi};
use herald_edge::message_id::MessageId;
use herald_edge::requests::MAX_REPLACEMENT_OCTETS;
use herald_proto::bus::v1 as bus;
use herald_rules::RulesSnapshot;
use herald_smpp::concat::{ConcatInfo, parse_udh};
use herald_smpp::pdu::{DestAddress, MessageIdResp, UnsuccessSme};
use herald_smpp::types::{Address, EsmClass, RegisteredDelivery};
use herald_smpp::{CommandId, CommandStatus, Pdu, PduBody, Tag, Tlvs};
use libfuzzer_sys::fuzz_target;
use prost::Message as _;

const ACCOUNT: &str = "acme";

/// The argon2id hash of `"secret"` (never checked here; an account needs one).
const HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$h36T/2CbytHucVk5Xx4g0w$4AjfNxW0BDrHf6jqsAkMT9+RewRiH/T5exmLoRw/T1E";

/// An account with a sender policy and national numbering, UK and German routes by
/// prefix, a reject route for France; anything else has no route.
static RULES: LazyLock<RulesSnapshot> = LazyLock::new(|| {
    let entry = |key: &str, value: serde_json::Value| {
        (key.to_owned(), serde_json::to_vec(&value).expect("json"))
    };
    let carrier = |id: &str| {
        entry(
            &format!("carriers/{id}"),
            serde_json::json!({"id": id, "host": "smsc", "port": 2775, "system_id": "herald",
                               "password": {"env": "PW"}, "throughput": {"tps": 100}}),
        )
    };
    let snapshot = RulesSnapshot::build(
        1,
        vec![
            entry(
                "accounts/acme",
                serde_json::json!({"id": "acme", "password_hash": HASH, "quota": {"tps": 100},
                    "sender_ids": {"allowed": ["Herald", "ACME*", "4477009001??"],
                                   "allow_numeric": false},
                    "numbering": {"country_code": "44"}}),
            ),
            carrier("a"),
            carrier("b"),
            entry(
                "routes/uk",
                serde_json::json!({"id": "uk", "priority": 10,
                    "match": {"destination_prefixes": ["44"]},
                    "action": {"type": "failover", "carriers": ["a", "b"]}}),
            ),
            entry(
                "routes/de",
                serde_json::json!({"id": "de", "match": {"destination_prefixes": ["49"]},
                    "action": {"type": "weighted", "split": [
                        {"carrier": "a", "weight": 3}, {"carrier": "b", "weight": 1}]}}),
            ),
            entry(
                "routes/fr",
                serde_json::json!({"id": "fr", "match": {"destination_prefixes": ["33"]},
                    "action": {"type": "reject", "status": "ESME_RINVDSTADR"}}),
            ),
        ],
    );
    assert!(snapshot.problems().is_empty(), "{:?}", snapshot.problems());
    snapshot
});

/// 2026-12-07T12:00:00Z.
fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_796_644_800)
}

fuzz_target!(|data: &[u8]| {
    let framer = fuzzing::framer();
    let mut buf = BytesMut::from(data);
    while let Ok(Some(frame)) = framer.next_frame(&mut buf) {
        check(frame);
    }
    if data.len() >= 16 && data.len() <= framer.max_len() as usize {
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
    if pdu.command_id().is_response() {
        return;
    }
    let request = pdu.clone();
    let decision = fuzzing::decide(pdu, &RULES, ACCOUNT, now());
    let status = decision.status();
    let id = request.command_id();
    match decision {
        Decision::Refused(status) => {
            assert!(!status.is_ok());
            assert!(
                refusals(id).contains(&status),
                "{id} refused with {status}: {request:?}"
            );
            answer_encodes(&request, error_body(id), status);
        }
        Decision::NotOffered => {
            assert!(refusals(id).is_empty(), "{id} not offered");
            answer_encodes(&request, PduBody::GenericNack, status);
        }
        Decision::Submit(mt) => {
            let view = match &request.body {
                PduBody::SubmitSm(sm) => View {
                    service_type: sm.service_type.to_string_lossy(),
                    source: &sm.source,
                    dest: &sm.dest,
                    esm_class: sm.esm_class,
                    protocol_id: sm.protocol_id,
                    priority: sm.priority_flag,
                    registered_delivery: sm.registered_delivery,
                    data_coding: sm.data_coding.0,
                    short_message: &sm.short_message,
                    tlvs: &sm.tlvs,
                },
                PduBody::DataSm(data) => View {
                    service_type: data.service_type.to_string_lossy(),
                    source: &data.source,
                    dest: &data.dest,
                    esm_class: data.esm_class,
                    protocol_id: 0,
                    priority: 0,
                    registered_delivery: data.registered_delivery,
                    data_coding: data.data_coding.0,
                    short_message: &Bytes::new(),
                    tlvs: &data.tlvs,
                },
                other => panic!("{} accepted as a submit", other.command_id()),
            };
            envelope_agrees(&view, &mt);
            MessageId::parse(&mt.id).expect("a Herald message id");
            let body = match id {
                CommandId::SubmitSm => PduBody::SubmitSmResp(MessageIdResp::new(mt.id.as_str())),
                _ => PduBody::DataSmResp(MessageIdResp::new(mt.id.as_str())),
            };
            answer_encodes(&request, body, status);
        }
        Decision::Multi(Multi { outcomes, answer }) => {
            let PduBody::SubmitMulti(multi) = &request.body else {
                panic!("{id} decided as a submit_multi");
            };
            assert_eq!(
                outcomes.len(),
                multi.dests.len(),
                "one outcome per destination"
            );
            let base = answer
                .as_ref()
                .ok()
                .map(|resp| resp.message_id.to_string_lossy());
            let mut failed = Vec::new();
            for (n, (dest, outcome)) in multi.dests.iter().zip(&outcomes).enumerate() {
                match (dest, outcome) {
                    (DestAddress::Sme(dest), Ok(mt)) => {
                        let view = View {
                            service_type: multi.service_type.to_string_lossy(),
                            source: &multi.source,
                            dest,
                            esm_class: multi.esm_class,
                            protocol_id: multi.protocol_id,
                            priority: multi.priority_flag,
                            registered_delivery: multi.registered_delivery,
                            data_coding: multi.data_coding.0,
                            short_message: &multi.short_message,
                            tlvs: &multi.tlvs,
                        };
                        envelope_agrees(&view, mt);
                        let base = base.as_deref().expect("an accepted destination answers OK");
                        assert_eq!(mt.id, format!("{base}-{}", n + 1));
                    }
                    (DestAddress::Sme(dest), Err(unsuccess)) => {
                        assert_eq!(&unsuccess.dest, dest);
                        let status = unsuccess.error_status_code;
                        assert!(
                            refusals(CommandId::SubmitSm).contains(&status),
                            "destination refused with {status}"
                        );
                        failed.push(unsuccess.clone());
                    }
                    (DestAddress::DistributionList(_), Err(unsuccess)) => {
                        assert_eq!(unsuccess.error_status_code, CommandStatus::ESME_RINVDLNAME);
                        assert_eq!(unsuccess.dest, Address::default());
                        failed.push(unsuccess.clone());
                    }
                    (DestAddress::DistributionList(_), Ok(_)) => {
                        panic!("a distribution list accepted")
                    }
                }
            }
            match answer {
                Ok(resp) => {
                    assert!(failed.len() < outcomes.len());
                    assert_eq!(resp.unsuccess.len(), failed.len(), "every failure listed");
                    for (echoed, failure) in resp.unsuccess.iter().zip(&failed) {
                        echoed_strictly(echoed, failure);
                    }
                    MessageId::parse(&resp.message_id.to_string_lossy()).expect("a Herald id");
                    answer_encodes(&request, PduBody::SubmitMultiResp(resp), status);
                }
                Err(status) => {
                    assert_eq!(status, CommandStatus::ESME_RSUBMITFAIL);
                    assert_eq!(failed.len(), outcomes.len(), "refused with one accepted");
                    answer_encodes(&request, error_body(id), status);
                }
            }
        }
        Decision::Amend {
            id: message_id,
            parsed,
            amendment,
        } => {
            assert_eq!(parsed.to_string(), message_id);
            match (&request.body, amendment) {
                (PduBody::CancelSm(cancel), None) => {
                    assert_eq!(cancel.message_id.to_string_lossy(), message_id);
                }
                (PduBody::ReplaceSm(replace), Some(amendment)) => {
                    assert_eq!(replace.message_id.to_string_lossy(), message_id);
                    let text = if replace.short_message.is_empty() {
                        replace.tlvs.message_payload().cloned().unwrap_or_default()
                    } else {
                        replace.short_message.clone()
                    };
                    assert_eq!(amendment.payload, text);
                    assert!((1..=MAX_REPLACEMENT_OCTETS).contains(&amendment.payload.len()));
                    assert!(replace.registered_delivery.is_valid());
                    assert_eq!(
                        amendment.registered_delivery,
                        u32::from(replace.registered_delivery.0)
                    );
                    assert!(!amendment.cancel);
                    let again = bus::Amendment::decode(amendment.encode_to_vec().as_slice())
                        .expect("the amendment decodes");
                    assert_eq!(again, amendment);
                }
                (body, amendment) => {
                    panic!(
                        "{} decided as an amendment {amendment:?}",
                        body.command_id()
                    )
                }
            }
            let body = error_body(id);
            answer_encodes(&request, body, status);
        }
        Decision::Query { id: message_id } => {
            let PduBody::QuerySm(query) = &request.body else {
                panic!("{id} decided as a query");
            };
            assert_eq!(query.message_id.to_string_lossy(), message_id);
        }
    }
}

/// What a submit-like request says, field by field, as the PDU carries it.
struct View<'a> {
    service_type: String,
    source: &'a Address,
    dest: &'a Address,
    esm_class: EsmClass,
    protocol_id: u8,
    priority: u8,
    registered_delivery: RegisteredDelivery,
    data_coding: u8,
    short_message: &'a Bytes,
    tlvs: &'a Tlvs,
}

fn bus_address(address: &Address) -> bus::Address {
    bus::Address {
        addr: address.addr.to_string_lossy(),
        ton: u32::from(address.ton.0),
        npi: u32::from(address.npi.0),
    }
}

/// The envelope of an accepted message agrees with the request and survives the bus.
fn envelope_agrees(view: &View<'_>, mt: &bus::MtMessage) {
    let again = bus::MtMessage::decode(mt.encode_to_vec().as_slice()).expect("envelope decodes");
    assert_eq!(&again, mt, "the envelope survives protobuf");

    assert_eq!(mt.account_id, ACCOUNT);
    assert_eq!(mt.edge_node, EDGE_NODE);
    assert_eq!(mt.source, Some(bus_address(view.source)));
    assert_eq!(mt.destination, Some(bus_address(view.dest)));
    assert_eq!(mt.service_type, view.service_type);
    assert_eq!(mt.esm_class, u32::from(view.esm_class.0));
    assert_eq!(mt.protocol_id, u32::from(view.protocol_id));
    assert!(view.priority <= 4);
    assert_eq!(mt.priority, u32::from(view.priority));
    assert!(view.registered_delivery.is_valid());
    assert_eq!(
        mt.registered_delivery,
        u32::from(view.registered_delivery.0)
    );
    assert_eq!(mt.data_coding, u32::from(view.data_coding));
    assert_eq!(mt.attempt, 0);
    assert!(mt.route.is_none() && mt.failed_carriers.is_empty());
    let accepted = now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_millis();
    assert_eq!(mt.accepted_unix_ms, i64::try_from(accepted).expect("ms"));

    // The text: short_message, or message_payload when short_message is empty; never both.
    let payload = view.tlvs.message_payload();
    let text = match (view.short_message.is_empty(), payload) {
        (false, None) => view.short_message.clone(),
        (true, Some(payload)) => payload.clone(),
        (false, Some(_)) => panic!("short_message and message_payload both accepted"),
        (true, None) => panic!("a message without text accepted"),
    };
    assert_eq!(mt.payload, text);

    // Every other TLV, in order.
    let tlvs: Vec<_> = view
        .tlvs
        .iter()
        .filter(|tlv| tlv.tag != Tag::MESSAGE_PAYLOAD)
        .map(|tlv| (u32::from(tlv.tag.0), tlv.value.to_vec()))
        .collect();
    let carried: Vec<_> = mt.tlvs.iter().map(|t| (t.tag, t.value.clone())).collect();
    assert_eq!(carried, tlvs);

    // The segment: the UDH's concatenation IE when UDHI is set and it has a valid one,
    // else the SAR TLVs' (all three, numbered from 1 to the total), else none.
    let from_udh = if view.esm_class.udhi() {
        parse_udh(&text).expect("UDHI accepted with a UDH").concat()
    } else {
        None
    };
    let from_sar = view.tlvs.sar().map(|(reference, total, seq)| {
        ConcatInfo::new(reference, total, seq).expect("SAR numbering accepted")
    });
    let segment = from_udh.or(from_sar).map(|s| bus::Segment {
        reference: u32::from(s.reference),
        total: u32::from(s.total),
        seq: u32::from(s.seq),
    });
    assert_eq!(mt.segment, segment);
    if let Some(s) = &mt.segment {
        assert!(1 <= s.seq && s.seq <= s.total, "{s:?}");
    }

    // Times: validity after acceptance and after the schedule.
    if mt.validity_unix_ms != 0 {
        assert!(mt.validity_unix_ms > mt.accepted_unix_ms);
        assert!(mt.validity_unix_ms > mt.schedule_delivery_unix_ms);
    }
}

/// The statuses the edge may refuse `id` with before the bus; empty for a command it does
/// not take.
fn refusals(id: CommandId) -> &'static [CommandStatus] {
    use CommandStatus as S;
    match id {
        CommandId::SubmitSm | CommandId::DataSm => &[
            S::ESME_RINVSRCTON,
            S::ESME_RINVSRCNPI,
            S::ESME_RINVSRCADR,
            S::ESME_RINVDSTTON,
            S::ESME_RINVDSTNPI,
            S::ESME_RINVDSTADR,
            S::ESME_RINVESMCLASS,
            S::ESME_RINVPRTFLG,
            S::ESME_RINVREGDLVFLG,
            S::ESME_RINVREPFLAG,
            S::ESME_RINVSUBREP,
            S::ESME_RINVDCS,
            S::ESME_RINVDFTMSGID,
            S::ESME_RINVMSGLEN,
            S::ESME_RINVTLVVAL,
            S::ESME_RINVSCHED,
            S::ESME_RINVEXPIRY,
        ],
        CommandId::SubmitMulti => &[S::ESME_RSUBMITFAIL],
        CommandId::ReplaceSm => &[
            S::ESME_RINVMSGID,
            S::ESME_RINVMSGLEN,
            S::ESME_RINVREGDLVFLG,
            S::ESME_RINVDFTMSGID,
            S::ESME_RINVSCHED,
            S::ESME_RINVEXPIRY,
        ],
        CommandId::CancelSm => &[S::ESME_RCANCELFAIL, S::ESME_RINVMSGID],
        CommandId::QuerySm => &[S::ESME_RINVMSGID],
        _ => &[],
    }
}

/// The body of `id`'s error response, as the session's responder sends it.
fn error_body(id: CommandId) -> PduBody {
    id.response()
        .and_then(PduBody::error_response)
        .expect("a request the edge answers has a response")
}

/// The answer to `request` with `body` and `status` encodes, and decodes back to itself.
///
/// A refused destination as the answer lists it: its status, TON and NPI as decided; its
/// address as sent when that was well-formed, else at most 20 printable ASCII octets, each
/// the one sent or a `?`.
fn echoed_strictly(echoed: &UnsuccessSme, failure: &UnsuccessSme) {
    assert_eq!(echoed.error_status_code, failure.error_status_code);
    assert_eq!(echoed.dest.ton, failure.dest.ton);
    assert_eq!(echoed.dest.npi, failure.dest.npi);
    let (sent, got) = (failure.dest.addr.as_bytes(), echoed.dest.addr.as_bytes());
    if sent.len() <= 20 && sent.iter().all(u8::is_ascii_graphic) {
        assert_eq!(got, sent, "a well-formed destination echoed as sent");
    } else {
        assert!(
            got.len() <= 20 && got.iter().all(u8::is_ascii_graphic),
            "{got:?}"
        );
        assert!(
            got.iter().zip(sent).all(|(g, s)| g == s || *g == b'?'),
            "{got:?} from {sent:?}"
        );
    }
}

/// Whatever the request, the answer is strict: it decodes with no quirk (a
/// `submit_multi_resp` echoes refused destinations, cut and cleaned when the ESME sent
/// them overlong or with non-ASCII octets).
fn answer_encodes(request: &Pdu, body: PduBody, status: CommandStatus) {
    let answer = Pdu::new(request.sequence_number, body).with_status(status);
    let bytes = answer.to_bytes().expect("the answer encodes");
    let again = Pdu::decode(bytes).expect("the answer decodes");
    assert_eq!(again.command_status, status);
    assert_eq!(again.sequence_number, request.sequence_number);
    assert_eq!(again.command_id(), answer.command_id());
    assert!(
        again.quirks.is_empty(),
        "the answer decodes with {:?}: {answer:?}",
        again.quirks
    );
    if status.is_ok() {
        assert_eq!(again, answer);
    }
}
