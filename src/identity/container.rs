//! Container credentials: ECS tasks and CodeBuild (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI),
//! EKS Pod Identity and other agents (AWS_CONTAINER_CREDENTIALS_FULL_URI with
//! AWS_CONTAINER_AUTHORIZATION_TOKEN or _TOKEN_FILE).

use aws_config::ecs::EcsCredentialsProvider;

use super::machine;
use crate::env::Env;
use crate::error::Result;
use crate::net::NetConfig;
use crate::secret::Credentials;

pub const TITLE: &str = "container credentials";

pub fn configured(env: &Env) -> bool {
    env.first(&[
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    ])
    .is_some()
}

/// Where they come from, for logs (the URI carries no secret; the token is a header).
pub fn describe(env: &Env) -> String {
    match env.first(&[
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    ]) {
        Some(("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", _)) => {
            "container credentials (ECS/CodeBuild)".into()
        }
        Some((_, uri)) => format!("container credentials from {}", crate::text::one_line(uri)),
        None => TITLE.into(),
    }
}

pub async fn credentials(net: &NetConfig) -> Result<Credentials> {
    // Again on every refresh: the agent rotates the file.
    machine::check_files(&[machine::SdkFile::ContainerToken])?;
    let provider = EcsCredentialsProvider::builder()
        .configure(&machine::provider_config(net))
        .connect_timeout(net.attempt_timeout)
        .read_timeout(net.attempt_timeout)
        .build();
    machine::fetch(
        &provider,
        "the container credentials",
        "check AWS_CONTAINER_CREDENTIALS_FULL_URI / _RELATIVE_URI and AWS_CONTAINER_AUTHORIZATION_TOKEN(_FILE)",
    )
    .await
}
