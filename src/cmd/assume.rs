//! `vault-ci assume`: validate everything, then identity → hops → sinks.

use std::process::ExitCode;
use std::time::Duration;

use tracing::{info, warn};

use super::{
    env_nonempty, in_github_actions, net_config, read_trust_policy, runtime, select_source,
    within_timeout,
};
use crate::arn::RoleArn;
use crate::cli::AssumeArgs;
use crate::error::{Error, Result};
use crate::hop::{Hop, HopOptions, Session, Sts};
use crate::identity::token::{human_duration, now_unix, rfc3339};
use crate::identity::{Context, Source};
use crate::refresh;
use crate::secret::Secret;
use crate::sink::{Output, Sinks};
use crate::validate;

const DEFAULT_STS_REGION: &str = "us-east-1";

/// Stands in for the account of a bare role name until it is known.
const PENDING_ACCOUNT: &str = "000000000000";

/// A role's name alone (no `arn:`), as IAM allows it.
fn is_role_name(raw: &str) -> bool {
    !raw.starts_with("arn:")
        && (1..=64).contains(&raw.len())
        && raw.chars().all(crate::arn::is_iam_name_char)
}

pub fn run(args: AssumeArgs) -> Result<ExitCode> {
    let in_github_actions = in_github_actions();
    // With --refresh the command is served an endpoint instead (clap keeps the
    // other destinations out).
    let sinks = if args.refresh {
        None
    } else {
        Some(Sinks::new(
            args.github_env.then_some(args.output_credentials),
            args.bash_env,
            args.env_file.clone(),
            args.format,
            args.command.clone(),
            in_github_actions,
        )?)
    };
    let source = select_source(&args.identity)?;
    let from_keys = matches!(source, Source::Static(_));
    // `--role-arn deploy`, as configure-aws-credentials takes it: the role of that name in
    // the static keys' own account, which one request finds once all else is checked.
    let role_name = args
        .role_arn
        .as_deref()
        .filter(|raw| is_role_name(raw))
        .map(str::to_string);
    if let Some(name) = &role_name
        && !from_keys
    {
        return Err(Error::usage(format!(
            "--role-arn `{name}` is a role name, which vault-ci can complete only from static keys' \
             account; give the whole ARN (arn:aws:iam::ACCOUNT:role/{name})"
        )));
    }
    let role_arn = match &role_name {
        Some(name) => Some(format!("arn:aws:iam::{PENDING_ACCOUNT}:role/{name}")),
        None => args.role_arn.clone(),
    };
    let mut hops = resolve_hops(role_arn, &args.chain, source.default_role())?;
    if args.mask_account_id && in_github_actions {
        mask_accounts(hops.iter().map(|hop| hop.role.account()));
    }
    let options = hop_options(&args, &source, &hops, from_keys)?;

    let region = args
        .sts
        .region
        .clone()
        .or_else(|| env_nonempty("AWS_REGION"))
        .or_else(|| env_nonempty("AWS_DEFAULT_REGION"));
    if let Some(region) = &region {
        validate::region(region)?;
    }
    let endpoint = sts_endpoint(args.sts.sts_endpoint.as_deref())?;
    let partition = hops[0].role.partition();
    if region.is_none() && endpoint.is_none() && partition != "aws" && role_name.is_none() {
        return Err(Error::usage(format!(
            "{} is in the {partition} partition, which the default STS region (us-east-1) cannot \
             reach: pass --region (e.g. cn-north-1 or us-gov-west-1)",
            hops[0].role
        )));
    }
    let net = net_config(&args.net)?;
    let sts = Sts {
        region: region.clone().unwrap_or_else(|| DEFAULT_STS_REGION.into()),
        http: net.sts_http_client(endpoint.as_deref()),
        endpoint,
        retry: net.retry.clone(),
        attempt_timeout: net.attempt_timeout,
    };
    let ctx = Context {
        audience: args.identity.audience.as_deref(),
        net: &net,
        mask_on_stdout: in_github_actions && !sinks.as_ref().is_some_and(Sinks::uses_stdout),
    };

    let runtime = runtime()?;
    if let (Some(name), Source::Static(keys)) = (&role_name, &source) {
        let keys = keys.credentials()?;
        let (partition, account) =
            runtime.block_on(within_timeout(&net, sts.caller_account(&keys)))?;
        let role: RoleArn = format!("arn:{partition}:iam::{account}:role/{name}")
            .parse()
            .map_err(Error::usage)?;
        if args.mask_account_id && in_github_actions {
            mask_accounts([role.account()]);
        }
        info!("--role-arn {name}: {role}, in the account of the static keys");
        hops[0] = Hop {
            label: role.to_string(),
            role,
        };
    }

    let assume_all = || async {
        let session = within_timeout(&net, sts.run_chain(&source, &ctx, &hops, &options)).await?;
        let out = output(session, region.clone());
        log_expiry(&out);
        Ok(out)
    };
    let out = runtime.block_on(assume_all())?;
    match sinks {
        Some(sinks) => {
            // The connection pool and its tasks go before the command runs.
            drop(runtime);
            sinks.deliver(&out)
        }
        None => runtime.block_on(async {
            if let Some((exp, title)) = source.refresh_limit(&ctx).await {
                let until = rfc3339(exp).unwrap_or_default();
                warn!(
                    "--refresh can keep the credentials fresh only until {until}, when the {title} \
                     token expires: {title} cannot mint a new one here"
                );
            }
            refresh::run(
                &args.command,
                out,
                Duration::from_secs(args.refresh_window),
                assume_all,
            )
            .await
        }),
    }
}

