//! The expiry radar: every credential form, identity resolution, unresolved uses.

use super::*;
use atlassian_rotation::admin::{AdminKeyQuery, OrgTokenQuery, OrgTokenStatus};
use atlassian_rotation::discover::{
    Attribution, Coverage, CredentialKind, ExpiringCredential, RadarReport, Unresolved, WhereUsed,
};
use atlassian_rotation::testing::{FakeAdminKey, Fault, Route, ServiceAccountUsage};

/// The classic scenario: 12 rules use tokens of expiring accounts, only 3 in `Basic`.
async fn scenario() -> (FakeAtlassian, ExpiringUsage) {
    let fake = FakeAtlassian::start().await;
    let scenario = fake.seed_expiring_usage(CLOUD, 3, time::Duration::days(9));
    (fake, scenario)
}

fn radar(fake: &FakeAtlassian, scenario: &ExpiringUsage) -> ExpiryRadar {
    ExpiryRadar::new(
        &admin_client(fake, scenario),
        &scenario.org.id,
        &automation(fake, &scenario.caller),
    )
    .within(std::time::Duration::from_secs(30 * 86_400))
}

fn resolve(fake: &FakeAtlassian) -> ResolveIdentities {
    ResolveIdentities::base_url(fake.jira_gateway_base(CLOUD)).options(quick())
}

/// The rules listed under each expiring token, by token id.
fn listed(report: &RadarReport) -> Vec<(String, BTreeSet<String>)> {
    report
        .expiring
        .iter()
        .map(|c| {
            let rules = c
                .uses
                .iter()
                .map(|u| u.finding.rule_uuid.clone().unwrap())
                .collect();
            (c.id.clone(), rules)
        })
        .collect()
}

fn expected(scenario: &ExpiringUsage) -> Vec<(String, BTreeSet<String>)> {
    scenario
        .tokens
        .iter()
        .map(|t| (t.token_id.clone(), t.rules.iter().cloned().collect()))
        .collect()
}

#[tokio::test]
async fn with_identity_resolution_the_radar_finds_all_twelve_rules() {
    let (fake, scenario) = scenario().await;
    let report = radar(&fake, &scenario)
        .resolve_identities(resolve(&fake))
        .run()
        .await
        .unwrap();
    assert_eq!(
        listed(&report),
        expected(&scenario),
        "soonest first, every form"
    );
    let uses: usize = report.expiring.iter().map(|c| c.uses.len()).sum();
    assert_eq!(uses, 12);
    assert!(report.unresolved.is_empty(), "{:?}", report.unresolved);
    assert!(report.is_complete());
    assert_eq!(report.scan.rules_read, 12);
    assert!(
        report
            .expiring
            .iter()
            .all(|c| c.kind == CredentialKind::UserApiToken)
    );
    for (credential, token) in report.expiring.iter().zip(&scenario.tokens) {
        let owner = credential.owner.as_ref().unwrap();
        assert_eq!(owner.email.as_deref(), Some(token.user.email.as_str()));
        let expected = if token.scoped {
            Attribution::Myself
        } else {
            Attribution::InRule
        };
        assert!(credential.uses.iter().all(|u| u.attributed_by == expected));
        let fingerprints: BTreeSet<Option<String>> = credential
            .uses
            .iter()
            .map(|u| u.credential.clone())
            .collect();
        assert_eq!(
            fingerprints,
            [Some(token.token.fingerprint())].into_iter().collect()
        );
    }
    // /myself was asked once per distinct credential (3 scoped tokens in 9 rules), only as a
    // Bearer token on the gateway: never with an email, never on the site.
    assert_eq!(report.identities.asked, 3);
    assert_eq!(report.identities.resolved, 3);
    let myself: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| r.route() == Some(Route::JiraMyself))
        .collect();
    assert_eq!(myself.len(), 3);
    assert!(myself.iter().all(|r| r.auth_scheme() == Some("Bearer")
        && r.path() == format!("/ex/jira/{CLOUD}/rest/api/3/myself")));
    let asked: BTreeSet<&str> = myself
        .iter()
        .filter_map(|r| r.expose_authorization())
        .collect();
    assert_eq!(asked.len(), 3, "three distinct credentials");
}

