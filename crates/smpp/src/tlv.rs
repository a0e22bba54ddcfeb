//! Tagged Length Value parameters (SMPP 5.0 §4.8; SMPP 3.4 §5.3).
//!
//! Every TLV of a PDU is kept, in order, as its tag and a `Bytes` slice of the read buffer
//! (one-octet values point into a static table instead, which saves the reference count),
//! so unknown and vendor-specific TLVs (0x1400–0x3FFF) are re-emitted byte-exact. Each
//! standard tag has a [`TagSpec`] giving its name and value format; [`Tlv::typed`] reads a
//! value by it, and [`Tlvs`] has getters for the ones Herald uses.

use std::fmt;

use bytes::{BufMut, Bytes, BytesMut};

/// The shape of a TLV's value, from the specification's tables.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueFormat {
    /// No value at all (length 0).
    Empty,
    /// One-octet integer.
    U8,
    /// Two-octet big-endian integer.
    U16,
    /// Four-octet big-endian integer.
    U32,
    /// Either empty or one octet (`alert_on_message_delivery`).
    EmptyOrU8,
    /// A C-octet string of at most `max` octets including the NUL.
    COctet {
        /// The largest length, NUL included.
        max: u16,
    },
    /// Octets, `min..=max` of them.
    Octets {
        /// Fewest octets.
        min: u16,
        /// Most octets.
        max: u16,
    },
}

impl ValueFormat {
    /// True when `len` is a length this format allows.
    #[inline]
    pub const fn allows(self, len: usize) -> bool {
        match self {
            Self::Empty => len == 0,
            Self::U8 => len == 1,
            Self::U16 => len == 2,
            Self::U32 => len == 4,
            Self::EmptyOrU8 => len <= 1,
            Self::COctet { max } => len >= 1 && len <= max as usize,
            Self::Octets { min, max } => len >= min as usize && len <= max as usize,
        }
    }
}

/// What the specification says about a standard tag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TagSpec {
    /// The specification's name, such as `message_payload`.
    pub name: &'static str,
    /// The value's format.
    pub format: ValueFormat,
}

/// A TLV tag. Standard tags are associated constants; any other value is kept as is.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Tag(pub u16);

