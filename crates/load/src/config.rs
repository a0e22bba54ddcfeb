//! What a load run does: where it connects, how many sessions and how hard it pushes, and
//! which messages it sends.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::Serialize;

use crate::error::LoadError;

/// How each session binds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BindKind {
    /// `bind_transceiver`: submits and receipts on one session (the default).
    Transceiver,
    /// `bind_transmitter`: submits only; receipts cannot arrive, so ask for none.
    Transmitter,
}

/// How fast submits go out.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rate {
    /// As fast as the server answers: every window slot is refilled at once.
    Unlimited,
    /// This many messages per second across all sessions, paced evenly
    /// ([`crate::pacing::Schedule`]); still bounded by the windows.
    PerSecond(f64),
}

/// The message mix in percent; the three add up to 100.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct MessageMix {
    /// Short GSM 7-bit messages (one segment).
    pub gsm: u8,
    /// Short UCS-2 messages (one segment).
    pub ucs2: u8,
    /// Long GSM 7-bit messages: three segments concatenated by a UDH.
    pub long: u8,
}

impl Default for MessageMix {
    fn default() -> Self {
        MessageMix {
            gsm: 100,
            ucs2: 0,
            long: 0,
        }
    }
}

/// The kind of one message of the mix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageKind {
    /// A short GSM 7-bit text.
    Gsm,
    /// A short UCS-2 text.
    Ucs2,
    /// A long text in several segments.
    Long,
}

impl MessageMix {
    /// The kind of message number `index`: spread over each block of 100 messages in the
    /// exact proportions, so any run of 100 consecutive messages has the mix.
    pub fn kind(&self, index: u64) -> MessageKind {
        let slot = index % 100;
        if slot < u64::from(self.gsm) {
            MessageKind::Gsm
        } else if slot < u64::from(self.gsm) + u64::from(self.ucs2) {
            MessageKind::Ucs2
        } else {
            MessageKind::Long
        }
    }
}

impl FromStr for MessageMix {
    type Err = LoadError;

    /// Parses `gsm=80,ucs2=10,long=10`; kinds left out are 0, and the sum must be 100.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut mix = MessageMix {
            gsm: 0,
            ucs2: 0,
            long: 0,
        };
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, value) = part.split_once('=').ok_or_else(|| {
                LoadError::invalid("mix", format!("`{part}` is not kind=percent"))
            })?;
            let value: u8 =
                value.trim().trim_end_matches('%').parse().map_err(|_| {
                    LoadError::invalid("mix", format!("`{value}` is not a percentage"))
                })?;
            match name.trim() {
                "gsm" => mix.gsm = value,
                "ucs2" => mix.ucs2 = value,
                "long" => mix.long = value,
                other => {
                    return Err(LoadError::invalid(
                        "mix",
                        format!("unknown kind `{other}` (gsm, ucs2, long)"),
                    ));
                }
            }
        }
        let sum = u32::from(mix.gsm) + u32::from(mix.ucs2) + u32::from(mix.long);
        if sum != 100 {
            return Err(LoadError::invalid(
                "mix",
                format!("adds up to {sum}%, not 100%"),
            ));
        }
        Ok(mix)
    }
}

impl fmt::Display for MessageMix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "gsm={},ucs2={},long={}", self.gsm, self.ucs2, self.long)
    }
}

/// Destination numbers: a pattern whose `#` characters are replaced by the digits of the
/// message number (the rightmost `#` is the units digit, wrapping around), e.g.
/// `4477009#####` gives `447700900000`, `447700900001`, …
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DestPattern(String);

impl DestPattern {
    /// The destination of message number `index`.
    pub fn render(&self, index: u64) -> String {
        let mut n = index;
        let mut out: Vec<char> = self.0.chars().collect();
        for c in out.iter_mut().rev() {
            if *c == '#' {
                let digit = u32::try_from(n % 10).unwrap_or(0);
                *c = char::from_digit(digit, 10).unwrap_or('0');
                n /= 10;
            }
        }
        out.into_iter().collect()
    }
}

impl FromStr for DestPattern {
    type Err = LoadError;

