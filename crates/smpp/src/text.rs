//! SMS text codings: turning text into the octets of an SMPP `short_message` and back, and
//! choosing the cheapest coding for a text.
//!
//! Supported: the GSM 7-bit default alphabet with its extension table (3GPP TS 23.038
//! §6.2.1) and every national language shift table of Annex A (Turkish, Spanish, Portuguese,
//! and the ten Indian-language and Urdu tables), UCS-2 as UTF-16BE, Latin-1, IA5 (ASCII), and
//! 8-bit binary data, plus the data_coding octet that names each. No I/O happens here.
//!
//! - [`encode`] / [`decode`] convert between text and octets for an [`Encoding`]. GSM 7-bit
//!   octets are unpacked septets, as SMPP normally carries them; [`gsm7::pack`] and
//!   [`gsm7::unpack`] give the packed form.
//! - [`plan`] picks the coding that needs the fewest SMS segments and says how many.
//! - [`Alphabet`] maps data_coding octets to alphabets and back.
//! - [`lookalike::to_gsm7`] replaces typographic look-alikes (curly quotes, dashes, odd
//!   spaces) so that a text can stay in GSM 7-bit, for accounts that ask for it.

mod coding;
pub mod gsm7;
pub mod lookalike;
mod octet;
mod plan;
mod tables;
mod ucs2;

pub use coding::{Alphabet, MessageClass};
pub use gsm7::{Gsm7Tables, NationalLanguage, Packing};
pub use plan::{
    ConcatReference, MAX_SEGMENTS, Plan, PlanOptions, USER_DATA_OCTETS, plan, plan_for,
    segment_capacity, udh_octets,
};

pub(crate) use ucs2::{is_high_surrogate, is_low_surrogate};

/// Why text could not be encoded or octets could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TextError {
    /// A character has no code in the alphabet (or the active GSM tables).
    #[error("character {ch:?} at byte offset {offset} cannot be encoded in {alphabet}")]
    Unrepresentable {
        /// The character.
        ch: char,
        /// Its byte offset in the text.
        offset: usize,
        /// The alphabet that lacks it.
        alphabet: Alphabet,
    },
    /// An octet is not a valid code of the alphabet (above 0x7F for GSM 7-bit or IA5).
    #[error("octet {value:#04x} at offset {offset} is not a valid {alphabet} code")]
    InvalidCode {
        /// The octet.
        value: u8,
        /// Its offset in the data.
        offset: usize,
        /// The alphabet being decoded.
        alphabet: Alphabet,
    },
    /// A GSM 7-bit escape septet ends the data, so its character is missing.
    #[error("GSM 7-bit escape at offset {offset} ends the data")]
    DanglingEscape {
        /// Offset of the escape septet.
        offset: usize,
    },
    /// UCS-2 data has an odd number of octets.
    #[error("UCS-2 data has an odd length of {len} octets")]
    OddLength {
        /// The length in octets.
        len: usize,
    },
    /// UCS-2 data holds a surrogate code unit without its partner.
    #[error("unpaired UTF-16 surrogate {unit:#06x} at offset {offset}")]
    UnpairedSurrogate {
        /// The surrogate code unit.
        unit: u16,
        /// Byte offset of the code unit.
        offset: usize,
    },
    /// 8-bit data was given where text is needed.
    #[error("8-bit data is not text")]
    NotText,
    /// The data_coding octet names an alphabet this crate does not handle.
    #[error("data_coding {0:#04x} is not supported")]
    UnsupportedDataCoding(u8),
    /// Packed septets can be preceded by 0 to 6 fill bits only.
    #[error("{0} fill bits requested; packed septets take 0 to 6")]
    InvalidFillBits(u8),
    /// More septets were asked for than the packed octets hold.
    #[error("{count} septets do not fit in {octets} octets after {fill_bits} fill bits")]
    SeptetCount {
        /// Septets asked for.
        count: usize,
        /// Octets available.
        octets: usize,
        /// Fill bits before the first septet.
        fill_bits: u8,
    },
}

/// What one unit of an encoded message is; segment capacities and [`Plan::units`] count these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Unit {
    /// A GSM 7-bit septet (an escaped character counts two).
    Septet,
    /// A UTF-16 code unit (a character outside the BMP counts two).
    Utf16,
    /// An octet.
    Octet,
}

