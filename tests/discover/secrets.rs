//! No secret in any Debug, Display, error or serialized output of the discovery types.

use super::*;
use atlassian_rotation::automation::{Finding, Scanner};
use atlassian_rotation::testing::{Fault, Route};
use base64::Engine as _;

/// Fails if `text` holds any of `secrets`, as is or in base64.
fn assert_clean(what: &str, text: &str, secrets: &[&str]) {
    for secret in secrets {
        assert!(
            !text.contains(secret),
            "a secret leaked into {what}: {text}"
        );
        let b64 = base64::engine::general_purpose::STANDARD.encode(secret);
        assert!(
            !text.contains(&b64[..b64.len() - 4]),
            "a secret leaked (base64) into {what}"
        );
    }
}

/// A rule named `name` with one web request to `url` that sends `Authorization:
/// authorization`.
fn webhook_rule(name: &str, url: &str, authorization: &str) -> serde_json::Value {
    serde_json::json!({"name": name, "state": "ENABLED", "components": [{
        "component": "ACTION", "type": "jira.issue.outgoing.webhook",
        "value": {"url": url, "headers": [
            {"name": "Authorization", "value": authorization, "headerSecure": false}
        ]}
    }]})
}

/// The inventory findings of the rules named `name`, each checked clean of `secrets` in every
/// way it can be shown (Debug, Display, JSON).
fn clean_findings_of<'a>(found: &'a [Finding], name: &str, secrets: &[&str]) -> Vec<&'a Finding> {
    let of_rule: Vec<&Finding> = found
        .iter()
        .filter(|f| f.rule_name.as_deref().is_some_and(|n| n.starts_with(name)))
        .collect();
    for finding in &of_rule {
        let json = serde_json::to_string(finding).unwrap();
        let shown = format!("{finding:?} {finding} {json}");
        assert_clean("an inventory finding", &shown, secrets);
    }
    of_rule
}

/// Every credential of a scenario: its tokens, the caller's and the Admin API key.
fn every_secret(scenario: &ExpiringUsage) -> Vec<&str> {
    let tokens = scenario.tokens.iter().map(|t| t.token.expose_secret());
    tokens
        .chain([
            scenario.caller.token().expose_secret(),
            scenario.org.admin_key.expose_secret(),
        ])
        .collect()
}

#[tokio::test]
async fn no_discovery_type_shows_a_credential() {
    let fake = FakeAtlassian::start().await;
    let scenario = fake.seed_expiring_usage(CLOUD, 2, time::Duration::days(9));
    let secrets = every_secret(&scenario);
    let client = automation(&fake, &scenario.caller);

    let scan =
        UsageScan::new(&client, Scanner::for_token(&scenario.tokens[1].token)).on_progress(|_| {});
    assert_clean("UsageScan", &format!("{scan:?}"), &secrets);
    let mut findings = scan.stream();
    let found = drain(&mut findings).await.unwrap();
    assert_eq!(found.len(), 3);
    assert_clean("Findings", &format!("{findings:?}"), &secrets);
    for finding in &found {
        assert_clean("Finding", &format!("{finding:?} {finding}"), &secrets);
        assert_clean(
            "Finding JSON",
            &serde_json::to_string(finding).unwrap(),
            &secrets,
        );
    }
    let summary = findings.summary();
    assert_clean(
        "ScanSummary",
        &format!(
            "{summary:?} {summary} {}",
            serde_json::to_string(summary).unwrap()
        ),
        &secrets,
    );

    // Identity lookups that fail, and rules that cannot be read: their errors are reported.
    fake.fault(Route::JiraMyself, Fault::status(500).times(1));
    fake.fault(Route::RuleGet, Fault::status(404));
    let resolve = ResolveIdentities::base_url(fake.jira_gateway_base(CLOUD)).options(quick());
    assert_clean("ResolveIdentities", &format!("{resolve:?}"), &secrets);
    let radar = ExpiryRadar::new(&admin_client(&fake, &scenario), &scenario.org.id, &client)
        .resolve_identities(resolve);
    assert_clean("ExpiryRadar", &format!("{radar:?}"), &secrets);
    let report = radar.run().await.unwrap();
    assert!(!report.scan.unread.is_empty(), "{:?}", report.scan);
    assert!(!report.unresolved.is_empty());
    assert_clean(
        "RadarReport",
        &format!(
            "{report:?} {report} {}",
            serde_json::to_string(&report).unwrap()
        ),
        &secrets,
    );
    assert_clean("ExpiringUsage", &format!("{scenario:?}"), &secrets);

    // An error that ends a scan.
    fake.fault(Route::RuleSummaries, Fault::status(400).times(1));
    let mut failing = UsageScan::new(&client, Scanner::inventory()).stream();
    let err = drain(&mut failing).await.unwrap_err();
    assert_clean("a scan error", &format!("{err} {err:?}"), &secrets);
}

