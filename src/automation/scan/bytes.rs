//! Scanning an export as the bytes a user holds, without building every rule as a
//! [`Value`]: [`Scanner::scan_export_bytes`].
//!
//! The export is split into its rules without parsing them (`serde_json::value::RawValue`).
//! Each rule's bytes are searched in one pass ([`Prefilter`]) for what any occurrence of the
//! token, in any form the scanner finds, must leave in them:
//!
//! - the token as is;
//! - in every interior of its base64 forms (see [`needles`](super::needles)), four 4-character
//!   pieces, one starting at each offset modulo 4: whitespace that wraps a base64 run only sits
//!   between its groups, so whatever the wrapping, one of them is whole;
//! - an escape that could spell a character of those: `\u` (any, also behind more backslashes),
//!   `\/`, or `%XX` decoding to a letter, digit, `+`, `/`, `=`, `-`, `_`, `%` or `\`.
//!
//! A rule with none of them holds no match, and the only findings it can hold are unreadable
//! values ([`FindingStatus::CannotTell`](super::FindingStatus::CannotTell)), which sit in header
//! lists and web request URLs. Such a rule is walked as a stream of JSON tokens: only `headers`
//! lists, `url` and `urlSecure` values (and the rule's identity) are built as values and handed
//! to the scanner's own walk at their place, so the findings are the same, in the same order.
//! Every other rule, and any rule the stream cannot walk as the full scan would (a duplicate key,
//! an escaped key), is parsed and scanned whole.

