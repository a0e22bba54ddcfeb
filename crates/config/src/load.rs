//! Loading: defaults ← TOML file ← `HERALD_*` environment ← `--set` flags.
//!
//! Each source is turned into a tree of values and merged over the previous one (a later
//! source wins key by key; a list is replaced whole, not appended to), then the result is
//! deserialised into [`Config`] and validated. Every leaf remembers the source that set
//! it, so an error names both the key and where its value came from.
//!
//! Environment variables: `HERALD_<SECTION>__<FIELD>`, a double underscore between
//! levels (`HERALD_EDGE__SMPP_LISTEN`, `HERALD_EDGE__TLS__CERT`). Variables starting with
//! `HERALD_` but holding no `__` are not configuration and are ignored: Kubernetes
//! defines `HERALD_EDGE_PORT` and the like for a Service named `herald-edge`. A list is
//! written comma-separated (`HERALD_NATS__URLS=nats://a:4222,nats://b:4222`), and so is it
//! with `--set`.

use std::collections::BTreeMap;
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher as _;
use std::path::{Path, PathBuf};

use figment::Profile;
use figment::error::Kind;
use figment::providers::{Format as _, Serialized, Toml};
use figment::value::{Dict, Value};
use figment::{Figment, Provider as _};

use crate::{Config, ConfigError, ConfigErrors, Problem, SecretRef};

/// The prefix of Herald's environment variables.
pub const ENV_PREFIX: &str = "HERALD_";
/// The separator between levels in an environment variable name.
pub const ENV_SEPARATOR: &str = "__";

/// Where environment variables come from: the process ([`ProcessEnv`]) or, in tests, a map.
pub trait EnvSource {
    /// Every variable, name and value.
    fn vars(&self) -> Vec<(String, String)>;

    /// One variable.
    fn var(&self, name: &str) -> Option<String> {
        self.vars()
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
    }
}

/// The process's environment (`std::env`). Names or values that are not UTF-8 are read
/// lossily.
#[derive(Clone, Copy, Debug, Default)]
pub struct ProcessEnv;

impl EnvSource for ProcessEnv {
    fn vars(&self) -> Vec<(String, String)> {
        std::env::vars_os()
            .map(|(k, v)| {
                (
                    k.to_string_lossy().into_owned(),
                    v.to_string_lossy().into_owned(),
                )
            })
            .collect()
    }

    fn var(&self, name: &str) -> Option<String> {
        std::env::var_os(name).map(|v| v.to_string_lossy().into_owned())
    }
}

impl<S: std::hash::BuildHasher> EnvSource for std::collections::HashMap<String, String, S> {
    fn vars(&self) -> Vec<(String, String)> {
        self.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }

    fn var(&self, name: &str) -> Option<String> {
        self.get(name).cloned()
    }
}

impl EnvSource for BTreeMap<String, String> {
    fn vars(&self) -> Vec<(String, String)> {
        self.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }

    fn var(&self, name: &str) -> Option<String> {
        self.get(name).cloned()
    }
}

impl EnvSource for [(&str, &str)] {
    fn vars(&self) -> Vec<(String, String)> {
        self.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }
}

impl<const N: usize> EnvSource for [(&str, &str); N] {
    fn vars(&self) -> Vec<(String, String)> {
        self.as_slice().vars()
    }
}

impl<T: EnvSource + ?Sized> EnvSource for &T {
    fn vars(&self) -> Vec<(String, String)> {
        (**self).vars()
    }

    fn var(&self, name: &str) -> Option<String> {
        (**self).var(name)
    }
}

/// What [`Config::load`] reads.
#[derive(Clone, Debug, Default)]
pub struct LoadOptions<E = ProcessEnv> {
    /// The TOML file (`--config`); `None` reads no file. A named file must exist.
    pub file: Option<PathBuf>,
    /// The environment `HERALD_*` variables are read from (and `HOSTNAME`, for the default
    /// node id).
    pub env: E,
    /// `--set key=value` flags, in order: `("edge.smpp_listen", "0.0.0.0:2776")`.
    pub overrides: Vec<(String, String)>,
}

/// The leaves each source set, with a description of the source; later sources overwrite.
type Origins = BTreeMap<String, String>;

