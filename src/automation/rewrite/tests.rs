use serde_json::json;

use super::*;

const OLD: &str = "ATATT3xFfGF0old-unit=AAAA1111";
const NEW: &str = "ATATT3xFfGF0new-unit=BBBB2222";

fn tokens() -> (ApiToken, ApiToken) {
    (ApiToken::new(OLD), ApiToken::new(NEW))
}

fn header(value: &str) -> Value {
    json!({"components": [{"value": {"headers": [{"name": "Authorization", "value": value}]}}]})
}

fn header_after(rule: &Value) -> &str {
    rule["components"][0]["value"]["headers"][0]["value"]
        .as_str()
        .unwrap()
}

#[test]
fn basic_keeps_scheme_spelling_spacing_and_padding_style() {
    let (old, new) = tokens();
    // "ops1@example.com:" + token is 46 bytes: padded base64 ends with "==".
    let email = "ops1@example.com";
    let padded_old = secret::basic_encode(email, OLD);
    let padded_new = secret::basic_encode(email, NEW);
    assert!(padded_old.ends_with("=="), "the case needs padding");
    let (unpadded_old, unpadded_new) = (
        padded_old.trim_end_matches('='),
        padded_new.trim_end_matches('='),
    );
    for (scheme, before, after) in [
        (
            "Basic ",
            format!("Basic {padded_old}"),
            format!("Basic {padded_new}"),
        ),
        (
            "basic   ",
            format!("basic   {padded_old}"),
            format!("basic   {padded_new}"),
        ),
        (
            "BASIC\t",
            format!(" BASIC\t{padded_old} "),
            format!(" BASIC\t{padded_new} "),
        ),
        (
            "Basic ",
            format!("Basic {unpadded_old}"),
            format!("Basic {unpadded_new}"),
        ),
    ] {
        let mut rule = header(&before);
        let changes = rewrite_rule(&mut rule, &old, &new).unwrap();
        assert_eq!(header_after(&rule), after);
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].form, CredentialForm::Basic);
        assert_eq!(
            changes[0].before,
            format!("{scheme}[redacted {email}:token#{}]", old.fingerprint())
        );
        assert_eq!(
            changes[0].after,
            format!("{scheme}[redacted {email}:token#{}]", new.fingerprint())
        );
    }
}

#[test]
fn percent_encoded_tokens_stay_percent_encoded_in_the_same_hex_case() {
    let (old, new) = tokens();
    let mut rule = json!({"components": [{"value": {
        "url": "https://example.com/a?t=ATATT3xFfGF0old-unit%3dAAAA1111&u=ATATT3xFfGF0old-unit%3DAAAA1111",
        "customBody": format!("{{\"token\":\"{OLD}\"}}")
    }}]});
    let changes = rewrite_rule(&mut rule, &old, &new).unwrap();
    assert_eq!(
        rule["components"][0]["value"]["url"],
        "https://example.com/a?t=ATATT3xFfGF0new-unit%3dBBBB2222&u=ATATT3xFfGF0new-unit%3DBBBB2222"
    );
    assert_eq!(
        rule["components"][0]["value"]["customBody"],
        format!("{{\"token\":\"{NEW}\"}}")
    );
    let previews: Vec<_> = changes.iter().map(|c| (c.form, c.before.clone())).collect();
    assert_eq!(
        previews,
        [
            (
                CredentialForm::Url,
                format!("…[redacted token#{}] (×2)", old.fingerprint())
            ),
            (
                CredentialForm::CustomBody,
                format!("…[redacted token#{}]…", old.fingerprint())
            ),
        ]
    );
}

#[test]
fn bearer_and_bare_keep_their_form() {
    let (old, new) = tokens();
    let mut rule = json!({"components": [{"value": {"headers": [
        {"name": "Authorization", "value": format!("Bearer   {OLD}")},
        {"name": "X-Api-Key", "value": OLD},
    ]}}]});
    let changes = rewrite_rule(&mut rule, &old, &new).unwrap();
    let headers = &rule["components"][0]["value"]["headers"];
    assert_eq!(headers[0]["value"], format!("Bearer   {NEW}"));
    assert_eq!(headers[1]["value"], NEW);
    assert_eq!(
        changes[0].after,
        format!("Bearer   [redacted token#{}]", new.fingerprint())
    );
    assert_eq!(
        changes[1].after,
        format!("[redacted token#{}]", new.fingerprint())
    );
}

