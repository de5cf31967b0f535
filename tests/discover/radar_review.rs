//! Adversarial review of the expiry radar: a report must not read "complete" or "nothing
//! expires" when it could not tell, and a hostile server must not put a secret in it.

use super::*;
use atlassian_rotation::discover::{Coverage, CredentialKind, RadarReport};
use atlassian_rotation::testing::{Fault, Route};
use serde_json::json;

/// The radar over one org, its Admin API key and the rules the scenario's caller reads, with
/// identity resolution on, so that every use the scenario seeds is attributed.
fn radar_of(fake: &FakeAtlassian, scenario: &ExpiringUsage) -> ExpiryRadar {
    ExpiryRadar::new(
        &admin_client(fake, scenario),
        &scenario.org.id,
        &automation(fake, &scenario.caller),
    )
    .resolve_identities(ResolveIdentities::base_url(fake.jira_gateway_base(CLOUD)).options(quick()))
}

/// The rules listed under the credential `id`.
fn rules_under(report: &RadarReport, id: &str) -> BTreeSet<String> {
    let credential = report
        .expiring
        .iter()
        .find(|c| c.id == id)
        .unwrap_or_else(|| panic!("{id} not in the report:\n{report}"));
    credential
        .uses
        .iter()
        .filter_map(|u| u.finding.rule_uuid.clone())
        .collect()
}

/// One pair of accounts with expiring tokens in rules, and a service account whose token
/// (expiring in 5 days) sits in `rules` rules of its own.
async fn with_service_account(
    rules: usize,
) -> (
    FakeAtlassian,
    ExpiringUsage,
    atlassian_rotation::testing::ServiceAccountUsage,
) {
    let fake = FakeAtlassian::start().await;
    let scenario = fake.seed_expiring_usage(CLOUD, 1, time::Duration::days(9));
    let org = &scenario.org.id;
    let ci = fake.seed_service_account_usage(CLOUD, org, "ci-bot", rules, time::Duration::days(5));
    (fake, scenario, ci)
}

/// A service account listed without its email (the experimental API's fields are not
/// guaranteed): its rules name it by email, so the join by account cannot find them. The
/// report must not then say, complete, that its expiring token is used by no rule.
#[tokio::test]
async fn a_service_account_listed_without_its_email_does_not_read_as_unused() {
    let (fake, scenario, ci) = with_service_account(4).await;
    let page = json!({
        "items": [{"id": ci.account.id, "atlassianId": ci.account.account_id,
                   "displayName": ci.account.display_name, "status": "ACTIVE"}],
        "links": {"next": null}, "total": 1
    });
    fake.fault(
        Route::ServiceAccounts,
        Fault::status(200).body(page.to_string()),
    );
    let report = radar_of(&fake, &scenario)
        .kinds([CredentialKind::ServiceAccountToken])
        .run()
        .await
        .unwrap();
    let found = rules_under(&report, &ci.token_id);
    assert!(
        found == ci.rules.iter().cloned().collect() || !report.is_complete(),
        "a complete report lists {} of the {} rules that use the service account's token:\n{report}",
        found.len(),
        ci.rules.len()
    );
}

/// A user token listed without its user: nothing can be joined to it. A complete report with
/// no use under it would say no rule uses it.
#[tokio::test]
async fn a_user_token_listed_without_its_user_does_not_read_as_unused() {
    let fake = FakeAtlassian::start().await;
    let scenario = fake.seed_expiring_usage(CLOUD, 1, time::Duration::days(9));
    let token = &scenario.tokens[0];
    let expiry = (OffsetDateTime::now_utc() + time::Duration::days(9))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let page = json!({
        "data": [{"id": token.token_id, "label": "hooks", "status": "ALLOWED",
                  "expiresAt": expiry}],
        "links": {"next": null}
    });
    fake.fault(Route::OrgTokens, Fault::status(200).body(page.to_string()));
    let report = radar_of(&fake, &scenario)
        .kinds([CredentialKind::UserApiToken])
        .run()
        .await
        .unwrap();
    assert!(
        !rules_under(&report, &token.token_id).is_empty() || !report.is_complete(),
        "a complete report says no rule uses the token, yet {} do:\n{report}",
        token.rules.len()
    );
}

/// An expiry the radar cannot read (not RFC 3339: a date alone) must not drop the credential
/// from a report that then says "nothing expires".
#[tokio::test]
async fn an_unreadable_expiry_is_not_read_as_nothing_expires() {
    let fake = FakeAtlassian::start().await;
    let scenario = fake.seed_expiring_usage(CLOUD, 1, time::Duration::days(9));
    let page = json!({
        "data": [{"id": "key-1", "label": "automation", "createdAt": "2026-01-01T00:00:00Z",
                  "expiresAt": "2026-12-10", "scopes": ["read:keys:admin"]}],
        "links": {"next": null}
    });
    fake.fault(Route::AdminKeys, Fault::status(200).body(page.to_string()));
    let report = radar_of(&fake, &scenario)
        .kinds([CredentialKind::AdminApiKey])
        .as_of(time::macros::datetime!(2026-12-01 00:00 UTC))
        .within(std::time::Duration::from_secs(30 * 86_400))
        .run()
        .await
        .unwrap();
    assert!(
        report.expiring.iter().any(|c| c.id == "key-1") || !report.is_complete(),
        "a key expiring on 2026-12-10 is missing from a complete report:\n{report}"
    );
}

