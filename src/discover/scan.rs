//! "Who uses this token": a read-only live scan of every rule, streamed as rules are read.

use std::collections::{HashSet, VecDeque};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use futures::Stream;

use super::credential::{FoundCredential, credential_at};
use super::summary::{ScanSummary, UnreadRule};
use crate::automation::{AutomationClient, Finding, RuleSummary, Scanner};
use crate::error::{Error, Result};
use crate::rotate::bulk::{Visited, for_each_rule, no_writes};
use crate::rotate::{DEFAULT_CONCURRENCY, Phase, Progress, ProgressFn};

/// A read-only scan of every Automation rule a client can see, for one token
/// ([`Scanner::for_token`]) or for every credential ([`Scanner::inventory`]).
///
/// It runs through the same bulk engine as a rotation's update: rule summaries are listed page
/// by page (the next page read while the rules of the current one are visited), at most
/// [`concurrency`](Self::concurrency) rules are read at once, fewer while the API answers 429
/// (the client's retries honour `Retry-After`), and a rule that is still rate-limited after its
/// retries stops the scan. Nothing is written. No owner email is needed: the scanner finds
/// `base64(email:token)` with any email.
///
/// [`stream`](Self::stream) yields [`Finding`]s as rules are read, so a service can answer
/// incrementally; [`Findings::summary`] tells, at the end, how many rules were read and what was
/// found. Findings of one rule arrive together; rules arrive in the order their reads complete,
/// not in listing order.
///
/// **A rule that cannot be read** (its `GET` fails after the client's retries: deleted since
/// it was listed, permissions, a 5xx) does not end the stream: it is counted in
/// [`ScanSummary::unread`] (and in [`Progress::problems`]) and the scan goes on. Check
/// [`ScanSummary::is_complete`] before concluding that a token is unused. The stream ends with
/// an error only when the scan itself stops: the rule listing fails, the API still
/// rate-limits after the retries, or it refuses the client's credentials (a 401: going on
/// would only add failed logins for the client's account); the findings read until then are
/// yielded first.
///
/// **Redaction.** Rules are read in clear by default: a token scan must see values to find the
/// token, and an inventory needs them to name the account of a `Basic` value (and
/// [`ExpiryRadar`](super::ExpiryRadar) to resolve who a credential belongs to). An inventory
/// that only needs to know where credentials sit may ask the API to redact them
/// ([`redact_sensitive_fields`](Self::redact_sensitive_fields)); redacted values are then
/// reported as [`FindingStatus::CannotTell`](crate::automation::FindingStatus::CannotTell).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> atlassian_rotation::Result<()> {
/// use atlassian_rotation::automation::{AutomationClient, Scanner};
/// use atlassian_rotation::discover::UsageScan;
/// use atlassian_rotation::secret::ApiCredentials;
/// use atlassian_rotation::testing::{FakeAtlassian, RuleSeed};
/// use futures::TryStreamExt as _;
/// use time::{Duration, OffsetDateTime};
///
/// let fake = FakeAtlassian::start().await;
/// let admin = fake.add_user("admin@example.com", "Admin");
/// let (_, caller_token) = fake.mint_api_token(&admin.account_id, "tools", OffsetDateTime::now_utc() + Duration::days(90));
/// let (_, token) = fake.mint_api_token(&admin.account_id, "hooks", OffsetDateTime::now_utc() + Duration::days(9));
/// fake.seed_rules("cloud-1", RuleSeed::new(20).with_token(&admin.email, token.clone()));
///
/// let caller = ApiCredentials::new(&admin.email, caller_token);
/// let client = AutomationClient::builder(caller).base_url(fake.automation_base("cloud-1")).build()?;
/// let mut findings = UsageScan::new(&client, Scanner::for_token(&token)).concurrency(4).stream();
/// while let Some(finding) = findings.try_next().await? {
///     println!("{finding}");
/// }
/// let summary = findings.summary();
/// assert!(summary.is_complete());
/// assert_eq!((summary.rules_read, summary.rules_matched), (20, 10));
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct UsageScan {
    client: AutomationClient,
    scanner: Arc<Scanner>,
    concurrency: usize,
    pub(super) progress: Option<ProgressFn>,
    redact: bool,
}

impl fmt::Debug for UsageScan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UsageScan")
            .field("base_url", &self.client.base_url().as_str())
            .field("scanner", &self.scanner)
            .field("concurrency", &self.concurrency)
            .field("redact", &self.redact)
            .finish_non_exhaustive()
    }
}

