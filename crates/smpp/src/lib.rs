//! SMPP 3.4 and 5.0 for Herald: the wire protocol every role speaks.
//!
//! The codec does no I/O. Decoding runs in two stages: [`Framer`] cuts a byte stream into
//! whole PDUs (a framing error closes the session), then [`Pdu::decode`] reads one body from
//! its exact slice (a body error keeps the header, so the session can answer with the
//! right `command_status` and carry on). Payloads stay `Bytes` slices of the read buffer.
//!
//! - [`command_id`], [`command_status`]: the operation and status tables.
//! - [`pdu`]: every PDU body; [`tlv`]: tagged parameters, kept byte-exact.
//! - [`text`]: GSM 03.38 (with national shift tables), UCS-2, Latin-1; the cheapest coding
//!   and segment count; [`concat`](mod@concat): splitting long messages (UDH, SAR, payload) and back.
//! - [`receipt`]: delivery receipts (text and TLV forms); [`time`]: SMPP time formats.
//! - [`types`]: C-octet strings, addresses, `esm_class`, `registered_delivery`, [`Quirks`].
//! - `session` (feature `session`): the tokio session engine shared by the SMSC side (edge)
//!   and the ESME side (connector).
#![forbid(unsafe_code)]

pub mod command_id;
pub mod command_status;
pub mod concat;
pub mod error;
pub mod frame;
pub mod header;
pub mod pdu;
pub mod receipt;
#[cfg(feature = "session")]
pub mod session;
pub mod text;
pub mod time;
pub mod tlv;
pub mod types;
mod wire;

pub use command_id::CommandId;
pub use command_status::CommandStatus;
pub use error::{BodyErrorKind, DecodeError};
pub use frame::{FrameError, Framer};
pub use header::Header;
pub use pdu::{EncodeError, Pdu, PduBody};
pub use tlv::{Tag, Tlv, Tlvs};
pub use types::{
    Address, COctetString, DataCoding, EsmClass, Npi, Quirks, RegisteredDelivery, Ton,
};
