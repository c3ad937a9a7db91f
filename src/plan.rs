//! What `vault-ci assume` will do, decided before anything is sent: the
//! identity source, the roles of the chain and what each request carries, the
//! STS client and network set-up, and the destinations. [`Plan::new`] is a
//! function of the command line and the environment snapshot only (as ripgrep
//! turns its low-level arguments into high-level ones), so every bad input is
//! refused here, with one line naming the problem and the fix, and before a
//! token is spent. [`Plan::steps`] then hands out the steps to run, every role
//! a full ARN.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tracing::{info, warn};

use crate::arn::{AccountId, RoleArn};
use crate::cli::{AssumeArgs, NetArgs, ProviderChoice};
use crate::env::Env;
use crate::error::{Error, Result};
use crate::hop::{Step, Sts, Tags, caller_identity};
use crate::identity::{Choice, Context, Identity, ProviderOptions, Source};
use crate::net::{NetConfig, NetOptions};
use crate::retry::RetryPolicy;
use crate::secret::Secret;
use crate::server::Limits;
use crate::sink::exec::Child;
use crate::sink::{self, Delivery, Format, Sink};
use crate::validate;
use crate::workflow::Workflow;

/// STS's region when none is given: the global partition's default.
mod destination;

use destination::destinations;
pub use destination::{Existing, unset_current};

const DEFAULT_STS_REGION: &str = "us-east-1";

/// What happens once the credentials are there.
pub enum Finish {
    /// The sinks were all; vault-ci exits 0.
    Done,
    /// Replace vault-ci with this command, the credentials in its environment.
    Exec(Child),
    /// Run this command with a refreshing credentials endpoint instead of keys.
    Refresh { command: Child, window: Duration },
    /// Start a job-wide credentials server; the sinks get its address.
    Serve { window: Duration, limits: Limits },
}

pub struct Plan {
    pub source: Source,
    /// The roles in order, each with the name the user gave it (`deploy` in
    /// `--chain deploy,cfn`), or the ARN.
    roles: Vec<(Role, String)>,
    /// What each step's request carries.
    hops: Hops,
    pub sts: Sts,
    pub net: NetConfig,
    /// The region exported to later steps, when the user chose one.
    pub region: Option<String>,
    pub audience: Option<String>,
    pub sinks: Vec<Box<dyn Sink>>,
    pub finish: Finish,
    pub workflow: Workflow,
    /// Mask the roles' account ids in the job log.
    pub mask_accounts: bool,
    /// A copy of the first role's trust policy, to explain a denial.
    pub trust_policy: Option<serde_json::Value>,
    /// The accounts the final credentials may belong to; empty: any.
    pub allowed_accounts: Vec<AccountId>,
}

/// A role of the chain as the command line names it.
enum Role {
    Arn(RoleArn),
    /// A role name alone, as configure-aws-credentials takes it with keys: the
    /// role of that name in the keys' own account, found with GetCallerIdentity.
    InCallersAccount(String),
}

/// What the steps' requests carry, validated; [`Hops::step`] says which step
/// gets what.
struct Hops {
    /// The first hop is AssumeRole too: the source gives credentials.
    from_keys: bool,
    session_name: String,
    duration: u32,
    external_id: Option<String>,
    tags: Tags,
    droppable_tags: Vec<String>,
    transitive_tag_keys: Vec<String>,
    source_identity: Option<String>,
    policy: Option<String>,
    policy_arns: Vec<String>,
    mfa: Option<(String, Secret)>,
    plain_keys: bool,
}

impl Hops {
    fn step(&self, index: usize, count: usize, role: RoleArn, label: &str) -> Step {
        let assume_role = self.from_keys || index > 0;
        let last = index + 1 == count;
        Step {
            role,
            label: label.to_string(),
            session_name: self.session_name.clone(),
            // Intermediate sessions are used once, right away.
            duration: if last {
                self.duration
            } else {
                validate::MIN_DURATION
            },
            external_id: when(assume_role, self.external_id.clone()),
            tags: when(assume_role, self.tags.clone()),
            droppable_tags: self.droppable_tags.clone(),
            transitive_tag_keys: when(assume_role, self.transitive_tag_keys.clone()),
            source_identity: when(assume_role, self.source_identity.clone()),
            policy: when(last, self.policy.clone()),
            policy_arns: when(last, self.policy_arns.clone()),
            mfa: when(index == 0, self.mfa.clone()),
            plain_keys: self.plain_keys && last,
        }
    }
}

