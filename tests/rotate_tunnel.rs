//! The tunnel-key rotation over HTTP (wiremock on loopback): regenerate once, install the
//! minted key, verify the organisation and the probe, and resume without a second regenerate.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use atlassian_rotation::instance::InstanceAuth;
use atlassian_rotation::rotate::{
    self, Journal, MemoryJournal, Probe, RotateOptions, Step, TunnelKeyRotator,
};
use atlassian_rotation::secret::{AdminApiKey, PersonalAccessToken, TunnelKey};
use atlassian_rotation::{AdminClient, ClientOptions, Error, InstanceClient, RetryPolicy};
use serde_json::json;
use support::strict_server as server;
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const MINTED: &str = "O4D4eSRbMvs-minted-tunnel-key-NOT-REAL==";
const REGENERATE: &str = "/admin/v1/orgs/org-1/tunnels/5b1c7e2a-host/token";
const INSTALL: &str = "/rest/secure-tunneling/latest/tunnel/token";

async fn mount_regenerate(server: &MockServer, times: u64) {
    Mock::given(method("PUT"))
        .and(path(REGENERATE))
        .and(header("authorization", "Bearer admin-key"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "5b1c7e2a", "name": "tunnel1", "token": MINTED, "status": "DISCONNECTED",
            "onPremiseUrl": "https://jira.internal", "upstreamDnsUrl": "http://5b1c7e2a.self-hosted.atlassian.com"
        })))
        .expect(times)
        .named("regenerate")
        .mount(server)
        .await;
}

fn clients(server: &MockServer) -> (AdminClient, InstanceClient) {
    clients_with(
        server,
        ClientOptions::new().retry_policy(RetryPolicy::none()),
    )
}

/// The instance accepts any key, answering for `org`.
async fn mount_install(server: &MockServer, org: &str) {
    Mock::given(method("PUT"))
        .and(path(INSTALL))
        .respond_with(install_answer(org))
        .mount(server)
        .await;
}

fn install_answer(org: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "name": "tunnel1", "cloudOrgName": org, "cloudPageUrl": "https://admin.atlassian.com/o/org-1"
    }))
}

#[tokio::test]
async fn the_minted_key_is_installed_and_verified_for_the_expected_organisation() {
    let server = server().await;
    mount_regenerate(&server, 1).await;
    Mock::given(method("PUT"))
        .and(path(INSTALL))
        .and(header("authorization", "Bearer dc-pat"))
        .and(body_json(json!({ "token": MINTED })))
        .respond_with(install_answer("Acme"))
        .expect(1)
        .named("install")
        .mount(&server)
        .await;
    let (admin, instance) = clients(&server);
    let probes = Arc::new(AtomicUsize::new(0));
    let counter = probes.clone();
    let rotator = TunnelKeyRotator::new(admin, instance, "org-1", "5b1c7e2a-host")
        .expect_organisation("Acme")
        .probe(Probe::check(move || {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            async move { n >= 2 }
        }))
        .probe_timing(Duration::from_secs(10), Duration::from_millis(1));
    let journal = MemoryJournal::new();
    let report = rotate::rotate(&rotator, &journal, RotateOptions::new("t1"))
        .await
        .unwrap();
    assert!(report.succeeded());
    assert_eq!(
        probes.load(Ordering::SeqCst),
        3,
        "polled until the probe passed"
    );
    let checks = &report.verified.as_ref().unwrap().checks;
    assert!(
        checks.iter().any(|c| c.contains("organisation `Acme`")),
        "{checks:?}"
    );
    assert_eq!(
        report.credential_fingerprint.as_deref(),
        Some(TunnelKey::new(MINTED).fingerprint().as_str())
    );
    assert!(!serde_json::to_string(&report).unwrap().contains(MINTED));
}

