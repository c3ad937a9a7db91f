//! The machine's own credentials, found as the AWS SDKs' default chain finds
//! them, through the official providers of the `aws-config` crate: for
//! self-hosted runners whose task, pod or instance has a role. Shared by
//! `container.rs` and `imds.rs`.

use aws_config::provider_config::ProviderConfig;
use aws_credential_types::provider::ProvideCredentials;
use aws_credential_types::provider::error::CredentialsError;

use crate::error::{Error, Peer, Result, error_chain};
use crate::net::NetConfig;
use crate::secret::{Credentials, Secret};

pub fn provider_config(net: &NetConfig) -> ProviderConfig {
    ProviderConfig::without_region().with_http_client(net.sts_http_client())
}

/// Asks `provider` once; `what` names it in messages ("ECS/EKS container credentials").
pub async fn fetch(
    provider: &impl ProvideCredentials,
    what: &str,
    fix: &str,
) -> Result<Credentials> {
    let creds = provider
        .provide_credentials()
        .await
        .map_err(|e| failure(e, what, fix))?;
    if creds.access_key_id().is_empty() || creds.secret_access_key().is_empty() {
        return Err(Error::identity(format!("{what} came without keys")));
    }
    Ok(Credentials {
        access_key_id: creds.access_key_id().to_string(),
        secret_access_key: Secret::new(creds.secret_access_key()),
        session_token: creds.session_token().map(Secret::new),
        expiration: creds.expiry(),
    })
}

fn failure(err: CredentialsError, what: &str, fix: &str) -> Error {
    let cause = error_chain(&err);
    match err {
        CredentialsError::ProviderTimedOut(_) | CredentialsError::ProviderError(_) => {
            Error::unavailable(Peer::Metadata, format!("{what} could not be had: {cause}"))
        }
        _ => Error::identity(format!("{what} could not be had: {cause}; {fix}")),
    }
}

/// Whatever credentials the AWS SDKs would find here on their own (their
/// default chain: the environment, the shared files' profile, a web-identity
/// token file, the container, the instance), for `--use-existing-credentials`.
pub async fn ambient(net: &NetConfig) -> Result<Credentials> {
    let chain = aws_config::default_provider::credentials::DefaultCredentialsChain::builder()
        .configure(provider_config(net))
        .build()
        .await;
    fetch(
        &chain,
        "the credentials already here",
        "nothing in the environment, the shared files, the container or the instance",
    )
    .await
}
