//! A generator of realistic Automation rules, with a credential hidden in every form seen in the
//! wild.

use serde_json::{Value, json};

use super::state::{api_token_value, random_uuid};
use crate::secret::{ApiCredentials, ApiToken, basic_encode};

/// What [`FakeAtlassian::seed_rules`](super::FakeAtlassian::seed_rules) generates.
///
/// Rules have a trigger and components nested up to three levels (IF/ELSE condition blocks,
/// branches), with web request actions (`jira.issue.outgoing.webhook`). The rules that carry the
/// credential ([`RuleSeed::fraction_with_token`] of them, spread evenly) hold it, in turn, as
/// `Authorization: Basic base64(email:token)`, `Authorization: Bearer token`, a bare token in an
/// API-key header, and a token in the URL's query, at the top level, inside an IF block and
/// inside a branch. The others hold a masked `***` secure header, a Data Center-style
/// `{keyOrValue, secret: true}` reference, another account's token, a web request without
/// credentials, or no web request at all: none of those may be touched by a rotation.
///
/// The same seed always produces the same rule shapes.
///
/// ```
/// use atlassian_rotation::secret::ApiToken;
/// use atlassian_rotation::testing::RuleSeed;
///
/// let seed = RuleSeed::new(24)
///     .with_token("ops@example.com", ApiToken::new("ATATT3xFfGF0-example"))
///     .fraction_with_token(0.5)
///     .seed(42);
/// # let _ = seed;
/// ```
#[derive(Debug, Clone)]
pub struct RuleSeed {
    pub(crate) count: usize,
    pub(crate) credentials: Option<ApiCredentials>,
    pub(crate) fraction_with_token: f64,
    pub(crate) seed: u64,
    pub(crate) basic: bool,
}

impl RuleSeed {
    /// `count` rules, none with a credential of yours until [`RuleSeed::with_token`].
    pub fn new(count: usize) -> Self {
        Self {
            count,
            credentials: None,
            fraction_with_token: 0.5,
            seed: 0x5eed,
            basic: true,
        }
    }

    /// The credential to hide in the rules, as `email` and API token.
    pub fn with_token(mut self, email: impl Into<String>, token: ApiToken) -> Self {
        self.credentials = Some(ApiCredentials::new(email, token));
        self
    }

    /// Which share of the rules carries the credential (0.0 to 1.0; default 0.5).
    pub fn fraction_with_token(mut self, fraction: f64) -> Self {
        self.fraction_with_token = fraction.clamp(0.0, 1.0);
        self
    }

    /// Writes the credential only in forms that carry no email (`Bearer`, an API-key header, a
    /// URL query parameter, in turn), as a scoped or service-account token is used; by default
    /// the four forms take turns, `Basic` first.
    ///
    /// ```
    /// use atlassian_rotation::secret::ApiToken;
    /// use atlassian_rotation::testing::RuleSeed;
    ///
    /// let seed = RuleSeed::new(3)
    ///     .with_token("svc@example.com", ApiToken::new("ATATT3xFfGF0-scoped"))
    ///     .fraction_with_token(1.0)
    ///     .without_basic();
    /// # let _ = seed;
    /// ```
    pub fn without_basic(mut self) -> Self {
        self.basic = false;
        self
    }

    /// Seeds the shape generator (ids and tokens of other accounts stay random).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }
}

/// How a carrying rule holds the credential.
#[derive(Clone, Copy)]
enum Carrier {
    Basic,
    Bearer,
    ApiKeyHeader,
    UrlQuery,
}

/// What a rule without the credential holds instead.
#[derive(Clone, Copy)]
enum Other {
    MaskedSecureHeader,
    DataCenterSecretRef,
    AnotherAccountsToken,
    NoCredential,
    NoWebRequest,
}

/// Where the web request sits.
#[derive(Clone, Copy)]
enum Placement {
    TopLevel,
    IfElse,
    Branch,
}

const NAMES: &[&str] = &[
    "Notify deploy service",
    "Sync issue to CMDB",
    "Post status to incident bot",
    "Escalate stale tickets",
    "Mirror comments to partner Jira",
    "Auto-assign triage",
];

const TRIGGERS: &[&str] = &[
    "jira.issue.event.trigger:created",
    "jira.issue.event.trigger:transitioned",
    "jira.manual.trigger.issue",
];

struct Builder<'a> {
    rng: fastrand::Rng,
    cloud_id: &'a str,
    author: &'a str,
}

