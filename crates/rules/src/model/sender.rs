//! Senders: what a sender id may be, and a carrier's sender rewriting rules.
//!
//! Many countries require a numeric or registered sender per destination or per carrier
//! (an alphanumeric sender is replaced by the carrier, or the message is dropped). A
//! carrier's `senders` list says what its messages' senders become, by destination
//! prefix (a country code or longer), destination network, account and the sender as
//! submitted. The connector applies it to the `submit_sm` it sends, so a message that
//! fails over to another carrier gets that carrier's rule applied to the sender the
//! customer wrote; the customer's receipts keep the original.
//!
//! The first rule that matches decides and nothing else is looked at: a rewritten sender
//! is never rewritten again, so rules cannot loop. A rule that an earlier one matches
//! every message of could never apply; it is refused, naming it, since it is surely not
//! what the operator meant.

use serde::{Deserialize, Serialize};

use crate::error::ValidationError;
use crate::model::network::is_mcc_mnc;
use crate::model::{AddressPattern, Check, MAX_NUMBER_LEN};

/// The longest alphanumeric sender a handset shows (GSM's 11 characters).
pub(crate) const MAX_ALPHANUMERIC_SENDER: usize = 11;
/// The longest numeric sender, in digits (SMPP's `source_addr` holds 20).
pub(crate) const MAX_NUMERIC_SENDER: usize = 20;
/// The most numbers in one rule's pool.
pub const MAX_SENDER_POOL: usize = 1000;
/// The most rules on one carrier.
pub const MAX_SENDER_RULES: usize = 100;

/// Whether `sender` is numeric: digits, optionally after `+`.
pub fn is_numeric_sender(sender: &str) -> bool {
    let digits = sender.strip_prefix('+').unwrap_or(sender);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

/// Whether `sender` may be a sender id: up to 20 digits (optionally after `+`), or a name
/// of 1 to 11 printable ASCII characters not starting with `+` nor with or ending in a
/// space.
pub fn is_valid_sender(sender: &str) -> bool {
    if is_numeric_sender(sender) {
        return sender.trim_start_matches('+').len() <= MAX_NUMERIC_SENDER;
    }
    (1..=MAX_ALPHANUMERIC_SENDER).contains(&sender.len())
        && !sender.starts_with('+')
        && sender.bytes().all(|b| b == b' ' || b.is_ascii_graphic())
        && sender.trim() == sender
}

/// What [`is_valid_sender`] asks, for error messages.
pub(crate) fn sender_rules_text(sender: &str) -> String {
    format!(
        "{sender:?} is not a sender: up to {MAX_NUMERIC_SENDER} digits (optionally after +), \
         or a name of 1 to {MAX_ALPHANUMERIC_SENDER} printable ASCII characters"
    )
}

/// One sender rewriting rule of a carrier.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SenderRewrite {
    /// Which messages it applies to; every criterion given must hold (empty: all).
    #[serde(default, rename = "match")]
    pub criteria: SenderMatch,
    /// What their sender becomes.
    pub action: SenderAction,
}

/// The criteria of a [`SenderRewrite`]; an empty list matches anything.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SenderMatch {
    /// Destination prefixes in E.164 digits (`33` for France).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub destination_prefixes: Vec<String>,
    /// Destination networks (MCC-MNC ids, as the router found them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub networks: Vec<String>,
    /// Accounts whose messages it applies to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accounts: Vec<String>,
    /// Senders as submitted (glob patterns).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub senders: Vec<AddressPattern>,
    /// Only alphanumeric or only numeric senders.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender_type: Option<SenderType>,
}

/// The two kinds of sender id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SenderType {
    /// A name (`ACME`).
    Alphanumeric,
    /// Digits, optionally after `+`.
    Numeric,
}

/// What a matched message's sender becomes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum SenderAction {
    /// Always this sender.
    Replace {
        /// The sender (`+` and digits international, digits as written, else a name).
        sender: String,
    },
    /// An alphanumeric sender becomes a number from the pool; numeric ones are kept.
    Numeric {
        /// Numbers (`+` and digits, or digits).
        pool: Vec<String>,
    },
    /// Always a sender from the pool.
    Pool {
        /// Senders.
        pool: Vec<String>,
    },
}

