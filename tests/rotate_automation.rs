//! The automation-token rotation end to end against the stateful fake (and wiremock where a
//! request sequence must be exact): every use of the old token replaced, nothing else written,
//! resumable after partial failure, conflicts never overwritten, revocation only after verify.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use atlassian_rotation::automation::AutomationClient;
use atlassian_rotation::rotate::{
    self, AutomationTokenRotator, Journal, JournalEntry, MemoryJournal, OldToken, RotateOptions,
    Rotator, Step,
};
use atlassian_rotation::secret::{AdminApiKey, ApiCredentials, ApiToken};
use atlassian_rotation::testing::{FakeAtlassian, FakeUser, Fault, Route, RuleSeed};
use atlassian_rotation::{AdminClient, ClientOptions, Error, RetryPolicy};
use serde_json::json;
use time::{Duration, OffsetDateTime};

const CLOUD: &str = "cloud-7";

struct World {
    fake: FakeAtlassian,
    svc: FakeUser,
    old_id: String,
    new_id: String,
    old: ApiCredentials,
    new: ApiToken,
    caller: ApiCredentials,
    admin: AdminClient,
    org_id: String,
}

async fn world(rules: usize) -> World {
    let fake = FakeAtlassian::start().await;
    let org = fake.add_org("Acme");
    let svc = fake.add_user("svc@example.com", "Service");
    let boss = fake.add_user("admin@example.com", "Admin");
    let later = OffsetDateTime::now_utc() + Duration::days(30);
    let (old_id, old_token) = fake.mint_api_token(&svc.account_id, "automation", later);
    let (new_id, new) = fake.mint_api_token(&svc.account_id, "automation-2026", later);
    let (_, caller_token) = fake.mint_api_token(&boss.account_id, "tool", later);
    fake.seed_rules(
        CLOUD,
        RuleSeed::new(rules)
            .with_token(&svc.email, old_token.clone())
            .fraction_with_token(0.3),
    );
    let admin = AdminClient::builder(AdminApiKey::new(org.admin_key.expose_secret()))
        .base_url(fake.admin_base())
        .build()
        .unwrap();
    World {
        org_id: org.id.clone(),
        old: ApiCredentials::new(&svc.email, old_token),
        caller: ApiCredentials::new(&boss.email, caller_token),
        fake,
        svc,
        old_id,
        new_id,
        new,
        admin,
    }
}

impl World {
    fn client(&self, retry: RetryPolicy) -> AutomationClient {
        AutomationClient::builder(self.caller.clone())
            .base_url(self.fake.automation_base(CLOUD))
            .options(ClientOptions::new().retry_policy(retry))
            .build()
            .unwrap()
    }

    /// A rotator without revocation.
    fn plain_rotator(&self, retry: RetryPolicy) -> AutomationTokenRotator {
        AutomationTokenRotator::new(
            self.client(retry),
            self.fake.site_base(),
            self.old.clone(),
            self.new.clone(),
        )
        .unwrap()
    }

    fn rotator(&self, retry: RetryPolicy) -> AutomationTokenRotator {
        self.plain_rotator(retry)
            .revoke_with(
                self.admin.clone(),
                &self.svc.account_id,
                OldToken::Id(self.old_id.clone()),
            )
            // The seed hides masked values and stored-secret references in rules without the
            // token; these tests know none of them uses it.
            .accept_unreadable(true)
    }

    fn new_credentials(&self) -> ApiCredentials {
        ApiCredentials::new(&self.svc.email, self.new.clone())
    }
}

#[tokio::test]
async fn every_use_of_the_old_token_is_replaced_and_the_old_token_revoked() {
    let w = world(150).await;
    w.fake.set_rule_page_max(7); // many pages
    let holding = w.fake.rules_holding(&w.old);
    assert!(
        holding.len() > 20,
        "the seed spreads the token over many rules"
    );
    let report = rotate::rotate(
        &w.rotator(RetryPolicy::default()),
        &MemoryJournal::new(),
        RotateOptions::new("tok-1"),
    )
    .await
    .unwrap();

    assert!(report.succeeded());
    assert!(w.fake.rules_holding(&w.old).is_empty());
    let mut now_new = w.fake.rules_holding(&w.new_credentials());
    let mut expected = holding.clone();
    now_new.sort();
    expected.sort();
    assert_eq!(
        now_new, expected,
        "exactly the rules that held the old token"
    );
    let updated = report.updated.unwrap();
    assert_eq!(updated.rewritten, holding.len());
    assert_eq!(updated.conflicted, 0);
    assert!(!w.fake.token_is_live(w.old.token()), "old token revoked");
    assert!(w.fake.token_is_live(&w.new));
    for uuid in w.fake.rule_uuids(CLOUD) {
        let puts = w.fake.rule_stats(&uuid).unwrap().puts;
        let expected = u32::from(holding.contains(&uuid));
        assert_eq!(puts, expected, "rule {uuid} written {puts} times");
    }
    let json = serde_json::to_string(&report.verified).unwrap();
    assert!(
        json.contains("none of 150 rules holds the old token"),
        "{json}"
    );
}

