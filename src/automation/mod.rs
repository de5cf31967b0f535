//! Jira and Confluence Automation: the [`AutomationClient`] for the Automation REST API, the
//! lossless rule model it reads and writes, the [`scan`]ner that finds where a credential is used
//! in rules, and the [`rewrite`]r that replaces an old token with a new one, changing nothing else.
//!
//! A rule read with [`AutomationClient::get_rule`] and written back with
//! [`AutomationClient::update_rule`] sends back exactly what came: unknown fields at every level
//! are kept ([`Component::extra`], [`Rule::extra`], ...), `null` stays `null` and an absent key
//! stays absent ([`Field`]), numbers and key order are unchanged. Only what the caller changed
//! differs.
//!
//! Rule JSON is secret material: `GET` returns web-request header values (credentials) in clear
//! text. The `Debug` output of the model never shows component values.
//!
//! ```
//! use atlassian_rotation::automation::{ComponentKind, RuleDocument};
//!
//! let body = r#"{"rule":{"uuid":"0193b2","name":"Ping","state":"ENABLED",
//!   "trigger":{"id":"1","component":"TRIGGER","type":"jira.manual.trigger.issue","value":null,"conditions":[]},
//!   "components":[{"id":"2","component":"ACTION","type":"jira.issue.outgoing.webhook",
//!     "value":{"url":"https://hooks.example.com","headers":[]},"parentId":null,"newThing":7}]},
//!   "connections":[]}"#;
//! let doc: RuleDocument = serde_json::from_str(body).unwrap();
//! let webhooks: Vec<String> = doc.rule.walk_components()
//!     .filter(|at| at.component.component_type() == Some("jira.issue.outgoing.webhook"))
//!     .map(|at| at.pointer)
//!     .collect();
//! assert_eq!(webhooks, ["/components/0"]);
//! assert_eq!(doc.rule.components()[0].kind(), Some(&ComponentKind::Action));
//!
//! let again: serde_json::Value = serde_json::to_value(&doc).unwrap();
//! assert_eq!(again, serde_json::from_str::<serde_json::Value>(body).unwrap());
//! ```

mod builder;
mod client;
mod field;
mod model;
pub mod rewrite;
pub mod scan;
mod summary;
mod walk;

pub use builder::AutomationClientBuilder;
pub use client::{AutomationClient, Product};
pub use field::Field;
pub use model::{Component, ComponentKind, ExportFile, Rule, RuleDocument, RuleState};
pub use rewrite::{Rewrite, plan_rule, rewrite_rule};
pub use scan::{CredentialForm, Finding, FindingStatus, Scanner};
pub use summary::{RuleSummary, SearchRequest, SummaryPage};
pub use walk::{ComponentAt, WalkComponents};
