//! Rotating an organization's Admin API key.

mod inspect;
mod revoke;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use super::token::TokenSource;
use super::{Finished, Rotator, Updated, Verified};
use crate::AdminClient;
use crate::consumer::{Consumer, Consumers, CredentialView, INSTALLED};
use crate::error::{Error, Result};
use crate::secret::AdminApiKey;

/// Which key of the organization's key list is meant: by its id, or by the label it was given
/// (then exactly one key, besides the other key of the rotation, must carry it).
///
/// ```
/// use atlassian_rotation::rotate::KeyRef;
///
/// assert_eq!(KeyRef::Label("ci".into()).to_string(), "label `ci`");
/// assert_eq!(KeyRef::Id("0e3c".into()).to_string(), "id `0e3c`");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyRef {
    /// The key's id, as the key list shows it.
    Id(String),
    /// The key's label (its name in admin.atlassian.com).
    Label(String),
}

impl fmt::Display for KeyRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Id(id) => write!(f, "id `{id}`"),
            Self::Label(label) => write!(f, "label `{label}`"),
        }
    }
}

/// Rotates an organization's Admin API key. Atlassian has no API that mints one: a person
/// creates the new key in admin.atlassian.com and a [`TokenSource`] hands it over.
///
/// - **regenerate** takes the new key from the source and, before anything changes, proves
///   that it works for the organization (`GET /admin/v1/orgs/{orgId}`), finds it in the
///   organization's key list ([`new_key`](Self::new_key), or the one key active just when it
///   was used), and refuses it ([`Error::ReplacementRefused`]) when it is revoked, lacks a
///   scope of the old key (naming them; a key without scopes is not limited by scopes), or
///   expires within the [minimum validity](Self::min_validity). The old key must be in the
///   list too, as the [`KeyRef`] given names it.
/// - **update** checks all that again, then switches every live [`AdminClient`] registered
///   with [`switch_client`](Self::switch_client) to the new key (clones share it), and the
///   rotator's own client when it used the old key; installs the new key in every
///   [consumer](Self::consumer) that does not hold it yet; and journals the old key's id.
/// - **verify** proves the new key works, that every registered client uses it and works, and
///   observes every consumer.
/// - **finish** revokes the old key and concludes it revoked only from evidence: the old key
///   gets 401 after this rotation's own revoke, or the key list shows it revoked; never from an
///   ambiguous answer (a 403, a timeout).
///
/// The rotator's own client lists keys (scope `read:keys:admin`) and revokes the old one
/// (`delete:keys:admin`); when it authenticates with the old key it moves to the new one in
/// update, so a caller rotating the key it runs on keeps working, also in a process that
/// resumes the rotation. Clones of the rotator share their consumers and clients.
///
/// ```
/// use atlassian_rotation::rotate::{self, AdminKeyRotator, KeyRef, MemoryJournal, RotateOptions};
/// use atlassian_rotation::testing::FakeAtlassian;
/// use atlassian_rotation::AdminClient;
/// use time::{Duration, OffsetDateTime};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let fake = FakeAtlassian::start().await;
/// let org = fake.add_org("Acme");
/// // A person minted the replacement in admin.atlassian.com, with the same scopes.
/// let in_a_year = OffsetDateTime::now_utc() + Duration::days(365);
/// let new = fake.mint_admin_key(&org.id, "automation-2027", &[], in_a_year);
///
/// let admin = AdminClient::builder(org.admin_key.clone()).base_url(fake.admin_base()).build()?;
/// let rotator = AdminKeyRotator::new(
///     admin.clone(),
///     &org.id,
///     org.admin_key.clone(),
///     KeyRef::Id(org.admin_key_id.clone()),
///     new.key.clone(),
/// )
/// .new_key(KeyRef::Label("automation-2027".into()));
/// let report = rotate::rotate(&rotator, &MemoryJournal::new(), RotateOptions::new("admin-key-2026")).await?;
/// assert!(report.succeeded());
/// assert!(!fake.admin_key_is_live(&org.admin_key));
/// admin.check_key(&org.id).await?; // the caller's client moved to the new key
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct AdminKeyRotator {
    admin: AdminClient,
    org_id: String,
    old: AdminApiKey,
    old_key: KeyRef,
    new_key: Option<KeyRef>,
    source: Arc<dyn TokenSource<AdminApiKey>>,
    min_validity: Duration,
    clients: Vec<AdminClient>,
    consumers: Consumers,
}

