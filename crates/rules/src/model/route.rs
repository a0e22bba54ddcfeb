//! MT routes: ordered rules that pick, for a message, a carrier (or several, or none).
//!
//! Routes are tried in ascending `priority` (then id); the first whose every non-empty
//! criterion matches decides. Within a criterion any listed value matches.

use std::fmt;

use herald_smpp::CommandStatus;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::ValidationError;
use crate::kind::{Kind, RulesObject};
use crate::model::network::is_mcc_mnc;
use crate::model::{Account, AddressPattern, Check, MAX_NUMBER_LEN, Quota, TimeWindow};

/// What a route's message must look like. Empty criteria match everything.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteMatch {
    /// Accounts the route applies to. Together with `account_groups`: the account is listed
    /// here or is in a listed group. Both empty: every account.
    #[serde(default)]
    pub accounts: Vec<String>,
    /// Account groups the route applies to (see `accounts`).
    #[serde(default)]
    pub account_groups: Vec<String>,
    /// Destination number prefixes (digits, international format without `+`); the router
    /// prefers the longest matching prefix across routes of equal priority.
    #[serde(default)]
    pub destination_prefixes: Vec<String>,
    /// Destination networks (MCC-MNC ids of [`crate::Network`]s).
    #[serde(default)]
    pub networks: Vec<String>,
    /// Source address (sender id) pattern.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<AddressPattern>,
    /// `data_coding` values.
    #[serde(default)]
    pub data_codings: Vec<u8>,
    /// When the route applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_window: Option<TimeWindow>,
}

impl RouteMatch {
    /// Whether the account criterion (`accounts` or `account_groups`) lets `account` in.
    pub fn matches_account(&self, account: &Account) -> bool {
        (self.accounts.is_empty() && self.account_groups.is_empty())
            || self.accounts.contains(&account.id)
            || account
                .groups
                .iter()
                .any(|g| self.account_groups.contains(g))
    }
}

/// One carrier of a weighted split.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WeightedCarrier {
    /// The carrier id.
    pub carrier: String,
    /// Its share, relative to the others' (> 0).
    pub weight: u32,
}

/// An SMPP `command_status` to reject with; written as a number or a name
/// (`"ESME_RINVDSTADR"`), stored as the name when it has one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RejectStatus(pub u32);

impl RejectStatus {
    /// As the SMPP status.
    pub fn status(self) -> CommandStatus {
        CommandStatus::from_u32(self.0)
    }
}

impl fmt::Display for RejectStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (0x{:08X})", self.status().name(), self.0)
    }
}

impl Serialize for RejectStatus {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.status() {
            CommandStatus::Other(v) => s.serialize_u32(v),
            named => s.serialize_str(named.name()),
        }
    }
}

impl<'de> Deserialize<'de> for RejectStatus {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Form {
            Number(u32),
            Text(String),
        }
        match Form::deserialize(d)? {
            Form::Number(v) => Ok(RejectStatus(v)),
            Form::Text(t) => {
                if let Some(hex) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
                    return u32::from_str_radix(hex, 16)
                        .map(RejectStatus)
                        .map_err(serde::de::Error::custom);
                }
                CommandStatus::ALL
                    .iter()
                    .find(|s| s.name().eq_ignore_ascii_case(&t))
                    .map(|s| RejectStatus(s.as_u32()))
                    .ok_or_else(|| {
                        serde::de::Error::custom(format!("{t:?} is not an SMPP command_status"))
                    })
            }
        }
    }
}

/// What a matching route does.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum RouteAction {
    /// Send to one carrier.
    Carrier {
        /// The carrier id.
        carrier: String,
    },
    /// Split traffic between carriers by weight.
    Weighted {
        /// The carriers and their weights.
        split: Vec<WeightedCarrier>,
    },
    /// The first carrier that is up, in order.
    Failover {
        /// The carriers, preferred first.
        carriers: Vec<String>,
    },
    /// The cheapest carrier for the destination by its price table; ties in listed order.
    LeastCost {
        /// The candidates.
        carriers: Vec<String>,
    },
    /// Refuse the message with this status.
    Reject {
        /// The `command_status` for the account (nonzero).
        status: RejectStatus,
    },
}

