//! Checking a `submit_sm` (and the `data_sm` and `submit_multi` fields that share its
//! meaning) and turning it into the bus envelope.
//!
//! Each fault gets the status the specification names for it, so an ESME's log says what
//! to fix: a bad destination is `ESME_RINVDSTADR`, not a generic failure. Herald is
//! liberal where real traffic is sloppy (a 21-character or Latin-1 alphanumeric sender,
//! a vendor TLV, a TLV of odd length pass through) and strict where a wrong guess would
//! send the wrong text to a phone.
//!
//! | check | status |
//! | --- | --- |
//! | source TON / NPI outside the tables | `ESME_RINVSRCTON` / `ESME_RINVSRCNPI` |
//! | numeric source with non-digits, or over 20 digits | `ESME_RINVSRCADR` |
//! | destination TON / NPI outside the tables | `ESME_RINVDSTTON` / `ESME_RINVDSTNPI` |
//! | destination empty, alphanumeric, non-digits, or over 20 digits | `ESME_RINVDSTADR` |
//! | `esm_class` message type not one an ESME may submit | `ESME_RINVESMCLASS` |
//! | UDHI set without a well-formed UDH | `ESME_RINVESMCLASS` |
//! | `priority_flag` above 4 | `ESME_RINVPRTFLG` |
//! | `registered_delivery` reserved bits set | `ESME_RINVREGDLVFLG` |
//! | `replace_if_present_flag` not 0 (replacement is not offered) | `ESME_RINVREPFLAG` or `ESME_RINVSUBREP` |
//! | `data_coding` reserved | `ESME_RINVDCS` |
//! | `sm_default_msg_id` not 0 (no canned messages) | `ESME_RINVDFTMSGID` |
//! | both `short_message` and `message_payload`, or no text at all | `ESME_RINVMSGLEN` |
//! | SAR TLVs incomplete or numbering 0 or past the total | `ESME_RINVTLVVAL` |
//! | schedule time malformed | `ESME_RINVSCHED` |
//! | validity period malformed, or already past | `ESME_RINVEXPIRY` |

use std::time::SystemTime;

use herald_bus::lifecycle::unix_ms;

use bytes::Bytes;
use herald_proto::bus::v1 as bus;
use herald_smpp::concat::{ConcatInfo, parse_udh};
use herald_smpp::pdu::SubmitSm;
use herald_smpp::text::{self, Encoding, lookalike};
use herald_smpp::time::SmppTime;
use herald_smpp::types::{Address, DataCoding, EsmClass, Npi, Ton};
use herald_smpp::{CommandStatus, Tag, Tlv, Tlvs};

/// Longest address Herald accepts, in characters (the C-octet field's 21 minus the NUL).
const MAX_ADDRESS_LEN: usize = 20;

/// A request Herald refuses, with the status to answer and a reason for the log.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{status}: {reason}")]
pub struct Rejection {
    /// The `command_status` of the response.
    pub status: CommandStatus,
    /// What was wrong, for logs and the HTTP API.
    pub reason: &'static str,
}

fn reject(status: CommandStatus, reason: &'static str) -> Rejection {
    Rejection { status, reason }
}

/// What checking found out about a valid message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckedSubmit {
    /// The user data: `short_message`, or `message_payload`'s content.
    pub user_data: Bytes,
    /// Its place in a concatenated message, from the UDH or the SAR TLVs.
    pub segment: Option<ConcatInfo>,
    /// When to deliver, if the ESME asked for later.
    pub schedule: Option<SystemTime>,
    /// When to give up, if the ESME said.
    pub validity: Option<SystemTime>,
    /// The route that takes it and that route's quota, when the route has one (set by
    /// the edge's route check; most routes have none, and cost nothing here).
    pub route_quota: Option<(String, herald_rules::Quota)>,
}