impl fmt::Debug for AdminKeyRotator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdminKeyRotator")
            .field("org_id", &self.org_id)
            .field("old", &self.old)
            .field("old_key", &self.old_key)
            .field("new_key", &self.new_key)
            .field("min_validity", &self.min_validity)
            .field("clients", &self.clients.len())
            .field("consumers", &self.consumers)
            .finish_non_exhaustive()
    }
}

/// The fact under which the update step journals the id of the key to revoke.
const OLD_KEY_ID: &str = "old_key_id";
/// The fact under which the update step journals the new key's id in the key list.
const NEW_KEY_ID: &str = "new_key_id";
/// The fact under which the update step journals the new key's expiry.
const NEW_KEY_EXPIRES_AT: &str = "new_key_expires_at";

impl AdminKeyRotator {
    /// How long a new key must stay valid unless told otherwise
    /// ([`min_validity`](Self::min_validity)): 30 days.
    ///
    /// ```
    /// use atlassian_rotation::rotate::AdminKeyRotator;
    /// assert_eq!(AdminKeyRotator::DEFAULT_MIN_VALIDITY.as_secs(), 30 * 86_400);
    /// ```
    pub const DEFAULT_MIN_VALIDITY: Duration = Duration::from_secs(30 * 86_400);

    /// A rotator replacing `old` (the organization `org_id`'s Admin API key that `old_key`
    /// names in the key list) with the key `source` hands over. `admin` lists the keys and
    /// revokes the old one; it may authenticate with the old key.
    pub fn new(
        admin: AdminClient,
        org_id: impl Into<String>,
        old: AdminApiKey,
        old_key: KeyRef,
        source: impl TokenSource<AdminApiKey> + 'static,
    ) -> Self {
        Self {
            admin,
            org_id: org_id.into(),
            old,
            old_key,
            new_key: None,
            source: Arc::new(source),
            min_validity: Self::DEFAULT_MIN_VALIDITY,
            clients: Vec::new(),
            consumers: Consumers::default(),
        }
    }

    /// Names the new key in the organization's key list. Without it, the new key is the one
    /// key whose last activity moves while the rotation reads the list with it; when the list
    /// shows no such key, or several, or one created before the key named as the old one (the
    /// old key's id or label may name the new key), regenerate refuses and asks for this.
    ///
    /// ```
    /// # use atlassian_rotation::rotate::{AdminKeyRotator, KeyRef};
    /// # use atlassian_rotation::{AdminClient, secret::AdminApiKey};
    /// # let admin = AdminClient::builder(AdminApiKey::new("old")).build()?;
    /// // The person who minted the new key named it "automation-2027".
    /// let rotator = AdminKeyRotator::new(admin, "org-id", AdminApiKey::new("old"), KeyRef::Id("0e3c".into()), AdminApiKey::new("new"))
    ///     .new_key(KeyRef::Label("automation-2027".into()));
    /// # let _ = rotator;
    /// # Ok::<(), atlassian_rotation::Error>(())
    /// ```
    pub fn new_key(mut self, key: KeyRef) -> Self {
        self.new_key = Some(key);
        self
    }

    /// Refuses a new key that expires within `minimum` of now (default
    /// [`DEFAULT_MIN_VALIDITY`](Self::DEFAULT_MIN_VALIDITY)): a key that expires next week is
    /// not a rotation. Admin API keys live a year at most.
    ///
    /// ```
    /// # use atlassian_rotation::rotate::{AdminKeyRotator, KeyRef};
    /// # use atlassian_rotation::{AdminClient, secret::AdminApiKey};
    /// # let admin = AdminClient::builder(AdminApiKey::new("old")).build()?;
    /// let rotator = AdminKeyRotator::new(admin, "org-id", AdminApiKey::new("old"), KeyRef::Label("ci".into()), AdminApiKey::new("new"))
    ///     .min_validity(std::time::Duration::from_secs(90 * 86_400));
    /// # let _ = rotator;
    /// # Ok::<(), atlassian_rotation::Error>(())
    /// ```
    pub fn min_validity(mut self, minimum: Duration) -> Self {
        self.min_validity = minimum;
        self
    }

