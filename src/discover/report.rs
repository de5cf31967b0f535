//! What the expiry radar reports: each expiring credential with the rules that use its
//! account, and the uses it could not attribute. Serializable, without secrets.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::ScanSummary;
use crate::admin::Timestamp;
use crate::automation::Finding;

/// The radar's answer: what expires within the window, and where it is used.
///
/// ```
/// use atlassian_rotation::discover::RadarReport;
///
/// let report: RadarReport = serde_json::from_value(serde_json::json!({
///     "as_of": "2026-11-01T00:00:00Z", "window_secs": 2592000,
///     "expiring": [], "unresolved": [], "scan": {
///         "rules_read": 0, "rules_matched": 0, "matches": 0, "cannot_tell": 0, "credentials": 0
///     },
///     "identities": {"asked": 0, "resolved": 0, "refused": 0, "failed": 0},
///     "other_accounts": 0
/// })).unwrap();
/// assert!(report.expiring.is_empty());
/// assert_eq!(report.to_string().lines().next(), Some("nothing expires within 30 days of 2026-11-01T00:00:00Z"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RadarReport {
    /// The instant the window starts at (RFC 3339).
    pub as_of: String,
    /// The window, in seconds: credentials that expired, or expire within it, are listed.
    pub window_secs: u64,
    /// Every credential in the window, soonest expiry first, with the rules that use its
    /// account.
    pub expiring: Vec<ExpiringCredential>,
    /// Every credential use in the rules whose account the radar could not tell, and why:
    /// any of them may be one of the expiring credentials.
    pub unresolved: Vec<UnresolvedUse>,
    /// The inventory scan of the rules (empty when nothing expires: the rules are then not
    /// read).
    pub scan: ScanSummary,
    /// What identity resolution asked (all zero when it was not enabled).
    pub identities: IdentityCounts,
    /// Uses attributed to accounts that have no credential in the window.
    pub other_accounts: usize,
}

impl RadarReport {
    /// Whether the answer is whole: nothing expires, or every rule was read and every use
    /// attributed (no rule unread, no use unresolved). Only then is a credential listed
    /// without uses surely unused by any rule.
    ///
    /// ```
    /// # use atlassian_rotation::discover::RadarReport;
    /// # let report: RadarReport = serde_json::from_value(serde_json::json!({
    /// #     "as_of": "2026-11-01T00:00:00Z", "window_secs": 60, "expiring": [], "unresolved": [],
    /// #     "scan": {"rules_read": 0, "rules_matched": 0, "matches": 0, "cannot_tell": 0, "credentials": 0},
    /// #     "identities": {"asked": 0, "resolved": 0, "refused": 0, "failed": 0}, "other_accounts": 0
    /// # })).unwrap();
    /// assert!(report.is_complete());
    /// ```
    pub fn is_complete(&self) -> bool {
        self.expiring.is_empty() || self.scan.is_complete() && self.unresolved.is_empty()
    }
}

/// What kind of credential expires. Today the radar lists user API tokens; Admin API keys
/// and service-account tokens are to join them.
///
/// ```
/// use atlassian_rotation::discover::CredentialKind;
/// assert_eq!(serde_json::to_value(CredentialKind::UserApiToken).unwrap(), "user_api_token");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum CredentialKind {
    /// A user's API token, from the org's token list
    /// ([`AdminClient::org_api_tokens`](crate::AdminClient::org_api_tokens)).
    UserApiToken,
}

/// One credential in the window, with the rules that use its owner's account.
///
/// The join is by account (id or email), because that is all a rule or `/myself` can tell:
/// a use listed here authenticates as this credential's owner, possibly with another of the
/// owner's credentials. [`RuleUse::credential`] fingerprints tell apart the distinct
/// credentials in the rules; a token scan ([`UsageScan`](super::UsageScan) with
/// [`Scanner::for_token`](crate::automation::Scanner::for_token)) tells which rules hold one
/// given token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ExpiringCredential {
    /// What it is.
    pub kind: CredentialKind,
    /// Its id at Atlassian.
    pub id: String,
    /// The label its owner gave it.
    pub label: Option<String>,
    /// Its status as Atlassian lists it (`ALLOWED`, ...).
    pub status: Option<String>,
    /// When it expires (or expired).
    pub expires_at: Option<Timestamp>,
    /// Whose it is.
    pub owner: Option<Owner>,
    /// The rules whose credentials authenticate as the owner.
    pub uses: Vec<RuleUse>,
}

/// The account a credential belongs to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Owner {
    /// The Atlassian account id.
    pub account_id: Option<String>,
    /// The account email.
    pub email: Option<String>,
    /// The display name.
    pub name: Option<String>,
}

