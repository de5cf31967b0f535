//! What the expiry radar reports: each expiring credential with the rules that use its
//! account, and the uses it could not attribute. Serializable, without secrets.

use std::fmt;
use std::str::FromStr;

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
    /// Which kinds were listed, and which could not be (and why), in the order asked. Reports
    /// written before this field read as covering user API tokens.
    #[serde(default = "Coverage::legacy")]
    pub coverage: Vec<Coverage>,
}

impl RadarReport {
    /// Whether the answer is whole: every kind asked for was listed ([`Coverage`]), and
    /// nothing whose uses are tracked in rules expires, or every rule was read, every use
    /// attributed (no rule unread, no use unresolved) and every such credential's owner
    /// [known](ExpiringCredential::owner_is_known). Only then is a credential listed without
    /// uses surely unused by any rule.
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
        let tracked = || {
            self.expiring
                .iter()
                .filter(|c| c.where_used == WhereUsed::AutomationRules)
        };
        let rules_matter = tracked().next().is_some();
        self.coverage.iter().all(Coverage::is_covered)
            && (!rules_matter
                || self.scan.is_complete()
                    && self.unresolved.is_empty()
                    && tracked().all(ExpiringCredential::owner_is_known))
    }

    /// The kinds that could not be listed, with why.
    ///
    /// ```
    /// # use atlassian_rotation::discover::RadarReport;
    /// # let report: RadarReport = serde_json::from_value(serde_json::json!({
    /// #     "as_of": "2026-11-01T00:00:00Z", "window_secs": 60, "expiring": [], "unresolved": [],
    /// #     "scan": {"rules_read": 0, "rules_matched": 0, "matches": 0, "cannot_tell": 0, "credentials": 0},
    /// #     "identities": {"asked": 0, "resolved": 0, "refused": 0, "failed": 0}, "other_accounts": 0
    /// # })).unwrap();
    /// for missing in report.not_covered() {
    ///     eprintln!("{missing}");
    /// }
    /// assert_eq!(report.not_covered().count(), 0);
    /// ```
    pub fn not_covered(&self) -> impl Iterator<Item = &Coverage> {
        self.coverage.iter().filter(|c| !c.is_covered())
    }
}

/// What kind of credential expires. The radar lists all three by default
/// ([`ExpiryRadar::kinds`](super::ExpiryRadar::kinds) chooses).
///
/// Serialized in snake case; read from text in snake or kebab case, for command lines.
///
/// ```
/// use atlassian_rotation::discover::CredentialKind;
///
/// assert_eq!(serde_json::to_value(CredentialKind::UserApiToken).unwrap(), "user_api_token");
/// assert_eq!("admin-api-key".parse::<CredentialKind>()?, CredentialKind::AdminApiKey);
/// assert_eq!(CredentialKind::ServiceAccountToken.to_string(), "service-account token");
/// assert!("tunnel_key".parse::<CredentialKind>().is_err());
/// let names: Vec<&str> = CredentialKind::ALL.iter().map(|k| k.as_str()).collect();
/// assert_eq!(names, ["user_api_token", "admin_api_key", "service_account_token"]);
/// # Ok::<(), atlassian_rotation::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum CredentialKind {
    /// A user's API token, from the org's token list
    /// ([`AdminClient::org_api_tokens`](crate::AdminClient::org_api_tokens)).
    UserApiToken,
    /// An Admin API key of the org
    /// ([`AdminClient::admin_api_keys`](crate::AdminClient::admin_api_keys)); revoked keys are
    /// left out.
    AdminApiKey,
    /// An API token of one of the org's service accounts
    /// ([`AdminClient::service_accounts`](crate::AdminClient::service_accounts), then
    /// [`AdminClient::service_account_tokens`](crate::AdminClient::service_account_tokens)
    /// for each).
    ServiceAccountToken,
}

impl CredentialKind {
    /// Every kind, in the order the radar lists them.
    pub const ALL: [CredentialKind; 3] = [
        Self::UserApiToken,
        Self::AdminApiKey,
        Self::ServiceAccountToken,
    ];

    /// The kind's name as serialized (`user_api_token`, `admin_api_key`,
    /// `service_account_token`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::UserApiToken => "user_api_token",
            Self::AdminApiKey => "admin_api_key",
            Self::ServiceAccountToken => "service_account_token",
        }
    }
}

