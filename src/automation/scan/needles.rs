//! Finding one token in a string in every form it can be written in:
//!
//! - clear: as is, or with any of its bytes percent-encoded or JSON-escaped (see
//!   [`escape`](super::escape)), found as a whole word: next to `[A-Za-z0-9_-]` (after decoding)
//!   it is part of a longer token;
//! - base64 of any text holding the token as a whole word (`base64(email:token)`,
//!   `base64(token)`, a base64'd JSON body...), standard or URL-safe alphabet, padded or not,
//!   itself possibly escaped; the text may hold the token escaped (found through the interiors
//!   of the token's longest stretch no escape touches). Base64 of base64 of it is not found;
//! - base64 broken by whitespace between groups (see [`wrapped`](super::wrapped)): reported,
//!   not rewritten.
//!
//! The token's bytes starting at each of the three positions a base64 group can start at encode
//! to a fixed run of characters (its "interior"): finding an interior, then decoding the base64
//! run around it, confirms an occurrence. A string shorter than the shortest needle is skipped
//! without reading it.

use std::ops::Range;

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use zeroize::Zeroizing;

use super::escape::{self, View};
use super::forms::is_token_byte;

/// Base64 is searched at the top level only: the decoded text of a run is searched for the clear
/// forms (an interior of the token cannot show through two layers of base64).
const MAX_DEPTH: u8 = 1;

/// A base64 alphabet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Alphabet {
    /// `A-Za-z0-9+/`.
    Standard,
    /// `A-Za-z0-9-_`.
    UrlSafe,
}

impl Alphabet {
    const BOTH: [Alphabet; 2] = [Alphabet::Standard, Alphabet::UrlSafe];

    pub(crate) fn contains(self, b: u8) -> bool {
        b.is_ascii_alphanumeric()
            || match self {
                Self::Standard => b == b'+' || b == b'/',
                Self::UrlSafe => b == b'-' || b == b'_',
            }
    }

    fn engine(self, pad: bool) -> GeneralPurpose {
        let config = GeneralPurposeConfig::new()
            .with_encode_padding(pad)
            .with_decode_padding_mode(DecodePaddingMode::Indifferent)
            .with_decode_allow_trailing_bits(true);
        match self {
            Self::Standard => GeneralPurpose::new(&alphabet::STANDARD, config),
            Self::UrlSafe => GeneralPurpose::new(&alphabet::URL_SAFE, config),
        }
    }

    pub(crate) fn decode(self, text: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        self.engine(false).decode(text).ok().map(Zeroizing::new)
    }

    pub(crate) fn encode(self, bytes: &[u8], pad: bool) -> Zeroizing<Vec<u8>> {
        Zeroizing::new(self.engine(pad).encode(bytes).into_bytes())
    }
}

/// What kind of occurrence a [`Span`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SpanKind {
    /// The token as is, byte for byte.
    Raw,
    /// The token with some bytes percent-encoded or JSON-escaped.
    Escaped,
    /// A base64 run (from a group boundary, with its padding) whose decoding holds the token.
    Base64(Alphabet),
    /// A base64 run broken by whitespace between groups (a line-wrapped run) whose decoding,
    /// without the whitespace, holds the token. Reported, never rewritten.
    Base64Wrapped,
}

impl SpanKind {
    /// Whether the token is inside base64 (wrapped or not).
    pub(crate) fn is_base64(self) -> bool {
        matches!(self, Self::Base64(_) | Self::Base64Wrapped)
    }

    /// Whether a rewrite can replace it.
    pub(crate) fn is_rewritable(self) -> bool {
        !matches!(self, Self::Base64Wrapped)
    }
}

/// One occurrence of the token in a string: its byte range in the string and its kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Span {
    pub(crate) range: Range<usize>,
    pub(crate) kind: SpanKind,
}

/// The base64 runs that would encode the token, by where it starts in a group.
struct Interior {
    text: Zeroizing<Vec<u8>>,
    /// The alphabets it is spelled the same in.
    alphabets: Vec<Alphabet>,
}

