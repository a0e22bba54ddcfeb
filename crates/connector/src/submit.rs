//! The `submit_sm` a carrier receives for a bus message: the ESME's fields, with the
//! carrier's TON/NPI overrides and accepted data codings applied.
//!
//! | field | from |
//! | --- | --- |
//! | addresses | the message's, TON/NPI replaced where the carrier's `addressing` says; the source rewritten first when one of the carrier's `senders` rules matches |
//! | `esm_class` | messaging mode, UDHI and reply path of the message; never a receipt type |
//! | `registered_delivery` | final receipts always requested (bits 1–0 = 01, so Herald learns every outcome), the ESME's SME-ack and intermediate bits kept; the ESME's own request travels in the id map and decides what it is sent |
//! | `schedule_delivery_time`, `validity_period` | absolute UTC times (`…000+`) from the message; empty when absent or past |
//! | user data | `short_message` up to 254 octets, `message_payload` beyond |
//! | `data_coding` | unchanged when the carrier accepts it; else re-encoded into the first accepted text coding that can carry the text (`convert`), or refused (`reject`) |
//! | TLVs | those the carrier's `content.tlvs` allows, carried through unchanged |
//! | `protocol_id`, `service_type` | the ESME's, when the carrier's `content` allows them |
//!
//! What the carrier's content policy does not allow fails the message (`refuse`), or is
//! removed (`strip`: the TLV dropped, `protocol_id` 0, `service_type` empty).
//!
//! `data_coding` 0 is read as GSM 7-bit when converting (the SMPP default alphabet).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use herald_proto::bus::v1::{self as bus, MtMessage};
use herald_rules::Carrier;
use herald_rules::model::{
    ContentAction, SenderChange, SenderSubject, UnsupportedCoding, is_numeric_sender,
    rewrite_sender,
};
use herald_smpp::CommandStatus;
use herald_smpp::pdu::SubmitSm;
use herald_smpp::text::{self, Alphabet, Encoding};
use herald_smpp::time::{AbsoluteTime, SmppTime};
use herald_smpp::types::{
    Address, COctetString, DataCoding, EsmClass, Npi, RegisteredDelivery, Ton,
};
use herald_smpp::{Tag, Tlv, Tlvs};
use herald_telemetry::names;

/// Most octets in `short_message` before the text goes to `message_payload`.
pub const MAX_SHORT_MESSAGE: usize = 254;
/// Most octets of user data in one SMS (a segment with its UDH).
const MAX_SEGMENT_OCTETS: usize = 140;

/// Why a message cannot be offered to a carrier as it is: a permanent failure for it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    /// The carrier's content policy refuses something the ESME set.
    #[error("the carrier's content policy does not allow {what}")]
    Content {
        /// The status that names it.
        status: CommandStatus,
        /// What, in words.
        what: String,
    },
    /// The carrier does not take this data coding and its policy is `reject`, or no
    /// accepted coding can carry the text.
    #[error("data_coding 0x{data_coding:02X} is not accepted by the carrier: {reason}")]
    Coding {
        /// The message's data coding.
        data_coding: u8,
        /// Why it could not be converted.
        reason: String,
    },
}

impl BuildError {
    /// The SMPP status that names the fault (the failure receipt's error code).
    pub fn status(&self) -> CommandStatus {
        match self {
            BuildError::Content { status, .. } => *status,
            BuildError::Coding { .. } => CommandStatus::ESME_RINVDCS,
        }
    }
}

