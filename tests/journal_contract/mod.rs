//! The `Journal` contract, as one suite every journal runs (`journal_conformance.rs` for the
//! file and memory journals, `postgres_journal.rs` for PostgreSQL; each also wrapped in
//! `SealedJournal`), and the driver's kill-anywhere and two-runners scenarios on any journal.
#![allow(dead_code)]

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use atlassian_rotation::rotate::{
    self, Finished, Journal, JournalEntry, RotateOptions, Rotator, Step, Updated, Verified,
};
use atlassian_rotation::secret::ApiToken;
use atlassian_rotation::{Error, Result};
use time::OffsetDateTime;
use tokio::sync::mpsc;

pub const SECRET: &str = "ATATT-contract-secret-value";

fn conflict(r: Result<()>) -> bool {
    matches!(r, Err(Error::JournalConflict { .. }))
}

/// Every clause of the contract, on an empty `journal`; `tag` keeps ids apart.
pub async fn contract(journal: &dyn Journal, tag: &str) {
    let id = format!("{tag}-contract");
    // Create-only: the first run's entry stands.
    let mut entry = JournalEntry::started(&id, "scripted", "target-a");
    entry.old_fingerprint = Some("old-fp".into());
    assert!(journal.create(&entry).await.unwrap(), "{tag}: first create");
    let other = JournalEntry::started(&id, "scripted", "target-b");
    assert!(
        !journal.create(&other).await.unwrap(),
        "{tag}: second create"
    );
    let loaded = journal.load(&id).await.unwrap().unwrap();
    assert_eq!(
        (loaded.target.as_str(), loaded.version),
        ("target-a", 1),
        "{tag}"
    );
    assert!(!loaded.has_credential());

    // Step order with compare-and-set on the version.
    let mut minted = JournalEntry::regenerated(&id, "scripted", &ApiToken::new(SECRET));
    minted.target = "target-a".into();
    minted.old_fingerprint = Some("old-fp".into());
    minted.version = 1;
    journal.store(&minted).await.unwrap();
    minted.version = 2;
    assert!(conflict(journal.store(&loaded).await), "{tag}: stale v1");
    let mut fresh = minted.clone();
    fresh.version = 0;
    assert!(conflict(journal.store(&fresh).await), "{tag}: v0 over v2");
    minted.updated = Some(Updated::new(3, 2).target("rule-a"));
    minted.step = Step::Updated;
    journal.store(&minted).await.unwrap();
    minted.version = 3;

    // Resume: everything comes back, the credential included.
    let back = journal.load(&id).await.unwrap().unwrap();
    assert_eq!(back.step, Step::Updated, "{tag}");
    assert_eq!(back.version, 3, "{tag}");
    assert_eq!(back.kind, "scripted");
    assert_eq!(back.fingerprint, minted.fingerprint);
    assert_eq!(back.old_fingerprint.as_deref(), Some("old-fp"));
    assert_eq!(back.updated.as_ref().unwrap().rewritten, 2);
    assert_eq!(back.credential::<ApiToken>(), Some(ApiToken::new(SECRET)));

    // Concurrent writers of one version: exactly one wins.
    let racing: Vec<_> = (0..6)
        .map(|i| {
            let mut e = back.clone();
            e.target = format!("racer-{i}");
            async move { journal.store(&e).await }
        })
        .collect();
    let results = futures::future::join_all(racing).await;
    let won = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(won, 1, "{tag}: {results:?}");
    assert!(results.into_iter().filter(|r| r.is_err()).all(conflict));
    let mut current = journal.load(&id).await.unwrap().unwrap();
    assert_eq!(current.version, 4);
    current.target = "target-a".into();

    // List and list_unfinished: no secrets, the inspection fields are there.
    let listed = journal.list().await.unwrap();
    let mine = listed.iter().find(|e| e.rotation_id == id).unwrap();
    assert!(
        !mine.has_credential(),
        "{tag}: listing carries no credential"
    );
    assert_eq!(mine.step, Step::Updated);
    assert_eq!(mine.fingerprint, minted.fingerprint);
    assert!(!mine.updated_at.is_empty());
    assert!(
        journal
            .list_unfinished()
            .await
            .unwrap()
            .iter()
            .any(|e| e.rotation_id == id)
    );

    // Leases: held, refused to others, expire, renew, release.
    let now = OffsetDateTime::now_utc();
    let ttl = Duration::from_secs(60);
    let lease = journal.acquire(&id, "runner-a", now, ttl).await.unwrap();
    assert_eq!(lease.holder, "runner-a");
    match journal.acquire(&id, "runner-b", now, ttl).await {
        Err(Error::LeaseHeld {
            rotation_id,
            holder,
            until,
        }) => {
            assert_eq!(
                (rotation_id.as_str(), holder.as_str()),
                (id.as_str(), "runner-a")
            );
            assert!(!until.is_empty());
        }
        other => panic!("{tag}: expected LeaseHeld, got {other:?}"),
    }
    let held = journal.load(&id).await.unwrap().unwrap();
    assert_eq!(held.holder.as_deref(), Some("runner-a"));
    assert!(held.lease_until.is_some());
    assert_eq!(
        held.credential::<ApiToken>(),
        Some(ApiToken::new(SECRET)),
        "{tag}: a lease write keeps the credential"
    );
    journal
        .acquire(&id, "runner-a", now + Duration::from_secs(30), ttl)
        .await
        .unwrap();
    // runner-a renewed until now+90s: at now+61s runner-b is still refused; at now+91s it wins.
    let refused = journal
        .acquire(&id, "runner-b", now + Duration::from_secs(61), ttl)
        .await;
    assert!(matches!(refused, Err(Error::LeaseHeld { .. })), "{tag}");
    journal
        .acquire(&id, "runner-b", now + Duration::from_secs(91), ttl)
        .await
        .unwrap();
    journal.release(&id, "runner-a").await.unwrap(); // not the holder: nothing happens
    assert_eq!(
        journal.load(&id).await.unwrap().unwrap().holder.as_deref(),
        Some("runner-b")
    );
    journal.release(&id, "runner-b").await.unwrap();
    journal.acquire(&id, "runner-a", now, ttl).await.unwrap();
    journal.release(&id, "runner-a").await.unwrap();
    // No entry: nothing to hold, and nothing is written.
    let lease = journal
        .acquire(&format!("{tag}-none"), "runner-a", now, ttl)
        .await
        .unwrap();
    assert_eq!(lease.rotation_id, format!("{tag}-none"));
    assert!(
        journal
            .load(&format!("{tag}-none"))
            .await
            .unwrap()
            .is_none()
    );

    // Forget refuses an unfinished rotation; abandon records what and why.
    let refused = journal.forget(&id).await;
    assert!(
        matches!(refused, Err(Error::InvalidInput { .. })),
        "{tag}: {refused:?}"
    );
    let abandoned = journal
        .abandon(&id, "tunnel deleted by hand")
        .await
        .unwrap();
    assert_eq!(abandoned.step, Step::Abandoned);
    let stored = journal.load(&id).await.unwrap().unwrap();
    assert_eq!(stored.step, Step::Abandoned, "{tag}");
    assert_eq!(
        stored.abandoned_reason.as_deref(),
        Some("tunnel deleted by hand")
    );
    assert_eq!(
        stored.fingerprint, minted.fingerprint,
        "the fingerprint stays"
    );
    assert!(
        !stored.has_credential(),
        "{tag}: abandoning drops the credential"
    );
    assert!(
        !journal
            .list_unfinished()
            .await
            .unwrap()
            .iter()
            .any(|e| e.rotation_id == id)
    );
    assert!(journal.abandon(&id, "again").await.is_err());
    assert!(journal.forget(&id).await.unwrap(), "{tag}: forget");
    assert!(journal.load(&id).await.unwrap().is_none());
    assert!(!journal.forget(&id).await.unwrap());

    // A finished rotation drops its credential and can be forgotten.
    let done_id = format!("{tag}-done");
    let mut done = JournalEntry::regenerated(&done_id, "scripted", &ApiToken::new(SECRET));
    assert!(journal.create(&done).await.unwrap());
    done.version = 1;
    done.step = Step::Finished;
    done.finished = Some(Finished::nothing());
    // (A caller that advances to Finished drops the credential; a store of one that did not
    // is the caller's business: check the journal's copy after the driver's own run instead.)
    journal.store(&done).await.unwrap();
    assert!(journal.forget(&done_id).await.unwrap());

    // Nothing a journal says shows the credential.
    for text in [
        format!("{back:?}"),
        format!("{listed:?}"),
        format!("{:?}", journal.load(&done_id).await),
        format!("{:?}", journal.store(&back).await),
    ] {
        assert!(!text.contains(SECRET), "{tag}: {text}");
    }
}

