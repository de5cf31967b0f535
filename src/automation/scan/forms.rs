//! Recognising credential forms inside one string: token occurrences with word boundaries,
//! percent-encoded spellings, `Basic` and `Bearer` values, masks and credential-like header names.
//!
//! Everything here is crate-internal and shared by the scanner and the rewriter, so both agree on
//! what a match is. Nothing here allocates unless a candidate is found.

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

/// Which spelling of a token a span matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Spelling {
    /// The token as is.
    Raw,
    /// Percent-encoded with upper-case hex (`%3D`).
    PercentUpper,
    /// Percent-encoded with lower-case hex (`%3d`).
    PercentLower,
    /// `base64(email:token)` without padding (only with a known email).
    Pair,
}

/// The spellings of one token to look for. Holds secret material: never printed, zeroized on drop.
pub(crate) struct Needles {
    raw: Zeroizing<String>,
    percent_upper: Option<Zeroizing<String>>,
    percent_lower: Option<Zeroizing<String>>,
    pair: Option<Zeroizing<String>>,
    min_len: usize,
    /// How many leading bytes every clear or percent-encoded spelling shares.
    shared_prefix: usize,
}

impl Needles {
    /// The needles for `token`. An empty token has no needles and matches nothing.
    pub(crate) fn new(token: &str) -> Self {
        let raw = Zeroizing::new(token.to_owned());
        let upper = percent_encode(token, true);
        let (percent_upper, percent_lower) = if *upper == token {
            (None, None)
        } else {
            let lower = percent_encode(token, false);
            let lower = (*lower != *upper).then_some(lower);
            (Some(upper), lower)
        };
        let min_len = token.len();
        let shared_prefix = token
            .bytes()
            .position(|b| !is_unreserved(b))
            .unwrap_or(token.len());
        Self {
            raw,
            percent_upper,
            percent_lower,
            pair: None,
            min_len,
            shared_prefix,
        }
    }

    /// The token itself.
    pub(crate) fn token(&self) -> &str {
        &self.raw
    }

    /// Also look for `base64(email:token)` (unpadded, so padded values match too).
    pub(crate) fn with_pair(mut self, email: &str) -> Self {
        if self.raw.is_empty() || email.is_empty() {
            return self;
        }
        let mut encoded = Zeroizing::new(crate::secret::basic_encode(email, &self.raw));
        while encoded.ends_with('=') {
            encoded.pop();
        }
        self.min_len = self.min_len.min(encoded.len());
        self.pair = Some(encoded);
        self
    }

    /// `text` with every occurrence of any spelling (bounded or not) replaced by `[redacted]`:
    /// for the names a finding carries, which must never show the token.
    pub(crate) fn redact(&self, text: String) -> String {
        if self.raw.is_empty() {
            return text;
        }
        let spellings = [
            Some(&self.raw),
            self.percent_upper.as_ref(),
            self.percent_lower.as_ref(),
            self.pair.as_ref(),
        ];
        let mut text = text;
        for spelling in spellings.into_iter().flatten() {
            if text.contains(spelling.as_str()) {
                text = text.replace(spelling.as_str(), crate::secret::REDACTED);
            }
        }
        text
    }

    /// Every bounded occurrence of any spelling in `hay`, in order, not overlapping.
    pub(crate) fn spans(&self, hay: &str) -> Vec<(Range<usize>, Spelling)> {
        let mut spans = Vec::new();
        self.each_span(hay, |range, spelling| {
            spans.push((range, spelling));
            true
        });
        spans.sort_by_key(|(range, _)| range.start);
        // Spellings cannot overlap in practice (they differ in their `%` or base64 runs), but
        // keep the first of any overlapping pair so a replacement is always well formed.
        let mut end = 0;
        spans.retain(|(range, _)| {
            let keep = range.start >= end;
            if keep {
                end = range.end;
            }
            keep
        });
        spans
    }

    /// The spelling of the first bounded occurrence found, if any. Raw and percent-encoded
    /// spellings are tried before the base64 pair.
    pub(crate) fn find(&self, hay: &str) -> Option<Spelling> {
        if self.raw.is_empty() || hay.len() < self.min_len {
            return None;
        }
        let mut found = None;
        self.each_span(hay, |_, spelling| {
            found = Some(spelling);
            false
        });
        found
    }

