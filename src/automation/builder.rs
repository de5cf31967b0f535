//! [`AutomationClientBuilder`]: the credentials, where the Automation API is, and the options.

use url::Url;

use super::client::{AutomationClient, Product};
use crate::ClientOptions;
use crate::error::{Error, Result};
use crate::secret::ApiCredentials;
use crate::transport::{Auth, GivenUrl, Transport, check_id, parse_base_url};

/// Builds an [`AutomationClient`]: the credentials, where the Automation API is (required: one
/// of [`cloud`](Self::cloud), [`site`](Self::site) or [`base_url`](Self::base_url); the last one
/// set wins) and optionally [`ClientOptions`]. Nothing is checked until [`build`](Self::build).
/// `Debug` never shows the credentials.
///
/// ```
/// use atlassian_rotation::{ClientOptions, RetryPolicy};
/// use atlassian_rotation::automation::{AutomationClient, Product};
/// use atlassian_rotation::secret::{ApiCredentials, ApiToken};
///
/// let creds = ApiCredentials::new("admin@example.com", ApiToken::new("ATATT-secret"));
/// let builder = AutomationClient::builder(creds)
///     .cloud(Product::Jira, "4e119cf2-4b83-4195-abdf-d7a2f9bd043d")
///     .options(ClientOptions::new().retry_policy(RetryPolicy::none()));
/// assert!(!format!("{builder:?}").contains("ATATT"));
/// let client = builder.build()?;
/// assert_eq!(
///     client.base_url().as_str(),
///     "https://api.atlassian.com/automation/public/jira/4e119cf2-4b83-4195-abdf-d7a2f9bd043d"
/// );
/// # Ok::<(), atlassian_rotation::Error>(())
/// ```
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct AutomationClientBuilder {
    credentials: ApiCredentials,
    location: Option<Location>,
    options: ClientOptions,
}

/// Where the Automation API of one site is.
#[derive(Debug, Clone)]
enum Location {
    /// A full base URL: requests go to `{url}/rest/v1/...`.
    Url(GivenUrl),
    /// `https://api.atlassian.com/automation/public/{product}/{cloudId}`.
    Cloud { product: Product, cloud_id: String },
    /// `https://{site}/gateway/api/automation/public/{product}/{cloudId}`.
    Site {
        site: GivenUrl,
        product: Product,
        cloud_id: String,
    },
}

impl Location {
    /// The base URL, checked as far as its parts go (the transport checks the whole).
    fn resolve(&self, allow_plain_http: bool) -> Result<String> {
        match self {
            Self::Url(url) => Ok(url.as_str().trim().trim_end_matches('/').to_owned()),
            Self::Cloud { product, cloud_id } => {
                // Atlassian's public gateway, where the Admin APIs live too.
                let root =
                    Url::parse(crate::admin::DEFAULT_BASE_URL).expect("a constant, valid URL");
                below(root, &["automation", "public"], *product, cloud_id)
            }
            Self::Site {
                site,
                product,
                cloud_id,
            } => below(
                parse_base_url(site.as_str(), allow_plain_http)?,
                &["gateway", "api", "automation", "public"],
                *product,
                cloud_id,
            ),
        }
    }
}

/// `root` with the `fixed` segments, the product and the cloud id (escaped as one segment; an
/// empty one, `.` or `..` is refused) appended.
fn below(mut root: Url, fixed: &[&str], product: Product, cloud_id: &str) -> Result<String> {
    check_id("cloud id", cloud_id)?;
    root.path_segments_mut()
        .map_err(|()| Error::invalid_input("site URL", "cannot have a path"))?
        .pop_if_empty()
        .extend(fixed)
        .push(product.as_str())
        .push(cloud_id);
    Ok(root.into())
}

impl AutomationClientBuilder {
    pub(super) fn new(credentials: ApiCredentials) -> Self {
        Self {
            credentials,
            location: None,
            options: ClientOptions::new(),
        }
    }

    /// The Automation API on Atlassian's public gateway:
    /// `https://api.atlassian.com/automation/public/{product}/{cloudId}`.
    ///
    /// ```
    /// # use atlassian_rotation::automation::{AutomationClient, Product};
    /// # use atlassian_rotation::secret::{ApiCredentials, ApiToken};
    /// let creds = ApiCredentials::new("admin@example.com", ApiToken::new("t"));
    /// let client = AutomationClient::builder(creds.clone()).cloud(Product::Jira, "a b").build()?;
    /// assert_eq!(client.base_url().as_str(), "https://api.atlassian.com/automation/public/jira/a%20b");
    /// assert!(AutomationClient::builder(creds).cloud(Product::Jira, "..").build().is_err());
    /// # Ok::<(), atlassian_rotation::Error>(())
    /// ```
    pub fn cloud(mut self, product: Product, cloud_id: impl Into<String>) -> Self {
        self.location = Some(Location::Cloud {
            product,
            cloud_id: cloud_id.into(),
        });
        self
    }