/// Checks `sm` as received at `now`. Account policies (sender ids, quotas, routes) are
/// checked by the caller.
pub fn check_submit(sm: &SubmitSm, now: SystemTime) -> Result<CheckedSubmit, Rejection> {
    check_source(&sm.source)?;
    check_destination(&sm.dest)?;
    check_esm_class(sm.esm_class.0)?;
    if sm.priority_flag > 4 {
        return Err(reject(
            CommandStatus::ESME_RINVPRTFLG,
            "priority_flag above 4",
        ));
    }
    if !sm.registered_delivery.is_valid() {
        return Err(reject(
            CommandStatus::ESME_RINVREGDLVFLG,
            "registered_delivery has reserved bits set",
        ));
    }
    match sm.replace_if_present_flag {
        0 => {}
        1 => {
            return Err(reject(
                CommandStatus::ESME_RINVSUBREP,
                "submit with replace is not offered; use replace_sm",
            ));
        }
        _ => {
            return Err(reject(
                CommandStatus::ESME_RINVREPFLAG,
                "replace_if_present_flag not 0 or 1",
            ));
        }
    }
    check_data_coding(sm.data_coding.0)?;
    if sm.sm_default_msg_id != 0 {
        return Err(reject(
            CommandStatus::ESME_RINVDFTMSGID,
            "no predefined messages are configured",
        ));
    }
    let user_data = match (sm.short_message.is_empty(), sm.tlvs.message_payload()) {
        (false, Some(_)) => {
            return Err(reject(
                CommandStatus::ESME_RINVMSGLEN,
                "short_message and message_payload are both set",
            ));
        }
        (true, Some(payload)) => payload.clone(),
        (false, None) => sm.short_message.clone(),
        (true, None) => {
            return Err(reject(
                CommandStatus::ESME_RINVMSGLEN,
                "the message has no text",
            ));
        }
    };
    let segment = check_segmentation(sm.esm_class.udhi(), &user_data, sm)?;
    let schedule = SmppTime::parse_optional(sm.schedule_delivery_time.as_bytes())
        .and_then(|t| t.map(|t| t.resolve(now)).transpose())
        .map_err(|_| {
            reject(
                CommandStatus::ESME_RINVSCHED,
                "schedule_delivery_time malformed",
            )
        })?;
    let validity = SmppTime::parse_optional(sm.validity_period.as_bytes())
        .and_then(|t| t.map(|t| t.resolve(now)).transpose())
        .map_err(|_| reject(CommandStatus::ESME_RINVEXPIRY, "validity_period malformed"))?;
    if validity.is_some_and(|v| v <= now || schedule.is_some_and(|s| v <= s)) {
        return Err(reject(
            CommandStatus::ESME_RINVEXPIRY,
            "validity_period ends before the message could be delivered",
        ));
    }
    Ok(CheckedSubmit {
        user_data,
        segment,
        schedule,
        validity,
        route_quota: None,
    })
}

fn check_source(source: &Address) -> Result<(), Rejection> {
    if !source.ton.is_standard() {
        return Err(reject(
            CommandStatus::ESME_RINVSRCTON,
            "source_addr_ton unknown",
        ));
    }
    if !source.npi.is_standard() {
        return Err(reject(
            CommandStatus::ESME_RINVSRCNPI,
            "source_addr_npi unknown",
        ));
    }
    let addr = source.addr.as_bytes();
    // An empty source is the account's default sender's absence (filled in before, by
    // [`default_sender`]): the carrier fills it in. Alphanumeric senders pass as they
    // are, however long or whatever their bytes (carriers truncate or reject).
    if addr.is_empty() || source.ton == Ton::ALPHANUMERIC {
        return Ok(());
    }
    if !is_number(addr) {
        return Err(reject(
            CommandStatus::ESME_RINVSRCADR,
            "numeric source_addr must be up to 20 digits, optionally after +",
        ));
    }
    Ok(())
}

