//! The journal: where a freshly minted credential is written before anything else happens.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use async_trait::async_trait;
use secrecy::{ExposeSecret as _, SecretString};
use serde::{Deserialize, Serialize};

use super::{Finished, Updated, Verified};
use crate::error::{Error, Result};
use crate::secret::{AdminApiKey, ApiToken, PersonalAccessToken, TunnelKey};

/// A credential that can be written to a journal and read back.
///
/// Implemented for the crate's secret types. The journal is the one place a credential is
/// stored in clear (it must be: it is what makes a rotation resumable), so choose where it lives.
pub trait JournalCredential: Send + Sync + Sized {
    /// The clear-text value to store.
    fn journal_value(&self) -> &str;
    /// Rebuilds the credential from a stored value.
    fn from_journal_value(value: String) -> Self;
    /// A non-reversible fingerprint, for reports.
    fn fingerprint(&self) -> String;
}

macro_rules! journal_credential {
    ($($ty:ty),*) => {$(
        impl JournalCredential for $ty {
            fn journal_value(&self) -> &str {
                self.expose_secret()
            }
            fn from_journal_value(value: String) -> Self {
                Self::new(value)
            }
            fn fingerprint(&self) -> String {
                <$ty>::fingerprint(self)
            }
        }
    )*};
}
journal_credential!(ApiToken, TunnelKey, AdminApiKey, PersonalAccessToken);

/// The last step a rotation completed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Step {
    /// A regenerate that mints was started, and whether it minted is unknown (it was
    /// interrupted, or no answer came back): the source may hold a credential nobody has.
    Started,
    /// A regenerate failed without minting anything: safe to start again.
    NotMinted,
    /// The new credential was minted and journaled.
    Regenerated,
    /// It was installed where it is consumed.
    Updated,
    /// It was proven to work.
    Verified,
    /// The old credential was retired; the rotation is complete.
    Finished,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Started => "started",
            Self::NotMinted => "not_minted",
            Self::Regenerated => "regenerated",
            Self::Updated => "updated",
            Self::Verified => "verified",
            Self::Finished => "finished",
        })
    }
}

/// One rotation's record. Debug never shows the credential.
///
/// Once the rotation is [`Step::Finished`] the credential is dropped from the entry: it lives
/// where it was installed, and the journal no longer needs a copy.
#[derive(Clone)]
#[non_exhaustive]
pub struct JournalEntry {
    /// The caller's rotation id.
    pub rotation_id: String,
    /// The rotator's kind.
    pub kind: String,
    /// What the rotation changes ([`Rotator::target`](super::Rotator::target)).
    pub target: String,
    /// The last completed step.
    pub step: Step,
    /// A fingerprint of the new credential.
    pub fingerprint: String,
    /// A fingerprint of the credential this rotation replaces, when the rotator knows it
    /// ([`Rotator::old_fingerprint`](super::Rotator::old_fingerprint)). A resume with a
    /// different old credential is refused.
    pub old_fingerprint: Option<String>,
    /// The update step's outcome, once it ran.
    pub updated: Option<Updated>,
    /// The verify step's outcome, once it ran.
    pub verified: Option<Verified>,
    /// The finish step's outcome, once it ran.
    pub finished: Option<Finished>,
    /// When the credential was minted (RFC 3339).
    pub created_at: String,
    /// When the entry last changed (RFC 3339).
    pub updated_at: String,
    credential: Option<SecretString>,
}

impl fmt::Debug for JournalEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JournalEntry")
            .field("rotation_id", &self.rotation_id)
            .field("kind", &self.kind)
            .field("target", &self.target)
            .field("step", &self.step)
            .field("fingerprint", &self.fingerprint)
            .field("old_fingerprint", &self.old_fingerprint)
            .field(
                "credential",
                &self.credential.as_ref().map(|_| crate::secret::REDACTED),
            )
            .finish_non_exhaustive()
    }
}

