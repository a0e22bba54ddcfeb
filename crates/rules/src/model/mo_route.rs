//! MO routes: which account receives a mobile-originated message, by the number it was
//! sent to, an optional keyword, the sender's prefix and the carrier it came from.

use serde::{Deserialize, Serialize};

use crate::error::ValidationError;
use crate::kind::{Kind, RulesObject};
use crate::model::{Check, MAX_NUMBER_LEN};

/// The longest keyword.
pub const MAX_KEYWORD_LEN: usize = 32;

fn yes() -> bool {
    true
}

/// An MO route (`/herald/v1/mo-routes/<id>`). Tried in ascending `priority` (then id); the
/// first that matches delivers the message to `account`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MoRoute {
    /// The id.
    pub id: String,
    /// A disabled MO route is skipped.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Lower is tried first. Default 0.
    #[serde(default)]
    pub priority: i32,
    /// The short or long code the message was sent to (digits).
    pub destination: String,
    /// The first word of the text, compared case-insensitively; absent: any text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keyword: Option<String>,
    /// Sender number prefix (digits); absent: any sender.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_prefix: Option<String>,
    /// Carriers the message may come from; empty: any.
    #[serde(default)]
    pub carriers: Vec<String>,
    /// The account that receives it.
    pub account: String,
}

impl MoRoute {
    /// Whether a message from `source` to `destination` with `text`, received from
    /// `carrier`, matches. The keyword is the text's first whitespace-separated word.
    pub fn matches(&self, carrier: &str, source: &str, destination: &str, text: &str) -> bool {
        let source = source.strip_prefix('+').unwrap_or(source);
        let destination = destination.strip_prefix('+').unwrap_or(destination);
        self.enabled
            && destination == self.destination
            && (self.carriers.is_empty() || self.carriers.iter().any(|c| c == carrier))
            && self
                .source_prefix
                .as_deref()
                .is_none_or(|p| source.starts_with(p))
            && self.keyword.as_deref().is_none_or(|k| {
                text.split_whitespace()
                    .next()
                    .is_some_and(|w| w.to_lowercase() == k.to_lowercase())
            })
    }
}

impl RulesObject for MoRoute {
    const KIND: Kind = Kind::MoRoute;

    fn id(&self) -> &str {
        &self.id
    }

    fn validate(&self) -> Result<(), ValidationError> {
        let c = Check::new(Kind::MoRoute, &self.id);
        c.own_id()?;
        c.digits("destination", &self.destination, MAX_NUMBER_LEN)?;
        if let Some(k) = &self.keyword {
            c.ensure(
                !k.is_empty()
                    && k.chars().count() <= MAX_KEYWORD_LEN
                    && !k.chars().any(|ch| ch.is_whitespace() || ch.is_control()),
                "keyword",
                format!("must be one word of 1 to {MAX_KEYWORD_LEN} characters"),
            )?;
        }
        if let Some(p) = &self.source_prefix {
            c.digits("source_prefix", p, MAX_NUMBER_LEN)?;
        }
        c.id_list("carriers", &self.carriers)?;
        c.id_field("account", &self.account)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mo(json: serde_json::Value) -> MoRoute {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn keyword_source_and_carrier() {
        let r = mo(serde_json::json!({
            "id": "stop", "destination": "80080", "keyword": "Stop",
            "source_prefix": "44", "carriers": ["voda"], "account": "acme"}));
        assert!(r.validate().is_ok());
        assert!(r.matches("voda", "+447700900123", "80080", "STOP please"));
        assert!(r.matches("voda", "447700900123", "80080", "  stop"));
        assert!(!r.matches("voda", "447700900123", "80080", "stopping"));
        assert!(!r.matches("voda", "337700900123", "80080", "stop"));
        assert!(!r.matches("o2", "447700900123", "80080", "stop"));
        assert!(!r.matches("voda", "447700900123", "80081", "stop"));
        assert!(!r.matches("voda", "447700900123", "80080", ""));
        let any = mo(serde_json::json!({"id": "all", "destination": "80080", "account": "acme"}));
        assert!(any.matches("x", "1", "80080", ""));
    }

    #[test]
    fn validation() {
        let bad = |json| mo(json).validate().is_err();
        assert!(bad(
            serde_json::json!({"id": "a", "destination": "short", "account": "x"})
        ));
        assert!(bad(
            serde_json::json!({"id": "a", "destination": "1", "keyword": "two words", "account": "x"})
        ));
        assert!(bad(
            serde_json::json!({"id": "a", "destination": "1", "keyword": "", "account": "x"})
        ));
        assert!(bad(
            serde_json::json!({"id": "a", "destination": "1", "account": "X"})
        ));
        assert!(bad(
            serde_json::json!({"id": "a", "destination": "1", "source_prefix": "+4", "account": "x"})
        ));
    }
}