/// Services that take an API key as the Basic user name (Freshdesk `KEY:X`, BambooHR
/// `KEY:x`) or in a URL's userinfo put the secret where an account email usually is: an
/// inventory names the account only when it is an email, never a secret in its place.
#[tokio::test]
async fn an_api_key_in_the_user_name_of_a_basic_value_or_a_url_is_not_shown_as_the_account() {
    let fake = FakeAtlassian::start().await;
    let scenario = fake.seed_expiring_usage(CLOUD, 1, time::Duration::days(9));
    let key = "fd-KEY-SECRET-0123456789abcdef";
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{key}:X"));
    let url = format!("https://{key}:x@acme.freshdesk.example/api/v2/tickets");
    fake.add_rule(
        CLOUD,
        webhook_rule("Freshdesk", &url, &format!("Basic {basic}")),
    );
    let client = automation(&fake, &scenario.caller);
    let mut findings = UsageScan::new(&client, Scanner::inventory()).stream();
    let found = drain(&mut findings).await.unwrap();
    assert_eq!(clean_findings_of(&found, "Freshdesk", &[key]).len(), 2);
    // Emails still name their accounts.
    assert!(
        found
            .iter()
            .any(|f| f.account_email.as_deref().is_some_and(|e| e.contains('@')))
    );
}

/// A careless rule spells its own credential in its name: an inventory (and the radar built on
/// it) shows that name redacted of every credential the rule holds, as a token scan redacts
/// the token it looks for.
#[tokio::test]
async fn a_credential_pasted_into_its_rules_name_is_redacted_from_inventory_findings() {
    let fake = FakeAtlassian::start().await;
    let scenario = fake.seed_expiring_usage(CLOUD, 1, time::Duration::days(9));
    let token = "ATATT3xFfGF0-pasted-SECRET-0123456789";
    let hook = "hook-SECRET-abcdef0123456789";
    let name = format!("Deploy (Bearer {token}, ?token={hook})");
    let url = format!("https://ci.example.com/hook?token={hook}");
    fake.add_rule(CLOUD, webhook_rule(&name, &url, &format!("Bearer {token}")));
    let client = automation(&fake, &scenario.caller);
    let mut findings = UsageScan::new(&client, Scanner::inventory()).stream();
    let found = drain(&mut findings).await.unwrap();
    assert_eq!(clean_findings_of(&found, "Deploy", &[token, hook]).len(), 2);
    let report = ExpiryRadar::new(&admin_client(&fake, &scenario), &scenario.org.id, &client)
        .run()
        .await
        .unwrap();
    assert_clean(
        "RadarReport",
        &format!(
            "{report:?} {report} {}",
            serde_json::to_string(&report).unwrap()
        ),
        &[token, hook],
    );
}

/// Nothing the radar logs at TRACE, identity lookups, failures and retries included, holds a
/// credential it found in a rule, the caller's token or the Admin API key.
#[tokio::test]
async fn the_radar_logs_no_credential_at_trace() {
    let fake = FakeAtlassian::start().await;
    let scenario = fake.seed_expiring_usage(CLOUD, 3, time::Duration::days(9));
    let secrets = every_secret(&scenario);
    // The gateway echoes what it was sent, and fails once; a rule read fails after a retry.
    let echo = format!("Bearer {} refused", secrets[0]);
    fake.fault(Route::JiraMyself, Fault::status(503).body(echo).times(2));
    fake.fault(Route::RuleGet, Fault::status(502).times(1));
    // The service-account listing refuses the Admin API key, echoing it: the radar logs the
    // kind as not covered, with why.
    let key = scenario.org.admin_key.expose_secret();
    let refused = format!(r#"{{"errors":[{{"title":"key {key} lacks a scope"}}]}}"#);
    fake.fault(
        Route::ServiceAccounts,
        Fault::status(403).body(refused).times(100),
    );
    let logs = super::support::LogCapture::default();
    let guard = logs.install();
    let report = ExpiryRadar::new(
        &admin_client(&fake, &scenario),
        &scenario.org.id,
        &automation(&fake, &scenario.caller),
    )
    .resolve_identities(ResolveIdentities::base_url(fake.jira_gateway_base(CLOUD)).options(quick()))
    .run()
    .await
    .unwrap();
    drop(guard);
    let text = logs.text();
    assert!(text.contains("atlassian_request"), "TRACE was captured");
    assert!(
        text.contains("not covered"),
        "the refused listing was logged"
    );
    assert!(report.identities.asked > 0);
    assert_clean("the radar's TRACE log", &text, &secrets);
}