impl Builder<'_> {
    fn id(&mut self) -> String {
        random_uuid(&mut self.rng)
    }

    fn component(&mut self, kind: &str, ty: &str, value: Value, parent: Option<&str>) -> Value {
        json!({
            "children": [],
            "component": kind,
            "conditionParentId": null,
            "conditions": [],
            "connectionId": null,
            "id": self.id(),
            "parentId": parent,
            "schemaVersion": 1,
            "type": ty,
            "value": value,
        })
    }

    fn log(&mut self, text: &str, parent: Option<&str>) -> Value {
        self.component("ACTION", "codebarrel.action.log", json!(text), parent)
    }

    fn comment(&mut self, parent: Option<&str>) -> Value {
        self.component(
            "ACTION",
            "jira.issue.comment",
            json!({"comment": "Handled by automation for {{issue.key}}.", "publicComment": false,
                   "sendNotifications": false, "addCommentOnce": false, "commentVisibility": null}),
            parent,
        )
    }

    fn webhook(&mut self, url: String, headers: Vec<Value>, parent: Option<&str>) -> Value {
        let secure_url = url.contains("token=");
        self.component(
            "ACTION",
            "jira.issue.outgoing.webhook",
            json!({
                "url": url,
                "urlSecure": secure_url,
                "method": "POST",
                "headers": headers,
                "sendIssue": false,
                "contentType": "custom",
                "customBody": "{\"issue\":\"{{issue.key}}\",\"status\":\"{{issue.status.name}}\"}",
                "responseEnabled": false,
                "continueOnErrorEnabled": false,
            }),
            parent,
        )
    }

    /// A Data Center (schemaVersion 2) web request whose secret is a stored-secret reference.
    fn dc_webhook(&mut self, parent: Option<&str>) -> Value {
        let mut action = self.component(
            "ACTION",
            "jira.issue.outgoing.webhook",
            json!({
                "url": "https://ci.example.test/hooks/jira",
                "headers": [
                    {"id": "_header_1", "name": "Content-Type",
                     "value": {"keyOrValue": "application/json", "secret": false}},
                    {"id": "_header_2", "name": "Authorization",
                     "value": {"keyOrValue": "CI_WEBHOOK_SECRET", "secret": true}},
                ],
                "sendIssue": false,
                "contentType": "empty",
                "method": "POST",
                "responseEnabled": true,
                "usedSecretsKeys": ["CI_WEBHOOK_SECRET"],
            }),
            parent,
        );
        action["schemaVersion"] = json!(2);
        action
    }

    fn header(name: &str, value: String, secure: bool) -> Value {
        json!({"id": null, "name": name, "value": value, "headerSecure": secure})
    }

    fn carrier_action(
        &mut self,
        carrier: Carrier,
        creds: &ApiCredentials,
        parent: Option<&str>,
    ) -> Value {
        let token = creds.token().expose_secret();
        let content_type = Self::header("Content-Type", "application/json".into(), false);
        let pick =
            |rng: &mut fastrand::Rng, names: &[&'static str]| names[rng.usize(..names.len())];
        match carrier {
            Carrier::Basic => {
                let name = pick(&mut self.rng, &["Authorization", "authorization"]);
                let value = format!("Basic {}", basic_encode(creds.email(), token));
                let headers = vec![content_type, Self::header(name, value, true)];
                self.webhook(
                    self.site_url("rest/api/3/issue/{{issue.key}}/comment"),
                    headers,
                    parent,
                )
            }
            Carrier::Bearer => {
                let name = pick(&mut self.rng, &["Authorization", "AUTHORIZATION"]);
                let headers = vec![
                    Self::header(name, format!("Bearer {token}"), true),
                    content_type,
                ];
                self.webhook(
                    "https://deploy.example.test/api/events".into(),
                    headers,
                    parent,
                )
            }
            Carrier::ApiKeyHeader => {
                let name = pick(&mut self.rng, &["X-Api-Key", "x-api-key"]);
                let secure = self.rng.bool();
                let headers = vec![content_type, Self::header(name, token.to_owned(), secure)];
                self.webhook("https://cmdb.example.test/v2/sync".into(), headers, parent)
            }
            Carrier::UrlQuery => {
                let url =
                    format!("https://hooks.example.test/jira?source=automation&token={token}");
                self.webhook(url, vec![content_type], parent)
            }
        }
    }

    fn other_action(&mut self, other: Other, parent: Option<&str>) -> Value {
        let content_type = Self::header("Content-Type", "application/json".into(), false);
        match other {
            Other::MaskedSecureHeader => {
                let headers = vec![
                    content_type,
                    Self::header("Authorization", "***".into(), true),
                ];
                self.webhook(
                    self.site_url("rest/api/3/issue/{{issue.key}}"),
                    headers,
                    parent,
                )
            }
            Other::DataCenterSecretRef => self.dc_webhook(parent),
            Other::AnotherAccountsToken => {
                let value = format!("Bearer {}", api_token_value());
                let headers = vec![Self::header("Authorization", value, true)];
                self.webhook(
                    "https://partner.example.test/api/comments".into(),
                    headers,
                    parent,
                )
            }
            Other::NoCredential => {
                let headers = vec![content_type, Self::header("", String::new(), false)];
                self.webhook("https://status.example.test/ingest".into(), headers, parent)
            }
            Other::NoWebRequest => self.comment(parent),
        }
    }

    fn site_url(&self, path: &str) -> String {
        format!("https://api.atlassian.com/ex/jira/{}/{path}", self.cloud_id)
    }

    /// Wraps `make(parent)` at `placement` and returns the rule's top-level components.
    fn place(
        &mut self,
        placement: Placement,
        make: impl FnOnce(&mut Self, Option<&str>) -> Value,
    ) -> Vec<Value> {
        match placement {
            Placement::TopLevel => {
                let log = self.log("Sending {{issue.key}}", None);
                vec![log, make(self, None)]
            }
            Placement::IfElse => {
                let container_id = self.id();
                let if_id = self.id();
                let else_id = self.id();
                let mut condition = self.component(
                    "CONDITION",
                    "jira.comparator.condition",
                    json!({"first": "{{issue.priority.name}}", "operator": "EQUALS", "second": "High"}),
                    None,
                );
                condition["conditionParentId"] = json!(if_id);
                let inner = make(self, Some(&if_id));
                let mut if_block = self.component(
                    "CONDITION_BLOCK",
                    "jira.condition.if.block",
                    json!({"conditionMatchType": "ALL"}),
                    Some(&container_id),
                );
                if_block["id"] = json!(if_id);
                if_block["conditions"] = json!([condition]);
                if_block["children"] = json!([inner]);
                let otherwise = self.log("Normal priority: nothing to send", Some(&else_id));
                let mut else_block = self.component(
                    "CONDITION_BLOCK",
                    "jira.condition.if.block",
                    json!({"conditionMatchType": "ALL"}),
                    Some(&container_id),
                );
                else_block["id"] = json!(else_id);
                else_block["children"] = json!([otherwise]);
                let mut container = self.component(
                    "CONDITION",
                    "jira.condition.container.block",
                    json!({}),
                    None,
                );
                container["id"] = json!(container_id);
                container["children"] = json!([if_block, else_block]);
                vec![container]
            }
            Placement::Branch => {
                let branch_id = self.id();
                let inner = make(self, Some(&branch_id));
                let comment = self.comment(Some(&branch_id));
                let mut branch = self.component(
                    "BRANCH",
                    "jira.issue.related",
                    json!({"relatedType": "subtasks", "jql": "", "onlyUpdatedIssues": false,
                           "similarityLimit": 40, "compareValue": 0}),
                    None,
                );
                branch["id"] = json!(branch_id);
                branch["children"] = json!([inner, comment]);
                vec![branch]
            }
        }
    }

    fn trigger(&mut self, index: usize) -> Value {
        let ty = TRIGGERS[index % TRIGGERS.len()];
        let project = format!(
            "ari:cloud:jira:{}:project/10{:03}",
            self.cloud_id,
            index % 7
        );
        let value = match ty {
            "jira.issue.event.trigger:created" => json!({"eventKey": "jira:issue_created",
                "issueEvent": "issue_created", "eventFilters": [project]}),
            "jira.issue.event.trigger:transitioned" => json!({"eventKey": "jira:issue_updated",
                "issueEvent": "issue_generic", "eventFilters": [project],
                "fromStatus": [{"type": "NAME", "value": "In Progress"}],
                "toStatus": [{"type": "NAME", "value": "Done"}]}),
            _ => json!({"groups": [], "inputs": []}),
        };
        let mut trigger = self.component("TRIGGER", ty, value, None);
        let object = trigger.as_object_mut().expect("components are objects");
        for key in ["children", "parentId", "conditionParentId"] {
            object.remove(key);
        }
        trigger
    }

    fn rule(&mut self, index: usize, uuid: &str, components: Vec<Value>) -> Value {
        let trigger = self.trigger(index);
        let created = 1_743_568_964.174 + index as f64 * 3_600.0;
        json!({
            "actor": {"actor": self.author, "type": "ACCOUNT_ID"},
            "authorAccountId": self.author,
            "canOtherRuleTrigger": false,
            "collaborators": [],
            "components": components,
            "created": created,
            "description": if index % 3 == 0 { Value::Null } else { json!("Seeded by FakeAtlassian") },
            "labels": [],
            "name": format!("{} #{index}", NAMES[index % NAMES.len()]),
            "notifyOnError": "FIRSTERROR",
            "ruleScopeARIs": [format!("ari:cloud:jira:{}:project/10{:03}", self.cloud_id, index % 7)],
            "state": if index % 5 == 4 { "DISABLED" } else { "ENABLED" },
            "trigger": trigger,
            "updated": created + 60.0,
            "uuid": uuid,
            "writeAccessType": "OWNER_ONLY",
        })
    }
}

