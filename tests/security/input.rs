//! Input the clients refuse before sending, and input they escape so it stays what it is.

use super::*;

/// Every call that takes an id into its path, with `id` in that place.
async fn calls_with_id(c: &Clients, id: &str) -> Vec<(&'static str, Result<(), Error>)> {
    let doc = RuleDocument::new(Rule::new("r"));
    let first_page = |s: atlassian_rotation::Paginated<_>| async move {
        let mut s = s;
        s.next().await.transpose().map(drop)
    };
    vec![
        (
            "regenerate org",
            c.admin.regenerate_tunnel_key(id, "host").await.map(drop),
        ),
        (
            "regenerate host",
            c.admin.regenerate_tunnel_key("org", id).await.map(drop),
        ),
        ("check_key", c.admin.check_key(id).await.map(drop)),
        (
            "user tokens",
            c.admin
                .user_api_tokens(id)
                .try_collect::<Vec<_>>()
                .await
                .map(drop),
        ),
        (
            "revoke account",
            c.admin.revoke_user_api_token(id, "t").await,
        ),
        ("revoke token", c.admin.revoke_user_api_token("a", id).await),
        (
            "org tokens",
            first_page(c.admin.org_api_tokens(id, Default::default())).await,
        ),
        ("get rule", c.automation.get_rule(id).await.map(drop)),
        ("put rule", c.automation.update_rule(id, &doc).await),
        (
            "rule state",
            c.automation
                .set_rule_state(id, atlassian_rotation::automation::RuleState::Enabled)
                .await,
        ),
    ]
}

#[tokio::test]
async fn dot_segments_empty_and_overlong_ids_are_refused_before_any_request() {
    let server = server().await; // its catch-all expects no request at all
    let c = clients(&server);
    let overlong = "x".repeat(1025);
    for id in ["..", ".", "", overlong.as_str(), "a\u{0}b", "a\nb"] {
        for (call, result) in calls_with_id(&c, id).await {
            assert!(
                matches!(result, Err(Error::InvalidInput { .. })),
                "{call} with {id:?}: {result:?}"
            );
        }
    }
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn slash_percent_question_and_hash_stay_inside_one_segment() {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(404))
        .mount(&server)
        .await;
    let c = clients(&server);
    let cases = [
        ("a/b", "a%2Fb"),
        ("a%2Fb", "a%252Fb"),
        ("a?b=c", "a%3Fb=c"),
        ("a#b", "a%23b"),
        ("../x", "..%2Fx"),
    ];
    for (id, escaped) in cases {
        let got = c.automation.get_rule(id).await.unwrap_err();
        assert!(got.is_not_found(), "{got}");
        let seen = server.received_requests().await.unwrap();
        let last = seen.last().unwrap();
        assert_eq!(
            last.url.path(),
            format!("/automation/public/jira/c-1/rest/v1/rule/{escaped}"),
            "{id:?}"
        );
        assert_eq!(last.url.query(), None, "{id:?}");
        assert_eq!(last.url.fragment(), None, "{id:?}");
    }
    let _ = c
        .admin
        .revoke_user_api_token("acc/../x", "t?k#1")
        .await
        .unwrap_err();
    let seen = server.received_requests().await.unwrap();
    assert_eq!(
        seen.last().unwrap().url.path(),
        "/users/acc%2F..%2Fx/manage/api-tokens/t%3Fk%231"
    );
}

