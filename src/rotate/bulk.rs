//! Visiting every automation rule with bounded, rate-limit-aware concurrency: the one bulk path
//! that the token rotation's update, verify, plan and rollback share.

use std::future::Future;
use std::sync::{Arc, Mutex};

use futures::{FutureExt as _, StreamExt as _, TryStreamExt as _};
use serde::Serialize;
use tokio::sync::Notify;

use crate::automation::{AutomationClient, RuleSummary};
use crate::error::{Error, Result};

/// Where a bulk pass is, reported after each rule.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Progress {
    /// The phase: `update`, `verify` or `plan`.
    pub phase: &'static str,
    /// Rules visited so far.
    pub scanned: usize,
    /// Rules that use the token (old or new) so far.
    pub matched: usize,
    /// Rules written so far.
    pub written: usize,
    /// Rules that failed or conflicted so far.
    pub problems: usize,
    /// How many rule requests may be in flight now: lowered on rate limits, raised again as
    /// requests succeed, never above the configured concurrency.
    pub concurrency: usize,
}

/// A progress callback.
pub type ProgressFn = Arc<dyn Fn(Progress) + Send + Sync>;

/// Additive-increase, multiplicative-decrease concurrency: halves when the client saw a rate
/// limit since the last completed request (at most once per `limit` completions, so one burst
/// of answers to requests already in flight counts once), grows by one after as many clean
/// completions as the current limit, between 1 and `max`.
pub(crate) struct Limiter {
    state: Mutex<LimiterState>,
    notify: Notify,
}

struct LimiterState {
    limit: usize,
    max: usize,
    in_flight: usize,
    clean_streak: usize,
    seen_429: u64,
    completions: usize,
    last_decrease: Option<usize>,
}

impl Limiter {
    pub(crate) fn new(max: usize, seen_429: u64) -> Self {
        let max = max.max(1);
        Self {
            state: Mutex::new(LimiterState {
                limit: max,
                max,
                in_flight: 0,
                clean_streak: 0,
                seen_429,
                completions: 0,
                last_decrease: None,
            }),
            notify: Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LimiterState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn limit(&self) -> usize {
        self.lock().limit
    }

    pub(crate) async fn acquire(&self) {
        loop {
            // Created before the check, so a release between the check and the await wakes it.
            let notified = self.notify.notified();
            {
                let mut state = self.lock();
                if state.in_flight < state.limit {
                    state.in_flight += 1;
                    return;
                }
            }
            notified.await;
        }
    }

    /// Ends one request; `seen_429` is the client's 429 count now.
    pub(crate) fn release(&self, seen_429: u64) {
        {
            let mut state = self.lock();
            state.in_flight -= 1;
            state.completions += 1;
            if seen_429 > state.seen_429 {
                state.seen_429 = seen_429;
                state.clean_streak = 0;
                let window_over = state
                    .last_decrease
                    .is_none_or(|at| state.completions - at >= state.limit);
                if window_over {
                    state.limit = (state.limit / 2).max(1);
                    state.last_decrease = Some(state.completions);
                    tracing::debug!(limit = state.limit, "rate limited: concurrency lowered");
                }
            } else {
                state.clean_streak += 1;
                if state.clean_streak >= state.limit && state.limit < state.max {
                    state.limit += 1;
                    state.clean_streak = 0;
                }
            }
        }
        self.notify.notify_waiters();
    }
}

/// Streams every rule summary (pages of 100) and runs `visit` on each, with at most
/// `concurrency` in flight (less while the API rate-limits), folding the results with `fold` as
/// they complete.
///
/// Stops at the first error of the summary stream, and at the first rule whose request was
/// still rate-limited after its retries: going on would only hammer a server that said stop.
/// Other errors of `visit` are for `fold` to record.
pub(crate) async fn for_each_rule<U, V, Fut, A>(
    client: &AutomationClient,
    concurrency: usize,
    visit: V,
    init: A,
    mut fold: impl FnMut(&mut A, RuleSummary, Result<U>, usize),
) -> Result<A>
where
    V: Fn(RuleSummary) -> Fut,
    Fut: Future<Output = Result<U>>,
{
    let limiter = Limiter::new(concurrency, client.rate_limit_hits());
    let limiter = &limiter;
    let visit = &visit;
    // Set when a rule was still rate-limited after its retries: no new rule starts, and the
    // ones in flight are drained (a write already sent may have been applied: its outcome is
    // folded like any other).
    let stopped = &std::sync::atomic::AtomicBool::new(false);
    let summaries = client
        .rule_summaries(100)?
        .take_while(|_| std::future::ready(!stopped.load(std::sync::atomic::Ordering::Relaxed)));
    let results = summaries
        .map_ok(|summary| {
            async move {
                limiter.acquire().await;
                let outcome = visit(summary.clone()).await;
                limiter.release(client.rate_limit_hits());
                (summary, outcome)
            }
            .map(Ok::<_, Error>)
        })
        .try_buffer_unordered(concurrency.max(1));
    let mut results = std::pin::pin!(results);
    let mut acc = init;
    let mut rate_limited = None;
    while let Some((summary, outcome)) = results.try_next().await? {
        if let Err(e) = &outcome {
            if e.status() == Some(429) {
                stopped.store(true, std::sync::atomic::Ordering::Relaxed);
                if rate_limited.is_none() {
                    rate_limited = Some(Error::rotation(
                        "bulk",
                        format!(
                            "rate limited on rule {}: {e}; stopping the pass (run again later to finish)",
                            summary.uuid
                        ),
                    ));
                }
                continue;
            }
        }
        fold(&mut acc, summary, outcome, limiter.limit());
    }
    match rate_limited {
        Some(e) => Err(e),
        None => Ok(acc),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_halves_on_rate_limits_and_recovers_one_step_at_a_time() {
        let limiter = Limiter::new(16, 0);
        let run = |seen: u64| {
            limiter.lock().in_flight += 1;
            limiter.release(seen);
        };
        run(1);
        assert_eq!(limiter.limit(), 8);
        run(2);
        assert_eq!(limiter.limit(), 8, "one burst of answers counts once");
        for _ in 0..6 {
            run(2);
        }
        run(3);
        assert_eq!(
            limiter.limit(),
            4,
            "a rate limit after a full window halves again"
        );
        for _ in 0..4 {
            run(3);
        }
        assert_eq!(limiter.limit(), 5, "grows after `limit` clean completions");
        for seen in 4..200 {
            run(seen);
        }
        assert_eq!(limiter.limit(), 1, "never below one");
        for _ in 0..1000 {
            run(199);
        }
        assert_eq!(limiter.limit(), 16, "never above the configured maximum");
    }

    #[tokio::test]
    async fn acquire_waits_for_a_release_when_the_limit_is_reached() {
        let limiter = Arc::new(Limiter::new(1, 0));
        limiter.acquire().await;
        let waiter = {
            let limiter = Arc::clone(&limiter);
            tokio::spawn(async move { limiter.acquire().await })
        };
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        limiter.release(0);
        waiter.await.unwrap();
        assert_eq!(limiter.lock().in_flight, 1);
    }
}
