//! Variants found by an adversarial review of the journals: sealed, file and memory journals,
//! leases, compare-and-set and inspection. Each pins what the journal contract promises (no
//! credential lost or moved, no panic on a corrupted entry, no live rotation killed by an
//! operator's call); a few pin a documented limitation (a killed run's lease lasts its TTL).

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use atlassian_rotation::instance::InstanceAuth;
use atlassian_rotation::rotate::{
    self, FileJournal, Finished, Journal, JournalEntry, Lease, MemoryJournal, RotateOptions,
    Rotator, SealedJournal, SealingKey, Step, TunnelKeyRotator, Updated, Verified,
};
use atlassian_rotation::secret::{AdminApiKey, ApiToken};
use atlassian_rotation::testing::FakeAtlassian;
use atlassian_rotation::{AdminClient, ClientOptions, Error, InstanceClient, Result, RetryPolicy};
use time::OffsetDateTime;
use tokio::sync::{Semaphore, mpsc};

const SECRET: &str = "review3-very-secret-credential";

/// A rotator that stops once at `gate` (tells the test it got there, then waits for a permit).
struct Gated {
    gate: &'static str,
    entered: mpsc::UnboundedSender<()>,
    permit: Semaphore,
    gated: AtomicBool,
    minted: AtomicUsize,
    updates: AtomicUsize,
    finishes: AtomicUsize,
}

impl Gated {
    fn new(gate: &'static str) -> (Self, mpsc::UnboundedReceiver<()>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (
            Self {
                gate,
                entered: tx,
                permit: Semaphore::new(0),
                gated: AtomicBool::new(false),
                minted: AtomicUsize::new(0),
                updates: AtomicUsize::new(0),
                finishes: AtomicUsize::new(0),
            },
            rx,
        )
    }
    async fn at(&self, step: &'static str) {
        if step == self.gate && !self.gated.swap(true, Ordering::SeqCst) {
            self.entered.send(()).unwrap();
            self.permit.acquire().await.unwrap().forget();
        }
    }
    fn open(&self) {
        self.permit.add_permits(1);
    }
}

#[async_trait]
impl Rotator for Gated {
    type Credential = ApiToken;
    fn kind(&self) -> &'static str {
        "gated"
    }
    async fn regenerate(&self) -> Result<ApiToken> {
        let n = self.minted.fetch_add(1, Ordering::SeqCst) + 1;
        self.at("regenerate").await;
        Ok(ApiToken::new(format!("{SECRET}-{n}")))
    }
    async fn update(&self, _: &ApiToken) -> Result<Updated> {
        self.updates.fetch_add(1, Ordering::SeqCst);
        self.at("update").await;
        Ok(Updated::new(1, 1))
    }
    async fn verify(&self, _: &ApiToken, _: &Updated) -> Result<Verified> {
        self.at("verify").await;
        Ok(Verified::new().check("ok"))
    }
    async fn finish(&self, _: &ApiToken, _: &Updated) -> Result<Finished> {
        self.finishes.fetch_add(1, Ordering::SeqCst);
        self.at("finish").await;
        Ok(Finished::nothing())
    }
}

fn key(id: &str, byte: u8) -> SealingKey {
    SealingKey::from_bytes(id, &[byte; 32]).unwrap()
}

fn a_year_ahead() -> OffsetDateTime {
    OffsetDateTime::now_utc() + Duration::from_secs(365 * 24 * 3600)
}

fn past_default_ttl() -> OffsetDateTime {
    OffsetDateTime::now_utc() + rotate::DEFAULT_LEASE_TTL + Duration::from_secs(60)
}

// ---------------------------------------------------------------------------------------------
// LOSE A CREDENTIAL
// ---------------------------------------------------------------------------------------------

/// An operator abandons a rotation while its (live, lease-holding) runner is inside `update`.
/// Abandon once ignored the lease and dropped the journal's copy while the runner installed the
/// credential: now it is refused with `LeaseHeld`, and the runner finishes undisturbed.
#[tokio::test]
async fn abandon_is_refused_while_a_live_runner_holds_the_lease() {
    let journal = MemoryJournal::new();
    let (rotator, mut entered) = Gated::new("update");
    let run = rotate::rotate(
        &rotator,
        &journal,
        RotateOptions::new("r3-abandon").holder("pod-a"),
    );
    tokio::pin!(run);
    tokio::select! {
        _ = &mut run => panic!("should stop in update"),
        _ = entered.recv() => {}
    }
    let abandoned = journal
        .abandon("r3-abandon", "operator thought it was dead")
        .await;
    assert!(
        matches!(&abandoned, Err(Error::LeaseHeld { holder, .. }) if holder == "pod-a"),
        "abandon must refuse while a live runner holds the lease: {abandoned:?}"
    );
    rotator.open();
    let report = run.await.unwrap();
    assert!(report.succeeded(), "the live runner finishes undisturbed");
}