use aho_corasick::AhoCorasick;
use serde::de::{self, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::needles::Needles;
use super::walker::{Ctx, Hit, Seg, Walk};
use super::{Finding, Scanner, is_rule};
use crate::error::{Error, Result};

/// What a rule's bytes must hold for the token to be in it. Holds pieces of the token's
/// spellings: never printed (no `Debug`), dropped with the scan.
pub(super) struct Prefilter {
    /// `None`: every rule could hold the token (a tiny token, whose base64 has no interiors).
    automaton: Option<AhoCorasick>,
    /// The same needles as a SIMD (Teddy) searcher, several times faster than the automaton
    /// over rules that hold none of them, where the CPU has it and the needles are few enough.
    packed: Option<aho_corasick::packed::Searcher>,
    /// What a header list must hold to hold an unreadable value
    /// ([`Prefilter::could_be_unreadable`]).
    unreadable: Option<AhoCorasick>,
    /// What a rule must hold to hold one ([`Prefilter::rule_could_be_unreadable`]).
    rule_unreadable: Option<AhoCorasick>,
    /// The token is empty and matches nothing (without an automaton).
    nothing: bool,
    /// The bytes an escape could spell a needle with: the base64 characters of both alphabets,
    /// `%` and `\\` (which may start another escape), and every byte of the token (`.`, `:`,
    /// `"`, a space, UTF-8 of non-ASCII characters).
    escapable: [bool; 256],
}

/// The shortest interior that still has a whole piece at every offset modulo 4.
const SHORTEST_INTERIOR: usize = 4 + 3 + 4;

impl Prefilter {
    pub(super) fn new(needles: &Needles) -> Self {
        let Some((token, interiors)) = needles.prefilter_needles() else {
            return Self::everything();
        };
        if token.is_empty() {
            // Matches nothing: no rule can hold it.
            return Self {
                automaton: None,
                packed: None,
                unreadable: unreadable_automaton(true),
                rule_unreadable: unreadable_automaton(false),
                nothing: true,
                escapable: [false; 256],
            };
        }
        if token.iter().any(|&b| b == b'%' || b == b'\\')
            || interiors.iter().any(|i| i.len() < SHORTEST_INTERIOR)
        {
            return Self::everything();
        }
        let mut patterns: Vec<&[u8]> = vec![token];
        for interior in interiors {
            let middle = interior.len() / 4 / 2 * 4;
            for offset in 0..4 {
                let start = (middle + offset).min(interior.len() - 4 - 3 + offset);
                patterns.push(&interior[start..start + 4]);
            }
        }
        let mut escapable = [false; 256];
        for b in 0..=255u8 {
            escapable[usize::from(b)] = b.is_ascii_alphanumeric()
                || matches!(b, b'+' | b'/' | b'=' | b'-' | b'_' | b'%' | b'\\');
        }
        for &b in token {
            escapable[usize::from(b)] = true;
        }
        match AhoCorasick::new(&patterns) {
            Ok(automaton) => Self {
                automaton: Some(automaton),
                packed: aho_corasick::packed::Searcher::new(&patterns),
                unreadable: unreadable_automaton(true),
                rule_unreadable: unreadable_automaton(false),
                nothing: false,
                escapable,
            },
            Err(_) => Self::everything(),
        }
    }

    fn everything() -> Self {
        Self {
            automaton: None,
            packed: None,
            unreadable: None,
            rule_unreadable: None,
            nothing: false,
            escapable: [true; 256],
        }
    }

    /// Whether the header list `raw` could hold an unreadable value (conservatively: anything
    /// that could make a header sensitive, a mask, a secret reference, an escape, or a nested
    /// list or URL); `true` when unsure.
    fn could_be_unreadable(&self, raw: &str) -> bool {
        memchr::memchr2(b'*', b'\\', raw.as_bytes()).is_some()
            || self
                .unreadable
                .as_ref()
                .is_none_or(|automaton| automaton.is_match(raw))
    }

    /// Whether the rule `raw` could hold an unreadable value anywhere: as for a header list,
    /// but a rule holds lists and URLs without their being unreadable (a URL is unreadable
    /// only when masked, or secure: `true`).
    fn rule_could_be_unreadable(&self, raw: &str) -> bool {
        memchr::memchr2(b'*', b'\\', raw.as_bytes()).is_some()
            || self
                .rule_unreadable
                .as_ref()
                .is_none_or(|automaton| automaton.is_match(raw))
    }

    /// Whether `bytes` could hold the token in some form.
    pub(super) fn could_hold(&self, bytes: &[u8]) -> bool {
        let Some(automaton) = &self.automaton else {
            // No automaton: a token that matches nothing, or one that could be anywhere.
            return !self.nothing;
        };
        has_needle_escape(bytes, &self.escapable)
            || match &self.packed {
                Some(packed) => packed.find(bytes).is_some(),
                None => automaton.is_match(bytes),
            }
    }
}

/// Header lists holding none of these (in any ASCII case) hold no unreadable value: no mask
/// character (`*`, `•`, `●`), marker (`xxx`, `redacted`), escape, Data Center value, nested
/// header list or URL, no `true` (a secure header) and no credential-like name (which
/// [`forms::is_credential_name`](super::forms::is_credential_name) recognises by these words,
/// or a name ending with `key`).
fn unreadable_automaton(in_header_list: bool) -> Option<AhoCorasick> {
    // `*` and `\` are found with `memchr` (single bytes slow an automaton down).
    const PATTERNS: [&str; 14] = [
        "\u{2022}",
        "\u{25cf}",
        "keyOrValue",
        "xxx",
        "redacted",
        "true",
        "auth",
        "token",
        "secret",
        "password",
        "apikey",
        "api-key",
        "api_key",
        "key\"",
    ];
    // Inside a header list, a nested list or URL is walked as anywhere else: found by its key,
    // quoted (`headerSecure` is not one; an escaped key holds a `\`, found with `memchr`).
    let nested: &[&str] = if in_header_list {
        &["\"url\"", "\"headers\""]
    } else {
        &[]
    };
    AhoCorasick::builder()
        .ascii_case_insensitive(true)
        .build(PATTERNS.iter().chain(nested))
        .ok()
}

/// Whether `bytes` hold an escape that could spell a needle character (one of `escapable`):
/// `\\u`, a short JSON escape (`\\/`, `\\"`, `\\n`...) or a `%XX` (see [`spells_needle_byte`]).
/// Single bytes are found with `memchr`, which an automaton of longer needles would slow down.
fn has_needle_escape(bytes: &[u8], escapable: &[bool; 256]) -> bool {
    memchr::memchr2_iter(b'\\', b'%', bytes).any(|at| match bytes[at] {
        b'\\' => match bytes.get(at + 1) {
            Some(b'u') => true,
            Some(&b) => json_short_escape(b).is_some_and(|d| escapable[usize::from(d)]),
            None => false,
        },
        _ => spells_needle_byte(&bytes[at + 1..], escapable),
    })
}

/// The byte a short JSON escape (`\\` then `c`) stands for; `None` for `\\u`, `\\\\` and anything
/// else.
fn json_short_escape(c: u8) -> Option<u8> {
    Some(match c {
        // `\\\\` spells a backslash that starts an escape only where the next one is found.
        b'"' | b'/' => c,
        b'b' => 0x08,
        b'f' => 0x0c,
        b'n' => b'\n',
        b'r' => b'\r',
        b't' => b'\t',
        _ => return None,
    })
}

/// Whether `rest` (what follows a `%`) starts with two hex digits decoding to a byte of
/// `escapable`: a character a needle is made of, or a `%` or `\\` that could start another
/// escape.
fn spells_needle_byte(rest: &[u8], escapable: &[bool; 256]) -> bool {
    let hex = |b: Option<&u8>| b.and_then(|&b| char::from(b).to_digit(16));
    let (Some(high), Some(low)) = (hex(rest.first()), hex(rest.get(1))) else {
        return false;
    };
    escapable[(high << 4 | low) as usize]
}

impl Scanner {
    /// [`scan_export`](Self::scan_export) of an export held as bytes (a file, a response body),
    /// with the same findings in the same order, faster: the export is split into its rules
    /// without parsing them, and each rule's bytes are searched in one pass for what any form
    /// of the token must leave in them (the token itself, pieces of each of its base64 forms
    /// that line wrapping cannot break, or an escape that could spell one of their
    /// characters). Only the rules that could hold the token are parsed whole; the others are
    /// walked as a stream for unreadable values ([`FindingStatus::CannotTell`]), building only
    /// their header lists and URLs, and not at all when they hold nothing an unreadable value
    /// needs (a mask, a secure flag, a credential-like header name, an escape). In inventory
    /// mode, and for an export that is a single rule, this parses the export and calls
    /// [`scan_export`](Self::scan_export).
    ///
    /// [`FindingStatus::CannotTell`]: super::FindingStatus::CannotTell
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] when the bytes are not JSON, or for a shape
    /// [`scan_export`](Self::scan_export) refuses.
    ///
    /// ```
    /// use atlassian_rotation::automation::scan::{FindingStatus, Scanner};
    /// use atlassian_rotation::secret::ApiToken;
    ///
    /// let export = br#"{"rules": [
    ///     {"uuid": "a", "components": [{"value": {"url": "https://x.example.com/?token=tok-123"}}]},
    ///     {"uuid": "b", "components": [{"value": {"headers": [
    ///         {"name": "Authorization", "value": "***", "headerSecure": true}]}}]},
    ///     {"uuid": "c", "components": []}
    /// ]}"#;
    /// let scanner = Scanner::for_token(&ApiToken::new("tok-123"));
    /// let findings = scanner.scan_export_bytes(export)?;
    /// let value: serde_json::Value = serde_json::from_slice(export).unwrap();
    /// assert_eq!(findings, scanner.scan_export(&value)?);
    /// assert_eq!(findings[0].status, FindingStatus::Match);
    /// assert_eq!(findings[1].status, FindingStatus::CannotTell);
    /// assert_eq!(findings[1].pointer, "/components/0/value/headers/0/value");
    /// # Ok::<(), atlassian_rotation::Error>(())
    /// ```
    pub fn scan_export_bytes(&self, export: &[u8]) -> Result<Vec<Finding>> {
        let Some(prefilter) = self.prefilter() else {
            return self.scan_export(&parse(export)?);
        };
        let Some(rules) = rules_of(export)? else {
            return self.scan_export(&parse(export)?);
        };
        // The arrays and objects around each rule: `[..]` or `{"rules": [..]}`.
        let depth = match export.iter().find(|b| !b.is_ascii_whitespace()) {
            Some(b'[') => 1,
            _ => 2,
        };
        let mut findings = Vec::new();
        for (index, rule) in rules.iter().enumerate() {
            let text = rule.get();
            if !prefilter.could_hold(text.as_bytes()) {
                if !prefilter.rule_could_be_unreadable(text) {
                    continue;
                }
                if let Some(found) = self.scan_unreadable(prefilter, text, Some(index), depth) {
                    findings.extend(found);
                    continue;
                }
            }
            findings.extend(self.scan_one(&parse(text.as_bytes())?, Some(index)));
        }
        Ok(findings)
    }

    /// [`scan_document`](Self::scan_document) of a `GET rule` response body held as bytes
    /// (`{"rule": .., "connections": ..}`), with the same findings in the same order, faster:
    /// a body whose bytes cannot hold the token in any form (see
    /// [`scan_export_bytes`](Self::scan_export_bytes)) is not parsed into a
    /// [`Value`], only checked to be JSON and walked as a stream for unreadable values. The
    /// bulk passes of [`rotate`](crate::rotate) and [`discover`](crate::discover) read rules this
    /// way. In inventory mode this parses the body and calls
    /// [`scan_document`](Self::scan_document).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] when the bytes are not JSON.
    ///
    /// ```
    /// use atlassian_rotation::automation::scan::{FindingStatus, Scanner};
    /// use atlassian_rotation::secret::ApiToken;
    ///
    /// let scanner = Scanner::for_token(&ApiToken::new("tok-123"));
    /// let body = br#"{"rule": {"uuid": "a", "components": [{"value": {"headers": [
    ///     {"name": "Authorization", "value": "***", "headerSecure": true}]}}]},
    ///     "connections": []}"#;
    /// let findings = scanner.scan_document_bytes(body)?;
    /// let value: serde_json::Value = serde_json::from_slice(body).unwrap();
    /// assert_eq!(findings, scanner.scan_document(&value));
    /// assert_eq!(findings[0].status, FindingStatus::CannotTell);
    /// assert!(scanner.scan_document_bytes(b"<html>").is_err());
    /// # Ok::<(), atlassian_rotation::Error>(())
    /// ```
    pub fn scan_document_bytes(&self, body: &[u8]) -> Result<Vec<Finding>> {
        match self.skim_document(body) {
            Some(findings) => Ok(findings),
            None => Ok(self.scan_document(&parse(body)?)),
        }
    }

    /// The byte prefilter of a token scanner (built once); `None` in inventory mode.
    fn prefilter(&self) -> Option<&Prefilter> {
        let needles = self.needles.as_ref()?;
        Some(self.prefilter.get_or_init(|| Prefilter::new(needles)))
    }

    /// Whether `bytes` could hold the token in any form the scanner finds (always in inventory
    /// mode): when not, no [`FindingStatus::Match`](super::FindingStatus::Match) can be in them.
    pub(crate) fn could_hold(&self, bytes: &[u8]) -> bool {
        self.prefilter().is_none_or(|p| p.could_hold(bytes))
    }

    /// [`scan_document`](Self::scan_document) of a `GET rule` response body
    /// (`{"rule": .., "connections": ..}`) that holds no form of the token, without parsing it:
    /// the same findings (its unreadable values, usually none). `None` when the body could hold
    /// the token, is not such a document (not JSON, a duplicate key, `rule` not an object), or
    /// could hold an unreadable value the stream cannot walk as the full scan would: the
    /// caller then parses the body and scans it whole. Always `None` in inventory mode.
    pub(crate) fn skim_document(&self, body: &[u8]) -> Option<Vec<Finding>> {
        let prefilter = self.prefilter()?;
        if prefilter.could_hold(body) {
            return None;
        }
        // A document is an object: serde's derived `Document` would also take an array
        // (`[rule, connections]`), which the full scan reads as no rule at all.
        if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            return None;
        }
        // Validates the whole body as JSON; unknown fields are checked and skipped. Skipped
        // strings are not checked for UTF-8 (serde_json checks them only where it builds
        // them), which the full parse refuses: the whole body is checked first.
        let body = std::str::from_utf8(body).ok()?;
        let document: Document<'_> = serde_json::from_str(body).ok()?;
        let rule = document.rule.get();
        if !rule.starts_with('{') {
            return None;
        }
        if document
            .connections
            .is_some_and(|c| prefilter.rule_could_be_unreadable(c.get()))
        {
            return None;
        }
        if !prefilter.rule_could_be_unreadable(rule) {
            return Some(Vec::new());
        }
        self.scan_unreadable(prefilter, rule, None, 1)
    }

    /// The findings of a rule that holds no form of the token (its unreadable values), walking
    /// it as a stream; `None` when the stream cannot walk it as the full scan would.
    fn scan_unreadable(
        &self,
        prefilter: &Prefilter,
        text: &str,
        index: Option<usize>,
        depth: usize,
    ) -> Option<Vec<Finding>> {
        let mut stream = Stream {
            needles: self.needles.as_ref(),
            prefilter,
            path: Vec::with_capacity(16),
            hits: Vec::new(),
            identity: Vec::new(),
        };
        let mut skim = Skim {
            stream: &mut stream,
            text,
            at: 0,
            depth,
        };
        skim.value(true)?;
        skim.whitespace();
        if skim.at != text.len() {
            return None;
        }
        let Stream { hits, identity, .. } = stream;
        if hits.is_empty() {
            return Some(Vec::new());
        }
        let mut rule = Map::new();
        for (key, raw) in identity {
            rule.insert(key.to_owned(), serde_json::from_str(raw).ok()?);
        }
        Some(self.findings(hits, &Value::Object(rule), index))
    }
}

