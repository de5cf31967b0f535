//! [`PostgresJournal`] (feature `postgres`): one row per rotation, shared by every runner that
//! connects to the same table.

use std::sync::Arc;

use async_trait::async_trait;
use futures::future::BoxFuture;
use secrecy::{ExposeSecret as _, SecretString};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tokio_postgres::tls::{MakeTlsConnect, TlsConnect};
use tokio_postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use tokio_postgres::{Client, NoTls, Row, Socket};

use super::entry::parse_rfc3339;
use super::rfc3339;
use super::{Journal, JournalEntry, Step, check_rotation_id, conflict, journal_err};
use crate::error::{Error, Result};
use crate::rotate::{Finished, Updated, Verified};

type Connect = dyn Fn() -> BoxFuture<'static, std::result::Result<Client, tokio_postgres::Error>>
    + Send
    + Sync;

/// A journal in a PostgreSQL table, for rotations run by a CronJob whose disk dies with its
/// pod, or by several replicas at once. Wrap it in a [`SealedJournal`](super::SealedJournal):
/// the `credential` column holds exactly what the journal is handed, so an unsealed
/// `PostgresJournal` keeps the credential in clear, readable by anyone who can read the table
/// or its backups.
///
/// - The table is created on first use (or by [`migrate`](Self::migrate)); its name is yours.
/// - A new rotation's first write is `INSERT ... ON CONFLICT DO NOTHING` (create-only); every
///   later write is `UPDATE ... WHERE version = $read_version` (compare-and-set), failing with
///   [`Error::JournalConflict`] when another runner wrote in between.
/// - Leases ([`Journal::acquire`]) are the `holder` and `lease_until` columns, written with the
///   same compare-and-set; expiry is computed by the runners' clocks, not the server's.
/// - A write whose outcome is unknown (the connection dropped) is reconciled: the journal
///   reconnects and reads the row back; each write stamps a random `write_id`, so the row says
///   whether this write landed. A write that did not land and still can is sent once more;
///   otherwise the answer is a conflict or an error, never a guess.
///
/// Schema (the `version`, `holder`, `lease_until` and `write_id` columns are the journal's; the
/// rest mirrors [`JournalEntry`]):
///
/// ```sql
/// CREATE TABLE IF NOT EXISTS rotation_journal (
///     rotation_id      text PRIMARY KEY,
///     kind             text NOT NULL,
///     target           text NOT NULL,
///     step             text NOT NULL,
///     fingerprint      text NOT NULL,
///     old_fingerprint  text,
///     credential       text,          -- sealed:v1:... when wrapped in SealedJournal
///     outcomes         jsonb NOT NULL, -- update, verify and finish outcomes (no secrets)
///     created_at       timestamptz NOT NULL,
///     updated_at       timestamptz NOT NULL,
///     version          bigint NOT NULL,
///     holder           text,
///     lease_until      timestamptz,
///     abandoned_reason text,
///     write_id         text NOT NULL
/// );
/// ```
///
/// ```no_run
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> atlassian_rotation::Result<()> {
/// use atlassian_rotation::rotate::{PostgresJournal, SealedJournal, SealingKey};
///
/// let table = PostgresJournal::connect("host=127.0.0.1 user=rotation dbname=ops", "rotation_journal").await?;
/// let journal = SealedJournal::new(table, SealingKey::from_env("2026-11", "ROTATION_JOURNAL_KEY")?);
/// # let _ = journal;
/// # Ok(()) }
/// ```
pub struct PostgresJournal {
    connect: Arc<Connect>,
    client: tokio::sync::Mutex<Option<Arc<Client>>>,
    table: String,
    migrated: tokio::sync::OnceCell<()>,
    timeout: std::time::Duration,
}

/// How long one journal statement (or connection attempt) may take before its outcome counts
/// as unknown: 30 seconds. A write that runs out is read back once, within the same bound; if
/// that fails too, the write fails, and the driver hands a credential it could not journal
/// back to the caller ([`RotationError::unjournaled`](crate::rotate::RotationError)) instead
/// of waiting for ever. A caller's own timeout around `rotate` must be longer than this.
pub const DEFAULT_STATEMENT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

impl std::fmt::Debug for PostgresJournal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresJournal")
            .field("table", &self.table)
            .finish_non_exhaustive()
    }
}

