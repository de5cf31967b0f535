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
        let base = self.fake.admin_base();
        let mut args = strings(&[
            "--org",
            &self.org_id,
            "--admin-base",
            &base,
            "--old-key-label",
            "automation",
            "--new-key-label",
            "automation-2027",
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
