//! Jira and Confluence Automation: find and replace the credentials inside rules.
//!
//! [`scan`] finds where an API token is used (or lists every credential-bearing header), and
//! [`rewrite`] replaces an old token with a new one, changing nothing else.
//!
//! ```
//! use atlassian_rotation::automation::{Scanner, rewrite_rule};
//! use atlassian_rotation::secret::ApiToken;
//!
//! let (old, new) = (ApiToken::new("old-token-1"), ApiToken::new("new-token-2"));
//! let mut rule = serde_json::json!({"components": [{"value": {"headers": [
//!     {"name": "X-Api-Key", "value": "old-token-1", "headerSecure": false}
//! ]}}]});
//! assert_eq!(Scanner::for_token(&old).scan_rule(&rule).len(), 1);
//! rewrite_rule(&mut rule, &old, &new)?;
//! assert!(Scanner::for_token(&old).scan_rule(&rule).is_empty());
//! # Ok::<(), atlassian_rotation::Error>(())
//! ```

pub mod rewrite;
pub mod scan;

pub use rewrite::{Rewrite, plan_rule, rewrite_rule};
pub use scan::{CredentialForm, Finding, FindingStatus, Scanner};
