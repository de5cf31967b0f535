//! The consumers of one rotator, run together.

use std::sync::Arc;

use super::{Consumer, CredentialView};
use crate::error::{Error, Result};
use crate::rotate::Updated;

/// The fact under which a rotator's update step journals each consumer that holds the new
/// credential (installed, or found holding it).
pub(crate) const INSTALLED: &str = "consumer";

/// The consumers a rotator installs into, in the order given.
#[derive(Clone, Default)]
pub(crate) struct Consumers(Vec<Arc<dyn Consumer>>);

impl std::fmt::Debug for Consumers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|c| c.name()))
            .finish()
    }
}

impl Consumers {
    pub(crate) fn push(&mut self, consumer: impl Consumer + 'static) {
        self.0.push(Arc::new(consumer));
    }

    /// Installs `credential` into every consumer that does not visibly hold it already (so a
    /// resume touches only what is left). Every consumer is tried even after one failed;
    /// returns the names of those installed or found holding it, or the failures, each
    /// naming its consumer.
    pub(crate) async fn install(&self, credential: CredentialView<'_>) -> Result<Vec<String>> {
        let mut done = Vec::new();
        let mut failed = Vec::new();
        for consumer in &self.0 {
            let outcome = async {
                if consumer.holds(credential).await? == Some(true) {
                    return Ok(());
                }
                consumer.install(credential).await
            }
            .await;
            match outcome {
                Ok(()) => done.push(consumer.name()),
                Err(e) => failed.push(named(consumer.as_ref(), "install", e, Some(credential))),
            }
        }
        combine(failed, "install").map(|()| done)
    }

    /// Observes every consumer: one that holds `credential` passes, one that cannot be observed
    /// passes on its install journaled in `updated` (under [`INSTALLED`]), one that holds
    /// something else fails. A consumer that cannot be observed and that the update step did
    /// not install (one added to the rotator since, in a resumed run) fails: the next run
    /// updates again and installs it. Returns a check per consumer, in words.
    pub(crate) async fn verify(
        &self,
        credential: CredentialView<'_>,
        updated: &Updated,
    ) -> Result<Vec<String>> {
        let mut checks = Vec::new();
        let mut failed = Vec::new();
        for consumer in &self.0 {
            let name = consumer.name();
            match consumer.holds(credential).await {
                Ok(Some(true)) => checks.push(format!("{name} holds the new credential")),
                Ok(None) if installed(updated, &name) => {
                    checks.push(format!("{name} cannot be observed; its install succeeded"))
                }
                Ok(None) => failed.push(Error::consumer(
                    name,
                    "verify",
                    "cannot be observed, and this rotation's update did not install it (was it \
                     added since?); run the rotation again to install it",
                )),
                Ok(Some(false)) => failed.push(Error::consumer(
                    name,
                    "verify",
                    "does not hold the new credential",
                )),
                Err(e) => failed.push(named(consumer.as_ref(), "verify", e, Some(credential))),
            }
        }
        combine(failed, "verify").map(|()| checks)
    }

    /// Restores every consumer that can; returns the names of those restored.
    pub(crate) async fn restore(&self) -> Result<Vec<String>> {
        let mut restored = Vec::new();
        let mut failed = Vec::new();
        for consumer in &self.0 {
            match consumer.restore().await {
                Ok(true) => restored.push(consumer.name()),
                Ok(false) => {}
                Err(e) => failed.push(named(consumer.as_ref(), "restore", e, None)),
            }
        }
        combine(failed, "restore").map(|()| restored)
    }
}

/// Whether the update step journaled in `updated` installed the consumer named `name`.
fn installed(updated: &Updated, name: &str) -> bool {
    updated
        .facts
        .iter()
        .any(|(key, value)| key == INSTALLED && value == name)
}

/// `e`, as an error that names `consumer` (a consumer's own `Error::Consumer` already does),
/// with `credential` (when given) redacted: a consumer's error goes to the rotation's error and
/// the journal's `last_error`, and a caller's consumer may echo the value it was handed.
fn named(
    consumer: &dyn Consumer,
    action: &'static str,
    e: Error,
    credential: Option<CredentialView<'_>>,
) -> Error {
    let secret = credential.map(|c| c.expose_secret()).unwrap_or_default();
    let redact = |text: &str| {
        if secret.is_empty() {
            text.to_owned()
        } else {
            text.replace(secret, crate::secret::REDACTED)
        }
    };
    match e {
        Error::Consumer { .. } if secret.is_empty() || !format!("{e:?}").contains(secret) => e,
        Error::Consumer {
            consumer,
            action,
            reason,
        } => Error::consumer(redact(&consumer), action, redact(&reason)),
        other => Error::consumer(consumer.name(), action, redact(&other.to_string())),
    }
}

/// One failure as itself; several as one error naming each.
fn combine(mut failed: Vec<Error>, action: &'static str) -> Result<()> {
    match failed.len() {
        0 => Ok(()),
        1 => Err(failed.remove(0)),
        n => Err(Error::consumer(
            format!("{n} consumers"),
            action,
            failed
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; "),
        )),
    }
}
