//! The 16-octet PDU header every SMPP PDU starts with (SMPP 5.0 §3.2).

use crate::{CommandId, CommandStatus};

/// Length of the header: `command_length`, `command_id`, `command_status`, `sequence_number`.
pub const HEADER_LEN: usize = 16;

/// The four header fields of a PDU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// Length of the whole PDU, header included.
    pub command_length: u32,
    /// The operation.
    pub command_id: CommandId,
    /// The outcome (responses); zero in requests.
    pub command_status: CommandStatus,
    /// Correlates a response with its request.
    pub sequence_number: u32,
}

impl Header {
    /// Reads the header from the first 16 octets; `None` when fewer are given.
    pub fn parse(octets: &[u8]) -> Option<Header> {
        let field = |i: usize| -> Option<u32> {
            let b = octets.get(i * 4..i * 4 + 4)?;
            Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
        };
        Some(Header {
            command_length: field(0)?,
            command_id: CommandId::from_u32(field(1)?),
            command_status: CommandStatus::from_u32(field(2)?),
            sequence_number: field(3)?,
        })
    }
}
