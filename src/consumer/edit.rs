//! Byte-preserving edits of one value inside a file's text: one `KEY=value` line of a dotenv
//! file, or one string at a JSON pointer. Every other byte stays as it was.

use std::ops::Range;

use crate::error::{Error, Result};

/// Where in a file the credential lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Place {
    /// The whole file is the credential (a trailing newline, if the file had one, is kept).
    Whole,
    /// The value of `KEY=` in a dotenv file (`export KEY=` too; quoted values stay quoted).
    Dotenv(String),
    /// The string at this JSON pointer (RFC 6901) in a JSON file.
    JsonPointer(String),
}

/// The value `place` holds in `text`, or `None` when it holds none.
pub(crate) fn read(place: &Place, text: &[u8]) -> Result<Option<String>> {
    match place {
        Place::Whole => {
            let text = std::str::from_utf8(text)
                .map_err(|_| Error::invalid_input("credential file", "is not UTF-8"))?;
            let value = text.strip_suffix('\n').unwrap_or(text);
            let value = value.strip_suffix('\r').unwrap_or(value);
            Ok(Some(value.to_owned()))
        }
        Place::Dotenv(key) => {
            let text = utf8(text)?;
            Ok(dotenv_values(text, check_key(key)?)?
                .last()
                .map(|range| text[range.clone()].to_owned()))
        }
        Place::JsonPointer(pointer) => {
            let span = json_span(text, pointer)?;
            match span {
                Some(range) => {
                    let value: serde_json::Value = serde_json::from_slice(&text[range])
                        .map_err(|_| Error::invalid_input("JSON file", "does not parse"))?;
                    Ok(value.as_str().map(str::to_owned))
                }
                None => Ok(None),
            }
        }
    }
}

/// `text` with the value at `place` replaced by `secret`; every other byte unchanged.
pub(crate) fn write(place: &Place, text: Option<&[u8]>, secret: &str) -> Result<Vec<u8>> {
    match place {
        Place::Whole => {
            check_line_safe(secret)?;
            let newline = match text {
                Some(t) if t.ends_with(b"\r\n") => "\r\n",
                Some(t) if t.ends_with(b"\n") => "\n",
                _ => "",
            };
            Ok(format!("{secret}{newline}").into_bytes())
        }
        Place::Dotenv(key) => {
            check_line_safe(secret)?;
            if secret.contains(['"', '\'', '#', ' ', '\t', '\\', '$', '`']) {
                return Err(Error::invalid_input(
                    "credential",
                    "holds a character a dotenv value cannot carry unquoted",
                ));
            }
            let text = utf8(text.unwrap_or_default())?;
            let ranges = dotenv_values(text, check_key(key)?)?;
            if ranges.is_empty() {
                let mut out = text.to_owned();
                if !out.is_empty() && !out.ends_with('\n') {
                    out.push('\n');
                }
                out.push_str(&format!("{key}={secret}\n"));
                return Ok(out.into_bytes());
            }
            Ok(splice(text.as_bytes(), &ranges, secret.as_bytes()))
        }
        Place::JsonPointer(pointer) => {
            let Some(text) = text else {
                return Err(Error::invalid_input(
                    "JSON file",
                    "does not exist: there is no value to point at",
                ));
            };
            let Some(range) = json_span(text, pointer)? else {
                return Err(Error::invalid_input(
                    "JSON pointer",
                    format!("`{pointer}` names no value in the file"),
                ));
            };
            if !matches!(text[range.start], b'"' | b'n') {
                return Err(Error::invalid_input(
                    "JSON pointer",
                    format!("`{pointer}` names a value that is not a string"),
                ));
            }
            let encoded = serde_json::to_string(secret)
                .map_err(|e| Error::invalid_input("credential", e.to_string()))?;
            Ok(splice(text, &[range], encoded.as_bytes()))
        }
    }
}

fn utf8(text: &[u8]) -> Result<&str> {
    std::str::from_utf8(text).map_err(|_| Error::invalid_input("credential file", "is not UTF-8"))
}

fn check_line_safe(secret: &str) -> Result<()> {
    if secret.is_empty() || secret.chars().any(char::is_control) {
        return Err(Error::invalid_input(
            "credential",
            "is empty or holds a control character",
        ));
    }
    Ok(())
}

/// `bytes` with each of the (sorted, disjoint) `ranges` replaced by `with`.
fn splice(bytes: &[u8], ranges: &[Range<usize>], with: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + with.len());
    let mut at = 0;
    for range in ranges {
        out.extend_from_slice(&bytes[at..range.start]);
        out.extend_from_slice(with);
        at = range.end;
    }
    out.extend_from_slice(&bytes[at..]);
    out
}

