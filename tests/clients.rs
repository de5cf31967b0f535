//! The one construction pattern every client shares: `Client::builder(credential)`, a base URL
//! that is where requests go, a location a client cannot do without, credentials swapped at
//! runtime for every clone, builders that never show the credential, and listings that all
//! stream the same way. Wiremock on 127.0.0.1 only.

mod support;

use atlassian_rotation::admin::OrgTokenQuery;
use atlassian_rotation::automation::Product;
use atlassian_rotation::instance::InstanceAuth;
use atlassian_rotation::secret::PersonalAccessToken;
use atlassian_rotation::secret::{AdminApiKey, ApiCredentials, ApiToken, Password};
use atlassian_rotation::{
    AdminClient, AutomationClient, ClientOptions, Error, InstanceClient, JiraClient, Paginated,
    RetryPolicy,
};
use futures::{StreamExt as _, TryStreamExt as _};
use serde_json::json;
use support::{base64_of, strict_server};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const OLD: &str = "old-SECRET-credential-0001";
const NEW: &str = "new-SECRET-credential-0002";
const EMAIL: &str = "ops@example.com";

fn no_retries() -> ClientOptions {
    ClientOptions::new().retry_policy(RetryPolicy::none())
}

fn creds(token: &str) -> ApiCredentials {
    ApiCredentials::new(EMAIL, ApiToken::new(token))
}

fn pat(token: &str) -> InstanceAuth {
    InstanceAuth::PersonalAccessToken(PersonalAccessToken::new(token))
}

fn basic(token: &str) -> String {
    format!("Basic {}", base64_of(&format!("{EMAIL}:{token}")))
}

/// A server below `/proxy` that answers `GET {exact_path}` once, and only with `authorization`:
/// the strict catch-all fails the test for any other request (another path, the old
/// credential).
async fn answering(exact_path: &str, authorization: &str, body: serde_json::Value) -> MockServer {
    let server = strict_server().await;
    Mock::given(method("GET"))
        .and(path(format!("/proxy{exact_path}")))
        .and(header("authorization", authorization))
        .respond_with(ResponseTemplate::new(200).set_body_json(body))
        .expect(1)
        .mount(&server)
        .await;
    server
}

fn proxy(server: &MockServer) -> String {
    format!("{}/proxy", server.uri())
}

#[tokio::test]
async fn admin_requests_go_below_the_builders_base_url_with_the_key_a_clone_set() {
    let org = json!({"data": {"id": "o", "attributes": {"name": "Acme"}}});
    let server = answering("/admin/v1/orgs/o", &format!("Bearer {NEW}"), org).await;
    let admin = AdminClient::builder(AdminApiKey::new(OLD))
        .base_url(proxy(&server))
        .options(no_retries())
        .build()
        .unwrap();
    assert_eq!(admin.base_url().as_str(), proxy(&server));

    admin
        .clone()
        .set_credentials(AdminApiKey::new(NEW))
        .unwrap();
    assert_eq!(admin.check_key("o").await.unwrap().id, "o");
}

#[tokio::test]
async fn instance_requests_go_below_the_builders_base_url_with_the_credentials_a_clone_set() {
    let me = json!({"name": "svc"});
    let server = answering("/rest/api/2/myself", &format!("Bearer {NEW}"), me).await;
    let instance = InstanceClient::builder(pat(OLD))
        .base_url(proxy(&server))
        .options(no_retries())
        .build()
        .unwrap();
    assert_eq!(instance.base_url().as_str(), proxy(&server));

    instance.clone().set_credentials(pat(NEW)).unwrap();
    assert_eq!(
        instance.myself().await.unwrap().name.as_deref(),
        Some("svc")
    );
}

#[tokio::test]
async fn automation_requests_go_below_the_last_location_set_with_the_credentials_a_clone_set() {
    let rule = json!({"rule": {"uuid": "r1"}, "connections": []});
    let server = answering("/rest/v1/rule/r1", &basic(NEW), rule).await;
    let automation = AutomationClient::builder(creds(OLD))
        // Replaced by the base URL set after it: the last location wins.
        .cloud(Product::Jira, "cloud-1")
        .base_url(proxy(&server))
        .options(no_retries())
        .build()
        .unwrap();
    assert_eq!(automation.base_url().as_str(), proxy(&server));

    automation.clone().set_credentials(creds(NEW)).unwrap();
    let doc = automation.get_rule("r1").await.unwrap();
    assert_eq!(doc.rule.uuid(), Some("r1"));
}

