//! [`AdminClient`]: the Atlassian organization Admin APIs at `https://api.atlassian.com`.
//!
//! Tunnels (regenerate a security key), an Admin API key check, the API tokens of managed
//! users (list per user, list per organization, revoke), the organization's Admin API keys
//! (list, count, revoke) and its service accounts with their API tokens.

mod keys;
mod models;
mod page;
mod query;
mod service_accounts;

use url::Url;

use crate::error::Result;
use crate::secret::{AdminApiKey, bearer_header};
use crate::transport::{
    Auth, Call, ClientOptions, GivenUrl, Idempotency, Paginated, Path, Transport, paginate, unpaged,
};

pub use keys::{AdminApiKeyInfo, AdminKeyQuery, DateFilter, KeyActor, KeySort};
pub use models::{
    OrgApiToken, OrgTokenStatus, OrgTokenUser, Organization, Timestamp, Tunnel, TunnelInfo,
    TunnelStatus, UserApiToken,
};
pub use query::OrgTokenQuery;
pub use service_accounts::{RevokeAll, ServiceAccount, ServiceAccountToken};

/// The Admin APIs' default base URL.
///
/// ```
/// assert_eq!(atlassian_rotation::admin::DEFAULT_BASE_URL, "https://api.atlassian.com");
/// ```
pub const DEFAULT_BASE_URL: &str = "https://api.atlassian.com";

/// A client for the organization Admin APIs, authenticated with an Admin API key
/// (`Authorization: Bearer`). Built with [`AdminClient::builder`]. Cheap to clone; clones share
/// the connection pool and the key.
///
/// ```
/// use atlassian_rotation::AdminClient;
/// use atlassian_rotation::secret::AdminApiKey;
///
/// let admin = AdminClient::builder(AdminApiKey::new("admin-key")).build()?;
/// assert_eq!(admin.base_url().as_str(), "https://api.atlassian.com/");
/// assert!(!format!("{admin:?}").contains("admin-key"));
/// # Ok::<(), atlassian_rotation::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct AdminClient {
    transport: Transport,
}

/// Builds an [`AdminClient`]: the Admin API key, and optionally a base URL (default
/// [`DEFAULT_BASE_URL`]) and [`ClientOptions`]. Nothing is checked until [`build`](Self::build).
/// `Debug` never shows the key.
///
/// ```
/// use atlassian_rotation::{AdminClient, ClientOptions, RetryPolicy};
/// use atlassian_rotation::secret::AdminApiKey;
///
/// let builder = AdminClient::builder(AdminApiKey::new("admin-key"))
///     .base_url("http://127.0.0.1:8080")
///     .options(ClientOptions::new().retry_policy(RetryPolicy::none()));
/// assert!(!format!("{builder:?}").contains("admin-key"));
/// let admin = builder.build()?;
/// assert_eq!(admin.base_url().as_str(), "http://127.0.0.1:8080/");
/// # Ok::<(), atlassian_rotation::Error>(())
/// ```
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct AdminClientBuilder {
    key: AdminApiKey,
    base_url: Option<GivenUrl>,
    options: ClientOptions,
}

impl AdminClientBuilder {
    /// Sends requests below `url` instead of `https://api.atlassian.com`: a proxy, or a fake on
    /// loopback. A URL, or a bare host (then `https`); it must be `https`, or `http` on a
    /// loopback host, unless [`ClientOptions::allow_plain_http`]. Checked by
    /// [`build`](Self::build).
    ///
    /// ```
    /// # use atlassian_rotation::AdminClient;
    /// # use atlassian_rotation::secret::AdminApiKey;
    /// let admin = AdminClient::builder(AdminApiKey::new("k")).base_url("admin-proxy.example.com").build()?;
    /// assert_eq!(admin.base_url().as_str(), "https://admin-proxy.example.com/");
    /// # Ok::<(), atlassian_rotation::Error>(())
    /// ```
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(GivenUrl(url.into()));
        self
    }

    /// Connection and safety settings: timeouts, retries, response cap, plain http opt-in.
    ///
    /// ```
    /// # use atlassian_rotation::{AdminClient, ClientOptions};
    /// # use atlassian_rotation::secret::AdminApiKey;
    /// let admin = AdminClient::builder(AdminApiKey::new("k"))
    ///     .options(ClientOptions::new().timeout(std::time::Duration::from_secs(5)))
    ///     .build()?;
    /// # let _ = admin;
    /// # Ok::<(), atlassian_rotation::Error>(())
    /// ```
    pub fn options(mut self, options: ClientOptions) -> Self {
        self.options = options;
        self
    }

    /// The client. Fails with [`Error::InvalidInput`](crate::Error::InvalidInput) when the base
    /// URL is refused or the key cannot travel in a header (never echoing it).
    ///
    /// ```
    /// # use atlassian_rotation::AdminClient;
    /// # use atlassian_rotation::secret::AdminApiKey;
    /// assert!(AdminClient::builder(AdminApiKey::new("k")).build().is_ok());
    /// assert!(AdminClient::builder(AdminApiKey::new("k\n")).build().is_err());
    /// assert!(AdminClient::builder(AdminApiKey::new("k")).base_url("http://admin.example.com").build().is_err());
    /// ```
    pub fn build(self) -> Result<AdminClient> {
        let base = self
            .base_url
            .as_ref()
            .map_or(DEFAULT_BASE_URL, GivenUrl::as_str);
        let transport = Transport::new(base, self.options, Some(auth(&self.key)?))?;
        Ok(AdminClient { transport })
    }
}

