//! Listing the radar's three kinds of credential, each on its own: a kind whose listing fails
//! is reported as not covered, and the others still come back.

use std::collections::HashSet;
use std::time::Duration;

use futures::{StreamExt as _, TryStreamExt as _};
use time::OffsetDateTime;

use super::report::{Coverage, CredentialKind, ExpiringCredential, Owner, WhereUsed};
use crate::AdminClient;
use crate::admin::{
    AdminApiKeyInfo, AdminKeyQuery, KeyActor, OrgApiToken, OrgTokenQuery, ServiceAccount,
    ServiceAccountToken, Timestamp,
};
use crate::error::{Error, Result};

/// What to list, and how.
pub(super) struct Listing<'a> {
    pub(super) admin: &'a AdminClient,
    pub(super) org_id: &'a str,
    pub(super) user_query: &'a OrgTokenQuery,
    pub(super) key_query: &'a AdminKeyQuery,
    pub(super) window: Duration,
    pub(super) now: OffsetDateTime,
    /// Service accounts whose tokens are listed at once.
    pub(super) concurrency: usize,
}

/// The credentials in the window, and what each kind's listing covered.
pub(super) struct Listed {
    pub(super) expiring: Vec<ExpiringCredential>,
    pub(super) coverage: Vec<Coverage>,
}

impl Listing<'_> {
    /// Lists every kind of `kinds` (in that order). Fails only when input is invalid (nothing
    /// is sent then) or when every kind failed, with the first kind's error: a report on
    /// nothing would read as "nothing expires".
    pub(super) async fn list(&self, kinds: &[CredentialKind]) -> Result<Listed> {
        if kinds.is_empty() {
            return Err(Error::invalid_input(
                "radar kinds",
                "no credential kind to list",
            ));
        }
        let mut listed = Listed {
            expiring: Vec::new(),
            coverage: Vec::new(),
        };
        let mut first_error = None;
        for &kind in kinds {
            let (found, problem) = match kind {
                CredentialKind::UserApiToken => whole(self.user_tokens().await),
                CredentialKind::AdminApiKey => whole(self.admin_keys().await),
                CredentialKind::ServiceAccountToken => self.service_account_tokens().await,
            };
            listed.expiring.extend(found.items);
            listed.coverage.push(match problem {
                None => match found.relisted {
                    None => Coverage::Covered { kind },
                    Some(id) => {
                        let coverage = Coverage::NotCovered {
                            kind,
                            reason: format!(
                                "the listing named {id} more than once: it may have left \
                                 another out in its place"
                            ),
                            status: None,
                        };
                        tracing::warn!(%coverage, "expiry radar: a kind of credential is not covered");
                        coverage
                    }
                },
                Some(error) => {
                    if matches!(error, Error::InvalidInput { .. }) {
                        return Err(error);
                    }
                    let coverage = not_covered(kind, &error);
                    tracing::warn!(%coverage, "expiry radar: a kind of credential is not covered");
                    first_error.get_or_insert(error);
                    coverage
                }
            });
        }
        if let Some(error) = first_error {
            if listed.coverage.iter().all(|c| !c.is_covered()) {
                return Err(error);
            }
        }
        // A token listed both as a user's and as a service account's is the service account's.
        let service_ids: Vec<String> = listed
            .expiring
            .iter()
            .filter(|c| c.kind == CredentialKind::ServiceAccountToken)
            .map(|c| c.id.clone())
            .collect();
        listed
            .expiring
            .retain(|c| c.kind != CredentialKind::UserApiToken || !service_ids.contains(&c.id));
        Ok(listed)
    }

    /// Whether a credential expiring at `expiry` is listed: it expired or expires within the
    /// window, or its expiry is given but cannot be read (it may be in the window: listed with
    /// the text as sent, sorted last, rather than left out of a report that would then read
    /// "nothing expires"). A credential without an expiry never expires.
    fn due(&self, expiry: Option<&Timestamp>) -> bool {
        expiry
            .filter(|at| !at.as_str().trim().is_empty())
            .is_some_and(|at| at.is_within(self.window, self.now).unwrap_or(true))
    }

    async fn user_tokens(&self) -> Result<Found> {
        let tokens = self
            .admin
            .org_api_tokens(self.org_id, self.user_query.clone())
            .try_collect()
            .await?;
        let (tokens, relisted) = once_each(tokens, |t: &OrgApiToken| &t.id);
        let items = tokens
            .into_iter()
            .filter(|t| self.due(t.expires_at.as_ref()))
            .map(ExpiringCredential::from)
            .collect();
        Ok(Found { items, relisted })
    }

    async fn admin_keys(&self) -> Result<Found> {
        let keys = self
            .admin
            .admin_api_keys(self.org_id, self.key_query.clone())
            .try_collect()
            .await?;
        let (keys, relisted) = once_each(keys, |k: &AdminApiKeyInfo| &k.id);
        let items = keys
            .into_iter()
            .filter(|k| !k.is_revoked() && self.due(k.expires_at.as_ref()))
            .map(ExpiringCredential::from)
            .collect();
        Ok(Found { items, relisted })
    }

    /// Every service account's tokens in the window. An account whose tokens cannot be listed
    /// leaves the kind not covered, with the others' tokens still listed.
    async fn service_account_tokens(&self) -> (Found, Option<Error>) {
        let accounts: Vec<ServiceAccount> =
            match self.admin.service_accounts(self.org_id).try_collect().await {
                Ok(accounts) => accounts,
                Err(error) => return (Found::default(), Some(error)),
            };
        let (accounts, relisted) = once_each(accounts, |a: &ServiceAccount| &a.id);
        let mut found = Found {
            items: Vec::new(),
            relisted,
        };
        let mut per_account = futures::stream::iter(accounts)
            .map(|account| async move {
                let tokens: Result<Vec<ServiceAccountToken>> = self
                    .admin
                    .service_account_tokens(self.org_id, &account.id, None)
                    .try_collect()
                    .await;
                (account, tokens)
            })
            .buffered(self.concurrency.max(1));
        let mut problem = None;
        while let Some((account, tokens)) = per_account.next().await {
            match tokens {
                Ok(tokens) => {
                    let (tokens, relisted) = once_each(tokens, |t: &ServiceAccountToken| &t.id);
                    if let Some(id) = relisted {
                        found.relisted.get_or_insert(id);
                    }
                    found.items.extend(
                        tokens
                            .into_iter()
                            .filter(|t| self.due(t.expires_at.as_ref()))
                            .map(|token| service_account_token(&account, token)),
                    );
                }
                Err(error) => {
                    tracing::warn!(service_account = %account.id, %error, "expiry radar: tokens not listed");
                    problem.get_or_insert(error);
                }
            }
        }
        (found, problem)
    }
}

