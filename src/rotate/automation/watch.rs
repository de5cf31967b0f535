//! The watch for consumers nobody listed: before the old token is revoked, hold for a grace
//! period and see whether the org's token list says it was used after the update finished.

use std::time::Duration;

use super::{AutomationTokenRotator, OLD_TOKEN_ID};
use crate::admin::Timestamp;
use crate::error::{Error, Result};
use crate::rotate::Updated;
use crate::rotate::evidence::Listed;
use crate::secret::ApiToken;

/// The fact under which the update step journals the old token's last use, read from the
/// org's token list once the update finished (`never`: no use listed).
pub(super) const OLD_TOKEN_LAST_ACTIVE: &str = "old_token_last_active";

const NEVER: &str = "never";

/// Where and how long to watch.
#[derive(Debug, Clone)]
pub(super) struct Watch {
    pub(super) org_id: String,
    pub(super) grace: Duration,
}

impl AutomationTokenRotator {
    /// Before revoking the old token, hold for `grace` and read its last use from the token
    /// list of organization `org_id` (`lastActiveAt`, Admin API). The grace comes first in
    /// verify, so the rules and consumers are observed after it, right before the revocation
    /// (a place that went back to the old token meanwhile is seen). If the last use moved
    /// after the update step finished, something the rotation does not know (a script, a CI
    /// secret, a server's config) still uses the old token. Verify then fails with
    /// [`Error::StillInUse`], saying when it was last used, and nothing is revoked; the
    /// rotation stays resumable: the next run updates again (it is idempotent), reads the last
    /// use anew and watches again.
    ///
    /// The rotation's own requests never count: with a watch, the update switches the
    /// Automation client to the new token before it reads any rule when that client used the
    /// old one, and verify and the watch use only the new token and the Admin API key. Takes
    /// effect with [`revoke_with`](Self::revoke_with) (nothing is watched when nothing is
    /// revoked); the Admin client given there must be able to list the org's tokens. Pick a
    /// grace longer than the interval of the slowest job you expect to use the token. An old
    /// token revoked meanwhile (by hand, gone from the org's and the account's lists) leaves
    /// nothing to watch: the rotation goes on to finish, which confirms the revocation.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use atlassian_rotation::AdminClient;
    /// # use atlassian_rotation::AutomationClient;
    /// # use atlassian_rotation::rotate::{AutomationTokenRotator, OldToken};
    /// # use atlassian_rotation::secret::{AdminApiKey, ApiCredentials, ApiToken};
    /// # let creds = ApiCredentials::new("svc@example.com", ApiToken::new("old"));
    /// # let automation = AutomationClient::builder(creds.clone()).base_url("https://example.com/a").build()?;
    /// # let admin = AdminClient::builder(AdminApiKey::new("key")).build()?;
    /// let rotator = AutomationTokenRotator::new(automation, "https://example.atlassian.net", creds, ApiToken::new("new"))?
    ///     .revoke_with(admin, "account-id", OldToken::Label("automation".into()))
    ///     .watch_old_token("org-id", Duration::from_secs(15 * 60));
    /// # let _ = rotator;
    /// # Ok::<(), atlassian_rotation::Error>(())
    /// ```
    pub fn watch_old_token(mut self, org_id: impl Into<String>, grace: Duration) -> Self {
        self.watch = Some(Watch {
            org_id: org_id.into(),
            grace,
        });
        self
    }

    /// Whether a watch applies (a watch and a revocation both configured).
    pub(super) fn watching(&self) -> Option<&Watch> {
        self.revocation.as_ref().and(self.watch.as_ref())
    }

    /// The old token's last use as the org's token list has it now, as journaled; `None` when
    /// it is revoked already (gone from the org's list and from its account's), so that no use
    /// is left to watch for.
    async fn last_use(&self, watch: &Watch, id: &str) -> Result<Option<String>> {
        let revocation = self
            .revocation
            .as_ref()
            .expect("watching implies a revocation");
        match revocation.last_active(&watch.org_id, id).await? {
            Some(Some(at)) => Ok(Some(at.as_str().to_owned())),
            Some(None) => Ok(Some(NEVER.to_owned())),
            // Revoked meanwhile (by hand, or by a run whose answer was lost): finish finds out.
            None if matches!(revocation.listed(id).await, Listed::Gone) => Ok(None),
            None => Err(Error::rotation(
                "watch",
                format!(
                    "token {id} is not in the token list of organization {}: its use cannot be \
                     watched (check the org id)",
                    watch.org_id
                ),
            )),
        }
    }

