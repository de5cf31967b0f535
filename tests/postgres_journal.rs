//! `PostgresJournal` against a real PostgreSQL server (never a mock): the shared journal
//! contract, plain and sealed; the driver's kill-anywhere and two-runners scenarios on separate
//! connections; a wrong sealing key; `pg_dump` of the table; a lost connection.
//!
//! The server: `ATLASSIAN_ROTATION_TEST_PG` (default `host=127.0.0.1 port=5432 user=postgres
//! dbname=test`). These tests are ignored by a plain `cargo test`, which cannot know a server
//! runs; `.ci/run` starts one and runs them with `--include-ignored`. Each test uses a table of
//! its own, so they run in parallel.
#![cfg(feature = "postgres")]

mod journal_contract;

use atlassian_rotation::instance::InstanceAuth;
use atlassian_rotation::rotate::{
    self, Journal, JournalEntry, PostgresJournal, RotateOptions, SealedJournal, SealingKey,
    TunnelKeyRotator,
};
use atlassian_rotation::secret::{AdminApiKey, ApiToken};
use atlassian_rotation::testing::{FakeAtlassian, Route};
use atlassian_rotation::{AdminClient, ClientOptions, Error, InstanceClient, RetryPolicy};
use journal_contract::{SECRET, contract, kill_anywhere, two_runners};

const NEEDS_SERVER: &str = "needs PostgreSQL on 127.0.0.1:5432 or ATLASSIAN_ROTATION_TEST_PG; .ci/run starts one and runs this suite with --include-ignored";

fn config() -> String {
    std::env::var("ATLASSIAN_ROTATION_TEST_PG")
        .unwrap_or_else(|_| "host=127.0.0.1 port=5432 user=postgres dbname=test".to_owned())
}

/// A table of this test's own, dropped when the guard goes.
struct Table(String);

impl Table {
    fn new(name: &str) -> Self {
        Self(format!("journal_{name}_{:08x}", fastrand::u32(..)))
    }

    async fn journal(&self) -> PostgresJournal {
        PostgresJournal::connect(&config(), &self.0)
            .await
            .unwrap_or_else(|e| panic!("{NEEDS_SERVER}: {e}"))
    }

    fn dump(&self) -> String {
        let out = std::process::Command::new("pg_dump")
            .arg("--dbname")
            .arg(config())
            .arg("--table")
            .arg(format!("\"{}\"", self.0))
            .output()
            .expect("pg_dump runs (Debian package postgresql-client)");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }
}

impl Drop for Table {
    fn drop(&mut self) {
        let _ = std::process::Command::new("psql")
            .arg("--dbname")
            .arg(config())
            .arg("-qc")
            .arg(format!("DROP TABLE IF EXISTS \"{}\"", self.0))
            .output();
    }
}

fn key(byte: u8) -> SealingKey {
    SealingKey::from_bytes("pg-test", &[byte; 32]).unwrap()
}

#[tokio::test]
#[ignore = "needs PostgreSQL on 127.0.0.1:5432 (ATLASSIAN_ROTATION_TEST_PG); .ci/run runs it"]
async fn the_postgres_journal_keeps_the_contract_plain_and_sealed() {
    let table = Table::new("contract");
    contract(&table.journal().await, "pg").await;
    let sealed = SealedJournal::new(table.journal().await, key(1));
    contract(&sealed, "sealed-pg").await;
}

#[tokio::test]
#[ignore = "needs PostgreSQL on 127.0.0.1:5432 (ATLASSIAN_ROTATION_TEST_PG); .ci/run runs it"]
async fn a_runner_killed_holding_the_lease_is_resumed_by_another_after_expiry() {
    let table = Table::new("kill");
    let sealed = SealedJournal::new(table.journal().await, key(2));
    kill_anywhere(&sealed, "pg").await;
}

#[tokio::test]
#[ignore = "needs PostgreSQL on 127.0.0.1:5432 (ATLASSIAN_ROTATION_TEST_PG); .ci/run runs it"]
async fn two_runners_on_separate_connections_mint_once() {
    let table = Table::new("two");
    for round in 0..5 {
        let a = SealedJournal::new(table.journal().await, key(3));
        let b = SealedJournal::new(table.journal().await, key(3));
        two_runners(&a, &b, &format!("pg-{round}")).await;
    }
}

/// Two replicas rotate one new tunnel at once, each with its own database connection and its
/// own Admin API client: the key is regenerated exactly once, and the tunnel holds it.
#[tokio::test]
#[ignore = "needs PostgreSQL on 127.0.0.1:5432 (ATLASSIAN_ROTATION_TEST_PG); .ci/run runs it"]
async fn two_replicas_racing_one_new_tunnel_rotation_mint_once() {
    let table = Table::new("tunnel");
    let fake = FakeAtlassian::start().await;
    let org = fake.add_org("Acme");
    let tunnel = fake.add_tunnel(&org.id, "jira-dc");
    let replica = || {
        let options = ClientOptions::new().retry_policy(RetryPolicy::none());
        let admin = AdminClient::builder(AdminApiKey::new(org.admin_key.expose_secret()))
            .base_url(fake.admin_base())
            .options(options.clone())
            .build()
            .unwrap();
        let instance =
            InstanceClient::builder(InstanceAuth::PersonalAccessToken(tunnel.pat.clone()))
                .base_url(&tunnel.instance_base)
                .options(options)
                .build()
                .unwrap();
        TunnelKeyRotator::new(admin, instance, &org.id, &tunnel.hostname)
    };
    let (first, second) = (replica(), replica());
    let a = SealedJournal::new(table.journal().await, key(4));
    let b = SealedJournal::new(table.journal().await, key(4));
    let (ra, rb) = tokio::join!(
        rotate::rotate(
            &first,
            &a,
            RotateOptions::new("tunnel-2026-12").holder("replica-a")
        ),
        rotate::rotate(
            &second,
            &b,
            RotateOptions::new("tunnel-2026-12").holder("replica-b")
        ),
    );
    assert_eq!(
        fake.request_count(Route::AdminRegenerate),
        1,
        "minted exactly once"
    );
    let reports = [&ra, &rb];
    assert!(
        reports
            .iter()
            .any(|r| r.as_ref().is_ok_and(|r| r.succeeded())),
        "{ra:?} / {rb:?}"
    );
    for r in reports {
        if let Err(e) = r {
            assert!(e.unjournaled.is_none(), "{e}");
        }
    }
    let entry = a.load("tunnel-2026-12").await.unwrap().unwrap();
    assert_eq!(entry.step, rotate::Step::Finished);
    let installed = fake.tunnel_key(&tunnel.hostname).unwrap();
    assert!(!table.dump().contains(installed.expose_secret()));
}

