//! Where the job's identity comes from: one file per source, each yielding
//! either an OIDC token (for AssumeRoleWithWebIdentity) or base credentials
//! (for AssumeRole). Nothing here knows where the credentials end up.
//!
//! A CI is a [`Provider`] with its whole story in its own file: how it is
//! detected, where its token comes from, its session name, what its `sub`
//! claim looks like to a trust policy, and whether it can mint fresh tokens.
//! Adding one is a file and a variant of [`Ci`]; the compiler finds the rest.

pub mod bitbucket;
pub mod buildkite;
pub mod circleci;
pub mod container;
pub mod github;
pub mod gitlab;
pub mod imds;
mod machine;
pub use machine::ambient as ambient_credentials;
mod scope;
pub mod static_keys;
pub mod token_file;

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;

use crate::env::Env;
use crate::error::{Error, Result};
use crate::net::NetConfig;
use crate::secret::Credentials;
use crate::token::Token;
pub use scope::{Scope, Subject};

/// The audience asked for where a provider mints tokens on request.
pub const DEFAULT_AUDIENCE: &str = "sts.amazonaws.com";

/// The CI systems vault-ci knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Ci {
    Github,
    Circleci,
    Gitlab,
    Buildkite,
    Bitbucket,
}

impl Ci {
    pub const ALL: [Ci; 5] = [
        Ci::Github,
        Ci::Circleci,
        Ci::Gitlab,
        Ci::Buildkite,
        Ci::Bitbucket,
    ];

    /// The CI's provider, read from the environment.
    pub fn provider(self, env: &Env, options: &ProviderOptions) -> Box<dyn Provider> {
        match self {
            Ci::Github => Box::new(github::Github::from_env(env)),
            Ci::Circleci => Box::new(circleci::CircleCi::from_env(env)),
            Ci::Gitlab => Box::new(gitlab::Gitlab::from_env(env, options.token_env.clone())),
            Ci::Buildkite => Box::new(buildkite::Buildkite::from_env(
                env,
                options.buildkite_session_tags.clone(),
            )),
            Ci::Bitbucket => Box::new(bitbucket::Bitbucket::from_env(env)),
        }
    }

    /// The trust-policy subject that admits exactly `scope`'s jobs of this CI.
    pub fn trust_subject(self, scope: &Scope) -> Result<Subject> {
        match self {
            Ci::Github => github::trust_subject(scope),
            Ci::Circleci => circleci::trust_subject(scope),
            Ci::Gitlab => gitlab::trust_subject(scope),
            Ci::Buildkite => buildkite::trust_subject(scope),
            Ci::Bitbucket => bitbucket::trust_subject(scope),
        }
    }
}

/// What the user asked for with `--provider`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    /// The CI that is running, then a token file, then static keys.
    Auto,
    Ci(Ci),
    TokenFile,
    Static,
    Container,
    Imds,
    /// Credentials the environment has, whatever CI runs: keys, then the
    /// container's, then the instance's (`--role-chaining`, `--no-role`).
    Credentials,
}

/// What the first hop starts from.
pub enum Identity {
    WebIdentity(Token),
    Keys(Credentials),
}

pub struct Context<'a> {
    /// `--audience` as given; providers that mint on request default it.
    pub audience: Option<&'a str>,
    pub net: &'a NetConfig,
}

impl Context<'_> {
    pub fn audience_or_default(&self) -> &str {
        self.audience.unwrap_or(DEFAULT_AUDIENCE)
    }
}

pub type TokenFuture<'a> = Pin<Box<dyn Future<Output = Result<Token>> + 'a>>;

/// A CI system that issues OIDC tokens to its jobs.
pub trait Provider {
    fn ci(&self) -> Ci;
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
    /// Where the token endpoint is, when there is one (for the network set-up).
    fn token_url(&self) -> Option<&str> {
        None
    }
}