impl RouteAction {
    /// The carriers it may send to, in listed order.
    pub fn carriers(&self) -> Vec<&str> {
        match self {
            RouteAction::Carrier { carrier } => vec![carrier.as_str()],
            RouteAction::Weighted { split } => split.iter().map(|w| w.carrier.as_str()).collect(),
            RouteAction::Failover { carriers } | RouteAction::LeastCost { carriers } => {
                carriers.iter().map(String::as_str).collect()
            }
            RouteAction::Reject { .. } => Vec::new(),
        }
    }

    fn check(&self, c: &Check<'_>) -> Result<(), ValidationError> {
        match self {
            RouteAction::Carrier { carrier } => c.id_field("action.carrier", carrier),
            RouteAction::Weighted { split } => {
                c.ensure(!split.is_empty(), "action.split", "is empty")?;
                let mut total = 0u64;
                for (i, w) in split.iter().enumerate() {
                    c.id_field(format!("action.split[{i}].carrier"), &w.carrier)?;
                    c.ensure(
                        w.weight > 0,
                        format!("action.split[{i}].weight"),
                        "must be > 0",
                    )?;
                    total += u64::from(w.weight);
                }
                c.ensure(
                    total <= u64::from(u32::MAX),
                    "action.split",
                    "weights add up to more than 2^32-1",
                )?;
                let ids: Vec<&str> = split.iter().map(|w| w.carrier.as_str()).collect();
                c.no_duplicates("action.split", &ids)
            }
            RouteAction::Failover { carriers } | RouteAction::LeastCost { carriers } => {
                c.ensure(!carriers.is_empty(), "action.carriers", "is empty")?;
                c.id_list("action.carriers", carriers)
            }
            RouteAction::Reject { status } => c.ensure(
                status.0 != 0,
                "action.status",
                "ESME_ROK is not a rejection",
            ),
        }
    }
}

fn yes() -> bool {
    true
}

/// An MT route (`/herald/v1/routes/<id>`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Route {
    /// The id.
    pub id: String,
    /// What it is for.
    #[serde(default)]
    pub description: String,
    /// A disabled route is skipped.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Lower is tried first; ties in id order. Default 0.
    #[serde(default)]
    pub priority: i32,
    /// The criteria (`"match"` in JSON).
    #[serde(default, rename = "match")]
    pub criteria: RouteMatch,
    /// What it does.
    pub action: RouteAction,
    /// A cluster-wide limit on the messages this route takes, whatever their account:
    /// past it the edges refuse its submits as throttled. Absent: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota: Option<Quota>,
}

impl RulesObject for Route {
    const KIND: Kind = Kind::Route;

    fn id(&self) -> &str {
        &self.id
    }

