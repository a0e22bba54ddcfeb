//! Look-alike transliteration into the GSM 7-bit default alphabet.
//!
//! Word processors and phones put typographic characters into plain text: curly quotes,
//! en and em dashes, the ellipsis, no-break and thin spaces. None is in the GSM 7-bit
//! alphabet, so one of them turns a 160-character message into UCS-2, 70 characters a
//! part: the customer pays for two to three times the parts. [`to_gsm7`] replaces each
//! with the GSM character it is read as (`’` → `'`, `—` → `-`, `…` → `...`), and does so
//! only when the whole text then fits GSM 7-bit (default alphabet and its extension
//! table): a text that needs UCS-2 anyway (an emoji, Cyrillic) keeps its typography.
//!
//! Only characters a reader takes for the replacement are mapped. Letters with accents
//! the GSM alphabet lacks (`á`, `ō`) are not: dropping an accent changes a word, which is
//! the sender's decision, not the gateway's.

use super::{Encoding, encode};

/// The replacement of a look-alike character; `None` if `ch` is not one.
fn replacement(ch: char) -> Option<&'static str> {
    Some(match ch {
        // Single quotes, apostrophes, primes and accents used as apostrophes.
        '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{201B}' | '\u{2032}' | '\u{2035}'
        | '\u{02BC}' | '\u{02B9}' | '\u{00B4}' | '\u{0060}' | '\u{FF07}' => "'",
        // Double quotes, guillemets and double primes.
        '\u{201C}' | '\u{201D}' | '\u{201E}' | '\u{201F}' | '\u{2033}' | '\u{2036}'
        | '\u{00AB}' | '\u{00BB}' | '\u{02BA}' | '\u{FF02}' => "\"",
        // Single guillemets.
        '\u{2039}' => "<",
        '\u{203A}' => ">",
        // Hyphens, dashes and the minus sign.
        '\u{2010}' | '\u{2011}' | '\u{2012}' | '\u{2013}' | '\u{2014}' | '\u{2015}'
        | '\u{2212}' | '\u{FE58}' | '\u{FE63}' | '\u{FF0D}' => "-",
        // Spaces of other widths, and the no-break ones.
        '\u{00A0}' | '\u{2000}'..='\u{200A}' | '\u{202F}' | '\u{205F}' | '\u{3000}' => " ",
        // Invisible characters that only steer layout.
        '\u{200B}' | '\u{200C}' | '\u{200D}' | '\u{2060}' | '\u{FEFF}' | '\u{00AD}' => "",
        '\u{2026}' => "...",
        // Bullets.
        '\u{2022}' | '\u{2023}' | '\u{2043}' => "-",
        '\u{02C6}' => "^",
        '\u{02DC}' | '\u{FF5E}' => "~",
        '\u{2044}' | '\u{2215}' => "/",
        '\u{FF01}' => "!",
        '\u{FF1F}' => "?",
        _ => return None,
    })
}

/// `text` with its look-alikes replaced, if it has any and the result is GSM 7-bit text
/// (default alphabet and extension table); `None` when there is nothing to replace or
/// when the text needs another alphabet anyway.
pub fn to_gsm7(text: &str) -> Option<String> {
    if !text.chars().any(|ch| replacement(ch).is_some()) {
        return None;
    }
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match replacement(ch) {
            Some(with) => out.push_str(with),
            None => out.push(ch),
        }
    }
    encode(&out, Encoding::GSM7).is_ok().then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typography_becomes_gsm() {
        assert_eq!(
            to_gsm7("It\u{2019}s \u{201C}done\u{201D} \u{2014} see you\u{2026}").as_deref(),
            Some("It's \"done\" - see you...")
        );
        assert_eq!(
            to_gsm7("Code:\u{00A0}4711\u{200B}").as_deref(),
            Some("Code: 4711")
        );
        assert_eq!(to_gsm7("\u{2013}5 \u{2212} 3").as_deref(), Some("-5 - 3"));
    }

    #[test]
    fn nothing_to_replace_or_no_gain_leaves_the_text_alone() {
        // Plain GSM text: nothing to do.
        assert_eq!(to_gsm7("Your code is 1234"), None);
        // An emoji needs UCS-2 whatever is replaced: the quotes stay as written.
        assert_eq!(to_gsm7("\u{201C}hi\u{201D} \u{1F600}"), None);
        // Cyrillic likewise.
        assert_eq!(to_gsm7("\u{2018}\u{041F}\u{2019}"), None);
        // An accent GSM lacks is not dropped, so such a text is not converted.
        assert_eq!(to_gsm7("caf\u{E1} \u{2014}"), None);
    }

    #[test]
    fn every_replacement_is_gsm7() {
        for code in 0..=0xFFFF_u32 {
            let Some(ch) = char::from_u32(code) else {
                continue;
            };
            if let Some(with) = replacement(ch) {
                assert!(
                    encode(with, Encoding::GSM7).is_ok(),
                    "U+{code:04X} → {with:?}"
                );
                // A look-alike is never itself a GSM character (it would be replaced
                // for nothing).
                assert!(
                    encode(&ch.to_string(), Encoding::GSM7).is_err(),
                    "U+{code:04X} is already GSM 7-bit"
                );
            }
        }
    }
}
