//! The small field types shared by many PDUs: C-octet strings, addresses with TON and NPI,
//! `esm_class`, `registered_delivery`, `data_coding`, and the [`Quirks`] a lenient decode
//! noticed.

use std::fmt;

use bytes::Bytes;

/// A C-octet string field (SMPP 5.0 §3.1): the octets without the terminating NUL,
/// sliced from the read buffer without copying.
///
/// SMPP defines these as ASCII, but real traffic carries Latin-1 alphanumeric senders, so
/// the octets are kept as they came; [`COctetString::to_string_lossy`] reads them as UTF-8
/// when they are, and as Latin-1 otherwise.
#[derive(Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct COctetString(Bytes);

impl COctetString {
    /// The empty (NULL) string.
    pub const fn empty() -> Self {
        Self(Bytes::new())
    }

    /// A string from static text, without copying.
    pub const fn from_static(s: &'static str) -> Self {
        Self(Bytes::from_static(s.as_bytes()))
    }

    /// Wraps octets that must not contain NUL; returns `None` if they do.
    pub fn from_bytes(octets: Bytes) -> Option<Self> {
        (!octets.contains(&0)).then_some(Self(octets))
    }

    /// Wraps octets already known not to contain NUL (the decoder's own slices).
    pub(crate) fn from_slice_unchecked(octets: Bytes) -> Self {
        Self(octets)
    }

    /// The octets, without the NUL.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The octets as a shared `Bytes`.
    pub fn as_shared(&self) -> &Bytes {
        &self.0
    }

    /// Number of octets, without the NUL.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True for the NULL string.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The text: UTF-8 when valid (which includes all ASCII), Latin-1 otherwise.
    pub fn to_string_lossy(&self) -> String {
        self.to_text().into_owned()
    }

    /// The text as [`COctetString::to_string_lossy`] reads it, borrowed when the octets are
    /// UTF-8 (the common case), so hot paths read addresses without allocating.
    pub fn to_text(&self) -> std::borrow::Cow<'_, str> {
        match std::str::from_utf8(&self.0) {
            Ok(s) => std::borrow::Cow::Borrowed(s),
            Err(_) => std::borrow::Cow::Owned(self.0.iter().map(|&b| char::from(b)).collect()),
        }
    }

    /// The text when it is ASCII or UTF-8.
    pub fn as_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.0).ok()
    }

    /// Encoded size: the octets and the NUL.
    pub(crate) fn wire_len(&self) -> usize {
        self.0.len() + 1
    }
}

impl From<&str> for COctetString {
    /// Copies the text; NUL characters are dropped because they would end the field.
    fn from(s: &str) -> Self {
        if s.as_bytes().contains(&0) {
            Self(s.bytes().filter(|&b| b != 0).collect())
        } else {
            Self(Bytes::copy_from_slice(s.as_bytes()))
        }
    }
}

impl From<String> for COctetString {
    fn from(s: String) -> Self {
        if s.as_bytes().contains(&0) {
            Self::from(s.as_str())
        } else {
            Self(Bytes::from(s))
        }
    }
}

impl fmt::Debug for COctetString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.to_string_lossy(), f)
    }
}

impl fmt::Display for COctetString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_string_lossy())
    }
}

impl PartialEq<&str> for COctetString {
    fn eq(&self, other: &&str) -> bool {
        self.0 == other.as_bytes()
    }
}

/// Type of Number (SMPP 5.0 §4.7.1). Values outside the table are kept as they are.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Ton(pub u8);

impl Ton {
    /// Unknown.
    pub const UNKNOWN: Ton = Ton(0);
    /// International (E.164 without prefix).
    pub const INTERNATIONAL: Ton = Ton(1);
    /// National.
    pub const NATIONAL: Ton = Ton(2);
    /// Network specific.
    pub const NETWORK_SPECIFIC: Ton = Ton(3);
    /// Subscriber number.
    pub const SUBSCRIBER_NUMBER: Ton = Ton(4);
    /// Alphanumeric (a sender name such as `MyBank`).
    pub const ALPHANUMERIC: Ton = Ton(5);
    /// Abbreviated (short code).
    pub const ABBREVIATED: Ton = Ton(6);