    fn validate(&self) -> Result<(), ValidationError> {
        let c = Check::new(Kind::Route, &self.id);
        c.own_id()?;
        let m = &self.criteria;
        c.id_list("match.accounts", &m.accounts)?;
        c.id_list("match.account_groups", &m.account_groups)?;
        for (i, p) in m.destination_prefixes.iter().enumerate() {
            c.digits(
                format!("match.destination_prefixes[{i}]"),
                p,
                MAX_NUMBER_LEN,
            )?;
        }
        c.no_duplicates("match.destination_prefixes", &m.destination_prefixes)?;
        for (i, n) in m.networks.iter().enumerate() {
            c.ensure(
                is_mcc_mnc(n),
                format!("match.networks[{i}]"),
                format!("{n:?} is not an MCC-MNC id (like 234-15)"),
            )?;
        }
        c.no_duplicates("match.networks", &m.networks)?;
        c.no_duplicates("match.data_codings", &m.data_codings)?;
        if let Some(w) = &m.time_window {
            w.check(&c, "match.time_window")?;
        }
        self.action.check(&c)?;
        if let Some(quota) = &self.quota {
            quota.check(&c, "quota")?;
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn route(id: &str, priority: i32, action: serde_json::Value) -> Route {
        serde_json::from_value(serde_json::json!({
            "id": id, "priority": priority, "action": action,
        }))
        .unwrap()
    }

    fn field_of(r: Route) -> String {
        match r.validate() {
            Err(ValidationError::Field { field, .. }) => field,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn every_action_parses() {
        let full: Route = serde_json::from_value(serde_json::json!({
            "id": "uk-gold",
            "priority": 10,
            "match": {
                "accounts": ["acme"], "account_groups": ["gold"],
                "destination_prefixes": ["4477", "4478"], "networks": ["234-15"],
                "source": "ACME*", "data_codings": [0, 8],
                "time_window": {"time_zone": "+01:00", "days": ["mon"], "from": "08:00", "to": "20:00"}
            },
            "action": {"type": "weighted", "split": [
                {"carrier": "a", "weight": 70}, {"carrier": "b", "weight": 30}]}
        }))
        .unwrap();
        assert!(full.validate().is_ok(), "{:?}", full.validate());
        assert_eq!(full.action.carriers(), vec!["a", "b"]);
        for action in [
            serde_json::json!({"type": "carrier", "carrier": "a"}),
            serde_json::json!({"type": "failover", "carriers": ["a", "b"]}),
            serde_json::json!({"type": "least_cost", "carriers": ["a", "b"]}),
            serde_json::json!({"type": "reject", "status": "ESME_RINVDSTADR"}),
            serde_json::json!({"type": "reject", "status": 11}),
            serde_json::json!({"type": "reject", "status": "0x0000000B"}),
        ] {
            let r = route("r", 0, action.clone());
            assert!(r.validate().is_ok(), "{action}");
        }
        let reject = route("r", 0, serde_json::json!({"type": "reject", "status": 11}));
        assert_eq!(
            reject.action,
            RouteAction::Reject {
                status: RejectStatus(0x0B)
            }
        );
        let RouteAction::Reject { status } = reject.action else {
            unreachable!()
        };
        assert_eq!(status.status(), CommandStatus::ESME_RINVDSTADR);
        assert_eq!(
            serde_json::to_value(status).unwrap(),
            serde_json::json!("ESME_RINVDSTADR")
        );
        assert_eq!(
            serde_json::to_value(RejectStatus(0x0400)).unwrap(),
            serde_json::json!(0x0400)
        );
        let unknown: Result<Route, _> = serde_json::from_value(serde_json::json!({
            "id": "r", "action": {"type": "reject", "status": "ESME_NOPE"}}));
        assert!(unknown.is_err());
    }

    #[test]
    fn validation() {
        let weighted = |w: serde_json::Value| {
            route("r", 0, serde_json::json!({"type": "weighted", "split": w}))
        };
        assert_eq!(
            field_of(weighted(serde_json::json!([{"carrier": "a", "weight": 0}]))),
            "action.split[0].weight"
        );
        assert_eq!(field_of(weighted(serde_json::json!([]))), "action.split");
        assert_eq!(
            field_of(weighted(serde_json::json!([
                {"carrier": "a", "weight": 1}, {"carrier": "a", "weight": 2}]))),
            "action.split[1]"
        );
        assert_eq!(
            field_of(route(
                "r",
                0,
                serde_json::json!({"type": "failover", "carriers": []})
            )),
            "action.carriers"
        );
        assert_eq!(
            field_of(route(
                "r",
                0,
                serde_json::json!({"type": "reject", "status": 0})
            )),
            "action.status"
        );
        assert_eq!(
            field_of(route(
                "r",
                0,
                serde_json::json!({"type": "carrier", "carrier": "A B"})
            )),
            "action.carrier"
        );
        let mut r = route(
            "r",
            0,
            serde_json::json!({"type": "carrier", "carrier": "a"}),
        );
        r.criteria.destination_prefixes = vec!["44".into(), "+44".into()];
        assert_eq!(field_of(r), "match.destination_prefixes[1]");
        let mut r = route(
            "r",
            0,
            serde_json::json!({"type": "carrier", "carrier": "a"}),
        );
        r.criteria.networks = vec!["23415".into()];
        assert_eq!(field_of(r), "match.networks[0]");
    }

    #[test]
    fn account_criterion() {
        let mut acme = crate::model::account::tests::account("acme");
        let mut r = route(
            "r",
            0,
            serde_json::json!({"type": "carrier", "carrier": "a"}),
        );
        assert!(r.criteria.matches_account(&acme), "empty matches all");
        r.criteria.account_groups = vec!["gold".into()];
        assert!(!r.criteria.matches_account(&acme));
        acme.groups = vec!["gold".into()];
        assert!(r.criteria.matches_account(&acme));
        r.criteria.account_groups.clear();
        r.criteria.accounts = vec!["other".into()];
        assert!(!r.criteria.matches_account(&acme));
    }
}
