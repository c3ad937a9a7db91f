//! Where the job's identity comes from: one file per source, each yielding
//! either an OIDC token (for AssumeRoleWithWebIdentity) or base credentials
//! (for AssumeRole). Nothing here knows where the credentials end up.
//!
//! A CI provider is a [`Provider`]; adding one is a new file and a line in
//! [`ci_providers`].

pub mod bitbucket;
pub mod buildkite;
pub mod circleci;
pub mod github;
pub mod gitlab;
pub mod static_keys;
pub mod token;
pub mod token_file;

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;

use serde::de::DeserializeOwned;

use crate::cli::ProviderChoice;
use crate::error::{Error, Result};
use crate::net::NetConfig;
use crate::secret::Credentials;
use static_keys::StaticEnv;
use token::Token;

/// The audience asked for where a provider mints tokens on request.
pub const DEFAULT_AUDIENCE: &str = "sts.amazonaws.com";

/// What the first hop starts from.
pub enum Identity {
    WebIdentity(Token),
    Static(Credentials),
}

pub struct Context<'a> {
    /// `--audience` as given; providers that mint on request default it.
    pub audience: Option<&'a str>,
    pub net: &'a NetConfig,
    /// In GitHub Actions, print `::add-mask::` for a fetched token. Off when stdout
    /// carries the credentials themselves (`--format`), which must stay parseable.
    pub mask_on_stdout: bool,
}

impl Context<'_> {
    pub fn audience_or_default(&self) -> &str {
        self.audience.unwrap_or(DEFAULT_AUDIENCE)
    }
}

pub type TokenFuture<'a> = Pin<Box<dyn Future<Output = Result<Token>> + 'a>>;

/// A CI system that issues OIDC tokens to its jobs.
pub trait Provider {
    /// The `--provider` value.
    fn name(&self) -> &'static str;
    /// How users know it: "GitHub Actions".
    fn title(&self) -> &'static str;
    /// The variable that gave it away, for messages: "GITHUB_ACTIONS=true".
    fn marker(&self) -> &'static str;
    /// This job runs in this CI.
    fn detected(&self) -> bool;
    /// A token can be had here (a variable is set, or the CI can mint one).
    fn has_token(&self) -> bool;
    /// Why no token is available, and what to add to the job definition.
    fn missing_token(&self) -> Error;
    /// A session name from the CI's metadata, before sanitising.
    fn session_name(&self) -> Option<String>;
    /// Reads or mints the token.
    fn token<'a>(&'a self, ctx: &'a Context<'a>) -> TokenFuture<'a>;
    /// Can hand out a new token later in the job (not just the one it started with).
    fn mints_fresh_tokens(&self, _ctx: &Context<'_>) -> bool {
        false
    }
}

/// Every CI provider, read from the environment.
pub fn ci_providers(options: &ProviderOptions) -> Vec<Box<dyn Provider>> {
    vec![
        Box::new(github::Github::from_env()),
        Box::new(circleci::CircleCi::from_env()),
        Box::new(gitlab::Gitlab::from_env(options.token_env.clone())),
        Box::new(buildkite::Buildkite::from_env()),
        Box::new(bitbucket::Bitbucket::from_env()),
    ]
}

/// Options that only some providers read.
#[derive(Debug, Default, Clone)]
pub struct ProviderOptions {
    /// GitLab: the variable named in `id_tokens:`.
    pub token_env: Option<String>,
}

/// The chosen identity source, picked before any request is made.
pub enum Source {
    Ci(Box<dyn Provider>),
    TokenFile(PathBuf),
    Static(StaticEnv),
}