impl Unit {
    /// Octets one unit takes in [`encode`]'s output (septets are unpacked, one per octet).
    pub const fn encoded_octets(self) -> usize {
        match self {
            Self::Septet | Self::Octet => 1,
            Self::Utf16 => 2,
        }
    }
}

/// A concrete coding: an [`Alphabet`] plus, for GSM 7-bit, the shift tables in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// GSM 7-bit with the given locking and single shift tables, as unpacked septets.
    Gsm7(Gsm7Tables),
    /// IA5 / ASCII, one octet per character.
    Ia5,
    /// ISO-8859-1, one octet per character.
    Latin1,
    /// UCS-2 as UTF-16BE.
    Ucs2,
    /// 8-bit data, not text.
    Binary,
}

impl Encoding {
    /// GSM 7-bit default alphabet with the default extension table.
    pub const GSM7: Self = Self::Gsm7(Gsm7Tables::DEFAULT);

    /// The encoding for `alphabet`, with default GSM tables.
    pub const fn from_alphabet(alphabet: Alphabet) -> Self {
        match alphabet {
            Alphabet::Gsm7 => Self::GSM7,
            Alphabet::Ia5 => Self::Ia5,
            Alphabet::Latin1 => Self::Latin1,
            Alphabet::Ucs2 => Self::Ucs2,
            Alphabet::Binary => Self::Binary,
        }
    }

    /// The encoding a data_coding octet selects, with default GSM tables (national shifts are
    /// signalled in the UDH, not in data_coding).
    ///
    /// # Errors
    ///
    /// As [`Alphabet::from_data_coding`].
    pub const fn from_data_coding(data_coding: u8) -> Result<Self, TextError> {
        match Alphabet::from_data_coding(data_coding) {
            Ok(alphabet) => Ok(Self::from_alphabet(alphabet)),
            Err(err) => Err(err),
        }
    }

    /// The alphabet, without the GSM shift tables.
    pub const fn alphabet(self) -> Alphabet {
        match self {
            Self::Gsm7(_) => Alphabet::Gsm7,
            Self::Ia5 => Alphabet::Ia5,
            Self::Latin1 => Alphabet::Latin1,
            Self::Ucs2 => Alphabet::Ucs2,
            Self::Binary => Alphabet::Binary,
        }
    }

    /// The data_coding octet to send; national shift tables still use 0x00.
    pub const fn data_coding(self) -> u8 {
        self.alphabet().data_coding()
    }

    /// The unit this encoding's lengths and capacities are counted in.
    ///
    /// IA5 and Latin-1 count octets: SMPP carries them one octet per character, though an SMSC
    /// that converts them to GSM 7-bit for delivery may fit more or fewer per SMS.
    pub const fn unit(self) -> Unit {
        match self {
            Self::Gsm7(_) => Unit::Septet,
            Self::Ucs2 => Unit::Utf16,
            Self::Ia5 | Self::Latin1 | Self::Binary => Unit::Octet,
        }
    }

    /// The GSM shift tables, if this is GSM 7-bit.
    pub const fn gsm7_tables(self) -> Option<Gsm7Tables> {
        match self {
            Self::Gsm7(tables) => Some(tables),
            _ => None,
        }
    }
}

/// Encodes `text` in `encoding`. GSM 7-bit comes out as unpacked septets.
///
/// # Errors
///
/// [`TextError::Unrepresentable`] naming the first character the encoding lacks, and
/// [`TextError::NotText`] for [`Encoding::Binary`].
pub fn encode(text: &str, encoding: Encoding) -> Result<Vec<u8>, TextError> {
    match encoding {
        Encoding::Gsm7(tables) => gsm7::encode(text, tables),
        Encoding::Ia5 => octet::encode_ia5(text),
        Encoding::Latin1 => octet::encode_latin1(text),
        Encoding::Ucs2 => Ok(ucs2::encode(text)),
        Encoding::Binary => Err(TextError::NotText),
    }
}

