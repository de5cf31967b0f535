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
//!   possibly escaped, in a `Basic` value or anywhere else.
//!
//! Each [`FindingStatus::Match`] says whether [`rewrite_rule`](super::rewrite::rewrite_rule) can
//! replace it ([`Finding::rewritable`]): every form in a string can; a token in an object key
//! cannot.
//!
//! # Unreadable values
//!
//! A header value is unreadable, reported as [`CredentialForm::Masked`] and never rewritten,
//! when it is all `*` (two or more); or, in a secure header (`headerSecure: true`) or a header
//! whose name looks like a credential (see [`Scanner::inventory`]), when it is missing, `null`,
//! not a string, empty or a lone `*`. A Data Center `keyOrValue` that is missing or not a string
//! is unreadable in any header. A `url` is unreadable when it is all `*` (two or more) or, with
//! `urlSecure: true`, missing, `null`, not a string, empty or a lone `*`. A lone `*` in any
//! other header (`If-Match: *`) is a value, not a mask.
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

mod escape;
mod finding;
pub(crate) mod forms;
pub(crate) mod needles;

use std::fmt;

use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::secret::ApiToken;

pub use finding::{CredentialForm, Finding, FindingStatus};
use needles::{Needles, Span, SpanKind};

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

/// Where a string sits.
#[derive(Clone, Copy)]
enum Ctx {
    Other,
    /// An element of a `headers` array.
    HeaderList,
    Url,
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
    rewritable: bool,
    header_name: Option<String>,
    account_email: Option<String>,
}

struct Walk<'s, 'v> {
    needles: Option<&'s Needles>,
    path: Vec<Seg<'v>>,
    hits: Vec<Hit>,
}

/// A header: an object in a `headers` array with any of its fields.
fn is_header(map: &Map<String, Value>) -> bool {
    map.contains_key("value") || map.contains_key("name") || map.contains_key("headerSecure")
}