impl JournalEntry {
    /// A new entry for a credential just minted.
    ///
    /// ```
    /// use atlassian_rotation::rotate::{JournalEntry, Step};
    /// use atlassian_rotation::secret::TunnelKey;
    ///
    /// let entry = JournalEntry::regenerated("rot-1", "tunnel-key", &TunnelKey::new("k"));
    /// assert_eq!(entry.step, Step::Regenerated);
    /// assert!(!format!("{entry:?}").contains("\"k\""));
    /// ```
    pub fn regenerated<C: JournalCredential>(
        rotation_id: &str,
        kind: &str,
        credential: &C,
    ) -> Self {
        let now = now_rfc3339();
        Self {
            rotation_id: rotation_id.to_owned(),
            kind: kind.to_owned(),
            target: String::new(),
            step: Step::Regenerated,
            fingerprint: credential.fingerprint(),
            old_fingerprint: None,
            updated: None,
            verified: None,
            finished: None,
            created_at: now.clone(),
            updated_at: now,
            credential: Some(SecretString::from(credential.journal_value().to_owned())),
        }
    }

    /// An entry recording that a minting regenerate is about to run: written first, so that a
    /// crash or lost answer during the mint is visible on the next run.
    ///
    /// ```
    /// use atlassian_rotation::rotate::{JournalEntry, Step};
    ///
    /// let entry = JournalEntry::started("rot-1", "tunnel-key", "org/host");
    /// assert_eq!(entry.step, Step::Started);
    /// ```
    pub fn started(rotation_id: &str, kind: &str, target: &str) -> Self {
        let now = now_rfc3339();
        Self {
            rotation_id: rotation_id.to_owned(),
            kind: kind.to_owned(),
            target: target.to_owned(),
            step: Step::Started,
            fingerprint: String::new(),
            old_fingerprint: None,
            updated: None,
            verified: None,
            finished: None,
            created_at: now.clone(),
            updated_at: now,
            credential: None,
        }
    }

    /// The journaled credential, while the rotation is not finished.
    pub fn credential<C: JournalCredential>(&self) -> Option<C> {
        self.credential
            .as_ref()
            .map(|s| C::from_journal_value(s.expose_secret().to_owned()))
    }

    /// Whether the rotation still has steps to run (it is neither finished nor certainly
    /// unminted).
    ///
    /// ```
    /// use atlassian_rotation::rotate::JournalEntry;
    /// assert!(JournalEntry::started("rot-1", "tunnel-key", "org/host").is_unfinished());
    /// ```
    pub fn is_unfinished(&self) -> bool {
        !matches!(self.step, Step::Finished | Step::NotMinted)
    }

    /// A copy without the credential, for listing.
    pub(crate) fn without_credential(&self) -> Self {
        Self {
            credential: None,
            ..self.clone()
        }
    }

    /// Records a completed step; on [`Step::Finished`] drops the credential.
    pub(crate) fn advance(&mut self, step: Step) {
        self.step = step;
        self.updated_at = now_rfc3339();
        if step == Step::Finished {
            self.credential = None;
        }
    }
}

pub(crate) fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// A durable store for rotations in progress, chosen by the caller (a file, a vault).
///
/// `store` must be durable when it returns: the driver runs `update` only after it did.
#[async_trait]
pub trait Journal: Send + Sync {
    /// The entry for `rotation_id`, if any.
    async fn load(&self, rotation_id: &str) -> Result<Option<JournalEntry>>;
    /// Writes `entry`, replacing any earlier one with the same rotation id.
    async fn store(&self, entry: &JournalEntry) -> Result<()>;

