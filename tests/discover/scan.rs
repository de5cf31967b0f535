//! The live scan: streaming, summary, progress, drop, unread rules, rate limits, redaction.

use super::*;
use atlassian_rotation::automation::{CredentialForm, Scanner};
use atlassian_rotation::rotate::Phase;
use atlassian_rotation::testing::{Fault, Gate, Route};

#[tokio::test]
async fn a_token_scan_finds_every_rule_holding_the_token_and_sums_it_up() {
    let s = site(60).await;
    s.fake.set_rule_page_max(7);
    let holding: BTreeSet<String> = s
        .fake
        .rules_holding(&ApiCredentials::new(&s.svc.email, s.token.clone()))
        .into_iter()
        .collect();
    assert_eq!(holding.len(), 18);
    let (seen, record) = recorder();
    let mut findings = UsageScan::new(&automation(&s.fake, &s.admin), Scanner::for_token(&s.token))
        .concurrency(8)
        .on_progress(record)
        .stream();
    let found = drain(&mut findings).await.unwrap();
    assert_eq!(rules_of(&found, FindingStatus::Match), holding);
    let summary = findings.summary();
    assert!(summary.is_complete(), "{summary:?}");
    assert_eq!(summary.rules_read, 60);
    assert_eq!(summary.rules_matched, 18);
    assert_eq!(
        summary.matches,
        found
            .iter()
            .filter(|f| f.status == FindingStatus::Match)
            .count()
    );
    assert_eq!(
        summary.cannot_tell,
        found
            .iter()
            .filter(|f| f.status == FindingStatus::CannotTell)
            .count()
    );
    assert!(
        summary.cannot_tell > 0,
        "masked headers and secret references"
    );
    assert_eq!(summary.credentials, 0);
    let progress = seen.lock().unwrap();
    assert_eq!(progress.len(), 60);
    assert!(
        progress
            .iter()
            .all(|p| p.phase == Phase::Scan && p.written == 0)
    );
    assert_eq!(progress.last().unwrap().scanned, 60);
    assert_eq!(progress.last().unwrap().matched, 18);
    assert_eq!(
        s.fake.request_count(Route::RulePut),
        0,
        "a scan writes nothing"
    );
    assert_eq!(
        s.fake.request_count(Route::RuleGet),
        60,
        "each rule read once"
    );
}

#[tokio::test]
async fn an_inventory_lists_credentials_in_every_form_including_urls() {
    let s = site(40).await;
    let mut findings =
        UsageScan::new(&automation(&s.fake, &s.admin), Scanner::inventory()).stream();
    let found = drain(&mut findings).await.unwrap();
    let forms: BTreeSet<&str> = found
        .iter()
        .filter(|f| f.status == FindingStatus::Credential)
        .map(|f| f.form.as_str())
        .collect();
    assert_eq!(
        forms,
        ["bare_header", "basic", "bearer", "url"]
            .into_iter()
            .collect()
    );
    let summary = findings.summary();
    assert_eq!(
        summary.credentials,
        found
            .iter()
            .filter(|f| f.status == FindingStatus::Credential)
            .count()
    );
    assert!(summary.is_complete());
    assert!(
        found
            .iter()
            .filter(|f| f.form == CredentialForm::Basic)
            .all(|f| f.account_email.as_deref() == Some("svc@example.com"))
    );
}

