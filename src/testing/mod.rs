//! A stateful fake of the Atlassian APIs this crate talks to, on loopback, for integration tests.
//!
//! [`FakeAtlassian`] serves, on one `127.0.0.1` port, the Admin API (tunnel key regeneration,
//! Admin API key check, user and org API token listing and revocation), each tunnel's Data Center
//! instance (key installation, identity, a probe through the tunnel), Jira Cloud's
//! `/rest/api/3/myself`, and the Automation REST API under both of its base URLs. It keeps one
//! state across all of them: regenerating a tunnel key disconnects the tunnel until the new key
//! is installed, a revoked API token stops authenticating everywhere, a rule written is the rule
//! read back.
//!
//! It is a small hyper 1 server of its own rather than a `wiremock` mock: wiremock cannot drop a
//! connection in the middle of a request, and a stateful fake needs one state shared by every
//! route anyway. The server stops when the [`FakeAtlassian`] is dropped.
//!
//! Faults ([`FakeAtlassian::fault`]) make the next responses of a [`Route`] fail in the ways real
//! networks and real Atlassian do: a status with `Retry-After`, latency, a dropped connection, a
//! malformed or oversized body, an HTML error page; [`FakeAtlassian::rate_limit`] and
//! [`FakeAtlassian::rate_limit_per_second`] answer 429
//! past a token bucket's budget. Every response carries an `Atl-Traceid` header, and
//! [`FakeAtlassian::requests`] lists what was received, with credentials redacted from `Debug`.
//!
//! # Example
//!
//! ```
//! use atlassian_rotation::testing::{FakeAtlassian, TunnelStatus};
//! use time::{Duration, OffsetDateTime};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let fake = FakeAtlassian::start().await;
//!
//! // An org with a tunnel, connected with its first key.
//! let org = fake.add_org("Example Org");
//! let tunnel = fake.add_tunnel(&org.id, "jira-dc-prod");
//! assert_eq!(fake.tunnel_status(&tunnel.hostname), Some(TunnelStatus::Connected));
//!
//! // A user with a live API token.
//! let user = fake.add_user("ops@example.com", "Ops Bot");
//! let in_a_year = OffsetDateTime::now_utc() + Duration::days(365);
//! let (token_id, token) = fake.mint_api_token(&user.account_id, "automation", in_a_year);
//! assert!(fake.token_is_live(&token));
//!
//! // Regenerating the tunnel key disconnects the tunnel until the new key is installed.
//! let http = reqwest::Client::new();
//! let url = format!(
//!     "{}/admin/v1/orgs/{}/tunnels/{}/token",
//!     fake.admin_base(),
//!     org.id,
//!     tunnel.hostname
//! );
//! let response = http
//!     .put(url)
//!     .bearer_auth(org.admin_key.expose_secret())
//!     .send()
//!     .await
//!     .unwrap();
//! let minted: serde_json::Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
//! assert_eq!(minted["status"], "DISCONNECTED");
//! assert_eq!(fake.tunnel_status(&tunnel.hostname), Some(TunnelStatus::Disconnected));
//!
//! let installed = http
//!     .put(format!("{}/rest/secure-tunneling/latest/tunnel/token", tunnel.instance_base))
//!     .bearer_auth(tunnel.pat.expose_secret())
//!     .body(serde_json::json!({ "token": minted["token"] }).to_string())
//!     .send()
//!     .await
//!     .unwrap();
//! assert_eq!(installed.status(), 200);
//! assert_eq!(fake.tunnel_status(&tunnel.hostname), Some(TunnelStatus::Connected));
//!
//! // Revoking the token through the Admin API ends its life.
//! let revoke = format!(
//!     "{}/users/{}/manage/api-tokens/{token_id}",
//!     fake.admin_base(),
//!     user.account_id
//! );
//! let gone = http
//!     .delete(revoke)
//!     .bearer_auth(org.admin_key.expose_secret())
//!     .send()
//!     .await
//!     .unwrap();
//! assert_eq!(gone.status(), 204);
//! assert!(!fake.token_is_live(&token));
//! # }
//! ```

mod admin;
mod api_access;
mod automation;
mod delay;
mod fault;
mod log;
mod routes;
mod rules;
mod scenario;
mod seed;
mod seed_keys;
mod server;
mod state;

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::task::JoinHandle;

