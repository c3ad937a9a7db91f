//! Where the job's identity comes from: one file per source, each yielding
//! either an OIDC token (for AssumeRoleWithWebIdentity) or base credentials
//! (for AssumeRole). Nothing here knows where the credentials end up.
//!
//! A CI lives in its own file, whole: what it is (a [`System`]: its names, the
//! variables that hold or mint its tokens, and the `sub` grammar of its trust
//! policies in both directions — scope to `sub`, and a policy's `sub` back to
//! how far it reaches and which scope it was meant for), and what one of its
//! jobs has (a [`Provider`]: detection, token, session name, session tags).
//!
//! Adding a CI is its file and one line in `register!` below. Every method of
//! [`System`] is required, so the compiler refuses a CI without its `sub`
//! grammar or its token variables; and `--provider`, `auto`'s detection,
//! `trust-policy` and `trust-policy --check` take the CIs from the register, as
//! [`token_variables`] does the variables a command run under `--` goes
//! without. (A CI whose jobs no flag of `trust-policy` can name yet needs its
//! flags in [`Scope`] and `cli.rs` too.)

pub mod container;
mod fetch;
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
pub use crate::platform::Process;
use crate::secret::Credentials;
use crate::token::Token;
pub use scope::{Evidence, Issuer, Pattern, Reach, Scope, Subject, owner_name, plain};

/// The audience asked for where a provider mints tokens on request.
pub const DEFAULT_AUDIENCE: &str = "sts.amazonaws.com";

/// Declares each CI's module and generates [`Ci`], the CIs vault-ci knows, with
/// its exhaustive dispatch to each CI's [`System`]: one line per CI, in the
/// order `auto` looks for them.
macro_rules! register {
    ($($variant:ident => $module:ident::$system:ident),+ $(,)?) => {
        $(pub mod $module;)+

        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Ci {
            $($variant),+
        }

        impl Ci {
            pub const ALL: &[Ci] = &[$(Ci::$variant),+];

            /// What this CI is.
            pub fn system(self) -> &'static dyn System {
                match self {
                    $(Ci::$variant => &$module::$system),+
                }
            }
        }
    };
}

register! {
    Github => github::Github,
    Circleci => circleci::CircleCi,
    Gitlab => gitlab::Gitlab,
    Buildkite => buildkite::Buildkite,
    Bitbucket => bitbucket::Bitbucket,
    Azure => azure::Azure,
    Jenkins => jenkins::Jenkins,
    Forgejo => forgejo::Forgejo,
    Google => google::Google,
}

/// `trust-policy --provider NAME`.
impl clap::ValueEnum for Ci {
    fn value_variants<'a>() -> &'a [Self] {
        Ci::ALL
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        Some(clap::builder::PossibleValue::new(self.system().name()))
    }
}

