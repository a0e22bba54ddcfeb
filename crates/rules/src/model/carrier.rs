//! Carriers: the SMSCs Herald binds to as an ESME, and how to talk to each.
//!
//! A carrier's bind password must be sent in clear, so it cannot be hashed. It is not kept
//! in etcd at all: the carrier names where the connector finds it ([`SecretRef`]), an
//! environment variable or a file (a mounted Kubernetes Secret), read at bind time.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Error, ValidationError};
use crate::kind::{Kind, RulesObject};
use crate::model::sender::check_rewrites;
use crate::model::{Check, Quota, SenderRewrite, durations};

/// The longest `system_type` (13 octets with the NUL).
pub const MAX_SYSTEM_TYPE_LEN: usize = 12;

/// Where a secret (a carrier's bind password, the etcd password of
/// [`crate::EtcdUser`]) is found; never the secret itself.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecretRef {
    /// An environment variable of the connector process.
    Env(String),
    /// A file (trailing newlines are trimmed); re-read at every bind, so a rotated
    /// Kubernetes Secret takes effect without a restart.
    File(PathBuf),
}

impl SecretRef {
    /// Reads the secret.
    pub fn resolve(&self) -> Result<String, Error> {
        match self {
            SecretRef::Env(name) => std::env::var(name).map_err(|e| Error::Secret {
                reference: format!("env:{name}"),
                reason: e.to_string(),
            }),
            SecretRef::File(path) => std::fs::read_to_string(path)
                .map(|s| s.trim_end_matches(['\r', '\n']).to_owned())
                .map_err(|e| Error::Secret {
                    reference: format!("file:{}", path.display()),
                    reason: e.to_string(),
                }),
        }
    }

    fn check(&self, c: &Check<'_>, field: &str) -> Result<(), ValidationError> {
        match self {
            SecretRef::Env(name) => c.ensure(
                name.bytes().next().is_some_and(|b| !b.is_ascii_digit())
                    && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'),
                format!("{field}.env"),
                format!("{name:?} is not an environment variable name"),
            ),
            SecretRef::File(path) => c.ensure(
                path.is_absolute(),
                format!("{field}.file"),
                format!("{} is not an absolute path", path.display()),
            ),
        }
    }
}

/// TLS towards the carrier.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CarrierTls {
    /// Use TLS.
    #[serde(default)]
    pub enabled: bool,
    /// CA bundle (PEM) to verify the carrier with; absent: the system roots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    /// Client certificate (PEM) for mutual TLS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_cert_file: Option<PathBuf>,
    /// Its private key (PEM).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_key_file: Option<PathBuf>,
    /// The name to verify in the carrier's certificate; absent: `host`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
}

/// How the connector binds to a carrier.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CarrierBindMode {
    /// Transceiver binds: submits and receipts on the same session.
    #[default]
    #[serde(rename = "trx")]
    Transceiver,
    /// Transmitter binds for submits plus receiver binds for receipts and MO.
    #[serde(rename = "tx+rx")]
    TransmitterAndReceiver,
}

/// The SMPP version to bind with.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SmppVersion {
    /// 3.4 (`interface_version` 0x34), what most carriers speak.
    #[default]
    #[serde(rename = "3.4")]
    V34,
    /// 5.0 (0x50).
    #[serde(rename = "5.0")]
    V50,
}

/// TON/NPI that replace what the account sent, per carrier (some SMSCs insist).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddressOverrides {
    /// Source TON (0–6).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_ton: Option<u8>,
    /// Source NPI (0, 1, 3, 4, 6, 8, 9, 10, 14, 18).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_npi: Option<u8>,
    /// Destination TON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination_ton: Option<u8>,
    /// Destination NPI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination_npi: Option<u8>,
}

const NPIS: [u8; 10] = [0, 1, 3, 4, 6, 8, 9, 10, 14, 18];

impl AddressOverrides {
    fn check(&self, c: &Check<'_>) -> Result<(), ValidationError> {
        for (field, ton) in [
            ("addressing.source_ton", self.source_ton),
            ("addressing.destination_ton", self.destination_ton),
        ] {
            if let Some(t) = ton {
                c.ensure(t <= 6, field, format!("{t} is not a TON (0 to 6)"))?;
            }
        }
        for (field, npi) in [
            ("addressing.source_npi", self.source_npi),
            ("addressing.destination_npi", self.destination_npi),
        ] {
            if let Some(n) = npi {
                c.ensure(NPIS.contains(&n), field, format!("{n} is not an NPI"))?;
            }
        }
        Ok(())
    }
}

