//! Where a rotated API token comes from, and how the old one is retired.

use std::future::Future;
use std::time::Duration;

use async_trait::async_trait;

use super::Finished;
use crate::AdminClient;
use crate::error::{Error, Result};
use crate::jira::JiraClient;
use crate::secret::ApiToken;

/// Where the new token comes from. Atlassian has no API that mints user API tokens, so a person
/// or another system creates it and this hands it over.
///
/// Implemented for [`ApiToken`] (a token already at hand) and for async closures.
///
/// ```
/// use atlassian_rotation::rotate::TokenSource;
/// use atlassian_rotation::secret::ApiToken;
///
/// fn takes(_: impl TokenSource) {}
/// takes(ApiToken::new("ATATT-new"));
/// takes(|| async { Ok(ApiToken::new(std::env::var("NEW_TOKEN").unwrap_or_default())) });
/// ```
#[async_trait]
pub trait TokenSource: Send + Sync {
    /// The new token.
    async fn new_token(&self) -> Result<ApiToken>;
}

#[async_trait]
impl TokenSource for ApiToken {
    async fn new_token(&self) -> Result<ApiToken> {
        Ok(self.clone())
    }
}

#[async_trait]
impl<F, Fut> TokenSource for F
where
    F: Fn() -> Fut + Send + Sync,
    Fut: Future<Output = Result<ApiToken>> + Send,
{
    async fn new_token(&self) -> Result<ApiToken> {
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

pub(crate) struct Revocation {
    pub(crate) admin: AdminClient,
    pub(crate) account_id: String,
    pub(crate) token: OldToken,
}

impl Revocation {
    /// The id of the old token: the one token of the account that `token` names. Run before
    /// anything changes (the new token may carry the same label, and once the old one is
    /// revoked a label may match only the new one), and journaled by the update step.
    pub(crate) async fn resolve(&self) -> Result<String> {
        let tokens = self.admin.user_api_tokens(&self.account_id).await?;
        let candidates: Vec<_> = tokens
            .iter()
            .filter(|t| match &self.token {
                OldToken::Id(id) => &t.id == id,
                OldToken::Label(label) => t.label.as_deref() == Some(label.as_str()),
            })
            .collect();
        match candidates.as_slice() {
            [token] => Ok(token.id.clone()),
            [] => Err(Error::rotation(
                "revocation",
                format!(
                    "no token {:?} found for account {}: nothing could be revoked",
                    self.token, self.account_id
                ),
            )),
            many => Err(Error::rotation(
                "revocation",
                format!(
                    "{} tokens of account {} match {:?}; revoke by id instead",
                    many.len(),
                    self.account_id,
                    self.token
                ),
            )),
        }
    }

    /// The id the update step journals for finish: an id given as such is kept as is (the
    /// pre-flight checked it was listed; if it is gone by now, it was revoked meanwhile, and
    /// finish says so), a label is resolved (see [`Self::resolve`]).
    pub(crate) async fn id_to_journal(&self) -> Result<String> {
        match &self.token {
            OldToken::Id(id) => Ok(id.clone()),
            OldToken::Label(_) => self.resolve().await,
        }
    }

    /// Whether the account's token list, read now, shows token `id` gone. Only a list that
    /// still holds some token counts as evidence (the new token belongs to the same account
    /// and must be in it): an empty or missing list proves nothing.
    async fn gone_from_list(&self, id: &str) -> Result<bool> {
        let tokens = self.admin.user_api_tokens(&self.account_id).await?;
        Ok(!tokens.is_empty() && tokens.iter().all(|t| t.id != id))
    }

    /// Revokes the old token `id` (resolved before anything changed, see [`Self::resolve`])
    /// and concludes "revoked" only from evidence: the id is gone from the account's token
    /// list, or our own DELETE answered 2xx and the old token then gets 401 on `/myself`. A
    /// 403, a timeout or any other answer is not evidence: the step fails and a rerun tries
    /// again. Safe to run again: a token already gone from the list is not revoked twice. The
    /// new token must still authenticate afterwards. `old` and `new` authenticate with the old
    /// and the new token.
    pub(crate) async fn revoke(
        &self,
        id: &str,
        old: &JiraClient,
        new: &JiraClient,
    ) -> Result<Finished> {
        if self.gone_from_list(id).await? {
            return Ok(Finished::nothing().retired(format!(
                "token {id} was already revoked (gone from the account's token list)"
            )));
        }
        let deleted = match self.admin.revoke_user_api_token(&self.account_id, id).await {
            Ok(()) => true,
            // Gone already (revoked by someone else, or a lost answer): the list decides.
            Err(e) if e.is_not_found() => false,
            Err(e) => return Err(e),
        };
        let described = format!("revoked token {id}");
        // The new token must have survived: a label shared by both would show here.
        if let Err(e) = new.myself().await {
            return Err(Error::rotation(
                "finish",
                format!(
                    "{described}, and now the NEW token fails ({e}): the wrong token may have been revoked"
                ),
            ));
        }
        // Revocation can take a moment to reach every node: poll briefly for the evidence.
        let mut last = String::from("no answer yet");
        for attempt in 0..5u32 {
            match self.gone_from_list(id).await {
                Ok(true) => {
                    return Ok(Finished::nothing().retired(format!(
                        "{described}; it is gone from the account's token list"
                    )));
                }
                Ok(false) => last = "it is still in the account's token list".to_owned(),
                Err(e) => last = format!("the token list could not be read ({e})"),
            }
            if deleted {
                match old.myself().await {
                    Err(e) if e.status() == Some(401) => {
                        return Ok(Finished::nothing()
                            .retired(format!("{described}; the old token now gets 401")));
                    }
                    Err(e) => last = format!("{last}; the old token got {e}"),
                    Ok(_) => last = format!("{last}; the old token still authenticates"),
                }
            }
            tokio::time::sleep(Duration::from_millis(200u64 << attempt)).await;
        }
        Err(Error::rotation(
            "finish",
            format!(
                "{} token {id}, but revocation is not proven: {last}; run again to check",
                if deleted {
                    "sent the revocation of"
                } else {
                    "could not find"
                }
            ),
        ))
    }
}
