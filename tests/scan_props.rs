//! Properties of the scanner and rewriter over generated rule-like JSON: no panics, a rewrite
//! changes only the strings it reports, rewriting is idempotent, and no old token survives; the
//! token planted in any form at any depth is always found (no false negatives), and a rule
//! without it never matches (no false positives).

use std::collections::BTreeMap;

use atlassian_rotation::Error;
use atlassian_rotation::automation::rewrite::{plan_rule, rewrite_rule};
use atlassian_rotation::automation::scan::{FindingStatus, Scanner};
use atlassian_rotation::secret::ApiToken;
use proptest::prelude::*;
use serde_json::Value;

#[path = "scan_props/strategies.rs"]
mod strategies;
use strategies::*;

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
