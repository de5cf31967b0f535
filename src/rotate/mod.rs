//! Rotation: the [`Rotator`] trait, the [`Journal`] that keeps a minted credential safe, and the
//! [`rotate`] driver that composes them.
//!
//! A rotation runs four steps, in the spirit of AWS Secrets Manager's
//! createSecret / setSecret / testSecret / finishSecret and Vault's rotation write-ahead log:
//!
//! 1. **regenerate**: mint the new credential at its source. Not idempotent, never retried
//!    automatically. The driver writes the result to the journal *before* anything else happens.
//! 2. **update**: install it where it is consumed. Idempotent: safe to run again after any failure.
//! 3. **verify**: prove, by observation, that it works there. Read-only.
//! 4. **finish**: retire the old credential (revoke it). Runs only after verify passed.
//!
//! Calling [`rotate`] again with the same rotation id resumes at the first step not completed,
//! with the journaled credential: it never regenerates twice.
//!
//! ```
//! use atlassian_rotation::async_trait;
//! use atlassian_rotation::rotate::{self, MemoryJournal, RotateOptions, Rotator, Updated, Verified};
//! use atlassian_rotation::secret::ApiToken;
//!
//! struct Demo;
//!
//! #[async_trait]
//! impl Rotator for Demo {
//!     type Credential = ApiToken;
//!     fn kind(&self) -> &'static str { "demo" }
//!     async fn regenerate(&self) -> atlassian_rotation::Result<ApiToken> {
//!         Ok(ApiToken::new("ATATT-new"))
//!     }
//!     async fn update(&self, _: &ApiToken) -> atlassian_rotation::Result<Updated> {
//!         Ok(Updated::new(1, 1))
//!     }
//!     async fn verify(&self, _: &ApiToken, _: &Updated) -> atlassian_rotation::Result<Verified> {
//!         Ok(Verified::new().check("demo credential accepted"))
//!     }
//! }
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let journal = MemoryJournal::new();
//! let report = rotate::rotate(&Demo, &journal, RotateOptions::new("demo-2026-11")).await.unwrap();
//! assert!(report.succeeded());
//! # });
//! ```

mod admin_key;
mod automation;
pub(crate) mod bulk;
mod driver;
mod evidence;
mod journal;
mod options;
mod originals;
mod report;
mod resume;
mod token;
mod tunnel;

use serde::{Deserialize, Serialize};

use crate::error::Result;

pub use admin_key::{AdminKeyRotator, KeyRef};
/// The attribute that implementing [`Rotator`] and [`Journal`] needs, re-exported so that you
/// do not add the `async-trait` crate yourself: `#[atlassian_rotation::async_trait]`.
pub use async_trait::async_trait;
pub use automation::{
    AutomationTokenRotator, DEFAULT_CONCURRENCY, FRESH_READ, Plan, PlannedRule, Rollback,
};
pub use bulk::{Phase, Progress, ProgressFn};
pub use driver::rotate;
pub(crate) use journal::write_atomically_owned;
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub use journal::{DEFAULT_STATEMENT_TIMEOUT, PostgresJournal};
pub use journal::{
    FileJournal, Journal, JournalCredential, JournalEntry, Lease, MAX_LEASE_TTL, MemoryJournal,
    SealedJournal, SealingKey, Step,
};
pub use options::{Audit, DEFAULT_LEASE_TTL, RotateOptions};
pub use report::{RotationError, RotationReport, StepReport, StepStatus};
pub use resume::{resume_or_new_id, unfinished};
pub use token::{OldToken, TokenSource};
pub use tunnel::{Probe, TunnelKeyRotator};