/// `::add-mask::` for every account the chain touches, so the runner hides them
/// in everything logged after this, role ARNs included.
fn mask_accounts<'a>(accounts: impl IntoIterator<Item = &'a str>) {
    let mut accounts: Vec<&str> = accounts
        .into_iter()
        .filter(|account| *account != PENDING_ACCOUNT)
        .collect();
    accounts.sort_unstable();
    accounts.dedup();
    for account in accounts {
        println!("::add-mask::{account}");
    }
    use std::io::Write;
    std::io::stdout().flush().ok();
}

fn output(session: Session, region: Option<String>) -> Output {
    Output {
        account_id: crate::arn::account_of(&session.assumed_role_arn).map(str::to_string),
        assumed_role_arn: session.assumed_role_arn,
        credentials: session.credentials,
        region,
    }
}

fn log_expiry(out: &Output) {
    match out.expiration() {
        Some(at) => {
            let left = out
                .credentials
                .expiration
                .and_then(|t| t.duration_since(std::time::SystemTime::now()).ok())
                .map(|d| human_duration(d.as_secs()))
                .unwrap_or_else(|| "0s".into());
            info!(
                "credentials for {} expire at {at} (in {left})",
                out.assumed_role_arn
            )
        }
        None => info!("credentials for {}", out.assumed_role_arn),
    }
}

/// `--role-arn` first, then `--chain` in order; a name in the chain is read
/// from `VAULT_CI_ROLE_<NAME>`.
fn resolve_hops(
    role_arn: Option<String>,
    chain: &[String],
    default_role: Option<String>,
) -> Result<Vec<Hop>> {
    let mut hops = Vec::new();
    if let Some(raw) = role_arn {
        let role = raw
            .parse::<RoleArn>()
            .map_err(|e| Error::usage(format!("--role-arn: {e}")))?;
        hops.push(Hop {
            label: role.to_string(),
            role,
        });
    }
    if let Some(index) = chain.iter().position(|entry| entry.trim().is_empty()) {
        return Err(Error::usage(format!(
            "--chain has an empty entry at position {}: write names or ARNs separated by single commas",
            index + 1
        )));
    }
    for entry in chain {
        let entry = entry.trim();
        let role = if entry.starts_with("arn:") {
            entry
                .parse::<RoleArn>()
                .map_err(|e| Error::usage(format!("--chain: {e}")))?
        } else {
            resolve_name(entry)?
        };
        hops.push(Hop {
            role,
            label: entry.to_string(),
        });
    }
    if hops.is_empty()
        && let Some(raw) = default_role
    {
        let role = raw
            .parse::<RoleArn>()
            .map_err(|e| Error::usage(format!("AWS_ROLE_ARN: {e}")))?;
        hops.push(Hop {
            label: role.to_string(),
            role,
        });
    }
    if hops.is_empty() {
        return Err(Error::usage(
            "no role to assume: pass --role-arn ARN, or --chain NAME,... with VAULT_CI_ROLE_<NAME> set",
        ));
    }
    Ok(hops)
}