#[tokio::test]
async fn without_identity_resolution_the_nine_uses_without_an_email_are_unresolved() {
    let (fake, scenario) = scenario().await;
    let report = radar(&fake, &scenario).run().await.unwrap();
    let uses: BTreeSet<String> = report
        .expiring
        .iter()
        .flat_map(|c| c.uses.iter().map(|u| u.finding.rule_uuid.clone().unwrap()))
        .collect();
    assert_eq!(uses, scenario.basic_rules().into_iter().collect());
    assert_eq!(report.unresolved.len(), 9);
    assert!(
        report
            .unresolved
            .iter()
            .all(|u| u.reason == Unresolved::NotAsked)
    );
    let unresolved_rules: BTreeSet<String> = report
        .unresolved
        .iter()
        .map(|u| u.finding.rule_uuid.clone().unwrap())
        .collect();
    let scoped_rules: BTreeSet<String> = scenario
        .tokens
        .iter()
        .filter(|t| t.scoped)
        .flat_map(|t| t.rules.clone())
        .collect();
    assert_eq!(unresolved_rules, scoped_rules);
    assert!(!report.is_complete());
    assert_eq!(report.identities.asked, 0);
    assert_eq!(fake.request_count(Route::JiraMyself), 0);
}

/// A classic token sits in `Basic` (with its email) and also as `Bearer` and in a URL: the
/// other forms take the account from the `Basic` value, with no request. A classic token found
/// only as `Bearer` is refused by `/myself` (it authenticates with its email only) and stays
/// unresolved; a masked value is unreadable.
#[tokio::test]
async fn the_same_secret_named_elsewhere_resolves_and_a_bare_classic_token_is_refused() {
    let (fake, scenario) = scenario().await;
    let now = OffsetDateTime::now_utc();
    let ops = &scenario.tokens[0];
    assert!(!ops.scoped);
    // The same classic token, now in all four forms.
    let everywhere = fake.seed_rules(
        CLOUD,
        RuleSeed::new(4)
            .with_token(&ops.user.email, ops.token.clone())
            .fraction_with_token(1.0)
            .seed(99),
    );
    // A classic token of another expiring account, only as Bearer and the like.
    let carol = fake.add_user("carol@example.com", "Carol");
    let (carol_id, carol_token) =
        fake.mint_api_token(&carol.account_id, "laptop", now + time::Duration::days(3));
    let carol_rules = fake.seed_rules(
        CLOUD,
        RuleSeed::new(3)
            .with_token(&carol.email, carol_token)
            .fraction_with_token(1.0)
            .without_basic()
            .seed(98),
    );
    // Noise: masked values, secret references, a stranger's token, no credential.
    fake.seed_rules(CLOUD, RuleSeed::new(5).seed(97));

    let report = radar(&fake, &scenario)
        .resolve_identities(resolve(&fake))
        .run()
        .await
        .unwrap();
    let ops_uses = &report
        .expiring
        .iter()
        .find(|c| c.id == ops.token_id)
        .unwrap()
        .uses;
    let ops_rules: BTreeSet<String> = ops_uses
        .iter()
        .map(|u| u.finding.rule_uuid.clone().unwrap())
        .collect();
    let mut expected_rules: BTreeSet<String> = ops.rules.iter().cloned().collect();
    expected_rules.extend(everywhere);
    assert_eq!(ops_rules, expected_rules);
    assert_eq!(
        ops_uses
            .iter()
            .filter(|u| u.attributed_by == Attribution::SameCredential)
            .count(),
        3
    );
    let carol_listed = report.expiring.iter().find(|c| c.id == carol_id).unwrap();
    assert!(carol_listed.uses.is_empty());
    let refused: BTreeSet<String> = report
        .unresolved
        .iter()
        .filter(|u| u.reason == Unresolved::Refused { status: 401 })
        .map(|u| u.finding.rule_uuid.clone().unwrap())
        .collect();
    assert!(
        carol_rules.iter().all(|r| refused.contains(r)),
        "Carol's classic token cannot be resolved without her email"
    );
    assert!(
        report
            .unresolved
            .iter()
            .any(|u| u.reason == Unresolved::Unreadable)
    );
    // The stranger's Bearer token and Carol's are asked once each; ops' secret never.
    assert_eq!(report.identities.asked, 3 + 2);
    assert_eq!(report.identities.refused, 2);
    assert!(
        fake.requests()
            .iter()
            .filter(|r| r.route() == Some(Route::JiraMyself))
            .all(|r| r.auth_scheme() == Some("Bearer"))
    );
}

