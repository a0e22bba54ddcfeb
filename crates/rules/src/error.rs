//! The crate's errors: [`ValidationError`] says what is wrong with one rules object (it is
//! also what a snapshot's problem list holds); [`Error`] is what the store, the client and
//! node registration return.

use std::time::Duration;

use crate::kind::Kind;

/// What is wrong with one rules object, with its kind, id and the field at fault.
///
/// Returned by [`crate::RulesObject::validate`] and by the client before a write; held in
/// [`crate::Problem`] for objects a snapshot skipped or kept with a warning.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ValidationError {
    /// A field's value is out of range or malformed.
    #[error("{kind} {id:?}: {field}: {reason}")]
    Field {
        /// The object's kind.
        kind: Kind,
        /// The object's id.
        id: String,
        /// The field, as a path (`action.split[1].weight`).
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// The document is not JSON of the kind's shape (or not UTF-8).
    #[error("{kind} {id:?}: not a valid document: {reason}")]
    Decode {
        /// The kind the key says.
        kind: Kind,
        /// The id the key says.
        id: String,
        /// The decoder's message.
        reason: String,
    },
    /// The document's `id` is not the id in its key.
    #[error("{kind} {id:?}: the document says its id is {found:?}")]
    IdMismatch {
        /// The kind.
        kind: Kind,
        /// The id in the key.
        id: String,
        /// The id in the document.
        found: String,
    },
    /// The document has a field this version does not know (writes only: a reader ignores
    /// unknown fields so that newer writers can roll out first).
    #[error("{kind} {id:?}: {field}: unknown field")]
    UnknownField {
        /// The kind.
        kind: Kind,
        /// The id.
        id: String,
        /// The field, as a path.
        field: String,
    },
    /// A field names an object that is not in the snapshot.
    #[error("{kind} {id:?}: {field} refers to {target} {target_id:?}, which does not exist")]
    Dangling {
        /// The kind of the referring object.
        kind: Kind,
        /// Its id.
        id: String,
        /// The referring field.
        field: String,
        /// The kind referred to.
        target: Kind,
        /// The id referred to.
        target_id: String,
    },
    /// A value that must be unique across objects of a kind is already taken.
    #[error("{kind} {id:?}: {field} {value:?} is already used by {kind} {other:?}")]
    Duplicate {
        /// The kind.
        kind: Kind,
        /// The object that lost (the later one in id order).
        id: String,
        /// The field.
        field: String,
        /// The value in both.
        value: String,
        /// The object that keeps it.
        other: String,
    },
    /// A key under the prefix that is neither `<kind>/<id>` nor a reserved segment.
    #[error("key {key:?} is not a rules key (<kind>/<id>)")]
    UnknownKey {
        /// The key, relative to the prefix.
        key: String,
    },
}

impl ValidationError {
    /// The kind of the object at fault, if the key named one.
    pub fn kind(&self) -> Option<Kind> {
        match self {
            ValidationError::Field { kind, .. }
            | ValidationError::Decode { kind, .. }
            | ValidationError::IdMismatch { kind, .. }
            | ValidationError::UnknownField { kind, .. }
            | ValidationError::Dangling { kind, .. }
            | ValidationError::Duplicate { kind, .. } => Some(*kind),
            ValidationError::UnknownKey { .. } => None,
        }
    }

    /// The id of the object at fault (the whole key for an unknown key).
    pub fn id(&self) -> &str {
        match self {
            ValidationError::Field { id, .. }
            | ValidationError::Decode { id, .. }
            | ValidationError::IdMismatch { id, .. }
            | ValidationError::UnknownField { id, .. }
            | ValidationError::Dangling { id, .. }
            | ValidationError::Duplicate { id, .. } => id,
            ValidationError::UnknownKey { key } => key,
        }
    }
}

/// Why a store, client or registration operation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration cannot work (no endpoints, a prefix without slashes, zero
    /// timeouts, an invalid node id). Returned before any connection is tried.
    #[error("invalid rules store configuration: {0}")]
    Config(String),
    /// etcd did not answer in time; at start-up this means it is unreachable.
    #[error("etcd ({endpoints}) did not answer {operation} within {timeout:?}")]
    Timeout {
        /// The configured endpoints.
        endpoints: String,
        /// What was being done.
        operation: &'static str,
        /// How long it waited.
        timeout: Duration,
    },
    /// etcd answered with an error, or the connection failed.
    #[error("etcd ({endpoints}) {operation} failed: {source}")]
    Etcd {
        /// The configured endpoints.
        endpoints: String,
        /// What was being done.
        operation: &'static str,
        /// The client's error.
        source: etcd_client::Error,
    },
    /// A watch or keep-alive stream ended or was cancelled by etcd.
    #[error("etcd ({endpoints}) {operation} stream ended: {reason}")]
    StreamEnded {
        /// The configured endpoints.
        endpoints: String,
        /// Which stream.
        operation: &'static str,
        /// Why, as far as known.
        reason: String,
    },
    /// The object failed validation; nothing was written.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// Compare-and-swap failed: the object is not at the expected revision.
    #[error("{kind} {id:?} changed concurrently: it is now {}", describe_revision(*current_revision))]
    Conflict {
        /// The kind.
        kind: Kind,
        /// The id.
        id: String,
        /// Its `mod_revision` now; `None` if it does not exist.
        current_revision: Option<u64>,
    },
    /// A revision does not fit etcd's signed 64-bit revisions.
    #[error("revision {0} is out of etcd's range")]
    RevisionOutOfRange(u64),
    /// Hashing a password failed (argon2 parameters or the OS random source).
    #[error("cannot hash password: {0}")]
    PasswordHash(String),
    /// A secret reference (a carrier's bind password, the etcd password) could not be
    /// read.
    #[error("secret {reference}: {reason}")]
    Secret {
        /// The reference (`env:NAME` or `file:PATH`).
        reference: String,
        /// What went wrong.
        reason: String,
    },
}

impl Error {
    /// A TLS file for etcd (`what`: CA, client certificate or key) that could not be read.
    pub(crate) fn tls_file(what: &str, path: &std::path::Path, source: &std::io::Error) -> Error {
        Error::Config(format!(
            "cannot read the etcd TLS {what} {}: {source}",
            path.display()
        ))
    }
}

fn describe_revision(revision: Option<u64>) -> String {
    match revision {
        Some(r) => format!("at revision {r}"),
        None => "absent".to_owned(),
    }
}
