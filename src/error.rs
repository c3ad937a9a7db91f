//! Errors are values with a message a user can act on: the thing, the cause and
//! the fix on one line, and an optional hint block for the longer story (what a
//! trust policy would need, which workflow permission is missing).
//!
//! What the user is told (the [`Kind`]) and whether trying again can help (the
//! [`Retry`] class) are separate: a throttled STS and a token endpoint that is
//! down are both "unavailable", but are retried differently.

use std::fmt;
use std::process::ExitCode;
use std::time::Duration;

/// Who could not answer, for the message's title.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peer {
    Sts,
    /// A CI's OIDC token endpoint or CLI.
    TokenEndpoint,
    /// The machine's own credentials: container endpoint or instance metadata.
    Metadata,
}

/// What went wrong, by cause. The kind decides the exit code and the title of a
/// CI annotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The command line or the configuration is wrong; nothing was attempted.
    Usage,
    /// The CI identity (token or keys) could not be obtained.
    Identity,
    /// STS refused who we are: a trust policy, a permission, wrong or expired keys.
    Denied,
    /// STS refused what we asked: a parameter, a policy, a region; or answered
    /// something that is not a valid answer.
    Rejected,
    /// A peer could not answer now: network, throttling, 5xx.
    Unavailable(Peer),
    /// `--timeout` passed before the exchange was done.
    Timeout,
    /// A destination for the credentials could not be written.
    Sink,
    /// The child command could not be started (126: not executable, 127: not found).
    Exec(u8),
}

impl Kind {
    /// A title for CI annotations.
    pub fn title(self) -> &'static str {
        match self {
            Kind::Usage => "bad usage",
            Kind::Identity => "no CI identity",
            Kind::Denied => "access denied",
            Kind::Rejected => "request rejected",
            Kind::Unavailable(Peer::Sts) => "STS unavailable",
            Kind::Unavailable(Peer::TokenEndpoint) => "OIDC token endpoint unavailable",
            Kind::Unavailable(Peer::Metadata) => "credentials endpoint unavailable",
            Kind::Timeout => "timed out",
            Kind::Sink => "cannot write credentials",
            Kind::Exec(_) => "cannot run the command",
        }
    }
}

/// Whether another attempt can succeed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// The same request gets the same answer.
    Never,
    /// The network or the server failed; worth a few more tries.
    Transient,
    /// The server asks for fewer requests: worth trying until the deadline,
    /// after `after` when it said how long to wait.
    Throttled { after: Option<Duration> },
}

#[derive(Debug, Clone)]
pub struct Error {
    kind: Kind,
    retry: Retry,
    message: String,
    hint: Option<String>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The message is kept on one line whatever it quotes (see [`crate::text`]).
    pub fn new(kind: Kind, message: impl Into<String>) -> Self {
        let message = message.into();
        Error {
            kind,
            retry: match kind {
                Kind::Unavailable(_) => Retry::Transient,
                _ => Retry::Never,
            },
            message: crate::text::one_line(&message).into_owned(),
            hint: None,
        }
    }

    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(Kind::Usage, message)
    }

    pub fn identity(message: impl Into<String>) -> Self {
        Self::new(Kind::Identity, message)
    }

    pub fn denied(message: impl Into<String>) -> Self {
        Self::new(Kind::Denied, message)
    }

    pub fn rejected(message: impl Into<String>) -> Self {
        Self::new(Kind::Rejected, message)
    }

    /// A transient failure of `peer`, retried a few times.
    pub fn unavailable(peer: Peer, message: impl Into<String>) -> Self {
        Self::new(Kind::Unavailable(peer), message)
    }

    /// STS asked for fewer requests; retried until the deadline.
    pub fn throttled(message: impl Into<String>, after: Option<Duration>) -> Self {
        let mut error = Self::new(Kind::Unavailable(Peer::Sts), message);
        error.retry = Retry::Throttled { after };
        error
    }

    pub fn timeout(message: impl Into<String>) -> Self {
        Self::new(Kind::Timeout, message)
    }

    pub fn sink(message: impl Into<String>) -> Self {
        Self::new(Kind::Sink, message)
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// The same error with its message rewritten, e.g. to say where a value came from.
    pub fn map_message(mut self, rewrite: impl FnOnce(&str) -> String) -> Self {
        self.message = crate::text::one_line(&rewrite(&self.message)).into_owned();
        self
    }

    /// Appends to the one-line message, e.g. how many attempts were made.
    pub fn with_suffix(mut self, suffix: &str) -> Self {
        self.message.push_str(suffix);
        self
    }

    pub fn kind(&self) -> Kind {
        self.kind
    }

    pub fn retry(&self) -> Retry {
        self.retry
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    pub fn hint(&self) -> Option<&str> {
        self.hint.as_deref()
    }

    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(match self.kind {
            Kind::Usage => 2,
            Kind::Exec(code) => code,
            _ => 1,
        })
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(hint) = &self.hint {
            for line in hint.lines() {
                write!(f, "\n  {line}")?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

/// An error and its causes on one line: "dispatch failure: io error: connection refused".
/// `std::io::Error` hides the error it wraps from `source()`; it is shown too.
pub fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in causes(err) {
        let text = cause.to_string();
        if !parts.last().is_some_and(|p| p.contains(&text)) {
            parts.push(text);
        }
    }
    parts.join(": ")
}

/// `err` and everything under it, including what `io::Error`s wrap.
pub fn causes<'a>(
    err: &'a (dyn std::error::Error + 'static),
) -> Vec<&'a (dyn std::error::Error + 'static)> {
    let mut all = Vec::new();
    let mut next = Some(err);
    while let Some(cause) = next {
        all.push(cause);
        next = match cause
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => cause.source(),
        };
        if all.len() > 32 {
            break;
        }
    }
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_say_who_failed_and_classes_say_what_helps() {
        let token = Error::unavailable(Peer::TokenEndpoint, "HTTP 503");
        assert_eq!(token.kind().title(), "OIDC token endpoint unavailable");
        assert_eq!(token.retry(), Retry::Transient);
        let throttled = Error::throttled("Rate exceeded", Some(Duration::from_secs(2)));
        assert_eq!(throttled.kind().title(), "STS unavailable");
        assert_eq!(
            throttled.retry(),
            Retry::Throttled {
                after: Some(Duration::from_secs(2))
            }
        );
        assert_eq!(Error::denied("no").retry(), Retry::Never);
    }

    #[test]
    fn a_message_stays_on_one_line_whatever_it_quotes() {
        let err = Error::denied("STS refused: x\n::set-env name=A::b").with_hint("hint: one\ntwo");
        assert_eq!(
            err.to_string(),
            "STS refused: x\\n::set-env name=A::b\n  hint: one\n  two"
        );
    }

    #[test]
    fn chains_include_what_io_errors_wrap() {
        #[derive(Debug)]
        struct Tls;
        impl fmt::Display for Tls {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("invalid peer certificate: UnknownIssuer")
            }
        }
        impl std::error::Error for Tls {}
        let io = std::io::Error::new(std::io::ErrorKind::InvalidData, Tls);
        let shown = error_chain(&io);
        assert_eq!(shown, "invalid peer certificate: UnknownIssuer");
        assert!(
            causes(&io)
                .iter()
                .any(|c| c.downcast_ref::<Tls>().is_some())
        );
    }
}
