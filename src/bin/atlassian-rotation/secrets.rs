//! Secrets: from the environment, from stdin (`--*-stdin`, one line each), or from a hidden
//! prompt when stdin is a terminal. Never from the command line.

use std::collections::VecDeque;
use std::fmt;
use std::io::{BufRead as _, IsTerminal as _};

use zeroize::Zeroizing;

use crate::exit::{CliError, CliResult};

/// A secret the tool may ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Secret {
    /// The caller's own API token.
    ApiToken,
    /// The API token being looked for or replaced.
    OldApiToken,
    /// The replacement API token.
    NewApiToken,
    /// The org's Admin API key.
    AdminKey,
    /// The replacement Admin API key.
    NewAdminKey,
    /// A Data Center personal access token.
    DcToken,
}

impl Secret {
    pub fn variable(self) -> &'static str {
        match self {
            Self::ApiToken => "ATLASSIAN_API_TOKEN",
            Self::OldApiToken => "ATLASSIAN_OLD_API_TOKEN",
            Self::NewApiToken => "ATLASSIAN_NEW_API_TOKEN",
            Self::AdminKey => "ATLASSIAN_ADMIN_KEY",
            Self::NewAdminKey => "ATLASSIAN_NEW_ADMIN_KEY",
            Self::DcToken => "ATLASSIAN_DC_TOKEN",
        }
    }

    pub fn flag(self) -> &'static str {
        match self {
            Self::ApiToken => "--api-token-stdin",
            Self::OldApiToken => "--old-token-stdin",
            Self::NewApiToken => "--new-token-stdin",
            Self::AdminKey => "--admin-key-stdin",
            Self::NewAdminKey => "--new-admin-key-stdin",
            Self::DcToken => "--dc-token-stdin",
        }
    }

    fn prompt(self) -> &'static str {
        match self {
            Self::ApiToken => "Your API token: ",
            Self::OldApiToken => "The old API token: ",
            Self::NewApiToken => "The new API token: ",
            Self::AdminKey => "The Admin API key: ",
            Self::NewAdminKey => "The new Admin API key: ",
            Self::DcToken => "The Data Center personal access token: ",
        }
    }

    /// The order stdin lines are read in, as `--help` lists the flags.
    const STDIN_ORDER: [Secret; 6] = [
        Self::ApiToken,
        Self::AdminKey,
        Self::OldApiToken,
        Self::NewApiToken,
        Self::NewAdminKey,
        Self::DcToken,
    ];
}

/// Where each secret comes from in this run. Holds the stdin lines until they are taken; its
/// Debug shows none of them.
pub struct Secrets {
    from_stdin: Vec<Secret>,
    lines: Option<VecDeque<(Secret, Zeroizing<String>)>>,
    interactive: bool,
    /// The secret variables taken out of the environment ([`take_environment`]); `None` until
    /// then, when [`get`](Self::get) reads the environment itself.
    ///
    /// [`take_environment`]: Self::take_environment
    taken: Option<Vec<(Secret, Zeroizing<String>)>>,
}

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Secrets")
            .field("from_stdin", &self.from_stdin)
            .field("interactive", &self.interactive)
            .finish_non_exhaustive()
    }
}

impl Secrets {
    /// `from_stdin`: the secrets whose `--*-stdin` flag was given.
    pub fn new(from_stdin: Vec<Secret>) -> Self {
        Self {
            from_stdin,
            lines: None,
            interactive: std::io::stdin().is_terminal(),
            taken: None,
        }
    }

    /// Takes every secret variable (`ATLASSIAN_ADMIN_KEY`, ...) out of the process environment,
    /// keeping the values for [`get`](Self::get): a program the tool runs (a `command:`
    /// consumer inherits the environment, less only the variables holding the credential it
    /// installs) never finds the old key, the caller's token or the Admin API key there.
    ///
    /// # Safety
    ///
    /// No other thread may read or write the environment meanwhile: `run` calls it before the
    /// async runtime starts.
    pub unsafe fn take_environment(&mut self) {
        let mut taken = Vec::new();
        for secret in Secret::STDIN_ORDER {
            let variable = secret.variable();
            if let Ok(value) = std::env::var(variable) {
                taken.push((secret, Zeroizing::new(value)));
            }
            // SAFETY: as this function's caller guarantees.
            unsafe { std::env::remove_var(variable) };
        }
        self.taken = Some(taken);
    }

