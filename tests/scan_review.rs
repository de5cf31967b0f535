//! Forms the second review found missed or mangled: base64 broken by whitespace, redaction
//! markers in sensitive headers, a base64 run followed by a URL path, and base64 of the token
//! escaped. Each test failed before its fix.

use atlassian_rotation::automation::rewrite::rewrite_rule;
use atlassian_rotation::automation::scan::{CredentialForm, Finding, FindingStatus, Scanner};
use atlassian_rotation::secret::ApiToken;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use proptest::prelude::*;
use serde_json::{Value, json};

/// Shaped like a real Atlassian API token: `ATATT3x...=` plus an 8-hex checksum.
const OLD: &str = "ATATT3xFfGF0Xq1zT7-kPv_9sWm2Lr8NbYc4HdJe6UgAo5VtKiRw3QnZlMxEyBfDpCa0=A1B2C3D4";
const NEW: &str = "ATATT3xFfGF0NEWNEWNEWNEWNEWNEWNEWNEWNEWNEWNEWNEWNEWNEWNEWNEW0=FFFFFFFF";

fn scan(rule: &Value) -> Vec<Finding> {
    Scanner::for_token(&ApiToken::new(OLD)).scan_rule(rule)
}

fn rewrite(rule: &mut Value) {
    rewrite_rule(rule, &ApiToken::new(OLD), &ApiToken::new(NEW)).unwrap();
}

fn body_rule(body: &str) -> Value {
    json!({"uuid": "r", "components": [{"component": "ACTION", "type": "jira.issue.outgoing.webhook",
        "value": {"url": "https://relay.example.com", "customBody": body, "headers": []}}]})
}

fn header_rule(name: &str, value: Value, secure: bool) -> Value {
    json!({"uuid": "r", "components": [{"component": "ACTION", "type": "jira.issue.outgoing.webhook",
    "value": {"url": "https://relay.example.com", "headers": [
        {"id": null, "name": name, "value": value, "headerSecure": secure},
        {"id": null, "name": "X-Other", "value": format!("Bearer {OLD}"), "headerSecure": false}
    ]}}]})
}

/// `encoded` broken into lines of `width` characters joined by `eol`.
fn wrap(encoded: &str, width: usize, eol: &str) -> String {
    encoded
        .as_bytes()
        .chunks(width)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect::<Vec<_>>()
        .join(eol)
}

// ---------------------------------------------------------------------------------------------
// Base64 broken by whitespace.

/// Line ends and separators, as real characters and as JSON escapes in nested JSON text (one
/// and two levels deep).
const BREAKS: [&str; 10] = [
    "\n",
    "\r\n",
    "\t",
    " ",
    "\\n",
    "\\r\\n",
    "\\t",
    "\\\\n",
    "\\\\r\\\\n",
    " \n ",
];

#[test]
fn base64_wrapped_by_whitespace_is_found_and_never_rewritten() {
    let texts = [
        format!("svc@example.com:{OLD}"),
        OLD.to_owned(),
        format!("{{\"user\":\"svc@example.com\",\"token\":\"{OLD}\",\"n\":1}}"),
    ];
    for text in &texts {
        let encoded = STANDARD.encode(text);
        for (width, eol) in [76, 64, 4, 8]
            .into_iter()
            .flat_map(|w| BREAKS.map(|b| (w, b)))
        {
            let body = format!("{{\"auth\":\"{}\"}}", wrap(&encoded, width, eol));
            let rule = body_rule(&body);
            let findings = scan(&rule);
            assert_eq!(findings.len(), 1, "width {width}, {eol:?}: {findings:?}");
            let found = &findings[0];
            assert_eq!(found.status, FindingStatus::Match);
            assert_eq!(found.form, CredentialForm::Base64);
            assert!(
                !found.rewritable,
                "wrapped runs are reported, not rewritten"
            );
            let mut written = rule.clone();
            rewrite(&mut written);
            assert_eq!(written, rule, "a wrapped run is left as it was");
        }
        // Not wrapped: rewritable as before.
        let rule = body_rule(&format!("{{\"auth\":\"{encoded}\"}}"));
        assert!(scan(&rule)[0].rewritable);
    }
}

#[test]
fn base64_wrapped_in_a_header_or_basic_value_is_found() {
    let encoded = STANDARD.encode(format!("svc@example.com:{OLD}"));
    for value in [
        format!("Basic {}", wrap(&encoded, 76, "\r\n")),
        wrap(&encoded, 76, "\n"),
        format!("Basic {}", wrap(&encoded, 4, " ")),
    ] {
        let rule = header_rule("Authorization", json!(value), true);
        let findings = scan(&rule);
        let header = findings
            .iter()
            .find(|f| f.pointer == "/components/0/value/headers/0/value")
            .unwrap_or_else(|| panic!("{value:?} not found: {findings:?}"));
        assert_eq!(header.status, FindingStatus::Match);
        assert!(!header.rewritable);
    }
}

