//! The character tables of 3GPP TS 23.038: the GSM 7-bit default alphabet (§6.2.1), its
//! extension table (§6.2.1.1), and the national language locking shift (Annex A.3) and single
//! shift (Annex A.2) tables this crate supports.
//!
//! Each table is written out in full, code by code, so it can be audited line by line against
//! the specification; the reverse (character to code) index is built at compile time, and the
//! build fails if a table maps one character to two codes.

/// The escape septet: in a locking shift table it is not a character but the switch to the
/// single shift table for the next septet (23.038 §6.2.1.1).
pub(crate) const ESCAPE: u8 = 0x1B;

/// Stand-in for the escape position of a locking shift table; never decoded or encoded.
const ESC: char = '\u{1B}';

/// One 128-entry character table with its reverse index.
pub(crate) struct CharTable {
    /// Code to character; `None` where the table defines no character.
    forward: [Option<char>; 128],
    /// The defined (character, code) pairs sorted by character, then unused slots.
    reverse: [(char, u8); 128],
    /// How many leading entries of `reverse` are in use.
    reverse_len: usize,
}

impl CharTable {
    /// Builds a locking shift table from all 128 positions; position 0x1B must hold [`ESC`].
    const fn locking(chars: [char; 128]) -> Self {
        assert!(
            chars[ESCAPE as usize] == ESC,
            "locking table must hold ESC at 0x1B"
        );
        let mut forward = [None; 128];
        let mut code = 0;
        while code < 128 {
            if code != ESCAPE as usize {
                forward[code] = Some(chars[code]);
            }
            code += 1;
        }
        Self::with_reverse(forward)
    }

    /// Builds a single shift table from its defined (code, character) pairs.
    const fn single(pairs: &[(u8, char)]) -> Self {
        let mut forward = [None; 128];
        let mut i = 0;
        while i < pairs.len() {
            let (code, ch) = pairs[i];
            assert!(code < 0x80, "single shift code out of range");
            // 0x1B in an extension table is reserved for a further extension (23.038
            // §6.2.1.1), so no table may define a character there.
            assert!(code != ESCAPE, "single shift table must not define 0x1B");
            assert!(
                forward[code as usize].is_none(),
                "single shift code defined twice"
            );
            forward[code as usize] = Some(ch);
            i += 1;
        }
        Self::with_reverse(forward)
    }

    /// Fills in the sorted reverse index; panics (at compile time) on a repeated character.
    const fn with_reverse(forward: [Option<char>; 128]) -> Self {
        let mut reverse = [('\0', 0u8); 128];
        let mut len = 0;
        let mut code = 0;
        while code < 128 {
            if let Some(ch) = forward[code] {
                // Insertion sort keeps the index ordered by character as it grows.
                let mut at = len;
                while at > 0 && reverse[at - 1].0 as u32 > ch as u32 {
                    reverse[at] = reverse[at - 1];
                    at -= 1;
                }
                assert!(
                    at == 0 || reverse[at - 1].0 as u32 != ch as u32,
                    "table maps one character to two codes"
                );
                reverse[at] = (ch, code as u8);
                len += 1;
            }
            code += 1;
        }
        Self {
            forward,
            reverse,
            reverse_len: len,
        }
    }

    /// The character at `code`, if the table defines one.
    pub(crate) fn char_at(&self, code: u8) -> Option<char> {
        self.forward.get(usize::from(code)).copied().flatten()
    }

    /// The code of `ch`, if the table holds it.
    pub(crate) fn code_of(&self, ch: char) -> Option<u8> {
        let used = self.reverse.get(..self.reverse_len).unwrap_or(&[]);
        used.binary_search_by_key(&ch, |&(c, _)| c)
            .ok()
            .and_then(|i| used.get(i))
            .map(|&(_, code)| code)
    }

    /// Every (code, character) pair the table defines, in code order.
    #[cfg(test)]
    pub(crate) fn entries(&self) -> impl Iterator<Item = (u8, char)> + '_ {
        (0u8..128).filter_map(|code| self.char_at(code).map(|ch| (code, ch)))
    }
}

