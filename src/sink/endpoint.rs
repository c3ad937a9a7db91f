//! `assume --refresh -- COMMAND`: credentials that outlive a long deploy.
//!
//! Instead of keys, the command gets `AWS_CONTAINER_CREDENTIALS_FULL_URI` and
//! `AWS_CONTAINER_AUTHORIZATION_TOKEN`, the convention every AWS SDK and both
//! AWS CLIs follow. vault-ci serves the current credentials on 127.0.0.1 to
//! whoever presents the token, re-runs the whole chain before they come within
//! `--refresh-window` of expiry, keeps serving the old ones while a refresh
//! fails, and lives exactly as long as the command.
//!
//! Everything runs on the one current-thread runtime as a single task, so the
//! state is a plain `RefCell`: no lock is ever held across an await.

use std::cell::RefCell;
use std::convert::Infallible;
use std::ffi::OsString;
use std::future::Future;
use std::net::Ipv4Addr;
use std::pin::pin;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::json;
use subtle::ConstantTimeEq;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tracing::{debug, info, warn};

use super::Output;
use super::exec;
use crate::error::{Error, Result};
use crate::exit::Exit;
use crate::secret::Secret;

/// Where the credentials are served; the path makes a stray request obvious.
const PATH: &str = "/vault-ci/credentials";

/// The longest pause between two failed refreshes.
const MAX_PAUSE: Duration = Duration::from_secs(30);

/// What a request gets, decided from the state alone (and so testable alone).
#[derive(Debug, PartialEq, Eq)]
pub enum Answer {
    Credentials(String),
    /// Status and an error document the SDKs report as they are.
    Refused(u16, String),
}

struct State {
    current: Output,
    /// Why the last refresh failed, while the current credentials still serve.
    last_failure: Option<String>,
    /// Refreshes failed in a row, for the backoff between attempts.
    failures: u32,
    refreshes: u32,
}

/// The pieces shared by the server, the refresher and the child's supervisor.
struct Server<'a> {
    state: RefCell<State>,
    token: &'a Secret,
    window: Duration,
    /// Asks the refresher to refresh now.
    wanted: Notify,
}

impl Server<'_> {
    fn needs_refresh(&self, now: SystemTime) -> bool {
        match self.state.borrow().current.credentials.expiration {
            Some(expiration) => expiration <= now + self.window,
            None => false,
        }
    }

    fn expired(&self, now: SystemTime) -> bool {
        self.state
            .borrow()
            .current
            .credentials
            .expiration
            .is_some_and(|expiration| expiration <= now)
    }

    async fn handle(&self, request: Request<Incoming>) -> Answer {
        if let Some(refused) = refuse(&request, self.token) {
            return refused;
        }
        let now = SystemTime::now();
        if self.needs_refresh(now) {
            self.wanted.notify_one();
        }
        // Expired means every refresh since the window opened failed: the SDKs'
        // 1-5 s timeouts would hide the reason behind a wait, so it is told at once.
        let state = self.state.borrow();
        answer(&state.current, state.last_failure.as_deref(), now)
    }

    /// Refreshes ahead of expiry, or at once when a request asks; a failure
    /// keeps the old credentials and is retried after a pause.
    async fn refresher<F, Fut>(&self, renew: F)
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<Output>>,
    {
        loop {
            let ahead = self
                .state
                .borrow()
                .current
                .credentials
                .expiration
                .and_then(|e| e.checked_sub(self.window))
                .and_then(|at| at.duration_since(SystemTime::now()).ok());
            match ahead {
                // A window as long as the lifetime would mean refreshing without
                // pause; then only requests ask for refreshes.
                Some(wait) if !wait.is_zero() => {
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = self.wanted.notified() => {}
                    }
                }
                _ => self.wanted.notified().await,
            }
            if !self.needs_refresh(SystemTime::now()) {
                continue;
            }
            match renew().await {
                Ok(fresh) => {
                    info!("refreshed the credentials served to the command");
                    let mut state = self.state.borrow_mut();
                    state.current = fresh;
                    state.last_failure = None;
                    state.failures = 0;
                    state.refreshes += 1;
                }
                Err(err) => {
                    let still_valid = !self.expired(SystemTime::now());
                    warn!(
                        "refreshing the credentials failed: {}; {}",
                        err.message(),
                        if still_valid {
                            "serving the current ones until they expire, trying again shortly"
                        } else {
                            "they have expired, so requests get an error until a refresh succeeds"
                        }
                    );
                    let pause = {
                        let mut state = self.state.borrow_mut();
                        state.last_failure = Some(err.message().to_string());
                        state.failures += 1;
                        // 1 s, 2 s, 4 s … up to 30 s between attempts.
                        crate::retry::ceiling(Duration::from_secs(1), MAX_PAUSE, state.failures)
                    };
                    tokio::time::sleep(pause).await;
                    continue;
                }
            }
        }
    }
}

