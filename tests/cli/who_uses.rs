//! `who-uses`: live and from an export file, as a table and as JSON lines.

use atlassian_rotation::testing::{Fault, Route};

use crate::support::{CLOUD, world};

/// The rule uuids a `who-uses --json` run reported as matches, sorted and deduplicated.
fn matched_rules(lines: &[serde_json::Value]) -> Vec<String> {
    let mut rules: Vec<String> = lines
        .iter()
        .filter(|f| f["status"] == "match")
        .map(|f| f["rule_uuid"].as_str().unwrap().to_owned())
        .collect();
    rules.sort();
    rules.dedup();
    rules
}

#[tokio::test(flavor = "multi_thread")]
async fn live_it_lists_every_rule_holding_the_token() {
    let w = world(24).await;
    let out = w.run(&["who-uses"]).await;
    out.code(0);
    for uuid in &w.holding {
        assert!(
            out.stdout.contains(uuid.as_str()),
            "{uuid} missing:\n{}",
            out.stdout
        );
    }
    assert!(out.stdout.starts_with("RULE"), "a table: {}", out.stdout);
    assert!(out.stderr.contains("24 rules scanned"), "{}", out.stderr);

    let json = w.run(&["who-uses", "--json"]).await;
    json.code(0);
    assert_eq!(matched_rules(&json.json_lines()), w.holding);
    assert_eq!(w.rule_writes(), 0, "who-uses only reads");
}

#[tokio::test(flavor = "multi_thread")]
async fn from_an_export_file_it_needs_no_connection() {
    let w = world(12).await;
    let rules: Vec<_> = w
        .fake
        .rule_uuids(CLOUD)
        .iter()
        .map(|uuid| w.fake.rule(uuid).unwrap())
        .collect();
    let path = w.home.path().join("export.json");
    std::fs::write(
        &path,
        serde_json::json!({"cloud": CLOUD, "rules": rules}).to_string(),
    )
    .unwrap();
    let out = w
        .run_with(
            &["who-uses", "--json", "--export", path.to_str().unwrap()],
            None,
            |c| {
                c.env_remove("ATLASSIAN_API_TOKEN");
            },
        )
        .await;
    out.code(0);
    assert_eq!(matched_rules(&out.json_lines()), w.holding);
    assert!(out.stderr.contains("12 rules scanned"), "{}", out.stderr);
    assert!(w.fake.requests().is_empty(), "an export scan calls nothing");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_inventory_lists_credentials_without_a_token() {
    let w = world(10).await;
    let out = w
        .run_with(&["who-uses", "--all", "--json"], None, |c| {
            c.env_remove("ATLASSIAN_OLD_API_TOKEN");
        })
        .await;
    out.code(0);
    let lines = out.json_lines();
    assert!(
        lines.iter().any(|f| f["status"] == "credential"),
        "{}",
        out.stdout
    );
    assert!(lines.iter().all(|f| f["status"] != "match"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rule_that_cannot_be_read_makes_the_scan_fail_with_1() {
    let w = world(10).await;
    w.fake.fault(Route::RuleGet, Fault::status(404));
    let out = w.run(&["who-uses"]).await;
    out.code(1);
    assert!(out.stderr.contains("could not be read"), "{}", out.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn progress_is_plain_lines_off_a_terminal_and_quiet_silences_it() {
    let w = world(200).await;
    let out = w.run(&["who-uses", "--json"]).await;
    out.code(0);
    assert!(
        out.stderr.contains("scan: 100 rules read"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("scan: 200 rules read"),
        "{}",
        out.stderr
    );
    assert!(
        !out.stderr.contains('\u{1b}'),
        "no terminal codes: {}",
        out.stderr
    );

    let quiet = w.run(&["who-uses", "--json", "--quiet"]).await;
    quiet.code(0);
    assert_eq!(quiet.stderr, "");
    assert_eq!(quiet.stdout.lines().count(), out.stdout.lines().count());
}
