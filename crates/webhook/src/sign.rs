//! Standard Webhooks signatures (<https://www.standardwebhooks.com>).
//!
//! A delivery carries `webhook-id` (the same on every retry of one event, so a receiver
//! can drop a repeat), `webhook-timestamp` (Unix seconds of this attempt: receivers refuse
//! one more than a few minutes off, so every attempt is signed afresh) and
//! `webhook-signature`: `v1,<base64 of HMAC-SHA256(key, "<id>.<timestamp>.<body>")>`, one
//! per secret, separated by spaces. A secret is written `whsec_<base64 of the key>`.
//! While a secret is rotated the endpoint has two, and each delivery is signed with both,
//! so a receiver that knows either one verifies it.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac as _};
use sha2::Sha256;

/// The prefix of a secret as Standard Webhooks writes it.
pub const SECRET_PREFIX: &str = "whsec_";
/// The fewest key bytes a secret may have (the scheme recommends 24 to 64).
pub const MIN_KEY_BYTES: usize = 24;
/// The most key bytes a secret may have.
pub const MAX_KEY_BYTES: usize = 64;

/// A secret that cannot sign.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecretError {
    /// Not `whsec_` and base64.
    #[error("a webhook secret is `whsec_` and base64 ({0})")]
    Format(String),
    /// A key too short or too long.
    #[error("a webhook secret's key is {MIN_KEY_BYTES} to {MAX_KEY_BYTES} bytes, not {0}")]
    Length(usize),
}

/// A signing key.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret {
    key: Vec<u8>,
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key: secrets stay out of logs.
        f.write_str("Secret(..)")
    }
}

impl Secret {
    /// Reads `whsec_<base64>` (surrounding whitespace ignored).
    pub fn parse(text: &str) -> Result<Secret, SecretError> {
        let encoded = text
            .trim()
            .strip_prefix(SECRET_PREFIX)
            .ok_or_else(|| SecretError::Format("no whsec_ prefix".to_owned()))?;
        let key = STANDARD
            .decode(encoded)
            .map_err(|e| SecretError::Format(e.to_string()))?;
        if !(MIN_KEY_BYTES..=MAX_KEY_BYTES).contains(&key.len()) {
            return Err(SecretError::Length(key.len()));
        }
        Ok(Secret { key })
    }

    /// A secret of `key` (24 to 64 bytes).
    pub fn from_key(key: &[u8]) -> Result<Secret, SecretError> {
        if !(MIN_KEY_BYTES..=MAX_KEY_BYTES).contains(&key.len()) {
            return Err(SecretError::Length(key.len()));
        }
        Ok(Secret { key: key.to_vec() })
    }

    /// The secret written as `whsec_<base64>`.
    pub fn to_whsec(&self) -> String {
        format!("{SECRET_PREFIX}{}", STANDARD.encode(&self.key))
    }

    /// The `v1,<base64>` signature of `body` sent as `id` at `timestamp`.
    fn signature(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        // HMAC takes a key of any length; `new_from_slice` cannot fail for it.
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.key) else {
            return String::new();
        };
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
    }
}

/// Signs deliveries with an endpoint's current secrets.
#[derive(Clone, Debug)]
pub struct Signer {
    secrets: Vec<Secret>,
}

impl Signer {
    /// A signer with `secrets` (one, or two while rotating); at least one.
    pub fn new(secrets: Vec<Secret>) -> Option<Signer> {
        (!secrets.is_empty()).then_some(Signer { secrets })
    }

    /// Whether `signature` (a `webhook-signature` value) holds a signature of `body` sent
    /// as `id` at `timestamp` by one of these secrets.
    pub fn verifies(&self, id: &str, timestamp: i64, signature: &str, body: &[u8]) -> bool {
        let presented: Vec<&str> = signature.split(' ').collect();
        self.secrets
            .iter()
            .any(|s| presented.contains(&s.signature(id, timestamp, body).as_str()))
    }

    /// The three headers of one attempt to deliver `body` as event `id` at `timestamp`
    /// (Unix seconds): `webhook-id`, `webhook-timestamp`, `webhook-signature`.
    pub fn headers(&self, id: &str, timestamp: i64, body: &[u8]) -> [(&'static str, String); 3] {
        let signatures: Vec<String> = self
            .secrets
            .iter()
            .map(|s| s.signature(id, timestamp, body))
            .collect();
        [
            ("webhook-id", id.to_owned()),
            ("webhook-timestamp", timestamp.to_string()),
            ("webhook-signature", signatures.join(" ")),
        ]
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    #[test]
    fn signs_the_specifications_example() {
        // The example of the Standard Webhooks specification and its reference libraries.
        let secret = Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let signer = Signer::new(vec![secret]).unwrap();
        let body = br#"{"test": 2432232314}"#;
        let [id, timestamp, signature] =
            signer.headers("msg_p5jXN8AQM9LWM0D4loKWxJek", 1_614_265_330, body);
        assert_eq!(id.1, "msg_p5jXN8AQM9LWM0D4loKWxJek");
        assert_eq!(timestamp.1, "1614265330");
        assert_eq!(
            signature.1,
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
        assert!(signer.verifies(&id.1, 1_614_265_330, &signature.1, body));
        assert!(!signer.verifies(&id.1, 1_614_265_331, &signature.1, body));
    }

    #[test]
    fn a_rotating_endpoint_gets_one_signature_per_secret() {
        let old = Secret::parse(&format!("whsec_{}", STANDARD.encode([1u8; 32]))).unwrap();
        let new = Secret::parse(&format!("whsec_{}", STANDARD.encode([2u8; 32]))).unwrap();
        let both = Signer::new(vec![old.clone(), new.clone()]).unwrap();
        let [_, _, signature] = both.headers("evt", 1, b"{}");
        let parts: Vec<&str> = signature.1.split(' ').collect();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0], old.signature("evt", 1, b"{}"));
        assert_eq!(parts[1], new.signature("evt", 1, b"{}"));
        assert_ne!(parts[0], parts[1]);
    }

    #[test]
    fn malformed_secrets_are_refused_and_never_printed() {
        assert!(matches!(
            Secret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
            Err(SecretError::Format(_))
        ));
        assert!(matches!(
            Secret::parse("whsec_not base64!"),
            Err(SecretError::Format(_))
        ));
        assert_eq!(Secret::parse("whsec_AAAA"), Err(SecretError::Length(3)));
        let secret = Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        assert_eq!(format!("{secret:?}"), "Secret(..)");
        assert_eq!(secret.to_whsec(), "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
        assert!(Signer::new(Vec::new()).is_none());
    }
}
