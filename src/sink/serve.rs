//! `--serve`: a credentials server for every later step of the job.
//!
//! The step's vault-ci runs the chain once, starts a second vault-ci in the
//! background (the same arguments, and the marker VAULT_CI_SERVE_DAEMON) and
//! hands it the credentials through a pipe; the daemon opens the endpoint on
//! 127.0.0.1 with a token of its own and answers with where it listens. Then
//! the step's destinations ($GITHUB_ENV, $BASH_ENV, an env file) get the
//! endpoint's URI and token instead of keys, and the step ends.
//!
//! The daemon is in a session of its own, so the end of the step (a hang-up
//! under act, the step's process group elsewhere) does not end it; it ends when
//! the job does: `vault-ci stop`, the runner's clean-up of a job's processes,
//! the job's runner process ending, or its own limits (`--serve-idle`,
//! `--serve-max`). Its log, with nothing secret in it, is in the runner's temp
//! directory ($VAULT_CI_SERVE_LOG).

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, UNIX_EPOCH};

use serde_json::{Value, json};

use super::{Output, Served};
use crate::env::Env;
use crate::error::{Error, Result};
use crate::secret::{Credentials, Secret};

/// Marks the background vault-ci; its value is the process to watch, if any.
pub const DAEMON: &str = "VAULT_CI_SERVE_DAEMON";

/// Starts the daemon with `first`, and says where it serves.
pub fn start(first: &Output, env: &Env) -> Result<Served> {
    let fail =
        |what: &str, e: &dyn std::fmt::Display| Error::sink(format!("--serve: cannot {what}: {e}"));
    let log = log_path(env);
    let log_file = crate::files::open_append(&log).map_err(|e| fail("open its log", &e))?;
    let exe = std::env::current_exe().map_err(|e| fail("find its own program", &e))?;
    let mut command = Command::new(exe);
    command
        .args(std::env::args_os().skip(1))
        .env(
            DAEMON,
            watched().map(|pid| pid.to_string()).unwrap_or_default(),
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(log_file);
    detach(&mut command);
    let mut child = command.spawn().map_err(|e| fail("start", &e))?;
    let mut stdin = child.stdin.take().expect("stdin is piped");
    stdin
        .write_all(format!("{}\n", to_json(first)).as_bytes())
        .map_err(|e| fail("hand the credentials over", &e))?;
    drop(stdin);
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout is piped"))
        .read_line(&mut line)
        .map_err(|e| fail("hear from the server", &e))?;
    let ready: Value = serde_json::from_str(&line).map_err(|_| {
        Error::sink(format!(
            "--serve: the server did not start; its log ({}) says why",
            log.display()
        ))
    })?;
    let field = |name: &str| ready[name].as_str().map(str::to_string);
    let (Some(uri), Some(token)) = (field("uri"), field("token")) else {
        return Err(Error::sink(
            "--serve: the server answered without its address",
        ));
    };
    tracing::info!(
        "serving refreshing credentials to the job's later steps at {uri} (process {}); log: {}",
        child.id(),
        log.display()
    );
    let token = Secret::new(token);
    let token_file = match env.has("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE") {
        true => Some(write_token_file(&log, &token)?),
        false => None,
    };
    Ok(Served {
        uri,
        token,
        log,
        token_file,
    })
}

/// The variables later steps need: the server's address and token, the region,
/// and empty values for the keys and web-identity settings an earlier step may
/// have left (every SDK takes an empty one as unset). Variables that cannot be
/// made harmless by emptying them (a profile name, a relative container URI)
/// were refused by the plan.
pub fn later_step_variables(out: &Output, served: &Served) -> Vec<(&'static str, String)> {
    let mut vars = vec![
        ("AWS_CONTAINER_CREDENTIALS_FULL_URI", served.uri.clone()),
        (
            "AWS_CONTAINER_AUTHORIZATION_TOKEN",
            served.token.expose().to_string(),
        ),
    ];
    if let Some(file) = &served.token_file {
        vars.push((
            "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
            file.display().to_string(),
        ));
    }
    vars.extend(out.region_variables());
    for name in BLANKED {
        vars.push((name, String::new()));
    }
    vars.push(("VAULT_CI_SERVE_LOG", served.log.display().to_string()));
    vars
}

/// What an SDK would use before the container endpoint, and is harmless empty.
const BLANKED: &[&str] = &[
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_CREDENTIAL_EXPIRATION",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN",
];

/// What an SDK would use before the container endpoint and cannot be emptied:
/// an empty profile name is a profile named "", and an empty relative URI
/// still wins over the full one.
pub fn unremovable(env: &Env) -> Option<&'static str> {
    [
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    ]
    .into_iter()
    .find(|name| env.get(name).is_some())
}

