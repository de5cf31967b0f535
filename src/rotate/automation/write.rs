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

/// How many times a write compares the rule again because its PUT waited past the window,
/// before it leaves the rule as a conflict (a pass paced slower than it can compare and write).
pub(super) const MAX_COMPARES: u32 = 4;

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
    /// overwritten only when it lands within that one round trip (the API has no ETag). A PUT
    /// attempt that would leave more than the window after that read (it waited for the pace
    /// after a rate limit, or to be retried) is not sent: the rule is compared again first.
    pub(super) async fn write_rule(&self, write: Write) -> Result<Outcome> {
        self.originals
            .keep(&write.uuid, &write.original, &write.document["rule"])
            .await?;
        // A PUT that waits (for the pace after a rate limit, or before a retry) past the window
        // is not sent: the rule is compared again first, so no attempt leaves more than the
        // window after the read it was checked against.
        let window = self.reread_older_than.max(FRESH_READ);
        let mut read_at = write.read_at;
        // The original as a value, parsed back from its bytes only for a comparison (the rare
        // case).
        let mut original: Option<serde_json::Value> = None;
        for round in 0..=MAX_COMPARES {
            let reread = round > 0 || read_at.elapsed() >= self.reread_older_than;
            if reread {
                let body = self.automation.read_rule_body(&write.uuid, false).await?;
                let sent = body.sent();
                let current = body.document()?;
                if round > 0 && current == write.document {
                    // An earlier attempt was applied after all.
                    return Ok(Outcome::Rewritten {
                        disabled: write.disabled,
                    });
                }
                let original = match &mut original {
                    Some(original) => original,
                    None => original.insert(
                        serde_json::from_slice(&write.original)
                            .map_err(|e| crate::error::Error::rotation("update", e.to_string()))?,
                    ),
                };
                // The whole document: the PUT sends its connections back too.
                if current != *original {
                    // After an attempt whose answer was lost, the original may still be needed
                    // to roll back: it is forgotten only when no PUT was sent.
                    if round == 0 {
                        if let Err(e) = self.originals.forget(&write.uuid).await {
                            tracing::warn!(error = %e, "an unused original could not be forgotten");
                        }
                    }
                    return Ok(Outcome::Conflict);
                }
                read_at = sent;
            }
            let sent = self
                .automation
                // Right after a read that waited for the pace, the PUT does not wait again
                // (which could outlast the window on every round under a slow pace).
                .update_rule_json_until(&write.uuid, &write.document, read_at + window, reread)
                .await?;
            if sent {
                return Ok(Outcome::Rewritten {
                    disabled: write.disabled,
                });
            }
        }
        // Every attempt waited past the window: left for a rerun, as a rule edited meanwhile.
        Ok(Outcome::Conflict)
    }
}
