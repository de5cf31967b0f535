//! The crate's one error type.
//!
//! [`Error`] tells apart what a caller must handle differently:
//!
//! | variant | the request | may have been applied |
//! |---|---|---|
//! | [`Error::InvalidInput`] | refused before sending | no |
//! | [`Error::NotSent`] | never reached the server (DNS, connect, TLS) | no |
//! | [`Error::OutcomeUnknown`] | went out, no response came back (timeout, connection lost) | **yes** |
//! | [`Error::Api`] | the server answered with a non-success status | only for a 5xx on a write |
//! | [`Error::Decode`] | the server answered 2xx with a body that does not decode | yes, for writes |
//! | [`Error::BodyTooLarge`] | the response was bigger than the configured cap | yes, for writes |
//! | [`Error::Other`], [`Error::Io`] | code outside the crate failed (a custom rotator's) | the caller knows |
//!
//! ```
//! use atlassian_rotation::Error;
//!
//! fn advice(err: &Error) -> &'static str {
//!     if err.may_have_been_applied() {
//!         "reconcile: the server may hold the change"
//!     } else if err.is_retryable() {
//!         "safe to try again later"
//!     } else {
//!         "fix the request"
//!     }
//! }
//! # let _ = advice;
//! ```

use std::fmt;
use std::time::Duration;

mod body;

pub use body::{AutomationErrorItem, ErrorBody};

/// A `Result` whose error is the crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A boxed source error.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Which request an error is about: method, path template (ids shown as `{}`), and how many
/// attempts were made. Never holds a secret: paths never carry one.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RequestInfo {
    /// HTTP method.
    pub method: String,
    /// The path template, e.g. `/admin/v1/orgs/{}/tunnels/{}/token`.
    pub template: String,
    /// Attempts made, including the one that failed.
    pub attempts: u32,
    /// Whether the request only reads (a GET, or a search sent as POST): then it cannot have
    /// changed anything, whatever happened to it.
    pub read_only: bool,
}

impl RequestInfo {
    /// A read request, for errors raised outside a response (a repeated cursor).
    pub(crate) fn read(method: &str, template: &str) -> Self {
        Self {
            method: method.to_owned(),
            template: template.to_owned(),
            attempts: 1,
            read_only: true,
        }
    }
}

impl fmt::Display for RequestInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.method, self.template)?;
        if self.attempts > 1 {
            write!(f, " (after {} attempts)", self.attempts)?;
        }
        Ok(())
    }
}

/// A non-success HTTP response.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ApiError {
    /// The request.
    pub request: RequestInfo,
    /// The HTTP status code.
    pub status: u16,
    /// The parsed body.
    pub body: ErrorBody,
    /// The `Atl-Traceid` header, which Atlassian support asks for.
    pub trace_id: Option<String>,
    /// How long the server asked to wait (`Retry-After` or `X-RateLimit-Reset`).
    pub retry_after: Option<Duration>,
}

