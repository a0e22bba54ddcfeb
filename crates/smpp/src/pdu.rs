//! Every SMPP 3.4 and 5.0 PDU: [`Pdu`] is the header fields plus a typed [`PduBody`].
//!
//! [`Pdu::decode`] is stage two of decoding: it takes one whole frame (from
//! [`crate::Framer`]) and reads the body from that exact slice. [`Pdu::encode`] writes the
//! PDU, computing `command_length`. The body types live one family per file in `pdu/`.

mod alert_notification;
mod bind;
mod broadcast;
mod data_sm;
mod query_cancel_replace;
mod submit_multi;
mod submit_sm;

use bytes::{BufMut, Bytes, BytesMut};

pub use self::alert_notification::AlertNotification;
pub use self::bind::{Bind, BindResp, INTERFACE_VERSION_34, INTERFACE_VERSION_50, Outbind};
pub use self::broadcast::{
    BroadcastSm, BroadcastSmResp, CancelBroadcastSm, QueryBroadcastSm, QueryBroadcastSmResp,
};
pub use self::data_sm::DataSm;
pub use self::query_cancel_replace::{CancelSm, QuerySm, QuerySmResp, ReplaceSm};
pub use self::submit_multi::{DestAddress, SubmitMulti, SubmitMultiResp, UnsuccessSme};
pub use self::submit_sm::{DeliverSm, MessageIdResp, SubmitSm};

use crate::error::{BodyError, BodyErrorKind, DecodeError};
use crate::header::HEADER_LEN;
use crate::types::Quirks;
use crate::wire::Reader;
use crate::{CommandId, CommandStatus, Header};

/// The body of a PDU, one variant per operation.
#[derive(Clone, Debug, PartialEq, Eq)]
#[allow(
    clippy::large_enum_variant,
    reason = "boxing would allocate per PDU on the hot path"
)]
pub enum PduBody {
    /// `bind_transmitter`.
    BindTransmitter(Bind),
    /// `bind_transmitter_resp`.
    BindTransmitterResp(BindResp),
    /// `bind_receiver`.
    BindReceiver(Bind),
    /// `bind_receiver_resp`.
    BindReceiverResp(BindResp),
    /// `bind_transceiver`.
    BindTransceiver(Bind),
    /// `bind_transceiver_resp`.
    BindTransceiverResp(BindResp),
    /// `outbind`: an SMSC asks the ESME to bind.
    Outbind(Outbind),
    /// `unbind`.
    Unbind,
    /// `unbind_resp`.
    UnbindResp,
    /// `generic_nack`: the answer to a PDU that cannot be answered otherwise.
    GenericNack,
    /// `enquire_link`.
    EnquireLink,
    /// `enquire_link_resp`.
    EnquireLinkResp,
    /// `submit_sm`.
    SubmitSm(SubmitSm),
    /// `submit_sm_resp`.
    SubmitSmResp(MessageIdResp),
    /// `submit_multi`.
    SubmitMulti(SubmitMulti),
    /// `submit_multi_resp`.
    SubmitMultiResp(SubmitMultiResp),
    /// `deliver_sm`.
    DeliverSm(DeliverSm),
    /// `deliver_sm_resp`.
    DeliverSmResp(MessageIdResp),
    /// `data_sm`.
    DataSm(DataSm),
    /// `data_sm_resp`.
    DataSmResp(MessageIdResp),
    /// `query_sm`.
    QuerySm(QuerySm),
    /// `query_sm_resp`.
    QuerySmResp(QuerySmResp),
    /// `cancel_sm`.
    CancelSm(CancelSm),
    /// `cancel_sm_resp`.
    CancelSmResp,
    /// `replace_sm`.
    ReplaceSm(ReplaceSm),
    /// `replace_sm_resp`.
    ReplaceSmResp,
    /// `alert_notification`.
    AlertNotification(AlertNotification),
    /// `broadcast_sm`.
    BroadcastSm(BroadcastSm),
    /// `broadcast_sm_resp`.
    BroadcastSmResp(BroadcastSmResp),
    /// `query_broadcast_sm`.
    QueryBroadcastSm(QueryBroadcastSm),
    /// `query_broadcast_sm_resp`.
    QueryBroadcastSmResp(QueryBroadcastSmResp),
    /// `cancel_broadcast_sm`.
    CancelBroadcastSm(CancelBroadcastSm),
    /// `cancel_broadcast_sm_resp`.
    CancelBroadcastSmResp,
}

