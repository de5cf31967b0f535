//! A fault at each step of each rotation, then a resume with the same rotation id and journal.
//!
//! Each row fails one step. The runner asserts what a person recovering from it relies on: the
//! new credential is in the journal once minted (at the step the row names), the old token was
//! not revoked, and a second run after the fault clears completes without regenerating again.
//!
//! A fault meant for a later step of a route that earlier steps also use (a rule GET in verify,
//! the identity check in verify) is armed by the journal the moment that earlier step is
//! recorded, so it hits exactly the step it is meant for.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use atlassian_rotation::rotate::{
    self, AutomationTokenRotator, Journal, JournalEntry, MemoryJournal, RotateOptions,
    RotationReport, Rotator, Step,
};
use atlassian_rotation::secret::{AdminApiKey, ApiToken, TunnelKey};
use atlassian_rotation::testing::{FakeAtlassian, Fault, Route, TunnelStatus};

use super::options;
use super::support::{RotationWorld, key_world, rotation_world};

const ID: &str = "rotation-under-fault";

/// A fault to inject once the journal records a step.
type Trigger = (Step, Box<dyn FnOnce() + Send>);

/// A journal that injects a fault the moment a given step is recorded.
struct ArmingJournal {
    inner: MemoryJournal,
    arm: Mutex<Option<Trigger>>,
}

impl ArmingJournal {
    fn new(arm: Option<Trigger>) -> Self {
        Self {
            inner: MemoryJournal::new(),
            arm: Mutex::new(arm),
        }
    }
}

#[async_trait]
impl Journal for ArmingJournal {
    async fn load(&self, rotation_id: &str) -> atlassian_rotation::Result<Option<JournalEntry>> {
        self.inner.load(rotation_id).await
    }

    async fn store(&self, entry: &JournalEntry) -> atlassian_rotation::Result<()> {
        self.inner.store(entry).await?;
        let mut arm = self.arm.lock().unwrap();
        if arm.as_ref().is_some_and(|(step, _)| *step == entry.step) {
            let (_, fire) = arm.take().unwrap();
            fire();
        }
        Ok(())
    }
}

/// One failing step: the fault, where it is armed, and where the journal must stand after.
#[derive(Clone, Copy)]
struct Row {
    name: &'static str,
    route: Route,
    fault: fn() -> Fault,
    /// Inject the fault once the journal records this step (`None`: from the start).
    armed_at: Option<Step>,
    /// The journal's step after the failed run (`None`: nothing journaled).
    journaled: Option<Step>,
    /// Whether the failed run already revoked the old token (a lost response to the revoke).
    revoked_by_failure: bool,
}

const fn row(name: &'static str, route: Route, fault: fn() -> Fault) -> Row {
    Row {
        name,
        route,
        fault,
        armed_at: None,
        journaled: Some(Step::Regenerated),
        revoked_by_failure: false,
    }
}

impl Row {
    const fn armed_at(mut self, step: Step) -> Self {
        self.armed_at = Some(step);
        self
    }

    const fn journaled(mut self, step: Option<Step>) -> Self {
        self.journaled = step;
        self
    }

    const fn revoked_by_failure(mut self) -> Self {
        self.revoked_by_failure = true;
        self
    }

    fn journal(&self, fake: &Arc<FakeAtlassian>) -> ArmingJournal {
        let arm = self.armed_at.map(|step| {
            let (fake, route, fault) = (Arc::clone(fake), self.route, (self.fault)());
            let fire: Box<dyn FnOnce() + Send> = Box::new(move || fake.fault(route, fault));
            (step, fire)
        });
        ArmingJournal::new(arm)
    }
}

/// Enough uses that retries (and the other rules of a bulk step) cannot outlast the fault.
const PERSISTENT: u32 = 100;

fn retried_503() -> Fault {
    Fault::status(503).retry_after(2).times(PERSISTENT)
}

/// Applied by the server, but the response never arrives.
fn lost_response() -> Fault {
    Fault::drop_connection().after_applying().times(PERSISTENT)
}

fn slow() -> Fault {
    Fault::latency(Duration::from_secs(40)).times(PERSISTENT)
}

