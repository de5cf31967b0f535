//! The walk through one rule: where each string sits (header, URL, body, anything else), what
//! is unreadable, and one [`Hit`] per finding.

use serde_json::{Map, Value};

use super::forms;
use super::needles::{Needles, Span};
use super::{CredentialForm, FindingStatus};

/// Where a string sits.
#[derive(Clone, Copy)]
pub(super) enum Ctx {
    Other,
    /// An element of a `headers` array.
    HeaderList,
    Url,
    CustomBody,
}

/// One step of the path from the rule root; turned into a pointer only for a finding.
#[derive(Clone, Copy)]
pub(super) enum Seg<'v> {
    Key(&'v str),
    Index(usize),
}

pub(super) struct Hit {
    pub(super) pointer: String,
    pub(super) form: CredentialForm,
    pub(super) status: FindingStatus,
    pub(super) rewritable: bool,
    pub(super) header_name: Option<String>,
    pub(super) account_email: Option<String>,
}

pub(super) struct Walk<'s, 'v> {
    pub(super) needles: Option<&'s Needles>,
    pub(super) path: Vec<Seg<'v>>,
    pub(super) hits: Vec<Hit>,
}

/// A header: an object in a `headers` array with any of its fields.
fn is_header(map: &Map<String, Value>) -> bool {
    map.contains_key("value") || map.contains_key("name") || map.contains_key("headerSecure")
}

fn is_true(value: Option<&Value>) -> bool {
    matches!(value, Some(Value::Bool(true)))
}

impl<'v> Walk<'_, 'v> {
    pub(super) fn value(&mut self, value: &'v Value, ctx: Ctx) {
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
    pub(super) fn url(&mut self, value: &'v Value, secure: bool) {
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
    /// credential-like name, missing, `null`, not a string or a redaction marker
    /// ([`forms::is_mask`]); a Data Center
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
                        span.kind.is_base64()
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
                } else if spans.iter().all(|span| span.kind.is_base64()) {
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
        let Some(needles) = self.needles else {
            if matches!(ctx, Ctx::Url) {
                self.url_inventory(value);
            }
            return;
        };
        if !needles.could_hold(value.len()) {
            return;
        }
        let spans = needles.spans(value);
        if spans.is_empty() {
            return;
        }
        let clear = spans.iter().any(|span| !span.kind.is_base64());
        let form = match ctx {
            _ if !clear => CredentialForm::Base64,
            Ctx::Url => CredentialForm::Url,
            Ctx::CustomBody => CredentialForm::CustomBody,
            Ctx::Other | Ctx::HeaderList => CredentialForm::OtherString,
        };
        let rewritable = on_boundaries(value, &spans);
        self.hit(form, FindingStatus::Match, rewritable, None, None);
    }

    /// Inventory mode: a web request URL that carries a credential (`user:secret@`, or a
    /// credential-named query parameter); the user name of userinfo is its account.
    fn url_inventory(&mut self, url: &str) {
        if let Some(found) = forms::url_credential(url) {
            let (form, status) = (CredentialForm::Url, FindingStatus::Credential);
            let account = found.user.as_deref().and_then(forms::shown_account);
            self.hit(form, status, false, None, account);
        }
    }

    /// An unreadable value at the current path.
    fn masked(&mut self, name: Option<&str>) {
        let (form, status) = (CredentialForm::Masked, FindingStatus::CannotTell);
        self.hit(form, status, false, name, None);
    }

    /// An unreadable value: `key` of the current object is missing.
    pub(super) fn masked_at(&mut self, key: &'static str, name: Option<&str>) {
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

/// Whether every span can be rewritten and starts and ends between characters, so that a
/// rewrite leaves valid text.
fn on_boundaries(value: &str, spans: &[Span]) -> bool {
    spans.iter().all(|span| {
        span.kind.is_rewritable()
            && value.is_char_boundary(span.range.start)
            && value.is_char_boundary(span.range.end)
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
