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
/// # Defaults
///
/// [`RetryPolicy::default()`], which [`ClientOptions`](crate::ClientOptions) uses unless given
/// another policy:
///
/// | setting | default | set with |
/// |---|---|---|
/// | attempts per request, the first included | 4 | [`max_attempts`](Self::max_attempts) |
/// | first backoff (doubled per attempt, fully jittered) | 200 ms | [`backoff`](Self::backoff) |
/// | cap on any one backoff | 10 s | [`backoff`](Self::backoff) |
/// | no retry starts later than this after the first attempt | 60 s | [`deadline`](Self::deadline) |
/// | longest wait a server's `Retry-After` is taken to ask for | 1 day | fixed: [`MAX_SERVER_WAIT`](Self::MAX_SERVER_WAIT) |
///
/// [`RetryPolicy::none()`] keeps these but makes one attempt only. The time limit of one
/// attempt is [`ClientOptions::timeout`](crate::ClientOptions::timeout), not part of this policy.
///
/// ```
/// use std::time::Duration;
/// use atlassian_rotation::RetryPolicy;
///
/// // The table above, as the code sets it.
/// assert_eq!(
///     RetryPolicy::default(),
///     RetryPolicy::none()
///         .max_attempts(4)
///         .backoff(Duration::from_millis(200), Duration::from_secs(10))
///         .deadline(Duration::from_secs(60)),
/// );
/// ```
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
    /// 4 attempts, backoff from 200 ms capped at 10 s, and no retry after 60 s (the table in
    /// the [type's documentation](RetryPolicy#defaults)).
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
    /// The longest wait a server's `Retry-After` or `X-RateLimit-Reset` is taken to ask for: one
    /// day. A longer (or overflowing) value counts as this; a value that does not parse
    /// (negative, not a number or a date, not ASCII) is ignored. A wait that would end past the
    /// policy's [deadline](Self::deadline) is not waited at all: the request fails at once with
    /// the server's answer, whose [`Error::retry_after`] says how long it asked for.
    ///
    /// ```
    /// use std::time::Duration;
    /// use atlassian_rotation::RetryPolicy;
    ///
    /// assert_eq!(RetryPolicy::MAX_SERVER_WAIT, Duration::from_secs(86_400));
    /// ```
    pub const MAX_SERVER_WAIT: Duration = Duration::from_secs(86_400);

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
    ///
    /// Never more than `deadline - elapsed`: a server's hint is a floor (`Retry-After: 0` must
    /// not turn into a burst of retries), capped at [`Self::MAX_SERVER_WAIT`], and a wait that
    /// would end past the deadline is not started.
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
        let backoff = self.jittered_backoff(attempt);
        let delay = err
            .retry_after()
            .map_or(backoff, |hint| hint.min(Self::MAX_SERVER_WAIT).max(backoff));
        let room = self.deadline.checked_sub(elapsed)?;
        (delay <= room).then_some(delay)
    }

    /// Full jitter: anywhere between zero and `min(initial * 2^(attempt-1), max_backoff)`.
    fn jittered_backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .initial_backoff
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
        let cap = exp.min(self.max_backoff);
        let cap_nanos = u64::try_from(cap.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(fastrand::u64(0..=cap_nanos)).min(cap)
    }
}

/// The wait a response asks for, at most [`RetryPolicy::MAX_SERVER_WAIT`]: `Retry-After`
/// (seconds or an HTTP date), else `X-RateLimit-Reset` (see [`reset_wait`]). Of several values of
/// one header, the longest that parses counts. Unparseable values are ignored; nothing here
/// panics or overflows, whatever the server sends.
pub(crate) fn wait_hint(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let longest = |name: &str, parse: &dyn Fn(&str) -> Option<Duration>| {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(|v| {
                let v = v.trim();
                // A whole value first (an HTTP date holds a comma), then a folded list.
                parse(v).or_else(|| v.split(',').filter_map(|p| parse(p.trim())).max())
            })
            .max()
    };
    longest("retry-after", &|v| {
        seconds(v).or_else(|| {
            let at = httpdate::parse_http_date(v).ok()?;
            Some(until(system_nanos(at), now))
        })
    })
    .or_else(|| longest("x-ratelimit-reset", &|v| reset_wait(v, now)))
    .map(|d| d.min(RetryPolicy::MAX_SERVER_WAIT))
}

