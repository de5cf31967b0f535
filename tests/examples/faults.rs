//! A misbehaving server: what is retried through, and what ends in one error line.

use super::*;

#[tokio::test]
async fn transient_503s_and_a_dropped_connection_are_retried_through() {
    let w = world(30).await;
    w.fake.set_rule_page_max(10);
    let holding = sorted(w.fake.rules_holding(&w.old_credentials()));
    w.fake.fault(
        Route::RuleSummaries,
        Fault::status(503).retry_after(0).times(2),
    );
    w.fake.fault(Route::RuleGet, Fault::drop_connection());
    let run = run_example!(token_usage, w.usage_env(Some(&w.old)), w.live());
    assert_eq!(run.code, 0, "{}", run.err);
    assert_eq!(uuids_of(&run.json_lines(), "match"), holding);
    assert_eq!(
        w.fake.request_count(Route::RuleSummaries),
        3 + 2,
        "3 pages and 2 retries"
    );
    assert_eq!(w.fake.request_count(Route::RuleGet), 30 + 1);
    run.assert_clean(&w.secrets());
}

#[tokio::test]
async fn a_429_storm_ends_in_one_error_line_without_a_hot_loop() {
    let w = world(30).await;
    w.fake.rate_limit(5, Duration::from_secs(30));
    let run = run_example!(token_usage, w.usage_env(Some(&w.old)), w.live());
    run.assert_failed_with("429");
    let requests = w.fake.request_count(Route::Any);
    assert!(
        requests <= 5 + 8 + 1,
        "{requests} requests: bounded by the budget and concurrency"
    );
    run.assert_clean(&w.secrets());
}

#[tokio::test]
async fn an_html_502_ends_in_a_clear_error_after_bounded_retries() {
    let w = world(10).await;
    w.fake
        .fault(Route::RuleSummaries, Fault::html(502).times(100));
    let run = run_example!(token_usage, w.usage_env(Some(&w.old)), w.live());
    run.assert_failed_with("502");
    assert_eq!(
        w.fake.request_count(Route::RuleSummaries),
        4,
        "--max-attempts defaults to 4"
    );
    run.assert_clean(&w.secrets());
}

#[tokio::test]
async fn broken_json_ends_in_a_clear_error() {
    let w = world(10).await;
    w.fake
        .fault(Route::RuleSummaries, Fault::malformed_json().times(100));
    let run = run_example!(token_usage, w.usage_env(Some(&w.old)), w.live());
    run.assert_failed_with("does not decode");
    assert!(w.fake.request_count(Route::RuleSummaries) <= 4);
    run.assert_clean(&w.secrets());
}

#[tokio::test]
async fn a_redirect_is_not_followed() {
    use wiremock::matchers::any;
    use wiremock::{Mock, MockServer, ResponseTemplate};

    let w = world(10).await;
    let server = MockServer::start().await;
    let target = format!("{}/rest/v1/rule/summary", w.fake.automation_base(CLOUD));
    Mock::given(any())
        .respond_with(ResponseTemplate::new(302).insert_header("Location", target.as_str()))
        .mount(&server)
        .await;
    let base = format!("{}/automation/public/jira/{CLOUD}", server.uri());
    let args = strings(&["--automation-base", &base, "--email", &w.admin_email]);
    let run = run_example!(token_usage, w.usage_env(Some(&w.old)), args);
    run.assert_failed_with("302");
    assert_eq!(
        w.fake.request_count(Route::Any),
        0,
        "the redirect target was never asked"
    );
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
    run.assert_clean(&w.secrets());
}
