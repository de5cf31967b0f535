//! Recognising credential forms inside one string: `Basic` and `Bearer` values, masks and
//! credential-like header names. Where a token is, in any spelling, is [`super::needles`]' job.
//!
//! Everything here is crate-internal and shared by the scanner and the rewriter, so both agree on
//! what a match is.

use std::ops::Range;

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use zeroize::Zeroizing;

/// Bytes that continue a token-like run: a token next to one of these is part of a longer token.
pub(crate) fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

fn is_base64_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'+' || b == b'/'
}

/// Whether a readable string `value` is a mask: two or more `*` and nothing else anywhere; and
/// where the value is `sensitive` (a secure header or URL, or a header with a credential-like
/// name), also:
///
/// - an empty value, or one made only of whitespace;
/// - a value made only of mask characters, one or more: `*`, `•` (U+2022), `●` (U+25CF); or
///   three or more `x` / `X` and nothing else (`xxx`, `XXXXXXXX`);
/// - `redacted` in any letter case, alone or wrapped in `[]`, `<>` or `()`;
/// - an authentication scheme (`Basic`, `Bearer`, `Token`, any case) alone or followed only by
///   one of the above (`Bearer ***`, `Basic ********`, `Bearer [REDACTED]`).
///
/// Surrounding whitespace is ignored. A lone `*` elsewhere is a value (`If-Match: *`).
pub(crate) fn is_mask(value: &str, sensitive: bool) -> bool {
    let stars = value.bytes().all(|b| b == b'*');
    if value.len() >= 2 && stars {
        return true;
    }
    if !sensitive {
        return false;
    }
    let value = value.trim();
    if is_marker(value) {
        return true;
    }
    ["basic", "bearer", "token"].iter().any(|scheme| {
        value.eq_ignore_ascii_case(scheme)
            || after_scheme(value, scheme).is_some_and(|(_, start)| is_marker(&value[start..]))
    })
}

/// A redaction marker: empty, mask characters only, `xxx` or `redacted` (see [`is_mask`]).
fn is_marker(value: &str) -> bool {
    if value
        .chars()
        .all(|c| matches!(c, '*' | '\u{2022}' | '\u{25cf}'))
    {
        return true;
    }
    if value.len() >= 3 && value.bytes().all(|b| b == b'x' || b == b'X') {
        return true;
    }
    let inner = match value.as_bytes() {
        [b'[', .., b']'] | [b'<', .., b'>'] | [b'(', .., b')'] => &value[1..value.len() - 1],
        _ => value,
    };
    inner.trim().eq_ignore_ascii_case("redacted")
}

/// Where the credential after an authentication scheme starts: `value` (after optional leading
/// whitespace) starts with `scheme` in any letter case followed by at least one space or tab.
/// Returns the scheme's start and the credential's start.
pub(crate) fn after_scheme(value: &str, scheme: &str) -> Option<(usize, usize)> {
    let start = value.len() - value.trim_start().len();
    let rest = value.as_bytes().get(start..)?;
    let head = rest.get(..scheme.len())?;
    if !head.eq_ignore_ascii_case(scheme.as_bytes()) {
        return None;
    }
    let spaces = rest[scheme.len()..]
        .iter()
        .take_while(|b| matches!(b, b' ' | b'\t'))
        .count();
    (spaces > 0).then_some((start, start + scheme.len() + spaces))
}

/// The base64 run of a `Basic` value (scheme in any case, any spacing), when it looks like one.
pub(crate) fn basic_credentials(value: &str) -> Option<Range<usize>> {
    let (_, start) = after_scheme(value, "basic")?;
    let len = value.as_bytes()[start..]
        .iter()
        .take_while(|&&b| is_base64_byte(b) || b == b'=')
        .count();
    (len > 0).then_some(start..start + len)
}

/// The account of a decoded `email:token` pair (the token part is not kept).
pub(crate) struct Pair {
    pub(crate) email: String,
}

/// Decodes `base64(email:token)`, padded or not, for the account it names. `None` when it does
/// not decode to UTF-8 text with a `:`, or when the part before the `:` is no email (see
/// [`shown_account`]).
pub(crate) fn decode_pair(encoded: &str) -> Option<Pair> {
    decode_credentials(encoded)
        .and_then(|(user, _)| shown_account(&user))
        .map(|email| Pair { email })
}

