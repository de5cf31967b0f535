//! The fault matrix: every endpoint the clients call, against every way a response can go wrong,
//! asserting the typed error and how many times the request went out.
//!
//! One runner ([`run_route`]) plays a table of rows (route, fault, expected outcome) against the
//! stateful fake. The expected outcome of a row follows from the retry contract, written once in
//! [`expected`]: reads and idempotent writes are retried on 429/502/503/504 and on connection
//! failures up to the policy's attempts, never on another 4xx nor after a decode error; the tunnel
//! regenerate is never retried once it may have been sent.
//!
//! Time is paused (tokio's clock), so `Retry-After` waits and timeouts cost nothing: a timeout is
//! a 1 s client timeout against a 40 s fake latency, and tokio's auto-advance always reaches the
//! client's timer first.
//!
//! The rotation half (a fault at each step of each rotation, then a resume) is in
//! `fault_matrix/rotations.rs`.

#[path = "fault_matrix/rotations.rs"]
mod rotations;
#[path = "support/mod.rs"]
mod support;

use std::time::Duration;

use atlassian_rotation::admin::{AdminKeyQuery, OrgTokenQuery, RevokeAll};
use atlassian_rotation::automation::{AutomationClient, RuleDocument, RuleState};
use atlassian_rotation::instance::InstanceAuth;
use atlassian_rotation::jira::JiraClient;
use atlassian_rotation::secret::{AdminApiKey, ApiCredentials};
use atlassian_rotation::testing::{
    FakeAtlassian, FakeOrg, FakeServiceAccount, FakeTunnel, FakeUser, Fault, Route,
};
use atlassian_rotation::{AdminClient, ClientOptions, Error, InstanceClient, RetryPolicy};
use futures::{StreamExt as _, TryStreamExt as _};
use time::OffsetDateTime;

const CLOUD: &str = "cloud-faults";
/// The policy every client in the matrix uses.
const ATTEMPTS: u32 = 4;
/// The client's per-request timeout; a latency fault waits far longer.
const TIMEOUT: Duration = Duration::from_secs(1);
const LATENCY: Duration = Duration::from_secs(40);
/// The response cap; an oversized fault answers four times that.
const BODY_CAP: usize = 16 << 10;
const RETRY_AFTER_SECS: u64 = 3;

/// How a request may be repeated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// GET, or the POST search: retried on transient failures.
    Read,
    /// PUT/DELETE that can be sent twice with the same effect: retried like a read.
    Idempotent,
    /// The tunnel regenerate: retried only when it surely never left.
    Mint,
}

/// What the client makes of a 2xx body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Body {
    /// Must decode into a value: empty or malformed is a decode error.
    Required,
    /// May be empty (`null`); malformed is still a decode error.
    Optional,
    /// Not read at all.
    Ignored,
}

/// Every endpoint the crate's clients call, with its retry class and body handling.
const ROUTES: &[(Route, Kind, Body)] = &[
    (Route::AdminRegenerate, Kind::Mint, Body::Required),
    (Route::AdminOrg, Kind::Read, Body::Required),
    (Route::UserTokens, Kind::Read, Body::Optional),
    (Route::RevokeUserToken, Kind::Idempotent, Body::Ignored),
    (Route::OrgTokens, Kind::Read, Body::Required),
    (Route::AdminKeys, Kind::Read, Body::Required),
    (Route::AdminKeyCount, Kind::Read, Body::Required),
    (Route::RevokeAdminKey, Kind::Idempotent, Body::Ignored),
    (Route::ServiceAccounts, Kind::Read, Body::Required),
    (Route::ServiceAccountTokens, Kind::Read, Body::Required),
    (
        Route::RevokeServiceAccountTokens,
        Kind::Idempotent,
        Body::Ignored,
    ),
    (Route::InstallTunnelKey, Kind::Idempotent, Body::Optional),
    (Route::DcMyself, Kind::Read, Body::Required),
    (Route::JiraMyself, Kind::Read, Body::Required),
    (Route::RuleSummaries, Kind::Read, Body::Required),
    (Route::RuleGet, Kind::Read, Body::Required),
    (Route::RulePut, Kind::Idempotent, Body::Ignored),
    (Route::RuleState, Kind::Idempotent, Body::Ignored),
];

/// The ways a response goes wrong. Each fault applies to every attempt (`times(10)`) unless
/// the case says otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Case {
    /// No fault: the baseline proving the row's call is set up right.
    Healthy,
    S500,
    S502,
    S503RetryAfter,
    S429RetryAfter,
    S401,
    S403,
    S404,
    Timeout,
    Dropped,
    EmptyBody,
    MalformedJson,
    HtmlPage,
    Oversized,
    /// Two 503s, then the route recovers.
    Flaky503,
}