/// The spellings of one token to look for. Holds secret material: never printed, zeroized on drop.
pub(crate) struct Needles {
    token: Zeroizing<String>,
    interiors: Vec<Interior>,
    /// The token is too short for every alignment to have an interior: every base64 run is
    /// decoded instead.
    tiny: bool,
    /// No string shorter than this can hold any form of the token.
    min_len: usize,
    /// For each byte, which needles (bit 0: the token, bit i: interior i - 1) start with it.
    first: [u16; 256],
}

impl Needles {
    /// The needles for `token`. An empty token has no needles and matches nothing.
    pub(crate) fn new(token: &str) -> Self {
        let bytes = token.as_bytes();
        let mut interiors: Vec<Interior> = Vec::new();
        let tiny = !add_interiors(bytes, &mut interiors) && !bytes.is_empty();
        let shortest_interior = interiors.iter().map(|i| i.text.len()).min();
        // Base64 of a text holding the token escaped (`%3D`, `\u003d`: a form body, a query
        // string or JSON, base64'd whole) holds none of the token's interiors, but those of its
        // longest stretch that no escape touches.
        let clean = longest_clean_stretch(bytes);
        if clean.len() >= MIN_CLEAN && clean.len() < bytes.len() {
            add_interiors(clean, &mut interiors);
        }
        let mut first = [0u16; 256];
        if let Some(&b) = bytes.first() {
            first[usize::from(b)] |= 1;
        }
        for (i, interior) in interiors.iter().enumerate() {
            first[usize::from(interior.text[0])] |= 2 << i;
        }
        let min_len = match (tiny, shortest_interior) {
            (true, _) => bytes.len().min(2),
            (false, Some(n)) => bytes.len().min(n),
            (false, None) => bytes.len(),
        };
        Self {
            token: Zeroizing::new(token.to_owned()),
            interiors,
            tiny,
            min_len,
            first,
        }
    }

    /// What a byte prefilter must look for (see [`bytes`](super::bytes)): the token and the
    /// interiors of its base64 forms; `None` when base64 is searched without interiors (a
    /// tiny token), so that no needle is necessary for a match. An empty token matches
    /// nothing: `Some` with no needles at all.
    pub(crate) fn prefilter_needles(&self) -> Option<(&[u8], Vec<&[u8]>)> {
        if self.token.is_empty() {
            return Some((&[], Vec::new()));
        }
        (!self.tiny).then(|| {
            let interiors = self.interiors.iter().map(|i| i.text.as_slice()).collect();
            (self.token.as_bytes(), interiors)
        })
    }

    /// Whether a string of `len` bytes is long enough to hold any form of the token: the cheap
    /// test that skips most of a rule's strings.
    #[inline]
    pub(crate) fn could_hold(&self, len: usize) -> bool {
        len >= self.min_len && !self.token.is_empty()
    }

    /// Every occurrence of the token in `hay` in any form, as a whole word, in order and not
    /// overlapping.
    pub(crate) fn spans(&self, hay: &str) -> Vec<Span> {
        let mut spans = Vec::new();
        self.collect(hay.as_bytes(), true, 0, false, &mut spans);
        spans
    }

    /// Whether `hay` holds the token, as a whole word, in any form.
    pub(crate) fn is_in(&self, hay: &str) -> bool {
        self.holds(hay.as_bytes(), true, 0)
    }

    /// `text` with every form of the token replaced by `[redacted]`, even inside a longer run:
    /// for the names a finding carries, which must never show the token.
    pub(crate) fn redact(&self, text: String) -> String {
        let mut spans = Vec::new();
        self.collect(text.as_bytes(), false, 0, false, &mut spans);
        if spans.is_empty() {
            return text;
        }
        let mut out = String::with_capacity(text.len());
        let mut copied = 0;
        for span in &spans {
            // Spans of a UTF-8 string start and end on character boundaries, except where a
            // base64 or escaped run meets multi-byte text: widen to the boundaries then.
            let start = floor_boundary(&text, span.range.start).max(copied);
            out.push_str(&text[copied..start]);
            out.push_str(crate::secret::REDACTED);
            copied = ceil_boundary(&text, span.range.end);
        }
        out.push_str(&text[copied.min(text.len())..]);
        out
    }

    fn holds(&self, hay: &[u8], bounded: bool, depth: u8) -> bool {
        let mut spans = Vec::new();
        self.collect(hay, bounded, depth, true, &mut spans);
        !spans.is_empty()
    }

