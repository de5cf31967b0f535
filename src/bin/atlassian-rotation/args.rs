//! The command line: global settings, subcommands, and the help text with examples.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Rotate Atlassian credentials safely: find where an API token is used in Jira Automation
/// rules, see what expires, plan and run a rotation, and resume one that stopped.
///
/// Secrets never go on the command line: each comes from its environment variable, from
/// standard input with its `--*-stdin` flag, or from a hidden prompt when standard input is a
/// terminal. Several `--*-stdin` flags read one line each, in this order: your API token, the
/// Admin API key, the old token, the new token, the new Admin API key, the Data Center token.
/// Non-secret settings can live in the profile file
/// ($XDG_CONFIG_HOME/atlassian-rotation/config.toml: site, cloud_id, org, email, journal,
/// concurrency).
#[derive(Parser, Debug)]
#[command(name = "atlassian-rotation", version, after_help = MAIN_HELP)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

const MAIN_HELP: &str = concat!(
    "Examples:\n",
    "  export ATLASSIAN_API_TOKEN=...        # your own token (an admin who can edit the rules)\n",
    "  export ATLASSIAN_OLD_API_TOKEN=...    # the token to replace\n",
    "  atlassian-rotation who-uses\n",
    "  ATLASSIAN_NEW_API_TOKEN=... atlassian-rotation plan --token-email svc@example.com\n",
    "  atlassian-rotation rotate token --token-email svc@example.com --revoke \\\n",
    "      --old-token-label automation\n",
    "\n",
    "Exit codes:\n",
    "  0  done\n",
    "  1  failed\n",
    "  2  usage error (a flag, a setting or a secret is missing or wrong)\n",
    "  3  incomplete but resumable: `atlassian-rotation journal resume ID` goes on\n",
    "  4  refused: a revocation (or a tunnel key's regeneration) was not confirmed, or something\n",
    "     still uses the old token\n",
);

/// Settings every subcommand shares; each overrides the profile's value.
#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Global options")]
pub struct Global {
    /// The profile file (default: $XDG_CONFIG_HOME/atlassian-rotation/config.toml, else
    /// ~/.config/atlassian-rotation/config.toml; a missing default profile is fine).
    #[arg(
        long,
        global = true,
        value_name = "FILE",
        env = "ATLASSIAN_ROTATION_PROFILE"
    )]
    pub profile: Option<PathBuf>,
    /// The Jira Cloud site, e.g. https://example.atlassian.net.
    #[arg(long, global = true, value_name = "URL")]
    pub site: Option<String>,
    /// The site's cloud id (the Automation API is reached through api.atlassian.com with it).
    #[arg(long, global = true, value_name = "ID")]
    pub cloud_id: Option<String>,
    /// The Cloud organization id (Admin API).
    #[arg(long, global = true, value_name = "ID")]
    pub org: Option<String>,
    /// Your email: the account whose token is in ATLASSIAN_API_TOKEN.
    #[arg(long, global = true, value_name = "EMAIL")]
    pub email: Option<String>,
    /// The journal directory (default: $XDG_STATE_HOME/atlassian-rotation).
    #[arg(long, global = true, value_name = "DIR")]
    pub journal: Option<PathBuf>,
    /// Rule requests in flight at once.
    #[arg(long, global = true, value_name = "N")]
    pub concurrency: Option<usize>,
    /// Write JSON (one object per line for lists) instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
    /// No progress and no summaries on stderr; errors are still written.
    #[arg(long, short, global = true)]
    pub quiet: bool,
    /// Read your own API token from stdin instead of ATLASSIAN_API_TOKEN.
    #[arg(long, global = true)]
    pub api_token_stdin: bool,
    /// Read the Admin API key from stdin instead of ATLASSIAN_ADMIN_KEY.
    #[arg(long, global = true)]
    pub admin_key_stdin: bool,
    /// The Automation API's base URL (default: derived from the site's cloud id).
    #[arg(
        long,
        global = true,
        hide = true,
        value_name = "URL",
        env = "ATLASSIAN_ROTATION_AUTOMATION_BASE"
    )]
    pub automation_base: Option<String>,
    /// The Admin API's base URL.
    #[arg(
        long,
        global = true,
        hide = true,
        value_name = "URL",
        env = "ATLASSIAN_ROTATION_ADMIN_BASE"
    )]
    pub admin_base: Option<String>,
    /// The Jira API gateway that identity resolution asks (`/myself`).
    #[arg(
        long,
        global = true,
        hide = true,
        value_name = "URL",
        env = "ATLASSIAN_ROTATION_IDENTITY_BASE"
    )]
    pub identity_base: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Which Automation rules use an API token (ATLASSIAN_OLD_API_TOKEN), live or in an
    /// exported rules file; with --all, every credential of every rule.
    #[command(after_help = WHO_USES_HELP)]
    WhoUses(WhoUses),
    /// Which credentials of the org expire soon (user API tokens, Admin API keys,
    /// service-account tokens), and which rules would break with them.
    #[command(after_help = EXPIRING_HELP)]
    Expiring(Expiring),
    /// A dry run of a token rotation: which rules would change. Writes nothing.
    #[command(after_help = PLAN_HELP)]
    Plan(Plan),
    /// Rotate a credential, journaled: run `journal resume` to go on after a failure.
    #[command(subcommand, after_help = ROTATE_HELP)]
    Rotate(Rotate),
    /// Rotations in the journal: list, show, resume, abandon.
    #[command(subcommand, after_help = JOURNAL_HELP)]
    Journal(JournalCmd),
    /// Print a shell completion script.
    #[command(after_help = COMPLETIONS_HELP)]
    Completions(Completions),
}