/// A rotator that records its calls, and can hang at a chosen step.
#[derive(Default)]
pub struct Scripted {
    pub minted: AtomicUsize,
    pub calls: Mutex<Vec<String>>,
    pub hang_at: Mutex<Option<(&'static str, mpsc::UnboundedSender<()>)>>,
}

impl Scripted {
    async fn enter(&self, step: &'static str, detail: String) -> Result<()> {
        self.calls.lock().unwrap().push(detail);
        // Let another runner in between any two steps.
        tokio::task::yield_now().await;
        let hang = self
            .hang_at
            .lock()
            .unwrap()
            .as_ref()
            .filter(|(s, _)| *s == step)
            .map(|(_, tx)| tx.clone());
        if let Some(tx) = hang {
            tx.send(()).unwrap();
            std::future::pending::<()>().await;
        }
        Ok(())
    }
}

#[async_trait]
impl Rotator for Scripted {
    type Credential = ApiToken;

    fn kind(&self) -> &'static str {
        "scripted"
    }

    async fn regenerate(&self) -> Result<ApiToken> {
        let n = self.minted.fetch_add(1, Ordering::SeqCst) + 1;
        self.enter("regenerate", "regenerate".into()).await?;
        Ok(ApiToken::new(format!("{SECRET}-{n}")))
    }