    /// Whether a person can be asked (stdin is a terminal and no secret comes from it).
    pub fn interactive(&self) -> bool {
        self.interactive && self.from_stdin.is_empty()
    }

    /// The secret, or `None` when it is not given anywhere and no one can be asked.
    pub fn get(&mut self, secret: Secret) -> CliResult<Option<Zeroizing<String>>> {
        if self.from_stdin.contains(&secret) {
            return self.stdin_line(secret).map(Some);
        }
        let from_env = match &self.taken {
            Some(taken) => taken
                .iter()
                .find(|(s, _)| *s == secret)
                .map(|(_, value)| value.clone()),
            None => std::env::var(secret.variable()).ok().map(Zeroizing::new),
        };
        if let Some(value) = from_env {
            if !value.trim().is_empty() {
                return Ok(Some(Zeroizing::new(value.trim().to_owned())));
            }
        }
        if self.interactive() {
            let value = Zeroizing::new(rpassword::prompt_password(secret.prompt())?);
            if value.trim().is_empty() {
                return Err(CliError::usage(format!(
                    "no {} was entered",
                    describe(secret)
                )));
            }
            return Ok(Some(Zeroizing::new(value.trim().to_owned())));
        }
        Ok(None)
    }

    /// The secret, or a usage error that says how to give it.
    pub fn require(&mut self, secret: Secret) -> CliResult<Zeroizing<String>> {
        self.get(secret)?.ok_or_else(|| {
            CliError::usage(format!(
                "{} is needed: set {}, or pass {} and write it on stdin",
                describe(secret),
                secret.variable(),
                secret.flag()
            ))
        })
    }

    fn stdin_line(&mut self, secret: Secret) -> CliResult<Zeroizing<String>> {
        if self.lines.is_none() {
            let order: Vec<Secret> = Secret::STDIN_ORDER
                .into_iter()
                .filter(|s| self.from_stdin.contains(s))
                .collect();
            let mut lines = VecDeque::new();
            let stdin = std::io::stdin();
            let mut input = stdin.lock();
            for wanted in order {
                let mut line = Zeroizing::new(String::new());
                input.read_line(&mut line)?;
                let value = Zeroizing::new(line.trim().to_owned());
                if value.is_empty() {
                    return Err(CliError::usage(format!(
                        "{} found no line on stdin for {}",
                        wanted.flag(),
                        describe(wanted)
                    )));
                }
                lines.push_back((wanted, value));
            }
            self.lines = Some(lines);
        }
        let lines = self.lines.as_mut().expect("read above");
        let at = lines
            .iter()
            .position(|(s, _)| *s == secret)
            .ok_or_else(|| CliError::usage(format!("{} was read already", secret.flag())))?;
        Ok(lines.remove(at).expect("found above").1)
    }
}

fn describe(secret: Secret) -> &'static str {
    match secret {
        Secret::ApiToken => "your API token",
        Secret::OldApiToken => "the old API token",
        Secret::NewApiToken => "the new API token",
        Secret::AdminKey => "an Admin API key",
        Secret::NewAdminKey => "the new Admin API key",
        Secret::DcToken => "a Data Center personal access token",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_a_line_read_from_stdin() {
        let mut secrets = Secrets::new(vec![Secret::NewApiToken]);
        secrets.lines = Some(VecDeque::from([(
            Secret::NewApiToken,
            Zeroizing::new("ATATT-from-stdin".to_owned()),
        )]));
        assert!(!format!("{secrets:?}").contains("ATATT-from-stdin"));
        let value = secrets.require(Secret::NewApiToken).unwrap();
        assert_eq!(value.as_str(), "ATATT-from-stdin");
        let err = secrets.require(Secret::NewApiToken).unwrap_err();
        assert!(!err.to_string().contains("ATATT"), "{err}");
    }
}
