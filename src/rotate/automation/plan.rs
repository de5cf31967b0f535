//! The dry run, the pre-flight that decides before anything changes whether the old token can
//! be revoked, and rollback.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::reader::{Inspection, RuleSummaryRef};
use super::write::{FRESH_READ, MAX_COMPARES};
use super::{AutomationTokenRotator, Phase, Progress, Visited, for_each_rule, no_writes};
use crate::automation::Finding;
use crate::automation::rewrite::{Rewrite, check_replacement};
use crate::error::{Error, Result};
use crate::secret::ApiToken;

/// The plan of a dry run: what an update would rewrite, redacted. Serializable.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Plan {
    /// Rules visited.
    pub scanned: usize,
    /// Rules that would be rewritten, with each change.
    pub rules: Vec<PlannedRule>,
    /// Places whose value cannot be read (masked values, stored-secret references).
    pub cannot_tell: Vec<Finding>,
    /// Places that would stop the old token from being revoked: every value the rotation
    /// cannot read or rewrite and that could be the old token, outside the rules accepted with
    /// [`AutomationTokenRotator::accept_unreadable_in`]. Empty when no revocation is
    /// configured or [`AutomationTokenRotator::accept_unreadable`] is set. A rotation with
    /// revocation refuses to start while this is not empty.
    pub blocks_revocation: Vec<Finding>,
}

/// One rule of a [`Plan`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PlannedRule {
    /// The rule's uuid.
    pub uuid: String,
    /// The rule's name.
    pub name: Option<String>,
    /// The changes, with redacted before and after values.
    pub rewrites: Vec<Rewrite>,
}

/// What a rollback did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Rollback {
    /// Rules restored to their original.
    pub restored: Vec<String>,
    /// Rules left alone because they changed after this rotation wrote them.
    pub modified_since: Vec<String>,
    /// Consumers put back to what they held before (see [`crate::consumer::Consumer::restore`]).
    #[serde(default)]
    pub consumers_restored: Vec<String>,
}

impl AutomationTokenRotator {
    /// A dry run: what update would rewrite with `new`, without writing anything, and what
    /// would block the revocation of the old token ([`Plan::blocks_revocation`]). Rule names,
    /// uuids and findings are redacted of both tokens in every form the scanner knows.
    pub async fn plan(&self, new: &ApiToken) -> Result<Plan> {
        check_replacement(self.old.token(), new)?;
        let reader = self.reader(new);
        let redactor = Arc::clone(&reader);
        let read = move |summary: RuleSummaryRef| {
            let reader = Arc::clone(&reader);
            async move { reader.inspect(&summary.uuid).await.map(Visited::Done) }
        };
        let mut progress = Progress::new(Phase::Plan);
        let revoking = self.revocation.is_some();
        let plan = for_each_rule(
            &self.automation,
            self.concurrency,
            read,
            no_writes,
            Ok(Plan::default()),
            |plan: &mut Result<Plan>, summary, result, concurrency| {
                progress.scanned += 1;
                progress.concurrency = concurrency;
                match (plan.as_mut(), result) {
                    (Ok(plan), Ok(inspection)) => {
                        plan.scanned += 1;
                        let accepted = self.accepted(&summary.uuid);
                        let Inspection {
                            rewrites,
                            cannot_tell,
                            unrewritable,
                        } = inspection.redacted(&redactor);
                        if revoking {
                            plan.blocks_revocation.extend(unrewritable.iter().cloned());
                            if !accepted {
                                plan.blocks_revocation.extend(cannot_tell.iter().cloned());
                            }
                        }
                        plan.cannot_tell.extend(cannot_tell);
                        if !rewrites.is_empty() {
                            progress.matched += 1;
                            plan.rules.push(PlannedRule {
                                uuid: redactor.redact(summary.uuid),
                                name: summary.name.map(|n| redactor.redact(n)),
                                rewrites,
                            });
                        }
                    }
                    (Ok(_), Err(e)) => *plan = Err(e),
                    (Err(_), _) => {}
                }
                self.report(progress);
            },
        )
        .await??;
        Ok(plan)
    }

    /// Before anything changes, with a revocation configured: the old token resolves to
    /// exactly one token of its account, and no place that could hold it is unreadable or
    /// unrewritable (unless accepted).
    pub(super) async fn preflight(&self, new: &ApiToken) -> Result<()> {
        let Some(revocation) = &self.revocation else {
            return Ok(());
        };
        revocation.resolve().await?;
        let plan = self.plan(new).await?;
        if !plan.blocks_revocation.is_empty() {
            return Err(Error::RevocationBlocked {
                step: "regenerate",
                places: plan.blocks_revocation,
            });
        }
        Ok(())
    }

    /// Restores the kept originals of the rules this rotator rewrote, skipping any rule changed
    /// since it was written. Refused once the old token no longer authenticates. Originals are
    /// kept in memory by this rotator instance, or in the directory given to
    /// [`keep_originals_in`](Self::keep_originals_in), where another process can roll back.
    /// Consumers that can ([`crate::consumer::Consumer::restore`]) get back what they held.
    pub async fn rollback(&self) -> Result<Rollback> {
        // Restored rules would hold the old token again: useless, and harmful, once it is revoked.
        if let Err(e) = self.jira(&self.old)?.myself().await {
            if e.is_auth_failure() {
                return Err(Error::rotation(
                    "rollback",
                    "the old token no longer authenticates (revoked or expired): restoring \
                     rules that use it would break them",
                ));
            }
            return Err(e);
        }
        let mut rollback = Rollback::default();
        let window = self.reread_older_than.max(FRESH_READ);
        for uuid in self.originals.uuids().await? {
            let Some(kept) = self.originals.get(&uuid).await? else {
                continue;
            };
            // As for the update's writes: no PUT attempt leaves more than the window
            // (`FRESH_READ`, or `reread_older_than` when longer) after the read it was compared
            // against (one that waited for the pace or a retry is not
            // sent; the rule is compared again), so an edit saved since is never overwritten.
            let mut restored = false;
            for round in 0..=MAX_COMPARES {
                let body = self.automation.read_rule_body(&uuid, false).await?;
                let read_at = body.sent();
                let current = body.document()?;
                if round > 0 && current == kept.original {
                    // An earlier attempt was applied after all.
                    restored = true;
                    break;
                }
                if current["rule"] != kept.written {
                    break;
                }
                if self
                    .automation
                    .update_rule_json_until(&uuid, &kept.original, read_at + window, true)
                    .await?
                {
                    restored = true;
                    break;
                }
                if round == MAX_COMPARES {
                    return Err(Error::rotation(
                        "rollback",
                        format!(
                            "rule {uuid} was not restored: each PUT waited for the rate limit \
                             past the window after its comparison; run rollback again (the \
                             original is kept)"
                        ),
                    ));
                }
            }
            if restored {
                self.originals.forget(&uuid).await?;
                rollback.restored.push(uuid);
            } else {
                rollback.modified_since.push(uuid);
            }
        }
        rollback.consumers_restored = self.consumers.restore().await?;
        Ok(rollback)
    }
}
