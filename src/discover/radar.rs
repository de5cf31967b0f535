//! "What expires, and where it is used": the org's credentials in an expiry window, joined
//! with the rules that authenticate as their owners.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::hash::{Hash, Hasher};
use std::time::Duration;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use zeroize::Zeroizing;

use super::identity::{Resolution, ResolveIdentities};
use super::kinds::Listing;
use super::report::{
    Attribution, CredentialKind, IdentityCounts, Owner, RadarReport, RuleUse, Unresolved,
    UnresolvedUse, WhereUsed,
};
use super::scan::{Found, UsageScan};
use crate::AdminClient;
use crate::admin::{AdminKeyQuery, OrgTokenQuery};
use crate::automation::{AutomationClient, FindingStatus, Scanner};
use crate::error::Result;
use crate::rotate::{DEFAULT_CONCURRENCY, Progress, ProgressFn};
use crate::secret::ApiToken;

/// The default window: 30 days.
const DEFAULT_WINDOW: Duration = Duration::from_secs(30 * 86_400);

/// Which of the org's credentials expire soon, and which Automation rules use them.
///
/// [`run`](Self::run) lists the org's credentials of every [kind](Self::kinds) that have
/// expired or expire within the [window](Self::within), and any whose expiry is given in a
/// form the radar cannot read (listed last, with the text as sent: it may be due):
///
/// - user API tokens ([`AdminClient::org_api_tokens`], with an optional [`OrgTokenQuery`]
///   such as a status filter);
/// - Admin API keys ([`AdminClient::admin_api_keys`], with an optional [`AdminKeyQuery`]),
///   revoked keys left out;
/// - service-account tokens ([`AdminClient::service_accounts`], then
///   [`AdminClient::service_account_tokens`] of each account).
///
/// A kind whose listing fails (a 403 because the Admin API key lacks
/// `read:service-accounts-tokens:admin`, say) does not fail the run: the report's
/// [`coverage`](RadarReport::coverage) names it [not covered](super::Coverage::NotCovered),
/// with why, and the report is then not [complete](RadarReport::is_complete).
///
/// When a user or service-account token is in the window, the radar scans every rule once in
/// inventory mode (through [`UsageScan`], the rotation's bulk engine) and attributes each
/// credential found to an account:
///
/// - a `Basic` value names its account's email, and so does a URL's `user:secret@`;
/// - the same secret found elsewhere (a `Bearer` header holding a token that a `Basic` value
///   also holds) takes that account, without any request;
/// - with [`resolve_identities`](Self::resolve_identities), every other distinct credential is
///   presented once to Jira's `/myself` as a Bearer token (see [`ResolveIdentities`] for why
///   only that way), and takes the account that answers.
///
/// Each expiring user or service-account token then lists the uses attributed to its owner
/// (the user, or the service account: by account id or email), in every form. Admin API keys
/// authenticate no rule: their uses are [not tracked](WhereUsed::NotTracked), which the
/// report says rather than showing an empty list that would read as "unused". What could not be attributed (unreadable values, credentials whose
/// account is unknown) is reported in [`RadarReport::unresolved`], never dropped. The rules
/// are read unredacted: the values are needed to tell whose they are; none leaves the call
/// (reports name credentials by fingerprint).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> atlassian_rotation::Result<()> {
/// use std::time::Duration;
/// use atlassian_rotation::AdminClient;
/// use atlassian_rotation::automation::AutomationClient;
/// use atlassian_rotation::discover::{ExpiryRadar, ResolveIdentities};
/// use atlassian_rotation::testing::FakeAtlassian;
///
/// let fake = FakeAtlassian::start().await;
/// let scenario = fake.seed_expiring_usage("cloud-1", 3, time::Duration::days(9));
/// let admin = AdminClient::builder(scenario.org.admin_key.clone()).base_url(fake.admin_base()).build()?;
/// let automation = AutomationClient::builder(scenario.caller.clone()).base_url(fake.automation_base("cloud-1")).build()?;
///
/// let report = ExpiryRadar::new(&admin, &scenario.org.id, &automation)
///     .within(Duration::from_secs(30 * 86_400))
///     .resolve_identities(ResolveIdentities::base_url(fake.jira_gateway_base("cloud-1")))
///     .run()
///     .await?;
/// let uses: usize = report.expiring.iter().map(|c| c.uses.len()).sum();
/// assert_eq!(uses, 12);
/// assert!(report.is_complete());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct ExpiryRadar {
    admin: AdminClient,
    org_id: String,
    automation: AutomationClient,
    query: OrgTokenQuery,
    key_query: AdminKeyQuery,
    kinds: Vec<CredentialKind>,
    window: Duration,
    as_of: Option<OffsetDateTime>,
    identities: Option<ResolveIdentities>,
    concurrency: usize,
    progress: Option<ProgressFn>,
}

