//! Rotating an API token used inside Jira Automation rules.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use serde::Serialize;

use super::bulk::{Progress, ProgressFn, Visited, for_each_rule, no_writes};
use super::originals::Originals;
use super::token::{OldToken, Revocation, TokenSource};
use super::{Finished, Rotator, Updated, Verified};
use crate::AdminClient;
use crate::automation::rewrite::{Rewrite, check_replacement, plan_rule, rewrite_rule};
use crate::automation::{AutomationClient, CredentialForm, Finding, FindingStatus, Scanner};
use crate::error::{Error, Result};
use crate::jira::JiraClient;
use crate::secret::{ApiCredentials, ApiToken};
use crate::transport::ClientOptions;

/// The plan of a dry run: what an update would rewrite, redacted. Serializable.
#[derive(Debug, Clone, Default, Serialize)]
#[non_exhaustive]
pub struct Plan {
    /// Rules visited.
    pub scanned: usize,
    /// Rules that would be rewritten, with each change.
    pub rules: Vec<PlannedRule>,
    /// Places whose value cannot be read (masked values, stored-secret references).
    pub cannot_tell: Vec<Finding>,
}

/// One rule of a [`Plan`].
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct PlannedRule {
    /// The rule's uuid.
    pub uuid: String,
    /// The rule's name.
    pub name: Option<String>,
    /// The changes, with redacted before and after values.
    pub rewrites: Vec<Rewrite>,
}

/// What a rollback did.
#[derive(Debug, Clone, Default, Serialize)]
#[non_exhaustive]
pub struct Rollback {
    /// Rules restored to their original.
    pub restored: Vec<String>,
    /// Rules left alone because they changed after this rotation wrote them.
    pub modified_since: Vec<String>,
}

