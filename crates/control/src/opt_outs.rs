//! The admin API's side of subscriber opt-outs (the `herald_opt_outs` bucket, see
//! `herald_bus::opt_outs`): listing an account's, changes by operators (each record names
//! the caller, so the bucket's history says who did what), and one number's history.

use futures::StreamExt as _;
use herald_bus::{BusError, OptOutEntry, OptOutScope, OptOutStore};
use herald_proto::admin::v1 as api;
use herald_proto::bus::v1::OptOut;

use crate::auth::Caller;
use crate::error::ControlError;

/// The most numbers one `ChangeOptOuts` call may carry (heraldctl sends files in batches).
pub const MAX_CHANGE: usize = 10_000;
/// Writes of one `ChangeOptOuts` call in flight at once.
const WRITES_IN_FLIGHT: usize = 64;
/// Records per `OptOutBatch` of a listing.
pub const LIST_BATCH: usize = 10_000;

/// The scope a request names: an empty sender is the whole account.
pub fn scope(sender: &str) -> OptOutScope<'_> {
    if sender.is_empty() {
        OptOutScope::Account
    } else {
        OptOutScope::Sender(sender)
    }
}

/// `account`'s opt-outs in batches, sorted by sender then number; with `include_lifted`
/// the numbers that opted in again too.
pub async fn list(
    store: &OptOutStore,
    account: &str,
    include_lifted: bool,
) -> Result<Vec<api::OptOutBatch>, ControlError> {
    let mut entries: Vec<OptOutEntry> = store
        .list(account)
        .await?
        .into_iter()
        .filter(|e| include_lifted || e.record.opted_out)
        .collect();
    entries.sort_by(|a, b| (&a.sender, &a.number).cmp(&(&b.sender, &b.number)));
    let records: Vec<api::OptOutRecord> = entries
        .into_iter()
        .map(|e| record(e.number, e.sender.unwrap_or_default(), e.record))
        .collect();
    Ok(records
        .chunks(LIST_BATCH)
        .map(|chunk| api::OptOutBatch {
            records: chunk.to_vec(),
        })
        .collect())
}

/// Applies an operator's change; the numbers that are not numbers are answered back.
pub async fn change(
    store: &OptOutStore,
    caller: Option<&Caller>,
    request: &api::ChangeOptOutsRequest,
    now_unix_ms: i64,
) -> Result<api::ChangeOptOutsResponse, ControlError> {
    if request.numbers.len() > MAX_CHANGE {
        return Err(ControlError::InvalidArgument(format!(
            "{} numbers in one call; at most {MAX_CHANGE}",
            request.numbers.len()
        )));
    }
    let value = OptOut {
        opted_out: request.opted_out,
        at_unix_ms: now_unix_ms,
        by: format!(
            "operator:{}",
            caller.map_or("anonymous", |c| c.name.as_str())
        ),
        note: request.note.clone(),
    };
    let sender = Some(request.sender.clone()).filter(|s| !s.is_empty());
    let account = request.account_id.as_str();
    // Each number is its own key: written concurrently, so an import of a large file is
    // bounded by the bus's throughput rather than its round-trip time.
    let results: Vec<(String, Result<(), BusError>)> =
        futures::stream::iter(request.numbers.clone())
            .map(|number| {
                let (store, account, value) = (store.clone(), account.to_owned(), value.clone());
                let sender = sender.clone();
                async move {
                    let scope = match &sender {
                        Some(sender) => OptOutScope::Sender(sender),
                        None => OptOutScope::Account,
                    };
                    let result = store.record(&account, scope, &number, &value).await;
                    (number, result)
                }
            })
            .buffer_unordered(WRITES_IN_FLIGHT)
            .collect()
            .await;
    let mut answer = api::ChangeOptOutsResponse::default();
    for (number, result) in results {
        match result {
            Ok(()) => answer.changed += 1,
            Err(BusError::Invalid(_)) if is_account(account) => {
                answer.refused.push(number);
            }
            Err(error) => return Err(error.into()),
        }
    }
    Ok(answer)
}

/// One number's changes, oldest first.
pub async fn history(
    store: &OptOutStore,
    request: &api::OptOutHistoryRequest,
) -> Result<api::OptOutHistoryResponse, ControlError> {
    let records = store
        .history(&request.account_id, scope(&request.sender), &request.number)
        .await?
        .into_iter()
        .map(|r| {
            record(
                request.number.trim_start_matches('+').to_owned(),
                request.sender.clone(),
                r,
            )
        })
        .collect();
    Ok(api::OptOutHistoryResponse { records })
}

fn record(number: String, sender: String, value: OptOut) -> api::OptOutRecord {
    api::OptOutRecord {
        number,
        sender,
        opted_out: value.opted_out,
        at_unix_ms: value.at_unix_ms,
        by: value.by,
        note: value.note,
    }
}

/// Whether `account` is an id (so a refusal of one number is about the number).
fn is_account(account: &str) -> bool {
    herald_rules::model::is_valid_id(account)
}
