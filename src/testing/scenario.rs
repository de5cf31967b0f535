//! A ready-made discovery scenario: accounts whose API tokens expire soon, used by rules in
//! every credential form, only some of them `Basic`.

use time::OffsetDateTime;

use super::FakeAtlassian;
use super::rules::RuleSeed;
use super::seed::{FakeOrg, FakeUser};
use super::seed_keys::FakeServiceAccount;
use crate::secret::{ApiCredentials, ApiToken};

/// What [`FakeAtlassian::seed_expiring_usage`] seeded. `Debug` never shows a token.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ExpiringUsage {
    /// The organization: its Admin API key lists the tokens.
    pub org: FakeOrg,
    /// A site admin, to read the rules: a classic token live for a year.
    pub caller: ApiCredentials,
    /// The expiring tokens, one per account, soonest first: classic tokens in `Basic` values
    /// and scoped tokens in forms without an email, in turn.
    pub tokens: Vec<ExpiringToken>,
    /// Every rule this call seeded, in listing order.
    pub rules: Vec<String>,
}

impl ExpiringUsage {
    /// The rules that hold a token in a `Basic` value (its email with it).
    pub fn basic_rules(&self) -> Vec<String> {
        self.tokens
            .iter()
            .filter(|t| !t.scoped)
            .flat_map(|t| t.rules.iter().cloned())
            .collect()
    }
}

/// One expiring token of an [`ExpiringUsage`], and the rules that hold it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ExpiringToken {
    /// Its account.
    pub user: FakeUser,
    /// Its id in the org's token list.
    pub token_id: String,
    /// The token.
    pub token: ApiToken,
    /// Whether it is scoped (written as `Bearer`, an API-key header and a URL query
    /// parameter: three rules) or classic (written as `Basic`: one rule).
    pub scoped: bool,
    /// The rules that hold it.
    pub rules: Vec<String>,
}

/// What [`FakeAtlassian::seed_service_account_usage`] seeded. `Debug` never shows the token.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ServiceAccountUsage {
    /// The service account.
    pub account: FakeServiceAccount,
    /// Its token's id in the account's token list.
    pub token_id: String,
    /// The token (scoped, as every service-account token is).
    pub token: ApiToken,
    /// The rules that hold it.
    pub rules: Vec<String>,
}

impl FakeAtlassian {
    /// Seeds, in the org `org_id`, a service account named `name` with one API token expiring
    /// `expires_in` from now, and `rules` rules of `cloud_id` that hold it, in every credential
    /// form in turn (`Basic` with the account's email first, so the first rule names the
    /// account): what the expiry radar lists as a service-account token used by rules.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use atlassian_rotation::testing::FakeAtlassian;
    ///
    /// let fake = FakeAtlassian::start().await;
    /// let org = fake.add_org("Acme");
    /// let ci = fake.seed_service_account_usage("cloud-1", &org.id, "ci-bot", 4, time::Duration::days(5));
    /// assert_eq!(ci.rules.len(), 4);
    /// assert!(!format!("{ci:?}").contains(ci.token.expose_secret()));
    /// # }
    /// ```
    ///
    /// # Panics
    ///
    /// When the org was not added to this fake.
    pub fn seed_service_account_usage(
        &self,
        cloud_id: &str,
        org_id: &str,
        name: &str,
        rules: usize,
        expires_in: time::Duration,
    ) -> ServiceAccountUsage {
        let account = self.add_service_account(org_id, name);
        let expires_at = OffsetDateTime::now_utc() + expires_in;
        let scopes = ["read:jira-work", "write:jira-work"];
        let (token_id, token) =
            self.mint_service_account_token(&account, "automation", &scopes, expires_at);
        // Rules of their own: another seed than any other call's default, so no UUID clashes.
        let seed = RuleSeed::new(rules)
            .with_token(&account.email, token.clone())
            .fraction_with_token(1.0)
            .seed(fastrand::u64(..));
        let rules = self.seed_rules(cloud_id, seed);
        ServiceAccountUsage {
            account,
            token_id,
            token,
            rules,
        }
    }

    /// Seeds the expiry radar's scenario for `cloud_id`: for each of `accounts` pairs, one
    /// account whose classic token sits in one rule as `Basic base64(email:token)`, and one whose
    /// scoped token sits in three rules as `Bearer`, an API-key header and a URL query parameter
    /// (no email with it). Every one of those tokens expires `expires_in` from now (a minute
    /// apart, in order). `accounts = 3` gives the radar's classic case: 12 rules use expiring
    /// tokens, only 3 of them in `Basic`. Also seeds an org and a site admin to read the rules.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use atlassian_rotation::testing::FakeAtlassian;
    ///
    /// let fake = FakeAtlassian::start().await;
    /// let scenario = fake.seed_expiring_usage("cloud-1", 3, time::Duration::days(9));
    /// assert_eq!(scenario.rules.len(), 12);
    /// assert_eq!(scenario.basic_rules().len(), 3);
    /// assert_eq!(scenario.tokens.len(), 6);
    /// assert!(!format!("{scenario:?}").contains(scenario.tokens[0].token.expose_secret()));
    /// # }
    /// ```
    pub fn seed_expiring_usage(
        &self,
        cloud_id: &str,
        accounts: usize,
        expires_in: time::Duration,
    ) -> ExpiringUsage {
        let org = self.add_org("Radar Org");
        let now = OffsetDateTime::now_utc();
        let admin = self.add_user("radar-admin@example.com", "Radar admin");
        let (_, caller) =
            self.mint_api_token(&admin.account_id, "tools", now + time::Duration::days(365));
        let mut tokens = Vec::new();
        for i in 0..accounts {
            for scoped in [false, true] {
                let n = tokens.len();
                let (email, name) = if scoped {
                    (format!("svc-{i}@example.com"), format!("Service {i}"))
                } else {
                    (format!("ops-{i}@example.com"), format!("Ops {i}"))
                };
                let user = self.add_user(email, name);
                let expires_at = now + expires_in + time::Duration::minutes(n as i64);
                let (token_id, token) = if scoped {
                    let scopes = ["read:jira-work", "write:jira-work"];
                    self.mint_scoped_api_token(&user.account_id, "hooks", expires_at, &scopes)
                } else {
                    self.mint_api_token(&user.account_id, "automation", expires_at)
                };
                let mut seed = RuleSeed::new(if scoped { 3 } else { 1 })
                    .with_token(&user.email, token.clone())
                    .fraction_with_token(1.0)
                    .seed(0xe5_0000 + n as u64);
                if scoped {
                    seed = seed.without_basic();
                }
                let rules = self.seed_rules(cloud_id, seed);
                tokens.push(ExpiringToken {
                    user,
                    token_id,
                    token,
                    scoped,
                    rules,
                });
            }
        }
        ExpiringUsage {
            org,
            caller: ApiCredentials::new(admin.email, caller),
            rules: tokens.iter().flat_map(|t| t.rules.clone()).collect(),
            tokens,
        }
    }
}