/// Rotates an API token used in automation rules' web requests.
///
/// - **regenerate** takes the new token from a [`TokenSource`] and proves, before anything
///   changes, that it authenticates as the same account as the old one (`/rest/api/3/myself`).
/// - **update** scans every rule, rewrites only the matched credential strings (Basic
///   re-encoded with the same email; Bearer and bare forms kept), re-reads each rule right
///   before writing and skips it as a conflict if it changed since the scan, writes with bounded
///   concurrency, never writes a masked value, and keeps the originals. It fails when any rule
///   conflicted or failed; running it again finishes the rest.
/// - **verify** re-reads every rule: none still holds the old token, every rewritten one holds
///   the new one, and the new token authenticates.
/// - **finish** revokes the old token (when [`Self::revoke_with`] was given) and confirms it
///   now gets 401.
///
/// ```no_run
/// use atlassian_rotation::automation::{AutomationBase, AutomationClient, Product};
/// use atlassian_rotation::rotate::{self, AutomationTokenRotator, FileJournal, RotateOptions};
/// use atlassian_rotation::secret::{ApiCredentials, ApiToken};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let caller = ApiCredentials::new("admin@example.com", ApiToken::new(std::env::var("ATLASSIAN_API_TOKEN")?));
/// let automation = AutomationClient::new(AutomationBase::api(Product::Jira, "cloud-id")?, &caller)?;
/// let old = ApiCredentials::new("svc@example.com", ApiToken::new(std::env::var("ROTATE_OLD_TOKEN")?));
/// let new = ApiToken::new(std::env::var("ROTATE_NEW_TOKEN")?);
/// let rotator = AutomationTokenRotator::new(automation, "https://example.atlassian.net", old, new)?;
/// let journal = FileJournal::new("/var/lib/rotation")?;
/// let report = rotate::rotate(&rotator, &journal, RotateOptions::new("svc-token-2026-11")).await?;
/// println!("{} rules rewritten", report.updated.map_or(0, |u| u.rewritten));
/// # Ok(()) }
/// ```
pub struct AutomationTokenRotator {
    automation: AutomationClient,
    site: String,
    site_options: ClientOptions,
    old: ApiCredentials,
    source: Box<dyn TokenSource>,
    concurrency: usize,
    revocation: Option<Revocation>,
    accept_unreadable: bool,
    originals: Originals,
    progress: Option<ProgressFn>,
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
    AlreadyNew,
    Rewritten,
    Conflict,
    /// Holds the old token and a masked value: writing it back would destroy the hidden secret.
    Masked,
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
        // Fails early on a bad site URL or email.
        JiraClient::new(&site, &old)?;
        Ok(Self {
            automation,
            site,
            site_options: ClientOptions::new(),
            old,
            source: Box::new(source),
            concurrency: DEFAULT_CONCURRENCY,
            revocation: None,
            accept_unreadable: false,
            originals: Originals::memory(),
            progress: None,
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

    /// Revoke the old token even though some rules hold values this rotation cannot read
    /// (masked secure headers, Data Center stored-secret references), which may use the old
    /// token. By default the finish step refuses to revoke while any such rule exists: check
    /// them by hand first (`Scanner::inventory` lists them), then opt in.
    pub fn accept_unreadable(mut self, accept: bool) -> Self {
        self.accept_unreadable = accept;
        self
    }

    /// Keep the originals of rewritten rules in `dir` (created 0700; one 0600 file per rule,
    /// written before the rule is), instead of in memory: rollback then works from another
    /// process too, and memory stays flat however many rules are rewritten. The files hold the
    /// old token: remove them once the rotation is settled.
    pub fn keep_originals_in(mut self, dir: impl Into<std::path::PathBuf>) -> Result<Self> {
        self.originals = Originals::dir(dir.into())?;
        Ok(self)
    }

    /// Calls `progress` after each rule of a bulk pass.
    pub fn on_progress(mut self, progress: impl Fn(Progress) + Send + Sync + 'static) -> Self {
        self.progress = Some(Arc::new(progress));
        self
    }

    fn jira(&self, credentials: &ApiCredentials) -> Result<JiraClient> {
        JiraClient::with_options(&self.site, credentials, self.site_options.clone())
    }

    fn new_credentials(&self, token: &ApiToken) -> ApiCredentials {
        ApiCredentials::new(self.old.email(), token.clone())
    }

    fn report(&self, progress: Progress) {
        if let Some(report) = &self.progress {
            report(progress);
        }
    }

    /// The shared context of a bulk pass replacing the old token with `new`; `old_scanner`
    /// finds the old token.
    fn reader(&self, new: &ApiToken, old_scanner: Scanner) -> Arc<Reader> {
        Arc::new(Reader {
            automation: self.automation.clone(),
            old: self.old.token().clone(),
            new: new.clone(),
            old_scanner,
            new_scanner: Scanner::for_token(new),
        })
    }

    /// Sends one rewritten rule, its original kept first: a write whose answer is lost may
    /// still have been applied.
    async fn write_rule(&self, write: Write) -> Result<Outcome> {
        self.originals
            .keep(&write.uuid, &write.original, &write.document["rule"])
            .await?;
        self.automation
            .update_rule_json(&write.uuid, &write.document)
            .await?;
        Ok(Outcome::Rewritten)
    }

    /// A dry run: what update would rewrite with `new`, without writing anything.
    pub async fn plan(&self, new: &ApiToken) -> Result<Plan> {
        check_replacement(self.old.token(), new)?;
        let reader = self.reader(
            new,
            Scanner::for_token(self.old.token()).with_email(self.old.email()),
        );
        let read = move |summary: RuleSummaryRef| {
            let reader = Arc::clone(&reader);
            async move { reader.plan_rule(&summary.uuid).await.map(Visited::Done) }
        };
        let mut progress = Progress {
            phase: "plan",
            ..Progress::default()
        };
        let plan = for_each_rule(
            &self.automation,
            self.concurrency,
            read,
            no_writes,
            Ok(Plan::default()),
            |plan: &mut Result<Plan>, summary, result, concurrency| {
                progress.scanned += 1;
                progress.concurrency = concurrency;
                match (plan.as_mut(), result) {
                    (Ok(plan), Ok((rewrites, cannot_tell))) => {
                        plan.scanned += 1;
                        plan.cannot_tell.extend(cannot_tell);
                        if !rewrites.is_empty() {
                            progress.matched += 1;
                            plan.rules.push(PlannedRule {
                                uuid: summary.uuid,
                                name: summary.name,
                                rewrites,
                            });
                        }
                    }
                    (Ok(_), Err(e)) => *plan = Err(e),
                    (Err(_), _) => {}
                }
                self.report(progress);
            },
        )
        .await??;
        Ok(plan)
    }

    /// Restores the kept originals of the rules this rotator rewrote, skipping any rule changed
    /// since it was written. Refused once the old token no longer authenticates. Originals are
    /// kept in memory by this rotator instance, or in the directory given to
    /// [`keep_originals_in`](Self::keep_originals_in), where another process can roll back.
    pub async fn rollback(&self) -> Result<Rollback> {
        // Restored rules would hold the old token again: useless, and harmful, once it is revoked.
        if let Err(e) = self.jira(&self.old)?.myself().await {
            if e.is_auth_failure() {
                return Err(Error::rotation(
                    "rollback",
                    "the old token no longer authenticates (revoked or expired): restoring \
                     rules that use it would break them",
                ));
            }
            return Err(e);
        }
        let mut rollback = Rollback::default();
        for uuid in self.originals.uuids().await? {
            let Some(kept) = self.originals.get(&uuid).await? else {
                continue;
            };
            let current = self.automation.get_rule_json(&uuid).await?;
            if current["rule"] != kept.written {
                rollback.modified_since.push(uuid);
                continue;
            }
            self.automation
                .update_rule_json(&uuid, &kept.original)
                .await?;
            self.originals.forget(&uuid).await?;
            rollback.restored.push(uuid);
        }
        Ok(rollback)
    }
}

/// What the reads of one bulk pass share, owned so that each rule's read can run as a task of
/// its own: the client, both tokens and scanners built once per pass (a scanner precomputes
/// every spelling of its token). Writes go through the rotator itself, in the pass's future.
struct Reader {
    automation: AutomationClient,
    old: ApiToken,
    new: ApiToken,
    old_scanner: Scanner,
    new_scanner: Scanner,
}

/// A rule to write: the document as read, kept as the original, and as rewritten. Holds the old
/// token: never printed.
struct Write {
    uuid: String,
    original: serde_json::Value,
    document: serde_json::Value,
}

impl Reader {
    /// What an update would change in one rule, and what in it cannot be read.
    async fn plan_rule(&self, uuid: &str) -> Result<(Vec<Rewrite>, Vec<Finding>)> {
        let document = self.automation.get_rule_json(uuid).await?;
        let rule = &document["rule"];
        let cannot_tell: Vec<Finding> = self
            .old_scanner
            .scan_rule(rule)
            .into_iter()
            .filter(|f| f.status == FindingStatus::CannotTell)
            .collect();
        Ok((plan_rule(rule, &self.old, &self.new)?, cannot_tell))
    }

    /// Reads and rewrites one rule; the write (unless the rule changed meanwhile) is for the
    /// pass to send.
    async fn update_rule(&self, uuid: &str) -> Result<Visited<Outcome, Write>> {
        let scanned = self.automation.get_rule_json(uuid).await?;
        let findings = self.old_scanner.scan_rule(&scanned["rule"]);
        if !is_match(&findings) {
            if is_match(&self.new_scanner.scan_rule(&scanned["rule"])) {
                return Ok(Visited::Done(Outcome::AlreadyNew));
            }
            let cannot_tell = findings
                .iter()
                .any(|f| f.status == FindingStatus::CannotTell);
            return Ok(Visited::Done(Outcome::Unrelated { cannot_tell }));
        }
        // A masked value read back would overwrite the secret it hides: never write such a rule.
        if findings.iter().any(|f| f.form == CredentialForm::Masked) {
            return Ok(Visited::Done(Outcome::Masked));
        }
        // Compare-before-write: a rule edited since the scan is not overwritten.
        let mut document = self.automation.get_rule_json(uuid).await?;
        if document["rule"] != scanned["rule"] {
            return Ok(Visited::Done(Outcome::Conflict));
        }
        let original = document.clone();
        rewrite_rule(&mut document["rule"], &self.old, &self.new)?;
        Ok(Visited::Write(Write {
            uuid: uuid.to_owned(),
            original,
            document,
        }))
    }

    /// Whether one rule holds the old token, and whether it holds the new one.
    async fn verify_rule(&self, uuid: &str) -> Result<(bool, bool)> {
        let document = self.automation.get_rule_json(uuid).await?;
        let rule = &document["rule"];
        Ok((
            is_match(&self.old_scanner.scan_rule(rule)),
            is_match(&self.new_scanner.scan_rule(rule)),
        ))
    }
}

type RuleSummaryRef = crate::automation::RuleSummary;

/// Whether the scan found the token itself (not just a value it cannot read).
fn is_match(findings: &[Finding]) -> bool {
    findings.iter().any(|f| f.status == FindingStatus::Match)
}

/// Tallies of an update pass.
#[derive(Default)]
struct Tally {
    updated: Updated,
    conflicted: Vec<String>,
    masked: Vec<String>,
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

    /// The new token comes from a [`TokenSource`]; asking for it again loses nothing.
    fn regenerate_mints(&self) -> bool {
        false
    }

    async fn regenerate(&self) -> Result<ApiToken> {
        let new = self.source.new_token().await?;
        check_replacement(self.old.token(), &new)?;
        let new_account = match self.jira(&self.new_credentials(&new))?.myself().await {
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
            Ok(_) => Ok(new),
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
                _ => Ok(new),
            },
            Err(e) => Err(e),
        }
    }

    async fn update(&self, new: &ApiToken) -> Result<Updated> {
        let reader = self.reader(new, Scanner::for_token(self.old.token()));
        let read = move |summary: RuleSummaryRef| {
            let reader = Arc::clone(&reader);
            async move { reader.update_rule(&summary.uuid).await }
        };
        let write = |write: Write| self.write_rule(write);
        let mut progress = Progress {
            phase: "update",
            ..Progress::default()
        };
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
                    Ok(Outcome::AlreadyNew) | Ok(Outcome::Rewritten) => {
                        tally.updated.found += 1;
                        tally.updated.rewritten += 1;
                        tally.updated.targets.push(summary.uuid);
                        progress.matched += 1;
                        progress.written += 1;
                    }
                    Ok(Outcome::Conflict) => {
                        tally.updated.found += 1;
                        tally.updated.conflicted += 1;
                        tally.conflicted.push(summary.uuid);
                        progress.matched += 1;
                        progress.problems += 1;
                    }
                    Ok(Outcome::Masked) => {
                        tally.updated.found += 1;
                        tally.updated.skipped += 1;
                        tally.masked.push(summary.uuid);
                        progress.matched += 1;
                        progress.problems += 1;
                    }
                    Err(e) => {
                        tally.failed.push((summary.uuid, e));
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
            masked,
            failed,
        } = tally;
        updated.targets.sort();
        if conflicted.is_empty() && masked.is_empty() && failed.is_empty() {
            return Ok(updated);
        }
        let mut reason = format!(
            "{} of {} rules using the token rewritten",
            updated.rewritten,
            updated.found + failed.len()
        );
        if !masked.is_empty() {
            reason.push_str(&format!(
                "; {} also hold masked values that would be destroyed if written back, so they were \
                 not written (replace the token in them by hand): {}",
                masked.len(),
                masked.join(", ")
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
        reason.push_str("; run the rotation again to finish the rest");
        Err(Error::rotation("update", reason))
    }

    async fn verify(&self, new: &ApiToken, updated: &Updated) -> Result<Verified> {
        self.jira(&self.new_credentials(new))?.myself().await?;
        let reader = self.reader(new, Scanner::for_token(self.old.token()));
        let read = move |summary: RuleSummaryRef| {
            let reader = Arc::clone(&reader);
            async move { reader.verify_rule(&summary.uuid).await.map(Visited::Done) }
        };
        let mut progress = Progress {
            phase: "verify",
            ..Progress::default()
        };
        let mut problems: Vec<String> = Vec::new();
        let seen = for_each_rule(
            &self.automation,
            self.concurrency,
            read,
            no_writes,
            0usize,
            |seen, summary, result, concurrency| {
                progress.scanned += 1;
                progress.concurrency = concurrency;
                *seen += 1;
                let is_target = updated.targets.binary_search(&summary.uuid).is_ok();
                match result {
                    Ok((true, _)) => {
                        problems.push(format!("{} still holds the old token", summary.uuid))
                    }
                    Ok((false, false)) if is_target => {
                        problems.push(format!("{} no longer holds the new token", summary.uuid));
                    }
                    Ok(_) => {}
                    Err(e) => problems.push(format!("{} could not be read: {e}", summary.uuid)),
                }
                progress.problems = problems.len();
                self.report(progress);
            },
        )
        .await?;
        if !problems.is_empty() {
            return Err(Error::rotation("verify", problems.join("; ")));
        }
        Ok(Verified::new()
            .check(format!(
                "the new token authenticates as {}",
                self.old.email()
            ))
            .check(format!("none of {seen} rules holds the old token"))
            .check(format!(
                "all {} rewritten rules hold the new token",
                updated.targets.len()
            )))
    }

    async fn finish(&self, new: &ApiToken, updated: &Updated) -> Result<Finished> {
        let Some(revocation) = &self.revocation else {
            return Ok(Finished::nothing());
        };
        if updated.skipped > 0 && !self.accept_unreadable {
            return Err(Error::rotation(
                "finish",
                format!(
                    "not revoking the old token: {} rules hold values this rotation cannot read \
                     (masked or stored secrets) and may still use it; check them, then opt in with \
                     accept_unreadable(true)",
                    updated.skipped
                ),
            ));
        }
        let old = self.jira(&self.old)?;
        let new = self.jira(&self.new_credentials(new))?;
        revocation.revoke(&old, &new).await
    }
}