/// A `GET rule` response, unparsed: a duplicate `rule` or `connections` fails it.
#[derive(serde::Deserialize)]
struct Document<'a> {
    #[serde(borrow)]
    rule: &'a RawValue,
    #[serde(borrow, default)]
    connections: Option<&'a RawValue>,
}

fn parse(bytes: &[u8]) -> Result<Value> {
    // serde_json's message names a line and column, never the text.
    serde_json::from_slice(bytes)
        .map_err(|e| Error::invalid_input("automation export", format!("not JSON: {e}")))
}

/// The rules of an export that is an array of rules or `{"rules": [...]}`, unparsed; `None`
/// for any other shape (which [`Scanner::scan_export`] decides on).
fn rules_of(export: &[u8]) -> Result<Option<Vec<&RawValue>>> {
    let invalid =
        |e: serde_json::Error| Error::invalid_input("automation export", format!("not JSON: {e}"));
    match export.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'[') => Ok(Some(serde_json::from_slice(export).map_err(invalid)?)),
        Some(b'{') => {
            // One pass over the export: the top-level keys, and `rules` split into its rules.
            let top: Top<'_> = serde_json::from_slice(export).map_err(invalid)?;
            if is_rule(&top.keys) {
                return Ok(None);
            }
            Ok(top.rules)
        }
        _ => Ok(None),
    }
}

