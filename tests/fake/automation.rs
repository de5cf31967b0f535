//! Automation REST API routes and the rule generator.

use std::time::Duration;

use atlassian_rotation::secret::ApiCredentials;
use atlassian_rotation::testing::{LinkStyle, RuleSeed, RuleStats};
use serde_json::{Value, json};

use super::{World, http, send, with_json, world};

const CLOUD: &str = "4e119cf2-0000-4000-8000-00000000c10d";

/// A rule with the fields and nesting the API returns, and fields the fake knows nothing about.
fn rule(name: &str, state: &str) -> Value {
    json!({
        "name": name,
        "state": state,
        "zzUnknownField": {"kept": [1, 2.5, null]},
        "trigger": {"component": "TRIGGER", "type": "jira.manual.trigger.issue", "value": {}},
        "components": [{
            "component": "BRANCH", "type": "jira.issue.related", "id": "b1",
            "children": [{"component": "ACTION", "type": "jira.issue.outgoing.webhook",
                "value": {"url": "https://x.example.test", "headers": []}}],
        }],
        "ruleScopeARIs": [format!("ari:cloud:jira:{CLOUD}:project/10001")],
    })
}

/// `(gets, puts, state_puts)` of a rule.
fn stats(w: &World, uuid: &str) -> (u32, u32, u32) {
    let RuleStats {
        gets,
        puts,
        state_puts,
        ..
    } = w.fake.rule_stats(uuid).expect("a stored rule");
    (gets, puts, state_puts)
}

fn summary_url(w: &World) -> String {
    format!("{}/rest/v1/rule/summary", w.fake.automation_base(CLOUD))
}

fn rule_url(w: &World, uuid: &str) -> String {
    format!("{}/rest/v1/rule/{uuid}", w.fake.automation_base(CLOUD))
}

async fn names_on_page(w: &World, url: &str) -> (Vec<String>, Value) {
    let got = send(w.basic(http().get(url))).await;
    assert_eq!(got.status, 200, "{}", String::from_utf8_lossy(&got.body));
    let body = got.json();
    let names = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_owned())
        .collect();
    (names, body["links"].clone())
}

#[tokio::test]
async fn summaries_page_by_limit_and_max_with_query_string_links() {
    let w = world().await;
    for i in 0..5 {
        w.fake.add_rule(CLOUD, rule(&format!("r{i}"), "ENABLED"));
    }
    w.fake
        .add_rule("another-cloud", rule("elsewhere", "ENABLED"));
    let (names, links) = names_on_page(&w, &format!("{}?limit=2", summary_url(&w))).await;
    assert_eq!(names, ["r0", "r1"]);
    let next = links["next"].as_str().unwrap();
    assert!(
        next.starts_with("?cursor=") && next.ends_with("&limit=2"),
        "{next}"
    );
    assert!(links["prev"].is_null());

    let (names, links) = names_on_page(&w, &format!("{}{next}", summary_url(&w))).await;
    assert_eq!(names, ["r2", "r3"]);
    let next = links["next"].as_str().unwrap().to_owned();
    let (names, links) = names_on_page(&w, &format!("{}{next}", summary_url(&w))).await;
    assert_eq!(names, ["r4"]);
    assert!(links["next"].is_null());

    // The configured maximum caps a larger limit; no limit means 100.
    w.fake.set_rule_page_max(3);
    let (names, _) = names_on_page(&w, &format!("{}?limit=100", summary_url(&w))).await;
    assert_eq!(names.len(), 3);
    w.fake.set_rule_page_max(100);
    w.fake.set_link_style(LinkStyle::FullUrl);
    let (names, links) = names_on_page(&w, &summary_url(&w)).await;
    assert_eq!(names.len(), 5);
    assert!(links["next"].is_null());
    let (_, links) = names_on_page(&w, &format!("{}?limit=4", summary_url(&w))).await;
    assert!(
        links["next"]
            .as_str()
            .unwrap()
            .starts_with(&summary_url(&w))
    );

    let got = send(w.basic(http().get(summary_url(&w)))).await.json();
    let first = &got["data"][0];
    assert_eq!(first["state"], "ENABLED");
    assert!(first["uuid"].is_string());
    assert_eq!(
        first["ruleScopeARIs"][0],
        format!("ari:cloud:jira:{CLOUD}:project/10001")
    );
}

#[tokio::test]
async fn a_limit_outside_1_to_100_is_a_400_in_atlassian_shape() {
    let w = world().await;
    for limit in ["0", "101", "ten"] {
        let got = send(w.basic(http().get(format!("{}?limit={limit}", summary_url(&w))))).await;
        assert_eq!(got.status, 400, "limit {limit}");
        let error = got.first_error();
        assert_eq!(error["status"], "400");
        assert_eq!(error["code"], "api.validation.outside-range");
        assert!(error["title"].as_str().unwrap().contains("[1,100]"));
        assert!(error["id"].is_string());
    }
}

