//! The load generator's errors.

use herald_smpp::concat::ConcatError;
use herald_smpp::session::BindError;

/// Why a load run could not start or a setting is invalid.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A session's TCP connection failed ([`crate::run()`]).
    #[error("cannot connect to {addr}")]
    Connect {
        /// The server's address.
        addr: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The server refused or did not answer a bind ([`crate::run()`]).
    #[error("session {session} could not bind")]
    Bind {
        /// Which session (0-based).
        session: usize,
        /// Why.
        source: BindError,
    },
    /// A message of the mix cannot be encoded ([`crate::message`]).
    #[error("cannot build a message: {0}")]
    Message(#[from] ConcatError),
    /// A setting is out of range or malformed ([`crate::config`]).
    #[error("invalid {name}: {reason}")]
    Invalid {
        /// The setting.
        name: &'static str,
        /// What is wrong with it.
        reason: String,
    },
}

impl LoadError {
    pub(crate) fn invalid(name: &'static str, reason: impl Into<String>) -> Self {
        LoadError::Invalid {
            name,
            reason: reason.into(),
        }
    }
}
