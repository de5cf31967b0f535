//! The command-line examples, end to end against the fake: each example's `run` is called with
//! parsed arguments and an `Env` built here (never the process environment), and the test checks
//! the exit code, stdout and stderr, the fake's state, and that no secret was printed.

// Each example declares `mod common;` so that it builds on its own; included here, the shared
// file is compiled once per example, as it is for the example binaries.
#![allow(clippy::duplicate_mod)]

#[path = "../examples/rotate_admin_key.rs"]
#[allow(dead_code)]
mod rotate_admin_key;
#[path = "../examples/rotate_automation_token.rs"]
#[allow(dead_code)]
mod rotate_automation_token;
#[path = "../examples/rotate_tunnel_key.rs"]
#[allow(dead_code)]
mod rotate_tunnel_key;
#[path = "../examples/token_expiry.rs"]
#[allow(dead_code)]
mod token_expiry;
#[path = "../examples/token_usage.rs"]
#[allow(dead_code)]
mod token_usage;

use std::collections::BTreeSet;
use std::time::Duration;

use atlassian_rotation::secret::{AdminApiKey, ApiCredentials, ApiToken};
use atlassian_rotation::testing::{FakeAtlassian, FakeUser, Fault, Route, RuleSeed, TunnelStatus};
use base64::Engine as _;
use clap::Parser as _;
use serde_json::{Value, json};
use time::OffsetDateTime;

const CLOUD: &str = "cloud-ex";
/// Fast retries for tests: tiny backoff, and no wait longer than 5 s for a `Retry-After`.
const QUICK: [&str; 4] = ["--backoff-ms", "1", "--retry-deadline", "5"];

/// What a run printed and returned.
struct Output {
    code: u8,
    out: String,
    err: String,
}

impl Output {
    fn json_lines(&self) -> Vec<Value> {
        self.out
            .lines()
            .map(|l| serde_json::from_str(l).expect("every stdout line is a JSON object"))
            .collect()
    }

    /// Fails if any secret appears anywhere in the output.
    fn assert_clean(&self, secrets: &[&str]) {
        for secret in secrets {
            assert!(!secret.is_empty());
            for (name, text) in [("stdout", &self.out), ("stderr", &self.err)] {
                assert!(!text.contains(secret), "a secret leaked to {name}: {text}");
                let b64 = base64::engine::general_purpose::STANDARD.encode(secret);
                assert!(
                    !text.contains(&b64[..b64.len() - 4]),
                    "a secret leaked (base64) to {name}"
                );
            }
        }
    }

    /// A failed run: exit 1 and exactly one line on stderr, containing `needle`.
    fn assert_failed_with(&self, needle: &str) {
        assert_eq!(self.code, 1, "stderr: {}", self.err);
        assert_eq!(self.err.lines().count(), 1, "one error line: {}", self.err);
        assert!(self.err.contains(needle), "{needle:?} not in {}", self.err);
    }
}

macro_rules! run_example {
    ($example:ident, $env:expr, $args:expr) => {{
        let args: Vec<String> = std::iter::once(stringify!($example).to_owned())
            .chain($args.iter().map(|a: &String| a.clone()))
            .collect();
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = $example::run($example::Args::parse_from(args), $env, &mut out, &mut err).await;
        Output {
            code,
            out: String::from_utf8(out).unwrap(),
            err: String::from_utf8(err).unwrap(),
        }
    }};
}

/// `args`, without the retry flags (for appending to a list that has them).
fn plain(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| (*s).to_owned()).collect()
}

/// `args` and the [`QUICK`] retry flags.
fn strings(args: &[&str]) -> Vec<String> {
    args.iter()
        .map(|s| (*s).to_owned())
        .chain(QUICK.iter().map(|s| (*s).to_owned()))
        .collect()
}

/// A site with a service account whose token sits in a share of the rules, an admin who runs
/// the tools, and an org.
struct World {
    fake: FakeAtlassian,
    org_id: String,
    admin_key: AdminApiKey,
    svc: FakeUser,
    old_id: String,
    old: ApiToken,
    new: ApiToken,
    admin_email: String,
    admin_token: ApiToken,
}

