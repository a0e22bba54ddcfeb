//! The kinds of rules objects, where each lives under the key prefix, and the trait every
//! object implements.

use std::fmt;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::ValidationError;

/// A kind of rules object; each has its own key segment under the prefix
/// (`/herald/v1/<segment>/<id>`).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// An ESME account: credentials, bind rules, quota ([`crate::Account`]).
    Account,
    /// A carrier SMSC and how to bind to it ([`crate::Carrier`]).
    Carrier,
    /// An MT routing rule ([`crate::Route`]).
    Route,
    /// An MO routing rule ([`crate::MoRoute`]).
    MoRoute,
    /// A mobile network (MCC-MNC) and its number prefixes ([`crate::Network`]).
    Network,
    /// A carrier's price table ([`crate::PriceTable`]).
    Price,
    /// A list of numbers that opted out ([`crate::OptOutList`]).
    OptOut,
}

impl Kind {
    /// Every kind, in the order a snapshot resolves them (referenced kinds first).
    pub const ALL: [Kind; 7] = [
        Kind::Network,
        Kind::Account,
        Kind::Carrier,
        Kind::Price,
        Kind::Route,
        Kind::MoRoute,
        Kind::OptOut,
    ];

    /// The key segment under the prefix: `accounts`, `carriers`, `routes`, `mo-routes`,
    /// `networks`, `prices`, `opt-outs`.
    pub const fn segment(self) -> &'static str {
        match self {
            Kind::Account => "accounts",
            Kind::Carrier => "carriers",
            Kind::Route => "routes",
            Kind::MoRoute => "mo-routes",
            Kind::Network => "networks",
            Kind::Price => "prices",
            Kind::OptOut => "opt-outs",
        }
    }

    /// The kind whose key segment is `segment`.
    pub fn from_segment(segment: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.segment() == segment)
    }

    /// The singular name used in messages: `account`, `mo-route`, `opt-out`...
    pub const fn name(self) -> &'static str {
        match self {
            Kind::Account => "account",
            Kind::Carrier => "carrier",
            Kind::Route => "route",
            Kind::MoRoute => "mo-route",
            Kind::Network => "network",
            Kind::Price => "price",
            Kind::OptOut => "opt-out",
        }
    }

    /// The key of object `id` of this kind under `prefix` (which ends with `/`).
    pub fn key(self, prefix: &str, id: &str) -> String {
        format!("{prefix}{}/{id}", self.segment())
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Key segments under the prefix that hold leases or records rather than rules (node
/// registrations, carrier bind slots, ESME session slots, the admin API's audit log); the
/// rules store ignores them.
pub const RESERVED_SEGMENTS: [&str; 4] = ["nodes", "binds", "sessions", "audit"];

/// What a key relative to the prefix holds.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum KeyClass<'a> {
    /// `<segment>/<id>` of a rules kind (the id is not validated here).
    Rules(Kind, &'a str),
    /// Under a reserved segment: not rules.
    Reserved,
    /// Anything else: reported as a problem.
    Unknown,
}

/// Sorts a key relative to the prefix.
pub(crate) fn classify(relative_key: &str) -> KeyClass<'_> {
    let Some((segment, id)) = relative_key.split_once('/') else {
        return KeyClass::Unknown;
    };
    if RESERVED_SEGMENTS.contains(&segment) {
        return KeyClass::Reserved;
    }
    match Kind::from_segment(segment) {
        Some(kind) => KeyClass::Rules(kind, id),
        None => KeyClass::Unknown,
    }
}

/// A rules object: a JSON document under `<prefix><kind segment>/<id>` that can check
/// itself. Cross-references to other objects are checked when a snapshot is built.
pub trait RulesObject:
    Serialize + DeserializeOwned + Clone + fmt::Debug + Send + Sync + 'static
{
    /// The kind, hence the key segment.
    const KIND: Kind;

    /// The id, the last segment of the key.
    fn id(&self) -> &str;

    /// Checks the object on its own (ids, ranges, formats); the first fault found.
    fn validate(&self) -> Result<(), ValidationError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_round_trip_and_keys_are_classified() {
        for kind in Kind::ALL {
            assert_eq!(Kind::from_segment(kind.segment()), Some(kind));
        }
        assert_eq!(
            Kind::MoRoute.key("/herald/v1/", "kw"),
            "/herald/v1/mo-routes/kw"
        );
        assert_eq!(
            classify("accounts/acme"),
            KeyClass::Rules(Kind::Account, "acme")
        );
        assert_eq!(classify("nodes/edge/e1"), KeyClass::Reserved);
        assert_eq!(classify("binds/c/0"), KeyClass::Reserved);
        assert_eq!(classify("quotas/x"), KeyClass::Unknown);
        assert_eq!(classify("accounts"), KeyClass::Unknown);
    }
}
