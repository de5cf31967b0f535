//! Find credentials in Automation rules: "which rules use this token" and "which rules
//! authenticate as whom".
//!
//! The scanner works on plain [`serde_json::Value`]s (a rule as `GET /rest/v1/rule/{uuid}` returns
//! it in `rule`, or an export file), walks the whole tree at any depth (trigger, components,
//! children, conditions, branches), every string and every object key, and classifies each
//! finding by where it sits:
//!
//! - web request headers (`value.headers[] {name, value, headerSecure}`; Data Center
//!   `value: {keyOrValue, secret}`): `Basic base64(email:token)` in any scheme case and spacing,
//!   padded or not; `Bearer token`; the bare token; unreadable values and stored-secret
//!   references, which are reported as [`FindingStatus::CannotTell`];
//! - a web request's `url` and `customBody`;
//! - any other string, and object keys.
//!
//! # Forms of a token
//!
//! [`Scanner::for_token`] finds the token however it is written:
//!
//! - as is, or with any of its bytes percent-encoded (`%3D`, `%3d`, some bytes only) or
//!   JSON-escaped (`\u003d` in any hex case, `\/`, also behind more backslashes when JSON text is
//!   nested in JSON text), in any mix; found only as a whole word: next to `[A-Za-z0-9_-]`
//!   (after decoding) it is part of a longer token;
//! - inside base64 of any text that holds it as a whole word (`base64(anyone@example.com:token)`,
//!   `base64(token)`, a base64'd body), standard or URL-safe alphabet, padded or not, itself
//!   possibly escaped, in a `Basic` value or anywhere else; the text may hold the token escaped
//!   as above (`base64(token=tok%3Dabc)`, a base64'd form body or JSON);
//! - inside base64 broken by whitespace between groups (GNU `base64` and MIME wrap at 76
//!   columns, PEM at 64; CR, LF, tab or space, also as JSON escapes `\n`, `\r\n`, `\t` in
//!   nested JSON text). Such a run is a [`FindingStatus::Match`] that is not rewritable: a
//!   rotation neither writes the rule nor revokes the token while it is there.
//!
//! Each [`FindingStatus::Match`] says whether [`rewrite_rule`](super::rewrite::rewrite_rule) can
//! replace it ([`Finding::rewritable`]): every form in a string can, except base64 broken by
//! whitespace; a token in an object key cannot.
//!
//! # Unreadable values
//!
//! A header value is unreadable, reported as [`CredentialForm::Masked`] and never rewritten,
//! when it is all `*` (two or more); or, in a secure header (`headerSecure: true`) or a header
//! whose name looks like a credential (see [`Scanner::inventory`]), when it is missing, `null`,
//! not a string, or a redaction marker. A marker, ignoring surrounding whitespace, is:
//!
//! - empty (so a value of only whitespace is one);
//! - mask characters only, one or more: `*`, `•` (U+2022), `●` (U+25CF);
//! - three or more `x` / `X` and nothing else (`xxx`, `XXXXXXXX`; `xx` is a value);
//! - `redacted` in any letter case, alone or wrapped in `[]`, `<>` or `()`;
//! - a scheme (`Basic`, `Bearer`, `Token`, any case) alone or followed only by one of the above
//!   (`Bearer ***`, `Basic ********`, `Bearer [REDACTED]`).
//!
//! A Data Center `keyOrValue` that is missing or not a string is unreadable in any header. A
//! `url` is unreadable when it is all `*` (two or more) or, with `urlSecure: true`, missing,
//! `null`, not a string or a marker. In any other header, only `**` or more stars is a mask: a
//! lone `*` (`If-Match: *`), `xxx` or `[redacted]` there is a value.
//!
//! ```
//! use atlassian_rotation::automation::scan::{CredentialForm, FindingStatus, Scanner};
//! use atlassian_rotation::secret::ApiToken;
//!
//! let export = serde_json::json!({"cloud": true, "rules": [
//!     {"uuid": "a", "name": "Nightly sync", "components": [{"value": {
//!         "url": "https://example.com/sync?token=tok-123",
//!         "headers": [{"name": "Authorization", "value": "***", "headerSecure": true}]
//!     }}]}
//! ]});
//! let findings = Scanner::for_token(&ApiToken::new("tok-123")).scan_export(&export)?;
//! assert_eq!(findings.len(), 2);
//! assert_eq!((findings[0].form, findings[0].status), (CredentialForm::Url, FindingStatus::Match));
//! assert_eq!(findings[1].status, FindingStatus::CannotTell);
//! assert_eq!(findings[1].rule_index, Some(0));
//! # Ok::<(), atlassian_rotation::Error>(())
//! ```

