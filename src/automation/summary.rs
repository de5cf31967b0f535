//! Rule summaries: what `GET` and `POST /rest/v1/rule/summary` list, and the search request.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::model::RuleState;
use crate::transport::Page;

/// A rule summary, as listed by `GET` and `POST /rest/v1/rule/summary`.
///
/// ```
/// use atlassian_rotation::automation::{RuleState, RuleSummary};
///
/// let summary: RuleSummary = serde_json::from_str(
///     r#"{"uuid":"0192e5ac","name":"Rule one","state":"ENABLED","created":1743568964.174,"labels":[]}"#,
/// ).unwrap();
/// assert_eq!(summary.state, Some(RuleState::Enabled));
/// assert_eq!(summary.created, Some(1743568964.174));
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct RuleSummary {
    /// The rule's UUID.
    pub uuid: String,
    /// The rule's name.
    #[serde(default)]
    pub name: Option<String>,
    /// `ENABLED` or `DISABLED`.
    #[serde(default)]
    pub state: Option<RuleState>,
    /// The rule's description.
    #[serde(default)]
    pub description: Option<String>,
    /// The account the rule runs as, when a specific user is set.
    #[serde(default)]
    pub actor_account_id: Option<String>,
    /// The account that wrote the rule.
    #[serde(default)]
    pub author_account_id: Option<String>,
    /// The ARIs of the projects or sites the rule is scoped to.
    #[serde(default, rename = "ruleScopeARIs")]
    pub rule_scope_aris: Option<Vec<String>>,
    /// The ids of the rule's labels.
    #[serde(default)]
    pub labels: Option<Vec<String>>,
    /// When the rule was created (as the API sends it).
    #[serde(default)]
    pub created: Option<f64>,
    /// When the rule was last updated (as the API sends it).
    #[serde(default)]
    pub updated: Option<f64>,
    /// Every other field.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The `links` of a summary page: query strings (`?cursor=..&limit=..`) since August 2025, full
/// URLs before.
#[derive(Debug, Default, Deserialize)]
pub(super) struct Links {
    #[serde(default)]
    next: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(super) struct SummaryResponse {
    data: Vec<RuleSummary>,
    #[serde(default)]
    links: Option<Links>,
}

impl Page for SummaryResponse {
    type Item = RuleSummary;

    fn into_parts(self) -> (Vec<RuleSummary>, Option<String>) {
        (self.data, self.links.and_then(|l| l.next))
    }

    fn item_key(item: &RuleSummary) -> Option<&str> {
        Some(&item.uuid)
    }
}

/// The body of `POST /rest/v1/rule/summary`. The API wants at least one of trigger, state,
/// scope or limit.
///
/// ```
/// use atlassian_rotation::automation::{RuleState, SearchRequest};
///
/// let request = SearchRequest::new().state(RuleState::Enabled).limit(50);
/// assert_eq!(serde_json::to_string(&request).unwrap(), r#"{"state":"ENABLED","limit":50}"#);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct SearchRequest {
    /// The page cursor, from [`SummaryPage::next_cursor`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    /// A trigger type, e.g. `jira.issue.event.trigger:created`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trigger: Option<String>,
    /// Only rules in this state.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<RuleState>,
    /// Only rules scoped to this ARI.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// Only rules written by this account id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// The page size, 1 to 100.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

impl SearchRequest {
    /// An empty search; add criteria with the other methods.
    ///
    /// ```
    /// use atlassian_rotation::automation::SearchRequest;
    /// assert_eq!(serde_json::to_string(&SearchRequest::new()).unwrap(), "{}");
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Continues from a page cursor.
    ///
    /// ```
    /// use atlassian_rotation::automation::SearchRequest;
    /// assert_eq!(SearchRequest::new().cursor("c2").cursor.as_deref(), Some("c2"));
    /// ```
    pub fn cursor(mut self, cursor: impl Into<String>) -> Self {
        self.cursor = Some(cursor.into());
        self
    }

    /// Only rules with this trigger type.
    ///
    /// ```
    /// use atlassian_rotation::automation::SearchRequest;
    /// let request = SearchRequest::new().trigger("jira.manual.trigger.issue");
    /// assert_eq!(serde_json::to_string(&request).unwrap(), r#"{"trigger":"jira.manual.trigger.issue"}"#);
    /// ```
    pub fn trigger(mut self, trigger: impl Into<String>) -> Self {
        self.trigger = Some(trigger.into());
        self
    }

    /// Only rules in this state.
    ///
    /// ```
    /// use atlassian_rotation::automation::{RuleState, SearchRequest};
    /// assert_eq!(SearchRequest::new().state(RuleState::Disabled).state, Some(RuleState::Disabled));
    /// ```
    pub fn state(mut self, state: RuleState) -> Self {
        self.state = Some(state);
        self
    }

    /// Only rules scoped to this ARI.
    ///
    /// ```
    /// use atlassian_rotation::automation::SearchRequest;
    /// let request = SearchRequest::new().scope("ari:cloud:jira:c1:project/10001");
    /// assert_eq!(request.scope.as_deref(), Some("ari:cloud:jira:c1:project/10001"));
    /// ```
    pub fn scope(mut self, ari: impl Into<String>) -> Self {
        self.scope = Some(ari.into());
        self
    }

    /// Only rules written by this account.
    ///
    /// ```
    /// use atlassian_rotation::automation::SearchRequest;
    /// assert_eq!(SearchRequest::new().author("5b10ac8d").author.as_deref(), Some("5b10ac8d"));
    /// ```
    pub fn author(mut self, account_id: impl Into<String>) -> Self {
        self.author = Some(account_id.into());
        self
    }

    /// The page size, 1 to 100 (checked when the search is sent).
    ///
    /// ```
    /// use atlassian_rotation::automation::SearchRequest;
    /// assert_eq!(SearchRequest::new().limit(25).limit, Some(25));
    /// ```
    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = Some(limit);
        self
    }
}

/// One page of a summary search, and the cursor of the next one.
///
/// ```
/// use atlassian_rotation::automation::{SearchRequest, SummaryPage};
///
/// fn next(request: SearchRequest, page: &SummaryPage) -> Option<SearchRequest> {
///     page.next_cursor.clone().map(|c| request.cursor(c))
/// }
/// # let _ = next;
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct SummaryPage {
    /// The summaries on this page.
    pub summaries: Vec<RuleSummary>,
    /// The cursor for the next page, `None` on the last one.
    pub next_cursor: Option<String>,
}
