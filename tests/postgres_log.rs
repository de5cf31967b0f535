//! What a PostgresJournal must never leak into logs and error Debug output (found by a review).
//! Own test binary: it installs a global TRACE subscriber (which, as `tracing_subscriber`'s
//! default `init` does, also captures the `log` crate's records, where tokio-postgres writes).
//! Run: cargo test --all-features --test postgres_log -- --include-ignored
#![cfg(feature = "postgres")]

use std::io::Write;
use std::sync::{Arc, Mutex};

use atlassian_rotation::rotate::{Journal, JournalEntry, PostgresJournal};
use atlassian_rotation::secret::ApiToken;

const SECRET: &str = "review3-log-very-secret-credential";

fn config() -> String {
    std::env::var("ATLASSIAN_ROTATION_TEST_PG")
        .unwrap_or_else(|_| "host=127.0.0.1 port=5432 user=postgres dbname=test".to_owned())
}

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);
impl Write for Captured {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn drop_table(t: &str) {
    let _ = std::process::Command::new("psql")
        .arg("--dbname")
        .arg(config())
        .arg("-qc")
        .arg(format!("DROP TABLE IF EXISTS \"{t}\""))
        .output();
}

/// An application that turns on TRACE (or DEBUG) logging with the usual
/// `tracing_subscriber::fmt().init()` sees every journal write's parameters, the credential
/// among them: tokio-postgres logs "executing statement ... with parameters: [...]" at DEBUG.
#[tokio::test]
#[ignore = "needs PostgreSQL"]
async fn debug_logging_never_shows_the_credential_of_a_postgres_write() {
    let captured = Captured::default();
    let sink = captured.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || sink.clone())
        .init();
    let table = format!("review3_log_{:08x}", fastrand::u32(..));
    let journal = PostgresJournal::connect(&config(), &table).await.unwrap();
    let entry = JournalEntry::regenerated("r3-log", "k", &ApiToken::new(SECRET));
    journal.store(&entry).await.unwrap();
    drop_table(&table);
    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let leaked = text
        .lines()
        .filter(|l| l.contains(SECRET))
        .collect::<Vec<_>>();
    assert!(
        leaked.is_empty(),
        "credential in the log:\n{}",
        leaked.join("\n")
    );
}

/// A table whose schema has one more NOT NULL column (made by a newer version, or by a DBA):
/// the insert fails and PostgreSQL's error detail is "Failing row contains (...)", the
/// credential among the values; the journal error's Debug (and so RotationError's) carries it.
#[tokio::test]
#[ignore = "needs PostgreSQL"]
async fn a_constraint_error_never_carries_the_credential() {
    let table = format!("review3_nn_{:08x}", fastrand::u32(..));
    let journal = PostgresJournal::connect(&config(), &table).await.unwrap();
    journal.migrate().await.unwrap();
    let out = std::process::Command::new("psql")
        .arg("--dbname")
        .arg(config())
        .arg("-qc")
        .arg(format!(
            "ALTER TABLE \"{table}\" ADD COLUMN owner text NOT NULL"
        ))
        .output()
        .unwrap();
    assert!(out.status.success());
    let entry = JournalEntry::regenerated("r3-nn", "k", &ApiToken::new(SECRET));
    let err = journal.store(&entry).await.unwrap_err();
    drop_table(&table);
    let debug = format!("{err:?}");
    eprintln!("Display: {err}");
    assert!(!debug.contains(SECRET), "{debug}");
}