/// What a CI is, whatever job runs: nothing here reads the environment. Every
/// method is required — a CI is not one without its token variables and both
/// directions of its `sub` grammar.
pub trait System: Sync {
    /// `--provider NAME`: "github".
    fn name(&self) -> &'static str;
    /// How users know it: "GitHub Actions".
    fn title(&self) -> &'static str;
    /// The variable that gives it away, for messages: "GITHUB_ACTIONS=true".
    fn marker(&self) -> &'static str;
    /// `--provider NAME`'s help: where its token comes from.
    fn help(&self) -> &'static str;
    /// The variables that hold its OIDC tokens or mint them: a command run under
    /// `--` gets none of them, so it cannot mint roles of its own.
    fn token_variables(&self) -> &'static [&'static str];
    /// What this job has of it, read from the environment.
    fn provider(&self, env: &Env, options: &ProviderOptions) -> Box<dyn Provider>;
    /// The CI whose marker variables this one's runners set too (Forgejo's
    /// runner sets `GITHUB_ACTIONS=true`): where both are detected, this one is
    /// running, not that one.
    fn imitates(&self) -> Option<Ci> {
        None
    }

    /// The trust-policy subject that admits exactly `scope`'s jobs.
    fn trust_subject(&self, scope: &Scope) -> Result<Subject>;
    /// Every statement a trust policy for `scope` needs, one per issuer, the
    /// first [`System::trust_subject`]'s: an Azure DevOps service connection
    /// moving to the Microsoft Entra issuer has two.
    fn trust_subjects(&self, scope: &Scope) -> Result<Vec<Subject>> {
        self.trust_subject(scope).map(|subject| vec![subject])
    }
    /// Whether `issuer` (IAM's provider name: host and path, no scheme) is one of
    /// this CI's, and what its name says. `subs`, the `sub` values a policy tests,
    /// is empty while issuers are matched by name alone; a self-hosted instance
    /// no CI claims by name may then be recognised by its `sub` grammar.
    fn issuer(&self, issuer: &str, subs: &[&str]) -> Option<Issuer>;
    /// How far a `sub` value reaches (before the issuer's own owner caps it).
    fn reach(&self, issuer: &Issuer, sub: Pattern<'_>) -> Reach;
    /// Request keys besides `sub` that narrow its tokens as `sub` does (tags the
    /// CI signs into them): the key as spelled, its value, and its reach.
    fn narrowing(&self, evidence: &Evidence<'_>) -> Option<(String, String, Reach)>;
    /// The scope a statement seems meant for, with placeholders (OWNER, REPO …)
    /// for what it does not say. Issuer and audience are left out: the checker
    /// names them where they are not this CI's defaults.
    fn meant(&self, issuer: &Issuer, evidence: &Evidence<'_>) -> Scope;
    /// A tight statement's shortfalls against today's practice (a repository
    /// pinned by name, any ref where a production role names one), each a note
    /// and the scope whose `sub` pins it. None by default.
    fn advice(&self, _issuer: &Issuer, _evidence: &Evidence<'_>) -> Vec<(String, Scope)> {
        Vec::new()
    }

    /// The process whose end is the job's end, found by its role in this CI's
    /// runner among the step's `ancestors` (its parent first): what `--serve`
    /// watches. None where the tree does not tell (a container that ends with
    /// the job, a runner that ends the job's processes itself).
    fn job_process(&self, _ancestors: &[Process]) -> Option<u32> {
        None
    }
}

/// The CI that issues tokens as `issuer`: by name first, then by `sub` grammar.
pub fn issuer(name: &str, subs: &[&str]) -> Option<Issuer> {
    let by = |subs: &[&str]| Ci::ALL.iter().find_map(|ci| ci.system().issuer(name, subs));
    by(&[]).or_else(|| by(subs))
}

/// Every variable that holds or mints a known CI's OIDC token, each once.
pub fn token_variables() -> impl Iterator<Item = &'static str> {
    let mut seen = Vec::new();
    Ci::ALL
        .iter()
        .flat_map(|ci| ci.system().token_variables().iter().copied())
        .filter(move |name| {
            let new = !seen.contains(name);
            seen.push(*name);
            new
        })
}

/// The running CI's session tags (`--ci-session-tags`): GitHub's as
/// configure-aws-credentials sets them, another CI's as its file names them,
/// each value cut to what STS takes in a tag.
pub fn ci_session_tags(env: &Env) -> Vec<(String, String)> {
    let Some(provider) = running_ci(env, &ProviderOptions::default()).ok().flatten() else {
        return Vec::new();
    };
    if provider.ci() == Ci::Github {
        return github::session_tags(env);
    }
    provider
        .session_tags()
        .into_iter()
        .map(|(key, value)| (key, sts_tag_value(&value)))
        .collect()
}

/// STS tag values: letters, digits, spaces and `_.:/=+-@`, at most 256 characters;
/// anything else becomes `_`.
fn sts_tag_value(raw: &str) -> String {
    raw.chars()
        .map(
            |c| match c.is_alphanumeric() || c == ' ' || "_.:/=+-@".contains(c) {
                true => c,
                false => '_',
            },
        )
        .take(256)
        .collect()
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

/// What one job has of its CI: read from the job's environment.
pub trait Provider {
    fn ci(&self) -> Ci;
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
    /// The token came from AWS_WEB_IDENTITY_TOKEN_FILE, the SDKs' convention,
    /// which comes with its role (AWS_ROLE_ARN) and session name (AWS_ROLE_SESSION_NAME).
    fn sdk_convention(&self) -> bool {
        false
    }
    /// The run, as session tags for the AssumeRole hops (`--ci-session-tags`):
    /// keys and values as the CI names them, before STS's character rules.
    fn session_tags(&self) -> Vec<(String, String)> {
        Vec::new()
    }
}

/// Options that only some providers read.
#[derive(Debug, Default, Clone)]
pub struct ProviderOptions {
    /// GitLab: the variable named in `id_tokens:`; Jenkins: the one `withCredentials` binds.
    pub token_env: Option<String>,
    /// `--force-skip-oidc`: `auto` passes over the CI's token.
    pub skip_ci: bool,
    /// Buildkite: claims the agent copies into session tags (`--aws-session-tag`).
    pub buildkite_session_tags: Option<String>,
    /// `--audience` as given (GitLab's `<AUD>_ID_TOKEN` convention names its variable).
    pub audience: Option<String>,
    /// Azure Pipelines: the service connection whose token to request.
    pub service_connection_id: Option<String>,
}

/// The CI this job runs in, if exactly one is detected.
pub fn running_ci(env: &Env, options: &ProviderOptions) -> Result<Option<Box<dyn Provider>>> {
    let mut detected: Vec<Box<dyn Provider>> = Ci::ALL
        .iter()
        .map(|ci| ci.system().provider(env, options))
        .filter(|p| p.detected())
        .collect();
    // A look-alike's runner sets the original's markers too: it is the look-alike.
    let imitated: Vec<Ci> = detected
        .iter()
        .filter_map(|p| p.ci().system().imitates())
        .collect();
    detected.retain(|p| !imitated.contains(&p.ci()));
    if detected.len() > 1 {
        let names: Vec<String> = detected
            .iter()
            .map(|p| format!("{} ({})", p.ci().system().title(), p.ci().system().marker()))
            .collect();
        let choices: Vec<&str> = detected.iter().map(|p| p.ci().system().name()).collect();
        return Err(Error::usage(format!(
            "more than one CI detected: {}; pass --provider {} to choose",
            names.join(", "),
            choices.join("|")
        )));
    }
    Ok(detected.pop())
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
                let provider = ci.system().provider(env, options);
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
                // GitHub's hosted runners have no instance role to fall back on:
                // what the job lacks is all there is to say, without a wait on
                // instance metadata first.
                let hosted = env.get("RUNNER_ENVIRONMENT") == Some("github-hosted");
                if imds::disabled(env) || hosted {
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
            Source::Ci(provider) => format!("{} OIDC token", provider.ci().system().title()),
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
            Source::Ci(provider) if provider.sdk_convention() => env.get("AWS_ROLE_ARN"),
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
            Source::Ci(provider) if provider.sdk_convention() => env
                .get("AWS_ROLE_SESSION_NAME")
                .map(str::to_string)
                .or_else(|| provider.session_name()),
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
                // Instance metadata was only the last resort: the likelier
                // mistake (the CI's missing token) is the story; metadata's
                // answer is for -v.
                Err(err) => Err(match instead {
                    Some(instead) => {
                        tracing::debug!("instance metadata had no role either: {}", err.message());
                        instead.clone()
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
                Some((token.claims.exp?, provider.ci().system().title()))
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
        let markers = [
            (Ci::Bitbucket, &[("BITBUCKET_BUILD_NUMBER", "7")][..]),
            (Ci::Azure, &[("TF_BUILD", "True")]),
            (
                Ci::Jenkins,
                &[
                    ("JENKINS_URL", "https://ci.example/"),
                    ("BUILD_URL", "https://ci.example/job/a/1/"),
                ],
            ),
            (
                Ci::Forgejo,
                &[("GITHUB_ACTIONS", "true"), ("FORGEJO_ACTIONS", "true")],
            ),
            (Ci::Google, &[("BUILDER_OUTPUT", "/builder/outputs")]),
        ];
        for (ci, pairs) in markers {
            let env = Env::of(pairs.iter().copied());
            let found = running_ci(&env, &ProviderOptions::default())
                .unwrap()
                .unwrap();
            assert_eq!(found.ci(), ci);
        }
        assert!(
            running_ci(&Env::default(), &ProviderOptions::default())
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn every_ci_reads_back_the_scope_it_writes() {
        let uuid = |n: u8| format!("{n}{n}{n}{n}{n}{n}{n}{n}-2222-4333-8444-555555555555");
        let samples = [
            Scope {
                repo: Some("acme/app".into()),
                branch: Some("main".into()),
                ..Scope::default()
            },
            Scope {
                org_id: Some(uuid(1)),
                project_id: Some(uuid(2)),
                tag: Some("v1".into()),
                ..Scope::default()
            },
            Scope {
                project_path: Some("acme/tools/app".into()),
                branch: Some("main".into()),
                ..Scope::default()
            },
            Scope {
                organization: Some("acme".into()),
                pipeline: Some("deploy".into()),
                tag: Some("v1".into()),
                ..Scope::default()
            },
            Scope {
                workspace: Some("acme".into()),
                workspace_uuid: Some(uuid(3)),
                repo_uuid: Some(uuid(4)),
                environment: Some(uuid(5)),
                ..Scope::default()
            },
            Scope {
                org_id: Some(uuid(6)),
                organization: Some("acme".into()),
                project: Some("web".into()),
                service_connection: Some("aws-deploy".into()),
                ..Scope::default()
            },
            Scope {
                job: Some("team/deploy".into()),
                issuer: Some("jenkins.example.com/oidc".into()),
                ..Scope::default()
            },
            Scope {
                repo: Some("acme/app".into()),
                tag: Some("v1".into()),
                ..Scope::default()
            },
            Scope {
                service_account_id: Some("117".into()),
                ..Scope::default()
            },
        ];
        assert_eq!(samples.len(), Ci::ALL.len(), "a sample scope for every CI");
        for (ci, scope) in Ci::ALL.iter().zip(&samples) {
            let system = ci.system();
            let written = system.trust_subject(scope).unwrap();
            // The issuer it writes is its own, and no other CI's.
            let claimed: Vec<Ci> = Ci::ALL
                .iter()
                .copied()
                .filter(|other| other.system().issuer(&written.issuer, &[]).is_some())
                .collect();
            assert_eq!(claimed, [*ci], "{}", written.issuer);
            let known = issuer(&written.issuer, &[]).unwrap();
            // Its `sub`, read back, is the scope meant, and reaches one repository.
            let evidence = Evidence {
                sub: Some(&written.subject),
                audience: Some(&written.audience),
                literals: Vec::new(),
            };
            let meant = system.meant(&known, &evidence);
            assert_eq!(meant.to_args(), scope.to_args(), "{}", system.name());
            assert_eq!(system.trust_subject(&meant).unwrap(), written);
            let like = written.subject.contains(['*', '?']);
            let reach = system.reach(&known, Pattern::of(&written.subject, like));
            assert_eq!(reach, Reach::One, "{}", written.subject);
        }
        assert_eq!(
            issuer("oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE", &[]),
            None
        );
        // A self-managed GitLab is known by its `sub` grammar alone.
        let gitlab = issuer("gitlab.example.com", &["project_path:g/p:*"]).unwrap();
        assert_eq!(gitlab.ci, Ci::Gitlab);
    }

    #[test]
    fn the_token_variables_are_each_cis_own() {
        let all: Vec<&str> = token_variables().collect();
        assert_eq!(
            all,
            [
                "ACTIONS_ID_TOKEN_REQUEST_URL",
                "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
                "CIRCLE_OIDC_TOKEN",
                "CIRCLE_OIDC_TOKEN_V2",
                "VAULT_CI_ID_TOKEN",
                "GITLAB_OIDC_TOKEN",
                "AWS_WEB_IDENTITY_TOKEN",
                "STS_AMAZONAWS_COM_ID_TOKEN",
                "CI_JOB_JWT_V2",
                "CI_JOB_JWT",
                "BITBUCKET_STEP_OIDC_TOKEN",
                "SYSTEM_OIDCREQUESTURI",
                "SYSTEM_ACCESSTOKEN",
            ]
        );
        // Buildkite's agent token stays: later commands of the step need it.
        assert!(!all.contains(&"BUILDKITE_AGENT_ACCESS_TOKEN"));
    }

    #[test]
    fn every_ci_is_a_provider_to_choose_by_its_name() {
        use clap::ValueEnum;
        for ci in Ci::ALL {
            let name = ci.system().name();
            assert_eq!(Ci::from_str(name, false), Ok(*ci));
            assert_eq!(
                crate::cli::ProviderChoice::from_str(name, false),
                Ok(crate::cli::ProviderChoice::Ci(*ci))
            );
        }
    }

    #[test]
    fn each_ci_tags_sessions_with_its_runs_metadata() {
        let jenkins = Env::of([
            ("JENKINS_URL", "https://ci.example/"),
            ("BUILD_URL", "https://ci.example/job/app/7/"),
            ("JOB_NAME", "team/app"),
            ("BUILD_NUMBER", "7"),
            ("BRANCH_NAME", "feature#1"),
        ]);
        let pairs = |tags: Vec<(String, String)>| -> Vec<String> {
            tags.into_iter().map(|(k, v)| format!("{k}={v}")).collect()
        };
        assert_eq!(
            pairs(ci_session_tags(&jenkins)),
            ["CI=jenkins", "Job=team/app", "Build=7", "Branch=feature_1"]
        );
        let cloud_build = Env::of([
            ("BUILDER_OUTPUT", "/builder/outputs"),
            ("PROJECT_ID", "acme-build"),
            ("BUILD_ID", "b-1"),
        ]);
        assert_eq!(
            pairs(ci_session_tags(&cloud_build)),
            ["CI=google-cloud-build", "Project=acme-build", "Build=b-1"]
        );
        let forgejo = Env::of([
            ("GITHUB_ACTIONS", "true"),
            ("FORGEJO_ACTIONS", "true"),
            ("GITHUB_REPOSITORY", "acme/app"),
            ("GITHUB_RUN_ID", "43"),
        ]);
        assert_eq!(
            pairs(ci_session_tags(&forgejo)),
            ["CI=forgejo", "Repository=acme/app", "RunId=43"]
        );
        // GitHub's are configure-aws-credentials'.
        let github = Env::of([("GITHUB_ACTIONS", "true"), ("GITHUB_REPOSITORY", "o/r")]);
        assert_eq!(
            pairs(ci_session_tags(&github)),
            ["GitHub=Actions", "Repository=o/r"]
        );
        assert!(ci_session_tags(&Env::default()).is_empty());
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
