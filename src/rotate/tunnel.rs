//! Rotating the security key of a Data Center-to-Cloud application tunnel.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::future::BoxFuture;

use super::{Rotator, Updated, Verified};
use crate::admin::AdminClient;
use crate::error::{Error, Result};
use crate::instance::InstanceClient;
use crate::secret::TunnelKey;
use crate::transport::{Call, ClientOptions, Transport};

/// How to prove that traffic flows through the tunnel after the new key is installed.
#[derive(Clone)]
#[non_exhaustive]
pub enum Probe {
    /// `GET` this URL (reachable only through the tunnel) until it answers 2xx.
    Url(String),
    /// Call this until it returns `true`.
    Check(Arc<dyn Fn() -> BoxFuture<'static, bool> + Send + Sync>),
}

impl Probe {
    /// A probe that `GET`s `url` until it answers 2xx.
    ///
    /// ```
    /// use atlassian_rotation::rotate::Probe;
    /// let probe = Probe::url("https://acme.atlassian.net/rest/applinks/1.0/manifest");
    /// # let _ = probe;
    /// ```
    pub fn url(url: impl Into<String>) -> Self {
        Self::Url(url.into())
    }

    /// A probe that calls `check` until it returns `true`.
    ///
    /// ```
    /// use atlassian_rotation::rotate::Probe;
    /// let probe = Probe::check(|| async { true });
    /// # let _ = probe;
    /// ```
    pub fn check<F, Fut>(check: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = bool> + Send + 'static,
    {
        Self::Check(Arc::new(move || Box::pin(check())))
    }
}

/// `raw` without the credentials it may carry, for Debug (such a URL is refused before use).
fn without_credentials(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut url) if !url.username().is_empty() || url.password().is_some() => {
            let _ = url.set_password(None);
            let _ = url.set_username("redacted");
            url.to_string()
        }
        Ok(_) => raw.to_owned(),
        Err(_) if raw.contains('@') => "[unparsable URL]".to_owned(),
        Err(_) => raw.to_owned(),
    }
}

impl fmt::Debug for Probe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Url(url) => f
                .debug_tuple("Url")
                .field(&without_credentials(url))
                .finish(),
            Self::Check(_) => f.write_str("Check(..)"),
        }
    }
}

/// Rotates an application tunnel's key: regenerate through the Admin API, install on the Data
/// Center instance, verify the instance accepted it for the expected organisation and, with a
/// [`Probe`], that traffic flows again.
///
/// Regenerating invalidates the old key at once, so the tunnel is down between regenerate and
/// update: the driver's journal is what makes that window safe to crash in.
///
/// ```no_run
/// use atlassian_rotation::rotate::{self, FileJournal, Probe, RotateOptions, TunnelKeyRotator};
/// use atlassian_rotation::{AdminClient, InstanceClient, instance::InstanceAuth};
/// use atlassian_rotation::secret::{AdminApiKey, PersonalAccessToken};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let admin = AdminClient::builder(AdminApiKey::new(std::env::var("ATLASSIAN_ADMIN_API_KEY")?)).build()?;
/// let pat = PersonalAccessToken::new(std::env::var("DC_PAT")?);
/// let instance = InstanceClient::builder(InstanceAuth::PersonalAccessToken(pat))
///     .base_url("https://jira.internal.example.com")
///     .build()?;
/// let rotator = TunnelKeyRotator::new(admin, instance, "org-id", "tunnel-hostname-uuid")
///     .expect_organisation("Acme")
///     .probe(Probe::url("https://acme.atlassian.net/some/tunneled/path"));
/// let journal = FileJournal::new("/var/lib/rotation")?;
/// let report = rotate::rotate(&rotator, &journal, RotateOptions::new("tunnel-2026-11")).await?;
/// println!("{}", serde_json::to_string_pretty(&report)?);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct TunnelKeyRotator {
    admin: AdminClient,
    instance: InstanceClient,
    org_id: String,
    hostname: String,
    expected_org: Option<String>,
    probe: Option<Probe>,
    probe_options: Option<ClientOptions>,
    probe_deadline: Duration,
    probe_interval: Duration,
}

