//! Stage one of decoding: cutting a byte stream into whole PDUs.
//!
//! The framer reads `command_length`, checks `16 ≤ command_length ≤ max`, and waits until
//! that many octets have arrived. It returns each PDU as a `Bytes` split off the read
//! buffer without copying; stage two ([`crate::Pdu::decode`]) decodes the body from that
//! exact slice. A framing error cannot be recovered from (the stream has lost its
//! boundaries), so a session closes the connection on one.

use bytes::{Bytes, BytesMut};

use crate::header::HEADER_LEN;

/// The default largest PDU accepted: generous for a 64 KiB `message_payload` plus
/// mandatory fields, small enough that a hostile length cannot make us buffer much.
pub const DEFAULT_MAX_PDU_LEN: u32 = 70_000;

/// A PDU stream that lost its framing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// `command_length` is below the 16-octet header.
    #[error("command_length {0} is shorter than the 16-octet header")]
    TooShort(u32),
    /// `command_length` is above the configured maximum.
    #[error("command_length {length} exceeds the maximum of {max}")]
    TooLong {
        /// The declared length.
        length: u32,
        /// The configured maximum.
        max: u32,
    },
}

/// Splits whole PDUs off a read buffer.
#[derive(Debug, Clone, Copy)]
pub struct Framer {
    max_len: u32,
}

impl Default for Framer {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_PDU_LEN)
    }
}

impl Framer {
    /// A framer accepting PDUs up to `max_len` octets (header included).
    pub const fn new(max_len: u32) -> Self {
        Self { max_len }
    }

    /// The largest PDU this framer accepts.
    pub const fn max_len(&self) -> u32 {
        self.max_len
    }

    /// Splits one whole PDU off the front of `buf`, or returns `Ok(None)` when more octets
    /// are needed. On `Ok(None)` the buffer has been reserved for the rest of the PDU.
    pub fn next_frame(&self, buf: &mut BytesMut) -> Result<Option<Bytes>, FrameError> {
        let Some(len_octets) = buf.get(..4) else {
            return Ok(None);
        };
        let length =
            u32::from_be_bytes([len_octets[0], len_octets[1], len_octets[2], len_octets[3]]);
        if (length as usize) < HEADER_LEN {
            return Err(FrameError::TooShort(length));
        }
        if length > self.max_len {
            return Err(FrameError::TooLong {
                length,
                max: self.max_len,
            });
        }
        let length = length as usize;
        if buf.len() < length {
            buf.reserve(length - buf.len());
            return Ok(None);
        }
        Ok(Some(buf.split_to(length).freeze()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enquire_link(seq: u8) -> [u8; 16] {
        [0, 0, 0, 16, 0, 0, 0, 0x15, 0, 0, 0, 0, 0, 0, 0, seq]
    }

    #[test]
    fn waits_for_whole_pdus_and_splits_them() {
        let framer = Framer::default();
        let mut buf = BytesMut::new();
        assert_eq!(framer.next_frame(&mut buf), Ok(None));
        buf.extend_from_slice(&enquire_link(1)[..10]);
        assert_eq!(framer.next_frame(&mut buf), Ok(None));
        buf.extend_from_slice(&enquire_link(1)[10..]);
        buf.extend_from_slice(&enquire_link(2));
        let first = framer.next_frame(&mut buf).unwrap().unwrap();
        assert_eq!(&first[..], &enquire_link(1));
        let second = framer.next_frame(&mut buf).unwrap().unwrap();
        assert_eq!(second[15], 2);
        assert!(buf.is_empty());
    }

    #[test]
    fn rejects_lengths_outside_bounds() {
        let framer = Framer::new(100);
        let mut buf = BytesMut::from(&[0u8, 0, 0, 15][..]);
        assert_eq!(framer.next_frame(&mut buf), Err(FrameError::TooShort(15)));
        let mut buf = BytesMut::from(&[0u8, 0, 0, 101][..]);
        assert_eq!(
            framer.next_frame(&mut buf),
            Err(FrameError::TooLong {
                length: 101,
                max: 100
            })
        );
        let mut buf = BytesMut::from(&[0xFFu8, 0xFF, 0xFF, 0xFF][..]);
        assert!(framer.next_frame(&mut buf).is_err());
    }
}
