//! Which Automation rules use an API token, or (without one) which rules carry any credential.
//!
//! ```text
//! # An exported rules file, looking for one token:
//! ATLASSIAN_FIND_TOKEN=... cargo run --example token_usage -- --export automation-rules.json
//!
//! # Live, one token (no owner email needed):
//! ATLASSIAN_API_TOKEN=... ATLASSIAN_FIND_TOKEN=... cargo run --example token_usage -- \
//!     --site https://example.atlassian.net --cloud-id $CLOUD_ID --email admin@example.com
//!
//! # Live, every credential of every rule (inventory): the same without ATLASSIAN_FIND_TOKEN.
//! ```
//!
//! Prints one JSON object per finding (`rule_uuid`, `rule_name`, `pointer`, `form`, `status`:
//! `match`, `cannot_tell` or `credential`, ...) as rules are read, and the scan's summary on
//! stderr (rules that could not be read included). Exits 0 when the scan completed, whatever it
//! found. Secrets come only from the environment and are never printed. The live scan is
//! [`atlassian_rotation::discover::UsageScan`].

mod common;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use atlassian_rotation::automation::Scanner;
use atlassian_rotation::discover::{ScanSummary, UsageScan};
use atlassian_rotation::secret::ApiToken;
use clap::Parser;
use common::{AutomationArgs, BoxError, NetArgs};
use futures::TryStreamExt as _;

/// Find where an Atlassian API token is used in Jira Automation rules.
///
/// Environment: ATLASSIAN_FIND_TOKEN (the token to look for; without it, every credential is
/// listed), ATLASSIAN_API_TOKEN (the caller's token, live mode only).
#[derive(Parser, Debug)]
#[command(name = "token_usage")]
pub struct Args {
    /// Scan an exported rules file (`{"cloud": .., "rules": [...]}`) instead of the live API.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["automation_base", "site"])]
    export: Option<PathBuf>,
    #[command(flatten)]
    automation: AutomationArgs,
    #[command(flatten)]
    net: NetArgs,
}

/// The secrets, read from the environment.
#[derive(Default)]
pub struct Env {
    /// `ATLASSIAN_API_TOKEN`: the caller's token (live mode).
    pub api_token: Option<ApiToken>,
    /// `ATLASSIAN_FIND_TOKEN`: the token to look for.
    pub find_token: Option<ApiToken>,
}

impl Env {
    fn from_process() -> Self {
        Self {
            api_token: common::secret_env("ATLASSIAN_API_TOKEN").map(ApiToken::new),
            find_token: common::secret_env("ATLASSIAN_FIND_TOKEN").map(ApiToken::new),
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    common::init_tracing();
    let args = Args::parse();
    let code = run(
        args,
        Env::from_process(),
        &mut std::io::stdout(),
        &mut std::io::stderr(),
    )
    .await;
    ExitCode::from(code)
}

/// Scans, prints the findings on `out` and a count or the error on `err`; returns the exit code.
pub async fn run(args: Args, env: Env, out: &mut impl Write, err: &mut impl Write) -> u8 {
    let result = scan(&args, &env, out, err).await;
    common::finish("token_usage", result, err)
}

async fn scan(
    args: &Args,
    env: &Env,
    out: &mut impl Write,
    err: &mut impl Write,
) -> Result<(), BoxError> {
    let scanner = match &env.find_token {
        Some(token) => Scanner::for_token(token),
        None => Scanner::inventory(),
    };
    let summary = match &args.export {
        Some(path) => {
            let bytes = std::fs::read(path)
                .map_err(|e| common::usage(format!("cannot read {}: {e}", path.display())))?;
            let export: serde_json::Value = serde_json::from_slice(&bytes)
                .map_err(|e| common::usage(format!("{} is not JSON: {e}", path.display())))?;
            let findings = scanner.scan_export(&export)?;
            for finding in &findings {
                common::json_line(out, finding)?;
            }
            ScanSummary::from_export(&export, &findings)
        }
        None => {
            let client = args.automation.client(&args.net, &env.api_token)?;
            let mut findings = UsageScan::new(&client, scanner)
                .concurrency(args.automation.concurrency)
                .stream();
            while let Some(finding) = findings.try_next().await? {
                common::json_line(out, &finding)?;
            }
            findings.summary().clone()
        }
    };
    writeln!(err, "token_usage: {summary}")?;
    Ok(())
}
