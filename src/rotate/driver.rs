//! The rotation driver: regenerate, journal, update, verify, finish; resumable at every step.

use std::time::{Duration, Instant};

use super::journal::{
    JournalCredential, JournalEntry, Step, check_rotation_id, now_rfc3339, rfc3339,
};
use super::options::RotateOptions;
use super::report::{RotationError, RotationReport, STEP_NAMES, StepReport, StepStatus};
use super::{Journal, Rotator};
use crate::error::Error;

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
                entry.last_error = None;
                self.save(entry).await
            }
            Err(e) => {
                // Journaled, so that whoever resumes sees what stopped the run (a failing
                // consumer names itself); the step stays where it was.
                entry.last_error = Some(e.to_string());
                if let Err(store) = self.save(entry).await {
                    tracing::warn!(error = %store, "could not journal the step's error");
                }
                Err(e)
            }
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
        entry.version = entry.version.saturating_add(1);
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
        entry.version = entry.version.saturating_add(1);
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
            entry.lease_until = Some(rfc3339(super::journal::lease_end(
                (self.clock)(),
                self.lease_ttl,
            )));
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
    let mut run = Run {
        journal,
        holder,
        lease_ttl,
        clock,
        last: None,
        report: RotationReport::new(rotation_id.clone(), kind, audit),
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
            // The credential must be the one the entry names: a column restored from a backup,
            // or a value copied from another entry, is not resumed.
            if credential
                .as_ref()
                .is_some_and(|c| c.fingerprint() != entry.fingerprint)
            {
                let e = Error::rotation(
                    "resume",
                    format!(
                        "the journaled credential does not match the entry's fingerprint {}: the \
                         entry was altered; reconcile it by hand",
                        entry.fingerprint
                    ),
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
            for step in STEP_NAMES
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
                let copy = handed_back(&e, &credential);
                return Err(run.fail(e, copy));
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
                let copy = handed_back(&e, &credential);
                return Err(run.fail(e, copy));
            }
        }
        if entry.step < Step::Finished {
            let updated = entry.updated.clone().unwrap_or_default();
            let result = rotator.finish(&credential, &updated);
            let step = run.step(&mut entry, "finish", Step::Finished, result, |e, f| {
                e.finished = Some(f);
            });
            if let Err(e) = step.await {
                let copy = handed_back(&e, &credential);
                return Err(run.fail(e, copy));
            }
        }
    }
    if run.report.resumed_from == Some(Step::Finished) {
        if let Err(e) = rotator.already_finished(&entry.fingerprint).await {
            return Err(run.fail(e, None));
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

/// A copy of `credential` for the caller when a step's journal write failed (another runner or
/// an operator changed the entry, the journal is unreachable): the journal may no longer hold
/// it, and it may already be installed. `None` for any other failure: the journal holds it.
fn handed_back<C: JournalCredential>(error: &Error, credential: &C) -> Option<C> {
    matches!(
        error,
        Error::Journal { .. } | Error::JournalConflict { .. } | Error::LeaseHeld { .. }
    )
    .then(|| C::from_journal_value(credential.journal_value().to_owned()))
}