/// The byte ranges of the value of every `KEY=` line (`export KEY=` too), inside the quotes of
/// a quoted value, up to ` #` (a comment) or the end of the line otherwise. The lines inside a
/// quoted value that spans lines (any key's: a PEM block, a JSON blob) belong to that value,
/// and are never taken for `KEY=` lines of their own. Refuses a value of `key` that opens a
/// quote it does not close on its line: a credential is one line, and rewriting part of such a
/// value would break the file.
fn dotenv_values(text: &str, key: &str) -> Result<Vec<Range<usize>>> {
    let mut ranges = Vec::new();
    let mut start = 0;
    // While inside a quoted value that goes on over the next lines: its quote.
    let mut open = None;
    for line in text.split_inclusive('\n') {
        let line_start = start;
        start += line.len();
        let body = line.trim_end_matches(['\n', '\r']);
        if let Some(quote) = open {
            if closing_quote(body, quote).is_some() {
                open = None;
            }
            continue;
        }
        let indent = body.len() - body.trim_start().len();
        let mut rest = &body[indent..];
        if let Some(after) = rest.strip_prefix("export") {
            if after.starts_with([' ', '\t']) {
                rest = after.trim_start();
            }
        }
        let Some((name, value)) = rest.split_once('=') else {
            continue;
        };
        let name = name.trim_end_matches([' ', '\t']);
        if !is_key(name) {
            // A comment, or text that is no assignment.
            continue;
        }
        let value_trimmed = value.trim_start_matches([' ', '\t']);
        let value_at = line_start + (body.len() - value_trimmed.len());
        let quoted = match value_trimmed.chars().next() {
            Some(quote @ ('"' | '\'')) => Some((quote, closing_quote(&value_trimmed[1..], quote))),
            _ => None,
        };
        if let Some((quote, None)) = quoted {
            if name == key {
                return Err(Error::invalid_input(
                    "dotenv file",
                    format!("the value of `{key}` opens a quote it does not close on its line"),
                ));
            }
            open = Some(quote);
            continue;
        }
        if name != key {
            continue;
        }
        let range = match quoted {
            Some((_, Some(end))) => value_at + 1..value_at + 1 + end,
            _ => {
                let end = value_trimmed
                    .find(" #")
                    .or_else(|| value_trimmed.find("\t#"))
                    .unwrap_or(value_trimmed.len());
                let value = value_trimmed[..end].trim_end();
                value_at..value_at + value.len()
            }
        };
        ranges.push(range);
    }
    Ok(ranges)
}

/// Whether `name` can be a dotenv key: letters, digits, `_`, `.` and `-`.
fn is_key(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// `key`, when it can be a dotenv key: anything else (a newline, `=`, a space) would write a
/// line of another shape than `KEY=value`.
fn check_key(key: &str) -> Result<&str> {
    if is_key(key) {
        Ok(key)
    } else {
        Err(Error::invalid_input(
            "dotenv key",
            "must be letters, digits, `_`, `.` or `-`",
        ))
    }
}

/// Where `quote` closes a value that starts right after the opening one: in double quotes a
/// backslash escapes the next character (`\"` does not close), in single quotes it does not.
fn closing_quote(value: &str, quote: char) -> Option<usize> {
    let mut chars = value.char_indices();
    while let Some((at, c)) = chars.next() {
        match c {
            '\\' if quote == '"' => {
                chars.next();
            }
            c if c == quote => return Some(at),
            _ => {}
        }
    }
    None
}

/// The byte range of the JSON value at `pointer` in `text`, or `None` when no value is there.
/// Refuses text that is not one JSON value.
fn json_span(text: &[u8], pointer: &str) -> Result<Option<Range<usize>>> {
    serde_json::from_slice::<serde::de::IgnoredAny>(text)
        .map_err(|_| Error::invalid_input("JSON file", "does not parse"))?;
    if !pointer.is_empty() && !pointer.starts_with('/') {
        return Err(Error::invalid_input(
            "JSON pointer",
            "must be empty or start with `/`",
        ));
    }
    let tokens: Vec<String> = if pointer.is_empty() {
        Vec::new()
    } else {
        pointer[1..]
            .split('/')
            .map(|t| t.replace("~1", "/").replace("~0", "~"))
            .collect()
    };
    let mut json = Json { text, at: 0 };
    json.ws();
    let mut range = json.value_range()?;
    for token in &tokens {
        let mut inner = Json {
            text,
            at: range.start,
        };
        match inner.find(token)? {
            Some(found) => range = found,
            None => return Ok(None),
        }
    }
    Ok(Some(range))
}

/// A minimal cursor over text already known to be valid JSON.
struct Json<'a> {
    text: &'a [u8],
    at: usize,
}

