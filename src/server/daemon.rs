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

use std::future::Future;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, UNIX_EPOCH};

use serde_json::{Value, json};

use tokio::time::Instant;

use super::endpoint::{Endpoint, random_token};
use crate::env::Env;
use crate::error::{Error, Result};
use crate::sdk;
use crate::secret::{Credentials, Secret};
use crate::sink::{Delivery, Output};

/// Marks the background vault-ci; its value is the process to watch, if any.
pub const DAEMON: &str = "VAULT_CI_SERVE_DAEMON";

/// A started daemon, until the step has handed its address on.
pub struct Server {
    pub served: Served,
    process: std::process::Child,
}

impl Server {
    /// The step could not hand the address on: a server nobody can reach
    /// would only hold credentials and a port, so it ends now.
    pub fn abandon(self) {
        end(self.process);
    }
}

/// Starts the daemon with `first`, and says where it serves.
pub fn start(first: &Output, env: &Env) -> Result<Server> {
    let fail =
        |what: &str, e: &dyn std::fmt::Display| Error::sink(format!("--serve: cannot {what}: {e}"));
    let dir = private_dir(env).map_err(|e| fail("make a directory of its own", &e))?;
    let log = dir.join("serve.log");
    let log_file = crate::files::create_private(&log).map_err(|e| fail("open its log", &e))?;
    let exe = std::env::current_exe().map_err(|e| fail("find its own program", &e))?;
    let mut command = Command::new(exe);
    command
        .args(std::env::args_os().skip(1))
        .env(
            DAEMON,
            watched(env).map(|pid| pid.to_string()).unwrap_or_default(),
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(log_file);
    detach(&mut command);
    let mut child = command.spawn().map_err(|e| fail("start", &e))?;
    match hand_over(&mut child, first, env, log) {
        Ok(served) => Ok(Server {
            served,
            process: child,
        }),
        Err(err) => {
            end(child);
            Err(err)
        }
    }
}

/// Gives the daemon the credentials and hears where it listens.
fn hand_over(
    child: &mut std::process::Child,
    first: &Output,
    env: &Env,
    log: PathBuf,
) -> Result<Served> {
    let fail =
        |what: &str, e: &dyn std::fmt::Display| Error::sink(format!("--serve: cannot {what}: {e}"));
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

/// Ends a daemon whose address nobody will have.
fn end(mut process: std::process::Child) {
    let _ = process.kill();
    let _ = process.wait();
    tracing::info!(
        "the credentials server (process {}) was stopped: the step failed",
        process.id()
    );
}

/// A job-wide credentials server, as later steps reach it.
#[derive(Clone)]
pub struct Served {
    pub uri: String,
    pub token: Secret,
    /// Its log, for a later step to print.
    pub log: PathBuf,
    /// The token in a file too, where the runner set AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE
    /// (EKS Pod Identity): SDKs read that file before the token's variable.
    pub token_file: Option<PathBuf>,
}

impl Served {
    /// What later steps get instead of the keys: the server's address and
    /// token, the region, and empty values for the keys and web-identity
    /// settings an earlier step may have left (every SDK takes an empty one as
    /// unset). What cannot be made harmless by emptying it (a profile name, a
    /// relative container URI) was refused by the plan.
    pub fn delivery(&self, out: Output) -> Delivery {
        let mut variables = vec![
            (sdk::ENDPOINT_URI, self.uri.clone()),
            (sdk::ENDPOINT_TOKEN, self.token.expose().to_string()),
        ];
        if let Some(file) = &self.token_file {
            variables.push((sdk::ENDPOINT_TOKEN_FILE, file.display().to_string()));
        }
        variables.extend(out.region_variables());
        variables.extend(sdk::blanked_for_endpoint().map(|name| (name, String::new())));
        variables.push(("VAULT_CI_SERVE_LOG", self.log.display().to_string()));
        Delivery {
            variables,
            secrets: vec![self.token.expose().to_string()],
            session: Some(out),
        }
    }
}

/// Beside the log, in the run's own directory.
fn write_token_file(log: &Path, token: &Secret) -> Result<PathBuf> {
    let path = log.with_extension("token");
    crate::files::create_private(&path)
        .and_then(|mut file| file.write_all(token.expose().as_bytes()))
        .map_err(|e| Error::sink(format!("--serve: cannot write {}: {e}", path.display())))?;
    Ok(path)
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
fn announce(uri: &str, token: &Secret) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{}", json!({"uri": uri, "token": token.expose()}))
        .and_then(|_| stdout.flush())
        .map_err(|e| Error::sink(format!("--serve: cannot answer the step: {e}")))?;
    release_stdout();
    Ok(())
}

/// The process whose end is the job's end: the one the CI's runner runs the
/// job in, found by its role among the step's ancestors (Runner.Worker, the
/// task agent, `buildkite-agent bootstrap`, GitLab's job shell); else, for a
/// runner vault-ci does not know, the parent of the step's shell. Not the
/// long-lived agent above it, which would keep the server for hours after the job.
fn watched(env: &Env) -> Option<u32> {
    let ancestors = crate::platform::ancestors(std::process::id());
    let ci = crate::identity::running_ci(env, &Default::default())
        .ok()
        .flatten()
        .map(|provider| provider.ci());
    ci.and_then(|ci| ci.system().job_process(&ancestors))
        .or_else(|| ancestors.get(1).map(|shells_parent| shells_parent.pid))
}

/// A fresh directory of the run's own (owner-only) under the runner's temp
/// directory, for the server's log and token file: nothing in it can be a
/// name another user planted, as a fixed name in a shared /tmp could be. It
/// outlives the step (later steps read the log); the runner's clean-up of its
/// temp directory takes it.
fn private_dir(env: &Env) -> std::io::Result<PathBuf> {
    let parent = env.path("RUNNER_TEMP").unwrap_or_else(std::env::temp_dir);
    let mut builder = tempfile::Builder::new();
    builder.prefix("vault-ci-serve-");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o700));
    }
    Ok(builder.tempdir_in(parent)?.keep())
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
        account_id: text("account_id").and_then(|id| id.parse().ok()),
        region: text("region"),
    })
}