#[test]
fn whitespace_between_unrelated_words_is_not_a_match() {
    // Whole groups of base64 separated by spaces, none of which hold the token.
    let body = "abcd efgh ijkl mnop qrst uvwx yz01 2345 6789 ABCD EFGH IJKL MNOP QRST UVWX YZ01";
    assert!(scan(&body_rule(body)).is_empty());
    assert!(scan(&body_rule(&format!("Basic {}", STANDARD.encode("a@b:c")))).is_empty());
}

// ---------------------------------------------------------------------------------------------
// Redaction markers.

const MARKERS: [&str; 16] = [
    "[redacted]",
    "[REDACTED]",
    "<redacted>",
    "(Redacted)",
    "REDACTED",
    "Bearer ***",
    "Basic ********",
    "bearer [redacted]",
    "Bearer",
    "\u{2022}\u{2022}\u{2022}\u{2022}\u{2022}\u{2022}",
    "\u{25cf}\u{25cf}\u{25cf}",
    "xxxxxxxx",
    "XXX",
    " ",
    "\t",
    " *** ",
];

fn masked_at(findings: &[Finding], pointer: &str) -> bool {
    findings.iter().any(|f| {
        f.status == FindingStatus::CannotTell
            && f.form == CredentialForm::Masked
            && f.pointer == pointer
            && !f.rewritable
    })
}