macro_rules! tags {
    ($( $(#[$doc:meta])* $name:ident = $value:literal, $wire:literal, $format:expr; )*) => {
        impl Tag {
            $( $(#[$doc])* pub const $name: Tag = Tag($value); )*

            /// The specification's entry for this tag, or `None` for an unknown or vendor tag.
            #[inline]
            pub const fn spec(self) -> Option<TagSpec> {
                use ValueFormat::*;
                match self.0 {
                    $( $value => Some(TagSpec { name: $wire, format: $format }), )*
                    _ => None,
                }
            }

            /// The value format alone: small enough to come back in registers, for the
            /// decoder's length check on every TLV.
            #[inline]
            pub const fn format(self) -> Option<ValueFormat> {
                use ValueFormat::*;
                match self.0 {
                    $( $value => Some($format), )*
                    _ => None,
                }
            }

            /// Every standard tag of SMPP 3.4 and 5.0.
            pub const ALL: &'static [Tag] = &[ $( Tag::$name, )* ];
        }
    };
}

tags! {
    /// `dest_addr_subunit`.
    DEST_ADDR_SUBUNIT = 0x0005, "dest_addr_subunit", U8;
    /// `dest_network_type`.
    DEST_NETWORK_TYPE = 0x0006, "dest_network_type", U8;
    /// `dest_bearer_type`.
    DEST_BEARER_TYPE = 0x0007, "dest_bearer_type", U8;
    /// `dest_telematics_id`.
    DEST_TELEMATICS_ID = 0x0008, "dest_telematics_id", U16;
    /// `source_addr_subunit`.
    SOURCE_ADDR_SUBUNIT = 0x000D, "source_addr_subunit", U8;
    /// `source_network_type`.
    SOURCE_NETWORK_TYPE = 0x000E, "source_network_type", U8;
    /// `source_bearer_type`.
    SOURCE_BEARER_TYPE = 0x000F, "source_bearer_type", U8;
    /// `source_telematics_id`.
    SOURCE_TELEMATICS_ID = 0x0010, "source_telematics_id", U8;
    /// `qos_time_to_live`.
    QOS_TIME_TO_LIVE = 0x0017, "qos_time_to_live", U32;
    /// `payload_type`.
    PAYLOAD_TYPE = 0x0019, "payload_type", U8;
    /// `additional_status_info_text`.
    ADDITIONAL_STATUS_INFO_TEXT = 0x001D, "additional_status_info_text", COctet { max: 256 };
    /// `receipted_message_id`.
    RECEIPTED_MESSAGE_ID = 0x001E, "receipted_message_id", COctet { max: 65 };
    /// `ms_msg_wait_facilities`.
    MS_MSG_WAIT_FACILITIES = 0x0030, "ms_msg_wait_facilities", U8;
    /// `privacy_indicator`.
    PRIVACY_INDICATOR = 0x0201, "privacy_indicator", U8;
    /// `source_subaddress`.
    SOURCE_SUBADDRESS = 0x0202, "source_subaddress", Octets { min: 2, max: 23 };
    /// `dest_subaddress`.
    DEST_SUBADDRESS = 0x0203, "dest_subaddress", Octets { min: 2, max: 23 };
    /// `user_message_reference`.
    USER_MESSAGE_REFERENCE = 0x0204, "user_message_reference", U16;
    /// `user_response_code`.
    USER_RESPONSE_CODE = 0x0205, "user_response_code", U8;
    /// `source_port`.
    SOURCE_PORT = 0x020A, "source_port", U16;
    /// `destination_port`.
    DESTINATION_PORT = 0x020B, "destination_port", U16;
    /// `sar_msg_ref_num`.
    SAR_MSG_REF_NUM = 0x020C, "sar_msg_ref_num", U16;
    /// `language_indicator`.
    LANGUAGE_INDICATOR = 0x020D, "language_indicator", U8;
    /// `sar_total_segments`.
    SAR_TOTAL_SEGMENTS = 0x020E, "sar_total_segments", U8;
    /// `sar_segment_seqnum`.
    SAR_SEGMENT_SEQNUM = 0x020F, "sar_segment_seqnum", U8;
    /// `sc_interface_version`.
    SC_INTERFACE_VERSION = 0x0210, "sc_interface_version", U8;
    /// `callback_num_pres_ind`.
    CALLBACK_NUM_PRES_IND = 0x0302, "callback_num_pres_ind", U8;
    /// `callback_num_atag`.
    CALLBACK_NUM_ATAG = 0x0303, "callback_num_atag", Octets { min: 0, max: 65 };
    /// `number_of_messages`.
    NUMBER_OF_MESSAGES = 0x0304, "number_of_messages", U8;
    /// `callback_num`.
    CALLBACK_NUM = 0x0381, "callback_num", Octets { min: 4, max: 19 };
    /// `dpf_result`.
    DPF_RESULT = 0x0420, "dpf_result", U8;
    /// `set_dpf`.
    SET_DPF = 0x0421, "set_dpf", U8;
    /// `ms_availability_status`.
    MS_AVAILABILITY_STATUS = 0x0422, "ms_availability_status", U8;
    /// `network_error_code`: network type, then a two-octet error code.
    NETWORK_ERROR_CODE = 0x0423, "network_error_code", Octets { min: 3, max: 3 };
    /// `message_payload`: the whole message text, up to 64 KiB.
    MESSAGE_PAYLOAD = 0x0424, "message_payload", Octets { min: 0, max: 65535 };
    /// `delivery_failure_reason`.
    DELIVERY_FAILURE_REASON = 0x0425, "delivery_failure_reason", U8;
    /// `more_messages_to_send`.
    MORE_MESSAGES_TO_SEND = 0x0426, "more_messages_to_send", U8;
    /// `message_state`.
    MESSAGE_STATE = 0x0427, "message_state", U8;
    /// `congestion_state` (SMPP 5.0).
    CONGESTION_STATE = 0x0428, "congestion_state", U8;
    /// `ussd_service_op`.
    USSD_SERVICE_OP = 0x0501, "ussd_service_op", U8;
    /// `broadcast_channel_indicator` (SMPP 5.0).
    BROADCAST_CHANNEL_INDICATOR = 0x0600, "broadcast_channel_indicator", U8;
    /// `broadcast_content_type` (SMPP 5.0): network type, then a two-octet service.
    BROADCAST_CONTENT_TYPE = 0x0601, "broadcast_content_type", Octets { min: 3, max: 3 };
    /// `broadcast_content_type_info` (SMPP 5.0).
    BROADCAST_CONTENT_TYPE_INFO = 0x0602, "broadcast_content_type_info", Octets { min: 0, max: 255 };
    /// `broadcast_message_class` (SMPP 5.0).
    BROADCAST_MESSAGE_CLASS = 0x0603, "broadcast_message_class", U8;
    /// `broadcast_rep_num` (SMPP 5.0).
    BROADCAST_REP_NUM = 0x0604, "broadcast_rep_num", U16;
    /// `broadcast_frequency_interval` (SMPP 5.0): time unit, then a two-octet count.
    BROADCAST_FREQUENCY_INTERVAL = 0x0605, "broadcast_frequency_interval", Octets { min: 3, max: 3 };
    /// `broadcast_area_identifier` (SMPP 5.0): format octet, then the area.
    BROADCAST_AREA_IDENTIFIER = 0x0606, "broadcast_area_identifier", Octets { min: 1, max: 100 };
    /// `broadcast_error_status` (SMPP 5.0).
    BROADCAST_ERROR_STATUS = 0x0607, "broadcast_error_status", U32;
    /// `broadcast_area_success` (SMPP 5.0).
    BROADCAST_AREA_SUCCESS = 0x0608, "broadcast_area_success", U8;
    /// `broadcast_end_time` (SMPP 5.0).
    BROADCAST_END_TIME = 0x0609, "broadcast_end_time", COctet { max: 17 };
    /// `broadcast_service_group` (SMPP 5.0).
    BROADCAST_SERVICE_GROUP = 0x060A, "broadcast_service_group", Octets { min: 0, max: 255 };
    /// `billing_identification` (SMPP 5.0).
    BILLING_IDENTIFICATION = 0x060B, "billing_identification", Octets { min: 0, max: 1024 };
    /// `source_network_id` (SMPP 5.0).
    SOURCE_NETWORK_ID = 0x060D, "source_network_id", COctet { max: 65 };
    /// `dest_network_id` (SMPP 5.0).
    DEST_NETWORK_ID = 0x060E, "dest_network_id", COctet { max: 65 };
    /// `source_node_id` (SMPP 5.0).
    SOURCE_NODE_ID = 0x060F, "source_node_id", Octets { min: 6, max: 6 };
    /// `dest_node_id` (SMPP 5.0).
    DEST_NODE_ID = 0x0610, "dest_node_id", Octets { min: 6, max: 6 };
    /// `dest_addr_np_resolution` (SMPP 5.0).
    DEST_ADDR_NP_RESOLUTION = 0x0611, "dest_addr_np_resolution", U8;
    /// `dest_addr_np_information` (SMPP 5.0).
    DEST_ADDR_NP_INFORMATION = 0x0612, "dest_addr_np_information", Octets { min: 10, max: 10 };
    /// `dest_addr_np_country` (SMPP 5.0).
    DEST_ADDR_NP_COUNTRY = 0x0613, "dest_addr_np_country", Octets { min: 5, max: 5 };
    /// `display_time`.
    DISPLAY_TIME = 0x1201, "display_time", U8;
    /// `sms_signal`.
    SMS_SIGNAL = 0x1203, "sms_signal", U16;
    /// `ms_validity`: one octet, or four in SMPP 5.0.
    MS_VALIDITY = 0x1204, "ms_validity", Octets { min: 1, max: 4 };
    /// `alert_on_message_delivery`: empty in 3.4, one octet in 5.0.
    ALERT_ON_MESSAGE_DELIVERY = 0x130C, "alert_on_message_delivery", EmptyOrU8;
    /// `its_reply_type`.
    ITS_REPLY_TYPE = 0x1380, "its_reply_type", U8;
    /// `its_session_info`.
    ITS_SESSION_INFO = 0x1383, "its_session_info", Octets { min: 2, max: 2 };
}

impl Tag {
    /// The specification's name, or `None` for an unknown tag.
    pub const fn name(self) -> Option<&'static str> {
        match self.spec() {
            Some(spec) => Some(spec.name),
            None => None,
        }
    }

    /// True in the range SMPP reserves for SMSC vendors (0x1400–0x3FFF).
    pub const fn is_vendor(self) -> bool {
        self.0 >= 0x1400 && self.0 <= 0x3FFF
    }
}

impl fmt::Debug for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "{name}(0x{:04X})", self.0),
            None => write!(f, "0x{:04X}", self.0),
        }
    }
}

