//! `GET /admin/api-access/v1/orgs/{orgId}/api-tokens`: filters, and pages followed through
//! every `links.next` form.

use std::time::Duration;

use atlassian_rotation::Error;
use atlassian_rotation::admin::{OrgApiToken, OrgTokenQuery, OrgTokenStatus};
use futures::{StreamExt as _, TryStreamExt as _};
use serde_json::json;
use time::macros::datetime;
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::*;

const TOKENS: &str = "/admin/api-access/v1/orgs/org%2F1/api-tokens";

fn token(id: &str, expires: &str) -> serde_json::Value {
    json!({
        "id": id,
        "label": format!("label-{id}"),
        "status": "ALLOWED",
        "createdAt": "2025-01-01T00:00:00.000Z",
        "expiresAt": expires,
        "lastActiveAt": null,
        "user": {"id": format!("acc-{id}"), "orgId": "org/1", "name": "Sync Bot", "email": "sync@example.com"}
    })
}

fn page(items: Vec<serde_json::Value>, next: Option<String>) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "data": items,
        "links": {"self": "ignored", "next": next, "prev": null}
    }))
}

async fn ids(stream: atlassian_rotation::Paginated<OrgApiToken>) -> Vec<String> {
    stream.map_ok(|t| t.id).try_collect().await.unwrap()
}

#[tokio::test]
async fn follows_full_url_query_string_and_bare_cursor_links_with_the_filters() {
    let server = server().await;
    let full_next = format!("{}{TOKENS}?cursor=c2&limit=2", server.uri());
    admin_call("GET", TOKENS)
        .and(ExactQuery(Some(
            "q=sync%40example.com&status=ALLOWED&limit=2&createdAtFrom=2025-01-01",
        )))
        .and(NoBody)
        .respond_with(page(
            vec![
                token("t1", "2026-01-01T00:00:00Z"),
                token("t2", "2027-01-01T00:00:00Z"),
            ],
            Some(full_next),
        ))
        .expect(1)
        .mount(&server)
        .await;
    admin_call("GET", TOKENS)
        .and(ExactQuery(Some("cursor=c2&limit=2")))
        .respond_with(page(
            vec![token("t3", "2026-01-10T00:00:00Z")],
            Some("?cursor=c3&limit=2".into()),
        ))
        .expect(1)
        .mount(&server)
        .await;
    admin_call("GET", TOKENS)
        .and(ExactQuery(Some("cursor=c3&limit=2")))
        .respond_with(page(
            vec![token("t4", "2030-01-01T00:00:00Z")],
            Some("c4/+=".into()),
        ))
        .expect(1)
        .mount(&server)
        .await;
    admin_call("GET", TOKENS)
        .and(ExactQuery(Some("limit=2&cursor=c4%2F%2B%3D")))
        .respond_with(page(vec![token("t5", "2026-01-05T00:00:00Z")], None))
        .expect(1)
        .mount(&server)
        .await;

    let query = OrgTokenQuery::new()
        .q("sync@example.com")
        .status(OrgTokenStatus::Allowed)
        .limit(2)
        .filter("createdAtFrom", "2025-01-01");
    let tokens: Vec<OrgApiToken> = client(&server)
        .org_api_tokens("org/1", query)
        .try_collect()
        .await
        .unwrap();

    let got: Vec<_> = tokens.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(got, ["t1", "t2", "t3", "t4", "t5"]);
    let first = &tokens[0];
    assert_eq!(first.status, Some(OrgTokenStatus::Allowed));
    assert_eq!(first.last_active_at, None);
    let user = first.user.as_ref().unwrap();
    assert_eq!(user.org_id.as_deref(), Some("org/1"));
    assert_eq!(user.email.as_deref(), Some("sync@example.com"));

    // What the token_expiry example does: keep those expiring within 30 days.
    let now = datetime!(2025-12-20 00:00 UTC);
    let soon: Vec<_> = tokens
        .iter()
        .filter(|t| t.expires_within(Duration::from_secs(30 * 86_400), now))
        .map(|t| t.id.as_str())
        .collect();
    assert_eq!(soon, ["t1", "t3", "t5"]);
}

