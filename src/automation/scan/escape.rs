//! Escaped spellings inside one string: percent-encoding (`%3D`, `%3d`, any byte) and JSON
//! escapes (`\u003d` in any hex case, `\/`, `\"`, `\n`, ...), also behind a run of backslashes
//! (`\\u003d`: JSON text nested in JSON text). A [`View`] decodes every escape and maps each
//! decoded byte back to where its spelling starts; a [`Style`] learns how a stretch was written so
//! that a replacement is written the same way.
//!
//! Escapes may be mixed freely with clear bytes and with each other. Nothing allocates for a
//! string without `%` or `\`.

use zeroize::Zeroizing;

/// How one decoded character was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unit {
    /// As is.
    Raw,
    /// `%XX`; `upper` is the case of its hex letters (`None` for digits only).
    Percent { upper: Option<bool> },
    /// `\uXXXX` behind `backslashes` backslashes.
    JsonU {
        backslashes: usize,
        upper: Option<bool>,
    },
    /// `\/`, `\"`, `\n`, ... behind `backslashes` backslashes.
    JsonShort { backslashes: usize },
}

/// Whether `hay` holds anything [`View`] would decode.
pub(crate) fn has_escapes(hay: &[u8]) -> bool {
    hay.iter().any(|&b| b == b'%' || b == b'\\')
}

fn hex(b: Option<&u8>) -> Option<u8> {
    let b = *b?;
    char::from(b).to_digit(16).map(|d| d as u8)
}

/// The case of the hex letters in `digits`: the first letter decides.
fn case_of(digits: &[u8]) -> Option<bool> {
    digits
        .iter()
        .find(|b| b.is_ascii_alphabetic())
        .map(u8::is_ascii_uppercase)
}

fn hex4(hay: &[u8], at: usize) -> Option<u16> {
    let mut value = 0u16;
    for i in 0..4 {
        value = (value << 4) | u16::from(hex(hay.get(at + i))?);
    }
    Some(value)
}

fn backslashes(hay: &[u8], at: usize) -> usize {
    hay.get(at..)
        .map_or(0, |rest| rest.iter().take_while(|&&b| b == b'\\').count())
}

/// When the character at `at` is a backslash that starts no escape (`unit` read it as
/// [`Unit::Raw`]), the length of the run of backslashes it starts: each of them is followed by
/// the same bytes, so none starts an escape either. Taking the run whole keeps a long run linear
/// (counting it again at each of its backslashes was quadratic).
fn raw_backslashes(hay: &[u8], at: usize, kind: Unit) -> Option<usize> {
    (kind == Unit::Raw && hay[at] == b'\\').then(|| backslashes(hay, at))
}

/// One decoded character at `at`: how many bytes of `hay` it takes, its UTF-8 bytes (up to four)
/// and how it was written. `at` must be inside `hay`.
pub(crate) fn unit(hay: &[u8], at: usize) -> (usize, [u8; 4], usize, Unit) {
    let b = hay[at];
    if b == b'%' {
        if let (Some(high), Some(low)) = (hex(hay.get(at + 1)), hex(hay.get(at + 2))) {
            let upper = case_of(&hay[at + 1..at + 3]);
            return (3, [high << 4 | low, 0, 0, 0], 1, Unit::Percent { upper });
        }
    } else if b == b'\\' {
        let run = backslashes(hay, at);
        let after = at + run;
        match hay.get(after) {
            Some(b'u') => {
                if let Some(decoded) = json_u(hay, at, run) {
                    return decoded;
                }
            }
            Some(&c) => {
                let decoded = match c {
                    b'/' | b'"' => Some(c),
                    b'b' => Some(0x08),
                    b'f' => Some(0x0c),
                    b'n' => Some(b'\n'),
                    b'r' => Some(b'\r'),
                    b't' => Some(b'\t'),
                    _ => None,
                };
                if let Some(d) = decoded {
                    return (
                        run + 1,
                        [d, 0, 0, 0],
                        1,
                        Unit::JsonShort { backslashes: run },
                    );
                }
            }
            None => {}
        }
    }
    (1, [b, 0, 0, 0], 1, Unit::Raw)
}

