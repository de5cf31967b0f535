//! [`MemoryJournal`]: entries in a map behind a mutex.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;

use super::{Journal, JournalEntry, conflict};
use crate::error::Result;

/// A journal in memory: for tests, and for callers that hold the process for the whole rotation.
/// Every write is compare-and-set under one lock, so tasks sharing it behave as runners
/// sharing a database would.
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

    /// A copy of every entry (with credentials: it is the caller's own memory).
    pub fn entries(&self) -> Vec<JournalEntry> {
        self.lock().values().cloned().collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, JournalEntry>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait]
impl Journal for MemoryJournal {
    async fn load(&self, rotation_id: &str) -> Result<Option<JournalEntry>> {
        Ok(self.lock().get(rotation_id).cloned())
    }

    async fn store(&self, entry: &JournalEntry) -> Result<()> {
        let mut entries = self.lock();
        let found = entries.get(&entry.rotation_id).map(|e| e.version);
        if found.unwrap_or(0) != entry.version {
            return Err(conflict(entry, found));
        }
        let mut stored = entry.clone();
        stored.version = super::next_version(entry)?;
        entries.insert(entry.rotation_id.clone(), stored);
        Ok(())
    }

    async fn list(&self) -> Result<Vec<JournalEntry>> {
        Ok(self
            .lock()
            .values()
            .map(JournalEntry::without_credential)
            .collect())
    }

    async fn create(&self, entry: &JournalEntry) -> Result<bool> {
        let mut entries = self.lock();
        match entries.entry(entry.rotation_id.clone()) {
            std::collections::hash_map::Entry::Occupied(_) => Ok(false),
            std::collections::hash_map::Entry::Vacant(slot) => {
                let mut stored = entry.clone();
                stored.version = 1;
                slot.insert(stored);
                Ok(true)
            }
        }
    }

    async fn remove(&self, rotation_id: &str, version: u64) -> Result<()> {
        let mut entries = self.lock();
        match entries.get(rotation_id) {
            Some(e) if e.version == version => {
                entries.remove(rotation_id);
                Ok(())
            }
            other => Err(crate::Error::JournalConflict {
                rotation_id: rotation_id.to_owned(),
                expected: version,
                found: other.map(|e| e.version),
            }),
        }
    }
}
