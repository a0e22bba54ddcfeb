//! Herald's own ports (the admin HTTP port, the control role's admin gRPC API, every
//! node's NodeService) hold a bounded number of connections, and drop one that says
//! nothing.
//!
//! They are not the edge's public doors (the edge has its own, richer limits, per
//! address too), but whoever reaches a pod can open connections to them before any
//! authentication: without a bound, enough of them would hold the process's file
//! descriptors and memory. So each port takes at most [`PortLimits::max_connections`] at
//! once (one more is closed as it is accepted), and a connection that has sent nothing
//! within [`PortLimits::first_byte_timeout`] (no TLS hello, no HTTP/2 preface, no
//! request) is closed. What comes after the first byte is each server's own business:
//! the admin HTTP port's header timeout, tonic's TLS handshake and request timeouts,
//! HTTP/2 keep-alive.
//!
//! Counted in `herald_node_connections{listener}` and
//! `herald_node_connections_refused_total{listener,status}` (`status`: `total`, the cap;
//! `silent`, the first-byte timeout).

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Sleep;

use crate::names;

/// How many connections a port holds at once, and how long a new one may stay silent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PortLimits {
    /// Connections held at once; one more is closed as it is accepted.
    pub max_connections: usize,
    /// How long a new connection may take to send its first byte.
    pub first_byte_timeout: Duration,
}

impl Default for PortLimits {
    /// 256 connections (a Prometheus, the kubelet's probes, the control node and a few
    /// operators need a handful); 10 s to say something.
    fn default() -> Self {
        PortLimits {
            max_connections: 256,
            first_byte_timeout: Duration::from_secs(10),
        }
    }
}

/// How long one gRPC call on a node's own ports may take: the admin and node APIs answer
/// from memory, etcd or the bus, within seconds.
pub const GRPC_CALL_TIMEOUT: Duration = Duration::from_secs(60);
/// Calls one gRPC connection may have in progress at once.
pub const GRPC_MAX_CONCURRENT_STREAMS: u32 = 64;

/// `server` with the bounds of a node's own gRPC port: a call timeout, a bound on calls
/// in progress per connection, and HTTP/2 keep-alive pings that close a connection whose
/// peer went away (every 30 s, 10 s to answer).
pub fn grpc_server(server: tonic::transport::Server) -> tonic::transport::Server {
    server
        .timeout(GRPC_CALL_TIMEOUT)
        .max_concurrent_streams(GRPC_MAX_CONCURRENT_STREAMS)
        .http2_keepalive_interval(Some(Duration::from_secs(30)))
        .http2_keepalive_timeout(Some(Duration::from_secs(10)))
}

/// A listening port with its limits.
#[derive(Debug)]
pub struct LimitedListener {
    tcp: TcpListener,
    name: &'static str,
    limits: PortLimits,
    permits: Arc<Semaphore>,
}

impl LimitedListener {
    /// `tcp`, counted as the `listener` label `name`, within `limits`.
    pub fn new(tcp: TcpListener, name: &'static str, limits: PortLimits) -> Self {
        for status in ["total", "silent"] {
            metrics::counter!(names::NODE_CONNECTIONS_REFUSED_TOTAL,
                names::labels::LISTENER => name, names::labels::STATUS => status)
            .increment(0);
        }
        metrics::gauge!(names::NODE_CONNECTIONS, names::labels::LISTENER => name).set(0.0);
        LimitedListener {
            tcp,
            name,
            limits,
            permits: Arc::new(Semaphore::new(limits.max_connections)),
        }
    }

    /// The address bound.
    ///
    /// # Errors
    ///
    /// The socket's error.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.tcp.local_addr()
    }

    /// The next connection within the cap; those beyond it are closed as they come.
    /// Errors of one connection (reset before it was accepted) are skipped; a failure of
    /// the listener itself (out of file descriptors) pauses accepting for a moment.
    pub async fn accept(&self) -> (LimitedStream, SocketAddr) {
        loop {
            let (stream, peer) = match self.tcp.accept().await {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(listener = self.name, %error, "accept failed; pausing");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let Ok(permit) = self.permits.clone().try_acquire_owned() else {
                tracing::debug!(listener = self.name, %peer, max = self.limits.max_connections, "connection refused: the port holds as many as it may");
                metrics::counter!(names::NODE_CONNECTIONS_REFUSED_TOTAL,
                    names::labels::LISTENER => self.name, names::labels::STATUS => "total")
                .increment(1);
                continue;
            };
            let _ = stream.set_nodelay(true);
            metrics::gauge!(names::NODE_CONNECTIONS, names::labels::LISTENER => self.name)
                .increment(1.0);
            return (
                LimitedStream {
                    io: stream,
                    silent_until: Some(Box::pin(tokio::time::sleep(
                        self.limits.first_byte_timeout,
                    ))),
                    _held: Held {
                        name: self.name,
                        _permit: permit,
                    },
                },
                peer,
            );
        }
    }

    /// The connections as a stream, for `tonic`'s `serve_with_incoming`.
    pub fn incoming(self) -> impl futures::Stream<Item = io::Result<LimitedStream>> {
        let this = Arc::new(self);
        futures::stream::unfold(this, |this| async move {
            let (stream, _peer) = this.accept().await;
            Some((Ok(stream), this))
        })
    }
}

/// A place in a port's connections, given back when the connection is dropped.
#[derive(Debug)]
struct Held {
    name: &'static str,
    _permit: OwnedSemaphorePermit,
}

impl Drop for Held {
    fn drop(&mut self) {
        metrics::gauge!(names::NODE_CONNECTIONS, names::labels::LISTENER => self.name)
            .decrement(1.0);
    }
}

/// An accepted connection: holds its place in the port's cap while it lives, and fails
/// its reads once it has stayed silent past the first-byte timeout.
#[derive(Debug)]
pub struct LimitedStream {
    io: TcpStream,
    /// Until the first byte arrives.
    silent_until: Option<Pin<Box<Sleep>>>,
    _held: Held,
}

impl LimitedStream {
    /// The peer's address.
    ///
    /// # Errors
    ///
    /// The socket's error.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.peer_addr()
    }
}

/// tonic learns the peer's address (and, through TLS, its certificates) from this.
impl tonic::transport::server::Connected for LimitedStream {
    type ConnectInfo = tonic::transport::server::TcpConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.io.connect_info()
    }
}

impl AsyncRead for LimitedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let read = Pin::new(&mut self.io).poll_read(cx, buf);
        let Some(silent_until) = self.silent_until.as_mut() else {
            return read;
        };
        match read {
            Poll::Ready(Ok(())) if buf.filled().len() > before => {
                self.silent_until = None;
                Poll::Ready(Ok(()))
            }
            Poll::Pending if silent_until.as_mut().poll(cx).is_ready() => {
                metrics::counter!(names::NODE_CONNECTIONS_REFUSED_TOTAL,
                    names::labels::LISTENER => self._held.name, names::labels::STATUS => "silent")
                .increment(1);
                Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "no byte from the peer within the first-byte timeout",
                )))
            }
            other => other,
        }
    }
}

impl AsyncWrite for LimitedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}