    /// Pushes the occurrences in `hay` (only the first when `first_only`), sorted, without
    /// overlaps (the earlier, then the longer, wins).
    fn collect(
        &self,
        hay: &[u8],
        bounded: bool,
        depth: u8,
        first_only: bool,
        spans: &mut Vec<Span>,
    ) {
        if self.token.is_empty() || hay.len() < self.min_len {
            return;
        }
        let token = self.token.as_bytes();
        let view = View::new(hay);
        let decoded = view.bytes();
        let search_base64 = depth < MAX_DEPTH;
        let (mut raw_hits, mut escaped_hits, mut interior_hits) =
            (Vec::new(), Vec::new(), Vec::new());
        // With escapes in the string, the token and the base64 interiors are looked for in the
        // decoded view, where a neighbour counts as decoded (`%58` is `X`, a longer token).
        // The token as written is looked for in the string itself only when the view is the
        // string, or when the token holds `%` or `\` of its own, which the view would decode.
        let interiors: u16 = if search_base64 { !1 } else { 0 };
        let raw_needles = match (view.is_identity(), escape::has_escapes(token)) {
            (true, _) => 1 | interiors,
            (false, true) => 1,
            (false, false) => 0,
        };
        self.hits(hay, raw_needles, |needle, at| {
            if needle > 0 {
                interior_hits.push((needle - 1, at));
            } else if !bounded || is_bounded(hay, at, token.len()) {
                raw_hits.push(at);
            }
        });
        if !view.is_identity() {
            self.hits(decoded, 1 | interiors, |needle, at| {
                if needle > 0 {
                    interior_hits.push((needle - 1, at));
                } else if !bounded || is_bounded(decoded, at, token.len()) {
                    escaped_hits.push(at);
                }
            });
        }
        let clear = raw_hits
            .into_iter()
            .map(|at| Span {
                range: at..at + token.len(),
                kind: SpanKind::Raw,
            })
            .chain(escaped_hits.into_iter().map(|at| Span {
                range: view.orig(at)..view.orig(at + token.len()),
                kind: SpanKind::Escaped,
            }));
        for span in clear {
            spans.push(span);
            if first_only {
                return;
            }
        }
        if search_base64 {
            // Standard runs that do not read as a text stream, which a URL-safe run inside
            // them gives way to (below).
            let mut not_text = Vec::new();
            for (run, alphabet) in self.runs(decoded, interior_hits) {
                let Some((body, end)) = run_body(decoded, run.clone()) else {
                    continue;
                };
                let Some(plain) = alphabet.decode(&decoded[body.clone()]) else {
                    continue;
                };
                if self.holds(&plain, bounded, depth + 1) {
                    let range = view.orig(run.start)..view.orig(end);
                    let whole = end > body.end || body.len() % 4 == 0;
                    if alphabet == Alphabet::Standard && !(whole && replace::is_text(&plain)) {
                        not_text.push(range.clone());
                    }
                    spans.push(Span {
                        range,
                        kind: SpanKind::Base64(alphabet),
                    });
                    if first_only {
                        return;
                    }
                }
            }
            prefer_url_safe(spans, &not_text);
            if self.wrapped(&view, bounded, depth, first_only, spans) && first_only {
                return;
            }
        }
        spans.sort_by_key(|s| (s.range.start, std::cmp::Reverse(s.range.end)));
        let mut end = 0;
        spans.retain(|s| {
            let keep = s.range.start >= end;
            if keep {
                end = s.range.end;
            }
            keep
        });
    }

