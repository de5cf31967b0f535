//! The API Access API's service accounts: `GET .../service-accounts`, `GET
//! .../service-accounts/{id}/api-tokens?tokenLabel=`, and `DELETE
//! .../service-accounts/{id}/api-tokens`, which revokes every token of the account and is
//! refused without a confirmation naming that account.

use atlassian_rotation::Error;
use atlassian_rotation::admin::{RevokeAll, ServiceAccount, ServiceAccountToken};
use futures::TryStreamExt as _;
use serde_json::json;
use wiremock::ResponseTemplate;

use crate::support::*;

const ACCOUNTS: &str = "/admin/api-access/v1/orgs/org-1/service-accounts";

#[tokio::test]
async fn lists_service_accounts_across_pages_of_items() {
    let server = server().await;
    let account = |id: &str| {
        json!({"atlassianId": format!("712020:{id}"), "id": id, "email": format!("{id}@serviceaccount.atlassian.com"),
               "displayName": id, "status": "ACTIVE", "createdAt": "2026-01-01T00:00:00Z"})
    };
    admin_call("GET", ACCOUNTS)
        .and(ExactQuery(None))
        .and(NoBody)
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "links": {"next": "?cursor=n2", "prev": null},
            "items": [account("sa-1")],
            "total": 2
        })))
        .expect(1)
        .mount(&server)
        .await;
    admin_call("GET", ACCOUNTS)
        .and(ExactQuery(Some("cursor=n2")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "links": {"next": null, "prev": "?cursor=n1"},
            "items": [account("sa-2")],
            "total": 2
        })))
        .expect(1)
        .mount(&server)
        .await;

    let accounts: Vec<ServiceAccount> = client(&server)
        .service_accounts("org-1")
        .try_collect()
        .await
        .unwrap();

    let ids: Vec<_> = accounts.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids, ["sa-1", "sa-2"]);
    assert_eq!(accounts[0].atlassian_id.as_deref(), Some("712020:sa-1"));
    assert_eq!(accounts[0].status.as_deref(), Some("ACTIVE"));
    assert_eq!(accounts[0].extra["createdAt"], "2026-01-01T00:00:00Z");
}

#[tokio::test]
async fn lists_one_accounts_tokens_by_label_with_their_expiry() {
    let server = server().await;
    let tokens = format!("{ACCOUNTS}/sa%2F1/api-tokens");
    admin_call("GET", &tokens)
        .and(ExactQuery(Some("tokenLabel=deploy+prod")))
        .and(NoBody)
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": [{"id": "t-1", "label": "deploy prod", "createdAt": "2026-01-01T00:00:00Z",
                      "expiresAt": "2026-04-01T00:00:00Z", "scopes": ["read:jira-work"]}],
            "links": {"next": null}
        })))
        .expect(1)
        .mount(&server)
        .await;
    admin_call("GET", &tokens)
        .and(ExactQuery(None))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"id": "t-1"}, {"id": "t-2", "expiry": "2027-01-01T00:00:00Z"}
        ])))
        .expect(1)
        .mount(&server)
        .await;

    let admin = client(&server);
    let labelled: Vec<ServiceAccountToken> = admin
        .service_account_tokens("org-1", "sa/1", Some("deploy prod"))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(labelled.len(), 1);
    assert_eq!(
        labelled[0].expires_at.as_ref().map(|t| t.as_str()),
        Some("2026-04-01T00:00:00Z")
    );
    assert_eq!(labelled[0].scopes, ["read:jira-work"]);

    let every: Vec<ServiceAccountToken> = admin
        .service_account_tokens("org-1", "sa/1", None)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(every.len(), 2);
    assert!(every[0].expires_at.is_none(), "no expiry given, none read");
    assert!(every[1].expires_at.is_some(), "`expiry` read as the expiry");
}

#[tokio::test]
async fn revoke_all_sends_one_delete_once_confirmed_for_that_account() {
    let server = server().await;
    admin_call("DELETE", &format!("{ACCOUNTS}/sa-1/api-tokens"))
        .and(ExactQuery(None))
        .and(NoBody)
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;

    client(&server)
        .revoke_all_service_account_tokens("org-1", "sa-1", RevokeAll::every_token_of("sa-1"))
        .await
        .unwrap();
}

#[tokio::test]
async fn revoke_all_refuses_a_confirmation_for_another_account_and_sends_nothing() {
    // The catch-all fails the test if any request arrives.
    let server = server().await;
    let err = client(&server)
        .revoke_all_service_account_tokens("org-1", "sa-1", RevokeAll::every_token_of("sa-2"))
        .await
        .unwrap_err();
    match &err {
        Error::InvalidInput { what, reason } => {
            assert_eq!(*what, "revoke-all confirmation");
            assert!(
                reason.contains("sa-2") && reason.contains("nothing was revoked"),
                "{reason}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(server.received_requests().await.unwrap().is_empty());
}