#[tokio::test]
async fn the_window_and_the_status_query_choose_the_tokens_and_nothing_due_reads_no_rule() {
    let (fake, scenario) = scenario().await;
    let soon = radar(&fake, &scenario)
        .within(std::time::Duration::from_secs(86_400))
        .run()
        .await
        .unwrap();
    assert!(soon.expiring.is_empty(), "everything expires in 9 days");
    assert!(soon.is_complete());
    assert_eq!(
        fake.request_count(Route::RuleSummaries),
        0,
        "no rule was read"
    );
    assert!(
        soon.to_string()
            .starts_with("nothing expires within 1 days")
    );

    let later = radar(&fake, &scenario)
        .as_of(OffsetDateTime::now_utc() + time::Duration::days(20))
        .within(std::time::Duration::ZERO)
        .query(OrgTokenQuery::new().status(OrgTokenStatus::Allowed))
        .run()
        .await
        .unwrap();
    // 20 days on, they have all expired, but the API still calls them ALLOWED today.
    assert_eq!(later.expiring.len(), 6);
    assert!(
        fake.requests()
            .iter()
            .any(|r| r.route() == Some(Route::OrgTokens)
                && r.query().is_some_and(|q| q.contains("status=ALLOWED")))
    );
}

#[tokio::test]
async fn a_failing_identity_lookup_is_reported_and_a_report_round_trips() {
    let (fake, scenario) = scenario().await;
    fake.fault(Route::JiraMyself, Fault::status(500).times(100));
    let report = radar(&fake, &scenario)
        .resolve_identities(resolve(&fake))
        .run()
        .await
        .unwrap();
    assert_eq!(report.unresolved.len(), 9);
    assert!(report.unresolved.iter().all(
        |u| matches!(&u.reason, Unresolved::Failed { message } if message.contains("HTTP 500"))
    ));
    assert_eq!(report.identities.failed, 3);
    let json = serde_json::to_string(&report).unwrap();
    let back: RadarReport = serde_json::from_str(&json).unwrap();
    assert_eq!(back, report);
    let table = report.to_string();
    assert!(table.starts_with("EXPIRES"), "{table}");
    assert!(table.contains("9 uses whose account is unknown"), "{table}");
}

/// Identity requests are bounded: with a concurrency of 2, six distinct credentials are asked
/// two at a time (the fake holds every `/myself` until the test opens its gate).
#[tokio::test(start_paused = true)]
async fn identity_requests_are_bounded() {
    let fake = FakeAtlassian::start().await;
    let scenario = fake.seed_expiring_usage(CLOUD, 6, time::Duration::days(9));
    let gate = atlassian_rotation::testing::Gate::new();
    fake.fault(Route::JiraMyself, Fault::wait_for(&gate).times(100));
    let radar = radar(&fake, &scenario).resolve_identities(resolve(&fake).concurrency(2));
    let running = tokio::spawn(async move { radar.run().await });
    gate.until_waiting(2).await;
    for _ in 0..50 {
        tokio::task::yield_now().await;
    }
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    assert_eq!(gate.waiting(), 2, "no third identity request in flight");
    gate.open();
    let report = running.await.unwrap().unwrap();
    assert_eq!(report.identities.asked, 6);
    assert_eq!(report.identities.resolved, 6);
    assert_eq!(fake.request_count(Route::JiraMyself), 6);
}

/// The stream can be handed to another task.
#[tokio::test]
async fn the_findings_stream_moves_across_tasks() {
    let (fake, scenario) = scenario().await;
    let findings = UsageScan::new(
        &automation(&fake, &scenario.caller),
        atlassian_rotation::automation::Scanner::inventory(),
    )
    .stream();
    let counted = tokio::spawn(async move {
        let mut findings = findings;
        let found = drain(&mut findings).await.unwrap();
        (found.len(), findings.summary().rules_read)
    });
    assert_eq!(counted.await.unwrap(), (12, 12));
}

