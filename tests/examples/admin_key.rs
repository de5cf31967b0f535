//! rotate_admin_key: the new key into a file, a dotenv line and a command's store; the old key
//! revoked, and refused by the API from then on.

use super::*;

/// An org with its Admin API key `automation` (expiring in 20 days) and a successor
/// `automation-2027` a person minted with the same scopes, expiring `new_in_days` from now.
struct Org {
    fake: FakeAtlassian,
    org_id: String,
    old: AdminApiKey,
    new: AdminApiKey,
}

async fn org(new_in_days: i64) -> Org {
    let fake = FakeAtlassian::start().await;
    let org = fake.add_org("Acme");
    let scopes = ["read:keys:admin", "delete:keys:admin"];
    let in_days = |days| OffsetDateTime::now_utc() + time::Duration::days(days);
    let old = fake.mint_admin_key(&org.id, "automation", &scopes, in_days(20));
    let new = fake.mint_admin_key(&org.id, "automation-2027", &scopes, in_days(new_in_days));
    Org {
        fake,
        org_id: org.id,
        old: old.key,
        new: new.key,
    }
}

impl Org {
    fn env(&self, journal: &std::path::Path) -> rotate_admin_key::Env {
        rotate_admin_key::Env {
            admin_key: Some(self.old.clone()),
            new_key: Some(self.new.clone()),
            default_journal: journal.to_owned(),
        }
    }

    fn args(&self, extra: &[&str]) -> Vec<String> {
        self.args_naming("automation-2027", extra)
    }

    /// The arguments of a rotation to the key labelled `new_label`, and `extra`.
    fn args_naming(&self, new_label: &str, extra: &[&str]) -> Vec<String> {
        let base = self.fake.admin_base();
        let mut args = strings(&[
            "--org",
            &self.org_id,
            "--admin-base",
            &base,
            "--old-key-label",
            "automation",
            "--new-key-label",
            new_label,
        ]);
        args.extend(plain(extra));
        args
    }

    /// The org as `key` sees it, or the HTTP status of the refusal.
    async fn check(&self, key: &AdminApiKey) -> Result<(), Option<u16>> {
        let client = atlassian_rotation::AdminClient::builder(key.clone())
            .base_url(self.fake.admin_base())
            .build()
            .unwrap();
        client
            .check_key(&self.org_id)
            .await
            .map(drop)
            .map_err(|e| e.status())
    }
}

#[tokio::test]
async fn rotate_admin_key_installs_the_new_key_everywhere_then_the_old_one_gets_401() {
    let o = org(365).await;
    let dir = tempfile::tempdir().unwrap();
    let (key_file, env_file, store) = (
        dir.path().join("admin-key"),
        dir.path().join(".env"),
        dir.path().join("vault-entry"),
    );
    let old = o.old.expose_secret();
    std::fs::write(&key_file, old).unwrap();
    std::fs::write(
        &env_file,
        format!("ORG=acme\nATLASSIAN_ADMIN_API_KEY={old}\n"),
    )
    .unwrap();
    let consumers = [
        format!("file:{}", key_file.display()),
        format!("dotenv:{}#ATLASSIAN_ADMIN_API_KEY", env_file.display()),
        // A vault's CLI, played by `tee`: it reads the key on stdin and stores it.
        format!("command:tee {}", store.display()),
    ];
    let mut extra = vec!["--json", "--min-validity-days", "90"];
    extra.extend([
        "--reason",
        "yearly rotation",
        "--initiated-by",
        "ops@example.com",
    ]);
    for consumer in &consumers {
        extra.extend(["--consumer", consumer.as_str()]);
    }
    let run = run_example!(
        rotate_admin_key,
        o.env(&dir.path().join("journal")),
        o.args(&extra)
    );
    assert_eq!(run.code, 0, "{}", run.err);

    let new = o.new.expose_secret();
    assert_eq!(std::fs::read_to_string(&key_file).unwrap(), new);
    assert_eq!(
        std::fs::read_to_string(&env_file).unwrap(),
        format!("ORG=acme\nATLASSIAN_ADMIN_API_KEY={new}\n")
    );
    assert_eq!(std::fs::read_to_string(&store).unwrap(), new);
    assert_eq!(
        o.check(&o.old).await,
        Err(Some(401)),
        "the old key is revoked"
    );
    assert_eq!(o.check(&o.new).await, Ok(()));
    let report: Value = serde_json::from_str(&run.out).unwrap();
    assert_eq!(report["completed"], "finished", "{report}");
    assert_eq!(report["audit"]["reason"], "yearly rotation");
    assert_eq!(report["audit"]["initiated_by"], "ops@example.com");
    run.assert_clean(&[old, new]);
}

