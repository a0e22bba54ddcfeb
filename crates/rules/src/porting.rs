//! Number portability: which network a number belongs to now that it has moved.
//!
//! A [`PortingTable`] maps ported numbers, one by one or in ranges, to the MCC-MNC of the
//! network that now serves them. The router looks a normalised destination up here
//! *before* the network prefix table: a hit names the destination's network (for the
//! routes' network criteria and the price tables' network entries); a miss falls through
//! to the prefixes. The control plane imports operators' CSV files ([`parse_csv`], then
//! [`PortingTable::from_rows`] or [`PortingTable::apply`]) and stores the
//! [`PortingTable::encode`]d snapshot in a NATS object store, from which every role
//! [`PortingTable::decode`]s it and swaps it in; that wiring lives elsewhere. This module
//! is pure data: no I/O beyond the bytes it is given.
//!
//! # Semantics
//!
//! - A number entry wins over a range holding the same number ([`Ported::range`] says
//!   which one matched).
//! - Rows apply in order: for one number the last row wins; a `delete` (or `remove`) row
//!   removes the number's entry (it was ported back home); deleting an absent number does
//!   nothing.
//! - Ranges are whole units. A `port` row with exactly the ends of a range in the table
//!   moves it to the new network; a `delete` row with exactly its ends removes it. A range
//!   that overlaps another one (without being identical to it) is refused as a row error
//!   ([`RowErrorKind::Overlap`], or [`RowErrorKind::RangeMismatch`] for a delete), so the
//!   ranges never overlap. A range is not carved: to send one number of a ported range
//!   back home, add that number alone with its home network.
//! - Deleting is how an entry goes away; the table keeps no tombstones.
//!
//! # CSV form
//!
//! ```text
//! # comments and blank lines are skipped; a first line without digits is a header
//! number,network,action
//! 447700900123,23415
//! +447700900124;234-15;port
//! 447700900000-447700900999,23410
//! 447700900123,,delete
//! ```
//!
//! Fields are separated by `,`, `;` or a tab (whichever comes first in the line) and
//! trimmed; a UTF-8 byte order mark and `\r\n` line ends are fine. The number is E.164
//! digits (a leading `+` is allowed), or a range `start-end` of two numbers of the same
//! length with `start <= end`. The network is an MCC-MNC, `23415` or `234-15` (stored as `23415`);
//! a delete row may leave it empty (it is not used). The optional action is empty or
//! `port`, or `delete`/`remove` (any case); `number,delete` is read as a delete too. A
//! bad row becomes a [`RowError`] with its 1-based line; the rest of the file is still
//! read. At most [`MAX_KEPT_ERRORS`] errors are kept with their reasons, the rest only
//! counted ([`RowErrors`]), so a file of garbage costs no more than a file of numbers.
//!
//! # Representation, and why
//!
//! Tens of millions of numbers must fit in little memory and be looked up without
//! allocating:
//!
//! - A number is 1 to [`MAX_NUMBER_DIGITS`] digits without a leading 0, held as its value
//!   in a `u64`. With no leading zeros, distinct digit strings are distinct integers.
//! - Numbers are a sorted `Vec<u64>` with a parallel `Vec<u16>` of indexes into the
//!   table's networks ([`MccMnc`], held inline, not as `String`s): 10 bytes a number.
//! - Ranges are three parallel sorted vectors (starts, ends, network indexes), 18 bytes a
//!   range, non-overlapping. The digit length of a range is *not* stored: a `d`-digit
//!   number without a leading 0 lies in `[10^(d-1), 10^d)`, and both ends of a range have
//!   the same length, so everything between them has that length too, and a number of
//!   another length can never fall inside. Ordering by value is already ordering by
//!   (length, value).
//! - [`PortingTable::lookup`] parses the digits and does binary searches: numbers, then
//!   the last range starting at or before the number. The numbers are searched through
//!   fences, a copy of every 64th number (1.25% more memory): the fences stay in cache,
//!   and the search ends in one block of 512 bytes of the big array instead of hopping
//!   across it, whose last steps are each a cache and TLB miss (over 10 million
//!   numbers, a plain binary search took 440 ns a lookup in the `routing` bench, the
//!   fences 245 ns).
//! - The networks of a built table are exactly those in use, sorted, so one set of
//!   entries has one representation (and one encoding) however it was built; an
//!   incremental [`PortingTable::apply`] equals a full rebuild from all the rows.
//!
//! Building sorts the update (stable, so later rows stay later; already-sorted files sort
//! in linear time) and merges it into the table's arrays: `O(n + m log m)` for `n`
//! entries and `m` rows. Range rows go, in order, through an ordered overlay of the
//! table's ranges (which stay as they are) and are merged back the same way.
//!
//! # Snapshot form
//!
//! Little-endian throughout ([`PortingTable::encode`]):
//!
//! | bytes | content |
//! | --- | --- |
//! | 4 | magic `HPRT` |
//! | 2 | format version, [`SNAPSHOT_VERSION`] |
//! | 2 | network count `k` |
//! | 8 | number count `n` |
//! | 8 | range count `r` |
//! | `k` × (1 + 5 or 6) | networks: length, then ASCII digits |
//! | `8n` | numbers, ascending |
//! | `2n` | their network indexes |
//! | `8r`, `8r`, `2r` | range starts (ascending), ends, network indexes |
//! | 8 | FNV-1a 64 of every byte before it |
//!
//! [`PortingTable::decode`] checks the length against the counts before it allocates,
//! then the checksum, then every invariant (valid networks without duplicates, valid
//! numbers, strictly ascending, indexes in range, ranges of one length and not
//! overlapping); hostile input gets a [`PortingError`], never a panic.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

/// The most digits a number in the table can have: E.164's 15. Longer destinations (the
/// router normalises up to 23 digits) are never ported: their lookup misses.
pub const MAX_NUMBER_DIGITS: usize = 15;

/// The most networks one table can name (indexes are `u16`, and building keeps one value
/// apart for deletes).
pub const MAX_NETWORKS: usize = u16::MAX as usize;

/// How many row errors a [`RowErrors`] keeps with their reasons; later ones are counted.
pub const MAX_KEPT_ERRORS: usize = 1_000;

/// The snapshot format version [`PortingTable::encode`] writes and
/// [`PortingTable::decode`] reads.
pub const SNAPSHOT_VERSION: u16 = 1;

const MAGIC: &[u8; 4] = b"HPRT";
/// Magic, version, network count, number count, range count.
const HEADER_LEN: usize = 4 + 2 + 2 + 8 + 8;
const CHECKSUM_LEN: usize = 8;
/// An update row's network index meaning "delete", while building.
const DELETE: u16 = u16::MAX;
/// 10^15: every valid number is below it.
const NUMBER_LIMIT: u64 = 1_000_000_000_000_000;
const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;
/// One number in this many is copied into the fences, the index a lookup searches first.
const FENCE: usize = 64;
/// The longest field text quoted in a row error.
const QUOTE_MAX: usize = 40;

/// Why [`PortingTable::decode`] refused a snapshot.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PortingError {
    /// The bytes end before the header, the networks or the arrays the counts announce.
    #[error("porting snapshot truncated: {needed} bytes needed, {len} present")]
    Truncated {
        /// How many bytes the snapshot needs (saturated when the counts overflow).
        needed: u64,
        /// How many there are.
        len: usize,
    },
    /// The bytes do not start with `HPRT`.
    #[error("not a porting snapshot (no HPRT magic)")]
    BadMagic,
    /// A format version this build cannot read.
    #[error(
        "porting snapshot version {0} is not supported (this build reads version {SNAPSHOT_VERSION})"
    )]
    UnsupportedVersion(u16),
    /// Bytes follow the checksum.
    #[error("porting snapshot has {len} bytes where its counts say {expected}")]
    TrailingBytes {
        /// The length the counts give.
        expected: u64,
        /// The length present.
        len: usize,
    },
    /// The checksum does not match the content: the snapshot is corrupted.
    #[error("porting snapshot checksum mismatch: stored {stored:#018x}, computed {computed:#018x}")]
    Checksum {
        /// The checksum in the snapshot.
        stored: u64,
        /// The checksum of its content.
        computed: u64,
    },
    /// A network is not 5 or 6 ASCII digits.
    #[error("porting snapshot network {index} is not a 5- or 6-digit MCC-MNC")]
    BadNetwork {
        /// Its position among the networks.
        index: usize,
    },
    /// A network is listed twice.
    #[error("porting snapshot lists network {network} twice")]
    DuplicateNetwork {
        /// The network.
        network: MccMnc,
    },
    /// A number (or range end) is 0 or has more than [`MAX_NUMBER_DIGITS`] digits.
    #[error("porting snapshot {section} entry {index}: {value} is not an E.164 number")]
    BadNumber {
        /// `numbers` or `ranges`.
        section: &'static str,
        /// The entry's position.
        index: usize,
        /// The value found.
        value: u64,
    },
    /// An entry is not after the one before it (numbers not strictly ascending, ranges
    /// out of order or overlapping).
    #[error("porting snapshot {section} entry {index} is not after the entry before it")]
    NotSorted {
        /// `numbers` or `ranges`.
        section: &'static str,
        /// The entry's position.
        index: usize,
    },
    /// An entry's network index is not below the network count.
    #[error("porting snapshot {section} entry {index} names network {network} of {count}")]
    NetworkIndex {
        /// `numbers` or `ranges`.
        section: &'static str,
        /// The entry's position.
        index: usize,
        /// The index found.
        network: u16,
        /// The network count.
        count: usize,
    },
    /// A range whose start is after its end, or whose ends differ in length.
    #[error("porting snapshot range {index} ({start}-{end}) is not a range of same-length numbers")]
    BadRange {
        /// The range's position.
        index: usize,
        /// Its start.
        start: u64,
        /// Its end.
        end: u64,
    },
}

/// A network's MCC-MNC: 3 digits of country, 2 or 3 of network, as one 5- or 6-digit
/// string (`23415`), held inline.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MccMnc {
    // ASCII digits, then zeros: the derived order is the strings' order.
    digits: [u8; 6],
    len: u8,
}