async fn world(rules: usize) -> World {
    let fake = FakeAtlassian::start().await;
    let org = fake.add_org("Example Org");
    let svc = fake.add_user("svc-automation@example.com", "Automation service");
    let admin = fake.add_user("admin@example.com", "Site admin");
    let now = OffsetDateTime::now_utc();
    let (old_id, old) = fake.mint_api_token(
        &svc.account_id,
        "automation 2025",
        now + time::Duration::days(12),
    );
    let (_, new) = fake.mint_api_token(
        &svc.account_id,
        "automation 2026",
        now + time::Duration::days(365),
    );
    let (_, admin_token) =
        fake.mint_api_token(&admin.account_id, "tools", now + time::Duration::days(300));
    fake.seed_rules(
        CLOUD,
        RuleSeed::new(rules)
            .with_token(&svc.email, old.clone())
            .fraction_with_token(0.3),
    );
    World {
        org_id: org.id,
        admin_key: org.admin_key,
        svc,
        old_id,
        old,
        new,
        admin_email: admin.email,
        admin_token,
        fake,
    }
}

impl World {
    fn old_credentials(&self) -> ApiCredentials {
        ApiCredentials::new(&self.svc.email, self.old.clone())
    }

    fn new_credentials(&self) -> ApiCredentials {
        ApiCredentials::new(&self.svc.email, self.new.clone())
    }

    fn secrets(&self) -> Vec<&str> {
        vec![
            self.old.expose_secret(),
            self.new.expose_secret(),
            self.admin_token.expose_secret(),
            self.admin_key.expose_secret(),
        ]
    }

    /// `--automation-base` and `--email` for the live Automation API.
    fn live(&self) -> Vec<String> {
        let base = self.fake.automation_base(CLOUD);
        strings(&["--automation-base", &base, "--email", &self.admin_email])
    }

    fn usage_env(&self, find: Option<&ApiToken>) -> token_usage::Env {
        token_usage::Env {
            api_token: Some(self.admin_token.clone()),
            find_token: find.cloned(),
        }
    }

    fn rotate_env(&self, journal: &std::path::Path) -> rotate_automation_token::Env {
        rotate_automation_token::Env {
            api_token: Some(self.admin_token.clone()),
            old_token: Some(self.old.clone()),
            new_token: Some(self.new.clone()),
            admin_key: Some(self.admin_key.clone()),
            default_journal: journal.to_owned(),
        }
    }

    fn rotate_args(&self, extra: &[&str]) -> Vec<String> {
        let site = self.fake.site_base();
        let mut args = self.live();
        args.extend(plain(&["--site", &site, "--token-email", &self.svc.email]));
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        args
    }
}

fn sorted(items: impl IntoIterator<Item = String>) -> BTreeSet<String> {
    items.into_iter().collect()
}

fn uuids_of(findings: &[Value], status: &str) -> BTreeSet<String> {
    findings
        .iter()
        .filter(|f| f["status"] == status)
        .map(|f| f["rule_uuid"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn every_example_has_help_naming_its_environment_variables() {
    use clap::CommandFactory as _;
    let helps = [
        (
            token_usage::Args::command().render_long_help().to_string(),
            &["ATLASSIAN_FIND_TOKEN", "ATLASSIAN_API_TOKEN"][..],
        ),
        (
            rotate_automation_token::Args::command()
                .render_long_help()
                .to_string(),
            &[
                "ROTATE_OLD_TOKEN",
                "ROTATE_NEW_TOKEN",
                "ATLASSIAN_ADMIN_API_KEY",
                "--dry-run",
            ][..],
        ),
        (
            rotate_admin_key::Args::command()
                .render_long_help()
                .to_string(),
            &[
                "ATLASSIAN_ADMIN_API_KEY",
                "ATLASSIAN_NEW_ADMIN_KEY",
                "--consumer",
                "--min-validity-days",
            ][..],
        ),
        (
            rotate_tunnel_key::Args::command()
                .render_long_help()
                .to_string(),
            &["DC_PERSONAL_ACCESS_TOKEN", "--probe"][..],
        ),
        (
            token_expiry::Args::command().render_long_help().to_string(),
            &["ATLASSIAN_ADMIN_API_KEY", "--days"][..],
        ),
    ];
    for (help, needles) in helps {
        for needle in needles {
            assert!(help.contains(needle), "{needle} missing from:\n{help}");
        }
    }
}

#[path = "examples/admin_key.rs"]
mod admin_key;
#[path = "examples/expiry.rs"]
mod expiry;
#[path = "examples/faults.rs"]
mod faults;
#[path = "examples/rotation.rs"]
mod rotation;
#[path = "examples/usage.rs"]
mod usage;
