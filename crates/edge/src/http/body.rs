//! The body of `POST /v1/messages`, read into a [`Submission`]: the JSON parsed and
//! checked field by field, the text encoded (GSM 7-bit or UCS-2) and split into
//! concatenated segments, the sender, destinations and validity turned into the SMPP
//! fields a `submit_sm` would carry. Nothing here touches the bus or the rules.

use std::time::SystemTime;

use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use herald_smpp::CommandStatus;
use herald_smpp::concat::{Segment, SplitForm, SplitOptions, split_text};
use herald_smpp::pdu::SubmitSm;
use herald_smpp::text::{self, ConcatReference, Encoding, PlanOptions, lookalike};
use herald_smpp::time::{AbsoluteTime, SmppTime};
use herald_smpp::types::{
    Address, COctetString, DataCoding, EsmClass, Npi, RegisteredDelivery, Ton,
};
use humantime_serde::re::humantime;
use serde::Deserialize;

use super::answer::ApiError;
use super::{MAX_BODY_OCTETS, MAX_DESTINATIONS};

/// Longest `client_ref`.
const MAX_CLIENT_REF: usize = 64;

/// Longest source address, in octets: the SMPP field's 21 less its NUL.
const MAX_SOURCE_OCTETS: usize = 20;

/// The body of `POST /v1/messages`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SubmitBody {
    /// The sender: `+` and digits (international), digits, or a name; absent: the
    /// account's default.
    #[serde(default)]
    from: Option<String>,
    /// One destination or a list.
    to: Destinations,
    /// The text, in any Unicode.
    text: String,
    /// Whether to ask for a delivery receipt; default yes.
    #[serde(default)]
    registered_delivery: Option<bool>,
    /// How long the message may wait for delivery (humantime: `90m`, `1h`, `2d`).
    #[serde(default)]
    validity: Option<String>,
    /// `auto` (default), `gsm7` or `ucs2`.
    #[serde(default)]
    coding: Option<String>,
    /// The caller's own reference for the message, returned in its receipts; at most 64
    /// printable ASCII characters.
    #[serde(default)]
    client_ref: Option<String>,
    /// SMPP's `priority_flag`, 0 (default) to 3: 1 and above go in the urgent lane unless
    /// the account's `priority_lane` says otherwise, and reach the carrier as the flag.
    #[serde(default)]
    priority: Option<u8>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Destinations {
    One(String),
    Many(Vec<String>),
}

/// A text coding the caller may ask for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Coding {
    /// The cheapest: GSM 7-bit when every character has a code, else UCS-2.
    Auto,
    Gsm7,
    Ucs2,
}

/// A validated request: what every destination's messages are made of.
#[derive(Debug)]
pub(super) struct Submission {
    source: Address,
    /// As the caller wrote them, for the answer.
    pub(super) destinations: Vec<String>,
    registered_delivery: RegisteredDelivery,
    validity_period: COctetString,
    data_coding: DataCoding,
    priority_flag: u8,
    pub(super) client_ref: Option<String>,
    pub(super) segments: Vec<Segment>,
}

impl Submission {
    /// Without a `from`, the account's `default_sender` (if it has one).
    pub(super) fn with_default_sender(mut self, account: &herald_rules::Account) -> Self {
        crate::submit::default_sender(account, &mut self.source);
        self
    }
}

/// The `submit_sm` of one segment to one destination.
pub(super) fn segment_sm(submission: &Submission, dest: Address, segment: &Segment) -> SubmitSm {
    SubmitSm {
        source: submission.source.clone(),
        dest,
        esm_class: EsmClass::default().with_udhi(segment.udhi),
        registered_delivery: submission.registered_delivery,
        validity_period: submission.validity_period.clone(),
        data_coding: submission.data_coding,
        priority_flag: submission.priority_flag,
        short_message: segment.user_data.clone(),
        ..SubmitSm::default()
    }
}