#[derive(Serialize, Deserialize, Default)]
struct Outcomes {
    updated: Option<Updated>,
    verified: Option<Verified>,
    finished: Option<Finished>,
    /// Kept with the outcomes (no schema change): why the last run stopped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last_error: Option<String>,
}

const COLUMNS: &str = "rotation_id, kind, target, step, fingerprint, old_fingerprint, credential, \
    outcomes::text, created_at, updated_at, version, holder, lease_until, abandoned_reason, write_id";

/// What a write's re-read found.
enum Landed {
    Yes,
    No(Option<u64>),
}

impl PostgresJournal {
    /// Connects without TLS (for a database on loopback, a Unix socket or a sidecar proxy)
    /// with a libpq-style `config` (`host=... user=... dbname=...` or a `postgresql://` URL),
    /// keeping the journal in `table` (`name` or `schema.name`, letters, digits and `_`).
    /// The connection is made now, and again whenever it is lost. The configuration (and any
    /// password in it) never appears in errors.
    pub async fn connect(config: &str, table: &str) -> Result<Self> {
        Self::connect_with_tls(config, NoTls, table).await
    }

    /// As [`connect`](Self::connect), with the TLS connector of your choice (for example
    /// `tokio-postgres-rustls`).
    pub async fn connect_with_tls<T>(config: &str, tls: T, table: &str) -> Result<Self>
    where
        T: MakeTlsConnect<Socket> + Clone + Send + Sync + 'static,
        T::Stream: Send,
        T::TlsConnect: Send,
        <T::TlsConnect as TlsConnect<Socket>>::Future: Send,
    {
        let mut config: tokio_postgres::Config = config
            .parse()
            .map_err(|_| Error::invalid_input("PostgreSQL configuration", "could not be parsed"))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(DEFAULT_STATEMENT_TIMEOUT);
        }
        let connect: Arc<Connect> = Arc::new(move || {
            let config = config.clone();
            let tls = tls.clone();
            Box::pin(async move {
                let (client, connection) = config.connect(tls).await?;
                tokio::spawn(async move {
                    if let Err(e) = connection.await {
                        tracing::debug!(error = %e, "journal database connection ended");
                    }
                });
                Ok(client)
            })
        });
        let journal = Self {
            connect,
            client: tokio::sync::Mutex::new(None),
            table: quote_table(table)?,
            migrated: tokio::sync::OnceCell::new(),
            timeout: DEFAULT_STATEMENT_TIMEOUT,
        };
        journal.client().await?;
        Ok(journal)
    }

    /// The quoted table name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// Creates the table if it does not exist (safe to run from several replicas at once).
    /// Every other call runs it first, once.
    pub async fn migrate(&self) -> Result<()> {
        self.migrated
            .get_or_try_init(|| async {
                let sql = format!(
                    "BEGIN;
                     SELECT pg_advisory_xact_lock(hashtext('atlassian-rotation journal {t}'));
                     CREATE TABLE IF NOT EXISTS {t} (
                         rotation_id      text PRIMARY KEY,
                         kind             text NOT NULL,
                         target           text NOT NULL,
                         step             text NOT NULL,
                         fingerprint      text NOT NULL,
                         old_fingerprint  text,
                         credential       text,
                         outcomes         jsonb NOT NULL,
                         created_at       timestamptz NOT NULL,
                         updated_at       timestamptz NOT NULL,
                         version          bigint NOT NULL,
                         holder           text,
                         lease_until      timestamptz,
                         abandoned_reason text,
                         write_id         text NOT NULL
                     );
                     COMMIT;",
                    t = self.table
                );
                let client = self.client().await?;
                self.bounded("create table", client.batch_execute(&sql))
                    .await?
                    .map_err(|e| pg_err("create table", e))
            })
            .await
            .map(|_| ())
    }

    /// The live connection, made again if it was lost.
    /// Sets how long one statement or connection attempt may take
    /// ([`DEFAULT_STATEMENT_TIMEOUT`]).
    ///
    /// ```no_run
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> atlassian_rotation::Result<()> {
    /// use std::time::Duration;
    /// use atlassian_rotation::rotate::PostgresJournal;
    ///
    /// let journal = PostgresJournal::connect("host=127.0.0.1 user=postgres dbname=test", "rotation_journal")
    ///     .await?
    ///     .timeout(Duration::from_secs(10));
    /// # let _ = journal;
    /// # Ok(()) }
    /// ```
    pub fn timeout(mut self, timeout: std::time::Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// `future`, or a timeout error naming `action`.
    async fn bounded<T>(
        &self,
        action: &'static str,
        future: impl std::future::Future<Output = std::result::Result<T, tokio_postgres::Error>>,
    ) -> Result<std::result::Result<T, tokio_postgres::Error>> {
        tokio::time::timeout(self.timeout, future)
            .await
            .map_err(|_| {
                journal_err(
                    action,
                    std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        format!("the database did not answer within {:?}", self.timeout),
                    ),
                )
            })
    }

    async fn client(&self) -> Result<Arc<Client>> {
        let mut slot = self.client.lock().await;
        if let Some(client) = slot.as_ref().filter(|c| !c.is_closed()) {
            return Ok(Arc::clone(client));
        }
        let client = Arc::new(
            self.bounded("connect", (self.connect)())
                .await?
                .map_err(|e| pg_err("connect", e))?,
        );
        *slot = Some(Arc::clone(&client));
        Ok(client)
    }

    async fn forget_connection(&self) {
        *self.client.lock().await = None;
    }

    async fn query_opt(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Option<Row>> {
        self.migrate().await?;
        let client = self.client().await?;
        match self.bounded("read", client.query_opt(sql, params)).await {
            Ok(result) => result.map_err(|e| pg_err("read", e)),
            Err(timeout) => {
                self.forget_connection().await;
                Err(timeout)
            }
        }
    }

    /// Runs a write; an error that is not the server's answer (the connection went away) makes
    /// the outcome unknown: `None`.
    async fn execute(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Option<u64>> {
        self.migrate().await?;
        let client = self.client().await?;
        let Ok(result) = self.bounded("write", client.execute(sql, params)).await else {
            tracing::warn!("journal write did not answer in time; outcome unknown, reading back");
            self.forget_connection().await;
            return Ok(None);
        };
        match result {
            Ok(n) => Ok(Some(n)),
            Err(e) if !outcome_unknown(&e, &client) => Err(pg_err("write", e)),
            Err(e) => {
                tracing::warn!(error = %e, "journal write outcome unknown; reading back");
                self.forget_connection().await;
                Ok(None)
            }
        }
    }

    /// Whether the write stamped `write_id` landed on `rotation_id`, read over a new connection.
    async fn landed(&self, rotation_id: &str, write_id: &str) -> Result<Landed> {
        let sql = format!(
            "SELECT version, write_id FROM {} WHERE rotation_id = $1",
            self.table
        );
        let row = self
            .query_opt(&sql, &[&rotation_id])
            .await
            .map_err(|_| reconcile_failed())?;
        Ok(match row {
            None => Landed::No(None),
            Some(row) => {
                let version: i64 = row.try_get(0).map_err(|e| pg_err("decode", e))?;
                let stamped: String = row.try_get(1).map_err(|e| pg_err("decode", e))?;
                if stamped == write_id {
                    Landed::Yes
                } else {
                    Landed::No(Some(version as u64))
                }
            }
        })
    }

    async fn found_version(&self, rotation_id: &str) -> Result<Option<u64>> {
        let sql = format!("SELECT version FROM {} WHERE rotation_id = $1", self.table);
        let row = self.query_opt(&sql, &[&rotation_id]).await?;
        row.map(|r| r.try_get::<_, i64>(0).map(|v| v as u64))
            .transpose()
            .map_err(|e| pg_err("decode", e))
    }

    /// Inserts `entry` at version 1 unless the row exists; whether it did.
    async fn insert(&self, entry: &JournalEntry) -> Result<bool> {
        let sql = format!(
            "INSERT INTO {} (rotation_id, kind, target, step, fingerprint, old_fingerprint, \
             credential, outcomes, created_at, updated_at, version, holder, lease_until, \
             abandoned_reason, write_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8::text::jsonb, $9, \
             $10, 1, $11, $12, $13, $14) ON CONFLICT (rotation_id) DO NOTHING",
            self.table
        );
        let p = Params::of(entry)?;
        for _ in 0..2 {
            let write_id = new_write_id();
            let params = p.row(entry, &write_id);
            match self.execute(&sql, &params).await? {
                Some(n) => return Ok(n == 1),
                None => match self.landed(&entry.rotation_id, &write_id).await? {
                    Landed::Yes => return Ok(true),
                    Landed::No(Some(_)) => return Ok(false),
                    Landed::No(None) => continue,
                },
            }
        }
        Err(reconcile_failed())
    }

    /// Updates the row at `entry.version` to version + 1; the version found when it did not.
    async fn update(&self, entry: &JournalEntry) -> Result<std::result::Result<(), Option<u64>>> {
        let sql = format!(
            "UPDATE {} SET kind = $2, target = $3, step = $4, fingerprint = $5, \
             old_fingerprint = $6, credential = $7, outcomes = $8::text::jsonb, created_at = $9, \
             updated_at = $10, holder = $11, lease_until = $12, abandoned_reason = $13, \
             write_id = $14, version = version + 1 WHERE rotation_id = $1 AND version = $15",
            self.table
        );
        let p = Params::of(entry)?;
        let version = i64::try_from(entry.version).map_err(|_| conflict(entry, None))?;
        for _ in 0..2 {
            let write_id = new_write_id();
            let mut params = p.row(entry, &write_id);
            params.push(&version);
            match self.execute(&sql, &params).await? {
                Some(1) => return Ok(Ok(())),
                Some(_) => return Ok(Err(self.found_version(&entry.rotation_id).await?)),
                None => match self.landed(&entry.rotation_id, &write_id).await? {
                    Landed::Yes => return Ok(Ok(())),
                    Landed::No(Some(v)) if v == entry.version => continue,
                    Landed::No(found) => return Ok(Err(found)),
                },
            }
        }
        Err(reconcile_failed())
    }

    fn entry_of(row: &Row) -> Result<JournalEntry> {
        let decode = |e| pg_err("decode", e);
        let step: String = row.try_get(3).map_err(decode)?;
        let outcomes: String = row.try_get(7).map_err(decode)?;
        let outcomes: Outcomes =
            serde_json::from_str(&outcomes).map_err(|e| journal_err("decode", e))?;
        let created_at: OffsetDateTime = row.try_get(8).map_err(decode)?;
        let updated_at: OffsetDateTime = row.try_get(9).map_err(decode)?;
        let version: i64 = row.try_get(10).map_err(decode)?;
        let lease_until: Option<OffsetDateTime> = row.try_get(12).map_err(decode)?;
        let credential: Option<String> = row.try_get(6).map_err(decode)?;
        Ok(JournalEntry {
            rotation_id: row.try_get(0).map_err(decode)?,
            kind: row.try_get(1).map_err(decode)?,
            target: row.try_get(2).map_err(decode)?,
            step: Step::from_name(&step).ok_or_else(|| {
                journal_err(
                    "decode",
                    std::io::Error::other(format!("unknown step `{step}`")),
                )
            })?,
            fingerprint: row.try_get(4).map_err(decode)?,
            old_fingerprint: row.try_get(5).map_err(decode)?,
            updated: outcomes.updated,
            verified: outcomes.verified,
            finished: outcomes.finished,
            last_error: outcomes.last_error,
            created_at: rfc3339(created_at),
            updated_at: rfc3339(updated_at),
            version: version as u64,
            holder: row.try_get(11).map_err(decode)?,
            lease_until: lease_until.map(rfc3339),
            abandoned_reason: row.try_get(13).map_err(decode)?,
            credential: credential.map(SecretString::from),
        })
    }
}

/// The parameters of a write that are not plain fields of the entry.
struct Params {
    step: String,
    credential: SecretParam,
    outcomes: String,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
    lease_until: Option<OffsetDateTime>,
}

impl Params {
    /// The row's parameters `$1` to `$14`, in the column order of the insert and the update.
    fn row<'a>(
        &'a self,
        entry: &'a JournalEntry,
        write_id: &'a String,
    ) -> Vec<&'a (dyn ToSql + Sync)> {
        vec![
            &entry.rotation_id,
            &entry.kind,
            &entry.target,
            &self.step,
            &entry.fingerprint,
            &entry.old_fingerprint,
            &self.credential,
            &self.outcomes,
            &self.created_at,
            &self.updated_at,
            &entry.holder,
            &self.lease_until,
            &entry.abandoned_reason,
            write_id,
        ]
    }

    fn of(entry: &JournalEntry) -> Result<Self> {
        let time = |s: &str| {
            parse_rfc3339(s).ok_or_else(|| {
                Error::invalid_input("journal entry", format!("`{s}` is not an RFC 3339 time"))
            })
        };
        let outcomes = Outcomes {
            updated: entry.updated.clone(),
            verified: entry.verified.clone(),
            finished: entry.finished.clone(),
            last_error: entry.last_error.clone(),
        };
        Ok(Self {
            step: entry.step.to_string(),
            credential: SecretParam(
                entry
                    .credential
                    .as_ref()
                    .map(|c| c.expose_secret().to_owned()),
            ),
            outcomes: serde_json::to_string(&outcomes).map_err(|e| journal_err("encode", e))?,
            created_at: time(&entry.created_at)?,
            updated_at: time(&entry.updated_at)?,
            lease_until: entry.lease_until.as_deref().map(time).transpose()?,
        })
    }
}

