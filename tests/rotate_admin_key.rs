//! The Admin API key rotation end to end against the stateful fake: the new key checked before
//! anything changes, installed wherever the old one lived (files, a command, live clients), and
//! the old key revoked on evidence.

#[path = "rotate_admin_key/identify.rs"]
mod identify;
#[path = "rotate_admin_key/kill.rs"]
mod kill;
#[path = "rotate_admin_key/refusals.rs"]
mod refusals;
#[path = "support/mod.rs"]
mod support;

use std::os::unix::fs::PermissionsExt as _;
use std::path::PathBuf;

use atlassian_rotation::ClientOptions;
use atlassian_rotation::consumer::{CommandConsumer, FileConsumer};
use atlassian_rotation::rotate::{self, Audit, MemoryJournal, RotateOptions};
use atlassian_rotation::secret::AdminApiKey;

use support::{KeyWorld, LogCapture, key_world};

/// Where the old key lives besides the clients: a file of its own, a dotenv line, a "vault".
pub struct Places {
    dir: tempfile::TempDir,
}

impl Places {
    pub fn new(old: &AdminApiKey) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let old = old.expose_secret();
        std::fs::write(dir.path().join("key"), format!("{old}\n")).unwrap();
        std::fs::write(
            dir.path().join(".env"),
            format!("# admin\nATLASSIAN_ORG=acme\nATLASSIAN_ADMIN_KEY={old}\n"),
        )
        .unwrap();
        std::fs::write(dir.path().join("vault"), old).unwrap();
        Self { dir }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).unwrap()
    }

    pub fn file(&self) -> FileConsumer {
        FileConsumer::whole(self.path("key"))
    }

    pub fn dotenv(&self) -> FileConsumer {
        FileConsumer::dotenv(self.path(".env"), "ATLASSIAN_ADMIN_KEY")
    }

    /// A "vault" CLI: stores stdin in a file; its check compares the file with stdin.
    pub fn vault(&self) -> CommandConsumer {
        let store = self.path("vault").display().to_string();
        CommandConsumer::new("sh")
            .args(["-c", r#"cat > "$0""#, &store])
            .verify_with("sh", ["-c", r#"[ "$(cat "$0")" = "$(cat)" ]"#, &store])
    }

    /// Whether every place holds exactly `key`, every other byte as it was.
    pub fn hold(&self, key: &AdminApiKey) -> bool {
        let key = key.expose_secret();
        self.read("key") == format!("{key}\n")
            && self.read(".env")
                == format!("# admin\nATLASSIAN_ORG=acme\nATLASSIAN_ADMIN_KEY={key}\n")
            && self.read("vault") == key
    }

    /// The permission bits of a place.
    pub fn mode(&self, name: &str) -> u32 {
        std::fs::metadata(self.path(name))
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    }
}

/// The status the fake gives `key` on the org check and on the key list.
async fn statuses(w: &KeyWorld, key: &AdminApiKey) -> [u16; 2] {
    let base = w.fake.admin_base();
    let http = reqwest::Client::new();
    let mut got = [0; 2];
    for (slot, url) in got.iter_mut().zip([
        format!("{base}/admin/v1/orgs/{}", w.org.id),
        format!("{base}/admin/api-access/v1/orgs/{}/api-keys", w.org.id),
    ]) {
        *slot = http
            .get(url)
            .bearer_auth(key.expose_secret())
            .send()
            .await
            .unwrap()
            .status()
            .as_u16();
    }
    got
}

#[tokio::test]
async fn a_key_in_a_file_a_dotenv_line_a_command_and_two_live_clients_is_replaced_and_the_old_one_gets_401()
 {
    let w = key_world().await;
    let places = Places::new(&w.old.key);
    let live_a = w.client(&w.old.key, ClientOptions::new());
    let live_b = w.client(&w.old.key, ClientOptions::new());
    let clone_of_a = live_a.clone();
    let rotator = w
        .key_rotator(ClientOptions::new(), w.new.key.clone())
        .consumer(places.file())
        .consumer(places.dotenv())
        .consumer(places.vault())
        .switch_client(live_a)
        .switch_client(live_b.clone());
    let audit = Audit::new()
        .reason("annual expiry")
        .initiated_by("ops@example.com")
        .initiated_from("ci/pipeline-7")
        .policy_id("SEC-ROT-365");
    let logs = LogCapture::default();
    let guard = logs.install();
    let report = rotate::rotate(
        &rotator,
        &MemoryJournal::new(),
        RotateOptions::new("admin-key-1").audit(audit.clone()),
    )
    .await
    .unwrap();
    drop(guard);

    assert!(report.succeeded(), "{report:?}");
    // The fake: the old key is refused everywhere, the new one works.
    assert_eq!(statuses(&w, &w.old.key).await, [401, 401]);
    assert_eq!(statuses(&w, &w.new.key).await, [200, 200]);
    assert!(!w.fake.admin_key_is_live(&w.old.key));
    assert!(
        w.fake.admin_key_is_live(&w.org.admin_key),
        "no other key revoked"
    );
    // Every consumer holds the new key; the live clients (and a clone) work on it.
    assert!(places.hold(&w.new.key));
    assert_eq!((places.mode("key"), places.mode(".env")), (0o600, 0o600));
    for client in [&clone_of_a, &live_b] {
        client.check_key(&w.org.id).await.unwrap();
    }
    // The report: what was switched, the evidence of revocation, the audit trail.
    let updated = report.updated.as_ref().unwrap();
    assert_eq!(updated.fact_value("old_key_id"), Some(w.old.id.as_str()));
    assert_eq!(updated.fact_value("new_key_id"), Some(w.new.id.as_str()));
    assert_eq!(updated.rewritten, 5, "two clients and three consumers");
    let retired = &report.finished.as_ref().unwrap().retired;
    assert!(
        retired[0].contains(&w.old.id) && retired[0].contains("401"),
        "{retired:?}"
    );
    assert_eq!(report.audit, audit);
    let json = serde_json::to_string(&report).unwrap();
    assert!(json.contains(r#""policy_id":"SEC-ROT-365""#), "{json}");
    assert!(
        report.to_string().contains("policy SEC-ROT-365"),
        "{report}"
    );
    for secret in [&w.old.key, &w.new.key] {
        let secret = secret.expose_secret();
        assert!(!json.contains(secret), "a key in the report");
        assert!(!logs.text().contains(secret), "a key in the logs");
        assert!(!format!("{rotator:?} {report:?}").contains(secret));
    }
}

#[tokio::test]
async fn a_rotation_run_again_after_it_finished_changes_nothing() {
    let w = key_world().await;
    let places = Places::new(&w.old.key);
    let rotator = w
        .key_rotator(ClientOptions::new(), w.new.key.clone())
        .consumer(places.dotenv());
    let journal = MemoryJournal::new();
    let options = || RotateOptions::new("admin-key-again");
    rotate::rotate(&rotator, &journal, options()).await.unwrap();
    w.fake.clear_requests();

    let again = rotate::rotate(&rotator, &journal, options()).await.unwrap();

    assert!(again.succeeded());
    assert!(w.fake.requests().is_empty(), "{:?}", w.fake.requests());
}

/// A process that runs the finished rotation again with clients built from an old
/// configuration (the old key, revoked since) gets a report saying the rotation is complete:
/// its registered clients then work, on the new key.
#[tokio::test]
async fn a_rerun_after_it_finished_moves_clients_still_on_the_old_key_to_the_new_one() {
    let w = key_world().await;
    let journal = MemoryJournal::new();
    let options = || RotateOptions::new("admin-key-rerun");
    let first = w.key_rotator(ClientOptions::new(), w.new.key.clone());
    rotate::rotate(&first, &journal, options()).await.unwrap();
    assert_eq!(statuses(&w, &w.old.key).await, [401, 401]);

    let live = w.client(&w.old.key, ClientOptions::new());
    let second = w
        .key_rotator(ClientOptions::new(), w.new.key.clone())
        .switch_client(live.clone());
    let again = rotate::rotate(&second, &journal, options()).await.unwrap();
    assert!(again.succeeded());
    live.check_key(&w.org.id)
        .await
        .expect("the rotation is complete, and the registered client works");
}

#[tokio::test]
async fn a_consumer_failing_mid_update_names_itself_and_the_resume_touches_only_what_is_left() {
    use std::os::unix::fs::MetadataExt as _;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use atlassian_rotation::Error;
    use atlassian_rotation::consumer::FnConsumer;

    let w = key_world().await;
    let places = Places::new(&w.old.key);
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&calls);
    let flaky = FnConsumer::new("config service", move |_key| {
        let call = counted.fetch_add(1, Ordering::SeqCst);
        async move {
            match call {
                0 => Err(Error::rotation("install", "config service unavailable")),
                _ => Ok(()),
            }
        }
    });
    let rotator = w
        .key_rotator(ClientOptions::new(), w.new.key.clone())
        .consumer(places.dotenv())
        .consumer(flaky);
    let journal = MemoryJournal::new();
    let options = || RotateOptions::new("flaky-consumer");

    let failed = rotate::rotate(&rotator, &journal, options())
        .await
        .unwrap_err();
    assert!(
        matches!(&failed.error, Error::Consumer { consumer, .. } if consumer == "config service"),
        "{failed}"
    );
    assert!(w.fake.admin_key_is_live(&w.old.key), "nothing revoked");
    let dotenv_inode = std::fs::metadata(places.path(".env")).unwrap().ino();

    let report = rotate::rotate(&rotator, &journal, options()).await.unwrap();

    assert!(report.succeeded());
    assert_eq!(
        calls.load(Ordering::SeqCst),
        2,
        "the failed consumer ran again"
    );
    let after = std::fs::metadata(places.path(".env")).unwrap().ino();
    assert_eq!(
        after, dotenv_inode,
        "the dotenv file, already done, was not rewritten"
    );
    assert!(!w.fake.admin_key_is_live(&w.old.key));
}

#[tokio::test]
async fn a_consumer_added_on_resume_that_cannot_be_observed_gets_the_key_before_the_old_one_is_revoked()
 {
    use atlassian_rotation::Error;
    use atlassian_rotation::testing::{Fault, Route};

    let w = key_world().await;
    let places = Places::new(&w.old.key);
    let journal = MemoryJournal::new();
    let options = || RotateOptions::new("late-consumer");
    // The first run verifies, then its revoke fails: the journal stands at verified.
    w.fake.fault(Route::RevokeAdminKey, Fault::status(400));
    let first = w
        .key_rotator(ClientOptions::new(), w.new.key.clone())
        .consumer(places.dotenv());
    rotate::rotate(&first, &journal, options())
        .await
        .unwrap_err();
    assert!(w.fake.admin_key_is_live(&w.old.key));

    // The operator remembers a CI secret store (write-only: it cannot be observed) and runs
    // the rotation again with it.
    let store = places.path("ci-secret");
    let ci = CommandConsumer::new("sh").args(["-c", r#"cat > "$0""#, &store.display().to_string()]);
    let second = w
        .key_rotator(ClientOptions::new(), w.new.key.clone())
        .consumer(places.dotenv())
        .consumer(ci);
    let mut outcome = rotate::rotate(&second, &journal, options()).await;
    if let Err(e) = &outcome {
        // Never installed: verify refuses, naming it, and nothing is revoked.
        assert!(
            matches!(&e.error, Error::Consumer { consumer, .. } if consumer.starts_with("command sh")),
            "{e}"
        );
        assert!(w.fake.admin_key_is_live(&w.old.key), "revoked too early");
        outcome = rotate::rotate(&second, &journal, options()).await;
    }
    assert!(outcome.unwrap().succeeded());
    assert!(!w.fake.admin_key_is_live(&w.old.key));
    assert!(
        std::fs::read_to_string(&store).ok().as_deref() == Some(w.new.key.expose_secret()),
        "the old key was revoked while the CI secret store never got the new one"
    );
}

#[tokio::test]
async fn a_consumer_error_echoing_the_key_reaches_neither_the_error_nor_the_journal() {
    use atlassian_rotation::Error;
    use atlassian_rotation::consumer::FnConsumer;
    use atlassian_rotation::rotate::Journal as _;

    let w = key_world().await;
    // The caller's own consumer, careless with its error message.
    let careless = FnConsumer::new("config service", |key: String| async move {
        Err(Error::rotation(
            "install",
            format!("config service refused value {key}"),
        ))
    });
    let rotator = w
        .key_rotator(ClientOptions::new(), w.new.key.clone())
        .consumer(careless);
    let journal = MemoryJournal::new();
    let failed = rotate::rotate(&rotator, &journal, RotateOptions::new("careless"))
        .await
        .unwrap_err();
    let entry = journal.load("careless").await.unwrap().unwrap();
    let last_error = entry.last_error.unwrap_or_default();
    let secret = w.new.key.expose_secret();
    assert!(last_error.contains("config service"), "{last_error}");
    assert!(!last_error.contains(secret), "the key in the journal");
    assert!(
        !format!("{failed} {failed:?}").contains(secret),
        "the key in the error"
    );
}