impl MccMnc {
    /// A placeholder for branches that cannot be taken (never stored).
    const NONE: MccMnc = MccMnc {
        digits: [0; 6],
        len: 0,
    };

    /// `23415`, `234015` or, with the MCC set apart, `234-15`; `None` for anything else.
    pub fn parse(text: &str) -> Option<MccMnc> {
        MccMnc::from_field(text.as_bytes())
    }

    /// The 5 or 6 digits.
    pub fn as_str(&self) -> &str {
        // Only ASCII digits are ever stored.
        std::str::from_utf8(self.digits.get(..usize::from(self.len)).unwrap_or_default())
            .unwrap_or("")
    }

    fn from_field(field: &[u8]) -> Option<MccMnc> {
        let mut digits = [0u8; 6];
        let mut len = 0usize;
        for (i, &c) in field.iter().enumerate() {
            if c == b'-' && i == 3 {
                continue;
            }
            let slot = digits.get_mut(len)?;
            if !c.is_ascii_digit() {
                return None;
            }
            *slot = c;
            len += 1;
        }
        MccMnc::checked(digits, len)
    }

    /// Exactly 5 or 6 ASCII digits (the snapshot form).
    fn from_digits(bytes: &[u8]) -> Option<MccMnc> {
        let mut digits = [0u8; 6];
        digits.get_mut(..bytes.len())?.copy_from_slice(bytes);
        if !bytes.iter().all(u8::is_ascii_digit) {
            return None;
        }
        MccMnc::checked(digits, bytes.len())
    }

    fn checked(digits: [u8; 6], len: usize) -> Option<MccMnc> {
        if !(5..=6).contains(&len) {
            return None;
        }
        Some(MccMnc {
            digits,
            len: u8::try_from(len).ok()?,
        })
    }
}

impl fmt::Debug for MccMnc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MccMnc({})", self.as_str())
    }
}

impl fmt::Display for MccMnc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What one row is about: a number or a range of numbers of one length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PortTarget {
    /// One number, E.164 digits as an integer.
    Number(u64),
    /// The numbers from `start` to `end`, both included, all of the same length.
    Range {
        /// The first number.
        start: u64,
        /// The last number.
        end: u64,
    },
}

/// What one row does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PortAction {
    /// The number or range now belongs to this network.
    Port(MccMnc),
    /// The entry is removed (for instance, ported back to its original network).
    Delete,
}

/// One row of an import: from a CSV line ([`parse_csv`]) or made by other means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PortingRow {
    /// The 1-based line it came from (any tag of the caller's choosing otherwise), for
    /// the errors building reports.
    pub line: usize,
    /// The number or range.
    pub target: PortTarget,
    /// Ported, or deleted.
    pub action: PortAction,
}

/// Which rule a row broke.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RowErrorKind {
    /// A column the row needs is missing or empty (the network of a `port` row).
    MissingColumn,
    /// A non-empty fourth column.
    ExtraColumn,
    /// The number is empty, not digits, starts with 0 or is too long.
    BadNumber,
    /// A range's ends are bad, of different lengths, or in the wrong order.
    BadRange,
    /// The network is not an MCC-MNC.
    BadNetwork,
    /// The action is not empty, `port`, `delete` or `remove`.
    UnknownAction,
    /// A range overlaps a range already in the table (building).
    Overlap,
    /// A delete names a range overlapping one in the table without being identical to it
    /// (building).
    RangeMismatch,
    /// The row's network would take the table past [`MAX_NETWORKS`] (building).
    TooManyNetworks,
}

/// A row that was not taken, with its line and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct RowError {
    /// The row's 1-based line ([`PortingRow::line`] for building errors).
    pub line: usize,
    /// Which rule it broke.
    pub kind: RowErrorKind,
    /// What is wrong, quoting the field.
    pub reason: String,
}

/// The rows refused by parsing or building: the first [`MAX_KEPT_ERRORS`] found, ordered by
/// line, and how many there were in all.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RowErrors {
    kept: Vec<RowError>,
    total: usize,
}

impl RowErrors {
    /// The errors kept, ordered by line.
    pub fn kept(&self) -> &[RowError] {
        &self.kept
    }

    /// How many rows were refused, kept or not.
    pub fn total(&self) -> usize {
        self.total
    }

    /// How many were counted but not kept.
    pub fn omitted(&self) -> usize {
        self.total - self.kept.len()
    }

    /// No row was refused.
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// Adds `other`'s errors (a later stage's) to these, keeping the cap.
    pub fn append(&mut self, other: RowErrors) {
        let omitted = other.omitted();
        for error in other.kept {
            self.push(error.line, error.kind, || error.reason);
        }
        self.total += omitted;
        self.sort();
    }

    /// Counts an error; builds its reason only if it is kept.
    fn push(&mut self, line: usize, kind: RowErrorKind, reason: impl FnOnce() -> String) {
        self.total += 1;
        if self.kept.len() < MAX_KEPT_ERRORS {
            self.kept.push(RowError {
                line,
                kind,
                reason: reason(),
            });
        }
    }

    fn sort(&mut self) {
        self.kept.sort_by_key(|e| e.line);
    }
}

/// What [`parse_csv`] read: the good rows in file order and the bad ones.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ParsedCsv {
    /// The rows, in file order.
    pub rows: Vec<PortingRow>,
    /// The lines refused.
    pub errors: RowErrors,
}

/// A lookup's answer: where the number is now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ported<'a> {
    /// The MCC-MNC of the network the number belongs to.
    pub network: &'a str,
    /// `None` when the number has its own entry; the range `(start, end)` that holds it
    /// otherwise.
    pub range: Option<(u64, u64)>,
}

/// The ported numbers and ranges, and their networks; immutable once built. See the
/// module docs for the representation.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct PortingTable {
    numbers: Vec<u64>,
    number_networks: Vec<u16>,
    /// Every [`FENCE`]th number, derived from `numbers`.
    fences: Vec<u64>,
    range_starts: Vec<u64>,
    range_ends: Vec<u64>,
    range_networks: Vec<u16>,
    networks: Vec<MccMnc>,
}

impl fmt::Debug for PortingTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PortingTable")
            .field("numbers", &self.numbers.len())
            .field("ranges", &self.range_starts.len())
            .field("networks", &self.networks)
            .finish()
    }
}

/// Reads a porting CSV (see the module docs). Never fails as a whole: bad lines are in
/// [`ParsedCsv::errors`].
pub fn parse_csv(input: &[u8]) -> ParsedCsv {
    let input = input.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(input);
    // A line count bounds the rows, so the vector is allocated once.
    let lines = input.iter().filter(|&&b| b == b'\n').count() + 1;
    let mut parsed = ParsedCsv {
        rows: Vec::with_capacity(lines),
        errors: RowErrors::default(),
    };
    let mut first = true;
    for (index, raw) in input.split(|&b| b == b'\n').enumerate() {
        let line = index + 1;
        let text = raw.trim_ascii();
        if text.is_empty() || text.starts_with(b"#") {
            continue;
        }
        if std::mem::take(&mut first) && is_header(text) {
            continue;
        }
        match parse_row(text) {
            Ok((target, action)) => parsed.rows.push(PortingRow {
                line,
                target,
                action,
            }),
            Err(fault) => parsed.errors.push(line, fault.kind(), || fault.reason()),
        }
    }
    parsed.rows.shrink_to_fit();
    parsed
}

/// A first line whose first field has no digit: `number,network`, `MSISDN;MCCMNC`.
fn is_header(line: &[u8]) -> bool {
    !fields(line)
        .next()
        .unwrap_or_default()
        .iter()
        .any(u8::is_ascii_digit)
}

/// The line's fields, trimmed, split at its separator: the first `,`, `;` or tab in it.
fn fields(line: &[u8]) -> impl Iterator<Item = &[u8]> {
    let separator = line
        .iter()
        .copied()
        .find(|b| matches!(b, b',' | b';' | b'\t'))
        .unwrap_or(b',');
    line.split(move |&b| b == separator).map(<[u8]>::trim_ascii)
}