/// GSM 7-bit default alphabet, 23.038 §6.2.1.
#[rustfmt::skip]
pub(crate) static DEFAULT_LOCKING: CharTable = CharTable::locking([
    // 0x00: @ £ $ ¥ è é ù ì
    '@', '\u{A3}', '$', '\u{A5}', '\u{E8}', '\u{E9}', '\u{F9}', '\u{EC}',
    // 0x08: ò Ç LF Ø ø CR Å å
    '\u{F2}', '\u{C7}', '\n', '\u{D8}', '\u{F8}', '\r', '\u{C5}', '\u{E5}',
    // 0x10: Δ _ Φ Γ Λ Ω Π Ψ
    '\u{394}', '_', '\u{3A6}', '\u{393}', '\u{39B}', '\u{3A9}', '\u{3A0}', '\u{3A8}',
    // 0x18: Σ Θ Ξ ESC Æ æ ß É
    '\u{3A3}', '\u{398}', '\u{39E}', ESC, '\u{C6}', '\u{E6}', '\u{DF}', '\u{C9}',
    // 0x20: SP ! " # ¤ % & '
    ' ', '!', '"', '#', '\u{A4}', '%', '&', '\'',
    // 0x28
    '(', ')', '*', '+', ',', '-', '.', '/',
    // 0x30
    '0', '1', '2', '3', '4', '5', '6', '7',
    // 0x38
    '8', '9', ':', ';', '<', '=', '>', '?',
    // 0x40: ¡ A-G
    '\u{A1}', 'A', 'B', 'C', 'D', 'E', 'F', 'G',
    // 0x48
    'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O',
    // 0x50
    'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'W',
    // 0x58: X Y Z Ä Ö Ñ Ü §
    'X', 'Y', 'Z', '\u{C4}', '\u{D6}', '\u{D1}', '\u{DC}', '\u{A7}',
    // 0x60: ¿ a-g
    '\u{BF}', 'a', 'b', 'c', 'd', 'e', 'f', 'g',
    // 0x68
    'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o',
    // 0x70
    'p', 'q', 'r', 's', 't', 'u', 'v', 'w',
    // 0x78: x y z ä ö ñ ü à
    'x', 'y', 'z', '\u{E4}', '\u{F6}', '\u{F1}', '\u{FC}', '\u{E0}',
]);

/// GSM 7-bit default alphabet extension table, 23.038 §6.2.1.1.
///
/// 0x0D (CR2) and 0x1B (reserved) are deliberately absent; the decoder handles them.
#[rustfmt::skip]
pub(crate) static DEFAULT_SINGLE: CharTable = CharTable::single(&[
    (0x0A, '\u{0C}'), // form feed (page break)
    (0x14, '^'),
    (0x28, '{'),
    (0x29, '}'),
    (0x2F, '\\'),
    (0x3C, '['),
    (0x3D, '~'),
    (0x3E, ']'),
    (0x40, '|'),
    (0x65, '\u{20AC}'), // €
]);

/// Turkish national language locking shift table, 23.038 A.3.1.
#[rustfmt::skip]
pub(crate) static TURKISH_LOCKING: CharTable = CharTable::locking([
    // 0x00: @ £ $ ¥ € é ù ı
    '@', '\u{A3}', '$', '\u{A5}', '\u{20AC}', '\u{E9}', '\u{F9}', '\u{131}',
    // 0x08: ò Ç LF Ğ ğ CR Å å
    '\u{F2}', '\u{C7}', '\n', '\u{11E}', '\u{11F}', '\r', '\u{C5}', '\u{E5}',
    // 0x10: Δ _ Φ Γ Λ Ω Π Ψ
    '\u{394}', '_', '\u{3A6}', '\u{393}', '\u{39B}', '\u{3A9}', '\u{3A0}', '\u{3A8}',
    // 0x18: Σ Θ Ξ ESC Ş ş ß É
    '\u{3A3}', '\u{398}', '\u{39E}', ESC, '\u{15E}', '\u{15F}', '\u{DF}', '\u{C9}',
    // 0x20: SP ! " # ¤ % & '
    ' ', '!', '"', '#', '\u{A4}', '%', '&', '\'',
    // 0x28
    '(', ')', '*', '+', ',', '-', '.', '/',
    // 0x30
    '0', '1', '2', '3', '4', '5', '6', '7',
    // 0x38
    '8', '9', ':', ';', '<', '=', '>', '?',
    // 0x40: İ A-G
    '\u{130}', 'A', 'B', 'C', 'D', 'E', 'F', 'G',
    // 0x48
    'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O',
    // 0x50
    'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'W',
    // 0x58: X Y Z Ä Ö Ñ Ü §
    'X', 'Y', 'Z', '\u{C4}', '\u{D6}', '\u{D1}', '\u{DC}', '\u{A7}',
    // 0x60: ç a-g
    '\u{E7}', 'a', 'b', 'c', 'd', 'e', 'f', 'g',
    // 0x68
    'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o',
    // 0x70
    'p', 'q', 'r', 's', 't', 'u', 'v', 'w',
    // 0x78: x y z ä ö ñ ü à
    'x', 'y', 'z', '\u{E4}', '\u{F6}', '\u{F1}', '\u{FC}', '\u{E0}',
]);

