//! The typed rules objects, one module each, and what they share: ids, quotas, the
//! validation helper and the serde forms of durations.
//!
//! Readers ignore fields they do not know (a newer control plane may roll out first); the
//! client refuses them on write ([`crate::ValidationError::UnknownField`]).

pub(crate) mod account;
pub(crate) mod carrier;
pub(crate) mod cidr;
pub(crate) mod mo_route;
pub(crate) mod network;
pub(crate) mod numbering;
pub(crate) mod opt_out;
pub(crate) mod pattern;
pub(crate) mod price;
pub(crate) mod route;
pub(crate) mod sender;
pub(crate) mod time_window;

pub use account::{
    Account, BindMode, DefaultAlphabet, MAX_SYSTEM_ID_LEN, MAX_WEBHOOK_CONCURRENCY, OptOutScope,
    PriorityLane, SenderIdPolicy, Webhook, WebhookEvent,
};
pub use carrier::{
    AddressOverrides, Carrier, CarrierBindMode, CarrierTls, ContentAction, ContentPolicy,
    DataCodingPolicy, MAX_SYSTEM_TYPE_LEN, ReceiptIdFormat, RerouteOnReceipt, SecretRef,
    SmppVersion, UnsupportedCoding,
};
pub use cidr::{Cidr, CidrParseError};
pub use mo_route::{MAX_KEYWORD_LEN, MoReplies, MoRoute};
pub use network::Network;
pub use numbering::NumberingPlan;
pub use opt_out::OptOutList;
pub use pattern::{AddressPattern, MAX_PATTERN_LEN, PatternParseError};
pub use price::{PriceEntry, PriceTable};
pub use route::{RejectStatus, Route, RouteAction, RouteMatch, WeightedCarrier};
pub use sender::{
    MAX_SENDER_POOL, MAX_SENDER_RULES, SenderAction, SenderChange, SenderMatch, SenderRewrite,
    SenderSubject, SenderType, is_numeric_sender, is_valid_sender, rewrite_sender,
};
pub use time_window::{TimeOfDay, TimeWindow, UtcOffset, Weekday};

use serde::{Deserialize, Serialize};

use crate::error::ValidationError;
use crate::kind::Kind;

/// The longest id: `[a-z0-9_-]{1,64}`.
pub const MAX_ID_LEN: usize = 64;

/// Whether `id` is a valid object id: 1 to 64 of `a-z`, `0-9`, `_`, `-`.
pub fn is_valid_id(id: &str) -> bool {
    (1..=MAX_ID_LEN).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// A rate limit: a token bucket of `burst` tokens refilled at `tps` per second.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quota {
    /// Sustained messages per second (> 0).
    pub tps: u32,
    /// Bucket size: how many may go at once after a quiet spell. Absent: one second's worth
    /// (`tps`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub burst: Option<u32>,
}

impl Quota {
    /// A quota of `tps` with the default burst.
    pub const fn per_second(tps: u32) -> Quota {
        Quota { tps, burst: None }
    }

    /// The bucket size in effect.
    pub fn burst(&self) -> u32 {
        self.burst.unwrap_or(self.tps)
    }

    pub(crate) fn check(&self, check: &Check<'_>, field: &str) -> Result<(), ValidationError> {
        check.ensure(self.tps > 0, format!("{field}.tps"), "must be > 0")?;
        check.ensure(
            self.burst != Some(0),
            format!("{field}.burst"),
            "must be > 0 (or absent for one second's worth)",
        )
    }
}

/// Builds [`ValidationError`]s for one object.
pub(crate) struct Check<'a> {
    kind: Kind,
    id: &'a str,
}

impl<'a> Check<'a> {
    pub(crate) fn new(kind: Kind, id: &'a str) -> Self {
        Check { kind, id }
    }

    pub(crate) fn fail(
        &self,
        field: impl Into<String>,
        reason: impl Into<String>,
    ) -> ValidationError {
        ValidationError::Field {
            kind: self.kind,
            id: self.id.to_owned(),
            field: field.into(),
            reason: reason.into(),
        }
    }

    pub(crate) fn ensure(
        &self,
        ok: bool,
        field: impl Into<String>,
        reason: impl Into<String>,
    ) -> Result<(), ValidationError> {
        if ok {
            Ok(())
        } else {
            Err(self.fail(field, reason))
        }
    }

    /// The object's own id.
    pub(crate) fn own_id(&self) -> Result<(), ValidationError> {
        self.id_field("id", self.id)
    }

    /// A field that holds an id of some object.
    pub(crate) fn id_field(
        &self,
        field: impl Into<String>,
        value: &str,
    ) -> Result<(), ValidationError> {
        self.ensure(
            is_valid_id(value),
            field,
            format!("{value:?} is not an id ([a-z0-9_-], 1 to {MAX_ID_LEN})"),
        )
    }

    /// Ids in a list: each valid, none twice.
    pub(crate) fn id_list(&self, field: &str, values: &[String]) -> Result<(), ValidationError> {
        for (i, v) in values.iter().enumerate() {
            self.id_field(format!("{field}[{i}]"), v)?;
        }
        self.no_duplicates(field, values)
    }

    pub(crate) fn no_duplicates<T: PartialEq + std::fmt::Debug>(
        &self,
        field: &str,
        values: &[T],
    ) -> Result<(), ValidationError> {
        for (i, v) in values.iter().enumerate() {
            if values[..i].contains(v) {
                return Err(self.fail(format!("{field}[{i}]"), format!("{v:?} is listed twice")));
            }
        }
        Ok(())
    }

    /// A string of 1 to `max` ASCII digits (a phone number, a prefix, a short code).
    pub(crate) fn digits(
        &self,
        field: impl Into<String>,
        value: &str,
        max: usize,
    ) -> Result<(), ValidationError> {
        self.ensure(
            (1..=max).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_digit()),
            field,
            format!("{value:?} is not 1 to {max} digits"),
        )
    }
}

/// The longest number or number prefix: E.164 allows 15 digits; some carriers' internal
/// numbers run longer, so up to 20 (the size of an SMPP address field).
pub const MAX_NUMBER_LEN: usize = 20;

/// Serde for lists of human-readable durations (`["10s", "1m"]`).
pub(crate) mod durations {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub(crate) fn serialize<S: Serializer>(v: &[Duration], s: S) -> Result<S::Ok, S::Error> {
        v.iter()
            .map(humantime_serde::Serde::from)
            .collect::<Vec<humantime_serde::Serde<&Duration>>>()
            .serialize(s)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Duration>, D::Error> {
        let v = Vec::<humantime_serde::Serde<Duration>>::deserialize(d)?;
        Ok(v.into_iter()
            .map(humantime_serde::Serde::into_inner)
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        assert!(is_valid_id("acme_01-eu"));
        assert!(is_valid_id(&"a".repeat(64)));
        assert!(!is_valid_id(&"a".repeat(65)));
        assert!(!is_valid_id(""));
        assert!(!is_valid_id("Acme"));
        assert!(!is_valid_id("a/b"));
        assert!(!is_valid_id("a.b"));
    }

    #[test]
    fn quota_burst_defaults_to_one_second() {
        assert_eq!(Quota::per_second(50).burst(), 50);
        let q: Quota = serde_json::from_str(r#"{"tps": 10, "burst": 30}"#).unwrap();
        assert_eq!(q.burst(), 30);
        let c = Check::new(Kind::Account, "a");
        assert!(Quota::per_second(0).check(&c, "quota").is_err());
        let zero_burst = Quota {
            tps: 1,
            burst: Some(0),
        };
        assert!(zero_burst.check(&c, "quota").is_err());
    }
}