    /// Writes `entry` only if the journal holds none for its rotation id, and returns whether
    /// it did. The driver's first write of a new rotation id comes through here, so that two
    /// runs started with the same new id at the same moment cannot both mint: the one that
    /// loses gets `Ok(false)` and stops. (Later writes replace the entry with
    /// [`store`](Self::store): a rerun after a regenerate that minted nothing, or with
    /// `remint_after_unknown`, is not guarded against a second run doing the same at once.)
    ///
    /// The default loads, then stores: not atomic. Override it (as [`FileJournal`] and
    /// [`MemoryJournal`] do) for a journal that several processes or tasks share.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> atlassian_rotation::Result<()> {
    /// use atlassian_rotation::rotate::{Journal, JournalEntry, MemoryJournal};
    ///
    /// let journal = MemoryJournal::new();
    /// let entry = JournalEntry::started("tunnel-2026-11", "tunnel-key", "org/jira-dc");
    /// assert!(journal.create(&entry).await?);
    /// assert!(!journal.create(&entry).await?, "the second run finds the first one's entry");
    /// # Ok(()) }
    /// ```
    async fn create(&self, entry: &JournalEntry) -> Result<bool> {
        if self.load(&entry.rotation_id).await?.is_some() {
            return Ok(false);
        }
        self.store(entry).await?;
        Ok(true)
    }

    /// Every entry, without its credential, in no particular order: for inspection, and to
    /// find an unfinished rotation to resume ([`unfinished`](super::unfinished)).
    ///
    /// The default fails with [`Error::Journal`]: override it for a journal that can list (as
    /// [`FileJournal`] and [`MemoryJournal`] do).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> atlassian_rotation::Result<()> {
    /// use atlassian_rotation::rotate::{Journal, JournalEntry, MemoryJournal};
    /// use atlassian_rotation::secret::TunnelKey;
    ///
    /// let journal = MemoryJournal::new();
    /// journal.store(&JournalEntry::regenerated("rot-1", "tunnel-key", &TunnelKey::new("k"))).await?;
    /// let listed = journal.list().await?;
    /// assert_eq!(listed[0].rotation_id, "rot-1");
    /// assert!(listed[0].credential::<TunnelKey>().is_none(), "listing never carries the secret");
    /// # Ok(()) }
    /// ```
    async fn list(&self) -> Result<Vec<JournalEntry>> {
        Err(journal_err(
            "list",
            std::io::Error::new(
                std::io::ErrorKind::Unsupported,
                "this journal cannot list its entries",
            ),
        ))
    }
}

/// A journal in memory: for tests, and for callers that hold the process for the whole rotation.
///
/// ```
/// use atlassian_rotation::rotate::MemoryJournal;
/// let journal = MemoryJournal::new();
/// assert!(journal.entries().is_empty());
/// ```
#[derive(Debug, Default)]
pub struct MemoryJournal {
    entries: Mutex<HashMap<String, JournalEntry>>,
}

impl MemoryJournal {
    /// An empty journal.
    pub fn new() -> Self {
        Self::default()
    }

    /// A copy of every entry.
    pub fn entries(&self) -> Vec<JournalEntry> {
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect()
    }
}

#[async_trait]
impl Journal for MemoryJournal {
    async fn load(&self, rotation_id: &str) -> Result<Option<JournalEntry>> {
        Ok(self
            .entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(rotation_id)
            .cloned())
    }

    async fn store(&self, entry: &JournalEntry) -> Result<()> {
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(entry.rotation_id.clone(), entry.clone());
        Ok(())
    }

    async fn list(&self) -> Result<Vec<JournalEntry>> {
        Ok(self
            .entries()
            .iter()
            .map(JournalEntry::without_credential)
            .collect())
    }

    async fn create(&self, entry: &JournalEntry) -> Result<bool> {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        match entries.entry(entry.rotation_id.clone()) {
            std::collections::hash_map::Entry::Occupied(_) => Ok(false),
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(entry.clone());
                Ok(true)
            }
        }
    }
}

