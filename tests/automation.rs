//! `AutomationClient` against wiremock on loopback: exact request shapes,
//! pagination in every link form, errors, and a GET -> PUT round trip of a whole rule.

use atlassian_rotation::automation::{AutomationClient, Product, RuleState, SearchRequest};
use atlassian_rotation::error::ErrorBody;
use atlassian_rotation::secret::{ApiCredentials, ApiToken};
use atlassian_rotation::transport::USER_AGENT;
use atlassian_rotation::{ClientOptions, Error, RetryPolicy};
use futures::{StreamExt as _, TryStreamExt as _};
use serde_json::{Value, json};
use wiremock::matchers::{body_json, header, method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockBuilder, MockServer, ResponseTemplate};

mod support;
use support::{BASIC, EMAIL, TOKEN, base64_of, catch_all, creds};

const CLOUD: &str = "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d";
const PREFIX: &str = "/automation/public/jira/a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d";

fn client(server: &MockServer) -> AutomationClient {
    AutomationClient::builder(creds())
        .base_url(format!("{}{PREFIX}", server.uri()))
        .options(ClientOptions::new().retry_policy(RetryPolicy::none()))
        .build()
        .unwrap()
}

/// Matches a request with the headers every call carries.
fn expect(verb: &str, p: &str) -> MockBuilder {
    Mock::given(method(verb))
        .and(path(format!("{PREFIX}{p}")))
        .and(header("authorization", BASIC))
        .and(header("accept", "application/json"))
        .and(header("user-agent", USER_AGENT))
}

fn summary(uuid: &str, name: &str) -> Value {
    json!({
        "uuid": uuid,
        "name": name,
        "state": "ENABLED",
        "description": "A rule description",
        "actorAccountId": null,
        "authorAccountId": "5b10ac8d82e05b22cc7d4ef5",
        "ruleScopeARIs": ["ari:cloud:jira:a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d:project/10001"],
        "labels": ["label one"],
        "created": 1743568964.174,
        "updated": 1743568999.5
    })
}

fn page(items: &[Value], next: Option<String>) -> Value {
    json!({"links": {"self": "?limit=2", "next": next, "prev": null}, "data": items})
}

/// Three pages linked by `link(cursor)`, each matched by its own query.
async fn three_pages(server: &MockServer, link: impl Fn(&str) -> String) {
    expect("GET", "/rest/v1/rule/summary")
        .and(query_param("limit", "2"))
        .and(query_param_is_missing("cursor"))
        .respond_with(ResponseTemplate::new(200).set_body_json(page(
            &[summary("r-1", "one"), summary("r-2", "two")],
            Some(link("c/2+")),
        )))
        .expect(1)
        .mount(server)
        .await;
    expect("GET", "/rest/v1/rule/summary")
        .and(query_param("cursor", "c/2+"))
        .and(query_param("limit", "2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(page(
            &[summary("r-3", "three"), summary("r-4", "four")],
            Some(link("c3")),
        )))
        .expect(1)
        .mount(server)
        .await;
    expect("GET", "/rest/v1/rule/summary")
        .and(query_param("cursor", "c3"))
        .and(query_param("limit", "2"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(page(&[summary("r-5", "five")], None)),
        )
        .expect(1)
        .mount(server)
        .await;
}

async fn all_uuids(client: &AutomationClient) -> Vec<String> {
    client
        .rule_summaries(2)
        .map_ok(|s| s.uuid)
        .try_collect()
        .await
        .unwrap()
}

const FIVE: [&str; 5] = ["r-1", "r-2", "r-3", "r-4", "r-5"];

#[tokio::test]
async fn summaries_follow_query_string_links() {
    let server = MockServer::start().await;
    three_pages(&server, |c| {
        format!(
            "?cursor={}&limit=2",
            url::form_urlencoded::byte_serialize(c.as_bytes()).collect::<String>()
        )
    })
    .await;
    catch_all(&server).await;
    assert_eq!(all_uuids(&client(&server)).await, FIVE);
}

#[tokio::test]
async fn summaries_follow_full_url_links() {
    let server = MockServer::start().await;
    let uri = server.uri();
    three_pages(&server, move |c| {
        let mut url = url::Url::parse(&format!("{uri}{PREFIX}/rest/v1/rule/summary")).unwrap();
        url.query_pairs_mut()
            .append_pair("cursor", c)
            .append_pair("limit", "2");
        url.into()
    })
    .await;
    catch_all(&server).await;
    assert_eq!(all_uuids(&client(&server)).await, FIVE);
}