    /// The Automation API through a site's gateway:
    /// `https://{site}/gateway/api/automation/public/{product}/{cloudId}`. `site` is a bare
    /// host (`example.atlassian.net`) or a URL, `https` (or `http` on loopback, or anywhere with
    /// [`ClientOptions::allow_plain_http`]).
    ///
    /// ```
    /// # use atlassian_rotation::automation::{AutomationClient, Product};
    /// # use atlassian_rotation::secret::{ApiCredentials, ApiToken};
    /// let creds = ApiCredentials::new("admin@example.com", ApiToken::new("t"));
    /// let client = AutomationClient::builder(creds.clone())
    ///     .site("example.atlassian.net", Product::Confluence, "c1")
    ///     .build()?;
    /// assert_eq!(
    ///     client.base_url().as_str(),
    ///     "https://example.atlassian.net/gateway/api/automation/public/confluence/c1"
    /// );
    /// let plain = AutomationClient::builder(creds).site("http://example.atlassian.net", Product::Jira, "c1");
    /// assert!(plain.build().is_err());
    /// # Ok::<(), atlassian_rotation::Error>(())
    /// ```
    pub fn site(
        mut self,
        site: impl Into<String>,
        product: Product,
        cloud_id: impl Into<String>,
    ) -> Self {
        self.location = Some(Location::Site {
            site: GivenUrl(site.into()),
            product,
            cloud_id: cloud_id.into(),
        });
        self
    }

    /// Any full base URL, for a proxy or a fake: requests go to `{url}/rest/v1/...`. A URL, or a
    /// bare host (then `https`); it must be `https`, or `http` on a loopback host, unless
    /// [`ClientOptions::allow_plain_http`].
    ///
    /// ```
    /// # use atlassian_rotation::automation::AutomationClient;
    /// # use atlassian_rotation::secret::{ApiCredentials, ApiToken};
    /// let creds = ApiCredentials::new("admin@example.com", ApiToken::new("t"));
    /// let client = AutomationClient::builder(creds.clone())
    ///     .base_url("http://127.0.0.1:8080/automation/public/jira/c1/")
    ///     .build()?;
    /// assert_eq!(client.base_url().as_str(), "http://127.0.0.1:8080/automation/public/jira/c1");
    /// assert!(AutomationClient::builder(creds).base_url("not a url").build().is_err());
    /// # Ok::<(), atlassian_rotation::Error>(())
    /// ```
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.location = Some(Location::Url(GivenUrl(url.into())));
        self
    }

    /// Connection and safety settings: timeouts, retries, response cap, plain http opt-in.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use atlassian_rotation::ClientOptions;
    /// # use atlassian_rotation::automation::{AutomationClient, Product};
    /// # use atlassian_rotation::secret::{ApiCredentials, ApiToken};
    /// let creds = ApiCredentials::new("admin@example.com", ApiToken::new("t"));
    /// let client = AutomationClient::builder(creds)
    ///     .cloud(Product::Jira, "c1")
    ///     .options(ClientOptions::new().timeout(Duration::from_secs(5)))
    ///     .build()?;
    /// # let _ = client;
    /// # Ok::<(), atlassian_rotation::Error>(())
    /// ```
    pub fn options(mut self, options: ClientOptions) -> Self {
        self.options = options;
        self
    }

    /// The client. Fails with [`Error::InvalidInput`] naming the `Automation API location`
    /// when none was given, or naming what was refused (the base URL, the site, the cloud id,
    /// credentials that cannot travel in a header, never echoing them).
    ///
    /// ```
    /// use atlassian_rotation::Error;
    /// use atlassian_rotation::automation::{AutomationClient, Product};
    /// use atlassian_rotation::secret::{ApiCredentials, ApiToken};
    ///
    /// let builder = AutomationClient::builder(ApiCredentials::new("a@example.com", ApiToken::new("t")));
    /// let err = builder.clone().build().unwrap_err();
    /// assert!(matches!(err, Error::InvalidInput { what: "Automation API location", .. }));
    /// assert!(builder.cloud(Product::Jira, "c1").build().is_ok());
    /// ```
    pub fn build(self) -> Result<AutomationClient> {
        let Some(location) = &self.location else {
            return Err(Error::invalid_input(
                "Automation API location",
                "an AutomationClient needs to know where the Automation API is: set it with \
                 AutomationClientBuilder::cloud, ::site or ::base_url",
            ));
        };
        let base = location.resolve(self.options.allow_plain_http)?;
        let auth = Auth::Header(self.credentials.basic_header()?);
        let transport = Transport::new(&base, self.options, Some(auth))?;
        Ok(AutomationClient::from_transport(transport))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_location_resolves_to_the_documented_base() {
        let resolve = |location: Location| location.resolve(false).unwrap();
        assert_eq!(
            resolve(Location::Cloud {
                product: Product::Jira,
                cloud_id: "c/1".into()
            }),
            "https://api.atlassian.com/automation/public/jira/c%2F1"
        );
        assert_eq!(
            resolve(Location::Site {
                site: "https://example.atlassian.net/".into(),
                product: Product::Jira,
                cloud_id: "c1".into()
            }),
            "https://example.atlassian.net/gateway/api/automation/public/jira/c1"
        );
        assert_eq!(
            resolve(Location::Url(" https://proxy.example.com/a/ ".into())),
            "https://proxy.example.com/a"
        );
        let plain = Location::Site {
            site: "http://example.atlassian.net".into(),
            product: Product::Jira,
            cloud_id: "c1".into(),
        };
        assert!(plain.resolve(false).is_err());
        assert!(plain.resolve(true).is_ok());
    }
}