/// Why a line was refused, borrowing its text until a reason is wanted.
enum Fault<'a> {
    NoNetwork,
    ExtraColumn(&'a [u8]),
    BadNumber(&'a [u8], &'static str),
    BadRange(&'a [u8], String),
    BadNetwork(&'a [u8]),
    UnknownAction(&'a [u8]),
}

impl Fault<'_> {
    fn kind(&self) -> RowErrorKind {
        match self {
            Fault::NoNetwork => RowErrorKind::MissingColumn,
            Fault::ExtraColumn(_) => RowErrorKind::ExtraColumn,
            Fault::BadNumber(..) => RowErrorKind::BadNumber,
            Fault::BadRange(..) => RowErrorKind::BadRange,
            Fault::BadNetwork(_) => RowErrorKind::BadNetwork,
            Fault::UnknownAction(_) => RowErrorKind::UnknownAction,
        }
    }

    fn reason(&self) -> String {
        match self {
            Fault::NoNetwork => "no network (the second column) for a port row".to_owned(),
            Fault::ExtraColumn(text) => format!(
                "unexpected fourth column {} (number, network, action)",
                quote(text)
            ),
            Fault::BadNumber(text, why) => format!("bad number {}: {why}", quote(text)),
            Fault::BadRange(text, why) => format!("bad range {}: {why}", quote(text)),
            Fault::BadNetwork(text) => format!(
                "bad network {}: an MCC-MNC is 5 or 6 digits (23415 or 234-15)",
                quote(text)
            ),
            Fault::UnknownAction(text) => {
                format!("unknown action {} (port, delete or remove)", quote(text))
            }
        }
    }
}

/// A field for an error message: lossy UTF-8, cut at [`QUOTE_MAX`] characters.
fn quote(text: &[u8]) -> String {
    let text = String::from_utf8_lossy(text);
    if text.chars().count() > QUOTE_MAX {
        format!("{:?}…", text.chars().take(QUOTE_MAX).collect::<String>())
    } else {
        format!("{text:?}")
    }
}

fn parse_row(line: &[u8]) -> Result<(PortTarget, PortAction), Fault<'_>> {
    let mut columns = fields(line);
    let number = columns.next().unwrap_or_default();
    let network = columns.next();
    let action = columns.next();
    if let Some(extra) = columns.find(|c| !c.is_empty()) {
        return Err(Fault::ExtraColumn(extra));
    }
    let target = parse_target(number)?;
    // `number,delete`: the action where the network would be.
    let (network, action) = match (network, action) {
        (Some(word), None) if action_word(word) == Some(true) => (None, word),
        (network, action) => (network, action.unwrap_or_default()),
    };
    let delete = action_word(action).ok_or(Fault::UnknownAction(action))?;
    let network = network.filter(|n| !n.is_empty());
    let network = match network {
        Some(text) => Some(MccMnc::from_field(text).ok_or(Fault::BadNetwork(text))?),
        None => None,
    };
    match (delete, network) {
        (true, _) => Ok((target, PortAction::Delete)),
        (false, Some(network)) => Ok((target, PortAction::Port(network))),
        (false, None) => Err(Fault::NoNetwork),
    }
}

/// `Some(false)` for a port, `Some(true)` for a delete, `None` for an unknown word.
fn action_word(word: &[u8]) -> Option<bool> {
    if word.is_empty() || word.eq_ignore_ascii_case(b"port") {
        Some(false)
    } else if word.eq_ignore_ascii_case(b"delete") || word.eq_ignore_ascii_case(b"remove") {
        Some(true)
    } else {
        None
    }
}

fn parse_target(field: &[u8]) -> Result<PortTarget, Fault<'_>> {
    let mut ends = field.splitn(2, |&b| b == b'-');
    let first = ends.next().unwrap_or_default().trim_ascii();
    let Some(second) = ends.next() else {
        return parse_number(first)
            .map(PortTarget::Number)
            .map_err(|why| Fault::BadNumber(field, why));
    };
    let start =
        parse_number(first).map_err(|why| Fault::BadRange(field, format!("start: {why}")))?;
    let end = parse_number(second.trim_ascii())
        .map_err(|why| Fault::BadRange(field, format!("end: {why}")))?;
    check_range(start, end).map_err(|why| Fault::BadRange(field, why))?;
    Ok(PortTarget::Range { start, end })
}

/// E.164 digits, with an optional leading `+`, as an integer.
fn parse_number(text: &[u8]) -> Result<u64, &'static str> {
    let digits = text.strip_prefix(b"+").unwrap_or(text);
    if digits.is_empty() {
        return Err("empty");
    }
    if digits.len() > MAX_NUMBER_DIGITS {
        return Err("more than 15 digits");
    }
    if digits.first() == Some(&b'0') {
        return Err("starts with 0");
    }
    digits.iter().try_fold(0u64, |value, &d| {
        if d.is_ascii_digit() {
            Ok(value * 10 + u64::from(d - b'0'))
        } else {
            Err("not all digits")
        }
    })
}

fn is_number(value: u64) -> bool {
    (1..NUMBER_LIMIT).contains(&value)
}

/// The number of digits of a valid number.
fn digit_count(value: u64) -> u32 {
    value.checked_ilog10().map_or(0, |l| l + 1)
}

fn check_range(start: u64, end: u64) -> Result<(), String> {
    if !is_number(start) || !is_number(end) {
        return Err("an end is not an E.164 number".to_owned());
    }
    let (a, b) = (digit_count(start), digit_count(end));
    if a != b {
        return Err(format!(
            "the ends have different lengths ({a} and {b} digits)"
        ));
    }
    if start > end {
        return Err("the start is after the end".to_owned());
    }
    Ok(())
}

/// The networks known while building: the table's, then the update's new ones.
struct Names {
    index: HashMap<MccMnc, u16>,
    list: Vec<MccMnc>,
}

impl Names {
    fn new(existing: &[MccMnc]) -> Names {
        let mut names = Names {
            index: HashMap::with_capacity(existing.len()),
            list: Vec::with_capacity(existing.len()),
        };
        for &network in existing {
            // A table's networks are distinct and fewer than the cap.
            let _ = names.intern(network);
        }
        names
    }

    fn intern(&mut self, network: MccMnc) -> Option<u16> {
        if let Some(&i) = self.index.get(&network) {
            return Some(i);
        }
        if self.list.len() >= MAX_NETWORKS {
            return None;
        }
        let i = u16::try_from(self.list.len()).ok()?;
        self.index.insert(network, i);
        self.list.push(network);
        Some(i)
    }

    fn name(&self, i: u16) -> MccMnc {
        self.list
            .get(usize::from(i))
            .copied()
            .unwrap_or(MccMnc::NONE)
    }
}

/// A range row that passed validation, its network interned (or [`DELETE`]).
struct RangeRow {
    line: usize,
    start: u64,
    end: u64,
    network: u16,
}

impl PortingTable {
    /// A table of `rows` alone (a full import), and the rows refused. Same as
    /// [`PortingTable::apply`] on an empty table.
    pub fn from_rows(rows: &[PortingRow]) -> (PortingTable, RowErrors) {
        PortingTable::default().apply(rows)
    }

    /// Parses `csv` ([`parse_csv`]) and builds a table of its rows
    /// ([`PortingTable::from_rows`]); the errors of both, by line.
    pub fn import_csv(csv: &[u8]) -> (PortingTable, RowErrors) {
        let parsed = parse_csv(csv);
        let (table, build_errors) = PortingTable::from_rows(&parsed.rows);
        let mut errors = parsed.errors;
        errors.append(build_errors);
        (table, errors)
    }

    /// This table with `rows` applied in order (an incremental update), and the rows
    /// refused; `self` is unchanged. The result is the table a full import of this table's
    /// rows followed by `rows` would give. `O(n + m log m)`.
    pub fn apply(&self, rows: &[PortingRow]) -> (PortingTable, RowErrors) {
        let mut errors = RowErrors::default();
        let mut names = Names::new(&self.networks);
        let mut singles: Vec<(u64, u16)> = Vec::with_capacity(rows.len());
        let mut ranges = Vec::new();
        for row in rows {
            match row.target {
                PortTarget::Number(n) if !is_number(n) => {
                    errors.push(row.line, RowErrorKind::BadNumber, || {
                        format!("bad number {n}: not an E.164 number")
                    });
                    continue;
                }
                PortTarget::Range { start, end } => {
                    if let Err(why) = check_range(start, end) {
                        errors.push(row.line, RowErrorKind::BadRange, || {
                            format!("bad range {start}-{end}: {why}")
                        });
                        continue;
                    }
                }
                PortTarget::Number(_) => {}
            }
            let network = match row.action {
                PortAction::Delete => DELETE,
                PortAction::Port(network) => match names.intern(network) {
                    Some(i) => i,
                    None => {
                        errors.push(row.line, RowErrorKind::TooManyNetworks, || {
                            format!("network {network} would be one more than {MAX_NETWORKS}")
                        });
                        continue;
                    }
                },
            };
            match row.target {
                PortTarget::Number(n) => singles.push((n, network)),
                PortTarget::Range { start, end } => ranges.push(RangeRow {
                    line: row.line,
                    start,
                    end,
                    network,
                }),
            }
        }
        let (mut numbers, mut number_networks) = self.merge_numbers(singles);
        let (mut range_starts, mut range_ends, mut range_networks) =
            self.merge_ranges(&ranges, &names, &mut errors);
        let networks = canonical_networks(&names.list, &mut number_networks, &mut range_networks);
        numbers.shrink_to_fit();
        number_networks.shrink_to_fit();
        range_starts.shrink_to_fit();
        range_ends.shrink_to_fit();
        range_networks.shrink_to_fit();
        errors.sort();
        let table = PortingTable {
            fences: fences(&numbers),
            numbers,
            number_networks,
            range_starts,
            range_ends,
            range_networks,
            networks,
        };
        (table, errors)
    }

    /// The table's numbers with `update` (number, network or [`DELETE`], in row order)
    /// merged in: the last row of a number wins.
    fn merge_numbers(&self, mut update: Vec<(u64, u16)>) -> (Vec<u64>, Vec<u16>) {
        // Stable: the rows of one number stay in row order, so the last one is the last.
        update.sort_by_key(|&(n, _)| n);
        update.dedup_by(|later, earlier| {
            let same = later.0 == earlier.0;
            if same {
                *earlier = *later;
            }
            same
        });
        let (old, old_networks) = (&self.numbers[..], &self.number_networks[..]);
        let mut numbers = Vec::with_capacity(old.len() + update.len());
        let mut networks = Vec::with_capacity(old.len() + update.len());
        let mut i = 0;
        for (n, network) in update {
            // Copy the run of untouched entries before `n` in one go.
            let rest = old.get(i..).unwrap_or_default();
            let next = i + rest.partition_point(|&x| x < n);
            numbers.extend_from_slice(old.get(i..next).unwrap_or_default());
            networks.extend_from_slice(old_networks.get(i..next).unwrap_or_default());
            i = next;
            if old.get(i) == Some(&n) {
                i += 1;
            }
            if network != DELETE {
                numbers.push(n);
                networks.push(network);
            }
        }
        numbers.extend_from_slice(old.get(i..).unwrap_or_default());
        networks.extend_from_slice(old_networks.get(i..).unwrap_or_default());
        (numbers, networks)
    }