/// The second page of summaries is held at the fake until the test opens a gate: the findings
/// of the first page arrive while the listing provably has not ended.
#[tokio::test]
async fn findings_stream_out_before_the_listing_ends() {
    let s = site(20).await;
    s.fake.set_rule_page_max(10);
    let first_page: BTreeSet<String> = s.fake.rule_uuids(CLOUD).into_iter().take(10).collect();
    let gate = Gate::new();
    // The first page passes; the second waits for the gate.
    s.fake.fault(
        Route::RuleSummaries,
        Fault::latency(std::time::Duration::ZERO),
    );
    s.fake.fault(Route::RuleSummaries, Fault::wait_for(&gate));
    let mut findings =
        UsageScan::new(&automation(&s.fake, &s.admin), Scanner::for_token(&s.token)).stream();
    let expected_early = {
        let holding = s
            .fake
            .rules_holding(&ApiCredentials::new(&s.svc.email, s.token.clone()));
        holding
            .into_iter()
            .filter(|u| first_page.contains(u))
            .count()
    };
    assert!(expected_early > 0);
    let mut early = BTreeSet::new();
    while early.len() < expected_early {
        // A guard, not a measure: a stream that waited for the listing would wait forever.
        let next = tokio::time::timeout(std::time::Duration::from_secs(30), findings.try_next());
        let finding = next
            .await
            .expect("no finding while page two is held")
            .unwrap()
            .expect("a finding of page one");
        if finding.status == FindingStatus::Match {
            early.insert(finding.rule_uuid.clone().unwrap());
        }
    }
    gate.until_waiting(1).await;
    assert!(early.is_subset(&first_page));
    assert!(!findings.summary().finished, "the listing is still held");
    assert_eq!(gate.waiting(), 1, "page two is still held");
    gate.open();
    let rest = drain(&mut findings).await.unwrap();
    assert!(findings.summary().is_complete());
    assert_eq!(findings.summary().rules_read, 20);
    assert!(!rest.is_empty(), "page two's findings came after");
}

/// Dropping the stream stops the scan: on a paused clock with 1 s of latency per request, no
/// request arrives after the drop, however long the test waits.
#[tokio::test(start_paused = true)]
async fn dropping_the_stream_stops_every_request() {
    let s = site(200).await;
    s.fake.set_latency(std::time::Duration::from_secs(1));
    let mut findings = UsageScan::new(&automation(&s.fake, &s.admin), Scanner::for_token(&s.token))
        .concurrency(8)
        .stream();
    let first = findings.try_next().await.unwrap();
    assert!(first.is_some());
    drop(findings);
    // Anything already on its way arrives within a round trip.
    tokio::time::sleep(std::time::Duration::from_secs(5)).await;
    let sent = s.fake.requests().len();
    assert!(sent < 60, "stopped early: {sent} requests of 200 rules");
    tokio::time::sleep(std::time::Duration::from_secs(600)).await;
    assert_eq!(s.fake.requests().len(), sent, "requests after the drop");
}

#[tokio::test]
async fn a_rule_that_cannot_be_read_is_reported_and_the_scan_goes_on() {
    let s = site(30).await;
    s.fake.fault(Route::RuleGet, Fault::status(404));
    // Not retried: a 500 is no transient answer.
    s.fake.fault(Route::RuleGet, Fault::status(500));
    let (seen, record) = recorder();
    let mut findings = UsageScan::new(&automation(&s.fake, &s.admin), Scanner::for_token(&s.token))
        .concurrency(1)
        .on_progress(record)
        .stream();
    drain(&mut findings).await.unwrap();
    let summary = findings.summary();
    assert!(summary.finished);
    assert!(!summary.is_complete());
    assert_eq!(summary.rules_read, 28);
    assert_eq!(summary.unread.len(), 2, "{summary:?}");
    let statuses: BTreeSet<Option<u16>> = summary.unread.iter().map(|u| u.status).collect();
    assert_eq!(statuses, [Some(404), Some(500)].into_iter().collect());
    let uuids: BTreeSet<&str> = summary.unread.iter().map(|u| u.uuid.as_str()).collect();
    assert!(
        uuids.is_subset(
            &s.fake
                .rule_uuids(CLOUD)
                .iter()
                .map(String::as_str)
                .collect()
        )
    );
    assert!(summary.unread.iter().all(|u| u.error.contains("HTTP")));
    assert!(
        summary.to_string().contains("2 rules could not be read"),
        "{summary}"
    );
    assert_eq!(seen.lock().unwrap().last().unwrap().problems, 2);
}

