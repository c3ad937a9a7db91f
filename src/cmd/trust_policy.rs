//! `vault-ci trust-policy`: the IAM trust policy that admits exactly one
//! repository (and branch, tag or environment) of one CI, with that CI's
//! issuer, audience and `sub` format — the part people most often get wrong.

use std::process::ExitCode;

use crate::cli::{CiChoice, TrustPolicyArgs};
use crate::error::{Error, Result};
use crate::identity::DEFAULT_AUDIENCE;
use crate::trust::{self, Subject};

pub fn run(args: TrustPolicyArgs) -> Result<ExitCode> {
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
    Ok(ExitCode::SUCCESS)
}

fn required<'a>(value: &'a Option<String>, option: &str, provider: &str) -> Result<&'a str> {
    value
        .as_deref()
        .filter(|v| !v.is_empty())
        .ok_or_else(|| Error::usage(format!("--provider {provider} needs {option}")))
}

fn unsupported(args: &TrustPolicyArgs, provider: &str, allowed: &[&str]) -> Result<()> {
    let given = [
        ("--branch", args.branch.is_some()),
        ("--environment", args.environment.is_some()),
        ("--tag", args.tag.is_some()),
        ("--pull-request", args.pull_request),
    ];
    for (option, present) in given {
        if present && !allowed.contains(&option) {
            return Err(Error::usage(format!(
                "{option} cannot be expressed in {provider}'s `sub` claim; it supports {}",
                if allowed.is_empty() {
                    "none of --branch/--tag/--environment".to_string()
                } else {
                    allowed.join(", ")
                }
            )));
        }
    }
    Ok(())
}

/// The issuer as IAM names the provider: host and path, no scheme.
fn issuer(args: &TrustPolicyArgs, default: &str) -> String {
    let raw = args.issuer.as_deref().unwrap_or(default);
    raw.trim_start_matches("https://")
        .trim_end_matches('/')
        .to_string()
}

pub fn subject(args: &TrustPolicyArgs) -> Result<Subject> {
    let audience = |default: &str| args.audience.clone().unwrap_or_else(|| default.to_string());
    match args.provider {
        CiChoice::Github => {
            unsupported(
                args,
                "GitHub",
                &["--branch", "--environment", "--tag", "--pull-request"],
            )?;
            let repo = required(&args.repo, "--repo OWNER/REPO", "github")?;
            let Some((owner, name)) = repo.split_once('/') else {
                return Err(Error::usage(format!("--repo `{repo}` must be OWNER/REPO")));
            };
            let repo = match (&args.owner_id, &args.repo_id) {
                (Some(owner_id), Some(repo_id)) => format!("{owner}@{owner_id}/{name}@{repo_id}"),
                _ => repo.to_string(),
            };
            let context = if let Some(branch) = &args.branch {
                format!("ref:refs/heads/{branch}")
            } else if let Some(tag) = &args.tag {
                format!("ref:refs/tags/{tag}")
            } else if let Some(environment) = &args.environment {
                format!("environment:{environment}")
            } else if args.pull_request {
                "pull_request".to_string()
            } else {
                "*".to_string()
            };
            Ok(Subject {
                issuer: issuer(args, "token.actions.githubusercontent.com"),
                audience: audience(DEFAULT_AUDIENCE),
                subject: format!("repo:{repo}:{context}"),
            })
        }
        CiChoice::Circleci => {
            unsupported(args, "CircleCI", &["--branch", "--tag"])?;
            let org = required(&args.org_id, "--org-id UUID", "circleci")?;
            let project = args.project_id.as_deref().unwrap_or("*");
            // CIRCLE_OIDC_TOKEN_V2's sub ends with the VCS origin and ref.
            let tail = match (&args.branch, &args.tag) {
                (Some(branch), _) => format!("/user/*/vcs-origin/*/vcs-ref/refs/heads/{branch}"),
                (_, Some(tag)) => format!("/user/*/vcs-origin/*/vcs-ref/refs/tags/{tag}"),
                _ => "/user/*".to_string(),
            };
            Ok(Subject {
                issuer: issuer(args, &format!("oidc.circleci.com/org/{org}")),
                audience: audience(org),
                subject: format!("org/{org}/project/{project}{tail}"),
            })
        }
        CiChoice::Gitlab => {
            unsupported(args, "GitLab", &["--branch", "--tag"])?;
            let path = required(&args.project_path, "--project-path GROUP/PROJECT", "gitlab")?;
            let context = match (&args.branch, &args.tag) {
                (Some(branch), _) => format!("ref_type:branch:ref:{branch}"),
                (_, Some(tag)) => format!("ref_type:tag:ref:{tag}"),
                _ => "*".to_string(),
            };
            Ok(Subject {
                issuer: issuer(args, "gitlab.com"),
                audience: audience(DEFAULT_AUDIENCE),
                subject: format!("project_path:{path}:{context}"),
            })
        }
        CiChoice::Buildkite => {
            unsupported(args, "Buildkite", &["--branch", "--tag"])?;
            let org = required(&args.organization, "--organization SLUG", "buildkite")?;
            let pipeline = args.pipeline.as_deref().unwrap_or("*");
            let reference = match (&args.branch, &args.tag) {
                (Some(branch), _) => format!("refs/heads/{branch}"),
                (_, Some(tag)) => format!("refs/tags/{tag}"),
                _ => "*".to_string(),
            };
            Ok(Subject {
                issuer: issuer(args, "agent.buildkite.com"),
                audience: audience(DEFAULT_AUDIENCE),
                subject: format!(
                    "organization:{org}:pipeline:{pipeline}:ref:{reference}:commit:*:step:*"
                ),
            })
        }
        CiChoice::Bitbucket => {
            unsupported(args, "Bitbucket", &["--environment"])?;
            let workspace = required(&args.workspace, "--workspace NAME", "bitbucket")?;
            let workspace_uuid =
                required(&args.workspace_uuid, "--workspace-uuid UUID", "bitbucket")?;
            let braced = |uuid: &str| format!("{{{}}}", uuid.trim_matches(['{', '}']));
            let repo = args
                .repo_uuid
                .as_deref()
                .map(braced)
                .unwrap_or_else(|| "*".into());
            let subject = match &args.environment {
                Some(environment) => format!("{repo}:{}:*", braced(environment)),
                None => format!("{repo}:*"),
            };
            Ok(Subject {
                issuer: issuer(
                    args,
                    &format!(
                        "api.bitbucket.org/2.0/workspaces/{workspace}/pipelines-config/identity/oidc"
                    ),
                ),
                audience: audience(&format!(
                    "ari:cloud:bitbucket::workspace/{}",
                    workspace_uuid.trim_matches(['{', '}'])
                )),
                subject,
            })
        }
    }
}
