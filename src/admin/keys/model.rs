//! An Admin API key as the key list shows it (never its value).

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::admin::Timestamp;
use crate::admin::models::{expires_within, null_as_empty};

/// Who created (or revoked) a key: `{id, name, email, ...}`. Fields the API adds are kept in
/// `extra`; a bare string is read as the id.
///
/// ```
/// use atlassian_rotation::admin::KeyActor;
///
/// let actor: KeyActor = serde_json::from_str(r#"{"id":"acc-1","email":"admin@example.com","team":"sec"}"#).unwrap();
/// assert_eq!(actor.email.as_deref(), Some("admin@example.com"));
/// assert_eq!(actor.extra["team"], "sec");
/// let bare: KeyActor = serde_json::from_str(r#""acc-2""#).unwrap();
/// assert_eq!(bare.id.as_deref(), Some("acc-2"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct KeyActor {
    /// The account id.
    pub id: Option<String>,
    /// The display name.
    pub name: Option<String>,
    /// The email address.
    pub email: Option<String>,
    /// Every other field.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl<'de> Deserialize<'de> for KeyActor {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Object {
            #[serde(default)]
            id: Option<String>,
            #[serde(default)]
            name: Option<String>,
            #[serde(default)]
            email: Option<String>,
            #[serde(flatten)]
            extra: Map<String, Value>,
        }
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Wire {
            Id(String),
            Object(Object),
        }
        Ok(match Wire::deserialize(deserializer)? {
            Wire::Id(id) => Self {
                id: Some(id),
                ..Self::default()
            },
            Wire::Object(o) => Self {
                id: o.id,
                name: o.name,
                email: o.email,
                extra: o.extra,
            },
        })
    }
}

/// One Admin API key of an organization, as
/// [`AdminClient::admin_api_keys`](crate::AdminClient::admin_api_keys) lists it. Holds no
/// secret: the API never returns key values.
///
/// Atlassian publishes no schema for it: every field but `id` may be missing, and fields this
/// version does not know are kept in `extra` (and written back by `Serialize`).
///
/// ```
/// use std::time::Duration;
/// use atlassian_rotation::admin::AdminApiKeyInfo;
/// use time::macros::datetime;
///
/// let key: AdminApiKeyInfo = serde_json::from_str(r#"{
///     "id": "k-1", "label": "ci", "createdAt": "2026-01-01T00:00:00.000Z",
///     "expiresAt": "2026-12-01T00:00:00.000Z", "lastActiveAt": null,
///     "scopes": ["read:keys:admin"], "createdBy": {"id": "acc-1", "name": "Ops"},
///     "revokedBy": null, "revocationDate": null, "targetResources": ["org"]
/// }"#).unwrap();
/// assert!(!key.is_revoked());
/// assert_eq!(key.extra["targetResources"][0], "org");
/// let now = datetime!(2026-11-15 00:00 UTC);
/// assert!(key.expires_within(Duration::from_secs(30 * 86_400), now));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct AdminApiKeyInfo {
    /// The key id (what [`AdminClient::revoke_admin_api_key`](crate::AdminClient::revoke_admin_api_key) takes).
    pub id: String,
    /// The name given to the key when it was created.
    #[serde(default)]
    pub label: Option<String>,
    /// When it was created.
    #[serde(default)]
    pub created_at: Option<Timestamp>,
    /// When it last authenticated a request.
    #[serde(default)]
    pub last_active_at: Option<Timestamp>,
    /// When it expires (at most a year after creation).
    #[serde(default)]
    pub expires_at: Option<Timestamp>,
    /// The resource it was created for.
    #[serde(default)]
    pub resource: Option<String>,
    /// The organization.
    #[serde(default)]
    pub org_id: Option<String>,
    /// Who created it.
    #[serde(default)]
    pub created_by: Option<KeyActor>,
    /// Its scopes; empty for a key without scopes (which is not limited by scopes).
    #[serde(default, deserialize_with = "null_as_empty")]
    pub scopes: Vec<String>,
    /// Who revoked it, once revoked.
    #[serde(default)]
    pub revoked_by: Option<KeyActor>,
    /// When it was revoked, once revoked.
    #[serde(default)]
    pub revocation_date: Option<Timestamp>,
    /// Every other field (`systemAccountId`, `targetResources`, ...).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl AdminApiKeyInfo {
    /// Whether the list shows the key revoked (a revocation date or a revoker).
    pub fn is_revoked(&self) -> bool {
        self.revocation_date.is_some() || self.revoked_by.is_some()
    }

    /// Whether the key has expired or expires within `window` of `now`. A key without a
    /// readable expiry counts as not expiring.
    pub fn expires_within(&self, window: Duration, now: OffsetDateTime) -> bool {
        expires_within(self.expires_at.as_ref(), window, now)
    }

    /// The scopes of `old` this key does not have, in `old`'s order: what a replacement for
    /// `old` would lose. A key without scopes is not limited by scopes, so it lacks none; a
    /// scoped key replacing one without scopes lacks everything it does not list, which is
    /// told apart by [`replaces_unscoped_with_scoped`](Self::replaces_unscoped_with_scoped).
    ///
    /// ```
    /// use atlassian_rotation::admin::AdminApiKeyInfo;
    ///
    /// let key = |scopes: &[&str]| -> AdminApiKeyInfo {
    ///     serde_json::from_value(serde_json::json!({"id": "k", "scopes": scopes})).unwrap()
    /// };
    /// let old = key(&["read:keys:admin", "delete:keys:admin"]);
    /// assert_eq!(key(&["read:keys:admin"]).scopes_missing_from(&old), ["delete:keys:admin"]);
    /// assert!(key(&[]).scopes_missing_from(&old).is_empty());
    /// ```
    pub fn scopes_missing_from(&self, old: &AdminApiKeyInfo) -> Vec<String> {
        if self.scopes.is_empty() {
            return Vec::new();
        }
        old.scopes
            .iter()
            .filter(|scope| !self.scopes.contains(scope))
            .cloned()
            .collect()
    }

    /// Whether this key, replacing `old`, would narrow a key without scopes (unlimited) to a
    /// scoped one.
    ///
    /// ```
    /// use atlassian_rotation::admin::AdminApiKeyInfo;
    ///
    /// let unscoped: AdminApiKeyInfo = serde_json::from_str(r#"{"id":"old"}"#).unwrap();
    /// let scoped: AdminApiKeyInfo = serde_json::from_str(r#"{"id":"new","scopes":["read:keys:admin"]}"#).unwrap();
    /// assert!(scoped.replaces_unscoped_with_scoped(&unscoped));
    /// assert!(!unscoped.replaces_unscoped_with_scoped(&scoped));
    /// ```
    pub fn replaces_unscoped_with_scoped(&self, old: &AdminApiKeyInfo) -> bool {
        old.scopes.is_empty() && !self.scopes.is_empty()
    }
}

