//! One file per command; helpers that several commands share live here.

pub mod assume;
pub mod token;
pub mod trust_policy;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::cli::{IdentityArgs, NetArgs};
use crate::error::{Error, Result};
use crate::identity::{ProviderOptions, Source};
use crate::net::NetConfig;
use crate::retry::RetryPolicy;

pub(crate) use crate::identity::env_nonempty;

pub fn in_github_actions() -> bool {
    env_nonempty("GITHUB_ACTIONS").as_deref() == Some("true")
}

pub fn select_source(identity: &IdentityArgs) -> Result<Source> {
    let source = Source::select(
        identity.provider,
        identity.token_file.clone(),
        &ProviderOptions {
            token_env: identity.token_env.clone(),
        },
    )?;
    tracing::info!("identity: {}", source.describe());
    Ok(source)
}

pub fn net_config(net: &NetArgs) -> Result<NetConfig> {
    let ca_bundle = net
        .ca_bundle
        .clone()
        .or_else(|| env_nonempty("AWS_CA_BUNDLE").map(PathBuf::from));
    NetConfig::new(
        ca_bundle.as_deref(),
        net.http_proxy.as_deref(),
        RetryPolicy {
            max_attempts: net.max_attempts,
            ..RetryPolicy::default()
        },
        Duration::from_secs(net.attempt_timeout),
        Duration::from_secs(net.timeout),
    )
}

/// Runs the network part of a command on a current-thread runtime, within
/// --timeout.
pub fn block_on<T>(net: &NetConfig, work: impl Future<Output = Result<T>>) -> Result<T> {
    runtime()?.block_on(within_timeout(net, work))
}

pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::unavailable(format!("cannot start the async runtime: {e}")))
}

/// `work`, or an error once --timeout has passed.
pub async fn within_timeout<T>(
    net: &NetConfig,
    work: impl Future<Output = Result<T>>,
) -> Result<T> {
    let total = net.total_timeout;
    tokio::time::timeout(total, work).await.unwrap_or_else(|_| {
        Err(Error::unavailable(format!(
            "gave up after {} s (--timeout): STS or the token endpoint kept failing or did not answer",
            total.as_secs()
        )))
    })
}
/// A copy of a role's trust policy, read and parsed before any request.
pub fn read_trust_policy(path: &Path, option: &str) -> Result<serde_json::Value> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::usage(format!("{option} {}: cannot read it ({e})", path.display())))?;
    let mut policy: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
        Error::usage(format!(
            "{option} {} is not JSON ({e}); save the role's trust policy, e.g. \
             aws iam get-role --role-name NAME --query Role.AssumeRolePolicyDocument",
            path.display()
        ))
    })?;
    // `aws iam get-role` output, whole: take the document out of it.
    if let Some(document) = policy.pointer("/Role/AssumeRolePolicyDocument") {
        policy = document.clone();
    }
    if policy.get("Statement").is_none() {
        return Err(Error::usage(format!(
            "{option} {} has no \"Statement\": it is not an IAM policy document",
            path.display()
        )));
    }
    Ok(policy)
}
