//! Segment arithmetic and the choice of the cheapest coding for a text.
//!
//! An SMS carries 140 octets of user data (3GPP TS 23.040 §9.2.3.24). A user data header
//! (UDH: one length octet, then information elements) takes octets from that, and for GSM
//! 7-bit the septets then start on the next septet boundary, so a header of `h` octets leaves
//! `floor((140 * 8 - h * 8) / 7)` septets. Long messages carry a concatenation IE (5 octets
//! with an 8-bit reference, 6 with a 16-bit one) in every segment; national language shifts
//! add a 3-octet IE per non-default table.
//!
//! Segments never split a GSM escape pair or a UTF-16 surrogate pair, so the segment count is
//! found by filling segments greedily, not by dividing: a pair that would straddle a boundary
//! moves whole to the next segment. `concat` splits with the same rule, so its segment count
//! always equals the plan's.

use super::{Encoding, Gsm7Tables, NationalLanguage, TextError, Unit};

/// Octets of user data in one SMS.
pub const USER_DATA_OCTETS: usize = 140;

/// Most segments a concatenation IE can number.
pub const MAX_SEGMENTS: usize = 255;

/// Which concatenation IE long messages use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ConcatReference {
    /// IE 0x00, 8-bit reference number: 5 octets.
    #[default]
    EightBit,
    /// IE 0x08, 16-bit reference number: 6 octets.
    SixteenBit,
}

impl ConcatReference {
    /// Octets the IE takes in the UDH: identifier, length, and data.
    pub const fn ie_octets(self) -> usize {
        match self {
            Self::EightBit => 5,
            Self::SixteenBit => 6,
        }
    }
}

/// Octets of UDH (the UDHL octet included) each segment carries for `encoding`, with a
/// concatenation IE of the given kind or none; 0 when no IE is needed.
pub const fn udh_octets(encoding: Encoding, concat: Option<ConcatReference>) -> usize {
    let shift = match encoding {
        Encoding::Gsm7(tables) => tables.shift_ie_octets(),
        _ => 0,
    };
    let concat = match concat {
        Some(reference) => reference.ie_octets(),
        None => 0,
    };
    if shift + concat == 0 {
        0
    } else {
        1 + shift + concat
    }
}

/// Units (see [`Encoding::unit`]) of text one SMS holds for `encoding`, given its UDH.
///
/// GSM 7-bit: 160 single, 153 / 152 concatenated (8- / 16-bit reference); with one shift IE
/// 155 / 149 / 148, with two 152 / 146 / 145. UCS-2: 70, 67 / 66. Octets: 140, 134 / 133.
pub const fn segment_capacity(encoding: Encoding, concat: Option<ConcatReference>) -> usize {
    let octets = USER_DATA_OCTETS - udh_octets(encoding, concat);
    match encoding.unit() {
        Unit::Septet => octets * 8 / 7,
        Unit::Utf16 => octets / 2,
        Unit::Octet => octets,
    }
}

/// What [`plan`] may choose from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PlanOptions {
    /// National languages whose shift tables the destination supports; none by default.
    pub national_languages: Vec<NationalLanguage>,
    /// Whether Latin-1 (data_coding 3) may be chosen; off by default, since it is an SMPP-only
    /// coding that the SMSC must convert.
    pub allow_latin1: bool,
    /// The concatenation IE long messages will carry.
    pub concat_reference: ConcatReference,
}

/// The coding chosen for a text and what it costs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Plan {
    /// The chosen encoding.
    pub encoding: Encoding,
    /// The data_coding octet to send with it.
    pub data_coding: u8,
    /// Length of the text in units of [`Encoding::unit`]: septets with escapes counted twice,
    /// UTF-16 code units, or octets.
    pub units: usize,
    /// SMS segments needed; may exceed [`MAX_SEGMENTS`], which no concatenation can send.
    pub segments: usize,
    /// Units one segment holds: the single-SMS capacity when `segments` is 1, else the
    /// capacity of a concatenated segment.
    pub segment_capacity: usize,
    /// UDH octets (UDHL included) each segment carries; 0 for none.
    pub header_octets: usize,
}

