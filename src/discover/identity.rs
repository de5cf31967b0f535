//! Who a credential belongs to, when the rule that holds it does not say: Jira's `/myself`,
//! asked once per distinct credential, with the credential as a Bearer token.

use std::fmt;

use futures::StreamExt as _;
use url::Url;

use crate::error::{Error, Result};
use crate::jira::{Account, JiraClient};
use crate::secret::{ApiToken, bearer_header};
use crate::transport::{Auth, ClientOptions, GivenUrl, check_id, parse_base_url};

/// The default number of identity requests in flight: a handful, since each distinct
/// credential is asked once.
const DEFAULT_CONCURRENCY: usize = 4;

/// The default number of distinct credentials asked about in one run: enough for a site's
/// own integrations, few enough that a rule set written to hold thousands of distinct values
/// cannot turn one radar run into thousands of requests.
const DEFAULT_MAX_CREDENTIALS: usize = 100;

/// Opt-in identity resolution for [`ExpiryRadar`](super::ExpiryRadar): for every distinct
/// credential found in rules without an account (a `Bearer` header, a bare API-key header, a
/// URL query parameter), ask Jira `GET /rest/api/3/myself` once who it authenticates as.
///
/// # How a credential is presented
///
/// Atlassian accepts API tokens two ways. A classic (unscoped) API token authenticates only as
/// HTTP Basic `email:token`. A scoped API token, and every service-account token (those are
/// always scoped), is used on the API gateway `https://api.atlassian.com/ex/jira/{cloudId}`,
/// where it can also be sent as `Authorization: Bearer <token>` without any email (Atlassian
/// support: "Manage API tokens for your Atlassian account" and "Manage API tokens for service
/// accounts"; the KB "401 Unauthorized error when service account accesses Jira or Confluence
/// API"). So a credential whose rule names no account is presented **only** as a Bearer token
/// on the gateway: `GET {gateway}/rest/api/3/myself`. It is never paired with a guessed email:
/// a wrong `email:token` pair counts as a failed password login for that account on a real
/// site, and enough of them put the account behind a CAPTCHA. A classic token found without
/// its email is therefore answered 401 and reported as unresolved
/// ([`Unresolved::Refused`](super::Unresolved::Refused)), unless the same token also sits in a
/// `Basic` value elsewhere, whose email then names its account without any request.
///
/// Each distinct credential is asked at most once per [`ExpiryRadar::run`](super::ExpiryRadar::run)
/// (the answers are cached for that call only), with at most
/// [`concurrency`](Self::concurrency) requests in flight, and at most
/// [`max_credentials`](Self::max_credentials) distinct credentials are asked about in all
/// (the uses of the others are reported as [`Unresolved::OverLimit`](super::Unresolved::OverLimit)).
/// The requests only read. A credential
/// is never logged, never part of an error or a report: reports name it by its
/// [fingerprint](crate::secret::ApiToken::fingerprint).
///
/// ```
/// use atlassian_rotation::discover::ResolveIdentities;
///
/// let on_atlassian = ResolveIdentities::cloud("4e119cf2-4b83-4195-abdf-d7a2f9bd043d");
/// let on_a_fake = ResolveIdentities::base_url("http://127.0.0.1:8080/ex/jira/cloud-1").concurrency(2);
/// # let _ = (on_atlassian, on_a_fake);
/// ```
#[derive(Debug, Clone)]
pub struct ResolveIdentities {
    gateway: Gateway,
    options: ClientOptions,
    concurrency: usize,
    pub(super) max_credentials: usize,
}

#[derive(Debug, Clone)]
enum Gateway {
    Cloud(String),
    Url(GivenUrl),
}

impl ResolveIdentities {
    /// Resolve on Atlassian's API gateway for the site `cloud_id`:
    /// `https://api.atlassian.com/ex/jira/{cloudId}`. An empty id, `.` or `..` is refused when
    /// the radar runs, before any request.
    pub fn cloud(cloud_id: impl Into<String>) -> Self {
        Self::new(Gateway::Cloud(cloud_id.into()))
    }

    /// Resolve on the gateway at `url` (a proxy, or a fake): requests go to
    /// `{url}/rest/api/3/myself`.
    pub fn base_url(url: impl Into<String>) -> Self {
        Self::new(Gateway::Url(GivenUrl(url.into())))
    }

    fn new(gateway: Gateway) -> Self {
        Self {
            gateway,
            options: ClientOptions::new(),
            concurrency: DEFAULT_CONCURRENCY,
            max_credentials: DEFAULT_MAX_CREDENTIALS,
        }
    }

