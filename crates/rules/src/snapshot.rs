//! [`RulesSnapshot`]: every rules object of one etcd revision, decoded, validated,
//! cross-checked and indexed, immutable once built.
//!
//! [`RulesSnapshot::build`] is the only way to make one, used both at start-up and after
//! every change, so boot and reload cannot disagree. An object that cannot be used
//! (malformed, invalid, pointing at a carrier that does not exist) is skipped with a
//! [`Problem`]; a reference that only narrows a match (a route listing a deleted account)
//! is kept with a [`Problem`] too. The rest of the snapshot serves either way.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::sync::Arc;

use crate::error::ValidationError;
use crate::kind::{KeyClass, Kind, RulesObject, classify};
use crate::model::opt_out::normalize_number;
use crate::model::{
    Account, Carrier, MoRoute, Network, OptOutList, PriceTable, Route, RouteAction,
};
use crate::routing::RouteTable;
use crate::routing::trie::DigitTrie;

/// Something wrong with one key of a snapshot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The key, relative to the prefix (`accounts/acme`).
    pub key: String,
    /// What is wrong.
    pub error: ValidationError,
    /// Whether the object was left out of the snapshot (else it serves, with the fault
    /// noted).
    pub skipped: bool,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let effect = if self.skipped { "skipped" } else { "kept" };
        write!(f, "{}: {} ({effect})", self.key, self.error)
    }
}

/// Longest-prefix lookup over digit strings (network prefixes, price entries): a digit
/// trie, so a lookup costs one step per digit whatever the number of prefixes.
type PrefixMap<T> = DigitTrie<T>;

/// A price table with its lookups.
#[derive(Clone, Debug)]
struct IndexedPrices {
    table: PriceTable,
    by_prefix: PrefixMap<u64>,
    by_network: HashMap<String, u64>,
}

/// Every rules object at one revision. Cheap to share (`Arc`), never changed: a change in
/// etcd makes a new snapshot.
#[derive(Clone, Debug, Default)]
pub struct RulesSnapshot {
    revision: u64,
    accounts: HashMap<String, Account>,
    system_ids: HashMap<String, String>,
    carriers: HashMap<String, Carrier>,
    routes: Vec<Route>,
    mo_routes: Vec<MoRoute>,
    networks: HashMap<String, Network>,
    network_prefixes: PrefixMap<String>,
    prices: HashMap<String, IndexedPrices>,
    global_opt_outs: HashSet<String>,
    opt_outs: HashMap<String, HashSet<String>>,
    routing: Arc<RouteTable>,
    problems: Vec<Problem>,
}

/// The decoded, self-valid objects of each kind, by id (ordered, so that "the later one
/// loses" is deterministic).
#[derive(Default)]
struct Decoded {
    accounts: BTreeMap<String, Account>,
    carriers: BTreeMap<String, Carrier>,
    routes: BTreeMap<String, Route>,
    mo_routes: BTreeMap<String, MoRoute>,
    networks: BTreeMap<String, Network>,
    prices: BTreeMap<String, PriceTable>,
    opt_outs: BTreeMap<String, OptOutList>,
}

fn decode<T: RulesObject>(id: &str, value: &[u8]) -> Result<T, ValidationError> {
    let object: T = serde_json::from_slice(value).map_err(|e| ValidationError::Decode {
        kind: T::KIND,
        id: id.to_owned(),
        reason: e.to_string(),
    })?;
    if object.id() != id {
        return Err(ValidationError::IdMismatch {
            kind: T::KIND,
            id: id.to_owned(),
            found: object.id().to_owned(),
        });
    }
    object.validate()?;
    Ok(object)
}

/// Collects problems while building.
#[derive(Default)]
struct Problems(Vec<Problem>);

impl Problems {
    fn skip(&mut self, kind: Kind, id: &str, error: ValidationError) {
        self.push(format!("{}/{id}", kind.segment()), error, true);
    }

