//! Errors are values with a message a user can act on: the thing, the cause and
//! the fix on one line, and an optional hint block for the longer story (what a
//! trust policy would need, which workflow permission is missing).

use std::fmt;
use std::process::ExitCode;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The command line or the configuration is wrong; nothing was attempted.
    Usage,
    /// The CI identity (token or keys) could not be obtained.
    Identity,
    /// STS, or the network on the way to it, refused or failed.
    Sts,
    /// A destination for the credentials could not be written.
    Sink,
    /// The child command could not be started (126: not executable, 127: not found).
    Exec(u8),
}

#[derive(Debug)]
pub struct Error {
    kind: Kind,
    message: String,
    hint: Option<String>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: Kind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            hint: None,
        }
    }

    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(Kind::Usage, message)
    }

    pub fn identity(message: impl Into<String>) -> Self {
        Self::new(Kind::Identity, message)
    }

    pub fn sts(message: impl Into<String>) -> Self {
        Self::new(Kind::Sts, message)
    }

    pub fn sink(message: impl Into<String>) -> Self {
        Self::new(Kind::Sink, message)
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    #[cfg(test)]
    pub fn message(&self) -> &str {
        &self.message
    }

    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(match self.kind {
            Kind::Usage => 2,
            Kind::Exec(code) => code,
            Kind::Identity | Kind::Sts | Kind::Sink => 1,
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
