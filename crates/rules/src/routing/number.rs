//! Number normalisation: a destination as an ESME wrote it → E.164 digits, the form every
//! prefix, network, price and opt-out in the rules is written in.
//!
//! | written | TON | plan | result |
//! | --- | --- | --- | --- |
//! | `+447700900123` | any | any | `447700900123` |
//! | `00447700900123` | any | any (`00`, or the plan's international prefix) | `447700900123` |
//! | `07700900123` | not international | `44`, trunk `0` | `447700900123` |
//! | `7700900123` | national (2) | `44` | `447700900123` |
//! | `447700900123` | any | any | unchanged |
//!
//! A number with TON international (1) is never given a country code, whatever its first
//! digits. Without a plan, a number that is neither `+` nor `00` is taken as already
//! international. The result is kept inline ([`E164`]), so normalising allocates nothing.

use std::fmt;

use crate::model::NumberingPlan;

/// SMPP's `type_of_number` for international numbers.
pub const TON_INTERNATIONAL: u8 = 1;
/// SMPP's `type_of_number` for national numbers.
pub const TON_NATIONAL: u8 = 2;

/// The longest normalised number: a 3-digit country code before a 20-digit national
/// number.
pub const MAX_E164_LEN: usize = 23;

/// A number in E.164 digits (no `+`), held inline.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct E164 {
    digits: [u8; MAX_E164_LEN],
    len: u8,
}

impl E164 {
    /// The digits.
    pub fn as_str(&self) -> &str {
        // Only ASCII digits are ever stored.
        std::str::from_utf8(&self.digits[..usize::from(self.len)]).unwrap_or("")
    }

    fn from_parts(country_code: &str, rest: &str) -> Option<E164> {
        let total = country_code.len() + rest.len();
        if rest.is_empty() || total > MAX_E164_LEN {
            return None;
        }
        let mut digits = [0u8; MAX_E164_LEN];
        for (slot, b) in digits
            .iter_mut()
            .zip(country_code.bytes().chain(rest.bytes()))
        {
            if !b.is_ascii_digit() {
                return None;
            }
            *slot = b;
        }
        Some(E164 {
            digits,
            len: u8::try_from(total).ok()?,
        })
    }
}

impl fmt::Debug for E164 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "E164({})", self.as_str())
    }
}

impl fmt::Display for E164 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `number` (as written, with type of number `ton`) in E.164 digits, read with `plan` when
/// it is national. `None` when it is not a number: empty, a non-digit after the `+`, or
/// longer than [`MAX_E164_LEN`].
pub fn normalize(number: &str, ton: u8, plan: Option<&NumberingPlan>) -> Option<E164> {
    let number = number.trim();
    if let Some(rest) = number.strip_prefix('+') {
        return E164::from_parts("", rest);
    }
    let international = plan
        .map(|p| p.international_prefix.as_str())
        .filter(|p| *p != "00" && !p.is_empty())
        .and_then(|p| number.strip_prefix(p))
        .or_else(|| number.strip_prefix("00"));
    if let Some(rest) = international {
        return E164::from_parts("", rest);
    }
    match plan {
        Some(plan) if ton != TON_INTERNATIONAL => {
            let trunk = plan.trunk_prefix.as_str();
            match number.strip_prefix(trunk).filter(|_| !trunk.is_empty()) {
                Some(national) => E164::from_parts(&plan.country_code, national),
                None if ton == TON_NATIONAL => E164::from_parts(&plan.country_code, number),
                None => E164::from_parts("", number),
            }
        }
        _ => E164::from_parts("", number),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    fn plan(json: &str) -> NumberingPlan {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn the_table_in_the_module_docs() {
        let uk = plan(r#"{"country_code": "44"}"#);
        let us =
            plan(r#"{"country_code": "1", "trunk_prefix": "1", "international_prefix": "011"}"#);
        let it = plan(r#"{"country_code": "39", "trunk_prefix": ""}"#);
        let n = |number, ton, plan: Option<&NumberingPlan>| {
            normalize(number, ton, plan).map(|e| e.to_string())
        };
        let cases: &[(&str, u8, Option<&NumberingPlan>, Option<&str>)] = &[
            ("+447700900123", 0, None, Some("447700900123")),
            ("+447700900123", 2, Some(&uk), Some("447700900123")),
            ("00447700900123", 1, None, Some("447700900123")),
            ("00447700900123", 0, Some(&uk), Some("447700900123")),
            ("07700900123", 0, Some(&uk), Some("447700900123")),
            ("07700900123", 2, Some(&uk), Some("447700900123")),
            ("7700900123", 2, Some(&uk), Some("447700900123")),
            ("7700900123", 0, Some(&uk), Some("7700900123")),
            ("07700900123", 1, Some(&uk), Some("07700900123")),
            ("07700900123", 0, None, Some("07700900123")),
            ("447700900123", 1, Some(&uk), Some("447700900123")),
            ("01144201234567", 0, Some(&us), Some("44201234567")),
            ("12125551234", 0, Some(&us), Some("12125551234")),
            ("2125551234", 2, Some(&us), Some("12125551234")),
            ("0612345678", 0, Some(&it), Some("0612345678")),
            ("0612345678", 2, Some(&it), Some("390612345678")),
            (" +33612345678 ", 0, None, Some("33612345678")),
            ("", 0, None, None),
            ("+", 0, None, None),
            ("00", 0, None, None),
            ("+44 7700", 0, None, None),
            ("ACME", 5, None, None),
            ("123456789012345678901234", 0, None, None),
            (
                "12345678901234567890",
                2,
                Some(&uk),
                Some("4412345678901234567890"),
            ),
        ];
        for &(number, ton, plan, expected) in cases {
            assert_eq!(
                n(number, ton, plan).as_deref(),
                expected,
                "{number:?} ton {ton}"
            );
        }
    }
}
