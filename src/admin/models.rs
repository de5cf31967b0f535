//! What the Admin APIs return: tunnels, organizations, API tokens and their timestamps.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::OffsetDateTime;

use crate::secret::TunnelKey;

mod timestamp;

pub use timestamp::Timestamp;

/// An enum over Atlassian's SCREAMING_CASE status strings that keeps values it does not know.
macro_rules! open_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
            /// A value this version does not know, kept as sent.
            Other(String),
        }

        impl $name {
            /// The value as Atlassian spells it (SCREAMING_CASE for known values).
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $text,)+
                    Self::Other(other) => other,
                }
            }

            /// Reads a value in any letter case; unknown values become `Other`.
            pub fn from_api(value: &str) -> Self {
                $(if value.eq_ignore_ascii_case($text) {
                    return Self::$variant;
                })+
                Self::Other(value.to_owned())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let value = String::deserialize(deserializer)?;
                Ok(Self::from_api(&value))
            }
        }
    };
}

open_enum!(
    /// The connection state of an application tunnel.
    ///
    /// ```
    /// use atlassian_rotation::admin::TunnelStatus;
    ///
    /// assert_eq!(TunnelStatus::from_api("connected"), TunnelStatus::Connected);
    /// assert_eq!(TunnelStatus::Connected.as_str(), "CONNECTED");
    /// assert_eq!(
    ///     TunnelStatus::from_api("DEGRADED"),
    ///     TunnelStatus::Other("DEGRADED".into())
    /// );
    /// ```
    TunnelStatus {
        /// The Data Center side is connected.
        Connected => "CONNECTED",
        /// The Data Center side is not connected (for example while it still holds an old key).
        Disconnected => "DISCONNECTED",
    }
);

open_enum!(
    /// The status of a user API token in an organization's token list.
    ///
    /// ```
    /// use atlassian_rotation::admin::OrgTokenStatus;
    ///
    /// assert_eq!(OrgTokenStatus::from_api("allowed"), OrgTokenStatus::Allowed);
    /// assert_eq!(OrgTokenStatus::Allowed.to_string(), "ALLOWED");
    /// ```
    OrgTokenStatus {
        /// The token may be used.
        Allowed => "ALLOWED",
    }
);

/// An application tunnel with its freshly minted security key, as returned by
/// [`AdminClient::regenerate_tunnel_key`](crate::AdminClient::regenerate_tunnel_key).
///
/// The key exists only in that one response: hand it to durable storage before anything else.
/// `Debug` and `Display` never show it. Fields the response lacks decode as empty strings (and
/// `TunnelStatus::Other("")` for the status), so a sparse answer never loses the key.
///
/// ```
/// use atlassian_rotation::admin::{Tunnel, TunnelStatus};
/// use atlassian_rotation::secret::TunnelKey;
///
/// let tunnel = Tunnel::new("c8bed056", "tunnel1", TunnelKey::new("s3cr3t"), TunnelStatus::Connected);
/// assert!(!format!("{tunnel:?} {tunnel}").contains("s3cr3t"));
/// assert_eq!(tunnel.key.expose_secret(), "s3cr3t");
/// ```
///
/// It holds the key, so it does not implement `Serialize`: store, log or pass on
/// [`Tunnel::info`] instead.
///
/// ```compile_fail,E0277
/// fn serializable<T: serde::Serialize>() {}
/// serializable::<atlassian_rotation::admin::Tunnel>();
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Tunnel {
    /// The tunnel id.
    pub id: String,
    /// The tunnel's display name.
    pub name: String,
    /// The new security key.
    pub key: TunnelKey,
    /// The connection state.
    pub status: TunnelStatus,
    /// The Data Center base URL the tunnel serves.
    pub on_premise_url: Option<String>,
    /// The tunnel's upstream DNS URL.
    pub upstream_dns_url: Option<String>,
}

