//! The everyday jobs of issue 11, written as a user would write them against the crate's
//! public API (only the setup of the fake is test scaffolding). The lines between each job's
//! `begins` and `ends` comments are the job; the counts are in the README.

use std::time::Duration;

use atlassian_rotation::automation::Scanner;
use atlassian_rotation::consumer::FileConsumer;
use atlassian_rotation::discover::{ExpiryRadar, Progress, ResolveIdentities, UsageScan};
use atlassian_rotation::instance::InstanceAuth;
use atlassian_rotation::rotate::{
    self, AdminKeyRotator, AutomationTokenRotator, FileJournal, KeyRef, OldToken, RotateOptions,
    TunnelKeyRotator,
};
use atlassian_rotation::secret::{AdminApiKey, ApiCredentials};
use atlassian_rotation::testing::TunnelStatus;
use atlassian_rotation::testing::{FakeAtlassian, Fault, Route, RuleSeed};
use atlassian_rotation::{AdminClient, AutomationClient, InstanceClient};
use futures::TryStreamExt as _;

type Result = std::result::Result<(), Box<dyn std::error::Error>>;

const CLOUD: &str = "cloud-jobs";

/// Job 1: which rules use this token, live, through rate limits, with progress.
#[tokio::test]
async fn job_1_which_rules_use_this_token() -> Result {
    let fake = FakeAtlassian::start().await;
    let scenario = fake.seed_expiring_usage(CLOUD, 1, time::Duration::days(9));
    let token = scenario.tokens[0].token.clone();
    let svc = &scenario.tokens[0].user;
    fake.seed_rules(
        CLOUD,
        RuleSeed::new(200).with_token(&svc.email, token.clone()),
    );
    fake.fault(Route::RuleGet, Fault::status(429).retry_after(0).times(5));
    let (base, caller) = (fake.automation_base(CLOUD), scenario.caller.clone());

    // job 1 begins
    let client = AutomationClient::builder(caller).base_url(&base).build()?;
    let scan = UsageScan::new(&client, Scanner::for_token(&token));
    let progress = |p: Progress| eprintln!("{} rules read", p.scanned);
    let mut findings = scan.on_progress(progress).stream();
    while let Some(finding) = findings.try_next().await? {
        println!("{finding}");
    }
    println!("{}", findings.summary());
    // job 1 ends

    let summary = findings.summary();
    assert!(summary.is_complete());
    assert_eq!(summary.rules_read, 204);
    assert_eq!(
        summary.rules_matched,
        1 + 100,
        "its Basic rule and half the others"
    );
    assert!(
        client.rate_limit_hits() >= 5,
        "went through the rate limits"
    );
    Ok(())
}

/// Job 2: tokens expiring in N days, with the rules that use them: 12 of 12, though only 3
/// hold them in `Basic`.
#[tokio::test]
async fn job_2_tokens_expiring_soon_with_the_rules_that_use_them() -> Result {
    let fake = FakeAtlassian::start().await;
    let scenario = fake.seed_expiring_usage(CLOUD, 3, time::Duration::days(9));
    let (key, org_id) = (scenario.org.admin_key.clone(), scenario.org.id.clone());
    let caller = scenario.caller.clone();
    let (admin_base, base) = (fake.admin_base(), fake.automation_base(CLOUD));
    let gateway = fake.jira_gateway_base(CLOUD);

    // job 2 begins
    let admin = AdminClient::builder(key).base_url(admin_base).build()?;
    let automation = AutomationClient::builder(caller).base_url(&base).build()?;
    let report = ExpiryRadar::new(&admin, &org_id, &automation)
        .within(Duration::from_secs(30 * 86_400))
        .resolve_identities(ResolveIdentities::base_url(gateway))
        .run()
        .await?;
    println!("{report}");
    // job 2 ends

    let mut rules: Vec<String> = report
        .expiring
        .iter()
        .flat_map(|c| c.uses.iter().filter_map(|u| u.finding.rule_uuid.clone()))
        .collect();
    rules.sort();
    let mut expected = scenario.rules.clone();
    expected.sort();
    assert_eq!(rules, expected, "12 of 12");
    // Each under the token whose account it uses, not merely somewhere in the report.
    for token in &scenario.tokens {
        let listed = report.expiring.iter().find(|c| c.id == token.token_id);
        let mut under: Vec<String> = listed
            .map(|c| {
                c.uses
                    .iter()
                    .filter_map(|u| u.finding.rule_uuid.clone())
                    .collect()
            })
            .unwrap_or_default();
        under.sort();
        let mut theirs = token.rules.clone();
        theirs.sort();
        assert_eq!(under, theirs, "the rules of token {}", token.token_id);
    }
    assert_eq!(scenario.basic_rules().len(), 3);
    assert!(report.is_complete());
    Ok(())
}

