//! Keeping secrets out of error messages: the values a request carries are scrubbed from what
//! the server quotes back, and serde's quoted values from decode errors.

use zeroize::Zeroizing;

use super::Auth;
use crate::error::ErrorBody;

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

/// The shortest run of token characters [`credential_like_runs`] takes for a credential: shorter
/// runs in a request body (`Bearer`, `GET`, a header name) are ordinary words far more often.
pub(crate) const MIN_RUN: usize = 8;

/// Values the caller marked as credentials (the `Authorization` header's secrets, what
/// [`Call::redacting`](super::Call::redacting) names) are redacted whatever their length: from
/// this many characters on wherever they occur, inside other text included; shorter ones only
/// where they stand alone (no ASCII letter or digit right before or after), so that a 3-character
/// password redacts `"abc"` and `abc,` but does not shred every word holding `abc`.
pub(crate) const MIN_SUBSTRING: usize = 8;

/// Every run of token characters (`A-Z a-z 0-9 - _ = + / .`) of [`MIN_RUN`] (8) or more in the
/// string values of `value`, and the password (of any length) inside any of them that decodes as
/// base64 `user:password`: what a request body may carry as a credential, for
/// [`Call::redacting`](super::Call::redacting).
pub(crate) fn credential_like_runs(value: &serde_json::Value) -> Vec<String> {
    fn visit(value: &serde_json::Value, out: &mut Vec<String>) {
        match value {
            serde_json::Value::String(text) => {
                let is_token_char = |c: char| {
                    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '=' | '+' | '/' | '.')
                };
                for run in text
                    .split(|c| !is_token_char(c))
                    .filter(|r| r.len() >= MIN_RUN)
                {
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

/// The error body of a response, parsed, with every one of `needles` redacted before anything
/// is cut: a secret straddling [`ErrorBody::TEXT_CAP`] is redacted whole, not cut in two and
/// left half visible. `truncated`: the body was cut while read, so its end may hold the start of
/// a secret; that start is redacted too.
pub(super) fn redacted_error_body<S: AsRef<str>>(
    bytes: &[u8],
    truncated: bool,
    needles: &[S],
) -> ErrorBody {
    let needles = Needles::new(needles);
    let mut body = ErrorBody::parse(bytes);
    if needles.is_empty() {
        return body;
    }
    match &mut body {
        ErrorBody::Empty => {}
        ErrorBody::Text(text) => {
            // `parse` cut the text: start again from all of it, redact, then cut.
            let full = String::from_utf8_lossy(bytes);
            let mut clean = needles.scrub(&full, truncated);
            let mut end = clean.len().min(ErrorBody::TEXT_CAP);
            while !clean.is_char_boundary(end) {
                end -= 1;
            }
            clean.truncate(end);
            *text = clean;
        }
        ErrorBody::Keyed { key, message } => {
            *key = needles.scrub(key, false);
            if let Some(m) = message {
                *m = needles.scrub(m, false);
            }
        }
        ErrorBody::Automation(items) => {
            for item in items {
                [
                    &mut item.id,
                    &mut item.status,
                    &mut item.code,
                    &mut item.title,
                    &mut item.detail,
                    &mut item.field,
                ]
                .into_iter()
                .flatten()
                .for_each(|t| *t = needles.scrub(t, false));
            }
        }
    }
    body
}

/// The values to redact, deduplicated, longest first.
struct Needles<'a>(Vec<&'a str>);

impl<'a> Needles<'a> {
    fn new<S: AsRef<str>>(needles: &'a [S]) -> Self {
        let mut list: Vec<&str> = needles
            .iter()
            .map(AsRef::as_ref)
            .filter(|n| !n.is_empty())
            .collect();
        list.sort_unstable_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
        list.dedup();
        Self(list)
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `text` with every occurrence of a needle replaced by `[redacted]`: as written, and as the
    /// server may have escaped it (JSON `\uXXXX`, `\/` and the like, `\xHH`, percent-encoding,
    /// HTML character references, up to three layers deep).
    fn scrub(&self, text: &str, truncated: bool) -> String {
        let mut views = vec![View::raw(text)];
        for _ in 0..3 {
            match views.last().and_then(View::decoded) {
                Some(next) => views.push(next),
                None => break,
            }
        }
        let mut hits: Vec<(usize, usize)> = Vec::new();
        for view in &views {
            for needle in &self.0 {
                view.find_all(needle, &mut hits);
            }
            if truncated {
                if let Some(start) = self.dangling(view) {
                    hits.push((start, text.len()));
                }
            }
        }
        if hits.is_empty() {
            return text.to_owned();
        }
        hits.sort_unstable();
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        for (start, end) in hits {
            let start = floor_char_boundary(text, start);
            let end = ceil_char_boundary(text, end);
            if start < at {
                // Overlaps the redaction just written: extend it.
                at = at.max(end);
                continue;
            }
            out.push_str(&text[at..start]);
            out.push_str(crate::secret::REDACTED);
            at = end;
        }
        out.push_str(&text[at..]);
        out
    }

    /// Where in the original text a view's end starts a needle cut short: the end, give or take
    /// an escape sequence cut in the middle, equals a needle's first characters.
    fn dangling(&self, view: &View) -> Option<usize> {
        let bytes = &view.bytes;
        let mut earliest: Option<usize> = None;
        for needle in &self.0 {
            let needle = needle.as_bytes();
            for ignored in 0..=12.min(bytes.len()) {
                let body = &bytes[..bytes.len() - ignored];
                let longest = (1..needle.len().min(body.len() + 1))
                    .rev()
                    .find(|&n| body.ends_with(&needle[..n]));
                if let Some(n) = longest {
                    let start = view.spans[body.len() - n].0;
                    earliest = Some(earliest.map_or(start, |e| e.min(start)));
                    break;
                }
            }
        }
        earliest
    }
}

fn floor_char_boundary(text: &str, mut i: usize) -> usize {
    i = i.min(text.len());
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn ceil_char_boundary(text: &str, mut i: usize) -> usize {
    i = i.min(text.len());
    while !text.is_char_boundary(i) {
        i += 1;
    }
    i
}

/// A text with one more layer of escaping decoded: each byte remembers the range of the
/// original text it came from.
struct View {
    bytes: Vec<u8>,
    spans: Vec<(usize, usize)>,
}

impl View {
    fn raw(text: &str) -> Self {
        Self {
            bytes: text.as_bytes().to_vec(),
            spans: (0..text.len()).map(|i| (i, i + 1)).collect(),
        }
    }

    /// This view with its escapes decoded, or `None` when it holds none.
    fn decoded(&self) -> Option<Self> {
        let b = &self.bytes;
        let mut out = Self {
            bytes: Vec::with_capacity(b.len()),
            spans: Vec::with_capacity(b.len()),
        };
        let mut changed = false;
        let mut i = 0;
        while i < b.len() {
            let (decoded, used) = match unescape(&b[i..]) {
                Some((decoded, used)) => {
                    changed = true;
                    (decoded, used)
                }
                None => (Decoded::Byte(b[i]), 1),
            };
            let span = (self.spans[i].0, self.spans[i + used - 1].1);
            let mut utf8 = [0u8; 4];
            let produced: &[u8] = match &decoded {
                Decoded::Byte(byte) => std::slice::from_ref(byte),
                Decoded::Char(c) => c.encode_utf8(&mut utf8).as_bytes(),
            };
            for &byte in produced {
                out.bytes.push(byte);
                out.spans.push(span);
            }
            i += used;
        }
        changed.then_some(out)
    }

    /// Records the original range of every occurrence of `needle` in this view.
    fn find_all(&self, needle: &str, hits: &mut Vec<(usize, usize)>) {
        let alone = needle.chars().count() < MIN_SUBSTRING;
        let mut offset = 0;
        // A needle is valid UTF-8, so an occurrence lies within one valid stretch of the view.
        for chunk in self.bytes.utf8_chunks() {
            let valid = chunk.valid();
            for (at, _) in valid.match_indices(needle) {
                let start = offset + at;
                let end = start + needle.len();
                let word = |i: Option<&u8>| i.is_some_and(u8::is_ascii_alphanumeric);
                if alone
                    && (word(start.checked_sub(1).and_then(|i| self.bytes.get(i)))
                        || word(self.bytes.get(end)))
                {
                    continue;
                }
                hits.push((self.spans[start].0, self.spans[end - 1].1));
            }
            offset += valid.len() + chunk.invalid().len();
        }
    }
}

enum Decoded {
    Byte(u8),
    Char(char),
}

/// The escape sequence at the start of `b`, decoded, and its length.
fn unescape(b: &[u8]) -> Option<(Decoded, usize)> {
    let hex = |s: &[u8]| -> Option<u32> {
        let s = std::str::from_utf8(s).ok()?;
        (!s.is_empty() && s.bytes().all(|c| c.is_ascii_hexdigit()))
            .then(|| u32::from_str_radix(s, 16).ok())
            .flatten()
    };
    match *b.first()? {
        b'%' => Some((Decoded::Byte(hex(b.get(1..3)?)? as u8), 3)),
        b'\\' => match *b.get(1)? {
            b'u' => {
                let unit = hex(b.get(2..6)?)?;
                if (0xD800..0xDC00).contains(&unit) && b.get(6..8) == Some(&b"\\u"[..]) {
                    let low = hex(b.get(8..12)?)?;
                    if (0xDC00..0xE000).contains(&low) {
                        let c = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
                        return Some((Decoded::Char(char::from_u32(c)?), 12));
                    }
                }
                Some((Decoded::Char(char::from_u32(unit)?), 6))
            }
            b'x' => Some((Decoded::Byte(hex(b.get(2..4)?)? as u8), 4)),
            c @ (b'"' | b'\\' | b'/' | b'\'') => Some((Decoded::Byte(c), 2)),
            b'b' => Some((Decoded::Byte(0x08), 2)),
            b'f' => Some((Decoded::Byte(0x0c), 2)),
            b'n' => Some((Decoded::Byte(b'\n'), 2)),
            b'r' => Some((Decoded::Byte(b'\r'), 2)),
            b't' => Some((Decoded::Byte(b'\t'), 2)),
            _ => None,
        },
        b'&' => {
            let end = b.iter().take(12).position(|&c| c == b';')?;
            let name = &b[1..end];
            let c = match name {
                b"amp" => '&',
                b"quot" => '"',
                b"apos" => '\'',
                b"lt" => '<',
                b"gt" => '>',
                [b'#', b'x' | b'X', digits @ ..] => char::from_u32(hex(digits)?)?,
                [b'#', digits @ ..] => {
                    let s = std::str::from_utf8(digits).ok()?;
                    if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) {
                        return None;
                    }
                    char::from_u32(s.parse().ok()?)?
                }
                _ => return None,
            };
            Some((Decoded::Char(c), end + 1))
        }
        _ => None,
    }
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

    fn scrub(text: &str, needles: &[&str], truncated: bool) -> String {
        Needles::new(needles).scrub(text, truncated)
    }

    #[test]
    fn secrets_are_redacted_as_written_and_as_escaped() {
        let secret = "Ab3/xY9=kQ";
        for quoted in [
            "Ab3/xY9=kQ",
            r"Ab3\/xY9\u003dkQ",
            r"Ab3\u002FxY9\u003DkQ",
            "Ab3%2FxY9%3DkQ",
            "Ab3%252FxY9%253DkQ",
            r"Ab3\\/xY9\\u003dkQ",
            r"Ab3\x2fxY9\x3dkQ",
            "Ab3&#47;xY9&#x3d;kQ",
        ] {
            let out = scrub(&format!("bad value <{quoted}> here"), &[secret], false);
            assert_eq!(out, "bad value <[redacted]> here", "{quoted}");
        }
        let emoji = scrub(r"x \ud83d\ude00pw y", &["\u{1f600}pw"], false);
        assert_eq!(emoji, "x [redacted] y");
        assert_eq!(scrub("nothing", &["Ab3/xY9=kQ"], false), "nothing");
        assert_eq!(
            scrub("é Ab3/xY9=kQ é", &["Ab3/xY9=kQ"], false),
            "é [redacted] é"
        );
    }

    #[test]
    fn overlapping_secrets_make_one_redaction() {
        assert_eq!(
            scrub(
                "<abcdefghijklmn>",
                &["abcdefghij", "efghijklmn", "cdef"],
                false
            ),
            "<[redacted]>"
        );
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        /// One character of a secret as a server may quote it back.
        fn quote(c: char, how: u8) -> String {
            match how % 5 {
                0 => c.to_string(),
                1 => format!("\\u{:04x}", c as u32),
                2 => format!("%{:02X}", c as u32),
                3 if c == '/' => "\\/".to_owned(),
                4 => format!("&#{};", c as u32),
                _ => c.to_string(),
            }
        }

        proptest! {
            /// A secret, quoted back raw or escaped character by character anywhere in an error
            /// body of any size, never shows 8 characters of itself once the body is parsed.
            #[test]
            fn no_part_of_a_quoted_secret_survives(
                secret in "[A-Za-z0-9+/=_.-]{8,40}",
                hows in proptest::collection::vec(any::<u8>(), 40),
                before in 0usize..6000,
                after in 0usize..200,
                cut_while_read in any::<bool>(),
            ) {
                let quoted: String = secret.chars().zip(&hows).map(|(c, h)| quote(c, *h)).collect();
                let mut body = " ".repeat(before);
                body.push_str(&quoted);
                body.push_str(&" ".repeat(after));
                let bytes = body.as_bytes();
                let (bytes, truncated) = if cut_while_read {
                    (&bytes[..before + quoted.len() / 2], true)
                } else {
                    (bytes, false)
                };
                let parsed = redacted_error_body(bytes, truncated, &[secret.as_str()]);
                let shown = format!("{parsed:?} {}", parsed.summary());
                let chars: Vec<char> = secret.chars().collect();
                for part in chars.windows(8) {
                    let part: String = part.iter().collect();
                    prop_assert!(!shown.contains(&part), "{part} in {shown}");
                }
            }
        }
    }

    #[test]
    fn short_marked_values_are_redacted_where_they_stand_alone() {
        assert_eq!(
            scrub(r#"{"token":"abc"} abcdef xabc abc, "abc""#, &["abc"], false),
            r#"{"token":"[redacted]"} abcdef xabc [redacted], "[redacted]""#
        );
        assert_eq!(scrub("k=abc%3D;", &["abc="], false), "k=[redacted];");
    }

    #[test]
    fn a_secret_cut_short_at_the_end_of_a_truncated_body_is_redacted() {
        let secret = "ATATT3xFfGF0-secret-value";
        assert_eq!(
            scrub("error: ATATT3xFf", &[secret], true),
            "error: [redacted]"
        );
        assert_eq!(
            scrub(r"error: ATATT3xFfGF0\u00", &[secret], true),
            "error: [redacted]"
        );
        assert_eq!(
            scrub("error: ATATT3xFf", &[secret], false),
            "error: ATATT3xFf"
        );
    }

    #[test]
    fn error_bodies_are_redacted_before_they_are_cut() {
        let secret = "Qw7/Er5=Ty";
        for quoted in ["Qw7/Er5=Ty", r"Qw7\/Er5\u003dTy"] {
            let mut body = "x".repeat(ErrorBody::TEXT_CAP - 4);
            body.push_str(quoted);
            body.push_str(&"y".repeat(100));
            let ErrorBody::Text(text) = redacted_error_body(body.as_bytes(), false, &[secret])
            else {
                panic!("a text body");
            };
            assert!(text.len() <= ErrorBody::TEXT_CAP);
            assert!(text.ends_with("[red"), "{}", &text[text.len() - 20..]);
        }
        let keyed = redacted_error_body(
            br#"{"key":"bad","message":"token Qw7\/Er5\u003dTy"}"#,
            false,
            &[secret],
        );
        assert_eq!(
            keyed,
            ErrorBody::Keyed {
                key: "bad".into(),
                message: Some("token [redacted]".into())
            }
        );
    }

    #[test]
    fn heuristic_runs_start_at_eight_characters() {
        let runs = credential_like_runs(
            &serde_json::json!({"h": "Bearer Ab3/xY9=kQ", "n": "Authorization"}),
        );
        assert!(runs.contains(&"Ab3/xY9=kQ".to_owned()));
        assert!(!runs.contains(&"Bearer".to_owned()));
    }
}
