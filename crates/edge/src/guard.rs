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
//!    without a check (`ESME_RTHROTTLED`; HTTP 429). An address is counted as the
//!    connection caps count it: an IPv6 client by its /64, whose addresses it can take at
//!    will (so too in 2. below).
//! 2. **One check per address.** An address's checks run one at a time; up to
//!    [`MAX_WAITING_PER_ADDRESS`] more wait behind it (an ESME opening its binds at once
//!    after an edge restart: the first verifies, the others find the password
//!    remembered), and beyond that they are refused at once (`ESME_RSYSERR`; HTTP 503):
//!    a flood from one client holds one place in the queue, not all of it.
//! 3. **A bounded queue.** `edge.password_checks` checks run at once; up to
//!    `edge.password_check_queue` wait; beyond, refused at once like 2.
//!
//! Each refusal is counted (`herald_edge_auth_refused_total{status}`), each lockout too
//! (`herald_edge_lockouts_total{status}`, alert `HeraldAuthLockouts`).
//!
//! Failures are counted across the cluster, in the bus's `herald_lockouts` bucket
//! ([`herald_bus::lockouts`]): guesses spread over the edges behind a load balancer add
//! up to one count, and a lockout earned on one edge holds on all. An edge refuses what
//! it knows to be locked from memory; an attempt that gets its address's turn asks the
//! bucket first (two reads, bounded by the checks themselves, not by the flood), and a
//! failure is counted there by compare-and-swap. When the bus cannot answer within
//! [`SHARED_TIMEOUT`], the edge counts on its own, as it did before the bucket.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use herald_bus::{AuthFailures, FailureRecord, LockoutKey};

use crate::connections::client_of;
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
/// How long a read or write of the shared failure records may take before this edge
/// decides on its own.
pub const SHARED_TIMEOUT: Duration = Duration::from_secs(1);

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

    /// Its key in the cluster's records.
    fn shared(&self) -> LockoutKey {
        match self {
            Key::SystemId(system_id) => LockoutKey::new(self.kind(), system_id),
            Key::Address(address) => LockoutKey::new(self.kind(), &address.to_string()),
        }
    }
}

/// How failures turn into lockouts; the same rule for this edge's records and the
/// cluster's.
#[derive(Clone, Copy, Debug)]
struct LockoutPolicy {
    failures_to_lock: u32,
    lockout: Duration,
}

