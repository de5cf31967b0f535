//! The token rotation with consumers: every place the token lives besides the rules gets the
//! new token, verify observes each, the old token is revoked only after all verified, and a
//! failing consumer resumes without touching the ones already done.

use std::os::unix::fs::MetadataExt as _;

use atlassian_rotation::consumer::{CommandConsumer, FileConsumer, FnConsumer};

use super::*;

struct Places {
    dir: tempfile::TempDir,
}

impl Places {
    fn new(w: &World) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let old = w.old.token().expose_secret();
        std::fs::write(dir.path().join("token"), format!("{old}\n")).unwrap();
        std::fs::write(
            dir.path().join(".env"),
            format!("URL=x\nJIRA_TOKEN={old}\n"),
        )
        .unwrap();
        std::fs::write(dir.path().join("vault"), old).unwrap();
        Self { dir }
    }

    fn path(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join(name)
    }

    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).unwrap()
    }

    fn ino(&self, name: &str) -> u64 {
        std::fs::metadata(self.path(name)).unwrap().ino()
    }

    /// A "vault" CLI: stores stdin in a file, unless the `down` marker exists.
    fn vault(&self) -> CommandConsumer {
        let store = self.path("vault").display().to_string();
        let down = self.path("down").display().to_string();
        CommandConsumer::new("sh")
            .args([
                "-c",
                r#"[ -e "$1" ] && { echo vault sealed >&2; exit 2; }; cat > "$0""#,
                &store,
                &down,
            ])
            .verify_with("sh", ["-c", r#"[ "$(cat "$0")" = "$(cat)" ]"#, &store])
    }
}

#[tokio::test]
async fn every_consumer_gets_the_new_token_before_the_old_one_is_revoked() {
    let w = world(20).await;
    let places = Places::new(&w);
    let installed = Arc::new(std::sync::Mutex::new(String::new()));
    let sink = Arc::clone(&installed);
    let rotator = w
        .rotator(RetryPolicy::none())
        .consumer(FileConsumer::whole(places.path("token")))
        .consumer(FileConsumer::dotenv(places.path(".env"), "JIRA_TOKEN"))
        .consumer(places.vault())
        .consumer(FnConsumer::new("connection pool", move |token| {
            let sink = Arc::clone(&sink);
            async move {
                *sink.lock().unwrap() = token;
                Ok(())
            }
        }));
    let report = rotate::rotate(&rotator, &MemoryJournal::new(), RotateOptions::new("c-1"))
        .await
        .unwrap();
    assert!(report.succeeded());
    let new = w.new.expose_secret();
    assert_eq!(places.read("token"), format!("{new}\n"));
    assert_eq!(places.read(".env"), format!("URL=x\nJIRA_TOKEN={new}\n"));
    assert_eq!(places.read("vault"), new);
    assert_eq!(*installed.lock().unwrap(), new);
    assert!(!w.fake.token_is_live(w.old.token()));
    let checks = report.verified.clone().unwrap().checks;
    assert!(
        checks
            .iter()
            .any(|c| c.contains("command sh") && c.contains("holds")),
        "{checks:?}"
    );
    assert!(
        checks
            .iter()
            .any(|c| c.contains("connection pool cannot be observed"))
    );
    let text = format!("{report:?} {}", serde_json::to_string(&report).unwrap());
    assert!(!text.contains(new), "the report never holds the token");
}

#[tokio::test]
async fn a_failing_consumer_stops_before_revocation_and_a_resume_touches_only_it() {
    let w = world(20).await;
    let places = Places::new(&w);
    std::fs::write(places.path("down"), "").unwrap();
    let journal = MemoryJournal::new();
    let rotator = w
        .rotator(RetryPolicy::none())
        .consumer(FileConsumer::whole(places.path("token")))
        .consumer(places.vault())
        .consumer(FileConsumer::dotenv(places.path(".env"), "JIRA_TOKEN"));
    let err = rotate::rotate(&rotator, &journal, RotateOptions::new("c-2"))
        .await
        .unwrap_err();
    assert!(matches!(err.error, Error::Consumer { .. }), "{err}");
    assert!(err.to_string().contains("command sh"), "{err}");
    assert!(err.to_string().contains("vault sealed"), "{err}");
    assert!(w.fake.token_is_live(w.old.token()), "nothing revoked");
    let entry = journal.load("c-2").await.unwrap().unwrap();
    assert!(
        entry
            .last_error
            .as_deref()
            .unwrap_or("")
            .contains("command sh"),
        "the journal names the failing consumer: {:?}",
        entry.last_error
    );
    // The files were done; the vault was not.
    let new = w.new.expose_secret();
    assert_eq!(places.read("token"), format!("{new}\n"));
    assert_ne!(places.read("vault"), new);
    let (token_ino, env_ino) = (places.ino("token"), places.ino(".env"));
    let rule_puts: Vec<u32> = w
        .fake
        .rule_uuids(CLOUD)
        .iter()
        .map(|u| w.fake.rule_stats(u).unwrap().puts)
        .collect();

    std::fs::remove_file(places.path("down")).unwrap();
    let report = rotate::rotate(&rotator, &journal, RotateOptions::new("c-2"))
        .await
        .unwrap();
    assert!(report.succeeded());
    assert_eq!(places.read("vault"), new);
    assert_eq!(
        places.ino("token"),
        token_ino,
        "a done file is not rewritten"
    );
    assert_eq!(places.ino(".env"), env_ino);
    let puts_after: Vec<u32> = w
        .fake
        .rule_uuids(CLOUD)
        .iter()
        .map(|u| w.fake.rule_stats(u).unwrap().puts)
        .collect();
    assert_eq!(rule_puts, puts_after, "no rule written again");
    assert!(!w.fake.token_is_live(w.old.token()));
}

#[tokio::test]
async fn a_consumer_changed_back_after_update_fails_verify_and_blocks_revocation() {
    let w = world(10).await;
    let places = Places::new(&w);
    let rotator = w
        .rotator(RetryPolicy::none())
        .consumer(FileConsumer::dotenv(places.path(".env"), "JIRA_TOKEN"));
    let updated = rotator.update(&w.new).await.unwrap();
    // Someone deploys the old config again.
    let old = w.old.token().expose_secret();
    std::fs::write(places.path(".env"), format!("URL=x\nJIRA_TOKEN={old}\n")).unwrap();
    let err = rotator.verify(&w.new, &updated).await.unwrap_err();
    assert!(matches!(err, Error::Consumer { .. }), "{err}");
    assert!(err.to_string().contains("does not hold the new credential"));
    assert!(w.fake.token_is_live(w.old.token()));
}

#[tokio::test]
async fn rollback_restores_the_consumers_too() {
    let w = world(10).await;
    let places = Places::new(&w);
    let before = places.read(".env");
    let rotator = w
        .plain_rotator(RetryPolicy::none())
        .consumer(FileConsumer::dotenv(places.path(".env"), "JIRA_TOKEN"));
    rotator.update(&w.new).await.unwrap();
    let rollback = rotator.rollback().await.unwrap();
    assert_eq!(places.read(".env"), before);
    assert_eq!(rollback.consumers_restored.len(), 1);
}
