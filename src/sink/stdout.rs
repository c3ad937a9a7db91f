//! Credentials on stdout, in the format the reader expects.

use std::io::Write;

use serde_json::json;

use super::{Delivery, Order, Output, Sink, shell};
use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// `export NAME='value'` lines for a POSIX shell (`eval "$(vault-ci assume …)"`).
    Env,
    /// `NAME=value` lines for docker --env-file, dotenv libraries and Compose.
    Dotenv,
    /// One JSON object with the credentials, expiry, role ARN, account and region.
    Json,
    /// The `Version: 1` document the AWS CLI and SDKs read from `credential_process`.
    CredentialProcess,
}

pub struct Stdout {
    format: Format,
    text: String,
}

impl Stdout {
    pub fn new(format: Format) -> Stdout {
        Stdout {
            format,
            text: String::new(),
        }
    }
}

pub fn render(format: Format, delivery: &Delivery) -> Result<String> {
    let variables = &delivery.variables;
    let document = |keys: fn(&Output) -> serde_json::Value| {
        // The documents hold a session's keys; the plan gives these formats one.
        delivery.session.as_ref().map(keys)
    };
    Ok(match format {
        Format::Env => shell::export_lines(variables),
        Format::Dotenv => variables
            .iter()
            .map(|(name, value)| shell::dotenv_line(name, value))
            .collect::<Result<String>>()?,
        Format::Json => document(json_document)
            .map(|doc| format!("{doc:#}\n"))
            .unwrap_or_default(),
        Format::CredentialProcess => document(credential_process)
            .map(|doc| format!("{doc}\n"))
            .unwrap_or_default(),
    })
}

fn json_document(out: &Output) -> serde_json::Value {
    let creds = &out.credentials;
    json!({
        "AccessKeyId": creds.access_key_id,
        "SecretAccessKey": creds.secret_access_key.expose(),
        "SessionToken": creds.session_token.as_ref().map(|t| t.expose()),
        "Expiration": out.expiration(),
        "RoleArn": out.assumed_role_arn,
        "AccountId": out.account_id,
        "Region": out.region,
    })
}

/// https://docs.aws.amazon.com/sdkref/latest/guide/feature-process-credentials.html
fn credential_process(out: &Output) -> serde_json::Value {
    let creds = &out.credentials;
    json!({
        "Version": 1,
        "AccessKeyId": creds.access_key_id,
        "SecretAccessKey": creds.secret_access_key.expose(),
        "SessionToken": creds.session_token.as_ref().map(|t| t.expose()),
        "Expiration": out.expiration(),
    })
}

impl Sink for Stdout {
    fn order(&self) -> Order {
        Order::Print
    }

    fn stage(&mut self, delivery: &Delivery) -> Result<()> {
        self.text = render(self.format, delivery)?;
        Ok(())
    }

    fn commit(&mut self) -> Result<()> {
        let mut stdout = std::io::stdout().lock();
        stdout
            .write_all(self.text.as_bytes())
            .and_then(|_| stdout.flush())
            .map_err(|e| Error::sink(format!("cannot write to stdout: {e}")))
    }
}
