//! The audit log's records as the control plane writes them: who (a [`Caller`]'s name,
//! never a token), their role, the action, the object's kind and id, the revision it was
//! at before and when. Stored by [`herald_rules::audit`] in the same etcd transaction as
//! the change; read back with `heraldctl audit` (`ListAudit`).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use herald_proto::admin::v1 as api;
use herald_rules::{AuditWrite, StoredAudit};
use serde::{Deserialize, Serialize};

use crate::auth::Caller;
use crate::error::ControlError;

/// A record's stored JSON. The new revision is not in it: it is the revision of the
/// transaction that wrote it (the record's `mod_revision`).
#[derive(Debug, Serialize, Deserialize)]
struct Body {
    at_unix_ms: i64,
    who: String,
    role: String,
    action: String,
    kind: String,
    id: String,
    old_revision: u64,
}

/// The record of `action` by `caller` on `kind` `id`, found at `old_revision`, kept for
/// `retention`. A call without a caller (a test serving the service without its
/// interceptor) is recorded as `unauthenticated`.
pub(crate) fn write(
    caller: Option<&Caller>,
    action: &str,
    kind: &str,
    id: &str,
    old_revision: u64,
    retention: Duration,
) -> Result<AuditWrite, ControlError> {
    let at = SystemTime::now();
    let body = Body {
        at_unix_ms: at
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
        who: caller.map_or_else(|| "unauthenticated".to_owned(), |c| c.name.clone()),
        role: caller.map_or_else(String::new, |c| c.role.to_string()),
        action: action.to_owned(),
        kind: kind.to_owned(),
        id: id.to_owned(),
        old_revision,
    };
    let body = serde_json::to_vec(&body).map_err(|e| ControlError::Audit(e.to_string()))?;
    Ok(AuditWrite {
        at,
        body,
        retention,
    })
}

/// A stored record as the API answers it.
pub(crate) fn decode(stored: &StoredAudit) -> Result<api::AuditRecord, ControlError> {
    let body: Body = serde_json::from_slice(&stored.body)
        .map_err(|e| ControlError::Audit(format!("a record does not decode: {e}")))?;
    let new_revision = if body.action == "drain" {
        0
    } else {
        stored.revision
    };
    Ok(api::AuditRecord {
        at_unix_ms: body.at_unix_ms,
        who: body.who,
        role: body.role,
        action: body.action,
        kind: body.kind,
        id: body.id,
        old_revision: i64::try_from(body.old_revision).unwrap_or(i64::MAX),
        new_revision: i64::try_from(new_revision).unwrap_or(i64::MAX),
    })
}