/// Reads and checks a request body received at `now`; long texts carry `reference`.
/// With `transliterate` (the account's), look-alikes are replaced when that lets the text
/// go in GSM 7-bit ([`lookalike::to_gsm7`]), unless the request asked for UCS-2.
pub(super) fn parse_submission(
    body: &[u8],
    now: SystemTime,
    reference: u8,
    transliterate: bool,
) -> Result<Submission, ApiError> {
    let body: SubmitBody = serde_json::from_slice(body).map_err(|err| {
        ApiError::new(
            CommandStatus::ESME_RSUBMITFAIL,
            format!("the body is not a message request: {err}"),
        )
    })?;
    let destinations = match body.to {
        Destinations::One(to) => vec![to],
        Destinations::Many(list) => list,
    };
    if destinations.is_empty() || destinations.len() > MAX_DESTINATIONS {
        return Err(ApiError::new(
            CommandStatus::ESME_RINVNUMDESTS,
            format!("`to` must name 1 to {MAX_DESTINATIONS} destinations"),
        ));
    }
    let coding = match body.coding.as_deref() {
        None | Some("auto") => Coding::Auto,
        Some("gsm7") => Coding::Gsm7,
        Some("ucs2") => Coding::Ucs2,
        Some(other) => {
            return Err(ApiError::new(
                CommandStatus::ESME_RINVDCS,
                format!("coding {other:?} is not one of \"auto\", \"gsm7\", \"ucs2\""),
            ));
        }
    };
    let priority_flag = match body.priority {
        None => 0,
        Some(flag @ 0..=3) => flag,
        Some(other) => {
            return Err(ApiError::new(
                CommandStatus::ESME_RINVPRTFLG,
                format!("priority {other} is not 0 to 3"),
            ));
        }
    };
    if let Some(reference) = &body.client_ref
        && (reference.is_empty()
            || reference.len() > MAX_CLIENT_REF
            || !reference.bytes().all(|b| b.is_ascii_graphic() || b == b' '))
    {
        return Err(ApiError::new(
            CommandStatus::ESME_RSUBMITFAIL,
            format!("`client_ref` is 1 to {MAX_CLIENT_REF} printable ASCII characters"),
        ));
    }
    let replaced = match coding {
        Coding::Auto | Coding::Gsm7 if transliterate => lookalike::to_gsm7(&body.text),
        _ => None,
    };
    let text = replaced.as_deref().unwrap_or(&body.text);
    let (encoding, segments) = encode_text(text, coding, reference)?;
    Ok(Submission {
        source: source(body.from.as_deref())?,
        destinations,
        registered_delivery: RegisteredDelivery(u8::from(body.registered_delivery.unwrap_or(true))),
        validity_period: validity_period(body.validity.as_deref(), now)?,
        data_coding: DataCoding(encoding.data_coding()),
        priority_flag,
        client_ref: body.client_ref,
        segments,
    })
}

/// Encodes `text` and splits it into segments with a UDH (8-bit reference `reference`)
/// when it needs more than one.
///
/// GSM 7-bit goes as unpacked septets with `data_coding` 0, as SMPP carries it.
fn encode_text(
    text: &str,
    coding: Coding,
    reference: u8,
) -> Result<(Encoding, Vec<Segment>), ApiError> {
    if text.is_empty() {
        return Err(ApiError::new(
            CommandStatus::ESME_RINVMSGLEN,
            "`text` is empty",
        ));
    }
    let concat_reference = ConcatReference::EightBit;
    let plan = match coding {
        Coding::Auto => Ok(text::plan(
            text,
            &PlanOptions {
                concat_reference,
                ..PlanOptions::default()
            },
        )),
        Coding::Gsm7 => text::plan_for(text, Encoding::GSM7, concat_reference),
        Coding::Ucs2 => text::plan_for(text, Encoding::Ucs2, concat_reference),
    }
    .map_err(|err| ApiError::new(CommandStatus::ESME_RINVDCS, err.to_string()))?;
    if plan.segments > text::MAX_SEGMENTS {
        return Err(too_many_segments(plan.segments));
    }
    let options = SplitOptions {
        form: SplitForm::Udh,
        reference_size: concat_reference,
        reference: u16::from(reference),
        ..SplitOptions::default()
    };
    let segments = split_text(text, plan.encoding, &options).map_err(|err| match err {
        herald_smpp::concat::ConcatError::TooManySegments { needed } => too_many_segments(needed),
        other => ApiError::new(CommandStatus::ESME_RINVDCS, other.to_string()),
    })?;
    Ok((plan.encoding, segments))
}

fn too_many_segments(segments: usize) -> ApiError {
    ApiError::new(
        CommandStatus::ESME_RINVNUMMSGS,
        format!(
            "the text needs {segments} SMS segments; at most {} can be concatenated",
            text::MAX_SEGMENTS
        ),
    )
}