const ROTATE_HELP: &str = concat!(
    "Examples:\n",
    "  atlassian-rotation rotate token --token-email svc@example.com --revoke \\\n",
    "      --old-token-label automation\n",
    "  atlassian-rotation rotate tunnel --hostname $TUNNEL_UUID --instance https://jira.example.com\n",
    "  atlassian-rotation rotate admin-key --old-key-label ops-2026 --new-key-label ops-2027\n",
);

const JOURNAL_HELP: &str = concat!(
    "Examples:\n",
    "  atlassian-rotation journal list\n",
    "  atlassian-rotation journal show automation-token-1\n",
    "  atlassian-rotation journal resume automation-token-1\n",
);

const WHO_USES_HELP: &str = concat!(
    "Examples:\n",
    "  ATLASSIAN_OLD_API_TOKEN=... atlassian-rotation who-uses --export automation-rules.json\n",
    "  ATLASSIAN_API_TOKEN=... ATLASSIAN_OLD_API_TOKEN=... atlassian-rotation who-uses \\\n",
    "      --site https://example.atlassian.net --cloud-id $CLOUD_ID --email admin@example.com\n",
    "  atlassian-rotation who-uses --all --json > inventory.jsonl\n",
    "\n",
    "Exits 0 when the scan read every rule, 1 when some rule could not be read.\n",
);

const EXPIRING_HELP: &str = concat!(
    "Examples:\n",
    "  ATLASSIAN_ADMIN_KEY=... ATLASSIAN_API_TOKEN=... atlassian-rotation expiring --within 30\n",
    "  atlassian-rotation expiring --within 7 --resolve-identities --json\n",
    "  atlassian-rotation expiring --kind admin-api-key --kind service-account-token\n",
    "\n",
    "Exits 0 when every kind asked for was listed and, where rules matter, every rule was read\n",
    "and every owner is known; 1 otherwise (the report is still printed, with what was not\n",
    "covered on stderr; a RULES count marked `?` belongs to an owner not fully listed).\n",
);

const PLAN_HELP: &str = concat!(
    "Examples:\n",
    "  ATLASSIAN_OLD_API_TOKEN=... ATLASSIAN_NEW_API_TOKEN=... \\\n",
    "      atlassian-rotation plan --token-email svc@example.com\n",
    "  printf '%s\\n%s\\n' \"$OLD\" \"$NEW\" | \\\n",
    "      atlassian-rotation plan --old-token-stdin --new-token-stdin --json\n",
);

