//! Non-secret settings: the profile file, the global flags over it, value parsers, and what a
//! rotation saves beside the journal so that `journal resume` can rebuild it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use atlassian_rotation::automation::Scanner;
use atlassian_rotation::consumer::ConsumerSpec;
use atlassian_rotation::rotate::FileJournal;
use serde::{Deserialize, Serialize};

use crate::args::Global;
use crate::exit::{CliError, CliResult};

/// The profile file: `$XDG_CONFIG_HOME/atlassian-rotation/config.toml`. Only non-secret
/// settings; any other key is refused, and so is a value that looks like a credential.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub site: Option<String>,
    pub cloud_id: Option<String>,
    pub org: Option<String>,
    pub email: Option<String>,
    pub journal: Option<PathBuf>,
    pub concurrency: Option<usize>,
}

/// Where the profile is looked for when `--profile` names none.
pub fn default_profile_path() -> Option<PathBuf> {
    let config = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|home| PathBuf::from(home).join(".config"))
        })?;
    Some(config.join("atlassian-rotation").join("config.toml"))
}

impl Profile {
    /// Reads the profile at `explicit`, else the default one if it exists.
    pub fn load(explicit: Option<&Path>) -> CliResult<Self> {
        let path = match explicit {
            Some(path) => path.to_path_buf(),
            None => match default_profile_path() {
                Some(path) if path.exists() => path,
                _ => return Ok(Self::default()),
            },
        };
        let text = read_profile(&path).map_err(|e| {
            CliError::usage(format!("cannot read the profile {}: {e}", path.display()))
        })?;
        Self::parse(&text)
            .map_err(|e| CliError::usage(format!("the profile {} is refused: {e}", path.display())))
    }

    /// Parses a profile and refuses one that holds something that looks like a credential,
    /// naming the key (never the value).
    pub fn parse(text: &str) -> Result<Self, String> {
        let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
            // The parser quotes the offending line, which may hold a secret: keep its message
            // only.
            e.message().to_owned()
        })?;
        for (key, value) in &table {
            if let Some(why) = looks_like_credential("setting", key) {
                return Err(format!(
                    "a key looks like a credential ({why}); a profile holds no secrets: use the \
                     environment, stdin or the prompt"
                ));
            }
            let toml::Value::String(text) = value else {
                continue;
            };
            if let Some(why) = looks_like_credential(key, text) {
                return Err(format!(
                    "the value of `{key}` looks like a credential ({why}); a profile holds no \
                     secrets: use the environment, stdin or the prompt"
                ));
            }
        }
        serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|e| {
            let path = e.path().to_string();
            let message = e.into_inner().message().to_owned();
            match path.as_str() {
                "." | "" => message,
                _ => format!("`{path}`: {message}"),
            }
        })
    }
}

/// The largest profile read: a few settings take a few hundred bytes.
const PROFILE_MAX_BYTES: u64 = 64 * 1024;

/// Reads a profile that is a regular file (a link to one is fine) of at most
/// [`PROFILE_MAX_BYTES`]: a FIFO, a device or `/dev/zero` would block or never end.
fn read_profile(path: &Path) -> std::io::Result<String> {
    use std::io::Read as _;
    let odd = |why: &str| std::io::Error::new(std::io::ErrorKind::InvalidInput, why.to_owned());
    if !std::fs::metadata(path)?.is_file() {
        return Err(odd("not a regular file"));
    }
    let mut text = String::new();
    std::fs::File::open(path)?
        .take(PROFILE_MAX_BYTES + 1)
        .read_to_string(&mut text)?;
    if text.len() as u64 > PROFILE_MAX_BYTES {
        return Err(odd("larger than 64 KiB"));
    }
    Ok(text)
}

/// Why a setting's value looks like a credential, if it does. Two checks:
///
/// - the library's credential scanner, in inventory mode, over the value as a header of that
///   name and as a URL: a `Basic` or `Bearer` value, a credential-named key
///   (`token`, `password`, `secret`, `...key`), a URL with a password or a token parameter;
/// - the shape of an Atlassian token: an `ATATT`/`ATCTT` prefix, or a run of 40 or more
///   characters of a token's alphabet (letters, digits, `-_=+`) without separators, which no
///   site, email, id or path in a profile has.
pub fn looks_like_credential(key: &str, value: &str) -> Option<&'static str> {
    let probe = serde_json::json!({"components": [{"value": {
        "url": value,
        "headers": [{"name": key, "value": value}],
    }}]});
    if !Scanner::inventory().scan_rule(&probe).is_empty() {
        return Some("a credential the scanner recognises");
    }
    let trimmed = value.trim();
    if trimmed.starts_with("ATATT") || trimmed.starts_with("ATCTT") {
        return Some("an Atlassian API token's prefix");
    }
    let token_alphabet = |c: char| c.is_ascii_alphanumeric() || "-_=+".contains(c);
    if trimmed.len() >= 40 && trimmed.chars().all(token_alphabet) {
        return Some("the shape of a token");
    }
    if is_basic_pair(trimmed) {
        return Some("a Basic credential's `user:password` in base64");
    }
    None
}

