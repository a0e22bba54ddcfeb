//! Subscriber opt-outs at scale: one key per account, scope and number in the
//! `herald_opt_outs` bucket, and [`OptOutSet`], the in-memory copy every router checks
//! each MT against (ADR 0017).
//!
//! The rules in etcd hold one value per opt-out list, which stops working near 80,000
//! numbers; a business with millions of subscribers needs a store that grows by key. Here
//! each opt-out is its own key, `<account>.<scope>.<number>`:
//!
//! - the scope is `a` for the whole account, or `s` and the sender's bytes in hex for an
//!   opt-out from one sender or short code only (a sender id may hold characters a key
//!   may not);
//! - the value is a protobuf `OptOut`: whether the number is opted out, when, by whom
//!   (`mo:<carrier>` for the subscriber's keyword, `operator:<name>` for the admin API)
//!   and a note. An opt-in writes `opted_out = false` rather than deleting the key, so the
//!   bucket's history (16 revisions a key) is the audit trail of every change.
//!
//! A router keeps every opted-out number in memory ([`OptOutStore::follow`]): a
//! persistent map per account of `u64` numbers, updated from the bucket's watch and
//! swapped in atomically, so a check costs two hash lookups and no lock. Numbers are
//! E.164 digits; at most 19 fit a `u64`, which every E.164 number (15 at most) does.

use std::sync::Arc;

use arc_swap::ArcSwap;
use async_nats::jetstream::{self, kv};
use bytes::Bytes;
use futures::{StreamExt as _, TryStreamExt as _};
use herald_proto::bus::v1::OptOut;
use prost::Message as _;

use crate::bucket::Bucket;
use crate::error::BusError;
use crate::topology::OPT_OUT_BUCKET;

/// Who an opt-out applies to within its account.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OptOutScope<'a> {
    /// Every message of the account.
    Account,
    /// Messages of the account from this sender (a short code, a long number or a name).
    Sender(&'a str),
}

/// One key of the bucket, read back: the scope's sender (none: the whole account), the
/// number and its record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OptOutEntry {
    /// The sender it is scoped to; `None`: the whole account.
    pub sender: Option<String>,
    /// The number, E.164 digits.
    pub number: String,
    /// Its current state and who set it.
    pub record: OptOut,
}

/// The opt-out bucket.
#[derive(Clone, Debug)]
pub struct OptOutStore {
    store: Bucket,
}

impl OptOutStore {
    pub(crate) async fn open(jetstream: &jetstream::Context) -> Result<Self, BusError> {
        Ok(OptOutStore {
            store: Bucket::open(jetstream, OPT_OUT_BUCKET).await?,
        })
    }

    /// Records `record` for `number` of `account` in `scope` (writes over the last one).
    ///
    /// # Errors
    ///
    /// [`BusError::Invalid`] when the number is not 1 to 19 digits or the account is not
    /// an id; [`BusError::Kv`] when the bucket cannot be written.
    pub async fn record(
        &self,
        account: &str,
        scope: OptOutScope<'_>,
        number: &str,
        record: &OptOut,
    ) -> Result<(), BusError> {
        let key = key(account, scope, number)?;
        self.store
            .put(key, Bytes::from(record.encode_to_vec()))
            .await
            .map(drop)
            .map_err(|source| kv_error("put", source))
    }

    /// The current record of `number` of `account` in `scope`, if it has one.
    pub async fn get(
        &self,
        account: &str,
        scope: OptOutScope<'_>,
        number: &str,
    ) -> Result<Option<OptOut>, BusError> {
        let key = key(account, scope, number)?;
        let value = self
            .store
            .get(key)
            .await
            .map_err(|source| kv_error("get", source))?;
        value.map(|value| decode(&value)).transpose()
    }

