//! The rotation examples read their secrets from the environment; a `command:` consumer they
//! run inherits that environment. The old key (alive until the rotation revokes it) must not
//! reach the consumer's environment either. One test in a binary of its own: it sets
//! environment variables, which no other thread may read meanwhile.

#![allow(clippy::duplicate_mod)]

#[path = "../examples/rotate_admin_key.rs"]
#[allow(dead_code)]
mod rotate_admin_key;

use atlassian_rotation::testing::FakeAtlassian;
use clap::Parser as _;
use time::OffsetDateTime;

#[tokio::test]
async fn rotate_admin_key_never_hands_a_key_to_a_command_consumer_through_its_environment() {
    let fake = FakeAtlassian::start().await;
    let org = fake.add_org("Acme");
    let scopes = ["read:keys:admin", "delete:keys:admin"];
    let in_days = |days| OffsetDateTime::now_utc() + time::Duration::days(days);
    let old = fake.mint_admin_key(&org.id, "automation", &scopes, in_days(20));
    let new = fake.mint_admin_key(&org.id, "automation-2027", &scopes, in_days(365));
    let (old, new) = (old.key, new.key);
    // As an operator runs it: both keys exported in the shell that starts the example.
    // SAFETY: the only test of this binary, before any thread of its own reads the environment.
    unsafe {
        std::env::set_var("ATLASSIAN_ADMIN_API_KEY", old.expose_secret());
        std::env::set_var("ATLASSIAN_NEW_ADMIN_KEY", new.expose_secret());
    }
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("store.sh");
    std::fs::write(
        &script,
        "#!/bin/sh\nd=$(dirname \"$0\")\ncat > \"$d/stdin\"\ncat /proc/$$/environ > \"$d/environ\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();

    // SAFETY: as above; this is what the example's `main` does before its runtime starts.
    let mut env = unsafe { rotate_admin_key::Env::from_process() }.unwrap();
    env.default_journal = dir.path().join("journal");
    let consumer = format!("command:{}", script.display());
    let args = rotate_admin_key::Args::parse_from([
        "rotate_admin_key",
        "--org",
        &org.id,
        "--admin-base",
        &fake.admin_base(),
        "--old-key-label",
        "automation",
        "--new-key-label",
        "automation-2027",
        "--backoff-ms",
        "1",
        "--consumer",
        &consumer,
    ]);
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = rotate_admin_key::run(args, env, &mut out, &mut err).await;
    assert_eq!(code, 0, "{}", String::from_utf8_lossy(&err));

    let stdin = std::fs::read_to_string(dir.path().join("stdin")).unwrap();
    assert_eq!(stdin, new.expose_secret(), "the consumer got the new key");
    let environ = std::fs::read(dir.path().join("environ")).unwrap();
    let leaked: Vec<String> = environ
        .split(|b| *b == 0)
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .filter(|v| v.contains(old.expose_secret()) || v.contains(new.expose_secret()))
        .map(|v| v.split('=').next().unwrap_or_default().to_owned())
        .collect();
    assert!(
        leaked.is_empty(),
        "an Admin API key reached the command's environment in {leaked:?}"
    );
}
