//! The one-octet-per-character alphabets: Latin-1 (ISO-8859-1, data_coding 3) and IA5 / 7-bit
//! ASCII (data_coding 1).

use super::TextError;
use super::coding::Alphabet;

/// Encodes `text` as ISO-8859-1: U+0000-U+00FF map to the octet of the same value.
///
/// # Errors
///
/// [`TextError::Unrepresentable`] for the first character above U+00FF.
pub(crate) fn encode_latin1(text: &str) -> Result<Vec<u8>, TextError> {
    encode_below(text, 0x100, Alphabet::Latin1)
}

/// Decodes ISO-8859-1; every octet is a character, so this cannot fail.
pub(crate) fn decode_latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

/// Encodes `text` as IA5 (T.50 international reference version, i.e. ASCII).
///
/// # Errors
///
/// [`TextError::Unrepresentable`] for the first character above U+007F.
pub(crate) fn encode_ia5(text: &str) -> Result<Vec<u8>, TextError> {
    encode_below(text, 0x80, Alphabet::Ia5)
}

/// Decodes IA5.
///
/// # Errors
///
/// [`TextError::InvalidCode`] for the first octet above 0x7F.
pub(crate) fn decode_ia5(bytes: &[u8]) -> Result<String, TextError> {
    match bytes.iter().position(|&b| b > 0x7F) {
        Some(offset) => Err(TextError::InvalidCode {
            value: bytes.get(offset).copied().unwrap_or(0),
            offset,
            alphabet: Alphabet::Ia5,
        }),
        None => Ok(bytes.iter().map(|&b| char::from(b)).collect()),
    }
}

fn encode_below(text: &str, limit: u32, alphabet: Alphabet) -> Result<Vec<u8>, TextError> {
    text.char_indices()
        .map(|(offset, ch)| match u8::try_from(ch) {
            Ok(octet) if u32::from(octet) < limit => Ok(octet),
            _ => Err(TextError::Unrepresentable {
                ch,
                offset,
                alphabet,
            }),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn latin1() {
        assert_eq!(encode_latin1("aé\u{FF}").unwrap(), [0x61, 0xE9, 0xFF]);
        assert_eq!(decode_latin1(&[0x61, 0xE9, 0xFF]), "aé\u{FF}");
        assert_eq!(
            encode_latin1("ab€"),
            Err(TextError::Unrepresentable {
                ch: '€',
                offset: 2,
                alphabet: Alphabet::Latin1
            })
        );
    }

    #[test]
    fn ia5() {
        assert_eq!(encode_ia5("Hi!\n").unwrap(), b"Hi!\n");
        assert_eq!(decode_ia5(b"Hi!\n").unwrap(), "Hi!\n");
        assert_eq!(
            encode_ia5("né"),
            Err(TextError::Unrepresentable {
                ch: 'é',
                offset: 1,
                alphabet: Alphabet::Ia5
            })
        );
        assert_eq!(
            decode_ia5(&[0x41, 0x80]),
            Err(TextError::InvalidCode {
                value: 0x80,
                offset: 1,
                alphabet: Alphabet::Ia5
            })
        );
    }

    #[test]
    fn every_octet_round_trips() {
        for octet in 0..=u8::MAX {
            let text = decode_latin1(&[octet]);
            assert_eq!(encode_latin1(&text).unwrap(), [octet]);
            if octet < 0x80 {
                assert_eq!(encode_ia5(&decode_ia5(&[octet]).unwrap()).unwrap(), [octet]);
            }
        }
    }

    proptest! {
        #[test]
        fn decoders_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
            let text = decode_latin1(&bytes);
            prop_assert_eq!(encode_latin1(&text).unwrap(), bytes.clone());
            let _ = decode_ia5(&bytes);
        }
    }
}
