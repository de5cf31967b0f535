//! [`SealedJournal`]: any journal, with the credential encrypted (XChaCha20-Poly1305) before it
//! reaches the inner journal.

use std::fmt;
use std::future::Future;
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use secrecy::{ExposeSecret as _, SecretString};
use time::OffsetDateTime;
use zeroize::Zeroizing;

use super::{Journal, JournalEntry, Lease};
use crate::error::{Error, Result};

const PREFIX: &str = "sealed:v1:";
const NONCE_LEN: usize = 24;

/// A 256-bit key that seals journal entries, with an id recorded in every entry it sealed (so
/// the key itself can be rotated: see [`SealedJournal::with_previous_key`]). The key bytes are
/// zeroized on drop; Debug shows the id only.
///
/// ```
/// use atlassian_rotation::rotate::SealingKey;
///
/// let key = SealingKey::from_bytes("2026-11", &[7u8; 32])?;
/// assert_eq!(key.id(), "2026-11");
/// assert!(!format!("{key:?}").contains("7, 7"));
/// # Ok::<(), atlassian_rotation::Error>(())
/// ```
pub struct SealingKey {
    id: String,
    key: Zeroizing<[u8; 32]>,
}

impl fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SealingKey")
            .field("id", &self.id)
            .field("key", &crate::secret::REDACTED)
            .finish()
    }
}

impl SealingKey {
    /// A key from 32 bytes. The id (1 to 64 of `A-Z a-z 0-9 . _ -`) names it in sealed entries.
    pub fn from_bytes(id: impl Into<String>, bytes: &[u8]) -> Result<Self> {
        let id = id.into();
        let id_ok = !id.is_empty()
            && id.len() <= 64
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if !id_ok {
            return Err(Error::invalid_input(
                "sealing key id",
                "must be 1 to 64 of A-Z a-z 0-9 . _ -",
            ));
        }
        let key: [u8; 32] = bytes.try_into().map_err(|_| {
            Error::invalid_input("sealing key", "must be exactly 32 bytes (256 bits)")
        })?;
        Ok(Self {
            id,
            key: Zeroizing::new(key),
        })
    }

    /// A key from its standard base64 form (44 characters).
    ///
    /// ```
    /// use atlassian_rotation::rotate::SealingKey;
    /// let key = SealingKey::from_base64("k1", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")?;
    /// # let _ = key;
    /// # Ok::<(), atlassian_rotation::Error>(())
    /// ```
    pub fn from_base64(id: impl Into<String>, encoded: &str) -> Result<Self> {
        let bytes = Zeroizing::new(
            B64.decode(encoded.trim())
                .map_err(|_| Error::invalid_input("sealing key", "is not standard base64"))?,
        );
        Self::from_bytes(id, &bytes)
    }

    /// A key from the environment variable `var`, in base64 (`openssl rand -base64 32`).
    ///
    /// ```no_run
    /// use atlassian_rotation::rotate::SealingKey;
    /// let key = SealingKey::from_env("2026-11", "ROTATION_JOURNAL_KEY")?;
    /// # let _ = key;
    /// # Ok::<(), atlassian_rotation::Error>(())
    /// ```
    pub fn from_env(id: impl Into<String>, var: &str) -> Result<Self> {
        let value = Zeroizing::new(std::env::var(var).map_err(|_| {
            Error::invalid_input(
                "sealing key",
                format!("environment variable {var} is not set"),
            )
        })?);
        Self::from_base64(id, &value)
    }

    /// A key fetched by the caller's code (a KMS, a vault): `fetch` returns the 32 bytes, which
    /// are zeroized once copied.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> atlassian_rotation::Result<()> {
    /// use atlassian_rotation::rotate::SealingKey;
    /// let key = SealingKey::fetch("kms-v3", || async { Ok(vec![1u8; 32]) }).await?;
    /// assert_eq!(key.id(), "kms-v3");
    /// # Ok(()) }
    /// ```
    pub async fn fetch<F, Fut>(id: impl Into<String>, fetch: F) -> Result<Self>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Vec<u8>>>,
    {
        let bytes = Zeroizing::new(fetch().await?);
        Self::from_bytes(id, &bytes)
    }

    /// A new random key (from the operating system's generator), for tests and first setup.
    ///
    /// ```
    /// use atlassian_rotation::rotate::SealingKey;
    /// let key = SealingKey::generate("k1")?;
    /// # let _ = key;
    /// # Ok::<(), atlassian_rotation::Error>(())
    /// ```
    pub fn generate(id: impl Into<String>) -> Result<Self> {
        let key = XChaCha20Poly1305::generate_key(&mut OsRng);
        Self::from_bytes(id, key.as_slice())
    }

    /// The key's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(self.key.as_slice().into())
    }
}

