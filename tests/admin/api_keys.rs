//! The API Access API's Admin API keys: `GET .../api-keys` (every documented filter under its
//! exact name, pages followed), `GET .../api-keys/count`, `PATCH .../api-keys/revoke/{id}`.
//! Paths and methods as DESIGN.md lists them; anything else hits the loud catch-all.

use atlassian_rotation::Error;
use atlassian_rotation::admin::{AdminApiKeyInfo, AdminKeyQuery, DateFilter, KeySort};
use futures::{StreamExt as _, TryStreamExt as _};
use serde_json::json;
use wiremock::matchers::body_json;
use wiremock::{Match, Request, ResponseTemplate};

use crate::support::*;

const KEYS: &str = "/admin/api-access/v1/orgs/org%2F1/api-keys";

fn key(id: &str) -> serde_json::Value {
    json!({
        "id": id,
        "label": format!("label-{id}"),
        "createdAt": "2026-01-01T00:00:00.000Z",
        "lastActiveAt": null,
        "expiresAt": "2026-12-01T00:00:00.000Z",
        "resource": "ari:cloud:platform::org/org-1",
        "orgId": "org/1",
        "createdBy": {"id": "acc-1", "name": "Org Admin", "email": "admin@example.com"},
        "scopes": ["read:keys:admin", "delete:keys:admin"],
        "revokedBy": null,
        "revocationDate": null,
        "systemAccountId": "sys-1",
    })
}

fn page(items: Vec<serde_json::Value>, next: Option<&str>) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "data": items,
        "links": {"self": "ignored", "next": next, "prev": null}
    }))
}

#[tokio::test]
async fn lists_keys_with_every_documented_filter_and_follows_pages() {
    let server = server().await;
    let filters = "q=ci&keyType=SCOPED\
        &expiresAtSearchType=RANGE&expiresAtUom=DAYS&expiresAtValue=30\
        &expiresAtFrom=2026-01-01&expiresAtTo=2026-02-01\
        &expiresAtRangeFrom=2026-01-01T00%3A00%3A00Z&expiresAtRangeTo=2026-03-01T00%3A00%3A00Z\
        &lastActiveAtSearchType=RELATIVE&lastActiveAtUom=DAYS&lastActiveAtValue=90\
        &lastActiveAtFrom=a&lastActiveAtTo=b&lastActiveAtRangeFrom=c&lastActiveAtRangeTo=d\
        &sort=-expiresAt&pageSize=2";
    admin_call("GET", KEYS)
        .and(ExactQuery(Some(filters)))
        .and(NoBody)
        .respond_with(page(vec![key("k1"), key("k2")], Some("?cursor=c2")))
        .expect(1)
        .mount(&server)
        .await;
    admin_call("GET", KEYS)
        .and(ExactQuery(Some("cursor=c2")))
        .respond_with(page(vec![key("k3")], None))
        .expect(1)
        .mount(&server)
        .await;

    let query = AdminKeyQuery::new()
        .q("ci")
        .key_type("SCOPED")
        .sort(KeySort::descending("expiresAt"))
        .page_size(2)
        .expires_at(
            DateFilter::new()
                .search_type("RANGE")
                .uom("DAYS")
                .value(30)
                .from("2026-01-01")
                .to("2026-02-01")
                .range_from("2026-01-01T00:00:00Z")
                .range_to("2026-03-01T00:00:00Z"),
        )
        .last_active_at(
            DateFilter::new()
                .search_type("RELATIVE")
                .uom("DAYS")
                .value(90)
                .from("a")
                .to("b")
                .range_from("c")
                .range_to("d"),
        );
    let keys: Vec<AdminApiKeyInfo> = client(&server)
        .admin_api_keys("org/1", query)
        .try_collect()
        .await
        .unwrap();

    let ids: Vec<_> = keys.iter().map(|k| k.id.as_str()).collect();
    assert_eq!(ids, ["k1", "k2", "k3"]);
    let first = &keys[0];
    assert_eq!(first.scopes, ["read:keys:admin", "delete:keys:admin"]);
    assert_eq!(
        first.created_by.as_ref().unwrap().email.as_deref(),
        Some("admin@example.com")
    );
    assert_eq!(first.extra["systemAccountId"], "sys-1");
    assert!(!first.is_revoked());
}

