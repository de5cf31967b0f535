//! Wiremock tests for `InstanceClient`: installing a tunnel key on Data Center and `myself`.

use std::time::Duration;

mod support;

use atlassian_rotation::instance::{InstanceAuth, TunnelInstallation};
use atlassian_rotation::secret::{Password, PersonalAccessToken, TunnelKey};
use atlassian_rotation::{ClientOptions, Error, InstanceClient, RetryPolicy};
use base64::Engine as _;
use serde_json::json;
use support::{LogCapture, strict_server as server};
use wiremock::matchers::{any, body_json, header, method, path};
use wiremock::{Match, Mock, MockBuilder, MockServer, Request, ResponseTemplate};

const PAT: &str = "NjQ2ODk1-personal-access-token-XYZ";
const TUNNEL_KEY: &str = "tunnel-key-9f8e7d6c5b4a-NOT-REAL==";
const UA: &str = concat!("atlassian-rotation/", env!("CARGO_PKG_VERSION"));
const INSTALL: &str = "/jira/rest/secure-tunneling/latest/tunnel/token";

/// A client on `{server}/jira` (a context path, as many Data Center instances have).
fn client(server: &MockServer, auth: InstanceAuth, retry: RetryPolicy) -> InstanceClient {
    InstanceClient::builder(auth)
        .base_url(format!("{}/jira", server.uri()))
        .options(ClientOptions::new().retry_policy(retry))
        .build()
        .unwrap()
}

fn pat() -> InstanceAuth {
    InstanceAuth::PersonalAccessToken(PersonalAccessToken::new(PAT))
}

fn call(verb: &str, exact_path: &str, authorization: &str) -> MockBuilder {
    Mock::given(method(verb))
        .and(path(exact_path))
        .and(header("authorization", authorization))
        .and(header("accept", "application/json"))
        .and(header("user-agent", UA))
        .and(NoQuery)
}

fn install_call(authorization: &str) -> MockBuilder {
    call("PUT", INSTALL, authorization)
        .and(header("content-type", "application/json"))
        .and(body_json(json!({"token": TUNNEL_KEY})))
}

struct NoQuery;

impl Match for NoQuery {
    fn matches(&self, request: &Request) -> bool {
        request.url.query().is_none()
    }
}

fn quick_retries() -> RetryPolicy {
    RetryPolicy::default()
        .max_attempts(3)
        .backoff(Duration::from_millis(1), Duration::from_millis(1))
}

#[tokio::test]
async fn install_puts_the_key_as_json_with_the_pat_and_decodes_the_answer() {
    let server = server().await;
    install_call(&format!("Bearer {PAT}"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "name": "build-farm",
            "cloudOrgName": "Example Corp",
            "cloudPageUrl": "https://example.atlassian.net",
            "appLinksUrl": "https://jira.internal.example/plugins/servlet/applinks/listApplicationLinks"
        })))
        .expect(1)
        .mount(&server)
        .await;

    let installed = client(&server, pat(), RetryPolicy::none())
        .install_tunnel_key(&TunnelKey::new(TUNNEL_KEY))
        .await
        .unwrap();

    assert_eq!(installed.name.as_deref(), Some("build-farm"));
    assert_eq!(installed.cloud_org_name.as_deref(), Some("Example Corp"));
    assert_eq!(
        installed.cloud_page_url.as_deref(),
        Some("https://example.atlassian.net")
    );
    assert_eq!(
        installed.app_links_url.as_deref(),
        Some("https://jira.internal.example/plugins/servlet/applinks/listApplicationLinks")
    );
}

#[tokio::test]
async fn install_with_basic_auth_sends_base64_of_username_and_password() {
    let server = server().await;
    let encoded = base64::engine::general_purpose::STANDARD.encode("jira-admin:pass word");
    install_call(&format!("Basic {encoded}"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"name": "t"})))
        .expect(1)
        .mount(&server)
        .await;

    let auth = InstanceAuth::basic("jira-admin", Password::new("pass word"));
    let installed = client(&server, auth, RetryPolicy::none())
        .install_tunnel_key(&TunnelKey::new(TUNNEL_KEY))
        .await
        .unwrap();
    assert_eq!(installed.name.as_deref(), Some("t"));
}