/// Why a TLV value could not be read as its specification says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TlvError {
    /// The value's length does not fit the tag's format.
    #[error("{tag} has length {length}, not what its format allows")]
    Length {
        /// The tag.
        tag: Tag,
        /// The value's length.
        length: usize,
    },
}

/// A TLV value read by its tag's format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlvValue<'a> {
    /// No value.
    Empty,
    /// A one-octet integer.
    U8(u8),
    /// A two-octet integer.
    U16(u16),
    /// A four-octet integer.
    U32(u32),
    /// A C-octet string, without its NUL.
    Str(&'a [u8]),
    /// Octets (also the value of every unknown tag).
    Octets(&'a [u8]),
}

/// One TLV: its tag and its value octets as they came.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Tlv {
    /// The tag.
    pub tag: Tag,
    /// The value octets (no tag, no length).
    pub value: Bytes,
}

impl Tlv {
    /// A TLV from raw octets.
    pub fn new(tag: Tag, value: impl Into<Bytes>) -> Self {
        Self {
            tag,
            value: value.into(),
        }
    }

    /// A one-octet TLV.
    pub fn u8(tag: Tag, value: u8) -> Self {
        Self::new(tag, Bytes::copy_from_slice(&[value]))
    }

    /// A two-octet TLV.
    pub fn u16(tag: Tag, value: u16) -> Self {
        Self::new(tag, Bytes::copy_from_slice(&value.to_be_bytes()))
    }