/// A journal that encrypts each credential before it reaches `inner`, with XChaCha20-Poly1305
/// (RustCrypto's `chacha20poly1305`, random 24-byte nonces). The inner journal stores
/// `sealed:v1:<key id>:<base64 of nonce and ciphertext>` where the credential would be; every
/// other field (id, kind, target, step, fingerprints, lease) stays readable for inspection.
///
/// - The rotation id, kind and target are bound as associated data: an entry copied to
///   another rotation does not open.
/// - A wrong key, an unknown key id, a tampered entry or a clear credential is an
///   [`Error::Unsealable`] naming the rotation: never a panic, never a fresh start.
/// - Key rotation: give the new key and [`with_previous_key`](Self::with_previous_key) the
///   old ones. Entries sealed with an old key open, and are sealed with the new key on their
///   next write ([`reseal_all`](Self::reseal_all) does that for every entry at once).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> atlassian_rotation::Result<()> {
/// use atlassian_rotation::rotate::{Journal, JournalEntry, MemoryJournal, SealedJournal, SealingKey};
/// use atlassian_rotation::secret::TunnelKey;
///
/// let journal = SealedJournal::new(MemoryJournal::new(), SealingKey::generate("k1")?);
/// let entry = JournalEntry::regenerated("rot-1", "tunnel-key", &TunnelKey::new("tk-secret"));
/// journal.store(&entry).await?;
/// let raw = &journal.inner().entries()[0];
/// assert!(!format!("{raw:?}").contains("tk-secret"));
/// let back = journal.load("rot-1").await?.unwrap();
/// assert_eq!(back.credential::<TunnelKey>(), Some(TunnelKey::new("tk-secret")));
/// # Ok(()) }
/// ```
pub struct SealedJournal<J> {
    inner: J,
    key: SealingKey,
    previous: Vec<SealingKey>,
}

impl<J: fmt::Debug> fmt::Debug for SealedJournal<J> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SealedJournal")
            .field("inner", &self.inner)
            .field("key", &self.key)
            .field("previous", &self.previous)
            .finish()
    }
}

impl<J: Journal> SealedJournal<J> {
    /// `inner`, sealing with `key`.
    pub fn new(inner: J, key: SealingKey) -> Self {
        Self {
            inner,
            key,
            previous: Vec::new(),
        }
    }

    /// Also opens entries sealed with `key` (an earlier key), resealing them with the current
    /// key on their next write.
    ///
    /// ```
    /// use atlassian_rotation::rotate::{MemoryJournal, SealedJournal, SealingKey};
    /// let journal = SealedJournal::new(MemoryJournal::new(), SealingKey::generate("2026-12")?)
    ///     .with_previous_key(SealingKey::generate("2026-11")?);
    /// # let _ = journal;
    /// # Ok::<(), atlassian_rotation::Error>(())
    /// ```
    pub fn with_previous_key(mut self, key: SealingKey) -> Self {
        self.previous.push(key);
        self
    }

    /// The inner journal (which only ever sees sealed credentials).
    pub fn inner(&self) -> &J {
        &self.inner
    }

