//! The command line. Every option is documented where it is defined, and every
//! option can also come from the environment as `VAULT_CI_<OPTION>`; a flag on
//! the command line wins over the environment.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{ArgAction, Args, CommandFactory, Parser, Subcommand, ValueEnum};

pub mod variables;

use crate::identity::Ci;
pub use crate::sink::Format;

/// A boolean from the environment as GitHub Actions' YAML 1.2 core schema has
/// it (configure-aws-credentials' getBooleanInput): true, True, TRUE, false,
/// False, FALSE. Anything else is a mistake to report, not to guess at.
pub fn boolean(value: &str) -> Result<bool, String> {
    match value {
        "true" | "True" | "TRUE" => Ok(true),
        "false" | "False" | "FALSE" => Ok(false),
        _ => Err("expected true | True | TRUE | false | False | FALSE".into()),
    }
}

/// The options `assume -h` shows: what most jobs set. `--help` shows every one.
const ESSENTIAL: &[&str] = &[
    "provider",
    "audience",
    "token_file",
    "role_arn",
    "chain",
    "duration",
    "session_name",
    "region",
    "github_env",
    "bash_env",
    "env_file",
    "format",
    "aws_profile",
    "refresh",
    "serve",
    "command",
];

const ASSUME_EXAMPLES: &str = "Examples:
  # GitHub Actions (permissions: id-token: write): the later steps are the role
  vault-ci assume --role-arn \"$ROLE_ARN\" --region eu-west-1 --github-env
  # GitLab, Buildkite, any shell: an env file of export lines to source
  vault-ci assume --role-arn \"$ROLE_ARN\" --region eu-west-1 --env-file aws.env
  # CircleCI: the later steps, through $BASH_ENV
  vault-ci assume --role-arn \"$ROLE_ARN\" --region eu-west-1 --bash-env
  # A deploy user's keys, through the roles deploy and cfn, for one command
  vault-ci assume --chain deploy,cfn --region eu-west-1 -- aws cloudformation deploy ...
  # A long deploy on 900-second credentials, renewed as it runs
  vault-ci assume --role-arn \"$ROLE_ARN\" --region eu-west-1 --refresh -- ./deploy.sh";

/// The command line as `main` parses it: `assume -h` fits a screen (the options
/// most jobs need, each with its first sentence, and examples); `assume --help`
/// has every option, whole.
pub fn command() -> clap::Command {
    Cli::command().mut_subcommand("assume", |assume| {
        assume
            .mut_args(|arg| {
                if !ESSENTIAL.contains(&arg.get_id().as_str()) {
                    return arg.hide_short_help(true);
                }
                let help = arg.get_help().map(ToString::to_string).unwrap_or_default();
                let whole = arg.get_long_help().map(ToString::to_string);
                // A doc comment of several paragraphs has its short help already.
                let short = match &whole {
                    Some(_) => help.clone(),
                    None => first_sentence(&help),
                };
                let whole = whole.unwrap_or(help);
                let takes_values = arg.get_action().takes_values();
                arg.help(short)
                    .long_help(whole)
                    .hide_possible_values(takes_values)
            })
            .after_help(ASSUME_EXAMPLES)
            .after_long_help(ASSUME_EXAMPLES)
    })
}

/// Parses the process's command line (and its VAULT_CI_* variables).
pub fn parse() -> Result<Cli, clap::Error> {
    let matches = command().try_get_matches()?;
    <Cli as clap::FromArgMatches>::from_arg_matches(&matches)
}

fn first_sentence(text: &str) -> String {
    let end = [". ", " (", ": ", "; "]
        .iter()
        .filter_map(|mark| {
            text.match_indices(mark)
                .map(|(at, _)| at)
                .find(|at| *at > 30)
        })
        .min()
        .unwrap_or(text.len());
    text[..end].trim_end_matches('.').to_string()
}

#[derive(Debug, Parser)]
#[command(
    name = "vault-ci",
    version,
    about = "Short-lived, scoped AWS credentials for CI jobs.",
    long_about = "Short-lived, scoped AWS credentials for CI jobs.\n\n\
        vault-ci reads the CI provider's OIDC token (or an AssumeRole-only deploy user's keys), \
        walks a chain of STS roles, and hands the final credentials to a child command, \
        $GITHUB_ENV, $BASH_ENV, an env file or stdout. Intermediate credentials are never written anywhere.",
    after_help = "Examples:\n  \
        vault-ci assume --role-arn arn:aws:iam::123456789012:role/gha-deploy --github-env\n  \
        vault-ci assume --chain deploy,cfn -- aws cloudformation deploy --template-file t.yaml --stack-name app\n  \
        vault-ci assume --role-arn \"$AWS_DEPLOY_IAM_ROLE_ARN\" --env-file aws-env.sh\n  \
        vault-ci trust-policy --provider github --repo octo-org/app --branch main"
)]
pub struct Cli {
    /// More log output on stderr: -v for debug, -vv for trace.
    ///
    /// VAULT_CI_LOG or RUST_LOG take a filter instead (`warn,vault_ci=debug`). Secrets are
    /// never logged at any level.
    #[arg(short, long, action = ArgAction::Count, global = true)]
    pub verbose: u8,

