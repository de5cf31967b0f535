//! Helpers shared by the wiremock tests.
#![allow(dead_code)]

use atlassian_rotation::secret::{ApiCredentials, ApiToken};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

pub const EMAIL: &str = "automation-admin@example.com";
pub const TOKEN: &str = "ATATT3xFfGF0-fixture-token-not-real";
/// base64("automation-admin@example.com:ATATT3xFfGF0-fixture-token-not-real"), written out so a
/// bug in the crate's own encoding cannot hide.
pub const BASIC: &str = "Basic YXV0b21hdGlvbi1hZG1pbkBleGFtcGxlLmNvbTpBVEFUVDN4RmZHRjAtZml4dHVyZS10b2tlbi1ub3QtcmVhbA==";

pub fn creds() -> ApiCredentials {
    ApiCredentials::new(EMAIL, ApiToken::new(TOKEN))
}

/// Anything not mounted on purpose fails the test loudly.
pub async fn catch_all(server: &MockServer) {
    Mock::given(any())
        .respond_with(
            ResponseTemplate::new(418).set_body_string("UNEXPECTED REQUEST: no mock matches it"),
        )
        .with_priority(200)
        .expect(0)
        .mount(server)
        .await;
}

pub fn base64_of(text: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(text)
}
