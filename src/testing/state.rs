//! The fake's shared state: what exists, what it holds, and how pages are cut.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::Value;
use time::OffsetDateTime;
use tokio::time::Instant;

use super::RequestRecord;
use super::fault::{Fault, RateLimit, Route};

/// How a `links.next` value is written.
///
/// Atlassian has used all three over time; a client must follow each of them.
///
/// ```
/// use atlassian_rotation::testing::LinkStyle;
///
/// assert_eq!(LinkStyle::default(), LinkStyle::QueryString);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum LinkStyle {
    /// `?cursor=..&limit=..` (the Automation API since August 2025, and the default).
    #[default]
    QueryString,
    /// `http://127.0.0.1:PORT/path?cursor=..&limit=..` (the Automation API before August 2025).
    FullUrl,
    /// The cursor alone, to be sent back as the `cursor` query parameter.
    BareCursor,
}

pub(crate) struct Org {
    pub id: String,
    pub name: String,
}

pub(crate) struct Tunnel {
    pub id: String,
    pub org_id: String,
    pub hostname: String,
    pub name: String,
    pub pat: String,
    pub password: String,
    pub current_key: String,
    pub installed_key: Option<String>,
}

impl Tunnel {
    pub fn connected(&self) -> bool {
        self.installed_key.as_deref() == Some(self.current_key.as_str())
    }
}

pub(crate) struct User {
    pub account_id: String,
    pub email: String,
    pub display_name: String,
}

pub(crate) struct Token {
    pub id: String,
    pub account_id: String,
    pub label: String,
    pub secret: String,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    pub last_access: Option<OffsetDateTime>,
    pub revoked: bool,
    /// A scoped token's scopes; empty for a classic token. A scoped token authenticates on the
    /// API gateway only (Bearer, or Basic there), never on the site or the Automation API.
    pub scopes: Vec<String>,
}

impl Token {
    pub fn is_live(&self) -> bool {
        !self.revoked && self.expires_at > OffsetDateTime::now_utc()
    }
}

/// An Admin API key of an org (the key [`Org::admin_key`] was seeded with is one of them).
pub(crate) struct AdminKey {
    pub id: String,
    pub org_id: String,
    pub label: String,
    pub secret: String,
    /// Empty for a key without scopes, which may do anything.
    pub scopes: Vec<String>,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    pub last_active_at: Option<OffsetDateTime>,
    pub revoked_at: Option<OffsetDateTime>,
}

impl AdminKey {
    pub fn is_live(&self) -> bool {
        self.revoked_at.is_none() && self.expires_at > OffsetDateTime::now_utc()
    }
}

/// A service account of an org. It is an account like a user's (a [`User`] with the same
/// account id), so its API tokens (scoped ones) live among the tokens and authenticate the same
/// way.
pub(crate) struct ServiceAccount {
    pub id: String,
    pub account_id: String,
    pub org_id: String,
}

pub(crate) struct StoredRule {
    pub cloud_id: String,
    pub uuid: String,
    pub rule: Value,
    pub connections: Value,
    pub gets: u32,
    pub puts: u32,
    pub state_puts: u32,
}

/// What a cursor points at (a listing, its filters, an offset), and when it was handed out.
pub(crate) struct Cursor {
    pub scope: String,
    pub filters: Value,
    pub offset: usize,
    pub issued: Instant,
}

pub(crate) struct Config {
    pub org_token_page_size: usize,
    pub rule_page_max: usize,
    pub link_style: LinkStyle,
    pub cursor_ttl: Duration,
    /// How long after its request each response leaves (see `FakeAtlassian::set_latency`).
    pub latency: Latency,
}

/// A delay every response waits for, counted from the request's arrival, on one of two clocks.
#[derive(Clone, Copy, Default)]
pub(crate) struct Latency {
    pub delay: Duration,
    /// The wall clock with sub-millisecond precision, instead of tokio's (pausable) clock.
    pub wall_clock: bool,
}

/// When a request arrived, on both clocks.
#[derive(Clone, Copy)]
pub(crate) struct Arrival {
    tokio: tokio::time::Instant,
    wall: std::time::Instant,
}

impl Arrival {
    pub fn now() -> Self {
        Self {
            tokio: tokio::time::Instant::now(),
            wall: std::time::Instant::now(),
        }
    }
}

