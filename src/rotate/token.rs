//! Where a rotated API token comes from, and how the old one is retired.

use std::future::Future;

use async_trait::async_trait;
use futures::TryStreamExt as _;

use super::Finished;
use super::evidence::{Listed, Subject, prove_revoked};
use crate::AdminClient;
use crate::admin::{OrgTokenQuery, Timestamp};
use crate::error::{Error, Result};
use crate::jira::JiraClient;
use crate::secret::{AdminApiKey, ApiToken};

/// Where the new credential comes from, for a rotation that is handed its new credential
/// rather than minting it. Atlassian has no API that mints user API tokens or Admin API keys, so
/// a person or another system creates it and this hands it over.
///
/// `C` is the credential: [`ApiToken`] (the default) for
/// [`AutomationTokenRotator`](super::AutomationTokenRotator), [`AdminApiKey`] for
/// [`AdminKeyRotator`](super::AdminKeyRotator). Implemented for a credential already at hand
/// and for async closures returning one.
///
/// ```
/// use atlassian_rotation::rotate::TokenSource;
/// use atlassian_rotation::secret::{AdminApiKey, ApiToken};
///
/// fn takes(_: impl TokenSource) {}
/// takes(ApiToken::new("ATATT-new"));
/// takes(|| async { Ok(ApiToken::new(std::env::var("NEW_TOKEN").unwrap_or_default())) });
///
/// fn takes_a_key(_: impl TokenSource<AdminApiKey>) {}
/// takes_a_key(AdminApiKey::new("ATCTT-new"));
/// takes_a_key(|| async { Ok(AdminApiKey::new(std::env::var("NEW_ADMIN_KEY").unwrap_or_default())) });
/// ```
#[async_trait]
pub trait TokenSource<C = ApiToken>: Send + Sync {
    /// The new credential.
    async fn new_token(&self) -> Result<C>;
}

#[async_trait]
impl TokenSource for ApiToken {
    async fn new_token(&self) -> Result<ApiToken> {
        Ok(self.clone())
    }
}

#[async_trait]
impl TokenSource<AdminApiKey> for AdminApiKey {
    async fn new_token(&self) -> Result<AdminApiKey> {
        Ok(self.clone())
    }
}

#[async_trait]
impl<C, F, Fut> TokenSource<C> for F
where
    F: Fn() -> Fut + Send + Sync,
    Fut: Future<Output = Result<C>> + Send,
{
    async fn new_token(&self) -> Result<C> {
        self().await
    }
}

/// Which of the account's tokens is the old one, for revocation.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum OldToken {
    /// The token's id (as the user-management API lists it).
    Id(String),
    /// The token's label; exactly one token must carry it.
    Label(String),
}

#[derive(Clone)]
pub(crate) struct Revocation {
    pub(crate) admin: AdminClient,
    pub(crate) account_id: String,
    pub(crate) token: OldToken,
}

impl Revocation {
    /// Every API token of the account, read now.
    async fn tokens(&self) -> Result<Vec<crate::admin::UserApiToken>> {
        self.admin
            .user_api_tokens(&self.account_id)
            .try_collect()
            .await
    }

    /// The id of the old token: the one token of the account that `token` names. Run before
    /// anything changes (the new token may carry the same label, and once the old one is
    /// revoked a label may match only the new one). Refuses a token that is the newest of
    /// several: the old token predates the new one, so the newest is most likely the new token
    /// (an id or label copied from the wrong line would revoke it).
    pub(crate) async fn resolve(&self) -> Result<String> {
        let tokens = self.tokens().await?;
        let candidates: Vec<_> = tokens
            .iter()
            .filter(|t| match &self.token {
                OldToken::Id(id) => &t.id == id,
                OldToken::Label(label) => t.label.as_deref() == Some(label.as_str()),
            })
            .collect();
        let token = match candidates.as_slice() {
            [token] => *token,
            [] => {
                return Err(Error::rotation(
                    "revocation",
                    format!(
                        "no token {:?} found for account {}: nothing could be revoked",
                        self.token, self.account_id
                    ),
                ));
            }
            many => {
                return Err(Error::rotation(
                    "revocation",
                    format!(
                        "{} tokens of account {} match {:?}; revoke by id instead",
                        many.len(),
                        self.account_id,
                        self.token
                    ),
                ));
            }
        };
        let created =
            |t: &crate::admin::UserApiToken| t.created_at.as_ref().and_then(|c| c.parse());
        if let Some(at) = created(token) {
            let others: Vec<_> = tokens.iter().filter(|t| t.id != token.id).collect();
            let newest = !others.is_empty()
                && others
                    .iter()
                    .all(|t| created(t).is_some_and(|other| other < at));
            if newest {
                return Err(Error::rotation(
                    "revocation",
                    format!(
                        "token {:?} ({}) is the newest token of account {}: it is most likely the \
                         new token; name the old token's id",
                        self.token, token.id, self.account_id
                    ),
                ));
            }
        }
        Ok(token.id.clone())
    }

