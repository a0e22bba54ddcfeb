//! MO routes: which account receives a mobile-originated message, by the number it was
//! sent to, an optional keyword, the sender's prefix and the carrier it came from.

use herald_smpp::text::PlanOptions;
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
    /// What the subscriber is sent back when the text is a HELP, opt-out or opt-in keyword
    /// (CTIA and similar rules ask for all three); absent: no reply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replies: Option<MoReplies>,
}

/// The replies a number sends to a subscriber's keywords: from the number the subscriber
/// texted, through the carrier the text came from.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MoReplies {
    /// The answer to a HELP keyword (`router.help_keywords`): who sends, how to stop.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
    /// The confirmation of an opt-out (`router.opt_out_keywords`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opt_out: Option<String>,
    /// The confirmation of an opt-in (`router.opt_in_keywords`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opt_in: Option<String>,
}

impl MoReplies {
    fn check(&self, c: &Check<'_>) -> Result<(), ValidationError> {
        for (field, text) in [
            ("replies.help", &self.help),
            ("replies.opt_out", &self.opt_out),
            ("replies.opt_in", &self.opt_in),
        ] {
            let Some(text) = text else { continue };
            let plan = herald_smpp::text::plan(text, &PlanOptions::default());
            c.ensure(
                !text.trim().is_empty() && plan.segments == 1,
                field,
                format!(
                    "must be a text of one SMS (160 GSM 7-bit characters, or 70 of UCS-2); \
                     this one needs {} parts",
                    plan.segments
                ),
            )?;
        }
        Ok(())
    }
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
        c.id_field("account", &self.account)?;
        match &self.replies {
            Some(replies) => replies.check(&c),
            None => Ok(()),
        }
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

    #[test]
    fn replies_fit_one_sms() {
        let route = |replies: serde_json::Value| {
            mo(
                serde_json::json!({"id": "a", "destination": "80080", "account": "x",
                                  "replies": replies}),
            )
            .validate()
        };
        let field = |replies| match route(replies) {
            Err(ValidationError::Field { field, .. }) => field,
            other => panic!("not refused: {other:?}"),
        };
        assert!(
            route(
                serde_json::json!({"help": "ACME alerts. Reply STOP to end.",
                                     "opt_out": "ACME: you will get no more messages.",
                                     "opt_in": "ACME: welcome back."})
            )
            .is_ok()
        );
        assert!(route(serde_json::json!({"help": "G".repeat(160)})).is_ok());
        assert_eq!(
            field(serde_json::json!({"help": "G".repeat(161)})),
            "replies.help"
        );
        assert_eq!(
            field(serde_json::json!({"opt_out": "\u{1F600}".repeat(36)})),
            "replies.opt_out"
        );
        assert_eq!(field(serde_json::json!({"opt_in": "  "})), "replies.opt_in");
        let unknown = serde_json::from_value::<MoRoute>(serde_json::json!({"id": "a",
            "destination": "1", "account": "x", "replies": {"stop": "no"}}));
        assert!(unknown.is_err());
    }
}