/// Generates `seed.count` rules for `cloud_id`, each with its UUID.
pub(crate) fn generate(cloud_id: &str, author: &str, seed: &RuleSeed) -> Vec<(String, Value)> {
    let mut builder = Builder {
        rng: fastrand::Rng::with_seed(seed.seed),
        cloud_id,
        author,
    };
    let n = seed.count;
    let carrying = match &seed.credentials {
        Some(_) => (n as f64 * seed.fraction_with_token).round() as usize,
        None => 0,
    };
    let placements = [Placement::TopLevel, Placement::IfElse, Placement::Branch];
    let all = [
        Carrier::Basic,
        Carrier::Bearer,
        Carrier::ApiKeyHeader,
        Carrier::UrlQuery,
    ];
    let carriers = if seed.basic { &all[..] } else { &all[1..] };
    let others = [
        Other::MaskedSecureHeader,
        Other::DataCenterSecretRef,
        Other::AnotherAccountsToken,
        Other::NoCredential,
        Other::NoWebRequest,
    ];
    let (mut c, mut o) = (0, 0);
    (0..n)
        .map(|i| {
            let uuid = builder.id();
            // Spread the carrying rules evenly: rule i carries when the running share steps up.
            let carries = (i + 1) * carrying / n > i * carrying / n;
            let components = match (&seed.credentials, carries) {
                (Some(creds), true) => {
                    let (carrier, placement) = (carriers[c % carriers.len()], placements[c % 3]);
                    c += 1;
                    builder.place(placement, |b, parent| {
                        b.carrier_action(carrier, creds, parent)
                    })
                }
                _ => {
                    let (other, placement) = (others[o % 5], placements[o % 3]);
                    o += 1;
                    builder.place(placement, |b, parent| b.other_action(other, parent))
                }
            };
            let rule = builder.rule(i, &uuid, components);
            (uuid, rule)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(seed: &RuleSeed) -> Vec<String> {
        generate("cloud-1", "5e315033461f120e6dac5c6f", seed)
            .into_iter()
            .map(|(_, rule)| rule.to_string())
            .collect()
    }

    #[test]
    fn every_credential_form_appears_and_the_share_is_respected() {
        let token = ApiToken::new("ATATT3xFfGF0-seed-test");
        let seed = RuleSeed::new(24)
            .with_token("ops@example.com", token.clone())
            .fraction_with_token(0.5);
        let rules = texts(&seed);
        let basic = basic_encode("ops@example.com", token.expose_secret());
        let holding = rules
            .iter()
            .filter(|r| r.contains(token.expose_secret()) || r.contains(&basic))
            .count();
        assert_eq!(holding, 12);
        for needle in [
            format!("Basic {basic}"),
            format!("Bearer {}", token.expose_secret()),
            format!("token={}", token.expose_secret()),
            "\"***\"".to_owned(),
            "\"secret\":true".to_owned(),
            "jira.condition.if.block".to_owned(),
            "\"BRANCH\"".to_owned(),
        ] {
            assert!(
                rules.iter().any(|r| r.contains(&needle)),
                "no rule holds {needle}"
            );
        }
        assert!(
            rules
                .iter()
                .any(|r| r.contains("\"name\":\"x-api-key\"")
                    || r.contains("\"name\":\"X-Api-Key\""))
        );
    }

    #[test]
    fn without_a_token_no_rule_carries_one_and_zero_rules_is_fine() {
        assert!(texts(&RuleSeed::new(0)).is_empty());
        let none = texts(&RuleSeed::new(10).fraction_with_token(1.0));
        assert!(none.iter().all(|r| !r.contains("ops@example.com")));
    }
}