    /// The table's ranges with `rows` applied in order; refused rows go to `errors`.
    fn merge_ranges(
        &self,
        rows: &[RangeRow],
        names: &Names,
        errors: &mut RowErrors,
    ) -> (Vec<u64>, Vec<u64>, Vec<u16>) {
        let (starts, ends, networks) = (
            &self.range_starts[..],
            &self.range_ends[..],
            &self.range_networks[..],
        );
        if rows.is_empty() {
            return (starts.to_vec(), ends.to_vec(), networks.to_vec());
        }
        // The table's ranges stay put; `removed` and `added` say what changed. Together
        // the live ones never overlap.
        let mut removed = vec![false; starts.len()];
        let mut added: BTreeMap<u64, (u64, u16)> = BTreeMap::new();
        for row in rows {
            let (s, e) = (row.start, row.end);
            let same_in_table = starts
                .binary_search(&s)
                .ok()
                .filter(|&i| ends.get(i) == Some(&e) && removed.get(i) == Some(&false));
            // The table's ranges overlapping [s, e] are a run: ends and starts both ascend.
            let from = ends.partition_point(|&x| x < s);
            let to = starts.partition_point(|&x| x <= e);
            let in_table = (from..to)
                .filter(|&i| removed.get(i) == Some(&false) && Some(i) != same_in_table)
                .find_map(|i| Some((*starts.get(i)?, *ends.get(i)?, *networks.get(i)?)));
            let in_added = added
                .range(..=e)
                .rev()
                .take_while(|(_, (end, _))| *end >= s)
                .filter(|(start, (end, _))| (**start, *end) != (s, e))
                .last()
                .map(|(&start, &(end, network))| (start, end, network));
            // The lowest one, wherever it is, so the message does not depend on which
            // rows came in an earlier update.
            let conflict = in_table.into_iter().chain(in_added).min();
            if let Some((cs, ce, cn)) = conflict {
                let cn = names.name(cn);
                if row.network == DELETE {
                    errors.push(row.line, RowErrorKind::RangeMismatch, || {
                        format!(
                            "delete of range {s}-{e} does not match the range {cs}-{ce} ({cn}) \
                             it overlaps; delete ranges with the ends they were imported with"
                        )
                    });
                } else {
                    errors.push(row.line, RowErrorKind::Overlap, || {
                        format!(
                            "range {s}-{e} overlaps the range {cs}-{ce} ({cn}); delete that \
                             one first"
                        )
                    });
                }
                continue;
            }
            if let Some(slot) = same_in_table.and_then(|i| removed.get_mut(i)) {
                *slot = true;
            }
            if row.network == DELETE {
                added.remove(&s);
            } else {
                added.insert(s, (e, row.network));
            }
        }
        let live = removed.iter().filter(|r| !**r).count() + added.len();
        let mut out = (
            Vec::with_capacity(live),
            Vec::with_capacity(live),
            Vec::with_capacity(live),
        );
        let mut kept = (0..starts.len())
            .filter(|&i| removed.get(i) == Some(&false))
            .filter_map(|i| Some((*starts.get(i)?, *ends.get(i)?, *networks.get(i)?)))
            .peekable();
        let mut new = added.into_iter().map(|(s, (e, n))| (s, e, n)).peekable();
        loop {
            let next = match (kept.peek(), new.peek()) {
                (Some(a), Some(b)) if a.0 < b.0 => kept.next(),
                (_, Some(_)) => new.next(),
                (Some(_), None) => kept.next(),
                (None, None) => None,
            };
            let Some((s, e, n)) = next else { break };
            out.0.push(s);
            out.1.push(e);
            out.2.push(n);
        }
        out
    }

    /// The number's network, if it is ported: its own entry first, then a range. `number`
    /// is E.164 digits, a leading `+` allowed; anything else misses. Allocates nothing.
    pub fn lookup(&self, number: &str) -> Option<Ported<'_>> {
        self.lookup_number(parse_number(number.as_bytes()).ok()?)
    }

    /// [`PortingTable::lookup`] for a number already held as an integer.
    pub fn lookup_number(&self, number: u64) -> Option<Ported<'_>> {
        // The fences first (small, cache-resident), then one block of the numbers.
        if let Some(block) = self.fences.partition_point(|&f| f <= number).checked_sub(1) {
            let from = block * FENCE;
            let to = (from + FENCE).min(self.numbers.len());
            let found = self.numbers.get(from..to)?.binary_search(&number);
            if let Ok(i) = found {
                return Some(Ported {
                    network: self.network_name(*self.number_networks.get(from + i)?),
                    range: None,
                });
            }
        }
        let i = self
            .range_starts
            .partition_point(|&s| s <= number)
            .checked_sub(1)?;
        let (start, end) = (*self.range_starts.get(i)?, *self.range_ends.get(i)?);
        (number <= end).then_some(())?;
        Some(Ported {
            network: self.network_name(*self.range_networks.get(i)?),
            range: Some((start, end)),
        })
    }

    fn network_name(&self, i: u16) -> &str {
        self.networks.get(usize::from(i)).map_or("", MccMnc::as_str)
    }

    /// How many numbers have an entry of their own.
    pub fn len(&self) -> usize {
        self.numbers.len()
    }

    /// How many ranges there are.
    pub fn ranges_len(&self) -> usize {
        self.range_starts.len()
    }

    /// No numbers and no ranges.
    pub fn is_empty(&self) -> bool {
        self.numbers.is_empty() && self.range_starts.is_empty()
    }

    /// The networks the entries name, sorted.
    pub fn networks(&self) -> &[MccMnc] {
        &self.networks
    }

    /// The numbers with their own entry and their networks, ascending.
    pub fn numbers(&self) -> impl Iterator<Item = (u64, MccMnc)> + '_ {
        self.numbers
            .iter()
            .zip(&self.number_networks)
            .map(|(&n, &i)| (n, self.network_at(i)))
    }

    /// The ranges (start, end, network), ascending.
    pub fn ranges(&self) -> impl Iterator<Item = (u64, u64, MccMnc)> + '_ {
        self.range_starts
            .iter()
            .zip(&self.range_ends)
            .zip(&self.range_networks)
            .map(|((&s, &e), &i)| (s, e, self.network_at(i)))
    }

    fn network_at(&self, i: u16) -> MccMnc {
        self.networks
            .get(usize::from(i))
            .copied()
            .unwrap_or(MccMnc::NONE)
    }

    /// The heap memory the table holds, in bytes (its vectors' capacities).
    pub fn heap_bytes(&self) -> usize {
        use std::mem::size_of;
        (self.numbers.capacity() + self.fences.capacity()) * size_of::<u64>()
            + self.number_networks.capacity() * size_of::<u16>()
            + (self.range_starts.capacity() + self.range_ends.capacity()) * size_of::<u64>()
            + self.range_networks.capacity() * size_of::<u16>()
            + self.networks.capacity() * size_of::<MccMnc>()
    }

    /// The snapshot form (see the module docs): versioned, little-endian, checksummed.
    pub fn encode(&self) -> Vec<u8> {
        let networks_len: usize = self.networks.iter().map(|n| 1 + n.as_str().len()).sum();
        let len = HEADER_LEN
            + networks_len
            + self.numbers.len() * 10
            + self.range_starts.len() * 18
            + CHECKSUM_LEN;
        let mut out = Vec::with_capacity(len);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&SNAPSHOT_VERSION.to_le_bytes());
        // A built or decoded table has at most MAX_NETWORKS (u16::MAX) networks.
        let count = u16::try_from(self.networks.len()).unwrap_or(u16::MAX);
        out.extend_from_slice(&count.to_le_bytes());
        out.extend_from_slice(&(self.numbers.len() as u64).to_le_bytes());
        out.extend_from_slice(&(self.range_starts.len() as u64).to_le_bytes());
        for network in &self.networks {
            let digits = network.as_str().as_bytes();
            out.push(network.len);
            out.extend_from_slice(digits);
        }
        for &n in &self.numbers {
            out.extend_from_slice(&n.to_le_bytes());
        }
        for &i in &self.number_networks {
            out.extend_from_slice(&i.to_le_bytes());
        }
        for values in [&self.range_starts, &self.range_ends] {
            for &v in values {
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
        for &i in &self.range_networks {
            out.extend_from_slice(&i.to_le_bytes());
        }
        let checksum = fnv1a64(&out);
        out.extend_from_slice(&checksum.to_le_bytes());
        out
    }

    /// A table from its snapshot form, every invariant checked; never panics.
    pub fn decode(bytes: &[u8]) -> Result<PortingTable, PortingError> {
        let mut reader = Reader { bytes, pos: 0 };
        if reader.take(MAGIC.len())? != MAGIC {
            return Err(PortingError::BadMagic);
        }
        let version = reader.u16()?;
        if version != SNAPSHOT_VERSION {
            return Err(PortingError::UnsupportedVersion(version));
        }
        let network_count = usize::from(reader.u16()?);
        let number_count = reader.u64()?;
        let range_count = reader.u64()?;
        let mut raw_networks = Vec::with_capacity(network_count);
        for _ in 0..network_count {
            let len = reader.u8()?;
            raw_networks.push(reader.take(usize::from(len))?);
        }
        // Check the length the counts announce before allocating anything by them.
        let needed = number_count
            .checked_mul(10)
            .and_then(|n| range_count.checked_mul(18).and_then(|r| n.checked_add(r)))
            .and_then(|arrays| arrays.checked_add(reader.pos as u64 + CHECKSUM_LEN as u64));
        match needed {
            None => {
                return Err(PortingError::Truncated {
                    needed: u64::MAX,
                    len: bytes.len(),
                });
            }
            Some(needed) if needed > bytes.len() as u64 => {
                return Err(PortingError::Truncated {
                    needed,
                    len: bytes.len(),
                });
            }
            Some(needed) if needed < bytes.len() as u64 => {
                return Err(PortingError::TrailingBytes {
                    expected: needed,
                    len: bytes.len(),
                });
            }
            Some(_) => {}
        }
        let (content, stored) = bytes.split_at(bytes.len() - CHECKSUM_LEN);
        let stored = stored.first_chunk().map_or(0, |b| u64::from_le_bytes(*b));
        let computed = fnv1a64(content);
        if stored != computed {
            return Err(PortingError::Checksum { stored, computed });
        }

        let mut networks = Vec::with_capacity(network_count);
        for (index, raw) in raw_networks.into_iter().enumerate() {
            networks.push(MccMnc::from_digits(raw).ok_or(PortingError::BadNetwork { index })?);
        }
        let mut sorted = networks.clone();
        sorted.sort_unstable();
        if let Some(pair) = sorted.windows(2).find(|w| w.first() == w.get(1)) {
            return Err(PortingError::DuplicateNetwork {
                network: pair.first().copied().unwrap_or(MccMnc::NONE),
            });
        }
        // Both counts fit: the bytes to hold them are there.
        let numbers_len = usize::try_from(number_count).unwrap_or(usize::MAX);
        let ranges_len = usize::try_from(range_count).unwrap_or(usize::MAX);
        let numbers = u64s(reader.take(numbers_len * 8)?);
        let number_networks = u16s(reader.take(numbers_len * 2)?);
        let range_starts = u64s(reader.take(ranges_len * 8)?);
        let range_ends = u64s(reader.take(ranges_len * 8)?);
        let range_networks = u16s(reader.take(ranges_len * 2)?);

        let mut previous = 0;
        for (index, &n) in numbers.iter().enumerate() {
            if !is_number(n) {
                return Err(PortingError::BadNumber {
                    section: "numbers",
                    index,
                    value: n,
                });
            }
            if n <= previous {
                return Err(PortingError::NotSorted {
                    section: "numbers",
                    index,
                });
            }
            previous = n;
        }
        check_indexes("numbers", &number_networks, network_count)?;
        let mut previous_end = 0;
        for (index, (&start, &end)) in range_starts.iter().zip(&range_ends).enumerate() {
            for value in [start, end] {
                if !is_number(value) {
                    return Err(PortingError::BadNumber {
                        section: "ranges",
                        index,
                        value,
                    });
                }
            }
            if check_range(start, end).is_err() {
                return Err(PortingError::BadRange { index, start, end });
            }
            if start <= previous_end {
                return Err(PortingError::NotSorted {
                    section: "ranges",
                    index,
                });
            }
            previous_end = end;
        }
        check_indexes("ranges", &range_networks, network_count)?;
        Ok(PortingTable {
            fences: fences(&numbers),
            numbers,
            number_networks,
            range_starts,
            range_ends,
            range_networks,
            networks,
        })
    }
}

