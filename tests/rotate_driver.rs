//! The driver's write-ahead discipline: a credential minted is journaled before update, a
//! rotation interrupted anywhere resumes from the journal without regenerating, and nothing is
//! retired before verify passed.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use atlassian_rotation::rotate::{
    self, Audit, FileJournal, Finished, Journal, JournalEntry, MemoryJournal, RotateOptions,
    Rotator, Step, StepStatus, Updated, Verified,
};
use atlassian_rotation::secret::ApiToken;
use atlassian_rotation::{Error, Result};
use tokio::sync::mpsc;

const STEPS: [&str; 4] = ["regenerate", "update", "verify", "finish"];

/// A rotator that records its calls, and can fail or hang at a chosen step.
#[derive(Default)]
struct Scripted {
    /// What `Rotator::target` says (the trait's default, empty, unless set).
    target: String,
    /// Its regenerate takes a credential made elsewhere: `regenerate_mints` is false.
    handed_over: bool,
    minted: AtomicUsize,
    calls: Mutex<Vec<String>>,
    fail_at: Mutex<Option<&'static str>>,
    hang_at: Mutex<Option<(&'static str, mpsc::UnboundedSender<()>)>>,
}

impl Scripted {
    fn failing_at(step: &'static str) -> Self {
        let s = Self::default();
        *s.fail_at.lock().unwrap() = Some(step);
        s
    }

    fn heal(&self) {
        *self.fail_at.lock().unwrap() = None;
        *self.hang_at.lock().unwrap() = None;
    }

    fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }

