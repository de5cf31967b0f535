//! The scanner and rewriter against rules authored for these tests (`tests/fixtures/scan/`):
//! nested IF/ELSE blocks and branches, every credential form, decoys, masks, Data Center secret
//! references and an export with several rules.

use atlassian_rotation::Error;
use atlassian_rotation::automation::rewrite::{Rewrite, plan_rule, rewrite_rule};
use atlassian_rotation::automation::scan::{CredentialForm, Finding, FindingStatus, Scanner};
use atlassian_rotation::secret::ApiToken;
use base64::Engine as _;
use serde_json::{Value, json};

const TOKEN: &str = "ATATT3xFfGF0Fixture-Scan_Token0001=A1B2C3D4";
const NEW: &str = "ATATT3xFfGF0Fixture-Scan_Token0009=99887766";
const OTHER: &str = "ATATT3xFfGF0Fixture-Scan_Token0002=F0E1D2C3";

const NESTED_UUID: &str = "01930b7e-4f2a-7c55-a1d0-6e2f8b9c0d11";
const NESTED_NAME: &str = "Escalate blocked deployments";

// Pointers into the nested fixture.
const IF_WEBHOOK: &str = "/components/1/children/0/children/0/value";
const BRANCH_WEBHOOK: &str =
    "/components/1/children/0/children/1/children/0/children/0/children/0/value";
const ELSE_WEBHOOK: &str = "/components/1/children/1/children/0/value";
const DECOY_WEBHOOK: &str = "/components/2/value";

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/scan/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn nested_rule() -> Value {
    fixture("cloud-rule-nested.json")["rule"].clone()
}