#[tokio::test]
async fn summaries_follow_bare_cursors() {
    let server = MockServer::start().await;
    three_pages(&server, str::to_owned).await;
    catch_all(&server).await;
    assert_eq!(all_uuids(&client(&server)).await, FIVE);
}

#[tokio::test]
async fn a_repeated_cursor_stops_the_stream_with_an_error() {
    let server = MockServer::start().await;
    expect("GET", "/rest/v1/rule/summary")
        .and(query_param_is_missing("cursor"))
        .respond_with(ResponseTemplate::new(200).set_body_json(page(
            &[summary("r-1", "one")],
            Some("?cursor=loop&limit=2".into()),
        )))
        .expect(1)
        .mount(&server)
        .await;
    expect("GET", "/rest/v1/rule/summary")
        .and(query_param("cursor", "loop"))
        .respond_with(ResponseTemplate::new(200).set_body_json(page(
            &[summary("r-2", "two")],
            Some("?cursor=loop&limit=2".into()),
        )))
        .expect(1)
        .mount(&server)
        .await;
    catch_all(&server).await;

    // The page that repeats a cursor ends the stream with the error, in place of its items.
    let results: Vec<_> = client(&server).rule_summaries(2).collect().await;
    assert_eq!(results.len(), 2, "{results:?}");
    assert_eq!(results[0].as_ref().unwrap().uuid, "r-1");
    assert!(
        matches!(results[1], Err(Error::RepeatedCursor { .. })),
        "{:?}",
        results[1]
    );
}

#[tokio::test]
async fn page_limits_outside_1_to_100_are_refused_before_any_request() {
    let server = MockServer::start().await;
    catch_all(&server).await;
    let client = client(&server);
    for limit in [0, 101, 1000] {
        // The listing's one item is the refusal.
        let items: Vec<_> = client.rule_summaries(limit).collect().await;
        let [Err(err)] = <[_; 1]>::try_from(items).expect("one item") else {
            panic!("refused");
        };
        assert!(
            matches!(
                err,
                Error::InvalidInput {
                    what: "page limit",
                    ..
                }
            ),
            "{err}"
        );
        let err = client
            .search_rule_summaries(&SearchRequest::new().limit(limit))
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                Error::InvalidInput {
                    what: "page limit",
                    ..
                }
            ),
            "{err}"
        );
    }
}