fn resolve_name(name: &str) -> Result<RoleArn> {
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
    let raw = env_nonempty(&var).ok_or_else(|| {
        Error::usage(format!(
            "--chain {name}: {var} is not set; set it to the role's ARN (e.g. as a CI variable) or put the ARN in --chain"
        ))
    })?;
    raw.parse::<RoleArn>()
        .map_err(|e| Error::usage(format!("--chain {name}: {var} holds {e}")))
}

fn hop_options(
    args: &AssumeArgs,
    source: &Source,
    hops: &[Hop],
    from_keys: bool,
) -> Result<HopOptions> {
    // Role chaining: any hop signed by a role session, including a first hop
    // signed by static keys that are themselves a session.
    let keys_are_session = match source {
        Source::Static(keys) => keys.credentials().map(|c| c.is_session()).unwrap_or(false),
        _ => false,
    };
    let chained = hops.len() > 1 || keys_are_session;
    let duration = validate::duration(args.duration, chained)?;

    let raw_name = args
        .session_name
        .clone()
        .or_else(|| source.default_session_name())
        .unwrap_or_else(|| format!("vault-ci-{}", now_unix()));
    let session_name = validate::sanitize_session_name(&raw_name);
    if session_name != raw_name {
        warn!("session name `{raw_name}` is not accepted by STS as is; using `{session_name}`");
    }

    if let Some(id) = &args.external_id {
        validate::external_id(id)?;
    }
    if let Some(id) = &args.source_identity {
        validate::source_identity(id)?;
    }
    let mut tags = validate::tags(&args.tags)?;
    let assume_role_hops = if from_keys {
        hops.len()
    } else {
        hops.len() - 1
    };
    if args.github_session_tags && assume_role_hops > 0 {
        for (key, value) in crate::identity::github::session_tags() {
            if !tags.iter().any(|(k, _)| k.eq_ignore_ascii_case(&key)) {
                tags.push((key, value));
            }
        }
    }
    if !tags.is_empty() && assume_role_hops == 0 {
        return Err(Error::usage(
            "--tag applies to AssumeRole hops, and this run has only a web-identity hop: \
             put session tags in the token's https://aws.amazon.com/tags claim, or chain a role after it",
        ));
    }
    if args.external_id.is_some() && assume_role_hops == 0 {
        return Err(Error::usage(
            "--external-id applies to AssumeRole hops, and this run has only a web-identity hop",
        ));
    }
    let trust_policy = args
        .trust_policy
        .as_deref()
        .map(|path| read_trust_policy(path, "--trust-policy"))
        .transpose()?;
    let session_policy = args
        .session_policy
        .as_deref()
        .map(validate::session_policy)
        .transpose()?;
    validate::managed_policies(&args.managed_policies)?;
    let mfa = match (&args.mfa_serial, &args.mfa_code) {
        (Some(serial), Some(code)) => {
            if !from_keys {
                return Err(Error::usage(
                    "--mfa-serial applies to AssumeRole from static keys (a person's IAM user); \
                     an OIDC token carries no MFA",
                ));
            }
            validate::mfa(serial, code)?;
            Some((serial.clone(), Secret::new(code.clone())))
        }
        _ => None,
    };
    Ok(HopOptions {
        session_name,
        duration,
        external_id: args.external_id.clone(),
        session_policy,
        managed_policies: args.managed_policies.clone(),
        tags,
        source_identity: args.source_identity.clone(),
        mfa,
        trust_policy,
    })
}

/// `--sts-endpoint`, then the SDK conventions `AWS_ENDPOINT_URL_STS` and
/// `AWS_ENDPOINT_URL` (unless AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true).
fn sts_endpoint(flag: Option<&str>) -> Result<Option<String>> {
    if let Some(url) = flag {
        return validate::endpoint(url, "--sts-endpoint").map(Some);
    }
    if env_nonempty("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS").as_deref() == Some("true") {
        return Ok(None);
    }
    for var in ["AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL"] {
        if let Some(url) = env_nonempty(var) {
            return validate::endpoint(&url, var).map(Some);
        }
    }
    Ok(None)
}