    /// Only errors and warnings on stderr.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Exchange the CI identity for role credentials and deliver them.
    ///
    /// Hop 1 uses the CI's OIDC token (AssumeRoleWithWebIdentity) or the static keys in
    /// AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (AssumeRole); every later hop is AssumeRole
    /// signed with the previous hop's session. With no destination given, the credentials
    /// are printed to stdout as `export` lines.
    Assume(Box<AssumeArgs>),

    /// Fetch the OIDC token exactly as `assume` would and show its header and claims.
    ///
    /// The token itself is not printed unless --raw is given. With --trust-policy FILE,
    /// the role's trust policy is checked against the claims and the failing condition
    /// named; the exit status is then 1 when the policy would not admit the token, and 3
    /// when that depends on what only STS sees (the caller's address, the time).
    Token(Box<TokenArgs>),

    /// End the job-wide credentials server a `--serve` started (it ends with the job anyway).
    ///
    /// Found through AWS_CONTAINER_CREDENTIALS_FULL_URI and AWS_CONTAINER_AUTHORIZATION_TOKEN,
    /// which later steps have.
    Stop,

    /// Print the IAM trust policy that admits exactly the given repository and ref.
    ///
    /// The policy names the provider's issuer, the `aud` condition and the `sub`
    /// pattern for that CI; paste it as the role's trust relationship.
    TrustPolicy(Box<TrustPolicyArgs>),
}

/// `--provider`: a CI of the register (`identity::Ci`), or another source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderChoice {
    Auto,
    Ci(Ci),
    TokenFile,
    Static,
    Container,
    Imds,
}