impl fmt::Debug for ExpiryRadar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExpiryRadar")
            .field("org_id", &self.org_id)
            .field("automation", &self.automation.base_url().as_str())
            .field("query", &self.query)
            .field("key_query", &self.key_query)
            .field("kinds", &self.kinds)
            .field("window", &self.window)
            .field("identities", &self.identities)
            .field("concurrency", &self.concurrency)
            .finish_non_exhaustive()
    }
}

impl ExpiryRadar {
    /// A radar over the org `org_id` (its credentials listed with `admin`) and the rules
    /// `automation` can see. Default: every kind of credential, a window of 30 days, no
    /// identity resolution.
    ///
    /// ```
    /// use atlassian_rotation::AdminClient;
    /// use atlassian_rotation::automation::AutomationClient;
    /// use atlassian_rotation::discover::ExpiryRadar;
    /// use atlassian_rotation::secret::{AdminApiKey, ApiCredentials, ApiToken};
    ///
    /// let admin = AdminClient::builder(AdminApiKey::new("admin-key")).build()?;
    /// let caller = ApiCredentials::new("admin@example.com", ApiToken::new("ATATT-caller"));
    /// let automation = AutomationClient::builder(caller).base_url("https://example.test/automation").build()?;
    /// let radar = ExpiryRadar::new(&admin, "org-1", &automation);
    /// assert!(!format!("{radar:?}").contains("ATATT") && !format!("{radar:?}").contains("admin-key"));
    /// # Ok::<(), atlassian_rotation::Error>(())
    /// ```
    pub fn new(
        admin: &AdminClient,
        org_id: impl Into<String>,
        automation: &AutomationClient,
    ) -> Self {
        Self {
            admin: admin.clone(),
            org_id: org_id.into(),
            automation: automation.clone(),
            query: OrgTokenQuery::new(),
            key_query: AdminKeyQuery::new(),
            kinds: CredentialKind::ALL.to_vec(),
            window: DEFAULT_WINDOW,
            as_of: None,
            identities: None,
            concurrency: DEFAULT_CONCURRENCY,
            progress: None,
        }
    }

    /// Lists credentials that expired, or expire within `window` of now (default 30 days).
    ///
    /// ```
    /// # use atlassian_rotation::discover::ExpiryRadar;
    /// # fn radar(radar: ExpiryRadar) -> ExpiryRadar {
    /// radar.within(std::time::Duration::from_secs(7 * 86_400))
    /// # }
    /// ```
    pub fn within(mut self, window: Duration) -> Self {
        self.window = window;
        self
    }

    /// Lists only credentials of `kinds` (default: [all of them](CredentialKind::ALL)), in
    /// the order of [`CredentialKind::ALL`]. An empty set makes [`run`](Self::run) fail with
    /// [`Error::InvalidInput`](crate::Error::InvalidInput).
    ///
    /// ```
    /// # use atlassian_rotation::discover::ExpiryRadar;
    /// use atlassian_rotation::discover::CredentialKind;
    /// # fn radar(radar: ExpiryRadar) -> ExpiryRadar {
    /// radar.kinds([CredentialKind::UserApiToken, CredentialKind::ServiceAccountToken])
    /// # }
    /// ```
    pub fn kinds(mut self, kinds: impl IntoIterator<Item = CredentialKind>) -> Self {
        let asked: Vec<CredentialKind> = kinds.into_iter().collect();
        self.kinds = CredentialKind::ALL
            .into_iter()
            .filter(|kind| asked.contains(kind))
            .collect();
        self
    }

