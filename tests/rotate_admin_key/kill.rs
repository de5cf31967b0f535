//! A runner killed anywhere (its future dropped at any point of any step, also while the fake
//! has applied a request whose answer has not left yet) is resumed by another runner, in a
//! process of its own (clients and consumers built afresh on the old key), once the dead
//! runner's lease expired: the rotation completes, the old key revoked, the new one live and
//! held everywhere.

use std::time::Duration;

use std::collections::BTreeSet;

use atlassian_rotation::AdminClient;
use atlassian_rotation::rotate::{AdminKeyRotator, DEFAULT_LEASE_TTL, Journal as _, Step};
use time::OffsetDateTime;

use super::*;

/// Every response of the fake leaves this long after its request, on tokio's paused clock:
/// a kill at a time lands at a known request.
const LATENCY: Duration = Duration::from_millis(10);

fn after_expiry() -> OffsetDateTime {
    OffsetDateTime::now_utc() + DEFAULT_LEASE_TTL + Duration::from_secs(60)
}

/// What one process builds: its rotator, and a live client of its own on the old key.
fn process(w: &KeyWorld, places: &Places) -> (AdminKeyRotator, AdminClient) {
    let live = w.client(&w.old.key, ClientOptions::new());
    let rotator = w
        .key_rotator(ClientOptions::new(), w.new.key.clone())
        .consumer(places.file())
        .consumer(places.dotenv())
        .switch_client(live.clone());
    (rotator, live)
}

async fn world() -> (KeyWorld, Places) {
    let w = key_world().await;
    w.fake.set_latency(LATENCY);
    let places = Places::new(&w.old.key);
    (w, places)
}

#[tokio::test(start_paused = true)]
async fn a_runner_killed_anywhere_is_resumed_by_another_and_the_rotation_completes() {
    let full = {
        let (w, places) = world().await;
        let (rotator, _) = process(&w, &places);
        let started = tokio::time::Instant::now();
        rotate::rotate(&rotator, &MemoryJournal::new(), RotateOptions::new("whole"))
            .await
            .unwrap();
        started.elapsed()
    };
    let mut kills = 0;
    // Where the journal stood after each kill: every step must have been hit.
    let mut killed_after = BTreeSet::new();
    let mut at = LATENCY / 2;
    while at < full {
        let (w, places) = world().await;
        let journal = MemoryJournal::new();
        let (rotator, _) = process(&w, &places);
        let run = rotate::rotate(&rotator, &journal, RotateOptions::new("k").holder("pod-a"));
        if tokio::time::timeout(at, run).await.is_err() {
            kills += 1;
            killed_after.insert(journal.load("k").await.unwrap().map(|e| e.step));
        }

        let (rotator, live) = process(&w, &places);
        let resumed = RotateOptions::new("k").holder("pod-b").clock(after_expiry);
        let report = rotate::rotate(&rotator, &journal, resumed)
            .await
            .unwrap_or_else(|e| panic!("killed at {at:?}: the resume failed: {e}"));

        assert!(report.succeeded(), "killed at {at:?}: {report:?}");
        assert!(!w.fake.admin_key_is_live(&w.old.key), "killed at {at:?}");
        assert!(w.fake.admin_key_is_live(&w.new.key), "killed at {at:?}");
        assert!(
            w.fake.admin_key_is_live(&w.org.admin_key),
            "killed at {at:?}"
        );
        let new = w.new.key.expose_secret();
        assert_eq!(places.read("key"), format!("{new}\n"), "killed at {at:?}");
        assert!(
            places
                .read(".env")
                .contains(&format!("ATLASSIAN_ADMIN_KEY={new}\n"))
        );
        live.check_key(&w.org.id)
            .await
            .unwrap_or_else(|e| panic!("killed at {at:?}: the live client fails: {e}"));
        at += LATENCY;
    }
    assert!(kills >= 8, "only {kills} kill points in a run of {full:?}");
    let every_step = [
        None,
        Some(Step::Regenerated),
        Some(Step::Updated),
        Some(Step::Verified),
    ];
    assert_eq!(
        killed_after,
        BTreeSet::from(every_step),
        "kills landed after {killed_after:?}"
    );
}
