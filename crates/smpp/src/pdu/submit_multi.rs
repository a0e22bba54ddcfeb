//! `submit_multi` and `submit_multi_resp` (SMPP 5.0 §4.2.3): one message to up to 255 SME
//! addresses or distribution lists; the response lists the destinations that failed.

use bytes::{BufMut, Bytes, BytesMut};

use super::{Body, EncodeError};
use crate::CommandStatus;
use crate::error::BodyError;
use crate::tlv::Tlvs;
use crate::types::{Address, COctetString, DataCoding, EsmClass, RegisteredDelivery};
use crate::wire::{Reader, address_len, put_address, put_c_string};

/// One destination of a `submit_multi`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DestAddress {
    /// `dest_flag` 1: an SME address.
    Sme(Address),
    /// `dest_flag` 2: the name of a distribution list held by the SMSC.
    DistributionList(COctetString),
}

/// The body of `submit_multi`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SubmitMulti {
    /// The SMS application service.
    pub service_type: COctetString,
    /// The originator.
    pub source: Address,
    /// The destinations (1–255).
    pub dests: Vec<DestAddress>,
    /// Messaging mode, message type and GSM features.
    pub esm_class: EsmClass,
    /// GSM TP-Protocol-Identifier.
    pub protocol_id: u8,
    /// Priority.
    pub priority_flag: u8,
    /// When to deliver.
    pub schedule_delivery_time: COctetString,
    /// When to give up.
    pub validity_period: COctetString,
    /// Which receipts are wanted.
    pub registered_delivery: RegisteredDelivery,
    /// Replace a pending message (reserved in SMPP 5.0).
    pub replace_if_present_flag: u8,
    /// The coding of `short_message`.
    pub data_coding: DataCoding,
    /// A canned message's id, or 0.
    pub sm_default_msg_id: u8,
    /// Up to 255 octets of user data.
    pub short_message: Bytes,
    /// Optional parameters.
    pub tlvs: Tlvs,
}

impl Body for SubmitMulti {
    fn decode(r: &mut Reader<'_>) -> Result<Self, BodyError> {
        let service_type = r.c_string("service_type", 6)?;
        let source = r.address("source_addr", 21)?;
        let count = r.u8("number_of_dests")?;
        if count == 0 {
            return Err(BodyError::invalid(
                CommandStatus::ESME_RINVNUMDESTS,
                "number_of_dests",
                0,
            ));
        }
        let mut dests = Vec::with_capacity(count as usize);
        for _ in 0..count {
            dests.push(match r.u8("dest_flag")? {
                1 => DestAddress::Sme(r.address("dest_address", 21)?),
                2 => DestAddress::DistributionList(r.c_string("dl_name", 21)?),
                other => {
                    return Err(BodyError::invalid(
                        CommandStatus::ESME_RINVDESTFLAG,
                        "dest_flag",
                        other.into(),
                    ));
                }
            });
        }
        Ok(SubmitMulti {
            service_type,
            source,
            dests,
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
        let count = u8::try_from(self.dests.len()).map_err(|_| EncodeError::TooMany {
            field: "dest_address",
            count: self.dests.len(),
        })?;
        let sm_length = u8::try_from(self.short_message.len())
            .map_err(|_| EncodeError::ShortMessageTooLong(self.short_message.len()))?;
        put_c_string(out, &self.service_type);
        put_address(out, &self.source);
        out.put_u8(count);
        for dest in &self.dests {
            match dest {
                DestAddress::Sme(a) => {
                    out.put_u8(1);
                    put_address(out, a);
                }
                DestAddress::DistributionList(name) => {
                    out.put_u8(2);
                    put_c_string(out, name);
                }
            }
        }
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
        let dests: usize = self
            .dests
            .iter()
            .map(|d| match d {
                DestAddress::Sme(a) => 1 + address_len(a),
                DestAddress::DistributionList(n) => 1 + n.wire_len(),
            })
            .sum();
        self.service_type.wire_len()
            + address_len(&self.source)
            + 1
            + dests
            + 3
            + self.schedule_delivery_time.wire_len()
            + self.validity_period.wire_len()
            + 5
            + self.short_message.len()
            + self.tlvs.wire_len()
    }
}

/// A destination of a `submit_multi` that could not be accepted, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnsuccessSme {
    /// The destination.
    pub dest: Address,
    /// Why it failed.
    pub error_status_code: CommandStatus,
}

/// The body of `submit_multi_resp`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SubmitMultiResp {
    /// The SMSC's id for the message.
    pub message_id: COctetString,
    /// The destinations that failed.
    pub unsuccess: Vec<UnsuccessSme>,
    /// Optional parameters.
    pub tlvs: Tlvs,
}

impl Body for SubmitMultiResp {
    fn decode(r: &mut Reader<'_>) -> Result<Self, BodyError> {
        let message_id = r.c_string("message_id", 65)?;
        // Some SMSCs end the body after message_id when nothing failed.
        let count = if r.remaining() == 0 {
            0
        } else {
            r.u8("no_unsuccess")?
        };
        let mut unsuccess = Vec::with_capacity(count as usize);
        for _ in 0..count {
            unsuccess.push(UnsuccessSme {
                dest: r.address("unsuccess_sme", 21)?,
                error_status_code: CommandStatus::from_u32(r.u32("error_status_code")?),
            });
        }
        Ok(SubmitMultiResp {
            message_id,
            unsuccess,
            tlvs: r.tlvs()?,
        })
    }

    fn encode(&self, out: &mut BytesMut) -> Result<(), EncodeError> {
        let count = u8::try_from(self.unsuccess.len()).map_err(|_| EncodeError::TooMany {
            field: "unsuccess_sme",
            count: self.unsuccess.len(),
        })?;
        put_c_string(out, &self.message_id);
        out.put_u8(count);
        for u in &self.unsuccess {
            put_address(out, &u.dest);
            out.put_u32(u.error_status_code.as_u32());
        }
        self.tlvs.encode(out);
        Ok(())
    }

    fn wire_len(&self) -> usize {
        self.message_id.wire_len()
            + 1
            + self
                .unsuccess
                .iter()
                .map(|u| address_len(&u.dest) + 4)
                .sum::<usize>()
            + self.tlvs.wire_len()
    }
}