#[tokio::test]
async fn no_filters_send_no_query_and_an_empty_org_ends_the_stream() {
    let server = server().await;
    admin_call("GET", "/admin/api-access/v1/orgs/o/api-tokens")
        .and(ExactQuery(None))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"data": [], "links": {"self": "x"}})),
        )
        .expect(1)
        .mount(&server)
        .await;

    assert!(
        ids(client(&server).org_api_tokens("o", OrgTokenQuery::new()))
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn a_repeated_cursor_stops_the_stream_with_an_error() {
    let server = server().await;
    admin_call("GET", "/admin/api-access/v1/orgs/o/api-tokens")
        .and(ExactQuery(None))
        .respond_with(page(
            vec![token("t1", "2026-01-01T00:00:00Z")],
            Some("?cursor=same".into()),
        ))
        .expect(1)
        .mount(&server)
        .await;
    admin_call("GET", "/admin/api-access/v1/orgs/o/api-tokens")
        .and(ExactQuery(Some("cursor=same")))
        .respond_with(page(
            vec![token("t2", "2026-01-01T00:00:00Z")],
            Some("?cursor=same".into()),
        ))
        .expect(1)
        .mount(&server)
        .await;

    let items: Vec<_> = client(&server)
        .org_api_tokens("o", OrgTokenQuery::new())
        .collect()
        .await;

    // The page that repeats the cursor is fetched (both mocks expect one call), and the stream
    // ends with the error instead of looping.
    assert_eq!(items.len(), 2, "{items:?}");
    assert_eq!(items[0].as_ref().unwrap().id, "t1");
    assert!(
        matches!(items[1], Err(Error::RepeatedCursor { .. })),
        "{:?}",
        items[1]
    );
}

#[tokio::test]
async fn a_next_link_to_another_origin_is_refused_and_never_requested() {
    let elsewhere = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&elsewhere)
        .await;
    let server = server().await;
    admin_call("GET", "/admin/api-access/v1/orgs/o/api-tokens")
        .respond_with(page(
            vec![token("t1", "2026-01-01T00:00:00Z")],
            Some(format!(
                "{}/admin/api-access/v1/orgs/o/api-tokens?cursor=x",
                elsewhere.uri()
            )),
        ))
        .expect(1)
        .mount(&server)
        .await;

    let items: Vec<_> = client(&server)
        .org_api_tokens("o", OrgTokenQuery::new())
        .collect()
        .await;

    assert_eq!(items.len(), 2);
    assert_eq!(items[0].as_ref().unwrap().id, "t1");
    match &items[1] {
        Err(Error::InvalidInput { what, .. }) => assert_eq!(*what, "pagination link"),
        other => panic!("{other:?}"),
    }
    assert!(elsewhere.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn bad_org_ids_and_filters_end_the_stream_before_any_request() {
    let server = server().await;
    let admin = client(&server);
    for (org, query) in [
        ("..", OrgTokenQuery::new()),
        ("", OrgTokenQuery::new()),
        ("o", OrgTokenQuery::new().limit(0)),
        ("o", OrgTokenQuery::new().filter("cursor", "forged")),
    ] {
        let items: Vec<_> = admin.org_api_tokens(org, query).collect().await;
        assert_eq!(items.len(), 1);
        assert!(
            matches!(items[0], Err(Error::InvalidInput { .. })),
            "{:?}",
            items[0]
        );
    }
}

#[tokio::test]
async fn an_error_page_ends_the_stream_with_the_api_error() {
    let server = server().await;
    admin_call("GET", "/admin/api-access/v1/orgs/o/api-tokens")
        .respond_with(
            ResponseTemplate::new(403)
                .insert_header("Atl-Traceid", "tr-403")
                .set_body_json(json!({"code": 403, "message": "Forbidden"})),
        )
        .expect(1)
        .mount(&server)
        .await;

    let items: Vec<_> = client(&server)
        .org_api_tokens("o", OrgTokenQuery::new())
        .collect()
        .await;

    assert_eq!(items.len(), 1);
    let err = items.into_iter().next().unwrap().unwrap_err();
    assert!(err.is_auth_failure());
    assert_eq!(err.trace_id(), Some("tr-403"));
}