impl LockoutPolicy {
    /// `record` after one more failure at `now` (Unix ms), and how long the lockout it
    /// began lasts, if it began one.
    fn fail(&self, record: Option<FailureRecord>, now: i64) -> (FailureRecord, Option<Duration>) {
        let mut record = record.unwrap_or_default();
        if now.saturating_sub(record.last_failure_unix_ms) >= millis(FORGET_AFTER) {
            record.failures = 0;
            record.lockouts = 0;
        }
        record.failures = record.failures.saturating_add(1);
        record.last_failure_unix_ms = now;
        if record.failures < self.failures_to_lock {
            return (record, None);
        }
        let lasts = self
            .lockout
            .saturating_mul(1 << record.lockouts.min(16))
            .min(MAX_LOCKOUT);
        record.locked_until_unix_ms = now.saturating_add(millis(lasts));
        record.lockouts = record.lockouts.saturating_add(1);
        record.failures = 0;
        (record, Some(lasts))
    }
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

fn now_unix_ms() -> i64 {
    herald_bus::lifecycle::unix_ms(SystemTime::now())
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
    policy: LockoutPolicy,
    /// What this edge knows of each key: the cluster's record as last read or written, or
    /// its own count while the bus does not answer.
    records: Mutex<HashMap<Key, FailureRecord>>,
    shared: Option<AuthFailures>,
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
            policy: LockoutPolicy {
                failures_to_lock: failures_to_lock.max(1),
                lockout,
            },
            records: Mutex::new(HashMap::new()),
            shared: None,
            checks: Semaphore::new(usize::try_from(concurrent.max(1)).unwrap_or(1)),
            waiting: AtomicUsize::new(0),
            max_waiting: usize::try_from(queue).unwrap_or(usize::MAX),
            addresses: Mutex::new(HashMap::new()),
        }
    }

    /// Counts failures in `shared` with the other edges, not only here.
    #[must_use]
    pub fn with_shared(mut self, shared: AuthFailures) -> Self {
        self.shared = Some(shared);
        self
    }

    /// Admits a password check of `system_id` from `address`, waiting for a place in the
    /// checks; or refuses it (counted).
    pub async fn admit(
        &self,
        system_id: &str,
        address: IpAddr,
    ) -> Result<CheckPermit<'_>, Refused> {
        let admitted = self.try_admit(system_id, client_of(address)).await;
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
        // The address's earlier attempts may have locked it out meanwhile, here or on
        // another edge.
        let locked = match self.check_lockouts(system_id, address) {
            Ok(()) => self.check_shared_lockouts(system_id, address).await,
            locked => locked,
        };
        let refused = match locked {
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
        let now = now_unix_ms();
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

    fn locked(&self, key: &Key, now: i64) -> bool {
        let records = self
            .records
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        records.get(key).is_some_and(|r| r.locked_at(now))
    }

    /// Asks the cluster whether `system_id` or `address` is locked out; what it says is
    /// remembered, so this edge refuses the next attempts without asking.
    async fn check_shared_lockouts(&self, system_id: &str, address: IpAddr) -> Result<(), Refused> {
        let Some(shared) = &self.shared else {
            return Ok(());
        };
        let keys = [Key::SystemId(system_id.to_owned()), Key::Address(address)];
        let (account, address_key) = (keys[0].shared(), keys[1].shared());
        let (first, second) = tokio::join!(
            tokio::time::timeout(SHARED_TIMEOUT, shared.get(&account)),
            tokio::time::timeout(SHARED_TIMEOUT, shared.get(&address_key)),
        );
        let now = now_unix_ms();
        let mut locked = false;
        for (key, answer) in keys.into_iter().zip([first, second]) {
            match answer {
                Ok(Ok(Some(record))) => {
                    locked |= record.locked_at(now);
                    self.remember(key, record);
                }
                Ok(Ok(None)) => {}
                Ok(Err(error)) => {
                    tracing::warn!(%error, "failed authentications not read from the bus; this edge decides alone");
                }
                Err(_) => {
                    tracing::warn!(timeout = ?SHARED_TIMEOUT, "failed authentications not read from the bus in time; this edge decides alone");
                }
            }
        }
        if locked {
            Err(Refused::LockedOut)
        } else {
            Ok(())
        }
    }

    /// Takes the cluster's `record` of `key` as this edge's.
    fn remember(&self, key: Key, record: FailureRecord) {
        let mut records = self
            .records
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if records.len() >= MAX_KEYS {
            make_room(&mut records, now_unix_ms(), self.policy.lockout);
        }
        records.insert(key, record);
    }

    /// Records a failed password (or unknown `system_id`) from `address`, in the cluster's
    /// records when the bus answers, else in this edge's; may begin a lockout of either.
    pub async fn failed(&self, system_id: &str, address: IpAddr) {
        let address = client_of(address);
        for key in [Key::SystemId(system_id.to_owned()), Key::Address(address)] {
            let now = now_unix_ms();
            let began = match self.fail_shared(&key, now).await {
                Some(began) => began,
                None => self.fail_here(&key, now),
            };
            if let Some(lasts) = began {
                tracing::warn!(kind = key.kind(), key = ?key, ?lasts, "authentication locked out after repeated failures");
                metrics::counter!(names::EDGE_LOCKOUTS_TOTAL, names::labels::STATUS => key.kind())
                    .increment(1);
            }
        }
    }

    /// Counts a failure of `key` in the cluster's records; `None` when they could not be
    /// written, else the lockout this failure began, if any.
    async fn fail_shared(&self, key: &Key, now: i64) -> Option<Option<Duration>> {
        let shared = self.shared.as_ref()?;
        let mut began = None;
        let shared_key = key.shared();
        let update = shared.update(&shared_key, |record| {
            let (next, lockout) = self.policy.fail(record, now);
            began = lockout;
            next
        });
        match tokio::time::timeout(SHARED_TIMEOUT, update).await {
            Ok(Ok(record)) => {
                self.remember(key.clone(), record);
                Some(began)
            }
            Ok(Err(error)) => {
                tracing::warn!(%error, "failed authentication not counted on the bus; counted on this edge");
                None
            }
            Err(_) => {
                tracing::warn!(timeout = ?SHARED_TIMEOUT, "failed authentication not counted on the bus in time; counted on this edge");
                None
            }
        }
    }

    /// Counts a failure of `key` in this edge's records; the lockout it began, if any.
    fn fail_here(&self, key: &Key, now: i64) -> Option<Duration> {
        let mut records = self
            .records
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if records.len() >= MAX_KEYS {
            make_room(&mut records, now, self.policy.lockout);
        }
        let record = records.entry(key.clone()).or_default();
        let (next, began) = self.policy.fail(Some(*record), now);
        *record = next;
        began
    }

    /// Records a password that verified: the `system_id`'s failures are forgiven (not the
    /// address's: one good account must not wash a guesser's record clean).
    pub async fn succeeded(&self, system_id: &str) {
        let key = Key::SystemId(system_id.to_owned());
        let had_failures = {
            let mut records = self
                .records
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            records.get_mut(&key).is_some_and(|record| {
                let had = record.failures > 0;
                record.failures = 0;
                had
            })
        };
        // The cluster's record is cleared only when this edge saw failures of its own
        // or read some there: a success costs no write otherwise.
        if let (true, Some(shared)) = (had_failures, &self.shared) {
            let shared_key = key.shared();
            let forgive = shared.update(&shared_key, |record| FailureRecord {
                failures: 0,
                ..record.unwrap_or_default()
            });
            if let Ok(Err(error)) = tokio::time::timeout(SHARED_TIMEOUT, forgive).await {
                tracing::warn!(%error, "a verified password's earlier failures not forgiven on the bus");
            }
        }
    }
}