/// `user` (of a `Basic` value or a URL's userinfo) as an account a finding may name: only an
/// email (`local@domain`, without whitespace or control characters). Anything else may be the
/// secret itself: Freshdesk and BambooHR, for one, take an API key as the user name and a
/// dummy password.
pub(crate) fn shown_account(user: &str) -> Option<String> {
    let (local, domain) = user.rsplit_once('@')?;
    let clean = !user.chars().any(|c| c.is_whitespace() || c.is_control());
    (clean && !local.is_empty() && !domain.is_empty()).then(|| user.to_owned())
}

/// Decodes `base64(email:token)`, padded or not, into the email and the token (zeroized on
/// drop). `None` when it does not decode to UTF-8 text with a `:`.
pub(crate) fn decode_credentials(encoded: &str) -> Option<(String, Zeroizing<String>)> {
    const INDIFFERENT: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    let bytes = Zeroizing::new(INDIFFERENT.decode(encoded).ok()?);
    let text = std::str::from_utf8(&bytes).ok()?;
    let (email, token) = text.split_once(':')?;
    Some((email.to_owned(), Zeroizing::new(token.to_owned())))
}

/// A credential inside a URL: the password of `scheme://user:secret@host/...`, else the value
/// of the first query parameter whose name looks like a credential ([`is_credential_name`]:
/// `?token=`, `api_key=`, `access_token=`, ...).
pub(crate) struct UrlCredential {
    /// Where the secret is in the URL, as written (possibly percent-encoded).
    pub(crate) secret: Range<usize>,
    /// The user name before the secret, decoded, when the secret is a userinfo password.
    pub(crate) user: Option<String>,
}

/// The credential a URL carries, if any (see [`UrlCredential`]). Works on the text as written,
/// smart values (`{{issue.key}}`) and all, without requiring a parseable URL.
pub(crate) fn url_credential(url: &str) -> Option<UrlCredential> {
    let authority_at = url.find("://").map_or(0, |at| at + 3);
    let rest = &url[authority_at..];
    let authority_len = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    if let Some(at) = rest[..authority_len].rfind('@') {
        if let Some(colon) = rest[..at].find(':') {
            if colon + 1 < at {
                let user = unescaped(&rest[..colon]);
                return Some(UrlCredential {
                    secret: authority_at + colon + 1..authority_at + at,
                    user: Some(user.to_string()),
                });
            }
        }
    }
    let query_at = url.find('?')? + 1;
    let query_end = url[query_at..]
        .find('#')
        .map_or(url.len(), |i| query_at + i);
    let mut at = query_at;
    for pair in url[query_at..query_end].split('&') {
        let start = at;
        at += pair.len() + 1;
        let Some((name, value)) = pair.split_once('=') else {
            continue;
        };
        if !value.is_empty() && is_credential_name(&unescaped(name)) {
            let value_at = start + name.len() + 1;
            return Some(UrlCredential {
                secret: value_at..value_at + value.len(),
                user: None,
            });
        }
    }
    None
}

/// `text` with its percent-encoding and JSON escapes decoded (as the scanner reads a token), as
/// UTF-8 (invalid sequences replaced); zeroized on drop.
pub(crate) fn unescaped(text: &str) -> Zeroizing<String> {
    let view = super::escape::View::new(text.as_bytes());
    Zeroizing::new(String::from_utf8_lossy(view.bytes()).into_owned())
}

/// Whether a header name suggests a credential: it contains `auth`, `token`, `secret`,
/// `password` or `api-key` / `api_key` / `apikey`, or ends with `key` (`X-Functions-Key`), in any
/// letter case.
pub(crate) fn is_credential_name(name: &str) -> bool {
    let ends_with_key =
        name.len() >= 3 && name.as_bytes()[name.len() - 3..].eq_ignore_ascii_case(b"key");
    ends_with_key
        || [
            "auth", "token", "secret", "password", "apikey", "api-key", "api_key",
        ]
        .iter()
        .any(|word| contains_ignore_case(name, word))
}

