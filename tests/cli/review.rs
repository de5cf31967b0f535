//! An adversarial review of the tool: a careless operator (a secret typed on the command line,
//! a profile pointing somewhere odd) and a hostile server (echoing secrets, storms, junk).

use std::os::unix::fs::PermissionsExt as _;

use atlassian_rotation::testing::{Fault, Route};

use crate::support::{Out, World, world};

/// Asserts that no secret of the world (nor `extra`) shows in `out`.
fn assert_no_secret(w: &World, out: &Out, extra: &[&str]) {
    let all = format!("{}\n{}", out.stdout, out.stderr);
    for secret in w
        .secret_spellings()
        .iter()
        .map(String::as_str)
        .chain(extra.iter().copied())
    {
        assert!(
            !all.contains(secret),
            "a secret was written:\nstdout:\n{}\nstderr:\n{}",
            out.stdout,
            out.stderr
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_secret_typed_on_the_command_line_by_mistake_is_not_echoed_by_the_usage_error() {
    let w = world(8).await;
    let token = w.old.token().expose_secret().to_owned();
    let equals = format!("--old-token={token}");
    let runs: Vec<Vec<&str>> = vec![
        vec!["who-uses", &token],
        vec!["who-uses", "--old-token", &token],
        vec!["who-uses", &equals],
        vec!["who-uses", "--concurrency", &token],
        vec!["completions", &token],
        vec!["journal", "show", "x", &token],
    ];
    for args in runs {
        let out = w.run(&args).await;
        out.code(2);
        assert!(
            !out.stderr.contains(&token),
            "{args:?} echoed the token:\n{}",
            out.stderr
        );
    }
    assert!(w.fake.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_given_to_a_setting_flag_is_refused_before_any_request() {
    let w = world(8).await;
    let token = w.old.token().expose_secret().to_owned();
    let site = format!(
        "http://svc%40example.com:{token}@{}",
        w.fake.site_base().trim_start_matches("http://")
    );
    let email = w.old.email();
    let runs: Vec<(&str, Vec<&str>)> = vec![
        // The old token where its id goes: sent in a URL, saved, quoted in errors.
        (
            "--old-token-id",
            vec![
                "rotate",
                "token",
                "--yes",
                "--revoke",
                "--token-email",
                email,
                "--account-id",
                &w.svc.account_id,
                "--old-token-id",
                &token,
            ],
        ),
        (
            "--account-id",
            vec![
                "plan",
                "--revoke",
                "--token-email",
                email,
                "--account-id",
                &token,
                "--old-token-id",
                &w.old_id,
            ],
        ),
        ("--site", vec!["who-uses", "--site", &site]),
        ("--email", vec!["who-uses", "--email", &token]),
    ];
    for (flag, args) in runs {
        // The world's flags but the one under test.
        let mut command = w.bare_command(&args);
        let all = w.flags();
        for pair in all.chunks(2) {
            if pair[0] != flag {
                command.args(pair);
            }
        }
        let out = w.spawn(command, None).await;
        assert_eq!(out.code, 2, "{flag}: {}", out.stderr);
        assert!(out.stderr.contains(flag), "{flag}: {}", out.stderr);
        assert!(!out.stderr.contains(&token), "{flag}: {}", out.stderr);
        assert!(!out.stdout.contains(&token), "{flag}: {}", out.stdout);
    }
    assert!(w.fake.requests().is_empty(), "refused before any request");
    assert!(!w.journal().join("cli").exists(), "nothing saved");
}

/// Writes `text` as a profile and runs `who-uses` with it.
async fn with_profile(w: &World, text: &str) -> Out {
    let path = w.home.path().join("profile.toml");
    std::fs::write(&path, text).unwrap();
    w.run(&["who-uses", "--profile", path.to_str().unwrap()])
        .await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_profile_refuses_every_form_of_credential_naming_the_key_never_the_value() {
    let w = world(8).await;
    let token = w.old.token().expose_secret().to_owned();
    let basic = crate::shared::base64_of(&format!("{}:{token}", w.old.email()));
    let short = "s3cr3t-Pa55";
    let cases: Vec<(&str, String, &str)> = vec![
        ("email", format!("email = \"{token}\""), token.as_str()),
        ("org", format!("org = \"Basic {basic}\""), basic.as_str()),
        // A curl header's value pasted without its scheme.
        ("org", format!("org = \"{basic}\""), basic.as_str()),
        ("cloud_id", format!("cloud_id = \"Bearer {short}\""), short),
        (
            "site",
            format!("site = \"https://svc%40example.com:{short}@example.atlassian.net\""),
            short,
        ),
        ("token", format!("token = \"{short}\""), short),
        ("api_token", format!("api_token = \"{short}\""), short),
        ("password", format!("password = \"{short}\""), short),
        // Not a string: the unknown key is still named, the value never shown.
        (
            "api_token",
            "api_token = 1234567890123".to_owned(),
            "1234567890123",
        ),
        ("site", format!("[site]\nuser = \"{short}\""), short),
    ];
    for (key, text, secret) in cases {
        let out = with_profile(&w, &text).await;
        assert_eq!(out.code, 2, "{text}: {}", out.stderr);
        assert!(
            out.stderr.contains(&format!("`{key}`")),
            "{text}: {}",
            out.stderr
        );
        assert!(!out.stderr.contains(secret), "{text}: {}", out.stderr);
    }
    let out = with_profile(&w, "sight = \"https://example.atlassian.net\"").await;
    out.code(2);
    assert!(out.stderr.contains("`sight`"), "{}", out.stderr);
    assert!(w.fake.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_profile_linked_to_a_dotenv_file_is_refused_without_quoting_it() {
    let w = world(8).await;
    let token = w.old.token().expose_secret().to_owned();
    let dotenv = w.home.path().join("app.env");
    for text in [
        format!("JIRA_TOKEN={token}\n"),
        format!("export JIRA_TOKEN=\"{token}\"\n"),
        format!("{token}\n"),
        format!("JIRA_TOKEN = '{token}\n"),
    ] {
        std::fs::write(&dotenv, &text).unwrap();
        let link = w.home.path().join("linked.toml");
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(&dotenv, &link).unwrap();
        let out = w
            .run(&["who-uses", "--profile", link.to_str().unwrap()])
            .await;
        out.code(2);
        assert!(!out.stderr.contains(&token), "{text}: {}", out.stderr);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_profile_that_is_not_a_regular_file_is_refused_rather_than_read_forever() {
    let w = world(8).await;
    // A FIFO no one writes to: reading it blocks for ever.
    let fifo = w.home.path().join("fifo.toml");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo runs");
    assert!(made.success());
    let link = w.home.path().join("config.toml");
    std::os::unix::fs::symlink(&fifo, &link).unwrap();
    let mut command = w.std_command(&["who-uses", "--profile", link.to_str().unwrap()]);
    command
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = tokio::process::Command::from(command).spawn().unwrap();
    // A guard, not a wait for something: a refusal is immediate.
    let ended = tokio::time::timeout(std::time::Duration::from_secs(30), child.wait()).await;
    let Ok(status) = ended else {
        child.kill().await.unwrap();
        panic!("the tool hung reading a FIFO as its profile");
    };
    assert_eq!(status.unwrap().code(), Some(2));
    assert!(w.fake.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tunnel_rotation_without_yes_and_without_a_terminal_is_refused_with_4() {
    let w = world(8).await;
    let before = w
        .fake
        .tunnel_key(&w.tunnel.hostname)
        .map(|k| k.expose_secret().to_owned());
    let out = w
        .run_with(&w.tunnel_rotation(false), None, |c| {
            c.env("ATLASSIAN_DC_TOKEN", w.tunnel.pat.expose_secret());
        })
        .await;
    // Regenerating invalidates the old key at once: as dangerous as a revocation.
    out.code(4);
    assert!(out.stderr.contains("--yes"), "{}", out.stderr);
    assert_eq!(w.fake.request_count(Route::AdminRegenerate), 0);
    let after = w
        .fake
        .tunnel_key(&w.tunnel.hostname)
        .map(|k| k.expose_secret().to_owned());
    assert_eq!(before, after, "the old key still works");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_piped_yes_does_not_confirm_a_revocation() {
    let w = world(8).await;
    let flags = w.revoke_flags();
    let mut args = vec!["rotate", "token"];
    args.extend(flags.iter().map(String::as_str));
    for extra in [&[][..], &["--json"][..], &["--quiet"][..]] {
        let mut args = args.clone();
        args.extend(extra);
        let out = w.run_with(&args, Some("y\nyes\n"), |_| {}).await;
        out.code(4);
        assert_eq!(w.rule_writes(), 0);
        assert!(w.fake.token_is_live(w.old.token()));
    }
}

/// A hostile server that quotes every secret it knows in its error bodies.
fn echo_every_secret(w: &World) -> String {
    let mut quoted = w.secret_spellings().join(" ");
    quoted.push_str(&format!(
        " Authorization: Bearer {} Basic {}",
        w.org.admin_key.expose_secret(),
        crate::shared::base64_of(&format!(
            "{}:{}",
            w.caller.email(),
            w.caller.token().expose_secret()
        ))
    ));
    serde_json::json!({"errorMessages": [quoted], "message": quoted}).to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn errors_of_a_server_that_echoes_secrets_show_none_of_them_anywhere() {
    let w = world(12).await;
    let body = echo_every_secret(&w);
    w.fake
        .fault(Route::RulePut, Fault::status(400).body(body.clone()));
    let trace = |c: &mut std::process::Command| {
        c.env("RUST_LOG", "trace");
    };
    let flags = w.revoke_flags();
    let mut args = vec!["rotate", "token", "--yes"];
    args.extend(flags.iter().map(String::as_str));
    let failed = w.run_with(&args, None, trace).await;
    failed.code(3);
    assert_no_secret(&w, &failed, &[]);
    let id = failed.resume_id();
    for args in [
        vec!["journal", "show", id.as_str()],
        vec!["journal", "show", id.as_str(), "--json"],
        vec!["journal", "list", "--json"],
        vec!["journal", "list"],
    ] {
        let out = w.run_with(&args, None, trace).await;
        out.code(0);
        assert_no_secret(&w, &out, &[]);
    }
    // The revocation answered by the same hostile server.
    w.fake.clear_faults();
    w.fake.fault(
        Route::RevokeUserToken,
        Fault::status(500).body(body.clone()).times(10),
    );
    let resumed = w
        .run_with(&["journal", "resume", &id, "--yes"], None, trace)
        .await;
    resumed.code(3);
    assert_no_secret(&w, &resumed, &[]);
    // The old token's account asked of a hostile site.
    w.fake.clear_faults();
    w.fake
        .fault(Route::JiraMyself, Fault::status(401).body(body).times(10));
    let mut args = vec!["plan", "--revoke", "--old-token-id", &w.old_id];
    args.extend(["--token-email", w.old.email()]);
    let out = w.run_with(&args, None, trace).await;
    out.code(1);
    assert_no_secret(&w, &out, &[]);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_saved_settings_hold_no_secret_and_are_private() {
    let w = world(8).await;
    let out = w.rotate_token(&[]).await;
    out.code(0);
    let dir = w.journal().join("cli");
    let mut saved = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        for secret in w.secret_spellings() {
            assert!(!text.contains(&secret), "{}", path.display());
        }
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "{} is readable by others", path.display());
        saved += 1;
    }
    assert_eq!(saved, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hostile_server_ends_each_command_with_an_error_not_a_panic_or_a_hang() {
    let faults: Vec<(&str, Route, Fault)> = vec![
        (
            "429 storm",
            Route::Any,
            Fault::status(429).retry_after(99_999).times(1_000),
        ),
        ("500s", Route::Any, Fault::status(500).times(1_000)),
        (
            "invalid JSON",
            Route::RuleSummaries,
            Fault::malformed_json().times(1_000),
        ),
        (
            "invalid JSON",
            Route::RuleGet,
            Fault::malformed_json().times(1_000),
        ),
        ("HTML", Route::Any, Fault::html(502).times(1_000)),
        (
            "huge body",
            Route::RuleGet,
            Fault::oversized(64 * 1024 * 1024).times(1_000),
        ),
    ];
    for (what, route, fault) in faults {
        let w = world(6).await;
        w.fake.fault(route, fault);
        for args in [vec!["who-uses", "--json"], vec!["expiring", "--json"]] {
            let mut command = w.std_command(&args);
            command
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped());
            let child = tokio::process::Command::from(command).spawn().unwrap();
            // A guard against a hang, not a wait: each command gives up by itself.
            let out = tokio::time::timeout(
                std::time::Duration::from_secs(120),
                child.wait_with_output(),
            )
            .await
            .unwrap_or_else(|_| panic!("{what}: {args:?} hung"))
            .unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{what}: {args:?}: {stderr}");
            assert!(!stderr.contains("panicked"), "{what}: {stderr}");
            for line in String::from_utf8(out.stdout).unwrap().lines() {
                serde_json::from_str::<serde_json::Value>(line)
                    .unwrap_or_else(|e| panic!("{what}: not JSON ({e}): {line}"));
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_old_token_id_is_found_before_any_rule_is_rewritten() {
    let w = world(8).await;
    let out = w
        .run(&[
            "rotate",
            "token",
            "--yes",
            "--revoke",
            "--token-email",
            w.old.email(),
            "--account-id",
            &w.svc.account_id,
            "--old-token-id",
            "no-such-token-id",
            "--accept-unreadable",
        ])
        .await;
    out.code(1);
    assert!(out.stderr.contains("no-such-token-id"), "{}", out.stderr);
    assert_eq!(
        w.rule_writes(),
        0,
        "no rule rewritten for a token that cannot be revoked"
    );
    assert!(w.fake.token_is_live(w.old.token()));
}

/// The examples of `--help`, run as written: the site, cloud id, org, email and journal from
/// the profile, the fake's base URLs from the environment, the secrets as the examples export.
#[tokio::test(flavor = "multi_thread")]
async fn the_help_examples_work_as_written() {
    let w = world(12).await;
    let dir = w.home.path().join("config/atlassian-rotation");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("config.toml"),
        format!(
            "site = \"{}\"\ncloud_id = \"{}\"\norg = \"{}\"\nemail = \"{}\"\njournal = \"{}\"\n",
            w.fake.site_base(),
            crate::support::CLOUD,
            w.org.id,
            w.caller.email(),
            w.journal().display()
        ),
    )
    .unwrap();
    let w = &w;
    let run = |args: &[&str], stdin: Option<String>| {
        let mut command = w.bare_command(args);
        command
            .env(
                "ATLASSIAN_ROTATION_AUTOMATION_BASE",
                w.fake.automation_base(crate::support::CLOUD),
            )
            .env("ATLASSIAN_ROTATION_ADMIN_BASE", w.fake.admin_base())
            .env(
                "ATLASSIAN_ROTATION_IDENTITY_BASE",
                w.fake.jira_gateway_base(crate::support::CLOUD),
            );
        if stdin.is_some() {
            command
                .env_remove("ATLASSIAN_OLD_API_TOKEN")
                .env_remove("ATLASSIAN_NEW_API_TOKEN");
        }
        async move { w.spawn(command, stdin.as_deref()).await }
    };
    run(&["who-uses"], None).await.code(0);
    run(&["plan", "--token-email", "svc@example.com"], None)
        .await
        .code(0);
    let inventory = run(&["who-uses", "--all", "--json"], None).await;
    inventory.code(0);
    assert!(!inventory.json_lines().is_empty());
    let piped = format!(
        "{}\n{}\n",
        w.old.token().expose_secret(),
        w.new.token().expose_secret()
    );
    let plan = run(
        &["plan", "--old-token-stdin", "--new-token-stdin", "--json"],
        Some(piped),
    )
    .await;
    plan.code(0);
    assert_eq!(plan.json_lines().len(), 1);
    // Off a terminal the revocation is refused (it asks on one).
    let refused = run(
        &[
            "rotate",
            "token",
            "--token-email",
            "svc@example.com",
            "--revoke",
            "--old-token-label",
            "automation",
        ],
        None,
    )
    .await;
    refused.code(4);
    assert_eq!(w.rule_writes(), 0);
    run(&["expiring", "--within", "30"], None).await.code(0);
    let expiring = run(
        &[
            "expiring",
            "--within",
            "7",
            "--resolve-identities",
            "--json",
        ],
        None,
    )
    .await;
    expiring.code(0);
    expiring.json_lines();
    // The journal's examples name `automation-token-1`: the first token rotation's id.
    w.fake.fault(Route::RulePut, Fault::status(400));
    let failed = run(
        &[
            "rotate",
            "token",
            "--token-email",
            "svc@example.com",
            "--revoke",
            "--yes",
            "--old-token-label",
            "automation",
            "--accept-unreadable",
        ],
        None,
    )
    .await;
    failed.code(3);
    assert_eq!(failed.resume_id(), "automation-token-1");
    run(&["journal", "list"], None).await.code(0);
    run(&["journal", "show", "automation-token-1"], None)
        .await
        .code(0);
    // Off a terminal the resume of a revoking rotation needs --yes, as the second example has.
    run(&["journal", "resume", "automation-token-1"], None)
        .await
        .code(4);
    run(
        &[
            "journal",
            "resume",
            "automation-token-1",
            "--take-over",
            "--yes",
        ],
        None,
    )
    .await
    .code(0);
    assert!(!w.fake.token_is_live(w.old.token()));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hostile_rule_name_cannot_drive_the_terminal_or_forge_table_rows() {
    let w = world(8).await;
    let mut rule = w.fake.rule(&w.holding[0]).unwrap();
    rule.as_object_mut().unwrap().remove("uuid");
    let hostile = "Nightly\u{1b}]0;owned\u{7}\u{1b}[2J\nFORGED-ROW  match";
    rule["name"] = serde_json::json!(hostile);
    w.fake.add_rule(crate::support::CLOUD, rule);
    for args in [vec!["who-uses"], vec!["who-uses", "--all"]] {
        let out = w.run(&args).await;
        out.code(0);
        assert!(
            !out.stdout.contains('\u{1b}') && !out.stdout.contains('\u{7}'),
            "{args:?}: a control character from the server reached the terminal"
        );
        assert!(
            !out.stdout.lines().any(|l| l.starts_with("FORGED-ROW")),
            "{args:?}: a rule name forged a row:\n{}",
            out.stdout
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn expiring_fails_when_rules_that_matter_could_not_be_read() {
    let w = world(8).await;
    // The world's tokens expire in 30 days and are used in rules; reading rules fails.
    w.fake
        .fault(Route::RuleGet, Fault::status(500).times(10_000));
    let out = w.run(&["expiring", "--within", "31"]).await;
    out.code(1);
    assert!(out.stderr.contains("incomplete"), "{}", out.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn no_secret_shows_at_trace_level_in_the_other_subcommands() {
    let w = world(8).await;
    let (old_key, new_key) = w.admin_key_pair(&[], 365);
    let old_tunnel_key = w.fake.tunnel_key(&w.tunnel.hostname).unwrap();
    let pat = w.tunnel.pat.expose_secret().to_owned();
    let env = |c: &mut std::process::Command| {
        c.env("RUST_LOG", "trace")
            .env("ATLASSIAN_DC_TOKEN", &pat)
            .env("ATLASSIAN_NEW_ADMIN_KEY", new_key.key.expose_secret());
    };
    let mut outputs = Vec::new();
    // A tunnel rotation that fails to install, its journal, and its resume.
    w.fake.fault(Route::InstallTunnelKey, Fault::status(400));
    let tunnel = w.tunnel_rotation(true);
    let failed = w.run_with(&tunnel, None, env).await;
    failed.code(3);
    let id = failed.resume_id();
    let new_tunnel_key = w.fake.tunnel_key(&w.tunnel.hostname).unwrap();
    outputs.push(failed);
    for args in [
        vec!["journal", "show", id.as_str()],
        vec!["journal", "show", id.as_str(), "--json"],
        vec!["journal", "resume", id.as_str(), "--json"],
        vec!["expiring", "--json", "--within", "60"],
        vec!["completions", "zsh"],
    ] {
        let out = w.run_with(&args, None, env).await;
        out.code(0);
        outputs.push(out);
    }
    // An Admin API key rotation whose revocation fails, then abandoned.
    w.fake.fault(Route::RevokeAdminKey, Fault::status(400));
    let admin = [
        "rotate",
        "admin-key",
        "--yes",
        "--old-key-id",
        &old_key.id,
        "--new-key-label",
        &new_key.label,
    ];
    let failed = w
        .run_with(&admin, None, |c| {
            env(c);
            c.env("ATLASSIAN_ADMIN_KEY", old_key.key.expose_secret());
        })
        .await;
    failed.code(3);
    let id = failed.resume_id();
    outputs.push(failed);
    let abandoned = w
        .run_with(&["journal", "abandon", &id, "--json"], None, env)
        .await;
    abandoned.code(0);
    outputs.push(abandoned);
    let keys = [
        old_key.key.expose_secret(),
        new_key.key.expose_secret(),
        old_tunnel_key.expose_secret(),
        new_tunnel_key.expose_secret(),
        pat.as_str(),
    ];
    for out in &outputs {
        assert_no_secret(&w, out, &keys);
    }
    assert!(
        outputs.iter().any(|o| o.stderr.contains("TRACE")),
        "tracing was on"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_resume_given_another_new_token_installs_the_journaled_one_and_mints_nothing() {
    let w = world(12).await;
    w.fake.fault(Route::RulePut, Fault::status(400));
    let failed = w.rotate_token(&[]).await;
    failed.code(3);
    let id = failed.resume_id();
    // The admin pastes a different token on the resume: the caller's own.
    let other = w.caller.token().expose_secret().to_owned();
    let resumed = w
        .run_with(&["journal", "resume", &id, "--yes"], None, |c| {
            c.env("ATLASSIAN_NEW_API_TOKEN", &other);
        })
        .await;
    resumed.code(0);
    assert!(w.fake.rules_holding(&w.old).is_empty());
    let with_other = atlassian_rotation::secret::ApiCredentials::new(
        w.old.email(),
        atlassian_rotation::secret::ApiToken::new(&other),
    );
    assert!(
        w.fake.rules_holding(&with_other).is_empty(),
        "no rule got the other token"
    );
    assert!(
        !w.fake.rules_holding(&w.new).is_empty(),
        "the rules hold the journaled token"
    );
    assert!(!w.fake.token_is_live(w.old.token()));
}

/// Runs the tool with a guard against a hang; panics if it did not exit by itself.
async fn run_guarded(w: &World, args: &[&str], env: &[(&str, &str)]) -> Out {
    let mut command = w.std_command(args);
    command
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = tokio::process::Command::from(command).spawn().unwrap();
    let output = tokio::time::timeout(std::time::Duration::from_secs(60), child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("{args:?} hung"))
        .unwrap();
    Out {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn extreme_numbers_are_refused_or_clamped_never_a_panic_or_a_hang() {
    let w = world(8).await;
    let (old, new) = w.admin_key_pair(&[], 365);
    let max = u64::MAX.to_string();
    type Env<'a> = Vec<(&'a str, &'a str)>;
    let runs: Vec<(Vec<&str>, Env)> = vec![
        (vec!["who-uses", "--concurrency", "0"], vec![]),
        (vec!["expiring", "--within", &max], vec![]),
        (
            vec![
                "rotate",
                "admin-key",
                "--yes",
                "--old-key-id",
                &old.id,
                "--new-key-label",
                &new.label,
                "--min-expiry",
                &max,
            ],
            vec![
                ("ATLASSIAN_ADMIN_KEY", old.key.expose_secret()),
                ("ATLASSIAN_NEW_ADMIN_KEY", new.key.expose_secret()),
            ],
        ),
    ];
    for (args, env) in runs {
        let out = run_guarded(&w, &args, &env).await;
        assert!(
            matches!(out.code, 0..=2),
            "{args:?} ended with {}:\n{}",
            out.code,
            out.stderr
        );
        assert!(
            !out.stderr.contains("panicked"),
            "{args:?}:\n{}",
            out.stderr
        );
    }
    assert!(
        w.fake.admin_key_is_live(&old.key),
        "a key that expires too soon is refused"
    );
}

/// Runs `command` under a pseudo-terminal, answers `answer` to its `[y/N]` question, and
/// returns its exit code and everything it printed.
async fn answer_on_a_terminal(
    command: std::process::Command,
    answer: &'static str,
) -> (i32, String) {
    use rexpect::process::wait::WaitStatus;
    tokio::task::spawn_blocking(move || {
        let mut session = rexpect::session::spawn_command(command, Some(60_000)).unwrap();
        let mut seen = session.exp_string("[y/N]").unwrap();
        session.send_line(answer).unwrap();
        seen.push_str(&session.exp_eof().unwrap());
        match session.process.wait().unwrap() {
            WaitStatus::Exited(_, code) => (code, seen),
            other => panic!("the tool did not exit: {other:?}"),
        }
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tunnel_regeneration_is_asked_on_a_terminal_and_no_refuses_it() {
    let w = world(8).await;
    let mut command = w.std_command(&w.tunnel_rotation(false));
    command.env("ATLASSIAN_DC_TOKEN", w.tunnel.pat.expose_secret());
    let (code, seen) = answer_on_a_terminal(command, "n").await;
    assert_eq!(code, 4, "{seen}");
    assert_eq!(w.fake.request_count(Route::AdminRegenerate), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_resume_asks_again_before_revoking_and_no_refuses_it() {
    let w = world(12).await;
    w.fake.fault(Route::RulePut, Fault::status(400));
    let failed = w.rotate_token(&[]).await;
    failed.code(3);
    let id = failed.resume_id();
    let command = w.std_command(&["journal", "resume", &id, "--json"]);
    let (code, seen) = answer_on_a_terminal(command, "n").await;
    assert_eq!(code, 4, "{seen}");
    assert!(w.fake.token_is_live(w.old.token()), "nothing revoked");
    let command = w.std_command(&["journal", "resume", &id]);
    let (code, seen) = answer_on_a_terminal(command, "y").await;
    assert_eq!(code, 0, "{seen}");
    assert!(!w.fake.token_is_live(w.old.token()));
}

#[tokio::test(flavor = "multi_thread")]
async fn writes_whose_answers_are_lost_are_reconciled_without_clobbering_a_rule() {
    let w = world(16).await;
    // From the second write on, eight writes take effect but their answers are lost.
    w.fake
        .fault(Route::RulePut, Fault::latency(std::time::Duration::ZERO));
    w.fake.fault(
        Route::RulePut,
        Fault::drop_connection().after_applying().times(8),
    );
    let before: Vec<serde_json::Value> = w
        .fake
        .rule_uuids(crate::support::CLOUD)
        .iter()
        .map(|u| w.fake.rule(u).unwrap())
        .collect();
    let out = w.rotate_token(&[]).await;
    out.code(0);
    assert!(w.fake.rules_holding(&w.old).is_empty());
    assert!(!w.fake.token_is_live(w.old.token()));
    // Every rule kept its other fields: only the credential changed.
    for rule in before {
        let uuid = rule["uuid"].as_str().unwrap();
        let after = w.fake.rule(uuid).unwrap();
        assert_eq!(rule["name"], after["name"]);
        assert_eq!(
            rule["components"].as_array().map(Vec::len),
            after["components"].as_array().map(Vec::len),
            "{uuid}"
        );
    }
}