/// The top level of an export object: its keys, and its last `rules` when that is an array
/// (the full scan keeps the last of duplicate keys too).
struct Top<'de> {
    keys: Map<String, Value>,
    rules: Option<Vec<&'de RawValue>>,
}

impl<'de> de::Deserialize<'de> for Top<'de> {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(TopVisitor)
    }
}

struct TopVisitor;

impl<'de> Visitor<'de> for TopVisitor {
    type Value = Top<'de>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an export object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Top<'de>, A::Error> {
        let mut top = Top {
            keys: Map::new(),
            rules: None,
        };
        while let Some(key) = map.next_key::<String>()? {
            if key == "rules" {
                top.rules = map.next_value::<Rules<'de>>()?.0;
            } else {
                // Taken as raw text, not skipped: serde_json checks the UTF-8 of a raw value
                // (as of each rule), not of a skipped one, and the full parse refuses invalid
                // UTF-8 anywhere. (Checking the whole export first cost a fifth of the scan.)
                map.next_value::<&'de RawValue>()?;
            }
            top.keys.insert(key, Value::Null);
        }
        Ok(top)
    }
}

/// An export's `rules`: split into its rules when an array, `None` otherwise.
struct Rules<'de>(Option<Vec<&'de RawValue>>);

impl<'de> de::Deserialize<'de> for Rules<'de> {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(RulesVisitor)
    }
}