    /// Seals again, with the current key, every entry sealed with another key, and returns
    /// how many it resealed. Run it after adding a key, before dropping the previous one.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> atlassian_rotation::Result<()> {
    /// use atlassian_rotation::rotate::{MemoryJournal, SealedJournal, SealingKey};
    /// let journal = SealedJournal::new(MemoryJournal::new(), SealingKey::generate("k2")?);
    /// assert_eq!(journal.reseal_all().await?, 0);
    /// # Ok(()) }
    /// ```
    ///
    /// An entry whose lease a runner holds is left to it (its next write seals with the
    /// current key): resealing under it would make that runner's next write conflict. An
    /// entry that cannot be opened or written does not stop the others; the first such error
    /// is returned after all were tried.
    pub async fn reseal_all(&self) -> Result<usize> {
        let mut resealed = 0;
        let mut first_error = None;
        let now = time::OffsetDateTime::now_utc();
        for listed in self.inner.list().await? {
            if listed.lease_held_by_other("", now) {
                continue;
            }
            let result = async {
                let Some(raw) = self.inner.load(&listed.rotation_id).await? else {
                    return Ok(false);
                };
                let current = raw
                    .credential
                    .as_ref()
                    .is_none_or(|c| key_id_of(c.expose_secret()) == Some(self.key.id()));
                if current {
                    return Ok(false);
                }
                let entry = self.open(raw)?;
                self.store(&entry).await?;
                Ok::<_, Error>(true)
            }
            .await;
            match result {
                Ok(done) => resealed += usize::from(done),
                Err(e) => {
                    tracing::warn!(rotation_id = %listed.rotation_id, error = %e, "could not reseal");
                    first_error.get_or_insert(e);
                }
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(resealed),
        }
    }

    fn seal(&self, entry: &JournalEntry) -> Result<JournalEntry> {
        let mut sealed = entry.clone();
        if let Some(clear) = &entry.credential {
            let cipher = self.key.cipher();
            let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
            let aad = associated_data(entry, self.key.id());
            let ciphertext = cipher
                .encrypt(
                    &nonce,
                    Payload {
                        msg: clear.expose_secret().as_bytes(),
                        aad: &aad,
                    },
                )
                .map_err(|_| unsealable(entry, self.key.id(), "sealing failed"))?;
            let mut both = Zeroizing::new(nonce.to_vec());
            both.extend_from_slice(&ciphertext);
            let text = format!("{PREFIX}{}:{}", self.key.id(), B64.encode(&*both));
            sealed.credential = Some(SecretString::from(text));
        }
        Ok(sealed)
    }

    fn open(&self, mut entry: JournalEntry) -> Result<JournalEntry> {
        let Some(stored) = entry.credential.take() else {
            return Ok(entry);
        };
        let stored = stored.expose_secret();
        let Some(rest) = stored.strip_prefix(PREFIX) else {
            return Err(unsealable(
                &entry,
                "",
                "the credential is not sealed (a clear credential in a sealed journal)",
            ));
        };
        let Some((key_id, body)) = rest.split_once(':') else {
            return Err(unsealable(&entry, "", "the sealed credential is malformed"));
        };
        let Some(key) = std::iter::once(&self.key)
            .chain(&self.previous)
            .find(|k| k.id() == key_id)
        else {
            return Err(unsealable(
                &entry,
                key_id,
                "no key with this id was supplied",
            ));
        };
        let both = Zeroizing::new(
            B64.decode(body)
                .map_err(|_| unsealable(&entry, key_id, "the sealed credential is malformed"))?,
        );
        if both.len() < NONCE_LEN {
            return Err(unsealable(
                &entry,
                key_id,
                "the sealed credential is malformed",
            ));
        }
        let (nonce, ciphertext) = both.split_at(NONCE_LEN);
        let aad = associated_data(&entry, key_id);
        let clear = key
            .cipher()
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: &aad,
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| {
                unsealable(
                    &entry,
                    key_id,
                    "wrong key, or the entry was tampered with or moved from another rotation",
                )
            })?;
        let clear = String::from_utf8(clear.to_vec())
            .map_err(|_| unsealable(&entry, key_id, "the opened credential is not text"))?;
        entry.credential = Some(SecretString::from(clear));
        Ok(entry)
    }
}

/// The rotation id, kind, target, the credential's fingerprint and the key id, length-prefixed
/// so no two tuples encode alike: a sealed credential opens only in the entry it was sealed
/// for (not in another rotation, nor under another credential's fingerprint).
fn associated_data(entry: &JournalEntry, key_id: &str) -> Vec<u8> {
    let mut aad = b"atlassian-rotation/journal/sealed/v1".to_vec();
    for part in [
        &entry.rotation_id,
        &entry.kind,
        &entry.target,
        &entry.fingerprint,
        key_id,
    ] {
        aad.extend_from_slice(&(part.len() as u64).to_be_bytes());
        aad.extend_from_slice(part.as_bytes());
    }
    aad
}

fn key_id_of(stored: &str) -> Option<&str> {
    stored.strip_prefix(PREFIX)?.split_once(':').map(|(k, _)| k)
}

fn unsealable(entry: &JournalEntry, key_id: &str, reason: &'static str) -> Error {
    Error::Unsealable {
        rotation_id: entry.rotation_id.clone(),
        key_id: key_id.to_owned(),
        reason,
    }
}

#[async_trait]
impl<J: Journal> Journal for SealedJournal<J> {
    async fn load(&self, rotation_id: &str) -> Result<Option<JournalEntry>> {
        match self.inner.load(rotation_id).await? {
            // An entry moved under another id does not open as that rotation's, whatever the
            // inner journal does.
            Some(entry) if entry.rotation_id != rotation_id => Err(Error::Unsealable {
                rotation_id: rotation_id.to_owned(),
                key_id: String::new(),
                reason: "the journal returned another rotation's entry for this id",
            }),
            Some(entry) => self.open(entry).map(Some),
            None => Ok(None),
        }
    }

    async fn store(&self, entry: &JournalEntry) -> Result<()> {
        self.inner.store(&self.seal(entry)?).await
    }

    async fn create(&self, entry: &JournalEntry) -> Result<bool> {
        self.inner.create(&self.seal(entry)?).await
    }

    async fn list(&self) -> Result<Vec<JournalEntry>> {
        self.inner.list().await
    }

    async fn list_unfinished(&self) -> Result<Vec<JournalEntry>> {
        self.inner.list_unfinished().await
    }

    async fn remove(&self, rotation_id: &str, version: u64) -> Result<()> {
        self.inner.remove(rotation_id, version).await
    }

