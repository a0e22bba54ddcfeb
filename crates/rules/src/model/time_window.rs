//! Time windows for routes: days of the week and a time of day range in a fixed UTC offset.
//!
//! Only fixed offsets (`+01:00`, `UTC`) are supported, not IANA zone names: a window that must
//! follow daylight saving time is written as two routes or updated twice a year. This keeps
//! the tz database out of every node (docs/rules.md).

use std::fmt;
use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::ValidationError;
use crate::model::Check;

/// A fixed offset from UTC, `-14:00` to `+14:00`; written `UTC`, `Z` or `±HH:MM`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct UtcOffset {
    minutes: i16,
}

impl UtcOffset {
    /// UTC itself.
    pub const UTC: UtcOffset = UtcOffset { minutes: 0 };

    /// An offset of `minutes` east of UTC, if within ±14 h.
    pub const fn from_minutes(minutes: i16) -> Option<UtcOffset> {
        if minutes >= -14 * 60 && minutes <= 14 * 60 {
            Some(UtcOffset { minutes })
        } else {
            None
        }
    }

    /// Minutes east of UTC.
    pub const fn minutes(self) -> i16 {
        self.minutes
    }
}

impl FromStr for UtcOffset {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if s.eq_ignore_ascii_case("utc") || s == "Z" {
            return Ok(UtcOffset::UTC);
        }
        let bad = || {
            format!(
                "{s:?} is not a fixed UTC offset (UTC or ±HH:MM; IANA zone names are not supported)"
            )
        };
        let (sign, rest) = match s.as_bytes().first() {
            Some(b'+') => (1, &s[1..]),
            Some(b'-') => (-1, &s[1..]),
            _ => return Err(bad()),
        };
        let (h, m) = rest.split_once(':').ok_or_else(bad)?;
        if h.len() != 2 || m.len() != 2 {
            return Err(bad());
        }
        let h: i16 = h.parse().map_err(|_| bad())?;
        let m: i16 = m.parse().map_err(|_| bad())?;
        if m >= 60 {
            return Err(bad());
        }
        UtcOffset::from_minutes(sign * (h * 60 + m)).ok_or_else(bad)
    }
}

impl fmt::Display for UtcOffset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.minutes == 0 {
            return f.write_str("UTC");
        }
        let sign = if self.minutes < 0 { '-' } else { '+' };
        let m = self.minutes.unsigned_abs();
        write!(f, "{sign}{:02}:{:02}", m / 60, m % 60)
    }
}

/// A day of the week, written `mon` to `sun`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Weekday {
    /// Monday.
    Mon,
    /// Tuesday.
    Tue,
    /// Wednesday.
    Wed,
    /// Thursday.
    Thu,
    /// Friday.
    Fri,
    /// Saturday.
    Sat,
    /// Sunday.
    Sun,
}

impl Weekday {
    /// Monday to Sunday.
    pub const ALL: [Weekday; 7] = [
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
        Weekday::Sat,
        Weekday::Sun,
    ];

    /// Monday is 0.
    fn from_index(i: i64) -> Weekday {
        Weekday::ALL[i.rem_euclid(7) as usize]
    }
}

/// A time of day, `HH:MM` from `00:00` to `24:00` (the latter only as a window's end).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TimeOfDay {
    minutes: u16,
}

impl TimeOfDay {
    /// `hour:minute`, if it is a time of day (or 24:00).
    pub const fn new(hour: u16, minute: u16) -> Option<TimeOfDay> {
        if minute < 60 && (hour < 24 || (hour == 24 && minute == 0)) {
            Some(TimeOfDay {
                minutes: hour * 60 + minute,
            })
        } else {
            None
        }
    }

    /// Minutes since midnight.
    pub const fn minutes(self) -> u16 {
        self.minutes
    }
}

impl FromStr for TimeOfDay {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("{s:?} is not a time of day (HH:MM, 00:00 to 24:00)");
        let (h, m) = s.split_once(':').ok_or_else(bad)?;
        if h.len() != 2 || m.len() != 2 {
            return Err(bad());
        }
        let h = h.parse().map_err(|_| bad())?;
        let m = m.parse().map_err(|_| bad())?;
        TimeOfDay::new(h, m).ok_or_else(bad)
    }
}

impl fmt::Display for TimeOfDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.minutes / 60, self.minutes % 60)
    }
}