/// Everything that can go wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Input refused before any request was sent. Nothing happened.
    #[error("invalid {what}: {reason}")]
    InvalidInput {
        /// What was refused (never its value).
        what: &'static str,
        /// Why.
        reason: String,
    },

    /// The request never reached the server (DNS, connect, TLS). Nothing happened.
    #[error("{request}: not sent: {source}")]
    NotSent {
        /// The request.
        request: RequestInfo,
        /// The cause.
        #[source]
        source: BoxError,
    },

    /// The request went out and no response came back (timeout, connection lost). The server
    /// may have applied it: reconcile before repeating anything that mints.
    #[error("{request}: outcome unknown, the server may have applied it: {source}")]
    OutcomeUnknown {
        /// The request.
        request: RequestInfo,
        /// The cause.
        #[source]
        source: BoxError,
    },

    /// The server answered with a non-success status.
    #[error(
        "{}: HTTP {}: {}{}",
        .0.request,
        .0.status,
        .0.body.summary(),
        .0.trace_id.as_ref().map(|t| format!(" (Atl-Traceid {t})")).unwrap_or_default()
    )]
    Api(Box<ApiError>),

    /// A success response whose body does not decode.
    #[error(
        "{request}: response body does not decode at `{path}`: {message}{}",
        trace_id.as_ref().map(|t| format!(" (Atl-Traceid {t})")).unwrap_or_default()
    )]
    Decode {
        /// The request.
        request: Box<RequestInfo>,
        /// The JSON path that failed (`.` for the root).
        path: String,
        /// What serde said.
        message: String,
        /// The `Atl-Traceid` header.
        trace_id: Option<String>,
    },

    /// The response body was larger than the client's cap.
    #[error("{request}: response body exceeds {limit} bytes")]
    BodyTooLarge {
        /// The request.
        request: RequestInfo,
        /// The cap, in bytes.
        limit: usize,
    },

    /// Following pages would loop: the server repeated a cursor.
    #[error("{request}: the server repeated a page cursor; stopping to avoid an endless loop")]
    RepeatedCursor {
        /// The request.
        request: RequestInfo,
    },

    /// Following pages was stopped at a limit of [`ClientOptions`](crate::ClientOptions): the
    /// server kept sending `next` links without progress (empty pages, or pages of items already
    /// listed), or more pages than the cap on one listing. The items before the limit were
    /// yielded; nothing was changed.
    #[error("{request}: stopped following pages: {limit}")]
    PaginationLimit {
        /// The listing's first request (its path template: no id, no secret).
        request: RequestInfo,
        /// Which limit was hit.
        limit: PaginationLimit,
    },

    /// A rotation step failed for a reason that is not an HTTP error.
    #[error("{step}: {reason}")]
    Rotation {
        /// The step (`regenerate`, `update`, `verify`, `revoke`, `rollback`).
        step: &'static str,
        /// Why, without secrets.
        reason: String,
    },

    /// A consumer (a file, a command, the caller's code; see [`crate::consumer`]) failed. The
    /// reason never holds the credential (a command's output is shown with it redacted).
    #[error("consumer `{consumer}`: {action} failed: {reason}")]
    Consumer {
        /// The consumer's name ([`Consumer::name`](crate::consumer::Consumer::name)).
        consumer: String,
        /// What was attempted (`install`, `verify`, `restore`, ...).
        action: &'static str,
        /// Why.
        reason: String,
    },

    /// The old credential was used after the update step finished: some place the rotation
    /// does not know still uses it (the watch of
    /// [`AutomationTokenRotator::watch_old_token`](crate::rotate::AutomationTokenRotator::watch_old_token)).
    /// Nothing was revoked; the rotation stays resumable.
    #[error(
        "the old credential {credential} was last used at {last_used}, after the update \
         finished (last use then: {baseline}): something the rotation does not know still uses \
         it, so nothing was revoked. Update that place, then run the rotation again (it updates \
         again and watches anew)"
    )]
    StillInUse {
        /// Which credential (its id, never its value).
        credential: String,
        /// When it was last used, as the API reports it.
        last_used: String,
        /// Its last use as read when the update finished (`never` if it had none).
        baseline: String,
    },

    /// The journal could not be read or written.
    #[error("journal {action} failed: {source}")]
    Journal {
        /// What was attempted.
        action: &'static str,
        /// The cause.
        #[source]
        source: BoxError,
    },

    /// Another runner changed the journal entry since this one read it (compare-and-set on
    /// the entry's version failed): nothing was written. Load the entry again and decide; the
    /// rotation driver stops, leaving the rotation to the other runner.
    #[error(
        "journal entry `{rotation_id}` changed under this runner (expected version {expected}, found {}): \
         nothing was written; another runner is working on this rotation",
        found.map_or_else(|| "none".to_owned(), |v| v.to_string())
    )]
    JournalConflict {
        /// The rotation id.
        rotation_id: String,
        /// The version this runner read.
        expected: u64,
        /// The version the journal holds (`None`: no entry).
        found: Option<u64>,
    },

    /// Another runner holds the lease on this rotation: it is running it now (or died, and the
    /// lease expires at `until`). Nothing was changed. Run again after `until`; or, once you
    /// know that runner is dead (a killed process of your own), take over at once with
    /// `RotateOptions::holder(<holder>)` or `Journal::release(rotation_id, <holder>)`.
    #[error(
        "rotation `{rotation_id}` is held by another runner (`{holder}`) until {until}: nothing was \
         changed; run again after that time, or, if that runner is dead, release its lease \
         (Journal::release with holder `{holder}`) or run with that holder (RotateOptions::holder)"
    )]
    LeaseHeld {
        /// The rotation id.
        rotation_id: String,
        /// The runner holding the lease.
        holder: String,
        /// When its lease expires (RFC 3339).
        until: String,
    },

    /// A sealed journal entry could not be opened: a wrong or missing key, a tampered or moved
    /// entry, or a credential that was never sealed. Nothing was changed and the rotation was not
    /// started afresh: supply the key it was sealed with (its id is named), or restore the entry.
    #[error("journal entry `{rotation_id}` cannot be opened: {reason} (key id `{key_id}`)")]
    Unsealable {
        /// The rotation id.
        rotation_id: String,
        /// The key id the entry names (empty if it names none).
        key_id: String,
        /// Why, without secrets.
        reason: &'static str,
    },

    /// A rotation id was reused for a different rotation: the journal holds a rotation of
    /// another kind, target, old credential or new credential under this id. Nothing was
    /// changed. Pick a new rotation id, or resume with the rotator and credentials the journal
    /// names (compare the fingerprints).
    #[error(
        "rotation id `{rotation_id}` is journaled with {what} `{journaled}`, but this run has `{given}`: \
         nothing was changed; use a new rotation id for a new rotation"
    )]
    RotationMismatch {
        /// The rotation id.
        rotation_id: String,
        /// What differs: `kind`, `target`, `old credential` or `new credential`.
        what: &'static str,
        /// What the journal holds (a fingerprint for credentials).
        journaled: String,
        /// What this run was given (a fingerprint for credentials).
        given: String,
    },

    /// The rotation id names a rotation that already finished, and this rotator cannot prove
    /// that it is the same rotation run again (it does not know the old credential, as a tunnel
    /// rotator does not): a new rotation needs a new id. Nothing was changed.
    #[error(
        "rotation `{rotation_id}` already finished at {finished_at}: nothing was changed; a new \
         rotation needs a new rotation id"
    )]
    RotationFinished {
        /// The rotation id.
        rotation_id: String,
        /// When it finished (RFC 3339).
        finished_at: String,
    },

    /// Revoking the old credential was refused because places the crate cannot read or
    /// rewrite may still hold it (masked values, stored-secret references, forms it cannot
    /// rewrite). Decided before anything changed. Check each place by hand, then accept them
    /// (for the token rotator: `accept_unreadable`) or fix them and run again.
    #[error(
        "{step}: not revoking the old credential: {} place(s) may still hold it and cannot be read \
         or rewritten ({}){}; check them, then accept them explicitly or fix them and run again",
        places.len(),
        places.iter().take(5).map(ToString::to_string).collect::<Vec<_>>().join("; "),
        if places.len() > 5 { "; ..." } else { "" }
    )]
    RevocationBlocked {
        /// The step that refused (`regenerate` before anything changed, or `finish`).
        step: &'static str,
        /// Every place that blocks revocation, redacted.
        places: Vec<crate::automation::Finding>,
    },

    /// Code outside this crate failed: a custom [`Rotator`](crate::rotate::Rotator)'s own error,
    /// a vault's, a consumer's. Made by [`Error::other`] and [`Error::failed`].
    ///
    /// The message shows `what` (the caller's words) and the source's type name, but never the
    /// source's own text: a foreign error's message may hold anything (a URL with a token in
    /// its query, a response body, a config line), and this message goes into rotation reports
    /// and the crate's logs. Read the source, which you own, with
    /// [`std::error::Error::source`] and `downcast_ref`. `Debug` shows the source's own
    /// `Debug`: keep your error type's `Debug` free of secrets, as this crate's are.
    #[error(
        "{what} failed ({source_type}; its message is withheld, as it may hold a secret: read it \
         from the error's source)"
    )]
    Other {
        /// What failed, in the caller's words (`code outside this crate` when not given).
        what: String,
        /// The source's Rust type name (code, never data).
        source_type: &'static str,
        /// The cause, as the caller gave it.
        #[source]
        source: BoxError,
    },

    /// A file or stream operation failed (made from [`std::io::Error`] by `?`). The message is
    /// the operating system's (`No such file or directory (os error 2)`) or, for an I/O error
    /// that wraps another error, only its kind: the wrapped error's text is not shown, as it
    /// may hold anything. The source is the I/O error itself.
    #[error("I/O failed: {}", io_text(source))]
    Io {
        /// The cause.
        #[source]
        source: std::io::Error,
    },

    /// A handed-over new credential cannot replace the old one: it does not work, it is not
    /// where it must be listed, it lost a permission the old one had, or it expires too soon.
    /// Decided in the regenerate step, before anything changed (mint a fitting one and run
    /// again: the rotation id is still free), and checked again before the update installs it.
    #[error(
        "{step}: the new {credential} cannot replace the old one: {problem}; nothing was changed"
    )]
    ReplacementRefused {
        /// The step that refused (`regenerate`, or `update` when the credential changed since).
        step: &'static str,
        /// What was handed over (`Admin API key`).
        credential: &'static str,
        /// Why it was refused.
        problem: ReplacementProblem,
    },
}

