//! Admin API, Data Center instance and Jira identity routes.

use std::time::Duration;

use atlassian_rotation::secret::AdminApiKey;
use atlassian_rotation::testing::{LinkStyle, TunnelStatus};
use serde_json::json;

use super::{http, in_days, send, with_json, world};

#[tokio::test]
async fn regenerate_disconnects_until_the_new_key_is_installed_and_old_keys_are_refused() {
    let w = world().await;
    let tunnel = w.fake.add_tunnel(&w.org.id, "jira-dc-prod");
    let probe = format!("{}/probe", tunnel.instance_base);
    assert_eq!(
        w.fake.tunnel_status(&tunnel.hostname),
        Some(TunnelStatus::Connected)
    );
    assert_eq!(send(http().get(&probe)).await.status, 200);

    let regenerate = format!(
        "{}/admin/v1/orgs/{}/tunnels/{}/token",
        w.fake.admin_base(),
        w.org.id,
        tunnel.hostname
    );
    let minted = send(w.admin(http().put(&regenerate))).await;
    assert_eq!(minted.status, 200);
    let body = minted.json();
    assert_eq!(body["name"], "jira-dc-prod");
    assert_eq!(body["status"], "DISCONNECTED");
    assert_eq!(body["onPremiseUrl"], tunnel.instance_base.as_str());
    for field in ["id", "upstreamDnsUrl"] {
        assert!(body[field].is_string(), "{field} missing: {body}");
    }
    let new_key = body["token"].as_str().unwrap().to_owned();
    assert!(new_key.len() >= 64);
    assert_ne!(new_key, tunnel.current_key.expose_secret());
    assert_eq!(
        w.fake.tunnel_key(&tunnel.hostname).unwrap().expose_secret(),
        new_key
    );
    assert_eq!(
        w.fake.tunnel_status(&tunnel.hostname),
        Some(TunnelStatus::Disconnected)
    );
    assert_eq!(send(http().get(&probe)).await.status, 502);

    let install = format!(
        "{}/rest/secure-tunneling/latest/tunnel/token",
        tunnel.instance_base
    );
    let pat = tunnel.pat.expose_secret();
    let old = json!({"token": tunnel.current_key.expose_secret()});
    let refused = send(with_json(http().put(&install).bearer_auth(pat), &old)).await;
    assert_eq!(refused.status, 400);
    assert!(refused.json()["errorMessages"][0].is_string());
    assert_eq!(
        w.fake.tunnel_status(&tunnel.hostname),
        Some(TunnelStatus::Disconnected)
    );

    let wrong_pat = send(with_json(
        http().put(&install).bearer_auth("not-the-pat"),
        &json!({"token": new_key}),
    ))
    .await;
    assert_eq!(wrong_pat.status, 401);

    for _ in 0..2 {
        // Installing is idempotent.
        let installed = send(with_json(
            http().put(&install).bearer_auth(pat),
            &json!({"token": new_key}),
        ))
        .await;
        assert_eq!(installed.status, 200);
        let body = installed.json();
        assert_eq!(body["name"], "jira-dc-prod");
        assert_eq!(body["cloudOrgName"], "Example Org");
        assert!(body["cloudPageUrl"].is_string() && body["appLinksUrl"].is_string());
    }
    assert_eq!(
        w.fake.tunnel_status(&tunnel.hostname),
        Some(TunnelStatus::Connected)
    );
    assert_eq!(send(http().get(&probe)).await.status, 200);

    let malformed = send(http().put(&install).bearer_auth(pat).body("token=x")).await;
    assert_eq!(malformed.status, 400);
}