/// What to do with a message whose data coding the carrier does not accept.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnsupportedCoding {
    /// Re-encode into an accepted coding that can carry the text (UCS-2 as a last resort).
    #[default]
    Convert,
    /// Fail the message (a failure receipt to the account).
    Reject,
}

/// Which data codings the carrier takes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataCodingPolicy {
    /// Accepted `data_coding` values; empty: all.
    #[serde(default)]
    pub accepted: Vec<u8>,
    /// What to do with the others.
    #[serde(default)]
    pub unsupported: UnsupportedCoding,
}

impl DataCodingPolicy {
    /// Whether `data_coding` goes through unchanged.
    pub fn accepts(&self, data_coding: u8) -> bool {
        self.accepted.is_empty() || self.accepted.contains(&data_coding)
    }
}

/// What an ESME may have passed through to the carrier: the `submit_sm` fields Herald
/// carries from the ESME unchanged, checked before each submit. A message with anything
/// else is refused (a permanent failure: failover if the route has another carrier, else
/// a failure receipt) or has it removed, as `action` says.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContentPolicy {
    /// TLV tags that pass. Default: the standard optional parameters of `submit_sm` (SMPP
    /// 3.4 §5.3.2) a carrier may need: ports, segmentation, `payload_type`, `privacy_indicator`,
    /// `callback_num*`, subaddresses, `user_response_code`, `display_time`, `sms_signal`,
    /// `ms_validity`, `ms_msg_wait_facilities`, `number_of_messages`,
    /// `alert_on_msg_delivery`, `language_indicator`, `its_*`, `ussd_service_op`,
    /// `user_message_reference`, `more_messages_to_send`. Vendor TLVs only when listed.
    #[serde(default = "standard_tlvs")]
    pub tlvs: Vec<u16>,
    /// `protocol_id` values that pass. Default: 0 only (0x40 is a silent "type 0" SMS,
    /// 0x41–0x47 replace the handset's stored message, 0x7F writes to the SIM).
    #[serde(default = "plain_protocol_id")]
    pub protocol_ids: Vec<u8>,
    /// `service_type` values that pass. Default: the SMPP 3.4 ones (`""`, `CMT`, `CPT`,
    /// `VMN`, `VMA`, `WAP`, `USSD`).
    #[serde(default = "standard_service_types")]
    pub service_types: Vec<String>,
    /// What happens to a message with anything else.
    #[serde(default)]
    pub action: ContentAction,
}

impl Default for ContentPolicy {
    fn default() -> Self {
        ContentPolicy {
            tlvs: standard_tlvs(),
            protocol_ids: plain_protocol_id(),
            service_types: standard_service_types(),
            action: ContentAction::default(),
        }
    }
}

/// What [`ContentPolicy`] does with what it does not allow.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContentAction {
    /// The message is not sent to this carrier: a permanent failure, its error code
    /// `ESME_RTLVNOTALLWD` (a TLV), `ESME_RPROHIBITED` (`protocol_id`) or
    /// `ESME_RINVSERTYP` (`service_type`).
    #[default]
    Refuse,
    /// The TLV is dropped, `protocol_id` set to 0, `service_type` emptied; the message is
    /// sent.
    Strip,
}

fn standard_tlvs() -> Vec<u16> {
    vec![
        0x0005, // dest_addr_subunit
        0x000D, // source_addr_subunit
        0x0019, // payload_type
        0x0201, // privacy_indicator
        0x0202, // source_subaddress
        0x0203, // dest_subaddress
        0x0204, // user_message_reference
        0x0205, // user_response_code
        0x020A, // source_port
        0x020B, // destination_port
        0x020C, // sar_msg_ref_num
        0x020D, // language_indicator
        0x020E, // sar_total_segments
        0x020F, // sar_segment_seqnum
        0x0302, // callback_num_pres_ind
        0x0303, // callback_num_atag
        0x0304, // number_of_messages
        0x0381, // callback_num
        0x0424, // message_payload
        0x0426, // more_messages_to_send
        0x1201, // display_time
        0x1203, // sms_signal
        0x1204, // ms_validity
        0x130C, // alert_on_message_delivery
        0x1380, // its_reply_type
        0x1383, // its_session_info
        0x0501, // ussd_service_op
        0x0030, // ms_msg_wait_facilities
    ]
}

