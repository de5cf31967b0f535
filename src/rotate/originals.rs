//! The originals of rules a token rotation rewrote, kept for rollback: in memory, or in a
//! private directory that survives the process.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;

use serde_json::Value;
use zeroize::Zeroizing;

use super::journal::{create_private_dir, write_atomically};
use crate::error::{Error, Result};

/// One kept rule: the document as read (JSON bytes; it holds the old token) and the rule as
/// written, to tell whether someone changed it since.
pub(crate) struct Kept {
    pub(crate) original: Value,
    pub(crate) written: Value,
}

/// A kept rule as its file holds it: `{"original": .., "written": ..}`, the original's bytes
/// spliced in as they are (they are JSON from `serde_json`), `written` serialized after them.
fn record(original: &[u8], written: &Value) -> Result<Zeroizing<Vec<u8>>> {
    let mut bytes = Zeroizing::new(Vec::with_capacity(original.len() * 2 + 32));
    bytes.extend_from_slice(br#"{"original":"#);
    bytes.extend_from_slice(original);
    bytes.extend_from_slice(br#","written":"#);
    serde_json::to_writer(&mut *bytes, written)
        .map_err(|e| Error::rotation("update", e.to_string()))?;
    bytes.push(b'}');
    Ok(bytes)
}

/// The JSON bytes of an original document and of the rule written, in memory.
type KeptBytes = (Zeroizing<Vec<u8>>, Zeroizing<Vec<u8>>);

/// Where originals go.
pub(crate) enum Originals {
    /// Bytes in memory: lost with the process.
    Memory(Mutex<BTreeMap<String, KeptBytes>>),
    /// One 0600 file per rule in a 0700 directory, written before the rule is.
    Dir(PathBuf),
}

fn to_bytes(value: &Value) -> Result<Zeroizing<Vec<u8>>> {
    serde_json::to_vec(value)
        .map(Zeroizing::new)
        .map_err(|e| Error::rotation("update", e.to_string()))
}

fn store_err(action: &'static str, e: impl std::error::Error + Send + Sync + 'static) -> Error {
    Error::Journal {
        action,
        source: Box::new(e),
    }
}

impl Originals {
    pub(crate) fn memory() -> Self {
        Self::Memory(Mutex::new(BTreeMap::new()))
    }

    /// Originals in `dir`, created (0700) by [`prepare`](Self::prepare) before the first rule
    /// is written, so that a builder never fails midway.
    pub(crate) fn dir(dir: PathBuf) -> Self {
        Self::Dir(dir)
    }

    /// Creates the directory (0700) if originals go to one: the update calls it before it
    /// writes any rule, so a directory that cannot be made stops the rotation before anything
    /// changed.
    pub(crate) async fn prepare(&self) -> Result<()> {
        match self {
            Self::Memory(_) => Ok(()),
            Self::Dir(dir) => {
                let dir = dir.clone();
                tokio::task::spawn_blocking(move || create_private_dir(&dir))
                    .await
                    .map_err(|e| store_err("create originals directory", e))?
                    .map_err(|e| store_err("create originals directory", e))
            }
        }
    }

    fn file(dir: &std::path::Path, uuid: &str) -> Result<PathBuf> {
        super::journal::check_rotation_id(uuid)
            .map_err(|_| Error::invalid_input("rule uuid", "cannot name a file"))?;
        Ok(dir.join(format!("{uuid}.json")))
    }

    /// Keeps `original` (the JSON bytes of the document as read) and `written` for `uuid`,
    /// unless an original is already kept (the first one is the true original).
    pub(crate) async fn keep(&self, uuid: &str, original: &[u8], written: &Value) -> Result<()> {
        match self {
            Self::Memory(map) => {
                let (original, written) = (Zeroizing::new(original.to_vec()), to_bytes(written)?);
                map.lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .entry(uuid.to_owned())
                    .or_insert((original, written));
                Ok(())
            }
            Self::Dir(dir) => {
                let path = Self::file(dir, uuid)?;
                if tokio::fs::try_exists(&path).await.unwrap_or(false) {
                    return Ok(());
                }
                let bytes = record(original, written)?;
                let dir = dir.clone();
                tokio::task::spawn_blocking(move || write_atomically(&dir, &path, &bytes))
                    .await
                    .map_err(|e| store_err("write original", e))?
                    .map_err(|e| store_err("write original", e))
            }
        }
    }

    /// The uuids kept.
    pub(crate) async fn uuids(&self) -> Result<Vec<String>> {
        match self {
            Self::Memory(map) => Ok(map
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .keys()
                .cloned()
                .collect()),
            Self::Dir(dir) => {
                let mut entries = match tokio::fs::read_dir(dir).await {
                    Ok(entries) => entries,
                    // Never prepared: nothing was kept.
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
                    Err(e) => return Err(store_err("list originals", e)),
                };
                let mut uuids = Vec::new();
                while let Some(entry) = entries
                    .next_entry()
                    .await
                    .map_err(|e| store_err("list originals", e))?
                {
                    let name = entry.file_name().to_string_lossy().into_owned();
                    if let Some(uuid) = name.strip_suffix(".json").filter(|n| !n.starts_with('.')) {
                        uuids.push(uuid.to_owned());
                    }
                }
                uuids.sort();
                Ok(uuids)
            }
        }
    }

    pub(crate) async fn get(&self, uuid: &str) -> Result<Option<Kept>> {
        let parse = |bytes: &[u8]| {
            serde_json::from_slice::<Value>(bytes).map_err(|e| store_err("read original", e))
        };
        match self {
            Self::Memory(map) => {
                let map = map.lock().unwrap_or_else(|p| p.into_inner());
                let Some((original, written)) = map.get(uuid) else {
                    return Ok(None);
                };
                Ok(Some(Kept {
                    original: parse(original)?,
                    written: parse(written)?,
                }))
            }
            Self::Dir(dir) => {
                let bytes = match tokio::fs::read(Self::file(dir, uuid)?).await {
                    Ok(b) => Zeroizing::new(b),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                    Err(e) => return Err(store_err("read original", e)),
                };
                let mut record = parse(&bytes)?;
                Ok(Some(Kept {
                    original: record["original"].take(),
                    written: record["written"].take(),
                }))
            }
        }
    }

    pub(crate) async fn forget(&self, uuid: &str) -> Result<()> {
        match self {
            Self::Memory(map) => {
                map.lock().unwrap_or_else(|p| p.into_inner()).remove(uuid);
                Ok(())
            }
            Self::Dir(dir) => match tokio::fs::remove_file(Self::file(dir, uuid)?).await {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(store_err("remove original", e)),
            },
        }
    }
}