impl Config {
    /// Loads the configuration from defaults, the file, the environment and the `--set`
    /// overrides (each over the previous), fills in the node id if unset, and validates it.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Read`] or [`ConfigError::Syntax`] for an unreadable file;
    /// [`ConfigError::Parse`] for values that do not fit their keys (each problem names the
    /// key and the source); [`ConfigError::Invalid`] for every problem [`Config::validate`]
    /// finds.
    pub fn load<E: EnvSource>(options: LoadOptions<E>) -> Result<Config, ConfigError> {
        let defaults = to_dict(&Config::default());
        let mut origins = Origins::new();
        let mut problems = ConfigErrors::default();

        let mut figment = Figment::from(Serialized::defaults(defaults.clone()));
        if let Some(path) = &options.file {
            let file = read_file(path)?;
            record_leaves(&mut origins, "", &file, &format!("file {}", path.display()));
            figment = figment.merge(Serialized::defaults(file));
        }
        let env = env_dict(&options.env, &defaults, &mut origins, &mut problems);
        let set = overrides_dict(&options.overrides, &defaults, &mut origins, &mut problems);
        figment = figment
            .merge(Serialized::defaults(env))
            .merge(Serialized::defaults(set));

        let mut config = match extract(&figment) {
            Ok(config) if problems.is_empty() => config,
            Ok(_) => return Err(ConfigError::Parse(with_origins(problems, &origins))),
            Err(errors) => {
                problems
                    .problems_mut()
                    .extend(errors.problems().iter().cloned());
                return Err(ConfigError::Parse(with_origins(problems, &origins)));
            }
        };
        if config.node.id.is_none() {
            config.node.id = Some(default_node_id(&options.env));
        }
        let mut errors = config.validate().err().unwrap_or_default();
        // A secret in a variable must be there: found missing at connect time, it would
        // leave the node retrying instead of stopping with the key named.
        for (key, secret) in config.secrets() {
            if let SecretRef::Env(name) = secret
                && options.env.var(name).is_none()
            {
                errors.add(
                    format!("{key}.env"),
                    format!("environment variable {name} is not set"),
                );
            }
        }
        errors
            .into_result()
            .map_err(|errors| ConfigError::Invalid(with_origins(errors, &origins)))?;
        Ok(config)
    }
}

fn read_file(path: &Path) -> Result<Dict, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    let mut data = Toml::string(&text)
        .data()
        .map_err(|e| ConfigError::Syntax {
            path: path.to_owned(),
            message: e.kind.to_string(),
        })?;
    Ok(data.remove(&Profile::Default).unwrap_or_default())
}

/// Deserialises the merged tree. On failure, tries each section on its own too, so one
/// run reports a problem in every section that has one, not only the first.
fn extract(figment: &Figment) -> Result<Config, ConfigErrors> {
    let whole = match figment.extract::<Config>() {
        Ok(config) => return Ok(config),
        Err(error) => error,
    };
    let mut errors = ConfigErrors::default();
    let merged = figment.extract::<Dict>().unwrap_or_default();
    let sections = to_dict(&Config::default());
    for key in merged.keys() {
        if !sections.contains_key(key) {
            errors.push(Problem::new(
                key.clone(),
                format!(
                    "unknown section; expected one of {}",
                    sections.keys().cloned().collect::<Vec<_>>().join(", ")
                ),
            ));
        }
    }
    macro_rules! section {
        ($name:literal, $ty:ty) => {
            if let Err(error) = figment.extract_inner::<$ty>($name) {
                push_figment(&mut errors, figment, error, Some($name));
            }
        };
    }
    section!("node", crate::NodeConfig);
    section!("admin", crate::AdminConfig);
    section!("grpc", crate::GrpcConfig);
    section!("nats", crate::NatsConfig);
    section!("etcd", crate::EtcdConfig);
    section!("telemetry", crate::TelemetryConfig);
    section!("edge", crate::EdgeConfig);
    section!("router", crate::RouterConfig);
    section!("connector", crate::ConnectorConfig);
    section!("control", crate::ControlConfig);
    if errors.is_empty() {
        push_figment(&mut errors, figment, whole, None);
    }
    Err(errors)
}

/// Records figment's errors as problems. `section` is the key `extract_inner` was given:
/// figment appends it to the error's path rather than prepending it, so it is moved back
/// to the front here.
fn push_figment(
    errors: &mut ConfigErrors,
    figment: &Figment,
    error: figment::Error,
    section: Option<&str>,
) {
    for error in error {
        let mut path = error.path.clone();
        if let Some(section) = section {
            if path.last().map(String::as_str) == Some(section) {
                path.pop();
            }
            path.insert(0, section.to_owned());
        }
        let message = match &error.kind {
            Kind::UnknownField(field, expected) => {
                if path.last() != Some(field) {
                    path.push(field.clone());
                }
                format!("unknown key; expected one of {}", expected.join(", "))
            }
            Kind::UnknownVariant(found, expected) => {
                format!(
                    "unknown value {found:?}; expected one of {}",
                    expected.join(", ")
                )
            }
            // Custom messages (durations, addresses, offsets) may not quote the value.
            Kind::Message(message) => match figment.find_value(&path.join(".")) {
                Ok(Value::String(_, value)) if !message.contains(value.as_str()) => {
                    format!("{value:?}: {message}")
                }
                _ => message.clone(),
            },
            kind => kind.to_string(),
        };
        errors.push(Problem::new(path.join("."), message));
    }
}

