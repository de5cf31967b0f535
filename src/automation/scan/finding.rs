//! What the scanner reports: [`Finding`], its [`CredentialForm`] and [`FindingStatus`].

use std::fmt;

use serde::{Deserialize, Serialize};

/// How a credential is written where it was found.
///
/// ```
/// use atlassian_rotation::automation::scan::CredentialForm;
///
/// assert_eq!(CredentialForm::BareHeader.as_str(), "bare_header");
/// assert_eq!(serde_json::to_value(CredentialForm::Basic).unwrap(), "basic");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum CredentialForm {
    /// A header value `Basic base64(email:token)`.
    Basic,
    /// A header value `Bearer token`.
    Bearer,
    /// The token in a header value without a scheme (e.g. `X-Api-Key: token`).
    BareHeader,
    /// Base64 of text holding the token (`base64(email:token)`, `base64(token)`, ...) outside a
    /// `Basic` header value: a header without a scheme, a URL, a body, any string.
    Base64,
    /// The token in a web request's `url`, as is or escaped.
    Url,
    /// The token in a web request's `customBody`.
    CustomBody,
    /// The token in any other string of the rule (a log action, a smart value, a header name).
    OtherString,
    /// A Data Center header whose value names a stored secret (`secret: true`).
    SecretReference,
    /// A value that cannot be read: `***`, or a secure or credential-named header's (or a
    /// secure URL's) value that is missing, `null`, not a string, empty, whitespace, mask
    /// characters only (`*`, `•`, `●`, three or more `x`), `redacted` (alone or in `[]`, `<>`,
    /// `()`), or a scheme followed only by such a marker (`Bearer ***`). The
    /// [module documentation](super#unreadable-values) has the exact rule.
    Masked,
    /// The token in an object key. Never rewritten: [`Finding::rewritable`] is `false`.
    Key,
}

impl CredentialForm {
    /// The snake_case name, as serialized.
    ///
    /// ```
    /// # use atlassian_rotation::automation::scan::CredentialForm;
    /// assert_eq!(CredentialForm::SecretReference.as_str(), "secret_reference");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Basic => "basic",
            Self::Bearer => "bearer",
            Self::BareHeader => "bare_header",
            Self::Base64 => "base64",
            Self::Url => "url",
            Self::CustomBody => "custom_body",
            Self::OtherString => "other_string",
            Self::SecretReference => "secret_reference",
            Self::Masked => "masked",
            Self::Key => "key",
        }
    }
}

impl fmt::Display for CredentialForm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a finding means.
///
/// ```
/// use atlassian_rotation::automation::scan::FindingStatus;
///
/// assert_eq!(serde_json::to_value(FindingStatus::CannotTell).unwrap(), "cannot_tell");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum FindingStatus {
    /// The token the scanner looks for is there.
    Match,
    /// The value is hidden (masked or a stored-secret reference): it may hold the token or not.
    CannotTell,
    /// Inventory mode: the value is a credential.
    Credential,
}

impl FindingStatus {
    /// The snake_case name, as serialized.
    ///
    /// ```
    /// # use atlassian_rotation::automation::scan::FindingStatus;
    /// assert_eq!(FindingStatus::Match.as_str(), "match");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Match => "match",
            Self::CannotTell => "cannot_tell",
            Self::Credential => "credential",
        }
    }
}

impl fmt::Display for FindingStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One place in a rule that holds (or may hold) a credential. Never contains a credential value:
/// only where it is, how it is written, and the account email a `Basic` value names.
///
/// ```
/// use atlassian_rotation::automation::scan::{CredentialForm, FindingStatus, Scanner};
/// use atlassian_rotation::secret::ApiToken;
///
/// let rule = serde_json::json!({
///     "uuid": "r-1", "name": "Notify",
///     "components": [{"type": "jira.issue.outgoing.webhook", "value": {
///         "url": "https://example.com/hook",
///         "headers": [{"id": null, "name": "X-Api-Key", "value": "tok-123", "headerSecure": false}]
///     }}]
/// });
/// let findings = Scanner::for_token(&ApiToken::new("tok-123")).scan_rule(&rule);
/// let finding = &findings[0];
/// assert_eq!(finding.pointer, "/components/0/value/headers/0/value");
/// assert_eq!(finding.form, CredentialForm::BareHeader);
/// assert_eq!(finding.status, FindingStatus::Match);
/// assert!(finding.rewritable);
/// assert_eq!(finding.header_name.as_deref(), Some("X-Api-Key"));
/// assert!(!finding.to_string().contains("tok-123"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Finding {
    /// The rule's `uuid` (or its `id` in older exports, which have no uuid).
    pub rule_uuid: Option<String>,
    /// The rule's `name`.
    pub rule_name: Option<String>,
    /// The rule's position in an export file.
    pub rule_index: Option<usize>,
    /// RFC 6901 JSON pointer from the rule's root to the string, e.g.
    /// `/components/3/children/0/value/headers/1/value`. An object key on the way that spells
    /// the token is shown as `[redacted]` (and what lies below it is not
    /// [`rewritable`](Self::rewritable)).
    pub pointer: String,
    /// How the credential is written.
    pub form: CredentialForm,
    /// What the finding means.
    pub status: FindingStatus,
    /// For a [`FindingStatus::Match`]: whether
    /// [`rewrite_rule`](crate::automation::rewrite::rewrite_rule) replaces it, so that no form
    /// of the token is left there. `false` for a match it cannot replace (a token in an object
    /// key, or a match below such a key): a rotation must not write such a rule, nor revoke the
    /// token, until a person has removed it. Always `false` for other statuses.
    pub rewritable: bool,
    /// The header's name, for a header value.
    pub header_name: Option<String>,
    /// The account email decoded from a `Basic` value, or the user name of a URL's
    /// `user:secret@` userinfo, when it is an email: a user name that is not one may be the
    /// secret itself (an API key as the user name, with a dummy password) and is not shown.
    pub account_email: Option<String>,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("rule")?;
        if let Some(index) = self.rule_index {
            write!(f, " #{index}")?;
        }
        if let Some(name) = &self.rule_name {
            write!(f, " {name:?}")?;
        }
        if let Some(uuid) = &self.rule_uuid {
            write!(f, " ({uuid})")?;
        }
        write!(f, " {}: {} {}", self.pointer, self.status, self.form)?;
        if self.status == FindingStatus::Match && !self.rewritable {
            f.write_str(" (not rewritable)")?;
        }
        if let Some(header) = &self.header_name {
            write!(f, " in header {header:?}")?;
        }
        if let Some(email) = &self.account_email {
            write!(f, " as {email}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_and_json_name_everything_a_reader_needs() {
        let finding = Finding {
            rule_uuid: Some("u-1".into()),
            rule_name: Some("Sync".into()),
            rule_index: Some(2),
            pointer: "/components/0/value/headers/0/value".into(),
            form: CredentialForm::Basic,
            status: FindingStatus::Match,
            rewritable: true,
            header_name: Some("Authorization".into()),
            account_email: Some("ops@example.com".into()),
        };
        assert_eq!(
            finding.to_string(),
            "rule #2 \"Sync\" (u-1) /components/0/value/headers/0/value: match basic \
             in header \"Authorization\" as ops@example.com"
        );
        assert_eq!(
            serde_json::to_value(&finding).unwrap(),
            serde_json::json!({
                "rule_uuid": "u-1", "rule_name": "Sync", "rule_index": 2,
                "pointer": "/components/0/value/headers/0/value",
                "form": "basic", "status": "match", "rewritable": true,
                "header_name": "Authorization", "account_email": "ops@example.com"
            })
        );
    }
}
