//! What stands between a password guesser and the password checks: lockouts after
//! repeated failures, and a bounded number of argon2id checks at once.
//!
//! An argon2id check costs tens of milliseconds of CPU and megabytes of memory by design,
//! so an edge that checked every password it was sent would be easy to starve. Before a
//! password is checked (passwords this edge verified before skip all of this,
//! [`crate::bind::VerifiedPasswords`]):
//!
//! 1. **Lockouts.** `edge.lockout_failures` failures of one `system_id` (known or not, so
//!    a lockout tells nothing of which accounts exist), or from one address, lock it out
//!    for `edge.lockout`; the next lockout of the same key lasts twice as long, up to an
//!    hour, until an hour passes without a failure. A locked-out attempt is refused
//!    without a check (`ESME_RTHROTTLED`; HTTP 429).
//! 2. **One check per address.** An address's checks run one at a time; up to
//!    [`MAX_WAITING_PER_ADDRESS`] more wait behind it (an ESME opening its binds at once
//!    after an edge restart: the first verifies, the others find the password
//!    remembered), and beyond that they are refused at once (`ESME_RSYSERR`; HTTP 503):
//!    a flood from one client holds one place in the queue, not all of it.
//! 3. **A bounded queue.** `edge.password_checks` checks run at once; up to
//!    `edge.password_check_queue` wait; beyond, refused at once like 2.
//!
//! Each refusal is counted (`herald_edge_auth_refused_total{status}`), each lockout too
//! (`herald_edge_lockouts_total{status}`, alert `HeraldAuthLockouts`). The state is this
//! edge's own: an attacker spreading guesses over the edges behind a load balancer meets
//! each edge's lockout in turn.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use herald_telemetry::names;
use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore, SemaphorePermit};

/// Checks of one address that may wait behind its running one.
pub const MAX_WAITING_PER_ADDRESS: usize = 8;

/// The longest lockout.
pub const MAX_LOCKOUT: Duration = Duration::from_secs(3600);
/// A key with no failure for this long starts afresh.
const FORGET_AFTER: Duration = Duration::from_secs(3600);
/// Keys remembered at most; beyond, those neither locked nor recent are forgotten first.
const MAX_KEYS: usize = 100_000;

/// What is counted: a `system_id` as sent, or an address.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Key {
    SystemId(String),
    Address(IpAddr),
}

impl Key {
    fn kind(&self) -> &'static str {
        match self {
            Key::SystemId(_) => "account",
            Key::Address(_) => "address",
        }
    }
}

#[derive(Debug)]
struct Record {
    failures: u32,
    last_failure: Instant,
    locked_until: Option<Instant>,
    /// Lockouts so far: the next lasts `lockout × 2^lockouts`.
    lockouts: u32,
}

/// Why an attempt was refused before its password was checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
    /// The `system_id` or the address is locked out.
    LockedOut,
    /// The address has as many checks waiting as it may.
    AddressBusy,
    /// The queue of checks is full.
    QueueFull,
}

impl Refused {
    /// The `status` label.
    pub const fn name(self) -> &'static str {
        match self {
            Refused::LockedOut => "locked_out",
            Refused::AddressBusy => "address_busy",
            Refused::QueueFull => "queue_full",
        }
    }
}

/// Lockouts and the bounded password checks of one edge.
#[derive(Debug)]
pub struct AuthGuard {
    failures_to_lock: u32,
    lockout: Duration,
    records: Mutex<HashMap<Key, Record>>,
    checks: Semaphore,
    waiting: AtomicUsize,
    max_waiting: usize,
    addresses: Mutex<HashMap<IpAddr, Arc<AddressTurn>>>,
}

/// One address's turn at the checks.
#[derive(Debug)]
struct AddressTurn {
    turn: Arc<Semaphore>,
    waiting: AtomicUsize,
}

/// A place in the password checks, held while one runs; frees its address's turn when
/// dropped.
#[derive(Debug)]
pub struct CheckPermit<'a> {
    guard: &'a AuthGuard,
    address: IpAddr,
    _permit: SemaphorePermit<'a>,
    turn: Option<OwnedSemaphorePermit>,
}

impl Drop for CheckPermit<'_> {
    fn drop(&mut self) {
        drop(self.turn.take());
        self.guard.forget_idle(self.address);
    }
}

