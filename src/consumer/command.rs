//! `CommandConsumer`: a program that takes the credential on stdin.

use std::ffi::OsString;
use std::process::Stdio;
use std::time::Duration;

use async_trait::async_trait;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use zeroize::Zeroizing;

use super::{Consumer, CredentialView};
use crate::error::{Error, Result};

/// How much of a command's stderr an error shows (its end), after redaction.
const STDERR_SHOWN: usize = 1024;
/// How much of the end of a command's stderr is kept; the rest is read and discarded.
const OUTPUT_CAP: usize = 64 << 10;

/// A program that receives the credential on **stdin only**: never in its arguments (which
/// every user of the machine can read in `/proc`), never in its environment. Any vault or CI
/// tool that reads a secret from stdin becomes a consumer:
/// `vault kv put secret/jira token=-`, `gh secret set JIRA_TOKEN`,
/// `aws secretsmanager put-secret-value --secret-id jira --secret-string file:///dev/stdin`.
///
/// The command runs with the process's environment (less any variable whose value holds the
/// credential; with [`keep_env_only`](Self::keep_env_only), only the variables named there)
/// and working directory, stdin holding the credential and nothing else (no
/// trailing newline unless [`newline`](Self::newline)), within a timeout (default 60 s). At
/// the timeout, or when the rotation's future is dropped, it is killed with every process it
/// started (it runs in a process group of its own on Unix, so it cannot prompt on the
/// terminal either: a program that tries is stopped, and killed at the timeout; give it what
/// it needs beforehand, as a CI job would). Exit status 0 is success; anything else fails
/// with [`Error::Consumer`] showing the status and the end of stderr, with the credential
/// redacted from it. Without a [`verify_with`](Self::verify_with) command it cannot be
/// observed: [`holds`](Consumer::holds) answers `None`, and a resumed rotation runs it again
/// (the tools above are idempotent).
///
/// ```
/// use std::time::Duration;
/// use atlassian_rotation::consumer::{CommandConsumer, Consumer};
///
/// let vault = CommandConsumer::new("vault")
///     .args(["kv", "put", "secret/jira", "token=-"])
///     .verify_with("sh", ["-c", r#"[ "$(vault kv get -field=token secret/jira)" = "$(cat)" ]"#])
///     .timeout(Duration::from_secs(30));
/// assert_eq!(vault.name(), "command vault kv put secret/jira token=-");
/// ```
#[derive(Debug, Clone)]
pub struct CommandConsumer {
    program: OsString,
    args: Vec<OsString>,
    verify: Option<(OsString, Vec<OsString>)>,
    timeout: Duration,
    newline: bool,
    /// With [`keep_env_only`](CommandConsumer::keep_env_only): the only variables passed on.
    keep_env: Option<Vec<OsString>>,
}

impl CommandConsumer {
    /// Runs `program` (found on `PATH` like a shell would).
    pub fn new(program: impl Into<OsString>) -> Self {
        Self {
            program: program.into(),
            args: Vec::new(),
            verify: None,
            timeout: Duration::from_secs(60),
            newline: false,
            keep_env: None,
        }
    }

    /// The program's arguments (never the credential: it arrives on stdin).
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args = args.into_iter().map(Into::into).collect();
        self
    }

    /// A second command that reads the credential on stdin and exits 0 when the store holds it,
    /// 1 when it does not (any other status is an error): the consumer becomes observable.
    pub fn verify_with<I, S>(mut self, program: impl Into<OsString>, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.verify = Some((program.into(), args.into_iter().map(Into::into).collect()));
        self
    }

    /// How long one run may take before it is killed (default 60 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Ends stdin with a newline after the credential (for tools that read a line).
    pub fn newline(mut self, newline: bool) -> Self {
        self.newline = newline;
        self
    }

    /// Passes on only the named environment variables (those that are set), instead of the
    /// whole environment: the process running the rotation may hold other secrets in its
    /// environment (the old credential, an Admin API key, a database password) that the
    /// command has no business seeing. A named variable whose value holds the credential is
    /// still withheld. Name what the tool needs, typically `PATH`, `HOME` and its own settings.
    ///
    /// ```
    /// use atlassian_rotation::consumer::CommandConsumer;
    ///
    /// let vault = CommandConsumer::new("vault")
    ///     .args(["kv", "put", "secret/jira", "token=-"])
    ///     .keep_env_only(["PATH", "HOME", "VAULT_ADDR", "VAULT_TOKEN"]);
    /// # let _ = vault;
    /// ```
    pub fn keep_env_only<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.keep_env = Some(names.into_iter().map(Into::into).collect());
        self
    }

    /// Runs `program args` with the credential on stdin; returns its exit code.
    async fn run(
        &self,
        action: &'static str,
        program: &OsString,
        args: &[OsString],
        credential: CredentialView<'_>,
    ) -> Result<i32> {
        let mut command = tokio::process::Command::new(program);
        // The process running the rotation may hold the credential in its own environment (an
        // example reads it from `ROTATE_NEW_TOKEN`): such a variable is not passed on.
        if let Some(keep) = &self.keep_env {
            command.env_clear();
            for key in keep {
                if let Some(value) = std::env::var_os(key) {
                    if !contains(&value, credential.expose_secret()) {
                        command.env(key, value);
                    }
                }
            }
        } else {
            for (key, value) in std::env::vars_os() {
                if contains(&value, credential.expose_secret()) {
                    command.env_remove(key);
                }
            }
        }
        // A process group of its own, so that giving up on the command (its timeout, or this
        // future dropped) ends every process it started, not only the first.
        #[cfg(unix)]
        command.process_group(0);
        let mut child = command
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| Error::consumer(self.name(), action, format!("cannot start: {e}")))?;
        let mut group = Group(child.id());
        let mut input = Zeroizing::new(credential.expose_secret().as_bytes().to_vec());
        if self.newline {
            input.push(b'\n');
        }
        let mut stdin = child.stdin.take();
        let mut stderr = child.stderr.take();
        let exchange = async {
            if let Some(stdin) = stdin.as_mut() {
                // A program that exits without reading stdin closes the pipe: not an error in
                // itself, its exit status decides.
                let _ = stdin.write_all(&input).await;
                let _ = stdin.shutdown().await;
            }
            drop(stdin);
            let output = match stderr.as_mut() {
                Some(stderr) => read_tail(stderr, credential.expose_secret()).await,
                None => Vec::new(),
            };
            let status = child.wait().await;
            (status, output)
        };
        let (status, output) = match tokio::time::timeout(self.timeout, exchange).await {
            Ok(done) => {
                // Exited and reaped: its id (the group's) may be reused from now on.
                group.0 = None;
                done
            }
            Err(_) => {
                // `kill_on_drop` ends the child when the future above is dropped, `group` every
                // process it started.
                return Err(Error::consumer(
                    self.name(),
                    action,
                    format!("did not finish within {:?} and was killed", self.timeout),
                ));
            }
        };
        let status = status
            .map_err(|e| Error::consumer(self.name(), action, format!("cannot wait: {e}")))?;
        match status.code() {
            Some(code) if code == 0 || (action == "verify" && code == 1) => Ok(code),
            _ => Err(Error::consumer(
                self.name(),
                action,
                format!(
                    "{status}{}",
                    stderr_tail(&output, credential.expose_secret())
                ),
            )),
        }
    }
}