#[tokio::test]
async fn counts_with_the_filters_only_and_reads_a_bare_number_or_an_object() {
    let server = server().await;
    admin_call("GET", &format!("{KEYS}/count"))
        .and(ExactQuery(Some("q=ci&lastActiveAtUom=DAYS")))
        .and(NoBody)
        .respond_with(ResponseTemplate::new(200).set_body_string("7"))
        .expect(1)
        .mount(&server)
        .await;
    admin_call("GET", &format!("{KEYS}/count"))
        .and(ExactQuery(None))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"count": 9})))
        .expect(1)
        .mount(&server)
        .await;

    let admin = client(&server);
    let filtered = AdminKeyQuery::new()
        .q("ci")
        .last_active_at(DateFilter::new().uom("DAYS"))
        .sort(KeySort::ascending("label"))
        .page_size(5);
    assert_eq!(
        admin.admin_api_key_count("org/1", filtered).await.unwrap(),
        7
    );
    assert_eq!(
        admin
            .admin_api_key_count("org/1", AdminKeyQuery::new())
            .await
            .unwrap(),
        9
    );
}

/// A `Content-Type: application/json` header.
struct JsonBody;

impl Match for JsonBody {
    fn matches(&self, request: &Request) -> bool {
        request
            .headers
            .get("content-type")
            .is_some_and(|v| v == "application/json")
    }
}

#[tokio::test]
async fn revokes_with_a_patch_of_an_empty_object_to_the_escaped_id() {
    let server = server().await;
    admin_call("PATCH", &format!("{KEYS}/revoke/key%2F7"))
        .and(ExactQuery(None))
        .and(JsonBody)
        .and(body_json(json!({})))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;

    client(&server)
        .revoke_admin_api_key("org/1", "key/7")
        .await
        .unwrap();
}

#[tokio::test]
async fn a_revoke_whose_answer_was_lost_counts_as_done_on_the_retry_that_finds_it_gone() {
    let server = server().await;
    admin_call("PATCH", &format!("{KEYS}/revoke/k1"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    admin_call("PATCH", &format!("{KEYS}/revoke/k1"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({"code": 404})))
        // The retry below, then the first attempt of the second call.
        .expect(2)
        .mount(&server)
        .await;

    client_with(&server, quick_retries())
        .revoke_admin_api_key("org/1", "k1")
        .await
        .unwrap();

    // A first-attempt 404 is no such key: an error.
    let err = client(&server)
        .revoke_admin_api_key("org/1", "k1")
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err}");
}

#[tokio::test]
async fn bad_ids_and_filters_are_refused_before_any_request() {
    let server = server().await;
    let admin = client(&server);
    for (org, query) in [
        ("..", AdminKeyQuery::new()),
        ("", AdminKeyQuery::new()),
        ("o", AdminKeyQuery::new().page_size(0)),
        ("o", AdminKeyQuery::new().sort(KeySort::ascending(""))),
    ] {
        let items: Vec<_> = admin.admin_api_keys(org, query.clone()).collect().await;
        assert!(
            matches!(items.as_slice(), [Err(Error::InvalidInput { .. })]),
            "{items:?}"
        );
    }
    let err = admin.revoke_admin_api_key("o", ".").await.unwrap_err();
    assert!(matches!(err, Error::InvalidInput { .. }), "{err}");
    let err = admin
        .admin_api_key_count("..", AdminKeyQuery::new())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidInput { .. }), "{err}");
}

#[tokio::test]
async fn a_sparse_key_decodes_and_a_bad_one_names_its_path() {
    let server = server().await;
    admin_call("GET", "/admin/api-access/v1/orgs/o/api-keys")
        .and(ExactQuery(None))
        .respond_with(page(vec![json!({"id": "bare", "scopes": null})], None))
        .expect(1)
        .mount(&server)
        .await;
    admin_call("GET", "/admin/api-access/v1/orgs/p/api-keys")
        .and(ExactQuery(None))
        .respond_with(page(
            vec![json!({"id": "k"}), json!({"label": "no id"})],
            None,
        ))
        .expect(1)
        .mount(&server)
        .await;

    let admin = client(&server);
    let sparse: Vec<AdminApiKeyInfo> = admin
        .admin_api_keys("o", AdminKeyQuery::new())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(sparse[0].id, "bare");
    assert!(sparse[0].scopes.is_empty() && sparse[0].expires_at.is_none());

    let items: Vec<_> = admin
        .admin_api_keys("p", AdminKeyQuery::new())
        .collect()
        .await;
    match items.as_slice() {
        [Err(Error::Decode { path, .. })] => assert!(path.starts_with("data[1]"), "{path}"),
        other => panic!("{other:?}"),
    }
}