/// A message as sender rewriting sees it.
#[derive(Clone, Copy, Debug)]
pub struct SenderSubject<'a> {
    /// The account that sent it.
    pub account: &'a str,
    /// Its sender as submitted.
    pub sender: &'a str,
    /// Whether that sender is a name (TON 5, or not all digits).
    pub alphanumeric: bool,
    /// The destination in E.164 digits.
    pub destination: &'a str,
    /// The destination's network, if the router found one.
    pub network: Option<&'a str>,
}

/// A rewrite decided for a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SenderChange<'r> {
    /// The index of the rule in the carrier's `senders`.
    pub rule: usize,
    /// The new sender.
    pub sender: &'r str,
}

/// The first rule of `rules` that changes `subject`'s sender, and what to; `None`: it is
/// sent as submitted. A pool's pick depends on the destination alone, so one subscriber
/// always sees the same number and can reply to it.
pub fn rewrite_sender<'r>(
    rules: &'r [SenderRewrite],
    subject: &SenderSubject<'_>,
) -> Option<SenderChange<'r>> {
    let (rule, rewrite) = rules
        .iter()
        .enumerate()
        .find(|(_, rule)| rule.matches(subject))?;
    let sender = match &rewrite.action {
        SenderAction::Replace { sender } => sender.as_str(),
        SenderAction::Numeric { pool } | SenderAction::Pool { pool } => {
            pick(pool, subject.destination)?
        }
    };
    (sender != subject.sender).then_some(SenderChange { rule, sender })
}

/// The entry of `pool` for `destination`, by a stable hash (FNV-1a) of its digits.
fn pick<'p>(pool: &'p [String], destination: &str) -> Option<&'p str> {
    let hash = destination.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    let len = u64::try_from(pool.len()).ok().filter(|&n| n > 0)?;
    let index = usize::try_from(hash % len).ok()?;
    pool.get(index).map(String::as_str)
}

impl SenderRewrite {
    /// The sender type the rule applies to: its criterion, or alphanumeric for `numeric`.
    fn sender_type(&self) -> Option<SenderType> {
        match self.action {
            SenderAction::Numeric { .. } => Some(SenderType::Alphanumeric),
            _ => self.criteria.sender_type,
        }
    }

    /// Whether the rule applies to `subject`.
    pub fn matches(&self, subject: &SenderSubject<'_>) -> bool {
        let m = &self.criteria;
        let any = |list: &[String], value: &str| list.is_empty() || list.iter().any(|v| v == value);
        (m.destination_prefixes.is_empty()
            || m.destination_prefixes
                .iter()
                .any(|p| subject.destination.starts_with(p.as_str())))
            && (m.networks.is_empty() || subject.network.is_some_and(|n| any(&m.networks, n)))
            && any(&m.accounts, subject.account)
            && (m.senders.is_empty() || m.senders.iter().any(|p| p.matches(subject.sender)))
            && match self.sender_type() {
                None => true,
                Some(SenderType::Alphanumeric) => subject.alphanumeric,
                Some(SenderType::Numeric) => !subject.alphanumeric,
            }
    }

    /// Whether every message this rule matches, `earlier` matches too (so this one could
    /// never apply after it). Conservative: `false` when unsure.
    fn shadowed_by(&self, earlier: &SenderRewrite) -> bool {
        let (mine, theirs) = (&self.criteria, &earlier.criteria);
        let within = |mine: &[String], theirs: &[String]| {
            theirs.is_empty() || (!mine.is_empty() && mine.iter().all(|v| theirs.contains(v)))
        };
        let prefixes = theirs.destination_prefixes.is_empty()
            || (!mine.destination_prefixes.is_empty()
                && mine.destination_prefixes.iter().all(|p| {
                    theirs
                        .destination_prefixes
                        .iter()
                        .any(|t| p.starts_with(t.as_str()))
                }));
        let senders = theirs.senders.is_empty()
            || theirs.senders.iter().any(|p| p.as_str() == "*")
            || (!mine.senders.is_empty()
                && mine.senders.iter().all(|p| theirs.senders.contains(p)));
        let sender_type =
            earlier.sender_type().is_none() || earlier.sender_type() == self.sender_type();
        prefixes
            && within(&mine.networks, &theirs.networks)
            && within(&mine.accounts, &theirs.accounts)
            && senders
            && sender_type
    }
}