fn is_true(value: Option<&Value>) -> bool {
    matches!(value, Some(Value::Bool(true)))
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
                if matches!(ctx, Ctx::HeaderList) && is_header(map) {
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
            self.key(key);
            let ctx = match key.as_str() {
                "headers" if value.is_array() => Ctx::HeaderList,
                "url" => Ctx::Url,
                "customBody" => Ctx::CustomBody,
                // A secure URL that is missing cannot be read.
                "urlSecure" if is_true(Some(value)) && !map.contains_key("url") => {
                    self.masked_at("url", None);
                    Ctx::Other
                }
                _ => Ctx::Other,
            };
            self.path.push(Seg::Key(key));
            if matches!(ctx, Ctx::Url) {
                self.url(value, is_true(map.get("urlSecure")));
            } else {
                self.value(value, ctx);
            }
            self.path.pop();
        }
    }

    /// A web request's `url`: unreadable when masked, or secure and not a string.
    fn url(&mut self, value: &'v Value, secure: bool) {
        match value {
            Value::String(url) if forms::is_mask(url, secure) => self.masked(None),
            Value::String(_) => self.value(value, Ctx::Url),
            _ => {
                if secure {
                    self.masked(None);
                }
                self.value(value, Ctx::Other);
            }
        }
    }

    /// An object key: the token there is a match no rewrite changes.
    fn key(&mut self, key: &'v str) {
        let Some(needles) = self.needles else { return };
        if needles.could_hold(key.len()) && needles.is_in(key) {
            self.path.push(Seg::Key(key));
            self.hit(CredentialForm::Key, FindingStatus::Match, false, None, None);
            self.path.pop();
        }
    }

    /// A web request header: `{id, name, value, headerSecure}` (Cloud) or
    /// `{id, name, value: {keyOrValue, secret}}` (Data Center).
    ///
    /// A value is unreadable (reported as [`CredentialForm::Masked`], never rewritten) when it is
    /// all `*` (two or more), or, in a secure header (`headerSecure: true`) or one with a
    /// credential-like name, missing, `null`, not a string, empty or a lone `*`; a Data Center
    /// `keyOrValue` that is missing or not a string is unreadable in any header.
    fn header(&mut self, map: &'v Map<String, Value>) {
        let name = map.get("name").and_then(Value::as_str);
        let sensitive =
            is_true(map.get("headerSecure")) || name.is_some_and(forms::is_credential_name);
        if sensitive && !map.contains_key("value") {
            self.masked_at("value", name);
        }
        for (key, value) in map {
            self.key(key);
            self.path.push(Seg::Key(key));
            match (key.as_str(), value) {
                ("value", Value::String(s)) => self.header_value(s, name, sensitive),
                ("value", Value::Object(inner)) if inner.contains_key("keyOrValue") => {
                    self.data_center_value(inner, name, sensitive);
                }
                ("value", other) => {
                    if sensitive {
                        self.masked(name);
                    }
                    self.value(other, Ctx::Other);
                }
                _ => self.value(value, Ctx::Other),
            }
            self.path.pop();
        }
    }

    /// A Data Center header value `{keyOrValue, secret}`: `secret: true` (or any `secret` that is
    /// not `false` or `null`) names a stored secret.
    fn data_center_value(
        &mut self,
        inner: &'v Map<String, Value>,
        name: Option<&str>,
        sensitive: bool,
    ) {
        let reference = !matches!(
            inner.get("secret"),
            None | Some(Value::Null) | Some(Value::Bool(false))
        );
        for (key, value) in inner {
            self.key(key);
            self.path.push(Seg::Key(key));
            match (key.as_str(), value) {
                ("keyOrValue", _) if reference => self.hit(
                    CredentialForm::SecretReference,
                    FindingStatus::CannotTell,
                    false,
                    name,
                    None,
                ),
                ("keyOrValue", Value::String(s)) => self.header_value(s, name, sensitive),
                ("keyOrValue", other) => {
                    self.masked(name);
                    self.value(other, Ctx::Other);
                }
                _ => self.value(value, Ctx::Other),
            }
            self.path.pop();
        }
    }

    fn header_value(&mut self, value: &str, name: Option<&str>, sensitive: bool) {
        if forms::is_mask(value, sensitive) {
            self.masked(name);
            return;
        }
        if value.is_empty() {
            return;
        }
        match self.needles {
            Some(needles) => {
                if !needles.could_hold(value.len()) {
                    return;
                }
                let spans = needles.spans(value);
                if spans.is_empty() {
                    return;
                }
                let rewritable = on_boundaries(value, &spans);
                if let Some(range) = forms::basic_credentials(value) {
                    let in_basic = spans.iter().any(|span| {
                        matches!(span.kind, SpanKind::Base64(_))
                            && span.range.start < range.end
                            && range.start < span.range.end
                    });
                    if in_basic {
                        let email = forms::decode_pair(&value[range]).map(|pair| pair.email);
                        let form = CredentialForm::Basic;
                        self.hit(form, FindingStatus::Match, rewritable, name, email);
                        return;
                    }
                }
                let form = if forms::after_scheme(value, "bearer").is_some() {
                    CredentialForm::Bearer
                } else if spans
                    .iter()
                    .all(|span| matches!(span.kind, SpanKind::Base64(_)))
                {
                    CredentialForm::Base64
                } else {
                    CredentialForm::BareHeader
                };
                self.hit(form, FindingStatus::Match, rewritable, name, None);
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
                self.hit(form, FindingStatus::Credential, false, name, email);
            }
        }
    }

    fn string(&mut self, value: &str, ctx: Ctx) {
        let Some(needles) = self.needles else { return };
        if !needles.could_hold(value.len()) {
            return;
        }
        let spans = needles.spans(value);
        if spans.is_empty() {
            return;
        }
        let clear = spans
            .iter()
            .any(|span| !matches!(span.kind, SpanKind::Base64(_)));
        let form = match ctx {
            _ if !clear => CredentialForm::Base64,
            Ctx::Url => CredentialForm::Url,
            Ctx::CustomBody => CredentialForm::CustomBody,
            Ctx::Other | Ctx::HeaderList => CredentialForm::OtherString,
        };
        let rewritable = on_boundaries(value, &spans);
        self.hit(form, FindingStatus::Match, rewritable, None, None);
    }

    /// An unreadable value at the current path.
    fn masked(&mut self, name: Option<&str>) {
        let (form, status) = (CredentialForm::Masked, FindingStatus::CannotTell);
        self.hit(form, status, false, name, None);
    }

    /// An unreadable value: `key` of the current object is missing.
    fn masked_at(&mut self, key: &'static str, name: Option<&str>) {
        self.path.push(Seg::Key(key));
        self.masked(name);
        self.path.pop();
    }

    fn hit(
        &mut self,
        form: CredentialForm,
        status: FindingStatus,
        rewritable: bool,
        header_name: Option<&str>,
        account_email: Option<String>,
    ) {
        let (pointer, redacted) = pointer(&self.path, self.needles);
        self.hits.push(Hit {
            pointer,
            form,
            status,
            // A redacted pointer no longer leads to the value: nothing can rewrite it.
            rewritable: rewritable && !redacted,
            header_name: header_name.map(str::to_owned),
            account_email,
        });
    }
}

/// Whether every span starts and ends between characters, so that a rewrite leaves valid text.
fn on_boundaries(value: &str, spans: &[Span]) -> bool {
    spans.iter().all(|span| {
        value.is_char_boundary(span.range.start) && value.is_char_boundary(span.range.end)
    })
}

/// An RFC 6901 pointer (`~` as `~0`, `/` as `~1`), and whether it was redacted: a key that
/// spells the token (in any form, even inside a longer run) is shown as `[redacted]`.
fn pointer(path: &[Seg<'_>], needles: Option<&Needles>) -> (String, bool) {
    let mut out = String::new();
    let mut redacted = false;
    for seg in path {
        out.push('/');
        match seg {
            Seg::Key(key) => {
                let shown = match needles {
                    Some(needles) if needles.could_hold(key.len()) => {
                        let shown = needles.redact((*key).to_owned());
                        redacted |= shown != *key;
                        std::borrow::Cow::Owned(shown)
                    }
                    _ => std::borrow::Cow::Borrowed(*key),
                };
                for c in shown.chars() {
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
    (out, redacted)
}

#[cfg(test)]
mod tests;
