//! Subject names and KV keys.
//!
//! Account and carrier ids are validated by the rules store to `[a-z0-9_-]`, so they are
//! single NATS tokens as they are. Carrier message ids are the carriers' own strings and
//! may hold anything, so [`kv_key`] escapes them.
//!
//! The roles name subjects as below. With `nats.partitions` above 1 the accepted-MT,
//! carrier-queue and event streams are partitioned by the subject's third token (the
//! account or carrier, ADR 0022): in partition `i` past the first, the kind token carries
//! `-p<i>` (`herald.mt-p2.acme`). The bus adds the mark when it publishes
//! ([`crate::Partitions::place`]) and when it creates a consumer; [`logical`] removes it.

use std::borrow::Cow;

/// Accepted MT for an account: `herald.mt.<account>`.
pub fn mt(account: &str) -> String {
    format!("herald.mt.{account}")
}

/// Accepted urgent MT for an account: `herald.mt.<account>.urgent`.
pub fn mt_urgent(account: &str) -> String {
    format!("herald.mt.{account}.{URGENT}")
}

/// The last token of an urgent lane's subjects.
pub const URGENT: &str = "urgent";

/// Every accepted MT, both lanes: the stream's subjects.
pub const MT_ALL: &str = "herald.mt.>";

/// Every accepted bulk MT, the routers' bulk filter.
pub const MT_BULK: &str = "herald.mt.*";

/// Every accepted urgent MT, the routers' urgent filter.
pub const MT_URGENT: &str = "herald.mt.*.urgent";

/// A carrier's bulk queue: `herald.out.<carrier>`.
pub fn out(carrier: &str) -> String {
    format!("herald.out.{carrier}")
}

/// A carrier's urgent queue: `herald.out.<carrier>.urgent`.
pub fn out_urgent(carrier: &str) -> String {
    format!("herald.out.{carrier}.{URGENT}")
}

/// Every carrier queue.
pub const OUT_ALL: &str = "herald.out.>";

/// Receipts for an account: `herald.ev.<account>.dlr`.
pub fn receipt(account: &str) -> String {
    format!("herald.ev.{account}.dlr")
}

/// MO routed to an account: `herald.ev.<account>.mo`.
pub fn mo_event(account: &str) -> String {
    format!("herald.ev.{account}.mo")
}

/// A dead-lettered event replayed to `account`'s webhook alone:
/// `herald.ev.<account>.hook.<kind>` (`dlr` or `mo`). The account's SMPP delivery acks
/// these without sending them.
pub fn webhook_replay(account: &str, kind: &str) -> String {
    format!("herald.ev.{account}.{WEBHOOK_ONLY}.{kind}")
}

/// The token that marks an event for the webhook alone.
pub const WEBHOOK_ONLY: &str = "hook";

/// Whether `subject` is an event for the account's webhook alone ([`webhook_replay`]).
pub fn is_webhook_only(subject: &str) -> bool {
    let subject = logical(subject);
    let mut tokens = subject.split('.');
    matches!(
        (
            tokens.next(),
            tokens.next(),
            tokens.next(),
            tokens.next(),
            tokens.next(),
            tokens.next()
        ),
        (
            Some("herald"),
            Some("ev"),
            Some(_),
            Some(WEBHOOK_ONLY),
            Some(_),
            None
        )
    )
}

/// Everything for one account, the filter of its event consumer.
pub fn events_of(account: &str) -> String {
    format!("herald.ev.{account}.>")
}

/// Every account's events.
pub const EVENTS_ALL: &str = "herald.ev.>";

/// MO from a carrier, before MO routing: `herald.mo.<carrier>`.
pub fn mo(carrier: &str) -> String {
    format!("herald.mo.{carrier}")
}

/// Every carrier's MO, the routers' filter.
pub const MO_ALL: &str = "herald.mo.>";

/// Where a message that cannot be processed goes: `herald.dlq.<rest of its subject>`.
pub fn dead_letter(original: &str) -> String {
    // Named by the logical subject: a dead letter's subject does not depend on the
    // partition its message was in (listings filter by account).
    let original = logical(original);
    let rest = original.strip_prefix("herald.").unwrap_or(&original);
    format!("herald.dlq.{rest}")
}

/// Every dead letter.
pub const DLQ_ALL: &str = "herald.dlq.>";

/// The kind tokens of the partitioned streams' subjects: accepted MT, carrier queues,
/// events.
pub const PARTITIONED_KINDS: [&str; 3] = ["mt", "out", "ev"];

/// The mark a kind token carries in partition `index` (none in partition 0).
const PARTITION_MARK: &str = "-p";

/// `subject` without its partition mark: the subject as the roles name it.
pub fn logical(subject: &str) -> Cow<'_, str> {
    let mut tokens = subject.splitn(3, '.');
    let (Some(root), Some(kind), rest) = (tokens.next(), tokens.next(), tokens.next()) else {
        return Cow::Borrowed(subject);
    };
    match kind.split_once(PARTITION_MARK) {
        Some((base, index))
            if PARTITIONED_KINDS.contains(&base) && index.bytes().all(|b| b.is_ascii_digit()) =>
        {
            Cow::Owned(match rest {
                Some(rest) => format!("{root}.{base}.{rest}"),
                None => format!("{root}.{base}"),
            })
        }
        _ => Cow::Borrowed(subject),
    }
}