/// Whether `value` is base64 of printable `user:password`, as an `Authorization: Basic` value
/// copied without its scheme is (a short one escapes the shape check above).
fn is_basic_pair(value: &str) -> bool {
    use base64::Engine as _;
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(value) else {
        return false;
    };
    let decoded = zeroize::Zeroizing::new(decoded);
    decoded.iter().all(|b| b.is_ascii_graphic())
        && decoded
            .iter()
            .position(|&b| b == b':')
            .is_some_and(|at| at > 0 && at + 1 < decoded.len())
}

/// Refuses a command line that holds something that looks like a credential, naming the flag
/// (or the argument's place), never the value: before clap, whose usage errors quote what they
/// could not place.
pub fn refuse_credentials_in_args(args: &[std::ffi::OsString]) -> CliResult {
    let mut flag: Option<&str> = None;
    for (place, arg) in args.iter().enumerate() {
        let Some(arg) = arg.to_str() else {
            flag = None;
            continue;
        };
        let (which, value) = match arg.split_once('=') {
            Some((name, value)) if name.starts_with("--") => {
                (format!("the value of {name}"), value)
            }
            _ if arg.starts_with('-') && arg.len() > 1 => {
                flag = Some(arg);
                continue;
            }
            _ => match flag.take() {
                Some(flag) => (format!("the argument after {flag}"), arg),
                None => (format!("argument {}", place + 1), arg),
            },
        };
        if let Some(why) = looks_like_credential("argument", value) {
            return Err(CliError::usage(format!(
                "{which} looks like a credential ({why}); secrets never go on the command \
                 line: set its environment variable, pass its --*-stdin flag, or type it at the \
                 prompt (see --help)"
            )));
        }
    }
    Ok(())
}

/// The settings in force: flags over the profile.
#[derive(Debug, Clone)]
pub struct Settings {
    pub site: Option<String>,
    pub cloud_id: Option<String>,
    pub org: Option<String>,
    pub email: Option<String>,
    pub journal: PathBuf,
    pub concurrency: usize,
    pub automation_base: Option<String>,
    pub admin_base: String,
    pub identity_base: Option<String>,
}

impl Settings {
    pub fn resolve(global: &Global) -> CliResult<Self> {
        let profile = Profile::load(global.profile.as_deref())?;
        Ok(Self {
            site: global.site.clone().or(profile.site),
            cloud_id: global.cloud_id.clone().or(profile.cloud_id),
            org: global.org.clone().or(profile.org),
            email: global.email.clone().or(profile.email),
            journal: global
                .journal
                .clone()
                .or(profile.journal)
                .unwrap_or_else(FileJournal::default_dir),
            concurrency: global
                .concurrency
                .or(profile.concurrency)
                .unwrap_or(atlassian_rotation::rotate::DEFAULT_CONCURRENCY),
            automation_base: global.automation_base.clone(),
            admin_base: global
                .admin_base
                .clone()
                .unwrap_or_else(|| atlassian_rotation::admin::DEFAULT_BASE_URL.to_owned()),
            identity_base: global.identity_base.clone(),
        })
    }

    pub fn need<'a>(value: &'a Option<String>, flag: &str, key: &str) -> CliResult<&'a str> {
        value.as_deref().ok_or_else(|| {
            CliError::usage(format!("{flag} is required (or `{key}` in the profile)"))
        })
    }

    pub fn site(&self) -> CliResult<&str> {
        Self::need(&self.site, "--site", "site")
    }

    pub fn email(&self) -> CliResult<&str> {
        Self::need(&self.email, "--email", "email")
    }

    pub fn org(&self) -> CliResult<&str> {
        Self::need(&self.org, "--org", "org")
    }
}

