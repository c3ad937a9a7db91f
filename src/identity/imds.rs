//! The EC2 instance's role, through instance metadata (IMDSv2: a session token
//! first, then the role's credentials), as every AWS SDK finds it; for
//! self-hosted runners on EC2. AWS_EC2_METADATA_DISABLED=true turns it off;
//! AWS_EC2_METADATA_SERVICE_ENDPOINT points it elsewhere.

use aws_config::imds::credentials::ImdsCredentialsProvider;

use super::machine;
use crate::env::Env;
use crate::error::Result;
use crate::net::NetConfig;
use crate::secret::Credentials;

pub const TITLE: &str = "the EC2 instance's role (instance metadata)";

pub fn disabled(env: &Env) -> bool {
    env.get("AWS_EC2_METADATA_DISABLED")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

pub async fn credentials(net: &NetConfig) -> Result<Credentials> {
    // The metadata client reads the shared config file for its endpoint.
    machine::check_files(&[machine::SdkFile::Profiles])?;
    let provider = ImdsCredentialsProvider::builder()
        .configure(&machine::provider_config(net))
        .build();
    machine::fetch(
        &provider,
        "the instance's role credentials (instance metadata)",
        "is this an EC2 instance with an instance profile? set AWS_EC2_METADATA_DISABLED=true where it is not",
    )
    .await
}
