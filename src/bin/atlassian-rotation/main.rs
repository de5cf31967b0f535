//! `atlassian-rotation`: the command-line tool for admins, built on the library's public API.
//!
//! Install with `cargo install atlassian-rotation --features cli`; see `--help`.

mod args;
mod connect;
mod exit;
mod expiring;
mod journal;
mod output;
mod plan;
mod progress;
mod rotate;
mod secrets;
mod settings;
mod who_uses;

use std::io::IsTerminal as _;
use std::process::ExitCode;

use clap::{CommandFactory as _, Parser as _};

use args::{Cli, Command, Rotate};
use exit::{CliError, CliResult};
use output::Output;
use progress::Reporter;
use secrets::{Secret, Secrets};
use settings::Settings;

/// What every subcommand works with.
pub struct Ctx {
    pub settings: Settings,
    pub secrets: Secrets,
    pub out: Output,
    pub progress: Reporter,
}

fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    if let Err(e) = settings::refuse_credentials_in_args(&args) {
        eprintln!("atlassian-rotation: error: {e}");
        return ExitCode::from(e.code as u8);
    }
    let cli = Cli::parse();
    if let Command::Completions(args) = &cli.command {
        let mut command = Cli::command();
        clap_complete::generate(
            args.shell,
            &mut command,
            "atlassian-rotation",
            &mut std::io::stdout(),
        );
        return ExitCode::SUCCESS;
    }
    init_tracing();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let line = output::printable(&e.message.replace(['\n', '\r'], " "), false);
            eprintln!("atlassian-rotation: error: {line}");
            ExitCode::from(e.code as u8)
        }
    }
}

/// Logs to stderr, filtered by RUST_LOG (off by default). The library never logs a secret.
fn init_tracing() {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}

/// The secrets this command line reads from stdin.
fn stdin_secrets(cli: &Cli) -> Vec<Secret> {
    let g = &cli.global;
    let mut flags = vec![
        (g.api_token_stdin, Secret::ApiToken),
        (g.admin_key_stdin, Secret::AdminKey),
    ];
    match &cli.command {
        Command::WhoUses(a) => flags.push((a.old.old_token_stdin, Secret::OldApiToken)),
        Command::Plan(a) => {
            flags.push((a.token.old.old_token_stdin, Secret::OldApiToken));
            flags.push((a.token.new_token_stdin, Secret::NewApiToken));
        }
        Command::Rotate(Rotate::Token(a)) => {
            flags.push((a.token.old.old_token_stdin, Secret::OldApiToken));
            flags.push((a.token.new_token_stdin, Secret::NewApiToken));
        }
        Command::Rotate(Rotate::Tunnel(a)) => flags.push((a.dc_token_stdin, Secret::DcToken)),
        Command::Rotate(Rotate::AdminKey(a)) => {
            flags.push((a.new_admin_key_stdin, Secret::NewAdminKey));
        }
        Command::Journal(args::JournalCmd::Resume(a)) => {
            flags.push((a.old_token_stdin, Secret::OldApiToken));
            flags.push((a.new_token_stdin, Secret::NewApiToken));
            flags.push((a.new_admin_key_stdin, Secret::NewAdminKey));
            flags.push((a.dc_token_stdin, Secret::DcToken));
        }
        Command::Expiring(_) | Command::Journal(_) | Command::Completions(_) => {}
    }
    flags
        .into_iter()
        .filter(|(on, _)| *on)
        .map(|(_, s)| s)
        .collect()
}

fn run(cli: Cli) -> CliResult {
    let mut ctx = Ctx {
        settings: Settings::resolve(&cli.global)?,
        secrets: Secrets::new(stdin_secrets(&cli)),
        out: Output {
            json: cli.global.json,
            quiet: cli.global.quiet,
        },
        progress: Reporter::new(cli.global.quiet),
    };
    // SAFETY: no other thread runs yet: the async runtime starts below.
    unsafe { ctx.secrets.take_environment() };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::failed(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(async move {
        match cli.command {
            Command::WhoUses(args) => who_uses::run(args, &mut ctx).await,
            Command::Expiring(args) => expiring::run(args, &mut ctx).await,
            Command::Plan(args) => plan::run(args, &mut ctx).await,
            Command::Rotate(Rotate::Token(args)) => rotate::token(args, &mut ctx).await,
            Command::Rotate(Rotate::Tunnel(args)) => rotate::tunnel(args, &mut ctx).await,
            Command::Rotate(Rotate::AdminKey(args)) => rotate::admin_key(args, &mut ctx).await,
            Command::Journal(command) => journal::run(command, &mut ctx).await,
            Command::Completions(_) => Ok(()),
        }
    })
}
