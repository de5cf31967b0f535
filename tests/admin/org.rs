//! `GET /admin/v1/orgs/{orgId}` as a key check, and the error kinds every call shares, observed
//! through real requests.

use atlassian_rotation::error::ErrorBody;
use atlassian_rotation::secret::AdminApiKey;
use atlassian_rotation::{AdminClient, ClientOptions, Error, RetryPolicy};
use futures::TryStreamExt as _;
use serde_json::json;
use wiremock::matchers::{any, header};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::*;

// Shaped per the organization spec's `Org` schema (OrgModel with relationships and links).
fn org_body() -> serde_json::Value {
    json!({
        "data": {
            "id": "9a1b-org",
            "type": "orgs",
            "attributes": {"name": "Example Corp"},
            "relationships": {
                "domains": {"links": {"related": "https://api.atlassian.com/admin/v1/orgs/9a1b-org/domains"}},
                "users": {"links": {"related": "https://api.atlassian.com/admin/v1/orgs/9a1b-org/users"}}
            },
            "links": {"self": "https://api.atlassian.com/admin/v1/orgs/9a1b-org"}
        },
        "links": {"self": "https://api.atlassian.com/admin/v1/orgs/9a1b-org"}
    })
}

#[tokio::test]
async fn check_key_gets_the_org_and_decodes_id_and_name() {
    let server = server().await;
    admin_call("GET", "/admin/v1/orgs/9a1b-org")
        .and(ExactQuery(None))
        .and(NoBody)
        .respond_with(ResponseTemplate::new(200).set_body_json(org_body()))
        .expect(1)
        .mount(&server)
        .await;

    let org = client(&server).check_key("9a1b-org").await.unwrap();

    assert_eq!(org.id, "9a1b-org");
    assert_eq!(org.name.as_deref(), Some("Example Corp"));
}

#[tokio::test]
async fn a_refused_key_is_an_auth_failure_with_its_trace_id_and_no_key_in_the_message() {
    let server = server().await;
    // The spec's ProxyError shape.
    admin_call("GET", "/admin/v1/orgs/o")
        .respond_with(
            ResponseTemplate::new(401)
                .insert_header("Atl-Traceid", "tr-401")
                .set_body_json(json!({"code": 401, "message": "Unauthorized"})),
        )
        .expect(1)
        .mount(&server)
        .await;

    let err = client(&server).check_key("o").await.unwrap_err();

    assert!(err.is_auth_failure());
    assert!(!err.is_retryable());
    assert_eq!(err.trace_id(), Some("tr-401"));
    let text = format!("{err} {err:?}");
    assert!(text.contains("Unauthorized"), "{text}");
    assert!(!text.contains(KEY), "{text}");
}