#[tokio::test]
async fn a_partial_update_failure_resumes_with_the_same_token_and_revokes_only_at_the_end() {
    let w = world(60).await;
    let holding = w.fake.rules_holding(&w.old).len();
    w.fake.fault(Route::RulePut, Fault::status(500).times(4));
    let minted = Arc::new(AtomicUsize::new(0));
    let counter = minted.clone();
    let new = w.new.clone();
    let rotator = AutomationTokenRotator::new(
        w.client(RetryPolicy::none()),
        w.fake.site_base(),
        w.old.clone(),
        move || {
            counter.fetch_add(1, Ordering::SeqCst);
            let new = new.clone();
            async move { Ok(new) }
        },
    )
    .unwrap()
    .revoke_with(
        w.admin.clone(),
        &w.svc.account_id,
        OldToken::Label("automation".into()),
    )
    .accept_unreadable(true);
    let journal = MemoryJournal::new();

    let err = rotate::rotate(&rotator, &journal, RotateOptions::new("tok-2"))
        .await
        .unwrap_err();
    assert!(
        matches!(err.error, Error::Rotation { step: "update", .. }),
        "{}",
        err.error
    );
    assert!(err.error.to_string().contains("4 failed"), "{}", err.error);
    assert_eq!(w.fake.rules_holding(&w.old).len(), 4, "4 rules left to do");
    assert!(
        w.fake.token_is_live(w.old.token()),
        "nothing revoked before verify"
    );
    assert_eq!(
        journal.load("tok-2").await.unwrap().unwrap().step,
        Step::Regenerated
    );

    let report = rotate::rotate(&rotator, &journal, RotateOptions::new("tok-2"))
        .await
        .unwrap();
    assert!(report.succeeded());
    assert_eq!(
        report.resumed_from,
        Some(Step::Regenerated),
        "no second regenerate"
    );
    // Asked once to regenerate, and once by the resume to prove the same token is handed over.
    assert_eq!(minted.load(Ordering::SeqCst), 2);
    assert_eq!(report.updated.unwrap().rewritten, holding);
    assert!(w.fake.rules_holding(&w.old).is_empty());
    assert!(!w.fake.token_is_live(w.old.token()));
}

#[tokio::test]
async fn a_new_token_of_another_account_is_refused_before_anything_changes() {
    let w = world(20).await;
    let stranger = w.fake.add_user("someone@example.com", "Someone");
    let later = OffsetDateTime::now_utc() + Duration::days(30);
    let (_, foreign) = w.fake.mint_api_token(&stranger.account_id, "x", later);
    let rotator = AutomationTokenRotator::new(
        w.client(RetryPolicy::none()),
        w.fake.site_base(),
        w.old.clone(),
        foreign,
    )
    .unwrap();
    let journal = MemoryJournal::new();
    let err = rotate::rotate(&rotator, &journal, RotateOptions::new("tok-3"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err.error,
            Error::Rotation {
                step: "regenerate",
                ..
            }
        ),
        "{}",
        err.error
    );
    assert!(journal.load("tok-3").await.unwrap().is_none());
    assert_eq!(w.fake.request_count(Route::RulePut), 0);
    let same = AutomationTokenRotator::new(
        w.client(RetryPolicy::none()),
        w.fake.site_base(),
        w.old.clone(),
        w.old.token().clone(),
    )
    .unwrap();
    assert!(matches!(
        same.regenerate().await,
        Err(Error::InvalidInput { .. })
    ));
}

#[tokio::test]
async fn a_dry_run_plans_every_rewrite_redacted_and_writes_nothing() {
    let w = world(80).await;
    let holding = w.fake.rules_holding(&w.old).len();
    let plan = w
        .rotator(RetryPolicy::default())
        .plan(&w.new)
        .await
        .unwrap();
    assert_eq!(plan.scanned, 80);
    assert_eq!(plan.rules.len(), holding);
    assert!(!plan.cannot_tell.is_empty(), "masked values are reported");
    let text = serde_json::to_string(&plan).unwrap();
    assert!(!text.contains(w.old.token().expose_secret()));
    assert!(!text.contains(w.new.expose_secret()));
    assert!(text.contains(&w.old.token().fingerprint()));
    assert_eq!(w.fake.request_count(Route::RulePut), 0);
}

