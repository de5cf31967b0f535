//! Variants found by an adversarial review of the rotation, each a promise of DESIGN.md and the
//! README: revocation only on evidence, verify that sees every rewritten rule, no rule
//! clobbered through its connections, no new token revoked by a wrong id, no reused or
//! doubled tunnel rotation, no uuid printed raw.

use atlassian_rotation::InstanceClient;
use atlassian_rotation::automation::RuleState;
use atlassian_rotation::instance::InstanceAuth;
use atlassian_rotation::rotate::TunnelKeyRotator;

use super::*;

// ---------------------------------------------------------------------------------------------
// F1: "revoked" on a single token-list answer that omits the id, without any DELETE, while the
// old token still authenticates.
// ---------------------------------------------------------------------------------------------
#[tokio::test(start_paused = true)]
async fn one_list_answer_omitting_the_id_is_not_proof_of_revocation() {
    let w = world(10).await;
    let rotator = w.rotator(RetryPolicy::none());
    let updated = rotator.update(&w.new).await.unwrap();
    rotator.verify(&w.new, &updated).await.unwrap();
    // One hostile / stale answer: a non-empty list that happens not to hold the old id.
    w.fake.fault(
        Route::UserTokens,
        Fault::status(200)
            .body(r#"[{"id":"some-other-token","label":"automation-2026"}]"#)
            .times(1),
    );
    let finished = rotator.finish(&w.new, &updated).await;
    let live = w.fake.token_is_live(w.old.token());
    assert!(
        finished.is_err() || !live,
        "finish reported {:?} while the old token still authenticates (live={live}), DELETEs sent: {}",
        finished.map(|f| f.retired),
        w.fake.request_count(Route::RevokeUserToken)
    );
}

/// F1 through the driver: the whole rotation reports success, the old token is live.
#[tokio::test(start_paused = true)]
async fn a_stale_token_list_never_makes_the_driver_report_success() {
    let w = world(10).await;
    let fake = &w.fake;
    let journal = Hooked {
        inner: MemoryJournal::new(),
        step: Step::Verified,
        hook: || {
            fake.fault(
                Route::UserTokens,
                Fault::status(200)
                    .body(r#"[{"id":"some-other-token"}]"#)
                    .times(1),
            )
        },
        fired: AtomicBool::new(false),
    };
    let report = rotate::rotate(
        &w.rotator(RetryPolicy::none()),
        &journal,
        RotateOptions::new("f1b"),
    )
    .await;
    let live = w.fake.token_is_live(w.old.token());
    assert!(
        !(report.as_ref().is_ok_and(|r| r.succeeded()) && live),
        "rotation succeeded, finished={:?}, yet the old token still authenticates",
        report.map(|r| r.finished)
    );
}

// ---------------------------------------------------------------------------------------------
// F2: verify concludes "none of 0 rules holds the old token" from an empty rule listing, without
// checking that it saw the rules update rewrote; the driver then revokes while a rule holds it.
// ---------------------------------------------------------------------------------------------
#[tokio::test(start_paused = true)]
async fn verify_fails_on_a_listing_that_hides_rewritten_rules() {
    let w = world(20).await;
    let fake = &w.fake;
    let old_header = format!("Bearer {}", w.old.token().expose_secret());
    let journal = Hooked {
        inner: MemoryJournal::new(),
        step: Step::Updated,
        hook: || {
            // After update: someone pastes the old token back into a rule, and the listing
            // answers one empty page (a hostile or glitching server).
            fake.add_rule(CLOUD, webhook_rule("pasted back", &old_header));
            fake.fault(
                Route::RuleSummaries,
                Fault::status(200)
                    .body(r#"{"links":{"self":null,"next":null,"prev":null},"data":[]}"#)
                    .times(1),
            );
        },
        fired: AtomicBool::new(false),
    };
    let report = rotate::rotate(
        &w.rotator(RetryPolicy::none()),
        &journal,
        RotateOptions::new("f2"),
    )
    .await;
    let holding = w.fake.rules_holding(&w.old);
    let revoked = !w.fake.token_is_live(w.old.token());
    assert!(
        !revoked || holding.is_empty(),
        "old token revoked while {} rule(s) hold it; verify said {:?}",
        holding.len(),
        report.map(|r| r.verified.map(|v| v.checks))
    );
}

// ---------------------------------------------------------------------------------------------
// F3: compare-before-write compares only `rule`, but the PUT sends the stale `connections` back:
// an edit of the rule's connections saved before the re-read is overwritten.
// ---------------------------------------------------------------------------------------------
#[tokio::test(start_paused = true)]
async fn a_connections_edit_saved_before_the_re_read_is_not_overwritten() {
    let w = world(0).await;
    let uuid = w.fake.add_rule(
        CLOUD,
        webhook_rule("r", &format!("Bearer {}", w.old.token().expose_secret())),
    );
    let client = w.client(RetryPolicy::none());
    let mut doc = client.get_rule_json(&uuid).await.unwrap();
    // The concurrent edit: a connection added (before the rotation's re-read).
    doc["connections"] =
        json!([{"id": "c-1", "authType": "API_TOKEN", "targetConfigJson": "{\"v\":2}"}]);
    client.update_rule_json(&uuid, &doc).await.unwrap();
    let edited = client.get_rule_json(&uuid).await.unwrap();
    // The rotation's first read saw the rule before that edit.
    let mut stale = edited.clone();
    stale["connections"] =
        json!([{"id": "c-1", "authType": "API_TOKEN", "targetConfigJson": "{\"v\":1}"}]);
    w.fake.fault(
        Route::RuleGet,
        Fault::status(200).body(stale.to_string()).times(1),
    );
    let outcome = w.plain_rotator(RetryPolicy::none()).update(&w.new).await;
    let after = client.get_rule_json(&uuid).await.unwrap();
    assert_eq!(
        after["connections"],
        edited["connections"],
        "the concurrent edit of connections was overwritten (update: {:?})",
        outcome.map(|u| u.rewritten)
    );
}

/// A rule is written straight after its own read: no second read of it, one GET and one PUT.
#[tokio::test(start_paused = true)]
async fn a_fresh_read_is_written_without_reading_the_rule_again() {
    let w = world(0).await;
    let uuid = w.fake.add_rule(
        CLOUD,
        webhook_rule("r", &format!("Bearer {}", w.old.token().expose_secret())),
    );
    let updated = w
        .plain_rotator(RetryPolicy::none())
        .update(&w.new)
        .await
        .unwrap();
    assert_eq!(updated.rewritten, 1);
    let stats = w.fake.rule_stats(&uuid).unwrap();
    assert_eq!((stats.gets, stats.puts), (1, 1), "one read, one write");
}

/// A read older than `FRESH_READ` when its write comes (here: a slow answer) is compared again
/// first: a rule edited since is a conflict, not an overwrite.
#[tokio::test(start_paused = true)]
async fn an_old_read_is_compared_again_and_an_edit_since_is_not_overwritten() {
    let w = world(0).await;
    let uuid = w.fake.add_rule(
        CLOUD,
        webhook_rule("r", &format!("Bearer {}", w.old.token().expose_secret())),
    );
    let client = w.client(RetryPolicy::none());
    // What the rotation's first read returns: the rule before someone renamed it.
    let mut stale = client.get_rule_json(&uuid).await.unwrap();
    let mut edited = stale.clone();
    edited["rule"]["name"] = json!("renamed meanwhile");
    client.update_rule_json(&uuid, &edited).await.unwrap();
    stale["rule"]["name"] = json!("r");
    w.fake.fault(
        Route::RuleGet,
        Fault::status(200).body(stale.to_string()).times(1),
    );
    w.fake
        .set_latency(atlassian_rotation::rotate::FRESH_READ + std::time::Duration::from_millis(1));
    let err = w
        .plain_rotator(RetryPolicy::none())
        .update(&w.new)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("changed between read and write"),
        "{err}"
    );
    w.fake.set_latency(std::time::Duration::ZERO);
    let after = client.get_rule_json(&uuid).await.unwrap();
    assert_eq!(
        after["rule"]["name"], "renamed meanwhile",
        "the edit is kept"
    );
    assert_eq!(
        w.fake.rule_stats(&uuid).unwrap().puts,
        1,
        "only the edit wrote"
    );
}

// ---------------------------------------------------------------------------------------------
// F4: a place the crate reads but never scans: the rule document's `connections`. The old token
// there survives the rotation, which revokes it anyway.
// ---------------------------------------------------------------------------------------------
#[tokio::test(start_paused = true)]
async fn the_old_token_in_connections_blocks_revocation() {
    let w = world(0).await;
    let old = w.old.token().expose_secret().to_owned();
    let uuid = w
        .fake
        .add_rule(CLOUD, webhook_rule("r", &format!("Bearer {old}")));
    let client = w.client(RetryPolicy::none());
    let mut doc = client.get_rule_json(&uuid).await.unwrap();
    doc["connections"] = json!([{"id": "c-1", "authType": "API_TOKEN",
        "targetConfigJson": format!("{{\"email\":\"svc@example.com\",\"apiToken\":\"{old}\"}}")}]);
    client.update_rule_json(&uuid, &doc).await.unwrap();
    let report = rotate::rotate(
        &w.rotator(RetryPolicy::none()),
        &MemoryJournal::new(),
        RotateOptions::new("f4"),
    )
    .await;
    let after = client.get_rule_json(&uuid).await.unwrap();
    let still_held = after.to_string().contains(&old);
    assert!(
        !still_held || w.fake.token_is_live(w.old.token()),
        "old token revoked while the rule document still holds it (report ok: {})",
        report.is_ok()
    );
}

// ---------------------------------------------------------------------------------------------
// F5: verify does not notice a rewritten rule that is no longer enabled (the Automation API
// disables a rule whose PUT carries connections the caller does not own: see the spec's
// RuleWriteRequest.connections). The rotation reports success over disabled rules.
// ---------------------------------------------------------------------------------------------
#[tokio::test(start_paused = true)]
async fn verify_fails_when_a_rewritten_rule_was_disabled_since_the_write() {
    let w = world(20).await;
    let rotator = w.rotator(RetryPolicy::none());
    let updated = rotator.update(&w.new).await.unwrap();
    let client = w.client(RetryPolicy::none());
    let target = updated.targets[0].clone();
    // What the server does to a rule written with someone else's connections.
    client
        .set_rule_state(&target, RuleState::Disabled)
        .await
        .unwrap();
    let verified = rotator.verify(&w.new, &updated).await;
    assert!(
        verified.is_err(),
        "verify passed although rewritten rule {target} is disabled: {:?}",
        verified.map(|v| v.checks)
    );
}

// ---------------------------------------------------------------------------------------------
// F6: a careless operator gives the NEW token's id: pre-flight accepts it (it is listed), all
// rules are switched, and finish revokes the new token: every rewritten rule is broken.
// ---------------------------------------------------------------------------------------------
#[tokio::test(start_paused = true)]
async fn an_old_token_id_naming_the_new_token_is_refused_before_anything_changes() {
    let w = world(10).await;
    let rotator = w.plain_rotator(RetryPolicy::none()).revoke_with(
        w.admin.clone(),
        &w.svc.account_id,
        OldToken::Id(w.new_id.clone()),
    );
    let rotator = rotator.accept_unreadable(true);
    let report = rotate::rotate(&rotator, &MemoryJournal::new(), RotateOptions::new("f6")).await;
    assert!(
        w.fake.token_is_live(&w.new),
        "the new token was revoked after {} rules were switched to it (error: {:?})",
        w.fake.rules_holding(&w.new_credentials()).len(),
        report.err().map(|e| e.error.to_string())
    );
}

// ---------------------------------------------------------------------------------------------
// F7: reusing a tunnel rotation id reports a complete rotation without rotating anything (the
// tunnel rotator has no old fingerprint, so defect 4's fix does not apply).
// ---------------------------------------------------------------------------------------------
async fn tunnel_world() -> (FakeAtlassian, TunnelKeyRotator, String) {
    let fake = FakeAtlassian::start().await;
    let org = fake.add_org("Example Org");
    let tunnel = fake.add_tunnel(&org.id, "jira-dc-prod");
    let admin = AdminClient::builder(AdminApiKey::new(org.admin_key.expose_secret()))
        .base_url(fake.admin_base())
        .build()
        .unwrap();
    let instance = InstanceClient::builder(InstanceAuth::PersonalAccessToken(tunnel.pat.clone()))
        .base_url(&tunnel.instance_base)
        .build()
        .unwrap();
    let rotator = TunnelKeyRotator::new(admin, instance, &org.id, &tunnel.hostname)
        .expect_organisation(&org.name);
    (fake, rotator, tunnel.hostname)
}

#[tokio::test(start_paused = true)]
async fn a_reused_tunnel_rotation_id_is_not_reported_complete() {
    let (fake, rotator, _) = tunnel_world().await;
    let journal = MemoryJournal::new();
    rotate::rotate(&rotator, &journal, RotateOptions::new("tunnel-yearly"))
        .await
        .unwrap();
    // A year later, the same cron line.
    let again = rotate::rotate(&rotator, &journal, RotateOptions::new("tunnel-yearly")).await;
    let mints = fake.request_count(Route::AdminRegenerate);
    assert!(
        !(again.as_ref().is_ok_and(|r| r.succeeded()) && mints == 1),
        "second rotation reported succeeded() without minting (resumed_from {:?})",
        again.map(|r| r.resumed_from)
    );
}

// ---------------------------------------------------------------------------------------------
// F8: two invocations of the same command with the default id (`resume_or_new_id`) get two
// different new ids, so `Journal::create`'s exclusivity never applies: the tunnel is minted
// twice, the first key invalidated by the second.
// ---------------------------------------------------------------------------------------------
#[tokio::test(start_paused = true)]
async fn two_runs_with_the_default_id_mint_a_tunnel_once() {
    let (fake, rotator, _) = tunnel_world().await;
    let journal = MemoryJournal::new();
    let a = rotate::resume_or_new_id(&journal, &rotator, "tunnel")
        .await
        .unwrap();
    let b = rotate::resume_or_new_id(&journal, &rotator, "tunnel")
        .await
        .unwrap();
    let (ra, rb) = tokio::join!(
        rotate::rotate(&rotator, &journal, RotateOptions::new(a.clone())),
        rotate::rotate(&rotator, &journal, RotateOptions::new(b.clone())),
    );
    assert_eq!(
        fake.request_count(Route::AdminRegenerate),
        1,
        "ids {a} / {b}: both minted (ok: {} / {})",
        ra.is_ok(),
        rb.is_ok()
    );
}

// ---------------------------------------------------------------------------------------------
// F9: a TokenSource that fails on resume blocks the resume of a rotation whose new token is
// already journaled (the source is asked again only to compare fingerprints).
// ---------------------------------------------------------------------------------------------
#[tokio::test(start_paused = true)]
async fn a_source_that_fails_on_resume_resumes_with_the_journaled_token() {
    let w = world(10).await;
    let journal = MemoryJournal::new();
    w.fake.fault(Route::RulePut, Fault::status(500).times(1000));
    rotate::rotate(
        &w.plain_rotator(RetryPolicy::none()),
        &journal,
        RotateOptions::new("f9"),
    )
    .await
    .unwrap_err();
    w.fake.clear_faults();
    assert_eq!(
        journal.load("f9").await.unwrap().unwrap().step,
        Step::Regenerated
    );
    // The handover is gone (env var unset, one-time vault read...).
    let gone = || async {
        let unusable = AdminClient::builder(AdminApiKey::new("not\na key")).build();
        Err::<ApiToken, _>(unusable.unwrap_err())
    };
    let resumed = AutomationTokenRotator::new(
        w.client(RetryPolicy::none()),
        w.fake.site_base(),
        w.old.clone(),
        gone,
    )
    .unwrap();
    let outcome = rotate::rotate(&resumed, &journal, RotateOptions::new("f9")).await;
    assert!(
        outcome.is_ok(),
        "resume refused: {}",
        outcome.err().map(|e| e.to_string()).unwrap_or_default()
    );
}

// ---------------------------------------------------------------------------------------------
// F10: rule uuids are printed raw in the bulk pass's rate-limit error (README: uuids are
// redacted of both tokens everywhere).
// ---------------------------------------------------------------------------------------------
#[tokio::test(start_paused = true)]
async fn a_rate_limited_rule_uuid_is_not_printed() {
    let w = world(0).await;
    let old = w.old.token().expose_secret().to_owned();
    let mut rule = webhook_rule("r", &format!("Bearer {old}"));
    rule["uuid"] = json!(format!("u-{old}"));
    w.fake.add_rule(CLOUD, rule);
    w.fake.fault(Route::RuleGet, Fault::status(429).times(1000));
    let err = w
        .plain_rotator(RetryPolicy::none())
        .update(&w.new)
        .await
        .unwrap_err()
        .to_string();
    assert!(!err.contains(&old), "{err}");
}

// Held-up checks, kept as regression tests.

/// A 404 on the DELETE with the id still listed never concludes "revoked".
#[tokio::test(start_paused = true)]
async fn a_404_delete_with_the_id_still_listed_is_not_revoked() {
    let w = world(5).await;
    let rotator = w.rotator(RetryPolicy::none());
    let updated = rotator.update(&w.new).await.unwrap();
    rotator.verify(&w.new, &updated).await.unwrap();
    w.fake
        .fault(Route::RevokeUserToken, Fault::status(404).times(1000));
    assert!(rotator.finish(&w.new, &updated).await.is_err());
    assert!(w.fake.token_is_live(w.old.token()));
}

/// A hostile token list (HTML, malformed, a huge body) never panics and never finishes.
#[tokio::test(start_paused = true)]
async fn hostile_token_lists_fail_cleanly() {
    let w = world(5).await;
    let rotator = w.rotator(RetryPolicy::none());
    let updated = rotator.update(&w.new).await.unwrap();
    rotator.verify(&w.new, &updated).await.unwrap();
    for fault in [
        Fault::html(200),
        Fault::malformed_json(),
        Fault::status(200).body(r#"{"not":"a list"}"#),
        Fault::status(200).body(r#"[{"id":null}]"#),
        Fault::status(200).body("null"),
    ] {
        w.fake.fault(Route::UserTokens, fault.times(1000));
        w.fake
            .fault(Route::RevokeUserToken, Fault::status(500).times(1000));
        let r = rotator.finish(&w.new, &updated).await;
        w.fake.clear_faults();
        assert!(r.is_err(), "{:?}", r.map(|f| f.retired));
        assert!(w.fake.token_is_live(w.old.token()));
    }
}

/// Atlassian disables a rule written by someone who does not own its connections: a rule with
/// the old token and another account's connection is never written (the update names it),
/// and the plan lists its old token as a place that blocks revocation. A rule whose
/// connections the caller owns is written as usual.
#[tokio::test(start_paused = true)]
async fn a_rule_with_connections_the_caller_does_not_own_is_never_written() {
    let w = world(0).await;
    let old = w.old.token().expose_secret().to_owned();
    let client = w.client(RetryPolicy::none());
    let caller_id = atlassian_rotation::jira::JiraClient::builder(w.caller.clone())
        .base_url(w.fake.site_base())
        .build()
        .unwrap()
        .myself()
        .await
        .unwrap()
        .account_id;
    let mut uuids = Vec::new();
    for (name, owner) in [
        ("foreign", json!("someone-else")),
        ("owned", json!(caller_id)),
        ("no owner", serde_json::Value::Null),
    ] {
        let uuid = w
            .fake
            .add_rule(CLOUD, webhook_rule(name, &format!("Bearer {old}")));
        let mut doc = client.get_rule_json(&uuid).await.unwrap();
        doc["connections"] = json!([{"id": "c-1", "accountId": owner, "authType": "OAUTH"}]);
        client.update_rule_json(&uuid, &doc).await.unwrap();
        uuids.push(uuid);
    }
    let [foreign, owned, unowned] = <[String; 3]>::try_from(uuids).unwrap();
    let before_foreign = client.get_rule_json(&foreign).await.unwrap();
    let before_unowned = client.get_rule_json(&unowned).await.unwrap();

    let rotator = w.rotator(RetryPolicy::none());
    let plan = rotator.plan(&w.new).await.unwrap();
    let blocking: Vec<_> = plan
        .blocks_revocation
        .iter()
        .filter_map(|f| f.rule_uuid.clone())
        .collect();
    assert!(
        blocking.contains(&foreign) && blocking.contains(&unowned),
        "{blocking:?}"
    );
    assert!(!blocking.contains(&owned), "{blocking:?}");

    let err = rotator.update(&w.new).await.unwrap_err().to_string();
    assert!(
        err.contains("connections owned by another account"),
        "{err}"
    );
    assert!(err.contains(&foreign) && err.contains(&unowned), "{err}");
    assert_eq!(
        client.get_rule_json(&foreign).await.unwrap(),
        before_foreign
    );
    assert_eq!(
        client.get_rule_json(&unowned).await.unwrap(),
        before_unowned
    );
    let owned_after = client.get_rule_json(&owned).await.unwrap();
    assert!(
        !owned_after.to_string().contains(&old),
        "the owned rule was rotated"
    );
}

/// Verify counts distinct rules: a listing that repeated one rewritten rule in place of another
/// once passed the "targets seen" and "rules seen" checks, so verify never read the hidden rule
/// and finish revoked the old token it still held.
#[tokio::test]
async fn a_listing_repeating_one_rule_cannot_hide_another_from_verify() {
    let w = world(0).await;
    let header = format!("Bearer {}", w.old.token().expose_secret());
    let x = "0192e5ac-0e25-71de-ba7b-d972e6a20001";
    let y = "0192e5ac-0e25-71de-ba7b-d972e6a20002";
    for (uuid, name) in [(x, "X"), (y, "Y")] {
        let mut rule = webhook_rule(name, &header);
        rule["uuid"] = json!(uuid);
        w.fake.add_rule(CLOUD, rule);
    }
    let rotator = w
        .plain_rotator(RetryPolicy::none())
        .concurrency(1)
        .revoke_with(
            w.admin.clone(),
            &w.svc.account_id,
            OldToken::Id(w.old_id.clone()),
        )
        .accept_unreadable(true);

    // Hostile server: acknowledges the first PUT (rule X) without applying it.
    w.fake
        .fault(Route::RulePut, Fault::status(200).body("{}").times(1));
    let updated = rotator.update(&w.new).await.unwrap();
    assert_eq!(updated.rewritten, 2);
    assert_eq!(
        w.fake.rules_holding(&w.old),
        vec![x.to_owned()],
        "X still holds the old token"
    );

    // Verify's listing: Y twice, X not at all.
    let summary = |u: &str| json!({"uuid": u, "name": "Y", "state": "ENABLED"});
    w.fake.fault(
        Route::RuleSummaries,
        Fault::status(200)
            .body(
                json!({"links": {"self": null, "next": null, "prev": null},
                "data": [summary(y), summary(y)]})
                .to_string(),
            )
            .times(1),
    );
    let err = rotator.verify(&w.new, &updated).await.unwrap_err();
    assert!(err.to_string().contains("listed more than once"), "{err}");
    assert!(w.fake.token_is_live(w.old.token()));
}

/// An old-token id naming the NEW token is never revoked, also when another token was minted
/// after the new one (the "newest token" guard alone let that through): finish authenticates
/// with the new token between two readings of the token list and refuses a target whose last
/// access moved.
#[tokio::test]
async fn an_id_naming_the_new_token_is_never_revoked_even_when_it_is_not_the_newest() {
    let w = world(10).await;
    let later = OffsetDateTime::now_utc() + Duration::days(30);
    // Minted after the new token: some other integration of the service account.
    w.fake
        .mint_api_token(&w.svc.account_id, "backup-job", later);
    let rotator = w
        .plain_rotator(RetryPolicy::none())
        // Careless operator: the NEW token's id.
        .revoke_with(
            w.admin.clone(),
            &w.svc.account_id,
            OldToken::Id(w.new_id.clone()),
        )
        .accept_unreadable(true);
    let report = rotate::rotate(
        &rotator,
        &MemoryJournal::new(),
        RotateOptions::new("r4-newid"),
    )
    .await;
    let err = report.unwrap_err();
    assert!(
        err.error.to_string().contains("not revoking"),
        "{}",
        err.error
    );
    assert!(w.fake.token_is_live(&w.new), "the new token survives");
}

/// A rule read whose body is no rule document (HTML, broken JSON, `rule` not an object, no
/// `rule`) is a problem of the update and of verify, never a rule that holds no token: the
/// update reads rule bodies as bytes and skips parsing those that cannot hold a token, and a
/// body it cannot read must not pass as one.
#[tokio::test(start_paused = true)]
async fn a_rule_body_that_is_no_rule_document_is_never_taken_for_an_unrelated_rule() {
    for (case, fault) in [
        Fault::html(200),
        Fault::malformed_json(),
        Fault::status(200).body(r#"{"rule": "not an object", "connections": []}"#),
        Fault::status(200).body(r#"{"rule": null}"#),
        Fault::status(200).body(r#"{"connections": []}"#),
        Fault::status(200).body("[]"),
        Fault::status(200).body(r#"{"rule": {"uuid": "x"}} trailing"#),
    ]
    .into_iter()
    .enumerate()
    {
        let w = world(3).await;
        let rotator = w.rotator(RetryPolicy::none());
        w.fake.fault(Route::RuleGet, fault.times(1));
        let updated = rotator.update(&w.new).await;
        assert!(
            updated.is_err(),
            "case {case}: an unreadable rule passed: {:?}",
            updated.map(|u| u.targets)
        );
        w.fake.clear_faults();
        let updated = rotator.update(&w.new).await.expect("the second update");
        w.fake.fault(
            Route::RuleGet,
            Fault::status(200).body(r#"{"rule": "x"}"#).times(1),
        );
        assert!(rotator.verify(&w.new, &updated).await.is_err());
    }
}

// ---------------------------------------------------------------------------------------------
// Review of the performance work (issue 15).
// ---------------------------------------------------------------------------------------------

/// A rule body that is a JSON array holding a rule object is no rule document: the update and
/// verify must refuse it as they refuse `[]`, not skim its first element as the rule and count
/// it as unrelated (the byte path's `Document` accepted a sequence).
#[tokio::test(start_paused = true)]
async fn an_array_rule_body_is_an_update_and_verify_problem_never_an_unrelated_rule() {
    let w = world(3).await;
    let rotator = w.rotator(RetryPolicy::none());
    let body = r#"[{"uuid": "x", "name": "n", "components": []}, []]"#;
    w.fake
        .fault(Route::RuleGet, Fault::status(200).body(body).times(1));
    let updated = rotator.update(&w.new).await;
    assert!(
        updated.is_err(),
        "an array body passed as a rule: {:?}",
        updated.map(|u| u.targets)
    );
    w.fake.clear_faults();
    let updated = rotator.update(&w.new).await.expect("the second update");
    w.fake
        .fault(Route::RuleGet, Fault::status(200).body(body).times(1));
    assert!(rotator.verify(&w.new, &updated).await.is_err());
}

/// README "Security": "an edit saved more than a second before the write is never
/// overwritten". A PUT the server answers 429 (`Retry-After: 3`) would be sent again three
/// seconds after the read it was checked against: an edit saved in between must survive (the
/// attempt is not sent; the rule is compared again and found changed). Paused time: the edit is
/// made once the fake has answered the first PUT, while the rotation waits to retry.
#[tokio::test(start_paused = true)]
async fn a_put_retried_after_a_rate_limit_never_overwrites_an_edit_saved_meanwhile() {
    let w = world(0).await;
    let uuid = w.fake.add_rule(
        CLOUD,
        webhook_rule("r", &format!("Bearer {}", w.old.token().expose_secret())),
    );
    let editor = w.client(RetryPolicy::none());
    w.fake
        .fault(Route::RulePut, Fault::status(429).retry_after(3).times(1));
    let rotator = w.plain_rotator(RetryPolicy::default());
    let new = w.new.clone();
    let update = tokio::spawn(async move { rotator.update(&new).await.map(|u| u.rewritten) });
    wait_for_puts(&w.fake, 1).await;
    // The rotation's PUT was refused; someone renames the rule while it waits to retry.
    edit_name(&editor, &uuid, "renamed meanwhile").await;
    let saved = tokio::time::Instant::now();
    let outcome = update.await.unwrap();
    assert!(
        saved.elapsed() > atlassian_rotation::rotate::FRESH_READ,
        "the edit was saved more than FRESH_READ before the rotation's retry"
    );
    let after = editor.get_rule_json(&uuid).await.unwrap();
    assert_eq!(
        after["rule"]["name"], "renamed meanwhile",
        "the edit is overwritten (update: {outcome:?})"
    );
}

/// The same for a rollback: its PUT of the original, answered 429 and waiting to be retried,
/// is not sent over an edit saved meanwhile; the rule is reported modified since.
#[tokio::test(start_paused = true)]
async fn a_rollback_put_retried_after_a_rate_limit_never_overwrites_an_edit_saved_meanwhile() {
    let w = world(0).await;
    let uuid = w.fake.add_rule(
        CLOUD,
        webhook_rule("r", &format!("Bearer {}", w.old.token().expose_secret())),
    );
    let editor = w.client(RetryPolicy::none());
    let rotator = w.plain_rotator(RetryPolicy::default());
    assert_eq!(rotator.update(&w.new).await.unwrap().rewritten, 1);
    let puts = w.fake.request_count(Route::RulePut);
    w.fake
        .fault(Route::RulePut, Fault::status(429).retry_after(3).times(1));
    let rollback = tokio::spawn(async move { rotator.rollback().await });
    wait_for_puts(&w.fake, puts + 1).await;
    edit_name(&editor, &uuid, "renamed during the rollback").await;
    let rollback = rollback.await.unwrap().expect("the rollback runs");
    let after = editor.get_rule_json(&uuid).await.unwrap();
    assert_eq!(
        after["rule"]["name"], "renamed during the rollback",
        "the edit is overwritten ({rollback:?})"
    );
    assert_eq!(rollback.modified_since, vec![uuid]);
    assert!(rollback.restored.is_empty());
}

/// Yields (without letting paused time advance) until the fake has answered `n` rule PUTs.
async fn wait_for_puts(fake: &FakeAtlassian, n: usize) {
    for _ in 0..1_000_000 {
        if fake.request_count(Route::RulePut) >= n {
            return;
        }
        tokio::task::yield_now().await;
    }
    panic!("the fake never answered {n} rule PUTs");
}

/// Renames rule `uuid` as another admin would.
async fn edit_name(editor: &AutomationClient, uuid: &str, name: &str) {
    let mut edited = editor.get_rule_json(uuid).await.unwrap();
    edited["rule"]["name"] = json!(name);
    editor.update_rule_json(uuid, &edited).await.unwrap();
}

/// A PUT that was applied but answered 503 (`Retry-After: 3`) is not sent again blindly after
/// the window: the rule is read again, found as the rotation wrote it, and counted rewritten
/// (neither a conflict nor a second write).
#[tokio::test(start_paused = true)]
async fn a_put_applied_behind_an_error_is_found_written_when_compared_again() {
    let w = world(0).await;
    let uuid = w.fake.add_rule(
        CLOUD,
        webhook_rule("r", &format!("Bearer {}", w.old.token().expose_secret())),
    );
    w.fake.fault(
        Route::RulePut,
        Fault::status(503).retry_after(3).after_applying().times(1),
    );
    let updated = w
        .plain_rotator(RetryPolicy::default())
        .update(&w.new)
        .await
        .unwrap();
    assert_eq!(updated.rewritten, 1);
    let stats = w.fake.rule_stats(&uuid).unwrap();
    assert_eq!(stats.puts, 1, "applied once, not sent again");
    assert!(w.fake.rules_holding(&w.old).is_empty());
}
