//! Accounts: the ESMEs that bind to Herald's edge, with their credentials, what they may do
//! and how fast.

use std::net::IpAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::ValidationError;
use crate::kind::{Kind, RulesObject};
use crate::model::sender::{is_valid_sender, sender_rules_text};
use crate::model::{AddressPattern, Check, Cidr, NumberingPlan, Quota, SecretRef};
use crate::password::PasswordHash;
use herald_smpp::Address;

/// The longest SMPP `system_id` (16 octets with the terminating NUL).
pub const MAX_SYSTEM_ID_LEN: usize = 15;

/// How an ESME binds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum BindMode {
    /// `bind_transmitter`: submits only.
    #[serde(rename = "tx")]
    Transmitter,
    /// `bind_receiver`: receives receipts and MO only.
    #[serde(rename = "rx")]
    Receiver,
    /// `bind_transceiver`: both.
    #[serde(rename = "trx")]
    Transceiver,
}

/// What `data_coding` 0 (the "SMSC default alphabet") means to an account's ESME: SMPP
/// leaves it to the SMSC, and ESMEs written for different SMSCs assume different ones.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DefaultAlphabet {
    /// The GSM 7-bit default alphabet, one character per octet: SMPP's usual reading.
    #[default]
    Gsm7,
    /// ISO-8859-1 (Latin-1).
    Latin1,
    /// IA5, that is ASCII.
    Ascii,
}

impl DefaultAlphabet {
    /// The `data_coding` that names this alphabet explicitly (GSM 7-bit: 0 itself).
    pub fn data_coding(self) -> u8 {
        match self {
            DefaultAlphabet::Gsm7 => 0x00,
            DefaultAlphabet::Latin1 => 0x03,
            DefaultAlphabet::Ascii => 0x01,
        }
    }
}

/// What a subscriber's opt-out keyword stops: every message of the account, or only those
/// from the number the keyword was sent to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OptOutScope {
    /// STOP to any of the account's numbers stops all its messages.
    #[default]
    Account,
    /// STOP to a short code or number stops only the messages sent from it (an account
    /// running several programmes, each on its own short code).
    Sender,
}

/// Which lane an account's messages travel in: the urgent lane overtakes the bulk lane in
/// the router's and the connectors' queues (a bound keeps bulk from starving).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PriorityLane {
    /// The message's `priority_flag` decides: 1 or more (GSM's priority levels) is urgent.
    #[default]
    ByFlag,
    /// Every message is urgent (a one-time-password account).
    Urgent,
    /// Every message is bulk, whatever its `priority_flag` (a marketing account).
    Bulk,
}

impl PriorityLane {
    /// Whether a message with `priority_flag` goes in the urgent lane.
    pub fn is_urgent(self, priority_flag: u8) -> bool {
        match self {
            PriorityLane::ByFlag => priority_flag >= 1,
            PriorityLane::Urgent => true,
            PriorityLane::Bulk => false,
        }
    }
}

/// What an account's webhook is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WebhookEvent {
    /// Delivery receipts (carriers' and Herald's own).
    Receipt,
    /// Mobile-originated messages routed to the account.
    Mo,
}

/// Where an account's receipts and MO are pushed over HTTP, signed with the Standard
/// Webhooks scheme. Its SMPP receiver sessions, if it has any, still get everything.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Webhook {
    /// The endpoint: `https://`, or `http://` where the edges allow it
    /// (`edge.webhooks.allow_http`, for private networks).
    pub url: String,
    /// What it is sent; default receipts and MO.
    #[serde(default = "all_webhook_events")]
    pub events: Vec<WebhookEvent>,
    /// The signing secrets (`whsec_…`), read from the edges' environment or files, never
    /// kept in etcd: one, or two while rotating (each delivery is signed with both).
    pub secrets: Vec<SecretRef>,
    /// Extra request headers (an API key the receiver wants, say).
    #[serde(default)]
    pub headers: std::collections::BTreeMap<String, String>,
    /// Bus messages in delivery at once, all edges together (a batch of receipts counts
    /// as one), and posts at a time per edge; default 8.
    #[serde(default = "default_webhook_concurrency")]
    pub concurrency: u32,
    /// Posts a second at most, all edges together; absent: only `concurrency` bounds it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<u32>,
    /// How long an event is retried (timeouts, 5xx, 429) before it is dead-lettered;
    /// default 24 h.
    #[serde(with = "humantime_serde", default = "default_webhook_retry_for")]
    pub retry_for: Duration,
    /// How long one attempt may take; default 10 s.
    #[serde(with = "humantime_serde", default = "default_webhook_timeout")]
    pub timeout: Duration,
}