/// Chooses the cheapest coding for `text` and counts its segments.
///
/// Cheapest is fewest segments. Ties go to, in order: the GSM 7-bit default alphabet;
/// national shift tables, single shift before locking shift before both, each in the order of
/// [`PlanOptions::national_languages`] (a receiver that ignores a single shift IE still shows
/// the base letter for most escaped characters, one that ignores a locking shift IE does not);
/// Latin-1 if allowed; UCS-2, which can encode any text.
pub fn plan(text: &str, options: &PlanOptions) -> Plan {
    let reference = options.concat_reference;
    let mut best: Option<Plan> = None;
    for encoding in candidates(options) {
        if let Some(candidate) = evaluate(text, encoding, reference) {
            if best.is_none_or(|best| candidate.segments < best.segments) {
                best = Some(candidate);
            }
            // Nothing beats one segment, and earlier candidates win ties.
            if candidate.segments == 1 {
                return candidate;
            }
        }
    }
    // UCS-2 comes last: it can encode anything, so it only has to beat the others.
    let ucs2 = ucs2_plan(text, reference);
    match best {
        Some(best) if best.segments <= ucs2.segments => best,
        _ => ucs2,
    }
}

/// Counts the segments of `text` in a given encoding.
///
/// # Errors
///
/// [`TextError::Unrepresentable`] if the encoding lacks a character of `text`;
/// [`TextError::NotText`] for [`Encoding::Binary`].
pub fn plan_for(
    text: &str,
    encoding: Encoding,
    concat_reference: ConcatReference,
) -> Result<Plan, TextError> {
    if encoding == Encoding::Binary {
        return Err(TextError::NotText);
    }
    match evaluate(text, encoding, concat_reference) {
        Some(plan) => Ok(plan),
        None => {
            // Find the offending character for the error.
            let (offset, ch) = text
                .char_indices()
                .find(|&(_, ch)| unit_cost(encoding, ch).is_none())
                .unwrap_or((0, '\0'));
            Err(TextError::Unrepresentable {
                ch,
                offset,
                alphabet: encoding.alphabet(),
            })
        }
    }
}

/// Candidate encodings other than UCS-2, in order of preference.
fn candidates(options: &PlanOptions) -> Vec<Encoding> {
    let mut languages: Vec<NationalLanguage> = Vec::new();
    for &language in &options.national_languages {
        if !languages.contains(&language) {
            languages.push(language);
        }
    }
    let locking: Vec<NationalLanguage> = languages
        .iter()
        .copied()
        .filter(|l| l.has_locking_shift())
        .collect();
    let mut out = vec![Encoding::GSM7];
    let gsm = |locking, single| Encoding::Gsm7(Gsm7Tables::new(locking, single));
    out.extend(languages.iter().map(|&l| gsm(None, Some(l))));
    out.extend(locking.iter().map(|&l| gsm(Some(l), None)));
    out.extend(locking.iter().map(|&l| gsm(Some(l), Some(l))));
    for &lock in &locking {
        for &single in languages.iter().filter(|&&s| s != lock) {
            out.push(gsm(Some(lock), Some(single)));
        }
    }
    if options.allow_latin1 {
        out.push(Encoding::Latin1);
    }
    out
}

/// Units `ch` takes in `encoding`, or `None` if it cannot be encoded.
fn unit_cost(encoding: Encoding, ch: char) -> Option<usize> {
    match encoding {
        Encoding::Gsm7(tables) => tables.septets_for(ch),
        Encoding::Ucs2 => Some(ch.len_utf16()),
        Encoding::Latin1 => (u32::from(ch) <= 0xFF).then_some(1),
        Encoding::Ia5 => ch.is_ascii().then_some(1),
        Encoding::Binary => None,
    }
}

/// The plan for `text` in `encoding`, or `None` if a character cannot be encoded.
fn evaluate(text: &str, encoding: Encoding, reference: ConcatReference) -> Option<Plan> {
    let mut unencodable = false;
    let atoms = text.chars().map_while(|ch| {
        let cost = unit_cost(encoding, ch);
        unencodable |= cost.is_none();
        cost
    });
    let (units, segments) = count_segments(atoms, encoding, reference);
    (!unencodable).then(|| build(encoding, reference, units, segments))
}

