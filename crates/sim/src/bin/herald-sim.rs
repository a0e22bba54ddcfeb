//! `herald-sim`: the carrier simulator on its own, for checks that run Herald as real
//! processes or pods (scripts/check-pods.sh runs it as the carrier of the chart's pods).
//!
//! ```text
//! herald-sim [--listen 0.0.0.0:2776] [--system-id herald] [--password secret]
//!            [--max-binds 16] [--receipt-delay-ms 200]
//!            [--receipt-retries 10] [--receipt-retry-delay-ms 500]
//!            [--tls-cert FILE --tls-key FILE [--tls-client-ca FILE]]
//! ```
//!
//! With `--tls-cert` and `--tls-key` (PEM) it serves SMPP over TLS; `--tls-client-ca`
//! then makes it demand a client certificate issued by that CA, as carriers offering
//! SMPP over the internet often do.
//!
//! A receipt that finds no bound receiver is tried again `--receipt-retries` times,
//! `--receipt-retry-delay-ms` apart, then dropped: real carriers keep trying for hours, so
//! a check that kills the connector holding the bind gives it long enough for the bind to
//! move to another connector.
//!
//! Prints `listening <addr>` once, then one line per accepted submit on stdout:
//! `submit id=<message id> dest=<destination> text=<user data, lossy UTF-8>`, so a check
//! can see that each message reached the carrier. Runs until killed.

use std::io::Write as _;
use std::process::ExitCode;
use std::time::Duration;

use std::path::PathBuf;

use herald_sim::{SimConfig, SimSmsc};

fn usage(problem: &str) -> ExitCode {
    eprintln!("herald-sim: {problem}");
    eprintln!(
        "usage: herald-sim [--listen ADDR] [--system-id ID] [--password PW] [--max-binds N] [--receipt-delay-ms MS] [--receipt-retries N] [--receipt-retry-delay-ms MS] [--tls-cert FILE --tls-key FILE [--tls-client-ca FILE]]"
    );
    ExitCode::from(64)
}

fn main() -> ExitCode {
    let mut listen = "0.0.0.0:2776".to_owned();
    let mut config = SimConfig {
        system_id: "herald".into(),
        max_binds: 16,
        receipt_delay: Duration::from_millis(200),
        record_submits: true,
        ..SimConfig::default()
    };
    let (mut tls_cert, mut tls_key, mut tls_client_ca) = (None, None, None::<PathBuf>);
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let Some(value) = args.next() else {
            return usage(&format!("{flag} needs a value"));
        };
        match flag.as_str() {
            "--listen" => listen = value,
            "--system-id" => config.system_id = value,
            "--password" => config.password = value,
            "--max-binds" => match value.parse() {
                Ok(n) => config.max_binds = n,
                Err(_) => return usage("--max-binds: a number"),
            },
            "--receipt-delay-ms" => match value.parse() {
                Ok(ms) => config.receipt_delay = Duration::from_millis(ms),
                Err(_) => return usage("--receipt-delay-ms: a number"),
            },
            "--receipt-retries" => match value.parse() {
                Ok(n) => config.receipt_retries = n,
                Err(_) => return usage("--receipt-retries: a number"),
            },
            "--receipt-retry-delay-ms" => match value.parse() {
                Ok(ms) => config.receipt_retry_delay = Duration::from_millis(ms),
                Err(_) => return usage("--receipt-retry-delay-ms: a number"),
            },
            "--tls-cert" => tls_cert = Some(PathBuf::from(value)),
            "--tls-key" => tls_key = Some(PathBuf::from(value)),
            "--tls-client-ca" => tls_client_ca = Some(PathBuf::from(value)),
            _ => return usage(&format!("unknown flag {flag}")),
        }
    }
    match (tls_cert, tls_key) {
        (Some(cert), Some(key)) => {
            match herald_sim::tls::server_config(&cert, &key, tls_client_ca.as_deref()) {
                Ok(tls) => config.tls = Some(tls),
                Err(error) => {
                    eprintln!("herald-sim: {error}");
                    return ExitCode::FAILURE;
                }
            }
        }
        (None, None) if tls_client_ca.is_none() => {}
        _ => return usage("--tls-cert and --tls-key go together, and --tls-client-ca needs both"),
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("herald-sim: runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let listener = match tokio::net::TcpListener::bind(&listen).await {
            Ok(listener) => listener,
            Err(error) => {
                eprintln!("herald-sim: listen {listen}: {error}");
                return ExitCode::FAILURE;
            }
        };
        let sim = match SimSmsc::start(listener, config) {
            Ok(sim) => sim,
            Err(error) => {
                eprintln!("herald-sim: {error}");
                return ExitCode::FAILURE;
            }
        };
        println!("listening {}", sim.local_addr());
        let mut printed = 0;
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let records = sim.submitted();
            if records.len() > printed {
                let mut out = std::io::stdout().lock();
                for record in &records[printed..] {
                    let _ = writeln!(
                        out,
                        "submit id={} dest={} text={}",
                        record.message_id,
                        record.dest.addr.as_str().unwrap_or("?"),
                        String::from_utf8_lossy(&record.user_data)
                    );
                }
                let _ = out.flush();
                printed = records.len();
            }
        }
    })
}
