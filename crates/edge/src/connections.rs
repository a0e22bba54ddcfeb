//! How many connections an edge holds, in all and per address.
//!
//! Every listener of an edge (SMPP, SMPP over TLS, HTTP, HTTPS) admits each accepted
//! connection through the one [`ConnectionLimits`] before anything else is done with it:
//! no TLS handshake, no buffer, no task for a connection over `edge.max_connections` in
//! all or `edge.max_connections_per_ip` from one address. A refused connection is closed
//! at once, counted (`herald_edge_connections_refused_total{listener, status}`) and logged
//! (at most once a second per listener, so a flood cannot flood the logs too).
//!
//! An IPv6 client is counted by its /64, the block one subscriber usually holds: a host
//! has as many addresses in it as it likes.
//!
//! `accept_admitted` is every listener's accept: the admission above and the one
//! accept-error policy (`after_accept_error`).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use herald_telemetry::names;
use tokio::net::{TcpListener, TcpStream};

/// Which listener a connection came in on (the `listener` label).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Listener {
    /// SMPP over plain TCP.
    Smpp,
    /// SMPP over TLS.
    SmppTls,
    /// The HTTP submit API.
    Http,
    /// The HTTP submit API over TLS.
    Https,
}

impl Listener {
    const ALL: [Listener; 4] = [
        Listener::Smpp,
        Listener::SmppTls,
        Listener::Http,
        Listener::Https,
    ];

    /// The label value.
    pub const fn name(self) -> &'static str {
        match self {
            Listener::Smpp => "smpp",
            Listener::SmppTls => "smpp_tls",
            Listener::Http => "http",
            Listener::Https => "https",
        }
    }

    const fn index(self) -> usize {
        self as usize
    }
}

/// Why a connection was refused (the `status` label).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The edge holds `edge.max_connections` already.
    Total,
    /// Its address holds `edge.max_connections_per_ip` already.
    PerIp,
}

impl Refusal {
    /// The label value.
    pub const fn name(self) -> &'static str {
        match self {
            Refusal::Total => "total",
            Refusal::PerIp => "per_ip",
        }
    }
}

/// The edge's connection counts against its limits.
#[derive(Debug)]
pub struct ConnectionLimits {
    max_total: u32,
    max_per_ip: u32,
    total: AtomicU32,
    per_ip: Mutex<HashMap<IpAddr, u32>>,
    /// Unix seconds of the last refusal logged, per listener.
    last_logged: [AtomicU64; 4],
}

/// An admitted connection; frees its place when dropped.
#[derive(Debug)]
pub struct Admitted {
    limits: Arc<ConnectionLimits>,
    client: IpAddr,
    listener: Listener,
}

impl ConnectionLimits {
    /// Limits of `max_total` connections in all and `max_per_ip` per address.
    pub fn new(max_total: u32, max_per_ip: u32) -> Arc<ConnectionLimits> {
        for listener in Listener::ALL {
            gauge(listener).set(0.0);
        }
        Arc::new(ConnectionLimits {
            max_total,
            max_per_ip,
            total: AtomicU32::new(0),
            per_ip: Mutex::new(HashMap::new()),
            last_logged: Default::default(),
        })
    }

    /// Admits a connection from `peer` on `listener`, or refuses it (counted and logged).
    pub fn admit(self: &Arc<Self>, peer: IpAddr, listener: Listener) -> Result<Admitted, Refusal> {
        let client = client_of(peer);
        let admitted = self.try_admit(client);
        match admitted {
            Ok(()) => {
                gauge(listener).increment(1.0);
                Ok(Admitted {
                    limits: self.clone(),
                    client,
                    listener,
                })
            }
            Err(refusal) => {
                metrics::counter!(
                    names::EDGE_CONNECTIONS_REFUSED_TOTAL,
                    names::labels::LISTENER => listener.name(),
                    names::labels::STATUS => refusal.name()
                )
                .increment(1);
                self.log_refusal(peer, listener, refusal);
                Err(refusal)
            }
        }
    }

    fn try_admit(&self, client: IpAddr) -> Result<(), Refusal> {
        let mut per_ip = self
            .per_ip
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if self.total.load(Ordering::Relaxed) >= self.max_total {
            return Err(Refusal::Total);
        }
        let count = per_ip.entry(client).or_insert(0);
        if *count >= self.max_per_ip {
            return Err(Refusal::PerIp);
        }
        *count += 1;
        self.total.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    fn release(&self, client: IpAddr) {
        let mut per_ip = self
            .per_ip
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(count) = per_ip.get_mut(&client) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                per_ip.remove(&client);
            }
        }
        self.total.fetch_sub(1, Ordering::Relaxed);
    }

    /// Connections held now, in all.
    pub fn held(&self) -> u32 {
        self.total.load(Ordering::Relaxed)
    }

    fn log_refusal(&self, peer: IpAddr, listener: Listener, refusal: Refusal) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let last = &self.last_logged[listener.index()];
        if last.swap(now, Ordering::Relaxed) != now {
            tracing::warn!(%peer, listener = listener.name(), reason = refusal.name(), max_total = self.max_total, max_per_ip = self.max_per_ip, "connection refused: limit reached (logged at most once a second)");
        }
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        self.limits.release(self.client);
        gauge(self.listener).decrement(1.0);
    }
}