fn b64(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// A finding as the tests spell it: (pointer, form, status, header, email).
type Row = (
    String,
    CredentialForm,
    FindingStatus,
    Option<String>,
    Option<String>,
);

fn rows(findings: &[Finding]) -> Vec<Row> {
    findings
        .iter()
        .map(|f| {
            (
                f.pointer.clone(),
                f.form,
                f.status,
                f.header_name.clone(),
                f.account_email.clone(),
            )
        })
        .collect()
}

fn row(
    pointer: String,
    form: CredentialForm,
    status: FindingStatus,
    header: Option<&str>,
    email: Option<&str>,
) -> Row {
    (
        pointer,
        form,
        status,
        header.map(str::to_owned),
        email.map(str::to_owned),
    )
}

fn token_rows_for_nested() -> Vec<Row> {
    use CredentialForm::*;
    use FindingStatus::*;
    let ops = Some("ops@example.com");
    vec![
        row(
            format!("{IF_WEBHOOK}/headers/1/value"),
            Basic,
            Match,
            Some("Authorization"),
            ops,
        ),
        row(
            format!("{BRANCH_WEBHOOK}/headers/0/value"),
            Basic,
            Match,
            Some("AUTHORIZATION"),
            ops,
        ),
        row(format!("{ELSE_WEBHOOK}/url"), Url, Match, None, None),
        row(
            format!("{ELSE_WEBHOOK}/headers/0/value"),
            Bearer,
            Match,
            Some("Authorization"),
            None,
        ),
        row(
            format!("{ELSE_WEBHOOK}/headers/1/value"),
            BareHeader,
            Match,
            Some("X-Api-Key"),
            None,
        ),
        row(
            format!("{ELSE_WEBHOOK}/customBody"),
            CustomBody,
            Match,
            None,
            None,
        ),
        row(
            format!("{DECOY_WEBHOOK}/headers/4/value"),
            Masked,
            CannotTell,
            Some("Authorization"),
            None,
        ),
        row(
            format!("{DECOY_WEBHOOK}/headers/5/value"),
            Masked,
            CannotTell,
            Some("Proxy-Authorization"),
            None,
        ),
    ]
}

#[test]
fn finds_every_form_at_any_depth_and_no_decoy() {
    let findings = Scanner::for_token(&ApiToken::new(TOKEN)).scan_rule(&nested_rule());
    assert_eq!(rows(&findings), token_rows_for_nested());
    for finding in &findings {
        assert_eq!(finding.rule_uuid.as_deref(), Some(NESTED_UUID));
        assert_eq!(finding.rule_name.as_deref(), Some(NESTED_NAME));
        assert_eq!(finding.rule_index, None);
    }
}

#[test]
fn a_get_rule_response_scans_from_the_rule_root() {
    let scanner = Scanner::for_token(&ApiToken::new(TOKEN));
    let from_response = scanner
        .scan_export(&fixture("cloud-rule-nested.json"))
        .unwrap();
    assert_eq!(from_response, scanner.scan_rule(&nested_rule()));
}

#[test]
fn decoys_alone_are_not_matches() {
    // The decoy component holds: the token with more characters after it, the token with a
    // character before it, another token, and a Basic value for another account and token.
    let decoys = nested_rule()["components"][2].clone();
    let findings = Scanner::for_token(&ApiToken::new(TOKEN)).scan_rule(&decoys);
    assert!(
        findings
            .iter()
            .all(|f| f.status == FindingStatus::CannotTell),
        "{findings:#?}"
    );
    // The other account's token is found where it is, decoded from Basic.
    let other = Scanner::for_token(&ApiToken::new(OTHER)).scan_rule(&decoys);
    let matched: Vec<_> = other
        .iter()
        .filter(|f| f.status == FindingStatus::Match)
        .map(|f| (f.pointer.as_str(), f.form, f.account_email.as_deref()))
        .collect();
    assert_eq!(
        matched,
        [
            (
                "/value/headers/0/value",
                CredentialForm::Basic,
                Some("other@example.com")
            ),
            ("/value/headers/3/value", CredentialForm::BareHeader, None),
        ]
    );
}

#[test]
fn inventory_lists_who_each_rule_authenticates_as() {
    use CredentialForm::*;
    use FindingStatus::*;
    let findings = Scanner::inventory().scan_rule(&nested_rule());
    let ops = Some("ops@example.com");
    assert_eq!(
        rows(&findings),
        [
            row(
                format!("{IF_WEBHOOK}/headers/1/value"),
                Basic,
                Credential,
                Some("Authorization"),
                ops
            ),
            row(
                format!("{BRANCH_WEBHOOK}/headers/0/value"),
                Basic,
                Credential,
                Some("AUTHORIZATION"),
                ops
            ),
            // A credential-named query parameter (`api_token=`) in the URL.
            row(format!("{ELSE_WEBHOOK}/url"), Url, Credential, None, None),
            row(
                format!("{ELSE_WEBHOOK}/headers/0/value"),
                Bearer,
                Credential,
                Some("Authorization"),
                None
            ),
            row(
                format!("{ELSE_WEBHOOK}/headers/1/value"),
                BareHeader,
                Credential,
                Some("X-Api-Key"),
                None
            ),
            row(format!("{DECOY_WEBHOOK}/url"), Url, Credential, None, None),
            row(
                format!("{DECOY_WEBHOOK}/headers/0/value"),
                Basic,
                Credential,
                Some("Authorization"),
                Some("other@example.com"),
            ),
            row(
                format!("{DECOY_WEBHOOK}/headers/1/value"),
                BareHeader,
                Credential,
                Some("X-Api-Key"),
                None
            ),
            row(
                format!("{DECOY_WEBHOOK}/headers/2/value"),
                BareHeader,
                Credential,
                Some("X-Backup-Key"),
                None
            ),
            row(
                format!("{DECOY_WEBHOOK}/headers/3/value"),
                BareHeader,
                Credential,
                Some("X-Other-Key"),
                None
            ),
            row(
                format!("{DECOY_WEBHOOK}/headers/4/value"),
                Masked,
                CannotTell,
                Some("Authorization"),
                None
            ),
            row(
                format!("{DECOY_WEBHOOK}/headers/5/value"),
                Masked,
                CannotTell,
                Some("Proxy-Authorization"),
                None,
            ),
        ]
    );
}

#[test]
fn data_center_secret_references_cannot_be_told_and_literals_match() {
    let rule = fixture("dc-rule-secrets.json");
    let findings = Scanner::for_token(&ApiToken::new(TOKEN)).scan_rule(&rule);
    assert_eq!(
        rows(&findings),
        [
            row(
                "/components/0/value/headers/0/value/keyOrValue".into(),
                CredentialForm::SecretReference,
                FindingStatus::CannotTell,
                Some("Authorization"),
                None,
            ),
            row(
                "/components/0/value/headers/1/value/keyOrValue".into(),
                CredentialForm::BareHeader,
                FindingStatus::Match,
                Some("X-Api-Key"),
                None,
            ),
        ]
    );
    assert_eq!(
        findings[0].rule_uuid.as_deref(),
        Some("4410"),
        "numeric DC id"
    );
    assert_eq!(
        findings[0].rule_name.as_deref(),
        Some("Notify ops bridge (DC)")
    );

    let mut rewritten = rule.clone();
    let changes = rewrite_rule(&mut rewritten, &ApiToken::new(TOKEN), &ApiToken::new(NEW)).unwrap();
    assert_eq!(changes.len(), 1);
    let mut expected = rule;
    expected["components"][0]["value"]["headers"][1]["value"]["keyOrValue"] = json!(NEW);
    assert_eq!(rewritten, expected, "the secret reference is never written");
}

#[test]
fn an_export_reports_each_rule_by_index_uuid_and_name() {
    let export = fixture("export-several.json");
    let findings = Scanner::for_token(&ApiToken::new(TOKEN))
        .scan_export(&export)
        .unwrap();
    let seen: Vec<_> = findings
        .iter()
        .map(|f| {
            (
                f.rule_index,
                f.rule_uuid.as_deref(),
                f.rule_name.as_deref(),
                f.pointer.as_str(),
                f.form,
                f.status,
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            (
                Some(1),
                Some("01930b7e-4f2a-7c55-a1d0-6e2f8b9c0d22"),
                Some("Post release notes"),
                "/components/0/value/url",
                CredentialForm::Url,
                FindingStatus::Match,
            ),
            (
                Some(2),
                Some("01930b7e-4f2a-7c55-a1d0-6e2f8b9c0d33"),
                Some("Sync to warehouse"),
                "/components/0/value/headers/1/value",
                CredentialForm::Masked,
                FindingStatus::CannotTell,
            ),
        ]
    );

    let inventory = Scanner::inventory().scan_export(&export).unwrap();
    let who: Vec<_> = inventory
        .iter()
        .map(|f| {
            (
                f.rule_index,
                f.header_name.as_deref(),
                f.status,
                f.account_email.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        who,
        [
            // The first rule's URL carries the token in a query parameter.
            (Some(1), None, FindingStatus::Credential, None),
            (
                Some(2),
                Some("authorization"),
                FindingStatus::Credential,
                Some("etl-bot@example.com")
            ),
            (
                Some(2),
                Some("X-Auth-Token"),
                FindingStatus::CannotTell,
                None
            ),
        ]
    );

    // The same rules as a bare array give the same findings.
    let bare = export["rules"].clone();
    assert_eq!(
        Scanner::for_token(&ApiToken::new(TOKEN))
            .scan_export(&bare)
            .unwrap(),
        findings
    );
}

#[test]
fn the_encoded_pair_is_found_outside_basic_without_the_email() {
    let pair = b64(&format!("ops@example.com:{TOKEN}"));
    let rule = json!({"components": [{"value": {
        "headers": [{"name": "X-Credentials", "value": pair}],
        "customBody": format!("{{\"auth\":\"{pair}\"}}")
    }}]});
    let token = ApiToken::new(TOKEN);
    let findings = Scanner::for_token(&token).scan_rule(&rule);
    // `with_email` no longer changes anything.
    assert_eq!(
        Scanner::for_token(&token)
            .with_email("ops@example.com")
            .scan_rule(&rule),
        findings
    );
    let forms: Vec<_> = findings
        .iter()
        .map(|f| (f.pointer.as_str(), f.form))
        .collect();
    assert_eq!(
        forms,
        [
            (
                "/components/0/value/headers/0/value",
                CredentialForm::Base64
            ),
            ("/components/0/value/customBody", CredentialForm::Base64),
        ]
    );
}

#[test]
fn rewrite_replaces_only_the_matched_strings() {
    let old = ApiToken::new(TOKEN);
    let new = ApiToken::new(NEW);
    let original = nested_rule();
    let mut rule = original.clone();
    let changes = rewrite_rule(&mut rule, &old, &new).unwrap();

    let mut expected = original.clone();
    let mut set = |pointer: String, value: String| {
        *expected.pointer_mut(&pointer).unwrap() = Value::String(value);
    };
    set(
        format!("{IF_WEBHOOK}/headers/1/value"),
        format!("Basic {}", b64(&format!("ops@example.com:{NEW}"))),
    );
    set(
        format!("{BRANCH_WEBHOOK}/headers/0/value"),
        format!(
            "basic   {}",
            b64(&format!("ops@example.com:{NEW}")).trim_end_matches('=')
        ),
    );
    set(
        format!("{ELSE_WEBHOOK}/url"),
        format!(
            "https://status.example.org/api/report?api_token={}&issue={{{{issue.key}}}}",
            NEW.replace('=', "%3D")
        ),
    );
    set(
        format!("{ELSE_WEBHOOK}/headers/0/value"),
        format!("Bearer {NEW}"),
    );
    set(format!("{ELSE_WEBHOOK}/headers/1/value"), NEW.to_owned());
    set(
        format!("{ELSE_WEBHOOK}/customBody"),
        format!("{{\"auth\":{{\"token\":\"{NEW}\"}},\"issue\":\"{{{{issue.key}}}}\"}}"),
    );
    assert_eq!(rule, expected);

    let (old_fp, new_fp) = (old.fingerprint(), new.fingerprint());
    let previews: Vec<_> = changes
        .iter()
        .map(|c| (c.form, c.before.as_str(), c.after.as_str()))
        .collect();
    let basic = |scheme: &str, fp: &str| format!("{scheme}[redacted ops@example.com:token#{fp}]");
    let redacted = |fp: &str| format!("[redacted token#{fp}]");
    assert_eq!(
        previews,
        [
            (
                CredentialForm::Basic,
                &*basic("Basic ", &old_fp),
                &*basic("Basic ", &new_fp)
            ),
            (
                CredentialForm::Basic,
                &*basic("basic   ", &old_fp),
                &*basic("basic   ", &new_fp)
            ),
            (
                CredentialForm::Url,
                &*format!("…{}…", redacted(&old_fp)),
                &*format!("…{}…", redacted(&new_fp)),
            ),
            (
                CredentialForm::Bearer,
                &*format!("Bearer {}", redacted(&old_fp)),
                &*format!("Bearer {}", redacted(&new_fp)),
            ),
            (
                CredentialForm::BareHeader,
                &*redacted(&old_fp),
                &*redacted(&new_fp)
            ),
            (
                CredentialForm::CustomBody,
                &*format!("…{}…", redacted(&old_fp)),
                &*format!("…{}…", redacted(&new_fp)),
            ),
        ]
    );
}

#[test]
fn rewriting_is_idempotent_and_leaves_no_old_token() {
    let old = ApiToken::new(TOKEN);
    let new = ApiToken::new(NEW);
    let mut rule = nested_rule();
    assert_eq!(plan_rule(&rule, &old, &new).unwrap().len(), 6);
    rewrite_rule(&mut rule, &old, &new).unwrap();
    let after_first = rule.clone();
    assert!(rewrite_rule(&mut rule, &old, &new).unwrap().is_empty());
    assert_eq!(rule, after_first);

    let left = Scanner::for_token(&old).scan_rule(&rule);
    assert!(
        left.iter().all(|f| f.status == FindingStatus::CannotTell),
        "{left:#?}"
    );
    assert_eq!(left.len(), 2, "the masked values are still reported");
    // The new token is now where the old one was.
    let now = Scanner::for_token(&new).scan_rule(&rule);
    let matched = now
        .iter()
        .filter(|f| f.status == FindingStatus::Match)
        .count();
    assert_eq!(matched, 6);
}

#[test]
fn a_refused_rewrite_changes_nothing() {
    let original = nested_rule();
    let mut rule = original.clone();
    let err = rewrite_rule(
        &mut rule,
        &ApiToken::new(TOKEN),
        &ApiToken::new("has space"),
    )
    .unwrap_err();
    assert!(matches!(err, Error::InvalidInput { .. }), "{err}");
    assert_eq!(rule, original);
}

#[test]
fn no_finding_or_rewrite_ever_shows_a_credential() {
    let token = ApiToken::new(TOKEN);
    let new = ApiToken::new(NEW);
    let rule = nested_rule();
    let export = fixture("export-several.json");
    let pair = b64(&format!("ops@example.com:{TOKEN}"));
    let forbidden = [
        TOKEN.to_owned(),
        TOKEN.replace('=', "%3D"),
        NEW.to_owned(),
        OTHER.to_owned(),
        pair.trim_end_matches('=').to_owned(),
        b64(&format!("other@example.com:{OTHER}")),
        b64(&format!("etl-bot@example.com:{OTHER}")),
    ];

    let mut findings = Scanner::for_token(&token).scan_rule(&rule);
    findings.extend(
        Scanner::for_token(&token)
            .with_email("ops@example.com")
            .scan_rule(&rule),
    );
    findings.extend(Scanner::inventory().scan_rule(&rule));
    findings.extend(Scanner::inventory().scan_export(&export).unwrap());
    // Inventory mode with Bearer values of every kind.
    let bearers = json!({"components": [{"value": {"headers": [
        {"name": "Authorization", "value": format!("Bearer {TOKEN}")},
        {"name": "X-Token", "value": format!("bearer {OTHER}")},
    ]}}]});
    findings.extend(Scanner::inventory().scan_rule(&bearers));
    assert!(findings.len() > 20);

    let mut rewrite_rule_copy = rule.clone();
    let rewrites: Vec<Rewrite> = rewrite_rule(&mut rewrite_rule_copy, &token, &new).unwrap();
    assert_eq!(rewrites.len(), 6);

    let mut shown = Vec::new();
    for f in &findings {
        shown.push(format!("{f:?}"));
        shown.push(f.to_string());
        shown.push(serde_json::to_string(f).unwrap());
    }
    for r in &rewrites {
        shown.push(format!("{r:?}"));
        shown.push(r.to_string());
        shown.push(serde_json::to_string(r).unwrap());
    }
    for text in &shown {
        for secret in &forbidden {
            assert!(!text.contains(secret.as_str()), "{text}");
        }
    }
}
