//! Replace an old API token with a new one inside a rule, changing nothing else.
//!
//! The rewriter replaces exactly what [`Scanner::for_token`] reports as a rewritable
//! [`FindingStatus::Match`] ([`Finding::rewritable`]), each occurrence in its own form:
//!
//! - as is: by the new token;
//! - percent-encoded or JSON-escaped (any mix): by the new token written the same way, byte value
//!   by byte value (a byte the old token did not hold is escaped as the escapes there require);
//! - inside base64 (`Basic` values and anywhere else): the run is decoded, the token replaced,
//!   and the run encoded again with the same alphabet and padding style (and the same escapes);
//!   a `Basic` value keeps its email and its scheme's spelling and spacing.
//!
//! Afterwards no form of the old token is left in the strings it rewrote, and every other byte
//! of the rule is unchanged. Unreadable values and stored-secret references
//! ([`FindingStatus::CannotTell`]) are never written, and neither are matches that are not
//! rewritable (a token in an object key): review those by hand.
//!
//! ```
//! use atlassian_rotation::automation::rewrite::{plan_rule, rewrite_rule};
//! use atlassian_rotation::secret::ApiToken;
//!
//! let (old, new) = (ApiToken::new("old-token-1"), ApiToken::new("new-token-2"));
//! let mut rule = serde_json::json!({"components": [{"value": {
//!     "url": "https://example.com/hook?key=old-token-1",
//!     "headers": [{"name": "Authorization", "value": "Bearer old-token-1"}]
//! }}]});
//! let plan = plan_rule(&rule, &old, &new)?;
//! assert_eq!(plan[1].before, format!("Bearer [redacted token#{}]", old.fingerprint()));
//! assert_eq!(rewrite_rule(&mut rule, &old, &new)?, plan);
//! assert_eq!(rule["components"][0]["value"]["url"], "https://example.com/hook?key=new-token-2");
//! assert!(rewrite_rule(&mut rule, &old, &new)?.is_empty(), "idempotent");
//! # Ok::<(), atlassian_rotation::Error>(())
//! ```

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use zeroize::Zeroizing;

use super::scan::forms;
use super::scan::needles::{Needles, Span};
use super::scan::{CredentialForm, Finding, FindingStatus, Scanner};
use crate::error::{Error, Result};
use crate::secret::{self, ApiToken};

/// One credential string the rewriter replaces (or, in a plan, would replace). `before` and
/// `after` are redacted previews such as `Basic [redacted ops@example.com:token#1a2b3c4d]`
/// (the token's [`ApiToken::fingerprint`], never the token).
///
/// ```
/// use atlassian_rotation::automation::rewrite::plan_rule;
/// use atlassian_rotation::automation::scan::CredentialForm;
/// use atlassian_rotation::secret::ApiToken;
///
/// let rule = serde_json::json!({"components": [{"value": {"headers": [
///     {"name": "X-Api-Key", "value": "old-token-1"}
/// ]}}]});
/// let plan = plan_rule(&rule, &ApiToken::new("old-token-1"), &ApiToken::new("new-token-2"))?;
/// assert_eq!(plan[0].pointer, "/components/0/value/headers/0/value");
/// assert_eq!(plan[0].form, CredentialForm::BareHeader);
/// assert!(!plan[0].to_string().contains("old-token-1"));
/// # Ok::<(), atlassian_rotation::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Rewrite {
    /// RFC 6901 pointer from the rule's root to the string.
    pub pointer: String,
    /// How the credential is written.
    pub form: CredentialForm,
    /// Redacted preview of the value before.
    pub before: String,
    /// Redacted preview of the value after.
    pub after: String,
}

impl fmt::Display for Rewrite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({}): {} -> {}",
            self.pointer, self.form, self.before, self.after
        )
    }
}

