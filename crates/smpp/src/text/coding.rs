//! The data_coding octet: which alphabet it names (SMPP 3.4 §5.2.19 for 0x00-0x0F, the
//! 3GPP TS 23.038 §4 coding groups above that) and which data_coding to send for an alphabet.

use std::fmt;

use super::TextError;

/// The character repertoire and unit size a data_coding value selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Alphabet {
    /// GSM 7-bit default alphabet (23.038 §6.2.1), possibly with national shift tables.
    Gsm7,
    /// IA5 / ITU-T T.50 international reference version, i.e. 7-bit ASCII (SMPP data_coding 1).
    Ia5,
    /// ISO-8859-1 (SMPP data_coding 3).
    Latin1,
    /// UCS-2, carried here as UTF-16BE so characters outside the BMP survive as surrogate pairs.
    Ucs2,
    /// 8-bit data: octets that are not text.
    Binary,
}

impl Alphabet {
    /// The alphabet a data_coding octet selects.
    ///
    /// 0x00 is taken to be the GSM 7-bit default alphabet, though SMPP calls it only "SMSC
    /// default": an SMSC configured otherwise needs its own mapping.
    ///
    /// # Errors
    ///
    /// [`TextError::UnsupportedDataCoding`] for alphabets this crate cannot decode (JIS,
    /// Cyrillic, Hebrew, pictogram, ISO-2022-JP, KS C 5601), compressed text (23.042), and
    /// reserved values. 23.038 tells handsets to read reserved codings as GSM 7-bit; a router
    /// must not guess, so they are refused here.
    pub const fn from_data_coding(data_coding: u8) -> Result<Self, TextError> {
        let unsupported = Err(TextError::UnsupportedDataCoding(data_coding));
        match data_coding {
            0x00 => Ok(Self::Gsm7),
            0x01 => Ok(Self::Ia5),
            0x02 | 0x04 => Ok(Self::Binary),
            0x03 => Ok(Self::Latin1),
            0x08 => Ok(Self::Ucs2),
            // SMPP-specific alphabets and SMPP-reserved values.
            0x05..=0x07 | 0x09..=0x0F => unsupported,
            // General data coding (00xx xxxx) and automatic deletion (01xx xxxx) groups:
            // bit 5 compressed, bit 4 class present, bits 3..2 the alphabet.
            0x10..=0x7F => {
                if data_coding & 0x20 != 0 {
                    return unsupported;
                }
                match (data_coding >> 2) & 0b11 {
                    0b00 => Ok(Self::Gsm7),
                    0b01 => Ok(Self::Binary),
                    0b10 => Ok(Self::Ucs2),
                    _ => unsupported,
                }
            }
            // Reserved coding groups 1000..1011.
            0x80..=0xBF => unsupported,
            // Message waiting indication groups: discard / store with GSM 7-bit, store with UCS2.
            0xC0..=0xDF => Ok(Self::Gsm7),
            0xE0..=0xEF => Ok(Self::Ucs2),
            // Data coding / message class group: bit 2 selects 8-bit data over GSM 7-bit.
            0xF0..=0xFF => {
                if data_coding & 0x04 != 0 {
                    Ok(Self::Binary)
                } else {
                    Ok(Self::Gsm7)
                }
            }
        }
    }

    /// The plain data_coding octet for this alphabet: 0x00 GSM 7-bit, 0x01 IA5, 0x03 Latin-1,
    /// 0x04 8-bit data, 0x08 UCS-2.
    pub const fn data_coding(self) -> u8 {
        match self {
            Self::Gsm7 => 0x00,
            Self::Ia5 => 0x01,
            Self::Latin1 => 0x03,
            Self::Binary => 0x04,
            Self::Ucs2 => 0x08,
        }
    }

    /// The data_coding octet that also carries a message class (class 0 is a "flash" SMS):
    /// 0xF0-0xF3 GSM 7-bit, 0xF4-0xF7 8-bit data, 0x18-0x1B UCS-2.
    ///
    /// `None` for IA5 and Latin-1, which exist only as SMPP values without a class.
    pub const fn data_coding_with_class(self, class: MessageClass) -> Option<u8> {
        let class = class as u8;
        match self {
            Self::Gsm7 => Some(0xF0 | class),
            Self::Binary => Some(0xF4 | class),
            Self::Ucs2 => Some(0x18 | class),
            Self::Ia5 | Self::Latin1 => None,
        }
    }

    /// Whether this alphabet is text, i.e. everything but [`Alphabet::Binary`].
    pub const fn is_text(self) -> bool {
        !matches!(self, Self::Binary)
    }
}

impl fmt::Display for Alphabet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Gsm7 => "GSM 7-bit",
            Self::Ia5 => "IA5",
            Self::Latin1 => "Latin-1",
            Self::Ucs2 => "UCS-2",
            Self::Binary => "8-bit data",
        })
    }
}

/// The message class of 23.038 §4, which tells the handset where to put the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MessageClass {
    /// Class 0: shown at once, not necessarily stored ("flash SMS").
    Class0 = 0,
    /// Class 1: default mobile-equipment specific.
    Class1 = 1,
    /// Class 2: SIM / USIM specific.
    Class2 = 2,
    /// Class 3: terminal-equipment specific.
    Class3 = 3,
}