/// The `submit_sm` for `mt` on `carrier` at `now`.
pub fn submit_sm(
    mt: &MtMessage,
    carrier: &Carrier,
    now: SystemTime,
) -> Result<SubmitSm, BuildError> {
    let policy = &carrier.content;
    let strip = policy.action == ContentAction::Strip;
    let refuse = |status: CommandStatus, what: String| {
        content_counter(&carrier.id, "refused").increment(1);
        BuildError::Content { status, what }
    };
    let mut protocol_id = u8::try_from(mt.protocol_id).unwrap_or(u8::MAX);
    if !policy.protocol_ids.contains(&protocol_id) {
        if !strip {
            return Err(refuse(
                CommandStatus::ESME_RPROHIBITED,
                format!("protocol_id 0x{protocol_id:02X}"),
            ));
        }
        content_counter(&carrier.id, "stripped").increment(1);
        protocol_id = 0;
    }
    let mut service_type = mt.service_type.as_str();
    if !policy.service_types.iter().any(|t| t == service_type) {
        if !strip {
            return Err(refuse(
                CommandStatus::ESME_RINVSERTYP,
                format!("service_type {service_type:?}"),
            ));
        }
        content_counter(&carrier.id, "stripped").increment(1);
        service_type = "";
    }
    let overrides = &carrier.addressing;
    let source = match rewritten_sender(mt, carrier) {
        Some(change) => {
            herald_telemetry::handles::counter(
                names::CONNECTOR_SENDERS_REWRITTEN_TOTAL,
                &[(names::labels::CARRIER, &carrier.id)],
            )
            .increment(1);
            let written = Address::sender(change.sender);
            Address::new(
                Ton(overrides.source_ton.unwrap_or(written.ton.0)),
                Npi(overrides.source_npi.unwrap_or(written.npi.0)),
                written.addr,
            )
        }
        None => address(
            mt.source.as_ref(),
            overrides.source_ton,
            overrides.source_npi,
        ),
    };
    let dest = address(
        mt.destination.as_ref(),
        overrides.destination_ton,
        overrides.destination_npi,
    );
    let esm_class = EsmClass(u8::try_from(mt.esm_class & 0xC3).unwrap_or(0));
    let (data_coding, user_data) = coding_for(mt, carrier, esm_class.udhi())?;
    let registered = u8::try_from(mt.registered_delivery & 0x1C).unwrap_or(0) | 0x01;
    let mut tlvs = Tlvs::new();
    for tlv in &mt.tlvs {
        let Ok(tag) = u16::try_from(tlv.tag) else {
            continue;
        };
        if !policy.tlvs.contains(&tag) {
            if !strip {
                return Err(refuse(
                    CommandStatus::ESME_RTLVNOTALLWD,
                    format!("TLV 0x{tag:04X}"),
                ));
            }
            content_counter(&carrier.id, "stripped").increment(1);
            continue;
        }
        tlvs.push(Tlv::new(Tag(tag), tlv.value.clone()));
    }
    let short_message = if user_data.len() <= MAX_SHORT_MESSAGE {
        user_data
    } else {
        tlvs.set(Tlv::new(Tag::MESSAGE_PAYLOAD, user_data));
        Bytes::new()
    };
    Ok(SubmitSm {
        service_type: c_string(service_type),
        source,
        dest,
        esm_class,
        protocol_id,
        priority_flag: u8::try_from(mt.priority).unwrap_or(0),
        schedule_delivery_time: smpp_time(mt.schedule_delivery_unix_ms, now),
        validity_period: smpp_time(mt.validity_unix_ms, now),
        registered_delivery: RegisteredDelivery(registered),
        replace_if_present_flag: 0,
        data_coding: DataCoding(data_coding),
        sm_default_msg_id: 0,
        short_message,
        tlvs,
    })
}

/// The counter of what the content policy did to `carrier`'s messages.
fn content_counter(carrier: &str, outcome: &'static str) -> metrics::Counter {
    herald_telemetry::handles::counter(
        names::CONNECTOR_CONTENT_POLICY_TOTAL,
        &[
            (names::labels::CARRIER, carrier),
            (names::labels::STATUS, outcome),
        ],
    )
}

/// Whether the message's validity ran out before it could be sent.
pub fn is_expired(mt: &MtMessage, now: SystemTime) -> bool {
    time_of(mt.validity_unix_ms).is_some_and(|validity| validity <= now)
}

/// The data coding and user data the carrier gets.
fn coding_for(mt: &MtMessage, carrier: &Carrier, udhi: bool) -> Result<(u8, Bytes), BuildError> {
    let data_coding = u8::try_from(mt.data_coding).unwrap_or(0);
    let payload = Bytes::from(mt.payload.clone());
    let policy = &carrier.data_coding;
    if policy.accepts(data_coding) {
        return Ok((data_coding, payload));
    }
    let refuse = |reason: &str| BuildError::Coding {
        data_coding,
        reason: reason.to_owned(),
    };
    if policy.unsupported == UnsupportedCoding::Reject {
        return Err(refuse("the carrier's policy is reject"));
    }
    let from = Encoding::from_data_coding(data_coding).map_err(|e| refuse(&e.to_string()))?;
    if !from.alphabet().is_text() {
        return Err(refuse("binary data cannot be converted"));
    }
    let (udh, body) = split_udh(&payload, udhi).ok_or_else(|| refuse("malformed UDH"))?;
    let text = text::decode(body, from).map_err(|e| refuse(&e.to_string()))?;
    for &accepted in &policy.accepted {
        let Ok(to) = Encoding::from_data_coding(accepted) else {
            continue;
        };
        if to.alphabet() == Alphabet::Binary {
            continue;
        }
        let Ok(encoded) = text::encode(&text, to) else {
            continue;
        };
        let mut out = Vec::with_capacity(udh.len() + encoded.len());
        out.extend_from_slice(udh);
        out.extend_from_slice(&encoded);
        // A segment must still fit one SMS; a whole message may use message_payload.
        if !udh.is_empty() && unit_octets(to, out.len()) > MAX_SEGMENT_OCTETS {
            continue;
        }
        return Ok((accepted, Bytes::from(out)));
    }
    Err(refuse("no accepted coding can carry the text"))
}

