//! A minimal webhook receiver: HTTP/1.1 with keep-alive, every request answered 204 and
//! handed over with its headers and body. `herald dev` runs one for its demo account and
//! the benchmarks count deliveries with it; a real receiver verifies with the Standard
//! Webhooks libraries (the tests use PyPI `standardwebhooks`), or [`crate::Signer::verifies`].

use std::time::SystemTime;

use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// The largest body taken; a bigger request closes the connection.
const MAX_BODY: usize = 1024 * 1024;

/// One request as received.
#[derive(Clone, Debug)]
pub struct Received {
    /// Its headers, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// Its body.
    pub body: Vec<u8>,
    /// When it was read whole.
    pub at: SystemTime,
}

impl Received {
    /// The value of header `name` (lower-case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Serves `listener` until `received` is closed, sending every request there.
pub async fn serve(listener: TcpListener, received: mpsc::UnboundedSender<Received>) {
    while let Ok((stream, _)) = listener.accept().await {
        if received.is_closed() {
            return;
        }
        tokio::spawn(connection(stream, received.clone()));
    }
}

async fn connection(stream: TcpStream, received: mpsc::UnboundedSender<Received>) {
    let mut stream = BufReader::new(stream);
    loop {
        let mut headers = Vec::new();
        let mut first = true;
        loop {
            let mut line = String::new();
            match stream.read_line(&mut line).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if first {
                first = false;
                continue;
            }
            if let Some((name, value)) = line.split_once(':') {
                headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
            }
        }
        let length = headers
            .iter()
            .find(|(n, _)| n == "content-length")
            .and_then(|(_, v)| v.parse::<usize>().ok())
            .unwrap_or(0);
        if length > MAX_BODY {
            return;
        }
        let mut body = vec![0; length];
        if stream.read_exact(&mut body).await.is_err() {
            return;
        }
        let request = Received {
            headers,
            body,
            at: SystemTime::now(),
        };
        if received.send(request).is_err() {
            return;
        }
        let answer = b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n";
        if stream.get_mut().write_all(answer).await.is_err() {
            return;
        }
    }
}