/// Job 3: rotate a tunnel key; the first run fails at the instance, the second resumes with
/// the journaled key (never minting another).
#[tokio::test]
async fn job_3_rotate_a_tunnel_key_fail_once_resume() -> Result {
    let fake = FakeAtlassian::start().await;
    let org = fake.add_org("Example Org");
    let tunnel = fake.add_tunnel(&org.id, "jira-dc-prod");
    fake.fault(Route::InstallTunnelKey, Fault::status(503).times(4)); // one run's retries
    let dir = tempfile::tempdir()?;
    let (key, pat) = (org.admin_key.clone(), tunnel.pat.clone());
    let (admin_base, instance_base) = (fake.admin_base(), tunnel.instance_base.clone());

    // job 3 begins
    let admin = AdminClient::builder(key).base_url(admin_base).build()?;
    let auth = InstanceAuth::PersonalAccessToken(pat);
    let instance = InstanceClient::builder(auth)
        .base_url(instance_base)
        .build()?;
    let rotator = TunnelKeyRotator::new(admin, instance, &org.id, &tunnel.hostname);
    let journal = FileJournal::new(dir.path())?;
    let id = rotate::resume_or_new_id(&journal, &rotator, "tunnel").await?;
    if let Err(e) = rotate::rotate(&rotator, &journal, RotateOptions::new(&id)).await {
        eprintln!("{e}"); // the new key is in the journal: run again to resume
        let report = rotate::rotate(&rotator, &journal, RotateOptions::new(&id)).await?;
        println!("{report}");
    }
    // job 3 ends

    assert_eq!(fake.request_count(Route::AdminRegenerate), 1, "minted once");
    assert_eq!(
        fake.request_count(Route::InstallTunnelKey),
        5,
        "the first run failed after 4 attempts, the resume installed"
    );
    assert_eq!(
        fake.tunnel_status(&tunnel.hostname),
        Some(TunnelStatus::Connected)
    );
    Ok(())
}

/// Job 4: a token that lives in a config file and in automation rules, rotated with the old
/// token revoked; the caller's own client keeps working on the new token.
#[tokio::test]
async fn job_4_a_token_in_a_config_file_and_in_rules() -> Result {
    let fake = FakeAtlassian::start().await;
    let org = fake.add_org("Acme");
    let svc = fake.add_user("svc@example.com", "Service");
    let later = time::OffsetDateTime::now_utc() + time::Duration::days(30);
    let (old_id, old) = fake.mint_api_token(&svc.account_id, "automation", later);
    let (_, new) = fake.mint_api_token(&svc.account_id, "automation-2027", later);
    fake.seed_rules(CLOUD, RuleSeed::new(30).with_token(&svc.email, old.clone()));
    let dir = tempfile::tempdir()?;
    let config = dir.path().join(".env");
    std::fs::write(
        &config,
        format!("JIRA_URL=x\nJIRA_TOKEN={}\n", old.expose_secret()),
    )?;
    let (site, base, admin_base) = (
        fake.site_base(),
        fake.automation_base(CLOUD),
        fake.admin_base(),
    );
    let (key, account) = (org.admin_key.clone(), svc.account_id.clone());
    let me = ApiCredentials::new(&svc.email, old.clone());

    // job 4 begins
    let client = AutomationClient::builder(me.clone())
        .base_url(&base)
        .build()?;
    let admin = AdminClient::builder(key).base_url(admin_base).build()?;
    let rotator = AutomationTokenRotator::new(client.clone(), &site, me, new.clone())?
        .consumer(FileConsumer::dotenv(&config, "JIRA_TOKEN"))
        .revoke_with(admin, account, OldToken::Id(old_id))
        .accept_unreadable(true); // the masked values were checked by hand
    let journal = FileJournal::new(dir.path().join("journal"))?;
    let report = rotate::rotate(&rotator, &journal, RotateOptions::new("svc-token")).await?;
    println!("{report}");
    // job 4 ends

    assert!(report.succeeded());
    assert!(!fake.token_is_live(&old));
    let now_new = ApiCredentials::new(&svc.email, new.clone());
    let old_creds = ApiCredentials::new(&svc.email, old.clone());
    assert!(
        fake.rules_holding(&old_creds).is_empty(),
        "no rule holds the old token"
    );
    assert!(
        !fake.rules_holding(&now_new).is_empty(),
        "the rules hold the new one"
    );
    let held = std::fs::read_to_string(&config)?;
    assert_eq!(
        held,
        format!("JIRA_URL=x\nJIRA_TOKEN={}\n", new.expose_secret())
    );
    let summaries: Vec<_> = client.rule_summaries(100).try_collect().await?;
    assert_eq!(
        summaries.len(),
        30,
        "the caller's client works on the new token"
    );
    Ok(())
}

