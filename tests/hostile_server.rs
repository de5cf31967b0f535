//! The transport against a hostile or broken server: rate-limit headers that overflow any clock,
//! listings that never end, and error bodies that quote secrets back across the size cap.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use atlassian_rotation::automation::AutomationClient;
use atlassian_rotation::error::PaginationLimit;
use atlassian_rotation::secret::{ApiCredentials, ApiToken};
use atlassian_rotation::testing::{FakeAtlassian, Fault, Route};
use atlassian_rotation::{AdminClient, ClientOptions, Error, RetryPolicy};
use futures::StreamExt as _;
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

mod support;
use support::{TOKEN, creds};

const PREFIX: &str = "/automation/public/jira/cloud-1";
const SUMMARY: &str = "/automation/public/jira/cloud-1/rest/v1/rule/summary";

fn automation(server: &MockServer, options: ClientOptions) -> AutomationClient {
    AutomationClient::builder(creds())
        .base_url(format!("{}{PREFIX}", server.uri()))
        .options(options)
        .build()
        .unwrap()
}

/// A request that must not hang: a regression that waits on a hostile header fails here.
async fn bounded<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(20), future)
        .await
        .expect("the client waited on a hostile header instead of giving up")
}

// ---- 10. rate-limit headers that overflow any clock --------------------------------------------

#[tokio::test]
async fn overflowing_rate_limit_headers_give_a_typed_error_not_a_panic() {
    let cap = Some(RetryPolicy::MAX_SERVER_WAIT);
    for (headers, hint) in [
        (
            &[
                ("X-RateLimit-Reset", "18446744073709551615"),
                ("Retry-After", "99999999999999999999"),
            ][..],
            cap,
        ),
        (&[("Retry-After", "18446744073709551615")], cap),
        (&[("X-RateLimit-Reset", "18446744073709551615")], cap),
        (&[("Retry-After", "Fri, 31 Dec 9999 23:59:59 GMT")], cap),
        (&[("X-RateLimit-Reset", "9999-12-31T23:59:59Z")], cap),
        // Unparseable: ignored, so the policy's own backoff applies.
        (&[("X-RateLimit-Reset", "+999999-12-31T23:59:59Z")], None),
        (&[("Retry-After", "-1")], None),
    ] {
        let server = MockServer::start().await;
        let mut limited = ResponseTemplate::new(429);
        for (name, value) in headers {
            limited = limited.insert_header(*name, *value);
        }
        Mock::given(method("GET"))
            .respond_with(limited)
            .mount(&server)
            .await;
        let quick =
            RetryPolicy::default().backoff(Duration::from_millis(1), Duration::from_millis(5));
        let client = automation(&server, ClientOptions::new().retry_policy(quick));
        let err = bounded(client.get_rule("r1")).await.unwrap_err();
        let Error::Api(api) = &err else {
            panic!("{headers:?}: {err:?}")
        };
        assert_eq!(api.status, 429, "{headers:?}");
        assert_eq!(err.retry_after(), hint, "{headers:?}");
        if hint.is_some() {
            assert_eq!(
                err.attempts(),
                1,
                "{headers:?}: no wait past the deadline is started"
            );
        }
    }
}

/// With a deadline long enough, the hint is honoured capped at `MAX_SERVER_WAIT`, on the tokio
/// clock (paused, so the day passes at once).
#[tokio::test(start_paused = true)]
async fn an_overflowing_hint_is_waited_capped_when_the_deadline_allows() {
    let fake = FakeAtlassian::start().await;
    let org = fake.add_org("Example Org");
    fake.fault(
        Route::AdminOrg,
        Fault::status(429)
            .header("X-RateLimit-Reset", "18446744073709551615")
            .header("Retry-After", "99999999999999999999"),
    );
    let policy = RetryPolicy::default().deadline(Duration::from_secs(3 * 86_400));
    let admin = AdminClient::builder(org.admin_key.clone())
        .base_url(fake.admin_base())
        .options(ClientOptions::new().retry_policy(policy))
        .build()
        .unwrap();
    let started = tokio::time::Instant::now();
    admin.check_key(&org.id).await.unwrap();
    let waited = started.elapsed();
    assert!(
        waited >= RetryPolicy::MAX_SERVER_WAIT
            && waited < RetryPolicy::MAX_SERVER_WAIT + Duration::from_secs(60),
        "{waited:?}"
    );
    assert_eq!(fake.request_count(Route::AdminOrg), 2);
}

