//! The rotation driver: regenerate, journal, update, verify, finish; resumable at every step.

use std::fmt;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::journal::{JournalEntry, Step, check_rotation_id, now_rfc3339, rfc3339};
use super::{Finished, Journal, Rotator, Updated, Verified};
use crate::error::Error;

/// Who rotated, why, and from where: copied into the report for the audit trail.
///
/// ```
/// use atlassian_rotation::rotate::Audit;
/// let audit = Audit::new()
///     .reason("annual expiry")
///     .initiated_by("ops@example.com")
///     .initiated_from("cron@bastion-1");
/// # let _ = audit;
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Audit {
    /// Why the rotation runs.
    pub reason: Option<String>,
    /// The person or system that started it.
    pub initiated_by: Option<String>,
    /// Where it was started from (host, pipeline, ticket).
    pub initiated_from: Option<String>,
}

impl Audit {
    /// Empty audit metadata.
    pub fn new() -> Self {
        Self::default()
    }
    /// Sets the reason.
    pub fn reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }
    /// Sets who started the rotation.
    pub fn initiated_by(mut self, who: impl Into<String>) -> Self {
        self.initiated_by = Some(who.into());
        self
    }
    /// Sets where the rotation was started from.
    pub fn initiated_from(mut self, place: impl Into<String>) -> Self {
        self.initiated_from = Some(place.into());
        self
    }
}

/// Options for [`rotate`].
///
/// ```
/// use atlassian_rotation::rotate::{Audit, RotateOptions};
/// let options = RotateOptions::new("tunnel-2026-11").audit(Audit::new().reason("expiry"));
/// # let _ = options;
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RotateOptions {
    /// Names this rotation in the journal. Running again with the same id resumes it.
    pub rotation_id: String,
    /// Audit metadata for the report.
    pub audit: Audit,
    /// Start a new minting regenerate although an earlier one's outcome is unknown.
    pub remint_after_unknown: bool,
    /// Names this runner in the journal's lease (default: host, process id and a random
    /// suffix, new for every run).
    pub holder: String,
    /// How long the lease lasts without a journal write ([`DEFAULT_LEASE_TTL`]).
    pub lease_ttl: Duration,
    /// The clock leases are computed with (default: the system clock, UTC).
    pub clock: fn() -> time::OffsetDateTime,
}

/// How long a runner's lease on a rotation lasts unless renewed: 15 minutes. The driver renews
/// it with every journal write (between steps), so it must outlast the longest single step (an
/// Automation update of many rules); a runner that dies leaves the rotation to others after
/// at most this long.
pub const DEFAULT_LEASE_TTL: Duration = Duration::from_secs(15 * 60);

fn default_holder() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".to_owned());
    format!("{host}-{}-{:08x}", std::process::id(), fastrand::u32(..))
}

impl RotateOptions {
    /// Options for the rotation `rotation_id` (1 to 128 of `A-Z a-z 0-9 . _ -`).
    pub fn new(rotation_id: impl Into<String>) -> Self {
        Self {
            rotation_id: rotation_id.into(),
            audit: Audit::default(),
            remint_after_unknown: false,
            holder: default_holder(),
            lease_ttl: DEFAULT_LEASE_TTL,
            clock: time::OffsetDateTime::now_utc,
        }
    }

    /// Names this runner in the lease. Two runs with the same holder share the lease: give each
    /// replica its own (a pod name), and reuse one only to resume your own crashed run at once.
    pub fn holder(mut self, holder: impl Into<String>) -> Self {
        self.holder = holder.into();
        self
    }

    /// Sets how long the lease lasts between journal writes ([`DEFAULT_LEASE_TTL`]).
    pub fn lease_ttl(mut self, ttl: Duration) -> Self {
        self.lease_ttl = ttl;
        self
    }

    /// Sets the clock leases are computed with (tests move it instead of sleeping).
    ///
    /// ```
    /// use atlassian_rotation::rotate::RotateOptions;
    /// fn tomorrow() -> time::OffsetDateTime {
    ///     time::OffsetDateTime::now_utc() + time::Duration::days(1)
    /// }
    /// let options = RotateOptions::new("rot-1").clock(tomorrow);
    /// # let _ = options;
    /// ```
    pub fn clock(mut self, clock: fn() -> time::OffsetDateTime) -> Self {
        self.clock = clock;
        self
    }