const CASES: &[Case] = &[
    Case::Healthy,
    Case::S500,
    Case::S502,
    Case::S503RetryAfter,
    Case::S429RetryAfter,
    Case::S401,
    Case::S403,
    Case::S404,
    Case::Timeout,
    Case::Dropped,
    Case::EmptyBody,
    Case::MalformedJson,
    Case::HtmlPage,
    Case::Oversized,
    Case::Flaky503,
];

impl Case {
    fn fault(self) -> Option<Fault> {
        let every = 10;
        Some(match self {
            Case::Healthy => return None,
            Case::S500 => Fault::status(500).times(every),
            Case::S502 => Fault::status(502).times(every),
            Case::S503RetryAfter => Fault::status(503)
                .retry_after(RETRY_AFTER_SECS)
                .times(every),
            Case::S429RetryAfter => Fault::status(429)
                .retry_after(RETRY_AFTER_SECS)
                .times(every),
            Case::S401 => Fault::status(401).times(every),
            Case::S403 => Fault::status(403).times(every),
            Case::S404 => Fault::status(404).times(every),
            Case::Timeout => Fault::latency(LATENCY).times(every),
            Case::Dropped => Fault::drop_connection().times(every),
            Case::EmptyBody => Fault::status(200).body("").times(every),
            Case::MalformedJson => Fault::malformed_json().times(every),
            Case::HtmlPage => Fault::html(502).times(every),
            Case::Oversized => Fault::oversized(BODY_CAP * 4).times(every),
            Case::Flaky503 => Fault::status(503).times(2),
        })
    }
}

/// The error variants the matrix tells apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Variant {
    Api(u16),
    OutcomeUnknown,
    Decode,
    BodyTooLarge,
}

/// What a row must end in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Success after `requests` requests.
    Ok { requests: u32 },
    /// Failure after `attempts` requests.
    Err {
        variant: Variant,
        attempts: u32,
        retryable: bool,
        applied: bool,
    },
}

/// The retry and classification contract, for one route and one case.
fn expected(kind: Kind, body: Body, case: Case) -> Outcome {
    let write = kind != Kind::Read;
    // Transient failures: retried to the limit, except a mint that may have gone out.
    let transient = if kind == Kind::Mint { 1 } else { ATTEMPTS };
    let err = |variant, attempts, retryable, applied| Outcome::Err {
        variant,
        attempts,
        retryable,
        applied,
    };
    match case {
        Case::Healthy => Outcome::Ok { requests: 1 },
        Case::S500 => err(Variant::Api(500), 1, false, write),
        Case::S502 | Case::HtmlPage => err(Variant::Api(502), transient, true, write),
        Case::S503RetryAfter => err(Variant::Api(503), transient, true, write),
        Case::S429RetryAfter => err(Variant::Api(429), transient, true, false),
        Case::S401 => err(Variant::Api(401), 1, false, false),
        Case::S403 => err(Variant::Api(403), 1, false, false),
        Case::S404 => err(Variant::Api(404), 1, false, false),
        // No answer at all: even a read may have been applied, as far as the client knows.
        Case::Timeout | Case::Dropped => err(Variant::OutcomeUnknown, transient, true, true),
        Case::EmptyBody if body != Body::Required => Outcome::Ok { requests: 1 },
        Case::MalformedJson if body == Body::Ignored => Outcome::Ok { requests: 1 },
        Case::EmptyBody | Case::MalformedJson => err(Variant::Decode, 1, false, write),
        Case::Oversized => err(Variant::BodyTooLarge, 1, false, write),
        Case::Flaky503 if kind == Kind::Mint => err(Variant::Api(503), 1, true, true),
        Case::Flaky503 => Outcome::Ok { requests: 3 },
    }
}

/// A fresh fake with one of everything, and a client for each API.
struct World {
    fake: FakeAtlassian,
    org: FakeOrg,
    tunnel: FakeTunnel,
    user: FakeUser,
    /// A second token of `user`, the one the revoke row deletes.
    spare_token_id: String,
    /// A second Admin API key of `org`, the one the key revoke row revokes.
    spare_key_id: String,
    /// A service account with a token.
    service_account: FakeServiceAccount,
    rule: String,
    rule_doc: RuleDocument,
    admin: AdminClient,
    instance: InstanceClient,
    jira: JiraClient,
    automation: AutomationClient,
}