/// A journal in a directory: one file per rotation id (`<dir>/<id>.json`), written atomically
/// (temporary file, fsync, rename, fsync of the directory) with 0600 permissions on Unix. The
/// first write of a rotation id ([`Journal::create`]) links the synced temporary file into
/// place instead, which fails if another run created the entry first; on a filesystem without
/// hard links it creates the file exclusively and writes it in place (exclusive, not atomic: a
/// crash mid-write leaves a file that fails to load and is safe to delete, since nothing was
/// minted yet).
///
/// ```no_run
/// use atlassian_rotation::rotate::FileJournal;
/// let journal = FileJournal::new("/var/lib/rotation").unwrap();
/// # let _ = journal;
/// ```
#[derive(Debug, Clone)]
pub struct FileJournal {
    dir: PathBuf,
}

#[derive(Serialize, Deserialize)]
struct Record {
    version: u32,
    rotation_id: String,
    kind: String,
    #[serde(default)]
    target: String,
    step: Step,
    fingerprint: String,
    #[serde(default)]
    old_fingerprint: Option<String>,
    credential: Option<String>,
    updated: Option<Updated>,
    verified: Option<Verified>,
    finished: Option<Finished>,
    created_at: String,
    updated_at: String,
}

impl FileJournal {
    /// A journal in `dir`, created (0700 on Unix) if missing.
    pub fn new(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref().to_path_buf();
        create_private_dir(&dir).map_err(|e| journal_err("create directory", e))?;
        Ok(Self { dir })
    }

    /// The file that holds `rotation_id`'s entry.
    pub fn path_of(&self, rotation_id: &str) -> Result<PathBuf> {
        check_rotation_id(rotation_id)?;
        Ok(self.dir.join(format!("{rotation_id}.json")))
    }
}

#[async_trait]
impl Journal for FileJournal {
    async fn load(&self, rotation_id: &str) -> Result<Option<JournalEntry>> {
        let path = self.path_of(rotation_id)?;
        let bytes = match tokio::fs::read(&path).await {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(journal_err("read", e)),
        };
        let r: Record = serde_json::from_slice(&bytes).map_err(|e| journal_err("decode", e))?;
        Ok(Some(JournalEntry {
            rotation_id: r.rotation_id,
            kind: r.kind,
            target: r.target,
            step: r.step,
            fingerprint: r.fingerprint,
            old_fingerprint: r.old_fingerprint,
            updated: r.updated,
            verified: r.verified,
            finished: r.finished,
            created_at: r.created_at,
            updated_at: r.updated_at,
            credential: r.credential.map(SecretString::from),
        }))
    }

    async fn store(&self, entry: &JournalEntry) -> Result<()> {
        self.write(entry, write_atomically).await.map(|_| ())
    }

    /// Links the new file into place (`link(2)` fails on an existing name), so that of two
    /// runs creating the same entry exactly one succeeds, even across processes; without hard
    /// links, creates the file exclusively (`O_EXCL`) and writes it in place.
    async fn create(&self, entry: &JournalEntry) -> Result<bool> {
        self.write(entry, write_new_atomically).await
    }

    /// Every `<id>.json` of the directory (temporary files are skipped), without credentials.
    /// A file that does not load fails the listing, naming it.
    async fn list(&self) -> Result<Vec<JournalEntry>> {
        let mut dir = tokio::fs::read_dir(&self.dir)
            .await
            .map_err(|e| journal_err("list", e))?;
        let mut entries = Vec::new();
        while let Some(file) = dir.next_entry().await.map_err(|e| journal_err("list", e))? {
            let name = file.file_name();
            let Some(id) = name.to_str().and_then(|n| n.strip_suffix(".json")) else {
                continue;
            };
            if check_rotation_id(id).is_err() {
                continue;
            }
            if let Some(entry) = self.load(id).await? {
                entries.push(entry.without_credential());
            }
        }
        Ok(entries)
    }
}

