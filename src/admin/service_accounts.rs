//! The organization's service accounts and their API tokens (API Access API).

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;

use super::AdminClient;
use super::Timestamp;
use super::models::{expires_within, null_as_empty};
use super::page::{Keyed, ListPage};
use crate::error::{Error, Result};
use crate::transport::{Call, Paginated, Path, paginate};

/// A service account of an organization, as
/// [`AdminClient::service_accounts`] lists it. Fields the API adds are kept in `extra`.
///
/// ```
/// use atlassian_rotation::admin::ServiceAccount;
///
/// let account: ServiceAccount = serde_json::from_str(r#"{
///     "atlassianId": "712020:5d1b", "id": "sa-1", "email": "ci@serviceaccount.atlassian.com",
///     "displayName": "CI", "status": "ACTIVE", "createdAt": "2026-01-01T00:00:00Z"
/// }"#).unwrap();
/// assert_eq!(account.id, "sa-1");
/// assert_eq!(account.extra["createdAt"], "2026-01-01T00:00:00Z");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ServiceAccount {
    /// The service account id: what the token calls take.
    pub id: String,
    /// Its Atlassian account id.
    #[serde(default)]
    pub atlassian_id: Option<String>,
    /// Its email address (`...@serviceaccount.atlassian.com`).
    #[serde(default)]
    pub email: Option<String>,
    /// Its display name.
    #[serde(default)]
    pub display_name: Option<String>,
    /// Its status, as the API writes it.
    #[serde(default)]
    pub status: Option<String>,
    /// Every other field.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One API token of a service account, as
/// [`AdminClient::service_account_tokens`] lists it. Holds no secret. Service-account tokens
/// are always scoped. The expiry and last activity are read under either name the Admin APIs
/// use (`expiresAt` or `expiry`, `lastActiveAt` or `lastAccess`), when the API gives them.
///
/// ```
/// use std::time::Duration;
/// use atlassian_rotation::admin::ServiceAccountToken;
/// use time::macros::datetime;
///
/// let token: ServiceAccountToken = serde_json::from_str(
///     r#"{"id":"t-1","label":"deploy","expiry":"2026-03-19T00:00:00Z","scopes":["read:jira-work"]}"#,
/// ).unwrap();
/// assert!(token.expires_within(Duration::from_secs(30 * 86_400), datetime!(2026-03-01 00:00 UTC)));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ServiceAccountToken {
    /// The token id.
    pub id: String,
    /// The label it was given.
    #[serde(default)]
    pub label: Option<String>,
    /// When it was created.
    #[serde(default)]
    pub created_at: Option<Timestamp>,
    /// When it last authenticated a request.
    #[serde(default, alias = "lastAccess")]
    pub last_active_at: Option<Timestamp>,
    /// When it expires, where the API gives it.
    #[serde(default, alias = "expiry")]
    pub expires_at: Option<Timestamp>,
    /// Its scopes.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub scopes: Vec<String>,
    /// Every other field.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ServiceAccountToken {
    /// Whether the token has expired or expires within `window` of `now`. A token without a
    /// readable expiry counts as not expiring.
    pub fn expires_within(&self, window: Duration, now: OffsetDateTime) -> bool {
        expires_within(self.expires_at.as_ref(), window, now)
    }
}

impl Keyed for ServiceAccount {
    fn key(&self) -> &str {
        &self.id
    }
}

impl Keyed for ServiceAccountToken {
    fn key(&self) -> &str {
        &self.id
    }
}

/// The caller's explicit confirmation that **every** API token of one service account is to be
/// revoked, for [`AdminClient::revoke_all_service_account_tokens`]. It names the account it
/// confirms, so a confirmation written for one account cannot revoke another's tokens.
///
/// ```
/// use atlassian_rotation::admin::RevokeAll;
///
/// let confirmed = RevokeAll::every_token_of("sa-1");
/// assert_eq!(confirmed.service_account_id(), "sa-1");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevokeAll {
    service_account_id: String,
}

impl RevokeAll {
    /// Confirms that every API token of the service account `service_account_id` is to be
    /// revoked: all of them, not one.
    pub fn every_token_of(service_account_id: impl Into<String>) -> Self {
        Self {
            service_account_id: service_account_id.into(),
        }
    }

    /// The service account this confirmation is for.
    pub fn service_account_id(&self) -> &str {
        &self.service_account_id
    }
}

/// `/admin/api-access/v1/orgs/{orgId}/service-accounts`.
fn accounts_path(org_id: &str) -> Result<Path> {
    Ok(Path::new("admin/api-access/v1/orgs")
        .param("organization id", org_id)?
        .lit("service-accounts"))
}

/// `.../service-accounts/{serviceAccountId}/api-tokens`.
fn tokens_path(org_id: &str, service_account_id: &str) -> Result<Path> {
    Ok(accounts_path(org_id)?
        .param("service account id", service_account_id)?
        .lit("api-tokens"))
}

/// Streams `first` and its pages, or ends with the error that kept it from being built.
fn listing<T>(admin: &AdminClient, first: Result<Call>) -> Paginated<T>
where
    T: Keyed + serde::de::DeserializeOwned + Send + 'static,
{
    paginate::<ListPage<T>>(admin.transport.clone(), first, "cursor")
}

