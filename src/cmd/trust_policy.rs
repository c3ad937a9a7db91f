//! `vault-ci trust-policy`: the IAM trust policy that admits exactly one
//! repository (and branch, tag or environment) of one CI, with that CI's
//! issuer, audience and `sub` format — the part people most often get wrong.
//! Each CI's `sub` grammar lives with the CI, in `identity/<ci>.rs`.

use crate::cli::TrustPolicyArgs;
use crate::error::{Error, Result};
use crate::exit::Exit;
use crate::trust::{self, Scope, Subject};

pub fn run(args: TrustPolicyArgs) -> Result<Exit> {
    let subject = subject(&args)?;
    if args.account_id != "ACCOUNT_ID"
        && (args.account_id.len() != 12 || !args.account_id.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(Error::usage(format!(
            "--account-id `{}` must be the 12-digit AWS account id",
            args.account_id
        )));
    }
    let document = subject.document(&args.partition, &args.account_id);
    println!("{}", trust::render(&document));
    if args.account_id == "ACCOUNT_ID" {
        eprintln!("vault-ci: replace ACCOUNT_ID with your account id, or pass --account-id");
    }
    Ok(Exit::SUCCESS)
}

pub fn subject(args: &TrustPolicyArgs) -> Result<Subject> {
    args.provider.trust_subject(&scope(args))
}

fn scope(args: &TrustPolicyArgs) -> Scope {
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
        branch: args.branch.clone(),
        environment: args.environment.clone(),
        tag: args.tag.clone(),
        pull_request: args.pull_request,
        audience: args.audience.clone(),
        issuer: args.issuer.clone(),
    }
}