#[tokio::test]
async fn regenerate_refuses_unknown_keys_other_orgs_and_unknown_tunnels() {
    let w = world().await;
    let tunnel = w.fake.add_tunnel(&w.org.id, "dc");
    let other = w.fake.add_org("Other Org");
    let url = |org: &str, host: &str| {
        format!(
            "{}/admin/v1/orgs/{org}/tunnels/{host}/token",
            w.fake.admin_base()
        )
    };
    let key = |k: &AdminApiKey| k.expose_secret().to_owned();

    let unknown = send(
        http()
            .put(url(&w.org.id, &tunnel.hostname))
            .bearer_auth("ATCTT3xFfGN0-nope"),
    )
    .await;
    assert_eq!(unknown.status, 401);
    assert_eq!(unknown.json()["code"], 401);

    let foreign = send(
        http()
            .put(url(&w.org.id, &tunnel.hostname))
            .bearer_auth(key(&other.admin_key)),
    )
    .await;
    assert_eq!(foreign.status, 403);
    assert_eq!(foreign.first_error()["code"], "ADMIN-403-3");

    let no_tunnel = send(w.admin(http().put(url(&w.org.id, "no-such-host")))).await;
    assert_eq!(no_tunnel.status, 404);
    let no_org = send(w.admin(http().put(url("no-such-org", &tunnel.hostname)))).await;
    assert_eq!(no_org.status, 404);
    assert_eq!(no_org.first_error()["code"], "ADMIN-404-2");

    // None of that touched the tunnel.
    assert_eq!(
        w.fake.tunnel_key(&tunnel.hostname),
        Some(tunnel.current_key)
    );
    assert_eq!(
        w.fake.tunnel_status(&tunnel.hostname),
        Some(TunnelStatus::Connected)
    );
}

#[tokio::test]
async fn the_org_endpoint_proves_an_admin_key() {
    let w = world().await;
    let url = format!("{}/admin/v1/orgs/{}", w.fake.admin_base(), w.org.id);
    let ok = send(w.admin(http().get(&url))).await;
    assert_eq!(ok.status, 200);
    let body = ok.json();
    assert_eq!(body["data"]["id"], w.org.id.as_str());
    assert_eq!(body["data"]["type"], "orgs");
    assert_eq!(body["data"]["attributes"]["name"], "Example Org");
    assert_eq!(body["data"]["links"]["self"], url.as_str());

    let bad = send(http().get(&url).bearer_auth("bad")).await;
    assert_eq!(bad.status, 401);
    let none = send(http().get(&url)).await;
    assert_eq!(none.status, 401);
}

#[tokio::test]
async fn user_tokens_list_and_revoke_and_a_revoked_token_stops_working() {
    let w = world().await;
    let myself = format!("{}/rest/api/3/myself", w.fake.site_base());
    let me = send(w.basic(http().get(&myself))).await;
    assert_eq!(me.status, 200);
    let body = me.json();
    assert_eq!(body["accountId"], w.user.account_id.as_str());
    assert_eq!(body["emailAddress"], "ops@example.com");
    assert_eq!(body["displayName"], "Ops Bot");
    assert_eq!(body["active"], true);
    assert!(body["accountType"].is_string());

    let list = format!(
        "{}/users/{}/manage/api-tokens",
        w.fake.admin_base(),
        w.user.account_id
    );
    let listed = send(w.admin(http().get(&list))).await;
    assert_eq!(listed.status, 200);
    let tokens = listed.json();
    assert_eq!(tokens.as_array().unwrap().len(), 1);
    let item = &tokens[0];
    assert_eq!(item["id"], w.token_id.as_str());
    assert_eq!(item["label"], "automation");
    for field in ["createdAt", "expiry", "lastAccess"] {
        let at = item[field]
            .as_str()
            .unwrap_or_else(|| panic!("{field}: {item}"));
        assert!(at.ends_with('Z') && at.len() == 24, "{field}: {at}");
    }
    assert!(!listed.body.windows(12).any(|win| win == b"ATATT3xFfGF0"));

    let unauthorized = send(http().get(&list).bearer_auth("bad")).await;
    assert_eq!(unauthorized.status, 401);
    assert_eq!(unauthorized.json()["key"], "unauthorized");

    let revoke = format!("{list}/{}", w.token_id);
    assert_eq!(send(w.admin(http().delete(&revoke))).await.status, 204);
    assert!(!w.fake.token_is_live(&w.token));
    assert_eq!(send(w.basic(http().get(&myself))).await.status, 401);
    let again = send(w.admin(http().delete(&revoke))).await;
    assert_eq!(again.status, 404);
    assert_eq!(again.json()["key"], "notFound");
    assert_eq!(send(w.admin(http().get(&list))).await.json(), json!([]));

    let nobody = format!("{}/users/nobody/manage/api-tokens", w.fake.admin_base());
    let missing = send(w.admin(http().get(&nobody))).await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.json()["key"], "accountNotFound");
}

