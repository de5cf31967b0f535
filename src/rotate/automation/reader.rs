//! The read half of a bulk pass over rules: scanning, inspecting and rewriting one rule, and
//! who the Automation client acts as.

use std::sync::Arc;

use super::{Outcome, Visited};
use crate::automation::rewrite::{Rewrite, plan_rule, rewrite_rule};
use crate::automation::{AutomationClient, CredentialForm, Finding, FindingStatus, Scanner};
use crate::error::{Error, Result};
use crate::jira::JiraClient;
use crate::secret::ApiToken;
use crate::transport::ClientOptions;

/// What the reads of one bulk pass share, owned so that each rule's read can run as a task of
/// its own: the client, both tokens and scanners built once per pass (a scanner precomputes
/// every spelling of its token). Writes go through the rotator itself, in the pass's future.
pub(super) struct Reader {
    pub(super) automation: AutomationClient,
    pub(super) old: ApiToken,
    pub(super) new: ApiToken,
    pub(super) old_scanner: Scanner,
    pub(super) new_scanner: Scanner,
    pub(super) caller: Arc<CallerIdentity>,
}

/// Who the Automation client acts as, resolved at most once.
pub(super) struct CallerIdentity {
    pub(super) site: String,
    pub(super) options: ClientOptions,
    pub(super) auth: Option<crate::transport::Auth>,
    pub(super) account_id: tokio::sync::OnceCell<String>,
}

impl CallerIdentity {
    pub(super) async fn account_id(&self) -> Result<&str> {
        let id = self
            .account_id
            .get_or_try_init(|| async {
                let auth = self.auth.clone().ok_or_else(|| {
                    Error::rotation("update", "the Automation client has no credentials")
                })?;
                let jira = JiraClient::with_auth(Some(&self.site), auth, self.options.clone())?;
                Ok::<_, Error>(jira.myself().await?.account_id)
            })
            .await?;
        Ok(id)
    }
}

/// A rule to write: the document as read (its JSON bytes), kept as the original, and as
/// rewritten. Holds the old token: never printed.
///
/// The original is kept as bytes, not as a second `Value` (a parsed document spends an
/// allocation on every string, object and array), and the document is rewritten in place
/// instead of in a copy: each write waiting in the pass holds one parsed document, not two.
pub(super) struct Write {
    pub(super) uuid: String,
    pub(super) original: zeroize::Zeroizing<Vec<u8>>,
    /// Whether the original says the rule is disabled.
    pub(super) disabled: bool,
    pub(super) document: serde_json::Value,
    /// When the read that returned `original` was sent (the rule was as `original` says at some
    /// moment after this): its age decides whether the write re-reads first.
    pub(super) read_at: tokio::time::Instant,
}

/// What a dry run sees in one rule.
pub(super) struct Inspection {
    /// What an update would change.
    pub(super) rewrites: Vec<Rewrite>,
    /// Values that cannot be read (masked, stored-secret references).
    pub(super) cannot_tell: Vec<Finding>,
    /// Occurrences of the old token an update could not replace: they, and masked values in a
    /// rule that holds the old token (which is then never written), stay behind.
    pub(super) unrewritable: Vec<Finding>,
}

impl Inspection {
    /// The same, with every rule-derived string redacted of both tokens.
    pub(super) fn redacted(self, reader: &Reader) -> Self {
        let findings = |findings: Vec<Finding>| -> Vec<Finding> {
            findings
                .into_iter()
                .map(|f| reader.redact_finding(f))
                .collect()
        };
        Self {
            rewrites: self.rewrites,
            cannot_tell: findings(self.cannot_tell),
            unrewritable: findings(self.unrewritable),
        }
    }
}

impl Reader {
    /// `text` with both tokens redacted in every spelling the scanners know.
    pub(super) fn redact(&self, text: String) -> String {
        // Owned all the way: a uuid that holds neither token (every real one) is not copied,
        // so what the update keeps per rewritten rule is the uuid's own bytes.
        self.new_scanner
            .redact_owned(self.old_scanner.redact_owned(text))
    }

    /// A finding whose rule name, uuid and header name are redacted of both tokens.
    pub(super) fn redact_finding(&self, mut finding: Finding) -> Finding {
        finding.rule_uuid = finding.rule_uuid.map(|t| self.redact(t));
        finding.rule_name = finding.rule_name.map(|t| self.redact(t));
        finding.header_name = finding.header_name.map(|t| self.redact(t));
        finding.account_email = finding.account_email.map(|t| self.redact(t));
        finding
    }

    /// The old token's findings in a rule document: in the rule, and in its connections (which
    /// the rotation never rewrites), with pointers from the document's `rule` or
    /// `connections`.
    pub(super) fn scan_old(&self, document: &serde_json::Value) -> Vec<Finding> {
        self.old_scanner.scan_document(document)
    }

    /// The old token's findings in a rule document's body (its unreadable values) when the body
    /// holds neither token in any form, found without parsing it (see
    /// [`Scanner::skim_document`]); `None` when it must be parsed and scanned whole.
    pub(super) fn skim(&self, body: &[u8]) -> Option<Vec<Finding>> {
        if self.new_scanner.could_hold(body) {
            return None;
        }
        self.old_scanner.skim_document(body)
    }