/// The SMPP source of `from` ([`Address::sender`]: `+` and digits international, digits
/// as written, anything else a name); none asks for the account's `default_sender`.
fn source(from: Option<&str>) -> Result<Address, ApiError> {
    let Some(from) = from.map(str::trim).filter(|f| !f.is_empty()) else {
        return Ok(Address::default());
    };
    if from.len() > MAX_SOURCE_OCTETS {
        return Err(ApiError::new(
            CommandStatus::ESME_RINVSRCADR,
            format!("`from` is longer than the {MAX_SOURCE_OCTETS} octets SMPP carries"),
        ));
    }
    if from == "+" {
        return Err(ApiError::new(
            CommandStatus::ESME_RINVSRCADR,
            "`from` is `+` without digits",
        ));
    }
    Ok(Address::sender(from))
}

/// The SMPP destination of `to`: `+` and digits international (TON 1, NPI 1); anything
/// else as written with TON 0, NPI 1, so that the account's numbering plan reads it as
/// it does for SMPP, and the checks refuse what is not a number.
pub(super) fn destination(to: &str) -> Address {
    let to = to.trim();
    match to.strip_prefix('+') {
        Some(digits) => Address::international(digits),
        None => Address::new(Ton::UNKNOWN, Npi::ISDN, to),
    }
}

/// The absolute SMPP `validity_period` of a humantime duration from `now`; empty for
/// none (the carrier's default). Whether it is in the future is the shared checks' call.
fn validity_period(validity: Option<&str>, now: SystemTime) -> Result<COctetString, ApiError> {
    let Some(validity) = validity else {
        return Ok(COctetString::empty());
    };
    let invalid = |why: String| ApiError::new(CommandStatus::ESME_RINVEXPIRY, why);
    let duration = humantime::parse_duration(validity)
        .map_err(|err| invalid(format!("validity {validity:?}: {err}")))?;
    let until = now
        .checked_add(duration)
        .and_then(|until| AbsoluteTime::from_system_time(until, 0).ok())
        .ok_or_else(|| invalid(format!("validity {validity:?} ends past 2099")))?;
    let octets = SmppTime::Absolute(until).to_bytes();
    Ok(COctetString::from(
        std::str::from_utf8(&octets).unwrap_or_default(),
    ))
}

