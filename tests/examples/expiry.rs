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
        run.err.contains("2 credentials expire within 30 days"),
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

/// Every kind by default, each with where it is used; `--kind` restricts; a kind the key may
/// not list is named on stderr and the others still come back.
#[tokio::test]
async fn token_expiry_lists_every_kind_and_kind_restricts() {
    let w = world(5).await;
    let ci =
        w.fake
            .seed_service_account_usage(CLOUD, &w.org_id, "ci-bot", 4, time::Duration::days(3));
    let in_days = |days| OffsetDateTime::now_utc() + time::Duration::days(days);
    let key = w.fake.mint_admin_key(&w.org_id, "ci", &[], in_days(20));

    let all = run_example!(token_expiry, expiry_env(&w), expiry_args(&w, &[]));
    assert_eq!(all.code, 0, "{}", all.err);
    let report: Value = serde_json::from_str(&all.out).unwrap();
    let listed: Vec<(&str, &str, &str)> = report["expiring"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["kind"].as_str().unwrap(),
                c["id"].as_str().unwrap(),
                c["where_used"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        [
            (
                "service_account_token",
                ci.token_id.as_str(),
                "automation_rules"
            ),
            ("user_api_token", w.old_id.as_str(), "automation_rules"),
            ("admin_api_key", key.id.as_str(), "not_tracked"),
        ]
    );
    let sa_rules = sorted(
        report["expiring"][0]["uses"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["finding"]["rule_uuid"].as_str().unwrap().to_owned()),
    );
    assert_eq!(sa_rules, sorted(ci.rules.clone()));
    assert!(all.err.contains("3 credentials expire"), "{}", all.err);
    let mut secrets = w.secrets();
    secrets.push(ci.token.expose_secret());
    all.assert_clean(&secrets);

    let args = expiry_args(&w, &["--kind", "user-api-token", "--human"]);
    let users = run_example!(token_expiry, expiry_env(&w), args);
    assert_eq!(users.code, 0, "{}", users.err);
    assert!(users.out.contains(&w.old_id), "{}", users.out);
    assert!(!users.out.contains(&ci.token_id) && !users.out.contains(&key.id));
    assert_eq!(
        w.fake.request_count(Route::AdminKeys),
        1,
        "only the first run"
    );

    // A scoped key that may not read service-account tokens.
    let scoped = w
        .fake
        .mint_admin_key(&w.org_id, "radar", &["read:keys:admin"], in_days(200));
    let env = token_expiry::Env {
        admin_key: Some(scoped.key.clone()),
        ..expiry_env(&w)
    };
    let partial = run_example!(token_expiry, env, expiry_args(&w, &[]));
    assert_eq!(partial.code, 0, "{}", partial.err);
    assert!(
        partial
            .err
            .contains("token_expiry: service-account tokens: not covered"),
        "{}",
        partial.err
    );
    let report: Value = serde_json::from_str(&partial.out).unwrap();
    assert_eq!(report["coverage"][2]["coverage"], "not_covered");
    assert_eq!(report["coverage"][2]["status"], 403);
    assert_eq!(report["expiring"].as_array().unwrap().len(), 2);

    let refused =
        token_expiry::Args::try_parse_from(["token_expiry", "--org", "o", "--kind", "tunnel-key"])
            .unwrap_err();
    assert!(refused.to_string().contains("tunnel-key"), "{refused}");
}

#[tokio::test]
async fn token_expiry_does_not_say_nothing_expires_when_a_kind_was_not_listed() {
    let w = world(5).await;
    w.fake.add_service_account(&w.org_id, "ci-bot");
    let in_a_year = OffsetDateTime::now_utc() + time::Duration::days(365);
    // A scoped key that may not read service-account tokens; a window nothing listed is in.
    let scoped = w
        .fake
        .mint_admin_key(&w.org_id, "radar", &["read:keys:admin"], in_a_year);
    let env = token_expiry::Env {
        admin_key: Some(scoped.key.clone()),
        ..expiry_env(&w)
    };
    let run = run_example!(token_expiry, env, expiry_args(&w, &["--days", "1"]));
    let report: Value = serde_json::from_str(&run.out).unwrap();
    assert_eq!(report["expiring"], json!([]), "{}", run.out);
    assert!(
        !run.err.contains("nothing expires"),
        "service-account tokens were not listed, yet: {}",
        run.err
    );
    assert!(run.err.contains("not covered"), "{}", run.err);
}