    /// After a minting regenerate was interrupted or went unanswered (the journal says
    /// [`Step::Started`]), mint again. Do so once you know the first attempt's credential is
    /// lost or unused: for a tunnel, the old key is invalid either way, so minting again is how
    /// the tunnel comes back.
    pub fn remint_after_unknown(mut self, remint: bool) -> Self {
        self.remint_after_unknown = remint;
        self
    }

    /// Sets the audit metadata.
    pub fn audit(mut self, audit: Audit) -> Self {
        self.audit = audit;
        self
    }
}

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

struct Run<'a> {
    journal: &'a dyn Journal,
    report: RotationReport,
    holder: String,
    lease_ttl: Duration,
    clock: fn() -> time::OffsetDateTime,
    /// The last entry this run wrote, as the journal holds it (for releasing the lease).
    last: Option<JournalEntry>,
}

impl Run<'_> {
    fn record(&mut self, step: &'static str, started: Instant, error: Option<&Error>) {
        self.report.steps.push(StepReport {
            step,
            status: if error.is_some() {
                StepStatus::Failed
            } else {
                StepStatus::Done
            },
            duration_ms: started.elapsed().as_millis() as u64,
            error: error.map(ToString::to_string),
        });
    }

    fn fail<C>(&mut self, error: Error, unjournaled: Option<C>) -> RotationError<C> {
        self.report.ended_at = now_rfc3339();
        tracing::warn!(rotation_id = %self.report.rotation_id, error = %error, "rotation failed");
        RotationError {
            error,
            report: self.report.clone(),
            unjournaled,
        }
    }

    /// Awaits one step's outcome, applies it to the entry, advances and journals it.
    async fn step<T>(
        &mut self,
        entry: &mut JournalEntry,
        name: &'static str,
        to: Step,
        outcome: impl Future<Output = Result<T, Error>>,
        apply: impl FnOnce(&mut JournalEntry, T),
    ) -> Result<(), Error> {
        let started = Instant::now();
        let result = match outcome.await {
            Ok(value) => {
                apply(entry, value);
                entry.advance(to);
                self.save(entry).await
            }
            Err(e) => Err(e),
        };
        self.record(name, started, result.as_ref().err());
        result
    }

    /// The first write of a run: creates the entry when the journal held none (`fresh`) and
    /// returns whether it did (`false`: another run created it meanwhile); replaces it
    /// otherwise.
    async fn first_write(
        &mut self,
        entry: &mut JournalEntry,
        previous: Option<u64>,
    ) -> Result<bool, Error> {
        if let Some(version) = previous {
            entry.version = version;
            self.stamp(entry);
            self.journal.store(entry).await?;
        } else {
            entry.version = 0;
            self.stamp(entry);
            if !self.journal.create(entry).await? {
                return Ok(false);
            }
        }
        entry.version += 1;
        self.last = Some(entry.clone());
        if entry.step >= Step::Regenerated {
            self.saved(entry);
        }
        Ok(true)
    }

    /// Stores `entry` (compare-and-set on its version), renewing this run's lease.
    async fn save(&mut self, entry: &mut JournalEntry) -> Result<(), Error> {
        self.stamp(entry);
        self.journal.store(entry).await?;
        entry.version += 1;
        self.last = Some(entry.clone());
        self.saved(entry);
        Ok(())
    }

    /// Marks `entry` as held by this run until now + the lease TTL; a finished entry is held
    /// by no one.
    fn stamp(&self, entry: &mut JournalEntry) {
        if entry.step == Step::Finished {
            entry.holder = None;
            entry.lease_until = None;
        } else {
            entry.holder = Some(self.holder.clone());
            entry.lease_until = Some(rfc3339((self.clock)() + self.lease_ttl));
        }
    }

    /// Gives the lease back (best effort: a run that cannot write leaves it to expire).
    async fn release(&mut self) {
        let Some(mut entry) = self.last.take() else {
            return;
        };
        if entry.holder.as_deref() != Some(self.holder.as_str()) {
            return;
        }
        entry.holder = None;
        entry.lease_until = None;
        if let Err(e) = self.journal.store(&entry).await {
            tracing::debug!(error = %e, "the rotation's lease was not released; it will expire");
        }
    }

    /// Reports `entry` as the last journaled state.
    fn saved(&mut self, entry: &JournalEntry) {
        self.report.completed = Some(entry.step);
        self.report.updated = entry.updated.clone();
        self.report.verified = entry.verified.clone();
        self.report.finished = entry.finished.clone();
    }
}

