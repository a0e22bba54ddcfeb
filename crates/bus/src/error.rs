//! The bus crate's one error type, and what each variant means to a caller.

use std::time::Duration;

/// A boxed error from the NATS client, kept as the source.
pub type NatsError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What can go wrong on the bus.
///
/// Roles map these to the wire in one place: [`BusError::Full`] is SMPP
/// `ESME_RMSGQFUL`, every other publish failure `ESME_RSYSERR`.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    /// No NATS server answered at start.
    #[error("cannot connect to NATS at {urls}")]
    Connect {
        /// The URLs tried.
        urls: String,
        /// Why.
        #[source]
        source: NatsError,
    },
    /// NATS answered but refused this client: its credentials are missing, wrong or not
    /// allowed (an authorization violation). Retrying with the same credentials fails
    /// the same way until the server or the secret changes.
    #[error("NATS at {urls} refused this client's credentials ({auth})")]
    Refused {
        /// The URLs tried.
        urls: String,
        /// Which kind of credentials were presented (`none`, `token`, ...), never their
        /// value.
        auth: &'static str,
        /// The server's answer.
        #[source]
        source: NatsError,
    },
    /// A NATS credential (`.creds` file, NKey seed, password, token) could not be read or
    /// is malformed.
    #[error("cannot read the NATS credential in {reference}: {reason}")]
    Secret {
        /// Where it was looked for (`file /run/secrets/nats.creds`, `environment variable
        /// NATS_TOKEN`).
        reference: String,
        /// What went wrong; never the secret.
        reason: String,
    },
    /// A stream, consumer or bucket could not be created or updated.
    #[error("cannot declare {what}")]
    Topology {
        /// Which stream, consumer or bucket.
        what: String,
        /// Why.
        #[source]
        source: NatsError,
    },
    /// Too many publishes are waiting for their acks; the caller should shed load.
    #[error("too many publishes in flight")]
    Full,
    /// The server did not acknowledge a publish in time, so the message may or may not
    /// be stored; republishing with the same id is safe (the dedup window drops a copy).
    #[error("no publish ack within {0:?}")]
    AckTimeout(Duration),
    /// A publish failed: no stream for the subject, the connection is gone, or similar.
    #[error("publish to {subject} failed")]
    Publish {
        /// The subject published to.
        subject: String,
        /// Why.
        #[source]
        source: NatsError,
    },
    /// Pulling, acking or naking a message failed.
    #[error("consumer {consumer}: {action} failed")]
    Consume {
        /// The durable name.
        consumer: String,
        /// What was being done.
        action: &'static str,
        /// Why.
        #[source]
        source: NatsError,
    },
    /// A key-value operation failed.
    #[error("KV bucket {bucket}: {action} failed")]
    Kv {
        /// The bucket.
        bucket: &'static str,
        /// What was being done.
        action: &'static str,
        /// Why.
        #[source]
        source: NatsError,
    },
    /// An object-store operation failed.
    #[error("object store {bucket}: {action} failed")]
    Object {
        /// The bucket.
        bucket: &'static str,
        /// What was being done.
        action: &'static str,
        /// Why.
        #[source]
        source: NatsError,
    },
    /// A payload was not the protobuf message it should be.
    #[error("cannot decode {what}")]
    Decode {
        /// The message type expected.
        what: &'static str,
        /// Why.
        #[source]
        source: prost::DecodeError,
    },
    /// A batch could not be formed (empty, or members for different subjects).
    #[error("invalid batch: {0}")]
    Batch(&'static str),
    /// A value cannot be stored as given (a number that is not digits, a key of the
    /// wrong form).
    #[error("{0}")]
    Invalid(String),
    /// Any other client error.
    #[error("NATS error")]
    Nats(#[source] NatsError),
}

impl BusError {
    /// The same failure for one member of a batch: every member gets its own error, of
    /// the variant the batch's failure had where callers tell variants apart.
    pub(crate) fn for_member(&self) -> BusError {
        match self {
            BusError::Full => BusError::Full,
            BusError::AckTimeout(wait) => BusError::AckTimeout(*wait),
            BusError::Batch(why) => BusError::Batch(why),
            BusError::Publish { subject, source } => BusError::Publish {
                subject: subject.clone(),
                source: source.to_string().into(),
            },
            other => BusError::Nats(other.to_string().into()),
        }
    }
}