impl ValueEnum for ProviderChoice {
    fn value_variants<'a>() -> &'a [Self] {
        static ALL: std::sync::LazyLock<Vec<ProviderChoice>> = std::sync::LazyLock::new(|| {
            std::iter::once(ProviderChoice::Auto)
                .chain(Ci::ALL.iter().copied().map(ProviderChoice::Ci))
                .chain([
                    ProviderChoice::TokenFile,
                    ProviderChoice::Static,
                    ProviderChoice::Container,
                    ProviderChoice::Imds,
                ])
                .collect()
        });
        &ALL
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        let (name, help) = match self {
            ProviderChoice::Auto => (
                "auto",
                "The running CI's token; else a token file, static keys, container \
                 credentials, the instance's role — the AWS SDKs' order",
            ),
            ProviderChoice::Ci(ci) => (ci.system().name(), ci.system().help()),
            ProviderChoice::TokenFile => (
                "token-file",
                "A file holding the OIDC token (--token-file or AWS_WEB_IDENTITY_TOKEN_FILE)",
            ),
            ProviderChoice::Static => (
                "static",
                "AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN) from the environment",
            ),
            ProviderChoice::Container => (
                "container",
                "The container's credentials endpoint (ECS, CodeBuild, EKS Pod Identity)",
            ),
            ProviderChoice::Imds => (
                "imds",
                "The EC2 instance's role, from instance metadata (IMDSv2)",
            ),
        };
        Some(clap::builder::PossibleValue::new(name).help(help))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PolicyFormat {
    /// The trust policy document, as IAM takes it (with --check: the findings as JSON).
    Json,
    /// A CloudFormation template: the role with that trust policy, the OIDC provider.
    Cloudformation,
    /// With --check (its default): one line per finding, each with its fix.
    Text,
    /// With --check: SARIF 2.1.0, for GitHub code scanning and other tools.
    Sarif,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TokenFormat {
    /// Aligned, for people.
    Text,
    /// One JSON object: provider, header, claims, expiry.
    Json,
}

#[derive(Debug, Args)]
pub struct AssumeArgs {
    #[command(flatten)]
    pub identity: IdentityArgs,

    // ── hops ────────────────────────────────────────────────────────────────
    /// The role to assume first. With static keys a bare role name will do: it is
    /// completed with the keys' account. With a token file and no --role-arn or
    /// --chain, AWS_ROLE_ARN is used.
    #[arg(
        long,
        value_name = "ARN",
        env = "VAULT_CI_ROLE_ARN",
        help_heading = "Roles"
    )]
    pub role_arn: Option<String>,

    /// Roles to assume in order after --role-arn, comma-separated. Each is an ARN or a
    /// name resolved from VAULT_CI_ROLE_<NAME> (upper-cased, `-` becomes `_`), so CI
    /// variables hold the ARNs and the command line stays readable.
    #[arg(
        long,
        value_name = "NAME_OR_ARN,...",
        value_delimiter = ',',
        env = "VAULT_CI_CHAIN",
        help_heading = "Roles"
    )]
    pub chain: Vec<String>,

    /// Lifetime of the final credentials in seconds (STS allows 900-43200, and at most
    /// 3600 for a chained hop). Intermediate hops always ask for 900: they are used once.
    /// [default: 900; 3600 with --format credential-process, as botocore re-runs a
    /// credential process whose credentials expire within 15 minutes]
    #[arg(
        long,
        value_name = "SECONDS",
        env = "VAULT_CI_DURATION",
        help_heading = "Roles"
    )]
    pub duration: Option<u32>,

    /// Role session name for every hop (default: from the CI run, e.g. github-<run id>-<attempt>);
    /// characters STS rejects become `-`.
    #[arg(
        long,
        value_name = "NAME",
        env = "VAULT_CI_SESSION_NAME",
        help_heading = "Roles"
    )]
    pub session_name: Option<String>,

    /// External ID for the AssumeRole hops (third-party trust policies ask for one).
    #[arg(
        long,
        value_name = "ID",
        env = "VAULT_CI_EXTERNAL_ID",
        help_heading = "Roles"
    )]
    pub external_id: Option<String>,

    /// Inline session policy for the final hop: JSON, or @FILE to read it from a file.
    /// It can only narrow what the role allows.
    #[arg(
        long,
        value_name = "JSON|@FILE",
        env = "VAULT_CI_SESSION_POLICY",
        help_heading = "Roles"
    )]
    pub session_policy: Option<String>,

    /// Managed policy ARN to scope the final hop's session (repeatable, at most 10).
    #[arg(
        long = "managed-policy",
        value_name = "ARN",
        env = "VAULT_CI_MANAGED_POLICY",
        value_delimiter = ',',
        help_heading = "Roles"
    )]
    pub managed_policies: Vec<String>,

    /// Session tag KEY=VALUE for the AssumeRole hops (repeatable; the role's trust
    /// policy must allow sts:TagSession).
    #[arg(
        long = "tag",
        value_name = "KEY=VALUE",
        env = "VAULT_CI_TAG",
        value_delimiter = ',',
        help_heading = "Roles"
    )]
    pub tags: Vec<String>,

    /// In GitHub Actions: tag the AssumeRole sessions with the run's GitHub=Actions,
    /// Repository, Workflow, Action, Actor, Commit and Branch, as
    /// configure-aws-credentials does (the role's trust policy must allow sts:TagSession).
    /// Web-identity hops cannot take tags and are left as they are.
    #[arg(long, env = "VAULT_CI_GITHUB_SESSION_TAGS", value_parser = boolean, help_heading = "Roles")]
    pub github_session_tags: bool,

    /// Tag the AssumeRole sessions with the running CI's metadata: GitHub's as
    /// --github-session-tags does; Azure Pipelines, Jenkins, Forgejo Actions and Google
    /// Cloud Build: CI and what the run has of Repository, Project, Pipeline, Job, Build,
    /// Commit and Branch (the role's trust policy must allow sts:TagSession).
    #[arg(long, env = "VAULT_CI_CI_SESSION_TAGS", value_parser = boolean, help_heading = "Roles")]
    pub ci_session_tags: bool,

    /// Tag no session with the run, even where --github-session-tags would
    /// (configure-aws-credentials' role-skip-session-tagging).
    #[arg(long, env = "VAULT_CI_ROLE_SKIP_SESSION_TAGGING", value_parser = boolean, help_heading = "Roles")]
    pub role_skip_session_tagging: bool,

    /// Session tags as one JSON object, {"team": "payments", "cost-center": 42}
    /// (configure-aws-credentials' custom-tags); added to --tag and the run's tags.
    #[arg(
        long,
        value_name = "JSON",
        env = "VAULT_CI_CUSTOM_TAGS",
        help_heading = "Roles"
    )]
    pub custom_tags: Option<String>,

    /// A session tag key that stays with the session through later hops
    /// (repeatable; comma- or line-separated). It must be one of the session's tags.
    #[arg(
        long = "transitive-tag-key",
        value_name = "KEY",
        env = "VAULT_CI_TRANSITIVE_TAG_KEY",
        value_delimiter = ',',
        help_heading = "Roles"
    )]
    pub transitive_tag_keys: Vec<String>,

    /// Assume no role: deliver the identity's own credentials (static keys, the
    /// container's or the instance's), checked with GetCallerIdentity first. For
    /// long-lived keys an OIDC role is the better way; this is for the jobs that
    /// still have them.
    #[arg(long, env = "VAULT_CI_NO_ROLE", value_parser = boolean,
          conflicts_with_all = ["role_arn", "chain"], help_heading = "Roles")]
    pub no_role: bool,

    /// Repeat the final AssumeRole until the keys have none of !@#$%^&*()_+-=[]{};':"\|,.<>/?
    /// for tools that mangle them (configure-aws-credentials' special-characters-workaround).
    #[arg(long, env = "VAULT_CI_SPECIAL_CHARACTERS_WORKAROUND", value_parser = boolean, help_heading = "Roles")]
    pub special_characters_workaround: bool,

    /// Fail unless the final credentials belong to one of these accounts (repeatable,
    /// or comma-separated); checked before anything is written.
    #[arg(
        long = "allowed-account-id",
        value_name = "ID",
        env = "VAULT_CI_ALLOWED_ACCOUNT_IDS",
        value_delimiter = ',',
        help_heading = "Roles"
    )]
    pub allowed_account_ids: Vec<String>,

    /// If the keys already in the environment work (GetCallerIdentity), do nothing
    /// and succeed (configure-aws-credentials' use-existing-credentials).
    #[arg(long, env = "VAULT_CI_USE_EXISTING_CREDENTIALS", value_parser = boolean, help_heading = "Identity")]
    pub use_existing_credentials: bool,

    /// Source identity for the AssumeRole hops; it stays with the session through the chain.
    #[arg(
        long,
        value_name = "NAME",
        env = "VAULT_CI_SOURCE_IDENTITY",
        help_heading = "Roles"
    )]
    pub source_identity: Option<String>,

    /// MFA device ARN (or serial) for the first AssumeRole from static keys, for people
    /// running vault-ci by hand.
    #[arg(
        long,
        value_name = "ARN",
        env = "VAULT_CI_MFA_SERIAL",
        requires = "mfa_code",
        help_heading = "Roles"
    )]
    pub mfa_serial: Option<String>,

    /// The current 6-digit code of --mfa-serial.
    #[arg(
        long,
        value_name = "CODE",
        env = "VAULT_CI_MFA_CODE",
        hide_env_values = true,
        requires = "mfa_serial",
        help_heading = "Roles"
    )]
    pub mfa_code: Option<String>,

    #[command(flatten)]
    pub sts: StsArgs,

    #[command(flatten)]
    pub net: NetArgs,

    /// A copy of the first role's trust policy (JSON). When STS denies the token,
    /// vault-ci checks this policy's conditions against the token's claims and names
    /// the one that fails.
    #[arg(
        long,
        value_name = "FILE",
        env = "VAULT_CI_TRUST_POLICY",
        help_heading = "Identity"
    )]
    pub trust_policy: Option<PathBuf>,

    // ── sinks ───────────────────────────────────────────────────────────────
    /// Append the credentials to $GITHUB_ENV for later steps (masked in the log first),
    /// and aws-account-id, aws-role-arn and authenticated-arn to $GITHUB_OUTPUT
    /// (aws-expiration and the keys too with --output-credentials).
    #[arg(long, env = "VAULT_CI_GITHUB_ENV", value_parser = boolean, help_heading = "Destinations")]
    pub github_env: bool,

    /// With --github-env: also write aws-access-key-id, aws-secret-access-key and
    /// aws-session-token to $GITHUB_OUTPUT (masked, like the variables).
    #[arg(
        long,
        env = "VAULT_CI_OUTPUT_CREDENTIALS",
        value_parser = boolean,
        requires = "github_env",
        help_heading = "Destinations"
    )]
    pub output_credentials: bool,

    /// In GitHub Actions: mask the roles' account ids in the log, before anything is logged.
    #[arg(long, env = "VAULT_CI_MASK_ACCOUNT_ID", value_parser = boolean, help_heading = "Destinations")]
    pub mask_account_id: bool,

    /// With --github-env: export the credentials and region to later steps as
    /// variables (default true; false with --aws-profile, as configure-aws-credentials
    /// does). The outputs are set either way.
    #[arg(long, value_name = "BOOL", env = "VAULT_CI_OUTPUT_ENV_CREDENTIALS", value_parser = boolean,
          help_heading = "Destinations")]
    pub output_env_credentials: Option<bool>,

    /// In GitHub Actions: blank the AWS_* keys and region an earlier step exported,
    /// first thing, so later steps lose them even if this one fails.
    #[arg(long, env = "VAULT_CI_UNSET_CURRENT_CREDENTIALS", value_parser = boolean, help_heading = "Destinations")]
    pub unset_current_credentials: bool,

    /// Write the credentials as this profile of the shared AWS files.
    ///
    /// The keys go to AWS_SHARED_CREDENTIALS_FILE (else ~/.aws/credentials) and the region to
    /// AWS_CONFIG_FILE (else ~/.aws/config), as `aws configure` would: for tools that run
    /// `aws --profile NAME`.
    #[arg(
        long,
        value_name = "NAME",
        env = "VAULT_CI_AWS_PROFILE",
        help_heading = "Destinations"
    )]
    pub aws_profile: Option<String>,

    /// With --aws-profile: replace a profile of that name that is already there.
    #[arg(long, env = "VAULT_CI_OVERWRITE_AWS_PROFILE", value_parser = boolean,
          requires = "aws_profile", help_heading = "Destinations")]
    pub overwrite_aws_profile: bool,

    /// With --aws-profile: write the region into the profile (the aws-cli orb's
    /// configure_profile_region).
    #[arg(long, value_name = "BOOL", default_value_t = true, action = ArgAction::Set,
          env = "VAULT_CI_CONFIGURE_PROFILE_REGION", value_parser = boolean, help_heading = "Destinations")]
    pub configure_profile_region: bool,

    /// With --aws-profile: also make the region the default profile's (the aws-cli
    /// orb's configure_default_region); the default profile's other settings stay.
    #[arg(long, env = "VAULT_CI_CONFIGURE_DEFAULT_REGION", value_parser = boolean, help_heading = "Destinations")]
    pub configure_default_region: bool,

    /// Append `export` lines to $BASH_ENV for later steps (CircleCI).
    #[arg(long, env = "VAULT_CI_BASH_ENV", value_parser = boolean, help_heading = "Destinations")]
    pub bash_env: bool,

    /// Write `export` lines to this file (mode 0600, replaced atomically), like the
    /// aws-env.sh of a hand-written assume_role.sh.
    #[arg(
        long,
        value_name = "PATH",
        env = "VAULT_CI_ENV_FILE",
        help_heading = "Destinations"
    )]
    pub env_file: Option<PathBuf>,

    /// Print the credentials to stdout in this format.
    #[arg(
        long,
        value_enum,
        env = "VAULT_CI_FORMAT",
        help_heading = "Destinations"
    )]
    pub format: Option<Format>,

    /// Run this command with the credentials in its environment (stale AWS_PROFILE and
    /// keys removed, and the CI's OIDC token variables); its exit status becomes vault-ci's.
    #[arg(last = true, value_name = "COMMAND", help_heading = "Destinations")]
    pub command: Vec<OsString>,

    /// Leave the CI's OIDC token variables (ACTIONS_ID_TOKEN_REQUEST_URL/_TOKEN,
    /// CIRCLE_OIDC_TOKEN(_V2), BITBUCKET_STEP_OIDC_TOKEN, GitLab's id_tokens, Azure's
    /// SYSTEM_ACCESSTOKEN and SYSTEM_OIDCREQUESTURI) in the
    /// command's environment, for a command that must mint tokens of its own.
    #[arg(long, env = "VAULT_CI_KEEP_OIDC_VARIABLES", value_parser = boolean,
          help_heading = "Destinations")]
    pub keep_oidc_variables: bool,

    /// Give the command a local credentials endpoint instead of keys, and keep the
    /// credentials fresh for as long as it runs (re-running the whole chain before they
    /// expire): for deploys that outlast --duration. Every AWS SDK and CLI reads it
    /// through AWS_CONTAINER_CREDENTIALS_FULL_URI.
    #[arg(long, env = "VAULT_CI_REFRESH", value_parser = boolean, help_heading = "Destinations")]
    pub refresh: bool,

    /// Serve every later step of the job instead of handing it keys: a credentials
    /// endpoint on 127.0.0.1 in the background, re-running the chain before the
    /// credentials expire, until the job ends (or `vault-ci stop`). The destinations
    /// (--github-env, --bash-env, --env-file) get AWS_CONTAINER_CREDENTIALS_FULL_URI and
    /// AWS_CONTAINER_AUTHORIZATION_TOKEN, which every AWS SDK and CLI reads.
    #[arg(long, env = "VAULT_CI_SERVE", value_parser = boolean, help_heading = "Destinations")]
    pub serve: bool,

    /// With --serve: stop when no credentials were asked for in this many seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 3600, env = "VAULT_CI_SERVE_IDLE",
          value_parser = clap::value_parser!(u64).range(60..=86_400), help_heading = "Destinations")]
    pub serve_idle: u64,

    /// With --serve: stop after this many seconds in all (GitHub's longest job is 6 hours).
    #[arg(long, value_name = "SECONDS", default_value_t = 21_600, env = "VAULT_CI_SERVE_MAX",
          value_parser = clap::value_parser!(u64).range(60..=604_800), help_heading = "Destinations")]
    pub serve_max: u64,

    /// With --refresh or --serve: renew the credentials this many seconds before they expire.
    #[arg(long, value_name = "SECONDS", default_value_t = 300, env = "VAULT_CI_REFRESH_WINDOW",
          value_parser = clap::value_parser!(u64).range(1..=43_200), help_heading = "Destinations")]
    pub refresh_window: u64,
}

