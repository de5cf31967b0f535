//! Rotating an API token used inside Jira Automation rules.

mod plan;
mod reader;
mod watch;
mod write;

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;

use super::bulk::{Phase, Progress, ProgressFn, Visited, for_each_rule, no_writes};
use super::originals::Originals;
use super::token::{OldToken, Revocation, TokenSource};
use super::{Finished, Rotator, Updated, Verified};
use crate::AdminClient;
use crate::automation::rewrite::check_replacement;
use crate::automation::{AutomationClient, Finding, FindingStatus, Scanner};
use crate::consumer::{Consumer, Consumers, CredentialView, INSTALLED};
use crate::error::{Error, Result};
use crate::jira::JiraClient;
use crate::secret::{ApiCredentials, ApiToken, basic_header, basic_parts};
use crate::transport::{Auth, ClientOptions};

pub use plan::{Plan, PlannedRule, Rollback};
use reader::{CallerIdentity, Reader, RuleSummaryRef, Write, is_match};
pub use write::FRESH_READ;

/// Rotates an API token used in automation rules' web requests.
///
/// - **regenerate** takes the new token from a [`TokenSource`] and proves, before anything
///   changes, that it authenticates as the same account as the old one (`/rest/api/3/myself`).
/// - **update** scans every rule, rewrites only the matched credential strings (Basic
///   re-encoded with the same email; Bearer and bare forms kept), writes with bounded
///   concurrency, never writes a masked value, and keeps the originals. A rule is written
///   straight after the read it was rewritten from; when that read has grown older than
///   [`FRESH_READ`] (a slow or rate-limited pass), it is read again first and skipped as a
///   conflict if it changed (see [`reread_older_than`](Self::reread_older_than) for exactly
///   what this protects). It fails when any rule
///   conflicted or failed; running it again finishes the rest.
/// - **verify** re-reads every rule: none still holds the old token, every rewritten one holds
///   the new one, and the new token authenticates.
/// - **finish** revokes the old token (when [`Self::revoke_with`] was given) and confirms it
///   now gets 401.
///
/// When the Automation client given to the rotator authenticates with the old token (a caller
/// rotating their own token), verify (once the new token authenticated) switches that client,
/// and so every clone of it the caller holds, to the new token: it keeps working after the
/// revocation, also in a process that resumes the rotation. A client on any other credential
/// is never touched. Clones of the rotator share its settings and its kept originals.
///
/// ```no_run
/// use atlassian_rotation::automation::{AutomationClient, Product};
/// use atlassian_rotation::rotate::{self, AutomationTokenRotator, FileJournal, RotateOptions};
/// use atlassian_rotation::secret::{ApiCredentials, ApiToken};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let caller = ApiCredentials::new("admin@example.com", ApiToken::new(std::env::var("ATLASSIAN_API_TOKEN")?));
/// let automation = AutomationClient::builder(caller).cloud(Product::Jira, "cloud-id").build()?;
/// let old = ApiCredentials::new("svc@example.com", ApiToken::new(std::env::var("ROTATE_OLD_TOKEN")?));
/// let new = ApiToken::new(std::env::var("ROTATE_NEW_TOKEN")?);
/// let rotator = AutomationTokenRotator::new(automation, "https://example.atlassian.net", old, new)?;
/// let journal = FileJournal::new("/var/lib/rotation")?;
/// let report = rotate::rotate(&rotator, &journal, RotateOptions::new("svc-token-2026-11")).await?;
/// println!("{} rules rewritten", report.updated.map_or(0, |u| u.rewritten));
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct AutomationTokenRotator {
    automation: AutomationClient,
    site: String,
    site_options: ClientOptions,
    old: ApiCredentials,
    source: Arc<dyn TokenSource>,
    concurrency: usize,
    revocation: Option<Revocation>,
    accept_unreadable: bool,
    accepted_rules: Arc<BTreeSet<String>>,
    /// Shared by clones, so that any clone can roll back what another rewrote.
    originals: Arc<Originals>,
    progress: Option<ProgressFn>,
    consumers: Consumers,
    watch: Option<watch::Watch>,
    /// Reads at least this old are compared again right before their write.
    reread_older_than: std::time::Duration,
}

