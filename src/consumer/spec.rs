//! Consumers named in one line of text, for command lines and configuration files.

use std::str::FromStr;
use std::sync::Arc;

use super::{CommandConsumer, Consumer, CredentialView, FileConsumer};
use crate::error::{Error, Result};

/// A consumer written as one line of text (a command-line flag, a config value):
///
/// | text | consumer |
/// |---|---|
/// | `file:PATH` | the whole file ([`FileConsumer::whole`]) |
/// | `dotenv:PATH#KEY` | one line of a dotenv file ([`FileConsumer::dotenv`]) |
/// | `json:PATH#POINTER` | one string of a JSON file ([`FileConsumer::json_pointer`]) |
/// | `command:PROGRAM ARG ...` | a program reading the credential on stdin ([`CommandConsumer`]); arguments split on whitespace, no quoting |
///
/// The text names places, never a credential.
///
/// ```
/// use atlassian_rotation::consumer::{Consumer, ConsumerSpec};
///
/// let spec: ConsumerSpec = "dotenv:/srv/app/.env#JIRA_TOKEN".parse()?;
/// assert_eq!(spec.name(), "file /srv/app/.env (JIRA_TOKEN)");
/// let spec: ConsumerSpec = "command:gh secret set JIRA_TOKEN".parse()?;
/// assert_eq!(spec.name(), "command gh secret set JIRA_TOKEN");
/// assert!("vault:x".parse::<ConsumerSpec>().is_err());
/// # Ok::<(), atlassian_rotation::Error>(())
/// ```
#[derive(Clone)]
pub struct ConsumerSpec {
    consumer: Arc<dyn Consumer>,
}

impl std::fmt::Debug for ConsumerSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("ConsumerSpec")
            .field(&self.consumer.name())
            .finish()
    }
}

#[async_trait::async_trait]
impl Consumer for ConsumerSpec {
    fn name(&self) -> String {
        self.consumer.name()
    }

    async fn install(&self, credential: CredentialView<'_>) -> Result<()> {
        self.consumer.install(credential).await
    }

    async fn holds(&self, credential: CredentialView<'_>) -> Result<Option<bool>> {
        self.consumer.holds(credential).await
    }

    async fn restore(&self) -> Result<bool> {
        self.consumer.restore().await
    }
}

fn split_once<'a>(text: &'a str, what: &'static str) -> Result<(&'a str, &'a str)> {
    match text.rsplit_once('#') {
        Some((path, name)) if !path.is_empty() && !name.is_empty() => Ok((path, name)),
        _ => Err(Error::invalid_input(what, "expected PATH#NAME")),
    }
}

impl FromStr for ConsumerSpec {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self> {
        let (kind, rest) = text
            .split_once(':')
            .ok_or_else(|| Error::invalid_input("consumer", "expected KIND:WHERE"))?;
        let consumer: Arc<dyn Consumer> = match kind {
            "file" if !rest.is_empty() => Arc::new(FileConsumer::whole(rest)),
            "dotenv" => {
                let (path, key) = split_once(rest, "dotenv consumer")?;
                Arc::new(FileConsumer::dotenv(path, key))
            }
            "json" => {
                let (path, pointer) = split_once(rest, "json consumer")?;
                Arc::new(FileConsumer::json_pointer(path, pointer))
            }
            "command" => {
                let mut words = rest.split_whitespace();
                let program = words
                    .next()
                    .ok_or_else(|| Error::invalid_input("command consumer", "names no program"))?;
                Arc::new(CommandConsumer::new(program).args(words))
            }
            _ => {
                return Err(Error::invalid_input(
                    "consumer",
                    "expected file:PATH, dotenv:PATH#KEY, json:PATH#POINTER or command:PROGRAM ARGS",
                ));
            }
        };
        Ok(Self { consumer })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_parses_and_bad_text_is_refused() {
        let name = |s: &str| s.parse::<ConsumerSpec>().unwrap().name();
        assert_eq!(name("file:/run/t"), "file /run/t");
        assert_eq!(name("json:a.json#/a/b"), "file a.json (/a/b)");
        assert_eq!(name("dotenv:a#b#K"), "file a#b (K)");
        for bad in [
            "",
            "file:",
            "dotenv:/x",
            "dotenv:#K",
            "json:a.json",
            "command:  ",
            "x",
        ] {
            assert!(bad.parse::<ConsumerSpec>().is_err(), "{bad}");
        }
    }
}