fn write_token_file(log: &Path, token: &Secret) -> Result<PathBuf> {
    let path = log.with_extension("token");
    let staged = crate::files::stage_replacement(&path, token.expose().as_bytes())
        .and_then(|staged| staged.commit())
        .map_err(|e| Error::sink(format!("--serve: cannot write {}: {e}", path.display())));
    staged.map(|_| path)
}

/// The daemon's side of the hand-over: the credentials the step got.
pub fn receive() -> Result<Output> {
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .map_err(|e| Error::sink(format!("--serve: no credentials handed over: {e}")))?;
    from_json(&line)
}

/// Tells the step where the endpoint is, then lets go of its stdout.
pub fn announce(uri: &str, token: &Secret) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{}", json!({"uri": uri, "token": token.expose()}))
        .and_then(|_| stdout.flush())
        .map_err(|e| Error::sink(format!("--serve: cannot answer the step: {e}")))?;
    release_stdout();
    Ok(())
}

/// The process whose end is the job's end, as the step sees it: the parent of
/// the step's shell — GitHub's Runner.Worker, act, CircleCI's task agent.
fn watched() -> Option<u32> {
    let shell = crate::platform::parent_of(std::process::id())?;
    crate::platform::parent_of(shell).filter(|pid| *pid > 1)
}

pub fn watched_from(env: &Env) -> Option<u32> {
    env.get(DAEMON).and_then(|v| v.parse().ok())
}

fn log_path(env: &Env) -> PathBuf {
    let dir = env.path("RUNNER_TEMP").unwrap_or_else(std::env::temp_dir);
    dir.join(format!("vault-ci-serve-{}.log", std::process::id()))
}