fn plain_protocol_id() -> Vec<u8> {
    vec![0]
}

fn standard_service_types() -> Vec<String> {
    ["", "CMT", "CPT", "VMN", "VMA", "WAP", "USSD"]
        .map(str::to_owned)
        .to_vec()
}

/// How the message id in the carrier's receipts relates to the one in its `submit_sm_resp`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReceiptIdFormat {
    /// The same string.
    #[default]
    AsSent,
    /// The response gave it in hex, receipts carry it in decimal.
    Decimal,
    /// The response gave it in decimal, receipts carry it in hex.
    Hex,
}

fn yes() -> bool {
    true
}
fn one() -> u32 {
    1
}
fn default_window() -> u32 {
    10
}
fn default_enquire_link() -> Duration {
    Duration::from_secs(30)
}
fn default_response_timeout() -> Duration {
    Duration::from_secs(10)
}
fn default_retry_schedule() -> Vec<Duration> {
    [10, 30, 120, 600].map(Duration::from_secs).to_vec()
}
fn default_max_attempts() -> u32 {
    5
}

/// A carrier SMSC (`/herald/v1/carriers/<id>`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Carrier {
    /// The id (`[a-z0-9_-]{1,64}`).
    pub id: String,
    /// A display name.
    #[serde(default)]
    pub name: String,
    /// A disabled carrier gets no traffic; connectors unbind from it.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Host name or address of the SMSC.
    pub host: String,
    /// Its port (nonzero).
    pub port: u16,
    /// TLS settings.
    #[serde(default)]
    pub tls: CarrierTls,
    /// `system_id` to bind with (1 to 15 characters).
    pub system_id: String,
    /// Where the bind password is found.
    pub password: SecretRef,
    /// `system_type` to bind with (at most 12 characters).
    #[serde(default)]
    pub system_type: String,
    /// SMPP version.
    #[serde(default)]
    pub smpp_version: SmppVersion,
    /// Transceiver, or transmitter plus receiver binds.
    #[serde(default)]
    pub bind_mode: CarrierBindMode,
    /// Submitting binds (transceivers or transmitters) across the cluster; default 1.
    #[serde(default = "one")]
    pub binds: u32,
    /// Receiver binds, with `tx+rx` only; default 1.
    #[serde(default = "one")]
    pub receiver_binds: u32,
    /// Outstanding submits per bind; default 10.
    #[serde(default = "default_window")]
    pub window: u32,
    /// Submit rate across all binds in the cluster.
    pub throughput: Quota,
    /// `enquire_link` after this much silence; default 30 s.
    #[serde(with = "humantime_serde", default = "default_enquire_link")]
    pub enquire_link_interval: Duration,
    /// How long to wait for a response; default 10 s.
    #[serde(with = "humantime_serde", default = "default_response_timeout")]
    pub response_timeout: Duration,
    /// TON/NPI overrides.
    #[serde(default)]
    pub addressing: AddressOverrides,
    /// Accepted data codings.
    #[serde(default)]
    pub data_coding: DataCodingPolicy,
    /// The receipt id format.
    #[serde(default)]
    pub receipt_id_format: ReceiptIdFormat,
    /// Which ESME-set TLVs, `protocol_id` and `service_type` values pass to this carrier.
    #[serde(default)]
    pub content: ContentPolicy,
    /// Delays between attempts after temporary errors; the last one repeats. Default
    /// 10 s, 30 s, 2 min, 10 min.
    #[serde(with = "durations", default = "default_retry_schedule")]
    pub retry_schedule: Vec<Duration>,
    /// Attempts before a message fails; default 5.
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// Which of its failure receipts send the message on to the route's next carrier
    /// instead of ending it; absent: none do.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reroute_on_receipt: Option<RerouteOnReceipt>,
    /// How its messages' senders are rewritten ([`crate::model::rewrite_sender`]): the
    /// first rule that matches decides; empty: sent as submitted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub senders: Vec<SenderRewrite>,
}