/// Every [`FENCE`]th number.
fn fences(numbers: &[u64]) -> Vec<u64> {
    numbers.iter().step_by(FENCE).copied().collect()
}

/// The networks in use, sorted, with `number_networks` and `range_networks` rewritten to
/// index them.
fn canonical_networks(
    names: &[MccMnc],
    number_networks: &mut [u16],
    range_networks: &mut [u16],
) -> Vec<MccMnc> {
    let mut used = vec![false; names.len()];
    for &i in number_networks.iter().chain(range_networks.iter()) {
        if let Some(slot) = used.get_mut(usize::from(i)) {
            *slot = true;
        }
    }
    let mut order: Vec<usize> = (0..names.len())
        .filter(|&i| used.get(i) == Some(&true))
        .collect();
    order.sort_by_key(|&i| names.get(i).copied());
    let identity = order.len() == names.len() && order.iter().enumerate().all(|(a, &b)| a == b);
    if !identity {
        let mut remap = vec![0u16; names.len()];
        for (new, &old) in order.iter().enumerate() {
            if let Some(slot) = remap.get_mut(old) {
                // At most MAX_NETWORKS names, so `new` fits.
                *slot = u16::try_from(new).unwrap_or(DELETE);
            }
        }
        for i in number_networks.iter_mut().chain(range_networks.iter_mut()) {
            *i = remap.get(usize::from(*i)).copied().unwrap_or(DELETE);
        }
    }
    order
        .iter()
        .filter_map(|&i| names.get(i).copied())
        .collect()
}

fn check_indexes(section: &'static str, indexes: &[u16], count: usize) -> Result<(), PortingError> {
    match indexes.iter().position(|&i| usize::from(i) >= count) {
        None => Ok(()),
        Some(index) => Err(PortingError::NetworkIndex {
            section,
            index,
            network: indexes.get(index).copied().unwrap_or_default(),
            count,
        }),
    }
}

fn u64s(bytes: &[u8]) -> Vec<u64> {
    let (words, _) = bytes.as_chunks::<8>();
    words.iter().map(|w| u64::from_le_bytes(*w)).collect()
}

fn u16s(bytes: &[u8]) -> Vec<u16> {
    let (pairs, _) = bytes.as_chunks::<2>();
    pairs.iter().map(|p| u16::from_le_bytes(*p)).collect()
}

/// FNV-1a, 64 bits.
fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(FNV_OFFSET, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(FNV_PRIME)
    })
}

