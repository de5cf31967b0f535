//! [`Timestamp`]: an Atlassian timestamp kept as sent, read as an instant, ordered by it.

use std::cmp::Ordering;
use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// A timestamp as Atlassian sent it, kept verbatim so a format change never breaks decoding.
///
/// The Admin APIs document UTC ISO 8601 strings such as `2025-03-19T00:00:00.000Z`;
/// [`Timestamp::parse`] reads RFC 3339 and returns `None` for anything else, and
/// [`Timestamp::as_str`] always gives back the original text.
///
/// Timestamps order chronologically, by the instant they name, not by their text: a `+01:00`
/// offset and a `Z` compare as the instants they are. Two spellings of one instant (with and
/// without milliseconds) order by their text, so the order agrees with `==`, which compares the
/// text (a timestamp stays lossless). A timestamp that does not parse orders after every one
/// that does, and by its text among those: an unreadable expiry is not taken to be the
/// soonest, as [`OrgApiToken::expires_within`](super::OrgApiToken::expires_within) counts a
/// token without a readable expiry as not expiring.
///
/// ```
/// use atlassian_rotation::admin::Timestamp;
///
/// let mut expiries = vec![
///     Timestamp::new("unknown"),
///     Timestamp::new("2025-03-19T00:30:00+01:00"), // 2025-03-18T23:30Z
///     Timestamp::new("2025-03-19T00:00:00Z"),
///     Timestamp::new("2025-01-01T00:00:00.000Z"),
/// ];
/// expiries.sort();
/// let text: Vec<&str> = expiries.iter().map(Timestamp::as_str).collect();
/// assert_eq!(text, [
///     "2025-01-01T00:00:00.000Z",
///     "2025-03-19T00:30:00+01:00",
///     "2025-03-19T00:00:00Z",
///     "unknown",
/// ]);
/// ```
///
/// ```
/// use atlassian_rotation::admin::Timestamp;
/// use time::macros::datetime;
///
/// let at = Timestamp::new("2025-03-19T00:00:00.000Z");
/// assert_eq!(at.parse(), Some(datetime!(2025-03-19 00:00:00 UTC)));
/// assert_eq!(Timestamp::new("19/03/2025").parse(), None);
/// assert_eq!(Timestamp::new("19/03/2025").as_str(), "19/03/2025");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(transparent)]
pub struct Timestamp(String);

impl Timestamp {
    /// Wraps a timestamp string.
    pub fn new(raw: impl Into<String>) -> Self {
        Self(raw.into())
    }

    /// The text as received.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The instant, when the text is RFC 3339; `None` otherwise.
    pub fn parse(&self) -> Option<OffsetDateTime> {
        OffsetDateTime::parse(self.0.trim(), &Rfc3339).ok()
    }

    /// Whether this instant is at or before `now + window`, i.e. it has passed or will pass
    /// within `window`. `None` when the text does not parse, so callers decide what an
    /// unreadable date means.
    ///
    /// ```
    /// use std::time::Duration;
    /// use atlassian_rotation::admin::Timestamp;
    /// use time::macros::datetime;
    ///
    /// let now = datetime!(2025-03-01 00:00:00 UTC);
    /// let at = Timestamp::new("2025-03-19T00:00:00Z");
    /// assert_eq!(at.is_within(Duration::from_secs(30 * 86_400), now), Some(true));
    /// assert_eq!(at.is_within(Duration::from_secs(86_400), now), Some(false));
    /// ```
    pub fn is_within(&self, window: Duration, now: OffsetDateTime) -> Option<bool> {
        let at = self.parse()?;
        Some(match time::Duration::try_from(window) {
            Ok(window) => now.checked_add(window).is_none_or(|limit| at <= limit),
            Err(_) => true,
        })
    }
}

impl Ord for Timestamp {
    fn cmp(&self, other: &Self) -> Ordering {
        // Parsed instants first, unparseable text after; the text breaks ties, so that `Equal`
        // means equal text, as `==` does.
        let key = |t: &Self| {
            let at = t.parse();
            (at.is_none(), at)
        };
        key(self)
            .cmp(&key(other))
            .then_with(|| self.0.cmp(&other.0))
    }
}

impl PartialOrd for Timestamp {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn timestamps_keep_unparseable_text_and_compare_windows() {
        let now = datetime!(2025-03-01 00:00:00 UTC);
        let past = Timestamp::new("2024-01-01T00:00:00+01:00");
        assert_eq!(past.is_within(Duration::ZERO, now), Some(true));
        assert_eq!(Timestamp::new("soon").is_within(Duration::ZERO, now), None);
        assert_eq!(
            Timestamp::new("2099-01-01T00:00:00Z").is_within(Duration::MAX, now),
            Some(true)
        );
    }

    #[test]
    fn order_is_chronological_total_and_agrees_with_equality() {
        let same_instant = [
            Timestamp::new("2025-03-19T00:00:00Z"),
            Timestamp::new("2025-03-19T00:00:00.000Z"),
            Timestamp::new("2025-03-19T01:00:00+01:00"),
        ];
        for a in &same_instant {
            for b in &same_instant {
                assert_eq!(a.cmp(b) == Ordering::Equal, a == b, "{a} vs {b}");
                assert_eq!(a.cmp(b), b.cmp(a).reverse(), "{a} vs {b}");
            }
        }
        let earlier = Timestamp::new("2025-03-18T23:59:59.999Z");
        let garbage = [Timestamp::new(""), Timestamp::new("soon")];
        for t in &same_instant {
            assert!(earlier < *t);
            for g in &garbage {
                assert!(t < g, "{t} sorts before unparseable {g:?}");
            }
        }
        assert!(garbage[0] < garbage[1], "unparseable ones order by text");
        assert_eq!(
            earlier
                .max(Timestamp::new("2024-12-31T23:00:00-02:00"))
                .as_str(),
            "2025-03-18T23:59:59.999Z"
        );
    }
}