impl fmt::Display for CredentialKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::UserApiToken => "user API token",
            Self::AdminApiKey => "Admin API key",
            Self::ServiceAccountToken => "service-account token",
        })
    }
}

impl FromStr for CredentialKind {
    type Err = crate::Error;

    fn from_str(text: &str) -> crate::Result<Self> {
        let name = text.trim().replace('-', "_");
        Self::ALL
            .into_iter()
            .find(|kind| kind.as_str().eq_ignore_ascii_case(&name))
            .ok_or_else(|| {
                crate::Error::invalid_input(
                    "credential kind",
                    format!(
                        "`{text}` is none of user_api_token, admin_api_key, service_account_token"
                    ),
                )
            })
    }
}

/// Where the radar looked for a credential's uses: what its
/// [`uses`](ExpiringCredential::uses) list means.
///
/// ```
/// use atlassian_rotation::discover::WhereUsed;
///
/// assert_eq!(WhereUsed::default(), WhereUsed::AutomationRules);
/// assert_eq!(serde_json::to_value(WhereUsed::NotTracked).unwrap(), "not_tracked");
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum WhereUsed {
    /// The uses are the Automation rules whose credentials authenticate as the credential's
    /// account: the user's, or the service account's. An empty list (in a
    /// [complete](RadarReport::is_complete) report) means no rule uses that account.
    #[default]
    AutomationRules,
    /// Not tracked: Admin API keys authenticate Admin API calls only, never an Automation
    /// rule's request, and no API tells where a key is kept. The empty list says nothing about
    /// whether the key is used: its consumers are in the caller's own inventory.
    NotTracked,
}

impl fmt::Display for WhereUsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::AutomationRules => "automation rules",
            Self::NotTracked => "not tracked",
        })
    }
}

/// Whether the radar listed one kind of credential. A kind whose listing failed (a 403 when
/// the Admin API key lacks the scope, the experimental service-account API answering 404) is
/// not covered, and the report then says nothing about that kind.
///
/// ```
/// use atlassian_rotation::discover::{Coverage, CredentialKind};
///
/// let refused: Coverage = serde_json::from_value(serde_json::json!({
///     "coverage": "not_covered", "kind": "admin_api_key",
///     "reason": "HTTP 403: the key lacks read:keys:admin", "status": 403
/// })).unwrap();
/// assert_eq!(refused.kind(), CredentialKind::AdminApiKey);
/// assert!(!refused.is_covered());
/// assert_eq!(refused.to_string(), "Admin API keys: not covered: HTTP 403: the key lacks read:keys:admin");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "coverage", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Coverage {
    /// Every credential of the kind was listed.
    Covered {
        /// The kind.
        kind: CredentialKind,
    },
    /// The kind (or part of it: one service account's tokens) could not be listed.
    NotCovered {
        /// The kind.
        kind: CredentialKind,
        /// Why, as one line (the error; never a secret).
        reason: String,
        /// The HTTP status of the refusal, when there was one.
        #[serde(default)]
        status: Option<u16>,
    },
}

impl Coverage {
    /// The kind this is about.
    pub fn kind(&self) -> CredentialKind {
        match self {
            Self::Covered { kind } | Self::NotCovered { kind, .. } => *kind,
        }
    }

    /// Whether the kind was listed whole.
    pub fn is_covered(&self) -> bool {
        matches!(self, Self::Covered { .. })
    }

    /// What a report written before the radar covered several kinds covered: user API tokens
    /// (it failed as a whole otherwise).
    fn legacy() -> Vec<Coverage> {
        vec![Self::Covered {
            kind: CredentialKind::UserApiToken,
        }]
    }
}

impl fmt::Display for Coverage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Covered { kind } => write!(f, "{kind}s: covered"),
            Self::NotCovered { kind, reason, .. } => write!(f, "{kind}s: not covered: {reason}"),
        }
    }
}

