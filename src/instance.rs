//! [`InstanceClient`]: a customer's Data Center instance (Jira, Confluence, ...): install a
//! tunnel security key, and check who a credential belongs to.

use std::fmt;

use reqwest::header::HeaderValue;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::secret::{
    Password, PersonalAccessToken, REDACTED, basic_password_header, bearer_header,
};
use crate::transport::{Auth, Call, ClientOptions, GivenUrl, Idempotency, Path, Transport};

/// How an [`InstanceClient`] authenticates. `Debug` never shows the secret.
///
/// ```
/// use atlassian_rotation::instance::InstanceAuth;
/// use atlassian_rotation::secret::{Password, PersonalAccessToken};
///
/// let pat = InstanceAuth::PersonalAccessToken(PersonalAccessToken::new("NjQ2-pat"));
/// let basic = InstanceAuth::basic("jira-admin", Password::new("hunter2"));
/// assert!(!format!("{pat:?} {basic:?}").contains("NjQ2"));
/// assert!(!format!("{basic:?}").contains("hunter2"));
/// ```
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum InstanceAuth {
    /// A personal access token, sent as `Authorization: Bearer`.
    PersonalAccessToken(PersonalAccessToken),
    /// A username and password, sent as `Authorization: Basic`.
    Basic {
        /// The username (not an email on Data Center).
        username: String,
        /// The password.
        password: Password,
    },
}

impl InstanceAuth {
    /// Basic authentication with a username and password.
    pub fn basic(username: impl Into<String>, password: Password) -> Self {
        Self::Basic {
            username: username.into(),
            password,
        }
    }

    /// The `Authorization` header value, marked sensitive.
    fn header(&self) -> Result<HeaderValue> {
        match self {
            Self::PersonalAccessToken(pat) => {
                bearer_header("personal access token", pat.expose_secret())
            }
            Self::Basic { username, password } => {
                basic_password_header(username, password.expose_secret())
            }
        }
    }
}

impl fmt::Debug for InstanceAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::PersonalAccessToken(_) => write!(f, "PersonalAccessToken({REDACTED})"),
            Self::Basic { username, .. } => f
                .debug_struct("Basic")
                .field("username", username)
                .field("password", &format_args!("{REDACTED}"))
                .finish(),
        }
    }
}

/// What a Data Center instance answers after installing a tunnel key. Every field is optional:
/// Atlassian's own example is malformed, and an empty body decodes to all `None`.
///
/// ```
/// use atlassian_rotation::instance::TunnelInstallation;
///
/// let done: TunnelInstallation = serde_json::from_str(r#"{"name":"tunnel1"}"#).unwrap();
/// assert_eq!(done.name.as_deref(), Some("tunnel1"));
/// assert_eq!(done.cloud_org_name, None);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct TunnelInstallation {
    /// The tunnel name.
    #[serde(default)]
    pub name: Option<String>,
    /// The Cloud organization the tunnel connects to.
    #[serde(default)]
    pub cloud_org_name: Option<String>,
    /// The Cloud site's URL.
    #[serde(default)]
    pub cloud_page_url: Option<String>,
    /// The application links page of the instance.
    #[serde(default)]
    pub app_links_url: Option<String>,
}

/// The account a Data Center credential belongs to (`GET /rest/api/2/myself`). Fields not
/// listed here are ignored.
///
/// ```
/// use atlassian_rotation::instance::DcUser;
///
/// let user: DcUser = serde_json::from_str(
///     r#"{"name":"jira-admin","key":"JIRAUSER10000","displayName":"Jira Admin","active":true}"#,
/// ).unwrap();
/// assert_eq!(user.display_name.as_deref(), Some("Jira Admin"));
/// assert_eq!(user.email_address, None);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct DcUser {
    /// The username.
    #[serde(default)]
    pub name: Option<String>,
    /// The user key.
    #[serde(default)]
    pub key: Option<String>,
    /// The display name.
    #[serde(default)]
    pub display_name: Option<String>,
    /// The email address.
    #[serde(default)]
    pub email_address: Option<String>,
    /// Whether the account is active.
    #[serde(default)]
    pub active: Option<bool>,
}

