//! [`RulesClient`]: writes rules objects with compare-and-swap on their revision, reads and
//! lists them, and registers nodes. The control plane writes through it; every write is
//! validated first, so a well-behaved writer never leaves a problem for the snapshot.

use std::time::Duration;

use etcd_client::{Compare, CompareOp, GetOptions, Txn, TxnOp, TxnOpResponse};
use serde_json::Value;

use crate::audit::AuditWrite;
use crate::config::StoreConfig;
use crate::error::{Error, ValidationError};
use crate::etcd::{Etcd, revision_of, to_etcd_revision};
use crate::kind::{Kind, RulesObject};
use crate::model::{Account, Carrier, MoRoute, Network, OptOutList, PriceTable, Route};
use crate::nodes::{self, NodeInfo, NodeRegistration};

/// What a write expects of the object's current state (compare-and-swap).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expected {
    /// It must not exist (create).
    Absent,
    /// It must be at this `mod_revision` (update what was read). `Revision(0)` is the same
    /// as `Absent`.
    Revision(u64),
    /// Whatever it is (last writer wins).
    Any,
}

/// An object with the revision it was last modified at.
#[derive(Clone, Debug, PartialEq)]
pub struct Versioned<T> {
    /// The object.
    pub value: T,
    /// Its `mod_revision`: pass it back as [`Expected::Revision`] to update it.
    pub mod_revision: u64,
}

/// One stored object as its JSON document (for the admin API, which speaks documents).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredObject {
    /// The kind.
    pub kind: Kind,
    /// The id.
    pub id: String,
    /// The document as stored.
    pub json: String,
    /// Its `mod_revision`.
    pub mod_revision: u64,
}

/// Every object of a kind at one revision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listing {
    /// The revision read at.
    pub revision: u64,
    /// The objects in id order.
    pub objects: Vec<StoredObject>,
}

/// A handle on the rules in etcd for writers (cheap to clone).
#[derive(Clone)]
pub struct RulesClient {
    pub(crate) etcd: Etcd,
    config: StoreConfig,
}