#[tokio::test]
#[ignore = "needs PostgreSQL on 127.0.0.1:5432 (ATLASSIAN_ROTATION_TEST_PG); .ci/run runs it"]
async fn a_sealed_entry_read_with_the_wrong_key_fails_loudly() {
    let table = Table::new("wrongkey");
    let sealed = SealedJournal::new(table.journal().await, key(5));
    let entry = JournalEntry::regenerated("rot-1", "tunnel-key", &ApiToken::new(SECRET));
    sealed.store(&entry).await.unwrap();
    let wrong = SealedJournal::new(table.journal().await, key(6));
    let err = wrong.load("rot-1").await.unwrap_err();
    assert!(
        matches!(&err, Error::Unsealable { rotation_id, key_id, .. } if rotation_id == "rot-1" && key_id == "pg-test"),
        "{err}"
    );
    assert!(!format!("{err} {err:?}").contains(SECRET));
    // The rotation is not started afresh either: the driver stops on the same error.
    let rotator = journal_contract::Scripted::default();
    let run = rotate::rotate(&rotator, &wrong, RotateOptions::new("rot-1")).await;
    assert!(run.is_err());
    assert_eq!(rotator.minted.load(std::sync::atomic::Ordering::SeqCst), 0);
}

#[tokio::test]
#[ignore = "needs PostgreSQL on 127.0.0.1:5432 (ATLASSIAN_ROTATION_TEST_PG); .ci/run runs it"]
async fn a_dump_of_a_sealed_table_holds_no_credential_and_an_unsealed_one_does() {
    let sealed_table = Table::new("dump_sealed");
    let sealed = SealedJournal::new(sealed_table.journal().await, key(7));
    let entry = JournalEntry::regenerated("rot-1", "tunnel-key", &ApiToken::new(SECRET));
    sealed.store(&entry).await.unwrap();
    let dump = sealed_table.dump();
    assert!(
        dump.contains("rot-1") && dump.contains("sealed:v1:pg-test:"),
        "{dump}"
    );
    assert!(!dump.contains(SECRET), "the dump holds the credential");

    // Documented: an unsealed PostgresJournal keeps the credential in clear.
    let plain_table = Table::new("dump_plain");
    let plain = plain_table.journal().await;
    plain.store(&entry).await.unwrap();
    assert!(plain_table.dump().contains(SECRET));
    assert!(!format!("{plain:?}").contains(SECRET));
}

/// The server drops the journal's connection: the next write reconnects, reads the row back
/// and, finding its write did not land, sends it again; nothing is assumed.
#[tokio::test]
#[ignore = "needs PostgreSQL on 127.0.0.1:5432 (ATLASSIAN_ROTATION_TEST_PG); .ci/run runs it"]
async fn a_write_on_a_lost_connection_is_read_back_and_reconciled() {
    let table = Table::new("lost");
    let journal = table.journal().await;
    let mut entry = JournalEntry::started("rot-1", "tunnel-key", "org/host");
    assert!(journal.create(&entry).await.unwrap());
    entry.version = 1;
    let killer = table.journal().await;
    let out = std::process::Command::new("psql")
        .arg("--dbname")
        .arg(config())
        .arg("-qAtc")
        .arg(format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid <> pg_backend_pid() \
             AND datname = current_database() AND query LIKE '%{}%'",
            table.0
        ))
        .output()
        .unwrap();
    assert!(out.status.success());
    drop(killer);
    journal.store(&entry).await.unwrap();
    assert_eq!(journal.load("rot-1").await.unwrap().unwrap().version, 2);
    // A stale write after the reconnect is still a conflict, not a guess.
    assert!(matches!(
        journal.store(&entry).await,
        Err(Error::JournalConflict {
            expected: 1,
            found: Some(2),
            ..
        })
    ));
}

#[tokio::test]
#[ignore = "needs PostgreSQL on 127.0.0.1:5432 (ATLASSIAN_ROTATION_TEST_PG); .ci/run runs it"]
async fn replicas_migrating_at_once_create_the_table_once() {
    let table = Table::new("migrate");
    let journals = futures::future::join_all((0..4).map(|_| table.journal())).await;
    let migrated = futures::future::join_all(journals.iter().map(|j| j.migrate())).await;
    assert!(migrated.iter().all(Result::is_ok), "{migrated:?}");
    assert!(journals[0].list().await.unwrap().is_empty());
    let bad = PostgresJournal::connect(&config(), "x; DROP TABLE y").await;
    assert!(matches!(bad, Err(Error::InvalidInput { .. })));
}

#[test]
fn the_suite_says_what_it_needs() {
    assert!(NEEDS_SERVER.contains("--include-ignored"));
}