    /// Calls `f` for each bounded occurrence until it returns `false`.
    fn each_span(&self, hay: &str, mut f: impl FnMut(Range<usize>, Spelling) -> bool) {
        if self.raw.is_empty() {
            return;
        }
        let spellings = [
            (Some(&self.raw), Spelling::Raw),
            (self.percent_upper.as_ref(), Spelling::PercentUpper),
            (self.percent_lower.as_ref(), Spelling::PercentLower),
            (self.pair.as_ref(), Spelling::Pair),
        ];
        // The clear and percent-encoded spellings share the token's start up to its first
        // encoded byte: when that is absent, none of them can be there.
        let shared = &self.raw.as_bytes()[..self.shared_prefix];
        let clear_possible = shared.is_empty() || find_bytes(hay.as_bytes(), shared, 0).is_some();
        for (needle, spelling) in spellings {
            let Some(needle) = needle else { continue };
            if spelling != Spelling::Pair && !clear_possible {
                continue;
            }
            let boundary = if spelling == Spelling::Pair {
                is_base64_byte
            } else {
                is_token_byte
            };
            if !bounded_occurrences(hay, needle, boundary, |range| f(range, spelling)) {
                return;
            }
        }
    }
}

/// Finds `needle` in `hay` where the bytes on either side are not `boundary` bytes. Calls `f`
/// for each; stops (returning `false`) when `f` does.
fn bounded_occurrences(
    hay: &str,
    needle: &str,
    boundary: fn(u8) -> bool,
    mut f: impl FnMut(Range<usize>) -> bool,
) -> bool {
    let bytes = hay.as_bytes();
    let mut from = 0;
    while let Some(start) = find_bytes(bytes, needle.as_bytes(), from) {
        let end = start + needle.len();
        let clear_before = start == 0 || !boundary(bytes[start - 1]);
        let clear_after = end == bytes.len() || !boundary(bytes[end]);
        if clear_before && clear_after {
            if !f(start..end) {
                return false;
            }
            from = end;
        } else {
            // A bounded occurrence may overlap a rejected one.
            from = start + 1;
        }
    }
    true
}

/// The first occurrence of `needle` in `hay` at or after `from`. Faster than `str::find` for
/// the many short strings of a rule (no per-call needle preprocessing). A match of a UTF-8
/// needle in UTF-8 text always starts and ends on character boundaries.
fn find_bytes(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    let (&first, rest) = needle.split_first()?;
    let last_start = hay.len().checked_sub(needle.len())?;
    let mut at = from;
    while at <= last_start {
        at += hay[at..=last_start].iter().position(|&b| b == first)?;
        if &hay[at + 1..at + needle.len()] == rest {
            return Some(at);
        }
        at += 1;
    }
    None
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// Percent-encodes every byte outside RFC 3986's unreserved set.
pub(crate) fn percent_encode(value: &str, upper: bool) -> Zeroizing<String> {
    const UPPER: &[u8; 16] = b"0123456789ABCDEF";
    const LOWER: &[u8; 16] = b"0123456789abcdef";
    let digits = if upper { UPPER } else { LOWER };
    let mut out = Zeroizing::new(String::with_capacity(value.len()));
    for &b in value.as_bytes() {
        if is_unreserved(b) {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(digits[usize::from(b >> 4)]));
            out.push(char::from(digits[usize::from(b & 0xf)]));
        }
    }
    out
}

