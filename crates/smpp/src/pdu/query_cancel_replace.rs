//! `query_sm`, `cancel_sm` and `replace_sm` (SMPP 5.0 §4.5): operations on a message the
//! SMSC already holds, named by its message id.

use bytes::{BufMut, Bytes, BytesMut};

use super::{Body, EncodeError};
use crate::error::BodyError;
use crate::tlv::Tlvs;
use crate::types::{Address, COctetString, RegisteredDelivery};
use crate::wire::{Reader, address_len, put_address, put_c_string};

/// The body of `query_sm`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QuerySm {
    /// The message to query.
    pub message_id: COctetString,
    /// Its originator, as submitted.
    pub source: Address,
    /// Vendor TLVs, if any (the specification defines none).
    pub tlvs: Tlvs,
}

impl Body for QuerySm {
    fn decode(r: &mut Reader<'_>) -> Result<Self, BodyError> {
        Ok(QuerySm {
            message_id: r.c_string("message_id", 65)?,
            source: r.address("source_addr", 21)?,
            tlvs: r.tlvs()?,
        })
    }

    fn encode(&self, out: &mut BytesMut) -> Result<(), EncodeError> {
        put_c_string(out, &self.message_id);
        put_address(out, &self.source);
        self.tlvs.encode(out);
        Ok(())
    }

    fn wire_len(&self) -> usize {
        self.message_id.wire_len() + address_len(&self.source) + self.tlvs.wire_len()
    }
}

/// The body of `query_sm_resp`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QuerySmResp {
    /// The message queried.
    pub message_id: COctetString,
    /// When it reached its final state (`YYMMDDhhmmsstnnp`), empty if not final.
    pub final_date: COctetString,
    /// Its state (the `message_state` values).
    pub message_state: u8,
    /// A network error code, when it failed.
    pub error_code: u8,
    /// Vendor TLVs, if any.
    pub tlvs: Tlvs,
}

impl Body for QuerySmResp {
    fn decode(r: &mut Reader<'_>) -> Result<Self, BodyError> {
        Ok(QuerySmResp {
            message_id: r.c_string("message_id", 65)?,
            final_date: r.c_string("final_date", 17)?,
            message_state: r.u8("message_state")?,
            error_code: r.u8("error_code")?,
            tlvs: r.tlvs()?,
        })
    }

    fn encode(&self, out: &mut BytesMut) -> Result<(), EncodeError> {
        put_c_string(out, &self.message_id);
        put_c_string(out, &self.final_date);
        out.put_u8(self.message_state);
        out.put_u8(self.error_code);
        self.tlvs.encode(out);
        Ok(())
    }

    fn wire_len(&self) -> usize {
        self.message_id.wire_len() + self.final_date.wire_len() + 2 + self.tlvs.wire_len()
    }
}

/// The body of `cancel_sm`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CancelSm {
    /// The service type of the messages to cancel (with an empty `message_id`).
    pub service_type: COctetString,
    /// The message to cancel, or empty to cancel by source, destination and service type.
    pub message_id: COctetString,
    /// The originator, as submitted.
    pub source: Address,
    /// The recipient, as submitted.
    pub dest: Address,
    /// Vendor TLVs, if any.
    pub tlvs: Tlvs,
}

impl Body for CancelSm {
    fn decode(r: &mut Reader<'_>) -> Result<Self, BodyError> {
        Ok(CancelSm {
            service_type: r.c_string("service_type", 6)?,
            message_id: r.c_string("message_id", 65)?,
            source: r.address("source_addr", 21)?,
            dest: r.address("destination_addr", 21)?,
            tlvs: r.tlvs()?,
        })
    }

    fn encode(&self, out: &mut BytesMut) -> Result<(), EncodeError> {
        put_c_string(out, &self.service_type);
        put_c_string(out, &self.message_id);
        put_address(out, &self.source);
        put_address(out, &self.dest);
        self.tlvs.encode(out);
        Ok(())
    }

    fn wire_len(&self) -> usize {
        self.service_type.wire_len()
            + self.message_id.wire_len()
            + address_len(&self.source)
            + address_len(&self.dest)
            + self.tlvs.wire_len()
    }
}

/// The body of `replace_sm`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReplaceSm {
    /// The message to replace.
    pub message_id: COctetString,
    /// Its originator, as submitted.
    pub source: Address,
    /// New delivery time, or empty to keep it.
    pub schedule_delivery_time: COctetString,
    /// New validity, or empty to keep it.
    pub validity_period: COctetString,
    /// New receipt request.
    pub registered_delivery: RegisteredDelivery,
    /// A canned message's id, or 0.
    pub sm_default_msg_id: u8,
    /// The new user data.
    pub short_message: Bytes,
    /// Optional parameters (`message_payload` in SMPP 5.0).
    pub tlvs: Tlvs,
}

impl Body for ReplaceSm {
    fn decode(r: &mut Reader<'_>) -> Result<Self, BodyError> {
        Ok(ReplaceSm {
            message_id: r.c_string("message_id", 65)?,
            source: r.address("source_addr", 21)?,
            schedule_delivery_time: r.c_string("schedule_delivery_time", 17)?,
            validity_period: r.c_string("validity_period", 17)?,
            registered_delivery: RegisteredDelivery(r.u8("registered_delivery")?),
            sm_default_msg_id: r.u8("sm_default_msg_id")?,
            short_message: r.short_message()?,
            tlvs: r.tlvs()?,
        })
    }

    fn encode(&self, out: &mut BytesMut) -> Result<(), EncodeError> {
        let sm_length = u8::try_from(self.short_message.len())
            .map_err(|_| EncodeError::ShortMessageTooLong(self.short_message.len()))?;
        put_c_string(out, &self.message_id);
        put_address(out, &self.source);
        put_c_string(out, &self.schedule_delivery_time);
        put_c_string(out, &self.validity_period);
        out.put_u8(self.registered_delivery.0);
        out.put_u8(self.sm_default_msg_id);
        out.put_u8(sm_length);
        out.put_slice(&self.short_message);
        self.tlvs.encode(out);
        Ok(())
    }

    fn wire_len(&self) -> usize {
        self.message_id.wire_len()
            + address_len(&self.source)
            + self.schedule_delivery_time.wire_len()
            + self.validity_period.wire_len()
            + 3
            + self.short_message.len()
            + self.tlvs.wire_len()
    }
}
