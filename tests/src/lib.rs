//! Herald's cross-crate integration tests and what they share:
//!
//! - drivers for the third-party SMPP peers in `tests/interop/`: the npm `smpp` SMSC as a
//!   child process, and the PyPI `smpplib` and npm `smpp` ESMEs run to completion with
//!   their JSON summary parsed;
//! - [`cluster`]: real NATS and etcd with Herald's roles started in-process.
//!
//! The peers are installed by `scripts/install-deps.sh`; a missing one is an error, never a
//! skipped test.

pub mod cluster;

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn interop(path: &str) -> PathBuf {
    repo_root().join("tests/interop").join(path)
}

/// The npm `smpp` package's server running `tests/interop/node/smsc.js`; killed on drop.
pub struct NodeSmsc {
    /// The port it listens on (loopback).
    pub port: u16,
    child: Child,
    events: Lines<BufReader<ChildStdout>>,
}

impl NodeSmsc {
    /// Starts it with `args` (e.g. `--receipts`) on a free port and waits until it listens.
    pub async fn start(system_id: &str, password: &str, args: &[&str]) -> Result<NodeSmsc> {
        let mut child = Command::new("node")
            .arg(interop("node/smsc.js"))
            .args([
                "--port",
                "0",
                "--system-id",
                system_id,
                "--password",
                password,
            ])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .context("starting node smsc.js (run scripts/install-deps.sh)")?;
        let stdout = child.stdout.take().context("smsc stdout")?;
        let mut events = BufReader::new(stdout).lines();
        let first = tokio::time::timeout(Duration::from_secs(20), events.next_line())
            .await
            .context("smsc.js did not start listening")??
            .context("smsc.js exited before listening")?;
        let listening: Value = serde_json::from_str(&first)?;
        let port = listening["port"]
            .as_u64()
            .context("no port in the listening event")? as u16;
        Ok(NodeSmsc {
            port,
            child,
            events,
        })
    }

    /// The next event line it printed, parsed.
    pub async fn next_event(&mut self, wait: Duration) -> Result<Value> {
        let line = tokio::time::timeout(wait, self.events.next_line())
            .await
            .context("no event from smsc.js in time")??
            .context("smsc.js exited")?;
        Ok(serde_json::from_str(&line)?)
    }

    /// Events until one named `name` arrives; returns it.
    pub async fn wait_for(&mut self, name: &str, wait: Duration) -> Result<Value> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let event = self.next_event(left).await?;
            if event["event"] == name {
                return Ok(event);
            }
        }
    }
}

impl Drop for NodeSmsc {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

/// Which third-party ESME to run.
#[derive(Clone, Copy, Debug)]
pub enum Esme {
    /// PyPI `smpplib`.
    Smpplib,
    /// npm `smpp`.
    NodeSmpp,
}

/// The outcome of a third-party ESME run: its exit code and its JSON summary.
#[derive(Debug)]
pub struct EsmeRun {
    /// Process exit code (0: everything as asked).
    pub code: i32,
    /// The summary it printed.
    pub summary: Value,
}

impl Esme {
    /// Runs the ESME against `127.0.0.1:port` with extra `args` until it exits.
    pub async fn run(self, port: u16, args: &[&str]) -> Result<EsmeRun> {
        let mut cmd = match self {
            Esme::Smpplib => {
                let mut c = Command::new("python3");
                c.arg(interop("esme_smpplib.py"));
                c
            }
            Esme::NodeSmpp => {
                let mut c = Command::new("node");
                c.arg(interop("node/esme.js"));
                c
            }
        };
        let port = port.to_string();
        let output = cmd
            .args(["--host", "127.0.0.1", "--port", &port])
            .args(args)
            .stdin(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .output()
            .await
            .with_context(|| format!("running {self:?} ESME (run scripts/install-deps.sh)"))?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        let Some(line) = stdout
            .lines()
            .rev()
            .find(|l| l.trim_start().starts_with('{'))
        else {
            bail!("{self:?} ESME printed no JSON summary; stdout: {stdout}");
        };
        Ok(EsmeRun {
            code: output.status.code().unwrap_or(-1),
            summary: serde_json::from_str(line)?,
        })
    }
}
