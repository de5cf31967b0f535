//! Finding the old and the new Admin API key in the org's key list, and deciding whether the
//! new one may replace the old one.

use futures::TryStreamExt as _;
use time::OffsetDateTime;

use super::{AdminKeyRotator, KeyRef};
use crate::AdminClient;
use crate::admin::{AdminApiKeyInfo, AdminKeyQuery};
use crate::error::{Error, ReplacementProblem, Result};
use crate::secret::AdminApiKey;

/// The old and the new key as the org's key list shows them.
pub(super) struct Listed {
    pub(super) old: AdminApiKeyInfo,
    pub(super) new: AdminApiKeyInfo,
}

fn refused(step: &'static str, problem: ReplacementProblem) -> Error {
    Error::ReplacementRefused {
        step,
        credential: "Admin API key",
        problem,
    }
}

fn not_listed(step: &'static str, reason: String) -> Error {
    refused(step, ReplacementProblem::NotListed { reason })
}

/// Every key of the organization, revoked ones included.
pub(super) async fn list(admin: &AdminClient, org_id: &str) -> Result<Vec<AdminApiKeyInfo>> {
    admin
        .admin_api_keys(org_id, AdminKeyQuery::new())
        .try_collect()
        .await
}

impl KeyRef {
    fn matches(&self, key: &AdminApiKeyInfo) -> bool {
        match self {
            KeyRef::Id(id) => key.id == *id,
            KeyRef::Label(label) => key.label.as_deref() == Some(label.as_str()),
        }
    }
}

/// The one key of `keys` that `wanted` names, leaving out `except` (the other key of the
/// pair, which may carry the same label).
fn the_one<'a>(
    step: &'static str,
    keys: &'a [AdminApiKeyInfo],
    wanted: &KeyRef,
    which: &str,
    except: Option<&str>,
) -> Result<&'a AdminApiKeyInfo> {
    let found: Vec<_> = keys
        .iter()
        .filter(|k| wanted.matches(k) && Some(k.id.as_str()) != except)
        .collect();
    match found.as_slice() {
        [one] => Ok(one),
        [] => Err(not_listed(
            step,
            format!(
                "no key with {wanted} is in the organization's key list (the {which} key must be)"
            ),
        )),
        many => Err(not_listed(
            step,
            format!(
                "{} keys of the organization match {wanted}; name the {which} key by its id",
                many.len()
            ),
        )),
    }
}

/// A new key told by activity must be newer than the key named as the old one. The replacement
/// was minted for this rotation, so an old key created after it is most likely the new key
/// itself (an id or label copied from the wrong line), and the key that moved is another one
/// busy just then: revoking the "old" key would revoke the new one.
fn told_apart(step: &'static str, old: &AdminApiKeyInfo, new: &AdminApiKeyInfo) -> Result<()> {
    let created = |k: &AdminApiKeyInfo| k.created_at.as_ref().and_then(|at| at.parse());
    match (created(old), created(new)) {
        (Some(old_at), Some(new_at)) if old_at > new_at => Err(not_listed(
            step,
            format!(
                "the key named as the old one ({}) was created after the key found active \
                 while the new key was used ({}): it is most likely the new key itself; check \
                 the old key's id or label, and name the new key with AdminKeyRotator::new_key",
                old.id, new.id
            ),
        )),
        _ => Ok(()),
    }
}

/// Last activity per key id.
fn activity(keys: &[AdminApiKeyInfo]) -> Vec<(&str, Option<&str>)> {
    keys.iter()
        .map(|k| (k.id.as_str(), k.last_active_at.as_ref().map(|t| t.as_str())))
        .collect()
}

impl AdminKeyRotator {
    /// Proves the new key authenticates for the organization, finds the old and the new key
    /// in the key list, and refuses a new key that is revoked, lacks a scope of the old one or
    /// expires within the minimum validity. Runs before anything changes.
    ///
    /// The new key is the one [`new_key`](AdminKeyRotator::new_key) names or, without it, the
    /// one key whose last activity moved while only the new key was used: the list is read
    /// with the new key before and after it authenticates.
    pub(super) async fn inspect(&self, step: &'static str, new: &AdminApiKey) -> Result<Listed> {
        if new == &self.old {
            return Err(refused(step, ReplacementProblem::SameAsOld));
        }
        let with_new = self.admin.with_key(new)?;
        let (keys, new_entry) = match &self.new_key {
            Some(named) => {
                self.accepted(step, &with_new).await?;
                let keys = self.list_with_own_client(&with_new).await?;
                let entry = the_one(step, &keys, named, "new", None)?.clone();
                (keys, entry)
            }
            None => {
                let before = self.list_with_new_key(step, &with_new).await?;
                self.accepted(step, &with_new).await?;
                let after = self.list_with_new_key(step, &with_new).await?;
                let entry = self.moved(step, &before, &after)?.clone();
                (after, entry)
            }
        };
        let old_entry = the_one(step, &keys, &self.old_key, "old", Some(&new_entry.id))?.clone();
        if self.new_key.is_none() {
            told_apart(step, &old_entry, &new_entry)?;
        }
        self.check_replacement(step, &old_entry, &new_entry)?;
        Ok(Listed {
            old: old_entry,
            new: new_entry,
        })
    }

