//! `trust-policy --check` over files: each file read for the roles it holds
//! ([`super::sources`]), each role's document linted ([`super::lint`]) and
//! checked ([`super::check`]), and each finding placed: the file, the line,
//! the role. Where a template leaves a value open (a stack parameter), the
//! document is checked twice — with `*` for each open value, and with its
//! name as a literal — and what only the first finds is "not judged": it
//! depends on what the stack is deployed with.

use std::path::Path;

use serde_json::Value;

use super::check::{self, Class, Finding};
use super::sources::{self, Kind, Role};

/// A finding, and where it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Located {
    pub finding: Finding,
    /// The file as it was named.
    pub file: String,
    pub line: Option<usize>,
    /// The role, when the file holds more than a bare policy document.
    pub role: Option<String>,
}

impl Located {
    /// Where, for a report's line: `file:LINE: role`.
    pub fn place(&self) -> String {
        let mut place = self.file.clone();
        if let Some(line) = self.line {
            place.push_str(&format!(":{line}"));
        }
        if let Some(role) = &self.role {
            place.push_str(&format!(": {role}"));
        }
        place
    }
}

impl std::fmt::Display for Located {
    /// `high: file:LINE: role: statement 1: … admits …`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let line = self.finding.to_string();
        let rest = line
            .strip_prefix(&format!("{}: ", self.finding.class))
            .unwrap_or(&line);
        write!(f, "{}: {}: {rest}", self.finding.class, self.place())
    }
}

/// What `--check` is told besides the files.
#[derive(Debug, Default, Clone)]
pub struct Options {
    /// `--github-sub-claims`: the claim keys GitHub's customised `sub` has.
    pub github_sub_claims: Option<Vec<String>>,
    /// `--gitlab-sub-claims`: the components GitLab's configured `sub` has.
    pub gitlab_sub_claims: Option<Vec<String>>,
}

/// One file read and checked.
#[derive(Debug)]
pub struct Checked {
    pub kind: Kind,
    pub roles: usize,
    pub findings: Vec<Located>,
}

/// The findings for one file's text; Err when it is no JSON or YAML, holds no
/// trust policy, or (a bare policy document) is not one IAM could read.
pub fn file(name: &str, path: &Path, text: &str, options: &Options) -> Result<Checked, String> {
    let tree = sources::parse(path, text)?;
    let (kind, roles) = sources::roles(&tree)?;
    let mut findings = Vec::new();
    for role in &roles {
        let found = match role_findings(role, options) {
            Ok(found) => found,
            Err(why) if matches!(kind, Kind::Policy | Kind::GetRole) => return Err(why),
            Err(why) => vec![unreadable(&why)],
        };
        findings.extend(found.into_iter().map(|finding| Located {
            line: role.line(&tree, &finding.at),
            file: name.to_string(),
            role: role.name.clone(),
            finding,
        }));
    }
    Ok(Checked {
        kind,
        roles: roles.len(),
        findings,
    })
}

fn unreadable(why: &str) -> Finding {
    Finding {
        statement: String::new(),
        at: String::new(),
        key: "AssumeRolePolicyDocument".into(),
        value: None,
        admits: why.to_string(),
        class: Class::NotJudged,
        fix: check::Fix::default(),
    }
}