/// What [`rewrite_rule`] would change, without changing anything.
///
/// # Errors
///
/// [`Error::InvalidInput`] when the old token is empty, or the new token is not header-safe,
/// equals the old one or contains it.
///
/// ```
/// use atlassian_rotation::automation::rewrite::plan_rule;
/// use atlassian_rotation::secret::ApiToken;
///
/// let rule = serde_json::json!({"components": [{"value": {"headers": [
///     {"name": "Authorization", "value": "***", "headerSecure": true}
/// ]}}]});
/// let (old, new) = (ApiToken::new("old-token-1"), ApiToken::new("new-token-2"));
/// assert!(plan_rule(&rule, &old, &new)?.is_empty(), "masked values are never written");
/// assert!(plan_rule(&rule, &old, &ApiToken::new("new token")).is_err());
/// # Ok::<(), atlassian_rotation::Error>(())
/// ```
pub fn plan_rule(rule: &Value, old: &ApiToken, new: &ApiToken) -> Result<Vec<Rewrite>> {
    Ok(replacements(rule, old, new)?
        .into_iter()
        .map(|(rewrite, _)| rewrite)
        .collect())
}

/// Replaces `old` by `new` in every credential string of `rule` where the scanner finds `old`,
/// and returns what changed. Every other value is left exactly as it was. Running it again
/// changes nothing.
///
/// # Errors
///
/// [`Error::InvalidInput`], with `rule` unchanged, when the old token is empty, or the new
/// token is not header-safe, equals the old one or contains it.
///
/// ```
/// use atlassian_rotation::automation::rewrite::rewrite_rule;
/// use atlassian_rotation::secret::ApiToken;
///
/// // "Basic base64(ops@example.com:old-token-1)"
/// let mut rule = serde_json::json!({"components": [{"value": {"headers": [
///     {"name": "Authorization", "value": "Basic b3BzQGV4YW1wbGUuY29tOm9sZC10b2tlbi0x"}
/// ]}}]});
/// let old = ApiToken::new("old-token-1");
/// let new = ApiToken::new("new-token-2");
/// let changes = rewrite_rule(&mut rule, &old, &new)?;
/// assert_eq!(changes[0].after, format!("Basic [redacted ops@example.com:token#{}]", new.fingerprint()));
/// assert_eq!(
///     rule["components"][0]["value"]["headers"][0]["value"],
///     "Basic b3BzQGV4YW1wbGUuY29tOm5ldy10b2tlbi0y"
/// );
/// # Ok::<(), atlassian_rotation::Error>(())
/// ```
pub fn rewrite_rule(rule: &mut Value, old: &ApiToken, new: &ApiToken) -> Result<Vec<Rewrite>> {
    let planned = replacements(rule, old, new)?;
    let mut done = Vec::with_capacity(planned.len());
    for (rewrite, value) in planned {
        if let Some(slot) = rule.pointer_mut(&rewrite.pointer) {
            *slot = Value::String(value.to_string());
        }
        done.push(rewrite);
    }
    Ok(done)
}

/// The one place replacements are decided, for both the plan and the rewrite.
fn replacements(
    rule: &Value,
    old: &ApiToken,
    new: &ApiToken,
) -> Result<Vec<(Rewrite, Zeroizing<String>)>> {
    let scanner = Scanner::for_token(old);
    let needles = scanner
        .needles()
        .ok_or_else(|| Error::invalid_input("old API token", "is missing"))?;
    check_tokens(needles, old, new)?;
    let fingerprints = Fingerprints {
        old: old.fingerprint(),
        new: new.fingerprint(),
    };
    let mut planned = Vec::new();
    for finding in scanner.scan_rule(rule) {
        if finding.status != FindingStatus::Match || !finding.rewritable {
            continue;
        }
        let Some(current) = rule.pointer(&finding.pointer).and_then(Value::as_str) else {
            continue;
        };
        let new_token = new.expose_secret().as_bytes();
        let Some(replaced) = needles.replace(current.as_bytes(), new_token, 0) else {
            continue;
        };
        let Ok(value) = String::from_utf8(replaced.text.to_vec()) else {
            continue;
        };
        let value = Zeroizing::new(value);
        let rewrite = match finding.form {
            CredentialForm::Basic => basic_preview(current, &finding, needles, &fingerprints),
            _ => None,
        }
        .unwrap_or_else(|| span_preview(current, &finding, &replaced.spans, &fingerprints));
        planned.push((rewrite, value));
    }
    Ok(planned)
}