fn auth(key: &AdminApiKey) -> Result<Auth> {
    Ok(Auth::Header(bearer_header(
        "Admin API key",
        key.expose_secret(),
    )?))
}

/// The outcome of a revocation retried like an idempotent write: a 404 on a retry means the
/// first attempt's answer was lost after it took effect, so it counts as done.
fn gone_on_retry_is_done(outcome: Result<()>) -> Result<()> {
    match outcome {
        Err(e) if e.is_not_found() && e.attempts() > 1 => Ok(()),
        other => other,
    }
}

impl AdminClient {
    /// Starts building a client that authenticates with `key`.
    ///
    /// ```
    /// use atlassian_rotation::AdminClient;
    /// use atlassian_rotation::secret::AdminApiKey;
    ///
    /// let admin = AdminClient::builder(AdminApiKey::new("admin-key")).build()?;
    /// # let _ = admin;
    /// # Ok::<(), atlassian_rotation::Error>(())
    /// ```
    pub fn builder(key: AdminApiKey) -> AdminClientBuilder {
        AdminClientBuilder {
            key,
            base_url: None,
            options: ClientOptions::new(),
        }
    }

    /// The base URL requests go below.
    ///
    /// ```
    /// # use atlassian_rotation::AdminClient;
    /// # use atlassian_rotation::secret::AdminApiKey;
    /// let admin = AdminClient::builder(AdminApiKey::new("k")).base_url("http://127.0.0.1:9").build()?;
    /// assert_eq!(admin.base_url().port(), Some(9));
    /// # Ok::<(), atlassian_rotation::Error>(())
    /// ```
    pub fn base_url(&self) -> &Url {
        self.transport.base_url()
    }

    /// Replaces the Admin API key for every later request, on this client and all its clones
    /// (for example after the key itself was rotated). Fails, changing nothing, when the key
    /// cannot travel in a header.
    ///
    /// ```
    /// # use atlassian_rotation::AdminClient;
    /// # use atlassian_rotation::secret::AdminApiKey;
    /// let admin = AdminClient::builder(AdminApiKey::new("old-key")).build()?;
    /// admin.set_credentials(AdminApiKey::new("new-key"))?;
    /// # Ok::<(), atlassian_rotation::Error>(())
    /// ```
    pub fn set_credentials(&self, key: AdminApiKey) -> Result<()> {
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

    /// Streams a managed user's API tokens: `GET /users/{account_id}/manage/api-tokens`.
    ///
    /// The endpoint answers every token at once; the listing yields them like any other
    /// [`Paginated`] listing. An invalid account id is its first item, before any request.
    ///
    /// ```no_run
    /// use futures::TryStreamExt as _;
    ///
    /// # async fn run(admin: atlassian_rotation::AdminClient) -> atlassian_rotation::Result<()> {
    /// let mut tokens = admin.user_api_tokens("557058:f5a2d3b1-0000");
    /// while let Some(token) = tokens.try_next().await? {
    ///     println!("{} expires {:?}", token.id, token.expiry);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn user_api_tokens(&self, account_id: &str) -> Paginated<UserApiToken> {
        let call = Path::new("users")
            .param("account id", account_id)
            .map(|path| Call::get(path.lit("manage/api-tokens")));
        unpaged(self.transport.clone(), call)
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
        gone_on_retry_is_done(self.transport.unit(Call::delete(path)).await)
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
        paginate::<page::ListPage<OrgApiToken>>(self.transport.clone(), first, "cursor")
    }
}
