//! A file holding the OIDC token: EKS (IRSA), Jenkins, GitLab jobs that write
//! their `id_tokens:` to disk, anything following the SDKs' web-identity convention.

use std::path::{Path, PathBuf};

use super::token::Token;
use crate::error::{Error, Result};

pub fn read_token(path: &Path) -> Result<Token> {
    let raw = std::fs::read_to_string(path).map_err(|e| {
        Error::identity(format!(
            "cannot read the OIDC token file {}: {e}; check --token-file / AWS_WEB_IDENTITY_TOKEN_FILE",
            path.display()
        ))
    })?;
    Token::parse(&raw, format!("the file {}", path.display()))
}

/// The SDK convention: AWS_WEB_IDENTITY_TOKEN_FILE with AWS_ROLE_ARN and AWS_ROLE_SESSION_NAME.
pub fn env_token_file() -> Option<PathBuf> {
    std::env::var_os("AWS_WEB_IDENTITY_TOKEN_FILE")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

pub fn env_role_arn() -> Option<String> {
    super::env_nonempty("AWS_ROLE_ARN")
}

pub fn env_session_name() -> Option<String> {
    super::env_nonempty("AWS_ROLE_SESSION_NAME")
}