    fn keep(&mut self, kind: Kind, id: &str, error: ValidationError) {
        self.push(format!("{}/{id}", kind.segment()), error, false);
    }

    fn push(&mut self, key: String, error: ValidationError, skipped: bool) {
        self.0.push(Problem {
            key,
            error,
            skipped,
        });
    }
}

fn dangling(kind: Kind, id: &str, field: String, target: Kind, target_id: &str) -> ValidationError {
    ValidationError::Dangling {
        kind,
        id: id.to_owned(),
        field,
        target,
        target_id: target_id.to_owned(),
    }
}

impl RulesSnapshot {
    /// Builds the snapshot of `revision` from its key-values. Keys are relative to the
    /// prefix (`accounts/acme`); values are JSON documents. Keys under reserved segments
    /// (`nodes/`, `binds/`) are ignored; anything unusable becomes a [`Problem`].
    pub fn build<K, V>(revision: u64, entries: impl IntoIterator<Item = (K, V)>) -> RulesSnapshot
    where
        K: AsRef<str>,
        V: AsRef<[u8]>,
    {
        let mut problems = Problems::default();
        let mut decoded = Decoded::default();
        for (key, value) in entries {
            let (key, value) = (key.as_ref(), value.as_ref());
            let (kind, id) = match classify(key) {
                KeyClass::Reserved => continue,
                KeyClass::Unknown => {
                    let error = ValidationError::UnknownKey {
                        key: key.to_owned(),
                    };
                    problems.push(key.to_owned(), error, true);
                    continue;
                }
                KeyClass::Rules(kind, id) => (kind, id),
            };
            let stored = match kind {
                Kind::Account => {
                    decode(id, value).map(|o| drop(decoded.accounts.insert(id.into(), o)))
                }
                Kind::Carrier => {
                    decode(id, value).map(|o| drop(decoded.carriers.insert(id.into(), o)))
                }
                Kind::Route => decode(id, value).map(|o| drop(decoded.routes.insert(id.into(), o))),
                Kind::MoRoute => {
                    decode(id, value).map(|o| drop(decoded.mo_routes.insert(id.into(), o)))
                }
                Kind::Network => {
                    decode(id, value).map(|o| drop(decoded.networks.insert(id.into(), o)))
                }
                Kind::Price => decode(id, value).map(|o| drop(decoded.prices.insert(id.into(), o))),
                Kind::OptOut => {
                    decode(id, value).map(|o| drop(decoded.opt_outs.insert(id.into(), o)))
                }
            };
            if let Err(error) = stored {
                problems.push(key.to_owned(), error, true);
            }
        }
        let mut snapshot = RulesSnapshot {
            revision,
            ..RulesSnapshot::default()
        };
        snapshot.resolve(decoded, &mut problems);
        snapshot.problems = problems.0;
        snapshot
    }