/// Attaches to each problem the source of its key's value: the key itself, else the
/// nearest enclosing key a source set (a whole list), else the first key below it.
fn with_origins(mut errors: ConfigErrors, origins: &Origins) -> ConfigErrors {
    for problem in errors.problems_mut() {
        if problem.origin.is_some() {
            continue;
        }
        let key = problem.key.split('[').next().unwrap_or_default();
        let exact = origins.get(key);
        let ancestor = || {
            let mut k = key;
            while let Some((parent, _)) = k.rsplit_once('.') {
                if let Some(origin) = origins.get(parent) {
                    return Some(origin);
                }
                k = parent;
            }
            None
        };
        let below = || {
            let prefix = format!("{key}.");
            origins
                .range(prefix.clone()..)
                .next()
                .filter(|(k, _)| k.starts_with(&prefix))
                .map(|(_, v)| v)
        };
        problem.origin = exact.or_else(ancestor).or_else(below).cloned();
    }
    errors
}

fn to_dict(config: &Config) -> Dict {
    Value::serialize(config)
        .ok()
        .and_then(Value::into_dict)
        .unwrap_or_default()
}

fn record_leaves(origins: &mut Origins, prefix: &str, dict: &Dict, origin: &str) {
    for (key, value) in dict {
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        match value {
            Value::Dict(_, inner) => record_leaves(origins, &path, inner, origin),
            _ => {
                origins.insert(path, origin.to_owned());
            }
        }
    }
}

fn env_dict(
    env: &impl EnvSource,
    defaults: &Dict,
    origins: &mut Origins,
    problems: &mut ConfigErrors,
) -> Dict {
    let mut vars: Vec<_> = env
        .vars()
        .into_iter()
        .filter(|(name, _)| name.starts_with(ENV_PREFIX) && name.contains(ENV_SEPARATOR))
        .collect();
    vars.sort();
    let mut dict = Dict::new();
    for (name, raw) in vars {
        let path: Vec<String> = name[ENV_PREFIX.len()..]
            .split(ENV_SEPARATOR)
            .map(str::to_ascii_lowercase)
            .collect();
        let key = path.join(".");
        let origin = format!("environment variable {name}");
        if path.iter().any(String::is_empty) {
            problems.push(Problem {
                key,
                message: "malformed variable name: use HERALD_SECTION__FIELD".to_owned(),
                origin: Some(origin),
            });
            continue;
        }
        insert(&mut dict, &path, typed(find(defaults, &path), &raw));
        origins.insert(key, origin);
    }
    dict
}

fn overrides_dict(
    overrides: &[(String, String)],
    defaults: &Dict,
    origins: &mut Origins,
    problems: &mut ConfigErrors,
) -> Dict {
    let mut dict = Dict::new();
    for (key, raw) in overrides {
        let key = key.trim();
        let path: Vec<String> = key.split('.').map(str::to_owned).collect();
        let origin = format!("--set {key}");
        if path.iter().any(String::is_empty) {
            problems.push(Problem {
                key: key.to_owned(),
                message: "malformed key: use section.field".to_owned(),
                origin: Some(origin),
            });
            continue;
        }
        insert(&mut dict, &path, typed(find(defaults, &path), raw));
        origins.insert(key.to_owned(), origin);
    }
    dict
}

/// The default value at `path`, which tells how to read a raw string for it.
fn find<'a>(dict: &'a Dict, path: &[String]) -> Option<&'a Value> {
    let (first, rest) = path.split_first()?;
    let value = dict.get(first)?;
    if rest.is_empty() {
        return Some(value);
    }
    match value {
        Value::Dict(_, inner) => find(inner, rest),
        _ => None,
    }
}

/// Reads a raw environment or flag string as the type the key's default has: a list
/// splits on commas, a number or boolean is parsed (left a string if it is neither, for
/// the deserialiser to report), and everything else (strings, durations, addresses,
/// paths, optional keys) stays a string.
fn typed(default: Option<&Value>, raw: &str) -> Value {
    match default {
        Some(Value::Array(..)) => Value::from(
            raw.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(Value::from)
                .collect::<Vec<_>>(),
        ),
        Some(Value::Num(..) | Value::Bool(..)) => match raw.trim().parse::<Value>() {
            Ok(value) => value,
            Err(never) => match never {},
        },
        _ => Value::from(raw),
    }
}

fn insert(dict: &mut Dict, path: &[String], value: Value) {
    let Some((first, rest)) = path.split_first() else {
        return;
    };
    if rest.is_empty() {
        dict.insert(first.clone(), value);
        return;
    }
    let entry = dict
        .entry(first.clone())
        .or_insert_with(|| Value::from(Dict::new()));
    if !matches!(entry, Value::Dict(..)) {
        *entry = Value::from(Dict::new());
    }
    if let Value::Dict(_, inner) = entry {
        insert(inner, rest, value);
    }
}

/// The host name (the `HOSTNAME` variable, then the kernel's), made a valid node id;
/// else `herald-` and eight random hex digits.
fn default_node_id(env: &impl EnvSource) -> String {
    let hostname = env
        .var("HOSTNAME")
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty());
    match hostname {
        Some(host) => host
            .chars()
            .take(64)
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                    c
                } else {
                    '-'
                }
            })
            .collect(),
        None => format!(
            "herald-{:08x}",
            RandomState::new().hash_one(std::process::id()) as u32
        ),
    }
}
