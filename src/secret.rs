//! Secret and credential types.
//!
//! Every type here prints `[redacted]` in `Debug` and `Display`, zeroizes its memory on drop
//! (through [`secrecy`]), and hands out its value only through a method whose name says so:
//! `expose_secret`. None of them implements `Serialize`, so a secret cannot end up in a report or
//! a log by accident.
//!
//! ```
//! use atlassian_rotation::secret::{AdminApiKey, ApiCredentials, ApiToken};
//!
//! let key = AdminApiKey::new("ATCTT3xFfGN0-admin-key");
//! assert_eq!(format!("{key:?}"), "AdminApiKey([redacted])");
//! assert_eq!(key.to_string(), "[redacted]");
//!
//! let creds = ApiCredentials::new("ops@example.com", ApiToken::new("ATATT3xFfGF0-token"));
//! assert!(!format!("{creds:?}").contains("ATATT"));
//! assert_eq!(creds.token().expose_secret(), "ATATT3xFfGF0-token");
//! ```

use std::fmt;

use base64::Engine as _;
use reqwest::header::HeaderValue;
use secrecy::{ExposeSecret as _, SecretString};

use crate::error::Error;

/// What every redacted value prints as.
pub const REDACTED: &str = "[redacted]";

macro_rules! secret_newtype {
    ($(#[$meta:meta])* $name:ident, $what:literal) => {
        $(#[$meta])*
        ///
        /// It does not implement `Serialize`, so it cannot end up in a report or a JSON log by
        /// accident:
        ///
        /// ```compile_fail,E0277
        /// fn serializable<T: serde::Serialize>() {}
        #[doc = concat!("serializable::<atlassian_rotation::secret::", stringify!($name), ">();")]
        /// ```
        #[derive(Clone)]
        pub struct $name(SecretString);

        impl $name {
            #[doc = concat!("Wraps ", $what, ". The value is zeroized when the last copy is dropped.")]
            pub fn new(value: impl Into<String>) -> Self {
                Self(SecretString::from(value.into()))
            }

            #[doc = concat!("Returns ", $what, " in clear text, borrowed from this value.")]
            ///
            /// What happens to it next is the caller's duty: never log, print, serialize or
            /// format it into an error, a URL or a panic message; pass it only to where it is
            /// used (a request header, a vault), and keep the borrow short. A copy you make
            /// (`to_owned`) is not zeroized on drop, as this value is.
            pub fn expose_secret(&self) -> &str {
                self.0.expose_secret()
            }

            /// A short, non-reversible fingerprint (the first 8 hex digits of a 64-bit FNV-1a hash)
            /// that tells two values apart in logs and reports without revealing either.
            pub fn fingerprint(&self) -> String {
                fingerprint(self.expose_secret())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), REDACTED)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(REDACTED)
            }
        }

        impl PartialEq for $name {
            fn eq(&self, other: &Self) -> bool {
                constant_time_eq(self.expose_secret().as_bytes(), other.expose_secret().as_bytes())
            }
        }

        impl Eq for $name {}

        impl From<String> for $name {
            fn from(value: String) -> Self {
                Self::new(value)
            }
        }
    };
}

secret_newtype!(
    /// An Atlassian Admin API key (sent as `Authorization: Bearer`).
    ///
    /// ```
    /// # use atlassian_rotation::secret::AdminApiKey;
    /// let key = AdminApiKey::new("admin-key");
    /// assert_eq!(format!("{key}"), "[redacted]");
    /// ```
    AdminApiKey,
    "an Admin API key"
);

secret_newtype!(
    /// An Atlassian user API token (classic tokens start with `ATATT`).
    ///
    /// ```
    /// # use atlassian_rotation::secret::ApiToken;
    /// let token = ApiToken::new("ATATT-example");
    /// assert_eq!(format!("{token:?}"), "ApiToken([redacted])");
    /// ```
    ApiToken,
    "an API token"
);

secret_newtype!(
    /// A Data Center personal access token (sent as `Authorization: Bearer`).
    ///
    /// ```
    /// # use atlassian_rotation::secret::PersonalAccessToken;
    /// let pat = PersonalAccessToken::new("NjQ2ODk1-pat");
    /// assert_eq!(format!("{pat}"), "[redacted]");
    /// ```
    PersonalAccessToken,
    "a personal access token"
);

secret_newtype!(
    /// The security key of an application tunnel. It exists only in the response that mints it.
    ///
    /// ```
    /// # use atlassian_rotation::secret::TunnelKey;
    /// let key = TunnelKey::new("tunnel-key");
    /// assert_eq!(format!("{key:?}"), "TunnelKey([redacted])");
    /// ```
    TunnelKey,
    "a tunnel security key"
);

secret_newtype!(
    /// A password, for Data Center basic authentication.
    ///
    /// ```
    /// # use atlassian_rotation::secret::Password;
    /// let password = Password::new("hunter2");
    /// assert_eq!(format!("{password}"), "[redacted]");
    /// ```
    Password,
    "a password"
);

