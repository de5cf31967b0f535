//! The `atlassian-rotation` tool driven as an admin would, against the fake in this process:
//! each subcommand's output and exit code, the three-command journey, a resume after a
//! failure, JSON that parses, no secret in any output at `RUST_LOG=trace`, the profile, and
//! the prompt and progress bar under a pseudo-terminal.

#[path = "support/mod.rs"]
mod shared;
#[path = "cli/support.rs"]
mod support;

#[path = "cli/help.rs"]
mod help;
#[path = "cli/journal.rs"]
mod journal;
#[path = "cli/journey.rs"]
mod journey;
#[path = "cli/profile.rs"]
mod profile;
#[cfg(unix)]
#[path = "cli/pty.rs"]
mod pty;
#[cfg(unix)]
#[path = "cli/review.rs"]
mod review;
#[path = "cli/rotate_others.rs"]
mod rotate_others;
#[path = "cli/secrets.rs"]
mod secrets;
#[path = "cli/watch.rs"]
mod watch;
#[path = "cli/who_uses.rs"]
mod who_uses;
