//! A whole rotation against the embedded fake: a tunnel key, then an API token used across a few
//! hundred automation rules, each with a write-ahead journal in a temporary directory.
//!
//! ```text
//! cargo run --example quickstart              # human summary
//! cargo run --example quickstart -- --json    # the two rotation reports as JSON
//! cargo run --example quickstart -- --rules 2000
//! ```
//!
//! Exits non-zero if either rotation fails. No secret is printed, even with `RUST_LOG=trace`.

use std::io::{IsTerminal as _, Write as _};
use std::process::ExitCode;
use std::time::Instant;

use atlassian_rotation::AutomationClient;
use atlassian_rotation::instance::InstanceAuth;
use atlassian_rotation::rotate::{
    self, Audit, AutomationTokenRotator, FileJournal, OldToken, Probe, RotateOptions,
    RotationError, RotationReport, TunnelKeyRotator,
};
use atlassian_rotation::secret::ApiCredentials;
use atlassian_rotation::testing::{FakeAtlassian, RuleSeed, TunnelStatus};
use atlassian_rotation::{AdminClient, InstanceClient};
use clap::Parser;
use time::{Duration, OffsetDateTime};

/// Rotate a tunnel key and an automation API token against an embedded fake Atlassian.
#[derive(Parser)]
struct Args {
    /// Print the rotation reports as JSON instead of a summary.
    #[arg(long)]
    json: bool,
    /// How many automation rules to seed.
    #[arg(long, default_value_t = 300)]
    rules: usize,
}

const CLOUD_ID: &str = "11111111-2222-4333-8444-555555555555";

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    match run(&args).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("quickstart failed: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: &Args) -> Result<bool, Box<dyn std::error::Error>> {
    let fake = FakeAtlassian::start().await;
    let dir = tempfile::tempdir()?;
    let journal = FileJournal::new(dir.path().join("journal"))?;
    let audit = Audit::new()
        .reason("quickstart demo")
        .initiated_by("quickstart")
        .initiated_from(std::env::consts::OS);

    // The world: an org with a tunnel, a service account whose token sits in many rules, and an
    // admin whose token the tool itself uses.
    let org = fake.add_org("Example Org");
    let tunnel = fake.add_tunnel(&org.id, "jira-dc-prod");
    let svc = fake.add_user("svc-automation@example.com", "Automation service account");
    let admin_user = fake.add_user("admin@example.com", "Site admin");
    let soon = OffsetDateTime::now_utc() + Duration::days(12);
    let (old_id, old_token) = fake.mint_api_token(&svc.account_id, "automation (2025)", soon);
    let (_, admin_token) = fake.mint_api_token(
        &admin_user.account_id,
        "rotation tool",
        soon + Duration::days(300),
    );
    let uuids = fake.seed_rules(
        CLOUD_ID,
        RuleSeed::new(args.rules)
            .with_token(&svc.email, old_token.clone())
            .fraction_with_token(0.3),
    );
    let old = ApiCredentials::new(&svc.email, old_token);
    let holding = fake.rules_holding(&old).len();

    // 1. The tunnel key.
    let admin = AdminClient::builder(org.admin_key.clone())
        .base_url(fake.admin_base())
        .build()?;
    let instance = InstanceClient::builder(InstanceAuth::PersonalAccessToken(tunnel.pat.clone()))
        .base_url(&tunnel.instance_base)
        .build()?;
    let tunnel_rotator = TunnelKeyRotator::new(admin.clone(), instance, &org.id, &tunnel.hostname)
        .expect_organisation(&org.name)
        .probe(Probe::url(format!("{}/probe", tunnel.instance_base)));
    let started = Instant::now();
    let tunnel_report = rotate::rotate(
        &tunnel_rotator,
        &journal,
        RotateOptions::new("quickstart-tunnel").audit(audit.clone()),
    )
    .await;
    let tunnel_secs = started.elapsed().as_secs_f64();

    // 2. The API token: a person mints the new one in the UI; the rotator does the rest.
    let (_, new_token) = fake.mint_api_token(
        &svc.account_id,
        "automation (2026)",
        soon + Duration::days(365),
    );
    let caller = ApiCredentials::new(&admin_user.email, admin_token);
    let automation = AutomationClient::builder(caller)
        .base_url(fake.automation_base(CLOUD_ID))
        .build()?;
    let show_progress = std::io::stderr().is_terminal() && !args.json;
    let token_rotator =
        AutomationTokenRotator::new(automation, fake.site_base(), old.clone(), new_token.clone())?
            .revoke_with(admin, &svc.account_id, OldToken::Id(old_id))
            // The seeded rules hide some values (masked headers, stored secrets) from any reader;
            // in the demo we know none of them holds the token. In real use, check them first.
            .accept_unreadable(true)
            .on_progress(move |p| {
                if show_progress {
                    eprint!(
                        "\r  {:<7} {:>5} rules scanned, {:>4} using the token, {:>4} written",
                        p.phase, p.scanned, p.matched, p.written
                    );
                    let _ = std::io::stderr().flush();
                }
            });
    let started = Instant::now();
    let token_report = rotate::rotate(
        &token_rotator,
        &journal,
        RotateOptions::new("quickstart-token").audit(audit),
    )
    .await;
    if show_progress {
        eprintln!();
    }
    let token_secs = started.elapsed().as_secs_f64();

    let ok = tunnel_report.is_ok() && token_report.is_ok();
    let tunnel_status = fake.tunnel_status(&tunnel.hostname);
    let still_old = fake.rules_holding(&old).len();
    let now_new = fake
        .rules_holding(&ApiCredentials::new(&svc.email, new_token))
        .len();

    if args.json {
        let out = serde_json::json!({
            "ok": ok,
            "tunnel": report_of(&tunnel_report),
            "automation_token": report_of(&token_report),
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(ok);
    }

    println!(
        "atlassian-rotation quickstart (embedded fake on {})",
        fake.addr()
    );
    println!();
    match &tunnel_report {
        Ok(report) => println!(
            "tunnel key      rotated in {tunnel_secs:.2}s: new key {}, tunnel {}",
            report.credential_fingerprint.as_deref().unwrap_or("?"),
            tunnel_status.map_or("unknown", TunnelStatus::as_str),
        ),
        Err(e) => println!("tunnel key      FAILED: {e}"),
    }
    match &token_report {
        Ok(report) => {
            let u = report.updated.clone().unwrap_or_default();
            println!(
                "api token       rotated in {token_secs:.2}s across {} rules: {} rewritten, {} skipped (masked or secret references), {} conflicted",
                uuids.len(),
                u.rewritten,
                u.skipped,
                u.conflicted
            );
            for retired in report.finished.iter().flat_map(|f| &f.retired) {
                println!("                {retired}");
            }
        }
        Err(e) => println!("api token       FAILED: {e}"),
    }
    println!(
        "check           {holding} rules held the old token before; {still_old} hold it now, {now_new} hold the new one"
    );
    println!(
        "journal         {} (deleted on exit)",
        dir.path().join("journal").display()
    );
    Ok(ok)
}

/// The report of a run, whether it succeeded or not.
fn report_of<C>(run: &Result<RotationReport, RotationError<C>>) -> &RotationReport {
    match run {
        Ok(report) => report,
        Err(e) => &e.report,
    }
}
