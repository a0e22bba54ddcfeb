//! The SMPP 5.0 cell broadcast operations (§4.4): `broadcast_sm`, `query_broadcast_sm`,
//! `cancel_broadcast_sm` and their responses. Their mandatory TLVs are checked on decode:
//! missing gives `ESME_RMISSINGTLV`, a wrong length `ESME_RINVTLVLEN`.

use bytes::{BufMut, BytesMut};

use super::{Body, EncodeError, MessageIdResp, QuerySm};
use crate::error::BodyError;
use crate::tlv::{Tag, Tlvs};
use crate::types::{Address, COctetString, DataCoding};
use crate::wire::{Reader, address_len, put_address, put_c_string, require_tlv};

/// The body of `broadcast_sm`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BroadcastSm {
    /// The service type.
    pub service_type: COctetString,
    /// The originator.
    pub source: Address,
    /// The id of a broadcast to replace, or empty.
    pub message_id: COctetString,
    /// Priority.
    pub priority_flag: u8,
    /// When to start broadcasting.
    pub schedule_delivery_time: COctetString,
    /// When to stop.
    pub validity_period: COctetString,
    /// Replace the broadcast named by `message_id`.
    pub replace_if_present_flag: u8,
    /// The coding of the content.
    pub data_coding: DataCoding,
    /// A canned message's id, or 0.
    pub sm_default_msg_id: u8,
    /// TLVs: `broadcast_area_identifier`, `broadcast_content_type`, `broadcast_rep_num` and
    /// `broadcast_frequency_interval` are mandatory; the content is in `message_payload`.
    pub tlvs: Tlvs,
}

impl Body for BroadcastSm {
    fn decode(r: &mut Reader<'_>) -> Result<Self, BodyError> {
        let pdu = BroadcastSm {
            service_type: r.c_string("service_type", 6)?,
            source: r.address("source_addr", 21)?,
            message_id: r.c_string("message_id", 65)?,
            priority_flag: r.u8("priority_flag")?,
            schedule_delivery_time: r.c_string("schedule_delivery_time", 17)?,
            validity_period: r.c_string("validity_period", 17)?,
            replace_if_present_flag: r.u8("replace_if_present_flag")?,
            data_coding: DataCoding(r.u8("data_coding")?),
            sm_default_msg_id: r.u8("sm_default_msg_id")?,
            tlvs: r.tlvs()?,
        };
        for tag in [
            Tag::BROADCAST_AREA_IDENTIFIER,
            Tag::BROADCAST_CONTENT_TYPE,
            Tag::BROADCAST_REP_NUM,
            Tag::BROADCAST_FREQUENCY_INTERVAL,
        ] {
            require_tlv(&pdu.tlvs, tag)?;
        }
        Ok(pdu)
    }

    fn encode(&self, out: &mut BytesMut) -> Result<(), EncodeError> {
        put_c_string(out, &self.service_type);
        put_address(out, &self.source);
        put_c_string(out, &self.message_id);
        out.put_u8(self.priority_flag);
        put_c_string(out, &self.schedule_delivery_time);
        put_c_string(out, &self.validity_period);
        out.put_u8(self.replace_if_present_flag);
        out.put_u8(self.data_coding.0);
        out.put_u8(self.sm_default_msg_id);
        self.tlvs.encode(out);
        Ok(())
    }

    fn wire_len(&self) -> usize {
        self.service_type.wire_len()
            + address_len(&self.source)
            + self.message_id.wire_len()
            + 1
            + self.schedule_delivery_time.wire_len()
            + self.validity_period.wire_len()
            + 3
            + self.tlvs.wire_len()
    }
}

/// The body of `broadcast_sm_resp`: the broadcast's message id and optional TLVs
/// (`broadcast_error_status`, failed `broadcast_area_identifier`s), laid out like
/// `submit_sm_resp`.
pub type BroadcastSmResp = MessageIdResp;

/// The body of `query_broadcast_sm`: message id, originator and optional
/// `user_message_reference`, laid out like `query_sm`.
pub type QueryBroadcastSm = QuerySm;

/// The body of `query_broadcast_sm_resp`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QueryBroadcastSmResp {
    /// The broadcast queried.
    pub message_id: COctetString,
    /// TLVs: `message_state`, `broadcast_area_identifier` and `broadcast_area_success` are
    /// mandatory.
    pub tlvs: Tlvs,
}

impl Body for QueryBroadcastSmResp {
    fn decode(r: &mut Reader<'_>) -> Result<Self, BodyError> {
        let pdu = QueryBroadcastSmResp {
            message_id: r.c_string("message_id", 65)?,
            tlvs: r.tlvs()?,
        };
        for tag in [
            Tag::MESSAGE_STATE,
            Tag::BROADCAST_AREA_IDENTIFIER,
            Tag::BROADCAST_AREA_SUCCESS,
        ] {
            require_tlv(&pdu.tlvs, tag)?;
        }
        Ok(pdu)
    }

    fn encode(&self, out: &mut BytesMut) -> Result<(), EncodeError> {
        put_c_string(out, &self.message_id);
        self.tlvs.encode(out);
        Ok(())
    }

    fn wire_len(&self) -> usize {
        self.message_id.wire_len() + self.tlvs.wire_len()
    }
}

/// The body of `cancel_broadcast_sm`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CancelBroadcastSm {
    /// The service type of the broadcasts to cancel (with an empty `message_id`).
    pub service_type: COctetString,
    /// The broadcast to cancel.
    pub message_id: COctetString,
    /// Its originator.
    pub source: Address,
    /// Optional: `broadcast_content_type`, `user_message_reference`.
    pub tlvs: Tlvs,
}

impl Body for CancelBroadcastSm {
    fn decode(r: &mut Reader<'_>) -> Result<Self, BodyError> {
        Ok(CancelBroadcastSm {
            service_type: r.c_string("service_type", 6)?,
            message_id: r.c_string("message_id", 65)?,
            source: r.address("source_addr", 21)?,
            tlvs: r.tlvs()?,
        })
    }

    fn encode(&self, out: &mut BytesMut) -> Result<(), EncodeError> {
        put_c_string(out, &self.service_type);
        put_c_string(out, &self.message_id);
        put_address(out, &self.source);
        self.tlvs.encode(out);
        Ok(())
    }

    fn wire_len(&self) -> usize {
        self.service_type.wire_len()
            + self.message_id.wire_len()
            + address_len(&self.source)
            + self.tlvs.wire_len()
    }
}