/// Drives `rotator` through regenerate, update, verify and finish, journaling after each step.
///
/// - A new rotation id regenerates, and stores the credential in `journal` before `update` runs.
///   If the journal cannot store it, the run stops and returns it in
///   [`RotationError::unjournaled`].
/// - A rotation id found in the journal resumes at the first step not completed, with the
///   journaled credential: `regenerate` never runs twice for one id.
/// - The first write of a new rotation id goes through [`Journal::create`]: of two runs started
///   with the same new id at the same moment (with a journal whose `create` is exclusive, as
///   both of this crate's are), one goes on and the other stops without journaling anything.
/// - `finish` (revoking the old credential) runs only after `verify` passed.
/// - A failed run leaves the journal at the last completed step: run again to resume. Dropping
///   the future at any point is the same as a failure.
///
/// See the [module docs](crate::rotate) for an example.
pub async fn rotate<R>(
    rotator: &R,
    journal: &dyn Journal,
    options: RotateOptions,
) -> Result<RotationReport, RotationError<R::Credential>>
where
    R: Rotator + ?Sized,
{
    let RotateOptions {
        rotation_id,
        audit,
        remint_after_unknown,
        holder,
        lease_ttl,
        clock,
    } = options;
    let kind = rotator.kind();
    let now = now_rfc3339();
    let mut run = Run {
        journal,
        holder,
        lease_ttl,
        clock,
        last: None,
        report: RotationReport {
            rotation_id: rotation_id.clone(),
            kind: kind.to_owned(),
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
        },
    };
    let result = drive(rotator, &mut run, &rotation_id, remint_after_unknown).await;
    run.release().await;
    result
}

