//! Price tables: what a carrier charges per message by destination prefix or network, for
//! least-cost routing. Prices are integers in millionths of the currency unit, never floats.

use serde::{Deserialize, Serialize};

use crate::error::ValidationError;
use crate::kind::{Kind, RulesObject};
use crate::model::network::is_mcc_mnc;
use crate::model::{Check, MAX_NUMBER_LEN};

/// One price: for a destination prefix or for a network (exactly one of the two).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceEntry {
    /// Destination prefix (digits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// Destination network (MCC-MNC id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
    /// Price per message part in millionths of the currency unit (`4500` = 0.0045).
    pub price_micros: u64,
}

/// A carrier's price table (`/herald/v1/prices/<id>`); at most one per carrier.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceTable {
    /// The id.
    pub id: String,
    /// The carrier it prices.
    pub carrier: String,
    /// ISO 4217 currency code (`EUR`); least-cost routes compare only tables of one
    /// currency.
    pub currency: String,
    /// The prices. For a number, the entry with the longest matching prefix wins, where a
    /// network entry counts with the length of the network prefix the number matched; on a
    /// tie the prefix entry wins.
    pub entries: Vec<PriceEntry>,
    /// The price for destinations no entry covers; absent: the carrier cannot reach them
    /// (least-cost skips it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_price_micros: Option<u64>,
}

impl RulesObject for PriceTable {
    const KIND: Kind = Kind::Price;

    fn id(&self) -> &str {
        &self.id
    }

    fn validate(&self) -> Result<(), ValidationError> {
        let c = Check::new(Kind::Price, &self.id);
        c.own_id()?;
        c.id_field("carrier", &self.carrier)?;
        c.ensure(
            self.currency.len() == 3 && self.currency.bytes().all(|b| b.is_ascii_uppercase()),
            "currency",
            format!("{:?} is not an ISO 4217 code", self.currency),
        )?;
        for (i, e) in self.entries.iter().enumerate() {
            match (&e.prefix, &e.network) {
                (Some(p), None) => c.digits(format!("entries[{i}].prefix"), p, MAX_NUMBER_LEN)?,
                (None, Some(n)) => c.ensure(
                    is_mcc_mnc(n),
                    format!("entries[{i}].network"),
                    format!("{n:?} is not an MCC-MNC id"),
                )?,
                _ => {
                    return Err(c.fail(
                        format!("entries[{i}]"),
                        "needs exactly one of prefix and network",
                    ));
                }
            }
        }
        let keys: Vec<(&Option<String>, &Option<String>)> = self
            .entries
            .iter()
            .map(|e| (&e.prefix, &e.network))
            .collect();
        c.no_duplicates("entries", &keys)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation() {
        let table = |entries: serde_json::Value| -> PriceTable {
            serde_json::from_value(serde_json::json!({
                "id": "p", "carrier": "c", "currency": "EUR", "entries": entries}))
            .unwrap()
        };
        assert!(
            table(serde_json::json!([
            {"prefix": "44", "price_micros": 3000},
            {"network": "234-15", "price_micros": 2500}]))
            .validate()
            .is_ok()
        );
        assert!(
            table(serde_json::json!([{"price_micros": 1}]))
                .validate()
                .is_err()
        );
        assert!(
            table(serde_json::json!([{"prefix": "4", "network": "234-15", "price_micros": 1}]))
                .validate()
                .is_err()
        );
        assert!(
            table(serde_json::json!([
            {"prefix": "44", "price_micros": 1}, {"prefix": "44", "price_micros": 2}]))
            .validate()
            .is_err()
        );
        let mut t = table(serde_json::json!([]));
        t.currency = "eur".into();
        assert!(t.validate().is_err());
    }
}
