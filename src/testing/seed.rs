//! Seeding the fake and observing its state: the user-facing half of [`FakeAtlassian`].

use std::fmt;

use serde_json::{Value, json};
use time::OffsetDateTime;

use super::FakeAtlassian;
use super::rules::{self, RuleSeed};
use super::state::{
    Org, StoredRule, Token, Tunnel, User, api_token_value, random_base64url, random_hex,
    random_uuid, tunnel_key_value,
};
use crate::secret::{
    AdminApiKey, ApiCredentials, ApiToken, Password, PersonalAccessToken, TunnelKey, basic_encode,
};

/// An organization seeded with [`FakeAtlassian::add_org`], and its Admin API key.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use atlassian_rotation::testing::FakeAtlassian;
///
/// let fake = FakeAtlassian::start().await;
/// let org = fake.add_org("Example Org");
/// assert_eq!(org.name, "Example Org");
/// assert!(!format!("{org:?}").contains(org.admin_key.expose_secret()));
/// # }
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct FakeOrg {
    /// The org id (UUID-shaped).
    pub id: String,
    /// The org's name.
    pub name: String,
    /// An Admin API key that manages this org: without scopes, valid for a year.
    pub admin_key: AdminApiKey,
    /// That key's id in the org's key list.
    pub admin_key_id: String,
}

/// A tunnel seeded with [`FakeAtlassian::add_tunnel`], with its Data Center instance.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use atlassian_rotation::testing::FakeAtlassian;
///
/// let fake = FakeAtlassian::start().await;
/// let org = fake.add_org("Example Org");
/// let tunnel = fake.add_tunnel(&org.id, "jira-dc");
/// assert_eq!(tunnel.instance_base, fake.instance_base(&tunnel.hostname));
/// assert_eq!(fake.tunnel_key(&tunnel.hostname), Some(tunnel.current_key.clone()));
/// # }
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct FakeTunnel {
    /// The org the tunnel belongs to.
    pub org_id: String,
    /// The tunnel's hostname: the UUID label of its application-link URL.
    pub hostname: String,
    /// The tunnel's display name.
    pub name: String,
    /// The base URL of its Data Center instance (`http://127.0.0.1:PORT/dc/{hostname}`).
    pub instance_base: String,
    /// A personal access token of that instance's administrator (`Authorization: Bearer`).
    pub pat: PersonalAccessToken,
    /// That administrator's user name, for basic authentication.
    pub username: String,
    /// That administrator's password, for basic authentication.
    pub password: Password,
    /// The key the tunnel was seeded with (installed, so the tunnel is connected).
    pub current_key: TunnelKey,
}

/// A Jira Cloud user seeded with [`FakeAtlassian::add_user`]. Every user belongs to every org of
/// the fake.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use atlassian_rotation::testing::FakeAtlassian;
///
/// let fake = FakeAtlassian::start().await;
/// let user = fake.add_user("ops@example.com", "Ops Bot");
/// assert_eq!(user.account_id.len(), 24);
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FakeUser {
    /// The Atlassian account id.
    pub account_id: String,
    /// The account email (the user name of basic authentication).
    pub email: String,
    /// The display name.
    pub display_name: String,
}

/// Whether a tunnel works: connected exactly while its Data Center instance holds its current key.
///
/// ```
/// use atlassian_rotation::testing::TunnelStatus;
///
/// assert_eq!(TunnelStatus::Connected.as_str(), "CONNECTED");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TunnelStatus {
    /// The instance holds the current key.
    Connected,
    /// The key was regenerated and the new one is not installed yet.
    Disconnected,
}

impl TunnelStatus {
    /// The status as the Admin API writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Connected => "CONNECTED",
            Self::Disconnected => "DISCONNECTED",
        }
    }
}

impl fmt::Display for TunnelStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How often a rule was read and written through the API, from [`FakeAtlassian::rule_stats`].
///
/// ```
/// use atlassian_rotation::testing::RuleStats;
///
/// assert_eq!(RuleStats::default().puts, 0);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct RuleStats {
    /// `GET .../rule/{uuid}` answered 200.
    pub gets: u32,
    /// `PUT .../rule/{uuid}` answered 200.
    pub puts: u32,
    /// `PUT .../rule/{uuid}/state` answered 200.
    pub state_puts: u32,
}

