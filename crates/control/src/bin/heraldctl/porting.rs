//! `heraldctl porting import`: ported numbers from a CSV file (number or range, MCC-MNC,
//! optional action), sent to the control plane in chunks that end at a line's end.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Subcommand;
use herald_proto::admin::v1 as api;

use super::{Admin, CallError};

/// Bytes per chunk sent (gRPC messages stay well under their 4 MiB limit).
const CHUNK: usize = 1024 * 1024;

#[derive(Debug, Subcommand)]
pub(crate) enum PortingCommand {
    /// Imports a CSV of ported numbers: `number,network[,action]`, a number or a range
    /// `start-end`, the MCC-MNC it now belongs to (`23415` or `234-15`), and `delete` to
    /// take an entry out (ported back home). Merged into the stored table unless
    /// `--replace`. Bad rows are reported with their line numbers; the rest are imported.
    Import {
        /// Replace the whole stored table with the file's (a full database) instead of
        /// merging the file into it (an incremental update).
        #[arg(long)]
        replace: bool,
        /// The file.
        file: PathBuf,
    },
}

pub(crate) async fn run(admin: &mut Admin, command: PortingCommand) -> anyhow::Result<()> {
    let PortingCommand::Import { replace, file } = command;
    let csv = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
    let chunks = line_chunks(&csv, CHUNK)
        .map(|part| api::PortedNumbersChunk {
            csv: part.to_vec(),
            replace,
        })
        .collect::<Vec<_>>();
    let request = admin.request(futures::stream::iter(chunks));
    let answer = admin
        .client
        .import_ported_numbers(request)
        .await
        .map_err(CallError)?
        .into_inner();
    for error in &answer.errors {
        eprintln!("{}:{}: {}", file.display(), error.line, error.reason);
    }
    let omitted = answer
        .error_count
        .saturating_sub(answer.errors.len() as u64);
    if omitted > 0 {
        eprintln!("{}: {omitted} more rows refused", file.display());
    }
    println!(
        "imported {} rows ({} refused); the table holds {} numbers and {} ranges ({} bytes)",
        answer.rows, answer.error_count, answer.numbers, answer.ranges, answer.snapshot_bytes
    );
    Ok(())
}

/// `bytes` in parts of about `size`, each ending at a line's end (or the file's).
fn line_chunks(bytes: &[u8], size: usize) -> impl Iterator<Item = &[u8]> {
    let mut rest = bytes;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let end = if rest.len() <= size {
            rest.len()
        } else {
            rest[size..]
                .iter()
                .position(|b| *b == b'\n')
                .map_or(rest.len(), |at| size + at + 1)
        };
        let (part, tail) = rest.split_at(end);
        rest = tail;
        Some(part)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_end_at_line_ends_and_cover_the_file() {
        let csv = b"447700900001,23415\n447700900002,23415\n447700900003,23415";
        let parts: Vec<&[u8]> = line_chunks(csv, 10).collect();
        assert_eq!(parts.concat(), csv);
        assert!(parts[..parts.len() - 1].iter().all(|p| p.ends_with(b"\n")));
        assert_eq!(parts.len(), 3);
    }
}