/// Options that only some providers read.
#[derive(Debug, Default, Clone)]
pub struct ProviderOptions {
    /// GitLab: the variable named in `id_tokens:`.
    pub token_env: Option<String>,
    /// `--force-skip-oidc`: `auto` passes over the CI's token.
    pub skip_ci: bool,
    /// Buildkite: claims the agent copies into session tags (`--aws-session-tag`).
    pub buildkite_session_tags: Option<String>,
}

/// The CI this job runs in, if exactly one is detected.
pub fn running_ci(env: &Env, options: &ProviderOptions) -> Result<Option<Box<dyn Provider>>> {
    let mut detected: Vec<Box<dyn Provider>> = Ci::ALL
        .iter()
        .map(|ci| ci.provider(env, options))
        .filter(|p| p.detected())
        .collect();
    if detected.len() > 1 {
        let names: Vec<String> = detected
            .iter()
            .map(|p| format!("{} ({})", p.title(), p.marker()))
            .collect();
        let choices: Vec<&str> = detected.iter().map(|p| ci_name(p.ci())).collect();
        return Err(Error::usage(format!(
            "more than one CI detected: {}; pass --provider {} to choose",
            names.join(", "),
            choices.join("|")
        )));
    }
    Ok(detected.pop())
}

pub fn ci_name(ci: Ci) -> &'static str {
    match ci {
        Ci::Github => "github",
        Ci::Circleci => "circleci",
        Ci::Gitlab => "gitlab",
        Ci::Buildkite => "buildkite",
        Ci::Bitbucket => "bitbucket",
    }
}

/// The chosen identity source, picked before any request is made.
pub enum Source {
    Ci(Box<dyn Provider>),
    TokenFile(PathBuf),
    Keys(Credentials),
    Container(String),
    /// The instance's role; when it is only the last resort of `auto`, the error
    /// to report if instance metadata has nothing either (most often the CI's
    /// missing token).
    Imds {
        instead: Option<Error>,
    },
}

impl Source {
    pub fn select(
        choice: Choice,
        token_file: Option<PathBuf>,
        env: &Env,
        options: &ProviderOptions,
    ) -> Result<Source> {
        let keys = || static_keys::from_env(env);
        match choice {
            Choice::TokenFile => token_file
                .or_else(|| token_file::env_token_file(env))
                .map(Source::TokenFile)
                .ok_or_else(|| {
                    Error::usage(
                        "--provider token-file needs --token-file PATH or AWS_WEB_IDENTITY_TOKEN_FILE",
                    )
                }),
            Choice::Static => match keys() {
                Some(keys) => keys.map(Source::Keys),
                None => Err(Error::usage(
                    "--provider static needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment",
                )),
            },
            Choice::Container if container::configured(env) => {
                Ok(Source::Container(container::describe(env)))
            }
            Choice::Container => Err(Error::usage(
                "--provider container needs AWS_CONTAINER_CREDENTIALS_RELATIVE_URI or \
                 AWS_CONTAINER_CREDENTIALS_FULL_URI, which ECS, CodeBuild and EKS Pod Identity set",
            )),
            Choice::Imds if imds::disabled(env) => Err(Error::usage(
                "--provider imds, but AWS_EC2_METADATA_DISABLED=true turns instance metadata off",
            )),
            Choice::Imds => Ok(Source::Imds { instead: None }),
            Choice::Credentials => {
                if let Some(keys) = keys() {
                    return keys.map(Source::Keys);
                }
                if container::configured(env) {
                    return Ok(Source::Container(container::describe(env)));
                }
                let none = Error::identity(
                    "no credentials in the environment to start from: no AWS_ACCESS_KEY_ID / \
                     AWS_SECRET_ACCESS_KEY, no container credentials, and instance metadata is off",
                )
                .with_hint(
                    "hint: an earlier step exports them (configure-aws-credentials, vault-ci --github-env), \
                     or give the deploy user's keys",
                );
                if imds::disabled(env) {
                    return Err(none);
                }
                Ok(Source::Imds { instead: Some(none) })
            }
            Choice::Ci(ci) => {
                let provider = ci.provider(env, options);
                if provider.has_token() {
                    Ok(Source::Ci(provider))
                } else {
                    Err(provider.missing_token())
                }
            }
            Choice::Auto => {
                if let Some(path) = token_file {
                    return Ok(Source::TokenFile(path));
                }
                let ci = running_ci(env, options)?.filter(|_| !options.skip_ci);
                if let Some(provider) = &ci
                    && provider.has_token()
                {
                    return Ok(Source::Ci(ci.expect("checked above")));
                }
                // A CI without OIDC (no permission, no id_tokens:) may still
                // hold a deploy user's keys.
                if let Some(path) = token_file::env_token_file(env) {
                    return Ok(Source::TokenFile(path));
                }
                if let Some(keys) = keys() {
                    return keys.map(Source::Keys);
                }
                // The machine's own role, in the SDKs' order: container, then instance.
                if container::configured(env) {
                    return Ok(Source::Container(container::describe(env)));
                }
                let nothing = match ci {
                    Some(provider) => provider.missing_token(),
                    None => Error::identity(
                        "no identity found: not in a CI that issues OIDC tokens, no \
                         AWS_WEB_IDENTITY_TOKEN_FILE, no AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, \
                         no container credentials and no instance metadata",
                    )
                    .with_hint(
                        "hint: in GitHub Actions grant `permissions: id-token: write`; elsewhere pass \
                         --provider, --token-file PATH, or export the deploy user's keys",
                    ),
                };
                if imds::disabled(env) {
                    return Err(nothing);
                }
                Ok(Source::Imds {
                    instead: Some(nothing),
                })
            }
        }
    }