    /// Cross-checks the decoded objects, referenced kinds first, and indexes them.
    fn resolve(&mut self, d: Decoded, problems: &mut Problems) {
        // Networks: a prefix belongs to the first network (in id order) that claims it.
        for (id, network) in d.networks {
            for prefix in &network.prefixes {
                if let Some(other) = self.network_prefixes.claim(prefix, id.clone()) {
                    let error = ValidationError::Duplicate {
                        kind: Kind::Network,
                        id: id.clone(),
                        field: "prefixes".into(),
                        value: prefix.clone(),
                        other: other.clone(),
                    };
                    problems.keep(Kind::Network, &id, error);
                }
            }
            self.networks.insert(id, network);
        }

        // Accounts: a system_id binds to one account only.
        for (id, account) in d.accounts {
            let system_id = account.system_id().to_owned();
            if let Some(other) = self.system_ids.get(&system_id) {
                let error = ValidationError::Duplicate {
                    kind: Kind::Account,
                    id: id.clone(),
                    field: "system_id".into(),
                    value: system_id,
                    other: other.clone(),
                };
                problems.skip(Kind::Account, &id, error);
                continue;
            }
            self.system_ids.insert(system_id, id.clone());
            self.accounts.insert(id, account);
        }
        let groups: HashSet<&str> = self
            .accounts
            .values()
            .flat_map(|a| a.groups.iter().map(String::as_str))
            .collect();

        self.carriers = d.carriers.into_iter().collect();

        // Price tables: of an existing carrier, one per carrier.
        for (id, table) in d.prices {
            if !self.carriers.contains_key(&table.carrier) {
                let error = dangling(
                    Kind::Price,
                    &id,
                    "carrier".into(),
                    Kind::Carrier,
                    &table.carrier,
                );
                problems.skip(Kind::Price, &id, error);
                continue;
            }
            if let Some(other) = self.prices.get(&table.carrier) {
                let error = ValidationError::Duplicate {
                    kind: Kind::Price,
                    id: id.clone(),
                    field: "carrier".into(),
                    value: table.carrier.clone(),
                    other: other.table.id.clone(),
                };
                problems.skip(Kind::Price, &id, error);
                continue;
            }
            let mut indexed = IndexedPrices {
                by_prefix: PrefixMap::default(),
                by_network: HashMap::new(),
                table,
            };
            for (i, entry) in indexed.table.entries.iter().enumerate() {
                if let Some(prefix) = &entry.prefix {
                    indexed.by_prefix.claim(prefix, entry.price_micros);
                }
                if let Some(network) = &entry.network {
                    if !self.networks.contains_key(network) {
                        let field = format!("entries[{i}].network");
                        problems.keep(
                            Kind::Price,
                            &id,
                            dangling(Kind::Price, &id, field, Kind::Network, network),
                        );
                    }
                    indexed
                        .by_network
                        .insert(network.clone(), entry.price_micros);
                }
            }
            self.prices.insert(indexed.table.carrier.clone(), indexed);
        }

        // Routes: the action's carriers must exist; match criteria that name nothing are
        // kept (they only fail to match) but reported.
        'routes: for (id, route) in d.routes {
            let kind = Kind::Route;
            for (i, carrier) in route.action.carriers().into_iter().enumerate() {
                if !self.carriers.contains_key(carrier) {
                    let field = match &route.action {
                        RouteAction::Carrier { .. } => "action.carrier".to_owned(),
                        RouteAction::Weighted { .. } => format!("action.split[{i}].carrier"),
                        _ => format!("action.carriers[{i}]"),
                    };
                    problems.skip(
                        kind,
                        &id,
                        dangling(kind, &id, field, Kind::Carrier, carrier),
                    );
                    continue 'routes;
                }
            }
            if let RouteAction::LeastCost { carriers } = &route.action {
                let currencies: BTreeMap<&str, &str> = carriers
                    .iter()
                    .filter_map(|c| Some((self.prices.get(c)?.table.currency.as_str(), c.as_str())))
                    .collect();
                if currencies.len() > 1 {
                    let listed: Vec<String> = currencies
                        .iter()
                        .map(|(cur, c)| format!("{cur} ({c})"))
                        .collect();
                    let error = ValidationError::Field {
                        kind,
                        id: id.clone(),
                        field: "action.carriers".into(),
                        reason: format!(
                            "price tables in different currencies: {}",
                            listed.join(", ")
                        ),
                    };
                    problems.skip(kind, &id, error);
                    continue;
                }
                for (i, c) in carriers.iter().enumerate() {
                    if !self.prices.contains_key(c) {
                        let field = format!("action.carriers[{i}]");
                        problems.keep(kind, &id, dangling(kind, &id, field, Kind::Price, c));
                    }
                }
            }
            for (i, a) in route.criteria.accounts.iter().enumerate() {
                if !self.accounts.contains_key(a) {
                    let field = format!("match.accounts[{i}]");
                    problems.keep(kind, &id, dangling(kind, &id, field, Kind::Account, a));
                }
            }
            for (i, g) in route.criteria.account_groups.iter().enumerate() {
                if !groups.contains(g.as_str()) {
                    let error = ValidationError::Field {
                        kind,
                        id: id.clone(),
                        field: format!("match.account_groups[{i}]"),
                        reason: format!("no account is in group {g:?}"),
                    };
                    problems.keep(kind, &id, error);
                }
            }
            for (i, n) in route.criteria.networks.iter().enumerate() {
                if !self.networks.contains_key(n) {
                    let field = format!("match.networks[{i}]");
                    problems.keep(kind, &id, dangling(kind, &id, field, Kind::Network, n));
                }
            }
            self.routes.push(route);
        }
        self.routes
            .sort_by(|a, b| (a.priority, &a.id).cmp(&(b.priority, &b.id)));