fn contains_ignore_case(hay: &str, needle: &str) -> bool {
    hay.as_bytes()
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "ATATT3xFfGF0abc=DEADBEEF";

    #[test]
    fn basic_values_parse_in_any_case_and_spacing() {
        let encoded = crate::secret::basic_encode("ops@example.com", TOKEN);
        for value in [
            format!("Basic {encoded}"),
            format!("basic   {encoded}"),
            format!("  BASIC\t{encoded}  "),
            format!("Basic {}", encoded.trim_end_matches('=')),
        ] {
            let range = basic_credentials(&value).unwrap();
            let pair = decode_pair(&value[range]).unwrap();
            assert_eq!(pair.email, "ops@example.com");
        }
        assert!(basic_credentials("Basic").is_none());
        assert!(basic_credentials("Basicxyz").is_none());
        assert!(basic_credentials("Bearer xyz").is_none());
        assert!(decode_pair("!!!").is_none());
        assert!(decode_pair("bm9jb2xvbg").is_none(), "no colon");
    }

    #[test]
    fn url_credentials_are_found_in_userinfo_and_credential_named_query_parameters() {
        let secret = |url: &str| url_credential(url).map(|c| (url[c.secret].to_owned(), c.user));
        assert_eq!(
            secret("https://ops%40example.com:tok%3D1@hooks.example.com/x?a=b"),
            Some(("tok%3D1".to_owned(), Some("ops@example.com".to_owned())))
        );
        assert_eq!(
            secret("https://hooks.example.com/jira?source=automation&token=tok-1&x=2#frag"),
            Some(("tok-1".to_owned(), None))
        );
        assert_eq!(
            secret("https://h.example.com/?{{issue.key}}&Api_Key=k1"),
            Some(("k1".to_owned(), None))
        );
        for none in [
            "https://hooks.example.com/jira?source=automation",
            "https://user@hooks.example.com/",
            "https://hooks.example.com/?token=",
            "https://hooks.example.com/a@b:c?x=1",
            "not a url",
        ] {
            assert!(url_credential(none).is_none(), "{none}");
        }
        assert_eq!(&*unescaped("tok%3D1\\u0041"), "tok=1A");
    }

    #[test]
    fn basic_values_decode_with_their_token() {
        let encoded = crate::secret::basic_encode("ops@example.com", TOKEN);
        let (email, token) = decode_credentials(&encoded).unwrap();
        assert_eq!((email.as_str(), token.as_str()), ("ops@example.com", TOKEN));
        assert!(decode_credentials("bm9jb2xvbg").is_none());
    }

    #[test]
    fn masks_and_credential_names() {
        for sensitive in [false, true] {
            assert!(is_mask("***", sensitive));
            assert!(is_mask("**", sensitive));
            assert!(!is_mask("**x", sensitive));
            assert!(!is_mask("x", sensitive));
        }
        assert!(is_mask("*", true));
        assert!(is_mask("", true));
        assert!(!is_mask("*", false), "If-Match: *");
        assert!(!is_mask("", false));
        for marker in [
            " ",
            "\t",
            "[redacted]",
            "[REDACTED]",
            "<redacted>",
            "(Redacted)",
            "REDACTED",
            "Bearer ***",
            "Basic ********",
            "bearer [redacted]",
            "\u{2022}\u{2022}\u{2022}",
            "\u{25cf}",
            "xxx",
            "XXXXXXXX",
            " *** ",
        ] {
            assert!(is_mask(marker, true), "{marker:?}");
            assert!(
                !is_mask(marker, false) || marker.trim() == "***",
                "{marker:?}"
            );
        }
        assert!(is_mask("Bearer ", true));
        for value in [
            "xx",
            "Bearer x",
            "Bearerxxx",
            "redacted-token",
            "[redacted] x",
            "Basicxyz",
        ] {
            assert!(!is_mask(value, true), "{value:?}");
        }
        for name in [
            "Authorization",
            "proxy-authorization",
            "X-Api-Key",
            "x-auth-token",
            "Ocp-Apim-Subscription-Key",
            "DB_PASSWORD",
        ] {
            assert!(is_credential_name(name), "{name}");
        }
        for name in ["Content-Type", "Accept", "Keyboard", "ky", "", "If-Match"] {
            assert!(!is_credential_name(name), "{name}");
        }
    }
}
