//! `vault-ci assume`: the plan, then identity → hops → sinks.

use std::time::SystemTime;

use tracing::{info, warn};

use super::{runtime, within_timeout};
use crate::cli::AssumeArgs;
use crate::env::Env;
use crate::error::Error;
use crate::error::Result;
use crate::exit::Exit;
use crate::hop::{self, RoleRef, Start, Sts};
use crate::identity::{Context, Identity, Source, TokenFuture};
use crate::plan::check_account;
use crate::plan::{Finish, Plan};
use crate::secret::Credentials;
use crate::sink::{self, Output, endpoint, exec, serve};
use crate::time::{human_duration, rfc3339};
use crate::workflow::Workflow;

/// The background server of `--serve`: the plan again (the same arguments),
/// the credentials the step handed over, then serving until the job ends.
fn daemon(args: AssumeArgs, env: &Env) -> Result<Exit> {
    let mut plan = Plan::new(&args, env)?;
    // Its stdout is the hand-over pipe, then nothing: no workflow command.
    plan.workflow = Workflow::silent();
    let Finish::Serve { window, limits } = plan.finish else {
        return Err(Error::usage("the background server runs only for --serve"));
    };
    let first = serve::receive()?;
    let sts = Sts {
        region: plan.sts.region.clone(),
        endpoint: plan.sts.endpoint.clone(),
        http: plan.net.sts_http_client(),
        retry: plan.net.retry.clone(),
        attempt_timeout: plan.net.attempt_timeout,
    };
    let ctx = Context {
        audience: plan.audience.as_deref(),
        net: &plan.net,
    };
    let renew = || fresh(&plan, &sts, &ctx);
    let watched = serve::watched_from(env);
    runtime()?.block_on(async {
        warn_refresh_limit("the job-wide server", plan.source.refresh_limit(&ctx).await);
        let endpoint = endpoint::Endpoint::open(endpoint::random_token()?).await?;
        serve::announce(&endpoint.uri, &endpoint.token)?;
        info!(
            "serving {} at {} (refreshing {} s before expiry; watching process {})",
            first.assumed_role_arn,
            endpoint.uri,
            window.as_secs(),
            watched
                .map(|p| p.to_string())
                .unwrap_or_else(|| "none".into())
        );
        let why = Box::pin(endpoint::serve_job(
            endpoint, first, window, renew, limits, watched,
        ))
        .await?;
        info!("the credentials server stops: {why}");
        Ok(Exit::SUCCESS)
    })
}

/// What `--unset-current-credentials` blanks, as configure-aws-credentials does.
const CURRENT: &[&str] = &[
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
];

pub fn run(args: AssumeArgs, env: &Env) -> Result<Exit> {
    if env.has(serve::DAEMON) {
        return daemon(args, env);
    }
    // Before anything can fail: later steps lose the old keys whatever happens here.
    let unset;
    let env = if args.unset_current_credentials && env.in_github_actions() {
        unset_current(&args, env)?;
        unset = env.without(CURRENT);
        &unset
    } else {
        env
    };
    // Before the plan: no identity of the job's own is needed when the one here works.
    if args.use_existing_credentials && existing_credentials_work(&args, env)? {
        Workflow::from_env(env)
            .notice("Pre-existing credentials are valid. No need to generate new ones.");
        return Ok(Exit::SUCCESS);
    }
    let mut plan = Plan::new(&args, env)?;
    if plan.mask_accounts {
        mask_accounts(&plan);
    }
    if let Some(policy) = &plan.trust_policy {
        warn_about(policy);
    }
    let sts = Sts {
        region: plan.sts.region.clone(),
        endpoint: plan.sts.endpoint.clone(),
        http: plan.net.sts_http_client(),
        retry: plan.net.retry.clone(),
        attempt_timeout: plan.net.attempt_timeout,
    };
    let runtime = runtime()?;
    if let Some(RoleRef::InCallerAccount(name)) = plan.steps.first().map(|s| s.role.clone()) {
        let role =
            runtime.block_on(within_timeout(&plan.net, complete_role(&plan, &sts, &name)))?;
        if plan.mask_accounts {
            plan.workflow.mask(role.account());
        }
        info!(
            "--role-arn {name}: {role}, in the account of the {}",
            plan.source.describe()
        );
        plan.steps[0].role = RoleRef::Arn(role);
    }
    let plan = plan;
    let ctx = Context {
        audience: plan.audience.as_deref(),
        net: &plan.net,
    };
    let assume = || fresh(&plan, &sts, &ctx);
    let out = runtime.block_on(assume())?;
    if let Finish::Serve { .. } = &plan.finish {
        // Said here, in the step's own log, where the user reads it.
        warn_refresh_limit(
            "the job-wide server",
            runtime.block_on(plan.source.refresh_limit(&ctx)),
        );
        drop(runtime);
        let served = serve::start(&out, env)?;
        let mut out = out;
        out.endpoint = Some(served);
        return deliver(plan, out);
    }
    if let Finish::Refresh { command, window } = &plan.finish {
        return runtime.block_on(async {
            warn_refresh_limit("--refresh", plan.source.refresh_limit(&ctx).await);
            endpoint::run(command, out, *window, assume).await
        });
    }
    // The connection pool and its tasks go before files are written and the
    // command runs: vault-ci is one thread from here on.
    drop(runtime);
    deliver(plan, out)
}

