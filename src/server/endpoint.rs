//! The credentials endpoint: vault-ci serves the current credentials on
//! 127.0.0.1 to whoever presents the token, re-runs the whole chain before
//! they come within the refresh window of expiry, and keeps serving the old
//! ones while a refresh fails. What ends it is its owner's business
//! (`command.rs`, `daemon.rs`).
//!
//! Another process of the machine may connect too: connections are bounded,
//! each gets two seconds to send its request and serves one, and when all are
//! taken the oldest that has sent nothing yet makes room, so idle or half-sent
//! connections cannot starve the consumers.
//!
//! Everything runs on one current-thread runtime, so the state is a plain
//! `RefCell`: no borrow is ever held across an await.

use std::cell::{Cell, RefCell};
use std::convert::Infallible;
use std::future::Future;
use std::net::Ipv4Addr;
use std::pin::pin;
use std::rc::Rc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use serde_json::json;
use subtle::ConstantTimeEq;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::time::Instant;
use tracing::{debug, info, warn};

use crate::error::{Error, Result};
use crate::secret::Secret;
use crate::sink::Output;

/// Where the credentials are served; the path makes a stray request obvious.
pub const PATH: &str = "/vault-ci/credentials";

/// The longest pause between two failed refreshes.
const MAX_PAUSE: Duration = Duration::from_secs(30);

/// Connections served at once; an SDK opens one per fetch.
const MAX_CONNECTIONS: usize = 64;

/// How long a connection may take to send its request, and to be served.
const HEADER_TIMEOUT: Duration = Duration::from_secs(2);
const CONNECTION_LIFETIME: Duration = Duration::from_secs(10);

/// What a request gets, decided from the state alone (and so testable alone).
#[derive(Debug, PartialEq, Eq)]
pub enum Answer {
    Credentials(String),
    /// Status and an error document the SDKs report as they are.
    Refused(u16, String),
    /// `vault-ci stop`: the server ends after answering.
    Stopping,
}

struct State {
    current: Output,
    /// Why the last refresh failed, while the current credentials still serve.
    last_failure: Option<String>,
    /// Refreshes failed in a row, for the backoff between attempts.
    failures: u32,
    refreshes: u32,
}

/// What the connections, the refresher and whatever ends the server share.
struct Shared {
    state: RefCell<State>,
    token: Secret,
    window: Duration,
    /// Asks the refresher to refresh now.
    wanted: Notify,
    /// `vault-ci stop` asked the server to end.
    stop: Notify,
    last_request: Cell<Instant>,
    /// Why it serves no credentials any more, while it keeps its port.
    closed: RefCell<Option<String>>,
}

impl Shared {
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

    fn handle(&self, request: &Request<Incoming>) -> Answer {
        if let Some(refused) = refuse(request, &self.token) {
            return refused;
        }
        if request.method() == Method::DELETE {
            self.stop.notify_one();
            return Answer::Stopping;
        }
        if let Some(why) = self.closed.borrow().as_deref() {
            return error(
                503,
                "ServerClosed",
                &format!("vault-ci's credentials server serves no more credentials: {why}"),
            );
        }
        self.last_request.set(Instant::now());
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
            if !self.needs_refresh(SystemTime::now()) || self.closed.borrow().is_some() {
                continue;
            }
            match renew().await {
                Ok(fresh) => {
                    info!(
                        "refreshed the credentials served ({}, until {})",
                        fresh.assumed_role_arn,
                        fresh.expiration().unwrap_or_default()
                    );
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
                }
            }
        }
    }
}

/// 405 for anything but GET (and DELETE, to stop), 404 elsewhere, 401 without
/// the token, 403 with another.
fn refuse(request: &Request<Incoming>, token: &Secret) -> Option<Answer> {
    if request.method() != Method::GET && request.method() != Method::DELETE {
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

pub fn random_token() -> Result<Secret> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| {
        Error::sink(format!(
            "no randomness for the credentials endpoint's token: {e}"
        ))
    })?;
    Ok(Secret::new(hex::encode(bytes)))
}

/// A listening endpoint and what a consumer needs to use it.
pub struct Endpoint {
    listener: TcpListener,
    pub uri: String,
    pub token: Secret,
}

impl Endpoint {
    pub async fn open(token: Secret) -> Result<Endpoint> {
        let fail = |e: std::io::Error| {
            Error::sink(format!(
                "cannot open the credentials endpoint on 127.0.0.1: {e}"
            ))
        };
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .map_err(fail)?;
        let port = listener.local_addr().map_err(fail)?.port();
        Ok(Endpoint {
            listener,
            uri: format!("http://127.0.0.1:{port}{PATH}"),
            token,
        })
    }