#[tokio::test]
async fn rollback_restores_originals_except_rules_changed_since() {
    let w = world(30).await;
    let before: Vec<_> = w
        .fake
        .rule_uuids(CLOUD)
        .into_iter()
        .map(|u| (u.clone(), w.fake.rule(&u).unwrap()))
        .collect();
    let rotator = w.rotator(RetryPolicy::default());
    let updated = rotator.update(&w.new).await.unwrap();
    assert!(updated.rewritten > 1);

    // Someone edits one rewritten rule after the rotation wrote it.
    let edited = updated.targets[0].clone();
    let client = w.client(RetryPolicy::default());
    let mut doc = client.get_rule(&edited).await.unwrap();
    let mut rule = doc.rule.to_value().unwrap();
    rule["name"] = json!("edited by a human");
    doc.rule = atlassian_rotation::automation::Rule::from_value(rule).unwrap();
    client.update_rule(&edited, &doc).await.unwrap();

    let rollback = rotator.rollback().await.unwrap();
    assert_eq!(rollback.modified_since, vec![edited.clone()]);
    assert_eq!(rollback.restored.len(), updated.rewritten - 1);
    for (uuid, original) in before {
        if uuid != edited {
            assert_eq!(
                w.fake.rule(&uuid).unwrap(),
                original,
                "rule {uuid} restored"
            );
        }
    }
}

/// With compare-before-write on every write (`reread_older_than(ZERO)`), a rule edited between
/// the scan and the write is not overwritten: the update fails naming it, and a second run
/// (seeing the edited rule on both reads) rewrites it. (By default only a read older than
/// `FRESH_READ` is compared again: see `rotate_automation/review.rs`.)
#[tokio::test]
async fn a_rule_changed_between_read_and_write_is_a_conflict_not_an_overwrite() {
    use wiremock::matchers::{any, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    let server = MockServer::start().await;
    let old = ApiCredentials::new("svc@example.com", ApiToken::new("ATATT-old-0123456789"));
    let new = ApiToken::new("ATATT-new-9876543210");
    let rule = |name: &str| {
        json!({"rule": {"uuid": "r-1", "name": name, "state": "ENABLED", "components": [{
            "id": "c1", "component": "ACTION", "type": "jira.issue.outgoing.webhook",
            "value": {"url": "https://hooks.example.com", "method": "POST", "headers": [
                {"id": null, "name": "Authorization", "value": "Bearer ATATT-old-0123456789", "headerSecure": true}
            ]}, "children": [], "conditions": []
        }]}, "connections": []})
    };
    let base = "/automation/public/jira/c/rest/v1/rule";
    Mock::given(method("GET"))
        .and(path(format!("{base}/summary")))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"data": [{"uuid": "r-1", "name": "hook"}], "links": {}})),
        )
        .mount(&server)
        .await;
    // First read: the original; every later read: a human renamed the rule meanwhile.
    Mock::given(method("GET"))
        .and(path(format!("{base}/r-1")))
        .respond_with(ResponseTemplate::new(200).set_body_json(rule("hook")))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{base}/r-1")))
        .respond_with(ResponseTemplate::new(200).set_body_json(rule("hook (edited)")))
        .with_priority(2)
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path(format!("{base}/r-1")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"ruleUuid": "r-1"})))
        .expect(1)
        .named("the one write, in the second run")
        .mount(&server)
        .await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(599))
        .with_priority(u8::MAX)
        .expect(0)
        .mount(&server)
        .await;

    let client = AutomationClient::builder(ApiCredentials::new(
        "admin@example.com",
        ApiToken::new("ATATT-caller"),
    ))
    .base_url(format!("{}/automation/public/jira/c", server.uri()))
    .build()
    .unwrap();
    let rotator = AutomationTokenRotator::new(client, server.uri(), old.clone(), new.clone())
        .unwrap()
        .reread_older_than(std::time::Duration::ZERO);
    let err = rotator.update(&new).await.unwrap_err();
    let text = err.to_string();
    assert!(text.contains("changed between read and write"), "{text}");
    assert!(text.contains("r-1"), "{text}");
    assert!(!text.contains("ATATT-old-0123456789"), "{text}");

    let updated = rotator.update(&new).await.unwrap();
    assert_eq!((updated.found, updated.rewritten), (1, 1));
    let puts: Vec<_> = server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.method.as_str() == "PUT")
        .collect();
    let body: serde_json::Value = serde_json::from_slice(&puts[0].body).unwrap();
    assert_eq!(body["rule"]["name"], "hook (edited)", "the edit is kept");
    assert_eq!(
        body["rule"]["components"][0]["value"]["headers"][0]["value"],
        "Bearer ATATT-new-9876543210"
    );
}