impl AdminClient {
    /// Streams an organization's service accounts:
    /// `GET /admin/api-access/v1/orgs/{orgId}/service-accounts` (an experimental API), following
    /// `links.next`.
    ///
    /// ```no_run
    /// use futures::TryStreamExt as _;
    ///
    /// # async fn run(admin: atlassian_rotation::AdminClient) -> atlassian_rotation::Result<()> {
    /// let accounts: Vec<_> = admin.service_accounts("my-org-id").try_collect().await?;
    /// for account in accounts {
    ///     println!("{} {:?}", account.id, account.email);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn service_accounts(&self, org_id: &str) -> Paginated<ServiceAccount> {
        listing(self, accounts_path(org_id).map(Call::get))
    }

    /// Streams one service account's API tokens:
    /// `GET /admin/api-access/v1/orgs/{orgId}/service-accounts/{serviceAccountId}/api-tokens`
    /// (scope `read:service-accounts-tokens:admin`), only those labelled `label` when given
    /// (`tokenLabel`).
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use futures::TryStreamExt as _;
    ///
    /// # async fn run(admin: atlassian_rotation::AdminClient) -> atlassian_rotation::Result<()> {
    /// let now = time::OffsetDateTime::now_utc();
    /// let tokens: Vec<_> = admin.service_account_tokens("my-org-id", "sa-1", Some("deploy")).try_collect().await?;
    /// let soon = tokens.iter().filter(|t| t.expires_within(Duration::from_secs(14 * 86_400), now));
    /// println!("{} expire within two weeks", soon.count());
    /// # Ok(()) }
    /// ```
    pub fn service_account_tokens(
        &self,
        org_id: &str,
        service_account_id: &str,
        label: Option<&str>,
    ) -> Paginated<ServiceAccountToken> {
        let first = tokens_path(org_id, service_account_id).map(|path| match label {
            Some(label) => Call::get(path).query("tokenLabel", label),
            None => Call::get(path),
        });
        listing(self, first)
    }

    /// Revokes **all** API tokens of a service account — every one of them, there is no way
    /// to pick one:
    /// `DELETE /admin/api-access/v1/orgs/{orgId}/service-accounts/{serviceAccountId}/api-tokens`.
    ///
    /// Refused before any request, with [`Error::InvalidInput`], unless `confirm` was made for
    /// this very account with [`RevokeAll::every_token_of`]: whatever uses any token of the
    /// account stops working. Retried like an idempotent write.
    ///
    /// ```no_run
    /// use atlassian_rotation::admin::RevokeAll;
    ///
    /// # async fn run(admin: atlassian_rotation::AdminClient) -> atlassian_rotation::Result<()> {
    /// // Every token of sa-1 stops working now.
    /// admin
    ///     .revoke_all_service_account_tokens("my-org-id", "sa-1", RevokeAll::every_token_of("sa-1"))
    ///     .await?;
    /// # Ok(()) }
    /// ```
    ///
    /// There is no way to call it without a confirmation:
    ///
    /// ```compile_fail
    /// # async fn run(admin: atlassian_rotation::AdminClient) -> atlassian_rotation::Result<()> {
    /// admin.revoke_all_service_account_tokens("my-org-id", "sa-1").await?;
    /// # Ok(()) }
    /// ```
    pub async fn revoke_all_service_account_tokens(
        &self,
        org_id: &str,
        service_account_id: &str,
        confirm: RevokeAll,
    ) -> Result<()> {
        if confirm.service_account_id != service_account_id {
            return Err(Error::invalid_input(
                "revoke-all confirmation",
                format!(
                    "it confirms revoking every token of service account `{}`, not of `{service_account_id}`; \
                     nothing was revoked",
                    confirm.service_account_id
                ),
            ));
        }
        let path = tokens_path(org_id, service_account_id)?;
        self.transport.unit(Call::delete(path)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_reads_its_expiry_and_activity_under_either_name() {
        let a: ServiceAccountToken = serde_json::from_str(
            r#"{"id":"t","expiresAt":"2026-01-01T00:00:00Z","lastActiveAt":"2025-01-01T00:00:00Z"}"#,
        )
        .unwrap();
        let b: ServiceAccountToken = serde_json::from_str(
            r#"{"id":"t","expiry":"2026-01-01T00:00:00Z","lastAccess":"2025-01-01T00:00:00Z"}"#,
        )
        .unwrap();
        assert_eq!(a, b);
        assert!(a.extra.is_empty());
        // Written back under the API Access names, and read again the same.
        let back: ServiceAccountToken =
            serde_json::from_value(serde_json::to_value(&b).unwrap()).unwrap();
        assert_eq!(back, a);
        let account: ServiceAccount =
            serde_json::from_str(r#"{"id":"sa","email":"e","futureField":[1]}"#).unwrap();
        let again: ServiceAccount =
            serde_json::from_value(serde_json::to_value(&account).unwrap()).unwrap();
        assert_eq!(again, account);
        let bare: ServiceAccountToken = serde_json::from_str(r#"{"id":"t"}"#).unwrap();
        assert!(bare.expires_at.is_none() && bare.scopes.is_empty());
    }
}
