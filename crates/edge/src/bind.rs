//! Authenticating a bind (and an HTTP request) against the rules store, and slowing down
//! whoever keeps failing.
//!
//! The password is checked first, so that whoever does not know it learns nothing, not
//! even whether the `system_id` exists: an unknown `system_id` is checked against a
//! stand-in hash, costing the same time, and gets the same answer as a wrong password.
//! Only the password's holder is told what else is wrong:
//!
//! | fault | status |
//! | --- | --- |
//! | unknown `system_id`, or wrong password | `ESME_RINVPASWD` (with `edge.detailed_bind_errors`: `ESME_RINVSYSID` for the first) |
//! | locked out after repeated failures ([`crate::guard`]) | `ESME_RTHROTTLED` |
//! | too many password checks waiting, or one from the same address already | `ESME_RSYSERR` |
//! | account disabled, address not allowed, bind mode not allowed, TLS required | `ESME_RBINDFAIL` |
//! | the account's binds already open on this edge, or the edge's sessions all taken | `ESME_RBINDFAIL` |
//!
//! The password is checked against its argon2id hash on the blocking pool (a verify takes
//! tens of milliseconds by design), behind [`AuthGuard`]. Accounts come from the store's
//! snapshot, which keeps serving while etcd is away, so known accounts still bind then.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use herald_rules::model::BindMode as AccountBindMode;
use herald_rules::{Account, PasswordHash, RulesSnapshot};
use herald_smpp::CommandStatus;
use herald_smpp::session::BindMode;

use crate::guard::{AuthGuard, Refused};

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

/// How authentication answers failures.
#[derive(Debug)]
pub struct Authenticator {
    /// Passwords verified lately.
    pub verified: VerifiedPasswords,
    /// Lockouts and the bounded checks.
    pub guard: AuthGuard,
    /// Tell an unknown `system_id` apart from a wrong password.
    pub detailed: bool,
    /// What an unknown `system_id`'s password is checked against, so that it costs what a
    /// known one does.
    stand_in: std::sync::OnceLock<Option<PasswordHash>>,
}

/// The reason given for a failed password when the details are not told.
pub const CREDENTIALS_REFUSED: &str = "unknown system_id or wrong password";

impl Authenticator {
    /// An authenticator with `guard`; `detailed` tells an unknown `system_id` apart.
    pub fn new(guard: AuthGuard, detailed: bool) -> Self {
        Authenticator {
            verified: VerifiedPasswords::default(),
            guard,
            detailed,
            stand_in: std::sync::OnceLock::new(),
        }
    }

    fn stand_in(&self) -> Option<PasswordHash> {
        self.stand_in
            .get_or_init(|| PasswordHash::hash("herald stand-in for an unknown system_id").ok())
            .clone()
    }

    /// Checks `attempt` against the accounts in `snapshot`; the account on success, else
    /// the status to reject with and why.
    pub async fn authenticate(
        &self,
        snapshot: &RulesSnapshot,
        attempt: &BindAttempt,
    ) -> Result<Account, (CommandStatus, &'static str)> {
        let account = snapshot.account_by_system_id(&attempt.system_id);
        let remembered = account.is_some_and(|a| self.verified.known(a, &attempt.password));
        if !remembered {
            self.check_password(account, attempt).await?;
        }
        let Some(account) = account else {
            // Unreachable: an unknown system_id never verifies.
            return Err((CommandStatus::ESME_RINVPASWD, CREDENTIALS_REFUSED));
        };
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
        Ok(account.clone())
    }

    /// Checks the password of a `system_id` not remembered: behind the guard, against the
    /// account's hash or the stand-in.
    async fn check_password(
        &self,
        account: Option<&Account>,
        attempt: &BindAttempt,
    ) -> Result<(), (CommandStatus, &'static str)> {
        // The guard first: an address flooding one account holds one place, and its other
        // attempts are turned away at once rather than queued behind the account's lock.
        let _permit = self
            .guard
            .admit(&attempt.system_id, attempt.peer)
            .await
            .map_err(|refused| match refused {
                Refused::LockedOut => (
                    CommandStatus::ESME_RTHROTTLED,
                    "locked out after repeated failures; try again later",
                ),
                Refused::AddressBusy | Refused::QueueFull => (
                    CommandStatus::ESME_RSYSERR,
                    "too many authentications in progress; try again",
                ),
            })?;
        let lock = account.map(|a| self.verified.verify_lock(&a.id));
        let _one_at_a_time = match &lock {
            Some(lock) => Some(lock.lock().await),
            None => None,
        };
        // A verify of the same password may have finished while this one waited.
        if account.is_some_and(|a| self.verified.known(a, &attempt.password)) {
            return Ok(());
        }
        let hash = match account {
            Some(a) => Some(a.password_hash.clone()),
            None => self.stand_in(),
        };
        let password = attempt.password.clone();
        let verified = match hash {
            Some(hash) => tokio::task::spawn_blocking(move || hash.verify(&password))
                .await
                .unwrap_or(false),
            None => false,
        };
        match account {
            Some(account) if verified => {
                self.verified.remember(account, &attempt.password);
                self.guard.succeeded(&attempt.system_id).await;
                Ok(())
            }
            _ => {
                self.guard.failed(&attempt.system_id, attempt.peer).await;
                Err(match (account, self.detailed) {
                    (None, true) => (CommandStatus::ESME_RINVSYSID, "no such system_id"),
                    (Some(_), true) => (CommandStatus::ESME_RINVPASWD, "wrong password"),
                    (_, false) => (CommandStatus::ESME_RINVPASWD, CREDENTIALS_REFUSED),
                })
            }
        }
    }
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
/// (up to [`BindThrottle::MAX_DELAY`]); ten quiet minutes forgive it. A success does not:
/// a guesser holding one valid account must not clear its record with it.
#[derive(Debug)]
pub struct BindThrottle {
    base: Duration,
    failures: Mutex<HashMap<IpAddr, (u32, Instant)>>,
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
        self.base
            .saturating_mul(1 << doublings)
            .min(Self::MAX_DELAY)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_binds_wait_longer_each_time() {
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
    }
}