    /// Filters for the org's Admin API key list, sent to the API (see [`AdminKeyQuery`]).
    ///
    /// The radar sends no expiry filter of its own: the API names the `expiresAt*` parameters
    /// but documents no format for their values, and a filter the server read differently
    /// would hide keys. The window is always applied to the keys listed; a caller who knows
    /// the server's format can narrow the listing here.
    ///
    /// ```
    /// # use atlassian_rotation::discover::ExpiryRadar;
    /// use atlassian_rotation::admin::{AdminKeyQuery, DateFilter};
    /// # fn radar(radar: ExpiryRadar) -> ExpiryRadar {
    /// radar.admin_key_query(
    ///     AdminKeyQuery::new().q("ci").expires_at(DateFilter::new().range_to("2026-12-31T00:00:00Z")),
    /// )
    /// # }
    /// ```
    pub fn admin_key_query(mut self, query: AdminKeyQuery) -> Self {
        self.key_query = query;
        self
    }

    /// Filters for the org's user API token list (a status, a search text), sent to the API.
    ///
    /// ```
    /// # use atlassian_rotation::discover::ExpiryRadar;
    /// use atlassian_rotation::admin::{OrgTokenQuery, OrgTokenStatus};
    /// # fn radar(radar: ExpiryRadar) -> ExpiryRadar {
    /// radar.query(OrgTokenQuery::new().status(OrgTokenStatus::Allowed))
    /// # }
    /// ```
    pub fn query(mut self, query: OrgTokenQuery) -> Self {
        self.query = query;
        self
    }

    /// Measures the window from `now` instead of the system clock.
    ///
    /// ```
    /// # use atlassian_rotation::discover::ExpiryRadar;
    /// # fn radar(radar: ExpiryRadar) -> ExpiryRadar {
    /// radar.as_of(time::macros::datetime!(2026-11-01 00:00 UTC))
    /// # }
    /// ```
    pub fn as_of(mut self, now: OffsetDateTime) -> Self {
        self.as_of = Some(now);
        self
    }

    /// Asks Jira who each credential belongs to when the rule does not say (opt-in; see
    /// [`ResolveIdentities`] for how, and what is never sent).
    ///
    /// ```
    /// # use atlassian_rotation::discover::{ExpiryRadar, ResolveIdentities};
    /// # fn radar(radar: ExpiryRadar) -> ExpiryRadar {
    /// radar.resolve_identities(ResolveIdentities::cloud("4e119cf2-4b83-4195-abdf-d7a2f9bd043d"))
    /// # }
    /// ```
    pub fn resolve_identities(mut self, resolve: ResolveIdentities) -> Self {
        self.identities = Some(resolve);
        self
    }

    /// How many rule requests the scan keeps in flight (see [`UsageScan::concurrency`]), and
    /// how many service accounts' token lists are read at once.
    ///
    /// ```
    /// # use atlassian_rotation::discover::ExpiryRadar;
    /// # fn radar(radar: ExpiryRadar) -> ExpiryRadar {
    /// radar.concurrency(8)
    /// # }
    /// ```
    pub fn concurrency(mut self, concurrency: usize) -> Self {
        self.concurrency = concurrency.max(1);
        self
    }

    /// Calls `progress` after each rule of the scan (see [`UsageScan::on_progress`]).
    ///
    /// ```
    /// # use atlassian_rotation::discover::ExpiryRadar;
    /// # fn radar(radar: ExpiryRadar) -> ExpiryRadar {
    /// radar.on_progress(|p| eprintln!("{} rules read", p.scanned))
    /// # }
    /// ```
    pub fn on_progress(mut self, progress: impl Fn(Progress) + Send + Sync + 'static) -> Self {
        self.progress = Some(std::sync::Arc::new(progress));
        self
    }