mod bytes;
mod escape;
mod finding;
pub(crate) mod forms;
pub(crate) mod needles;
mod walker;
mod wrapped;

use std::fmt;

use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::secret::ApiToken;

pub use finding::{CredentialForm, Finding, FindingStatus};
use needles::Needles;
use walker::{Ctx, Walk};

/// Finds one API token in rules, or (inventory mode) every credential-bearing header.
///
/// A scanner holds the token's spellings in memory (zeroized on drop) and prints as
/// `Scanner { .. }` without them.
///
/// ```
/// use atlassian_rotation::automation::scan::Scanner;
/// use atlassian_rotation::secret::ApiToken;
///
/// let scanner = Scanner::for_token(&ApiToken::new("tok-123")).with_email("ops@example.com");
/// assert!(!format!("{scanner:?}").contains("tok-123"));
/// let inventory = Scanner::inventory();
/// # let _ = inventory;
/// ```
pub struct Scanner {
    needles: Option<Needles>,
    /// The byte prefilter of a token scanner, built on first use ([`Scanner::scan_export_bytes`],
    /// the bulk passes' reads of raw rule documents).
    prefilter: std::sync::OnceLock<bytes::Prefilter>,
}

impl fmt::Debug for Scanner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mode = if self.needles.is_some() {
            "token"
        } else {
            "inventory"
        };
        f.debug_struct("Scanner")
            .field("mode", &mode)
            .finish_non_exhaustive()
    }
}

impl Scanner {
    /// A scanner that reports where `token` is used ([`FindingStatus::Match`]) and which values
    /// are hidden and could be it ([`FindingStatus::CannotTell`]). An empty token matches nothing.
    ///
    /// ```
    /// use atlassian_rotation::automation::scan::Scanner;
    /// use atlassian_rotation::secret::ApiToken;
    ///
    /// let rule = serde_json::json!({"components": [{"value": "log tok-1234"}]});
    /// assert_eq!(Scanner::for_token(&ApiToken::new("tok-1234")).scan_rule(&rule).len(), 1);
    /// assert!(Scanner::for_token(&ApiToken::new("tok-123")).scan_rule(&rule).is_empty());
    /// ```
    pub fn for_token(token: &ApiToken) -> Self {
        Self {
            needles: Some(Needles::new(token.expose_secret())),
            prefilter: std::sync::OnceLock::new(),
        }
    }

    /// No effect: kept so that older code compiles. [`Scanner::for_token`] finds base64 of any
    /// text holding the token (`base64(email:token)` with any email, in a header without a
    /// scheme, a custom body or a URL) without being told the email.
    ///
    /// ```
    /// use atlassian_rotation::automation::scan::{CredentialForm, Scanner};
    /// use atlassian_rotation::secret::ApiToken;
    ///
    /// // base64("a@example.com:tok")
    /// let rule = serde_json::json!({"components": [{"value": {"customBody": "auth=YUBleGFtcGxlLmNvbTp0b2s="}}]});
    /// let with = Scanner::for_token(&ApiToken::new("tok")).with_email("a@example.com");
    /// let without = Scanner::for_token(&ApiToken::new("tok"));
    /// assert_eq!(with.scan_rule(&rule), without.scan_rule(&rule));
    /// assert_eq!(without.scan_rule(&rule)[0].form, CredentialForm::Base64);
    /// ```
    pub fn with_email(self, email: impl AsRef<str>) -> Self {
        let _ = email;
        self
    }

    /// `text` with every form of the token (as [`Scanner::for_token`] finds it, even inside a
    /// longer run) replaced by `[redacted]`: for anything taken from a rule and shown (its name,
    /// its uuid), which may spell the token. In inventory mode `text` comes back unchanged.
    ///
    /// ```
    /// use atlassian_rotation::automation::scan::Scanner;
    /// use atlassian_rotation::secret::ApiToken;
    ///
    /// let scanner = Scanner::for_token(&ApiToken::new("tok-123=abc"));
    /// assert_eq!(scanner.redact("Sync tok-123%3Dabc"), "Sync [redacted]");
    /// // base64("tok-123=abc")
    /// assert_eq!(scanner.redact("Sync dG9rLTEyMz1hYmM="), "Sync [redacted]");
    /// assert_eq!(Scanner::inventory().redact("Sync tok-123=abc"), "Sync tok-123=abc");
    /// ```
    pub fn redact(&self, text: &str) -> String {
        match &self.needles {
            Some(needles) => needles.redact(text.to_owned()),
            None => text.to_owned(),
        }
    }

