//! The journal: where a freshly minted credential is written before anything else happens.

mod entry;
mod file;
mod memory;
#[cfg(feature = "postgres")]
mod postgres;
mod sealed;

use std::time::Duration;

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::error::{Error, Result};

pub(crate) use entry::lease_end;
pub use entry::{JournalCredential, JournalEntry, Lease, MAX_LEASE_TTL, Step};
pub(crate) use entry::{now_rfc3339, rfc3339};
pub use file::FileJournal;
pub(crate) use file::{create_private_dir, write_atomically, write_atomically_owned};
pub use memory::MemoryJournal;
#[cfg(feature = "postgres")]
pub use postgres::{DEFAULT_STATEMENT_TIMEOUT, PostgresJournal};
pub use sealed::{SealedJournal, SealingKey};

/// A durable store for rotations in progress, chosen by the caller (a file, a database, a vault).
///
/// The contract (the conformance tests check every journal the crate ships against it):
///
/// - `store` is durable when it returns: the driver runs `update` only after it did.
/// - Writes are compare-and-set on [`JournalEntry::version`]: `store` writes only if the
///   journal's copy still has the version the caller read (no entry counts as version 0), and
///   the written entry's version is one more. A caller that stores the same entry again first
///   adds one to its copy's version (the driver does). Otherwise [`Error::JournalConflict`].
/// - `create` writes only if no entry exists (create-only), at version 1.
/// - `list` never carries a credential.
/// - Leases ([`acquire`](Self::acquire)) keep two runners off one rotation; they are fields
///   of the entry, written with the same compare-and-set.
///
/// Only `load` and `store` are required; the other methods have defaults built on them (and
/// are atomic because `store` is compare-and-set). Override `create`, `list` and `remove` for
/// a journal that several processes share, as every journal of this crate does.
#[async_trait]
pub trait Journal: Send + Sync {
    /// The entry for `rotation_id`, if any.
    async fn load(&self, rotation_id: &str) -> Result<Option<JournalEntry>>;

    /// Writes `entry` if the journal's entry for its rotation id still has `entry.version`
    /// (none counts as 0), as version `entry.version + 1`; otherwise fails with
    /// [`Error::JournalConflict`] and writes nothing.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> atlassian_rotation::Result<()> {
    /// use atlassian_rotation::Error;
    /// use atlassian_rotation::rotate::{Journal, JournalEntry, MemoryJournal};
    ///
    /// let journal = MemoryJournal::new();
    /// let mut entry = JournalEntry::started("rot-1", "tunnel-key", "org/host");
    /// journal.store(&entry).await?;
    /// entry.version += 1; // what the journal now holds
    /// journal.store(&entry).await?;
    /// entry.version = 0; // a stale copy
    /// assert!(matches!(journal.store(&entry).await, Err(Error::JournalConflict { .. })));
    /// # Ok(()) }
    /// ```
    async fn store(&self, entry: &JournalEntry) -> Result<()>;

