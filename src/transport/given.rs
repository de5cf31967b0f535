//! A URL as a caller gave it to a builder, before `build()` checked it: shown in `Debug`
//! without the parts that may carry a credential.

use std::fmt;

use url::Url;

use crate::secret::REDACTED;

/// A URL as given (a URL or a bare host), unchecked. `Debug` shows it without userinfo, query
/// or fragment (each replaced by `[redacted]`), and text that does not parse as a URL not at
/// all: `build()` refuses such URLs, but a builder holding one may be logged first.
#[derive(Clone)]
pub(crate) struct GivenUrl(pub(crate) String);

impl GivenUrl {
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<String> for GivenUrl {
    fn from(url: String) -> Self {
        Self(url)
    }
}

impl From<&str> for GivenUrl {
    fn from(url: &str) -> Self {
        Self(url.to_owned())
    }
}

impl fmt::Debug for GivenUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let raw = self.0.trim();
        let parsed = if raw.contains("://") {
            Url::parse(raw)
        } else {
            Url::parse(&format!("https://{raw}"))
        };
        let Ok(url) = parsed else {
            return f.write_str("[not a URL]");
        };
        let mut shown = format!("{}://", url.scheme());
        if !url.username().is_empty() || url.password().is_some() {
            shown.push_str(REDACTED);
            shown.push('@');
        }
        shown.push_str(url.host_str().unwrap_or_default());
        if let Some(port) = url.port() {
            shown.push_str(&format!(":{port}"));
        }
        shown.push_str(url.path());
        if url.query().is_some() {
            shown.push('?');
            shown.push_str(REDACTED);
        }
        if url.fragment().is_some() {
            shown.push('#');
            shown.push_str(REDACTED);
        }
        fmt::Debug::fmt(&shown, f)
    }
}
