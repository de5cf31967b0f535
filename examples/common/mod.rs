//! What the command-line examples share: connection flags, the Automation API flags, reading
//! secrets from the environment, and printing an error as one line.
//!
//! Each example declares `mod common;`; not every example uses every item.
#![allow(dead_code)]

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use atlassian_rotation::automation::{AutomationClient, Product};
use atlassian_rotation::rotate::{RotationError, RotationReport};
use atlassian_rotation::secret::{ApiCredentials, ApiToken};
use atlassian_rotation::{ClientOptions, RetryPolicy};
use serde::Serialize;

/// The error type of the examples: the crate's errors, I/O errors and usage errors alike.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A usage error (a missing flag or environment variable), as a boxed error.
pub fn usage(message: impl Into<String>) -> BoxError {
    message.into().into()
}

/// Reads a secret from the environment; unset and empty are the same. Only `main` calls this:
/// tests build each example's `Env` themselves.
pub fn secret_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// Reads a secret from the environment variable `name`, as [`secret_env`] does, and removes the
/// variable from this process: a program the example runs (a `command:` consumer inherits the
/// environment, less only the variables holding the credential it installs) never finds it
/// there. Only `main` calls this, through the example's `Env::from_process`.
///
/// # Safety
///
/// No other thread may read or write the environment meanwhile: `main` calls it before it
/// starts the async runtime ([`block_on`]).
pub unsafe fn take_secret_env(name: &str) -> Option<String> {
    let value = secret_env(name);
    // SAFETY: the caller guarantees that no other thread uses the environment.
    unsafe { std::env::remove_var(name) };
    value
}

/// Runs `main`'s async part on a runtime started now, after the secrets were taken from the
/// environment ([`take_secret_env`]); the exit code of `run`, or 1 when no runtime starts.
pub fn block_on(program: &str, run: impl std::future::Future<Output = u8>) -> u8 {
    match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime.block_on(run),
        Err(e) => finish(program, Err(e.into()), &mut std::io::stderr()),
    }
}

/// Takes a secret from the environment variable `name` ([`take_secret_env`]); when it is unset
/// and stdin is a terminal, asks for it at a prompt on stderr, echo off while it is typed.
/// `None` when neither gives one (stdin is a pipe or a file: nothing is read from it). Only
/// `main` calls this.
///
/// # Safety
///
/// As [`take_secret_env`].
pub unsafe fn take_secret_env_or_prompt(
    name: &str,
    prompt: &str,
) -> Result<Option<String>, BoxError> {
    use std::io::IsTerminal as _;
    // SAFETY: as this function's caller guarantees.
    if let Some(value) = unsafe { take_secret_env(name) } {
        return Ok(Some(value));
    }
    if !std::io::stdin().is_terminal() {
        return Ok(None);
    }
    let typed = read_hidden(prompt)
        .map_err(|e| usage(format!("reading {name} at the prompt failed: {e}")))?;
    Ok(Some(typed.trim().to_owned()).filter(|v| !v.is_empty()))
}

/// One line typed at the terminal with echo off (rpassword, as the `atlassian-rotation` tool
/// reads its prompts), restored afterwards.
fn read_hidden(prompt: &str) -> std::io::Result<zeroize::Zeroizing<String>> {
    rpassword::prompt_password(prompt).map(zeroize::Zeroizing::new)
}

/// The value of a required secret, or a usage error naming the variable.
pub fn required<T: Clone>(value: &Option<T>, variable: &str) -> Result<T, BoxError> {
    value
        .clone()
        .ok_or_else(|| usage(format!("the environment variable {variable} is not set")))
}

/// Logs to stderr, filtered by `RUST_LOG` (off by default). The crate never logs a secret.
pub fn init_tracing() {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
}

/// Writes the outcome of a run: nothing on success, else the error as one line on `err`.
/// Returns the process exit code: 0 on success, 1 on any failure.
pub fn finish(program: &str, result: Result<(), BoxError>, err: &mut impl Write) -> u8 {
    match result {
        Ok(()) => 0,
        Err(e) => {
            let line = e.to_string().replace(['\n', '\r'], " ");
            let _ = writeln!(err, "{program}: error: {line}");
            1
        }
    }
}

/// Connection flags shared by every example.
#[derive(clap::Args, Debug, Clone)]
pub struct NetArgs {
    /// Accept plain `http` base URLs on hosts other than loopback (credentials then travel in
    /// clear; loopback http is always accepted).
    #[arg(long)]
    pub allow_plain_http: bool,
    /// Timeout of one request attempt, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    pub timeout: u64,
    /// Attempts per request, the first included (reads and idempotent writes only; a request
    /// that mints a credential is never repeated).
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub max_attempts: u32,
    /// First retry backoff, in milliseconds (doubles per attempt, with jitter, capped at 10 s).
    #[arg(long, value_name = "MS", default_value_t = 200)]
    pub backoff_ms: u64,
    /// No retry starts later than this many seconds after a request's first attempt, even when
    /// the server asks to wait (`Retry-After`) longer.
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    pub retry_deadline: u64,
}

