//! Types a service can pass on: reports, plans, findings and the API models serialize and read
//! back to the same value, in the API's own field names; the types that hold a secret do not
//! serialize at all.

mod support;

use std::fmt::Debug;

use atlassian_rotation::ClientOptions;
use atlassian_rotation::admin::{
    OrgApiToken, OrgTokenQuery, Organization, Timestamp, Tunnel, TunnelInfo, UserApiToken,
};
use atlassian_rotation::automation::rewrite::plan_rule;
use atlassian_rotation::automation::{CredentialForm, Finding, FindingStatus, Scanner};
use atlassian_rotation::instance::{DcUser, InstanceAuth};
use atlassian_rotation::jira::Account;
use atlassian_rotation::rotate::{
    self, Audit, JournalEntry, MemoryJournal, Plan, Rollback, RotateOptions, RotationError,
    RotationReport, StepReport,
};
use atlassian_rotation::secret::{
    AdminApiKey, ApiCredentials, ApiToken, Password, PersonalAccessToken, TunnelKey,
};
use futures::TryStreamExt as _;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::json;
use support::{RotationWorld, rotation_world};

/// Serializes `value` to JSON text, reads it back, and checks that the value is the same and
/// that writing it again gives the same text. Returns the JSON.
fn round_trip<T: Serialize + DeserializeOwned + PartialEq + Debug>(value: &T) -> serde_json::Value {
    let text = serde_json::to_string(value).unwrap();
    let back: T = serde_json::from_str(&text).unwrap_or_else(|e| {
        panic!(
            "{} does not read back: {e}\n{text}",
            std::any::type_name::<T>()
        )
    });
    assert_eq!(&back, value, "{text}");
    assert_eq!(serde_json::to_string(&back).unwrap(), text);
    serde_json::from_str(&text).unwrap()
}

/// Every secret of a rotation world, for "never in the output" checks.
fn secrets(w: &RotationWorld) -> Vec<String> {
    vec![
        w.old.token().expose_secret().to_owned(),
        w.new.token().expose_secret().to_owned(),
        w.caller.token().expose_secret().to_owned(),
        w.org.admin_key.expose_secret().to_owned(),
        w.tunnel.pat.expose_secret().to_owned(),
    ]
}

fn assert_no_secret(w: &RotationWorld, what: &str, text: &str) {
    for secret in secrets(w) {
        assert!(!text.contains(&secret), "{what} holds a secret: {text}");
    }
}

#[tokio::test]
async fn a_real_plan_and_report_round_trip_and_hold_no_secret() {
    let w = rotation_world(8).await;
    let rotator = w.token_rotator(ClientOptions::new(), w.new.token().clone());

    let plan: Plan = rotator.plan(w.new.token()).await.unwrap();
    assert_eq!(plan.rules.len(), w.holding.len());
    let json = round_trip(&plan);
    assert!(
        json["rules"][0]["rewrites"][0]["form"].is_string(),
        "{json}"
    );
    assert_no_secret(&w, "the plan", &json.to_string());

    let options = RotateOptions::new("api-types-1").audit(
        Audit::new()
            .reason("annual expiry")
            .initiated_by("ops@example.com"),
    );
    let report = rotate::rotate(&rotator, &MemoryJournal::new(), options)
        .await
        .unwrap();
    assert!(report.succeeded());
    let json = round_trip(&report);
    assert_eq!(json["steps"][0]["step"], "regenerate");
    assert_eq!(json["audit"]["reason"], "annual expiry");
    assert_no_secret(&w, "the report", &json.to_string());
    let text = report.to_string();
    assert_no_secret(&w, "the report's summary", &text);
    assert!(
        text.starts_with("rotation `api-types-1` (automation-token): complete; new credential ")
    );
    let updated = report.updated.as_ref().unwrap();
    assert!(
        text.contains(&format!(
            "\n  updated: {} found, {} rewritten, {} skipped, {} conflicted ({} places scanned)\n",
            updated.found, updated.rewritten, updated.skipped, updated.conflicted, updated.scanned
        )),
        "{text}"
    );
    assert!(
        text.contains("\n  audit: reason annual expiry, by ops@example.com"),
        "{text}"
    );
}

