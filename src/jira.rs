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
//! let before = JiraClient::new("example.atlassian.net", &old)?.myself().await?;
//! let after = JiraClient::new("example.atlassian.net", &new)?.myself().await?;
//! assert_eq!(before.account_id, after.account_id);
//! # Ok(()) }
//! ```

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use url::Url;

use crate::error::{Error, Result};
use crate::secret::ApiCredentials;
use crate::transport::{Auth, Call, ClientOptions, Path, Transport, parse_base_url};

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

/// A client for a Jira Cloud site, authenticated with basic `email:api_token`.
///
/// Cheap to clone; `Debug` never shows the credentials.
///
/// ```
/// use atlassian_rotation::jira::JiraClient;
/// use atlassian_rotation::secret::{ApiCredentials, ApiToken};
///
/// let creds = ApiCredentials::new("ops@example.com", ApiToken::new("ATATT-secret"));
/// let client = JiraClient::new("https://example.atlassian.net", &creds).unwrap();
/// assert_eq!(client.site_url().as_str(), "https://example.atlassian.net/");
/// assert!(!format!("{client:?}").contains("ATATT"));
/// ```
#[derive(Debug, Clone)]
pub struct JiraClient {
    transport: Transport,
}

impl JiraClient {
    /// A client for `site` (`example.atlassian.net` or `https://example.atlassian.net`).
    ///
    /// ```
    /// # use atlassian_rotation::jira::JiraClient;
    /// # use atlassian_rotation::secret::{ApiCredentials, ApiToken};
    /// let creds = ApiCredentials::new("ops@example.com", ApiToken::new("t"));
    /// assert!(JiraClient::new("example.atlassian.net", &creds).is_ok());
    /// assert!(JiraClient::new("http://example.atlassian.net", &creds).is_err());
    /// ```
    pub fn new(site: &str, credentials: &ApiCredentials) -> Result<Self> {
        Self::with_options(site, credentials, ClientOptions::new())
    }

    /// A client with connection options. `site` is the base URL; `options.base_url` is ignored.
    ///
    /// ```
    /// # use atlassian_rotation::jira::JiraClient;
    /// # use atlassian_rotation::secret::{ApiCredentials, ApiToken};
    /// use atlassian_rotation::ClientOptions;
    /// let creds = ApiCredentials::new("ops@example.com", ApiToken::new("t"));
    /// let client = JiraClient::with_options("http://127.0.0.1:9", &creds, ClientOptions::new()).unwrap();
    /// # let _ = client;
    /// ```
    pub fn with_options(
        site: &str,
        credentials: &ApiCredentials,
        options: ClientOptions,
    ) -> Result<Self> {
        let auth = Auth::Header(credentials.basic_header()?);
        Self::with_auth(site, auth, options)
    }

    /// A client for `site` that authenticates as another client does.
    pub(crate) fn with_auth(site: &str, auth: Auth, mut options: ClientOptions) -> Result<Self> {
        let base = site_url(site, options.allow_plain_http)?;
        options.base_url = Some(base.into());
        Ok(Self {
            transport: Transport::new("", options, Some(auth))?,
        })
    }

    /// The site's base URL.
    ///
    /// ```
    /// # use atlassian_rotation::jira::JiraClient;
    /// # use atlassian_rotation::secret::{ApiCredentials, ApiToken};
    /// let creds = ApiCredentials::new("ops@example.com", ApiToken::new("t"));
    /// let client = JiraClient::new("example.atlassian.net", &creds).unwrap();
    /// assert_eq!(client.site_url().host_str(), Some("example.atlassian.net"));
    /// ```
    pub fn site_url(&self) -> &Url {
        self.transport.base_url()
    }

    /// Uses other credentials from the next request on (for example the new token of a
    /// rotation). Clones of this client share the change.
    ///
    /// ```
    /// # use atlassian_rotation::jira::JiraClient;
    /// # use atlassian_rotation::secret::{ApiCredentials, ApiToken};
    /// let client = JiraClient::new("example.atlassian.net", &ApiCredentials::new("a@example.com", ApiToken::new("old"))).unwrap();
    /// client.set_credentials(&ApiCredentials::new("a@example.com", ApiToken::new("new"))).unwrap();
    /// ```
    pub fn set_credentials(&self, credentials: &ApiCredentials) -> Result<()> {
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

/// Turns a site given as a host (`example.atlassian.net`) or a URL into a checked base URL: https,
/// or http on loopback (or anywhere when `allow_plain_http`).
pub(crate) fn site_url(site: &str, allow_plain_http: bool) -> Result<Url> {
    let site = site.trim();
    if site.is_empty() {
        return Err(Error::invalid_input("site URL", "is empty"));
    }
    let full = if site.contains("://") {
        site.to_owned()
    } else {
        format!("https://{site}")
    };
    let url = parse_base_url(&full, allow_plain_http)?;
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sites_are_given_as_hosts_or_urls() {
        assert_eq!(
            site_url("example.atlassian.net", false).unwrap().as_str(),
            "https://example.atlassian.net/"
        );
        assert_eq!(
            site_url(" https://example.atlassian.net/ ", false)
                .unwrap()
                .as_str(),
            "https://example.atlassian.net/"
        );
        assert!(site_url("", false).is_err());
        assert!(site_url("http://example.atlassian.net", false).is_err());
        assert!(site_url("example.atlassian.net/?x=1", false).is_err());
    }
}
