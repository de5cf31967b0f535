//! Visiting every automation rule with bounded concurrency: the one bulk path that the token
//! rotation's update, verify, plan and rollback share.

use std::future::Future;
use std::sync::Arc;

use futures::{FutureExt as _, TryStreamExt as _};
use serde::Serialize;

use crate::automation::{AutomationClient, RuleSummary};
use crate::error::Result;

/// Where a bulk pass is, reported after each rule.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Progress {
    /// The phase: `update`, `verify`, `plan` or `rollback`.
    pub phase: &'static str,
    /// Rules visited so far.
    pub scanned: usize,
    /// Rules that use the token (old or new) so far.
    pub matched: usize,
    /// Rules written so far.
    pub written: usize,
    /// Rules that failed or conflicted so far.
    pub problems: usize,
}

/// A progress callback.
pub type ProgressFn = Arc<dyn Fn(Progress) + Send + Sync>;

/// Streams every rule summary (pages of 100) and runs `visit` on each with at most
/// `concurrency` in flight, folding the results with `fold` as they complete. Stops at the first
/// error of the summary stream; errors of `visit` are for `fold` to record.
pub(crate) async fn for_each_rule<T, V, Fut, A>(
    client: &AutomationClient,
    concurrency: usize,
    visit: V,
    init: A,
    mut fold: impl FnMut(&mut A, RuleSummary, T),
) -> Result<A>
where
    V: Fn(RuleSummary) -> Fut,
    Fut: Future<Output = (RuleSummary, T)>,
{
    let summaries = client.rule_summaries(100)?;
    let mut results = summaries
        .map_ok(|summary| visit(summary).map(Ok))
        .try_buffer_unordered(concurrency.max(1));
    let mut acc = init;
    while let Some((summary, outcome)) = results.try_next().await? {
        fold(&mut acc, summary, outcome);
    }
    Ok(acc)
}