fn check_destination(dest: &Address) -> Result<(), Rejection> {
    if !dest.ton.is_standard() {
        return Err(reject(
            CommandStatus::ESME_RINVDSTTON,
            "dest_addr_ton unknown",
        ));
    }
    if !dest.npi.is_standard() {
        return Err(reject(
            CommandStatus::ESME_RINVDSTNPI,
            "dest_addr_npi unknown",
        ));
    }
    if dest.ton == Ton::ALPHANUMERIC {
        return Err(reject(
            CommandStatus::ESME_RINVDSTADR,
            "a phone has no alphanumeric address",
        ));
    }
    if dest.npi == Npi::INTERNET || dest.npi == Npi::WAP_CLIENT_ID {
        return Err(reject(
            CommandStatus::ESME_RINVDSTNPI,
            "only telephone numbers are routed",
        ));
    }
    if !is_number(dest.addr.as_bytes()) {
        return Err(reject(
            CommandStatus::ESME_RINVDSTADR,
            "destination_addr must be 1 to 20 digits, optionally after +",
        ));
    }
    Ok(())
}

fn is_number(addr: &[u8]) -> bool {
    let digits = addr.strip_prefix(b"+").unwrap_or(addr);
    !digits.is_empty() && digits.len() <= MAX_ADDRESS_LEN && digits.iter().all(u8::is_ascii_digit)
}

fn check_esm_class(esm_class: u8) -> Result<(), Rejection> {
    // Message type (bits 5-2): a normal message, or the two acknowledgement types SMPP
    // lets an ESME submit. Receipts and notifications are the SMSC's to send.
    match esm_class & 0x3C {
        0x00 | 0x08 | 0x10 => Ok(()),
        _ => Err(reject(
            CommandStatus::ESME_RINVESMCLASS,
            "esm_class message type not submittable",
        )),
    }
}

fn check_data_coding(data_coding: u8) -> Result<(), Rejection> {
    match data_coding {
        // SMPP's reserved values and 23.038's reserved coding groups.
        0x0B | 0x0C | 0x0F | 0x80..=0xBF => Err(reject(
            CommandStatus::ESME_RINVDCS,
            "data_coding is reserved",
        )),
        _ => Ok(()),
    }
}

fn check_segmentation(
    udhi: bool,
    user_data: &Bytes,
    sm: &SubmitSm,
) -> Result<Option<ConcatInfo>, Rejection> {
    let from_udh = if udhi {
        let udh = parse_udh(user_data).map_err(|_| {
            reject(
                CommandStatus::ESME_RINVESMCLASS,
                "UDHI is set but the UDH is malformed",
            )
        })?;
        // An invalid concatenation IE is ignored, as 23.040 tells handsets to do: the
        // message passes as a single one.
        udh.concat()
    } else {
        None
    };
    let sar = [
        Tag::SAR_MSG_REF_NUM,
        Tag::SAR_TOTAL_SEGMENTS,
        Tag::SAR_SEGMENT_SEQNUM,
    ]
    .map(|tag| sm.tlvs.get(tag).is_some());
    let from_sar = match (sm.tlvs.sar(), sar) {
        (Some((reference, total, seq)), _) => {
            Some(ConcatInfo::new(reference, total, seq).map_err(|_| {
                reject(
                    CommandStatus::ESME_RINVTLVVAL,
                    "SAR segment numbered 0 or past its total",
                )
            })?)
        }
        (None, [false, false, false]) => None,
        (None, _) => {
            return Err(reject(
                CommandStatus::ESME_RINVTLVVAL,
                "sar_msg_ref_num, sar_total_segments and sar_segment_seqnum go together",
            ));
        }
    };
    Ok(from_udh.or(from_sar))
}

/// The ESME's `user_message_reference` TLV (its own reference for the message), if sent.
fn user_message_reference(sm: &SubmitSm) -> Option<u16> {
    let tlv = sm
        .tlvs
        .iter()
        .find(|t| t.tag == Tag::USER_MESSAGE_REFERENCE)?;
    Some(u16::from_be_bytes(tlv.value.get(..2)?.try_into().ok()?))
}

/// The bus envelope of a checked message.
#[derive(Clone, Copy, Debug)]
pub struct Origin<'a> {
    /// The Herald message id given to the ESME.
    pub message_id: &'a str,
    /// The account that bound the session.
    pub account_id: &'a str,
    /// This edge's node id.
    pub edge_node: &'a str,
    /// When the edge accepted it.
    pub accepted: SystemTime,
}

