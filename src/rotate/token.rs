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
    /// Revokes the old token and confirms it: safe to run again (an old token that already
    /// gets 401 is not looked up, since a label may by now match only the new token), and the
    /// new token must still authenticate afterwards. `old` and `new` authenticate with the old
    /// and the new token.
    pub(crate) async fn revoke(&self, old: &JiraClient, new: &JiraClient) -> Result<Finished> {
        // Safe to run again: an old token that already gets 401 is not looked up (a label may
        // by now match only the new token).
        if let Err(e) = old.myself().await {
            if e.is_auth_failure() {
                return Ok(Finished::nothing().retired("the old token was already revoked"));
            }
            return Err(e);
        }
        let tokens = self.admin.user_api_tokens(&self.account_id).await?;
        let candidates: Vec<_> = tokens
            .iter()
            .filter(|t| match &self.token {
                OldToken::Id(id) => &t.id == id,
                OldToken::Label(label) => t.label.as_deref() == Some(label.as_str()),
            })
            .collect();
        let token = match candidates.as_slice() {
            [token] => token,
            [] => {
                return Err(Error::rotation(
                    "finish",
                    format!("no token {:?} found for the account", self.token),
                ));
            }
            many => {
                return Err(Error::rotation(
                    "finish",
                    format!(
                        "{} tokens match {:?}; revoke by id instead",
                        many.len(),
                        self.token
                    ),
                ));
            }
        };
        self.admin
            .revoke_user_api_token(&self.account_id, &token.id)
            .await?;
        let described = format!("revoked token {}", token.id);
        // The new token must have survived: a label shared by both would show here.
        if let Err(e) = new.myself().await {
            return Err(Error::rotation(
                "finish",
                format!(
                    "{described}, and now the NEW token fails ({e}): the wrong token may have been revoked"
                ),
            ));
        }
        // Revocation can take a moment to reach every node: poll briefly for the 401.
        for attempt in 0..5u32 {
            match old.myself().await {
                Err(e) if e.is_auth_failure() => {
                    return Ok(Finished::nothing()
                        .retired(format!("{described}; the old token now gets 401")));
                }
                Err(e) if !e.is_retryable() => return Err(e),
                _ => tokio::time::sleep(Duration::from_millis(200 << attempt)).await,
            }
        }
        Err(Error::rotation(
            "finish",
            format!("{described}, but the old token still authenticates"),
        ))
    }
}