#[test]
fn findings_of_every_status_round_trip_in_their_snake_case_names() {
    let token = ApiToken::new("ATATT-finding-token");
    let basic = support::base64_of("svc@example.com:ATATT-finding-token");
    let rule = json!({
        "uuid": "r-1", "name": "Notify",
        "components": [{"type": "jira.issue.outgoing.webhook", "value": {
            "url": "https://example.com/hook?key=ATATT-finding-token",
            "headers": [
                {"name": "Authorization", "value": format!("Basic {basic}")},
                {"name": "X-Api-Key", "value": "***", "headerSecure": true}
            ]
        }}]
    });
    let findings: Vec<Finding> = Scanner::for_token(&token).scan_rule(&rule);
    let statuses: Vec<_> = findings.iter().map(|f| (f.status, f.form)).collect();
    assert!(
        statuses.contains(&(FindingStatus::Match, CredentialForm::Basic)),
        "{statuses:?}"
    );
    assert!(
        statuses.contains(&(FindingStatus::Match, CredentialForm::Url)),
        "{statuses:?}"
    );
    assert!(
        statuses.contains(&(FindingStatus::CannotTell, CredentialForm::Masked)),
        "{statuses:?}"
    );
    let mut inventory = Scanner::inventory().scan_rule(&rule);
    inventory.retain(|f| f.status == FindingStatus::Credential);
    assert!(!inventory.is_empty());
    for finding in findings.iter().chain(&inventory) {
        let json = round_trip(finding);
        assert!(!json.to_string().contains("ATATT-finding-token"), "{json}");
    }
    let basic_json = round_trip(
        findings
            .iter()
            .find(|f| f.form == CredentialForm::Basic)
            .unwrap(),
    );
    assert_eq!(basic_json["form"], "basic");
    assert_eq!(basic_json["account_email"], "svc@example.com");

    let rewrites = plan_rule(&rule, &token, &ApiToken::new("ATATT-next-token")).unwrap();
    for rewrite in &rewrites {
        round_trip(rewrite);
    }
}

#[test]
fn a_rollback_and_a_step_report_read_back_from_json() {
    let rollback: Rollback =
        serde_json::from_value(json!({"restored": ["r-1"], "modified_since": ["r-2"]})).unwrap();
    assert_eq!(rollback.restored, ["r-1"]);
    round_trip(&rollback);

    let step: StepReport = serde_json::from_value(
        json!({"step": "verify", "status": "already_done", "duration_ms": 0, "error": null}),
    )
    .unwrap();
    assert_eq!(step.step, "verify");
    round_trip(&step);
    let unknown = serde_json::from_value::<StepReport>(
        json!({"step": "rollback", "status": "done", "duration_ms": 0, "error": null}),
    )
    .unwrap_err();
    assert!(unknown.to_string().contains("regenerate"), "{unknown}");
}

#[tokio::test]
async fn admin_models_from_the_api_round_trip_in_its_field_names() {
    let w = rotation_world(8).await;
    let admin = w.admin(ClientOptions::new());

    let org: Organization = admin.check_key(&w.org.id).await.unwrap();
    assert_eq!(
        round_trip(&org),
        json!({"id": w.org.id, "name": w.org.name})
    );

    let tokens: Vec<OrgApiToken> = admin
        .org_api_tokens(&w.org.id, OrgTokenQuery::new())
        .try_collect()
        .await
        .unwrap();
    assert!(!tokens.is_empty());
    for token in &tokens {
        let json = round_trip(token);
        for key in ["id", "createdAt", "expiresAt"] {
            assert!(json.get(key).is_some(), "{key} in {json}");
        }
        assert!(json["user"].get("email").is_some(), "{json}");
    }

    let tunnel: Tunnel = admin
        .regenerate_tunnel_key(&w.org.id, &w.tunnel.hostname)
        .await
        .unwrap();
    let info: TunnelInfo = tunnel.info();
    let json = round_trip(&info);
    assert_eq!(json["id"], tunnel.id.as_str());
    assert!(json.get("onPremiseUrl").is_some(), "{json}");
    assert!(
        !json.to_string().contains(tunnel.key.expose_secret()),
        "{json}"
    );
}