#[test]
fn header_breaking_characters_in_credentials_are_refused_without_echo() {
    let base = "https://example.atlassian.net";
    let bad_values = [
        "SEKRIT\r\nX-Evil: 1",
        "SEKRIT\nen",
        "SEKRIT\0en",
        "SEKRIT-tökén",
        "SEKRIT en",
    ];
    for bad in bad_values {
        let mut errors: Vec<(&str, Error)> = Vec::new();
        let token = ApiCredentials::new("svc@example.com", ApiToken::new(bad));
        let email = ApiCredentials::new(format!("svc{bad}@example.com"), ApiToken::new("t0k"));
        for (what, c) in [("token", &token), ("email", &email)] {
            let jira = JiraClient::builder(c.clone()).base_url(base);
            errors.push((what, jira.build().unwrap_err()));
            let automation = AutomationClient::builder(c.clone()).cloud(Product::Jira, "c");
            errors.push((what, automation.build().unwrap_err()));
            errors.push((what, c.basic_header().unwrap_err()));
        }
        errors.push((
            "admin key",
            AdminClient::builder(AdminApiKey::new(bad))
                .build()
                .unwrap_err(),
        ));
        let pat = InstanceAuth::PersonalAccessToken(PersonalAccessToken::new(bad));
        errors.push((
            "PAT",
            InstanceClient::builder(pat)
                .base_url(base)
                .build()
                .unwrap_err(),
        ));
        // A DC password or username travels base64-encoded: spaces and non-ASCII are
        // legitimate there, control characters are not.
        if bad.chars().any(char::is_control) {
            let basic = InstanceAuth::basic("admin", Password::new(bad));
            errors.push((
                "password",
                InstanceClient::builder(basic)
                    .base_url(base)
                    .build()
                    .unwrap_err(),
            ));
            let basic = InstanceAuth::basic(bad, Password::new("pw"));
            errors.push((
                "username",
                InstanceClient::builder(basic)
                    .base_url(base)
                    .build()
                    .unwrap_err(),
            ));
        }
        let admin = AdminClient::builder(AdminApiKey::new("fine"))
            .build()
            .unwrap();
        errors.push((
            "replacement admin key",
            admin.set_credentials(AdminApiKey::new(bad)).unwrap_err(),
        ));
        let fine = ApiCredentials::new("svc@example.com", ApiToken::new("t0k"));
        let jira = JiraClient::builder(fine.clone()).base_url(base);
        let jira = jira.build().unwrap();
        let automation = AutomationClient::builder(fine).cloud(Product::Jira, "c");
        let automation = automation.build().unwrap();
        for (what, c) in [("replacement token", &token), ("replacement email", &email)] {
            errors.push((what, jira.set_credentials(c.clone()).unwrap_err()));
            errors.push((what, automation.set_credentials(c.clone()).unwrap_err()));
        }
        let pat = |value: &str| InstanceAuth::PersonalAccessToken(PersonalAccessToken::new(value));
        let instance = InstanceClient::builder(pat("fine")).base_url(base);
        errors.push((
            "replacement PAT",
            instance
                .build()
                .unwrap()
                .set_credentials(pat(bad))
                .unwrap_err(),
        ));
        for (what, err) in errors {
            assert!(
                matches!(err, Error::InvalidInput { .. }),
                "{what} {bad:?}: {err:?}"
            );
            let text = format!("{err} {err:?}");
            assert!(
                !text.contains(bad),
                "{what}: the error echoes the value: {text}"
            );
            assert!(
                !text.contains("SEKRIT"),
                "{what}: the error echoes part of it: {text}"
            );
        }
    }
}

