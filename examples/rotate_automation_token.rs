//! Rotate an API token used in Jira Automation rules' web requests: every rule that holds the
//! old token gets the new one, then the old token can be revoked.
//!
//! ```text
//! export ATLASSIAN_API_TOKEN=...   # the caller's token (an admin who can edit the rules)
//! export ROTATE_OLD_TOKEN=...      # the token being replaced
//! export ROTATE_NEW_TOKEN=...      # its successor, minted by its owner in the Atlassian UI
//! cargo run --example rotate_automation_token -- \
//!     --site https://example.atlassian.net --cloud-id $CLOUD_ID \
//!     --email admin@example.com --token-email svc-automation@example.com --dry-run
//! ```
//!
//! Without `--dry-run` the rotation is journaled (`--journal DIR`): run the same command again
//! after a failure and it resumes where it stopped. With `--account-id` and `--old-token-id` (or
//! `--old-token-label`) and `ATLASSIAN_ADMIN_API_KEY`, the old token is revoked once every rule
//! was verified. Exits 0 only when the rotation completed and verified.

mod common;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use atlassian_rotation::AdminClient;
use atlassian_rotation::consumer::ConsumerSpec;
use atlassian_rotation::rotate::{
    self, Audit, AutomationTokenRotator, FileJournal, OldToken, RotateOptions,
};
use atlassian_rotation::secret::{AdminApiKey, ApiCredentials, ApiToken};
use clap::Parser;
use common::{AutomationArgs, BoxError, NetArgs, required, usage};

/// Rotate an API token inside Jira Automation rules, with a resumable journal.
///
/// Environment: ATLASSIAN_API_TOKEN (the caller's token), ROTATE_OLD_TOKEN, ROTATE_NEW_TOKEN,
/// and ATLASSIAN_ADMIN_API_KEY when revoking the old token.
#[derive(Parser, Debug)]
#[command(name = "rotate_automation_token")]
pub struct Args {
    /// The email of the rotated token's account (default: the caller, `--email`).
    #[arg(long, value_name = "EMAIL")]
    token_email: Option<String>,
    /// Journal directory: the new token is kept there (mode 0600) until the rotation completes.
    /// Default: `$XDG_STATE_HOME/atlassian-rotation` or `~/.local/state/atlassian-rotation`.
    #[arg(long, value_name = "DIR")]
    journal: Option<PathBuf>,
    /// The rotation's id in the journal (default: derived from the two tokens' fingerprints, so
    /// a rerun of the same rotation resumes it).
    #[arg(long, value_name = "ID")]
    rotation_id: Option<String>,
    /// Print what would be rewritten, as JSON, and change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Print the rotation report as JSON instead of a summary.
    #[arg(long)]
    json: bool,
    /// Admin API base URL, for revocation.
    #[arg(long, value_name = "URL", default_value = atlassian_rotation::admin::DEFAULT_BASE_URL)]
    admin_base: String,
    /// The account id of the token's owner: revoke the old token once the rules are verified.
    #[arg(long, value_name = "ID")]
    account_id: Option<String>,
    /// The old token's id, to revoke it (with `--account-id`).
    #[arg(
        long,
        value_name = "ID",
        requires = "account_id",
        conflicts_with = "old_token_label"
    )]
    old_token_id: Option<String>,
    /// The old token's label (exactly one token must carry it), to revoke it.
    #[arg(long, value_name = "LABEL", requires = "account_id")]
    old_token_label: Option<String>,
    /// Revoke even though some rules hold values that cannot be read (masked secure headers,
    /// stored-secret references) and may still use the old token. Check them first:
    /// `token_usage` lists them as `cannot_tell`.
    #[arg(long, requires = "account_id")]
    accept_unreadable: bool,
    /// Another place the token lives, to update too (repeatable): `file:PATH`,
    /// `dotenv:PATH#KEY`, `json:PATH#POINTER` or `command:PROGRAM ARGS` (the token on stdin).
    #[arg(long = "consumer", value_name = "SPEC")]
    consumers: Vec<ConsumerSpec>,
    #[command(flatten)]
    automation: AutomationArgs,
    #[command(flatten)]
    net: NetArgs,
}

/// The secrets, read from the environment, and the default journal place.
#[derive(Default)]
pub struct Env {
    /// `ATLASSIAN_API_TOKEN`: the caller's token.
    pub api_token: Option<ApiToken>,
    /// `ROTATE_OLD_TOKEN`.
    pub old_token: Option<ApiToken>,
    /// `ROTATE_NEW_TOKEN`.
    pub new_token: Option<ApiToken>,
    /// `ATLASSIAN_ADMIN_API_KEY`, for revocation.
    pub admin_key: Option<AdminApiKey>,
    /// The journal directory when `--journal` is not given.
    pub default_journal: PathBuf,
}

