//! [`TcpProxy`]: a loopback TCP proxy a test can cut, to partition one client from a
//! server the rest of the test still reaches (a connector from etcd, say).
//!
//! ```no_run
//! # async fn demo(etcd: herald_harness::Etcd) -> std::io::Result<()> {
//! let proxy = herald_harness::TcpProxy::start(etcd.port()).await?;
//! // Give one client `proxy.url()`; then:
//! proxy.cut(); // its connections drop, new ones are refused
//! proxy.heal(); // it connects again
//! # Ok(()) }
//! ```

use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Forwards every connection to `127.0.0.1:<target>` while healed; while cut, drops the
/// connections it carries and closes each new one at once. Stops when dropped.
pub struct TcpProxy {
    addr: SocketAddr,
    cut: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl TcpProxy {
    /// Listens on a free loopback port and forwards to `127.0.0.1:<target>`.
    pub async fn start(target: u16) -> std::io::Result<TcpProxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (cut, cut_rx) = watch::channel(false);
        let task = tokio::spawn(accept(listener, target, cut_rx));
        Ok(TcpProxy { addr, cut, task })
    }

    /// `http://127.0.0.1:<port>`, to give a client instead of the server's URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Partitions: open connections drop, new ones are closed at once.
    pub fn cut(&self) {
        self.cut.send_replace(true);
    }

    /// Ends the partition: connections are forwarded again.
    pub fn heal(&self) {
        self.cut.send_replace(false);
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn accept(listener: TcpListener, target: u16, cut: watch::Receiver<bool>) {
    while let Ok((client, _)) = listener.accept().await {
        if *cut.borrow() {
            drop(client);
            continue;
        }
        let mut cut = cut.clone();
        tokio::spawn(async move {
            let Ok(mut server) = TcpStream::connect(("127.0.0.1", target)).await else {
                return;
            };
            let mut client = client;
            tokio::select! {
                _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                // Both ends drop here: the client sees its connection reset.
                _ = cut.wait_for(|cut| *cut) => {}
            }
        });
    }
}
