//! A journal entry, its steps, and the credentials it can hold.

use std::fmt;

use secrecy::{ExposeSecret as _, SecretString};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::rotate::{Finished, Updated, Verified};
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
    /// An operator gave the rotation up ([`Journal::abandon`](super::Journal::abandon)): its credential was dropped, its
    /// fingerprint and the reason kept. It is never resumed.
    Abandoned,
}

impl Step {
    /// The step named as [`Display`](fmt::Display) writes it.
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    pub(crate) fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "started" => Self::Started,
            "not_minted" => Self::NotMinted,
            "regenerated" => Self::Regenerated,
            "updated" => Self::Updated,
            "verified" => Self::Verified,
            "finished" => Self::Finished,
            "abandoned" => Self::Abandoned,
            _ => return None,
        })
    }
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
            Self::Abandoned => "abandoned",
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
    /// What the rotation changes ([`Rotator::target`](crate::rotate::Rotator::target)).
    pub target: String,
    /// The last completed step.
    pub step: Step,
    /// A fingerprint of the new credential.
    pub fingerprint: String,
    /// A fingerprint of the credential this rotation replaces, when the rotator knows it
    /// ([`Rotator::old_fingerprint`](crate::rotate::Rotator::old_fingerprint)). A resume with a
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
    /// The entry's version: 0 until it is first stored, then one more with every write. Writes
    /// are compare-and-set on it ([`Journal::store`](super::Journal::store)).
    pub version: u64,
    /// The runner holding the rotation's lease ([`Journal::acquire`](super::Journal::acquire)), if any.
    pub holder: Option<String>,
    /// When that lease expires (RFC 3339).
    pub lease_until: Option<String>,
    /// Why the rotation was abandoned ([`Step::Abandoned`]).
    pub abandoned_reason: Option<String>,
    /// Why the last run stopped, when a step failed (the error, which never holds a secret;
    /// a failing consumer names itself here). Cleared when a step completes.
    pub last_error: Option<String>,
    pub(crate) credential: Option<SecretString>,
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
            .field("version", &self.version)
            .field("holder", &self.holder)
            .field("lease_until", &self.lease_until)
            .field("abandoned_reason", &self.abandoned_reason)
            .field("last_error", &self.last_error)
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
            version: 0,
            holder: None,
            lease_until: None,
            abandoned_reason: None,
            last_error: None,
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
            version: 0,
            holder: None,
            lease_until: None,
            abandoned_reason: None,
            last_error: None,
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
        !matches!(
            self.step,
            Step::Finished | Step::NotMinted | Step::Abandoned
        )
    }

    /// Whether the entry holds a credential (never shown; for inspection).
    pub fn has_credential(&self) -> bool {
        self.credential.is_some()
    }

    /// Whether `holder`'s lease is still running at `now` (an unreadable expiry counts as
    /// running: never assume a lease expired).
    pub(crate) fn lease_held_by_other(&self, holder: &str, now: OffsetDateTime) -> bool {
        match (&self.holder, &self.lease_until) {
            (Some(h), Some(until)) if h != holder => parse_rfc3339(until).is_none_or(|t| t > now),
            (Some(h), None) => h != holder,
            _ => false,
        }
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
        if matches!(step, Step::Finished | Step::Abandoned) {
            self.credential = None;
        }
    }
}

pub(crate) fn now_rfc3339() -> String {
    rfc3339(OffsetDateTime::now_utc())
}

pub(crate) fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// When a lease taken at `now` for `ttl` ends: saturating, never a panic, and at most
/// [`MAX_LEASE_TTL`] ahead (a lease is meant to expire).
pub(crate) fn lease_end(now: OffsetDateTime, ttl: std::time::Duration) -> OffsetDateTime {
    let ttl = time::Duration::try_from(ttl.min(MAX_LEASE_TTL)).unwrap_or(time::Duration::DAY);
    now.saturating_add(ttl)
}

/// The longest lease the journals grant: one day. A longer TTL is shortened to it.
pub const MAX_LEASE_TTL: std::time::Duration = std::time::Duration::from_secs(24 * 60 * 60);

pub(crate) fn parse_rfc3339(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()
}

/// A runner's lease on a rotation ([`Journal::acquire`](super::Journal::acquire)). Holds no secret.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Lease {
    /// The rotation id.
    pub rotation_id: String,
    /// The runner holding it.
    pub holder: String,
    /// When it expires unless renewed (RFC 3339).
    pub until: String,
}
