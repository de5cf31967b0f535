//! [`AdminClient`]: the Atlassian organization Admin APIs at `https://api.atlassian.com`.
//!
//! Tunnels (regenerate a security key), an Admin API key check, and the API tokens of managed
//! users (list per user, list per organization, revoke).

mod models;
mod query;

use futures::StreamExt as _;

use crate::error::Result;
use crate::secret::{AdminApiKey, bearer_header};
use crate::transport::{
    Auth, Call, ClientOptions, Idempotency, Paginated, Path, Transport, paginate,
};

pub use models::{
    OrgApiToken, OrgTokenStatus, OrgTokenUser, Organization, Timestamp, Tunnel, TunnelInfo,
    TunnelStatus, UserApiToken,
};
pub use query::OrgTokenQuery;

/// The Admin APIs' default base URL.
///
/// ```
/// assert_eq!(atlassian_rotation::admin::DEFAULT_BASE_URL, "https://api.atlassian.com");
/// ```
pub const DEFAULT_BASE_URL: &str = "https://api.atlassian.com";

/// A client for the organization Admin APIs, authenticated with an Admin API key
/// (`Authorization: Bearer`). Cheap to clone; clones share the connection pool and the key.
///
/// ```
/// use atlassian_rotation::AdminClient;
/// use atlassian_rotation::secret::AdminApiKey;
///
/// let admin = AdminClient::new(AdminApiKey::new("admin-key"))?;
/// assert!(!format!("{admin:?}").contains("admin-key"));
/// # Ok::<(), atlassian_rotation::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct AdminClient {
    transport: Transport,
}

fn auth(key: &AdminApiKey) -> Result<Auth> {
    Ok(Auth::Header(bearer_header(
        "Admin API key",
        key.expose_secret(),
    )?))
}

impl AdminClient {
    /// A client on `https://api.atlassian.com` with default [`ClientOptions`].
    ///
    /// Fails with [`Error::InvalidInput`](crate::Error::InvalidInput) when the key cannot travel in a header.
    pub fn new(key: AdminApiKey) -> Result<Self> {
        Self::with_options(key, ClientOptions::new())
    }

    /// A client with explicit options (a base URL for a proxy or a fake, timeouts, retries).
    ///
    /// ```
    /// use atlassian_rotation::{AdminClient, ClientOptions, RetryPolicy};
    /// use atlassian_rotation::secret::AdminApiKey;
    ///
    /// let admin = AdminClient::with_options(
    ///     AdminApiKey::new("admin-key"),
    ///     ClientOptions::new().base_url("http://127.0.0.1:8080").retry_policy(RetryPolicy::none()),
    /// )?;
    /// # let _ = admin;
    /// # Ok::<(), atlassian_rotation::Error>(())
    /// ```
    pub fn with_options(key: AdminApiKey, options: ClientOptions) -> Result<Self> {
        let transport = Transport::new(DEFAULT_BASE_URL, options, Some(auth(&key)?))?;
        Ok(Self { transport })
    }

    /// Replaces the Admin API key for every later request, on this client and all its clones
    /// (for example after the key itself was rotated).
    ///
    /// ```
    /// # use atlassian_rotation::AdminClient;
    /// # use atlassian_rotation::secret::AdminApiKey;
    /// let admin = AdminClient::new(AdminApiKey::new("old-key"))?;
    /// admin.set_api_key(AdminApiKey::new("new-key"))?;
    /// # Ok::<(), atlassian_rotation::Error>(())
    /// ```
    pub fn set_api_key(&self, key: AdminApiKey) -> Result<()> {
        self.transport.set_auth(auth(&key)?);
        Ok(())
    }

    /// Mints a new security key for an application tunnel:
    /// `PUT /admin/v1/orgs/{orgId}/tunnels/{hostname}/token`.
    ///
    /// `hostname` is the UUID label of the tunnel's application-link URL. Every call invalidates
    /// the previous key, so the request is never retried once it may have left; when the outcome
    /// is unknown ([`Error::may_have_been_applied`](crate::Error::may_have_been_applied)) the tunnel may already hold a key nobody has.
    /// A decode failure never echoes response values.
    ///
    /// ```no_run
    /// # async fn run(admin: atlassian_rotation::AdminClient) -> atlassian_rotation::Result<()> {
    /// let tunnel = admin
    ///     .regenerate_tunnel_key("my-org-id", "e5e9e8f0-d429-4cb9-80bc-2f02cb91f587")
    ///     .await?;
    /// println!("{tunnel}"); // the key prints as [redacted]
    /// # Ok(()) }
    /// ```
    pub async fn regenerate_tunnel_key(&self, org_id: &str, hostname: &str) -> Result<Tunnel> {
        let path = Path::new("admin/v1/orgs")
            .param("organization id", org_id)?
            .lit("tunnels")
            .param("tunnel hostname", hostname)?
            .lit("token");
        let response = self
            .transport
            .send(Call::put(path, Idempotency::Mints))
            .await?;
        let wire: models::TunnelWire = response.decode()?;
        Ok(wire.into())
    }