impl TunnelKeyRotator {
    /// A rotator for the tunnel `hostname` (the UUID label of its application-link URL) of
    /// organisation `org_id`.
    pub fn new(
        admin: AdminClient,
        instance: InstanceClient,
        org_id: impl Into<String>,
        hostname: impl Into<String>,
    ) -> Self {
        Self {
            admin,
            instance,
            org_id: org_id.into(),
            hostname: hostname.into(),
            expected_org: None,
            probe: None,
            probe_options: None,
            probe_deadline: Duration::from_secs(120),
            probe_interval: Duration::from_secs(2),
        }
    }

    /// Verify fails unless the instance reports accepting the key for this Cloud organisation
    /// name (`cloudOrgName`).
    pub fn expect_organisation(mut self, name: impl Into<String>) -> Self {
        self.expected_org = Some(name.into());
        self
    }

    /// Verify polls `probe` until it succeeds or the probe deadline passes.
    pub fn probe(mut self, probe: Probe) -> Self {
        self.probe = Some(probe);
        self
    }

    /// How long verify polls the probe (default 120 s), and how often (default every 2 s). No
    /// probe attempt runs past the deadline, however long a request or a check would hang.
    pub fn probe_timing(mut self, deadline: Duration, interval: Duration) -> Self {
        self.probe_deadline = deadline;
        self.probe_interval = interval;
        self
    }

    /// Connection options for a [`Probe::Url`]'s requests: plain http opt-in, timeouts, retry
    /// policy, response cap. Requests go to the probe URL's own origin.
    ///
    /// Without this, the probe uses the options the [`InstanceClient`] was built with, so a
    /// caller's opt-in to plain http, timeouts and retries hold for the probe as for every other
    /// request. A plain `http` probe URL on a non-loopback host is refused, before anything is
    /// minted, unless these options allow plain http.
    ///
    /// ```
    /// use std::time::Duration;
    /// use atlassian_rotation::rotate::{Probe, TunnelKeyRotator};
    /// use atlassian_rotation::{AdminClient, ClientOptions, InstanceClient, RetryPolicy};
    /// use atlassian_rotation::instance::InstanceAuth;
    /// use atlassian_rotation::secret::{AdminApiKey, PersonalAccessToken};
    ///
    /// let admin = AdminClient::builder(AdminApiKey::new("admin-key")).build()?;
    /// let instance = InstanceClient::builder(InstanceAuth::PersonalAccessToken(PersonalAccessToken::new("pat")))
    ///     .base_url("https://jira.internal.example.com")
    ///     .build()?;
    /// let rotator = TunnelKeyRotator::new(admin, instance, "org-id", "tunnel-hostname-uuid")
    ///     .probe(Probe::url("http://jira.internal.example.com/status"))
    ///     .probe_options(
    ///         ClientOptions::new()
    ///             .allow_plain_http(true)
    ///             .timeout(Duration::from_secs(5))
    ///             .retry_policy(RetryPolicy::none()),
    ///     );
    /// # let _ = rotator;
    /// # Ok::<(), atlassian_rotation::Error>(())
    /// ```
    pub fn probe_options(mut self, options: ClientOptions) -> Self {
        self.probe_options = Some(options);
        self
    }

    /// The HTTP client and URL of a URL probe: checked before anything is minted, so a typo
    /// in the probe cannot strand a freshly installed key. The transport is built like every
    /// client's, from the caller's options, on the probe's origin.
    fn probe_target(&self) -> Result<Option<(Transport, url::Url)>> {
        let Some(Probe::Url(raw)) = &self.probe else {
            return Ok(None);
        };
        let refused = |reason: String| Error::invalid_input("probe URL", reason);
        let url = url::Url::parse(raw).map_err(|e| refused(e.to_string()))?;
        // The origin with the URL's scheme, credentials and host, checked by the same rules as
        // any base URL (https, or http on loopback or with opt-in; no credentials).
        let mut base = url.clone();
        base.set_path("");
        base.set_query(None);
        base.set_fragment(None);
        let options = self
            .probe_options
            .clone()
            .unwrap_or_else(|| self.instance.options().clone());
        let transport = Transport::new(base.as_str(), options, None).map_err(|e| match e {
            Error::InvalidInput { reason, .. } => refused(reason),
            other => other,
        })?;
        Ok(Some((transport, url)))
    }