/// `--trust-policy`: a policy that admits more than it should is said so
/// before it is used, whatever STS answers.
fn warn_about(policy: &serde_json::Value) {
    let Ok(findings) = crate::trust::check::check(policy) else {
        return;
    };
    for finding in findings.iter().filter(|f| f.class.fails()) {
        warn!("--trust-policy {finding}");
        for line in finding.fix.to_string().lines() {
            warn!("{line}");
        }
    }
}

/// Blanks the keys and region earlier steps exported, for the later steps.
fn unset_current(args: &AssumeArgs, env: &Env) -> Result<()> {
    let exports = args
        .output_env_credentials
        .unwrap_or(args.aws_profile.is_none());
    let Some(path) = env.path("GITHUB_ENV").filter(|_| exports) else {
        return Ok(());
    };
    let fail = |e: std::io::Error| {
        Error::sink(format!(
            "cannot append to $GITHUB_ENV ({}): {e}",
            path.display()
        ))
    };
    let blank: String = CURRENT.iter().map(|name| format!("{name}=\n")).collect();
    let mut file = crate::files::open_append(&path).map_err(fail)?;
    std::io::Write::write_all(&mut file, blank.as_bytes()).map_err(fail)
}

/// `--use-existing-credentials`: what the SDKs would find here already works.
fn existing_credentials_work(args: &AssumeArgs, env: &Env) -> Result<bool> {
    let (target, net, region) = crate::plan::network(args, env, None)?;
    let sts = Sts {
        region: target.region,
        endpoint: target.endpoint,
        http: net.sts_http_client(),
        retry: net.retry.clone(),
        attempt_timeout: net.attempt_timeout,
    };
    let work = async {
        Ok(match crate::identity::ambient_credentials(&net).await {
            Ok(keys) => hop::caller_identity::call(&sts, &keys).await.is_ok(),
            Err(_) => false,
        })
    };
    let works = runtime()?.block_on(within_timeout(&net, work))?;
    if !works {
        Workflow::from_env(env).notice("No valid credentials exist. Running as normal.");
        return Ok(false);
    }
    // Later steps get the region asked for, as they would with new credentials.
    let exports = args
        .output_env_credentials
        .unwrap_or(args.aws_profile.is_none());
    if let (true, true, Some(region), Some(path)) =
        (args.github_env, exports, region, env.path("GITHUB_ENV"))
    {
        let lines = format!("AWS_DEFAULT_REGION={region}\nAWS_REGION={region}\n");
        let mut file = crate::files::open_append(&path)
            .map_err(|e| Error::sink(format!("cannot append to $GITHUB_ENV: {e}")))?;
        std::io::Write::write_all(&mut file, lines.as_bytes())
            .map_err(|e| Error::sink(format!("cannot append to $GITHUB_ENV: {e}")))?;
    }
    Ok(true)
}

fn deliver(plan: Plan, out: Output) -> Result<Exit> {
    let Plan {
        mut sinks, finish, ..
    } = plan;
    sink::deliver(&mut sinks, &out)?;
    match finish {
        Finish::Exec(command) => exec::run(&command, &out),
        _ => Ok(Exit::SUCCESS),
    }
}

