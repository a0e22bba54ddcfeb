//! Turning a matched route's action into a carrier: the candidates in the order the action
//! ranks them, minus the carriers the message already failed on, healthy ones first.
//!
//! | action | ranking | chosen |
//! | --- | --- | --- |
//! | `carrier` | the carrier | it, healthy or not (its queue holds the message until it is back) |
//! | `weighted` | the chosen one, then the rest in listed order, healthy first | a weighted draw among the healthy carriers left (all left if none is healthy), seeded by a hash of the message id, or of account + destination + segment reference for a segment of a concatenated message |
//! | `failover` | listed order, healthy first | the first |
//! | `least_cost` | price for the destination ascending, ties in listed order, healthy first; carriers with no price are left out | the first |
//! | `reject` | — | — |
//!
//! The hash is FNV-1a with a 64-bit finaliser, fixed by this code (not `std`'s hasher,
//! which may change between Rust releases): every router, of any build, picks the same
//! carrier for the same message, so a redelivered message and every segment of a long
//! message go the same way.
//!
//! Rankings are kept inline, at most [`MAX_CANDIDATES`] long, so no allocation is made.

use std::fmt;

use serde::Serialize;

use crate::model::{Network, Route, RouteAction};
use crate::routing::health::CarrierHealth;

/// The most candidates a decision lists (the chosen carrier first). An action with more
/// carriers is still ranked in full; only the listing is cut.
pub const MAX_CANDIDATES: usize = 16;

/// Why a route that matched could not name a carrier.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NoCarrier {
    /// Every carrier of the action is in the message's `failed_carriers`.
    AllFailed,
    /// Least cost: no carrier left has a price for the destination.
    NoPrice,
}

impl NoCarrier {
    /// A short, stable name for metrics and receipts (`all_failed`, `no_price`).
    pub const fn as_str(self) -> &'static str {
        match self {
            NoCarrier::AllFailed => "all_failed",
            NoCarrier::NoPrice => "no_price",
        }
    }
}

impl fmt::Display for NoCarrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NoCarrier::AllFailed => "every carrier of the route already failed",
            NoCarrier::NoPrice => "no carrier of the route has a price for the destination",
        })
    }
}

/// Why the chosen carrier was chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum PickReason {
    /// The route's one carrier.
    Carrier {
        /// Whether it is healthy (it is chosen either way).
        healthy: bool,
    },
    /// A weighted draw.
    Weighted {
        /// The chosen carrier's weight.
        weight: u32,
        /// The total weight of the carriers drawn from.
        total: u64,
        /// Whether the draw was among healthy carriers (false: none was healthy).
        healthy: bool,
    },
    /// The first usable carrier of a failover list.
    Failover {
        /// Its place in the route's list (0: the first).
        position: usize,
        /// Whether it is healthy (false: none left was).
        healthy: bool,
    },
    /// The cheapest carrier.
    LeastCost {
        /// Its price for the destination, in millionths of the currency.
        price_micros: u64,
        /// Whether it is healthy (false: none left with a price was).
        healthy: bool,
    },
}

impl fmt::Display for PickReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let down = |healthy: bool| if healthy { "" } else { " (none healthy)" };
        match *self {
            PickReason::Carrier { healthy } => {
                write!(
                    f,
                    "only carrier{}",
                    if healthy { "" } else { " (unhealthy)" }
                )
            }
            PickReason::Weighted {
                weight,
                total,
                healthy,
            } => write!(f, "weighted {weight}/{total}{}", down(healthy)),
            PickReason::Failover { position, healthy } => {
                write!(f, "failover position {}{}", position + 1, down(healthy))
            }
            PickReason::LeastCost {
                price_micros,
                healthy,
            } => write!(f, "least cost {price_micros} micros{}", down(healthy)),
        }
    }
}

/// The carriers of a decision in ranked order (the chosen one first), as positions in the
/// route's carrier list.
#[derive(Clone, Copy)]
pub struct Candidates<'s> {
    route: &'s Route,
    positions: [u16; MAX_CANDIDATES],
    len: u8,
}

impl<'s> Candidates<'s> {
    fn new(route: &'s Route) -> Self {
        Candidates {
            route,
            positions: [0; MAX_CANDIDATES],
            len: 0,
        }
    }

    /// The carrier ids, best first.
    pub fn iter(&self) -> impl Iterator<Item = &'s str> + '_ {
        let route = self.route;
        self.positions[..usize::from(self.len)]
            .iter()
            .filter_map(move |&p| carrier_at(route, usize::from(p)))
    }

    /// How many are listed.
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// Whether none is listed.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl fmt::Debug for Candidates<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl PartialEq for Candidates<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.iter().eq(other.iter())
    }
}

impl Eq for Candidates<'_> {}