struct RulesVisitor;

impl<'de> Visitor<'de> for RulesVisitor {
    type Value = Rules<'de>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Rules<'de>, A::Error> {
        let mut rules = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(rule) = seq.next_element::<&'de RawValue>()? {
            rules.push(rule);
        }
        Ok(Rules(Some(rules)))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Rules<'de>, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Rules(None))
    }

    fn visit_bool<E>(self, _: bool) -> Result<Rules<'de>, E> {
        Ok(Rules(None))
    }

    fn visit_i64<E>(self, _: i64) -> Result<Rules<'de>, E> {
        Ok(Rules(None))
    }

    fn visit_u64<E>(self, _: u64) -> Result<Rules<'de>, E> {
        Ok(Rules(None))
    }

    fn visit_f64<E>(self, _: f64) -> Result<Rules<'de>, E> {
        Ok(Rules(None))
    }

    fn visit_str<E>(self, _: &str) -> Result<Rules<'de>, E> {
        Ok(Rules(None))
    }

    fn visit_unit<E>(self) -> Result<Rules<'de>, E> {
        Ok(Rules(None))
    }
}

/// The state of a streaming walk through one rule.
struct Stream<'s, 'de> {
    needles: Option<&'s Needles>,
    prefilter: &'s Prefilter,
    path: Vec<Seg<'de>>,
    hits: Vec<Hit>,
    /// The root's `uuid`, `id`, `name` and `component`, for the findings' rule identity.
    identity: Vec<(&'de str, &'de str)>,
}

