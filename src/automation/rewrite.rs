//! Replace an old API token with a new one inside a rule, changing nothing else.
//!
//! The rewriter replaces exactly what [`Scanner::for_token`] reports as a
//! [`FindingStatus::Match`]:
//!
//! - `Basic` values are re-encoded as `base64(same email:new token)`, keeping the scheme's
//!   spelling and spacing and the padding style;
//! - `Bearer`, bare, URL, custom-body and other occurrences are replaced in place, a
//!   percent-encoded token by the percent-encoded new token (same hex case).
//!
//! Masked values and stored-secret references ([`FindingStatus::CannotTell`]) are never
//! written, and neither is `base64(email:token)` outside a `Basic` value (which only
//! [`Scanner::with_email`] finds): review those by hand.
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
use std::ops::Range;

use serde::Serialize;
use serde_json::Value;
use zeroize::Zeroizing;

use super::scan::forms::{self, Needles, Spelling};
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
        if finding.status != FindingStatus::Match {
            continue;
        }
        let Some(current) = rule.pointer(&finding.pointer).and_then(Value::as_str) else {
            continue;
        };
        let replaced = if finding.form == CredentialForm::Basic {
            replace_basic(current, &finding, needles, new, &fingerprints)
        } else {
            replace_spans(current, &finding, needles, new, &fingerprints)
        };
        if let Some(replaced) = replaced {
            planned.push(replaced);
        }
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
    let new_spellings = [
        Zeroizing::new(new.expose_secret().to_owned()),
        forms::percent_encode(new.expose_secret(), true),
        forms::percent_encode(new.expose_secret(), false),
    ];
    if new_spellings
        .iter()
        .any(|spelling| old_needles.find(spelling).is_some())
    {
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

/// `Basic base64(email:old)` → `Basic base64(email:new)`, keeping the scheme's spelling and
/// spacing, everything around the base64 run, and the padding style. Any clear occurrence of the
/// old token after it is replaced as well.
fn replace_basic(
    current: &str,
    finding: &Finding,
    needles: &Needles,
    new: &ApiToken,
    fingerprints: &Fingerprints,
) -> Option<(Rewrite, Zeroizing<String>)> {
    let range = forms::basic_credentials(current)?;
    let (scheme_start, credential_start) = forms::after_scheme(current, "basic")?;
    // The email comes from the value itself (a finding's copy may be redacted).
    let email = forms::decode_pair(&current[range.clone()])?.email;
    let mut encoded = Zeroizing::new(secret::basic_encode(&email, new.expose_secret()));
    if !forms::is_padded(&current[range.clone()]) {
        while encoded.ends_with('=') {
            encoded.pop();
        }
    }
    let mut value = Zeroizing::new(String::with_capacity(current.len() + 8));
    value.push_str(&current[..range.start]);
    value.push_str(&encoded);
    value.push_str(&current[range.end..]);
    // The old token may also follow in the clear (`Basic xxx, token`): replace it too, so no
    // occurrence survives the rewrite.
    let spans = token_spans(needles, &value);
    if !spans.is_empty() {
        value = splice(&value, &spans, new);
    }
    let scheme = &current[scheme_start..credential_start];
    let trailing = if current[range.end..].trim().is_empty() {
        ""
    } else {
        "…"
    };
    let email = needles.redact(email);
    let preview =
        |fingerprint: &str| format!("{scheme}[redacted {email}:token#{fingerprint}]{trailing}");
    Some((fingerprints.rewrite(finding, preview), value))
}

/// The bounded occurrences of the old token, as is or percent-encoded.
fn token_spans(needles: &Needles, value: &str) -> Vec<(Range<usize>, Spelling)> {
    let mut spans = needles.spans(value);
    spans.retain(|(_, spelling)| *spelling != Spelling::Pair);
    spans
}

/// `value` with each span replaced by the new token in the span's spelling.
fn splice(value: &str, spans: &[(Range<usize>, Spelling)], new: &ApiToken) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::with_capacity(value.len() + 8));
    let mut copied = 0;
    for (range, spelling) in spans {
        out.push_str(&value[copied..range.start]);
        match spelling {
            Spelling::Raw | Spelling::Pair => out.push_str(new.expose_secret()),
            Spelling::PercentUpper => {
                out.push_str(&forms::percent_encode(new.expose_secret(), true));
            }
            Spelling::PercentLower => {
                out.push_str(&forms::percent_encode(new.expose_secret(), false));
            }
        }
        copied = range.end;
    }
    out.push_str(&value[copied..]);
    out
}

/// Replaces every bounded occurrence of the old token (as is or percent-encoded) by the new one
/// in the same spelling.
fn replace_spans(
    current: &str,
    finding: &Finding,
    needles: &Needles,
    new: &ApiToken,
    fingerprints: &Fingerprints,
) -> Option<(Rewrite, Zeroizing<String>)> {
    let spans = token_spans(needles, current);
    let (first, last) = (spans.first()?.0.start, spans.last()?.0.end);
    let value = splice(current, &spans, new);

    // The preview shows the scheme of a Bearer value and elides everything else around the token.
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
    let times = if spans.len() > 1 {
        format!(" (×{})", spans.len())
    } else {
        String::new()
    };
    let suffix = if last < current.len() { "…" } else { "" };
    let preview =
        |fingerprint: &str| format!("{prefix}[redacted token#{fingerprint}]{times}{suffix}");
    Some((fingerprints.rewrite(finding, preview), value))
}

#[cfg(test)]
mod tests;
