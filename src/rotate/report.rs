//! What a rotation run tells: its report, and the error that carries an unjournaled credential.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

use super::journal::{Step, now_rfc3339};
use super::options::Audit;
use super::{Finished, Updated, Verified};
use crate::error::Error;

/// The names of the steps a run reports, in order ([`StepReport::step`]).
pub(crate) const STEP_NAMES: [&str; 4] = ["regenerate", "update", "verify", "finish"];

/// How a step went in this run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum StepStatus {
    /// It ran and succeeded.
    Done,
    /// An earlier run completed it (found in the journal).
    AlreadyDone,
    /// It ran and failed.
    Failed,
}

/// One step of a rotation run.
///
/// ```
/// use atlassian_rotation::rotate::{StepReport, StepStatus};
///
/// let json = r#"{"step":"update","status":"failed","duration_ms":12,"error":"update: boom"}"#;
/// let step: StepReport = serde_json::from_str(json).unwrap();
/// assert_eq!((step.step, step.status), ("update", StepStatus::Failed));
/// assert_eq!(serde_json::to_string(&step).unwrap(), json);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct StepReport {
    /// `regenerate`, `update`, `verify` or `finish`. Deserializing accepts these four names
    /// only (the ones the driver writes), so the field stays a `&'static str`.
    #[serde(deserialize_with = "step_name")]
    pub step: StaticStr,
    /// How it went.
    pub status: StepStatus,
    /// How long it took in this run, in milliseconds.
    pub duration_ms: u64,
    /// The error, for a failed step (never a secret).
    pub error: Option<String>,
}

/// `&'static str`, spelled so that serde's derive does not take the field for text borrowed
/// from the input (which would make a report deserializable from `'static` input only).
type StaticStr = &'static str;

/// Reads a step name as the driver's own `&'static str`.
fn step_name<'de, D: Deserializer<'de>>(deserializer: D) -> Result<&'static str, D::Error> {
    let name = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
    STEP_NAMES
        .into_iter()
        .find(|known| *known == name)
        .ok_or_else(|| serde::de::Error::unknown_variant(&name, &STEP_NAMES))
}

/// What a rotation run did. Serializable and deserializable (a service can store it or pass it
/// on); holds no secret.
///
/// `Display` writes a summary for people, several lines long; its first line alone is a
/// complete one-line summary (for a log line or a notification title):
///
/// ```
/// use async_trait::async_trait;
/// use atlassian_rotation::rotate::{self, MemoryJournal, RotateOptions, RotationReport, Rotator};
/// use atlassian_rotation::rotate::{Finished, Updated, Verified};
/// use atlassian_rotation::secret::ApiToken;
///
/// struct Demo;
///
/// #[async_trait]
/// impl Rotator for Demo {
///     type Credential = ApiToken;
///     fn kind(&self) -> &'static str { "demo" }
///     async fn regenerate(&self) -> atlassian_rotation::Result<ApiToken> {
///         Ok(ApiToken::new("ATATT-new"))
///     }
///     async fn update(&self, _: &ApiToken) -> atlassian_rotation::Result<Updated> {
///         Ok(Updated::new(2, 2))
///     }
///     async fn verify(&self, _: &ApiToken, _: &Updated) -> atlassian_rotation::Result<Verified> {
///         Ok(Verified::new().check("the service accepted the new token"))
///     }
///     async fn finish(&self, _: &ApiToken, _: &Updated) -> atlassian_rotation::Result<Finished> {
///         Ok(Finished::nothing().retired("revoked token 1a2b"))
///     }
/// }
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let report = rotate::rotate(&Demo, &MemoryJournal::new(), RotateOptions::new("demo-1")).await.unwrap();
/// let text = report.to_string();
/// let first = text.lines().next().unwrap();
/// assert_eq!(first, format!("rotation `demo-1` (demo): complete; new credential {}",
///     ApiToken::new("ATATT-new").fingerprint()));
/// assert!(text.contains("\n  updated: 2 found, 2 rewritten, 0 skipped, 0 conflicted\n"));
/// assert!(text.contains("\n  verified: the service accepted the new token"));
/// assert!(text.contains("\n  retired: revoked token 1a2b"));
/// assert!(!text.contains("ATATT-new"));
///
/// let json = serde_json::to_string(&report).unwrap();
/// let back: RotationReport = serde_json::from_str(&json).unwrap();
/// assert_eq!(back, report);
/// # });
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RotationReport {
    /// The rotation id (empty for an error raised before any rotation started: see
    /// [`RotationError`]'s `From<Error>`).
    pub rotation_id: String,
    /// The rotator's kind.
    pub kind: String,
    /// Fingerprint of the new credential, once minted.
    pub credential_fingerprint: Option<String>,
    /// The step found in the journal when this run resumed an earlier one.
    pub resumed_from: Option<Step>,
    /// The last step completed, in this run or before.
    pub completed: Option<Step>,
    /// The steps of this run.
    pub steps: Vec<StepReport>,
    /// The update step's outcome (counts of places found, rewritten, skipped, conflicted).
    pub updated: Option<Updated>,
    /// The verify step's checks.
    pub verified: Option<Verified>,
    /// The finish step's outcome.
    pub finished: Option<Finished>,
    /// The caller's audit metadata.
    pub audit: Audit,
    /// When this run started (RFC 3339).
    pub started_at: String,
    /// When this run ended (RFC 3339).
    pub ended_at: String,
}