/// Turkish national language single shift table, 23.038 A.2.1.
#[rustfmt::skip]
pub(crate) static TURKISH_SINGLE: CharTable = CharTable::single(&[
    (0x0A, '\u{0C}'), // form feed
    (0x14, '^'),
    (0x28, '{'),
    (0x29, '}'),
    (0x2F, '\\'),
    (0x3C, '['),
    (0x3D, '~'),
    (0x3E, ']'),
    (0x40, '|'),
    (0x47, '\u{11E}'), // Ğ
    (0x49, '\u{130}'), // İ
    (0x53, '\u{15E}'), // Ş
    (0x63, '\u{E7}'),  // ç
    (0x65, '\u{20AC}'), // €
    (0x67, '\u{11F}'), // ğ
    (0x69, '\u{131}'), // ı
    (0x73, '\u{15F}'), // ş
]);

/// Spanish national language single shift table, 23.038 A.2.2. Spanish has no locking shift
/// table.
#[rustfmt::skip]
pub(crate) static SPANISH_SINGLE: CharTable = CharTable::single(&[
    (0x09, '\u{E7}'),  // ç
    (0x0A, '\u{0C}'),  // form feed
    (0x14, '^'),
    (0x28, '{'),
    (0x29, '}'),
    (0x2F, '\\'),
    (0x3C, '['),
    (0x3D, '~'),
    (0x3E, ']'),
    (0x40, '|'),
    (0x41, '\u{C1}'),  // Á
    (0x49, '\u{CD}'),  // Í
    (0x4F, '\u{D3}'),  // Ó
    (0x55, '\u{DA}'),  // Ú
    (0x61, '\u{E1}'),  // á
    (0x65, '\u{20AC}'), // €
    (0x69, '\u{ED}'),  // í
    (0x6F, '\u{F3}'),  // ó
    (0x75, '\u{FA}'),  // ú
]);

/// Portuguese national language locking shift table, 23.038 A.3.3.
#[rustfmt::skip]
pub(crate) static PORTUGUESE_LOCKING: CharTable = CharTable::locking([
    // 0x00: @ £ $ ¥ ê é ú í
    '@', '\u{A3}', '$', '\u{A5}', '\u{EA}', '\u{E9}', '\u{FA}', '\u{ED}',
    // 0x08: ó ç LF Ô ô CR Á á
    '\u{F3}', '\u{E7}', '\n', '\u{D4}', '\u{F4}', '\r', '\u{C1}', '\u{E1}',
    // 0x10: Δ _ ª Ç À ∞ ^ \
    '\u{394}', '_', '\u{AA}', '\u{C7}', '\u{C0}', '\u{221E}', '^', '\\',
    // 0x18: € Ó | ESC Â â Ê É
    '\u{20AC}', '\u{D3}', '|', ESC, '\u{C2}', '\u{E2}', '\u{CA}', '\u{C9}',
    // 0x20: SP ! " # º % & '
    ' ', '!', '"', '#', '\u{BA}', '%', '&', '\'',
    // 0x28
    '(', ')', '*', '+', ',', '-', '.', '/',
    // 0x30
    '0', '1', '2', '3', '4', '5', '6', '7',
    // 0x38
    '8', '9', ':', ';', '<', '=', '>', '?',
    // 0x40: Í A-G
    '\u{CD}', 'A', 'B', 'C', 'D', 'E', 'F', 'G',
    // 0x48
    'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O',
    // 0x50
    'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'W',
    // 0x58: X Y Z Ã Õ Ú Ü §
    'X', 'Y', 'Z', '\u{C3}', '\u{D5}', '\u{DA}', '\u{DC}', '\u{A7}',
    // 0x60: ~ a-g
    '~', 'a', 'b', 'c', 'd', 'e', 'f', 'g',
    // 0x68
    'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o',
    // 0x70
    'p', 'q', 'r', 's', 't', 'u', 'v', 'w',
    // 0x78: x y z ã õ ` ü à
    'x', 'y', 'z', '\u{E3}', '\u{F5}', '`', '\u{FC}', '\u{E0}',
]);