fn options() -> ClientOptions {
    ClientOptions::new()
        .timeout(TIMEOUT)
        .max_body_bytes(BODY_CAP)
        .retry_policy(
            RetryPolicy::default()
                .max_attempts(ATTEMPTS)
                .backoff(Duration::from_millis(100), Duration::from_secs(1)),
        )
}

async fn world() -> World {
    let fake = FakeAtlassian::start().await;
    let org = fake.add_org("Acme");
    let tunnel = fake.add_tunnel(&org.id, "jira-dc");
    let user = fake.add_user("svc@example.com", "Service");
    let later = OffsetDateTime::now_utc() + time::Duration::days(30);
    let (_, token) = fake.mint_api_token(&user.account_id, "tool", later);
    let (spare_token_id, _) = fake.mint_api_token(&user.account_id, "spare", later);
    let spare_key_id = fake.mint_admin_key(&org.id, "spare", &[], later).id;
    let service_account = fake.add_service_account(&org.id, "ci-bot");
    fake.mint_service_account_token(&service_account, "deploy", &["read:jira-work"], later);
    let rule = fake.seed_rules(
        CLOUD,
        atlassian_rotation::testing::RuleSeed::new(2).with_token(&user.email, token.clone()),
    )[0]
    .clone();
    let creds = ApiCredentials::new(&user.email, token);
    let admin = AdminClient::builder(AdminApiKey::new(org.admin_key.expose_secret()))
        .base_url(fake.admin_base())
        .options(options())
        .build()
        .unwrap();
    let instance = InstanceClient::builder(InstanceAuth::PersonalAccessToken(tunnel.pat.clone()))
        .base_url(&tunnel.instance_base)
        .options(options())
        .build()
        .unwrap();
    let jira = JiraClient::builder(creds.clone())
        .base_url(fake.site_base())
        .options(options())
        .build()
        .unwrap();
    let automation = AutomationClient::builder(creds.clone())
        .base_url(fake.automation_base(CLOUD))
        .options(options())
        .build()
        .unwrap();
    let rule_doc = automation.get_rule(&rule).await.unwrap();
    fake.clear_requests();
    World {
        fake,
        org,
        tunnel,
        user,
        spare_token_id,
        spare_key_id,
        service_account,
        rule,
        rule_doc,
        admin,
        instance,
        jira,
        automation,
    }
}

/// Makes the one client call that hits `route`.
async fn call(w: &World, route: Route) -> Result<(), Error> {
    match route {
        Route::AdminRegenerate => w
            .admin
            .regenerate_tunnel_key(&w.org.id, &w.tunnel.hostname)
            .await
            .map(drop),
        Route::AdminOrg => w.admin.check_key(&w.org.id).await.map(drop),
        Route::UserTokens => w
            .admin
            .user_api_tokens(&w.user.account_id)
            .try_collect::<Vec<_>>()
            .await
            .map(drop),
        Route::RevokeUserToken => {
            w.admin
                .revoke_user_api_token(&w.user.account_id, &w.spare_token_id)
                .await
        }
        Route::OrgTokens => {
            first_item(w.admin.org_api_tokens(&w.org.id, OrgTokenQuery::new())).await
        }
        Route::AdminKeys => {
            first_item(w.admin.admin_api_keys(&w.org.id, AdminKeyQuery::new())).await
        }
        Route::AdminKeyCount => w
            .admin
            .admin_api_key_count(&w.org.id, AdminKeyQuery::new())
            .await
            .map(drop),
        Route::RevokeAdminKey => {
            w.admin
                .revoke_admin_api_key(&w.org.id, &w.spare_key_id)
                .await
        }
        Route::ServiceAccounts => first_item(w.admin.service_accounts(&w.org.id)).await,
        Route::ServiceAccountTokens => {
            first_item(
                w.admin
                    .service_account_tokens(&w.org.id, &w.service_account.id, None),
            )
            .await
        }
        Route::RevokeServiceAccountTokens => {
            let id = &w.service_account.id;
            w.admin
                .revoke_all_service_account_tokens(&w.org.id, id, RevokeAll::every_token_of(id))
                .await
        }
        Route::InstallTunnelKey => w
            .instance
            .install_tunnel_key(&w.tunnel.current_key)
            .await
            .map(drop),
        Route::DcMyself => w.instance.myself().await.map(drop),
        Route::JiraMyself => w.jira.myself().await.map(drop),
        Route::RuleSummaries => first_item(w.automation.rule_summaries(50)).await,
        Route::RuleGet => w.automation.get_rule(&w.rule).await.map(drop),
        Route::RulePut => w.automation.update_rule(&w.rule, &w.rule_doc).await,
        Route::RuleState => {
            w.automation
                .set_rule_state(&w.rule, RuleState::Disabled)
                .await
        }
        other => panic!("no client call for {other:?}"),
    }
}