#[tokio::test]
async fn jira_requests_go_below_the_builders_base_url_with_the_credentials_a_clone_set() {
    let me = json!({"accountId": "557058:a1"});
    let server = answering("/rest/api/3/myself", &basic(NEW), me).await;
    let jira = JiraClient::builder(creds(OLD))
        .base_url(proxy(&server))
        .options(no_retries())
        .build()
        .unwrap();
    assert_eq!(jira.base_url().as_str(), proxy(&server));

    jira.clone().set_credentials(creds(NEW)).unwrap();
    assert_eq!(jira.myself().await.unwrap().account_id, "557058:a1");
}

#[test]
fn a_client_without_its_location_does_not_build_and_the_error_names_what_is_missing() {
    let missing = [
        (
            InstanceClient::builder(pat(OLD)).build().unwrap_err(),
            "base URL",
            "InstanceClientBuilder::base_url",
        ),
        (
            JiraClient::builder(creds(OLD)).build().unwrap_err(),
            "base URL",
            "JiraClientBuilder::base_url",
        ),
        (
            AutomationClient::builder(creds(OLD)).build().unwrap_err(),
            "Automation API location",
            "AutomationClientBuilder::cloud, ::site or ::base_url",
        ),
    ];
    for (err, missing, setter) in missing {
        match &err {
            Error::InvalidInput { what, reason } => {
                assert_eq!(*what, missing, "{err}");
                assert!(reason.contains(setter), "{err}");
            }
            other => panic!("{other:?}"),
        }
        assert!(!format!("{err} {err:?}").contains("SECRET"), "{err:?}");
    }
    // The Admin APIs have one home: without a base URL, the client goes there.
    let admin = AdminClient::builder(AdminApiKey::new(OLD)).build().unwrap();
    assert_eq!(admin.base_url().as_str(), "https://api.atlassian.com/");
}

#[test]
fn no_builder_shows_its_credential() {
    let base = "https://example.atlassian.net";
    let shown = [
        format!("{:?}", AdminClient::builder(AdminApiKey::new(OLD))),
        format!("{:?}", InstanceClient::builder(pat(OLD)).base_url(base)),
        format!(
            "{:?}",
            InstanceClient::builder(InstanceAuth::basic("admin", Password::new(OLD)))
        ),
        format!("{:#?}", JiraClient::builder(creds(OLD)).base_url(base)),
        format!(
            "{:#?}",
            AutomationClient::builder(creds(OLD)).site(base, Product::Jira, "c1")
        ),
    ];
    let encoded = base64_of(&format!("{EMAIL}:{OLD}"));
    for text in shown {
        assert!(!text.contains("SECRET"), "{text}");
        assert!(!text.contains(&encoded), "{text}");
        assert!(text.contains("[redacted]"), "{text}");
    }
}

/// A base URL that carries a credential (userinfo, a query parameter, a fragment) is refused by
/// `build()`, but a builder holding it must not show it either: builders get logged with `{:?}`.
#[test]
fn no_builder_shows_a_credential_inside_its_base_url() {
    use atlassian_rotation::discover::{ExpiryRadar, ResolveIdentities};
    for url in [
        "https://svc:pw-SECRET-1@example.atlassian.net/jira?token=qs-SECRET-2#frag-SECRET-3",
        "svc:pw-SECRET-1@example.atlassian.net/jira?token=qs-SECRET-2",
        "not a URL: SECRET-4",
    ] {
        let admin = AdminClient::builder(AdminApiKey::new("k")).base_url(url);
        let instance = InstanceClient::builder(pat("p")).base_url(url);
        let jira = JiraClient::builder(creds("t")).base_url(url);
        let automation = AutomationClient::builder(creds("t")).base_url(url);
        let site = AutomationClient::builder(creds("t")).site(url, Product::Jira, "c1");
        let resolve = ResolveIdentities::base_url(url);
        let radar = ExpiryRadar::new(
            &AdminClient::builder(AdminApiKey::new("k")).build().unwrap(),
            "org",
            &AutomationClient::builder(creds("t"))
                .base_url("https://example.atlassian.net/a")
                .build()
                .unwrap(),
        )
        .resolve_identities(resolve.clone());
        let shown = [
            format!("{admin:?}"),
            format!("{instance:?}"),
            format!("{jira:?}"),
            format!("{automation:?}"),
            format!("{site:#?}"),
            format!("{resolve:?}"),
            format!("{radar:?}"),
            admin.build().unwrap_err().to_string(),
            instance.build().unwrap_err().to_string(),
            jira.build().unwrap_err().to_string(),
            automation.build().unwrap_err().to_string(),
            site.build().unwrap_err().to_string(),
        ];
        for text in shown {
            assert!(!text.contains("SECRET"), "{url}: {text}");
        }
    }
    // What can be shown still is.
    let admin = AdminClient::builder(AdminApiKey::new("k"))
        .base_url("https://svc:pw@admin-proxy.example.com:8443/base?token=x");
    let shown = format!("{admin:?}");
    assert!(
        shown.contains("https://[redacted]@admin-proxy.example.com:8443/base?[redacted]"),
        "{shown}"
    );
}

