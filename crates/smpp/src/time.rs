//! SMPP time formats and their conversion to and from real timestamps.
//!
//! SMPP carries times as 16-character C-octet strings `YYMMDDhhmmsstnnp`
//! (SMPP 3.4 §7.1.1, SMPP 5.0 §4.7.23.4) in `schedule_delivery_time` and
//! `validity_period`, and delivery receipts carry shorter `YYMMDDhhmm` /
//! `YYMMDDhhmmss` dates (SMPP 3.4 Appendix B). This module owns all of those
//! formats so that the PDU codec, the receipt parser and the scheduler agree on
//! one strict, panic-free interpretation:
//!
//! * [`SmppTime`] is either an [`AbsoluteTime`] (`p` = `+`/`-`, a wall-clock time
//!   with its offset from UTC in quarter hours) or a [`RelativeTime`] (`p` = `R`,
//!   an offset from "now"). Parsing takes the field bytes without the NUL
//!   terminator; an empty field (the SMPP NULL value, meaning "immediate" or
//!   "SMSC default") is handled by [`SmppTime::parse_optional`].
//! * [`SmppTime::resolve`] turns either form into a UTC [`SystemTime`].
//! * [`parse_receipt_date`] and [`format_receipt_date`] handle receipt dates,
//!   which carry no offset and are taken as UTC.
//!
//! Civil-date arithmetic is done here (Howard Hinnant's `days_from_civil`
//! algorithm) rather than through a date crate, to keep the dependency set of
//! the codec minimal. Two-digit years `YY` map to 2000..=2099.
//!
//! Strictness: values are exactly 16 characters and every numeric field is
//! range-checked. The only leniency is a lowercase `r` for relative times, which
//! is seen in real traffic.

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Length in octets of an SMPP time value, excluding the NUL terminator.
pub const SMPP_TIME_LEN: usize = 16;

/// Largest UTC offset, in quarter hours, that an absolute SMPP time may carry (12 hours).
pub const MAX_OFFSET_QUARTERS: u8 = 48;

/// Largest value of each component of a [`RelativeTime`] (two decimal digits).
pub const MAX_RELATIVE_COMPONENT: u8 = 99;

const SECS_PER_MINUTE: i64 = 60;
const SECS_PER_HOUR: i64 = 3_600;
const SECS_PER_DAY: i64 = 86_400;
const SECS_PER_QUARTER_HOUR: i64 = 900;
const NANOS_PER_TENTH: u32 = 100_000_000;
const NANOS_PER_SEC: u32 = 1_000_000_000;
const FIRST_YEAR: u16 = 2000;
const LAST_YEAR: u16 = 2099;

/// Why a time value could not be parsed, built or converted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    /// The value does not have the required number of characters.
    #[error("time value must be exactly {expected} characters, got {actual}")]
    Length {
        /// Number of characters the format requires.
        expected: usize,
        /// Number of characters received.
        actual: usize,
    },
    /// A receipt date is neither 10 (`YYMMDDhhmm`) nor 12 (`YYMMDDhhmmss`) characters.
    #[error("receipt date must be 10 or 12 digits, got {0} characters")]
    ReceiptDateLength(usize),
    /// A position that must hold a decimal digit holds something else.
    #[error("expected a decimal digit at position {position}, found byte 0x{byte:02x}")]
    NotADigit {
        /// Zero-based position of the offending byte.
        position: usize,
        /// The offending byte.
        byte: u8,
    },
    /// The last character is not `+`, `-`, `R` or `r`.
    #[error("time direction byte 0x{0:02x} is not '+', '-' or 'R'")]
    Direction(u8),
    /// A year outside 2000..=2099, the range two-digit SMPP years can express.
    #[error("year {0} is outside the SMPP range 2000..=2099")]
    Year(i64),
    /// A month outside 1..=12.
    #[error("month {0} is outside 1..=12")]
    Month(u8),
    /// A day that does not exist in its month.
    #[error("day {day} is outside 1..={max} for {year:04}-{month:02}")]
    Day {
        /// Full year.
        year: u16,
        /// Month, 1..=12.
        month: u8,
        /// The rejected day.
        day: u8,
        /// Last day of that month.
        max: u8,
    },
    /// An hour outside 0..=23.
    #[error("hour {0} is outside 0..=23")]
    Hour(u8),
    /// A minute outside 0..=59.
    #[error("minute {0} is outside 0..=59")]
    Minute(u8),
    /// A second outside 0..=59 (SMPP has no leap seconds).
    #[error("second {0} is outside 0..=59")]
    Second(u8),
    /// Tenths of a second outside 0..=9.
    #[error("tenths of a second {0} is outside 0..=9")]
    Tenths(u8),
    /// A UTC offset of more than 48 quarter hours.
    #[error("UTC offset of {0} quarter hours exceeds 48")]
    OffsetQuarters(u8),
    /// A relative time whose `tnn` characters are not `000`.
    #[error("relative time must have \"000\" before 'R', found {0:?}")]
    RelativeTail(String),
    /// A relative time component above 99.
    #[error("relative time component {0} exceeds 99")]
    RelativeComponent(u8),
    /// The result lies outside what [`SystemTime`] or the arithmetic can represent.
    #[error("time is outside the representable range")]
    OutOfRange,
}

