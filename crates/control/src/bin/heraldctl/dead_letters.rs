//! `heraldctl dead-letters`: an account's receipts and MO that were given up (refused by
//! its webhook, failing past the webhook's `retry_for`, refused by an ESME), listed for a
//! time range and replayed to its webhook.

use std::time::{Duration, SystemTime};

use clap::{Args, Subcommand};
use herald_proto::admin::v1 as api;

use super::{Admin, CallError, Output, print_value, table};

#[derive(Debug, Subcommand)]
pub(crate) enum DeadLetterCommand {
    /// Lists them, oldest first.
    List(RangeArgs),
    /// Posts them again to the account's webhook (its SMPP receivers are not sent them).
    /// The receiver sees each with its original `webhook-id`.
    Replay(RangeArgs),
}

/// Whose, and given up when.
#[derive(Debug, Args)]
pub(crate) struct RangeArgs {
    /// The account.
    #[arg(long)]
    account: String,
    /// Given up at most this long ago (`30m`, `6h`, `2d`).
    #[arg(long, default_value = "24h", value_parser = humantime::parse_duration)]
    since: Duration,
    /// ... and at least this long ago; default: up to now.
    #[arg(long, value_parser = humantime::parse_duration)]
    until: Option<Duration>,
    /// At most this many.
    #[arg(long, default_value_t = 1_000)]
    limit: u32,
}

impl RangeArgs {
    fn request(&self) -> api::DeadLettersRequest {
        let ago = |d: Duration| {
            SystemTime::now()
                .checked_sub(d)
                .unwrap_or(SystemTime::UNIX_EPOCH)
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |t| i64::try_from(t.as_millis()).unwrap_or(i64::MAX))
        };
        api::DeadLettersRequest {
            account_id: self.account.clone(),
            since_unix_ms: ago(self.since),
            until_unix_ms: self.until.map_or(0, ago),
            limit: self.limit,
        }
    }
}

pub(crate) async fn run(
    admin: &mut Admin,
    output: Output,
    command: DeadLetterCommand,
) -> anyhow::Result<()> {
    match command {
        DeadLetterCommand::List(range) => {
            let request = admin.request(range.request());
            let letters = admin
                .client
                .list_dead_letters(request)
                .await
                .map_err(CallError)?
                .into_inner()
                .letters;
            let value = serde_json::json!(
                letters
                    .iter()
                    .map(|l| serde_json::json!({
                        "sequence": l.sequence, "subject": l.subject, "reason": l.reason,
                        "at_unix_ms": l.at_unix_ms, "message_id": l.message_id,
                    "consumer": l.consumer,
                    }))
                    .collect::<Vec<_>>()
            );
            if output != Output::Table {
                return print_value(output, &value);
            }
            let rows = letters
                .iter()
                .map(|l| {
                    vec![
                        l.sequence.to_string(),
                        humantime::format_rfc3339_millis(
                            SystemTime::UNIX_EPOCH
                                + Duration::from_millis(u64::try_from(l.at_unix_ms).unwrap_or(0)),
                        )
                        .to_string(),
                        l.subject.clone(),
                        l.message_id.clone(),
                        l.consumer.clone(),
                        l.reason.clone(),
                    ]
                })
                .collect();
            print!(
                "{}",
                table(&["SEQ", "AT", "SUBJECT", "ID", "BY", "REASON"], rows)
            );
            Ok(())
        }
        DeadLetterCommand::Replay(range) => {
            let request = admin.request(range.request());
            let answer = admin
                .client
                .replay_dead_letters(request)
                .await
                .map_err(CallError)?
                .into_inner();
            println!(
                "{} dead letters of {} posted again to its webhook",
                answer.replayed, range.account
            );
            Ok(())
        }
    }
}