async fn drive<R>(
    rotator: &R,
    run: &mut Run<'_>,
    rotation_id: &str,
    remint_after_unknown: bool,
) -> Result<RotationReport, RotationError<R::Credential>>
where
    R: Rotator + ?Sized,
{
    let journal = run.journal;
    let kind = rotator.kind();
    if let Err(e) = check_rotation_id(rotation_id) {
        return Err(run.fail(e, None));
    }
    // The lease first: a rotation another runner is working on is left alone.
    let now = (run.clock)();
    if let Err(e) = journal
        .acquire(rotation_id, &run.holder, now, run.lease_ttl)
        .await
    {
        return Err(run.fail(e, None));
    }
    let loaded = match journal.load(rotation_id).await {
        Ok(entry) => entry,
        Err(e) => return Err(run.fail(e, None)),
    };
    // The entry appeared (another runner created it) after the lease was taken on nothing.
    if let Some(entry) = loaded
        .as_ref()
        .filter(|e| e.lease_held_by_other(&run.holder, now))
    {
        let e = Error::LeaseHeld {
            rotation_id: rotation_id.to_owned(),
            holder: entry.holder.clone().unwrap_or_default(),
            until: entry.lease_until.clone().unwrap_or_default(),
        };
        return Err(run.fail(e, None));
    }
    if let Some(entry) = loaded.as_ref().filter(|e| e.step == Step::Abandoned) {
        let e = Error::rotation(
            "resume",
            format!(
                "rotation `{rotation_id}` was abandoned ({}): it is never resumed; use a new \
                 rotation id, or forget this one first",
                entry
                    .abandoned_reason
                    .as_deref()
                    .unwrap_or("no reason given")
            ),
        );
        return Err(run.fail(e, None));
    }
    if loaded.as_ref().is_some_and(|e| e.holder.is_some()) {
        // acquire wrote our lease into it.
        run.last.clone_from(&loaded);
    }
    let loaded_version = loaded.as_ref().map(|e| e.version);
    let target = rotator.target();
    let old_fingerprint = rotator.old_fingerprint();
    if let Some(entry) = &loaded {
        if let Err(e) =
            check_same_rotation(rotator, entry, &target, old_fingerprint.as_deref()).await
        {
            return Err(run.fail(e, None));
        }
    }
    let journal_state = loaded.as_ref().map(|e| e.step);
    let resumable = loaded.filter(|e| e.step >= Step::Regenerated || e.step == Step::Started);
    let (mut entry, credential) = match resumable {
        Some(entry) if entry.step == Step::Started => {
            if rotator.regenerate_mints() && !remint_after_unknown {
                let e = Error::rotation(
                    "resume",
                    format!(
                        "a regenerate of this rotation started at {} and its outcome is unknown: \
                         the source may hold a credential that was never journaled. Reconcile, then \
                         run again with RotateOptions::remint_after_unknown(true)",
                        entry.created_at
                    ),
                );
                return Err(run.fail(e, None));
            }
            regenerate(rotator, run, rotation_id, kind, &target, loaded_version).await?
        }
        Some(mut entry) => {
            tracing::info!(rotation_id = %rotation_id, step = %entry.step, "resuming from journal");
            run.report.resumed_from = Some(entry.step);
            run.report.credential_fingerprint = Some(entry.fingerprint.clone());
            run.report.completed = Some(entry.step);
            run.report.updated = entry.updated.clone();
            run.report.verified = entry.verified.clone();
            run.report.finished = entry.finished.clone();
            let credential = entry.credential::<R::Credential>();
            if credential.is_none() && entry.step < Step::Finished {
                let e = Error::rotation(
                    "resume",
                    "the journal entry holds no credential; it cannot be resumed",
                );
                return Err(run.fail(e, None));
            }
            // A verification is evidence about the moment it ran: the finish step (revoking the
            // old credential) only follows a verify of the same run, so a resumed finish
            // verifies again first.
            if entry.step == Step::Verified {
                entry.step = Step::Updated;
                entry.verified = None;
            }
            for step in ["regenerate", "update", "verify", "finish"]
                .into_iter()
                .zip([
                    Step::Regenerated,
                    Step::Updated,
                    Step::Verified,
                    Step::Finished,
                ])
                .filter(|(_, s)| *s <= entry.step)
                .map(|(name, _)| name)
            {
                run.report.steps.push(StepReport {
                    step,
                    status: StepStatus::AlreadyDone,
                    duration_ms: 0,
                    error: None,
                });
            }
            (entry, credential)
        }
        // A new rotation, or one whose regenerate certainly minted nothing: the first write
        // creates the entry only if no other run did meanwhile.
        None => {
            let previous = journal_state.and(loaded_version);
            regenerate(rotator, run, rotation_id, kind, &target, previous).await?
        }
    };

    if let Some(credential) = credential {
        if entry.step < Step::Updated {
            let result = rotator.update(&credential);
            let step = run.step(&mut entry, "update", Step::Updated, result, |e, u| {
                e.updated = Some(u);
            });
            if let Err(e) = step.await {
                return Err(run.fail(e, None));
            }
        }
        if entry.step < Step::Verified {
            let updated = entry.updated.clone().unwrap_or_default();
            let result = rotator.verify(&credential, &updated);
            let step = run.step(&mut entry, "verify", Step::Verified, result, |e, v| {
                e.verified = Some(v);
            });
            if let Err(e) = step.await {
                // What verify found (a place holding the old credential again, a place that
                // lost the new one) is for update to mend: the next run updates again (it is
                // idempotent), then verifies, instead of failing the same verify forever.
                if entry.step == Step::Updated {
                    entry.verified = None;
                    entry.advance(Step::Regenerated);
                    if let Err(store) = run.save(&mut entry).await {
                        tracing::warn!(error = %store, "could not journal the step back to update");
                    }
                }
                return Err(run.fail(e, None));
            }
        }
        if entry.step < Step::Finished {
            let updated = entry.updated.clone().unwrap_or_default();
            let result = rotator.finish(&credential, &updated);
            let step = run.step(&mut entry, "finish", Step::Finished, result, |e, f| {
                e.finished = Some(f);
            });
            if let Err(e) = step.await {
                return Err(run.fail(e, None));
            }
        }
    }
    run.report.ended_at = now_rfc3339();
    tracing::info!(rotation_id = %rotation_id, "rotation complete");
    Ok(run.report.clone())
}

