//! Consumers: files stay 0600 and byte-exact, commands see the credential on stdin only, and a
//! rotation installs into every consumer, verifies each, and resumes without touching the ones
//! already done.

use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::Path;
use std::time::Duration;

use atlassian_rotation::Error;
use atlassian_rotation::consumer::{
    CommandConsumer, Consumer, CredentialView, FileConsumer, FnConsumer,
};

const SECRET: &str = "ATATT3xFfGF0-consumer-secret";

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn view() -> CredentialView<'static> {
    CredentialView::new(SECRET)
}

/// No temporary file is left beside the target.
fn only_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn files_end_up_0600_through_every_path() {
    let dir = tempfile::tempdir().unwrap();
    // A new file, an existing world-readable one, an unchanged install, a restore.
    let fresh = dir.path().join("fresh");
    let env = dir.path().join(".env");
    std::fs::write(&env, "A=1\nJIRA_TOKEN=old\n").unwrap();
    std::fs::set_permissions(&env, std::fs::Permissions::from_mode(0o644)).unwrap();
    let whole = FileConsumer::whole(&fresh);
    let dotenv = FileConsumer::dotenv(&env, "JIRA_TOKEN");
    whole.install(view()).await.unwrap();
    dotenv.install(view()).await.unwrap();
    assert_eq!(mode(&fresh), 0o600);
    assert_eq!(mode(&env), 0o600);
    assert_eq!(std::fs::read_to_string(&fresh).unwrap(), SECRET);
    assert_eq!(
        std::fs::read_to_string(&env).unwrap(),
        format!("A=1\nJIRA_TOKEN={SECRET}\n")
    );
    // Installing again changes nothing, not even the inode.
    let inode = std::fs::metadata(&env).unwrap().ino();
    dotenv.install(view()).await.unwrap();
    assert_eq!(std::fs::metadata(&env).unwrap().ino(), inode);
    // Restore puts the old bytes back, still 0600.
    assert!(dotenv.restore().await.unwrap());
    assert_eq!(
        std::fs::read_to_string(&env).unwrap(),
        "A=1\nJIRA_TOKEN=old\n"
    );
    assert_eq!(mode(&env), 0o600);
    assert_eq!(only_files(dir.path()), [".env", "fresh"]);
}

