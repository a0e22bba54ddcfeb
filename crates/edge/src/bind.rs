//! Authenticating a bind against the rules store, and slowing down whoever keeps failing.
//!
//! The checks run in an order that tells an honest ESME what to fix without telling a
//! prober more than the specification's statuses already do:
//!
//! | fault | status |
//! | --- | --- |
//! | no account with this `system_id` | `ESME_RINVSYSID` |
//! | account disabled, address not allowed, bind mode not allowed, TLS required | `ESME_RBINDFAIL` |
//! | wrong password | `ESME_RINVPASWD` |
//! | the account's binds already open on this edge | `ESME_RBINDFAIL` |
//!
//! The password is checked against its argon2id hash on the blocking pool (a verify takes
//! tens of milliseconds by design). Accounts come from the store's snapshot, which keeps
//! serving while etcd is away, so known accounts still bind then.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use herald_rules::model::BindMode as AccountBindMode;
use herald_rules::{Account, RulesSnapshot};
use herald_smpp::CommandStatus;
use herald_smpp::session::BindMode;

/// What an ESME presented.
#[derive(Clone, Debug)]
pub struct BindAttempt {
    /// `system_id`, as sent.
    pub system_id: String,
    /// `password`, as sent.
    pub password: String,
    /// The bind's mode.
    pub mode: BindMode,
    /// Where it connected from.
    pub peer: IpAddr,
    /// Whether it came over TLS.
    pub tls: bool,
}

/// Remembers passwords that verified, so that a fleet of ESMEs rebinding after an edge
/// restart costs one argon2id verify per account and password, not one per bind.
///
/// Entries are keyed by the account and a 64-bit SipHash of the password under a key
/// drawn at random when the process starts, and hold the PHC string they verified
/// against: a changed password hash in the rules invalidates them. No clear password is
/// kept. Bounded: past [`VerifiedPasswords::MAX_ENTRIES`] the cache starts over.
///
/// Lookups take no lock: the HTTP API authenticates every request through this cache.
/// The map is replaced whole (copy on write) when a password verifies for the first time,
/// which costs far less than the argon2id verify that precedes it.
#[derive(Debug)]
pub struct VerifiedPasswords {
    hasher: std::collections::hash_map::RandomState,
    entries: ArcSwap<HashMap<(String, u64), String>>,
    /// One verify at a time per account: a rebind storm of one account's sessions runs
    /// argon2id once, the others find the result remembered.
    verifying: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl Default for VerifiedPasswords {
    fn default() -> Self {
        VerifiedPasswords {
            hasher: std::collections::hash_map::RandomState::new(),
            entries: ArcSwap::default(),
            verifying: Mutex::new(HashMap::new()),
        }
    }
}

impl VerifiedPasswords {
    /// Most entries kept.
    pub const MAX_ENTRIES: usize = 100_000;

    fn key(&self, account: &str, password: &str) -> (String, u64) {
        use std::hash::BuildHasher;
        (account.to_owned(), self.hasher.hash_one(password))
    }

    fn known(&self, account: &Account, password: &str) -> bool {
        let key = self.key(&account.id, password);
        self.entries
            .load()
            .get(&key)
            .is_some_and(|phc| phc == account.password_hash.as_phc())
    }

    fn verify_lock(&self, account: &str) -> Arc<tokio::sync::Mutex<()>> {
        match self.verifying.lock() {
            Ok(mut locks) => {
                if locks.len() >= Self::MAX_ENTRIES {
                    locks.retain(|_, lock| Arc::strong_count(lock) > 1);
                }
                locks.entry(account.to_owned()).or_default().clone()
            }
            Err(_) => Arc::default(),
        }
    }