impl Plan {
    pub fn new(args: &AssumeArgs, env: &Env) -> Result<Plan> {
        let mut workflow = Workflow::from_env(env);
        let (sinks, finish) = destinations(args, env, &mut workflow)?;
        let source = select_source(&args.identity, env, args.no_role)?;
        let from_keys = source.gives_credentials();
        let allowed_accounts = allowed_accounts(&args.allowed_account_ids)?;

        let roles = roles(args, &source, env, from_keys)?;
        // Role chaining: any hop signed by a role session, including a first
        // hop signed by keys that are themselves a session.
        let chained = roles.len() > 1 || source.is_session();
        let duration = validate::duration(requested_duration(args), chained)?;
        let session_name = session_name(args, &source, env);
        let (tags, droppable_tags) = tags(args, env, from_keys, roles.len())?;
        let transitive_tag_keys = transitive_tag_keys(&args.transitive_tag_keys, &tags)?;
        if let Some(id) = &args.external_id {
            validate::external_id(id)?;
            if !from_keys && roles.len() == 1 {
                return Err(Error::usage(
                    "--external-id applies to AssumeRole hops, and this run has only a web-identity hop",
                ));
            }
        }
        if let Some(id) = &args.source_identity {
            validate::source_identity(id)?;
        }
        let trust_policy = args
            .trust_policy
            .as_deref()
            .map(|path| read_trust_policy(path, "--trust-policy"))
            .transpose()?;
        let policy = args
            .session_policy
            .as_deref()
            .map(validate::session_policy)
            .transpose()?;
        let managed_policies: Vec<String> = args
            .managed_policies
            .iter()
            .flat_map(|v| v.split(['\n', '\r']))
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
            .collect();
        validate::managed_policies(&managed_policies)?;
        let mfa = mfa(args, from_keys)?;

        if let Some((Role::Arn(last), _)) = roles.last() {
            check_account(
                &allowed_accounts,
                last.account(),
                &format!("the role {last}"),
            )?;
        }
        let (sts, net, region) = network(args, env, source.token_url())?;
        partitions(&roles, region.as_deref(), sts.endpoint.as_deref())?;
        if region.is_none() && args.format != Some(Format::CredentialProcess) {
            warn!(
                "no region given (--region, AWS_REGION): the credentials go out without \
                 AWS_REGION, and the aws CLI stops with \"You must specify a region\" unless its \
                 config names one; STS is asked in {DEFAULT_STS_REGION}"
            );
        }
        if let Some((Role::Arn(first), _)) = roles.first() {
            let partition = first.partition();
            if region.is_none() && sts.endpoint.is_none() && partition != "aws" {
                return Err(Error::usage(format!(
                    "{first} is in the {partition} partition, which the default STS region (us-east-1) cannot \
                     reach: pass --region (e.g. cn-north-1 or us-gov-west-1)"
                )));
            }
        }
        Ok(Plan {
            source,
            roles,
            hops: Hops {
                from_keys,
                session_name,
                duration,
                external_id: args.external_id.clone(),
                tags,
                droppable_tags,
                transitive_tag_keys,
                source_identity: args.source_identity.clone(),
                policy,
                policy_arns: managed_policies,
                mfa,
                plain_keys: args.special_characters_workaround,
            },
            sts,
            net,
            region,
            audience: args.identity.audience.clone(),
            sinks,
            finish,
            workflow,
            mask_accounts: args.mask_account_id && workflow.active(),
            trust_policy,
            allowed_accounts,
        })
    }

