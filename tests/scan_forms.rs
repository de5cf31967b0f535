//! Every form of a token the scanner knows, found by `Scanner::for_token` alone (no email), and
//! rewritten in the same form; what counts as an unreadable value; and redaction of every form
//! in what the crate shows.

use atlassian_rotation::automation::rewrite::{plan_rule, rewrite_rule};
use atlassian_rotation::automation::scan::{CredentialForm, Finding, FindingStatus, Scanner};
use atlassian_rotation::secret::ApiToken;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};

const OLD: &str = "ATATT3xFfGF0Forms/old+Token=A1B2";
const NEW: &str = "ATATT3xFfGF0Forms/new+Token=Z9Y8";

fn old() -> ApiToken {
    ApiToken::new(OLD)
}

fn new() -> ApiToken {
    ApiToken::new(NEW)
}

fn matches(rule: &Value, token: &str) -> Vec<(String, CredentialForm)> {
    Scanner::for_token(&ApiToken::new(token))
        .scan_rule(rule)
        .into_iter()
        .filter(|f| f.status == FindingStatus::Match)
        .map(|f| (f.pointer, f.form))
        .collect()
}

fn webhook(value: Value) -> Value {
    json!({"components": [{"type": "jira.issue.outgoing.webhook", "value": value}]})
}

/// `text` with the bytes `pick` selects percent-encoded.
fn percent(text: &str, upper: bool, pick: impl Fn(usize, u8) -> bool) -> String {
    text.bytes()
        .enumerate()
        .map(|(i, b)| match (pick(i, b), upper) {
            (true, true) => format!("%{b:02X}"),
            (true, false) => format!("%{b:02x}"),
            (false, _) => char::from(b).to_string(),
        })
        .collect()
}

#[test]
fn base64_of_email_and_token_is_found_anywhere_without_the_email() {
    let pair = STANDARD.encode(format!("anyone@example.com:{OLD}"));
    let url_safe = URL_SAFE_NO_PAD.encode(format!("someone.else@example.org:{OLD}"));
    let rule = webhook(json!({
        "url": format!("https://relay.example.com/hook?auth={url_safe}&x=1"),
        "headers": [
            {"name": "X-Credentials", "value": pair},
            {"name": "Authorization", "value": format!("Token {pair}")},
        ],
        "customBody": format!("{{\"auth\":\"{pair}\"}}"),
    }));
    let v = "/components/0/value";
    assert_eq!(
        matches(&rule, OLD),
        [
            (format!("{v}/url"), CredentialForm::Base64),
            (format!("{v}/headers/0/value"), CredentialForm::Base64),
            (format!("{v}/headers/1/value"), CredentialForm::Base64),
            (format!("{v}/customBody"), CredentialForm::Base64),
        ]
    );
    let mut rewritten = rule.clone();
    assert_eq!(
        rewrite_rule(&mut rewritten, &old(), &new()).unwrap().len(),
        4
    );
    assert!(matches(&rewritten, OLD).is_empty());
    assert_eq!(matches(&rewritten, NEW).len(), 4);
    assert_eq!(
        rewritten["components"][0]["value"]["headers"][0]["value"],
        STANDARD.encode(format!("anyone@example.com:{NEW}"))
    );
    assert_eq!(
        rewritten["components"][0]["value"]["url"],
        format!(
            "https://relay.example.com/hook?auth={}&x=1",
            URL_SAFE_NO_PAD.encode(format!("someone.else@example.org:{NEW}"))
        )
    );
}

#[test]
fn basic_in_any_case_and_spacing_is_found_and_keeps_its_email() {
    let pair = STANDARD.encode(format!("ops@example.com:{OLD}"));
    for value in [
        format!("Basic {pair}"),
        format!("basic {pair}"),
        format!("BASIC\t\t{pair}"),
        format!("  bAsIc   {}", pair.trim_end_matches('=')),
    ] {
        let mut rule = webhook(json!({"headers": [{"name": "authorization", "value": value}]}));
        let findings = Scanner::for_token(&old()).scan_rule(&rule);
        assert_eq!(findings.len(), 1, "{value}");
        assert_eq!(findings[0].form, CredentialForm::Basic);
        assert_eq!(
            findings[0].account_email.as_deref(),
            Some("ops@example.com")
        );
        assert!(findings[0].rewritable);
        rewrite_rule(&mut rule, &old(), &new()).unwrap();
        let new_pair = STANDARD.encode(format!("ops@example.com:{NEW}"));
        let expected = if value.ends_with('=') {
            value.replace(&pair, &new_pair)
        } else {
            value.replace(pair.trim_end_matches('='), new_pair.trim_end_matches('='))
        };
        assert_eq!(
            rule["components"][0]["value"]["headers"][0]["value"],
            expected
        );
    }
}