#[test]
fn redaction_markers_in_sensitive_headers_are_masks_and_never_written() {
    for marker in MARKERS {
        for (name, secure) in [("Authorization", true), ("X-Api-Key", false)] {
            let rule = header_rule(name, json!(marker), secure);
            let findings = scan(&rule);
            assert!(
                masked_at(&findings, "/components/0/value/headers/0/value"),
                "{name} {marker:?}: {findings:?}"
            );
            let mut written = rule.clone();
            rewrite(&mut written);
            assert_eq!(
                written["components"][0]["value"]["headers"][0],
                rule["components"][0]["value"]["headers"][0]
            );
        }
        let rule = json!({"components": [{"value": {"url": marker, "urlSecure": true, "x": OLD}}]});
        assert!(
            masked_at(&scan(&rule), "/components/0/value/url"),
            "{marker:?}"
        );
    }
    // Elsewhere a marker is a value (only `**` and more stars are a mask anywhere).
    for marker in ["*", "[redacted]", "xxx", "\u{2022}", " ", "Bearer ***"] {
        let rule = header_rule("If-Match", json!(marker), false);
        assert!(
            scan(&rule).iter().all(|f| f.status == FindingStatus::Match),
            "{marker:?}"
        );
    }
    // Not markers, even in a secure header: real-looking values are read.
    for value in ["xx", "Bearer x", "redacted-token", "[redacted] x"] {
        let rule = header_rule("Authorization", json!(value), true);
        assert!(
            !masked_at(&scan(&rule), "/components/0/value/headers/0/value"),
            "{value:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// A base64 run followed by a URL path.

#[test]
fn base64_in_a_url_path_keeps_the_path_after_it_and_adds_no_padding() {
    for email in ["svc@example.com", "svc1@example.com", "svc12@example.com"] {
        let original = URL_SAFE_NO_PAD.encode(format!("{email}:{OLD}"));
        let mut rule = json!({"components": [{"value": {"url": format!("https://relay.example.com/a/{original}/run?x=1")}}]});
        rewrite(&mut rule);
        let expected = URL_SAFE_NO_PAD.encode(format!("{email}:{NEW}"));
        assert_eq!(
            rule["components"][0]["value"]["url"],
            format!("https://relay.example.com/a/{expected}/run?x=1"),
            "{email}"
        );
    }
    // An unpadded URL-safe run of whole groups stays unpadded when the new one is not whole
    // groups; a standard one in a `Basic` value is padded as standard base64 is.
    let pair = format!("svc@example.com:{OLD}");
    assert_eq!(pair.len() % 3, 0);
    let mut rule = body_rule(&format!("auth={}&x=1", URL_SAFE_NO_PAD.encode(&pair)));
    rewrite(&mut rule);
    let body = rule["components"][0]["value"]["customBody"]
        .as_str()
        .unwrap();
    let new_pair = format!("svc@example.com:{NEW}");
    assert_eq!(
        body,
        format!("auth={}&x=1", URL_SAFE_NO_PAD.encode(&new_pair))
    );
    let mut rule = header_rule(
        "Authorization",
        json!(format!("Basic {}", STANDARD.encode(&pair))),
        false,
    );
    rewrite(&mut rule);
    assert_eq!(
        rule["components"][0]["value"]["headers"][0]["value"],
        format!("Basic {}", STANDARD.encode(&new_pair))
    );
    // A padded run keeps its padding.
    let mut rule = body_rule(&format!("auth={}", STANDARD.encode(format!("a@b.c:{OLD}"))));
    rewrite(&mut rule);
    let body = rule["components"][0]["value"]["customBody"]
        .as_str()
        .unwrap();
    assert_eq!(
        body,
        format!("auth={}", STANDARD.encode(format!("a@b.c:{NEW}")))
    );
}

#[test]
fn base64_text_stream_with_a_slash_after_the_token_is_re_encoded_whole() {
    // The whole run reads as base64 of text: what follows the token is part of it.
    for tail in ["\",\"x\":\"?/?\"}", "\"}   ", "\",\"path\":\"/a/b\"}"] {
        let text = format!("{{\"token\":\"{OLD}{tail}");
        let mut rule = body_rule(&STANDARD.encode(&text));
        rewrite(&mut rule);
        let body = rule["components"][0]["value"]["customBody"]
            .as_str()
            .unwrap();
        // Padding is added only when the run is surely standard base64: decode either way.
        assert_eq!(
            STANDARD_NO_PAD.decode(body.trim_end_matches('=')).unwrap(),
            text.replace(OLD, NEW).into_bytes(),
            "{tail:?}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// A URL-safe base64 run in a URL path, followed by `/` and any base64-alphabet suffix: the
    /// rewrite changes the run only, never the suffix.
    #[test]
    fn a_path_after_a_base64_run_survives_a_rewrite(
        user in "[a-z]{1,12}",
        suffix in "[A-Za-z0-9+/_-]{0,16}",
    ) {
        let email = format!("{user}@example.com");
        let original = URL_SAFE_NO_PAD.encode(format!("{email}:{OLD}"));
        let url = format!("https://relay.example.com/a/{original}/{suffix}");
        let mut rule = json!({"components": [{"value": {"url": url}}]});
        rewrite(&mut rule);
        let expected = URL_SAFE_NO_PAD.encode(format!("{email}:{NEW}"));
        prop_assert_eq!(
            rule["components"][0]["value"]["url"].as_str().unwrap(),
            format!("https://relay.example.com/a/{expected}/{suffix}")
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Base64 of a text that holds the token escaped: Atlassian tokens hold `=`, which a form body
// or a query string percent-encodes (and some JSON writers `\u`-escape) before the whole text is
// base64'd.

#[test]
fn base64_of_a_percent_encoded_or_json_escaped_token_is_found_and_rewritten() {
    let escapes = [
        ("%3D", "user=svc%40example.com&token={}"),
        ("%3d", "token={}"),
        ("\\u003d", "{\"token\":\"{}\"}"),
        ("\\u003D", "{}"),
    ];
    for (escape, shape) in escapes {
        let text = shape.replace("{}", &OLD.replace('=', escape));
        for encode in [STANDARD.encode(&text), URL_SAFE_NO_PAD.encode(&text)] {
            for wrapped in [false, true] {
                let body = if wrapped {
                    wrap(&encode, 76, "\n")
                } else {
                    encode.clone()
                };
                let rule = body_rule(&body);
                let findings = scan(&rule);
                assert_eq!(findings.len(), 1, "base64({text}): {findings:?}");
                assert_eq!(findings[0].status, FindingStatus::Match);
                assert_eq!(findings[0].rewritable, !wrapped || encode.len() <= 76);
                if !findings[0].rewritable {
                    continue;
                }
                let mut written = rule.clone();
                rewrite(&mut written);
                assert!(scan(&written).is_empty());
                let body = written["components"][0]["value"]["customBody"]
                    .as_str()
                    .unwrap();
                let expected = shape.replace("{}", &NEW.replace('=', escape));
                let decoded =
                    if encode.contains('=') || encode.contains('+') || encode.contains('/') {
                        STANDARD.decode(body).unwrap()
                    } else {
                        URL_SAFE_NO_PAD.decode(body.trim_end_matches('=')).unwrap()
                    };
                assert_eq!(String::from_utf8(decoded).unwrap(), expected, "{text}");
            }
        }
    }
}
