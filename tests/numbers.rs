//! Numbers in rules round-trip exactly: big integers, long decimals and exponents come back as
//! they were written, through the typed model, the rewriter, and a GET/PUT against the fake.

use atlassian_rotation::automation::rewrite::rewrite_rule;
use atlassian_rotation::automation::{AutomationClient, ExportFile, Rule, RuleDocument};
use atlassian_rotation::secret::{ApiCredentials, ApiToken};
use atlassian_rotation::testing::FakeAtlassian;
use atlassian_rotation::{ClientOptions, RetryPolicy};
use serde_json::Value;
use time::{Duration, OffsetDateTime};

/// Numbers JSON allows that an `f64` or `i64` cannot hold as written.
const NUMBERS: [&str; 12] = [
    "123456789012345678901234567890",
    "-123456789012345678901234567890",
    "18446744073709551616",
    "19.990000000000000001",
    "0.1000000000000000055511151231257827",
    "1e400",
    "1E+2",
    "1e-7",
    "-0.0",
    "2.50",
    "1.0",
    "-1E-400",
];

/// A compact rule holding every number in a component value, in an unknown field and in an
/// array, with the old token in a header.
fn rule_text() -> String {
    let list = NUMBERS.join(",");
    format!(
        r#"{{"uuid":"n-1","name":"Numbers","zzBig":{big},"trigger":{{"component":"TRIGGER","schemaVersion":1,"value":{{"limits":[{list}]}}}},"components":[{{"component":"ACTION","type":"jira.issue.outgoing.webhook","value":{{"url":"https://example.com/h","price":{dec},"headers":[{{"name":"X-Api-Key","value":"old-token-1","headerSecure":false}}]}},"zzExtra":{exp}}}]}}"#,
        big = NUMBERS[0],
        dec = NUMBERS[3],
        exp = NUMBERS[5],
    )
}

/// `text` as serde_json writes it back: every digit kept, an exponent spelled one way (`e`, with
/// its sign), which is the same number.
fn written_back(text: &str) -> String {
    text.replace("-1E-400", "-1e-400")
        .replace("1e400", "1e+400")
        .replace("1E+2", "1e+2")
}

#[test]
fn a_value_keeps_every_number_as_written() {
    let text = rule_text();
    let value: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(serde_json::to_string(&value).unwrap(), written_back(&text));
    assert_eq!(value["zzBig"].to_string(), NUMBERS[0]);
    assert_eq!(
        value["components"][0]["value"]["price"].to_string(),
        NUMBERS[3]
    );
}

#[test]
fn the_typed_model_keeps_every_number_as_written() {
    let text = rule_text();
    let rule: Rule = serde_json::from_str(&text).unwrap();
    assert_eq!(serde_json::to_string(&rule).unwrap(), written_back(&text));

    let rule = Rule::from_value(serde_json::from_str(&text).unwrap()).unwrap();
    assert_eq!(
        serde_json::to_string(&rule.to_value().unwrap()).unwrap(),
        written_back(&text)
    );

    let document = format!(
        r#"{{"rule":{text},"connections":[],"zzTotal":{}}}"#,
        NUMBERS[1]
    );
    let parsed: RuleDocument = serde_json::from_str(&document).unwrap();
    assert_eq!(
        serde_json::to_string(&parsed).unwrap(),
        written_back(&document)
    );

    let export = format!(
        r#"{{"cloud":true,"rules":[{text}],"zzCount":{}}}"#,
        NUMBERS[6]
    );
    let parsed = ExportFile::from_slice(export.as_bytes()).unwrap();
    assert_eq!(parsed.to_vec().unwrap(), written_back(&export).into_bytes());
}

#[test]
fn a_schema_version_that_is_not_an_integer_is_a_typed_error_not_a_panic() {
    for version in ["1e400", "123456789012345678901234567890", "1.5"] {
        let text = format!(r#"{{"components":[{{"schemaVersion":{version}}}]}}"#);
        let err = serde_json::from_str::<Rule>(&text).unwrap_err();
        assert!(err.to_string().contains("schemaVersion"), "{err}");
    }
}

#[test]
fn a_rewrite_changes_the_token_and_no_number() {
    let text = rule_text();
    let mut rule: Value = serde_json::from_str(&text).unwrap();
    let changes = rewrite_rule(
        &mut rule,
        &ApiToken::new("old-token-1"),
        &ApiToken::new("new-token-2"),
    )
    .unwrap();
    assert_eq!(changes.len(), 1);
    assert_eq!(
        serde_json::to_string(&rule).unwrap(),
        written_back(&text).replace("old-token-1", "new-token-2")
    );
}

#[tokio::test]
async fn a_rule_read_and_written_back_through_the_fake_keeps_its_numbers() {
    let fake = FakeAtlassian::start().await;
    let user = fake.add_user("ops@example.com", "Ops Bot");
    let later = OffsetDateTime::now_utc() + Duration::days(30);
    let (_, token) = fake.mint_api_token(&user.account_id, "automation", later);
    let client = AutomationClient::builder(ApiCredentials::new(&user.email, token))
        .base_url(fake.automation_base("cloud-n"))
        .options(ClientOptions::new().retry_policy(RetryPolicy::none()))
        .build()
        .unwrap();
    let text = rule_text();
    let uuid = fake.add_rule("cloud-n", serde_json::from_str(&text).unwrap());

    // Raw JSON, rewritten, then PUT back.
    let mut document = client.get_rule_json(&uuid).await.unwrap();
    assert_eq!(
        serde_json::to_string(&document["rule"]).unwrap(),
        written_back(&text)
    );
    rewrite_rule(
        &mut document["rule"],
        &ApiToken::new("old-token-1"),
        &ApiToken::new("new-token-2"),
    )
    .unwrap();
    client.update_rule_json(&uuid, &document).await.unwrap();
    let stored = fake.rule(&uuid).unwrap();
    assert_eq!(
        serde_json::to_string(&stored).unwrap(),
        written_back(&text).replace("old-token-1", "new-token-2")
    );

    // The typed document, read and written back unchanged.
    let typed = client.get_rule(&uuid).await.unwrap();
    client.update_rule(&uuid, &typed).await.unwrap();
    assert_eq!(fake.rule(&uuid).unwrap(), stored);
    assert_eq!(
        serde_json::to_string(&fake.rule(&uuid).unwrap()).unwrap(),
        serde_json::to_string(&stored).unwrap()
    );
}
