//! Holding back the signals a CI sends to stop a job while vault-ci has
//! credentials in a temporary file: a Ctrl-C or SIGTERM that arrives then
//! takes effect once the file has been renamed into place or removed.

/// Signals wait while the guard lives (on Unix), and arrive when it is dropped.
pub fn hold() -> Held {
    Held::new()
}

#[cfg(unix)]
pub struct Held {
    previous: Option<libc::sigset_t>,
}

#[cfg(unix)]
impl Held {
    fn new() -> Held {
        // SAFETY: sigset_t is plain data that sigemptyset initialises; the
        // calls get valid pointers to it and valid signal numbers.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT] {
                libc::sigaddset(&mut set, signal);
            }
            let mut previous: libc::sigset_t = std::mem::zeroed();
            let held = libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut previous) == 0;
            Held {
                previous: held.then_some(previous),
            }
        }
    }
}

#[cfg(unix)]
impl Drop for Held {
    fn drop(&mut self) {
        if let Some(previous) = &self.previous {
            // SAFETY: restores the mask saved in `new`.
            unsafe {
                libc::pthread_sigmask(libc::SIG_SETMASK, previous, std::ptr::null_mut());
            }
        }
    }
}

#[cfg(not(unix))]
pub struct Held;

#[cfg(not(unix))]
impl Held {
    fn new() -> Held {
        Held
    }
}

/// The signals a CI sends to stop a job (SIGINT, SIGTERM, SIGHUP, SIGQUIT),
/// received to pass them on to a command: vault-ci ends when the command does.
#[cfg(unix)]
pub struct Forwarded(Vec<(tokio::signal::unix::Signal, i32)>);

#[cfg(unix)]
impl Forwarded {
    pub fn new() -> crate::error::Result<Self> {
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
                    .map_err(|e| crate::error::Error::sink(format!("cannot receive signals: {e}")))
            })
            .collect::<crate::error::Result<Vec<_>>>()
            .map(Forwarded)
    }

    pub async fn next(&mut self) -> i32 {
        use futures_util::StreamExt;
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
            .collect::<futures_util::stream::FuturesUnordered<_>>()
            .next()
            .await;
        received.unwrap_or(libc::SIGTERM)
    }

    pub fn forward(&self, signal: i32, child: &tokio::process::Child) {
        if let Some(pid) = child.id() {
            tracing::debug!("forwarding signal {signal} to the command");
            // SAFETY: kill(2) with a pid we spawned and a valid signal number has no
            // memory-safety preconditions.
            unsafe {
                libc::kill(pid as libc::pid_t, signal);
            }
        }
    }
}

/// On Windows, Ctrl+C reaches every process of the console, the command included;
/// vault-ci outlives it to pass the command's status on.
#[cfg(not(unix))]
pub struct Forwarded;

#[cfg(not(unix))]
impl Forwarded {
    pub fn new() -> crate::error::Result<Self> {
        crate::platform::outlive_ctrl_c();
        Ok(Forwarded)
    }

    pub async fn next(&mut self) -> i32 {
        std::future::pending().await
    }

    pub fn forward(&self, _signal: i32, _child: &tokio::process::Child) {}
}

/// The same signals, meaning "stop serving" for a job-wide server.
pub struct Stops(Forwarded);

impl Stops {
    pub fn new() -> crate::error::Result<Self> {
        Forwarded::new().map(Stops)
    }

    pub async fn next(&mut self) {
        #[cfg(unix)]
        {
            self.0.next().await;
        }
        #[cfg(not(unix))]
        {
            let _ = &self.0;
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
