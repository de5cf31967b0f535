//! Filters for an organization's API token list.

use super::models::OrgTokenStatus;
use crate::error::{Error, Result};

/// Filters for [`AdminClient::org_api_tokens`](crate::AdminClient::org_api_tokens).
///
/// `q`, `status` and `limit` are typed. The API documents more filters (`createdAtSearchType`,
/// `createdAtUom`, `createdAtValue`, `createdAtFrom`, `createdAtTo`, `createdAtRangeFrom`,
/// `createdAtRangeTo`, the same set for `lastActiveAt`, and a sort order) whose semantics it
/// leaves loose; pass those through [`OrgTokenQuery::filter`] under their documented names.
/// The `cursor` parameter belongs to pagination and is refused there.
///
/// ```
/// use atlassian_rotation::admin::{OrgTokenQuery, OrgTokenStatus};
///
/// let query = OrgTokenQuery::new()
///     .q("sync@example.com")
///     .status(OrgTokenStatus::Allowed)
///     .limit(50)
///     .filter("createdAtFrom", "2025-01-01T00:00:00Z");
/// # let _ = query;
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct OrgTokenQuery {
    q: Option<String>,
    status: Option<OrgTokenStatus>,
    limit: Option<u32>,
    filters: Vec<(String, String)>,
}

impl OrgTokenQuery {
    /// No filters: every token of the organization, in the server's page size.
    pub fn new() -> Self {
        Self::default()
    }

    /// Free-text search over the token owner (name or email) and label.
    pub fn q(mut self, text: impl Into<String>) -> Self {
        self.q = Some(text.into());
        self
    }

    /// Only tokens with this status.
    pub fn status(mut self, status: OrgTokenStatus) -> Self {
        self.status = Some(status);
        self
    }

    /// Page size; must be at least 1.
    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Any other documented query parameter, sent as given (repeatable).
    pub fn filter(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.filters.push((name.into(), value.into()));
        self
    }

    /// The query pairs to send, after checking them.
    pub(super) fn pairs(&self) -> Result<Vec<(String, String)>> {
        let mut pairs = Vec::new();
        if let Some(q) = &self.q {
            pairs.push(("q".to_owned(), q.clone()));
        }
        if let Some(status) = &self.status {
            if status.as_str().is_empty() {
                return Err(Error::invalid_input("token status filter", "is empty"));
            }
            pairs.push(("status".to_owned(), status.as_str().to_owned()));
        }
        if let Some(limit) = self.limit {
            if limit == 0 {
                return Err(Error::invalid_input("page limit", "must be at least 1"));
            }
            pairs.push(("limit".to_owned(), limit.to_string()));
        }
        for (name, value) in &self.filters {
            match name.as_str() {
                "" => return Err(Error::invalid_input("query filter name", "is empty")),
                "cursor" => {
                    return Err(Error::invalid_input(
                        "query filter name",
                        "`cursor` is set by pagination, not by a filter",
                    ));
                }
                "q" | "status" | "limit" => {
                    return Err(Error::invalid_input(
                        "query filter name",
                        format!("`{name}` has its own OrgTokenQuery method"),
                    ));
                }
                _ => pairs.push((name.clone(), value.clone())),
            }
        }
        Ok(pairs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_follow_the_builder_and_refuse_pagination_params() {
        let pairs = OrgTokenQuery::new()
            .q("a b")
            .status(OrgTokenStatus::Allowed)
            .limit(2)
            .filter("createdAtFrom", "2025-01-01")
            .pairs()
            .unwrap();
        let names: Vec<_> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
        assert_eq!(
            names,
            [
                "q=a b",
                "status=ALLOWED",
                "limit=2",
                "createdAtFrom=2025-01-01"
            ]
        );
        assert!(OrgTokenQuery::new().filter("cursor", "x").pairs().is_err());
        assert!(OrgTokenQuery::new().filter("limit", "5").pairs().is_err());
        assert!(OrgTokenQuery::new().limit(0).pairs().is_err());
    }
}
