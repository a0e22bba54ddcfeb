//! The MT routing engine: which carrier a message goes to, by the routes of a snapshot.
//!
//! Shared by the edge (which refuses a destination with no route at once) and the router
//! (which routes every accepted message), so both decide by the same code.
//!
//! - [`RulesSnapshot::evaluate`] decides for one message: [`RouteOutcome`].
//! - [`RulesSnapshot::explain`] tells why: every route considered and why it did or did
//!   not match, the candidates and the carrier chosen ([`Explanation`]).
//! - [`normalize`]: destinations become E.164 digits before anything is matched
//!   (`+`, `00`, the account's national trunk prefix; see [`crate::model::NumberingPlan`]).
//! - [`CarrierHealth`]: which carriers are up, an input to each decision.
//!
//! # Semantics
//!
//! Before any route: the destination is normalised (not a number → [`RouteOutcome::NoRoute`]),
//! and a destination on the account's or a global opt-out list is
//! [`RouteOutcome::OptedOut`].
//!
//! A route matches when it is enabled and every non-empty criterion matches: the account
//! is listed or is in a listed group; a listed prefix starts the destination; the
//! destination's network (longest network prefix) is listed; the source matches the glob;
//! the `data_coding` is listed; the time is in the window (read in the route's offset, or
//! the request's default one).
//!
//! Among matching routes, **priority comes first**: the lowest `priority` wins whatever
//! its prefix. Among routes of equal priority the **longest matching prefix** wins (a
//! route with no prefix criterion counts as a prefix of length 0), then the lowest id.
//! So a specific route never silently overrides a more important general one, and within
//! one level of importance the most specific route decides. The matched route's action
//! then decides: [`RouteOutcome::Route`], [`RouteOutcome::Reject`], or
//! [`RouteOutcome::Unreachable`] when its carriers have all failed for this message or
//! none has a price. Carriers in the request's `failed_carriers` are never chosen;
//! unhealthy ones ([`CarrierHealth`]) come last:
//!
//! | action | candidates, best first | chosen |
//! | --- | --- | --- |
//! | `carrier` | the carrier | it, healthy or not (its queue holds the message until it is back) |
//! | `weighted` | the chosen one, then the rest in listed order, healthy first | a weighted draw among the healthy carriers left (all left if none is healthy), seeded by [`split_seed`]: a hash of the message id, or of account + destination + segment reference for a segment of a concatenated message, so all segments go together |
//! | `failover` | listed order, healthy first | the first |
//! | `least_cost` | price for the destination ascending (longest prefix or network entry, else the table's default), ties in listed order, healthy first; carriers with no price are left out | the first |
//! | `reject` | — | — |
//!
//! The draw's hash is FNV-1a with a fixed 64-bit finaliser, not `std`'s hasher, so every
//! router of every build picks the same carrier for the same message. Candidates are
//! listed up to [`MAX_CANDIDATES`].
//!
//! The route table is compiled once per snapshot in [`RulesSnapshot::build`]; an
//! evaluation takes no lock and allocates nothing.

mod action;
mod explain;
mod health;
mod number;
mod table;
pub(crate) mod trie;

use std::time::SystemTime;

pub use action::{Candidates, MAX_CANDIDATES, NoCarrier, PickReason, split_seed};
pub use explain::{
    CandidateVerdict, Explanation, Mismatch, PortedExplained, RuleVerdict, SenderRewritten, Verdict,
};
pub use health::{AllHealthy, CarrierHealth, UnhealthyCarriers};
pub use number::{E164, MAX_E164_LEN, TON_INTERNATIONAL, TON_NATIONAL, normalize};
pub(crate) use table::RouteTable;

use crate::model::{RejectStatus, RouteAction, UtcOffset};
use crate::snapshot::RulesSnapshot;
use action::{Context, Ranking, price_lookup, rank};
use table::Subject;