    /// Writes `entry` (at version 1) only if the journal holds none for its rotation id, and
    /// returns whether it did. The driver's first write of a new rotation id comes through
    /// here, so that two runs started with the same new id at the same moment cannot both
    /// mint: the one that loses gets `Ok(false)` and stops.
    ///
    /// The default is a compare-and-set `store` at version 0.
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
        let mut first = entry.clone();
        first.version = 0;
        match self.store(&first).await {
            Ok(()) => Ok(true),
            Err(Error::JournalConflict { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Every entry, without its credential, in no particular order: for inspection, and to
    /// find an unfinished rotation to resume ([`unfinished`](super::unfinished)).
    ///
    /// The default fails with [`Error::Journal`]: override it for a journal that can list.
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
        Err(unsupported("list", "this journal cannot list its entries"))
    }

    /// The unfinished rotations ([`JournalEntry::is_unfinished`]), without credentials, oldest
    /// first.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> atlassian_rotation::Result<()> {
    /// use atlassian_rotation::rotate::{Journal, JournalEntry, MemoryJournal};
    ///
    /// let journal = MemoryJournal::new();
    /// journal.create(&JournalEntry::started("rot-1", "tunnel-key", "org/host")).await?;
    /// assert_eq!(journal.list_unfinished().await?.len(), 1);
    /// # Ok(()) }
    /// ```
    async fn list_unfinished(&self) -> Result<Vec<JournalEntry>> {
        let mut entries: Vec<_> = self
            .list()
            .await?
            .into_iter()
            .filter(JournalEntry::is_unfinished)
            .collect();
        entries.sort_by(|a, b| a.created_at.cmp(&b.created_at));
        Ok(entries)
    }

    /// Deletes the entry for `rotation_id` if it still has `version`; otherwise fails with
    /// [`Error::JournalConflict`]. A building block of [`forget`](Self::forget), which checks
    /// the step first: call that instead.
    ///
    /// The default fails with [`Error::Journal`]: override it for a journal that can delete.
    async fn remove(&self, rotation_id: &str, version: u64) -> Result<()> {
        let _ = (rotation_id, version);
        Err(unsupported("remove", "this journal cannot delete entries"))
    }

    /// Forgets a finished or abandoned rotation (deletes its entry, so its id can be used
    /// again) and returns whether there was one. An unfinished rotation is refused with
    /// [`Error::InvalidInput`]: [`abandon`](Self::abandon) it first.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> atlassian_rotation::Result<()> {
    /// use atlassian_rotation::rotate::{Journal, JournalEntry, MemoryJournal};
    ///
    /// let journal = MemoryJournal::new();
    /// journal.create(&JournalEntry::started("rot-1", "tunnel-key", "org/host")).await?;
    /// assert!(journal.forget("rot-1").await.is_err(), "unfinished: abandon it first");
    /// journal.abandon("rot-1", "tunnel deleted").await?;
    /// assert!(journal.forget("rot-1").await?);
    /// assert!(journal.load("rot-1").await?.is_none());
    /// # Ok(()) }
    /// ```
    async fn forget(&self, rotation_id: &str) -> Result<bool> {
        let Some(entry) = self.load(rotation_id).await? else {
            return Ok(false);
        };
        if !matches!(entry.step, Step::Finished | Step::Abandoned) {
            return Err(Error::invalid_input(
                "rotation id",
                format!(
                    "rotation `{rotation_id}` is {} (not finished): abandon it first",
                    entry.step
                ),
            ));
        }
        self.remove(rotation_id, entry.version).await?;
        Ok(true)
    }

    /// Gives up an unfinished rotation: drops its credential, keeps its fingerprint, records
    /// `reason`, and sets the step to [`Step::Abandoned`] (the driver never resumes it). Returns
    /// the abandoned entry (without credential). A finished rotation, or none, is refused with
    /// [`Error::InvalidInput`]. A runner still working on it fails its next write with
    /// [`Error::JournalConflict`].
    ///
    /// Abandoning loses the journal's copy of a credential that may be in use: check the
    /// fingerprint against where it was installed first.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> atlassian_rotation::Result<()> {
    /// use atlassian_rotation::rotate::{Journal, JournalEntry, MemoryJournal, Step};
    /// use atlassian_rotation::secret::TunnelKey;
    ///
    /// let journal = MemoryJournal::new();
    /// journal.create(&JournalEntry::regenerated("rot-1", "tunnel-key", &TunnelKey::new("k"))).await?;
    /// let gone = journal.abandon("rot-1", "tunnel replaced by hand").await?;
    /// assert_eq!(gone.step, Step::Abandoned);
    /// assert_eq!(gone.abandoned_reason.as_deref(), Some("tunnel replaced by hand"));
    /// assert!(!journal.load("rot-1").await?.unwrap().has_credential());
    /// # Ok(()) }
    /// ```
    async fn abandon(&self, rotation_id: &str, reason: &str) -> Result<JournalEntry> {
        let Some(mut entry) = self.load(rotation_id).await? else {
            return Err(Error::invalid_input(
                "rotation id",
                format!("no rotation `{rotation_id}` is journaled"),
            ));
        };
        if matches!(entry.step, Step::Finished | Step::Abandoned) {
            return Err(Error::invalid_input(
                "rotation id",
                format!("rotation `{rotation_id}` is already {}", entry.step),
            ));
        }
        // A runner holding the lease may be installing the credential right now: abandoning
        // under it would leave a credential in use that nobody holds. Release a dead runner's
        // lease first (`release` with the holder the error names).
        if entry.lease_held_by_other("", OffsetDateTime::now_utc()) {
            return Err(Error::LeaseHeld {
                rotation_id: rotation_id.to_owned(),
                holder: entry.holder.clone().unwrap_or_default(),
                until: entry.lease_until.clone().unwrap_or_default(),
            });
        }
        entry.advance(Step::Abandoned);
        entry.abandoned_reason = Some(reason.to_owned());
        entry.holder = None;
        entry.lease_until = None;
        self.store(&entry).await?;
        entry.version = entry.version.saturating_add(1);
        Ok(entry)
    }

    /// Takes the lease on `rotation_id` for `holder` until `now + ttl`, or renews it.
    ///
    /// Fails with [`Error::LeaseHeld`] when another holder's lease runs past `now`. A lease whose
    /// holder died simply expires. When no entry exists yet there is nothing to hold: the lease
    /// is returned without a write, and the holder's first write (create-only) carries it. The
    /// clock is the caller's (`now`), never the journal server's, so that every runner compares
    /// with the same kind of time and tests can move it.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> atlassian_rotation::Result<()> {
    /// use std::time::Duration;
    /// use atlassian_rotation::Error;
    /// use atlassian_rotation::rotate::{Journal, JournalEntry, MemoryJournal};
    ///
    /// let journal = MemoryJournal::new();
    /// journal.create(&JournalEntry::started("rot-1", "tunnel-key", "org/host")).await?;
    /// let now = time::OffsetDateTime::now_utc();
    /// journal.acquire("rot-1", "pod-a", now, Duration::from_secs(60)).await?;
    /// let held = journal.acquire("rot-1", "pod-b", now, Duration::from_secs(60)).await;
    /// assert!(matches!(held, Err(Error::LeaseHeld { .. })));
    /// let later = now + Duration::from_secs(61);
    /// journal.acquire("rot-1", "pod-b", later, Duration::from_secs(60)).await?; // pod-a died
    /// # Ok(()) }
    /// ```
    async fn acquire(
        &self,
        rotation_id: &str,
        holder: &str,
        now: OffsetDateTime,
        ttl: Duration,
    ) -> Result<Lease> {
        let until = rfc3339(entry::lease_end(now, ttl));
        let lease = Lease {
            rotation_id: rotation_id.to_owned(),
            holder: holder.to_owned(),
            until: until.clone(),
        };
        for _ in 0..3 {
            let Some(mut entry) = self.load(rotation_id).await? else {
                return Ok(lease);
            };
            if entry.lease_held_by_other(holder, now) {
                return Err(Error::LeaseHeld {
                    rotation_id: rotation_id.to_owned(),
                    holder: entry.holder.unwrap_or_default(),
                    until: entry.lease_until.unwrap_or_default(),
                });
            }
            entry.holder = Some(holder.to_owned());
            entry.lease_until = Some(until.clone());
            match self.store(&entry).await {
                Ok(()) => return Ok(lease),
                // Someone wrote in between: look again.
                Err(Error::JournalConflict { .. }) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(Error::JournalConflict {
            rotation_id: rotation_id.to_owned(),
            expected: 0,
            found: None,
        })
    }

    /// Gives `holder`'s lease on `rotation_id` back, so another runner can go on at once.
    /// Does nothing when `holder` does not hold it.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> atlassian_rotation::Result<()> {
    /// use std::time::Duration;
    /// use atlassian_rotation::rotate::{Journal, JournalEntry, MemoryJournal};
    ///
    /// let journal = MemoryJournal::new();
    /// journal.create(&JournalEntry::started("rot-1", "tunnel-key", "org/host")).await?;
    /// let now = time::OffsetDateTime::now_utc();
    /// journal.acquire("rot-1", "pod-a", now, Duration::from_secs(60)).await?;
    /// journal.release("rot-1", "pod-a").await?;
    /// journal.acquire("rot-1", "pod-b", now, Duration::from_secs(60)).await?;
    /// # Ok(()) }
    /// ```
    async fn release(&self, rotation_id: &str, holder: &str) -> Result<()> {
        let Some(mut entry) = self.load(rotation_id).await? else {
            return Ok(());
        };
        if entry.holder.as_deref() != Some(holder) {
            return Ok(());
        }
        entry.holder = None;
        entry.lease_until = None;
        self.store(&entry).await
    }
}

pub(crate) fn journal_err(
    action: &'static str,
    e: impl std::error::Error + Send + Sync + 'static,
) -> Error {
    Error::Journal {
        action,
        source: Box::new(e),
    }
}

fn unsupported(action: &'static str, what: &'static str) -> Error {
    journal_err(
        action,
        std::io::Error::new(std::io::ErrorKind::Unsupported, what),
    )
}

/// The version a store of `entry` writes: one more, or a conflict at the end of the range (a
/// corrupted entry must not panic or wrap around).
pub(crate) fn next_version(entry: &JournalEntry) -> Result<u64> {
    entry
        .version
        .checked_add(1)
        .ok_or_else(|| conflict(entry, Some(entry.version)))
}

pub(crate) fn conflict(entry: &JournalEntry, found: Option<u64>) -> Error {
    Error::JournalConflict {
        rotation_id: entry.rotation_id.clone(),
        expected: entry.version,
        found,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::ApiToken;

    #[test]
    fn entry_debug_never_shows_the_credential() {
        let entry = JournalEntry::regenerated("r", "k", &ApiToken::new("ATATT-secret-value"));
        let text = format!("{entry:?}");
        assert!(!text.contains("ATATT-secret-value"), "{text}");
        assert!(text.contains("[redacted]"));
    }
}