/// The key a partitioned subject is placed by (its account or carrier), if `logical` is
/// one of [`PARTITIONED_KINDS`]; `*` or `>` when it is a filter over every key.
pub fn partition_key(logical: &str) -> Option<&str> {
    let mut tokens = logical.split('.');
    let (Some("herald"), Some(kind), Some(key)) = (tokens.next(), tokens.next(), tokens.next())
    else {
        return None;
    };
    PARTITIONED_KINDS.contains(&kind).then_some(key)
}

/// `logical` as published or filtered in partition `index` of its stream.
pub fn in_partition(logical: &str, index: usize) -> Cow<'_, str> {
    if index == 0 || partition_key(logical).is_none() {
        return Cow::Borrowed(logical);
    }
    let mut tokens = logical.splitn(3, '.');
    match (tokens.next(), tokens.next(), tokens.next()) {
        (Some(root), Some(kind), Some(rest)) => {
            Cow::Owned(format!("{root}.{kind}{PARTITION_MARK}{index}.{rest}"))
        }
        _ => Cow::Borrowed(logical),
    }
}

/// Encodes an arbitrary string as a KV key token: `[A-Za-z0-9_-]` stay, every other byte
/// becomes `=XX` (upper-case hex). Injective, so distinct ids never share a key.
pub fn kv_key(raw: &str) -> String {
    let mut key = String::with_capacity(raw.len());
    for b in raw.bytes() {
        if b.is_ascii_alphanumeric() || b == b'_' || b == b'-' {
            key.push(char::from(b));
        } else {
            key.push('=');
            key.push(char::from(HEX[usize::from(b >> 4)]));
            key.push(char::from(HEX[usize::from(b & 0xF)]));
        }
    }
    key
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// `bytes` in lower-case hex (digests in ids and keys).
pub(crate) fn lower_hex(bytes: &[u8]) -> String {
    const LOWER: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(LOWER[usize::from(b >> 4)]));
        out.push(char::from(LOWER[usize::from(b & 0xF)]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_follow_the_layout() {
        assert_eq!(mt("acme"), "herald.mt.acme");
        assert_eq!(out("vodafone-uk"), "herald.out.vodafone-uk");
        assert_eq!(mt_urgent("acme"), "herald.mt.acme.urgent");
        assert_eq!(out_urgent("tmo"), "herald.out.tmo.urgent");
        assert_eq!(webhook_replay("acme", "dlr"), "herald.ev.acme.hook.dlr");
        assert!(is_webhook_only("herald.ev.acme.hook.mo"));
        assert!(!is_webhook_only("herald.ev.acme.dlr"));
        assert!(!is_webhook_only("herald.ev.hook.dlr"));
        assert_eq!(
            dead_letter("herald.out.tmo.urgent"),
            "herald.dlq.out.tmo.urgent"
        );
        assert_eq!(receipt("acme"), "herald.ev.acme.dlr");
        assert_eq!(events_of("acme"), "herald.ev.acme.>");
        assert_eq!(dead_letter("herald.out.tmo"), "herald.dlq.out.tmo");
    }

    #[test]
    fn partitions_mark_the_kind_token_and_are_removed_again() {
        assert_eq!(
            in_partition("herald.mt.acme.urgent", 2),
            "herald.mt-p2.acme.urgent"
        );
        assert_eq!(in_partition("herald.out.tmo", 0), "herald.out.tmo");
        assert_eq!(in_partition("herald.ev.acme.>", 11), "herald.ev-p11.acme.>");
        assert_eq!(in_partition("herald.mo.tmo", 1), "herald.mo.tmo");
        assert_eq!(in_partition("herald.dlq.mt.acme", 1), "herald.dlq.mt.acme");
        for subject in [
            "herald.mt.acme.urgent",
            "herald.ev.a-b.hook.dlr",
            "herald.out.x",
        ] {
            for index in [0, 1, 15] {
                assert_eq!(logical(&in_partition(subject, index)), subject);
            }
        }
        assert_eq!(logical("herald.mo-p1.x"), "herald.mo-p1.x");
        assert_eq!(logical("herald.mt-px.x"), "herald.mt-px.x");
        assert_eq!(partition_key("herald.mt.*"), Some("*"));
        assert_eq!(partition_key("herald.ev.acme.>"), Some("acme"));
        assert_eq!(partition_key("herald.mo.tmo"), None);
        assert_eq!(
            dead_letter("herald.out-p2.tmo.urgent"),
            "herald.dlq.out.tmo.urgent"
        );
        assert!(is_webhook_only("herald.ev-p3.acme.hook.mo"));
    }

    #[test]
    fn kv_keys_escape_everything_outside_the_safe_set() {
        assert_eq!(kv_key("0A1b_c-9"), "0A1b_c-9");
        assert_eq!(kv_key("a.b c"), "a=2Eb=20c");
        assert_eq!(kv_key("="), "=3D");
        assert_eq!(kv_key("ü"), "=C3=BC");
        // Injective on the cases that could collide.
        assert_ne!(kv_key("=2E"), kv_key("."));
    }
}
