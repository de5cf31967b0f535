//! Properties of the scanner and rewriter over generated rule-like JSON: no panics, a rewrite
//! changes only the strings it reports, rewriting is idempotent, and no old token survives; the
//! token planted in any form at any depth is always found (no false negatives), and a rule
//! without it never matches (no false positives).

use std::collections::BTreeMap;

use atlassian_rotation::Error;
use atlassian_rotation::automation::rewrite::{plan_rule, rewrite_rule};
use atlassian_rotation::automation::scan::{FindingStatus, Scanner};
use atlassian_rotation::secret::ApiToken;
use base64::Engine as _;
use proptest::prelude::*;
use serde_json::{Map, Value, json};

fn b64(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// Old and new tokens that differ (distinct prefixes), with characters that need
/// percent-encoding or JSON escaping now and then.
fn tokens() -> impl Strategy<Value = (String, String)> {
    let body = "[A-Za-z0-9_=+/-]{6,24}";
    (body, body).prop_map(|(a, b)| (format!("ATOLD{a}"), format!("ATNEW{b}")))
}

/// `text` with the bytes `mask` selects (cycling) percent-encoded in one hex case.
fn percent(text: &str, mask: &[bool], upper: bool) -> String {
    text.bytes()
        .enumerate()
        .map(|(i, b)| match (mask[i % mask.len()], upper) {
            (true, true) => format!("%{b:02X}"),
            (true, false) => format!("%{b:02x}"),
            (false, _) => char::from(b).to_string(),
        })
        .collect()
}

/// `text` with the bytes `mask` selects JSON-escaped behind `slashes` backslashes: `/` as `\/`
/// when `short`, everything else as `\u00XX` in one hex case.
fn json_escape(text: &str, mask: &[bool], upper: bool, slashes: usize, short: bool) -> String {
    let run = "\\".repeat(slashes);
    text.bytes()
        .enumerate()
        .map(|(i, b)| match (mask[i % mask.len()], b) {
            (false, _) => char::from(b).to_string(),
            (true, b'/') if short => format!("{run}/"),
            (true, _) if upper => format!("{run}u{b:04X}"),
            (true, _) => format!("{run}u{b:04x}"),
        })
        .collect()
}

/// Base64 of `text` in one of the four usual engines.
fn encode(text: &str, engine: usize) -> String {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD][engine % 4].encode(text)
}

/// The token in one of the forms the scanner must find, as a whole word.
fn form(old: String) -> impl Strategy<Value = String> {
    let email = "[a-z]{1,8}@example\\.(com|org)";
    let mask = prop::collection::vec(any::<bool>(), 1..6);
    // Text around the token inside base64: any length (so any alignment), never a token byte
    // next to it.
    let before = "([a-z@.]{0,6}[:\" ])?";
    let after = "([\"} &\n][a-z]{0,5})?";
    prop_oneof![
        Just(old.clone()),
        prop::sample::select(vec!["Bearer ", "bearer\t", "BEARER   "]).prop_map({
            let old = old.clone();
            move |scheme| format!("{scheme}{old}")
        }),
        (
            email,
            prop::sample::select(vec!["Basic ", "basic  ", "BASIC\t", "bAsIc "]),
            any::<bool>()
        )
            .prop_map({
                let old = old.clone();
                move |(e, scheme, padded)| {
                    let encoded = b64(&format!("{e}:{old}"));
                    let encoded = if padded {
                        encoded.as_str()
                    } else {
                        encoded.trim_end_matches('=')
                    };
                    format!("{scheme}{encoded}")
                }
            }),
        (before, after, 0..4usize).prop_map({
            let old = old.clone();
            move |(b, a, engine)| encode(&format!("{b}{old}{a}"), engine)
        }),
        (mask.clone(), any::<bool>()).prop_map({
            let old = old.clone();
            move |(mask, upper)| {
                format!(
                    "https://hooks.example.com/x?key={}&y=1",
                    percent(&old, &mask, upper)
                )
            }
        }),
        (mask.clone(), any::<bool>(), 1..3usize, any::<bool>()).prop_map({
            let old = old.clone();
            move |(mask, upper, slashes, short)| {
                format!(
                    "{{\"auth\":\"{}\"}}",
                    json_escape(&old, &mask, upper, slashes, short)
                )
            }
        }),
        (email, 0..4usize, any::<bool>()).prop_map({
            let old = old.clone();
            move |(e, engine, upper)| {
                let encoded = encode(&format!("{e}:{old}"), engine);
                let escaped = percent(&encoded, &[true], upper);
                // Only `+`, `/` and `=` stay escaped, as a URL encoder writes them.
                let escaped: String = escaped
                    .split('%')
                    .enumerate()
                    .map(|(i, part)| match (i, &part.get(..2)) {
                        (0, _) => part.to_owned(),
                        (_, Some(hex)) if ["2B", "2b", "2F", "2f", "3D", "3d"].contains(hex) => {
                            format!("%{part}")
                        }
                        (_, Some(hex)) => {
                            let byte = u8::from_str_radix(hex, 16).unwrap();
                            format!("{}{}", char::from(byte), &part[2..])
                        }
                        (_, None) => part.to_owned(),
                    })
                    .collect();
                format!("https://relay.example.com/in?auth={escaped}")
            }
        }),
    ]
}