#[tokio::test]
async fn search_posts_the_criteria_and_pages_by_body_cursor() {
    let server = MockServer::start().await;
    expect("POST", "/rest/v1/rule/summary")
        .and(header("content-type", "application/json"))
        .and(body_json(
            json!({"trigger": "jira.issue.event.trigger:created", "state": "ENABLED", "limit": 2}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(page(
            &[summary("s-1", "one"), summary("s-2", "two")],
            Some("?cursor=next%3D1&limit=2".into()),
        )))
        .expect(1)
        .mount(&server)
        .await;
    expect("POST", "/rest/v1/rule/summary")
        .and(header("content-type", "application/json"))
        .and(body_json(json!({"cursor": "next=1", "trigger": "jira.issue.event.trigger:created", "state": "ENABLED", "limit": 2})))
        .respond_with(ResponseTemplate::new(200).set_body_json(page(&[summary("s-3", "three")], None)))
        .expect(1)
        .mount(&server)
        .await;
    catch_all(&server).await;

    let client = client(&server);
    let request = SearchRequest::new()
        .trigger("jira.issue.event.trigger:created")
        .state(RuleState::Enabled)
        .limit(2);
    let first = client.search_rule_summaries(&request).await.unwrap();
    assert_eq!(first.summaries.len(), 2);
    assert_eq!(first.next_cursor.as_deref(), Some("next=1"));
    let second = client
        .search_rule_summaries(&request.cursor(first.next_cursor.unwrap()))
        .await
        .unwrap();
    assert_eq!(second.summaries[0].uuid, "s-3");
    assert_eq!(second.next_cursor, None);
}

#[tokio::test]
async fn the_specs_example_summary_page_decodes() {
    let server = MockServer::start().await;
    // Shaped like the spec's RuleSummaryResponse, with its field examples.
    let body = r#"{
      "links": {"self": "?cursor=bbbbbb&limit=100", "next": null, "prev": "?cursor=aaaaaa&limit=100"},
      "data": [{
        "actorAccountId": "5b10ac8d82e05b22cc7d4ef5",
        "ruleScopeARIs": ["ari:cloud:jira:182b9218-d56a-453d-9659-3f29ea2aa7eb:project/10001"],
        "authorAccountId": "5b10ac8d82e05b22cc7d4ef5",
        "created": 1743568964.174,
        "updated": 1743568964.174,
        "description": "A rule description",
        "uuid": "0192e5ac-0e25-71de-ba7b-d972e6a2049a",
        "labels": ["label one"],
        "name": "Rule one",
        "state": "ENABLED",
        "ruleHome": {"future": true}
      }]
    }"#;
    expect("GET", "/rest/v1/rule/summary")
        .and(query_param("limit", "100"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(body, "application/json"))
        .expect(1)
        .mount(&server)
        .await;
    catch_all(&server).await;
    let all: Vec<_> = client(&server)
        .rule_summaries(100)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(all.len(), 1);
    let s = &all[0];
    assert_eq!(s.uuid, "0192e5ac-0e25-71de-ba7b-d972e6a2049a");
    assert_eq!(s.name.as_deref(), Some("Rule one"));
    assert_eq!(s.state, Some(RuleState::Enabled));
    assert_eq!(
        s.actor_account_id.as_deref(),
        Some("5b10ac8d82e05b22cc7d4ef5")
    );
    assert_eq!(
        s.rule_scope_aris.as_ref().unwrap()[0],
        "ari:cloud:jira:182b9218-d56a-453d-9659-3f29ea2aa7eb:project/10001"
    );
    assert_eq!(s.created, Some(1743568964.174));
    assert_eq!(s.labels.as_deref(), Some(&["label one".to_owned()][..]));
    assert_eq!(s.extra["ruleHome"], json!({"future": true}));
}

#[tokio::test]
async fn the_specs_example_rule_decodes_and_the_uuid_is_escaped() {
    let server = MockServer::start().await;
    // Shaped like the spec's RuleConfigResponse.
    let body = json!({
        "rule": {
            "actor": {"actor": "5b10ac8d82e05b22cc7d4ef5", "type": "ACCOUNT_ID"},
            "authorAccountId": "5b10ac8d82e05b22cc7d4ef5",
            "canOtherRuleTrigger": false,
            "collaborators": [],
            "components": [{
                "id": "151", "component": "ACTION", "conditionParentId": null, "conditions": [],
                "children": [], "connectionId": "0192e5ac-0e25-71de-ba7b-d972e6a2049a", "parentId": null,
                "schemaVersion": 1, "type": "jira.issue.outgoing.webhook",
                "value": {"url": "https://hooks.example.com/x", "headers": []}
            }],
            "created": 1743568964.174,
            "description": "A rule description",
            "labels": ["label one"],
            "name": "Rule one",
            "notifyOnError": "FIRSTERROR",
            "ruleScopeARIs": ["ari:cloud:jira:182b9218-d56a-453d-9659-3f29ea2aa7eb:project/10001"],
            "state": "ENABLED",
            "trigger": {"id": "150", "component": "TRIGGER", "conditions": [], "connectionId": null,
                        "schemaVersion": 1, "type": "jira.issue.event.trigger:created", "value": {}},
            "updated": 1743568964.174,
            "uuid": "0192e5ac-0e25-71de-ba7b-d972e6a2049a",
            "writeAccessType": "OWNER_ONLY"
        },
        "connections": [{
            "id": "0192e5ac-0e25-71de-ba7b-d972e6a2049a",
            "accountId": "5b10ac8d82e05b22cc7d4ef5",
            "connectionTargetKey": "com.atlassian.confluence.native",
            "targetConfigJson": "{}",
            "authType": "OAUTH_3LO",
            "createdAt": 1743568964.174,
            "updatedAt": 1743568964.174,
            "container": {"id": "0192e5ac-0e25-71de-ba7b-d972e6a2049a", "containerType": "RULE"}
        }]
    });
    expect("GET", "/rest/v1/rule/odd%2Fuuid%20%3F")
        .respond_with(ResponseTemplate::new(200).set_body_json(&body))
        .expect(1)
        .mount(&server)
        .await;
    catch_all(&server).await;
    let doc = client(&server).get_rule("odd/uuid ?").await.unwrap();
    assert_eq!(
        doc.rule.uuid(),
        Some("0192e5ac-0e25-71de-ba7b-d972e6a2049a")
    );
    assert_eq!(
        doc.rule.components()[0]
            .connection_id
            .get()
            .map(String::as_str),
        Some("0192e5ac-0e25-71de-ba7b-d972e6a2049a")
    );
    assert_eq!(doc.connections.get().unwrap()[0]["authType"], "OAUTH_3LO");
    assert_eq!(serde_json::to_value(&doc).unwrap(), body);
}

#[tokio::test]
async fn ids_that_cannot_be_a_path_segment_are_refused_before_any_request() {
    let server = MockServer::start().await;
    catch_all(&server).await;
    let client = client(&server);
    for bad in ["", ".", ".."] {
        assert!(matches!(
            client.get_rule(bad).await,
            Err(Error::InvalidInput { .. })
        ));
        assert!(matches!(
            client.set_rule_state(bad, RuleState::Enabled).await,
            Err(Error::InvalidInput { .. })
        ));
    }
}

#[tokio::test]
async fn get_then_put_sends_back_exactly_what_came() {
    let server = MockServer::start().await;
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/rules/api-get-if-else-webhook.json"
    ))
    .unwrap();
    let uuid = "01973a5e-7d2c-7f10-b3a4-5c6d7e8f9a0b";
    expect("GET", &format!("/rest/v1/rule/{uuid}"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(text.clone(), "application/json"))
        .expect(1)
        .mount(&server)
        .await;
    let original: Value = serde_json::from_str(&text).unwrap();
    expect("PUT", &format!("/rest/v1/rule/{uuid}"))
        .and(header("content-type", "application/json"))
        .and(body_json(&original))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"ruleUuid": uuid})))
        .expect(1)
        .mount(&server)
        .await;
    catch_all(&server).await;

    let client = client(&server);
    let doc = client.get_rule(uuid).await.unwrap();
    client.update_rule(uuid, &doc).await.unwrap();

    let put = server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.method.as_str() == "PUT")
        .unwrap();
    let sent: Value = serde_json::from_slice(&put.body).unwrap();
    assert_eq!(sent, original);
    // Same key order too (serde_json keeps it with preserve_order).
    assert_eq!(
        serde_json::to_string(&sent).unwrap(),
        serde_json::to_string(&original).unwrap()
    );
}

