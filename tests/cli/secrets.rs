//! Secrets come from the environment or stdin, never show in any output (also at
//! `RUST_LOG=trace`), and a missing one is a usage error that says how to give it.

use crate::support::world;

#[tokio::test(flavor = "multi_thread")]
async fn no_secret_shows_in_any_output_at_trace_level() {
    let w = world(16).await;
    let flags = w.revoke_flags();
    let revoke: Vec<&str> = flags.iter().map(String::as_str).collect();
    let runs: Vec<Vec<&str>> = vec![
        vec!["who-uses"],
        vec!["who-uses", "--json"],
        [&["plan", "--json"][..], &revoke[..]].concat(),
        [&["rotate", "token", "--yes"][..], &revoke[..]].concat(),
        vec!["journal", "list", "--json"],
    ];
    let written = {
        let mut outputs = String::new();
        for args in &runs {
            let out = w
                .run_with(args, None, |c| {
                    c.env("RUST_LOG", "trace");
                })
                .await;
            out.code(0);
            outputs.push_str(&out.stdout);
            outputs.push_str(&out.stderr);
        }
        for secret in w.secret_spellings() {
            assert!(!outputs.contains(&secret), "a secret was written");
        }
        assert!(
            outputs.contains("TRACE") || outputs.contains("DEBUG"),
            "tracing was on"
        );
        outputs.len()
    };
    assert!(written > 0);
    assert!(!w.fake.token_is_live(w.old.token()));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_secret_is_a_usage_error_naming_its_variable_and_flag() {
    let w = world(8).await;
    let out = w
        .run_with(&["who-uses"], None, |c| {
            c.env_remove("ATLASSIAN_OLD_API_TOKEN");
        })
        .await;
    out.code(2);
    assert!(
        out.stderr.contains("ATLASSIAN_OLD_API_TOKEN"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("--old-token-stdin"), "{}", out.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn secrets_are_read_from_stdin_one_line_each() {
    let w = world(12).await;
    let stdin = format!(
        "{}\n{}\n",
        w.caller.token().expose_secret(),
        w.old.token().expose_secret()
    );
    let out = w
        .run_with(
            &[
                "who-uses",
                "--json",
                "--api-token-stdin",
                "--old-token-stdin",
            ],
            Some(&stdin),
            |c| {
                c.env_remove("ATLASSIAN_API_TOKEN")
                    .env_remove("ATLASSIAN_OLD_API_TOKEN");
            },
        )
        .await;
    out.code(0);
    let matches = out
        .json_lines()
        .iter()
        .filter(|f| f["status"] == "match")
        .count();
    assert!(matches >= w.holding.len(), "{}", out.stdout);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_revocation_without_yes_and_without_a_terminal_is_refused_with_4() {
    let w = world(8).await;
    let out = w
        .run(&[
            "rotate",
            "token",
            "--revoke",
            "--account-id",
            &w.svc.account_id,
            "--old-token-id",
            &w.old_id,
            "--token-email",
            w.old.email(),
        ])
        .await;
    out.code(4);
    assert!(out.stderr.contains("--yes"), "{}", out.stderr);
    assert_eq!(w.rule_writes(), 0);
    assert!(w.fake.token_is_live(w.old.token()));
}
