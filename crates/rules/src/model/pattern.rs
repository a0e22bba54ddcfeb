//! Address patterns: globs over source addresses and sender ids (`4477*`, `ACME?`, `*`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The longest pattern (an SMPP address is at most 20 characters; a few more for `*`).
pub const MAX_PATTERN_LEN: usize = 32;

/// A glob over an address: `*` matches any run of characters (also none), `?` exactly one,
/// anything else itself, case-sensitively. A prefix is `prefix*`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AddressPattern(String);

/// Why a string is not an address pattern.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an address pattern (1 to {MAX_PATTERN_LEN} printable characters)")]
pub struct PatternParseError(String);

impl AddressPattern {
    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `address` matches the whole pattern.
    pub fn matches(&self, address: &str) -> bool {
        glob(self.0.as_bytes(), address.as_bytes())
    }
}

/// Iterative glob with one backtrack point: linear for patterns with a single `*`, and
/// never worse than O(pattern × text).
fn glob(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(&c) if c == b'?' || c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

impl FromStr for AddressPattern {
    type Err = PatternParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let ok = (1..=MAX_PATTERN_LEN).contains(&s.len())
            && s.bytes().all(|b| b.is_ascii_graphic() || b == b' ');
        if ok {
            Ok(AddressPattern(s.to_owned()))
        } else {
            Err(PatternParseError(s.to_owned()))
        }
    }
}

impl fmt::Display for AddressPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for AddressPattern {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for AddressPattern {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> AddressPattern {
        s.parse().unwrap()
    }

    #[test]
    fn globs() {
        assert!(p("4477*").matches("447700900123"));
        assert!(p("4477*").matches("4477"));
        assert!(!p("4477*").matches("4478"));
        assert!(p("*").matches(""));
        assert!(p("ACME?").matches("ACME1"));
        assert!(!p("ACME?").matches("ACME"));
        assert!(!p("ACME").matches("acme"), "case-sensitive");
        assert!(p("*BANK*").matches("MYBANKUK"));
        assert!(p("a*b*c").matches("aXXbYYc"));
        assert!(!p("a*b*c").matches("aXXbYY"));
        assert!(p("exact").matches("exact"));
        assert!(!p("exact").matches("exactly"));
    }

    #[test]
    fn bad_patterns() {
        assert!("".parse::<AddressPattern>().is_err());
        assert!("a\tb".parse::<AddressPattern>().is_err());
        assert!("x".repeat(33).parse::<AddressPattern>().is_err());
        assert!("é".parse::<AddressPattern>().is_err());
    }
}
