//! Destinations for the final credentials, one file each. A sink sees only the
//! final [`Output`]; it knows nothing of providers or hops.
//!
//! Delivery is two-phase so a failure leaves nothing half-written: every sink
//! stages first (renders its bytes, writes temporary files, opens what it will
//! append to), then each commits with one rename or one append. Renames go
//! first, since they cannot fail halfway; an append that fails has the appends
//! before it taken back by appending their retraction — never by truncating a
//! file another process may have appended to meanwhile.
//!
//! Adding a destination is a file here, a line in `Plan::sinks` and a flag.

mod append;
mod bash_env;
pub mod endpoint;
mod env_file;
pub mod exec;
pub mod github_env;
mod profile;
pub mod serve;
pub mod shell;
pub mod stdout;

pub use bash_env::BashEnv;
pub use env_file::EnvFile;
pub use github_env::GithubEnv;
pub use profile::Profile;
pub use stdout::{Format, Stdout};

use aws_smithy_types::date_time::DateTime;

use std::path::PathBuf;

use crate::error::Result;
use crate::secret::{Credentials, Secret};
use crate::time::rfc3339;

/// What the chain produced, as every sink needs it.
#[derive(Clone)]
pub struct Output {
    pub credentials: Credentials,
    pub assumed_role_arn: String,
    pub account_id: Option<String>,
    /// Exported only when the user chose one; otherwise later tools keep theirs.
    pub region: Option<String>,
    /// With `--serve`: where a job-wide server serves them, which is what the
    /// sinks hand on instead of the keys.
    pub endpoint: Option<Served>,
}

/// A job-wide credentials server (`--serve`), as later steps reach it.
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
        if let Some(served) = &self.endpoint {
            return serve::later_step_variables(self, served);
        }
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

    /// The secret values, for masks.
    pub fn secrets(&self) -> Vec<&str> {
        if let Some(served) = &self.endpoint {
            return vec![served.token.expose()];
        }
        let creds = &self.credentials;
        let mut secrets = vec![
            creds.access_key_id.as_str(),
            creds.secret_access_key.expose(),
        ];
        if let Some(token) = &creds.session_token {
            secrets.push(token.expose());
        }
        secrets
    }
}

/// When a sink's commit runs, relative to the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Order {
    /// A rename: all or nothing.
    Replace,
    /// One append to a file others read (and may write) too.
    Append,
    /// stdout, last: once printed it cannot be taken back.
    Print,
}

pub trait Sink {
    fn order(&self) -> Order;
    /// Renders and prepares everything that can fail; nothing is visible yet.
    fn stage(&mut self, out: &Output) -> Result<()>;
    /// Makes it visible in one step.
    fn commit(&mut self) -> Result<()>;
    /// After a later sink failed: takes back what `commit` made visible.
    fn revoke(&mut self) {}
}

/// Writes every destination, or none of them.
pub fn deliver(sinks: &mut [Box<dyn Sink>], out: &Output) -> Result<()> {
    sinks.sort_by_key(|sink| sink.order());
    // Between a temporary file's creation and its rename, a Ctrl-C or a CI's
    // SIGTERM waits: it arrives once the files are in place or gone.
    let _held = crate::signals::hold();
    for sink in sinks.iter_mut() {
        sink.stage(out)?;
    }
    for index in 0..sinks.len() {
        if let Err(err) = sinks[index].commit() {
            // The failed one too: its write may have got halfway.
            for done in sinks[..=index].iter_mut().rev() {
                done.revoke();
            }
            return Err(err);
        }
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::error::Error;
    use std::cell::RefCell;
    use std::rc::Rc;

    pub fn output() -> Output {
        Output {
            credentials: Credentials {
                access_key_id: "ASIAEXAMPLE".into(),
                secret_access_key: Secret::new("secret/key+="),
                session_token: Some(Secret::new("token")),
                expiration: Some(
                    std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_795_000_000),
                ),
            },
            assumed_role_arn: "arn:aws:sts::123456789012:assumed-role/deploy/s".into(),
            account_id: Some("123456789012".into()),
            region: Some("eu-west-1".into()),
            endpoint: None,
        }
    }

    struct Recorder {
        name: &'static str,
        order: Order,
        fail_commit: bool,
        log: Rc<RefCell<Vec<String>>>,
    }

    impl Sink for Recorder {
        fn order(&self) -> Order {
            self.order
        }
        fn stage(&mut self, _out: &Output) -> Result<()> {
            self.log.borrow_mut().push(format!("stage {}", self.name));
            Ok(())
        }
        fn commit(&mut self) -> Result<()> {
            self.log.borrow_mut().push(format!("commit {}", self.name));
            if self.fail_commit {
                return Err(Error::sink(format!("{} failed", self.name)));
            }
            Ok(())
        }
        fn revoke(&mut self) {
            self.log.borrow_mut().push(format!("revoke {}", self.name));
        }
    }

    #[test]
    fn renames_go_first_and_a_failure_takes_back_what_came_before() {
        let log = Rc::new(RefCell::new(Vec::new()));
        let sink = |name, order, fail_commit| -> Box<dyn Sink> {
            Box::new(Recorder {
                name,
                order,
                fail_commit,
                log: log.clone(),
            })
        };
        let mut sinks = vec![
            sink("stdout", Order::Print, false),
            sink("github", Order::Append, false),
            sink("bash", Order::Append, true),
            sink("file", Order::Replace, false),
        ];
        let err = deliver(&mut sinks, &output()).unwrap_err();
        assert_eq!(err.message(), "bash failed");
        assert_eq!(
            *log.borrow(),
            [
                "stage file",
                "stage github",
                "stage bash",
                "stage stdout",
                "commit file",
                "commit github",
                "commit bash",
                "revoke bash",
                "revoke github",
                "revoke file",
            ]
        );
    }

    #[test]
    fn the_variables_are_the_ones_every_sdk_reads() {
        let names: Vec<&str> = output()
            .reveal_variables()
            .iter()
            .map(|(n, _)| *n)
            .collect();
        assert_eq!(
            names,
            [
                "AWS_ACCESS_KEY_ID",
                "AWS_SECRET_ACCESS_KEY",
                "AWS_SESSION_TOKEN",
                "AWS_REGION",
                "AWS_DEFAULT_REGION",
                "AWS_CREDENTIAL_EXPIRATION"
            ]
        );
        assert_eq!(output().expiration().unwrap(), "2026-11-18T11:06:40Z");
    }
}