/// `\uXXXX` (a surrogate pair as two escapes) behind `run` backslashes at `at`.
fn json_u(hay: &[u8], at: usize, run: usize) -> Option<(usize, [u8; 4], usize, Unit)> {
    let digits_at = at + run + 1;
    let first = hex4(hay, digits_at)?;
    let upper = case_of(&hay[digits_at..digits_at + 4]);
    let mut len = run + 5;
    let code = match first {
        0xD800..=0xDBFF => {
            let next = at + len;
            let run2 = backslashes(hay, next);
            if run2 == 0 || hay.get(next + run2) != Some(&b'u') {
                return None;
            }
            let low = hex4(hay, next + run2 + 1)?;
            if !(0xDC00..=0xDFFF).contains(&low) {
                return None;
            }
            len += run2 + 5;
            0x10000 + ((u32::from(first) - 0xD800) << 10) + (u32::from(low) - 0xDC00)
        }
        0xDC00..=0xDFFF => return None,
        _ => u32::from(first),
    };
    let c = char::from_u32(code)?;
    let mut bytes = [0u8; 4];
    let n = c.encode_utf8(&mut bytes).len();
    Some((
        len,
        bytes,
        n,
        Unit::JsonU {
            backslashes: run,
            upper,
        },
    ))
}

/// A string with every escape decoded, mapped back to the original.
pub(crate) struct View<'a> {
    raw: &'a [u8],
    /// Decoded bytes and, for each, where its spelling starts in `raw` (plus `raw.len()` last);
    /// `None` when `raw` holds no escape and the view is `raw` itself.
    decoded: Option<(Zeroizing<Vec<u8>>, Vec<usize>)>,
}

impl<'a> View<'a> {
    pub(crate) fn new(raw: &'a [u8]) -> Self {
        if !has_escapes(raw) {
            return Self { raw, decoded: None };
        }
        let mut bytes = Zeroizing::new(Vec::with_capacity(raw.len()));
        let mut starts = Vec::with_capacity(raw.len() + 1);
        let mut at = 0;
        while at < raw.len() {
            let (len, decoded, n, kind) = unit(raw, at);
            if let Some(run) = raw_backslashes(raw, at, kind) {
                bytes.extend(std::iter::repeat_n(b'\\', run));
                starts.extend(at..at + run);
                at += run;
                continue;
            }
            bytes.extend_from_slice(&decoded[..n]);
            starts.extend(std::iter::repeat_n(at, n));
            at += len;
        }
        starts.push(raw.len());
        Self {
            raw,
            decoded: Some((bytes, starts)),
        }
    }

    /// Whether the view is the string itself (nothing was decoded).
    pub(crate) fn is_identity(&self) -> bool {
        self.decoded.is_none()
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        match &self.decoded {
            Some((bytes, _)) => bytes,
            None => self.raw,
        }
    }

    /// Where decoded byte `i` (or the end, for `i == len`) starts in the original.
    pub(crate) fn orig(&self, i: usize) -> usize {
        match &self.decoded {
            Some((_, starts)) => starts[i],
            None => i,
        }
    }
}

/// How a stretch of text was written, byte value by byte value, to write another the same way.
pub(crate) struct Style {
    /// The first spelling seen for each ASCII byte.
    seen: [Option<Unit>; 128],
    /// The hex case of percent escapes, when there were any.
    percent: Option<bool>,
    /// The backslashes and hex case of JSON escapes, when there were any.
    json: Option<(usize, bool)>,
}

impl Style {
    /// Everything as is.
    pub(crate) fn raw() -> Self {
        Self {
            seen: [None; 128],
            percent: None,
            json: None,
        }
    }

    /// The style of `original`.
    pub(crate) fn learn(original: &[u8]) -> Self {
        let mut style = Self::raw();
        let (mut percent_case, mut json_case) = (None, None);
        let mut at = 0;
        while at < original.len() {
            let (len, decoded, n, unit) = unit(original, at);
            if let Some(run) = raw_backslashes(original, at, unit) {
                style.seen[usize::from(b'\\')].get_or_insert(Unit::Raw);
                at += run;
                continue;
            }
            at += len;
            if n == 1 && decoded[0] < 128 {
                let slot = &mut style.seen[usize::from(decoded[0])];
                slot.get_or_insert(unit);
            }
            match unit {
                Unit::Raw => {}
                Unit::Percent { upper } => {
                    style.percent.get_or_insert(true);
                    percent_case = percent_case.or(upper);
                }
                Unit::JsonU { backslashes, upper } => {
                    style.json.get_or_insert((backslashes, false));
                    json_case = json_case.or(upper);
                }
                Unit::JsonShort { backslashes } => {
                    style.json.get_or_insert((backslashes, false));
                }
            }
        }
        if let (Some(upper), Some(case)) = (style.percent.as_mut(), percent_case) {
            *upper = case;
        }
        if let (Some((_, upper)), Some(case)) = (style.json.as_mut(), json_case) {
            *upper = case;
        }
        style
    }