/// A hostile server echoes the caller's Admin API key in an error body: the report's
/// `NotCovered.reason` (Display, Debug, JSON) must not carry it (the TRACE log of the same
/// refusal: `secrets::the_radar_logs_no_credential_at_trace`).
#[tokio::test]
async fn an_error_body_echoing_the_admin_key_stays_out_of_the_report() {
    let fake = FakeAtlassian::start().await;
    let scenario = fake.seed_expiring_usage(CLOUD, 1, time::Duration::days(9));
    let key = scenario.org.admin_key.expose_secret().to_owned();
    let body = json!({"errors": [{"status": "403", "title": format!("key {key} lacks a scope"),
                      "detail": format!("Authorization: Bearer {key}")}]});
    fake.fault(
        Route::ServiceAccounts,
        Fault::status(403).body(body.to_string()).times(100),
    );
    let report = radar_of(&fake, &scenario).run().await.unwrap();
    assert!(
        matches!(
            report.coverage.last(),
            Some(Coverage::NotCovered {
                status: Some(403),
                ..
            })
        ),
        "{report}"
    );
    assert!(!report.is_complete());
    for (what, text) in [
        ("Display", report.to_string()),
        ("Debug", format!("{report:?}")),
        ("JSON", serde_json::to_string(&report).unwrap()),
    ] {
        assert!(!text.contains(&key), "the Admin API key leaked in {what}");
    }
}

/// A service account's token list that links to itself forever, and another's that answers
/// 429 without end: the run ends, each is reported not covered, the other kinds come back.
#[tokio::test]
async fn a_looping_or_throttled_service_account_listing_ends_not_covered() {
    let fake = FakeAtlassian::start().await;
    let scenario = fake.seed_expiring_usage(CLOUD, 1, time::Duration::days(9));
    fake.seed_service_account_usage(
        CLOUD,
        &scenario.org.id,
        "ci-bot",
        1,
        time::Duration::days(5),
    );
    let looping = json!({"data": [{"id": "t-1", "label": "loop"}],
                         "links": {"next": "?cursor=again"}});
    fake.fault(
        Route::ServiceAccountTokens,
        Fault::status(200).body(looping.to_string()).times(1_000),
    );
    let report = radar_of(&fake, &scenario).run().await.unwrap();
    assert!(!report.is_complete(), "{report}");
    assert!(
        matches!(
            report.coverage.last(),
            Some(Coverage::NotCovered {
                kind: CredentialKind::ServiceAccountToken,
                ..
            })
        ),
        "{report}"
    );
    assert!(fake.request_count(Route::ServiceAccountTokens) < 10);

    fake.clear_faults();
    fake.fault(
        Route::ServiceAccountTokens,
        Fault::status(429).times(10_000),
    );
    let report = radar_of(&fake, &scenario).run().await.unwrap();
    assert!(!report.is_complete(), "{report}");
    assert!(
        report
            .expiring
            .iter()
            .any(|c| c.kind == CredentialKind::UserApiToken)
    );
    assert!(!report.to_string().starts_with("nothing expires"));
}

/// A listing that serves the same service account on two pages (a cursor that moves, an
/// offset that does not): its token must be listed once, not twice with every use doubled,
/// and the kind is not covered (the repeat may have hidden another account), as a rule
/// listing that repeats a rule is not a complete scan.
#[tokio::test]
async fn a_page_served_twice_lists_each_credential_once() {
    let (fake, scenario, ci) = with_service_account(2).await;
    let account = json!({"id": ci.account.id, "atlassianId": ci.account.account_id,
                         "email": ci.account.email, "displayName": ci.account.display_name});
    let first = json!({"items": [account], "links": {"next": "?cursor=p2"}, "total": 1});
    let again = json!({"items": [account], "links": {"next": null}, "total": 1});
    fake.fault(
        Route::ServiceAccounts,
        Fault::status(200).body(first.to_string()),
    );
    fake.fault(
        Route::ServiceAccounts,
        Fault::status(200).body(again.to_string()),
    );
    let report = radar_of(&fake, &scenario)
        .kinds([CredentialKind::ServiceAccountToken])
        .run()
        .await
        .unwrap();
    let listed: Vec<&str> = report
        .expiring
        .iter()
        .map(|c| c.id.as_str())
        .filter(|id| *id == ci.token_id)
        .collect();
    assert_eq!(listed.len(), 1, "the token is listed once:\n{report}");
    assert_eq!(report.expiring[0].uses.len(), ci.rules.len(), "{report}");
    // The page served twice may have stood in for one that listed another account.
    assert!(!report.is_complete(), "{report}");
    assert!(
        report.to_string().contains("more than once"),
        "the report says why: {report}"
    );
}

/// Nothing in the window among the kinds listed, and one kind refused: the report's first
/// line must not say, flatly, that nothing expires.
#[tokio::test]
async fn nothing_listed_with_a_kind_refused_does_not_read_nothing_expires() {
    let fake = FakeAtlassian::start().await;
    let scenario = fake.seed_expiring_usage(CLOUD, 1, time::Duration::days(9));
    fake.fault(Route::ServiceAccounts, Fault::status(403).times(100));
    let report = radar_of(&fake, &scenario)
        .within(std::time::Duration::from_secs(86_400))
        .run()
        .await
        .unwrap();
    assert!(report.expiring.is_empty() && !report.is_complete());
    let text = report.to_string();
    let first = text.lines().next().unwrap_or_default();
    assert!(
        !first.starts_with("nothing expires"),
        "a kind was not listed, yet the report opens with {first:?}:\n{text}"
    );
    assert!(
        text.contains("service-account tokens: not covered"),
        "{text}"
    );
}
