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

/// A token file is a few kB (a JWT).
const MAX_TOKEN_FILE: usize = 64 * 1024;
/// A shared config file of hundreds of profiles is a few hundred kB.
const MAX_PROFILE_FILE: usize = crate::net::MAX_BODY;

/// The files the SDK's providers read for vault-ci, held to vault-ci's own
/// rules before the SDK opens them: regular files of bounded size, checked
/// without waiting. The SDK reads them whole with a blocking read on vault-ci's
/// one thread, where --timeout cannot interrupt it: a FIFO there would hang the
/// step for good, and `/dev/zero` would fill the memory.
pub enum SdkFile {
    /// `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE`, which the container provider sends.
    ContainerToken,
    /// The shared config and credentials files (`AWS_CONFIG_FILE`,
    /// `AWS_SHARED_CREDENTIALS_FILE`, or `~/.aws/`), for settings and profiles.
    Profiles,
    /// `AWS_WEB_IDENTITY_TOKEN_FILE`, for the default chain's web identity.
    WebIdentityToken,
}

/// Checks what the SDK will read, where the SDK looks: the process's own
/// environment.
pub fn check_files(files: &[SdkFile]) -> Result<()> {
    let env = crate::env::Env::capture();
    for file in files {
        match file {
            SdkFile::ContainerToken => check_file(
                &env,
                crate::sdk::ENDPOINT_TOKEN_FILE,
                None,
                "point it at the token file the container agent writes",
            )?,
            SdkFile::WebIdentityToken => check_file(
                &env,
                "AWS_WEB_IDENTITY_TOKEN_FILE",
                None,
                "point it at the OIDC token file",
            )?,
            SdkFile::Profiles => {
                let shared = crate::sdk::SharedFiles::of(&env);
                let fix = "point the variable at an AWS config file, or remove what is there";
                check_file(&env, "AWS_CONFIG_FILE", shared.config.as_deref(), fix)?;
                check_file(
                    &env,
                    "AWS_SHARED_CREDENTIALS_FILE",
                    shared.credentials.as_deref(),
                    fix,
                )?;
            }
        }
    }
    Ok(())
}

/// The file `var` names, or `default` when it is unset: one the SDK would skip
/// (a default that does not exist) passes.
fn check_file(
    env: &crate::env::Env,
    var: &str,
    default: Option<&std::path::Path>,
    fix: &str,
) -> Result<()> {
    let (path, named) = match env.path(var) {
        Some(path) => (path, true),
        None => match default {
            Some(path) => (path.to_path_buf(), false),
            None => return Ok(()),
        },
    };
    // The SDK skips a shared file or web-identity token file that is not
    // there; a container token file it would fail on, as vault-ci does here.
    let may_be_missing = var != crate::sdk::ENDPOINT_TOKEN_FILE;
    let limit = match var.ends_with("TOKEN_FILE") {
        true => MAX_TOKEN_FILE,
        false => MAX_PROFILE_FILE,
    };
    match crate::files::read_capped(&path, limit) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && may_be_missing => Ok(()),
        Err(e) => {
            let shown = path.display().to_string();
            let shown = crate::text::one_line(&shown);
            let what = match named {
                true => format!("{var} {shown}"),
                false => shown.to_string(),
            };
            Err(Error::usage(format!(
                "{what}, which the AWS SDK reads for vault-ci, cannot be used: {e}; {fix}"
            )))
        }
    }
}

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
    check_files(&[
        SdkFile::Profiles,
        SdkFile::WebIdentityToken,
        SdkFile::ContainerToken,
    ])?;
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