/// An API token together with the email of the account it belongs to: what Atlassian Cloud's
/// basic authentication (`email:token`) needs.
///
/// ```
/// use atlassian_rotation::secret::{ApiCredentials, ApiToken};
///
/// let creds = ApiCredentials::new("ops@example.com", ApiToken::new("ATATT-secret"));
/// assert_eq!(creds.email(), "ops@example.com");
/// assert_eq!(
///     format!("{creds:?}"),
///     r#"ApiCredentials { email: "ops@example.com", token: [redacted] }"#
/// );
/// ```
///
/// It holds a token, so it does not implement `Serialize`:
///
/// ```compile_fail,E0277
/// fn serializable<T: serde::Serialize>() {}
/// serializable::<atlassian_rotation::secret::ApiCredentials>();
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct ApiCredentials {
    email: String,
    token: ApiToken,
}

impl ApiCredentials {
    /// Pairs an account email with its API token.
    pub fn new(email: impl Into<String>, token: ApiToken) -> Self {
        Self {
            email: email.into(),
            token,
        }
    }

    /// The account email.
    pub fn email(&self) -> &str {
        &self.email
    }

    /// The API token.
    pub fn token(&self) -> &ApiToken {
        &self.token
    }

    /// `Basic base64(email:token)`, as a header value marked sensitive.
    ///
    /// Refuses an email that contains `:` or a character that would break a header, and a token
    /// with whitespace or control characters.
    ///
    /// ```
    /// use atlassian_rotation::secret::{ApiCredentials, ApiToken};
    ///
    /// let creds = ApiCredentials::new("a@example.com", ApiToken::new("t"));
    /// assert_eq!(creds.basic_header().unwrap().to_str().unwrap(), "Basic YUBleGFtcGxlLmNvbTp0");
    /// assert!(ApiCredentials::new("a:b@example.com", ApiToken::new("t")).basic_header().is_err());
    /// ```
    pub fn basic_header(&self) -> Result<HeaderValue, Error> {
        basic_header(&self.email, self.token.expose_secret())
    }
}

impl fmt::Debug for ApiCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiCredentials")
            .field("email", &self.email)
            .field("token", &format_args!("{REDACTED}"))
            .finish()
    }
}

impl fmt::Display for ApiCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{REDACTED}", self.email)
    }
}

/// Checks that `value` can travel in an HTTP header and in `email:token` form: visible ASCII
/// only, no whitespace, no control characters. `what` names the value in the error.
pub(crate) fn check_header_safe(what: &'static str, value: &str) -> Result<(), Error> {
    if value.is_empty() {
        return Err(Error::invalid_input(what, "is empty"));
    }
    if let Some(bad) = value.chars().find(|c| !c.is_ascii_graphic()) {
        let kind = if bad.is_control() {
            "contains a control character"
        } else if bad.is_whitespace() {
            "contains whitespace"
        } else {
            "contains a non-ASCII character"
        };
        return Err(Error::invalid_input(what, kind));
    }
    Ok(())
}

/// Checks an account email for use in `email:token`: header-safe and without `:`.
pub(crate) fn check_email(email: &str) -> Result<(), Error> {
    check_header_safe("account email", email)?;
    if email.contains(':') {
        return Err(Error::invalid_input(
            "account email",
            "contains ':', which basic authentication cannot carry",
        ));
    }
    Ok(())
}

/// The one place a `Basic` header value is built.
pub(crate) fn basic_header(email: &str, token: &str) -> Result<HeaderValue, Error> {
    check_email(email)?;
    check_header_safe("API token", token)?;
    basic_value(email, token)
}

/// `Basic base64(username:password)`. Unlike Cloud API tokens, Data Center passwords may hold
/// spaces and non-ASCII characters (base64 carries them), so only what cannot work is refused:
/// an empty value, a control character, and a `:` in the username.
pub(crate) fn basic_password_header(username: &str, password: &str) -> Result<HeaderValue, Error> {
    if username.is_empty() {
        return Err(Error::invalid_input("username", "is empty"));
    }
    if username.contains(':') {
        return Err(Error::invalid_input(
            "username",
            "contains ':', which basic authentication cannot carry",
        ));
    }
    if username.chars().any(char::is_control) {
        return Err(Error::invalid_input(
            "username",
            "contains a control character",
        ));
    }
    if password.is_empty() {
        return Err(Error::invalid_input("password", "is empty"));
    }
    if password.chars().any(char::is_control) {
        return Err(Error::invalid_input(
            "password",
            "contains a control character",
        ));
    }
    basic_value(username, password)
}

fn basic_value(user: &str, secret: &str) -> Result<HeaderValue, Error> {
    let mut value = HeaderValue::try_from(format!("Basic {}", basic_encode(user, secret)))
        .map_err(|_| Error::invalid_input("basic credentials", "cannot form a header value"))?;
    value.set_sensitive(true);
    Ok(value)
}

/// base64 of `email:token`, as it stands after `Basic ` in a header. No validation: callers that
/// send it use [`basic_header`]; the rule rewriter uses this to re-encode a value in place.
pub(crate) fn basic_encode(email: &str, token: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{email}:{token}"))
}

