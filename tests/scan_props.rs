//! Properties of the scanner and rewriter over generated rule-like JSON: no panics, a rewrite
//! changes only the strings it reports, rewriting is idempotent, and no old token survives.

use std::collections::BTreeMap;

use atlassian_rotation::Error;
use atlassian_rotation::automation::rewrite::{plan_rule, rewrite_rule};
use atlassian_rotation::automation::scan::{FindingStatus, Scanner};
use atlassian_rotation::secret::ApiToken;
use base64::Engine as _;
use proptest::prelude::*;
use serde_json::{Map, Value};

fn b64(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// Old and new tokens that differ (distinct prefixes), with characters that need
/// percent-encoding now and then.
fn tokens() -> impl Strategy<Value = (String, String)> {
    let body = "[A-Za-z0-9_=+-]{6,24}";
    (body, body).prop_map(|(a, b)| (format!("ATOLD{a}"), format!("ATNEW{b}")))
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
        let mut rewritten = rule;
        if rewrite_rule(&mut rewritten, &old, &new).is_err() {
            return Ok(());
        }
        let once = rewritten.clone();
        let again = rewrite_rule(&mut rewritten, &old, &new).unwrap();
        prop_assert!(again.is_empty(), "{:?}", again);
        prop_assert_eq!(&rewritten, &once);
        let left: Vec<_> = Scanner::for_token(&old)
            .scan_rule(&rewritten)
            .into_iter()
            .filter(|f| f.status == FindingStatus::Match)
            .collect();
        prop_assert!(left.is_empty(), "{:?}", left);
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
