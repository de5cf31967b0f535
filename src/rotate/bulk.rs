//! Visiting every automation rule with bounded, rate-limit-aware concurrency: the one bulk path
//! that the token rotation's update, verify and plan share with the read-only scans of
//! [`discover`](crate::discover).

use std::collections::VecDeque;
use std::future::Future;
use std::sync::Arc;

use futures::StreamExt as _;
use futures::stream::FuturesUnordered;
use serde::{Deserialize, Serialize};
use tokio::task::JoinSet;
use tracing::Instrument as _;
use tracing::instrument::WithSubscriber as _;

use crate::automation::{AutomationClient, RuleSummary};
use crate::error::{Error, Result};

/// Which bulk pass a [`Progress`] reports on.
///
/// Serialized in snake_case (`"update"`); [`Display`](std::fmt::Display) writes the same word.
///
/// ```
/// use atlassian_rotation::rotate::Phase;
///
/// assert_eq!(Phase::Update.to_string(), "update");
/// assert_eq!(serde_json::to_value(Phase::Scan).unwrap(), "scan");
/// assert_eq!(serde_json::from_value::<Phase>("verify".into()).unwrap(), Phase::Verify);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Phase {
    /// A rotation's dry run ([`AutomationTokenRotator::plan`](super::AutomationTokenRotator::plan)).
    Plan,
    /// A rotation's update step: rules read and rewritten.
    Update,
    /// A rotation's verify step: every rule read again.
    Verify,
    /// A rotation's rollback: rewritten rules restored.
    Rollback,
    /// A read-only scan ([`discover::UsageScan`](crate::discover::UsageScan)).
    Scan,
}

impl Phase {
    /// The snake_case name, as serialized.
    ///
    /// ```
    /// use atlassian_rotation::rotate::Phase;
    /// assert_eq!(Phase::Rollback.as_str(), "rollback");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Plan => "plan",
            Self::Update => "update",
            Self::Verify => "verify",
            Self::Rollback => "rollback",
            Self::Scan => "scan",
        }
    }
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // `pad`, so that `{:<7}` lines progress up.
        f.pad(self.as_str())
    }
}

/// Where a bulk pass is, reported after each rule. Holds no secret; serializable, so a service
/// can pass it on as it comes.
///
/// ```
/// use atlassian_rotation::rotate::{Phase, Progress};
///
/// let progress = Progress::new(Phase::Scan);
/// assert_eq!(progress.scanned, 0);
/// let json = serde_json::to_value(progress).unwrap();
/// assert_eq!(json["phase"], "scan");
/// assert_eq!(serde_json::from_value::<Progress>(json).unwrap(), progress);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Progress {
    /// The pass.
    pub phase: Phase,
    /// Rules visited so far.
    pub scanned: usize,
    /// Rules that use the token (old or new) so far; in an inventory scan, rules that carry a
    /// credential.
    pub matched: usize,
    /// Rules written so far (always 0 for a read-only pass).
    pub written: usize,
    /// Rules that failed or conflicted so far (a scan: rules that could not be read).
    pub problems: usize,
    /// How many rule requests may be in flight now: lowered on rate limits, raised again as
    /// requests succeed, never above the configured concurrency.
    pub concurrency: usize,
}

impl Progress {
    /// The progress of a `phase` that has visited nothing yet (for tests of a progress
    /// callback).
    ///
    /// ```
    /// use atlassian_rotation::rotate::{Phase, Progress};
    /// assert_eq!(Progress::new(Phase::Update).phase, Phase::Update);
    /// ```
    pub fn new(phase: Phase) -> Self {
        Self {
            phase,
            scanned: 0,
            matched: 0,
            written: 0,
            problems: 0,
            concurrency: 0,
        }
    }
}

/// A progress callback.
pub type ProgressFn = Arc<dyn Fn(Progress) + Send + Sync>;