#[tokio::test]
async fn set_rule_state_puts_the_value() {
    let server = MockServer::start().await;
    for text in ["DISABLED", "ENABLED"] {
        expect("PUT", "/rest/v1/rule/0192e5ac/state")
            .and(header("content-type", "application/json"))
            .and(body_json(json!({"value": text})))
            .respond_with(ResponseTemplate::new(200))
            .expect(1)
            .mount(&server)
            .await;
    }
    catch_all(&server).await;
    let client = client(&server);
    client
        .set_rule_state("0192e5ac", RuleState::Disabled)
        .await
        .unwrap();
    client
        .set_rule_state("0192e5ac", RuleState::Enabled)
        .await
        .unwrap();
}

#[tokio::test]
async fn automation_error_bodies_become_api_errors_with_the_trace_id() {
    let server = MockServer::start().await;
    let errors = json!({"errors": [{
        "id": "46afeec3-73c8-41fb-b27e-d953056ecd10",
        "status": 400,
        "code": "api.validation.outside-range",
        "title": "'limit' must be in the range [1,100]",
        "field": "rule.components[0].value"
    }]});
    expect("PUT", "/rest/v1/rule/r-400")
        .respond_with(
            ResponseTemplate::new(400)
                .set_body_json(&errors)
                .insert_header("Atl-Traceid", "7f3c9a1b2d4e5f60"),
        )
        .expect(1)
        .mount(&server)
        .await;
    catch_all(&server).await;

    let err = client(&server)
        .update_rule(
            "r-400",
            &serde_json::from_value(json!({"rule": {"name": "x"}})).unwrap(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(400));
    assert_eq!(err.trace_id(), Some("7f3c9a1b2d4e5f60"));
    let Error::Api(api) = &err else {
        panic!("{err:?}")
    };
    let ErrorBody::Automation(items) = &api.body else {
        panic!("{:?}", api.body)
    };
    assert_eq!(
        items[0].code.as_deref(),
        Some("api.validation.outside-range")
    );
    assert_eq!(items[0].status.as_deref(), Some("400"));
    assert_eq!(items[0].field.as_deref(), Some("rule.components[0].value"));
    let message = err.to_string();
    assert!(
        message.starts_with("PUT /rest/v1/rule/{}: HTTP 400: api.validation.outside-range"),
        "{message}"
    );
    assert!(message.contains("7f3c9a1b2d4e5f60"), "{message}");
    assert!(!message.contains(TOKEN) && !format!("{err:?}").contains(TOKEN));
}

#[tokio::test]
async fn a_forbidden_read_is_an_auth_failure_without_the_token() {
    let server = MockServer::start().await;
    expect("GET", "/rest/v1/rule/r-403")
        .respond_with(
            ResponseTemplate::new(403)
                .set_body_string("User is not authenticated, or user is not a global admin."),
        )
        .expect(1)
        .mount(&server)
        .await;
    catch_all(&server).await;
    let err = client(&server).get_rule("r-403").await.unwrap_err();
    assert!(err.is_auth_failure(), "{err}");
    assert!(!format!("{err} {err:?}").contains(TOKEN));
}

#[tokio::test]
async fn decode_errors_name_the_json_path() {
    let server = MockServer::start().await;
    expect("GET", "/rest/v1/rule/summary")
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("Atl-Traceid", "dec0de")
                .set_body_json(page(&[summary("ok", "fine"), json!({"uuid": 7})], None)),
        )
        .expect(1)
        .mount(&server)
        .await;
    expect("GET", "/rest/v1/rule/truncated")
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(r#"{"rule": {"name": "cut"#, "application/json"),
        )
        .expect(1)
        .mount(&server)
        .await;
    expect("GET", "/rest/v1/rule/bad-shape")
        .respond_with(
            ResponseTemplate::new(200).set_body_json(
                json!({"rule": {"components": [{"children": [{"conditions": 5}]}]}}),
            ),
        )
        .expect(1)
        .mount(&server)
        .await;
    catch_all(&server).await;
    let client = client(&server);

    let results: Vec<_> = client.rule_summaries(50).collect().await;
    let err = results
        .into_iter()
        .find_map(Result::err)
        .expect("a decode error");
    let Error::Decode { path, trace_id, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(path, "data[1].uuid");
    assert_eq!(trace_id.as_deref(), Some("dec0de"));

    let err = client.get_rule("truncated").await.unwrap_err();
    assert!(matches!(err, Error::Decode { .. }), "{err:?}");

    let err = client.get_rule("bad-shape").await.unwrap_err();
    let Error::Decode { message, .. } = &err else {
        panic!("{err:?}")
    };
    assert!(
        message.contains("at `rule.components[0].children[0].conditions`"),
        "{message}"
    );
}

#[tokio::test]
async fn credentials_can_be_swapped_while_running() {
    let server = MockServer::start().await;
    let new_token = "ATATT3xFfGF0-rotated-token";
    let new_basic = format!("Basic {}", base64_of(&format!("{EMAIL}:{new_token}")));
    Mock::given(method("PUT"))
        .and(path(format!("{PREFIX}/rest/v1/rule/r1/state")))
        .and(header("authorization", BASIC))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path(format!("{PREFIX}/rest/v1/rule/r2/state")))
        .and(header("authorization", new_basic.as_str()))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&server)
        .await;
    catch_all(&server).await;

    let client = client(&server);
    let clone = client.clone();
    client
        .set_rule_state("r1", RuleState::Enabled)
        .await
        .unwrap();
    client
        .set_credentials(ApiCredentials::new(EMAIL, ApiToken::new(new_token)))
        .unwrap();
    clone
        .set_rule_state("r2", RuleState::Enabled)
        .await
        .unwrap();

    let bad = client.set_credentials(ApiCredentials::new(
        "a:b@example.com",
        ApiToken::new(new_token),
    ));
    assert!(matches!(bad, Err(Error::InvalidInput { .. })));
}

#[tokio::test]
async fn site_base_joins_the_gateway_path_and_escapes_the_cloud_id() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(
            "/gateway/api/automation/public/confluence/cloud%2Fid/rest/v1/rule/r1",
        ))
        .and(header("authorization", BASIC))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"rule": {"uuid": "r1"}, "connections": []})),
        )
        .expect(1)
        .mount(&server)
        .await;
    catch_all(&server).await;
    let client = AutomationClient::builder(creds())
        .site(server.uri(), Product::Confluence, "cloud/id")
        .build()
        .unwrap();
    assert_eq!(client.get_rule("r1").await.unwrap().rule.uuid(), Some("r1"));
    assert!(!format!("{client:?}").contains(TOKEN));
    let cloud = AutomationClient::builder(creds())
        .cloud(Product::Jira, CLOUD)
        .build()
        .unwrap();
    assert_eq!(
        cloud.base_url().as_str(),
        format!("https://api.atlassian.com{PREFIX}")
    );
}
