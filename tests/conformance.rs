//! Conformance with Atlassian's published OpenAPI specs (in `../shared/conformance/specs` beside
//! the repository, or under `$ATLASSIAN_ROTATION_CONFORMANCE_DIR`; read at test time, never
//! copied; missing data fails the tests): for every endpoint the clients cover, the
//! request goes to the spec's path with the spec's method, every body field sent is one the spec
//! defines (and every required one is there), and the response the spec describes (its
//! examples, or an instance built from the schema and its property examples) decodes.

mod support;

use atlassian_rotation::automation::{AutomationClient, RuleState, SearchRequest};
use atlassian_rotation::error::ErrorBody;
use atlassian_rotation::jira::JiraClient;
use atlassian_rotation::secret::{AdminApiKey, ApiCredentials, ApiToken};
use atlassian_rotation::{AdminClient, Error};
use futures::TryStreamExt as _;
use serde_json::{Map, Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

struct Spec {
    doc: Value,
}

impl Spec {
    /// The spec file from the reference data; a missing file or directory fails the test,
    /// saying where it was expected.
    fn load(name: &str) -> Self {
        let file = support::conformance().spec(name);
        let bytes =
            std::fs::read(&file).unwrap_or_else(|e| panic!("reading {}: {e}", file.display()));
        let mut doc: Value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|e| panic!("{} is not JSON: {e}", file.display()));
        doc.as_object_mut()
            .unwrap_or_else(|| panic!("{} is not a JSON object", file.display()))
            .remove("_meta");
        Self { doc }
    }

    fn resolve<'a>(&'a self, schema: &'a Value) -> &'a Value {
        match schema.get("$ref").and_then(Value::as_str) {
            Some(r) => self.resolve(
                self.doc
                    .pointer(r.trim_start_matches('#'))
                    .unwrap_or_else(|| panic!("unresolved {r}")),
            ),
            None => schema,
        }
    }

    /// An instance of `schema`: its example when it has one, else one built from its parts.
    fn example(&self, schema: &Value, depth: usize) -> Value {
        let schema = self.resolve(schema);
        if let Some(example) = schema.get("example") {
            return example.clone();
        }
        if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
            let mut merged = Map::new();
            for part in all {
                if let Value::Object(o) = self.example(part, depth) {
                    merged.extend(o);
                }
            }
            return Value::Object(merged);
        }
        if let Some(first) = ["oneOf", "anyOf"]
            .iter()
            .find_map(|k| schema.get(*k).and_then(Value::as_array))
            .and_then(|v| v.first())
        {
            return self.example(first, depth);
        }
        if let Some(first) = schema
            .get("enum")
            .and_then(Value::as_array)
            .and_then(|v| v.first())
        {
            return first.clone();
        }
        match schema.get("type").and_then(Value::as_str) {
            Some("array") if depth < 6 => json!([self.example(&schema["items"], depth + 1)]),
            Some("array") => json!([]),
            Some("integer") => json!(1),
            Some("number") => json!(1.5),
            Some("boolean") => json!(true),
            Some("string") => match schema.get("format").and_then(Value::as_str) {
                Some("date-time") => json!("2026-01-01T00:00:00.000Z"),
                _ => json!("string"),
            },
            _ => {
                let mut out = Map::new();
                if depth < 6 {
                    for (name, prop) in schema
                        .get("properties")
                        .and_then(Value::as_object)
                        .into_iter()
                        .flatten()
                    {
                        out.insert(name.clone(), self.example(prop, depth + 1));
                    }
                }
                Value::Object(out)
            }
        }
    }

    fn operation(&self, path: &str, method: &str) -> &Value {
        self.doc["paths"]
            .get(path)
            .and_then(|p| p.get(method))
            .unwrap_or_else(|| panic!("the spec has no {method} {path}"))
    }

    fn response(&self, path: &str, method: &str, code: &str) -> Value {
        let content =
            &self.operation(path, method)["responses"][code]["content"]["application/json"];
        match content.get("example") {
            // Some specs hold the example as a JSON text.
            Some(Value::String(text)) => serde_json::from_str(text).unwrap(),
            Some(example) => example.clone(),
            None => self.example(&content["schema"], 0),
        }
    }

    /// Asserts that `body` only holds properties the request schema defines, and all it requires.
    fn check_request_body(&self, path: &str, method: &str, body: &Value) {
        let schema = self.resolve(
            &self.operation(path, method)["requestBody"]["content"]["application/json"]["schema"],
        );
        let properties = schema["properties"].as_object().expect("object schema");
        for key in body.as_object().unwrap().keys() {
            assert!(
                properties.contains_key(key),
                "{method} {path}: `{key}` is not in the spec"
            );
        }
        for required in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let required = required.as_str().unwrap();
            assert!(
                body.get(required).is_some(),
                "{method} {path}: required `{required}` missing"
            );
        }
    }
}

