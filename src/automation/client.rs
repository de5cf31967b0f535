//! `AutomationClient`: the Automation REST API (`/rest/v1/rule/...`).

use serde::Serialize;
use url::Url;

use super::builder::AutomationClientBuilder;
use super::model::{RuleDocument, RuleState};
use super::summary::{RuleSummary, SearchRequest, SummaryPage, SummaryResponse};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::secret::ApiCredentials;
use crate::transport::{
    Auth, Call, Idempotency, Page, Paginated, Path, Response, Transport, credential_like_runs,
    next_page_url, paginate,
};

/// The product whose rules the API manages.
///
/// ```
/// use atlassian_rotation::automation::Product;
/// assert_eq!(Product::Confluence.as_str(), "confluence");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Product {
    /// Jira (`jira`).
    Jira,
    /// Confluence (`confluence`).
    Confluence,
}

impl Product {
    /// The path segment for the product.
    ///
    /// ```
    /// use atlassian_rotation::automation::Product;
    /// assert_eq!(Product::Jira.as_str(), "jira");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Jira => "jira",
            Self::Confluence => "confluence",
        }
    }
}

/// A client for the Automation REST API of one site, authenticated with basic
/// `email:api_token` (a classic, unscoped token of a site admin).
///
/// Cheap to clone (clones share the connection pool and the credentials); `Debug` never shows
/// the credentials.
///
/// Built with [`AutomationClient::builder`].
///
/// ```no_run
/// # async fn run() -> atlassian_rotation::Result<()> {
/// use atlassian_rotation::automation::{AutomationClient, Product};
/// use atlassian_rotation::secret::{ApiCredentials, ApiToken};
/// use futures::TryStreamExt as _;
///
/// let creds = ApiCredentials::new("admin@example.com", ApiToken::new("ATATT-secret"));
/// let client = AutomationClient::builder(creds)
///     .cloud(Product::Jira, "4e119cf2-4b83-4195-abdf-d7a2f9bd043d")
///     .build()?;
/// let summaries: Vec<_> = client.rule_summaries(100).try_collect().await?;
/// for summary in &summaries {
///     let doc = client.get_rule(&summary.uuid).await?;
///     println!("{:?} has {} components", doc.rule.name(), doc.rule.walk_components().count());
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct AutomationClient {
    transport: Transport,
}

impl AutomationClient {
    /// Starts building a client that authenticates with `credentials`; say where the
    /// Automation API is with [`cloud`](AutomationClientBuilder::cloud),
    /// [`site`](AutomationClientBuilder::site) or [`base_url`](AutomationClientBuilder::base_url).
    ///
    /// ```
    /// use atlassian_rotation::automation::{AutomationClient, Product};
    /// use atlassian_rotation::secret::{ApiCredentials, ApiToken};
    ///
    /// let creds = ApiCredentials::new("admin@example.com", ApiToken::new("ATATT-secret"));
    /// let client = AutomationClient::builder(creds).cloud(Product::Jira, "c1").build()?;
    /// assert!(!format!("{client:?}").contains("ATATT"));
    /// # Ok::<(), atlassian_rotation::Error>(())
    /// ```
    pub fn builder(credentials: ApiCredentials) -> AutomationClientBuilder {
        AutomationClientBuilder::new(credentials)
    }

    /// A client on `transport`, for the builder.
    pub(super) fn from_transport(transport: Transport) -> Self {
        Self { transport }
    }

    /// The credentials this client sends, to ask who it acts as.
    pub(crate) fn auth(&self) -> Option<crate::transport::Auth> {
        self.transport.auth()
    }

    /// The transport this client and its clones share (a rotation switches its credentials).
    pub(crate) fn transport(&self) -> &Transport {
        &self.transport
    }

    /// The base URL requests go below.
    ///
    /// ```
    /// # use atlassian_rotation::automation::{AutomationClient, Product};
    /// # use atlassian_rotation::secret::{ApiCredentials, ApiToken};
    /// let creds = ApiCredentials::new("a@example.com", ApiToken::new("t"));
    /// let client = AutomationClient::builder(creds).cloud(Product::Jira, "c1").build()?;
    /// assert_eq!(client.base_url().path(), "/automation/public/jira/c1");
    /// # Ok::<(), atlassian_rotation::Error>(())
    /// ```
    pub fn base_url(&self) -> &Url {
        self.transport.base_url()
    }

    /// How many rate-limit answers (`429 Too Many Requests`, and `503` with `Retry-After`, as
    /// Jira sends) this client and its clones have received, retried or not. Bulk work reads it
    /// to back off its concurrency.
    ///
    /// ```
    /// # use atlassian_rotation::automation::AutomationClient;
    /// # use atlassian_rotation::secret::{ApiCredentials, ApiToken};
    /// # let creds = ApiCredentials::new("a@example.com", ApiToken::new("t"));
    /// let client = AutomationClient::builder(creds).base_url("https://example.com/a").build()?;
    /// assert_eq!(client.rate_limit_hits(), 0);
    /// # Ok::<(), atlassian_rotation::Error>(())
    /// ```
    pub fn rate_limit_hits(&self) -> u64 {
        self.transport.rate_limited()
    }