impl UsageScan {
    /// A scan of the rules `client` can see, with `scanner`.
    ///
    /// ```
    /// use atlassian_rotation::automation::{AutomationClient, Scanner};
    /// use atlassian_rotation::discover::UsageScan;
    /// use atlassian_rotation::secret::{ApiCredentials, ApiToken};
    ///
    /// let caller = ApiCredentials::new("admin@example.com", ApiToken::new("ATATT-caller"));
    /// let client = AutomationClient::builder(caller).base_url("https://example.test/automation").build()?;
    /// let scan = UsageScan::new(&client, Scanner::inventory());
    /// assert!(!format!("{scan:?}").contains("ATATT"));
    /// # Ok::<(), atlassian_rotation::Error>(())
    /// ```
    pub fn new(client: &AutomationClient, scanner: Scanner) -> Self {
        Self {
            client: client.clone(),
            scanner: Arc::new(scanner),
            concurrency: DEFAULT_CONCURRENCY,
            progress: None,
            redact: false,
        }
    }

    /// How many rule requests may be in flight at once (default
    /// [`DEFAULT_CONCURRENCY`](crate::rotate::DEFAULT_CONCURRENCY); at least 1). The scan
    /// lowers it while the API rate-limits.
    ///
    /// ```
    /// # use atlassian_rotation::automation::{AutomationClient, Scanner};
    /// # use atlassian_rotation::discover::UsageScan;
    /// # use atlassian_rotation::secret::{ApiCredentials, ApiToken};
    /// # let caller = ApiCredentials::new("a@example.com", ApiToken::new("t"));
    /// # let client = AutomationClient::builder(caller).base_url("https://example.test/a").build()?;
    /// let scan = UsageScan::new(&client, Scanner::inventory()).concurrency(32);
    /// # let _ = scan;
    /// # Ok::<(), atlassian_rotation::Error>(())
    /// ```
    pub fn concurrency(mut self, concurrency: usize) -> Self {
        self.concurrency = concurrency.max(1);
        self
    }

    /// Calls `progress` after each rule ([`Phase::Scan`]; `matched` counts the rules with a
    /// match, or in an inventory with a credential; `problems` the rules that could not be
    /// read). It runs as the stream is polled, on the task polling it.
    ///
    /// ```
    /// # use atlassian_rotation::automation::{AutomationClient, Scanner};
    /// # use atlassian_rotation::discover::UsageScan;
    /// # use atlassian_rotation::secret::{ApiCredentials, ApiToken};
    /// # let caller = ApiCredentials::new("a@example.com", ApiToken::new("t"));
    /// # let client = AutomationClient::builder(caller).base_url("https://example.test/a").build()?;
    /// let scan = UsageScan::new(&client, Scanner::inventory())
    ///     .on_progress(|p| eprintln!("{} rules read, {} in flight", p.scanned, p.concurrency));
    /// # let _ = scan;
    /// # Ok::<(), atlassian_rotation::Error>(())
    /// ```
    pub fn on_progress(mut self, progress: impl Fn(Progress) + Send + Sync + 'static) -> Self {
        self.progress = Some(Arc::new(progress));
        self
    }

    /// Asks the API to redact secure values (`?redactSensitiveFields=true`), for an inventory
    /// that must not hold credentials even in memory; they are then reported as
    /// [`FindingStatus::CannotTell`](crate::automation::FindingStatus::CannotTell). Refused (the stream's only item is
    /// [`Error::InvalidInput`]) with a token scanner: a redacted value cannot be compared with
    /// the token. Default: off.
    ///
    /// ```
    /// # use atlassian_rotation::automation::{AutomationClient, Scanner};
    /// # use atlassian_rotation::discover::UsageScan;
    /// # use atlassian_rotation::secret::{ApiCredentials, ApiToken};
    /// # let caller = ApiCredentials::new("a@example.com", ApiToken::new("t"));
    /// # let client = AutomationClient::builder(caller).base_url("https://example.test/a").build()?;
    /// let scan = UsageScan::new(&client, Scanner::inventory()).redact_sensitive_fields(true);
    /// # let _ = scan;
    /// # Ok::<(), atlassian_rotation::Error>(())
    /// ```
    pub fn redact_sensitive_fields(mut self, redact: bool) -> Self {
        self.redact = redact;
        self
    }

    /// Starts the scan: the findings as a stream (see [`Findings`]). Nothing is sent until the
    /// stream is first polled; dropping it stops the scan.
    ///
    /// ```no_run
    /// # async fn run(client: atlassian_rotation::automation::AutomationClient) -> atlassian_rotation::Result<()> {
    /// use atlassian_rotation::automation::Scanner;
    /// use atlassian_rotation::discover::UsageScan;
    /// use futures::TryStreamExt as _;
    ///
    /// let mut findings = UsageScan::new(&client, Scanner::inventory()).stream();
    /// while let Some(finding) = findings.try_next().await? {
    ///     println!("{finding}");
    /// }
    /// eprintln!("{}", findings.summary());
    /// # Ok(()) }
    /// ```
    pub fn stream(self) -> Findings {
        self.start(false)
    }

