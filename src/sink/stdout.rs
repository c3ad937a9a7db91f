//! Credentials on stdout, in the format the reader expects.

use serde_json::json;

use super::{Output, shell};
use crate::cli::Format;

pub fn render(format: Format, out: &Output) -> String {
    let creds = &out.credentials;
    match format {
        Format::Env => shell::export_lines(out),
        Format::Dotenv => out
            .reveal_variables()
            .iter()
            .map(|(name, value)| shell::dotenv_line(name, value))
            .collect(),
        Format::Json => {
            let doc = json!({
                "AccessKeyId": creds.access_key_id,
                "SecretAccessKey": creds.secret_access_key.expose(),
                "SessionToken": creds.session_token.as_ref().map(|t| t.expose()),
                "Expiration": out.expiration(),
                "RoleArn": out.assumed_role_arn,
                "AccountId": out.account_id,
                "Region": out.region,
            });
            format!("{doc:#}\n")
        }
        Format::CredentialProcess => {
            // https://docs.aws.amazon.com/sdkref/latest/guide/feature-process-credentials.html
            let doc = json!({
                "Version": 1,
                "AccessKeyId": creds.access_key_id,
                "SecretAccessKey": creds.secret_access_key.expose(),
                "SessionToken": creds.session_token.as_ref().map(|t| t.expose()),
                "Expiration": out.expiration(),
            });
            format!("{doc}\n")
        }
    }
}
