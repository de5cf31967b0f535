//! `FnConsumer`: the caller's own code as a consumer.

use std::sync::Arc;

use async_trait::async_trait;
use futures::future::BoxFuture;

use super::{Consumer, CredentialView};
use crate::error::Result;

type Install = Arc<dyn Fn(String) -> BoxFuture<'static, Result<()>> + Send + Sync>;
type Holds = Arc<dyn Fn(String) -> BoxFuture<'static, Result<bool>> + Send + Sync>;

/// The caller's own code as a consumer: a closure that installs the credential (refresh a
/// connection pool, push to a config service), and optionally one that observes it.
///
/// The closures receive the clear value as a `String`: keep it in a secret type
/// ([`ApiToken::new`](crate::secret::ApiToken::new) and friends) and never log it.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use atlassian_rotation::consumer::{Consumer, CredentialView, FnConsumer};
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let current = Arc::new(Mutex::new(String::new()));
/// let (set, get) = (Arc::clone(&current), Arc::clone(&current));
/// let consumer = FnConsumer::new("connection pool", move |token| {
///     let set = Arc::clone(&set);
///     async move {
///         *set.lock().unwrap() = token;
///         Ok(())
///     }
/// })
/// .holds_with(move |token| {
///     let get = Arc::clone(&get);
///     async move { Ok(*get.lock().unwrap() == token) }
/// });
/// consumer.install(CredentialView::new("ATATT-new")).await.unwrap();
/// assert_eq!(consumer.holds(CredentialView::new("ATATT-new")).await.unwrap(), Some(true));
/// # });
/// ```
#[derive(Clone)]
pub struct FnConsumer {
    name: String,
    install: Install,
    holds: Option<Holds>,
}

impl std::fmt::Debug for FnConsumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FnConsumer")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl FnConsumer {
    /// A consumer named `name` that installs with `install` (idempotent, like every consumer).
    pub fn new<F, Fut>(name: impl Into<String>, install: F) -> Self
    where
        F: Fn(String) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<()>> + Send + 'static,
    {
        Self {
            name: name.into(),
            install: Arc::new(move |value| Box::pin(install(value))),
            holds: None,
        }
    }

    /// Observes whether the consumer holds a credential (without it, it cannot be observed).
    pub fn holds_with<F, Fut>(mut self, holds: F) -> Self
    where
        F: Fn(String) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<bool>> + Send + 'static,
    {
        self.holds = Some(Arc::new(move |value| Box::pin(holds(value))));
        self
    }
}

#[async_trait]
impl Consumer for FnConsumer {
    fn name(&self) -> String {
        self.name.clone()
    }

    async fn install(&self, credential: CredentialView<'_>) -> Result<()> {
        (self.install)(credential.expose_secret().to_owned()).await
    }

    async fn holds(&self, credential: CredentialView<'_>) -> Result<Option<bool>> {
        match &self.holds {
            Some(holds) => holds(credential.expose_secret().to_owned()).await.map(Some),
            None => Ok(None),
        }
    }
}
