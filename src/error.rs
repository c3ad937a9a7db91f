//! Errors are values with a message a user can act on: the thing, the cause and
//! the fix on one line, and an optional hint block for the longer story (what a
//! trust policy would need, which workflow permission is missing).

use std::fmt;
use std::process::ExitCode;

/// What went wrong, by cause. The kind decides the exit code and whether the
/// operation may be retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The command line or the configuration is wrong; nothing was attempted.
    Usage,
    /// The CI identity (token or keys) could not be obtained.
    Identity,
    /// STS refused who we are: a trust policy, a permission, wrong or expired keys.
    Denied,
    /// STS refused what we asked: a parameter, a policy, a region.
    Rejected,
    /// STS or the token endpoint could not answer now: network, throttling, 5xx.
    /// The only kind that is retried.
    Unavailable,
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
            Kind::Unavailable => "STS unavailable",
            Kind::Sink => "cannot write credentials",
            Kind::Exec(_) => "cannot run the command",
        }
    }
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

    pub fn denied(message: impl Into<String>) -> Self {
        Self::new(Kind::Denied, message)
    }

    pub fn rejected(message: impl Into<String>) -> Self {
        Self::new(Kind::Rejected, message)
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(Kind::Unavailable, message)
    }

    pub fn sink(message: impl Into<String>) -> Self {
        Self::new(Kind::Sink, message)
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Appends to the one-line message, e.g. how many attempts were made.
    pub fn with_suffix(mut self, suffix: &str) -> Self {
        self.message.push_str(suffix);
        self
    }

    pub fn is_transient(&self) -> bool {
        self.kind == Kind::Unavailable
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(match self.kind {
            Kind::Usage => 2,
            Kind::Exec(code) => code,
            _ => 1,
        })
    }

    /// The error as a GitHub Actions annotation (`::error title=…::…`), so it shows
    /// on the run's summary page and not only deep in the log.
    pub fn github_annotation(&self) -> String {
        let escape_data = |s: &str| {
            s.replace('%', "%25")
                .replace('\r', "%0D")
                .replace('\n', "%0A")
        };
        let escape_property = |s: &str| escape_data(s).replace(':', "%3A").replace(',', "%2C");
        format!(
            "::error title={}::{}",
            escape_property(&format!("vault-ci: {}", self.kind.title())),
            escape_data(&self.to_string())
        )
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annotations_escape_what_github_would_cut() {
        let err = Error::denied("STS refused: 100% no, a:b").with_hint("hint: line one\nline two");
        assert_eq!(
            err.github_annotation(),
            "::error title=vault-ci%3A access denied::STS refused: 100%25 no, a:b%0A  hint: line one%0A  line two"
        );
    }
}