// ---- 11. listings that never end ----------------------------------------------------------------

/// Answers every page of the summary listing with `items(n)` and a fresh cursor; past
/// `give_up` requests it answers 500, so a client that would follow forever fails instead of
/// hanging.
struct Endless {
    served: Arc<AtomicUsize>,
    items: fn(usize) -> Vec<serde_json::Value>,
    give_up: usize,
}

impl Respond for Endless {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let n = self.served.fetch_add(1, Ordering::SeqCst) + 1;
        if n > self.give_up {
            return ResponseTemplate::new(500).set_body_string("followed forever");
        }
        ResponseTemplate::new(200).set_body_json(json!({
            "data": (self.items)(n),
            "links": {"next": format!("?cursor=c{n}&limit=100")}
        }))
    }
}

fn summary(uuid: &str) -> serde_json::Value {
    json!({"uuid": uuid, "name": format!("rule {uuid}"), "state": "ENABLED"})
}

async fn list(
    items: fn(usize) -> Vec<serde_json::Value>,
    options: ClientOptions,
) -> (Vec<Result<String, Error>>, usize) {
    let server = MockServer::start().await;
    let served = Arc::new(AtomicUsize::new(0));
    Mock::given(method("GET"))
        .and(path(SUMMARY))
        .respond_with(Endless {
            served: served.clone(),
            items,
            give_up: 500,
        })
        .mount(&server)
        .await;
    let client = automation(&server, options.retry_policy(RetryPolicy::none()));
    let got = bounded(
        client
            .rule_summaries(100)
            .map(|r| r.map(|s| s.uuid))
            .collect::<Vec<_>>(),
    )
    .await;
    (got, served.load(Ordering::SeqCst))
}

fn limit_of(result: &Result<String, Error>) -> PaginationLimit {
    match result {
        Err(Error::PaginationLimit { request, limit }) => {
            assert_eq!(request.template, "/rest/v1/rule/summary");
            *limit
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn empty_pages_with_fresh_cursors_stop_after_ten() {
    let (got, served) = list(|_| Vec::new(), ClientOptions::new()).await;
    assert_eq!(served, 10);
    assert_eq!(got.len(), 1);
    assert_eq!(limit_of(&got[0]), PaginationLimit::NoProgress { pages: 10 });
    let message = got[0].as_ref().unwrap_err().to_string();
    assert!(
        message.contains("GET /rest/v1/rule/summary") && message.contains("10 consecutive pages"),
        "{message}"
    );
}

#[tokio::test]
async fn pages_repeating_the_same_items_count_as_empty() {
    let (got, served) = list(
        |_| vec![summary("r1"), summary("r2")],
        ClientOptions::new().max_empty_pages(3),
    )
    .await;
    // The first page brings r1 and r2, the next three nothing new.
    assert_eq!(served, 4);
    let ids: Vec<_> = got.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(ids.len(), 8, "what the server sent is yielded: {ids:?}");
    assert_eq!(
        limit_of(got.last().unwrap()),
        PaginationLimit::NoProgress { pages: 3 }
    );
}

#[tokio::test]
async fn one_new_item_per_page_stops_at_the_page_cap() {
    let (got, served) = list(
        |n| vec![summary(&format!("r{n}"))],
        ClientOptions::new().max_pages(7),
    )
    .await;
    assert_eq!(served, 7);
    assert_eq!(
        got.len(),
        8,
        "the items of every fetched page, then the error"
    );
    assert_eq!(got[6].as_ref().unwrap(), "r7");
    assert_eq!(limit_of(&got[7]), PaginationLimit::MaxPages { pages: 7 });
}

/// Answers with a `next` link that is the current page with its query parameters reversed.
struct Reordered(Arc<AtomicUsize>);

impl Respond for Reordered {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let n = self.0.fetch_add(1, Ordering::SeqCst);
        let next = if n == 0 {
            "?cursor=c1&limit=100".to_owned()
        } else {
            let mut pairs: Vec<_> = request.url.query().unwrap_or("").split('&').collect();
            pairs.reverse();
            format!("?{}", pairs.join("&"))
        };
        ResponseTemplate::new(200).set_body_json(json!({
            "data": [summary(&format!("r{n}"))],
            "links": {"next": next}
        }))
    }
}

#[tokio::test]
async fn a_next_link_differing_only_in_query_order_is_a_repeated_cursor() {
    let server = MockServer::start().await;
    let served = Arc::new(AtomicUsize::new(0));
    Mock::given(method("GET"))
        .and(path(SUMMARY))
        .respond_with(Reordered(served.clone()))
        .mount(&server)
        .await;
    let client = automation(&server, ClientOptions::new());
    let got: Vec<_> = bounded(client.rule_summaries(100).collect()).await;
    assert_eq!(
        served.load(Ordering::SeqCst),
        2,
        "the reordered link is not fetched"
    );
    assert!(
        matches!(got.last(), Some(Err(Error::RepeatedCursor { .. }))),
        "{got:?}"
    );
}

#[tokio::test]
async fn a_next_link_to_the_page_itself_is_a_repeated_cursor() {
    let server = MockServer::start().await;
    let full = format!("{}{SUMMARY}?limit=100", server.uri());
    Mock::given(method("GET"))
        .and(path(SUMMARY))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": [summary("r1")],
            "links": {"next": full}
        })))
        .expect(1)
        .mount(&server)
        .await;
    let client = automation(&server, ClientOptions::new());
    let got: Vec<_> = bounded(client.rule_summaries(100).collect()).await;
    assert!(
        matches!(got.last(), Some(Err(Error::RepeatedCursor { .. }))),
        "{got:?}"
    );
}

