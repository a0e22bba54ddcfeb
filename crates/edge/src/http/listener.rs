//! Where the HTTP API's connections come from and how they are served: the plain and TLS
//! listeners, each admitting a connection through the edge's [`ConnectionLimits`] before
//! anything else is done with it (no handshake, no HTTP parsing for a refused one); the
//! header timeout; and the graceful drain.
//!
//! Connections are accepted and admitted as the SMPP listeners' are
//! ([`crate::connections::accept_admitted`]), and the TLS handshake is theirs too
//! ([`ReloadingAcceptor::handshake`]).

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::serve::Listener;
use herald_telemetry::names;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_rustls::server::TlsStream;

use crate::connections::{Admitted, ConnectionLimits, Listener as Kind, accept_admitted};
use crate::server::{EdgeError, Shared};
use crate::tls::ReloadingAcceptor;

/// Serves the API on `listener` (over TLS with `tls`'s current certificate, when given)
/// until `shutdown`; then lets requests in progress finish for at most `drain`.
///
/// Each connection is served by hyper's HTTP/1.1 server with `edge.http_header_timeout`
/// on its headers (and so on an idle keep-alive connection's next request); the body's
/// own timeout is the handler's, since it reads the body only after the credentials.
pub(crate) async fn serve(
    shared: Arc<Shared>,
    listener: TcpListener,
    tls: Option<ReloadingAcceptor>,
    shutdown: impl Future<Output = ()>,
    drain: Duration,
) -> Result<(), EdgeError> {
    if let Ok(addr) = listener.local_addr() {
        let over = if tls.is_some() { "HTTPS" } else { "HTTP" };
        tracing::info!(%addr, "edge serving the {over} submit API");
    }
    let header_timeout = shared.config.http_header_timeout;
    let handshake_timeout = shared.config.bind_timeout;
    let limits = shared.connections.clone();
    let app = super::router(super::Api::new(shared, tls.is_some()));
    match tls {
        None => {
            let listener = AdmittingListener::new(listener, limits);
            serve_connections(listener, app, header_timeout, shutdown, drain).await
        }
        Some(tls) => {
            let listener = TlsListener::new(listener, tls, handshake_timeout, limits);
            serve_connections(listener, app, header_timeout, shutdown, drain).await
        }
    }
}

/// Accepts from `listener` and serves each connection in a task of its own until
/// `shutdown`; then stops accepting, asks every connection to finish its request in
/// progress and close, and waits at most `drain` for them.
async fn serve_connections<L>(
    mut listener: L,
    app: axum::Router,
    header_timeout: Duration,
    shutdown: impl Future<Output = ()>,
    drain: Duration,
) -> Result<(), EdgeError>
where
    L: Listener<Addr = SocketAddr>,
    L::Io: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .keep_alive(true);
    tokio::pin!(shutdown);
    loop {
        let (io, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        // ConnectInfo for the handlers (the allow-lists and throttles see the TCP peer).
        let service = app.clone().layer(axum::Extension(ConnectInfo(peer)));
        let connection = http.serve_connection(TokioIo::new(io), TowerToHyperService::new(service));
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                if error.is_timeout() {
                    metrics::counter!(names::EDGE_HTTP_TIMEOUTS_TOTAL, names::labels::STATUS => "header")
                        .increment(1);
                    tracing::debug!(%peer, "HTTP client too slow with its headers, or idle: closed");
                } else {
                    tracing::debug!(%peer, %error, "HTTP connection ended with an error");
                }
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(drain, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            ?drain,
            "HTTP requests still in progress after the drain timeout"
        );
    }
    Ok(())
}

/// A connection that holds its place in the edge's connection limits while it lives.
pub(crate) struct AdmittedIo<IO> {
    io: IO,
    _admitted: Admitted,
}

impl<IO: AsyncRead + Unpin> AsyncRead for AdmittedIo<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for AdmittedIo<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

/// Accepts a connection the limits admit ([`accept_admitted`]). axum's listener cannot
/// fail, so a broken listening socket is logged loudly and tried again, slowly.
async fn accept_http(
    tcp: &TcpListener,
    limits: &Arc<ConnectionLimits>,
    kind: Kind,
) -> (TcpStream, SocketAddr, Admitted) {
    loop {
        match accept_admitted(tcp, limits, kind).await {
            Ok(accepted) => return accepted,
            Err(err) => {
                tracing::error!(listener = kind.name(), error = %err, "HTTP accept failed");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// The plain HTTP listener.
struct AdmittingListener {
    tcp: TcpListener,
    limits: Arc<ConnectionLimits>,
}

impl AdmittingListener {
    fn new(tcp: TcpListener, limits: Arc<ConnectionLimits>) -> Self {
        AdmittingListener { tcp, limits }
    }
}

impl Listener for AdmittingListener {
    type Io = AdmittedIo<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (io, peer, admitted) = accept_http(&self.tcp, &self.limits, Kind::Http).await;
        (
            AdmittedIo {
                io,
                _admitted: admitted,
            },
            peer,
        )
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

/// A listener that hands axum TLS streams: each admitted connection's handshake runs in
/// its own task (bounded by `handshake_timeout`), so a slow or silent client holds up
/// nobody else; failed handshakes are logged and dropped.
struct TlsListener {
    tcp: TcpListener,
    tls: ReloadingAcceptor,
    handshake_timeout: Duration,
    limits: Arc<ConnectionLimits>,
    handshakes: JoinSet<Option<(AdmittedIo<TlsStream<TcpStream>>, SocketAddr)>>,
}

impl TlsListener {
    fn new(
        tcp: TcpListener,
        tls: ReloadingAcceptor,
        handshake_timeout: Duration,
        limits: Arc<ConnectionLimits>,
    ) -> Self {
        TlsListener {
            tcp,
            tls,
            handshake_timeout,
            limits,
            handshakes: JoinSet::new(),
        }
    }
}

impl Listener for TlsListener {
    type Io = AdmittedIo<TlsStream<TcpStream>>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            tokio::select! {
                (stream, peer, admitted) = accept_http(&self.tcp, &self.limits, Kind::Https) => {
                    let handshake = self.tls.handshake(stream, peer, self.handshake_timeout);
                    self.handshakes.spawn(async move {
                        let io = handshake.await?;
                        Some((AdmittedIo { io, _admitted: admitted }, peer))
                    });
                }
                Some(done) = self.handshakes.join_next(), if !self.handshakes.is_empty() => {
                    if let Ok(Some(connection)) = done {
                        return connection;
                    }
                }
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}