/// Receipt states a failure receipt may report.
const REROUTABLE_STATES: [&str; 4] = ["UNDELIV", "REJECTD", "EXPIRED", "UNKNOWN"];
/// The most times a message may be rerouted on receipts.
const MAX_RECEIPT_REROUTES: u32 = 5;

/// A carrier's failure receipts that send the message to the route's next untried
/// carrier (a failover after the carrier accepted it), so the account sees one final
/// receipt: the last carrier's.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RerouteOnReceipt {
    /// Receipt states (`stat`) that reroute: `UNDELIV`, `REJECTD`, `EXPIRED`, `UNKNOWN`.
    pub states: Vec<String>,
    /// Only receipts with one of these `err` values (as the carrier writes them, `"001"`);
    /// empty: any.
    #[serde(default)]
    pub errors: Vec<String>,
    /// How many times one message may be rerouted on receipts; default 1.
    #[serde(default = "one")]
    pub max_reroutes: u32,
}

impl RerouteOnReceipt {
    /// Whether a final receipt of `stat` (a `stat` value) with `error` (its `err`) sends a
    /// message rerouted `done` times so far on to the next carrier.
    pub fn applies(&self, stat: &str, error: &str, done: u32) -> bool {
        done < self.max_reroutes
            && self.states.iter().any(|s| s.eq_ignore_ascii_case(stat))
            && (self.errors.is_empty() || self.errors.iter().any(|e| e == error))
    }

    fn check(&self, c: &Check<'_>) -> Result<(), ValidationError> {
        c.ensure(
            !self.states.is_empty(),
            "reroute_on_receipt.states",
            "is empty",
        )?;
        for (i, state) in self.states.iter().enumerate() {
            c.ensure(
                REROUTABLE_STATES.contains(&state.as_str()),
                format!("reroute_on_receipt.states[{i}]"),
                format!("{state:?} is not a failure state: one of {REROUTABLE_STATES:?}"),
            )?;
        }
        c.no_duplicates("reroute_on_receipt.states", &self.states)?;
        for (i, error) in self.errors.iter().enumerate() {
            c.ensure(
                (1..=10).contains(&error.len()) && error.bytes().all(|b| b.is_ascii_graphic()),
                format!("reroute_on_receipt.errors[{i}]"),
                "must be 1 to 10 printable ASCII characters",
            )?;
        }
        c.no_duplicates("reroute_on_receipt.errors", &self.errors)?;
        c.ensure(
            (1..=MAX_RECEIPT_REROUTES).contains(&self.max_reroutes),
            "reroute_on_receipt.max_reroutes",
            format!("must be 1 to {MAX_RECEIPT_REROUTES}"),
        )
    }
}

impl Carrier {
    /// The delay before attempt `attempt` (2 is the first retry); the schedule's last entry
    /// repeats.
    pub fn retry_delay(&self, attempt: u32) -> Duration {
        let i = attempt.saturating_sub(2) as usize;
        self.retry_schedule
            .get(i)
            .or(self.retry_schedule.last())
            .copied()
            .unwrap_or_default()
    }
}

impl RulesObject for Carrier {
    const KIND: Kind = Kind::Carrier;

    fn id(&self) -> &str {
        &self.id
    }