        // MO routes: the receiving account must exist.
        for (id, mo) in d.mo_routes {
            let kind = Kind::MoRoute;
            if !self.accounts.contains_key(&mo.account) {
                let error = dangling(kind, &id, "account".into(), Kind::Account, &mo.account);
                problems.skip(kind, &id, error);
                continue;
            }
            for (i, c) in mo.carriers.iter().enumerate() {
                if !self.carriers.contains_key(c) {
                    let field = format!("carriers[{i}]");
                    problems.keep(kind, &id, dangling(kind, &id, field, Kind::Carrier, c));
                }
            }
            self.mo_routes.push(mo);
        }
        self.mo_routes
            .sort_by(|a, b| (a.priority, &a.id).cmp(&(b.priority, &b.id)));

        // Opt-outs are never dropped: a list for an unknown account still applies if the
        // account comes back.
        for (id, list) in d.opt_outs {
            let numbers = list.numbers.iter().map(|n| normalize_number(n).to_owned());
            match &list.account {
                None => self.global_opt_outs.extend(numbers),
                Some(account) => {
                    if !self.accounts.contains_key(account) {
                        let error =
                            dangling(Kind::OptOut, &id, "account".into(), Kind::Account, account);
                        problems.keep(Kind::OptOut, &id, error);
                    }
                    self.opt_outs
                        .entry(account.clone())
                        .or_default()
                        .extend(numbers);
                }
            }
        }

