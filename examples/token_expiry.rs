//! Which credentials of the org expire soon (user API tokens, Admin API keys, service-account
//! tokens), and which Automation rules would break with them.
//!
//! ```text
//! export ATLASSIAN_ADMIN_API_KEY=...   # an Admin API key of the org
//! export ATLASSIAN_API_TOKEN=...       # the caller's token, to read the rules
//! cargo run --example token_expiry -- --org $ORG_ID --days 30 \
//!     --site https://example.atlassian.net --cloud-id $CLOUD_ID --email admin@example.com \
//!     --resolve-identities --human
//! ```
//!
//! Lists the org's credentials that expired or expire within `--days`, soonest first (only the
//! kinds given with `--kind`, when any), each user or service-account token with the rules
//! whose web requests authenticate as its account, in every credential form: a
//! `Basic` value names its account; with `--resolve-identities`, every other distinct
//! credential (`Bearer`, an API-key header, a URL) is asked once who it is, as a Bearer token on
//! the API gateway (`/ex/jira/{cloudId}/rest/api/3/myself`; never with a guessed email). Uses
//! the radar could not attribute are listed as unresolved. Admin API keys authenticate no rule:
//! their uses are reported as not tracked. A kind the Admin API key may not list is reported as
//! not covered, and the others still are (a scoped key needs `read:keys:admin` and
//! `read:service-accounts-tokens:admin` for those two kinds). Prints the report as JSON, or as a table with
//! `--human`. The radar is [`atlassian_rotation::discover::ExpiryRadar`].

mod common;

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use atlassian_rotation::AdminClient;
use atlassian_rotation::discover::{CredentialKind, ExpiryRadar, ResolveIdentities};
use atlassian_rotation::secret::{AdminApiKey, ApiToken};
use clap::Parser;
use common::{AutomationArgs, BoxError, NetArgs, required};

/// List credentials expiring soon, with the automation rules that use their accounts.
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
    /// The window: credentials expired or expiring within this many days.
    #[arg(long, value_name = "N", default_value_t = 30)]
    days: u64,
    /// List only this kind (repeatable): user-api-token, admin-api-key or
    /// service-account-token. Default: all three.
    #[arg(long = "kind", value_name = "KIND")]
    kinds: Vec<CredentialKind>,
    /// Ask Jira's `/myself` who each credential without an email belongs to (as a Bearer token
    /// on the API gateway of `--cloud-id`, or of `--jira-gateway`).
    #[arg(long)]
    resolve_identities: bool,
    /// The Jira API gateway for `--resolve-identities` (default
    /// `https://api.atlassian.com/ex/jira/{cloud-id}`).
    #[arg(long, value_name = "URL")]
    jira_gateway: Option<String>,
    /// Print a table instead of JSON.
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
    let mut radar = ExpiryRadar::new(&admin, &args.org, &automation)
        .within(Duration::from_secs(args.days.saturating_mul(86_400)))
        .concurrency(args.automation.concurrency);
    if !args.kinds.is_empty() {
        radar = radar.kinds(args.kinds.iter().copied());
    }
    if args.resolve_identities {
        let gateway = match (&args.jira_gateway, &args.automation.cloud_id) {
            (Some(url), _) => ResolveIdentities::base_url(url),
            (None, Some(cloud_id)) => ResolveIdentities::cloud(cloud_id),
            (None, None) => {
                return Err(common::usage(
                    "--resolve-identities needs --cloud-id ID or --jira-gateway URL",
                ));
            }
        };
        radar = radar.resolve_identities(gateway.options(args.net.options()));
    }
    let report = radar.run().await?;
    if args.human {
        writeln!(out, "{report}")?;
    } else {
        common::json_pretty(out, &report)?;
    }
    let complete_listing = report.not_covered().next().is_none();
    match report.expiring.len() {
        0 if complete_listing => writeln!(
            err,
            "token_expiry: nothing expires within {} days",
            args.days
        )?,
        0 => writeln!(
            err,
            "token_expiry: nothing listed expires within {} days, but the listing is incomplete",
            args.days
        )?,
        n => writeln!(
            err,
            "token_expiry: {n} credentials expire within {} days; {} uses unresolved; {}",
            args.days,
            report.unresolved.len(),
            report.scan
        )?,
    }
    for missing in report.not_covered() {
        writeln!(err, "token_expiry: {missing}")?;
    }
    Ok(())
}