/// 429s with `Retry-After: 0` on rule reads: the client retries through them, the shared
/// engine halves its concurrency, and the scan still reads every rule.
#[tokio::test]
async fn rate_limits_lower_the_concurrency_and_the_scan_completes() {
    let s = site(120).await;
    s.fake
        .fault(Route::RuleGet, Fault::status(429).retry_after(0).times(3));
    let (seen, record) = recorder();
    let mut findings = UsageScan::new(&automation(&s.fake, &s.admin), Scanner::for_token(&s.token))
        .concurrency(16)
        .on_progress(record)
        .stream();
    let found = drain(&mut findings).await.unwrap();
    assert!(findings.summary().is_complete());
    assert_eq!(rules_of(&found, FindingStatus::Match).len(), 36);
    let seen = seen.lock().unwrap();
    let lowest = seen.iter().map(|p| p.concurrency).min().unwrap();
    assert!(lowest <= 8, "backed off: lowest concurrency {lowest}");
    assert!(seen.last().unwrap().concurrency > lowest, "and recovered");
}

/// A 429 storm past the retries stops the scan with one clear error, after the findings read
/// so far.
#[tokio::test]
async fn a_rate_limit_storm_ends_the_stream_with_an_error() {
    let s = site(200).await;
    s.fake.rate_limit(40, std::time::Duration::from_secs(120));
    let mut findings =
        UsageScan::new(&automation(&s.fake, &s.admin), Scanner::for_token(&s.token)).stream();
    let mut yielded = 0;
    let err = loop {
        match findings.try_next().await {
            Ok(Some(_)) => yielded += 1,
            Ok(None) => panic!("the storm did not stop the scan"),
            Err(e) => break e,
        }
    };
    assert!(err.to_string().contains("HTTP 429"), "{err}");
    assert!(yielded > 0);
    assert!(!findings.summary().finished);
    assert!(
        findings.try_next().await.unwrap().is_none(),
        "the stream ends after the error"
    );
    assert!(s.fake.requests().len() < 40 + 2 * 16);
}

#[tokio::test]
async fn an_inventory_may_read_redacted_and_a_token_scan_may_not() {
    let s = site(40).await;
    let client = automation(&s.fake, &s.admin);
    let mut clear = UsageScan::new(&client, Scanner::inventory()).stream();
    let clear = drain(&mut clear).await.unwrap();
    let mut redacted = UsageScan::new(&client, Scanner::inventory())
        .redact_sensitive_fields(true)
        .stream();
    let redacted_found = drain(&mut redacted).await.unwrap();
    assert!(redacted.summary().is_complete());
    // Secure values come back masked: no Basic value names its account any more.
    assert!(clear.iter().any(|f| f.account_email.is_some()));
    assert!(redacted_found.iter().all(|f| f.account_email.is_none()));
    assert!(
        redacted_found
            .iter()
            .filter(|f| f.status == FindingStatus::CannotTell)
            .count()
            > clear
                .iter()
                .filter(|f| f.status == FindingStatus::CannotTell)
                .count()
    );
    assert!(s.fake.requests().iter().any(|r| {
        r.query()
            .is_some_and(|q| q.contains("redactSensitiveFields=true"))
    }));

    let before = s.fake.requests().len();
    let mut refused = UsageScan::new(&client, Scanner::for_token(&s.token))
        .redact_sensitive_fields(true)
        .stream();
    let err = refused.try_next().await.unwrap_err();
    assert!(err.to_string().contains("inventory"), "{err}");
    assert!(refused.try_next().await.unwrap().is_none());
    assert_eq!(
        s.fake.requests().len(),
        before,
        "refused before any request"
    );
}