        // The routing engine's index of the routes, built here so that every snapshot,
        // at start-up or after a change, routes by the same compiled table.
        self.routing = Arc::new(RouteTable::build(&self.routes, &self.accounts));
    }

    /// The compiled routes (see [`crate::routing`]).
    pub(crate) fn route_table(&self) -> &RouteTable {
        &self.routing
    }

    /// The etcd revision these rules are as of.
    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// What was skipped or kept with a fault: decoding and validation problems in key
    /// order, then cross-reference problems.
    pub fn problems(&self) -> &[Problem] {
        &self.problems
    }

    /// The account `id`.
    pub fn account(&self, id: &str) -> Option<&Account> {
        self.accounts.get(id)
    }

    /// The account that binds with `system_id`.
    pub fn account_by_system_id(&self, system_id: &str) -> Option<&Account> {
        self.accounts.get(self.system_ids.get(system_id)?)
    }

    /// Every account, in no particular order.
    pub fn accounts(&self) -> impl Iterator<Item = &Account> {
        self.accounts.values()
    }

    /// The carrier `id`.
    pub fn carrier(&self, id: &str) -> Option<&Carrier> {
        self.carriers.get(id)
    }

    /// Every carrier, in no particular order.
    pub fn carriers(&self) -> impl Iterator<Item = &Carrier> {
        self.carriers.values()
    }

    /// MT routes in the order they are tried: ascending priority, then id.
    pub fn routes(&self) -> &[Route] {
        &self.routes
    }

    /// The route `id`.
    pub fn route(&self, id: &str) -> Option<&Route> {
        self.routes.iter().find(|r| r.id == id)
    }

    /// MO routes in the order they are tried: ascending priority, then id.
    pub fn mo_routes(&self) -> &[MoRoute] {
        &self.mo_routes
    }

    /// The first enabled MO route that matches (see [`MoRoute::matches`]).
    pub fn mo_route_for(
        &self,
        carrier: &str,
        source: &str,
        destination: &str,
        text: &str,
    ) -> Option<&MoRoute> {
        self.mo_routes
            .iter()
            .find(|r| r.matches(carrier, source, destination, text))
    }

    /// The network `id` (MCC-MNC).
    pub fn network(&self, id: &str) -> Option<&Network> {
        self.networks.get(id)
    }

    /// Every network, in no particular order.
    pub fn networks(&self) -> impl Iterator<Item = &Network> {
        self.networks.values()
    }

    /// The network of an MCC-MNC written without its dash (`23415`, as the porting table
    /// keeps it); `None` when the rules do not list it.
    pub fn network_by_mcc_mnc(&self, digits: &str) -> Option<&Network> {
        let (mcc, mnc) = (digits.get(..3)?, digits.get(3..)?);
        let mut id = [0u8; 7];
        let len = mcc.len() + 1 + mnc.len();
        let slot = id.get_mut(..len)?;
        slot[..3].copy_from_slice(mcc.as_bytes());
        slot[3] = b'-';
        slot[4..].copy_from_slice(mnc.as_bytes());
        self.networks.get(std::str::from_utf8(slot).ok()?)
    }

    /// The network a number belongs to: the one with the longest matching prefix.
    pub fn network_of(&self, number: &str) -> Option<&Network> {
        self.network_match(number).map(|(_, n)| n)
    }

    /// The network of `number` with the length of the prefix that matched.
    pub(crate) fn network_match(&self, number: &str) -> Option<(usize, &Network)> {
        let number = normalize_number(number);
        let (len, id) = self.network_prefixes.longest_match(number)?;
        Some((len, self.networks.get(id)?))
    }

    /// The price table of `carrier`.
    pub fn price_table(&self, carrier: &str) -> Option<&PriceTable> {
        self.prices.get(carrier).map(|p| &p.table)
    }

    /// What `carrier` charges for a message part to `number`, in millionths of its table's
    /// currency: the longest matching prefix entry, or the network entry if the number's
    /// network prefix is longer, or the table's default. `None`: no price (unreachable).
    pub fn price_micros(&self, carrier: &str, number: &str) -> Option<u64> {
        let number = normalize_number(number);
        self.price_with_network(carrier, number, self.network_match(number))
    }

    /// [`RulesSnapshot::price_micros`] for a number whose network match is already known.
    pub(crate) fn price_with_network(
        &self,
        carrier: &str,
        number: &str,
        network: Option<(usize, &Network)>,
    ) -> Option<u64> {
        let prices = self.prices.get(carrier)?;
        let by_prefix = prices.by_prefix.longest_match(number);
        let by_network = network.and_then(|(len, n)| Some((len, prices.by_network.get(&n.id)?)));
        match (by_prefix, by_network) {
            (Some((pl, p)), Some((nl, n))) => Some(if nl > pl { *n } else { *p }),
            (Some((_, p)), None) | (None, Some((_, p))) => Some(*p),
            (None, None) => prices.table.default_price_micros,
        }
    }

    /// Whether `number` opted out of messages from `account` (its own lists or a global
    /// one). A leading `+` is ignored.
    pub fn is_opted_out(&self, account: &str, number: &str) -> bool {
        let number = normalize_number(number);
        self.global_opt_outs.contains(number)
            || self
                .opt_outs
                .get(account)
                .is_some_and(|set| set.contains(number))
    }

    /// The numbers opted out of `account`'s messages by its own lists (not the global ones).
    pub fn opt_outs(&self, account: &str) -> Option<&HashSet<String>> {
        self.opt_outs.get(account)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::model::account::tests::SECRET_HASH;

    fn entry(key: &str, value: Value) -> (String, Vec<u8>) {
        (key.to_owned(), serde_json::to_vec(&value).unwrap())
    }

    fn account(id: &str) -> (String, Vec<u8>) {
        entry(
            &format!("accounts/{id}"),
            json!({"id": id, "password_hash": SECRET_HASH, "quota": {"tps": 10}}),
        )
    }

    fn carrier(id: &str) -> (String, Vec<u8>) {
        entry(
            &format!("carriers/{id}"),
            json!({"id": id, "host": "smsc", "port": 2775, "system_id": "h",
                   "password": {"env": "PW"}, "throughput": {"tps": 10}}),
        )
    }

    fn route(id: &str, priority: i32, action: Value) -> (String, Vec<u8>) {
        entry(
            &format!("routes/{id}"),
            json!({"id": id, "priority": priority, "action": action}),
        )
    }

    fn problem_for<'a>(s: &'a RulesSnapshot, key: &str) -> &'a Problem {
        s.problems()
            .iter()
            .find(|p| p.key == key)
            .unwrap_or_else(|| panic!("no problem for {key}: {:?}", s.problems()))
    }

    #[test]
    fn a_clean_set_builds_without_problems() {
        let s = RulesSnapshot::build(
            7,
            vec![
                account("acme"),
                carrier("a"),
                carrier("b"),
                route("late", 20, json!({"type": "carrier", "carrier": "a"})),
                route(
                    "early",
                    10,
                    json!({"type": "failover", "carriers": ["b", "a"]}),
                ),
                route("also-early", 10, json!({"type": "reject", "status": 11})),
                entry(
                    "networks/234-15",
                    json!({"id": "234-15", "prefixes": ["44770", "44771"]}),
                ),
                entry(
                    "mo-routes/stop",
                    json!({"id": "stop", "destination": "80080", "keyword": "STOP", "account": "acme"}),
                ),
                entry(
                    "opt-outs/acme-1",
                    json!({"id": "acme-1", "account": "acme", "numbers": ["447700900001"]}),
                ),
                entry(
                    "opt-outs/global",
                    json!({"id": "global", "numbers": ["+447700900002"]}),
                ),
                entry("nodes/edge/e1", json!({"anything": true})),
                (String::from("binds/a/0"), b"not json".to_vec()),
            ],
        );
        assert_eq!(s.problems(), &[], "reserved segments are ignored");
        assert_eq!(s.revision(), 7);
        assert!(s.account("acme").is_some());
        assert_eq!(s.account_by_system_id("acme").unwrap().id, "acme");
        assert_eq!(s.carriers().count(), 2);
        let order: Vec<&str> = s.routes().iter().map(|r| r.id.as_str()).collect();
        assert_eq!(order, ["also-early", "early", "late"]);
        assert_eq!(s.route("late").unwrap().priority, 20);
        assert_eq!(s.network_of("447710000000").unwrap().id, "234-15");
        assert!(s.network_of("447720000000").is_none());
        assert_eq!(
            s.mo_route_for("a", "4477", "80080", "stop").unwrap().id,
            "stop"
        );
        assert!(s.is_opted_out("acme", "+447700900001"));
        assert!(!s.is_opted_out("other", "447700900001"));
        assert!(s.is_opted_out("other", "447700900002"), "global list");
        assert_eq!(s.opt_outs("acme").unwrap().len(), 1);
    }

    #[test]
    fn broken_objects_are_skipped_and_the_rest_serves() {
        let s = RulesSnapshot::build(
            3,
            vec![
                account("good"),
                (String::from("accounts/garbled"), b"{not json".to_vec()),
                (String::from("accounts/bytes"), vec![0xff, 0xfe]),
                entry(
                    "accounts/clear",
                    json!({"id": "clear", "password_hash": "hunter2", "quota": {"tps": 1}}),
                ),
                entry(
                    "accounts/other-id",
                    json!({"id": "good", "password_hash": SECRET_HASH, "quota": {"tps": 1}}),
                ),
                entry("quotas/q1", json!({})),
                entry(
                    "carriers/zero-port",
                    json!({"id": "zero-port", "host": "h", "port": 0,
                    "system_id": "h", "password": {"env": "PW"}, "throughput": {"tps": 1}}),
                ),
            ],
        );
        assert!(s.account("good").is_some());
        assert_eq!(s.accounts().count(), 1);
        assert_eq!(s.problems().len(), 6, "{:#?}", s.problems());
        assert!(s.problems().iter().all(|p| p.skipped));
        assert!(matches!(
            problem_for(&s, "accounts/garbled").error,
            ValidationError::Decode {
                kind: Kind::Account,
                ..
            }
        ));
        assert!(matches!(
            problem_for(&s, "accounts/bytes").error,
            ValidationError::Decode { .. }
        ));
        assert!(matches!(
            &problem_for(&s, "accounts/clear").error,
            ValidationError::Field { field, .. } if field == "password_hash"
        ));
        assert!(matches!(
            &problem_for(&s, "accounts/other-id").error,
            ValidationError::IdMismatch { found, .. } if found == "good"
        ));
        assert!(matches!(
            problem_for(&s, "quotas/q1").error,
            ValidationError::UnknownKey { .. }
        ));
        let port = problem_for(&s, "carriers/zero-port");
        assert!(
            matches!(&port.error, ValidationError::Field { kind: Kind::Carrier, id, field, .. }
            if id == "zero-port" && field == "port")
        );
        assert!(port.to_string().contains("(skipped)"), "{port}");
    }

    #[test]
    fn dangling_carriers_skip_the_route_and_dangling_matches_are_kept() {
        let s = RulesSnapshot::build(
            1,
            vec![
                account("acme"),
                carrier("a"),
                route(
                    "to-ghost",
                    1,
                    json!({"type": "weighted", "split": [
                    {"carrier": "a", "weight": 1}, {"carrier": "ghost", "weight": 1}]}),
                ),
                entry(
                    "routes/narrow",
                    json!({"id": "narrow", "action": {"type": "carrier", "carrier": "a"},
                    "match": {"accounts": ["acme", "gone"], "account_groups": ["nobody"], "networks": ["999-99"]}}),
                ),
                entry(
                    "mo-routes/orphan",
                    json!({"id": "orphan", "destination": "1", "account": "gone"}),
                ),
                entry(
                    "mo-routes/odd-carrier",
                    json!({"id": "odd-carrier", "destination": "1",
                    "account": "acme", "carriers": ["ghost"]}),
                ),
                entry(
                    "opt-outs/for-gone",
                    json!({"id": "for-gone", "account": "gone", "numbers": ["1"]}),
                ),
            ],
        );
        let ghost = problem_for(&s, "routes/to-ghost");
        assert!(ghost.skipped);
        assert_eq!(
            ghost.error,
            ValidationError::Dangling {
                kind: Kind::Route,
                id: "to-ghost".into(),
                field: "action.split[1].carrier".into(),
                target: Kind::Carrier,
                target_id: "ghost".into(),
            }
        );
        assert!(s.route("to-ghost").is_none());
        assert!(s.route("narrow").is_some(), "kept");
        let narrow: Vec<&Problem> = s
            .problems()
            .iter()
            .filter(|p| p.key == "routes/narrow")
            .collect();
        assert_eq!(narrow.len(), 3, "{narrow:#?}");
        assert!(narrow.iter().all(|p| !p.skipped));
        assert!(problem_for(&s, "mo-routes/orphan").skipped);
        assert!(s.mo_routes().iter().all(|m| m.id != "orphan"));
        assert!(!problem_for(&s, "mo-routes/odd-carrier").skipped);
        assert!(!problem_for(&s, "opt-outs/for-gone").skipped);
        assert!(s.is_opted_out("gone", "1"), "opt-outs are never dropped");
    }

    #[test]
    fn duplicates_across_objects() {
        let s = RulesSnapshot::build(
            1,
            vec![
                account("alpha"),
                entry(
                    "accounts/beta",
                    json!({"id": "beta", "system_id": "alpha",
                    "password_hash": SECRET_HASH, "quota": {"tps": 1}}),
                ),
                entry(
                    "networks/234-10",
                    json!({"id": "234-10", "prefixes": ["4477", "4478"]}),
                ),
                entry(
                    "networks/234-15",
                    json!({"id": "234-15", "prefixes": ["4477", "4479"]}),
                ),
                carrier("a"),
                entry(
                    "prices/a-1",
                    json!({"id": "a-1", "carrier": "a", "currency": "EUR", "entries": []}),
                ),
                entry(
                    "prices/a-2",
                    json!({"id": "a-2", "carrier": "a", "currency": "EUR", "entries": []}),
                ),
            ],
        );
        assert!(problem_for(&s, "accounts/beta").skipped);
        assert_eq!(s.account_by_system_id("alpha").unwrap().id, "alpha");
        let net = problem_for(&s, "networks/234-15");
        assert!(!net.skipped);
        assert_eq!(
            s.network_of("44771").unwrap().id,
            "234-10",
            "first claim wins"
        );
        assert_eq!(s.network_of("44791").unwrap().id, "234-15");
        assert!(problem_for(&s, "prices/a-2").skipped);
        assert_eq!(s.price_table("a").unwrap().id, "a-1");
    }

    #[test]
    fn prices_by_prefix_network_and_default() {
        let s = RulesSnapshot::build(
            1,
            vec![
                carrier("a"),
                carrier("b"),
                carrier("usd"),
                entry(
                    "networks/234-15",
                    json!({"id": "234-15", "prefixes": ["44770"]}),
                ),
                entry(
                    "prices/a",
                    json!({"id": "a", "carrier": "a", "currency": "EUR",
                    "default_price_micros": 9000,
                    "entries": [
                        {"prefix": "44", "price_micros": 5000},
                        {"prefix": "447700", "price_micros": 1000},
                        {"network": "234-15", "price_micros": 3000}]}),
                ),
                entry(
                    "prices/b",
                    json!({"id": "b", "carrier": "b", "currency": "EUR", "entries": [
                    {"prefix": "4477", "price_micros": 4000}]}),
                ),
                entry(
                    "prices/usd",
                    json!({"id": "usd", "carrier": "usd", "currency": "USD", "entries": []}),
                ),
                route(
                    "cheap",
                    1,
                    json!({"type": "least_cost", "carriers": ["a", "b"]}),
                ),
                route(
                    "mixed",
                    2,
                    json!({"type": "least_cost", "carriers": ["a", "usd"]}),
                ),
            ],
        );
        assert_eq!(
            s.price_micros("a", "447700123"),
            Some(1000),
            "longer prefix beats network"
        );
        assert_eq!(
            s.price_micros("a", "447701123"),
            Some(3000),
            "network beats shorter prefix"
        );
        assert_eq!(s.price_micros("a", "+441234"), Some(5000));
        assert_eq!(s.price_micros("a", "33612"), Some(9000), "default");
        assert_eq!(
            s.price_micros("b", "33612"),
            None,
            "no default: unreachable"
        );
        assert_eq!(s.price_micros("none", "44"), None);
        assert!(s.route("cheap").is_some());
        let mixed = problem_for(&s, "routes/mixed");
        assert!(mixed.skipped);
        assert!(
            mixed.error.to_string().contains("different currencies"),
            "{}",
            mixed.error
        );
    }

    #[test]
    fn the_same_entries_always_build_the_same_snapshot() {
        let entries = vec![
            account("acme"),
            carrier("a"),
            route("r", 0, json!({"type": "carrier", "carrier": "a"})),
        ];
        let mut reversed = entries.clone();
        reversed.reverse();
        let a = RulesSnapshot::build(5, entries);
        let b = RulesSnapshot::build(5, reversed);
        assert_eq!(a.routes(), b.routes());
        assert_eq!(a.account("acme"), b.account("acme"));
        assert_eq!(a.problems(), b.problems());
    }
}