/// What one kind's listing found.
#[derive(Default)]
struct Found {
    /// Its credentials in the window, each once.
    items: Vec<ExpiringCredential>,
    /// The first id the listing named more than once.
    relisted: Option<String>,
}

/// The items of a listing, each once by `id`, in their order, and the first id listed more
/// than once. A listing that repeats an item (a page served again under a new cursor, offsets
/// shifted by a change meanwhile) may have left another out in its place, as a rule listing
/// may ([`ScanSummary::relisted`](super::ScanSummary::relisted)): the kind is then not covered.
fn once_each<T>(items: Vec<T>, id: impl Fn(&T) -> &String) -> (Vec<T>, Option<String>) {
    let mut seen = HashSet::new();
    let mut relisted = None;
    let once = items
        .into_iter()
        .filter(|item| {
            let new = seen.insert(id(item).clone());
            if !new {
                relisted.get_or_insert_with(|| id(item).clone());
            }
            new
        })
        .collect();
    (once, relisted)
}

/// A kind listed in one call: all of it, or none.
fn whole(result: Result<Found>) -> (Found, Option<Error>) {
    match result {
        Ok(found) => (found, None),
        Err(error) => (Found::default(), Some(error)),
    }
}

fn not_covered(kind: CredentialKind, error: &Error) -> Coverage {
    Coverage::NotCovered {
        kind,
        reason: error.to_string().replace(['\n', '\r'], " "),
        status: error.status(),
    }
}

impl From<OrgApiToken> for ExpiringCredential {
    fn from(token: OrgApiToken) -> Self {
        Self {
            kind: CredentialKind::UserApiToken,
            id: token.id,
            label: token.label,
            status: token.status.map(|s| s.as_str().to_owned()),
            expires_at: token.expires_at,
            owner: token.user.map(|user| Owner {
                account_id: user.id,
                email: user.email,
                name: user.name,
            }),
            uses: Vec::new(),
            where_used: WhereUsed::AutomationRules,
            service_account_id: None,
            created_by: None,
        }
    }
}

impl From<AdminApiKeyInfo> for ExpiringCredential {
    fn from(key: AdminApiKeyInfo) -> Self {
        Self {
            kind: CredentialKind::AdminApiKey,
            id: key.id,
            label: key.label,
            status: None,
            expires_at: key.expires_at,
            owner: None,
            uses: Vec::new(),
            where_used: WhereUsed::NotTracked,
            service_account_id: None,
            created_by: key.created_by.map(|actor: KeyActor| Owner {
                account_id: actor.id,
                email: actor.email,
                name: actor.name,
            }),
        }
    }
}

/// A service account's token, owned by the service account's Atlassian account.
fn service_account_token(
    account: &ServiceAccount,
    token: ServiceAccountToken,
) -> ExpiringCredential {
    ExpiringCredential {
        kind: CredentialKind::ServiceAccountToken,
        id: token.id,
        label: token.label,
        status: None,
        expires_at: token.expires_at,
        owner: Some(Owner {
            account_id: account.atlassian_id.clone(),
            email: account.email.clone(),
            name: account.display_name.clone(),
        }),
        uses: Vec::new(),
        where_used: WhereUsed::AutomationRules,
        service_account_id: Some(account.id.clone()),
        created_by: None,
    }
}
