//! [`ControlError`], the control plane's one error type, and its one mapping to gRPC
//! status codes ([`ControlError::to_status`]).

use std::path::PathBuf;

use tonic::{Code, Status};

/// The gRPC metadata key carrying an object's current revision on an `ABORTED` answer
/// (absent when the object does not exist).
pub const CURRENT_REVISION_HEADER: &str = "x-herald-current-revision";

/// Why a control plane operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// The tokens file could not be read, or holds no token. Returned by
    /// [`crate::Control::new`].
    #[error("tokens file {path}: {reason}")]
    Tokens {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// The node token file (`grpc.token_file`) could not be read, or holds no token.
    /// Returned by [`crate::NodeToken::load`] and when presenting or checking the token.
    #[error("node token file {path}: {reason}")]
    NodeToken {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// The audit log could not be written or read (etcd trouble, a record that does not
    /// decode).
    #[error("audit log: {0}")]
    Audit(String),
    /// A `control.tls` or `grpc.tls` file could not be read or used. Returned by
    /// [`crate::Control::new`] and [`crate::NodeTls::load`].
    #[error("TLS file {path}: {reason}")]
    Tls {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// The rules store failed, refused a document, or a compare-and-swap lost.
    #[error(transparent)]
    Rules(#[from] herald_rules::Error),
    /// The bus's status store failed (message lookup).
    #[error("status store: {0}")]
    Bus(#[from] herald_bus::BusError),
    /// Message lookup is not available: this control node has no status store.
    #[error("message lookup needs the bus, which this control node does not have")]
    NoStatusStore,
    /// Opt-outs are not available: this control node has no opt-out store.
    #[error("opt-outs need the bus, which this control node does not have")]
    NoOptOutStore,
    /// Ported numbers are not available: this control node has no porting store.
    #[error("ported numbers need the bus, which this control node does not have")]
    NoPortingStore,
    /// Dead letters are not available: this control node has no bus.
    #[error("dead letters need the bus, which this control node does not have")]
    NoDeadLetters,
    /// The request is malformed (an unknown kind, a missing id).
    #[error("{0}")]
    InvalidArgument(String),
    /// What was asked for does not exist.
    #[error("{0}")]
    NotFound(String),
    /// A node's NodeService could not be reached or refused the call.
    #[error("node {node} ({address}): {reason}")]
    Node {
        /// The node id.
        node: String,
        /// Its NodeService address.
        address: String,
        /// What went wrong.
        reason: String,
        /// The gRPC code to answer with.
        code: Code,
    },
    /// Serving the API failed.
    #[error("serving AdminService: {0}")]
    Serve(#[from] tonic::transport::Error),
}

impl ControlError {
    /// The gRPC status this error is answered with: a conflict is `ABORTED` (with the
    /// current revision in the message and in [`CURRENT_REVISION_HEADER`]), a document
    /// that does not validate is `INVALID_ARGUMENT`, etcd or NATS trouble `UNAVAILABLE`.
    pub fn to_status(&self) -> Status {
        use herald_rules::Error as R;
        let message = self.to_string();
        match self {
            ControlError::Rules(R::Conflict {
                current_revision, ..
            }) => {
                let mut status = Status::aborted(message);
                if let Some(revision) = current_revision
                    && let Ok(value) = revision.to_string().parse()
                {
                    status.metadata_mut().insert(CURRENT_REVISION_HEADER, value);
                }
                status
            }
            ControlError::Rules(R::Invalid(_) | R::RevisionOutOfRange(_))
            | ControlError::Bus(herald_bus::BusError::Invalid(_))
            | ControlError::InvalidArgument(_) => Status::invalid_argument(message),
            ControlError::Rules(R::Timeout { .. } | R::Etcd { .. } | R::StreamEnded { .. })
            | ControlError::Bus(_)
            | ControlError::Audit(_)
            | ControlError::NoStatusStore
            | ControlError::NoOptOutStore
            | ControlError::NoPortingStore
            | ControlError::NoDeadLetters => Status::unavailable(message),
            ControlError::NotFound(_) => Status::not_found(message),
            ControlError::Node { code, .. } => Status::new(*code, message),
            ControlError::Rules(_)
            | ControlError::Tokens { .. }
            | ControlError::NodeToken { .. }
            | ControlError::Tls { .. }
            | ControlError::Serve(_) => Status::internal(message),
        }
    }
}

impl From<ControlError> for Status {
    fn from(error: ControlError) -> Status {
        error.to_status()
    }
}