/// A hostile rule set (anyone who may edit a project's rules can write one) holding thousands
/// of distinct credentials cannot make identity resolution send a request for each: past
/// `max_credentials` distinct credentials (default 100) nothing more is asked, and every use
/// left over is reported unresolved, none dropped.
#[tokio::test]
async fn a_rule_set_with_thousands_of_distinct_credentials_cannot_flood_the_gateway() {
    let (fake, scenario) = scenario().await;
    let headers: Vec<serde_json::Value> = (0..1_500)
        .map(|i| {
            serde_json::json!({"name": "Authorization",
                "value": format!("Bearer hostile-credential-{i:05}-padding"), "headerSecure": false})
        })
        .collect();
    let flood = fake.add_rule(
        CLOUD,
        serde_json::json!({"name": "Flood", "state": "ENABLED", "components": [{
            "component": "ACTION", "type": "jira.issue.outgoing.webhook",
            "value": {"url": "https://hooks.example.com/x", "headers": headers}
        }]}),
    );
    // Every use of the flood rule is reported, attributed or not.
    let flood_uses = |report: &RadarReport| -> usize {
        let of_flood = |f: &atlassian_rotation::automation::Finding| {
            f.rule_uuid.as_deref() == Some(flood.as_str())
        };
        let listed: BTreeSet<String> = report
            .expiring
            .iter()
            .flat_map(|c| c.uses.iter().map(|u| &u.finding))
            .chain(report.unresolved.iter().map(|u| &u.finding))
            .filter(|f| of_flood(f))
            .map(|f| f.pointer.clone())
            .collect();
        listed.len()
    };

    let report = radar(&fake, &scenario)
        .resolve_identities(resolve(&fake))
        .run()
        .await
        .unwrap();
    let asked = fake.request_count(Route::JiraMyself);
    assert!(asked <= 100, "{asked} identity requests for one radar run");
    assert_eq!(flood_uses(&report), 1_500);

    fake.clear_requests();
    let report = radar(&fake, &scenario)
        .resolve_identities(resolve(&fake).max_credentials(50))
        .run()
        .await
        .unwrap();
    let asked = fake.request_count(Route::JiraMyself);
    assert!(asked <= 50, "{asked} identity requests for one radar run");
    assert_eq!(report.identities.asked, asked);
    let over = report
        .unresolved
        .iter()
        .filter(|u| u.reason == Unresolved::OverLimit { limit: 50 })
        .count();
    assert!(over >= 1_500 - 50, "{over} uses left unasked");
    assert_eq!(flood_uses(&report), 1_500);
    assert!(!report.is_complete());
    assert!(report.to_string().contains("not asked"), "{report}");
}

/// The classic scenario, plus a service account whose token (5 days) sits in 4 rules, an
/// Admin API key expiring in 3 days, and two keys that must not be listed: one expiring in
/// 90 days, one revoked.
async fn every_kind() -> (
    FakeAtlassian,
    ExpiringUsage,
    ServiceAccountUsage,
    FakeAdminKey,
) {
    let (fake, scenario) = scenario().await;
    let org = &scenario.org.id;
    let ci = fake.seed_service_account_usage(CLOUD, org, "ci-bot", 4, time::Duration::days(5));
    let in_days = |days| OffsetDateTime::now_utc() + time::Duration::days(days);
    let key = fake.mint_admin_key(org, "automation", &[], in_days(3));
    fake.mint_admin_key(org, "later", &[], in_days(90));
    let revoked = fake.mint_admin_key(org, "gone", &[], in_days(2));
    assert!(fake.revoke_admin_key(&revoked.id));
    (fake, scenario, ci, key)
}

fn rules_of_uses(credential: &ExpiringCredential) -> BTreeSet<String> {
    credential
        .uses
        .iter()
        .map(|u| u.finding.rule_uuid.clone().unwrap())
        .collect()
}

