//! A file holding the OIDC token: EKS (IRSA), Jenkins, GitLab jobs that write
//! their `id_tokens:` to disk, anything following the SDKs' web-identity convention.

use std::path::{Path, PathBuf};

use crate::env::Env;
use crate::error::{Error, Result};
use crate::token::Token;

/// A JWT is a few kB; a file much larger than this is not one.
const MAX_TOKEN_FILE: usize = 64 * 1024;

pub fn read_token(path: &Path) -> Result<Token> {
    let raw = crate::files::read_text(path, MAX_TOKEN_FILE).map_err(|e| {
        Error::identity(format!(
            "cannot read the OIDC token file {}: {e}; check --token-file / AWS_WEB_IDENTITY_TOKEN_FILE",
            path.display()
        ))
    })?;
    Token::parse(&raw, format!("the file {}", path.display()))
}

/// The SDK convention: AWS_WEB_IDENTITY_TOKEN_FILE with AWS_ROLE_ARN and AWS_ROLE_SESSION_NAME.
pub fn env_token_file(env: &Env) -> Option<PathBuf> {
    env.path("AWS_WEB_IDENTITY_TOKEN_FILE")
}
