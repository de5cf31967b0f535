//! What a rotation run is told: its id, audit metadata, lease and the remint decision.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Who rotated, why, from where and under which policy: copied into the report for the audit
/// trail.
///
/// ```
/// use atlassian_rotation::rotate::Audit;
/// let audit = Audit::new()
///     .reason("annual expiry")
///     .initiated_by("ops@example.com")
///     .initiated_from("cron@bastion-1")
///     .policy_id("SEC-ROT-90D");
/// assert_eq!(audit.policy_id.as_deref(), Some("SEC-ROT-90D"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Audit {
    /// Why the rotation runs.
    pub reason: Option<String>,
    /// The person or system that started it.
    pub initiated_by: Option<String>,
    /// Where it was started from (host, pipeline, ticket).
    pub initiated_from: Option<String>,
    /// The rotation policy that requires it (an id in the caller's policy catalogue).
    pub policy_id: Option<String>,
}

impl Audit {
    /// Empty audit metadata.
    pub fn new() -> Self {
        Self::default()
    }
    /// Sets the reason.
    pub fn reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }
    /// Sets who started the rotation.
    pub fn initiated_by(mut self, who: impl Into<String>) -> Self {
        self.initiated_by = Some(who.into());
        self
    }
    /// Sets where the rotation was started from.
    pub fn initiated_from(mut self, place: impl Into<String>) -> Self {
        self.initiated_from = Some(place.into());
        self
    }
    /// Sets the id of the rotation policy that requires it.
    pub fn policy_id(mut self, id: impl Into<String>) -> Self {
        self.policy_id = Some(id.into());
        self
    }
}

/// Options for [`rotate`](super::rotate()).
///
/// ```
/// use atlassian_rotation::rotate::{Audit, RotateOptions};
/// let options = RotateOptions::new("tunnel-2026-11").audit(Audit::new().reason("expiry"));
/// # let _ = options;
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RotateOptions {
    /// Names this rotation in the journal. Running again with the same id resumes it.
    pub rotation_id: String,
    /// Audit metadata for the report.
    pub audit: Audit,
    /// Start a new minting regenerate although an earlier one's outcome is unknown.
    pub remint_after_unknown: bool,
    /// Names this runner in the journal's lease (default: host, process id and a random
    /// suffix, new for every run).
    pub holder: String,
    /// How long the lease lasts without a journal write ([`DEFAULT_LEASE_TTL`]).
    pub lease_ttl: Duration,
    /// The clock leases are computed with (default: the system clock, UTC).
    pub clock: fn() -> time::OffsetDateTime,
}

/// How long a runner's lease on a rotation lasts unless renewed: 15 minutes. The driver renews
/// it with every journal write (between steps), so it must outlast the longest single step (an
/// Automation update of many rules); a runner that dies leaves the rotation to others after
/// at most this long.
pub const DEFAULT_LEASE_TTL: Duration = Duration::from_secs(15 * 60);

fn default_holder() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".to_owned());
    format!("{host}-{}-{:08x}", std::process::id(), fastrand::u32(..))
}

impl RotateOptions {
    /// Options for the rotation `rotation_id` (1 to 128 of `A-Z a-z 0-9 . _ -`).
    pub fn new(rotation_id: impl Into<String>) -> Self {
        Self {
            rotation_id: rotation_id.into(),
            audit: Audit::default(),
            remint_after_unknown: false,
            holder: default_holder(),
            lease_ttl: DEFAULT_LEASE_TTL,
            clock: time::OffsetDateTime::now_utc,
        }
    }

    /// Names this runner in the lease. Two runs with the same holder share the lease: give each
    /// replica its own (a pod name), and reuse one only to resume your own crashed run at once.
    pub fn holder(mut self, holder: impl Into<String>) -> Self {
        self.holder = holder.into();
        self
    }

    /// Sets how long the lease lasts between journal writes ([`DEFAULT_LEASE_TTL`]).
    pub fn lease_ttl(mut self, ttl: Duration) -> Self {
        self.lease_ttl = ttl;
        self
    }

    /// Sets the clock leases are computed with (tests move it instead of sleeping).
    ///
    /// ```
    /// use atlassian_rotation::rotate::RotateOptions;
    /// fn tomorrow() -> time::OffsetDateTime {
    ///     time::OffsetDateTime::now_utc() + time::Duration::days(1)
    /// }
    /// let options = RotateOptions::new("rot-1").clock(tomorrow);
    /// # let _ = options;
    /// ```
    pub fn clock(mut self, clock: fn() -> time::OffsetDateTime) -> Self {
        self.clock = clock;
        self
    }

    /// After a minting regenerate was interrupted or went unanswered (the journal says
    /// [`Step::Started`](super::Step::Started)), mint again. Do so once you know the first attempt's credential is
    /// lost or unused: for a tunnel, the old key is invalid either way, so minting again is how
    /// the tunnel comes back.
    pub fn remint_after_unknown(mut self, remint: bool) -> Self {
        self.remint_after_unknown = remint;
        self
    }

    /// Sets the audit metadata.
    pub fn audit(mut self, audit: Audit) -> Self {
        self.audit = audit;
        self
    }
}