    /// The id the update step journals for finish: an id given as such is kept as is (the
    /// pre-flight checked it; if it is gone by now, it was revoked meanwhile, and finish finds
    /// out), a label is resolved (see [`Self::resolve`]).
    pub(crate) async fn id_to_journal(&self) -> Result<String> {
        match &self.token {
            OldToken::Id(id) => Ok(id.clone()),
            OldToken::Label(_) => self.resolve().await,
        }
    }

    /// When the org's token list says token `id` was last used (`None` inside: never), or
    /// `None` when the list does not hold it.
    pub(crate) async fn last_active(
        &self,
        org_id: &str,
        id: &str,
    ) -> Result<Option<Option<Timestamp>>> {
        let mut tokens = self.admin.org_api_tokens(org_id, OrgTokenQuery::new());
        while let Some(token) = tokens.try_next().await? {
            if token.id == id {
                return Ok(Some(token.last_active_at));
            }
        }
        Ok(None)
    }

    /// What the account's token list, read now, says about token `id`: gone only from a list
    /// that holds other tokens (the new token belongs to the same account and must be in it,
    /// so an empty list proves nothing).
    pub(crate) async fn listed(&self, id: &str) -> Listed {
        match self.tokens().await {
            Ok(tokens) if tokens.iter().any(|t| t.id == id) => Listed::Live,
            Ok(tokens) if tokens.is_empty() => {
                Listed::Unknown("the account's token list came back empty".to_owned())
            }
            Ok(_) => Listed::Gone,
            Err(e) => Listed::Unknown(format!("the token list could not be read ({e})")),
        }
    }

    /// Before revoking: authenticates once with the new token between two readings of the
    /// account's token list. If token `id`'s last access moved in between, it is the new token
    /// (an id or label copied from the wrong line), or the old token is still in use somewhere:
    /// either way it is not revoked. (Nothing in the rotation uses the old token after update;
    /// a list whose last-access times do not move proves nothing, and the check passes.)
    async fn refuse_if_used_with_the_new_token(&self, id: &str, new: &JiraClient) -> Result<()> {
        let last_access = |tokens: &[crate::admin::UserApiToken]| {
            tokens
                .iter()
                .find(|t| t.id == id)
                .map(|t| t.last_access.as_ref().map(|a| a.as_str().to_owned()))
        };
        let before = last_access(&self.tokens().await?);
        let Some(before) = before else {
            return Ok(()); // Gone already: the DELETE and the evidence decide.
        };
        new.myself().await?;
        let after = last_access(&self.tokens().await?);
        match after {
            Some(after) if after.is_some() && after != before => Err(Error::rotation(
                "finish",
                format!(
                    "not revoking token {id}: it authenticated just when this rotation used the \
                     new token, so it is the new token (check the old token's id or label), or \
                     the old token is still in use somewhere; nothing was revoked"
                ),
            )),
            _ => Ok(()),
        }
    }

    /// Revokes the old token `id` (resolved before anything changed, see [`Self::resolve`])
    /// and concludes "revoked" only from evidence. The DELETE is always sent (a token already
    /// gone answers 404): a list read alone may be stale. Then the evidence rules of
    /// [`prove_revoked`] decide, with `/myself` as the old token's check and the account's
    /// (non-empty) token list as its list. The new token must still authenticate after the
    /// DELETE. `old` and `new` authenticate with the old and the new token.
    pub(crate) async fn revoke(
        &self,
        id: &str,
        old: &JiraClient,
        new: &JiraClient,
    ) -> Result<Finished> {
        self.refuse_if_used_with_the_new_token(id, new).await?;
        let deleted = match self.admin.revoke_user_api_token(&self.account_id, id).await {
            Ok(()) => true,
            // Gone already (revoked meanwhile, or a lost answer): the evidence decides.
            Err(e) if e.is_not_found() => false,
            Err(e) => return Err(e),
        };
        let described = if deleted {
            format!("revoked token {id}")
        } else {
            format!("token {id} was already revoked")
        };
        // The new token must have survived: a wrong id would show here.
        if let Err(e) = new.myself().await {
            return Err(Error::rotation(
                "finish",
                format!(
                    "{described}, and now the NEW token fails ({e}): the wrong token may have been revoked"
                ),
            ));
        }
        let subject = Subject {
            credential: "token",
            list: "the account's token list",
        };
        let listed = || self.listed(id);
        let old = || async { old.myself().await.err() };
        prove_revoked(subject, &described, deleted, listed, old).await
    }
}