/// One credential in a rule, attributed to an account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RuleUse {
    /// Where it is: rule, pointer, form, header.
    pub finding: Finding,
    /// The credential's [fingerprint](crate::secret::ApiToken::fingerprint): the same
    /// fingerprint in two places is the same credential.
    pub credential: Option<String>,
    /// The account it authenticates as, as far as the radar knows it.
    pub account: Owner,
    /// How the radar knows.
    pub attributed_by: Attribution,
}

/// How a use was attributed to its account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Attribution {
    /// The rule names the account with the credential: a `Basic` value's email, a URL's
    /// `user:secret@` user.
    InRule,
    /// The same credential sits in another place of the rules that names its account.
    SameCredential,
    /// Jira's `/myself` said who the credential authenticates as
    /// ([`ResolveIdentities`](super::ResolveIdentities)).
    Myself,
}

/// A use the radar could not attribute to an account, and why. It may be one of the expiring
/// credentials: check it by hand.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct UnresolvedUse {
    /// Where it is.
    pub finding: Finding,
    /// The credential's fingerprint, when its value could be read.
    pub credential: Option<String>,
    /// Why it is unresolved.
    pub reason: Unresolved,
}

/// Why a use is unresolved.
///
/// ```
/// use atlassian_rotation::discover::Unresolved;
/// assert_eq!(
///     serde_json::to_value(Unresolved::Refused { status: 401 }).unwrap(),
///     serde_json::json!({"reason": "refused", "status": 401})
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Unresolved {
    /// The value cannot be read (masked, a stored-secret reference, redacted).
    Unreadable,
    /// The rule does not name the account, and identity resolution was not enabled
    /// ([`ExpiryRadar::resolve_identities`](super::ExpiryRadar::resolve_identities)).
    NotAsked,
    /// `/myself` refused it as a Bearer credential: a classic API token (which authenticates
    /// only with its email), an expired or revoked token, or another service's secret.
    Refused {
        /// The HTTP status (401 or 403).
        status: u16,
    },
    /// `/myself` gave no answer.
    Failed {
        /// The error, as one line (never a secret).
        message: String,
    },
    /// Not asked: the rules hold more distinct credentials without an account than
    /// identity resolution asks about in one run
    /// ([`ResolveIdentities::max_credentials`](super::ResolveIdentities::max_credentials)).
    OverLimit {
        /// The number of distinct credentials asked about.
        limit: usize,
    },
}

impl fmt::Display for Unresolved {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unreadable => f.write_str("the value cannot be read"),
            Self::NotAsked => f.write_str("the rule does not name the account"),
            Self::Refused { status } => write!(f, "refused as a Bearer credential (HTTP {status})"),
            Self::Failed { message } => write!(f, "identity lookup failed: {message}"),
            Self::OverLimit { limit } => write!(
                f,
                "not asked: more than {limit} distinct credentials to look up \
                 (ResolveIdentities::max_credentials)"
            ),
        }
    }
}

/// What identity resolution asked: distinct credentials, not uses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct IdentityCounts {
    /// Distinct credentials presented to `/myself`.
    pub asked: usize,
    /// Answered with an account.
    pub resolved: usize,
    /// Refused (401, 403).
    pub refused: usize,
    /// Not answered.
    pub failed: usize,
}

/// A table: one line per expiring credential, its uses indented below, then the unresolved
/// uses and the scan's summary.
impl fmt::Display for RadarReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days = self.window_secs / 86_400;
        if self.expiring.is_empty() {
            return write!(f, "nothing expires within {days} days of {}", self.as_of);
        }
        writeln!(
            f,
            "{:<26} {:<36} {:<24} {:<32} RULES",
            "EXPIRES", "ID", "LABEL", "OWNER"
        )?;
        let dash = "-";
        for credential in &self.expiring {
            let owner = credential.owner.as_ref();
            writeln!(
                f,
                "{:<26} {:<36} {:<24} {:<32} {}",
                credential
                    .expires_at
                    .as_ref()
                    .map_or(dash, Timestamp::as_str),
                credential.id,
                credential.label.as_deref().unwrap_or(dash),
                owner
                    .and_then(|o| o.email.as_deref().or(o.account_id.as_deref()))
                    .unwrap_or(dash),
                credential.uses.len()
            )?;
            for used in &credential.uses {
                writeln!(f, "    {}", used.finding)?;
            }
        }
        if !self.unresolved.is_empty() {
            writeln!(
                f,
                "{} uses whose account is unknown:",
                self.unresolved.len()
            )?;
            for unresolved in &self.unresolved {
                writeln!(f, "    {}: {}", unresolved.finding, unresolved.reason)?;
            }
        }
        write!(f, "{}", self.scan)
    }
}