/// Octets a segment takes on the air: GSM 7-bit septets pack 8 into 7 octets.
fn unit_octets(encoding: Encoding, octets: usize) -> usize {
    match encoding {
        Encoding::Gsm7(_) => (octets * 7).div_ceil(8),
        _ => octets,
    }
}

/// The UDH (with its length octet) and the rest.
fn split_udh(payload: &[u8], udhi: bool) -> Option<(&[u8], &[u8])> {
    if !udhi {
        return Some((&[], payload));
    }
    let len = usize::from(*payload.first()?) + 1;
    (payload.len() >= len).then(|| payload.split_at(len))
}

/// A bus address as SMPP's, with overrides; characters above U+00FF cannot come from SMPP
/// and are replaced.
/// The sender `carrier`'s `senders` rules give `mt`, if one changes it. An empty
/// sender counts as alphanumeric: it is not a number, and a rule forcing numeric senders
/// gives it one.
fn rewritten_sender<'c>(mt: &MtMessage, carrier: &'c Carrier) -> Option<SenderChange<'c>> {
    if carrier.senders.is_empty() {
        return None;
    }
    let source = mt.source.as_ref();
    let sender = source.map_or("", |s| s.addr.as_str());
    let alphanumeric = source.is_some_and(|s| s.ton == u32::from(Ton::ALPHANUMERIC.0))
        || !is_numeric_sender(sender);
    let destination = mt.destination.as_ref().map_or("", |d| d.addr.as_str());
    let subject = SenderSubject {
        account: &mt.account_id,
        sender,
        alphanumeric,
        destination: destination.trim_start_matches('+'),
        network: mt
            .route
            .as_ref()
            .map(|r| r.network.as_str())
            .filter(|n| !n.is_empty()),
    };
    rewrite_sender(&carrier.senders, &subject)
}

fn address(address: Option<&bus::Address>, ton: Option<u8>, npi: Option<u8>) -> Address {
    let (addr, t, n) = match address {
        Some(a) => (
            a.addr.as_str(),
            u8::try_from(a.ton).unwrap_or(0),
            u8::try_from(a.npi).unwrap_or(0),
        ),
        None => ("", 0, 0),
    };
    Address::new(Ton(ton.unwrap_or(t)), Npi(npi.unwrap_or(n)), c_string(addr))
}

fn c_string(text: &str) -> COctetString {
    let octets: Vec<u8> = text
        .chars()
        .filter(|&c| c != '\0')
        .map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?'))
        .collect();
    COctetString::from_bytes(Bytes::from(octets)).unwrap_or_default()
}

fn time_of(unix_ms: i64) -> Option<SystemTime> {
    let ms = u64::try_from(unix_ms).ok().filter(|&ms| ms > 0)?;
    Some(UNIX_EPOCH + Duration::from_millis(ms))
}

