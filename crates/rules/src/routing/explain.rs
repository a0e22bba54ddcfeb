//! [`RulesSnapshot::explain`]: the reasoning behind a routing decision, for operators
//! (`heraldctl route explain`, the admin API's `ExplainRoute`).
//!
//! It checks every route linearly and reports every criterion that failed, so it is slower
//! than [`RulesSnapshot::evaluate`] and allocates; it reaches the same decision (a property
//! test holds them to it) because it picks by the same preference key and applies the
//! action with the same code.

use serde::Serialize;

use crate::model::{Quota, RouteAction, SenderSubject, is_numeric_sender, rewrite_sender};
use crate::routing::action::carrier_at;
use crate::routing::health::CarrierHealth;
use crate::routing::table::{
    Key, Subject, key, longest_prefix, network_matches, source_matches, window_matches,
};
use crate::routing::{RouteOutcome, RouteRequest};
use crate::snapshot::RulesSnapshot;

/// A criterion a route failed on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "criterion", rename_all = "snake_case")]
pub enum Mismatch {
    /// The route is disabled.
    Disabled,
    /// The account is neither listed nor in a listed group.
    Account,
    /// No listed prefix starts the destination.
    DestinationPrefix,
    /// The destination's network is not listed.
    Network {
        /// The destination's network, if it has one.
        found: Option<String>,
    },
    /// The source does not match the pattern.
    Source,
    /// The `data_coding` is not listed.
    DataCoding,
    /// The time is outside the window.
    TimeWindow,
}

/// What became of a route.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    /// It matched and decided.
    Chosen,
    /// It matched, but a preferred route matched too.
    Outranked {
        /// The route that decided.
        by: String,
    },
    /// A criterion failed (see `mismatches`).
    NotMatched,
}

/// One route as explain saw it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RuleVerdict {
    /// The route id.
    pub rule_id: String,
    /// Its priority.
    pub priority: i32,
    /// The longest of its prefixes that starts the destination (`""`: it has no prefix
    /// criterion; absent: none matched).
    pub matched_prefix: Option<String>,
    /// The criteria it failed on; empty when it matched.
    pub mismatches: Vec<Mismatch>,
    /// The result.
    #[serde(flatten)]
    pub verdict: Verdict,
}

/// One carrier of the deciding route.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CandidateVerdict {
    /// The carrier id.
    pub carrier: String,
    /// Whether it is healthy.
    pub healthy: bool,
    /// Whether the message already failed on it.
    pub failed: bool,
    /// Its weight (weighted routes).
    pub weight: Option<u32>,
    /// Its price for the destination (least-cost routes; absent: none).
    pub price_micros: Option<u64>,
    /// Its place in the ranking (0: chosen); absent: not usable for this message.
    pub rank: Option<usize>,
}

/// A sender the chosen carrier's rules rewrite.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SenderRewritten {
    /// The rule that decided: its index in the carrier's `senders`.
    pub rule: usize,
    /// The sender the carrier is sent.
    pub sender: String,
}

/// A ported destination, as route explain shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PortedExplained {
    /// The MCC-MNC it was ported to, as the porting table has it (`23415`).
    pub network: String,
    /// The range that holds it, `start-end`; `None`: the number has its own entry.
    pub range: Option<String>,
    /// The network its prefix would have given it (the one it left), if any.
    pub by_prefix: Option<String>,
}

/// Why a message would be routed the way it would.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Explanation {
    /// The rules revision explained.
    pub revision: u64,
    /// The destination in E.164 digits; absent: not a number.
    pub destination: Option<String>,
    /// The destination's network (MCC-MNC), if its number has one.
    pub network: Option<String>,
    /// Where the destination was ported to, when the porting table has it.
    pub ported: Option<PortedExplained>,
    /// Whether the destination opted out of the account's messages.
    pub opted_out: bool,
    /// Every route, in table order (priority, then id).
    pub rules: Vec<RuleVerdict>,
    /// The route that decided.
    pub matched_rule: Option<String>,
    /// The deciding route's carriers.
    pub candidates: Vec<CandidateVerdict>,
    /// The carrier chosen.
    pub carrier: Option<String>,
    /// The deciding route's cluster-wide rate limit, if it has one (the edges enforce it).
    pub quota: Option<Quota>,
    /// What the chosen carrier's `senders` rules make of the sender, if they change it.
    pub sender: Option<SenderRewritten>,
    /// The outcome's name, as [`RouteOutcome::name`].
    pub outcome: String,
    /// Why, in a sentence.
    pub reason: String,
}