/// One credential in the window, with the rules that use its owner's account.
///
/// What [`uses`](Self::uses) means depends on [`where_used`](Self::where_used): for user API
/// tokens and service-account tokens, the rules that authenticate as the account; Admin API
/// keys are [not tracked](WhereUsed::NotTracked). The join is by account (id or email), because that is all a rule or `/myself` can tell:
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
    /// Whose it is: the user, or the service account. `None` for an Admin API key, which is
    /// the org's ([`created_by`](Self::created_by) says who made it).
    pub owner: Option<Owner>,
    /// The rules whose credentials authenticate as the owner (see
    /// [`where_used`](Self::where_used)).
    pub uses: Vec<RuleUse>,
    /// What [`uses`](Self::uses) covers. Reports written before this field read as
    /// [`WhereUsed::AutomationRules`].
    #[serde(default)]
    pub where_used: WhereUsed,
    /// For a service-account token: the service account's id in the API Access API (what
    /// [`AdminClient::service_account_tokens`](crate::AdminClient::service_account_tokens)
    /// takes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_id: Option<String>,
    /// For an Admin API key: who created it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<Owner>,
}

impl ExpiringCredential {
    /// Whether its owner was listed with both an account id and an email: only then can
    /// every use of the account be joined to it (a rule names an account by email, `/myself`
    /// answers with its id and may hide the email). A service account listed without its
    /// email, or a user token without its user, may have uses the report cannot show: its
    /// report is not [complete](RadarReport::is_complete).
    ///
    /// ```
    /// use atlassian_rotation::discover::ExpiringCredential;
    ///
    /// let token = |owner: serde_json::Value| -> ExpiringCredential {
    ///     serde_json::from_value(serde_json::json!({
    ///         "kind": "service_account_token", "id": "t-1", "label": null, "status": null,
    ///         "expires_at": "2026-12-10T00:00:00Z", "owner": owner, "uses": []
    ///     })).unwrap()
    /// };
    /// let both = serde_json::json!({"account_id": "712020:1", "email": "ci@example.com", "name": null});
    /// let id_only = serde_json::json!({"account_id": "712020:1", "email": null, "name": null});
    /// assert!(token(both).owner_is_known());
    /// assert!(!token(id_only).owner_is_known());
    /// assert!(!token(serde_json::Value::Null).owner_is_known());
    /// ```
    pub fn owner_is_known(&self) -> bool {
        let given = |field: &Option<String>| field.as_deref().is_some_and(|v| !v.trim().is_empty());
        self.owner
            .as_ref()
            .is_some_and(|owner| given(&owner.account_id) && given(&owner.email))
    }
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
/// uses, the scan's summary and the kinds not covered.
impl fmt::Display for RadarReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days = self.window_secs / 86_400;
        if self.expiring.is_empty() {
            if self.not_covered().next().is_some() {
                // Only what was listed: a kind not listed may hold what expires.
                write!(
                    f,
                    "nothing listed expires within {days} days of {}, but the listing is \
                     incomplete:",
                    self.as_of
                )?;
            } else {
                write!(f, "nothing expires within {days} days of {}", self.as_of)?;
            }
            return self.write_not_covered(f);
        }
        writeln!(
            f,
            "{:<26} {:<22} {:<36} {:<24} {:<32} RULES",
            "EXPIRES", "KIND", "ID", "LABEL", "OWNER"
        )?;
        let dash = "-";
        for credential in &self.expiring {
            let owner = credential.owner.as_ref();
            let rules = match credential.where_used {
                WhereUsed::AutomationRules if !credential.owner_is_known() => {
                    format!("{} (owner not fully listed)", credential.uses.len())
                }
                WhereUsed::AutomationRules => credential.uses.len().to_string(),
                WhereUsed::NotTracked => WhereUsed::NotTracked.to_string(),
            };
            writeln!(
                f,
                "{:<26} {:<22} {:<36} {:<24} {:<32} {rules}",
                credential
                    .expires_at
                    .as_ref()
                    .map_or(dash, Timestamp::as_str),
                credential.kind.to_string(),
                credential.id,
                credential.label.as_deref().unwrap_or(dash),
                owner
                    .and_then(|o| o.email.as_deref().or(o.account_id.as_deref()))
                    .unwrap_or(dash),
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
        write!(f, "{}", self.scan)?;
        self.write_not_covered(f)
    }
}

impl RadarReport {
    /// One line per kind not covered, each on a line of its own after what came before.
    fn write_not_covered(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for missing in self.not_covered() {
            write!(f, "\n{missing}")?;
        }
        Ok(())
    }
}
