//! Fault injection, the rate limit, trace ids and the request log.

use std::time::Duration;

use atlassian_rotation::testing::{FakeAtlassian, Fault, Route, TunnelStatus};
use serde_json::json;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{World, http, send, with_json, world};

fn myself(w: &World) -> String {
    format!("{}/rest/api/3/myself", w.fake.site_base())
}

fn regenerate_url(w: &World, hostname: &str) -> String {
    format!(
        "{}/admin/v1/orgs/{}/tunnels/{hostname}/token",
        w.fake.admin_base(),
        w.org.id
    )
}

#[tokio::test]
async fn a_status_fault_answers_n_times_with_retry_after_then_the_route_recovers() {
    let w = world().await;
    w.fake.fault(
        Route::JiraMyself,
        Fault::status(503).retry_after(7).times(2),
    );
    // A fault for another route does not fire here.
    w.fake.fault(Route::RuleGet, Fault::status(500));
    for _ in 0..2 {
        let got = send(w.basic(http().get(myself(&w)))).await;
        assert_eq!(got.status, 503);
        assert_eq!(got.header("retry-after"), Some("7"));
        assert_eq!(got.first_error()["status"], "503");
    }
    assert_eq!(send(w.basic(http().get(myself(&w)))).await.status, 200);

    w.fake
        .fault(Route::Any, Fault::status(409).body(r#"{"key":"conflict"}"#));
    let custom = send(w.basic(http().get(myself(&w)))).await;
    assert_eq!(
        (custom.status, custom.json()),
        (409, json!({"key": "conflict"}))
    );

    w.fake.fault(Route::JiraMyself, Fault::status(502).times(5));
    w.fake.clear_faults();
    assert_eq!(send(w.basic(http().get(myself(&w)))).await.status, 200);
}

#[tokio::test]
async fn every_response_carries_a_trace_id() {
    let w = world().await;
    w.fake.fault(Route::Any, Fault::html(502));
    let mut seen = Vec::new();
    for url in [
        myself(&w),
        myself(&w),
        format!("{}/nowhere", w.fake.site_base()),
    ] {
        let got = send(w.basic(http().get(url))).await;
        let trace = got.header("atl-traceid").expect("Atl-Traceid").to_owned();
        assert!(trace.len() == 16 && trace.chars().all(|c| c.is_ascii_hexdigit()));
        seen.push(trace);
    }
    seen.dedup();
    assert_eq!(seen.len(), 3, "trace ids differ per response");
}

#[tokio::test(start_paused = true)]
async fn latency_is_on_the_tokio_clock_and_trips_client_timeouts() {
    let w = world().await;
    w.fake
        .fault(Route::JiraMyself, Fault::latency(Duration::from_secs(40)));
    let started = tokio::time::Instant::now();
    let got = send(w.basic(http().get(myself(&w)))).await;
    assert_eq!(got.status, 200, "after the delay the request is handled");
    assert!(started.elapsed() >= Duration::from_secs(40));

    w.fake
        .fault(Route::JiraMyself, Fault::latency(Duration::from_secs(40)));
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let err = w.basic(impatient.get(myself(&w))).send().await.unwrap_err();
    assert!(err.is_timeout(), "{err}");
}

/// The network latency holds the answer, not the handling: a client that gives up leaves the
/// change applied, as with a slow answer from real Atlassian. A fault's latency delays the
/// handling, and the network latency adds to it.
#[tokio::test(start_paused = true)]
async fn network_latency_holds_the_answer_and_adds_to_a_fault_latency() {
    let w = world().await;
    w.fake.set_latency(Duration::from_secs(5));
    let tunnel = w.fake.add_tunnel(&w.org.id, "dc");
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_secs(1))
        .build()
        .unwrap();
    let err = w
        .admin(impatient.put(regenerate_url(&w, &tunnel.hostname)))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err}");
    assert_eq!(
        w.fake.tunnel_status(&tunnel.hostname),
        Some(TunnelStatus::Disconnected),
        "minted although the answer never arrived"
    );

    w.fake.set_latency(Duration::from_secs(1));
    w.fake
        .fault(Route::JiraMyself, Fault::latency(Duration::from_secs(2)));
    let started = tokio::time::Instant::now();
    assert_eq!(send(w.basic(http().get(myself(&w)))).await.status, 200);
    assert_eq!(started.elapsed().as_secs(), 3);
}