/// One piece of a string: noise, or the token in one of its forms, or a decoy.
fn piece(old: String) -> impl Strategy<Value = String> {
    let email = "[a-z]{1,8}@example\\.(com|org)";
    prop_oneof![
        "\\PC{0,12}",
        Just(old.clone()),
        Just(format!("Bearer {old}")),
        Just(format!("bearer\t{old}")),
        email.prop_map({
            let old = old.clone();
            move |e| format!("Basic {}", b64(&format!("{e}:{old}")))
        }),
        email.prop_map({
            let old = old.clone();
            move |e| {
                let encoded = b64(&format!("{e}:{old}"));
                format!("BASIC   {}", encoded.trim_end_matches('='))
            }
        }),
        Just(format!("Basic {}", b64("someone@example.com:ATOTHERtoken"))),
        Just(format!("https://hooks.example.com/x?key={old}&y=1")),
        Just(format!(
            "https://hooks.example.com/x?key={}",
            old.replace('=', "%3D").replace('+', "%2B")
        )),
        Just(format!("{old}X")),
        Just(format!("x{old}")),
        Just("***".to_owned()),
        Just(String::new()),
        form(old),
    ]
}

/// A string made of one to three pieces.
fn text(old: String) -> impl Strategy<Value = String> {
    (
        prop::collection::vec(piece(old), 1..=3),
        prop::sample::select(vec!["", " ", "&", ", ", "\n"]),
    )
        .prop_map(|(pieces, sep)| pieces.join(sep))
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "url",
            "customBody",
            "value",
            "name",
            "id",
            "keyOrValue",
            "secret",
            "headerSecure",
            "urlSecure",
            "components",
            "children",
            "conditions",
            "a/b",
            "x~y",
        ])
        .prop_map(str::to_owned),
        "[a-z]{1,6}",
    ]
}

fn header(old: String) -> impl Strategy<Value = Value> {
    let names = prop::sample::select(vec![
        "Authorization",
        "AUTHORIZATION",
        "X-Api-Key",
        "Content-Type",
        "",
    ]);
    let value = prop_oneof![
        text(old.clone()).prop_map(Value::String),
        (text(old), any::<bool>())
            .prop_map(|(s, secret)| { serde_json::json!({"keyOrValue": s, "secret": secret}) }),
    ];
    (names, value, any::<bool>()).prop_map(|(name, value, secure)| {
        serde_json::json!({"id": null, "name": name, "value": value, "headerSecure": secure})
    })
}

/// Rule-like JSON: nested objects and arrays, header lists, and credential strings anywhere.
fn rule(old: String) -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        text(old.clone()).prop_map(Value::String),
    ];
    let headers = prop::collection::vec(header(old), 0..4).prop_map(|headers| {
        let mut map = Map::new();
        map.insert("headers".into(), Value::Array(headers));
        Value::Object(map)
    });
    let leaf = prop_oneof![3 => leaf, 1 => headers];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..6)
                .prop_map(|entries| Value::Object(entries.into_iter().collect())),
        ]
    })
}

fn case() -> impl Strategy<Value = (String, String, Value)> {
    tokens().prop_flat_map(|(old, new)| (Just(old.clone()), Just(new), rule(old)))
}

