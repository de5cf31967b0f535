//! Wiremock tests for `AdminClient`, one module per API area.

mod org;
mod org_tokens;
mod support;
mod tunnel;
mod user_tokens;