pub use fault::{Fault, Gate, Route};
pub use log::RequestRecord;
pub use rules::RuleSeed;
pub use scenario::{ExpiringToken, ExpiringUsage, ServiceAccountUsage};
pub use seed::{FakeOrg, FakeTunnel, FakeUser, RuleStats, TunnelStatus};
pub use seed_keys::{FakeAdminKey, FakeServiceAccount};
pub use state::LinkStyle;

use server::Shared;
use state::Latency;

/// A stateful fake of the Atlassian APIs, listening on `127.0.0.1` on a port of its own.
///
/// Seed it with [`add_org`](Self::add_org), [`add_tunnel`](Self::add_tunnel),
/// [`add_user`](Self::add_user), [`mint_api_token`](Self::mint_api_token),
/// [`add_rule`](Self::add_rule) and [`seed_rules`](Self::seed_rules); point clients at
/// [`admin_base`](Self::admin_base), [`site_base`](Self::site_base),
/// [`automation_base`](Self::automation_base) and each tunnel's
/// [`instance_base`](FakeTunnel::instance_base); then observe the outcome with
/// [`tunnel_status`](Self::tunnel_status), [`token_is_live`](Self::token_is_live),
/// [`rule`](Self::rule), [`rule_stats`](Self::rule_stats) and [`requests`](Self::requests).
/// The seeding and observing methods are synchronous and never wait for the server.
///
/// Dropping it stops the server: the listener closes and open connections are cut.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use atlassian_rotation::testing::FakeAtlassian;
///
/// let fake = FakeAtlassian::start().await;
/// assert!(fake.admin_base().starts_with("http://127.0.0.1:"));
/// # }
/// ```
pub struct FakeAtlassian {
    shared: Arc<Shared>,
    addr: SocketAddr,
    accept: JoinHandle<()>,
}

impl fmt::Debug for FakeAtlassian {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeAtlassian")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Drop for FakeAtlassian {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

impl FakeAtlassian {
    /// Binds `127.0.0.1:0` and starts serving on the current tokio runtime.
    ///
    /// # Panics
    ///
    /// When no loopback port can be bound: a test environment problem, not a test failure.
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .expect("FakeAtlassian: cannot bind a port on 127.0.0.1");
        let addr = listener
            .local_addr()
            .expect("FakeAtlassian: the bound listener has no address");
        let shared = Arc::new(Shared::new(format!("http://{addr}")));
        let accept = tokio::spawn(server::serve(listener, Arc::clone(&shared)));
        Self {
            shared,
            addr,
            accept,
        }
    }

    /// The address the fake listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The Admin API's base URL (`http://127.0.0.1:PORT`, standing for
    /// `https://api.atlassian.com`).
    pub fn admin_base(&self) -> String {
        self.shared.base.clone()
    }

    /// The Jira Cloud site's base URL (the same root, standing for `https://{site}.atlassian.net`).
    pub fn site_base(&self) -> String {
        self.shared.base.clone()
    }

    /// Jira's base URL on the API gateway for `cloud_id`, standing for
    /// `https://api.atlassian.com/ex/jira/{cloudId}`: `/rest/api/3/myself` there accepts scoped
    /// tokens as `Authorization: Bearer` (see
    /// [`mint_scoped_api_token`](Self::mint_scoped_api_token)).
    pub fn jira_gateway_base(&self, cloud_id: &str) -> String {
        format!("{}/ex/jira/{cloud_id}", self.shared.base)
    }

    /// The Automation API's base URL for Jira on `cloud_id`, as on `api.atlassian.com`:
    /// `http://127.0.0.1:PORT/automation/public/jira/{cloud_id}`.
    pub fn automation_base(&self, cloud_id: &str) -> String {
        format!("{}/automation/public/jira/{cloud_id}", self.shared.base)
    }

    /// The Automation API's base URL through the site's gateway:
    /// `http://127.0.0.1:PORT/gateway/api/automation/public/jira/{cloud_id}`. It serves the
    /// same rules as [`automation_base`](Self::automation_base).
    pub fn gateway_automation_base(&self, cloud_id: &str) -> String {
        format!(
            "{}/gateway/api/automation/public/jira/{cloud_id}",
            self.shared.base
        )
    }