impl RulesSnapshot {
    /// Explains the decision [`RulesSnapshot::evaluate`] makes for `request`: every route
    /// and why it matched or not, the candidates of the route that decided and why the
    /// carrier was chosen.
    pub fn explain<H: CarrierHealth + ?Sized>(
        &self,
        request: &RouteRequest<'_>,
        health: &H,
    ) -> Explanation {
        let mut out = Explanation {
            revision: self.revision(),
            destination: None,
            network: None,
            ported: None,
            opted_out: false,
            rules: Vec::new(),
            matched_rule: None,
            candidates: Vec::new(),
            carrier: None,
            quota: None,
            sender: None,
            outcome: RouteOutcome::NoRoute.name().to_owned(),
            reason: String::new(),
        };
        let Some(number) = self.normalize_destination(
            request.account,
            request.destination,
            request.destination_ton,
        ) else {
            out.reason = format!("{:?} is not a phone number", request.destination);
            return out;
        };
        let number = number.as_str();
        out.destination = Some(number.to_owned());
        out.opted_out = request.opted_out(self, number);
        let mut subject = Subject::new(self, request, number);
        let network = subject.network().map(|(_, n)| n.id.clone());
        out.network.clone_from(&network);
        out.ported = subject.ported().map(|p| PortedExplained {
            network: p.network.to_owned(),
            range: p.range.map(|(start, end)| format!("{start}-{end}")),
            by_prefix: self.network_match(number).map(|(_, n)| n.id.clone()),
        });

        let table = self.route_table();
        let mut best: Option<(Key, usize)> = None;
        for (i, route) in self.routes().iter().enumerate() {
            let mut mismatches = Vec::new();
            if !route.enabled {
                mismatches.push(Mismatch::Disabled);
            }
            if !table.account_matches(i, request.account) {
                mismatches.push(Mismatch::Account);
            }
            let matched_prefix = if route.criteria.destination_prefixes.is_empty() {
                Some("")
            } else {
                longest_prefix(route, number)
            };
            if matched_prefix.is_none() {
                mismatches.push(Mismatch::DestinationPrefix);
            }
            if !network_matches(route, &mut subject) {
                mismatches.push(Mismatch::Network {
                    found: network.clone(),
                });
            }
            if !source_matches(route, request.source) {
                mismatches.push(Mismatch::Source);
            }
            if !table.coding_matches(i, request.data_coding) {
                mismatches.push(Mismatch::DataCoding);
            }
            if !window_matches(route, request.at, request.default_time_zone) {
                mismatches.push(Mismatch::TimeWindow);
            }
            if mismatches.is_empty() {
                let len = matched_prefix.map_or(0, str::len);
                let k = key(route.priority, len, u32::try_from(i).unwrap_or(u32::MAX));
                if best.is_none_or(|(b, _)| k < b) {
                    best = Some((k, i));
                }
            }
            out.rules.push(RuleVerdict {
                rule_id: route.id.clone(),
                priority: route.priority,
                matched_prefix: matched_prefix.map(str::to_owned),
                verdict: if mismatches.is_empty() {
                    Verdict::Outranked { by: String::new() }
                } else {
                    Verdict::NotMatched
                },
                mismatches,
            });
        }
        let chosen = best.and_then(|(_, i)| Some((i, self.routes().get(i)?)));
        for (i, verdict) in out.rules.iter_mut().enumerate() {
            if let Verdict::Outranked { by } = &mut verdict.verdict {
                match chosen {
                    Some((c, _)) if c == i => verdict.verdict = Verdict::Chosen,
                    Some((_, route)) => by.clone_from(&route.id),
                    None => {}
                }
            }
        }
        if out.opted_out {
            out.outcome = RouteOutcome::OptedOut.name().to_owned();
            out.reason = format!("{number} opted out of {}'s messages", request.account);
            return out;
        }
        let Some((_, route)) = chosen else {
            out.reason = "no route matches".to_owned();
            return out;
        };
        out.matched_rule = Some(route.id.clone());
        out.quota = route.quota;
        let outcome = self.act(route, request, &mut subject, health);
        out.outcome = outcome.name().to_owned();
        let ranked: Vec<&str> = match &outcome {
            RouteOutcome::Route(pick) => pick.candidates.iter().collect(),
            _ => Vec::new(),
        };
        let network_match = subject.network();
        for (p, carrier) in (0..).map_while(|p| Some((p, carrier_at(route, p)?))) {
            let weight = match &route.action {
                RouteAction::Weighted { split } => split.get(p).map(|w| w.weight),
                _ => None,
            };
            let price_micros = match &route.action {
                RouteAction::LeastCost { .. } => {
                    self.price_with_network(carrier, number, network_match)
                }
                _ => None,
            };
            out.candidates.push(CandidateVerdict {
                carrier: carrier.to_owned(),
                healthy: health.is_healthy(carrier),
                failed: request.failed_carriers.iter().any(|f| f == carrier),
                weight,
                price_micros,
                rank: ranked.iter().position(|c| *c == carrier),
            });
        }
        out.reason = match outcome {
            RouteOutcome::Route(pick) => {
                out.carrier = Some(pick.carrier.to_owned());
                out.sender = self.carrier(pick.carrier).and_then(|carrier| {
                    let subject = SenderSubject {
                        account: request.account,
                        sender: request.source,
                        alphanumeric: !is_numeric_sender(request.source),
                        destination: number,
                        network: pick.network,
                    };
                    let change = rewrite_sender(&carrier.senders, &subject)?;
                    Some(SenderRewritten {
                        rule: change.rule,
                        sender: change.sender.to_owned(),
                    })
                });
                format!(
                    "route {} (priority {}) chose {}: {}",
                    route.id, route.priority, pick.carrier, pick.why
                )
            }
            RouteOutcome::Reject { status, .. } => {
                format!("route {} rejects with {status}", route.id)
            }
            RouteOutcome::Unreachable { reason, .. } => {
                format!("route {} matched, but {reason}", route.id)
            }
            RouteOutcome::OptedOut | RouteOutcome::NoRoute => String::new(),
        };
        out
    }
}