    /// The steps to run, every role a full ARN. A bare role name is completed
    /// with the account of the source's credentials: one GetCallerIdentity,
    /// before any role is assumed (and held to --allowed-account-id then).
    pub async fn steps(&self) -> Result<Vec<Step>> {
        let count = self.roles.len();
        let mut steps = Vec::with_capacity(count);
        for (index, (role, label)) in self.roles.iter().enumerate() {
            let arn = match role {
                Role::Arn(arn) => arn.clone(),
                Role::InCallersAccount(name) => {
                    let arn = self.in_callers_account(name).await?;
                    if index + 1 == count {
                        check_account(
                            &self.allowed_accounts,
                            arn.account(),
                            &format!("the role {arn}"),
                        )?;
                    }
                    arn
                }
            };
            steps.push(self.hops.step(index, count, arn, label));
        }
        Ok(steps)
    }

    async fn in_callers_account(&self, name: &str) -> Result<RoleArn> {
        let ctx = Context {
            audience: None,
            net: &self.net,
        };
        let keys = match self.source.identity(&ctx).await? {
            Identity::Keys(keys) => keys,
            Identity::WebIdentity(_) => return Err(role_name_needs_keys(name)),
        };
        let caller = caller_identity::call(&self.sts, &keys).await?;
        let role = RoleArn::in_account_of(name, &caller).map_err(Error::usage)?;
        if self.mask_accounts {
            self.workflow.mask(role.account().as_str());
        }
        info!(
            "--role-arn {name}: {role}, in the account of the {}",
            self.source.describe()
        );
        Ok(role)
    }
}

/// Every account id this run's command line and environment name: the roles
/// (`--role-arn`, `--chain`, every `VAULT_CI_ROLE_*`, `AWS_ROLE_ARN`),
/// `--allowed-account-id` and the policies. With `--mask-account-id` they are
/// masked before the plan is made, so that no line vault-ci prints shows one,
/// the plan's own refusals included. Any 12 digits standing alone count: a
/// value too malformed to be an ARN is still quoted in its refusal.
pub fn named_accounts(args: &AssumeArgs, env: &Env) -> Vec<String> {
    let roles = env.names().filter_map(|name| {
        let name = name.to_str()?;
        (name.starts_with("VAULT_CI_ROLE_") || name == "AWS_ROLE_ARN")
            .then(|| env.get(name))
            .flatten()
    });
    let texts = args
        .role_arn
        .iter()
        .chain(&args.chain)
        .chain(&args.allowed_account_ids)
        .chain(&args.managed_policies)
        .chain(&args.session_policy)
        .map(String::as_str)
        .chain(roles);
    let mut accounts: Vec<String> = texts.flat_map(account_ids_in).collect();
    accounts.sort_unstable();
    accounts.dedup();
    accounts
}

/// The runs of exactly 12 digits in `text`.
pub fn account_ids_in(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_ascii_digit())
        .filter(|run| run.len() == 12)
        .map(str::to_string)
        .collect()
}

fn role_name_needs_keys(name: &str) -> Error {
    Error::usage(format!(
        "--role-arn `{name}` is a role name, which vault-ci can complete only from static keys' \
         account; give the whole ARN (arn:aws:iam::ACCOUNT:role/{name})"
    ))
}

/// A role, a region and an STS endpoint of different partitions cannot work
/// together: STS of one partition knows no role of another, and a session of
/// one cannot assume a role of another. Known from the SDK's partition data.
fn partitions(
    roles: &[(Role, String)],
    region: Option<&str>,
    endpoint: Option<&str>,
) -> Result<()> {
    let arns: Vec<&RoleArn> = roles
        .iter()
        .filter_map(|(role, _)| match role {
            Role::Arn(arn) => Some(arn),
            Role::InCallersAccount(_) => None,
        })
        .collect();
    for arn in &arns {
        if crate::partition::named(arn.partition()).is_none() {
            let known: Vec<&str> = crate::partition::all()
                .iter()
                .map(|p| p.id.as_str())
                .collect();
            return Err(Error::usage(format!(
                "{arn}: `{}` is not an AWS partition; the partitions are {}",
                arn.partition(),
                known.join(", ")
            )));
        }
    }
    let Some(first) = arns.first() else {
        return Ok(());
    };
    let wanted = first.partition();
    if let Some(other) = arns.iter().find(|arn| arn.partition() != wanted) {
        return Err(Error::usage(format!(
            "the chain crosses partitions: {first} is in {wanted}, {other} in {}; a session of \
             one partition cannot assume a role of another",
            other.partition()
        )));
    }
    let examples = |id: &str| {
        crate::partition::named(id)
            .map(|p| p.home_region.clone())
            .unwrap_or_default()
    };
    if let Some(url) = endpoint {
        let host = url::Url::parse(url)
            .ok()
            .and_then(|url| url.host_str().map(str::to_string));
        if let Some(partition) = host.as_deref().and_then(crate::partition::of_host)
            && partition.id != wanted
        {
            return Err(Error::usage(format!(
                "the STS endpoint {url} is in the {} partition, and {first} in {wanted}: \
                 use an STS endpoint of {wanted}, or drop the endpoint and pass --region (e.g. {})",
                partition.id,
                examples(wanted)
            )));
        }
    } else if let Some(region) = region
        && let Some(partition) = crate::partition::of_region(region)
        && partition.id != wanted
    {
        return Err(Error::usage(format!(
            "{first} is in the {wanted} partition, and region {region} in {}: STS there does \
             not know the role; pass a region of {wanted} (e.g. {})",
            partition.id,
            examples(wanted)
        )));
    }
    Ok(())
}

