//! Errors of stage two, decoding a PDU body, and the answer each one deserves.
//!
//! A body error keeps the header it was read with, so that a session can answer the
//! request with its own `_resp` (or `generic_nack` when the command is unknown) carrying
//! the right `command_status` and `sequence_number`, and carry on.

use crate::pdu::{Pdu, PduBody};
use crate::tlv::Tag;
use crate::{CommandId, CommandStatus, Header};

/// What was wrong with a PDU body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyErrorKind {
    /// The frame is shorter than the header, or `command_length` disagrees with it.
    #[error("command_length does not match the frame")]
    Length,
    /// The command id is not one of SMPP 3.4 or 5.0.
    #[error("unknown command id")]
    UnknownCommand,
    /// The body ends inside a mandatory field.
    #[error("body ends inside mandatory field `{0}`")]
    Truncated(&'static str),
    /// `sm_length` declares more octets than the body holds.
    #[error("sm_length {declared} exceeds the {available} octets left in the body")]
    ShortMessageOverrun {
        /// The declared `sm_length`.
        declared: u8,
        /// Octets left in the body.
        available: usize,
    },
    /// A TLV header or value runs past the end of the PDU.
    #[error("TLV 0x{tag:04X} declares {length} octets but only {available} remain")]
    TlvOverrun {
        /// The TLV's tag.
        tag: u16,
        /// Its declared length.
        length: u16,
        /// Octets left in the PDU.
        available: usize,
    },
    /// A TLV the operation requires is missing.
    #[error("mandatory TLV {0} is missing")]
    MissingTlv(Tag),
    /// A TLV the operation requires has the wrong length.
    #[error("mandatory TLV {tag} has length {length}")]
    TlvLength {
        /// The TLV's tag.
        tag: Tag,
        /// Its length.
        length: usize,
    },
    /// A mandatory field holds a value the specification does not allow.
    #[error("field `{field}` has invalid value {value}")]
    InvalidValue {
        /// The field's name.
        field: &'static str,
        /// The value found.
        value: u32,
    },
}

/// A body error with the status a response should carry; the header is added by the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BodyError {
    pub(crate) status: CommandStatus,
    pub(crate) kind: BodyErrorKind,
}

impl BodyError {
    pub(crate) fn truncated(field: &'static str) -> Self {
        Self {
            status: CommandStatus::ESME_RINVCMDLEN,
            kind: BodyErrorKind::Truncated(field),
        }
    }

    pub(crate) fn invalid(status: CommandStatus, field: &'static str, value: u32) -> Self {
        Self {
            status,
            kind: BodyErrorKind::InvalidValue { field, value },
        }
    }
}

/// A PDU whose header was read but whose body could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot decode {} (sequence {}): {kind}; answer {status}", header.command_id, header.sequence_number)]
pub struct DecodeError {
    /// The header as read from the wire.
    pub header: Header,
    /// The `command_status` to answer with.
    pub status: CommandStatus,
    /// What was wrong.
    pub kind: BodyErrorKind,
}

impl DecodeError {
    pub(crate) fn new(header: Header, error: BodyError) -> Self {
        Self {
            header,
            status: error.status,
            kind: error.kind,
        }
    }

    /// The PDU a session should send back: the request's own `_resp` with [`Self::status`],
    /// or `generic_nack` when the command is unknown or its response has no body form we
    /// can build. `None` when the broken PDU was itself a response or needs no answer
    /// (`outbind`, `alert_notification`): those are logged, never answered.
    pub fn response(&self) -> Option<Pdu> {
        let id = self.header.command_id;
        let body = match id.response()? {
            CommandId::GenericNack => PduBody::GenericNack,
            resp_id => PduBody::error_response(resp_id).unwrap_or(PduBody::GenericNack),
        };
        Some(Pdu::new(self.header.sequence_number, body).with_status(self.status))
    }
}
