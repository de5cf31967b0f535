//! Rotate an organization's Admin API key: a person minted the new key in admin.atlassian.com
//! (no API mints one); this installs it everywhere the old key lives, then revokes the old key.
//!
//! ```text
//! export ATLASSIAN_ADMIN_API_KEY=...   # the key being replaced
//! export ATLASSIAN_NEW_ADMIN_KEY=...   # its successor (or leave unset: asked at a hidden prompt)
//! cargo run --example rotate_admin_key -- --org $ORG_ID \
//!     --old-key-label automation --new-key-label automation-2027 --min-validity-days 90 \
//!     --consumer dotenv:/srv/app/.env#ATLASSIAN_ADMIN_API_KEY \
//!     --consumer 'command:gh secret set ATLASSIAN_ADMIN_API_KEY' \
//!     --reason "yearly rotation"
//! ```
//!
//! Before anything changes, the new key is proven to work for the org, found in the key list,
//! and refused if it lacks a scope of the old key or expires within `--min-validity-days`.
//! Then every `--consumer` gets it (`file:PATH`, `dotenv:PATH#KEY`, `json:PATH#POINTER`,
//! `command:PROGRAM ARGS` with the key on stdin), each is verified, and only then is the old
//! key revoked and its revocation observed. The rotation is journaled (`--journal DIR`): run
//! the same command again after a failure and it resumes where it stopped. Exits 0 only when
//! the rotation completed. The rotator is [`atlassian_rotation::rotate::AdminKeyRotator`].

mod common;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use atlassian_rotation::AdminClient;
use atlassian_rotation::consumer::ConsumerSpec;
use atlassian_rotation::rotate::{
    self, AdminKeyRotator, Audit, FileJournal, KeyRef, RotateOptions,
};
use atlassian_rotation::secret::AdminApiKey;
use clap::Parser;
use common::{BoxError, NetArgs, required};

/// Rotate an organization's Admin API key, with a resumable journal.
///
/// Environment: ATLASSIAN_ADMIN_API_KEY (the key being replaced), ATLASSIAN_NEW_ADMIN_KEY (its
/// successor; when unset and stdin is a terminal, it is asked for at a hidden prompt).
#[derive(Parser, Debug)]
#[command(name = "rotate_admin_key")]
pub struct Args {
    /// The Cloud organization id.
    #[arg(long, value_name = "ID")]
    org: String,
    /// The old key's id in the org's key list.
    #[arg(long, value_name = "ID", required_unless_present = "old_key_label")]
    old_key_id: Option<String>,
    /// The old key's label in the org's key list (exactly one key must carry it).
    #[arg(long, value_name = "LABEL", conflicts_with = "old_key_id")]
    old_key_label: Option<String>,
    /// The new key's id in the key list (default: the one key that moves while it is used).
    #[arg(long, value_name = "ID")]
    new_key_id: Option<String>,
    /// The new key's label in the key list.
    #[arg(long, value_name = "LABEL", conflicts_with = "new_key_id")]
    new_key_label: Option<String>,
    /// Refuse a new key that expires within this many days.
    #[arg(long, value_name = "DAYS", default_value_t = 30)]
    min_validity_days: u64,
    /// A place the key lives, to update (repeatable): `file:PATH`, `dotenv:PATH#KEY`,
    /// `json:PATH#POINTER` or `command:PROGRAM ARGS` (the key on stdin).
    #[arg(long = "consumer", value_name = "SPEC")]
    consumers: Vec<ConsumerSpec>,
    /// Why the key is rotated: recorded in the report and the journal.
    #[arg(long, value_name = "TEXT", default_value = "rotate_admin_key")]
    reason: String,
    /// Who started the rotation, for the report.
    #[arg(long, value_name = "WHO")]
    initiated_by: Option<String>,
    /// Journal directory: the new key is kept there (mode 0600) until the rotation completes.
    /// Default: `$XDG_STATE_HOME/atlassian-rotation` or `~/.local/state/atlassian-rotation`.
    #[arg(long, value_name = "DIR")]
    journal: Option<PathBuf>,
    /// The rotation's id in the journal (default: the org's unfinished key rotation, or a new
    /// one).
    #[arg(long, value_name = "ID")]
    rotation_id: Option<String>,
    /// Print the rotation report as JSON instead of a summary.
    #[arg(long)]
    json: bool,
    /// Admin API base URL.
    #[arg(long, value_name = "URL", default_value = atlassian_rotation::admin::DEFAULT_BASE_URL)]
    admin_base: String,
    #[command(flatten)]
    net: NetArgs,
}