    /// The requests per second this client (and its clones) paces itself at since its first
    /// rate-limit answer; `None` before any. After a 429 (or a 503 with `Retry-After`) every
    /// request starts no sooner than the pace allows: 95% of the rate the server advertises
    /// (`X-RateLimit-FillRate` per `X-RateLimit-Interval-Seconds`, as Atlassian's token
    /// buckets send) or, when it advertises none, 85% of the rate it was seen to accept,
    /// probing 5% higher after each second without a rate limit. A bulk pass then runs at the
    /// budget instead of bursting into it and backing off.
    ///
    /// ```
    /// # use atlassian_rotation::automation::AutomationClient;
    /// # use atlassian_rotation::secret::{ApiCredentials, ApiToken};
    /// # let creds = ApiCredentials::new("a@example.com", ApiToken::new("t"));
    /// let client = AutomationClient::builder(creds).base_url("https://example.com/a").build()?;
    /// assert_eq!(client.paced_rate(), None);
    /// # Ok::<(), atlassian_rotation::Error>(())
    /// ```
    pub fn paced_rate(&self) -> Option<f64> {
        self.transport.paced_rate()
    }

    /// Uses other credentials from the next request on: after a rotation revokes the token this
    /// client was built with. Clones of this client share the change. Fails, changing nothing,
    /// when they cannot travel in a header.
    ///
    /// ```
    /// # use atlassian_rotation::automation::{AutomationClient, Product};
    /// # use atlassian_rotation::secret::{ApiCredentials, ApiToken};
    /// let client = AutomationClient::builder(ApiCredentials::new("a@example.com", ApiToken::new("old")))
    ///     .cloud(Product::Jira, "c1")
    ///     .build()?;
    /// client.set_credentials(ApiCredentials::new("a@example.com", ApiToken::new("new")))?;
    /// # Ok::<(), atlassian_rotation::Error>(())
    /// ```
    pub fn set_credentials(&self, credentials: ApiCredentials) -> Result<()> {
        self.transport
            .set_auth(Auth::Header(credentials.basic_header()?));
        Ok(())
    }