/// Where STS is, how to reach it, and the region to export (when one was chosen).
pub fn network(
    args: &AssumeArgs,
    env: &Env,
    token_url: Option<&str>,
) -> Result<(Sts, NetConfig, Option<String>)> {
    let region = args
        .sts
        .region
        .as_deref()
        .or_else(|| env.get("AWS_REGION"))
        .or_else(|| env.get("AWS_DEFAULT_REGION"))
        .map(str::to_string);
    if let Some(region) = &region {
        validate::region(region)?;
    }
    let endpoint = sts_endpoint(args.sts.sts_endpoint.as_deref(), env)?;
    if let Some(region) = region.as_deref().filter(|_| endpoint.is_none())
        && crate::partition::of_region(region).is_none()
    {
        let meant = crate::partition::nearest_region(region)
            .map(|known| format!(" (did you mean {known}?)"))
            .unwrap_or_default();
        warn!(
            "region `{region}` is no region of any AWS partition the SDK knows{meant}: STS \
             there will not answer"
        );
    }
    if let Some(url) = &endpoint {
        validate::not_plain_http_elsewhere(url, args.sts.allow_plain_http)?;
    }
    // Without an endpoint, STS is the region's https:// one.
    let sts_url = endpoint.as_deref().unwrap_or("https://sts.amazonaws.com");
    let urls: Vec<&str> = [Some(sts_url), token_url].into_iter().flatten().collect();
    let net = NetConfig::new(net_options(&args.net, env), env, &urls)?;
    let sts = Sts::new(
        region.clone().unwrap_or_else(|| DEFAULT_STS_REGION.into()),
        endpoint,
        &net,
    );
    Ok((sts, net, region))
}

/// 900 s unless asked. botocore (the aws CLI, boto3) runs a `credential_process`
/// again whenever its credentials expire within 15 minutes: with 900 s that is
/// every call, so that format gets an hour.
fn requested_duration(args: &AssumeArgs) -> u32 {
    const DEFAULT: u32 = 900;
    const CREDENTIAL_PROCESS: u32 = 3600;
    match (args.duration, args.format) {
        (Some(seconds), Some(Format::CredentialProcess)) if seconds <= 15 * 60 => {
            warn!(
                "--duration {seconds} with --format credential-process: the aws CLI and boto3 \
                 run the process again on every call while the credentials expire within 15 \
                 minutes; give more than 900 s, e.g. 3600"
            );
            seconds
        }
        (Some(seconds), _) => seconds,
        (None, Some(Format::CredentialProcess)) => CREDENTIAL_PROCESS,
        (None, _) => DEFAULT,
    }
}

