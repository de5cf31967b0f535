//! Where a credential must never go: logs at TRACE, Debug and Display output, a redirect's
//! target, a plain-http host, another origin's pagination link, a path escaping its segment, a
//! header it could break; and what the clients refuse before sending anything.

mod support;

use atlassian_rotation::automation::rewrite::plan_rule;
use atlassian_rotation::automation::{AutomationClient, Product, Rule, RuleDocument, Scanner};
use atlassian_rotation::instance::InstanceAuth;
use atlassian_rotation::jira::JiraClient;
use atlassian_rotation::rotate::{self, AdminKeyRotator, KeyRef, MemoryJournal, RotateOptions};
use atlassian_rotation::secret::{
    AdminApiKey, ApiCredentials, ApiToken, Password, PersonalAccessToken,
};
use atlassian_rotation::{AdminClient, ClientOptions, Error, InstanceClient, RetryPolicy};
use futures::{StreamExt as _, TryStreamExt as _};
use serde_json::json;
use support::{ROTATION_CLOUD, RotationWorld, base64_of, catch_all, creds, rotation_world};
use wiremock::matchers::{any, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Every secret of a world that a rotation handles, in the forms it could leak in.
fn secrets_of(w: &RotationWorld) -> Vec<(String, String)> {
    let mut out = vec![
        ("old token".into(), w.old.token().expose_secret().to_owned()),
        ("new token".into(), w.new.token().expose_secret().to_owned()),
        (
            "caller token".into(),
            w.caller.token().expose_secret().to_owned(),
        ),
        (
            "admin key".into(),
            w.org.admin_key.expose_secret().to_owned(),
        ),
        ("PAT".into(), w.tunnel.pat.expose_secret().to_owned()),
        (
            "DC password".into(),
            w.tunnel.password.expose_secret().to_owned(),
        ),
        (
            "old tunnel key".into(),
            w.tunnel.current_key.expose_secret().to_owned(),
        ),
    ];
    for (name, c) in [("old", &w.old), ("new", &w.new), ("caller", &w.caller)] {
        let pair = format!("{}:{}", c.email(), c.token().expose_secret());
        out.push((format!("base64 of {name} email:token"), base64_of(&pair)));
    }
    // The key the fake holds now (minted by a rotation, if one ran): a tunnel the fake does
    // not know would leave the minted key unchecked, so it fails here instead.
    let key = w
        .fake
        .tunnel_key(&w.tunnel.hostname)
        .expect("the fake holds the world's tunnel");
    out.push(("current tunnel key".into(), key.expose_secret().to_owned()));
    out
}

fn assert_no_secret(what: &str, text: &str, secrets: &[(String, String)]) {
    for (name, secret) in secrets {
        assert!(
            !text.contains(secret.as_str()),
            "{what} contains the {name}"
        );
    }
}

/// Both rotations, end to end, with every target logging at TRACE (reqwest's `log` records
/// included, through the subscriber's log bridge) into a buffer that must hold no secret.
#[tokio::test]
async fn a_whole_rotation_logs_no_secret_at_trace_level() {
    let capture = support::SharedLog::default();
    let writer = capture.clone();
    use tracing_subscriber::util::SubscriberInitExt as _;
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish()
        .try_init()
        .expect("the only global subscriber in this test binary");

    let w = rotation_world(20).await;
    let journal = MemoryJournal::new();
    let tunnel = rotate::rotate(
        &w.tunnel_rotator(ClientOptions::new()),
        &journal,
        RotateOptions::new("trace-tunnel"),
    )
    .await
    .expect("tunnel rotation");
    let token = rotate::rotate(
        &w.token_rotator(ClientOptions::new(), w.new.token().clone()),
        &journal,
        RotateOptions::new("trace-token"),
    )
    .await
    .expect("token rotation");
    // The org's Admin API key, the tunnel rotation's credential, rotated last.
    let (key_rotator, new_key) = admin_key_rotation(&w);
    let key = rotate::rotate(&key_rotator, &journal, RotateOptions::new("trace-key"))
        .await
        .expect("Admin key rotation");
    assert!(tunnel.succeeded() && token.succeeded() && key.succeeded());
    assert!(!w.fake.token_is_live(w.old.token()));
    assert!(!w.fake.admin_key_is_live(&w.org.admin_key));

    let mut log = capture.text();
    for report in [&tunnel, &token, &key] {
        log.push_str(&serde_json::to_string(report).unwrap());
        log.push_str(&format!("{report:?}"));
    }
    assert!(
        log.contains("atlassian_request") && log.contains("TRACE") && log.contains("reqwest"),
        "the capture holds the crate's spans and the HTTP stack's trace records"
    );
    assert!(log.contains("PUT") && log.contains("/rest/v1/rule/{}"));
    let mut secrets = secrets_of(&w);
    secrets.push(("new admin key".into(), new_key.expose_secret().to_owned()));
    assert_no_secret("the TRACE log", &log, &secrets);
}

/// A rotator replacing the world's org key with a key minted for it, and that new key.
fn admin_key_rotation(w: &RotationWorld) -> (AdminKeyRotator, AdminApiKey) {
    let in_a_year = time::OffsetDateTime::now_utc() + time::Duration::days(365);
    let new = w.fake.mint_admin_key(&w.org.id, "rotated", &[], in_a_year);
    let rotator = AdminKeyRotator::new(
        w.admin(ClientOptions::new()),
        &w.org.id,
        w.org.admin_key.clone(),
        KeyRef::Id(w.org.admin_key_id.clone()),
        new.key.clone(),
    )
    .new_key(KeyRef::Id(new.id));
    (rotator, new.key)
}

/// Debug (plain and pretty) and Display of every public type that holds a secret.
#[tokio::test]
async fn debug_and_display_of_every_secret_holder_are_redacted() {
    let w = rotation_world(6).await;
    let secrets = secrets_of(&w);
    let mut shown: Vec<(String, String)> = Vec::new();
    let mut show =
        |name: &str, debug: &dyn std::fmt::Debug, display: Option<&dyn std::fmt::Display>| {
            let mut text = format!("{debug:?}\n{debug:#?}");
            if let Some(d) = display {
                text.push_str(&format!("\n{d}"));
            }
            shown.push((name.to_owned(), text));
        };

    // The secret newtypes and credential bundles.
    let old_token = w.old.token().clone();
    show("ApiToken", &old_token, Some(&old_token));
    let admin_key = w.org.admin_key.clone();
    show("AdminApiKey", &admin_key, Some(&admin_key));
    show("PersonalAccessToken", &w.tunnel.pat, Some(&w.tunnel.pat));
    show("Password", &w.tunnel.password, Some(&w.tunnel.password));
    show(
        "TunnelKey",
        &w.tunnel.current_key,
        Some(&w.tunnel.current_key),
    );
    show("ApiCredentials", &w.old, Some(&w.old));
    let pat_auth = InstanceAuth::PersonalAccessToken(w.tunnel.pat.clone());
    show("InstanceAuth::PersonalAccessToken", &pat_auth, None);
    let basic_auth = InstanceAuth::basic(&w.tunnel.username, w.tunnel.password.clone());
    show("InstanceAuth::basic", &basic_auth, None);

    // Clients and rotators.
    let admin = w.admin(ClientOptions::new());
    show("AdminClient", &admin, None);
    let instance = InstanceClient::builder(pat_auth)
        .base_url(&w.tunnel.instance_base)
        .build()
        .unwrap();
    show("InstanceClient", &instance, None);
    let jira = JiraClient::builder(w.old.clone())
        .base_url(w.fake.site_base())
        .build()
        .unwrap();
    show("JiraClient", &jira, None);
    let automation = AutomationClient::builder(w.caller.clone())
        .base_url(w.fake.automation_base(ROTATION_CLOUD))
        .build()
        .unwrap();
    show("AutomationClient", &automation, None);
    let tunnel_rotator = w.tunnel_rotator(ClientOptions::new());
    show("TunnelKeyRotator", &tunnel_rotator, None);
    let token_rotator = w.token_rotator(ClientOptions::new(), w.new.token().clone());
    show("AutomationTokenRotator", &token_rotator, None);
    let (key_rotator, new_admin_key) = admin_key_rotation(&w);
    show("AdminKeyRotator", &key_rotator, None);
    let fake_key = w
        .fake
        .mint_admin_key(&w.org.id, "seeded", &[], time::OffsetDateTime::now_utc());
    show("FakeAdminKey", &fake_key, None);

    // What the Admin API answers with, and the journal.
    let minted = admin
        .regenerate_tunnel_key(&w.org.id, &w.tunnel.hostname)
        .await
        .unwrap();
    show("Tunnel", &minted, Some(&minted));
    let entry = rotate::JournalEntry::regenerated("r-1", "tunnel-key", &minted.key);
    show("JournalEntry", &entry, None);

    // Rules, scanning and rewriting.
    let uuid = &w.holding[0];
    let doc: RuleDocument = automation.get_rule(uuid).await.unwrap();
    show("RuleDocument", &doc, None);
    show("Rule", &doc.rule, None);
    let components = doc.rule.components();
    assert!(!components.is_empty());
    for c in components {
        show("Component", c, None);
    }
    let scanner = Scanner::for_token(w.old.token());
    show("Scanner", &scanner, None);
    let rule = doc.rule.to_value().unwrap();
    let findings = scanner.scan_rule(&rule);
    assert!(!findings.is_empty(), "the rule holds the old token");
    for f in &findings {
        show("Finding", f, Some(f));
    }
    let rewrites = plan_rule(&rule, w.old.token(), w.new.token()).unwrap();
    assert!(!rewrites.is_empty());
    for r in &rewrites {
        show("Rewrite", r, Some(r));
    }
    let plan = token_rotator.plan(w.new.token()).await.unwrap();
    show("Plan", &plan, None);

    // A failed rotation, with its credential journaled.
    w.fake.fault(
        atlassian_rotation::testing::Route::InstallTunnelKey,
        atlassian_rotation::testing::Fault::status(400).times(5),
    );
    let failed = rotate::rotate(
        &tunnel_rotator,
        &MemoryJournal::new(),
        RotateOptions::new("r-2"),
    )
    .await
    .unwrap_err();
    show("RotationError", &failed, Some(&failed));

    // The fake's seeding types and its request log (which holds every header it was sent).
    show("FakeOrg", &w.org, None);
    show("FakeTunnel", &w.tunnel, None);
    let log = w.fake.requests();
    assert!(log.iter().any(|r| r.auth_scheme() == Some("Basic")));
    assert!(log.iter().any(|r| r.auth_scheme() == Some("Bearer")));
    for record in &log {
        show("RequestRecord", record, None);
    }

    let mut secrets = [secrets, secrets_of(&w)].concat();
    secrets.push((
        "new admin key".into(),
        new_admin_key.expose_secret().to_owned(),
    ));
    secrets.push((
        "seeded admin key".into(),
        fake_key.key.expose_secret().to_owned(),
    ));
    for (name, text) in &shown {
        assert_no_secret(name, text, &secrets);
    }
    let named: std::collections::BTreeSet<_> = shown.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(named.len(), 29, "{named:?}");
}

async fn server() -> MockServer {
    let server = MockServer::start().await;
    catch_all(&server).await;
    server
}

fn options() -> ClientOptions {
    ClientOptions::new().retry_policy(RetryPolicy::none())
}

/// A client of each kind, each pointed at `server`.
struct Clients {
    admin: AdminClient,
    instance: InstanceClient,
    jira: JiraClient,
    automation: AutomationClient,
}

fn clients(server: &MockServer) -> Clients {
    let pat = InstanceAuth::PersonalAccessToken(PersonalAccessToken::new("pat-SECRET"));
    Clients {
        admin: AdminClient::builder(AdminApiKey::new("admin-key-SECRET"))
            .base_url(server.uri())
            .options(options())
            .build()
            .unwrap(),
        instance: InstanceClient::builder(pat)
            .base_url(server.uri())
            .options(options())
            .build()
            .unwrap(),
        jira: JiraClient::builder(creds())
            .base_url(server.uri())
            .options(options())
            .build()
            .unwrap(),
        automation: AutomationClient::builder(creds())
            .base_url(format!("{}/automation/public/jira/c-1", server.uri()))
            .options(options())
            .build()
            .unwrap(),
    }
}

#[tokio::test]
async fn a_redirect_is_not_followed_and_its_target_receives_nothing() {
    for status in [301, 302, 303, 307, 308] {
        let elsewhere = server().await;
        let first = MockServer::start().await;
        Mock::given(any())
            .respond_with(
                ResponseTemplate::new(status)
                    .insert_header("location", format!("{}/stolen", elsewhere.uri())),
            )
            .mount(&first)
            .await;
        let c = clients(&first);
        let doc = RuleDocument::new(Rule::new("r"));
        let results: Vec<(&str, Result<(), Error>)> = vec![
            ("admin", c.admin.check_key("org-1").await.map(drop)),
            ("instance", c.instance.myself().await.map(drop)),
            ("jira", c.jira.myself().await.map(drop)),
            (
                "automation PUT",
                c.automation.update_rule("r-1", &doc).await,
            ),
        ];
        for (who, result) in results {
            let err = result.expect_err(who);
            assert_eq!(err.status(), Some(status), "{who}: {err}");
            assert!(!err.is_retryable());
        }
        assert_eq!(first.received_requests().await.unwrap().len(), 4);
        // `elsewhere`'s catch-all expects nothing: checked when it drops.
    }
}

#[test]
fn plain_http_to_a_remote_host_is_refused_unless_allowed() {
    let remote = "http://jira.example.com";
    let refused = |r: Result<(), Error>| matches!(r, Err(Error::InvalidInput { .. }));
    let admin = |allow| {
        AdminClient::builder(AdminApiKey::new("k"))
            .base_url(remote)
            .options(ClientOptions::new().allow_plain_http(allow))
            .build()
            .map(drop)
    };
    let instance = |allow| {
        InstanceClient::builder(InstanceAuth::PersonalAccessToken(PersonalAccessToken::new(
            "p",
        )))
        .base_url(remote)
        .options(ClientOptions::new().allow_plain_http(allow))
        .build()
        .map(drop)
    };
    let jira = |allow| {
        JiraClient::builder(creds())
            .base_url(remote)
            .options(ClientOptions::new().allow_plain_http(allow))
            .build()
            .map(drop)
    };
    let automation = |allow| {
        AutomationClient::builder(creds())
            .base_url(format!("{remote}/automation/public/jira/c-1"))
            .options(ClientOptions::new().allow_plain_http(allow))
            .build()
            .map(drop)
    };
    for (who, build) in [
        ("admin", &admin as &dyn Fn(bool) -> Result<(), Error>),
        ("instance", &instance),
        ("jira", &jira),
        ("automation", &automation),
    ] {
        assert!(refused(build(false)), "{who} accepted plain http");
        assert!(build(true).is_ok(), "{who} refused allowed plain http");
    }
    assert!(
        InstanceClient::builder(InstanceAuth::PersonalAccessToken(PersonalAccessToken::new(
            "p"
        )))
        .base_url(remote)
        .build()
        .is_err()
    );
    assert!(
        JiraClient::builder(creds())
            .base_url(remote)
            .build()
            .is_err()
    );
}

#[path = "security/input.rs"]
mod input;