impl RotationReport {
    /// A run of `kind` under `rotation_id` that has done nothing yet, started now.
    pub(crate) fn new(
        rotation_id: impl Into<String>,
        kind: impl Into<String>,
        audit: Audit,
    ) -> Self {
        let now = now_rfc3339();
        Self {
            rotation_id: rotation_id.into(),
            kind: kind.into(),
            credential_fingerprint: None,
            resumed_from: None,
            completed: None,
            steps: Vec::new(),
            updated: None,
            verified: None,
            finished: None,
            audit,
            started_at: now.clone(),
            ended_at: now,
        }
    }

    /// Whether the rotation is complete (every step done, in this run or an earlier one).
    pub fn succeeded(&self) -> bool {
        self.completed == Some(Step::Finished)
    }
}

/// Text from a report on one line: control characters (a newline in a rule-derived string)
/// are escaped, so no value can forge a line of the summary.
struct OneLine<'a>(&'a str);

impl fmt::Display for OneLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.0.chars() {
            if c.is_control() {
                write!(f, "{}", c.escape_default())?;
            } else {
                fmt::Write::write_char(f, c)?;
            }
        }
        Ok(())
    }
}

impl fmt::Display for RotationReport {
    /// A summary for people: a first line that stands alone (id, kind, state, the new
    /// credential's fingerprint), then one indented line per fact: resume, steps, each failed
    /// step's error, the update's counts, each check, each retired credential, the audit
    /// metadata. Shows only what the report holds, which is never a secret; every value is
    /// kept to its line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.rotation_id.is_empty() {
            // An error raised before any rotation started (`From<Error> for RotationError`).
            return f.write_str("rotation not started");
        }
        let state = match self.completed {
            Some(_) if self.succeeded() => "complete".to_owned(),
            Some(step) => format!("stopped after {step}"),
            None => "stopped before any step completed".to_owned(),
        };
        write!(
            f,
            "rotation `{}` ({}): {state}; ",
            OneLine(&self.rotation_id),
            OneLine(&self.kind)
        )?;
        match &self.credential_fingerprint {
            Some(fingerprint) => write!(f, "new credential {}", OneLine(fingerprint))?,
            None => f.write_str("no new credential")?,
        }
        if let Some(step) = self.resumed_from {
            write!(f, "\n  resumed after {step}")?;
        }
        if !self.steps.is_empty() {
            f.write_str("\n  steps:")?;
            for (i, step) in self.steps.iter().enumerate() {
                let sep = if i == 0 { " " } else { ", " };
                let status = match step.status {
                    StepStatus::Done => format!("done in {} ms", step.duration_ms),
                    StepStatus::AlreadyDone => "done before".to_owned(),
                    StepStatus::Failed => format!("failed after {} ms", step.duration_ms),
                };
                write!(f, "{sep}{} {status}", step.step)?;
            }
        }
        for step in &self.steps {
            if let (StepStatus::Failed, Some(error)) = (step.status, &step.error) {
                write!(f, "\n  {} failed: {}", step.step, OneLine(error))?;
            }
        }
        if let Some(u) = &self.updated {
            write!(
                f,
                "\n  updated: {} found, {} rewritten, {} skipped, {} conflicted",
                u.found, u.rewritten, u.skipped, u.conflicted
            )?;
            if u.scanned > 0 {
                write!(f, " ({} places scanned)", u.scanned)?;
            }
        }
        for check in self.verified.iter().flat_map(|v| &v.checks) {
            write!(f, "\n  verified: {}", OneLine(check))?;
        }
        for retired in self.finished.iter().flat_map(|r| &r.retired) {
            write!(f, "\n  retired: {}", OneLine(retired))?;
        }
        let Audit {
            reason,
            initiated_by,
            initiated_from,
            policy_id,
        } = &self.audit;
        let audit: Vec<String> = [
            ("reason", reason),
            ("by", initiated_by),
            ("from", initiated_from),
            ("policy", policy_id),
        ]
        .into_iter()
        .filter_map(|(label, value)| Some(format!("{label} {}", OneLine(value.as_deref()?))))
        .collect();
        if !audit.is_empty() {
            write!(f, "\n  audit: {}", audit.join(", "))?;
        }
        Ok(())
    }
}