#[tokio::test]
async fn rotate_admin_key_refuses_a_key_that_expires_too_soon_and_changes_nothing() {
    let o = org(10).await;
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("admin-key");
    std::fs::write(&key_file, o.old.expose_secret()).unwrap();
    let consumer = format!("file:{}", key_file.display());
    let run = run_example!(
        rotate_admin_key,
        o.env(&dir.path().join("journal")),
        o.args(&["--consumer", &consumer])
    );
    run.assert_failed_with("must stay valid for at least 30 days");
    assert_eq!(
        std::fs::read_to_string(&key_file).unwrap(),
        o.old.expose_secret()
    );
    assert_eq!(o.check(&o.old).await, Ok(()), "the old key still works");
    run.assert_clean(&[o.old.expose_secret(), o.new.expose_secret()]);

    // Without the new key (no variable, no terminal), nothing is asked of the API.
    o.fake.clear_requests();
    let env = rotate_admin_key::Env {
        new_key: None,
        ..o.env(dir.path())
    };
    let missing = run_example!(rotate_admin_key, env, o.args(&[]));
    missing.assert_failed_with("ATLASSIAN_NEW_ADMIN_KEY");
    assert_eq!(o.fake.request_count(Route::Any), 0);
}

/// An org whose replacement key is minted with `scopes`, expiring in a year.
async fn org_with_new_scopes(scopes: &[&str]) -> Org {
    let o = org(365).await;
    let in_a_year = OffsetDateTime::now_utc() + time::Duration::days(365);
    let narrower = o
        .fake
        .mint_admin_key(&o.org_id, "automation-narrow", scopes, in_a_year);
    Org {
        new: narrower.key,
        ..o
    }
}

