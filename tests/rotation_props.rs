//! The rotation's central promise, as a property over generated rules: the old token planted in
//! random forms (clear, `Bearer`, `Basic`, percent-encoded, JSON-escaped inside JSON text,
//! base64 of `email:token` or of the token alone, outside any header too) at random depths of
//! random rules. After a rotation that revoked the old token, no rule holds it in any of those
//! forms, and every rule is exactly what it was with the old token replaced by the new one in
//! the same form: no other byte changed.

use atlassian_rotation::AdminClient;
use atlassian_rotation::automation::{AutomationClient, Scanner};
use atlassian_rotation::rotate::{
    self, AutomationTokenRotator, MemoryJournal, OldToken, RotateOptions,
};
use atlassian_rotation::secret::{AdminApiKey, ApiCredentials, ApiToken};
use atlassian_rotation::testing::FakeAtlassian;
use base64::Engine as _;
use proptest::prelude::*;
use serde_json::{Value, json};
use time::{Duration, OffsetDateTime};

const CLOUD: &str = "cloud-props";

/// How a planted token is written.
#[derive(Debug, Clone, Copy)]
enum Form {
    Raw,
    Bearer,
    Basic,
    PercentUpper,
    PercentLower,
    /// Inside JSON text kept in a string: `=` as `\u003d` (or `\u003D`), `/` as `\/`.
    JsonEscaped {
        upper: bool,
    },
    /// `base64(email:token)`, standard alphabet, as is or without padding.
    Pair {
        padded: bool,
    },
    /// `base64url(email:token)`.
    PairUrlSafe,
    /// `base64(token)`.
    TokenBase64,
}

fn form() -> impl Strategy<Value = Form> {
    prop_oneof![
        Just(Form::Raw),
        Just(Form::Bearer),
        Just(Form::Basic),
        Just(Form::PercentUpper),
        Just(Form::PercentLower),
        any::<bool>().prop_map(|upper| Form::JsonEscaped { upper }),
        any::<bool>().prop_map(|padded| Form::Pair { padded }),
        Just(Form::PairUrlSafe),
        Just(Form::TokenBase64),
    ]
}

fn percent(text: &str, upper: bool) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ if upper => format!("%{b:02X}"),
            _ => format!("%{b:02x}"),
        })
        .collect()
}

impl Form {
    fn render(self, email: &str, token: &str) -> String {
        let std = &base64::engine::general_purpose::STANDARD;
        let pair = format!("{email}:{token}");
        match self {
            Self::Raw => token.to_owned(),
            Self::Bearer => format!("Bearer {token}"),
            Self::Basic => format!("Basic {}", std.encode(&pair)),
            Self::PercentUpper => percent(token, true),
            Self::PercentLower => percent(token, false),
            Self::JsonEscaped { upper } => token
                .replace('/', "\\/")
                .replace('=', if upper { "\\u003D" } else { "\\u003d" }),
            Self::Pair { padded: true } => std.encode(&pair),
            Self::Pair { padded: false } => std.encode(&pair).trim_end_matches('=').to_owned(),
            Self::PairUrlSafe => base64::engine::general_purpose::URL_SAFE.encode(&pair),
            Self::TokenBase64 => std.encode(token),
        }
    }
}

/// A string: plain words, and planted tokens between separators no form can run into.
#[derive(Debug, Clone)]
struct Text(Vec<Result<String, Form>>);

impl Text {
    fn render(&self, email: &str, token: &str) -> String {
        self.0
            .iter()
            .map(|piece| match piece {
                Ok(words) => words.clone(),
                Err(form) => form.render(email, token),
            })
            .collect::<Vec<_>>()
            .join(" | ")
    }
}

fn text() -> impl Strategy<Value = Text> {
    let piece = prop_oneof![
        "[a-z]{1,10}( [a-z]{1,6})?".prop_map(Ok),
        form().prop_map(Err),
    ];
    prop::collection::vec(piece, 1..4).prop_map(Text)
}

/// Where a string sits in a web request action, or elsewhere in a component.
#[derive(Debug, Clone)]
enum Slot {
    Header(String, Text),
    Url(Text),
    CustomBody(Text),
    Other(String, Text),
}

#[derive(Debug, Clone)]
struct Component {
    slots: Vec<Slot>,
    children: Vec<Component>,
}

fn slot() -> impl Strategy<Value = Slot> {
    prop_oneof![
        (
            prop::sample::select(vec![
                "Authorization",
                "X-Api-Key",
                "authorization",
                "X-Relay"
            ]),
            text()
        )
            .prop_map(|(name, text)| Slot::Header(name.to_owned(), text)),
        text().prop_map(Slot::Url),
        // The body is JSON text holding the string, as rules keep it.
        text().prop_map(Slot::CustomBody),
        (
            prop::sample::select(vec!["message", "jql", "summary"]),
            text()
        )
            .prop_map(|(key, text)| Slot::Other(key.to_owned(), text)),
    ]
}

fn component() -> impl Strategy<Value = Component> {
    let leaf = prop::collection::vec(slot(), 0..4).prop_map(|slots| Component {
        slots,
        children: Vec::new(),
    });
    leaf.prop_recursive(3, 12, 3, |inner| {
        (
            prop::collection::vec(slot(), 0..3),
            prop::collection::vec(inner, 0..3),
        )
            .prop_map(|(slots, children)| Component { slots, children })
    })
}

