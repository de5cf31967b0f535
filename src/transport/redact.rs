//! Keeping secrets out of error messages: the values a request carries are scrubbed from what
//! the server quotes back, and serde's quoted values from decode errors.

use zeroize::Zeroizing;

use super::Auth;

/// Replaces every double-quoted part of a serde message: serde quotes the string values it
/// could not place, and a body may carry a key or a token.
pub(super) fn redact_quoted(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut chars = message.chars();
    while let Some(c) = chars.next() {
        out.push(c);
        if c != '"' {
            continue;
        }
        // Inside a quoted value (serde writes it with `\"` escapes): drop it up to the closing
        // unescaped quote; an unterminated one is dropped to the end.
        out.push_str(crate::secret::REDACTED);
        while let Some(inner) = chars.next() {
            match inner {
                '\\' => {
                    chars.next();
                }
                '"' => {
                    out.push('"');
                    break;
                }
                _ => {}
            }
        }
    }
    out
}

/// The secret parts of an `Authorization` value: a Bearer token, or a Basic value's base64 and
/// its password.
pub(super) fn auth_secrets(auth: Option<&Auth>) -> Vec<Zeroizing<String>> {
    let Some(Auth::Header(value)) = auth else {
        return Vec::new();
    };
    let Ok(value) = value.to_str() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if let Some((scheme, rest)) = value.split_once(' ') {
        out.push(Zeroizing::new(rest.to_owned()));
        if scheme.eq_ignore_ascii_case("basic") {
            use base64::Engine as _;
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(rest)
                .ok()
                .and_then(|d| String::from_utf8(d).ok())
                .map(Zeroizing::new);
            if let Some((_, password)) = decoded.as_deref().and_then(|d| d.split_once(':')) {
                out.push(Zeroizing::new(password.to_owned()));
            }
        }
    }
    out
}

/// Every run of token characters (`A-Z a-z 0-9 - _ = + / .`) of 16 or more in the string
/// values of `value`, and the password inside any of them that decodes as base64 `user:password`:
/// what a request body may carry as a credential, for [`Call::redacting`].
pub(crate) fn credential_like_runs(value: &serde_json::Value) -> Vec<String> {
    fn visit(value: &serde_json::Value, out: &mut Vec<String>) {
        match value {
            serde_json::Value::String(text) => {
                let is_token_char = |c: char| {
                    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '=' | '+' | '/' | '.')
                };
                for run in text.split(|c| !is_token_char(c)).filter(|r| r.len() >= 16) {
                    use base64::Engine as _;
                    if let Some(password) = base64::engine::general_purpose::STANDARD
                        .decode(run)
                        .ok()
                        .and_then(|d| String::from_utf8(d).ok())
                        .and_then(|d| d.split_once(':').map(|(_, p)| p.to_owned()))
                    {
                        out.push(password);
                    }
                    out.push(run.to_owned());
                }
            }
            serde_json::Value::Array(items) => items.iter().for_each(|v| visit(v, out)),
            serde_json::Value::Object(map) => map.values().for_each(|v| visit(v, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    visit(value, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_values_are_redacted_even_with_escaped_quotes_inside() {
        assert_eq!(
            redact_quoted(r#"invalid type: string "{\"token\": \"s3cr3t\"}", expected struct X"#),
            r#"invalid type: string "[redacted]", expected struct X"#
        );
        assert_eq!(
            redact_quoted(r#"unknown variant "a\\", "b" and "unterminated s3cr3t"#),
            r#"unknown variant "[redacted]", "[redacted]" and "[redacted]"#
        );
        assert_eq!(
            redact_quoted("missing field `token`"),
            "missing field `token`"
        );
    }
}
