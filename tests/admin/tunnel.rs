//! `PUT /admin/v1/orgs/{orgId}/tunnels/{hostname}/token`: request shape, decoding, the key
//! staying secret, and never retrying a mint.

use atlassian_rotation::Error;
use atlassian_rotation::admin::TunnelStatus;
use serde_json::json;
use wiremock::ResponseTemplate;

use crate::support::*;

const TUNNEL_KEY: &str = "O4D4eSRbMvNotARealKey_Xy9Zq-TestOnly==";

fn tunnel_body() -> serde_json::Value {
    json!({
        "id": "3f6c1a52-7d0e-4a8b-9c55-0b1e2d3f4a5b",
        "name": "build-farm",
        "token": TUNNEL_KEY,
        "status": "CONNECTED",
        "onPremiseUrl": "https://jira.internal.example",
        "upstreamDnsUrl": "http://3f6c1a52-7d0e-4a8b-9c55-0b1e2d3f4a5b.self-hosted.atlassian.com"
    })
}

#[tokio::test]
async fn regenerate_puts_to_the_escaped_hostname_without_body_and_decodes_the_tunnel() {
    let server = server().await;
    admin_call("PUT", "/admin/v1/orgs/org%201/tunnels/host%2Fname/token")
        .and(ExactQuery(None))
        .and(NoBody)
        .respond_with(ResponseTemplate::new(200).set_body_json(tunnel_body()))
        .expect(1)
        .mount(&server)
        .await;

    let tunnel = client(&server)
        .regenerate_tunnel_key("org 1", "host/name")
        .await
        .unwrap();

    assert_eq!(tunnel.id, "3f6c1a52-7d0e-4a8b-9c55-0b1e2d3f4a5b");
    assert_eq!(tunnel.name, "build-farm");
    assert_eq!(tunnel.key.expose_secret(), TUNNEL_KEY);
    assert_eq!(tunnel.status, TunnelStatus::Connected);
    assert_eq!(
        tunnel.on_premise_url.as_deref(),
        Some("https://jira.internal.example")
    );
    assert_eq!(
        tunnel.upstream_dns_url.as_deref(),
        Some("http://3f6c1a52-7d0e-4a8b-9c55-0b1e2d3f4a5b.self-hosted.atlassian.com")
    );
}

#[tokio::test]
async fn lower_case_and_unknown_statuses_and_missing_fields_still_yield_the_key() {
    let server = server().await;
    admin_call("PUT", "/admin/v1/orgs/o/tunnels/a/token")
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"token": TUNNEL_KEY, "status": "disconnected"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    admin_call("PUT", "/admin/v1/orgs/o/tunnels/b/token")
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"token": TUNNEL_KEY, "status": "RECONNECTING", "onPremiseUrl": null}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let admin = client(&server);

    let a = admin.regenerate_tunnel_key("o", "a").await.unwrap();
    assert_eq!(a.status, TunnelStatus::Disconnected);
    assert_eq!((a.id.as_str(), a.name.as_str()), ("", ""));
    let b = admin.regenerate_tunnel_key("o", "b").await.unwrap();
    assert_eq!(b.status, TunnelStatus::Other("RECONNECTING".into()));
    assert_eq!(b.status.as_str(), "RECONNECTING");
    assert_eq!(b.on_premise_url, None);
    assert_eq!(b.key.expose_secret(), TUNNEL_KEY);
}

