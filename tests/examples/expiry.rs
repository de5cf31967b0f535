//! token_expiry: tokens in the window, joined with the rules using their accounts.

use super::*;

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

    // The rules that authenticate as svc with Basic, found independently of the scanner.
    let basic = base64::engine::general_purpose::STANDARD.encode(format!(
        "{}:{}",
        w.svc.email,
        w.old.expose_secret()
    ));
    let svc_rules: BTreeSet<String> = w
        .fake
        .rule_uuids(CLOUD)
        .into_iter()
        .filter(|u| w.fake.rule(u).unwrap().to_string().contains(&basic))
        .collect();
    assert!(!svc_rules.is_empty());

    let admin_base = w.fake.admin_base();
    let mut args = w.live();
    args.extend(plain(&[
        "--org",
        &w.org_id,
        "--admin-base",
        &admin_base,
        "--days",
        "30",
    ]));
    let env = || token_expiry::Env {
        admin_key: Some(w.admin_key.clone()),
        api_token: Some(w.admin_token.clone()),
    };
    let run = run_example!(token_expiry, env(), args);
    assert_eq!(run.code, 0, "{}", run.err);
    let lines = run.json_lines();
    let ids: Vec<&str> = lines
        .iter()
        .map(|l| l["token_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [carol_id.as_str(), w.old_id.as_str()],
        "soonest first, only within 30 days"
    );
    assert_eq!(lines[0]["user_email"], "carol@example.com");
    assert_eq!(lines[0]["rules"], json!([]));
    assert_eq!(lines[1]["label"], "automation 2025");
    let listed = sorted(
        lines[1]["rules"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["rule_uuid"].as_str().unwrap().to_owned()),
    );
    assert_eq!(listed, svc_rules);
    assert!(
        lines[1]["rules"][0]["pointer"]
            .as_str()
            .unwrap()
            .starts_with('/')
    );
    let mut secrets = w.secrets();
    secrets.extend([bob_token.expose_secret(), carol_token.expose_secret()]);
    run.assert_clean(&secrets);

    args.push("--human".into());
    let table = run_example!(token_expiry, env(), args);
    assert_eq!(table.code, 0, "{}", table.err);
    assert!(table.out.starts_with("EXPIRES"));
    assert!(table.out.contains(&carol_id) && table.out.contains(&w.old_id));
    assert!(!table.out.contains("bob@example.com"));
    table.assert_clean(&secrets);
}