/// The secrets, and the default journal place.
#[derive(Default)]
pub struct Env {
    /// `ATLASSIAN_ADMIN_API_KEY`: the key being replaced.
    pub admin_key: Option<AdminApiKey>,
    /// `ATLASSIAN_NEW_ADMIN_KEY`, or typed at the prompt.
    pub new_key: Option<AdminApiKey>,
    /// The journal directory when `--journal` is not given.
    pub default_journal: PathBuf,
}

impl Env {
    /// The secrets, taken from the environment: the variables are removed, so that no
    /// `command:` consumer inherits the old key (alive until the rotation revokes it).
    ///
    /// # Safety
    ///
    /// No other thread may read or write the environment meanwhile (see
    /// [`common::take_secret_env`]).
    pub unsafe fn from_process() -> Result<Self, BoxError> {
        // SAFETY: as this function's caller guarantees.
        let (new_key, admin_key) = unsafe {
            (
                common::take_secret_env_or_prompt(
                    "ATLASSIAN_NEW_ADMIN_KEY",
                    "New Admin API key: ",
                )?,
                common::take_secret_env("ATLASSIAN_ADMIN_API_KEY"),
            )
        };
        Ok(Self {
            admin_key: admin_key.map(AdminApiKey::new),
            new_key: new_key.map(AdminApiKey::new),
            default_journal: FileJournal::default_dir(),
        })
    }
}

fn main() -> ExitCode {
    common::init_tracing();
    let args = Args::parse();
    let (mut out, mut err) = (std::io::stdout(), std::io::stderr());
    // SAFETY: no other thread runs yet: the async runtime starts below.
    let code = match unsafe { Env::from_process() } {
        Ok(env) => common::block_on("rotate_admin_key", run(args, env, &mut out, &mut err)),
        Err(e) => common::finish("rotate_admin_key", Err(e), &mut err),
    };
    ExitCode::from(code)
}

/// Runs the rotation; the report goes to `out`, an error line to `err`. Returns the exit code.
pub async fn run(args: Args, env: Env, out: &mut impl Write, err: &mut impl Write) -> u8 {
    let result = rotate_key(&args, &env, out).await;
    common::finish("rotate_admin_key", result, err)
}

/// The key `id` or `label` names, if either is given.
fn key_ref(id: &Option<String>, label: &Option<String>) -> Option<KeyRef> {
    match (id, label) {
        (Some(id), _) => Some(KeyRef::Id(id.clone())),
        (None, Some(label)) => Some(KeyRef::Label(label.clone())),
        (None, None) => None,
    }
}

async fn rotate_key(args: &Args, env: &Env, out: &mut impl Write) -> Result<(), BoxError> {
    let old = required(&env.admin_key, "ATLASSIAN_ADMIN_API_KEY")?;
    let new = required(&env.new_key, "ATLASSIAN_NEW_ADMIN_KEY")?;
    let admin = AdminClient::builder(old.clone())
        .base_url(&args.admin_base)
        .options(args.net.options())
        .build()?;
    let old_key = key_ref(&args.old_key_id, &args.old_key_label)
        .ok_or_else(|| common::usage("give --old-key-id or --old-key-label"))?;
    let days = Duration::from_secs(args.min_validity_days.saturating_mul(86_400));
    let mut rotator = AdminKeyRotator::new(admin, &args.org, old, old_key, new).min_validity(days);
    if let Some(new_key) = key_ref(&args.new_key_id, &args.new_key_label) {
        rotator = rotator.new_key(new_key);
    }
    for consumer in &args.consumers {
        rotator = rotator.consumer(consumer.clone());
    }
    let journal_dir = args.journal.as_ref().unwrap_or(&env.default_journal);
    let journal = FileJournal::new(journal_dir)?;
    let rotation_id = match &args.rotation_id {
        Some(id) => id.clone(),
        None => rotate::resume_or_new_id(&journal, &rotator, "admin-key").await?,
    };
    let mut audit = Audit::new().reason(&args.reason);
    if let Some(who) = &args.initiated_by {
        audit = audit.initiated_by(who);
    }
    let options = RotateOptions::new(&rotation_id).audit(audit);
    let outcome = rotate::rotate(&rotator, &journal, options).await;
    common::print_outcome(args.json, outcome, journal_dir, out)
}
