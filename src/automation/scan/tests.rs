use serde_json::json;

use super::*;

const TOKEN: &str = "ATATT3xFfGF0unit-Test_token=0A1B2C3D";

fn scanner() -> Scanner {
    Scanner::for_token(&ApiToken::new(TOKEN))
}

fn summary(findings: &[Finding]) -> Vec<(String, CredentialForm, FindingStatus)> {
    findings
        .iter()
        .map(|f| (f.pointer.clone(), f.form, f.status))
        .collect()
}

fn webhook(headers: Value) -> Value {
    json!({"type": "jira.issue.outgoing.webhook", "value": {"url": "https://example.com", "headers": headers}})
}

#[test]
fn pointers_escape_tilde_and_slash() {
    let rule = json!({"a/b": {"c~d": [TOKEN]}});
    assert_eq!(
        summary(&scanner().scan_rule(&rule)),
        [(
            "/a~1b/c~0d/0".to_owned(),
            CredentialForm::OtherString,
            FindingStatus::Match
        )]
    );
    // The pointer resolves back to the string it names.
    let finding = &scanner().scan_rule(&rule)[0];
    assert_eq!(rule.pointer(&finding.pointer), Some(&json!(TOKEN)));
}

#[test]
fn bearer_is_told_apart_from_bare_and_from_other_tokens() {
    let rule = json!({"components": [webhook(json!([
        {"name": "Authorization", "value": format!("bearer  {TOKEN}")},
        {"name": "X-Key", "value": TOKEN},
        {"name": "X-Other", "value": "Bearer ATATT3xFfGF0unit-Test_token=0A1B2C3E"},
    ]))]});
    let findings = scanner().scan_rule(&rule);
    assert_eq!(
        summary(&findings),
        [
            (
                "/components/0/value/headers/0/value".to_owned(),
                CredentialForm::Bearer,
                FindingStatus::Match
            ),
            (
                "/components/0/value/headers/1/value".to_owned(),
                CredentialForm::BareHeader,
                FindingStatus::Match
            ),
        ]
    );
    assert_eq!(findings[0].header_name.as_deref(), Some("Authorization"));
}

#[test]
fn a_secure_header_that_is_empty_or_masked_cannot_be_told() {
    let rule = json!({"components": [webhook(json!([
        {"name": "Authorization", "value": "", "headerSecure": true},
        {"name": "X-Key", "value": "*****", "headerSecure": false},
        {"name": "X-Empty", "value": "", "headerSecure": false},
    ]))]});
    let findings = scanner().scan_rule(&rule);
    let forms: Vec<_> = findings.iter().map(|f| (f.form, f.status)).collect();
    assert_eq!(
        forms,
        [(CredentialForm::Masked, FindingStatus::CannotTell); 2]
    );
    assert_eq!(
        Scanner::inventory().scan_rule(&rule).len(),
        2,
        "inventory reports hidden values the same way"
    );
}

#[test]
fn data_center_literals_are_scanned_and_secret_references_cannot_be_told() {
    let rule = json!({"components": [{"schemaVersion": 2, "value": {"headers": [
        {"id": "h1", "name": "Authorization", "value": {"keyOrValue": "STORED_KEY", "secret": true}},
        {"id": "h2", "name": "X-Api-Key", "value": {"keyOrValue": TOKEN, "secret": false}},
    ]}}]});
    let findings = scanner().scan_rule(&rule);
    assert_eq!(
        summary(&findings),
        [
            (
                "/components/0/value/headers/0/value/keyOrValue".to_owned(),
                CredentialForm::SecretReference,
                FindingStatus::CannotTell
            ),
            (
                "/components/0/value/headers/1/value/keyOrValue".to_owned(),
                CredentialForm::BareHeader,
                FindingStatus::Match
            ),
        ]
    );
    // A secret reference never matches, even when it happens to spell the token.
    let named_like_token =
        json!({"headers": [{"name": "A", "value": {"keyOrValue": TOKEN, "secret": true}}]});
    let statuses: Vec<_> = scanner()
        .scan_rule(&named_like_token)
        .iter()
        .map(|f| f.status)
        .collect();
    assert_eq!(statuses, [FindingStatus::CannotTell]);
}

#[test]
fn masked_or_empty_secure_url_cannot_be_told() {
    let rule = json!({"components": [
        {"value": {"url": "***", "urlSecure": false}},
        {"value": {"url": "", "urlSecure": true}},
        {"value": {"url": "", "urlSecure": false}},
    ]});
    let pointers: Vec<_> = scanner()
        .scan_rule(&rule)
        .into_iter()
        .map(|f| (f.pointer, f.form))
        .collect();
    assert_eq!(
        pointers,
        [
            ("/components/0/value/url".to_owned(), CredentialForm::Masked),
            ("/components/1/value/url".to_owned(), CredentialForm::Masked),
        ]
    );
}