    /// Connection options for the identity requests (timeouts, retries, plain http for a
    /// test server).
    ///
    /// ```
    /// use std::time::Duration;
    /// use atlassian_rotation::ClientOptions;
    /// use atlassian_rotation::discover::ResolveIdentities;
    ///
    /// let resolve = ResolveIdentities::cloud("c1").options(ClientOptions::new().timeout(Duration::from_secs(10)));
    /// # let _ = resolve;
    /// ```
    pub fn options(mut self, options: ClientOptions) -> Self {
        self.options = options;
        self
    }

    /// How many identity requests may be in flight at once (default 4; at least 1).
    ///
    /// ```
    /// use atlassian_rotation::discover::ResolveIdentities;
    /// let resolve = ResolveIdentities::cloud("c1").concurrency(8);
    /// # let _ = resolve;
    /// ```
    pub fn concurrency(mut self, concurrency: usize) -> Self {
        self.concurrency = concurrency.max(1);
        self
    }

    /// How many distinct credentials one radar run asks about at most (default 100): a rule
    /// set holding more (anyone who may edit rules can write thousands of distinct values)
    /// costs no more requests than that. The uses of the credentials left unasked are
    /// reported as [`Unresolved::OverLimit`](super::Unresolved::OverLimit).
    ///
    /// ```
    /// use atlassian_rotation::discover::ResolveIdentities;
    /// let resolve = ResolveIdentities::cloud("c1").max_credentials(500);
    /// # let _ = resolve;
    /// ```
    pub fn max_credentials(mut self, max: usize) -> Self {
        self.max_credentials = max;
        self
    }

    /// The gateway's base URL, checked.
    pub(crate) fn gateway(&self) -> Result<String> {
        match &self.gateway {
            Gateway::Url(url) => Ok(url.as_str().to_owned()),
            Gateway::Cloud(cloud_id) => {
                check_id("cloud id", cloud_id)?;
                let mut url = Url::parse("https://api.atlassian.com/").expect("a valid constant");
                url.path_segments_mut()
                    .map_err(|()| Error::invalid_input("gateway URL", "cannot have a path"))?
                    .pop_if_empty()
                    .extend(["ex", "jira", cloud_id]);
                Ok(url.into())
            }
        }
    }

    /// Asks who each credential authenticates as, each once, `concurrency` at a time. Fails
    /// only on a bad gateway URL, before any request; every per-credential failure is an
    /// answer.
    pub(crate) async fn resolve(
        &self,
        credentials: Vec<ApiToken>,
    ) -> Result<Vec<(ApiToken, Resolution)>> {
        let gateway = self.gateway()?;
        // Fails early on a URL that cannot be a base, whatever the credentials.
        parse_base_url(&gateway, self.options.allow_plain_http)?;
        let answers = futures::stream::iter(credentials)
            .map(|credential| {
                let gateway = gateway.as_str();
                async move {
                    let answer = self.myself(gateway, &credential).await;
                    (credential, answer)
                }
            })
            .buffer_unordered(self.concurrency)
            .collect()
            .await;
        Ok(answers)
    }

    async fn myself(&self, gateway: &str, credential: &ApiToken) -> Resolution {
        let header = match bearer_header("credential", credential.expose_secret()) {
            Ok(header) => header,
            Err(_) => {
                return Resolution::Failed(
                    "cannot be sent as a Bearer header (whitespace or control characters)"
                        .to_owned(),
                );
            }
        };
        let client = match JiraClient::with_auth(
            Some(gateway),
            Auth::Header(header),
            self.options.clone(),
        ) {
            Ok(client) => client,
            Err(e) => return Resolution::Failed(e.to_string()),
        };
        match client.myself().await {
            Ok(account) => Resolution::Account(account),
            Err(e) if e.is_auth_failure() => Resolution::Refused(e.status().unwrap_or(401)),
            Err(e) => Resolution::Failed(e.to_string()),
        }
    }
}

/// What `/myself` said about one credential.
#[derive(Clone)]
pub(crate) enum Resolution {
    /// It authenticates as this account.
    Account(Account),
    /// Refused (401 or 403): not a credential the gateway takes as Bearer (a classic token, an
    /// expired or revoked one, another service's secret).
    Refused(u16),
    /// No answer (a network failure, a 5xx after retries), as one line of text.
    Failed(String),
}

impl fmt::Debug for Resolution {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Account(account) => write!(f, "Account({})", account.account_id),
            Self::Refused(status) => write!(f, "Refused({status})"),
            Self::Failed(why) => write!(f, "Failed({why})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gateway_is_derived_from_the_cloud_id_and_bad_ids_are_refused() {
        let gateway = ResolveIdentities::cloud("a b").gateway().unwrap();
        assert_eq!(gateway, "https://api.atlassian.com/ex/jira/a%20b");
        assert!(ResolveIdentities::cloud("..").gateway().is_err());
        assert_eq!(
            ResolveIdentities::base_url("http://127.0.0.1:9/x")
                .gateway()
                .unwrap(),
            "http://127.0.0.1:9/x"
        );
    }
}
