//! Rotate the security key of a Data Center-to-Cloud application tunnel: mint a new key in the
//! Cloud org, install it on the Data Center instance, and verify the tunnel works again.
//!
//! ```text
//! export ATLASSIAN_ADMIN_API_KEY=...    # an Admin API key of the org
//! export DC_PERSONAL_ACCESS_TOKEN=...   # a Data Center admin's personal access token
//! cargo run --example rotate_tunnel_key -- --org $ORG_ID --hostname $TUNNEL_UUID \
//!     --instance https://jira.internal.example.com --expect-org "Example Org" \
//!     --probe https://jira.internal.example.com/status
//! ```
//!
//! Minting a key invalidates the old one at once, so the new key is journaled (`--journal DIR`)
//! before it is installed: if anything fails afterwards, run the same command again (any day) and
//! it resumes the unfinished rotation of this tunnel with the journaled key instead of minting
//! another. When a regenerate went unanswered, the rerun refuses to mint again until you pass
//! `--remint-after-unknown` (the old key is invalid either way; minting again is how the tunnel
//! comes back). Exits 0 only when verified.

mod common;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use atlassian_rotation::instance::InstanceAuth;
use atlassian_rotation::rotate::{
    self, Audit, FileJournal, Probe, RotateOptions, TunnelKeyRotator,
};
use atlassian_rotation::secret::{AdminApiKey, PersonalAccessToken};
use atlassian_rotation::{AdminClient, InstanceClient};
use clap::Parser;
use common::{BoxError, NetArgs, required};

/// Rotate an application tunnel's key, with a resumable journal.
///
/// Environment: ATLASSIAN_ADMIN_API_KEY (the org's Admin API key), DC_PERSONAL_ACCESS_TOKEN
/// (a Data Center admin's personal access token).
#[derive(Parser, Debug)]
#[command(name = "rotate_tunnel_key")]
pub struct Args {
    /// The Cloud organization id.
    #[arg(long, value_name = "ID")]
    org: String,
    /// The tunnel's hostname (the UUID label of its application-link URL).
    #[arg(long, value_name = "UUID")]
    hostname: String,
    /// The Data Center instance's base URL.
    #[arg(long, value_name = "URL")]
    instance: String,
    /// Admin API base URL.
    #[arg(long, value_name = "URL", default_value = atlassian_rotation::admin::DEFAULT_BASE_URL)]
    admin_base: String,
    /// Journal directory: the new key is kept there (mode 0600) until the rotation completes.
    /// Default: `$XDG_STATE_HOME/atlassian-rotation` or `~/.local/state/atlassian-rotation`.
    #[arg(long, value_name = "DIR")]
    journal: Option<PathBuf>,
    /// The rotation's id in the journal. Default: the unfinished rotation of this tunnel in the
    /// journal, whenever it started, or a new id `tunnel-{hostname}-{UTC timestamp}`.
    #[arg(long, value_name = "ID")]
    rotation_id: Option<String>,
    /// Mint a new key although an earlier regenerate of this rotation went unanswered (its key,
    /// if any, was never journaled and is lost). The old key is already invalid then.
    #[arg(long)]
    remint_after_unknown: bool,
    /// A URL that answers 2xx only when the tunnel works; verify polls it.
    #[arg(long, value_name = "URL")]
    probe: Option<String>,
    /// How long verify polls the probe, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 120)]
    probe_timeout: u64,
    /// Verify fails unless the instance accepted the key for this Cloud organisation name.
    #[arg(long, value_name = "NAME")]
    expect_org: Option<String>,
    /// Print the rotation report as JSON instead of a summary.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    net: NetArgs,
}

/// The secrets, read from the environment, and the default journal place.
#[derive(Default)]
pub struct Env {
    /// `ATLASSIAN_ADMIN_API_KEY`.
    pub admin_key: Option<AdminApiKey>,
    /// `DC_PERSONAL_ACCESS_TOKEN`.
    pub dc_token: Option<PersonalAccessToken>,
    /// The journal directory when `--journal` is not given.
    pub default_journal: PathBuf,
}

impl Env {
    fn from_process() -> Self {
        Self {
            admin_key: common::secret_env("ATLASSIAN_ADMIN_API_KEY").map(AdminApiKey::new),
            dc_token: common::secret_env("DC_PERSONAL_ACCESS_TOKEN").map(PersonalAccessToken::new),
            default_journal: FileJournal::default_dir(),
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

/// Runs the rotation; the report goes to `out`, an error line to `err`. Returns the exit code.
pub async fn run(args: Args, env: Env, out: &mut impl Write, err: &mut impl Write) -> u8 {
    let result = rotate_key(&args, &env, out).await;
    common::finish("rotate_tunnel_key", result, err)
}

async fn rotate_key(args: &Args, env: &Env, out: &mut impl Write) -> Result<(), BoxError> {
    let admin = AdminClient::builder(required(&env.admin_key, "ATLASSIAN_ADMIN_API_KEY")?)
        .base_url(&args.admin_base)
        .options(args.net.options())
        .build()?;
    let pat = required(&env.dc_token, "DC_PERSONAL_ACCESS_TOKEN")?;
    let instance = InstanceClient::builder(InstanceAuth::PersonalAccessToken(pat))
        .base_url(&args.instance)
        .options(args.net.options())
        .build()?;
    let mut rotator = TunnelKeyRotator::new(admin, instance, &args.org, &args.hostname);
    if let Some(name) = &args.expect_org {
        rotator = rotator.expect_organisation(name);
    }
    if let Some(url) = &args.probe {
        rotator = rotator.probe(Probe::url(url)).probe_timing(
            Duration::from_secs(args.probe_timeout),
            Duration::from_secs(2),
        );
    }
    let journal_dir = args.journal.as_ref().unwrap_or(&env.default_journal);
    let journal = FileJournal::new(journal_dir)?;
    let rotation_id = match &args.rotation_id {
        Some(id) => id.clone(),
        None => {
            let host: String = args
                .hostname
                .chars()
                .filter(char::is_ascii_alphanumeric)
                .take(64)
                .collect();
            rotate::resume_or_new_id(&journal, &rotator, &format!("tunnel-{host}")).await?
        }
    };
    let options = RotateOptions::new(&rotation_id)
        .remint_after_unknown(args.remint_after_unknown)
        .audit(Audit::new().reason("rotate_tunnel_key"));
    let outcome = rotate::rotate(&rotator, &journal, options).await;
    common::print_outcome(args.json, outcome, journal_dir, out)
}