/// A parsed, validated SMPP time value (`YYMMDDhhmmsstnnp`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SmppTime {
    /// A wall-clock time with its offset from UTC (`p` = `+` or `-`).
    Absolute(AbsoluteTime),
    /// An offset from the time the SMSC processes the PDU (`p` = `R`).
    Relative(RelativeTime),
}

impl SmppTime {
    /// Parses a non-empty SMPP time from the field bytes (without the NUL terminator).
    ///
    /// An empty value is rejected with [`TimeError::Length`]; use
    /// [`SmppTime::parse_optional`] where SMPP allows NULL.
    pub fn parse(bytes: &[u8]) -> Result<Self, TimeError> {
        if bytes.len() != SMPP_TIME_LEN {
            return Err(TimeError::Length {
                expected: SMPP_TIME_LEN,
                actual: bytes.len(),
            });
        }
        // Digits first, left to right, so the error names the first bad position.
        for (position, &byte) in bytes.iter().enumerate().take(SMPP_TIME_LEN - 1) {
            if !byte.is_ascii_digit() {
                return Err(TimeError::NotADigit { position, byte });
            }
        }
        let d = |pos: usize| two_digits(bytes, pos);
        let (yy, mm, dd, hh, mi, ss) = (d(0)?, d(2)?, d(4)?, d(6)?, d(8)?, d(10)?);
        let tenths = digit(bytes, 12)?;
        let quarters = d(13)?;
        match bytes.get(15).copied() {
            Some(b'R' | b'r') => {
                if tenths != 0 || quarters != 0 {
                    let tail = bytes.get(12..15).unwrap_or_default();
                    return Err(TimeError::RelativeTail(
                        String::from_utf8_lossy(tail).into_owned(),
                    ));
                }
                Ok(Self::Relative(RelativeTime::new(yy, mm, dd, hh, mi, ss)?))
            }
            Some(sign @ (b'+' | b'-')) => {
                if quarters > MAX_OFFSET_QUARTERS {
                    return Err(TimeError::OffsetQuarters(quarters));
                }
                // `quarters` is at most 48 here, so it fits in i8.
                let magnitude =
                    i8::try_from(quarters).map_err(|_| TimeError::OffsetQuarters(quarters))?;
                let offset = if sign == b'-' { -magnitude } else { magnitude };
                let year = FIRST_YEAR + u16::from(yy);
                Ok(Self::Absolute(AbsoluteTime::new(
                    year, mm, dd, hh, mi, ss, tenths, offset,
                )?))
            }
            Some(other) => Err(TimeError::Direction(other)),
            None => Err(TimeError::Length {
                expected: SMPP_TIME_LEN,
                actual: bytes.len(),
            }),
        }
    }

    /// Parses a field where the empty value (SMPP NULL) is allowed and means "none":
    /// immediate delivery for `schedule_delivery_time`, the SMSC default for
    /// `validity_period`.
    pub fn parse_optional(bytes: &[u8]) -> Result<Option<Self>, TimeError> {
        if bytes.is_empty() {
            Ok(None)
        } else {
            Self::parse(bytes).map(Some)
        }
    }

    /// Formats the value as its 16 octets (without NUL terminator).
    ///
    /// Relative times are always written with an uppercase `R`, and an absolute
    /// time with a zero offset is written with `+`, so `00-` and `r` inputs are
    /// normalised on the way back out.
    pub fn to_bytes(&self) -> [u8; SMPP_TIME_LEN] {
        let mut out = [b'0'; SMPP_TIME_LEN];
        let mut slots = out.iter_mut();
        match self {
            Self::Absolute(t) => {
                // Year is kept within 2000..=2099 by construction, so `% 100` is the YY.
                let yy = u8::try_from(t.year % 100).unwrap_or(0);
                for v in [yy, t.month, t.day, t.hour, t.minute, t.second] {
                    put_two_digits(&mut slots, v);
                }
                put_digit(&mut slots, t.tenths);
                put_two_digits(&mut slots, t.offset_quarters.unsigned_abs());
                put_byte(&mut slots, if t.offset_quarters < 0 { b'-' } else { b'+' });
            }
            Self::Relative(r) => {
                for v in [r.years, r.months, r.days, r.hours, r.minutes, r.seconds] {
                    put_two_digits(&mut slots, v);
                }
                for b in *b"000R" {
                    put_byte(&mut slots, b);
                }
            }
        }
        out
    }

    /// Resolves the value to a UTC instant; relative values are added to `now`.
    pub fn resolve(&self, now: SystemTime) -> Result<SystemTime, TimeError> {
        match self {
            Self::Absolute(t) => t.to_system_time(),
            Self::Relative(r) => r.resolve(now),
        }
    }
}

impl fmt::Display for SmppTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bytes = self.to_bytes();
        f.write_str(std::str::from_utf8(&bytes).map_err(|_| fmt::Error)?)
    }
}

impl FromStr for SmppTime {
    type Err = TimeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s.as_bytes())
    }
}

/// An absolute SMPP time: local wall-clock fields plus the local offset from UTC.
///
/// Fields are private so that every value is valid: the year lies in 2000..=2099,
/// the date exists, the time of day is in range, and the offset is within ±48
/// quarter hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AbsoluteTime {
    year: u16,
    month: u8,
    day: u8,
    hour: u8,
    minute: u8,
    second: u8,
    tenths: u8,
    offset_quarters: i8,
}