    /// The base64 runs of `hay` to decode: around each interior hit (`(interior, at)`, in order
    /// of `at`), and every run when the token is tiny; each once. Linear in `hay` for any number
    /// of hits.
    fn runs(
        &self,
        hay: &[u8],
        interior_hits: Vec<(usize, usize)>,
    ) -> Vec<(Range<usize>, Alphabet)> {
        let mut runs: Vec<(Range<usize>, Alphabet)> = Vec::new();
        // The maximal run last found, per alphabet: hits inside it do not walk it again.
        let mut last: [Range<usize>; 2] = [0..0, 0..0];
        for (index, at) in interior_hits {
            let interior = &self.interiors[index];
            let hit = at..at + interior.text.len();
            for &alphabet in &interior.alphabets {
                let slot = &mut last[alphabet as usize];
                if !(slot.start <= hit.start && hit.end <= slot.end) {
                    *slot = maximal_run(hay, hit.clone(), alphabet);
                }
                let start = slot.start + (hit.start - slot.start) % 4;
                runs.push((start..slot.end, alphabet));
            }
        }
        if self.tiny {
            every_run(hay, &mut runs);
        }
        runs.sort_unstable_by_key(|(run, alphabet)| (run.start, run.end, *alphabet));
        runs.dedup();
        runs
    }

    /// Pushes (once) each base64 run of the decoded `view` that is broken by whitespace between
    /// groups and whose whitespace-free text holds the token, unless it overlaps an occurrence
    /// already found. Returns whether it pushed one.
    fn wrapped(
        &self,
        view: &View<'_>,
        bounded: bool,
        depth: u8,
        first_only: bool,
        spans: &mut Vec<Span>,
    ) -> bool {
        let decoded = view.bytes();
        // The prefilter: too short for an interior and a break, or no whitespace at all.
        if decoded.len() <= self.min_len {
            return false;
        }
        let Some((squeezed, map)) = super::wrapped::squeeze(decoded) else {
            return false;
        };
        let mut interior_hits = Vec::new();
        self.hits(&squeezed, !1, |needle, at| {
            interior_hits.push((needle - 1, at))
        });
        let mut found = false;
        for (run, alphabet) in self.runs(&squeezed, interior_hits) {
            let Some((body, end)) = run_body(&squeezed, run.clone()) else {
                continue;
            };
            let (start, stop) = (map[run.start], map[end - 1] + 1);
            if stop - start == end - run.start {
                continue; // no break inside: an ordinary run, already searched
            }
            let range = view.orig(start)..view.orig(stop);
            let overlaps = spans
                .iter()
                .any(|s| s.range.start < range.end && range.start < s.range.end);
            if overlaps {
                continue;
            }
            let Some(plain) = alphabet.decode(&squeezed[body]) else {
                continue;
            };
            if self.holds(&plain, bounded, depth + 1) {
                spans.push(Span {
                    range,
                    kind: SpanKind::Base64Wrapped,
                });
                found = true;
                if first_only {
                    return true;
                }
            }
        }
        found
    }

    /// Calls `f(needle, at)` for every position of `hay` where a needle of `which` (a bit set:
    /// bit 0 the token, bit i interior i - 1) starts.
    fn hits(&self, hay: &[u8], which: u16, mut f: impl FnMut(usize, usize)) {
        if which == 0 {
            return;
        }
        for (at, &b) in hay.iter().enumerate() {
            let mut candidates = self.first[usize::from(b)] & which;
            while candidates != 0 {
                let needle = candidates.trailing_zeros() as usize;
                candidates &= candidates - 1;
                let text: &[u8] = if needle == 0 {
                    self.token.as_bytes()
                } else {
                    &self.interiors[needle - 1].text
                };
                // The second byte first: most candidates fail there, without a slice compare.
                if hay.get(at + 1) == text.get(1) && hay.get(at..at + text.len()) == Some(text) {
                    f(needle, at);
                }
            }
        }
    }
}

/// The shortest stretch of the token that gets interiors of its own (see [`Needles::new`]):
/// shorter ones would match too often to be worth decoding around.
const MIN_CLEAN: usize = 12;

/// Adds the interiors of `text` (base64 of it from each of the three positions a group can
/// start at, in both alphabets). Returns whether every position had one.
fn add_interiors(text: &[u8], interiors: &mut Vec<Interior>) -> bool {
    let mut every = true;
    for skip in 0..3 {
        let rest = text.get(skip..).unwrap_or_default();
        let whole = rest.len() / 3 * 3;
        if whole == 0 {
            every = false;
            continue;
        }
        for alphabet in Alphabet::BOTH {
            let text = alphabet.encode(&rest[..whole], false);
            match interiors.iter_mut().find(|i| i.text == text) {
                Some(same) => {
                    if !same.alphabets.contains(&alphabet) {
                        same.alphabets.push(alphabet);
                    }
                }
                None => interiors.push(Interior {
                    text,
                    alphabets: vec![alphabet],
                }),
            }
        }
    }
    every
}