impl fmt::Debug for AutomationTokenRotator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AutomationTokenRotator")
            .field("site", &self.site)
            .field("old", &self.old)
            .field("concurrency", &self.concurrency)
            .finish_non_exhaustive()
    }
}

/// The default number of rule requests in flight. The update is latency-bound and scales with
/// it: on the fake with 5 ms latency, 2,000 rules take 13.5 s at 1, 3.4 s at 4, 0.86 s at 16,
/// 0.47 s at 32 and 0.28 s at 64 (`BENCH_BULK_SWEEP=1 cargo bench --bench bulk`, 2-core VM).
/// 16 is chosen for Atlassian's sake rather than the client's: at real round trips of 100 to
/// 300 ms it sends 50 to 160 requests a second, which turns an hour of sequential requests
/// into minutes without leaning on a site's rate limits (the pass lowers it on 429s anyway).
/// Raise it with [`AutomationTokenRotator::concurrency`] for large sites far from Atlassian's
/// edge.
pub const DEFAULT_CONCURRENCY: usize = 16;

/// How one rule fared in an update.
enum Outcome {
    Unrelated {
        cannot_tell: bool,
    },
    /// Holds the new token already; whether the rule is disabled now.
    AlreadyNew {
        disabled: bool,
    },
    /// Written; whether the rule was disabled before.
    Rewritten {
        disabled: bool,
    },
    Conflict,
    /// Holds the old token together with a masked value (writing it back would destroy the
    /// hidden secret) or in a form the rewriter cannot replace: never written.
    Unwritable,
    /// Holds the old token, and connections the caller does not own: Atlassian disables a rule
    /// written with such connections, so it is never written.
    ForeignConnections,
}

impl AutomationTokenRotator {
    /// A rotator replacing `old` (the token's account email and the old token) in the rules
    /// `automation` can see, with the token `source` provides. `site` is the Jira Cloud site
    /// used for identity checks (`https://example.atlassian.net`).
    pub fn new(
        automation: AutomationClient,
        site: impl Into<String>,
        old: ApiCredentials,
        source: impl TokenSource + 'static,
    ) -> Result<Self> {
        let site = site.into();
        // Fails early on a bad site URL or email; whether plain http is allowed is for the
        // site's options to say, which come after (`site_options`).
        crate::transport::parse_base_url(&site, true)?;
        old.basic_header()?;
        Ok(Self {
            automation,
            site,
            site_options: ClientOptions::new(),
            old,
            source: Arc::new(source),
            concurrency: DEFAULT_CONCURRENCY,
            revocation: None,
            accept_unreadable: false,
            accepted_rules: Arc::default(),
            originals: Arc::new(Originals::memory()),
            progress: None,
            consumers: Consumers::default(),
            watch: None,
            reread_older_than: FRESH_READ,
        })
    }

    /// Connection options for the identity checks against the site (timeouts, retries, or
    /// plain http for a test server).
    pub fn site_options(mut self, options: ClientOptions) -> Self {
        self.site_options = options;
        self
    }

    /// How many rule requests may be in flight at once (default [`DEFAULT_CONCURRENCY`]).
    pub fn concurrency(mut self, concurrency: usize) -> Self {
        self.concurrency = concurrency.max(1);
        self
    }

    /// Revoke the old token in the finish step, through the user-management API, then confirm
    /// it gets 401.
    pub fn revoke_with(
        mut self,
        admin: AdminClient,
        account_id: impl Into<String>,
        token: OldToken,
    ) -> Self {
        self.revocation = Some(Revocation {
            admin,
            account_id: account_id.into(),
            token,
        });
        self
    }

    /// Revoke the old token even though some rules hold values this rotation cannot read or
    /// rewrite (masked secure headers, Data Center stored-secret references), which may use
    /// the old token.
    ///
    /// Every such value counts, in every rule the caller can see, also in a rule that holds
    /// another account's readable credential: a rule may send several credentials, and a
    /// masked one may be this token. With a revocation configured, the rotation decides this
    /// before anything changes: [`plan`](Self::plan) lists the places in
    /// [`Plan::blocks_revocation`], the regenerate step refuses to start
    /// ([`Error::RevocationBlocked`]) while any exists, and verify (which always runs right
    /// before the revocation) checks again. Check them by hand first
    /// ([`Scanner::inventory`] lists them), then opt in, for all rules with this, or for the
    /// rules you checked with [`accept_unreadable_in`](Self::accept_unreadable_in).
    pub fn accept_unreadable(mut self, accept: bool) -> Self {
        self.accept_unreadable = accept;
        self
    }

