//! A rotation that stops part-way exits 3 and is journaled; `journal list`, `show`, `resume`
//! and `abandon` work on it.

use atlassian_rotation::testing::{Fault, Route};

use crate::support::{Out, World, world};

async fn rotate_with_one_failing_write(w: &World) -> Out {
    w.fake.fault(Route::RulePut, Fault::status(400));
    w.rotate_token(&[]).await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_write_exits_3_and_journal_resume_finishes_the_rotation() {
    let w = world(20).await;
    let failed = rotate_with_one_failing_write(&w).await;
    failed.code(3);
    assert!(w.fake.token_is_live(w.old.token()), "nothing revoked yet");
    let id = failed.resume_id();

    let list = w.run(&["journal", "list", "--json"]).await;
    list.code(0);
    let entries = list.json_lines();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["rotation_id"], id.as_str());
    assert_eq!(entries[0]["unfinished"], true);
    assert!(
        entries[0]["last_error"].as_str().is_some(),
        "{}",
        list.stdout
    );

    let show = w.run(&["journal", "show", &id]).await;
    show.code(0);
    assert!(show.stdout.contains("regenerated"), "{}", show.stdout);

    // Only the secrets are given again: the settings were saved with the rotation.
    let resumed = w.resume_from_journal(&id).await;
    resumed.code(0);
    assert!(!w.fake.token_is_live(w.old.token()));
    assert!(w.fake.rules_holding(&w.old).is_empty());

    let list = w.run(&["journal", "list", "--json"]).await;
    assert_eq!(list.json_lines()[0]["step"], "finished");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_abandoned_rotation_is_not_resumed() {
    let w = world(20).await;
    let failed = rotate_with_one_failing_write(&w).await;
    failed.code(3);
    let id = failed.resume_id();
    let abandoned = w
        .run(&["journal", "abandon", &id, "--reason", "test"])
        .await;
    abandoned.code(0);
    let list = w.run(&["journal", "list", "--json"]).await;
    assert_eq!(list.json_lines()[0]["step"], "abandoned");
    // Exit 1: an abandoned rotation is not done, and a script must not read it as rotated.
    let resumed = w.run(&["journal", "resume", &id, "--yes"]).await;
    resumed.code(1);
    assert!(
        resumed.stderr.contains("abandoned: nothing to resume"),
        "{}",
        resumed.stderr
    );
    assert!(w.fake.token_is_live(w.old.token()));
}

#[tokio::test(flavor = "multi_thread")]
async fn resuming_an_unknown_rotation_is_a_usage_error() {
    let w = world(8).await;
    let out = w.run(&["journal", "resume", "no-such-rotation"]).await;
    out.code(2);
    assert!(
        out.stderr.contains("no rotation `no-such-rotation`"),
        "{}",
        out.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lease_held_by_a_dead_runner_is_taken_over_on_request() {
    use atlassian_rotation::rotate::{FileJournal, Journal as _};
    let w = world(12).await;
    let failed = rotate_with_one_failing_write(&w).await;
    failed.code(3);
    let id = failed.resume_id();
    // A runner on another host took the rotation and died holding it.
    let journal = FileJournal::new(w.journal()).unwrap();
    let now = time::OffsetDateTime::now_utc();
    let hour = std::time::Duration::from_secs(3600);
    journal
        .acquire(&id, "ci-runner-7", now, hour)
        .await
        .unwrap();

    let held = w.run(&["journal", "resume", &id, "--yes"]).await;
    held.code(3);
    assert!(held.stderr.contains("--take-over"), "{}", held.stderr);
    assert!(w.fake.token_is_live(w.old.token()));

    let taken = w
        .run(&["journal", "resume", &id, "--yes", "--take-over"])
        .await;
    taken.code(0);
    assert!(taken.stderr.contains("ci-runner-7"), "{}", taken.stderr);
    assert!(!w.fake.token_is_live(w.old.token()));
}
