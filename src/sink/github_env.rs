//! `$GITHUB_ENV` and `$GITHUB_OUTPUT`: files the runner reads after the step.
//! Every secret is masked in the log before anything else happens; values are
//! written in heredoc form (`NAME<<DELIM`) with a random delimiter, so no value
//! can end an entry early and inject another variable.

use std::path::PathBuf;

use super::append::Append;
use super::{Delivery, Order, Output, Sink};
use crate::error::Result;
use crate::workflow::{self, Workflow};

pub struct GithubEnv {
    env: Append,
    /// Older runners and local runs may lack it; outputs are then skipped.
    output: Option<Append>,
    /// Also put the keys in the outputs (configure-aws-credentials' output-credentials).
    output_credentials: bool,
    /// Export the credentials and region as variables (configure-aws-credentials'
    /// output-env-credentials); off, only the outputs are set.
    variables: bool,
    /// A profile written for later steps, exported as AWS_PROFILE with the variables.
    profile: Option<String>,
    workflow: Workflow,
}

impl GithubEnv {
    pub fn new(
        env: PathBuf,
        output: Option<PathBuf>,
        output_credentials: bool,
        variables: bool,
        profile: Option<String>,
        workflow: Workflow,
    ) -> GithubEnv {
        GithubEnv {
            env: Append::new(&env, "$GITHUB_ENV"),
            output: output.map(|path| Append::new(&path, "$GITHUB_OUTPUT")),
            output_credentials,
            variables,
            profile,
            workflow,
        }
    }
}

/// The entries, and what a later step sees once they are taken back.
pub fn entries(pairs: &[(&str, String)], delimiter: &str) -> Result<(String, String)> {
    let mut text = String::new();
    let mut retraction = String::new();
    for (name, value) in pairs {
        text.push_str(&workflow::heredoc(name, value, delimiter)?);
        retraction.push_str(&format!("{name}=\n"));
    }
    Ok((text, retraction))
}

pub fn outputs(out: &Output, output_credentials: bool) -> Vec<(&'static str, String)> {
    let mut outputs = Vec::new();
    if let Some(account) = &out.account_id {
        outputs.push(("aws-account-id", account.to_string()));
    }
    outputs.push(("authenticated-arn", out.assumed_role_arn.clone()));
    outputs.push(("aws-role-arn", out.assumed_role_arn.clone()));
    if output_credentials {
        if let Some(expiration) = out.expiration() {
            outputs.push(("aws-expiration", expiration));
        }
        let creds = &out.credentials;
        outputs.push(("aws-access-key-id", creds.access_key_id.clone()));
        outputs.push((
            "aws-secret-access-key",
            creds.secret_access_key.expose().to_string(),
        ));
        if let Some(token) = &creds.session_token {
            outputs.push(("aws-session-token", token.expose().to_string()));
        }
    }
    outputs
}

impl Sink for GithubEnv {
    fn order(&self) -> Order {
        Order::Append
    }

    fn stage(&mut self, delivery: &Delivery) -> Result<()> {
        // Masks reach the log before any value reaches a file the runner reads.
        for secret in &delivery.secrets {
            self.workflow.mask(secret);
        }
        let delimiter = workflow::delimiter()?;
        let closer = format!("\n{delimiter}\n");
        if self.variables {
            let mut variables = delivery.variables.clone();
            if let Some(profile) = &self.profile {
                variables.push(("AWS_PROFILE", profile.clone()));
            }
            let (text, retraction) = entries(&variables, &delimiter)?;
            self.env.stage(text, closer.clone(), retraction)?;
        }
        if let (Some(output), Some(session)) = (&mut self.output, &delivery.session) {
            let (text, retraction) =
                entries(&outputs(session, self.output_credentials), &delimiter)?;
            output.stage(text, closer, retraction)?;
        }
        Ok(())
    }

    fn commit(&mut self) -> Result<()> {
        self.env.commit()?;
        if let Some(output) = &mut self.output {
            output.commit()?;
        }
        Ok(())
    }

    fn revoke(&mut self) {
        if let Some(output) = &mut self.output {
            output.revoke();
        }
        self.env.revoke();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::{Credentials, Secret};

    fn runner_reads(text: &str) -> Vec<(String, String)> {
        runner_files::read(text, runner_files::Runner::Unix).unwrap()
    }

    fn output(secret: &str) -> Output {
        Output {
            credentials: Credentials {
                access_key_id: "ASIA+/=".into(),
                secret_access_key: Secret::new(secret),
                session_token: Some(Secret::new("line1\nline2=")),
                expiration: None,
            },
            assumed_role_arn: "arn:aws:sts::123456789012:assumed-role/r/s".into(),
            account_id: Some("123456789012".parse().unwrap()),
            region: Some("eu-west-1".into()),
        }
    }

    #[test]
    fn any_value_round_trips_and_a_retraction_leaves_every_variable_empty() {
        let awkward = "a=b+c/d\nNAME=injected\n\nghadelimiter_x\r\nend";
        let out = output(awkward);
        let (text, retraction) = entries(&out.reveal_variables(), "ghadelimiter_0123").unwrap();
        let expected: Vec<(String, String)> = out
            .reveal_variables()
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        assert_eq!(runner_reads(&text), expected);
        let retracted = runner_reads(&format!("{text}{retraction}"));
        assert!(retracted.iter().all(|(_, v)| v.is_empty()), "{retracted:?}");
        assert_eq!(retracted.len(), expected.len());

        let outputs = runner_reads(
            &entries(&outputs(&out, true), "ghadelimiter_0123")
                .unwrap()
                .0,
        );
        assert_eq!(outputs[0], ("aws-account-id".into(), "123456789012".into()));
        assert!(outputs.contains(&("aws-secret-access-key".into(), awkward.into())));
    }

    #[test]
    fn a_value_holding_the_delimiter_is_refused() {
        let err = entries(&[("X", "a\nghadelimiter_1\nY=1".into())], "ghadelimiter_1").unwrap_err();
        assert_eq!(
            err.message(),
            "the value of X contains the heredoc delimiter; run again"
        );
    }

    proptest::proptest! {
        /// Any value — `=`, `<<`, newlines, lookalike delimiters — reaches the
        /// runner as written.
        #[test]
        fn any_secret_round_trips(secret in "\\PC{0,30}(\n\\PC{0,20}){0,3}") {
            let out = output(&secret);
            let delimiter = crate::workflow::delimiter().unwrap();
            let (text, _) = entries(&out.reveal_variables(), &delimiter).unwrap();
            let read = runner_reads(&text);
            proptest::prop_assert_eq!(&read[1], &("AWS_SECRET_ACCESS_KEY".to_string(), secret.clone()));
        }
    }
}