/// A cursor over a snapshot that reports running short as [`PortingError::Truncated`].
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], PortingError> {
        let slice = self
            .pos
            .checked_add(n)
            .and_then(|end| self.bytes.get(self.pos..end))
            .ok_or(PortingError::Truncated {
                needed: (self.pos as u64).saturating_add(n as u64),
                len: self.bytes.len(),
            })?;
        self.pos += n;
        Ok(slice)
    }

    fn u8(&mut self) -> Result<u8, PortingError> {
        Ok(self.take(1)?.first().copied().unwrap_or_default())
    }

    fn u16(&mut self) -> Result<u16, PortingError> {
        Ok(self
            .take(2)?
            .first_chunk()
            .map_or(0, |b| u16::from_le_bytes(*b)))
    }

    fn u64(&mut self) -> Result<u64, PortingError> {
        Ok(self
            .take(8)?
            .first_chunk()
            .map_or(0, |b| u64::from_le_bytes(*b)))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use std::collections::BTreeSet;

    use proptest::prelude::*;

    use super::*;

    fn net(text: &str) -> MccMnc {
        MccMnc::parse(text).unwrap()
    }

    fn port(line: usize, n: u64, network: &str) -> PortingRow {
        PortingRow {
            line,
            target: PortTarget::Number(n),
            action: PortAction::Port(net(network)),
        }
    }

    fn port_range(line: usize, start: u64, end: u64, network: &str) -> PortingRow {
        PortingRow {
            line,
            target: PortTarget::Range { start, end },
            action: PortAction::Port(net(network)),
        }
    }

    fn delete(line: usize, target: PortTarget) -> PortingRow {
        PortingRow {
            line,
            target,
            action: PortAction::Delete,
        }
    }

    fn build(rows: &[PortingRow]) -> PortingTable {
        let (table, errors) = PortingTable::from_rows(rows);
        assert!(errors.is_empty(), "{errors:?}");
        table
    }

    /// (line, kind) of every error kept.
    fn kinds(errors: &RowErrors) -> Vec<(usize, RowErrorKind)> {
        errors.kept().iter().map(|e| (e.line, e.kind)).collect()
    }

    fn single(parsed: &ParsedCsv) -> (PortTarget, PortAction) {
        assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
        assert_eq!(parsed.rows.len(), 1, "{:?}", parsed.rows);
        (parsed.rows[0].target, parsed.rows[0].action)
    }

    #[test]
    fn mcc_mnc_forms() {
        assert_eq!(net("23415").as_str(), "23415");
        assert_eq!(net("234-15").as_str(), "23415");
        assert_eq!(net("234015").as_str(), "234015");
        assert_eq!(net("310-260").as_str(), "310260");
        for bad in [
            "", "2341", "2341567", "23-415", "2341-5", "-23415", "234-", "234--15", "23a15",
            "234 15", "+23415",
        ] {
            assert_eq!(MccMnc::parse(bad), None, "{bad:?}");
        }
        // The derived order is the strings' order.
        assert!(net("23415") < net("234150"));
        assert!(net("234150") < net("23416"));
    }

    #[test]
    fn every_accepted_row_form() {
        let uk = PortAction::Port(net("23415"));
        let n = PortTarget::Number(447_700_900_123);
        for line in [
            "447700900123,23415",
            "447700900123;23415",
            "447700900123\t23415",
            "  447700900123 ,\t23415  ",
            "+447700900123,23415",
            "447700900123,234-15",
            "447700900123,23415,",
            "447700900123,23415,port",
            "447700900123,23415,PORT",
            "447700900123,23415,,",
            "447700900123;23415;port;",
            "447700900123 ;\t23415",
            "447700900123,23415\r",
        ] {
            assert_eq!(single(&parse_csv(line.as_bytes())), (n, uk), "{line:?}");
        }
        for line in [
            "447700900123,,delete",
            "447700900123,23415,delete",
            "447700900123,,Remove",
            "447700900123;;DELETE",
            "447700900123,delete",
            "447700900123,remove",
        ] {
            assert_eq!(
                single(&parse_csv(line.as_bytes())),
                (n, PortAction::Delete),
                "{line:?}"
            );
        }
        let range = PortTarget::Range {
            start: 447_700_900_000,
            end: 447_700_900_999,
        };
        for line in [
            "447700900000-447700900999,23415",
            "+447700900000-+447700900999,23415",
            "447700900000 - 447700900999 ; 234-15",
        ] {
            assert_eq!(single(&parse_csv(line.as_bytes())), (range, uk), "{line:?}");
        }
        assert_eq!(
            single(&parse_csv(b"1-9,310260")),
            (
                PortTarget::Range { start: 1, end: 9 },
                PortAction::Port(net("310260"))
            )
        );
        // A one-number range and the longest number.
        assert_eq!(
            single(&parse_csv(b"447700900123-447700900123,23415")).0,
            PortTarget::Range {
                start: 447_700_900_123,
                end: 447_700_900_123
            }
        );
        assert_eq!(
            single(&parse_csv(b"999999999999999,23415")).0,
            PortTarget::Number(999_999_999_999_999)
        );
    }

    #[test]
    fn header_comments_blank_lines_and_line_numbers() {
        let csv = "\u{feff}# exported 2024-01-01\n\
                   \n\
                   number,network,action\n\
                   447700900001,23415\r\n\
                   \t\n\
                   # a comment\n\
                   447700900002;23410;port\n\
                   number,network\n\
                   447700900003,,delete\n";
        let parsed = parse_csv(csv.as_bytes());
        let lines: Vec<usize> = parsed.rows.iter().map(|r| r.line).collect();
        assert_eq!(lines, [4, 7, 9]);
        assert_eq!(parsed.rows[1].target, PortTarget::Number(447_700_900_002));
        // Only the first data line can be a header; a later one is a bad row.
        assert_eq!(kinds(&parsed.errors), [(8, RowErrorKind::BadNumber)]);

        // No header: the first line is data.
        let parsed = parse_csv(b"447700900001,23415\n447700900002,23415");
        assert_eq!(parsed.rows.len(), 2);
        assert!(parsed.errors.is_empty());
        // A first line with digits is not taken for a header.
        let parsed = parse_csv(b"4477x,23415\n447700900002,23415");
        assert_eq!(kinds(&parsed.errors), [(1, RowErrorKind::BadNumber)]);
        assert_eq!(parsed.rows.len(), 1);
        // Empty input, only comments.
        assert_eq!(parse_csv(b""), ParsedCsv::default());
        assert_eq!(parse_csv(b"# nothing\n\n"), ParsedCsv::default());
    }

    #[test]
    fn every_row_error_with_its_line() {
        let csv = [
            "number,network",                  // 1 header
            "447700900123",                    // 2 no network column
            "447700900123,",                   // 3 empty network for a port
            "44770090012x,23415",              // 4 not digits
            "047700900123,23415",              // 5 leading 0
            "4477009001234567,23415",          // 6 16 digits
            ",23415",                          // 7 empty number
            "447700900000-44770090099,23415",  // 8 ends of different lengths
            "447700900999-447700900000,23415", // 9 start after end
            "447700900000-4477009009x9,23415", // 10 bad end
            "-447700900999,23415",             // 11 empty start
            "447700900123,2341",               // 12 network too short
            "447700900123,2341567",            // 13 network too long
            "447700900123,23-415",             // 14 hyphen in the wrong place
            "447700900123,MCCMN",              // 15 letters
            "447700900123,23415,move",         // 16 unknown action
            "447700900123,23415,port,extra",   // 17 fourth column
            "447700900123,xx,delete",          // 18 a delete's network is still checked
            "447700900123,23415",              // 19 good
        ]
        .join("\n");
        let parsed = parse_csv(csv.as_bytes());
        use RowErrorKind::*;
        assert_eq!(
            kinds(&parsed.errors),
            [
                (2, MissingColumn),
                (3, MissingColumn),
                (4, BadNumber),
                (5, BadNumber),
                (6, BadNumber),
                (7, BadNumber),
                (8, BadRange),
                (9, BadRange),
                (10, BadRange),
                (11, BadRange),
                (12, BadNetwork),
                (13, BadNetwork),
                (14, BadNetwork),
                (15, BadNetwork),
                (16, UnknownAction),
                (17, ExtraColumn),
                (18, BadNetwork),
            ]
        );
        assert_eq!(parsed.errors.total(), 17);
        assert_eq!(parsed.rows.len(), 1);
        assert_eq!(parsed.rows[0].line, 19);
        let reason = |line: usize| {
            let error = parsed
                .errors
                .kept()
                .iter()
                .find(|e| e.line == line)
                .unwrap();
            (error.reason.clone(), error.to_string())
        };
        assert!(reason(4).0.contains("\"44770090012x\""), "{:?}", reason(4));
        assert!(reason(5).0.contains("starts with 0"));
        assert!(reason(6).0.contains("more than 15 digits"));
        assert!(reason(8).0.contains("different lengths (12 and 11 digits)"));
        assert!(reason(9).0.contains("start is after the end"));
        assert!(reason(10).0.contains("end: not all digits"));
        assert!(reason(16).0.contains("\"move\""));
        assert!(reason(17).0.contains("\"extra\""));
        assert!(reason(12).1.starts_with("line 12: bad network \"2341\""));
    }

    #[test]
    fn errors_are_capped_but_counted() {
        let mut csv = String::from("447700900000,23415\n");
        for i in 0..5_000 {
            csv.push_str(&format!("bad{i},23415\n"));
        }
        csv.push_str(&"x".repeat(10_000));
        let parsed = parse_csv(csv.as_bytes());
        assert_eq!(parsed.rows.len(), 1);
        assert_eq!(parsed.errors.total(), 5_001);
        assert_eq!(parsed.errors.kept().len(), MAX_KEPT_ERRORS);
        assert_eq!(parsed.errors.omitted(), 5_001 - MAX_KEPT_ERRORS);
        assert_eq!(parsed.errors.kept()[0].line, 2);
        assert_eq!(parsed.errors.kept()[999].line, 1_001);
        // A long field is quoted short.
        let parsed = parse_csv(format!("1{}", "y".repeat(10_000)).as_bytes());
        assert!(parsed.errors.kept()[0].reason.len() < 200);
    }

    #[test]
    fn later_rows_win_and_deletes_remove() {
        let n = PortTarget::Number(447_700_900_123);
        let rows = [
            port(1, 447_700_900_123, "23415"),
            port(2, 447_700_900_124, "23415"),
            port(3, 447_700_900_123, "23410"),
            delete(4, PortTarget::Number(447_700_900_124)),
            delete(5, PortTarget::Number(447_700_900_999)),
            delete(6, PortTarget::Number(447_700_900_125)),
            port(7, 447_700_900_125, "23420"),
        ];
        let table = build(&rows);
        assert_eq!(table.lookup("447700900123").unwrap().network, "23410");
        assert_eq!(table.lookup("447700900124"), None);
        assert_eq!(table.lookup("447700900999"), None);
        assert_eq!(table.lookup("447700900125").unwrap().network, "23420");
        assert_eq!(table.len(), 2);
        // The unused network 23415 is gone; the rest are sorted.
        assert_eq!(table.networks(), [net("23410"), net("23420")]);
        let table = build(&[rows[0], delete(2, n)]);
        assert!(table.is_empty());
        assert!(table.networks().is_empty());
    }

    #[test]
    fn range_lookups() {
        let table = build(&[
            port_range(1, 447_700_900_000, 447_700_900_999, "23415"),
            port_range(2, 447_700_901_000, 447_700_901_009, "23410"),
            port(3, 447_700_900_500, "23420"),
            port_range(4, 44_770_090_000, 44_770_090_999, "23430"),
        ]);
        let range = Some((447_700_900_000, 447_700_900_999));
        let at = |n: &str| table.lookup(n);
        assert_eq!(
            at("447700900000"),
            Some(Ported {
                network: "23415",
                range
            })
        );
        assert_eq!(at("447700900999").unwrap().range, range);
        assert_eq!(at("447700900001").unwrap().network, "23415");
        assert_eq!(at("447700899999"), None);
        // The next range starts right after.
        assert_eq!(at("447700901000").unwrap().network, "23410");
        assert_eq!(at("447700901009").unwrap().network, "23410");
        assert_eq!(at("447700901010"), None);
        // A number of its own beats the range holding it.
        assert_eq!(
            at("447700900500"),
            Some(Ported {
                network: "23420",
                range: None
            })
        );
        assert_eq!(at("447700900501").unwrap().network, "23415");
        // Other lengths never fall into a 12-digit range, even with its digits as a prefix.
        assert_eq!(at("4477009005001"), None);
        assert_eq!(at("44770090050"), at("44770090050"));
        assert_eq!(at("44770090050").unwrap().network, "23430");
        assert_eq!(at("4477009009990"), None);
        assert_eq!(at("447700901"), None);
        // A `+` is fine; anything not E.164 misses.
        assert_eq!(at("+447700900000").unwrap().network, "23415");
        for bad in [
            "",
            "+",
            "0447700900000",
            "44770090000x",
            "4477009000001234",
            " 447700900000",
        ] {
            assert_eq!(at(bad), None, "{bad:?}");
        }
        assert_eq!(table.len(), 1);
        assert_eq!(table.ranges_len(), 3);
        assert_eq!(
            table.ranges().map(|r| r.0).collect::<Vec<_>>(),
            [44_770_090_000, 447_700_900_000, 447_700_901_000]
        );
    }

    #[test]
    fn ranges_are_whole_units() {
        let r = |start, end| PortTarget::Range { start, end };
        let (table, errors) = PortingTable::from_rows(&[
            port_range(1, 447_700_900_000, 447_700_900_999, "23415"),
            // Overlaps at either end, inside, or around: refused.
            port_range(2, 447_700_900_999, 447_700_901_999, "23410"),
            port_range(3, 447_700_899_000, 447_700_900_000, "23410"),
            port_range(4, 447_700_900_100, 447_700_900_199, "23410"),
            port_range(5, 447_700_800_000, 447_700_999_999, "23410"),
            // Adjacent: fine.
            port_range(6, 447_700_901_000, 447_700_901_999, "23410"),
            // The same ends: moves the range to another network.
            port_range(7, 447_700_901_000, 447_700_901_999, "23420"),
            // A delete must name a range as it is.
            delete(8, r(447_700_900_000, 447_700_900_499)),
            // A delete of nothing does nothing.
            delete(9, r(447_700_902_000, 447_700_902_999)),
        ]);
        assert_eq!(
            kinds(&errors),
            [
                (2, RowErrorKind::Overlap),
                (3, RowErrorKind::Overlap),
                (4, RowErrorKind::Overlap),
                (5, RowErrorKind::Overlap),
                (8, RowErrorKind::RangeMismatch),
            ]
        );
        assert!(
            errors.kept()[0]
                .reason
                .contains("overlaps the range 447700900000-447700900999 (23415)"),
            "{:?}",
            errors.kept()[0]
        );
        assert_eq!(
            table.ranges().collect::<Vec<_>>(),
            [
                (447_700_900_000, 447_700_900_999, net("23415")),
                (447_700_901_000, 447_700_901_999, net("23420")),
            ]
        );
        // Deleting with the exact ends, then the space is free again.
        let (table, errors) = table.apply(&[
            delete(1, r(447_700_900_000, 447_700_900_999)),
            port_range(2, 447_700_900_100, 447_700_900_199, "23430"),
        ]);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(table.lookup("447700900000"), None);
        assert_eq!(table.lookup("447700900150").unwrap().network, "23430");
        assert_eq!(table.networks(), [net("23420"), net("23430")]);
        // A number deleted inside a range is not a hole in it.
        let table = build(&[
            port_range(1, 447_700_900_000, 447_700_900_999, "23415"),
            port(2, 447_700_900_123, "23410"),
            delete(3, PortTarget::Number(447_700_900_123)),
        ]);
        assert_eq!(table.lookup("447700900123").unwrap().network, "23415");
    }

    #[test]
    fn hand_made_rows_are_validated() {
        let (table, errors) = PortingTable::from_rows(&[
            port(1, 0, "23415"),
            port(2, NUMBER_LIMIT, "23415"),
            port_range(3, 99, 100, "23415"),
            port_range(4, 200, 100, "23415"),
            delete(5, PortTarget::Number(0)),
            port(6, 447_700_900_123, "23415"),
        ]);
        use RowErrorKind::*;
        assert_eq!(
            kinds(&errors),
            [
                (1, BadNumber),
                (2, BadNumber),
                (3, BadRange),
                (4, BadRange),
                (5, BadNumber)
            ]
        );
        assert_eq!(table.len(), 1);
        assert_eq!(table.ranges_len(), 0);
    }

    #[test]
    fn too_many_networks_is_a_row_error() {
        let rows: Vec<PortingRow> = (0..=MAX_NETWORKS)
            .map(|i| {
                let network = MccMnc::parse(&format!("{:05}", i + 10_000)).unwrap();
                PortingRow {
                    line: i + 1,
                    target: PortTarget::Number(100_000 + i as u64),
                    action: PortAction::Port(network),
                }
            })
            .collect();
        let (table, errors) = PortingTable::from_rows(&rows);
        assert_eq!(
            kinds(&errors),
            [(MAX_NETWORKS + 1, RowErrorKind::TooManyNetworks)]
        );
        assert_eq!(table.networks().len(), MAX_NETWORKS);
        assert_eq!(PortingTable::decode(&table.encode()).unwrap(), table);
    }

    #[test]
    fn import_csv_reports_both_stages_by_line() {
        let csv = b"447700900000-447700900999,23415\n\
                    447700900500-447700900599,23410\n\
                    bad,23415\n\
                    447700900123,23410\n";
        let (table, errors) = PortingTable::import_csv(csv);
        assert_eq!(
            kinds(&errors),
            [(2, RowErrorKind::Overlap), (3, RowErrorKind::BadNumber)]
        );
        assert_eq!(table.len(), 1);
        assert_eq!(table.ranges_len(), 1);
    }

    #[test]
    fn incremental_apply_keeps_the_old_table_and_equals_a_rebuild() {
        let first = [
            port(1, 447_700_900_001, "23415"),
            port(2, 447_700_900_003, "23410"),
            port(3, 447_700_900_005, "23415"),
            port_range(4, 33_600_000_000, 33_600_000_999, "20801"),
        ];
        let update = [
            port(5, 447_700_900_002, "23420"),
            delete(6, PortTarget::Number(447_700_900_003)),
            port(7, 447_700_900_005, "20801"),
            port(8, 447_700_900_009, "23415"),
            port_range(9, 33_600_000_000, 33_600_000_999, "20810"),
        ];
        let old = build(&first);
        let (new, errors) = old.apply(&update);
        assert!(errors.is_empty());
        assert_eq!(new, build(&[first.as_slice(), &update].concat()));
        assert_eq!(old, build(&first));
        assert_eq!(
            new.numbers().collect::<Vec<_>>(),
            [
                (447_700_900_001, net("23415")),
                (447_700_900_002, net("23420")),
                (447_700_900_005, net("20801")),
                (447_700_900_009, net("23415")),
            ]
        );
        assert_eq!(new.lookup("33600000500").unwrap().network, "20810");
        assert_eq!(
            new.networks(),
            [net("20801"), net("20810"), net("23415"), net("23420")]
        );
    }

    #[test]
    fn heap_bytes_is_about_ten_bytes_a_number() {
        let rows: Vec<PortingRow> = (0..100_000u64)
            .map(|i| {
                port(
                    1,
                    447_700_000_000 + i * 7,
                    ["23415", "23410"][(i % 2) as usize],
                )
            })
            .collect();
        let table = build(&rows);
        assert_eq!(table.len(), 100_000);
        let bytes = table.heap_bytes();
        // 10 bytes a number, and the fences: 8 bytes for every 64th.
        assert!((1_012_500..1_013_000).contains(&bytes), "{bytes}");
    }

    #[test]
    fn lookups_across_fence_blocks() {
        let rows: Vec<PortingRow> = (0..1_000u64)
            .map(|i| port(1, 100_000 + 3 * i, ["23415", "23410"][(i % 2) as usize]))
            .collect();
        let table = build(&rows);
        for n in 99_990..103_010u64 {
            let expected = (100_000..103_000).contains(&n) && (n - 100_000) % 3 == 0;
            let found = table.lookup_number(n);
            assert_eq!(found.is_some(), expected, "{n}");
            if let Some(found) = found {
                let i = (n - 100_000) / 3;
                assert_eq!(found.network, ["23415", "23410"][(i % 2) as usize]);
            }
        }
        let decoded = PortingTable::decode(&table.encode()).unwrap();
        assert_eq!(decoded.lookup_number(102_997).unwrap().network, "23410");
        assert_eq!(decoded, table);
    }

    #[test]
    fn snapshot_round_trip() {
        let empty = PortingTable::default();
        let bytes = empty.encode();
        assert_eq!(bytes.len(), HEADER_LEN + CHECKSUM_LEN);
        assert_eq!(&bytes[..4], b"HPRT");
        assert_eq!(PortingTable::decode(&bytes).unwrap(), empty);

        let table = build(&[
            port(1, 447_700_900_001, "23415"),
            port(2, 7, "310260"),
            port(3, 999_999_999_999_999, "23410"),
            port_range(4, 1, 6, "23415"),
            port_range(5, 447_700_800_000, 447_700_800_999, "310260"),
        ]);
        let bytes = table.encode();
        assert_eq!(
            bytes.len(),
            HEADER_LEN + 3 * 6 + 1 + 3 * 10 + 2 * 18 + CHECKSUM_LEN
        );
        let decoded = PortingTable::decode(&bytes).unwrap();
        assert_eq!(decoded, table);
        assert_eq!(decoded.encode(), bytes);
        assert_eq!(decoded.lookup("3").unwrap().range, Some((1, 6)));
    }

    /// A snapshot of whatever is given, valid or not, with a correct checksum.
    fn raw(networks: &[&str], numbers: &[(u64, u16)], ranges: &[(u64, u64, u16)]) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(b"HPRT");
        out.extend_from_slice(&1u16.to_le_bytes());
        out.extend_from_slice(&(networks.len() as u16).to_le_bytes());
        out.extend_from_slice(&(numbers.len() as u64).to_le_bytes());
        out.extend_from_slice(&(ranges.len() as u64).to_le_bytes());
        for n in networks {
            out.push(n.len() as u8);
            out.extend_from_slice(n.as_bytes());
        }
        numbers
            .iter()
            .for_each(|n| out.extend_from_slice(&n.0.to_le_bytes()));
        numbers
            .iter()
            .for_each(|n| out.extend_from_slice(&n.1.to_le_bytes()));
        ranges
            .iter()
            .for_each(|r| out.extend_from_slice(&r.0.to_le_bytes()));
        ranges
            .iter()
            .for_each(|r| out.extend_from_slice(&r.1.to_le_bytes()));
        ranges
            .iter()
            .for_each(|r| out.extend_from_slice(&r.2.to_le_bytes()));
        seal(out)
    }

    fn seal(mut content: Vec<u8>) -> Vec<u8> {
        let sum = fnv1a64(&content);
        content.extend_from_slice(&sum.to_le_bytes());
        content
    }

    fn reseal(mut bytes: Vec<u8>) -> Vec<u8> {
        bytes.truncate(bytes.len() - CHECKSUM_LEN);
        seal(bytes)
    }

    #[test]
    fn raw_matches_encode() {
        let table = build(&[
            port(1, 447_700_900_001, "23415"),
            port_range(2, 10, 19, "23410"),
        ]);
        assert_eq!(
            raw(&["23410", "23415"], &[(447_700_900_001, 1)], &[(10, 19, 0)]),
            table.encode()
        );
    }

    #[test]
    fn decode_refuses_truncated_and_corrupted_snapshots() {
        let table = build(&[
            port(1, 447_700_900_001, "23415"),
            port(2, 447_700_900_002, "23410"),
            port_range(3, 447_700_800_000, 447_700_800_999, "310260"),
        ]);
        let bytes = table.encode();
        for len in 0..bytes.len() {
            match PortingTable::decode(&bytes[..len]) {
                Err(PortingError::Truncated { needed, len: got }) => {
                    assert_eq!(got, len);
                    assert!(needed > len as u64);
                }
                other => panic!("{len}: {other:?}"),
            }
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(
            PortingTable::decode(&longer),
            Err(PortingError::TrailingBytes {
                expected: bytes.len() as u64,
                len: bytes.len() + 1
            })
        );
        // Any one byte changed is caught, by the checksum or before it.
        for at in 0..bytes.len() {
            for flip in [0x01, 0x80, 0xff] {
                let mut bad = bytes.clone();
                bad[at] ^= flip;
                assert!(PortingTable::decode(&bad).is_err(), "byte {at} ^ {flip:#x}");
            }
        }
        let mut bad = bytes.clone();
        bad[HEADER_LEN + 20] ^= 1;
        assert!(matches!(
            PortingTable::decode(&bad),
            Err(PortingError::Checksum { .. })
        ));
        let mut bad = bytes.clone();
        bad[0] = b'X';
        assert_eq!(PortingTable::decode(&bad), Err(PortingError::BadMagic));
        let mut bad = bytes.clone();
        bad[4] = 2;
        assert_eq!(
            PortingTable::decode(&bad),
            Err(PortingError::UnsupportedVersion(2))
        );
    }

    #[test]
    fn decode_refuses_hostile_counts_without_allocating() {
        let mut bytes = raw(&[], &[], &[]);
        bytes[8..16].copy_from_slice(&u64::MAX.to_le_bytes());
        assert_eq!(
            PortingTable::decode(&bytes),
            Err(PortingError::Truncated {
                needed: u64::MAX,
                len: bytes.len()
            })
        );
        let mut bytes = raw(&[], &[], &[]);
        bytes[16..24].copy_from_slice(&(1u64 << 40).to_le_bytes());
        assert!(matches!(
            PortingTable::decode(&bytes),
            Err(PortingError::Truncated { needed, .. }) if needed > 1 << 44
        ));
        // 65535 networks announced, none there.
        let mut bytes = raw(&[], &[], &[]);
        bytes[6..8].copy_from_slice(&u16::MAX.to_le_bytes());
        assert!(matches!(
            PortingTable::decode(&bytes),
            Err(PortingError::Truncated { .. })
        ));
    }

    #[test]
    fn decode_checks_every_invariant() {
        let decode = PortingTable::decode;
        assert!(decode(&raw(&["23415"], &[(5, 0), (6, 0)], &[(10, 19, 0)])).is_ok());
        let cases: [(Vec<u8>, PortingError); 12] = [
            (
                raw(&["23415"], &[(6, 0), (5, 0)], &[]),
                PortingError::NotSorted {
                    section: "numbers",
                    index: 1,
                },
            ),
            (
                raw(&["23415"], &[(5, 0), (5, 0)], &[]),
                PortingError::NotSorted {
                    section: "numbers",
                    index: 1,
                },
            ),
            (
                raw(&["23415"], &[(0, 0)], &[]),
                PortingError::BadNumber {
                    section: "numbers",
                    index: 0,
                    value: 0,
                },
            ),
            (
                raw(&["23415"], &[(5, 0), (NUMBER_LIMIT, 0)], &[]),
                PortingError::BadNumber {
                    section: "numbers",
                    index: 1,
                    value: NUMBER_LIMIT,
                },
            ),
            (
                raw(&["23415"], &[(5, 1)], &[]),
                PortingError::NetworkIndex {
                    section: "numbers",
                    index: 0,
                    network: 1,
                    count: 1,
                },
            ),
            (
                raw(&["23415"], &[], &[(10, 19, 0), (30, 39, 1)]),
                PortingError::NetworkIndex {
                    section: "ranges",
                    index: 1,
                    network: 1,
                    count: 1,
                },
            ),
            (
                raw(&["23415"], &[], &[(30, 39, 0), (10, 19, 0)]),
                PortingError::NotSorted {
                    section: "ranges",
                    index: 1,
                },
            ),
            (
                raw(&["23415"], &[], &[(10, 19, 0), (19, 29, 0)]),
                PortingError::NotSorted {
                    section: "ranges",
                    index: 1,
                },
            ),
            (
                raw(&["23415"], &[], &[(10, 100, 0)]),
                PortingError::BadRange {
                    index: 0,
                    start: 10,
                    end: 100,
                },
            ),
            (
                raw(&["23415"], &[], &[(19, 10, 0)]),
                PortingError::BadRange {
                    index: 0,
                    start: 19,
                    end: 10,
                },
            ),
            (
                raw(&["23415", "2341x"], &[], &[]),
                PortingError::BadNetwork { index: 1 },
            ),
            (
                raw(&["23415", "23410", "23415"], &[], &[]),
                PortingError::DuplicateNetwork {
                    network: net("23415"),
                },
            ),
        ];
        for (bytes, expected) in cases {
            assert_eq!(decode(&bytes), Err(expected));
        }
        assert_eq!(
            decode(&raw(&["2341"], &[], &[])),
            Err(PortingError::BadNetwork { index: 0 })
        );
        assert_eq!(
            decode(&raw(&["23415"], &[], &[(0, 5, 0)])),
            Err(PortingError::BadNumber {
                section: "ranges",
                index: 0,
                value: 0
            })
        );
        // The checksum is checked before the content.
        let mut bytes = raw(&["23415"], &[(6, 0), (5, 0)], &[]);
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        assert!(matches!(decode(&bytes), Err(PortingError::Checksum { .. })));
        assert!(matches!(
            decode(&reseal(bytes)),
            Err(PortingError::NotSorted { .. })
        ));
    }

    /// The semantics in the module docs, written as plainly as possible.
    #[derive(Default)]
    struct Model {
        numbers: BTreeMap<u64, MccMnc>,
        ranges: Vec<(u64, u64, MccMnc)>,
        errors: Vec<(usize, RowErrorKind)>,
    }

    impl Model {
        fn apply(&mut self, row: &PortingRow) {
            match (row.target, row.action) {
                (PortTarget::Number(n), PortAction::Port(network)) => {
                    self.numbers.insert(n, network);
                }
                (PortTarget::Number(n), PortAction::Delete) => {
                    self.numbers.remove(&n);
                }
                (PortTarget::Range { start, end }, action) => {
                    let overlaps = self
                        .ranges
                        .iter()
                        .any(|r| (r.0, r.1) != (start, end) && r.0 <= end && start <= r.1);
                    if overlaps {
                        let kind = match action {
                            PortAction::Port(_) => RowErrorKind::Overlap,
                            PortAction::Delete => RowErrorKind::RangeMismatch,
                        };
                        self.errors.push((row.line, kind));
                        return;
                    }
                    self.ranges.retain(|r| (r.0, r.1) != (start, end));
                    if let PortAction::Port(network) = action {
                        self.ranges.push((start, end, network));
                    }
                }
            }
        }

        fn lookup(&self, n: u64) -> Option<(MccMnc, Option<(u64, u64)>)> {
            if let Some(&network) = self.numbers.get(&n) {
                return Some((network, None));
            }
            self.ranges
                .iter()
                .find(|r| r.0 <= n && n <= r.1)
                .map(|r| (r.2, Some((r.0, r.1))))
        }
    }

    const NETWORKS: [&str; 4] = ["23410", "23415", "20801", "310260"];

    /// Rows over two small spaces of 3- and 4-digit numbers, so that rows collide.
    fn rows() -> impl Strategy<Value = Vec<PortingRow>> {
        let start = prop_oneof![100u64..=130, 1_000u64..=1_030];
        let target = prop_oneof![
            3 => start.clone().prop_map(PortTarget::Number),
            1 => (start, 0u64..6).prop_map(|(start, len)| PortTarget::Range {
                start,
                end: start + len
            }),
        ];
        let action = prop_oneof![
            3 => (0..NETWORKS.len()).prop_map(|i| PortAction::Port(net(NETWORKS[i]))),
            1 => Just(PortAction::Delete),
        ];
        proptest::collection::vec((target, action), 0..80).prop_map(|rows| {
            rows.into_iter()
                .enumerate()
                .map(|(i, (target, action))| PortingRow {
                    line: i + 1,
                    target,
                    action,
                })
                .collect()
        })
    }

    proptest! {
        #[test]
        fn the_table_behaves_like_the_model(rows in rows()) {
            let (table, errors) = PortingTable::from_rows(&rows);
            let mut model = Model::default();
            rows.iter().for_each(|row| model.apply(row));
            prop_assert_eq!(kinds(&errors), model.errors.clone());
            prop_assert_eq!(table.len(), model.numbers.len());
            prop_assert_eq!(table.ranges_len(), model.ranges.len());
            for n in (90..=140).chain(990..=1_045) {
                let found = table.lookup_number(n).map(|p| (p.network.to_owned(), p.range));
                let expected = model.lookup(n).map(|(net, range)| (net.to_string(), range));
                prop_assert_eq!(found, expected, "number {}", n);
            }
            let used: BTreeSet<MccMnc> = model
                .numbers
                .values()
                .copied()
                .chain(model.ranges.iter().map(|r| r.2))
                .collect();
            let used: Vec<MccMnc> = used.into_iter().collect();
            prop_assert_eq!(table.networks(), used.as_slice());
            prop_assert_eq!(PortingTable::decode(&table.encode()), Ok(table));
        }

        #[test]
        fn apply_equals_a_full_rebuild(rows in rows(), split in 0usize..80, again in 0usize..80) {
            let split = split.min(rows.len());
            let again = again.clamp(split, rows.len());
            let (whole, whole_errors) = PortingTable::from_rows(&rows);
            let (first, mut errors) = PortingTable::from_rows(&rows[..split]);
            let (second, second_errors) = first.apply(&rows[split..again]);
            let (third, third_errors) = second.apply(&rows[again..]);
            errors.append(second_errors);
            errors.append(third_errors);
            prop_assert_eq!(&third, &whole);
            prop_assert_eq!(errors, whole_errors);
            prop_assert_eq!(third.encode(), whole.encode());
        }

        #[test]
        fn parse_csv_never_panics_and_keeps_line_order(input in proptest::collection::vec(
            prop_oneof![
                Just(b'\n'), Just(b','), Just(b';'), Just(b'-'), Just(b'+'), Just(b'#'),
                Just(b' '), b'0'..=b'9', any::<u8>()
            ],
            0..400,
        )) {
            let parsed = parse_csv(&input);
            let lines = input.iter().filter(|&&b| b == b'\n').count() + 1;
            prop_assert!(parsed.rows.windows(2).all(|w| w[0].line < w[1].line));
            prop_assert!(parsed.rows.iter().all(|r| (1..=lines).contains(&r.line)));
            let (table, _) = PortingTable::from_rows(&parsed.rows);
            prop_assert_eq!(PortingTable::decode(&table.encode()), Ok(table));
        }

        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200), keep in 0usize..40) {
            // Random bytes, and random bytes behind a valid header.
            let _ = PortingTable::decode(&bytes);
            let mut framed = raw(&["23415"], &[(5, 0)], &[])[..keep.min(31)].to_vec();
            framed.extend_from_slice(&bytes);
            let _ = PortingTable::decode(&framed);
            let _ = PortingTable::decode(&seal(framed));
        }
    }
}
