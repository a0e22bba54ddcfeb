//! Field-level readers and writers shared by every PDU body.
//!
//! The reader slices C-octet strings, `short_message` and TLV values out of the frame's
//! `Bytes` without copying, notes what it let through in [`Quirks`], and turns running out
//! of octets into the status a response should carry.

use bytes::{BufMut, Bytes, BytesMut};

use crate::CommandStatus;
use crate::error::{BodyError, BodyErrorKind};
use crate::tlv::{Tag, Tlv, Tlvs};
use crate::types::{Address, COctetString, Npi, Quirks, Ton};

/// Reads the fields of one PDU body, front to back.
pub(crate) struct Reader<'a> {
    frame: &'a Bytes,
    pos: usize,
    pub(crate) quirks: Quirks,
}

impl<'a> Reader<'a> {
    /// A reader over `frame` starting at `pos` (just after the header).
    #[inline]
    pub(crate) fn new(frame: &'a Bytes, pos: usize) -> Self {
        Self {
            frame,
            pos,
            quirks: Quirks::empty(),
        }
    }

    #[inline]
    pub(crate) fn remaining(&self) -> usize {
        self.frame.len() - self.pos
    }

    #[inline]
    pub(crate) fn u8(&mut self, field: &'static str) -> Result<u8, BodyError> {
        let b = *self
            .frame
            .get(self.pos)
            .ok_or_else(|| BodyError::truncated(field))?;
        self.pos += 1;
        Ok(b)
    }

    #[inline]
    pub(crate) fn u32(&mut self, field: &'static str) -> Result<u32, BodyError> {
        let b = self
            .frame
            .get(self.pos..self.pos + 4)
            .ok_or_else(|| BodyError::truncated(field))?;
        self.pos += 4;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A C-octet string whose specified size, NUL included, is `max`. Longer ones are let
    /// through and flagged; a missing NUL is a truncated body.
    #[inline]
    pub(crate) fn c_string(
        &mut self,
        field: &'static str,
        max: usize,
    ) -> Result<COctetString, BodyError> {
        // One pass for the NUL and the ASCII check: these fields are short.
        let mut ascii = true;
        let mut nul = None;
        for (i, &b) in self.frame[self.pos..].iter().enumerate() {
            if b == 0 {
                nul = Some(i);
                break;
            }
            ascii &= b.is_ascii();
        }
        let len = nul.ok_or_else(|| BodyError::truncated(field))?;
        if len >= max {
            self.quirks |= Quirks::OVERLONG_FIELD;
        }
        if !ascii {
            self.quirks |= Quirks::NON_ASCII_FIELD;
        }
        let s = COctetString::from_slice_unchecked(self.frame.slice(self.pos..self.pos + len));
        self.pos += len + 1;
        Ok(s)
    }

    /// TON, NPI and a C-octet string address.
    #[inline]
    pub(crate) fn address(
        &mut self,
        field: &'static str,
        max: usize,
    ) -> Result<Address, BodyError> {
        let ton = Ton(self.u8(field)?);
        let npi = Npi(self.u8(field)?);
        let addr = self.c_string(field, max)?;
        Ok(Address { ton, npi, addr })
    }

    /// `sm_length` and the `short_message` it announces.
    #[inline]
    pub(crate) fn short_message(&mut self) -> Result<Bytes, BodyError> {
        let declared = self.u8("sm_length")?;
        let available = self.remaining();
        if declared as usize > available {
            return Err(BodyError {
                status: CommandStatus::ESME_RINVMSGLEN,
                kind: BodyErrorKind::ShortMessageOverrun {
                    declared,
                    available,
                },
            });
        }
        let sm = self.frame.slice(self.pos..self.pos + declared as usize);
        self.pos += declared as usize;
        Ok(sm)
    }

    /// The TLVs up to the end of the PDU. A TLV running past the end is an error; one to
    /// three octets left over are kept as trailing octets and flagged.
    pub(crate) fn tlvs(&mut self) -> Result<Tlvs, BodyError> {
        if self.remaining() == 0 {
            return Ok(Tlvs::new());
        }
        let mut tlvs = Tlvs::with_capacity(count_tlvs(&self.frame[self.pos..]));
        while self.remaining() >= 4 {
            let h = &self.frame[self.pos..self.pos + 4];
            let tag = Tag(u16::from_be_bytes([h[0], h[1]]));
            let length = u16::from_be_bytes([h[2], h[3]]);
            let available = self.remaining() - 4;
            if length as usize > available {
                return Err(BodyError {
                    status: CommandStatus::ESME_RINVTLVSTREAM,
                    kind: BodyErrorKind::TlvOverrun {
                        tag: tag.0,
                        length,
                        available,
                    },
                });
            }
            let start = self.pos + 4;
            let value = match length {
                1 => one_octet(self.frame[start]),
                _ => self.frame.slice(start..start + length as usize),
            };
            let tlv = Tlv { tag, value };
            if !tlv.has_expected_length() {
                self.quirks |= Quirks::TLV_UNEXPECTED_LENGTH;
            }
            tlvs.push(tlv);
            self.pos = start + length as usize;
        }
        if has_duplicate_tag(&tlvs) {
            self.quirks |= Quirks::DUPLICATE_TLV;
        }
        self.trailing_into(&mut tlvs);
        Ok(tlvs)
    }

    /// For bodies with no TLVs: whatever is left is flagged and kept, not an error.
    pub(crate) fn rest_as_trailing(&mut self) -> Tlvs {
        let mut tlvs = Tlvs::new();
        self.trailing_into(&mut tlvs);
        tlvs
    }

    fn trailing_into(&mut self, tlvs: &mut Tlvs) {
        if self.remaining() > 0 {
            self.quirks |= Quirks::TRAILING_OCTETS;
            tlvs.trailing = self.frame.slice(self.pos..);
            self.pos = self.frame.len();
        }
    }
}

/// Every one-octet value, in order.
static OCTETS: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        table[i] = i as u8;
        i += 1;
    }
    table
};