impl Tunnel {
    /// Builds a tunnel (for tests and fakes); the URLs start empty.
    ///
    /// ```
    /// use atlassian_rotation::admin::{Tunnel, TunnelStatus};
    /// use atlassian_rotation::secret::TunnelKey;
    ///
    /// let tunnel = Tunnel::new("id-1", "farm", TunnelKey::new("k"), TunnelStatus::Disconnected)
    ///     .with_on_premise_url("https://jira.internal.example")
    ///     .with_upstream_dns_url("http://id-1.self-hosted.atlassian.com");
    /// assert_eq!(tunnel.on_premise_url.as_deref(), Some("https://jira.internal.example"));
    /// ```
    pub fn new(
        id: impl Into<String>,
        name: impl Into<String>,
        key: TunnelKey,
        status: TunnelStatus,
    ) -> Self {
        Self {
            id: id.into(),
            name: name.into(),
            key,
            status,
            on_premise_url: None,
            upstream_dns_url: None,
        }
    }

    /// Sets the on-premise URL.
    pub fn with_on_premise_url(mut self, url: impl Into<String>) -> Self {
        self.on_premise_url = Some(url.into());
        self
    }

    /// Sets the upstream DNS URL.
    pub fn with_upstream_dns_url(mut self, url: impl Into<String>) -> Self {
        self.upstream_dns_url = Some(url.into());
        self
    }

    /// The tunnel without its key: what a service can store, log or pass on.
    ///
    /// ```
    /// use atlassian_rotation::admin::{Tunnel, TunnelStatus};
    /// use atlassian_rotation::secret::TunnelKey;
    ///
    /// let tunnel = Tunnel::new("id-1", "farm", TunnelKey::new("s3cr3t"), TunnelStatus::Connected);
    /// let json = serde_json::to_string(&tunnel.info()).unwrap();
    /// assert_eq!(json, r#"{"id":"id-1","name":"farm","status":"CONNECTED","onPremiseUrl":null,"upstreamDnsUrl":null}"#);
    /// ```
    pub fn info(&self) -> TunnelInfo {
        TunnelInfo {
            id: self.id.clone(),
            name: self.name.clone(),
            status: self.status.clone(),
            on_premise_url: self.on_premise_url.clone(),
            upstream_dns_url: self.upstream_dns_url.clone(),
        }
    }
}

/// An application tunnel without its key ([`Tunnel::info`]), in the Admin API's field names.
/// Serializable: it holds no secret.
///
/// ```
/// use atlassian_rotation::admin::{TunnelInfo, TunnelStatus};
///
/// let info: TunnelInfo = serde_json::from_str(
///     r#"{"id":"id-1","name":"farm","status":"DISCONNECTED","onPremiseUrl":"https://jira.internal"}"#,
/// ).unwrap();
/// assert_eq!(info.status, TunnelStatus::Disconnected);
/// assert_eq!(info.upstream_dns_url, None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct TunnelInfo {
    /// The tunnel id.
    pub id: String,
    /// The tunnel's display name.
    pub name: String,
    /// The connection state.
    pub status: TunnelStatus,
    /// The Data Center base URL the tunnel serves.
    #[serde(default)]
    pub on_premise_url: Option<String>,
    /// The tunnel's upstream DNS URL.
    #[serde(default)]
    pub upstream_dns_url: Option<String>,
}

impl fmt::Display for Tunnel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "tunnel {} ({}, {}, key {})",
            self.id, self.name, self.status, self.key
        )
    }
}

/// The wire shape of a tunnel response. Only `token` is required.
/// The regenerate response. Only `token` must be a string: once a key is minted, a surprising
/// type in any other field must not make the caller lose it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct TunnelWire {
    #[serde(default, deserialize_with = "lenient_string")]
    id: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    name: Option<String>,
    token: String,
    #[serde(default, deserialize_with = "lenient_string")]
    status: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    on_premise_url: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    upstream_dns_url: Option<String>,
}

/// Any JSON value: strings as they are, numbers and booleans as text, anything else as `None`.
fn lenient_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match serde_json::Value::deserialize(d)? {
        serde_json::Value::String(s) => Some(s),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    })
}

impl From<TunnelWire> for Tunnel {
    fn from(wire: TunnelWire) -> Self {
        Self {
            id: wire.id.unwrap_or_default(),
            name: wire.name.unwrap_or_default(),
            key: TunnelKey::new(wire.token),
            status: TunnelStatus::from_api(wire.status.as_deref().unwrap_or_default()),
            on_premise_url: wire.on_premise_url,
            upstream_dns_url: wire.upstream_dns_url,
        }
    }
}