    /// Proves the new key authenticates for the organization (`GET /admin/v1/orgs/{orgId}`).
    async fn accepted(&self, step: &'static str, with_new: &AdminClient) -> Result<()> {
        match with_new.check_key(&self.org_id).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_auth_failure() => Err(refused(
                step,
                ReplacementProblem::NotAccepted {
                    reason: format!("checked against the organization: {e}"),
                },
            )),
            Err(e) => Err(e),
        }
    }

    /// The key list, read with the rotator's own client; when that client uses the old key
    /// and the old key no longer works (it expired: the rotation is a recovery), with the new
    /// key, which is accepted by then.
    async fn list_with_own_client(&self, with_new: &AdminClient) -> Result<Vec<AdminApiKeyInfo>> {
        match list(&self.admin, &self.org_id).await {
            Err(e) if e.status() == Some(401) && self.admin.uses_key(&self.old) => {
                list(with_new, &self.org_id).await
            }
            other => other,
        }
    }

    async fn list_with_new_key(
        &self,
        step: &'static str,
        with_new: &AdminClient,
    ) -> Result<Vec<AdminApiKeyInfo>> {
        match list(with_new, &self.org_id).await {
            Err(e) if e.is_auth_failure() => Err(not_listed(
                step,
                format!(
                    "the new key cannot read the key list to show which listed key it is ({e}); \
                     name it with AdminKeyRotator::new_key"
                ),
            )),
            other => other,
        }
    }

    /// The one key, other than the old one when it is named by id, whose last activity moved
    /// between `before` and `after`.
    fn moved<'a>(
        &self,
        step: &'static str,
        before: &[AdminApiKeyInfo],
        after: &'a [AdminApiKeyInfo],
    ) -> Result<&'a AdminApiKeyInfo> {
        let earlier = activity(before);
        let moved: Vec<_> = after
            .iter()
            .filter(|k| !k.is_revoked())
            .filter(|k| !matches!(&self.old_key, KeyRef::Id(id) if *id == k.id))
            .filter(|k| {
                let now = k.last_active_at.as_ref().map(|t| t.as_str());
                now.is_some() && !earlier.contains(&(k.id.as_str(), now))
            })
            .collect();
        match moved.as_slice() {
            [one] => Ok(one),
            [] => Err(not_listed(
                step,
                "the key list shows no key active just when the new key was used, so which \
                 listed key it is cannot be told; name it with AdminKeyRotator::new_key"
                    .to_owned(),
            )),
            many => Err(not_listed(
                step,
                format!(
                    "{} keys were active just when the new key was used, so which listed key it \
                     is cannot be told; name it with AdminKeyRotator::new_key",
                    many.len()
                ),
            )),
        }
    }

    /// The new key must not be the old one's list entry, must not be revoked, must hold every
    /// scope of the old one, and must stay valid for the minimum validity.
    fn check_replacement(
        &self,
        step: &'static str,
        old: &AdminApiKeyInfo,
        new: &AdminApiKeyInfo,
    ) -> Result<()> {
        if old.id == new.id {
            return Err(not_listed(
                step,
                format!(
                    "the key named as the old one ({}) is the new key's list entry",
                    self.old_key
                ),
            ));
        }
        if new.is_revoked() {
            return Err(not_listed(
                step,
                format!("the key list shows the new key ({}) revoked", new.id),
            ));
        }
        if new.replaces_unscoped_with_scoped(old) {
            return Err(refused(
                step,
                ReplacementProblem::NarrowsUnscoped {
                    scopes: new.scopes.clone(),
                },
            ));
        }
        let missing = new.scopes_missing_from(old);
        if !missing.is_empty() {
            return Err(refused(step, ReplacementProblem::MissingScopes { missing }));
        }
        let Some(expires_at) = new.expires_at.as_ref() else {
            return Err(refused(step, ReplacementProblem::ExpiryUnknown));
        };
        match expires_at.is_within(self.min_validity, OffsetDateTime::now_utc()) {
            None => Err(refused(step, ReplacementProblem::ExpiryUnknown)),
            Some(true) => Err(refused(
                step,
                ReplacementProblem::ExpiresTooSoon {
                    expires_at: expires_at.as_str().to_owned(),
                    minimum: self.min_validity,
                },
            )),
            Some(false) => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: &str, active: Option<&str>) -> AdminApiKeyInfo {
        serde_json::from_value(serde_json::json!({"id": id, "lastActiveAt": active})).unwrap()
    }

    fn rotator() -> AdminKeyRotator {
        let admin = AdminClient::builder(AdminApiKey::new("a")).build().unwrap();
        let (old, new) = (AdminApiKey::new("old"), AdminApiKey::new("new"));
        AdminKeyRotator::new(admin, "org", old, KeyRef::Id("old".into()), new)
    }

    #[test]
    fn the_new_key_is_told_by_activity_only_when_exactly_one_other_key_moved() {
        let r = rotator();
        let before = [key("old", Some("t1")), key("a", None), key("b", Some("t1"))];
        // The old key moving (a consumer using it) is not taken for the new key.
        let after = [
            key("old", Some("t2")),
            key("a", Some("t2")),
            key("b", Some("t1")),
        ];
        assert_eq!(r.moved("regenerate", &before, &after).unwrap().id, "a");
        // A key listed only now, already active, moved too.
        let after = [
            key("old", Some("t1")),
            key("b", Some("t1")),
            key("c", Some("t2")),
        ];
        assert_eq!(r.moved("regenerate", &before, &after).unwrap().id, "c");
        let busy = [
            key("old", Some("t1")),
            key("a", Some("t2")),
            key("b", Some("t2")),
        ];
        let still = [key("old", Some("t1")), key("a", None), key("b", Some("t1"))];
        for (after, says) in [(&busy, "2 keys were active"), (&still, "no key active")] {
            match r.moved("regenerate", &before, after) {
                Err(Error::ReplacementRefused {
                    problem: ReplacementProblem::NotListed { reason },
                    ..
                }) => assert!(reason.contains(says), "{reason}"),
                other => panic!("{:?}", other.map(|k| k.id.clone())),
            }
        }
    }
}
