//! token_usage: an export file and the live API, in token and inventory modes.

use super::*;

/// An export of our own: a Basic header for the service account, a masked secure header,
/// another account's Bearer token, and a rule with no credential.
fn export_file(svc_email: &str, old: &ApiToken) -> Value {
    let basic = base64::engine::general_purpose::STANDARD
        .encode(format!("{svc_email}:{}", old.expose_secret()));
    let webhook = |headers: Value| {
        json!({"id": "2", "component": "ACTION", "type": "jira.issue.outgoing.webhook", "schemaVersion": 1,
               "value": {"url": "https://deploy.example.com/hook", "method": "POST", "headers": headers},
               "children": [], "conditions": []})
    };
    let rule = |uuid: &str, name: &str, headers: Value| {
        json!({"uuid": uuid, "name": name, "state": "ENABLED",
               "trigger": {"id": "1", "component": "TRIGGER", "type": "jira.manual.trigger.issue", "value": null},
               "components": [webhook(headers)]})
    };
    json!({"cloud": true, "rules": [
        rule("r-basic", "Deploy hook", json!([
            {"id": null, "name": "Content-Type", "value": "application/json", "headerSecure": false},
            {"id": null, "name": "Authorization", "value": format!("Basic {basic}"), "headerSecure": false}])),
        rule("r-masked", "Masked hook", json!([
            {"id": null, "name": "Authorization", "value": "***", "headerSecure": true}])),
        rule("r-other", "Other account", json!([
            {"id": null, "name": "Authorization", "value": "Bearer someone-elses-token-0123456789", "headerSecure": false}])),
        rule("r-none", "No credential", json!([])),
    ]})
}

#[tokio::test]
async fn token_usage_scans_an_export_file_for_a_token_and_as_an_inventory() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rules.json");
    let old = ApiToken::new("ATATT3xFfGF0-export-test-token-0001");
    let export = export_file("svc@example.com", &old);
    std::fs::write(&path, serde_json::to_vec_pretty(&export).unwrap()).unwrap();
    let path = path.to_str().unwrap();

    let env = token_usage::Env {
        api_token: None,
        find_token: Some(old.clone()),
    };
    let found = run_example!(token_usage, env, strings(&["--export", path]));
    assert_eq!(found.code, 0, "{}", found.err);
    let lines = found.json_lines();
    let summary: Vec<(&str, &str, &str, &str)> = lines
        .iter()
        .map(|f| {
            (
                f["rule_uuid"].as_str().unwrap(),
                f["status"].as_str().unwrap(),
                f["form"].as_str().unwrap(),
                f["pointer"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (
                "r-basic",
                "match",
                "basic",
                "/components/0/value/headers/1/value"
            ),
            (
                "r-masked",
                "cannot_tell",
                "masked",
                "/components/0/value/headers/0/value"
            ),
        ]
    );
    assert_eq!(lines[0]["rule_name"], "Deploy hook");
    assert!(
        found
            .err
            .contains("4 rules scanned: 1 match, 1 cannot_tell"),
        "{}",
        found.err
    );
    found.assert_clean(&[old.expose_secret()]);

    let inventory = run_example!(
        token_usage,
        token_usage::Env::default(),
        strings(&["--export", path])
    );
    assert_eq!(inventory.code, 0, "{}", inventory.err);
    let lines = inventory.json_lines();
    let seen: Vec<(&str, &str)> = lines
        .iter()
        .map(|f| {
            (
                f["rule_uuid"].as_str().unwrap(),
                f["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("r-basic", "credential"),
            ("r-masked", "cannot_tell"),
            ("r-other", "credential")
        ]
    );
    assert_eq!(lines[0]["account_email"], "svc@example.com");
    assert_eq!(lines[2]["form"], "bearer");
    inventory.assert_clean(&[old.expose_secret(), "someone-elses-token-0123456789"]);
}

#[tokio::test]
async fn token_usage_finds_every_live_rule_holding_the_token() {
    let w = world(60).await;
    w.fake.set_rule_page_max(7);
    let holding = sorted(w.fake.rules_holding(&w.old_credentials()));
    assert!(holding.len() >= 15);

    let run = run_example!(token_usage, w.usage_env(Some(&w.old)), w.live());
    assert_eq!(run.code, 0, "{}", run.err);
    let findings = run.json_lines();
    assert_eq!(uuids_of(&findings, "match"), holding);
    assert!(
        findings
            .iter()
            .all(|f| f["status"] == "match" || f["status"] == "cannot_tell")
    );
    assert!(run.err.contains("60 rules scanned"), "{}", run.err);
    assert_eq!(
        w.fake.request_count(Route::RulePut),
        0,
        "a scan writes nothing"
    );
    run.assert_clean(&w.secrets());
}

#[tokio::test]
async fn token_usage_inventory_through_the_site_gateway_names_the_accounts() {
    let w = world(40).await;
    let site = w.fake.site_base();
    let args = strings(&[
        "--site",
        &site,
        "--cloud-id",
        CLOUD,
        "--email",
        &w.admin_email,
    ]);
    let run = run_example!(token_usage, w.usage_env(None), args);
    assert_eq!(run.code, 0, "{}", run.err);
    let findings = run.json_lines();
    assert!(
        findings
            .iter()
            .all(|f| f["status"] == "credential" || f["status"] == "cannot_tell")
    );
    let as_svc: BTreeSet<String> = findings
        .iter()
        .filter(|f| f["account_email"] == w.svc.email.as_str())
        .map(|f| f["rule_uuid"].as_str().unwrap().to_owned())
        .collect();
    assert!(!as_svc.is_empty());
    assert!(as_svc.is_subset(&sorted(w.fake.rules_holding(&w.old_credentials()))));
    assert!(
        w.fake
            .requests()
            .iter()
            .any(|r| r.path().starts_with("/gateway/api/automation/"))
    );
    run.assert_clean(&w.secrets());
}

#[tokio::test]
async fn a_missing_secret_is_one_clear_error_line_before_any_request() {
    let w = world(5).await;
    let env = token_usage::Env {
        api_token: None,
        find_token: Some(w.old.clone()),
    };
    let run = run_example!(token_usage, env, w.live());
    run.assert_failed_with("ATLASSIAN_API_TOKEN is not set");
    assert_eq!(w.fake.request_count(Route::Any), 0);
}
