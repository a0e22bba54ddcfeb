//! Herald's configuration: one typed config for every role.
//!
//! Sources, each over the previous: built-in defaults, a TOML file, `HERALD_*`
//! environment variables, `--set key=value` flags. [`Config::load`] merges them,
//! deserialises strictly (an unknown key is an error) and validates the result, so a
//! bad config stops the process, with every problem named by key and source, before any
//! port is bound; the binary exits with [`ConfigError::EXIT_CODE`].
//!
//! Modules (private; everything is re-exported here):
//!
//! - `model`: [`Config`] and its sections, whose field docs are the reference
//!   (`docs/configuration.md` and `herald.example.toml` repeat them).
//! - `load`: [`Config::load`], sources and precedence, the [`EnvSource`] seam for tests.
//! - `validate`: [`Config::validate`].
//! - `error`: [`ConfigError`], [`ConfigErrors`], [`Problem`].
//!
//! ```no_run
//! use herald_config::{Config, ConfigError, LoadOptions, ProcessEnv};
//!
//! let options = LoadOptions {
//!     file: Some("/etc/herald/herald.toml".into()),
//!     env: ProcessEnv,
//!     overrides: vec![("edge.smpp_listen".into(), "0.0.0.0:2776".into())],
//! };
//! let config = match Config::load(options) {
//!     Ok(config) => config,
//!     Err(error) => {
//!         eprintln!("{error}");
//!         std::process::exit(ConfigError::EXIT_CODE);
//!     }
//! };
//! println!("edge listens on {}", config.edge.smpp_listen);
//! ```

#![forbid(unsafe_code)]

mod error;
mod load;
mod model;
mod validate;

pub use validate::MAX_NATS_PARTITIONS;

pub use error::{ConfigError, ConfigErrors, Problem};
pub use load::{ENV_PREFIX, ENV_SEPARATOR, EnvSource, LoadOptions, ProcessEnv};
pub use model::{
    AdminConfig, AdminRole, Config, ConnectorConfig, ControlConfig, ControlTlsConfig, EdgeConfig,
    EdgeTlsConfig, EdgeWebhooksConfig, EtcdConfig, EtcdTlsConfig, GrpcConfig, GrpcTlsConfig,
    LogFormat, NatsConfig, NatsTlsConfig, NodeConfig, RouterConfig, SecretRef, TelemetryConfig,
    UtcOffset, UtcOffsetError,
};