#[test]
fn json_escaped_tokens_in_a_json_body_are_found_and_rewritten_in_the_same_style() {
    let escaped = OLD
        .replace('/', r"\/")
        .replace('=', r"\u003d")
        .replace('+', r"\u002B");
    let double = OLD.replace('/', r"\\\/").replace('=', r"\\u003D");
    let body = format!(r#"{{"token":"{escaped}","inner":"{{\"t\":\"{double}\"}}"}}"#);
    let mut rule = webhook(json!({"customBody": body}));
    assert_eq!(
        matches(&rule, OLD),
        [(
            "/components/0/value/customBody".to_owned(),
            CredentialForm::CustomBody
        )]
    );
    let changes = rewrite_rule(&mut rule, &old(), &new()).unwrap();
    assert!(
        changes[0].before.ends_with("(×2)…"),
        "{}",
        changes[0].before
    );
    let new_escaped = NEW
        .replace('/', r"\/")
        .replace('=', r"\u003d")
        .replace('+', r"\u002B");
    let new_double = NEW.replace('/', r"\\\/").replace('=', r"\\u003D");
    assert_eq!(
        rule["components"][0]["value"]["customBody"],
        format!(r#"{{"token":"{new_escaped}","inner":"{{\"t\":\"{new_double}\"}}"}}"#)
    );
    assert!(matches(&rule, OLD).is_empty());
}

#[test]
fn percent_encoding_of_some_or_all_bytes_in_either_case_is_found_and_kept() {
    for (upper, pick) in [
        (
            true,
            (|_, b: u8| !b.is_ascii_alphanumeric()) as fn(usize, u8) -> bool,
        ),
        (false, |_, b: u8| !b.is_ascii_alphanumeric()),
        (true, |i, _| i % 2 == 0),
        (false, |_, b: u8| b == b'='),
    ] {
        let url = format!(
            "https://x.example.com/h?key={}&y=2",
            percent(OLD, upper, pick)
        );
        let mut rule = webhook(json!({"url": url}));
        assert_eq!(matches(&rule, OLD).len(), 1, "{url}");
        rewrite_rule(&mut rule, &old(), &new()).unwrap();
        let after = rule["components"][0]["value"]["url"].as_str().unwrap();
        assert!(matches(&rule, OLD).is_empty(), "{after}");
        assert_eq!(matches(&rule, NEW).len(), 1, "{after}");
        assert!(after.starts_with("https://x.example.com/h?key=") && after.ends_with("&y=2"));
    }
}

#[test]
fn a_token_in_an_object_key_is_a_match_no_rewrite_changes() {
    let rule = webhook(json!({"mapping": {OLD: "x"}}));
    let findings = Scanner::for_token(&old()).scan_rule(&rule);
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].form, CredentialForm::Key);
    assert_eq!(findings[0].status, FindingStatus::Match);
    assert!(!findings[0].rewritable);
    assert!(findings[0].to_string().contains("not rewritable"));
    assert!(!findings[0].to_string().contains(OLD));
    assert!(plan_rule(&rule, &old(), &new()).unwrap().is_empty());
}

#[test]
fn a_pointer_through_a_key_holding_the_token_is_redacted_and_not_rewritable() {
    let rule = webhook(json!({"mapping": {OLD: {"auth": format!("Bearer {OLD}")}}}));
    let findings = Scanner::for_token(&old()).scan_rule(&rule);
    assert_eq!(findings.len(), 2);
    for finding in &findings {
        let shown = format!(
            "{finding:?}{finding}{}",
            serde_json::to_string(finding).unwrap()
        );
        assert!(!shown.contains(OLD), "{shown}");
        assert_eq!(finding.status, FindingStatus::Match);
        assert!(!finding.rewritable, "{finding}");
    }
    assert!(plan_rule(&rule, &old(), &new()).unwrap().is_empty());
}