/// Rate limits lower the number of rule requests in flight; the rotation still completes, and
/// concurrency climbs back once the 429s stop.
#[tokio::test]
async fn bulk_work_backs_off_on_rate_limits_and_recovers() {
    let w = world(200).await;
    w.fake
        .fault(Route::RuleGet, Fault::status(429).retry_after(0).times(3));
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let record = seen.clone();
    let rotator = w
        .rotator(RetryPolicy::default())
        .on_progress(move |p| record.lock().unwrap().push(p.concurrency));
    let updated = rotator.update(&w.new).await.unwrap();
    assert_eq!(
        updated.rewritten,
        w.fake.rules_holding(&w.new_credentials()).len()
    );
    assert!(w.fake.rules_holding(&w.old).is_empty());
    let seen = seen.lock().unwrap();
    let lowest = *seen.iter().min().unwrap();
    assert!(
        (4..=8).contains(&lowest),
        "three 429s in one burst halve once or twice, not to nothing: lowest was {lowest}"
    );
    assert!(
        *seen.last().unwrap() > lowest,
        "recovered: {lowest} -> {}",
        seen.last().unwrap()
    );
}

/// A bulk pass keeps exactly `concurrency` rule requests in flight and never waits for the next
/// page of summaries: it is read while the rules of the current one are visited. On a paused
/// clock with 1 s of latency, 250 rules (pages of 100) at concurrency 50 take the first page
/// plus five rounds: 6 s. Unbounded, it would take about 4 s; waiting for each page, 8 s.
#[tokio::test(start_paused = true)]
async fn a_bulk_pass_keeps_the_configured_concurrency_and_reads_the_next_page_ahead() {
    let w = world(250).await;
    w.fake.set_latency(std::time::Duration::from_secs(1));
    let rotator = w.rotator(RetryPolicy::default()).concurrency(50);
    w.fake.clear_requests();
    let started = tokio::time::Instant::now();
    let plan = rotator.plan(&w.new).await.unwrap();
    let took = started.elapsed().as_secs_f64();
    assert_eq!(plan.scanned, 250);
    assert!((5.9..6.5).contains(&took), "took {took:.2} s, not 6");
    assert_eq!(w.fake.request_count(Route::RuleSummaries), 3);
    assert_eq!(
        w.fake.request_count(Route::RuleGet),
        250,
        "every rule read once"
    );
}

/// Dropping an update (a caller's timeout) stops it: no rule request is sent afterwards, although
/// each rule's read runs in a task of its own. (Writes are sent from the pass's own future, so
/// on a multi-thread runtime too none can follow the drop; this single-thread test pins the
/// abort of the reads.)
#[tokio::test(start_paused = true)]
async fn a_dropped_update_sends_nothing_more() {
    let w = world(200).await;
    w.fake.set_latency(std::time::Duration::from_secs(1));
    let rotator = w.rotator(RetryPolicy::default()).concurrency(8);
    let dropped = tokio::time::timeout(
        std::time::Duration::from_millis(3500),
        rotator.update(&w.new),
    )
    .await;
    assert!(dropped.is_err(), "the update was still running");
    let sent = w.fake.requests().len();
    assert!(sent > 8, "the update had started: {sent} requests");
    tokio::time::sleep(std::time::Duration::from_secs(60)).await;
    assert_eq!(w.fake.requests().len(), sent, "requests after the drop");
}

/// A 429 storm ends the pass with a clear error instead of hammering the API.
#[tokio::test]
async fn a_rate_limit_storm_stops_the_pass_with_a_clear_error_and_few_requests() {
    let w = world(300).await;
    let rotator = w.rotator(RetryPolicy::default());
    w.fake.clear_requests();
    // 40 requests pass, then every request is refused for two minutes: longer than the
    // retry deadline, so no retry waits for it.
    w.fake.rate_limit(40, std::time::Duration::from_secs(120));
    let err = rotator.update(&w.new).await.unwrap_err();
    let text = err.to_string();
    assert!(text.contains("rate limited"), "{text}");
    assert!(text.contains("stopping the pass"), "{text}");
    assert!(text.contains("HTTP 429"), "{text}");
    let sent = w.fake.requests().len();
    assert!(sent < 40 + 2 * 16, "stopped promptly, sent {sent} requests");
}

/// A rule that holds the old token next to a masked secure header is never written: writing
/// it back would replace the hidden secret with `***`.
#[tokio::test]
async fn a_rule_with_the_token_and_a_masked_value_is_not_written_back() {
    let w = world(10).await;
    let uuid = w.fake.add_rule(
        CLOUD,
        json!({"name": "masked neighbour", "state": "ENABLED", "components": [
            {"id": "1", "component": "ACTION", "type": "jira.issue.outgoing.webhook", "value": {
                "url": format!("https://hooks.example.com/?token={}", w.old.token().expose_secret()),
                "headers": [], "method": "POST"}, "children": [], "conditions": []},
            {"id": "2", "component": "ACTION", "type": "jira.issue.outgoing.webhook", "value": {
                "url": "https://other.example.com", "method": "POST",
                "headers": [{"id": null, "name": "Authorization", "value": "***", "headerSecure": true}]},
             "children": [], "conditions": []}
        ]}),
    );
    let before = w.fake.rule(&uuid).unwrap();
    let err = w
        .rotator(RetryPolicy::default())
        .update(&w.new)
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("masked values"), "{text}");
    assert!(text.contains(&uuid), "{text}");
    assert_eq!(w.fake.rule_stats(&uuid).unwrap().puts, 0);
    assert_eq!(w.fake.rule(&uuid).unwrap(), before);
}

