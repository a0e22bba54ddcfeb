//! UCS-2 as UTF-16BE (data_coding 0x08).
//!
//! SMPP and 23.038 say UCS-2, but handsets and SMSCs carry UTF-16 in it: a character outside
//! the Basic Multilingual Plane (an emoji, say) travels as a surrogate pair of two code units.
//! Decoding is strict: an unpaired surrogate is an error rather than U+FFFD, so a router never
//! silently alters a message it forwards; a caller that wants lossy text can substitute itself.

use super::TextError;

/// Whether `unit` is a high (leading) surrogate.
pub(crate) const fn is_high_surrogate(unit: u16) -> bool {
    matches!(unit, 0xD800..=0xDBFF)
}

/// Whether `unit` is a low (trailing) surrogate.
pub(crate) const fn is_low_surrogate(unit: u16) -> bool {
    matches!(unit, 0xDC00..=0xDFFF)
}

/// Encodes `text` as UTF-16BE; every `char` is representable.
pub(crate) fn encode(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len().saturating_mul(2));
    for unit in text.encode_utf16() {
        out.extend_from_slice(&unit.to_be_bytes());
    }
    out
}

/// Decodes UTF-16BE.
///
/// # Errors
///
/// [`TextError::OddLength`] for a trailing half code unit, [`TextError::UnpairedSurrogate`]
/// (with the byte offset of the offending unit) for a surrogate without its partner.
pub(crate) fn decode(bytes: &[u8]) -> Result<String, TextError> {
    if !bytes.len().is_multiple_of(2) {
        return Err(TextError::OddLength { len: bytes.len() });
    }
    let units = bytes.chunks_exact(2).map(|pair| match pair {
        [high, low] => u16::from_be_bytes([*high, *low]),
        _ => 0,
    });
    let mut text = String::with_capacity(bytes.len() / 2);
    let mut offset = 0;
    for decoded in char::decode_utf16(units) {
        match decoded {
            Ok(ch) => {
                text.push(ch);
                offset += ch.len_utf16() * 2;
            }
            Err(err) => {
                return Err(TextError::UnpairedSurrogate {
                    unit: err.unpaired_surrogate(),
                    offset,
                });
            }
        }
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_vectors() {
        assert_eq!(encode("A€"), [0x00, 0x41, 0x20, 0xAC]);
        // U+1F600 GRINNING FACE = D83D DE00.
        assert_eq!(encode("😀"), [0xD8, 0x3D, 0xDE, 0x00]);
        assert_eq!(decode(&[0xD8, 0x3D, 0xDE, 0x00]).unwrap(), "😀");
        assert_eq!(decode(&[0x04, 0x1F, 0x04, 0x40]).unwrap(), "Пр");
        assert_eq!(decode(&[]).unwrap(), "");
    }

    #[test]
    fn malformed_input_is_an_error() {
        assert_eq!(
            decode(&[0x00, 0x41, 0x00]),
            Err(TextError::OddLength { len: 3 })
        );
        // High surrogate at the end.
        assert_eq!(
            decode(&[0x00, 0x41, 0xD8, 0x3D]),
            Err(TextError::UnpairedSurrogate {
                unit: 0xD83D,
                offset: 2
            })
        );
        // Lone low surrogate.
        assert_eq!(
            decode(&[0xDE, 0x00, 0x00, 0x41]),
            Err(TextError::UnpairedSurrogate {
                unit: 0xDE00,
                offset: 0
            })
        );
        // High surrogate followed by a non-surrogate.
        assert_eq!(
            decode(&[0xD8, 0x3D, 0xD8, 0x3D, 0xDE, 0x00]),
            Err(TextError::UnpairedSurrogate {
                unit: 0xD83D,
                offset: 0
            })
        );
        // Offsets count the pair before the failure as 4 octets.
        assert_eq!(
            decode(&[0xD8, 0x3D, 0xDE, 0x00, 0xDC, 0x00]),
            Err(TextError::UnpairedSurrogate {
                unit: 0xDC00,
                offset: 4
            })
        );
    }

    #[test]
    fn surrogate_classes() {
        assert!(is_high_surrogate(0xD800) && is_high_surrogate(0xDBFF));
        assert!(is_low_surrogate(0xDC00) && is_low_surrogate(0xDFFF));
        assert!(!is_high_surrogate(0xDC00) && !is_low_surrogate(0xDBFF));
    }

    proptest! {
        #[test]
        fn round_trips(text in any::<String>()) {
            prop_assert_eq!(decode(&encode(&text)).unwrap(), text);
        }

        #[test]
        fn decode_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
            let _ = decode(&bytes);
        }
    }
}
