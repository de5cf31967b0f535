//! `FileConsumer`: a credential in a file, as the whole file, one dotenv line or one JSON string.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use async_trait::async_trait;
use zeroize::Zeroizing;

use super::edit::{self, Place};
use super::{Consumer, CredentialView};
use crate::error::{Error, Result};
use crate::rotate::write_atomically_owned;

/// A credential kept in a file: the whole file, the value of one `KEY=` line of a dotenv file,
/// or the string at one JSON pointer of a JSON file.
///
/// Every write is atomic (a 0600 temporary file beside the target, fsync, rename, fsync of the
/// directory): a reader sees the old file or the new one, never half of either. The file ends
/// up with mode 0600 whatever mode it had, and keeps its owner and group (a rotation run as
/// root leaves a service's file its own; a process that may not keep them fails before the
/// file changes). Every byte but the credential's stays as it was
/// (comments, order, other keys, number spellings). A symbolic link is followed: the file it
/// points to is replaced, the link stays. The first install of this consumer keeps the file's
/// previous bytes in memory (zeroized on drop) for [`restore`](Consumer::restore).
///
/// ```
/// use atlassian_rotation::consumer::{Consumer, CredentialView, FileConsumer};
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("app.json");
/// std::fs::write(&path, r#"{"jira": {"url": "https://example.atlassian.net", "token": "old"}}"#).unwrap();
/// let consumer = FileConsumer::json_pointer(&path, "/jira/token");
/// consumer.install(CredentialView::new("ATATT-new")).await.unwrap();
/// assert_eq!(
///     std::fs::read_to_string(&path).unwrap(),
///     r#"{"jira": {"url": "https://example.atlassian.net", "token": "ATATT-new"}}"#
/// );
/// assert_eq!(consumer.holds(CredentialView::new("ATATT-new")).await.unwrap(), Some(true));
/// # });
/// ```
pub struct FileConsumer {
    path: PathBuf,
    place: Place,
    /// The file's bytes before this consumer's first install (`None` inside: no file).
    previous: Mutex<Option<Option<Zeroizing<Vec<u8>>>>>,
    /// The credential this consumer installed last: restore puts the previous value back only
    /// over it.
    installed: Mutex<Option<Zeroizing<String>>>,
}

impl std::fmt::Debug for FileConsumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileConsumer")
            .field("path", &self.path)
            .field("place", &self.place)
            .finish_non_exhaustive()
    }
}

impl FileConsumer {
    fn new(path: impl Into<PathBuf>, place: Place) -> Self {
        Self {
            path: path.into(),
            place,
            previous: Mutex::new(None),
            installed: Mutex::new(None),
        }
    }

    /// The whole file is the credential (created if missing; a trailing newline is kept).
    ///
    /// ```
    /// use atlassian_rotation::consumer::{Consumer, FileConsumer};
    /// assert_eq!(FileConsumer::whole("/run/secrets/jira").name(), "file /run/secrets/jira");
    /// ```
    pub fn whole(path: impl Into<PathBuf>) -> Self {
        Self::new(path, Place::Whole)
    }

    /// The value of `key` in a dotenv file (`KEY=value`, `export KEY=value`; a quoted value
    /// stays quoted; every line with the key is updated; a missing key is appended; a missing
    /// file is created).
    ///
    /// ```
    /// use atlassian_rotation::consumer::{Consumer, FileConsumer};
    /// assert_eq!(FileConsumer::dotenv("/srv/app/.env", "JIRA_TOKEN").name(), "file /srv/app/.env (JIRA_TOKEN)");
    /// ```
    pub fn dotenv(path: impl Into<PathBuf>, key: impl Into<String>) -> Self {
        Self::new(path, Place::Dotenv(key.into()))
    }

    /// The string at `pointer` (RFC 6901, e.g. `/jira/token`) in a JSON file. The value must
    /// exist and be a string or `null`: nothing is created in someone else's structure.
    ///
    /// ```
    /// use atlassian_rotation::consumer::{Consumer, FileConsumer};
    /// assert_eq!(FileConsumer::json_pointer("app.json", "/jira/token").name(), "file app.json (/jira/token)");
    /// ```
    pub fn json_pointer(path: impl Into<PathBuf>, pointer: impl Into<String>) -> Self {
        Self::new(path, Place::JsonPointer(pointer.into()))
    }

    /// The file written: the path given, or the file a symbolic link there points to, also
    /// when that file does not exist yet (it is created there; the link stays a link).
    fn target(&self) -> PathBuf {
        if let Ok(path) = std::fs::canonicalize(&self.path) {
            return path;
        }
        // As many hops as the kernel follows before it gives up (ELOOP).
        let mut path = self.path.clone();
        for _ in 0..40 {
            let Ok(to) = std::fs::read_link(&path) else {
                break;
            };
            path = match path.parent() {
                Some(dir) => dir.join(to),
                None => to,
            };
        }
        path
    }