/// Builds the envelope routers consume. TLVs other than the ones Herald consumed
/// (`message_payload`, carried as the payload) travel through unchanged and in order.
pub fn envelope(sm: &SubmitSm, checked: &CheckedSubmit, origin: Origin<'_>) -> bus::MtMessage {
    let tlvs = sm
        .tlvs
        .iter()
        .filter(|tlv| tlv.tag != Tag::MESSAGE_PAYLOAD)
        .map(|tlv| bus::Tlv {
            tag: u32::from(tlv.tag.0),
            value: tlv.value.to_vec(),
        })
        .collect();
    bus::MtMessage {
        id: origin.message_id.to_owned(),
        account_id: origin.account_id.to_owned(),
        source: Some(address(&sm.source)),
        destination: Some(address(&sm.dest)),
        service_type: sm.service_type.to_string_lossy(),
        esm_class: u32::from(sm.esm_class.0),
        protocol_id: u32::from(sm.protocol_id),
        priority: u32::from(sm.priority_flag),
        data_coding: u32::from(sm.data_coding.0),
        payload: checked.user_data.to_vec(),
        registered_delivery: u32::from(sm.registered_delivery.0),
        schedule_delivery_unix_ms: checked.schedule.map_or(0, unix_ms),
        validity_unix_ms: checked.validity.map_or(0, unix_ms),
        tlvs,
        segment: checked.segment.map(|s| bus::Segment {
            reference: u32::from(s.reference),
            total: u32::from(s.total),
            seq: u32::from(s.seq),
        }),
        accepted_unix_ms: unix_ms(origin.accepted),
        attempt: 0,
        route: None,
        failed_carriers: Vec::new(),
        edge_node: origin.edge_node.to_owned(),
        receipt_reroutes: 0,
        // The account's `priority_lane` decides; the caller has the account.
        urgent: false,
        client_ref: user_message_reference(sm).map_or_else(String::new, |r| r.to_string()),
    }
}

/// An SMPP address as the bus carries it. Non-UTF-8 octets (a Latin-1 sender name) are
/// kept as Latin-1 characters, so the connector can write back the same octets.
pub fn address(address: &Address) -> bus::Address {
    bus::Address {
        addr: address.addr.to_string_lossy(),
        ton: u32::from(address.ton.0),
        npi: u32::from(address.npi.0),
    }
}

/// Text in `data_coding` 0 from an account whose `default_alphabet` is not GSM 7-bit
/// gets that alphabet's explicit coding (Latin-1 0x03, IA5 0x01), before anything reads
/// it: the checks, the parts count, the bus, a carrier's conversion.
pub(crate) fn default_alphabet(account: &herald_rules::Account, data_coding: &mut DataCoding) {
    if data_coding.0 == 0 {
        data_coding.0 = account.default_alphabet.data_coding();
    }
}

/// The longest `short_message`; a longer text goes in `message_payload`.
const MAX_SHORT_MESSAGE: usize = 254;

/// UCS-2 text from an account with `transliterate` goes in GSM 7-bit (unpacked septets,
/// `data_coding` 0) when replacing its typographic look-alikes is all that takes
/// ([`lookalike::to_gsm7`]), before anything reads it: the checks, the parts count, the
/// bus. A segment of a message the ESME split (a UDH, SAR TLVs) is left alone: its
/// siblings were counted in UCS-2 and re-encoding one would change where they break.
/// A text that outgrows `short_message` (three dots for each `…`) moves to
/// `message_payload`.
pub(crate) fn transliterate(
    account: &herald_rules::Account,
    data_coding: &mut DataCoding,
    esm_class: EsmClass,
    short_message: &mut Bytes,
    tlvs: &mut Tlvs,
) {
    if !account.transliterate
        || data_coding.0 != 0x08
        || esm_class.udhi()
        || [
            Tag::SAR_MSG_REF_NUM,
            Tag::SAR_TOTAL_SEGMENTS,
            Tag::SAR_SEGMENT_SEQNUM,
        ]
        .into_iter()
        .any(|tag| tlvs.get(tag).is_some())
    {
        return;
    }
    let in_payload = short_message.is_empty();
    let ucs2 = match (in_payload, tlvs.message_payload()) {
        (true, Some(payload)) => payload.clone(),
        (false, None) => short_message.clone(),
        // Both or neither: the checks refuse it as it came.
        _ => return,
    };
    let Some(septets) = text::decode(&ucs2, Encoding::Ucs2)
        .ok()
        .and_then(|text| lookalike::to_gsm7(&text))
        .and_then(|text| text::encode(&text, Encoding::GSM7).ok())
    else {
        return;
    };
    data_coding.0 = 0;
    if in_payload || septets.len() > MAX_SHORT_MESSAGE {
        *short_message = Bytes::new();
        tlvs.set(Tlv::new(Tag::MESSAGE_PAYLOAD, septets));
    } else {
        *short_message = Bytes::from(septets);
    }
}

