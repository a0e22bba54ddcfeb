//! Opt-out lists: numbers that must not receive messages, from one account or from any.

use serde::{Deserialize, Serialize};

use crate::error::ValidationError;
use crate::kind::{Kind, RulesObject};
use crate::model::{Check, MAX_NUMBER_LEN};

/// A list of opted-out numbers (`/herald/v1/opt-outs/<id>`). An account may have several
/// lists (one etcd value holds at most 1.5 MiB, some 80,000 numbers); a snapshot merges them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OptOutList {
    /// The id.
    pub id: String,
    /// The account whose messages are blocked; absent: every account (a global list).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// Numbers in international format, digits only (a leading `+` is dropped on read).
    pub numbers: Vec<String>,
}

/// A number as opt-out lists hold it: without a leading `+`.
pub(crate) fn normalize_number(number: &str) -> &str {
    number.strip_prefix('+').unwrap_or(number)
}

impl RulesObject for OptOutList {
    const KIND: Kind = Kind::OptOut;

    fn id(&self) -> &str {
        &self.id
    }

    fn validate(&self) -> Result<(), ValidationError> {
        let c = Check::new(Kind::OptOut, &self.id);
        c.own_id()?;
        if let Some(a) = &self.account {
            c.id_field("account", a)?;
        }
        for (i, n) in self.numbers.iter().enumerate() {
            c.digits(format!("numbers[{i}]"), normalize_number(n), MAX_NUMBER_LEN)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation() {
        let list: OptOutList = serde_json::from_str(
            r#"{"id": "acme-1", "account": "acme", "numbers": ["447700900123", "+33612345678"]}"#,
        )
        .unwrap();
        assert!(list.validate().is_ok());
        let bad: OptOutList = serde_json::from_str(r#"{"id": "x", "numbers": ["44-77"]}"#).unwrap();
        assert!(bad.validate().is_err());
    }
}
