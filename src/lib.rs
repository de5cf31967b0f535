#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs)]

pub mod admin;
pub mod automation;
pub mod consumer;
pub mod discover;
pub mod error;
pub mod instance;
pub mod jira;
pub mod rotate;
pub mod secret;
#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;
pub mod transport;

pub use admin::AdminClient;
/// The attribute that implementing [`rotate::Rotator`] and [`rotate::Journal`] needs,
/// re-exported so that you do not add the `async-trait` crate yourself.
pub use async_trait::async_trait;
pub use automation::AutomationClient;
pub use error::{Error, Result};
pub use instance::InstanceClient;
pub use jira::JiraClient;
pub use transport::{ClientOptions, Paginated, RetryPolicy};