impl From<std::io::Error> for Error {
    /// Any I/O failure, with `?`.
    ///
    /// ```
    /// fn read(path: &std::path::Path) -> atlassian_rotation::Result<String> {
    ///     Ok(std::fs::read_to_string(path)?)
    /// }
    /// let err = read(std::path::Path::new("/nonexistent/config.toml")).unwrap_err();
    /// assert!(err.to_string().starts_with("I/O failed: "), "{err}");
    /// ```
    fn from(source: std::io::Error) -> Self {
        Self::Io { source }
    }
}

/// What an I/O error's message may show: the OS's text, or only the kind of an error that
/// wraps another (whose text is foreign).
fn io_text(err: &std::io::Error) -> String {
    if err.get_ref().is_some() {
        err.kind().to_string()
    } else {
        err.to_string()
    }
}

/// Why a handed-over credential cannot replace the old one, in [`Error::ReplacementRefused`].
///
/// ```
/// use std::time::Duration;
/// use atlassian_rotation::error::ReplacementProblem;
///
/// let problem = ReplacementProblem::MissingScopes { missing: vec!["delete:keys:admin".into()] };
/// assert_eq!(problem.to_string(), "it lacks scopes the old one has: delete:keys:admin");
/// let soon = ReplacementProblem::ExpiresTooSoon {
///     expires_at: "2026-01-08T00:00:00.000Z".into(),
///     minimum: Duration::from_secs(30 * 86_400),
/// };
/// assert!(soon.to_string().contains("at least 30 days"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReplacementProblem {
    /// It is the old credential itself.
    SameAsOld,
    /// It does not authenticate where it must work.
    NotAccepted {
        /// What the check observed (an error without secrets).
        reason: String,
    },
    /// It cannot be found, or told apart from others, in the list where it must appear.
    NotListed {
        /// What the list showed.
        reason: String,
    },
    /// It lacks scopes the old credential has.
    MissingScopes {
        /// The old credential's scopes it lacks.
        missing: Vec<String>,
    },
    /// The old credential is not limited by scopes, and this one is.
    NarrowsUnscoped {
        /// The scopes it is limited to.
        scopes: Vec<String>,
    },
    /// Its expiry is not given, or cannot be read.
    ExpiryUnknown,
    /// It has expired, or expires before the minimum validity the caller asked for.
    ExpiresTooSoon {
        /// Its expiry, as listed.
        expires_at: String,
        /// The minimum validity asked for.
        minimum: Duration,
    },
}