/// Why a PDU cannot be written: Herald is strict in what it emits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// `short_message` is longer than `sm_length` can state; use `message_payload`.
    #[error("short_message of {0} octets exceeds the 255 sm_length allows")]
    ShortMessageTooLong(usize),
    /// A list (destinations, unsuccessful SMEs) is longer than its one-octet count allows.
    #[error("{field} has {count} entries, more than 255")]
    TooMany {
        /// The list.
        field: &'static str,
        /// Its length.
        count: usize,
    },
}

/// The body codec every PDU type implements.
pub(crate) trait Body: Sized {
    /// Reads the body; the reader is positioned after the header.
    fn decode(r: &mut Reader<'_>) -> Result<Self, BodyError>;
    /// Writes the body.
    fn encode(&self, out: &mut BytesMut) -> Result<(), EncodeError>;
    /// Octets the body takes.
    fn wire_len(&self) -> usize;
}

/// A whole PDU: the header's status and sequence number, and the typed body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pdu {
    /// `command_status`: zero in requests, the outcome in responses.
    pub command_status: CommandStatus,
    /// `sequence_number`, which pairs a response with its request.
    pub sequence_number: u32,
    /// The operation and its fields.
    pub body: PduBody,
    /// What the decoder let through (empty for PDUs built in code).
    pub quirks: Quirks,
}

impl Pdu {
    /// A PDU with status `ESME_ROK`.
    pub fn new(sequence_number: u32, body: PduBody) -> Self {
        Self {
            command_status: CommandStatus::ESME_ROK,
            sequence_number,
            body,
            quirks: Quirks::empty(),
        }
    }

    /// The same PDU with another status.
    pub fn with_status(mut self, status: CommandStatus) -> Self {
        self.command_status = status;
        self
    }

    /// The operation.
    pub fn command_id(&self) -> CommandId {
        self.body.command_id()
    }

    /// Decodes one whole frame, as cut by [`crate::Framer`].
    pub fn decode(frame: Bytes) -> Result<Pdu, DecodeError> {
        let Some(header) = Header::parse(&frame) else {
            let header = Header {
                command_length: frame.len() as u32,
                command_id: CommandId::Unknown(0),
                command_status: CommandStatus::ESME_ROK,
                sequence_number: 0,
            };
            return Err(DecodeError::new(header, length_error()));
        };
        if header.command_length as usize != frame.len() {
            return Err(DecodeError::new(header, length_error()));
        }
        let mut r = Reader::new(&frame, HEADER_LEN);
        // An error response may omit its body (SMPP 3.4 §4); any response may, leniently,
        // except a successful query_broadcast_sm_resp, whose mandatory TLVs an empty body
        // lacks (re-encoded, it would not decode again).
        let empty_response = header.command_id.is_response()
            && r.remaining() == 0
            && !(header.command_status.is_ok()
                && header.command_id == CommandId::QueryBroadcastSmResp);
        let body = if empty_response {
            PduBody::error_response(header.command_id)
                .ok_or_else(|| DecodeError::new(header, unknown_command()))?
        } else {
            PduBody::decode(header.command_id, &mut r).map_err(|e| DecodeError::new(header, e))?
        };
        Ok(Pdu {
            command_status: header.command_status,
            sequence_number: header.sequence_number,
            body,
            quirks: r.quirks,
        })
    }

    /// Octets the PDU takes on the wire.
    pub fn wire_len(&self) -> usize {
        HEADER_LEN
            + if self.omits_body() {
                0
            } else {
                self.body.wire_len()
            }
    }

    /// Appends the PDU to `out`.
    pub fn encode(&self, out: &mut BytesMut) -> Result<(), EncodeError> {
        let start = out.len();
        out.reserve(self.wire_len());
        out.put_u32(0); // command_length, patched below
        out.put_u32(self.command_id().as_u32());
        out.put_u32(self.command_status.as_u32());
        out.put_u32(self.sequence_number);
        if !self.omits_body()
            && let Err(e) = self.body.encode(out)
        {
            out.truncate(start);
            return Err(e);
        }
        let len = (out.len() - start) as u32;
        out[start..start + 4].copy_from_slice(&len.to_be_bytes());
        Ok(())
    }

    /// The PDU as a new buffer.
    pub fn to_bytes(&self) -> Result<Bytes, EncodeError> {
        let mut out = BytesMut::with_capacity(self.wire_len());
        self.encode(&mut out)?;
        Ok(out.freeze())
    }

    /// An error response with nothing in its body is sent header-only, as SMPP 3.4 asks
    /// and every SMSC accepts.
    fn omits_body(&self) -> bool {
        !self.command_status.is_ok() && self.body.is_empty_response()
    }
}

fn length_error() -> BodyError {
    BodyError {
        status: CommandStatus::ESME_RINVCMDLEN,
        kind: BodyErrorKind::Length,
    }
}