impl Source {
    pub fn select(
        choice: ProviderChoice,
        token_file: Option<PathBuf>,
        options: &ProviderOptions,
    ) -> Result<Source> {
        let mut providers = ci_providers(options);
        let keys = StaticEnv::from_env();
        let pick = |name: &str, providers: &mut Vec<Box<dyn Provider>>| {
            let index = providers
                .iter()
                .position(|p| p.name() == name)
                .expect("every named choice has a provider");
            providers.swap_remove(index)
        };
        match choice {
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
                let detected: Vec<_> = providers.iter().filter(|p| p.detected()).collect();
                if detected.len() > 1 {
                    let names: Vec<String> = detected
                        .iter()
                        .map(|p| format!("{} ({})", p.title(), p.marker()))
                        .collect();
                    return Err(Error::usage(format!(
                        "more than one CI detected: {}; pass --provider {} to choose",
                        names.join(", "),
                        detected
                            .iter()
                            .map(|p| p.name())
                            .collect::<Vec<_>>()
                            .join("|")
                    )));
                }
                let ci = detected.first().map(|p| p.name());
                if let Some(name) = ci {
                    let provider = pick(name, &mut providers);
                    if provider.has_token() {
                        return Ok(Source::Ci(provider));
                    }
                    // A CI without OIDC (no permission, no id_tokens:) may still
                    // hold a deploy user's keys.
                    if let Some(path) = token_file::env_token_file() {
                        return Ok(Source::TokenFile(path));
                    }
                    if keys.is_present() {
                        return Ok(Source::Static(keys));
                    }
                    return Err(provider.missing_token());
                }
                if let Some(path) = token_file::env_token_file() {
                    return Ok(Source::TokenFile(path));
                }
                if keys.is_present() {
                    return Ok(Source::Static(keys));
                }
                Err(Error::identity(
                    "no identity found: not in a CI that issues OIDC tokens, no \
                     AWS_WEB_IDENTITY_TOKEN_FILE, and no AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY",
                )
                .with_hint(
                    "hint: in GitHub Actions grant `permissions: id-token: write`; elsewhere pass \
                     --provider, --token-file PATH, or export the deploy user's keys",
                ))
            }
            named => {
                let provider = pick(named.name(), &mut providers);
                if provider.has_token() {
                    Ok(Source::Ci(provider))
                } else {
                    Err(provider.missing_token())
                }
            }
        }
    }

    /// How the source is named in logs.
    pub fn describe(&self) -> String {
        match self {
            Source::Ci(provider) => format!("{} OIDC token", provider.title()),
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

    /// A session name from CI metadata, before sanitising. Keys or a token file
    /// used inside a CI still get the run's name, so CloudTrail shows the run.
    pub fn default_session_name(&self) -> Option<String> {
        let running_ci = || {
            ci_providers(&ProviderOptions::default())
                .into_iter()
                .find(|p| p.detected())
                .and_then(|p| p.session_name())
        };
        match self {
            Source::Ci(provider) => provider.session_name(),
            Source::TokenFile(_) => token_file::env_session_name().or_else(running_ci),
            Source::Static(_) => running_ci(),
        }
    }

    pub async fn identity(&self, ctx: &Context<'_>) -> Result<Identity> {
        match self {
            Source::Static(keys) => keys.credentials().map(Identity::Static),
            _ => self.token(ctx).await.map(Identity::WebIdentity),
        }
    }

    /// When refreshing must stop because the source cannot provide a new token:
    /// the expiry of the one token a CI handed over, if it cannot mint another.
    pub async fn refresh_limit(&self, ctx: &Context<'_>) -> Option<(i64, &'static str)> {
        match self {
            Source::Ci(provider) if !provider.mints_fresh_tokens(ctx) => {
                let token = provider.token(ctx).await.ok()?;
                Some((token.claims.exp?, provider.title()))
            }
            _ => None,
        }
    }

    /// The OIDC token, exactly as `assume` would use it.
    pub async fn token(&self, ctx: &Context<'_>) -> Result<Token> {
        match self {
            Source::Ci(provider) => provider.token(ctx).await,
            Source::TokenFile(path) => token_file::read_token(path),
            Source::Static(_) => Err(Error::usage(
                "static keys have no OIDC token: choose a --provider that issues one, or --token-file",
            )),
        }
    }
}

/// Reads a provider's variables into a struct. Variables that are not UTF-8
/// are skipped rather than aborting the run: no CI variable we read is binary.
pub(crate) fn env_struct<T: DeserializeOwned + Default>() -> T {
    let vars = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)));
    envy::from_iter(vars).unwrap_or_default()
}

pub(crate) fn env_nonempty(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// A token that a CI hands over in a variable: checked to carry the audience
/// the user asked for, since the job definition, not vault-ci, chose it.
pub(crate) fn token_from_variable(
    value: &str,
    variable: &str,
    ctx: &Context<'_>,
    fix: &str,
) -> Result<Token> {
    let token = Token::parse(value, format!("${variable}"))?;
    if let Some(wanted) = ctx.audience
        && !token.claims.has_audience(wanted)
    {
        return Err(Error::identity(format!(
            "the token in ${variable} is for audience {}, not the --audience {wanted} asked for; {fix}",
            token
                .claims
                .aud
                .as_ref()
                .map(|a| a.to_string())
                .unwrap_or_else(|| "(none)".into())
        )));
    }
    Ok(token)
}

/// Runs a CI's own CLI that prints a freshly minted token on stdout.
pub(crate) async fn mint_with(program: &str, args: &[&str], origin: &str) -> Result<Token> {
    let shown = format!("{program} {}", args.first().copied().unwrap_or_default());
    let output = tokio::process::Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::identity(format!(
                "`{program}` is not on PATH, and it is what mints {origin} tokens; run vault-ci inside the job's environment"
            )),
            _ => Error::identity(format!("cannot run `{program}`: {e}")),
        })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let last = stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        return Err(Error::identity(format!(
            "`{shown} …` failed ({}): {}",
            output.status,
            last.trim()
        )));
    }
    let stdout = String::from_utf8(output.stdout).map_err(|_| {
        Error::identity(format!("`{shown} …` printed something that is not a token"))
    })?;
    Token::parse(&stdout, format!("`{shown}`"))
}
