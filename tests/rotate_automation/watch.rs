//! The watch for consumers nobody listed: a use of the old token after the update stops the
//! revocation (typed, saying when), the rotation's own requests never count, and a resume
//! after the forgotten place is fixed revokes.

use std::sync::atomic::AtomicBool;
use std::time::Duration as StdDuration;

use atlassian_rotation::consumer::FnConsumer;
use atlassian_rotation::jira::JiraClient;

use super::*;

const GRACE: StdDuration = StdDuration::from_secs(15 * 60);

fn old_jira(w: &World) -> JiraClient {
    JiraClient::builder(w.old.clone())
        .base_url(w.fake.site_base())
        .build()
        .unwrap()
}

/// A script nobody listed, which uses the old token whenever `running` is set: modelled as a
/// consumer the rotation observes during verify, i.e. after the update finished.
fn forgotten_script(w: &World, running: Arc<AtomicBool>) -> FnConsumer {
    let jira = old_jira(w);
    FnConsumer::new("config cache", |_| async { Ok(()) }).holds_with(move |_| {
        let (jira, running) = (jira.clone(), Arc::clone(&running));
        async move {
            if running.load(Ordering::SeqCst) {
                jira.myself().await?;
            }
            Ok(true)
        }
    })
}

/// A revoking rotator with the watch on, and the forgotten script running while `running` is set.
fn watched_with_forgotten_script(w: &World, running: &Arc<AtomicBool>) -> AutomationTokenRotator {
    w.rotator(RetryPolicy::none())
        .consumer(forgotten_script(w, Arc::clone(running)))
        .watch_old_token(&w.org_id, GRACE)
}