impl NetArgs {
    /// Client options from the flags.
    pub fn options(&self) -> ClientOptions {
        let backoff = Duration::from_millis(self.backoff_ms);
        ClientOptions::new()
            .allow_plain_http(self.allow_plain_http)
            .timeout(Duration::from_secs(self.timeout))
            .retry_policy(
                RetryPolicy::default()
                    .max_attempts(self.max_attempts)
                    .backoff(backoff, Duration::from_secs(10).max(backoff))
                    .deadline(Duration::from_secs(self.retry_deadline)),
            )
    }
}

/// Where the Automation API is, and who calls it.
#[derive(clap::Args, Debug, Clone)]
pub struct AutomationArgs {
    /// The Automation API's full base URL, e.g.
    /// `https://api.atlassian.com/automation/public/jira/{cloudId}` (or a proxy, or a fake).
    #[arg(long, value_name = "URL")]
    pub automation_base: Option<String>,
    /// The Jira Cloud site (`https://example.atlassian.net`); with `--cloud-id`, the Automation
    /// API is reached through the site's gateway.
    #[arg(long, value_name = "URL")]
    pub site: Option<String>,
    /// The site's cloud id, to derive the Automation API base from `--site`.
    #[arg(long, value_name = "ID")]
    pub cloud_id: Option<String>,
    /// The calling account's email; its API token comes from `ATLASSIAN_API_TOKEN`.
    #[arg(long, value_name = "EMAIL")]
    pub email: Option<String>,
    /// Rule requests in flight at once.
    #[arg(long, value_name = "N", default_value_t = 8)]
    pub concurrency: usize,
}

impl AutomationArgs {
    /// The caller's credentials: `--email` and the token from `ATLASSIAN_API_TOKEN`.
    pub fn caller(&self, api_token: &Option<ApiToken>) -> Result<ApiCredentials, BoxError> {
        let email = self
            .email
            .as_deref()
            .ok_or_else(|| usage("--email is required to call the Automation API"))?;
        Ok(ApiCredentials::new(
            email,
            required(api_token, "ATLASSIAN_API_TOKEN")?,
        ))
    }

    /// An Automation API client for the caller, at `--automation-base`, else through the
    /// gateway of `--site` for `--cloud-id`.
    pub fn client(
        &self,
        net: &NetArgs,
        api_token: &Option<ApiToken>,
    ) -> Result<AutomationClient, BoxError> {
        let builder = AutomationClient::builder(self.caller(api_token)?).options(net.options());
        let builder = match (&self.automation_base, &self.site, &self.cloud_id) {
            (Some(url), _, _) => builder.base_url(url),
            (None, Some(site), Some(cloud_id)) => builder.site(site, Product::Jira, cloud_id),
            _ => {
                return Err(usage(
                    "give --automation-base URL, or --site URL with --cloud-id ID",
                ));
            }
        };
        Ok(builder.build()?)
    }
}

/// Writes `value` as one line of JSON.
pub fn json_line(out: &mut impl Write, value: &impl Serialize) -> Result<(), BoxError> {
    serde_json::to_writer(&mut *out, value)?;
    writeln!(out)?;
    Ok(())
}

/// Writes `value` as indented JSON.
pub fn json_pretty(out: &mut impl Write, value: &impl Serialize) -> Result<(), BoxError> {
    serde_json::to_writer_pretty(&mut *out, value)?;
    writeln!(out)?;
    Ok(())
}

/// Prints a rotation's outcome on `out` (its report, as [`print_report`] does) and makes it the
/// example's result: success only when the rotation completed; otherwise an error saying
/// where its journal is, from which the same command resumes it.
pub fn print_outcome<C>(
    json: bool,
    outcome: Result<RotationReport, RotationError<C>>,
    journal: &Path,
    out: &mut impl Write,
) -> Result<(), BoxError> {
    match outcome {
        Ok(report) => {
            print_report(json, &report, out)?;
            if report.succeeded() {
                Ok(())
            } else {
                Err(usage(format!(
                    "rotation `{}` did not complete",
                    report.rotation_id
                )))
            }
        }
        Err(e) => {
            print_report(json, &e.report, out)?;
            Err(usage(format!("{e}; journal {}", journal.display())))
        }
    }
}

/// Prints a rotation report: as JSON, or as the library's summary (it never holds a secret).
pub fn print_report(
    json: bool,
    report: &RotationReport,
    out: &mut impl Write,
) -> Result<(), BoxError> {
    if json {
        return json_pretty(out, report);
    }
    writeln!(out, "{report}")?;
    Ok(())
}
