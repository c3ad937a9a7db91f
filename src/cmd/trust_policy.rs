//! `vault-ci trust-policy`: the IAM trust policy that admits exactly one
//! repository (and branch, tag or environment) of one CI, with that CI's
//! issuer, audience and `sub` format — the part people most often get wrong.
//! Each CI's `sub` grammar lives with the CI, in `identity/<ci>.rs`.

use std::path::Path;

use crate::cli::{PolicyFormat, TrustPolicyArgs};
use crate::error::{Error, Result};
use crate::exit::Exit;
use crate::trust::check::{Class, Finding};
use crate::trust::{self, Scope, Subject};

pub fn run(args: TrustPolicyArgs) -> Result<Exit> {
    if let Some(path) = &args.check {
        return check(path);
    }
    let subjects = subjects(&args)?;
    if args.account_id != "ACCOUNT_ID" && !crate::arn::AccountId::is_valid(&args.account_id) {
        return Err(Error::usage(format!(
            "--account-id `{}` must be the 12-digit AWS account id",
            args.account_id
        )));
    }
    let document = match args.format {
        PolicyFormat::Json => trust::document(&subjects, &args.partition, &args.account_id),
        PolicyFormat::Cloudformation => trust::cloudformation::cloudformation(
            &subjects,
            &args.partition,
            &args.account_id,
            !args.existing_oidc_provider,
        ),
    };
    println!("{}", trust::render(&document));
    if args.account_id == "ACCOUNT_ID" {
        eprintln!("vault-ci: replace ACCOUNT_ID with your account id, or pass --account-id");
    }
    Ok(Exit::SUCCESS)
}

/// One subject per statement: one per issuer the jobs' tokens may come from.
pub fn subjects(args: &TrustPolicyArgs) -> Result<Vec<Subject>> {
    let provider = args
        .provider
        .ok_or_else(|| Error::usage("--provider is needed to write a trust policy"))?;
    provider.system().trust_subjects(&scope(args))
}

/// `--check FILE`: the report on stdout, the verdict as the exit status: 1 for
/// a policy found too open or broken, 3 when all that is left is what vault-ci
/// could not judge (an issuer whose `sub` grammar it does not know).
fn check(path: &Path) -> Result<Exit> {
    let policy = read_policy(path)?;
    let findings = trust::check::check(&policy)
        .map_err(|why| Error::usage(format!("--check {}: {why}", path.display())))?;
    print!("{}", trust::check::report(&findings));
    let failing: Vec<&Finding> = findings.iter().filter(|f| f.class.fails()).collect();
    let unjudged = failing
        .iter()
        .filter(|f| f.class == Class::NotJudged)
        .count();
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    if failing.is_empty() {
        eprintln!(
            "vault-ci: {}: no statement admits more than the repository or project it names",
            path.display()
        );
        return Ok(Exit::SUCCESS);
    }
    if unjudged == failing.len() {
        eprintln!(
            "vault-ci: {}: {unjudged} statement{} not judged: check by hand that each admits only \
             the jobs it is meant for",
            path.display(),
            plural(unjudged)
        );
        return Ok(Exit(3));
    }
    eprintln!(
        "vault-ci: {}: {} finding{}: each fix above is the condition for the \
         repository or project the statement seems meant for",
        path.display(),
        failing.len(),
        plural(failing.len())
    );
    Ok(Exit(1))
}

fn read_policy(path: &Path) -> Result<serde_json::Value> {
    let text = crate::files::read_text(path, crate::net::MAX_BODY)
        .map_err(|e| Error::usage(format!("--check {}: cannot read it ({e})", path.display())))?;
    serde_json::from_str(&text).map_err(|e| {
        Error::usage(format!(
            "--check {} is not JSON ({e}); save the role's trust policy, e.g. \
             aws iam get-role --role-name NAME > role.json",
            path.display()
        ))
    })
}

pub(crate) fn scope(args: &TrustPolicyArgs) -> Scope {
    Scope {
        repo: args.repo.clone(),
        owner_id: args.owner_id.clone(),
        repo_id: args.repo_id.clone(),
        project_path: args.project_path.clone(),
        org_id: args.org_id.clone(),
        project_id: args.project_id.clone(),
        organization: args.organization.clone(),
        pipeline: args.pipeline.clone(),
        workspace: args.workspace.clone(),
        workspace_uuid: args.workspace_uuid.clone(),
        repo_uuid: args.repo_uuid.clone(),
        project: args.project.clone(),
        service_connection: args.service_connection.clone(),
        service_connection_id: args.service_connection_id.clone(),
        tenant_id: args.tenant_id.clone(),
        job: args.job.clone(),
        claim_template: args.claim_template.clone(),
        service_account_id: args.service_account_id.clone(),
        branch: args.branch.clone(),
        environment: args.environment.clone(),
        tag: args.tag.clone(),
        pull_request: args.pull_request,
        audience: args.audience.clone(),
        issuer: args.issuer.clone(),
    }
}
