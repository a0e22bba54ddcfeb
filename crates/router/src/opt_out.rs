//! An opt-in in the rules' opt-out lists in etcd, with compare-and-swap so that routers
//! acting at once (or an operator editing a list) never lose each other's changes.
//!
//! Subscribers' opt-outs are recorded in the bus's opt-out bucket (ADR 0017); these lists
//! are operators' blocklists and the router-managed lists (`mo-<account>`) of versions
//! before the bucket. An opt-in removes the number from every list of that account;
//! global lists (no account) are left alone: they are an operator's decision, not the
//! subscriber's.
//!
//! The change reads each list, edits it and writes it back guarded by the revision read;
//! on a conflict it reads again, up to [`ATTEMPTS`] times. The rules store then spreads
//! the change to every node within a second.

use herald_rules::model::OptOutList;
use herald_rules::{Error, Expected, Kind, RulesClient};

/// How many times a change is re-read and retried after a conflict.
pub const ATTEMPTS: usize = 16;

/// Removes `number` from every opt-out list of `account`; how many lists it was on.
pub async fn remove(client: &RulesClient, account: &str, number: &str) -> Result<usize, Error> {
    let mut last = None;
    'again: for _ in 0..ATTEMPTS {
        let listing = client.list_json(Kind::OptOut).await?;
        let mut removed = 0;
        for stored in listing.objects {
            // A list that does not decode is skipped (the snapshot reports it).
            let Ok(mut list) = serde_json::from_str::<OptOutList>(&stored.json) else {
                continue;
            };
            if list.account.as_deref() != Some(account)
                || !list.numbers.iter().any(|n| same_number(n, number))
            {
                continue;
            }
            list.numbers.retain(|n| !same_number(n, number));
            match client
                .put(&list, Expected::Revision(stored.mod_revision))
                .await
            {
                Ok(_) => removed += 1,
                Err(err @ Error::Conflict { .. }) => {
                    last = Some(err);
                    continue 'again;
                }
                Err(err) => return Err(err),
            }
        }
        return Ok(removed);
    }
    Err(last.unwrap_or_else(|| Error::Config("opt-in: too many conflicts".into())))
}

fn same_number(stored: &str, number: &str) -> bool {
    stored.strip_prefix('+').unwrap_or(stored) == number
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_match_with_or_without_a_plus() {
        assert!(same_number("+447700900123", "447700900123"));
        assert!(same_number("447700900123", "447700900123"));
        assert!(!same_number("+447700900124", "447700900123"));
    }
}
