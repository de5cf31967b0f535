#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs)]

pub mod automation;
pub mod error;
pub mod secret;

pub use error::{Error, Result};
pub mod transport;

pub use transport::{ClientOptions, Paginated, RetryPolicy};
