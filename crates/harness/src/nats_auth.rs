//! Who a test `nats-server` lets in: users with passwords, NKey users, a token, or an
//! operator with JWT-signed accounts whose users connect with a `.creds` file; and the
//! `nats-server` configuration file that says so.
//!
//! The operator setup is made offline, as `nsc` would: NKeys from the `nkeys` crate and
//! JWTs (header, claims, ed25519 signature of the issuer) built by hand, served by the
//! server's `MEMORY` resolver.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use nkeys::KeyPair;
use sha2::Digest as _;

use crate::HarnessError;
use crate::pki::TestPki;

/// One user of a server started with [`crate::NatsBuilder::user`] or
/// [`crate::NatsBuilder::nkey_user`].
#[derive(Clone, Debug)]
pub(crate) enum NatsUser {
    /// A user name and password.
    Password { user: String, password: String },
    /// An NKey user, by public key (`U...`); the client proves it holds the seed.
    NKey { public_key: String },
}

/// How a test server authenticates clients.
#[derive(Clone, Debug, Default)]
pub(crate) enum NatsAuth {
    /// Everyone gets in.
    #[default]
    Open,
    /// These users, and no one else.
    Users(Vec<NatsUser>),
    /// Whoever presents this token.
    Token(String),
    /// Operator mode: users of a JWT-signed account, with `.creds` files.
    Operator,
}

/// What the server trusts in operator mode, and a user's `.creds` file to connect with.
#[derive(Debug)]
pub(crate) struct Operator {
    operator_jwt: PathBuf,
    system_account: String,
    accounts: Vec<(String, String)>,
    /// The `.creds` file of a user of the JetStream-enabled account.
    pub(crate) creds: PathBuf,
}

impl Operator {
    /// Makes an operator, a system account, a JetStream-enabled account and one user of
    /// it, writing the operator JWT and the user's `.creds` file into `dir`.
    pub(crate) fn generate(dir: &Path) -> Result<Operator, HarnessError> {
        let operator = KeyPair::new_operator();
        let system = KeyPair::new_account();
        let account = KeyPair::new_account();
        let user = KeyPair::new_user();

        let operator_jwt = jwt(
            &operator,
            &operator.public_key(),
            "herald-test-operator",
            serde_json::json!({
                "type": "operator",
                "version": 2,
                "system_account": system.public_key(),
            }),
        )?;
        let unlimited = serde_json::json!({
            "subs": -1, "data": -1, "payload": -1, "imports": -1, "exports": -1,
            "wildcards": true, "conn": -1, "leaf": -1,
        });
        let system_jwt = jwt(
            &operator,
            &system.public_key(),
            "SYS",
            serde_json::json!({
                "limits": unlimited,
                "default_permissions": { "pub": {}, "sub": {} },
                "type": "account",
                "version": 2,
            }),
        )?;
        let mut jetstream_limits = unlimited.clone();
        if let Some(limits) = jetstream_limits.as_object_mut() {
            // Non-zero storage limits are what enable JetStream for an account.
            for key in ["mem_storage", "disk_storage", "streams", "consumer"] {
                limits.insert(key.to_owned(), serde_json::json!(-1));
            }
        }
        let account_jwt = jwt(
            &operator,
            &account.public_key(),
            "HERALD",
            serde_json::json!({
                "limits": jetstream_limits,
                "default_permissions": { "pub": {}, "sub": {} },
                "type": "account",
                "version": 2,
            }),
        )?;
        let user_jwt = jwt(
            &account,
            &user.public_key(),
            "herald",
            serde_json::json!({
                "pub": {}, "sub": {}, "subs": -1, "data": -1, "payload": -1,
                "type": "user",
                "version": 2,
            }),
        )?;

        let operator_path = dir.join("operator.jwt");
        std::fs::write(&operator_path, &operator_jwt)?;
        let creds = dir.join("herald.creds");
        std::fs::write(&creds, creds_file(&user_jwt, &seed(&user)?))?;
        Ok(Operator {
            operator_jwt: operator_path,
            system_account: system.public_key(),
            accounts: vec![
                (system.public_key(), system_jwt),
                (account.public_key(), account_jwt),
            ],
            creds,
        })
    }
}