#[tokio::test]
async fn myself_accepts_only_a_live_email_token_pair() {
    let w = world().await;
    let myself = format!("{}/rest/api/3/myself", w.fake.site_base());
    let (_, expired) = w
        .fake
        .mint_api_token(&w.user.account_id, "old", in_days(-1));
    assert!(!w.fake.token_is_live(&expired));
    let cases = [
        ("ops@example.com", expired.expose_secret()),
        ("other@example.com", w.token.expose_secret()),
        ("ops@example.com", "ATATT3xFfGF0-made-up"),
    ];
    for (email, token) in cases {
        let got = send(http().get(&myself).basic_auth(email, Some(token))).await;
        assert_eq!(got.status, 401);
    }
    let bearer = send(http().get(&myself).bearer_auth(w.token.expose_secret())).await;
    assert_eq!(bearer.status, 401);
    assert!(w.fake.revoke_api_token(&w.token_id));
    assert!(!w.fake.revoke_api_token(&w.token_id));
    assert_eq!(send(w.basic(http().get(&myself))).await.status, 401);
}

#[tokio::test]
async fn dc_myself_needs_the_instance_pat() {
    let w = world().await;
    let tunnel = w.fake.add_tunnel(&w.org.id, "dc");
    let url = format!("{}/rest/api/2/myself", tunnel.instance_base);
    let ok = send(http().get(&url).bearer_auth(tunnel.pat.expose_secret())).await;
    assert_eq!(ok.status, 200);
    let body = ok.json();
    for field in ["name", "key", "displayName", "emailAddress"] {
        assert!(body[field].is_string(), "{field}: {body}");
    }
    assert_eq!(send(http().get(&url).bearer_auth("nope")).await.status, 401);
    let password = tunnel.password.expose_secret();
    let basic = send(
        http()
            .get(&url)
            .basic_auth(&tunnel.username, Some(password)),
    )
    .await;
    assert_eq!(basic.status, 200);
    assert_eq!(basic.json()["name"], tunnel.username.as_str());
    let wrong = send(http().get(&url).basic_auth(&tunnel.username, Some("nope"))).await;
    assert_eq!(wrong.status, 401);
    let other = format!("{}/rest/api/2/myself", w.fake.instance_base("unknown-host"));
    assert_eq!(send(http().get(&other)).await.status, 404);
}

/// Follows `links.next` the way a client must, whatever its form.
fn resolve(current: &str, next: &str) -> String {
    let without_query = current.split('?').next().unwrap();
    if next.starts_with('?') {
        format!("{without_query}{next}")
    } else if next.starts_with("http") {
        next.to_owned()
    } else {
        format!("{without_query}?cursor={next}")
    }
}