    async fn update(&self, c: &ApiToken) -> Result<Updated> {
        self.enter("update", format!("update {}", c.expose_secret()))
            .await?;
        Ok(Updated::new(1, 1))
    }

    async fn verify(&self, c: &ApiToken, _: &Updated) -> Result<Verified> {
        self.enter("verify", format!("verify {}", c.expose_secret()))
            .await?;
        Ok(Verified::new().check("ok"))
    }

    async fn finish(&self, c: &ApiToken, _: &Updated) -> Result<Finished> {
        self.enter("finish", format!("finish {}", c.expose_secret()))
            .await?;
        Ok(Finished::nothing())
    }
}

/// Past the default lease: a runner that died holding it has lost it.
pub fn after_expiry() -> OffsetDateTime {
    OffsetDateTime::now_utc() + rotate::DEFAULT_LEASE_TTL + Duration::from_secs(60)
}

/// A runner killed inside each step (its future dropped while it holds the lease): another
/// runner is refused with `LeaseHeld` until the lease expires, then resumes without a second
/// regenerate (after a kill inside regenerate, only with an explicit remint).
pub async fn kill_anywhere(journal: &dyn Journal, tag: &str) {
    for hanging in ["regenerate", "update", "verify", "finish"] {
        let id = format!("{tag}-kill-{hanging}");
        let rotator = Scripted::default();
        let (tx, mut entered) = mpsc::unbounded_channel();
        *rotator.hang_at.lock().unwrap() = Some((hanging, tx));
        {
            let run = rotate::rotate(&rotator, journal, RotateOptions::new(&id).holder("pod-a"));
            tokio::pin!(run);
            tokio::select! {
                _ = &mut run => panic!("{tag}: the rotation should hang in {hanging}"),
                _ = entered.recv() => {}
            }
        }
        *rotator.hang_at.lock().unwrap() = None;
        let held = rotate::rotate(&rotator, journal, RotateOptions::new(&id).holder("pod-b"))
            .await
            .unwrap_err();
        assert!(
            matches!(&held.error, Error::LeaseHeld { holder, .. } if holder == "pod-a"),
            "{tag}/{hanging}: {held}"
        );
        let survivor = || RotateOptions::new(&id).holder("pod-b").clock(after_expiry);
        if hanging == "regenerate" {
            let err = rotate::rotate(&rotator, journal, survivor())
                .await
                .unwrap_err();
            assert!(err.to_string().contains("outcome is unknown"), "{err}");
            assert_eq!(rotator.minted.load(Ordering::SeqCst), 1);
        }
        let report = rotate::rotate(&rotator, journal, survivor().remint_after_unknown(true))
            .await
            .unwrap();
        assert!(report.succeeded(), "{tag}: after a kill in {hanging}");
        let mints = 1 + usize::from(hanging == "regenerate");
        assert_eq!(
            rotator.minted.load(Ordering::SeqCst),
            mints,
            "{tag}/{hanging}"
        );
        let entry = journal.load(&id).await.unwrap().unwrap();
        assert_eq!(entry.step, Step::Finished);
        assert!(
            entry.holder.is_none(),
            "a finished rotation is held by no one"
        );
        assert!(!entry.has_credential());
    }
}

/// Two runners on separate journal handles (`a`, `b`: two connections, two directory handles)
/// start the same new minting rotation at once: it mints exactly once.
pub async fn two_runners(a: &dyn Journal, b: &dyn Journal, tag: &str) {
    let id = format!("{tag}-two-runners");
    let rotator = Scripted::default();
    let (ra, rb) = tokio::join!(
        rotate::rotate(&rotator, a, RotateOptions::new(&id).holder("pod-a")),
        rotate::rotate(&rotator, b, RotateOptions::new(&id).holder("pod-b")),
    );
    assert_eq!(
        rotator.minted.load(Ordering::SeqCst),
        1,
        "{tag}: minted once"
    );
    let lost = match (ra, rb) {
        (Ok(won), Err(lost)) | (Err(lost), Ok(won)) => {
            assert!(won.succeeded());
            lost
        }
        // One ran to the end before the other looked: it found the rotation finished.
        (Ok(x), Ok(y))
            if x.resumed_from == Some(Step::Finished) || y.resumed_from == Some(Step::Finished) =>
        {
            return;
        }
        (ra, rb) => panic!("{tag}: expected one success: {ra:?} / {rb:?}"),
    };
    assert!(lost.unjournaled.is_none());
    let text = lost.error.to_string();
    assert!(
        // RotationFinished: the other ran to the end before this one looked.
        matches!(
            lost.error,
            Error::LeaseHeld { .. }
                | Error::JournalConflict { .. }
                | Error::RotationFinished { .. }
        ) || text.contains("another run started rotation"),
        "{tag}: {text}"
    );
}