/// The first item of a listing (or its end), as a call's outcome.
async fn first_item<T>(mut items: atlassian_rotation::Paginated<T>) -> Result<(), Error> {
    items.next().await.transpose().map(drop)
}

fn variant_of(err: &Error) -> Option<Variant> {
    Some(match err {
        Error::Api(api) => Variant::Api(api.status),
        Error::OutcomeUnknown { .. } => Variant::OutcomeUnknown,
        Error::Decode { .. } => Variant::Decode,
        Error::BodyTooLarge { .. } => Variant::BodyTooLarge,
        _ => return None,
    })
}

/// Plays one row; `Err` describes how it went against the expectation.
async fn run_row(route: Route, kind: Kind, body: Body, case: Case) -> Result<(), String> {
    let w = world().await;
    if let Some(fault) = case.fault() {
        w.fake.fault(route, fault);
    }
    let started = tokio::time::Instant::now();
    let result = call(&w, route).await;
    let elapsed = started.elapsed();
    let sent = u32::try_from(w.fake.request_count(route)).unwrap();
    let want = expected(kind, body, case);
    let got = match &result {
        Ok(()) => Outcome::Ok { requests: sent },
        Err(e) => Outcome::Err {
            variant: variant_of(e).ok_or_else(|| format!("unexpected error variant: {e}"))?,
            attempts: e.attempts(),
            retryable: e.is_retryable(),
            applied: e.may_have_been_applied(),
        },
    };
    if got != want {
        return Err(format!("expected {want:?}, got {got:?} ({result:?})"));
    }
    if let Outcome::Err { attempts, .. } = want {
        if sent != attempts {
            return Err(format!(
                "Error::attempts() says {attempts}, the fake saw {sent} requests"
            ));
        }
    }
    if case == Case::S503RetryAfter || case == Case::S429RetryAfter {
        // Every retry waited out the server's Retry-After.
        let waits = u64::from(sent - 1) * RETRY_AFTER_SECS;
        if elapsed < Duration::from_secs(waits) {
            return Err(format!(
                "{sent} requests in {elapsed:?}: Retry-After {RETRY_AFTER_SECS}s not honoured"
            ));
        }
    }
    if let Err(e) = &result {
        let text = e.to_string();
        if !text.contains(&e.request().unwrap().method) {
            return Err(format!("the error does not name its request: {text}"));
        }
    }
    Ok(())
}

/// Plays every case against `route`, reporting all mismatches at once.
async fn run_route(route: Route) {
    let &(_, kind, body) = ROUTES
        .iter()
        .find(|(r, _, _)| *r == route)
        .expect("route in the table");
    let mut failures = Vec::new();
    for &case in CASES {
        if let Err(why) = run_row(route, kind, body, case).await {
            failures.push(format!("{route:?} × {case:?}: {why}"));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

macro_rules! matrix {
    ($($name:ident => $route:expr,)*) => {
        $(
            #[tokio::test(start_paused = true)]
            async fn $name() {
                run_route($route).await;
            }
        )*

        #[test]
        fn every_route_in_the_table_has_a_test() {
            let tested = [$($route),*];
            for (route, _, _) in ROUTES {
                assert!(tested.contains(route), "{route:?} has no matrix test");
            }
            assert_eq!(tested.len(), ROUTES.len());
        }
    };
}

matrix! {
    admin_regenerate => Route::AdminRegenerate,
    admin_org => Route::AdminOrg,
    user_tokens => Route::UserTokens,
    revoke_user_token => Route::RevokeUserToken,
    org_tokens => Route::OrgTokens,
    admin_keys => Route::AdminKeys,
    admin_key_count => Route::AdminKeyCount,
    revoke_admin_key => Route::RevokeAdminKey,
    service_accounts => Route::ServiceAccounts,
    service_account_tokens => Route::ServiceAccountTokens,
    revoke_service_account_tokens => Route::RevokeServiceAccountTokens,
    install_tunnel_key => Route::InstallTunnelKey,
    dc_myself => Route::DcMyself,
    jira_myself => Route::JiraMyself,
    rule_summaries => Route::RuleSummaries,
    rule_get => Route::RuleGet,
    rule_put => Route::RulePut,
    rule_state => Route::RuleState,
}