/// Checks the state after a failed run; `Err` says what is wrong.
fn check_failed<C>(
    row: &Row,
    result: &Result<RotationReport, rotate::RotationError<C>>,
    entry: Option<&JournalEntry>,
) -> Result<(), String> {
    let Err(failure) = result else {
        return Err("the run succeeded despite the fault".into());
    };
    let text = failure.to_string();
    if !text.contains(ID) {
        return Err(format!("the error does not name the rotation: {text}"));
    }
    if failure.unjournaled.is_some() {
        return Err("a credential was returned unjournaled".into());
    }
    let step = entry.map(|e| e.step);
    if step != row.journaled {
        return Err(format!(
            "journal at {step:?}, expected {:?} ({text})",
            row.journaled
        ));
    }
    if step.is_some_and(|s| s >= Step::Regenerated) && !text.contains("run again to resume") {
        return Err(format!("the error does not say to resume: {text}"));
    }
    Ok(())
}

/// Runs `rotator` under the row's fault, checks the journal and `after_failure` (given the
/// journaled credential), clears the fault and resumes: the resume must complete from the
/// journaled step.
async fn fail_then_resume<R: Rotator>(
    row: &Row,
    fake: &Arc<FakeAtlassian>,
    rotator: &R,
    after_failure: impl FnOnce(Option<R::Credential>) -> Result<(), String>,
) -> Result<(), String> {
    let journal = row.journal(fake);
    if row.armed_at.is_none() {
        fake.fault(row.route, (row.fault)());
    }
    let failed = rotate::rotate(rotator, &journal, RotateOptions::new(ID)).await;
    let entry = journal.load(ID).await.unwrap();
    check_failed(row, &failed, entry.as_ref())?;
    let credential = match &entry {
        Some(entry) if entry.step >= Step::Regenerated => {
            Some(entry.credential().ok_or("no credential journaled")?)
        }
        _ => None,
    };
    after_failure(credential)?;

    fake.clear_faults();
    let mut options = RotateOptions::new(ID);
    if row.journaled == Some(Step::Started) {
        // A mint whose outcome is unknown is not repeated unasked...
        match rotate::rotate(rotator, &journal, RotateOptions::new(ID)).await {
            Err(e) if e.to_string().contains("outcome is unknown") => {}
            other => return Err(format!("an unasked remint: {:?}", other.map(|r| r.steps))),
        }
        // ...only when the caller says the first attempt's credential is lost.
        options = options.remint_after_unknown(true);
    }
    let report = rotate::rotate(rotator, &journal, options)
        .await
        .map_err(|e| format!("the resume failed: {e}"))?;
    let resumed_from = row.journaled.filter(|s| *s >= Step::Regenerated);
    if !report.succeeded() || report.resumed_from != resumed_from {
        return Err(format!("resume report: {report:?}"));
    }
    Ok(())
}

