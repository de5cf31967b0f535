//! What a rotation run tells: its report, and the error that carries an unjournaled credential.

use std::fmt;

use serde::Serialize;

use super::journal::Step;
use super::options::Audit;
use super::{Finished, Updated, Verified};
use crate::error::Error;

/// How a step went in this run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
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
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct StepReport {
    /// `regenerate`, `update`, `verify` or `finish`.
    pub step: &'static str,
    /// How it went.
    pub status: StepStatus,
    /// How long it took in this run, in milliseconds.
    pub duration_ms: u64,
    /// The error, for a failed step (never a secret).
    pub error: Option<String>,
}

/// What a rotation run did. Serializable; holds no secret.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct RotationReport {
    /// The rotation id.
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
    /// Whether the rotation is complete (every step done, in this run or an earlier one).
    pub fn succeeded(&self) -> bool {
        self.completed == Some(Step::Finished)
    }
}

/// A failed rotation run: the error, the report so far, and, only if the journal could not
/// store it, the freshly minted credential, so it is never lost.
#[non_exhaustive]
pub struct RotationError<C> {
    /// What failed.
    pub error: Error,
    /// The run so far.
    pub report: RotationReport,
    /// The new credential, when it was minted but could not be journaled. Store it yourself.
    pub unjournaled: Option<C>,
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
        write!(
            f,
            "rotation `{}` failed: {}",
            self.report.rotation_id, self.error
        )?;
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