    /// Serves until the future `until` makes of the server's [`Handle`]
    /// resolves, refreshing with `renew`, and returns what it gave.
    pub async fn serve<F, Fut, U, T>(
        self,
        first: Output,
        window: Duration,
        renew: F,
        until: impl FnOnce(Handle) -> U,
    ) -> T
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<Output>>,
        U: Future<Output = T>,
    {
        let shared = Rc::new(Shared {
            state: RefCell::new(State {
                current: first,
                last_failure: None,
                failures: 0,
                refreshes: 0,
            }),
            token: self.token,
            window,
            wanted: Notify::new(),
            stop: Notify::new(),
            last_request: Cell::new(Instant::now()),
            closed: RefCell::new(None),
        });
        let local = tokio::task::LocalSet::new();
        let ended = local
            .run_until(async {
                let mut refresher = pin!(shared.refresher(renew));
                let mut until = pin!(until(Handle(shared.clone())));
                let mut connections: Vec<Connection> = Vec::new();
                loop {
                    tokio::select! {
                        ended = &mut until => break ended,
                        accepted = self.listener.accept() => {
                            if let Ok((stream, _)) = accepted {
                                admit(&shared, &mut connections, stream);
                            }
                        }
                        _ = &mut refresher => unreachable!("the refresher runs until the server ends"),
                    }
                }
            })
            .await;
        debug!(
            "the endpoint closes after {} refreshes",
            shared.state.borrow().refreshes
        );
        ended
    }
}

/// What the end of serving can see of the server.
pub struct Handle(Rc<Shared>);

impl Handle {
    /// Resolves when `vault-ci stop` asked the server to end.
    pub async fn stopped(&self) {
        self.0.stop.notified().await
    }

    /// How long since credentials were last asked for.
    pub fn idle(&self) -> Duration {
        self.0.last_request.get().elapsed()
    }

    /// Serves no more credentials and refreshes no more, saying why, but keeps
    /// the port: a port set free would be another local user's to take, and
    /// with it the later steps' requests for credentials.
    pub fn close(&self, why: &str) {
        let mut closed = self.0.closed.borrow_mut();
        if closed.is_none() {
            *closed = Some(why.to_string());
            // The credentials are gone from memory too.
            let mut state = self.0.state.borrow_mut();
            state.current.credentials = crate::secret::Credentials {
                access_key_id: String::new(),
                secret_access_key: Secret::new(""),
                session_token: None,
                expiration: Some(SystemTime::UNIX_EPOCH),
            };
        }
    }
}

struct Connection {
    started: Rc<Cell<bool>>,
    accepted: Instant,
    handle: tokio::task::AbortHandle,
}

/// Takes a connection, making room by closing the oldest that has not sent a
/// request yet when all places are taken.
fn admit(shared: &Rc<Shared>, connections: &mut Vec<Connection>, stream: tokio::net::TcpStream) {
    connections.retain(|c| !c.handle.is_finished());
    if connections.len() >= MAX_CONNECTIONS {
        let idle = connections
            .iter()
            .enumerate()
            .filter(|(_, c)| !c.started.get())
            .min_by_key(|(_, c)| c.accepted)
            .map(|(index, _)| index);
        match idle {
            Some(index) => connections.swap_remove(index).handle.abort(),
            // Every place is serving a request: this one waits its turn by closing.
            None => return,
        }
    }
    let started = Rc::new(Cell::new(false));
    let shared = shared.clone();
    let marker = started.clone();
    let task = tokio::task::spawn_local(async move {
        let service = hyper::service::service_fn(move |request: Request<Incoming>| {
            marker.set(true);
            let answer = shared.handle(&request);
            async move { Ok::<_, Infallible>(respond(answer)) }
        });
        let connection = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(HEADER_TIMEOUT)
            .keep_alive(false)
            .serve_connection(TokioIo::new(stream), service);
        match tokio::time::timeout(CONNECTION_LIFETIME, connection).await {
            Ok(Err(err)) => debug!("a connection to the credentials endpoint ended: {err}"),
            Err(_) => debug!("a connection to the credentials endpoint took too long"),
            Ok(Ok(())) => {}
        }
    });
    connections.push(Connection {
        started,
        accepted: Instant::now(),
        handle: task.abort_handle(),
    });
}

fn respond(answer: Answer) -> Response<Full<Bytes>> {
    let (status, body) = match answer {
        Answer::Credentials(body) => (200, body),
        Answer::Refused(status, body) => (status, body),
        Answer::Stopping => (200, json!({"stopping": true}).to_string()),
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    response
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