    /// Digits, an optional leading `+` and `#`; at most 20 characters.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let body = s.strip_prefix('+').unwrap_or(s);
        if body.is_empty()
            || body.len() > 20
            || !body.chars().all(|c| c.is_ascii_digit() || c == '#')
        {
            return Err(LoadError::invalid(
                "destination",
                format!("`{s}` must be 1 to 20 digits or `#`"),
            ));
        }
        Ok(DestPattern(body.to_owned()))
    }
}

impl Default for DestPattern {
    fn default() -> Self {
        DestPattern("447700######".into())
    }
}

/// Everything a load run needs.
#[derive(Clone, Debug, Serialize)]
pub struct LoadConfig {
    /// The server's host.
    pub host: String,
    /// The server's SMPP port.
    pub port: u16,
    /// More servers (`host:port`) to spread the sessions over, for a cluster's edges
    /// without a load balancer in front: session `n` goes to the `n`-th of
    /// `host:port` and these, round robin.
    pub also: Vec<String>,
    /// `system_id` to bind with.
    pub system_id: String,
    /// The password.
    #[serde(skip)]
    pub password: String,
    /// `system_type` to bind with.
    pub system_type: String,
    /// How the sessions bind.
    pub bind: BindKind,
    /// How many sessions.
    pub sessions: usize,
    /// Outstanding submits per session.
    pub window: usize,
    /// The pace.
    pub rate: Rate,
    /// Messages to send (all sessions together); `None` with a [`LoadConfig::duration`].
    pub count: Option<u64>,
    /// Stop sending after this long; with a count too, whichever comes first.
    #[serde(with = "secs")]
    pub duration: Option<Duration>,
    /// Ask for delivery receipts (`registered_delivery` 1) and match them.
    pub registered_delivery: bool,
    /// The message mix.
    pub mix: MessageMix,
    /// The sender (alphanumeric when not all digits).
    pub source: String,
    /// Destination numbers.
    pub destination: DestPattern,
    /// After the last submit is answered, how long to wait for outstanding receipts before
    /// counting them lost.
    #[serde(with = "secs_plain")]
    pub grace: Duration,
    /// How long a submit waits for its response.
    #[serde(with = "secs_plain")]
    pub response_timeout: Duration,
}

impl Default for LoadConfig {
    fn default() -> Self {
        LoadConfig {
            host: "127.0.0.1".into(),
            port: 2775,
            also: Vec::new(),
            system_id: "demo".into(),
            password: String::new(),
            system_type: String::new(),
            bind: BindKind::Transceiver,
            sessions: 4,
            window: 100,
            rate: Rate::Unlimited,
            count: Some(10_000),
            duration: None,
            registered_delivery: true,
            mix: MessageMix::default(),
            source: "Herald".into(),
            destination: DestPattern::default(),
            grace: Duration::from_secs(10),
            response_timeout: Duration::from_secs(10),
        }
    }
}

impl LoadConfig {
    /// Checks the settings fit together.
    ///
    /// # Errors
    ///
    /// [`LoadError::Invalid`] naming the first bad setting.
    pub fn validate(&self) -> Result<(), LoadError> {
        if self.sessions == 0 {
            return Err(LoadError::invalid("sessions", "must be at least 1"));
        }
        if self.window == 0 {
            return Err(LoadError::invalid("window", "must be at least 1"));
        }
        if self.count.is_none() && self.duration.is_none() {
            return Err(LoadError::invalid("count", "give a count or a duration"));
        }
        if let Rate::PerSecond(rate) = self.rate
            && !(rate.is_finite() && rate > 0.0)
        {
            return Err(LoadError::invalid("rate", "must be a positive number"));
        }
        if self.registered_delivery && self.bind == BindKind::Transmitter {
            return Err(LoadError::invalid(
                "bind",
                "a transmitter cannot receive receipts: bind as transceiver or turn receipts off",
            ));
        }
        if self.source.is_empty() || self.source.len() > 20 {
            return Err(LoadError::invalid("source", "must be 1 to 20 characters"));
        }
        if let Some(bad) = self.also.iter().find(|target| {
            !target
                .rsplit_once(':')
                .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok())
        }) {
            return Err(LoadError::invalid(
                "also",
                format!("{bad:?} is not host:port"),
            ));
        }
        Ok(())
    }

    /// The server session `n` connects to (`host:port`).
    pub fn target(&self, n: usize) -> String {
        match n % (self.also.len() + 1) {
            0 => format!("{}:{}", self.host, self.port),
            i => self.also[i - 1].clone(),
        }
    }
}