/// One credential rotation, as three (plus one optional) steps.
///
/// Implement it to compose your own flow; [`rotate`] drives any implementation with a journal.
/// Return your own failures with `?`: an [`std::io::Error`] converts by itself
/// ([`Error::Io`](crate::Error::Io)), your error types through one `From` impl built on
/// [`Error::other`](crate::Error::other), which keeps them whole as the source, and a failure
/// you observe is [`Error::rotation`](crate::Error::rotation). Nothing to `map_err`, and
/// nothing to add to your `Cargo.toml`: [`async_trait`](macro@async_trait) is re-exported here.
///
/// A rotator for a token that a person mints and drops into a file, installed in a service's
/// config file and checked by the service's own health check:
///
/// ```
/// use std::path::PathBuf;
/// use atlassian_rotation::{Error, Result, async_trait};
/// use atlassian_rotation::rotate::{self, MemoryJournal, RotateOptions, Rotator, Updated, Verified};
/// use atlassian_rotation::secret::ApiToken;
///
/// /// The service's own error type.
/// #[derive(Debug)]
/// struct HealthError(String);
/// impl std::fmt::Display for HealthError {
///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
///         write!(f, "health check failed: {}", self.0)
///     }
/// }
/// impl std::error::Error for HealthError {}
///
/// // Once, and `?` converts it everywhere; the source is kept whole.
/// impl From<HealthError> for Error {
///     fn from(e: HealthError) -> Self {
///         Error::other(e)
///     }
/// }
///
/// /// The service's own check of its config (a stand-in for a real health endpoint).
/// fn health_check(config: &str) -> std::result::Result<(), HealthError> {
///     match config.strip_prefix("token=") {
///         Some(token) if !token.trim().is_empty() => Ok(()),
///         _ => Err(HealthError("no token in the config".into())),
///     }
/// }
///
/// struct ConfigFileRotator {
///     incoming: PathBuf,
///     config: PathBuf,
/// }
///
/// #[async_trait]
/// impl Rotator for ConfigFileRotator {
///     type Credential = ApiToken;
///     fn kind(&self) -> &'static str { "config-file-token" }
///     fn regenerate_mints(&self) -> bool { false } // handed over, not minted
///     async fn regenerate(&self) -> Result<ApiToken> {
///         let token = tokio::fs::read_to_string(&self.incoming).await?; // io::Error -> Error
///         Ok(ApiToken::new(token.trim()))
///     }
///     async fn update(&self, token: &ApiToken) -> Result<Updated> {
///         tokio::fs::write(&self.config, format!("token={}\n", token.expose_secret())).await?;
///         Ok(Updated::new(1, 1).target(self.config.display().to_string()))
///     }
///     async fn verify(&self, token: &ApiToken, _: &Updated) -> Result<Verified> {
///         let config = tokio::fs::read_to_string(&self.config).await?;
///         health_check(&config)?; // HealthError -> Error
///         if !config.contains(token.expose_secret()) {
///             return Err(Error::rotation("verify", "the config does not hold the new token"));
///         }
///         Ok(Verified::new().check("the service's health check passed"))
///     }
/// }
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let dir = std::env::temp_dir().join(format!("rotator-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// std::fs::write(dir.join("incoming"), "ATATT-handed-over\n").unwrap();
/// let rotator = ConfigFileRotator { incoming: dir.join("incoming"), config: dir.join("svc.conf") };
/// let report = rotate::rotate(&rotator, &MemoryJournal::new(), RotateOptions::new("svc-1")).await.unwrap();
/// assert!(report.succeeded());
/// assert_eq!(std::fs::read_to_string(dir.join("svc.conf")).unwrap(), "token=ATATT-handed-over\n");
///
/// // A failure keeps its source: here the I/O error of a config file that cannot be written.
/// let broken = ConfigFileRotator { incoming: dir.join("incoming"), config: dir.join("missing/svc.conf") };
/// let err = rotate::rotate(&broken, &MemoryJournal::new(), RotateOptions::new("svc-2")).await.unwrap_err();
/// assert!(matches!(&err.error, Error::Io { source } if source.kind() == std::io::ErrorKind::NotFound));
/// # std::fs::remove_dir_all(&dir).unwrap();
/// # });
/// ```
#[async_trait]
pub trait Rotator: Send + Sync {
    /// The credential this rotator mints and installs.
    type Credential: JournalCredential;

    /// A short name for reports (`tunnel-key`, `automation-token`).
    fn kind(&self) -> &'static str;

    /// What this rotation changes, in words (`org/tunnel -> instance URL`). It is journaled,
    /// and a journaled rotation is resumed only by a rotator with the same target, so a
    /// journaled credential is never installed somewhere else. The default is empty.
    fn target(&self) -> String {
        String::new()
    }

    /// A fingerprint of the credential this rotation replaces, when the rotator knows it (the
    /// old API token: yes; a tunnel's old key: no). It is journaled, and a journaled rotation
    /// is resumed only by a rotator replacing the same credential, so reusing a rotation id for
    /// the next rotation (B to C after A to B) is refused instead of reported complete.
    /// The default is `None`.
    fn old_fingerprint(&self) -> Option<String> {
        None
    }

    /// For a rotator whose new credential is handed over rather than minted
    /// ([`regenerate_mints`](Self::regenerate_mints) is `false`): the fingerprint of the
    /// credential it would hand over now. When the journal already holds a rotation under the
    /// same id, the driver compares the two and refuses a different one, instead of silently
    /// resuming with the journaled credential. The default is `None` (nothing to compare).
    async fn offered_fingerprint(&self) -> Result<Option<String>> {
        Ok(None)
    }

    /// Whether `regenerate` mints at the source, so that running it twice loses a credential
    /// (a tunnel key: yes; a token handed over by a person: no). When it does, the driver
    /// journals the attempt first and will not start another after an interrupted or
    /// unanswered one unless told to ([`RotateOptions::remint_after_unknown`]). Default: `true`.
    fn regenerate_mints(&self) -> bool {
        true
    }

    /// Mints a new credential at its source. Not idempotent: never retried automatically, and the
    /// driver journals the result before anything else runs.
    async fn regenerate(&self) -> Result<Self::Credential>;

    /// Installs the credential where it is consumed. Idempotent: safe to call again after any
    /// failure, including a partial one; a second call finishes what the first left.
    async fn update(&self, credential: &Self::Credential) -> Result<Updated>;

    /// Proves, by observation, that the credential now works where it is used. Read-only.
    /// `updated` is the outcome of the update step, as journaled (also after a resume).
    async fn verify(&self, credential: &Self::Credential, updated: &Updated) -> Result<Verified>;

    /// Retires the old credential (for example revokes it). Runs only after `verify` passed;
    /// `updated` is the update step's journaled outcome. Must be safe to run again after a
    /// failure (the old credential may already be retired). The default does nothing.
    async fn finish(&self, credential: &Self::Credential, updated: &Updated) -> Result<Finished> {
        let _ = (credential, updated);
        Ok(Finished::nothing())
    }

    /// Runs instead of the steps when the rotation id names a rotation that already finished
    /// and this rotator is the one that ran it (the driver checked kind, target and
    /// credentials): nothing runs again, but a rotator whose own clients authenticate with the
    /// rotated credential moves them to the new one (`fingerprint`, as journaled), as its
    /// verify does, so that a rerun reporting the rotation complete (in a process that built
    /// its clients from an old configuration) leaves them working. The default does nothing.
    async fn already_finished(&self, fingerprint: &str) -> Result<()> {
        let _ = fingerprint;
        Ok(())
    }
}

/// What an update changed. Journaled, so it survives a resume, and copied into the report.
/// Holds no secret.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Updated {
    /// Places examined (rules read, instances asked), so that verify can tell when it sees
    /// fewer than update did.
    #[serde(default)]
    pub scanned: usize,
    /// Places found that use the credential (rules, instances).
    pub found: usize,
    /// Places written with the new credential (by this call or an earlier one).
    pub rewritten: usize,
    /// Places left alone on purpose (masked values, secret references, nothing to change).
    pub skipped: usize,
    /// Places not written because they changed between read and write.
    pub conflicted: usize,
    /// Identifiers of the places written (rule uuids, instance URLs), for verify and rollback.
    pub targets: Vec<String>,
    /// Observations worth keeping, as `key = value` pairs without secrets.
    pub facts: Vec<(String, String)>,
}

impl Updated {
    /// An outcome with `found` places, of which `rewritten` were written.
    ///
    /// ```
    /// use atlassian_rotation::rotate::Updated;
    /// let u = Updated::new(3, 2).target("rule-1").fact("cloud_org", "Acme");
    /// assert_eq!((u.found, u.rewritten, u.targets.len()), (3, 2, 1));
    /// ```
    pub fn new(found: usize, rewritten: usize) -> Self {
        Self {
            found,
            rewritten,
            ..Self::default()
        }
    }

    /// Adds a written place.
    pub fn target(mut self, id: impl Into<String>) -> Self {
        self.targets.push(id.into());
        self
    }

    /// Adds an observation.
    pub fn fact(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.facts.push((key.into(), value.into()));
        self
    }

    /// The first observation named `key`.
    pub fn fact_value(&self, key: &str) -> Option<&str> {
        self.facts
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// What a verify observed. Holds no secret.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Verified {
    /// Each check that passed, in words.
    pub checks: Vec<String>,
}

impl Verified {
    /// No checks yet.
    ///
    /// ```
    /// use atlassian_rotation::rotate::Verified;
    /// let v = Verified::new().check("instance accepted the key");
    /// assert_eq!(v.checks.len(), 1);
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a passed check.
    pub fn check(mut self, what: impl Into<String>) -> Self {
        self.checks.push(what.into());
        self
    }
}

/// What the finish step retired. Holds no secret.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Finished {
    /// Each old credential retired, in words (`revoked token 1a2b (label "ci")`).
    pub retired: Vec<String>,
}

impl Finished {
    /// Nothing was retired.
    ///
    /// ```
    /// use atlassian_rotation::rotate::Finished;
    /// assert!(Finished::nothing().retired.is_empty());
    /// ```
    pub fn nothing() -> Self {
        Self::default()
    }

    /// Adds a retired credential.
    pub fn retired(mut self, what: impl Into<String>) -> Self {
        self.retired.push(what.into());
        self
    }
}