/// The credential as a statement parameter. tokio-postgres logs every parameter's `Debug` at
/// DEBUG level (through the `log` crate): this one prints `[redacted]`, and is zeroized on drop.
struct SecretParam(Option<String>);

impl std::fmt::Debug for SecretParam {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(crate::secret::REDACTED)
    }
}

impl ToSql for SecretParam {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> std::result::Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        self.0.to_sql(ty, out)
    }

    fn accepts(ty: &Type) -> bool {
        <Option<String> as ToSql>::accepts(ty)
    }

    to_sql_checked!();
}

impl Drop for SecretParam {
    fn drop(&mut self) {
        if let Some(c) = self.0.as_mut() {
            zeroize::Zeroize::zeroize(c);
        }
    }
}

/// A database error without what the server quotes of the row (`DETAIL: Failing row
/// contains (...)` would show the credential): SQLSTATE, severity, message, and the table,
/// column and constraint it names.
fn pg_err(action: &'static str, e: tokio_postgres::Error) -> Error {
    let text = match e.as_db_error() {
        Some(db) => {
            let mut text = format!("{} {}: {}", db.severity(), db.code().code(), db.message());
            for (what, name) in [
                ("table", db.table()),
                ("column", db.column()),
                ("constraint", db.constraint()),
            ] {
                if let Some(name) = name {
                    text.push_str(&format!(" ({what} {name})"));
                }
            }
            text
        }
        None => e.to_string(),
    };
    journal_err(action, std::io::Error::other(text))
}