macro_rules! serde_via_str {
    ($t:ty) => {
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

serde_via_str!(UtcOffset);
serde_via_str!(TimeOfDay);

fn every_day() -> Vec<Weekday> {
    Weekday::ALL.to_vec()
}

/// When a route applies: on `days`, from `from` (inclusive) to `to` (exclusive), local time
/// at `time_zone`. A window whose `to` is not after `from` runs over midnight into the next
/// day (`22:00`–`06:00`); `days` are the days on which it starts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeWindow {
    /// The offset of local time; absent: the evaluator's default (the router's
    /// `router.default_timezone`, UTC when none is given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<UtcOffset>,
    /// The days the window starts on; default every day.
    #[serde(default = "every_day")]
    pub days: Vec<Weekday>,
    /// Start, inclusive.
    pub from: TimeOfDay,
    /// End, exclusive; `24:00` for the end of the day.
    pub to: TimeOfDay,
}

impl TimeWindow {
    /// Whether `at` falls in the window (UTC when it names no time zone).
    pub fn contains(&self, at: SystemTime) -> bool {
        self.contains_in(at, UtcOffset::UTC)
    }

    /// Whether `at` falls in the window, reading it in `default` when it names no time
    /// zone.
    pub fn contains_in(&self, at: SystemTime, default: UtcOffset) -> bool {
        let secs = match at.duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX / 2),
            Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX / 2),
        };
        let offset = self.time_zone.unwrap_or(default);
        let local = secs + i64::from(offset.minutes()) * 60;
        let day = local.div_euclid(86_400);
        let minute = (local.rem_euclid(86_400) / 60) as u16;
        // 1970-01-01 was a Thursday (index 3 with Monday 0).
        let today = Weekday::from_index(day + 3);
        let yesterday = Weekday::from_index(day + 2);
        let (from, to) = (self.from.minutes(), self.to.minutes());
        if from < to {
            self.days.contains(&today) && (from..to).contains(&minute)
        } else {
            (self.days.contains(&today) && minute >= from)
                || (self.days.contains(&yesterday) && minute < to)
        }
    }

    pub(crate) fn check(&self, check: &Check<'_>, field: &str) -> Result<(), ValidationError> {
        check.ensure(
            !self.days.is_empty(),
            format!("{field}.days"),
            "is empty (omit it for every day)",
        )?;
        check.no_duplicates(&format!("{field}.days"), &self.days)?;
        check.ensure(
            self.from.minutes() < 24 * 60,
            format!("{field}.from"),
            "24:00 is only valid as the end",
        )?;
        check.ensure(
            self.from != self.to,
            format!("{field}.to"),
            "equals from: the window would be empty (omit the window for all day)",
        )
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::kind::Kind;

    /// 2024-01-01 was a Monday; `at(0, 9, 30)` is Monday 09:30 UTC.
    fn at(day: u64, hour: u64, minute: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_704_067_200 + day * 86_400 + hour * 3600 + minute * 60)
    }

    fn window(json: &str) -> TimeWindow {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn office_hours_on_weekdays() {
        let w =
            window(r#"{"days": ["mon","tue","wed","thu","fri"], "from": "08:00", "to": "18:00"}"#);
        assert!(w.contains(at(0, 8, 0)));
        assert!(w.contains(at(0, 17, 59)));
        assert!(!w.contains(at(0, 18, 0)));
        assert!(!w.contains(at(0, 7, 59)));
        assert!(!w.contains(at(5, 12, 0)), "saturday");
        assert!(w.contains(at(4, 12, 0)), "friday");
    }

    #[test]
    fn offsets_shift_local_time() {
        let w = window(r#"{"time_zone": "+02:00", "from": "08:00", "to": "09:00"}"#);
        assert!(w.contains(at(0, 6, 30)), "06:30 UTC is 08:30 at +02:00");
        assert!(!w.contains(at(0, 8, 30)));
        let w =
            window(r#"{"time_zone": "-05:30", "days": ["sun"], "from": "22:00", "to": "24:00"}"#);
        // Monday 03:45 UTC is Sunday 22:15 at -05:30.
        assert!(w.contains(at(0, 3, 45)));
        assert!(!w.contains(at(0, 5, 45)), "Monday 00:15 local");
        let unzoned = window(r#"{"from": "08:00", "to": "09:00"}"#);
        let plus_two = UtcOffset::from_minutes(120).unwrap();
        assert!(
            unzoned.contains(at(0, 8, 30)),
            "UTC when no default is given"
        );
        assert!(
            unzoned.contains_in(at(0, 6, 30), plus_two),
            "the default applies"
        );
        assert!(w.contains_in(at(0, 3, 45), plus_two), "a named zone wins");
    }

    #[test]
    fn windows_over_midnight_belong_to_their_start_day() {
        let w = window(r#"{"days": ["fri"], "from": "22:00", "to": "06:00"}"#);
        assert!(w.contains(at(4, 23, 0)), "friday night");
        assert!(w.contains(at(5, 5, 59)), "saturday early morning");
        assert!(!w.contains(at(5, 6, 0)));
        assert!(!w.contains(at(5, 23, 0)), "saturday night is not in it");
        assert!(
            !w.contains(at(4, 5, 0)),
            "friday early morning belongs to thursday"
        );
    }

    #[test]
    fn parsing_and_validation() {
        assert_eq!("UTC".parse::<UtcOffset>().unwrap(), UtcOffset::UTC);
        assert_eq!("+05:45".parse::<UtcOffset>().unwrap().minutes(), 345);
        assert_eq!("-03:30".parse::<UtcOffset>().unwrap().to_string(), "-03:30");
        assert!("Europe/Paris".parse::<UtcOffset>().is_err());
        assert!("+15:00".parse::<UtcOffset>().is_err());
        assert!("+1:00".parse::<UtcOffset>().is_err());
        assert!("24:01".parse::<TimeOfDay>().is_err());
        assert!("7:00".parse::<TimeOfDay>().is_err());
        assert_eq!("24:00".parse::<TimeOfDay>().unwrap().minutes(), 1440);
        let c = Check::new(Kind::Route, "r");
        assert!(
            window(r#"{"from": "24:00", "to": "06:00"}"#)
                .check(&c, "w")
                .is_err()
        );
        assert!(
            window(r#"{"from": "06:00", "to": "06:00"}"#)
                .check(&c, "w")
                .is_err()
        );
        assert!(
            window(r#"{"days": [], "from": "06:00", "to": "07:00"}"#)
                .check(&c, "w")
                .is_err()
        );
        assert!(
            window(r#"{"days": ["mon","mon"], "from": "06:00", "to": "07:00"}"#)
                .check(&c, "w")
                .is_err()
        );
        assert!(
            window(r#"{"from": "06:00", "to": "24:00"}"#)
                .check(&c, "w")
                .is_ok()
        );
    }
}