fn unknown_command() -> BodyError {
    BodyError {
        status: CommandStatus::ESME_RINVCMDID,
        kind: BodyErrorKind::UnknownCommand,
    }
}

macro_rules! dispatch {
    ($( $variant:ident ( $ty:ty ) ),* ; $( $empty:ident ),* ) => {
        impl PduBody {
            /// The operation of this body.
            pub fn command_id(&self) -> CommandId {
                match self {
                    $( Self::$variant(..) => CommandId::$variant, )*
                    $( Self::$empty => CommandId::$empty, )*
                }
            }

            fn decode(id: CommandId, r: &mut Reader<'_>) -> Result<Self, BodyError> {
                Ok(match id {
                    $( CommandId::$variant => Self::$variant(<$ty as Body>::decode(r)?), )*
                    $( CommandId::$empty => {
                        let _ = r.rest_as_trailing();
                        Self::$empty
                    } )*
                    CommandId::Unknown(_) => return Err(unknown_command()),
                })
            }

            fn encode(&self, out: &mut BytesMut) -> Result<(), EncodeError> {
                match self {
                    $( Self::$variant(b) => b.encode(out), )*
                    $( Self::$empty => Ok(()), )*
                }
            }

            fn wire_len(&self) -> usize {
                match self {
                    $( Self::$variant(b) => b.wire_len(), )*
                    $( Self::$empty => 0, )*
                }
            }
        }
    };
}

dispatch!(
    BindTransmitter(Bind), BindTransmitterResp(BindResp), BindReceiver(Bind),
    BindReceiverResp(BindResp), BindTransceiver(Bind), BindTransceiverResp(BindResp),
    Outbind(Outbind), SubmitSm(SubmitSm), SubmitSmResp(MessageIdResp),
    SubmitMulti(SubmitMulti), SubmitMultiResp(SubmitMultiResp), DeliverSm(DeliverSm),
    DeliverSmResp(MessageIdResp), DataSm(DataSm), DataSmResp(MessageIdResp), QuerySm(QuerySm),
    QuerySmResp(QuerySmResp), CancelSm(CancelSm), ReplaceSm(ReplaceSm),
    AlertNotification(AlertNotification), BroadcastSm(BroadcastSm),
    BroadcastSmResp(BroadcastSmResp), QueryBroadcastSm(QueryBroadcastSm),
    QueryBroadcastSmResp(QueryBroadcastSmResp), CancelBroadcastSm(CancelBroadcastSm);
    Unbind, UnbindResp, GenericNack, EnquireLink, EnquireLinkResp, CancelSmResp,
    ReplaceSmResp, CancelBroadcastSmResp
);

impl PduBody {
    /// The body of response `id` with every field empty: what an error response carries.
    /// `None` when `id` is not a response.
    pub fn error_response(id: CommandId) -> Option<PduBody> {
        Some(match id {
            CommandId::GenericNack => Self::GenericNack,
            CommandId::BindTransmitterResp => Self::BindTransmitterResp(BindResp::default()),
            CommandId::BindReceiverResp => Self::BindReceiverResp(BindResp::default()),
            CommandId::BindTransceiverResp => Self::BindTransceiverResp(BindResp::default()),
            CommandId::UnbindResp => Self::UnbindResp,
            CommandId::EnquireLinkResp => Self::EnquireLinkResp,
            CommandId::SubmitSmResp => Self::SubmitSmResp(MessageIdResp::default()),
            CommandId::SubmitMultiResp => Self::SubmitMultiResp(SubmitMultiResp::default()),
            CommandId::DeliverSmResp => Self::DeliverSmResp(MessageIdResp::default()),
            CommandId::DataSmResp => Self::DataSmResp(MessageIdResp::default()),
            CommandId::QuerySmResp => Self::QuerySmResp(QuerySmResp::default()),
            CommandId::CancelSmResp => Self::CancelSmResp,
            CommandId::ReplaceSmResp => Self::ReplaceSmResp,
            CommandId::BroadcastSmResp => Self::BroadcastSmResp(BroadcastSmResp::default()),
            CommandId::QueryBroadcastSmResp => {
                Self::QueryBroadcastSmResp(QueryBroadcastSmResp::default())
            }
            CommandId::CancelBroadcastSmResp => Self::CancelBroadcastSmResp,
            _ => return None,
        })
    }

    /// True for a response body whose fields are all empty.
    fn is_empty_response(&self) -> bool {
        self.command_id().is_response()
            && Self::error_response(self.command_id()).as_ref() == Some(self)
    }

    /// True for the bind requests.
    pub fn is_bind(&self) -> bool {
        matches!(
            self,
            Self::BindTransmitter(_) | Self::BindReceiver(_) | Self::BindTransceiver(_)
        )
    }
}
