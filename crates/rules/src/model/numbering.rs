//! Numbering plans: how an account writes destination numbers that are not in
//! international format, so routing can turn them into E.164 digits.
//!
//! An account whose ESMEs send national numbers (`07700900123` in the UK) carries a
//! [`NumberingPlan`] naming its country; the routing engine (`crate::routing`) uses it to
//! replace the national trunk prefix with the country code before matching. Accounts
//! without one are taken to send international numbers (with or without `+` or `00`).

use serde::{Deserialize, Serialize};

use crate::error::ValidationError;
use crate::model::Check;

fn default_trunk_prefix() -> String {
    "0".to_owned()
}

fn default_international_prefix() -> String {
    "00".to_owned()
}

/// The country context of an account's national-format numbers (`numbering` on an
/// [`crate::Account`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NumberingPlan {
    /// The E.164 country code national numbers belong to (`44`, `1`, `33`): 1 to 3
    /// digits, not starting with 0.
    pub country_code: String,
    /// The national trunk prefix dialled before a national number (`0` in most of Europe,
    /// `1` in the NANP, `8` in Russia); empty when the country has none. Default `0`.
    #[serde(default = "default_trunk_prefix")]
    pub trunk_prefix: String,
    /// The international call prefix (`00`, `011` in the NANP). Default `00`. `+` and `00`
    /// are always understood as well.
    #[serde(default = "default_international_prefix")]
    pub international_prefix: String,
}

impl NumberingPlan {
    pub(crate) fn check(&self, c: &Check<'_>, field: &str) -> Result<(), ValidationError> {
        c.ensure(
            (1..=3).contains(&self.country_code.len())
                && self.country_code.bytes().all(|b| b.is_ascii_digit())
                && !self.country_code.starts_with('0'),
            format!("{field}.country_code"),
            format!(
                "{:?} is not a country code (1 to 3 digits, not starting with 0)",
                self.country_code
            ),
        )?;
        c.ensure(
            self.trunk_prefix.len() <= 2 && self.trunk_prefix.bytes().all(|b| b.is_ascii_digit()),
            format!("{field}.trunk_prefix"),
            format!(
                "{:?} is not a trunk prefix (0 to 2 digits)",
                self.trunk_prefix
            ),
        )?;
        c.ensure(
            (1..=4).contains(&self.international_prefix.len())
                && self
                    .international_prefix
                    .bytes()
                    .all(|b| b.is_ascii_digit()),
            format!("{field}.international_prefix"),
            format!(
                "{:?} is not an international prefix (1 to 4 digits)",
                self.international_prefix
            ),
        )?;
        c.ensure(
            self.trunk_prefix.is_empty() || self.international_prefix != self.trunk_prefix,
            format!("{field}.trunk_prefix"),
            "equals the international prefix",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kind::Kind;

    #[test]
    fn defaults_and_validation() {
        let plan: NumberingPlan = serde_json::from_str(r#"{"country_code": "44"}"#).unwrap();
        assert_eq!(plan.trunk_prefix, "0");
        assert_eq!(plan.international_prefix, "00");
        let c = Check::new(Kind::Account, "a");
        assert!(plan.check(&c, "numbering").is_ok());
        let bad = |json: &str| {
            let plan: NumberingPlan = serde_json::from_str(json).unwrap();
            plan.check(&c, "numbering").is_err()
        };
        assert!(bad(r#"{"country_code": "044"}"#));
        assert!(bad(r#"{"country_code": "1234"}"#));
        assert!(bad(r#"{"country_code": "4a"}"#));
        assert!(bad(r#"{"country_code": "44", "trunk_prefix": "000"}"#));
        assert!(bad(r#"{"country_code": "44", "international_prefix": ""}"#));
        assert!(bad(
            r#"{"country_code": "7", "trunk_prefix": "8", "international_prefix": "8"}"#
        ));
        assert!(!bad(
            r#"{"country_code": "1", "trunk_prefix": "1", "international_prefix": "011"}"#
        ));
        assert!(!bad(r#"{"country_code": "39", "trunk_prefix": ""}"#));
    }
}
