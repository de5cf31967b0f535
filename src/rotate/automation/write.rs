//! The write half of an update: keeping the original, comparing again when the read has grown
//! old, and the PUT.

use std::time::Duration;

use super::reader::Write;
use super::{AutomationTokenRotator, Outcome};
use crate::error::Result;

/// How old the read behind a write may be before the update reads the rule again and compares
/// (compare-before-write): one second.
///
/// A rule is read, scanned, rewritten and written in one go: the write normally leaves a few
/// milliseconds after the read's answer came back, so a second read right before it would
/// narrow a window no wider than its own round trip, at the cost of one more request per
/// rewritten rule. A read that waited (a pass slowed down by rate limits, retries or a long
/// queue of writes) is read again and the rule is skipped as a conflict if it changed since.
/// The age counts from when the read was *sent*, so a slow answer counts as old.
///
/// What is protected: an edit saved more than `FRESH_READ` before the write is never
/// overwritten. What is not (with or without the re-read, as the Automation API has no ETag or
/// conditional write): an edit saved within the last round trip before the PUT, that is
/// between the (re-)read and the write.
///
/// ```
/// use std::time::Duration;
/// use atlassian_rotation::rotate::FRESH_READ;
///
/// assert_eq!(FRESH_READ, Duration::from_secs(1));
/// ```
pub const FRESH_READ: Duration = Duration::from_secs(1);

impl AutomationTokenRotator {
    /// Reads at least `age` old are read again and compared right before their write (default
    /// [`FRESH_READ`]); `Duration::ZERO` compares before every write, at the cost of one more
    /// request per rewritten rule.
    ///
    /// Either way the window in which someone else's edit can be overwritten is one round
    /// trip: the time between the read the write compares against and the write. Lowering
    /// this only moves that window from the pass's own read to the extra one; it matters when
    /// reads can wait long before their write (see [`FRESH_READ`]).
    ///
    /// ```
    /// # use atlassian_rotation::AutomationClient;
    /// # use atlassian_rotation::rotate::AutomationTokenRotator;
    /// # use atlassian_rotation::secret::{ApiCredentials, ApiToken};
    /// use std::time::Duration;
    /// # let creds = ApiCredentials::new("svc@example.com", ApiToken::new("old"));
    /// # let automation = AutomationClient::builder(creds.clone()).base_url("https://example.com/a").build()?;
    /// let always_compare = AutomationTokenRotator::new(automation, "https://example.atlassian.net", creds, ApiToken::new("new"))?
    ///     .reread_older_than(Duration::ZERO);
    /// # let _ = always_compare;
    /// # Ok::<(), atlassian_rotation::Error>(())
    /// ```
    pub fn reread_older_than(mut self, age: Duration) -> Self {
        self.reread_older_than = age;
        self
    }

    /// Sends one rewritten rule: keeps its original first (a write whose answer is lost may
    /// still have been applied), then, when the read behind it has grown old (see
    /// [`FRESH_READ`]), reads the rule again and writes only if it is still exactly as the pass
    /// read it. Either way the last read is the last thing before the PUT, so an edit is
    /// overwritten only when it lands within that one round trip (the API has no ETag).
    pub(super) async fn write_rule(&self, write: Write) -> Result<Outcome> {
        self.originals
            .keep(&write.uuid, &write.original, &write.document["rule"])
            .await?;
        if write.read_at.elapsed() >= self.reread_older_than {
            let current = self.automation.get_rule_json(&write.uuid).await?;
            // As values (key order aside), parsed back from the bytes only now: a re-read is
            // the rare case.
            let original: serde_json::Value = serde_json::from_slice(&write.original)
                .map_err(|e| crate::error::Error::rotation("update", e.to_string()))?;
            // The whole document: the PUT sends its connections back too.
            if current != original {
                if let Err(e) = self.originals.forget(&write.uuid).await {
                    tracing::warn!(error = %e, "an unused original could not be forgotten");
                }
                return Ok(Outcome::Conflict);
            }
        }
        self.automation
            .update_rule_json(&write.uuid, &write.document)
            .await?;
        Ok(Outcome::Rewritten {
            disabled: write.disabled,
        })
    }
}