fn all_webhook_events() -> Vec<WebhookEvent> {
    vec![WebhookEvent::Receipt, WebhookEvent::Mo]
}

fn default_webhook_concurrency() -> u32 {
    8
}

fn default_webhook_retry_for() -> Duration {
    Duration::from_secs(24 * 3600)
}

fn default_webhook_timeout() -> Duration {
    Duration::from_secs(10)
}

/// The largest `concurrency` a webhook may have.
pub const MAX_WEBHOOK_CONCURRENCY: u32 = 256;

impl Webhook {
    fn check(&self, c: &Check<'_>) -> Result<(), ValidationError> {
        let scheme_ok = self.url.starts_with("https://") || self.url.starts_with("http://");
        c.ensure(
            scheme_ok && self.url.len() <= 2048 && !self.url.contains(char::is_whitespace),
            "webhook.url",
            format!("{:?} is not an http(s) URL", self.url),
        )?;
        c.ensure(!self.events.is_empty(), "webhook.events", "is empty")?;
        c.no_duplicates("webhook.events", &self.events)?;
        c.ensure(
            (1..=2).contains(&self.secrets.len()),
            "webhook.secrets",
            "one secret, or two while rotating",
        )?;
        c.ensure(
            !self
                .url
                .split("://")
                .nth(1)
                .and_then(|rest| rest.split(['/', '?', '#']).next())
                .is_some_and(|authority| authority.contains('@')),
            "webhook.url",
            "must not hold credentials (put them in `headers`)",
        )?;
        for (name, value) in &self.headers {
            c.ensure(
                value
                    .bytes()
                    .all(|b| b == b'\t' || (b' '..=b'~').contains(&b)),
                "webhook.headers",
                format!("the value of {name:?} is not printable ASCII"),
            )?;
        }
        for name in self.headers.keys() {
            let reserved = name.to_ascii_lowercase().starts_with("webhook-")
                || ["host", "content-type", "content-length"]
                    .contains(&name.to_ascii_lowercase().as_str());
            c.ensure(
                !name.is_empty()
                    && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                    && !reserved,
                "webhook.headers",
                format!("{name:?} is not a header Herald lets an account set"),
            )?;
        }
        c.ensure(
            (1..=MAX_WEBHOOK_CONCURRENCY).contains(&self.concurrency),
            "webhook.concurrency",
            format!("must be 1 to {MAX_WEBHOOK_CONCURRENCY}"),
        )?;
        c.ensure(
            self.rate.is_none_or(|r| r > 0),
            "webhook.rate",
            "must be > 0 (leave it out for no limit)",
        )?;
        c.ensure(
            !self.retry_for.is_zero(),
            "webhook.retry_for",
            "must be > 0",
        )?;
        c.ensure(!self.timeout.is_zero(), "webhook.timeout", "must be > 0")
    }
}

/// Which source addresses (sender ids) an account may use. Both empty: any.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SenderIdPolicy {
    /// Allowed sender ids, as [`AddressPattern`]s (`ACME`, `ACME*`, `44770090012?`).
    #[serde(default)]
    pub allowed: Vec<AddressPattern>,
    /// Also allow any numeric sender (digits, optionally after `+`).
    #[serde(default)]
    pub allow_numeric: bool,
}

