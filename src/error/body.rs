//! What an error response's body says: the Automation API's `{"errors": [...]}`, the keyed
//! `{key, message}` shapes, or capped text.

use serde::Deserialize;

/// One entry of the Automation API's error body `{"errors": [...]}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[non_exhaustive]
pub struct AutomationErrorItem {
    /// Error id, when given.
    #[serde(default)]
    pub id: Option<String>,
    /// HTTP status as a string, when given (the API's spec sends a number, some responses a
    /// string; both are kept as text).
    #[serde(default, deserialize_with = "string_or_number")]
    pub status: Option<String>,
    /// Machine-readable code.
    #[serde(default)]
    pub code: Option<String>,
    /// Human-readable title.
    #[serde(default)]
    pub title: Option<String>,
    /// Human-readable detail.
    #[serde(default)]
    pub detail: Option<String>,
    /// The request field the error is about.
    #[serde(default)]
    pub field: Option<String>,
}

fn string_or_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Option::<serde_json::Value>::deserialize(d)? {
        Some(serde_json::Value::String(s)) => Some(s),
        Some(serde_json::Value::Number(n)) => Some(n.to_string()),
        _ => None,
    })
}

/// The body of an error response, parsed when it has a known Atlassian shape.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorBody {
    /// No body.
    Empty,
    /// The Automation API's `{"errors": [...]}`.
    Automation(Vec<AutomationErrorItem>),
    /// The user-management API's `{"key": ..., "context": ...}` and similar `{code, message}`
    /// bodies: the key or code, and the message when there is one.
    Keyed {
        /// `key` or `code`.
        key: String,
        /// `message`, `context` or `errorMessage`, when present.
        message: Option<String>,
    },
    /// Anything else: the text, cut to [`ErrorBody::TEXT_CAP`] bytes.
    Text(String),
}

impl ErrorBody {
    /// How much of an unrecognised error body is kept.
    pub const TEXT_CAP: usize = 4096;

    /// Parses an error body.
    ///
    /// ```
    /// use atlassian_rotation::error::ErrorBody;
    ///
    /// let body = ErrorBody::parse(br#"{"errors":[{"code":"BAD","title":"Bad rule"}]}"#);
    /// assert!(matches!(body, ErrorBody::Automation(ref items) if items[0].title.as_deref() == Some("Bad rule")));
    /// assert_eq!(ErrorBody::parse(b""), ErrorBody::Empty);
    /// ```
    pub fn parse(bytes: &[u8]) -> Self {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Self::Empty;
        }
        #[derive(Deserialize)]
        struct Errors {
            errors: Vec<AutomationErrorItem>,
        }
        #[derive(Deserialize)]
        struct Keyed {
            #[serde(alias = "code")]
            key: serde_json::Value,
            #[serde(default, alias = "context", alias = "errorMessage")]
            message: Option<serde_json::Value>,
        }
        if let Ok(Errors { errors }) = serde_json::from_slice(bytes) {
            return Self::Automation(errors);
        }
        if let Ok(Keyed { key, message }) = serde_json::from_slice::<Keyed>(bytes) {
            let key = match key {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            };
            let message = message.map(|m| match m {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            });
            return Self::Keyed { key, message };
        }
        let text = String::from_utf8_lossy(bytes);
        let mut end = text.len().min(Self::TEXT_CAP);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        Self::Text(text[..end].to_owned())
    }

    /// A one-line summary for error messages.
    pub fn summary(&self) -> String {
        match self {
            Self::Empty => "empty body".to_owned(),
            Self::Automation(items) => items
                .iter()
                .map(|i| {
                    let mut s = i.code.clone().unwrap_or_default();
                    for part in [&i.title, &i.detail].into_iter().flatten() {
                        if !s.is_empty() {
                            s.push_str(": ");
                        }
                        s.push_str(part);
                    }
                    if let Some(field) = &i.field {
                        s.push_str(&format!(" (field {field})"));
                    }
                    s
                })
                .collect::<Vec<_>>()
                .join("; "),
            Self::Keyed { key, message } => match message {
                Some(m) => format!("{key}: {m}"),
                None => key.clone(),
            },
            Self::Text(text) => {
                let line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
                if line.chars().count() > 200 {
                    format!("{}…", line.chars().take(200).collect::<String>())
                } else {
                    line
                }
            }
        }
    }
}