impl<'de> Stream<'_, 'de> {
    /// Walks `raw`, the value of `key`, as the full scan would, when it could hold an
    /// unreadable value: `headers` lists that could (see [`Prefilter::could_be_unreadable`]),
    /// and any value but a string elsewhere (a string there holds nothing but the token).
    fn walk_raw(&mut self, key: &str, text: &str, ctx: Ctx) -> serde_json::Result<()> {
        let skip = match ctx {
            Ctx::HeaderList => !self.prefilter.could_be_unreadable(text),
            // A string, number, `true`, `false` or `null` here holds nothing but the token.
            _ => !text.starts_with(['{', '[']),
        };
        if !skip {
            let value: Value = serde_json::from_str(text)?;
            let ctx = match ctx {
                Ctx::HeaderList if !value.is_array() => Ctx::Other,
                ctx => ctx,
            };
            self.walk(key, &value, How::Value(ctx));
        }
        Ok(())
    }

    /// A web request's `url` (`raw`), secure or not: a string is unreadable only when it is a
    /// mask, as the full scan decides ([`Walk::url`]).
    fn walk_url(&mut self, raw: &str, secure: bool) -> serde_json::Result<()> {
        if let Ok(url) = serde_json::from_str::<&str>(raw) {
            if !super::forms::is_mask(url, secure) {
                return Ok(());
            }
        }
        let value: Value = serde_json::from_str(raw)?;
        self.walk("url", &value, How::Url { secure });
        Ok(())
    }

    /// Runs the scanner's walk over `value`, the value of `key` in the object at the current
    /// path; `url` walks it as a web request URL (secure or not).
    fn walk(&mut self, key: &str, value: &Value, how: How) {
        let mut walk = Walk {
            needles: self.needles,
            path: self.path.clone(),
            hits: Vec::new(),
        };
        match how {
            How::Value(ctx) => {
                walk.path.push(Seg::Key(key));
                walk.value(value, ctx);
            }
            How::Url { secure } => {
                walk.path.push(Seg::Key(key));
                walk.url(value, secure);
            }
            How::MissingUrl => walk.masked_at("url", None),
        }
        self.hits.extend(walk.hits);
    }
}

#[derive(Clone, Copy)]
enum How {
    Value(Ctx),
    Url { secure: bool },
    MissingUrl,
}

/// The most keys an object may have to be walked as a stream (checked for duplicates without
/// allocating).
const MAX_KEYS: usize = 32;

/// `a == b`, first by length and first byte (most keys of an object differ there) without
/// calling `memcmp`.
fn same_key(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.as_bytes().first() == b.as_bytes().first() && a == b
}

/// A walk through a rule's text (valid JSON: the export was parsed into its rules) that
/// tracks the path from the root and hands header lists, URLs and the rule's identity to
/// [`Stream`], skipping everything else byte by byte without decoding it (no numbers or
/// strings built, no UTF-8 validated again). Every method returns `None` where the full scan
/// would see the rule otherwise (an escaped or duplicate key) or the text is not as expected.
struct Skim<'a, 's, 'de> {
    stream: &'a mut Stream<'s, 'de>,
    text: &'de str,
    at: usize,
    /// How many arrays and objects hold the current position (from the body's root).
    depth: usize,
}

