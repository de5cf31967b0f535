//! Fault injection: which endpoint misbehaves, and how.

use std::time::Duration;

use time::OffsetDateTime;
use tokio::time::Instant;

use super::server::Reply;

/// An endpoint of the fake, for [`FakeAtlassian::fault`](super::FakeAtlassian::fault) and the
/// [request log](super::RequestRecord::route).
///
/// ```
/// use atlassian_rotation::testing::Route;
///
/// assert!(Route::Any.matches(Route::RulePut));
/// assert!(!Route::RuleGet.matches(Route::RulePut));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Route {
    /// `PUT /admin/v1/orgs/{orgId}/tunnels/{hostname}/token`.
    AdminRegenerate,
    /// `GET /admin/v1/orgs/{orgId}`.
    AdminOrg,
    /// `GET /users/{account_id}/manage/api-tokens`.
    UserTokens,
    /// `DELETE /users/{account_id}/manage/api-tokens/{tokenId}`.
    RevokeUserToken,
    /// `GET /admin/api-access/v1/orgs/{orgId}/api-tokens`.
    OrgTokens,
    /// `GET /admin/api-access/v1/orgs/{orgId}/api-keys`.
    AdminKeys,
    /// `GET /admin/api-access/v1/orgs/{orgId}/api-keys/count`.
    AdminKeyCount,
    /// `PATCH /admin/api-access/v1/orgs/{orgId}/api-keys/revoke/{apiKeyId}`.
    RevokeAdminKey,
    /// `GET /admin/api-access/v1/orgs/{orgId}/service-accounts`.
    ServiceAccounts,
    /// `GET /admin/api-access/v1/orgs/{orgId}/service-accounts/{id}/api-tokens`.
    ServiceAccountTokens,
    /// `DELETE /admin/api-access/v1/orgs/{orgId}/service-accounts/{id}/api-tokens`.
    RevokeServiceAccountTokens,
    /// `PUT /dc/{hostname}/rest/secure-tunneling/latest/tunnel/token`.
    InstallTunnelKey,
    /// `GET /dc/{hostname}/rest/api/2/myself`.
    DcMyself,
    /// `GET /dc/{hostname}/probe`.
    TunnelProbe,
    /// `GET /rest/api/3/myself`, on the site or on the API gateway
    /// (`/ex/jira/{cloudId}/rest/api/3/myself`).
    JiraMyself,
    /// `GET .../rest/v1/rule/summary`.
    RuleSummaries,
    /// `POST .../rest/v1/rule/summary`.
    RuleSearch,
    /// `GET .../rest/v1/rule/{uuid}`.
    RuleGet,
    /// `PUT .../rest/v1/rule/{uuid}`.
    RulePut,
    /// `PUT .../rest/v1/rule/{uuid}/state`.
    RuleState,
    /// Every request, whatever it asks for.
    Any,
}

impl Route {
    /// Whether a fault registered for `self` applies to a request for `route`.
    pub fn matches(self, route: Route) -> bool {
        self == Route::Any || self == route
    }
}

/// A signal that holds requests until a test opens it: to observe a client while a request of
/// its is in flight, with no timing involved. Clones share the gate.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use atlassian_rotation::testing::{FakeAtlassian, Fault, Gate, Route};
///
/// let fake = FakeAtlassian::start().await;
/// let gate = Gate::new();
/// fake.fault(Route::JiraMyself, Fault::wait_for(&gate));
/// let url = format!("{}/rest/api/3/myself", fake.site_base());
/// let request = tokio::spawn(reqwest::get(url));
/// gate.until_waiting(1).await; // the request arrived and is held
/// assert!(!request.is_finished());
/// gate.open();
/// assert_eq!(request.await.unwrap().unwrap().status(), 401);
/// # }
/// ```
#[derive(Debug, Clone, Default)]
pub struct Gate {
    inner: std::sync::Arc<GateInner>,
}

#[derive(Debug, Default)]
struct GateInner {
    open: tokio::sync::watch::Sender<bool>,
    waiting: std::sync::atomic::AtomicUsize,
    arrived: tokio::sync::Notify,
}

impl Gate {
    /// A closed gate.
    pub fn new() -> Self {
        Self::default()
    }

    /// Opens the gate: every request held goes on, and none is held again.
    pub fn open(&self) {
        self.inner.open.send_replace(true);
    }

    /// How many requests are held now.
    pub fn waiting(&self) -> usize {
        self.inner.waiting.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Waits until at least `n` requests are held.
    pub async fn until_waiting(&self, n: usize) {
        loop {
            let arrived = self.inner.arrived.notified();
            if self.waiting() >= n {
                return;
            }
            arrived.await;
        }
    }

    /// Holds the calling request until the gate opens.
    pub(crate) async fn hold(&self) {
        let mut open = self.inner.open.subscribe();
        if *open.borrow() {
            return;
        }
        /// Counts a held request until it goes on, or its client gives up on it.
        struct Held<'a>(&'a std::sync::atomic::AtomicUsize);
        impl Drop for Held<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
            }
        }
        self.inner
            .waiting
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let _held = Held(&self.inner.waiting);
        self.inner.arrived.notify_waiters();
        let _ = open.wait_for(|open| *open).await;
    }
}