#[derive(Debug, Args)]
pub struct IdentityArgs {
    /// Where the identity comes from.
    #[arg(long, value_enum, default_value_t = ProviderChoice::Auto, env = "VAULT_CI_PROVIDER", help_heading = "Identity")]
    pub provider: ProviderChoice,

    /// Start from the credentials already in the environment (an earlier step's
    /// session, the container's, the instance's) instead of a token.
    #[arg(long, env = "VAULT_CI_ROLE_CHAINING", value_parser = boolean, help_heading = "Identity")]
    pub role_chaining: bool,

    /// With --provider auto: never use the CI's OIDC token, even where there is one
    /// (configure-aws-credentials' force-skip-oidc).
    #[arg(long, env = "VAULT_CI_FORCE_SKIP_OIDC", value_parser = boolean, help_heading = "Identity")]
    pub force_skip_oidc: bool,

    /// Audience (`aud`) of the OIDC token; must match the IAM OIDC provider's client ID.
    /// Default: sts.amazonaws.com where the CI mints tokens on request (GitHub, Buildkite,
    /// Forgejo, Google's metadata server); elsewhere the token's own, which the job
    /// definition chooses (Azure DevOps sets its own).
    #[arg(long, env = "VAULT_CI_AUDIENCE", help_heading = "Identity")]
    pub audience: Option<String>,

