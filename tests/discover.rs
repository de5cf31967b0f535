//! Discovery as library calls, against the fake: the live "who uses this token" scan
//! ([`UsageScan`]) and the expiry radar ([`ExpiryRadar`]).

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use atlassian_rotation::automation::{AutomationClient, Finding, FindingStatus};
use atlassian_rotation::discover::{ExpiryRadar, Findings, ResolveIdentities, UsageScan};
use atlassian_rotation::rotate::Progress;
use atlassian_rotation::secret::{ApiCredentials, ApiToken};
use atlassian_rotation::testing::{ExpiringUsage, FakeAtlassian, FakeUser, RuleSeed};
use atlassian_rotation::{AdminClient, ClientOptions, RetryPolicy};
use futures::TryStreamExt as _;
use time::OffsetDateTime;

const CLOUD: &str = "cloud-disc";

/// A site with an admin who reads the rules, and a service account whose token sits in a share
/// of them.
struct Site {
    fake: FakeAtlassian,
    admin: ApiCredentials,
    svc: FakeUser,
    token: ApiToken,
}

async fn site(rules: usize) -> Site {
    let fake = FakeAtlassian::start().await;
    let now = OffsetDateTime::now_utc();
    let admin = fake.add_user("admin@example.com", "Admin");
    let (_, admin_token) =
        fake.mint_api_token(&admin.account_id, "tools", now + time::Duration::days(300));
    let svc = fake.add_user("svc@example.com", "Service");
    let (_, token) = fake.mint_api_token(&svc.account_id, "hooks", now + time::Duration::days(9));
    fake.seed_rules(
        CLOUD,
        RuleSeed::new(rules)
            .with_token(&svc.email, token.clone())
            .fraction_with_token(0.3),
    );
    Site {
        fake,
        admin: ApiCredentials::new(admin.email, admin_token),
        svc,
        token,
    }
}

/// Quick retries: tiny backoff, no wait past 5 s.
fn quick() -> ClientOptions {
    ClientOptions::new().retry_policy(
        RetryPolicy::default()
            .backoff(
                std::time::Duration::from_millis(1),
                std::time::Duration::from_millis(5),
            )
            .deadline(std::time::Duration::from_secs(5)),
    )
}

fn automation(fake: &FakeAtlassian, caller: &ApiCredentials) -> AutomationClient {
    AutomationClient::builder(caller.clone())
        .base_url(fake.automation_base(CLOUD))
        .options(quick())
        .build()
        .unwrap()
}

fn admin_client(fake: &FakeAtlassian, scenario: &ExpiringUsage) -> AdminClient {
    AdminClient::builder(scenario.org.admin_key.clone())
        .base_url(fake.admin_base())
        .options(quick())
        .build()
        .unwrap()
}

fn rules_of(findings: &[Finding], status: FindingStatus) -> BTreeSet<String> {
    findings
        .iter()
        .filter(|f| f.status == status)
        .filter_map(|f| f.rule_uuid.clone())
        .collect()
}

/// Every progress report of a scan.
fn recorder() -> (
    Arc<Mutex<Vec<Progress>>>,
    impl Fn(Progress) + Send + Sync + 'static,
) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = Arc::clone(&seen);
    (seen, move |p| record.lock().unwrap().push(p))
}

async fn drain(findings: &mut Findings) -> atlassian_rotation::Result<Vec<Finding>> {
    findings.try_collect().await
}

#[path = "discover/radar.rs"]
mod radar;
#[path = "discover/radar_review.rs"]
mod radar_review;
#[path = "discover/scan.rs"]
mod scan;
#[path = "discover/secrets.rs"]
mod secrets;
#[path = "support/mod.rs"]
mod support;