#[tokio::test(start_paused = true)]
async fn a_use_after_the_update_stops_the_revocation_and_a_resume_after_the_fix_revokes() {
    let w = world(10).await;
    let running = Arc::new(AtomicBool::new(true));
    let rotator = watched_with_forgotten_script(&w, &running);
    let journal = MemoryJournal::new();
    let err = rotate::rotate(&rotator, &journal, RotateOptions::new("w-1"))
        .await
        .unwrap_err();
    let Error::StillInUse {
        credential,
        last_used,
        baseline,
    } = &err.error
    else {
        panic!("expected StillInUse, got {err}");
    };
    assert!(credential.contains(&w.old_id));
    assert_ne!(last_used, baseline);
    let text = format!("{err} {err:?}");
    assert!(!text.contains(w.old.token().expose_secret()));
    assert!(w.fake.token_is_live(w.old.token()), "nothing revoked");
    let entry = journal.load("w-1").await.unwrap().unwrap();
    assert!(entry.last_error.unwrap().contains("last used at"));

    // The script is moved to the new token; the rotation is run again.
    running.store(false, Ordering::SeqCst);
    let report = rotate::rotate(&rotator, &journal, RotateOptions::new("w-1"))
        .await
        .unwrap();
    assert!(report.succeeded());
    assert!(!w.fake.token_is_live(w.old.token()));
    let checks = report.verified.unwrap().checks;
    assert!(
        checks.iter().any(|c| c.contains("was not used for")),
        "{checks:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn the_rotations_own_requests_never_count_as_a_use() {
    let w = world(10).await;
    let org = w.org_id.clone();
    // The caller rotates the very token its Automation client uses.
    let mine = AutomationClient::builder(w.old.clone())
        .base_url(w.fake.automation_base(CLOUD))
        .build()
        .unwrap();
    let rotator =
        AutomationTokenRotator::new(mine, w.fake.site_base(), w.old.clone(), w.new.clone())
            .unwrap()
            .revoke_with(
                w.admin.clone(),
                &w.svc.account_id,
                OldToken::Id(w.old_id.clone()),
            )
            .accept_unreadable(true)
            .watch_old_token(&org, GRACE);
    let report = rotate::rotate(&rotator, &MemoryJournal::new(), RotateOptions::new("w-2"))
        .await
        .unwrap();
    assert!(report.succeeded());
    assert!(!w.fake.token_is_live(w.old.token()));
}

#[tokio::test(start_paused = true)]
async fn the_watch_holds_for_the_grace_period_before_revoking() {
    let w = world(4).await;
    let org = w.org_id.clone();
    let rotator = w.rotator(RetryPolicy::none()).watch_old_token(&org, GRACE);
    let started = tokio::time::Instant::now();
    rotate::rotate(&rotator, &MemoryJournal::new(), RotateOptions::new("w-3"))
        .await
        .unwrap();
    assert!(started.elapsed() >= GRACE);
}

#[tokio::test(start_paused = true)]
async fn a_watch_on_the_wrong_org_fails_before_any_rule_is_written() {
    let w = world(6).await;
    let rotator = w
        .rotator(RetryPolicy::none())
        .watch_old_token("no-such-org", GRACE);
    let err = rotator.update(&w.new).await.unwrap_err();
    assert!(err.to_string().contains("api-tokens"), "{err}");
    for uuid in w.fake.rule_uuids(CLOUD) {
        assert_eq!(
            w.fake.rule_stats(&uuid).unwrap().puts,
            0,
            "rule {uuid} written"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn an_old_token_revoked_by_hand_after_the_watch_stopped_it_does_not_block_the_rotation() {
    let w = world(10).await;
    let running = Arc::new(AtomicBool::new(true));
    let rotator = watched_with_forgotten_script(&w, &running);
    let journal = MemoryJournal::new();
    let options = || RotateOptions::new("w-hand");
    let err = rotate::rotate(&rotator, &journal, options())
        .await
        .unwrap_err();
    assert!(matches!(err.error, Error::StillInUse { .. }), "{err}");

    // The operator moves the script to the new token and, runbook in hand, revokes the old
    // token in the UI; then runs the rotation again to finish it.
    running.store(false, Ordering::SeqCst);
    assert!(w.fake.revoke_api_token(&w.old_id));
    let mut last = None;
    for _ in 0..2 {
        match rotate::rotate(&rotator, &journal, options()).await {
            Ok(report) => {
                last = Some(Ok(report));
                break;
            }
            Err(e) => last = Some(Err(e.to_string())),
        }
    }
    let report = last.unwrap().unwrap();
    assert!(report.succeeded());
    let retired = &report.finished.unwrap().retired;
    assert!(retired[0].contains("already revoked"), "{retired:?}");
}

#[tokio::test(start_paused = true)]
async fn the_rotations_own_revocation_checks_are_not_taken_for_a_forgotten_consumer() {
    let w = world(6).await;
    let org = w.org_id.clone();
    let rotator = w.rotator(RetryPolicy::none()).watch_old_token(&org, GRACE);
    let journal = MemoryJournal::new();
    let options = || RotateOptions::new("w-own-checks");
    // The revoke is answered 204 but not applied yet (it takes a while to reach every node):
    // finish cannot prove it and asks for another run.
    w.fake
        .fault(Route::RevokeUserToken, Fault::status(204).body(""));
    let err = rotate::rotate(&rotator, &journal, options())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("not proven"), "{err}");
    assert!(w.fake.token_is_live(w.old.token()));

    // Nothing but the rotation itself touched the old token: the next run revokes it.
    let report = rotate::rotate(&rotator, &journal, options())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(report.succeeded());
    assert!(!w.fake.token_is_live(w.old.token()));
}

#[tokio::test(start_paused = true)]
async fn a_consumer_that_reverts_during_the_grace_period_stops_the_revocation() {
    use atlassian_rotation::consumer::FileConsumer;

    let w = world(6).await;
    let org = w.org_id.clone();
    let dir = tempfile::tempdir().unwrap();
    let env = dir.path().join(".env");
    let old = w.old.token().expose_secret().to_owned();
    std::fs::write(&env, format!("JIRA_TOKEN={old}\n")).unwrap();
    let rotator = w
        .rotator(RetryPolicy::none())
        .consumer(FileConsumer::dotenv(&env, "JIRA_TOKEN"))
        .watch_old_token(&org, GRACE);
    // Configuration management puts its copy of the file back halfway through the grace
    // period (its next run), with the old token in it.
    let reverted = env.clone();
    let puppet = tokio::spawn(async move {
        tokio::time::sleep(GRACE / 2).await;
        std::fs::write(&reverted, format!("JIRA_TOKEN={old}\n")).unwrap();
    });

    let outcome = rotate::rotate(
        &rotator,
        &MemoryJournal::new(),
        RotateOptions::new("w-revert"),
    )
    .await;
    puppet.await.unwrap();

    assert!(
        w.fake.token_is_live(w.old.token()),
        "the old token was revoked while the file held it again: {:?}",
        outcome
            .as_ref()
            .map(|r| r.succeeded())
            .map_err(|e| e.to_string())
    );
    let err = outcome.unwrap_err();
    assert!(
        matches!(&err.error, Error::Consumer { consumer, action: "verify", .. } if consumer.contains(".env")),
        "{err}"
    );
}