impl SenderIdPolicy {
    /// Whether the policy lets `sender` through.
    pub fn permits(&self, sender: &str) -> bool {
        if self.allowed.is_empty() && !self.allow_numeric {
            return true;
        }
        let digits = sender.strip_prefix('+').unwrap_or(sender);
        (self.allow_numeric && !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
            || self.allowed.iter().any(|p| p.matches(sender))
    }
}

fn yes() -> bool {
    true
}

fn all_bind_modes() -> Vec<BindMode> {
    vec![
        BindMode::Transmitter,
        BindMode::Receiver,
        BindMode::Transceiver,
    ]
}

fn default_max_binds() -> u32 {
    4
}

fn default_window() -> u32 {
    10
}

fn default_receipt_retention() -> Duration {
    Duration::from_secs(72 * 3600)
}

/// An ESME account (`/herald/v1/accounts/<id>`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Account {
    /// The id (`[a-z0-9_-]{1,64}`).
    pub id: String,
    /// A display name.
    #[serde(default)]
    pub name: String,
    /// A disabled account cannot bind; its sessions are unbound.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// The SMPP `system_id` it binds with, at most 15 characters; absent: the id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_id: Option<String>,
    /// The bind password as an argon2id PHC string.
    pub password_hash: PasswordHash,
    /// Bind modes it may use; default all three.
    #[serde(default = "all_bind_modes")]
    pub bind_modes: Vec<BindMode>,
    /// Networks it may bind from (v4 and v6 CIDRs); empty: anywhere.
    #[serde(default)]
    pub allowed_ips: Vec<Cidr>,
    /// Refuse binds over plain TCP.
    #[serde(default)]
    pub tls_required: bool,
    /// Sessions it may hold at once across the whole cluster; default 4.
    #[serde(default = "default_max_binds")]
    pub max_binds: u32,
    /// Submit rate across all its sessions in the cluster.
    pub quota: Quota,
    /// Outstanding requests per session (the SMPP window); default 10.
    #[serde(default = "default_window")]
    pub window: u32,
    /// Which sender ids it may use.
    #[serde(default)]
    pub sender_ids: SenderIdPolicy,
    /// The sender put on its messages submitted without one (an empty `source_addr`, an
    /// HTTP request without `from`); absent: such messages go to the carrier with an
    /// empty sender, for the carrier to fill in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_sender: Option<String>,
    /// What its `data_coding` 0 means, in its submits and in the MO it is sent; default
    /// GSM 7-bit.
    #[serde(default)]
    pub default_alphabet: DefaultAlphabet,
    /// Replace typographic look-alikes (curly quotes, dashes, odd spaces) in its UCS-2
    /// texts when that lets them go in GSM 7-bit, at a third of the parts; default false.
    #[serde(default)]
    pub transliterate: bool,
    /// What an opt-out keyword from a subscriber stops; default all its messages.
    #[serde(default)]
    pub opt_out_scope: OptOutScope,
    /// Which lane its messages travel in; default by each message's `priority_flag`.
    #[serde(default)]
    pub priority_lane: PriorityLane,
    /// Where its receipts and MO are pushed over HTTP; absent: only to its SMPP
    /// receivers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<Webhook>,
    /// How long undelivered receipts and MO wait for a receiver bind; default 72 h.
    #[serde(with = "humantime_serde", default = "default_receipt_retention")]
    pub receipt_retention: Duration,
    /// Groups, for route matching (`match.account_groups`).
    #[serde(default)]
    pub groups: Vec<String>,
    /// How to read its national-format destination numbers (country code and trunk
    /// prefix); absent: its numbers are international (`+`, `00` or bare digits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub numbering: Option<NumberingPlan>,
}

impl Account {
    /// The `system_id` it binds with.
    pub fn system_id(&self) -> &str {
        self.system_id.as_deref().unwrap_or(&self.id)
    }

    /// Whether it may bind from `ip` (an empty allow-list allows any address).
    pub fn permits_ip(&self, ip: IpAddr) -> bool {
        self.allowed_ips.is_empty() || self.allowed_ips.iter().any(|c| c.contains(ip))
    }

    /// The SMPP source address of its `default_sender` ([`Address::sender`]), if it has
    /// one.
    pub fn default_source(&self) -> Option<Address> {
        self.default_sender.as_deref().map(Address::sender)
    }

    /// Whether it may bind as `mode`.
    pub fn permits_bind_mode(&self, mode: BindMode) -> bool {
        self.bind_modes.contains(&mode)
    }

    /// Whether `clear` is its password (constant-time; see [`PasswordHash::verify`]).
    pub fn verify_password(&self, clear: &str) -> bool {
        self.password_hash.verify(clear)
    }
}

impl RulesObject for Account {
    const KIND: Kind = Kind::Account;

    fn id(&self) -> &str {
        &self.id
    }