    /// Accepts the unreadable values of these rules only (by uuid), after checking them by
    /// hand: unreadable values in any other rule still block revocation. See
    /// [`accept_unreadable`](Self::accept_unreadable).
    pub fn accept_unreadable_in<I, S>(mut self, rules: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut accepted = (*self.accepted_rules).clone();
        accepted.extend(rules.into_iter().map(Into::into));
        self.accepted_rules = Arc::new(accepted);
        self
    }

    /// Keep the originals of rewritten rules in `dir` (one 0600 file per rule, written before
    /// the rule is), instead of in memory: rollback then works from another process too, and
    /// memory stays flat however many rules are rewritten. The files hold the old token:
    /// remove them once the rotation is settled.
    ///
    /// The directory is created (0700) when the update starts, before any rule is written; a
    /// directory that cannot be made fails the update with [`Error::Journal`] and nothing
    /// changed.
    ///
    /// ```
    /// # use atlassian_rotation::AutomationClient;
    /// # use atlassian_rotation::rotate::AutomationTokenRotator;
    /// # use atlassian_rotation::secret::{ApiCredentials, ApiToken};
    /// # let creds = ApiCredentials::new("svc@example.com", ApiToken::new("old"));
    /// # let automation = AutomationClient::builder(creds.clone()).base_url("https://example.com/a").build()?;
    /// let rotator = AutomationTokenRotator::new(automation, "https://example.atlassian.net", creds, ApiToken::new("new"))?
    ///     .keep_originals_in("/var/lib/rotation/originals")
    ///     .concurrency(8);
    /// # let _ = rotator;
    /// # Ok::<(), atlassian_rotation::Error>(())
    /// ```
    pub fn keep_originals_in(mut self, dir: impl Into<std::path::PathBuf>) -> Self {
        self.originals = Arc::new(Originals::dir(dir.into()));
        self
    }

    /// Installs the new token in `consumer` too (a file, a vault through its command, the
    /// caller's code; see [`crate::consumer`]), as many as needed: update installs into every
    /// consumer after the rules, skipping those that already hold it; verify observes every
    /// one; the old token is revoked only after all of them verified. A failing consumer names
    /// itself in the error ([`Error::Consumer`]); running the rotation again retries what is
    /// left. [`rollback`](Self::rollback) restores what they held before.
    ///
    /// ```
    /// # use atlassian_rotation::AutomationClient;
    /// # use atlassian_rotation::rotate::AutomationTokenRotator;
    /// # use atlassian_rotation::secret::{ApiCredentials, ApiToken};
    /// use atlassian_rotation::consumer::{CommandConsumer, FileConsumer};
    /// # let creds = ApiCredentials::new("svc@example.com", ApiToken::new("old"));
    /// # let automation = AutomationClient::builder(creds.clone()).base_url("https://example.com/a").build()?;
    /// let rotator = AutomationTokenRotator::new(automation, "https://example.atlassian.net", creds, ApiToken::new("new"))?
    ///     .consumer(FileConsumer::dotenv("/srv/app/.env", "JIRA_TOKEN"))
    ///     .consumer(CommandConsumer::new("gh").args(["secret", "set", "JIRA_TOKEN"]));
    /// # let _ = rotator;
    /// # Ok::<(), atlassian_rotation::Error>(())
    /// ```
    pub fn consumer(mut self, consumer: impl Consumer + 'static) -> Self {
        self.consumers.push(consumer);
        self
    }

    /// Calls `progress` after each rule of a bulk pass.
    pub fn on_progress(mut self, progress: impl Fn(Progress) + Send + Sync + 'static) -> Self {
        self.progress = Some(Arc::new(progress));
        self
    }

    fn jira(&self, credentials: &ApiCredentials) -> Result<JiraClient> {
        JiraClient::builder(credentials.clone())
            .base_url(&self.site)
            .options(self.site_options.clone())
            .build()
    }

    fn new_credentials(&self, token: &ApiToken) -> ApiCredentials {
        ApiCredentials::new(self.old.email(), token.clone())
    }

    fn report(&self, progress: Progress) {
        if let Some(report) = &self.progress {
            report(progress);
        }
    }