    /// A four-octet TLV.
    pub fn u32(tag: Tag, value: u32) -> Self {
        Self::new(tag, Bytes::copy_from_slice(&value.to_be_bytes()))
    }

    /// A C-octet-string TLV; the NUL is added.
    pub fn c_string(tag: Tag, text: &[u8]) -> Self {
        let mut v = Vec::with_capacity(text.len() + 1);
        v.extend(text.iter().copied().filter(|&b| b != 0));
        v.push(0);
        Self::new(tag, v)
    }

    /// True when the value's length is what the tag's specification allows (always true
    /// for unknown tags).
    #[inline]
    pub fn has_expected_length(&self) -> bool {
        self.tag
            .format()
            .is_none_or(|format| format.allows(self.value.len()))
    }

    /// The value read by the tag's format. Unknown tags give [`TlvValue::Octets`]. A C-octet
    /// string whose NUL is missing is read as the whole value: lenient, since carriers do it.
    pub fn typed(&self) -> Result<TlvValue<'_>, TlvError> {
        let v = &self.value[..];
        let Some(spec) = self.tag.spec() else {
            return Ok(TlvValue::Octets(v));
        };
        let bad = || TlvError::Length {
            tag: self.tag,
            length: v.len(),
        };
        Ok(match spec.format {
            ValueFormat::Empty if v.is_empty() => TlvValue::Empty,
            ValueFormat::U8 => TlvValue::U8(*be::<1>(v).ok_or_else(bad)?.first().ok_or_else(bad)?),
            ValueFormat::U16 => TlvValue::U16(u16::from_be_bytes(*be::<2>(v).ok_or_else(bad)?)),
            ValueFormat::U32 => TlvValue::U32(u32::from_be_bytes(*be::<4>(v).ok_or_else(bad)?)),
            ValueFormat::EmptyOrU8 => match v {
                [] => TlvValue::Empty,
                [b] => TlvValue::U8(*b),
                _ => return Err(bad()),
            },
            ValueFormat::COctet { .. } => TlvValue::Str(v.strip_suffix(&[0]).unwrap_or(v)),
            ValueFormat::Octets { min, max }
                if (min as usize..=max as usize).contains(&v.len()) =>
            {
                TlvValue::Octets(v)
            }
            _ => return Err(bad()),
        })
    }

    /// Octets this TLV takes on the wire.
    pub fn wire_len(&self) -> usize {
        4 + self.value.len()
    }

    pub(crate) fn encode(&self, out: &mut BytesMut) {
        out.put_u16(self.tag.0);
        // Values longer than 65535 cannot be built by the decoder; a caller-made one is
        // truncated to what the length field can state, keeping the stream well-formed.
        let len = self.value.len().min(u16::MAX as usize);
        out.put_u16(len as u16);
        out.put_slice(&self.value[..len]);
    }
}