impl RulesClient {
    /// Connects and checks that etcd answers within the connect timeout.
    pub async fn connect(config: &StoreConfig) -> Result<RulesClient, Error> {
        config.validate()?;
        let etcd = Etcd::connect(config).await?;
        let prefix = config.prefix.clone();
        let probe = etcd.call("connect", |mut c| async move {
            c.get(
                prefix,
                Some(GetOptions::new().with_prefix().with_count_only()),
            )
            .await
        });
        match tokio::time::timeout(config.connect_timeout, probe).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return Err(e),
            Err(_) => return Err(etcd.timed_out("connect")),
        }
        Ok(RulesClient {
            etcd,
            config: config.clone(),
        })
    }

    /// The key prefix.
    pub fn prefix(&self) -> &str {
        &self.config.prefix
    }

    /// The underlying etcd client, for what this crate does not wrap (bind-slot leases).
    pub fn etcd_client(&self) -> etcd_client::Client {
        self.etcd.client()
    }

    /// Validates `object` and writes it if its current state is as `expected`; the
    /// revision of the write. Cross-references are not checked here: the snapshot reports
    /// dangling ones.
    pub async fn put<T: RulesObject>(&self, object: &T, expected: Expected) -> Result<u64, Error> {
        object.validate()?;
        let json = serde_json::to_vec(object).map_err(|e| ValidationError::Decode {
            kind: T::KIND,
            id: object.id().to_owned(),
            reason: e.to_string(),
        })?;
        self.put_bytes(T::KIND, object.id(), json, expected, None)
            .await
    }

    /// Like [`RulesClient::put`] for a JSON document of `kind` (what the admin API
    /// receives). The document must decode, have id `id`, validate, and hold no field this
    /// version does not know; it is stored in canonical form (defaults filled in).
    pub async fn put_json(
        &self,
        kind: Kind,
        id: &str,
        json: &str,
        expected: Expected,
    ) -> Result<u64, Error> {
        let canonical = canonical_json(kind, id, json)?;
        self.put_bytes(kind, id, canonical, expected, None).await
    }

    /// [`RulesClient::put_json`], writing `audit` in the same transaction (see
    /// [`crate::audit`]): the record exists if and only if the write happened.
    pub async fn put_json_audited(
        &self,
        kind: Kind,
        id: &str,
        json: &str,
        expected: Expected,
        audit: &AuditWrite,
    ) -> Result<u64, Error> {
        let canonical = canonical_json(kind, id, json)?;
        self.put_bytes(kind, id, canonical, expected, Some(audit))
            .await
    }

    async fn put_bytes(
        &self,
        kind: Kind,
        id: &str,
        value: Vec<u8>,
        expected: Expected,
        audit: Option<&AuditWrite>,
    ) -> Result<u64, Error> {
        let key = kind.key(self.prefix(), id);
        let mut ops = vec![TxnOp::put(key.clone(), value, None)];
        ops.extend(audit.map(|a| a.ops(self.prefix())).unwrap_or_default());
        let txn = cas(&key, expected)?
            .and_then(ops)
            .or_else([TxnOp::get(key.clone(), None)]);
        self.commit(kind, id, txn, "put").await
    }

    /// Deletes object `id` of `kind` if its current state is as `expected`; the revision of
    /// the delete (deleting what is absent with `Any` or `Absent` succeeds and changes
    /// nothing).
    pub async fn delete(&self, kind: Kind, id: &str, expected: Expected) -> Result<u64, Error> {
        self.delete_with(kind, id, expected, None).await
    }

    /// [`RulesClient::delete`], writing `audit` in the same transaction.
    pub async fn delete_audited(
        &self,
        kind: Kind,
        id: &str,
        expected: Expected,
        audit: &AuditWrite,
    ) -> Result<u64, Error> {
        self.delete_with(kind, id, expected, Some(audit)).await
    }

    async fn delete_with(
        &self,
        kind: Kind,
        id: &str,
        expected: Expected,
        audit: Option<&AuditWrite>,
    ) -> Result<u64, Error> {
        let key = kind.key(self.prefix(), id);
        let mut ops = vec![TxnOp::delete(key.clone(), None)];
        ops.extend(audit.map(|a| a.ops(self.prefix())).unwrap_or_default());
        let txn = cas(&key, expected)?
            .and_then(ops)
            .or_else([TxnOp::get(key.clone(), None)]);
        self.commit(kind, id, txn, "delete").await
    }

    async fn commit(
        &self,
        kind: Kind,
        id: &str,
        txn: Txn,
        operation: &'static str,
    ) -> Result<u64, Error> {
        let response = self
            .etcd
            .call(operation, |mut c| async move { c.txn(txn).await })
            .await?;
        if response.succeeded() {
            return Ok(response.header().map_or(0, |h| revision_of(h.revision())));
        }
        let current_revision = response.op_responses().into_iter().find_map(|r| match r {
            TxnOpResponse::Get(get) => get.kvs().first().map(|kv| revision_of(kv.mod_revision())),
            _ => None,
        });
        Err(Error::Conflict {
            kind,
            id: id.to_owned(),
            current_revision,
        })
    }

    /// Object `id` with its revision; `None` if absent. A stored document that does not
    /// decode or validate is an [`Error::Invalid`].
    pub async fn get<T: RulesObject>(&self, id: &str) -> Result<Option<Versioned<T>>, Error> {
        let Some(stored) = self.get_json(T::KIND, id).await? else {
            return Ok(None);
        };
        let value: T = serde_json::from_str(&stored.json).map_err(|e| ValidationError::Decode {
            kind: T::KIND,
            id: id.to_owned(),
            reason: e.to_string(),
        })?;
        value.validate()?;
        Ok(Some(Versioned {
            value,
            mod_revision: stored.mod_revision,
        }))
    }

    /// Object `id` of `kind` as stored; `None` if absent.
    pub async fn get_json(&self, kind: Kind, id: &str) -> Result<Option<StoredObject>, Error> {
        let key = kind.key(self.prefix(), id);
        let response = self
            .etcd
            .call("get", |mut c| async move { c.get(key, None).await })
            .await?;
        Ok(response.kvs().first().map(|kv| StoredObject {
            kind,
            id: id.to_owned(),
            json: String::from_utf8_lossy(kv.value()).into_owned(),
            mod_revision: revision_of(kv.mod_revision()),
        }))
    }

    /// Every object of `kind`, as stored, at one revision.
    pub async fn list_json(&self, kind: Kind) -> Result<Listing, Error> {
        let prefix = kind.key(self.prefix(), "");
        let response = self
            .etcd
            .call("list", |mut c| {
                let prefix = prefix.clone();
                async move { c.get(prefix, Some(GetOptions::new().with_prefix())).await }
            })
            .await?;
        let objects = response
            .kvs()
            .iter()
            .map(|kv| StoredObject {
                kind,
                id: String::from_utf8_lossy(&kv.key()[prefix.len()..]).into_owned(),
                json: String::from_utf8_lossy(kv.value()).into_owned(),
                mod_revision: revision_of(kv.mod_revision()),
            })
            .collect();
        Ok(Listing {
            revision: response.header().map_or(0, |h| revision_of(h.revision())),
            objects,
        })
    }

    /// Registers this process as node `info.id` of `info.role` under a lease of `ttl`, kept
    /// alive in the background (see [`NodeRegistration`]).
    pub async fn register_node(
        &self,
        info: NodeInfo,
        ttl: Duration,
    ) -> Result<NodeRegistration, Error> {
        NodeRegistration::start(self.etcd.clone(), self.config.clone(), info, ttl).await
    }

    /// The registered nodes, of one role or all, in key order. Entries that do not decode
    /// are skipped with a warning.
    pub async fn list_nodes(&self, role: Option<&str>) -> Result<Vec<NodeInfo>, Error> {
        nodes::list(&self.etcd, self.prefix(), role).await
    }
}

/// A transaction guarded by `expected` on `key`.
fn cas(key: &str, expected: Expected) -> Result<Txn, Error> {
    Ok(match expected {
        Expected::Any => Txn::new(),
        Expected::Absent | Expected::Revision(0) => {
            Txn::new().when([Compare::version(key, CompareOp::Equal, 0)])
        }
        Expected::Revision(r) => Txn::new().when([Compare::mod_revision(
            key,
            CompareOp::Equal,
            to_etcd_revision(r)?,
        )]),
    })
}