    async fn forget(&self, rotation_id: &str) -> Result<bool> {
        self.inner.forget(rotation_id).await
    }

    async fn abandon(&self, rotation_id: &str, reason: &str) -> Result<JournalEntry> {
        self.inner.abandon(rotation_id, reason).await
    }

    async fn acquire(
        &self,
        rotation_id: &str,
        holder: &str,
        now: OffsetDateTime,
        ttl: Duration,
    ) -> Result<Lease> {
        self.inner.acquire(rotation_id, holder, now, ttl).await
    }

    async fn release(&self, rotation_id: &str, holder: &str) -> Result<()> {
        self.inner.release(rotation_id, holder).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rotate::MemoryJournal;
    use crate::secret::TunnelKey;

    const SECRET: &str = "tk-very-secret-value";

    fn sealed(key: &str) -> SealedJournal<MemoryJournal> {
        SealedJournal::new(
            MemoryJournal::new(),
            SealingKey::from_bytes(key, &[9u8; 32]).unwrap(),
        )
    }

    #[test]
    fn keys_and_errors_never_show_the_key_or_the_credential() {
        let key = SealingKey::from_bytes("k1", &[0xAB; 32]).unwrap();
        let text = format!("{key:?}");
        assert!(
            text.contains("[redacted]") && !text.contains("171"),
            "{text}"
        );
        let err = SealingKey::from_base64("k1", "not base64!").unwrap_err();
        assert!(!err.to_string().contains("not base64!"));
        assert!(SealingKey::from_bytes("k1", &[1; 31]).is_err());
        assert!(SealingKey::from_bytes("a:b", &[1; 32]).is_err());
        let journal = sealed("k1");
        assert!(!format!("{journal:?}").contains("171"));
    }

    #[tokio::test]
    async fn an_entry_moved_to_another_rotation_or_tampered_does_not_open() {
        let journal = sealed("k1");
        let entry = JournalEntry::regenerated("rot-1", "tunnel-key", &TunnelKey::new(SECRET));
        journal.store(&entry).await.unwrap();
        let mut raw = journal.inner().load("rot-1").await.unwrap().unwrap();
        let stored = raw.credential.as_ref().unwrap().expose_secret().to_owned();
        assert!(stored.starts_with("sealed:v1:k1:") && !stored.contains(SECRET));

        // Moved: the same sealed value under another rotation id.
        raw.rotation_id = "rot-2".into();
        raw.version = 0;
        journal.inner().store(&raw).await.unwrap();
        let err = journal.load("rot-2").await.unwrap_err();
        assert!(matches!(&err, Error::Unsealable { rotation_id, .. } if rotation_id == "rot-2"));

        // Tampered: one character of the ciphertext changed.
        let mut bad = stored.clone();
        let last = bad.pop().unwrap();
        bad.push(if last == 'A' { 'B' } else { 'A' });
        raw.rotation_id = "rot-3".into();
        raw.credential = Some(SecretString::from(bad));
        journal.inner().store(&raw).await.unwrap();
        let err = journal.load("rot-3").await.unwrap_err();
        assert!(matches!(err, Error::Unsealable { .. }));

        // A clear credential in a sealed journal is refused, not used.
        let clear = JournalEntry::regenerated("rot-4", "tunnel-key", &TunnelKey::new(SECRET));
        journal.inner().store(&clear).await.unwrap();
        let err = journal.load("rot-4").await.unwrap_err();
        assert!(!err.to_string().contains(SECRET), "{err}");
        assert!(!format!("{err:?}").contains(SECRET));
    }

    #[tokio::test]
    async fn entries_sealed_with_a_previous_key_open_and_are_resealed() {
        let old = sealed("old");
        let entry = JournalEntry::regenerated("rot-1", "tunnel-key", &TunnelKey::new(SECRET));
        old.store(&entry).await.unwrap();
        let inner = old.inner;
        let new = SealedJournal::new(inner, SealingKey::from_bytes("new", &[3; 32]).unwrap());
        let err = new.load("rot-1").await.unwrap_err();
        assert!(matches!(&err, Error::Unsealable { key_id, .. } if key_id == "old"));
        let new = new.with_previous_key(SealingKey::from_bytes("old", &[9; 32]).unwrap());
        assert_eq!(
            new.load("rot-1").await.unwrap().unwrap().credential(),
            Some(TunnelKey::new(SECRET))
        );
        assert_eq!(new.reseal_all().await.unwrap(), 1);
        assert_eq!(new.reseal_all().await.unwrap(), 0);
        let raw = new.inner().load("rot-1").await.unwrap().unwrap();
        assert!(
            raw.credential
                .unwrap()
                .expose_secret()
                .starts_with("sealed:v1:new:")
        );
    }
}