/// An organization, as returned by
/// [`AdminClient::check_key`](crate::AdminClient::check_key).
///
/// ```
/// use atlassian_rotation::admin::Organization;
///
/// let org = Organization::new("0a1b2c", Some("Example Corp".into()));
/// assert_eq!(org.name.as_deref(), Some("Example Corp"));
/// let json = serde_json::to_string(&org).unwrap();
/// assert_eq!(json, r#"{"id":"0a1b2c","name":"Example Corp"}"#);
/// assert_eq!(serde_json::from_str::<Organization>(&json).unwrap(), org);
/// ```
///
/// It serializes flat (`{"id", "name"}`), as the other models do, not in the API's
/// `{"data": {"id", "attributes": {"name"}}}` envelope, which only the client reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Organization {
    /// The organization id.
    pub id: String,
    /// The organization name (`attributes.name`).
    #[serde(default)]
    pub name: Option<String>,
}

impl Organization {
    /// Builds an organization (for tests and fakes).
    pub fn new(id: impl Into<String>, name: Option<String>) -> Self {
        Self {
            id: id.into(),
            name,
        }
    }
}

/// The wire shape `{"data": {"id", "type", "attributes": {"name"}, ...}, "links": ...}`.
#[derive(Deserialize)]
pub(super) struct OrgWire {
    data: OrgData,
}

#[derive(Deserialize)]
struct OrgData {
    id: String,
    #[serde(default)]
    attributes: Option<OrgAttributes>,
}

#[derive(Deserialize)]
struct OrgAttributes {
    #[serde(default)]
    name: Option<String>,
}

impl From<OrgWire> for Organization {
    fn from(wire: OrgWire) -> Self {
        Self {
            id: wire.data.id,
            name: wire.data.attributes.and_then(|a| a.name),
        }
    }
}

/// One API token of a managed user (`ApiTokenModel` of the user-management API). Holds no
/// secret: Atlassian never returns token values.
///
/// ```
/// use std::time::Duration;
/// use atlassian_rotation::admin::UserApiToken;
/// use time::macros::datetime;
///
/// let token: UserApiToken = serde_json::from_str(
///     r#"{"id":"asp_1","label":"ci","createdAt":"2025-01-02T03:04:05.000Z","expiry":"2025-03-19T00:00:00.000Z"}"#,
/// ).unwrap();
/// assert!(token.expires_within(Duration::from_secs(30 * 86_400), datetime!(2025-03-01 00:00 UTC)));
/// assert!(token.last_access.is_none());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct UserApiToken {
    /// The token id (what [`AdminClient::revoke_user_api_token`](crate::AdminClient::revoke_user_api_token) takes).
    pub id: String,
    /// The label the user gave it.
    #[serde(default)]
    pub label: Option<String>,
    /// When it was created.
    #[serde(default)]
    pub created_at: Option<Timestamp>,
    /// When it last authenticated a request.
    #[serde(default)]
    pub last_access: Option<Timestamp>,
    /// When it expires.
    #[serde(default)]
    pub expiry: Option<Timestamp>,
}

impl UserApiToken {
    /// Whether the token has expired or expires within `window` of `now`. A token without a
    /// readable expiry counts as not expiring.
    pub fn expires_within(&self, window: Duration, now: OffsetDateTime) -> bool {
        expires_within(self.expiry.as_ref(), window, now)
    }
}

/// The user an organization API token belongs to.
///
/// ```
/// use atlassian_rotation::admin::OrgTokenUser;
///
/// let user: OrgTokenUser = serde_json::from_str(r#"{"id":"5b10a2844c20165700ede21g","email":"a@example.com"}"#).unwrap();
/// assert_eq!(user.email.as_deref(), Some("a@example.com"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct OrgTokenUser {
    /// The account id.
    #[serde(default)]
    pub id: Option<String>,
    /// The organization id.
    #[serde(default)]
    pub org_id: Option<String>,
    /// The display name.
    #[serde(default)]
    pub name: Option<String>,
    /// The email address.
    #[serde(default)]
    pub email: Option<String>,
}

