//! vault-ci: short-lived, scoped AWS credentials for CI jobs.
//!
//! identity (CI OIDC token or static keys) → hops (STS) → sinks. `main` reads
//! the command line and the environment once, runs the command and maps its
//! error to an exit code: 0 ok, the child's status under `--`, 1 runtime
//! failure, 2 bad usage.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use vault_ci::cli::{self, Command, variables};
use vault_ci::{cmd, env, platform, text, workflow};

fn main() -> ExitCode {
    hide_panic_payloads();
    platform::not_dumpable();
    // The SDK logs whole request and response bodies — every hop's credentials —
    // when this is set, whatever the log filter says.
    // SAFETY: nothing else runs yet: no thread reads the environment meanwhile.
    unsafe { std::env::remove_var("LOG_SENSITIVE_BODIES") };
    accept_singular_account_ids();
    let cli = match cli::parse() {
        Ok(cli) => cli,
        Err(err) => return usage_error(err, &env::Env::capture()),
    };
    let env = env::Env::capture();
    init_logging(cli.verbose, cli.quiet, &env);
    if let Err(err) = variables::check(&env) {
        eprintln!("vault-ci: {err}");
        workflow::Workflow::from_env(&env).annotate(&err);
        return err.exit_code();
    }
    let result = match cli.command {
        Command::Assume(args) => cmd::assume::run(*args, &env),
        Command::Token(args) => cmd::token::run(*args, &env),
        Command::TrustPolicy(args) => cmd::trust_policy::run(*args),
        Command::Stop => cmd::stop::run(&env),
    };
    // A refusal of a value a VAULT_CI_* variable (or the action's input) gave says so.
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let result = result.map_err(|err| err.map_message(|m| variables::attribute(m, &argv, &env)));
    match result {
        Ok(exit) => exit.finish(),
        Err(err) => {
            eprintln!("vault-ci: {err}");
            workflow::Workflow::from_env(&env).annotate(&err);
            err.exit_code()
        }
    }
}

/// Command-line mistakes look like every other error: `vault-ci: ` and one
/// line, then clap's usage and tips indented below it. Help and version are
/// printed as clap prints them.
fn usage_error(err: clap::Error, env: &env::Env) -> ExitCode {
    use clap::error::{ContextKind, ErrorKind};
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
    // A bad value a VAULT_CI_* variable gave is told as that variable's.
    if let Some(clap::error::ContextValue::String(arg)) = err.get(ContextKind::InvalidArg)
        && let Some(flag) = arg.split([' ', '=']).next()
        && let Some(variable) =
            variables::origin(flag, &std::env::args_os().collect::<Vec<_>>(), env)
    {
        first = first.replacen(
            &format!("for '{arg}'"),
            &format!("in {variable} (for {flag})"),
            1,
        );
    }
    eprintln!("vault-ci: {}", text::one_line(&first));
    for line in lines {
        eprintln!("  {}", text::one_line(line.trim()));
    }
    ExitCode::from(2)
}

/// A panic message could quote a value it was handed; only the place is shown.
/// Then the process ends with the status an unwound panic has (101), in every
/// build: the release's (Cargo.toml's `dist` profile, `panic = "abort"`) would
/// otherwise die by SIGABRT, which can write a core file holding credentials.
fn hide_panic_payloads() {
    std::panic::set_hook(Box::new(|info| {
        let place = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!(
            "vault-ci: internal error at {place}; please report it (the details are withheld because they may hold a secret)"
        );
        std::process::exit(101);
    }));
}

/// Logs go to stderr. `VAULT_CI_LOG` or `RUST_LOG` take a full filter; otherwise
/// -v / -vv raise vault-ci's level, and -vv also shows the SDK's debug lines.
/// The SDK's logging of whole request and response bodies is off whatever the
/// filter says: those bodies hold every hop's credentials.
fn init_logging(verbose: u8, quiet: bool, env: &env::Env) {
    // The SDK's profile-file loader warns of an AWS_CONFIG_FILE that does not
    // exist, and its instance-metadata provider of an instance without a role;
    // for vault-ci (it reads those only as a last resort, and says what the job
    // lacks) that is no news: shown from -v on.
    let default = match (quiet, verbose) {
        (true, _) => "warn,aws_runtime::env_config=error,aws_config::imds=error",
        (false, 0) => "warn,aws_runtime::env_config=error,aws_config::imds=error,vault_ci=info",
        (false, 1) => "warn,vault_ci=debug",
        (false, _) => "debug,vault_ci=trace",
    };
    // `target=level` directives (tracing-subscriber's Targets): RUST_LOG as most
    // tools write it, without EnvFilter's span and field filters, whose regex
    // engine was a twentieth of the binary.
    let filter = ["VAULT_CI_LOG", "RUST_LOG"]
        .iter()
        .find_map(|var| env.get(var))
        .and_then(|spec| spec.parse::<Targets>().ok())
        .unwrap_or_else(|| default.parse().expect("the default filters parse"));
    tracing_subscriber::fmt()
        // The filter below decides; fmt's own default would stop at info.
        .with_max_level(tracing::Level::TRACE)
        .with_writer(|| OneLinePerEvent(std::io::stderr()))
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .without_time()
        .finish()
        .with(filter)
        .init();
}

/// Each log event is one line, whatever text from outside it quotes: a line
/// break in an STS message cannot start a line the CI reads as a command.
struct OneLinePerEvent<W: Write>(W);

impl<W: Write> Write for OneLinePerEvent<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        let (body, end) = match text.strip_suffix('\n') {
            Some(body) => (body, "\n"),
            None => (&*text, ""),
        };
        // Only line breaks: the colours of a terminal are escape sequences too.
        let body = body.replace('\n', "\\n").replace('\r', "\\r");
        self.0.write_all(format!("{body}{end}").as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

/// `VAULT_CI_ALLOWED_ACCOUNT_ID`, the name the option's rule gives, is taken as
/// the action's `VAULT_CI_ALLOWED_ACCOUNT_IDS` (the one clap reads) when that is
/// not set; set to another value, [`variables::check`] refuses the two.
fn accept_singular_account_ids() {
    let plural = "VAULT_CI_ALLOWED_ACCOUNT_IDS";
    if let Some(value) = std::env::var_os(variables::SINGULAR_ACCOUNT_IDS)
        && std::env::var_os(plural).is_none()
    {
        // SAFETY: nothing else runs yet: no thread reads the environment meanwhile.
        unsafe { std::env::set_var(plural, value) };
    }
}
