//! Recording opt-outs and opt-ins in etcd, with compare-and-swap so that routers acting
//! at once (or an operator editing a list) never lose each other's changes.
//!
//! - **Opt-out** adds the number to the account's router-managed list,
//!   `opt-outs/<managed_list_id(account)>` (`mo-<account>`), creating it if needed.
//! - **Opt-in** removes the number from every list of that account (managed or written by
//!   operators); global lists (no account) are left alone: they are an operator's
//!   decision, not the subscriber's.
//!
//! Each change reads the list, edits it and writes it back guarded by the revision read;
//! on a conflict it reads again, up to [`ATTEMPTS`] times. The rules store then spreads
//! the change to every node within a second, and the next MT from the account to the
//! number gets a failure receipt.

use herald_rules::model::OptOutList;
use herald_rules::{Error, Expected, Kind, RulesClient};

/// How many times a change is re-read and retried after a conflict.
pub const ATTEMPTS: usize = 16;

/// The id of the list the router manages for `account`: `mo-<account>`, or, when that is
/// longer than an id may be, `mo-` and a hash of the account id.
pub fn managed_list_id(account: &str) -> String {
    let id = format!("mo-{account}");
    if id.len() <= herald_rules::model::MAX_ID_LEN {
        return id;
    }
    let hash = account.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    format!("mo-{hash:016x}")
}

/// Adds `number` (E.164 digits) to `account`'s managed opt-out list; true if it was not
/// on it.
pub async fn add(client: &RulesClient, account: &str, number: &str) -> Result<bool, Error> {
    let id = managed_list_id(account);
    let mut last = None;
    for _ in 0..ATTEMPTS {
        let (list, expected) = match client.get::<OptOutList>(&id).await? {
            Some(read) => (read.value, Expected::Revision(read.mod_revision)),
            None => (
                OptOutList {
                    id: id.clone(),
                    account: Some(account.to_owned()),
                    numbers: Vec::new(),
                },
                Expected::Absent,
            ),
        };
        if list.numbers.iter().any(|n| same_number(n, number)) {
            return Ok(false);
        }
        let mut list = list;
        // A list of that id that is not the account's own is left alone (an operator's),
        // and the number goes nowhere rather than onto someone else's list.
        if list.account.as_deref() != Some(account) {
            return Err(Error::Config(format!(
                "opt-out list {id} belongs to {:?}, not {account}",
                list.account
            )));
        }
        list.numbers.push(number.to_owned());
        match client.put(&list, expected).await {
            Ok(_) => return Ok(true),
            Err(err @ Error::Conflict { .. }) => last = Some(err),
            Err(err) => return Err(err),
        }
    }
    Err(last.unwrap_or_else(|| Error::Config("opt-out: too many conflicts".into())))
}

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
    fn managed_ids_are_valid_ids() {
        assert_eq!(managed_list_id("acme"), "mo-acme");
        let long = "a".repeat(64);
        let id = managed_list_id(&long);
        assert_eq!(id.len(), 19);
        assert!(herald_rules::model::is_valid_id(&id));
        assert!(same_number("+447700900123", "447700900123"));
    }
}