impl AbsoluteTime {
    /// Builds an absolute time from local wall-clock fields.
    ///
    /// `offset_quarters` is how far local time is ahead of UTC, in quarter hours
    /// (positive is `+`, negative is `-`), within -48..=48.
    #[allow(clippy::too_many_arguments)] // mirrors the eight fields of the wire format
    pub fn new(
        year: u16,
        month: u8,
        day: u8,
        hour: u8,
        minute: u8,
        second: u8,
        tenths: u8,
        offset_quarters: i8,
    ) -> Result<Self, TimeError> {
        if !(FIRST_YEAR..=LAST_YEAR).contains(&year) {
            return Err(TimeError::Year(i64::from(year)));
        }
        validate_civil(year, month, day, hour, minute, second)?;
        if tenths > 9 {
            return Err(TimeError::Tenths(tenths));
        }
        if offset_quarters.unsigned_abs() > MAX_OFFSET_QUARTERS {
            return Err(TimeError::OffsetQuarters(offset_quarters.unsigned_abs()));
        }
        Ok(Self {
            year,
            month,
            day,
            hour,
            minute,
            second,
            tenths,
            offset_quarters,
        })
    }

    /// Expresses the instant `time` as local wall-clock time at `offset_quarters`
    /// (-48..=48) from UTC, truncated to tenths of a second.
    ///
    /// Fails if the local date falls outside 2000..=2099.
    pub fn from_system_time(time: SystemTime, offset_quarters: i8) -> Result<Self, TimeError> {
        if offset_quarters.unsigned_abs() > MAX_OFFSET_QUARTERS {
            return Err(TimeError::OffsetQuarters(offset_quarters.unsigned_abs()));
        }
        let (secs, nanos) = unix_parts(time)?;
        let local = secs
            .checked_add(i64::from(offset_quarters) * SECS_PER_QUARTER_HOUR)
            .ok_or(TimeError::OutOfRange)?;
        let c = Civil::from_unix(local)?;
        let tenths = u8::try_from(nanos / NANOS_PER_TENTH).map_err(|_| TimeError::OutOfRange)?;
        Self::new(
            c.year,
            c.month,
            c.day,
            c.hour,
            c.minute,
            c.second,
            tenths,
            offset_quarters,
        )
    }

    /// The UTC instant this local time denotes.
    ///
    /// Only fails on platforms whose [`SystemTime`] cannot represent 1999..=2100.
    pub fn to_system_time(&self) -> Result<SystemTime, TimeError> {
        let local = unix_seconds(
            self.year,
            self.month,
            self.day,
            self.hour,
            self.minute,
            self.second,
        );
        let utc = local - i64::from(self.offset_quarters) * SECS_PER_QUARTER_HOUR;
        system_time_from_unix(utc, u32::from(self.tenths) * NANOS_PER_TENTH)
    }

    /// Full year, 2000..=2099.
    pub const fn year(&self) -> u16 {
        self.year
    }

    /// Month, 1..=12.
    pub const fn month(&self) -> u8 {
        self.month
    }

    /// Day of month, 1..=31.
    pub const fn day(&self) -> u8 {
        self.day
    }

    /// Hour, 0..=23.
    pub const fn hour(&self) -> u8 {
        self.hour
    }

    /// Minute, 0..=59.
    pub const fn minute(&self) -> u8 {
        self.minute
    }

    /// Second, 0..=59.
    pub const fn second(&self) -> u8 {
        self.second
    }

    /// Tenths of a second, 0..=9.
    pub const fn tenths(&self) -> u8 {
        self.tenths
    }

    /// Offset of local time ahead of UTC in quarter hours, -48..=48.
    pub const fn offset_quarters(&self) -> i8 {
        self.offset_quarters
    }
}

/// A relative SMPP time: an offset from "now" in calendar units.
///
/// Each component is two decimal digits (0..=99) and is not range-limited further:
/// `000000480000000R` (48 hours) is valid and common.
///
/// Resolution ([`RelativeTime::resolve`]) uses calendar arithmetic in UTC: years
/// and months are added to the calendar month first, with the day clamped to the
/// end of the resulting month (31 January + 1 month = 28 or 29 February); days,
/// hours, minutes and seconds are then added as fixed durations (UTC has no
/// daylight saving, so a day is always 86 400 s). Calendar months were chosen over
/// fixed 30-day months because that is what "one month" means to the person who
/// set the validity period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct RelativeTime {
    years: u8,
    months: u8,
    days: u8,
    hours: u8,
    minutes: u8,
    seconds: u8,
}

impl RelativeTime {
    /// Builds a relative time; every component must be at most 99.
    pub fn new(
        years: u8,
        months: u8,
        days: u8,
        hours: u8,
        minutes: u8,
        seconds: u8,
    ) -> Result<Self, TimeError> {
        for v in [years, months, days, hours, minutes, seconds] {
            if v > MAX_RELATIVE_COMPONENT {
                return Err(TimeError::RelativeComponent(v));
            }
        }
        Ok(Self {
            years,
            months,
            days,
            hours,
            minutes,
            seconds,
        })
    }

