//! `bind_transmitter`, `bind_receiver`, `bind_transceiver`, their responses, and `outbind`
//! (SMPP 5.0 §4.1).

use bytes::{BufMut, BytesMut};

use super::{Body, EncodeError};
use crate::error::BodyError;
use crate::tlv::{Tag, Tlv, Tlvs};
use crate::types::{COctetString, Npi, Ton};
use crate::wire::{Reader, put_c_string};

/// SMPP interface version 3.4, as carried in `interface_version`.
pub const INTERFACE_VERSION_34: u8 = 0x34;
/// SMPP interface version 5.0.
pub const INTERFACE_VERSION_50: u8 = 0x50;

/// The body of the three bind requests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bind {
    /// Identifies the ESME (at most 15 characters).
    pub system_id: COctetString,
    /// Its password (at most 8 characters).
    pub password: COctetString,
    /// The type of ESME (at most 12 characters).
    pub system_type: COctetString,
    /// The SMPP version the ESME speaks: 0x34 or 0x50 (0x33 and below for older ones).
    pub interface_version: u8,
    /// TON of the addresses served (receivers).
    pub addr_ton: Ton,
    /// NPI of the addresses served.
    pub addr_npi: Npi,
    /// A regular expression of the addresses served (at most 40 characters).
    pub address_range: COctetString,
}

impl Default for Bind {
    fn default() -> Self {
        Self {
            system_id: COctetString::empty(),
            password: COctetString::empty(),
            system_type: COctetString::empty(),
            interface_version: INTERFACE_VERSION_34,
            addr_ton: Ton::UNKNOWN,
            addr_npi: Npi::UNKNOWN,
            address_range: COctetString::empty(),
        }
    }
}

impl Body for Bind {
    fn decode(r: &mut Reader<'_>) -> Result<Self, BodyError> {
        let bind = Bind {
            system_id: r.c_string("system_id", 16)?,
            password: r.c_string("password", 9)?,
            system_type: r.c_string("system_type", 13)?,
            interface_version: r.u8("interface_version")?,
            addr_ton: Ton(r.u8("addr_ton")?),
            addr_npi: Npi(r.u8("addr_npi")?),
            address_range: r.c_string("address_range", 41)?,
        };
        r.rest_as_trailing();
        Ok(bind)
    }

    fn encode(&self, out: &mut BytesMut) -> Result<(), EncodeError> {
        put_c_string(out, &self.system_id);
        put_c_string(out, &self.password);
        put_c_string(out, &self.system_type);
        out.put_u8(self.interface_version);
        out.put_u8(self.addr_ton.0);
        out.put_u8(self.addr_npi.0);
        put_c_string(out, &self.address_range);
        Ok(())
    }

    fn wire_len(&self) -> usize {
        self.system_id.wire_len()
            + self.password.wire_len()
            + self.system_type.wire_len()
            + 3
            + self.address_range.wire_len()
    }
}

/// The body of the three bind responses.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BindResp {
    /// Identifies the SMSC.
    pub system_id: COctetString,
    /// TLVs: `sc_interface_version` tells the SMSC's SMPP version.
    pub tlvs: Tlvs,
}

impl BindResp {
    /// A response naming the SMSC and its interface version.
    pub fn new(system_id: impl Into<COctetString>, sc_interface_version: u8) -> Self {
        let mut tlvs = Tlvs::new();
        tlvs.push(Tlv::u8(Tag::SC_INTERFACE_VERSION, sc_interface_version));
        Self {
            system_id: system_id.into(),
            tlvs,
        }
    }

    /// The SMSC's SMPP version, when it said.
    pub fn sc_interface_version(&self) -> Option<u8> {
        self.tlvs.get_u8(Tag::SC_INTERFACE_VERSION)
    }
}

impl Body for BindResp {
    fn decode(r: &mut Reader<'_>) -> Result<Self, BodyError> {
        Ok(BindResp {
            system_id: r.c_string("system_id", 16)?,
            tlvs: r.tlvs()?,
        })
    }

    fn encode(&self, out: &mut BytesMut) -> Result<(), EncodeError> {
        put_c_string(out, &self.system_id);
        self.tlvs.encode(out);
        Ok(())
    }

    fn wire_len(&self) -> usize {
        self.system_id.wire_len() + self.tlvs.wire_len()
    }
}

/// `outbind`: an SMSC that has messages for an ESME asks it to bind (no response PDU).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outbind {
    /// Identifies the SMSC.
    pub system_id: COctetString,
    /// The password the ESME checks.
    pub password: COctetString,
}

impl Body for Outbind {
    fn decode(r: &mut Reader<'_>) -> Result<Self, BodyError> {
        let ob = Outbind {
            system_id: r.c_string("system_id", 16)?,
            password: r.c_string("password", 9)?,
        };
        r.rest_as_trailing();
        Ok(ob)
    }

    fn encode(&self, out: &mut BytesMut) -> Result<(), EncodeError> {
        put_c_string(out, &self.system_id);
        put_c_string(out, &self.password);
        Ok(())
    }

    fn wire_len(&self) -> usize {
        self.system_id.wire_len() + self.password.wire_len()
    }
}
