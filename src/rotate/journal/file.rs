//! [`FileJournal`]: one 0600 file per rotation, written atomically, compare-and-set under a
//! lock file.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use secrecy::{ExposeSecret as _, SecretString};
use serde::{Deserialize, Serialize};

use super::{Journal, JournalEntry, Step, check_rotation_id, journal_err, next_version};
use crate::error::{Error, Result};
use crate::rotate::{Finished, Updated, Verified};

/// A journal in a directory: one file per rotation id (`<dir>/<id>.json`), written atomically
/// (temporary file, fsync, rename, fsync of the directory) with 0600 permissions on Unix. The
/// first write of a rotation id ([`Journal::create`]) links the synced temporary file into
/// place instead, which fails if another run created the entry first; on a filesystem without
/// hard links it creates the file exclusively and writes it in place (exclusive, not atomic: a
/// crash mid-write leaves a file that fails to load and is safe to delete, since nothing was
/// minted yet).
///
/// Every later write is compare-and-set on the entry's version: it holds a lock file
/// (`.<id>.lock`, created exclusively) while it reads the version and renames the new file into
/// place. That is exclusive between every process and task that shares the directory on one
/// host (a network filesystem without exclusive create gives no such guarantee). A lock left by
/// a process killed inside those few milliseconds is broken after 30 seconds.
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
    #[serde(default)]
    entry_version: u64,
    #[serde(default)]
    holder: Option<String>,
    #[serde(default)]
    lease_until: Option<String>,
    #[serde(default)]
    abandoned_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last_error: Option<String>,
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

    /// Where a tool keeps its journal when the user names none, following the XDG base
    /// directory rules: `$XDG_STATE_HOME/atlassian-rotation`, else
    /// `$HOME/.local/state/atlassian-rotation`, else `.atlassian-rotation` in the current
    /// directory. Nothing is created until [`FileJournal::new`].
    ///
    /// ```
    /// use atlassian_rotation::rotate::FileJournal;
    /// assert!(FileJournal::default_dir().ends_with("atlassian-rotation"));
    /// ```
    pub fn default_dir() -> PathBuf {
        let state = std::env::var_os("XDG_STATE_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os("HOME")
                    .filter(|v| !v.is_empty())
                    .map(|home| PathBuf::from(home).join(".local/state"))
            });
        match state {
            Some(dir) => dir.join("atlassian-rotation"),
            None => PathBuf::from(".atlassian-rotation"),
        }
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
        // A file copied or renamed to another id's name is not that rotation's entry.
        if r.rotation_id != rotation_id {
            return Err(journal_err(
                "decode",
                std::io::Error::other(format!(
                    "the file for rotation `{rotation_id}` holds rotation `{}`",
                    r.rotation_id
                )),
            ));
        }
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
            version: r.entry_version,
            holder: r.holder,
            lease_until: r.lease_until,
            abandoned_reason: r.abandoned_reason,
            last_error: r.last_error,
            credential: r.credential.map(SecretString::from),
        }))
    }

    /// Compare-and-set under the entry's lock file; the first write (version 0) links the file
    /// into place as [`create`](Journal::create) does.
    async fn store(&self, entry: &JournalEntry) -> Result<()> {
        if entry.version == 0 {
            return match self.write(entry, 1, write_new_atomically).await? {
                true => Ok(()),
                false => Err(super::conflict(
                    entry,
                    self.load_version(&entry.rotation_id)?,
                )),
            };
        }
        let expected = entry.version;
        let found = self
            .write(entry, next_version(entry)?, move |dir, path, bytes| {
                with_lock(path, || {
                    let found = read_version(path)?;
                    if found == Some(expected) {
                        write_atomically(dir, path, bytes)?;
                    }
                    Ok(found)
                })
            })
            .await?;
        if found == Some(expected) {
            Ok(())
        } else {
            Err(super::conflict(entry, found))
        }
    }

    /// Links the new file into place (`link(2)` fails on an existing name), so that of two
    /// runs creating the same entry exactly one succeeds, even across processes; without hard
    /// links, creates the file exclusively (`O_EXCL`) and writes it in place.
    async fn create(&self, entry: &JournalEntry) -> Result<bool> {
        self.write(entry, 1, write_new_atomically).await
    }

    async fn remove(&self, rotation_id: &str, version: u64) -> Result<()> {
        let path = self.path_of(rotation_id)?;
        let dir = self.dir.clone();
        let found = tokio::task::spawn_blocking(move || {
            with_lock(&path, || {
                let found = read_version(&path)?;
                if found == Some(version) {
                    std::fs::remove_file(&path)?;
                    sync_dir(&dir)?;
                }
                Ok(found)
            })
        })
        .await
        .map_err(|e| journal_err("remove", e))?
        .map_err(|e| journal_err("remove", e))?;
        if found == Some(version) {
            Ok(())
        } else {
            Err(Error::JournalConflict {
                rotation_id: rotation_id.to_owned(),
                expected: version,
                found,
            })
        }
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
        version: u64,
        write: impl FnOnce(&Path, &Path, &[u8]) -> std::io::Result<T> + Send + 'static,
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
            entry_version: version,
            holder: entry.holder.clone(),
            lease_until: entry.lease_until.clone(),
            abandoned_reason: entry.abandoned_reason.clone(),
            last_error: entry.last_error.clone(),
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

    fn load_version(&self, rotation_id: &str) -> Result<Option<u64>> {
        read_version(&self.path_of(rotation_id)?).map_err(|e| journal_err("read", e))
    }
}