    /// The scan, keeping with each finding the credential value it holds (for the radar's
    /// identity resolution). Never public: the public stream holds no secret.
    pub(crate) fn stream_with_credentials(self) -> Findings {
        self.start(true)
    }

    fn start(self, extract: bool) -> Findings {
        let mut findings = Findings {
            engine: None,
            settled: Arc::default(),
            listed: HashSet::new(),
            ready: VecDeque::new(),
            summary: ScanSummary::default(),
            progress: Progress::new(Phase::Scan),
            on_progress: self.progress.clone(),
            failure: None,
            scanner: Arc::clone(&self.scanner),
        };
        if self.redact && self.scanner.needles().is_some() {
            findings.failure = Some(Error::invalid_input(
                "scan option",
                "redact_sensitive_fields works only for an inventory: a token scan must read \
                 values in clear to find the token",
            ));
            return findings;
        }
        let settled = Arc::clone(&findings.settled);
        let reader = Arc::new(Reader {
            client: self.client.clone(),
            scanner: self.scanner,
            redact: self.redact,
            extract,
        });
        let read = move |summary: RuleSummary| {
            let reader = Arc::clone(&reader);
            async move { reader.read(&summary.uuid).await.map(Visited::Done) }
        };
        let client = self.client;
        let concurrency = self.concurrency;
        findings.engine = Some(Box::pin(async move {
            for_each_rule(
                &client,
                concurrency,
                read,
                no_writes,
                (),
                move |(), summary, outcome, concurrency| {
                    settled
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push_back(Settled {
                            summary,
                            outcome,
                            concurrency,
                        });
                },
            )
            .await
        }));
        findings
    }
}

/// What the reads of one scan share.
struct Reader {
    client: AutomationClient,
    scanner: Arc<Scanner>,
    redact: bool,
    extract: bool,
}

impl Reader {
    /// Reads and scans one rule document (the rule and its connections).
    async fn read(&self, uuid: &str) -> Result<Vec<Found>> {
        let body = self.client.read_rule_body(uuid, self.redact).await?;
        if self.scanner.needles().is_some() {
            // A token scan parses only the rules whose bytes could hold the token; its
            // findings are redacted of the token already.
            let findings = match self.scanner.skim_document(body.bytes()) {
                Some(findings) => findings,
                None => self.scanner.scan_document(&body.document()?),
            };
            return Ok(findings
                .into_iter()
                .map(|finding| Found {
                    finding,
                    credential: None,
                })
                .collect());
        }
        let document = body.document()?;
        let findings = self.scanner.scan_document(&document);
        let credentials: Vec<Option<FoundCredential>> = findings
            .iter()
            .map(|finding| credential_at(&document, finding))
            .collect();
        // An inventory knows no token to redact: what its findings show of the rule (a name a
        // careless author spelled a credential in) is redacted of the rule's own credentials,
        // once per rule.
        let mut seen: HashSet<&str> = HashSet::new();
        let redactors: Vec<Scanner> = credentials
            .iter()
            .flatten()
            .filter(|c| {
                let secret = c.secret.expose_secret();
                secret.len() >= MIN_REDACTED && seen.insert(secret)
            })
            .map(|c| Scanner::for_token(&c.secret))
            .collect();
        let redact = |text: &Option<String>| {
            text.as_ref().map(|text| {
                redactors
                    .iter()
                    .fold(text.clone(), |text, r| r.redact(&text))
            })
        };
        let (uuid, name) = findings
            .first()
            .map(|f| (redact(&f.rule_uuid), redact(&f.rule_name)))
            .unwrap_or_default();
        Ok(findings
            .into_iter()
            .zip(credentials)
            .map(|(mut finding, credential)| {
                finding.rule_uuid.clone_from(&uuid);
                finding.rule_name.clone_from(&name);
                Found {
                    finding,
                    credential: credential.filter(|_| self.extract),
                }
            })
            .collect())
    }
}

/// The shortest credential an inventory redacts from the names it shows: shorter values (a
/// dummy password such as `X`) are ordinary words far more often.
const MIN_REDACTED: usize = 8;

/// One finding and, for the radar only, the credential value it holds.
pub(crate) struct Found {
    pub(crate) finding: Finding,
    pub(crate) credential: Option<FoundCredential>,
}

/// One rule as the engine settled it.
struct Settled {
    summary: RuleSummary,
    outcome: Result<Vec<Found>>,
    concurrency: usize,
}

type Engine = Pin<Box<dyn Future<Output = Result<()>> + Send>>;

