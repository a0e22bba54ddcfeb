//! Reading an account's dead-lettered receipts and MO, and replaying them to its webhook:
//! the operator's tools after an endpoint refused events or failed past its `retry_for`
//! (`heraldctl dead-letters`, through the admin API).
//!
//! A replayed event is published to `herald.ev.<account>.hook.<dlr|mo>`
//! ([`subject::webhook_replay`]): the account's webhook consumer reads it like any event
//! (with its original `Herald-Msg-Id`, so the receiver sees the same `webhook-id` and can
//! drop one it already has), and the account's SMPP delivery acks it without sending it,
//! so a replay for the webhook never sends an SMPP receiver a second copy. The dead letter
//! itself stays (the stream's max age removes it), so replaying twice posts twice, under
//! one `webhook-id`.

use std::time::{Duration, SystemTime};

use async_nats::jetstream::{self, consumer};
use bytes::Bytes;
use futures::StreamExt as _;

use crate::consume::{DLQ_CONSUMER_HEADER, DLQ_REASON_HEADER, DLQ_SUBJECT_HEADER};
use crate::error::BusError;
use crate::publish::{ACCOUNT_HEADER, MESSAGE_ID_HEADER, Outgoing, Publisher};
use crate::subject;
use crate::topology::StreamKind;

/// How long a listing waits for the next letter before it is taken to be complete.
const LIST_IDLE: Duration = Duration::from_secs(2);

/// One dead-lettered event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeadLetter {
    /// Its sequence in `HERALD_DLQ`.
    pub sequence: u64,
    /// The subject it was published to before it was given up.
    pub subject: String,
    /// Why it was given up.
    pub reason: String,
    /// Who gave it up: `webhook-<account>` (its webhook) or `account-<account>` (its SMPP
    /// delivery); empty for letters from before this was recorded.
    pub consumer: String,
    /// When it was dead-lettered.
    pub at: SystemTime,
    /// Its `Herald-Msg-Id` (the webhook id of the event).
    pub message_id: String,
    /// The event, as published.
    pub payload: Bytes,
}

impl DeadLetter {
    /// `dlr` or `mo`: which kind of event it was, by its subject.
    pub fn kind(&self) -> &str {
        self.subject.rsplit('.').next().unwrap_or("")
    }
}

/// The dead-letter stream.
#[derive(Clone)]
pub struct DeadLetters {
    stream: jetstream::stream::Stream,
    client: async_nats::Client,
}

impl std::fmt::Debug for DeadLetters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeadLetters").finish_non_exhaustive()
    }
}

fn failed(action: &'static str, source: impl Into<crate::error::NatsError>) -> BusError {
    BusError::Consume {
        consumer: "dead-letter listing".to_owned(),
        action,
        source: source.into(),
    }
}

impl DeadLetters {
    pub(crate) async fn open(
        jetstream: &jetstream::Context,
        client: async_nats::Client,
    ) -> Result<Self, BusError> {
        let stream = jetstream
            .get_stream(StreamKind::DeadLetters.name())
            .await
            .map_err(|e| failed("open", e))?;
        Ok(DeadLetters { stream, client })
    }

    /// `account`'s dead-lettered receipts and MO given up between `since` and `until`,
    /// oldest first, at most `limit`.
    pub async fn account_events(
        &self,
        account: &str,
        since: SystemTime,
        until: SystemTime,
        limit: usize,
    ) -> Result<Vec<DeadLetter>, BusError> {
        if account.is_empty()
            || !account
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(BusError::Invalid(format!(
                "{account:?} is not an account id"
            )));
        }
        let since_ns = since
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| i128::try_from(d.as_nanos()).unwrap_or(i128::MAX));
        let start_time = time::OffsetDateTime::from_unix_timestamp_nanos(since_ns)
            .map_err(|e| BusError::Invalid(e.to_string()))?;
        let config = consumer::push::OrderedConfig {
            // Pushed to this client's own inbox: each role may read only its replies.
            deliver_subject: self.client.new_inbox(),
            filter_subject: format!("herald.dlq.ev.{account}.>"),
            deliver_policy: consumer::DeliverPolicy::ByStartTime { start_time },
            ..Default::default()
        };
        let ordered = self
            .stream
            .create_consumer(config)
            .await
            .map_err(|e| failed("listing", e))?;
        let mut messages = ordered.messages().await.map_err(|e| failed("listing", e))?;
        let mut letters = Vec::new();
        while letters.len() < limit {
            let Ok(next) = tokio::time::timeout(LIST_IDLE, messages.next()).await else {
                break;
            };
            let Some(message) = next else { break };
            let message = message.map_err(|e| failed("listing", e))?;
            let info = message.info().map_err(|e| failed("listing", e))?;
            let at = SystemTime::UNIX_EPOCH
                + Duration::from_nanos(
                    u64::try_from(info.published.unix_timestamp_nanos()).unwrap_or(0),
                );
            let pending = info.pending;
            let sequence = info.stream_sequence;
            if at > until {
                break;
            }
            let header = |name: &str| {
                message
                    .headers
                    .as_ref()
                    .and_then(|h| h.get(name))
                    .map(|v| v.as_str().to_owned())
                    .unwrap_or_default()
            };
            letters.push(DeadLetter {
                sequence,
                subject: header(DLQ_SUBJECT_HEADER),
                reason: header(DLQ_REASON_HEADER),
                consumer: header(DLQ_CONSUMER_HEADER),
                at,
                message_id: header(MESSAGE_ID_HEADER),
                payload: message.payload.clone(),
            });
            if pending == 0 {
                break;
            }
        }
        Ok(letters)
    }

    /// Publishes `letter` to its account's webhook alone (see the module docs).
    pub async fn replay_to_webhook(
        &self,
        publisher: &Publisher,
        account: &str,
        letter: &DeadLetter,
    ) -> Result<(), BusError> {
        let kind = match letter.kind() {
            "mo" => "mo",
            _ => "dlr",
        };
        let message = Outgoing::new(
            subject::webhook_replay(account, kind),
            // Unique per replay: replaying again (the endpoint lost it again) posts again.
            format!(
                "{}:replay:{}:{}",
                letter.message_id,
                letter.sequence,
                SystemTime::now()
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos())
            ),
            letter.payload.clone(),
        )
        .header(MESSAGE_ID_HEADER, &letter.message_id)
        .header(ACCOUNT_HEADER, account);
        publisher.publish_acked(message).await.map(drop)
    }
}