/// Rules whose values cannot be read may still use the old token. With a revocation
/// configured, that is decided before anything changes: the plan lists every such place, the
/// rotation refuses to start (no rule written, nothing journaled), and it goes ahead once the
/// caller accepts them, for every rule or for exactly the rules that hold them.
#[tokio::test]
async fn unreadable_values_block_the_rotation_before_anything_changes_unless_accepted() {
    let w = world(40).await;
    let holding = w.fake.rules_holding(&w.old);
    let rotator = w.rotator(RetryPolicy::default()).accept_unreadable(false);

    let plan = rotator.plan(&w.new).await.unwrap();
    assert!(
        !plan.blocks_revocation.is_empty(),
        "the seed hides masked values"
    );
    let blocking: std::collections::BTreeSet<String> = plan
        .blocks_revocation
        .iter()
        .map(|f| f.rule_uuid.clone().unwrap())
        .collect();

    let journal = MemoryJournal::new();
    let err = rotate::rotate(&rotator, &journal, RotateOptions::new("tok-u"))
        .await
        .unwrap_err();
    match &err.error {
        Error::RevocationBlocked { step, places } => {
            assert_eq!(*step, "regenerate");
            assert_eq!(
                places, &plan.blocks_revocation,
                "the plan said exactly this"
            );
        }
        other => panic!("{other}"),
    }
    assert!(err.error.to_string().contains("accept"), "{}", err.error);
    assert!(w.fake.token_is_live(w.old.token()), "not revoked");
    assert_eq!(
        w.fake.rules_holding(&w.old),
        holding,
        "no rule was switched"
    );
    assert!(
        journal.load("tok-u").await.unwrap().is_none(),
        "nothing journaled"
    );

    // Accepting all but one of the blocking rules is not enough.
    let (first, rest) = blocking
        .iter()
        .collect::<Vec<_>>()
        .split_first()
        .map(|(f, r)| {
            (
                f.to_string(),
                r.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            )
        })
        .unwrap();
    let partly = w
        .rotator(RetryPolicy::default())
        .accept_unreadable(false)
        .accept_unreadable_in(rest.clone());
    let err = rotate::rotate(&partly, &journal, RotateOptions::new("tok-u"))
        .await
        .unwrap_err();
    match &err.error {
        Error::RevocationBlocked { places, .. } => {
            assert!(
                places
                    .iter()
                    .all(|f| f.rule_uuid.as_deref() == Some(first.as_str()))
            );
        }
        other => panic!("{other}"),
    }
    assert_eq!(
        w.fake.rules_holding(&w.old),
        holding,
        "still no rule switched"
    );

    let checked = w
        .rotator(RetryPolicy::default())
        .accept_unreadable(false)
        .accept_unreadable_in(blocking.iter().cloned());
    assert!(
        checked
            .plan(&w.new)
            .await
            .unwrap()
            .blocks_revocation
            .is_empty()
    );
    let report = rotate::rotate(&checked, &journal, RotateOptions::new("tok-u"))
        .await
        .unwrap();
    assert!(report.succeeded());
    assert!(!w.fake.token_is_live(w.old.token()));
    assert!(w.fake.rules_holding(&w.old).is_empty());
}

/// A masked value pasted into a rule while the rotation runs (after the pre-flight) still
/// stops the revocation: verify, which runs right before it, looks again, and the rerun
/// updates again before it verifies.
#[tokio::test]
async fn an_unreadable_value_that_appears_mid_rotation_stops_the_revocation() {
    let w = world(0).await;
    let uuid = w.fake.add_rule(
        CLOUD,
        json!({"name": "uses it", "components": [{"component": "ACTION",
            "type": "jira.issue.outgoing.webhook", "value": {"url": "https://x.example.com",
            "headers": [{"name": "Authorization", "value": format!("Bearer {}", w.old.token().expose_secret()), "headerSecure": false}]}}]}),
    );
    let rotator = w.rotator(RetryPolicy::default()).accept_unreadable(false);
    let updated = rotator.update(&w.new).await.unwrap();
    let masked = w.fake.add_rule(
        CLOUD,
        json!({"name": "new", "components": [{"component": "ACTION",
            "type": "jira.issue.outgoing.webhook", "value": {"url": "https://y.example.com",
            "headers": [{"name": "X-Key", "value": "***", "headerSecure": true}]}}]}),
    );
    let err = rotator.verify(&w.new, &updated).await.unwrap_err();
    match &err {
        Error::RevocationBlocked { step, places } => {
            assert_eq!(*step, "verify");
            assert_eq!(places.len(), 1);
            assert_eq!(places[0].rule_uuid.as_deref(), Some(masked.as_str()));
        }
        other => panic!("{other}"),
    }
    assert!(w.fake.token_is_live(w.old.token()));
    assert_eq!(w.fake.rules_holding(&w.new_credentials()), [uuid]);
}