/// The version of the entry at `path` (`None`: no file).
fn read_version(path: &Path) -> std::io::Result<Option<u64>> {
    #[derive(Deserialize)]
    struct Version {
        #[serde(default)]
        entry_version: u64,
    }
    match std::fs::read(path) {
        Ok(bytes) => {
            let v: Version = serde_json::from_slice(&bytes).map_err(std::io::Error::other)?;
            Ok(Some(v.entry_version))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// A lock older than this was left by a process that died holding it.
const STALE_LOCK: Duration = Duration::from_secs(30);

/// Runs `f` holding `path`'s lock file (`.<name>.lock` beside it, created exclusively).
fn with_lock<T>(path: &Path, f: impl FnOnce() -> std::io::Result<T>) -> std::io::Result<T> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("entry");
    let lock = path.with_file_name(format!(".{name}.lock"));
    let mut waited = Duration::ZERO;
    loop {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        match options.open(&lock) {
            Ok(_) => break,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let age = std::fs::metadata(&lock)
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| SystemTime::now().duration_since(t).ok());
                if age.is_some_and(|a| a > STALE_LOCK) {
                    tracing::warn!(lock = %lock.display(), "breaking a stale journal lock");
                    let _ = std::fs::remove_file(&lock);
                    continue;
                }
                if waited > STALE_LOCK * 2 {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "the journal entry's lock file stayed taken",
                    ));
                }
                let pause = Duration::from_millis(2 + fastrand::u64(..3));
                std::thread::sleep(pause);
                waited += pause;
            }
            Err(e) => return Err(e),
        }
    }
    let result = f();
    let _ = std::fs::remove_file(&lock);
    result
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
    write_atomically_owned(dir, path, bytes, None)
}

/// [`write_atomically`], the new file given the owner and group `owner` (uid, gid) before it
/// replaces `path`, when they are not the process's: a file a service reads as its own user
/// stays its own. A process that may not give them fails, and `path` stays as it was.
pub(crate) fn write_atomically_owned(
    dir: &Path,
    path: &Path,
    bytes: &[u8],
    owner: Option<(u32, u32)>,
) -> std::io::Result<()> {
    let tmp = write_temp(dir, path, bytes)?;
    #[cfg(unix)]
    if let Some((uid, gid)) = owner {
        use std::os::unix::fs::MetadataExt as _;
        let given = std::fs::metadata(&tmp).and_then(|m| {
            if (m.uid(), m.gid()) == (uid, gid) {
                Ok(())
            } else {
                std::os::unix::fs::chown(&tmp, Some(uid), Some(gid))
            }
        });
        if let Err(e) = given {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
    }
    #[cfg(not(unix))]
    let _ = owner;
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
    use crate::error::Error;
    use crate::rotate::Updated;
    use crate::secret::TunnelKey;

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
        entry.version = entry.version.saturating_add(1);
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
}