/// `duration` in days when it is whole days, else in seconds.
fn days_or_seconds(duration: Duration) -> String {
    let secs = duration.as_secs();
    if secs % 86_400 == 0 && duration.subsec_nanos() == 0 {
        format!("{} days", secs / 86_400)
    } else {
        format!("{secs} s")
    }
}

impl fmt::Display for ReplacementProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::SameAsOld => f.write_str("it is the old one"),
            Self::NotAccepted { reason } => write!(f, "it is not accepted ({reason})"),
            Self::NotListed { reason } => write!(f, "{reason}"),
            Self::MissingScopes { missing } => {
                write!(f, "it lacks scopes the old one has: {}", missing.join(", "))
            }
            Self::NarrowsUnscoped { scopes } => write!(
                f,
                "the old one has no scopes (it is not limited by scopes), and this one is limited to {}",
                scopes.join(", ")
            ),
            Self::ExpiryUnknown => f.write_str("its expiry is not listed or cannot be read"),
            Self::ExpiresTooSoon {
                expires_at,
                minimum,
            } => write!(
                f,
                "it expires at {expires_at}, and it must stay valid for at least {}",
                days_or_seconds(*minimum)
            ),
        }
    }
}

/// The limit that stopped a listing, in [`Error::PaginationLimit`].
///
/// ```
/// use atlassian_rotation::error::PaginationLimit;
///
/// let limit = PaginationLimit::NoProgress { pages: 10 };
/// assert_eq!(
///     limit.to_string(),
///     "10 consecutive pages brought no new item (ClientOptions::max_empty_pages)"
/// );
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PaginationLimit {
    /// This many consecutive pages in a row were empty or held only items already listed, and
    /// each still pointed to a next page.
    NoProgress {
        /// The consecutive pages without a new item ([`ClientOptions::max_empty_pages`](crate::ClientOptions::max_empty_pages)).
        pages: u32,
    },
    /// The listing fetched this many pages and the last still pointed to a next one.
    MaxPages {
        /// The pages fetched ([`ClientOptions::max_pages`](crate::ClientOptions::max_pages)).
        pages: u64,
    },
}

