//! Revoking the old Admin API key, and concluding "revoked" only from evidence.

use super::AdminKeyRotator;
use crate::error::{Error, Result};
use crate::rotate::Finished;
use crate::rotate::evidence::{Listed, Subject, prove_revoked};
use crate::secret::AdminApiKey;

impl AdminKeyRotator {
    /// What the org's key list, read now, says about key `id`: gone only from a list that
    /// holds other keys (the new key must be in it, so an empty list proves nothing).
    async fn listed(&self, id: &str) -> Listed {
        match super::inspect::list(&self.admin, &self.org_id).await {
            Ok(keys) => match keys.iter().find(|k| k.id == id) {
                Some(key) if key.is_revoked() => Listed::Revoked(
                    key.revocation_date
                        .as_ref()
                        .map(|at| at.as_str().to_owned()),
                ),
                Some(_) => Listed::Live,
                None if keys.is_empty() => {
                    Listed::Unknown("the key list came back empty".to_owned())
                }
                None => Listed::Gone,
            },
            Err(e) => Listed::Unknown(format!("the key list could not be read ({e})")),
        }
    }

    /// Revokes the old key `id` (decided before anything changed) and concludes "revoked"
    /// only from evidence. The PATCH is always sent (a key already revoked answers 404): a list
    /// read alone may be stale. Then the evidence rules of [`prove_revoked`] decide, with
    /// `GET /admin/v1/orgs/{orgId}` as the old key's check and the org's key list (which shows
    /// revoked keys with their revocation date) as its list. A 403, a timeout or any other
    /// answer is not evidence. The new key must still authenticate after the PATCH.
    pub(super) async fn revoke(&self, id: &str, new: &AdminApiKey) -> Result<Finished> {
        let revoked_now = match self.admin.revoke_admin_api_key(&self.org_id, id).await {
            Ok(()) => true,
            // Revoked already (by an earlier run whose answer was lost, or by hand): the
            // evidence decides.
            Err(e) if e.is_not_found() => false,
            Err(e) => return Err(e),
        };
        let described = if revoked_now {
            format!("revoked Admin API key {id}")
        } else {
            format!("Admin API key {id} was already revoked")
        };
        if let Err(e) = self.admin.with_key(new)?.check_key(&self.org_id).await {
            return Err(Error::rotation(
                "finish",
                format!(
                    "{described}, and now the NEW key fails ({e}): the wrong key may have been \
                     revoked"
                ),
            ));
        }
        let with_old = self.admin.with_key(&self.old)?;
        let subject = Subject {
            credential: "key",
            list: "the key list",
        };
        let listed = || self.listed(id);
        let old = || async { with_old.check_key(&self.org_id).await.err() };
        prove_revoked(subject, &described, revoked_now, listed, old).await
    }
}
