//! The two discovery jobs of issue 11, written as a user would write them against the crate's
//! public API (only the setup of the fake is test scaffolding). The lines between each job's
//! `begins` and `ends` comments are the job; the counts are in the README.

use std::time::Duration;

use atlassian_rotation::AdminClient;
use atlassian_rotation::automation::{AutomationClient, Scanner};
use atlassian_rotation::discover::{ExpiryRadar, Progress, ResolveIdentities, UsageScan};
use atlassian_rotation::testing::{FakeAtlassian, Fault, Route, RuleSeed};
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
    assert_eq!(scenario.basic_rules().len(), 3);
    assert!(report.is_complete());
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
}