/// What ends a job-wide server besides `vault-ci stop`.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// No credentials asked for in this long.
    pub idle: Duration,
    /// Served this long in all.
    pub max: Duration,
}

/// The daemon's life: takes the credentials the step handed over, opens the
/// endpoint, tells the step where it is, then serves the job's later steps,
/// refreshing with `renew`, until `vault-ci stop`, SIGTERM / SIGINT / SIGHUP,
/// the limits, or the job's runner process ending. Says which ended it.
pub async fn serve<F, Fut>(
    first: Output,
    window: Duration,
    renew: F,
    limits: Limits,
    env: &Env,
) -> Result<&'static str>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<Output>>,
{
    let endpoint = Endpoint::open(random_token()?).await?;
    announce(&endpoint.uri, &endpoint.token)?;
    let watched = env.get(DAEMON).and_then(|v| v.parse::<u32>().ok());
    tracing::info!(
        "serving {} at {} (refreshing {} s before expiry; watching process {})",
        first.assumed_role_arn,
        endpoint.uri,
        window.as_secs(),
        watched
            .map(|p| p.to_string())
            .unwrap_or_else(|| "none".into())
    );
    let mut signals = crate::signals::Stops::new()?;
    let started = Instant::now();
    let ended = endpoint
        .serve(first, window, renew, move |handle| async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            let mut closed = false;
            loop {
                tokio::select! {
                    _ = handle.stopped() => return "vault-ci stop",
                    _ = signals.next() => return "a signal to stop",
                    _ = tick.tick() => {
                        if watched.is_some_and(|pid| !crate::platform::alive(pid)) {
                            return "the job's runner process ended";
                        }
                        let limit = if handle.idle() >= limits.idle {
                            Some("no credentials were asked for within --serve-idle")
                        } else if started.elapsed() >= limits.max {
                            Some("--serve-max passed")
                        } else {
                            None
                        };
                        match limit {
                            // Nothing tells when the job ends: the port goes with the server.
                            Some(why) if watched.is_none() => return why,
                            Some(why) if !closed => {
                                tracing::info!(
                                    "the credentials server serves no more credentials: {why}; \
                                     it keeps its port until the job ends"
                                );
                                handle.close(why);
                                closed = true;
                            }
                            _ => {}
                        }
                    }
                }
            }
        })
        .await;
    Ok(ended)
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
}