const COMPLETIONS_HELP: &str = concat!(
    "Examples:\n",
    "  atlassian-rotation completions bash > ~/.local/share/bash-completion/completions/atlassian-rotation\n",
    "  atlassian-rotation completions zsh > \"${fpath[1]}/_atlassian-rotation\"\n",
);

/// The token a command looks for or replaces, and where its owner is.
#[derive(Args, Debug, Clone)]
pub struct OldTokenArgs {
    /// Read the old token from stdin instead of ATLASSIAN_OLD_API_TOKEN.
    #[arg(long)]
    pub old_token_stdin: bool,
}

#[derive(Args, Debug)]
pub struct WhoUses {
    /// Scan an exported rules file (`{"rules": [...]}`) instead of the live API.
    #[arg(long, value_name = "FILE")]
    pub export: Option<PathBuf>,
    /// List every credential of every rule (an inventory) instead of one token's uses.
    #[arg(long)]
    pub all: bool,
    #[command(flatten)]
    pub old: OldTokenArgs,
}

#[derive(Args, Debug)]
pub struct Expiring {
    /// Credentials expired or expiring within this many days.
    #[arg(long, value_name = "DAYS", default_value_t = 30)]
    pub within: u64,
    /// List only this kind (repeatable; default: all three): user-api-token, admin-api-key or
    /// service-account-token.
    #[arg(long = "kind", value_name = "KIND")]
    pub kinds: Vec<atlassian_rotation::discover::CredentialKind>,
    /// Ask Jira's `/myself` who each credential without an email belongs to.
    #[arg(long)]
    pub resolve_identities: bool,
}

/// What a token rotation needs besides the global settings.
#[derive(Args, Debug, Clone)]
pub struct TokenArgs {
    /// The email of the rotated token's account (default: --email).
    #[arg(long, value_name = "EMAIL")]
    pub token_email: Option<String>,
    #[command(flatten)]
    pub old: OldTokenArgs,
    /// Read the new token from stdin instead of ATLASSIAN_NEW_API_TOKEN.
    #[arg(long)]
    pub new_token_stdin: bool,
    /// Another place the token lives, updated too (repeatable): file:PATH, dotenv:PATH#KEY,
    /// json:PATH#POINTER or command:PROGRAM ARGS (the token on the program's stdin).
    #[arg(long = "consumer", value_name = "SPEC", value_parser = crate::settings::parse_consumer)]
    pub consumers: Vec<String>,
    /// Revoke the old token once every rule and consumer verified (asks first on a terminal;
    /// needs --yes otherwise). Needs ATLASSIAN_ADMIN_KEY.
    #[arg(long)]
    pub revoke: bool,
    /// The old token's account id (for --revoke; default: asked of the site with the old
    /// token).
    #[arg(long, value_name = "ID")]
    pub account_id: Option<String>,
    /// The old token's id, as the user-management API lists it (for --revoke).
    #[arg(long, value_name = "ID", conflicts_with = "old_token_label")]
    pub old_token_id: Option<String>,
    /// The old token's label; exactly one token of the account must carry it (for --revoke).
    #[arg(long, value_name = "LABEL")]
    pub old_token_label: Option<String>,
    /// Revoke although some rules hold values that cannot be read (masked headers) and may
    /// still use the old token: check them first (`who-uses` lists them as cannot_tell).
    #[arg(long)]
    pub accept_unreadable: bool,
}

#[derive(Args, Debug)]
pub struct Plan {
    #[command(flatten)]
    pub token: TokenArgs,
}

#[derive(Subcommand, Debug)]
pub enum Rotate {
    /// Rotate an API token used in Automation rules (and in --consumer places).
    #[command(after_help = ROTATE_TOKEN_HELP)]
    Token(RotateToken),
    /// Rotate a Data Center-to-Cloud application tunnel's key.
    #[command(after_help = ROTATE_TUNNEL_HELP)]
    Tunnel(RotateTunnel),
    /// Rotate the org's Admin API key (the new one minted in admin.atlassian.com).
    #[command(after_help = ROTATE_ADMIN_KEY_HELP)]
    AdminKey(RotateAdminKey),
}