#[tokio::test]
async fn every_kind_is_listed_with_where_it_is_used() {
    let (fake, scenario, ci, key) = every_kind().await;
    let report = radar(&fake, &scenario)
        .resolve_identities(resolve(&fake))
        .run()
        .await
        .unwrap();
    assert!(report.is_complete(), "{report}");
    let kinds: Vec<CredentialKind> = report.expiring.iter().map(|c| c.kind).collect();
    let mut expected_kinds = vec![
        CredentialKind::AdminApiKey,
        CredentialKind::ServiceAccountToken,
    ];
    expected_kinds.extend([CredentialKind::UserApiToken; 6]);
    assert_eq!(kinds, expected_kinds, "soonest first, across kinds");

    // The Admin API key: no rule can use it, and the report says so instead of "no uses".
    let admin_key = &report.expiring[0];
    assert_eq!(admin_key.id, key.id);
    assert_eq!(admin_key.label.as_deref(), Some("automation"));
    assert_eq!(admin_key.where_used, WhereUsed::NotTracked);
    assert!(admin_key.uses.is_empty() && admin_key.owner.is_none());
    assert!(admin_key.created_by.is_some());

    // The service account's token: the rules that authenticate as the service account.
    let token = &report.expiring[1];
    assert_eq!(token.id, ci.token_id);
    assert_eq!(token.where_used, WhereUsed::AutomationRules);
    assert_eq!(
        token.service_account_id.as_deref(),
        Some(ci.account.id.as_str())
    );
    let owner = token.owner.as_ref().unwrap();
    assert_eq!(owner.email.as_deref(), Some(ci.account.email.as_str()));
    assert_eq!(
        owner.account_id.as_deref(),
        Some(ci.account.account_id.as_str())
    );
    assert_eq!(rules_of_uses(token), ci.rules.iter().cloned().collect());
    assert!(
        token
            .uses
            .iter()
            .all(|u| u.credential == Some(ci.token.fingerprint()))
    );

    // The user tokens as before: each with the rules of its account, and nothing else.
    assert_eq!(listed(&report)[2..], expected(&scenario)[..]);
    assert_eq!(report.scan.rules_read, 12 + 4);
    let table = report.to_string();
    assert!(
        table.contains("Admin API key") && table.contains("not tracked"),
        "{table}"
    );
    assert!(table.contains("service-account token"), "{table}");
}

