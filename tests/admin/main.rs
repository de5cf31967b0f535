//! Wiremock tests for `AdminClient`, one module per API area.

mod api_keys;
#[path = "../support/mod.rs"]
mod common;
mod org;
mod org_tokens;
mod service_accounts;
mod support;
mod tunnel;
mod user_tokens;
