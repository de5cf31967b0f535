//! What a live scan read and found: [`ScanSummary`], and the rules it could not read.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::automation::{Finding, FindingStatus};

/// What a scan read and found. Holds no secret; serializable.
///
/// ```
/// use atlassian_rotation::automation::Scanner;
/// use atlassian_rotation::discover::ScanSummary;
/// use atlassian_rotation::secret::ApiToken;
///
/// let rules = serde_json::json!([
///     {"uuid": "a", "components": [{"value": "tok-123"}]},
///     {"uuid": "b", "components": []}
/// ]);
/// let findings = Scanner::for_token(&ApiToken::new("tok-123")).scan_export(&rules)?;
/// let summary = ScanSummary::from_findings(2, &findings);
/// assert_eq!((summary.rules_read, summary.rules_matched, summary.matches), (2, 1, 1));
/// assert_eq!(summary.to_string(), "2 rules scanned: 1 match");
/// # Ok::<(), atlassian_rotation::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ScanSummary {
    /// Rules read and scanned.
    pub rules_read: usize,
    /// Rules with at least one [`FindingStatus::Match`] (a token scan) or
    /// [`FindingStatus::Credential`] (an inventory).
    pub rules_matched: usize,
    /// Findings that are the token ([`FindingStatus::Match`]).
    pub matches: usize,
    /// Findings whose value cannot be read ([`FindingStatus::CannotTell`]): masked values and
    /// stored-secret references, which may hold the token.
    pub cannot_tell: usize,
    /// Credentials found by an inventory ([`FindingStatus::Credential`]).
    pub credentials: usize,
    /// Rules whose `GET` failed: listed, but not scanned.
    #[serde(default)]
    pub unread: Vec<UnreadRule>,
    /// Rules the listing named more than once (uuids, redacted like findings'): such a
    /// listing may have left other rules out in their place, so the scan is not complete.
    /// Each is read and counted once.
    #[serde(default)]
    pub relisted: Vec<String>,
    /// Whether the scan read the whole listing (`false` while it runs, and when it stopped
    /// early with an error).
    #[serde(default)]
    pub finished: bool,
}

impl ScanSummary {
    /// The summary of `findings` made over `rules` rules that were all read (an export file):
    /// [`finished`](Self::finished), nothing unread.
    pub fn from_findings(rules: usize, findings: &[Finding]) -> Self {
        let mut summary = Self {
            rules_read: rules,
            finished: true,
            ..Self::default()
        };
        // Findings of one rule are adjacent, as every scan returns them.
        let same_rule =
            |a: &Finding, b: &Finding| a.rule_index == b.rule_index && a.rule_uuid == b.rule_uuid;
        for group in findings.chunk_by(same_rule) {
            summary.count(group.iter().collect());
        }
        summary
    }

    /// The summary of `findings` made by [`Scanner::scan_export`](crate::automation::Scanner::scan_export)
    /// over `export`: its rules counted as that method reads them (the `rules` array, a bare
    /// array, or one rule), all read.
    ///
    /// ```
    /// use atlassian_rotation::automation::Scanner;
    /// use atlassian_rotation::discover::ScanSummary;
    /// use atlassian_rotation::secret::ApiToken;
    ///
    /// let export = serde_json::json!({"cloud": "c", "rules": [
    ///     {"uuid": "a", "components": [{"value": "tok-123"}]},
    ///     {"uuid": "b", "components": []},
    ///     {"uuid": "c", "components": []}
    /// ]});
    /// let findings = Scanner::for_token(&ApiToken::new("tok-123")).scan_export(&export)?;
    /// let summary = ScanSummary::from_export(&export, &findings);
    /// assert_eq!((summary.rules_read, summary.matches), (3, 1));
    /// let one_rule = serde_json::json!({"uuid": "a", "components": []});
    /// assert_eq!(ScanSummary::from_export(&one_rule, &[]).rules_read, 1);
    /// # Ok::<(), atlassian_rotation::Error>(())
    /// ```
    pub fn from_export(export: &serde_json::Value, findings: &[Finding]) -> Self {
        let rules = export.get("rules").unwrap_or(export).as_array();
        Self::from_findings(rules.map_or(1, Vec::len), findings)
    }

    /// Counts one rule read with `findings`; whether it matched.
    pub(super) fn add_rule(&mut self, findings: Vec<&Finding>) -> bool {
        self.rules_read += 1;
        self.count(findings)
    }

    fn count(&mut self, findings: Vec<&Finding>) -> bool {
        let mut matched = false;
        for finding in findings {
            match finding.status {
                FindingStatus::Match => self.matches += 1,
                FindingStatus::CannotTell => self.cannot_tell += 1,
                FindingStatus::Credential => self.credentials += 1,
            }
            matched |= matches!(
                finding.status,
                FindingStatus::Match | FindingStatus::Credential
            );
        }
        if matched {
            self.rules_matched += 1;
        }
        matched
    }

    /// Whether every listed rule was read: the listing was followed to its end, named no rule
    /// twice, and no rule's `GET` failed. Only then does "no match" mean "not used in any
    /// rule".
    ///
    /// ```
    /// use atlassian_rotation::discover::ScanSummary;
    /// assert!(ScanSummary::from_findings(3, &[]).is_complete());
    /// assert!(!ScanSummary::default().is_complete());
    /// ```
    pub fn is_complete(&self) -> bool {
        self.finished && self.unread.is_empty() && self.relisted.is_empty()
    }
}

/// `12 rules scanned: 3 match, 1 cannot_tell; 2 rules could not be read`.
impl fmt::Display for ScanSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.rules_read {
            1 => f.write_str("1 rule scanned: ")?,
            n => write!(f, "{n} rules scanned: ")?,
        }
        let parts: Vec<String> = [
            (self.matches, FindingStatus::Match),
            (self.cannot_tell, FindingStatus::CannotTell),
            (self.credentials, FindingStatus::Credential),
        ]
        .into_iter()
        .filter(|&(n, _)| n > 0)
        .map(|(n, status)| format!("{n} {status}"))
        .collect();
        if parts.is_empty() {
            f.write_str("nothing found")?;
        } else {
            f.write_str(&parts.join(", "))?;
        }
        match self.unread.len() {
            0 => {}
            1 => f.write_str("; 1 rule could not be read")?,
            n => write!(f, "; {n} rules could not be read")?,
        }
        match self.relisted.len() {
            0 => {}
            1 => f.write_str("; 1 rule was listed more than once")?,
            n => write!(f, "; {n} rules were listed more than once")?,
        }
        if !self.finished {
            f.write_str(" (the scan did not finish)")?;
        }
        Ok(())
    }
}

/// A listed rule whose `GET` failed, in [`ScanSummary::unread`].
///
/// ```
/// use atlassian_rotation::discover::UnreadRule;
///
/// let unread: UnreadRule = serde_json::from_value(serde_json::json!({
///     "uuid": "r-1", "name": "Sync", "status": 404, "error": "GET /rest/v1/rule/{}: HTTP 404"
/// })).unwrap();
/// assert_eq!(unread.status, Some(404));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct UnreadRule {
    /// The rule's uuid, as listed (redacted of the token, like findings).
    pub uuid: String,
    /// The rule's name, as listed (redacted of the token).
    pub name: Option<String>,
    /// The HTTP status, when the API answered.
    pub status: Option<u16>,
    /// What went wrong, as the error's one-line text (never a secret).
    pub error: String,
}