    /// The base URL of the Data Center instance behind the tunnel `hostname`:
    /// `http://127.0.0.1:PORT/dc/{hostname}`.
    pub fn instance_base(&self, hostname: &str) -> String {
        admin::instance_base(&self.shared.base, hostname)
    }

    /// Makes the next response(s) of `route` fail as `fault` says. Faults queue up: the first
    /// one registered for a route (or for [`Route::Any`]) is used up first.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use atlassian_rotation::testing::{FakeAtlassian, Fault, Route};
    ///
    /// let fake = FakeAtlassian::start().await;
    /// fake.fault(Route::JiraMyself, Fault::status(503).retry_after(1));
    /// let url = format!("{}/rest/api/3/myself", fake.site_base());
    /// let response = reqwest::get(&url).await.unwrap();
    /// assert_eq!(response.status(), 503);
    /// assert_eq!(response.headers()["retry-after"], "1");
    /// // Used up: the next request is handled normally (and refused: no credentials).
    /// assert_eq!(reqwest::get(&url).await.unwrap().status(), 401);
    /// # }
    /// ```
    pub fn fault(&self, route: Route, fault: Fault) {
        if fault.remaining > 0 {
            self.shared.lock().faults.push((route, fault));
        }
    }

    /// Forgets every fault not used up yet.
    pub fn clear_faults(&self) {
        self.shared.lock().faults.clear();
    }

    /// Allows `budget` requests (to any route) per `window` of the tokio clock, counted from
    /// now: past it, answers 429 until the window ends, with `Retry-After` (whole seconds,
    /// rounded to the nearest), `X-RateLimit-Reset` (an RFC 3339 timestamp) and the budget's
    /// shape (`X-RateLimit-Limit`, `-Remaining`, `-FillRate`, `-Interval-Seconds`). A token
    /// bucket of `budget` tokens refilled whole every `window`, the same mechanism as
    /// [`rate_limit_per_second`](Self::rate_limit_per_second). A zero budget refuses every
    /// request until [`clear_rate_limit`](Self::clear_rate_limit).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use std::time::Duration;
    /// use atlassian_rotation::testing::FakeAtlassian;
    ///
    /// let fake = FakeAtlassian::start().await;
    /// fake.rate_limit(1, Duration::from_secs(30));
    /// let url = format!("{}/rest/api/3/myself", fake.site_base());
    /// assert_eq!(reqwest::get(&url).await.unwrap().status(), 401);
    /// let limited = reqwest::get(&url).await.unwrap();
    /// assert_eq!(limited.status(), 429);
    /// assert_eq!(limited.headers()["retry-after"], "30");
    /// # }
    /// ```
    pub fn rate_limit(&self, budget: u32, window: std::time::Duration) {
        self.shared.lock().rate_limit = Some(fault::RateLimit::per_window(budget, window));
    }

    /// A token bucket shared by every route: `rate` requests a second (a token every `1/rate`
    /// s of the tokio clock) with bursts of up to `burst`; a request finding no token is
    /// answered 429, as with [`rate_limit`](Self::rate_limit), with `Retry-After` rounded to
    /// the nearest second (so often `0`) and `X-RateLimit-FillRate: {rate}`,
    /// `X-RateLimit-Interval-Seconds: 1`, `X-RateLimit-Limit: {burst}`. For benchmarks and
    /// tests of pacing.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// use std::time::Duration;
    /// use atlassian_rotation::testing::FakeAtlassian;
    ///
    /// let fake = FakeAtlassian::start().await;
    /// fake.rate_limit_per_second(10, 2);
    /// let url = format!("{}/rest/api/3/myself", fake.site_base());
    /// for _ in 0..2 {
    ///     assert_eq!(reqwest::get(&url).await.unwrap().status(), 401);
    /// }
    /// let limited = reqwest::get(&url).await.unwrap();
    /// assert_eq!(limited.status(), 429);
    /// assert_eq!(limited.headers()["x-ratelimit-fillrate"], "10");
    /// tokio::time::advance(Duration::from_millis(100)).await;
    /// assert_eq!(reqwest::get(&url).await.unwrap().status(), 401, "a token came back");
    /// # }
    /// ```
    pub fn rate_limit_per_second(&self, rate: u32, burst: u32) {
        self.shared.lock().rate_limit = Some(fault::RateLimit::per_second(rate, burst));
    }

