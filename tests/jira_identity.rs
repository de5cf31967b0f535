//! `JiraClient::myself` against wiremock on loopback: the identity check a token rotation uses.

use atlassian_rotation::jira::JiraClient;
use atlassian_rotation::secret::{ApiCredentials, ApiToken};
use atlassian_rotation::transport::USER_AGENT;
use atlassian_rotation::{ClientOptions, RetryPolicy};
use serde_json::json;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

mod support;
use support::{BASIC, EMAIL, TOKEN, base64_of, catch_all, creds};

fn jira(server: &MockServer, creds: ApiCredentials) -> JiraClient {
    JiraClient::builder(creds)
        .base_url(server.uri())
        .options(ClientOptions::new().retry_policy(RetryPolicy::none()))
        .build()
        .unwrap()
}

#[tokio::test]
async fn myself_returns_the_account_of_the_credentials() {
    let server = MockServer::start().await;
    // Shaped like the Jira spec's example for GET /rest/api/3/myself.
    let body = r#"{"accountId":"5b10a2844c20165700ede21g","accountType":"atlassian","active":true,
      "applicationRoles":{"items":[],"size":1},
      "avatarUrls":{"16x16":"https://avatars.example.net/initials/MK-5.png?size=16&s=16"},
      "displayName":"Mia Krystof","emailAddress":"mia@example.com","groups":{"items":[],"size":3},
      "key":"","name":"","self":"https://your-domain.atlassian.net/rest/api/3/user?accountId=5b10a2844c20165700ede21g",
      "timeZone":"Australia/Sydney"}"#;
    Mock::given(method("GET"))
        .and(path("/rest/api/3/myself"))
        .and(header("authorization", BASIC))
        .and(header("accept", "application/json"))
        .and(header("user-agent", USER_AGENT))
        .respond_with(ResponseTemplate::new(200).set_body_raw(body, "application/json"))
        .expect(1)
        .mount(&server)
        .await;
    catch_all(&server).await;
    let me = jira(&server, creds()).myself().await.unwrap();
    assert_eq!(me.account_id, "5b10a2844c20165700ede21g");
    assert_eq!(me.account_type.as_deref(), Some("atlassian"));
    assert_eq!(me.active, Some(true));
    assert_eq!(me.display_name.as_deref(), Some("Mia Krystof"));
    assert_eq!(me.email_address.as_deref(), Some("mia@example.com"));
    assert_eq!(me.time_zone.as_deref(), Some("Australia/Sydney"));
    assert_eq!(me.extra["groups"]["size"], 3);
}

#[tokio::test]
async fn a_revoked_token_gets_401_and_a_hidden_email_is_none() {
    let server = MockServer::start().await;
    let revoked = ApiCredentials::new(EMAIL, ApiToken::new("ATATT-revoked"));
    let revoked_basic = format!("Basic {}", base64_of(&format!("{EMAIL}:ATATT-revoked")));
    Mock::given(method("GET"))
        .and(path("/rest/api/3/myself"))
        .and(header("authorization", revoked_basic.as_str()))
        .respond_with(
            ResponseTemplate::new(401)
                .insert_header("Atl-Traceid", "abc401")
                .set_body_string("Client must be authenticated to access this resource."),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/rest/api/3/myself"))
        .and(header("authorization", BASIC))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"accountId": "712020:hidden", "displayName": "Private", "emailAddress": null}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    catch_all(&server).await;

    let client = jira(&server, revoked);
    let err = client.myself().await.unwrap_err();
    assert_eq!(err.status(), Some(401));
    assert!(err.is_auth_failure());
    assert_eq!(err.trace_id(), Some("abc401"));
    assert!(!format!("{err} {err:?}").contains("ATATT-revoked"));

    client.set_credentials(creds()).unwrap();
    let me = client.myself().await.unwrap();
    assert_eq!(me.account_id, "712020:hidden");
    assert_eq!(me.email_address, None);
    assert!(!format!("{client:?}").contains(TOKEN));
}