/// Parses a `--consumer` value with the library's [`ConsumerSpec`]; the text is kept, to be
/// saved for a resume.
pub fn parse_consumer(text: &str) -> Result<String, String> {
    text.parse::<ConsumerSpec>()
        .map(|_| text.to_owned())
        .map_err(|e| e.to_string())
}

/// Parses a duration: a number with `s`, `m`, `h` or `d` (seconds without a unit).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => text.split_at(at),
        None => (text, "s"),
    };
    let n: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration like 90s, 30m, 2h or 1d"))?;
    let seconds = match unit {
        "s" => n,
        "m" => n.saturating_mul(60),
        "h" => n.saturating_mul(3600),
        "d" => n.saturating_mul(86_400),
        _ => return Err(format!("`{text}`: the unit is s, m, h or d")),
    };
    Ok(Duration::from_secs(seconds))
}

/// What a rotation started by this tool saves in `<journal>/cli/<id>.json` (never a secret),
/// so that `journal resume ID` rebuilds the same rotator. Secrets are asked for again.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Saved {
    Token(SavedToken),
    Tunnel(SavedTunnel),
    AdminKey(SavedAdminKey),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SavedConnection {
    pub site: Option<String>,
    pub cloud_id: Option<String>,
    pub org: Option<String>,
    pub email: Option<String>,
    pub concurrency: usize,
    pub automation_base: Option<String>,
    pub admin_base: String,
}

impl SavedConnection {
    pub fn of(settings: &Settings) -> Self {
        Self {
            site: settings.site.clone(),
            cloud_id: settings.cloud_id.clone(),
            org: settings.org.clone(),
            email: settings.email.clone(),
            concurrency: settings.concurrency,
            automation_base: settings.automation_base.clone(),
            admin_base: settings.admin_base.clone(),
        }
    }

