//! `vault-ci assume`: the plan, then identity → hops → sinks.

use std::time::SystemTime;

use tracing::{info, warn};

use super::{runtime, within_timeout};
use crate::cli::AssumeArgs;
use crate::env::Env;
use crate::error::Result;
use crate::exit::Exit;
use crate::hop::{self, RoleRef, Start, Sts};
use crate::identity::{Context, Identity, TokenFuture};
use crate::plan::{Finish, Plan};
use crate::sink::{self, Output, endpoint, exec};
use crate::time::{human_duration, rfc3339};

pub fn run(args: AssumeArgs, env: &Env) -> Result<Exit> {
    let mut plan = Plan::new(&args, env)?;
    if plan.mask_accounts {
        mask_accounts(&plan);
    }
    let sts = Sts {
        region: plan.sts.region.clone(),
        endpoint: plan.sts.endpoint.clone(),
        http: plan.net.sts_http_client(),
        retry: plan.net.retry.clone(),
        attempt_timeout: plan.net.attempt_timeout,
    };
    let runtime = runtime()?;
    if let RoleRef::InCallerAccount(name) = plan.steps[0].role.clone() {
        let role =
            runtime.block_on(within_timeout(&plan.net, complete_role(&plan, &sts, &name)))?;
        if plan.mask_accounts {
            plan.workflow.mask(role.account());
        }
        info!("--role-arn {name}: {role}, in the account of the static keys");
        plan.steps[0].role = RoleRef::Arn(role);
    }
    let plan = plan;
    let ctx = Context {
        audience: plan.audience.as_deref(),
        net: &plan.net,
    };
    let assume = || async {
        let out = within_timeout(&plan.net, chain(&plan, &sts, &ctx)).await?;
        log_expiry(&out);
        Ok(out)
    };
    let out = runtime.block_on(assume())?;
    if let Finish::Refresh { command, window } = &plan.finish {
        return runtime.block_on(async {
            if let Some((exp, title)) = plan.source.refresh_limit(&ctx).await {
                let until = rfc3339(exp).unwrap_or_default();
                warn!(
                    "--refresh can keep the credentials fresh only until {until}, when the {title} \
                     token expires: {title} cannot mint a new one here"
                );
            }
            endpoint::run(command, out, *window, assume).await
        });
    }
    // The connection pool and its tasks go before files are written and the
    // command runs: vault-ci is one thread from here on.
    drop(runtime);
    deliver(plan, out)
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

/// The ARN of a bare role name in the static keys' account.
async fn complete_role(plan: &Plan, sts: &Sts, name: &str) -> Result<crate::arn::RoleArn> {
    let crate::identity::Source::Keys(keys) = &plan.source else {
        unreachable!("the plan allows role names only with static keys");
    };
    let caller = hop::caller_identity::call(sts, keys).await?;
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
        Identity::Keys(keys) => Start::Keys(keys),
    };
    let session = hop::run(sts, start, &plan.steps).await?;
    Ok(Output {
        account_id: crate::arn::account_of(&session.assumed_role_arn).map(str::to_string),
        assumed_role_arn: session.assumed_role_arn,
        credentials: session.credentials,
        region: plan.region.clone(),
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
