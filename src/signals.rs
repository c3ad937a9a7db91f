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