    /// Read the OIDC token from this file (EKS, Jenkins, anything that writes one).
    /// AWS_WEB_IDENTITY_TOKEN_FILE is used when no CI is detected.
    #[arg(
        long,
        value_name = "PATH",
        env = "VAULT_CI_TOKEN_FILE",
        help_heading = "Identity"
    )]
    pub token_file: Option<PathBuf>,

    /// GitLab: the variable that `id_tokens:` fills (default: VAULT_CI_ID_TOKEN,
    /// GITLAB_OIDC_TOKEN, AWS_WEB_IDENTITY_TOKEN, then <AUDIENCE>_ID_TOKEN, the first
    /// one set). Jenkins: the variable `withCredentials` binds the token to (default:
    /// VAULT_CI_ID_TOKEN, then the file in AWS_WEB_IDENTITY_TOKEN_FILE).
    #[arg(
        long,
        value_name = "NAME",
        env = "VAULT_CI_TOKEN_ENV",
        help_heading = "Identity"
    )]
    pub token_env: Option<String>,

    /// Buildkite: the token's claims to copy into AWS session tags, comma-separated
    /// (`buildkite-agent oidc request-token --aws-session-tag organization_slug,pipeline_slug`).
    #[arg(
        long,
        value_name = "CLAIMS",
        env = "VAULT_CI_BUILDKITE_SESSION_TAGS",
        help_heading = "Identity"
    )]
    pub buildkite_session_tags: Option<String>,
    /// Azure Pipelines: the service connection whose token to request (its ID, the
    /// `resourceId` in its settings page's URL; default: AZURESUBSCRIPTION_SERVICE_CONNECTION_ID,
    /// which Azure tasks set). Without one, the token is the pipeline's own.
    #[arg(
        long,
        value_name = "UUID",
        env = "VAULT_CI_SERVICE_CONNECTION_ID",
        help_heading = "Identity"
    )]
    pub service_connection_id: Option<String>,
}