/// A listing that names one rule twice and leaves another out (a hostile or inconsistent
/// server, cursors shifted by edits) is not a complete scan: the rule it hid may hold the
/// token. The repeated rule is counted, and its findings yielded, once.
#[tokio::test]
async fn a_listing_that_repeats_a_rule_in_place_of_another_is_not_complete() {
    let s = site(10).await;
    let holding = s
        .fake
        .rules_holding(&ApiCredentials::new(&s.svc.email, s.token.clone()));
    let hidden = holding[0].clone();
    let shown = holding[1].clone();
    let summary = |u: &str| serde_json::json!({"uuid": u, "name": "Shown", "state": "ENABLED"});
    s.fake.fault(
        Route::RuleSummaries,
        Fault::status(200)
            .body(
                serde_json::json!({"links": {"next": null},
                    "data": [summary(&shown), summary(&shown)]})
                .to_string(),
            )
            .times(1),
    );
    let mut findings =
        UsageScan::new(&automation(&s.fake, &s.admin), Scanner::for_token(&s.token)).stream();
    let found = drain(&mut findings).await.unwrap();
    assert_eq!(
        rules_of(&found, FindingStatus::Match),
        [shown.clone()].into_iter().collect(),
        "{hidden} was never listed"
    );
    let summary = findings.summary();
    assert!(
        !summary.is_complete(),
        "a listing that repeated {shown} may have hidden a rule: {summary:?}"
    );
    assert_eq!(summary.rules_read, 1, "one distinct rule read");
    assert_eq!(summary.relisted, vec![shown.clone()]);
    assert_eq!(
        found
            .iter()
            .filter(|f| f.status == FindingStatus::Match)
            .count(),
        summary.matches,
        "the repeated rule's findings come once"
    );
    assert!(
        summary.to_string().contains("listed more than once"),
        "{summary}"
    );
}

/// The error of a rule that cannot be read is reported redacted of the token, like the rule's
/// uuid and name: a server that quotes the rule back must not put the token in the summary.
#[tokio::test]
async fn an_unread_rule_reports_its_error_without_the_token() {
    let s = site(10).await;
    let secret = s.token.expose_secret().to_owned();
    let body = serde_json::json!({"errors": [{"code": "INVALID",
        "title": format!("header Authorization: Bearer {secret} is not valid")}]});
    s.fake.fault(
        Route::RuleGet,
        Fault::status(400).body(body.to_string()).times(1),
    );
    let mut findings = UsageScan::new(&automation(&s.fake, &s.admin), Scanner::for_token(&s.token))
        .concurrency(1)
        .stream();
    drain(&mut findings).await.unwrap();
    let summary = findings.summary();
    assert_eq!(summary.unread.len(), 1, "{summary:?}");
    assert!(summary.unread[0].error.contains("HTTP 400"), "{summary:?}");
    let shown = format!(
        "{summary:?} {summary} {}",
        serde_json::to_string(summary).unwrap()
    );
    assert!(!shown.contains(&secret), "the token leaked: {shown}");
}

/// The caller's token stops working mid-scan (revoked, or expired at midnight): every later
/// read would be one more failed login for the caller's account (enough of them lock it
/// behind a CAPTCHA). The scan stops at the first 401 with that error instead of reading on.
#[tokio::test]
async fn a_scan_whose_credentials_are_refused_stops_instead_of_failing_every_rule() {
    let s = site(300).await;
    s.fake
        .fault(Route::RuleGet, Fault::status(401).times(u32::MAX));
    let mut findings = UsageScan::new(&automation(&s.fake, &s.admin), Scanner::for_token(&s.token))
        .concurrency(8)
        .stream();
    let err = drain(&mut findings).await.unwrap_err();
    assert!(err.is_auth_failure(), "{err}");
    assert!(!findings.summary().is_complete());
    let reads = s.fake.request_count(Route::RuleGet);
    assert!(
        reads <= 2 * 8,
        "{reads} rule reads with refused credentials"
    );
}