/// Everything said about one role's trust policy.
pub fn role_findings(role: &Role, options: &Options) -> Result<Vec<Finding>, String> {
    if let Some(why) = &role.unknown {
        return Ok(vec![unreadable(why)]);
    }
    let mut findings = super::lint::lint(&role.document, &role.duplicates, !role.embedded);
    let policy = role.policy();
    if options.github_sub_claims.is_some() || options.gitlab_sub_claims.is_some() {
        let named = sources::fill(&policy, &|name| format!("${{{name}}}"));
        if let Some(keys) = &options.github_sub_claims {
            findings.extend(super::sub_claims::check(&named, keys));
        }
        if let Some(keys) = &options.gitlab_sub_claims {
            findings.extend(super::sub_claims::check_gitlab(&named, keys));
        }
    }
    let open = sources::open_names(&policy);
    if open.is_empty() {
        findings.extend(check::check(&policy)?);
        return Ok(findings);
    }
    let worst = check::check(&sources::fill(&policy, &|_| "*".into()))?;
    let named = check::check(&sources::fill(&policy, &|name| format!("${{{name}}}")))?;
    let same = |a: &Finding, b: &Finding| {
        a.statement == b.statement && a.key.eq_ignore_ascii_case(&b.key) && a.class == b.class
    };
    // A note on a value the file leaves open would be about its placeholder.
    let placeholders: Vec<String> = open.iter().map(|name| format!("${{{name}}}")).collect();
    for finding in &named {
        let about_open = finding
            .value
            .as_ref()
            .is_some_and(|v| placeholders.iter().any(|p| v.contains(p.as_str())));
        if !(finding.class == Class::Advice && about_open) {
            findings.push(finding.clone());
        }
    }
    // A stack deployed with the template's defaults has them: what they open is open.
    let defaulted: Vec<&(String, String)> = role
        .defaults
        .iter()
        .filter(|(name, _)| open.contains(name))
        .collect();
    let mut by_default = Vec::new();
    if !defaulted.is_empty() {
        let default = |name: &str| {
            defaulted
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, value)| value.clone())
                .unwrap_or_else(|| format!("${{{name}}}"))
        };
        let given: Vec<String> = defaulted.iter().map(|(n, v)| format!("{n}={v}")).collect();
        for finding in check::check(&sources::fill(&policy, &default))? {
            if !finding.class.fails() || named.iter().any(|n| same(n, &finding)) {
                continue;
            }
            by_default.push(Finding {
                admits: format!(
                    "{}, with the template's defaults ({})",
                    finding.admits,
                    given.join(", ")
                ),
                ..finding
            });
        }
    }
    findings.extend(by_default.iter().cloned());
    for finding in worst {
        if named.iter().any(|n| same(n, &finding))
            || by_default.iter().any(|d| {
                d.statement == finding.statement && d.key.eq_ignore_ascii_case(&finding.key)
            })
            || finding.class == Class::NotJudged
        {
            continue;
        }
        let value = finding
            .value
            .as_ref()
            .map(|v| format!(" \"{v}\""))
            .unwrap_or_default();
        findings.push(Finding {
            value: None,
            admits: format!(
                "depends on {}, which the file leaves open: given `*`, {}{value} admits {}",
                open.join(", "),
                finding.key,
                finding.admits
            ),
            class: Class::NotJudged,
            fix: check::Fix::default(),
            ..finding
        });
    }
    Ok(findings)
}

/// The verdict on all findings: 1 for any that is too open or broken, 3 when
/// all that fails is what was not judged, 0 for none; advice fails only when
/// `strict`.
pub fn exit_code(findings: &[Located], strict: bool) -> i32 {
    let fails = |f: &&Located| f.finding.class.fails() || strict;
    let failing: Vec<&Located> = findings.iter().filter(fails).collect();
    if failing.is_empty() {
        0
    } else if failing.iter().all(|f| f.finding.class == Class::NotJudged) {
        3
    } else {
        1
    }
}

/// Every finding on its line, each followed by its fix; a fix shared by
/// consecutive findings is printed once, after the last of them.
pub fn report(findings: &[Located]) -> String {
    let mut out = String::new();
    for (index, located) in findings.iter().enumerate() {
        out.push_str(&format!("{located}\n"));
        let fix = &located.finding.fix;
        if findings.get(index + 1).map(|next| &next.finding.fix) != Some(fix) {
            out.push_str(&fix.to_string());
        }
    }
    out
}

