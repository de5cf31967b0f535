//! The organization's Admin API keys (API Access API): list, count, revoke.

mod model;
mod query;

use serde::Deserialize;

use super::page::ListPage;
use super::{AdminClient, auth};
use crate::error::Result;
use crate::secret::AdminApiKey;
use crate::transport::{Auth, Call, Idempotency, Paginated, Path, Target, paginate};

pub use model::{AdminApiKeyInfo, KeyActor};
pub use query::{AdminKeyQuery, DateFilter, KeySort};

/// `/admin/api-access/v1/orgs/{orgId}/api-keys`, and below it `rest`.
fn keys_path(org_id: &str, rest: &str) -> Result<Path> {
    Ok(Path::new("admin/api-access/v1/orgs")
        .param("organization id", org_id)?
        .lit("api-keys")
        .lit(rest))
}

/// A GET of `path` with the query `pairs`.
fn get_with(path: Path, pairs: Vec<(String, String)>) -> Call {
    pairs
        .into_iter()
        .fold(Call::get(path), |call, (k, v)| call.query(&k, v))
}

/// The count's answer: a bare number, as documented, or an object holding one.
#[derive(Deserialize)]
#[serde(untagged)]
enum CountWire {
    Number(u64),
    Object {
        #[serde(alias = "total")]
        count: u64,
    },
}

impl AdminClient {
    /// Streams every Admin API key of an organization:
    /// `GET /admin/api-access/v1/orgs/{orgId}/api-keys` (scope `read:keys:admin`), following
    /// `links.next` page by page. Revoked keys are listed too
    /// ([`AdminApiKeyInfo::is_revoked`]).
    ///
    /// Invalid input ends the stream with its first item, before any request.
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use futures::TryStreamExt as _;
    /// use atlassian_rotation::admin::{AdminKeyQuery, KeySort};
    ///
    /// # async fn run(admin: atlassian_rotation::AdminClient) -> atlassian_rotation::Result<()> {
    /// let now = time::OffsetDateTime::now_utc();
    /// let expiring: Vec<_> = admin
    ///     .admin_api_keys("my-org-id", AdminKeyQuery::new().sort(KeySort::ascending("expiresAt")))
    ///     .try_filter(|k| std::future::ready(!k.is_revoked() && k.expires_within(Duration::from_secs(30 * 86_400), now)))
    ///     .try_collect()
    ///     .await?;
    /// for key in expiring {
    ///     println!("{} ({:?}) expires {:?}", key.id, key.label, key.expires_at);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn admin_api_keys(&self, org_id: &str, query: AdminKeyQuery) -> Paginated<AdminApiKeyInfo> {
        let first = keys_path(org_id, "").and_then(|path| Ok(get_with(path, query.to_pairs()?)));
        paginate::<ListPage<AdminApiKeyInfo>>(self.transport.clone(), first, "cursor")
    }

    /// Counts an organization's Admin API keys matching the query's filters:
    /// `GET /admin/api-access/v1/orgs/{orgId}/api-keys/count` (its `sort` and `page_size` are
    /// not sent).
    ///
    /// ```no_run
    /// use atlassian_rotation::admin::AdminKeyQuery;
    ///
    /// # async fn run(admin: atlassian_rotation::AdminClient) -> atlassian_rotation::Result<()> {
    /// let keys = admin.admin_api_key_count("my-org-id", AdminKeyQuery::new().q("ci")).await?;
    /// println!("{keys} keys match");
    /// # Ok(()) }
    /// ```
    pub async fn admin_api_key_count(&self, org_id: &str, query: AdminKeyQuery) -> Result<u64> {
        let call = get_with(keys_path(org_id, "count")?, query.filter_pairs()?);
        Ok(match self.transport.json::<CountWire>(call).await? {
            CountWire::Number(n) | CountWire::Object { count: n } => n,
        })
    }

    /// Revokes one Admin API key:
    /// `PATCH /admin/api-access/v1/orgs/{orgId}/api-keys/revoke/{apiKeyId}` with body `{}`
    /// (scope `delete:keys:admin`). A revoked key stops authenticating everywhere.
    ///
    /// Retried like any idempotent write; a 404 on a retry (the first attempt's answer was lost
    /// after it took effect) counts as revoked. An error for which
    /// [`Error::may_have_been_applied`](crate::Error::may_have_been_applied) holds leaves the
    /// outcome open: look at the key list (or whether the key still authenticates) before
    /// concluding either way, as [`AdminKeyRotator`](crate::rotate::AdminKeyRotator) does.
    ///
    /// ```no_run
    /// # async fn run(admin: atlassian_rotation::AdminClient) -> atlassian_rotation::Result<()> {
    /// admin.revoke_admin_api_key("my-org-id", "0e3c5d2a-key-id").await?;
    /// # Ok(()) }
    /// ```
    pub async fn revoke_admin_api_key(&self, org_id: &str, key_id: &str) -> Result<()> {
        let path = keys_path(org_id, "revoke")?.param("Admin API key id", key_id)?;
        let call = Call::new(
            reqwest::Method::PATCH,
            Target::Path(path),
            Idempotency::Idempotent,
        )
        .json(&serde_json::json!({}))?;
        super::gone_on_retry_is_done(self.transport.unit(call).await)
    }

    /// A client on this one's base URL, options and connection pool, authenticated with
    /// `key`; it shares its key with its own clones only.
    pub(crate) fn with_key(&self, key: &AdminApiKey) -> Result<AdminClient> {
        Ok(AdminClient {
            transport: self.transport.with_auth(Some(auth(key)?)),
        })
    }

    /// Whether this client (and so every clone of it) authenticates with `key` now.
    pub(crate) fn uses_key(&self, key: &AdminApiKey) -> bool {
        let Ok(Auth::Header(wanted)) = auth(key) else {
            return false;
        };
        matches!(self.transport.auth(), Some(Auth::Header(current)) if current == wanted)
    }

    /// Switches this client (and every clone of it) from `old` to `new`, under one lock, when it
    /// authenticates with `old`; a client on any other key is left alone. Returns whether it
    /// switched.
    pub(crate) fn follow_key(&self, old: &AdminApiKey, new: &AdminApiKey) -> Result<bool> {
        let (Auth::Header(old), new) = (auth(old)?, auth(new)?);
        Ok(self.transport.replace_auth(|current| match current {
            Some(Auth::Header(current)) if *current == old => Some(new),
            _ => None,
        }))
    }
}