    /// Lists, scans, attributes and joins (see [`ExpiryRadar`]). Fails on invalid input
    /// (before any request), when no kind could be listed (with the first kind's error), when
    /// the scan fails (a rule that cannot be read is counted in the report's
    /// [`scan`](RadarReport::scan) instead), or on a bad identity gateway URL; a kind that
    /// could not be listed while others were is reported in
    /// [`coverage`](RadarReport::coverage), and a credential `/myself` does not answer for is
    /// reported as unresolved.
    pub async fn run(&self) -> Result<RadarReport> {
        let now = self.as_of.unwrap_or_else(OffsetDateTime::now_utc);
        let listing = Listing {
            admin: &self.admin,
            org_id: &self.org_id,
            user_query: &self.query,
            key_query: &self.key_query,
            window: self.window,
            now,
            concurrency: self.concurrency,
        };
        let mut listed = listing.list(&self.kinds).await?;
        listed.expiring.sort_by_cached_key(|c| {
            let at = c.expires_at.as_ref().and_then(|at| at.parse());
            (at.is_none(), at, c.kind, c.id.clone())
        });
        let mut report = RadarReport {
            as_of: now.format(&Rfc3339).unwrap_or_default(),
            window_secs: self.window.as_secs(),
            expiring: listed.expiring,
            unresolved: Vec::new(),
            scan: Default::default(),
            identities: IdentityCounts::default(),
            other_accounts: 0,
            coverage: listed.coverage,
        };
        if !report
            .expiring
            .iter()
            .any(|c| c.where_used == WhereUsed::AutomationRules)
        {
            return Ok(report);
        }
        let mut scan =
            UsageScan::new(&self.automation, Scanner::inventory()).concurrency(self.concurrency);
        scan.progress.clone_from(&self.progress);
        let mut stream = scan.stream_with_credentials();
        let mut found = Vec::new();
        while let Some(next) = std::future::poll_fn(|cx| stream.poll_found(cx)).await {
            found.push(next?);
        }
        report.scan = stream.summary().clone();
        let (uses, identities) = attribute(found, self.identities.as_ref()).await?;
        report.identities = identities;
        join(&mut report, uses);
        Ok(report)
    }
}

/// A secret as a map key; zeroized on drop, never printed.
struct SecretKey(Zeroizing<String>);

impl SecretKey {
    fn of(secret: &ApiToken) -> Self {
        Self(Zeroizing::new(secret.expose_secret().to_owned()))
    }
}

impl PartialEq for SecretKey {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_str() == other.0.as_str()
    }
}

impl Eq for SecretKey {}

impl Hash for SecretKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.as_str().hash(state);
    }
}

/// Whose a use is, as far as the radar can tell.
enum Whose {
    Known(Owner, Attribution),
    Unknown(Unresolved),
}