#[tokio::test]
async fn org_tokens_paginate_in_every_link_form_and_filter() {
    let w = world().await;
    let second = w.fake.add_user("dev@example.com", "Dev");
    for i in 0..4 {
        w.fake
            .mint_api_token(&second.account_id, format!("ci-{i}"), in_days(10));
    }
    w.fake
        .mint_api_token(&second.account_id, "stale", in_days(-3));
    w.fake.set_org_token_page_size(2);
    let first = format!(
        "{}/admin/api-access/v1/orgs/{}/api-tokens",
        w.fake.admin_base(),
        w.org.id
    );

    for style in [
        LinkStyle::QueryString,
        LinkStyle::FullUrl,
        LinkStyle::BareCursor,
    ] {
        w.fake.set_link_style(style);
        let (mut url, mut labels, mut pages) = (first.clone(), Vec::new(), 0);
        loop {
            let got = send(w.admin(http().get(&url))).await;
            assert_eq!(got.status, 200, "{style:?}");
            let body = got.json();
            pages += 1;
            for item in body["data"].as_array().unwrap() {
                labels.push(item["label"].as_str().unwrap().to_owned());
                assert_eq!(item["user"]["orgId"], w.org.id.as_str());
                for field in ["id", "status", "createdAt", "expiresAt"] {
                    assert!(item[field].is_string(), "{field}: {item}");
                }
            }
            let next = &body["links"]["next"];
            match (style, next.as_str()) {
                (_, None) => break,
                (LinkStyle::QueryString, Some(n)) => assert!(n.starts_with("?cursor=")),
                (LinkStyle::FullUrl, Some(n)) => assert!(n.starts_with(&first)),
                (_, Some(n)) => assert!(!n.contains('?') && !n.contains('/')),
            }
            url = resolve(&url, next.as_str().unwrap());
        }
        assert_eq!(pages, 3, "{style:?}");
        assert_eq!(
            labels,
            ["automation", "ci-0", "ci-1", "ci-2", "ci-3", "stale"]
        );
    }

    w.fake.set_link_style(LinkStyle::QueryString);
    let one = send(w.admin(http().get(format!("{first}?limit=1"))))
        .await
        .json();
    assert_eq!(one["data"].as_array().unwrap().len(), 1);
    assert_eq!(one["data"][0]["status"], "ALLOWED");
    let expired = send(w.admin(http().get(format!("{first}?status=EXPIRED")))).await;
    let data = expired.json()["data"].clone();
    assert_eq!(data.as_array().unwrap().len(), 1);
    assert_eq!(data[0]["label"], "stale");
    assert_eq!(data[0]["status"], "EXPIRED");

    // `q` matches label or email; the cursor carries the filter to the next page.
    let by_email = send(w.admin(http().get(format!("{first}?q=DEV@"))))
        .await
        .json();
    assert_eq!(by_email["data"].as_array().unwrap().len(), 2);
    let next = resolve(&first, by_email["links"]["next"].as_str().unwrap());
    let page2 = send(w.admin(http().get(&next))).await.json();
    let labels: Vec<_> = page2["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["label"].clone())
        .collect();
    assert_eq!(labels, [json!("ci-2"), json!("ci-3")]);
}

#[tokio::test(start_paused = true)]
async fn org_token_cursors_go_stale_after_the_ttl_or_when_expired() {
    let w = world().await;
    for i in 0..3 {
        w.fake
            .mint_api_token(&w.user.account_id, format!("t{i}"), in_days(5));
    }
    w.fake.set_org_token_page_size(1);
    w.fake.set_cursor_ttl(Duration::from_secs(60));
    let first = format!(
        "{}/admin/api-access/v1/orgs/{}/api-tokens",
        w.fake.admin_base(),
        w.org.id
    );
    let body = send(w.admin(http().get(&first))).await.json();
    let next = resolve(&first, body["links"]["next"].as_str().unwrap());
    assert_eq!(send(w.admin(http().get(&next))).await.status, 200);

    tokio::time::advance(Duration::from_secs(61)).await;
    let stale = send(w.admin(http().get(&next))).await;
    assert_eq!(stale.status, 400);
    assert_eq!(stale.first_error()["code"], "ADMIN-400-1");

    let body = send(w.admin(http().get(&first))).await.json();
    let fresh = resolve(&first, body["links"]["next"].as_str().unwrap());
    w.fake.expire_cursors();
    assert_eq!(send(w.admin(http().get(&fresh))).await.status, 400);
}