/// Every node of a JSON value by pointer: scalars as they are, containers as their shape.
fn nodes(value: &Value) -> BTreeMap<String, Value> {
    fn walk(value: &Value, pointer: String, out: &mut BTreeMap<String, Value>) {
        match value {
            Value::Object(map) => {
                let keys: Vec<Value> = map.keys().map(|k| Value::from(k.as_str())).collect();
                out.insert(pointer.clone(), serde_json::json!({"object": keys}));
                for (k, v) in map {
                    let escaped = k.replace('~', "~0").replace('/', "~1");
                    walk(v, format!("{pointer}/{escaped}"), out);
                }
            }
            Value::Array(items) => {
                out.insert(pointer.clone(), serde_json::json!({"array": items.len()}));
                for (i, v) in items.iter().enumerate() {
                    walk(v, format!("{pointer}/{i}"), out);
                }
            }
            scalar => {
                out.insert(pointer, scalar.clone());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(value, String::new(), &mut out);
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_json_never_panics(value in any_json(), token in "\\PC{0,16}") {
        let token = ApiToken::new(token);
        let _ = Scanner::for_token(&token).scan_rule(&value);
        let _ = Scanner::for_token(&token).with_email("a@example.com").scan_export(&value);
        let _ = Scanner::inventory().scan_rule(&value);
        let _ = Scanner::inventory().scan_export(&value);
        let mut copy = value.clone();
        match rewrite_rule(&mut copy, &token, &ApiToken::new("ATNEW-replacement")) {
            Ok(_) => {}
            Err(err) => {
                prop_assert!(matches!(err, Error::InvalidInput { .. }), "{err}");
                prop_assert_eq!(&copy, &value);
            }
        }
    }

    #[test]
    fn a_rewrite_changes_only_the_strings_it_reports((old, new, rule) in case()) {
        let (old, new) = (ApiToken::new(old), ApiToken::new(new));
        let mut rewritten = rule.clone();
        let changes = match rewrite_rule(&mut rewritten, &old, &new) {
            Ok(changes) => changes,
            Err(err) => {
                // Only a new token that contains the old one is refused; nothing changes then.
                prop_assert!(matches!(err, Error::InvalidInput { .. }), "{err}");
                prop_assert_eq!(&rewritten, &rule);
                return Ok(());
            }
        };
        prop_assert_eq!(&plan_rule(&rule, &old, &new).unwrap(), &changes);

        let (before, after) = (nodes(&rule), nodes(&rewritten));
        prop_assert_eq!(before.keys().collect::<Vec<_>>(), after.keys().collect::<Vec<_>>());
        let changed: Vec<&str> = changes.iter().map(|c| c.pointer.as_str()).collect();
        for (pointer, old_node) in &before {
            let new_node = &after[pointer];
            if changed.contains(&pointer.as_str()) {
                prop_assert!(old_node.is_string() && new_node.is_string());
                prop_assert_ne!(old_node, new_node, "{} reported but unchanged", pointer);
            } else {
                prop_assert_eq!(old_node, new_node, "{} changed but not reported", pointer);
            }
        }

        // Every rewritten string now holds the new token where the old one was.
        let now: Vec<String> = Scanner::for_token(&new)
            .scan_rule(&rewritten)
            .into_iter()
            .filter(|f| f.status == FindingStatus::Match)
            .map(|f| f.pointer)
            .collect();
        for pointer in &changed {
            prop_assert!(now.iter().any(|p| p == pointer), "{} lacks the new token", pointer);
        }
    }

    #[test]
    fn rewriting_is_idempotent_and_leaves_no_old_token((old, new, rule) in case()) {
        let (old, new) = (ApiToken::new(old), ApiToken::new(new));
        let mut rewritten = rule.clone();
        let Ok(changes) = rewrite_rule(&mut rewritten, &old, &new) else {
            return Ok(());
        };
        let once = rewritten.clone();
        let again = rewrite_rule(&mut rewritten, &old, &new).unwrap();
        prop_assert!(again.is_empty(), "{:?}", again);
        prop_assert_eq!(&rewritten, &once);
        // The old token is gone from every string the rewrite changed. A string holding an
        // occurrence that cannot be replaced faithfully (a base64 run whose padding was its only
        // boundary, a wrapped run, a key) is left exactly as it was: the rotation then reports
        // the rule instead of writing it.
        let (before, after) = (nodes(&rule), nodes(&rewritten));
        for left in Scanner::for_token(&old).scan_rule(&rewritten) {
            if left.status != FindingStatus::Match {
                continue;
            }
            prop_assert!(
                !changes.iter().any(|c| c.pointer == left.pointer),
                "{} was rewritten but still holds the old token",
                left.pointer
            );
            if let Some(node) = before.get(&left.pointer) {
                prop_assert_eq!(node, &after[&left.pointer], "{} half-rewritten", left.pointer);
            }
        }
    }

    #[test]
    fn findings_and_rewrites_never_show_the_token((old, new, rule) in case()) {
        let (old_token, new_token) = (ApiToken::new(old.clone()), ApiToken::new(new.clone()));
        // Inventory mode does not know which token to hide in a rule's own name or id, so it
        // scans the rule without them; token mode redacts them.
        let mut anonymous = rule.clone();
        if let Value::Object(map) = &mut anonymous {
            for key in ["name", "id", "uuid"] {
                map.shift_remove(key);
            }
        }
        let mut shown = String::new();
        for finding in Scanner::for_token(&old_token)
            .scan_rule(&rule)
            .into_iter()
            .chain(Scanner::inventory().scan_rule(&anonymous))
        {
            shown.push_str(&format!("{finding:?}{finding}{}", serde_json::to_string(&finding).unwrap()));
        }
        match plan_rule(&rule, &old_token, &new_token) {
            Ok(changes) => {
                for change in changes {
                    shown.push_str(&format!("{change:?}{change}{}", serde_json::to_string(&change).unwrap()));
                }
            }
            // A refusal is shown to the caller too.
            Err(e) => shown.push_str(&format!("{e:?}{e}")),
        }
        prop_assert!(!shown.contains(&old), "old token shown");
        prop_assert!(!shown.contains(&new), "new token shown");
    }
}

/// Marks a string that holds a planted token: noise never has it (`\\PC` excludes format
/// characters).
const MARK: char = '\u{2063}';

/// A string holding the token in some form, marked, with noise around it.
fn planted(old: String) -> impl Strategy<Value = String> {
    ("\\PC{0,8}", form(old), "\\PC{0,8}")
        .prop_map(|(before, form, after)| format!("{before}{MARK} {form} {after}"))
}

/// Noise and decoys that look like the token without being it.
fn decoy(old: String) -> impl Strategy<Value = String> {
    let last = if old.ends_with('Q') { 'R' } else { 'Q' };
    let other = format!("{}{last}", &old[..old.len() - 1]);
    prop_oneof![
        "\\PC{0,12}",
        Just(format!("{old}X")),
        Just(format!("x{old}")),
        Just(format!("{old}%58")),
        Just(format!("\\u0041{old}")),
        Just(old[..old.len() - 1].to_owned()),
        Just(other.clone()),
        Just(format!("Basic {}", b64(&format!("a@example.com:{other}")))),
        Just(b64(&format!("a@example.com:{old}X"))),
        Just(b64(&format!("a@example.com:x{old}"))),
        Just("***".to_owned()),
    ]
}

/// Keys without `keyOrValue` or `secret`, so that planted strings are never secret references.
fn plain_key() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "url",
            "customBody",
            "value",
            "name",
            "id",
            "headerSecure",
            "urlSecure",
            "components",
            "children",
            "a/b",
            "x~y",
        ])
        .prop_map(str::to_owned),
        "[a-z]{1,6}",
    ]
}