    /// Proves the Admin API key works for an organization: `GET /admin/v1/orgs/{orgId}`.
    ///
    /// A refused key ends in an error for which [`Error::is_auth_failure`](crate::Error::is_auth_failure) holds. (Listing
    /// `/admin/v1/orgs` would not do: it answers 200 with no data even for a bad key.)
    ///
    /// ```no_run
    /// # async fn run(admin: atlassian_rotation::AdminClient) -> atlassian_rotation::Result<()> {
    /// match admin.check_key("my-org-id").await {
    ///     Ok(org) => println!("key works for {}", org.name.unwrap_or(org.id)),
    ///     Err(e) if e.is_auth_failure() => println!("key refused: {e}"),
    ///     Err(e) => return Err(e),
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn check_key(&self, org_id: &str) -> Result<Organization> {
        let path = Path::new("admin/v1/orgs").param("organization id", org_id)?;
        let wire: models::OrgWire = self.transport.json(Call::get(path)).await?;
        Ok(wire.into())
    }

    /// Lists a managed user's API tokens: `GET /users/{account_id}/manage/api-tokens`.
    ///
    /// ```no_run
    /// # async fn run(admin: atlassian_rotation::AdminClient) -> atlassian_rotation::Result<()> {
    /// for token in admin.user_api_tokens("557058:f5a2d3b1-0000").await? {
    ///     println!("{} expires {:?}", token.id, token.expiry);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn user_api_tokens(&self, account_id: &str) -> Result<Vec<UserApiToken>> {
        let path = Path::new("users")
            .param("account id", account_id)?
            .lit("manage/api-tokens");
        let tokens: Option<Vec<UserApiToken>> = self.transport.json(Call::get(path)).await?;
        Ok(tokens.unwrap_or_default())
    }

    /// Revokes one API token of a managed user:
    /// `DELETE /users/{account_id}/manage/api-tokens/{tokenId}` (204).
    ///
    /// Retried like any idempotent write; a 404 on a retry (the first attempt's answer was lost
    /// after it took effect) counts as revoked.
    ///
    /// ```no_run
    /// # async fn run(admin: atlassian_rotation::AdminClient) -> atlassian_rotation::Result<()> {
    /// admin.revoke_user_api_token("557058:f5a2d3b1-0000", "asp_A0T8Nb").await?;
    /// # Ok(()) }
    /// ```
    pub async fn revoke_user_api_token(&self, account_id: &str, token_id: &str) -> Result<()> {
        let path = Path::new("users")
            .param("account id", account_id)?
            .lit("manage/api-tokens")
            .param("API token id", token_id)?;
        match self.transport.unit(Call::delete(path)).await {
            // A retry after a lost answer finds the token already gone: the first DELETE worked.
            Err(e) if e.is_not_found() && e.attempts() > 1 => Ok(()),
            other => other,
        }
    }

    /// Streams every user API token of an organization:
    /// `GET /admin/api-access/v1/orgs/{orgId}/api-tokens`, following `links.next` page by page.
    ///
    /// Invalid input ends the stream with its first item, before any request.
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use futures::TryStreamExt as _;
    /// use atlassian_rotation::admin::{OrgTokenQuery, OrgTokenStatus};
    ///
    /// # async fn run(admin: atlassian_rotation::AdminClient) -> atlassian_rotation::Result<()> {
    /// let now = time::OffsetDateTime::now_utc();
    /// let expiring: Vec<_> = admin
    ///     .org_api_tokens("my-org-id", OrgTokenQuery::new().status(OrgTokenStatus::Allowed))
    ///     .try_filter(|t| std::future::ready(t.expires_within(Duration::from_secs(30 * 86_400), now)))
    ///     .try_collect()
    ///     .await?;
    /// # let _ = expiring;
    /// # Ok(()) }
    /// ```
    pub fn org_api_tokens(&self, org_id: &str, query: OrgTokenQuery) -> Paginated<OrgApiToken> {
        let first = Path::new("admin/api-access/v1/orgs")
            .param("organization id", org_id)
            .map(|p| p.lit("api-tokens"))
            .and_then(|path| {
                let pairs = query.pairs()?;
                Ok(pairs
                    .into_iter()
                    .fold(Call::get(path), |call, (k, v)| call.query(&k, v)))
            });
        match first {
            Ok(call) => paginate::<models::OrgTokenPage>(self.transport.clone(), call, "cursor"),
            Err(err) => futures::stream::once(async move { Err(err) }).boxed(),
        }
    }
}
