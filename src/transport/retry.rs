//! When to try a request again, and how long to wait first.

use std::time::{Duration, SystemTime};

use reqwest::header::HeaderMap;

use super::Idempotency;
use crate::error::Error;

/// When and how often a request is retried.
///
/// Decided per request before the first attempt: reads and idempotent writes are retried on
/// 429, 502, 503, 504, connection failures and lost responses; a request that mints something
/// (a tunnel key) is retried only when it provably never left (the connection could not be made).
/// Waits follow capped exponential backoff with full jitter, or the server's `Retry-After` /
/// `X-RateLimit-Reset` when it gives one; no retry starts after the overall deadline.
///
/// ```
/// use std::time::Duration;
/// use atlassian_rotation::RetryPolicy;
///
/// let patient = RetryPolicy::default()
///     .max_attempts(8)
///     .backoff(Duration::from_millis(100), Duration::from_secs(5))
///     .deadline(Duration::from_secs(120));
/// let never = RetryPolicy::none();
/// # let _ = (patient, never);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryPolicy {
    pub(crate) max_attempts: u32,
    pub(crate) initial_backoff: Duration,
    pub(crate) max_backoff: Duration,
    pub(crate) deadline: Duration,
}

impl Default for RetryPolicy {
    /// 4 attempts, backoff from 200 ms capped at 10 s, and no retry after 60 s.
    fn default() -> Self {
        Self {
            max_attempts: 4,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(10),
            deadline: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// One attempt per request, never a retry.
    pub fn none() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// The most attempts per request, the first included (at least 1).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// The first backoff and the cap on any one backoff.
    pub fn backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.initial_backoff = initial;
        self.max_backoff = max.max(initial);
        self
    }

    /// No retry is started when it would begin later than this after the first attempt.
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = deadline;
        self
    }

    /// The wait before attempt `attempt + 1`, or `None` to give up with `err`.
    pub(crate) fn next_delay(
        &self,
        idempotency: Idempotency,
        err: &Error,
        attempt: u32,
        elapsed: Duration,
    ) -> Option<Duration> {
        if attempt >= self.max_attempts {
            return None;
        }
        let retry = match idempotency {
            Idempotency::Mints => matches!(err, Error::NotSent { .. }),
            Idempotency::Read | Idempotency::Idempotent => err.is_retryable(),
        };
        if !retry {
            return None;
        }
        // A server's hint is a floor: `Retry-After: 0` must not turn into a burst of retries.
        let backoff = self.jittered_backoff(attempt);
        let delay = err.retry_after().map_or(backoff, |hint| hint.max(backoff));
        (elapsed + delay <= self.deadline).then_some(delay)
    }

    fn jittered_backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .initial_backoff
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
        let cap = exp.min(self.max_backoff);
        // Full jitter: anywhere between zero and the cap.
        cap.mul_f64(fastrand::f64())
    }
}

/// The wait a response asks for: `Retry-After` (seconds or an HTTP date), else
/// `X-RateLimit-Reset` (an RFC 3339 timestamp or Unix seconds).
pub(crate) fn wait_hint(headers: &HeaderMap) -> Option<Duration> {
    let get = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    let until = |at: SystemTime| {
        at.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO)
    };
    if let Some(value) = get("retry-after") {
        if let Ok(secs) = value.parse::<u64>() {
            return Some(Duration::from_secs(secs));
        }
        if let Ok(at) = httpdate::parse_http_date(value) {
            return Some(until(at));
        }
    }
    let value = get("x-ratelimit-reset")?;
    if let Ok(epoch) = value.parse::<u64>() {
        return Some(until(SystemTime::UNIX_EPOCH + Duration::from_secs(epoch)));
    }
    let at =
        time::OffsetDateTime::parse(value, &time::format_description::well_known::Rfc3339).ok()?;
    Some(until(at.into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{ApiError, ErrorBody, RequestInfo};

    fn api(status: u16, retry_after: Option<Duration>) -> Error {
        Error::Api(Box::new(ApiError {
            request: RequestInfo::read("GET", "/x"),
            status,
            body: ErrorBody::Empty,
            trace_id: None,
            retry_after,
        }))
    }

    #[test]
    fn minting_requests_are_retried_only_when_never_sent() {
        let p = RetryPolicy::default();
        let zero = Duration::ZERO;
        assert!(
            p.next_delay(Idempotency::Mints, &api(503, None), 1, zero)
                .is_none()
        );
        assert!(
            p.next_delay(Idempotency::Mints, &api(429, None), 1, zero)
                .is_none()
        );
        let unknown = Error::OutcomeUnknown {
            request: RequestInfo {
                read_only: false,
                ..RequestInfo::read("PUT", "/t")
            },
            source: "timeout".into(),
        };
        assert!(
            p.next_delay(Idempotency::Mints, &unknown, 1, zero)
                .is_none()
        );
        assert!(
            p.next_delay(Idempotency::Idempotent, &unknown, 1, zero)
                .is_some()
        );
    }

    #[test]
    fn server_hints_are_honoured_and_deadline_and_attempts_bound_retries() {
        let p = RetryPolicy::default().deadline(Duration::from_secs(30));
        let hinted = api(429, Some(Duration::from_secs(7)));
        assert_eq!(
            p.next_delay(Idempotency::Read, &hinted, 1, Duration::ZERO),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            p.next_delay(Idempotency::Read, &hinted, 1, Duration::from_secs(25)),
            None
        );
        assert_eq!(
            p.next_delay(Idempotency::Read, &hinted, 4, Duration::ZERO),
            None
        );
        assert_eq!(
            p.next_delay(Idempotency::Read, &api(404, None), 1, Duration::ZERO),
            None
        );
        let backoff = p
            .next_delay(Idempotency::Read, &api(503, None), 3, Duration::ZERO)
            .unwrap();
        assert!(backoff <= Duration::from_millis(800));
    }

    #[test]
    fn wait_hints_parse_every_form() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", "0".parse().unwrap());
        assert_eq!(wait_hint(&h), Some(Duration::ZERO));
        h.insert("retry-after", "12".parse().unwrap());
        assert_eq!(wait_hint(&h), Some(Duration::from_secs(12)));
        let later = SystemTime::now() + Duration::from_secs(120);
        h.insert(
            "retry-after",
            httpdate::fmt_http_date(later).parse().unwrap(),
        );
        let d = wait_hint(&h).unwrap();
        assert!(
            d > Duration::from_secs(100) && d <= Duration::from_secs(120),
            "{d:?}"
        );
        let mut h = HeaderMap::new();
        h.insert("x-ratelimit-reset", "2000-01-01T00:00:00Z".parse().unwrap());
        assert_eq!(wait_hint(&h), Some(Duration::ZERO));
        assert_eq!(wait_hint(&HeaderMap::new()), None);
    }
}