    fn remember(&self, account: &Account, password: &str) {
        let key = self.key(&account.id, password);
        let phc = account.password_hash.as_phc();
        self.entries.rcu(|entries| {
            let mut next = if entries.len() >= Self::MAX_ENTRIES {
                HashMap::new()
            } else {
                HashMap::clone(entries)
            };
            next.insert(key.clone(), phc.to_owned());
            next
        });
    }
}

/// Checks `attempt` against the accounts in `snapshot`; the account on success, else the
/// status to reject with and why.
pub async fn authenticate(
    snapshot: &RulesSnapshot,
    attempt: &BindAttempt,
    verified: &VerifiedPasswords,
) -> Result<Account, (CommandStatus, &'static str)> {
    let account = snapshot
        .account_by_system_id(&attempt.system_id)
        .ok_or((CommandStatus::ESME_RINVSYSID, "no such system_id"))?;
    if !account.enabled {
        return Err((CommandStatus::ESME_RBINDFAIL, "account disabled"));
    }
    if !account.permits_ip(attempt.peer) {
        return Err((
            CommandStatus::ESME_RBINDFAIL,
            "address not on the account's allow-list",
        ));
    }
    if !account.permits_bind_mode(account_mode(attempt.mode)) {
        return Err((
            CommandStatus::ESME_RBINDFAIL,
            "bind mode not allowed for the account",
        ));
    }
    if account.tls_required && !attempt.tls {
        return Err((CommandStatus::ESME_RBINDFAIL, "account requires TLS"));
    }
    if verified.known(account, &attempt.password) {
        return Ok(account.clone());
    }
    let lock = verified.verify_lock(&account.id);
    let _one_at_a_time = lock.lock().await;
    if verified.known(account, &attempt.password) {
        return Ok(account.clone());
    }
    let hash = account.password_hash.clone();
    let password = attempt.password.clone();
    let ok = tokio::task::spawn_blocking(move || hash.verify(&password))
        .await
        .unwrap_or(false);
    if !ok {
        return Err((CommandStatus::ESME_RINVPASWD, "wrong password"));
    }
    verified.remember(account, &attempt.password);
    Ok(account.clone())
}

/// The rules model's name for a session's bind mode.
pub fn account_mode(mode: BindMode) -> AccountBindMode {
    match mode {
        BindMode::Transmitter => AccountBindMode::Transmitter,
        BindMode::Receiver => AccountBindMode::Receiver,
        BindMode::Transceiver => AccountBindMode::Transceiver,
    }
}

/// Delays the answer to failed binds, per peer address, doubling with each failure.
///
/// A client retrying a wrong password in a tight loop gets its answers ever more slowly
/// (up to [`BindThrottle::MAX_DELAY`]); one success, or ten quiet minutes, forgive it.
#[derive(Debug)]
pub struct BindThrottle {
    base: Duration,
    failures: Mutex<HashMap<IpAddr, (u32, Instant)>>,
    /// How many addresses `failures` holds, so that forgiving a success (every HTTP
    /// request) takes no lock while nobody is failing.
    tracked: AtomicUsize,
}

impl BindThrottle {
    /// The longest delay.
    pub const MAX_DELAY: Duration = Duration::from_secs(30);
    const FORGET_AFTER: Duration = Duration::from_secs(600);
    /// Addresses remembered at most; beyond, the oldest are forgotten.
    const MAX_TRACKED: usize = 10_000;

    /// A throttle whose first delay is `base`.
    pub fn new(base: Duration) -> Arc<Self> {
        Arc::new(BindThrottle {
            base,
            failures: Mutex::new(HashMap::new()),
            tracked: AtomicUsize::new(0),
        })
    }

    /// Records a failure from `peer` and returns how long to wait before answering.
    pub fn failed(&self, peer: IpAddr) -> Duration {
        let now = Instant::now();
        let Ok(mut failures) = self.failures.lock() else {
            return self.base;
        };
        if failures.len() >= Self::MAX_TRACKED {
            failures.retain(|_, (_, last)| now.duration_since(*last) < Self::FORGET_AFTER);
            if failures.len() >= Self::MAX_TRACKED {
                failures.clear();
            }
        }
        let entry = failures.entry(peer).or_insert((0, now));
        if now.duration_since(entry.1) >= Self::FORGET_AFTER {
            entry.0 = 0;
        }
        entry.0 = entry.0.saturating_add(1);
        entry.1 = now;
        let doublings = entry.0.saturating_sub(1).min(16);
        self.tracked.store(failures.len(), Ordering::Relaxed);
        self.base
            .saturating_mul(1 << doublings)
            .min(Self::MAX_DELAY)
    }

    /// Forgives `peer` after a successful bind.
    pub fn succeeded(&self, peer: IpAddr) {
        if self.tracked.load(Ordering::Relaxed) == 0 {
            return;
        }
        if let Ok(mut failures) = self.failures.lock() {
            failures.remove(&peer);
            self.tracked.store(failures.len(), Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_binds_wait_longer_each_time_until_a_success() {
        let throttle = BindThrottle::new(Duration::from_millis(500));
        let ip: IpAddr = [192, 0, 2, 1].into();
        let other: IpAddr = [192, 0, 2, 2].into();
        assert_eq!(throttle.failed(ip), Duration::from_millis(500));
        assert_eq!(throttle.failed(ip), Duration::from_secs(1));
        assert_eq!(throttle.failed(ip), Duration::from_secs(2));
        assert_eq!(
            throttle.failed(other),
            Duration::from_millis(500),
            "per address"
        );
        for _ in 0..20 {
            throttle.failed(ip);
        }
        assert_eq!(throttle.failed(ip), BindThrottle::MAX_DELAY);
        throttle.succeeded(ip);
        assert_eq!(throttle.failed(ip), Duration::from_millis(500));
    }
}
