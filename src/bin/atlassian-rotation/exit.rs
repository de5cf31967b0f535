//! Exit codes and the tool's error: a message for the user and the code it exits with.

use std::fmt;

/// How a run ended, as its exit code (documented in `--help`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 1: failed.
    Failed = 1,
    /// 2: a usage error (flag, setting or secret missing or wrong).
    Usage = 2,
    /// 3: incomplete, but the journal holds it: `journal resume` goes on.
    Resumable = 3,
    /// 4: refused (a revocation not confirmed, the old token still in use).
    Refused = 4,
}

/// An error the tool reports as one line on stderr, then exits with `code`.
#[derive(Debug)]
pub struct CliError {
    pub code: Exit,
    pub message: String,
}

impl CliError {
    pub fn usage(message: impl Into<String>) -> Self {
        Self {
            code: Exit::Usage,
            message: message.into(),
        }
    }

    pub fn failed(message: impl Into<String>) -> Self {
        Self {
            code: Exit::Failed,
            message: message.into(),
        }
    }

    pub fn new(code: Exit, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// The library's errors: invalid input is the user's to fix (2), anything else failed (1).
impl From<atlassian_rotation::Error> for CliError {
    fn from(e: atlassian_rotation::Error) -> Self {
        let code = match e {
            atlassian_rotation::Error::InvalidInput { .. } => Exit::Usage,
            _ => Exit::Failed,
        };
        Self::new(code, e.to_string())
    }
}

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> Self {
        Self::failed(e.to_string())
    }
}

impl From<serde_json::Error> for CliError {
    fn from(e: serde_json::Error) -> Self {
        Self::failed(e.to_string())
    }
}

pub type CliResult<T = ()> = Result<T, CliError>;