fn ucs2_plan(text: &str, reference: ConcatReference) -> Plan {
    let atoms = text.chars().map(char::len_utf16);
    let (units, segments) = count_segments(atoms, Encoding::Ucs2, reference);
    build(Encoding::Ucs2, reference, units, segments)
}

fn build(encoding: Encoding, reference: ConcatReference, units: usize, segments: usize) -> Plan {
    let concat = (segments > 1).then_some(reference);
    Plan {
        encoding,
        data_coding: encoding.data_coding(),
        units,
        segments,
        segment_capacity: segment_capacity(encoding, concat),
        header_octets: udh_octets(encoding, concat),
    }
}

/// Total units and segment count for a sequence of indivisible atoms (1 or 2 units each):
/// one segment if the total fits a single SMS, else concatenated segments filled greedily.
fn count_segments(
    atoms: impl Iterator<Item = usize>,
    encoding: Encoding,
    reference: ConcatReference,
) -> (usize, usize) {
    let single = segment_capacity(encoding, None);
    let multi = segment_capacity(encoding, Some(reference));
    let mut units: usize = 0;
    let mut closed: usize = 0;
    let mut current: usize = 0;
    for atom in atoms {
        units = units.saturating_add(atom);
        if current > 0 && current + atom > multi {
            closed += 1;
            current = atom;
        } else {
            current += atom;
        }
    }
    let segments = if units <= single { 1 } else { closed + 1 };
    (units, segments)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::Alphabet;

    const TURKISH: NationalLanguage = NationalLanguage::Turkish;
    const SPANISH: NationalLanguage = NationalLanguage::Spanish;
    const PORTUGUESE: NationalLanguage = NationalLanguage::Portuguese;

    fn default_plan(text: &str) -> Plan {
        plan(text, &PlanOptions::default())
    }

    fn with_languages(languages: &[NationalLanguage]) -> PlanOptions {
        PlanOptions {
            national_languages: languages.to_vec(),
            ..PlanOptions::default()
        }
    }

    fn gsm(locking: Option<NationalLanguage>, single: Option<NationalLanguage>) -> Encoding {
        Encoding::Gsm7(Gsm7Tables::new(locking, single))
    }

    #[test]
    fn capacities() {
        use ConcatReference::{EightBit, SixteenBit};
        let cases = [
            (Encoding::GSM7, [160, 153, 152]),
            (Encoding::Ucs2, [70, 67, 66]),
            (Encoding::Binary, [140, 134, 133]),
            (Encoding::Latin1, [140, 134, 133]),
            (gsm(None, Some(TURKISH)), [155, 149, 148]),
            (gsm(Some(TURKISH), None), [155, 149, 148]),
            (gsm(Some(TURKISH), Some(TURKISH)), [152, 146, 145]),
            (gsm(Some(PORTUGUESE), Some(SPANISH)), [152, 146, 145]),
        ];
        for (encoding, [single, eight, sixteen]) in cases {
            assert_eq!(segment_capacity(encoding, None), single, "{encoding:?}");
            assert_eq!(
                segment_capacity(encoding, Some(EightBit)),
                eight,
                "{encoding:?}"
            );
            assert_eq!(
                segment_capacity(encoding, Some(SixteenBit)),
                sixteen,
                "{encoding:?}"
            );
        }
        assert_eq!(udh_octets(Encoding::GSM7, None), 0);
        assert_eq!(udh_octets(Encoding::GSM7, Some(EightBit)), 6);
        assert_eq!(udh_octets(Encoding::GSM7, Some(SixteenBit)), 7);
        assert_eq!(udh_octets(gsm(None, Some(TURKISH)), None), 4);
        assert_eq!(
            udh_octets(gsm(Some(TURKISH), Some(TURKISH)), Some(SixteenBit)),
            13
        );
    }

    #[test]
    fn gsm_segment_edges() {
        let cases = [
            (0, 1),
            (1, 1),
            (160, 1),
            (161, 2),
            (306, 2),
            (307, 3),
            (459, 3),
            (460, 4),
        ];
        for (len, segments) in cases {
            let p = default_plan(&"a".repeat(len));
            assert_eq!(p.encoding, Encoding::GSM7);
            assert_eq!(p.data_coding, 0x00);
            assert_eq!((p.units, p.segments), (len, segments), "{len}");
        }
        let p = default_plan(&"a".repeat(160));
        assert_eq!((p.segment_capacity, p.header_octets), (160, 0));
        let p = default_plan(&"a".repeat(161));
        assert_eq!((p.segment_capacity, p.header_octets), (153, 6));
        let sixteen = PlanOptions {
            concat_reference: ConcatReference::SixteenBit,
            ..PlanOptions::default()
        };
        assert_eq!(plan(&"a".repeat(304), &sixteen).segments, 2);
        assert_eq!(plan(&"a".repeat(305), &sixteen).segments, 3);
        assert_eq!(plan(&"a".repeat(305), &sixteen).segment_capacity, 152);
    }

    #[test]
    fn escapes_count_two_and_do_not_straddle() {
        // 159 + 2 = 161 septets: two segments.
        let p = default_plan(&format!("{}€", "a".repeat(159)));
        assert_eq!((p.units, p.segments), (161, 2));
        // 158 + 2 = 160: one.
        assert_eq!(default_plan(&format!("{}€", "a".repeat(158))).segments, 1);
        // 152 'a' then '€' straddles 153: segment 1 holds 152, segment 2 holds '€' + 151 'a'.
        let straddle = format!("{}€{}", "a".repeat(152), "a".repeat(151));
        let p = default_plan(&straddle);
        assert_eq!((p.units, p.segments), (305, 2));
        let straddle = format!("{}€{}", "a".repeat(152), "a".repeat(152));
        let p = default_plan(&straddle);
        // 306 septets would fit 2 × 153 by count, but the escape pair forces a third segment.
        assert_eq!((p.units, p.segments), (306, 3));
    }

    #[test]
    fn ucs2_segment_edges() {
        for (len, segments) in [(70, 1), (71, 2), (134, 2), (135, 3)] {
            let p = default_plan(&"ж".repeat(len));
            assert_eq!(p.encoding, Encoding::Ucs2);
            assert_eq!(p.data_coding, 0x08);
            assert_eq!((p.units, p.segments), (len, segments), "{len}");
        }
        // 35 emoji = 70 code units: one segment; 36: two.
        assert_eq!(default_plan(&"😀".repeat(35)).segments, 1);
        let p = default_plan(&"😀".repeat(36));
        assert_eq!((p.units, p.segments), (72, 2));
        // 66 'ж' then an emoji straddling 67 moves whole: 66 + (2 + 65) + 1.
        let straddle = format!("{}😀{}", "ж".repeat(66), "ж".repeat(66));
        assert_eq!(default_plan(&straddle).segments, 3);
        let fits = format!("{}😀{}", "ж".repeat(65), "ж".repeat(67));
        assert_eq!(default_plan(&fits).segments, 2);
    }

    #[test]
    fn national_shift_capacities() {
        let turkish = with_languages(&[TURKISH]);
        // 153 'a' + 'ş' (2 septets with single shift) = 155 = the one-IE single capacity.
        let p = plan(&format!("{}ş", "a".repeat(153)), &turkish);
        assert_eq!(p.encoding, gsm(None, Some(TURKISH)));
        assert_eq!(
            (p.units, p.segments, p.segment_capacity, p.header_octets),
            (155, 1, 155, 4)
        );
        // One more 'a': single shift needs 156 > 155, locking shift takes ş as one septet.
        let p = plan(&format!("{}ş", "a".repeat(154)), &turkish);
        assert_eq!(p.encoding, gsm(Some(TURKISH), None));
        assert_eq!((p.units, p.segments), (155, 1));
        // Beyond one segment with a single shift: 149 per segment.
        let p = plan(&format!("{}ş", "a".repeat(200)), &turkish);
        assert_eq!(p.encoding, gsm(None, Some(TURKISH)));
        assert_eq!(
            (p.segments, p.segment_capacity, p.header_octets),
            (2, 149, 9)
        );
        // Without Turkish allowed the same text needs UCS-2.
        assert_eq!(
            default_plan(&format!("{}ş", "a".repeat(153))).encoding,
            Encoding::Ucs2
        );
    }

    #[test]
    fn tie_breaks() {
        assert_eq!(default_plan("hello").encoding, Encoding::GSM7);
        assert_eq!(
            plan("hello", &with_languages(&NationalLanguage::ALL)).encoding,
            Encoding::GSM7
        );
        // ç: Spanish and Portuguese single shift, Portuguese and Turkish locking; the first
        // listed language's single shift wins.
        let p = plan("ç", &with_languages(&[SPANISH, TURKISH]));
        assert_eq!(p.encoding, gsm(None, Some(SPANISH)));
        assert_eq!(
            plan("ç", &with_languages(&[TURKISH, SPANISH])).encoding,
            gsm(None, Some(TURKISH))
        );
        assert_eq!(default_plan("ç").encoding, Encoding::Ucs2);
        let latin1 = PlanOptions {
            allow_latin1: true,
            ..PlanOptions::default()
        };
        assert_eq!(plan("ç", &latin1).encoding, Encoding::Latin1);
        assert_eq!(plan("ç", &latin1).data_coding, 0x03);
        // Latin-1 only ties with GSM; GSM wins.
        assert_eq!(plan("abc", &latin1).encoding, Encoding::GSM7);
        // A national shift beats Latin-1 on a tie.
        let both = PlanOptions {
            allow_latin1: true,
            ..with_languages(&[SPANISH])
        };
        assert_eq!(plan("ç", &both).encoding, gsm(None, Some(SPANISH)));
    }

    #[test]
    fn fewer_segments_beats_preference() {
        // 100 euro signs: 200 septets in default GSM (2 segments), 100 with the Portuguese
        // locking table (1 segment of 155).
        let euros = "€".repeat(100);
        assert_eq!(default_plan(&euros).segments, 2);
        let p = plan(&euros, &with_languages(&[PORTUGUESE]));
        assert_eq!(p.encoding, gsm(Some(PORTUGUESE), None));
        assert_eq!((p.units, p.segments), (100, 1));
        // 150 'é' + '€': Latin-1 cannot (no €), GSM needs 152 septets: GSM.
        let latin1 = PlanOptions {
            allow_latin1: true,
            ..PlanOptions::default()
        };
        assert_eq!(
            plan(&format!("{}€", "é".repeat(150)), &latin1).encoding,
            Encoding::GSM7
        );
        // 141 'ï' (not GSM): Latin-1 needs 2 segments, UCS-2 3.
        let p = plan(&"ï".repeat(141), &latin1);
        assert_eq!((p.encoding, p.segments), (Encoding::Latin1, 2));
    }

    #[test]
    fn plan_for_a_fixed_encoding() {
        let p = plan_for("hello", Encoding::Ucs2, ConcatReference::EightBit).unwrap();
        assert_eq!((p.units, p.segments, p.segment_capacity), (5, 1, 70));
        assert_eq!(
            plan_for("abç", Encoding::GSM7, ConcatReference::EightBit),
            Err(TextError::Unrepresentable {
                ch: 'ç',
                offset: 2,
                alphabet: Alphabet::Gsm7
            })
        );
        assert_eq!(
            plan_for("a", Encoding::Binary, ConcatReference::EightBit),
            Err(TextError::NotText)
        );
        let p = plan_for(&"a".repeat(141), Encoding::Ia5, ConcatReference::SixteenBit).unwrap();
        assert_eq!((p.segments, p.segment_capacity), (2, 133));
    }

    #[test]
    fn huge_texts_report_segments_past_the_limit() {
        let p = default_plan(&"a".repeat(153 * 256));
        assert_eq!(p.segments, 256);
        assert!(p.segments > MAX_SEGMENTS);
    }
}