/// The destinations that cannot go together. clap's own `conflicts_with` would
/// also count `VAULT_CI_SERVE=false` (which the action always sets) as asking
/// for the flag, so these are checked on the values.
fn combinations(args: &AssumeArgs) -> Result<()> {
    let together = |flag: &str, other: &str| {
        Err(Error::usage(format!(
            "{flag} cannot be used with {other}: drop one of them (vault-ci assume --help lists what each does)"
        )))
    };
    if args.refresh {
        if args.command.is_empty() {
            return Err(Error::usage(
                "--refresh serves the credentials to a command: add `-- COMMAND`, \
                 or use --serve for the later steps of a job",
            ));
        }
        let others = [
            (args.serve, "--serve"),
            (args.github_env, "--github-env"),
            (args.bash_env, "--bash-env"),
            (args.env_file.is_some(), "--env-file"),
            (args.format.is_some(), "--format"),
            (args.aws_profile.is_some(), "--aws-profile"),
        ];
        if let Some((_, other)) = others.iter().find(|(set, _)| *set) {
            return together("--refresh", other);
        }
    }
    if args.serve {
        let others = [
            (
                !args.command.is_empty(),
                "a command after `--` (--refresh serves one command)",
            ),
            (args.format.is_some(), "--format"),
            (args.aws_profile.is_some(), "--aws-profile"),
            (
                args.output_credentials,
                "--output-credentials (the server's keys change)",
            ),
        ];
        if let Some((_, other)) = others.iter().find(|(set, _)| *set) {
            return together("--serve", other);
        }
    }
    Ok(())
}

/// `credentials_only`: the job wants credentials, not a token to exchange.
pub fn select_source(
    identity: &crate::cli::IdentityArgs,
    env: &Env,
    credentials_only: bool,
) -> Result<Source> {
    let wants_credentials = identity.role_chaining || credentials_only;
    let choice = match identity.provider {
        ProviderChoice::Auto if wants_credentials => Choice::Credentials,
        ProviderChoice::Auto => Choice::Auto,
        ProviderChoice::Ci(ci) => Choice::Ci(ci),
        ProviderChoice::TokenFile => Choice::TokenFile,
        ProviderChoice::Static => Choice::Static,
        ProviderChoice::Container => Choice::Container,
        ProviderChoice::Imds => Choice::Imds,
    };
    let options = ProviderOptions {
        token_env: identity.token_env.clone(),
        skip_ci: identity.force_skip_oidc,
        buildkite_session_tags: identity.buildkite_session_tags.clone(),
        audience: identity.audience.clone(),
        service_connection_id: identity.service_connection_id.clone(),
    };
    let source = Source::select(choice, identity.token_file.clone(), env, &options)?;
    tracing::info!("identity: {}", source.describe());
    Ok(source)
}

/// A role's name alone (no `arn:`), as IAM allows it.
fn is_role_name(raw: &str) -> bool {
    !raw.starts_with("arn:") && crate::arn::is_iam_name(raw, 64)
}

/// `--role-arn` first, then `--chain` in order (a name in the chain is read
/// from `VAULT_CI_ROLE_<NAME>`), else the source's default role.
fn roles(
    args: &AssumeArgs,
    source: &Source,
    env: &Env,
    from_keys: bool,
) -> Result<Vec<(Role, String)>> {
    let mut roles = Vec::new();
    if args.no_role {
        if !from_keys {
            return Err(Error::usage(format!(
                "--no-role delivers the identity's own credentials, and {} is an OIDC token, \
                 not credentials: name the role to exchange it for with --role-arn",
                source.describe()
            )));
        }
        return Ok(roles);
    }
    if let Some(raw) = &args.role_arn {
        if is_role_name(raw) {
            // `--role-arn deploy`, as configure-aws-credentials takes it: the role of
            // that name in the static keys' own account, which one request finds.
            if !from_keys {
                return Err(role_name_needs_keys(raw));
            }
            roles.push((Role::InCallersAccount(raw.clone()), raw.clone()));
        } else {
            let role = parse_role(raw, "--role-arn")?;
            roles.push((Role::Arn(role), raw.clone()));
        }
    }
    if let Some(index) = args.chain.iter().position(|entry| entry.trim().is_empty()) {
        return Err(Error::usage(format!(
            "--chain has an empty entry at position {}: write names or ARNs separated by single commas",
            index + 1
        )));
    }
    for entry in &args.chain {
        let entry = entry.trim();
        let role = if entry.starts_with("arn:") {
            parse_role(entry, "--chain")?
        } else {
            resolve_name(entry, env)?
        };
        roles.push((Role::Arn(role), entry.to_string()));
    }
    if roles.is_empty()
        && let Some(raw) = source.default_role(env)
    {
        let role = parse_role(raw, "AWS_ROLE_ARN")?;
        roles.push((Role::Arn(role), raw.to_string()));
    }
    if roles.is_empty() {
        let keys = if from_keys {
            ", or --no-role to deliver these credentials as they are"
        } else {
            ""
        };
        return Err(Error::usage(format!(
            "no role to assume: pass --role-arn ARN, or --chain NAME,... with VAULT_CI_ROLE_<NAME> set{keys}"
        )));
    }
    Ok(roles)
}