const ROTATE_TOKEN_HELP: &str = concat!(
    "Examples:\n",
    "  export ATLASSIAN_API_TOKEN=... ATLASSIAN_OLD_API_TOKEN=... ATLASSIAN_NEW_API_TOKEN=...\n",
    "  export ATLASSIAN_ADMIN_KEY=...\n",
    "  atlassian-rotation rotate token --token-email svc@example.com --revoke \\\n",
    "      --old-token-label automation\n",
    "  atlassian-rotation rotate token --consumer dotenv:/srv/app/.env#JIRA_TOKEN \\\n",
    "      --revoke --yes --old-token-id ID --watch-org $ORG --grace 30m\n",
    "\n",
    "Exit codes: 0 rotated (and revoked), 1 failed before anything changed, 3 stopped part-way\n",
    "(`journal resume ID` goes on), 4 revocation not confirmed or the old token was still used.\n",
);

const ROTATE_TUNNEL_HELP: &str = concat!(
    "Examples:\n",
    "  export ATLASSIAN_ADMIN_KEY=... ATLASSIAN_DC_TOKEN=...\n",
    "  atlassian-rotation rotate tunnel --org $ORG_ID --hostname $TUNNEL_UUID \\\n",
    "      --instance https://jira.internal.example.com --probe https://jira.internal.example.com/status\n",
    "\n",
    "Regenerating the key invalidates the old one at once: asks first on a terminal, needs --yes\n",
    "otherwise (exit 4 when not confirmed).\n",
);

const ROTATE_ADMIN_KEY_HELP: &str = concat!(
    "Examples:\n",
    "  export ATLASSIAN_ADMIN_KEY=... ATLASSIAN_NEW_ADMIN_KEY=...\n",
    "  atlassian-rotation rotate admin-key --org $ORG_ID --old-key-label automation-2026 \\\n",
    "      --new-key-label automation-2027 --consumer dotenv:/srv/app/.env#ADMIN_KEY --min-expiry 90\n",
);

/// Asking before the revocation.
#[derive(Args, Debug, Clone)]
pub struct Confirm {
    /// Revoke (or, for a tunnel, regenerate) without asking (needed when stdin is not a
    /// terminal).
    #[arg(long, short)]
    pub yes: bool,
}

#[derive(Args, Debug)]
pub struct RotateToken {
    #[command(flatten)]
    pub token: TokenArgs,
    #[command(flatten)]
    pub confirm: Confirm,
    /// Before revoking, wait --grace and check in the org's token list that nothing used the
    /// old token since the update (needs --revoke).
    #[arg(long, value_name = "ORG", requires_all = ["revoke", "grace"])]
    pub watch_org: Option<String>,
    /// How long the watch waits: 90s, 30m, 2h (with --watch-org).
    #[arg(long, value_name = "DURATION", value_parser = crate::settings::parse_duration, requires = "watch_org")]
    pub grace: Option<std::time::Duration>,
}

#[derive(Args, Debug)]
pub struct RotateTunnel {
    /// The tunnel's hostname (the UUID label of its application-link URL).
    #[arg(long, value_name = "UUID")]
    pub hostname: String,
    /// The Data Center instance's base URL.
    #[arg(long, value_name = "URL")]
    pub instance: String,
    /// Verify fails unless the instance accepted the key for this organisation name.
    #[arg(long, value_name = "NAME")]
    pub expect_org: Option<String>,
    /// A URL that answers 2xx only when the tunnel works; verify polls it.
    #[arg(long, value_name = "URL")]
    pub probe: Option<String>,
    /// Read the Data Center personal access token from stdin instead of ATLASSIAN_DC_TOKEN.
    #[arg(long)]
    pub dc_token_stdin: bool,
    /// Mint again although an earlier regenerate went unanswered (the old key is invalid then).
    #[arg(long)]
    pub remint_after_unknown: bool,
    #[command(flatten)]
    pub confirm: Confirm,
}