/// Rule-like JSON whose strings come from `leaf`; Data Center secret references hold a name.
fn rule_of(leaf: BoxedStrategy<String>) -> impl Strategy<Value = Value> {
    let names = prop::sample::select(vec![
        "Authorization",
        "authorization",
        "X-Api-Key",
        "Accept",
        "",
    ]);
    let header_value = prop_oneof![
        3 => leaf.clone().prop_map(Value::String),
        1 => leaf.clone().prop_map(|s| json!({"keyOrValue": s, "secret": false})),
        1 => Just(json!({"keyOrValue": "STORED_SECRET_NAME", "secret": true})),
    ];
    let header = (names, header_value, any::<bool>()).prop_map(|(name, value, secure)| {
        json!({"id": null, "name": name, "value": value, "headerSecure": secure})
    });
    let headers =
        prop::collection::vec(header, 0..4).prop_map(|headers| json!({"headers": headers}));
    let scalar = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        leaf.prop_map(Value::String),
    ];
    let base = prop_oneof![3 => scalar, 1 => headers];
    base.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((plain_key(), inner), 0..6)
                .prop_map(|entries| Value::Object(entries.into_iter().collect())),
        ]
    })
}

/// A rule with the token planted in some strings (marked) among decoys.
fn planted_case() -> impl Strategy<Value = (String, String, Value)> {
    tokens().prop_flat_map(|(old, new)| {
        let leaf = prop_oneof![2 => decoy(old.clone()), 1 => planted(old.clone())].boxed();
        (Just(old), Just(new), rule_of(leaf))
    })
}