impl Env {
    /// The secrets, taken from the environment: the variables are removed, so that no
    /// `command:` consumer inherits the caller's token, the old token or the Admin API key.
    ///
    /// # Safety
    ///
    /// No other thread may read or write the environment meanwhile (see
    /// [`common::take_secret_env`]).
    unsafe fn from_process() -> Self {
        // SAFETY: as this function's caller guarantees.
        let take = |name| unsafe { common::take_secret_env(name) };
        Self {
            api_token: take("ATLASSIAN_API_TOKEN").map(ApiToken::new),
            old_token: take("ROTATE_OLD_TOKEN").map(ApiToken::new),
            new_token: take("ROTATE_NEW_TOKEN").map(ApiToken::new),
            admin_key: take("ATLASSIAN_ADMIN_API_KEY").map(AdminApiKey::new),
            default_journal: FileJournal::default_dir(),
        }
    }
}

fn main() -> ExitCode {
    common::init_tracing();
    let args = Args::parse();
    // SAFETY: no other thread runs yet: the async runtime starts below.
    let env = unsafe { Env::from_process() };
    let (mut out, mut err) = (std::io::stdout(), std::io::stderr());
    let code = common::block_on(
        "rotate_automation_token",
        run(args, env, &mut out, &mut err),
    );
    ExitCode::from(code)
}

/// Runs the rotation (or the dry run); the report goes to `out`, an error line to `err`.
/// Returns the exit code.
pub async fn run(args: Args, env: Env, out: &mut impl Write, err: &mut impl Write) -> u8 {
    let result = rotate_token(&args, &env, out, err).await;
    common::finish("rotate_automation_token", result, err)
}

async fn rotate_token(
    args: &Args,
    env: &Env,
    out: &mut impl Write,
    err: &mut impl Write,
) -> Result<(), BoxError> {
    let site = args
        .automation
        .site
        .as_deref()
        .ok_or_else(|| usage("--site is required: the tokens' identity is checked there"))?;
    let caller = args.automation.caller(&env.api_token)?;
    let automation = args.automation.client(&args.net, &env.api_token)?;
    let owner = args.token_email.as_deref().unwrap_or(caller.email());
    let old = ApiCredentials::new(owner, required(&env.old_token, "ROTATE_OLD_TOKEN")?);
    let new = required(&env.new_token, "ROTATE_NEW_TOKEN")?;
    let mut rotator = AutomationTokenRotator::new(automation, site, old.clone(), new.clone())?
        .site_options(args.net.options())
        .concurrency(args.automation.concurrency);
    for consumer in &args.consumers {
        rotator = rotator.consumer(consumer.clone());
    }
    if let Some(account_id) = &args.account_id {
        let token = match (&args.old_token_id, &args.old_token_label) {
            (Some(id), _) => OldToken::Id(id.clone()),
            (None, Some(label)) => OldToken::Label(label.clone()),
            (None, None) => {
                return Err(usage(
                    "--account-id needs --old-token-id or --old-token-label",
                ));
            }
        };
        let admin = AdminClient::builder(required(&env.admin_key, "ATLASSIAN_ADMIN_API_KEY")?)
            .base_url(&args.admin_base)
            .options(args.net.options())
            .build()?;
        rotator = rotator
            .revoke_with(admin, account_id, token)
            .accept_unreadable(args.accept_unreadable);
    }

    if args.dry_run {
        let plan = rotator.plan(&new).await?;
        common::json_pretty(out, &plan)?;
        writeln!(
            err,
            "rotate_automation_token: dry run: {} of {} rules would be rewritten, {} hidden values \
             cannot be checked; nothing was written",
            plan.rules.len(),
            plan.scanned,
            plan.cannot_tell.len()
        )?;
        return Ok(());
    }

    let rotation_id = args.rotation_id.clone().unwrap_or_else(|| {
        format!(
            "automation-token-{}-{}",
            old.token().fingerprint(),
            new.fingerprint()
        )
    });
    let journal_dir = args.journal.as_ref().unwrap_or(&env.default_journal);
    let journal = FileJournal::new(journal_dir)?;
    let audit = Audit::new()
        .reason("rotate_automation_token")
        .initiated_by(caller.email());
    let options = RotateOptions::new(&rotation_id).audit(audit);
    let outcome = rotate::rotate(&rotator, &journal, options).await;
    common::print_outcome(args.json, outcome, journal_dir, out)
}
