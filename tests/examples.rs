//! The command-line examples, end to end against the fake: each example's `run` is called with
//! parsed arguments and an `Env` built here (never the process environment), and the test checks
//! the exit code, stdout and stderr, the fake's state, and that no secret was printed.

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

// ---------------------------------------------------------------- token_usage

/// An export of our own: a Basic header for the service account, a masked secure header,
/// another account's Bearer token, and a rule with no credential.
fn export_file(svc_email: &str, old: &ApiToken) -> Value {
    let basic = base64::engine::general_purpose::STANDARD
        .encode(format!("{svc_email}:{}", old.expose_secret()));
    let webhook = |headers: Value| {
        json!({"id": "2", "component": "ACTION", "type": "jira.issue.outgoing.webhook", "schemaVersion": 1,
               "value": {"url": "https://deploy.example.com/hook", "method": "POST", "headers": headers},
               "children": [], "conditions": []})
    };
    let rule = |uuid: &str, name: &str, headers: Value| {
        json!({"uuid": uuid, "name": name, "state": "ENABLED",
               "trigger": {"id": "1", "component": "TRIGGER", "type": "jira.manual.trigger.issue", "value": null},
               "components": [webhook(headers)]})
    };
    json!({"cloud": true, "rules": [
        rule("r-basic", "Deploy hook", json!([
            {"id": null, "name": "Content-Type", "value": "application/json", "headerSecure": false},
            {"id": null, "name": "Authorization", "value": format!("Basic {basic}"), "headerSecure": false}])),
        rule("r-masked", "Masked hook", json!([
            {"id": null, "name": "Authorization", "value": "***", "headerSecure": true}])),
        rule("r-other", "Other account", json!([
            {"id": null, "name": "Authorization", "value": "Bearer someone-elses-token-0123456789", "headerSecure": false}])),
        rule("r-none", "No credential", json!([])),
    ]})
}

