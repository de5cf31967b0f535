//! The one place HTTP happens.
//!
//! Every client builds [`ClientOptions`] into a transport that joins escaped path segments onto
//! the base URL, adds authentication, enforces timeouts and a response-size cap, retries what is
//! safe to retry ([`RetryPolicy`]), never follows redirects, decodes bodies with the JSON path of
//! any failure, and records a `tracing` span per request that never holds a secret.

mod given;
mod options;
mod pace;
mod page;
mod path;
mod redact;
mod retry;

use std::sync::{Arc, RwLock};

use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use tracing::Instrument as _;
use url::Url;
use zeroize::Zeroizing;

use crate::error::{ApiError, BoxError, Error, RequestInfo, Result};

pub(crate) use given::GivenUrl;
pub use options::ClientOptions;
pub use page::Paginated;
pub(crate) use page::{Page, next_page_url, paginate, unpaged};
pub(crate) use path::{Path, check_id};
pub(crate) use redact::credential_like_runs;
use redact::{auth_secrets, redact_quoted, redacted_error_body};
pub use retry::RetryPolicy;
use retry::wait_hint;

/// The `User-Agent` every request carries.
pub const USER_AGENT: &str = concat!("atlassian-rotation/", env!("CARGO_PKG_VERSION"));

/// Authentication a transport adds to every request.
#[derive(Clone)]
pub(crate) enum Auth {
    /// A prebuilt, sensitive `Authorization` header value.
    Header(HeaderValue),
}

/// Whether a request may be sent twice. Decided per request, before the first attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Idempotency {
    /// Reads: always safe to repeat.
    Read,
    /// Writes whose repetition has the same effect as one.
    Idempotent,
    /// Writes that mint something: never repeated once they may have been sent.
    Mints,
}

/// Where a request goes: a path below the base URL, or an absolute URL on the base's origin (a
/// pagination link).
pub(crate) enum Target {
    Path(Path),
    Url { url: Url, template: String },
}

/// One request, described before it is sent.
pub(crate) struct Call {
    method: Method,
    target: Target,
    query: Vec<(String, String)>,
    body: Option<Vec<u8>>,
    idempotency: Idempotency,
    /// Values the request carries that an error body must not quote back.
    secrets: Vec<Zeroizing<String>>,
    /// No attempt starts after this instant once it had to wait (for the pace or a retry):
    /// see [`Transport::send_until`].
    not_after: Option<tokio::time::Instant>,
    /// The first attempt starts without waiting for the pace (see [`Call::unpaced`]).
    unpaced: bool,
}

impl Call {
    pub(crate) fn get(path: Path) -> Self {
        Self::new(Method::GET, Target::Path(path), Idempotency::Read)
    }

    pub(crate) fn get_url(url: Url, template: impl Into<String>) -> Self {
        Self::new(
            Method::GET,
            Target::Url {
                url,
                template: template.into(),
            },
            Idempotency::Read,
        )
    }

    pub(crate) fn new(method: Method, target: Target, idempotency: Idempotency) -> Self {
        Self {
            method,
            target,
            query: Vec::new(),
            body: None,
            idempotency,
            secrets: Vec::new(),
            not_after: None,
            unpaced: false,
        }
    }

    /// The first attempt starts at once, without waiting for the pace after a rate limit (its
    /// retries wait as any): for a write that must follow the read it was compared against,
    /// which waited for the pace itself.
    pub(crate) fn unpaced(mut self) -> Self {
        self.unpaced = true;
        self
    }

    /// Sends no attempt that had to wait (for the pace after a rate limit, or before a retry)
    /// past `at`: [`Transport::send_until`] then gives up without sending it.
    pub(crate) fn not_after(mut self, at: tokio::time::Instant) -> Self {
        self.not_after = Some(at);
        self
    }

