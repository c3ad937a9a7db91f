//! `vault-ci trust-policy`: the IAM trust policy that admits exactly one
//! repository (and branch, tag or environment) of one CI, with that CI's
//! issuer, audience and `sub` format — the part people most often get wrong.
//! Each CI's `sub` grammar lives with the CI, in `identity/<ci>.rs`.

use std::path::{Path, PathBuf};

use crate::cli::{PolicyFormat, TrustPolicyArgs};
use crate::error::{Error, Result};
use crate::exit::Exit;
use crate::trust::audit::{self, Checked};
use crate::trust::{self, Scope, Subject};

/// The largest file `--check` reads: a whole account's
/// get-account-authorization-details, a big plan.
const MAX_FILE: usize = 256 << 20;

pub fn run(args: TrustPolicyArgs) -> Result<Exit> {
    if !args.check.is_empty() {
        let options = audit::Options {
            github_sub_claims: args
                .github_sub_claims
                .as_deref()
                .map(trust::sub_claims::parse)
                .transpose()
                .map_err(|why| Error::usage(format!("--github-sub-claims: {why}")))?,
            gitlab_sub_claims: args
                .gitlab_sub_claims
                .as_deref()
                .map(trust::sub_claims::parse_gitlab)
                .transpose()
                .map_err(|why| Error::usage(format!("--gitlab-sub-claims: {why}")))?,
        };
        return check(
            &args.check,
            args.format.unwrap_or(PolicyFormat::Text),
            args.strict,
            &options,
        );
    }
    let format = args.format.unwrap_or(PolicyFormat::Json);
    if matches!(format, PolicyFormat::Text | PolicyFormat::Sarif) {
        return Err(Error::usage(format!(
            "--format {} is for --check's findings; a trust policy is json or cloudformation",
            if format == PolicyFormat::Text {
                "text"
            } else {
                "sarif"
            }
        )));
    }
    let subjects = subjects(&args)?;
    if args.account_id != "ACCOUNT_ID" && !crate::arn::AccountId::is_valid(&args.account_id) {
        return Err(Error::usage(format!(
            "--account-id `{}` must be the 12-digit AWS account id",
            args.account_id
        )));
    }
    let document = match format {
        PolicyFormat::Cloudformation => trust::cloudformation::cloudformation(
            &subjects,
            &args.partition,
            &args.account_id,
            !args.existing_oidc_provider,
        ),
        _ => trust::document(&subjects, &args.partition, &args.account_id),
    };
    println!("{}", trust::render(&document));
    if args.account_id == "ACCOUNT_ID" {
        eprintln!("vault-ci: replace ACCOUNT_ID with your account id, or pass --account-id");
    }
    Ok(Exit::SUCCESS)
}

/// One subject per statement: one per issuer the jobs' tokens may come from.
/// Refused: a name with a wildcard or a policy variable in it, and a policy
/// that `--check` would find a fault with — so what is printed admits exactly
/// what the flags name.
pub fn subjects(args: &TrustPolicyArgs) -> Result<Vec<Subject>> {
    let provider = args
        .provider
        .ok_or_else(|| Error::usage("--provider is needed to write a trust policy"))?;
    let scope = scope(args);
    names_only(&scope)?;
    let subjects = provider.system().trust_subjects(&scope)?;
    let document = trust::document(&subjects, &args.partition, &args.account_id);
    let findings = trust::check::check(&document).map_err(|why| {
        Error::usage(format!(
            "internal error: the policy written cannot be read back ({why})"
        ))
    })?;
    if let Some(finding) = findings.iter().find(|f| f.class.fails()) {
        let fix = finding
            .fix
            .command()
            .map(|command| format!(": name one, e.g. {command}"))
            .unwrap_or_default();
        return Err(Error::usage(format!(
            "these flags would write a trust policy that admits {} (trust-policy --check: {}){fix}",
            finding.admits, finding.class
        )));
    }
    Ok(subjects)
}

/// Names are names: `*` and `?` would be wildcards under `StringLike`, `$` would
/// start an IAM policy variable. (`--branch` and `--tag` take wildcards: they
/// choose among one repository's refs.)
fn names_only(scope: &Scope) -> Result<()> {
    let names = [
        ("--repo", &scope.repo),
        ("--owner-id", &scope.owner_id),
        ("--repo-id", &scope.repo_id),
        ("--project-path", &scope.project_path),
        ("--org-id", &scope.org_id),
        ("--project-id", &scope.project_id),
        ("--organization", &scope.organization),
        ("--pipeline", &scope.pipeline),
        ("--workspace", &scope.workspace),
        ("--workspace-uuid", &scope.workspace_uuid),
        ("--repo-uuid", &scope.repo_uuid),
        ("--project", &scope.project),
        ("--service-connection", &scope.service_connection),
        ("--service-connection-id", &scope.service_connection_id),
        ("--tenant-id", &scope.tenant_id),
        ("--job", &scope.job),
        ("--service-account-id", &scope.service_account_id),
        ("--environment", &scope.environment),
        ("--branch", &scope.branch),
        ("--tag", &scope.tag),
    ];
    for (flag, value) in names {
        let Some(value) = value else { continue };
        let refs = matches!(flag, "--branch" | "--tag");
        let bad = match refs {
            true => value.find('$'),
            false => value.find(['*', '?', '$']),
        };
        if let Some(at) = bad {
            let what = match &value[at..at + 1] {
                "$" => "`$` would start an IAM policy variable",
                _ => "a wildcard would admit every name that matches, present and future",
            };
            return Err(Error::usage(format!(
                "{flag} `{value}` must name one exactly: {what}; run trust-policy once per {}",
                flag.trim_start_matches("--").replace('-', " ")
            )));
        }
    }
    Ok(())
}