#[cfg(unix)]
fn detach(command: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: setsid is async-signal-safe, as pre_exec requires.
    unsafe {
        command.pre_exec(|| {
            if libc::setsid() < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

#[cfg(windows)]
fn detach(command: &mut Command) {
    use std::os::windows::process::CommandExt;
    const DETACHED_PROCESS: u32 = 0x0000_0008;
    const CREATE_NEW_PROCESS_GROUP: u32 = 0x0000_0200;
    command.creation_flags(DETACHED_PROCESS | CREATE_NEW_PROCESS_GROUP);
    // Else the daemon inherits the step's own output pipes, and the step's
    // output does not end (nor the step, for a runner that reads it to the end)
    // until the server does.
    crate::platform::keep_std_handles_from_children();
}

/// The step waits for EOF on the pipe; the daemon's stdout goes to nothing from now on.
fn release_stdout() {
    #[cfg(unix)]
    {
        use std::os::fd::AsRawFd;
        if let Ok(null) = std::fs::OpenOptions::new().write(true).open("/dev/null") {
            // SAFETY: dup2 onto stdout with a descriptor this function owns.
            unsafe {
                libc::dup2(null.as_raw_fd(), libc::STDOUT_FILENO);
            }
        }
    }
}

fn to_json(out: &Output) -> Value {
    let creds = &out.credentials;
    json!({
        "access_key_id": creds.access_key_id,
        "secret_access_key": creds.secret_access_key.expose(),
        "session_token": creds.session_token.as_ref().map(|t| t.expose()),
        "expiration": creds.expiration.and_then(|t| t.duration_since(UNIX_EPOCH).ok()).map(|d| d.as_secs()),
        "assumed_role_arn": out.assumed_role_arn,
        "account_id": out.account_id,
        "region": out.region,
    })
}

fn from_json(line: &str) -> Result<Output> {
    let bad = || Error::sink("--serve: the credentials handed over are not readable");
    let doc: Value = serde_json::from_str(line).map_err(|_| bad())?;
    let text = |name: &str| doc[name].as_str().map(str::to_string);
    Ok(Output {
        credentials: Credentials {
            access_key_id: text("access_key_id").ok_or_else(bad)?,
            secret_access_key: Secret::new(text("secret_access_key").ok_or_else(bad)?),
            session_token: text("session_token").map(Secret::new),
            expiration: doc["expiration"]
                .as_u64()
                .map(|secs| UNIX_EPOCH + Duration::from_secs(secs)),
        },
        assumed_role_arn: text("assumed_role_arn").ok_or_else(bad)?,
        account_id: text("account_id"),
        region: text("region"),
        endpoint: None,
    })
}

/// Whether any of the shared files would give the SDKs credentials before
/// they ask the endpoint: the default profile's keys (or a role, a process,
/// SSO) win over container credentials in every SDK's chain. Says which.
pub fn profile_that_wins(env: &Env) -> Option<String> {
    let home = || {
        env.path("HOME")
            .or_else(|| env.path("USERPROFILE"))
            .map(|h| h.join(".aws"))
    };
    let credentials = env
        .path("AWS_SHARED_CREDENTIALS_FILE")
        .or_else(|| home().map(|d| d.join("credentials")));
    let config = env
        .path("AWS_CONFIG_FILE")
        .or_else(|| home().map(|d| d.join("config")));
    const GIVES: &[&str] = &[
        "aws_access_key_id",
        "role_arn",
        "credential_process",
        "sso_session",
        "sso_start_url",
        "web_identity_token_file",
        "credential_source",
    ];
    let check = |path: &Path| -> Option<String> {
        let text = crate::files::read_text(path, crate::net::MAX_BODY).ok()?;
        let ini = ini::Ini::load_from_str_opt(
            &text,
            ini::ParseOption {
                enabled_quote: false,
                enabled_escape: false,
                enabled_indented_mutiline_value: false,
                enabled_preserve_key_leading_whitespace: false,
            },
        )
        .ok()?;
        let section = ini.section(Some("default"))?;
        let key = GIVES.iter().find(|key| section.contains_key(**key))?;
        Some(format!("{} has {key} in [default]", path.display()))
    };
    credentials
        .as_deref()
        .and_then(check)
        .or_else(|| config.as_deref().and_then(check))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hand_over_keeps_everything_the_server_needs() {
        let out = crate::sink::tests::output();
        let back = from_json(&to_json(&out).to_string()).unwrap();
        assert_eq!(
            back.credentials.access_key_id,
            out.credentials.access_key_id
        );
        assert_eq!(
            back.credentials.secret_access_key,
            out.credentials.secret_access_key
        );
        assert_eq!(
            back.credentials.session_token,
            out.credentials.session_token
        );
        assert_eq!(back.credentials.expiration, out.credentials.expiration);
        assert_eq!(back.assumed_role_arn, out.assumed_role_arn);
        assert_eq!(back.region, out.region);
        assert!(from_json("{}").is_err());
    }

    #[test]
    fn a_default_profile_with_keys_is_found() {
        let dir = tempfile::tempdir().unwrap();
        let credentials = dir.path().join("credentials");
        let config = dir.path().join("config");
        let env = Env::of([
            ("AWS_SHARED_CREDENTIALS_FILE", credentials.to_str().unwrap()),
            ("AWS_CONFIG_FILE", config.to_str().unwrap()),
        ]);
        assert_eq!(profile_that_wins(&env), None);
        std::fs::write(
            &config,
            "[default]\nregion = eu-west-1\n[profile x]\nrole_arn = y\n",
        )
        .unwrap();
        assert_eq!(profile_that_wins(&env), None);
        std::fs::write(&credentials, "[default]\naws_access_key_id = AKIA\n").unwrap();
        assert_eq!(
            profile_that_wins(&env).unwrap(),
            format!(
                "{} has aws_access_key_id in [default]",
                credentials.display()
            )
        );
    }
}