    async fn probe_once(&self, probe: &Probe, http: Option<&(Transport, url::Url)>) -> bool {
        match (probe, http) {
            (Probe::Check(check), _) => check().await,
            (Probe::Url(_), Some((http, url))) => {
                http.unit(Call::get_url(url.clone(), "probe")).await.is_ok()
            }
            (Probe::Url(_), None) => false,
        }
    }

    async fn run_probe(&self, probe: &Probe) -> Result<String> {
        let http = self.probe_target()?;
        let started = tokio::time::Instant::now();
        let mut attempts = 0u32;
        loop {
            attempts += 1;
            // No attempt outlives the deadline, however long a check or a request may hang.
            let left = self.probe_deadline.saturating_sub(started.elapsed());
            let attempt = tokio::time::timeout(left, self.probe_once(probe, http.as_ref()));
            if attempt.await.unwrap_or(false) {
                return Ok(format!("probe succeeded after {attempts} attempt(s)"));
            }
            if started.elapsed() + self.probe_interval > self.probe_deadline {
                return Err(Error::rotation(
                    "verify",
                    format!(
                        "the tunnel probe did not succeed within {:?} ({attempts} attempts)",
                        self.probe_deadline
                    ),
                ));
            }
            tokio::time::sleep(self.probe_interval).await;
        }
    }
}

#[async_trait]
impl Rotator for TunnelKeyRotator {
    type Credential = TunnelKey;

    fn kind(&self) -> &'static str {
        "tunnel-key"
    }

    fn target(&self) -> String {
        format!(
            "{}/{} -> {}",
            self.org_id,
            self.hostname,
            self.instance.base_url()
        )
    }

    async fn regenerate(&self) -> Result<TunnelKey> {
        self.probe_target()?;
        let tunnel = self
            .admin
            .regenerate_tunnel_key(&self.org_id, &self.hostname)
            .await?;
        Ok(tunnel.key)
    }

    async fn update(&self, key: &TunnelKey) -> Result<Updated> {
        let installed = self.instance.install_tunnel_key(key).await?;
        let mut updated = Updated::new(1, 1).target(self.instance.base_url().to_string());
        if let Some(org) = installed.cloud_org_name {
            updated = updated.fact("cloud_org_name", org);
        }
        if let Some(name) = installed.name {
            updated = updated.fact("tunnel_name", name);
        }
        Ok(updated)
    }

    async fn verify(&self, _key: &TunnelKey, updated: &Updated) -> Result<Verified> {
        let mut verified = Verified::new();
        let reported = updated.fact_value("cloud_org_name");
        match (&self.expected_org, reported) {
            (Some(expected), Some(seen)) if expected == seen => {
                verified = verified.check(format!(
                    "the instance accepted the key for organisation `{seen}`"
                ));
            }
            (Some(expected), Some(seen)) => {
                return Err(Error::rotation(
                    "verify",
                    format!(
                        "the instance accepted the key for organisation `{seen}`, expected `{expected}`"
                    ),
                ));
            }
            (Some(expected), None) => {
                return Err(Error::rotation(
                    "verify",
                    format!(
                        "the instance did not report which organisation it connected to (expected `{expected}`)"
                    ),
                ));
            }
            (None, Some(seen)) => {
                verified = verified.check(format!(
                    "the instance accepted the key for organisation `{seen}`"
                ));
            }
            (None, None) => {
                verified = verified.check("the instance accepted the key");
            }
        }
        match &self.probe {
            Some(probe) => verified = verified.check(self.run_probe(probe).await?),
            None => {
                verified = verified
                    .check("no probe configured: traffic through the tunnel was not observed");
            }
        }
        Ok(verified)
    }
}