#[derive(Debug, Clone)]
pub(crate) enum FaultKind {
    Status {
        status: u16,
        retry_after: Option<u64>,
        body: Option<String>,
        headers: Vec<(String, String)>,
    },
    Latency(Duration),
    Hold(Gate),
    DropConnection,
    MalformedJson,
    Html {
        status: u16,
    },
    Oversized {
        bytes: usize,
    },
}

/// A way for the next response(s) of a [`Route`] to go wrong.
///
/// A fault applies to the next request of its route, or to the next `n` with
/// [`Fault::times`]. By default a fault replaces the request's handling, so the fake's state does
/// not change; [`Fault::after_applying`] lets the request take effect first and then spoils the
/// response, the case of a write whose outcome the client cannot know. Malformed and oversized
/// bodies apply the request by default: they stand for a success response that does not decode.
///
/// ```
/// use std::time::Duration;
/// use atlassian_rotation::testing::Fault;
///
/// let storm = Fault::status(503).retry_after(2).times(3);
/// let slow = Fault::latency(Duration::from_secs(40));
/// let lost = Fault::drop_connection().after_applying();
/// let junk = Fault::html(502);
/// # let _ = (storm, slow, lost, junk);
/// ```
#[derive(Debug, Clone)]
pub struct Fault {
    pub(crate) kind: FaultKind,
    pub(crate) remaining: u32,
    pub(crate) apply_first: bool,
}

impl Fault {
    fn new(kind: FaultKind, apply_first: bool) -> Self {
        Self {
            kind,
            remaining: 1,
            apply_first,
        }
    }

    /// Answer with `status` and an Atlassian-style JSON error body.
    pub fn status(status: u16) -> Self {
        Self::new(
            FaultKind::Status {
                status,
                retry_after: None,
                body: None,
                headers: Vec::new(),
            },
            false,
        )
    }

    /// Adds `Retry-After: seconds` to a [`Fault::status`] (ignored by other kinds).
    pub fn retry_after(mut self, seconds: u64) -> Self {
        if let FaultKind::Status { retry_after, .. } = &mut self.kind {
            *retry_after = Some(seconds);
        }
        self
    }

    /// Adds a header, verbatim, to a [`Fault::status`] (ignored by other kinds): for values no
    /// real server should send, such as `X-RateLimit-Reset: 18446744073709551615`.
    ///
    /// ```
    /// use atlassian_rotation::testing::Fault;
    ///
    /// let hostile = Fault::status(429)
    ///     .header("Retry-After", "99999999999999999999")
    ///     .header("X-RateLimit-Reset", "18446744073709551615");
    /// # let _ = hostile;
    /// ```
    pub fn header(mut self, name: &str, value: &str) -> Self {
        if let FaultKind::Status { headers, .. } = &mut self.kind {
            headers.push((name.to_owned(), value.to_owned()));
        }
        self
    }

    /// Replaces the body of a [`Fault::status`] (ignored by other kinds).
    pub fn body(mut self, text: impl Into<String>) -> Self {
        if let FaultKind::Status { body, .. } = &mut self.kind {
            *body = Some(text.into());
        }
        self
    }

    /// Waits `delay` (on the tokio clock, so paused-time tests skip it) before handling the
    /// request normally.
    pub fn latency(delay: Duration) -> Self {
        Self::new(FaultKind::Latency(delay), false)
    }

    /// Holds the request until `gate` opens, then handles it normally.
    pub fn wait_for(gate: &Gate) -> Self {
        Self::new(FaultKind::Hold(gate.clone()), false)
    }

    /// Closes the connection without sending a response.
    pub fn drop_connection() -> Self {
        Self::new(FaultKind::DropConnection, false)
    }

    /// Answers 200 with a JSON body cut off in the middle.
    pub fn malformed_json() -> Self {
        Self::new(FaultKind::MalformedJson, true)
    }

    /// Answers `status` with an HTML error page, as a proxy or load balancer would.
    pub fn html(status: u16) -> Self {
        Self::new(FaultKind::Html { status }, false)
    }

    /// Answers 200 with a valid JSON body of `bytes` bytes (at least 11), to trip a client's
    /// response-size cap.
    pub fn oversized(bytes: usize) -> Self {
        Self::new(FaultKind::Oversized { bytes }, true)
    }

    /// Applies to the next `n` requests of the route instead of one.
    pub fn times(mut self, n: u32) -> Self {
        self.remaining = n;
        self
    }

    /// Lets the request take effect before the fault spoils the response.
    pub fn after_applying(mut self) -> Self {
        self.apply_first = true;
        self
    }
}

/// What a fault does to one request.
pub(crate) enum Effect {
    /// Wait, then handle normally.
    Delay(Duration),
    /// Wait for a gate to open, then handle normally.
    Hold(Gate),
    /// Close the connection.
    Drop,
    /// Send this response.
    Respond(Reply),
}

