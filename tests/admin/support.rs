//! Shared helpers: a loopback server whose catch-all fails loudly, exact matchers, and a log
//! capture for proving secrets stay out of traces.

use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use atlassian_rotation::secret::AdminApiKey;
use atlassian_rotation::{AdminClient, ClientOptions, RetryPolicy};
use wiremock::matchers::{any, header, method, path};
use wiremock::{Match, MockBuilder, MockServer, Request, ResponseTemplate};

pub const KEY: &str = "admin-key-Sup3rS3cret-0123456789";
pub const UA: &str = concat!("atlassian-rotation/", env!("CARGO_PKG_VERSION"));

/// A server with a catch-all that answers 599 and must never be hit: any request that no exact
/// mock matched fails the test (when the server drops, and through the 599 status).
pub async fn server() -> MockServer {
    let server = MockServer::start().await;
    wiremock::Mock::given(any())
        .respond_with(
            ResponseTemplate::new(599).set_body_string("UNEXPECTED REQUEST: no exact mock matched"),
        )
        .with_priority(u8::MAX)
        .expect(0)
        .named("catch-all")
        .mount(&server)
        .await;
    server
}

/// A client on `server` that never retries.
pub fn client(server: &MockServer) -> AdminClient {
    client_with(server, RetryPolicy::none())
}

pub fn client_with(server: &MockServer, retry: RetryPolicy) -> AdminClient {
    AdminClient::with_options(
        AdminApiKey::new(KEY),
        ClientOptions::new()
            .base_url(server.uri())
            .retry_policy(retry),
    )
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

/// Everything `tracing` writes at any level while the guard lives, for the current thread.
#[derive(Clone, Default)]
pub struct LogCapture(Arc<Mutex<Vec<u8>>>);

impl LogCapture {
    pub fn install(&self) -> tracing::subscriber::DefaultGuard {
        let sink = self.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_span_events(tracing_subscriber::fmt::format::FmtSpan::FULL)
            .with_writer(move || sink.clone())
            .finish();
        tracing::subscriber::set_default(subscriber)
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl io::Write for LogCapture {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