#[tokio::test]
async fn a_dropped_connection_sends_nothing_and_leaves_state_unless_applied_first() {
    let w = world().await;
    let tunnel = w.fake.add_tunnel(&w.org.id, "dc");
    let url = regenerate_url(&w, &tunnel.hostname);

    w.fake
        .fault(Route::AdminRegenerate, Fault::drop_connection());
    let err = w.admin(http().put(&url)).send().await.unwrap_err();
    assert!(!err.is_status() && !err.is_timeout(), "{err}");
    assert_eq!(
        w.fake.tunnel_key(&tunnel.hostname),
        Some(tunnel.current_key.clone())
    );
    assert_eq!(
        w.fake.tunnel_status(&tunnel.hostname),
        Some(TunnelStatus::Connected)
    );

    // The worst case for a rotation: the key was minted, the response is lost.
    w.fake.fault(
        Route::AdminRegenerate,
        Fault::drop_connection().after_applying(),
    );
    assert!(w.admin(http().put(&url)).send().await.is_err());
    assert_ne!(
        w.fake.tunnel_key(&tunnel.hostname),
        Some(tunnel.current_key)
    );
    assert_eq!(
        w.fake.tunnel_status(&tunnel.hostname),
        Some(TunnelStatus::Disconnected)
    );
    assert_eq!(w.fake.request_count(Route::AdminRegenerate), 2);
}

#[tokio::test]
async fn a_malformed_body_is_a_200_that_does_not_parse_and_the_write_happened() {
    let w = world().await;
    let tunnel = w.fake.add_tunnel(&w.org.id, "dc");
    w.fake
        .fault(Route::AdminRegenerate, Fault::malformed_json());
    let got = send(w.admin(http().put(regenerate_url(&w, &tunnel.hostname)))).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.header("content-type"), Some("application/json"));
    assert!(serde_json::from_slice::<serde_json::Value>(&got.body).is_err());
    assert_eq!(
        w.fake.tunnel_status(&tunnel.hostname),
        Some(TunnelStatus::Disconnected)
    );
}