pub(super) fn body_error(rejection: BytesRejection) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(
            CommandStatus::ESME_RINVCMDLEN,
            format!("the body is larger than {MAX_BODY_OCTETS} octets"),
        )
    } else {
        ApiError::new(CommandStatus::ESME_RSUBMITFAIL, rejection.body_text())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use std::time::{Duration, UNIX_EPOCH};

    use super::*;
    use crate::http::http_status;

    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_764_115_200)
    }

    fn parse(json: &str) -> Result<Submission, ApiError> {
        parse_submission(json.as_bytes(), now(), 7, false)
    }

    fn status_of(json: &str) -> CommandStatus {
        match parse(json) {
            Ok(_) => CommandStatus::ESME_ROK,
            Err(error) => error.status,
        }
    }

    #[test]
    fn addresses_are_read_as_smpp_would_carry_them() {
        assert_eq!(
            source(Some("+447700900001")).unwrap(),
            Address::international("447700900001")
        );
        assert_eq!(
            source(Some("12345")).unwrap(),
            Address::new(Ton::UNKNOWN, Npi::ISDN, "12345")
        );
        assert_eq!(source(Some("ACME")).unwrap(), Address::alphanumeric("ACME"));
        assert_eq!(source(None).unwrap(), Address::default());
        for refused in ["ABCDEFGHIJKLMNOPQRSTU", "+", " + "] {
            assert_eq!(
                source(Some(refused)).unwrap_err().status,
                CommandStatus::ESME_RINVSRCADR,
                "{refused:?}"
            );
        }
        assert_eq!(
            destination("+447700900001"),
            Address::international("447700900001")
        );
        assert_eq!(
            destination("07700900001"),
            Address::new(Ton::UNKNOWN, Npi::ISDN, "07700900001")
        );
    }

    #[test]
    fn a_body_is_checked_field_by_field() {
        use CommandStatus as S;
        let ok = r#"{"from": "ACME", "to": "+447700900001", "text": "hi"}"#;
        assert_eq!(status_of(ok), S::ESME_ROK);
        let sub = parse(ok).unwrap();
        assert_eq!(
            sub.registered_delivery,
            RegisteredDelivery(1),
            "receipts by default"
        );
        assert!(sub.validity_period.is_empty());
        assert_eq!(sub.data_coding, DataCoding(0));
        assert_eq!(sub.segments.len(), 1);
        assert!(!sub.segments[0].udhi);

        for (json, status) in [
            ("not json", S::ESME_RSUBMITFAIL),
            (
                r#"{"to": "+44", "text": "hi", "colour": "red"}"#,
                S::ESME_RSUBMITFAIL,
            ),
            (r#"{"to": "+44"}"#, S::ESME_RSUBMITFAIL),
            (r#"{"to": [], "text": "hi"}"#, S::ESME_RINVNUMDESTS),
            (r#"{"to": "+44", "text": ""}"#, S::ESME_RINVMSGLEN),
            (
                r#"{"to": "+44", "text": "hi", "coding": "latin9"}"#,
                S::ESME_RINVDCS,
            ),
            (
                r#"{"to": "+44", "text": "привет", "coding": "gsm7"}"#,
                S::ESME_RINVDCS,
            ),
            (
                r#"{"to": "+44", "text": "hi", "validity": "soon"}"#,
                S::ESME_RINVEXPIRY,
            ),
            (
                r#"{"to": "+44", "text": "hi", "validity": "200years"}"#,
                S::ESME_RINVEXPIRY,
            ),
        ] {
            assert_eq!(status_of(json), status, "{json}");
        }
        let many: Vec<String> = (0..=MAX_DESTINATIONS)
            .map(|i| format!("\"+4477009{i:05}\""))
            .collect();
        let json = format!(r#"{{"to": [{}], "text": "hi"}}"#, many.join(","));
        assert_eq!(status_of(&json), S::ESME_RINVNUMDESTS);
        let long = "a".repeat(153 * 255 + 1);
        let json = format!(r#"{{"to": "+44", "text": "{long}"}}"#);
        let error = parse(&json).unwrap_err();
        assert_eq!(error.status, S::ESME_RINVNUMMSGS);
        assert_eq!(http_status(error.status), StatusCode::PAYLOAD_TOO_LARGE);
    }

    #[test]
    fn validity_becomes_an_absolute_smpp_time() {
        let sub =
            parse(r#"{"to": "+44", "text": "hi", "validity": "1h", "registered_delivery": false}"#)
                .unwrap();
        let time = SmppTime::parse(sub.validity_period.as_bytes()).unwrap();
        assert_eq!(
            time.resolve(now()).unwrap(),
            now() + Duration::from_secs(3600)
        );
        assert_eq!(sub.registered_delivery, RegisteredDelivery(0));
    }

    #[test]
    fn a_long_text_is_split_with_one_reference() {
        let text = "ж".repeat(150);
        let sub = parse(&format!(r#"{{"to": "+44", "text": "{text}"}}"#)).unwrap();
        assert_eq!(sub.data_coding, DataCoding(8));
        assert_eq!(sub.segments.len(), 3);
        for (n, segment) in sub.segments.iter().enumerate() {
            assert!(segment.udhi);
            assert_eq!(&segment.user_data[..6], &[5, 0, 3, 7, 3, n as u8 + 1]);
        }
    }

    #[test]
    fn look_alikes_are_replaced_for_an_account_that_asks() {
        // 100 characters with typographic quotes and a dash: two UCS-2 parts as written,
        // one GSM 7-bit part once they are replaced.
        let text = format!("\u{201C}{}\u{201D} \u{2014} it\u{2019}s", "a".repeat(91));
        let body = |coding: &str| format!(r#"{{"to": "+44", "text": "{text}"{coding}}}"#);
        let as_written = parse(&body("")).unwrap();
        assert_eq!(
            (as_written.data_coding, as_written.segments.len()),
            (DataCoding(8), 2)
        );
        let replaced = parse_submission(body("").as_bytes(), now(), 7, true).unwrap();
        assert_eq!(
            (replaced.data_coding, replaced.segments.len()),
            (DataCoding(0), 1)
        );
        let septets = &replaced.segments[0].user_data;
        assert_eq!(
            text::decode(septets, Encoding::GSM7).unwrap(),
            format!("\"{}\" - it's", "a".repeat(91))
        );
        // Asked for GSM 7-bit: what would have been refused now goes.
        let gsm = body(r#", "coding": "gsm7""#);
        assert!(parse(&gsm).is_err());
        assert!(parse_submission(gsm.as_bytes(), now(), 7, true).is_ok());
        // Asked for UCS-2: kept as written.
        let ucs2 = body(r#", "coding": "ucs2""#);
        let kept = parse_submission(ucs2.as_bytes(), now(), 7, true).unwrap();
        assert_eq!(kept.data_coding, DataCoding(8));
    }
}