    /// `GET /rest/v1/rule/summary?limit=`: every rule's summary, following `links.next` page
    /// by page (in any of its forms). `limit` is the page size, 1 to 100; anything else is the
    /// listing's first item, an [`Error::InvalidInput`], before any request.
    ///
    /// Cursors expire after about an hour: consume the stream without long pauses.
    ///
    /// ```no_run
    /// # async fn run(client: atlassian_rotation::automation::AutomationClient) -> atlassian_rotation::Result<()> {
    /// use futures::TryStreamExt as _;
    /// let mut summaries = client.rule_summaries(100);
    /// while let Some(summary) = summaries.try_next().await? {
    ///     println!("{} {:?}", summary.uuid, summary.name);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn rule_summaries(&self, limit: u32) -> Paginated<RuleSummary> {
        let call = check_limit(limit)
            .map(|()| Call::get(Path::new("rest/v1/rule/summary")).query("limit", limit));
        paginate::<SummaryResponse>(self.transport.clone(), call, "cursor")
    }

    /// `POST /rest/v1/rule/summary`: one page of the summaries matching `request`.
    ///
    /// The search pages through a `cursor` in the request body (its `links.next` names a GET
    /// query), so this returns one page at a time: pass [`SummaryPage::next_cursor`] to
    /// [`SearchRequest::cursor`] for the next. A `limit` outside 1 to 100 is refused before
    /// sending.
    ///
    /// ```no_run
    /// # async fn run(client: atlassian_rotation::automation::AutomationClient) -> atlassian_rotation::Result<()> {
    /// use atlassian_rotation::automation::{RuleState, SearchRequest};
    ///
    /// let mut request = SearchRequest::new().state(RuleState::Enabled).limit(100);
    /// loop {
    ///     let page = client.search_rule_summaries(&request).await?;
    ///     for summary in &page.summaries {
    ///         println!("{}", summary.uuid);
    ///     }
    ///     match page.next_cursor {
    ///         Some(cursor) => request = request.cursor(cursor),
    ///         None => break,
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn search_rule_summaries(&self, request: &SearchRequest) -> Result<SummaryPage> {
        if let Some(limit) = request.limit {
            check_limit(limit)?;
        }
        let path = Path::new("rest/v1/rule/summary");
        let url = path.join_onto(self.transport.base_url());
        let response: SummaryResponse = self
            .transport
            .json(Call::post_read(path).json(request)?)
            .await?;
        let (summaries, next) = response.into_parts();
        let next_cursor = match next.filter(|l| !l.trim().is_empty()) {
            Some(link) => cursor_of(&url, &link)?,
            None => None,
        };
        if next_cursor.is_some() && next_cursor == request.cursor {
            return Err(Error::RepeatedCursor {
                request: crate::error::RequestInfo::read("POST", "/rest/v1/rule/summary"),
            });
        }
        Ok(SummaryPage {
            summaries,
            next_cursor,
        })
    }

    /// `GET /rest/v1/rule/{ruleUuid}`: the rule and its connections, every field kept.
    ///
    /// The rule holds web-request headers in clear text: treat it as secret material.
    ///
    /// ```no_run
    /// # async fn run(client: atlassian_rotation::automation::AutomationClient) -> atlassian_rotation::Result<()> {
    /// let doc = client.get_rule("0192e5ac-0e25-71de-ba7b-d972e6a2049a").await?;
    /// println!("{:?}", doc.rule.state);
    /// # Ok(()) }
    /// ```
    pub async fn get_rule(&self, rule_uuid: &str) -> Result<RuleDocument> {
        self.transport.json(Call::get(rule_path(rule_uuid)?)).await
    }

    /// `PUT /rest/v1/rule/{ruleUuid}`: replaces the rule with `document`, the shape
    /// [`AutomationClient::get_rule`] returned. Everything the document holds is sent back as it
    /// was read, including the fields this crate does not know.
    ///
    /// Retried like any idempotent write: sending the same document twice has the same effect.
    ///
    /// ```no_run
    /// # async fn run(client: atlassian_rotation::automation::AutomationClient) -> atlassian_rotation::Result<()> {
    /// let uuid = "0192e5ac-0e25-71de-ba7b-d972e6a2049a";
    /// let mut doc = client.get_rule(uuid).await?;
    /// doc.rule.name = atlassian_rotation::automation::Field::from("Renamed".to_owned());
    /// client.update_rule(uuid, &doc).await?;
    /// # Ok(()) }
    /// ```
    pub async fn update_rule(&self, rule_uuid: &str, document: &RuleDocument) -> Result<()> {
        let body = serde_json::to_value(document)
            .map_err(|e| Error::invalid_input("rule document", e.to_string()))?;
        self.update_rule_json(rule_uuid, &body).await
    }

    /// [`get_rule`](Self::get_rule) as raw JSON (`{"rule": {...}, "connections": [...]}`), with
    /// nothing decoded beyond checking that `rule` is an object: for bulk work that scans
    /// thousands of rules and needs only a few typed, at the speed of parsing.
    ///
    /// ```no_run
    /// # async fn run(client: atlassian_rotation::automation::AutomationClient) -> atlassian_rotation::Result<()> {
    /// let doc = client.get_rule_json("0192e5ac-0e25-71de-ba7b-d972e6a2049a").await?;
    /// println!("{}", doc["rule"]["name"]);
    /// # Ok(()) }
    /// ```
    pub async fn get_rule_json(&self, rule_uuid: &str) -> Result<Value> {
        self.read_rule_json(rule_uuid, false).await
    }

    /// [`get_rule_json`](Self::get_rule_json), optionally asking the API to redact secure
    /// values (`?redactSensitiveFields=true`): for read-only inventories that need not see them.
    pub(crate) async fn read_rule_json(&self, rule_uuid: &str, redact: bool) -> Result<Value> {
        self.read_rule_body(rule_uuid, redact).await?.document()
    }

    /// The body of `GET rule`, unparsed: a bulk pass searches its bytes first and parses only
    /// the rules that could hold what it looks for ([`RuleBody::document`] parses).
    pub(crate) async fn read_rule_body(&self, rule_uuid: &str, redact: bool) -> Result<RuleBody> {
        let mut call = Call::get(rule_path(rule_uuid)?);
        if redact {
            call = call.query("redactSensitiveFields", true);
        }
        Ok(RuleBody(self.transport.send(call).await?))
    }

    /// [`update_rule`](Self::update_rule) from raw JSON, as [`get_rule_json`](Self::get_rule_json)
    /// returned it (a document whose `rule` is not an object is refused before sending).
    ///
    /// ```no_run
    /// # async fn run(client: atlassian_rotation::automation::AutomationClient) -> atlassian_rotation::Result<()> {
    /// let uuid = "0192e5ac-0e25-71de-ba7b-d972e6a2049a";
    /// let mut doc = client.get_rule_json(uuid).await?;
    /// doc["rule"]["name"] = "Renamed".into();
    /// client.update_rule_json(uuid, &doc).await?;
    /// # Ok(()) }
    /// ```
    pub async fn update_rule_json(&self, rule_uuid: &str, document: &Value) -> Result<()> {
        self.transport.unit(rule_put(rule_uuid, document)?).await
    }

    /// [`update_rule_json`](Self::update_rule_json), but no attempt that had to wait (for the
    /// pace after a rate limit, or before a retry) starts after `not_after`: `Ok(false)` then,
    /// nothing sent by that attempt (an earlier one may have been applied). `unpaced`: the
    /// first attempt does not wait for the pace (it follows a read that did).
    pub(crate) async fn update_rule_json_until(
        &self,
        rule_uuid: &str,
        document: &Value,
        not_after: tokio::time::Instant,
        unpaced: bool,
    ) -> Result<bool> {
        let call = rule_put(rule_uuid, document)?.not_after(not_after);
        let call = if unpaced { call.unpaced() } else { call };
        Ok(self.transport.send_until(call).await?.is_some())
    }

    /// `PUT /rest/v1/rule/{ruleUuid}/state` with `{"value": "ENABLED"}` or `"DISABLED"`.
    ///
    /// ```no_run
    /// # async fn run(client: atlassian_rotation::automation::AutomationClient) -> atlassian_rotation::Result<()> {
    /// use atlassian_rotation::automation::RuleState;
    /// client.set_rule_state("0192e5ac-0e25-71de-ba7b-d972e6a2049a", RuleState::Disabled).await?;
    /// # Ok(()) }
    /// ```
    pub async fn set_rule_state(&self, rule_uuid: &str, state: RuleState) -> Result<()> {
        #[derive(Serialize)]
        struct StateBody {
            value: RuleState,
        }
        let path = rule_path(rule_uuid)?.lit("state");
        let call = Call::put(path, Idempotency::Idempotent).json(&StateBody { value: state })?;
        self.transport.unit(call).await
    }
}