#[derive(Args, Debug)]
pub struct RotateAdminKey {
    /// The old key's id, as the org's key list shows it.
    #[arg(
        long,
        value_name = "ID",
        conflicts_with = "old_key_label",
        required_unless_present = "old_key_label"
    )]
    pub old_key_id: Option<String>,
    /// The old key's label.
    #[arg(long, value_name = "LABEL")]
    pub old_key_label: Option<String>,
    /// The new key's id (default: the one key active just when the new key is used).
    #[arg(long, value_name = "ID", conflicts_with = "new_key_label")]
    pub new_key_id: Option<String>,
    /// The new key's label.
    #[arg(long, value_name = "LABEL")]
    pub new_key_label: Option<String>,
    /// Refuse a new key that expires within this many days.
    #[arg(long, value_name = "DAYS", default_value_t = 30)]
    pub min_expiry: u64,
    /// Read the new key from stdin instead of ATLASSIAN_NEW_ADMIN_KEY.
    #[arg(long)]
    pub new_admin_key_stdin: bool,
    /// Another place the key lives, updated too (repeatable): file:PATH, dotenv:PATH#KEY,
    /// json:PATH#POINTER or command:PROGRAM ARGS.
    #[arg(long = "consumer", value_name = "SPEC", value_parser = crate::settings::parse_consumer)]
    pub consumers: Vec<String>,
    #[command(flatten)]
    pub confirm: Confirm,
}

#[derive(Subcommand, Debug)]
pub enum JournalCmd {
    /// Every journaled rotation, unfinished first.
    #[command(
        after_help = "Examples:\n  atlassian-rotation journal list\n  atlassian-rotation journal list --json | jq .step\n"
    )]
    List,
    /// One rotation: its step, what it changed, why it stopped.
    #[command(after_help = "Examples:\n  atlassian-rotation journal show automation-token-1\n")]
    Show(JournalId),
    /// Go on with a rotation that stopped, with the settings it started with (secrets are asked
    /// again).
    #[command(
        after_help = "Examples:\n  atlassian-rotation journal resume automation-token-1\n  atlassian-rotation journal resume automation-token-1 --take-over --yes\n"
    )]
    Resume(Resume),
    /// Give up an unfinished rotation: the journal forgets its new credential.
    #[command(
        after_help = "Examples:\n  atlassian-rotation journal abandon tunnel-key-2 --reason \"tunnel deleted\"\n"
    )]
    Abandon(Abandon),
}

#[derive(Args, Debug)]
pub struct JournalId {
    /// The rotation id (see `journal list`).
    pub id: String,
}

#[derive(Args, Debug)]
pub struct Resume {
    /// The rotation id (see `journal list`).
    pub id: String,
    /// Take the rotation over from a runner that holds its lease but died.
    #[arg(long)]
    pub take_over: bool,
    #[command(flatten)]
    pub confirm: Confirm,
    /// Read the new token from stdin (asked only when the journal does not hold it yet).
    #[arg(long)]
    pub new_token_stdin: bool,
    /// Read the new Admin API key from stdin (asked only when the journal does not hold it).
    #[arg(long)]
    pub new_admin_key_stdin: bool,
    /// Read the old token from stdin (token rotations).
    #[arg(long)]
    pub old_token_stdin: bool,
    /// Read the Data Center personal access token from stdin (tunnel rotations).
    #[arg(long)]
    pub dc_token_stdin: bool,
}

#[derive(Args, Debug)]
pub struct Abandon {
    /// The rotation id (see `journal list`).
    pub id: String,
    /// Why, kept in the journal.
    #[arg(long, default_value = "abandoned with atlassian-rotation")]
    pub reason: String,
}

#[derive(Args, Debug)]
pub struct Completions {
    /// The shell.
    pub shell: clap_complete::Shell,
}
