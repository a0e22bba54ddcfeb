//! `heraldctl opt-outs`: an account's subscriber opt-outs (the `herald_opt_outs` bucket)
//! exported as CSV, imported from a file, changed by number, and one number's history.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use herald_proto::admin::v1 as api;
use serde_json::Value;

use super::{Admin, CallError, Output, print_value, table};

/// Numbers per `ChangeOptOuts` call (the server takes at most 10,000).
const BATCH: usize = 5_000;

#[derive(Debug, Subcommand)]
pub(crate) enum OptOutCommand {
    /// Writes an account's opt-outs as CSV (number,sender,opted_out,at_unix_ms,by,note).
    Export {
        /// The account.
        #[arg(long)]
        account: String,
        /// Also the numbers that opted in again.
        #[arg(long)]
        all: bool,
    },
    /// Opts out every number of a file: one per line, or CSV whose first column is the
    /// number (a header line and `#` comments are skipped). Lines that hold no number are
    /// reported with their line numbers; the rest are imported.
    Import {
        /// The account.
        #[arg(long)]
        account: String,
        /// Only from this sender or short code; absent: every message of the account.
        #[arg(long, default_value = "")]
        sender: String,
        /// Why, kept with each record.
        #[arg(long, default_value = "import")]
        note: String,
        /// The file.
        file: PathBuf,
    },
    /// Opts numbers out.
    Add(NumbersArgs),
    /// Opts numbers in again (the record is kept, marked as lifted).
    Remove(NumbersArgs),
    /// One number's changes, oldest first: who opted it out or in, when and why.
    History {
        /// The account.
        #[arg(long)]
        account: String,
        /// The sender or short code the opt-out is scoped to.
        #[arg(long, default_value = "")]
        sender: String,
        /// The number.
        number: String,
    },
}

/// The numbers `add` and `remove` change, and where.
#[derive(Debug, Args)]
pub(crate) struct NumbersArgs {
    /// The account.
    #[arg(long)]
    account: String,
    /// Only from this sender or short code (`remove`: the one the opt-out was scoped to).
    #[arg(long, default_value = "")]
    sender: String,
    /// Why, kept with each record.
    #[arg(long, default_value = "")]
    note: String,
    /// The numbers.
    #[arg(required = true)]
    numbers: Vec<String>,
}

pub(crate) async fn run(
    admin: &mut Admin,
    output: Output,
    command: OptOutCommand,
) -> anyhow::Result<()> {
    match command {
        OptOutCommand::Export { account, all } => export(admin, &account, all).await,
        OptOutCommand::Import {
            account,
            sender,
            note,
            file,
        } => {
            let (numbers, bad) = read_numbers(&file)?;
            for (line, text) in &bad {
                eprintln!("{}:{line}: not a number: {text:?}", file.display());
            }
            let changed = change(admin, &account, &sender, &note, numbers, true).await?;
            println!(
                "imported {changed} opt-outs for {account}; {} lines skipped",
                bad.len()
            );
            Ok(())
        }
        OptOutCommand::Add(a) => {
            let changed = change(admin, &a.account, &a.sender, &a.note, a.numbers, true).await?;
            println!("{changed} numbers opted out of {}", a.account);
            Ok(())
        }
        OptOutCommand::Remove(a) => {
            let changed = change(admin, &a.account, &a.sender, &a.note, a.numbers, false).await?;
            println!("{changed} numbers opted in to {} again", a.account);
            Ok(())
        }
        OptOutCommand::History {
            account,
            sender,
            number,
        } => history(admin, output, account, sender, number).await,
    }
}

async fn export(admin: &mut Admin, account: &str, all: bool) -> anyhow::Result<()> {
    let request = admin.request(api::ListOptOutsRequest {
        account_id: account.to_owned(),
        include_lifted: all,
    });
    let mut stream = admin
        .client
        .list_opt_outs(request)
        .await
        .map_err(CallError)?
        .into_inner();
    println!("number,sender,opted_out,at_unix_ms,by,note");
    while let Some(batch) = stream.message().await.map_err(CallError)? {
        for r in batch.records {
            println!(
                "{},{},{},{},{},{}",
                r.number,
                csv_field(&r.sender),
                r.opted_out,
                r.at_unix_ms,
                csv_field(&r.by),
                csv_field(&r.note)
            );
        }
    }
    Ok(())
}

