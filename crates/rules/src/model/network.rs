//! Mobile networks: an MCC-MNC and the number prefixes that belong to it, for routing and
//! pricing by destination network.

use serde::{Deserialize, Serialize};

use crate::error::ValidationError;
use crate::kind::{Kind, RulesObject};
use crate::model::{Check, MAX_NUMBER_LEN};

/// Whether `id` is an MCC-MNC id: three digits, `-`, two or three digits (`234-15`).
pub(crate) fn is_mcc_mnc(id: &str) -> bool {
    let Some((mcc, mnc)) = id.split_once('-') else {
        return false;
    };
    mcc.len() == 3
        && (2..=3).contains(&mnc.len())
        && mcc.bytes().chain(mnc.bytes()).all(|b| b.is_ascii_digit())
}

/// A mobile network (`/herald/v1/networks/<mcc-mnc>`). Its id is its MCC-MNC.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Network {
    /// MCC-MNC, like `234-15`.
    pub id: String,
    /// A display name.
    #[serde(default)]
    pub name: String,
    /// Number prefixes (international format, digits) of its subscribers. A number belongs
    /// to the network with the longest matching prefix.
    pub prefixes: Vec<String>,
}

impl Network {
    /// The mobile country code.
    pub fn mcc(&self) -> &str {
        self.id.split_once('-').map_or("", |(mcc, _)| mcc)
    }

    /// The mobile network code.
    pub fn mnc(&self) -> &str {
        self.id.split_once('-').map_or("", |(_, mnc)| mnc)
    }
}

impl RulesObject for Network {
    const KIND: Kind = Kind::Network;

    fn id(&self) -> &str {
        &self.id
    }

    fn validate(&self) -> Result<(), ValidationError> {
        let c = Check::new(Kind::Network, &self.id);
        c.ensure(
            is_mcc_mnc(&self.id),
            "id",
            format!("{:?} is not an MCC-MNC id (like 234-15)", self.id),
        )?;
        c.ensure(!self.prefixes.is_empty(), "prefixes", "is empty")?;
        for (i, p) in self.prefixes.iter().enumerate() {
            c.digits(format!("prefixes[{i}]"), p, MAX_NUMBER_LEN)?;
        }
        c.no_duplicates("prefixes", &self.prefixes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mcc_mnc_ids() {
        assert!(is_mcc_mnc("234-15"));
        assert!(is_mcc_mnc("310-260"));
        assert!(!is_mcc_mnc("23415"));
        assert!(!is_mcc_mnc("234-1"));
        assert!(!is_mcc_mnc("23a-15"));
        let n: Network = serde_json::from_str(
            r#"{"id": "234-15", "name": "Vodafone UK", "prefixes": ["44770"]}"#,
        )
        .unwrap();
        assert!(n.validate().is_ok());
        assert_eq!((n.mcc(), n.mnc()), ("234", "15"));
        let bad: Network =
            serde_json::from_str(r#"{"id": "234-15", "prefixes": ["44x"]}"#).unwrap();
        assert!(bad.validate().is_err());
        let empty: Network = serde_json::from_str(r#"{"id": "234-15", "prefixes": []}"#).unwrap();
        assert!(empty.validate().is_err());
    }
}