/// The deepest nesting serde_json parses (its recursion limit, 128, refuses the 128th level):
/// a rule nested deeper is no JSON the full scan can read, and is left to its parse (which
/// fails) rather than walked (whose recursion could overflow the stack).
const MAX_DEPTH: usize = 127;

impl<'de> Skim<'_, '_, 'de> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    fn whitespace(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.peek() {
            self.at += 1;
        }
    }

    /// Consumes `byte` after any whitespace.
    fn expect(&mut self, byte: u8) -> Option<()> {
        self.whitespace();
        (self.peek()? == byte).then(|| self.at += 1)
    }

    /// A value, walked (the rule's root when `root`).
    fn value(&mut self, root: bool) -> Option<()> {
        self.whitespace();
        match self.peek()? {
            b'{' | b'[' => {
                if self.depth >= MAX_DEPTH {
                    return None;
                }
                self.depth += 1;
                let walked = if self.peek()? == b'{' {
                    self.object(root)
                } else {
                    self.array()
                };
                self.depth -= 1;
                walked
            }
            b'"' => self.string().map(|_| ()),
            _ => self.scalar(),
        }
    }

    /// A string: its contents' range, and whether they hold an escape.
    fn string(&mut self) -> Option<(usize, usize, bool)> {
        let bytes = self.text.as_bytes();
        self.at += 1;
        let start = self.at;
        let mut escaped = false;
        loop {
            let found = self.at + memchr::memchr2(b'"', b'\\', bytes.get(self.at..)?)?;
            if bytes[found] == b'"' {
                self.at = found + 1;
                return Some((start, found, escaped));
            }
            escaped = true;
            self.at = found + 2;
        }
    }

    /// A number, `true`, `false` or `null`.
    fn scalar(&mut self) -> Option<()> {
        let start = self.at;
        while let Some(b) = self.peek() {
            if matches!(b, b',' | b'}' | b']' | b' ' | b'\n' | b'\r' | b'\t') {
                break;
            }
            self.at += 1;
        }
        (self.at > start).then_some(())
    }

    /// A value skipped without a walk: its text.
    fn raw(&mut self) -> Option<&'de str> {
        self.whitespace();
        let start = self.at;
        match self.peek()? {
            b'"' => {
                self.string()?;
            }
            b'{' | b'[' => {
                let mut depth = 0usize;
                loop {
                    match self.peek()? {
                        b'"' => {
                            self.string()?;
                            continue;
                        }
                        b'{' | b'[' => {
                            depth += 1;
                            if self.depth + depth > MAX_DEPTH {
                                return None;
                            }
                        }
                        b'}' | b']' => depth -= 1,
                        _ => {}
                    }
                    self.at += 1;
                    if depth == 0 {
                        break;
                    }
                }
            }
            _ => self.scalar()?,
        }
        self.text.get(start..self.at)
    }

    fn array(&mut self) -> Option<()> {
        self.at += 1;
        self.whitespace();
        if self.peek()? == b']' {
            self.at += 1;
            return Some(());
        }
        let mut index = 0;
        loop {
            self.stream.path.push(Seg::Index(index));
            self.value(false)?;
            self.stream.path.pop();
            self.whitespace();
            match self.peek()? {
                b',' => index += 1,
                b']' => {
                    self.at += 1;
                    return Some(());
                }
                _ => return None,
            }
            self.at += 1;
        }
    }

    fn object(&mut self, root: bool) -> Option<()> {
        self.at += 1;
        self.whitespace();
        if self.peek()? == b'}' {
            self.at += 1;
            return Some(());
        }
        let mut seen: [&'de str; MAX_KEYS] = [""; MAX_KEYS];
        let mut keys = 0;
        // `url` and `urlSecure` are walked once the whole object is known (each depends on the
        // other), their findings put back where the full walk finds them.
        let mut deferred: Vec<(usize, &'de str, &'de str)> = Vec::new();
        let (mut has_url, mut url_secure) = (false, false);
        loop {
            self.whitespace();
            if self.peek()? != b'"' {
                return None;
            }
            let (start, end, escaped) = self.string()?;
            // The full scan keeps the last of duplicate keys (at the first one's place): such
            // an object is left to it, as is one too large to check for them here, or one with
            // an escaped key.
            let key = self.text.get(start..end)?;
            if escaped || keys == seen.len() || seen[..keys].iter().any(|k| same_key(k, key)) {
                return None;
            }
            seen[keys] = key;
            keys += 1;
            self.expect(b':')?;
            match key {
                "url" | "urlSecure" => {
                    let raw = self.raw()?;
                    if key == "url" {
                        has_url = true;
                    } else {
                        url_secure = raw == "true";
                    }
                    deferred.push((self.stream.hits.len(), key, raw));
                }
                "headers" => {
                    let raw = self.raw()?;
                    self.stream.walk_raw(key, raw, Ctx::HeaderList).ok()?;
                }
                "uuid" | "id" | "name" | "component" if root => {
                    let raw = self.raw()?;
                    self.stream.walk_raw(key, raw, Ctx::Other).ok()?;
                    self.stream.identity.push((key, raw));
                }
                _ => {
                    self.stream.path.push(Seg::Key(key));
                    self.value(false)?;
                    self.stream.path.pop();
                }
            }
            self.whitespace();
            match self.peek()? {
                b',' => self.at += 1,
                b'}' => {
                    self.at += 1;
                    break;
                }
                _ => return None,
            }
        }
        let stream = &mut *self.stream;
        for (at, key, raw) in deferred.into_iter().rev() {
            let before = stream.hits.len();
            match key {
                "url" => stream.walk_url(raw, url_secure).ok()?,
                _ => {
                    if raw == "true" && !has_url {
                        stream.walk(key, &Value::Null, How::MissingUrl);
                    }
                    // Walked as any other value (it may be anything).
                    stream.walk_raw(key, raw, Ctx::Other).ok()?;
                }
            }
            if stream.hits.len() > before {
                let added: Vec<Hit> = stream.hits.drain(before..).collect();
                stream.hits.splice(at..at, added);
            }
        }
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::ApiToken;

    fn both(scanner: &Scanner, export: &str) -> (Vec<Finding>, Vec<Finding>) {
        let value: Value = serde_json::from_str(export).unwrap();
        (
            scanner.scan_export_bytes(export.as_bytes()).unwrap(),
            scanner.scan_export(&value).unwrap(),
        )
    }

    #[test]
    fn urls_and_their_secure_flag_in_any_order_give_the_same_findings() {
        let scanner = Scanner::for_token(&ApiToken::new("ATATT3xFfGF0-secret-token-1234"));
        for export in [
            r#"[{"uuid":"a","a":{"urlSecure":true,"url":""}}]"#,
            r#"[{"uuid":"a","a":{"url":null,"urlSecure":true}}]"#,
            r#"[{"uuid":"a","a":{"urlSecure":true}}]"#,
            r#"[{"uuid":"a","a":{"url":"**"},"b":{"headers":[{"name":"Authorization","headerSecure":true}]}}]"#,
            r#"{"rules":[{"name":"n","id":7,"x":[1,2.5,{"headers":[{"value":"***"}]}]}]}"#,
        ] {
            let (fast, full) = both(&scanner, export);
            assert_eq!(fast, full, "{export}");
            assert!(!full.is_empty(), "{export}");
        }
    }

    #[test]
    fn percent_escapes_of_needle_bytes_make_a_rule_a_candidate() {
        let needles = Needles::new("tok.en-0123456789abcdef");
        let Prefilter { escapable, .. } = Prefilter::new(&needles);
        assert!(spells_needle_byte(b"41", &escapable));
        assert!(spells_needle_byte(b"2f", &escapable));
        assert!(spells_needle_byte(b"2E", &escapable), "a byte of the token");
        assert!(!spells_needle_byte(b"20", &escapable));
        assert!(!spells_needle_byte(b"4", &escapable));
        assert!(has_needle_escape(br#"a\"b"#, &[true; 256]));
        assert!(!has_needle_escape(br#"a\\b"#, &escapable));
    }
}