#[tokio::test]
async fn a_kind_whose_listing_is_refused_is_not_covered_and_the_others_come_back() {
    let (fake, scenario, ci, key) = every_kind().await;
    // A scoped key that may read the org's keys, but not service-account tokens.
    let in_a_year = OffsetDateTime::now_utc() + time::Duration::days(365);
    let scoped = fake.mint_admin_key(&scenario.org.id, "radar", &["read:keys:admin"], in_a_year);
    let admin = AdminClient::builder(scoped.key.clone())
        .base_url(fake.admin_base())
        .options(quick())
        .build()
        .unwrap();
    let automation = automation(&fake, &scenario.caller);
    let report = ExpiryRadar::new(&admin, &scenario.org.id, &automation)
        .resolve_identities(resolve(&fake))
        .run()
        .await
        .unwrap();
    let covered: Vec<(CredentialKind, Option<u16>)> = report
        .coverage
        .iter()
        .map(|c| match c {
            Coverage::Covered { kind } => (*kind, None),
            Coverage::NotCovered { kind, status, .. } => (*kind, *status),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(
        covered,
        [
            (CredentialKind::UserApiToken, None),
            (CredentialKind::AdminApiKey, None),
            (CredentialKind::ServiceAccountToken, Some(403)),
        ]
    );
    assert!(!report.is_complete(), "a kind is missing");
    let ids: Vec<&str> = report.expiring.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids[0], key.id);
    assert_eq!(
        ids.len(),
        1 + 6,
        "the key and the user tokens, no service-account token"
    );
    assert!(!ids.contains(&ci.token_id.as_str()));
    let table = report.to_string();
    assert!(
        table.contains("service-account tokens: not covered") && table.contains("403"),
        "{table}"
    );

    // Serialized and read back; and read as a report written before the radar covered
    // several kinds (no coverage, no where_used): it covered user tokens, in rules.
    let json = serde_json::to_value(&report).unwrap();
    let back: RadarReport = serde_json::from_value(json.clone()).unwrap();
    assert_eq!(back, report);
    let mut older = json;
    older.as_object_mut().unwrap().remove("coverage");
    for credential in older["expiring"].as_array_mut().unwrap() {
        let credential = credential.as_object_mut().unwrap();
        for field in ["where_used", "service_account_id", "created_by"] {
            credential.remove(field);
        }
    }
    let older: RadarReport = serde_json::from_value(older).unwrap();
    assert_eq!(
        older.coverage,
        [Coverage::Covered {
            kind: CredentialKind::UserApiToken
        }]
    );
    assert!(
        older
            .expiring
            .iter()
            .all(|c| c.where_used == WhereUsed::AutomationRules)
    );

    // The user token list failing: the service account's token still comes back, with its
    // rules.
    fake.fault(Route::OrgTokens, Fault::status(500).times(100));
    let report = radar(&fake, &scenario).run().await.unwrap();
    assert!(matches!(
        &report.coverage[0],
        Coverage::NotCovered {
            kind: CredentialKind::UserApiToken,
            status: Some(500),
            ..
        }
    ));
    let token = report
        .expiring
        .iter()
        .find(|c| c.id == ci.token_id)
        .unwrap();
    assert_eq!(rules_of_uses(token), ci.rules.iter().cloned().collect());
    assert!(!report.is_complete());

    // Nothing listed at all: the run fails rather than report that nothing expires.
    fake.fault(Route::AdminKeys, Fault::status(500).times(100));
    fake.fault(Route::ServiceAccounts, Fault::status(500).times(100));
    let error = radar(&fake, &scenario).run().await.unwrap_err();
    assert_eq!(error.status(), Some(500), "{error}");
}

#[tokio::test]
async fn the_default_covers_all_three_kinds_and_kinds_restricts_them() {
    let (fake, scenario, _, _) = every_kind().await;
    let all = radar(&fake, &scenario)
        .admin_key_query(AdminKeyQuery::new().q("auto"))
        .run()
        .await
        .unwrap();
    let kinds: BTreeSet<CredentialKind> = all.expiring.iter().map(|c| c.kind).collect();
    assert_eq!(kinds, CredentialKind::ALL.into_iter().collect());
    let covered: Vec<CredentialKind> = all.coverage.iter().map(Coverage::kind).collect();
    assert_eq!(covered, CredentialKind::ALL);
    assert!(all.coverage.iter().all(Coverage::is_covered));
    for route in [
        Route::OrgTokens,
        Route::AdminKeys,
        Route::ServiceAccounts,
        Route::ServiceAccountTokens,
    ] {
        assert!(fake.request_count(route) >= 1, "{route:?} not asked");
    }
    assert!(
        fake.requests()
            .iter()
            .any(|r| r.route() == Some(Route::AdminKeys)
                && r.query().is_some_and(|q| q.contains("q=auto"))),
        "the key query is sent"
    );

    fake.clear_requests();
    let users = radar(&fake, &scenario)
        .kinds([CredentialKind::UserApiToken])
        .run()
        .await
        .unwrap();
    assert_eq!(users.expiring.len(), 6);
    assert!(
        users
            .expiring
            .iter()
            .all(|c| c.kind == CredentialKind::UserApiToken)
    );
    assert_eq!(
        users.coverage,
        [Coverage::Covered {
            kind: CredentialKind::UserApiToken
        }]
    );
    for route in [
        Route::AdminKeys,
        Route::ServiceAccounts,
        Route::ServiceAccountTokens,
    ] {
        assert_eq!(fake.request_count(route), 0, "{route:?} asked");
    }

    // Only Admin API keys: nothing to look for in the rules, so none is read.
    fake.clear_requests();
    let keys = radar(&fake, &scenario)
        .kinds([CredentialKind::AdminApiKey])
        .run()
        .await
        .unwrap();
    assert_eq!(keys.expiring.len(), 1);
    assert!(keys.is_complete());
    assert_eq!(fake.request_count(Route::RuleSummaries), 0);

    // No kind at all is a mistake, refused before any request.
    fake.clear_requests();
    let none = radar(&fake, &scenario).kinds([]).run().await.unwrap_err();
    assert!(
        matches!(none, atlassian_rotation::Error::InvalidInput { .. }),
        "{none}"
    );
    assert_eq!(fake.request_count(Route::Any), 0);
}
