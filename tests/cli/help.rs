//! `--help` of every subcommand shows examples; the main help documents the exit codes;
//! completions are printed for a shell.

use std::process::Command;

use crate::support::BIN;

fn help(args: &[&str]) -> String {
    let output = Command::new(BIN).args(args).arg("--help").output().unwrap();
    assert!(output.status.success(), "{args:?} --help failed");
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn every_subcommand_help_has_an_example() {
    for args in [
        &["who-uses"][..],
        &["expiring"],
        &["plan"],
        &["rotate"],
        &["journal"],
        &["rotate", "token"],
        &["rotate", "tunnel"],
        &["rotate", "admin-key"],
        &["journal", "list"],
        &["journal", "show"],
        &["journal", "resume"],
        &["journal", "abandon"],
        &["completions"],
    ] {
        let text = help(args);
        assert!(
            text.contains("Examples:\n  "),
            "{args:?} --help has no example:\n{text}"
        );
        assert!(text.contains("atlassian-rotation "), "{args:?}:\n{text}");
    }
}

#[test]
fn the_main_help_documents_the_exit_codes_and_hides_the_test_flags() {
    let text = help(&[]);
    for line in [
        "0  done",
        "1  failed",
        "2  usage error",
        "3  incomplete but resumable",
        "4  refused",
    ] {
        assert!(text.contains(line), "no `{line}` in:\n{text}");
    }
    assert!(!text.contains("--automation-base"), "{text}");
}

#[test]
fn a_usage_error_exits_2() {
    let output = Command::new(BIN)
        .args(["rotate", "token", "--no-such-flag"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn completions_are_printed_for_bash() {
    let output = Command::new(BIN)
        .args(["completions", "bash"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let script = String::from_utf8(output.stdout).unwrap();
    assert!(script.contains("complete -F"), "{script}");
    assert!(script.contains("who-uses"));
}
