//! Adversarial review of the byte path of the rule scan (issue 15): `Scanner::scan_document_bytes`
//! and `Scanner::scan_export_bytes` must find what the full scan finds over the parsed JSON, and
//! fail where parsing fails, on any input.

use atlassian_rotation::automation::scan::{Finding, FindingStatus, Scanner};
use atlassian_rotation::secret::ApiToken;
use serde_json::Value;

fn full_document(scanner: &Scanner, body: &[u8]) -> Option<Vec<Finding>> {
    serde_json::from_slice::<Value>(body)
        .ok()
        .map(|document| scanner.scan_document(&document))
}

/// A body that is a JSON array is no `GET rule` document: the full scan finds nothing in it
/// (`document["rule"]` of an array is null), and the rotation refuses it as a rule problem. The
/// byte path read `[rule, connections]` as if it were `{"rule": .., "connections": ..}` (serde's
/// derived struct accepts a sequence), reporting the array's first element as the rule.
#[test]
fn an_array_body_is_not_read_as_a_rule_document() {
    let scanner = Scanner::for_token(&ApiToken::new("ATATT3xFfGF0-review-token-0123456789"));
    let body = br#"[{"uuid": "a", "components": [{"value": {"headers": [
        {"name": "Authorization", "value": "***", "headerSecure": true}]}}]}, []]"#;
    let fast = scanner.scan_document_bytes(body).unwrap();
    assert_eq!(Some(fast), full_document(&scanner, body));
}

/// A token holding a byte that is neither a base64 character nor `%` or `\` (`.`, `:`, `"`, a
/// space, non-ASCII), written escaped (`%2E`, `\"`), is found by the full scan; the byte
/// prefilter only took escapes of base64 characters as able to spell the token, so the byte
/// path reported the rule as holding nothing.
#[test]
fn a_token_byte_outside_base64_written_escaped_is_found_by_the_byte_path() {
    for (token, spelled) in [
        ("tok.en-0123456789abcdef", "tok%2Een-0123456789abcdef"),
        ("tok:en-0123456789abcdef", "tok%3aen-0123456789abcdef"),
        ("tok en-0123456789abcdef", "tok%20en-0123456789abcdef"),
        ("tok\u{e9}n-0123456789abcdef", "tok%C3%A9n-0123456789abcdef"),
        ("tok\"en-0123456789abcdef", "tok\\\"en-0123456789abcdef"),
    ] {
        let scanner = Scanner::for_token(&ApiToken::new(token));
        let body = format!(
            r#"{{"rule": {{"uuid": "a", "components": [{{"value": {{"url": "https://x.example.com/?t={spelled}"}}}}]}}, "connections": []}}"#
        );
        let full = full_document(&scanner, body.as_bytes()).unwrap();
        assert!(
            full.iter().any(|f| f.status == FindingStatus::Match),
            "{spelled}: the full scan finds it"
        );
        let fast = scanner.scan_document_bytes(body.as_bytes()).unwrap();
        assert_eq!(fast, full, "{spelled}: the document byte path");
        let export = format!(
            r#"[{{"uuid": "a", "components": [{{"value": {{"url": "https://x.example.com/?t={spelled}"}}}}]}}]"#
        );
        let value: Value = serde_json::from_str(&export).unwrap();
        assert_eq!(
            scanner.scan_export_bytes(export.as_bytes()).unwrap(),
            scanner.scan_export(&value).unwrap(),
            "{spelled}: the export byte path"
        );
    }
}

/// A rule nested deeper than the parser allows (serde_json refuses more than 128 levels) is not
/// JSON the scan can read: both byte paths fail as the full scan's parse does, and never
/// overflow the stack walking it (the raw split of a document or export into rules does not
/// limit depth, and the stream walk recursed once per level).
#[test]
fn a_deeply_nested_rule_fails_as_the_parse_does_and_never_overflows_the_stack() {
    let scanner = Scanner::for_token(&ApiToken::new("ATATT3xFfGF0-review-token-0123456789"));
    let depth = 200_000;
    let nested = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    let rule = format!(
        r#"{{"uuid": "a", "x": {nested}, "components": [{{"value": {{"headers": [{{"value": "***"}}]}}}}]}}"#
    );
    let document = format!(r#"{{"rule": {rule}, "connections": []}}"#);
    let export = format!("[{rule}]");
    // Run on a thread with a test's usual stack (2 MiB), so that a deep recursion shows here.
    let outcome = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || {
            (
                scanner.scan_document_bytes(document.as_bytes()).is_err(),
                scanner.scan_export_bytes(export.as_bytes()).is_err(),
            )
        })
        .unwrap()
        .join()
        .unwrap();
    assert_eq!(outcome, (true, true), "both fail as the parse fails");
}

/// At the parser's depth limit, the document byte path agrees with the parse: the same
/// findings where it reads the document, an error where it refuses it. (The export byte path
/// parses a rule it cannot skim on its own, one or two levels shallower than in the export: it
/// may read a rule the whole export's parse refuses, as before this review.)
#[test]
fn at_the_depth_limit_the_document_byte_path_agrees_with_the_parse() {
    let scanner = Scanner::for_token(&ApiToken::new("ATATT3xFfGF0-review-token-0123456789"));
    for depth in 120..132 {
        let nested = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        let rule = format!(
            r#"{{"uuid": "a", "x": {nested}, "components": [{{"value": {{"headers": [{{"value": "***"}}]}}}}]}}"#
        );
        let document = format!(r#"{{"rule": {rule}, "connections": []}}"#);
        let fast = scanner.scan_document_bytes(document.as_bytes()).ok();
        let full = full_document(&scanner, document.as_bytes());
        assert_eq!(fast, full, "document, depth {depth}");
    }
}

/// A body the parser refuses is no rule document, wherever the bytes it refuses sit: invalid
/// UTF-8 or a raw control character in a field the rotation does not read, a BOM. The byte
/// path validated `rule` and `connections` but skipped other fields without checking their
/// strings as the full parse does.
#[test]
fn a_body_the_parser_refuses_is_refused_by_the_byte_path() {
    let scanner = Scanner::for_token(&ApiToken::new("ATATT3xFfGF0-review-token-0123456789"));
    let rule = br#"{"rule": {"uuid": "a", "components": []}, "connections": [], "extra": "#;
    for tail in [
        &b"\"caf\xe9\"}"[..],
        b"\"\xff\xfe\"}",
        b"\"a\x01b\"}",
        b"\"\xed\xa0\x80\"}",
    ] {
        let body = [&rule[..], tail].concat();
        assert!(serde_json::from_slice::<Value>(&body).is_err());
        assert!(
            scanner.scan_document_bytes(&body).is_err(),
            "{}",
            String::from_utf8_lossy(&body)
        );
    }
    let export = [&br#"{"rules": [], "extra": ""#[..], b"caf\xe9\"}"].concat();
    assert!(scanner.scan_export_bytes(&export).is_err(), "an export");
    let bom = [&b"\xef\xbb\xbf"[..], br#"{"rule": {"uuid": "a"}}"#].concat();
    assert!(scanner.scan_document_bytes(&bom).is_err());
}
