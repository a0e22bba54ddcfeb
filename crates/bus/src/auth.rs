//! How the client proves who it is to NATS: a `.creds` file, an NKey seed, a user and
//! password, or a token ([`NatsAuth`]), each read from a file or an environment variable
//! ([`SecretRef`]), never kept in the config itself.
//!
//! Secrets are read when [`crate::Bus::connect`] starts (so a missing file is reported
//! at once, by name) and again at every connection and reconnection, so a rotated
//! Kubernetes Secret is used from the next reconnection on without a restart.

use std::path::PathBuf;
use std::sync::Arc;

use crate::error::BusError;

/// Where a secret is found; never the secret itself, so a config holding one can be
/// printed and logged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SecretRef {
    /// A file (trailing newlines are trimmed), such as a mounted Kubernetes Secret.
    File(PathBuf),
    /// An environment variable of the process.
    Env(String),
}

impl SecretRef {
    /// Reads the secret.
    ///
    /// # Errors
    ///
    /// [`BusError::Secret`] naming the file or variable when it cannot be read.
    pub fn read(&self) -> Result<String, BusError> {
        match self {
            SecretRef::File(path) => std::fs::read_to_string(path)
                .map(|s| s.trim_end_matches(['\r', '\n']).to_owned())
                .map_err(|e| BusError::Secret {
                    reference: self.to_string(),
                    reason: e.to_string(),
                }),
            SecretRef::Env(name) => std::env::var(name).map_err(|e| BusError::Secret {
                reference: self.to_string(),
                reason: e.to_string(),
            }),
        }
    }
}

impl std::fmt::Display for SecretRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SecretRef::File(path) => write!(f, "file {}", path.display()),
            SecretRef::Env(name) => write!(f, "environment variable {name}"),
        }
    }
}

/// How the client authenticates to NATS: one kind at a time.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum NatsAuth {
    /// No credentials (a server without authentication, such as `herald dev`'s).
    #[default]
    None,
    /// A `.creds` file's content: a user JWT and the NKey seed that signs the server's
    /// nonce (operator mode, decentralised JWT authentication).
    Credentials(SecretRef),
    /// An NKey seed (`SU...`): the client signs the server's nonce with it.
    NKey(SecretRef),
    /// A user name and its password.
    UserPassword {
        /// The user name.
        user: String,
        /// Where the password is.
        password: SecretRef,
    },
    /// A token.
    Token(SecretRef),
}

/// Credentials read from their [`SecretRef`]s, ready to answer a server's nonce.
#[derive(Clone)]
enum Resolved {
    Credentials {
        jwt: String,
        key: Arc<nkeys::KeyPair>,
    },
    NKey(Arc<nkeys::KeyPair>),
    UserPassword {
        user: String,
        password: String,
    },
    Token(String),
}

impl NatsAuth {
    /// The kind of credentials, for messages: `none`, `credentials file`, `nkey`,
    /// `user and password` or `token`.
    pub fn kind(&self) -> &'static str {
        match self {
            NatsAuth::None => "none",
            NatsAuth::Credentials(_) => "credentials file",
            NatsAuth::NKey(_) => "nkey",
            NatsAuth::UserPassword { .. } => "user and password",
            NatsAuth::Token(_) => "token",
        }
    }

    /// Reads and checks the secrets: a seed must be an NKey seed, a `.creds` file must
    /// hold a JWT and a seed. `None` for [`NatsAuth::None`].
    fn resolve(&self) -> Result<Option<Resolved>, BusError> {
        Ok(Some(match self {
            NatsAuth::None => return Ok(None),
            NatsAuth::Credentials(source) => {
                let text = source.read()?;
                let (jwt, seed) = parse_creds(&text).ok_or_else(|| BusError::Secret {
                    reference: source.to_string(),
                    reason: "not a NATS credentials file: expected a user JWT and an NKey seed"
                        .to_owned(),
                })?;
                Resolved::Credentials {
                    jwt: jwt.to_owned(),
                    key: Arc::new(key_pair(seed, source)?),
                }
            }
            NatsAuth::NKey(source) => Resolved::NKey(Arc::new(key_pair(&source.read()?, source)?)),
            NatsAuth::UserPassword { user, password } => Resolved::UserPassword {
                user: user.clone(),
                password: password.read()?,
            },
            NatsAuth::Token(source) => Resolved::Token(source.read()?),
        }))
    }

    /// Connect options that present these credentials: checked now, read again at every
    /// connection.
    ///
    /// # Errors
    ///
    /// [`BusError::Secret`] when a secret cannot be read or is not what it should be.
    pub(crate) fn connect_options(&self) -> Result<async_nats::ConnectOptions, BusError> {
        if self.resolve()?.is_none() {
            return Ok(async_nats::ConnectOptions::new());
        }
        let auth = self.clone();
        Ok(async_nats::ConnectOptions::with_auth_callback(
            move |nonce| {
                let auth = auth.clone();
                async move {
                    let resolved = auth
                        .resolve()
                        .map_err(|e| async_nats::AuthError::new(error_chain(&e)))?
                        .ok_or_else(|| async_nats::AuthError::new("no credentials"))?;
                    resolved.answer(&nonce)
                }
            },
        ))
    }
}