/// A rule with decoys only.
fn clean_case() -> impl Strategy<Value = (String, Value)> {
    tokens().prop_flat_map(|(old, _)| (Just(old.clone()), rule_of(decoy(old).boxed())))
}

/// The pointers of every string holding [`MARK`].
fn marked(value: &Value) -> Vec<String> {
    nodes(value)
        .into_iter()
        .filter(|(_, node)| node.as_str().is_some_and(|s| s.contains(MARK)))
        .map(|(pointer, _)| pointer)
        .collect()
}

fn match_pointers(token: &ApiToken, rule: &Value) -> Vec<String> {
    Scanner::for_token(token)
        .scan_rule(rule)
        .into_iter()
        .filter(|f| f.status == FindingStatus::Match)
        .map(|f| f.pointer)
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn every_planted_form_is_found_and_rewritable((old, _new, rule) in planted_case()) {
        let old = ApiToken::new(old);
        let findings = Scanner::for_token(&old).scan_rule(&rule);
        for pointer in marked(&rule) {
            let finding = findings.iter().find(|f| f.pointer == pointer);
            prop_assert!(
                finding.is_some_and(|f| f.status == FindingStatus::Match && f.rewritable),
                "{} not found: {:?}", pointer, finding
            );
        }
    }

    #[test]
    fn a_rule_without_the_token_never_matches((old, rule) in clean_case()) {
        let left = match_pointers(&ApiToken::new(old), &rule);
        prop_assert!(left.is_empty(), "{:?}", left);
    }

    #[test]
    fn after_a_rewrite_only_the_new_token_is_left_and_nothing_else_changed(
        (old, new, rule) in planted_case()
    ) {
        let (old, new) = (ApiToken::new(old), ApiToken::new(new));
        let findings = Scanner::for_token(&old).scan_rule(&rule);
        prop_assume!(findings.iter().all(|f| f.status != FindingStatus::Match || f.rewritable));
        let mut rewritten = rule.clone();
        let changes = match rewrite_rule(&mut rewritten, &old, &new) {
            Ok(changes) => changes,
            Err(err) => {
                prop_assert!(matches!(err, Error::InvalidInput { .. }), "{err}");
                return Ok(());
            }
        };
        prop_assert!(match_pointers(&old, &rewritten).is_empty(), "old token left");
        let changed: Vec<&str> = changes.iter().map(|c| c.pointer.as_str()).collect();
        let found_new = match_pointers(&new, &rewritten);
        for pointer in &changed {
            prop_assert!(found_new.iter().any(|p| p == pointer), "{} lacks the new token", pointer);
        }
        for pointer in marked(&rule) {
            prop_assert!(changed.contains(&pointer.as_str()), "{} planted but not rewritten", pointer);
        }
        let (before, after) = (nodes(&rule), nodes(&rewritten));
        prop_assert_eq!(before.keys().collect::<Vec<_>>(), after.keys().collect::<Vec<_>>());
        for (pointer, node) in &before {
            if !changed.contains(&pointer.as_str()) {
                prop_assert_eq!(node, &after[pointer], "{} changed but not reported", pointer);
            }
        }
    }
}

/// Arbitrary JSON, without any rule shape.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        "\\PC{0,24}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::vec(("\\PC{0,8}", inner), 0..8)
                .prop_map(|entries| Value::Object(entries.into_iter().collect())),
        ]
    })
}

/// Guards the properties above from passing vacuously: most generated rules hold the old token
/// somewhere the rewriter must change.
#[test]
fn generated_rules_usually_hold_the_token() {
    use proptest::strategy::ValueTree as _;
    use proptest::test_runner::TestRunner;

    let mut runner = TestRunner::deterministic();
    let strategy = case();
    let (mut with_changes, mut cannot_tell, total) = (0, 0, 200);
    for _ in 0..total {
        let (old, new, rule) = strategy.new_tree(&mut runner).unwrap().current();
        let (old, new) = (ApiToken::new(old), ApiToken::new(new));
        if plan_rule(&rule, &old, &new).is_ok_and(|plan| !plan.is_empty()) {
            with_changes += 1;
        }
        if Scanner::for_token(&old)
            .scan_rule(&rule)
            .iter()
            .any(|f| f.status == FindingStatus::CannotTell)
        {
            cannot_tell += 1;
        }
    }
    assert!(
        with_changes * 2 > total,
        "{with_changes} of {total} rules had changes"
    );
    assert!(
        cannot_tell * 10 > total,
        "{cannot_tell} of {total} rules had hidden values"
    );
}
