//! One `Journal` contract for every journal the crate ships: the file and memory journals,
//! each also wrapped in `SealedJournal` (PostgreSQL runs the same suite in
//! `postgres_journal.rs`).

mod journal_contract;

use atlassian_rotation::rotate::{
    FileJournal, Journal, JournalEntry, MemoryJournal, SealedJournal, SealingKey,
};
use atlassian_rotation::secret::ApiToken;
use journal_contract::{SECRET, contract, kill_anywhere, two_runners};

fn key() -> SealingKey {
    SealingKey::from_bytes("test-key", &[42; 32]).unwrap()
}

#[tokio::test]
async fn the_memory_journal_keeps_the_contract() {
    contract(&MemoryJournal::new(), "memory").await;
    contract(
        &SealedJournal::new(MemoryJournal::new(), key()),
        "sealed-memory",
    )
    .await;
}

#[tokio::test]
async fn the_file_journal_keeps_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    contract(&FileJournal::new(dir.path()).unwrap(), "file").await;
    let sealed = SealedJournal::new(FileJournal::new(dir.path()).unwrap(), key());
    contract(&sealed, "sealed-file").await;
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|f| f.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        leftovers.is_empty(),
        "no lock or temporary files: {leftovers:?}"
    );
}

#[tokio::test]
async fn a_runner_killed_anywhere_is_resumed_by_another_after_its_lease_expires() {
    let dir = tempfile::tempdir().unwrap();
    kill_anywhere(&MemoryJournal::new(), "memory").await;
    kill_anywhere(&FileJournal::new(dir.path()).unwrap(), "file").await;
    let sealed = SealedJournal::new(FileJournal::new(dir.path()).unwrap(), key());
    kill_anywhere(&sealed, "sealed-file").await;
}

#[tokio::test]
async fn two_runners_on_separate_handles_mint_once() {
    let memory = MemoryJournal::new();
    two_runners(&memory, &memory, "memory").await;
    let dir = tempfile::tempdir().unwrap();
    let a = FileJournal::new(dir.path()).unwrap();
    let b = FileJournal::new(dir.path()).unwrap();
    two_runners(&a, &b, "file").await;
    let a = SealedJournal::new(FileJournal::new(dir.path()).unwrap(), key());
    let b = SealedJournal::new(FileJournal::new(dir.path()).unwrap(), key());
    two_runners(&a, &b, "sealed-file").await;
}

/// The sealed file on disk holds no credential, and a wrong key fails loudly, naming the
/// rotation: never a fresh start.
#[tokio::test]
async fn a_sealed_file_holds_no_credential_and_a_wrong_key_fails_loudly() {
    let dir = tempfile::tempdir().unwrap();
    let journal = SealedJournal::new(FileJournal::new(dir.path()).unwrap(), key());
    let entry = JournalEntry::regenerated("rot-1", "tunnel-key", &ApiToken::new(SECRET));
    journal.store(&entry).await.unwrap();
    let text = std::fs::read_to_string(dir.path().join("rot-1.json")).unwrap();
    assert!(!text.contains(SECRET), "{text}");
    assert!(text.contains("sealed:v1:test-key:"), "{text}");
    assert!(
        text.contains("\"fingerprint\""),
        "inspection fields stay readable"
    );

    let wrong = SealedJournal::new(
        FileJournal::new(dir.path()).unwrap(),
        SealingKey::from_bytes("test-key", &[7; 32]).unwrap(),
    );
    let err = wrong.load("rot-1").await.unwrap_err();
    assert!(
        matches!(&err, atlassian_rotation::Error::Unsealable { rotation_id, .. } if rotation_id == "rot-1"),
        "{err}"
    );
    assert!(!err.to_string().contains(SECRET));
    // Listing needs no key: inspection works without it.
    assert_eq!(wrong.list().await.unwrap().len(), 1);
}
