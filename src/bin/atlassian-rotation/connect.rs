//! The library's clients, built from the settings and the secrets.

use atlassian_rotation::AdminClient;
use atlassian_rotation::automation::{AutomationClient, Product};
use atlassian_rotation::secret::{AdminApiKey, ApiCredentials, ApiToken};

use crate::exit::{CliError, CliResult};
use crate::secrets::{Secret, Secrets};
use crate::settings::Settings;

/// Your credentials: `--email` and ATLASSIAN_API_TOKEN.
pub fn caller(settings: &Settings, secrets: &mut Secrets) -> CliResult<ApiCredentials> {
    let email = settings.email()?.to_owned();
    let token = secrets.require(Secret::ApiToken)?;
    Ok(ApiCredentials::new(email, ApiToken::new(token.as_str())))
}

/// The Automation API client for `caller`: through the site's gateway with its cloud id.
pub fn automation(settings: &Settings, caller: ApiCredentials) -> CliResult<AutomationClient> {
    let builder = AutomationClient::builder(caller);
    let builder = match (
        &settings.automation_base,
        &settings.site,
        &settings.cloud_id,
    ) {
        (Some(url), _, _) => builder.base_url(url),
        (None, Some(site), Some(cloud_id)) => builder.site(site, Product::Jira, cloud_id),
        (None, None, Some(cloud_id)) => builder.cloud(Product::Jira, cloud_id),
        (None, _, None) => {
            return Err(CliError::usage(
                "--cloud-id is required to reach the Automation API (or `cloud_id` in the profile)",
            ));
        }
    };
    Ok(builder.build()?)
}

/// The Admin API client with `key`.
pub fn admin_with(settings: &Settings, key: AdminApiKey) -> CliResult<AdminClient> {
    Ok(AdminClient::builder(key)
        .base_url(&settings.admin_base)
        .build()?)
}

/// The Admin API client with ATLASSIAN_ADMIN_KEY.
pub fn admin(settings: &Settings, secrets: &mut Secrets) -> CliResult<AdminClient> {
    let key = secrets.require(Secret::AdminKey)?;
    admin_with(settings, AdminApiKey::new(key.as_str()))
}