    /// [`redact`](Self::redact) of a string the caller gives up: returned as it is (no copy)
    /// when it holds no form of the token.
    pub(crate) fn redact_owned(&self, text: String) -> String {
        match &self.needles {
            Some(needles) => needles.redact(text),
            None => text,
        }
    }

    /// A scanner that lists every header carrying a credential ([`FindingStatus::Credential`]):
    /// an `Authorization`-like name, a value starting with `Basic` or `Bearer`, or a name
    /// containing `auth`, `token`, `secret`, `password` or `api-key`, or ending with `key`, in
    /// any case; and every web request `url` carrying one ([`CredentialForm::Url`]): a
    /// `user:secret@` userinfo, or a query parameter whose name looks like a credential by the
    /// same rule (`?token=`, `api_key=`). `Basic` values and URL userinfo report the account
    /// email they name (a user name that is no email may be a secret and is not reported).
    /// Masked values and secret references are
    /// [`FindingStatus::CannotTell`].
    ///
    /// ```
    /// use atlassian_rotation::automation::scan::{CredentialForm, Scanner};
    ///
    /// let rule = serde_json::json!({"components": [{"value": {
    ///     "url": "https://hooks.example.com/in?source=jira&token=tok-1",
    ///     "headers": [
    ///         {"name": "Content-Type", "value": "application/json"},
    ///         {"name": "authorization", "value": "Basic YUBleGFtcGxlLmNvbTp0b2s="}
    ///     ]
    /// }}]});
    /// let findings = Scanner::inventory().scan_rule(&rule);
    /// assert_eq!(findings.len(), 2);
    /// assert_eq!(findings[0].form, CredentialForm::Url);
    /// assert_eq!(findings[1].form, CredentialForm::Basic);
    /// assert_eq!(findings[1].account_email.as_deref(), Some("a@example.com"));
    /// ```
    pub fn inventory() -> Self {
        Self {
            needles: None,
            prefilter: std::sync::OnceLock::new(),
        }
    }

    /// Scans one rule (or any JSON value). Pointers start at `rule`.
    ///
    /// ```
    /// use atlassian_rotation::automation::scan::Scanner;
    /// use atlassian_rotation::secret::ApiToken;
    ///
    /// let rule = serde_json::json!({"uuid": "u", "trigger": {"value": {"jql": "key = X"}}});
    /// assert!(Scanner::for_token(&ApiToken::new("tok")).scan_rule(&rule).is_empty());
    /// ```
    pub fn scan_rule(&self, rule: &Value) -> Vec<Finding> {
        self.scan_one(rule, None)
    }

    /// Scans an export: `{"cloud": .., "rules": [...]}`, a bare array of rules, a single rule
    /// (an object with `trigger` or `components`) or component (`component`), or a `GET rule`
    /// response `{"rule": ..}`.
    /// Each finding carries its rule's index in the export (`None` for a single rule).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for any other shape.
    ///
    /// ```
    /// use atlassian_rotation::automation::scan::Scanner;
    /// use atlassian_rotation::secret::ApiToken;
    ///
    /// let scanner = Scanner::for_token(&ApiToken::new("tok"));
    /// assert!(scanner.scan_export(&serde_json::json!([{"components": []}])).unwrap().is_empty());
    /// assert!(scanner.scan_export(&serde_json::json!({"name": "not a rule"})).is_err());
    /// ```
    pub fn scan_export(&self, export: &Value) -> Result<Vec<Finding>> {
        let rules = match export {
            Value::Array(rules) => rules,
            Value::Object(map) if is_rule(map) => return Ok(self.scan_one(export, None)),
            Value::Object(map) => match (map.get("rules"), map.get("rule")) {
                (Some(Value::Array(rules)), _) => rules,
                (Some(_), _) => {
                    return Err(Error::invalid_input(
                        "automation export",
                        "`rules` is not an array",
                    ));
                }
                (None, Some(rule @ Value::Object(inner))) if is_rule(inner) => {
                    return Ok(self.scan_one(rule, None));
                }
                _ => {
                    return Err(Error::invalid_input(
                        "automation export",
                        "expected {\"rules\": [...]}, an array of rules, a rule (an object \
                         with `trigger` or `components`) or a component",
                    ));
                }
            },
            _ => {
                return Err(Error::invalid_input(
                    "automation export",
                    "expected an object or an array",
                ));
            }
        };
        let mut findings = Vec::new();
        for (index, rule) in rules.iter().enumerate() {
            findings.extend(self.scan_one(rule, Some(index)));
        }
        Ok(findings)
    }