    fn validate(&self) -> Result<(), ValidationError> {
        let c = Check::new(Kind::Carrier, &self.id);
        c.own_id()?;
        c.ensure(
            (1..=253).contains(&self.host.len())
                && self.host.bytes().all(|b| b.is_ascii_graphic() && b != b'/'),
            "host",
            format!("{:?} is not a host name or address", self.host),
        )?;
        c.ensure(self.port != 0, "port", "must be nonzero")?;
        c.ensure(
            self.tls.client_cert_file.is_some() == self.tls.client_key_file.is_some(),
            "tls.client_key_file",
            "a client certificate needs its key, and a key its certificate",
        )?;
        c.ensure(
            (1..=15).contains(&self.system_id.len())
                && self.system_id.bytes().all(|b| b.is_ascii_graphic()),
            "system_id",
            "must be 1 to 15 printable ASCII characters",
        )?;
        self.password.check(&c, "password")?;
        c.ensure(
            self.system_type.len() <= MAX_SYSTEM_TYPE_LEN && self.system_type.is_ascii(),
            "system_type",
            format!("must be at most {MAX_SYSTEM_TYPE_LEN} ASCII characters"),
        )?;
        c.ensure(self.binds > 0, "binds", "must be > 0")?;
        c.ensure(self.receiver_binds > 0, "receiver_binds", "must be > 0")?;
        c.ensure(self.window > 0, "window", "must be > 0")?;
        self.throughput.check(&c, "throughput")?;
        c.ensure(
            self.enquire_link_interval >= Duration::from_secs(1),
            "enquire_link_interval",
            "must be at least 1s",
        )?;
        c.ensure(
            !self.response_timeout.is_zero(),
            "response_timeout",
            "must be > 0",
        )?;
        self.addressing.check(&c)?;
        c.no_duplicates("data_coding.accepted", &self.data_coding.accepted)?;
        c.no_duplicates("content.tlvs", &self.content.tlvs)?;
        c.no_duplicates("content.protocol_ids", &self.content.protocol_ids)?;
        c.no_duplicates("content.service_types", &self.content.service_types)?;
        c.ensure(
            self.content.service_types.iter().all(|t| t.len() <= 5),
            "content.service_types",
            "a service_type is at most 5 characters",
        )?;
        c.ensure(
            !self.retry_schedule.is_empty(),
            "retry_schedule",
            "is empty",
        )?;
        for (i, d) in self.retry_schedule.iter().enumerate() {
            c.ensure(!d.is_zero(), format!("retry_schedule[{i}]"), "must be > 0")?;
        }
        c.ensure(self.max_attempts > 0, "max_attempts", "must be > 0")?;
        check_rewrites(&c, "senders", &self.senders)?;
        if let Some(reroute) = &self.reroute_on_receipt {
            reroute.check(&c)?;
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn carrier(id: &str) -> Carrier {
        serde_json::from_value(serde_json::json!({
            "id": id,
            "host": "smsc.example.net",
            "port": 2775,
            "system_id": "herald",
            "password": {"env": "CARRIER_PASSWORD"},
            "throughput": {"tps": 50},
        }))
        .unwrap()
    }

    fn field_of(c: Carrier) -> String {
        match c.validate() {
            Err(ValidationError::Field { field, .. }) => field,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn reroute_on_receipt_names_failure_states_errors_and_a_bounded_count() {
        let with = |rule: serde_json::Value| {
            let mut c = carrier("c");
            c.reroute_on_receipt = Some(serde_json::from_value(rule).unwrap());
            c
        };
        let rule = with(serde_json::json!({"states": ["UNDELIV", "REJECTD"], "errors": ["001"]}));
        assert!(rule.validate().is_ok());
        let r = rule.reroute_on_receipt.unwrap();
        assert_eq!(r.max_reroutes, 1);
        assert!(r.applies("UNDELIV", "001", 0));
        assert!(r.applies("undeliv", "001", 0), "stat is read case-blind");
        assert!(!r.applies("UNDELIV", "002", 0), "another error");
        assert!(!r.applies("EXPIRED", "001", 0), "another state");
        assert!(
            !r.applies("UNDELIV", "001", 1),
            "rerouted max_reroutes times already"
        );
        let any_error = with(serde_json::json!({"states": ["EXPIRED"], "max_reroutes": 2}));
        let r = any_error.reroute_on_receipt.unwrap();
        assert!(r.applies("EXPIRED", "", 1) && !r.applies("EXPIRED", "", 2));

        for (rule, field) in [
            (
                serde_json::json!({"states": []}),
                "reroute_on_receipt.states",
            ),
            (
                serde_json::json!({"states": ["DELIVRD"]}),
                "reroute_on_receipt.states[0]",
            ),
            (
                serde_json::json!({"states": ["UNDELIV", "UNDELIV"]}),
                "reroute_on_receipt.states[1]",
            ),
            (
                serde_json::json!({"states": ["UNDELIV"], "errors": [""]}),
                "reroute_on_receipt.errors[0]",
            ),
            (
                serde_json::json!({"states": ["UNDELIV"], "max_reroutes": 0}),
                "reroute_on_receipt.max_reroutes",
            ),
            (
                serde_json::json!({"states": ["UNDELIV"], "max_reroutes": 6}),
                "reroute_on_receipt.max_reroutes",
            ),
        ] {
            assert_eq!(field_of(with(rule)), field);
        }
    }

    #[test]
    fn defaults() {
        let c = carrier("vodafone-uk");
        assert!(c.validate().is_ok(), "{:?}", c.validate());
        assert_eq!(c.bind_mode, CarrierBindMode::Transceiver);
        assert_eq!(c.binds, 1);
        assert_eq!(c.window, 10);
        assert_eq!(c.enquire_link_interval, Duration::from_secs(30));
        assert_eq!(c.retry_delay(2), Duration::from_secs(10));
        assert_eq!(c.retry_delay(5), Duration::from_secs(600));
        assert_eq!(c.retry_delay(50), Duration::from_secs(600));
        assert!(c.data_coding.accepts(8));
        assert_eq!(c.smpp_version, SmppVersion::V34);
    }

    #[test]
    fn json_round_trip_with_everything() {
        let json = serde_json::json!({
            "id": "c1", "name": "C One", "enabled": false,
            "host": "10.0.0.5", "port": 3550,
            "tls": {"enabled": true, "ca_file": "/etc/ca.pem",
                    "client_cert_file": "/etc/c.pem", "client_key_file": "/etc/c.key"},
            "system_id": "herald", "password": {"file": "/run/secrets/c1"},
            "system_type": "VMA", "smpp_version": "5.0", "bind_mode": "tx+rx",
            "binds": 4, "receiver_binds": 2, "window": 50,
            "throughput": {"tps": 200, "burst": 400},
            "enquire_link_interval": "15s", "response_timeout": "5s",
            "addressing": {"source_ton": 5, "source_npi": 0, "destination_ton": 1, "destination_npi": 1},
            "data_coding": {"accepted": [0, 3, 8], "unsupported": "reject"},
            "receipt_id_format": "decimal",
            "retry_schedule": ["5s", "1m"], "max_attempts": 3,
        });
        let c: Carrier = serde_json::from_value(json).unwrap();
        assert!(c.validate().is_ok(), "{:?}", c.validate());
        assert_eq!(c.bind_mode, CarrierBindMode::TransmitterAndReceiver);
        assert!(!c.data_coding.accepts(4));
        assert_eq!(
            c.retry_schedule,
            vec![Duration::from_secs(5), Duration::from_secs(60)]
        );
        let again: Carrier = serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
        assert_eq!(again, c);
    }

    #[test]
    fn validation() {
        let mut c = carrier("c");
        c.port = 0;
        assert_eq!(field_of(c), "port");
        let mut c = carrier("c");
        c.system_id = "x".repeat(16);
        assert_eq!(field_of(c), "system_id");
        let mut c = carrier("c");
        c.password = SecretRef::Env("1BAD".into());
        assert_eq!(field_of(c), "password.env");
        let mut c = carrier("c");
        c.password = SecretRef::File("relative/path".into());
        assert_eq!(field_of(c), "password.file");
        let mut c = carrier("c");
        c.tls.client_cert_file = Some("/c.pem".into());
        assert_eq!(field_of(c), "tls.client_key_file");
        let mut c = carrier("c");
        c.addressing.source_ton = Some(7);
        assert_eq!(field_of(c), "addressing.source_ton");
        let mut c = carrier("c");
        c.addressing.destination_npi = Some(2);
        assert_eq!(field_of(c), "addressing.destination_npi");
        let mut c = carrier("c");
        c.retry_schedule = vec![Duration::from_secs(1), Duration::ZERO];
        assert_eq!(field_of(c), "retry_schedule[1]");
        let mut c = carrier("c");
        c.throughput.tps = 0;
        assert_eq!(field_of(c), "throughput.tps");
        let mut c = carrier("c");
        c.binds = 0;
        assert_eq!(field_of(c), "binds");
        let mut c = carrier("c");
        c.host = "".into();
        assert_eq!(field_of(c), "host");
    }

    #[test]
    fn secrets_resolve_from_files() {
        let dir = std::env::temp_dir().join(format!("herald-rules-secret-{}", std::process::id()));
        std::fs::write(&dir, "pw123\n").unwrap();
        assert_eq!(SecretRef::File(dir.clone()).resolve().unwrap(), "pw123");
        std::fs::remove_file(&dir).unwrap();
        assert!(matches!(
            SecretRef::File(dir).resolve(),
            Err(Error::Secret { .. })
        ));
        assert!(
            SecretRef::Env("HERALD_RULES_TEST_UNSET_VARIABLE".into())
                .resolve()
                .is_err()
        );
    }
}