#[tokio::test]
async fn an_install_failure_resumes_with_the_journaled_key_and_no_second_regenerate() {
    let server = server().await;
    mount_regenerate(&server, 1).await;
    Mock::given(method("PUT"))
        .and(path(INSTALL))
        .respond_with(ResponseTemplate::new(503).insert_header("atl-traceid", "t-503"))
        .up_to_n_times(1)
        .expect(1)
        .named("install down once")
        .mount(&server)
        .await;
    let (admin, instance) = clients(&server);
    let rotator = TunnelKeyRotator::new(admin, instance, "org-1", "5b1c7e2a-host");
    let journal = MemoryJournal::new();
    let err = rotate::rotate(&rotator, &journal, RotateOptions::new("t2"))
        .await
        .unwrap_err();
    assert_eq!(err.error.status(), Some(503));
    assert_eq!(err.error.trace_id(), Some("t-503"));
    let entry = journal.load("t2").await.unwrap().unwrap();
    assert_eq!(entry.step, Step::Regenerated);
    assert_eq!(
        entry.credential::<TunnelKey>(),
        Some(TunnelKey::new(MINTED))
    );

    Mock::given(method("PUT"))
        .and(path(INSTALL))
        .and(body_json(json!({ "token": MINTED })))
        .respond_with(install_answer("Acme"))
        .expect(1)
        .named("install back")
        .mount(&server)
        .await;
    let report = rotate::rotate(&rotator, &journal, RotateOptions::new("t2"))
        .await
        .unwrap();
    assert!(report.succeeded());
    assert_eq!(report.resumed_from, Some(Step::Regenerated));
    // The regenerate mock's expect(1) is checked when the server drops.
}

#[tokio::test]
async fn a_key_accepted_for_another_organisation_fails_verification() {
    let server = server().await;
    mount_regenerate(&server, 1).await;
    Mock::given(method("PUT"))
        .and(path(INSTALL))
        .respond_with(install_answer("Someone Else"))
        .expect(1)
        .mount(&server)
        .await;
    let (admin, instance) = clients(&server);
    let rotator = TunnelKeyRotator::new(admin, instance, "org-1", "5b1c7e2a-host")
        .expect_organisation("Acme");
    let journal = MemoryJournal::new();
    let err = rotate::rotate(&rotator, &journal, RotateOptions::new("t3"))
        .await
        .unwrap_err();
    assert!(
        matches!(err.error, Error::Rotation { step: "verify", .. }),
        "{:?}",
        err.error
    );
    assert!(err.error.to_string().contains("Someone Else"));
    // A failed verify steps back: the rerun installs the key again, then verifies.
    assert_eq!(
        journal.load("t3").await.unwrap().unwrap().step,
        Step::Regenerated
    );
}

#[tokio::test]
async fn a_probe_that_never_passes_fails_at_its_deadline() {
    let server = server().await;
    mount_regenerate(&server, 1).await;
    mount_install(&server, "Acme").await;
    Mock::given(method("GET"))
        .and(path("/through-the-tunnel"))
        .respond_with(ResponseTemplate::new(502))
        .named("probe")
        .mount(&server)
        .await;
    let (admin, instance) = clients(&server);
    let rotator = TunnelKeyRotator::new(admin, instance, "org-1", "5b1c7e2a-host")
        .probe(Probe::url(format!("{}/through-the-tunnel", server.uri())))
        .probe_timing(Duration::from_millis(30), Duration::from_millis(5));
    let err = rotate::rotate(&rotator, &MemoryJournal::new(), RotateOptions::new("t4"))
        .await
        .unwrap_err();
    assert!(
        err.error.to_string().contains("probe did not succeed"),
        "{}",
        err.error
    );
    let probes = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == "/through-the-tunnel")
        .count();
    assert!((2..=8).contains(&probes), "bounded polling, got {probes}");
}

