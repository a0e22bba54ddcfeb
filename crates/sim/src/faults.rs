//! What goes wrong at the simulated carrier, and the dice that decide when.
//!
//! [`Faults`] can be set at start ([`crate::SimConfig::faults`]) and changed while the
//! simulator runs ([`crate::SimSmsc::set_faults`]), so a test can run clean, then throttle,
//! then recover. Each `submit_sm` draws once per fault, in this order: disconnect, silence,
//! throttle (probability, then the TPS cap), error, slow answer.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use herald_smpp::CommandStatus;
use tokio::time::Instant;

/// Faults the simulated carrier injects into its answers to `submit_sm` and `data_sm`.
#[derive(Clone, Debug)]
pub struct Faults {
    /// Percent (0–100) of submits answered `ESME_RTHROTTLED`.
    pub throttle_percent: u8,
    /// Submits per second the carrier takes across all binds; beyond it (after a burst of
    /// one second's worth) it answers `ESME_RTHROTTLED`, as real SMSCs do. `None`: no cap.
    pub max_tps: Option<u32>,
    /// Percent of submits answered with [`Faults::error_status`].
    pub error_percent: u8,
    /// The status of injected errors; default `ESME_RSUBMITFAIL` (a permanent error).
    pub error_status: CommandStatus,
    /// Percent of submits answered after [`Faults::slow_latency`] instead of the normal
    /// latency.
    pub slow_percent: u8,
    /// The latency of slow answers.
    pub slow_latency: Duration,
    /// Percent of submits never answered (the ESME's response timeout fires).
    pub silent_percent: u8,
    /// Every this many submits, the carrier accepts the submit (counts and records it, and
    /// sends its receipt later) but drops the connection instead of answering: the
    /// "bind lost before the response" case. `None`: never.
    pub disconnect_every: Option<u64>,
    /// The SMPP 5.0 `congestion_state` (0–100) put in every accepting `submit_sm_resp`
    /// and `data_sm_resp`, as a loaded SMSC tells its ESMEs; `None`: no such TLV.
    pub congestion_state: Option<u8>,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            throttle_percent: 0,
            max_tps: None,
            error_percent: 0,
            error_status: CommandStatus::ESME_RSUBMITFAIL,
            slow_percent: 0,
            slow_latency: Duration::from_secs(1),
            silent_percent: 0,
            disconnect_every: None,
            congestion_state: None,
        }
    }
}

/// A small lock-free pseudo-random source (SplitMix64 over an atomic counter): good enough
/// to spread faults, reproducible from a seed.
#[derive(Debug)]
pub(crate) struct Dice {
    state: AtomicU64,
}

impl Dice {
    /// Dice seeded with `seed`, or from the process's hash seed when `seed` is 0.
    pub(crate) fn new(seed: u64) -> Self {
        let seed = if seed == 0 { random_seed() } else { seed };
        Dice {
            state: AtomicU64::new(seed),
        }
    }

    /// The next 64 random bits.
    pub(crate) fn next(&self) -> u64 {
        let mut z = self
            .state
            .fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)
            .wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// True with probability `percent` / 100.
    pub(crate) fn percent(&self, percent: u8) -> bool {
        percent > 0 && self.next() % 100 < u64::from(percent)
    }

    /// An index drawn by `weights` (all zero or empty: `None`).
    pub(crate) fn weighted(&self, weights: impl Iterator<Item = u32> + Clone) -> Option<usize> {
        let total: u64 = weights.clone().map(u64::from).sum();
        if total == 0 {
            return None;
        }
        let mut pick = self.next() % total;
        for (i, w) in weights.enumerate() {
            let w = u64::from(w);
            if pick < w {
                return Some(i);
            }
            pick -= w;
        }
        None
    }
}

fn random_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    hasher.finish() | 1
}

/// The carrier's own TPS cap: a token bucket holding one second's worth.
#[derive(Debug)]
pub(crate) struct TpsCap {
    bucket: Mutex<Option<(f64, Instant)>>,
}

impl TpsCap {
    pub(crate) fn new() -> Self {
        TpsCap {
            bucket: Mutex::new(None),
        }
    }

    /// Takes a token at `tps`; false when the bucket is empty.
    pub(crate) fn take(&self, tps: u32) -> bool {
        let rate = f64::from(tps.max(1));
        let now = Instant::now();
        let Ok(mut bucket) = self.bucket.lock() else {
            return true;
        };
        let (tokens, at) = bucket.get_or_insert((rate, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * rate).min(rate);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dice_are_reproducible_and_roughly_fair() {
        let (a, b) = (Dice::new(7), Dice::new(7));
        let draws: Vec<u64> = (0..8).map(|_| a.next()).collect();
        assert_eq!(draws, (0..8).map(|_| b.next()).collect::<Vec<_>>());
        let hits = (0..10_000).filter(|_| a.percent(30)).count();
        assert!((2_500..3_500).contains(&hits), "{hits}");
        assert!(!a.percent(0));
        assert!((0..100).all(|_| a.percent(100)));
    }

    #[test]
    fn weighted_picks_only_weighted_entries() {
        let dice = Dice::new(3);
        let weights = [0u32, 5, 0, 5];
        for _ in 0..1000 {
            let i = dice.weighted(weights.iter().copied()).unwrap();
            assert!(i == 1 || i == 3);
        }
        assert_eq!(dice.weighted([0u32, 0].iter().copied()), None);
    }

    #[tokio::test(start_paused = true)]
    async fn tps_cap_refills_over_time() {
        let cap = TpsCap::new();
        assert!((0..10).all(|_| cap.take(10)));
        assert!(!cap.take(10));
        tokio::time::advance(Duration::from_millis(250)).await;
        assert!(cap.take(10) && cap.take(10));
        assert!(!cap.take(10));
    }
}