    fn error(&self, action: &'static str, reason: impl std::fmt::Display) -> Error {
        Error::consumer(self.name(), action, reason.to_string())
    }

    async fn read(&self, path: &Path) -> Result<Option<Zeroizing<Vec<u8>>>> {
        match tokio::fs::read(path).await {
            Ok(bytes) => Ok(Some(Zeroizing::new(bytes))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(self.error("read", e)),
        }
    }

    async fn write(&self, path: PathBuf, bytes: Zeroizing<Vec<u8>>) -> Result<()> {
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
            _ => PathBuf::from("."),
        };
        tokio::task::spawn_blocking(move || {
            write_atomically_owned(&dir, &path, &bytes, owner(&path))
        })
        .await
        .map_err(|e| self.error("write", e))?
        .map_err(|e| self.error("write", e))
    }
}

#[async_trait]
impl Consumer for FileConsumer {
    fn name(&self) -> String {
        match &self.place {
            Place::Whole => format!("file {}", self.path.display()),
            Place::Dotenv(key) | Place::JsonPointer(key) => {
                format!("file {} ({key})", self.path.display())
            }
        }
    }

    async fn install(&self, credential: CredentialView<'_>) -> Result<()> {
        let path = self.target();
        let before = self.read(&path).await?;
        let after = Zeroizing::new(
            edit::write(
                &self.place,
                before.as_deref().map(Vec::as_slice),
                credential.expose_secret(),
            )
            .map_err(|e| self.error("edit", e))?,
        );
        {
            let mut previous = self.previous.lock().unwrap_or_else(|p| p.into_inner());
            if previous.is_none() {
                *previous = Some(before.clone());
            }
        }
        if before.as_deref() != Some(&*after) || !private(&path) {
            self.write(path, after).await?;
        }
        *self.installed.lock().unwrap_or_else(|p| p.into_inner()) =
            Some(Zeroizing::new(credential.expose_secret().to_owned()));
        Ok(())
    }

    async fn holds(&self, credential: CredentialView<'_>) -> Result<Option<bool>> {
        let Some(bytes) = self.read(&self.target()).await? else {
            return Ok(Some(false));
        };
        let value = edit::read(&self.place, &bytes).map_err(|e| self.error("read", e))?;
        let value = value.map(Zeroizing::new);
        Ok(Some(
            value.as_deref().map(String::as_str) == Some(credential.expose_secret()),
        ))
    }

    /// Puts back the value the file held before this consumer's first install (atomically,
    /// 0600), and only when the file still holds the credential this consumer installed: a
    /// newer value written since is never replaced by an older one. The file's bytes as they
    /// were are written back when nothing else changed since the install; otherwise only the
    /// one value is, every other edit kept. Returns `false`, leaving the file alone, when there
    /// is nothing to restore (no install in this process, a file that did not exist then: an
    /// empty credential would serve no one) or the file no longer holds what was installed.
    async fn restore(&self) -> Result<bool> {
        let previous = self
            .previous
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let installed = self
            .installed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let (Some(Some(previous)), Some(installed)) = (previous, installed) else {
            return Ok(false);
        };
        let path = self.target();
        let Some(current) = self.read(&path).await? else {
            return Ok(false);
        };
        let value = edit::read(&self.place, &current)
            .map_err(|e| self.error("restore", e))?
            .map(Zeroizing::new);
        if value.as_deref().map(String::as_str) != Some(installed.as_str()) {
            tracing::warn!(
                consumer = %self.name(),
                "not restored: the file no longer holds the credential this rotation installed"
            );
            return Ok(false);
        }
        let untouched = edit::write(&self.place, Some(&previous), &installed)
            .is_ok_and(|written| Zeroizing::new(written).as_slice() == current.as_slice());
        let restored = if untouched {
            previous
        } else {
            // Edited since: splice the old value into the file as it is now, when it can be.
            let old = edit::read(&self.place, &previous)
                .ok()
                .flatten()
                .map(Zeroizing::new);
            match old.and_then(|old| edit::write(&self.place, Some(&current), &old).ok()) {
                Some(bytes) => Zeroizing::new(bytes),
                None => {
                    tracing::warn!(
                        consumer = %self.name(),
                        "not restored: the file changed since the install, and its old value \
                         cannot be put back on its own"
                    );
                    return Ok(false);
                }
            }
        };
        self.write(path, restored).await?;
        Ok(true)
    }
}

/// The owner and group of the file at `path`, which its replacement keeps (`None`: no file,
/// or not Unix).
fn owner(path: &Path) -> Option<(u32, u32)> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt as _;
        std::fs::metadata(path).ok().map(|m| (m.uid(), m.gid()))
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

/// Whether `path` is already readable by its owner only (always true off Unix).
fn private(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o077 == 0)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        true
    }
}