impl FileJournal {
    /// Encodes `entry` and hands it to `write` (on a blocking thread) with the directory and the
    /// entry's path; the encoded bytes are zeroized after.
    async fn write<T: Send + 'static>(
        &self,
        entry: &JournalEntry,
        write: fn(&Path, &Path, &[u8]) -> std::io::Result<T>,
    ) -> Result<T> {
        let path = self.path_of(&entry.rotation_id)?;
        let record = Record {
            version: 1,
            rotation_id: entry.rotation_id.clone(),
            kind: entry.kind.clone(),
            target: entry.target.clone(),
            step: entry.step,
            fingerprint: entry.fingerprint.clone(),
            old_fingerprint: entry.old_fingerprint.clone(),
            credential: entry
                .credential
                .as_ref()
                .map(|s| s.expose_secret().to_owned()),
            updated: entry.updated.clone(),
            verified: entry.verified.clone(),
            finished: entry.finished.clone(),
            created_at: entry.created_at.clone(),
            updated_at: entry.updated_at.clone(),
        };
        let mut bytes = serde_json::to_vec_pretty(&record).map_err(|e| journal_err("encode", e))?;
        drop(record);
        let dir = self.dir.clone();
        let result = tokio::task::spawn_blocking(move || {
            let r = write(&dir, &path, &bytes);
            zeroize::Zeroize::zeroize(&mut bytes);
            r
        })
        .await
        .map_err(|e| journal_err("write", e))?;
        result.map_err(|e| journal_err("write", e))
    }
}

fn journal_err(action: &'static str, e: impl std::error::Error + Send + Sync + 'static) -> Error {
    Error::Journal {
        action,
        source: Box::new(e),
    }
}

/// Rotation ids name files: 1 to 128 of `A-Z a-z 0-9 . _ -`, not starting with `.`.
pub(crate) fn check_rotation_id(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id.len() <= 128
        && !id.starts_with('.')
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid_input(
            "rotation id",
            "must be 1 to 128 of A-Z a-z 0-9 . _ - and not start with '.'",
        ))
    }
}

pub(crate) fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Creates `path` exclusively (`O_EXCL`, 0600 on Unix), writes `bytes` and syncs it. A file this
/// call created and could not fill is removed. Fails with `AlreadyExists` if `path` exists.
fn create_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    if let Err(e) = file.write_all(bytes).and_then(|()| file.sync_all()) {
        drop(file);
        let _ = std::fs::remove_file(path);
        return Err(e);
    }
    Ok(())
}