    /// Whether writing `document` back as the caller would disable the rule: Atlassian
    /// authenticates a written rule's connections only when the caller owns them.
    pub(super) async fn has_foreign_connections(
        &self,
        document: &serde_json::Value,
    ) -> Result<bool> {
        let Some(connections) = document["connections"].as_array().filter(|c| !c.is_empty()) else {
            return Ok(false);
        };
        let caller = self.caller.account_id().await?;
        Ok(connections
            .iter()
            .any(|c| c["accountId"].as_str() != Some(caller)))
    }

    /// What an update would change in one rule, what in it cannot be read, and which
    /// occurrences of the old token it would leave behind.
    pub(super) async fn inspect(&self, uuid: &str) -> Result<Inspection> {
        let mut document = self.automation.get_rule_json(uuid).await?;
        let findings = self.scan_old(&document);
        let rewrites = plan_rule(&document["rule"], &self.old, &self.new)?;
        let holds_old = is_match(&findings);
        let cannot_tell: Vec<Finding> = findings
            .into_iter()
            .filter(|f| f.status == FindingStatus::CannotTell)
            .collect();
        let never_written = holds_old
            && (cannot_tell.iter().any(|f| f.form == CredentialForm::Masked)
                || self.has_foreign_connections(&document).await?);
        let unrewritable = if !holds_old {
            Vec::new()
        } else if never_written {
            // Never written at all: every occurrence stays.
            self.old_scanner
                .scan_rule(&document["rule"])
                .into_iter()
                .filter(|f| f.status == FindingStatus::Match)
                .collect()
        } else {
            rewrite_rule(&mut document["rule"], &self.old, &self.new)?;
            self.scan_old(&document)
                .into_iter()
                .filter(|f| f.status == FindingStatus::Match)
                .collect()
        };
        Ok(Inspection {
            rewrites,
            cannot_tell,
            unrewritable,
        })
    }

    /// Reads and rewrites one rule; the write (which re-reads it first when this read has grown
    /// old, see [`FRESH_READ`](crate::rotate::FRESH_READ)) is for the pass to send.
    pub(super) async fn update_rule(&self, uuid: &str) -> Result<Visited<Outcome, Write>> {
        let body = self.automation.read_rule_body(uuid, false).await?;
        let read_at = body.sent();
        if let Some(findings) = self.skim(body.bytes()) {
            // Neither token is in the rule in any form: nothing to write.
            let cannot_tell = findings
                .iter()
                .any(|f| f.status == FindingStatus::CannotTell);
            return Ok(Visited::Done(Outcome::Unrelated { cannot_tell }));
        }
        let original = body.document()?;
        let findings = self.scan_old(&original);
        if !is_match(&findings) {
            if is_match(&self.new_scanner.scan_rule(&original["rule"])) {
                return Ok(Visited::Done(Outcome::AlreadyNew {
                    disabled: is_disabled(&original),
                }));
            }
            let cannot_tell = findings
                .iter()
                .any(|f| f.status == FindingStatus::CannotTell);
            return Ok(Visited::Done(Outcome::Unrelated { cannot_tell }));
        }
        // A masked value read back would overwrite the secret it hides: never write such a rule.
        if findings.iter().any(|f| f.form == CredentialForm::Masked) {
            return Ok(Visited::Done(Outcome::Unwritable));
        }
        if self.has_foreign_connections(&original).await? {
            return Ok(Visited::Done(Outcome::ForeignConnections));
        }
        let disabled = is_disabled(&original);
        let bytes = serde_json::to_vec(&original)
            .map(zeroize::Zeroizing::new)
            .map_err(|e| Error::rotation("update", e.to_string()))?;
        let mut document = original;
        rewrite_rule(&mut document["rule"], &self.old, &self.new)?;
        // Whatever the rewriter could not replace (in the rule or its connections) would keep
        // the old token in use: such a rule is not written half-done, it is reported.
        if is_match(&self.scan_old(&document)) {
            return Ok(Visited::Done(Outcome::Unwritable));
        }
        Ok(Visited::Write(Write {
            uuid: uuid.to_owned(),
            original: bytes,
            disabled,
            document,
            read_at,
        }))
    }

    /// The old token's findings in one rule, whether it holds the new one, and whether it is
    /// disabled.
    pub(super) async fn verify_rule(&self, uuid: &str) -> Result<(Vec<Finding>, bool, bool)> {
        let body = self.automation.read_rule_body(uuid, false).await?;
        if let Some(findings) = self.skim(body.bytes()) {
            // Holds neither token. Whether it is disabled matters only for a rule that holds
            // the new one.
            return Ok((findings, false, false));
        }
        let document = body.document()?;
        Ok((
            self.scan_old(&document),
            is_match(&self.new_scanner.scan_rule(&document["rule"])),
            is_disabled(&document),
        ))
    }
}

pub(super) type RuleSummaryRef = crate::automation::RuleSummary;

/// Whether the scan found the token itself (not just a value it cannot read).
pub(super) fn is_match(findings: &[Finding]) -> bool {
    findings.iter().any(|f| f.status == FindingStatus::Match)
}

/// Whether a rule document says the rule is disabled.
pub(super) fn is_disabled(document: &serde_json::Value) -> bool {
    document["rule"]["state"].as_str() == Some("DISABLED")
}