#[tokio::test]
async fn a_body_over_the_cap_is_body_too_large_and_not_kept() {
    let server = server().await;
    let huge = format!(r#"{{"accountId": "{}"}}"#, "SECRETISH".repeat(10_000));
    Mock::given(method("GET"))
        .and(path("/rest/api/3/myself"))
        .respond_with(ResponseTemplate::new(200).set_body_string(huge))
        .expect(1)
        .mount(&server)
        .await;
    let jira = JiraClient::builder(creds())
        .base_url(server.uri())
        .options(options().max_body_bytes(4096))
        .build()
        .unwrap();
    let err = jira.myself().await.unwrap_err();
    assert!(
        matches!(err, Error::BodyTooLarge { limit: 4096, .. }),
        "{err:?}"
    );
    assert!(!format!("{err} {err:?}").contains("SECRETISH"));
}

#[tokio::test]
async fn a_next_link_to_another_origin_is_refused_and_never_requested() {
    let elsewhere = server().await; // expects nothing
    let server = server().await;
    let next = format!(
        "{}/automation/public/jira/c-1/rest/v1/rule/summary?cursor=x",
        elsewhere.uri()
    );
    Mock::given(method("GET"))
        .and(path("/automation/public/jira/c-1/rest/v1/rule/summary"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": [{"uuid": "r-1", "name": "one", "state": "ENABLED"}],
            "links": {"next": next},
        })))
        .expect(1)
        .mount(&server)
        .await;
    let next = format!(
        "{}/admin/api-access/v1/orgs/o-1/api-tokens?cursor=x",
        elsewhere.uri()
    );
    Mock::given(method("GET"))
        .and(path("/admin/api-access/v1/orgs/o-1/api-tokens"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": [], "links": {"next": next},
        })))
        .expect(1)
        .mount(&server)
        .await;
    let c = clients(&server);

    let mut rules = c.automation.rule_summaries(10);
    assert_eq!(rules.next().await.unwrap().unwrap().uuid, "r-1");
    let err = rules.next().await.unwrap().unwrap_err();
    assert!(matches!(err, Error::InvalidInput { .. }), "{err:?}");
    assert!(err.to_string().contains("pagination link"), "{err}");

    let mut tokens = c.admin.org_api_tokens("o-1", Default::default());
    let err = tokens.next().await.unwrap().unwrap_err();
    assert!(matches!(err, Error::InvalidInput { .. }), "{err:?}");
}

/// Servers sometimes quote the request back in an error. A rule PUT's credentials and the
/// request's own Authorization never survive into the error, its Debug or its Display.
#[tokio::test]
async fn credentials_quoted_back_in_error_bodies_are_redacted() {
    use atlassian_rotation::automation::{AutomationClient, Rule, RuleDocument};
    use atlassian_rotation::jira::JiraClient;
    use atlassian_rotation::secret::{ApiCredentials, ApiToken};
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    let server = MockServer::start().await;
    let rule_token = "ATATT3xFfGF0-rule-header-secret-0123456789";
    let basic = crate::support::base64_of(&format!("svc@example.com:{rule_token}"));
    Mock::given(method("PUT"))
        .and(path("/a/rest/v1/rule/r1"))
        .respond_with(ResponseTemplate::new(400).set_body_json(serde_json::json!({"errors": [{
            "code": "INVALID", "title": format!("Header value 'Bearer {rule_token}' is invalid"),
            "detail": format!("also Basic {basic} and the token {rule_token} alone")
        }]})))
        .mount(&server)
        .await;
    let caller = ApiCredentials::new(
        "ops@example.com",
        ApiToken::new("ATATT-caller-secret-777777"),
    );
    Mock::given(method("GET"))
        .and(path("/rest/api/3/myself"))
        .respond_with(
            ResponseTemplate::new(401)
                .set_body_string("Bad credentials: ATATT-caller-secret-777777 for ops@example.com"),
        )
        .mount(&server)
        .await;

    let client = AutomationClient::builder(caller.clone())
        .base_url(format!("{}/a", server.uri()))
        .build()
        .unwrap();
    let rule = Rule::from_value(
        serde_json::json!({"name": "r", "components": [{"value": {"headers": [
            {"name": "Authorization", "value": format!("Bearer {rule_token}")},
            {"name": "X-Basic", "value": format!("Basic {basic}")}
        ]}}]}),
    )
    .unwrap();
    let err = client
        .update_rule("r1", &RuleDocument::new(rule))
        .await
        .unwrap_err();
    let shown = format!("{err} {err:?}");
    assert!(
        shown.contains("is invalid"),
        "the message survives: {shown}"
    );
    assert!(!shown.contains(rule_token), "{shown}");
    assert!(!shown.contains(&basic), "{shown}");

    let err = JiraClient::builder(caller.clone())
        .base_url(server.uri())
        .build()
        .unwrap()
        .myself()
        .await
        .unwrap_err();
    let shown = format!("{err} {err:?}");
    assert!(shown.contains("Bad credentials"), "{shown}");
    assert!(!shown.contains("ATATT-caller-secret-777777"), "{shown}");
}