#[derive(Debug, Args)]
pub struct StsArgs {
    /// AWS region for STS (regional endpoint) and for the exported AWS_REGION.
    /// Default: AWS_REGION, then AWS_DEFAULT_REGION, then us-east-1 for STS only.
    #[arg(
        long,
        value_name = "REGION",
        env = "VAULT_CI_REGION",
        help_heading = "Network"
    )]
    pub region: Option<String>,

    /// STS endpoint URL. Default: AWS_ENDPOINT_URL_STS, then AWS_ENDPOINT_URL, then the
    /// region's endpoint.
    #[arg(
        long,
        value_name = "URL",
        env = "VAULT_CI_STS_ENDPOINT",
        help_heading = "Network"
    )]
    pub sts_endpoint: Option<String>,

    /// Allow an http:// STS endpoint on another host than this machine (a LocalStack
    /// service container, say). The OIDC token and every hop's credentials then cross
    /// the network unencrypted; http:// on 127.0.0.1, ::1 or localhost needs no flag.
    #[arg(long, env = "VAULT_CI_ALLOW_PLAIN_HTTP", value_parser = boolean, help_heading = "Network")]
    pub allow_plain_http: bool,
}

#[derive(Debug, Args)]
pub struct NetArgs {
    /// Extra PEM certificate(s) to trust besides the system's, e.g. a corporate proxy's CA.
    /// Default: AWS_CA_BUNDLE.
    #[arg(
        long,
        value_name = "PEM",
        env = "VAULT_CI_CA_BUNDLE",
        help_heading = "Network"
    )]
    pub ca_bundle: Option<PathBuf>,

    /// Hosts reached without the proxy: comma-separated names, `.domain` suffixes,
    /// `*` for all. Default: NO_PROXY.
    #[arg(
        long,
        value_name = "HOSTS",
        env = "VAULT_CI_NO_PROXY",
        help_heading = "Network"
    )]
    pub no_proxy: Option<String>,

    /// No retries at all: the first failure is final (--max-attempts 1).
    #[arg(long, env = "VAULT_CI_DISABLE_RETRY", value_parser = boolean, help_heading = "Network")]
    pub disable_retry: bool,

    /// Proxy for STS and the token endpoint. Default: HTTPS_PROXY / HTTP_PROXY, with NO_PROXY.
    #[arg(
        long,
        value_name = "URL",
        env = "VAULT_CI_HTTP_PROXY",
        help_heading = "Network"
    )]
    pub http_proxy: Option<String>,

    /// Attempts per request to STS or the token endpoint, the first included. Only
    /// transient failures are retried (throttling, 5xx, network), with capped
    /// exponential backoff and jitter; a refusal is never retried.
    #[arg(long, value_name = "N", default_value_t = 5, env = "VAULT_CI_MAX_ATTEMPTS",
          value_parser = clap::value_parser!(u32).range(1..=20), help_heading = "Network")]
    pub max_attempts: u32,

    /// Seconds one attempt may take before it counts as failed (and is retried).
    #[arg(long, value_name = "SECONDS", default_value_t = 10, env = "VAULT_CI_ATTEMPT_TIMEOUT",
          value_parser = clap::value_parser!(u64).range(1..=600), help_heading = "Network")]
    pub attempt_timeout: u64,

    /// Seconds the whole exchange (token and every hop, retries included) may take;
    /// 0 for no limit (then throttling, too, is retried only --max-attempts times).
    #[arg(long, value_name = "SECONDS", default_value_t = 120, env = "VAULT_CI_TIMEOUT",
          value_parser = clap::value_parser!(u64).range(0..=3600), help_heading = "Network")]
    pub timeout: u64,
}

