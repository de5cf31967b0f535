//! The log of requests the fake received.

use std::fmt;

use super::Route;
use crate::secret::REDACTED;

/// The headers a [`RequestRecord`] keeps (besides `Authorization`, which it keeps apart).
pub(crate) const KEPT_HEADERS: &[&str] =
    &["accept", "content-type", "user-agent", "x-atlassian-token"];

/// One request the fake received, in arrival order. Its `Debug` never shows the
/// `Authorization` header or the body: both may hold credentials.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use atlassian_rotation::testing::{FakeAtlassian, Route};
///
/// let fake = FakeAtlassian::start().await;
/// let url = format!("{}/rest/api/3/myself", fake.site_base());
/// reqwest::Client::new().get(url).bearer_auth("not-a-token").send().await.unwrap();
///
/// let log = fake.requests();
/// assert_eq!(log[0].route(), Some(Route::JiraMyself));
/// assert_eq!(log[0].auth_scheme(), Some("Bearer"));
/// assert!(!format!("{log:?}").contains("not-a-token"));
/// # }
/// ```
#[derive(Clone)]
pub struct RequestRecord {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) query: Option<String>,
    pub(crate) route: Option<Route>,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) authorization: Option<String>,
    pub(crate) body: Vec<u8>,
}

impl RequestRecord {
    /// The HTTP method, e.g. `PUT`.
    pub fn method(&self) -> &str {
        &self.method
    }

    /// The path as sent (still percent-encoded), e.g. `/admin/v1/orgs/o-1`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The query string without `?`, if there was one.
    pub fn query(&self) -> Option<&str> {
        self.query.as_deref()
    }

    /// The endpoint the request was routed to; `None` when the fake has no such route.
    pub fn route(&self) -> Option<Route> {
        self.route
    }

    /// A kept header (`Accept`, `Content-Type`, `User-Agent`, `X-Atlassian-Token`), by
    /// case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The scheme of the `Authorization` header (`Basic`, `Bearer`), without the credential;
    /// `None` without the header or without a scheme.
    pub fn auth_scheme(&self) -> Option<&str> {
        self.authorization
            .as_deref()
            .and_then(|a| a.split_once(' '))
            .map(|(scheme, _)| scheme)
    }

    /// The full `Authorization` header, credential included. For assertions only; never print
    /// it.
    pub fn expose_authorization(&self) -> Option<&str> {
        self.authorization.as_deref()
    }

    /// The request body. It may hold credentials (a rule with tokens in its headers).
    pub fn expose_body(&self) -> &[u8] {
        &self.body
    }

    /// The body parsed as JSON, when it is JSON.
    pub fn body_json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

impl fmt::Debug for RequestRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let auth = self
            .authorization
            .as_ref()
            .map(|_| match self.auth_scheme() {
                Some(scheme) => format!("{scheme} {REDACTED}"),
                None => REDACTED.to_owned(),
            });
        f.debug_struct("RequestRecord")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("query", &self.query)
            .field("route", &self.route)
            .field("headers", &self.headers)
            .field("authorization", &auth)
            .field(
                "body",
                &format_args!("[{} bytes, {REDACTED}]", self.body.len()),
            )
            .finish()
    }
}