/// The plain-http opt-in decides for a token rotator's site as for any client: with
/// `site_options(..allow_plain_http(true))` a plain-http site (a proxy in front of Jira) is
/// accepted; without it the site is refused before any request, as is a site carrying
/// credentials whatever the options.
#[tokio::test]
async fn a_token_rotators_plain_http_site_is_judged_by_its_site_options() {
    use atlassian_rotation::rotate::{AutomationTokenRotator, Rotator as _};
    let plain = ClientOptions::new().allow_plain_http(true);
    let client = AutomationClient::builder(creds(OLD))
        .base_url("http://automation-proxy.internal/a")
        .options(plain.clone())
        .build()
        .unwrap();
    let site = "http://jira-proxy.internal";
    let rotator = AutomationTokenRotator::new(client.clone(), site, creds(OLD), ApiToken::new(NEW))
        .map(|r| r.site_options(plain.clone()));
    assert!(rotator.is_ok(), "{:?}", rotator.err());

    let unopted = AutomationTokenRotator::new(client.clone(), site, creds(OLD), ApiToken::new(NEW))
        .expect("the site's options are given after new");
    let err = unopted.regenerate().await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidInput {
                what: "base URL",
                ..
            }
        ),
        "{err}"
    );

    let with_userinfo = "https://svc:pw@jira.example.com";
    assert!(
        AutomationTokenRotator::new(client, with_userinfo, creds(OLD), ApiToken::new(NEW)).is_err()
    );
}

/// Every item of a listing, without stopping at an error.
async fn items<T>(listing: Paginated<T>) -> Vec<Result<T, Error>> {
    listing.collect().await
}

#[tokio::test]
async fn every_listing_yields_refused_input_as_its_only_item_before_any_request() {
    // Nothing is mounted: any request fails the test.
    let server = strict_server().await;
    let admin = AdminClient::builder(AdminApiKey::new(OLD))
        .base_url(server.uri())
        .build()
        .unwrap();
    let automation = AutomationClient::builder(creds(OLD))
        .base_url(server.uri())
        .build()
        .unwrap();
    let listings = [
        (
            "user API tokens",
            items(admin.user_api_tokens("..")).await.len(),
        ),
        (
            "org API tokens",
            items(admin.org_api_tokens("", OrgTokenQuery::new()))
                .await
                .len(),
        ),
        (
            "rule summaries",
            items(automation.rule_summaries(0)).await.len(),
        ),
    ];
    for (listing, count) in listings {
        assert_eq!(count, 1, "{listing}: the refusal, and nothing after it");
    }
    let refusals = [
        admin.user_api_tokens("..").try_next().await.map(drop),
        admin
            .org_api_tokens("", OrgTokenQuery::new())
            .try_next()
            .await
            .map(drop),
        automation.rule_summaries(101).try_next().await.map(drop),
    ];
    for refused in refusals {
        assert!(
            matches!(refused, Err(Error::InvalidInput { .. })),
            "{refused:?}"
        );
    }
}

#[tokio::test]
async fn a_listing_of_an_endpoint_without_pages_yields_every_item_from_one_request() {
    let server = strict_server().await;
    Mock::given(method("GET"))
        .and(path("/users/a1/manage/api-tokens"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"id": "t1"}, {"id": "t2"}, {"id": "t3"}
        ])))
        .expect(1)
        .mount(&server)
        .await;
    let admin = AdminClient::builder(AdminApiKey::new(OLD))
        .base_url(server.uri())
        .build()
        .unwrap();
    let ids: Vec<String> = admin
        .user_api_tokens("a1")
        .map_ok(|token| token.id)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(ids, ["t1", "t2", "t3"]);
}