fn be<const N: usize>(v: &[u8]) -> Option<&[u8; N]> {
    v.try_into().ok()
}

/// The TLVs of one PDU, in wire order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tlvs {
    items: Vec<Tlv>,
    /// Octets after the last whole TLV, too few to be a TLV header (1–3 octets). Kept for
    /// diagnosis; never emitted.
    pub trailing: Bytes,
}

impl Tlvs {
    /// No TLVs.
    pub const fn new() -> Self {
        Self {
            items: Vec::new(),
            trailing: Bytes::new(),
        }
    }

    /// Number of TLVs.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The TLVs in wire order.
    pub fn iter(&self) -> std::slice::Iter<'_, Tlv> {
        self.items.iter()
    }

    /// The first TLV with this tag.
    pub fn get(&self, tag: Tag) -> Option<&Tlv> {
        self.items.iter().find(|t| t.tag == tag)
    }

    /// Appends a TLV (keeping any other with the same tag).
    pub fn push(&mut self, tlv: Tlv) {
        self.items.push(tlv);
    }

    /// Replaces the first TLV with this tag, or appends it.
    pub fn set(&mut self, tlv: Tlv) {
        match self.items.iter_mut().find(|t| t.tag == tlv.tag) {
            Some(slot) => *slot = tlv,
            None => self.items.push(tlv),
        }
    }

    /// Removes every TLV with this tag; returns the first removed.
    pub fn remove(&mut self, tag: Tag) -> Option<Tlv> {
        let first = self.items.iter().position(|t| t.tag == tag)?;
        let removed = self.items.remove(first);
        self.items.retain(|t| t.tag != tag);
        Some(removed)
    }

    /// A one-octet TLV's value, if present with the right length.
    pub fn get_u8(&self, tag: Tag) -> Option<u8> {
        match self.get(tag)?.value[..] {
            [b] => Some(b),
            _ => None,
        }
    }

    /// A two-octet TLV's value, if present with the right length.
    pub fn get_u16(&self, tag: Tag) -> Option<u16> {
        Some(u16::from_be_bytes(*be::<2>(&self.get(tag)?.value)?))
    }

    /// A four-octet TLV's value, if present with the right length.
    pub fn get_u32(&self, tag: Tag) -> Option<u32> {
        Some(u32::from_be_bytes(*be::<4>(&self.get(tag)?.value)?))
    }

    /// A C-octet-string TLV's text without its NUL (tolerating a missing NUL).
    pub fn get_c_string(&self, tag: Tag) -> Option<&[u8]> {
        let v = &self.get(tag)?.value[..];
        Some(v.strip_suffix(&[0]).unwrap_or(v))
    }

    /// `message_payload`, the whole message when `short_message` is empty.
    pub fn message_payload(&self) -> Option<&Bytes> {
        self.get(Tag::MESSAGE_PAYLOAD).map(|t| &t.value)
    }

    /// `receipted_message_id` of a receipt, without its NUL.
    pub fn receipted_message_id(&self) -> Option<&[u8]> {
        self.get_c_string(Tag::RECEIPTED_MESSAGE_ID)
    }

    /// `message_state` of a receipt or query response.
    pub fn message_state(&self) -> Option<u8> {
        self.get_u8(Tag::MESSAGE_STATE)
    }

    /// `network_error_code`: network type and error code.
    pub fn network_error_code(&self) -> Option<(u8, u16)> {
        let v = be::<3>(&self.get(Tag::NETWORK_ERROR_CODE)?.value)?;
        Some((v[0], u16::from_be_bytes([v[1], v[2]])))
    }

    /// The three SAR TLVs (`sar_msg_ref_num`, `sar_total_segments`, `sar_segment_seqnum`)
    /// when all are present with the right lengths.
    pub fn sar(&self) -> Option<(u16, u8, u8)> {
        Some((
            self.get_u16(Tag::SAR_MSG_REF_NUM)?,
            self.get_u8(Tag::SAR_TOTAL_SEGMENTS)?,
            self.get_u8(Tag::SAR_SEGMENT_SEQNUM)?,
        ))
    }

    /// Octets the TLVs take on the wire.
    pub fn wire_len(&self) -> usize {
        self.items.iter().map(Tlv::wire_len).sum()
    }

    pub(crate) fn encode(&self, out: &mut BytesMut) {
        for tlv in &self.items {
            tlv.encode(out);
        }
    }

    pub(crate) fn with_capacity(n: usize) -> Self {
        Self {
            items: Vec::with_capacity(n),
            trailing: Bytes::new(),
        }
    }
}

