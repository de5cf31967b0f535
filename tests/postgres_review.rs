//! Variants from a review of PostgresJournal against the real server (127.0.0.1:5432), through a
//! loopback TCP proxy that can swallow an answer or black-hole the connection.
//! Run: cargo test --all-features --test postgres_review -- --include-ignored
#![cfg(feature = "postgres")]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use atlassian_rotation::rotate::{
    self, Finished, Journal, JournalEntry, PostgresJournal, RotateOptions, Rotator, SealedJournal,
    SealingKey, Step, Updated, Verified,
};
use atlassian_rotation::secret::ApiToken;
use atlassian_rotation::{Error, Result};
use time::OffsetDateTime;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc};

const SECRET: &str = "review3-pg-very-secret-credential";

fn config() -> String {
    std::env::var("ATLASSIAN_ROTATION_TEST_PG")
        .unwrap_or_else(|_| "host=127.0.0.1 port=5432 user=postgres dbname=test".to_owned())
}

fn psql(sql: &str) -> String {
    let out = std::process::Command::new("psql")
        .arg("--dbname")
        .arg(config())
        .arg("-qAtc")
        .arg(sql)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

struct Table(String);
impl Table {
    fn new(name: &str) -> Self {
        Self(format!("review3_{name}_{:08x}", fastrand::u32(..)))
    }
    async fn journal(&self) -> PostgresJournal {
        PostgresJournal::connect(&config(), &self.0).await.unwrap()
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

const NORMAL: u8 = 0;
const BLACKHOLE: u8 = 1;
const DROP_AFTER_WRITE: u8 = 2;

/// A loopback proxy to the server. `mode`: forward; black-hole everything (reads and discards,
/// never answers); or close the connection right after the server confirms a write.
struct Proxy {
    port: u16,
    mode: Arc<AtomicU8>,
}

impl Proxy {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let mode = Arc::new(AtomicU8::new(NORMAL));
        let m = mode.clone();
        tokio::spawn(async move {
            loop {
                let (client, _) = listener.accept().await.unwrap();
                let server = TcpStream::connect("127.0.0.1:5432").await.unwrap();
                let m = m.clone();
                tokio::spawn(async move {
                    let (mut cr, mut cw) = client.into_split();
                    let (mut sr, mut sw) = server.into_split();
                    let m2 = m.clone();
                    let up = tokio::spawn(async move {
                        let mut buf = vec![0u8; 65536];
                        loop {
                            let n = match cr.read(&mut buf).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => n,
                            };
                            if m2.load(Ordering::SeqCst) == BLACKHOLE {
                                continue;
                            }
                            if sw.write_all(&buf[..n]).await.is_err() {
                                return;
                            }
                        }
                    });
                    let mut buf = vec![0u8; 65536];
                    loop {
                        let n = match sr.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        let chunk = &buf[..n];
                        match m.load(Ordering::SeqCst) {
                            BLACKHOLE => continue,
                            DROP_AFTER_WRITE
                                if contains(chunk, b"UPDATE 1\0")
                                    || contains(chunk, b"INSERT 0 1\0") =>
                            {
                                m.store(NORMAL, Ordering::SeqCst);
                                break; // the write landed; its answer is lost
                            }
                            _ => {}
                        }
                        if cw.write_all(chunk).await.is_err() {
                            break;
                        }
                    }
                    up.abort();
                });
            }
        });
        Self { port, mode }
    }
    fn config(&self) -> String {
        format!(
            "host=127.0.0.1 port={} user=postgres dbname=test",
            self.port
        )
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn key() -> SealingKey {
    SealingKey::from_bytes("r3", &[7; 32]).unwrap()
}

/// Stops once at regenerate (after minting), tells the test, waits for a permit.
struct MintGate {
    entered: mpsc::UnboundedSender<()>,
    permit: Semaphore,
    gated: AtomicBool,
    minted: AtomicUsize,
}

#[async_trait]
impl Rotator for MintGate {
    type Credential = ApiToken;
    fn kind(&self) -> &'static str {
        "mintgate"
    }
    async fn regenerate(&self) -> Result<ApiToken> {
        let n = self.minted.fetch_add(1, Ordering::SeqCst) + 1;
        if !self.gated.swap(true, Ordering::SeqCst) {
            self.entered.send(()).unwrap();
            self.permit.acquire().await.unwrap().forget();
        }
        Ok(ApiToken::new(format!("{SECRET}-{n}")))
    }
    async fn update(&self, _: &ApiToken) -> Result<Updated> {
        Ok(Updated::new(1, 1))
    }
    async fn verify(&self, _: &ApiToken, _: &Updated) -> Result<Verified> {
        Ok(Verified::new().check("ok"))
    }
    async fn finish(&self, _: &ApiToken, _: &Updated) -> Result<Finished> {
        Ok(Finished::nothing())
    }
}

/// The server's answer to the UPDATE that journals the new credential is lost (the connection
/// closes right after the server confirmed it): the journal reconnects, finds its write_id and
/// reports success. HOLDS.
#[tokio::test]
#[ignore = "needs PostgreSQL"]
async fn a_landed_write_whose_answer_is_lost_is_reconciled_as_landed() {
    let table = Table::new("lostanswer");
    let proxy = Proxy::start().await;
    let journal = PostgresJournal::connect(&proxy.config(), &table.0)
        .await
        .unwrap();
    let mut e = JournalEntry::started("r3-lost", "k", "t");
    assert!(journal.create(&e).await.unwrap());
    e.version = 1;
    proxy.mode.store(DROP_AFTER_WRITE, Ordering::SeqCst);
    journal.store(&e).await.unwrap();
    assert_eq!(journal.load("r3-lost").await.unwrap().unwrap().version, 2);
    // create whose answer is lost
    proxy.mode.store(DROP_AFTER_WRITE, Ordering::SeqCst);
    assert!(
        journal
            .create(&JournalEntry::started("r3-lost2", "k", "t"))
            .await
            .unwrap()
    );
}

/// The database stops answering (a partition, a hung failover) right after the mint: the
/// journal write of the minted credential has no timeout and hangs forever. The caller's only
/// way out is to drop the future (a timeout, Ctrl-C, a CronJob deadline), which loses the
/// minted credential: the journal still says `started`, and nothing handed the credential back.
#[tokio::test]
#[ignore = "needs PostgreSQL"]
async fn a_hung_database_after_the_mint_hands_the_credential_back() {
    let table = Table::new("hang");
    let proxy = Proxy::start().await;
    // The journal's own statement timeout is what is under test, on the real clock (a socket
    // that stops answering cannot be put on paused time): kept short.
    let journal = SealedJournal::new(
        PostgresJournal::connect(&proxy.config(), &table.0)
            .await
            .unwrap()
            .timeout(Duration::from_millis(500)),
        key(),
    );
    let (tx, mut entered) = mpsc::unbounded_channel();
    let rotator = MintGate {
        entered: tx,
        permit: Semaphore::new(0),
        gated: AtomicBool::new(false),
        minted: AtomicUsize::new(0),
    };
    let run = rotate::rotate(&rotator, &journal, RotateOptions::new("r3-hang"));
    tokio::pin!(run);
    tokio::select! {
        _ = &mut run => panic!("should stop in regenerate"),
        _ = entered.recv() => {}
    }
    proxy.mode.store(BLACKHOLE, Ordering::SeqCst);
    rotator.permit.add_permits(1);
    let outcome = tokio::time::timeout(Duration::from_secs(60), &mut run).await;
    let got_it_back = matches!(&outcome, Ok(Err(e)) if e.unjournaled.is_some());
    let hung = outcome.is_err();
    assert!(!hung, "the journal write must give up at its own timeout");
    proxy.mode.store(NORMAL, Ordering::SeqCst);
    let direct = table.journal().await;
    let entry = direct.load("r3-hang").await.unwrap().unwrap();
    eprintln!(
        "hung for 20 s: {hung}; journal step {:?}, has credential {}, minted {}",
        entry.step,
        entry.has_credential(),
        rotator.minted.load(Ordering::SeqCst)
    );
    assert!(
        got_it_back || entry.has_credential(),
        "the minted credential is neither journaled nor returned (the write hung: {hung})"
    );
}

/// The configuration's password never shows in an error (key=value and URL forms).
#[tokio::test]
async fn the_password_never_shows_in_connect_errors() {
    for cfg in [
        "host=127.0.0.1 port=1 user=postgres password=hunter2-pw dbname=test connect_timeout=2",
        "postgresql://postgres:hunter2-pw@127.0.0.1:1/test?connect_timeout=2",
        "host=127.0.0.1 port=1 password=hunter2-pw user=postgres bogus_option=1",
        "postgresql://postgres:hunter2-pw@127.0.0.1:notaport/test",
    ] {
        let err = PostgresJournal::connect(cfg, "t").await.unwrap_err();
        let text = format!("{err} {err:?}");
        assert!(!text.contains("hunter2"), "{text}");
    }
}

/// Corrupted rows, written by hand: no panic, a typed error or a sensible answer.
#[tokio::test]
#[ignore = "needs PostgreSQL"]
async fn corrupted_rows_never_panic() {
    let table = Table::new("corrupt");
    let journal = SealedJournal::new(table.journal().await, key());
    journal.inner().migrate().await.unwrap();
    let t = &table.0;
    let now = OffsetDateTime::now_utc();
    let ttl = Duration::from_secs(60);
    let insert = |id: &str, step: &str, outcomes: &str, version: &str, lease: &str, cred: &str| {
        psql(&format!(
            "INSERT INTO \"{t}\" VALUES ('{id}','k','t','{step}','fp',NULL,{cred},'{outcomes}',now(),now(),{version},'other',{lease},NULL,'w')"
        ));
    };
    insert("r3-neg", "updated", "{}", "-1", "NULL", "NULL");
    insert(
        "r3-max",
        "updated",
        "{}",
        "9223372036854775807",
        "NULL",
        "NULL",
    );
    insert("r3-step", "bogus", "{}", "1", "NULL", "NULL");
    insert("r3-outc", "updated", "[1,2]", "1", "NULL", "NULL");
    insert("r3-inf", "updated", "{}", "1", "'infinity'", "NULL");
    insert(
        "r3-9999",
        "updated",
        "{}",
        "1",
        "'9999-12-31T23:59:59Z'",
        "NULL",
    );
    insert(
        "r3-20000",
        "updated",
        "{}",
        "1",
        "'20000-01-01T00:00:00Z'",
        "NULL",
    );
    insert(
        "r3-cred",
        "updated",
        "{}",
        "1",
        "NULL",
        "'sealed:v1:r3:!!!!'",
    );
    for id in [
        "r3-neg", "r3-max", "r3-step", "r3-outc", "r3-inf", "r3-9999", "r3-20000", "r3-cred",
    ] {
        let load = journal.load(id).await;
        let acquire = journal.acquire(id, "me", now, ttl).await;
        let abandon = journal.abandon(id, "x").await;
        eprintln!(
            "{id}: load {:?} | acquire {:?} | abandon {:?}",
            load.as_ref()
                .map(|e| e.as_ref().map(|e| (e.version, e.lease_until.clone()))),
            acquire.map(|l| l.until),
            abandon.map(|e| e.step)
        );
    }
    eprintln!("list: {:?}", journal.list().await.map(|l| l.len()));
}

/// A table left by another version without some columns: a typed error naming the column.
#[tokio::test]
#[ignore = "needs PostgreSQL"]
async fn a_table_with_missing_columns_is_a_typed_error() {
    let table = Table::new("oldschema");
    psql(&format!(
        "CREATE TABLE \"{}\" (rotation_id text PRIMARY KEY, kind text NOT NULL)",
        table.0
    ));
    let journal = table.journal().await;
    let e = journal.load("r3-x").await.unwrap_err();
    let w = journal
        .create(&JournalEntry::started("r3-x", "k", "t"))
        .await
        .unwrap_err();
    eprintln!("load: {e}\ncreate: {w}");
    assert!(matches!(e, Error::Journal { .. }) && matches!(w, Error::Journal { .. }));
}

/// Two journals on two connections, two holders, both resuming the same Regenerated entry with
/// a sealed table, 10 rounds: writes are compare-and-set, one finishes.
#[tokio::test]
#[ignore = "needs PostgreSQL"]
async fn two_runners_resuming_one_entry_on_postgres() {
    let table = Table::new("resume2");
    for round in 0..10 {
        let a = SealedJournal::new(table.journal().await, key());
        let b = SealedJournal::new(table.journal().await, key());
        let id = format!("r3-res-{round}");
        let mut e = JournalEntry::regenerated(&id, "mintgate", &ApiToken::new(SECRET));
        e.version = 0;
        a.store(&e).await.unwrap();
        let (tx, _rx) = mpsc::unbounded_channel();
        let rot = MintGate {
            entered: tx,
            permit: Semaphore::new(0),
            gated: AtomicBool::new(true),
            minted: AtomicUsize::new(0),
        };
        let (ra, rb) = tokio::join!(
            rotate::rotate(&rot, &a, RotateOptions::new(&id).holder("a")),
            rotate::rotate(&rot, &b, RotateOptions::new(&id).holder("b")),
        );
        assert_eq!(rot.minted.load(Ordering::SeqCst), 0);
        assert!(
            ra.as_ref().is_ok_and(|r| r.succeeded()) || rb.as_ref().is_ok_and(|r| r.succeeded()),
            "{ra:?} {rb:?}"
        );
        assert_eq!(a.load(&id).await.unwrap().unwrap().step, Step::Finished);
    }
}
