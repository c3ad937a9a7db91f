//! `$GITHUB_ENV` and `$GITHUB_OUTPUT`: files the runner reads after the step.
//! Values are written in heredoc form (`NAME<<DELIM`) with a random delimiter,
//! so no value can end an entry early and inject another variable.

use std::path::PathBuf;

use super::{Output, env_target};
use crate::error::{Error, Result};

pub struct Targets {
    env: PathBuf,
    /// Older runners and local runs may lack it; outputs are then skipped.
    output: Option<PathBuf>,
    /// Also put the keys in the outputs (configure-aws-credentials' output-credentials).
    output_credentials: bool,
}

impl Targets {
    pub fn from_env(output_credentials: bool) -> Result<Targets> {
        let env = env_target(
            "GITHUB_ENV",
            "--github-env",
            "it exists only inside a GitHub Actions step; elsewhere use --env-file PATH",
        )?;
        let output = std::env::var_os("GITHUB_OUTPUT")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from);
        if output_credentials && output.is_none() {
            return Err(Error::usage(
                "--output-credentials needs $GITHUB_OUTPUT, which is not set: it exists only inside a GitHub Actions step",
            ));
        }
        Ok(Targets {
            env,
            output,
            output_credentials,
        })
    }
}

pub struct Rendered {
    pub masks: String,
    pub env_path: PathBuf,
    pub env: String,
    pub outputs: Option<(PathBuf, String)>,
}

pub fn render(targets: &Targets, out: &Output) -> Result<Rendered> {
    let creds = &out.credentials;
    let mut masks = String::new();
    let mut secrets = vec![
        creds.access_key_id.as_str(),
        creds.secret_access_key.expose(),
    ];
    if let Some(token) = &creds.session_token {
        secrets.push(token.expose());
    }
    // A mask command is one line, so a value with line breaks is masked line by line.
    for line in secrets
        .iter()
        .flat_map(|s| s.lines())
        .filter(|l| !l.is_empty())
    {
        masks.push_str(&format!("::add-mask::{line}\n"));
    }

    let delimiter = delimiter()?;
    let entry = |name: &str, value: &str| -> Result<String> {
        if value.contains(&delimiter) {
            return Err(Error::sink(format!(
                "the value of {name} contains the heredoc delimiter; run again"
            )));
        }
        Ok(format!("{name}<<{delimiter}\n{value}\n{delimiter}\n"))
    };
    let env = out
        .reveal_variables()
        .iter()
        .map(|(name, value)| entry(name, value))
        .collect::<Result<String>>()?;

    let outputs = match &targets.output {
        Some(path) => {
            let mut text = String::new();
            if let Some(account) = &out.account_id {
                text.push_str(&entry("aws-account-id", account)?);
            }
            text.push_str(&entry("aws-role-arn", &out.assumed_role_arn)?);
            if let Some(expiration) = out.expiration() {
                text.push_str(&entry("aws-expiration", &expiration)?);
            }
            if targets.output_credentials {
                text.push_str(&entry("aws-access-key-id", &creds.access_key_id)?);
                text.push_str(&entry(
                    "aws-secret-access-key",
                    creds.secret_access_key.expose(),
                )?);
                if let Some(token) = &creds.session_token {
                    text.push_str(&entry("aws-session-token", token.expose())?);
                }
            }
            Some((path.clone(), text))
        }
        None => None,
    };
    Ok(Rendered {
        masks,
        env_path: targets.env.clone(),
        env,
        outputs,
    })
}

/// `ghadelimiter_` and 128 random bits, as the runner's own toolkit does.
fn delimiter() -> Result<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)
        .map_err(|e| Error::sink(format!("no randomness for the GITHUB_ENV delimiter: {e}")))?;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!("ghadelimiter_{hex}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::{Credentials, Secret};

    /// The runner's reading of a file: `NAME<<DELIM` up to a line equal to DELIM.
    fn runner_reads(text: &str) -> Vec<(String, String)> {
        let mut vars = Vec::new();
        let mut lines = text.split('\n');
        while let Some(line) = lines.next().filter(|l| !l.is_empty()) {
            let (name, delimiter) = line.split_once("<<").expect("heredoc form");
            let value: Vec<&str> = lines.by_ref().take_while(|l| *l != delimiter).collect();
            vars.push((name.to_string(), value.join("\n")));
        }
        vars
    }

    #[test]
    fn any_value_round_trips_through_the_runners_rules() {
        let awkward = "a=b+c/d\nNAME=injected\n\nghadelimiter_x\r\nend";
        let out = Output {
            credentials: Credentials {
                access_key_id: "ASIA+/=".into(),
                secret_access_key: Secret::new(awkward),
                session_token: Some(Secret::new("line1\nline2=")),
                expiration: None,
            },
            assumed_role_arn: "arn:aws:sts::123456789012:assumed-role/r/s".into(),
            account_id: Some("123456789012".into()),
            region: Some("eu-west-1".into()),
        };
        let targets = Targets {
            env: "unused".into(),
            output: Some("unused".into()),
            output_credentials: true,
        };
        let rendered = render(&targets, &out).unwrap();
        let read = runner_reads(&rendered.env);
        assert_eq!(
            read,
            out.reveal_variables()
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect::<Vec<_>>()
        );
        let outputs = runner_reads(&rendered.outputs.unwrap().1);
        assert_eq!(outputs[0], ("aws-account-id".into(), "123456789012".into()));
        assert!(outputs.contains(&("aws-secret-access-key".into(), awkward.into())));
        assert!(rendered.masks.contains("::add-mask::ASIA+/=\n"));
        assert!(
            rendered.masks.contains("::add-mask::line2=\n"),
            "{}",
            rendered.masks
        );
    }

    proptest::proptest! {
        /// Any value — `=`, `<<`, newlines, lookalike delimiters — reaches the
        /// runner as written, and every line of it is masked.
        #[test]
        fn any_secret_round_trips_and_is_masked(secret in "\\PC{0,30}(\n\\PC{0,20}){0,3}") {
            let out = Output {
                credentials: Credentials {
                    access_key_id: "ASIAEXAMPLE".into(),
                    secret_access_key: Secret::new(secret.clone()),
                    session_token: None,
                    expiration: None,
                },
                assumed_role_arn: "arn:aws:sts::123456789012:assumed-role/r/s".into(),
                account_id: None,
                region: None,
            };
            let targets = Targets { env: "unused".into(), output: None, output_credentials: false };
            let rendered = render(&targets, &out).unwrap();
            let read = runner_reads(&rendered.env);
            proptest::prop_assert_eq!(&read[1], &("AWS_SECRET_ACCESS_KEY".to_string(), secret.clone()));
            for line in secret.lines().filter(|l| !l.is_empty()) {
                let mask = format!("::add-mask::{line}\n");
                proptest::prop_assert!(rendered.masks.contains(&mask));
            }
        }
    }
}
