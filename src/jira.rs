//! Jira Cloud identity: which account a pair of email and API token authenticates as.
//!
//! A rotation uses [`JiraClient::myself`] to prove that a new API token authenticates as the
//! same account as the old one, and that a revoked token now gets 401.
//!
//! ```no_run
//! # async fn run() -> atlassian_rotation::Result<()> {
//! use atlassian_rotation::jira::JiraClient;
//! use atlassian_rotation::secret::{ApiCredentials, ApiToken};
//!
//! let old = ApiCredentials::new("ops@example.com", ApiToken::new("ATATT-old"));
//! let new = ApiCredentials::new("ops@example.com", ApiToken::new("ATATT-new"));
//! let jira = JiraClient::builder(old).base_url("example.atlassian.net").build()?;
//! let before = jira.myself().await?;
//! jira.set_credentials(new)?;
//! let after = jira.myself().await?;
//! assert_eq!(before.account_id, after.account_id);
//! # Ok(()) }
//! ```

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use url::Url;

use crate::error::{Error, Result};
use crate::secret::ApiCredentials;
use crate::transport::{Auth, Call, ClientOptions, GivenUrl, Path, Transport};

/// The account a credential authenticates as: the Jira `User` of `GET /rest/api/3/myself`.
///
/// ```
/// use atlassian_rotation::jira::Account;
///
/// let account: Account = serde_json::from_str(
///     r#"{"accountId":"5b10a2844c20165700ede21g","accountType":"atlassian","active":true,"displayName":"Mia Krystof"}"#,
/// ).unwrap();
/// assert_eq!(account.account_id, "5b10a2844c20165700ede21g");
/// assert_eq!(account.email_address, None);
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Account {
    /// The account id, unique across Atlassian products.
    pub account_id: String,
    /// `atlassian`, `app`, `customer` or `unknown`.
    #[serde(default)]
    pub account_type: Option<String>,
    /// Whether the account is active.
    #[serde(default)]
    pub active: Option<bool>,
    /// The display name (may be an alias, depending on the user's privacy settings).
    #[serde(default)]
    pub display_name: Option<String>,
    /// The email address; `None` when the user's privacy settings hide it.
    #[serde(default)]
    pub email_address: Option<String>,
    /// The time zone, when visible.
    #[serde(default)]
    pub time_zone: Option<String>,
    /// The locale, when visible.
    #[serde(default)]
    pub locale: Option<String>,
    /// Every other field (`self`, `avatarUrls`, `groups`, ...).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A client for a Jira Cloud site, authenticated with basic `email:api_token`, built with
/// [`JiraClient::builder`].
///
/// Cheap to clone (clones share the connection pool and the credentials); `Debug` never shows
/// the credentials.
///
/// ```
/// use atlassian_rotation::jira::JiraClient;
/// use atlassian_rotation::secret::{ApiCredentials, ApiToken};
///
/// let creds = ApiCredentials::new("ops@example.com", ApiToken::new("ATATT-secret"));
/// let client = JiraClient::builder(creds).base_url("https://example.atlassian.net").build()?;
/// assert_eq!(client.base_url().as_str(), "https://example.atlassian.net/");
/// assert!(!format!("{client:?}").contains("ATATT"));
/// # Ok::<(), atlassian_rotation::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct JiraClient {
    transport: Transport,
}

/// Builds a [`JiraClient`]: the credentials, the site's base URL (required) and optionally
/// [`ClientOptions`]. Nothing is checked until [`build`](Self::build). `Debug` never shows the
/// credentials.
///
/// ```
/// use atlassian_rotation::{ClientOptions, RetryPolicy};
/// use atlassian_rotation::jira::JiraClient;
/// use atlassian_rotation::secret::{ApiCredentials, ApiToken};
///
/// let builder = JiraClient::builder(ApiCredentials::new("ops@example.com", ApiToken::new("ATATT-secret")))
///     .base_url("example.atlassian.net")
///     .options(ClientOptions::new().retry_policy(RetryPolicy::none()));
/// assert!(!format!("{builder:?}").contains("ATATT"));
/// let client = builder.build()?;
/// # let _ = client;
/// # Ok::<(), atlassian_rotation::Error>(())
/// ```
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct JiraClientBuilder {
    credentials: ApiCredentials,
    base_url: Option<GivenUrl>,
    options: ClientOptions,
}