/// The carrier at `position` of the route's action.
pub(crate) fn carrier_at(route: &Route, position: usize) -> Option<&str> {
    match &route.action {
        RouteAction::Carrier { carrier } => (position == 0).then_some(carrier.as_str()),
        RouteAction::Weighted { split } => split.get(position).map(|w| w.carrier.as_str()),
        RouteAction::Failover { carriers } | RouteAction::LeastCost { carriers } => {
            carriers.get(position).map(String::as_str)
        }
        RouteAction::Reject { .. } => None,
    }
}

/// A bounded list kept sorted by key: inserting past capacity drops the worst.
struct Ranked<K> {
    items: [(K, u16); MAX_CANDIDATES],
    len: usize,
}

impl<K: Copy + Ord + Default> Ranked<K> {
    fn new() -> Self {
        Ranked {
            items: [(K::default(), 0); MAX_CANDIDATES],
            len: 0,
        }
    }

    fn insert(&mut self, key: K, position: u16) {
        let at = self.items[..self.len].partition_point(|(k, _)| *k <= key);
        if at >= MAX_CANDIDATES {
            return;
        }
        let end = self.len.min(MAX_CANDIDATES - 1);
        self.items.copy_within(at..end, at + 1);
        self.items[at] = (key, position);
        self.len = (self.len + 1).min(MAX_CANDIDATES);
    }

    fn first(&self) -> Option<(K, u16)> {
        self.items[..self.len].first().copied()
    }

    fn into_candidates<'s>(self, route: &'s Route, chosen: Option<u16>) -> Candidates<'s> {
        let mut out = Candidates::new(route);
        let mut push = |p: u16| {
            if usize::from(out.len) < MAX_CANDIDATES {
                out.positions[usize::from(out.len)] = p;
                out.len += 1;
            }
        };
        if let Some(c) = chosen {
            push(c);
        }
        for &(_, p) in &self.items[..self.len] {
            if Some(p) != chosen {
                push(p);
            }
        }
        out
    }
}

/// What ranking a route's action came to.
pub(crate) enum Ranking<'s> {
    /// A carrier, with the ranking and why.
    Pick {
        carrier: &'s str,
        candidates: Candidates<'s>,
        why: PickReason,
    },
    /// No carrier left.
    None(NoCarrier),
}

/// What ranking needs to know about the message.
pub(crate) struct Context<'a, H: ?Sized> {
    pub(crate) failed: &'a [String],
    pub(crate) health: &'a H,
    /// The draw seed for weighted routes (see [`split_seed`]).
    pub(crate) seed: u64,
    /// Price lookup: carrier → price for this destination.
    pub(crate) price: &'a dyn Fn(&str) -> Option<u64>,
}

impl<H: CarrierHealth + ?Sized> Context<'_, H> {
    fn failed(&self, carrier: &str) -> bool {
        self.failed.iter().any(|f| f == carrier)
    }
}

fn position(i: usize) -> u16 {
    u16::try_from(i).unwrap_or(u16::MAX)
}

/// Ranks the carriers of `route`'s action for one message. `Reject` routes are handled by
/// the caller and rank to [`NoCarrier::AllFailed`] here.
pub(crate) fn rank<'s, H: CarrierHealth + ?Sized>(
    route: &'s Route,
    ctx: &Context<'_, H>,
) -> Ranking<'s> {
    match &route.action {
        RouteAction::Carrier { carrier } => {
            if ctx.failed(carrier) {
                return Ranking::None(NoCarrier::AllFailed);
            }
            let mut ranked = Ranked::<u8>::new();
            ranked.insert(0, 0);
            Ranking::Pick {
                carrier,
                candidates: ranked.into_candidates(route, None),
                why: PickReason::Carrier {
                    healthy: ctx.health.is_healthy(carrier),
                },
            }
        }
        RouteAction::Failover { carriers } => {
            let mut ranked = Ranked::<(bool, u16)>::new();
            for (i, c) in carriers.iter().enumerate() {
                if !ctx.failed(c) {
                    ranked.insert((!ctx.health.is_healthy(c), position(i)), position(i));
                }
            }
            match ranked.first() {
                None => Ranking::None(NoCarrier::AllFailed),
                Some(((down, _), p)) => Ranking::Pick {
                    carrier: carrier_at(route, usize::from(p)).unwrap_or_default(),
                    candidates: ranked.into_candidates(route, None),
                    why: PickReason::Failover {
                        position: usize::from(p),
                        healthy: !down,
                    },
                },
            }
        }
        RouteAction::LeastCost { carriers } => {
            let mut ranked = Ranked::<(bool, u64, u16)>::new();
            let mut any_left = false;
            for (i, c) in carriers.iter().enumerate() {
                if ctx.failed(c) {
                    continue;
                }
                any_left = true;
                if let Some(price) = (ctx.price)(c) {
                    let key = (!ctx.health.is_healthy(c), price, position(i));
                    ranked.insert(key, position(i));
                }
            }
            match ranked.first() {
                None if any_left => Ranking::None(NoCarrier::NoPrice),
                None => Ranking::None(NoCarrier::AllFailed),
                Some(((down, price, _), p)) => Ranking::Pick {
                    carrier: carrier_at(route, usize::from(p)).unwrap_or_default(),
                    candidates: ranked.into_candidates(route, None),
                    why: PickReason::LeastCost {
                        price_micros: price,
                        healthy: !down,
                    },
                },
            }
        }
        RouteAction::Weighted { split } => {
            let mut ranked = Ranked::<(bool, u16)>::new();
            let (mut healthy_total, mut total) = (0u64, 0u64);
            for (i, w) in split.iter().enumerate() {
                if ctx.failed(&w.carrier) {
                    continue;
                }
                let healthy = ctx.health.is_healthy(&w.carrier);
                ranked.insert((!healthy, position(i)), position(i));
                total += u64::from(w.weight);
                if healthy {
                    healthy_total += u64::from(w.weight);
                }
            }
            let (pool, only_healthy) = if healthy_total > 0 {
                (healthy_total, true)
            } else {
                (total, false)
            };
            if pool == 0 {
                return Ranking::None(NoCarrier::AllFailed);
            }
            let mut draw = ctx.seed % pool;
            let mut chosen = None;
            for (i, w) in split.iter().enumerate() {
                if ctx.failed(&w.carrier) || (only_healthy && !ctx.health.is_healthy(&w.carrier)) {
                    continue;
                }
                let weight = u64::from(w.weight);
                if draw < weight {
                    chosen = Some((i, w));
                    break;
                }
                draw -= weight;
            }
            let Some((i, w)) = chosen else {
                return Ranking::None(NoCarrier::AllFailed);
            };
            Ranking::Pick {
                carrier: &w.carrier,
                candidates: ranked.into_candidates(route, Some(position(i))),
                why: PickReason::Weighted {
                    weight: w.weight,
                    total: pool,
                    healthy: only_healthy,
                },
            }
        }
        RouteAction::Reject { .. } => Ranking::None(NoCarrier::AllFailed),
    }
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