#[derive(Debug, Args)]
pub struct TokenArgs {
    #[command(flatten)]
    pub identity: IdentityArgs,

    #[command(flatten)]
    pub net: NetArgs,

    /// Output format.
    #[arg(long, value_enum, default_value_t = TokenFormat::Text)]
    pub format: TokenFormat,

    /// Also print the token itself (it is a credential: keep it out of logs).
    #[arg(long)]
    pub raw: bool,

    /// Check this trust policy (JSON, e.g. from `aws iam get-role`) against the token.
    #[arg(long, value_name = "FILE")]
    pub trust_policy: Option<PathBuf>,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("ref_kind").args(["branch", "environment", "tag", "pull_request"])))]
pub struct TrustPolicyArgs {
    /// The CI whose tokens the role should admit.
    #[arg(long, value_enum, required_unless_present = "check")]
    pub provider: Option<Ci>,

    /// Check trust policies instead: every way a role admits more than one repository or
    /// project, each with its fix. Reads policy documents; `aws iam get-role`, `list-roles`
    /// and `get-account-authorization-details` output; CloudFormation templates (JSON or
    /// YAML); `terraform show -json` plans and state; folders (every such file in them).
    /// Exit 0: every role judged, none too open; 1: findings (too open, or broken); 2: a
    /// file that holds no trust policy; 3: nothing too open, but something not judged (an
    /// issuer whose `sub` grammar vault-ci does not know, a template's unresolved
    /// parameter, a plan's "known after apply").
    #[arg(long, value_name = "FILE", num_args = 1.., conflicts_with = "provider")]
    pub check: Vec<PathBuf>,

    /// With --check: GitHub's `sub` is customised to these claim keys (the OIDC
    /// customization API's include_claim_keys, in order: repo,context,job_workflow_ref),
    /// or @FILE with that API's answer (gh api repos/OWNER/REPO/actions/oidc/customization/sub):
    /// a `sub` condition no such token can match is reported as admitting nothing.
    #[arg(long, value_name = "KEYS", requires = "check")]
    pub github_sub_claims: Option<String>,

    /// With --check: GitLab's `sub` is configured to these components (the project's
    /// ci_id_token_sub_claim_components: project_path,ref_type,ref by default, or
    /// project_path,ref / project_path,ref_type / project_path,ref,ref_type), or @FILE with
    /// the projects API's answer (glab api projects/GROUP%2FPROJECT): a `sub` condition no
    /// such token can match admits nothing; one a sub without ref or ref_type opens gets a note.
    #[arg(long, value_name = "KEYS", requires = "check")]
    pub gitlab_sub_claims: Option<String>,

    /// With --check: best-practice notes (a repository pinned by name, not ID) fail too (exit 1).
    #[arg(long, requires = "check")]
    pub strict: bool,

    /// Print the trust policy (json, the default), or a CloudFormation template that creates
    /// the role with it and the account's IAM OIDC provider for the issuer (cloudformation).
    /// With --check: text (the default), json or sarif.
    #[arg(long, value_enum)]
    pub format: Option<PolicyFormat>,

    /// With --format cloudformation: the account has the IAM OIDC provider already
    /// (the template's CreateOidcProvider parameter defaults to false).
    #[arg(long)]
    pub existing_oidc_provider: bool,

    /// GitHub: OWNER/REPO (one repository: no `*`, `?` or `$`). Forgejo: OWNER/REPO.
    #[arg(long, value_name = "OWNER/REPO", help_heading = "GitHub")]
    pub repo: Option<String>,

    /// GitHub: the owner's numeric ID, for the immutable `repo:OWNER@ID/REPO@ID:…` subject
    /// (Forgejo: `repo:OWNER-ID/REPO-ID:…`).
    #[arg(long, value_name = "ID", requires = "repo_id", help_heading = "GitHub")]
    pub owner_id: Option<String>,