/// A `GET rule` response whose body is not parsed yet. Holds a rule document, which may hold
/// credentials in clear: no `Debug`, never printed.
pub(crate) struct RuleBody(Response);

impl RuleBody {
    /// The body as received.
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.0.body
    }

    /// When the read was sent (after any wait for the pace or a retry): the rule was as the
    /// body says at some moment after this.
    pub(crate) fn sent(&self) -> tokio::time::Instant {
        self.0.sent
    }

    /// The document parsed (`{"rule": {..}, "connections": [..]}`); [`Error::Decode`] when it is
    /// not JSON or its `rule` is not an object.
    pub(crate) fn document(self) -> Result<Value> {
        let document: Value = self.0.decode()?;
        if !document.get("rule").is_some_and(Value::is_object) {
            return Err(Error::Decode {
                request: Box::new(self.0.info),
                path: "rule".into(),
                message: "expected an object".into(),
                trace_id: self.0.trace_id,
            });
        }
        Ok(document)
    }
}

/// `PUT rule` with `document`, refused before sending when its `rule` is not an object. The
/// rule carries credentials: an error message quoting them back is redacted.
fn rule_put(rule_uuid: &str, document: &Value) -> Result<Call> {
    if !document.get("rule").is_some_and(Value::is_object) {
        return Err(Error::invalid_input(
            "rule document",
            "has no `rule` object",
        ));
    }
    Ok(Call::put(rule_path(rule_uuid)?, Idempotency::Idempotent)
        .json(document)?
        .redacting(credential_like_runs(document)))
}

fn rule_path(rule_uuid: &str) -> Result<Path> {
    Path::new("rest/v1/rule").param("rule uuid", rule_uuid)
}

fn check_limit(limit: u32) -> Result<()> {
    if (1..=100).contains(&limit) {
        Ok(())
    } else {
        Err(Error::invalid_input(
            "page limit",
            format!("{limit} is outside 1..=100"),
        ))
    }
}

/// The `cursor` a `links.next` value carries, whichever form it takes.
fn cursor_of(current: &Url, link: &str) -> Result<Option<String>> {
    let next = next_page_url(current, link, "cursor")?;
    Ok(next
        .query_pairs()
        .find(|(k, _)| k == "cursor")
        .map(|(_, v)| v.into_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_is_found_in_every_link_form() {
        let url = Url::parse("https://h.example/a/rest/v1/rule/summary").unwrap();
        for link in [
            "?cursor=c%2B1&limit=5",
            "https://h.example/a/rest/v1/rule/summary?limit=5&cursor=c%2B1",
            "c+1",
        ] {
            assert_eq!(
                cursor_of(&url, link).unwrap().as_deref(),
                Some("c+1"),
                "{link}"
            );
        }
        assert_eq!(cursor_of(&url, "?limit=5").unwrap(), None);
    }

    #[test]
    fn limits_outside_the_range_are_refused() {
        assert!(check_limit(0).is_err());
        assert!(check_limit(101).is_err());
        assert!(check_limit(1).is_ok() && check_limit(100).is_ok());
    }
}