/// 405 for anything but GET, 404 elsewhere, 401 without the token, 403 with another.
fn refuse(request: &Request<Incoming>, token: &Secret) -> Option<Answer> {
    if request.method() != Method::GET {
        return Some(error(405, "MethodNotAllowed", "only GET is served"));
    }
    if request.uri().path() != PATH {
        return Some(error(
            404,
            "NotFound",
            "credentials are served at the URI in AWS_CONTAINER_CREDENTIALS_FULL_URI",
        ));
    }
    match request.headers().get(hyper::header::AUTHORIZATION) {
        None => Some(error(
            401,
            "Unauthorized",
            "send AWS_CONTAINER_AUTHORIZATION_TOKEN as the Authorization header",
        )),
        Some(given) if !bool::from(given.as_bytes().ct_eq(token.expose().as_bytes())) => {
            Some(error(
                403,
                "Forbidden",
                "the Authorization header is not this run's token",
            ))
        }
        Some(_) => None,
    }
}

/// The container-credentials document, or an error once they have expired.
pub fn answer(current: &Output, last_failure: Option<&str>, now: SystemTime) -> Answer {
    let expired = current
        .credentials
        .expiration
        .is_some_and(|expiration| expiration <= now);
    if expired {
        let why = last_failure.unwrap_or("no refresh has succeeded yet");
        return error(
            503,
            "CredentialsExpired",
            &format!("vault-ci could not refresh the credentials before they expired: {why}"),
        );
    }
    let creds = &current.credentials;
    Answer::Credentials(
        json!({
            "AccessKeyId": creds.access_key_id,
            "SecretAccessKey": creds.secret_access_key.expose(),
            "Token": creds.session_token.as_ref().map(|t| t.expose()),
            "Expiration": current.expiration(),
            "RoleArn": current.assumed_role_arn,
        })
        .to_string(),
    )
}

fn error(status: u16, code: &str, message: &str) -> Answer {
    Answer::Refused(
        status,
        json!({ "code": code, "message": message }).to_string(),
    )
}

fn random_token() -> Result<Secret> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| {
        Error::sink(format!(
            "no randomness for the credentials endpoint's token: {e}"
        ))
    })?;
    Ok(Secret::new(hex::encode(bytes)))
}

/// Serves the credentials to `argv` until it exits, refreshing them with
/// `renew`; returns the command's exit status.
pub async fn run<F, Fut>(
    argv: &[OsString],
    first: Output,
    window: Duration,
    renew: F,
) -> Result<Exit>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<Output>>,
{
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .map_err(|e| {
            Error::sink(format!(
                "cannot open the credentials endpoint on 127.0.0.1: {e}"
            ))
        })?;
    let port = listener
        .local_addr()
        .map_err(|e| Error::sink(format!("cannot open the credentials endpoint: {e}")))?
        .port();
    let token = random_token()?;
    let uri = format!("http://127.0.0.1:{port}{PATH}");

    // Listening before the command starts: a signal sent as soon as it is up
    // must reach it, not end vault-ci and orphan it.
    let mut signals = Signals::new()?;
    let mut command = exec::command(argv)?;
    crate::platform::die_with_parent(&mut command);
    command
        .envs(first.region_variables())
        .env("AWS_CONTAINER_CREDENTIALS_FULL_URI", &uri)
        .env("AWS_CONTAINER_AUTHORIZATION_TOKEN", token.expose());
    let mut child = tokio::process::Command::from(command)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| exec::start_error(&exec::shown(argv), e))?;
    info!("serving refreshing credentials to the command at {uri}");

    let server = Server {
        state: RefCell::new(State {
            current: first,
            last_failure: None,
            failures: 0,
            refreshes: 0,
        }),
        token: &token,
        window,
        wanted: Notify::new(),
    };
    let mut refresher = pin!(server.refresher(renew));
    let mut connections = FuturesUnordered::new();
    let status = loop {
        tokio::select! {
            status = child.wait() => break status,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let server = &server;
                let service = hyper::service::service_fn(move |request| async move {
                    Ok::<_, Infallible>(match server.handle(request).await {
                        Answer::Credentials(body) => respond(200, body),
                        Answer::Refused(status, body) => respond(status, body),
                    })
                });
                connections.push(
                    hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service),
                );
            }
            Some(result) = connections.next(), if !connections.is_empty() => {
                if let Err(err) = result {
                    debug!("a connection to the credentials endpoint ended: {err}");
                }
            }
            _ = &mut refresher => unreachable!("the refresher runs until the command exits"),
            signal = signals.next() => signals.forward(signal, &child),
        }
    }
    .map_err(|e| Error::sink(format!("lost track of the command: {e}")))?;
    debug!(
        "the command exited after {} refreshes; closing the endpoint",
        server.state.borrow().refreshes
    );
    Ok(Exit::of(status))
}