    /// The shared context of a bulk pass replacing the old token with `new`.
    fn reader(&self, new: &ApiToken) -> Arc<Reader> {
        Arc::new(Reader {
            automation: self.automation.clone(),
            old: self.old.token().clone(),
            new: new.clone(),
            old_scanner: Scanner::for_token(self.old.token()),
            new_scanner: Scanner::for_token(new),
            caller: self.caller_identity(),
        })
    }

    /// Who the Automation client acts as, asked once per pass and only when a rule has
    /// connections (`/rest/api/3/myself` on the site, with the client's own credentials).
    fn caller_identity(&self) -> Arc<CallerIdentity> {
        Arc::new(CallerIdentity {
            site: self.site.clone(),
            options: self.site_options.clone(),
            auth: self.automation.auth(),
            account_id: tokio::sync::OnceCell::new(),
        })
    }

    /// Proves that `new` authenticates as the same account as the old token (or, when the old
    /// one no longer works, with the same email).
    async fn check_same_account(&self, new: &ApiToken) -> Result<()> {
        let new_account = match self.jira(&self.new_credentials(new))?.myself().await {
            Ok(account) => account,
            Err(e) if e.is_auth_failure() => {
                return Err(Error::rotation(
                    "regenerate",
                    format!(
                        "the new token does not authenticate as {} ({e})",
                        self.old.email()
                    ),
                ));
            }
            Err(e) => return Err(e),
        };
        match self.jira(&self.old)?.myself().await {
            Ok(old_account) if old_account.account_id != new_account.account_id => {
                Err(Error::rotation(
                    "regenerate",
                    format!(
                        "the new token belongs to account {}, the old one to {}",
                        new_account.account_id, old_account.account_id
                    ),
                ))
            }
            Ok(_) => Ok(()),
            // The old token no longer works (expired or revoked): the email must still match.
            Err(e) if e.is_auth_failure() => match new_account.email_address.as_deref() {
                Some(email) if !email.eq_ignore_ascii_case(self.old.email()) => {
                    Err(Error::rotation(
                        "regenerate",
                        format!(
                            "the new token authenticates as {email}, not {}",
                            self.old.email()
                        ),
                    ))
                }
                _ => Ok(()),
            },
            Err(e) => Err(e),
        }
    }

    /// Switches the Automation client this rotator was given (and so the caller's client and
    /// every clone of it) from the old token to `new`, when it authenticates with the old one:
    /// a caller rotating their own token keeps a working client once the old one is revoked.
    /// The client's email spelling is kept; a client using any other credential is left as it
    /// is. Called only once `new` authenticated (verify) and right before a revocation.
    fn follow_rotation(&self, new: &ApiToken) -> bool {
        let switched = self.automation.transport().replace_auth(|current| {
            let email = self.old_token_email(current)?;
            basic_header(&email, new.expose_secret())
                .ok()
                .map(Auth::Header)
        });
        if switched {
            tracing::info!("the Automation client now authenticates with the new token");
        }
        switched
    }

    /// The email of `current` credentials that are the old token (the email in any letter
    /// case, spelled as they spell it); `None` for any other credential.
    fn old_token_email(&self, current: Option<&Auth>) -> Option<String> {
        let Some(Auth::Header(header)) = current else {
            return None;
        };
        let (email, token) = basic_parts(header)?;
        (email.eq_ignore_ascii_case(self.old.email()) && *token == self.old.token().expose_secret())
            .then_some(email)
    }

    /// Whether the unreadable values of rule `uuid` were accepted by the caller.
    fn accepted(&self, uuid: &str) -> bool {
        self.accept_unreadable || self.accepted_rules.contains(uuid)
    }
}

/// Tallies of an update pass.
#[derive(Default)]
struct Tally {
    updated: Updated,
    conflicted: Vec<String>,
    unwritable: Vec<String>,
    foreign: Vec<String>,
    failed: Vec<(String, Error)>,
}

#[async_trait]
impl Rotator for AutomationTokenRotator {
    type Credential = ApiToken;