#[tokio::test]
async fn sparse_and_empty_answers_decode_to_missing_fields() {
    let server = server().await;
    install_call(&format!("Bearer {PAT}"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"cloudOrgName": "Example Corp", "extra": 1})),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .expect(1)
        .mount(&server)
        .await;
    install_call(&format!("Bearer {PAT}"))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&server)
        .await;
    let jira = client(&server, pat(), RetryPolicy::none());
    let key = TunnelKey::new(TUNNEL_KEY);

    let sparse = jira.install_tunnel_key(&key).await.unwrap();
    assert_eq!(sparse.cloud_org_name.as_deref(), Some("Example Corp"));
    assert_eq!(sparse.name, None);
    assert_eq!(
        jira.install_tunnel_key(&key).await.unwrap(),
        TunnelInstallation::default()
    );
}

#[tokio::test]
async fn install_is_idempotent_so_a_503_is_retried() {
    let server = server().await;
    install_call(&format!("Bearer {PAT}"))
        .respond_with(ResponseTemplate::new(503).insert_header("Retry-After", "0"))
        .up_to_n_times(1)
        .with_priority(1)
        .expect(1)
        .mount(&server)
        .await;
    install_call(&format!("Bearer {PAT}"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"name": "t"})))
        .expect(1)
        .mount(&server)
        .await;

    let installed = client(&server, pat(), quick_retries())
        .install_tunnel_key(&TunnelKey::new(TUNNEL_KEY))
        .await
        .unwrap();
    assert_eq!(installed.name.as_deref(), Some("t"));
}

#[tokio::test]
async fn the_key_and_the_pat_stay_out_of_errors_and_logs_even_when_the_server_echoes_them() {
    let logs = LogCapture::default();
    let _guard = logs.install();
    let server = server().await;
    install_call(&format!("Bearer {PAT}"))
        .respond_with(
            ResponseTemplate::new(502)
                .set_body_string(format!("<html>upstream refused token {TUNNEL_KEY}</html>")),
        )
        .up_to_n_times(2)
        .with_priority(1)
        .expect(2)
        .mount(&server)
        .await;
    install_call(&format!("Bearer {PAT}"))
        .respond_with(
            ResponseTemplate::new(400)
                .insert_header("Atl-Traceid", "tr-400")
                .set_body_json(json!({"errors": [{"code": "BAD_TOKEN", "title": format!("Invalid token {TUNNEL_KEY}")}]})),
        )
        .expect(1)
        .mount(&server)
        .await;

    let err = client(&server, pat(), quick_retries())
        .install_tunnel_key(&TunnelKey::new(TUNNEL_KEY))
        .await
        .unwrap_err();

    assert_eq!(err.status(), Some(400));
    assert_eq!(err.attempts(), 3);
    assert_eq!(err.trace_id(), Some("tr-400"));
    let text = format!("{err} {err:?}");
    assert!(
        text.contains("BAD_TOKEN: Invalid token [redacted]"),
        "{text}"
    );
    assert!(!text.contains(TUNNEL_KEY) && !text.contains(PAT), "{text}");
    let logged = logs.text();
    assert!(logged.contains("retrying"), "no retry logged: {logged}");
    assert!(
        !logged.contains(TUNNEL_KEY) && !logged.contains(PAT),
        "{logged}"
    );
}

#[tokio::test]
async fn myself_gets_the_account_and_ignores_unknown_fields() {
    let server = server().await;
    call("GET", "/jira/rest/api/2/myself", &format!("Bearer {PAT}"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "self": "https://jira.internal.example/rest/api/2/user?username=svc-rotation",
            "key": "JIRAUSER10100",
            "name": "svc-rotation",
            "emailAddress": "svc-rotation@example.com",
            "displayName": "Rotation Service",
            "active": true,
            "timeZone": "Europe/Berlin",
            "groups": {"size": 2, "items": []}
        })))
        .expect(1)
        .mount(&server)
        .await;

    let me = client(&server, pat(), RetryPolicy::none())
        .myself()
        .await
        .unwrap();

    assert_eq!(me.name.as_deref(), Some("svc-rotation"));
    assert_eq!(me.key.as_deref(), Some("JIRAUSER10100"));
    assert_eq!(me.display_name.as_deref(), Some("Rotation Service"));
    assert_eq!(
        me.email_address.as_deref(),
        Some("svc-rotation@example.com")
    );
    assert_eq!(me.active, Some(true));
}

