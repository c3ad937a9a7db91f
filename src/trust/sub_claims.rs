//! `trust-policy --check --github-sub-claims KEYS`: a repository (or
//! organization) whose OIDC `sub` is customised (GitHub's OIDC customization
//! API, `include_claim_keys`) gets tokens whose `sub` is those claims in that
//! order, and a condition written for the default `repo:OWNER/REPO:<context>`
//! matches none of them: the role admits nothing, and the likely "fix" of
//! loosening the pattern until it matches would open it.

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

/// A finding for each GitHub `sub` value of the document that no token with
/// this `sub` template can have.
pub fn check(document: &Value, keys: &[String]) -> Vec<Finding> {
    let Ok(document) = Document::parse(document) else {
        return Vec::new();
    };
    let mut findings = Vec::new();
    for statement in &document.statements {
        if statement.effect != Some(Effect::Allow) {
            continue;
        }
        for condition in &statement.conditions {
            let Some((issuer, "sub" | "Sub" | "SUB")) = condition.key.rsplit_once(':') else {
                continue;
            };
            let github = identity::issuer(issuer, &[]).is_some_and(|known| known.ci == Ci::Github);
            let operator = &condition.operator;
            let Some(like) = operator.string() else {
                continue;
            };
            if !github || operator.negated {
                continue;
            }
            for value in &condition.values {
                let pattern = Pattern::of(value, like);
                let Err(form) = identity::github::fits_sub_claims(pattern, keys) else {
                    if let Some(note) = unpinned_workflow(pattern, keys, &condition.key) {
                        findings.push(Finding {
                            statement: statement.label.clone(),
                            at: condition.at.clone(),
                            value: Some(value.clone()),
                            ..note
                        });
                    }
                    continue;
                };
                findings.push(Finding {
                    statement: statement.label.clone(),
                    at: condition.at.clone(),
                    key: condition.key.clone(),
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
        }
    }
    findings
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
