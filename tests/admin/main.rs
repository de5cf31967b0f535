//! Wiremock tests for `AdminClient`, one module per API area.

#[path = "../support/mod.rs"]
mod common;
mod org;
mod org_tokens;
mod support;
mod tunnel;
mod user_tokens;