    fn validate(&self) -> Result<(), ValidationError> {
        let c = Check::new(Kind::Account, &self.id);
        c.own_id()?;
        let system_id = self.system_id();
        c.ensure(
            (1..=MAX_SYSTEM_ID_LEN).contains(&system_id.len())
                && system_id.bytes().all(|b| b.is_ascii_graphic()),
            "system_id",
            format!(
                "{system_id:?} is not an SMPP system_id (1 to {MAX_SYSTEM_ID_LEN} printable \
                 ASCII characters; set system_id when the id is longer)"
            ),
        )?;
        c.ensure(
            self.password_hash.is_well_formed(),
            "password_hash",
            "is not an argon2id PHC string (hash the password, never store it)",
        )?;
        c.ensure(!self.bind_modes.is_empty(), "bind_modes", "is empty")?;
        c.no_duplicates("bind_modes", &self.bind_modes)?;
        c.no_duplicates("allowed_ips", &self.allowed_ips)?;
        c.ensure(self.max_binds > 0, "max_binds", "must be > 0")?;
        self.quota.check(&c, "quota")?;
        c.ensure(self.window > 0, "window", "must be > 0")?;
        c.ensure(
            !self.receipt_retention.is_zero(),
            "receipt_retention",
            "must be > 0",
        )?;
        if let Some(sender) = &self.default_sender {
            c.ensure(
                is_valid_sender(sender),
                "default_sender",
                sender_rules_text(sender),
            )?;
            c.ensure(
                self.sender_ids.permits(sender),
                "default_sender",
                format!("{sender:?} is not allowed by the account's sender_ids"),
            )?;
        }
        c.id_list("groups", &self.groups)?;
        if let Some(plan) = &self.numbering {
            plan.check(&c, "numbering")?;
        }
        if let Some(webhook) = &self.webhook {
            webhook.check(&c)?;
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The argon2id hash of `"secret"` (m=19456, t=2, p=1), made once so tests need not
    /// spend a hash each.
    pub(crate) const SECRET_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$h36T/2CbytHucVk5Xx4g0w$4AjfNxW0BDrHf6jqsAkMT9+RewRiH/T5exmLoRw/T1E";

    pub(crate) fn account(id: &str) -> Account {
        serde_json::from_value(serde_json::json!({
            "id": id,
            "password_hash": SECRET_HASH,
            "quota": {"tps": 100},
        }))
        .unwrap()
    }

    #[test]
    fn a_default_sender_must_be_a_sender_the_account_may_use() {
        let with = |sender: &str, policy: serde_json::Value| -> Result<Account, ValidationError> {
            let a: Account = serde_json::from_value(serde_json::json!({
                "id": "acme", "password_hash": SECRET_HASH, "quota": {"tps": 100},
                "sender_ids": policy, "default_sender": sender,
            }))
            .unwrap();
            a.validate().map(|()| a)
        };
        let any = serde_json::json!({});
        let acme = with("ACME", any.clone()).unwrap();
        assert_eq!(acme.default_source(), Some(Address::alphanumeric("ACME")));
        assert_eq!(
            with("+447700900001", any.clone()).unwrap().default_source(),
            Some(Address::international("447700900001"))
        );
        assert_eq!(
            with("12345", any.clone()).unwrap().default_source(),
            Some(Address::sender("12345"))
        );
        assert_eq!(account("acme").default_source(), None);
        for bad in [
            "",
            "ACME TOO LONG",
            " ACME",
            "ACMÉ",
            "+",
            "123456789012345678901",
        ] {
            let refused = with(bad, any.clone());
            assert!(
                matches!(&refused, Err(ValidationError::Field { field, .. }) if field == "default_sender"),
                "{bad:?}: {refused:?}"
            );
        }
        let only_acme = serde_json::json!({"allowed": ["ACME"]});
        assert!(with("ACME", only_acme.clone()).is_ok());
        let refused = with("OTHER", only_acme);
        assert!(
            matches!(&refused, Err(ValidationError::Field { field, reason, .. })
                if field == "default_sender" && reason.contains("sender_ids")),
            "{refused:?}"
        );
    }

    #[test]
    fn a_webhook_is_checked_field_by_field() {
        let with = |webhook: serde_json::Value| -> Result<Account, ValidationError> {
            let a: Account = serde_json::from_value(serde_json::json!({
                "id": "acme", "password_hash": SECRET_HASH, "quota": {"tps": 100},
                "webhook": webhook,
            }))
            .map_err(|e| ValidationError::Field {
                kind: Kind::Account,
                id: "acme".into(),
                field: "json".into(),
                reason: e.to_string(),
            })?;
            a.validate().map(|()| a)
        };
        let good = serde_json::json!({
            "url": "https://hooks.example.com/herald", "secrets": [{"env": "ACME_WHSEC"}],
        });
        let webhook = with(good.clone()).unwrap().webhook.unwrap();
        assert_eq!(webhook.events, [WebhookEvent::Receipt, WebhookEvent::Mo]);
        assert_eq!(webhook.concurrency, 8);
        assert_eq!(webhook.retry_for, Duration::from_secs(24 * 3600));
        let field_of = |refused: Result<Account, ValidationError>| match refused {
            Err(ValidationError::Field { field, .. }) => field,
            other => panic!("not refused by a field: {other:?}"),
        };
        let changed = |key: &str, value: serde_json::Value| {
            let mut webhook = good.clone();
            webhook[key] = value;
            field_of(with(webhook))
        };
        assert_eq!(changed("url", "ftp://x".into()), "webhook.url");
        assert_eq!(changed("events", serde_json::json!([])), "webhook.events");
        assert_eq!(changed("secrets", serde_json::json!([])), "webhook.secrets");
        assert_eq!(
            changed("headers", serde_json::json!({"webhook-id": "forged"})),
            "webhook.headers"
        );
        assert_eq!(changed("concurrency", 0.into()), "webhook.concurrency");
        assert_eq!(changed("rate", 0.into()), "webhook.rate");
        assert_eq!(
            changed("url", "https://user:pw@hooks.example.com/".into()),
            "webhook.url"
        );
        assert_eq!(
            changed("headers", serde_json::json!({"X-Key": "a\r\nInjected: 1"})),
            "webhook.headers"
        );
        assert_eq!(changed("retry_for", "0s".into()), "webhook.retry_for");
        // A secret is a reference, never the secret itself.
        assert_eq!(changed("secrets", serde_json::json!(["whsec_abc"])), "json");
    }

    #[test]
    fn defaults_and_helpers() {
        let a = account("acme");
        assert!(a.validate().is_ok());
        assert!(a.enabled);
        assert_eq!(a.system_id(), "acme");
        assert_eq!(a.max_binds, 4);
        assert_eq!(a.window, 10);
        assert_eq!(a.receipt_retention, Duration::from_secs(72 * 3600));
        assert!(a.permits_bind_mode(BindMode::Transceiver));
        assert!(a.permits_ip("203.0.113.1".parse().unwrap()));
        assert!(a.sender_ids.permits("ANYTHING"));
    }

    #[test]
    fn the_fixture_hash_is_the_hash_of_secret() {
        let a = account("acme");
        assert!(a.verify_password("secret"));
        assert!(!a.verify_password("Secret"));
    }

    #[test]
    fn ip_allow_list_and_bind_modes() {
        let mut a = account("acme");
        a.allowed_ips = vec![
            "10.0.0.0/8".parse().unwrap(),
            "2001:db8::/32".parse().unwrap(),
        ];
        a.bind_modes = vec![BindMode::Transmitter];
        assert!(a.permits_ip("10.1.1.1".parse().unwrap()));
        assert!(a.permits_ip("2001:db8::5".parse().unwrap()));
        assert!(!a.permits_ip("192.0.2.1".parse().unwrap()));
        assert!(!a.permits_bind_mode(BindMode::Receiver));
    }

    #[test]
    fn sender_policy() {
        let p: SenderIdPolicy =
            serde_json::from_str(r#"{"allowed": ["ACME", "ACME-*"], "allow_numeric": true}"#)
                .unwrap();
        assert!(p.permits("ACME"));
        assert!(p.permits("ACME-EU"));
        assert!(p.permits("447700900123"));
        assert!(p.permits("+447700900123"));
        assert!(!p.permits("OTHER"));
        assert!(!p.permits("+"));
        let only_alpha: SenderIdPolicy = serde_json::from_str(r#"{"allowed": ["ACME"]}"#).unwrap();
        assert!(!only_alpha.permits("447700900123"));
    }

    #[test]
    fn validation_names_the_field() {
        let field_of = |a: Account| match a.validate() {
            Err(ValidationError::Field {
                kind, id, field, ..
            }) => {
                assert_eq!(kind, Kind::Account);
                assert_eq!(id, a.id);
                field
            }
            other => panic!("{other:?}"),
        };
        let mut a = account("acme");
        a.password_hash = PasswordHash::from_phc("secret");
        assert_eq!(field_of(a), "password_hash");
        let mut a = account("acme");
        a.quota.tps = 0;
        assert_eq!(field_of(a), "quota.tps");
        let mut a = account("acme");
        a.bind_modes.clear();
        assert_eq!(field_of(a), "bind_modes");
        let mut a = account("acme");
        a.groups = vec!["gold".into(), "Bad Group".into()];
        assert_eq!(field_of(a), "groups[1]");
        let mut a = account("acme");
        a.window = 0;
        assert_eq!(field_of(a), "window");
        let mut a = account("acme");
        a.max_binds = 0;
        assert_eq!(field_of(a), "max_binds");
        assert_eq!(field_of(account("a-very-long-account-id")), "system_id");
        let mut a = account("a-very-long-account-id");
        a.system_id = Some("short".into());
        assert!(a.validate().is_ok());
        assert_eq!(field_of(account("Bad")), "id");
    }
}
