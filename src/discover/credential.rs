//! The credential value a finding points at: for the radar, which asks who it belongs to.
//! Crate-internal, and never printed: it holds a secret.

use std::fmt;

use serde_json::Value;

use crate::automation::scan::forms;
use crate::automation::{CredentialForm, Finding, FindingStatus};
use crate::secret::ApiToken;

/// A credential read from a rule: its secret and, when the rule says, its account.
#[derive(Clone)]
pub(crate) struct FoundCredential {
    /// The secret (an API token, or whatever the rule sends).
    pub(crate) secret: ApiToken,
    /// The account the rule names with it (`Basic` email, URL userinfo user).
    pub(crate) account: Option<String>,
}

impl fmt::Debug for FoundCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FoundCredential")
            .field("fingerprint", &self.secret.fingerprint())
            .field("account", &self.account)
            .finish()
    }
}

/// The credential an inventory finding (of `document`, a `GET rule` document) points at:
/// the token of a `Basic` value (with its email), of a `Bearer` value, a bare header value, or
/// the secret of a URL (with the userinfo user). `None` for anything else: unreadable values,
/// other forms, a pointer that leads nowhere.
pub(crate) fn credential_at(document: &Value, finding: &Finding) -> Option<FoundCredential> {
    if finding.status != FindingStatus::Credential {
        return None;
    }
    let root = if finding.pointer.starts_with("/connections/") {
        document
    } else {
        &document["rule"]
    };
    let value = root.pointer(&finding.pointer)?.as_str()?;
    let (secret, account) = match finding.form {
        CredentialForm::Basic => {
            let range = forms::basic_credentials(value)?;
            let (email, token) = forms::decode_credentials(&value[range])?;
            (ApiToken::new(token.as_str()), Some(email))
        }
        CredentialForm::Bearer => {
            let (_, start) = forms::after_scheme(value, "bearer")?;
            let token = value[start..].split_whitespace().next()?;
            (ApiToken::new(token), None)
        }
        CredentialForm::BareHeader => (ApiToken::new(value.trim()), None),
        CredentialForm::Url => {
            let found = forms::url_credential(value)?;
            let secret = forms::unescaped(&value[found.secret]);
            (ApiToken::new(secret.as_str()), found.user)
        }
        _ => return None,
    };
    if secret.expose_secret().is_empty() {
        return None;
    }
    Some(FoundCredential { secret, account })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::automation::Scanner;

    const TOKEN: &str = "ATATT3xFfGF0-credential-test=ABC";

    #[test]
    fn every_inventory_form_gives_its_secret_and_the_account_the_rule_names() {
        let basic = crate::secret::basic_encode("ops@example.com", TOKEN);
        let document = serde_json::json!({"rule": {"uuid": "r", "components": [{"value": {
            "url": format!("https://svc%40example.com:{}@hooks.example.com/x", TOKEN.replace('=', "%3D")),
            "headers": [
                {"name": "Authorization", "value": format!("Basic {basic}")},
                {"name": "authorization", "value": format!("bearer  {TOKEN} ")},
                {"name": "X-Api-Key", "value": format!(" {TOKEN}")},
                {"name": "Authorization", "value": "***", "headerSecure": true}
            ]
        }}]}});
        let findings = Scanner::inventory().scan_document(&document);
        let found: Vec<_> = findings
            .iter()
            .map(|f| credential_at(&document, f).map(|c| (c.secret, c.account)))
            .collect();
        let token = ApiToken::new(TOKEN);
        assert_eq!(
            found,
            [
                Some((token.clone(), Some("svc@example.com".to_owned()))),
                Some((token.clone(), Some("ops@example.com".to_owned()))),
                Some((token.clone(), None)),
                Some((token, None)),
                None,
            ]
        );
        let shown = format!("{:?}", credential_at(&document, &findings[1]));
        assert!(
            !shown.contains(TOKEN) && shown.contains("ops@example.com"),
            "{shown}"
        );
    }

    #[test]
    fn connections_are_read_from_the_document_root() {
        let document = serde_json::json!({
            "rule": {"uuid": "r", "components": []},
            "connections": [{"headers": [{"name": "Authorization", "value": format!("Bearer {TOKEN}")}]}]
        });
        let findings = Scanner::inventory().scan_document(&document);
        assert_eq!(findings[0].pointer, "/connections/0/headers/0/value");
        let found = credential_at(&document, &findings[0]).unwrap();
        assert_eq!(found.secret, ApiToken::new(TOKEN));
    }
}