#[tokio::test]
async fn rotate_admin_key_refuses_the_old_key_a_narrower_key_and_an_unlisted_one_and_changes_nothing()
 {
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("admin-key");
    let env_file = dir.path().join(".env");
    let consumers = |o: &Org| {
        std::fs::write(&key_file, o.old.expose_secret()).unwrap();
        std::fs::write(&env_file, format!("K={}\n", o.old.expose_secret())).unwrap();
        vec![
            "--consumer".to_owned(),
            format!("file:{}", key_file.display()),
            "--consumer".to_owned(),
            format!("dotenv:{}#K", env_file.display()),
        ]
    };
    let unchanged = |o: &Org, case: &str| {
        assert_eq!(
            std::fs::read_to_string(&key_file).unwrap(),
            o.old.expose_secret(),
            "{case}: the file changed"
        );
        assert_eq!(
            std::fs::read_to_string(&env_file).unwrap(),
            format!("K={}\n", o.old.expose_secret()),
            "{case}: the dotenv file changed"
        );
        assert_eq!(o.fake.request_count(Route::RevokeAdminKey), 0, "{case}");
    };

    // The "new" key is the old one pasted again.
    let o = org(365).await;
    let mut args = o.args(&[]);
    args.extend(consumers(&o));
    let env = rotate_admin_key::Env {
        new_key: Some(o.old.clone()),
        ..o.env(&dir.path().join("journal-same"))
    };
    let run = run_example!(rotate_admin_key, env, args);
    assert_eq!(run.code, 1, "{}", run.err);
    unchanged(&o, "same key");
    assert_eq!(o.check(&o.old).await, Ok(()));
    run.assert_clean(&[o.old.expose_secret()]);

    // A successor that lost `delete:keys:admin`.
    let o = org_with_new_scopes(&["read:keys:admin"]).await;
    let mut args = o.args_naming("automation-narrow", &[]);
    args.extend(consumers(&o));
    let run = run_example!(
        rotate_admin_key,
        o.env(&dir.path().join("journal-narrow")),
        args
    );
    assert_eq!(run.code, 1, "{}", run.err);
    assert!(run.err.contains("delete:keys:admin"), "{}", run.err);
    unchanged(&o, "missing scope");
    assert_eq!(o.check(&o.old).await, Ok(()));
    run.assert_clean(&[o.old.expose_secret(), o.new.expose_secret()]);

    // A key the org's list does not carry under the label given.
    let o = org(365).await;
    let mut args = o.args_naming("no-such-label", &[]);
    args.extend(consumers(&o));
    let run = run_example!(
        rotate_admin_key,
        o.env(&dir.path().join("journal-unlisted")),
        args
    );
    assert_eq!(run.code, 1, "{}", run.err);
    unchanged(&o, "not listed");
    assert_eq!(o.check(&o.old).await, Ok(()));
    run.assert_clean(&[o.old.expose_secret(), o.new.expose_secret()]);
}

#[tokio::test]
async fn rotate_admin_key_resumes_after_a_failing_command_without_redoing_the_file_or_revoking_early()
 {
    use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
    let o = org(365).await;
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("admin-key");
    std::fs::write(&key_file, o.old.expose_secret()).unwrap();
    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    // A store that is down until `up` exists, and counts its runs.
    let script = dir.path().join("store.sh");
    std::fs::write(
        &script,
        "#!/bin/sh\nd=$(dirname \"$0\")\necho run >> \"$d/runs\"\n[ -e \"$d/up\" ] || exit 3\ncat > \"$d/store\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o700)).unwrap();
    let journal = dir.path().join("journal");
    let file = format!("file:{}", key_file.display());
    let command = format!("command:{}", script.display());
    let args = o.args(&["--consumer", &file, "--consumer", &command]);

    let first = run_example!(rotate_admin_key, o.env(&journal), args.clone());
    assert_eq!(first.code, 1, "{}", first.out);
    assert!(
        first.err.contains("store.sh"),
        "names the consumer: {}",
        first.err
    );
    assert_eq!(
        o.check(&o.old).await,
        Ok(()),
        "not revoked before every consumer holds the new key"
    );
    assert_eq!(o.fake.request_count(Route::RevokeAdminKey), 0);
    assert_eq!(
        std::fs::read_to_string(&key_file).unwrap(),
        o.new.expose_secret()
    );
    let installed = std::fs::metadata(&key_file).unwrap();
    assert_eq!(installed.mode() & 0o777, 0o600);
    first.assert_clean(&[o.old.expose_secret(), o.new.expose_secret()]);

    std::fs::write(dir.path().join("up"), "").unwrap();
    let second = run_example!(rotate_admin_key, o.env(&journal), args);
    assert_eq!(second.code, 0, "{}", second.err);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("store")).unwrap(),
        o.new.expose_secret()
    );
    let after = std::fs::metadata(&key_file).unwrap();
    assert_eq!(
        (after.ino(), after.mtime_nsec()),
        (installed.ino(), installed.mtime_nsec()),
        "the file consumer, done in the first run, was written again"
    );
    assert_eq!(after.mode() & 0o777, 0o600);
    assert_eq!(o.check(&o.old).await, Err(Some(401)));
    second.assert_clean(&[o.old.expose_secret(), o.new.expose_secret()]);
}