/// Old and new token share a label: which token to revoke is ambiguous, and that is found
/// before any rule changes. Once the old token is gone from the account's list (a DELETE whose
/// answer was lost), finishing again says so and never revokes the new one.
#[tokio::test]
async fn finishing_again_never_revokes_the_new_token_through_a_shared_label() {
    let w = world(10).await;
    let holding = w.fake.rules_holding(&w.old);
    let later = OffsetDateTime::now_utc() + Duration::days(30);
    let (_, new) = w
        .fake
        .mint_api_token(&w.svc.account_id, "automation", later);
    let rotator = |old_token: OldToken| {
        AutomationTokenRotator::new(
            w.client(RetryPolicy::default()),
            w.fake.site_base(),
            w.old.clone(),
            new.clone(),
        )
        .unwrap()
        .revoke_with(w.admin.clone(), &w.svc.account_id, old_token)
        .accept_unreadable(true)
    };
    let by_label = rotator(OldToken::Label("automation".into()));
    // Both tokens carry the label: ambiguous, refused before anything changed.
    let err = by_label.update(&new).await.unwrap_err();
    assert!(err.to_string().contains("2 tokens"), "{err}");
    assert_eq!(w.fake.rules_holding(&w.old), holding, "no rule written");
    let err = rotate::rotate(&by_label, &MemoryJournal::new(), RotateOptions::new("x"))
        .await
        .unwrap_err();
    assert!(
        err.error.to_string().contains("revoke by id"),
        "{}",
        err.error
    );
    assert!(w.fake.token_is_live(w.old.token()) && w.fake.token_is_live(&new));

    let by_id = rotator(OldToken::Id(w.old_id.clone()));
    let updated = by_id.update(&new).await.unwrap();
    assert_eq!(updated.fact_value("old_token_id"), Some(w.old_id.as_str()));
    assert!(w.fake.revoke_api_token(&w.old_id));
    let finished = by_id.finish(&new, &updated).await.unwrap();
    assert_eq!(finished.retired.len(), 1);
    assert!(
        finished.retired[0].contains("already revoked"),
        "{:?}",
        finished.retired
    );
    assert!(w.fake.token_is_live(&new), "the new token survives");
    // The DELETE is sent anyway (a list read alone may be stale) and answers 404.
    assert_eq!(w.fake.request_count(Route::RevokeUserToken), 1);
}

/// The DELETE took effect but its answer was lost: the retry's 404 means revoked.
#[tokio::test]
async fn a_revocation_whose_answer_was_lost_counts_as_done() {
    let w = world(5).await;
    w.fake.fault(
        Route::RevokeUserToken,
        Fault::drop_connection().after_applying(),
    );
    w.admin
        .revoke_user_api_token(&w.svc.account_id, &w.old_id)
        .await
        .unwrap();
    assert!(!w.fake.token_is_live(w.old.token()));
    assert_eq!(w.fake.request_count(Route::RevokeUserToken), 2);
}

#[tokio::test]
async fn rollback_is_refused_once_the_old_token_is_revoked() {
    let w = world(20).await;
    let rotator = w.rotator(RetryPolicy::default());
    let updated = rotator.update(&w.new).await.unwrap();
    assert!(updated.rewritten > 0);
    assert!(w.fake.revoke_api_token(&w.old_id));
    let err = rotator.rollback().await.unwrap_err();
    assert!(err.to_string().contains("no longer authenticates"), "{err}");
    assert!(w.fake.rules_holding(&w.old).is_empty(), "nothing restored");
}