impl FaultKind {
    pub(crate) fn effect(&self) -> Effect {
        match self {
            FaultKind::Latency(delay) => Effect::Delay(*delay),
            FaultKind::Hold(gate) => Effect::Hold(gate.clone()),
            FaultKind::DropConnection => Effect::Drop,
            FaultKind::Status {
                status,
                retry_after,
                body,
                headers,
            } => {
                let mut reply = match body {
                    Some(text) => Reply::text(*status, "application/json", text.clone()),
                    None => Reply::errors(*status, "fake.injected-fault", "Injected fault"),
                };
                if let Some(seconds) = retry_after {
                    reply = reply.header("Retry-After", seconds.to_string());
                }
                for (name, value) in headers {
                    reply = reply.header(name, value.clone());
                }
                Effect::Respond(reply)
            }
            FaultKind::MalformedJson => Effect::Respond(Reply::text(
                200,
                "application/json",
                r#"{"data": [{"id": "0192e5ac", "name": "trunc"#.to_owned(),
            )),
            FaultKind::Html { status } => Effect::Respond(Reply::text(
                *status,
                "text/html; charset=utf-8",
                format!(
                    "<!DOCTYPE html>\n<html><head><title>{status} Error</title></head>\
                     <body><h1>{status}</h1><p>The server encountered a temporary error.</p>\
                     </body></html>\n"
                ),
            )),
            FaultKind::Oversized { bytes } => {
                let filler = bytes.saturating_sub(r#"{"data":""}"#.len());
                Effect::Respond(Reply::text(
                    200,
                    "application/json",
                    format!("{{\"data\":\"{}\"}}", "x".repeat(filler)),
                ))
            }
        }
    }
}

/// A token bucket on the tokio clock, shared by every route: each request takes a token, and a
/// request finding none is answered 429. `refill` tokens are added every `period` (never more
/// than `capacity` held), counted from when the limit was set.
pub(crate) struct RateLimit {
    capacity: u32,
    refill: u32,
    period: Duration,
    tokens: u32,
    next_refill: Instant,
    /// What the `X-RateLimit-FillRate` and `X-RateLimit-Interval-Seconds` headers advertise.
    advertised: (u32, Duration),
}

impl RateLimit {
    /// `budget` requests per `window`, refilled whole at the end of each window.
    pub fn per_window(budget: u32, window: Duration) -> Self {
        Self::bucket(budget, budget, window, (budget, window))
    }

    /// `rate` requests a second (a token every `1/rate` s), bursts of up to `burst`.
    pub fn per_second(rate: u32, burst: u32) -> Self {
        let rate = rate.max(1);
        let period = Duration::from_secs(1) / rate;
        Self::bucket(burst, 1, period, (rate, Duration::from_secs(1)))
    }

    fn bucket(capacity: u32, refill: u32, period: Duration, advertised: (u32, Duration)) -> Self {
        Self {
            capacity,
            refill,
            period,
            tokens: capacity,
            next_refill: Instant::now() + period,
            advertised,
        }
    }

    /// Takes a token for one request; `Some(429 reply)` when there is none.
    pub fn check(&mut self) -> Option<Reply> {
        let now = Instant::now();
        if self.period.is_zero() {
            self.tokens = self.capacity;
        } else if now >= self.next_refill {
            let periods = (now - self.next_refill).as_nanos() / self.period.as_nanos() + 1;
            let added = u128::from(self.refill).saturating_mul(periods);
            self.tokens = u32::try_from(u128::from(self.tokens).saturating_add(added))
                .unwrap_or(u32::MAX)
                .min(self.capacity);
            let periods = u32::try_from(periods).unwrap_or(u32::MAX);
            self.next_refill += self.period.saturating_mul(periods);
        }
        if self.tokens > 0 {
            self.tokens -= 1;
            return None;
        }
        let wait = if self.period.is_zero() {
            Duration::ZERO
        } else {
            self.next_refill - now
        };
        Some(self.refusal(wait))
    }

    /// A 429 asking to wait `wait`: `Retry-After` in whole seconds (rounded to the nearest),
    /// `X-RateLimit-Reset` as an RFC 3339 timestamp, and the bucket's shape as Atlassian
    /// Data Center advertises it (`X-RateLimit-Limit`, `-Remaining`, `-FillRate`,
    /// `-Interval-Seconds`).
    fn refusal(&self, wait: Duration) -> Reply {
        let seconds = (wait + Duration::from_millis(500)).as_secs();
        let reset = OffsetDateTime::now_utc() + wait;
        let reset = reset
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        let (fill, interval) = self.advertised;
        Reply::errors(429, "ADMIN-429-1", "Rate limit exceeded")
            .header("Retry-After", seconds.to_string())
            .header("X-RateLimit-Reset", reset)
            .header("X-RateLimit-Limit", self.capacity.to_string())
            .header("X-RateLimit-Remaining", "0".to_owned())
            .header("X-RateLimit-FillRate", fill.to_string())
            .header(
                "X-RateLimit-Interval-Seconds",
                interval.as_secs_f64().to_string(),
            )
    }
}