fn parse_role(raw: &str, origin: &str) -> Result<RoleArn> {
    raw.parse::<RoleArn>()
        .map_err(|e| Error::usage(format!("{origin}: {e}")))
}

fn resolve_name(name: &str, env: &Env) -> Result<RoleArn> {
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(Error::usage(format!(
            "--chain entry `{name}` is neither a role ARN nor a name of letters, digits, `-` and `_`"
        )));
    }
    let var = format!(
        "VAULT_CI_ROLE_{}",
        name.to_ascii_uppercase().replace('-', "_")
    );
    let raw = env.get(&var).ok_or_else(|| {
        Error::usage(format!(
            "--chain {name}: {var} is not set; set it to the role's ARN (e.g. as a CI variable) or put the ARN in --chain"
        ))
    })?;
    raw.parse::<RoleArn>()
        .map_err(|e| Error::usage(format!("--chain {name}: {var} holds {e}")))
}

fn session_name(args: &AssumeArgs, source: &Source, env: &Env) -> String {
    let raw = args
        .session_name
        .clone()
        .or_else(|| source.default_session_name(env))
        .unwrap_or_else(|| format!("vault-ci-{}", crate::time::now_unix()));
    let name = validate::sanitize_session_name(&raw);
    if name != raw {
        warn!(
            "session name `{}` is not accepted by STS as is; using `{name}`",
            crate::text::one_line(&raw)
        );
    }
    name
}

/// The sessions' tags: `--tag`, `--custom-tags`, and with
/// `--github-session-tags` or `--ci-session-tags` the run's (unless `--role-skip-session-tagging`);
/// and the keys among them that may be dropped if STS finds them too large.
fn tags(
    args: &AssumeArgs,
    env: &Env,
    from_keys: bool,
    roles: usize,
) -> Result<(Tags, Vec<String>)> {
    let mut tags = validate::tags(&args.tags)?;
    if let Some(raw) = &args.custom_tags {
        for (key, value) in validate::custom_tags(raw)? {
            if tags.iter().any(|(k, _)| k.eq_ignore_ascii_case(&key)) {
                return Err(Error::usage(format!(
                    "--custom-tags {key} is also given as --tag: keep one"
                )));
            }
            tags.push((key, value));
        }
    }
    let assume_role_hops = if from_keys {
        roles
    } else {
        roles.saturating_sub(1)
    };
    let mut droppable = Vec::new();
    let (run, flag) = match args.github_session_tags {
        true => (args.github_session_tags, "--github-session-tags"),
        false => (args.ci_session_tags, "--ci-session-tags"),
    };
    if run && !args.role_skip_session_tagging && assume_role_hops > 0 {
        let user_tags = std::mem::take(&mut tags);
        let run_tags = match args.github_session_tags {
            true => crate::identity::github::session_tags(env),
            false => crate::identity::ci_session_tags(env),
        };
        for (key, value) in run_tags {
            if crate::identity::github::DROPPABLE_TAGS
                .iter()
                .any(|(k, _)| *k == key)
            {
                droppable.push(key.clone());
            }
            tags.push((key, value));
        }
        for (key, value) in user_tags {
            if tags.iter().any(|(k, _)| k.eq_ignore_ascii_case(&key)) {
                return Err(Error::usage(format!(
                    "--tag {key} is a tag vault-ci sets for the run ({flag}); choose another key"
                )));
            }
            tags.push((key, value));
        }
        if tags.len() > 50 {
            return Err(Error::usage(format!(
                "{} session tags with the run's own: STS accepts at most 50",
                tags.len()
            )));
        }
    }
    let given_by_user = !args.tags.is_empty() || args.custom_tags.is_some();
    if given_by_user && assume_role_hops == 0 {
        return Err(Error::usage(
            "--tag applies to AssumeRole hops, and this run has only a web-identity hop: \
             put session tags in the token's https://aws.amazon.com/tags claim, or chain a role after it",
        ));
    }
    Ok((tags, droppable))
}