/// Mints the credential, journaling the attempt first when regenerate mints. `previous`: the
/// version of the entry the journal held for this rotation id; `None`, the first write must
/// create it (and fails if another run did so meanwhile).
async fn regenerate<R>(
    rotator: &R,
    run: &mut Run<'_>,
    rotation_id: &str,
    kind: &str,
    target: &str,
    previous: Option<u64>,
) -> Result<(JournalEntry, Option<R::Credential>), RotationError<R::Credential>>
where
    R: Rotator + ?Sized,
{
    let started = Instant::now();
    let mints = rotator.regenerate_mints();
    let mut intent = JournalEntry::started(rotation_id, kind, target);
    intent.old_fingerprint = rotator.old_fingerprint();
    if mints {
        let written = match run.first_write(&mut intent, previous).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(Error::rotation(
                "regenerate",
                format!(
                    "another run started rotation `{rotation_id}` at the same time; this one \
                     stopped before regenerating. Run again to resume that rotation"
                ),
            )),
            Err(e) => Err(e),
        };
        if let Err(e) = written {
            run.record("regenerate", started, Some(&e));
            return Err(run.fail(e, None));
        }
    }
    let credential = match rotator.regenerate().await {
        Ok(c) => c,
        Err(e) => {
            if mints && !e.may_have_been_applied() {
                // Certainly nothing minted: the next run may simply start again.
                intent.advance(Step::NotMinted);
                let _ = run.save(&mut intent).await;
            }
            run.record("regenerate", started, Some(&e));
            return Err(run.fail(e, None));
        }
    };
    let mut entry = JournalEntry::regenerated(rotation_id, kind, &credential);
    entry.target = target.to_owned();
    entry.old_fingerprint = intent.old_fingerprint.clone();
    run.report.credential_fingerprint = Some(entry.fingerprint.clone());
    let saved = if mints {
        entry.version = intent.version;
        run.save(&mut entry).await
    } else {
        match run.first_write(&mut entry, previous).await {
            Ok(true) => Ok(()),
            Ok(false) => {
                // The other run's credential is the rotation's: this one is not used, and (not
                // minted) not lost either.
                run.report.credential_fingerprint = None;
                let e = Error::rotation(
                    "regenerate",
                    format!(
                        "another run journaled rotation `{rotation_id}` first; this run's new \
                         credential was not used. Run again to resume that rotation"
                    ),
                );
                run.record("regenerate", started, Some(&e));
                return Err(run.fail(e, None));
            }
            Err(e) => Err(e),
        }
    };
    if let Err(e) = saved {
        run.record("regenerate", started, Some(&e));
        return Err(run.fail(e, Some(credential)));
    }
    run.record("regenerate", started, None);
    tracing::info!(fingerprint = %entry.fingerprint, "new credential journaled");
    Ok((entry, Some(credential)))
}

/// Refuses to resume `entry` with a rotator of another kind or target, replacing another old
/// credential, or (for a handed-over credential) offering another new one.
async fn check_same_rotation<R>(
    rotator: &R,
    entry: &JournalEntry,
    target: &str,
    old_fingerprint: Option<&str>,
) -> Result<(), Error>
where
    R: Rotator + ?Sized,
{
    let mismatch = |what: &'static str, journaled: &str, given: &str| Error::RotationMismatch {
        rotation_id: entry.rotation_id.clone(),
        what,
        journaled: journaled.to_owned(),
        given: given.to_owned(),
    };
    if entry.kind != rotator.kind() {
        return Err(mismatch("kind", &entry.kind, rotator.kind()));
    }
    if entry.target != target {
        return Err(mismatch("target", &entry.target, target));
    }
    match (entry.old_fingerprint.as_deref(), old_fingerprint) {
        (Some(journaled), Some(given)) if journaled != given => {
            return Err(mismatch("old credential", journaled, given));
        }
        (Some(journaled), None) => return Err(mismatch("old credential", journaled, "unknown")),
        _ => {}
    }
    if entry.step == Step::Finished && old_fingerprint.is_none() {
        return Err(Error::RotationFinished {
            rotation_id: entry.rotation_id.clone(),
            finished_at: entry.updated_at.clone(),
        });
    }
    let minted = entry.step >= Step::Regenerated && !entry.fingerprint.is_empty();
    if minted && !rotator.regenerate_mints() {
        // A source that cannot answer hands over nothing, so nothing different is ignored:
        // the journaled credential is the rotation's.
        let offered = match rotator.offered_fingerprint().await {
            Ok(offered) => offered,
            Err(e) => {
                tracing::warn!(
                    rotation_id = %entry.rotation_id,
                    error = %e,
                    "the new credential's source failed; resuming with the journaled credential"
                );
                None
            }
        };
        if let Some(offered) = offered {
            if offered != entry.fingerprint {
                return Err(mismatch("new credential", &entry.fingerprint, &offered));
            }
        }
    }
    Ok(())
}

