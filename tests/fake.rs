//! Tests of the `testing` feature's FakeAtlassian, through plain HTTP on 127.0.0.1.
//!
//! The fake stands in for Atlassian in every other integration test, so these tests pin down the
//! behaviour clients rely on: the state machine across routes, the error shapes, pagination in
//! every link form, each fault kind, the rate limit and the request log's redaction.

#[path = "fake/admin.rs"]
mod admin;
#[path = "fake/api_access.rs"]
mod api_access;
#[path = "fake/automation.rs"]
mod automation;
#[path = "fake/faults.rs"]
mod faults;

use atlassian_rotation::testing::{FakeAtlassian, FakeOrg, FakeUser};
use reqwest::header::HeaderMap;
use serde_json::Value;
use time::{Duration, OffsetDateTime};

/// A response read in full.
pub struct Got {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Got {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The first error of an `{"errors": [...]}` body.
    pub fn first_error(&self) -> Value {
        self.json()["errors"][0].clone()
    }
}

pub async fn send(request: reqwest::RequestBuilder) -> Got {
    let response = request.send().await.expect("the fake answers");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.bytes().await.expect("a full body").to_vec();
    Got {
        status,
        headers,
        body,
    }
}

/// A client without a connection pool: a pooled connection arms an idle timer, and paused-time
/// tests must have no timers but their own (tokio auto-advances to the next one when idle).
pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .expect("a reqwest client")
}

pub fn with_json(request: reqwest::RequestBuilder, body: &Value) -> reqwest::RequestBuilder {
    request
        .header("Content-Type", "application/json")
        .body(body.to_string())
}

pub fn in_days(days: i64) -> OffsetDateTime {
    OffsetDateTime::now_utc() + Duration::days(days)
}

/// An org, a user and a live token: what most routes need.
pub struct World {
    pub fake: FakeAtlassian,
    pub org: FakeOrg,
    pub user: FakeUser,
    pub token_id: String,
    pub token: atlassian_rotation::secret::ApiToken,
}

pub async fn world() -> World {
    let fake = FakeAtlassian::start().await;
    let org = fake.add_org("Example Org");
    let user = fake.add_user("ops@example.com", "Ops Bot");
    let (token_id, token) = fake.mint_api_token(&user.account_id, "automation", in_days(30));
    World {
        fake,
        org,
        user,
        token_id,
        token,
    }
}

impl World {
    /// A request with `Basic email:token` of the world's user.
    pub fn basic(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        request.basic_auth(&self.user.email, Some(self.token.expose_secret()))
    }

    /// A request with the org's Admin API key.
    pub fn admin(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        request.bearer_auth(self.org.admin_key.expose_secret())
    }
}

#[tokio::test]
async fn an_unknown_route_gets_a_loud_404() {
    let fake = FakeAtlassian::start().await;
    let got = send(http().get(format!("{}/rest/api/2/serverInfo", fake.site_base()))).await;
    assert_eq!(got.status, 404);
    let title = got.first_error()["title"].as_str().unwrap().to_owned();
    assert!(
        title.contains("no route for GET /rest/api/2/serverInfo"),
        "{title}"
    );
    assert_eq!(fake.requests()[0].route(), None);
}

#[tokio::test]
async fn the_server_stops_when_dropped() {
    let fake = FakeAtlassian::start().await;
    let addr = fake.addr();
    let url = format!("{}/rest/api/3/myself", fake.site_base());
    assert_eq!(send(http().get(&url)).await.status, 401);

    // A connection held open (pooled) across the drop is cut too.
    let held = reqwest::Client::new();
    assert_eq!(send(held.get(&url)).await.status, 401);

    drop(fake);
    // The accept task is aborted; once the runtime has dropped it, connections are refused.
    let mut refused = false;
    for _ in 0..1000 {
        tokio::task::yield_now().await;
        if tokio::net::TcpStream::connect(addr).await.is_err() {
            refused = true;
            break;
        }
    }
    assert!(refused, "the fake still accepts connections after drop");
    assert!(held.get(&url).send().await.is_err());
}

#[tokio::test]
async fn seeded_values_never_show_their_secrets_in_debug() {
    let w = world().await;
    let tunnel = w.fake.add_tunnel(&w.org.id, "dc");
    let shown = format!("{:?} {:?} {:?} {:?}", w.org, tunnel, w.token, w.fake);
    for secret in [
        w.org.admin_key.expose_secret(),
        tunnel.pat.expose_secret(),
        tunnel.password.expose_secret(),
        tunnel.current_key.expose_secret(),
        w.token.expose_secret(),
    ] {
        assert!(!shown.contains(secret), "{shown}");
    }
    assert!(shown.contains("[redacted]"));
}