impl Latency {
    /// Waits until `delay` after `arrival`, on this latency's clock.
    pub async fn since(self, arrival: Arrival) {
        if self.delay.is_zero() {
            return;
        }
        if self.wall_clock {
            super::delay::until(arrival.wall + self.delay).await;
        } else {
            tokio::time::sleep_until(arrival.tokio + self.delay).await;
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            org_token_page_size: 20,
            rule_page_max: 100,
            link_style: LinkStyle::QueryString,
            cursor_ttl: Duration::from_secs(3600),
            latency: Latency::default(),
        }
    }
}

/// Why a cursor was refused.
pub(crate) enum CursorError {
    Unknown,
    Expired,
}

#[derive(Default)]
pub(crate) struct State {
    pub orgs: Vec<Org>,
    pub tunnels: Vec<Tunnel>,
    pub users: Vec<User>,
    pub tokens: Vec<Token>,
    pub admin_keys: Vec<AdminKey>,
    pub service_accounts: Vec<ServiceAccount>,
    pub rules: Vec<StoredRule>,
    /// Where each rule uuid stands in `rules` (the first rule with it): lookups stay O(1) for
    /// fakes of tens of thousands of rules.
    pub rule_index: HashMap<String, usize>,
    pub cursors: HashMap<String, Cursor>,
    pub config: Config,
    pub faults: Vec<(Route, Fault)>,
    pub rate_limit: Option<RateLimit>,
    pub log: Vec<RequestRecord>,
}

impl State {
    /// The live Admin API key `secret`, marking it used (its last activity moves forward, by at
    /// least a millisecond, as the API shows it in milliseconds). Every admin route
    /// authenticates here, so a revoked or expired key is refused everywhere at once.
    pub fn authenticate_admin_key(&mut self, secret: &str) -> Option<&AdminKey> {
        let key = self
            .admin_keys
            .iter_mut()
            .find(|k| k.secret == secret && k.is_live())?;
        let now = OffsetDateTime::now_utc();
        key.last_active_at = Some(match key.last_active_at {
            Some(last) => now.max(last + time::Duration::milliseconds(1)),
            None => now,
        });
        Some(key)
    }

    /// Whether `account_id` is a service account's.
    pub fn is_service_account(&self, account_id: &str) -> bool {
        self.service_accounts
            .iter()
            .any(|a| a.account_id == account_id)
    }

    pub fn tunnel_mut(&mut self, hostname: &str) -> Option<&mut Tunnel> {
        self.tunnels.iter_mut().find(|t| t.hostname == hostname)
    }

    pub fn tunnel(&self, hostname: &str) -> Option<&Tunnel> {
        self.tunnels.iter().find(|t| t.hostname == hostname)
    }

    pub fn user(&self, account_id: &str) -> Option<&User> {
        self.users.iter().find(|u| u.account_id == account_id)
    }

    pub fn rule_mut(&mut self, cloud_id: &str, uuid: &str) -> Option<&mut StoredRule> {
        let at = *self.rule_index.get(uuid)?;
        self.rules.get_mut(at).filter(|r| r.cloud_id == cloud_id)
    }

    /// Stores a rule, indexing its uuid.
    pub fn push_rule(&mut self, rule: StoredRule) {
        self.rule_index
            .entry(rule.uuid.clone())
            .or_insert(self.rules.len());
        self.rules.push(rule);
    }

    /// The live classic token whose `email:token` pair matches, marking it used: how the site
    /// and the Automation API authenticate (scoped tokens are refused there).
    pub fn authenticate_basic(&mut self, email: &str, secret: &str) -> Option<&User> {
        self.authenticate(Some(email), secret, false)
    }

    /// The live token that `email:token` (with an email) or a Bearer credential (without)
    /// names, marking it used; `scoped` admits scoped tokens, and a Bearer credential
    /// authenticates only a scoped token, as on Atlassian's API gateway.
    pub fn authenticate(
        &mut self,
        email: Option<&str>,
        secret: &str,
        scoped: bool,
    ) -> Option<&User> {
        let account_id = match email {
            Some(email) => Some(
                self.users
                    .iter()
                    .find(|u| u.email == email)?
                    .account_id
                    .clone(),
            ),
            None => None,
        };
        let token = self.tokens.iter_mut().find(|t| {
            t.secret == secret
                && t.is_live()
                && account_id.as_ref().is_none_or(|id| *id == t.account_id)
                && if t.scopes.is_empty() {
                    email.is_some()
                } else {
                    scoped
                }
        })?;
        // Strictly later than the last use, even within one millisecond (the listing's
        // resolution): a test can tell every use apart.
        let now = OffsetDateTime::now_utc();
        token.last_access = Some(match token.last_access {
            Some(last) if now <= last + time::Duration::milliseconds(1) => {
                last + time::Duration::milliseconds(1)
            }
            _ => now,
        });
        let account_id = token.account_id.clone();
        self.user(&account_id)
    }