    /// Lifts the rate limit.
    pub fn clear_rate_limit(&self) {
        self.shared.lock().rate_limit = None;
    }

    /// Every request received so far, in arrival order (including faulted, rate-limited and
    /// unrouted ones).
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.shared.lock().log.clone()
    }

    /// How many requests were routed to `route` ([`Route::Any`]: all requests).
    pub fn request_count(&self, route: Route) -> usize {
        self.shared
            .lock()
            .log
            .iter()
            .filter(|r| route == Route::Any || r.route == Some(route))
            .count()
    }

    /// Empties the request log.
    pub fn clear_requests(&self) {
        self.shared.lock().log.clear();
    }

    /// Page size of the org API token listing (default 20).
    pub fn set_org_token_page_size(&self, size: usize) {
        self.shared.lock().config.org_token_page_size = size.max(1);
    }

    /// Largest page of rule summaries, whatever `limit` asks for (default 100).
    pub fn set_rule_page_max(&self, size: usize) {
        self.shared.lock().config.rule_page_max = size.max(1);
    }

    /// How `links.next` is written in both paginated listings (default
    /// [`LinkStyle::QueryString`]).
    pub fn set_link_style(&self, style: LinkStyle) {
        self.shared.lock().config.link_style = style;
    }

    /// How long a cursor stays valid, on the tokio clock (default one hour, as Atlassian's).
    pub fn set_cursor_ttl(&self, ttl: std::time::Duration) {
        self.shared.lock().config.cursor_ttl = ttl;
    }

    /// Makes every response leave `latency` after its request arrived, as a network round trip
    /// to Atlassian would: for tests of timeouts and concurrency. The request is handled when it
    /// arrives (a client that gives up sooner leaves its change applied, as with a slow answer
    /// from a real server; [`Fault::latency`] delays the handling itself, and this latency adds
    /// to it). The fake's own work is part of the latency, so the latency does not grow with the
    /// load. On tokio's clock, so a paused clock (`start_paused`) skips it; tokio's timer wakes
    /// up to about 2 ms late: for measurements, use
    /// [`set_wall_clock_latency`](Self::set_wall_clock_latency). Default: none.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// use std::time::Duration;
    /// use atlassian_rotation::testing::FakeAtlassian;
    ///
    /// let fake = FakeAtlassian::start().await;
    /// fake.set_latency(Duration::from_millis(250));
    /// let url = format!("{}/rest/api/3/myself", fake.site_base());
    /// let started = tokio::time::Instant::now();
    /// assert_eq!(reqwest::get(&url).await.unwrap().status(), 401);
    /// assert!(started.elapsed() >= Duration::from_millis(250));
    /// # }
    /// ```
    pub fn set_latency(&self, latency: std::time::Duration) {
        self.shared.lock().config.latency = Latency {
            delay: latency,
            wall_clock: false,
        };
    }

    /// Like [`set_latency`](Self::set_latency), on the wall clock with sub-millisecond
    /// precision (a timer thread of the fake's own), for benchmarks: tokio's millisecond timer
    /// would turn 5 ms into about 6.5. Not for a paused tokio clock (`start_paused`): while a
    /// request waits on the wall clock the runtime looks idle and jumps to its next timer, so
    /// client timeouts would fire at once; use [`set_latency`](Self::set_latency) there.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use std::time::{Duration, Instant};
    /// use atlassian_rotation::testing::FakeAtlassian;
    ///
    /// let fake = FakeAtlassian::start().await;
    /// fake.set_wall_clock_latency(Duration::from_millis(5));
    /// let url = format!("{}/rest/api/3/myself", fake.site_base());
    /// let started = Instant::now();
    /// assert_eq!(reqwest::get(&url).await.unwrap().status(), 401);
    /// assert!(started.elapsed() >= Duration::from_millis(5));
    /// # }
    /// ```
    pub fn set_wall_clock_latency(&self, latency: std::time::Duration) {
        self.shared.lock().config.latency = Latency {
            delay: latency,
            wall_clock: true,
        };
    }

    /// Invalidates every cursor handed out so far: following one answers 400.
    pub fn expire_cursors(&self) {
        self.shared.lock().cursors.clear();
    }
}