/// Serves `body` for `verb` on `at` and returns what the client sent there.
async fn serve(server: &MockServer, verb: &str, at: &str, status: u16, body: Value) {
    Mock::given(method(verb))
        .and(path(at))
        .respond_with(ResponseTemplate::new(status).set_body_json(body))
        .mount(server)
        .await;
}

async fn sent(server: &MockServer, verb: &str, at: &str) -> Vec<Request> {
    server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.method.as_str() == verb && r.url.path() == at)
        .collect()
}

fn creds() -> ApiCredentials {
    ApiCredentials::new("ops@example.com", ApiToken::new("ATATT-conformance"))
}

#[tokio::test]
async fn automation_calls_match_the_automation_spec() {
    let spec = Spec::load("automation-rest-api.swagger.v3.json");
    let server = MockServer::start().await;
    let prefix = "/automation/public/jira/cloud-1";
    let client = AutomationClient::builder(creds())
        .base_url(format!("{}{prefix}", server.uri()))
        .build()
        .unwrap();
    let summary_path = format!("{prefix}/rest/v1/rule/summary");
    let mut page = spec.response("/rest/v1/rule/summary", "get", "200");
    page["links"]["next"] = Value::Null; // one page: the example's cursor would loop
    serve(&server, "GET", &summary_path, 200, page).await;
    let summaries: Vec<_> = client
        .rule_summaries(50)
        .try_collect()
        .await
        .expect("the spec's summary page decodes");
    assert!(!summaries.is_empty());

    let mut search = spec.response("/rest/v1/rule/summary", "post", "200");
    search["links"]["next"] = Value::Null;
    serve(&server, "POST", &summary_path, 200, search).await;
    let request = SearchRequest::new()
        .state(RuleState::Enabled)
        .trigger("jira.manual.trigger.issue")
        .limit(10);
    let found = client.search_rule_summaries(&request).await.unwrap();
    assert!(!found.summaries.is_empty());
    let body: Value = sent(&server, "POST", &summary_path).await[0]
        .body_json()
        .unwrap();
    spec.check_request_body("/rest/v1/rule/summary", "post", &body);

    let rule_path = format!("{prefix}/rest/v1/rule/0192-uuid");
    let rule = spec.response("/rest/v1/rule/{ruleUuid}", "get", "200");
    serve(&server, "GET", &rule_path, 200, rule.clone()).await;
    let document = client
        .get_rule("0192-uuid")
        .await
        .expect("the spec's rule decodes");
    assert_eq!(serde_json::to_value(&document).unwrap(), rule, "lossless");

    let answer = spec.response("/rest/v1/rule/{ruleUuid}", "put", "200");
    serve(&server, "PUT", &rule_path, 200, answer).await;
    client.update_rule("0192-uuid", &document).await.unwrap();
    let body: Value = sent(&server, "PUT", &rule_path).await[0]
        .body_json()
        .unwrap();
    spec.check_request_body("/rest/v1/rule/{ruleUuid}", "put", &body);

    let state_path = format!("{rule_path}/state");
    serve(&server, "PUT", &state_path, 204, json!({})).await;
    client
        .set_rule_state("0192-uuid", RuleState::Disabled)
        .await
        .unwrap();
    let body: Value = sent(&server, "PUT", &state_path).await[0]
        .body_json()
        .unwrap();
    spec.check_request_body("/rest/v1/rule/{ruleUuid}/state", "put", &body);

    let error = spec.response("/rest/v1/rule/{ruleUuid}/state", "put", "400");
    let bad_state = format!("{prefix}/rest/v1/rule/bad/state");
    serve(&server, "PUT", &bad_state, 400, error).await;
    let err = client
        .set_rule_state("bad", RuleState::Enabled)
        .await
        .unwrap_err();
    match err {
        Error::Api(api) => assert!(
            matches!(api.body, ErrorBody::Automation(ref items) if !items.is_empty()),
            "{:?}",
            api.body
        ),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn admin_calls_match_the_user_management_and_organization_specs() {
    let users = Spec::load("admin-user-management.swagger.v3.cnspec.json");
    let orgs = Spec::load("admin-organization.swagger.v3.cnspec.json");
    let server = MockServer::start().await;
    let admin = AdminClient::builder(AdminApiKey::new("admin-key"))
        .base_url(server.uri())
        .build()
        .unwrap();

    let tokens = users.response("/users/{account_id}/manage/api-tokens", "get", "200");
    serve(
        &server,
        "GET",
        "/users/acc-1/manage/api-tokens",
        200,
        tokens,
    )
    .await;
    let listed = admin
        .user_api_tokens("acc-1")
        .try_collect::<Vec<_>>()
        .await
        .expect("the spec's token list decodes");
    assert!(!listed.is_empty());

    users.operation("/users/{account_id}/manage/api-tokens/{tokenId}", "delete");
    Mock::given(method("DELETE"))
        .and(path("/users/acc-1/manage/api-tokens/tok-1"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    admin.revoke_user_api_token("acc-1", "tok-1").await.unwrap();

    // The organization spec's server is https://api.atlassian.com/admin.
    let org = orgs.response("/v1/orgs/{orgId}", "get", "200");
    serve(&server, "GET", "/admin/v1/orgs/org-1", 200, org).await;
    admin
        .check_key("org-1")
        .await
        .expect("the spec's organization decodes");
}

#[tokio::test]
async fn the_jira_identity_check_matches_the_platform_spec() {
    let spec = Spec::load("jira-platform-swagger-v3.v3.json");
    let server = MockServer::start().await;
    let me = spec.response("/rest/api/3/myself", "get", "200");
    serve(&server, "GET", "/rest/api/3/myself", 200, me.clone()).await;
    let account = JiraClient::builder(creds())
        .base_url(server.uri())
        .build()
        .unwrap()
        .myself()
        .await
        .expect("the spec's user example decodes");
    assert_eq!(Some(account.account_id.as_str()), me["accountId"].as_str());
}

/// The one locator of the reference data fails, naming the place, on a missing directory and on
/// a copy holding fewer files than expected; it accepts the real data.
#[test]
fn the_reference_data_locator_refuses_missing_or_incomplete_data() {
    use support::{CONFORMANCE_LAYOUT, Conformance};

    let empty = tempfile::tempdir().unwrap();
    let missing = empty.path().join("conformance");
    let why = Conformance::at(missing.clone(), "test").unwrap_err();
    assert!(why.contains("not found"), "{why}");
    assert!(why.contains(&missing.display().to_string()), "{why}");

    let why = Conformance::at(empty.path().to_path_buf(), "test").unwrap_err();
    assert!(why.contains("incomplete"), "{why}");

    // Every directory there, one file short in the last.
    let partial = tempfile::tempdir().unwrap();
    for (i, &(sub, least)) in CONFORMANCE_LAYOUT.iter().enumerate() {
        let dir = partial.path().join(sub);
        std::fs::create_dir_all(&dir).unwrap();
        let count = if i + 1 == CONFORMANCE_LAYOUT.len() {
            least - 1
        } else {
            least
        };
        for n in 0..count {
            std::fs::write(dir.join(format!("{n}.json")), "{}").unwrap();
        }
    }
    let why = Conformance::at(partial.path().to_path_buf(), "test").unwrap_err();
    let (last, least) = CONFORMANCE_LAYOUT[CONFORMANCE_LAYOUT.len() - 1];
    assert!(
        why.contains(last) && why.contains(&format!("expected at least {least}")),
        "{why}"
    );

    let real = support::conformance();
    assert!(real.root().is_dir());
}