/// Checks a carrier's `senders` (`field` is `senders`).
pub(crate) fn check_rewrites(
    c: &Check<'_>,
    field: &str,
    rules: &[SenderRewrite],
) -> Result<(), ValidationError> {
    c.ensure(
        rules.len() <= MAX_SENDER_RULES,
        field,
        format!("has more than {MAX_SENDER_RULES} rules"),
    )?;
    for (i, rule) in rules.iter().enumerate() {
        let at = format!("{field}[{i}]");
        let m = &rule.criteria;
        for (j, p) in m.destination_prefixes.iter().enumerate() {
            c.digits(
                format!("{at}.match.destination_prefixes[{j}]"),
                p,
                MAX_NUMBER_LEN,
            )?;
        }
        c.no_duplicates(
            &format!("{at}.match.destination_prefixes"),
            &m.destination_prefixes,
        )?;
        for (j, n) in m.networks.iter().enumerate() {
            c.ensure(
                is_mcc_mnc(n),
                format!("{at}.match.networks[{j}]"),
                format!("{n:?} is not an MCC-MNC id (like 234-15)"),
            )?;
        }
        c.no_duplicates(&format!("{at}.match.networks"), &m.networks)?;
        c.id_list(&format!("{at}.match.accounts"), &m.accounts)?;
        c.no_duplicates(&format!("{at}.match.senders"), &m.senders)?;
        match &rule.action {
            SenderAction::Replace { sender } => c.ensure(
                is_valid_sender(sender),
                format!("{at}.action.sender"),
                sender_rules_text(sender),
            )?,
            SenderAction::Numeric { pool } | SenderAction::Pool { pool } => {
                let numeric = matches!(rule.action, SenderAction::Numeric { .. });
                c.ensure(
                    (1..=MAX_SENDER_POOL).contains(&pool.len()),
                    format!("{at}.action.pool"),
                    format!("must hold 1 to {MAX_SENDER_POOL} senders"),
                )?;
                for (j, sender) in pool.iter().enumerate() {
                    c.ensure(
                        is_valid_sender(sender) && (!numeric || is_numeric_sender(sender)),
                        format!("{at}.action.pool[{j}]"),
                        if numeric {
                            format!("{sender:?} is not a number (digits, optionally after +)")
                        } else {
                            sender_rules_text(sender)
                        },
                    )?;
                }
                c.no_duplicates(&format!("{at}.action.pool"), pool)?;
            }
        }
        if let SenderAction::Numeric { .. } = rule.action {
            c.ensure(
                m.sender_type != Some(SenderType::Numeric),
                format!("{at}.match.sender_type"),
                "is numeric, but a numeric action only rewrites alphanumeric senders",
            )?;
        }
        if let Some(earlier) = rules[..i].iter().position(|e| rule.shadowed_by(e)) {
            return Err(c.fail(
                format!("{at}.match"),
                format!(
                    "can never apply: {field}[{earlier}] comes first and matches every message \
                     it does (the first matching rule decides)"
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;
    use crate::kind::Kind;

    fn rules(json: serde_json::Value) -> Vec<SenderRewrite> {
        serde_json::from_value(json).unwrap()
    }

    fn subject<'a>(sender: &'a str, destination: &'a str) -> SenderSubject<'a> {
        SenderSubject {
            account: "acme",
            sender,
            alphanumeric: !is_numeric_sender(sender),
            destination,
            network: None,
        }
    }

    fn refused_field(rules: &[SenderRewrite]) -> String {
        let c = Check::new(Kind::Carrier, "c");
        match check_rewrites(&c, "senders", rules) {
            Err(ValidationError::Field { field, .. }) => field,
            other => panic!("not refused: {other:?}"),
        }
    }

    #[test]
    fn the_first_matching_rule_decides() {
        let r = rules(serde_json::json!([
            {"match": {"destination_prefixes": ["33"], "accounts": ["bank"]},
             "action": {"type": "replace", "sender": "BANK"}},
            {"match": {"destination_prefixes": ["33"]},
             "action": {"type": "numeric", "pool": ["+33612345678", "+33612345679"]}},
            {"match": {"destination_prefixes": ["1"]},
             "action": {"type": "pool", "pool": ["12025550100", "12025550101", "12025550102"]}},
        ]));
        let mut bank = subject("ACME", "33611111111");
        bank.account = "bank";
        assert_eq!(rewrite_sender(&r, &bank).unwrap().sender, "BANK");
        // France, an alphanumeric sender: a number from the pool.
        let fr = rewrite_sender(&r, &subject("ACME", "33611111111")).unwrap();
        assert_eq!(fr.rule, 1);
        assert!(fr.sender.starts_with("+33612345"));
        // France, already numeric: kept.
        assert_eq!(
            rewrite_sender(&r, &subject("447700900001", "33611111111")),
            None
        );
        // Elsewhere: kept.
        assert_eq!(rewrite_sender(&r, &subject("ACME", "447700900001")), None);
        // A pool pick is the same for the same destination, and spreads over the pool.
        let picks: std::collections::BTreeSet<&str> = (0..100)
            .map(|n| format!("1202555{n:04}"))
            .map(|to| {
                let once = rewrite_sender(&r, &subject("ACME", &to)).unwrap().sender;
                assert_eq!(
                    rewrite_sender(&r, &subject("ACME", &to)).unwrap().sender,
                    once
                );
                once
            })
            .collect();
        assert_eq!(picks.len(), 3);
    }

    #[test]
    fn networks_match_only_a_known_network() {
        let r = rules(serde_json::json!([
            {"match": {"networks": ["208-01"]}, "action": {"type": "replace", "sender": "ORANGE"}},
        ]));
        let mut s = subject("ACME", "33611111111");
        assert_eq!(rewrite_sender(&r, &s), None);
        s.network = Some("208-01");
        assert_eq!(rewrite_sender(&r, &s).unwrap().sender, "ORANGE");
        s.network = Some("208-10");
        assert_eq!(rewrite_sender(&r, &s), None);
    }

    #[test]
    fn bad_rules_are_refused_with_the_field_named() {
        let refused = |json| refused_field(&rules(json));
        assert_eq!(
            refused(
                serde_json::json!([{"action": {"type": "replace", "sender": "MUCH TOO LONG"}}])
            ),
            "senders[0].action.sender"
        );
        assert_eq!(
            refused(
                serde_json::json!([{"action": {"type": "numeric", "pool": ["+33612", "ACME"]}}])
            ),
            "senders[0].action.pool[1]"
        );
        assert_eq!(
            refused(serde_json::json!([{"action": {"type": "pool", "pool": []}}])),
            "senders[0].action.pool"
        );
        assert_eq!(
            refused(
                serde_json::json!([{"match": {"destination_prefixes": ["+33"]},
                "action": {"type": "replace", "sender": "A"}}])
            ),
            "senders[0].match.destination_prefixes[0]"
        );
        assert_eq!(
            refused(serde_json::json!([{"match": {"networks": ["20801"]},
                "action": {"type": "replace", "sender": "A"}}])),
            "senders[0].match.networks[0]"
        );
        // A rule an earlier one covers could never apply.
        assert_eq!(
            refused(serde_json::json!([
                {"match": {"destination_prefixes": ["33"]}, "action": {"type": "replace", "sender": "A"}},
                {"match": {"destination_prefixes": ["336"], "accounts": ["acme"]},
                 "action": {"type": "replace", "sender": "B"}},
            ])),
            "senders[1].match"
        );
        assert_eq!(
            refused(serde_json::json!([
                {"action": {"type": "numeric", "pool": ["1"]}},
                {"match": {"sender_type": "alphanumeric", "destination_prefixes": ["44"]},
                 "action": {"type": "replace", "sender": "B"}},
            ])),
            "senders[1].match"
        );
        // The narrower rule first is what the operator means: accepted.
        let c = Check::new(Kind::Carrier, "c");
        let fine = rules(serde_json::json!([
            {"match": {"destination_prefixes": ["336"], "accounts": ["acme"]},
             "action": {"type": "replace", "sender": "B"}},
            {"match": {"destination_prefixes": ["33"]}, "action": {"type": "replace", "sender": "A"}},
            {"match": {"sender_type": "numeric"}, "action": {"type": "replace", "sender": "C"}},
            {"action": {"type": "numeric", "pool": ["1"]}},
        ]));
        check_rewrites(&c, "senders", &fine).unwrap();
        // Unknown fields and actions are refused when read.
        assert!(
            serde_json::from_value::<Vec<SenderRewrite>>(serde_json::json!([
                {"action": {"type": "rotate", "pool": ["1"]}}
            ]))
            .is_err()
        );
    }
}