#[tokio::test]
async fn the_key_never_shows_in_debug_display_errors_or_logs() {
    let logs = LogCapture::default();
    let _guard = logs.install();
    let server = server().await;
    admin_call("PUT", "/admin/v1/orgs/o/tunnels/ok/token")
        .respond_with(ResponseTemplate::new(200).set_body_json(tunnel_body()))
        .mount(&server)
        .await;
    // Bodies that carry the key but do not decode: serde would quote the value it choked on.
    admin_call("PUT", "/admin/v1/orgs/o/tunnels/bare/token")
        .respond_with(ResponseTemplate::new(200).set_body_json(json!(TUNNEL_KEY)))
        .mount(&server)
        .await;
    admin_call("PUT", "/admin/v1/orgs/o/tunnels/typed/token")
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"token": TUNNEL_KEY, "id": 7, "name": [TUNNEL_KEY]})),
        )
        .mount(&server)
        .await;
    let admin = client(&server);

    let tunnel = admin.regenerate_tunnel_key("o", "ok").await.unwrap();
    let shown = format!("{tunnel:?} {tunnel} {:?} {:?}", tunnel.key, admin);
    assert!(!shown.contains(TUNNEL_KEY), "{shown}");
    assert!(shown.contains("[redacted]"), "{shown}");
    assert!(!shown.contains(KEY), "{shown}");

    // Surprising types beside the key do not lose the minted key...
    let typed = admin.regenerate_tunnel_key("o", "typed").await.unwrap();
    assert_eq!(typed.key.expose_secret(), TUNNEL_KEY);
    assert_eq!(typed.id, "7");
    let shown = format!("{typed:?} {typed}");
    assert!(!shown.contains(TUNNEL_KEY), "{shown}");

    // ...while an answer with no readable key is an error that never shows the body.
    let err = admin.regenerate_tunnel_key("o", "bare").await.unwrap_err();
    assert!(matches!(err, Error::Decode { .. }), "{err:?}");
    // The key was minted even though the answer is unreadable: the caller must reconcile.
    assert!(err.may_have_been_applied());
    let text = format!("{err} {err:?}");
    assert!(!text.contains(TUNNEL_KEY), "{text}");
    assert!(!text.contains(KEY), "{text}");
    let logged = logs.text();
    assert!(
        logged.contains("atlassian_request"),
        "no log captured: {logged}"
    );
    assert!(!logged.contains(TUNNEL_KEY), "{logged}");
    assert!(!logged.contains(KEY), "{logged}");
}

#[tokio::test]
async fn a_mint_is_sent_once_even_when_the_policy_retries_and_503_comes_back() {
    let server = server().await;
    admin_call("PUT", "/admin/v1/orgs/o/tunnels/h/token")
        .respond_with(
            ResponseTemplate::new(503)
                .insert_header("Atl-Traceid", "tr-503")
                .insert_header("Retry-After", "0"),
        )
        .expect(1)
        .mount(&server)
        .await;

    let err = client_with(&server, quick_retries())
        .regenerate_tunnel_key("o", "h")
        .await
        .unwrap_err();

    assert_eq!(err.status(), Some(503));
    assert_eq!(err.attempts(), 1);
    assert_eq!(err.trace_id(), Some("tr-503"));
    assert!(
        err.may_have_been_applied(),
        "a 5xx on a mint may have minted"
    );
}

#[tokio::test]
async fn malformed_json_on_200_is_a_decode_error_with_its_path() {
    let server = server().await;
    admin_call("PUT", "/admin/v1/orgs/o/tunnels/h/token")
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("Atl-Traceid", "tr-dec")
                .set_body_raw(r#"{"id": "x", "token": "#, "application/json"),
        )
        .mount(&server)
        .await;
    admin_call("PUT", "/admin/v1/orgs/o/tunnels/missing/token")
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"id": "x", "status": "CONNECTED"})),
        )
        .mount(&server)
        .await;
    let admin = client(&server);

    let err = admin.regenerate_tunnel_key("o", "h").await.unwrap_err();
    assert!(matches!(err, Error::Decode { .. }), "{err:?}");
    assert_eq!(err.trace_id(), Some("tr-dec"));

    match admin
        .regenerate_tunnel_key("o", "missing")
        .await
        .unwrap_err()
    {
        Error::Decode { message, .. } => assert!(message.contains("`token`"), "{message}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn ids_that_are_not_one_segment_are_refused_before_any_request() {
    let server = server().await;
    let admin = client(&server);
    for (org, host) in [("..", "h"), ("", "h"), ("o", "."), ("o", ""), ("o", "a\nb")] {
        let err = admin.regenerate_tunnel_key(org, host).await.unwrap_err();
        assert!(
            matches!(err, Error::InvalidInput { .. }),
            "{org:?} {host:?}: {err:?}"
        );
        assert!(!err.may_have_been_applied());
    }
}
