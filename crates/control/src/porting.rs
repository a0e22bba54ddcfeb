//! Importing ported numbers: the CSV an operator sends through `ImportPortedNumbers`
//! (`heraldctl porting import`) is read whole, parsed with its line numbers, merged into
//! the stored table (or replacing it), and the new snapshot stored in the `herald_porting`
//! object store, where every router follows it (`herald_bus::porting`).
//!
//! Imports are rare operator actions (a national porting database's daily file), so the
//! file is held in memory while it is read: about 25 bytes a row, plus the table's 10 bytes
//! a number twice while the new one is built.

use std::collections::HashMap;

use futures::StreamExt as _;
use herald_bus::{Bus, BusError, FollowedSnapshot, PortingStore};
use herald_proto::admin::v1 as api;
use herald_rules::porting::{PortingTable, RowErrors, parse_csv};

use crate::error::ControlError;

/// The largest CSV one import takes: some 40 million rows.
pub const MAX_IMPORT_BYTES: usize = 1024 * 1024 * 1024;

/// The porting store and this node's followed copy of its table, as [`crate::ControlDeps`]
/// takes them.
pub async fn open(bus: &Bus) -> Result<(PortingStore, FollowedSnapshot<PortingTable>), BusError> {
    let store = bus.porting().await?;
    let followed = store
        .follow(|bytes: &[u8]| PortingTable::decode(bytes))
        .await?;
    Ok((store, followed))
}

/// Reads the chunks of one import: the CSV, and whether it replaces the stored table.
pub(crate) async fn read_chunks(
    mut chunks: tonic::Streaming<api::PortedNumbersChunk>,
) -> Result<(Vec<u8>, bool), ControlError> {
    let mut csv = Vec::new();
    let mut replace = None;
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(|status| {
            ControlError::InvalidArgument(format!("the import stream failed: {}", status.message()))
        })?;
        replace.get_or_insert(chunk.replace);
        if csv.len() + chunk.csv.len() > MAX_IMPORT_BYTES {
            return Err(ControlError::InvalidArgument(format!(
                "an import takes at most {MAX_IMPORT_BYTES} bytes; split the file"
            )));
        }
        csv.extend_from_slice(&chunk.csv);
    }
    Ok((csv, replace.unwrap_or(false)))
}

/// Imports `csv` into `store`: merged into the stored table, or replacing it; stores the
/// new snapshot with who imported it, and answers with the counts and the refused rows.
///
/// Imports are meant one at a time (an operator's daily file): two merges at once would
/// each start from the same stored table, and the later store would win.
pub(crate) async fn import(
    store: &PortingStore,
    csv: Vec<u8>,
    replace: bool,
    by: &str,
) -> Result<api::ImportPortedNumbersResponse, ControlError> {
    let stored = if replace {
        None
    } else {
        store
            .get()
            .await
            .map_err(ControlError::from)?
            .map(|(bytes, _)| bytes)
    };
    // Parsing, merging and encoding tens of millions of rows takes seconds: on a blocking
    // thread, not the runtime's workers.
    let built = tokio::task::spawn_blocking(move || build(&csv, stored.as_deref()))
        .await
        .map_err(|e| ControlError::InvalidArgument(format!("the import stopped: {e}")))??;
    let metadata = HashMap::from([
        ("numbers".to_owned(), built.numbers.to_string()),
        ("ranges".to_owned(), built.ranges.to_string()),
        ("imported_by".to_owned(), by.to_owned()),
    ]);
    store
        .put(&built.snapshot, metadata)
        .await
        .map_err(ControlError::from)?;
    Ok(api::ImportPortedNumbersResponse {
        rows: built.applied as u64,
        errors: row_errors(&built.errors),
        error_count: built.errors.total() as u64,
        numbers: built.numbers as u64,
        ranges: built.ranges as u64,
        snapshot_bytes: built.snapshot.len() as u64,
    })
}

/// A new table, encoded, and what went into it.
struct Built {
    snapshot: Vec<u8>,
    applied: usize,
    errors: RowErrors,
    numbers: usize,
    ranges: usize,
}

/// Parses `csv` and applies it to the `stored` snapshot (or builds afresh without one).
fn build(csv: &[u8], stored: Option<&[u8]>) -> Result<Built, ControlError> {
    let parsed = parse_csv(csv);
    let mut errors = parsed.errors;
    let current = match stored {
        Some(bytes) => Some(PortingTable::decode(bytes).map_err(|e| {
            ControlError::InvalidArgument(format!(
                "the stored ported numbers do not decode ({e}); import with replace"
            ))
        })?),
        None => None,
    };
    let (table, build_errors) = match &current {
        Some(current) => current.apply(&parsed.rows),
        None => PortingTable::from_rows(&parsed.rows),
    };
    let applied = parsed.rows.len().saturating_sub(build_errors.total());
    errors.append(build_errors);
    Ok(Built {
        snapshot: table.encode(),
        applied,
        errors,
        numbers: table.len(),
        ranges: table.ranges_len(),
    })
}

fn row_errors(errors: &RowErrors) -> Vec<api::PortingRowError> {
    errors
        .kept()
        .iter()
        .map(|e| api::PortingRowError {
            line: e.line as u64,
            reason: e.reason.clone(),
        })
        .collect()
}
