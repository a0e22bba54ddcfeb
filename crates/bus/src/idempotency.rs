//! Requests remembered by their client's idempotency key: the HTTP API's
//! `Idempotency-Key`, so that a client retrying after a timeout or a cut connection gets
//! the first answer rather than sending its messages twice.
//!
//! One key in the `herald_idempotency` bucket per account and key (the key hashed, so any
//! client string makes a valid bucket key), holding an [`IdempotentRequest`]. The first
//! request *claims* it with a create, which only one writer can win, cluster-wide: a
//! retry that reaches another edge at the same moment finds the claim. The winner writes
//! the answer over it when done ([`IdempotencyKeys::complete`]) or, when nothing was
//! accepted and the client may simply try again, removes it
//! ([`IdempotencyKeys::release`]). The bucket's TTL (`nats.idempotency_ttl`) forgets keys.

use std::time::Duration;

use async_nats::jetstream::{self, kv};
use herald_proto::bus::v1::IdempotentRequest;
use prost::Message as _;
use sha2::{Digest as _, Sha256};

use crate::bucket::Bucket;
use crate::error::BusError;
use crate::kv::kv_error;
use crate::publish::encode;
use crate::subject::{kv_key, lower_hex};
use crate::topology::IDEMPOTENCY_BUCKET;

/// What claiming a key found.
#[derive(Debug)]
pub enum Claim {
    /// The key was free and is now this request's, at this revision.
    Claimed {
        /// The claim's revision, for [`IdempotencyKeys::complete`] and
        /// [`IdempotencyKeys::release`].
        revision: u64,
    },
    /// An earlier request holds the key: in progress, interrupted, or done.
    Taken(IdempotentRequest),
}

/// The idempotency-key bucket (cheap to clone).
#[derive(Clone, Debug)]
pub struct IdempotencyKeys {
    store: Bucket,
}

impl IdempotencyKeys {
    pub(crate) async fn open(jetstream: &jetstream::Context) -> Result<Self, BusError> {
        let store = Bucket::open(jetstream, IDEMPOTENCY_BUCKET).await?;
        Ok(IdempotencyKeys { store })
    }

    /// The fingerprint of a request body, as [`IdempotentRequest::fingerprint`] holds it.
    pub fn fingerprint(body: &[u8]) -> String {
        lower_hex(&Sha256::digest(body))
    }

    /// Claims `account`'s `key` for `request` (not done), or returns what holds it.
    pub async fn claim(
        &self,
        account: &str,
        key: &str,
        request: &IdempotentRequest,
    ) -> Result<Claim, BusError> {
        let name = bucket_key(account, key);
        // A claim whose holder vanished between our create and our read (its key was
        // released) is tried again; twice is plenty, a third loss means a busy key.
        for _ in 0..3 {
            match self.store.create(&name, encode(request)).await {
                Ok(revision) => return Ok(Claim::Claimed { revision }),
                Err(e) if e.kind() == kv::CreateErrorKind::AlreadyExists => {}
                Err(e) => {
                    // A create whose answer was lost may still have been stored: if the
                    // key holds exactly our claim, it is ours.
                    if let Ok(Some(entry)) = self.store.entry(&name).await
                        && entry.operation == kv::Operation::Put
                        && IdempotentRequest::decode(entry.value.as_ref())
                            .is_ok_and(|held| held == *request)
                    {
                        return Ok(Claim::Claimed {
                            revision: entry.revision,
                        });
                    }
                    return Err(kv_error(IDEMPOTENCY_BUCKET, "claim", e));
                }
            }
            let held = self
                .store
                .get(&name)
                .await
                .map_err(|source| kv_error(IDEMPOTENCY_BUCKET, "get", source))?;
            if let Some(bytes) = held {
                let held = IdempotentRequest::decode(bytes.as_ref()).map_err(|source| {
                    BusError::Decode {
                        what: IDEMPOTENCY_BUCKET,
                        source,
                    }
                })?;
                return Ok(Claim::Taken(held));
            }
        }
        Err(kv_error(
            IDEMPOTENCY_BUCKET,
            "claim",
            "the key was claimed and released three times in a row",
        ))
    }

    /// Records the claimed request's answer (`request.done`), so retries get it.
    pub async fn complete(
        &self,
        account: &str,
        key: &str,
        revision: u64,
        request: &IdempotentRequest,
    ) -> Result<(), BusError> {
        self.store
            .update(bucket_key(account, key), encode(request), revision)
            .await
            .map_err(|source| kv_error(IDEMPOTENCY_BUCKET, "complete", source))?;
        Ok(())
    }

    /// Frees the claimed key: the request accepted nothing, so a retry may start afresh.
    pub async fn release(&self, account: &str, key: &str, revision: u64) -> Result<(), BusError> {
        self.store
            .delete_expect_revision(bucket_key(account, key), Some(revision))
            .await
            .map_err(|source| kv_error(IDEMPOTENCY_BUCKET, "release", source))?;
        Ok(())
    }
}

/// Whether a request that started at `started_unix_ms` and is not done should be taken
/// as interrupted at `now_unix_ms`, given that no request runs longer than `longest`.
pub fn interrupted(started_unix_ms: i64, now_unix_ms: i64, longest: Duration) -> bool {
    let longest_ms = i64::try_from(longest.as_millis()).unwrap_or(i64::MAX);
    now_unix_ms.saturating_sub(started_unix_ms) > longest_ms
}

fn bucket_key(account: &str, key: &str) -> String {
    // Half a SHA-256 keeps the bucket key short and any client string valid; a collision
    // within one account needs 2^64 keys.
    let digest = Sha256::digest(key.as_bytes());
    format!("{}.{}", kv_key(account), lower_hex(&digest[..16]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_keys_separate_accounts_and_accept_any_client_string() {
        let a = bucket_key("acme", "order 42/retry ü");
        assert!(a.starts_with("acme."), "{a}");
        assert!(
            a.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-=".contains(&b)),
            "{a}"
        );
        assert_ne!(a, bucket_key("other", "order 42/retry ü"));
        assert_ne!(a, bucket_key("acme", "order 43/retry ü"));
        assert_eq!(a, bucket_key("acme", "order 42/retry ü"));
    }

    #[test]
    fn a_request_is_interrupted_only_past_the_longest_a_request_runs() {
        let longest = Duration::from_secs(60);
        assert!(!interrupted(1_000, 1_000, longest));
        assert!(!interrupted(1_000, 61_000, longest));
        assert!(interrupted(1_000, 61_001, longest));
        // A clock that stepped back is not an interruption.
        assert!(!interrupted(61_000, 1_000, longest));
    }

    #[test]
    fn fingerprints_are_sha256_in_hex() {
        assert_eq!(
            IdempotencyKeys::fingerprint(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
