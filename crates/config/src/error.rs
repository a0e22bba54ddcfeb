//! Configuration errors: what is wrong, at which key, and which source said so.

use std::fmt;
use std::path::PathBuf;

/// One problem with the configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The key path, dotted: `edge.tls.cert`, `nats.urls`.
    pub key: String,
    /// What is wrong with it.
    pub message: String,
    /// Where the offending value came from (`file /etc/herald.toml`, `environment variable
    /// HERALD_EDGE__MAX_WINDOW`, `--set edge.max_window`); `None` for a default.
    pub origin: Option<String>,
}

impl Problem {
    /// A problem at `key`, of no particular origin.
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        Problem {
            key: key.into(),
            message: message.into(),
            origin: None,
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.message)?;
        if let Some(origin) = &self.origin {
            write!(f, " (from {origin})")?;
        }
        Ok(())
    }
}

/// Every problem found, in the order found: validation reports them all at once.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConfigErrors {
    problems: Vec<Problem>,
}

impl ConfigErrors {
    /// The problems.
    pub fn problems(&self) -> &[Problem] {
        &self.problems
    }

    /// Whether no problem was found.
    pub fn is_empty(&self) -> bool {
        self.problems.is_empty()
    }

    /// How many problems were found.
    pub fn len(&self) -> usize {
        self.problems.len()
    }

    /// The problems at `key`.
    pub fn at<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a Problem> + 'a {
        self.problems.iter().filter(move |p| p.key == key)
    }

    pub(crate) fn push(&mut self, problem: Problem) {
        self.problems.push(problem);
    }

    pub(crate) fn add(&mut self, key: impl Into<String>, message: impl Into<String>) {
        self.push(Problem::new(key, message));
    }

    pub(crate) fn problems_mut(&mut self) -> &mut Vec<Problem> {
        &mut self.problems
    }

    pub(crate) fn into_result(self) -> Result<(), ConfigErrors> {
        if self.is_empty() { Ok(()) } else { Err(self) }
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "  {problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// Why the configuration could not be loaded. The binary prints it and exits with
/// [`ConfigError::EXIT_CODE`] before binding any port.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file named with `--config` could not be read.
    #[error("cannot read config file {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        source: std::io::Error,
    },

    /// The config file is not valid TOML.
    #[error("config file {} is not valid TOML: {message}", path.display())]
    Syntax {
        /// The file.
        path: PathBuf,
        /// The parser's message, with line and column.
        message: String,
    },

    /// Values that do not fit their keys: unknown keys, bad durations, bad addresses.
    #[error("invalid configuration values:\n{0}")]
    Parse(ConfigErrors),

    /// Values that parse but do not make sense together or with the system (missing
    /// files, empty lists, conflicting ports).
    #[error("invalid configuration:\n{0}")]
    Invalid(ConfigErrors),
}

impl ConfigError {
    /// The process exit code for a configuration error (`EX_USAGE`, 64).
    pub const EXIT_CODE: i32 = 64;

    /// The key-level problems, empty for a file that cannot be read or parsed.
    pub fn problems(&self) -> &[Problem] {
        match self {
            ConfigError::Parse(errors) | ConfigError::Invalid(errors) => errors.problems(),
            ConfigError::Read { .. } | ConfigError::Syntax { .. } => &[],
        }
    }
}
