//! The rule model round-trips every shape Atlassian writes: parse, serialize, compare.

mod support;

use std::path::Path;

use atlassian_rotation::automation::{
    Component, ComponentKind, ExportFile, Field, Rule, RuleDocument, RuleState,
};
use proptest::prelude::*;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

fn fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/rules")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Compact JSON of a value: with `preserve_order`, equal strings mean equal content *and* equal
/// key order at every level.
fn compact(value: &impl Serialize) -> String {
    serde_json::to_string(value).expect("serializes")
}

/// Parses `text` as `T`, writes it again, and checks that the result is the input: same values,
/// same nulls and absences, same key order. Returns the parsed model.
fn assert_round_trip<T: Serialize + DeserializeOwned>(text: &str) -> T {
    let original: Value = serde_json::from_str(text).expect("fixture is JSON");
    let model: T = serde_json::from_str(text).expect("model parses the fixture");
    let written = serde_json::to_value(&model).expect("model serializes");
    assert_eq!(written, original, "content differs after a round trip");
    assert_eq!(
        compact(&model),
        compact(&original),
        "key order differs after a round trip"
    );
    model
}

#[test]
fn api_get_document_round_trips_with_if_else_blocks_nulls_and_unknown_fields() {
    let text = fixture("api-get-if-else-webhook.json");
    let doc: RuleDocument = assert_round_trip(&text);

    assert_eq!(
        doc.rule.uuid(),
        Some("01973a5e-7d2c-7f10-b3a4-5c6d7e8f9a0b")
    );
    assert_eq!(doc.rule.state.get(), Some(&RuleState::Disabled));
    assert_eq!(doc.extra["schemaHints"], json!({"generatedBy": "fixture"}));
    assert!(doc.rule.extra["ruleHome"].is_null());
    assert!(doc.rule.extra["description"].is_null());

    let trigger = doc.rule.trigger.get().expect("trigger");
    assert!(
        trigger.children.is_absent(),
        "the API's trigger has no children key"
    );
    assert!(trigger.parent_id.is_absent());
    assert_eq!(trigger.conditions, Field::Present(vec![]));
    assert_eq!(trigger.extra["partitionHint"], 4);

    let container = &doc.rule.components()[0];
    assert!(container.condition_parent_id.is_null());
    assert!(container.value.is_null());
    let comment = &doc.rule.components()[1];
    assert!(comment.children.is_absent() && comment.parent_id.is_absent());

    let webhook = doc
        .rule
        .component_at("/components/0/children/0/children/0")
        .expect("webhook in the IF block");
    assert_eq!(
        webhook.component_type(),
        Some("jira.issue.outgoing.webhook")
    );
    assert_eq!(webhook.value.get().unwrap()["timeoutSeconds"], json!(12.5));
    assert_eq!(
        webhook.extra["retryPolicy"],
        json!({"attempts": 3, "backoff": null})
    );
    assert_eq!(
        doc.rule
            .component_at("/components/0/children/0/conditions/1")
            .unwrap()
            .condition_parent_id,
        Field::Present("0f9e8d7c-6b5a-4c3d-8e2f-1a0b9c8d7e60".to_owned())
    );

    // Numbers are written as they were read.
    let out = compact(&doc);
    assert!(out.contains(r#""created":1747000123.456"#), "{out}");
    assert!(out.contains(r#""updated":1747000999,"#), "{out}");
}

#[test]
fn walk_visits_every_component_with_its_pointer_in_document_order() {
    let doc: RuleDocument = serde_json::from_str(&fixture("api-get-if-else-webhook.json")).unwrap();
    let walked: Vec<(String, usize, Option<ComponentKind>)> = doc
        .rule
        .walk_components()
        .map(|at| (at.pointer, at.depth, at.component.kind().cloned()))
        .collect();
    let expected = [
        ("/trigger", 0, ComponentKind::Trigger),
        ("/components/0", 0, ComponentKind::Condition),
        ("/components/0/children/0", 1, ComponentKind::ConditionBlock),
        (
            "/components/0/children/0/conditions/0",
            2,
            ComponentKind::Condition,
        ),
        (
            "/components/0/children/0/conditions/1",
            2,
            ComponentKind::Condition,
        ),
        (
            "/components/0/children/0/children/0",
            2,
            ComponentKind::Action,
        ),
        ("/components/0/children/1", 1, ComponentKind::ConditionBlock),
        (
            "/components/0/children/1/children/0",
            2,
            ComponentKind::Action,
        ),
        ("/components/1", 0, ComponentKind::Action),
    ];
    let expected: Vec<_> = expected
        .into_iter()
        .map(|(p, d, k)| (p.to_owned(), d, Some(k)))
        .collect();
    assert_eq!(walked, expected);

    // Every pointer resolves, in the model and in the raw JSON.
    let raw: Value = serde_json::from_str(&fixture("api-get-if-else-webhook.json")).unwrap();
    for at in doc.rule.walk_components() {
        let in_json = raw
            .pointer(&format!("/rule{}", at.pointer))
            .expect("pointer in JSON");
        assert_eq!(
            in_json["id"].as_str(),
            at.component.id.get().map(String::as_str)
        );
        assert!(std::ptr::eq(
            doc.rule.component_at(&at.pointer).unwrap(),
            at.component
        ));
    }
    for bad in [
        "",
        "/",
        "/components",
        "/components/01",
        "/components/0/children",
        "/rule/components/0",
        "/components/0/value/0",
        "/components/9",
    ] {
        assert!(doc.rule.component_at(bad).is_none(), "{bad}");
    }
}

#[test]
fn changing_one_header_changes_only_that_value() {
    let text = fixture("api-get-if-else-webhook.json");
    let mut doc: RuleDocument = serde_json::from_str(&text).unwrap();
    let pointer = "/components/0/children/0/children/0";
    let webhook = doc.rule.component_at_mut(pointer).unwrap();
    webhook.value.get_mut().unwrap()["headers"][0]["value"] = json!("Basic bmV3");

    let mut expected: Value = serde_json::from_str(&text).unwrap();
    *expected
        .pointer_mut(&format!("/rule{pointer}/value/headers/0/value"))
        .unwrap() = json!("Basic bmV3");
    assert_eq!(compact(&doc), compact(&expected));
}

#[test]
fn debug_output_never_shows_component_values_or_unknown_field_values() {
    let doc: RuleDocument = serde_json::from_str(&fixture("api-get-if-else-webhook.json")).unwrap();
    let shown = format!("{doc:?} {doc:#?}");
    for secret in [
        "cm90YXRlLWJvdEBleGFtcGxlLm9yZzpGSVhUVVJFX1RPS0VOX05PVF9SRUFM",
        "deploy.example.org",
        "fixture.example.org",
        "generatedBy",
        "attempts",
    ] {
        assert!(!shown.contains(secret), "Debug shows {secret}");
    }
    // What it does show is enough to find a component.
    assert!(shown.contains("jira.issue.outgoing.webhook"));
    assert!(shown.contains("retryPolicy"));

    let dc: Component = serde_json::from_str(&fixture("dc-component-webhook.json")).unwrap();
    assert!(!format!("{dc:?}").contains("NOT-A-REAL-PAT"));
    let export = ExportFile::from_slice(fixture("export-cloud-webhook.json").as_bytes()).unwrap();
    assert!(!format!("{export:?}").contains("chat.example.net"));
}

#[test]
fn pretty_cloud_export_with_empty_and_masked_headers_round_trips() {
    let export: ExportFile = assert_round_trip(&fixture("export-cloud-webhook.json"));
    assert_eq!(export.cloud, Field::Present(true));
    assert_eq!(export.extra["exportedBy"], json!({"tool": "fixture"}));
    let rule = &export.rules[0];
    assert!(rule.uuid.is_absent(), "exports carry idUuid, not uuid");
    assert_eq!(rule.extra["idUuid"], "019a1b2c-3d4e-7f50-8a6b-7c8d9e0f1a2b");
    assert_eq!(rule.extra["id"], 4410271);
    let webhook = &rule.components()[0];
    let headers = &webhook.value.get().unwrap()["headers"];
    assert_eq!(
        headers[0],
        json!({"id": "_header_1761234500001", "name": "", "value": "", "headerSecure": false})
    );
    assert_eq!(headers[1]["value"], "***");
    assert!(webhook.extra["checksum"].is_null());
    assert_eq!(
        rule.components()[1].extra["checksum"],
        json!({"version": 1, "value": "00ff"})
    );
}

#[test]
fn minified_export_with_cloud_last_is_written_back_byte_for_byte() {
    let text = fixture("export-minified-cloud-last.json");
    let export: ExportFile = assert_round_trip(&text);
    assert_eq!(export.rules.len(), 2);
    assert_eq!(export.rules[1].state.get(), Some(&RuleState::Disabled));
    assert_eq!(export.rules[1].components, Field::Present(vec![]));
    assert_eq!(export.to_vec().unwrap(), text.trim_end().as_bytes());
    let parsed = ExportFile::from_slice(text.as_bytes()).unwrap();
    assert_eq!(parsed, export);
}

#[test]
fn connect_era_export_with_branches_two_deep_round_trips() {
    let export: ExportFile = assert_round_trip(&fixture("export-2018-connect-branches.json"));
    let rule = &export.rules[0];
    assert_eq!(
        rule.extra["actorKey"],
        "addon_com.codebarrel.addons.automation.lite"
    );
    assert_eq!(rule.extra["authorKey"], "fixture-admin");
    let deepest = rule
        .walk_components()
        .max_by_key(|at| at.depth)
        .expect("components");
    assert_eq!(deepest.pointer, "/components/0/children/1/children/0");
    assert_eq!(deepest.depth, 2);
    assert_eq!(deepest.component.id.get().unwrap(), "400104");
    let branches = rule
        .walk_components()
        .filter(|at| at.component.kind() == Some(&ComponentKind::Branch))
        .count();
    assert_eq!(branches, 2);
}

#[test]
fn data_center_component_with_secret_references_round_trips() {
    let component: Component = assert_round_trip(&fixture("dc-component-webhook.json"));
    assert_eq!(component.schema_version, Field::Present(2));
    assert!(component.parent_id.is_absent());
    let value = component.value.get().unwrap();
    assert_eq!(
        value["headers"][1]["value"],
        json!({"keyOrValue": "INVENTORY_SYNC_KEY", "secret": true})
    );
    assert_eq!(value["usedSecretsKeys"], json!(["INVENTORY_SYNC_KEY"]));
}

#[test]
fn unknown_kinds_and_states_are_kept() {
    let text =
        r#"{"name":"r","state":"PAUSED","components":[{"component":"SWITCH","type":"x.y"}]}"#;
    let rule: Rule = assert_round_trip(text);
    assert_eq!(rule.state.get(), Some(&RuleState::Other("PAUSED".into())));
    assert_eq!(
        rule.components()[0].kind(),
        Some(&ComponentKind::Other("SWITCH".into()))
    );
}

#[test]
fn a_field_that_does_not_fit_is_named_with_its_path() {
    let text = r#"{"rules":[{"components":[{"children":[{"conditions":{"not":"a list"}}]}]}]}"#;
    let err = ExportFile::from_slice(text.as_bytes()).unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("at `rules[0].components[0].children[0].conditions`: invalid type: map"),
        "{message}"
    );

    assert!(ExportFile::from_slice(b"{\"rules\":[]} trailing").is_err());
    assert!(Rule::from_value(json!({"trigger": "not an object"})).is_err());
}

#[test]
fn fields_set_after_reading_are_written_after_the_fields_that_were_read() {
    let mut rule: Rule = serde_json::from_str(r#"{"x":1,"name":"r"}"#).unwrap();
    rule.state = Field::Present(RuleState::Enabled);
    rule.extra.insert("y".into(), json!(2));
    assert_eq!(
        compact(&rule),
        r#"{"x":1,"name":"r","state":"ENABLED","y":2}"#
    );
    rule.name = Field::Absent;
    assert_eq!(compact(&rule), r#"{"x":1,"state":"ENABLED","y":2}"#);
}

/// Every typed field of a component, in each of its forms, with unknown fields, in any key order.
fn component_json() -> impl Strategy<Value = String> {
    let string_field = prop_oneof![
        Just(None),
        Just(Some(json!(null))),
        "[a-z0-9-]{0,8}".prop_map(|s| Some(json!(s))),
    ];
    let list_field = prop_oneof![
        Just(None),
        Just(Some(json!(null))),
        Just(Some(json!([]))),
        Just(Some(
            json!([{"id": "n1", "children": null}, {"conditions": [], "zz": 1}])
        )),
    ];
    let value_field = prop_oneof![
        Just(None),
        Just(Some(json!(null))),
        Just(Some(json!("text"))),
        Just(Some(
            json!({"headers": [{"name": "Authorization", "value": "Bearer x"}], "n": 1.5})
        )),
    ];
    (
        proptest::collection::vec(string_field, 5),
        proptest::collection::vec(list_field, 2),
        value_field,
        prop_oneof![
            Just(None),
            Just(Some(json!(null))),
            (0i64..20).prop_map(|n| Some(json!(n)))
        ],
        proptest::collection::vec(("[a-z]{1,6}", any::<i32>()), 0..3),
        any::<u64>(),
    )
        .prop_map(|(strings, lists, value, schema, extra, seed)| {
            let mut entries: Vec<(String, Value)> = Vec::new();
            let names = ["id", "component", "type", "parentId", "conditionParentId"];
            for (name, v) in names.iter().zip(strings) {
                if let Some(mut v) = v {
                    if *name == "component" && v.is_string() {
                        v = json!("ACTION");
                    }
                    entries.push(((*name).to_owned(), v));
                }
            }
            for (name, v) in ["children", "conditions"].iter().zip(lists) {
                if let Some(v) = v {
                    entries.push(((*name).to_owned(), v));
                }
            }
            if let Some(v) = value {
                entries.push(("value".into(), v));
            }
            if let Some(v) = schema {
                entries.push(("schemaVersion".into(), v));
            }
            for (k, v) in extra {
                entries.push((format!("x_{k}"), json!(v)));
            }
            // A deterministic shuffle from the seed.
            let mut rng = seed;
            for i in (1..entries.len()).rev() {
                rng = rng
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                entries.swap(i, (rng >> 33) as usize % (i + 1));
            }
            let map: serde_json::Map<String, Value> = entries.into_iter().collect();
            serde_json::to_string(&map).unwrap()
        })
}

proptest! {
    #[test]
    fn any_component_shape_round_trips_exactly(text in component_json()) {
        let component: Component = serde_json::from_str(&text).unwrap();
        prop_assert_eq!(serde_json::to_string(&component).unwrap(), text);
    }
}

/// The real files of `../shared/conformance/fixtures` (or `$ATLASSIAN_ROTATION_CONFORMANCE_DIR`),
/// read at test time, never copied. Missing or incomplete data fails the test.
#[test]
fn real_conformance_fixtures_round_trip() {
    let data = support::conformance();
    let dir = data.root().join("fixtures");
    let json_files = |kind: &str| data.json_files(&format!("fixtures/{kind}"));
    let mut checked = 0;
    for file in json_files("cloud-api-get") {
        let text = std::fs::read_to_string(&file).unwrap();
        let rule: Rule = assert_round_trip(&text);
        assert!(rule.walk_components().count() > 0, "{}", file.display());
        // The same rule wrapped as the API sends it.
        let doc = format!(r#"{{"rule":{},"connections":[]}}"#, text.trim());
        assert_round_trip::<RuleDocument>(&doc);
        checked += 1;
    }
    for file in json_files("cloud-export") {
        let text = std::fs::read_to_string(&file).unwrap();
        let export: ExportFile = assert_round_trip(&text);
        assert!(!export.rules.is_empty(), "{}", file.display());
        let parsed = ExportFile::from_slice(text.as_bytes()).unwrap();
        assert_eq!(
            compact(&parsed),
            compact(&serde_json::from_str::<Value>(&text).unwrap())
        );
        checked += 1;
    }
    for file in json_files("dc-export") {
        let text = std::fs::read_to_string(&file).unwrap();
        assert_round_trip::<Component>(&text);
        checked += 1;
    }
    assert!(
        checked >= 8,
        "only {checked} conformance files found in {}",
        dir.display()
    );
}