#[test]
fn inventory_lists_credential_headers_only() {
    let basic = crate::secret::basic_encode("bot@example.com", "whatever");
    let rule = json!({"components": [webhook(json!([
        {"name": "Content-Type", "value": "application/json"},
        {"name": "Accept", "value": format!("Basic {basic}")},
        {"name": "Proxy-Authorization", "value": "Bearer abc"},
        {"name": "X-API-KEY", "value": "k"},
        {"name": "x-auth-token", "value": "t"},
        {"name": "X-Trace", "value": "1234"},
    ]))]});
    let findings = Scanner::inventory().scan_rule(&rule);
    let seen: Vec<_> = findings
        .iter()
        .map(|f| {
            (
                f.header_name.clone().unwrap(),
                f.form,
                f.status,
                f.account_email.clone(),
            )
        })
        .collect();
    let credential = FindingStatus::Credential;
    assert_eq!(
        seen,
        [
            (
                "Accept".to_owned(),
                CredentialForm::Basic,
                credential,
                Some("bot@example.com".to_owned())
            ),
            (
                "Proxy-Authorization".to_owned(),
                CredentialForm::Bearer,
                credential,
                None
            ),
            (
                "X-API-KEY".to_owned(),
                CredentialForm::BareHeader,
                credential,
                None
            ),
            (
                "x-auth-token".to_owned(),
                CredentialForm::BareHeader,
                credential,
                None
            ),
        ]
    );
}

#[test]
fn rule_identity_comes_from_uuid_or_older_ids() {
    let cases = [
        (
            json!({"uuid": "u-1", "id": 5, "name": "N"}),
            (Some("u-1"), Some("N")),
        ),
        (
            json!({"id": 39174, "name": "Old"}),
            (Some("39174"), Some("Old")),
        ),
        (json!({"id": "77"}), (Some("77"), None)),
        (
            json!({"id": "9000200", "component": "ACTION"}),
            (None, None),
        ),
        (json!([1]), (None, None)),
    ];
    for (rule, (uuid, name)) in cases {
        let (got_uuid, got_name) = rule_identity(&rule);
        assert_eq!(
            (got_uuid.as_deref(), got_name.as_deref()),
            (uuid, name),
            "{rule}"
        );
    }
}

#[test]
fn export_shapes_and_refusals() {
    let rule = json!({"uuid": "r", "components": [{"value": TOKEN}]});
    let s = scanner();
    let index_of = |v: &Value| -> Vec<Option<usize>> {
        s.scan_export(v)
            .unwrap()
            .iter()
            .map(|f| f.rule_index)
            .collect()
    };
    assert_eq!(
        index_of(&json!({"rules": [{"components": []}, rule], "cloud": true})),
        [Some(1)]
    );
    assert_eq!(index_of(&json!([rule, rule])), [Some(0), Some(1)]);
    assert_eq!(index_of(&rule), [None]);
    let response = json!({"rule": rule, "connections": []});
    let findings = s.scan_export(&response).unwrap();
    assert_eq!(
        findings[0].pointer, "/components/0/value",
        "from the rule root"
    );
    assert_eq!(findings[0].rule_uuid.as_deref(), Some("r"));
    for bad in [
        json!({"rules": {}}),
        json!({"cloud": true}),
        json!("rules"),
        json!(3),
    ] {
        let err = s.scan_export(&bad).unwrap_err();
        assert!(matches!(err, Error::InvalidInput { .. }), "{bad}: {err}");
    }
}

#[test]
fn scanner_debug_hides_the_token() {
    let scanner = scanner().with_email("ops@example.com");
    let shown = format!("{scanner:?}");
    assert!(!shown.contains(TOKEN), "{shown}");
    assert_eq!(
        format!("{:?}", Scanner::inventory()),
        "Scanner { mode: \"inventory\", .. }"
    );
}

#[test]
fn a_token_spelled_in_a_rule_or_header_name_is_redacted_in_findings() {
    let rule = json!({"uuid": "u", "name": format!("Uses {TOKEN}"), "components": [webhook(json!([
        {"name": format!("X-{TOKEN}"), "value": TOKEN},
    ]))]});
    let findings = scanner().scan_rule(&rule);
    assert_eq!(findings.len(), 2, "the header value and the header name");
    for finding in &findings {
        let shown = format!("{finding:?} {finding}");
        assert!(!shown.contains(TOKEN), "{shown}");
        assert_eq!(finding.rule_name.as_deref(), Some("Uses [redacted]"));
    }
    assert_eq!(findings[1].header_name.as_deref(), Some("X-[redacted]"));
}

#[test]
fn a_lone_component_is_scanned_as_a_single_item() {
    let component = json!({"id": "9100", "component": "ACTION", "schemaVersion": 2,
    "type": "jira.issue.outgoing.webhook", "value": {"headers": [
        {"id": "h", "name": "Authorization", "value": {"keyOrValue": "REF", "secret": true}}
    ]}});
    let findings = scanner().scan_export(&component).unwrap();
    assert_eq!(
        summary(&findings),
        [(
            "/value/headers/0/value/keyOrValue".to_owned(),
            CredentialForm::SecretReference,
            FindingStatus::CannotTell
        )]
    );
    assert_eq!(
        findings[0].rule_uuid, None,
        "a component id is not a rule id"
    );
}
