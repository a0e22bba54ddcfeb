//! Failed authentications counted across the cluster: the shared half of the edges'
//! lockouts.
//!
//! Each edge refuses a locked-out `system_id` or address at once, from its own memory;
//! this bucket is how a lockout earned on one edge reaches the others, and how failures
//! spread over several edges (an attacker behind a load balancer) add up to one count.
//! One key per counted thing (`account.<system_id>`, `address.<ip>`), one small record per
//! key, updated by compare-and-swap, so two edges counting at once lose no failure. The
//! bucket forgets a key an hour after its last failure ([`LOCKOUT_TTL`]) and holds at
//! most [`LOCKOUT_MAX_BYTES`]: full, it refuses writes and the edges count on their own
//! until records age out.
//!
//! [`LOCKOUT_TTL`]: crate::topology::LOCKOUT_TTL
//! [`LOCKOUT_MAX_BYTES`]: crate::topology::LOCKOUT_MAX_BYTES
//!
//! What a failure does to a record (how many failures lock, how long) is the caller's
//! rule, passed to [`AuthFailures::update`]; this module only stores and races.

use async_nats::jetstream::{self, kv};

use crate::bucket::Bucket;
use crate::error::{BusError, NatsError};
use crate::subject::kv_key;
use crate::topology::LOCKOUT_BUCKET;

/// How many times an update retries after losing a race to another edge.
const UPDATE_ATTEMPTS: usize = 16;

/// One key's failures, as every edge sees them. Times are Unix milliseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FailureRecord {
    /// Failures since the last lockout (or the last success).
    pub failures: u32,
    /// Lockouts so far; each lasts longer than the one before.
    pub lockouts: u32,
    /// When the last failure was counted.
    pub last_failure_unix_ms: i64,
    /// Until when the key is locked out; 0 when it is not.
    pub locked_until_unix_ms: i64,
}

impl FailureRecord {
    /// Whether the key is locked out at `now_unix_ms`.
    pub fn locked_at(&self, now_unix_ms: i64) -> bool {
        now_unix_ms < self.locked_until_unix_ms
    }

    /// `failures lockouts last_failure locked_until`, in decimal: small, and readable
    /// with `nats kv get`.
    fn encode(&self) -> bytes::Bytes {
        bytes::Bytes::from(format!(
            "{} {} {} {}",
            self.failures, self.lockouts, self.last_failure_unix_ms, self.locked_until_unix_ms
        ))
    }

    /// The record in `value`; `None` when it is not one (written by something else).
    fn decode(value: &[u8]) -> Option<FailureRecord> {
        let text = std::str::from_utf8(value).ok()?;
        let mut fields = text.split(' ');
        let record = FailureRecord {
            failures: fields.next()?.parse().ok()?,
            lockouts: fields.next()?.parse().ok()?,
            last_failure_unix_ms: fields.next()?.parse().ok()?,
            locked_until_unix_ms: fields.next()?.parse().ok()?,
        };
        fields.next().is_none().then_some(record)
    }
}

/// What is counted: a kind of key (`account`, `address`) and its value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LockoutKey(String);

impl LockoutKey {
    /// The key of `value` (a `system_id` as sent, an address as text) of `kind`.
    pub fn new(kind: &'static str, value: &str) -> Self {
        LockoutKey(format!("{kind}.{}", kv_key(value)))
    }
}

/// The cluster's failure records, in the bus's `herald_lockouts` bucket.
#[derive(Clone, Debug)]
pub struct AuthFailures {
    store: Bucket,
}

impl AuthFailures {
    pub(crate) async fn open(jetstream: &jetstream::Context) -> Result<Self, BusError> {
        let store = Bucket::open(jetstream, LOCKOUT_BUCKET).await?;
        Ok(AuthFailures { store })
    }

    /// `key`'s record, if it has one.
    pub async fn get(&self, key: &LockoutKey) -> Result<Option<FailureRecord>, BusError> {
        let value = self
            .store
            .get(&key.0)
            .await
            .map_err(|source| error("get", source))?;
        Ok(value.as_deref().and_then(FailureRecord::decode))
    }

    /// Replaces `key`'s record with what `change` makes of it (`None`: no record yet, or
    /// one the bucket forgot) and returns what was stored. When another edge wrote the
    /// key meanwhile, `change` runs again on its record, so no failure is lost.
    pub async fn update(
        &self,
        key: &LockoutKey,
        mut change: impl FnMut(Option<FailureRecord>) -> FailureRecord,
    ) -> Result<FailureRecord, BusError> {
        let key = &key.0;
        for _ in 0..UPDATE_ATTEMPTS {
            let current = self
                .store
                .entry(key)
                .await
                .map_err(|source| error("get", source))?;
            let (record, revision) = match &current {
                Some(entry) if entry.operation == kv::Operation::Put => {
                    (FailureRecord::decode(&entry.value), Some(entry.revision))
                }
                _ => (None, None),
            };
            let next = change(record);
            let written: Result<u64, (bool, NatsError)> = match revision {
                None => self.store.create(key, next.encode()).await.map_err(|e| {
                    (
                        e.kind() == kv::CreateErrorKind::AlreadyExists,
                        Box::new(e) as NatsError,
                    )
                }),
                Some(revision) => self
                    .store
                    .update(key, next.encode(), revision)
                    .await
                    .map_err(|e| {
                        (
                            e.kind() == kv::UpdateErrorKind::WrongLastRevision,
                            Box::new(e) as NatsError,
                        )
                    }),
            };
            match written {
                Ok(_) => return Ok(next),
                Err((true, _lost_race)) => continue,
                Err((false, source)) => return Err(error("update", source)),
            }
        }
        Err(error("update", "too many edges updating one key at once"))
    }
}

fn error(action: &'static str, source: impl Into<NatsError>) -> BusError {
    BusError::Kv {
        bucket: LOCKOUT_BUCKET,
        action,
        source: source.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_strangers_are_not_records() {
        let record = FailureRecord {
            failures: 3,
            lockouts: 2,
            last_failure_unix_ms: 1_765_000_000_000,
            locked_until_unix_ms: 1_765_000_060_000,
        };
        assert_eq!(FailureRecord::decode(&record.encode()), Some(record));
        assert_eq!(FailureRecord::decode(b"3 2 1"), None);
        assert_eq!(FailureRecord::decode(b"3 2 1 0 9"), None);
        assert_eq!(FailureRecord::decode(b"x 2 1 0"), None);
        assert!(record.locked_at(1_765_000_059_999));
        assert!(!record.locked_at(1_765_000_060_000));
    }

    #[test]
    fn keys_keep_their_kind_apart_and_escape_the_value() {
        assert_eq!(LockoutKey::new("account", "a.b").0, "account.a=2Eb");
        assert_eq!(
            LockoutKey::new("address", "2001:db8::1").0,
            "address.2001=3Adb8=3A=3A1"
        );
    }
}