/// Checks that `new` can replace `old` in rules: what every rewrite checks, for callers that
/// must refuse a token before anything is written (a rotation's regenerate step).
pub(crate) fn check_replacement(old: &ApiToken, new: &ApiToken) -> Result<()> {
    let scanner = Scanner::for_token(old);
    let needles = scanner
        .needles()
        .ok_or_else(|| Error::invalid_input("old API token", "is missing"))?;
    check_tokens(needles, old, new)
}

fn check_tokens(old_needles: &Needles, old: &ApiToken, new: &ApiToken) -> Result<()> {
    if old.expose_secret().is_empty() {
        return Err(Error::invalid_input("old API token", "is empty"));
    }
    secret::check_header_safe("new API token", new.expose_secret())?;
    if old == new {
        return Err(Error::invalid_input(
            "new API token",
            "is the same as the old one",
        ));
    }
    // In any spelling: the new token written where the old one was must not hold it.
    if old_needles.is_in(new.expose_secret()) {
        return Err(Error::invalid_input(
            "new API token",
            "contains the old token, so rewriting again would not be a no-op",
        ));
    }
    Ok(())
}

struct Fingerprints {
    old: String,
    new: String,
}

impl Fingerprints {
    /// The rewrite of `finding`, previewed before and after with `preview` of each fingerprint.
    fn rewrite(&self, finding: &Finding, preview: impl Fn(&str) -> String) -> Rewrite {
        Rewrite {
            pointer: finding.pointer.clone(),
            form: finding.form,
            before: preview(&self.old),
            after: preview(&self.new),
        }
    }
}

/// `Basic [redacted email:token#…]`, keeping the scheme's spelling and spacing; `None` when the
/// value does not decode as `email:token` (another alphabet, escaped), for the generic preview.
fn basic_preview(
    current: &str,
    finding: &Finding,
    needles: &Needles,
    fingerprints: &Fingerprints,
) -> Option<Rewrite> {
    let range = forms::basic_credentials(current)?;
    let (scheme_start, credential_start) = forms::after_scheme(current, "basic")?;
    // The email comes from the value itself (a finding's copy may be redacted).
    let email = needles.redact(forms::decode_pair(&current[range.clone()])?.email);
    let scheme = &current[scheme_start..credential_start];
    let trailing = if current[range.end..].trim().is_empty() {
        ""
    } else {
        "…"
    };
    let preview =
        |fingerprint: &str| format!("{scheme}[redacted {email}:token#{fingerprint}]{trailing}");
    Some(fingerprints.rewrite(finding, preview))
}

/// The token's places elided: the scheme of a `Bearer` value is shown, everything else around
/// the token is `…`; base64 runs are marked as such.
fn span_preview(
    current: &str,
    finding: &Finding,
    spans: &[Span],
    fingerprints: &Fingerprints,
) -> Rewrite {
    let first = spans.first().map_or(0, |s| s.range.start);
    let last = spans.last().map_or(current.len(), |s| s.range.end);
    let mut prefix = String::new();
    let mut context_before = first > 0;
    if finding.form == CredentialForm::Bearer {
        if let Some((scheme_start, credential_start)) = forms::after_scheme(current, "bearer") {
            prefix.push_str(&current[scheme_start..credential_start]);
            context_before = first > credential_start;
        }
    }
    if context_before {
        prefix.push('…');
    }
    let base64 = spans.iter().all(|span| span.kind.is_base64());
    let what = if base64 { "base64 token" } else { "token" };
    let times = if spans.len() > 1 {
        format!(" (×{})", spans.len())
    } else {
        String::new()
    };
    let suffix = if last < current.len() { "…" } else { "" };
    let preview =
        |fingerprint: &str| format!("{prefix}[redacted {what}#{fingerprint}]{times}{suffix}");
    fingerprints.rewrite(finding, preview)
}

#[cfg(test)]
mod tests;
