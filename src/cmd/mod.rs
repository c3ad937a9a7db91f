//! One file per command; helpers that several commands share live here.

pub mod assume;
pub mod token;
pub mod trust_policy;

use std::path::{Path, PathBuf};

use crate::cli::{IdentityArgs, NetArgs};
use crate::error::{Error, Result};
use crate::identity::{ProviderOptions, Source};
use crate::net::NetConfig;

pub fn env_nonempty(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

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
    NetConfig::new(ca_bundle.as_deref(), net.http_proxy.as_deref())
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

pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::sts(format!("cannot start the async runtime: {e}")))
}