#[tokio::test(start_paused = true)]
async fn a_stale_or_expired_rule_cursor_is_a_400() {
    let w = world().await;
    for i in 0..3 {
        w.fake.add_rule(CLOUD, rule(&format!("r{i}"), "ENABLED"));
    }
    let first = format!("{}?limit=1", summary_url(&w));
    let (_, links) = names_on_page(&w, &first).await;
    let next = format!("{}{}", summary_url(&w), links["next"].as_str().unwrap());

    tokio::time::advance(Duration::from_secs(3599)).await;
    let (names, _) = names_on_page(&w, &next).await;
    assert_eq!(names, ["r1"]);

    tokio::time::advance(Duration::from_secs(2)).await;
    let stale = send(w.basic(http().get(&next))).await;
    assert_eq!(stale.status, 400);
    assert_eq!(stale.first_error()["code"], "api.validation.invalid-cursor");

    let (_, links) = names_on_page(&w, &first).await;
    let fresh = format!("{}{}", summary_url(&w), links["next"].as_str().unwrap());
    w.fake.expire_cursors();
    assert_eq!(send(w.basic(http().get(&fresh))).await.status, 400);
}

#[tokio::test]
async fn search_filters_by_state_and_needs_a_query() {
    let w = world().await;
    w.fake.add_rule(CLOUD, rule("on-1", "ENABLED"));
    w.fake.add_rule(CLOUD, rule("off-1", "DISABLED"));
    w.fake.add_rule(CLOUD, rule("on-2", "ENABLED"));
    w.fake.add_rule(CLOUD, rule("off-2", "DISABLED"));
    let url = summary_url(&w);

    let page = send(w.basic(with_json(
        http().post(&url),
        &json!({"state": "DISABLED", "limit": 1}),
    )))
    .await;
    assert_eq!(page.status, 200);
    let body = page.json();
    assert_eq!(body["data"][0]["name"], "off-1");
    let cursor = body["links"]["next"]
        .as_str()
        .unwrap()
        .trim_start_matches("?cursor=");
    let cursor = cursor.split('&').next().unwrap();
    let page2 = send(w.basic(with_json(http().post(&url), &json!({"cursor": cursor})))).await;
    let body2 = page2.json();
    assert_eq!(body2["data"].as_array().unwrap().len(), 1);
    assert_eq!(body2["data"][0]["name"], "off-2");
    assert!(body2["links"]["next"].is_null());

    let scoped = json!({"scope": format!("ari:cloud:jira:{CLOUD}:project/10001"), "trigger": "jira.manual.trigger.issue"});
    let all = send(w.basic(with_json(http().post(&url), &scoped)))
        .await
        .json();
    assert_eq!(all["data"].as_array().unwrap().len(), 4);

    for bad in [json!({}), json!({"state": "PAUSED"}), json!([1])] {
        let got = send(w.basic(with_json(http().post(&url), &bad))).await;
        assert_eq!(got.status, 400, "{bad}");
        assert!(got.first_error()["code"].is_string());
    }
}

#[tokio::test]
async fn get_and_put_round_trip_rules_verbatim_and_count_calls() {
    let w = world().await;
    let uuid = w.fake.add_rule(CLOUD, rule("verbatim", "ENABLED"));
    let url = rule_url(&w, &uuid);

    let got = send(w.basic(http().get(&url))).await;
    assert_eq!(got.status, 200);
    let body = got.json();
    assert_eq!(body["rule"], w.fake.rule(&uuid).unwrap());
    assert_eq!(body["connections"], json!([]));

    let mut changed = body["rule"].clone();
    changed["components"][0]["children"][0]["value"]["headers"] =
        json!([{"name": "Authorization", "value": "Bearer new", "headerSecure": true}]);
    changed["aNewField"] = json!("the fake keeps what it does not know");
    let written = send(w.basic(with_json(
        http().put(&url),
        &json!({"rule": changed, "connections": []}),
    )))
    .await;
    assert_eq!(written.status, 200);
    assert_eq!(written.json(), json!({"ruleUuid": uuid}));
    let stored = w.fake.rule(&uuid).unwrap();
    assert_eq!(
        stored.to_string(),
        changed.to_string(),
        "stored verbatim, key order kept"
    );
    assert_eq!(stats(&w, &uuid), (1, 1, 0));

    for (body, field) in [
        ("{not json".to_owned(), None),
        (json!({"connections": []}).to_string(), Some("rule")),
        (json!({"rule": "text"}).to_string(), Some("rule")),
    ] {
        let bad = send(
            w.basic(
                http()
                    .put(&url)
                    .header("Content-Type", "application/json")
                    .body(body),
            ),
        )
        .await;
        assert_eq!(bad.status, 400);
        let error = bad.first_error();
        assert_eq!(error["status"], "400");
        assert!(error["code"].is_string() && error["title"].is_string());
        assert_eq!(error["field"].as_str(), field);
    }
    assert_eq!(
        w.fake.rule(&uuid).unwrap(),
        stored,
        "a refused PUT changes nothing"
    );
    assert_eq!(w.fake.rule_stats(&uuid).unwrap().puts, 1);

    let unknown = rule_url(&w, "0192e5ac-0000-4000-8000-000000000000");
    assert_eq!(send(w.basic(http().get(&unknown))).await.status, 404);
    let put_unknown = send(w.basic(with_json(http().put(&unknown), &json!({"rule": {}})))).await;
    assert_eq!(put_unknown.status, 404);
}

