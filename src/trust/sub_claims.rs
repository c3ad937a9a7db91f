//! `trust-policy --check --github-sub-claims KEYS`: a repository (or
//! organization) whose OIDC `sub` is customised (GitHub's OIDC customization
//! API, `include_claim_keys`) gets tokens whose `sub` is those claims in that
//! order, and a condition written for the default `repo:OWNER/REPO:<context>`
//! matches none of them: the role admits nothing, and the likely "fix" of
//! loosening the pattern until it matches would open it.
//!
//! `--gitlab-sub-claims KEYS` does the same for a GitLab project whose `sub`
//! is configured (`ci_id_token_sub_claim_components`): a form without `ref`
//! admits every branch or tag, one without `ref_type` a tag named like the
//! branch; each is a note.

use serde_json::Value;

use super::check::{Class, Finding, Fix};
use super::policy::{Document, Effect};
use crate::identity::{self, Ci, Pattern};

/// The claim keys from the flag: a comma-separated list, or `@FILE` holding the
/// customization API's answer (`{"use_default": …, "include_claim_keys": […]}`).
pub fn parse(flag: &str) -> Result<Vec<String>, String> {
    let Some(path) = flag.strip_prefix('@') else {
        return keys(flag.split(',').map(|k| k.trim().to_string()).collect());
    };
    let text = crate::files::read_text(std::path::Path::new(path), crate::net::MAX_BODY)
        .map_err(|e| format!("cannot read {path} ({e})"))?;
    let answer: Value =
        serde_json::from_str(&text).map_err(|e| format!("{path} is not JSON ({e})"))?;
    if answer["use_default"] == true {
        return Ok(vec!["repo".into(), "context".into()]);
    }
    match &answer["include_claim_keys"] {
        Value::Array(all) => keys(
            all.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect(),
        ),
        _ => Err(format!(
            "{path} has no include_claim_keys: save it with gh api repos/OWNER/REPO/actions/oidc/customization/sub"
        )),
    }
}

