//! `rotate tunnel` and `rotate admin-key` end to end against the fake.

use atlassian_rotation::secret::AdminApiKey;

use atlassian_rotation::testing::{FakeAdminKey, Fault, Route, TunnelStatus};

use crate::support::{Out, World, world};

/// `rotate admin-key --yes` from `old` (by id) to `new` (by label), the keys in the
/// environment.
async fn rotate_admin_key(
    w: &World,
    old: &FakeAdminKey,
    new: &FakeAdminKey,
    extra: &[&str],
) -> Out {
    let mut args = vec![
        "rotate",
        "admin-key",
        "--yes",
        "--old-key-id",
        &old.id,
        "--new-key-label",
        &new.label,
    ];
    args.extend(extra);
    w.run_with(&args, None, |c| {
        c.env("ATLASSIAN_ADMIN_KEY", old.key.expose_secret())
            .env("ATLASSIAN_NEW_ADMIN_KEY", new.key.expose_secret());
    })
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tunnel_key_is_rotated_and_the_tunnel_verified() {
    let w = world(8).await;
    let tunnel = &w.tunnel;
    let before = w.fake.tunnel_key(&tunnel.hostname);
    let out = w
        .run_with(
            &[
                "rotate",
                "tunnel",
                "--yes",
                "--hostname",
                &tunnel.hostname,
                "--instance",
                &tunnel.instance_base,
                "--expect-org",
                &w.org.name,
                "--json",
            ],
            None,
            |c| {
                c.env("ATLASSIAN_DC_TOKEN", tunnel.pat.expose_secret());
            },
        )
        .await;
    out.code(0);
    let report = &out.json_lines()[0];
    assert_eq!(report["kind"], "tunnel-key", "{report}");
    let after = w.fake.tunnel_key(&tunnel.hostname);
    assert!(after.is_some());
    assert_ne!(
        before.map(|k| k.expose_secret().to_owned()),
        after.map(|k| k.expose_secret().to_owned()),
        "a new key"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_admin_key_is_rotated_into_a_dotenv_file_and_the_old_one_revoked() {
    let w = world(8).await;
    let scopes = ["read:keys:admin", "delete:keys:admin"];
    let (old, new) = w.admin_key_pair(&scopes, 365);
    let dotenv = w.home.path().join("app.env");
    std::fs::write(
        &dotenv,
        format!("OTHER=1\nADMIN_KEY={}\n", old.key.expose_secret()),
    )
    .unwrap();
    let consumer = format!("dotenv:{}#ADMIN_KEY", dotenv.display());
    let out = rotate_admin_key(
        &w,
        &old,
        &new,
        &["--consumer", &consumer, "--min-expiry", "90"],
    )
    .await;
    out.code(0);
    assert!(!w.fake.admin_key_is_live(&old.key), "the old key gets 401");
    assert!(
        w.fake
            .admin_key_is_live(&AdminApiKey::new(new.key.expose_secret()))
    );
    let text = std::fs::read_to_string(&dotenv).unwrap();
    assert_eq!(
        text,
        format!("OTHER=1\nADMIN_KEY={}\n", new.key.expose_secret())
    );
    assert!(
        !out.stdout.contains(new.key.expose_secret())
            && !out.stderr.contains(new.key.expose_secret())
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_admin_key_expiring_too_soon_is_refused_before_anything_changes() {
    let w = world(8).await;
    let (old, new) = w.admin_key_pair(&[], 10);
    let out = rotate_admin_key(&w, &old, &new, &[]).await;
    out.code(1);
    assert!(out.stderr.contains("expires"), "{}", out.stderr);
    assert!(w.fake.admin_key_is_live(&old.key));
}

#[tokio::test(flavor = "multi_thread")]
async fn expiring_lists_every_kind_in_the_window_with_their_rules() {
    let w = world(8).await;
    let radar = w
        .fake
        .seed_expiring_usage("cloud-radar", 1, time::Duration::days(9));
    let bot = w.fake.seed_service_account_usage(
        "cloud-radar",
        &radar.org.id,
        "ci-bot",
        2,
        time::Duration::days(5),
    );
    let automation = w.fake.automation_base("cloud-radar");
    let admin = w.fake.admin_base();
    let gateway = w.fake.jira_gateway_base("cloud-radar");
    // The world's own tokens expire in 30 days: outside the window.
    let args = |json: bool, kinds: &[&str]| {
        let mut command = w.bare_command(&[
            "expiring",
            "--within",
            "20",
            "--org",
            &radar.org.id,
            "--email",
            radar.caller.email(),
            "--cloud-id",
            "cloud-radar",
            "--automation-base",
            &automation,
            "--admin-base",
            &admin,
        ]);
        if json {
            command.args([
                "--json",
                "--resolve-identities",
                "--identity-base",
                &gateway,
            ]);
        }
        for kind in kinds {
            command.args(["--kind", kind]);
        }
        command
            .env("ATLASSIAN_API_TOKEN", radar.caller.token().expose_secret())
            .env("ATLASSIAN_ADMIN_KEY", radar.org.admin_key.expose_secret());
        command
    };
    let table = w.spawn(args(false, &[]), None).await;
    table.code(0);
    let bot_row = table
        .stdout
        .lines()
        .find(|line| line.contains(&bot.token_id))
        .unwrap_or_else(|| panic!("no row for the service-account token:\n{}", table.stdout));
    assert!(bot_row.contains("service-account token"), "{bot_row}");
    for token in &radar.tokens {
        assert!(
            table.stdout.contains(&token.token_id),
            "{} missing:\n{}",
            token.token_id,
            table.stdout
        );
    }
    let json = w.spawn(args(true, &[]), None).await;
    json.code(0);
    let report = &json.json_lines()[0];
    let expiring = report["expiring"].as_array().unwrap();
    assert_eq!(expiring.len(), radar.tokens.len() + 1);
    let bot_entry = expiring
        .iter()
        .find(|c| c["id"] == bot.token_id.as_str())
        .expect("the service-account token is in the JSON report");
    assert_eq!(bot_entry["uses"].as_array().unwrap().len(), bot.rules.len());
    let users_only = w.spawn(args(true, &["user-api-token"]), None).await;
    users_only.code(0);
    let report = &users_only.json_lines()[0];
    assert_eq!(
        report["expiring"].as_array().unwrap().len(),
        radar.tokens.len()
    );
    // The service account listed without its email: its rules cannot be joined to it, so its
    // count is marked `?` and the run fails rather than reading as "used by no rule".
    let page = serde_json::json!({
        "items": [{"id": bot.account.id, "atlassianId": bot.account.account_id,
                   "displayName": bot.account.display_name, "status": "ACTIVE"}],
        "links": {"next": null}, "total": 1
    });
    w.fake.fault(
        Route::ServiceAccounts,
        Fault::status(200).body(page.to_string()),
    );
    let unknown = w.spawn(args(false, &["service-account-token"]), None).await;
    unknown.code(1);
    let bot_row = unknown
        .stdout
        .lines()
        .find(|line| line.contains(&bot.token_id))
        .unwrap_or_else(|| panic!("no row for the service-account token:\n{}", unknown.stdout));
    assert!(bot_row.trim_end().ends_with('?'), "{bot_row}");
    assert!(unknown.stderr.contains("incomplete"), "{}", unknown.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tunnel_rotation_that_failed_to_install_resumes_with_the_journaled_key() {
    let w = world(8).await;
    w.fake.fault(Route::InstallTunnelKey, Fault::status(400));
    let args = w.tunnel_rotation(true);
    let pat = w.tunnel.pat.expose_secret().to_owned();
    let with_pat = |c: &mut std::process::Command| {
        c.env("ATLASSIAN_DC_TOKEN", &pat);
    };
    let failed = w.run_with(&args, None, with_pat).await;
    failed.code(3);
    let minted = w.fake.request_count(Route::AdminRegenerate);
    let resumed = w
        .run_with(&["journal", "resume", &failed.resume_id()], None, with_pat)
        .await;
    resumed.code(0);
    assert_eq!(
        w.fake.request_count(Route::AdminRegenerate),
        minted,
        "the resume installs the journaled key; it mints none"
    );
    assert_eq!(
        w.fake.tunnel_status(&w.tunnel.hostname),
        Some(TunnelStatus::Connected),
        "the tunnel works again"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_admin_key_rotation_whose_revoke_failed_resumes_and_revokes() {
    let w = world(8).await;
    let (old, new) = w.admin_key_pair(&[], 365);
    w.fake.fault(Route::RevokeAdminKey, Fault::status(400));
    let failed = rotate_admin_key(&w, &old, &new, &[]).await;
    failed.code(3);
    assert!(w.fake.admin_key_is_live(&old.key));
    let resumed = w
        .run_with(
            &["journal", "resume", &failed.resume_id(), "--yes"],
            None,
            |c| {
                c.env("ATLASSIAN_ADMIN_KEY", old.key.expose_secret());
            },
        )
        .await;
    resumed.code(0);
    assert!(!w.fake.admin_key_is_live(&old.key));
}

/// A `command:` consumer inherits the tool's environment: the old Admin API key (alive until
/// the rotation revokes it), given in `ATLASSIAN_ADMIN_KEY`, must not be in it.
#[tokio::test(flavor = "multi_thread")]
async fn a_command_consumer_never_finds_an_admin_key_in_its_environment() {
    use std::os::unix::fs::PermissionsExt as _;
    let w = world(8).await;
    let scopes = ["read:keys:admin", "delete:keys:admin"];
    let (old, new) = w.admin_key_pair(&scopes, 365);
    let dir = w.home.path();
    let script = dir.join("store.sh");
    std::fs::write(
        &script,
        "#!/bin/sh\nd=$(dirname \"$0\")\ncat > \"$d/stdin\"\ncat /proc/$$/environ > \"$d/environ\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o700)).unwrap();
    let consumer = format!("command:{}", script.display());
    let out = rotate_admin_key(&w, &old, &new, &["--consumer", &consumer]).await;
    out.code(0);
    assert_eq!(
        std::fs::read_to_string(dir.join("stdin")).unwrap(),
        new.key.expose_secret()
    );
    let environ = std::fs::read(dir.join("environ")).unwrap();
    let leaked: Vec<String> = environ
        .split(|b| *b == 0)
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .filter(|v| v.contains(old.key.expose_secret()) || v.contains(new.key.expose_secret()))
        .map(|v| v.split('=').next().unwrap_or_default().to_owned())
        .collect();
    assert!(
        leaked.is_empty(),
        "an Admin API key reached the command's environment in {leaked:?}"
    );
}