/// Attributes every use: from the rule itself, from the same secret named elsewhere, then
/// (when enabled) from `/myself`, asked once per distinct secret still unknown.
async fn attribute(
    found: Vec<Found>,
    resolve: Option<&ResolveIdentities>,
) -> Result<(Vec<(Found, Whose)>, IdentityCounts)> {
    let mut named: HashMap<SecretKey, String> = HashMap::new();
    for credential in found.iter().filter_map(|f| f.credential.as_ref()) {
        if let Some(account) = &credential.account {
            named
                .entry(SecretKey::of(&credential.secret))
                .or_insert_with(|| account.clone());
        }
    }
    let mut answers: HashMap<SecretKey, Resolution> = HashMap::new();
    let mut counts = IdentityCounts::default();
    // Distinct credentials past the limit: their uses are reported, not asked about.
    let mut over_limit: HashSet<SecretKey> = HashSet::new();
    if let Some(resolve) = resolve {
        let mut asked: HashMap<SecretKey, ApiToken> = HashMap::new();
        for credential in found.iter().filter_map(|f| f.credential.as_ref()) {
            let key = SecretKey::of(&credential.secret);
            if credential.account.is_some() || named.contains_key(&key) || asked.contains_key(&key)
            {
                continue;
            }
            if asked.len() < resolve.max_credentials {
                asked.insert(key, credential.secret.clone());
            } else {
                over_limit.insert(key);
            }
        }
        counts.asked = asked.len();
        for (secret, answer) in resolve.resolve(asked.into_values().collect()).await? {
            match &answer {
                Resolution::Account(_) => counts.resolved += 1,
                Resolution::Refused(_) => counts.refused += 1,
                Resolution::Failed(_) => counts.failed += 1,
            }
            answers.insert(SecretKey::of(&secret), answer);
        }
    }
    let by_email = |email: &str, how| {
        let owner = Owner {
            email: Some(email.to_owned()),
            ..Owner::default()
        };
        Whose::Known(owner, how)
    };
    let uses = found
        .into_iter()
        .map(|f| {
            let whose = match &f.credential {
                _ if f.finding.status == FindingStatus::CannotTell => {
                    Whose::Unknown(Unresolved::Unreadable)
                }
                // The rule names the account even where the secret beside it is unusable.
                _ if f.finding.account_email.is_some() => {
                    let email = f.finding.account_email.as_deref().unwrap_or_default();
                    by_email(email, Attribution::InRule)
                }
                None => Whose::Unknown(Unresolved::Unreadable),
                Some(credential) => {
                    let key = SecretKey::of(&credential.secret);
                    match (&credential.account, named.get(&key), answers.get(&key)) {
                        (Some(account), _, _) => by_email(account, Attribution::InRule),
                        (None, Some(account), _) => by_email(account, Attribution::SameCredential),
                        (None, None, Some(Resolution::Account(account))) => Whose::Known(
                            Owner {
                                account_id: Some(account.account_id.clone()),
                                email: account.email_address.clone(),
                                name: account.display_name.clone(),
                            },
                            Attribution::Myself,
                        ),
                        (None, None, Some(Resolution::Refused(status))) => {
                            Whose::Unknown(Unresolved::Refused { status: *status })
                        }
                        (None, None, Some(Resolution::Failed(message))) => {
                            Whose::Unknown(Unresolved::Failed {
                                message: message.clone(),
                            })
                        }
                        (None, None, None) => match resolve {
                            Some(resolve) if over_limit.contains(&key) => {
                                Whose::Unknown(Unresolved::OverLimit {
                                    limit: resolve.max_credentials,
                                })
                            }
                            _ => Whose::Unknown(Unresolved::NotAsked),
                        },
                    }
                }
            };
            (f, whose)
        })
        .collect();
    Ok((uses, counts))
}

/// Whether `account` (as attributed) is `owner` (as listed): the same account id, or the
/// same email in any letter case.
fn same_account(owner: &Owner, account: &Owner) -> bool {
    let same = |a: &Option<String>, b: &Option<String>| matches!((a, b), (Some(a), Some(b)) if a.eq_ignore_ascii_case(b));
    same(&owner.account_id, &account.account_id) || same(&owner.email, &account.email)
}

/// Lists each attributed use under every expiring credential of its account, and the rest as
/// unresolved (or counted, when the account has nothing in the window).
fn join(report: &mut RadarReport, uses: Vec<(Found, Whose)>) {
    let order = |f: &crate::automation::Finding| (f.rule_uuid.clone(), f.pointer.clone());
    for (found, whose) in uses {
        let credential = found.credential.as_ref().map(|c| c.secret.fingerprint());
        match whose {
            Whose::Known(account, attributed_by) => {
                let mut listed = false;
                let tracked = report
                    .expiring
                    .iter_mut()
                    .filter(|c| c.where_used == WhereUsed::AutomationRules);
                for expiring in tracked {
                    if expiring
                        .owner
                        .as_ref()
                        .is_some_and(|owner| same_account(owner, &account))
                    {
                        listed = true;
                        expiring.uses.push(RuleUse {
                            finding: found.finding.clone(),
                            credential: credential.clone(),
                            account: account.clone(),
                            attributed_by,
                        });
                    }
                }
                if !listed {
                    report.other_accounts += 1;
                }
            }
            Whose::Unknown(reason) => report.unresolved.push(UnresolvedUse {
                finding: found.finding,
                credential,
                reason,
            }),
        }
    }
    for expiring in &mut report.expiring {
        expiring.uses.sort_by_cached_key(|u| order(&u.finding));
    }
    report.unresolved.sort_by_cached_key(|u| order(&u.finding));
}