// ---- 12. secrets quoted back across the error-body cap -------------------------------------------

/// Every 8-character part of `secret` that `text` holds.
fn leaked_parts(text: &str, secret: &str) -> Vec<String> {
    let chars: Vec<char> = secret.chars().collect();
    chars
        .windows(8.min(chars.len()))
        .map(|w| w.iter().collect::<String>())
        .filter(|part| text.contains(part.as_str()))
        .collect()
}

/// An error body of more than 4 KiB whose text holds `quoted` across byte 4096.
fn straddling(quoted: &str) -> String {
    let mut body = String::from("<html><body><p>");
    body.push_str(&"x".repeat(4096 - body.len() - quoted.len() / 2));
    body.push_str(quoted);
    body.push_str(&" lorem ipsum".repeat(400));
    body.push_str("</p></body></html>");
    body
}

#[tokio::test]
async fn a_short_secret_of_a_rule_quoted_across_the_cap_never_shows() {
    const SECRET: &str = "Qw7/Er5=Ty";
    for quoted in [SECRET, r"Qw7\/Er5\u003dTy", "Qw7%2FEr5%3DTy"] {
        let server = MockServer::start().await;
        Mock::given(method("PUT"))
            .respond_with(ResponseTemplate::new(400).set_body_string(straddling(quoted)))
            .expect(1)
            .mount(&server)
            .await;
        let client = automation(&server, ClientOptions::new());
        let rule = json!({"rule": {"components": [{"value": {"headers": [
            {"name": "Authorization", "value": format!("Bearer {SECRET}"), "headerSecure": true}
        ]}}]}});
        let err = client.update_rule_json("r1", &rule).await.unwrap_err();
        assert_eq!(err.status(), Some(400));
        for shown in [err.to_string(), format!("{err:?}")] {
            assert_eq!(
                leaked_parts(&shown, SECRET),
                Vec::<String>::new(),
                "{quoted}"
            );
            assert!(!shown.contains(quoted));
        }
        let debug = format!("{err:?}");
        assert!(
            debug.contains("[red"),
            "{quoted}: redacted, not dropped: {}",
            &debug[debug.len().saturating_sub(300)..]
        );
    }
}

#[tokio::test]
async fn the_callers_token_quoted_across_the_cap_never_shows() {
    let token = TOKEN.replace('-', "/");
    let escaped = token.replace('/', r"\/");
    for quoted in [token.as_str(), escaped.as_str()] {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(403).set_body_string(straddling(quoted)))
            .mount(&server)
            .await;
        let caller = ApiCredentials::new("a@example.com", ApiToken::new(token.clone()));
        let client = AutomationClient::builder(caller)
            .base_url(format!("{}{PREFIX}", server.uri()))
            .build()
            .unwrap();
        let err = client.get_rule("r1").await.unwrap_err();
        for shown in [err.to_string(), format!("{err:?}")] {
            assert_eq!(
                leaked_parts(&shown, &token),
                Vec::<String>::new(),
                "{quoted}"
            );
        }
    }
}