/// Job 5: rotate the Admin API key a service uses: a person minted the replacement; the key
/// lives in the service's config file and in its live client; the old key is revoked.
#[tokio::test]
async fn job_5_rotate_the_admin_api_key_a_service_uses() -> Result {
    let fake = FakeAtlassian::start().await;
    let acme = fake.add_org("Acme");
    let scopes = ["read:keys:admin", "delete:keys:admin"];
    let now = time::OffsetDateTime::now_utc();
    let in_days = |days| now + time::Duration::days(days);
    let minted_old = fake.mint_admin_key(&acme.id, "automation", &scopes, in_days(20));
    let minted_new = fake.mint_admin_key(&acme.id, "automation-2027", &scopes, in_days(365));
    let dir = tempfile::tempdir()?;
    let config = dir.path().join(".env");
    let line = |key: &AdminApiKey| format!("ATLASSIAN_ADMIN_API_KEY={}\n", key.expose_secret());
    std::fs::write(&config, line(&minted_old.key))?;
    let (org, base) = (acme.id.clone(), fake.admin_base());
    let (key, fresh) = (minted_old.key.clone(), minted_new.key.clone());

    // job 5 begins
    let svc = AdminClient::builder(key.clone()).base_url(&base).build()?;
    let old = KeyRef::Label("automation".into());
    let rotator = AdminKeyRotator::new(svc.clone(), &org, key, old, fresh)
        .new_key(KeyRef::Label("automation-2027".into()))
        .consumer(FileConsumer::dotenv(&config, "ATLASSIAN_ADMIN_API_KEY"));
    let journal = FileJournal::new(dir.path().join("journal"))?;
    let report = rotate::rotate(&rotator, &journal, RotateOptions::new("admin-key")).await?;
    println!("{report}");
    // job 5 ends

    assert!(report.succeeded());
    assert!(
        !fake.admin_key_is_live(&minted_old.key),
        "the old key is revoked"
    );
    assert!(fake.admin_key_is_live(&minted_new.key));
    assert_eq!(std::fs::read_to_string(&config)?, line(&minted_new.key));
    svc.check_key(&org).await?; // the service's live client works, on the new key
    Ok(())
}

/// The line counts the README quotes: each job's body, as formatted.
#[test]
fn the_jobs_stay_short() {
    let source = include_str!("user_jobs.rs");
    let count = |job: &str| {
        let begin = format!("// job {job} begins");
        let end = format!("// job {job} ends");
        let body = &source[source.find(&begin).unwrap() + begin.len()..source.find(&end).unwrap()];
        body.lines().filter(|l| !l.trim().is_empty()).count()
    };
    assert!(count("1") <= 8, "job 1 takes {} lines", count("1"));
    assert!(count("2") <= 10, "job 2 takes {} lines", count("2"));
    // Job 3 took 17 lines before the 0.2 API; job 4 took 54.
    assert!(count("3") <= 17, "job 3 takes {} lines", count("3"));
    assert!(count("4") <= 12, "job 4 takes {} lines", count("4"));
    // The issue measured 12 lines for job 5 before the crate could do it at all.
    assert!(count("5") <= 12, "job 5 takes {} lines", count("5"));
}