/// Reads `stderr` to its end (a command must never block on a full pipe) and keeps its last
/// [`OUTPUT_CAP`] bytes. When the start was dropped, the first `secret.len()` bytes kept go too:
/// they could be the end of a credential cut in two, which redaction would not recognise.
async fn read_tail(stderr: &mut (impl tokio::io::AsyncRead + Unpin), secret: &str) -> Vec<u8> {
    let mut kept = Vec::new();
    let mut dropped = false;
    let mut buffer = [0u8; 8192];
    loop {
        match stderr.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(n) => kept.extend_from_slice(&buffer[..n]),
        }
        if kept.len() > 2 * OUTPUT_CAP {
            kept.drain(..kept.len() - OUTPUT_CAP);
            dropped = true;
        }
    }
    if kept.len() > OUTPUT_CAP {
        kept.drain(..kept.len() - OUTPUT_CAP);
        dropped = true;
    }
    if dropped {
        kept.drain(..secret.len().min(kept.len()));
    }
    kept
}

/// Whether the environment value `value` holds `secret`.
fn contains(value: &std::ffi::OsStr, secret: &str) -> bool {
    #[cfg(unix)]
    let value = std::os::unix::ffi::OsStrExt::as_bytes(value);
    #[cfg(not(unix))]
    let value = value.to_string_lossy();
    #[cfg(not(unix))]
    let value = value.as_bytes();
    !secret.is_empty()
        && value
            .windows(secret.len())
            .any(|window| window == secret.as_bytes())
}

/// The process group of a command that has not been reaped yet (its id is the group's): killed
/// whole when dropped, so that nothing the command started outlives it.
struct Group(Option<u32>);

impl Drop for Group {
    fn drop(&mut self) {
        #[cfg(unix)]
        if let Some(pid) = self
            .0
            .and_then(|id| i32::try_from(id).ok())
            .and_then(rustix::process::Pid::from_raw)
        {
            // Gone already is fine.
            let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
        }
    }
}

/// `: <the end of stderr>` with `secret` redacted, or nothing when stderr was empty.
fn stderr_tail(output: &[u8], secret: &str) -> String {
    let text = String::from_utf8_lossy(output);
    let text = text.replace(secret, crate::secret::REDACTED);
    let text = text.trim();
    if text.is_empty() {
        return String::new();
    }
    let start = text
        .char_indices()
        .map(|(i, _)| i)
        .find(|&i| text.len() - i <= STDERR_SHOWN)
        .unwrap_or(text.len());
    format!(": {}", text[start..].replace(['\n', '\r'], " "))
}

#[async_trait]
impl Consumer for CommandConsumer {
    /// `command <program> <args...>` (the arguments never hold the credential).
    fn name(&self) -> String {
        let mut name = format!("command {}", self.program.to_string_lossy());
        for arg in &self.args {
            name.push(' ');
            name.push_str(&arg.to_string_lossy());
        }
        name
    }

    async fn install(&self, credential: CredentialView<'_>) -> Result<()> {
        self.run("install", &self.program, &self.args, credential)
            .await
            .map(drop)
    }

    async fn holds(&self, credential: CredentialView<'_>) -> Result<Option<bool>> {
        match &self.verify {
            Some((program, args)) => {
                let code = self.run("verify", program, args, credential).await?;
                Ok(Some(code == 0))
            }
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stderr_is_shown_redacted_and_trimmed_to_its_end() {
        let out = format!("{}error: bad token s3cr3t\n", "x".repeat(5000));
        let tail = stderr_tail(out.as_bytes(), "s3cr3t");
        assert!(!tail.contains("s3cr3t"));
        assert!(tail.ends_with("error: bad token [redacted]"));
        assert!(tail.len() <= STDERR_SHOWN + 2);
        assert_eq!(stderr_tail(b"  \n", "s"), "");
    }
}
