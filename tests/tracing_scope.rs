//! A bulk pass reads rules in tasks of their own, on other worker threads: their request logs
//! must still reach the caller's scoped subscriber, inside the span it wrapped the pass in.
//!
//! Alone in its binary on purpose: tracing caches each call site's interest process-wide, and
//! a test on another thread without a subscriber can make a scoped one miss events.

mod support;

use atlassian_rotation::ClientOptions;
use tracing::Instrument as _;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rule_requests_of_a_pass_reach_the_callers_subscriber_in_its_span() {
    let w = support::rotation_world(30).await;
    let log = support::SharedLog::default();
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
        .with_writer(move || writer.clone())
        .finish();
    let _default = tracing::subscriber::set_default(subscriber);
    let new = w.new.token().clone();
    let plan = w
        .token_rotator(ClientOptions::new(), new.clone())
        .plan(&new)
        .instrument(tracing::info_span!("nightly_rotation"))
        .await
        .unwrap();
    assert_eq!(plan.scanned, 30);
    let log = log.text();
    let rule_reads: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("method=GET path=/rest/v1/rule/{}") && l.contains(": close "))
        .collect();
    assert_eq!(
        rule_reads.len(),
        30,
        "one closed span per rule read:\n{log}"
    );
    for line in rule_reads {
        assert!(
            line.contains("nightly_rotation"),
            "outside the caller's span: {line}"
        );
    }
}