impl FakeAtlassian {
    /// Adds an organization with an Admin API key of its own (without scopes, valid for a
    /// year; [`mint_admin_key`](Self::mint_admin_key) adds more).
    pub fn add_org(&self, name: impl Into<String>) -> FakeOrg {
        let id = random_uuid(&mut fastrand::Rng::new());
        let name = name.into();
        self.shared.lock().orgs.push(Org {
            id: id.clone(),
            name: name.clone(),
        });
        let in_a_year = OffsetDateTime::now_utc() + time::Duration::days(365);
        let key = self.mint_admin_key(&id, "org admin key", &[], in_a_year);
        FakeOrg {
            id,
            name,
            admin_key: key.key,
            admin_key_id: key.id,
        }
    }

    /// Adds a tunnel to the org `org_id`, with a Data Center instance that holds its key: the
    /// tunnel starts connected.
    ///
    /// # Panics
    ///
    /// When the org was not added to this fake.
    pub fn add_tunnel(&self, org_id: &str, name: impl Into<String>) -> FakeTunnel {
        let mut state = self.shared.lock();
        assert!(
            state.orgs.iter().any(|o| o.id == org_id),
            "FakeAtlassian::add_tunnel: no org {org_id} (add it with add_org first)"
        );
        let mut rng = fastrand::Rng::new();
        let hostname = random_uuid(&mut rng);
        let key = tunnel_key_value();
        let pat = random_base64url(44);
        let password = random_base64url(20);
        let name = name.into();
        state.tunnels.push(Tunnel {
            id: random_uuid(&mut rng),
            org_id: org_id.to_owned(),
            hostname: hostname.clone(),
            name: name.clone(),
            pat: pat.clone(),
            password: password.clone(),
            current_key: key.clone(),
            installed_key: Some(key.clone()),
        });
        FakeTunnel {
            org_id: org_id.to_owned(),
            instance_base: self.instance_base(&hostname),
            hostname,
            name,
            pat: PersonalAccessToken::new(pat),
            username: super::admin::DC_USERNAME.to_owned(),
            password: Password::new(password),
            current_key: TunnelKey::new(key),
        }
    }

    /// The status of the tunnel `hostname`, or `None` for an unknown tunnel.
    pub fn tunnel_status(&self, hostname: &str) -> Option<TunnelStatus> {
        self.shared.lock().tunnel(hostname).map(|t| {
            if t.connected() {
                TunnelStatus::Connected
            } else {
                TunnelStatus::Disconnected
            }
        })
    }

    /// The tunnel's current key (the last one minted), whether installed or not.
    pub fn tunnel_key(&self, hostname: &str) -> Option<TunnelKey> {
        self.shared
            .lock()
            .tunnel(hostname)
            .map(|t| TunnelKey::new(t.current_key.clone()))
    }

    /// Adds a Jira Cloud user. It has no API token until [`mint_api_token`](Self::mint_api_token).
    pub fn add_user(&self, email: impl Into<String>, display_name: impl Into<String>) -> FakeUser {
        let user = FakeUser {
            account_id: random_hex(24),
            email: email.into(),
            display_name: display_name.into(),
        };
        self.shared.lock().users.push(User {
            account_id: user.account_id.clone(),
            email: user.email.clone(),
            display_name: user.display_name.clone(),
        });
        user
    }

    /// Mints an API token for the user, as a person would in their account settings (no API
    /// does). It is live until `expires_at` (on the system clock) or until revoked. Returns the
    /// token's id and the token, shaped like Atlassian's (`ATATT3xFfGF0…`, 192 characters).
    ///
    /// # Panics
    ///
    /// When the user was not added to this fake.
    pub fn mint_api_token(
        &self,
        account_id: &str,
        label: impl Into<String>,
        expires_at: OffsetDateTime,
    ) -> (String, ApiToken) {
        self.mint(account_id, label.into(), expires_at, Vec::new())
    }