/// One user API token in an organization's token list (the API Access API). Holds no secret.
///
/// ```
/// use std::time::Duration;
/// use atlassian_rotation::admin::{OrgApiToken, OrgTokenStatus};
/// use time::macros::datetime;
///
/// let token: OrgApiToken = serde_json::from_str(r#"{
///     "id": "t1", "label": "jira-sync", "status": "ALLOWED",
///     "createdAt": "2025-01-01T00:00:00Z", "expiresAt": "2026-01-01T00:00:00Z",
///     "user": {"id": "acc-1", "email": "sync@example.com"}
/// }"#).unwrap();
/// assert_eq!(token.status, Some(OrgTokenStatus::Allowed));
/// let now = datetime!(2025-12-15 00:00 UTC);
/// assert!(token.expires_within(Duration::from_secs(30 * 86_400), now));
/// assert!(!token.expires_within(Duration::from_secs(86_400), now));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct OrgApiToken {
    /// The token id.
    pub id: String,
    /// The label the user gave it.
    #[serde(default)]
    pub label: Option<String>,
    /// Whether it may be used.
    #[serde(default)]
    pub status: Option<OrgTokenStatus>,
    /// When it was created.
    #[serde(default)]
    pub created_at: Option<Timestamp>,
    /// When it expires.
    #[serde(default)]
    pub expires_at: Option<Timestamp>,
    /// When it last authenticated a request.
    #[serde(default)]
    pub last_active_at: Option<Timestamp>,
    /// Its owner.
    #[serde(default)]
    pub user: Option<OrgTokenUser>,
    /// Its scopes, for scoped tokens (empty for classic tokens or when not sent).
    #[serde(default, deserialize_with = "null_as_empty")]
    pub scopes: Vec<String>,
}

impl OrgApiToken {
    /// Whether the token has expired or expires within `window` of `now`. A token without a
    /// readable expiry counts as not expiring.
    pub fn expires_within(&self, window: Duration, now: OffsetDateTime) -> bool {
        expires_within(self.expires_at.as_ref(), window, now)
    }
}

/// Whether `expiry` has passed or passes within `window` of `now`; an unreadable or missing
/// expiry counts as not expiring.
pub(super) fn expires_within(
    expiry: Option<&Timestamp>,
    window: Duration,
    now: OffsetDateTime,
) -> bool {
    expiry
        .and_then(|at| at.is_within(window, now))
        .unwrap_or(false)
}

/// A list that may be `null` or missing, read as empty.
pub(super) fn null_as_empty<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(deserializer)?.unwrap_or_default())
}

impl super::page::Keyed for OrgApiToken {
    fn key(&self) -> &str {
        &self.id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_enums_round_trip_known_and_unknown_values() {
        let known: TunnelStatus = serde_json::from_str(r#""Disconnected""#).unwrap();
        assert_eq!(known, TunnelStatus::Disconnected);
        assert_eq!(serde_json::to_string(&known).unwrap(), r#""DISCONNECTED""#);
        let unknown: OrgTokenStatus = serde_json::from_str(r#""BLOCKED""#).unwrap();
        assert_eq!(unknown, OrgTokenStatus::Other("BLOCKED".into()));
        assert_eq!(serde_json::to_string(&unknown).unwrap(), r#""BLOCKED""#);
    }

    #[test]
    fn a_tunnel_response_with_surprising_types_keeps_the_key() {
        let wire: TunnelWire = serde_json::from_str(
            r#"{"id":42,"name":null,"token":"k","status":{"x":1},"onPremiseUrl":["a"]}"#,
        )
        .unwrap();
        let tunnel = Tunnel::from(wire);
        assert_eq!(tunnel.key.expose_secret(), "k");
        assert_eq!(tunnel.id, "42");
        assert!(tunnel.on_premise_url.is_none());
    }

    #[test]
    fn sparse_tunnel_response_keeps_the_key() {
        let wire: TunnelWire = serde_json::from_str(r#"{"token":"k"}"#).unwrap();
        let tunnel = Tunnel::from(wire);
        assert_eq!(tunnel.key.expose_secret(), "k");
        assert_eq!(tunnel.status, TunnelStatus::Other(String::new()));
        assert!(tunnel.id.is_empty());
    }
}
