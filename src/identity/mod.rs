//! Where the job's identity comes from: one file per source, each yielding
//! either an OIDC token (for AssumeRoleWithWebIdentity) or base credentials
//! (for AssumeRole). Nothing here knows where the credentials end up.

pub mod github;
pub mod static_keys;
pub mod token;
pub mod token_file;

use std::path::PathBuf;

use serde::de::DeserializeOwned;

use crate::cli::ProviderChoice;
use crate::error::{Error, Result};
use crate::net::NetConfig;
use crate::secret::Credentials;
use github::GithubEnv;
use static_keys::StaticEnv;
use token::Token;

/// What the first hop starts from.
pub enum Identity {
    WebIdentity(Token),
    Static(Credentials),
}

pub struct Context<'a> {
    pub audience: &'a str,
    pub net: &'a NetConfig,
    /// In GitHub Actions, print `::add-mask::` for a fetched token. Off when stdout
    /// carries the credentials themselves (`--format`), which must stay parseable.
    pub mask_on_stdout: bool,
}

/// The chosen identity source, picked before any request is made.
pub enum Source {
    Github(GithubEnv),
    TokenFile(PathBuf),
    Static(StaticEnv),
}

impl Source {
    pub fn select(choice: ProviderChoice, token_file: Option<PathBuf>) -> Result<Source> {
        let github = GithubEnv::from_env();
        let keys = StaticEnv::from_env();
        match choice {
            ProviderChoice::Github => {
                if !github.has_token_endpoint() {
                    return Err(no_github_endpoint(&github));
                }
                Ok(Source::Github(github))
            }
            ProviderChoice::TokenFile => token_file
                .or_else(token_file::env_token_file)
                .map(Source::TokenFile)
                .ok_or_else(|| {
                    Error::usage(
                        "--provider token-file needs --token-file PATH or AWS_WEB_IDENTITY_TOKEN_FILE",
                    )
                }),
            ProviderChoice::Static => {
                if !keys.is_present() {
                    return Err(Error::usage(
                        "--provider static needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment",
                    ));
                }
                Ok(Source::Static(keys))
            }
            ProviderChoice::Auto => {
                if let Some(path) = token_file {
                    return Ok(Source::TokenFile(path));
                }
                if github.is_running() && github.has_token_endpoint() {
                    return Ok(Source::Github(github));
                }
                if let Some(path) = token_file::env_token_file() {
                    return Ok(Source::TokenFile(path));
                }
                if keys.is_present() {
                    return Ok(Source::Static(keys));
                }
                if github.is_running() {
                    return Err(no_github_endpoint(&github));
                }
                Err(Error::identity(
                    "no identity found: not in a supported CI with an OIDC token, no \
                     AWS_WEB_IDENTITY_TOKEN_FILE, and no AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY",
                )
                .with_hint(
                    "hint: in GitHub Actions grant `permissions: id-token: write`; elsewhere pass \
                     --token-file PATH, or export the deploy user's keys",
                ))
            }
        }
    }

    /// How the source is named in logs.
    pub fn describe(&self) -> String {
        match self {
            Source::Github(_) => "GitHub Actions OIDC token".into(),
            Source::TokenFile(path) => format!("OIDC token file {}", path.display()),
            Source::Static(_) => "static keys from the environment".into(),
        }
    }

    /// The role to assume when the command line names none.
    pub fn default_role(&self) -> Option<String> {
        match self {
            Source::TokenFile(_) => token_file::env_role_arn(),
            _ => None,
        }
    }

    /// A session name from CI metadata, before sanitising.
    pub fn default_session_name(&self) -> Option<String> {
        match self {
            Source::Github(env) => env.session_name(),
            Source::TokenFile(_) => token_file::env_session_name(),
            Source::Static(_) => None,
        }
    }

    pub async fn identity(&self, ctx: &Context<'_>) -> Result<Identity> {
        match self {
            Source::Github(env) => github::fetch_token(env, ctx)
                .await
                .map(Identity::WebIdentity),
            Source::TokenFile(path) => token_file::read_token(path).map(Identity::WebIdentity),
            Source::Static(keys) => keys.credentials().map(Identity::Static),
        }
    }
}

pub(super) fn no_github_endpoint(github: &GithubEnv) -> Error {
    let context = if github.is_running() {
        "this GitHub Actions step has no OIDC token endpoint"
    } else {
        "--provider github needs GitHub Actions' OIDC token endpoint"
    };
    Error::identity(format!(
        "{context} (ACTIONS_ID_TOKEN_REQUEST_URL / ACTIONS_ID_TOKEN_REQUEST_TOKEN are not set)"
    ))
    .with_hint(github::MISSING_PERMISSION_HINT)
}

/// Reads a provider's variables into a struct. Variables that are not UTF-8
/// are skipped rather than aborting the run: no CI variable we read is binary.
pub(crate) fn env_struct<T: DeserializeOwned + Default>() -> T {
    let vars = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)));
    envy::from_iter(vars).unwrap_or_default()
}