/// The unfinished rotations in `journal` of `rotator`'s kind and target (and old credential,
/// when the rotator knows it), oldest first: what a rerun should resume rather than start
/// anew. An entry whose regenerate went unanswered ([`Step::Started`]) counts: its credential
/// may exist at the source.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> atlassian_rotation::Result<()> {
/// # use async_trait::async_trait;
/// # use atlassian_rotation::rotate::{Rotator, Updated, Verified};
/// # use atlassian_rotation::secret::ApiToken;
/// # struct Demo;
/// # #[async_trait]
/// # impl Rotator for Demo {
/// #     type Credential = ApiToken;
/// #     fn kind(&self) -> &'static str { "demo" }
/// #     async fn regenerate(&self) -> atlassian_rotation::Result<ApiToken> { Ok(ApiToken::new("n")) }
/// #     async fn update(&self, _: &ApiToken) -> atlassian_rotation::Result<Updated> { Ok(Updated::new(1, 1)) }
/// #     async fn verify(&self, _: &ApiToken, _: &Updated) -> atlassian_rotation::Result<Verified> { Ok(Verified::new()) }
/// # }
/// use atlassian_rotation::rotate::{self, MemoryJournal};
///
/// let journal = MemoryJournal::new();
/// assert!(rotate::unfinished(&journal, &Demo).await?.is_empty());
/// # Ok(()) }
/// ```
pub async fn unfinished<R>(journal: &dyn Journal, rotator: &R) -> crate::Result<Vec<JournalEntry>>
where
    R: Rotator + ?Sized,
{
    let target = rotator.target();
    let old = rotator.old_fingerprint();
    let mut entries: Vec<JournalEntry> = journal
        .list()
        .await?
        .into_iter()
        .filter(|e| e.is_unfinished() && e.kind == rotator.kind() && e.target == target)
        .filter(|e| old.is_none() || e.old_fingerprint.is_none() || e.old_fingerprint == old)
        .collect();
    entries.sort_by(|a, b| a.created_at.cmp(&b.created_at));
    Ok(entries)
}

/// The rotation id a rerun of "the same command" should use: the one unfinished rotation of
/// `rotator`'s kind and target in `journal` ([`unfinished`]), so that a rotation interrupted
/// yesterday is resumed today instead of minting again; or, when there is none, the next id of
/// the target's sequence, `<prefix>-<n>` with `n` one more than the rotations of this kind and
/// target the journal holds. The id is the same for two runs started together, so the
/// journal's create-only first write lets only one of them mint. Several unfinished
/// rotations for the same target are an [`Error::InvalidInput`] naming them: choose one.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> atlassian_rotation::Result<()> {
/// # use async_trait::async_trait;
/// # use atlassian_rotation::rotate::{Rotator, Updated, Verified};
/// # use atlassian_rotation::secret::ApiToken;
/// # struct Demo;
/// # #[async_trait]
/// # impl Rotator for Demo {
/// #     type Credential = ApiToken;
/// #     fn kind(&self) -> &'static str { "demo" }
/// #     async fn regenerate(&self) -> atlassian_rotation::Result<ApiToken> { Ok(ApiToken::new("n")) }
/// #     async fn update(&self, _: &ApiToken) -> atlassian_rotation::Result<Updated> { Ok(Updated::new(1, 1)) }
/// #     async fn verify(&self, _: &ApiToken, _: &Updated) -> atlassian_rotation::Result<Verified> { Ok(Verified::new()) }
/// # }
/// use atlassian_rotation::rotate::{self, MemoryJournal};
///
/// let id = rotate::resume_or_new_id(&MemoryJournal::new(), &Demo, "demo").await?;
/// assert_eq!(id, "demo-1");
/// # Ok(()) }
/// ```
pub async fn resume_or_new_id<R>(
    journal: &dyn Journal,
    rotator: &R,
    prefix: &str,
) -> crate::Result<String>
where
    R: Rotator + ?Sized,
{
    let target = rotator.target();
    let all = journal.list().await?;
    let taken: std::collections::HashSet<&str> =
        all.iter().map(|e| e.rotation_id.as_str()).collect();
    let mine: Vec<&JournalEntry> = all
        .iter()
        .filter(|e| e.kind == rotator.kind() && e.target == target)
        .collect();
    let mut found = unfinished(journal, rotator).await?;
    match found.len() {
        0 => {
            // A regenerate that certainly minted nothing may simply run again under its id.
            if let Some(unminted) = mine.iter().find(|e| e.step == Step::NotMinted) {
                return Ok(unminted.rotation_id.clone());
            }
            let mut n = mine.len() + 1;
            while taken.contains(format!("{prefix}-{n}").as_str()) {
                n += 1;
            }
            let id = format!("{prefix}-{n}");
            check_rotation_id(&id)?;
            Ok(id)
        }
        1 => Ok(found.remove(0).rotation_id),
        _ => Err(Error::invalid_input(
            "rotation id",
            format!(
                "several unfinished rotations of this target are journaled ({}): name the one to \
                 resume",
                found
                    .iter()
                    .map(|e| format!("`{}` at {}", e.rotation_id, e.step))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )),
    }
}