impl Component {
    fn render(&self, email: &str, token: &str) -> Value {
        let mut headers = Vec::new();
        let mut value = serde_json::Map::new();
        value.insert("method".into(), json!("POST"));
        value.insert("url".into(), json!("https://relay.example.com/hook"));
        for slot in &self.slots {
            match slot {
                Slot::Header(name, text) => headers.push(json!({
                    "id": null, "name": name, "value": text.render(email, token), "headerSecure": false
                })),
                Slot::Url(text) => {
                    value.insert(
                        "url".into(),
                        json!(format!("https://relay.example.com/?q={}", text.render(email, token))),
                    );
                }
                Slot::CustomBody(text) => {
                    value.insert(
                        "customBody".into(),
                        json!(format!("{{\"auth\": \"{}\", \"n\": 1}}", text.render(email, token))),
                    );
                }
                Slot::Other(key, text) => {
                    value.insert(key.clone(), json!(text.render(email, token)));
                }
            }
        }
        value.insert("headers".into(), Value::Array(headers));
        json!({
            "id": "c", "component": "ACTION", "schemaVersion": 1,
            "type": "jira.issue.outgoing.webhook", "value": value,
            "children": self.children.iter().map(|c| c.render(email, token)).collect::<Vec<_>>(),
            "conditions": [], "parentId": null,
            // Numbers that a lossy model would change on write-back.
            "weights": [123456789012345678901234567890u128.to_string().parse::<Value>().unwrap(), 19.5]
        })
    }
}

fn rule(components: &[Component], email: &str, token: &str) -> Value {
    json!({
        "name": "generated", "state": "ENABLED",
        "trigger": {"component": "TRIGGER", "type": "jira.manual.trigger", "value": null},
        "components": components.iter().map(|c| c.render(email, token)).collect::<Vec<_>>(),
    })
}

/// Every rendering the generator can produce of `token`, as it stands in a rule's JSON text.
fn renderings(email: &str, token: &str) -> Vec<String> {
    [
        Form::Raw,
        Form::PercentUpper,
        Form::PercentLower,
        Form::JsonEscaped { upper: true },
        Form::JsonEscaped { upper: false },
        Form::Pair { padded: false },
        Form::PairUrlSafe,
        Form::TokenBase64,
    ]
    .into_iter()
    .map(|f| {
        let text = f.render(email, token);
        let text = text.trim_end_matches('=');
        let quoted = serde_json::to_string(text).unwrap();
        quoted[1..quoted.len() - 1].to_owned()
    })
    .collect()
}

fn rotate_case(rules: Vec<Vec<Component>>) -> Result<(), TestCaseError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let fake = FakeAtlassian::start().await;
        let org = fake.add_org("Acme");
        let svc = fake.add_user("svc@example.com", "Service");
        let later = OffsetDateTime::now_utc() + Duration::days(30);
        let (old_id, old) = fake.mint_api_token(&svc.account_id, "old", later);
        let (_, new) = fake.mint_api_token(&svc.account_id, "new", later);
        let (old_s, new_s) = (
            old.expose_secret().to_owned(),
            new.expose_secret().to_owned(),
        );
        let mut expected = Vec::new();
        for components in &rules {
            let uuid = fake.add_rule(CLOUD, rule(components, &svc.email, &old_s));
            let mut want = fake.rule(&uuid).unwrap();
            let rendered = rule(components, &svc.email, &new_s);
            for key in ["name", "state", "trigger", "components"] {
                want[key] = rendered[key].clone();
            }
            expected.push((uuid, want));
        }
        let old_credentials = ApiCredentials::new(&svc.email, old.clone());
        let client = AutomationClient::builder(old_credentials.clone())
            .base_url(fake.automation_base(CLOUD))
            .build()
            .unwrap();
        let admin = AdminClient::builder(AdminApiKey::new(org.admin_key.expose_secret()))
            .base_url(fake.admin_base())
            .build()
            .unwrap();
        let rotator = AutomationTokenRotator::new(client, fake.site_base(), old_credentials, new)
            .unwrap()
            .revoke_with(admin, &svc.account_id, OldToken::Id(old_id));
        let report = rotate::rotate(&rotator, &MemoryJournal::new(), RotateOptions::new("p"))
            .await
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert!(report.succeeded());
        prop_assert!(
            !fake.token_is_live(&ApiToken::new(old_s.clone())),
            "revoked"
        );
        let scanner = Scanner::for_token(&ApiToken::new(old_s.clone()));
        for (uuid, want) in expected {
            let got = fake.rule(&uuid).unwrap();
            let text = got.to_string();
            for spelling in renderings(&svc.email, &old_s) {
                prop_assert!(
                    !text.contains(&spelling),
                    "rule {uuid} still holds a form of the old token"
                );
            }
            prop_assert!(
                scanner.scan_rule(&got).is_empty(),
                "the scanner still finds the old token"
            );
            prop_assert_eq!(got, want, "rule {} changed beyond the token", uuid);
        }
        Ok(())
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn a_rotation_that_revoked_leaves_no_form_of_the_old_token_and_nothing_else_changed(
        rules in prop::collection::vec(prop::collection::vec(component(), 1..4), 1..5)
    ) {
        rotate_case(rules)?;
    }
}