/// Additive-increase, multiplicative-decrease concurrency: halves when the client saw a rate
/// limit since the last completed request (at most once per `limit` completions, so one burst
/// of answers to requests already in flight counts once), grows by one after as many clean
/// completions as the current limit, between 1 and `max`.
pub(crate) struct Limiter {
    limit: usize,
    max: usize,
    clean_streak: usize,
    seen_429: u64,
    completions: usize,
    last_decrease: Option<usize>,
}

impl Limiter {
    pub(crate) fn new(max: usize, seen_429: u64) -> Self {
        let max = max.max(1);
        Self {
            limit: max,
            max,
            clean_streak: 0,
            seen_429,
            completions: 0,
            last_decrease: None,
        }
    }

    /// How many requests may be in flight now.
    pub(crate) fn limit(&self) -> usize {
        self.limit
    }

    /// Records one completed request; `seen_429` is the client's 429 count now.
    pub(crate) fn record(&mut self, seen_429: u64) {
        self.completions += 1;
        if seen_429 > self.seen_429 {
            self.seen_429 = seen_429;
            self.clean_streak = 0;
            let window_over = self
                .last_decrease
                .is_none_or(|at| self.completions - at >= self.limit);
            if window_over {
                self.limit = (self.limit / 2).max(1);
                self.last_decrease = Some(self.completions);
                tracing::debug!(limit = self.limit, "rate limited: concurrency lowered");
            }
        } else {
            self.clean_streak += 1;
            if self.clean_streak >= self.limit && self.limit < self.max {
                self.limit += 1;
                self.clean_streak = 0;
            }
        }
    }
}

/// How many summaries are read ahead of the rules in flight: one page, so that the next page is
/// fetched while the rules of the current one are visited and the pass never drains to wait
/// for it.
const READ_AHEAD: usize = 100;

/// What reading one rule led to: an outcome, or a write for the pass itself to send.
pub(crate) enum Visited<U, J> {
    /// Nothing to write.
    Done(U),
    /// A write, handed to the pass's `write`.
    Write(J),
}

/// The `write` of a pass that never writes.
pub(crate) fn no_writes<U>(never: std::convert::Infallible) -> std::future::Ready<Result<U>> {
    match never {}
}

/// Streams every rule summary (pages of 100, one page read ahead) and visits each, with at most
/// `concurrency` rules in flight (less while the API rate-limits), folding the results with
/// `fold` as they complete.
///
/// A visit is two halves. `read` (reads, parsing, scanning) runs as a task of its own, so that
/// the CPU work of many rules spreads over the runtime's worker threads; `write`, for the rules
/// whose read asked for one, runs inside the pass's own future. Dropping the pass therefore
/// stops every write at once: none is sent after (a spawned task running on another worker
/// would finish its current step first, which for a read costs nothing). Read tasks are
/// aborted on drop, and keep the caller's tracing span and subscriber.
///
/// Stops starting rules at the first error of the summary stream, at the first rule whose
/// request was still rate-limited after its retries (going on would only hammer a server that
/// said stop), and at the first 401 (the client's credentials no longer work: going on would
/// only add failed logins for its account). The rules already in flight are drained first: a write already sent may have
/// been applied, and its outcome is folded like any other; a write not yet sent is dropped.
/// Other errors are for `fold` to record.
pub(crate) async fn for_each_rule<U, J, R, RFut, W, WFut, A>(
    client: &AutomationClient,
    concurrency: usize,
    read: R,
    write: W,
    init: A,
    mut fold: impl FnMut(&mut A, RuleSummary, Result<U>, usize),
) -> Result<A>
where
    R: Fn(RuleSummary) -> RFut,
    RFut: Future<Output = Result<Visited<U, J>>> + Send + 'static,
    U: Send + 'static,
    J: Send + 'static,
    W: Fn(J) -> WFut,
    WFut: Future<Output = Result<U>>,
{
    let mut pass = Settle {
        limiter: Limiter::new(concurrency, client.rate_limit_hits()),
        stopped: None,
        acc: init,
    };
    let mut summaries = client.rule_summaries(100);
    let mut listed = false;
    let mut queued: VecDeque<RuleSummary> = VecDeque::with_capacity(READ_AHEAD);
    let mut reading = JoinSet::new();
    let mut writing = FuturesUnordered::new();
    loop {
        while pass.stopped.is_none() && reading.len() + writing.len() < pass.limiter.limit() {
            let Some(summary) = queued.pop_front() else {
                break;
            };
            let visited = read(summary.clone())
                .in_current_span()
                .with_current_subscriber();
            reading.spawn(async move { (summary, visited.await) });
        }
        let read_ahead = !listed && pass.stopped.is_none() && queued.len() < READ_AHEAD;
        if reading.is_empty() && writing.is_empty() && !read_ahead {
            break;
        }
        tokio::select! {
            Some(joined) = reading.join_next(), if !reading.is_empty() => match joined {
                // The pass is stopping: a write not yet sent is not started.
                Ok((_, Ok(Visited::Write(_)))) if pass.stopped.is_some() => {}
                Ok((summary, Ok(Visited::Write(job)))) => {
                    let written = write(job);
                    writing.push(async move { (summary, written.await) });
                }
                Ok((summary, Ok(Visited::Done(outcome)))) => {
                    pass.settle(client, summary, Ok(outcome), &mut fold);
                }
                Ok((summary, Err(e))) => pass.settle(client, summary, Err(e), &mut fold),
                Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                // Only a runtime shutting down cancels a read: nothing more will run.
                Err(e) => {
                    pass.stopped.get_or_insert_with(|| {
                        Error::rotation("bulk", format!("a rule's read was cancelled: {e}"))
                    });
                }
            },
            Some((summary, outcome)) = writing.next(), if !writing.is_empty() => {
                pass.settle(client, summary, outcome, &mut fold);
            }
            next = summaries.next(), if read_ahead => match next {
                Some(Ok(summary)) => queued.push_back(summary),
                Some(Err(e)) => pass.stopped = Some(e),
                None => listed = true,
            },
        }
    }
    match pass.stopped {
        Some(e) => Err(e),
        None => Ok(pass.acc),
    }
}

