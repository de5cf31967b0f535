//! Consumers: the places a credential lives besides the Atlassian APIs — a file, a vault or CI
//! secret store reached through its command-line tool, the caller's own code.
//!
//! A [`Consumer`] installs a credential idempotently, observes whether it holds it (verify),
//! and optionally restores what it held before. Rotators take any number of consumers
//! ([`AutomationTokenRotator::consumer`](crate::rotate::AutomationTokenRotator::consumer)): the
//! update step installs the new credential in every one, verify observes every one, and the
//! old credential is retired only after all of them verified.
//!
//! Built-ins:
//!
//! - [`FileConsumer`]: the whole file, one `KEY=value` line of a dotenv file, or one string at a
//!   JSON pointer, written atomically (temporary file, fsync, rename) with mode 0600, every
//!   other byte as it was.
//! - [`CommandConsumer`]: a program that reads the credential on **stdin only** (never argv,
//!   never the environment), with a timeout and its exit status as the verdict: any vault or CI
//!   tool (`vault kv put secret/jira token=-`, `gh secret set JIRA_TOKEN`).
//! - [`FnConsumer`]: the caller's own closure.
//!
//! [`ConsumerSpec`] reads any built-in from one line of text (`dotenv:/srv/app/.env#JIRA_TOKEN`),
//! for command lines and configuration files.
//!
//! ```
//! use atlassian_rotation::consumer::{Consumer, CredentialView, FileConsumer};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let dir = tempfile::tempdir().unwrap();
//! let env = dir.path().join(".env");
//! std::fs::write(&env, "JIRA_URL=https://example.atlassian.net\nJIRA_TOKEN=old\n").unwrap();
//!
//! let consumer = FileConsumer::dotenv(&env, "JIRA_TOKEN");
//! consumer.install(CredentialView::new("ATATT-new")).await.unwrap();
//! assert_eq!(consumer.holds(CredentialView::new("ATATT-new")).await.unwrap(), Some(true));
//! assert_eq!(
//!     std::fs::read_to_string(&env).unwrap(),
//!     "JIRA_URL=https://example.atlassian.net\nJIRA_TOKEN=ATATT-new\n"
//! );
//! # });
//! ```

mod command;
mod edit;
mod file;
mod func;
mod set;
mod spec;

use std::fmt;

use async_trait::async_trait;

use crate::error::Result;

pub use command::CommandConsumer;
pub use file::FileConsumer;
pub use func::FnConsumer;
pub(crate) use set::{Consumers, INSTALLED};
pub use spec::ConsumerSpec;

/// A credential handed to a consumer: its value on request, a fingerprint for logs. `Debug`
/// never shows the value.
///
/// ```
/// use atlassian_rotation::consumer::CredentialView;
/// let view = CredentialView::new("ATATT-secret");
/// assert_eq!(view.expose_secret(), "ATATT-secret");
/// assert!(!format!("{view:?}").contains("secret"));
/// ```
#[derive(Clone, Copy)]
pub struct CredentialView<'a> {
    value: &'a str,
}

impl<'a> CredentialView<'a> {
    /// A view of `value` (a rotator builds it from the credential it rotates).
    pub fn new(value: &'a str) -> Self {
        Self { value }
    }

    /// The clear value. Send it where it belongs; never log it.
    pub fn expose_secret(&self) -> &'a str {
        self.value
    }

    /// A non-reversible fingerprint of the value, the same as the crate's secret types give.
    ///
    /// ```
    /// use atlassian_rotation::consumer::CredentialView;
    /// use atlassian_rotation::secret::ApiToken;
    /// assert_eq!(CredentialView::new("t").fingerprint(), ApiToken::new("t").fingerprint());
    /// ```
    pub fn fingerprint(&self) -> String {
        crate::secret::fingerprint(self.value)
    }
}

impl fmt::Debug for CredentialView<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CredentialView({})", crate::secret::REDACTED)
    }
}

/// A place a credential lives, which a rotation keeps current.
///
/// Implement it for the caller's own stores; errors name the consumer
/// ([`Error::Consumer`](crate::Error::Consumer)) when it runs inside a rotation.
///
/// ```
/// use async_trait::async_trait;
/// use atlassian_rotation::consumer::{Consumer, CredentialView};
/// use std::sync::Mutex;
///
/// struct InMemory(Mutex<String>);
///
/// #[async_trait]
/// impl Consumer for InMemory {
///     fn name(&self) -> String { "in-memory cache".into() }
///     async fn install(&self, credential: CredentialView<'_>) -> atlassian_rotation::Result<()> {
///         *self.0.lock().unwrap() = credential.expose_secret().to_owned();
///         Ok(())
///     }
///     async fn holds(&self, credential: CredentialView<'_>) -> atlassian_rotation::Result<Option<bool>> {
///         Ok(Some(*self.0.lock().unwrap() == credential.expose_secret()))
///     }
/// }
/// ```
#[async_trait]
pub trait Consumer: Send + Sync {
    /// Names the consumer in errors, reports and the journal (`file /etc/app/.env (JIRA_TOKEN)`).
    /// Never includes a secret.
    fn name(&self) -> String;

    /// Installs `credential`. Idempotent: safe to call again after any failure.
    async fn install(&self, credential: CredentialView<'_>) -> Result<()>;

    /// Whether the consumer holds `credential` now, by observation: `Some(true)` or
    /// `Some(false)`, or `None` when it cannot be observed (a write-only store). A rotation
    /// skips installing into a consumer that already holds the credential (a resume touches
    /// only what is left), and counts a consumer verified when it holds it, or when it cannot
    /// be observed and its install succeeded.
    async fn holds(&self, credential: CredentialView<'_>) -> Result<Option<bool>>;

    /// Puts back what the consumer held before this process installed a credential, when it
    /// can; returns whether it did. The default restores nothing.
    async fn restore(&self) -> Result<bool> {
        Ok(false)
    }
}

/// A shared consumer is a consumer.
#[async_trait]
impl<T: Consumer + ?Sized> Consumer for std::sync::Arc<T> {
    fn name(&self) -> String {
        (**self).name()
    }

    async fn install(&self, credential: CredentialView<'_>) -> Result<()> {
        (**self).install(credential).await
    }

    async fn holds(&self, credential: CredentialView<'_>) -> Result<Option<bool>> {
        (**self).holds(credential).await
    }

    async fn restore(&self) -> Result<bool> {
        (**self).restore().await
    }
}