    /// `text` written in this style: each byte as the same byte was written in the learnt text;
    /// a byte it did not hold is percent-encoded when escapes were percent and it is not
    /// unreserved, `\u`-escaped when escapes were JSON and JSON needs it, else as is.
    pub(crate) fn spell(&self, text: &[u8]) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::with_capacity(text.len() + 8));
        for &b in text {
            let learnt = self.seen.get(usize::from(b)).copied().flatten();
            let unit = learnt.unwrap_or_else(|| self.default_unit(b));
            self.write(&mut out, b, unit);
        }
        out
    }

    fn default_unit(&self, b: u8) -> Unit {
        if self.percent.is_some() && !is_unreserved(b) {
            return Unit::Percent { upper: None };
        }
        if let Some((backslashes, _)) = self.json {
            if b == b'"' || b == b'\\' || b < 0x20 {
                return Unit::JsonU {
                    backslashes,
                    upper: None,
                };
            }
        }
        Unit::Raw
    }

    fn write(&self, out: &mut Vec<u8>, b: u8, unit: Unit) {
        const UPPER: &[u8; 16] = b"0123456789ABCDEF";
        const LOWER: &[u8; 16] = b"0123456789abcdef";
        let digits = |upper: bool| if upper { UPPER } else { LOWER };
        match unit {
            Unit::Raw => out.push(b),
            Unit::Percent { upper } => {
                let d = digits(upper.or(self.percent).unwrap_or(true));
                out.extend_from_slice(&[b'%', d[usize::from(b >> 4)], d[usize::from(b & 0xf)]]);
            }
            Unit::JsonU { backslashes, upper } => {
                let d = digits(upper.or(self.json.map(|(_, u)| u)).unwrap_or(false));
                out.extend(std::iter::repeat_n(b'\\', backslashes.max(1)));
                out.extend_from_slice(&[
                    b'u',
                    b'0',
                    b'0',
                    d[usize::from(b >> 4)],
                    d[usize::from(b & 0xf)],
                ]);
            }
            Unit::JsonShort { backslashes } => {
                let letter = match b {
                    0x08 => b'b',
                    0x0c => b'f',
                    b'\n' => b'n',
                    b'\r' => b'r',
                    b'\t' => b't',
                    other => other,
                };
                out.extend(std::iter::repeat_n(b'\\', backslashes.max(1)));
                out.push(letter);
            }
        }
    }
}

/// RFC 3986's unreserved bytes, which percent-encoding leaves as they are.
pub(crate) fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decoded(text: &str) -> Vec<u8> {
        View::new(text.as_bytes()).bytes().to_vec()
    }

    #[test]
    fn every_escape_decodes_and_maps_back() {
        assert_eq!(decoded("a%3Db%3dc"), b"a=b=c");
        assert_eq!(decoded(r"a\u003Db\u003dc\/d"), b"a=b=c/d");
        assert_eq!(decoded(r"a\\u003db\\\/c"), b"a=b/c");
        assert_eq!(decoded(r#"\"x\n"#), b"\"x\n");
        assert_eq!(decoded(r"\ud83d\ude00"), "😀".as_bytes());
        assert_eq!(decoded(r"\u00e9"), "é".as_bytes());
        // Not escapes: kept as they are.
        for text in [
            r"100%", "%4", "%zz", r"\", r"\x", r"\u12", r"\udc00", r"\ud800x",
        ] {
            assert_eq!(decoded(text), text.as_bytes(), "{text}");
        }
        let view = View::new(b"ab%3Dc");
        assert!(!view.is_identity());
        assert_eq!((view.orig(2), view.orig(3), view.orig(4)), (2, 5, 6));
        assert!(View::new(b"plain").is_identity());
    }

    #[test]
    fn a_run_of_backslashes_that_starts_no_escape_is_taken_whole() {
        assert_eq!(decoded(r"\\\x"), br"\\\x");
        assert_eq!(decoded(r"a\\\\"), br"a\\\\");
        // Behind the run, an escape still decodes: the run is its backslashes.
        assert_eq!(decoded(r"\\\n\\x"), b"\n\\\\x");
        let view = View::new(br"\\\x=");
        assert_eq!((view.orig(3), view.orig(4)), (3, 4));
        let style = Style::learn(br"\\\x\u003d");
        assert_eq!(&*style.spell(b"=\\"), br"\u003d\");
    }

    #[test]
    fn a_style_spells_new_text_like_the_old() {
        let style = Style::learn(b"ab%3dc%2B");
        assert_eq!(&*style.spell(b"x=y+z/"), b"x%3dy%2Bz%2f");
        let style = Style::learn(br"ab\u003Dc\/");
        assert_eq!(&*style.spell(b"=/\"q"), br#"\u003D\/\u0022q"#);
        let style = Style::learn(br"a\\u003db");
        assert_eq!(&*style.spell(b"b=a"), br"b\\u003da");
        assert_eq!(&*Style::raw().spell(b"a=b"), b"a=b");
        // Only some bytes encoded: the same bytes stay encoded, the others stay clear.
        let style = Style::learn(b"a=b%2Bc");
        assert_eq!(&*style.spell(b"+=a"), b"%2B=a");
    }
}
