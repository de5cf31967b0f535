//! The world every CLI test starts from, and running the binary in it.

use std::path::PathBuf;
use std::process::Stdio;

use atlassian_rotation::secret::{ApiCredentials, ApiToken};
use atlassian_rotation::testing::{FakeAtlassian, FakeOrg, FakeUser, RuleSeed};
use serde_json::Value;
use tokio::io::AsyncWriteExt as _;

pub const CLOUD: &str = "cloud-cli";
pub const BIN: &str = env!("CARGO_BIN_EXE_atlassian-rotation");

/// A fake with an org, a service account whose token `old` is used in some of the rules and is
/// being replaced by `new`, and an admin (`caller`) who edits the rules; a temporary home.
pub struct World {
    pub fake: FakeAtlassian,
    pub home: tempfile::TempDir,
    pub org: FakeOrg,
    pub svc: FakeUser,
    pub old_id: String,
    pub old: ApiCredentials,
    pub new: ApiToken,
    pub caller: ApiCredentials,
    /// The rules holding the old token at the start, sorted.
    pub holding: Vec<String>,
}

pub async fn world(rules: usize) -> World {
    let fake = FakeAtlassian::start().await;
    let org = fake.add_org("Acme");
    let svc = fake.add_user("svc@example.com", "Service");
    let boss = fake.add_user("admin@example.com", "Admin");
    let later = time::OffsetDateTime::now_utc() + time::Duration::days(30);
    let (old_id, old_token) = fake.mint_api_token(&svc.account_id, "automation", later);
    let (_, new) = fake.mint_api_token(&svc.account_id, "automation-2026", later);
    let (_, caller_token) = fake.mint_api_token(&boss.account_id, "tool", later);
    fake.seed_rules(
        CLOUD,
        RuleSeed::new(rules)
            .with_token(&svc.email, old_token.clone())
            .fraction_with_token(0.5),
    );
    let old = ApiCredentials::new(&svc.email, old_token);
    let mut holding = fake.rules_holding(&old);
    holding.sort();
    assert!(
        holding.len() > 1,
        "the seed puts the old token in several rules"
    );
    World {
        home: tempfile::tempdir().unwrap(),
        caller: ApiCredentials::new(&boss.email, caller_token),
        fake,
        org,
        svc,
        old_id,
        old,
        new,
        holding,
    }
}

/// How a run of the binary ended.
#[derive(Debug)]
pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    /// Asserts the exit code, showing both streams when it differs.
    pub fn code(&self, expected: i32) -> &Self {
        assert_eq!(
            self.code, expected,
            "exit code; stdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }

    /// Every stdout line, each parsed as one JSON object.
    pub fn json_lines(&self) -> Vec<Value> {
        self.stdout
            .lines()
            .map(|line| {
                serde_json::from_str(line)
                    .unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {line}"))
            })
            .collect()
    }
}

impl World {
    pub fn journal(&self) -> PathBuf {
        self.home.path().join("journal")
    }

    /// The connection flags that point the tool at the fake.
    pub fn flags(&self) -> Vec<String> {
        [
            "--site",
            &self.fake.site_base(),
            "--cloud-id",
            CLOUD,
            "--email",
            self.caller.email(),
            "--org",
            &self.org.id,
            "--journal",
            self.journal().to_str().unwrap(),
            "--automation-base",
            &self.fake.automation_base(CLOUD),
            "--admin-base",
            &self.fake.admin_base(),
        ]
        .map(str::to_owned)
        .to_vec()
    }

    /// The secrets of the journey, as the tool reads them from the environment.
    pub fn secret_env(&self) -> Vec<(&'static str, String)> {
        vec![
            (
                "ATLASSIAN_API_TOKEN",
                self.caller.token().expose_secret().to_owned(),
            ),
            (
                "ATLASSIAN_OLD_API_TOKEN",
                self.old.token().expose_secret().to_owned(),
            ),
            (
                "ATLASSIAN_NEW_API_TOKEN",
                self.new.expose_secret().to_owned(),
            ),
            (
                "ATLASSIAN_ADMIN_KEY",
                self.org.admin_key.expose_secret().to_owned(),
            ),
        ]
    }

    /// Every secret of the world, in the forms an output could leak it.
    pub fn secret_spellings(&self) -> Vec<String> {
        let mut all = Vec::new();
        for (_, secret) in self.secret_env() {
            all.push(secret);
        }
        for creds in [&self.old, &self.caller] {
            all.push(base64_basic(creds.email(), creds.token().expose_secret()));
        }
        all.push(base64_basic(self.old.email(), self.new.expose_secret()));
        all
    }

    /// The binary with the world's home, the fake's flags after `args`, the secrets in the
    /// environment, and nothing from the test process's own environment that the tool reads.
    pub fn std_command(&self, args: &[&str]) -> std::process::Command {
        let mut command = self.bare_command(args);
        command.args(self.flags());
        command
    }

    /// The binary as [`Self::std_command`] has it, without the fake's flags.
    pub fn bare_command(&self, args: &[&str]) -> std::process::Command {
        let mut command = std::process::Command::new(BIN);
        command.args(args);
        for (name, _) in std::env::vars() {
            if name.starts_with("ATLASSIAN") || name == "RUST_LOG" || name.starts_with("XDG_") {
                command.env_remove(name);
            }
        }
        command
            .env("HOME", self.home.path())
            .env("XDG_CONFIG_HOME", self.home.path().join("config"))
            .env("XDG_STATE_HOME", self.home.path().join("state"))
            .envs(self.secret_env());
        command
    }

    /// Runs the binary (see [`Self::std_command`]) with stdin closed.
    pub async fn run(&self, args: &[&str]) -> Out {
        self.run_with(args, None, |_| {}).await
    }

    /// Runs the binary with `stdin` written to it, after `configure` changed the command.
    pub async fn run_with(
        &self,
        args: &[&str],
        stdin: Option<&str>,
        configure: impl FnOnce(&mut std::process::Command),
    ) -> Out {
        let mut command = self.std_command(args);
        configure(&mut command);
        self.spawn(command, stdin).await
    }

    /// Runs the binary without the fake's flags: `args` say everything.
    pub async fn run_bare(&self, args: &[&str]) -> Out {
        self.spawn(self.bare_command(args), None).await
    }

    pub async fn spawn(&self, command: std::process::Command, stdin: Option<&str>) -> Out {
        let mut command = tokio::process::Command::from(command);
        command
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("the binary runs");
        if let Some(text) = stdin {
            let mut pipe = child.stdin.take().unwrap();
            pipe.write_all(text.as_bytes()).await.unwrap();
        }
        let output = child.wait_with_output().await.unwrap();
        Out {
            code: output.status.code().expect("exited, not killed"),
            stdout: String::from_utf8(output.stdout).unwrap(),
            stderr: String::from_utf8(output.stderr).unwrap(),
        }
    }

    /// How many times each rule was written, summed.
    pub fn rule_writes(&self) -> u32 {
        self.fake
            .rule_uuids(CLOUD)
            .iter()
            .map(|uuid| self.fake.rule_stats(uuid).unwrap().puts)
            .sum()
    }
}

pub fn base64_basic(email: &str, secret: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(format!("{email}:{secret}"))
}