/// A client for one Data Center instance, built with [`InstanceClient::builder`]. Cheap to
/// clone; clones share the connection pool and the credentials.
///
/// ```
/// use atlassian_rotation::InstanceClient;
/// use atlassian_rotation::instance::InstanceAuth;
/// use atlassian_rotation::secret::PersonalAccessToken;
///
/// let jira = InstanceClient::builder(InstanceAuth::PersonalAccessToken(PersonalAccessToken::new("NjQ2-pat")))
///     .base_url("https://jira.example.com/jira")
///     .build()?;
/// assert!(!format!("{jira:?}").contains("NjQ2"));
/// # Ok::<(), atlassian_rotation::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct InstanceClient {
    transport: Transport,
    /// The options the client was built with, for requests made on its behalf elsewhere (the
    /// tunnel probe) so they follow the same connection rules.
    options: ClientOptions,
}

/// Builds an [`InstanceClient`]: the credentials, the instance's base URL (required: there is
/// no default instance) and optionally [`ClientOptions`]. Nothing is checked until
/// [`build`](Self::build). `Debug` never shows the credentials.
///
/// ```
/// use atlassian_rotation::{ClientOptions, InstanceClient, RetryPolicy};
/// use atlassian_rotation::instance::InstanceAuth;
/// use atlassian_rotation::secret::Password;
///
/// let builder = InstanceClient::builder(InstanceAuth::basic("jira-admin", Password::new("hunter2")))
///     .base_url("https://jira.example.com")
///     .options(ClientOptions::new().retry_policy(RetryPolicy::none()));
/// assert!(!format!("{builder:?}").contains("hunter2"));
/// let jira = builder.build()?;
/// # let _ = jira;
/// # Ok::<(), atlassian_rotation::Error>(())
/// ```
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct InstanceClientBuilder {
    auth: InstanceAuth,
    base_url: Option<GivenUrl>,
    options: ClientOptions,
}

impl InstanceClientBuilder {
    /// The instance's base URL, including any context path (`https://jira.example.com/jira`).
    /// A URL, or a bare host (then `https`); it must be `https`, or `http` on a loopback host,
    /// unless [`ClientOptions::allow_plain_http`]. Checked by [`build`](Self::build).
    ///
    /// ```
    /// # use atlassian_rotation::InstanceClient;
    /// # use atlassian_rotation::instance::InstanceAuth;
    /// # use atlassian_rotation::secret::PersonalAccessToken;
    /// let jira = InstanceClient::builder(InstanceAuth::PersonalAccessToken(PersonalAccessToken::new("pat")))
    ///     .base_url("jira.example.com/jira")
    ///     .build()?;
    /// assert_eq!(jira.base_url().as_str(), "https://jira.example.com/jira");
    /// # Ok::<(), atlassian_rotation::Error>(())
    /// ```
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(GivenUrl(url.into()));
        self
    }

    /// Connection and safety settings: timeouts, retries, response cap, plain http opt-in. A
    /// [`TunnelKeyRotator`](crate::rotate::TunnelKeyRotator)'s URL probe follows them too,
    /// unless given its own.
    ///
    /// ```
    /// # use atlassian_rotation::{ClientOptions, InstanceClient};
    /// # use atlassian_rotation::instance::InstanceAuth;
    /// # use atlassian_rotation::secret::PersonalAccessToken;
    /// let jira = InstanceClient::builder(InstanceAuth::PersonalAccessToken(PersonalAccessToken::new("pat")))
    ///     .base_url("http://jira.internal.example.com")
    ///     .options(ClientOptions::new().allow_plain_http(true))
    ///     .build()?;
    /// # let _ = jira;
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
    /// use atlassian_rotation::{Error, InstanceClient};
    /// use atlassian_rotation::instance::InstanceAuth;
    /// use atlassian_rotation::secret::PersonalAccessToken;
    ///
    /// let builder = InstanceClient::builder(InstanceAuth::PersonalAccessToken(PersonalAccessToken::new("pat")));
    /// let err = builder.clone().build().unwrap_err();
    /// assert!(matches!(err, Error::InvalidInput { what: "base URL", .. }));
    /// assert!(builder.base_url("https://jira.example.com").build().is_ok());
    /// ```
    pub fn build(self) -> Result<InstanceClient> {
        let Some(base) = self.base_url.as_ref().map(GivenUrl::as_str) else {
            return Err(Error::invalid_input(
                "base URL",
                "an InstanceClient needs the Data Center instance's URL: set it with InstanceClientBuilder::base_url",
            ));
        };
        let header = self.auth.header()?;
        let transport = Transport::new(base, self.options.clone(), Some(Auth::Header(header)))?;
        Ok(InstanceClient {
            transport,
            options: self.options,
        })
    }
}

#[derive(Serialize)]
struct InstallBody<'a> {
    token: &'a str,
}