/// A one-octet value as a static slice. Slicing the read buffer costs an atomic reference
/// count increment and, on drop, a decrement; one-octet TLVs (SAR counters, states,
/// flags) are common enough that skipping both is worth a tenth of the decode time.
fn one_octet(b: u8) -> Bytes {
    let i = usize::from(b);
    Bytes::from_static(&OCTETS[i..=i])
}

/// How many TLV headers `octets` holds, so that their list is allocated once.
fn count_tlvs(mut octets: &[u8]) -> usize {
    let mut n = 0;
    while let [_, _, hi, lo, rest @ ..] = octets {
        n += 1;
        octets = rest
            .get(usize::from(u16::from_be_bytes([*hi, *lo]))..)
            .unwrap_or(&[]);
    }
    n
}

/// True when two TLVs share a tag. A frame can hold some 17,000 empty TLVs, so the pairwise
/// check that suits the usual handful would let one hostile PDU take tens of milliseconds.
fn has_duplicate_tag(tlvs: &Tlvs) -> bool {
    const PAIRWISE_MAX: usize = 16;
    if tlvs.len() <= PAIRWISE_MAX {
        let mut seen = [0u16; PAIRWISE_MAX];
        for (i, tlv) in tlvs.iter().enumerate() {
            if seen[..i].contains(&tlv.tag.0) {
                return true;
            }
            seen[i] = tlv.tag.0;
        }
        false
    } else {
        let mut tags: Vec<u16> = tlvs.iter().map(|t| t.tag.0).collect();
        tags.sort_unstable();
        tags.windows(2).any(|w| w[0] == w[1])
    }
}

/// Checks that a TLV an operation requires is present with an allowed length.
pub(crate) fn require_tlv(tlvs: &Tlvs, tag: Tag) -> Result<(), BodyError> {
    let tlv = tlvs.get(tag).ok_or(BodyError {
        status: CommandStatus::ESME_RMISSINGTLV,
        kind: BodyErrorKind::MissingTlv(tag),
    })?;
    if tlv.has_expected_length() {
        Ok(())
    } else {
        Err(BodyError {
            status: CommandStatus::ESME_RINVTLVLEN,
            kind: BodyErrorKind::TlvLength {
                tag,
                length: tlv.value.len(),
            },
        })
    }
}

pub(crate) fn put_c_string(out: &mut BytesMut, s: &COctetString) {
    out.put_slice(s.as_bytes());
    out.put_u8(0);
}

pub(crate) fn put_address(out: &mut BytesMut, a: &Address) {
    out.put_u8(a.ton.0);
    out.put_u8(a.npi.0);
    put_c_string(out, &a.addr);
}

pub(crate) fn address_len(a: &Address) -> usize {
    2 + a.addr.wire_len()
}