impl FromIterator<Tlv> for Tlvs {
    fn from_iter<I: IntoIterator<Item = Tlv>>(iter: I) -> Self {
        Self {
            items: iter.into_iter().collect(),
            trailing: Bytes::new(),
        }
    }
}

impl<'a> IntoIterator for &'a Tlvs {
    type Item = &'a Tlv;
    type IntoIter = std::slice::Iter<'a, Tlv>;

    fn into_iter(self) -> Self::IntoIter {
        self.items.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_standard_tag_has_a_unique_value_and_name() {
        let mut seen = std::collections::HashSet::new();
        for tag in Tag::ALL {
            assert!(seen.insert(tag.0), "duplicate {tag}");
            assert!(tag.name().is_some());
            assert!(!tag.is_vendor());
        }
        // SMPP 5.0 §4.8.4 defines 64 TLVs (SMPP 3.4's set included).
        assert_eq!(Tag::ALL.len(), 64);
    }

    #[test]
    fn typed_values_follow_the_spec() {
        assert_eq!(Tlv::u8(Tag::MESSAGE_STATE, 2).typed(), Ok(TlvValue::U8(2)));
        assert_eq!(
            Tlv::u16(Tag::SAR_MSG_REF_NUM, 0x1234).typed(),
            Ok(TlvValue::U16(0x1234))
        );
        assert_eq!(
            Tlv::u32(Tag::QOS_TIME_TO_LIVE, 7).typed(),
            Ok(TlvValue::U32(7))
        );
        assert_eq!(
            Tlv::c_string(Tag::RECEIPTED_MESSAGE_ID, b"abc").typed(),
            Ok(TlvValue::Str(b"abc"))
        );
        let odd = Tlv::new(Tag::MESSAGE_STATE, vec![0u8, 2]);
        assert!(!odd.has_expected_length());
        assert_eq!(
            odd.typed(),
            Err(TlvError::Length {
                tag: Tag::MESSAGE_STATE,
                length: 2
            })
        );
        let vendor = Tlv::new(Tag(0x1401), vec![1u8, 2, 3]);
        assert!(vendor.tag.is_vendor());
        assert_eq!(vendor.typed(), Ok(TlvValue::Octets(&[1, 2, 3])));
        assert_eq!(
            Tlv::new(Tag::ALERT_ON_MESSAGE_DELIVERY, vec![]).typed(),
            Ok(TlvValue::Empty)
        );
    }

    #[test]
    fn getters_read_common_tlvs() {
        let tlvs: Tlvs = [
            Tlv::u16(Tag::SAR_MSG_REF_NUM, 9),
            Tlv::u8(Tag::SAR_TOTAL_SEGMENTS, 3),
            Tlv::u8(Tag::SAR_SEGMENT_SEQNUM, 2),
            Tlv::new(Tag::NETWORK_ERROR_CODE, vec![3u8, 0, 0x45]),
        ]
        .into_iter()
        .collect();
        assert_eq!(tlvs.sar(), Some((9, 3, 2)));
        assert_eq!(tlvs.network_error_code(), Some((3, 0x45)));
        assert_eq!(tlvs.message_state(), None);
    }
}