impl MessageClass {
    /// The message class a data_coding octet carries, if any.
    pub const fn from_data_coding(data_coding: u8) -> Option<Self> {
        let carries_class = match data_coding {
            // In the general and automatic deletion groups bit 4 says bits 1..0 are a class.
            0x10..=0x7F => data_coding & 0x10 != 0,
            0xF0..=0xFF => true,
            _ => false,
        };
        if !carries_class {
            return None;
        }
        Some(match data_coding & 0b11 {
            0 => Self::Class0,
            1 => Self::Class1,
            2 => Self::Class2,
            _ => Self::Class3,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smpp_values() {
        let cases = [
            (0x00, Alphabet::Gsm7),
            (0x01, Alphabet::Ia5),
            (0x02, Alphabet::Binary),
            (0x03, Alphabet::Latin1),
            (0x04, Alphabet::Binary),
            (0x08, Alphabet::Ucs2),
        ];
        for (dc, alphabet) in cases {
            assert_eq!(Alphabet::from_data_coding(dc), Ok(alphabet), "{dc:#04x}");
        }
        for dc in [0x05, 0x06, 0x07, 0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x0E, 0x0F] {
            assert_eq!(
                Alphabet::from_data_coding(dc),
                Err(TextError::UnsupportedDataCoding(dc))
            );
        }
    }

    #[test]
    fn gsm_coding_groups() {
        let cases = [
            (0x10, Alphabet::Gsm7), // class 0 flash
            (0x11, Alphabet::Gsm7),
            (0x14, Alphabet::Binary),
            (0x15, Alphabet::Binary),
            (0x18, Alphabet::Ucs2),
            (0x19, Alphabet::Ucs2),
            (0x40, Alphabet::Gsm7),
            (0x44, Alphabet::Binary),
            (0x48, Alphabet::Ucs2),
            (0x58, Alphabet::Ucs2),
            (0xC0, Alphabet::Gsm7),
            (0xC8, Alphabet::Gsm7),
            (0xD0, Alphabet::Gsm7),
            (0xE0, Alphabet::Ucs2),
            (0xEF, Alphabet::Ucs2),
            (0xF0, Alphabet::Gsm7),
            (0xF1, Alphabet::Gsm7),
            (0xF3, Alphabet::Gsm7),
            (0xF4, Alphabet::Binary),
            (0xF5, Alphabet::Binary),
            (0xF6, Alphabet::Binary),
            (0xF7, Alphabet::Binary),
        ];
        for (dc, alphabet) in cases {
            assert_eq!(Alphabet::from_data_coding(dc), Ok(alphabet), "{dc:#04x}");
        }
        // Reserved alphabet, compressed, and reserved groups.
        for dc in [0x1C, 0x1F, 0x20, 0x24, 0x3F, 0x4C, 0x60, 0x80, 0xBF] {
            assert_eq!(
                Alphabet::from_data_coding(dc),
                Err(TextError::UnsupportedDataCoding(dc)),
                "{dc:#04x}"
            );
        }
    }

    #[test]
    fn round_trip_through_data_coding() {
        for alphabet in [
            Alphabet::Gsm7,
            Alphabet::Ia5,
            Alphabet::Latin1,
            Alphabet::Ucs2,
            Alphabet::Binary,
        ] {
            assert_eq!(
                Alphabet::from_data_coding(alphabet.data_coding()),
                Ok(alphabet)
            );
            for class in [
                MessageClass::Class0,
                MessageClass::Class1,
                MessageClass::Class2,
                MessageClass::Class3,
            ] {
                if let Some(dc) = alphabet.data_coding_with_class(class) {
                    assert_eq!(Alphabet::from_data_coding(dc), Ok(alphabet));
                    assert_eq!(MessageClass::from_data_coding(dc), Some(class));
                }
            }
        }
        assert_eq!(
            Alphabet::Gsm7.data_coding_with_class(MessageClass::Class0),
            Some(0xF0)
        );
        assert_eq!(
            Alphabet::Ucs2.data_coding_with_class(MessageClass::Class0),
            Some(0x18)
        );
        assert_eq!(
            Alphabet::Latin1.data_coding_with_class(MessageClass::Class0),
            None
        );
    }

    #[test]
    fn message_class_presence() {
        assert_eq!(MessageClass::from_data_coding(0x00), None);
        assert_eq!(MessageClass::from_data_coding(0x08), None);
        assert_eq!(MessageClass::from_data_coding(0x0B), None);
        assert_eq!(MessageClass::from_data_coding(0x04), None);
        assert_eq!(MessageClass::from_data_coding(0xC0), None);
        assert_eq!(
            MessageClass::from_data_coding(0x12),
            Some(MessageClass::Class2)
        );
        assert_eq!(
            MessageClass::from_data_coding(0xF7),
            Some(MessageClass::Class3)
        );
    }

    #[test]
    fn every_value_is_handled() {
        for dc in 0..=u8::MAX {
            if let Ok(alphabet) = Alphabet::from_data_coding(dc) {
                // Anything accepted is one of the five alphabets; nothing panics.
                assert!(alphabet <= Alphabet::Binary);
            }
            let _ = MessageClass::from_data_coding(dc);
        }
    }
}
