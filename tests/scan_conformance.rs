//! The scanner and rewriter on Atlassian's real rule shapes: the files in
//! `../shared/conformance/fixtures` beside the repository (or under
//! `$ATLASSIAN_ROTATION_CONFORMANCE_DIR`), read at test time, never copied. Missing data fails.

mod support;

use atlassian_rotation::automation::rewrite::rewrite_rule;
use atlassian_rotation::automation::{CredentialForm, FindingStatus, Scanner};
use atlassian_rotation::secret::ApiToken;
use base64::Engine as _;
use serde_json::Value;

/// Every real rule file, with its path; missing or incomplete reference data fails the test,
/// saying where it was expected.
fn fixtures() -> Vec<(String, Value)> {
    let data = support::conformance();
    let mut files = Vec::new();
    for kind in data.rule_fixture_kinds() {
        for file in data.json_files(&format!("fixtures/{kind}")) {
            let bytes = std::fs::read(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            let value = serde_json::from_slice(&bytes)
                .unwrap_or_else(|e| panic!("{} is not JSON: {e}", file.display()));
            files.push((file.display().to_string(), value));
        }
    }
    files.sort_by(|a, b| a.0.cmp(&b.0));
    files
}

fn fixture(files: &[(String, Value)], name: &str) -> Value {
    files
        .iter()
        .find(|(path, _)| path.ends_with(name))
        .unwrap_or_else(|| panic!("fixture {name}"))
        .1
        .clone()
}

#[test]
fn a_token_that_no_rule_holds_is_found_nowhere() {
    let files = fixtures();
    assert!(files.len() >= 8);
    let stranger = Scanner::for_token(&ApiToken::new("ATATT3xFfGF0-not-in-any-fixture=AB12CD34"));
    for (path, value) in &files {
        let findings = stranger.scan_export(value).unwrap();
        assert!(
            findings.iter().all(|f| f.status != FindingStatus::Match),
            "{path}: {findings:?}"
        );
    }
}

#[test]
fn the_basic_credential_of_a_live_rule_is_found_and_rotated_in_place() {
    let files = fixtures();
    let rule = fixture(&files, "alc0der-debug_webhook.json");
    let inventory = Scanner::inventory().scan_rule(&rule);
    let credential = inventory
        .iter()
        .find(|f| f.status == FindingStatus::Credential)
        .expect("the web request's Authorization header");
    assert_eq!(credential.form, CredentialForm::Basic);
    let email = credential.account_email.clone().unwrap();
    assert!(email.ends_with("@serviceaccount.atlassian.com"), "{email}");

    // The token, decoded the way a user who knows it would hold it.
    let header = rule.pointer(&credential.pointer).unwrap().as_str().unwrap();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(header.trim_start_matches("Basic "))
        .unwrap();
    let decoded = String::from_utf8(decoded).unwrap();
    let (_, token) = decoded.split_once(':').unwrap();
    let old = ApiToken::new(token);
    let matches: Vec<_> = Scanner::for_token(&old)
        .scan_rule(&rule)
        .into_iter()
        .filter(|f| f.status == FindingStatus::Match)
        .collect();
    assert_eq!(matches.len(), 1, "{matches:?}");
    assert_eq!(matches[0].pointer, credential.pointer);

    let new = ApiToken::new("ATATT3xFfGF0-rotated-token=0000FFFF");
    let mut rotated = rule.clone();
    let rewrites = rewrite_rule(&mut rotated, &old, &new).unwrap();
    assert_eq!(rewrites.len(), 1);
    assert!(Scanner::for_token(&old).scan_rule(&rotated).is_empty());
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD
            .encode(format!("{email}:{}", new.expose_secret()))
    );
    assert_eq!(
        rotated.pointer(&credential.pointer).unwrap(),
        &Value::String(expected)
    );
    // Everything else is untouched.
    *rotated.pointer_mut(&credential.pointer).unwrap() = Value::String(header.to_owned());
    assert_eq!(rotated, rule);
}

#[test]
fn data_center_secret_references_and_empty_headers_are_never_matches() {
    let files = fixtures();
    let dc = fixture(&files, "mkozlowski75-example-outgoing-webhook-sv2.json");
    let findings = Scanner::inventory().scan_export(&dc).unwrap();
    let reference = findings
        .iter()
        .find(|f| f.header_name.as_deref() == Some("Authorization"))
        .expect("the Authorization header");
    assert_eq!(reference.status, FindingStatus::CannotTell);
    assert_eq!(reference.form, CredentialForm::SecretReference);
    assert!(
        findings
            .iter()
            .all(|f| f.header_name.as_deref() != Some("Content-Type"))
    );

    let export = fixture(
        &files,
        "mystevotgit-automation-rule-019e7434-202605292002.json",
    );
    let findings = Scanner::inventory().scan_export(&export).unwrap();
    assert!(
        findings
            .iter()
            .all(|f| f.status != FindingStatus::Credential),
        "an empty, non-secure header carries nothing: {findings:?}"
    );
}