impl fmt::Display for PaginationLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoProgress { pages } => write!(
                f,
                "{pages} consecutive pages brought no new item (ClientOptions::max_empty_pages)"
            ),
            Self::MaxPages { pages } => write!(
                f,
                "reached the cap of {pages} pages per listing (ClientOptions::max_pages)"
            ),
        }
    }
}

impl Error {
    /// A consumer's failure: `consumer` names it, `reason` must not hold a secret.
    pub(crate) fn consumer(
        consumer: impl Into<String>,
        action: &'static str,
        reason: impl Into<String>,
    ) -> Self {
        Self::Consumer {
            consumer: consumer.into(),
            action,
            reason: reason.into(),
        }
    }

    pub(crate) fn invalid_input(what: &'static str, reason: impl Into<String>) -> Self {
        Self::InvalidInput {
            what,
            reason: reason.into(),
        }
    }

    /// A rotation step failed for a reason you state (not an HTTP error, and no underlying
    /// error to keep): a custom [`Rotator`](crate::rotate::Rotator)'s `verify` that observed
    /// the old credential still in use, say. `reason` is shown as is: never put a secret in it.
    ///
    /// ```
    /// use atlassian_rotation::Error;
    ///
    /// let err = Error::rotation("verify", "the service still answers 401 with the new token");
    /// assert_eq!(err.to_string(), "verify: the service still answers 401 with the new token");
    /// ```
    pub fn rotation(step: &'static str, reason: impl Into<String>) -> Self {
        Self::Rotation {
            step,
            reason: reason.into(),
        }
    }

    /// An error from code outside this crate, kept whole as the source ([`Error::Other`]).
    /// Its message names the source's type, never its text (which may hold a secret); use
    /// [`Error::failed`] to say what failed in words.
    ///
    /// Implement `From<YourError> for atlassian_rotation::Error` with it once, and `?` converts
    /// your errors in a custom [`Rotator`](crate::rotate::Rotator).
    ///
    /// ```
    /// use std::error::Error as _;
    /// use atlassian_rotation::Error;
    ///
    /// #[derive(Debug)]
    /// struct VaultDown { url: String }
    /// impl std::fmt::Display for VaultDown {
    ///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    ///         write!(f, "vault unreachable at {}", self.url)
    ///     }
    /// }
    /// impl std::error::Error for VaultDown {}
    ///
    /// let err = Error::other(VaultDown { url: "https://vault/?token=s3cr3t".into() });
    /// assert!(!err.to_string().contains("s3cr3t"));
    /// assert!(err.to_string().contains("VaultDown"), "{err}");
    /// let source = err.source().unwrap().downcast_ref::<VaultDown>().unwrap();
    /// assert_eq!(source.url, "https://vault/?token=s3cr3t");
    /// ```
    pub fn other<E: Into<BoxError>>(source: E) -> Self {
        Self::failed("code outside this crate", source)
    }

    /// Like [`Error::other`], saying what failed in words (`what` is shown: never put a secret
    /// in it).
    ///
    /// ```
    /// use atlassian_rotation::Error;
    ///
    /// let io = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
    /// let err = Error::failed("writing the service config", io);
    /// assert!(err.to_string().starts_with("writing the service config failed ("), "{err}");
    /// ```
    pub fn failed<E: Into<BoxError>>(what: impl Into<String>, source: E) -> Self {
        Self::Other {
            what: what.into(),
            source_type: std::any::type_name::<E>(),
            source: source.into(),
        }
    }