// The server holds the response far longer than the client's 100 ms timeout: that timeout is
// the behaviour under test, so this test runs on real time (paused time would fire it before
// the request is even sent).
#[tokio::test]
async fn a_regenerate_whose_outcome_is_unknown_is_not_retried_and_says_so() {
    let server = server().await;
    Mock::given(method("PUT"))
        .and(path(REGENERATE))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(3600)))
        .expect(1)
        .mount(&server)
        .await;
    let (admin, instance) = clients_with(
        &server,
        ClientOptions::new().timeout(Duration::from_millis(100)),
    );
    let rotator = TunnelKeyRotator::new(admin, instance, "org-1", "5b1c7e2a-host");
    let journal = MemoryJournal::new();
    let err = rotate::rotate(&rotator, &journal, RotateOptions::new("t5"))
        .await
        .unwrap_err();
    assert!(err.error.may_have_been_applied(), "{:?}", err.error);
    assert_eq!(err.error.attempts(), 1);
    // The attempt stays on record, and a rerun does not mint again unasked.
    assert_eq!(
        journal.load("t5").await.unwrap().unwrap().step,
        Step::Started
    );
    let again = rotate::rotate(&rotator, &journal, RotateOptions::new("t5"))
        .await
        .unwrap_err();
    assert!(
        again.error.to_string().contains("outcome is unknown"),
        "{}",
        again.error
    );
}

#[tokio::test]
async fn a_probe_url_that_cannot_work_is_refused_before_anything_is_minted() {
    let server = server().await;
    mount_regenerate(&server, 0).await;
    let (admin, instance) = clients(&server);
    let rotator = TunnelKeyRotator::new(admin, instance, "org-1", "5b1c7e2a-host")
        .probe(Probe::url("not a url"));
    let journal = MemoryJournal::new();
    let err = rotate::rotate(&rotator, &journal, RotateOptions::new("t6"))
        .await
        .unwrap_err();
    assert!(
        matches!(err.error, Error::InvalidInput { .. }),
        "{}",
        err.error
    );
    assert_eq!(
        journal.load("t6").await.unwrap().unwrap().step,
        Step::NotMinted
    );
}

#[tokio::test]
async fn a_probe_url_with_a_query_is_polled_as_given() {
    let server = server().await;
    mount_regenerate(&server, 1).await;
    mount_install(&server, "Acme").await;
    Mock::given(method("GET"))
        .and(path("/status"))
        .and(wiremock::matchers::query_param("check", "tunnel"))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&server)
        .await;
    let (admin, instance) = clients(&server);
    let rotator = TunnelKeyRotator::new(admin, instance, "org-1", "5b1c7e2a-host")
        .probe(Probe::url(format!("{}/status?check=tunnel", server.uri())));
    let report = rotate::rotate(&rotator, &MemoryJournal::new(), RotateOptions::new("t7"))
        .await
        .unwrap();
    assert!(report.succeeded());
}

/// A probe URL on a host that is not loopback, over plain http. Never requested by these tests:
/// only its acceptance before the mint is under test.
const REMOTE_PLAIN_PROBE: &str = "http://tunnel-probe.example.invalid/rest/status";

/// What the regenerate endpoint received.
async fn regenerate_requests(server: &MockServer) -> usize {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == REGENERATE)
        .count()
}

/// Admin and instance clients on `server`, built from `options`.
fn clients_with(server: &MockServer, options: ClientOptions) -> (AdminClient, InstanceClient) {
    let admin = AdminClient::builder(AdminApiKey::new("admin-key"))
        .base_url(server.uri())
        .options(options.clone())
        .build()
        .unwrap();
    let pat = PersonalAccessToken::new("dc-pat");
    let instance = InstanceClient::builder(InstanceAuth::PersonalAccessToken(pat))
        .base_url(server.uri())
        .options(options)
        .build()
        .unwrap();
    (admin, instance)
}