/// The token's longest stretch of `[A-Za-z0-9_-]`, which percent-encoding and JSON leave as it
/// is.
fn longest_clean_stretch(token: &[u8]) -> &[u8] {
    token
        .split(|&b| !is_token_byte(b))
        .max_by_key(|stretch| stretch.len())
        .unwrap_or_default()
}

/// Drops the standard-alphabet runs of `not_text` that hold a URL-safe run that also holds the
/// token. `/` is a base64 character only in the standard alphabet, so a standard run can take
/// in the URL path around a URL-safe run (`/a/<base64>/run`); a standard run is kept when it
/// reads as a base64 stream of text (whole groups or padded, text throughout), where what the
/// URL-safe reading left out is part of the text.
fn prefer_url_safe(spans: &mut Vec<Span>, not_text: &[Range<usize>]) {
    if not_text.is_empty() {
        return;
    }
    let not_text: std::collections::HashSet<&Range<usize>> = not_text.iter().collect();
    // URL-safe runs are disjoint or share their end: the first to start inside a standard run
    // ends first.
    let mut url_safe: Vec<Range<usize>> = spans
        .iter()
        .filter(|s| s.kind == SpanKind::Base64(Alphabet::UrlSafe))
        .map(|s| s.range.clone())
        .collect();
    url_safe.sort_unstable_by_key(|u| (u.start, u.end));
    spans.retain(|s| {
        let holds_url_safe = || {
            let first = url_safe.partition_point(|u| u.start < s.range.start);
            url_safe.get(first).is_some_and(|u| u.end <= s.range.end)
        };
        !(s.kind == SpanKind::Base64(Alphabet::Standard)
            && not_text.contains(&s.range)
            && holds_url_safe())
    });
}

/// Whether the `len` bytes at `at` are a whole word: no token byte on either side.
fn is_bounded(hay: &[u8], at: usize, len: usize) -> bool {
    let end = at + len;
    let clear_before = at == 0 || !is_token_byte(hay[at - 1]);
    let clear_after = end >= hay.len() || !is_token_byte(hay[end]);
    clear_before && clear_after
}

/// The maximal base64 run around `hit`.
fn maximal_run(hay: &[u8], hit: Range<usize>, alphabet: Alphabet) -> Range<usize> {
    let mut start = hit.start;
    while start > 0 && alphabet.contains(hay[start - 1]) {
        start -= 1;
    }
    let mut end = hit.end;
    while end < hay.len() && alphabet.contains(hay[end]) {
        end += 1;
    }
    start..end
}

/// Every maximal base64 run of `hay` of two characters or more, from each of its first four
/// positions, in both alphabets: for a token too short to have interiors. The caller removes
/// duplicates.
fn every_run(hay: &[u8], runs: &mut Vec<(Range<usize>, Alphabet)>) {
    for alphabet in Alphabet::BOTH {
        let mut at = 0;
        while at < hay.len() {
            let len = hay[at..]
                .iter()
                .take_while(|&&b| alphabet.contains(b))
                .count();
            if len >= 2 {
                for offset in 0..len.min(4) {
                    runs.push((at + offset..at + len, alphabet));
                }
            }
            at += len.max(1);
        }
    }
}

/// The decodable part of a run (a length that is not 1 mod 4) and where the run ends with its
/// `=` padding.
fn run_body(hay: &[u8], run: Range<usize>) -> Option<(Range<usize>, usize)> {
    let len = run.len();
    if len < 2 {
        return None;
    }
    if len % 4 == 1 {
        return Some((run.start..run.end - 1, run.end - 1));
    }
    let padding = hay[run.end..]
        .iter()
        .take(2)
        .take_while(|&&b| b == b'=')
        .count();
    Some((run.clone(), run.end + padding))
}

fn floor_boundary(text: &str, mut at: usize) -> usize {
    while at > 0 && !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

fn ceil_boundary(text: &str, mut at: usize) -> usize {
    while at < text.len() && !text.is_char_boundary(at) {
        at += 1;
    }
    at
}

mod replace;

#[cfg(test)]
mod tests;