/// What routing looks at in a message.
#[derive(Clone, Copy, Debug)]
pub struct RouteRequest<'a> {
    /// Herald's message id (seeds weighted draws).
    pub message_id: &'a str,
    /// The account that submitted it.
    pub account: &'a str,
    /// The source address as submitted (matched against `match.source` globs).
    pub source: &'a str,
    /// The destination as submitted (normalised before matching).
    pub destination: &'a str,
    /// The destination's SMPP `type_of_number` (0 unknown, 1 international, 2 national).
    pub destination_ton: u8,
    /// The `data_coding`.
    pub data_coding: u8,
    /// When to evaluate time windows at (now, for live traffic).
    pub at: SystemTime,
    /// For a segment of a concatenated message, its reference: all segments with the same
    /// account, destination and reference go to the same carrier.
    pub segment_reference: Option<u32>,
    /// Carriers this message already failed on; they are never chosen again.
    pub failed_carriers: &'a [String],
    /// The offset of time windows that name none.
    pub default_time_zone: UtcOffset,
    /// Opt-outs kept outside the rules (the router's copy of the opt-out bucket), asked
    /// with the destination's E.164 digits; none: only the rules' opt-out lists count.
    pub subscriber_opt_outs: Option<SubscriberOptOuts<'a>>,
    /// Ported numbers (the router's copy of the porting snapshot), consulted before the
    /// network prefixes; none: networks by prefix only.
    pub porting: Option<&'a crate::porting::PortingTable>,
}

/// Whether a number (E.164 digits) opted out of the message being routed: a check the
/// router supplies from its copy of the opt-out bucket (`herald_bus::OptOutSet`), which
/// the rules crate does not know.
#[derive(Clone, Copy)]
pub struct SubscriberOptOuts<'a>(pub &'a (dyn Fn(&str) -> bool + Sync));

impl std::fmt::Debug for SubscriberOptOuts<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SubscriberOptOuts")
    }
}

impl<'a> RouteRequest<'a> {
    /// A request for a single message with no id, unknown TON, no failures, UTC windows.
    pub fn new(
        account: &'a str,
        source: &'a str,
        destination: &'a str,
        data_coding: u8,
        at: SystemTime,
    ) -> Self {
        RouteRequest {
            message_id: "",
            account,
            source,
            destination,
            destination_ton: 0,
            data_coding,
            at,
            segment_reference: None,
            failed_carriers: &[],
            default_time_zone: UtcOffset::UTC,
            subscriber_opt_outs: None,
            porting: None,
        }
    }

    /// Looking destinations up in `porting` before the network prefixes.
    pub fn porting(mut self, porting: Option<&'a crate::porting::PortingTable>) -> Self {
        self.porting = porting;
        self
    }

    /// Checking `opt_outs` as well as the rules' opt-out lists.
    pub fn subscriber_opt_outs(mut self, opt_outs: &'a (dyn Fn(&str) -> bool + Sync)) -> Self {
        self.subscriber_opt_outs = Some(SubscriberOptOuts(opt_outs));
        self
    }

    /// Whether `number` (E.164 digits) opted out of this message, by the rules' lists of
    /// `snapshot` or the subscriber opt-outs.
    pub(crate) fn opted_out(&self, snapshot: &RulesSnapshot, number: &str) -> bool {
        snapshot.is_opted_out(self.account, number)
            || self
                .subscriber_opt_outs
                .is_some_and(|check| (check.0)(number))
    }

    /// With this message id.
    pub fn message_id(mut self, id: &'a str) -> Self {
        self.message_id = id;
        self
    }

    /// With this destination type of number.
    pub fn destination_ton(mut self, ton: u8) -> Self {
        self.destination_ton = ton;
        self
    }

    /// As a segment of the concatenated message with this reference.
    pub fn segment_reference(mut self, reference: Option<u32>) -> Self {
        self.segment_reference = reference;
        self
    }

    /// Having failed on these carriers already.
    pub fn failed_carriers(mut self, failed: &'a [String]) -> Self {
        self.failed_carriers = failed;
        self
    }

    /// Reading windows without an offset in `offset`.
    pub fn default_time_zone(mut self, offset: UtcOffset) -> Self {
        self.default_time_zone = offset;
        self
    }
}

/// A carrier chosen for a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RoutePick<'s> {
    /// The route that matched.
    pub rule_id: &'s str,
    /// The carrier chosen.
    pub carrier: &'s str,
    /// Why that carrier.
    pub why: PickReason,
    /// Every usable carrier of the route, best first (the chosen one first).
    pub candidates: Candidates<'s>,
    /// The route's cluster-wide rate limit, if it has one.
    pub quota: Option<crate::model::Quota>,
    /// The destination's network (MCC-MNC), if the network table knows its number.
    pub network: Option<&'s str>,
}