#[tokio::test]
async fn a_plain_http_probe_on_a_remote_host_is_refused_without_opt_in_before_anything_is_minted() {
    let server = server().await;
    mount_regenerate(&server, 0).await;
    let (admin, instance) = clients(&server);
    let rotator = TunnelKeyRotator::new(admin, instance, "org-1", "5b1c7e2a-host")
        .probe(Probe::url(REMOTE_PLAIN_PROBE));
    let journal = MemoryJournal::new();
    let err = rotate::rotate(&rotator, &journal, RotateOptions::new("t8"))
        .await
        .unwrap_err();
    match &err.error {
        Error::InvalidInput { what, reason } => {
            assert_eq!(*what, "probe URL");
            assert!(reason.contains("allow_plain_http"), "{reason}");
        }
        other => panic!("expected InvalidInput, got {other:?}"),
    }
    assert_eq!(regenerate_requests(&server).await, 0, "nothing was minted");
    assert_eq!(
        journal.load("t8").await.unwrap().unwrap().step,
        Step::NotMinted
    );
}

#[tokio::test]
async fn a_plain_http_probe_is_accepted_when_the_callers_options_opt_in() {
    let server = server().await;
    mount_regenerate(&server, 1).await;
    // The options the caller built its clients with carry the opt-in; the probe follows them.
    let options = ClientOptions::new()
        .allow_plain_http(true)
        .retry_policy(RetryPolicy::none());
    let (admin, instance) = clients_with(&server, options);
    let rotator = TunnelKeyRotator::new(admin, instance, "org-1", "5b1c7e2a-host")
        .probe(Probe::url(REMOTE_PLAIN_PROBE));
    use atlassian_rotation::rotate::Rotator as _;
    let key = rotator
        .regenerate()
        .await
        .expect("the probe URL is accepted and the key minted");
    assert_eq!(key, TunnelKey::new(MINTED));
    assert_eq!(regenerate_requests(&server).await, 1);
}

