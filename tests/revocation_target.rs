//! An old-token id naming the NEW token is never revoked (found by a review: the only guard was
//! "it is the newest token of the account", and one more token minted after the new one
//! defeated it). Finish now authenticates with the new token between two readings of the
//! token list, and refuses a target whose last access moved.

use atlassian_rotation::automation::{AutomationBase, AutomationClient};
use atlassian_rotation::rotate::{
    self, AutomationTokenRotator, MemoryJournal, OldToken, RotateOptions,
};
use atlassian_rotation::secret::{AdminApiKey, ApiCredentials};
use atlassian_rotation::testing::{FakeAtlassian, RuleSeed};
use atlassian_rotation::{AdminClient, ClientOptions, RetryPolicy};
use time::{Duration, OffsetDateTime};

const CLOUD: &str = "cloud-r4b";

#[tokio::test]
async fn an_id_naming_the_new_token_is_never_revoked_even_when_it_is_not_the_newest() {
    let fake = FakeAtlassian::start().await;
    let org = fake.add_org("Acme");
    let svc = fake.add_user("svc@example.com", "Service");
    let boss = fake.add_user("admin@example.com", "Admin");
    let later = OffsetDateTime::now_utc() + Duration::days(30);
    let (_old_id, old_token) = fake.mint_api_token(&svc.account_id, "automation", later);
    let (new_id, new) = fake.mint_api_token(&svc.account_id, "automation-2026", later);
    // Minted after the new token: some other integration of the service account.
    let (_other, _) = fake.mint_api_token(&svc.account_id, "backup-job", later);
    let (_, caller_token) = fake.mint_api_token(&boss.account_id, "tool", later);
    fake.seed_rules(
        CLOUD,
        RuleSeed::new(10)
            .with_token(&svc.email, old_token.clone())
            .fraction_with_token(0.5),
    );
    let caller = ApiCredentials::new(&boss.email, caller_token);
    let client = AutomationClient::with_options(
        AutomationBase::url(&fake.automation_base(CLOUD)).unwrap(),
        &caller,
        ClientOptions::new().retry_policy(RetryPolicy::none()),
    )
    .unwrap();
    let admin = AdminClient::with_options(
        AdminApiKey::new(org.admin_key.expose_secret()),
        ClientOptions::new().base_url(fake.admin_base()),
    )
    .unwrap();
    let old = ApiCredentials::new(&svc.email, old_token);
    let rotator = AutomationTokenRotator::new(client, fake.site_base(), old, new.clone())
        .unwrap()
        // Careless operator: the NEW token's id.
        .revoke_with(admin, &svc.account_id, OldToken::Id(new_id))
        .accept_unreadable(true);
    let report = rotate::rotate(
        &rotator,
        &MemoryJournal::new(),
        RotateOptions::new("r4-newid"),
    )
    .await;
    let new_creds = ApiCredentials::new(&svc.email, new.clone());
    assert!(
        fake.token_is_live(&new),
        "the new token was revoked after {} rules were switched to it (error: {:?})",
        fake.rules_holding(&new_creds).len(),
        report.err().map(|e| e.error.to_string())
    );
}