/// An empty source takes the account's `default_sender`, if it has one: before the
/// sender policy, routing and the envelope see the message.
pub(crate) fn default_sender(account: &herald_rules::Account, source: &mut Address) {
    if source.addr.is_empty()
        && let Some(default) = account.default_source()
    {
        *source = default;
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use herald_smpp::Tlv;
    use herald_smpp::types::{COctetString, DataCoding, EsmClass, RegisteredDelivery};

    use super::*;

    fn now() -> SystemTime {
        std::time::UNIX_EPOCH + Duration::from_secs(1_764_115_200)
    }

    fn valid() -> SubmitSm {
        SubmitSm {
            source: Address::alphanumeric("Herald"),
            dest: Address::international("447700900001"),
            registered_delivery: RegisteredDelivery(1),
            short_message: Bytes::from_static(b"hello"),
            ..Default::default()
        }
    }

    fn status_of(edit: impl FnOnce(&mut SubmitSm)) -> CommandStatus {
        let mut sm = valid();
        edit(&mut sm);
        match check_submit(&sm, now()) {
            Ok(_) => CommandStatus::ESME_ROK,
            Err(rejection) => rejection.status,
        }
    }

    fn addr(ton: u8, npi: u8, text: &'static str) -> Address {
        Address::new(Ton(ton), Npi(npi), COctetString::from_static(text))
    }

    /// A named edit of a valid message and the status it must get.
    type Case = (&'static str, Box<dyn FnOnce(&mut SubmitSm)>, CommandStatus);

    #[test]
    fn each_fault_gets_its_own_status() {
        use CommandStatus as S;
        let cases: Vec<Case> = vec![
            ("valid", Box::new(|_| {}), S::ESME_ROK),
            (
                "empty source",
                Box::new(|sm| sm.source = addr(0, 0, "")),
                S::ESME_ROK,
            ),
            (
                "numeric source",
                Box::new(|sm| sm.source = addr(1, 1, "+4477")),
                S::ESME_ROK,
            ),
            (
                "21-char alphanumeric source",
                Box::new(|sm| sm.source = addr(5, 0, "ABCDEFGHIJKLMNOPQRSTU")),
                S::ESME_ROK,
            ),
            (
                "source ton 7",
                Box::new(|sm| sm.source = addr(7, 0, "1")),
                S::ESME_RINVSRCTON,
            ),
            (
                "source npi 2",
                Box::new(|sm| sm.source = addr(1, 2, "1")),
                S::ESME_RINVSRCNPI,
            ),
            (
                "letters in numeric source",
                Box::new(|sm| sm.source = addr(1, 1, "44x")),
                S::ESME_RINVSRCADR,
            ),
            (
                "dest ton 9",
                Box::new(|sm| sm.dest = addr(9, 1, "44")),
                S::ESME_RINVDSTTON,
            ),
            (
                "dest npi 5",
                Box::new(|sm| sm.dest = addr(1, 5, "44")),
                S::ESME_RINVDSTNPI,
            ),
            (
                "dest internet npi",
                Box::new(|sm| sm.dest = addr(0, 14, "44")),
                S::ESME_RINVDSTNPI,
            ),
            (
                "empty dest",
                Box::new(|sm| sm.dest = addr(1, 1, "")),
                S::ESME_RINVDSTADR,
            ),
            (
                "alphanumeric dest",
                Box::new(|sm| sm.dest = addr(5, 0, "Bob")),
                S::ESME_RINVDSTADR,
            ),
            (
                "dest with a dash",
                Box::new(|sm| sm.dest = addr(1, 1, "44-7700")),
                S::ESME_RINVDSTADR,
            ),
            (
                "21-digit dest",
                Box::new(|sm| sm.dest = addr(1, 1, "123456789012345678901")),
                S::ESME_RINVDSTADR,
            ),
            (
                "receipt esm_class",
                Box::new(|sm| sm.esm_class = EsmClass(0x04)),
                S::ESME_RINVESMCLASS,
            ),
            (
                "user ack esm_class",
                Box::new(|sm| sm.esm_class = EsmClass(0x10)),
                S::ESME_ROK,
            ),
            (
                "priority 5",
                Box::new(|sm| sm.priority_flag = 5),
                S::ESME_RINVPRTFLG,
            ),
            (
                "registered_delivery reserved bits",
                Box::new(|sm| sm.registered_delivery = RegisteredDelivery(0x21)),
                S::ESME_RINVREGDLVFLG,
            ),
            (
                "replace flag 1",
                Box::new(|sm| sm.replace_if_present_flag = 1),
                S::ESME_RINVSUBREP,
            ),
            (
                "replace flag 2",
                Box::new(|sm| sm.replace_if_present_flag = 2),
                S::ESME_RINVREPFLAG,
            ),
            (
                "reserved coding 0x0B",
                Box::new(|sm| sm.data_coding = DataCoding(0x0B)),
                S::ESME_RINVDCS,
            ),
            (
                "reserved group 0x80",
                Box::new(|sm| sm.data_coding = DataCoding(0x80)),
                S::ESME_RINVDCS,
            ),
            (
                "Cyrillic 0x06 passes",
                Box::new(|sm| sm.data_coding = DataCoding(0x06)),
                S::ESME_ROK,
            ),
            (
                "canned message",
                Box::new(|sm| sm.sm_default_msg_id = 3),
                S::ESME_RINVDFTMSGID,
            ),
            (
                "no text",
                Box::new(|sm| sm.short_message = Bytes::new()),
                S::ESME_RINVMSGLEN,
            ),
            (
                "text in both places",
                Box::new(|sm| sm.tlvs.push(Tlv::new(Tag::MESSAGE_PAYLOAD, &b"x"[..]))),
                S::ESME_RINVMSGLEN,
            ),
            (
                "text in message_payload only",
                Box::new(|sm| {
                    sm.short_message = Bytes::new();
                    sm.tlvs
                        .push(Tlv::new(Tag::MESSAGE_PAYLOAD, vec![b'x'; 1000]));
                }),
                S::ESME_ROK,
            ),
            (
                "UDHI without a UDH",
                Box::new(|sm| {
                    sm.esm_class = EsmClass(0x40);
                    sm.short_message = Bytes::from_static(&[0x09, 0x00, 0x03]);
                }),
                S::ESME_RINVESMCLASS,
            ),
            (
                "concatenation IE segment 3 of 2 (ignored, as 23.040 says)",
                Box::new(|sm| {
                    sm.esm_class = EsmClass(0x40);
                    sm.short_message = Bytes::from_static(&[5, 0, 3, 0x2A, 2, 3, b'h', b'i']);
                }),
                S::ESME_ROK,
            ),
            (
                "SAR without its total",
                Box::new(|sm| {
                    sm.tlvs.push(Tlv::u16(Tag::SAR_MSG_REF_NUM, 7));
                    sm.tlvs.push(Tlv::u8(Tag::SAR_SEGMENT_SEQNUM, 1));
                }),
                S::ESME_RINVTLVVAL,
            ),
            (
                "SAR segment 0",
                Box::new(|sm| {
                    sm.tlvs.push(Tlv::u16(Tag::SAR_MSG_REF_NUM, 7));
                    sm.tlvs.push(Tlv::u8(Tag::SAR_TOTAL_SEGMENTS, 2));
                    sm.tlvs.push(Tlv::u8(Tag::SAR_SEGMENT_SEQNUM, 0));
                }),
                S::ESME_RINVTLVVAL,
            ),
            (
                "malformed schedule",
                Box::new(|sm| sm.schedule_delivery_time = COctetString::from_static("2611251200")),
                S::ESME_RINVSCHED,
            ),
            (
                "malformed validity",
                Box::new(|sm| sm.validity_period = COctetString::from_static("0000000100000X")),
                S::ESME_RINVEXPIRY,
            ),
            (
                "validity already past",
                Box::new(|sm| sm.validity_period = COctetString::from_static("251125120000000+")),
                S::ESME_RINVEXPIRY,
            ),
            (
                "relative validity of one hour",
                Box::new(|sm| sm.validity_period = COctetString::from_static("000000010000000R")),
                S::ESME_ROK,
            ),
        ];
        let mut wrong = Vec::new();
        for (name, edit, expected) in cases {
            let got = status_of(edit);
            if got != expected {
                wrong.push(format!("{name}: expected {expected}, got {got}"));
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }

    #[test]
    fn segments_come_from_the_udh_or_the_sar_tlvs() {
        let mut sm = valid();
        sm.esm_class = EsmClass(0x40);
        sm.short_message = Bytes::from_static(&[5, 0, 3, 0x2A, 2, 1, b'h', b'i']);
        let checked = check_submit(&sm, now()).unwrap();
        assert_eq!(checked.segment, Some(ConcatInfo::new(0x2A, 2, 1).unwrap()));

        let mut sm = valid();
        sm.tlvs.push(Tlv::u16(Tag::SAR_MSG_REF_NUM, 700));
        sm.tlvs.push(Tlv::u8(Tag::SAR_TOTAL_SEGMENTS, 3));
        sm.tlvs.push(Tlv::u8(Tag::SAR_SEGMENT_SEQNUM, 3));
        let checked = check_submit(&sm, now()).unwrap();
        assert_eq!(checked.segment, Some(ConcatInfo::new(700, 3, 3).unwrap()));
    }

    #[test]
    fn the_envelope_carries_every_field_and_passes_vendor_tlvs_through() {
        let mut sm = valid();
        sm.source = Address::new(
            Ton::ALPHANUMERIC,
            Npi::UNKNOWN,
            COctetString::from_bytes(Bytes::from_static(b"Caf\xe9")).unwrap(),
        );
        sm.short_message = Bytes::new();
        sm.tlvs.push(Tlv::new(Tag(0x1401), &[1, 2, 3][..]));
        sm.tlvs
            .push(Tlv::new(Tag::MESSAGE_PAYLOAD, &b"long text"[..]));
        sm.tlvs.push(Tlv::u16(Tag::USER_MESSAGE_REFERENCE, 9));
        sm.validity_period = COctetString::from_static("000000010000000R");
        let checked = check_submit(&sm, now()).unwrap();
        let mt = envelope(
            &sm,
            &checked,
            Origin {
                message_id: "01JD0000000000000000",
                account_id: "acme",
                edge_node: "edge-0",
                accepted: now(),
            },
        );
        assert_eq!(mt.payload, b"long text");
        assert_eq!(mt.client_ref, "9", "user_message_reference, in decimal");
        assert_eq!(
            mt.source.as_ref().unwrap().addr,
            "Café",
            "Latin-1 octets kept one to one"
        );
        assert_eq!(mt.destination.as_ref().unwrap().addr, "447700900001");
        let tags: Vec<u32> = mt.tlvs.iter().map(|t| t.tag).collect();
        assert_eq!(tags, [0x1401, u32::from(Tag::USER_MESSAGE_REFERENCE.0)]);
        assert_eq!(mt.validity_unix_ms, 1_764_115_200_000 + 3_600_000);
        assert_eq!(mt.accepted_unix_ms, 1_764_115_200_000);
        assert_eq!(mt.registered_delivery, 1);
    }
}