/// The ARN of a bare role name in the account of the source's credentials.
async fn complete_role(plan: &Plan, sts: &Sts, name: &str) -> Result<crate::arn::RoleArn> {
    let ctx = Context {
        audience: None,
        net: &plan.net,
    };
    let Identity::Keys(keys) = plan.source.identity(&ctx).await? else {
        unreachable!("the plan allows role names only with credentials");
    };
    let caller = hop::caller_identity::call(sts, &keys).await?;
    format!(
        "arn:{}:iam::{}:role/{name}",
        caller.partition, caller.account
    )
    .parse()
    .map_err(crate::error::Error::usage)
}

/// The identity, then every hop: the final session as the sinks want it.
async fn chain(plan: &Plan, sts: &Sts, ctx: &Context<'_>) -> Result<Output> {
    let renew = || -> TokenFuture<'_> {
        Box::pin(async {
            let token = plan.source.token(ctx).await?;
            plan.workflow.mask(token.jwt.expose());
            Ok(token)
        })
    };
    let start = match plan.source.identity(ctx).await? {
        Identity::WebIdentity(token) => {
            // The runner hides the token in all later log output once it has seen this.
            plan.workflow.mask(token.jwt.expose());
            Start::Token {
                token: Box::new(token),
                renew: &renew,
                trust_policy: plan.trust_policy.as_ref(),
            }
        }
        Identity::Keys(keys) if plan.steps.is_empty() => return as_they_are(plan, sts, keys).await,
        Identity::Keys(keys) => Start::Keys(keys),
    };
    let session = hop::run(sts, start, &plan.steps).await?;
    let out = Output {
        account_id: crate::arn::account_of(&session.assumed_role_arn).map(str::to_string),
        assumed_role_arn: session.assumed_role_arn,
        credentials: session.credentials,
        region: plan.region.clone(),
        endpoint: None,
    };
    if let Some(account) = &out.account_id {
        check_account(&plan.allowed_accounts, account, "the credentials")?;
    }
    Ok(out)
}

/// `--no-role`: the source's own credentials, checked to work first.
async fn as_they_are(plan: &Plan, sts: &Sts, keys: Credentials) -> Result<Output> {
    let caller = hop::caller_identity::call(sts, &keys).await?;
    check_account(&plan.allowed_accounts, &caller.account, "the credentials")?;
    info!("credentials of {} (no role assumed)", caller.arn);
    if matches!(plan.source, Source::Keys(_)) && !keys.is_session() {
        plan.workflow.notice(
            "These are long-lived access keys. With OIDC the job needs none: \
             `vault-ci trust-policy` prints the role's trust policy to set up.",
        );
    }
    Ok(Output {
        account_id: Some(caller.account),
        assumed_role_arn: caller.arn,
        credentials: keys,
        region: plan.region.clone(),
        endpoint: None,
    })
}

/// `::add-mask::` for every account the chain touches, so the runner hides them
/// in everything logged after this, role ARNs included.
fn mask_accounts(plan: &Plan) {
    let mut accounts: Vec<&str> = plan
        .steps
        .iter()
        .filter_map(|step| match &step.role {
            RoleRef::Arn(arn) => Some(arn.account()),
            RoleRef::InCallerAccount(_) => None,
        })
        .collect();
    accounts.sort_unstable();
    accounts.dedup();
    for account in accounts {
        plan.workflow.mask(account);
    }
}

/// The whole chain once more, within `--timeout`: the first credentials and
/// every refresh of `--refresh` and `--serve`.
async fn fresh(plan: &Plan, sts: &Sts, ctx: &Context<'_>) -> Result<Output> {
    // Boxed: the chain's future is deep, and nested in the server's it
    // overflows rustc's layout depth on some targets.
    let out = Box::pin(within_timeout(&plan.net, chain(plan, sts, ctx))).await?;
    log_expiry(&out);
    Ok(out)
}

/// Where the CI cannot mint a new token, until when `who` can refresh:
/// [`Source::refresh_limit`]'s answer.
fn warn_refresh_limit(who: &str, limit: Option<(i64, &str)>) {
    if let Some((exp, title)) = limit {
        warn!(
            "{who} can keep the credentials fresh only until {}, when the {title} token \
             expires: {title} cannot mint a new one here",
            rfc3339(exp).unwrap_or_default()
        );
    }
}

fn log_expiry(out: &Output) {
    match out.expiration() {
        Some(at) => {
            let left = out
                .credentials
                .expiration
                .and_then(|t| t.duration_since(SystemTime::now()).ok())
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