fn keys(keys: Vec<String>) -> Result<Vec<String>, String> {
    match keys
        .iter()
        .all(|k| !k.is_empty() && k.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
    {
        true if !keys.is_empty() => Ok(keys),
        _ => Err(format!(
            "`{}` is no list of claim keys (repo,context,job_workflow_ref)",
            keys.join(",")
        )),
    }
}

/// Each `sub` value an Allow statement of the document tests for `ci`'s tokens
/// (not negated): the statement, the condition's place and key, the value.
fn subs(document: &Value, ci: Ci) -> Vec<(String, String, String, String, bool)> {
    let Ok(document) = Document::parse(document) else {
        return Vec::new();
    };
    let mut subs = Vec::new();
    for statement in &document.statements {
        if statement.effect != Some(Effect::Allow) {
            continue;
        }
        for condition in &statement.conditions {
            let Some((issuer, "sub" | "Sub" | "SUB")) = condition.key.rsplit_once(':') else {
                continue;
            };
            // A self-managed instance (GitLab's, Forgejo's) is known by its `sub` grammar.
            let values: Vec<&str> = condition.values.iter().map(String::as_str).collect();
            let of_ci = identity::issuer(issuer, &values).is_some_and(|known| known.ci == ci);
            let operator = &condition.operator;
            let Some(like) = operator.string() else {
                continue;
            };
            if !of_ci || operator.negated {
                continue;
            }
            for value in &condition.values {
                subs.push((
                    statement.label.clone(),
                    condition.at.clone(),
                    condition.key.clone(),
                    value.clone(),
                    like,
                ));
            }
        }
    }
    subs
}

/// A finding for each GitHub `sub` value of the document that no token with
/// this `sub` template can have.
pub fn check(document: &Value, keys: &[String]) -> Vec<Finding> {
    let mut findings = Vec::new();
    for (statement, at, key, value, like) in subs(document, Ci::Github) {
        let pattern = Pattern::of(&value, like);
        let Err(form) = identity::github::fits_sub_claims(pattern, keys) else {
            if let Some(note) = unpinned_workflow(pattern, keys, &key) {
                findings.push(Finding {
                    statement,
                    at,
                    value: Some(value.clone()),
                    ..note
                });
            }
            continue;
        };
        findings.push(Finding {
            statement,
            at,
            key,
            value: Some(value.clone()),
            admits: format!(
                "no token of a repository whose `sub` is customised to {} \
                 (--github-sub-claims): each reads {form}",
                keys.join(", ")
            ),
            class: Class::AdmitsNothing,
            fix: Fix::default(),
        });
    }
    findings
}

/// The components from `--gitlab-sub-claims`: a comma-separated list, or
/// `@FILE` holding the projects API's answer for the project (its
/// `ci_id_token_sub_claim_components`).
pub fn parse_gitlab(flag: &str) -> Result<Vec<String>, String> {
    let keys: Vec<String> = match flag.strip_prefix('@') {
        None => flag.split(',').map(|k| k.trim().to_string()).collect(),
        Some(path) => {
            let text = crate::files::read_text(std::path::Path::new(path), crate::net::MAX_BODY)
                .map_err(|e| format!("cannot read {path} ({e})"))?;
            let answer: Value =
                serde_json::from_str(&text).map_err(|e| format!("{path} is not JSON ({e})"))?;
            match &answer["ci_id_token_sub_claim_components"] {
                Value::Array(all) => all
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect(),
                _ => {
                    return Err(format!(
                        "{path} has no ci_id_token_sub_claim_components: save it with \
                         glab api projects/GROUP%2FPROJECT"
                    ));
                }
            }
        }
    };
    let supported = identity::gitlab::SUB_CLAIMS;
    match supported.iter().any(|form| *form == keys) {
        true => Ok(keys),
        false => Err(format!(
            "`{}` is not a sub GitLab can be configured to ({})",
            keys.join(","),
            supported.map(|form| form.join(",")).join(", ")
        )),
    }
}

/// For each GitLab `sub` value of the document: admits nothing (no token of a
/// project whose `sub` is configured to `keys` can have it), or, where it fits,
/// a note when the configured `sub` leaves out the ref or its type.
pub fn check_gitlab(document: &Value, keys: &[String]) -> Vec<Finding> {
    let has = |key: &str| keys.iter().any(|k| k == key);
    let flag = keys.join(",");
    let mut findings = Vec::new();
    for (statement, at, key, value, like) in subs(document, Ci::Gitlab) {
        let pattern = Pattern::of(&value, like);
        let (admits, class, fix) = match identity::gitlab::fits_sub_claims(pattern, keys) {
            Err(form) => (
                format!(
                    "no token of a project whose `sub` is configured to {} \
                     (--gitlab-sub-claims): each reads {form}",
                    keys.join(", ")
                ),
                Class::AdmitsNothing,
                Fix::default(),
            ),
            Ok(()) if !has("ref") => (
                format!(
                    "any branch (or tag) gets the role: the project's `sub` names no ref \
                     (--gitlab-sub-claims {flag}); a role that deploys keeps ref in \
                     ci_id_token_sub_claim_components and names its branch"
                ),
                Class::Advice,
                branch_fix(&key),
            ),
            Ok(()) if !has("ref_type") => (
                format!(
                    "a tag named like the branch gets the role too: the project's `sub` names the \
                     ref but not its type (--gitlab-sub-claims {flag}); keep ref_type in \
                     ci_id_token_sub_claim_components, or protect tags of that name as well"
                ),
                Class::Advice,
                branch_fix(&key),
            ),
            Ok(()) => continue,
        };
        findings.push(Finding {
            statement,
            at,
            key,
            value: Some(value.clone()),
            admits,
            class,
            fix,
        });
    }
    findings
}

/// GitLab's default `sub`, naming a branch.
fn branch_fix(key: &str) -> Fix {
    Fix {
        args: None,
        condition: Some(serde_json::json!({
            "StringEquals": { key: "project_path:GROUP/PROJECT:ref_type:branch:ref:BRANCH" }
        })),
    }
}

/// A `sub` whose template has `job_workflow_ref` but whose pattern leaves it
/// to a wildcard: any workflow of the repository (a new one in a pull request's
/// branch, if the ref is not pinned) gets the role. A role that deploys pins it.
fn unpinned_workflow(pattern: Pattern<'_>, keys: &[String], key: &str) -> Option<Finding> {
    if !keys.iter().any(|k| k == "job_workflow_ref") || pattern.literal {
        return None;
    }
    let pinned = pattern
        .prefix
        .split_once("job_workflow_ref:")
        .is_some_and(|(_, rest)| rest.contains('@'));
    if pinned {
        return None;
    }
    let example: Vec<String> = keys
        .iter()
        .map(|k| match k.as_str() {
            "repo" => "repo:OWNER/REPO".to_string(),
            "context" => "environment:ENVIRONMENT".to_string(),
            "job_workflow_ref" => {
                "job_workflow_ref:OWNER/REPO/.github/workflows/WORKFLOW.yml@refs/heads/main"
                    .to_string()
            }
            other => format!("{other}:{}", other.to_uppercase()),
        })
        .collect();
    Some(Finding {
        statement: String::new(),
        at: String::new(),
        key: key.to_string(),
        value: None,
        admits: "leaves job_workflow_ref to a wildcard: any workflow of the repository gets the \
                 role, a new one on any branch too; a role that deploys pins the workflow and its ref"
            .into(),
        class: Class::Advice,
        fix: Fix {
            args: None,
            condition: Some(serde_json::json!({ "StringEquals": { key: example.join(":") } })),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn gitlab_policy(sub: &str) -> Value {
        json!({ "Statement": [{
            "Effect": "Allow",
            "Principal": { "Federated": "arn:aws:iam::123456789012:oidc-provider/gitlab.com" },
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {
                "StringEquals": { "gitlab.com:aud": "sts.amazonaws.com" },
                "StringLike": { "gitlab.com:sub": sub },
            },
        }]})
    }

    fn said(findings: &[Finding]) -> Vec<String> {
        findings.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn a_gitlab_sub_configured_without_a_component_is_read_as_gitlab_writes_it() {
        let default = parse_gitlab("project_path,ref_type,ref").unwrap();
        let short = parse_gitlab("project_path,ref").unwrap();
        let untyped = parse_gitlab(" project_path , ref_type ").unwrap();
        let reordered = parse_gitlab("project_path,ref,ref_type").unwrap();
        let main = "project_path:acme/app:ref_type:branch:ref:main";
        // The default form fits the default configuration: nothing to say.
        for sub in [
            main,
            "project_path:acme/app:*",
            "project_path:acme/app:ref_type:branch:ref:*",
            "project_path:acme/app:ref_t*",
        ] {
            assert_eq!(
                said(&check_gitlab(&gitlab_policy(sub), &default)),
                Vec::<String>::new(),
                "{sub}"
            );
        }
        // …and no token of a project configured otherwise.
        assert_eq!(
            said(&check_gitlab(&gitlab_policy(main), &short)),
            [
                "broken: statement 1: gitlab.com:sub \"project_path:acme/app:ref_type:branch:ref:main\" admits \
              no token of a project whose `sub` is configured to project_path, ref (--gitlab-sub-claims): \
              each reads project_path:GROUP/PROJECT:ref:REF"
            ]
        );
        assert_eq!(
            check_gitlab(&gitlab_policy(main), &reordered)[0].class,
            Class::AdmitsNothing
        );
        assert_eq!(
            check_gitlab(
                &gitlab_policy("project_path:acme/app:ref:main:ref_type:branch"),
                &reordered
            ),
            []
        );
        for (sub, keys) in [
            ("project_path:acme/app:ref_type:tag", &default),
            ("project_path:acme/app:ref_type:branch:ref:main:x", &default),
            ("project_path:acme/app:ref_type:branches:*", &default),
            ("project_path:acme/app:ref:main", &untyped),
            ("repo:acme/app:*", &short),
        ] {
            assert_eq!(
                check_gitlab(&gitlab_policy(sub), keys)[0].class,
                Class::AdmitsNothing,
                "{sub} {keys:?}"
            );
        }
        // A sub without the ref admits every branch; one without its type, a tag named like the branch.
        assert_eq!(
            said(&check_gitlab(
                &gitlab_policy("project_path:acme/app:ref_type:branch"),
                &untyped
            )),
            [
                "note: statement 1: gitlab.com:sub \"project_path:acme/app:ref_type:branch\": any branch (or tag) \
                 gets the role: the project's `sub` names no ref (--gitlab-sub-claims project_path,ref_type); a role \
                 that deploys keeps ref in ci_id_token_sub_claim_components and names its branch"
            ]
        );
        let tagged = check_gitlab(&gitlab_policy("project_path:acme/app:ref:main"), &short);
        assert_eq!(
            said(&tagged),
            [
                "note: statement 1: gitlab.com:sub \"project_path:acme/app:ref:main\": a tag named like the branch \
                 gets the role too: the project's `sub` names the ref but not its type (--gitlab-sub-claims \
                 project_path,ref); keep ref_type in ci_id_token_sub_claim_components, or protect tags of that name as well"
            ]
        );
        assert_eq!(
            tagged[0].fix.condition,
            Some(
                json!({ "StringEquals": { "gitlab.com:sub": "project_path:GROUP/PROJECT:ref_type:branch:ref:BRANCH" } })
            )
        );
        // GitHub's conditions are not GitLab's, nor a Deny's or a negated test's.
        let github = json!({ "Statement": [{
            "Effect": "Allow",
            "Principal": { "Federated": "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com" },
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": { "StringLike": { "token.actions.githubusercontent.com:sub": "repo:acme/app:*" } },
        }]});
        assert_eq!(check_gitlab(&github, &short), []);
        let mut deny = gitlab_policy(main);
        deny["Statement"][0]["Effect"] = json!("Deny");
        assert_eq!(check_gitlab(&deny, &short), []);
        let negated = json!({ "Statement": [{
            "Effect": "Allow",
            "Principal": { "Federated": "arn:aws:iam::123456789012:oidc-provider/gitlab.com" },
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": { "StringNotLike": { "gitlab.com:sub": main } },
        }]});
        assert_eq!(check_gitlab(&negated, &short), []);
    }

    #[test]
    fn gitlabs_sub_components_come_from_the_flag_or_the_projects_api() {
        assert_eq!(
            parse_gitlab("ref,project_path").unwrap_err(),
            "`ref,project_path` is not a sub GitLab can be configured to (project_path,ref_type,ref, \
             project_path,ref,ref_type, project_path,ref, project_path,ref_type)"
        );
        let dir = tempfile::tempdir().unwrap();
        let answer = dir.path().join("project.json");
        std::fs::write(
            &answer,
            r#"{"id": 7, "ci_id_token_sub_claim_components": ["project_path", "ref"]}"#,
        )
        .unwrap();
        assert_eq!(
            parse_gitlab(&format!("@{}", answer.display())).unwrap(),
            ["project_path", "ref"]
        );
        std::fs::write(&answer, r#"{"id": 7}"#).unwrap();
        assert_eq!(
            parse_gitlab(&format!("@{}", answer.display())).unwrap_err(),
            format!(
                "{} has no ci_id_token_sub_claim_components: save it with glab api projects/GROUP%2FPROJECT",
                answer.display()
            )
        );
    }

    #[test]
    fn a_default_sub_pattern_matches_no_token_of_a_customised_repository() {
        let keys = parse("repo,context,job_workflow_ref").unwrap();
        let policy = |sub: &str| {
            json!({ "Statement": [{
                "Effect": "Allow",
                "Principal": { "Federated": "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com" },
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": { "StringLike": { "token.actions.githubusercontent.com:sub": sub } },
            }]})
        };
        let broken = check(&policy("repo:acme/app:ref:refs/heads/main"), &keys);
        assert_eq!(broken.len(), 1);
        assert_eq!(
            broken[0].to_string(),
            "broken: statement 1: token.actions.githubusercontent.com:sub \"repo:acme/app:ref:refs/heads/main\" \
             admits no token of a repository whose `sub` is customised to repo, context, job_workflow_ref \
             (--github-sub-claims): each reads repo:…:<ref:REF|environment:NAME|pull_request>:job_workflow_ref:…"
        );
        let pinned = "repo:acme/app:environment:prod:job_workflow_ref:acme/ci/.github/workflows/deploy.yml@refs/heads/main";
        assert_eq!(check(&policy(pinned), &keys), []);
        // These fit, but leave the workflow to a wildcard: a note each.
        for open in [
            "repo:acme/app:*",
            "repo:acme/app:pull_request:job_workflow_ref:*",
            "repo:acme/app:ref:refs/heads/main:job_*",
        ] {
            let notes: Vec<Class> = check(&policy(open), &keys)
                .iter()
                .map(|f| f.class)
                .collect();
            assert_eq!(notes, [Class::Advice], "{open}");
        }
        // The default template: `repo:OWNER/REPO` alone is no token's `sub`.
        let default = parse("repo,context").unwrap();
        assert_eq!(check(&policy("repo:acme/app"), &default).len(), 1);
        assert_eq!(
            check(&policy("repo:acme/app:ref:refs/heads/main"), &default),
            []
        );
        assert!(parse("repo,,context").is_err());
        assert!(parse("Repo").is_err());
    }

    /// The `@FILE` a user saves with `gh api repos/OWNER/REPO/actions/oidc/customization/sub`.
    fn saved(answer: &str) -> Result<Vec<String>, String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub.json");
        std::fs::write(&path, answer).unwrap();
        parse(&format!("@{}", path.display()))
            .map_err(|e| e.replace(&path.display().to_string(), "FILE"))
    }

    #[test]
    fn the_flag_is_a_list_of_claim_keys_or_the_customization_apis_answer() {
        assert_eq!(
            parse("repo, context ,job_workflow_ref").unwrap(),
            ["repo", "context", "job_workflow_ref"]
        );
        assert_eq!(
            saved(
                r#"{"use_default": false, "include_claim_keys": ["repository_owner", "context"]}"#
            ),
            Ok(vec!["repository_owner".into(), "context".into()])
        );
        // A repository that uses GitHub's default template.
        assert_eq!(
            saved(r#"{"use_default": true}"#),
            Ok(vec!["repo".into(), "context".into()])
        );
        assert_eq!(
            saved(r#"{"use_default": false}"#),
            Err("FILE has no include_claim_keys: save it with gh api \
                 repos/OWNER/REPO/actions/oidc/customization/sub"
                .into())
        );
        assert_eq!(
            saved(r#"{"use_default": false, "include_claim_keys": []}"#),
            Err("`` is no list of claim keys (repo,context,job_workflow_ref)".into())
        );
        assert!(
            saved("use_default")
                .unwrap_err()
                .starts_with("FILE is not JSON (")
        );
        assert_eq!(
            parse("repo,Context"),
            Err("`repo,Context` is no list of claim keys (repo,context,job_workflow_ref)".into())
        );
        assert!(parse("repo,job-workflow").is_err());
        assert!(parse("").is_err());
        assert!(
            parse("@/nonexistent/sub.json")
                .unwrap_err()
                .starts_with("cannot read /nonexistent/sub.json (")
        );
    }

    #[test]
    fn only_what_admits_githubs_tokens_is_held_to_the_template() {
        let keys = parse("repository_owner,context").unwrap();
        let statement = |effect: &str, issuer: &str, operator: &str| {
            json!({ "Sid": "CI", "Effect": effect,
                "Principal": { "Federated": format!("arn:aws:iam::123456789012:oidc-provider/{issuer}") },
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": { operator: { format!("{issuer}:sub"): "repo:acme/app:*" } },
            })
        };
        let github = "token.actions.githubusercontent.com";
        let findings = check(
            &json!({ "Statement": [statement("Deny", github, "StringNotLike"), statement("Allow", github, "StringLike")] }),
            &keys,
        );
        assert_eq!(
            findings,
            [Finding {
                statement: "statement 2 (CI)".into(),
                at: "/Statement/1/Condition/StringLike/token.actions.githubusercontent.com:sub".into(),
                key: "token.actions.githubusercontent.com:sub".into(),
                value: Some("repo:acme/app:*".into()),
                admits: "no token of a repository whose `sub` is customised to repository_owner, context \
                         (--github-sub-claims): each reads \
                         repository_owner:…:<ref:REF|environment:NAME|pull_request>"
                    .into(),
                class: Class::AdmitsNothing,
                fix: Fix::default(),
            }]
        );
        // Another CI's `sub`, a test that excludes, or a key that is no `sub`: not its business.
        for (issuer, operator) in [
            ("gitlab.com", "StringLike"),
            (github, "StringNotLike"),
            (github, "ForAnyValue:StringNotEquals"),
            (github, "Null"),
        ] {
            let policy = json!({ "Statement": [statement("Allow", issuer, operator)] });
            assert_eq!(check(&policy, &keys), [], "{issuer} {operator}");
        }
        let policy = json!({ "Statement": [{ "Effect": "Allow", "Principal": "*",
            "Condition": { "StringLike": { "token.actions.githubusercontent.com:subject": "x" } } }] });
        assert_eq!(check(&policy, &keys), []);
        assert_eq!(check(&json!({ "Statement": 1 }), &keys), []);
    }

    #[test]
    fn a_template_with_the_workflow_gets_a_note_where_a_wildcard_leaves_it_open() {
        let keys = parse("repo,context,job_workflow_ref,runner_environment").unwrap();
        let policy = json!({ "Statement": [{
            "Effect": "Allow",
            "Principal": { "Federated": "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com" },
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": { "StringLike": { "token.actions.githubusercontent.com:Sub": [
                "repo:acme/app:environment:prod:job_workflow_ref:acme/ci/.github/workflows/d.yml@*",
                "repo:acme/app:environment:prod:*",
            ] } },
        }]});
        assert_eq!(
            check(&policy, &keys),
            [Finding {
                statement: "statement 1".into(),
                at: "/Statement/0/Condition/StringLike/token.actions.githubusercontent.com:Sub".into(),
                key: "token.actions.githubusercontent.com:Sub".into(),
                value: Some("repo:acme/app:environment:prod:*".into()),
                admits: "leaves job_workflow_ref to a wildcard: any workflow of the repository gets \
                         the role, a new one on any branch too; a role that deploys pins the workflow \
                         and its ref"
                    .into(),
                class: Class::Advice,
                fix: Fix {
                    args: None,
                    condition: Some(json!({ "StringEquals": { "token.actions.githubusercontent.com:Sub":
                        "repo:OWNER/REPO:environment:ENVIRONMENT:job_workflow_ref:\
                         OWNER/REPO/.github/workflows/WORKFLOW.yml@refs/heads/main:\
                         runner_environment:RUNNER_ENVIRONMENT" } })),
                },
            }]
        );
        // Without the workflow in the template, or with a literal `sub`, there is nothing to pin.
        let one = |operator: &str, sub: &str| {
            let mut policy = policy.clone();
            policy["Statement"][0]["Condition"] =
                json!({ operator: { "token.actions.githubusercontent.com:sub": sub } });
            policy
        };
        let unpinned = one("StringLike", "repo:acme/app:environment:prod:*");
        assert_eq!(
            check(
                &unpinned,
                &parse("repo,context,runner_environment").unwrap()
            ),
            []
        );
        let literal = one(
            "StringEquals",
            "repo:acme/app:environment:prod:job_workflow_ref:acme/ci/.github/workflows/d.yml@refs/heads/main:runner_environment:github-hosted",
        );
        assert_eq!(check(&literal, &keys), []);
    }
}