/// `--check FILE…`: the report on stdout, the verdict as the exit status: 1 for
/// a policy found too open or broken, 3 when all that is left is what vault-ci
/// could not judge, 2 for a file that holds no trust policy.
fn check(
    paths: &[PathBuf],
    format: PolicyFormat,
    strict: bool,
    options: &audit::Options,
) -> Result<Exit> {
    if format == PolicyFormat::Cloudformation {
        return Err(Error::usage(
            "--check reports as text, json or sarif; --format cloudformation writes a policy",
        ));
    }
    let mut checked: Vec<(String, Checked)> = Vec::new();
    let mut skipped = 0;
    for path in paths {
        if path.is_dir() {
            for file in walk(path)? {
                let name = file.display().to_string();
                match read(&file).and_then(|text| audit::file(&name, &file, &text, options)) {
                    Ok(found) => checked.push((name, found)),
                    Err(_) => skipped += 1,
                }
            }
            continue;
        }
        let name = path.display().to_string();
        let text = read(path).map_err(|e| Error::usage(format!("--check {name}: {e}")))?;
        let found = audit::file(&name, path, &text, options).map_err(|why| {
            let joint = match why.starts_with("is ") || why.starts_with("holds ") {
                true => " ",
                false => ": ",
            };
            Error::usage(format!(
                "--check {name}{joint}{why}; save a role's trust policy with e.g. aws iam \
                 get-role --role-name NAME > role.json"
            ))
        })?;
        checked.push((name, found));
    }
    // Nothing read is no all-clear: a wrong path, or a folder of other files.
    if checked.iter().all(|(_, c)| c.roles == 0) {
        let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        return Err(Error::usage(format!(
            "--check {}: no role's trust policy in it; name a policy document, a CloudFormation \
             template, a terraform show -json file or aws iam output",
            names.join(" "),
        )));
    }
    let findings: Vec<audit::Located> = checked
        .iter()
        .flat_map(|(_, c)| c.findings.iter().cloned())
        .collect();
    let code = audit::exit_code(&findings, strict);
    match format {
        PolicyFormat::Json => println!("{}", trust::render(&audit::json(&checked, code))),
        PolicyFormat::Sarif => println!("{}", trust::render(&trust::sarif::log(&findings))),
        _ => print!("{}", audit::report(&findings)),
    }
    summary(&checked, &findings, code, skipped);
    Ok(Exit(code))
}

/// One line on stderr: what was read, and the verdict.
fn summary(checked: &[(String, Checked)], findings: &[audit::Located], code: i32, skipped: usize) {
    let plural = |n: usize, word: &str| match n {
        1 => format!("1 {word}"),
        n => format!("{n} {word}s"),
    };
    let roles: usize = checked.iter().map(|(_, c)| c.roles).sum();
    let what = match checked {
        [(name, c)] if c.roles <= 1 => name.clone(),
        [(name, c)] => format!("{name}: {}", plural(c.roles, "role")),
        _ => format!(
            "{} in {}",
            plural(roles, "role"),
            plural(checked.len(), "file")
        ),
    };
    let skipped = match skipped {
        0 => String::new(),
        n => format!(" ({} held no trust policy)", plural(n, "other file")),
    };
    let failing = findings.iter().filter(|f| f.finding.class.fails()).count();
    let unjudged = findings
        .iter()
        .filter(|f| f.finding.class == trust::check::Class::NotJudged)
        .count();
    let notes = findings.len() - failing;
    let notes = match notes {
        0 => String::new(),
        n => format!(" ({} of best practice)", plural(n, "note")),
    };
    let verdict = match code {
        0 => format!("no statement admits more than the repository or project it names{notes}"),
        3 => format!(
            "{} not judged: check by hand that each admits only the jobs it is meant for{notes}",
            plural(unjudged, "statement")
        ),
        _ => format!(
            "{}: each fix above is the condition for the repository or project the statement \
             seems meant for",
            plural(failing.max(1), "finding")
        ),
    };
    eprintln!("vault-ci: {what}{skipped}: {verdict}");
}

fn read(path: &Path) -> std::result::Result<String, String> {
    crate::files::read_text(path, MAX_FILE).map_err(|e| format!("cannot read it ({e})"))
}

/// The files in a folder that may hold trust policies (JSON, YAML, CloudFormation's
/// `.template`), in order; hidden folders and dependencies' are passed over.
fn walk(folder: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut pending = vec![folder.to_path_buf()];
    while let Some(folder) = pending.pop() {
        let entries = std::fs::read_dir(&folder).map_err(|e| {
            Error::usage(format!(
                "--check {}: cannot list it ({e})",
                folder.display()
            ))
        })?;
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if path.is_dir() {
                if !name.starts_with('.') && !["node_modules", "target"].contains(&name.as_str()) {
                    pending.push(path);
                }
                continue;
            }
            let extension = path
                .extension()
                .and_then(|e| e.to_str())
                .unwrap_or_default();
            if ["json", "yaml", "yml", "template"]
                .contains(&extension.to_ascii_lowercase().as_str())
            {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
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
