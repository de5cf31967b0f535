//! Verify counts distinct rules (found by a review: a listing that repeated one rewritten rule
//! in place of another passed the "targets seen" and "rules seen" checks, so verify never read
//! the hidden rule and finish revoked the old token it still held).

use atlassian_rotation::automation::{AutomationBase, AutomationClient};
use atlassian_rotation::rotate::{AutomationTokenRotator, OldToken, Rotator};
use atlassian_rotation::secret::{AdminApiKey, ApiCredentials};
use atlassian_rotation::testing::{FakeAtlassian, Fault, Route};
use atlassian_rotation::{AdminClient, ClientOptions, RetryPolicy};
use serde_json::json;
use time::{Duration, OffsetDateTime};

const CLOUD: &str = "cloud-r4";

fn webhook_rule(uuid: &str, name: &str, header: &str) -> serde_json::Value {
    json!({"uuid": uuid, "name": name, "state": "ENABLED", "components": [{"id": "1", "component": "ACTION",
        "type": "jira.issue.outgoing.webhook", "value": {"url": "https://relay.example.com",
        "method": "POST", "headers": [{"id": null, "name": "Authorization", "value": header,
        "headerSecure": false}]}, "children": [], "conditions": []}]})
}

#[tokio::test]
async fn a_listing_repeating_one_rule_cannot_hide_another_from_verify() {
    let fake = FakeAtlassian::start().await;
    let org = fake.add_org("Acme");
    let svc = fake.add_user("svc@example.com", "Service");
    let boss = fake.add_user("admin@example.com", "Admin");
    let later = OffsetDateTime::now_utc() + Duration::days(30);
    let (old_id, old_token) = fake.mint_api_token(&svc.account_id, "automation", later);
    let (_, new) = fake.mint_api_token(&svc.account_id, "automation-2026", later);
    let (_, caller_token) = fake.mint_api_token(&boss.account_id, "tool", later);
    let old = ApiCredentials::new(&svc.email, old_token.clone());
    let header = format!("Bearer {}", old_token.expose_secret());
    let x = "0192e5ac-0e25-71de-ba7b-d972e6a20001";
    let y = "0192e5ac-0e25-71de-ba7b-d972e6a20002";
    fake.add_rule(CLOUD, webhook_rule(x, "X", &header));
    fake.add_rule(CLOUD, webhook_rule(y, "Y", &header));
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
    let rotator = AutomationTokenRotator::new(client, fake.site_base(), old.clone(), new.clone())
        .unwrap()
        .concurrency(1)
        .revoke_with(admin, &svc.account_id, OldToken::Id(old_id))
        .accept_unreadable(true);

    // Hostile server: acknowledges the first PUT (rule X) without applying it.
    fake.fault(Route::RulePut, Fault::status(200).body("{}").times(1));
    let updated = rotator.update(&new).await.unwrap();
    assert_eq!(updated.rewritten, 2);
    assert_eq!(
        fake.rules_holding(&old),
        vec![x.to_owned()],
        "X still holds the old token"
    );

    // Verify's listing: Y twice, X not at all.
    let summary = |u: &str| json!({"uuid": u, "name": "Y", "state": "ENABLED"});
    fake.fault(
        Route::RuleSummaries,
        Fault::status(200)
            .body(
                json!({"links": {"self": null, "next": null, "prev": null},
                "data": [summary(y), summary(y)]})
                .to_string(),
            )
            .times(1),
    );
    let verified = rotator.verify(&new, &updated).await;
    if verified.is_ok() {
        let finished = rotator.finish(&new, &updated).await;
        let revoked = !fake.token_is_live(&old_token);
        assert!(
            !revoked,
            "old token revoked (finish ok={}) while rule X still holds it: {:?}",
            finished.is_ok(),
            fake.rules_holding(&old)
        );
    }
}