impl Json<'_> {
    fn bad() -> Error {
        Error::invalid_input("JSON file", "does not parse")
    }

    fn ws(&mut self) {
        while self
            .text
            .get(self.at)
            .is_some_and(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
        {
            self.at += 1;
        }
    }

    fn eat(&mut self, byte: u8) -> Result<()> {
        self.ws();
        if self.text.get(self.at) == Some(&byte) {
            self.at += 1;
            Ok(())
        } else {
            Err(Self::bad())
        }
    }

    /// Skips the value at the cursor (after whitespace) and returns its range.
    fn value_range(&mut self) -> Result<Range<usize>> {
        self.ws();
        let start = self.at;
        match self.text.get(self.at).ok_or_else(Self::bad)? {
            b'"' => self.skip_string()?,
            b'{' | b'[' => {
                let mut depth = 0usize;
                loop {
                    match self.text.get(self.at).ok_or_else(Self::bad)? {
                        b'"' => {
                            self.skip_string()?;
                            continue;
                        }
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => {
                            depth -= 1;
                            if depth == 0 {
                                self.at += 1;
                                break;
                            }
                        }
                        _ => {}
                    }
                    self.at += 1;
                }
            }
            _ => {
                while self.text.get(self.at).is_some_and(|b| {
                    !matches!(b, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r')
                }) {
                    self.at += 1;
                }
            }
        }
        Ok(start..self.at)
    }

    fn skip_string(&mut self) -> Result<()> {
        self.at += 1;
        loop {
            match self.text.get(self.at).ok_or_else(Self::bad)? {
                b'\\' => self.at += 2,
                b'"' => {
                    self.at += 1;
                    return Ok(());
                }
                _ => self.at += 1,
            }
        }
    }

    /// In the object or array at the cursor, the range of the member named `token`.
    fn find(&mut self, token: &str) -> Result<Option<Range<usize>>> {
        self.ws();
        match self.text.get(self.at) {
            Some(b'{') => {
                self.at += 1;
                self.ws();
                if self.text.get(self.at) == Some(&b'}') {
                    return Ok(None);
                }
                // The last member of a name wins, as serde_json reads duplicates.
                let mut found = None;
                loop {
                    let key = self.value_range()?;
                    let name: String =
                        serde_json::from_slice(&self.text[key]).map_err(|_| Self::bad())?;
                    self.eat(b':')?;
                    let value = self.value_range()?;
                    if name == token {
                        found = Some(value);
                    }
                    self.ws();
                    match self.text.get(self.at) {
                        Some(b',') => self.at += 1,
                        Some(b'}') => return Ok(found),
                        _ => return Err(Self::bad()),
                    }
                }
            }
            Some(b'[') => {
                let Ok(index) = token.parse::<usize>() else {
                    return Ok(None);
                };
                if token.len() > 1 && token.starts_with('0') {
                    return Ok(None);
                }
                self.at += 1;
                self.ws();
                if self.text.get(self.at) == Some(&b']') {
                    return Ok(None);
                }
                let mut i = 0;
                loop {
                    let value = self.value_range()?;
                    if i == index {
                        return Ok(Some(value));
                    }
                    i += 1;
                    self.ws();
                    match self.text.get(self.at) {
                        Some(b',') => self.at += 1,
                        Some(b']') => return Ok(None),
                        _ => return Err(Self::bad()),
                    }
                }
            }
            _ => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dotenv(key: &str) -> Place {
        Place::Dotenv(key.to_owned())
    }

    #[test]
    fn a_dotenv_line_is_replaced_and_every_other_byte_kept() {
        let text = "# config\r\nA=1\nexport JIRA_TOKEN = \"old\" # keep\nJIRA_TOKEN_2=x\n  JIRA_TOKEN=old2 # c\nZ='q'";
        let out = write(&dotenv("JIRA_TOKEN"), Some(text.as_bytes()), "NEW-tok=").unwrap();
        assert_eq!(
            String::from_utf8(out.clone()).unwrap(),
            "# config\r\nA=1\nexport JIRA_TOKEN = \"NEW-tok=\" # keep\nJIRA_TOKEN_2=x\n  JIRA_TOKEN=NEW-tok= # c\nZ='q'"
        );
        assert_eq!(
            read(&dotenv("JIRA_TOKEN"), &out).unwrap().as_deref(),
            Some("NEW-tok=")
        );
        assert_eq!(read(&dotenv("Z"), &out).unwrap().as_deref(), Some("q"));
        assert_eq!(read(&dotenv("MISSING"), &out).unwrap(), None);
    }

    #[test]
    fn a_double_quoted_dotenv_value_with_an_escaped_quote_is_replaced_whole() {
        let text = "A=\"x\"\nJIRA_TOKEN=\"ab\\\"cd\" # c\nB='e\\'\n";
        let out = write(&dotenv("JIRA_TOKEN"), Some(text.as_bytes()), "NEW").unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "A=\"x\"\nJIRA_TOKEN=\"NEW\" # c\nB='e\\'\n"
        );
        // In single quotes a backslash is a backslash.
        assert_eq!(
            read(&dotenv("B"), text.as_bytes()).unwrap().as_deref(),
            Some("e\\")
        );
    }

    #[test]
    fn lines_inside_another_keys_multiline_value_are_that_value() {
        let text = "A=\"multi\nJIRA_TOKEN=inside\"\n# B='x\nJIRA_TOKEN=real\r\n";
        let out = write(&dotenv("JIRA_TOKEN"), Some(text.as_bytes()), "NEW").unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "A=\"multi\nJIRA_TOKEN=inside\"\n# B='x\nJIRA_TOKEN=NEW\r\n"
        );
        // The key's own value spanning lines is not rewritten in part.
        let own = "JIRA_TOKEN=\"a\nb\"\n";
        assert!(write(&dotenv("JIRA_TOKEN"), Some(own.as_bytes()), "NEW").is_err());
    }

    #[test]
    fn a_dotenv_key_that_is_no_key_is_refused() {
        for key in ["", "K\nX", "A=B", "A B", "#A"] {
            assert!(write(&dotenv(key), Some(b"A=1\n"), "v").is_err(), "{key:?}");
            assert!(read(&dotenv(key), b"A=1\n").is_err(), "{key:?}");
        }
    }

    #[test]
    fn a_missing_dotenv_key_is_appended_on_its_own_line() {
        let out = write(&dotenv("K"), Some(b"A=1"), "v").unwrap();
        assert_eq!(out, b"A=1\nK=v\n");
        assert_eq!(write(&dotenv("K"), None, "v").unwrap(), b"K=v\n");
    }

    #[test]
    fn a_dotenv_value_that_would_break_the_line_is_refused_without_echo() {
        for bad in ["a\nB=1", "a b", "a\"b", "a#b", ""] {
            let err = write(&dotenv("K"), Some(b"K=old\n"), bad).unwrap_err();
            assert!(matches!(err, Error::InvalidInput { .. }));
            if !bad.is_empty() {
                assert!(!err.to_string().contains(bad));
            }
        }
    }

    #[test]
    fn a_json_pointer_string_is_replaced_in_place() {
        let text = br#"{ "a": {"x": 1.50, "token": "old", "b/c": ["p", null]},
  "token": "top" }"#;
        let out = write(&Place::JsonPointer("/a/token".into()), Some(text), "n\"e/w").unwrap();
        assert_eq!(
            String::from_utf8(out.clone()).unwrap(),
            "{ \"a\": {\"x\": 1.50, \"token\": \"n\\\"e/w\", \"b/c\": [\"p\", null]},\n  \"token\": \"top\" }"
        );
        let place = Place::JsonPointer("/a/b~1c/1".into());
        let out = write(&place, Some(&out), "z").unwrap();
        assert_eq!(read(&place, &out).unwrap().as_deref(), Some("z"));
        assert_eq!(
            read(&Place::JsonPointer("/token".into()), &out)
                .unwrap()
                .as_deref(),
            Some("top")
        );
    }

    #[test]
    fn a_json_pointer_to_nothing_or_a_non_string_is_refused() {
        let text = br#"{"a": {"n": 5, "o": {}}, "l": []}"#;
        for pointer in ["/missing", "/a/n", "/a/o", "/l/0", "/a/n/x", "a"] {
            let place = Place::JsonPointer(pointer.into());
            assert!(write(&place, Some(text), "v").is_err(), "{pointer}");
        }
        let place = Place::JsonPointer("/a".into());
        assert!(write(&place, Some(b"{\"a\": "), "v").is_err(), "not JSON");
        assert!(write(&place, None, "v").is_err(), "no file");
    }

    #[test]
    fn a_whole_file_keeps_its_trailing_newline() {
        assert_eq!(
            write(&Place::Whole, Some(b"old\n"), "new").unwrap(),
            b"new\n"
        );
        assert_eq!(write(&Place::Whole, Some(b"old"), "new").unwrap(), b"new");
        assert_eq!(write(&Place::Whole, None, "new").unwrap(), b"new");
        assert_eq!(
            read(&Place::Whole, b"tok\r\n").unwrap().as_deref(),
            Some("tok")
        );
    }
}