/// An absolute SMPP time in UTC, or empty when absent or already past.
fn smpp_time(unix_ms: i64, now: SystemTime) -> COctetString {
    let Some(time) = time_of(unix_ms).filter(|&t| t > now) else {
        return COctetString::empty();
    };
    match AbsoluteTime::from_system_time(time, 0) {
        Ok(absolute) => {
            let bytes = SmppTime::Absolute(absolute).to_bytes();
            COctetString::from_bytes(Bytes::copy_from_slice(&bytes)).unwrap_or_default()
        }
        Err(_) => COctetString::empty(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;
    use herald_bus::lifecycle::unix_ms;
    use herald_smpp::receipt::MessageState;

    fn carrier(extra: serde_json::Value) -> Carrier {
        let mut json = serde_json::json!({
            "id": "c1", "host": "127.0.0.1", "port": 2775, "system_id": "herald",
            "password": {"env": "X"}, "throughput": {"tps": 10},
        });
        if let (Some(base), Some(extra)) = (json.as_object_mut(), extra.as_object()) {
            base.extend(extra.clone());
        }
        serde_json::from_value(json).unwrap()
    }

    fn mt() -> MtMessage {
        MtMessage {
            id: "M1".into(),
            account_id: "acme".into(),
            source: Some(bus::Address {
                addr: "ACMÉ".into(),
                ton: 5,
                npi: 0,
            }),
            destination: Some(bus::Address {
                addr: "447700900001".into(),
                ton: 1,
                npi: 1,
            }),
            esm_class: 0x40 | 0x04 | 0x03,
            registered_delivery: 0x02 | 0x10,
            data_coding: 0,
            payload: b"hello".to_vec(),
            ..MtMessage::default()
        }
    }

    #[test]
    fn fields_carry_over_with_overrides() {
        // The vendor TLV passes because this carrier's content policy lists it.
        let c = carrier(serde_json::json!({
            "addressing": {"source_ton": 1, "destination_npi": 9},
            "content": {"tlvs": [0x1403]},
        }));
        let now = SystemTime::now();
        let mut m = mt();
        m.esm_class = 0x03;
        m.tlvs = vec![bus::Tlv {
            tag: 0x1403,
            value: b"vendor".to_vec(),
        }];
        m.validity_unix_ms = unix_ms(now) + 3_600_000;
        m.schedule_delivery_unix_ms = unix_ms(now) - 1;
        let sm = submit_sm(&m, &c, now).unwrap();
        assert_eq!(sm.source.ton, Ton(1));
        assert_eq!(sm.source.npi, Npi(0));
        assert_eq!(sm.source.addr.as_bytes(), b"ACM\xC9");
        assert_eq!(sm.dest.npi, Npi(9));
        assert_eq!(sm.esm_class, EsmClass(0x03));
        // Final receipts always, the ESME's intermediate bit kept, its failure-only not.
        assert_eq!(sm.registered_delivery, RegisteredDelivery(0x11));
        assert_eq!(&sm.short_message[..], b"hello");
        assert_eq!(
            sm.tlvs.get(Tag(0x1403)).unwrap().value,
            Bytes::from_static(b"vendor")
        );
        assert!(sm.schedule_delivery_time.is_empty());
        let validity = SmppTime::parse(sm.validity_period.as_bytes()).unwrap();
        let SmppTime::Absolute(validity) = validity else {
            panic!()
        };
        let back = validity.to_system_time().unwrap();
        assert!(back.duration_since(now).unwrap() > Duration::from_secs(3590));
        assert!(!is_expired(&m, now));
        m.validity_unix_ms = unix_ms(now) - 1000;
        assert!(is_expired(&m, now));
        let _ = MessageState::Delivered;
    }

    #[test]
    fn the_content_policy_refuses_or_strips_what_it_does_not_allow() {
        let mut m = mt();
        m.esm_class = 0;
        let refusing = carrier(serde_json::json!({}));
        assert!(submit_sm(&m, &refusing, SystemTime::now()).is_ok());
        // A silent SMS (protocol_id 0x40), by default.
        m.protocol_id = 0x40;
        let refused = submit_sm(&m, &refusing, SystemTime::now()).unwrap_err();
        assert_eq!(refused.status(), CommandStatus::ESME_RPROHIBITED);
        assert!(
            refused.to_string().contains("protocol_id 0x40"),
            "{refused}"
        );
        m.protocol_id = 0;
        // A vendor TLV not listed; a standard one passes.
        m.tlvs = vec![
            bus::Tlv {
                tag: 0x020A,
                value: vec![0, 80],
            },
            bus::Tlv {
                tag: 0x1403,
                value: b"vendor".to_vec(),
            },
        ];
        let refused = submit_sm(&m, &refusing, SystemTime::now()).unwrap_err();
        assert_eq!(refused.status(), CommandStatus::ESME_RTLVNOTALLWD);
        m.service_type = "XYZ".into();
        let stripping = carrier(serde_json::json!({"content": {"action": "strip"}}));
        m.protocol_id = 0x41;
        let sm = submit_sm(&m, &stripping, SystemTime::now()).unwrap();
        assert_eq!(sm.protocol_id, 0);
        assert!(sm.service_type.is_empty());
        assert!(sm.tlvs.get(Tag(0x1403)).is_none());
        assert!(sm.tlvs.get(Tag(0x020A)).is_some());
        m.protocol_id = 0;
        let refused = submit_sm(&m, &refusing, SystemTime::now()).unwrap_err();
        assert!(matches!(
            refused.status(),
            CommandStatus::ESME_RINVSERTYP | CommandStatus::ESME_RTLVNOTALLWD
        ));
    }

    #[test]
    fn long_payloads_go_to_message_payload() {
        let mut m = mt();
        m.esm_class = 0;
        m.payload = vec![b'a'; 300];
        let sm = submit_sm(&m, &carrier(serde_json::json!({})), SystemTime::now()).unwrap();
        assert!(sm.short_message.is_empty());
        assert_eq!(sm.tlvs.message_payload().unwrap().len(), 300);
    }

    #[test]
    fn unsupported_codings_are_converted_or_refused() {
        let mut m = mt();
        m.esm_class = 0;
        m.data_coding = 8;
        m.payload = text::encode("hâllo", Encoding::Ucs2).unwrap();
        let convert = carrier(serde_json::json!({"data_coding": {"accepted": [0, 3]}}));
        let sm = submit_sm(&m, &convert, SystemTime::now()).unwrap();
        assert_eq!(sm.data_coding, DataCoding(3));
        assert_eq!(&sm.short_message[..], b"h\xE2llo");
        // A character only UCS-2 has cannot be converted.
        m.payload = text::encode("日本", Encoding::Ucs2).unwrap();
        assert!(submit_sm(&m, &convert, SystemTime::now()).is_err());
        let reject =
            carrier(serde_json::json!({"data_coding": {"accepted": [0], "unsupported": "reject"}}));
        assert!(matches!(
            submit_sm(&m, &reject, SystemTime::now()),
            Err(BuildError::Coding { data_coding: 8, .. })
        ));
        // Binary data never converts.
        m.data_coding = 4;
        assert!(submit_sm(&m, &convert, SystemTime::now()).is_err());
    }

    #[test]
    fn a_converted_segment_keeps_its_udh() {
        let mut m = mt();
        m.esm_class = 0x40;
        m.data_coding = 3;
        let mut payload = vec![5, 0, 3, 7, 2, 1];
        payload.extend_from_slice(b"plain text");
        m.payload = payload;
        let c = carrier(serde_json::json!({"data_coding": {"accepted": [0]}}));
        let sm = submit_sm(&m, &c, SystemTime::now()).unwrap();
        assert_eq!(sm.data_coding, DataCoding(0));
        assert_eq!(&sm.short_message[..6], &[5, 0, 3, 7, 2, 1]);
        assert_eq!(sm.short_message.len(), 16);
    }

    #[test]
    fn a_carriers_sender_rules_rewrite_the_source_then_its_overrides_apply() {
        let c = carrier(serde_json::json!({
            "addressing": {"source_npi": 9},
            "senders": [
                {"match": {"networks": ["234-15"]}, "action": {"type": "replace", "sender": "VODA"}},
                {"match": {"destination_prefixes": ["44"]},
                 "action": {"type": "numeric", "pool": ["+447700900100"]}},
            ],
        }));
        // Alphanumeric to a UK number: the pool's number, international, NPI overridden.
        let sm = submit_sm(&mt(), &c, SystemTime::now()).unwrap();
        assert_eq!(sm.source.addr.as_bytes(), b"447700900100");
        assert_eq!((sm.source.ton, sm.source.npi), (Ton(1), Npi(9)));
        // The network the router found picks the first rule.
        let mut routed = mt();
        routed.route = Some(bus::RouteDecision {
            network: "234-15".into(),
            ..bus::RouteDecision::default()
        });
        let sm = submit_sm(&routed, &c, SystemTime::now()).unwrap();
        assert_eq!(sm.source.addr.as_bytes(), b"VODA");
        assert_eq!((sm.source.ton, sm.source.npi), (Ton(5), Npi(9)));
        // A numeric sender is not touched by the numeric rule.
        let mut numeric = mt();
        numeric.source = Some(bus::Address {
            addr: "447700900555".into(),
            ton: 1,
            npi: 1,
        });
        let sm = submit_sm(&numeric, &c, SystemTime::now()).unwrap();
        assert_eq!(sm.source.addr.as_bytes(), b"447700900555");
        // Another carrier, no rules: the sender as submitted.
        let plain = submit_sm(&mt(), &carrier(serde_json::json!({})), SystemTime::now()).unwrap();
        assert_eq!(plain.source.addr.as_bytes(), b"ACM\xC9");
    }
}