#[tokio::test]
async fn an_html_error_page_and_an_oversized_body() {
    let w = world().await;
    let uuid = w.fake.add_rule("c1", json!({"name": "r"}));
    let url = format!("{}/rest/v1/rule/{uuid}", w.fake.automation_base("c1"));

    w.fake.fault(Route::RuleGet, Fault::html(504));
    let html = send(w.basic(http().get(&url))).await;
    assert_eq!(html.status, 504);
    assert!(
        html.header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
    assert!(String::from_utf8_lossy(&html.body).starts_with("<!DOCTYPE html>"));

    w.fake.fault(Route::RuleGet, Fault::oversized(3 << 20));
    let big = send(w.basic(http().get(&url))).await;
    assert_eq!(big.status, 200);
    assert_eq!(big.body.len(), 3 << 20);
    assert!(big.json()["data"].is_string(), "oversized but valid JSON");

    // Neither fault served the rule; the normal GET afterwards does.
    assert_eq!(w.fake.rule_stats(&uuid).unwrap().gets, 1);
    assert_eq!(
        send(w.basic(http().get(&url))).await.json()["rule"]["name"],
        "r"
    );
}

#[tokio::test(start_paused = true)]
async fn past_the_budget_requests_get_429_until_retry_after_has_passed() {
    let w = world().await;
    w.fake.rate_limit(2, Duration::from_secs(30));
    for _ in 0..2 {
        assert_eq!(send(w.basic(http().get(myself(&w)))).await.status, 200);
    }
    let limited = send(w.basic(http().get(myself(&w)))).await;
    assert_eq!(limited.status, 429);
    assert_eq!(limited.header("retry-after"), Some("30"));
    let reset = OffsetDateTime::parse(limited.header("x-ratelimit-reset").unwrap(), &Rfc3339)
        .expect("X-RateLimit-Reset is an RFC 3339 timestamp");
    let ahead = reset - OffsetDateTime::now_utc();
    assert!(ahead > time::Duration::seconds(25) && ahead <= time::Duration::seconds(30));

    tokio::time::advance(Duration::from_secs(10)).await;
    let still = send(w.basic(http().get(myself(&w)))).await;
    assert_eq!(
        (still.status, still.header("retry-after")),
        (429, Some("20"))
    );

    tokio::time::advance(Duration::from_secs(20)).await;
    assert_eq!(send(w.basic(http().get(myself(&w)))).await.status, 200);

    w.fake.rate_limit(0, Duration::ZERO);
    let zero = send(w.basic(http().get(myself(&w)))).await;
    assert_eq!((zero.status, zero.header("retry-after")), (429, Some("0")));
    w.fake.clear_rate_limit();
    assert_eq!(send(w.basic(http().get(myself(&w)))).await.status, 200);
}

#[tokio::test]
async fn the_request_log_records_requests_and_redacts_credentials_and_bodies() {
    let w = world().await;
    let uuid = w.fake.add_rule("c1", json!({"name": "r"}));
    let url = format!("{}/rest/v1/rule/{uuid}", w.fake.automation_base("c1"));
    let body = json!({"rule": {"name": "r", "headers": [{"value": "Bearer body-secret-123"}]}});
    send(w.basic(with_json(http().put(&url), &body))).await;
    send(
        http()
            .get(format!("{}?limit=5", myself(&w)))
            .header("Authorization", "raw-secret-456"),
    )
    .await;

    let log = w.fake.requests();
    assert_eq!(log.len(), 2);
    let put = &log[0];
    assert_eq!(put.method(), "PUT");
    assert_eq!(
        put.path(),
        format!("/automation/public/jira/c1/rest/v1/rule/{uuid}")
    );
    assert_eq!(put.route(), Some(Route::RulePut));
    assert_eq!(put.auth_scheme(), Some("Basic"));
    assert_eq!(put.header("content-type"), Some("application/json"));
    assert_eq!(put.body_json(), Some(body));
    assert!(put.expose_authorization().unwrap().starts_with("Basic "));
    assert_eq!(log[1].query(), Some("limit=5"));
    assert_eq!(log[1].auth_scheme(), None);

    let shown = format!("{log:?}");
    let basic = put
        .expose_authorization()
        .unwrap()
        .trim_start_matches("Basic ");
    for secret in [
        basic,
        "body-secret-123",
        "raw-secret-456",
        w.token.expose_secret(),
    ] {
        assert!(!shown.contains(secret), "{secret} leaked: {shown}");
    }
    assert!(shown.contains("Basic [redacted]") && shown.contains("bytes, [redacted]"));
    assert!(shown.contains("RulePut"));

    w.fake.clear_requests();
    assert!(w.fake.requests().is_empty());
}

#[tokio::test]
async fn faulted_and_rate_limited_requests_are_logged_too() {
    let fake = FakeAtlassian::start().await;
    fake.fault(Route::JiraMyself, Fault::drop_connection());
    let url = format!("{}/rest/api/3/myself", fake.site_base());
    assert!(http().get(&url).send().await.is_err());
    fake.rate_limit(0, Duration::from_secs(5));
    assert_eq!(send(http().get(&url)).await.status, 429);
    assert_eq!(fake.request_count(Route::JiraMyself), 2);
    assert_eq!(fake.request_count(Route::Any), 2);
}
