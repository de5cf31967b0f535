//! Shared helpers: a loopback server whose catch-all fails loudly, exact matchers, and a log
//! capture for proving secrets stay out of traces.

use std::time::Duration;

use atlassian_rotation::secret::AdminApiKey;
use atlassian_rotation::{AdminClient, ClientOptions, RetryPolicy};
use wiremock::matchers::{header, method, path};
use wiremock::{Match, MockBuilder, MockServer, Request};

pub const KEY: &str = "admin-key-Sup3rS3cret-0123456789";
pub const UA: &str = concat!("atlassian-rotation/", env!("CARGO_PKG_VERSION"));

pub use crate::common::{LogCapture, strict_server as server};

/// A client on `server` that never retries.
pub fn client(server: &MockServer) -> AdminClient {
    client_with(server, RetryPolicy::none())
}

pub fn client_with(server: &MockServer, retry: RetryPolicy) -> AdminClient {
    AdminClient::builder(AdminApiKey::new(KEY))
        .base_url(server.uri())
        .options(ClientOptions::new().retry_policy(retry))
        .build()
        .unwrap()
}

/// Retries with a 1 ms backoff: enough to prove a retry happens without waiting on the clock.
pub fn quick_retries() -> RetryPolicy {
    RetryPolicy::default()
        .max_attempts(3)
        .backoff(Duration::from_millis(1), Duration::from_millis(1))
}

/// Method, exact path, the Admin key as Bearer, `Accept`, `User-Agent`, and no query.
pub fn admin_call(verb: &str, exact_path: &str) -> MockBuilder {
    wiremock::Mock::given(method(verb))
        .and(path(exact_path))
        .and(header("authorization", format!("Bearer {KEY}").as_str()))
        .and(header("accept", "application/json"))
        .and(header("user-agent", UA))
}

/// The raw query string, exactly (`None`: no `?` at all).
pub struct ExactQuery(pub Option<&'static str>);

impl Match for ExactQuery {
    fn matches(&self, request: &Request) -> bool {
        request.url.query() == self.0
    }
}

/// No request body and no `Content-Type`.
pub struct NoBody;

impl Match for NoBody {
    fn matches(&self, request: &Request) -> bool {
        request.body.is_empty() && !request.headers.contains_key("content-type")
    }
}