/// An error and its sources on one line.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

impl Resolved {
    /// What the client sends in its `CONNECT` for the server's `nonce`.
    fn answer(&self, nonce: &[u8]) -> Result<async_nats::Auth, async_nats::AuthError> {
        let mut auth = async_nats::Auth::new();
        match self {
            Resolved::Credentials { jwt, key } => {
                auth.jwt = Some(jwt.clone());
                auth.signature = Some(key.sign(nonce).map_err(async_nats::AuthError::new)?);
            }
            Resolved::NKey(key) => {
                auth.nkey = Some(key.public_key());
                auth.signature = Some(key.sign(nonce).map_err(async_nats::AuthError::new)?);
            }
            Resolved::UserPassword { user, password } => {
                auth.username = Some(user.clone());
                auth.password = Some(password.clone());
            }
            Resolved::Token(token) => auth.token = Some(token.clone()),
        }
        Ok(auth)
    }
}

fn key_pair(seed: &str, source: &SecretRef) -> Result<nkeys::KeyPair, BusError> {
    nkeys::KeyPair::from_seed(seed.trim()).map_err(|e| BusError::Secret {
        reference: source.to_string(),
        // The error names the kind of problem, never the seed.
        reason: format!("not an NKey seed: {e}"),
    })
}

/// The user JWT and the NKey seed of a `.creds` file: the first and second values
/// framed by `-----BEGIN ...-----` and `------END ...------` lines, as `nsc` writes them.
fn parse_creds(text: &str) -> Option<(&str, &str)> {
    let mut blocks = Vec::new();
    let mut lines = text.lines().map(str::trim);
    while let Some(line) = lines.next() {
        if line.starts_with("---") && line.contains("BEGIN") {
            let value = lines.by_ref().find(|l| !l.is_empty())?;
            blocks.push(value);
        }
    }
    match blocks.as_slice() {
        [jwt, seed, ..] => Some((jwt, seed)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CREDS: &str = "-----BEGIN NATS USER JWT-----\neyJhbGciOi.x.y\n------END NATS USER JWT------\n\n\
        ************************* IMPORTANT *************************\n\
        NKEY Seed printed below can be used to sign and prove identity.\n\n\
        -----BEGIN USER NKEY SEED-----\nSUAEXAMPLE\n------END USER NKEY SEED------\n";

    #[test]
    fn a_creds_file_gives_its_jwt_and_seed() {
        assert_eq!(parse_creds(CREDS), Some(("eyJhbGciOi.x.y", "SUAEXAMPLE")));
        assert_eq!(parse_creds("just a token"), None);
        assert_eq!(
            parse_creds("-----BEGIN NATS USER JWT-----\njwt\n------END NATS USER JWT------\n"),
            None
        );
    }

    #[test]
    fn secrets_are_read_from_files_and_named_when_missing() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("token");
        std::fs::write(&path, "s3cret\n").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            SecretRef::File(path.clone()).read().ok(),
            Some("s3cret".into())
        );
        let missing = SecretRef::File(dir.path().join("absent"));
        let error = missing
            .read()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(error.contains("absent"), "{error}");
        let error = SecretRef::Env("HERALD_BUS_TEST_UNSET_VARIABLE".into())
            .read()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(error.contains("HERALD_BUS_TEST_UNSET_VARIABLE"), "{error}");
    }

    #[test]
    fn a_bad_seed_is_refused_without_showing_it() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("seed");
        std::fs::write(&path, "SUNOTASEEDATALL").unwrap_or_else(|e| panic!("{e}"));
        let error = NatsAuth::NKey(SecretRef::File(path))
            .resolve()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(error.contains("not an NKey seed"), "{error}");
        assert!(!error.contains("SUNOTASEEDATALL"), "{error}");
    }
}
