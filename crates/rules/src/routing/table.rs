//! [`RouteTable`]: the MT routes of one snapshot compiled for fast selection, and the
//! per-criterion checks both [`crate::RulesSnapshot::evaluate`] and
//! [`crate::RulesSnapshot::explain`] use.
//!
//! Built once per snapshot by [`crate::RulesSnapshot::build`]; never changed after, so
//! readers share it without locks. Selection is:
//!
//! 1. Walk the destination's digits down a [`DigitTrie`] of every route prefix: each
//!    matching prefix yields the routes that list it (in table order), with the prefix
//!    length. Routes with no prefix criterion are kept in one list beside the trie.
//! 2. A route's preference key is `(priority, longest matching prefix descending, table
//!    position)`; the table is ordered by priority then id, so the position breaks ties by
//!    id. The best key among routes whose other criteria all match wins.
//! 3. Candidates are visited so that a key no better than the best found is skipped before
//!    its criteria are checked, and within a list the scan stops at the first such key.
//!
//! Cost: one trie step per digit, plus the criteria of the few routes whose prefixes
//! match; independent of how many prefixes the table holds.

use std::collections::HashMap;
use std::time::SystemTime;

use crate::model::{Account, Network, Route, UtcOffset};
use crate::routing::trie::DigitTrie;

/// A route's compiled criteria, beside the [`Route`] it came from.
#[derive(Clone, Debug, Default)]
struct CompiledRule {
    /// Disabled routes are never selected (but are listed by explain).
    enabled: bool,
    /// The accounts it applies to, sorted: the listed ids and the members of the listed
    /// groups. `None`: every account.
    accounts: Option<Box<[Box<str>]>>,
    /// A bit per `data_coding` value. `None`: every coding.
    data_codings: Option<[u64; 4]>,
}

/// The routes of a snapshot, indexed for selection.
#[derive(Clone, Debug, Default)]
pub(crate) struct RouteTable {
    /// Parallel to the snapshot's routes (priority, then id order).
    rules: Vec<CompiledRule>,
    /// Route positions by destination prefix, each list in table order.
    by_prefix: DigitTrie<Vec<u32>>,
    /// Enabled routes with no destination prefix, in table order.
    wildcard: Vec<u32>,
}

/// The preference key of a route for a message: lower is better.
pub(crate) type Key = (i32, u32, u32);

/// The key of the route at `position` with `priority`, matched by a prefix of `len`
/// digits (0: no prefix criterion).
pub(crate) fn key(priority: i32, len: usize, position: u32) -> Key {
    let len = u32::try_from(len).unwrap_or(u32::MAX);
    (priority, u32::MAX - len, position)
}

/// What one evaluation knows about the message, with its destination network looked up
/// only when a route asks for it.
pub(crate) struct Subject<'s, 'r> {
    pub(crate) account: &'r str,
    pub(crate) source: &'r str,
    pub(crate) number: &'r str,
    pub(crate) data_coding: u8,
    pub(crate) at: SystemTime,
    pub(crate) default_time_zone: UtcOffset,
    network: Option<Option<(usize, &'s Network)>>,
    lookup: &'s crate::RulesSnapshot,
    porting: Option<&'r crate::porting::PortingTable>,
}

impl<'s, 'r> Subject<'s, 'r> {
    pub(crate) fn new(
        snapshot: &'s crate::RulesSnapshot,
        request: &'r super::RouteRequest<'r>,
        number: &'r str,
    ) -> Self {
        Subject {
            account: request.account,
            source: request.source,
            number,
            data_coding: request.data_coding,
            at: request.at,
            default_time_zone: request.default_time_zone,
            network: None,
            lookup: snapshot,
            porting: request.porting,
        }
    }

    /// The destination's network: where a ported number now belongs, else the longest
    /// network prefix. A ported number's network counts as longer than any prefix (for
    /// price tables), and one the rules do not list is no known network at all: its
    /// prefix's network is the one it left.
    pub(crate) fn network(&mut self) -> Option<(usize, &'s Network)> {
        let lookup = self.lookup;
        let number = self.number;
        let porting = self.porting;
        *self
            .network
            .get_or_insert_with(|| match porting.and_then(|p| p.lookup(number)) {
                Some(ported) => lookup
                    .network_by_mcc_mnc(ported.network)
                    .map(|n| (number.len() + 1, n)),
                None => lookup.network_match(number),
            })
    }

    /// Where the destination was ported to, if it was.
    pub(crate) fn ported(&self) -> Option<crate::porting::Ported<'r>> {
        self.porting.and_then(|p| p.lookup(self.number))
    }
}