    /// True for the values SMPP defines (0–6).
    pub const fn is_standard(self) -> bool {
        self.0 <= 6
    }
}

/// Numbering Plan Indicator (SMPP 5.0 §4.7.2). Values outside the table are kept.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Npi(pub u8);

impl Npi {
    /// Unknown.
    pub const UNKNOWN: Npi = Npi(0);
    /// ISDN (E.163/E.164).
    pub const ISDN: Npi = Npi(1);
    /// Data (X.121).
    pub const DATA: Npi = Npi(3);
    /// Telex (F.69).
    pub const TELEX: Npi = Npi(4);
    /// Land mobile (E.212).
    pub const LAND_MOBILE: Npi = Npi(6);
    /// National.
    pub const NATIONAL: Npi = Npi(8);
    /// Private.
    pub const PRIVATE: Npi = Npi(9);
    /// ERMES.
    pub const ERMES: Npi = Npi(10);
    /// Internet (IP).
    pub const INTERNET: Npi = Npi(14);
    /// WAP client id.
    pub const WAP_CLIENT_ID: Npi = Npi(18);

    /// True for the values SMPP defines.
    pub const fn is_standard(self) -> bool {
        matches!(self.0, 0 | 1 | 3 | 4 | 6 | 8 | 9 | 10 | 14 | 18)
    }
}

/// An SME address: TON, NPI and the digits or name.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Address {
    /// Type of number.
    pub ton: Ton,
    /// Numbering plan.
    pub npi: Npi,
    /// The address itself.
    pub addr: COctetString,
}

impl Address {
    /// An address from its parts.
    pub fn new(ton: Ton, npi: Npi, addr: impl Into<COctetString>) -> Self {
        Self {
            ton,
            npi,
            addr: addr.into(),
        }
    }

    /// An international E.164 number (TON 1, NPI 1).
    pub fn international(digits: &str) -> Self {
        Self::new(Ton::INTERNATIONAL, Npi::ISDN, digits)
    }

    /// An alphanumeric sender name (TON 5, NPI 0).
    pub fn alphanumeric(name: &str) -> Self {
        Self::new(Ton::ALPHANUMERIC, Npi::UNKNOWN, name)
    }

    /// A sender as people write it: `+` and digits international (TON 1, NPI 1, the `+`
    /// dropped), digits as written (TON 0, NPI 1: a short code or national number),
    /// anything else a name (TON 5, NPI 0).
    pub fn sender(text: &str) -> Self {
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        match text.strip_prefix('+') {
            Some(rest) if digits(rest) => Self::international(rest),
            _ if digits(text) => Self::new(Ton::UNKNOWN, Npi::ISDN, text),
            _ => Self::alphanumeric(text),
        }
    }
}

/// The `esm_class` octet (SMPP 5.0 §4.7.12): messaging mode, message type, GSM features.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct EsmClass(pub u8);

impl EsmClass {
    /// Bits 5–2 value of an SMSC delivery receipt.
    pub const DELIVERY_RECEIPT: u8 = 0x04;
    /// Bits 5–2 value of an SME delivery acknowledgement.
    pub const DELIVERY_ACK: u8 = 0x08;
    /// Bits 5–2 value of an SME user acknowledgement.
    pub const USER_ACK: u8 = 0x10;
    /// Bits 5–2 value of a conversation abort (Korean CDMA).
    pub const CONVERSATION_ABORT: u8 = 0x18;
    /// Bits 5–2 value of an intermediate delivery notification.
    pub const INTERMEDIATE_NOTIFICATION: u8 = 0x20;
    /// Bit 6: the short message starts with a User Data Header.
    pub const UDHI: u8 = 0x40;
    /// Bit 7: reply path.
    pub const REPLY_PATH: u8 = 0x80;