/// What routing decided for a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RouteOutcome<'s> {
    /// Send it to a carrier.
    Route(RoutePick<'s>),
    /// A `reject` route matched: refuse it with this status.
    Reject {
        /// The route.
        rule_id: &'s str,
        /// The status to refuse with.
        status: RejectStatus,
    },
    /// A route matched but has no carrier for this message.
    Unreachable {
        /// The route.
        rule_id: &'s str,
        /// Why.
        reason: NoCarrier,
    },
    /// The destination opted out of the account's messages.
    OptedOut,
    /// No route matches (or the destination is not a number).
    NoRoute,
}

impl RouteOutcome<'_> {
    /// A short, stable name: `routed`, `rejected`, `unreachable`, `opted_out`, `no_route`
    /// (metric label values).
    pub const fn name(&self) -> &'static str {
        match self {
            RouteOutcome::Route(_) => "routed",
            RouteOutcome::Reject { .. } => "rejected",
            RouteOutcome::Unreachable { .. } => "unreachable",
            RouteOutcome::OptedOut => "opted_out",
            RouteOutcome::NoRoute => "no_route",
        }
    }

    /// The route that matched, if one did.
    pub fn rule_id(&self) -> Option<&str> {
        match self {
            RouteOutcome::Route(pick) => Some(pick.rule_id),
            RouteOutcome::Reject { rule_id, .. } | RouteOutcome::Unreachable { rule_id, .. } => {
                Some(rule_id)
            }
            RouteOutcome::OptedOut | RouteOutcome::NoRoute => None,
        }
    }
}

impl RulesSnapshot {
    /// `destination` in E.164 digits, read with `account`'s numbering plan.
    pub fn normalize_destination(&self, account: &str, destination: &str, ton: u8) -> Option<E164> {
        let plan = self.account(account).and_then(|a| a.numbering.as_ref());
        normalize(destination, ton, plan)
    }

    /// Routes one message (see the module docs for the semantics). Takes no lock and
    /// allocates nothing; the outcome borrows from the snapshot.
    pub fn evaluate<H: CarrierHealth + ?Sized>(
        &self,
        request: &RouteRequest<'_>,
        health: &H,
    ) -> RouteOutcome<'_> {
        let Some(number) = self.normalize_destination(
            request.account,
            request.destination,
            request.destination_ton,
        ) else {
            return RouteOutcome::NoRoute;
        };
        let number = number.as_str();
        if request.opted_out(self, number) {
            return RouteOutcome::OptedOut;
        }
        let mut subject = Subject::new(self, request, number);
        let routes = self.routes();
        let Some((index, _)) = self.route_table().select(routes, &mut subject) else {
            return RouteOutcome::NoRoute;
        };
        let Some(route) = routes.get(index) else {
            return RouteOutcome::NoRoute;
        };
        self.act(route, request, &mut subject, health)
    }

    /// Applies the matched route's action.
    fn act<'s, H: CarrierHealth + ?Sized>(
        &'s self,
        route: &'s crate::model::Route,
        request: &RouteRequest<'_>,
        subject: &mut Subject<'s, '_>,
        health: &H,
    ) -> RouteOutcome<'s> {
        if let RouteAction::Reject { status } = route.action {
            return RouteOutcome::Reject {
                rule_id: &route.id,
                status,
            };
        }
        let network = match route.action {
            RouteAction::LeastCost { .. } => subject.network(),
            _ => None,
        };
        let price = price_lookup(self, subject.number, network);
        let seed = match route.action {
            RouteAction::Weighted { .. } => split_seed(
                request.message_id,
                request.account,
                subject.number,
                request.segment_reference,
            ),
            _ => 0,
        };
        let ctx = Context {
            failed: request.failed_carriers,
            health,
            seed,
            price: &price,
        };
        match rank(route, &ctx) {
            Ranking::Pick {
                carrier,
                candidates,
                why,
            } => RouteOutcome::Route(RoutePick {
                rule_id: &route.id,
                carrier,
                why,
                candidates,
                quota: route.quota,
                network: subject.network().map(|(_, n)| n.id.as_str()),
            }),
            Ranking::None(reason) => RouteOutcome::Unreachable {
                rule_id: &route.id,
                reason,
            },
        }
    }

    /// How many distinct destination prefixes the enabled routes list.
    pub fn route_prefix_count(&self) -> usize {
        self.route_table().prefixes()
    }
}