    async fn enter(&self, step: &'static str, detail: String) -> Result<()> {
        self.calls.lock().unwrap().push(detail);
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
        if *self.fail_at.lock().unwrap() == Some(step) {
            return Err(Error::Rotation {
                step,
                reason: "injected failure".into(),
            });
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

    fn target(&self) -> String {
        self.target.clone()
    }

    fn regenerate_mints(&self) -> bool {
        !self.handed_over
    }

    async fn regenerate(&self) -> Result<ApiToken> {
        let n = self.minted.fetch_add(1, Ordering::SeqCst) + 1;
        self.enter("regenerate", "regenerate".into()).await?;
        Ok(ApiToken::new(format!("ATATT-minted-secret-{n}")))
    }

    async fn update(&self, c: &ApiToken) -> Result<Updated> {
        self.enter("update", format!("update {}", c.expose_secret()))
            .await?;
        Ok(Updated::new(3, 2).target("rule-a").target("rule-b"))
    }

    async fn verify(&self, c: &ApiToken, updated: &Updated) -> Result<Verified> {
        let detail = format!("verify {} {:?}", c.expose_secret(), updated.targets);
        self.enter("verify", detail).await?;
        Ok(Verified::new().check("rules hold the new token"))
    }

    async fn finish(&self, c: &ApiToken, _: &Updated) -> Result<Finished> {
        self.enter("finish", format!("finish {}", c.expose_secret()))
            .await?;
        Ok(Finished::nothing().retired("old token revoked"))
    }
}

/// A clock past the default lease: a runner that died holding the lease has lost it.
fn after_expiry() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc() + rotate::DEFAULT_LEASE_TTL + std::time::Duration::from_secs(60)
}

fn options(id: &str) -> RotateOptions {
    RotateOptions::new(id).audit(Audit::new().reason("test").initiated_by("ci"))
}

#[tokio::test]
async fn a_rotation_runs_every_step_once_in_order() {
    let rotator = Scripted::default();
    let journal = MemoryJournal::new();
    let report = rotate::rotate(&rotator, &journal, options("r1"))
        .await
        .unwrap();
    assert!(report.succeeded());
    assert_eq!(
        rotator.calls(),
        [
            "regenerate",
            "update ATATT-minted-secret-1",
            "verify ATATT-minted-secret-1 [\"rule-a\", \"rule-b\"]",
            "finish ATATT-minted-secret-1",
        ]
    );
    let steps: Vec<_> = report.steps.iter().map(|s| (s.step, s.status)).collect();
    assert_eq!(steps, STEPS.map(|s| (s, StepStatus::Done)));
    assert_eq!(report.updated.as_ref().unwrap().rewritten, 2);
    assert_eq!(report.audit.reason.as_deref(), Some("test"));
    let json = serde_json::to_string(&report).unwrap();
    assert!(!json.contains("ATATT-minted-secret"), "{json}");
    let entry = journal.load("r1").await.unwrap().unwrap();
    assert_eq!(entry.step, Step::Finished);
    assert!(entry.credential::<ApiToken>().is_none());

    // Running the finished rotation again changes nothing: a rotator that cannot prove it is
    // the same rotation (it knows no old credential) is told the id is spent.
    let again = rotate::rotate(&rotator, &journal, options("r1"))
        .await
        .unwrap_err();
    assert!(
        matches!(again.error, Error::RotationFinished { .. }),
        "{}",
        again.error
    );
    assert_eq!(rotator.calls().len(), 4);
}

#[tokio::test]
async fn a_failure_at_any_step_resumes_from_the_journal_without_regenerating() {
    for failing in ["update", "verify", "finish"] {
        let dir = tempfile::tempdir().unwrap();
        let journal = FileJournal::new(dir.path()).unwrap();
        let rotator = Scripted::failing_at(failing);
        let err = rotate::rotate(&rotator, &journal, options("r2"))
            .await
            .unwrap_err();
        assert!(err.unjournaled.is_none());
        assert!(err.to_string().contains("run again to resume"), "{err}");
        let failed = err.report.steps.last().unwrap();
        assert_eq!((failed.step, failed.status), (failing, StepStatus::Failed));
        let entry = journal.load("r2").await.unwrap().unwrap();
        assert_eq!(
            entry.credential::<ApiToken>(),
            Some(ApiToken::new("ATATT-minted-secret-1")),
            "the minted credential is journaled after a failure in {failing}"
        );
        if failing != "finish" {
            assert!(
                !rotator.calls().iter().any(|c| c.starts_with("finish")),
                "nothing retired before verify passed"
            );
        }

        rotator.heal();
        let report = rotate::rotate(&rotator, &journal, options("r2"))
            .await
            .unwrap();
        assert!(report.succeeded());
        assert_eq!(rotator.minted.load(Ordering::SeqCst), 1, "one regenerate");
        assert!(report.resumed_from.is_some());
        let resumed_with: Vec<_> = rotator
            .calls()
            .into_iter()
            .filter(|c| c != "regenerate")
            .collect();
        assert!(
            resumed_with
                .iter()
                .all(|c| c.contains("ATATT-minted-secret-1"))
        );
        // The failed step ran again; the ones before it did not. A failed verify runs update
        // again first (it is idempotent, and what verify found is update's to mend), and a
        // finish runs only right after a verify of the same run.
        let rerun_from = match failing {
            "verify" => "update",
            "finish" => "verify",
            other => other,
        };
        let position = STEPS.iter().position(|s| *s == rerun_from).unwrap();
        let reran: Vec<_> = report
            .steps
            .iter()
            .filter(|s| s.status == StepStatus::Done)
            .map(|s| s.step)
            .collect();
        assert_eq!(reran, &STEPS[position..]);
    }
}

#[tokio::test]
async fn a_future_dropped_inside_any_step_resumes_without_a_second_regenerate() {
    for hanging in STEPS {
        let journal = MemoryJournal::new();
        let rotator = Scripted::default();
        let (tx, mut entered) = mpsc::unbounded_channel();
        *rotator.hang_at.lock().unwrap() = Some((hanging, tx));
        {
            let run = rotate::rotate(&rotator, &journal, options("r3"));
            tokio::pin!(run);
            tokio::select! {
                _ = &mut run => panic!("the rotation should hang in {hanging}"),
                _ = entered.recv() => {}
            }
            // The future is dropped here, mid-step, as a crash or a cancelled task would.
        }
        rotator.heal();
        // The dead run's lease stands until it expires: another runner is told who holds it.
        let err = rotate::rotate(&rotator, &journal, options("r3"))
            .await
            .unwrap_err();
        assert!(matches!(err.error, Error::LeaseHeld { .. }), "{err}");
        if hanging == "regenerate" {
            // Whether the interrupted regenerate minted is unknown: no second one unasked.
            let err = rotate::rotate(&rotator, &journal, options("r3").clock(after_expiry))
                .await
                .unwrap_err();
            assert!(err.to_string().contains("outcome is unknown"), "{err}");
            assert_eq!(rotator.minted.load(Ordering::SeqCst), 1);
        }
        let resume = options("r3").remint_after_unknown(true).clock(after_expiry);
        let report = rotate::rotate(&rotator, &journal, resume).await.unwrap();
        assert!(report.succeeded(), "after a drop in {hanging}");
        let expected_mints = 1 + usize::from(hanging == "regenerate");
        assert_eq!(
            rotator.minted.load(Ordering::SeqCst),
            expected_mints,
            "only an explicit remint regenerates again; any later drop must not regenerate"
        );
        let last_mint = format!("ATATT-minted-secret-{expected_mints}");
        assert!(
            rotator
                .calls()
                .iter()
                .filter(|c| c.starts_with("finish"))
                .all(|c| c.ends_with(&last_mint))
        );
    }
}

/// A journal whose writes fail, as a full disk would; it may still take the small entry that
/// records a regenerate is starting.
struct BrokenJournal {
    accept_intent: bool,
}

#[async_trait]
impl Journal for BrokenJournal {
    async fn load(&self, _: &str) -> Result<Option<JournalEntry>> {
        Ok(None)
    }
    async fn store(&self, entry: &JournalEntry) -> Result<()> {
        if self.accept_intent && entry.step == Step::Started {
            return Ok(());
        }
        Err(Error::Journal {
            action: "write",
            source: "disk full".into(),
        })
    }
}

#[tokio::test]
async fn a_credential_the_journal_cannot_store_is_handed_back_and_not_installed() {
    let rotator = Scripted::default();
    let journal = BrokenJournal {
        accept_intent: true,
    };
    let err = rotate::rotate(&rotator, &journal, options("r4"))
        .await
        .unwrap_err();
    assert_eq!(
        err.unjournaled,
        Some(ApiToken::new("ATATT-minted-secret-1"))
    );
    assert_eq!(rotator.calls(), ["regenerate"], "update never ran");
    for text in [err.to_string(), format!("{err:?}")] {
        assert!(!text.contains("ATATT-minted-secret"), "{text}");
    }
    assert!(err.to_string().contains("returned to the caller"));
}

#[tokio::test]
async fn nothing_is_minted_when_the_journal_cannot_record_the_attempt() {
    let rotator = Scripted::default();
    let journal = BrokenJournal {
        accept_intent: false,
    };
    let err = rotate::rotate(&rotator, &journal, options("r8"))
        .await
        .unwrap_err();
    assert!(matches!(err.error, Error::Journal { .. }));
    assert!(rotator.calls().is_empty(), "regenerate never ran");
    assert_eq!(rotator.minted.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_rotation_id_of_another_kind_or_an_unsafe_one_is_refused() {
    let journal = MemoryJournal::new();
    let other = JournalEntry::regenerated("r5", "tunnel-key", &ApiToken::new("x"));
    journal.store(&other).await.unwrap();
    let rotator = Scripted::default();
    let err = rotate::rotate(&rotator, &journal, options("r5"))
        .await
        .unwrap_err();
    assert!(
        matches!(err.error, Error::RotationMismatch { what: "kind", .. }),
        "{err}"
    );
    let err = rotate::rotate(&rotator, &journal, options("../etc/passwd"))
        .await
        .unwrap_err();
    assert!(matches!(err.error, Error::InvalidInput { .. }));
    assert!(rotator.calls().is_empty());
}

#[tokio::test]
async fn a_regenerate_that_certainly_minted_nothing_can_simply_run_again() {
    let journal = MemoryJournal::new();
    let rotator = Scripted::failing_at("regenerate");
    let err = rotate::rotate(&rotator, &journal, options("r6"))
        .await
        .unwrap_err();
    assert!(!err.error.may_have_been_applied());
    assert_eq!(
        journal.load("r6").await.unwrap().unwrap().step,
        Step::NotMinted
    );
    rotator.heal();
    let report = rotate::rotate(&rotator, &journal, options("r6"))
        .await
        .unwrap();
    assert!(report.succeeded());
    assert_eq!(rotator.minted.load(Ordering::SeqCst), 2);
}

/// A rotator of the same kind aimed somewhere else never resumes a journaled credential.
#[tokio::test]
async fn a_journaled_rotation_is_resumed_only_for_the_same_target() {
    let journal = MemoryJournal::new();
    let first = Scripted::failing_at("update");
    rotate::rotate(&first, &journal, options("r7"))
        .await
        .unwrap_err();
    let other = Scripted {
        target: "another instance".into(),
        ..Scripted::default()
    };
    let err = rotate::rotate(&other, &journal, options("r7"))
        .await
        .unwrap_err();
    assert!(
        matches!(err.error, Error::RotationMismatch { what: "target", .. }),
        "{err}"
    );
    assert!(other.calls().is_empty(), "nothing installed elsewhere");
}

/// A journal whose loads wait until as many runs as its barrier counts have loaded: every run
/// then sees the rotation id as new, the worst interleaving of runs started at the same moment.
struct LoadTogether {
    inner: Box<dyn Journal>,
    loaded: tokio::sync::Barrier,
}

#[async_trait]
impl Journal for LoadTogether {
    async fn load(&self, rotation_id: &str) -> Result<Option<JournalEntry>> {
        let entry = self.inner.load(rotation_id).await;
        self.loaded.wait().await;
        entry
    }

    async fn store(&self, entry: &JournalEntry) -> Result<()> {
        self.inner.store(entry).await
    }

    async fn create(&self, entry: &JournalEntry) -> Result<bool> {
        self.inner.create(entry).await
    }
}

/// Two runs started with the same rotation id at the same moment: one mints, the other stops
/// before regenerating, with both journals the crate ships.
#[tokio::test]
async fn two_runs_of_one_rotation_id_started_together_mint_once() {
    let dir = tempfile::tempdir().unwrap();
    let journals: [Box<dyn Journal>; 2] = [
        Box::new(MemoryJournal::new()),
        Box::new(FileJournal::new(dir.path()).unwrap()),
    ];
    for inner in journals {
        let journal = LoadTogether {
            inner,
            loaded: tokio::sync::Barrier::new(2),
        };
        let rotator = Scripted::default();
        let (a, b) = tokio::join!(
            rotate::rotate(&rotator, &journal, options("together")),
            rotate::rotate(&rotator, &journal, options("together")),
        );
        assert_eq!(rotator.minted.load(Ordering::SeqCst), 1, "minted once");
        let (won, lost) = match (a, b) {
            (Ok(won), Err(lost)) | (Err(lost), Ok(won)) => (won, lost),
            (a, b) => panic!("expected one success and one refusal: {a:?} / {b:?}"),
        };
        assert!(won.succeeded());
        let text = lost.error.to_string();
        assert!(
            text.contains("another run started rotation `together`"),
            "{text}"
        );
        assert!(lost.unjournaled.is_none());
    }
}

/// Without minting, both runs regenerate; the one that journals second says its credential was
/// not used, names no fingerprint, and hands nothing back as "unjournaled".
#[tokio::test]
async fn of_two_runs_that_do_not_mint_the_second_to_journal_leaves_the_rotation_to_the_first() {
    let journal = LoadTogether {
        inner: Box::new(MemoryJournal::new()),
        loaded: tokio::sync::Barrier::new(2),
    };
    let rotator = Scripted {
        handed_over: true,
        ..Scripted::default()
    };
    let (a, b) = tokio::join!(
        rotate::rotate(&rotator, &journal, options("handed")),
        rotate::rotate(&rotator, &journal, options("handed")),
    );
    let (won, lost) = match (a, b) {
        (Ok(won), Err(lost)) | (Err(lost), Ok(won)) => (won, lost),
        (a, b) => panic!("expected one success and one refusal: {a:?} / {b:?}"),
    };
    let text = lost.error.to_string();
    assert!(
        text.contains("another run journaled rotation `handed` first"),
        "{text}"
    );
    assert!(lost.unjournaled.is_none());
    assert!(lost.report.credential_fingerprint.is_none());
    let journaled = journal.inner.load("handed").await.unwrap().unwrap();
    assert_eq!(
        Some(journaled.fingerprint),
        won.credential_fingerprint,
        "the journal holds the winner's credential"
    );
}
