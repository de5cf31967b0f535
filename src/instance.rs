//! [`InstanceClient`]: a customer's Data Center instance (Jira, Confluence, ...): install a
//! tunnel security key, and check who a credential belongs to.

use std::fmt;

use reqwest::header::HeaderValue;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::secret::{
    Password, PersonalAccessToken, REDACTED, basic_password_header, bearer_header,
};
use crate::transport::{Auth, Call, ClientOptions, Idempotency, Path, Transport};

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

/// A client for one Data Center instance. Cheap to clone.
///
/// ```
/// use atlassian_rotation::InstanceClient;
/// use atlassian_rotation::instance::InstanceAuth;
/// use atlassian_rotation::secret::PersonalAccessToken;
///
/// let jira = InstanceClient::new(
///     "https://jira.example.com/jira",
///     InstanceAuth::PersonalAccessToken(PersonalAccessToken::new("NjQ2-pat")),
/// )?;
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

#[derive(Serialize)]
struct InstallBody<'a> {
    token: &'a str,
}

impl InstanceClient {
    /// A client for the instance at `base_url` (including any context path, such as `/jira`),
    /// with default [`ClientOptions`]. The URL must be `https` (or `http` on loopback).
    pub fn new(base_url: &str, auth: InstanceAuth) -> Result<Self> {
        Self::with_options(auth, ClientOptions::new().base_url(base_url))
    }

    /// A client with explicit options, which must carry the instance's base URL.
    ///
    /// ```
    /// use atlassian_rotation::{ClientOptions, InstanceClient};
    /// use atlassian_rotation::instance::InstanceAuth;
    /// use atlassian_rotation::secret::Password;
    ///
    /// let auth = InstanceAuth::basic("jira-admin", Password::new("pw"));
    /// assert!(InstanceClient::with_options(auth.clone(), ClientOptions::new()).is_err());
    /// let jira = InstanceClient::with_options(
    ///     auth,
    ///     ClientOptions::new().base_url("https://jira.example.com"),
    /// )?;
    /// # let _ = jira;
    /// # Ok::<(), atlassian_rotation::Error>(())
    /// ```
    pub fn with_options(auth: InstanceAuth, options: ClientOptions) -> Result<Self> {
        let Some(base) = options.base_url.clone() else {
            return Err(Error::invalid_input(
                "base URL",
                "an InstanceClient needs the Data Center instance's URL: set ClientOptions::base_url",
            ));
        };
        let header = auth.header()?;
        let transport = Transport::new(&base, options.clone(), Some(Auth::Header(header)))?;
        Ok(Self { transport, options })
    }

    /// The options this client was built with (its base URL included).
    pub(crate) fn options(&self) -> &ClientOptions {
        &self.options
    }

    /// Replaces the credentials for every later request, on this client and all its clones.
    ///
    /// ```
    /// use atlassian_rotation::InstanceClient;
    /// use atlassian_rotation::instance::InstanceAuth;
    /// use atlassian_rotation::secret::PersonalAccessToken;
    ///
    /// let jira = InstanceClient::new(
    ///     "https://jira.example.com",
    ///     InstanceAuth::PersonalAccessToken(PersonalAccessToken::new("old-pat")),
    /// )?;
    /// jira.set_auth(InstanceAuth::PersonalAccessToken(PersonalAccessToken::new("new-pat")))?;
    /// # Ok::<(), atlassian_rotation::Error>(())
    /// ```
    pub fn set_auth(&self, auth: InstanceAuth) -> Result<()> {
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
    /// let jira = InstanceClient::new(
    ///     "https://jira.example.com/jira",
    ///     InstanceAuth::PersonalAccessToken(PersonalAccessToken::new("pat")),
    /// )?;
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
