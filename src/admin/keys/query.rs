//! Filters for an organization's Admin API key list and count.

use crate::error::{Error, Result};

/// A date filter of the API Access API: the `...SearchType`, `...Uom`, `...Value`, `...From`,
/// `...To`, `...RangeFrom` and `...RangeTo` parameters of one date field (`expiresAt`,
/// `lastActiveAt`), sent under their documented names with the field's prefix.
///
/// The API documents the parameters but leaves their values loose (a search type, a unit of
/// measure, a number, dates), so the values are sent exactly as given.
///
/// ```
/// use atlassian_rotation::admin::{AdminKeyQuery, DateFilter};
///
/// let query = AdminKeyQuery::new().expires_at(
///     DateFilter::new()
///         .range_from("2026-01-01T00:00:00Z")
///         .range_to("2026-02-01T00:00:00Z"),
/// );
/// assert_eq!(
///     query.to_pairs().unwrap(),
///     [
///         ("expiresAtRangeFrom".to_owned(), "2026-01-01T00:00:00Z".to_owned()),
///         ("expiresAtRangeTo".to_owned(), "2026-02-01T00:00:00Z".to_owned()),
///     ]
/// );
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DateFilter {
    search_type: Option<String>,
    uom: Option<String>,
    value: Option<i64>,
    from: Option<String>,
    to: Option<String>,
    range_from: Option<String>,
    range_to: Option<String>,
}

impl DateFilter {
    /// No condition yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// `...SearchType`: how the other parameters are read.
    pub fn search_type(mut self, search_type: impl Into<String>) -> Self {
        self.search_type = Some(search_type.into());
        self
    }

    /// `...Uom`: the unit of [`value`](Self::value).
    pub fn uom(mut self, unit: impl Into<String>) -> Self {
        self.uom = Some(unit.into());
        self
    }

    /// `...Value`: a number of units.
    pub fn value(mut self, value: i64) -> Self {
        self.value = Some(value);
        self
    }

    /// `...From`.
    pub fn from(mut self, at: impl Into<String>) -> Self {
        self.from = Some(at.into());
        self
    }

    /// `...To`.
    pub fn to(mut self, at: impl Into<String>) -> Self {
        self.to = Some(at.into());
        self
    }

    /// `...RangeFrom`.
    pub fn range_from(mut self, at: impl Into<String>) -> Self {
        self.range_from = Some(at.into());
        self
    }

    /// `...RangeTo`.
    pub fn range_to(mut self, at: impl Into<String>) -> Self {
        self.range_to = Some(at.into());
        self
    }

    /// The pairs of this filter for the field `prefix` (`expiresAt`), in the documented order.
    fn pairs(&self, prefix: &str, out: &mut Vec<(String, String)>) {
        let texts = [
            ("SearchType", &self.search_type),
            ("Uom", &self.uom),
            ("Value", &self.value.map(|v| v.to_string())),
            ("From", &self.from),
            ("To", &self.to),
            ("RangeFrom", &self.range_from),
            ("RangeTo", &self.range_to),
        ];
        for (suffix, value) in texts {
            if let Some(value) = value {
                out.push((format!("{prefix}{suffix}"), value.clone()));
            }
        }
    }
}

/// A sort order of the key list: a field name with the API's `+` (ascending) or `-`
/// (descending) prefix.
///
/// ```
/// use atlassian_rotation::admin::KeySort;
///
/// assert_eq!(KeySort::descending("expiresAt").to_string(), "-expiresAt");
/// assert_eq!(KeySort::ascending("label").to_string(), "+label");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySort {
    field: String,
    descending: bool,
}

impl KeySort {
    /// Ascending by `field` (`createdAt`, `expiresAt`, `lastActiveAt`, `label`, ...).
    pub fn ascending(field: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            descending: false,
        }
    }

    /// Descending by `field`.
    pub fn descending(field: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            descending: true,
        }
    }
}

impl std::fmt::Display for KeySort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sign = if self.descending { '-' } else { '+' };
        write!(f, "{sign}{}", self.field)
    }
}

/// Filters for [`AdminClient::admin_api_keys`](crate::AdminClient::admin_api_keys) and
/// [`AdminClient::admin_api_key_count`](crate::AdminClient::admin_api_key_count): every
/// query parameter the API documents (`q`, `keyType`, `sort`, `pageSize`, and the
/// `expiresAt*` and `lastActiveAt*` families), serialized under its exact name. The `cursor`
/// belongs to pagination. The count takes the filters only (not `sort` nor `pageSize`).
///
/// ```
/// use atlassian_rotation::admin::{AdminKeyQuery, DateFilter, KeySort};
///
/// let query = AdminKeyQuery::new()
///     .q("ci")
///     .key_type("SCOPED")
///     .sort(KeySort::ascending("expiresAt"))
///     .page_size(50)
///     .last_active_at(DateFilter::new().search_type("RELATIVE").uom("DAYS").value(90));
/// let pairs: Vec<String> = query.to_pairs().unwrap().iter().map(|(k, v)| format!("{k}={v}")).collect();
/// assert_eq!(
///     pairs,
///     [
///         "q=ci",
///         "keyType=SCOPED",
///         "lastActiveAtSearchType=RELATIVE",
///         "lastActiveAtUom=DAYS",
///         "lastActiveAtValue=90",
///         "sort=+expiresAt",
///         "pageSize=50",
///     ]
/// );
/// assert!(AdminKeyQuery::new().page_size(0).to_pairs().is_err());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct AdminKeyQuery {
    q: Option<String>,
    key_type: Option<String>,
    sort: Option<KeySort>,
    page_size: Option<u32>,
    expires_at: Option<DateFilter>,
    last_active_at: Option<DateFilter>,
}

