//! Under a pseudo-terminal: the hidden prompt for a secret, the confirmation before a
//! revocation, and the progress bar with rate and ETA. Timeouts are generous: they bound a
//! hung run, they measure nothing.

use std::time::Duration;

use rexpect::process::wait::WaitStatus;
use rexpect::session::{PtySession, spawn_command};

use crate::support::world;

const TIMEOUT_MS: u64 = 60_000;

/// Waits for the end of the session and returns its exit code and everything it printed last.
fn finish(mut session: PtySession) -> (i32, String) {
    let rest = session.exp_eof().expect("the tool ends");
    match session.process.wait().expect("the tool's status") {
        WaitStatus::Exited(_, code) => (code, rest),
        other => panic!("the tool did not exit: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_secret_is_asked_for_without_echo() {
    let w = world(12).await;
    let mut command = w.std_command(&["who-uses"]);
    command.env_remove("ATLASSIAN_OLD_API_TOKEN");
    let token = w.old.token().expose_secret().to_owned();
    let first_rule = w.holding[0].clone();
    let (code, seen) = tokio::task::spawn_blocking(move || {
        let mut session = spawn_command(command, Some(TIMEOUT_MS)).unwrap();
        let mut seen = session.exp_string("The old API token: ").unwrap();
        session.send_line(&token).unwrap();
        seen.push_str(&session.exp_string(&first_rule).unwrap());
        let (code, rest) = finish(session);
        seen.push_str(&rest);
        assert!(!seen.contains(&token), "the prompt echoed the token");
        (code, seen)
    })
    .await
    .unwrap();
    assert_eq!(code, 0, "{seen}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_revocation_is_asked_on_a_terminal_and_no_refuses_it() {
    let w = world(8).await;
    let command = w.std_command(&[
        "rotate",
        "token",
        "--token-email",
        w.old.email(),
        "--revoke",
        "--account-id",
        &w.svc.account_id,
        "--old-token-id",
        &w.old_id,
    ]);
    let (code, seen) = tokio::task::spawn_blocking(move || {
        let mut session = spawn_command(command, Some(TIMEOUT_MS)).unwrap();
        let seen = session.exp_string("[y/N]").unwrap();
        session.send_line("n").unwrap();
        let (code, rest) = finish(session);
        (code, seen + &rest)
    })
    .await
    .unwrap();
    assert_eq!(code, 4, "{seen}");
    assert!(seen.contains("not confirmed"), "{seen}");
    assert_eq!(w.rule_writes(), 0);
    assert!(w.fake.token_is_live(w.old.token()));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_long_scan_shows_a_progress_bar_with_rate_and_eta() {
    let w = world(60).await;
    // Slow enough that the bar is drawn several times.
    w.fake.set_wall_clock_latency(Duration::from_millis(40));
    let command = w.std_command(&["who-uses", "--json", "--concurrency", "1"]);
    let (code, seen) = tokio::task::spawn_blocking(move || {
        let mut session = spawn_command(command, Some(TIMEOUT_MS)).unwrap();
        let mut seen = session.exp_string("ETA").unwrap();
        seen.push_str(&session.exp_string("/s").unwrap());
        let (code, rest) = finish(session);
        (code, seen + &rest)
    })
    .await
    .unwrap();
    assert_eq!(code, 0, "{seen}");
    assert!(
        seen.contains("/60 rules"),
        "the bar knows the total: {seen}"
    );
}
