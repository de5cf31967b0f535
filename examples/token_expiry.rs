//! Which API tokens of the org expire soon, and which Automation rules would break with them.
//!
//! ```text
//! export ATLASSIAN_ADMIN_API_KEY=...   # an Admin API key of the org
//! export ATLASSIAN_API_TOKEN=...       # the caller's token, to read the rules
//! cargo run --example token_expiry -- --org $ORG_ID --days 30 \
//!     --site https://example.atlassian.net --cloud-id $CLOUD_ID --email admin@example.com --human
//! ```
//!
//! Lists the org's tokens that expired or expire within `--days`, each with the rules whose web
//! requests authenticate as the token's user (`Basic` credentials of that email): one JSON object
//! per token, or a table with `--human`. The rules are scanned once, in inventory mode.

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use atlassian_rotation::AdminClient;
use atlassian_rotation::admin::{OrgApiToken, OrgTokenQuery};
use atlassian_rotation::automation::Scanner;
use atlassian_rotation::secret::{AdminApiKey, ApiToken};
use clap::Parser;
use common::{AutomationArgs, BoxError, NetArgs, required};
use futures::TryStreamExt as _;
use serde::Serialize;

/// List API tokens expiring soon, with the automation rules that use their accounts.
///
/// Environment: ATLASSIAN_ADMIN_API_KEY (the org's Admin API key), ATLASSIAN_API_TOKEN (the
/// caller's token, to read the rules).
#[derive(Parser, Debug)]
#[command(name = "token_expiry")]
pub struct Args {
    /// The Cloud organization id.
    #[arg(long, value_name = "ID")]
    org: String,
    /// Admin API base URL.
    #[arg(long, value_name = "URL", default_value = atlassian_rotation::admin::DEFAULT_BASE_URL)]
    admin_base: String,
    /// The window: tokens expired or expiring within this many days.
    #[arg(long, value_name = "N", default_value_t = 30)]
    days: u64,
    /// Print a table instead of JSON lines.
    #[arg(long)]
    human: bool,
    #[command(flatten)]
    automation: AutomationArgs,
    #[command(flatten)]
    net: NetArgs,
}

/// The secrets, read from the environment.
#[derive(Default)]
pub struct Env {
    /// `ATLASSIAN_ADMIN_API_KEY`.
    pub admin_key: Option<AdminApiKey>,
    /// `ATLASSIAN_API_TOKEN`: the caller's token.
    pub api_token: Option<ApiToken>,
}

impl Env {
    fn from_process() -> Self {
        Self {
            admin_key: common::secret_env("ATLASSIAN_ADMIN_API_KEY").map(AdminApiKey::new),
            api_token: common::secret_env("ATLASSIAN_API_TOKEN").map(ApiToken::new),
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

/// One rule that authenticates as a token's user.
#[derive(Debug, Clone, Serialize)]
struct RuleUse {
    rule_uuid: Option<String>,
    rule_name: Option<String>,
    pointer: String,
}

/// One expiring token and the rules that use its account.
#[derive(Debug, Serialize)]
struct Expiring {
    token_id: String,
    label: Option<String>,
    status: Option<String>,
    user_email: Option<String>,
    user_name: Option<String>,
    expires_at: Option<String>,
    rules: Vec<RuleUse>,
}

/// Lists, prints on `out` (errors as one line on `err`); returns the exit code.
pub async fn run(args: Args, env: Env, out: &mut impl Write, err: &mut impl Write) -> u8 {
    let result = list(&args, &env, out, err).await;
    common::finish("token_expiry", result, err)
}

async fn list(
    args: &Args,
    env: &Env,
    out: &mut impl Write,
    err: &mut impl Write,
) -> Result<(), BoxError> {
    let admin = AdminClient::builder(required(&env.admin_key, "ATLASSIAN_ADMIN_API_KEY")?)
        .base_url(&args.admin_base)
        .options(args.net.options())
        .build()?;
    // Fail on bad automation flags before any request.
    let automation = args.automation.client(&args.net, &env.api_token)?;
    let window = Duration::from_secs(args.days.saturating_mul(86_400));
    let now = time::OffsetDateTime::now_utc();
    let mut tokens: Vec<OrgApiToken> = admin
        .org_api_tokens(&args.org, OrgTokenQuery::new())
        .try_filter(|t| std::future::ready(t.expires_within(window, now)))
        .try_collect()
        .await?;
    tokens.sort_by_key(|t| t.expires_at.as_ref().and_then(|at| at.parse()));

    let mut by_email: BTreeMap<String, Vec<RuleUse>> = BTreeMap::new();
    let mut rules_scanned = 0;
    if !tokens.is_empty() {
        let scan = common::scan_live(
            &automation,
            &Scanner::inventory(),
            args.automation.concurrency,
        )
        .await?;
        rules_scanned = scan.rules;
        for finding in scan.findings {
            if let Some(email) = &finding.account_email {
                by_email
                    .entry(email.to_lowercase())
                    .or_default()
                    .push(RuleUse {
                        rule_uuid: finding.rule_uuid.clone(),
                        rule_name: finding.rule_name.clone(),
                        pointer: finding.pointer.clone(),
                    });
            }
        }
    }
    let expiring: Vec<Expiring> = tokens
        .into_iter()
        .map(|t| {
            let (user_email, user_name) = t.user.map_or((None, None), |u| (u.email, u.name));
            let rules = user_email
                .as_ref()
                .and_then(|e| by_email.get(&e.to_lowercase()))
                .cloned()
                .unwrap_or_default();
            Expiring {
                token_id: t.id,
                label: t.label,
                status: t.status.map(|s| s.as_str().to_owned()),
                user_email,
                user_name,
                expires_at: t.expires_at.map(|at| at.as_str().to_owned()),
                rules,
            }
        })
        .collect();
    if args.human {
        print_table(&expiring, out)?;
    } else {
        for token in &expiring {
            common::json_line(out, token)?;
        }
    }
    writeln!(
        err,
        "token_expiry: {} tokens expire within {} days; {rules_scanned} rules scanned",
        expiring.len(),
        args.days
    )?;
    Ok(())
}

fn print_table(expiring: &[Expiring], out: &mut impl Write) -> Result<(), BoxError> {
    let dash = || "-".to_owned();
    writeln!(
        out,
        "{:<26} {:<36} {:<24} {:<32} RULES",
        "EXPIRES", "TOKEN", "LABEL", "USER"
    )?;
    for t in expiring {
        writeln!(
            out,
            "{:<26} {:<36} {:<24} {:<32} {}",
            t.expires_at.clone().unwrap_or_else(dash),
            t.token_id,
            t.label.clone().unwrap_or_else(dash),
            t.user_email.clone().unwrap_or_else(dash),
            t.rules.len()
        )?;
        for rule in &t.rules {
            writeln!(
                out,
                "    {} {:?} {}",
                rule.rule_uuid.as_deref().unwrap_or("-"),
                rule.rule_name.as_deref().unwrap_or(""),
                rule.pointer
            )?;
        }
    }
    Ok(())
}