/// The tunnel flow: the journal write of the minted key conflicts (another writer bumped the
/// version between the intent and the mint). The key, which exists only in that response, is
/// returned in `unjournaled` and equals what the tunnel now holds.
#[tokio::test]
async fn a_minted_tunnel_key_whose_journal_write_conflicts_is_returned() {
    struct ConflictOnRegenerated(MemoryJournal);
    #[async_trait]
    impl Journal for ConflictOnRegenerated {
        async fn load(&self, id: &str) -> Result<Option<JournalEntry>> {
            self.0.load(id).await
        }
        async fn store(&self, e: &JournalEntry) -> Result<()> {
            if e.step == Step::Regenerated {
                return Err(Error::JournalConflict {
                    rotation_id: e.rotation_id.clone(),
                    expected: e.version,
                    found: Some(e.version + 1),
                });
            }
            self.0.store(e).await
        }
        async fn create(&self, e: &JournalEntry) -> Result<bool> {
            self.0.create(e).await
        }
    }
    let fake = FakeAtlassian::start().await;
    let org = fake.add_org("Acme");
    let tunnel = fake.add_tunnel(&org.id, "jira-dc");
    let options = ClientOptions::new().retry_policy(RetryPolicy::none());
    let admin = AdminClient::builder(AdminApiKey::new(org.admin_key.expose_secret()))
        .base_url(fake.admin_base())
        .options(options.clone())
        .build()
        .unwrap();
    let instance = InstanceClient::builder(InstanceAuth::PersonalAccessToken(tunnel.pat.clone()))
        .base_url(&tunnel.instance_base)
        .options(options)
        .build()
        .unwrap();
    let rotator = TunnelKeyRotator::new(admin, instance, &org.id, &tunnel.hostname);
    let journal = ConflictOnRegenerated(MemoryJournal::new());
    let err = rotate::rotate(&rotator, &journal, RotateOptions::new("r3-tunnel"))
        .await
        .unwrap_err();
    let minted = err
        .unjournaled
        .as_ref()
        .expect("the minted key is handed back");
    let live = fake.tunnel_key(&tunnel.hostname).unwrap();
    assert_eq!(minted.expose_secret(), live.expose_secret());
    assert!(!format!("{err} {err:?}").contains(live.expose_secret()));
}

/// `reseal_all` after a key rotation, while a rotation is running (between update and its
/// journal write): reseal once bumped the version under the lease and killed the healthy runner;
/// now it leaves a leased entry to its runner (whose next write seals with the new key).
#[tokio::test]
async fn reseal_all_leaves_a_running_rotation_alone() {
    let inner = MemoryJournal::new();
    // Start the rotation under the old key and stop it inside update.
    let old = SealedJournal::new(inner, key("old", 1));
    let (rotator, mut entered) = Gated::new("update");
    let run = rotate::rotate(
        &rotator,
        &old,
        RotateOptions::new("r3-reseal").holder("pod-a"),
    );
    tokio::pin!(run);
    tokio::select! {
        _ = &mut run => panic!("should stop in update"),
        _ = entered.recv() => {}
    }
    // The operator, on another host with the same table, rotates the sealing key.
    // (reseal through the same store the runner uses)
    let resealed =
        SealedJournal::new(CloneOf(&old), key("new", 2)).with_previous_key(key("old", 1));
    // The running rotation holds the lease: it is left to its own next write.
    assert_eq!(resealed.reseal_all().await.unwrap(), 0);
    rotator.open();
    let outcome = run.await;
    eprintln!(
        "runner after reseal: {:?}",
        outcome.as_ref().err().map(ToString::to_string)
    );
    let (other, _rx) = Gated::new("never");
    let next = rotate::rotate(
        &other,
        &old,
        RotateOptions::new("r3-reseal").holder("pod-b"),
    )
    .await;
    eprintln!(
        "another holder right after: {:?}",
        next.as_ref().err().map(ToString::to_string)
    );
    assert!(
        outcome.is_ok(),
        "a resealing pass must not kill a healthy rotation (or must respect its lease)"
    );
}

