//! Revoking the old Admin API key, and concluding "revoked" only from evidence.

use std::time::Duration;

use super::AdminKeyRotator;
use crate::error::{Error, Result};
use crate::rotate::Finished;
use crate::secret::AdminApiKey;

/// What the org's key list says about one key.
enum Listed {
    /// Listed without a revocation.
    Live,
    /// Listed as revoked, with the date when given.
    Revoked(Option<String>),
    /// Not in a list that holds other keys.
    Gone,
    /// The list could not be read, or proves nothing (it is empty: the new key must be in it).
    Unknown(String),
}

impl AdminKeyRotator {
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
    /// read alone may be stale. Then, polled briefly:
    ///
    /// - the old key still authenticating (2xx on `GET /admin/v1/orgs/{orgId}`) means not
    ///   revoked, whatever the list says; a list showing the key live means not revoked,
    ///   whatever the check says;
    /// - revoked: the old key gets 401 and our PATCH answered 2xx, or the old key no longer
    ///   authenticates and the list shows it revoked (or no longer holds it).
    ///
    /// A 403, a timeout or any other answer is not evidence: the step fails and a rerun tries
    /// again. The new key must still authenticate after the PATCH.
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
        let mut last = String::from("no answer yet");
        for attempt in 0..5u32 {
            let listed = self.listed(id).await;
            let old_said = with_old.check_key(&self.org_id).await.err();
            let got_401 = old_said.as_ref().is_some_and(|e| e.status() == Some(401));
            let evidence = match (&old_said, &listed) {
                (None, _) | (Some(_), Listed::Live) => None,
                (Some(_), _) if got_401 && revoked_now => {
                    Some("the old key now gets 401".to_owned())
                }
                (Some(_), Listed::Revoked(at)) => Some(match at {
                    Some(at) => format!("the key list shows it revoked at {at}"),
                    None => "the key list shows it revoked".to_owned(),
                }),
                (Some(_), Listed::Gone) => Some("it is gone from the key list".to_owned()),
                (Some(_), Listed::Unknown(_)) => None,
            };
            if let Some(evidence) = evidence {
                return Ok(Finished::nothing().retired(format!("{described}; {evidence}")));
            }
            let list_said = match listed {
                Listed::Live => "the key list still shows it live".to_owned(),
                Listed::Revoked(_) => "the key list shows it revoked".to_owned(),
                Listed::Gone => "it is gone from the key list".to_owned(),
                Listed::Unknown(why) => why,
            };
            last = match old_said {
                None => format!("{list_said}; the old key still authenticates"),
                Some(e) => format!("{list_said}; the old key got {e}"),
            };
            tokio::time::sleep(Duration::from_millis(200u64 << attempt)).await;
        }
        Err(Error::rotation(
            "finish",
            format!("{described}, but revocation is not proven: {last}; run again to check"),
        ))
    }
}