#[tokio::test]
async fn state_changes_and_auth_is_checked_on_every_rule_route() {
    let w = world().await;
    let uuid = w.fake.add_rule(CLOUD, rule("toggle", "ENABLED"));
    let state_url = format!("{}/state", rule_url(&w, &uuid));
    let off = send(w.basic(with_json(
        http().put(&state_url),
        &json!({"value": "DISABLED"}),
    )))
    .await;
    assert_eq!(off.status, 200);
    assert_eq!(w.fake.rule(&uuid).unwrap()["state"], "DISABLED");
    let bad = send(w.basic(with_json(http().put(&state_url), &json!({"value": "OFF"})))).await;
    assert_eq!(bad.status, 400);
    assert_eq!(bad.first_error()["field"], "value");
    assert_eq!(w.fake.rule_stats(&uuid).unwrap().state_puts, 1);

    assert!(w.fake.revoke_api_token(&w.token_id));
    let requests = [
        w.basic(http().get(summary_url(&w))),
        w.basic(with_json(
            http().post(summary_url(&w)),
            &json!({"limit": 5}),
        )),
        w.basic(http().get(rule_url(&w, &uuid))),
        w.basic(with_json(
            http().put(rule_url(&w, &uuid)),
            &json!({"rule": {}}),
        )),
        w.basic(with_json(
            http().put(&state_url),
            &json!({"value": "ENABLED"}),
        )),
        http().get(rule_url(&w, &uuid)),
    ];
    for request in requests {
        let got = send(request).await;
        assert_eq!(got.status, 401);
        assert_eq!(got.first_error()["status"], "401");
    }
    assert_eq!(w.fake.rule(&uuid).unwrap()["state"], "DISABLED");
    assert_eq!(stats(&w, &uuid), (0, 0, 1));
}

#[tokio::test]
async fn the_gateway_base_serves_the_same_rules() {
    let w = world().await;
    let uuid = w.fake.add_rule(CLOUD, rule("shared", "ENABLED"));
    let url = format!(
        "{}/rest/v1/rule/{uuid}",
        w.fake.gateway_automation_base(CLOUD)
    );
    let got = send(w.basic(http().get(&url))).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.json()["rule"]["name"], "shared");
    w.fake.set_link_style(LinkStyle::FullUrl);
    let list = format!(
        "{}/rest/v1/rule/summary?limit=1",
        w.fake.gateway_automation_base(CLOUD)
    );
    w.fake.add_rule(CLOUD, rule("second", "ENABLED"));
    let body = send(w.basic(http().get(&list))).await.json();
    let next = body["links"]["next"].as_str().unwrap();
    assert!(
        next.starts_with(&w.fake.gateway_automation_base(CLOUD)),
        "{next}"
    );
}

#[tokio::test]
async fn seeded_rules_hold_the_credential_in_the_requested_share_and_are_served() {
    let w = world().await;
    let creds = ApiCredentials::new(&w.user.email, w.token.clone());
    let seed = RuleSeed::new(20)
        .with_token(&w.user.email, w.token.clone())
        .fraction_with_token(0.4);
    let uuids = w.fake.seed_rules(CLOUD, seed);
    assert_eq!(uuids.len(), 20);
    assert_eq!(w.fake.rule_uuids(CLOUD), uuids);
    let holding = w.fake.rules_holding(&creds);
    assert_eq!(holding.len(), 8);

    // Every seeded rule is a full rule the API serves, authored by the token's user.
    let (names, _) = names_on_page(&w, &summary_url(&w)).await;
    assert_eq!(names.len(), 20);
    let body = send(w.basic(http().get(rule_url(&w, &holding[0]))))
        .await
        .json();
    let rule = &body["rule"];
    assert_eq!(rule["uuid"], holding[0].as_str());
    assert_eq!(rule["authorAccountId"], w.user.account_id.as_str());
    for field in ["trigger", "components", "name", "state", "actor"] {
        assert!(!rule[field].is_null(), "{field}");
    }
    assert!(rule.to_string().contains("jira.issue.outgoing.webhook"));

    // Without a token, no rule holds it.
    let other = RuleSeed::new(10).seed(9);
    w.fake.seed_rules("cloud-2", other);
    assert_eq!(w.fake.rules_holding(&creds).len(), 8);
}
