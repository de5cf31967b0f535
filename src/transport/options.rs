//! Connection and safety settings shared by every client.

use std::time::Duration;

use super::RetryPolicy;

/// Connection and safety settings shared by every client, handed to a client's builder with
/// `.options(..)`. Where requests go is not among them: each builder owns its base URL.
///
/// ```
/// use std::time::Duration;
/// use atlassian_rotation::{AdminClient, ClientOptions};
/// use atlassian_rotation::secret::AdminApiKey;
///
/// let options = ClientOptions::new()
///     .timeout(Duration::from_secs(10))
///     .max_body_bytes(8 << 20);
/// let admin = AdminClient::builder(AdminApiKey::new("admin-key"))
///     .base_url("http://127.0.0.1:8080")
///     .options(options)
///     .build()?;
/// # let _ = admin;
/// # Ok::<(), atlassian_rotation::Error>(())
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ClientOptions {
    pub(crate) allow_plain_http: bool,
    pub(crate) connect_timeout: Duration,
    pub(crate) timeout: Duration,
    pub(crate) max_body_bytes: usize,
    pub(crate) retry: RetryPolicy,
    pub(crate) max_empty_pages: u32,
    pub(crate) max_pages: u64,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            allow_plain_http: false,
            connect_timeout: Duration::from_secs(10),
            timeout: Duration::from_secs(30),
            max_body_bytes: 32 << 20,
            retry: RetryPolicy::default(),
            max_empty_pages: 10,
            max_pages: 100_000,
        }
    }
}

impl ClientOptions {
    /// The defaults: https only (loopback excepted), a 10 s connect
    /// timeout, a 30 s timeout per attempt, a 32 MiB response cap, [`RetryPolicy::default`], and
    /// listings stopped after 10 consecutive pages without a new item or 100,000 pages.
    pub fn new() -> Self {
        Self::default()
    }

    /// Accepts a plain `http` base URL on a non-loopback host. Credentials then travel in clear.
    ///
    /// ```
    /// use atlassian_rotation::{ClientOptions, InstanceClient};
    /// use atlassian_rotation::instance::InstanceAuth;
    /// use atlassian_rotation::secret::PersonalAccessToken;
    ///
    /// let pat = InstanceAuth::PersonalAccessToken(PersonalAccessToken::new("pat"));
    /// let plain = InstanceClient::builder(pat).base_url("http://jira.internal.example.com");
    /// assert!(plain.clone().build().is_err());
    /// assert!(plain.options(ClientOptions::new().allow_plain_http(true)).build().is_ok());
    /// ```
    pub fn allow_plain_http(mut self, allow: bool) -> Self {
        self.allow_plain_http = allow;
        self
    }

    /// How long to wait for a connection.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long one attempt may take, from sending to the end of the body.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The largest response body accepted; a larger one ends in [`Error::BodyTooLarge`](crate::Error::BodyTooLarge).
    pub fn max_body_bytes(mut self, bytes: usize) -> Self {
        self.max_body_bytes = bytes;
        self
    }

    /// When and how often reads and idempotent writes are retried.
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// How many consecutive pages without a new item (empty, or holding only items the listing
    /// already yielded) a listing follows before it ends with
    /// [`Error::PaginationLimit`](crate::Error::PaginationLimit) (default 10, at least 1). A
    /// server that keeps answering empty pages, each with a fresh cursor, is then not followed
    /// forever.
    ///
    /// ```
    /// use atlassian_rotation::ClientOptions;
    ///
    /// let options = ClientOptions::new().max_empty_pages(3).max_pages(500);
    /// # let _ = options;
    /// ```
    pub fn max_empty_pages(mut self, pages: u32) -> Self {
        self.max_empty_pages = pages.max(1);
        self
    }

    /// The most pages one listing fetches (default 100,000, at least 1): when the last of them
    /// still points to a next page, the listing yields that page's items and then ends with
    /// [`Error::PaginationLimit`](crate::Error::PaginationLimit).
    ///
    /// ```
    /// use atlassian_rotation::ClientOptions;
    ///
    /// let options = ClientOptions::new().max_pages(1_000);
    /// # let _ = options;
    /// ```
    pub fn max_pages(mut self, pages: u64) -> Self {
        self.max_pages = pages.max(1);
        self
    }
}