    /// Hands out a cursor for `offset` within the listing `scope`. The cursor remembers the
    /// listing's filters, as Atlassian's opaque cursors do, so a bare `?cursor=..` link suffices.
    pub fn issue_cursor(&mut self, scope: &str, filters: Value, offset: usize) -> String {
        let cursor = random_base64url(24);
        self.cursors.insert(
            cursor.clone(),
            Cursor {
                scope: scope.to_owned(),
                filters,
                offset,
                issued: Instant::now(),
            },
        );
        cursor
    }

    /// The filters and offset a cursor stands for, if it was issued for `scope` and has not
    /// expired.
    pub fn redeem_cursor(&self, scope: &str, cursor: &str) -> Result<(Value, usize), CursorError> {
        let entry = self.cursors.get(cursor).ok_or(CursorError::Unknown)?;
        if entry.scope != scope {
            return Err(CursorError::Unknown);
        }
        if entry.issued.elapsed() >= self.config.cursor_ttl {
            return Err(CursorError::Expired);
        }
        Ok((entry.filters.clone(), entry.offset))
    }

    /// Renders a `links.next`/`links.self` value in the configured [`LinkStyle`].
    pub fn link(
        &self,
        base: &str,
        path: &str,
        cursor: Option<&str>,
        limit: Option<usize>,
    ) -> String {
        let mut query = Vec::new();
        if let Some(cursor) = cursor {
            query.push(format!("cursor={cursor}"));
        }
        if let Some(limit) = limit {
            query.push(format!("limit={limit}"));
        }
        let query = query.join("&");
        match self.config.link_style {
            LinkStyle::QueryString => format!("?{query}"),
            LinkStyle::FullUrl => format!("{base}{path}?{query}"),
            LinkStyle::BareCursor => cursor.unwrap_or_default().to_owned(),
        }
    }
}

/// A string of `len` characters from the base64url alphabet.
pub(crate) fn random_base64url(len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    (0..len)
        .map(|_| char::from(ALPHABET[fastrand::usize(..ALPHABET.len())]))
        .collect()
}

/// `len` lowercase hex digits.
pub(crate) fn random_hex(len: usize) -> String {
    (0..len)
        .map(|_| char::from_digit(fastrand::u32(..16), 16).unwrap_or('0'))
        .collect()
}

/// A random version-4 UUID, as Atlassian uses for org ids, tunnel hostnames and rules.
pub(crate) fn random_uuid(rng: &mut fastrand::Rng) -> String {
    let v = rng.u128(..);
    let v = (v & !(0xf << 76)) | (0x4 << 76);
    let v = (v & !(0x3 << 62)) | (0x2 << 62);
    let hex = format!("{v:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// An API token shaped like Atlassian's classic ones: `ATATT3xFfGF0`, 171 base64url characters,
/// `=`, and 8 uppercase hex digits (192 characters in all).
pub(crate) fn api_token_value() -> String {
    format!(
        "ATATT3xFfGF0{}={}",
        random_base64url(171),
        random_hex(8).to_uppercase()
    )
}

/// An Admin API key shaped like Atlassian's: `ATCTT3xFfGN0`, 171 base64url characters, `=`,
/// and 8 uppercase hex digits.
pub(crate) fn admin_key_value() -> String {
    format!(
        "ATCTT3xFfGN0{}={}",
        random_base64url(171),
        random_hex(8).to_uppercase()
    )
}

/// A tunnel security key. Atlassian does not document their shape; this is a long opaque
/// base64url string, like the other keys Atlassian mints.
pub(crate) fn tunnel_key_value() -> String {
    format!("ATUNK{}", random_base64url(91))
}

/// ISO 8601 with milliseconds and `Z`, as the Admin APIs write timestamps.
pub(crate) fn iso(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
        at.millisecond()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_values_have_atlassian_shapes() {
        let token = api_token_value();
        assert_eq!(token.len(), 192);
        assert!(token.starts_with("ATATT3xFfGF0"));
        let (_, tail) = token.rsplit_once('=').unwrap();
        assert!(tail.len() == 8 && tail.chars().all(|c| c.is_ascii_hexdigit()));

        let uuid = random_uuid(&mut fastrand::Rng::with_seed(7));
        assert_eq!(uuid.len(), 36);
        assert_eq!(&uuid[14..15], "4");
        assert_eq!(uuid.matches('-').count(), 4);

        let at = OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
        assert_eq!(iso(at), "2023-11-14T22:13:20.000Z");
    }
}