/// Portuguese national language single shift table, 23.038 A.2.3.
#[rustfmt::skip]
pub(crate) static PORTUGUESE_SINGLE: CharTable = CharTable::single(&[
    (0x05, '\u{EA}'),  // ê
    (0x09, '\u{E7}'),  // ç
    (0x0A, '\u{0C}'),  // form feed
    (0x0B, '\u{D4}'),  // Ô
    (0x0C, '\u{F4}'),  // ô
    (0x0E, '\u{C1}'),  // Á
    (0x0F, '\u{E1}'),  // á
    (0x12, '\u{3A6}'), // Φ
    (0x13, '\u{393}'), // Γ
    (0x14, '^'),
    (0x15, '\u{3A9}'), // Ω
    (0x16, '\u{3A0}'), // Π
    (0x17, '\u{3A8}'), // Ψ
    (0x18, '\u{3A3}'), // Σ
    (0x19, '\u{398}'), // Θ
    (0x1F, '\u{CA}'),  // Ê
    (0x28, '{'),
    (0x29, '}'),
    (0x2F, '\\'),
    (0x3C, '['),
    (0x3D, '~'),
    (0x3E, ']'),
    (0x40, '|'),
    (0x41, '\u{C0}'),  // À
    (0x49, '\u{CD}'),  // Í
    (0x4F, '\u{D3}'),  // Ó
    (0x55, '\u{DA}'),  // Ú
    (0x5B, '\u{C3}'),  // Ã
    (0x5C, '\u{D5}'),  // Õ
    (0x61, '\u{C2}'),  // Â
    (0x65, '\u{20AC}'), // €
    (0x69, '\u{ED}'),  // í
    (0x6F, '\u{F3}'),  // ó
    (0x75, '\u{FA}'),  // ú
    (0x7B, '\u{E3}'),  // ã
    (0x7C, '\u{F5}'),  // õ
    (0x7F, '\u{E2}'),  // â
]);

#[cfg(test)]
mod tests {
    use super::*;

    /// Collects a table's entries in code order as a string, for compact comparison.
    fn row(table: &CharTable, from: u8, to: u8) -> String {
        (from..=to)
            .map(|c| table.char_at(c).unwrap_or('\u{FFFD}'))
            .collect()
    }

    #[test]
    fn sizes_match_the_specification() {
        // Locking tables define every code but the escape.
        for table in [&DEFAULT_LOCKING, &TURKISH_LOCKING, &PORTUGUESE_LOCKING] {
            assert_eq!(table.entries().count(), 127);
            assert_eq!(table.char_at(ESCAPE), None);
        }
        assert_eq!(DEFAULT_SINGLE.entries().count(), 10);
        assert_eq!(TURKISH_SINGLE.entries().count(), 17);
        assert_eq!(SPANISH_SINGLE.entries().count(), 19);
        assert_eq!(PORTUGUESE_SINGLE.entries().count(), 37);
    }

    #[test]
    fn reverse_index_inverts_forward() {
        for table in [
            &DEFAULT_LOCKING,
            &DEFAULT_SINGLE,
            &TURKISH_LOCKING,
            &TURKISH_SINGLE,
            &SPANISH_SINGLE,
            &PORTUGUESE_LOCKING,
            &PORTUGUESE_SINGLE,
        ] {
            for (code, ch) in table.entries() {
                assert_eq!(table.code_of(ch), Some(code), "{ch:?}");
            }
            assert_eq!(table.code_of('\u{1B}'), None);
            assert_eq!(table.code_of('\u{10FFFF}'), None);
        }
    }

