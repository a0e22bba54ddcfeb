//! `alert_notification` (SMPP 5.0 §4.1.3.1): the SMSC tells an ESME that a subscriber it
//! asked about (`set_dpf`) is reachable again. It has no response.

use bytes::BytesMut;

use super::{Body, EncodeError};
use crate::error::BodyError;
use crate::tlv::Tlvs;
use crate::types::Address;
use crate::wire::{Reader, address_len, put_address};

/// The body of `alert_notification`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AlertNotification {
    /// The subscriber now available.
    pub source: Address,
    /// The ESME the alert is for.
    pub esme: Address,
    /// TLVs: `ms_availability_status`.
    pub tlvs: Tlvs,
}

impl Body for AlertNotification {
    fn decode(r: &mut Reader<'_>) -> Result<Self, BodyError> {
        Ok(AlertNotification {
            source: r.address("source_addr", 65)?,
            esme: r.address("esme_addr", 65)?,
            tlvs: r.tlvs()?,
        })
    }

    fn encode(&self, out: &mut BytesMut) -> Result<(), EncodeError> {
        put_address(out, &self.source);
        put_address(out, &self.esme);
        self.tlvs.encode(out);
        Ok(())
    }

    fn wire_len(&self) -> usize {
        address_len(&self.source) + address_len(&self.esme) + self.tlvs.wire_len()
    }
}