#[tokio::test]
async fn a_symlinked_file_is_replaced_behind_its_link() {
    let dir = tempfile::tempdir().unwrap();
    let real = dir.path().join("real.json");
    std::fs::write(&real, r#"{"t": "old", "n": 1.0}"#).unwrap();
    let link = dir.path().join("link.json");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let consumer = FileConsumer::json_pointer(&link, "/t");
    consumer.install(view()).await.unwrap();
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(
        std::fs::read_to_string(&real).unwrap(),
        format!(r#"{{"t": "{SECRET}", "n": 1.0}}"#)
    );
    assert_eq!(consumer.holds(view()).await.unwrap(), Some(true));
    assert_eq!(
        consumer.holds(CredentialView::new("other")).await.unwrap(),
        Some(false)
    );
}

#[tokio::test]
async fn a_bad_file_fails_naming_the_consumer_without_the_secret() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.json");
    std::fs::write(&path, r#"{"t": 5}"#).unwrap();
    let consumer = FileConsumer::json_pointer(&path, "/t");
    let err = consumer.install(view()).await.unwrap_err();
    let text = format!("{err} {err:?} {consumer:?}");
    assert!(matches!(err, Error::Consumer { .. }), "{text}");
    assert!(text.contains("app.json (/t)"), "{text}");
    assert!(!text.contains(SECRET), "{text}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), r#"{"t": 5}"#);
}

#[tokio::test]
async fn a_command_sees_the_credential_on_stdin_only() {
    let dir = tempfile::tempdir().unwrap();
    let (stdin, cmdline, environ) = (
        dir.path().join("stdin"),
        dir.path().join("cmdline"),
        dir.path().join("environ"),
    );
    // The child records what it received and its own /proc view of argv and environment.
    let consumer = CommandConsumer::new("sh").args([
        "-c".into(),
        r#"cat > "$1"; cat /proc/self/cmdline > "$2"; cat /proc/$$/cmdline >> "$2"; cat /proc/$$/environ > "$3""#.to_owned(),
        "sh".into(),
        stdin.display().to_string(),
        cmdline.display().to_string(),
        environ.display().to_string(),
    ]);
    consumer.install(view()).await.unwrap();
    assert_eq!(std::fs::read_to_string(&stdin).unwrap(), SECRET);
    let argv = std::fs::read(&cmdline).unwrap();
    let env = std::fs::read(&environ).unwrap();
    assert!(
        !argv.is_empty() && !env.is_empty(),
        "the child recorded its /proc view"
    );
    for (what, bytes) in [("argv", &argv), ("environ", &env)] {
        assert!(
            !bytes.windows(SECRET.len()).any(|w| w == SECRET.as_bytes()),
            "the secret reached the child's {what}"
        );
    }
    assert_eq!(
        consumer.holds(view()).await.unwrap(),
        None,
        "not observable"
    );
}

#[tokio::test]
async fn a_failing_command_names_itself_and_its_stderr_is_redacted() {
    let consumer =
        CommandConsumer::new("sh").args(["-c", r#"echo "rejected token $(cat)" >&2; exit 3"#]);
    let err = consumer.install(view()).await.unwrap_err();
    let text = format!("{err} {err:?}");
    assert!(matches!(err, Error::Consumer { .. }), "{text}");
    assert!(text.contains("command sh -c"), "{text}");
    assert!(text.contains("exit status: 3"), "{text}");
    assert!(text.contains("rejected token [redacted]"), "{text}");
    assert!(!text.contains(SECRET), "{text}");
}

#[tokio::test(start_paused = true)]
async fn a_command_that_hangs_is_killed_at_its_timeout() {
    let consumer = CommandConsumer::new("sleep")
        .args(["600"])
        .timeout(Duration::from_secs(5));
    let err = consumer.install(view()).await.unwrap_err();
    assert!(err.to_string().contains("was killed"), "{err}");
}

#[tokio::test]
async fn a_verify_command_makes_a_command_observable() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let consumer = CommandConsumer::new("sh")
        .args(["-c", r#"cat > "$0""#, &store.display().to_string()])
        .verify_with(
            "sh",
            [
                "-c",
                r#"[ "$(cat "$0")" = "$(cat)" ]"#,
                &store.display().to_string(),
            ],
        );
    consumer.install(view()).await.unwrap();
    assert_eq!(consumer.holds(view()).await.unwrap(), Some(true));
    assert_eq!(
        consumer.holds(CredentialView::new("other")).await.unwrap(),
        Some(false)
    );
}

#[tokio::test]
async fn no_consumer_shows_the_credential_in_debug() {
    let dir = tempfile::tempdir().unwrap();
    let file = FileConsumer::whole(dir.path().join("t"));
    file.install(view()).await.unwrap();
    let func = FnConsumer::new("pool", |_| async { Ok(()) });
    let text = format!("{file:?} {func:?} {:?}", view());
    assert!(!text.contains(SECRET), "{text}");
}

#[tokio::test]
async fn a_command_flooding_stderr_finishes_and_succeeds() {
    // 300 kB of stderr, far more than a pipe holds, then the credential is read and the
    // command succeeds. (A real-time timeout only bounds a failure: the command takes
    // milliseconds.)
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let consumer = CommandConsumer::new("sh")
        .args([
            "-c",
            r#"head -c 300000 /dev/zero | tr '\0' x >&2; cat > "$0""#,
            &store.display().to_string(),
        ])
        .timeout(Duration::from_secs(30));
    consumer.install(view()).await.unwrap();
    assert_eq!(std::fs::read_to_string(&store).unwrap(), SECRET);
}

#[tokio::test]
async fn a_command_echoing_the_credential_past_the_captured_stderr_shows_no_part_of_it() {
    // The credential straddles the end of what is captured of stderr (64 KiB).
    let consumer = CommandConsumer::new("sh").args([
        "-c",
        r#"head -c 65524 /dev/zero | tr '\0' x >&2; printf '%s' "$(cat)" >&2; exit 3"#,
    ]);
    let err = consumer.install(view()).await.unwrap_err();
    let text = format!("{err} {err:?}");
    assert!(text.contains("exit status: 3"), "{}", &text[..200]);
    assert!(
        !text.contains(&SECRET[..12]),
        "a part of the credential shows in the error"
    );
}

#[tokio::test]
async fn restore_puts_back_only_the_one_value_and_never_over_a_newer_one() {
    let dir = tempfile::tempdir().unwrap();
    let env = dir.path().join(".env");
    std::fs::write(&env, "A=1\nJIRA_TOKEN=old\n").unwrap();
    let consumer = FileConsumer::dotenv(&env, "JIRA_TOKEN");
    consumer.install(view()).await.unwrap();
    // Someone changes another line after the install: restoring keeps their edit.
    std::fs::write(&env, format!("A=2\nJIRA_TOKEN={SECRET}\n")).unwrap();
    assert!(consumer.restore().await.unwrap());
    assert_eq!(
        std::fs::read_to_string(&env).unwrap(),
        "A=2\nJIRA_TOKEN=old\n"
    );
    assert_eq!(mode(&env), 0o600);

    // A newer credential put there since the install is never replaced by the old one.
    for (consumer, path, newer) in [
        (
            FileConsumer::dotenv(&env, "JIRA_TOKEN"),
            &env,
            "A=2\nJIRA_TOKEN=newer\n",
        ),
        (FileConsumer::whole(&env), &env, "newer\n"),
    ] {
        consumer.install(view()).await.unwrap();
        std::fs::write(path, newer).unwrap();
        assert!(!consumer.restore().await.unwrap(), "{newer:?}");
        assert_eq!(std::fs::read_to_string(path).unwrap(), newer);
    }
}

#[tokio::test]
async fn a_file_keeps_its_owner_and_group() {
    // A rotation run as root writes a file its service reads as its own user.
    let dir = tempfile::tempdir().unwrap();
    let env = dir.path().join(".env");
    std::fs::write(&env, "JIRA_TOKEN=old\n").unwrap();
    if std::os::unix::fs::chown(&env, Some(4242), Some(4343)).is_err() {
        eprintln!("skipped: changing a file's owner needs root");
        return;
    }
    let consumer = FileConsumer::dotenv(&env, "JIRA_TOKEN");
    consumer.install(view()).await.unwrap();
    let meta = std::fs::metadata(&env).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (4242, 4343));
    assert_eq!(mode(&env), 0o600);
    assert_eq!(consumer.holds(view()).await.unwrap(), Some(true));
}

#[tokio::test]
async fn a_dropped_install_leaves_no_process_of_the_command_behind() {
    // `sh -c` runs the real tool as its child: dropping the install (the rotation cancelled,
    // or its timeout) must end that one too. The tool holds a FIFO open for writing, so the
    // test sees it die as an end of file; the shell hands over the ids through another FIFO.
    // No clock involved.
    let dir = tempfile::tempdir().unwrap();
    let (fifo, pids) = (dir.path().join("fifo"), dir.path().join("pids"));
    for path in [&fifo, &pids] {
        assert!(
            std::process::Command::new("mkfifo")
                .arg(path)
                .status()
                .unwrap()
                .success()
        );
    }
    let consumer = CommandConsumer::new("sh").args([
        "-c".to_owned(),
        r#"sleep 600 > "$0" & echo $$ $! > "$1"; wait"#.to_owned(),
        fifo.display().to_string(),
        pids.display().to_string(),
    ]);
    let install = tokio::spawn(async move { consumer.install(view()).await });
    let (opened, is_open) = tokio::sync::oneshot::channel();
    let reader = tokio::task::spawn_blocking(move || {
        use std::io::Read as _;
        let pids = std::fs::read_to_string(pids).unwrap();
        let mut fifo = std::fs::File::open(fifo).unwrap();
        opened.send(pids).unwrap();
        let mut rest = Vec::new();
        fifo.read_to_end(&mut rest).unwrap();
    });
    let pids: Vec<u32> = is_open
        .await
        .unwrap()
        .split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect();
    let [shell, tool] = pids[..] else {
        panic!("{pids:?}")
    };
    install.abort();
    assert!(install.await.unwrap_err().is_cancelled());
    // A real-time bound on a failure only: the tool dies within milliseconds when it is killed.
    let ended = tokio::time::timeout(Duration::from_secs(20), reader).await;
    if ended.is_err() {
        // The test's own leftover, by its id, before failing.
        let _ = std::process::Command::new("kill")
            .args(["-KILL", &tool.to_string()])
            .status();
    }
    assert!(
        ended.is_ok(),
        "the command's child outlived the dropped install (shell {shell})"
    );
}

#[tokio::test]
async fn a_link_to_a_file_not_there_yet_stays_a_link_and_the_file_it_names_is_written() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("secrets")).unwrap();
    let link = dir.path().join("token");
    std::os::unix::fs::symlink("secrets/jira", &link).unwrap();
    let consumer = FileConsumer::whole(&link);
    consumer.install(view()).await.unwrap();
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink(),
        "the link was replaced by a file"
    );
    let real = dir.path().join("secrets/jira");
    assert_eq!(std::fs::read_to_string(&real).unwrap(), SECRET);
    assert_eq!(mode(&real), 0o600);
    assert_eq!(consumer.holds(view()).await.unwrap(), Some(true));
}