#[test]
fn bad_new_tokens_are_refused_and_nothing_changes() {
    let (old, _) = tokens();
    let original = header(&format!("Bearer {OLD}"));
    for (bad, reason) in [
        ("", "is empty"),
        ("new token", "contains whitespace"),
        ("new\r\ntoken", "contains a control character"),
        (OLD, "is the same as the old one"),
        (
            "prefix.ATATT3xFfGF0old-unit=AAAA1111",
            "contains the old token",
        ),
    ] {
        let mut rule = original.clone();
        let err = rewrite_rule(&mut rule, &old, &ApiToken::new(bad)).unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, Error::InvalidInput { .. }), "{text}");
        assert!(text.contains(reason), "{text}");
        assert!(!text.contains(OLD), "{text}");
        assert_eq!(rule, original);
        assert!(plan_rule(&rule, &old, &ApiToken::new(bad)).is_err());
    }
    let err = plan_rule(&original, &ApiToken::new(""), &ApiToken::new(NEW)).unwrap_err();
    assert!(err.to_string().contains("old API token"), "{err}");
}

#[test]
fn plan_changes_nothing_and_matches_the_rewrite() {
    let (old, new) = tokens();
    let rule = header(&format!("Bearer {OLD}"));
    let plan = plan_rule(&rule, &old, &new).unwrap();
    assert_eq!(rule, header(&format!("Bearer {OLD}")));
    let mut rewritten = rule.clone();
    assert_eq!(rewrite_rule(&mut rewritten, &old, &new).unwrap(), plan);
    assert_eq!(
        plan[0].to_string(),
        format!(
            "/components/0/value/headers/0/value (bearer): Bearer [redacted token#{}] -> Bearer [redacted token#{}]",
            old.fingerprint(),
            new.fingerprint()
        )
    );
}

#[test]
fn basic_for_another_token_and_masked_values_are_left_alone() {
    let (old, new) = tokens();
    let other = secret::basic_encode("ops@example.com", "ATATT3xFfGF0someone-else");
    let mut rule = json!({"components": [{"value": {"headers": [
        {"name": "Authorization", "value": format!("Basic {other}")},
        {"name": "Authorization", "value": "***", "headerSecure": true},
        {"name": "Authorization", "value": "", "headerSecure": true},
    ]}}]});
    let before = rule.clone();
    assert!(rewrite_rule(&mut rule, &old, &new).unwrap().is_empty());
    assert_eq!(rule, before);
}

#[test]
fn a_clear_token_after_a_basic_value_is_replaced_too() {
    let (old, new) = tokens();
    let encoded = secret::basic_encode("ops1@example.com", OLD);
    let mut rule = header(&format!("Basic {encoded}, X-Key {OLD}"));
    let changes = rewrite_rule(&mut rule, &old, &new).unwrap();
    assert_eq!(changes.len(), 1);
    assert_eq!(
        header_after(&rule),
        format!(
            "Basic {}, X-Key {NEW}",
            secret::basic_encode("ops1@example.com", NEW)
        )
    );
    assert_eq!(
        changes[0].before,
        format!(
            "Basic [redacted ops1@example.com:token#{}]…",
            old.fingerprint()
        )
    );
    assert!(Scanner::for_token(&old).scan_rule(&rule).is_empty());
}

#[test]
fn base64_outside_basic_is_rewritten_and_previewed_as_base64() {
    use base64::Engine as _;
    let (old, new) = tokens();
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let before = engine.encode(format!(
        "{{\"user\":\"a@example.com\",\"token\":\"{OLD}\"}}"
    ));
    let mut rule = header(&format!("Token {before}"));
    let changes = rewrite_rule(&mut rule, &old, &new).unwrap();
    let after = engine.encode(format!(
        "{{\"user\":\"a@example.com\",\"token\":\"{NEW}\"}}"
    ));
    assert_eq!(header_after(&rule), format!("Token {after}"));
    assert_eq!(changes[0].form, CredentialForm::Base64);
    assert_eq!(
        changes[0].before,
        format!("…[redacted base64 token#{}]", old.fingerprint())
    );
}
