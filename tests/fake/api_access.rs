//! API Access routes: Admin API keys (several per org, scoped, revoked everywhere at once, last
//! activity moving on use) and service accounts with their tokens.

use atlassian_rotation::testing::{Fault, Route};
use serde_json::json;

use super::{http, in_days, send, with_json, world};

fn keys_url(base: &str, org: &str, rest: &str) -> String {
    format!("{base}/admin/api-access/v1/orgs/{org}/api-keys{rest}")
}

#[tokio::test]
async fn a_revoked_key_gets_401_on_every_admin_route_at_once() {
    let w = world().await;
    let base = w.fake.admin_base();
    let key = w.fake.mint_admin_key(&w.org.id, "ci", &[], in_days(90)).key;
    let routes = [
        format!("{base}/admin/v1/orgs/{}", w.org.id),
        keys_url(&base, &w.org.id, ""),
        keys_url(&base, &w.org.id, "/count"),
        format!("{base}/admin/api-access/v1/orgs/{}/api-tokens", w.org.id),
        format!(
            "{base}/admin/api-access/v1/orgs/{}/service-accounts",
            w.org.id
        ),
        format!("{base}/users/{}/manage/api-tokens", w.user.account_id),
    ];
    for url in &routes {
        let got = send(http().get(url).bearer_auth(key.expose_secret())).await;
        assert_eq!(got.status, 200, "{url}");
    }
    let listed = send(w.admin(http().get(keys_url(&base, &w.org.id, "")))).await;
    let id = listed.json()["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["label"] == "ci")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let revoke = keys_url(&base, &w.org.id, &format!("/revoke/{id}"));
    let revoked = send(with_json(w.admin(http().patch(&revoke)), &json!({}))).await;
    assert_eq!(revoked.status, 204);
    assert!(!w.fake.admin_key_is_live(&key));
    for url in &routes {
        let got = send(http().get(url).bearer_auth(key.expose_secret())).await;
        assert_eq!(got.status, 401, "{url}");
    }
    // Listed as revoked, by the org's admin; revoking again is a 404.
    let listed = send(w.admin(http().get(keys_url(&base, &w.org.id, "")))).await;
    let entry = listed.json()["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == id.as_str())
        .cloned()
        .unwrap();
    assert!(entry["revocationDate"].is_string() && entry["revokedBy"]["id"].is_string());
    let again = send(with_json(w.admin(http().patch(&revoke)), &json!({}))).await;
    assert_eq!(again.status, 404);
}

#[tokio::test]
async fn a_key_lists_its_scopes_and_expiry_and_its_last_activity_moves_on_every_use() {
    let w = world().await;
    let base = w.fake.admin_base();
    let minted = w
        .fake
        .mint_admin_key(&w.org.id, "reader", &["read:keys:admin"], in_days(200));
    assert_eq!(w.fake.admin_key_last_active(&minted.id), None);
    let list = || http().get(keys_url(&base, &w.org.id, "?q=READER"));
    let first = send(list().bearer_auth(minted.key.expose_secret())).await;
    let second = send(list().bearer_auth(minted.key.expose_secret())).await;
    let entry = |got: &super::Got| got.json()["data"][0].clone();
    assert_eq!(first.json()["data"].as_array().unwrap().len(), 1);
    assert_eq!(entry(&first)["scopes"], json!(["read:keys:admin"]));
    assert_eq!(entry(&first)["label"], "reader");
    assert!(entry(&first)["expiresAt"].as_str().unwrap().ends_with('Z'));
    let (a, b) = (
        entry(&first)["lastActiveAt"].clone(),
        entry(&second)["lastActiveAt"].clone(),
    );
    assert!(a.is_string() && b.is_string() && a != b, "{a} then {b}");
    assert!(w.fake.admin_key_last_active(&minted.id).is_some());
    // Its scopes hold: it may read the list, not revoke.
    let revoke = keys_url(&base, &w.org.id, &format!("/revoke/{}", w.org.admin_key_id));
    let refused = send(with_json(
        http()
            .patch(&revoke)
            .bearer_auth(minted.key.expose_secret()),
        &json!({}),
    ))
    .await;
    assert_eq!(refused.status, 403);
    assert!(w.fake.admin_key_is_live(&w.org.admin_key));
    // The count counts what the list lists.
    let count = send(w.admin(http().get(keys_url(&base, &w.org.id, "/count")))).await;
    assert_eq!(count.json(), json!(2));
}

#[tokio::test]
async fn an_expired_key_is_refused_and_a_key_of_another_org_is_forbidden() {
    let w = world().await;
    let base = w.fake.admin_base();
    let expired = w
        .fake
        .mint_admin_key(&w.org.id, "old", &[], in_days(-1))
        .key;
    let url = keys_url(&base, &w.org.id, "");
    let got = send(http().get(&url).bearer_auth(expired.expose_secret())).await;
    assert_eq!(got.status, 401);
    let other = w.fake.add_org("Other");
    let got = send(
        http()
            .get(&url)
            .bearer_auth(other.admin_key.expose_secret()),
    )
    .await;
    assert_eq!(got.status, 403);
}

#[tokio::test]
async fn service_accounts_list_their_tokens_whose_activity_moves_and_revoke_all_revokes_all() {
    let w = world().await;
    let base = w.fake.admin_base();
    let account = w.fake.add_service_account(&w.org.id, "ci-bot");
    let (deploy_id, deploy) =
        w.fake
            .mint_service_account_token(&account, "deploy", &["read:jira-work"], in_days(60));
    let (_, backup) =
        w.fake
            .mint_service_account_token(&account, "backup", &["read:jira-work"], in_days(60));
    let accounts = send(w.admin(http().get(format!(
        "{base}/admin/api-access/v1/orgs/{}/service-accounts",
        w.org.id
    ))))
    .await
    .json();
    assert_eq!(accounts["total"], 1);
    assert_eq!(accounts["items"][0]["id"], account.id.as_str());
    assert_eq!(
        accounts["items"][0]["atlassianId"],
        account.account_id.as_str()
    );
    assert!(accounts["links"].is_object());

    let tokens_url = format!(
        "{base}/admin/api-access/v1/orgs/{}/service-accounts/{}/api-tokens",
        w.org.id, account.id
    );
    let labelled = send(w.admin(http().get(format!("{tokens_url}?tokenLabel=deploy"))))
        .await
        .json();
    let items = labelled["data"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["id"], deploy_id.as_str());
    assert_eq!(items[0]["scopes"], json!(["read:jira-work"]));
    assert!(items[0]["lastActiveAt"].is_null());
    // A forgotten consumer using the token shows in its last activity.
    let myself = format!("{}/rest/api/3/myself", w.fake.jira_gateway_base("cloud-1"));
    let used = send(http().get(&myself).bearer_auth(deploy.expose_secret())).await;
    assert_eq!(used.status, 200);
    let after = send(w.admin(http().get(format!("{tokens_url}?tokenLabel=deploy"))))
        .await
        .json();
    assert!(after["data"][0]["lastActiveAt"].is_string());
    // Service-account tokens are not user API tokens.
    let org_tokens = send(w.admin(http().get(format!(
        "{base}/admin/api-access/v1/orgs/{}/api-tokens",
        w.org.id
    ))))
    .await
    .json();
    assert_eq!(org_tokens["data"].as_array().unwrap().len(), 1);

    let gone = send(w.admin(http().delete(&tokens_url))).await;
    assert_eq!(gone.status, 204);
    assert!(!w.fake.token_is_live(&deploy) && !w.fake.token_is_live(&backup));
    assert!(
        w.fake.token_is_live(&w.token),
        "a user's token is not touched"
    );
    let none = send(w.admin(http().get(&tokens_url))).await.json();
    assert!(none["data"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn the_key_list_follows_pages_in_sort_order_and_every_new_route_takes_faults() {
    let w = world().await;
    let base = w.fake.admin_base();
    for days in [300, 100, 200] {
        w.fake
            .mint_admin_key(&w.org.id, format!("k{days}"), &[], in_days(days));
    }
    let first =
        send(w.admin(http().get(keys_url(&base, &w.org.id, "?sort=-expiresAt&pageSize=2"))))
            .await
            .json();
    let labels = |page: &serde_json::Value| -> Vec<String> {
        page["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["label"].as_str().unwrap().to_owned())
            .collect()
    };
    // The org's own key expires in 365 days.
    assert_eq!(labels(&first), ["org admin key", "k300"]);
    let next = first["links"]["next"].as_str().unwrap();
    let second = send(w.admin(http().get(format!("{}{next}", keys_url(&base, &w.org.id, "")))))
        .await
        .json();
    assert_eq!(labels(&second), ["k200", "k100"]);
    assert!(second["links"]["next"].is_null());

    for (route, method, url) in [
        (Route::AdminKeys, "GET", keys_url(&base, &w.org.id, "")),
        (
            Route::AdminKeyCount,
            "GET",
            keys_url(&base, &w.org.id, "/count"),
        ),
        (
            Route::RevokeAdminKey,
            "PATCH",
            keys_url(&base, &w.org.id, "/revoke/x"),
        ),
        (
            Route::ServiceAccounts,
            "GET",
            format!(
                "{base}/admin/api-access/v1/orgs/{}/service-accounts",
                w.org.id
            ),
        ),
        (
            Route::ServiceAccountTokens,
            "GET",
            format!(
                "{base}/admin/api-access/v1/orgs/{}/service-accounts/s/api-tokens",
                w.org.id
            ),
        ),
        (
            Route::RevokeServiceAccountTokens,
            "DELETE",
            format!(
                "{base}/admin/api-access/v1/orgs/{}/service-accounts/s/api-tokens",
                w.org.id
            ),
        ),
    ] {
        w.fake.fault(route, Fault::status(503).retry_after(1));
        let request = http().request(method.parse().unwrap(), &url);
        let got = send(with_json(w.admin(request), &json!({}))).await;
        assert_eq!(got.status, 503, "{method} {url}");
        assert_eq!(w.fake.requests().last().unwrap().route(), Some(route));
    }
}