    /// Values this request carries (in its body) that an error response must not quote back:
    /// they are replaced by `[redacted]` in the parsed error body, whatever their length, also
    /// where the server escaped them (JSON, percent-encoding, HTML), before the body is cut to
    /// size. The credentials of the `Authorization` header are always treated so. Values shorter
    /// than [`redact::MIN_SUBSTRING`] are redacted only where they stand alone.
    pub(crate) fn redacting<S: AsRef<str>>(mut self, secrets: impl IntoIterator<Item = S>) -> Self {
        self.secrets.extend(
            secrets
                .into_iter()
                .map(|s| Zeroizing::new(s.as_ref().to_owned())),
        );
        self
    }

    pub(crate) fn put(path: Path, idempotency: Idempotency) -> Self {
        Self::new(Method::PUT, Target::Path(path), idempotency)
    }

    pub(crate) fn post_read(path: Path) -> Self {
        // A search: POST by transport, a read by meaning.
        Self::new(Method::POST, Target::Path(path), Idempotency::Read)
    }

    pub(crate) fn delete(path: Path) -> Self {
        Self::new(Method::DELETE, Target::Path(path), Idempotency::Idempotent)
    }

    pub(crate) fn query(mut self, key: &str, value: impl ToString) -> Self {
        self.query.push((key.to_owned(), value.to_string()));
        self
    }

    pub(crate) fn json<B: serde::Serialize + ?Sized>(mut self, body: &B) -> Result<Self> {
        let bytes = serde_json::to_vec(body)
            .map_err(|e| Error::invalid_input("request body", e.to_string()))?;
        self.body = Some(bytes);
        Ok(self)
    }

    fn template(&self) -> &str {
        match &self.target {
            Target::Path(p) => p.template(),
            Target::Url { template, .. } => template,
        }
    }

    fn info(&self, attempts: u32) -> RequestInfo {
        RequestInfo {
            method: self.method.to_string(),
            template: self.template().to_owned(),
            attempts,
            read_only: self.idempotency == Idempotency::Read,
        }
    }
}

/// A success response, read in full.
pub(crate) struct Response {
    pub(crate) status: StatusCode,
    pub(crate) body: Vec<u8>,
    pub(crate) trace_id: Option<String>,
    pub(crate) info: RequestInfo,
    /// When the attempt that got this answer was sent (after any wait for the pace or a retry):
    /// what the answer says was true at some moment after this.
    pub(crate) sent: tokio::time::Instant,
}

impl Response {
    /// Decodes the body, naming the JSON path that failed.
    pub(crate) fn decode<T: DeserializeOwned>(&self) -> Result<T> {
        let body: &[u8] = if self.body.iter().all(u8::is_ascii_whitespace) {
            b"null"
        } else {
            &self.body
        };
        // The fast path; only a body that fails is decoded again to find the failing path.
        if let Ok(value) = serde_json::from_slice(body) {
            return Ok(value);
        }
        let error = |path: String, message: String| Error::Decode {
            request: Box::new(self.info.clone()),
            path,
            message: redact_quoted(&message),
            trace_id: self.trace_id.clone(),
        };
        let mut de = serde_json::Deserializer::from_slice(body);
        let value = serde_path_to_error::deserialize(&mut de)
            .map_err(|e| error(e.path().to_string(), e.inner().to_string()))?;
        // The fast path failed on what follows the value: a body with trailing bytes is not
        // the one JSON value the API sends, and decoding it must fail as the fast path did.
        de.end().map_err(|e| error(".".to_owned(), e.to_string()))?;
        Ok(value)
    }
}

/// A configured HTTP transport. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Transport {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    base: Url,
    auth: RwLock<Option<Auth>>,
    options: ClientOptions,
    /// Rate-limit answers received (429, and 503 with `Retry-After`), for callers that adapt
    /// their concurrency.
    rate_limited: std::sync::atomic::AtomicU64,
    /// Paces requests once a rate limit was seen.
    pacer: pace::Pacer,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport")
            .field("base", &self.inner.base.as_str())
            .field("auth", &"[redacted]")
            .finish()
    }
}