    /// Before the rules are read: the old token `id` must be in the org's list (or the watch
    /// could never see a use, and it is better said before anything is written), and a client
    /// on the old token moves to the new one (which must authenticate first), so that the
    /// rotation's own requests never count as a use.
    pub(super) async fn watch_prepare(&self, new: &ApiToken, id: Option<&str>) -> Result<()> {
        let (Some(watch), Some(id)) = (self.watching(), id) else {
            return Ok(());
        };
        self.last_use(watch, id).await?;
        self.jira(&self.new_credentials(new))?.myself().await?;
        self.follow_rotation(new);
        Ok(())
    }

    /// Once the update finished: journals the old token's last use.
    pub(super) async fn watch_baseline(&self, updated: Updated) -> Result<Updated> {
        let Some(watch) = self.watching() else {
            return Ok(updated);
        };
        let Some(id) = updated.fact_value(OLD_TOKEN_ID).map(str::to_owned) else {
            return Ok(updated);
        };
        Ok(match self.last_use(watch, &id).await? {
            Some(seen) => updated.fact(OLD_TOKEN_LAST_ACTIVE, seen),
            None => updated,
        })
    }

    /// At the start of verify: holds for the grace period. Everything verify checks (rules,
    /// consumers) is then observed after the grace, right before the revocation, so that a
    /// place that went back to the old token meanwhile is seen. Returns the baseline for
    /// [`watch_check`](Self::watch_check): the journaled last use, or the one read now (a run
    /// without the watch journaled none: the watch starts now).
    pub(super) async fn watch_hold(&self, updated: &Updated) -> Result<Held> {
        let (Some(watch), Some(id)) = (self.watching(), updated.fact_value(OLD_TOKEN_ID)) else {
            return Ok(Held::Nothing);
        };
        let baseline = match updated.fact_value(OLD_TOKEN_LAST_ACTIVE) {
            Some(seen) => seen.to_owned(),
            None => match self.last_use(watch, id).await? {
                Some(seen) => seen,
                None => return Ok(Held::Revoked),
            },
        };
        tokio::time::sleep(watch.grace).await;
        Ok(Held::Since(baseline))
    }

    /// Right before a revocation (the end of verify, after [`watch_hold`](Self::watch_hold)):
    /// fails with [`Error::StillInUse`] when the old token was used after the update finished.
    pub(super) async fn watch_check(
        &self,
        updated: &Updated,
        held: Held,
    ) -> Result<Option<String>> {
        let revoked = || {
            Ok(Some(
                "the old token is revoked already: no use to watch for".to_owned(),
            ))
        };
        let baseline = match held {
            Held::Nothing => return Ok(None),
            Held::Revoked => return revoked(),
            Held::Since(baseline) => baseline,
        };
        let (Some(watch), Some(id)) = (self.watching(), updated.fact_value(OLD_TOKEN_ID)) else {
            return Ok(None);
        };
        let Some(now) = self.last_use(watch, id).await? else {
            return revoked();
        };
        if moved(&baseline, &now) {
            return Err(Error::StillInUse {
                credential: format!("token {id}"),
                last_used: now,
                baseline,
            });
        }
        Ok(Some(format!(
            "the old token was not used for {:?} after the update (last use: {now})",
            watch.grace
        )))
    }
}

/// What [`AutomationTokenRotator::watch_hold`] left for the check at the end of verify.
pub(super) enum Held {
    /// No watch applies.
    Nothing,
    /// The old token is revoked already: no use to watch for.
    Revoked,
    /// Held for the grace period; the old token's last use as of the update (the baseline).
    Since(String),
}

/// Whether a last use `now` is later than `baseline`. An unreadable time that differs counts as
/// moved: the watch refuses rather than guesses (the next run takes a new baseline).
fn moved(baseline: &str, now: &str) -> bool {
    if now == baseline || now == NEVER {
        return false;
    }
    if baseline == NEVER {
        return true;
    }
    match (
        Timestamp::new(baseline).parse(),
        Timestamp::new(now).parse(),
    ) {
        (Some(before), Some(after)) => after > before,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::moved;

    #[test]
    fn only_a_later_use_counts() {
        let t1 = "2026-12-01T10:00:00.000Z";
        let t2 = "2026-12-01T10:00:00.001Z";
        assert!(moved(t1, t2));
        assert!(
            !moved(t2, t1),
            "an older answer (a stale replica) is not a use"
        );
        assert!(!moved(t1, t1));
        assert!(moved("never", t1));
        assert!(!moved(t1, "never"));
        assert!(moved(t1, "garbage"));
        assert!(
            !moved("2026-12-01T11:00:00+01:00", t1),
            "same instant, other offset"
        );
    }
}