/// `X-RateLimit-Reset`: an ISO 8601 / RFC 3339 timestamp (what Atlassian documents), an HTTP
/// date, or a number: below 10^9 a delay in seconds, below 10^12 Unix seconds, above that Unix
/// milliseconds (fractions allowed). A reset in the past asks for no wait.
fn reset_wait(value: &str, now: SystemTime) -> Option<Duration> {
    if let Some(n) = number(value) {
        return Some(if n < 1e9 {
            secs_f64(n)
        } else if n < 1e12 {
            until(n * 1e9, now)
        } else {
            until(n * 1e6, now)
        });
    }
    use time::format_description::well_known::{Iso8601, Rfc3339};
    let at = time::OffsetDateTime::parse(value, &Rfc3339)
        .or_else(|_| time::OffsetDateTime::parse(value, &Iso8601::DEFAULT))
        .map(|t| t.unix_timestamp_nanos() as f64)
        .ok()
        .or_else(|| httpdate::parse_http_date(value).ok().map(system_nanos))?;
    Some(until(at, now))
}

/// A non-negative decimal number of seconds (`12`, `0.5`, `99999999999999999999`), capped.
fn seconds(value: &str) -> Option<Duration> {
    number(value).map(secs_f64)
}

/// A non-negative decimal number, digits with at most one `.`: no sign, exponent, `inf` or
/// `NaN`. Huge values stay finite (`f64` saturates to about 1.8e308 before `inf`, and a string
/// of digits that long is refused).
fn number(value: &str) -> Option<f64> {
    let (int, frac) = value.split_once('.').unwrap_or((value, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if int.is_empty() || !digits(int) || !digits(frac) || value.len() > 300 {
        return None;
    }
    value.parse::<f64>().ok().filter(|n| n.is_finite())
}

/// `secs` as a duration, at most [`RetryPolicy::MAX_SERVER_WAIT`].
fn secs_f64(secs: f64) -> Duration {
    let cap = RetryPolicy::MAX_SERVER_WAIT;
    if secs.is_nan() || secs <= 0.0 {
        return Duration::ZERO;
    }
    Duration::try_from_secs_f64(secs).map_or(cap, |d| d.min(cap))
}

/// Nanoseconds since the Unix epoch (negative before it).
fn system_nanos(at: SystemTime) -> f64 {
    match at.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(after) => after.as_nanos() as f64,
        Err(before) => -(before.duration().as_nanos() as f64),
    }
}

/// The wait from `now` until `at_nanos` (Unix nanoseconds), zero when it has passed, capped.
fn until(at_nanos: f64, now: SystemTime) -> Duration {
    secs_f64((at_nanos - system_nanos(now)) / 1e9)
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
        assert_eq!(wait_hint(&h, SystemTime::now()), Some(Duration::ZERO));
        h.insert("retry-after", "12".parse().unwrap());
        assert_eq!(
            wait_hint(&h, SystemTime::now()),
            Some(Duration::from_secs(12))
        );
        let later = SystemTime::now() + Duration::from_secs(120);
        h.insert(
            "retry-after",
            httpdate::fmt_http_date(later).parse().unwrap(),
        );
        let d = wait_hint(&h, SystemTime::now()).unwrap();
        assert!(
            d > Duration::from_secs(100) && d <= Duration::from_secs(120),
            "{d:?}"
        );
        let mut h = HeaderMap::new();
        h.insert("x-ratelimit-reset", "2000-01-01T00:00:00Z".parse().unwrap());
        assert_eq!(wait_hint(&h, SystemTime::now()), Some(Duration::ZERO));
        assert_eq!(wait_hint(&HeaderMap::new(), SystemTime::now()), None);
    }

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn hint(pairs: &[(&str, &str)], now: SystemTime) -> Option<Duration> {
        let mut h = HeaderMap::new();
        for (name, value) in pairs {
            h.append(
                reqwest::header::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                reqwest::header::HeaderValue::from_str(value).unwrap(),
            );
        }
        wait_hint(&h, now)
    }

    #[test]
    fn hostile_wait_hints_are_capped_or_ignored_never_a_panic() {
        let now = at(1_700_000_000);
        let cap = Some(RetryPolicy::MAX_SERVER_WAIT);
        for (pairs, want) in [
            (&[("x-ratelimit-reset", "18446744073709551615")][..], cap),
            (&[("retry-after", "18446744073709551615")], cap),
            (&[("retry-after", "99999999999999999999")], cap),
            (
                &[
                    ("retry-after", "99999999999999999999"),
                    ("x-ratelimit-reset", "18446744073709551615"),
                ],
                cap,
            ),
            (&[("retry-after", "-5")], None),
            (&[("retry-after", "1e9")], None),
            (&[("retry-after", "inf")], None),
            (&[("retry-after", "NaN")], None),
            (&[("retry-after", "")], None),
            (&[("retry-after", "1.5")], Some(Duration::from_millis(1500))),
            (&[("retry-after", "Fri, 31 Dec 9999 23:59:59 GMT")], cap),
            (
                &[("retry-after", "Thu, 01 Jan 1970 00:00:00 GMT")],
                Some(Duration::ZERO),
            ),
            // Several values: the longest that parses.
            (
                &[
                    ("retry-after", "3"),
                    ("retry-after", "junk"),
                    ("retry-after", "7"),
                ],
                Some(Duration::from_secs(7)),
            ),
            (&[("retry-after", "3, 9")], Some(Duration::from_secs(9))),
            // X-RateLimit-Reset: a delay, Unix seconds, Unix milliseconds, ISO 8601.
            (
                &[("x-ratelimit-reset", "30")],
                Some(Duration::from_secs(30)),
            ),
            (
                &[("x-ratelimit-reset", "1700000042")],
                Some(Duration::from_secs(42)),
            ),
            (
                &[("x-ratelimit-reset", "1700000042500")],
                Some(Duration::from_millis(42_500)),
            ),
            (&[("x-ratelimit-reset", "1600000000")], Some(Duration::ZERO)),
            (&[("x-ratelimit-reset", "-1700000042")], None),
            (
                &[("x-ratelimit-reset", "2023-11-14T22:14:20Z")],
                Some(Duration::from_secs(60)),
            ),
            (
                &[("x-ratelimit-reset", "2023-11-14T22:12:00.000+00:00")],
                Some(Duration::ZERO),
            ),
            (&[("x-ratelimit-reset", "+999999-12-31T23:59:59Z")], None),
            (&[("x-ratelimit-reset", "9999-12-31T23:59:59Z")], cap),
            (
                &[("x-ratelimit-reset", "0001-01-01T00:00:00Z")],
                Some(Duration::ZERO),
            ),
            (&[("x-ratelimit-reset", "-9999-01-01T00:00:00Z")], None),
            // A bad Retry-After falls back to X-RateLimit-Reset.
            (
                &[("retry-after", "soon"), ("x-ratelimit-reset", "12")],
                Some(Duration::from_secs(12)),
            ),
        ] {
            assert_eq!(hint(pairs, now), want, "{pairs:?}");
        }
        let fraction = hint(&[("x-ratelimit-reset", "1700000000.25")], now).unwrap();
        assert!(fraction.abs_diff(Duration::from_millis(250)) < Duration::from_millis(1));
        let mut h = HeaderMap::new();
        h.insert(
            "retry-after",
            reqwest::header::HeaderValue::from_bytes("12\u{e9}".as_bytes()).unwrap(),
        );
        assert_eq!(wait_hint(&h, now), None, "not ASCII");
        // A clock far before or after the epoch is no reason to panic either.
        assert_eq!(
            hint(
                &[("x-ratelimit-reset", "1700000042")],
                at(u64::from(u32::MAX) * 1000)
            ),
            Some(Duration::ZERO)
        );
        let before_epoch = SystemTime::UNIX_EPOCH - Duration::from_secs(1 << 40);
        assert_eq!(
            hint(&[("x-ratelimit-reset", "1700000042")], before_epoch),
            cap
        );
    }

    #[test]
    fn extreme_policies_and_hints_never_overflow() {
        let p = RetryPolicy::default()
            .max_attempts(u32::MAX)
            .backoff(Duration::MAX, Duration::MAX)
            .deadline(Duration::MAX);
        for attempt in [1, 2, 31, 32, 64, u32::MAX - 1] {
            let d = p
                .next_delay(
                    Idempotency::Read,
                    &api(503, Some(Duration::MAX)),
                    attempt,
                    Duration::MAX,
                )
                .is_none();
            assert!(d, "elapsed MAX leaves no room");
            let d = p
                .next_delay(
                    Idempotency::Read,
                    &api(503, Some(Duration::MAX)),
                    attempt,
                    Duration::ZERO,
                )
                .unwrap();
            assert!(d <= Duration::MAX);
        }
        // A hint beyond the deadline is not waited: the error comes back at once.
        let p = RetryPolicy::default();
        let huge = api(429, Some(RetryPolicy::MAX_SERVER_WAIT));
        assert_eq!(
            p.next_delay(Idempotency::Read, &huge, 1, Duration::ZERO),
            None
        );
        // Within a long enough deadline, the capped hint is waited.
        let p = RetryPolicy::default().deadline(Duration::from_secs(2 * 86_400));
        let huge = api(429, Some(Duration::MAX));
        assert_eq!(
            p.next_delay(Idempotency::Read, &huge, 1, Duration::ZERO),
            Some(RetryPolicy::MAX_SERVER_WAIT)
        );
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        fn header_value() -> impl Strategy<Value = String> {
            prop_oneof![
                any::<String>(),
                "[ -~]{0,40}",
                "-?[0-9]{1,40}",
                "[0-9]{1,25}\\.[0-9]{0,25}",
                "[0-9]{1,5}, ?[0-9]{1,30}",
                (0u32..=9999, 1u32..=12, 1u32..=28, 0u32..=23).prop_map(|(y, mo, d, h)| {
                    const MONTHS: [&str; 12] = [
                        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct",
                        "Nov", "Dec",
                    ];
                    format!(
                        "Sun, {d:02} {} {y:04} {h:02}:00:00 GMT",
                        MONTHS[mo as usize - 1]
                    )
                }),
                (-9999i32..=9999, 1u32..=12, 1u32..=28, 0u32..=59)
                    .prop_map(|(y, mo, d, s)| { format!("{y:04}-{mo:02}-{d:02}T00:00:{s:02}Z") }),
                any::<u64>().prop_map(|n| n.to_string()),
                any::<f64>().prop_map(|n| n.to_string()),
            ]
        }

        fn duration() -> impl Strategy<Value = Duration> {
            prop_oneof![
                Just(Duration::ZERO),
                Just(Duration::MAX),
                any::<u64>().prop_map(Duration::from_nanos),
                (any::<u64>(), 0u32..1_000_000_000).prop_map(|(s, n)| Duration::new(s, n)),
                (0u64..1_000_000).prop_map(Duration::from_millis),
            ]
        }

        proptest! {
            /// Whatever a server sends as `Retry-After` and `X-RateLimit-Reset` (any number of
            /// values), whatever the clock says and however the policy is set: the hint is at
            /// most `MAX_SERVER_WAIT`, the delay never outlasts the deadline, nothing panics.
            #[test]
            fn no_header_overflows_the_delay(
                retry_after in proptest::collection::vec(header_value(), 0..3),
                reset in proptest::collection::vec(header_value(), 0..3),
                now_secs in any::<u64>(),
                before_epoch in any::<bool>(),
                initial in duration(),
                max in duration(),
                deadline in duration(),
                elapsed in duration(),
                attempt in any::<u32>(),
                status in prop_oneof![Just(429u16), Just(503), Just(502), Just(400)],
            ) {
                let offset = Duration::from_secs(now_secs % (1 << 40));
                let now = if before_epoch {
                    SystemTime::UNIX_EPOCH - offset
                } else {
                    SystemTime::UNIX_EPOCH + offset
                };
                let mut h = HeaderMap::new();
                for (name, values) in [("retry-after", &retry_after), ("x-ratelimit-reset", &reset)] {
                    for v in values {
                        if let Ok(v) = reqwest::header::HeaderValue::from_bytes(v.as_bytes()) {
                            h.append(name, v);
                        }
                    }
                }
                let hint = wait_hint(&h, now);
                prop_assert!(hint.is_none_or(|d| d <= RetryPolicy::MAX_SERVER_WAIT));

                let p = RetryPolicy::default()
                    .max_attempts(u32::MAX)
                    .backoff(initial, max)
                    .deadline(deadline);
                if let Some(delay) = p.next_delay(Idempotency::Read, &api(status, hint), attempt, elapsed) {
                    prop_assert!(delay <= deadline.saturating_sub(elapsed));
                    prop_assert!(delay <= RetryPolicy::MAX_SERVER_WAIT.max(p.max_backoff));
                }
            }
        }
    }
}