/// Whether a failed write may or may not have been applied: the connection went away (an I/O
/// error, a closed client, a FATAL message such as an administrator's termination or a
/// failover, SQLSTATE classes 08 and 57). A plain error answer (a constraint, a syntax error)
/// means the statement was not applied.
fn outcome_unknown(e: &tokio_postgres::Error, client: &Client) -> bool {
    if client.is_closed() || e.is_closed() {
        return true;
    }
    match e.as_db_error() {
        None => true,
        Some(db) => {
            let code = db.code().code();
            code.starts_with("08") || code.starts_with("57") || db.severity() != "ERROR"
        }
    }
}

fn new_write_id() -> String {
    format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..))
}

fn reconcile_failed() -> Error {
    journal_err(
        "reconcile",
        std::io::Error::other(
            "a write's outcome is unknown (the connection was lost) and the row could not be read back",
        ),
    )
}

/// `name` or `schema.name`, each part quoted.
fn quote_table(table: &str) -> Result<String> {
    let part_ok = |p: &str| {
        !p.is_empty()
            && p.len() <= 63
            && !p.starts_with(|c: char| c.is_ascii_digit())
            && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    };
    let parts: Vec<&str> = table.split('.').collect();
    if parts.len() > 2 || !parts.iter().all(|p| part_ok(p)) {
        return Err(Error::invalid_input(
            "journal table",
            "must be `name` or `schema.name` of letters, digits and _",
        ));
    }
    Ok(parts
        .iter()
        .map(|p| format!("\"{p}\""))
        .collect::<Vec<_>>()
        .join("."))
}