impl JiraClientBuilder {
    /// The site: a URL (`https://example.atlassian.net`, or a proxy or fake) or a bare host
    /// (`example.atlassian.net`, then `https`). It must be `https`, or `http` on a loopback
    /// host, unless [`ClientOptions::allow_plain_http`]. Checked by [`build`](Self::build).
    ///
    /// ```
    /// # use atlassian_rotation::jira::JiraClient;
    /// # use atlassian_rotation::secret::{ApiCredentials, ApiToken};
    /// let creds = ApiCredentials::new("ops@example.com", ApiToken::new("t"));
    /// let client = JiraClient::builder(creds.clone()).base_url("example.atlassian.net").build()?;
    /// assert_eq!(client.base_url().host_str(), Some("example.atlassian.net"));
    /// assert!(JiraClient::builder(creds).base_url("http://example.atlassian.net").build().is_err());
    /// # Ok::<(), atlassian_rotation::Error>(())
    /// ```
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(GivenUrl(url.into()));
        self
    }

    /// Connection and safety settings: timeouts, retries, response cap, plain http opt-in.
    ///
    /// ```
    /// # use atlassian_rotation::jira::JiraClient;
    /// # use atlassian_rotation::secret::{ApiCredentials, ApiToken};
    /// use atlassian_rotation::ClientOptions;
    /// let client = JiraClient::builder(ApiCredentials::new("ops@example.com", ApiToken::new("t")))
    ///     .base_url("http://jira-proxy.internal")
    ///     .options(ClientOptions::new().allow_plain_http(true))
    ///     .build()?;
    /// # let _ = client;
    /// # Ok::<(), atlassian_rotation::Error>(())
    /// ```
    pub fn options(mut self, options: ClientOptions) -> Self {
        self.options = options;
        self
    }

    /// The client. Fails with [`Error::InvalidInput`] naming the `base URL` when none was given
    /// or it is refused, or when the credentials cannot travel in a header (never echoing
    /// them).
    ///
    /// ```
    /// use atlassian_rotation::Error;
    /// use atlassian_rotation::jira::JiraClient;
    /// use atlassian_rotation::secret::{ApiCredentials, ApiToken};
    ///
    /// let builder = JiraClient::builder(ApiCredentials::new("ops@example.com", ApiToken::new("t")));
    /// let err = builder.clone().build().unwrap_err();
    /// assert!(matches!(err, Error::InvalidInput { what: "base URL", .. }));
    /// assert!(builder.base_url("example.atlassian.net").build().is_ok());
    /// ```
    pub fn build(self) -> Result<JiraClient> {
        let auth = Auth::Header(self.credentials.basic_header()?);
        JiraClient::with_auth(
            self.base_url.as_ref().map(GivenUrl::as_str),
            auth,
            self.options,
        )
    }
}

impl JiraClient {
    /// Starts building a client that authenticates with `credentials`; set the site with
    /// [`base_url`](JiraClientBuilder::base_url).
    ///
    /// ```
    /// use atlassian_rotation::jira::JiraClient;
    /// use atlassian_rotation::secret::{ApiCredentials, ApiToken};
    ///
    /// let creds = ApiCredentials::new("ops@example.com", ApiToken::new("t"));
    /// let client = JiraClient::builder(creds).base_url("example.atlassian.net").build()?;
    /// # let _ = client;
    /// # Ok::<(), atlassian_rotation::Error>(())
    /// ```
    pub fn builder(credentials: ApiCredentials) -> JiraClientBuilder {
        JiraClientBuilder {
            credentials,
            base_url: None,
            options: ClientOptions::new(),
        }
    }

    /// A client for the site at `base_url` that authenticates as another client does.
    pub(crate) fn with_auth(
        base_url: Option<&str>,
        auth: Auth,
        options: ClientOptions,
    ) -> Result<Self> {
        let Some(base) = base_url else {
            return Err(Error::invalid_input(
                "base URL",
                "a JiraClient needs the site's URL (https://example.atlassian.net): set it with JiraClientBuilder::base_url",
            ));
        };
        Ok(Self {
            transport: Transport::new(base, options, Some(auth))?,
        })
    }

    /// The site's base URL.
    ///
    /// ```
    /// # use atlassian_rotation::jira::JiraClient;
    /// # use atlassian_rotation::secret::{ApiCredentials, ApiToken};
    /// let creds = ApiCredentials::new("ops@example.com", ApiToken::new("t"));
    /// let client = JiraClient::builder(creds).base_url("example.atlassian.net").build()?;
    /// assert_eq!(client.base_url().host_str(), Some("example.atlassian.net"));
    /// # Ok::<(), atlassian_rotation::Error>(())
    /// ```
    pub fn base_url(&self) -> &Url {
        self.transport.base_url()
    }

    /// Uses other credentials from the next request on (for example the new token of a
    /// rotation). Clones of this client share the change. Fails, changing nothing, when they
    /// cannot travel in a header.
    ///
    /// ```
    /// # use atlassian_rotation::jira::JiraClient;
    /// # use atlassian_rotation::secret::{ApiCredentials, ApiToken};
    /// let client = JiraClient::builder(ApiCredentials::new("a@example.com", ApiToken::new("old")))
    ///     .base_url("example.atlassian.net")
    ///     .build()?;
    /// client.set_credentials(ApiCredentials::new("a@example.com", ApiToken::new("new")))?;
    /// # Ok::<(), atlassian_rotation::Error>(())
    /// ```
    pub fn set_credentials(&self, credentials: ApiCredentials) -> Result<()> {
        self.transport
            .set_auth(Auth::Header(credentials.basic_header()?));
        Ok(())
    }

    /// `GET /rest/api/3/myself`: the account the credentials authenticate as. A revoked or
    /// wrong token ends in [`Error::Api`] with status 401 ([`Error::is_auth_failure`]).
    ///
    /// ```no_run
    /// # async fn run(client: atlassian_rotation::jira::JiraClient) -> atlassian_rotation::Result<()> {
    /// let me = client.myself().await?;
    /// println!("authenticated as {}", me.account_id);
    /// # Ok(()) }
    /// ```
    pub async fn myself(&self) -> Result<Account> {
        self.transport
            .json(Call::get(Path::new("rest/api/3/myself")))
            .await
    }
}