    /// The settings to resume with: the journal stays where it was found.
    pub fn settings(&self, journal: &Path) -> Settings {
        Settings {
            site: self.site.clone(),
            cloud_id: self.cloud_id.clone(),
            org: self.org.clone(),
            email: self.email.clone(),
            journal: journal.to_path_buf(),
            concurrency: self.concurrency,
            automation_base: self.automation_base.clone(),
            admin_base: self.admin_base.clone(),
            identity_base: None,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SavedToken {
    pub connection: SavedConnection,
    pub token_email: Option<String>,
    pub consumers: Vec<String>,
    pub revoke: bool,
    pub account_id: Option<String>,
    pub old_token_id: Option<String>,
    pub old_token_label: Option<String>,
    pub accept_unreadable: bool,
    pub watch_org: Option<String>,
    pub grace_secs: Option<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SavedTunnel {
    pub connection: SavedConnection,
    pub hostname: String,
    pub instance: String,
    pub expect_org: Option<String>,
    pub probe: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SavedAdminKey {
    pub connection: SavedConnection,
    pub old_key_id: Option<String>,
    pub old_key_label: Option<String>,
    pub new_key_id: Option<String>,
    pub new_key_label: Option<String>,
    pub min_expiry_days: u64,
    pub consumers: Vec<String>,
}

fn saved_path(journal: &Path, rotation_id: &str) -> PathBuf {
    journal.join("cli").join(format!("{rotation_id}.json"))
}

impl Saved {
    pub fn store(&self, journal: &Path, rotation_id: &str) -> CliResult {
        use std::io::Write as _;
        let path = saved_path(journal, rotation_id);
        if let Some(dir) = path.parent() {
            let mut builder = std::fs::DirBuilder::new();
            builder.recursive(true);
            #[cfg(unix)]
            std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
            builder.create(dir)?;
        }
        // Private like the journal beside it: the settings name the site, the accounts and
        // the files that hold the credential.
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&path)?;
        #[cfg(unix)]
        file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
        file.write_all(&serde_json::to_vec_pretty(self)?)?;
        file.sync_all()?;
        Ok(())
    }

    pub fn load(journal: &Path, rotation_id: &str) -> CliResult<Self> {
        let path = saved_path(journal, rotation_id);
        let bytes = std::fs::read(&path).map_err(|e| {
            CliError::usage(format!(
                "rotation `{rotation_id}` was not started by this tool ({}: {e}); resume it \
                 with the program that started it",
                path.display()
            ))
        })?;
        Ok(serde_json::from_slice(&bytes)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_profile_with_settings_loads() {
        let profile = Profile::parse(
            "site = \"https://example.atlassian.net\"\ncloud_id = \"0f6c1a5e-5d1b-4a8e-9c7e-2b3c4d5e6f70\"\n\
             org = \"9a1d2c3b-4e5f-6a7b-8c9d-0e1f2a3b4c5d\"\nemail = \"admin@example.com\"\n\
             journal = \"/var/lib/atlassian-rotation/journal/of/a/rather/long/path\"\n",
        )
        .unwrap();
        assert_eq!(profile.email.as_deref(), Some("admin@example.com"));
    }

    #[test]
    fn a_profile_holding_a_credential_is_refused_naming_the_key_not_the_value() {
        let token = "ATATT3xFfGF0T4nQpLrS2vWxYz0123456789abcdefghijklmnop=ABCDEF12";
        for text in [
            format!("email = \"{token}\""),
            format!("site = \"https://admin%40example.com:{token}@example.atlassian.net\""),
            "org = \"Basic YWRtaW5AZXhhbXBsZS5jb206c2VjcmV0\"".to_owned(),
            format!("cloud_id = \"{}\"", "x".repeat(64)),
        ] {
            let err = Profile::parse(&text).unwrap_err();
            let key = text.split(' ').next().unwrap();
            assert!(err.contains(&format!("`{key}`")), "{err}");
            assert!(!err.contains(token) && !err.contains("YWRt"), "{err}");
        }
        let err = Profile::parse(&format!("api_token = \"{token}\"")).unwrap_err();
        assert!(err.contains("`api_token`") && !err.contains(token), "{err}");
    }

    #[test]
    fn a_basic_pair_in_base64_is_a_credential_however_short() {
        // `svc:s3cr3t` and `user:pw` in base64, as an Authorization header's value.
        assert!(looks_like_credential("org", "c3ZjOnMzY3IzdA==").is_some());
        assert!(looks_like_credential("org", "dXNlcjpwdw==").is_some());
        // Ids and words that happen to be valid base64 are not.
        assert!(looks_like_credential("org", "9a1d2c3b4e5f6a7b").is_none());
        assert!(
            looks_like_credential("cloud_id", "0f6c1a5e-5d1b-4a8e-9c7e-2b3c4d5e6f70").is_none()
        );
    }

    #[test]
    fn a_command_line_holding_a_credential_is_refused_naming_where_never_the_value() {
        let token = "ATATT3xFfGF0T4nQpLrS2vWxYz0123456789abcdefghijklmnop=ABCDEF12";
        let args =
            |words: &[&str]| -> Vec<std::ffi::OsString> { words.iter().map(Into::into).collect() };
        let equals = format!("--old-token-id={token}");
        let site = format!("https://svc%40example.com:{token}@example.atlassian.net");
        for (words, place) in [
            (vec!["who-uses", token], "argument 2"),
            (
                vec!["rotate", "token", "--old-token-id", token],
                "after --old-token-id",
            ),
            (vec!["rotate", "token", &equals], "value of --old-token-id"),
            (vec!["-q", "who-uses", "--site", &site], "after --site"),
        ] {
            let err = refuse_credentials_in_args(&args(&words)).unwrap_err();
            assert_eq!(err.code, crate::exit::Exit::Usage);
            assert!(err.message.contains(place), "{err}");
            assert!(!err.message.contains(token), "{err}");
        }
        refuse_credentials_in_args(&args(&[
            "rotate",
            "token",
            "--site",
            "https://example.atlassian.net",
            "--old-token-label",
            "automation-2026",
            "--consumer",
            "dotenv:/srv/app/.env#JIRA_TOKEN",
            "--hostname",
            "63b45b6d-ec7f-4f20-874c-c1bedaf938c9",
            "--email=svc@example.com",
            "--yes",
        ]))
        .unwrap();
    }

    #[test]
    fn a_profile_names_the_key_of_a_wrong_type_and_never_a_key_that_is_a_token() {
        let err = Profile::parse("[site]\nuser = \"s3cr3t\"").unwrap_err();
        assert!(err.contains("`site`") && !err.contains("s3cr3t"), "{err}");
        let token = "ATATT3xFfGF0abcdefabcdefabcdef-x_y";
        let err = Profile::parse(&format!("{token} = 1")).unwrap_err();
        assert!(!err.contains(token), "{err}");
    }

    #[test]
    fn durations_take_a_unit() {
        assert_eq!(parse_duration("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("30m").unwrap(), Duration::from_secs(1800));
        assert_eq!(parse_duration("2h").unwrap(), Duration::from_secs(7200));
        assert!(parse_duration("2w").is_err());
    }
}
