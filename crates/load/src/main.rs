//! `herald-load`: the command line of the load generator (see the library's docs and
//! `docs/load.md`). Parses flags, runs the load with a one-line progress display on
//! stderr, prints the report (or JSON) on stdout. The first Ctrl-C stops sending; the
//! report follows after the grace period.

use std::io::{IsTerminal as _, Write as _};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Parser, ValueEnum};
use herald_load::{BindKind, Counters, DestPattern, LoadConfig, MessageMix, Rate, parse_duration};

/// The same allocator as the `herald` binary, so load figures compare like with like.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Load an SMPP server: N sessions with a window each, paced or flat out, with receipts
/// matched end to end.
#[derive(Debug, Parser)]
#[command(name = "herald-load", version)]
struct Args {
    /// The server's host.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// The server's SMPP port.
    #[arg(long, short, default_value_t = 2775)]
    port: u16,
    /// Another server (host:port) to spread the sessions over, round robin with
    /// --host/--port (a cluster's edges without a load balancer); repeat for more.
    #[arg(long, value_name = "HOST:PORT")]
    also: Vec<String>,
    /// system_id to bind with.
    #[arg(long, default_value = "demo")]
    system_id: String,
    /// The password (or HERALD_LOAD_PASSWORD).
    #[arg(
        long,
        env = "HERALD_LOAD_PASSWORD",
        default_value = "",
        hide_env_values = true
    )]
    password: String,
    /// system_type to bind with.
    #[arg(long, default_value = "")]
    system_type: String,
    /// How each session binds.
    #[arg(long, value_enum, default_value = "transceiver")]
    bind: BindArg,
    /// Number of sessions.
    #[arg(long, short = 'n', default_value_t = 4)]
    sessions: usize,
    /// Outstanding submits per session.
    #[arg(long, short, default_value_t = 100)]
    window: usize,
    /// Offered rate in messages per second across all sessions; absent: as fast as possible.
    #[arg(long, short)]
    rate: Option<f64>,
    /// Messages to send (default 10000 when no --duration is given).
    #[arg(long, short)]
    count: Option<u64>,
    /// Send for this long (10s, 2m, 500ms); with --count, whichever ends first.
    #[arg(long, short, value_parser = parse_duration)]
    duration: Option<Duration>,
    /// Do not ask for delivery receipts (registered_delivery 0).
    #[arg(long)]
    no_receipts: bool,
    /// Message mix in percent: gsm=…,ucs2=…,long=… (long: 3 concatenated segments).
    #[arg(long, default_value = "gsm=100", value_parser = |s: &str| s.parse::<MessageMix>())]
    mix: MessageMix,
    /// Sender address (alphanumeric unless all digits).
    #[arg(long, default_value = "Herald")]
    source: String,
    /// Destination pattern: each `#` takes a digit of the message number.
    #[arg(long, default_value = "447700######", value_parser = |s: &str| s.parse::<DestPattern>())]
    destination: DestPattern,
    /// After the last response, how long to wait for receipts before counting them lost.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    grace: Duration,
    /// How long a submit waits for its response.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    response_timeout: Duration,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    /// No progress line.
    #[arg(long, short)]
    quiet: bool,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum BindArg {
    Transceiver,
    Transmitter,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let config = LoadConfig {
        host: args.host,
        port: args.port,
        also: args.also,
        system_id: args.system_id,
        password: args.password,
        system_type: args.system_type,
        bind: match args.bind {
            BindArg::Transceiver => BindKind::Transceiver,
            BindArg::Transmitter => BindKind::Transmitter,
        },
        sessions: args.sessions,
        window: args.window,
        rate: args.rate.map_or(Rate::Unlimited, Rate::PerSecond),
        count: args.count.or(if args.duration.is_none() {
            Some(10_000)
        } else {
            None
        }),
        duration: args.duration,
        registered_delivery: !args.no_receipts,
        mix: args.mix,
        source: args.source,
        destination: args.destination,
        grace: args.grace,
        response_timeout: args.response_timeout,
    };
    if let Err(error) = config.validate() {
        eprintln!("herald-load: {error}");
        return ExitCode::from(64);
    }
    match run(config, args.json, args.quiet) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("herald-load: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(config: LoadConfig, json: bool, quiet: bool) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("tokio runtime")?;
    runtime.block_on(async move {
        let counters = Arc::new(Counters::default());
        let progress = (!quiet).then(|| tokio::spawn(show_progress(counters.clone())));
        let stopper = counters.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("\nstopping: waiting for outstanding responses and receipts");
                stopper.stop();
            }
        });
        let report = herald_load::run::run_with(config, counters).await;
        if let Some(progress) = progress {
            progress.abort();
            eprintln!();
        }
        let report = report?;
        if json {
            println!("{}", report.to_json());
        } else {
            println!("{report}");
        }
        Ok(())
    })
}

/// Rewrites one stderr line every second (a new line each time when stderr is not a
/// terminal).
async fn show_progress(counters: Arc<Counters>) {
    let started = tokio::time::Instant::now();
    let every = Duration::from_secs(1);
    let mut tick = tokio::time::interval(every);
    tick.tick().await;
    let mut previous = counters.snapshot();
    let terminal = std::io::stderr().is_terminal();
    loop {
        tick.tick().await;
        let now = counters.snapshot();
        let line = now.line(&previous, started.elapsed(), every);
        let mut err = std::io::stderr().lock();
        let _ = if terminal {
            write!(err, "\r{line}\x1b[K")
        } else {
            writeln!(err, "{line}")
        };
        let _ = err.flush();
        previous = now;
    }
}