/// Plays every row, reporting all failures at once.
async fn play<F: Future<Output = Result<(), String>>>(rows: &[Row], run: impl Fn(Row) -> F) {
    let mut failures = Vec::new();
    for row in rows {
        if let Err(why) = run(*row).await {
            failures.push(format!("{}: {why}", row.name));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

async fn tunnel_row(row: Row) -> Result<(), String> {
    let w = rotation_world(12).await;
    let rotator = w.tunnel_rotator(options());
    let regenerates = || w.fake.request_count(Route::AdminRegenerate);
    fail_then_resume(&row, &w.fake, &rotator, |journaled: Option<TunnelKey>| {
        if regenerates() != 1 {
            return Err("the failed run sent the regenerate more than once".into());
        }
        match journaled {
            Some(key) if Some(&key) != w.fake.tunnel_key(&w.tunnel.hostname).as_ref() => {
                Err("the journaled key is not the key the fake minted".into())
            }
            _ => Ok(()),
        }
    })
    .await?;
    // No credential journaled means nothing to resume: only then is a second regenerate right.
    let expected = 1 + usize::from(row.journaled.is_none_or(|s| s < Step::Regenerated));
    if regenerates() != expected {
        return Err(format!(
            "{} regenerates in all, expected {expected}",
            regenerates()
        ));
    }
    if w.fake.tunnel_status(&w.tunnel.hostname) != Some(TunnelStatus::Connected) {
        return Err("the tunnel is not connected after the resume".into());
    }
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn a_tunnel_rotation_survives_a_fault_at_every_step() {
    let rows = [
        // A 503 to a write, like a lost answer, may follow a mint: the attempt stays journaled.
        row("regenerate refused", Route::AdminRegenerate, retried_503)
            .journaled(Some(Step::Started)),
        row("regenerate lost", Route::AdminRegenerate, lost_response)
            .journaled(Some(Step::Started)),
        row("install 503", Route::InstallTunnelKey, retried_503),
        row("install timeout", Route::InstallTunnelKey, slow),
        row("install lost", Route::InstallTunnelKey, lost_response),
        // A failed verify steps the journal back, so the resume installs again, then verifies.
        row("probe 503", Route::TunnelProbe, || {
            Fault::status(503).times(PERSISTENT)
        }),
    ];
    play(&rows, tunnel_row).await;
}

/// A world, a rotator for it, and how often the rotator asked for the new token.
async fn token_world() -> (RotationWorld, AutomationTokenRotator, Arc<AtomicUsize>) {
    let w = rotation_world(12).await;
    let sourced = Arc::new(AtomicUsize::new(0));
    let (count, token) = (Arc::clone(&sourced), w.new.token().clone());
    let source = move || {
        count.fetch_add(1, Ordering::SeqCst);
        let token = token.clone();
        async move { Ok::<_, atlassian_rotation::Error>(token) }
    };
    let rotator = w.token_rotator(options(), source);
    (w, rotator, sourced)
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

async fn token_row(row: Row) -> Result<(), String> {
    let (w, rotator, sourced) = token_world().await;
    fail_then_resume(&row, &w.fake, &rotator, |journaled: Option<ApiToken>| {
        if journaled.is_some_and(|t| t.expose_secret() != w.new.token().expose_secret()) {
            return Err("the journal holds another token than the new one".into());
        }
        if w.fake.token_is_live(w.old.token()) == row.revoked_by_failure {
            let live = !row.revoked_by_failure;
            return Err(format!("old token live: {}, expected {live}", !live));
        }
        if !w.fake.token_is_live(w.new.token()) {
            return Err("the new token was revoked".into());
        }
        Ok(())
    })
    .await?;
    // Once by the failed run, once by the resume: to regenerate, or to prove it is handed the
    // journaled token (a different one is refused). The report's `resumed_from` shows no
    // second regenerate ran.
    let sourced = sourced.load(Ordering::SeqCst);
    let expected = 2;
    if sourced != expected {
        return Err(format!(
            "the new token was asked for {sourced} times, expected {expected}"
        ));
    }
    if !w.fake.rules_holding(&w.old).is_empty() {
        return Err("rules still hold the old token".into());
    }
    if sorted(w.fake.rules_holding(&w.new)) != w.holding {
        return Err("the new token is not in exactly the rules that held the old one".into());
    }
    if w.fake.token_is_live(w.old.token()) {
        return Err("the old token was not revoked in the end".into());
    }
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn an_automation_token_rotation_survives_a_fault_at_every_step() {
    let none = None;
    let regenerated = Some(Step::Regenerated);
    let verified = Some(Step::Verified);
    let rows = [
        row("identity check 503", Route::JiraMyself, retried_503).journaled(none),
        row("identity check timeout", Route::JiraMyself, slow).journaled(none),
        // The revocation pre-flight reads every rule before anything changes.
        row(
            "pre-flight summaries 503",
            Route::RuleSummaries,
            retried_503,
        )
        .journaled(none),
        row("pre-flight token list 503", Route::UserTokens, retried_503).journaled(none),
        row("pre-flight rule GET 500", Route::RuleGet, || {
            Fault::status(500).times(3)
        })
        .journaled(none),
        row("summaries 503", Route::RuleSummaries, retried_503).armed_at(Step::Regenerated),
        row(
            "summaries malformed",
            Route::RuleSummaries,
            Fault::malformed_json,
        )
        .armed_at(Step::Regenerated),
        row("rule GET 500", Route::RuleGet, || {
            Fault::status(500).times(3)
        })
        .armed_at(Step::Regenerated),
        row("rule PUT 503", Route::RulePut, retried_503),
        row("rule PUT lost", Route::RulePut, lost_response),
        row("rule PUT timeout", Route::RulePut, slow),
        // A failed verify steps the journal back to regenerated: the resume updates again.
        row("verify identity 503", Route::JiraMyself, retried_503)
            .armed_at(Step::Updated)
            .journaled(regenerated),
        row("verify GET 500", Route::RuleGet, || {
            Fault::status(500).times(3)
        })
        .armed_at(Step::Updated)
        .journaled(regenerated),
        // (A token list that cannot be read after the DELETE is no failure: a 2xx DELETE and
        // then a 401 for the old token are evidence enough.)
        row("revoke 500", Route::RevokeUserToken, || Fault::status(500)).journaled(verified),
        row("revoke lost", Route::RevokeUserToken, lost_response)
            .journaled(verified)
            .revoked_by_failure(),
    ];
    play(&rows, token_row).await;
}

async fn key_row(row: Row) -> Result<(), String> {
    let w = key_world().await;
    let sourced = Arc::new(AtomicUsize::new(0));
    let (count, key) = (Arc::clone(&sourced), w.new.key.clone());
    let source = move || {
        count.fetch_add(1, Ordering::SeqCst);
        let key = key.clone();
        async move { Ok::<_, atlassian_rotation::Error>(key) }
    };
    let dir = tempfile::tempdir().unwrap();
    let env = dir.path().join(".env");
    let line = |key: &AdminApiKey| format!("ADMIN_KEY={}\n", key.expose_secret());
    std::fs::write(&env, line(&w.old.key)).unwrap();
    let live = w.client(&w.old.key, options());
    let rotator = w
        .key_rotator(options(), source)
        .consumer(atlassian_rotation::consumer::FileConsumer::dotenv(
            &env,
            "ADMIN_KEY",
        ))
        .switch_client(live.clone());
    fail_then_resume(&row, &w.fake, &rotator, |journaled: Option<AdminApiKey>| {
        if journaled.is_some_and(|k| k != w.new.key) {
            return Err("the journal holds another key than the new one".into());
        }
        if w.fake.admin_key_is_live(&w.old.key) == row.revoked_by_failure {
            let live = !row.revoked_by_failure;
            return Err(format!("old key live: {}, expected {live}", !live));
        }
        if !w.fake.admin_key_is_live(&w.new.key) {
            return Err("the new key was revoked".into());
        }
        Ok(())
    })
    .await?;
    // Once by the failed run, once by the resume (to regenerate, or to prove it hands over
    // the journaled key).
    let sourced = sourced.load(Ordering::SeqCst);
    if sourced != 2 {
        return Err(format!(
            "the new key was asked for {sourced} times, expected 2"
        ));
    }
    if w.fake.admin_key_is_live(&w.old.key) {
        return Err("the old key was not revoked in the end".into());
    }
    if !w.fake.admin_key_is_live(&w.org.admin_key) {
        return Err("another key of the org was revoked".into());
    }
    if std::fs::read_to_string(&env).unwrap() != line(&w.new.key) {
        return Err("the dotenv line does not hold the new key".into());
    }
    live.check_key(&w.org.id)
        .await
        .map_err(|e| format!("the live client fails after the rotation: {e}"))?;
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn an_admin_key_rotation_survives_a_fault_at_every_step() {
    let none = None;
    let regenerated = Some(Step::Regenerated);
    let verified = Some(Step::Verified);
    let rows = [
        // Regenerate: the new key's check and the key list, before anything changes.
        row("key check 503", Route::AdminOrg, retried_503).journaled(none),
        row("key check timeout", Route::AdminOrg, slow).journaled(none),
        row("key list 503", Route::AdminKeys, retried_503).journaled(none),
        row(
            "key list malformed",
            Route::AdminKeys,
            Fault::malformed_json,
        )
        .journaled(none),
        // Update checks again before it installs anything.
        row("update key list 503", Route::AdminKeys, retried_503).armed_at(Step::Regenerated),
        row("update key check lost", Route::AdminOrg, lost_response).armed_at(Step::Regenerated),
        // A failed verify steps the journal back to regenerated: the resume updates again.
        row("verify key check 503", Route::AdminOrg, retried_503)
            .armed_at(Step::Updated)
            .journaled(regenerated),
        row("revoke 500", Route::RevokeAdminKey, || Fault::status(500)).journaled(verified),
        row("revoke 503", Route::RevokeAdminKey, retried_503).journaled(verified),
        row("revoke timeout", Route::RevokeAdminKey, slow).journaled(verified),
        // The revoke took effect and its answer was lost: the resume proves it from the list.
        row("revoke lost", Route::RevokeAdminKey, lost_response)
            .journaled(verified)
            .revoked_by_failure(),
    ];
    play(&rows, key_row).await;
}