/// Where a pass stands as rules complete.
struct Settle<A> {
    limiter: Limiter,
    /// Why no new rule starts: the listing failed, or a rule was still rate-limited.
    stopped: Option<Error>,
    acc: A,
}

impl<A> Settle<A> {
    /// One rule completed with `outcome`: adapt the limit, stop on a rate limit, fold the rest.
    fn settle<U>(
        &mut self,
        client: &AutomationClient,
        summary: RuleSummary,
        outcome: Result<U>,
        fold: &mut impl FnMut(&mut A, RuleSummary, Result<U>, usize),
    ) {
        self.limiter.record(client.rate_limit_hits());
        match outcome {
            Err(e) if e.status() == Some(429) => {
                if self.stopped.is_none() {
                    self.stopped = Some(Error::rotation(
                        "bulk",
                        format!("rate limited: {e}; stopping the pass (run again later to finish)"),
                    ));
                }
            }
            // The credentials were refused (revoked, expired mid-pass): every later request
            // would be one more failed login for the client's account.
            Err(e) if e.status() == Some(401) => {
                self.stopped.get_or_insert(e);
            }
            outcome => fold(&mut self.acc, summary, outcome, self.limiter.limit()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_halves_on_rate_limits_and_recovers_one_step_at_a_time() {
        let mut limiter = Limiter::new(16, 0);
        let mut run = |seen: u64| {
            limiter.record(seen);
            limiter.limit()
        };
        assert_eq!(run(1), 8);
        assert_eq!(run(2), 8, "one burst of answers counts once");
        for _ in 0..6 {
            run(2);
        }
        assert_eq!(run(3), 4, "a rate limit after a full window halves again");
        for _ in 0..3 {
            run(3);
        }
        assert_eq!(run(3), 5, "grows after `limit` clean completions");
        let mut last = 0;
        for seen in 4..200 {
            last = run(seen);
        }
        assert_eq!(last, 1, "never below one");
        for _ in 0..1000 {
            last = run(199);
        }
        assert_eq!(last, 16, "never above the configured maximum");
    }
}