    /// The HTTP status, for [`Error::Api`].
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Api(e) => Some(e.status),
            _ => None,
        }
    }

    /// The `Atl-Traceid` of the response, when there was one.
    pub fn trace_id(&self) -> Option<&str> {
        match self {
            Self::Api(e) => e.trace_id.as_deref(),
            Self::Decode { trace_id, .. } => trace_id.as_deref(),
            _ => None,
        }
    }

    /// How long the server asked to wait before trying again.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Api(e) => e.retry_after,
            _ => None,
        }
    }

    /// The request the error is about.
    pub fn request(&self) -> Option<&RequestInfo> {
        match self {
            Self::NotSent { request, .. }
            | Self::OutcomeUnknown { request, .. }
            | Self::BodyTooLarge { request, .. }
            | Self::RepeatedCursor { request }
            | Self::PaginationLimit { request, .. } => Some(request),
            Self::Decode { request, .. } => Some(request),
            Self::Api(e) => Some(&e.request),
            _ => None,
        }
    }

    /// How many attempts were made for the failing request (0 when none was sent).
    pub fn attempts(&self) -> u32 {
        self.request().map_or(0, |r| r.attempts)
    }

    /// Whether the same request may succeed if tried again later: rate limits, gateway errors,
    /// unreachable servers and timeouts. Says nothing about whether repeating it is *safe*; see
    /// [`Error::may_have_been_applied`].
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Api(e) => matches!(e.status, 429 | 502 | 503 | 504),
            Self::NotSent { .. } | Self::OutcomeUnknown { .. } => true,
            _ => false,
        }
    }

    /// Whether the server may hold the effect of the request even though the call failed: no
    /// response came back, a 5xx answered a write, or a write's success body did not decode.
    pub fn may_have_been_applied(&self) -> bool {
        let is_write = |r: &RequestInfo| !r.read_only;
        match self {
            Self::OutcomeUnknown { .. } => true,
            Self::Api(e) => e.status >= 500 && is_write(&e.request),
            Self::Decode { request, .. } => is_write(request),
            Self::BodyTooLarge { request, .. } => is_write(request),
            _ => false,
        }
    }

    /// Whether the server refused the credential (401) or its permissions (403).
    pub fn is_auth_failure(&self) -> bool {
        matches!(self.status(), Some(401 | 403))
    }

    /// Whether the server answered 404.
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(method: &str) -> RequestInfo {
        RequestInfo {
            method: method.into(),
            template: "/x/{}".into(),
            attempts: 3,
            read_only: method == "GET",
        }
    }

    #[test]
    fn api_error_message_carries_status_body_trace_and_attempts() {
        let err = Error::Api(Box::new(ApiError {
            request: req("PUT"),
            status: 400,
            body: ErrorBody::parse(
                br#"{"errors":[{"code":"INVALID","title":"Bad rule","field":"rule.name"}]}"#,
            ),
            trace_id: Some("abc123".into()),
            retry_after: None,
        }));
        assert_eq!(
            err.to_string(),
            "PUT /x/{} (after 3 attempts): HTTP 400: INVALID: Bad rule (field rule.name) (Atl-Traceid abc123)"
        );
        assert_eq!(err.trace_id(), Some("abc123"));
        assert_eq!(err.attempts(), 3);
        assert!(!err.is_retryable());
        assert!(!err.may_have_been_applied());
    }

    #[test]
    fn keyed_and_text_bodies_parse() {
        assert_eq!(
            ErrorBody::parse(br#"{"key":"not-found","context":"no such token"}"#),
            ErrorBody::Keyed {
                key: "not-found".into(),
                message: Some("no such token".into())
            }
        );
        let html = "<html>".repeat(2000);
        match ErrorBody::parse(html.as_bytes()) {
            ErrorBody::Text(t) => assert_eq!(t.len(), ErrorBody::TEXT_CAP),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn applied_and_retryable_classification() {
        let api = |method, status| {
            Error::Api(Box::new(ApiError {
                request: req(method),
                status,
                body: ErrorBody::Empty,
                trace_id: None,
                retry_after: None,
            }))
        };
        assert!(api("PUT", 502).may_have_been_applied());
        assert!(!api("GET", 502).may_have_been_applied());
        assert!(api("GET", 429).is_retryable());
        assert!(!api("GET", 404).is_retryable());
        assert!(api("GET", 401).is_auth_failure());
        let unknown = Error::OutcomeUnknown {
            request: req("PUT"),
            source: "timed out".into(),
        };
        assert!(unknown.may_have_been_applied());
    }
}
