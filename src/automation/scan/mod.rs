//! Find credentials in Automation rules: "which rules use this token" and "which rules
//! authenticate as whom".
//!
//! The scanner works on plain [`serde_json::Value`]s (a rule as `GET /rest/v1/rule/{uuid}` returns
//! it in `rule`, or an export file), walks the whole tree at any depth (trigger, components,
//! children, conditions, branches) and classifies each string by where it sits:
//!
//! - web request headers (`value.headers[] {name, value, headerSecure}`; Data Center
//!   `value: {keyOrValue, secret}`): `Basic base64(email:token)` in any scheme case and spacing,
//!   padded or not; `Bearer token`; the bare token; masks (`***`, or an empty secure value) and
//!   stored-secret references, which are reported as [`FindingStatus::CannotTell`];
//! - a web request's `url` (as is or percent-encoded) and `customBody`;
//! - any other string.
//!
//! A token is only found as a whole word: next to `[A-Za-z0-9_-]` it is part of a longer token.
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

mod finding;
pub(crate) mod forms;

use std::fmt;

use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::secret::ApiToken;

pub use finding::{CredentialForm, Finding, FindingStatus};
use forms::{Needles, Spelling};

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
        }
    }

    /// Also finds `base64(email:token)` outside a `Basic` header value (a header without the
    /// scheme, a custom body), reported as [`CredentialForm::Base64`]. `Basic` values are
    /// decoded and found with or without the email. No effect in inventory mode.
    ///
    /// ```
    /// use atlassian_rotation::automation::scan::{CredentialForm, Scanner};
    /// use atlassian_rotation::secret::ApiToken;
    ///
    /// // base64("a@example.com:tok")
    /// let rule = serde_json::json!({"components": [{"value": {"customBody": "auth=YUBleGFtcGxlLmNvbTp0b2s="}}]});
    /// let scanner = Scanner::for_token(&ApiToken::new("tok")).with_email("a@example.com");
    /// assert_eq!(scanner.scan_rule(&rule)[0].form, CredentialForm::Base64);
    /// ```
    pub fn with_email(mut self, email: impl AsRef<str>) -> Self {
        self.needles = self.needles.map(|n| n.with_pair(email.as_ref()));
        self
    }

    /// A scanner that lists every header carrying a credential ([`FindingStatus::Credential`]):
    /// an `Authorization`-like name, a value starting with `Basic` or `Bearer`, or a name
    /// containing `auth`, `token`, `secret`, `password` or `api-key`, or ending with `key`, in
    /// any case. `Basic` values
    /// report their account email. Masked values and secret references are
    /// [`FindingStatus::CannotTell`].
    ///
    /// ```
    /// use atlassian_rotation::automation::scan::{CredentialForm, Scanner};
    ///
    /// let rule = serde_json::json!({"components": [{"value": {"headers": [
    ///     {"name": "Content-Type", "value": "application/json"},
    ///     {"name": "authorization", "value": "Basic YUBleGFtcGxlLmNvbTp0b2s="}
    /// ]}}]});
    /// let findings = Scanner::inventory().scan_rule(&rule);
    /// assert_eq!(findings.len(), 1);
    /// assert_eq!(findings[0].form, CredentialForm::Basic);
    /// assert_eq!(findings[0].account_email.as_deref(), Some("a@example.com"));
    /// ```
    pub fn inventory() -> Self {
        Self { needles: None }
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
        if walk.hits.is_empty() {
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
        walk.hits
            .into_iter()
            .map(|hit| Finding {
                rule_uuid: rule_uuid.clone(),
                rule_name: rule_name.clone(),
                rule_index,
                pointer: hit.pointer,
                form: hit.form,
                status: hit.status,
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

/// Where a string sits.
#[derive(Clone, Copy)]
enum Ctx {
    Other,
    /// An element of a `headers` array.
    HeaderList,
    Url {
        secure: bool,
    },
    CustomBody,
}

/// One step of the path from the rule root; turned into a pointer only for a finding.
#[derive(Clone, Copy)]
enum Seg<'v> {
    Key(&'v str),
    Index(usize),
}

struct Hit {
    pointer: String,
    form: CredentialForm,
    status: FindingStatus,
    header_name: Option<String>,
    account_email: Option<String>,
}

struct Walk<'s, 'v> {
    needles: Option<&'s Needles>,
    path: Vec<Seg<'v>>,
    hits: Vec<Hit>,
}

impl<'v> Walk<'_, 'v> {
    fn value(&mut self, value: &'v Value, ctx: Ctx) {
        match value {
            Value::String(s) => self.string(s, ctx),
            Value::Array(items) => {
                let item_ctx = if matches!(ctx, Ctx::HeaderList) {
                    Ctx::HeaderList
                } else {
                    Ctx::Other
                };
                for (index, item) in items.iter().enumerate() {
                    self.path.push(Seg::Index(index));
                    self.value(item, item_ctx);
                    self.path.pop();
                }
            }
            Value::Object(map) => {
                if matches!(ctx, Ctx::HeaderList) && map.contains_key("value") {
                    self.header(map);
                } else {
                    self.object(map);
                }
            }
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }

    fn object(&mut self, map: &'v Map<String, Value>) {
        for (key, value) in map {
            let ctx = match key.as_str() {
                "headers" if value.is_array() => Ctx::HeaderList,
                "url" => Ctx::Url {
                    secure: matches!(map.get("urlSecure"), Some(Value::Bool(true))),
                },
                "customBody" => Ctx::CustomBody,
                _ => Ctx::Other,
            };
            self.path.push(Seg::Key(key));
            self.value(value, ctx);
            self.path.pop();
        }
    }

    /// A web request header: `{id, name, value, headerSecure}` (Cloud) or
    /// `{id, name, value: {keyOrValue, secret}}` (Data Center).
    fn header(&mut self, map: &'v Map<String, Value>) {
        let name = map.get("name").and_then(Value::as_str);
        let secure = matches!(map.get("headerSecure"), Some(Value::Bool(true)));
        for (key, value) in map {
            self.path.push(Seg::Key(key));
            match (key.as_str(), value) {
                ("value", Value::String(s)) => self.header_value(s, name, secure),
                ("value", Value::Object(inner)) if inner.contains_key("keyOrValue") => {
                    let secret = matches!(inner.get("secret"), Some(Value::Bool(true)));
                    for (inner_key, inner_value) in inner {
                        self.path.push(Seg::Key(inner_key));
                        match (inner_key.as_str(), inner_value) {
                            ("keyOrValue", Value::String(_)) if secret => self.hit(
                                CredentialForm::SecretReference,
                                FindingStatus::CannotTell,
                                name,
                                None,
                            ),
                            ("keyOrValue", Value::String(s)) => self.header_value(s, name, false),
                            _ => self.value(inner_value, Ctx::Other),
                        }
                        self.path.pop();
                    }
                }
                _ => self.value(value, Ctx::Other),
            }
            self.path.pop();
        }
    }

    fn header_value(&mut self, value: &str, name: Option<&str>, secure: bool) {
        if forms::is_masked(value) || (value.is_empty() && secure) {
            self.hit(
                CredentialForm::Masked,
                FindingStatus::CannotTell,
                name,
                None,
            );
            return;
        }
        if value.is_empty() {
            return;
        }
        match self.needles {
            Some(needles) => {
                if let Some(range) = forms::basic_credentials(value) {
                    if let Some(pair) = forms::decode_pair(&value[range]) {
                        if pair.token.as_str() == needles.token() {
                            let email = Some(pair.email);
                            self.hit(CredentialForm::Basic, FindingStatus::Match, name, email);
                            return;
                        }
                    }
                }
                let form = match needles.find(value) {
                    None => return,
                    Some(Spelling::Pair) => CredentialForm::Base64,
                    Some(_) if forms::after_scheme(value, "bearer").is_some() => {
                        CredentialForm::Bearer
                    }
                    Some(_) => CredentialForm::BareHeader,
                };
                self.hit(form, FindingStatus::Match, name, None);
            }
            None => {
                let (form, email) = if let Some(range) = forms::basic_credentials(value) {
                    let email = forms::decode_pair(&value[range]).map(|pair| pair.email);
                    (CredentialForm::Basic, email)
                } else if forms::after_scheme(value, "bearer").is_some() {
                    (CredentialForm::Bearer, None)
                } else if name.is_some_and(forms::is_credential_name) {
                    (CredentialForm::BareHeader, None)
                } else {
                    return;
                };
                self.hit(form, FindingStatus::Credential, name, email);
            }
        }
    }

    fn string(&mut self, value: &str, ctx: Ctx) {
        if let Ctx::Url { secure } = ctx {
            if forms::is_masked(value) || (value.is_empty() && secure) {
                self.hit(
                    CredentialForm::Masked,
                    FindingStatus::CannotTell,
                    None,
                    None,
                );
                return;
            }
        }
        let Some(needles) = self.needles else { return };
        let form = match (needles.find(value), ctx) {
            (None, _) => return,
            (Some(Spelling::Pair), _) => CredentialForm::Base64,
            (Some(_), Ctx::Url { .. }) => CredentialForm::Url,
            (Some(_), Ctx::CustomBody) => CredentialForm::CustomBody,
            (Some(_), _) => CredentialForm::OtherString,
        };
        self.hit(form, FindingStatus::Match, None, None);
    }

    fn hit(
        &mut self,
        form: CredentialForm,
        status: FindingStatus,
        header_name: Option<&str>,
        account_email: Option<String>,
    ) {
        self.hits.push(Hit {
            pointer: pointer(&self.path),
            form,
            status,
            header_name: header_name.map(str::to_owned),
            account_email,
        });
    }
}

/// An RFC 6901 pointer (`~` as `~0`, `/` as `~1`).
fn pointer(path: &[Seg<'_>]) -> String {
    let mut out = String::new();
    for seg in path {
        out.push('/');
        match seg {
            Seg::Key(key) => {
                for c in key.chars() {
                    match c {
                        '~' => out.push_str("~0"),
                        '/' => out.push_str("~1"),
                        c => out.push(c),
                    }
                }
            }
            Seg::Index(index) => out.push_str(&index.to_string()),
        }
    }
    out
}

#[cfg(test)]
mod tests;