/// Decodes, checks and re-encodes a document of `kind`.
fn canonical_json(kind: Kind, id: &str, json: &str) -> Result<Vec<u8>, ValidationError> {
    match kind {
        Kind::Account => canonical::<Account>(id, json),
        Kind::Carrier => canonical::<Carrier>(id, json),
        Kind::Route => canonical::<Route>(id, json),
        Kind::MoRoute => canonical::<MoRoute>(id, json),
        Kind::Network => canonical::<Network>(id, json),
        Kind::Price => canonical::<PriceTable>(id, json),
        Kind::OptOut => canonical::<OptOutList>(id, json),
    }
}

fn canonical<T: RulesObject>(id: &str, json: &str) -> Result<Vec<u8>, ValidationError> {
    let decode_error = |e: serde_json::Error| ValidationError::Decode {
        kind: T::KIND,
        id: id.to_owned(),
        reason: e.to_string(),
    };
    let input: Value = serde_json::from_str(json).map_err(decode_error)?;
    let object: T = serde_json::from_value(input.clone()).map_err(decode_error)?;
    if object.id() != id {
        return Err(ValidationError::IdMismatch {
            kind: T::KIND,
            id: id.to_owned(),
            found: object.id().to_owned(),
        });
    }
    object.validate()?;
    let output = serde_json::to_value(&object).map_err(decode_error)?;
    if let Some(field) = unknown_field(&input, &output, "") {
        return Err(ValidationError::UnknownField {
            kind: T::KIND,
            id: id.to_owned(),
            field,
        });
    }
    serde_json::to_vec(&output).map_err(decode_error)
}

/// The first field of `input` that did not survive decoding into `output` (so the model
/// does not know it). Empty values (`null`, `[]`, `{}`) lose nothing and are not reported.
fn unknown_field(input: &Value, output: &Value, path: &str) -> Option<String> {
    match (input, output) {
        (Value::Object(i), Value::Object(o)) => i.iter().find_map(|(k, v)| {
            let here = if path.is_empty() {
                k.clone()
            } else {
                format!("{path}.{k}")
            };
            match o.get(k) {
                None if is_empty(v) => None,
                None => Some(here),
                Some(ov) => unknown_field(v, ov, &here),
            }
        }),
        (Value::Array(i), Value::Array(o)) => i
            .iter()
            .zip(o)
            .enumerate()
            .find_map(|(n, (iv, ov))| unknown_field(iv, ov, &format!("{path}[{n}]"))),
        _ => None,
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::model::account::tests::SECRET_HASH;

    #[test]
    fn canonical_documents_fill_defaults_and_refuse_unknown_fields() {
        let doc = json!({"id": "acme", "password_hash": SECRET_HASH, "quota": {"tps": 5},
                         "groups": [], "system_id": null});
        let out = canonical_json(Kind::Account, "acme", &doc.to_string()).unwrap();
        let out: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(out["enabled"], json!(true));
        assert_eq!(out["receipt_retention"], json!("3days"));

        let typo =
            json!({"id": "acme", "password_hash": SECRET_HASH, "quota": {"tps": 5, "brust": 9}});
        assert_eq!(
            canonical_json(Kind::Account, "acme", &typo.to_string()),
            Err(ValidationError::UnknownField {
                kind: Kind::Account,
                id: "acme".into(),
                field: "quota.brust".into()
            })
        );
        let nested = json!({"id": "r", "action": {"type": "weighted",
            "split": [{"carrier": "a", "weight": 1, "wieght": 2}]}});
        assert!(matches!(
            canonical_json(Kind::Route, "r", &nested.to_string()),
            Err(ValidationError::UnknownField { field, .. }) if field == "action.split[0].wieght"
        ));
        let route_quota = json!({"id": "r", "action": {"type": "carrier", "carrier": "a"},
            "quota": {"tps": 0}});
        assert!(matches!(
            canonical_json(Kind::Route, "r", &route_quota.to_string()),
            Err(ValidationError::Field { field, .. }) if field == "quota.tps"
        ));
        let alphabet = json!({"id": "acme", "password_hash": SECRET_HASH, "quota": {"tps": 5},
            "default_alphabet": "latin2"});
        assert!(matches!(
            canonical_json(Kind::Account, "acme", &alphabet.to_string()),
            Err(ValidationError::Decode { .. })
        ));
        assert!(matches!(
            canonical_json(Kind::Account, "other", &doc.to_string()),
            Err(ValidationError::IdMismatch { .. })
        ));
        assert!(matches!(
            canonical_json(Kind::Account, "acme", "{"),
            Err(ValidationError::Decode { .. })
        ));
        let clear = json!({"id": "acme", "password_hash": "hunter2", "quota": {"tps": 5}});
        assert!(matches!(
            canonical_json(Kind::Account, "acme", &clear.to_string()),
            Err(ValidationError::Field { field, .. }) if field == "password_hash"
        ));
    }
}