fn seed(key: &KeyPair) -> Result<String, HarnessError> {
    key.seed()
        .map_err(|e| HarnessError::Certificate(format!("NKey seed: {e}")))
}

/// A JWT of `issuer` about `subject`, with NATS claims `nats`, signed with ed25519 as NATS
/// expects (`alg: ed25519-nkey`).
fn jwt(
    issuer: &KeyPair,
    subject: &str,
    name: &str,
    nats: serde_json::Value,
) -> Result<String, HarnessError> {
    let issued_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut claims = serde_json::json!({
        "jti": "",
        "iat": issued_at,
        "iss": issuer.public_key(),
        "name": name,
        "sub": subject,
        "nats": nats,
    });
    // The id is the hash of the claims without it, as the NATS JWT library makes it.
    let digest = sha2::Sha256::digest(claims.to_string().as_bytes());
    claims["jti"] = serde_json::json!(data_encoding::BASE32_NOPAD.encode(&digest));
    let header = URL_SAFE_NO_PAD.encode(r#"{"typ":"JWT","alg":"ed25519-nkey"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    let signed = format!("{header}.{payload}");
    let signature = issuer
        .sign(signed.as_bytes())
        .map_err(|e| HarnessError::Certificate(format!("JWT signature: {e}")))?;
    Ok(format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature)))
}

/// A `.creds` file: the user's JWT and NKey seed, decorated as `nsc` writes them.
pub(crate) fn creds_file(jwt: &str, seed: &str) -> String {
    format!(
        "-----BEGIN NATS USER JWT-----\n{jwt}\n------END NATS USER JWT------\n\n\
         ************************* IMPORTANT *************************\n\
         NKEY Seed printed below can be used to sign and prove identity.\n\
         NKEYs are sensitive and should be treated as secrets.\n\n\
         -----BEGIN USER NKEY SEED-----\n{seed}\n------END USER NKEY SEED------\n\n\
         *************************************************************\n"
    )
}

/// A new NKey user: its public key (for [`crate::NatsBuilder::nkey_user`]) and its seed
/// (for the client).
pub fn nkey_user() -> Result<(String, String), HarnessError> {
    let user = KeyPair::new_user();
    Ok((user.public_key(), seed(&user)?))
}

/// A string quoted for the `nats-server` configuration language.
fn quoted(value: &str) -> String {
    serde_json::Value::from(value).to_string()
}

/// The `nats-server` configuration file for `auth` and, when set, TLS with `pki`
/// (`verify`: client certificates required).
pub(crate) fn server_config(
    auth: &NatsAuth,
    operator: Option<&Operator>,
    tls: Option<(&TestPki, bool)>,
) -> String {
    let mut conf = String::new();
    match auth {
        NatsAuth::Open | NatsAuth::Operator => {}
        NatsAuth::Users(users) => {
            conf.push_str("authorization {\n  users = [\n");
            for user in users {
                let _ = match user {
                    NatsUser::Password { user, password } => writeln!(
                        conf,
                        "    {{ user: {}, password: {} }}",
                        quoted(user),
                        quoted(password)
                    ),
                    NatsUser::NKey { public_key } => {
                        writeln!(conf, "    {{ nkey: {} }}", quoted(public_key))
                    }
                };
            }
            conf.push_str("  ]\n}\n");
        }
        NatsAuth::Token(token) => {
            let _ = writeln!(conf, "authorization {{\n  token: {}\n}}", quoted(token));
        }
    }
    if let Some(operator) = operator {
        let _ = writeln!(
            conf,
            "operator: {}\nsystem_account: {}\nresolver: MEMORY\nresolver_preload: {{",
            quoted(&operator.operator_jwt.to_string_lossy()),
            quoted(&operator.system_account)
        );
        for (public_key, jwt) in &operator.accounts {
            let _ = writeln!(conf, "  {public_key}: {}", quoted(jwt));
        }
        conf.push_str("}\n");
    }
    if let Some((pki, verify)) = tls {
        let _ = writeln!(
            conf,
            "tls {{\n  cert_file: {}\n  key_file: {}\n  ca_file: {}\n  verify: {verify}\n  timeout: 5\n}}",
            quoted(&pki.server_cert().to_string_lossy()),
            quoted(&pki.server_key().to_string_lossy()),
            quoted(&pki.ca().to_string_lossy()),
        );
    }
    conf
}