/// Decodes `bytes` in `encoding`. GSM 7-bit input must be unpacked septets (see
/// [`gsm7::unpack`] for packed data).
///
/// # Errors
///
/// [`TextError::InvalidCode`], [`TextError::DanglingEscape`], [`TextError::OddLength`] or
/// [`TextError::UnpairedSurrogate`] for malformed data, naming its offset, and
/// [`TextError::NotText`] for [`Encoding::Binary`].
pub fn decode(bytes: &[u8], encoding: Encoding) -> Result<String, TextError> {
    match encoding {
        Encoding::Gsm7(tables) => gsm7::decode(bytes, tables),
        Encoding::Ia5 => octet::decode_ia5(bytes),
        Encoding::Latin1 => Ok(octet::decode_latin1(bytes)),
        Encoding::Ucs2 => ucs2::decode(bytes),
        Encoding::Binary => Err(TextError::NotText),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn text_encodings() -> Vec<Encoding> {
        let mut out = vec![
            Encoding::Ia5,
            Encoding::Latin1,
            Encoding::Ucs2,
            Encoding::GSM7,
        ];
        for locking in [
            None,
            Some(NationalLanguage::Turkish),
            Some(NationalLanguage::Portuguese),
        ] {
            for single in [
                None,
                Some(NationalLanguage::Turkish),
                Some(NationalLanguage::Spanish),
            ]
            .into_iter()
            .chain([Some(NationalLanguage::Portuguese)])
            {
                out.push(Encoding::Gsm7(Gsm7Tables::new(locking, single)));
            }
        }
        out
    }

    #[test]
    fn dispatches_by_encoding() {
        assert_eq!(encode("€", Encoding::GSM7).unwrap(), [0x1B, 0x65]);
        assert_eq!(encode("€", Encoding::Ucs2).unwrap(), [0x20, 0xAC]);
        assert_eq!(encode("é", Encoding::Latin1).unwrap(), [0xE9]);
        assert_eq!(encode("e", Encoding::Ia5).unwrap(), [0x65]);
        assert_eq!(encode("e", Encoding::Binary), Err(TextError::NotText));
        assert_eq!(decode(&[0x65], Encoding::Binary), Err(TextError::NotText));
        assert_eq!(decode(&[0x00, 0x02], Encoding::GSM7).unwrap(), "@$");
        assert_eq!(decode(&[0x00, 0xE9], Encoding::Ucs2).unwrap(), "é");
    }

    #[test]
    fn encoding_metadata() {
        assert_eq!(Encoding::from_data_coding(0x08), Ok(Encoding::Ucs2));
        assert_eq!(Encoding::from_data_coding(0xF1), Ok(Encoding::GSM7));
        assert_eq!(
            Encoding::from_data_coding(0x06),
            Err(TextError::UnsupportedDataCoding(6))
        );
        let turkish = Encoding::Gsm7(Gsm7Tables::new(None, Some(NationalLanguage::Turkish)));
        assert_eq!(turkish.data_coding(), 0x00);
        assert_eq!(turkish.alphabet(), Alphabet::Gsm7);
        assert_eq!(turkish.unit(), Unit::Septet);
        assert_eq!(Encoding::Ucs2.unit().encoded_octets(), 2);
        assert_eq!(Encoding::Latin1.data_coding(), 0x03);
        assert_eq!(Encoding::Ucs2.gsm7_tables(), None);
    }

    #[test]
    fn errors_name_the_failure() {
        let err = encode("ab€", Encoding::Latin1).unwrap_err();
        assert_eq!(
            err.to_string(),
            "character '€' at byte offset 2 cannot be encoded in Latin-1"
        );
        let err = decode(&[0x41, 0x9B], Encoding::Ia5).unwrap_err();
        assert_eq!(
            err.to_string(),
            "octet 0x9b at offset 1 is not a valid IA5 code"
        );
    }

    proptest! {
        #[test]
        fn encode_then_decode_round_trips(text in any::<String>()) {
            for encoding in text_encodings() {
                if let Ok(bytes) = encode(&text, encoding) {
                    prop_assert_eq!(decode(&bytes, encoding).unwrap(), text.clone());
                }
            }
        }

        #[test]
        fn gsm_text_round_trips(
            text in "[ -_a-~\\n\\r£¥èéùìòÇØøÅåΔΦΓΛΩΠΨΣΘΞÆæßÉ¤¡ÄÖÑÜ§¿äöñüà€şğıİ]{0,100}",
        ) {
            let turkish = Encoding::Gsm7(Gsm7Tables::new(None, Some(NationalLanguage::Turkish)));
            let bytes = encode(&text, turkish).unwrap();
            prop_assert_eq!(decode(&bytes, turkish).unwrap(), text);
        }

        #[test]
        fn no_decoder_panics(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
            for encoding in text_encodings() {
                let _ = decode(&bytes, encoding);
            }
        }
    }
}
