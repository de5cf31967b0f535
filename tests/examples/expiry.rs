//! token_expiry: tokens in the window, joined with the rules using their accounts in every
//! credential form.

use super::*;

/// The live flags, the org's flags and `extra`.
fn expiry_args(w: &World, extra: &[&str]) -> Vec<String> {
    let admin_base = w.fake.admin_base();
    let mut args = w.live();
    args.extend(plain(&["--org", &w.org_id, "--admin-base", &admin_base]));
    args.extend(plain(extra));
    args
}

fn expiry_env(w: &World) -> token_expiry::Env {
    token_expiry::Env {
        admin_key: Some(w.admin_key.clone()),
        api_token: Some(w.admin_token.clone()),
    }
}

#[tokio::test]
async fn token_expiry_lists_tokens_in_the_window_with_the_rules_using_their_accounts() {
    let w = world(30).await; // svc's old token expires in 12 days, its new one in 365
    let now = OffsetDateTime::now_utc();
    let bob = w.fake.add_user("bob@example.com", "Bob");
    let (_, bob_token) =
        w.fake
            .mint_api_token(&bob.account_id, "reports", now + time::Duration::days(200));
    w.fake.seed_rules(
        CLOUD,
        RuleSeed::new(10)
            .with_token(&bob.email, bob_token.clone())
            .seed(7),
    );
    let carol = w.fake.add_user("carol@example.com", "Carol");
    let (carol_id, carol_token) =
        w.fake
            .mint_api_token(&carol.account_id, "laptop", now + time::Duration::days(5));

    // svc's old token sits in Basic, Bearer, API-key and URL forms: a Basic value names svc, and
    // the same secret elsewhere takes that account.
    let svc_rules = sorted(w.fake.rules_holding(&w.old_credentials()));
    assert!(svc_rules.len() >= 8);

    let mut args = expiry_args(&w, &["--days", "30"]);
    let env = || expiry_env(&w);
    let run = run_example!(token_expiry, env(), args);
    assert_eq!(run.code, 0, "{}", run.err);
    let report: Value = serde_json::from_str(&run.out).unwrap();
    let expiring = report["expiring"].as_array().unwrap();
    let ids: Vec<&str> = expiring.iter().map(|t| t["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        [carol_id.as_str(), w.old_id.as_str()],
        "soonest first, only within 30 days"
    );
    assert_eq!(expiring[0]["owner"]["email"], "carol@example.com");
    assert_eq!(expiring[0]["uses"], json!([]));
    assert_eq!(expiring[1]["label"], "automation 2025");
    assert_eq!(expiring[1]["kind"], "user_api_token");
    let uses = expiring[1]["uses"].as_array().unwrap();
    let listed = sorted(
        uses.iter()
            .map(|u| u["finding"]["rule_uuid"].as_str().unwrap().to_owned()),
    );
    assert_eq!(listed, svc_rules, "every form, not only Basic");
    assert!(
        uses.iter()
            .all(|u| u["finding"]["pointer"].as_str().unwrap().starts_with('/'))
    );
    assert!(uses.iter().any(|u| u["attributed_by"] == "same_credential"));
    // Another account's Bearer token and the masked values are unresolved, not dropped.
    let unresolved = report["unresolved"].as_array().unwrap();
    assert!(
        unresolved
            .iter()
            .any(|u| u["reason"]["reason"] == "not_asked")
    );
    assert!(
        unresolved
            .iter()
            .any(|u| u["reason"]["reason"] == "unreadable")
    );
    assert!(
        run.err.contains("2 tokens expire within 30 days"),
        "{}",
        run.err
    );
    let mut secrets = w.secrets();
    secrets.extend([bob_token.expose_secret(), carol_token.expose_secret()]);
    run.assert_clean(&secrets);

    // With identity resolution on the fake's gateway: the strangers' tokens are refused (they
    // are nobody's here), and nothing is asked with an email.
    let gateway = w.fake.jira_gateway_base(CLOUD);
    let mut resolving = args.clone();
    resolving.extend(plain(&["--resolve-identities", "--jira-gateway", &gateway]));
    let resolved = run_example!(token_expiry, env(), resolving);
    assert_eq!(resolved.code, 0, "{}", resolved.err);
    let report: Value = serde_json::from_str(&resolved.out).unwrap();
    assert!(report["identities"]["asked"].as_u64().unwrap() > 0);
    assert!(
        report["unresolved"]
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u["reason"]["reason"] == "refused")
    );
    assert!(
        w.fake
            .requests()
            .iter()
            .filter(|r| r.route() == Some(Route::JiraMyself))
            .all(|r| r.auth_scheme() == Some("Bearer"))
    );
    resolved.assert_clean(&secrets);

    args.push("--human".into());
    let table = run_example!(token_expiry, env(), args);
    assert_eq!(table.code, 0, "{}", table.err);
    assert!(table.out.starts_with("EXPIRES"));
    assert!(table.out.contains(&carol_id) && table.out.contains(&w.old_id));
    assert!(!table.out.contains("bob@example.com"));
    table.assert_clean(&secrets);
}

#[tokio::test]
async fn token_expiry_needs_a_gateway_to_resolve_identities() {
    let w = world(5).await;
    let args = expiry_args(&w, &["--resolve-identities"]);
    let run = run_example!(token_expiry, expiry_env(&w), args);
    run.assert_failed_with("--cloud-id");
    assert_eq!(w.fake.request_count(Route::Any), 0);
}