#[async_trait]
impl Journal for PostgresJournal {
    async fn load(&self, rotation_id: &str) -> Result<Option<JournalEntry>> {
        check_rotation_id(rotation_id)?;
        let sql = format!(
            "SELECT {COLUMNS} FROM {} WHERE rotation_id = $1",
            self.table
        );
        self.query_opt(&sql, &[&rotation_id])
            .await?
            .as_ref()
            .map(Self::entry_of)
            .transpose()
    }

    async fn store(&self, entry: &JournalEntry) -> Result<()> {
        check_rotation_id(&entry.rotation_id)?;
        if entry.version == 0 {
            return match self.insert(entry).await? {
                true => Ok(()),
                false => Err(conflict(
                    entry,
                    self.found_version(&entry.rotation_id).await?,
                )),
            };
        }
        self.update(entry)
            .await?
            .map_err(|found| conflict(entry, found))
    }

    async fn create(&self, entry: &JournalEntry) -> Result<bool> {
        check_rotation_id(&entry.rotation_id)?;
        self.insert(entry).await
    }

    async fn list(&self) -> Result<Vec<JournalEntry>> {
        self.migrate().await?;
        let sql = format!(
            "SELECT {} FROM {} ORDER BY created_at",
            COLUMNS.replace("credential", "NULL::text"),
            self.table
        );
        let client = self.client().await?;
        let rows = self
            .bounded("list", client.query(&sql, &[]))
            .await?
            .map_err(|e| pg_err("list", e))?;
        rows.iter().map(Self::entry_of).collect()
    }

    async fn remove(&self, rotation_id: &str, version: u64) -> Result<()> {
        check_rotation_id(rotation_id)?;
        let sql = format!(
            "DELETE FROM {} WHERE rotation_id = $1 AND version = $2",
            self.table
        );
        let v = version as i64;
        let deleted = match self.execute(&sql, &[&rotation_id, &v]).await? {
            Some(n) => n == 1,
            // Unknown: gone means the goal is reached; still there at this version, say so.
            None => self.found_version(rotation_id).await?.is_none(),
        };
        if deleted {
            return Ok(());
        }
        Err(Error::JournalConflict {
            rotation_id: rotation_id.to_owned(),
            expected: version,
            found: self.found_version(rotation_id).await?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_names_are_quoted_identifiers_only() {
        assert_eq!(quote_table("journal").unwrap(), "\"journal\"");
        assert_eq!(
            quote_table("ops.journal_1").unwrap(),
            "\"ops\".\"journal_1\""
        );
        for bad in ["", "a.b.c", "x;drop", "1abc", "a\"b", "a b"] {
            assert!(quote_table(bad).is_err(), "{bad}");
        }
    }
}