    /// GitHub: the repository's numeric ID (with --owner-id).
    #[arg(
        long,
        value_name = "ID",
        requires = "owner_id",
        help_heading = "GitHub"
    )]
    pub repo_id: Option<String>,

    /// GitLab: GROUP/PROJECT (one project: no `*`, `?` or `$`).
    #[arg(long, value_name = "GROUP/PROJECT", help_heading = "GitLab")]
    pub project_path: Option<String>,

    /// CircleCI: the organization ID (it is also the token's audience). Azure DevOps:
    /// the organization's ID (its issuer is vstoken.dev.azure.com/<ID>; the Entra
    /// issuer's `sub` names it too).
    #[arg(long, value_name = "UUID", help_heading = "CircleCI")]
    pub org_id: Option<String>,

    /// CircleCI: the project ID.
    #[arg(long, value_name = "UUID", help_heading = "CircleCI")]
    pub project_id: Option<String>,

    /// Buildkite: the organization slug. Azure DevOps: the organization's name.
    #[arg(long, value_name = "SLUG", help_heading = "Buildkite")]
    pub organization: Option<String>,

    /// Buildkite: the pipeline slug. Azure DevOps: the
    /// pipeline's name, for the tokens it requests without a service connection.
    #[arg(long, value_name = "SLUG", help_heading = "Buildkite")]
    pub pipeline: Option<String>,

    /// Bitbucket: the workspace name (part of the issuer).
    #[arg(long, value_name = "NAME", help_heading = "Bitbucket")]
    pub workspace: Option<String>,

    /// Bitbucket: the workspace UUID (the token's audience).
    #[arg(long, value_name = "UUID", help_heading = "Bitbucket")]
    pub workspace_uuid: Option<String>,

    /// Bitbucket: the repository UUID.
    #[arg(long, value_name = "UUID", help_heading = "Bitbucket")]
    pub repo_uuid: Option<String>,

    /// Azure DevOps: the project's name.
    #[arg(long, value_name = "NAME", help_heading = "Azure DevOps")]
    pub project: Option<String>,

    /// Azure DevOps: the service connection's name (`sub` sc://ORG/PROJECT/NAME).
    #[arg(long, value_name = "NAME", help_heading = "Azure DevOps")]
    pub service_connection: Option<String>,

    /// Azure DevOps, Microsoft Entra issuer: the service connection's ID (with --tenant-id).
    #[arg(long, value_name = "UUID", help_heading = "Azure DevOps")]
    pub service_connection_id: Option<String>,

    /// Azure DevOps: the Microsoft Entra tenant whose issuer replaces Azure DevOps' by
    /// 2027-07-01; with the Azure DevOps flags too, the policy admits both issuers.
    #[arg(long, value_name = "UUID", help_heading = "Azure DevOps")]
    pub tenant_id: Option<String>,

    /// Jenkins: the job's full name, folders included (JOB_NAME: team/deploy).
    #[arg(long, value_name = "NAME", help_heading = "Jenkins")]
    pub job: Option<String>,

    /// Jenkins: the `sub` claim template of the oidc-provider plugin (default: ${JOB_URL});
    /// per-build variables (${BUILD_NUMBER}, …) become `*`.
    #[arg(long, value_name = "TEMPLATE", help_heading = "Jenkins")]
    pub claim_template: Option<String>,

    /// Google: the service account's unique ID (numeric, `gcloud iam service-accounts
    /// describe EMAIL --format='value(uniqueId)'`).
    #[arg(long, value_name = "ID", help_heading = "Google")]
    pub service_account_id: Option<String>,

    /// Only jobs on this branch.
    #[arg(long, value_name = "BRANCH", help_heading = "Which jobs")]
    pub branch: Option<String>,

    /// Only jobs that deploy to this environment (GitHub; Bitbucket: the environment UUID).
    #[arg(long, value_name = "NAME", help_heading = "Which jobs")]
    pub environment: Option<String>,

    /// Only jobs for this tag (`*` allowed, e.g. v*).
    #[arg(long, value_name = "TAG", help_heading = "Which jobs")]
    pub tag: Option<String>,

    /// Only pull-request jobs (GitHub).
    #[arg(long, help_heading = "Which jobs")]
    pub pull_request: bool,

    /// The AWS account that holds the role and the IAM OIDC provider.
    #[arg(long, value_name = "ID", default_value = "ACCOUNT_ID")]
    pub account_id: String,

    /// The AWS partition (aws, aws-cn, aws-us-gov).
    #[arg(long, default_value = "aws")]
    pub partition: String,

    /// The token audience the IAM OIDC provider expects (default per provider:
    /// sts.amazonaws.com; CircleCI: the organization ID; Bitbucket: its workspace ARI;
    /// Azure DevOps: api://AzureADTokenExchange; Google: the `oaud` asked for).
    #[arg(long)]
    pub audience: Option<String>,

    /// The issuer URL, for self-hosted GitLab or GitHub Enterprise Server, a Jenkins
    /// (https://jenkins.example.com/oidc) or a Forgejo instance (default: Codeberg's).
    #[arg(long, value_name = "URL")]
    pub issuer: Option<String>,
}