    /// Mints a scoped API token for the user (as a person does with "Create API token with
    /// scopes", and as every service-account token is): it authenticates only on the API
    /// gateway ([`jira_gateway_base`](Self::jira_gateway_base)), as `Authorization: Bearer` or
    /// Basic `email:token`; the site and the Automation API refuse it. It is listed in the org's
    /// token list with its scopes. Shaped like a classic token: a prefix tells them apart on no
    /// real site either.
    ///
    /// # Panics
    ///
    /// When the user was not added to this fake.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use atlassian_rotation::testing::FakeAtlassian;
    /// use time::{Duration, OffsetDateTime};
    ///
    /// let fake = FakeAtlassian::start().await;
    /// let user = fake.add_user("svc@example.com", "Service");
    /// let expiry = OffsetDateTime::now_utc() + Duration::days(30);
    /// let (_, token) = fake.mint_scoped_api_token(&user.account_id, "hooks", expiry, &["read:jira-user"]);
    /// let myself = format!("{}/rest/api/3/myself", fake.jira_gateway_base("cloud-1"));
    /// let http = reqwest::Client::new();
    /// let answer = http.get(&myself).bearer_auth(token.expose_secret()).send().await.unwrap();
    /// assert_eq!(answer.status(), 200);
    /// let on_site = format!("{}/rest/api/3/myself", fake.site_base());
    /// let refused = http.get(&on_site).basic_auth(&user.email, Some(token.expose_secret())).send().await.unwrap();
    /// assert_eq!(refused.status(), 401);
    /// # }
    /// ```
    pub fn mint_scoped_api_token(
        &self,
        account_id: &str,
        label: impl Into<String>,
        expires_at: OffsetDateTime,
        scopes: &[&str],
    ) -> (String, ApiToken) {
        let mut scopes: Vec<String> = scopes.iter().map(|s| (*s).to_owned()).collect();
        if scopes.is_empty() {
            scopes.push("read:me".to_owned());
        }
        self.mint(account_id, label.into(), expires_at, scopes)
    }

    fn mint(
        &self,
        account_id: &str,
        label: String,
        expires_at: OffsetDateTime,
        scopes: Vec<String>,
    ) -> (String, ApiToken) {
        let mut state = self.shared.lock();
        assert!(
            state.user(account_id).is_some(),
            "FakeAtlassian::mint_api_token: no user {account_id} (add it with add_user first)"
        );
        let id = random_uuid(&mut fastrand::Rng::new());
        let secret = api_token_value();
        // Atlassian lists creation times in milliseconds; two tokens minted one after the other
        // never share one, so neither do the fake's.
        let created_at = state
            .tokens
            .iter()
            .map(|t| t.created_at + time::Duration::milliseconds(1))
            .max()
            .map_or_else(OffsetDateTime::now_utc, |next| {
                next.max(OffsetDateTime::now_utc())
            });
        state.tokens.push(Token {
            id: id.clone(),
            account_id: account_id.to_owned(),
            label,
            secret: secret.clone(),
            created_at,
            expires_at,
            last_access: None,
            revoked: false,
            scopes,
        });
        (id, ApiToken::new(secret))
    }

    /// Whether `token` authenticates: minted here, not revoked, not expired.
    pub fn token_is_live(&self, token: &ApiToken) -> bool {
        self.shared
            .lock()
            .tokens
            .iter()
            .any(|t| t.secret == token.expose_secret() && t.is_live())
    }

    /// Revokes a token out of band (as a person would in the UI). Returns whether it was live.
    pub fn revoke_api_token(&self, token_id: &str) -> bool {
        let mut state = self.shared.lock();
        match state.tokens.iter_mut().find(|t| t.id == token_id) {
            Some(token) if !token.revoked => {
                token.revoked = true;
                true
            }
            _ => false,
        }
    }