async fn change(
    admin: &mut Admin,
    account: &str,
    sender: &str,
    note: &str,
    numbers: Vec<String>,
    opted_out: bool,
) -> anyhow::Result<u32> {
    let mut changed = 0;
    let mut refused = Vec::new();
    for chunk in numbers.chunks(BATCH) {
        let request = admin.request(api::ChangeOptOutsRequest {
            account_id: account.to_owned(),
            sender: sender.to_owned(),
            numbers: chunk.to_vec(),
            opted_out,
            note: note.to_owned(),
        });
        let answer = admin
            .client
            .change_opt_outs(request)
            .await
            .map_err(CallError)?
            .into_inner();
        changed += answer.changed;
        refused.extend(answer.refused);
    }
    if !refused.is_empty() {
        bail!(
            "{changed} changed; refused (not numbers of 1 to 19 digits): {}",
            refused.join(", ")
        );
    }
    Ok(changed)
}

async fn history(
    admin: &mut Admin,
    output: Output,
    account: String,
    sender: String,
    number: String,
) -> anyhow::Result<()> {
    let request = admin.request(api::OptOutHistoryRequest {
        account_id: account,
        sender,
        number,
    });
    let answer = admin
        .client
        .opt_out_history(request)
        .await
        .map_err(CallError)?
        .into_inner();
    if output != Output::Table {
        let records: Vec<Value> = answer
            .records
            .iter()
            .map(|r| {
                serde_json::json!({
                    "number": r.number, "sender": r.sender, "opted_out": r.opted_out,
                    "at_unix_ms": r.at_unix_ms, "by": r.by, "note": r.note,
                })
            })
            .collect();
        return print_value(output, &Value::Array(records));
    }
    let rows = answer
        .records
        .iter()
        .map(|r| {
            vec![
                humantime::format_rfc3339_millis(
                    std::time::UNIX_EPOCH
                        + std::time::Duration::from_millis(
                            u64::try_from(r.at_unix_ms).unwrap_or(0),
                        ),
                )
                .to_string(),
                if r.opted_out { "out" } else { "in" }.to_owned(),
                r.by.clone(),
                r.note.clone(),
            ]
        })
        .collect();
    print!("{}", table(&["AT", "STATE", "BY", "NOTE"], rows));
    Ok(())
}

/// The numbers of a file, and the lines that held none (line number, text).
type ReadNumbers = (Vec<String>, Vec<(usize, String)>);

/// The numbers of `file` and the lines that held none.
fn read_numbers(file: &Path) -> anyhow::Result<ReadNumbers> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    Ok(parse_numbers(&text))
}

/// One number per line, or the first CSV column; blank lines, `#` comments and a first
/// line that is not a number (a header) are skipped.
fn parse_numbers(text: &str) -> ReadNumbers {
    let mut numbers = Vec::new();
    let mut bad = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let first = line.split([',', ';', '\t']).next().unwrap_or("").trim();
        let first = first.trim_matches('"');
        let digits = first.strip_prefix('+').unwrap_or(first);
        if !digits.is_empty() && digits.len() <= 19 && digits.bytes().all(|b| b.is_ascii_digit()) {
            numbers.push(digits.to_owned());
        } else if i > 0 || numbers.len() + bad.len() > 0 {
            bad.push((i + 1, line.to_owned()));
        }
    }
    (numbers, bad)
}

/// A CSV field, quoted when it holds a comma, a quote or a line break.
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_read_from_lists_and_csv_and_bad_lines_named() {
        let (numbers, bad) = parse_numbers(
            "number,added\n+447700900001,2026-01-01\n# a comment\n\n447700900002\nnot a number\n\"15550100\";x\n",
        );
        assert_eq!(numbers, ["447700900001", "447700900002", "15550100"]);
        assert_eq!(bad, [(6, "not a number".to_owned())]);
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }
}
