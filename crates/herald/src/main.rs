//! `herald`: one binary, whose subcommand is the role the process plays (`edge`, `router`, `connector`, `control`).
//!
//! The binary is thin: it parses flags, loads and validates the config (exiting with 64
//! before any port is bound when it is wrong), sets up telemetry, connects to NATS and
//! etcd, registers the node, serves the admin port, and hands over to the role's library.
//! SIGTERM or Ctrl-C drains: readiness goes false, sessions unbind, then the process exits.

/// Herald allocates per message (envelopes, headers, futures) on many threads; under the
/// cluster benchmark glibc's malloc and free were about a quarter of the roles' CPU
/// samples (perf), which mimalloc mostly removes.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[cfg(feature = "dev")]
mod dev;
#[cfg(feature = "dev")]
mod dev_webhooks;
mod node;
mod node_service;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use herald_config::{Config, ConfigError, LoadOptions, ProcessEnv};

/// Herald, a horizontally scaled SMPP message router.
#[derive(Debug, Parser)]
#[command(name = "herald", version, about)]
struct Cli {
    /// The TOML config file (`HERALD_CONFIG`); without one, defaults and `HERALD_*`
    /// variables apply.
    #[arg(long, short, global = true, env = "HERALD_CONFIG")]
    config: Option<PathBuf>,
    /// Overrides one key, after the file and the environment: `--set edge.max_window=50`.
    #[arg(long = "set", value_name = "KEY=VALUE", global = true, value_parser = parse_override)]
    overrides: Vec<(String, String)>,
    #[command(subcommand)]
    role: Role,
}

#[derive(Debug, Subcommand)]
enum Role {
    /// The SMPP server ESMEs bind to.
    Edge,
    /// Routes accepted messages to carriers' queues and MO to accounts, by the rules.
    Router,
    /// Holds Herald's SMPP binds to carriers and submits to them.
    Connector,
    /// Serves the admin API (`herald.admin.v1.AdminService`) that `heraldctl` talks to.
    Control,
    /// A local cluster in one command: NATS, etcd, a carrier simulator and every role,
    /// seeded with a demo account; Ctrl-C stops it all.
    #[cfg(feature = "dev")]
    Dev {
        /// Where NATS and etcd keep their data between runs.
        #[arg(long, default_value = ".herald/dev")]
        data_dir: PathBuf,
        /// The rules to seed (objects that already exist are kept). Default: the demo
        /// rules built into the binary (`deploy/dev/rules.yaml`), so `herald dev` runs
        /// from any directory.
        #[arg(long)]
        seed: Option<PathBuf>,
    },
    /// Loads and validates the config, prints it as TOML, and exits.
    CheckConfig,
}

fn parse_override(raw: &str) -> Result<(String, String), String> {
    raw.split_once('=')
        .map(|(k, v)| (k.trim().to_owned(), v.to_owned()))
        .filter(|(k, _)| !k.is_empty())
        .ok_or_else(|| format!("expected KEY=VALUE, got {raw:?}"))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::load(LoadOptions {
        file: cli.config.clone(),
        env: ProcessEnv,
        overrides: cli.overrides.clone(),
    }) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("herald: configuration error\n{error}");
            return ExitCode::from(exit_code(ConfigError::EXIT_CODE));
        }
    };
    match cli.role {
        #[cfg(feature = "dev")]
        Role::Dev { data_dir, seed } => {
            let runtime = match build_runtime(&config) {
                Ok(runtime) => runtime,
                Err(error) => {
                    eprintln!("herald: cannot start the runtime: {error}");
                    return ExitCode::FAILURE;
                }
            };
            match runtime.block_on(dev::run(config, dev::DevOptions { data_dir, seed })) {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => {
                    eprintln!("herald dev: {error:#}");
                    ExitCode::FAILURE
                }
            }
        }
        // Every role serves NodeService, so what would stop one stops the check.
        Role::CheckConfig if unguarded_node_service(&config).is_some() => {
            let problem = unguarded_node_service(&config).unwrap_or_default();
            eprintln!("herald: configuration error\n{problem}");
            ExitCode::from(exit_code(ConfigError::EXIT_CODE))
        }
        Role::CheckConfig => match toml::to_string_pretty(&config) {
            Ok(text) => {
                print!("{text}");
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("herald: cannot print the config: {error}");
                ExitCode::FAILURE
            }
        },
        Role::Edge => run(node::Role::Edge, config),
        Role::Router => run(node::Role::Router, config),
        Role::Connector => run(node::Role::Connector, config),
        Role::Control => run(node::Role::Control, config),
    }
}

/// The Tokio runtime, with `node.worker_threads` threads (0: one per core).
fn build_runtime(config: &Config) -> std::io::Result<tokio::runtime::Runtime> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if config.node.worker_threads > 0 {
        builder.worker_threads(usize::from(config.node.worker_threads));
    }
    builder.enable_all().build()
}

fn run(role: node::Role, config: Config) -> ExitCode {
    if let Some(problem) = unguarded_node_service(&config) {
        eprintln!("herald: configuration error\n{problem}");
        return ExitCode::from(exit_code(ConfigError::EXIT_CODE));
    }
    let runtime = match build_runtime(&config) {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("herald: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(node::run(role, config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            let role = role.name();
            tracing::error!(error = format!("{error:#}"), "herald {role} stopped");
            eprintln!("herald {role}: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Why this node may not serve NodeService as configured: anything that listens beyond
/// loopback authenticates its callers, and NodeService's credential is the node token.
/// (`herald dev` serves no NodeService.)
fn unguarded_node_service(config: &Config) -> Option<String> {
    let listen = config.grpc.listen;
    (config.grpc.token_file.is_none() && !listen.ip().is_loopback()).then(|| {
        format!(
            "  grpc.listen: {listen} is not a loopback address and grpc.token_file is unset: \
             NodeService (drain, sessions, binds) would answer anyone who reaches it. Set \
             grpc.token_file to the cluster's node token (docs/security.md), or listen on 127.0.0.1"
        )
    })
}

fn exit_code(code: i32) -> u8 {
    u8::try_from(code).unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_service_beyond_loopback_needs_the_node_token() {
        let mut config = Config::default();
        assert!(config.grpc.listen.ip().is_unspecified());
        assert!(unguarded_node_service(&config).is_some());
        config.grpc.listen = "127.0.0.1:9091".parse().unwrap_or(config.grpc.listen);
        assert_eq!(unguarded_node_service(&config), None);
        config.grpc.listen = "10.0.0.7:9091".parse().unwrap_or(config.grpc.listen);
        assert!(unguarded_node_service(&config).is_some());
        config.grpc.token_file = Some("/etc/herald/node-token/token".into());
        assert_eq!(unguarded_node_service(&config), None);
    }
}