#[tokio::test]
async fn explicit_probe_options_decide_over_the_instance_clients() {
    use atlassian_rotation::rotate::Rotator as _;
    // Opt-in given for the probe only.
    let server = server().await;
    mount_regenerate(&server, 1).await;
    let (admin, instance) = clients(&server);
    let rotator = TunnelKeyRotator::new(admin, instance, "org-1", "5b1c7e2a-host")
        .probe(Probe::url(REMOTE_PLAIN_PROBE))
        .probe_options(ClientOptions::new().allow_plain_http(true));
    rotator.regenerate().await.unwrap();
    assert_eq!(regenerate_requests(&server).await, 1);

    // Opt-in on the clients, but not for the probe.
    let server = self::server().await;
    mount_regenerate(&server, 0).await;
    let (admin, instance) = clients_with(&server, ClientOptions::new().allow_plain_http(true));
    let rotator = TunnelKeyRotator::new(admin, instance, "org-1", "5b1c7e2a-host")
        .probe(Probe::url(REMOTE_PLAIN_PROBE))
        .probe_options(ClientOptions::new());
    let err = rotator.regenerate().await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidInput {
                what: "probe URL",
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(regenerate_requests(&server).await, 0, "nothing was minted");
}

#[tokio::test]
async fn a_probe_url_carrying_credentials_is_refused_and_never_shown() {
    let server = server().await;
    mount_regenerate(&server, 0).await;
    let (admin, instance) = clients(&server);
    let probe = Probe::url(format!(
        "http://probe-user:s3cr3t-probe-pw@{}/status",
        server.address()
    ));
    assert!(!format!("{probe:?}").contains("s3cr3t"), "{probe:?}");
    let bare = Probe::url("https://ATATT3x-token-as-user@probe.example.com/status");
    assert!(!format!("{bare:?}").contains("ATATT3x"), "{bare:?}");
    let rotator = TunnelKeyRotator::new(admin, instance, "org-1", "5b1c7e2a-host").probe(probe);
    assert!(!format!("{rotator:?}").contains("s3cr3t"));
    let err = rotate::rotate(&rotator, &MemoryJournal::new(), RotateOptions::new("t9"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err.error,
            Error::InvalidInput {
                what: "probe URL",
                ..
            }
        ),
        "{:?}",
        err.error
    );
    assert!(!err.error.to_string().contains("s3cr3t"));
    assert_eq!(regenerate_requests(&server).await, 0, "nothing was minted");
}

#[tokio::test]
async fn the_callers_retry_policy_reaches_the_probe_requests() {
    let server = server().await;
    mount_regenerate(&server, 1).await;
    mount_install(&server, "Acme").await;
    Mock::given(method("GET"))
        .and(path("/through-the-tunnel"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(2)
        .with_priority(1)
        .named("probe down twice")
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/through-the-tunnel"))
        .respond_with(ResponseTemplate::new(200))
        .named("probe up")
        .mount(&server)
        .await;
    let retries = RetryPolicy::default()
        .max_attempts(3)
        .backoff(Duration::from_millis(1), Duration::from_millis(2));
    let (admin, instance) = clients_with(&server, ClientOptions::new().retry_policy(retries));
    // A single probe attempt within the deadline: only the caller's retries can make it pass.
    let rotator = TunnelKeyRotator::new(admin, instance, "org-1", "5b1c7e2a-host")
        .probe(Probe::url(format!("{}/through-the-tunnel", server.uri())))
        .probe_timing(Duration::from_secs(30), Duration::from_secs(3600));
    let report = rotate::rotate(&rotator, &MemoryJournal::new(), RotateOptions::new("t10"))
        .await
        .unwrap();
    let checks = &report.verified.as_ref().unwrap().checks;
    assert!(
        checks.iter().any(|c| c.contains("after 1 attempt(s)")),
        "{checks:?}"
    );
    let probes = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == "/through-the-tunnel")
        .count();
    assert_eq!(
        probes, 3,
        "two 503s retried by the caller's policy, then 200"
    );
}

#[tokio::test]
async fn the_callers_response_cap_reaches_the_probe_requests() {
    let server = server().await;
    mount_regenerate(&server, 1).await;
    mount_install(&server, "Acme").await;
    Mock::given(method("GET"))
        .and(path("/through-the-tunnel"))
        .respond_with(ResponseTemplate::new(200).set_body_string("x".repeat(4096)))
        .named("probe with a large page")
        .mount(&server)
        .await;
    let options = ClientOptions::new()
        .retry_policy(RetryPolicy::none())
        .max_body_bytes(1024);
    let (admin, instance) = clients_with(&server, options);
    let rotator = TunnelKeyRotator::new(admin, instance, "org-1", "5b1c7e2a-host")
        .probe(Probe::url(format!("{}/through-the-tunnel", server.uri())))
        .probe_timing(Duration::from_secs(30), Duration::from_secs(3600));
    let err = rotate::rotate(&rotator, &MemoryJournal::new(), RotateOptions::new("t11"))
        .await
        .unwrap_err();
    assert!(
        err.error.to_string().contains("probe did not succeed"),
        "a body over the caller's cap fails the probe: {}",
        err.error
    );
}

/// Verify alone, on paused time: the probe's deadline passes without a wall-clock wait.
#[tokio::test(start_paused = true)]
async fn a_probe_check_that_hangs_fails_at_the_deadline() {
    let server = server().await;
    let (admin, instance) = clients(&server);
    let rotator = TunnelKeyRotator::new(admin, instance, "org-1", "5b1c7e2a-host")
        .probe(Probe::check(futures::future::pending::<bool>))
        .probe_timing(Duration::from_millis(50), Duration::from_millis(10));
    let err = atlassian_rotation::rotate::Rotator::verify(
        &rotator,
        &TunnelKey::new("k"),
        &atlassian_rotation::rotate::Updated::new(1, 1),
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("probe did not succeed"), "{err}");
}
