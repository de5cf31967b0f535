//! Seeding and observing Admin API keys and service accounts.

use time::OffsetDateTime;

use super::FakeAtlassian;
use super::state::{AdminKey, ServiceAccount, admin_key_value, random_hex, random_uuid};
use crate::secret::{AdminApiKey, ApiToken};

/// An Admin API key minted with [`FakeAtlassian::mint_admin_key`].
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use atlassian_rotation::testing::FakeAtlassian;
/// use time::{Duration, OffsetDateTime};
///
/// let fake = FakeAtlassian::start().await;
/// let org = fake.add_org("Acme");
/// let expiry = OffsetDateTime::now_utc() + Duration::days(90);
/// let key = fake.mint_admin_key(&org.id, "ci", &["read:keys:admin"], expiry);
/// assert!(fake.admin_key_is_live(&key.key));
/// assert!(!format!("{key:?}").contains(key.key.expose_secret()));
/// # }
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct FakeAdminKey {
    /// The key's id in the org's key list.
    pub id: String,
    /// The org it manages.
    pub org_id: String,
    /// Its label.
    pub label: String,
    /// The key itself.
    pub key: AdminApiKey,
}

/// A service account added with [`FakeAtlassian::add_service_account`]. It is an account like
/// a user's, whose tokens are scoped: they authenticate on the API gateway, as a user's scoped
/// tokens do.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use atlassian_rotation::testing::FakeAtlassian;
///
/// let fake = FakeAtlassian::start().await;
/// let org = fake.add_org("Acme");
/// let account = fake.add_service_account(&org.id, "ci-bot");
/// assert!(account.email.ends_with("@serviceaccount.atlassian.com"));
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FakeServiceAccount {
    /// The service account id (what the API Access routes take).
    pub id: String,
    /// Its Atlassian account id.
    pub account_id: String,
    /// The org it belongs to.
    pub org_id: String,
    /// Its email address.
    pub email: String,
    /// Its display name.
    pub display_name: String,
}

impl FakeAtlassian {
    /// Mints an Admin API key for the org `org_id`, as a person would in admin.atlassian.com
    /// (no API does): with `scopes` (none: a key without scopes, which may do anything), live
    /// until `expires_at` (on the system clock) or until revoked. Keys minted one after the
    /// other never share a creation time.
    ///
    /// # Panics
    ///
    /// When the org was not added to this fake.
    pub fn mint_admin_key(
        &self,
        org_id: &str,
        label: impl Into<String>,
        scopes: &[&str],
        expires_at: OffsetDateTime,
    ) -> FakeAdminKey {
        let mut state = self.shared.lock();
        assert!(
            state.orgs.iter().any(|o| o.id == org_id),
            "FakeAtlassian::mint_admin_key: no org {org_id} (add it with add_org first)"
        );
        let created_at = state
            .admin_keys
            .iter()
            .map(|k| k.created_at + time::Duration::milliseconds(1))
            .max()
            .map_or_else(OffsetDateTime::now_utc, |next| {
                next.max(OffsetDateTime::now_utc())
            });
        let key = FakeAdminKey {
            id: random_uuid(&mut fastrand::Rng::new()),
            org_id: org_id.to_owned(),
            label: label.into(),
            key: AdminApiKey::new(admin_key_value()),
        };
        state.admin_keys.push(AdminKey {
            id: key.id.clone(),
            org_id: org_id.to_owned(),
            label: key.label.clone(),
            secret: key.key.expose_secret().to_owned(),
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            created_at,
            expires_at,
            last_active_at: None,
            revoked_at: None,
        });
        key
    }

    /// Whether `key` authenticates: minted here, not revoked, not expired.
    pub fn admin_key_is_live(&self, key: &AdminApiKey) -> bool {
        self.shared
            .lock()
            .admin_keys
            .iter()
            .any(|k| k.secret == key.expose_secret() && k.is_live())
    }

    /// Revokes an Admin API key out of band (as a person would in the UI). Returns whether it
    /// was not revoked before.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use atlassian_rotation::testing::FakeAtlassian;
    ///
    /// let fake = FakeAtlassian::start().await;
    /// let org = fake.add_org("Acme");
    /// assert!(fake.revoke_admin_key(&org.admin_key_id));
    /// assert!(!fake.admin_key_is_live(&org.admin_key));
    /// assert_eq!(fake.admin_key_last_active(&org.admin_key_id), None);
    /// # }
    /// ```
    pub fn revoke_admin_key(&self, key_id: &str) -> bool {
        let mut state = self.shared.lock();
        match state.admin_keys.iter_mut().find(|k| k.id == key_id) {
            Some(key) if key.revoked_at.is_none() => {
                key.revoked_at = Some(OffsetDateTime::now_utc());
                true
            }
            _ => false,
        }
    }

    /// When the key `key_id` last authenticated a request, as the key list shows it.
    pub fn admin_key_last_active(&self, key_id: &str) -> Option<OffsetDateTime> {
        self.shared
            .lock()
            .admin_keys
            .iter()
            .find(|k| k.id == key_id)
            .and_then(|k| k.last_active_at)
    }

    /// Adds a service account to the org `org_id`, named `name` (its email is
    /// `{name}@serviceaccount.atlassian.com`). It has no API token until
    /// [`mint_service_account_token`](Self::mint_service_account_token).
    ///
    /// # Panics
    ///
    /// When the org was not added to this fake.
    pub fn add_service_account(&self, org_id: &str, name: &str) -> FakeServiceAccount {
        assert!(
            self.shared.lock().orgs.iter().any(|o| o.id == org_id),
            "FakeAtlassian::add_service_account: no org {org_id} (add it with add_org first)"
        );
        let user = self.add_user(format!("{name}@serviceaccount.atlassian.com"), name);
        let account = FakeServiceAccount {
            id: random_hex(32),
            account_id: user.account_id,
            org_id: org_id.to_owned(),
            email: user.email,
            display_name: user.display_name,
        };
        self.shared.lock().service_accounts.push(ServiceAccount {
            id: account.id.clone(),
            account_id: account.account_id.clone(),
            org_id: org_id.to_owned(),
        });
        account
    }

    /// Mints an API token for a service account, with `scopes` (service-account tokens are
    /// always scoped): it authenticates as a scoped token does
    /// ([`mint_scoped_api_token`](Self::mint_scoped_api_token)), and its last activity moves
    /// when it does. Returns the token's id and the token.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use atlassian_rotation::testing::FakeAtlassian;
    /// use time::{Duration, OffsetDateTime};
    ///
    /// let fake = FakeAtlassian::start().await;
    /// let org = fake.add_org("Acme");
    /// let account = fake.add_service_account(&org.id, "ci-bot");
    /// let expiry = OffsetDateTime::now_utc() + Duration::days(30);
    /// let (_, token) = fake.mint_service_account_token(&account, "deploy", &["read:jira-work"], expiry);
    /// assert!(fake.token_is_live(&token));
    /// # }
    /// ```
    ///
    /// # Panics
    ///
    /// When the service account was not added to this fake.
    pub fn mint_service_account_token(
        &self,
        account: &FakeServiceAccount,
        label: impl Into<String>,
        scopes: &[&str],
        expires_at: OffsetDateTime,
    ) -> (String, ApiToken) {
        assert!(
            self.shared.lock().is_service_account(&account.account_id),
            "FakeAtlassian::mint_service_account_token: no service account {} (add it with \
             add_service_account first)",
            account.id
        );
        self.mint_scoped_api_token(&account.account_id, label, expires_at, scopes)
    }
}