/// Transitive keys must name session tags: STS refuses others.
fn transitive_tag_keys(keys: &[String], tags: &[(String, String)]) -> Result<Vec<String>> {
    let keys: Vec<String> = keys
        .iter()
        .flat_map(|k| k.split(['\n', '\r']))
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(str::to_string)
        .collect();
    for key in &keys {
        if !tags.iter().any(|(k, _)| k == key) {
            return Err(Error::usage(format!(
                "--transitive-tag-key {key} is not one of the session's tags; add it with --tag {key}=VALUE"
            )));
        }
    }
    Ok(keys)
}

fn allowed_accounts(raw: &[String]) -> Result<Vec<AccountId>> {
    raw.iter()
        .flat_map(|v| v.split(['\n', ',']))
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(|id| {
            id.parse()
                .map_err(|e| Error::usage(format!("--allowed-account-id {e}")))
        })
        .collect()
}

/// Refuses credentials for an account outside `--allowed-account-id`.
pub fn check_account(allowed: &[AccountId], account: &AccountId, what: &str) -> Result<()> {
    if allowed.is_empty() || allowed.contains(account) {
        return Ok(());
    }
    let allowed: Vec<&str> = allowed.iter().map(AccountId::as_str).collect();
    Err(Error::denied(format!(
        "{what} is in account {account}, which is not among --allowed-account-id {}; \
         nothing was written: check the role ARN, or add the account",
        allowed.join(", ")
    )))
}

fn mfa(args: &AssumeArgs, from_keys: bool) -> Result<Option<(String, Secret)>> {
    match (&args.mfa_serial, &args.mfa_code) {
        (Some(serial), Some(code)) => {
            if !from_keys {
                return Err(Error::usage(
                    "--mfa-serial applies to AssumeRole from static keys (a person's IAM user); \
                     an OIDC token carries no MFA",
                ));
            }
            validate::mfa(serial, code)?;
            Ok(Some((serial.clone(), Secret::new(code.clone()))))
        }
        _ => Ok(None),
    }
}

/// `--sts-endpoint`, then the SDK conventions `AWS_ENDPOINT_URL_STS` and
/// `AWS_ENDPOINT_URL` (unless AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true).
fn sts_endpoint(flag: Option<&str>, env: &Env) -> Result<Option<String>> {
    if let Some(url) = flag {
        return validate::endpoint(url, "--sts-endpoint").map(Some);
    }
    if env.is_true("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS") {
        return Ok(None);
    }
    match env.first(&["AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL"]) {
        Some((var, url)) => validate::endpoint(url, var).map(Some),
        None => Ok(None),
    }
}

pub fn net_options<'a>(net: &'a NetArgs, env: &'a Env) -> NetOptions<'a> {
    NetOptions {
        ca_bundle: net
            .ca_bundle
            .as_deref()
            .or_else(|| env.get("AWS_CA_BUNDLE").map(Path::new)),
        proxy: net.http_proxy.as_deref(),
        no_proxy: net.no_proxy.as_deref(),
        retry: RetryPolicy {
            max_attempts: if net.disable_retry {
                1
            } else {
                net.max_attempts
            },
            ..RetryPolicy::default()
        },
        attempt_timeout: Duration::from_secs(net.attempt_timeout),
        total_timeout: Duration::from_secs(net.timeout),
    }
}

/// A copy of a role's trust policy, read and parsed before any request.
pub fn read_trust_policy(path: &Path, option: &str) -> Result<serde_json::Value> {
    let text = crate::files::read_text(path, crate::net::MAX_BODY)
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

/// `value` where it applies, nothing elsewhere.
fn when<T: Default>(applies: bool, value: T) -> T {
    if applies { value } else { T::default() }
}

#[cfg(test)]
mod tests;