    /// Adds this offset to `now` (see the type documentation for the arithmetic).
    pub fn resolve(&self, now: SystemTime) -> Result<SystemTime, TimeError> {
        let (secs, nanos) = unix_parts(now)?;
        let days = secs.div_euclid(SECS_PER_DAY);
        let second_of_day = secs.rem_euclid(SECS_PER_DAY);
        let (year, month, day) = civil_from_days(days);

        let month_index = year
            .checked_mul(12)
            .and_then(|m| m.checked_add(i64::from(month) - 1))
            .and_then(|m| m.checked_add(i64::from(self.years) * 12 + i64::from(self.months)))
            .ok_or(TimeError::OutOfRange)?;
        let new_year = month_index.div_euclid(12);
        // rem_euclid(12) is in 0..12, so the conversion cannot fail.
        let new_month =
            u8::try_from(month_index.rem_euclid(12) + 1).map_err(|_| TimeError::OutOfRange)?;
        let new_day = day.min(days_in_month(new_year, new_month));

        let clock = i64::from(self.hours) * SECS_PER_HOUR
            + i64::from(self.minutes) * SECS_PER_MINUTE
            + i64::from(self.seconds);
        let total = days_from_civil(new_year, new_month, new_day)
            .checked_add(i64::from(self.days))
            .and_then(|d| d.checked_mul(SECS_PER_DAY))
            .and_then(|s| s.checked_add(second_of_day))
            .and_then(|s| s.checked_add(clock))
            .ok_or(TimeError::OutOfRange)?;
        system_time_from_unix(total, nanos)
    }

    /// Years, 0..=99.
    pub const fn years(&self) -> u8 {
        self.years
    }

    /// Months, 0..=99.
    pub const fn months(&self) -> u8 {
        self.months
    }

    /// Days, 0..=99.
    pub const fn days(&self) -> u8 {
        self.days
    }

    /// Hours, 0..=99.
    pub const fn hours(&self) -> u8 {
        self.hours
    }

    /// Minutes, 0..=99.
    pub const fn minutes(&self) -> u8 {
        self.minutes
    }

    /// Seconds, 0..=99.
    pub const fn seconds(&self) -> u8 {
        self.seconds
    }
}

/// Precision of a delivery-receipt date (SMPP 3.4 Appendix B).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ReceiptDateFormat {
    /// `YYMMDDhhmm`, 10 digits: the form shown in the specification.
    #[default]
    Minutes,
    /// `YYMMDDhhmmss`, 12 digits: a common extension.
    Seconds,
}

impl ReceiptDateFormat {
    /// Number of digits in this format.
    pub const fn digits(self) -> usize {
        match self {
            Self::Minutes => 10,
            Self::Seconds => 12,
        }
    }
}

/// Parses a receipt date, `YYMMDDhhmm` or `YYMMDDhhmmss`, as a UTC instant.
///
/// Receipt dates carry no offset; they are taken as UTC. Carriers that send local
/// time need a per-route correction by the caller.
pub fn parse_receipt_date(bytes: &[u8]) -> Result<SystemTime, TimeError> {
    let has_seconds = match bytes.len() {
        10 => false,
        12 => true,
        other => return Err(TimeError::ReceiptDateLength(other)),
    };
    for (position, &byte) in bytes.iter().enumerate() {
        if !byte.is_ascii_digit() {
            return Err(TimeError::NotADigit { position, byte });
        }
    }
    let d = |pos: usize| two_digits(bytes, pos);
    let year = FIRST_YEAR + u16::from(d(0)?);
    let (month, day, hour, minute) = (d(2)?, d(4)?, d(6)?, d(8)?);
    let second = if has_seconds { d(10)? } else { 0 };
    validate_civil(year, month, day, hour, minute, second)?;
    system_time_from_unix(unix_seconds(year, month, day, hour, minute, second), 0)
}

/// Formats a UTC instant as a receipt date, truncating to the format's precision.
///
/// Fails if the instant is outside 2000..=2099 UTC.
pub fn format_receipt_date(
    time: SystemTime,
    format: ReceiptDateFormat,
) -> Result<String, TimeError> {
    let (secs, _) = unix_parts(time)?;
    let c = Civil::from_unix(secs)?;
    let yy = c.year % 100;
    Ok(match format {
        ReceiptDateFormat::Minutes => {
            format!(
                "{yy:02}{:02}{:02}{:02}{:02}",
                c.month, c.day, c.hour, c.minute
            )
        }
        ReceiptDateFormat::Seconds => format!(
            "{yy:02}{:02}{:02}{:02}{:02}{:02}",
            c.month, c.day, c.hour, c.minute, c.second
        ),
    })
}

