//! The etcd connection shared by the store, the client and node registration: one place
//! that sets connection options, bounds every call with a timeout and names failures.

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use etcd_client::{Certificate, Client, ConnectOptions, GetOptions, Identity, TlsOptions};

use crate::config::{EtcdTls, StoreConfig};
use crate::error::Error;

/// Page size of a full load: keeps each response well under gRPC's 4 MiB default.
const PAGE: i64 = 500;

/// An etcd client with the endpoints (for error messages) and the request timeout.
#[derive(Clone)]
pub(crate) struct Etcd {
    client: Client,
    endpoints: Arc<str>,
    timeout: Duration,
}

/// One key-value of a full load.
pub(crate) struct LoadedKv {
    pub(crate) key: Vec<u8>,
    pub(crate) value: Vec<u8>,
}

/// Everything under a prefix at one revision.
pub(crate) struct Loaded {
    /// The revision read at.
    pub(crate) revision: u64,
    /// The etcd cluster that answered.
    pub(crate) cluster_id: u64,
    /// The key-values, in key order.
    pub(crate) kvs: Vec<LoadedKv>,
}

impl Etcd {
    /// A client for the configured endpoints. The channel connects lazily: without a
    /// user this fails only on malformed endpoints or unreadable TLS files, and the first
    /// request finds out whether etcd is there; with one, the user authenticates here.
    /// TLS files and the password are read anew on every call, so a reconnection picks
    /// up rotated ones.
    pub(crate) async fn connect(config: &StoreConfig) -> Result<Etcd, Error> {
        let endpoints: Arc<str> = config.endpoints.join(",").into();
        let mut options = ConnectOptions::new()
            .with_connect_timeout(config.connect_timeout)
            // No per-request timeout here: it would cut long-lived watch and keep-alive
            // streams. Unary calls are bounded in `call` instead.
            .with_keep_alive(config.keep_alive_interval, config.keep_alive_interval)
            .with_keep_alive_while_idle(true);
        if let Some(tls) = &config.tls {
            options = options.with_tls(tls_options(tls)?);
        }
        if let Some(user) = &config.user {
            options = options.with_user(&user.name, user.password.resolve()?);
        }
        let connecting = Client::connect(config.endpoints.clone(), Some(options));
        let client = match tokio::time::timeout(config.connect_timeout, connecting).await {
            Ok(Ok(client)) => client,
            Ok(Err(source)) => {
                return Err(Error::Etcd {
                    endpoints: endpoints.to_string(),
                    operation: "connect",
                    source,
                });
            }
            Err(_) => {
                return Err(Error::Timeout {
                    endpoints: endpoints.to_string(),
                    operation: "connect",
                    timeout: config.connect_timeout,
                });
            }
        };
        Ok(Etcd {
            client,
            endpoints,
            timeout: config.request_timeout,
        })
    }

    /// The client, for calls this module does not wrap.
    pub(crate) fn client(&self) -> Client {
        self.client.clone()
    }

    /// The request timeout.
    pub(crate) fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Runs one request with the request timeout.
    pub(crate) async fn call<T, F, Fut>(&self, operation: &'static str, f: F) -> Result<T, Error>
    where
        F: FnOnce(Client) -> Fut,
        Fut: Future<Output = Result<T, etcd_client::Error>>,
    {
        match tokio::time::timeout(self.timeout, f(self.client.clone())).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(source)) => Err(self.error(operation, source)),
            Err(_) => Err(self.timed_out(operation)),
        }
    }

    pub(crate) fn error(&self, operation: &'static str, source: etcd_client::Error) -> Error {
        Error::Etcd {
            endpoints: self.endpoints.to_string(),
            operation,
            source,
        }
    }

    pub(crate) fn timed_out(&self, operation: &'static str) -> Error {
        Error::Timeout {
            endpoints: self.endpoints.to_string(),
            operation,
            timeout: self.timeout,
        }
    }

    pub(crate) fn stream_ended(&self, operation: &'static str, reason: impl Into<String>) -> Error {
        Error::StreamEnded {
            endpoints: self.endpoints.to_string(),
            operation,
            reason: reason.into(),
        }
    }

    /// Every key under `prefix` at one revision, in pages.
    pub(crate) async fn load(&self, prefix: &str) -> Result<Loaded, Error> {
        let end = prefix_end(prefix.as_bytes());
        let mut from = prefix.as_bytes().to_vec();
        let mut revision = 0i64;
        let mut cluster_id = 0;
        let mut out = Vec::new();
        loop {
            let mut options = GetOptions::new().with_range(end.clone()).with_limit(PAGE);
            if revision > 0 {
                // Later pages read the first page's revision: one consistent cut.
                options = options.with_revision(revision);
            }
            let key = from.clone();
            let mut page = self
                .call(
                    "load",
                    |mut c| async move { c.get(key, Some(options)).await },
                )
                .await?;
            if revision == 0 {
                revision = page.header().map_or(0, |h| h.revision());
                cluster_id = page.header().map_or(0, |h| h.cluster_id());
            }
            let more = page.more();
            let kvs = page.take_kvs();
            let Some(last) = kvs.last() else { break };
            from = last.key().to_vec();
            from.push(0);
            out.extend(kvs.into_iter().map(|kv| {
                let (key, value) = kv.into_key_value();
                LoadedKv { key, value }
            }));
            if !more {
                break;
            }
        }
        Ok(Loaded {
            revision: revision_of(revision),
            cluster_id,
            kvs: out,
        })
    }
}

/// etcd-client's TLS options from the configured files.
fn tls_options(tls: &EtcdTls) -> Result<TlsOptions, Error> {
    let read = |what: &str, path: &Path| {
        std::fs::read(path).map_err(|source| Error::tls_file(what, path, &source))
    };
    let mut options = TlsOptions::new().ca_certificate(Certificate::from_pem(read("CA", &tls.ca)?));
    if let (Some(cert), Some(key)) = (&tls.cert, &tls.key) {
        options = options.identity(Identity::from_pem(
            read("client certificate", cert)?,
            read("client key", key)?,
        ));
    }
    Ok(options)
}

/// The first key after every key that starts with `prefix`.
pub(crate) fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    // All 0xff (or empty): to the end of the key space.
    vec![0]
}

/// An etcd revision (signed) as ours (unsigned; etcd's are never negative).
pub(crate) fn revision_of(r: i64) -> u64 {
    u64::try_from(r).unwrap_or(0)
}

/// Our revision as etcd's.
pub(crate) fn to_etcd_revision(r: u64) -> Result<i64, Error> {
    i64::try_from(r).map_err(|_| Error::RevisionOutOfRange(r))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_ends() {
        assert_eq!(prefix_end(b"/herald/v1/"), b"/herald/v10".to_vec());
        assert_eq!(prefix_end(b"a\xff"), b"b".to_vec());
        assert_eq!(prefix_end(b"\xff"), vec![0]);
    }
}
