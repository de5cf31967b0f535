//! Discovery as library calls: **who uses this token** ([`UsageScan`]) and **what expires, and
//! where it is used** ([`ExpiryRadar`]: user API tokens, Admin API keys and service-account
//! tokens).
//!
//! Both read every Automation rule through the bulk engine the rotation itself uses (bounded,
//! adaptive concurrency, the next page of summaries read ahead, rate-limit back-off), and both
//! only read.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> atlassian_rotation::Result<()> {
//! use atlassian_rotation::automation::{AutomationClient, Scanner};
//! use atlassian_rotation::discover::UsageScan;
//! use atlassian_rotation::testing::FakeAtlassian;
//! use futures::TryStreamExt as _;
//!
//! let fake = FakeAtlassian::start().await;
//! let scenario = fake.seed_expiring_usage("cloud-1", 1, time::Duration::days(9));
//! let client = AutomationClient::builder(scenario.caller.clone()).base_url(fake.automation_base("cloud-1")).build()?;
//!
//! // Inventory: every credential in every rule, as rules are read.
//! let mut findings = UsageScan::new(&client, Scanner::inventory()).stream();
//! let mut forms = Vec::new();
//! while let Some(finding) = findings.try_next().await? {
//!     forms.push(finding.form);
//! }
//! assert_eq!(forms.len(), 4);
//! assert!(findings.summary().is_complete());
//! # Ok(()) }
//! ```

mod credential;
mod identity;
mod kinds;
mod radar;
mod report;
mod scan;
mod summary;

pub use crate::rotate::{Phase, Progress};
pub use identity::ResolveIdentities;
pub use radar::ExpiryRadar;
pub use report::{
    Attribution, Coverage, CredentialKind, ExpiringCredential, IdentityCounts, Owner, RadarReport,
    RuleUse, Unresolved, UnresolvedUse, WhereUsed,
};
pub use scan::{Findings, UsageScan};
pub use summary::{ScanSummary, UnreadRule};