/// Days since 1970-01-01 of the proleptic Gregorian date `year`-`month`-`day`.
///
/// Howard Hinnant's `days_from_civil`. `month` must be 1..=12 and `day` 1..=31;
/// out-of-range inputs give a meaningless (but non-panicking) result.
pub fn days_from_civil(year: i64, month: u8, day: u8) -> i64 {
    let (m, d) = (i64::from(month), i64::from(day));
    // Count years from March so the leap day is the last day of the "year".
    let y = if m <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Proleptic Gregorian `(year, month, day)` of the day `days` after 1970-01-01.
///
/// Howard Hinnant's `civil_from_days`, the inverse of [`days_from_civil`]. Valid
/// for any `days` derived from an `i64` count of seconds.
pub fn civil_from_days(days: i64) -> (i64, u8, u8) {
    let z = days.saturating_add(719_468);
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    // month is 1..=12 and day 1..=31 by construction of the algorithm.
    (
        year,
        u8::try_from(month).unwrap_or(1),
        u8::try_from(day).unwrap_or(1),
    )
}

/// Whether `year` is a Gregorian leap year.
pub const fn is_leap_year(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

/// Number of days in `month` (1..=12) of `year`; 0 for an invalid month.
pub const fn days_in_month(year: i64, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap_year(year) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Broken-down UTC (or local) wall-clock time within the SMPP year range.
struct Civil {
    year: u16,
    month: u8,
    day: u8,
    hour: u8,
    minute: u8,
    second: u8,
}

impl Civil {
    /// Breaks down seconds since the epoch; fails outside 2000..=2099.
    fn from_unix(secs: i64) -> Result<Self, TimeError> {
        let (year, month, day) = civil_from_days(secs.div_euclid(SECS_PER_DAY));
        let year = u16::try_from(year)
            .ok()
            .filter(|y| (FIRST_YEAR..=LAST_YEAR).contains(y))
            .ok_or(TimeError::Year(year))?;
        let sod = secs.rem_euclid(SECS_PER_DAY);
        let part = |v: i64| u8::try_from(v).map_err(|_| TimeError::OutOfRange);
        Ok(Self {
            year,
            month,
            day,
            hour: part(sod / SECS_PER_HOUR)?,
            minute: part(sod % SECS_PER_HOUR / SECS_PER_MINUTE)?,
            second: part(sod % SECS_PER_MINUTE)?,
        })
    }
}

fn validate_civil(
    year: u16,
    month: u8,
    day: u8,
    hour: u8,
    minute: u8,
    second: u8,
) -> Result<(), TimeError> {
    if !(1..=12).contains(&month) {
        return Err(TimeError::Month(month));
    }
    let max = days_in_month(i64::from(year), month);
    if day == 0 || day > max {
        return Err(TimeError::Day {
            year,
            month,
            day,
            max,
        });
    }
    if hour > 23 {
        return Err(TimeError::Hour(hour));
    }
    if minute > 59 {
        return Err(TimeError::Minute(minute));
    }
    if second > 59 {
        return Err(TimeError::Second(second));
    }
    Ok(())
}

fn unix_seconds(year: u16, month: u8, day: u8, hour: u8, minute: u8, second: u8) -> i64 {
    days_from_civil(i64::from(year), month, day) * SECS_PER_DAY
        + i64::from(hour) * SECS_PER_HOUR
        + i64::from(minute) * SECS_PER_MINUTE
        + i64::from(second)
}

/// Splits an instant into whole seconds since the epoch (floored) and nanoseconds.
fn unix_parts(time: SystemTime) -> Result<(i64, u32), TimeError> {
    match time.duration_since(UNIX_EPOCH) {
        Ok(d) => {
            let secs = i64::try_from(d.as_secs()).map_err(|_| TimeError::OutOfRange)?;
            Ok((secs, d.subsec_nanos()))
        }
        Err(before) => {
            let d = before.duration();
            let secs = i64::try_from(d.as_secs()).map_err(|_| TimeError::OutOfRange)?;
            // Floor towards negative infinity so the nanosecond part stays positive.
            if d.subsec_nanos() == 0 {
                Ok((-secs, 0))
            } else {
                let floored = (-secs).checked_sub(1).ok_or(TimeError::OutOfRange)?;
                Ok((floored, NANOS_PER_SEC - d.subsec_nanos()))
            }
        }
    }
}

fn system_time_from_unix(secs: i64, nanos: u32) -> Result<SystemTime, TimeError> {
    let nanos = Duration::from_nanos(u64::from(nanos.min(NANOS_PER_SEC - 1)));
    let whole = Duration::from_secs(secs.unsigned_abs());
    let base = if secs >= 0 {
        UNIX_EPOCH.checked_add(whole)
    } else {
        UNIX_EPOCH.checked_sub(whole)
    };
    base.and_then(|t| t.checked_add(nanos))
        .ok_or(TimeError::OutOfRange)
}

fn digit(bytes: &[u8], position: usize) -> Result<u8, TimeError> {
    match bytes.get(position) {
        Some(&byte) if byte.is_ascii_digit() => Ok(byte - b'0'),
        Some(&byte) => Err(TimeError::NotADigit { position, byte }),
        None => Err(TimeError::Length {
            expected: position + 1,
            actual: bytes.len(),
        }),
    }
}

fn two_digits(bytes: &[u8], position: usize) -> Result<u8, TimeError> {
    Ok(digit(bytes, position)? * 10 + digit(bytes, position + 1)?)
}

fn put_byte<'a>(slots: &mut impl Iterator<Item = &'a mut u8>, byte: u8) {
    if let Some(slot) = slots.next() {
        *slot = byte;
    }
}

fn put_digit<'a>(slots: &mut impl Iterator<Item = &'a mut u8>, value: u8) {
    put_byte(slots, b'0' + value % 10);
}

fn put_two_digits<'a>(slots: &mut impl Iterator<Item = &'a mut u8>, value: u8) {
    put_digit(slots, value / 10 % 10);
    put_digit(slots, value % 10);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn utc(year: u16, month: u8, day: u8, hour: u8, minute: u8, second: u8) -> SystemTime {
        AbsoluteTime::new(year, month, day, hour, minute, second, 0, 0)
            .unwrap()
            .to_system_time()
            .unwrap()
    }

    fn abs(s: &str) -> AbsoluteTime {
        match SmppTime::parse(s.as_bytes()).unwrap() {
            SmppTime::Absolute(t) => t,
            SmppTime::Relative(r) => panic!("expected absolute, got {r:?}"),
        }
    }

    fn rel(s: &str) -> RelativeTime {
        match SmppTime::parse(s.as_bytes()).unwrap() {
            SmppTime::Relative(r) => r,
            SmppTime::Absolute(t) => panic!("expected relative, got {t:?}"),
        }
    }

    #[test]
    fn civil_algorithm_known_points() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 2, 29), 11_016);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(1969, 12, 31), -1);
        assert_eq!(days_from_civil(2099, 12, 31), 47_481);
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(civil_from_days(-719_468), (0, 3, 1));
    }

    #[test]
    fn civil_algorithm_round_trips_and_is_contiguous() {
        let mut prev = civil_from_days(-800_000);
        for days in -799_999..800_000 {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
            assert!((1..=days_in_month(y, m)).contains(&d));
            let next_in_month = prev.0 == y && prev.1 == m && prev.2 + 1 == d;
            let first_of_month = d == 1;
            assert!(next_in_month || first_of_month, "gap after {prev:?}");
            prev = (y, m, d);
        }
    }

    #[test]
    fn leap_years() {
        assert!(is_leap_year(2000));
        assert!(is_leap_year(2024));
        assert!(!is_leap_year(2100));
        assert!(!is_leap_year(2023));
        assert_eq!(days_in_month(2000, 2), 29);
        assert_eq!(days_in_month(2001, 2), 28);
        assert_eq!(days_in_month(2000, 13), 0);
    }

    #[test]
    fn parses_absolute_utc() {
        let t = abs("000229235959900+");
        assert_eq!(
            (
                t.year(),
                t.month(),
                t.day(),
                t.hour(),
                t.minute(),
                t.second()
            ),
            (2000, 2, 29, 23, 59, 59)
        );
        assert_eq!(t.tenths(), 9);
        assert_eq!(t.offset_quarters(), 0);
        let expected = utc(2000, 2, 29, 23, 59, 59) + Duration::from_millis(900);
        assert_eq!(t.to_system_time().unwrap(), expected);
    }

    #[test]
    fn leap_day_validation() {
        assert!(SmppTime::parse(b"040229000000000+").is_ok());
        assert!(SmppTime::parse(b"960229000000000+").is_ok());
        assert_eq!(
            SmppTime::parse(b"010229000000000+"),
            Err(TimeError::Day {
                year: 2001,
                month: 2,
                day: 29,
                max: 28
            })
        );
        assert!(matches!(
            SmppTime::parse(b"990229000000000+"),
            Err(TimeError::Day { year: 2099, .. })
        ));
        assert!(parse_receipt_date(b"0002291200").is_ok());
        assert!(parse_receipt_date(b"0102291200").is_err());
    }

    #[test]
    fn offsets_apply_in_the_right_direction() {
        // 12:00 local at +04:00 (16 quarters) is 08:00 UTC.
        let t = abs("240615120000016+");
        assert_eq!(t.to_system_time().unwrap(), utc(2024, 6, 15, 8, 0, 0));
        // 12:00 local at -05:00 (20 quarters) is 17:00 UTC.
        let t = abs("240615120000020-");
        assert_eq!(t.to_system_time().unwrap(), utc(2024, 6, 15, 17, 0, 0));
        // India, +05:30 = 22 quarters.
        let t = abs("240615120000022+");
        assert_eq!(t.to_system_time().unwrap(), utc(2024, 6, 15, 6, 30, 0));
    }

    #[test]
    fn extreme_offsets_cross_the_year_range() {
        // +12:00 on the first instant of 2000 is still in 1999 UTC.
        let t = abs("000101000000048+");
        assert_eq!(t.offset_quarters(), 48);
        let expected = UNIX_EPOCH + Duration::from_secs(946_684_800 - 12 * 3_600);
        assert_eq!(t.to_system_time().unwrap(), expected);
        // -12:00 on the last instant of 2099 is in 2100 UTC.
        let t = abs("991231235959948-");
        assert_eq!(t.offset_quarters(), -48);
        let instant = t.to_system_time().unwrap();
        assert_eq!(AbsoluteTime::from_system_time(instant, -48).unwrap(), t);
        assert!(AbsoluteTime::from_system_time(instant, 0).is_err());
        assert_eq!(
            SmppTime::parse(b"000101000000049+"),
            Err(TimeError::OffsetQuarters(49))
        );
        assert_eq!(
            AbsoluteTime::from_system_time(instant, 49),
            Err(TimeError::OffsetQuarters(49))
        );
    }

    #[test]
    fn from_system_time_uses_offset_and_tenths() {
        let instant = utc(2024, 12, 31, 23, 30, 0) + Duration::from_millis(1_250);
        let t = AbsoluteTime::from_system_time(instant, 4).unwrap();
        assert_eq!(SmppTime::Absolute(t).to_string(), "250101003001204+");
        let t = AbsoluteTime::from_system_time(instant, -4).unwrap();
        assert_eq!(SmppTime::Absolute(t).to_string(), "241231223001204-");
        assert_eq!(
            AbsoluteTime::from_system_time(utc(2000, 1, 1, 0, 0, 0) - Duration::from_secs(1), 0),
            Err(TimeError::Year(1999))
        );
    }

    #[test]
    fn spec_relative_example() {
        // SMPP 3.4 §7.1.1.2: 2 years, 6 months, 10 days, 23 h, 34 min, 29 s from now.
        let r = rel("020610233429000R");
        assert_eq!(
            (
                r.years(),
                r.months(),
                r.days(),
                r.hours(),
                r.minutes(),
                r.seconds()
            ),
            (2, 6, 10, 23, 34, 29)
        );
        let now = utc(2024, 1, 1, 0, 0, 0);
        let expected = utc(2026, 7, 11, 23, 34, 29);
        assert_eq!(r.resolve(now).unwrap(), expected);
    }

    #[test]
    fn zero_relative_is_now_and_lowercase_r_is_accepted() {
        let now = utc(2024, 5, 5, 5, 5, 5) + Duration::from_nanos(123_456_789);
        let t = SmppTime::parse(b"000000000000000R").unwrap();
        assert_eq!(t.resolve(now).unwrap(), now);
        let lower = SmppTime::parse(b"000000000000000r").unwrap();
        assert_eq!(lower, t);
        assert_eq!(lower.to_bytes(), *b"000000000000000R");
    }

    #[test]
    fn relative_months_clamp_to_month_end() {
        let plus_month = rel("000100000000000R");
        let cases = [
            (utc(2024, 1, 31, 10, 0, 0), utc(2024, 2, 29, 10, 0, 0)),
            (utc(2023, 1, 31, 10, 0, 0), utc(2023, 2, 28, 10, 0, 0)),
            (utc(2024, 3, 31, 0, 0, 0), utc(2024, 4, 30, 0, 0, 0)),
            (utc(2024, 12, 31, 0, 0, 0), utc(2025, 1, 31, 0, 0, 0)),
        ];
        for (now, expected) in cases {
            assert_eq!(plus_month.resolve(now).unwrap(), expected);
        }
        let plus_year = rel("010000000000000R");
        assert_eq!(
            plus_year.resolve(utc(2024, 2, 29, 0, 0, 0)).unwrap(),
            utc(2025, 2, 28, 0, 0, 0)
        );
        // Month overflow carries into years; days are added after clamping.
        let r = rel("001301000000000R");
        assert_eq!(
            r.resolve(utc(2023, 1, 31, 0, 0, 0)).unwrap(),
            utc(2024, 3, 1, 0, 0, 0)
        );
    }

    #[test]
    fn relative_components_are_not_clock_limited() {
        let r = rel("000000480000000R");
        let now = utc(2024, 2, 28, 12, 0, 0);
        assert_eq!(r.resolve(now).unwrap(), utc(2024, 3, 1, 12, 0, 0));
        let r = rel("999999999999000R");
        assert!(r.resolve(now).is_ok());
        assert_eq!(
            RelativeTime::new(100, 0, 0, 0, 0, 0),
            Err(TimeError::RelativeComponent(100))
        );
    }

    #[test]
    fn relative_before_epoch_now() {
        let now = UNIX_EPOCH - Duration::from_millis(1_500);
        let r = rel("000000000001000R");
        assert_eq!(
            r.resolve(now).unwrap(),
            UNIX_EPOCH - Duration::from_millis(500)
        );
        let r = rel("000000000010000R");
        assert_eq!(
            r.resolve(now).unwrap(),
            UNIX_EPOCH + Duration::from_millis(8_500)
        );
    }

    #[test]
    fn rejects_malformed_values() {
        let cases: &[(&[u8], TimeError)] = &[
            (
                b"",
                TimeError::Length {
                    expected: 16,
                    actual: 0,
                },
            ),
            (
                b"000101000000000",
                TimeError::Length {
                    expected: 16,
                    actual: 15,
                },
            ),
            (
                b"0001010000000000+",
                TimeError::Length {
                    expected: 16,
                    actual: 17,
                },
            ),
            (
                b"00010100000a000+",
                TimeError::NotADigit {
                    position: 11,
                    byte: b'a',
                },
            ),
            (
                b" 00101000000000+",
                TimeError::NotADigit {
                    position: 0,
                    byte: b' ',
                },
            ),
            (b"0001010000000000", TimeError::Direction(b'0')),
            (b"000101000000000Z", TimeError::Direction(b'Z')),
            (b"001301000000000+", TimeError::Month(13)),
            (b"000001000000000+", TimeError::Month(0)),
            (
                b"000100000000000+",
                TimeError::Day {
                    year: 2000,
                    month: 1,
                    day: 0,
                    max: 31,
                },
            ),
            (
                b"000431000000000+",
                TimeError::Day {
                    year: 2000,
                    month: 4,
                    day: 31,
                    max: 30,
                },
            ),
            (b"000101240000000+", TimeError::Hour(24)),
            (b"000101006000000+", TimeError::Minute(60)),
            (b"000101000060000+", TimeError::Second(60)),
            (b"000101000000099+", TimeError::OffsetQuarters(99)),
            (
                b"000000000000100R",
                TimeError::RelativeTail("100".to_owned()),
            ),
            (
                b"000000000000004R",
                TimeError::RelativeTail("004".to_owned()),
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(
                SmppTime::parse(input).as_ref(),
                Err(expected),
                "input {:?}",
                String::from_utf8_lossy(input)
            );
        }
        assert!(SmppTime::parse("00010100000000é".as_bytes()).is_err());
    }

    #[test]
    fn optional_parse_maps_null_to_none() {
        assert_eq!(SmppTime::parse_optional(b""), Ok(None));
        assert!(matches!(
            SmppTime::parse_optional(b"000000000100000R"),
            Ok(Some(SmppTime::Relative(_)))
        ));
        assert!(SmppTime::parse_optional(b"1").is_err());
    }

    #[test]
    fn format_round_trip_and_normalisation() {
        for s in [
            "991231235959948-",
            "000101000000000+",
            "240615120000022+",
            "020610233429000R",
        ] {
            assert_eq!(SmppTime::from_str(s).unwrap().to_string(), s);
        }
        // A zero offset written with '-' comes back as '+'.
        assert_eq!(
            SmppTime::from_str("240615120000000-").unwrap().to_string(),
            "240615120000000+"
        );
    }

    #[test]
    fn receipt_dates() {
        let t = parse_receipt_date(b"1410232152").unwrap();
        assert_eq!(t, utc(2014, 10, 23, 21, 52, 0));
        let t = parse_receipt_date(b"141023215253").unwrap();
        assert_eq!(t, utc(2014, 10, 23, 21, 52, 53));
        assert_eq!(
            format_receipt_date(t, ReceiptDateFormat::Minutes).unwrap(),
            "1410232152"
        );
        assert_eq!(
            format_receipt_date(t, ReceiptDateFormat::Seconds).unwrap(),
            "141023215253"
        );
        assert_eq!(ReceiptDateFormat::Seconds.digits(), 12);
        assert_eq!(
            parse_receipt_date(b"14102321"),
            Err(TimeError::ReceiptDateLength(8))
        );
        assert_eq!(
            parse_receipt_date(b"14102321525"),
            Err(TimeError::ReceiptDateLength(11))
        );
        assert_eq!(
            parse_receipt_date(b"14102321x2"),
            Err(TimeError::NotADigit {
                position: 8,
                byte: b'x'
            })
        );
        assert_eq!(parse_receipt_date(b"1413232152"), Err(TimeError::Month(13)));
        assert_eq!(
            parse_receipt_date(b"141023215260"),
            Err(TimeError::Second(60))
        );
        assert!(format_receipt_date(UNIX_EPOCH, ReceiptDateFormat::Minutes).is_err());
        let y2100 = utc(2099, 12, 31, 23, 59, 59) + Duration::from_secs(1);
        assert_eq!(
            format_receipt_date(y2100, ReceiptDateFormat::Minutes),
            Err(TimeError::Year(2100))
        );
    }

    #[test]
    fn errors_describe_the_problem() {
        let e = SmppTime::parse(b"000101000000049+").unwrap_err();
        assert_eq!(e.to_string(), "UTC offset of 49 quarter hours exceeds 48");
        let e = SmppTime::parse(b"12").unwrap_err();
        assert_eq!(
            e.to_string(),
            "time value must be exactly 16 characters, got 2"
        );
    }

    fn valid_absolute() -> impl Strategy<Value = AbsoluteTime> {
        (
            2000u16..=2099,
            1u8..=12,
            1u8..=31,
            0u8..24,
            0u8..60,
            0u8..60,
            0u8..10,
            -48i8..=48,
        )
            .prop_map(|(y, mo, d, h, mi, s, t, q)| {
                let d = d.min(days_in_month(i64::from(y), mo));
                AbsoluteTime::new(y, mo, d, h, mi, s, t, q).unwrap()
            })
    }

    proptest! {
        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..24)) {
            let _ = SmppTime::parse(&bytes);
            let _ = SmppTime::parse_optional(&bytes);
            let _ = parse_receipt_date(&bytes);
        }

        #[test]
        fn parse_never_panics_on_near_valid(
            s in "[0-9]{12}[0-9]{3}[-+Rr0-9]"
        ) {
            if let Ok(t) = SmppTime::parse(s.as_bytes()) {
                let _ = t.resolve(SystemTime::now());
                let reparsed = SmppTime::parse(&t.to_bytes()).unwrap();
                prop_assert_eq!(reparsed, t);
            }
        }

        #[test]
        fn absolute_round_trips(t in valid_absolute()) {
            let wire = SmppTime::Absolute(t).to_bytes();
            prop_assert_eq!(SmppTime::parse(&wire).unwrap(), SmppTime::Absolute(t));
            let instant = t.to_system_time().unwrap();
            prop_assert_eq!(AbsoluteTime::from_system_time(instant, t.offset_quarters()).unwrap(), t);
        }

        #[test]
        fn relative_resolve_is_monotonic_and_never_panics(
            c in proptest::array::uniform6(0u8..=99),
            secs in -4_000_000_000i64..8_000_000_000,
        ) {
            let r = RelativeTime::new(c[0], c[1], c[2], c[3], c[4], c[5]).unwrap();
            let now = system_time_from_unix(secs, 0).unwrap();
            let later = r.resolve(now).unwrap();
            prop_assert!(later >= now);
        }

        #[test]
        fn receipt_date_round_trips(secs in 946_684_800i64..4_102_444_800) {
            let t = system_time_from_unix(secs, 0).unwrap();
            let s = format_receipt_date(t, ReceiptDateFormat::Seconds).unwrap();
            prop_assert_eq!(parse_receipt_date(s.as_bytes()).unwrap(), t);
            let m = format_receipt_date(t, ReceiptDateFormat::Minutes).unwrap();
            let floored = system_time_from_unix(secs - secs.rem_euclid(60), 0).unwrap();
            prop_assert_eq!(parse_receipt_date(m.as_bytes()).unwrap(), floored);
        }
    }
}