    /// Messaging mode (bits 1–0): 0 default, 1 datagram, 2 forward (transaction), 3 store and forward.
    pub const fn messaging_mode(self) -> u8 {
        self.0 & 0x03
    }

    /// Message type (bits 5–2), as the masked value (`0x04` for a receipt).
    pub const fn message_type(self) -> u8 {
        self.0 & 0x3C
    }

    /// True when the short message starts with a User Data Header.
    pub const fn udhi(self) -> bool {
        self.0 & Self::UDHI != 0
    }

    /// True for an SMSC delivery receipt or an intermediate notification.
    pub const fn is_receipt(self) -> bool {
        matches!(
            self.message_type(),
            Self::DELIVERY_RECEIPT | Self::INTERMEDIATE_NOTIFICATION
        )
    }

    /// The same class with the UDHI bit set or cleared.
    pub const fn with_udhi(self, on: bool) -> Self {
        if on {
            Self(self.0 | Self::UDHI)
        } else {
            Self(self.0 & !Self::UDHI)
        }
    }
}

/// What an SMSC receipt is asked for (bits 1–0 of `registered_delivery`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReceiptRequest {
    /// No receipt.
    None,
    /// A receipt on final success or failure.
    SuccessAndFailure,
    /// A receipt on failure only.
    FailureOnly,
    /// A receipt on success only (SMPP 5.0).
    SuccessOnly,
}

/// The `registered_delivery` octet (SMPP 5.0 §4.7.21).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct RegisteredDelivery(pub u8);

impl RegisteredDelivery {
    /// Which SMSC receipt is requested.
    pub const fn receipt(self) -> ReceiptRequest {
        match self.0 & 0x03 {
            0 => ReceiptRequest::None,
            1 => ReceiptRequest::SuccessAndFailure,
            2 => ReceiptRequest::FailureOnly,
            _ => ReceiptRequest::SuccessOnly,
        }
    }

    /// SME originated acknowledgement bits (3–2).
    pub const fn sme_ack(self) -> u8 {
        (self.0 >> 2) & 0x03
    }

    /// True when intermediate notifications are requested (bit 4).
    pub const fn intermediate(self) -> bool {
        self.0 & 0x10 != 0
    }

    /// True when bits 7–5, reserved, are clear.
    pub const fn is_valid(self) -> bool {
        self.0 & 0xE0 == 0
    }

    /// Whether a receipt in a final state should be sent: `success` tells the outcome.
    pub const fn wants_final_receipt(self, success: bool) -> bool {
        match self.receipt() {
            ReceiptRequest::None => false,
            ReceiptRequest::SuccessAndFailure => true,
            ReceiptRequest::FailureOnly => !success,
            ReceiptRequest::SuccessOnly => success,
        }
    }
}

/// The `data_coding` octet (SMPP 5.0 §4.7.7): the alphabet and message class of the text.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct DataCoding(pub u8);

bitflags::bitflags! {
    /// What a lenient decode noticed and let through: real traffic is sloppy, and a router
    /// must pass such PDUs on rather than reject them. Strict checks belong to the caller.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
    pub struct Quirks: u16 {
        /// A C-octet string was longer than the specification allows (e.g. a 21-character
        /// `source_addr`).
        const OVERLONG_FIELD = 1 << 0;
        /// A known TLV had a length other than its specification's.
        const TLV_UNEXPECTED_LENGTH = 1 << 1;
        /// Octets after the last TLV that do not form a TLV (kept in [`crate::Tlvs::trailing`]).
        const TRAILING_OCTETS = 1 << 2;
        /// A C-octet string carried octets outside ASCII (e.g. a Latin-1 sender name).
        const NON_ASCII_FIELD = 1 << 3;
        /// A TLV appeared more than once.
        const DUPLICATE_TLV = 1 << 4;
    }
}