    /// Every recorded change of `number` of `account` in `scope`, oldest first: the audit
    /// trail (the bucket keeps the last 16).
    pub async fn history(
        &self,
        account: &str,
        scope: OptOutScope<'_>,
        number: &str,
    ) -> Result<Vec<OptOut>, BusError> {
        let key = key(account, scope, number)?;
        let entries: Vec<kv::Entry> = self
            .store
            .history(key)
            .await
            .map_err(|source| kv_error("history", source))?
            .try_collect()
            .await
            .map_err(|source| kv_error("history", source))?;
        entries
            .iter()
            .filter(|e| e.operation == kv::Operation::Put)
            .map(|e| decode(&e.value))
            .collect()
    }

    /// Every key of `account` with its current record (opted out or not), in no
    /// particular order: what `heraldctl opt-outs export` writes.
    pub async fn list(&self, account: &str) -> Result<Vec<OptOutEntry>, BusError> {
        check_account(account)?;
        if stored_values(self.store.store()).await? == 0 {
            return Ok(Vec::new());
        }
        let mut watch = self
            .store
            .store()
            .watch_with_history(format!("{account}.>"))
            .await
            .map_err(|source| kv_error("watch", source))?;
        let mut entries = Vec::new();
        let mut received = 0usize;
        loop {
            let next = tokio::time::timeout(LIST_IDLE, watch.next()).await;
            let entry = match next {
                Ok(Some(entry)) => entry.map_err(|source| kv_error("watch", source))?,
                // A watch of an account without keys delivers nothing at all.
                Err(_) if received == 0 => break,
                // Silence with entries still to come: an incomplete listing is an error,
                // never a shorter export.
                Ok(None) | Err(_) => {
                    return Err(BusError::Invalid(format!(
                        "listing {account}'s opt-outs stalled after {received} entries"
                    )));
                }
            };
            received += 1;
            if entry.operation == kv::Operation::Put
                && let Some((_, sender, number)) = parse_key(&entry.key)
            {
                entries.push(OptOutEntry {
                    sender,
                    number,
                    record: decode(&entry.value)?,
                });
            }
            if entry.delta == 0 {
                break;
            }
        }
        Ok(entries)
    }

    /// Follows the bucket into an [`OptOutSet`]: returns once every opt-out present is in
    /// it, then applies each change as it is written. The task ends when the returned set
    /// is dropped, and reads the bucket again after a bus error.
    pub async fn follow(&self) -> Result<OptOutSet, BusError> {
        let store = self.store.store().clone();
        let set = OptOutSet::default();
        let (loaded_tx, loaded_rx) = tokio::sync::oneshot::channel();
        let weak = Arc::downgrade(&set.inner);
        tokio::spawn(async move {
            let mut loaded = Some(loaded_tx);
            let mut backoff = herald_backoff::Backoff::new(
                std::time::Duration::from_millis(200),
                std::time::Duration::from_secs(5),
            );
            loop {
                if let Err(error) = follow_once(&store, &weak, &mut loaded).await {
                    if let Some(tx) = loaded.take() {
                        let _ = tx.send(Err(error));
                        return;
                    }
                    let delay = backoff.next_delay();
                    tracing::warn!(%error, retry_in = ?delay, "opt-out watch lost; reading again");
                    tokio::time::sleep(delay).await;
                } else if weak.strong_count() == 0 {
                    return;
                }
            }
        });
        match loaded_rx.await {
            Ok(Ok(())) => Ok(set),
            Ok(Err(error)) => Err(error),
            Err(_) => Err(BusError::Invalid(
                "opt-out watch ended before loading".into(),
            )),
        }
    }
}

/// How long [`OptOutStore::list`] waits for an entry: with none yet, the account has no
/// keys; with some already, the listing stalled.
const LIST_IDLE: std::time::Duration = std::time::Duration::from_secs(2);