impl crate::admin::page::Keyed for AdminApiKeyInfo {
    fn key(&self) -> &str {
        &self.id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sparse_key_reads_and_an_unknown_field_round_trips() {
        let key: AdminApiKeyInfo =
            serde_json::from_str(r#"{"id":"k","scopes":null,"futureField":{"a":1}}"#).unwrap();
        assert!(key.scopes.is_empty() && key.label.is_none() && !key.is_revoked());
        let back = serde_json::to_value(&key).unwrap();
        assert_eq!(back["futureField"]["a"], 1);
        let again: AdminApiKeyInfo = serde_json::from_value(back).unwrap();
        assert_eq!(again, key);
    }

    #[test]
    fn a_revoked_key_reads_with_its_revoker_in_either_shape() {
        let key: AdminApiKeyInfo = serde_json::from_str(
            r#"{"id":"k","revokedBy":"acc-9","revocationDate":"2026-03-01T00:00:00Z"}"#,
        )
        .unwrap();
        assert!(key.is_revoked());
        assert_eq!(key.revoked_by.unwrap().id.as_deref(), Some("acc-9"));
        let by_object: AdminApiKeyInfo =
            serde_json::from_str(r#"{"id":"k","revokedBy":{"id":"acc-9"}}"#).unwrap();
        assert!(by_object.is_revoked());
    }

    #[test]
    fn narrowing_an_unscoped_key_is_told_apart() {
        let key = |scopes: &[&str]| -> AdminApiKeyInfo {
            serde_json::from_value(serde_json::json!({"id": "k", "scopes": scopes})).unwrap()
        };
        assert!(key(&["a"]).replaces_unscoped_with_scoped(&key(&[])));
        assert!(!key(&[]).replaces_unscoped_with_scoped(&key(&["a"])));
        assert!(
            key(&["a", "b"])
                .scopes_missing_from(&key(&["b"]))
                .is_empty()
        );
    }
}