    #[test]
    fn default_alphabet_rows() {
        // Whole rows (by code) as printed in 23.038 §6.2.1, read column by column.
        assert_eq!(row(&DEFAULT_LOCKING, 0x00, 0x0F), "@£$¥èéùìòÇ\nØø\rÅå");
        assert_eq!(row(&DEFAULT_LOCKING, 0x10, 0x1A), "Δ_ΦΓΛΩΠΨΣΘΞ");
        assert_eq!(row(&DEFAULT_LOCKING, 0x1C, 0x2F), "ÆæßÉ !\"#¤%&'()*+,-./");
        assert_eq!(row(&DEFAULT_LOCKING, 0x40, 0x4F), "¡ABCDEFGHIJKLMNO");
        assert_eq!(row(&DEFAULT_LOCKING, 0x5B, 0x60), "ÄÖÑÜ§¿");
        assert_eq!(row(&DEFAULT_LOCKING, 0x7B, 0x7F), "äöñüà");
        // Every ASCII letter and digit sits at its ASCII code.
        for c in ('0'..='9').chain('A'..='Z').chain('a'..='z') {
            assert_eq!(DEFAULT_LOCKING.code_of(c), Some(c as u8));
        }
    }

    #[test]
    fn national_locking_differences_from_default() {
        let turkish: Vec<(u8, char)> = TURKISH_LOCKING
            .entries()
            .filter(|&(code, ch)| DEFAULT_LOCKING.char_at(code) != Some(ch))
            .collect();
        assert_eq!(
            turkish,
            vec![
                (0x04, '€'),
                (0x07, 'ı'),
                (0x0B, 'Ğ'),
                (0x0C, 'ğ'),
                (0x1C, 'Ş'),
                (0x1D, 'ş'),
                (0x40, 'İ'),
                (0x60, 'ç'),
            ]
        );
        // Portuguese, as read from 23.038 A.3.3: every code where it differs from default.
        let portuguese: String = PORTUGUESE_LOCKING
            .entries()
            .filter(|&(code, ch)| DEFAULT_LOCKING.char_at(code) != Some(ch))
            .map(|(code, ch)| format!("{code:02X}{ch}"))
            .collect();
        assert_eq!(
            portuguese,
            "04ê06ú07í08ó09ç0BÔ0Cô0EÁ0Fá12ª13Ç14À15∞16^17\\18€19Ó1A|1CÂ1Dâ1EÊ\
             24º40Í5BÃ5CÕ5DÚ60~7Bã7Cõ7D`"
        );
        assert_eq!(row(&PORTUGUESE_LOCKING, 0x00, 0x0F), "@£$¥êéúíóç\nÔô\rÁá");
        assert_eq!(row(&PORTUGUESE_LOCKING, 0x10, 0x1A), "Δ_ªÇÀ∞^\\€Ó|");
        assert_eq!(row(&PORTUGUESE_LOCKING, 0x1C, 0x1F), "ÂâÊÉ");
        assert_eq!(PORTUGUESE_LOCKING.char_at(0x24), Some('º'));
        assert_eq!(PORTUGUESE_LOCKING.char_at(0x40), Some('Í'));
        assert_eq!(row(&PORTUGUESE_LOCKING, 0x5B, 0x60), "ÃÕÚÜ§~");
        assert_eq!(row(&PORTUGUESE_LOCKING, 0x7B, 0x7F), "ãõ`üà");
    }

    #[test]
    fn single_shift_tables_extend_the_default_extension() {
        // Every national single shift table keeps the default extension characters at the
        // same codes (23.038 A.2.x all repeat them).
        for table in [&TURKISH_SINGLE, &SPANISH_SINGLE, &PORTUGUESE_SINGLE] {
            for (code, ch) in DEFAULT_SINGLE.entries() {
                assert_eq!(table.char_at(code), Some(ch));
            }
        }
    }
}