/// The findings of a [`UsageScan`], as a [`Stream`] of `Result<Finding>`, and its
/// [`summary`](Self::summary).
///
/// The scan runs while the stream is polled, on the polling task (each rule's read runs as a
/// task of its own, spawned on the current tokio runtime). Dropping the stream stops the scan:
/// the reads in flight are aborted and nothing more is sent. The stream ends with an error
/// only when the scan stops early (see [`UsageScan`]); it holds no secret.
///
/// ```no_run
/// # async fn run(scan: atlassian_rotation::discover::UsageScan) -> atlassian_rotation::Result<()> {
/// use futures::{StreamExt as _, TryStreamExt as _};
///
/// let mut findings = scan.stream();
/// let first_ten: Vec<_> = (&mut findings).take(10).try_collect().await?;
/// drop(findings); // stops the scan
/// # let _ = first_ten;
/// # Ok(()) }
/// ```
pub struct Findings {
    engine: Option<Engine>,
    settled: Arc<Mutex<VecDeque<Settled>>>,
    /// The rules settled so far (uuids case-folded): a rule listed again is not read twice.
    listed: HashSet<String>,
    ready: VecDeque<Found>,
    summary: ScanSummary,
    progress: Progress,
    on_progress: Option<ProgressFn>,
    failure: Option<Error>,
    scanner: Arc<Scanner>,
}

impl fmt::Debug for Findings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Findings")
            .field("running", &self.engine.is_some())
            .field("buffered", &self.ready.len())
            .field("summary", &self.summary)
            .finish_non_exhaustive()
    }
}

impl Findings {
    /// What the scan has seen so far; the whole scan once the stream has ended
    /// ([`ScanSummary::finished`]).
    ///
    /// ```no_run
    /// # async fn run(scan: atlassian_rotation::discover::UsageScan) -> atlassian_rotation::Result<()> {
    /// use futures::TryStreamExt as _;
    ///
    /// let mut findings = scan.stream();
    /// let all: Vec<_> = (&mut findings).try_collect().await?;
    /// if !findings.summary().is_complete() {
    ///     eprintln!("incomplete: {}", findings.summary());
    /// }
    /// # let _ = all;
    /// # Ok(()) }
    /// ```
    pub fn summary(&self) -> &ScanSummary {
        &self.summary
    }

    /// The next finding with its credential (the radar's view of the stream).
    pub(crate) fn poll_found(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Found>>> {
        loop {
            if let Some(found) = self.ready.pop_front() {
                return Poll::Ready(Some(Ok(found)));
            }
            let next = self
                .settled
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .pop_front();
            if let Some(settled) = next {
                self.absorb(settled);
                continue;
            }
            let Some(engine) = self.engine.as_mut() else {
                return Poll::Ready(self.failure.take().map(Err));
            };
            match engine.as_mut().poll(cx) {
                Poll::Ready(result) => {
                    self.engine = None;
                    match result {
                        Ok(()) => self.summary.finished = true,
                        Err(e) => self.failure = Some(e),
                    }
                }
                Poll::Pending => {
                    let idle = self
                        .settled
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .is_empty();
                    if idle {
                        return Poll::Pending;
                    }
                }
            }
        }
    }

    /// Counts one settled rule and queues its findings.
    fn absorb(&mut self, settled: Settled) {
        self.progress.concurrency = settled.concurrency;
        let redact = |text: String| self.scanner.redact(&text);
        if !self
            .listed
            .insert(settled.summary.uuid.to_ascii_lowercase())
        {
            // A listing that names a rule twice may have left another out in its place: the
            // scan is not complete, and the rule is counted (its findings yielded) once.
            let uuid = redact(settled.summary.uuid);
            if !self.summary.relisted.contains(&uuid) {
                self.summary.relisted.push(uuid);
            }
            self.progress.problems += 1;
            if let Some(report) = &self.on_progress {
                report(self.progress);
            }
            return;
        }
        self.progress.scanned += 1;
        match settled.outcome {
            Ok(found) => {
                let findings: Vec<&Finding> = found.iter().map(|f| &f.finding).collect();
                if self.summary.add_rule(findings) {
                    self.progress.matched += 1;
                }
                self.ready.extend(found);
            }
            Err(error) => {
                self.summary.unread.push(UnreadRule {
                    uuid: redact(settled.summary.uuid),
                    name: settled.summary.name.map(redact),
                    status: error.status(),
                    // A server may quote the rule back in its error body.
                    error: redact(error.to_string()),
                });
                self.progress.problems += 1;
            }
        }
        if let Some(report) = &self.on_progress {
            report(self.progress);
        }
    }
}

impl Stream for Findings {
    type Item = Result<Finding>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut()
            .poll_found(cx)
            .map(|next| next.map(|found| found.map(|f| f.finding)))
    }
}
