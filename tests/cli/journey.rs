//! The admin's three commands: who uses the token, what a rotation would change, and the
//! rotation with revocation, ending with the old token refused by the fake.

use crate::support::world;

#[tokio::test(flavor = "multi_thread")]
async fn who_uses_then_plan_then_rotate_with_revoke_leaves_the_old_token_revoked() {
    let w = world(30).await;

    let found = w.run(&["who-uses"]).await;
    found.code(0);
    assert!(
        w.holding
            .iter()
            .all(|uuid| found.stdout.contains(uuid.as_str()))
    );

    let plan = w
        .run(&["plan", "--token-email", w.old.email(), "--json"])
        .await;
    plan.code(0);
    let plan_json = &plan.json_lines()[0];
    let mut planned: Vec<String> = plan_json["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["uuid"].as_str().unwrap().to_owned())
        .collect();
    planned.sort();
    assert_eq!(planned, w.holding);
    assert!(
        plan.stderr.contains("nothing was written"),
        "{}",
        plan.stderr
    );
    assert_eq!(w.rule_writes(), 0, "a plan writes nothing");

    // No account id: the tool asks the site whose the old token is.
    let rotated = w
        .run(&[
            "rotate",
            "token",
            "--yes",
            "--token-email",
            w.old.email(),
            "--revoke",
            "--old-token-id",
            &w.old_id,
            "--accept-unreadable",
        ])
        .await;
    rotated.code(0);
    assert!(
        !w.fake.token_is_live(w.old.token()),
        "the old token gets 401"
    );
    assert!(w.fake.rules_holding(&w.old).is_empty());
    assert_eq!(
        w.rule_writes() as usize,
        w.holding.len(),
        "exactly the rules that held it"
    );
    assert!(
        rotated.stdout.contains("finish"),
        "the report: {}",
        rotated.stdout
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_plan_with_revocation_says_what_blocks_it() {
    let w = world(30).await;
    let plan = w
        .run(&[
            "plan",
            "--token-email",
            w.old.email(),
            "--revoke",
            "--account-id",
            &w.svc.account_id,
            "--old-token-id",
            &w.old_id,
        ])
        .await;
    plan.code(0);
    assert!(plan.stdout.starts_with("RULE"), "{}", plan.stdout);
    assert!(
        plan.stderr.contains("--accept-unreadable"),
        "{}",
        plan.stderr
    );
}