impl Transport {
    /// Builds a transport on `base` (checked by [`parse_base_url`]), the one place a client's
    /// builder and the tunnel probe turn a base URL and options into HTTP.
    pub(crate) fn new(base: &str, options: ClientOptions, auth: Option<Auth>) -> Result<Self> {
        let base = parse_base_url(base, options.allow_plain_http)?;
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(options.connect_timeout)
            .timeout(options.timeout)
            .user_agent(USER_AGENT);
        if is_loopback(&base) {
            builder = builder.no_proxy();
        }
        let http = builder
            .build()
            .map_err(|e| Error::invalid_input("HTTP client configuration", e.to_string()))?;
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                base,
                auth: RwLock::new(auth),
                options,
                rate_limited: std::sync::atomic::AtomicU64::new(0),
                pacer: pace::Pacer::default(),
            }),
        })
    }

    /// A transport on the same base URL, HTTP client (and so connection pool) and options,
    /// with credentials of its own: its clones share them, this transport's clones do not.
    pub(crate) fn with_auth(&self, auth: Option<Auth>) -> Self {
        Self {
            inner: Arc::new(Inner {
                http: self.inner.http.clone(),
                base: self.inner.base.clone(),
                auth: RwLock::new(auth),
                options: self.inner.options.clone(),
                rate_limited: std::sync::atomic::AtomicU64::new(0),
                pacer: pace::Pacer::default(),
            }),
        }
    }

    /// The base URL requests are joined onto.
    pub(crate) fn base_url(&self) -> &Url {
        &self.inner.base
    }

    /// How many rate-limit answers (429, and 503 with `Retry-After`) this transport and its
    /// clones received.
    pub(crate) fn rate_limited(&self) -> u64 {
        self.inner
            .rate_limited
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The requests per second this transport paces itself at since a rate limit; `None`
    /// before any.
    pub(crate) fn paced_rate(&self) -> Option<f64> {
        self.inner.pacer.rate()
    }

    /// The credentials used now.
    pub(crate) fn auth(&self) -> Option<Auth> {
        self.inner
            .auth
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Replaces the credentials used from the next request on.
    pub(crate) fn set_auth(&self, auth: Auth) {
        *self.inner.auth.write().unwrap_or_else(|p| p.into_inner()) = Some(auth);
    }

    /// Replaces the credentials with what `replace` makes of the ones in use, under one lock,
    /// when it makes any: a rotation switches a client it shares with its caller from the old
    /// credential to the new one without clobbering credentials the caller set meanwhile.
    /// Returns whether they were replaced.
    pub(crate) fn replace_auth(&self, replace: impl FnOnce(Option<&Auth>) -> Option<Auth>) -> bool {
        let mut auth = self.inner.auth.write().unwrap_or_else(|p| p.into_inner());
        match replace(auth.as_ref()) {
            Some(new) => {
                *auth = Some(new);
                true
            }
            None => false,
        }
    }

    /// Sends `call` and decodes a JSON body.
    pub(crate) async fn json<T: DeserializeOwned>(&self, call: Call) -> Result<T> {
        self.send(call).await?.decode()
    }

    /// Sends `call` and ignores the body.
    pub(crate) async fn unit(&self, call: Call) -> Result<()> {
        self.send(call).await.map(drop)
    }

    /// Resolves the URL of a call; an absolute URL must share the base's origin, so credentials
    /// never travel to a host the caller did not configure.
    fn url(&self, call: &Call) -> Result<Url> {
        let mut url = match &call.target {
            Target::Path(path) => path.join_onto(&self.inner.base),
            Target::Url { url, .. } => {
                if url.origin() != self.inner.base.origin() {
                    return Err(Error::invalid_input(
                        "pagination link",
                        format!(
                            "points to {}, not to the configured {}",
                            url.origin().ascii_serialization(),
                            self.inner.base.origin().ascii_serialization()
                        ),
                    ));
                }
                url.clone()
            }
        };
        if !call.query.is_empty() {
            let mut pairs = url.query_pairs_mut();
            for (k, v) in &call.query {
                pairs.append_pair(k, v);
            }
        }
        Ok(url)
    }

    /// Sends `call`, retrying what the policy allows, and returns a success response.
    pub(crate) async fn send(&self, call: Call) -> Result<Response> {
        self.send_until(call).await?.ok_or_else(|| {
            Error::invalid_input("request", "not sent: it waited past its `not_after`")
        })
    }

    /// [`send`](Self::send), except that `Ok(None)` says an attempt that had to wait (for the
    /// pace or a retry) would have started after the call's [`Call::not_after`], and was not
    /// sent: the caller decides again (a rule write compares the rule again first).
    pub(crate) async fn send_until(&self, call: Call) -> Result<Option<Response>> {
        let url = self.url(&call)?;
        let policy = &self.inner.options.retry;
        let span = tracing::debug_span!(
            "atlassian_request",
            method = %call.method,
            path = %call.template(),
            status = tracing::field::Empty,
            trace_id = tracing::field::Empty,
            attempts = tracing::field::Empty,
        );
        async {
            let started = tokio::time::Instant::now();
            let mut attempt = 0u32;
            loop {
                attempt += 1;
                let paced = if call.unpaced && attempt == 1 {
                    None
                } else {
                    self.inner.pacer.reserve()
                };
                if let Some(start) = paced {
                    tokio::time::sleep_until(start).await;
                }
                let waited = attempt > 1 || paced.is_some();
                if waited
                    && call
                        .not_after
                        .is_some_and(|at| tokio::time::Instant::now() > at)
                {
                    tracing::debug!(attempt, "not sent: waited past its deadline");
                    return Ok(None);
                }
                let outcome = self.attempt(&call, &url, attempt).await;
                let span = tracing::Span::current();
                span.record("attempts", attempt);
                let err = match outcome {
                    Ok(response) => {
                        span.record("status", response.status.as_u16());
                        if let Some(t) = &response.trace_id {
                            span.record("trace_id", t.as_str());
                        }
                        return Ok(Some(response));
                    }
                    Err(err) => err,
                };
                if let Some(status) = err.status() {
                    span.record("status", status);
                    if status == 429 || (status == 503 && err.retry_after().is_some()) {
                        self.inner
                            .rate_limited
                            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                }
                if let Some(t) = err.trace_id() {
                    span.record("trace_id", t);
                }
                let Some(delay) =
                    policy.next_delay(call.idempotency, &err, attempt, started.elapsed())
                else {
                    return Err(err);
                };
                // An error body can echo the request (and a secret in it): log its status only.
                let reason = match &err {
                    Error::Api(api) => format!("HTTP {}", api.status),
                    other => other.to_string(),
                };
                let delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
                tracing::debug!(attempt, delay_ms, error = %reason, "retrying");
                tokio::time::sleep(delay).await;
            }
        }
        .instrument(span)
        .await
    }

    async fn attempt(&self, call: &Call, url: &Url, attempt: u32) -> Result<Response> {
        let info = call.info(attempt);
        let mut request = self
            .inner
            .http
            .request(call.method.clone(), url.clone())
            .header(header::ACCEPT, "application/json");
        let auth = self
            .inner
            .auth
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        if let Some(Auth::Header(value)) = &auth {
            request = request.header(header::AUTHORIZATION, value);
        }
        if let Some(body) = &call.body {
            request = request
                .header(header::CONTENT_TYPE, "application/json")
                .body(body.clone());
        }
        let sent = tokio::time::Instant::now();
        let mut response = request
            .send()
            .await
            .map_err(|e| send_error(e, info.clone()))?;
        let status = response.status();
        let trace_id = header_str(response.headers(), "atl-traceid");
        let retry_after = (!status.is_success())
            .then(|| wait_hint(response.headers(), std::time::SystemTime::now()))
            .flatten();
        if status.as_u16() == 429 || (status.as_u16() == 503 && retry_after.is_some()) {
            self.inner.pacer.limited(response.headers());
        } else {
            self.inner.pacer.accepted();
        }
        let cap = if status.is_success() {
            self.inner.options.max_body_bytes
        } else {
            self.inner.options.max_body_bytes.min(64 << 10)
        };
        let mut body = Vec::new();
        let mut truncated = false;
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len().saturating_add(chunk.len()) > cap {
                        if !status.is_success() {
                            // An error page: what was read is enough to describe it (its cut
                            // end is redacted as the start of a secret, if it looks like one).
                            let room = cap.saturating_sub(body.len()).min(chunk.len());
                            body.extend_from_slice(&chunk[..room]);
                            truncated = true;
                            break;
                        }
                        return Err(Error::BodyTooLarge {
                            request: info,
                            limit: cap,
                        });
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(e) => return Err(send_error(e, info)),
            }
        }
        if status.is_success() {
            return Ok(Response {
                status,
                body,
                trace_id,
                info,
                sent,
            });
        }
        let mut needles = auth_secrets(auth.as_ref());
        needles.extend(call.secrets.iter().cloned());
        // Redacted before it is cut to size: a secret across the cut must not leak in part.
        let parsed = redacted_error_body(&body, truncated, &needles);
        Err(Error::Api(Box::new(ApiError {
            request: info,
            status: status.as_u16(),
            body: parsed,
            trace_id,
            retry_after,
        })))
    }
}

fn header_str(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// Maps a reqwest failure: nothing sent when the connection never came up, unknown otherwise.
fn send_error(err: reqwest::Error, request: RequestInfo) -> Error {
    let not_sent = err.is_connect() || err.is_builder();
    let source: BoxError = Box::new(err.without_url());
    if not_sent {
        Error::NotSent { request, source }
    } else {
        Error::OutcomeUnknown { request, source }
    }
}

/// Whether a URL's host is loopback: 127.0.0.0/8, `::1` or `localhost`.
pub(crate) fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// Parses and checks a base URL: a URL, or a bare host (`example.atlassian.net`, then `https`);
/// https, or http on loopback unless plain http is allowed; no credentials, query or fragment.
pub(crate) fn parse_base_url(raw: &str, allow_plain_http: bool) -> Result<Url> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(Error::invalid_input("base URL", "is empty"));
    }
    let url = if raw.contains("://") {
        Url::parse(raw)
    } else {
        Url::parse(&format!("https://{raw}"))
    }
    .map_err(|e| Error::invalid_input("base URL", e.to_string()))?;
    match url.scheme() {
        "https" => {}
        "http" if allow_plain_http || is_loopback(&url) => {}
        "http" => {
            return Err(Error::invalid_input(
                "base URL",
                "plain http is accepted only for loopback hosts unless allow_plain_http is set",
            ));
        }
        other => {
            return Err(Error::invalid_input(
                "base URL",
                format!("scheme `{other}` is not http(s)"),
            ));
        }
    }
    if url.host().is_none() {
        return Err(Error::invalid_input("base URL", "has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Error::invalid_input(
            "base URL",
            "must not carry credentials; pass them to the client instead",
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(Error::invalid_input(
            "base URL",
            "must not have a query or fragment",
        ));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_are_checked() {
        assert!(parse_base_url("https://api.atlassian.com", false).is_ok());
        assert!(parse_base_url("http://127.0.0.1:9", false).is_ok());
        assert!(parse_base_url("http://127.8.9.1:9", false).is_ok());
        assert!(parse_base_url("http://[::1]:9", false).is_ok());
        assert!(parse_base_url("http://localhost:9", false).is_ok());
        assert!(parse_base_url("http://jira.example.com", false).is_err());
        assert!(parse_base_url("http://jira.example.com", true).is_ok());
        assert!(parse_base_url("ftp://jira.example.com", true).is_err());
        assert!(parse_base_url("https://user:pw@jira.example.com", false).is_err());
        assert!(parse_base_url("https://jira.example.com/?a=b", false).is_err());
        assert!(parse_base_url("not a url", false).is_err());
        assert!(parse_base_url(" ", false).is_err());
    }

    #[test]
    fn a_bare_host_is_an_https_base_url() {
        let url = |raw| parse_base_url(raw, false).map(String::from);
        assert_eq!(
            url("example.atlassian.net").unwrap(),
            "https://example.atlassian.net/"
        );
        assert_eq!(
            url(" https://example.atlassian.net/ ").unwrap(),
            "https://example.atlassian.net/"
        );
        assert_eq!(
            url("jira.example.com/jira").unwrap(),
            "https://jira.example.com/jira"
        );
        assert!(url("http://example.atlassian.net").is_err());
        assert!(url("example.atlassian.net/?x=1").is_err());
    }
}