    /// Switches `client` (and every clone of it) to the new key in the update step: a live
    /// client of the caller's service keeps working once the old key is revoked. Verify proves
    /// each one uses the new key and works with it. Add as many as needed.
    ///
    /// ```
    /// # use atlassian_rotation::rotate::{AdminKeyRotator, KeyRef};
    /// # use atlassian_rotation::{AdminClient, secret::AdminApiKey};
    /// let old = AdminApiKey::new("old");
    /// let service_client = AdminClient::builder(old.clone()).build()?;
    /// # let admin = AdminClient::builder(old.clone()).build()?;
    /// let rotator = AdminKeyRotator::new(admin, "org-id", old, KeyRef::Label("ci".into()), AdminApiKey::new("new"))
    ///     .switch_client(service_client.clone());
    /// # let _ = rotator;
    /// # Ok::<(), atlassian_rotation::Error>(())
    /// ```
    pub fn switch_client(mut self, client: AdminClient) -> Self {
        self.clients.push(client);
        self
    }

    /// Installs the new key in `consumer` too (a file, a vault through its command, the
    /// caller's code; see [`crate::consumer`]), as many as needed: update installs into every
    /// consumer that does not hold it yet; verify observes every one; the old key is revoked
    /// only after all of them verified. A failing consumer names itself in the error
    /// ([`Error::Consumer`]); running the rotation again retries what is left.
    ///
    /// ```
    /// # use atlassian_rotation::rotate::{AdminKeyRotator, KeyRef};
    /// # use atlassian_rotation::{AdminClient, secret::AdminApiKey};
    /// use atlassian_rotation::consumer::{CommandConsumer, FileConsumer};
    /// # let admin = AdminClient::builder(AdminApiKey::new("old")).build()?;
    /// let rotator = AdminKeyRotator::new(admin, "org-id", AdminApiKey::new("old"), KeyRef::Label("ci".into()), AdminApiKey::new("new"))
    ///     .consumer(FileConsumer::dotenv("/srv/app/.env", "ATLASSIAN_ADMIN_KEY"))
    ///     .consumer(CommandConsumer::new("gh").args(["secret", "set", "ATLASSIAN_ADMIN_KEY"]));
    /// # let _ = rotator;
    /// # Ok::<(), atlassian_rotation::Error>(())
    /// ```
    pub fn consumer(mut self, consumer: impl Consumer + 'static) -> Self {
        self.consumers.push(consumer);
        self
    }

    /// Moves the rotator's own client to `new` when it uses the old key, and every registered
    /// client that still does (`all`: every registered client, whatever it uses).
    fn switch_clients(&self, new: &AdminApiKey, all: bool) -> Result<()> {
        for client in &self.clients {
            if all {
                client.set_credentials(new.clone())?;
            } else {
                client.follow_key(&self.old, new)?;
            }
        }
        if self.admin.follow_key(&self.old, new)? {
            tracing::info!("the rotator's AdminClient now authenticates with the new key");
        }
        Ok(())
    }
}

#[async_trait]
impl Rotator for AdminKeyRotator {
    type Credential = AdminApiKey;