fn fnv1a(mut hash: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(FNV_PRIME);
    }
    hash
}

/// splitmix64's finaliser: spreads FNV's weak low bits over the whole word, so `% total`
/// is fair.
fn finish(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The seed of a weighted draw: the message id's hash, or for a segment of a concatenated
/// message the hash of its account, destination and segment reference, which every
/// segment of that message shares.
pub fn split_seed(
    message_id: &str,
    account: &str,
    destination: &str,
    segment_reference: Option<u32>,
) -> u64 {
    let hash = match segment_reference {
        Some(reference) => {
            let h = fnv1a(FNV_OFFSET, account.as_bytes());
            let h = fnv1a(h, &[0xff]);
            let h = fnv1a(h, destination.as_bytes());
            let h = fnv1a(h, &[0xff]);
            fnv1a(h, &reference.to_be_bytes())
        }
        None => fnv1a(FNV_OFFSET, message_id.as_bytes()),
    };
    finish(hash)
}

/// The price lookup for `number` (with its network already found), for [`Context`].
pub(crate) fn price_lookup<'a>(
    snapshot: &'a crate::RulesSnapshot,
    number: &'a str,
    network: Option<(usize, &'a Network)>,
) -> impl Fn(&str) -> Option<u64> + 'a {
    move |carrier| snapshot.price_with_network(carrier, number, network)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_is_fixed_and_segments_share_it() {
        // Pinned: a change would move live traffic between carriers on upgrade, and
        // routers of two versions would split one long message.
        assert_eq!(split_seed("m1", "", "", None), 0xb1f1_c6d5_119a_7801);
        assert_eq!(
            split_seed("m1", "", "", None),
            split_seed("m1", "x", "y", None)
        );
        let a = split_seed("m1", "acme", "447700900123", Some(7));
        assert_eq!(a, 0xa2e9_12fe_d73b_d5a5);
        assert_eq!(a, split_seed("m2", "acme", "447700900123", Some(7)));
        assert_ne!(a, split_seed("m1", "acme", "447700900123", Some(8)));
        assert_ne!(a, split_seed("m1", "acme", "447700900124", Some(7)));
    }

    #[test]
    fn ranked_keeps_the_best_in_order() {
        let mut r = Ranked::<u64>::new();
        for (i, k) in [50u64, 10, 30, 10, 99].into_iter().enumerate() {
            r.insert(k, position(i));
        }
        let keys: Vec<u64> = r.items[..r.len].iter().map(|(k, _)| *k).collect();
        assert_eq!(keys, [10, 10, 30, 50, 99]);
        assert_eq!(r.first(), Some((10, 1)), "ties keep insertion order");
        let mut r = Ranked::<u64>::new();
        for i in (0..40u64).rev() {
            r.insert(i, position(i as usize));
        }
        assert_eq!(r.len, MAX_CANDIDATES);
        assert_eq!(r.first(), Some((0, 0)));
        assert_eq!(r.items[MAX_CANDIDATES - 1].0, 15);
    }
}