    /// Stores an Automation rule for `cloud_id`, verbatim, and returns its UUID: the rule's
    /// `uuid` when it has one, else a new one written into it.
    ///
    /// # Panics
    ///
    /// When `rule` is not a JSON object.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use atlassian_rotation::testing::FakeAtlassian;
    /// use serde_json::json;
    ///
    /// let fake = FakeAtlassian::start().await;
    /// let uuid = fake.add_rule("cloud-1", json!({"name": "Hello", "state": "ENABLED", "components": []}));
    /// assert_eq!(fake.rule(&uuid).unwrap()["name"], "Hello");
    /// assert_eq!(fake.rule_uuids("cloud-1"), vec![uuid]);
    /// # }
    /// ```
    pub fn add_rule(&self, cloud_id: &str, mut rule: Value) -> String {
        assert!(
            rule.is_object(),
            "FakeAtlassian::add_rule: a rule is a JSON object"
        );
        let uuid = match rule["uuid"].as_str() {
            Some(uuid) => uuid.to_owned(),
            None => {
                let uuid = random_uuid(&mut fastrand::Rng::new());
                rule["uuid"] = json!(uuid);
                uuid
            }
        };
        self.shared.lock().push_rule(StoredRule {
            cloud_id: cloud_id.to_owned(),
            uuid: uuid.clone(),
            rule,
            connections: json!([]),
            gets: 0,
            puts: 0,
            state_puts: 0,
        });
        uuid
    }

    /// Generates realistic rules for `cloud_id` (see [`RuleSeed`]) and returns their UUIDs.
    /// When the seed's email belongs to a user of the fake, that user authored the rules.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use atlassian_rotation::secret::ApiCredentials;
    /// use atlassian_rotation::testing::{FakeAtlassian, RuleSeed};
    /// use time::{Duration, OffsetDateTime};
    ///
    /// let fake = FakeAtlassian::start().await;
    /// let user = fake.add_user("ops@example.com", "Ops Bot");
    /// let expiry = OffsetDateTime::now_utc() + Duration::days(90);
    /// let (_, token) = fake.mint_api_token(&user.account_id, "automation", expiry);
    ///
    /// let seed = RuleSeed::new(40).with_token(&user.email, token.clone()).fraction_with_token(0.25);
    /// let uuids = fake.seed_rules("cloud-1", seed);
    /// assert_eq!(uuids.len(), 40);
    ///
    /// // After a rotation, no rule should hold the old token in any form.
    /// let old = ApiCredentials::new(&user.email, token);
    /// assert_eq!(fake.rules_holding(&old).len(), 10);
    /// # }
    /// ```
    pub fn seed_rules(&self, cloud_id: &str, seed: RuleSeed) -> Vec<String> {
        let author = {
            let state = self.shared.lock();
            seed.credentials
                .as_ref()
                .and_then(|c| state.users.iter().find(|u| u.email == c.email()))
                .map_or_else(|| random_hex(24), |u| u.account_id.clone())
        };
        rules::generate(cloud_id, &author, &seed)
            .into_iter()
            .map(|(_, rule)| self.add_rule(cloud_id, rule))
            .collect()
    }

    /// The stored rule, as the API would return it in `rule`.
    pub fn rule(&self, uuid: &str) -> Option<Value> {
        let state = self.shared.lock();
        state
            .rules
            .iter()
            .find(|r| r.uuid == uuid)
            .map(|r| r.rule.clone())
    }

    /// The UUIDs of the rules of `cloud_id`, in listing order.
    pub fn rule_uuids(&self, cloud_id: &str) -> Vec<String> {
        let state = self.shared.lock();
        state
            .rules
            .iter()
            .filter(|r| r.cloud_id == cloud_id)
            .map(|r| r.uuid.clone())
            .collect()
    }

    /// How often the rule was read and written through the API.
    pub fn rule_stats(&self, uuid: &str) -> Option<RuleStats> {
        let state = self.shared.lock();
        state
            .rules
            .iter()
            .find(|r| r.uuid == uuid)
            .map(|r| RuleStats {
                gets: r.gets,
                puts: r.puts,
                state_puts: r.state_puts,
            })
    }

    /// The UUIDs of the rules (of any site) that hold `credentials`' token in clear, either
    /// alone or inside `Basic base64(email:token)`: what a rotation must leave empty.
    pub fn rules_holding(&self, credentials: &ApiCredentials) -> Vec<String> {
        let token = credentials.token().expose_secret();
        let basic = basic_encode(credentials.email(), token);
        let state = self.shared.lock();
        state
            .rules
            .iter()
            .filter(|r| {
                let text = r.rule.to_string();
                text.contains(token) || text.contains(&basic)
            })
            .map(|r| r.uuid.clone())
            .collect()
    }
}