impl AuthGuard {
    /// A guard locking out after `failures_to_lock` failures for `lockout` (doubling), with
    /// `concurrent` checks at once and `queue` waiting.
    pub fn new(failures_to_lock: u32, lockout: Duration, concurrent: u32, queue: u32) -> Self {
        // At zero from the start, so alerts over their increase are defined before the first.
        for kind in ["account", "address"] {
            metrics::counter!(names::EDGE_LOCKOUTS_TOTAL, names::labels::STATUS => kind)
                .increment(0);
        }
        for refused in [Refused::LockedOut, Refused::AddressBusy, Refused::QueueFull] {
            metrics::counter!(names::EDGE_AUTH_REFUSED_TOTAL, names::labels::STATUS => refused.name())
                .increment(0);
        }
        AuthGuard {
            failures_to_lock: failures_to_lock.max(1),
            lockout,
            records: Mutex::new(HashMap::new()),
            checks: Semaphore::new(usize::try_from(concurrent.max(1)).unwrap_or(1)),
            waiting: AtomicUsize::new(0),
            max_waiting: usize::try_from(queue).unwrap_or(usize::MAX),
            addresses: Mutex::new(HashMap::new()),
        }
    }

    /// Admits a password check of `system_id` from `address`, waiting for a place in the
    /// checks; or refuses it (counted).
    pub async fn admit(
        &self,
        system_id: &str,
        address: IpAddr,
    ) -> Result<CheckPermit<'_>, Refused> {
        let admitted = self.try_admit(system_id, address).await;
        if let Err(refused) = admitted {
            metrics::counter!(names::EDGE_AUTH_REFUSED_TOTAL, names::labels::STATUS => refused.name())
                .increment(1);
        }
        admitted
    }

    async fn try_admit(
        &self,
        system_id: &str,
        address: IpAddr,
    ) -> Result<CheckPermit<'_>, Refused> {
        self.check_lockouts(system_id, address)?;
        let turn = match self.address_turn(address).await {
            Ok(turn) => turn,
            Err(refused) => {
                self.forget_idle(address);
                return Err(refused);
            }
        };
        // The address's earlier attempts may have locked it out meanwhile.
        let refused = match self.check_lockouts(system_id, address) {
            Err(refused) => Some(refused),
            Ok(())
                if self.waiting.fetch_add(1, Ordering::AcqRel) >= self.max_waiting
                    && self.checks.available_permits() == 0 =>
            {
                self.waiting.fetch_sub(1, Ordering::AcqRel);
                Some(Refused::QueueFull)
            }
            Ok(()) => None,
        };
        if let Some(refused) = refused {
            drop(turn);
            self.forget_idle(address);
            return Err(refused);
        }
        let permit = self.checks.acquire().await;
        self.waiting.fetch_sub(1, Ordering::AcqRel);
        match permit {
            Ok(permit) => Ok(CheckPermit {
                guard: self,
                address,
                _permit: permit,
                turn: Some(turn),
            }),
            // The semaphore is never closed.
            Err(_) => {
                drop(turn);
                self.forget_idle(address);
                Err(Refused::QueueFull)
            }
        }
    }

    fn check_lockouts(&self, system_id: &str, address: IpAddr) -> Result<(), Refused> {
        let now = Instant::now();
        if self.locked(&Key::SystemId(system_id.to_owned()), now)
            || self.locked(&Key::Address(address), now)
        {
            return Err(Refused::LockedOut);
        }
        Ok(())
    }

    /// Waits for `address`'s turn, unless too many of its attempts wait already.
    async fn address_turn(&self, address: IpAddr) -> Result<OwnedSemaphorePermit, Refused> {
        let turn = {
            let mut addresses = self
                .addresses
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let turn = addresses
                .entry(address)
                .or_insert_with(|| {
                    Arc::new(AddressTurn {
                        turn: Arc::new(Semaphore::new(1)),
                        waiting: AtomicUsize::new(0),
                    })
                })
                .clone();
            if turn.waiting.load(Ordering::Acquire) > MAX_WAITING_PER_ADDRESS {
                return Err(Refused::AddressBusy);
            }
            turn.waiting.fetch_add(1, Ordering::AcqRel);
            turn
        };
        // Counted off as waiting however this ends (a caller that gives up drops it).
        struct Waiting<'a>(&'a AtomicUsize);
        impl Drop for Waiting<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::AcqRel);
            }
        }
        let _waiting = Waiting(&turn.waiting);
        turn.turn
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| Refused::AddressBusy)
    }

    /// Drops `address`'s turn once nobody holds or waits for it, so the map stays small.
    fn forget_idle(&self, address: IpAddr) {
        let mut addresses = self
            .addresses
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if addresses.get(&address).is_some_and(|turn| {
            turn.waiting.load(Ordering::Acquire) == 0 && turn.turn.available_permits() == 1
        }) {
            addresses.remove(&address);
        }
    }

    fn locked(&self, key: &Key, now: Instant) -> bool {
        let records = self
            .records
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        records
            .get(key)
            .and_then(|r| r.locked_until)
            .is_some_and(|until| now < until)
    }

    /// Records a failed password (or unknown `system_id`) from `address`; may begin a
    /// lockout of either.
    pub fn failed(&self, system_id: &str, address: IpAddr) {
        let now = Instant::now();
        let mut records = self
            .records
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if records.len() >= MAX_KEYS {
            records.retain(|_, r| {
                r.locked_until.is_some_and(|until| now < until)
                    || now.duration_since(r.last_failure) < self.lockout
            });
            if records.len() >= MAX_KEYS {
                records.clear();
            }
        }
        for key in [Key::SystemId(system_id.to_owned()), Key::Address(address)] {
            let record = records.entry(key.clone()).or_insert(Record {
                failures: 0,
                last_failure: now,
                locked_until: None,
                lockouts: 0,
            });
            if now.duration_since(record.last_failure) >= FORGET_AFTER {
                record.failures = 0;
                record.lockouts = 0;
            }
            record.failures += 1;
            record.last_failure = now;
            if record.failures >= self.failures_to_lock {
                let lasts = self
                    .lockout
                    .saturating_mul(1 << record.lockouts.min(16))
                    .min(MAX_LOCKOUT);
                record.locked_until = Some(now + lasts);
                record.lockouts += 1;
                record.failures = 0;
                tracing::warn!(kind = key.kind(), key = ?key, ?lasts, "authentication locked out after repeated failures");
                metrics::counter!(names::EDGE_LOCKOUTS_TOTAL, names::labels::STATUS => key.kind())
                    .increment(1);
            }
        }
    }

    /// Records a password that verified: the `system_id`'s failures are forgiven (not the
    /// address's: one good account must not wash a guesser's record clean).
    pub fn succeeded(&self, system_id: &str) {
        let mut records = self
            .records
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(record) = records.get_mut(&Key::SystemId(system_id.to_owned())) {
            record.failures = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 2));

    #[tokio::test]
    async fn failures_lock_out_the_system_id_and_the_address_and_the_next_lockout_is_longer() {
        let guard = AuthGuard::new(3, Duration::from_millis(200), 4, 8);
        for _ in 0..3 {
            drop(guard.admit("acme", A).await.unwrap());
            guard.failed("acme", A);
        }
        assert_eq!(
            guard.admit("acme", B).await.unwrap_err(),
            Refused::LockedOut,
            "the system_id, from anywhere"
        );
        assert_eq!(
            guard.admit("other", A).await.unwrap_err(),
            Refused::LockedOut,
            "the address, whatever it tries"
        );
        assert!(guard.admit("other", B).await.is_ok());
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert!(guard.admit("acme", B).await.is_ok(), "the lockout ended");
        for _ in 0..3 {
            guard.failed("acme", B);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert_eq!(
            guard.admit("acme", B).await.unwrap_err(),
            Refused::LockedOut,
            "the second lockout lasts twice as long"
        );
    }

    #[tokio::test]
    async fn a_success_forgives_the_system_id_not_the_address() {
        let guard = AuthGuard::new(3, Duration::from_secs(60), 4, 8);
        guard.failed("acme", A);
        guard.failed("acme", A);
        guard.succeeded("acme");
        guard.failed("acme", B);
        assert!(guard.admit("acme", B).await.is_ok(), "acme was forgiven");
        guard.failed("other", A);
        assert_eq!(guard.admit("x", A).await.unwrap_err(), Refused::LockedOut);
    }

    #[tokio::test]
    async fn one_check_per_address_and_a_bounded_queue() {
        let guard = AuthGuard::new(100, Duration::from_secs(60), 1, 1);
        let running = guard.admit("a", A).await.unwrap();
        // The address's next attempts wait for its turn, up to a bound.
        let mut behind = Vec::new();
        for _ in 0..=MAX_WAITING_PER_ADDRESS {
            let mut next = Box::pin(guard.admit("b", A));
            assert!(
                tokio::time::timeout(Duration::from_millis(10), &mut next)
                    .await
                    .is_err(),
                "waits"
            );
            behind.push(next);
        }
        assert_eq!(guard.admit("b", A).await.unwrap_err(), Refused::AddressBusy);
        drop(behind);
        // B waits for the one place; C finds the queue full.
        let waiting = guard.admit("b", B);
        tokio::pin!(waiting);
        assert!(
            tokio::time::timeout(Duration::from_millis(50), &mut waiting)
                .await
                .is_err()
        );
        let c: IpAddr = [192, 0, 2, 3].into();
        assert_eq!(guard.admit("c", c).await.unwrap_err(), Refused::QueueFull);
        drop(running);
        let b = waiting.await.unwrap();
        drop(b);
        assert!(
            guard.admit("a", A).await.is_ok(),
            "the address is free again"
        );
    }
}