#[tokio::test]
async fn myself_with_a_refused_credential_is_an_auth_failure() {
    let server = server().await;
    call("GET", "/jira/rest/api/2/myself", &format!("Bearer {PAT}"))
        .respond_with(
            ResponseTemplate::new(401)
                .insert_header("Atl-Traceid", "tr-401")
                .set_body_raw(
                    "<html><title>Unauthorized (401)</title></html>",
                    "text/html",
                ),
        )
        .expect(1)
        .mount(&server)
        .await;

    let err = client(&server, pat(), quick_retries())
        .myself()
        .await
        .unwrap_err();

    assert!(err.is_auth_failure());
    assert_eq!(err.attempts(), 1, "a 401 is not retried");
    assert!(err.to_string().contains("Unauthorized (401)"), "{err}");
    assert!(!format!("{err:?}").contains(PAT));
}

#[tokio::test]
async fn myself_with_malformed_json_is_a_decode_error_with_its_path() {
    let server = server().await;
    call("GET", "/jira/rest/api/2/myself", &format!("Bearer {PAT}"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"name": "svc", "active": "yes"})),
        )
        .expect(1)
        .mount(&server)
        .await;

    match client(&server, pat(), RetryPolicy::none())
        .myself()
        .await
        .unwrap_err()
    {
        Error::Decode { path, .. } => assert_eq!(path, "active"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_redirect_from_the_instance_is_not_followed() {
    let elsewhere = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&elsewhere)
        .await;
    let server = server().await;
    install_call(&format!("Bearer {PAT}"))
        .respond_with(ResponseTemplate::new(302).insert_header(
            "Location",
            format!("{}/login.jsp", elsewhere.uri()).as_str(),
        ))
        .expect(1)
        .mount(&server)
        .await;

    let err = client(&server, pat(), RetryPolicy::none())
        .install_tunnel_key(&TunnelKey::new(TUNNEL_KEY))
        .await
        .unwrap_err();

    assert_eq!(err.status(), Some(302));
    assert!(elsewhere.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn set_credentials_swaps_credentials_for_later_requests_on_every_clone() {
    let server = server().await;
    call("GET", "/jira/rest/api/2/myself", "Bearer new-pat")
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"name": "svc"})))
        .expect(1)
        .mount(&server)
        .await;
    let jira = client(&server, pat(), RetryPolicy::none());
    let clone = jira.clone();

    let new = PersonalAccessToken::new("new-pat");
    jira.set_credentials(InstanceAuth::PersonalAccessToken(new))
        .unwrap();
    assert_eq!(clone.myself().await.unwrap().name.as_deref(), Some("svc"));
}

#[test]
fn construction_requires_a_safe_base_url_and_usable_credentials() {
    let err = InstanceClient::builder(pat()).build().unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidInput {
                what: "base URL",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        InstanceClient::builder(pat())
            .base_url("http://jira.example.com")
            .build()
            .is_err()
    );
    assert!(
        InstanceClient::builder(pat())
            .base_url("http://127.0.0.1:8080/jira")
            .build()
            .is_ok()
    );

    let bad_pat = InstanceAuth::PersonalAccessToken(PersonalAccessToken::new("pat with space"));
    let err = InstanceClient::builder(bad_pat)
        .base_url("https://jira.example.com")
        .build()
        .unwrap_err();
    assert!(!format!("{err} {err:?}").contains("pat with space"));
    let bad_user = InstanceAuth::basic("a:b", Password::new("secret-pw"));
    let err = InstanceClient::builder(bad_user)
        .base_url("https://jira.example.com")
        .build()
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidInput {
                what: "username",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(!format!("{err} {err:?}").contains("secret-pw"));
}

#[test]
fn auth_and_client_debug_never_show_secrets() {
    let basic = InstanceAuth::basic("jira-admin", Password::new("hunter2-pw"));
    let shown = format!("{basic:?} {:?}", pat());
    assert!(
        !shown.contains("hunter2-pw") && !shown.contains(PAT),
        "{shown}"
    );
    assert!(
        shown.contains("jira-admin") && shown.contains("[redacted]"),
        "{shown}"
    );
    let jira = InstanceClient::builder(basic)
        .base_url("https://jira.example.com")
        .build()
        .unwrap();
    assert!(!format!("{jira:?}").contains("hunter2-pw"));
}
