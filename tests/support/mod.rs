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

/// A loopback server whose catch-all fails the test for any request no exact mock matched.
pub async fn strict_server() -> MockServer {
    let server = MockServer::start().await;
    catch_all(&server).await;
    server
}

/// Everything `tracing` writes at any level on the current thread while the guard lives.
///
/// One global TRACE subscriber writes into the buffer of whichever capture is installed on the
/// writing thread: per-thread default subscribers race with tracing's global callsite cache when
/// tests run in parallel, and then miss events.
#[derive(Clone, Default)]
pub struct LogCapture(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

thread_local! {
    static CAPTURE: std::cell::RefCell<Option<LogCapture>> = const { std::cell::RefCell::new(None) };
}

/// A log buffer shared by every thread that writes into it: the writer of a subscriber that
/// must see what other threads log.
#[derive(Clone, Default)]
pub struct SharedLog(pub std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl SharedLog {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl std::io::Write for SharedLog {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Uninstalls a [`LogCapture`] from its thread when dropped.
pub struct CaptureGuard(());

impl Drop for CaptureGuard {
    fn drop(&mut self) {
        CAPTURE.with(|c| c.borrow_mut().take());
    }
}

/// Writes into the current thread's capture, if any.
struct ThreadWriter;

impl std::io::Write for ThreadWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        CAPTURE.with(|c| {
            if let Some(capture) = c.borrow().as_ref() {
                capture.0.lock().unwrap().extend_from_slice(buf);
            }
        });
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl LogCapture {
    pub fn install(&self) -> CaptureGuard {
        static GLOBAL: std::sync::Once = std::sync::Once::new();
        GLOBAL.call_once(|| {
            let _ = tracing_subscriber::fmt()
                .with_max_level(tracing::Level::TRACE)
                .with_ansi(false)
                .with_span_events(tracing_subscriber::fmt::format::FmtSpan::FULL)
                .with_writer(|| ThreadWriter)
                .try_init();
        });
        // A callsite first hit by another test while the global subscriber was being set may
        // have cached "never" (tracing's interest cache races with set_global_default); ask
        // every callsite again, so this capture sees every span and event.
        tracing::callsite::rebuild_interest_cache();
        CAPTURE.with(|c| *c.borrow_mut() = Some(self.clone()));
        CaptureGuard(())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
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

/// The Automation cloud id of [`RotationWorld`]'s rules.
pub const ROTATION_CLOUD: &str = "cloud-rotation";

/// A fake with everything both rotations need: an org with a tunnel, a service account whose old
/// token sits in some automation rules, its new token, and an admin whose token the tool uses.
pub struct RotationWorld {
    pub fake: std::sync::Arc<atlassian_rotation::testing::FakeAtlassian>,
    pub org: atlassian_rotation::testing::FakeOrg,
    pub tunnel: atlassian_rotation::testing::FakeTunnel,
    pub svc: atlassian_rotation::testing::FakeUser,
    pub old_id: String,
    pub old: ApiCredentials,
    pub new: ApiCredentials,
    pub caller: ApiCredentials,
    /// The rules holding the old token at the start, sorted.
    pub holding: Vec<String>,
}

pub async fn rotation_world(rules: usize) -> RotationWorld {
    use atlassian_rotation::testing::{FakeAtlassian, RuleSeed};
    let fake = std::sync::Arc::new(FakeAtlassian::start().await);
    let org = fake.add_org("Acme");
    let tunnel = fake.add_tunnel(&org.id, "jira-dc");
    let svc = fake.add_user("svc@example.com", "Service");
    let boss = fake.add_user("admin@example.com", "Admin");
    let later = time::OffsetDateTime::now_utc() + time::Duration::days(30);
    let (old_id, old_token) = fake.mint_api_token(&svc.account_id, "automation", later);
    let (_, new_token) = fake.mint_api_token(&svc.account_id, "automation-2026", later);
    let (_, caller_token) = fake.mint_api_token(&boss.account_id, "tool", later);
    fake.seed_rules(
        ROTATION_CLOUD,
        RuleSeed::new(rules)
            .with_token(&svc.email, old_token.clone())
            .fraction_with_token(0.5),
    );
    let old = ApiCredentials::new(&svc.email, old_token);
    let mut holding = fake.rules_holding(&old);
    holding.sort();
    assert!(
        holding.len() > 2,
        "the seed puts the token in several rules"
    );
    RotationWorld {
        new: ApiCredentials::new(&svc.email, new_token),
        caller: ApiCredentials::new(&boss.email, caller_token),
        fake,
        org,
        tunnel,
        svc,
        old_id,
        old,
        holding,
    }
}

impl RotationWorld {
    pub fn admin(
        &self,
        options: atlassian_rotation::ClientOptions,
    ) -> atlassian_rotation::AdminClient {
        atlassian_rotation::AdminClient::builder(self.org.admin_key.clone())
            .base_url(self.fake.admin_base())
            .options(options)
            .build()
            .unwrap()
    }

    /// Regenerate, install, check the organisation, probe through the tunnel.
    pub fn tunnel_rotator(
        &self,
        options: atlassian_rotation::ClientOptions,
    ) -> atlassian_rotation::rotate::TunnelKeyRotator {
        use atlassian_rotation::instance::InstanceAuth;
        use atlassian_rotation::rotate::{Probe, TunnelKeyRotator};
        let instance = atlassian_rotation::InstanceClient::builder(
            InstanceAuth::PersonalAccessToken(self.tunnel.pat.clone()),
        )
        .base_url(&self.tunnel.instance_base)
        .options(options.clone())
        .build()
        .unwrap();
        TunnelKeyRotator::new(
            self.admin(options),
            instance,
            &self.org.id,
            &self.tunnel.hostname,
        )
        .expect_organisation(&self.org.name)
        .probe(Probe::url(format!("{}/probe", self.tunnel.instance_base)))
        .probe_timing(
            std::time::Duration::from_secs(20),
            std::time::Duration::from_secs(1),
        )
    }

    /// Replaces the old token with the one `source` gives, then revokes the old one by id.
    pub fn token_rotator(
        &self,
        options: atlassian_rotation::ClientOptions,
        source: impl atlassian_rotation::rotate::TokenSource + 'static,
    ) -> atlassian_rotation::rotate::AutomationTokenRotator {
        use atlassian_rotation::AutomationClient;
        use atlassian_rotation::rotate::{AutomationTokenRotator, OldToken};
        let automation = AutomationClient::builder(self.caller.clone())
            .base_url(self.fake.automation_base(ROTATION_CLOUD))
            .options(options.clone())
            .build()
            .unwrap();
        AutomationTokenRotator::new(automation, self.fake.site_base(), self.old.clone(), source)
            .unwrap()
            .site_options(options.clone())
            .revoke_with(
                self.admin(options),
                &self.svc.account_id,
                OldToken::Id(self.old_id.clone()),
            )
            // The seed hides masked values in rules without the token: known not to use it.
            .accept_unreadable(true)
    }
}

/// The scopes of [`KeyWorld`]'s old and new Admin API keys: what the rotation needs.
pub const KEY_SCOPES: &[&str] = &["read:keys:admin", "delete:keys:admin"];

/// A fake org whose scoped Admin API key `old` is being replaced by `new` (minted later, same
/// scopes, valid for a year). The org's own key (without scopes) stays live throughout.
pub struct KeyWorld {
    pub fake: std::sync::Arc<atlassian_rotation::testing::FakeAtlassian>,
    pub org: atlassian_rotation::testing::FakeOrg,
    pub old: atlassian_rotation::testing::FakeAdminKey,
    pub new: atlassian_rotation::testing::FakeAdminKey,
}

pub async fn key_world() -> KeyWorld {
    use atlassian_rotation::testing::FakeAtlassian;
    let fake = std::sync::Arc::new(FakeAtlassian::start().await);
    let org = fake.add_org("Acme");
    let now = time::OffsetDateTime::now_utc();
    let old = fake.mint_admin_key(
        &org.id,
        "automation",
        KEY_SCOPES,
        now + time::Duration::days(20),
    );
    let new = fake.mint_admin_key(
        &org.id,
        "automation-2027",
        KEY_SCOPES,
        now + time::Duration::days(365),
    );
    KeyWorld {
        fake,
        org,
        old,
        new,
    }
}

impl KeyWorld {
    /// A client of the fake's Admin API on `key`.
    pub fn client(
        &self,
        key: &atlassian_rotation::secret::AdminApiKey,
        options: atlassian_rotation::ClientOptions,
    ) -> atlassian_rotation::AdminClient {
        atlassian_rotation::AdminClient::builder(key.clone())
            .base_url(self.fake.admin_base())
            .options(options)
            .build()
            .unwrap()
    }

    /// Replaces the old key (named by id) with the one `source` gives (named by label), with
    /// a client on the old key.
    pub fn key_rotator(
        &self,
        options: atlassian_rotation::ClientOptions,
        source: impl atlassian_rotation::rotate::TokenSource<atlassian_rotation::secret::AdminApiKey>
        + 'static,
    ) -> atlassian_rotation::rotate::AdminKeyRotator {
        use atlassian_rotation::rotate::KeyRef;
        self.rotator_naming(options, KeyRef::Id(self.old.id.clone()), source)
            .new_key(KeyRef::Label(self.new.label.clone()))
    }

    /// Replaces the old key, named by `old`, with the one `source` gives (not named), with a
    /// client on the old key.
    pub fn rotator_naming(
        &self,
        options: atlassian_rotation::ClientOptions,
        old: atlassian_rotation::rotate::KeyRef,
        source: impl atlassian_rotation::rotate::TokenSource<atlassian_rotation::secret::AdminApiKey>
        + 'static,
    ) -> atlassian_rotation::rotate::AdminKeyRotator {
        atlassian_rotation::rotate::AdminKeyRotator::new(
            self.client(&self.old.key, options),
            &self.org.id,
            self.old.key.clone(),
            old,
            source,
        )
    }
}

/// The environment variable that points the conformance tests at Atlassian's reference data
/// (a directory holding `specs/` and `fixtures/`). A relative path is taken from the
/// repository's root. Unset or empty: `../shared/conformance` beside the repository, where CI
/// always has it.
pub const CONFORMANCE_DIR_ENV: &str = "ATLASSIAN_ROTATION_CONFORMANCE_DIR";

/// The default location of the reference data, relative to the repository's root.
pub const CONFORMANCE_DEFAULT: &str = "../shared/conformance";

/// What the reference data holds at least: each subdirectory and its number of `.json` files.
/// A directory with fewer is an incomplete copy, and the tests would check less than they claim.
pub const CONFORMANCE_LAYOUT: &[(&str, usize)] = &[
    ("specs", 6),
    ("fixtures/cloud-api-get", 4),
    ("fixtures/cloud-export", 3),
    ("fixtures/dc-export", 1),
    ("fixtures/admin-responses", 1),
];

/// Atlassian's reference data (published specs and real rule files), read at test time and never
/// copied. The one place the conformance tests find it.
#[derive(Debug, Clone)]
pub struct Conformance {
    root: std::path::PathBuf,
}

/// The reference data at its configured location (see [`CONFORMANCE_DIR_ENV`]).
///
/// Panics, saying where the data was expected and how to point elsewhere, when it is missing or
/// incomplete: a conformance test that checks nothing must not pass.
pub fn conformance() -> Conformance {
    let (root, origin) = conformance_location();
    Conformance::at(root, &origin).unwrap_or_else(|why| panic!("{why}"))
}

/// Where the reference data is expected, and why there (for the failure message).
pub fn conformance_location() -> (std::path::PathBuf, String) {
    let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    match std::env::var_os(CONFORMANCE_DIR_ENV).filter(|v| !v.is_empty()) {
        Some(dir) => (manifest.join(dir), format!("set by {CONFORMANCE_DIR_ENV}")),
        None => (
            manifest.join(CONFORMANCE_DEFAULT),
            format!(
                "the default, {CONFORMANCE_DEFAULT} beside the repository; set {CONFORMANCE_DIR_ENV} to use another copy"
            ),
        ),
    }
}

impl Conformance {
    /// The reference data in `root`, checked against [`CONFORMANCE_LAYOUT`]; `Err` says what is
    /// missing and where. `origin` says why `root` was chosen.
    pub fn at(root: std::path::PathBuf, origin: &str) -> Result<Self, String> {
        if !root.is_dir() {
            return Err(format!(
                "Atlassian reference data not found: expected the directory {} ({origin}). \
                 CI always has ../shared beside the repository.",
                root.display()
            ));
        }
        let data = Self { root };
        for &(sub, least) in CONFORMANCE_LAYOUT {
            let found = data
                .try_json_files(sub)
                .map_err(|why| format!("{why} ({origin})"))?
                .len();
            if found < least {
                return Err(format!(
                    "Atlassian reference data incomplete: {} holds {found} .json file(s), expected \
                     at least {least} ({origin})",
                    data.root.join(sub).display()
                ));
            }
        }
        Ok(data)
    }

    /// The directory the data was found in.
    pub fn root(&self) -> &std::path::Path {
        &self.root
    }

    /// The spec `name` under `specs/`. Panics, naming the path, when it is not there.
    pub fn spec(&self, name: &str) -> std::path::PathBuf {
        let file = self.root.join("specs").join(name);
        assert!(
            file.is_file(),
            "Atlassian reference data incomplete: {} not found",
            file.display()
        );
        file
    }

    /// The `.json` files of the subdirectory `sub` (such as `fixtures/cloud-export`), sorted.
    pub fn json_files(&self, sub: &str) -> Vec<std::path::PathBuf> {
        self.try_json_files(sub)
            .unwrap_or_else(|why| panic!("{why}"))
    }

    fn try_json_files(&self, sub: &str) -> Result<Vec<std::path::PathBuf>, String> {
        let dir = self.root.join(sub);
        let entries = std::fs::read_dir(&dir).map_err(|e| {
            format!(
                "Atlassian reference data incomplete: cannot read {}: {e}",
                dir.display()
            )
        })?;
        let mut files = Vec::new();
        for entry in entries {
            let path = entry
                .map_err(|e| format!("reading {}: {e}", dir.display()))?
                .path();
            if path.is_file() && path.extension().is_some_and(|x| x == "json") {
                files.push(path);
            }
        }
        files.sort();
        Ok(files)
    }

    /// The kinds of real rule files under `fixtures/` (every subdirectory but the Admin API
    /// answers), sorted.
    pub fn rule_fixture_kinds(&self) -> Vec<String> {
        let dir = self.root.join("fixtures");
        let mut kinds: Vec<String> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_dir())
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .filter(|k| k != "admin-responses")
            .collect();
        kinds.sort();
        kinds
    }
}
