//! `data_sm` (SMPP 5.0 §4.2.2): a message whose user data travels in `message_payload`,
//! used for WAP, interactive services and by some carriers for receipts.

use bytes::{BufMut, BytesMut};

use super::{Body, EncodeError};
use crate::error::BodyError;
use crate::tlv::Tlvs;
use crate::types::{Address, COctetString, DataCoding, EsmClass, RegisteredDelivery};
use crate::wire::{Reader, address_len, put_address, put_c_string};

/// The body of `data_sm`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DataSm {
    /// The SMS application service.
    pub service_type: COctetString,
    /// The originator (up to 64 characters).
    pub source: Address,
    /// The recipient (up to 64 characters).
    pub dest: Address,
    /// Messaging mode, message type and GSM features.
    pub esm_class: EsmClass,
    /// Which receipts are wanted.
    pub registered_delivery: RegisteredDelivery,
    /// The coding of `message_payload`.
    pub data_coding: DataCoding,
    /// Optional parameters, `message_payload` among them.
    pub tlvs: Tlvs,
}

impl Body for DataSm {
    fn decode(r: &mut Reader<'_>) -> Result<Self, BodyError> {
        Ok(DataSm {
            service_type: r.c_string("service_type", 6)?,
            source: r.address("source_addr", 65)?,
            dest: r.address("destination_addr", 65)?,
            esm_class: EsmClass(r.u8("esm_class")?),
            registered_delivery: RegisteredDelivery(r.u8("registered_delivery")?),
            data_coding: DataCoding(r.u8("data_coding")?),
            tlvs: r.tlvs()?,
        })
    }

    fn encode(&self, out: &mut BytesMut) -> Result<(), EncodeError> {
        put_c_string(out, &self.service_type);
        put_address(out, &self.source);
        put_address(out, &self.dest);
        out.put_u8(self.esm_class.0);
        out.put_u8(self.registered_delivery.0);
        out.put_u8(self.data_coding.0);
        self.tlvs.encode(out);
        Ok(())
    }

    fn wire_len(&self) -> usize {
        self.service_type.wire_len()
            + address_len(&self.source)
            + address_len(&self.dest)
            + 3
            + self.tlvs.wire_len()
    }
}