/// Reads the whole bucket into a fresh copy, then applies changes until the watch ends;
/// sends on `loaded` once the copy holds everything present.
///
/// The copy is swapped in only once it holds every opt-out: after a lost watch the bucket
/// is read again from the start, and the set keeps answering from the last complete copy
/// meanwhile rather than from a partial one (which would let opted-out numbers through).
async fn follow_once(
    store: &kv::Store,
    weak: &std::sync::Weak<ArcSwap<Accounts>>,
    loaded: &mut Option<tokio::sync::oneshot::Sender<Result<(), BusError>>>,
) -> Result<(), BusError> {
    let mut known = Accounts::new();
    let empty = stored_values(store).await? == 0;
    let mut watch = store
        .watch_with_history(">")
        .await
        .map_err(|source| kv_error("watch", source))?;
    let mut caught_up = false;
    if empty {
        caught_up = true;
        if !caught_up_with(weak, &known, loaded) {
            return Ok(());
        }
    }
    while let Some(entry) = watch.next().await {
        let entry = entry.map_err(|source| kv_error("watch", source))?;
        apply(&mut known, &entry);
        caught_up |= entry.delta == 0;
        if caught_up && !caught_up_with(weak, &known, loaded) {
            return Ok(());
        }
    }
    Ok(())
}

/// Swaps in the complete copy `known` and, the first time, says the set is loaded; false
/// when the set is gone.
fn caught_up_with(
    weak: &std::sync::Weak<ArcSwap<Accounts>>,
    known: &Accounts,
    loaded: &mut Option<tokio::sync::oneshot::Sender<Result<(), BusError>>>,
) -> bool {
    let alive = publish(weak, known);
    if let Some(tx) = loaded.take() {
        let _ = tx.send(Ok(()));
    }
    alive
}

/// How many values the bucket's stream holds now (`kv::Store::status` answers from the
/// info cached when the bucket was opened).
async fn stored_values(store: &kv::Store) -> Result<u64, BusError> {
    let info = store
        .stream
        .get_info()
        .await
        .map_err(|source| kv_error("status", source))?;
    Ok(info.state.messages)
}

/// Swaps `known` in (O(1): a persistent map shares its structure); false when the set is
/// gone.
fn publish(weak: &std::sync::Weak<ArcSwap<Accounts>>, known: &Accounts) -> bool {
    match weak.upgrade() {
        Some(inner) => {
            inner.store(Arc::new(known.clone()));
            true
        }
        None => false,
    }
}

fn apply(known: &mut Accounts, entry: &kv::Entry) {
    let Some((account, sender, number)) = parse_key(&entry.key) else {
        return;
    };
    let Some(number) = number_value(&number) else {
        return;
    };
    let opted_out = entry.operation == kv::Operation::Put
        && OptOut::decode(entry.value.as_ref()).is_ok_and(|r| r.opted_out);
    let mut lists = known.get(&account).cloned().unwrap_or_default();
    let numbers = match &sender {
        None => &mut lists.all,
        Some(sender) => lists.by_sender.entry(sender.clone()).or_default(),
    };
    if opted_out {
        numbers.insert(number);
    } else {
        numbers.remove(&number);
    }
    if let Some(sender) = &sender
        && lists
            .by_sender
            .get(sender)
            .is_some_and(imbl::HashSet::is_empty)
    {
        lists.by_sender.remove(sender);
    }
    if lists.all.is_empty() && lists.by_sender.is_empty() {
        known.remove(&account);
    } else {
        known.insert(account, lists);
    }
}

type Accounts = imbl::HashMap<String, AccountOptOuts>;

/// One account's opted-out numbers.
#[derive(Clone, Debug, Default)]
struct AccountOptOuts {
    /// Out of every message of the account.
    all: imbl::HashSet<u64>,
    /// Out of the messages of one sender.
    by_sender: imbl::HashMap<String, imbl::HashSet<u64>>,
}

/// The opted-out numbers of every account, as last seen; cheap to clone and to check.
#[derive(Clone, Debug, Default)]
pub struct OptOutSet {
    inner: Arc<ArcSwap<Accounts>>,
}

