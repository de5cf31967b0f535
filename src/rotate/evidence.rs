//! Concluding "revoked" from evidence, for every credential a rotation revokes.

use std::time::Duration;

use super::Finished;
use crate::error::{Error, Result};

/// What a revoked credential is called, and where it is listed, in the words of reports.
pub(crate) struct Subject {
    /// `token`, `key`.
    pub(crate) credential: &'static str,
    /// `the account's token list`, `the key list`.
    pub(crate) list: &'static str,
}

/// What the credential's list says about it, read after the revoke.
pub(crate) enum Listed {
    /// Listed, and not revoked.
    Live,
    /// Listed as revoked (at this time, when given).
    Revoked(Option<String>),
    /// Not in a list that holds others (the new credential, at least).
    Gone,
    /// The list could not be read, or proves nothing; why, in words.
    Unknown(String),
}

/// Polls briefly for evidence that the old credential is revoked, after this rotation sent the
/// revoke (`revoked_now`: it answered 2xx; otherwise it found the credential already gone).
/// Each round reads the list (`listed`) and, unless the list shows it live, authenticates with
/// the old credential (`old`: its error, `None` when it still works):
///
/// - the old credential still authenticating means not revoked, whatever the list says; a list
///   showing it live means not revoked, whatever the check says;
/// - revoked: the old credential gets 401 and `revoked_now`, or it no longer authenticates and
///   the list shows it revoked or no longer holds it.
///
/// Anything else (a 403, a timeout, a list that cannot be read) is not evidence: after the last
/// round the step fails, and a rerun tries again. `described` says what the revoke did.
pub(crate) async fn prove_revoked<L, LF, O, OF>(
    subject: Subject,
    described: &str,
    revoked_now: bool,
    mut listed: L,
    mut old: O,
) -> Result<Finished>
where
    L: FnMut() -> LF,
    LF: Future<Output = Listed>,
    O: FnMut() -> OF,
    OF: Future<Output = Option<Error>>,
{
    let Subject { credential, list } = subject;
    let mut last = String::from("no answer yet");
    // Revocation can take a moment to reach every node.
    for attempt in 0..5u32 {
        let listed = listed().await;
        if matches!(listed, Listed::Live) {
            // Not revoked, whatever the check would say: the old credential is not used for
            // nothing (a use moves its last activity, which the watch for forgotten consumers
            // reads on the next run).
            last = format!("it is still in {list}, not revoked");
            tokio::time::sleep(Duration::from_millis(200u64 << attempt)).await;
            continue;
        }
        let old_said = old().await;
        let got_401 = old_said.as_ref().is_some_and(|e| e.status() == Some(401));
        let evidence = match (&old_said, &listed) {
            (None, _) | (Some(_), Listed::Live) => None,
            (Some(_), _) if got_401 && revoked_now => {
                Some(format!("the old {credential} now gets 401"))
            }
            (Some(_), Listed::Revoked(Some(at))) => {
                Some(format!("{list} shows it revoked at {at}"))
            }
            (Some(_), Listed::Revoked(None)) => Some(format!("{list} shows it revoked")),
            (Some(_), Listed::Gone) => Some(format!("it is gone from {list}")),
            (Some(_), Listed::Unknown(_)) => None,
        };
        if let Some(evidence) = evidence {
            return Ok(Finished::nothing().retired(format!("{described}; {evidence}")));
        }
        let list_said = match listed {
            Listed::Live => format!("it is still in {list}, not revoked"),
            Listed::Revoked(_) => format!("{list} shows it revoked"),
            Listed::Gone => format!("it is gone from {list}"),
            Listed::Unknown(why) => why,
        };
        last = match old_said {
            None => format!("{list_said}; the old {credential} still authenticates"),
            Some(e) => format!("{list_said}; the old {credential} got {e}"),
        };
        tokio::time::sleep(Duration::from_millis(200u64 << attempt)).await;
    }
    Err(Error::rotation(
        "finish",
        format!("{described}, but revocation is not proven: {last}; run again to check"),
    ))
}