#[test]
fn string_matches_are_rewritable() {
    let rule = webhook(json!({"headers": [{"name": "X-Api-Key", "value": OLD}], "note": OLD}));
    let findings = Scanner::for_token(&old()).scan_rule(&rule);
    assert_eq!(findings.len(), 2);
    assert!(findings.iter().all(|f| f.rewritable));
}

/// (pointer, form, status) of every finding.
fn summary(findings: &[Finding]) -> Vec<(String, CredentialForm, FindingStatus)> {
    findings
        .iter()
        .map(|f| (f.pointer.clone(), f.form, f.status))
        .collect()
}

#[test]
fn an_unreadable_secure_header_value_of_any_kind_is_masked_and_never_written() {
    let headers = json!([
        {"name": "Authorization", "value": null, "headerSecure": true},
        {"name": "X-A", "headerSecure": true},
        {"name": "X-B", "value": "", "headerSecure": true},
        {"name": "X-C", "value": 42, "headerSecure": true},
        {"name": "X-D", "value": {"a": 1}, "headerSecure": true},
        {"name": "X-E", "value": ["x"], "headerSecure": true},
        {"name": "X-F", "value": false, "headerSecure": true},
        {"name": "X-G", "value": "*", "headerSecure": true},
        {"name": "X-H", "value": "**", "headerSecure": false},
        {"name": "X-Api-Key", "value": null},
        {"name": "X-Auth-Token", "value": "*"},
        {"name": "Authorization", "value": ""},
    ]);
    let mut rule = webhook(json!({"headers": headers, "note": OLD}));
    let h = "/components/0/value/headers";
    let masked: Vec<_> = (0..12)
        .map(|i| {
            (
                format!("{h}/{i}/value"),
                CredentialForm::Masked,
                FindingStatus::CannotTell,
            )
        })
        .collect();
    let findings = Scanner::for_token(&old()).scan_rule(&rule);
    assert_eq!(summary(&findings[..12]), masked);
    assert_eq!(findings.len(), 13, "and the match in `note`");
    assert_eq!(summary(&Scanner::inventory().scan_rule(&rule)), masked);

    let before = rule.clone();
    rewrite_rule(&mut rule, &old(), &new()).unwrap();
    assert_eq!(
        rule["components"][0]["value"]["headers"],
        before["components"][0]["value"]["headers"]
    );
}

#[test]
fn a_lone_star_or_empty_value_in_an_ordinary_header_is_a_value_not_a_mask() {
    let rule = webhook(json!({"headers": [
        {"name": "If-Match", "value": "*"},
        {"name": "If-None-Match", "value": "*", "headerSecure": false},
        {"name": "X-Empty", "value": ""},
        {"name": "X-Count", "value": 3},
        {"name": "X-Null", "value": null},
    ]}));
    assert!(Scanner::for_token(&old()).scan_rule(&rule).is_empty());
    assert!(Scanner::inventory().scan_rule(&rule).is_empty());
}

#[test]
fn data_center_values_that_are_not_strings_are_unreadable() {
    let rule = json!({"components": [{"schemaVersion": 2, "value": {"headers": [
        {"name": "X-A", "value": {"keyOrValue": null, "secret": false}},
        {"name": "X-B", "value": {"keyOrValue": 7, "secret": false}},
        {"name": "X-C", "value": {"keyOrValue": {"k": "v"}}},
        {"name": "X-D", "value": {"keyOrValue": "NAME", "secret": "yes"}},
        {"name": "X-E", "value": {"keyOrValue": "plain", "secret": false}},
        {"name": "X-F", "value": {"keyOrValue": OLD, "secret": null}},
    ]}}]});
    let h = "/components/0/value/headers";
    assert_eq!(
        summary(&Scanner::for_token(&old()).scan_rule(&rule)),
        [
            (
                format!("{h}/0/value/keyOrValue"),
                CredentialForm::Masked,
                FindingStatus::CannotTell
            ),
            (
                format!("{h}/1/value/keyOrValue"),
                CredentialForm::Masked,
                FindingStatus::CannotTell
            ),
            (
                format!("{h}/2/value/keyOrValue"),
                CredentialForm::Masked,
                FindingStatus::CannotTell
            ),
            (
                format!("{h}/3/value/keyOrValue"),
                CredentialForm::SecretReference,
                FindingStatus::CannotTell
            ),
            (
                format!("{h}/5/value/keyOrValue"),
                CredentialForm::BareHeader,
                FindingStatus::Match
            ),
        ]
    );
}