/// A failed rotation run: the error, the report so far, and, only if the journal could not
/// store it, the freshly minted credential, so it is never lost.
///
/// # Composing with `?`
///
/// `From<Error>` lets one function build its journal (which returns [`Error`]) and rotate with
/// `?` alike, returning `Result<_, RotationError<C>>`: an [`Error`] raised before any rotation
/// started becomes a `RotationError` with an empty report (no rotation id, no step) and no
/// credential, since nothing was minted.
///
/// ```no_run
/// use atlassian_rotation::rotate::{self, FileJournal, RotateOptions, RotationError, RotationReport};
/// use atlassian_rotation::rotate::TunnelKeyRotator;
/// use atlassian_rotation::secret::TunnelKey;
///
/// async fn run(rotator: &TunnelKeyRotator) -> Result<RotationReport, RotationError<TunnelKey>> {
///     let journal = FileJournal::new("/var/lib/rotation")?; // Error -> RotationError
///     rotate::rotate(rotator, &journal, RotateOptions::new("tunnel-2026-11")).await
/// }
/// ```
///
/// There is deliberately no conversion the other way, into [`Error`]: `Error` never holds a
/// credential, so such a conversion would drop [`unjournaled`](Self::unjournaled), the only
/// copy of a minted credential. Handle it, then convert what is left yourself:
///
/// ```compile_fail,E0277
/// use atlassian_rotation::rotate::{self, MemoryJournal, RotateOptions, TunnelKeyRotator};
///
/// async fn run(rotator: &TunnelKeyRotator) -> atlassian_rotation::Result<()> {
///     rotate::rotate(rotator, &MemoryJournal::new(), RotateOptions::new("t-1")).await?;
///     Ok(())
/// }
/// ```
///
/// Boxing one into a `Box<dyn std::error::Error>` (what `?` does in a function returning one)
/// keeps the credential inside the box: `downcast::<RotationError<C>>()` gets it back, and the
/// message says it is there.
#[non_exhaustive]
pub struct RotationError<C> {
    /// What failed.
    pub error: Error,
    /// The run so far.
    pub report: RotationReport,
    /// The new credential, when it was minted but could not be journaled. Store it yourself.
    pub unjournaled: Option<C>,
}

impl<C> From<Error> for RotationError<C> {
    /// An error raised before any rotation started (opening a journal, building a rotator):
    /// an empty report, no credential.
    ///
    /// ```
    /// use atlassian_rotation::Error;
    /// use atlassian_rotation::rotate::RotationError;
    /// use atlassian_rotation::secret::ApiToken;
    ///
    /// let err: RotationError<ApiToken> = Error::rotation("setup", "no journal directory").into();
    /// assert!(err.unjournaled.is_none() && err.report.steps.is_empty());
    /// assert_eq!(err.to_string(), "rotation not started: setup: no journal directory");
    /// ```
    fn from(error: Error) -> Self {
        Self {
            error,
            report: RotationReport::new("", "", Audit::default()),
            unjournaled: None,
        }
    }
}

impl<C> fmt::Debug for RotationError<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RotationError")
            .field("error", &self.error)
            .field("report", &self.report)
            .field(
                "unjournaled",
                &self.unjournaled.as_ref().map(|_| crate::secret::REDACTED),
            )
            .finish()
    }
}

impl<C> fmt::Display for RotationError<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.report.rotation_id.is_empty() {
            write!(f, "rotation not started: {}", self.error)?;
        } else {
            write!(
                f,
                "rotation `{}` failed: {}",
                self.report.rotation_id, self.error
            )?;
        }
        if self.unjournaled.is_some() {
            f.write_str(
                " (the new credential could not be journaled and is returned to the caller)",
            )?;
        } else if self.report.credential_fingerprint.is_some() {
            f.write_str(" (the new credential is in the journal: run again to resume)")?;
        }
        Ok(())
    }
}

impl<C> std::error::Error for RotationError<C> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}