/// Parses `10s`, `500ms`, `2m`, `1h` or a plain number of seconds (`1.5`).
///
/// # Errors
///
/// [`LoadError::Invalid`] for anything else.
pub fn parse_duration(s: &str) -> Result<Duration, LoadError> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| LoadError::invalid("duration", format!("`{s}` is not a duration")))?;
    let seconds = match unit.trim() {
        "" | "s" => value,
        "ms" => value / 1000.0,
        "m" | "min" => value * 60.0,
        "h" => value * 3600.0,
        other => {
            return Err(LoadError::invalid(
                "duration",
                format!("unknown unit `{other}` (ms, s, m, h)"),
            ));
        }
    };
    Duration::try_from_secs_f64(seconds)
        .map_err(|_| LoadError::invalid("duration", format!("`{s}` is out of range")))
}

mod secs {
    use std::time::Duration;

    pub(super) fn serialize<S: serde::Serializer>(
        value: &Option<Duration>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(d) => s.serialize_some(&d.as_secs_f64()),
            None => s.serialize_none(),
        }
    }
}

mod secs_plain {
    use std::time::Duration;

    pub(super) fn serialize<S: serde::Serializer>(
        value: &Duration,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.serialize_f64(value.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    #[test]
    fn sessions_are_spread_round_robin_over_every_target() {
        let config = LoadConfig {
            host: "10.0.0.1".into(),
            port: 2775,
            also: vec!["10.0.0.2:2775".into(), "edge-3:2776".into()],
            ..LoadConfig::default()
        };
        let targets: Vec<String> = (0..4).map(|n| config.target(n)).collect();
        assert_eq!(
            targets,
            [
                "10.0.0.1:2775",
                "10.0.0.2:2775",
                "edge-3:2776",
                "10.0.0.1:2775"
            ]
        );
        assert!(config.validate().is_ok());
        for bad in ["edge-2", ":2775", "edge-2:port", "edge-2:70000"] {
            let config = LoadConfig {
                also: vec![bad.into()],
                ..LoadConfig::default()
            };
            assert!(config.validate().is_err(), "{bad}");
        }
    }

    #[test]
    fn the_mix_parses_and_spreads_exactly() {
        let mix: MessageMix = "gsm=70, ucs2=20,long=10".parse().unwrap();
        assert_eq!((mix.gsm, mix.ucs2, mix.long), (70, 20, 10));
        let kinds: Vec<_> = (0..1000).map(|i| mix.kind(i)).collect();
        let count = |k| kinds.iter().filter(|&&x| x == k).count();
        assert_eq!(count(MessageKind::Gsm), 700);
        assert_eq!(count(MessageKind::Ucs2), 200);
        assert_eq!(count(MessageKind::Long), 100);
        assert!("gsm=50".parse::<MessageMix>().is_err());
        assert!("gsm=90,emoji=10".parse::<MessageMix>().is_err());
        assert_eq!(mix.to_string().parse::<MessageMix>().unwrap(), mix);
    }

    #[test]
    fn destinations_count_through_the_hashes() {
        let p: DestPattern = "+4477009###".parse().unwrap();
        assert_eq!(p.render(0), "4477009000");
        assert_eq!(p.render(42), "4477009042");
        assert_eq!(p.render(1042), "4477009042");
        assert!("44a".parse::<DestPattern>().is_err());
    }

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("10s").unwrap(), Duration::from_secs(10));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("1.5").unwrap(), Duration::from_millis(1500));
        assert!(parse_duration("10 parsecs").is_err());
    }

    #[test]
    fn a_transmitter_cannot_wait_for_receipts() {
        let config = LoadConfig {
            bind: BindKind::Transmitter,
            ..LoadConfig::default()
        };
        assert!(config.validate().is_err());
        assert!(LoadConfig::default().validate().is_ok());
    }
}