    fn kind(&self) -> &'static str {
        "admin-key"
    }

    fn target(&self) -> String {
        format!("Admin API key of org {}", self.org_id)
    }

    fn old_fingerprint(&self) -> Option<String> {
        Some(self.old.fingerprint())
    }

    /// The key the source hands over now: a resume with another one is refused.
    async fn offered_fingerprint(&self) -> Result<Option<String>> {
        Ok(Some(self.source.new_token().await?.fingerprint()))
    }

    /// The new key comes from a [`TokenSource`]; asking for it again loses nothing.
    fn regenerate_mints(&self) -> bool {
        false
    }

    /// Takes the new key and decides, before anything changes, that it may replace the old
    /// one (see [`AdminKeyRotator`]).
    async fn regenerate(&self) -> Result<AdminApiKey> {
        let new = self.source.new_token().await?;
        self.inspect("regenerate", &new).await?;
        Ok(new)
    }

    async fn update(&self, new: &AdminApiKey) -> Result<Updated> {
        // Which key to revoke is decided now, while the old key is surely still listed.
        let listed = self.inspect("update", new).await?;
        self.switch_clients(new, true)?;
        let mut updated = Updated::default()
            .fact(OLD_KEY_ID, listed.old.id)
            .fact(NEW_KEY_ID, listed.new.id);
        if let Some(at) = &listed.new.expires_at {
            updated = updated.fact(NEW_KEY_EXPIRES_AT, at.as_str());
        }
        for n in 1..=self.clients.len() {
            updated = updated.target(format!("live AdminClient #{n}"));
        }
        let names = self
            .consumers
            .install(CredentialView::new(new.expose_secret()))
            .await?;
        for name in names {
            updated = updated.fact(INSTALLED, name.clone()).target(name);
        }
        updated.found = updated.targets.len();
        updated.rewritten = updated.targets.len();
        Ok(updated)
    }

    /// Proves the new key works for the organization, that every registered client uses it
    /// and works, and that every consumer holds it.
    async fn verify(&self, new: &AdminApiKey, updated: &Updated) -> Result<Verified> {
        // A process resuming the rotation holds clients still on the old key.
        self.switch_clients(new, false)?;
        let not_working = |what: String, e: Error| match e {
            e if e.is_auth_failure() => Error::rotation("verify", format!("{what} fails: {e}")),
            e => e,
        };
        self.admin
            .with_key(new)?
            .check_key(&self.org_id)
            .await
            .map_err(|e| not_working("the new key".to_owned(), e))?;
        let mut verified = Verified::new().check(format!(
            "the new Admin API key works for organization {}",
            self.org_id
        ));
        for (n, client) in self.clients.iter().enumerate() {
            let what = format!("live AdminClient #{}", n + 1);
            if !client.uses_key(new) {
                return Err(Error::rotation(
                    "verify",
                    format!("{what} does not use the new key"),
                ));
            }
            client
                .check_key(&self.org_id)
                .await
                .map_err(|e| not_working(what.clone(), e))?;
            verified = verified.check(format!("{what} uses the new key and works"));
        }
        let consumer_checks = self
            .consumers
            .verify(CredentialView::new(new.expose_secret()), updated)
            .await?;
        Ok(consumer_checks
            .into_iter()
            .fold(verified, |verified, check| verified.check(check)))
    }

    /// Revokes the old key (the one the update step journaled) and concludes it revoked only
    /// from evidence.
    async fn finish(&self, new: &AdminApiKey, updated: &Updated) -> Result<Finished> {
        self.switch_clients(new, false)?;
        let id = match updated.fact_value(OLD_KEY_ID) {
            Some(id) => id.to_owned(),
            None => self.inspect("finish", new).await?.old.id,
        };
        self.revoke(&id, new).await
    }

    /// A rerun of the finished rotation: registered clients (and the rotator's own) still on
    /// the old key (a process that built them from an old configuration) move to the new one,
    /// once it works for the organization; a new key that no longer does (a later rotation
    /// revoked it) leaves them as they are.
    async fn already_finished(&self, fingerprint: &str) -> Result<()> {
        let stale = |client: &AdminClient| client.uses_key(&self.old);
        if !stale(&self.admin) && !self.clients.iter().any(stale) {
            return Ok(());
        }
        let new = self.source.new_token().await?;
        if new.fingerprint() != fingerprint {
            return Ok(());
        }
        match self.admin.with_key(&new)?.check_key(&self.org_id).await {
            Ok(_) => self.switch_clients(&new, false),
            Err(e) if e.is_auth_failure() => Ok(()),
            Err(e) => Err(e),
        }
    }
}