impl OptOutSet {
    /// Whether `number` (E.164 digits) opted out of `account`'s messages, or of those
    /// from `sender`.
    pub fn contains(&self, account: &str, sender: &str, number: &str) -> bool {
        let all = self.inner.load();
        // The common case, an account no one opted out of, costs one atomic load and a
        // hash lookup.
        let Some(lists) = all.get(account) else {
            return false;
        };
        let Some(number) = number_value(number) else {
            return false;
        };
        lists.all.contains(&number)
            || lists
                .by_sender
                .get(sender)
                .is_some_and(|numbers| numbers.contains(&number))
    }

    /// How many opt-outs it holds (account-wide and per sender).
    pub fn len(&self) -> usize {
        self.inner
            .load()
            .values()
            .map(|l| l.all.len() + l.by_sender.values().map(imbl::HashSet::len).sum::<usize>())
            .sum()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.inner.load().is_empty()
    }
}

/// A number as the set keeps it: 1 to 19 digits.
fn number_value(number: &str) -> Option<u64> {
    let digits = number.strip_prefix('+').unwrap_or(number);
    if digits.is_empty() || digits.len() > 19 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

fn check_account(account: &str) -> Result<(), BusError> {
    let ok = !account.is_empty()
        && account
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(BusError::Invalid(format!(
            "{account:?} is not an account id"
        )))
    }
}

/// The key of an opt-out.
fn key(account: &str, scope: OptOutScope<'_>, number: &str) -> Result<String, BusError> {
    check_account(account)?;
    let Some(number) = number_value(number) else {
        return Err(BusError::Invalid(format!(
            "{number:?} is not a number of 1 to 19 digits"
        )));
    };
    Ok(match scope {
        OptOutScope::Account => format!("{account}.a.{number}"),
        OptOutScope::Sender("") => {
            return Err(BusError::Invalid("an opt-out's sender is empty".into()));
        }
        OptOutScope::Sender(sender) => {
            let hex: String = sender.bytes().map(|b| format!("{b:02x}")).collect();
            format!("{account}.s{hex}.{number}")
        }
    })
}

/// The account, scope sender and number of a key; `None` for a key not of this form.
fn parse_key(key: &str) -> Option<(String, Option<String>, String)> {
    let mut parts = key.split('.');
    let (account, scope, number) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let sender = match scope {
        "a" => None,
        _ => {
            let hex = scope.strip_prefix('s')?;
            if hex.is_empty() || hex.len() % 2 != 0 {
                return None;
            }
            let bytes: Option<Vec<u8>> = (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
                .collect();
            Some(String::from_utf8(bytes?).ok()?)
        }
    };
    Some((account.to_owned(), sender, number.to_owned()))
}

fn decode(value: &[u8]) -> Result<OptOut, BusError> {
    OptOut::decode(value).map_err(|source| BusError::Decode {
        what: "OptOut",
        source,
    })
}

fn kv_error(
    action: &'static str,
    source: impl std::error::Error + Send + Sync + 'static,
) -> BusError {
    BusError::Kv {
        bucket: OPT_OUT_BUCKET,
        action,
        source: Box::new(source),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    #[test]
    fn keys_round_trip_any_sender() {
        for (scope, sender) in [
            (OptOutScope::Account, None),
            (OptOutScope::Sender("80080"), Some("80080")),
            (OptOutScope::Sender("ACME Co."), Some("ACME Co.")),
        ] {
            let key = key("acme", scope, "+447700900123").unwrap();
            assert!(
                key.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)),
                "{key}"
            );
            assert_eq!(
                parse_key(&key),
                Some((
                    "acme".into(),
                    sender.map(str::to_owned),
                    "447700900123".into()
                ))
            );
        }
        assert!(key("Acme", OptOutScope::Account, "1").is_err());
        assert!(key("acme", OptOutScope::Account, "12345678901234567890").is_err());
        assert!(key("acme", OptOutScope::Account, "44a").is_err());
        assert!(key("acme", OptOutScope::Sender(""), "1").is_err());
        assert_eq!(parse_key("acme.x.1"), None);
        assert_eq!(parse_key("acme.s4.1"), None);
    }
}
