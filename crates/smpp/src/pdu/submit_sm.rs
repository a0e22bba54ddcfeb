//! `submit_sm` and `deliver_sm` (same layout, SMPP 5.0 §4.2.1 and §4.3.1), and the
//! response body shared by `submit_sm_resp`, `deliver_sm_resp` and `data_sm_resp`.

use bytes::{BufMut, Bytes, BytesMut};

use super::{Body, EncodeError};
use crate::error::BodyError;
use crate::tlv::Tlvs;
use crate::types::{Address, COctetString, DataCoding, EsmClass, RegisteredDelivery};
use crate::wire::{Reader, address_len, put_address, put_c_string};

/// The body of `submit_sm` (ESME → SMSC) and of `deliver_sm` (SMSC → ESME).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SubmitSm {
    /// The SMS application service (e.g. `CMT`, `WAP`); usually empty.
    pub service_type: COctetString,
    /// The originator.
    pub source: Address,
    /// The recipient.
    pub dest: Address,
    /// Messaging mode, message type (receipt or not) and the UDHI flag.
    pub esm_class: EsmClass,
    /// GSM TP-Protocol-Identifier.
    pub protocol_id: u8,
    /// Priority 0–3 (or 0–4 for some networks).
    pub priority_flag: u8,
    /// When to deliver (`YYMMDDhhmmsstnnp`), empty for now.
    pub schedule_delivery_time: COctetString,
    /// When to give up (`YYMMDDhhmmsstnnp`), empty for the SMSC's default.
    pub validity_period: COctetString,
    /// Which receipts are wanted.
    pub registered_delivery: RegisteredDelivery,
    /// Replace a pending message with the same source, destination and service type.
    pub replace_if_present_flag: u8,
    /// The coding of `short_message`.
    pub data_coding: DataCoding,
    /// A canned message's id, or 0.
    pub sm_default_msg_id: u8,
    /// Up to 255 octets of user data (a UDH first when `esm_class` says so); empty when the
    /// text is in `message_payload`.
    pub short_message: Bytes,
    /// Optional parameters.
    pub tlvs: Tlvs,
}

/// `deliver_sm` has the same fields as `submit_sm`.
pub type DeliverSm = SubmitSm;

impl SubmitSm {
    /// The user data: `short_message`, or `message_payload` when that is present.
    pub fn user_data(&self) -> &Bytes {
        match self.tlvs.message_payload() {
            Some(payload) if self.short_message.is_empty() => payload,
            _ => &self.short_message,
        }
    }
}

impl Body for SubmitSm {
    fn decode(r: &mut Reader<'_>) -> Result<Self, BodyError> {
        Ok(SubmitSm {
            service_type: r.c_string("service_type", 6)?,
            source: r.address("source_addr", 21)?,
            dest: r.address("destination_addr", 21)?,
            esm_class: EsmClass(r.u8("esm_class")?),
            protocol_id: r.u8("protocol_id")?,
            priority_flag: r.u8("priority_flag")?,
            schedule_delivery_time: r.c_string("schedule_delivery_time", 17)?,
            validity_period: r.c_string("validity_period", 17)?,
            registered_delivery: RegisteredDelivery(r.u8("registered_delivery")?),
            replace_if_present_flag: r.u8("replace_if_present_flag")?,
            data_coding: DataCoding(r.u8("data_coding")?),
            sm_default_msg_id: r.u8("sm_default_msg_id")?,
            short_message: r.short_message()?,
            tlvs: r.tlvs()?,
        })
    }

    fn encode(&self, out: &mut BytesMut) -> Result<(), EncodeError> {
        let sm_length = u8::try_from(self.short_message.len())
            .map_err(|_| EncodeError::ShortMessageTooLong(self.short_message.len()))?;
        put_c_string(out, &self.service_type);
        put_address(out, &self.source);
        put_address(out, &self.dest);
        out.put_u8(self.esm_class.0);
        out.put_u8(self.protocol_id);
        out.put_u8(self.priority_flag);
        put_c_string(out, &self.schedule_delivery_time);
        put_c_string(out, &self.validity_period);
        out.put_u8(self.registered_delivery.0);
        out.put_u8(self.replace_if_present_flag);
        out.put_u8(self.data_coding.0);
        out.put_u8(self.sm_default_msg_id);
        out.put_u8(sm_length);
        out.put_slice(&self.short_message);
        self.tlvs.encode(out);
        Ok(())
    }

    fn wire_len(&self) -> usize {
        self.service_type.wire_len()
            + address_len(&self.source)
            + address_len(&self.dest)
            + 3
            + self.schedule_delivery_time.wire_len()
            + self.validity_period.wire_len()
            + 5
            + self.short_message.len()
            + self.tlvs.wire_len()
    }
}

/// The body of `submit_sm_resp`, `deliver_sm_resp` and `data_sm_resp`: a message id and,
/// in SMPP 5.0, optional TLVs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MessageIdResp {
    /// The SMSC's id for the message (empty in `deliver_sm_resp`).
    pub message_id: COctetString,
    /// Optional parameters (`additional_status_info_text`, `network_error_code`, …).
    pub tlvs: Tlvs,
}

impl MessageIdResp {
    /// A response carrying `message_id`.
    pub fn new(message_id: impl Into<COctetString>) -> Self {
        Self {
            message_id: message_id.into(),
            tlvs: Tlvs::new(),
        }
    }
}

impl Body for MessageIdResp {
    fn decode(r: &mut Reader<'_>) -> Result<Self, BodyError> {
        Ok(MessageIdResp {
            message_id: r.c_string("message_id", 65)?,
            tlvs: r.tlvs()?,
        })
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