    fn kind(&self) -> &'static str {
        "automation-token"
    }

    fn target(&self) -> String {
        format!("{} as {}", self.automation.base_url(), self.old.email())
    }

    fn old_fingerprint(&self) -> Option<String> {
        Some(self.old.token().fingerprint())
    }

    /// The token the source hands over now: a resume with another one is refused.
    async fn offered_fingerprint(&self) -> Result<Option<String>> {
        Ok(Some(self.source.new_token().await?.fingerprint()))
    }

    /// The new token comes from a [`TokenSource`]; asking for it again loses nothing.
    fn regenerate_mints(&self) -> bool {
        false
    }

    /// Takes the new token, proves it authenticates as the old one's account and, with a
    /// revocation configured, decides before anything changes that the old token can be
    /// revoked: it resolves to exactly one token, and no rule holds a value that could be it
    /// and cannot be read or rewritten ([`Error::RevocationBlocked`] lists them).
    async fn regenerate(&self) -> Result<ApiToken> {
        let new = self.source.new_token().await?;
        check_replacement(self.old.token(), &new)?;
        self.check_same_account(&new).await?;
        self.preflight(&new).await?;
        Ok(new)
    }

    async fn update(&self, new: &ApiToken) -> Result<Updated> {
        check_replacement(self.old.token(), new)?;
        // Which token to revoke is decided now, while the old token is surely still listed,
        // and journaled with the outcome.
        let old_token_id = match &self.revocation {
            Some(revocation) => Some(revocation.id_to_journal().await?),
            None => None,
        };
        self.originals.prepare().await?;
        self.watch_prepare(new, old_token_id.as_deref()).await?;
        let reader = self.reader(new);
        let redactor = Arc::clone(&reader);
        let read = move |summary: RuleSummaryRef| {
            let reader = Arc::clone(&reader);
            async move { reader.update_rule(&summary.uuid).await }
        };
        let write = |write: Write| self.write_rule(write);
        let mut progress = Progress::new(Phase::Update);
        let tally = for_each_rule(
            &self.automation,
            self.concurrency,
            read,
            write,
            Tally::default(),
            |tally, summary, outcome, concurrency| {
                progress.scanned += 1;
                progress.concurrency = concurrency;
                match outcome {
                    Ok(Outcome::Unrelated { cannot_tell }) => {
                        if cannot_tell {
                            tally.updated.skipped += 1;
                        }
                    }
                    Ok(Outcome::AlreadyNew { disabled } | Outcome::Rewritten { disabled }) => {
                        // Journaled and reported: redacted like every rule-derived string
                        // (verify compares the redacted form).
                        let shown = redactor.redact(summary.uuid);
                        if disabled {
                            // Straight into the facts, in the order the rules completed: no
                            // list of its own to copy from at the end.
                            tally
                                .updated
                                .facts
                                .push((DISABLED_BEFORE.to_owned(), shown.clone()));
                        }
                        tally.updated.found += 1;
                        tally.updated.rewritten += 1;
                        tally.updated.targets.push(shown);
                        progress.matched += 1;
                        progress.written += 1;
                    }
                    Ok(Outcome::Conflict) => {
                        tally.updated.found += 1;
                        tally.updated.conflicted += 1;
                        tally.conflicted.push(redactor.redact(summary.uuid));
                        progress.matched += 1;
                        progress.problems += 1;
                    }
                    Ok(Outcome::Unwritable) => {
                        tally.updated.found += 1;
                        tally.updated.skipped += 1;
                        tally.unwritable.push(redactor.redact(summary.uuid));
                        progress.matched += 1;
                        progress.problems += 1;
                    }
                    Ok(Outcome::ForeignConnections) => {
                        tally.updated.found += 1;
                        tally.updated.skipped += 1;
                        tally.foreign.push(redactor.redact(summary.uuid));
                        progress.matched += 1;
                        progress.problems += 1;
                    }
                    Err(e) => {
                        tally.failed.push((redactor.redact(summary.uuid), e));
                        progress.problems += 1;
                    }
                }
                self.report(progress);
            },
        )
        .await?;
        let Tally {
            mut updated,
            conflicted,
            unwritable,
            foreign,
            failed,
        } = tally;
        updated.scanned = progress.scanned;
        // Unstable: equal uuids are indistinguishable, and a stable sort allocates a scratch
        // buffer of half the targets. Then no spare capacity is kept for the rest of the
        // rotation (the journal, verify, the report).
        updated.targets.sort_unstable();
        updated.targets.shrink_to_fit();
        if let Some(id) = old_token_id {
            updated = updated.fact(OLD_TOKEN_ID, id);
        }
        // The consumers, after the rules: each one already holding the token is left alone.
        let consumers = match self
            .consumers
            .install(CredentialView::new(new.expose_secret()))
            .await
        {
            Ok(names) => {
                for name in names {
                    updated = updated.fact(INSTALLED, name);
                }
                None
            }
            Err(e) => Some(e),
        };
        updated.facts.shrink_to_fit();
        if conflicted.is_empty() && unwritable.is_empty() && foreign.is_empty() && failed.is_empty()
        {
            return match consumers {
                None => self.watch_baseline(updated).await,
                Some(e) => Err(e),
            };
        }
        let mut reason = format!(
            "{} of {} rules using the token rewritten",
            updated.rewritten,
            updated.found + failed.len()
        );
        if !unwritable.is_empty() {
            reason.push_str(&format!(
                "; {} hold the old token together with masked values that would be destroyed if \
                 written back, or in a form this rotation cannot rewrite, so they were not written \
                 (replace the token in them by hand): {}",
                unwritable.len(),
                unwritable.join(", ")
            ));
        }
        if !foreign.is_empty() {
            reason.push_str(&format!(
                "; {} use connections owned by another account, and Atlassian disables a rule \
                 written by someone who does not own its connections, so they were not written \
                 (have the connections' owner run the rotation, or replace the token by hand): {}",
                foreign.len(),
                foreign.join(", ")
            ));
        }
        if !conflicted.is_empty() {
            reason.push_str(&format!(
                "; {} changed between read and write and were not overwritten: {}",
                conflicted.len(),
                conflicted.join(", ")
            ));
        }
        if let Some((uuid, first)) = failed.first() {
            reason.push_str(&format!(
                "; {} failed (first: rule {uuid}: {first})",
                failed.len()
            ));
        }
        if let Some(e) = consumers {
            reason.push_str(&format!("; {e}"));
        }
        reason.push_str("; run the rotation again to finish the rest");
        Err(Error::rotation("update", reason))
    }

    /// Re-reads every rule: none holds the old token in any form the scanner knows, every
    /// rewritten one holds the new token, the new token authenticates and, with a revocation
    /// configured, no rule holds an unreadable value that could be the old token (unless
    /// accepted). It runs right before every revocation.
    async fn verify(&self, new: &ApiToken, updated: &Updated) -> Result<Verified> {
        self.jira(&self.new_credentials(new))?.myself().await?;
        // The new token works: a client on the old one moves now, so that this pass (and a
        // resume after the old token was revoked) reads with a token that still works.
        self.follow_rotation(new);
        // With a watch, its grace period comes first: what follows observes every place right
        // before the revocation.
        let held = self.watch_hold(updated).await?;
        let reader = self.reader(new);
        let redactor = Arc::clone(&reader);
        let read = move |summary: RuleSummaryRef| {
            let reader = Arc::clone(&reader);
            async move { reader.verify_rule(&summary.uuid).await.map(Visited::Done) }
        };
        let mut progress = Progress::new(Phase::Verify);
        let revoking = self.revocation.is_some();
        let mut problems: Vec<String> = Vec::new();
        let mut blockers: Vec<Finding> = Vec::new();
        // The distinct rules read (case-folded) and the targets among them: a listing that
        // repeats one rule in place of another must not pass for a complete one.
        let mut listed: std::collections::HashSet<String> = std::collections::HashSet::new();
        let mut seen_targets: std::collections::HashSet<String> = std::collections::HashSet::new();
        let disabled_before: std::collections::HashSet<&str> = updated
            .facts
            .iter()
            .filter(|(k, _)| k == DISABLED_BEFORE)
            .map(|(_, v)| v.as_str())
            .collect();
        for_each_rule(
            &self.automation,
            self.concurrency,
            read,
            no_writes,
            (),
            |(), summary, result, concurrency| {
                progress.scanned += 1;
                progress.concurrency = concurrency;
                let first_listing = listed.insert(summary.uuid.to_ascii_lowercase());
                let accepted = self.accepted(&summary.uuid);
                let shown = redactor.redact(summary.uuid);
                if !first_listing {
                    problems.push(format!("{shown} was listed more than once"));
                }
                let is_target = updated.targets.binary_search(&shown).is_ok();
                if is_target {
                    seen_targets.insert(shown.clone());
                }
                let was_disabled = disabled_before.contains(shown.as_str());
                match result {
                    Ok((old, _, _)) if is_match(&old) => {
                        problems.push(format!("{shown} still holds the old token"));
                    }
                    Ok((_, false, _)) if is_target => {
                        problems.push(format!("{shown} no longer holds the new token"));
                    }
                    Ok((_, _, true)) if is_target && !was_disabled => {
                        problems.push(format!(
                            "{shown} was enabled and is disabled since the rotation wrote it \
                             (Atlassian disables a rule written with connections the writer does \
                             not own)"
                        ));
                    }
                    Ok((old, _, _)) => {
                        if revoking && !accepted {
                            blockers.extend(
                                old.into_iter()
                                    .filter(|f| f.status == FindingStatus::CannotTell)
                                    .map(|f| redactor.redact_finding(f)),
                            );
                        }
                    }
                    Err(e) => problems.push(format!("{shown} could not be read: {e}")),
                }
                progress.problems = problems.len() + blockers.len();
                self.report(progress);
            },
        )
        .await?;
        let seen = listed.len();
        // A listing that hides rules proves nothing about them.
        let unseen = updated
            .targets
            .iter()
            .filter(|t| !seen_targets.contains(*t))
            .count();
        if unseen > 0 {
            problems.push(format!(
                "{unseen} of the {} rewritten rules were not listed",
                updated.targets.len()
            ));
        }
        if seen < updated.scanned {
            problems.push(format!(
                "{seen} rules were listed, but the update saw {}",
                updated.scanned
            ));
        }
        if !problems.is_empty() {
            return Err(Error::rotation("verify", problems.join("; ")));
        }
        if !blockers.is_empty() {
            return Err(Error::RevocationBlocked {
                step: "verify",
                places: blockers,
            });
        }
        let mut consumer_checks = self
            .consumers
            .verify(CredentialView::new(new.expose_secret()), updated)
            .await?;
        // Last: nothing above uses the old token, and the revocation follows.
        consumer_checks.extend(self.watch_check(updated, held).await?);
        let verified = Verified::new()
            .check(format!(
                "the new token authenticates as {}",
                self.old.email()
            ))
            .check(format!("none of {seen} rules holds the old token"))
            .check(format!(
                "all {} rewritten rules hold the new token",
                updated.targets.len()
            ));
        Ok(consumer_checks
            .into_iter()
            .fold(verified, |verified, check| verified.check(check)))
    }

    /// A rerun of the finished rotation: a client still on the old token (a process that built
    /// it from an old configuration) moves to the new one, once that token authenticated; a
    /// new token that no longer does (a later rotation revoked it) leaves it as it is.
    async fn already_finished(&self, fingerprint: &str) -> Result<()> {
        if self
            .old_token_email(self.automation.auth().as_ref())
            .is_none()
        {
            return Ok(());
        }
        let new = self.source.new_token().await?;
        if new.fingerprint() != fingerprint {
            return Ok(());
        }
        match self.jira(&self.new_credentials(&new))?.myself().await {
            Ok(_) => {
                self.follow_rotation(&new);
                Ok(())
            }
            Err(e) if e.is_auth_failure() => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Revokes the old token (when [`AutomationTokenRotator::revoke_with`] was given) and
    /// concludes it revoked only from evidence (see [`OldToken`]).
    async fn finish(&self, new: &ApiToken, updated: &Updated) -> Result<Finished> {
        // Verify passed: the caller's client moves to the new token before the old one goes.
        self.follow_rotation(new);
        let Some(revocation) = &self.revocation else {
            return Ok(Finished::nothing());
        };
        let id = match updated.fact_value(OLD_TOKEN_ID) {
            Some(id) => id.to_owned(),
            None => revocation.resolve().await?,
        };
        let old = self.jira(&self.old)?;
        let new = self.jira(&self.new_credentials(new))?;
        revocation.revoke(&id, &old, &new).await
    }
}

/// The fact under which the update step journals the id of the token to revoke.
const OLD_TOKEN_ID: &str = "old_token_id";

/// The fact under which the update step journals each rewritten rule that was disabled
/// before it was written (so verify can tell a rule the write disabled).
const DISABLED_BEFORE: &str = "disabled_before";