/// Forgets the keys neither locked nor recently failed, or all when that is not enough.
fn make_room(records: &mut HashMap<Key, FailureRecord>, now: i64, lockout: Duration) {
    records.retain(|_, r| {
        r.locked_at(now) || now.saturating_sub(r.last_failure_unix_ms) < millis(lockout)
    });
    if records.len() >= MAX_KEYS {
        records.clear();
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
            guard.failed("acme", A).await;
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
            guard.failed("acme", B).await;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert_eq!(
            guard.admit("acme", B).await.unwrap_err(),
            Refused::LockedOut,
            "the second lockout lasts twice as long"
        );
    }

    #[tokio::test]
    async fn an_ipv6_guesser_is_locked_out_by_its_64_not_by_each_address() {
        let guard = AuthGuard::new(3, Duration::from_secs(60), 4, 8);
        for host in 1..=3u16 {
            let from = IpAddr::V6(std::net::Ipv6Addr::new(0x2001, 0xdb8, 0, 7, 0, 0, 0, host));
            guard.failed(&format!("guess{host}"), from).await;
        }
        let same_64: IpAddr = "2001:db8:0:7:ffff::1".parse().unwrap();
        assert_eq!(
            guard.admit("someone", same_64).await.unwrap_err(),
            Refused::LockedOut
        );
        let other_64: IpAddr = "2001:db8:0:8::1".parse().unwrap();
        assert!(guard.admit("someone", other_64).await.is_ok());
    }

    #[tokio::test]
    async fn a_success_forgives_the_system_id_not_the_address() {
        let guard = AuthGuard::new(3, Duration::from_secs(60), 4, 8);
        guard.failed("acme", A).await;
        guard.failed("acme", A).await;
        guard.succeeded("acme").await;
        guard.failed("acme", B).await;
        assert!(guard.admit("acme", B).await.is_ok(), "acme was forgiven");
        guard.failed("other", A).await;
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
