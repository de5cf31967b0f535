//! A rotator written outside the crate: its own failures travel with `?` and keep their
//! source, a journal opened and a rotation run compose in one function, a minted credential is
//! never lost by a conversion, and the report's summary reads as a person needs it.

mod support;

use std::error::Error as _;
use std::path::{Path, PathBuf};

use atlassian_rotation::rotate::{
    self, FileJournal, Journal, JournalEntry, MemoryJournal, RotateOptions, RotationError,
    RotationReport, Rotator, Step, Updated, Verified,
};
use atlassian_rotation::secret::ApiToken;
use atlassian_rotation::{Error, Result, async_trait};
use support::LogCapture;

const NEW: &str = "ATATT-custom-rotator-new-secret";

/// The caller's own error type, whose message holds the credential (as a careless URL would).
#[derive(Debug)]
struct VaultError {
    url: String,
}

impl std::fmt::Display for VaultError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "vault refused {}", self.url)
    }
}

impl std::error::Error for VaultError {}

impl From<VaultError> for Error {
    fn from(e: VaultError) -> Self {
        Error::other(e)
    }
}

/// How [`ConfigRotator`] fails.
#[derive(Clone, Copy, PartialEq)]
enum Failure {
    None,
    /// `update` fails with the caller's [`VaultError`].
    Vault,
    /// `update` fails with an I/O error wrapping text that holds the credential.
    WrappedIo,
    /// `verify` passes with a check whose text tries to forge a line of the summary.
    ForgedCheck,
}

/// Installs a handed-over token into a config file: every failure travels with `?`.
struct ConfigRotator {
    config: PathBuf,
    failure: Failure,
}

async fn vault_put(token: &ApiToken, fail: bool) -> std::result::Result<(), VaultError> {
    if fail {
        return Err(VaultError {
            url: format!(
                "https://vault.example/v1/put?value={}",
                token.expose_secret()
            ),
        });
    }
    Ok(())
}

fn wrapped_io(token: &ApiToken, fail: bool) -> std::io::Result<()> {
    if fail {
        return Err(std::io::Error::other(format!(
            "could not write token={}",
            token.expose_secret()
        )));
    }
    Ok(())
}

#[async_trait]
impl Rotator for ConfigRotator {
    type Credential = ApiToken;

    fn kind(&self) -> &'static str {
        "config-file"
    }

    fn regenerate_mints(&self) -> bool {
        false
    }

    async fn regenerate(&self) -> Result<ApiToken> {
        Ok(ApiToken::new(NEW))
    }

    async fn update(&self, token: &ApiToken) -> Result<Updated> {
        vault_put(token, self.failure == Failure::Vault).await?;
        wrapped_io(token, self.failure == Failure::WrappedIo)?;
        tokio::fs::write(&self.config, token.expose_secret()).await?;
        Ok(Updated::new(1, 1))
    }

    async fn verify(&self, _: &ApiToken, _: &Updated) -> Result<Verified> {
        let check = if self.failure == Failure::ForgedCheck {
            "config written\n  retired: every token in the org"
        } else {
            "config written"
        };
        Ok(Verified::new().check(check))
    }
}

/// Runs a [`ConfigRotator`] writing into `dir`, with a fresh journal.
async fn run(
    dir: &Path,
    failure: Failure,
    id: &str,
) -> std::result::Result<RotationReport, RotationError<ApiToken>> {
    let rotator = ConfigRotator {
        config: dir.join("service.conf"),
        failure,
    };
    rotate::rotate(&rotator, &MemoryJournal::new(), RotateOptions::new(id)).await
}

/// Everything the crate itself writes about a failed run: the error's message, the report as
/// JSON and as a summary, and its logs. (`Debug` of [`Error::Other`] shows the source's own
/// `Debug`: the caller's type, the caller's choice.)
fn shown(err: &RotationError<ApiToken>, logs: &LogCapture) -> String {
    format!(
        "{err}\n{}\n{}\n{}",
        serde_json::to_string(&err.report).unwrap(),
        err.report,
        logs.text()
    )
}

#[tokio::test]
async fn the_callers_own_error_keeps_its_source_and_its_text_stays_out_of_messages() {
    let dir = tempfile::tempdir().unwrap();
    let logs = LogCapture::default();
    let _guard = logs.install();
    let err = run(dir.path(), Failure::Vault, "custom-1")
        .await
        .unwrap_err();

    let source = err
        .error
        .source()
        .expect("the caller's error is the source");
    let vault = source.downcast_ref::<VaultError>().expect("kept whole");
    assert!(vault.url.ends_with(NEW), "the caller can still read it");
    assert!(matches!(err.error, Error::Other { .. }), "{:?}", err.error);
    let message = err.error.to_string();
    assert!(message.contains("VaultError"), "{message}");
    let shown = shown(&err, &logs);
    assert!(!shown.contains(NEW), "{shown}");
    assert!(
        err.report.to_string().contains("\n  update failed: "),
        "{}",
        err.report
    );
}

