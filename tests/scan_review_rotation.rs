//! End to end against the fake (the second review's findings): a rotation never revokes the old
//! token while a rule holds it as line-wrapped base64, and never writes back a redaction marker.

use atlassian_rotation::AdminClient;
use atlassian_rotation::automation::AutomationClient;
use atlassian_rotation::automation::scan::Scanner;
use atlassian_rotation::rotate::{
    self, AutomationTokenRotator, MemoryJournal, OldToken, RotateOptions,
};
use atlassian_rotation::secret::{AdminApiKey, ApiCredentials, ApiToken};
use atlassian_rotation::testing::FakeAtlassian;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use time::{Duration, OffsetDateTime};

const CLOUD: &str = "cloud-scan-review";

struct World {
    fake: FakeAtlassian,
    email: String,
    old: ApiToken,
    rotator: AutomationTokenRotator,
}

async fn world(rules: impl FnOnce(&str, &str) -> Vec<Value>) -> (World, Vec<String>) {
    let fake = FakeAtlassian::start().await;
    let org = fake.add_org("Acme");
    let svc = fake.add_user("svc@example.com", "Service");
    let later = OffsetDateTime::now_utc() + Duration::days(30);
    let (old_id, old) = fake.mint_api_token(&svc.account_id, "old", later);
    let (_, new) = fake.mint_api_token(&svc.account_id, "new", later);
    let uuids = rules(&svc.email, old.expose_secret())
        .into_iter()
        .map(|r| fake.add_rule(CLOUD, r))
        .collect();
    let creds = ApiCredentials::new(&svc.email, old.clone());
    let client = AutomationClient::builder(creds.clone())
        .base_url(fake.automation_base(CLOUD))
        .build()
        .unwrap();
    let admin = AdminClient::builder(AdminApiKey::new(org.admin_key.expose_secret()))
        .base_url(fake.admin_base())
        .build()
        .unwrap();
    let rotator = AutomationTokenRotator::new(client, fake.site_base(), creds, new.clone())
        .unwrap()
        .revoke_with(admin, &svc.account_id, OldToken::Id(old_id));
    (
        World {
            fake,
            email: svc.email.clone(),
            old,
            rotator,
        },
        uuids,
    )
}

fn webhook(name: &str, headers: Value, body: &str) -> Value {
    json!({"name": name, "state": "ENABLED", "trigger": {"component": "TRIGGER", "type": "jira.manual.trigger.issue", "value": {}},
        "components": [{"id": "1", "component": "ACTION", "schemaVersion": 1,
        "type": "jira.issue.outgoing.webhook", "value": {"url": "https://relay.example.com/hook",
        "method": "POST", "headers": headers, "customBody": body, "sendIssue": false},
        "children": [], "conditions": []}]})
}

fn gnu_base64(text: &str) -> String {
    STANDARD
        .encode(text)
        .as_bytes()
        .chunks(76)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Whether `text` holds base64(email:token) once whitespace is removed.
fn holds_wrapped(text: &str, email: &str, token: &str) -> bool {
    let squeezed: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    squeezed.contains(
        STANDARD
            .encode(format!("{email}:{token}"))
            .trim_end_matches('='),
    )
}

// The old token sits in a custom body as `base64` (coreutils) printed it, wrapped at
// 76 columns. Another rule uses it as a Bearer header, which is rewritten. The rotation
// succeeds and REVOKES the old token, while the first rule still sends it.
#[tokio::test]
async fn no_revocation_while_a_wrapped_base64_credential_remains() {
    let (w, uuids) = world(|email, old| {
        vec![
            webhook("Relay", json!([]), &format!("{{\"credentials\": \"{}\"}}", gnu_base64(&format!("{email}:{old}")))),
            webhook("Plain", json!([{"id": null, "name": "Authorization", "value": format!("Bearer {old}"), "headerSecure": true}]), ""),
        ]
    })
    .await;
    let result = rotate::rotate(&w.rotator, &MemoryJournal::new(), RotateOptions::new("e1")).await;
    let revoked = !w.fake.token_is_live(&w.old);
    let relay = w.fake.rule(&uuids[0]).unwrap();
    let still_used = holds_wrapped(
        &relay.to_string().replace("\\n", "\n"),
        &w.email,
        w.old.expose_secret(),
    );
    assert!(
        !(revoked && still_used),
        "rotation ok={} revoked the old token while rule {} still sends it (scanner finds {} places)",
        result.is_ok(),
        uuids[0],
        Scanner::for_token(&w.old).scan_rule(&relay).len()
    );
}

// A secure Authorization header read back as `[redacted]` (a redacting export, a
// proxy, or this crate's own redaction) in a rule that also uses the old token in the URL: the
// rule is written with the marker in place of the hidden secret and the revocation is not
// blocked.
#[tokio::test]
async fn a_redaction_marker_is_never_written_back_and_blocks_revocation() {
    let (w, uuids) = world(|_, old| {
        vec![webhook(
            "Marker",
            json!([{"id": null, "name": "Authorization", "value": "[redacted]", "headerSecure": true},
                   {"id": null, "name": "X-Api-Key", "value": old, "headerSecure": false}]),
            "",
        )]
    })
    .await;
    let before = w.fake.rule(&uuids[0]).unwrap();
    let result = rotate::rotate(&w.rotator, &MemoryJournal::new(), RotateOptions::new("e2")).await;
    let after = w.fake.rule(&uuids[0]).unwrap();
    assert!(
        result.is_err(),
        "the rotation should refuse (RevocationBlocked)"
    );
    assert_eq!(
        after, before,
        "a rule holding a redaction marker was written back"
    );
    assert!(w.fake.token_is_live(&w.old));
}
