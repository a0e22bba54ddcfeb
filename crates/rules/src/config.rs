//! [`StoreConfig`]: where etcd is, how patiently to talk to it, and how to prove who we
//! are to it ([`EtcdTls`], [`EtcdUser`]).

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::model::SecretRef;

/// The default key prefix.
pub const DEFAULT_PREFIX: &str = "/herald/v1/";

/// How to reach the etcd cluster that holds the rules; shared by [`crate::RulesStore`],
/// [`crate::RulesClient`] and node registration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// etcd client URLs (`http://10.0.0.1:2379`); the client balances over them.
    pub endpoints: Vec<String>,
    /// Key prefix of everything Herald keeps in etcd; starts and ends with `/`.
    /// Default `/herald/v1/`.
    pub prefix: String,
    /// How long start-up may take to reach etcd and load the rules. Default 5 s.
    #[serde(with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// How long one request may take. Default 5 s.
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
    /// HTTP/2 ping interval on idle connections; a ping unanswered for as long again marks
    /// the connection dead (so a watch notices a silent partition). Default 5 s.
    #[serde(with = "humantime_serde")]
    pub keep_alive_interval: Duration,
    /// First delay before reconnecting after etcd went away. Default 200 ms.
    #[serde(with = "humantime_serde")]
    pub reconnect_backoff_min: Duration,
    /// Longest delay between reconnection attempts (it doubles up to this, with jitter).
    /// Default 10 s.
    #[serde(with = "humantime_serde")]
    pub reconnect_backoff_max: Duration,
    /// TLS to etcd, required by `https://` endpoints. Default none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<EtcdTls>,
    /// The etcd user to authenticate as, for an etcd with authentication on. Default none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<EtcdUser>,
}

/// TLS to etcd. The files are read at every (re)connection, so renewed certificates are
/// used from the next one on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EtcdTls {
    /// CA certificates (PEM) etcd's certificate must chain to.
    pub ca: PathBuf,
    /// A client certificate (PEM), for an etcd started with `--client-cert-auth`; with
    /// `key`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert: Option<PathBuf>,
    /// The client certificate's private key (PEM); with `cert`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<PathBuf>,
}

/// An etcd user (etcd with authentication on): its name, and where its password is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EtcdUser {
    /// The user name.
    pub name: String,
    /// Where the password is: `{"file": ...}` or `{"env": ...}`; read at every
    /// (re)connection, so a rotated password is used from the next one on.
    pub password: SecretRef,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            endpoints: vec!["http://127.0.0.1:2379".to_owned()],
            prefix: DEFAULT_PREFIX.to_owned(),
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(5),
            keep_alive_interval: Duration::from_secs(5),
            reconnect_backoff_min: Duration::from_millis(200),
            reconnect_backoff_max: Duration::from_secs(10),
            tls: None,
            user: None,
        }
    }
}

impl StoreConfig {
    /// The defaults with these endpoints.
    pub fn new(endpoints: impl IntoIterator<Item = impl Into<String>>) -> StoreConfig {
        StoreConfig {
            endpoints: endpoints.into_iter().map(Into::into).collect(),
            ..StoreConfig::default()
        }
    }

    /// This configuration with another key prefix.
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> StoreConfig {
        self.prefix = prefix.into();
        self
    }

    /// Checks that the configuration can work.
    pub fn validate(&self) -> Result<(), Error> {
        let fail = |m: String| Err(Error::Config(m));
        if self.endpoints.is_empty() {
            return fail("no etcd endpoints".into());
        }
        if let Some(e) = self.endpoints.iter().find(|e| e.trim().is_empty()) {
            return fail(format!("empty etcd endpoint {e:?}"));
        }
        if self.prefix.len() < 2 || !self.prefix.starts_with('/') || !self.prefix.ends_with('/') {
            return fail(format!(
                "prefix {:?} must start and end with '/' (like {DEFAULT_PREFIX})",
                self.prefix
            ));
        }
        for (name, d) in [
            ("connect_timeout", self.connect_timeout),
            ("request_timeout", self.request_timeout),
            ("keep_alive_interval", self.keep_alive_interval),
            ("reconnect_backoff_min", self.reconnect_backoff_min),
        ] {
            if d.is_zero() {
                return fail(format!("{name} must be > 0"));
            }
        }
        if self.reconnect_backoff_max < self.reconnect_backoff_min {
            return fail("reconnect_backoff_max is below reconnect_backoff_min".into());
        }
        let https = self
            .endpoints
            .iter()
            .filter(|e| e.starts_with("https://"))
            .count();
        match &self.tls {
            Some(_) if https != self.endpoints.len() => {
                return fail("tls is set: every endpoint must be https://".into());
            }
            None if https > 0 => {
                return fail("https:// endpoints need tls (the CA of etcd's certificate)".into());
            }
            Some(tls) if tls.cert.is_some() != tls.key.is_some() => {
                return fail("tls.cert and tls.key go together".into());
            }
            _ => {}
        }
        if let Some(user) = &self.user
            && user.name.is_empty()
        {
            return fail("user.name is empty".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_and_bad_values_do_not() {
        assert!(StoreConfig::default().validate().is_ok());
        let c: StoreConfig =
            serde_json::from_str(r#"{"endpoints": ["http://e:2379"], "request_timeout": "2s"}"#)
                .unwrap();
        assert_eq!(c.request_timeout, Duration::from_secs(2));
        assert_eq!(c.prefix, DEFAULT_PREFIX);
        assert!(serde_json::from_str::<StoreConfig>(r#"{"endpoint": []}"#).is_err());
        assert!(StoreConfig::new(Vec::<String>::new()).validate().is_err());
        for bad in ["herald/", "/herald", "/"] {
            assert!(
                StoreConfig::default().with_prefix(bad).validate().is_err(),
                "{bad}"
            );
        }
        let c = StoreConfig {
            reconnect_backoff_max: Duration::from_millis(1),
            ..StoreConfig::default()
        };
        assert!(c.validate().is_err());
    }

    #[test]
    fn https_endpoints_and_tls_go_together() {
        let tls = EtcdTls {
            ca: "/ca.pem".into(),
            cert: None,
            key: None,
        };
        let https = StoreConfig::new(["https://e:2379"]);
        assert!(https.validate().is_err(), "https without a CA");
        let secure = StoreConfig {
            tls: Some(tls.clone()),
            ..https.clone()
        };
        assert!(secure.validate().is_ok());
        let mixed = StoreConfig {
            endpoints: vec!["https://e:2379".into(), "http://f:2379".into()],
            ..secure.clone()
        };
        assert!(mixed.validate().is_err());
        let half = StoreConfig {
            tls: Some(EtcdTls {
                cert: Some("/c.pem".into()),
                ..tls
            }),
            ..https
        };
        assert!(half.validate().is_err(), "a certificate without its key");
        let c: StoreConfig = serde_json::from_str(
            r#"{"endpoints": ["http://e:2379"], "user": {"name": "herald", "password": {"env": "ETCD_PASSWORD"}}}"#,
        )
        .unwrap();
        assert_eq!(
            c.user.map(|u| u.password),
            Some(SecretRef::Env("ETCD_PASSWORD".into()))
        );
    }
}
