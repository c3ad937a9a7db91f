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
mod env_file;
pub mod exec;
pub mod github_env;
mod profile;
pub mod shell;
pub mod stdout;

pub use bash_env::BashEnv;
pub use env_file::EnvFile;
pub use github_env::GithubEnv;
pub use profile::Profile;
pub use stdout::{Format, Stdout};

use aws_smithy_types::date_time::DateTime;

use crate::arn::AccountId;
use crate::error::Result;
use crate::secret::Credentials;
use crate::time::rfc3339;

/// What the chain produced, as every sink needs it.
#[derive(Clone)]
pub struct Output {
    pub credentials: Credentials,
    pub assumed_role_arn: String,
    pub account_id: Option<AccountId>,
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

    /// The variables every AWS SDK and CLI reads, secrets in clear.
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

/// What the sinks hand on: the variables later steps (or the command) get,
/// the values to mask in a job log, and the session they are for. Usually the
/// session's own keys; with `--serve`, a server's address instead
/// (`server::Served::delivery`); for the compatibility paths of
/// configure-aws-credentials, variables alone.
pub struct Delivery {
    /// In the order they are written; values in clear: only sinks read them.
    pub variables: Vec<(&'static str, String)>,
    pub secrets: Vec<String>,
    /// The outputs (account, role, expiry) and files that hold keys come from it;
    /// without one, only the variables are written.
    pub session: Option<Output>,
}

impl Delivery {
    /// The session's keys, region and expiry.
    pub fn keys(out: Output) -> Delivery {
        let creds = &out.credentials;
        let mut secrets = vec![
            creds.access_key_id.clone(),
            creds.secret_access_key.expose().to_string(),
        ];
        if let Some(token) = &creds.session_token {
            secrets.push(token.expose().to_string());
        }
        Delivery {
            variables: out.reveal_variables(),
            secrets,
            session: Some(out),
        }
    }

    /// Variables that are no secret (empty ones, a region), and no session.
    pub fn variables(variables: Vec<(&'static str, String)>) -> Delivery {
        Delivery {
            variables,
            secrets: Vec::new(),
            session: None,
        }
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
    fn stage(&mut self, delivery: &Delivery) -> Result<()>;
    /// Makes it visible in one step.
    fn commit(&mut self) -> Result<()>;
    /// After a later sink failed: takes back what `commit` made visible.
    fn revoke(&mut self) {}
}

/// Writes every destination, or none of them.
pub fn deliver(sinks: &mut [Box<dyn Sink>], delivery: &Delivery) -> Result<()> {
    sinks.sort_by_key(|sink| sink.order());
    // Between a temporary file's creation and its rename, a Ctrl-C or a CI's
    // SIGTERM waits: it arrives once the files are in place or gone.
    let _held = crate::signals::hold();
    for sink in sinks.iter_mut() {
        sink.stage(delivery)?;
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
    use crate::secret::Secret;
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
            account_id: Some("123456789012".parse().unwrap()),
            region: Some("eu-west-1".into()),
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
        fn stage(&mut self, _delivery: &Delivery) -> Result<()> {
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
        let err = deliver(&mut sinks, &Delivery::keys(output())).unwrap_err();
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