/// The username and secret of a `Basic` header value, when it is one (the inverse of
/// [`basic_value`]). The secret is zeroized on drop.
pub(crate) fn basic_parts(value: &HeaderValue) -> Option<(String, zeroize::Zeroizing<String>)> {
    let encoded = value.to_str().ok()?.strip_prefix("Basic ")?;
    let decoded = zeroize::Zeroizing::new(
        base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .ok()?,
    );
    let text = std::str::from_utf8(&decoded).ok()?;
    let (user, secret) = text.split_once(':')?;
    Some((user.to_owned(), zeroize::Zeroizing::new(secret.to_owned())))
}

/// The one place a `Bearer` header value is built.
pub(crate) fn bearer_header(what: &'static str, token: &str) -> Result<HeaderValue, Error> {
    check_header_safe(what, token)?;
    let mut value = HeaderValue::try_from(format!("Bearer {token}"))
        .map_err(|_| Error::invalid_input(what, "cannot form a header value"))?;
    value.set_sensitive(true);
    Ok(value)
}

pub(crate) fn fingerprint(value: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in value.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{:08x}", hash >> 32)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLEAR: &str = "ATATT3xFfGF0-very-secret";

    #[test]
    fn every_secret_type_is_redacted_in_debug_and_display() {
        let shown = [
            format!("{:?} {}", AdminApiKey::new(CLEAR), AdminApiKey::new(CLEAR)),
            format!("{:?} {}", ApiToken::new(CLEAR), ApiToken::new(CLEAR)),
            format!(
                "{:?} {}",
                PersonalAccessToken::new(CLEAR),
                PersonalAccessToken::new(CLEAR)
            ),
            format!("{:?} {}", TunnelKey::new(CLEAR), TunnelKey::new(CLEAR)),
            format!("{:?} {}", Password::new(CLEAR), Password::new(CLEAR)),
            format!(
                "{:?} {}",
                ApiCredentials::new("a@example.com", ApiToken::new(CLEAR)),
                ApiCredentials::new("a@example.com", ApiToken::new(CLEAR))
            ),
        ];
        for text in shown {
            assert!(!text.contains(CLEAR), "{text}");
            assert!(text.contains(REDACTED), "{text}");
        }
    }

    #[test]
    fn basic_parts_read_back_what_basic_header_built() {
        let value = basic_header("ops@example.com", "to:k").unwrap();
        let (user, secret) = basic_parts(&value).unwrap();
        assert_eq!(
            (user.as_str(), secret.as_str()),
            ("ops@example.com", "to:k")
        );
        for other in ["Bearer abc", "Basic !!!", "Basic YWJj"] {
            assert!(
                basic_parts(&HeaderValue::from_static(other)).is_none(),
                "{other}"
            );
        }
    }

    #[test]
    fn basic_header_is_base64_of_email_colon_token_and_sensitive() {
        let value = basic_header("ops@example.com", "tok").unwrap();
        assert!(value.is_sensitive());
        assert_eq!(
            value.to_str().unwrap(),
            "Basic b3BzQGV4YW1wbGUuY29tOnRvaw=="
        );
    }

    #[test]
    fn header_breaking_characters_are_refused_without_echoing_the_value() {
        for (email, token) in [
            ("a@example.com", "s3kr1t\r\nX-Evil: 1"),
            ("a@example.com", "s3kr1t en"),
            ("a@example.com", ""),
            ("a\n@example.com", "s3kr1t"),
            ("a:b@example.com", "s3kr1t"),
            ("á@example.com", "s3kr1t"),
        ] {
            let err = basic_header(email, token).unwrap_err();
            let text = format!("{err} {err:?}");
            assert!(!text.contains("s3kr1t"), "{text}");
            assert!(matches!(err, Error::InvalidInput { .. }), "{text}");
        }
        assert!(bearer_header("Admin API key", "a\u{0}b").is_err());
    }

    #[test]
    fn basic_password_header_accepts_spaces_and_refuses_what_cannot_work() {
        let value = basic_password_header("admin", "pass word é").unwrap();
        assert!(value.is_sensitive());
        assert_eq!(
            value.to_str().unwrap(),
            format!("Basic {}", basic_encode("admin", "pass word é"))
        );
        for (user, pw) in [
            ("", "p"),
            ("a:b", "p"),
            ("a\nb", "p"),
            ("a", ""),
            ("a", "p\r\nX: y"),
        ] {
            let err = basic_password_header(user, pw).unwrap_err();
            assert!(matches!(err, Error::InvalidInput { .. }), "{err}");
            if pw.len() > 1 {
                assert!(!err.to_string().contains(pw), "{err}");
            }
        }
    }

    #[test]
    fn equality_compares_values_and_fingerprints_differ() {
        assert_eq!(ApiToken::new("a"), ApiToken::new("a"));
        assert_ne!(ApiToken::new("a"), ApiToken::new("b"));
        assert_ne!(
            ApiToken::new("a").fingerprint(),
            ApiToken::new("b").fingerprint()
        );
        assert_eq!(ApiToken::new("a").fingerprint().len(), 8);
    }
}
