//! Destinations for the final credentials, one file each. A sink sees only the
//! final [`Output`]; it knows nothing of providers or hops.
//!
//! Delivery is two-phase so a failure leaves nothing half-written: every sink
//! renders its bytes first, then the files are written, append-only files each
//! in one write and rolled back if a later one fails, the env file by rename.

mod bash_env;
mod env_file;
pub mod exec;
mod github_env;
mod shell;
mod stdout;

use std::ffi::OsString;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use aws_smithy_types::date_time::DateTime;

use crate::cli::Format;
use crate::error::{Error, Result};
use crate::identity::token::rfc3339;
use crate::secret::Credentials;

/// What the chain produced, as every sink needs it.
pub struct Output {
    pub credentials: Credentials,
    pub assumed_role_arn: String,
    pub account_id: Option<String>,
    /// Exported only when the user chose one; otherwise later tools keep theirs.
    pub region: Option<String>,
}

impl Output {
    /// RFC 3339 in whole seconds, as STS itself writes it (`2026-11-24T21:00:00Z`).
    pub fn expiration(&self) -> Option<String> {
        rfc3339(DateTime::from(self.credentials.expiration?).secs())
    }

    /// `AWS_REGION` and `AWS_DEFAULT_REGION`, when a region was chosen.
    pub fn region_variables(&self) -> Vec<(&'static str, String)> {
        match &self.region {
            Some(region) => vec![
                ("AWS_REGION", region.clone()),
                ("AWS_DEFAULT_REGION", region.clone()),
            ],
            None => Vec::new(),
        }
    }

    /// The variables every AWS SDK and CLI reads, secrets in clear: only sinks call this.
    pub fn reveal_variables(&self) -> Vec<(&'static str, String)> {
        let creds = &self.credentials;
        let mut vars = vec![
            ("AWS_ACCESS_KEY_ID", creds.access_key_id.clone()),
            (
                "AWS_SECRET_ACCESS_KEY",
                creds.secret_access_key.expose().to_string(),
            ),
        ];
        if let Some(token) = &creds.session_token {
            vars.push(("AWS_SESSION_TOKEN", token.expose().to_string()));
        }
        vars.extend(self.region_variables());
        if let Some(expiration) = self.expiration() {
            vars.push(("AWS_CREDENTIAL_EXPIRATION", expiration));
        }
        vars
    }
}

/// The destinations chosen on the command line, checked before any request.
pub struct Sinks {
    github: Option<github_env::Targets>,
    bash_env: Option<PathBuf>,
    env_file: Option<PathBuf>,
    format: Option<Format>,
    command: Vec<OsString>,
}

impl Sinks {
    /// `github_env`: `Some(output_credentials)` when writing to $GITHUB_ENV.
    pub fn new(
        github_env: Option<bool>,
        bash_env: bool,
        env_file: Option<PathBuf>,
        format: Option<Format>,
        command: Vec<OsString>,
        in_github_actions: bool,
    ) -> Result<Sinks> {
        let github = github_env.map(github_env::Targets::from_env).transpose()?;
        let bash_env = if bash_env {
            Some(bash_env::target()?)
        } else {
            None
        };
        if let Some(path) = &env_file {
            crate::validate::writable_parent(path, "--env-file")?;
        }
        if format.is_some() && !command.is_empty() {
            return Err(Error::usage(
                "--format prints the credentials to stdout, which the command after `--` also \
                 writes to: use one or the other",
            ));
        }
        let chosen = github.is_some() || bash_env.is_some() || env_file.is_some();
        let format = match format {
            None if !chosen && command.is_empty() => {
                if in_github_actions {
                    // stdout is the job log here: printing keys would publish them.
                    return Err(Error::usage(
                        "no destination given, and in GitHub Actions stdout is the job log: \
                         add --github-env (or --env-file PATH, or `-- COMMAND`)",
                    ));
                }
                Some(Format::Env)
            }
            other => other,
        };
        Ok(Sinks {
            github,
            bash_env,
            env_file,
            format,
            command,
        })
    }

    /// True when stdout is reserved for the credentials themselves.
    pub fn uses_stdout(&self) -> bool {
        self.format.is_some()
    }

    /// Writes every destination, or none. With a command, runs it last and
    /// returns its exit status.
    pub fn deliver(self, out: &Output) -> Result<ExitCode> {
        // Phase 1: render everything; nothing touches disk yet.
        let github = self
            .github
            .as_ref()
            .map(|t| github_env::render(t, out))
            .transpose()?;
        let bash = self.bash_env.as_ref().map(|p| (p, bash_env::render(out)));
        let stdout_text = self.format.map(|f| stdout::render(f, out));
        let env_file = self
            .env_file
            .as_ref()
            .map(|path| env_file::stage(path, out))
            .transpose()?;

        // Phase 2: write. Masks go to the log before any value reaches a file.
        let mut appended: Vec<Appended> = Vec::new();
        let result = (|| -> Result<()> {
            if let Some(rendered) = &github {
                print!("{}", rendered.masks);
                std::io::stdout().flush().ok();
                appended.push(append(&rendered.env_path, &rendered.env, "$GITHUB_ENV")?);
                if let Some((path, text)) = &rendered.outputs {
                    appended.push(append(path, text, "$GITHUB_OUTPUT")?);
                }
            }
            if let Some((path, text)) = &bash {
                appended.push(append(path, text, "$BASH_ENV")?);
            }
            if let Some(staged) = env_file {
                staged.commit()?;
            }
            Ok(())
        })();
        if let Err(err) = result {
            for done in appended.iter().rev() {
                done.roll_back();
            }
            return Err(err);
        }
        if let Some(text) = stdout_text {
            let mut stdout = std::io::stdout().lock();
            stdout
                .write_all(text.as_bytes())
                .and_then(|_| stdout.flush())
                .map_err(|e| Error::sink(format!("cannot write to stdout: {e}")))?;
        }
        if !self.command.is_empty() {
            return exec::run(&self.command, out);
        }
        Ok(ExitCode::SUCCESS)
    }
}

/// An append made to a file the runner reads later; undone by truncation.
struct Appended {
    path: PathBuf,
    original_len: u64,
}

impl Appended {
    fn roll_back(&self) {
        if let Ok(file) = OpenOptions::new().write(true).open(&self.path) {
            let _ = file.set_len(self.original_len);
        }
    }
}

/// Appends in a single write so the runner never reads half an entry.
fn append(path: &Path, text: &str, name: &str) -> Result<Appended> {
    let fail = |e: std::io::Error| {
        Error::sink(format!("cannot append to {name} ({}): {e}", path.display()))
    };
    let mut file = OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .map_err(fail)?;
    let original_len = file.metadata().map_err(fail)?.len();
    file.write_all(text.as_bytes()).map_err(fail)?;
    Ok(Appended {
        path: path.to_path_buf(),
        original_len,
    })
}

/// A path from an environment variable the CI sets, checked to be usable.
fn env_target(var: &str, option: &str, hint: &str) -> Result<PathBuf> {
    let path = std::env::var_os(var)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .ok_or_else(|| Error::usage(format!("{option} needs ${var}, which is not set: {hint}")))?;
    crate::validate::writable_parent(&path, &format!("{option} (${var})"))?;
    Ok(path)
}