/// Passes the inner journal of a SealedJournal through unchanged (to reseal the same store).
struct CloneOf<'a>(&'a SealedJournal<MemoryJournal>);
#[async_trait]
impl Journal for CloneOf<'_> {
    async fn load(&self, id: &str) -> Result<Option<JournalEntry>> {
        self.0.inner().load(id).await
    }
    async fn store(&self, e: &JournalEntry) -> Result<()> {
        self.0.inner().store(e).await
    }
    async fn list(&self) -> Result<Vec<JournalEntry>> {
        self.0.inner().list().await
    }
}

/// Dropping the run future (Ctrl-C on a laptop) leaves the lease in the file journal: the same
/// command (new default holder every run) is refused for the whole default TTL. The error names
/// the holder and the time, but not what to do now (wait, or pass the same holder).
#[tokio::test]
async fn a_killed_laptop_run_blocks_the_same_command_for_fifteen_minutes() {
    let dir = tempfile::tempdir().unwrap();
    let journal = FileJournal::new(dir.path()).unwrap();
    let (rotator, mut entered) = Gated::new("update");
    {
        let run = rotate::rotate(&rotator, &journal, RotateOptions::new("r3-laptop"));
        tokio::pin!(run);
        tokio::select! {
            _ = &mut run => panic!("should stop in update"),
            _ = entered.recv() => {}
        }
    } // killed
    rotator.open();
    let err = rotate::rotate(&rotator, &journal, RotateOptions::new("r3-laptop"))
        .await
        .unwrap_err();
    let text = err.to_string();
    eprintln!("second run: {text}");
    assert!(matches!(err.error, Error::LeaseHeld { .. }), "{text}");
    let entry = journal.load("r3-laptop").await.unwrap().unwrap();
    let until = OffsetDateTime::parse(
        entry.lease_until.as_deref().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let wait = until - OffsetDateTime::now_utc();
    assert!(wait > time::Duration::minutes(14), "{wait}");
    // Nothing in the message tells the operator how to take over their own dead run.
    assert!(!text.contains("holder("), "{text}");
}

// ---------------------------------------------------------------------------------------------
// DOUBLE RUN
// ---------------------------------------------------------------------------------------------

/// A runner alive in `update` past its TTL (or a second runner whose clock is ahead by more
/// than the TTL): the second takes over and runs update, verify and finish; the first's next
/// write conflicts. The journal stays consistent and finish runs once, but `update` ran twice
/// concurrently: the lease is not renewed during a step and nothing fences the slow runner.
#[tokio::test]
async fn lease_expiry_under_a_live_runner_runs_update_twice() {
    let journal = MemoryJournal::new();
    let (rotator, mut entered) = Gated::new("update");
    let run = rotate::rotate(
        &rotator,
        &journal,
        RotateOptions::new("r3-skew").holder("pod-a"),
    );
    tokio::pin!(run);
    tokio::select! {
        _ = &mut run => panic!("should stop in update"),
        _ = entered.recv() => {}
    }
    let b = rotate::rotate(
        &rotator,
        &journal,
        RotateOptions::new("r3-skew")
            .holder("pod-b")
            .clock(past_default_ttl),
    )
    .await
    .unwrap();
    assert!(b.succeeded());
    rotator.open();
    let a = run.await.unwrap_err();
    assert!(matches!(a.error, Error::JournalConflict { .. }), "{}", a);
    assert_eq!(rotator.minted.load(Ordering::SeqCst), 1);
    assert_eq!(
        rotator.updates.load(Ordering::SeqCst),
        2,
        "update ran in both runners"
    );
    assert_eq!(rotator.finishes.load(Ordering::SeqCst), 1);
}

/// A runner whose clock is a year ahead writes a lease a year out; every correct runner is then
/// refused for a year. There is no call to break a lease (only `abandon`, which drops the
/// credential) and the reader does not distrust a lease far beyond any plausible TTL.
#[tokio::test]
async fn a_skewed_clock_locks_a_rotation_out_for_a_year() {
    let journal = MemoryJournal::new();
    let (rotator, mut entered) = Gated::new("verify");
    {
        let run = rotate::rotate(
            &rotator,
            &journal,
            RotateOptions::new("r3-year")
                .holder("skewed")
                .clock(a_year_ahead),
        );
        tokio::pin!(run);
        tokio::select! {
            _ = &mut run => panic!("should stop in verify"),
            _ = entered.recv() => {}
        }
    }
    rotator.open();
    let err = rotate::rotate(
        &rotator,
        &journal,
        RotateOptions::new("r3-year").holder("ok"),
    )
    .await
    .unwrap_err();
    eprintln!("{err}");
    assert!(matches!(err.error, Error::LeaseHeld { .. }));
}

/// Same-process concurrency with a FileJournal and a sealed FileJournal: two holders, one new
/// rotation id, many rounds: one mint per id.
#[tokio::test]
async fn two_holders_on_file_and_sealed_file_mint_once() {
    for round in 0..20 {
        let dir = tempfile::tempdir().unwrap();
        let a = SealedJournal::new(FileJournal::new(dir.path()).unwrap(), key("k", 3));
        let b = SealedJournal::new(FileJournal::new(dir.path()).unwrap(), key("k", 3));
        let (rot, _rx) = Gated::new("never");
        let id = format!("r3-two-{round}");
        let (ra, rb) = tokio::join!(
            rotate::rotate(&rot, &a, RotateOptions::new(&id).holder("a")),
            rotate::rotate(&rot, &b, RotateOptions::new(&id).holder("b")),
        );
        assert_eq!(rot.minted.load(Ordering::SeqCst), 1, "{ra:?} {rb:?}");
        for r in [&ra, &rb] {
            if let Err(e) = r {
                assert!(e.unjournaled.is_none());
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// CRYPTO MISUSE
// ---------------------------------------------------------------------------------------------

/// A sealed FileJournal entry copied to another rotation id's file name must not open: the file
/// journal checks the `rotation_id` inside the file, and SealedJournal checks it against the id
/// that was asked for (otherwise the driver would resume "r3-b" with "r3-a"'s credential).
#[tokio::test]
async fn a_sealed_file_entry_copied_to_another_id_does_not_open() {
    let dir = tempfile::tempdir().unwrap();
    let journal = SealedJournal::new(FileJournal::new(dir.path()).unwrap(), key("k", 4));
    let entry = JournalEntry::regenerated("r3-a", "gated", &ApiToken::new(SECRET));
    journal.store(&entry).await.unwrap();
    std::fs::copy(dir.path().join("r3-a.json"), dir.path().join("r3-b.json")).unwrap();
    let loaded = journal.load("r3-b").await;
    match &loaded {
        Ok(Some(e)) => eprintln!("load(r3-b) returned rotation_id {:?}", e.rotation_id),
        other => eprintln!("{other:?}"),
    }
    assert!(
        matches!(
            &loaded,
            Err(Error::Unsealable { .. } | Error::Journal { .. })
        ),
        "an entry moved to another rotation must not open"
    );
}

/// The same, unsealed: `load("x")` never returns an entry whose rotation_id is not "x".
#[tokio::test]
async fn file_journal_load_refuses_another_ids_entry() {
    let dir = tempfile::tempdir().unwrap();
    let journal = FileJournal::new(dir.path()).unwrap();
    journal
        .store(&JournalEntry::started("r3-a", "gated", ""))
        .await
        .unwrap();
    std::fs::copy(dir.path().join("r3-a.json"), dir.path().join("r3-b.json")).unwrap();
    let got = journal.load("r3-b").await;
    assert!(
        !matches!(&got, Ok(Some(e)) if e.rotation_id != "r3-b"),
        "load(\"r3-b\") returned {:?}",
        got.map(|e| e.map(|e| e.rotation_id))
    );
}

/// Rollback: the ciphertext of an earlier credential of the same rotation id (a backup, or an
/// id reused after `forget`) put back in the credential column must not open under the newer
/// fingerprint (the seal binds the fingerprint).
#[tokio::test]
async fn an_older_ciphertext_does_not_open_under_a_new_fingerprint() {
    let journal = SealedJournal::new(MemoryJournal::new(), key("k", 5));
    let mut first = JournalEntry::regenerated("r3-roll", "gated", &ApiToken::new("first-token"));
    journal.store(&first).await.unwrap();
    let old_ct = journal.inner().load("r3-roll").await.unwrap().unwrap();
    first.version = 1;
    let mut second = JournalEntry::regenerated("r3-roll", "gated", &ApiToken::new("second-token"));
    second.version = 1;
    second.created_at = first.created_at.clone();
    journal.store(&second).await.unwrap();
    // Attacker / bad restore: only the credential column goes back.
    let mut tampered = journal.inner().load("r3-roll").await.unwrap().unwrap();
    let fp_now = tampered.fingerprint.clone();
    tampered = old_ct.clone();
    tampered.fingerprint = fp_now.clone();
    tampered.version = 2;
    journal.inner().store(&tampered).await.unwrap();
    let opened = journal.load("r3-roll").await;
    if let Ok(Some(e)) = &opened {
        let c: ApiToken = e.credential().unwrap();
        eprintln!(
            "opened credential {:?} under fingerprint of second: {}",
            c.expose_secret(),
            e.fingerprint == fp_now
        );
    }
    assert!(
        matches!(opened, Err(Error::Unsealable { .. })),
        "a credential that does not match the entry's fingerprint must not open"
    );
}

/// Swapping two rotations' sealed credentials, changing the key id, clear values that look
/// sealed, keys of the wrong length or with bad ids: all typed errors, none leaks.
#[tokio::test]
async fn crypto_misuse_is_refused_with_typed_errors() {
    let j = SealedJournal::new(MemoryJournal::new(), key("k1", 6)).with_previous_key(key("k0", 7));
    for id in ["r3-x", "r3-y"] {
        j.store(&JournalEntry::regenerated(
            id,
            "gated",
            &ApiToken::new(format!("{SECRET}-{id}")),
        ))
        .await
        .unwrap();
    }
    let x = j.inner().load("r3-x").await.unwrap().unwrap();
    let y = j.inner().load("r3-y").await.unwrap().unwrap();
    // swap
    let mut xs = y.clone();
    xs.rotation_id = "r3-x".into();
    xs.version = x.version;
    j.inner().store(&xs).await.unwrap();
    let e = j.load("r3-x").await.unwrap_err();
    assert!(matches!(&e, Error::Unsealable { rotation_id, .. } if rotation_id == "r3-x"));
    // key id relabelled to the previous key
    let listed = format!("{:?}", j.list().await.unwrap());
    assert!(
        !listed.contains(SECRET) && !listed.contains("sealed:v1"),
        "{listed}"
    );
    // A clear credential that itself starts with the sealed prefix.
    let fake = JournalEntry::regenerated("r3-z", "gated", &ApiToken::new("sealed:v1:k1:AAAA"));
    j.inner().store(&fake).await.unwrap();
    assert!(matches!(
        j.load("r3-z").await,
        Err(Error::Unsealable { .. })
    ));
    let fake = JournalEntry::regenerated("r3-w", "gated", &ApiToken::new("sealed:v1:k1"));
    j.inner().store(&fake).await.unwrap();
    assert!(matches!(
        j.load("r3-w").await,
        Err(Error::Unsealable { .. })
    ));
    // A value through the sealed journal that starts with the prefix round-trips.
    let tricky = JournalEntry::regenerated("r3-v", "gated", &ApiToken::new("sealed:v1:k0:zz"));
    j.store(&tricky).await.unwrap();
    let back: ApiToken = j.load("r3-v").await.unwrap().unwrap().credential().unwrap();
    assert_eq!(back.expose_secret(), "sealed:v1:k0:zz");
    // Keys.
    assert!(SealingKey::from_base64("k", "AAAA").is_err());
    assert!(SealingKey::from_base64("k", &"A".repeat(43)).is_err());
    assert!(SealingKey::from_bytes("", &[0; 32]).is_err());
    assert!(SealingKey::from_bytes("a:b", &[0; 32]).is_err());
    assert!(SealingKey::from_bytes("k", &[0; 33]).is_err());
    // Two seals of the same value differ (random nonces).
    let a = JournalEntry::regenerated("r3-n1", "gated", &ApiToken::new(SECRET));
    let b = JournalEntry::regenerated("r3-n2", "gated", &ApiToken::new(SECRET));
    j.store(&a).await.unwrap();
    j.store(&b).await.unwrap();
    let ca = j.inner().load("r3-n1").await.unwrap().unwrap();
    let cb = j.inner().load("r3-n2").await.unwrap().unwrap();
    let na = ca.credential::<ApiToken>().unwrap();
    let nb = cb.credential::<ApiToken>().unwrap();
    assert_ne!(&na.expose_secret()[..40], &nb.expose_secret()[..40]);
}

// ---------------------------------------------------------------------------------------------
// PANIC
// ---------------------------------------------------------------------------------------------

/// A corrupted file with `entry_version` = u64::MAX: `acquire` (the driver's first call) must
/// not overflow (it once panicked in debug builds and wrapped to 0 in release).
#[tokio::test]
async fn a_file_entry_with_a_huge_version_does_not_panic() {
    let dir = tempfile::tempdir().unwrap();
    let journal = FileJournal::new(dir.path()).unwrap();
    journal
        .store(&JournalEntry::started("r3-huge", "gated", ""))
        .await
        .unwrap();
    let path = dir.path().join("r3-huge.json");
    let text = std::fs::read_to_string(&path).unwrap();
    let text = text.replace(
        "\"entry_version\": 1",
        "\"entry_version\": 18446744073709551615",
    );
    std::fs::write(&path, text).unwrap();
    let j = journal.clone();
    let task = tokio::spawn(async move {
        j.acquire(
            "r3-huge",
            "pod-b",
            OffsetDateTime::now_utc(),
            Duration::from_secs(60),
        )
        .await
        .map(|l: Lease| l.holder)
    });
    let joined = task.await;
    assert!(
        !joined.as_ref().is_err_and(|e| e.is_panic()),
        "acquire panicked"
    );
}

/// `lease_ttl` is caller input: a huge one is shortened, never a panic in `now + ttl`.
#[tokio::test]
async fn a_huge_lease_ttl_does_not_panic() {
    let task = tokio::spawn(async {
        let journal = MemoryJournal::new();
        let (rotator, _rx) = Gated::new("never");
        rotate::rotate(
            &rotator,
            &journal,
            RotateOptions::new("r3-ttl").lease_ttl(Duration::from_secs(u64::MAX)),
        )
        .await
        .is_ok()
    });
    let joined = task.await;
    assert!(
        !joined.as_ref().is_err_and(|e| e.is_panic()),
        "rotate panicked"
    );
}

/// A journal that always conflicts: acquire gives up after three tries (no hang), typed.
#[tokio::test]
async fn a_journal_that_always_conflicts_does_not_hang() {
    struct Always(Mutex<u64>);
    #[async_trait]
    impl Journal for Always {
        async fn load(&self, id: &str) -> Result<Option<JournalEntry>> {
            let mut n = self.0.lock().unwrap();
            *n += 1;
            let mut e = JournalEntry::started(id, "gated", "");
            e.version = *n;
            Ok(Some(e))
        }
        async fn store(&self, e: &JournalEntry) -> Result<()> {
            Err(Error::JournalConflict {
                rotation_id: e.rotation_id.clone(),
                expected: e.version,
                found: None,
            })
        }
    }
    let j = Always(Mutex::new(0));
    let (rotator, _rx) = Gated::new("never");
    let err = rotate::rotate(&rotator, &j, RotateOptions::new("r3-always"))
        .await
        .unwrap_err();
    assert!(matches!(err.error, Error::JournalConflict { .. }));
    assert_eq!(rotator.minted.load(Ordering::SeqCst), 0);
}

// ---------------------------------------------------------------------------------------------
// LEAK
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn no_type_shows_the_credential_or_key() {
    let k = SealingKey::from_bytes("k", &[0x5a; 32]).unwrap();
    let j = SealedJournal::new(MemoryJournal::new(), k);
    let e = JournalEntry::regenerated("r3-leak", "gated", &ApiToken::new(SECRET));
    j.store(&e).await.unwrap();
    let l = j
        .acquire(
            "r3-leak",
            "h",
            OffsetDateTime::now_utc(),
            Duration::from_secs(1),
        )
        .await
        .unwrap();
    let wrong = SealedJournal::new(CloneOfMem(j.inner()), key("other", 1));
    let unsealable = wrong.load("r3-leak").await.unwrap_err();
    let all = format!(
        "{j:?} {l:?} {e:?} {unsealable} {unsealable:?} {:?}",
        j.list().await.unwrap()
    );
    assert!(
        !all.contains(SECRET) && !all.contains("90, 90") && !all.contains("5a5a"),
        "{all}"
    );
}

struct CloneOfMem<'a>(&'a MemoryJournal);
#[async_trait]
impl Journal for CloneOfMem<'_> {
    async fn load(&self, id: &str) -> Result<Option<JournalEntry>> {
        self.0.load(id).await
    }
    async fn store(&self, e: &JournalEntry) -> Result<()> {
        self.0.store(e).await
    }
}