impl AdminKeyQuery {
    /// No filters: every key of the organization, in the server's order and page size.
    pub fn new() -> Self {
        Self::default()
    }

    /// `q`: free-text search (label, creator).
    pub fn q(mut self, text: impl Into<String>) -> Self {
        self.q = Some(text.into());
        self
    }

    /// `keyType`, sent as given (the API does not document its values).
    pub fn key_type(mut self, key_type: impl Into<String>) -> Self {
        self.key_type = Some(key_type.into());
        self
    }

    /// `sort`: the order of the list (ignored by the count).
    pub fn sort(mut self, sort: KeySort) -> Self {
        self.sort = Some(sort);
        self
    }

    /// `pageSize`: keys per page, at least 1 (ignored by the count).
    pub fn page_size(mut self, size: u32) -> Self {
        self.page_size = Some(size);
        self
    }

    /// The `expiresAt*` filters.
    pub fn expires_at(mut self, filter: DateFilter) -> Self {
        self.expires_at = Some(filter);
        self
    }

    /// The `lastActiveAt*` filters.
    pub fn last_active_at(mut self, filter: DateFilter) -> Self {
        self.last_active_at = Some(filter);
        self
    }

    /// The query pairs of the list request, after checking them: the filters, then `sort`
    /// and `pageSize`.
    pub fn to_pairs(&self) -> Result<Vec<(String, String)>> {
        let mut pairs = self.filter_pairs()?;
        if let Some(sort) = &self.sort {
            if sort.field.trim().is_empty() {
                return Err(Error::invalid_input("key sort field", "is empty"));
            }
            pairs.push(("sort".to_owned(), sort.to_string()));
        }
        if let Some(size) = self.page_size {
            if size == 0 {
                return Err(Error::invalid_input("page size", "must be at least 1"));
            }
            pairs.push(("pageSize".to_owned(), size.to_string()));
        }
        Ok(pairs)
    }

    /// The query pairs of the count request: the filters only.
    pub(in crate::admin) fn filter_pairs(&self) -> Result<Vec<(String, String)>> {
        let mut pairs = Vec::new();
        if let Some(q) = &self.q {
            pairs.push(("q".to_owned(), q.clone()));
        }
        if let Some(key_type) = &self.key_type {
            if key_type.is_empty() {
                return Err(Error::invalid_input("key type filter", "is empty"));
            }
            pairs.push(("keyType".to_owned(), key_type.clone()));
        }
        if let Some(filter) = &self.expires_at {
            filter.pairs("expiresAt", &mut pairs);
        }
        if let Some(filter) = &self.last_active_at {
            filter.pairs("lastActiveAt", &mut pairs);
        }
        Ok(pairs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_filter_family_member_has_its_documented_name() {
        let every = DateFilter::new()
            .search_type("t")
            .uom("u")
            .value(-3)
            .from("f")
            .to("t2")
            .range_from("rf")
            .range_to("rt");
        let query = AdminKeyQuery::new()
            .expires_at(every.clone())
            .last_active_at(every);
        let names: Vec<String> = query
            .to_pairs()
            .unwrap()
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let mut expected = Vec::new();
        for prefix in ["expiresAt", "lastActiveAt"] {
            for (suffix, value) in [
                ("SearchType", "t"),
                ("Uom", "u"),
                ("Value", "-3"),
                ("From", "f"),
                ("To", "t2"),
                ("RangeFrom", "rf"),
                ("RangeTo", "rt"),
            ] {
                expected.push(format!("{prefix}{suffix}={value}"));
            }
        }
        assert_eq!(names, expected);
    }

    #[test]
    fn the_count_leaves_out_sort_and_page_size_and_bad_input_is_refused() {
        let query = AdminKeyQuery::new()
            .q("x")
            .sort(KeySort::descending("createdAt"))
            .page_size(5);
        assert_eq!(query.filter_pairs().unwrap().len(), 1);
        assert_eq!(query.to_pairs().unwrap().len(), 3);
        assert!(
            AdminKeyQuery::new()
                .sort(KeySort::ascending(" "))
                .to_pairs()
                .is_err()
        );
        assert!(AdminKeyQuery::new().key_type("").to_pairs().is_err());
    }
}
