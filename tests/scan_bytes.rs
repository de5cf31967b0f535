//! The byte path of the export scan (`Scanner::scan_export_bytes`, which searches the raw bytes
//! for every form of the token and parses only the rules that could hold it) finds exactly what
//! the full scan (`Scanner::scan_export` over the parsed export) finds: the same findings, in
//! the same order, over generated rules with the token planted in every form and escape, with
//! masked values, secret references and decoys around it. The same holds for one rule document
//! as `GET rule` returns it (`Scanner::scan_document_bytes` against `Scanner::scan_document`),
//! the path every bulk pass reads rules by.

use atlassian_rotation::automation::scan::Scanner;
use atlassian_rotation::secret::ApiToken;
use base64::Engine as _;
use proptest::prelude::*;
use serde_json::{Value, json};

#[path = "scan_props/strategies.rs"]
mod strategies;
use strategies::*;

/// Both paths over `export` written compactly and pretty-printed.
fn assert_same(token: &str, export: &Value) -> Result<(), TestCaseError> {
    let scanner = Scanner::for_token(&ApiToken::new(token));
    let full = scanner
        .scan_export(export)
        .expect("a generated export scans");
    for bytes in [
        serde_json::to_vec(export).unwrap(),
        serde_json::to_vec_pretty(export).unwrap(),
    ] {
        let fast = scanner
            .scan_export_bytes(&bytes)
            .expect("a generated export scans");
        prop_assert_eq!(&fast, &full, "{}", String::from_utf8_lossy(&bytes));
    }
    Ok(())
}

/// Both paths over one rule document (`{"rule", "connections"}`), compact and pretty-printed.
fn assert_same_document(token: &str, document: &Value) -> Result<(), TestCaseError> {
    let scanner = Scanner::for_token(&ApiToken::new(token));
    let full = scanner.scan_document(document);
    for bytes in [
        serde_json::to_vec(document).unwrap(),
        serde_json::to_vec_pretty(document).unwrap(),
    ] {
        let fast = scanner
            .scan_document_bytes(&bytes)
            .expect("a generated document scans");
        prop_assert_eq!(&fast, &full, "{}", String::from_utf8_lossy(&bytes));
    }
    Ok(())
}

/// A rule document around `rule`: connections absent, `null`, empty, or one connection whose
/// configuration is `other` (a generated rule, so anything a rule can hold).
fn document(rule: Value, other: Value, connections: usize) -> Value {
    match connections {
        0 => json!({"rule": rule}),
        1 => json!({"rule": rule, "connections": null}),
        2 => json!({"rule": rule, "connections": []}),
        _ => json!({"rule": rule, "connections": [
            {"id": "c-1", "accountId": "557058:abc", "config": other}
        ]}),
    }
}

/// base64(`email:token`) wrapped with whitespace every `width` characters.
fn wrapped(email: &str, token: &str, width: usize, sep: &str) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{email}:{token}"));
    encoded
        .as_bytes()
        .chunks(width)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(sep)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Rules with the token in any form anywhere (keys, headers, URLs, bodies), masks, secret
    /// references and decoys, a few to an export, as an array and as `{"rules": [...]}`.
    #[test]
    fn the_byte_path_finds_what_the_full_scan_finds(
        (old, rules) in tokens().prop_flat_map(|(old, _)| {
            (Just(old.clone()), prop::collection::vec(rule(old), 0..5))
        })
    ) {
        assert_same(&old, &Value::Array(rules.clone()))?;
        assert_same(&old, &json!({"cloud": true, "rules": rules}))?;
    }

    /// The token planted in every form the scanner knows (marked strings), or only decoys.
    #[test]
    fn planted_forms_and_decoys_are_found_the_same((old, _, rule) in planted_case()) {
        assert_same(&old, &json!([rule, {"uuid": "plain", "components": []}]))?;
    }

    #[test]
    fn clean_rules_are_found_the_same((old, rule) in clean_case()) {
        assert_same(&old, &json!({"rules": [rule]}))?;
    }

    /// A rule document's byte path finds what scanning the parsed document finds, whether the
    /// token (in any form), a mask or a decoy sits in the rule or in a connection.
    #[test]
    fn the_document_byte_path_finds_what_the_full_scan_finds(
        (old, rule, other) in tokens().prop_flat_map(|(old, _)| {
            (Just(old.clone()), rule(old.clone()), rule(old))
        }),
        connections in 0..4usize,
    ) {
        assert_same_document(&old, &document(rule, other, connections))?;
    }

    /// The token planted in every form in a document's rule, or only decoys; clean rules.
    #[test]
    fn planted_forms_in_a_document_are_found_the_same(
        (old, _, planted) in planted_case(),
        connections in 0..4usize,
    ) {
        let plain = json!({"uuid": "plain", "components": []});
        assert_same_document(&old, &document(planted.clone(), plain.clone(), connections))?;
        assert_same_document(&old, &document(plain, planted, 3))?;
    }

    #[test]
    fn clean_documents_are_found_the_same((old, rule) in clean_case(), connections in 0..4usize) {
        assert_same_document(&old, &document(rule, json!({"enabled": true}), connections))?;
    }

    /// Base64 of `email:token` broken by whitespace between groups (wrapped at any multiple of
    /// four columns, with any of the breaks a writer uses), in a header and in a body.
    #[test]
    fn wrapped_base64_is_found_the_same(
        (old, _) in tokens(),
        email in "[a-z]{1,8}@example\\.com",
        groups in 1..20usize,
        sep in prop::sample::select(vec![" ", "\n", "\r\n", "\t", "\\n"]),
    ) {
        let value = wrapped(&email, &old, groups * 4, sep);
        let rule = json!({"uuid": "w", "components": [{"value": {
            "headers": [{"name": "Authorization", "value": format!("Basic {value}"), "headerSecure": false}],
            "customBody": format!("{{\"auth\": \"{value}\"}}"),
        }}]});
        assert_same(&old, &json!([rule]))?;
    }
}

/// A document with a duplicate `rule` is read as the parser reads it (the last one wins), so a
/// token in the second copy is found, never hidden behind a clean first copy.
#[test]
fn a_duplicate_rule_in_a_document_hides_no_token() {
    let token = "tok-duplicate-0123456789abcdef";
    let scanner = Scanner::for_token(&ApiToken::new(token));
    let body = format!(
        r#"{{"rule": {{"uuid": "a", "components": []}},
            "rule": {{"uuid": "a", "components": [{{"value": {{"headers": [
                {{"name": "Authorization", "value": "Bearer {token}", "headerSecure": false}}]}}}}]}}}}"#
    );
    let parsed: Value = serde_json::from_str(&body).unwrap();
    let fast = scanner.scan_document_bytes(body.as_bytes()).unwrap();
    assert_eq!(fast, scanner.scan_document(&parsed));
    assert_eq!(fast.len(), 1, "{fast:?}");
}