/// With originals kept on disk, another rotator instance (another process) can roll back.
#[tokio::test]
async fn originals_kept_on_disk_roll_back_from_a_fresh_rotator() {
    let w = world(30).await;
    let dir = tempfile::tempdir().unwrap();
    let before: Vec<_> = w
        .fake
        .rule_uuids(CLOUD)
        .into_iter()
        .map(|u| (u.clone(), w.fake.rule(&u).unwrap()))
        .collect();
    let first = w
        .rotator(RetryPolicy::default())
        .keep_originals_in(dir.path().join("originals"));
    let updated = first.update(&w.new).await.unwrap();
    drop(first);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let file = std::fs::read_dir(dir.path().join("originals"))
            .unwrap()
            .next()
            .unwrap()
            .unwrap();
        assert_eq!(file.metadata().unwrap().permissions().mode() & 0o777, 0o600);
    }
    let second = w
        .rotator(RetryPolicy::default())
        .keep_originals_in(dir.path().join("originals"));
    let rollback = second.rollback().await.unwrap();
    assert_eq!(rollback.restored.len(), updated.rewritten);
    for (uuid, original) in before {
        assert_eq!(
            w.fake.rule(&uuid).unwrap(),
            original,
            "rule {uuid} restored"
        );
    }
    assert_eq!(
        std::fs::read_dir(dir.path().join("originals"))
            .unwrap()
            .count(),
        0
    );
}

/// A journal that runs `hook` once, right after `step` is stored.
struct Hooked<F: Fn() + Send + Sync> {
    inner: MemoryJournal,
    step: Step,
    hook: F,
    fired: AtomicBool,
}

#[async_trait::async_trait]
impl<F: Fn() + Send + Sync> Journal for Hooked<F> {
    async fn load(&self, id: &str) -> atlassian_rotation::Result<Option<JournalEntry>> {
        self.inner.load(id).await
    }
    async fn store(&self, entry: &JournalEntry) -> atlassian_rotation::Result<()> {
        self.inner.store(entry).await?;
        if entry.step == self.step && !self.fired.swap(true, Ordering::SeqCst) {
            (self.hook)();
        }
        Ok(())
    }
    async fn create(&self, entry: &JournalEntry) -> atlassian_rotation::Result<bool> {
        self.inner.create(entry).await
    }
    async fn list(&self) -> atlassian_rotation::Result<Vec<JournalEntry>> {
        self.inner.list().await
    }
}

fn webhook_rule(name: &str, header: &str) -> serde_json::Value {
    json!({"name": name, "state": "ENABLED", "components": [{"id": "1", "component": "ACTION",
        "type": "jira.issue.outgoing.webhook", "value": {"url": "https://relay.example.com",
        "method": "POST", "headers": [{"id": null, "name": "Authorization", "value": header,
        "headerSecure": false}]}, "children": [], "conditions": []}]})
}

/// Someone pastes the old token back into a rule after the update: verify fails, and the rerun
/// updates again (instead of failing the same verify forever), verifies and revokes.
#[tokio::test]
async fn a_failed_verify_clears_on_rerun_by_updating_again() {
    let w = world(20).await;
    let fake = &w.fake;
    let pasted = format!("Bearer {}", w.old.token().expose_secret());
    let journal = Hooked {
        inner: MemoryJournal::new(),
        step: Step::Updated,
        hook: move || {
            fake.add_rule(CLOUD, webhook_rule("pasted back", &pasted));
        },
        fired: AtomicBool::new(false),
    };
    let rotator = w.rotator(RetryPolicy::default());
    let err = rotate::rotate(&rotator, &journal, RotateOptions::new("tok-v"))
        .await
        .unwrap_err();
    assert!(
        err.error.to_string().contains("still holds the old token"),
        "{}",
        err.error
    );
    assert!(w.fake.token_is_live(w.old.token()), "nothing revoked");
    assert_eq!(w.fake.rules_holding(&w.old).len(), 1);

    let report = rotate::rotate(&rotator, &journal, RotateOptions::new("tok-v"))
        .await
        .unwrap();
    assert!(report.succeeded());
    assert!(w.fake.rules_holding(&w.old).is_empty());
    assert!(!w.fake.token_is_live(w.old.token()));
}