    /// How the source is named in logs.
    pub fn describe(&self) -> String {
        match self {
            Source::Ci(provider) => format!("{} OIDC token", provider.title()),
            Source::TokenFile(path) => format!("OIDC token file {}", path.display()),
            Source::Keys(_) => "static keys from the environment".into(),
            Source::Container(described) => described.clone(),
            Source::Imds { .. } => imds::TITLE.into(),
        }
    }

    /// Credentials rather than a token: every hop is AssumeRole.
    pub fn gives_credentials(&self) -> bool {
        matches!(
            self,
            Source::Keys(_) | Source::Container(_) | Source::Imds { .. }
        )
    }

    /// The credentials are already a role session, so the first AssumeRole is
    /// role chaining (capped at one hour by STS).
    pub fn is_session(&self) -> bool {
        match self {
            Source::Keys(keys) => keys.is_session(),
            Source::Container(_) | Source::Imds { .. } => true,
            _ => false,
        }
    }

    /// The role to assume when the command line names none.
    pub fn default_role<'e>(&self, env: &'e Env) -> Option<&'e str> {
        match self {
            Source::TokenFile(_) => env.get("AWS_ROLE_ARN"),
            _ => None,
        }
    }

    /// A session name from CI metadata, before sanitising. Keys or a token file
    /// used inside a CI still get the run's name, so CloudTrail shows the run.
    pub fn default_session_name(&self, env: &Env) -> Option<String> {
        let running = || {
            running_ci(env, &ProviderOptions::default())
                .ok()
                .flatten()
                .and_then(|p| p.session_name())
        };
        match self {
            Source::Ci(provider) => provider.session_name(),
            Source::TokenFile(_) => env
                .get("AWS_ROLE_SESSION_NAME")
                .map(str::to_string)
                .or_else(running),
            Source::Keys(_) | Source::Container(_) | Source::Imds { .. } => running(),
        }
    }

    /// The token endpoint this source will call, if any.
    pub fn token_url(&self) -> Option<&str> {
        match self {
            Source::Ci(provider) => provider.token_url(),
            _ => None,
        }
    }

    pub async fn identity(&self, ctx: &Context<'_>) -> Result<Identity> {
        match self {
            Source::Keys(keys) => Ok(Identity::Keys(keys.clone())),
            Source::Container(_) => container::credentials(ctx.net).await.map(Identity::Keys),
            Source::Imds { instead } => match imds::credentials(ctx.net).await {
                Ok(creds) => Ok(Identity::Keys(creds)),
                // Nothing else was found either: the likelier mistake comes first.
                Err(err) => Err(match instead {
                    Some(instead) => {
                        let both = Error::identity(format!(
                            "{} (and instance metadata had no role: {})",
                            instead.message(),
                            err.message()
                        ));
                        match instead.hint() {
                            Some(hint) => both.with_hint(hint),
                            None => both,
                        }
                    }
                    None => err,
                }),
            },
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
            _ => Err(Error::usage(format!(
                "{} give credentials, not an OIDC token: choose a --provider that issues one, or --token-file",
                self.describe()
            ))),
        }
    }
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
        .kill_on_drop(true)
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
    if output.stdout.len() > crate::net::MAX_BODY {
        return Err(Error::identity(format!(
            "`{shown} …` printed more than {} bytes, which is not a token",
            crate::net::MAX_BODY
        )));
    }
    let stdout = String::from_utf8(output.stdout).map_err(|_| {
        Error::identity(format!("`{shown} …` printed something that is not a token"))
    })?;
    Token::parse(&stdout, format!("`{shown}`"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_ci_is_detected_by_its_marker_and_names_itself() {
        let markers = [
            (Ci::Github, "GITHUB_ACTIONS"),
            (Ci::Circleci, "CIRCLECI"),
            (Ci::Gitlab, "GITLAB_CI"),
            (Ci::Buildkite, "BUILDKITE"),
        ];
        for (ci, marker) in markers {
            let env = Env::of([(marker, "true")]);
            let found = running_ci(&env, &ProviderOptions::default())
                .unwrap()
                .unwrap();
            assert_eq!(found.ci(), ci);
        }
        let env = Env::of([("BITBUCKET_BUILD_NUMBER", "7")]);
        let found = running_ci(&env, &ProviderOptions::default())
            .unwrap()
            .unwrap();
        assert_eq!(found.ci(), Ci::Bitbucket);
        assert!(
            running_ci(&Env::default(), &ProviderOptions::default())
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn two_cis_at_once_need_a_choice() {
        let env = Env::of([("GITHUB_ACTIONS", "true"), ("GITLAB_CI", "true")]);
        let err = running_ci(&env, &ProviderOptions::default()).err().unwrap();
        assert_eq!(
            err.message(),
            "more than one CI detected: GitHub Actions (GITHUB_ACTIONS=true), GitLab CI (GITLAB_CI=true); \
             pass --provider github|gitlab to choose"
        );
    }

    #[test]
    fn auto_prefers_the_cis_token_then_a_token_file_then_keys() {
        let select = |pairs: &[(&str, &str)]| {
            let env = Env::of(pairs.iter().copied());
            Source::select(Choice::Auto, None, &env, &ProviderOptions::default())
                .map(|s| s.describe())
                .map_err(|e| e.message().to_string())
        };
        let keys = [
            ("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "s"),
        ];
        assert_eq!(
            select(&[("BITBUCKET_STEP_OIDC_TOKEN", "t"), keys[0], keys[1]]).unwrap(),
            "Bitbucket Pipelines OIDC token"
        );
        assert_eq!(
            select(&[("GITHUB_ACTIONS", "true"), keys[0], keys[1]]).unwrap(),
            "static keys from the environment"
        );
        assert_eq!(
            select(&[("AWS_WEB_IDENTITY_TOKEN_FILE", "/t"), keys[0], keys[1]]).unwrap(),
            "OIDC token file /t"
        );
        // Nothing else: the instance's role, as the SDKs' chain ends; unless
        // metadata is off, when the CI's missing token is the story.
        assert_eq!(select(&[("GITHUB_ACTIONS", "true")]).unwrap(), imds::TITLE);
        let off = ("AWS_EC2_METADATA_DISABLED", "true");
        assert!(
            select(&[("GITHUB_ACTIONS", "true"), off])
                .unwrap_err()
                .starts_with("this GitHub Actions step has no OIDC token endpoint")
        );
        assert!(select(&[off]).unwrap_err().starts_with("no identity found"));
        assert_eq!(
            select(&[("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/x"), off]).unwrap(),
            "container credentials (ECS/CodeBuild)"
        );
    }
}
