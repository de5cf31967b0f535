//! Replacing the token in one string, each occurrence in the form it was found in.

use zeroize::Zeroizing;

use super::super::forms::is_token_byte;
use super::escape::{Style, View};
use super::{Alphabet, Needles, Span, SpanKind};

impl Needles {
    /// `hay` with every form of the token replaced by `new`, each in the same form: escaped
    /// bytes escaped the same way, base64 runs decoded, replaced and encoded again with the same
    /// alphabet and padding. `None` when the token is not there, or is still there after a few
    /// passes (base64 runs glued together so that two readings overlap need a pass each).
    pub(crate) fn replace(&self, hay: &[u8], new: &[u8], depth: u8) -> Option<Replaced> {
        let mut replaced = self.replace_once(hay, new, depth)?;
        for _ in 0..3 {
            match self.replace_once(&replaced.text, new, depth) {
                Some(again) => replaced.text = again.text,
                None => return Some(replaced),
            }
        }
        None
    }

    fn replace_once(&self, hay: &[u8], new: &[u8], depth: u8) -> Option<Replaced> {
        let mut spans = Vec::new();
        self.collect(hay, true, depth, false, &mut spans);
        if spans.is_empty() {
            return None;
        }
        let mut out = Zeroizing::new(Vec::with_capacity(hay.len() + 16));
        let mut copied = 0;
        for span in &spans {
            out.extend_from_slice(&hay[copied..span.range.start]);
            let original = &hay[span.range.clone()];
            match span.kind {
                SpanKind::Raw => out.extend_from_slice(new),
                SpanKind::Escaped => out.extend_from_slice(&Style::learn(original).spell(new)),
                // A run that cannot be rewritten stays as it was: the caller sees the token
                // still there.
                SpanKind::Base64Wrapped => out.extend_from_slice(original),
                SpanKind::Base64(alphabet) => {
                    let basic = after_basic(&hay[..span.range.start]);
                    // A run that ended at its padding, right before more base64 characters
                    // (`<base64>==bearer`), keeps that boundary only while the new run is
                    // padded too: glued to what follows it would read differently. Such a
                    // run is left as it was (the caller sees the token still there).
                    let next_is_base64 = hay
                        .get(span.range.end)
                        .is_some_and(|&b| alphabet.contains(b));
                    let ended_padded = View::new(original).bytes().ends_with(b"=");
                    match self.replace_base64(original, new, depth, alphabet, basic) {
                        Some(run)
                            if !(next_is_base64
                                && ended_padded
                                && !View::new(&run).bytes().ends_with(b"=")) =>
                        {
                            out.extend_from_slice(&run)
                        }
                        _ => out.extend_from_slice(original),
                    }
                }
            }
            copied = span.range.end;
        }
        out.extend_from_slice(&hay[copied..]);
        Some(Replaced { text: out, spans })
    }

    /// One base64 run (as written, maybe escaped) with the token replaced inside.
    ///
    /// Padding is written where the original had some; a run of whole groups without it is
    /// padded when it is surely standard base64 (it holds `+` or `/`, or is a `Basic` value:
    /// `basic`), and left unpadded otherwise (URL-safe, or either: no padding unless present).
    ///
    /// A standard-alphabet run can swallow a URL path after it (`/` is a base64 character):
    /// `<base64 of email:token>/run`. When a `/` follows the token's characters, the run up to
    /// it is re-encoded and the rest copied unchanged, unless the whole run also reads as a
    /// base64 stream of text (padded or whole groups, text throughout), which re-encoding only a
    /// part would break: then the whole run is re-encoded. Both agree when the `/` starts a
    /// group and the new text before it is whole groups.
    fn replace_base64(
        &self,
        original: &[u8],
        new: &[u8],
        depth: u8,
        alphabet: Alphabet,
        basic: bool,
    ) -> Option<Zeroizing<Vec<u8>>> {
        let view = View::new(original);
        let decoded = view.bytes();
        let body_len = decoded
            .iter()
            .take_while(|&&b| alphabet.contains(b))
            .count();
        let body = &decoded[..body_len];
        let standard = alphabet == Alphabet::Standard
            && (basic || body.iter().any(|&b| b == b'+' || b == b'/'));
        let padded = body_len < decoded.len() || (body_len % 4 == 0 && standard);
        let plain = alphabet.decode(body)?;
        let style = Style::learn(original);
        if let Some(slash) = self.slash_after_token(body, &plain, depth, alphabet) {
            let prefix = self.replace(&plain[..slash * 3 / 4], new, depth + 1)?;
            let agree = slash % 4 == 0 && prefix.text.len() % 3 == 0;
            let stream = (padded || body_len % 4 == 0) && is_text(&plain);
            if agree || !stream {
                let mut out = style.spell(&alphabet.encode(&prefix.text, false));
                out.extend_from_slice(&original[view.orig(slash)..]);
                return Some(out);
            }
        }
        let replaced = self.replace(&plain, new, depth + 1)?;
        Some(style.spell(&alphabet.encode(&replaced.text, padded)))
    }

    /// In a standard-alphabet run, the first `/` after the characters that encode the token's
    /// last occurrence, where the characters before it can be a whole unpadded encoding.
    fn slash_after_token(
        &self,
        body: &[u8],
        plain: &[u8],
        depth: u8,
        alphabet: Alphabet,
    ) -> Option<usize> {
        if alphabet != Alphabet::Standard {
            return None;
        }
        let mut spans = Vec::new();
        self.collect(plain, true, depth + 1, false, &mut spans);
        let end = spans.last()?.range.end;
        let chars = (end * 4).div_ceil(3);
        let slash = chars + body.get(chars..)?.iter().position(|&b| b == b'/')?;
        (slash % 4 != 1).then_some(slash)
    }
}

/// A string with the token replaced, and where it was.
pub(crate) struct Replaced {
    pub(crate) text: Zeroizing<Vec<u8>>,
    pub(crate) spans: Vec<Span>,
}

/// Whether `before` ends with a `Basic` scheme and its spacing: the run after it is a `Basic`
/// credential, standard base64.
fn after_basic(before: &[u8]) -> bool {
    let scheme = before.trim_ascii_end();
    scheme.len() < before.len()
        && scheme.len() >= 5
        && scheme[scheme.len() - 5..].eq_ignore_ascii_case(b"basic")
        && (scheme.len() == 5 || !is_token_byte(scheme[scheme.len() - 6]))
}

/// Whether `bytes` read as text: UTF-8 without control characters other than tab, CR and LF.
pub(super) fn is_text(bytes: &[u8]) -> bool {
    std::str::from_utf8(bytes).is_ok_and(|text| {
        text.chars()
            .all(|c| !c.is_control() || matches!(c, '\t' | '\r' | '\n'))
    })
}