/// A rotation id reused for the next rotation (A to B, then B to C) is refused instead of
/// reported complete, and so is a resume handed another new token than the journaled one.
#[tokio::test]
async fn a_reused_rotation_id_is_refused_for_another_old_or_new_token() {
    let w = world(20).await;
    let journal = MemoryJournal::new();
    rotate::rotate(
        &w.rotator(RetryPolicy::default()),
        &journal,
        RotateOptions::new("same"),
    )
    .await
    .unwrap();
    let holding_b = w.fake.rules_holding(&w.new_credentials());
    let later = OffsetDateTime::now_utc() + Duration::days(30);
    let (_, c) = w.fake.mint_api_token(&w.svc.account_id, "c", later);
    let b_to_c = AutomationTokenRotator::new(
        w.client(RetryPolicy::default()),
        w.fake.site_base(),
        w.new_credentials(),
        c.clone(),
    )
    .unwrap();
    let err = rotate::rotate(&b_to_c, &journal, RotateOptions::new("same"))
        .await
        .unwrap_err();
    match &err.error {
        Error::RotationMismatch {
            what,
            journaled,
            given,
            ..
        } => {
            assert_eq!(*what, "old credential");
            assert_eq!(journaled, &w.old.token().fingerprint());
            assert_eq!(given, &w.new.fingerprint());
        }
        other => panic!("{other}"),
    }
    assert_eq!(
        w.fake.rules_holding(&w.new_credentials()),
        holding_b,
        "nothing changed"
    );
    assert_eq!(w.fake.request_count(Route::RulePut), holding_b.len());

    // A fresh A2 to B2 rotation fails at update; resuming it with C instead of B2 is refused.
    let w = world(20).await;
    let journal = MemoryJournal::new();
    w.fake.fault(Route::RulePut, Fault::status(500).times(1000));
    rotate::rotate(
        &w.rotator(RetryPolicy::none()),
        &journal,
        RotateOptions::new("r"),
    )
    .await
    .unwrap_err();
    w.fake.clear_faults();
    let (_, c) = w.fake.mint_api_token(&w.svc.account_id, "c", later);
    let a_to_c = AutomationTokenRotator::new(
        w.client(RetryPolicy::default()),
        w.fake.site_base(),
        w.old.clone(),
        c.clone(),
    )
    .unwrap();
    let err = rotate::rotate(&a_to_c, &journal, RotateOptions::new("r"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err.error,
            Error::RotationMismatch {
                what: "new credential",
                ..
            }
        ),
        "{}",
        err.error
    );
    assert!(
        w.fake
            .rules_holding(&ApiCredentials::new(&w.svc.email, c))
            .is_empty()
    );
}

/// "Revoked" only on evidence: a 403 (or an empty token list) never finishes a rotation while
/// the old token is live.
#[tokio::test]
async fn a_403_or_an_empty_token_list_is_never_taken_as_revoked() {
    let w = world(10).await;
    let rotator = w.rotator(RetryPolicy::none());
    let updated = rotator.update(&w.new).await.unwrap();
    rotator.verify(&w.new, &updated).await.unwrap();

    // Every identity check and the DELETE answer 403.
    w.fake
        .fault(Route::JiraMyself, Fault::status(403).times(1000));
    w.fake
        .fault(Route::RevokeUserToken, Fault::status(403).times(1000));
    assert!(rotator.finish(&w.new, &updated).await.is_err());
    assert!(w.fake.token_is_live(w.old.token()));
    w.fake.clear_faults();

    // The token list comes back empty: that proves nothing.
    w.fake
        .fault(Route::UserTokens, Fault::status(200).body("[]").times(1000));
    w.fake
        .fault(Route::RevokeUserToken, Fault::status(403).times(1000));
    assert!(rotator.finish(&w.new, &updated).await.is_err());
    assert!(w.fake.token_is_live(w.old.token()));
    w.fake.clear_faults();

    let journal = MemoryJournal::new();
    let report = rotate::rotate(&rotator, &journal, RotateOptions::new("ev"))
        .await
        .unwrap();
    assert!(report.succeeded());
    assert!(!w.fake.token_is_live(w.old.token()));
    let retired = &report.finished.unwrap().retired;
    assert!(retired[0].contains("now gets 401"), "{retired:?}");
}

/// Rule names and uuids are printed redacted of both tokens, in every form.
#[tokio::test]
async fn plans_and_errors_never_show_a_token_pasted_into_a_rule_name() {
    let w = world(0).await;
    let old = w.old.token().expose_secret().to_owned();
    let new = w.new.expose_secret().to_owned();
    let name = format!("sync {old} / {new} / {}", urlencode(&old));
    let uuid = w
        .fake
        .add_rule(CLOUD, webhook_rule(&name, &format!("Bearer {old}")));
    let mut masked = webhook_rule(&name, &format!("Bearer {old}"));
    masked["components"][0]["value"]["headers"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "X-Key", "value": "***", "headerSecure": true}));
    w.fake.add_rule(CLOUD, masked);
    let rotator = w.rotator(RetryPolicy::default());
    let plan = rotator.plan(&w.new).await.unwrap();
    assert_eq!(plan.rules.len(), 2);
    let text = serde_json::to_string(&plan).unwrap() + &format!("{plan:?}");
    let err = rotator.update(&w.new).await.unwrap_err().to_string();
    for shown in [text, err] {
        assert!(!shown.contains(&old) && !shown.contains(&new), "{shown}");
        assert!(!shown.contains(&urlencode(&old)), "{shown}");
    }
    assert!(w.fake.rules_holding(&w.new_credentials()).contains(&uuid));
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[path = "rotate_automation/review.rs"]
mod review;

#[path = "rotate_automation/own_token.rs"]
mod own_token;

#[path = "rotate_automation/consumers.rs"]
mod consumers;

#[path = "rotate_automation/watch.rs"]
mod watch;