#[tokio::test]
async fn user_management_error_bodies_are_parsed() {
    let server = server().await;
    admin_call("GET", "/users/u401/manage/api-tokens")
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({"key": "unauthorized"})))
        .mount(&server)
        .await;
    admin_call("GET", "/users/u403/manage/api-tokens")
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({
            "key": "forbidden.action",
            "context": {"allowed": false, "reason": {"key": "notManaged"}}
        })))
        .mount(&server)
        .await;
    admin_call("GET", "/users/u404/manage/api-tokens")
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({"key": "accountNotFound"})))
        .mount(&server)
        .await;
    admin_call("GET", "/admin/v1/orgs/missing")
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({
            "errors": [{"id": "e-1", "status": "404", "code": "ADMIN-404-2", "title": "Organization not found"}]
        })))
        .mount(&server)
        .await;
    let admin = client(&server);

    let body = |err: Error| match err {
        Error::Api(api) => (api.status, api.body),
        other => panic!("{other:?}"),
    };
    let (status, parsed) = body(
        admin
            .user_api_tokens("u401")
            .try_collect::<Vec<_>>()
            .await
            .unwrap_err(),
    );
    assert_eq!(status, 401);
    assert_eq!(
        parsed,
        ErrorBody::Keyed {
            key: "unauthorized".into(),
            message: None
        }
    );

    let err = admin
        .user_api_tokens("u403")
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    assert!(err.is_auth_failure());
    assert!(err.to_string().contains("forbidden.action"), "{err}");
    assert!(err.to_string().contains("notManaged"), "{err}");

    let err = admin
        .user_api_tokens("u404")
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    assert!(err.is_not_found());
    assert!(err.to_string().contains("accountNotFound"), "{err}");

    let (status, parsed) = body(admin.check_key("missing").await.unwrap_err());
    assert_eq!(status, 404);
    match parsed {
        ErrorBody::Automation(items) => {
            assert_eq!(items[0].code.as_deref(), Some("ADMIN-404-2"));
            assert_eq!(items[0].title.as_deref(), Some("Organization not found"));
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_read_is_retried_on_503_and_succeeds() {
    let server = server().await;
    admin_call("GET", "/admin/v1/orgs/o")
        .respond_with(ResponseTemplate::new(503).insert_header("Atl-Traceid", "tr-1"))
        .up_to_n_times(1)
        .expect(1)
        .with_priority(1)
        .mount(&server)
        .await;
    admin_call("GET", "/admin/v1/orgs/o")
        .respond_with(ResponseTemplate::new(200).set_body_json(org_body()))
        .expect(1)
        .mount(&server)
        .await;

    let org = client_with(&server, quick_retries())
        .check_key("o")
        .await
        .unwrap();
    assert_eq!(org.id, "9a1b-org");
}

#[tokio::test]
async fn a_server_error_keeps_the_trace_id_and_the_attempt_count() {
    let server = server().await;
    admin_call("GET", "/admin/v1/orgs/o")
        .respond_with(
            ResponseTemplate::new(502)
                .insert_header("Atl-Traceid", "tr-502")
                .set_body_raw(
                    "<html><body><h1>502 Bad Gateway</h1></body></html>",
                    "text/html",
                ),
        )
        .expect(3)
        .mount(&server)
        .await;

    let err = client_with(&server, quick_retries())
        .check_key("o")
        .await
        .unwrap_err();

    assert_eq!(err.status(), Some(502));
    assert_eq!(err.attempts(), 3);
    assert_eq!(err.trace_id(), Some("tr-502"));
    assert!(!err.may_have_been_applied(), "a GET changes nothing");
    match &err {
        Error::Api(api) => {
            assert!(matches!(&api.body, ErrorBody::Text(t) if t.contains("502 Bad Gateway")))
        }
        other => panic!("{other:?}"),
    }
    let text = err.to_string();
    assert!(
        text.contains("Atl-Traceid tr-502") && text.contains("after 3 attempts"),
        "{text}"
    );
}

#[tokio::test]
async fn an_oversized_body_is_refused() {
    let server = server().await;
    admin_call("GET", "/admin/v1/orgs/o")
        .respond_with(ResponseTemplate::new(200).set_body_json(org_body()))
        .mount(&server)
        .await;
    let admin = AdminClient::builder(AdminApiKey::new(KEY))
        .base_url(server.uri())
        .options(
            ClientOptions::new()
                .max_body_bytes(64)
                .retry_policy(RetryPolicy::none()),
        )
        .build()
        .unwrap();

    match admin.check_key("o").await.unwrap_err() {
        Error::BodyTooLarge { limit, .. } => assert_eq!(limit, 64),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_redirect_is_not_followed_and_the_key_never_reaches_the_other_server() {
    let elsewhere = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200).set_body_json(org_body()))
        .expect(0)
        .mount(&elsewhere)
        .await;
    let server = server().await;
    admin_call("GET", "/admin/v1/orgs/o")
        .respond_with(ResponseTemplate::new(302).insert_header(
            "Location",
            format!("{}/admin/v1/orgs/o", elsewhere.uri()).as_str(),
        ))
        .expect(1)
        .mount(&server)
        .await;

    let err = client(&server).check_key("o").await.unwrap_err();

    assert_eq!(err.status(), Some(302));
    assert!(elsewhere.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn set_credentials_swaps_the_bearer_for_later_requests_on_every_clone() {
    let server = server().await;
    Mock::given(wiremock::matchers::method("GET"))
        .and(wiremock::matchers::path("/admin/v1/orgs/o"))
        .and(header("authorization", "Bearer rotated-key"))
        .respond_with(ResponseTemplate::new(200).set_body_json(org_body()))
        .expect(1)
        .mount(&server)
        .await;
    let admin = client(&server);
    let clone = admin.clone();

    admin
        .set_credentials(AdminApiKey::new("rotated-key"))
        .unwrap();
    clone.check_key("o").await.unwrap();

    let err = admin
        .set_credentials(AdminApiKey::new("bad key\r\n"))
        .unwrap_err();
    assert!(matches!(err, Error::InvalidInput { .. }));
    assert!(!err.to_string().contains("bad key"), "{err}");
}

#[test]
fn a_key_that_cannot_be_a_header_is_refused_without_echo() {
    let err = AdminClient::builder(AdminApiKey::new("sec ret"))
        .build()
        .unwrap_err();
    assert!(matches!(err, Error::InvalidInput { .. }));
    assert!(!format!("{err} {err:?}").contains("sec ret"));
    assert!(
        AdminClient::builder(AdminApiKey::new("k"))
            .base_url("http://admin.example.com")
            .build()
            .is_err(),
        "plain http off loopback is refused"
    );
}