#[test]
fn an_unreadable_secure_url_is_masked_and_never_written() {
    for url in [
        json!(null),
        json!(""),
        json!(5),
        json!("*"),
        json!("****"),
        json!({"u": 1}),
    ] {
        let mut rule = webhook(json!({"url": url.clone(), "urlSecure": true, "note": OLD}));
        let findings = Scanner::for_token(&old()).scan_rule(&rule);
        assert_eq!(
            summary(&findings)[0],
            (
                "/components/0/value/url".to_owned(),
                CredentialForm::Masked,
                FindingStatus::CannotTell
            ),
            "{url}"
        );
        rewrite_rule(&mut rule, &old(), &new()).unwrap();
        assert_eq!(rule["components"][0]["value"]["url"], url);
    }
    let missing = webhook(json!({"urlSecure": true}));
    assert_eq!(
        summary(&Scanner::for_token(&old()).scan_rule(&missing)),
        [(
            "/components/0/value/url".to_owned(),
            CredentialForm::Masked,
            FindingStatus::CannotTell
        )]
    );
    // Not secure: an empty or null URL is just that.
    let plain = webhook(json!({"url": "", "urlSecure": false, "other": {"url": null}}));
    assert!(Scanner::for_token(&old()).scan_rule(&plain).is_empty());
}

#[test]
fn every_form_is_redacted_in_names_uuids_and_previews() {
    let pair = STANDARD.encode(format!("a@example.com:{OLD}"));
    let escaped = percent(OLD, true, |_, b| !b.is_ascii_alphanumeric());
    let rule = json!({
        "uuid": format!("u-{escaped}"),
        "name": format!("Sync {pair} {}", OLD.replace('/', r"\/")),
        "components": [{"value": {"headers": [
            {"name": format!("X-{escaped}"), "value": OLD},
        ]}}]
    });
    let scanner = Scanner::for_token(&old());
    let mut shown = String::new();
    for finding in scanner.scan_rule(&rule) {
        shown.push_str(&format!(
            "{finding:?}{finding}{}",
            serde_json::to_string(&finding).unwrap()
        ));
    }
    for change in plan_rule(&rule, &old(), &new()).unwrap() {
        shown.push_str(&format!(
            "{change:?}{change}{}",
            serde_json::to_string(&change).unwrap()
        ));
    }
    for form in [OLD, &pair, &escaped, "Forms", &OLD.replace('/', r"\/")] {
        assert!(!shown.contains(form), "{form} shown in {shown}");
    }
    assert_eq!(
        scanner.redact(rule["name"].as_str().unwrap()),
        "Sync [redacted] [redacted]"
    );
    assert_eq!(
        scanner.redact(rule["uuid"].as_str().unwrap()),
        "u-[redacted]"
    );
}

#[test]
fn every_credential_inventory_reports_is_found_by_a_scanner_for_that_token() {
    let pair = STANDARD.encode(format!("ops@example.com:{OLD}"));
    let rule = webhook(json!({"headers": [
        {"name": "Authorization", "value": format!("Basic {pair}")},
        {"name": "authorization", "value": format!("basic\t{}", pair.trim_end_matches('='))},
        {"name": "Proxy-Authorization", "value": format!("BEARER  {OLD}")},
        {"name": "X-Api-Key", "value": OLD},
        {"name": "X-Auth-Token", "value": format!(" {OLD} ")},
    ]}));
    let inventory: Vec<String> = Scanner::inventory()
        .scan_rule(&rule)
        .into_iter()
        .filter(|f| f.status == FindingStatus::Credential)
        .map(|f| f.pointer)
        .collect();
    assert_eq!(inventory.len(), 5);
    let found: Vec<String> = matches(&rule, OLD).into_iter().map(|(p, _)| p).collect();
    assert_eq!(found, inventory);
}
