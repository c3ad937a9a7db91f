//! `vault-ci assume`: the plan, the job's steps, the credentials, then the
//! destinations and what happens after them.

use tracing::warn;

use super::{runtime, within_timeout};
use crate::cli::AssumeArgs;
use crate::env::Env;
use crate::error::{Error, Result};
use crate::exit::Exit;
use crate::hop::caller_identity;
use crate::job::Job;
use crate::plan::{Existing, Finish, Plan};
use crate::server::{command, daemon};
use crate::sink::{self, Delivery, exec};
use crate::workflow::Workflow;

pub fn run(args: AssumeArgs, env: &Env) -> Result<Exit> {
    if env.has(daemon::DAEMON) {
        return serve(args, env);
    }
    // Before any line is printed: a refusal of the plan may quote a role's ARN.
    if args.mask_account_id {
        let workflow = Workflow::from_env(env);
        for account in crate::plan::named_accounts(&args, env) {
            workflow.mask_in_log(&account, args.format.is_some());
        }
    }
    // Later steps lose the old keys whatever happens after this.
    let unset;
    let env = match crate::plan::unset_current(&args, env) {
        Some(mut current) => {
            sink::deliver(&mut current.sinks, &current.blank)?;
            unset = current.env;
            &unset
        }
        None => env,
    };
    if args.use_existing_credentials && existing_credentials_work(&args, env)? {
        return Ok(Exit::SUCCESS);
    }
    let plan = Plan::new(&args, env)?;
    if let Some(policy) = &plan.trust_policy {
        // Its findings quote the policy's principals and their accounts.
        if plan.mask_accounts {
            for account in crate::plan::account_ids_in(&policy.to_string()) {
                plan.workflow.mask(&account);
            }
        }
        warn_about(policy);
    }
    let runtime = runtime()?;
    let job = runtime.block_on(Job::ready(plan))?;
    let out = runtime.block_on(job.credentials())?;
    let Job { plan, .. } = &job;
    match &plan.finish {
        Finish::Refresh { command, window } => runtime.block_on(async {
            job.warn_refresh_limit("--refresh").await;
            command::run(command, out, *window, || job.credentials()).await
        }),
        Finish::Serve { .. } => {
            // Said here, in the step's own log, where the user reads it.
            runtime.block_on(job.warn_refresh_limit("the job-wide server"));
            drop(runtime);
            let server = daemon::start(&out, env)?;
            let delivered = deliver(job, server.served.delivery(out));
            if delivered.is_err() {
                server.abandon();
            }
            delivered
        }
        Finish::Done | Finish::Exec(_) => {
            // The connection pool and its tasks go before files are written and
            // the command runs: vault-ci is one thread from here on.
            drop(runtime);
            deliver(job, Delivery::keys(out))
        }
    }
}

/// The background server of `--serve`: the plan again (the same arguments),
/// the credentials the step handed over, then serving until the job ends.
fn serve(args: AssumeArgs, env: &Env) -> Result<Exit> {
    let mut plan = Plan::new(&args, env)?;
    // Its stdout is the hand-over pipe, then nothing: no workflow command.
    plan.workflow = Workflow::silent();
    let Finish::Serve { window, limits } = plan.finish else {
        return Err(Error::usage("the background server runs only for --serve"));
    };
    let first = daemon::receive()?;
    let runtime = runtime()?;
    let job = runtime.block_on(Job::ready(plan))?;
    runtime.block_on(async {
        job.warn_refresh_limit("the job-wide server").await;
        let why = daemon::serve(first, window, || job.credentials(), limits, env).await?;
        tracing::info!("the credentials server stops: {why}");
        Ok(Exit::SUCCESS)
    })
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

/// `--use-existing-credentials`: what the SDKs would find here already works;
/// later steps then get the region asked for, as they would with new credentials.
fn existing_credentials_work(args: &AssumeArgs, env: &Env) -> Result<bool> {
    let Existing {
        sts,
        net,
        mut sinks,
        region,
    } = Existing::new(args, env)?;
    let work = async {
        Ok(match crate::identity::ambient_credentials(&net).await {
            Ok(keys) => caller_identity::call(&sts, &keys).await.is_ok(),
            // A file the SDK must not read is the user's to fix, not a lack of credentials.
            Err(e) if e.kind() == crate::error::Kind::Usage => return Err(e),
            Err(_) => false,
        })
    };
    let works = runtime()?.block_on(within_timeout(&net, work))?;
    let workflow = Workflow::from_env(env);
    if !works {
        workflow.notice("No valid credentials exist. Running as normal.");
        return Ok(false);
    }
    sink::deliver(&mut sinks, &region)?;
    workflow.notice("Pre-existing credentials are valid. No need to generate new ones.");
    Ok(true)
}

fn deliver(job: Job, delivery: Delivery) -> Result<Exit> {
    let Plan {
        mut sinks, finish, ..
    } = job.plan;
    sink::deliver(&mut sinks, &delivery)?;
    match finish {
        Finish::Exec(command) => exec::run(&command, &delivery),
        _ => Ok(Exit::SUCCESS),
    }
}
