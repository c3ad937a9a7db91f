//! vault-ci: short-lived, scoped AWS credentials for CI jobs.
//!
//! identity (CI OIDC token or static keys) → hops (STS) → sinks. `main` parses
//! the command line, runs the command and maps its error to an exit code:
//! 0 ok, the child's status under `--`, 1 runtime failure, 2 bad usage.

mod arn;
mod cli;
mod cmd;
mod error;
mod hop;
mod identity;
mod net;
mod refresh;
mod retry;
mod secret;
mod sink;
mod trust;
mod validate;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

use cli::{Cli, Command};

fn main() -> ExitCode {
    hide_panic_payloads();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => return usage_error(err),
    };
    init_logging(cli.verbose, cli.quiet);
    let result = match cli.command {
        Command::Assume(args) => cmd::assume::run(*args),
        Command::Token(args) => cmd::token::run(args),
        Command::TrustPolicy(args) => cmd::trust_policy::run(*args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("vault-ci: {err}");
            if cmd::in_github_actions() {
                println!("{}", err.github_annotation());
            }
            err.exit_code()
        }
    }
}

/// Command-line mistakes look like every other error: `vault-ci: ` and one
/// line, then clap's usage and tips indented below it. Help and version are
/// printed as clap prints them.
fn usage_error(err: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(
        err.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        err.exit();
    }
    let text = err.render().to_string();
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let mut first = lines
        .next()
        .unwrap_or_default()
        .trim_start_matches("error: ")
        .to_string();
    // "the following required arguments were not provided:" lists them below.
    if first.ends_with(':')
        && let Some(next) = lines.next()
    {
        first = format!("{first} {}", next.trim());
    }
    eprintln!("vault-ci: {first}");
    for line in lines {
        eprintln!("  {}", line.trim());
    }
    ExitCode::from(2)
}

/// A panic message could quote a value it was handed; only the place is shown.
fn hide_panic_payloads() {
    std::panic::set_hook(Box::new(|info| {
        let place = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!(
            "vault-ci: internal error at {place}; please report it (the details are withheld because they may hold a secret)"
        );
    }));
}

/// Logs go to stderr. `VAULT_CI_LOG` or `RUST_LOG` take a full filter; otherwise
/// -v / -vv raise vault-ci's level, and -vv also shows the SDK's debug lines.
fn init_logging(verbose: u8, quiet: bool) {
    let default = match (quiet, verbose) {
        (true, _) => "warn",
        (false, 0) => "warn,vault_ci=info",
        (false, 1) => "warn,vault_ci=debug",
        (false, _) => "debug,vault_ci=trace",
    };
    let filter = ["VAULT_CI_LOG", "RUST_LOG"]
        .iter()
        .find_map(|var| std::env::var(var).ok().filter(|v| !v.is_empty()))
        .and_then(|spec| EnvFilter::try_new(spec).ok())
        .unwrap_or_else(|| EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .without_time()
        .init();
}