#[test]
fn user_tokens_accounts_and_dc_users_keep_the_api_spelling() {
    let text = r#"{"id":"asp_1","label":"ci","createdAt":"2025-01-02T03:04:05.000Z","lastAccess":null,"expiry":"2026-01-02T03:04:05.000Z"}"#;
    let token: UserApiToken = serde_json::from_str(text).unwrap();
    assert_eq!(serde_json::to_string(&token).unwrap(), text);
    round_trip(&token);

    // Unknown fields live in `extra` and come back out where they were.
    let account: Account = serde_json::from_value(json!({
        "accountId": "5b10a2844c20165700ede21g", "accountType": "atlassian", "active": true,
        "displayName": "Mia", "emailAddress": null, "timeZone": "Europe/Paris", "locale": "fr_FR",
        "self": "https://example.atlassian.net/rest/api/3/user?accountId=5b10",
        "avatarUrls": {"48x48": "https://avatar.example/48"}
    }))
    .unwrap();
    let json = round_trip(&account);
    assert_eq!(json["avatarUrls"]["48x48"], "https://avatar.example/48");
    assert_eq!(json["timeZone"], "Europe/Paris");

    let user: DcUser = serde_json::from_value(json!({
        "name": "jira-admin", "key": "JIRAUSER10000", "displayName": "Jira Admin",
        "emailAddress": "admin@example.com", "active": true
    }))
    .unwrap();
    assert_eq!(round_trip(&user)["displayName"], "Jira Admin");
}

#[test]
fn timestamps_sort_a_token_list_by_expiry() {
    let token = |id: &str, expiry: &str| -> OrgApiToken {
        serde_json::from_value(json!({"id": id, "expiresAt": expiry})).unwrap()
    };
    let mut tokens = [
        token("never-readable", "next spring"),
        token("late", "2026-06-01T00:00:00Z"),
        token("early-offset", "2026-01-01T01:30:00+02:00"),
        token("early", "2026-01-01T00:00:00.000Z"),
    ];
    tokens.sort_by(|a, b| a.expires_at.cmp(&b.expires_at));
    let order: Vec<&str> = tokens.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(order, ["early-offset", "early", "late", "never-readable"]);
    // Lossless: the text is what the API sent.
    assert_eq!(
        tokens[0].expires_at.as_ref().map(Timestamp::as_str),
        Some("2026-01-01T01:30:00+02:00")
    );
}

/// Whether `$t` implements `Serialize`, answered at compile time without a bound: method
/// resolution picks the by-value impl (bounded on `Serialize`) when it applies, and the
/// auto-referenced fallback otherwise.
macro_rules! implements_serialize {
    ($t:ty) => {{
        struct Probe<T: ?Sized>(std::marker::PhantomData<T>);
        // Each expansion uses one of the two traits.
        #[allow(dead_code)]
        trait Yes {
            fn serializable(&self) -> bool {
                true
            }
        }
        impl<T: Serialize + ?Sized> Yes for Probe<T> {}
        #[allow(dead_code)]
        trait No {
            fn serializable(&self) -> bool {
                false
            }
        }
        impl<T: ?Sized> No for &Probe<T> {}
        (&Probe::<$t>(std::marker::PhantomData)).serializable()
    }};
}

#[test]
fn types_holding_a_secret_do_not_serialize_and_the_rest_do() {
    let secret_holders = [
        ("ApiToken", implements_serialize!(ApiToken)),
        ("AdminApiKey", implements_serialize!(AdminApiKey)),
        (
            "PersonalAccessToken",
            implements_serialize!(PersonalAccessToken),
        ),
        ("TunnelKey", implements_serialize!(TunnelKey)),
        ("Password", implements_serialize!(Password)),
        ("ApiCredentials", implements_serialize!(ApiCredentials)),
        ("InstanceAuth", implements_serialize!(InstanceAuth)),
        ("Tunnel", implements_serialize!(Tunnel)),
        ("JournalEntry", implements_serialize!(JournalEntry)),
        (
            "RotationError",
            implements_serialize!(RotationError<ApiToken>),
        ),
    ];
    for (name, serializable) in secret_holders {
        assert!(
            !serializable,
            "{name} holds a secret and must not implement Serialize"
        );
    }
    // The probe itself tells the two apart.
    assert!(implements_serialize!(TunnelInfo));
    assert!(implements_serialize!(RotationReport));
}