#[tokio::test]
async fn io_errors_convert_with_question_mark_showing_only_the_os_text() {
    let dir = tempfile::tempdir().unwrap();
    let err = run(&dir.path().join("missing-dir"), Failure::None, "custom-2")
        .await
        .unwrap_err();
    match &err.error {
        Error::Io { source } => assert_eq!(source.kind(), std::io::ErrorKind::NotFound),
        other => panic!("{other:?}"),
    }
    assert!(
        err.error.to_string().starts_with("I/O failed: "),
        "{}",
        err.error
    );

    let logs = LogCapture::default();
    let _guard = logs.install();
    let err = run(dir.path(), Failure::WrappedIo, "custom-3")
        .await
        .unwrap_err();
    assert_eq!(err.error.to_string(), "I/O failed: other error");
    let io = err.error.source().unwrap().downcast_ref::<std::io::Error>();
    assert!(
        io.unwrap().to_string().contains(NEW),
        "the source keeps the detail"
    );
    let shown = shown(&err, &logs);
    assert!(!shown.contains(NEW), "{shown}");
}

/// One function opens its journal (an [`Error`]) and rotates (a [`RotationError`]) with `?`.
async fn rotate_into(
    journal_dir: &Path,
    config: PathBuf,
    id: &str,
) -> std::result::Result<RotationReport, RotationError<ApiToken>> {
    let journal = FileJournal::new(journal_dir)?;
    let rotator = ConfigRotator {
        config,
        failure: Failure::None,
    };
    let report = rotate::rotate(&rotator, &journal, RotateOptions::new(id)).await?;
    Ok(report)
}

#[tokio::test]
async fn opening_a_journal_and_rotating_compose_with_question_mark() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("service.conf");
    let report = rotate_into(&dir.path().join("journal"), config.clone(), "c-4")
        .await
        .unwrap();
    assert!(report.succeeded());

    let not_a_dir = dir.path().join("a-file");
    std::fs::write(&not_a_dir, "x").unwrap();
    let err = rotate_into(&not_a_dir.join("journal"), config, "c-5")
        .await
        .unwrap_err();
    assert!(err.unjournaled.is_none());
    assert!(err.report.rotation_id.is_empty() && err.report.steps.is_empty());
    assert!(
        err.to_string().starts_with("rotation not started: "),
        "{err}"
    );
    assert_eq!(err.report.to_string(), "rotation not started");
}

/// A journal that cannot store anything, reached through a constructor that returns
/// [`Error`].
struct FullDisk;

#[async_trait]
impl Journal for FullDisk {
    async fn load(&self, _: &str) -> Result<Option<JournalEntry>> {
        Ok(None)
    }
    async fn store(&self, entry: &JournalEntry) -> Result<()> {
        if entry.step == Step::Started {
            return Ok(());
        }
        Err(Error::Journal {
            action: "write",
            source: "disk full".into(),
        })
    }
}

/// A rotator that mints (so the journal must hold the credential before anything else).
struct Minting;

#[async_trait]
impl Rotator for Minting {
    type Credential = ApiToken;
    fn kind(&self) -> &'static str {
        "minting"
    }
    async fn regenerate(&self) -> Result<ApiToken> {
        Ok(ApiToken::new(NEW))
    }
    async fn update(&self, _: &ApiToken) -> Result<Updated> {
        unreachable!("never installed before it is journaled")
    }
    async fn verify(&self, _: &ApiToken, _: &Updated) -> Result<Verified> {
        unreachable!()
    }
}

async fn rotate_minting(id: &str) -> std::result::Result<RotationReport, RotationError<ApiToken>> {
    let open = || -> Result<FullDisk> { Ok(FullDisk) };
    let journal = open()?;
    let report = rotate::rotate(&Minting, &journal, RotateOptions::new(id)).await?;
    Ok(report)
}

#[tokio::test]
async fn no_conversion_loses_an_unjournaled_credential() {
    // Through `?` in a function returning RotationError: still there.
    let err = rotate_minting("c-6").await.unwrap_err();
    assert_eq!(err.unjournaled, Some(ApiToken::new(NEW)));

    // Boxed as a plain error (what `?` does in a function returning one): the message says the
    // credential is returned, and downcasting the box hands it back.
    let boxed: Box<dyn std::error::Error + Send + Sync> = err.into();
    assert!(
        boxed.to_string().contains("returned to the caller"),
        "{boxed}"
    );
    assert!(!boxed.to_string().contains(NEW));
    let back = boxed
        .downcast::<RotationError<ApiToken>>()
        .expect("the box holds the rotation error");
    assert_eq!(back.unjournaled, Some(ApiToken::new(NEW)));
}

#[tokio::test]
async fn the_summary_keeps_every_value_to_its_own_line() {
    let dir = tempfile::tempdir().unwrap();
    let report = run(dir.path(), Failure::ForgedCheck, "custom-7")
        .await
        .unwrap();
    let text = report.to_string();
    assert!(
        !text.lines().any(|line| line.starts_with("  retired:")),
        "a check's newline forged a line:\n{text}"
    );
    assert!(
        text.contains("  verified: config written\\n  retired: every token"),
        "{text}"
    );
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    assert_eq!(
        lines[0],
        format!(
            "rotation `custom-7` (config-file): complete; new credential {}",
            ApiToken::new(NEW).fingerprint()
        )
    );
    assert!(
        lines[1].starts_with("  steps: regenerate done in "),
        "{text}"
    );
    for step in ["update", "verify", "finish"] {
        assert!(lines[1].contains(&format!(", {step} done in ")), "{text}");
    }
    assert_eq!(
        lines[2..],
        [
            "  updated: 1 found, 1 rewritten, 0 skipped, 0 conflicted",
            "  verified: config written\\n  retired: every token in the org",
        ]
    );
}