impl RouteTable {
    /// Compiles `routes` (in the snapshot's order) against `accounts`.
    pub(crate) fn build(routes: &[Route], accounts: &HashMap<String, Account>) -> RouteTable {
        let mut members: HashMap<&str, Vec<&str>> = HashMap::new();
        for account in accounts.values() {
            for group in &account.groups {
                members.entry(group).or_default().push(&account.id);
            }
        }
        let mut table = RouteTable::default();
        for (position, route) in routes.iter().enumerate() {
            let Ok(position) = u32::try_from(position) else {
                break;
            };
            let m = &route.criteria;
            let accounts = (!m.accounts.is_empty() || !m.account_groups.is_empty()).then(|| {
                let mut ids: Vec<&str> = m.accounts.iter().map(String::as_str).collect();
                for group in &m.account_groups {
                    ids.extend(members.get(group.as_str()).into_iter().flatten());
                }
                ids.sort_unstable();
                ids.dedup();
                ids.into_iter().map(Box::from).collect()
            });
            let data_codings = (!m.data_codings.is_empty()).then(|| {
                let mut bits = [0u64; 4];
                for &c in &m.data_codings {
                    bits[usize::from(c >> 6)] |= 1 << (c & 63);
                }
                bits
            });
            table.rules.push(CompiledRule {
                enabled: route.enabled,
                accounts,
                data_codings,
            });
            if !route.enabled {
                continue;
            }
            if m.destination_prefixes.is_empty() {
                table.wildcard.push(position);
            }
            for prefix in &m.destination_prefixes {
                if let Some(list) = table.by_prefix.get_or_insert_with(prefix, Vec::new) {
                    list.push(position);
                }
            }
        }
        for list in table.by_prefix.values_mut() {
            list.shrink_to_fit();
        }
        table
    }

    /// How many distinct destination prefixes the routes list.
    pub(crate) fn prefixes(&self) -> usize {
        self.by_prefix.len()
    }

    /// The best enabled route of `routes` whose criteria all match `subject`, with the
    /// length of the prefix it matched by (0: it has no prefix criterion).
    pub(crate) fn select(
        &self,
        routes: &[Route],
        subject: &mut Subject<'_, '_>,
    ) -> Option<(usize, usize)> {
        let mut best: Option<(Key, usize, usize)> = None;
        let mut consider = |position: u32, len: usize, subject: &mut Subject<'_, '_>| {
            let index = position as usize;
            let Some(route) = routes.get(index) else {
                return false;
            };
            let k = key(route.priority, len, position);
            if best.is_some_and(|(b, _, _)| k >= b) {
                // Lists are in table order, so every later entry has a worse key too.
                return false;
            }
            if self.matches(index, route, subject) {
                best = Some((k, index, len));
            }
            true
        };
        for (len, positions) in self.by_prefix.matches(subject.number) {
            for &position in positions {
                if !consider(position, len, subject) {
                    break;
                }
            }
        }
        for &position in &self.wildcard {
            if !consider(position, 0, subject) {
                break;
            }
        }
        best.map(|(_, index, len)| (index, len))
    }

    /// Whether every criterion of the route at `index` but its destination prefix matches.
    fn matches(&self, index: usize, route: &Route, subject: &mut Subject<'_, '_>) -> bool {
        let Some(rule) = self.rules.get(index) else {
            return false;
        };
        rule.enabled
            && self.account_matches(index, subject.account)
            && self.coding_matches(index, subject.data_coding)
            && source_matches(route, subject.source)
            && window_matches(route, subject.at, subject.default_time_zone)
            && network_matches(route, subject)
    }

    /// Whether the route at `index` applies to `account`.
    pub(crate) fn account_matches(&self, index: usize, account: &str) -> bool {
        match self.rules.get(index).and_then(|r| r.accounts.as_deref()) {
            None => true,
            Some(ids) => ids.binary_search_by(|id| (**id).cmp(account)).is_ok(),
        }
    }

    /// Whether the route at `index` applies to `data_coding`.
    pub(crate) fn coding_matches(&self, index: usize, data_coding: u8) -> bool {
        match self.rules.get(index).and_then(|r| r.data_codings) {
            None => true,
            Some(bits) => bits[usize::from(data_coding >> 6)] & (1 << (data_coding & 63)) != 0,
        }
    }
}

/// Whether the route's source pattern (if any) matches `source`.
pub(crate) fn source_matches(route: &Route, source: &str) -> bool {
    route
        .criteria
        .source
        .as_ref()
        .is_none_or(|p| p.matches(source))
}

/// Whether `at` is in the route's time window (if any).
pub(crate) fn window_matches(route: &Route, at: SystemTime, default: UtcOffset) -> bool {
    route
        .criteria
        .time_window
        .as_ref()
        .is_none_or(|w| w.contains_in(at, default))
}

/// Whether the destination's network is one the route lists (if it lists any).
pub(crate) fn network_matches(route: &Route, subject: &mut Subject<'_, '_>) -> bool {
    let networks = &route.criteria.networks;
    networks.is_empty()
        || subject
            .network()
            .is_some_and(|(_, n)| networks.contains(&n.id))
}

/// The longest of the route's prefixes that starts `number` (linear; for explain).
pub(crate) fn longest_prefix<'r>(route: &'r Route, number: &str) -> Option<&'r str> {
    route
        .criteria
        .destination_prefixes
        .iter()
        .filter(|p| number.starts_with(p.as_str()))
        .max_by_key(|p| p.len())
        .map(String::as_str)
}