    /// Scans a rule document as [`AutomationClient::get_rule_json`](crate::automation::AutomationClient::get_rule_json)
    /// returns it: the rule (pointers from `rule`, as [`scan_rule`](Self::scan_rule) gives
    /// them) and its `connections` (pointers starting with `/connections`). Findings in the
    /// connections carry the rule's uuid and name.
    ///
    /// ```
    /// use atlassian_rotation::automation::scan::Scanner;
    /// use atlassian_rotation::secret::ApiToken;
    ///
    /// let document = serde_json::json!({
    ///     "rule": {"uuid": "r-1", "name": "Sync", "components": []},
    ///     "connections": [{"id": "c-1", "config": {"apiKey": "tok-123"}}]
    /// });
    /// let findings = Scanner::for_token(&ApiToken::new("tok-123")).scan_document(&document);
    /// assert_eq!(findings[0].pointer, "/connections/0/config/apiKey");
    /// assert_eq!(findings[0].rule_uuid.as_deref(), Some("r-1"));
    /// ```
    pub fn scan_document(&self, document: &Value) -> Vec<Finding> {
        let rule = &document["rule"];
        let mut findings = self.scan_one(rule, None);
        let connections = &document["connections"];
        if connections.is_null() {
            return findings;
        }
        let in_connections = self.scan_one(connections, None);
        if in_connections.is_empty() {
            return findings;
        }
        let (uuid, name) = rule_identity(rule);
        let (uuid, name) = (uuid.map(|t| self.redact(&t)), name.map(|t| self.redact(&t)));
        findings.extend(in_connections.into_iter().map(|mut f| {
            f.pointer = format!("/connections{}", f.pointer);
            f.rule_uuid.clone_from(&uuid);
            f.rule_name.clone_from(&name);
            f
        }));
        findings
    }

    /// The token's spellings (`None` in inventory mode), for the rewriter.
    pub(crate) fn needles(&self) -> Option<&Needles> {
        self.needles.as_ref()
    }

    fn scan_one(&self, rule: &Value, rule_index: Option<usize>) -> Vec<Finding> {
        let mut walk = Walk {
            needles: self.needles.as_ref(),
            path: Vec::with_capacity(16),
            hits: Vec::new(),
        };
        walk.value(rule, Ctx::Other);
        self.findings(walk.hits, rule, rule_index)
    }

    /// The findings of `hits` in `rule` (whose identity they carry).
    fn findings(
        &self,
        hits: Vec<walker::Hit>,
        rule: &Value,
        rule_index: Option<usize>,
    ) -> Vec<Finding> {
        if hits.is_empty() {
            return Vec::new();
        }
        // Names come from the rule, not from a credential value, but a careless rule may
        // still spell the token in one: never let a finding show it.
        let redact = |text: Option<String>| match self.needles.as_ref() {
            Some(needles) => text.map(|t| needles.redact(t)),
            None => text,
        };
        let (rule_uuid, rule_name) = rule_identity(rule);
        let (rule_uuid, rule_name) = (redact(rule_uuid), redact(rule_name));
        hits.into_iter()
            .map(|hit| Finding {
                rule_uuid: rule_uuid.clone(),
                rule_name: rule_name.clone(),
                rule_index,
                pointer: hit.pointer,
                form: hit.form,
                status: hit.status,
                rewritable: hit.rewritable,
                header_name: redact(hit.header_name),
                account_email: redact(hit.account_email),
            })
            .collect()
    }
}

/// A rule, or a lone component as some Data Center exports hold.
fn is_rule(map: &Map<String, Value>) -> bool {
    map.contains_key("trigger") || map.contains_key("components") || map.contains_key("component")
}

/// The rule's uuid (or numeric/string `id` in older exports) and name. A lone component (which
/// has `component`) has no rule identity.
fn rule_identity(rule: &Value) -> (Option<String>, Option<String>) {
    let Value::Object(map) = rule else {
        return (None, None);
    };
    if map.contains_key("component") {
        return (None, None);
    }
    let uuid = match (map.get("uuid"), map.get("id")) {
        (Some(Value::String(uuid)), _) => Some(uuid.clone()),
        (_, Some(Value::String(id))) => Some(id.clone()),
        (_, Some(Value::Number(id))) => Some(id.to_string()),
        _ => None,
    };
    let name = map.get("name").and_then(Value::as_str).map(str::to_owned);
    (uuid, name)
}

#[cfg(test)]
mod tests;