/// Whether `value` is a mask: one or more `*` and nothing else.
pub(crate) fn is_masked(value: &str) -> bool {
    !value.is_empty() && value.bytes().all(|b| b == b'*')
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

/// A decoded `email:token` pair. The token part is zeroized on drop.
pub(crate) struct Pair {
    pub(crate) email: String,
    pub(crate) token: Zeroizing<String>,
}

/// Decodes `base64(email:token)`, padded or not. `None` when it does not decode to UTF-8 text
/// with a `:`.
pub(crate) fn decode_pair(encoded: &str) -> Option<Pair> {
    const INDIFFERENT: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    let bytes = Zeroizing::new(INDIFFERENT.decode(encoded).ok()?);
    let text = std::str::from_utf8(&bytes).ok()?;
    let (email, token) = text.split_once(':')?;
    Some(Pair {
        email: email.to_owned(),
        token: Zeroizing::new(token.to_owned()),
    })
}

/// Whether a `Basic` base64 run is written with `=` padding. A run that needs no padding counts
/// as padded, so a re-encoding that needs it gets it.
pub(crate) fn is_padded(encoded: &str) -> bool {
    encoded.ends_with('=') || encoded.len() % 4 == 0
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

    fn found(hay: &str) -> Option<Spelling> {
        Needles::new(TOKEN).find(hay)
    }

    #[test]
    fn a_token_inside_a_longer_run_is_not_a_match() {
        assert_eq!(found(TOKEN), Some(Spelling::Raw));
        assert_eq!(found(&format!("x {TOKEN}.")), Some(Spelling::Raw));
        assert_eq!(found(&format!("{TOKEN}0")), None);
        assert_eq!(found(&format!("_{TOKEN}")), None);
        assert_eq!(found(&format!("-{TOKEN}")), None);
        assert_eq!(found("ATATT3xFfGF0abc=DEADBEE"), None);
        // A rejected occurrence must not hide a later bounded one.
        assert_eq!(found(&format!("a{TOKEN} {TOKEN}")), Some(Spelling::Raw));
    }

    #[test]
    fn percent_encoded_spellings_match_in_either_hex_case() {
        assert_eq!(
            found("https://x/?t=ATATT3xFfGF0abc%3DDEADBEEF"),
            Some(Spelling::PercentUpper)
        );
        assert_eq!(
            found("https://x/?t=ATATT3xFfGF0abc%3dDEADBEEF"),
            Some(Spelling::PercentLower)
        );
        // A token with nothing to encode has a single spelling.
        assert!(Needles::new("plain-token").percent_upper.is_none());
    }

    #[test]
    fn spans_are_ordered_and_cover_every_spelling() {
        let hay = format!("{TOKEN} and ATATT3xFfGF0abc%3DDEADBEEF and {TOKEN}");
        let spans = Needles::new(TOKEN).spans(&hay);
        let spellings: Vec<_> = spans.iter().map(|(_, s)| *s).collect();
        assert_eq!(
            spellings,
            [Spelling::Raw, Spelling::PercentUpper, Spelling::Raw]
        );
        assert_eq!(&hay[spans[0].0.clone()], TOKEN);
    }

    #[test]
    fn redact_hides_every_spelling_even_inside_longer_runs() {
        let needles = Needles::new(TOKEN);
        assert_eq!(
            needles.redact(format!("Sync x{TOKEN}x ATATT3xFfGF0abc%3dDEADBEEF")),
            "Sync x[redacted]x [redacted]"
        );
        assert_eq!(needles.redact("plain".to_owned()), "plain");
    }

    #[test]
    fn tokens_starting_or_ending_with_an_encoded_byte_are_found_in_every_spelling() {
        let needles = Needles::new("=ab+");
        assert_eq!(needles.find("x =ab+ y"), Some(Spelling::Raw));
        assert_eq!(needles.find("x %3Dab%2B y"), Some(Spelling::PercentUpper));
        assert_eq!(needles.find("x %3dab%2b y"), Some(Spelling::PercentLower));
        assert_eq!(needles.find("x %3Dab y"), None);
    }

    #[test]
    fn an_empty_token_matches_nothing() {
        assert_eq!(Needles::new("").find("anything"), None);
        assert!(Needles::new("").spans("anything").is_empty());
    }

    #[test]
    fn pair_spelling_needs_base64_boundaries() {
        let needles = Needles::new("tok").with_pair("a@example.com");
        let padded = crate::secret::basic_encode("a@example.com", "tok");
        let unpadded = padded.trim_end_matches('=');
        assert_eq!(needles.find(&format!("x={padded}")), Some(Spelling::Pair));
        assert_eq!(needles.find(unpadded), Some(Spelling::Pair));
        assert_eq!(needles.find(&format!("Q{unpadded}")), None);
    }

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
            assert_eq!(pair.token.as_str(), TOKEN);
        }
        assert!(basic_credentials("Basic").is_none());
        assert!(basic_credentials("Basicxyz").is_none());
        assert!(basic_credentials("Bearer xyz").is_none());
        assert!(decode_pair("!!!").is_none());
        assert!(decode_pair("bm9jb2xvbg").is_none(), "no colon");
    }

    #[test]
    fn masks_and_credential_names() {
        assert!(is_masked("***"));
        assert!(is_masked("*"));
        assert!(!is_masked(""));
        assert!(!is_masked("**x"));
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
        for name in ["Content-Type", "Accept", "Keyboard", "ky", ""] {
            assert!(!is_credential_name(name), "{name}");
        }
        assert!(is_padded("YWI="));
        assert!(is_padded("YWJj"));
        assert!(!is_padded("YWI"));
    }
}
