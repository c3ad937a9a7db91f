//! GitHub Actions workflow commands, all in one place: `::add-mask::` (the
//! runner hides a value in everything logged after it), `::error` annotations,
//! and the heredoc entries of `$GITHUB_ENV` / `$GITHUB_OUTPUT`. Outside GitHub
//! Actions every command is a no-op, and no other module prints one.

use std::io::Write;

use crate::env::Env;
use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy)]
pub struct Workflow {
    active: bool,
    /// stdout carries the credentials themselves (`--format`), which must stay
    /// parseable: no command may be mixed into it.
    stdout_reserved: bool,
}

impl Workflow {
    pub fn from_env(env: &Env) -> Workflow {
        Workflow {
            active: env.in_github_actions(),
            stdout_reserved: false,
        }
    }

    /// No workflow commands at all (the background server's stdout is no step's).
    pub fn silent() -> Workflow {
        Workflow {
            active: false,
            stdout_reserved: true,
        }
    }

    pub fn active(&self) -> bool {
        self.active
    }

    pub fn reserve_stdout(&mut self) {
        self.stdout_reserved = true;
    }

    /// Whether a value fetched along the way (an OIDC token) can be masked. The
    /// runner reads workflow commands from stdout; when stdout is reserved the
    /// value is not printed anywhere, and no mask is needed.
    fn can_print(&self) -> bool {
        self.active && !self.stdout_reserved
    }

    /// Masks `value` in the job log from now on.
    pub fn mask(&self, value: &str) {
        if self.can_print() {
            print_now(&mask_lines(value));
        }
    }

    /// Masks `value`, which vault-ci itself may print (an account id in an
    /// error): on stdout, or on stderr when stdout will carry the credentials
    /// (`stdout_reserved`, known before the plan reserves it). The runner reads
    /// workflow commands from both.
    pub fn mask_in_log(&self, value: &str, stdout_reserved: bool) {
        if !self.active {
            return;
        }
        if stdout_reserved || self.stdout_reserved {
            let mut stderr = std::io::stderr().lock();
            let _ = stderr.write_all(mask_lines(value).as_bytes());
            let _ = stderr.flush();
        } else {
            print_now(&mask_lines(value));
        }
    }

    /// A notice on the run's summary page; elsewhere an info line.
    pub fn notice(&self, text: &str) {
        if self.active {
            print_now(&format!("::notice::{}\n", escape_data(text)));
        } else {
            tracing::info!("{text}");
        }
    }

    /// The error as an annotation on the run's summary page (`::error title=…::…`).
    pub fn annotate(&self, err: &Error) {
        if self.active {
            print_now(&format!("{}\n", annotation(err)));
        }
    }
}

/// `::add-mask::` lines for `value`. A command is one line, and the runner
/// breaks lines at `\n` and at `\r`, so each piece is masked on its own.
pub fn mask_lines(value: &str) -> String {
    value
        .split(['\n', '\r'])
        .filter(|piece| !piece.trim().is_empty())
        .map(|piece| format!("::add-mask::{piece}\n"))
        .collect()
}

fn print_now(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(text.as_bytes());
    let _ = stdout.flush();
}

fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

pub fn annotation(err: &Error) -> String {
    let escape_property = |s: &str| escape_data(s).replace(':', "%3A").replace(',', "%2C");
    format!(
        "::error title={}::{}",
        escape_property(&format!("vault-ci: {}", err.kind().title())),
        escape_data(&err.to_string())
    )
}

/// A `NAME<<DELIMITER` entry of `$GITHUB_ENV` or `$GITHUB_OUTPUT`. The value
/// cannot end the entry early: the delimiter is random and checked against it.
pub fn heredoc(name: &str, value: &str, delimiter: &str) -> Result<String> {
    if value.contains(delimiter) {
        return Err(Error::sink(format!(
            "the value of {name} contains the heredoc delimiter; run again"
        )));
    }
    Ok(format!("{name}<<{delimiter}\n{value}\n{delimiter}\n"))
}

/// `ghadelimiter_` and 128 random bits, as the runner's own toolkit does.
pub fn delimiter() -> Result<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)
        .map_err(|e| Error::sink(format!("no randomness for the GITHUB_ENV delimiter: {e}")))?;
    Ok(format!("ghadelimiter_{}", hex::encode(bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annotations_escape_what_github_would_cut() {
        let err = Error::denied("STS refused: 100% no, a:b").with_hint("hint: line one\nline two");
        assert_eq!(
            annotation(&err),
            "::error title=vault-ci%3A access denied::STS refused: 100%25 no, a:b%0A  hint: line one%0A  line two"
        );
    }

    #[test]
    fn every_piece_of_a_value_is_masked_on_a_line_of_its_own() {
        assert_eq!(
            mask_lines("abc\r\ndef\rghi\n\n"),
            "::add-mask::abc\n::add-mask::def\n::add-mask::ghi\n"
        );
    }

    proptest::proptest! {
        /// Whatever a secret holds, every mask command is one line that the runner
        /// reads whole, and together they cover every character of the secret.
        #[test]
        fn masks_cover_the_whole_secret(secret in "\\PC{0,20}([\\r\\n]{1,2}\\PC{1,20}){0,3}") {
            let masks = mask_lines(&secret);
            for line in masks.split_terminator('\n') {
                proptest::prop_assert!(line.starts_with("::add-mask::"));
                proptest::prop_assert!(!line.contains('\r'));
            }
            let covered: Vec<&str> = masks.lines().map(|l| &l["::add-mask::".len()..]).collect();
            for piece in secret.split(['\n', '\r']).filter(|p| !p.trim().is_empty()) {
                proptest::prop_assert!(covered.contains(&piece));
            }
        }
    }
}