#[tokio::test]
async fn token_usage_scans_an_export_file_for_a_token_and_as_an_inventory() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rules.json");
    let old = ApiToken::new("ATATT3xFfGF0-export-test-token-0001");
    let export = export_file("svc@example.com", &old);
    std::fs::write(&path, serde_json::to_vec_pretty(&export).unwrap()).unwrap();
    let path = path.to_str().unwrap();

    let env = token_usage::Env {
        api_token: None,
        find_token: Some(old.clone()),
    };
    let found = run_example!(token_usage, env, strings(&["--export", path]));
    assert_eq!(found.code, 0, "{}", found.err);
    let lines = found.json_lines();
    let summary: Vec<(&str, &str, &str, &str)> = lines
        .iter()
        .map(|f| {
            (
                f["rule_uuid"].as_str().unwrap(),
                f["status"].as_str().unwrap(),
                f["form"].as_str().unwrap(),
                f["pointer"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (
                "r-basic",
                "match",
                "basic",
                "/components/0/value/headers/1/value"
            ),
            (
                "r-masked",
                "cannot_tell",
                "masked",
                "/components/0/value/headers/0/value"
            ),
        ]
    );
    assert_eq!(lines[0]["rule_name"], "Deploy hook");
    assert!(
        found
            .err
            .contains("4 rules scanned: 1 match, 1 cannot_tell"),
        "{}",
        found.err
    );
    found.assert_clean(&[old.expose_secret()]);

    let inventory = run_example!(
        token_usage,
        token_usage::Env::default(),
        strings(&["--export", path])
    );
    assert_eq!(inventory.code, 0, "{}", inventory.err);
    let lines = inventory.json_lines();
    let seen: Vec<(&str, &str)> = lines
        .iter()
        .map(|f| {
            (
                f["rule_uuid"].as_str().unwrap(),
                f["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("r-basic", "credential"),
            ("r-masked", "cannot_tell"),
            ("r-other", "credential")
        ]
    );
    assert_eq!(lines[0]["account_email"], "svc@example.com");
    assert_eq!(lines[2]["form"], "bearer");
    inventory.assert_clean(&[old.expose_secret(), "someone-elses-token-0123456789"]);
}

#[tokio::test]
async fn token_usage_finds_every_live_rule_holding_the_token() {
    let w = world(60).await;
    w.fake.set_rule_page_max(7);
    let holding = sorted(w.fake.rules_holding(&w.old_credentials()));
    assert!(holding.len() >= 15);

    let mut args = w.live();
    args.extend(plain(&["--token-email", &w.svc.email]));
    let run = run_example!(token_usage, w.usage_env(Some(&w.old)), args);
    assert_eq!(run.code, 0, "{}", run.err);
    let findings = run.json_lines();
    assert_eq!(uuids_of(&findings, "match"), holding);
    assert!(
        findings
            .iter()
            .all(|f| f["status"] == "match" || f["status"] == "cannot_tell")
    );
    assert!(run.err.contains("60 rules scanned"), "{}", run.err);
    assert_eq!(
        w.fake.request_count(Route::RulePut),
        0,
        "a scan writes nothing"
    );
    run.assert_clean(&w.secrets());
}

#[tokio::test]
async fn token_usage_inventory_through_the_site_gateway_names_the_accounts() {
    let w = world(40).await;
    let site = w.fake.site_base();
    let args = strings(&[
        "--site",
        &site,
        "--cloud-id",
        CLOUD,
        "--email",
        &w.admin_email,
    ]);
    let run = run_example!(token_usage, w.usage_env(None), args);
    assert_eq!(run.code, 0, "{}", run.err);
    let findings = run.json_lines();
    assert!(
        findings
            .iter()
            .all(|f| f["status"] == "credential" || f["status"] == "cannot_tell")
    );
    let as_svc: BTreeSet<String> = findings
        .iter()
        .filter(|f| f["account_email"] == w.svc.email.as_str())
        .map(|f| f["rule_uuid"].as_str().unwrap().to_owned())
        .collect();
    assert!(!as_svc.is_empty());
    assert!(as_svc.is_subset(&sorted(w.fake.rules_holding(&w.old_credentials()))));
    assert!(
        w.fake
            .requests()
            .iter()
            .any(|r| r.path().starts_with("/gateway/api/automation/"))
    );
    run.assert_clean(&w.secrets());
}

#[tokio::test]
async fn a_missing_secret_is_one_clear_error_line_before_any_request() {
    let w = world(5).await;
    let env = token_usage::Env {
        api_token: None,
        find_token: Some(w.old.clone()),
    };
    let run = run_example!(token_usage, env, w.live());
    run.assert_failed_with("ATLASSIAN_API_TOKEN is not set");
    assert_eq!(w.fake.request_count(Route::Any), 0);
}

// ---------------------------------------------------------------- rotate_automation_token

#[tokio::test]
async fn rotate_automation_token_dry_run_prints_the_plan_and_writes_nothing() {
    let w = world(50).await;
    let holding = sorted(w.fake.rules_holding(&w.old_credentials()));
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal");
    let run = run_example!(
        rotate_automation_token,
        w.rotate_env(&journal),
        w.rotate_args(&["--dry-run"])
    );
    assert_eq!(run.code, 0, "{}", run.err);
    let plan: Value = serde_json::from_str(&run.out).unwrap();
    assert_eq!(plan["scanned"], 50);
    let planned = sorted(
        plan["rules"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["uuid"].as_str().unwrap().to_owned()),
    );
    assert_eq!(planned, holding);
    assert_eq!(w.fake.request_count(Route::RulePut), 0);
    assert_eq!(sorted(w.fake.rules_holding(&w.old_credentials())), holding);
    assert!(!journal.exists(), "a dry run journals nothing");
    assert!(w.fake.token_is_live(&w.old));
    run.assert_clean(&w.secrets());
}

#[tokio::test]
async fn rotate_automation_token_replaces_every_use_and_revokes_the_old_token() {
    let w = world(50).await;
    let holding = sorted(w.fake.rules_holding(&w.old_credentials()));
    let dir = tempfile::tempdir().unwrap();
    let admin_base = w.fake.admin_base();
    let extra = [
        "--json",
        "--admin-base",
        &admin_base,
        "--account-id",
        &w.svc.account_id,
        "--old-token-id",
        &w.old_id,
    ];
    let run = run_example!(
        rotate_automation_token,
        w.rotate_env(dir.path()),
        w.rotate_args(&extra)
    );
    assert_eq!(run.code, 0, "{}", run.err);
    let report: Value = serde_json::from_str(&run.out).unwrap();
    assert_eq!(report["completed"], "finished");
    assert_eq!(report["updated"]["rewritten"], holding.len());
    assert_eq!(report["credential_fingerprint"], w.new.fingerprint());
    assert!(w.fake.rules_holding(&w.old_credentials()).is_empty());
    assert_eq!(sorted(w.fake.rules_holding(&w.new_credentials())), holding);
    assert!(!w.fake.token_is_live(&w.old), "revoked after verify");
    assert!(w.fake.token_is_live(&w.new));
    run.assert_clean(&w.secrets());
}

#[tokio::test]
async fn rotate_automation_token_resumes_from_its_journal_after_a_failure() {
    let w = world(40).await;
    let holding = sorted(w.fake.rules_holding(&w.old_credentials()));
    let dir = tempfile::tempdir().unwrap();
    w.fake.fault(Route::RulePut, Fault::status(500).times(3));
    let first = run_example!(
        rotate_automation_token,
        w.rotate_env(dir.path()),
        w.rotate_args(&[])
    );
    first.assert_failed_with("run again to resume");
    assert!(
        first.out.contains("stopped after regenerated"),
        "{}",
        first.out
    );
    let left = w.fake.rules_holding(&w.old_credentials()).len();
    assert!(
        left > 0 && left < holding.len(),
        "a partial update: {left} of {}",
        holding.len()
    );
    first.assert_clean(&w.secrets());

    let again = run_example!(
        rotate_automation_token,
        w.rotate_env(dir.path()),
        w.rotate_args(&["--json"])
    );
    assert_eq!(again.code, 0, "{}", again.err);
    let report: Value = serde_json::from_str(&again.out).unwrap();
    assert_eq!(report["resumed_from"], "regenerated");
    assert_eq!(report["completed"], "finished");
    assert!(w.fake.rules_holding(&w.old_credentials()).is_empty());
    assert_eq!(sorted(w.fake.rules_holding(&w.new_credentials())), holding);
    again.assert_clean(&w.secrets());
}

// ---------------------------------------------------------------- rotate_tunnel_key

#[tokio::test]
async fn rotate_tunnel_key_installs_the_new_key_and_the_probe_sees_it_connected() {
    let fake = FakeAtlassian::start().await;
    let org = fake.add_org("Example Org");
    let tunnel = fake.add_tunnel(&org.id, "jira-dc-prod");
    let dir = tempfile::tempdir().unwrap();
    let probe = format!("{}/probe", tunnel.instance_base);
    let admin_base = fake.admin_base();
    let args = strings(&[
        "--org",
        &org.id,
        "--hostname",
        &tunnel.hostname,
        "--instance",
        &tunnel.instance_base,
        "--admin-base",
        &admin_base,
        "--probe",
        &probe,
        "--expect-org",
        &org.name,
        "--json",
    ]);
    let env = rotate_tunnel_key::Env {
        admin_key: Some(org.admin_key.clone()),
        dc_token: Some(tunnel.pat.clone()),
        default_journal: dir.path().to_owned(),
    };
    let run = run_example!(rotate_tunnel_key, env, args);
    assert_eq!(run.code, 0, "{}", run.err);
    let report: Value = serde_json::from_str(&run.out).unwrap();
    assert_eq!(report["completed"], "finished");
    assert_eq!(
        fake.tunnel_status(&tunnel.hostname),
        Some(TunnelStatus::Connected)
    );
    let new_key = fake.tunnel_key(&tunnel.hostname).unwrap();
    assert_ne!(new_key.expose_secret(), tunnel.current_key.expose_secret());
    assert_eq!(report["credential_fingerprint"], new_key.fingerprint());
    assert_eq!(fake.request_count(Route::AdminRegenerate), 1);
    assert!(fake.request_count(Route::TunnelProbe) >= 1);
    run.assert_clean(&[
        org.admin_key.expose_secret(),
        tunnel.pat.expose_secret(),
        tunnel.current_key.expose_secret(),
        new_key.expose_secret(),
    ]);
}

// ---------------------------------------------------------------- token_expiry

#[tokio::test]
async fn token_expiry_lists_tokens_in_the_window_with_the_rules_using_their_accounts() {
    let w = world(30).await; // svc's old token expires in 12 days, its new one in 365
    let now = OffsetDateTime::now_utc();
    let bob = w.fake.add_user("bob@example.com", "Bob");
    let (_, bob_token) =
        w.fake
            .mint_api_token(&bob.account_id, "reports", now + time::Duration::days(200));
    w.fake.seed_rules(
        CLOUD,
        RuleSeed::new(10)
            .with_token(&bob.email, bob_token.clone())
            .seed(7),
    );
    let carol = w.fake.add_user("carol@example.com", "Carol");
    let (carol_id, carol_token) =
        w.fake
            .mint_api_token(&carol.account_id, "laptop", now + time::Duration::days(5));

    // The rules that authenticate as svc with Basic, found independently of the scanner.
    let basic = base64::engine::general_purpose::STANDARD.encode(format!(
        "{}:{}",
        w.svc.email,
        w.old.expose_secret()
    ));
    let svc_rules: BTreeSet<String> = w
        .fake
        .rule_uuids(CLOUD)
        .into_iter()
        .filter(|u| w.fake.rule(u).unwrap().to_string().contains(&basic))
        .collect();
    assert!(!svc_rules.is_empty());

    let admin_base = w.fake.admin_base();
    let mut args = w.live();
    args.extend(plain(&[
        "--org",
        &w.org_id,
        "--admin-base",
        &admin_base,
        "--days",
        "30",
    ]));
    let env = || token_expiry::Env {
        admin_key: Some(w.admin_key.clone()),
        api_token: Some(w.admin_token.clone()),
    };
    let run = run_example!(token_expiry, env(), args);
    assert_eq!(run.code, 0, "{}", run.err);
    let lines = run.json_lines();
    let ids: Vec<&str> = lines
        .iter()
        .map(|l| l["token_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [carol_id.as_str(), w.old_id.as_str()],
        "soonest first, only within 30 days"
    );
    assert_eq!(lines[0]["user_email"], "carol@example.com");
    assert_eq!(lines[0]["rules"], json!([]));
    assert_eq!(lines[1]["label"], "automation 2025");
    let listed = sorted(
        lines[1]["rules"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["rule_uuid"].as_str().unwrap().to_owned()),
    );
    assert_eq!(listed, svc_rules);
    assert!(
        lines[1]["rules"][0]["pointer"]
            .as_str()
            .unwrap()
            .starts_with('/')
    );
    let mut secrets = w.secrets();
    secrets.extend([bob_token.expose_secret(), carol_token.expose_secret()]);
    run.assert_clean(&secrets);

    args.push("--human".into());
    let table = run_example!(token_expiry, env(), args);
    assert_eq!(table.code, 0, "{}", table.err);
    assert!(table.out.starts_with("EXPIRES"));
    assert!(table.out.contains(&carol_id) && table.out.contains(&w.old_id));
    assert!(!table.out.contains("bob@example.com"));
    table.assert_clean(&secrets);
}

// ---------------------------------------------------------------- a misbehaving server

#[tokio::test]
async fn transient_503s_and_a_dropped_connection_are_retried_through() {
    let w = world(30).await;
    w.fake.set_rule_page_max(10);
    let holding = sorted(w.fake.rules_holding(&w.old_credentials()));
    w.fake.fault(
        Route::RuleSummaries,
        Fault::status(503).retry_after(0).times(2),
    );
    w.fake.fault(Route::RuleGet, Fault::drop_connection());
    let run = run_example!(token_usage, w.usage_env(Some(&w.old)), w.live());
    assert_eq!(run.code, 0, "{}", run.err);
    assert_eq!(uuids_of(&run.json_lines(), "match"), holding);
    assert_eq!(
        w.fake.request_count(Route::RuleSummaries),
        3 + 2,
        "3 pages and 2 retries"
    );
    assert_eq!(w.fake.request_count(Route::RuleGet), 30 + 1);
    run.assert_clean(&w.secrets());
}

#[tokio::test]
async fn a_429_storm_ends_in_one_error_line_without_a_hot_loop() {
    let w = world(30).await;
    w.fake.rate_limit(5, Duration::from_secs(30));
    let run = run_example!(token_usage, w.usage_env(Some(&w.old)), w.live());
    run.assert_failed_with("429");
    let requests = w.fake.request_count(Route::Any);
    assert!(
        requests <= 5 + 8 + 1,
        "{requests} requests: bounded by the budget and concurrency"
    );
    run.assert_clean(&w.secrets());
}

#[tokio::test]
async fn an_html_502_ends_in_a_clear_error_after_bounded_retries() {
    let w = world(10).await;
    w.fake
        .fault(Route::RuleSummaries, Fault::html(502).times(100));
    let run = run_example!(token_usage, w.usage_env(Some(&w.old)), w.live());
    run.assert_failed_with("502");
    assert_eq!(
        w.fake.request_count(Route::RuleSummaries),
        4,
        "--max-attempts defaults to 4"
    );
    run.assert_clean(&w.secrets());
}

#[tokio::test]
async fn broken_json_ends_in_a_clear_error() {
    let w = world(10).await;
    w.fake
        .fault(Route::RuleSummaries, Fault::malformed_json().times(100));
    let run = run_example!(token_usage, w.usage_env(Some(&w.old)), w.live());
    run.assert_failed_with("GET");
    assert!(w.fake.request_count(Route::RuleSummaries) <= 4);
    run.assert_clean(&w.secrets());
}

#[tokio::test]
async fn a_redirect_is_not_followed() {
    use wiremock::matchers::any;
    use wiremock::{Mock, MockServer, ResponseTemplate};

    let w = world(10).await;
    let server = MockServer::start().await;
    let target = format!("{}/rest/v1/rule/summary", w.fake.automation_base(CLOUD));
    Mock::given(any())
        .respond_with(ResponseTemplate::new(302).insert_header("Location", target.as_str()))
        .mount(&server)
        .await;
    let base = format!("{}/automation/public/jira/{CLOUD}", server.uri());
    let args = strings(&["--automation-base", &base, "--email", &w.admin_email]);
    let run = run_example!(token_usage, w.usage_env(Some(&w.old)), args);
    run.assert_failed_with("302");
    assert_eq!(
        w.fake.request_count(Route::Any),
        0,
        "the redirect target was never asked"
    );
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
    run.assert_clean(&w.secrets());
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
