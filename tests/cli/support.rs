//! The world every CLI test starts from, and running the binary in it.

use std::ops::Deref;
use std::path::PathBuf;
use std::process::Stdio;

use serde_json::Value;
use tokio::io::AsyncWriteExt as _;

pub use crate::shared::ROTATION_CLOUD as CLOUD;
use crate::shared::{RotationWorld, base64_of, rotation_world};

pub const BIN: &str = env!("CARGO_BIN_EXE_atlassian-rotation");

/// The rotation world the library's tests share (an org with a tunnel, a service account
/// whose token `old` is in some rules and is replaced by `new`, an admin `caller`), and a
/// temporary home for the tool.
pub struct World {
    base: RotationWorld,
    pub home: tempfile::TempDir,
}

impl Deref for World {
    type Target = RotationWorld;

    fn deref(&self) -> &RotationWorld {
        &self.base
    }
}

pub async fn world(rules: usize) -> World {
    World {
        base: rotation_world(rules).await,
        home: tempfile::tempdir().unwrap(),
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

    /// The rotation id the run told the user to resume (`journal resume ID`).
    pub fn resume_id(&self) -> String {
        let after = self
            .stderr
            .split("journal resume ")
            .nth(1)
            .unwrap_or_else(|| panic!("no resume hint in: {}", self.stderr));
        after.split('`').next().unwrap().trim().to_owned()
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
    /// `rotate tunnel` of the world's tunnel onto its instance, `--yes` when `confirmed`.
    pub fn tunnel_rotation(&self, confirmed: bool) -> Vec<&str> {
        let mut args = vec!["rotate", "tunnel"];
        if confirmed {
            args.push("--yes");
        }
        args.extend([
            "--hostname",
            self.tunnel.hostname.as_str(),
            "--instance",
            self.tunnel.instance_base.as_str(),
        ]);
        args
    }

    /// `journal resume ID --yes` with the secrets given again, but not the new token: the
    /// journal holds it.
    pub async fn resume_from_journal(&self, id: &str) -> Out {
        self.run_with(&["journal", "resume", id, "--yes"], None, |c| {
            c.env_remove("ATLASSIAN_NEW_API_TOKEN");
        })
        .await
    }

    /// An Admin API key pair in the world's org, both with `scopes`: the old key (`ops`)
    /// expiring in 20 days, and its successor (`ops-2027`) in `new_valid_days`.
    pub fn admin_key_pair(
        &self,
        scopes: &[&str],
        new_valid_days: i64,
    ) -> (
        atlassian_rotation::testing::FakeAdminKey,
        atlassian_rotation::testing::FakeAdminKey,
    ) {
        let now = time::OffsetDateTime::now_utc();
        let old =
            self.fake
                .mint_admin_key(&self.org.id, "ops", scopes, now + time::Duration::days(20));
        let new = self.fake.mint_admin_key(
            &self.org.id,
            "ops-2027",
            scopes,
            now + time::Duration::days(new_valid_days),
        );
        (old, new)
    }

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
                self.new.token().expose_secret().to_owned(),
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
        for creds in [&self.old, &self.new, &self.caller] {
            let pair = format!("{}:{}", creds.email(), creds.token().expose_secret());
            all.push(base64_of(&pair));
        }
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

    /// The flags of a token rotation that revokes the old token by id. The seed hides masked
    /// values in rules without the token: known not to use it (`--accept-unreadable`).
    pub fn revoke_flags(&self) -> Vec<String> {
        [
            "--token-email",
            self.old.email(),
            "--revoke",
            "--account-id",
            &self.svc.account_id,
            "--old-token-id",
            &self.old_id,
            "--accept-unreadable",
        ]
        .map(str::to_owned)
        .to_vec()
    }

    /// `rotate token --yes` with [`Self::revoke_flags`] and `extra`.
    pub async fn rotate_token(&self, extra: &[&str]) -> Out {
        let flags = self.revoke_flags();
        let mut args = vec!["rotate", "token", "--yes"];
        args.extend(flags.iter().map(String::as_str));
        args.extend(extra);
        self.run(&args).await
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