/// Writes `bytes` to a new 0600 temporary file in `dir` and syncs it; returns its path.
fn write_temp(dir: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<PathBuf> {
    let tmp = dir.join(format!(
        ".{}.tmp-{:016x}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("entry"),
        fastrand::u64(..)
    ));
    create_private(&tmp, bytes)?;
    Ok(tmp)
}

/// Makes a rename or link into `dir` durable.
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    std::fs::File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Replaces `path` (in `dir`) with `bytes` atomically: temporary file, fsync, rename, fsync of
/// the directory.
pub(crate) fn write_atomically(dir: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = write_temp(dir, path, bytes)?;
    if let Err(e) = std::fs::rename(&tmp, path) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    sync_dir(dir)
}

/// Writes `bytes` to `path` (in `dir`) atomically unless `path` exists: temporary file, fsync,
/// hard link (which fails on an existing name), fsync of the directory. Returns whether it
/// wrote. When the link fails otherwise (a filesystem without hard links), falls back to
/// creating `path` exclusively and writing it in place: still exclusive, not atomic (a crash
/// mid-write leaves a file that fails to load rather than a wrong one; nothing was minted yet,
/// so it is safe to delete).
fn write_new_atomically(dir: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<bool> {
    let tmp = write_temp(dir, path, bytes)?;
    let linked = std::fs::hard_link(&tmp, path);
    if let Err(e) = std::fs::remove_file(&tmp) {
        // The entry is in place either way; the leftover is hidden and 0600.
        tracing::warn!(error = %e, "a temporary journal file could not be removed");
    }
    match linked {
        Ok(()) => sync_dir(dir).map(|()| true),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(_) => write_new_in_place(dir, path, bytes),
    }
}

/// Creates `path` exclusively and writes `bytes` to it, in place. Returns whether it wrote.
fn write_new_in_place(dir: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<bool> {
    match create_private(path, bytes) {
        // A partial file would have made every later load fail: create_private removed it.
        Ok(()) => sync_dir(dir).map(|()| true),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn file_journal_round_trips_atomically_with_private_permissions() {
        let dir = tempfile::tempdir().unwrap();
        let journal = FileJournal::new(dir.path().join("j")).unwrap();
        assert!(journal.load("rot-1").await.unwrap().is_none());
        let mut entry = JournalEntry::regenerated("rot-1", "tunnel-key", &TunnelKey::new("k-123"));
        journal.store(&entry).await.unwrap();
        let back = journal.load("rot-1").await.unwrap().unwrap();
        assert_eq!(back.step, Step::Regenerated);
        assert_eq!(
            back.credential::<TunnelKey>(),
            Some(TunnelKey::new("k-123"))
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(journal.path_of("rot-1").unwrap())
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        entry.updated = Some(Updated::new(1, 1));
        entry.advance(Step::Finished);
        journal.store(&entry).await.unwrap();
        let back = journal.load("rot-1").await.unwrap().unwrap();
        assert_eq!(back.step, Step::Finished);
        assert_eq!(
            back.credential::<TunnelKey>(),
            None,
            "finished entries drop the secret"
        );
        let text = std::fs::read_to_string(journal.path_of("rot-1").unwrap()).unwrap();
        assert!(!text.contains("k-123"));
        let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("j")).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temporary files left behind");
    }

    #[tokio::test]
    async fn file_journal_creates_an_entry_only_once_even_when_racing() {
        let dir = tempfile::tempdir().unwrap();
        let journal = FileJournal::new(dir.path()).unwrap();
        let first = JournalEntry::started("rot-1", "tunnel-key", "org/a");
        let second = JournalEntry::started("rot-1", "tunnel-key", "org/b");
        assert!(journal.create(&first).await.unwrap());
        assert!(!journal.create(&second).await.unwrap());
        assert_eq!(
            journal.load("rot-1").await.unwrap().unwrap().target,
            "org/a"
        );

        // Eight writers at once, each on a blocking thread of its own: exactly one wins.
        let racing: Vec<_> = (0..8)
            .map(|i| {
                let journal = journal.clone();
                tokio::spawn(async move {
                    let entry = JournalEntry::started("rot-2", "tunnel-key", &format!("org/{i}"));
                    journal.create(&entry).await.unwrap()
                })
            })
            .collect();
        let mut won = 0;
        for task in racing {
            won += usize::from(task.await.unwrap());
        }
        assert_eq!(won, 1);
        let leftovers = std::fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(leftovers, 2, "no temporary files left behind");
    }

    #[test]
    fn without_hard_links_an_entry_is_still_created_exclusively() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rot-3.json");
        assert!(write_new_in_place(dir.path(), &path, b"first").unwrap());
        assert!(!write_new_in_place(dir.path(), &path, b"second").unwrap());
        assert_eq!(std::fs::read(&path).unwrap(), b"first");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[tokio::test]
    async fn rotation_ids_that_are_not_plain_file_names_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let journal = FileJournal::new(dir.path()).unwrap();
        for bad in ["", "../x", "a/b", ".hidden", &"x".repeat(129)] {
            assert!(matches!(
                journal.load(bad).await,
                Err(Error::InvalidInput { .. })
            ));
        }
    }

    #[test]
    fn entry_debug_never_shows_the_credential() {
        let entry = JournalEntry::regenerated("r", "k", &ApiToken::new("ATATT-secret-value"));
        let text = format!("{entry:?}");
        assert!(!text.contains("ATATT-secret-value"), "{text}");
        assert!(text.contains("[redacted]"));
    }
}
