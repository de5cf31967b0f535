//! The user-management API: a managed user's API tokens, listed and revoked.

use std::time::Duration;

use atlassian_rotation::Error;
use atlassian_rotation::admin::Timestamp;
use futures::TryStreamExt as _;
use serde_json::json;
use time::macros::datetime;
use wiremock::ResponseTemplate;

use crate::support::*;

// Shaped like the spec's ApiTokenModel examples (createdAt, lastAccess, expiry as UTC ISO 8601).
fn spec_shaped() -> serde_json::Value {
    json!([
        {
            "id": "tok-7f3a",
            "label": "Nightly export",
            "createdAt": "2024-04-12T23:20:50.522Z",
            "lastAccess": "2024-05-12T20:20:50.521Z",
            "expiry": "2025-04-12T00:00:00.000Z"
        }
    ])
}

// Shaped like go-atlassian's sample: `asp_` ids, no expiry.
fn go_atlassian_shaped() -> serde_json::Value {
    json!([
        {"id": "asp_Q9rT2mZkLw8xVb1N", "label": "ci", "createdAt": "2021-02-03T04:05:06.789Z", "lastAccess": "2021-02-10T11:12:13.141Z"}
    ])
}

#[tokio::test]
async fn lists_tokens_of_an_escaped_account_id_and_decodes_the_spec_shape() {
    let server = server().await;
    admin_call("GET", "/users/557058:aa%2Fbb/manage/api-tokens")
        .and(ExactQuery(None))
        .and(NoBody)
        .respond_with(ResponseTemplate::new(200).set_body_json(spec_shaped()))
        .expect(1)
        .mount(&server)
        .await;

    let tokens = client(&server)
        .user_api_tokens("557058:aa/bb")
        .try_collect::<Vec<_>>()
        .await
        .unwrap();

    assert_eq!(tokens.len(), 1);
    let token = &tokens[0];
    assert_eq!(token.id, "tok-7f3a");
    assert_eq!(token.label.as_deref(), Some("Nightly export"));
    assert_eq!(
        token.created_at.as_ref().and_then(Timestamp::parse),
        Some(datetime!(2024-04-12 23:20:50.522 UTC))
    );
    assert_eq!(
        token.last_access.as_ref().map(Timestamp::as_str),
        Some("2024-05-12T20:20:50.521Z")
    );
    let month = Duration::from_secs(30 * 86_400);
    assert!(token.expires_within(month, datetime!(2025-04-01 00:00 UTC)));
    assert!(!token.expires_within(month, datetime!(2025-01-01 00:00 UTC)));
}

#[tokio::test]
async fn go_atlassian_sample_null_and_unparseable_fields_and_an_empty_list_decode() {
    let server = server().await;
    admin_call("GET", "/users/a1/manage/api-tokens")
        .respond_with(ResponseTemplate::new(200).set_body_json(go_atlassian_shaped()))
        .mount(&server)
        .await;
    admin_call("GET", "/users/a2/manage/api-tokens")
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"id": "t2", "label": null, "createdAt": null, "lastAccess": null, "expiry": "next spring", "extra": {"x": 1}}
        ])))
        .mount(&server)
        .await;
    admin_call("GET", "/users/a3/manage/api-tokens")
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .mount(&server)
        .await;
    let admin = client(&server);

    let go = admin
        .user_api_tokens("a1")
        .try_collect::<Vec<_>>()
        .await
        .unwrap();
    assert_eq!(go[0].id, "asp_Q9rT2mZkLw8xVb1N");
    assert_eq!(go[0].expiry, None);
    assert!(!go[0].expires_within(Duration::MAX, datetime!(2030-01-01 00:00 UTC)));

    let sparse = admin
        .user_api_tokens("a2")
        .try_collect::<Vec<_>>()
        .await
        .unwrap();
    assert_eq!(sparse[0].label, None);
    assert_eq!(
        sparse[0].expiry.as_ref().map(Timestamp::as_str),
        Some("next spring")
    );
    assert_eq!(sparse[0].expiry.as_ref().and_then(Timestamp::parse), None);

    assert!(
        admin
            .user_api_tokens("a3")
            .try_collect::<Vec<_>>()
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_token_without_id_is_a_decode_error_naming_the_element() {
    let server = server().await;
    admin_call("GET", "/users/a/manage/api-tokens")
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!([{"id": "ok"}, {"label": "no id"}])),
        )
        .mount(&server)
        .await;

    match client(&server)
        .user_api_tokens("a")
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err()
    {
        Error::Decode { path, message, .. } => {
            assert_eq!(path, "[1]");
            assert!(message.contains("`id`"), "{message}");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn revoke_deletes_the_escaped_token_and_accepts_204() {
    let server = server().await;
    admin_call("DELETE", "/users/557058:abc/manage/api-tokens/asp%2F1%3F")
        .and(ExactQuery(None))
        .and(NoBody)
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;

    client(&server)
        .revoke_user_api_token("557058:abc", "asp/1?")
        .await
        .unwrap();
}

#[tokio::test]
async fn revoke_of_an_unknown_token_is_not_found_with_the_keyed_body() {
    let server = server().await;
    admin_call("DELETE", "/users/acc/manage/api-tokens/gone")
        .respond_with(
            ResponseTemplate::new(404)
                .insert_header("Atl-Traceid", "tr-404")
                .set_body_json(json!({"key": "notFound"})),
        )
        .expect(1)
        .mount(&server)
        .await;

    let err = client(&server)
        .revoke_user_api_token("acc", "gone")
        .await
        .unwrap_err();

    assert!(err.is_not_found());
    assert!(!err.may_have_been_applied());
    let text = err.to_string();
    assert!(
        text.contains("DELETE /users/{}/manage/api-tokens/{}"),
        "{text}"
    );
    assert!(
        text.contains("notFound") && text.contains("tr-404"),
        "{text}"
    );
}

#[tokio::test]
async fn bad_ids_are_refused_before_any_request() {
    let server = server().await;
    let admin = client(&server);
    for (account, token) in [("..", "t"), ("", "t"), ("a", ".."), ("a", "")] {
        let err = admin
            .revoke_user_api_token(account, token)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::InvalidInput { .. }), "{err:?}");
    }
    assert!(matches!(
        admin
            .user_api_tokens(".")
            .try_collect::<Vec<_>>()
            .await
            .unwrap_err(),
        Error::InvalidInput { .. }
    ));
}