/// The JSON report (`--format json`): every finding with its place and fix.
pub fn json(checked: &[(String, Checked)], exit: i32) -> Value {
    let files: Vec<Value> = checked
        .iter()
        .map(|(name, c)| {
            serde_json::json!({ "file": name, "kind": c.kind.name(), "roles": c.roles })
        })
        .collect();
    let findings: Vec<Value> = checked
        .iter()
        .flat_map(|(_, c)| &c.findings)
        .map(|located| {
            let f = &located.finding;
            serde_json::json!({
                "rule": f.class.rule(),
                "severity": f.class.severity(),
                "file": located.file,
                "line": located.line,
                "role": located.role,
                "statement": f.statement,
                "key": f.key,
                "value": f.value,
                "admits": f.admits,
                "message": located.to_string(),
                "fix": {
                    "command": f.fix.command(),
                    "condition": f.fix.condition,
                },
            })
        })
        .collect();
    serde_json::json!({
        "files": files,
        "findings": findings,
        "exit": exit,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    /// A fixture of tests/fixtures/trust, checked as `trust-policy --check` reads it,
    /// named as the user named it.
    fn checked(dir: &str, name: &str, options: &Options) -> Checked {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/trust")
            .join(dir)
            .join(name);
        let text = std::fs::read_to_string(&path).unwrap();
        file(name, &path, &text, options).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    /// The report's finding lines, fixes left out.
    fn lines(findings: &[Located]) -> Vec<String> {
        report(findings)
            .lines()
            .filter(|line| !line.starts_with(' '))
            .map(str::to_string)
            .collect()
    }

    const IMMUTABLE_NOTE: &str = "names ministryofjustice/operations-engineering by name: if it or its owner is \
        renamed or deleted, whoever registers the name next gets the role; GitHub's immutable \
        subject pins the owner's and the repository's IDs";
    const ANY_REF_NOTE: &str = "admits every branch, tag, pull request and environment of \
        ministryofjustice/operations-engineering: a role that deploys names its environment \
        (environment:NAME, which GitHub's deployment protection rules guard) or its branch";

    /// audit/README.md's table, line by line: what `--check` says of each
    /// place a trust policy lives and each mistake the audit found, and its exit.
    #[test]
    fn each_audit_fixture_gets_its_findings_each_placed_and_its_exit_status() {
        let moj = "ministryofjustice/operations-engineering";
        let table: Vec<(&str, Kind, usize, Vec<String>, i32)> = vec![
            (
                "notprincipal-deny.json",
                Kind::Policy,
                1,
                vec!["high: notprincipal-deny.json:4: statement 1: no condition on token.actions.githubusercontent.com:sub admits any repository on GitHub".into()],
                1,
            ),
            (
                "principal-fn-sub.json",
                Kind::Policy,
                1,
                vec![r#"not judged: principal-fn-sub.json:6: statement 1: the principal {"Fn::Sub":"arn:aws:iam::${AWS::AccountId}:oidc-provider/${ProviderUrl}"}: is no IAM OIDC provider's ARN nor a built-in provider's name (an unresolved template intrinsic or parameter?), and no condition names an issuer: which tokens it admits is not known here"#.into()],
                3,
            ),
            (
                "principal-fn-sub-aud-only.json",
                Kind::Policy,
                1,
                vec!["high: principal-fn-sub-aud-only.json:4: statement 1: no condition on token.actions.githubusercontent.com:sub admits any repository on GitHub".into()],
                1,
            ),
            (
                "cognito-no-condition.json",
                Kind::Policy,
                1,
                vec!["high: cognito-no-condition.json:4: statement 1: no condition on cognito-identity.amazonaws.com:aud admits any identity of any Amazon Cognito identity pool, in any AWS account".into()],
                1,
            ),
            (
                "cognito-pool-guests.json",
                Kind::Policy,
                1,
                vec![r#"note: cognito-pool-guests.json:8: statement 1: cognito-identity.amazonaws.com:aud "us-east-1:12345678-abcd-4321-abcd-123456789012": names the identity pool but not which of its identities: its unauthenticated (guest) identities get the role too; if it is for signed-in users, add the `amr` condition"#.into()],
                0,
            ),
            (
                "amazon-no-app-id.json",
                Kind::Policy,
                1,
                vec!["high: amazon-no-app-id.json:4: statement 1: no condition on www.amazon.com:app_id admits any Login with Amazon user of any app".into()],
                1,
            ),
            (
                "facebook-app-id-wildcard.json",
                Kind::Policy,
                1,
                vec![r#"high: facebook-app-id-wildcard.json:8: statement 1: graph.facebook.com:app_id "*" admits any Facebook user of any app"#.into()],
                1,
            ),
            (
                "duplicate-sub-key.json",
                Kind::Policy,
                1,
                vec![
                    r#"broken: duplicate-sub-key.json:12: statement 1: `token.actions.githubusercontent.com:sub` is written twice in one object (lines 11 and 12): IAM reads only the last, so "repo:acme/*" is ignored; merge the two into one"#.into(),
                    r#"note: duplicate-sub-key.json:12: statement 1: token.actions.githubusercontent.com:sub "repo:acme/app:environment:prod": names acme/app by name: if it or its owner is renamed or deleted, whoever registers the name next gets the role; GitHub's immutable subject pins the owner's and the repository's IDs"#.into(),
                ],
                1,
            ),
            (
                "duplicate-operator-drops-sub.json",
                Kind::Policy,
                1,
                vec![
                    r#"broken: duplicate-operator-drops-sub.json:10: statement 1: `StringLike` is written twice in one object (lines 9 and 10): IAM reads only the last, so {"token.actions.githubusercontent.com:sub":"repo:acme/app:ref:refs/heads/main"} is ignored; merge the two into one"#.into(),
                    "high: duplicate-operator-drops-sub.json:4: statement 1: no condition on token.actions.githubusercontent.com:sub admits any repository on GitHub".into(),
                ],
                1,
            ),
            (
                "operator-typo.json",
                Kind::Policy,
                1,
                vec![
                    "broken: operator-typo.json:10: statement 1: `StringLikes` is not an IAM condition operator (`StringLike`?): IAM refuses the policy (operator names are case-sensitive), and vault-ci reads the test as narrowing nothing".into(),
                    "high: operator-typo.json:10: statement 1: no condition on token.actions.githubusercontent.com:sub admits any repository on GitHub".into(),
                ],
                1,
            ),
            (
                "other-issuer-negated.json",
                Kind::Policy,
                1,
                vec!["broken: other-issuer-negated.json:13: statement 1: gitlab.com:sub is a key of gitlab.com's tokens, but the statement trusts only token.actions.githubusercontent.com: under `StringNotLike` the test is always true, and narrows nothing".into()],
                1,
            ),
            (
                "condition-not-a-block.json",
                Kind::Policy,
                1,
                vec![
                    "broken: condition-not-a-block.json:9: statement 1: `StringEquals` is followed by no block of keys and values: it tests nothing".into(),
                    "low: condition-not-a-block.json:4: statement 1: no condition on token.actions.githubusercontent.com:aud admits tokens token.actions.githubusercontent.com issued for any audience the IAM OIDC provider lists, not only for STS".into(),
                ],
                1,
            ),
            (
                "cfn-parameters.yaml",
                Kind::CloudFormation,
                1,
                vec![r#"not judged: cfn-parameters.yaml:27: DeployRole (AWS::IAM::Role): statement 1: the condition on token.actions.githubusercontent.com:sub: depends on GitHubOrg, RepositoryName, which the file leaves open: given `*`, token.actions.githubusercontent.com:sub "repo:*/*:*" admits any repository on GitHub"#.into()],
                3,
            ),
            (
                "cfn-roles.yaml",
                Kind::CloudFormation,
                2,
                vec![r#"medium: cfn-roles.yaml:37: GitHubReadOnly (AWS::IAM::Role): statement 1: token.actions.githubusercontent.com:sub "repo:acme/*" admits every present and future repository of acme"#.into()],
                1,
            ),
            (
                "cfn-any-repository.template",
                Kind::CloudFormation,
                1,
                vec![r#"high: cfn-any-repository.template:18: CiRole (AWS::IAM::Role): statement 1: token.actions.githubusercontent.com:sub "repo:*" admits any repository on GitHub"#.into()],
                1,
            ),
            (
                "account-authorization-details.json",
                Kind::AccountDetails,
                3,
                vec!["high: account-authorization-details.json:58: role gha-legacy: statement 1: no condition on token.actions.githubusercontent.com:sub admits any repository on GitHub".into()],
                1,
            ),
            (
                "list-roles.json",
                Kind::ListRoles,
                1,
                vec![r#"medium: list-roles.json:18: role circleci-deploy: statement 1: oidc.circleci.com/org/0ca3ddd9-f0b0-4635-a98c-5866526961b6:sub "org/0ca3ddd9-f0b0-4635-a98c-5866526961b6/project/*/user/*" admits every present and future project of the CircleCI organization 0ca3ddd9-f0b0-4635-a98c-5866526961b6"#.into()],
                1,
            ),
            (
                "terraform-plan.json",
                Kind::Terraform,
                3,
                vec![
                    format!(r#"note: terraform-plan.json:99: module.github_oidc.aws_iam_role.github_actions: statement 1: token.actions.githubusercontent.com:sub "repo:{moj}:*": {IMMUTABLE_NOTE}"#),
                    format!(r#"note: terraform-plan.json:99: module.github_oidc.aws_iam_role.github_actions: statement 1: token.actions.githubusercontent.com:sub "repo:{moj}:*": {ANY_REF_NOTE}"#),
                    r#"medium: terraform-plan.json:139: aws_iam_role.github_org_readonly: statement 1: token.actions.githubusercontent.com:sub "repo:ministryofjustice/*" admits every present and future repository of ministryofjustice"#.into(),
                    "not judged: terraform-plan.json:178: aws_iam_role.terraform_cloud: statement 1: the condition on app.terraform.io:sub: vault-ci does not know the `sub` grammar of app.terraform.io".into(),
                ],
                1,
            ),
            (
                "terraform-plan-unknown.json",
                Kind::Terraform,
                1,
                vec!["not judged: terraform-plan-unknown.json:66: aws_iam_role.github_actions: its assume_role_policy is known only after apply (it is computed from another resource): check the state after apply".into()],
                3,
            ),
            (
                "terraform-state.json",
                Kind::Terraform,
                2,
                vec![
                    r#"medium: terraform-state.json:15: aws_iam_role.github_org_readonly: statement 1: token.actions.githubusercontent.com:sub "repo:ministryofjustice/*" admits every present and future repository of ministryofjustice"#.into(),
                    format!(r#"note: terraform-state.json:47: module.github_oidc.aws_iam_role.github_actions: statement 1: token.actions.githubusercontent.com:sub "repo:{moj}:*": {IMMUTABLE_NOTE}"#),
                    format!(r#"note: terraform-state.json:47: module.github_oidc.aws_iam_role.github_actions: statement 1: token.actions.githubusercontent.com:sub "repo:{moj}:*": {ANY_REF_NOTE}"#),
                ],
                1,
            ),
        ];
        let listed = std::fs::read_dir(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/trust/audit"),
        )
        .unwrap()
        .count()
            - 1;
        assert_eq!(table.len(), listed, "every audit fixture is in the table");
        for (name, kind, roles, expected, exit) in table {
            let found = checked("audit", name, &Options::default());
            assert_eq!((found.kind, found.roles), (kind, roles), "{name}");
            assert_eq!(lines(&found.findings), expected, "{name}");
            assert_eq!(exit_code(&found.findings, false), exit, "{name}");
        }
    }

    /// A template deployed with its defaults is what they make it; what the
    /// deployer must still pass is named, not guessed.
    #[test]
    fn a_templates_defaults_open_what_they_open_and_say_so() {
        let found = checked("corpus", "caws-federated-setup.yaml", &Options::default());
        assert_eq!(
            lines(&found.findings),
            [
                "low: caws-federated-setup.yaml:37: RoleGithubActions (AWS::IAM::Role): statement 1: no \
                 condition on token.actions.githubusercontent.com:aud admits tokens \
                 token.actions.githubusercontent.com issued for any audience the IAM OIDC provider lists, \
                 not only for STS",
                "medium: caws-federated-setup.yaml:46: RoleGithubActions (AWS::IAM::Role): statement 1: \
                 token.actions.githubusercontent.com:sub \"repo:${GitHubOrganization}/*:ref:refs/heads/*\" \
                 admits every present and future repository of ${GitHubOrganization}, with the template's \
                 defaults (RepositoryName=*, BranchName=*)",
            ]
        );
        // The fix of what the defaults open names the branch wildcard the defaults give.
        assert_eq!(
            found.findings[1].finding.fix.command().as_deref(),
            Some("vault-ci trust-policy --provider github --repo OWNER/REPO --branch '*'")
        );
        assert_eq!(exit_code(&found.findings, false), 1);
    }

    /// A stack parameter that decides the `sub`: whatever its value, one
    /// repository or every repository; the role is not judged, but what is
    /// wrong whatever it is (no `aud`) is said as it is.
    #[test]
    fn an_open_value_is_not_judged_but_what_holds_whatever_it_is_is_reported() {
        let template = |sub: &str, default: &str| {
            format!(
                "Parameters:
  Repo:
    Type: String
    {default}
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Statement:
          - Effect: Allow
            Principal:
              Federated: arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com
            Action: sts:AssumeRoleWithWebIdentity
            Condition:
              StringLike:
                token.actions.githubusercontent.com:sub: !Sub {sub}
"
            )
        };
        let report = |sub: &str, default: &str| {
            let text = template(sub, default);
            let found = file("t.yaml", Path::new("t.yaml"), &text, &Options::default()).unwrap();
            (lines(&found.findings), exit_code(&found.findings, false))
        };
        let no_audience = "low: t.yaml:11: Role (AWS::IAM::Role): statement 1: no condition on \
            token.actions.githubusercontent.com:aud admits tokens token.actions.githubusercontent.com \
            issued for any audience the IAM OIDC provider lists, not only for STS";
        assert_eq!(
            report("'repo:acme/${Repo}:*'", "Description: the repository"),
            (
                vec![
                    no_audience.to_string(),
                    "not judged: t.yaml:17: Role (AWS::IAM::Role): statement 1: the condition on \
                     token.actions.githubusercontent.com:sub: depends on Repo, which the file leaves open: \
                     given `*`, token.actions.githubusercontent.com:sub \"repo:acme/*:*\" admits every \
                     present and future repository of acme"
                        .to_string(),
                ],
                1
            )
        );
        // Its default opens the role to the whole owner: that is what a stack
        // deployed with the defaults has.
        assert_eq!(
            report("'repo:acme/${Repo}:*'", "Default: '*'"),
            (
                vec![
                    no_audience.to_string(),
                    "medium: t.yaml:17: Role (AWS::IAM::Role): statement 1: \
                     token.actions.githubusercontent.com:sub \"repo:acme/*:*\" admits every present and \
                     future repository of acme, with the template's defaults (Repo=*)"
                        .to_string(),
                ],
                1
            )
        );
        // Not judged: no value of its own to quote (JSON, SARIF) and no fix to offer.
        let text = template("'repo:acme/${Repo}:*'", "Description: the repository");
        let found = file("t.yaml", Path::new("t.yaml"), &text, &Options::default()).unwrap();
        let open = &found.findings[1].finding;
        assert_eq!((open.class, &open.value), (Class::NotJudged, &None));
        assert_eq!(open.fix, check::Fix::default());
        // A default that names one repository: nothing more is open by default,
        // and the role is still not judged for other values.
        assert_eq!(
            report("'repo:acme/${Repo}:*'", "Default: app"),
            report("'repo:acme/${Repo}:*'", "Description: the repository")
        );
        // What the parameter cannot change: a note on its placeholder is no note.
        let (found, _) = report(
            "'repo:acme/app:environment:${Repo}'",
            "Description: the environment",
        );
        assert_eq!(found, [no_audience]);
    }

    #[test]
    fn the_exit_status_is_the_worst_of_what_fails() {
        let located = |class: Class| Located {
            finding: Finding {
                class,
                ..unreadable("x")
            },
            file: "f.json".into(),
            line: None,
            role: None,
        };
        let exit = |classes: &[Class], strict: bool| {
            let all: Vec<Located> = classes.iter().map(|c| located(*c)).collect();
            exit_code(&all, strict)
        };
        assert_eq!(exit(&[], false), 0);
        assert_eq!(exit(&[], true), 0);
        assert_eq!(exit(&[Class::Advice], false), 0);
        assert_eq!(exit(&[Class::Advice], true), 1);
        assert_eq!(exit(&[Class::NotJudged], false), 3);
        assert_eq!(exit(&[Class::NotJudged, Class::Advice], false), 3);
        assert_eq!(exit(&[Class::NotJudged, Class::Advice], true), 1);
        assert_eq!(exit(&[Class::NotJudged, Class::NoAudience], false), 1);
        assert_eq!(exit(&[Class::Malformed], false), 1);
    }

    #[test]
    fn findings_that_share_a_fix_print_it_once_after_the_last() {
        let found = checked("unsafe", "github-no-condition.json", &Options::default());
        let fix =
            "  fix: the Condition `vault-ci trust-policy --provider github --repo OWNER/REPO \
                   --account-id 123456789012` prints:
    {
      \"StringEquals\": {
        \"token.actions.githubusercontent.com:aud\": \"sts.amazonaws.com\"
      },
      \"StringLike\": {
        \"token.actions.githubusercontent.com:sub\": \"repo:OWNER/REPO:*\"
      }
    }
";
        assert_eq!(
            report(&found.findings),
            format!(
                "high: github-no-condition.json:4: statement 1: no condition on \
                 token.actions.githubusercontent.com:sub admits any repository on GitHub
low: github-no-condition.json:4: statement 1: no condition on token.actions.githubusercontent.com:aud \
                 admits tokens token.actions.githubusercontent.com issued for any audience the IAM OIDC \
                 provider lists, not only for STS
{fix}"
            )
        );
        // Two files' findings with the same fix: each file's is printed.
        let twice: Vec<Located> = [&found.findings[1..], &found.findings[1..]].concat();
        assert_eq!(report(&twice).matches("  fix: ").count(), 1);
        let other = Located {
            file: "other.json".into(),
            ..found.findings[0].clone()
        };
        let both = vec![found.findings[0].clone(), other];
        assert_eq!(report(&both).matches("  fix: ").count(), 1);
        let apart = vec![
            found.findings[0].clone(),
            Located {
                finding: unreadable("x"),
                file: "b.json".into(),
                line: None,
                role: Some("role b".into()),
            },
            found.findings[1].clone(),
        ];
        assert_eq!(
            report(&apart)
                .lines()
                .filter(|l| !l.starts_with(' '))
                .collect::<Vec<_>>(),
            [
                found.findings[0].to_string().as_str(),
                "not judged: b.json: role b: x",
                found.findings[1].to_string().as_str(),
            ]
        );
        assert_eq!(report(&apart).matches("  fix: ").count(), 2);
    }

    #[test]
    fn json_gives_each_finding_its_rule_place_message_and_fix() {
        let found = checked("unsafe", "github-no-condition.json", &Options::default());
        let report = json(&[("github-no-condition.json".into(), found)], 1);
        let fix = json!({
            "command": "vault-ci trust-policy --provider github --repo OWNER/REPO --account-id 123456789012",
            "condition": {
                "StringEquals": { "token.actions.githubusercontent.com:aud": "sts.amazonaws.com" },
                "StringLike": { "token.actions.githubusercontent.com:sub": "repo:OWNER/REPO:*" },
            },
        });
        assert_eq!(
            report,
            json!({
                "files": [{ "file": "github-no-condition.json", "kind": "policy", "roles": 1 }],
                "findings": [
                    {
                        "rule": "other-owners",
                        "severity": "high",
                        "file": "github-no-condition.json",
                        "line": 4,
                        "role": null,
                        "statement": "statement 1",
                        "key": "token.actions.githubusercontent.com:sub",
                        "value": null,
                        "admits": "any repository on GitHub",
                        "message": "high: github-no-condition.json:4: statement 1: no condition on token.actions.githubusercontent.com:sub admits any repository on GitHub",
                        "fix": fix,
                    },
                    {
                        "rule": "no-audience",
                        "severity": "low",
                        "file": "github-no-condition.json",
                        "line": 4,
                        "role": null,
                        "statement": "statement 1",
                        "key": "token.actions.githubusercontent.com:aud",
                        "value": null,
                        "admits": "tokens token.actions.githubusercontent.com issued for any audience the IAM OIDC provider lists, not only for STS",
                        "message": "low: github-no-condition.json:4: statement 1: no condition on token.actions.githubusercontent.com:aud admits tokens token.actions.githubusercontent.com issued for any audience the IAM OIDC provider lists, not only for STS",
                        "fix": fix,
                    },
                ],
                "exit": 1,
            })
        );
    }

    #[test]
    fn a_bare_document_iam_could_not_read_is_an_error_but_a_roles_is_not_judged() {
        let broken = r#"{"Statement": [1]}"#;
        assert_eq!(
            file("p.json", Path::new("p.json"), broken, &Options::default()).unwrap_err(),
            "statement 1 is not a JSON object"
        );
        let roles =
            r#"{"Roles": [{"RoleName": "r", "AssumeRolePolicyDocument": {"Statement": [1]}}]}"#;
        let found = file(
            "roles.json",
            Path::new("roles.json"),
            roles,
            &Options::default(),
        )
        .unwrap();
        assert_eq!(
            lines(&found.findings),
            ["not judged: roles.json:1: role r: statement 1 is not a JSON object"]
        );
        assert_eq!(exit_code(&found.findings, false), 3);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Whatever a file holds, reading it ends in findings or an error, and
        /// every finding is on a line of the file.
        #[test]
        fn any_text_is_read_without_panicking(
            text in "(\\{|\\}|\\[|\\]|:|,|-| |\\n|\"|Statement|Resources|Type|AWS::IAM::Role|Properties|AssumeRolePolicyDocument|Effect|Allow|Principal|Federated|!Sub|!Ref|!If|&a|\\*a|\\$\\{x\\}|Condition|StringLike|a:sub|repo:\\*){0,40}"
        ) {
            for name in ["f.json", "f.yaml"] {
                if let Ok(checked) = file(name, Path::new(name), &text, &Options::default()) {
                    let lines = text.split('\n').count();
                    for located in &checked.findings {
                        prop_assert!(located.line.is_none_or(|l| (1..=lines).contains(&l)), "{}", located);
                    }
                }
            }
        }
    }
}