impl InstanceClient {
    /// Starts building a client that authenticates with `auth`; set the instance with
    /// [`base_url`](InstanceClientBuilder::base_url).
    ///
    /// ```
    /// use atlassian_rotation::InstanceClient;
    /// use atlassian_rotation::instance::InstanceAuth;
    /// use atlassian_rotation::secret::PersonalAccessToken;
    ///
    /// let jira = InstanceClient::builder(InstanceAuth::PersonalAccessToken(PersonalAccessToken::new("pat")))
    ///     .base_url("https://jira.example.com")
    ///     .build()?;
    /// # let _ = jira;
    /// # Ok::<(), atlassian_rotation::Error>(())
    /// ```
    pub fn builder(auth: InstanceAuth) -> InstanceClientBuilder {
        InstanceClientBuilder {
            auth,
            base_url: None,
            options: ClientOptions::new(),
        }
    }

    /// The options this client was built with.
    pub(crate) fn options(&self) -> &ClientOptions {
        &self.options
    }

    /// Replaces the credentials for every later request, on this client and all its clones.
    /// Fails, changing nothing, when they cannot travel in a header.
    ///
    /// ```
    /// use atlassian_rotation::InstanceClient;
    /// use atlassian_rotation::instance::InstanceAuth;
    /// use atlassian_rotation::secret::PersonalAccessToken;
    ///
    /// let jira = InstanceClient::builder(InstanceAuth::PersonalAccessToken(PersonalAccessToken::new("old-pat")))
    ///     .base_url("https://jira.example.com")
    ///     .build()?;
    /// jira.set_credentials(InstanceAuth::PersonalAccessToken(PersonalAccessToken::new("new-pat")))?;
    /// # Ok::<(), atlassian_rotation::Error>(())
    /// ```
    pub fn set_credentials(&self, auth: InstanceAuth) -> Result<()> {
        self.transport.set_auth(Auth::Header(auth.header()?));
        Ok(())
    }

    /// The instance's base URL.
    ///
    /// ```
    /// use atlassian_rotation::InstanceClient;
    /// use atlassian_rotation::instance::InstanceAuth;
    /// use atlassian_rotation::secret::PersonalAccessToken;
    ///
    /// let jira = InstanceClient::builder(InstanceAuth::PersonalAccessToken(PersonalAccessToken::new("pat")))
    ///     .base_url("https://jira.example.com/jira")
    ///     .build()?;
    /// assert_eq!(jira.base_url().as_str(), "https://jira.example.com/jira");
    /// # Ok::<(), atlassian_rotation::Error>(())
    /// ```
    pub fn base_url(&self) -> &url::Url {
        self.transport.base_url()
    }

    /// Installs a tunnel security key on the instance:
    /// `PUT {base}/rest/secure-tunneling/latest/tunnel/token` with `{"token": key}`.
    ///
    /// Idempotent, so retried on rate limits and gateway errors. The key travels only in the
    /// request body, which is never logged; any echo of it in an error body is redacted.
    ///
    /// ```no_run
    /// # async fn run(jira: atlassian_rotation::InstanceClient, tunnel: atlassian_rotation::admin::Tunnel) -> atlassian_rotation::Result<()> {
    /// let installed = jira.install_tunnel_key(&tunnel.key).await?;
    /// println!("connected to {:?}", installed.cloud_org_name);
    /// # Ok(()) }
    /// ```
    pub async fn install_tunnel_key(
        &self,
        key: &crate::secret::TunnelKey,
    ) -> Result<TunnelInstallation> {
        let path = Path::new("rest/secure-tunneling/latest/tunnel/token");
        let secret = key.expose_secret();
        let call = Call::put(path, Idempotency::Idempotent)
            .json(&InstallBody { token: secret })?
            .redacting([secret]);
        let installed: Option<TunnelInstallation> = self.transport.json(call).await?;
        Ok(installed.unwrap_or_default())
    }

    /// The account the client's credentials belong to: `GET {base}/rest/api/2/myself`.
    ///
    /// ```no_run
    /// # async fn run(jira: atlassian_rotation::InstanceClient) -> atlassian_rotation::Result<()> {
    /// let me = jira.myself().await?;
    /// println!("authenticated as {:?}", me.name);
    /// # Ok(()) }
    /// ```
    pub async fn myself(&self) -> Result<DcUser> {
        self.transport
            .json(Call::get(Path::new("rest/api/2/myself")))
            .await
    }
}