/// What a failed `accept` means for a listener, the same for every listener of the edge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AcceptError {
    /// A connection that died before it was accepted: nobody's concern.
    Ignore,
    /// Out of file descriptors or memory: wait this long, then go on (spinning would only
    /// burn the CPU the rest of the edge needs).
    Pause(std::time::Duration),
    /// The listening socket itself is broken.
    Fatal,
}

/// The one accept-error policy of the edge's listeners.
pub(crate) fn after_accept_error(err: &std::io::Error) -> AcceptError {
    use std::io::ErrorKind::{
        ConnectionAborted, ConnectionRefused, ConnectionReset, Interrupted, WouldBlock,
    };
    const ENFILE: i32 = 23;
    const EMFILE: i32 = 24;
    const ENOBUFS: i32 = 105;
    const ENOMEM: i32 = 12;
    if matches!(
        err.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset | Interrupted | WouldBlock
    ) {
        return AcceptError::Ignore;
    }
    match err.raw_os_error() {
        Some(ENFILE | EMFILE | ENOBUFS | ENOMEM) => {
            AcceptError::Pause(std::time::Duration::from_millis(100))
        }
        _ => AcceptError::Fatal,
    }
}

/// Accepts the next connection on `tcp` that `limits` admit, as every listener of the edge
/// does: a refused one is closed at once (before any handshake or buffer), a failed accept
/// is ignored or paused on as [`after_accept_error`] says; only a broken listening socket
/// ends it, with the error.
pub(crate) async fn accept_admitted(
    tcp: &TcpListener,
    limits: &Arc<ConnectionLimits>,
    listener: Listener,
) -> std::io::Result<(TcpStream, SocketAddr, Admitted)> {
    loop {
        match tcp.accept().await {
            Ok((stream, peer)) => {
                let Ok(admitted) = limits.admit(peer.ip(), listener) else {
                    continue;
                };
                // Small PDUs and answers: Nagle's delay would only add latency.
                if let Err(err) = stream.set_nodelay(true) {
                    tracing::debug!(%peer, error = %err, "cannot set TCP_NODELAY");
                }
                return Ok((stream, peer, admitted));
            }
            Err(err) => match after_accept_error(&err) {
                AcceptError::Ignore => {}
                AcceptError::Pause(pause) => {
                    tracing::warn!(listener = listener.name(), error = %err, "accept failed; pausing");
                    tokio::time::sleep(pause).await;
                }
                AcceptError::Fatal => return Err(err),
            },
        }
    }
}

fn gauge(listener: Listener) -> metrics::Gauge {
    metrics::gauge!(names::EDGE_CONNECTIONS, names::labels::LISTENER => listener.name())
}

/// The address a client is counted under: itself for IPv4 (and IPv4-mapped IPv6), its
/// /64 for IPv6.
pub(crate) fn client_of(peer: IpAddr) -> IpAddr {
    match peer {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let bits = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(bits.into())
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_hold_in_all_and_per_address_and_free_on_drop() {
        let limits = ConnectionLimits::new(3, 2);
        let a: IpAddr = [192, 0, 2, 1].into();
        let b: IpAddr = [192, 0, 2, 2].into();
        let first = limits.admit(a, Listener::Smpp).unwrap();
        let _second = limits.admit(a, Listener::Http).unwrap();
        assert_eq!(limits.admit(a, Listener::Smpp).unwrap_err(), Refusal::PerIp);
        let _third = limits.admit(b, Listener::Smpp).unwrap();
        assert_eq!(limits.admit(b, Listener::Smpp).unwrap_err(), Refusal::Total);
        assert_eq!(limits.held(), 3);
        drop(first);
        assert_eq!(limits.held(), 2);
        let _again = limits.admit(a, Listener::SmppTls).unwrap();
    }

    #[test]
    fn accept_errors_are_ignored_waited_out_or_fatal() {
        use std::io::{Error, ErrorKind};
        assert_eq!(
            after_accept_error(&Error::from(ErrorKind::ConnectionReset)),
            AcceptError::Ignore
        );
        assert!(matches!(
            after_accept_error(&Error::from_raw_os_error(24)),
            AcceptError::Pause(_)
        ));
        assert_eq!(
            after_accept_error(&Error::from(ErrorKind::InvalidInput)),
            AcceptError::Fatal
        );
    }

    #[test]
    fn an_ipv6_client_is_counted_by_its_64() {
        let limits = ConnectionLimits::new(100, 1);
        let one: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let same_64: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let other_64: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        let _held = limits.admit(one, Listener::Smpp).unwrap();
        assert_eq!(
            limits.admit(same_64, Listener::Smpp).unwrap_err(),
            Refusal::PerIp
        );
        assert!(limits.admit(other_64, Listener::Smpp).is_ok());
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(client_of(mapped), IpAddr::from([192, 0, 2, 7]));
    }
}
