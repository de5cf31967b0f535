//! The profile holds the non-secret settings, and refuses to load when a value looks like a
//! credential, naming the key and never the value.

use crate::support::{CLOUD, world};

#[tokio::test(flavor = "multi_thread")]
async fn settings_come_from_the_profile() {
    let w = world(8).await;
    let dir = w.home.path().join("config/atlassian-rotation");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("config.toml"),
        format!(
            "site = \"{}\"\ncloud_id = \"{CLOUD}\"\nemail = \"{}\"\n",
            w.fake.site_base(),
            w.caller.email()
        ),
    )
    .unwrap();
    // Only the Automation API's hidden base URL on the command line: the fake's.
    let automation = w.fake.automation_base(CLOUD);
    let out = w
        .run_bare(&["who-uses", "--automation-base", &automation])
        .await;
    out.code(0);
    assert!(
        w.holding
            .iter()
            .all(|uuid| out.stdout.contains(uuid.as_str())),
        "{}",
        out.stdout
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_profile_holding_a_token_is_refused_naming_the_key() {
    let w = world(8).await;
    let path = w.home.path().join("profile.toml");
    let token = w.old.token().expose_secret().to_owned();
    std::fs::write(&path, format!("email = \"{token}\"\n")).unwrap();
    let out = w
        .run(&["who-uses", "--profile", path.to_str().unwrap()])
        .await;
    out.code(2);
    assert!(out.stderr.contains("`email`"), "{}", out.stderr);
    assert!(
        out.stderr.contains("looks like a credential"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains(&token));
    assert!(w.fake.requests().is_empty(), "refused before any request");
}