fn respond(status: u16, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    response
}

/// The signals a CI sends to stop a job, passed on to the command, which
/// decides what to do with them (vault-ci ends when it does).
#[cfg(unix)]
struct Signals(Vec<(tokio::signal::unix::Signal, i32)>);

#[cfg(unix)]
impl Signals {
    fn new() -> Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        let kinds = [
            (SignalKind::interrupt(), libc::SIGINT),
            (SignalKind::terminate(), libc::SIGTERM),
            (SignalKind::hangup(), libc::SIGHUP),
            (SignalKind::quit(), libc::SIGQUIT),
        ];
        kinds
            .into_iter()
            .map(|(kind, number)| {
                signal(kind)
                    .map(|s| (s, number))
                    .map_err(|e| Error::sink(format!("cannot forward signals to the command: {e}")))
            })
            .collect::<Result<Vec<_>>>()
            .map(Signals)
    }

    async fn next(&mut self) -> i32 {
        let received = self
            .0
            .iter_mut()
            .map(|(signal, number)| {
                let number = *number;
                Box::pin(async move {
                    signal.recv().await;
                    number
                })
            })
            .collect::<FuturesUnordered<_>>()
            .next()
            .await;
        received.unwrap_or(libc::SIGTERM)
    }

    fn forward(&self, signal: i32, child: &tokio::process::Child) {
        if let Some(pid) = child.id() {
            debug!("forwarding signal {signal} to the command");
            // SAFETY: kill(2) with a pid we spawned and a valid signal number has no
            // memory-safety preconditions.
            unsafe {
                libc::kill(pid as libc::pid_t, signal);
            }
        }
    }
}

/// On Windows, Ctrl+C reaches every process of the console, the command included.
#[cfg(not(unix))]
struct Signals;

#[cfg(not(unix))]
impl Signals {
    fn new() -> Result<Self> {
        Ok(Signals)
    }

    async fn next(&mut self) -> i32 {
        std::future::pending().await
    }

    fn forward(&self, _signal: i32, _child: &tokio::process::Child) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Credentials;

    fn output(expires_in: i64) -> Output {
        let now = SystemTime::now();
        let expiration = if expires_in >= 0 {
            now + Duration::from_secs(expires_in as u64)
        } else {
            now - Duration::from_secs((-expires_in) as u64)
        };
        Output {
            credentials: Credentials {
                access_key_id: "ASIAEXAMPLE".into(),
                secret_access_key: Secret::new("secret"),
                session_token: Some(Secret::new("token")),
                expiration: Some(expiration),
            },
            assumed_role_arn: "arn:aws:sts::123456789012:assumed-role/r/s".into(),
            account_id: None,
            region: None,
        }
    }

    #[test]
    fn valid_credentials_are_served_in_the_container_format() {
        let Answer::Credentials(body) = answer(&output(600), None, SystemTime::now()) else {
            panic!("expected credentials");
        };
        let doc: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(doc["AccessKeyId"], "ASIAEXAMPLE");
        assert_eq!(doc["Token"], "token");
        assert!(doc["Expiration"].as_str().unwrap().ends_with('Z'));
    }

    #[test]
    fn after_expiry_a_failed_refresh_is_reported_not_stale_keys() {
        let answer = answer(
            &output(-5),
            Some("STS throttled AssumeRole"),
            SystemTime::now(),
        );
        let Answer::Refused(503, body) = answer else {
            panic!("expected a 503, got {answer:?}");
        };
        assert!(body.contains("CredentialsExpired"), "{body}");
        assert!(body.contains("STS throttled AssumeRole"), "{body}");
        assert!(!body.contains("secret"), "{body}");
    }
}
