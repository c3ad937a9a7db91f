//! `trust-policy --check --format sarif`: SARIF 2.1.0 (OASIS), one result per
//! finding with its rule, level and place (file, line, role), which GitHub code
//! scanning and other tools show on the pull request that changes the role.
//! `security-severity` is GitHub's scale (0.1–3.9 low, 4–6.9 medium, 7–8.9
//! high, 9+ critical).

use serde_json::{Value, json};

use super::audit::Located;
use super::check::Class;

/// (short description, full description, SARIF level, security-severity).
fn rule(class: Class) -> (&'static str, &'static str, &'static str, &'static str) {
    match class {
        Class::OtherOwners => (
            "The trust policy admits other owners' repositories, projects or AWS accounts",
            "A statement admits tokens (or AWS callers) that anyone can obtain: no `sub` \
             condition, a `sub` pattern whose owner part is a wildcard or a prefix, a `*` \
             principal without a condition on the caller's account. Anyone who can create a \
             repository or project that matches can assume the role.",
            "error",
            "9.0",
        ),
        Class::WholeOwner => (
            "The trust policy admits every repository of one owner",
            "A statement admits every present and future repository (project, pipeline) of \
             one organization, group or workspace: anyone who can create a repository there \
             can assume the role.",
            "error",
            "7.0",
        ),
        Class::NoAudience => (
            "No audience condition where every customer shares the issuer's audience",
            "The statement does not test `aud`, so tokens the issuer minted for any audience \
             the IAM OIDC provider lists are admitted, not only those for STS.",
            "warning",
            "3.5",
        ),
        Class::AdmitsNothing => (
            "The statement admits no token at all",
            "A condition tests a key STS never sets for the trusted issuer's tokens (a typo, \
             another provider's key): the statement admits nothing, and deleting the condition \
             that never matches would open it.",
            "warning",
            "4.0",
        ),
        Class::Malformed => (
            "The policy text is not what IAM reads",
            "A key written twice in one object (IAM reads only the last), an operator IAM does \
             not have, or a condition on an issuer the statement does not trust.",
            "error",
            "6.5",
        ),
        Class::NotJudged => (
            "The statement could not be judged",
            "The issuer's `sub` grammar is unknown to vault-ci, the principal or a value is a \
             template's unresolved parameter or intrinsic, or the plan knows the document \
             only after apply: check by hand that it admits only the jobs it is meant for.",
            "warning",
            "5.0",
        ),
        Class::Advice => (
            "Tight, but short of today's practice",
            "The statement admits one repository, but pins it in a way that a rename, a \
             deleted and re-registered name, or any branch of it could widen: pin IDs, \
             environments or branches.",
            "note",
            "2.0",
        ),
    }
}

/// The SARIF log for all findings.
pub fn log(findings: &[Located]) -> Value {
    let rules: Vec<Value> = Class::ALL
        .iter()
        .map(|class| {
            let (short, full, level, severity) = rule(*class);
            json!({
                "id": class.rule(),
                "name": format!("{class:?}"),
                "shortDescription": { "text": short },
                "fullDescription": { "text": full },
                "help": {
                    "text": format!("{full} Each finding's message ends with the Condition that fixes it."),
                },
                "helpUri": "https://github.com/vault-ci/vault-ci#when-the-trust-policy-says-no",
                "defaultConfiguration": { "level": level },
                "properties": {
                    "security-severity": severity,
                    "tags": ["security", "aws", "iam", "oidc"],
                    "precision": "high",
                },
            })
        })
        .collect();
    let results: Vec<Value> = findings.iter().map(result).collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {
                "driver": {
                    "name": "vault-ci",
                    "version": env!("CARGO_PKG_VERSION"),
                    "informationUri": "https://github.com/vault-ci/vault-ci",
                    "rules": rules,
                }
            },
            "results": results,
        }]
    })
}

fn result(located: &Located) -> Value {
    let finding = &located.finding;
    let class = finding.class;
    let index = Class::ALL
        .iter()
        .position(|c| *c == class)
        .unwrap_or_default();
    let line = located.to_string();
    let mut message = line
        .strip_prefix(&format!("{class}: "))
        .unwrap_or(&line)
        .to_string();
    if let Some(condition) = &finding.fix.condition {
        match finding.fix.command() {
            Some(command) => message.push_str(&format!(
                ". Fix: the Condition `{command}` prints: {condition}"
            )),
            None => message.push_str(&format!(". Fix: a Condition such as {condition}")),
        }
    }
    let mut physical = json!({ "artifactLocation": { "uri": uri(&located.file) } });
    if let Some(line) = located.line.filter(|line| *line > 0) {
        physical["region"] = json!({ "startLine": line });
    }
    let mut location = json!({ "physicalLocation": physical });
    let logical = match (&located.role, finding.statement.as_str()) {
        (Some(role), "") => role.clone(),
        (Some(role), statement) => format!("{role}/{statement}"),
        (None, "") => located.file.clone(),
        (None, statement) => statement.to_string(),
    };
    location["logicalLocations"] = json!([{ "fullyQualifiedName": logical, "kind": "resource" }]);
    json!({
        "ruleId": class.rule(),
        "ruleIndex": index,
        "level": rule(class).2,
        "message": { "text": message },
        "locations": [location],
    })
}

/// A path as a URI reference: relative paths stay relative (code scanning
/// resolves them against the repository's root), with `/` and what a URI must
/// escape escaped.
fn uri(path: &str) -> String {
    let path = path.replace('\\', "/");
    let mut out = String::new();
    if path.starts_with('/') {
        out.push_str("file://");
    }
    for byte in path.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                out.push(byte as char)
            }
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trust::audit::{Options, file};
    use crate::trust::check::{Finding, Fix};
    use std::path::Path;

    /// The SARIF results `--check --format sarif` writes for one file's text.
    fn results(name: &str, text: &str) -> Value {
        let checked = file(name, Path::new(name), text, &Options::default()).unwrap();
        log(&checked.findings)["runs"][0]["results"].clone()
    }

    const ORG_WIDE_TEMPLATE: &str = "Resources:
  Deploy:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Statement:
          - Effect: Allow
            Principal:
              Federated: arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com
            Action: sts:AssumeRoleWithWebIdentity
            Condition:
              StringEquals:
                token.actions.githubusercontent.com:aud: sts.amazonaws.com
              StringLike:
                token.actions.githubusercontent.com:sub: repo:acme/*
";

    #[test]
    fn a_role_open_to_a_whole_organization_is_an_error_on_its_sub_line_with_the_fix() {
        assert_eq!(
            results("infra/my roles.yaml", ORG_WIDE_TEMPLATE),
            json!([{
                "ruleId": "whole-owner",
                "ruleIndex": 1,
                "level": "error",
                "message": { "text": "infra/my roles.yaml:15: Deploy (AWS::IAM::Role): statement 1: \
                    token.actions.githubusercontent.com:sub \"repo:acme/*\" admits every present and future \
                    repository of acme. Fix: the Condition `vault-ci trust-policy --provider github --repo \
                    acme/REPO --account-id 123456789012` prints: \
                    {\"StringEquals\":{\"token.actions.githubusercontent.com:aud\":\"sts.amazonaws.com\"},\
                    \"StringLike\":{\"token.actions.githubusercontent.com:sub\":\"repo:acme/REPO:*\"}}" },
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": { "uri": "infra/my%20roles.yaml" },
                        "region": { "startLine": 15 },
                    },
                    "logicalLocations": [{
                        "fullyQualifiedName": "Deploy (AWS::IAM::Role)/statement 1",
                        "kind": "resource",
                    }],
                }],
            }])
        );
    }

    #[test]
    fn a_policy_any_aws_account_may_assume_gets_a_condition_such_as_and_its_statement() {
        let policy = r#"{"Statement":[{"Sid":"Ops","Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole"}]}"#;
        assert_eq!(
            results("ops.json", policy),
            json!([{
                "ruleId": "other-owners",
                "ruleIndex": 0,
                "level": "error",
                "message": { "text": "ops.json:1: statement 1 (Ops): Principal \"*\" admits any AWS account's \
                    users and roles: sts:AssumeRole with no condition on the caller's account or organization. \
                    Fix: a Condition such as {\"StringEquals\":{\"aws:PrincipalAccount\":\"ACCOUNT_ID\"}}" },
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": { "uri": "ops.json" },
                        "region": { "startLine": 1 },
                    },
                    "logicalLocations": [{ "fullyQualifiedName": "statement 1 (Ops)", "kind": "resource" }],
                }],
            }])
        );
    }

    #[test]
    fn what_is_about_a_whole_role_or_file_is_located_at_it_with_no_fix() {
        let plan = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/trust/audit/terraform-plan-unknown.json"),
        )
        .unwrap();
        assert_eq!(
            results("plan.json", &plan),
            json!([{
                "ruleId": "not-judged",
                "ruleIndex": 5,
                "level": "warning",
                "message": { "text": "plan.json:66: aws_iam_role.github_actions: its assume_role_policy is \
                    known only after apply (it is computed from another resource): check the state after apply" },
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": { "uri": "plan.json" },
                        "region": { "startLine": 66 },
                    },
                    "logicalLocations": [{ "fullyQualifiedName": "aws_iam_role.github_actions", "kind": "resource" }],
                }],
            }])
        );
        // A file with no line to name (0 is none: SARIF lines start at 1).
        let finding = Finding {
            statement: String::new(),
            at: String::new(),
            key: "AssumeRolePolicyDocument".into(),
            value: None,
            admits: "its document is not JSON".into(),
            class: Class::NotJudged,
            fix: Fix::default(),
        };
        for line in [None, Some(0)] {
            let located = Located {
                finding: finding.clone(),
                file: "a.json".into(),
                line,
                role: None,
            };
            assert_eq!(
                result(&located)["locations"],
                json!([{
                    "physicalLocation": { "artifactLocation": { "uri": "a.json" } },
                    "logicalLocations": [{ "fullyQualifiedName": "a.json", "kind": "resource" }],
                }]),
                "{line:?}"
            );
        }
    }

    #[test]
    fn each_rule_has_its_level_and_githubs_security_severity() {
        let log = log(&[]);
        let rules: Vec<(&str, &str, &str, &str, &str)> = log["runs"][0]["tool"]["driver"]["rules"]
            .as_array()
            .unwrap()
            .iter()
            .map(|rule| {
                (
                    rule["id"].as_str().unwrap(),
                    rule["name"].as_str().unwrap(),
                    rule["defaultConfiguration"]["level"].as_str().unwrap(),
                    rule["properties"]["security-severity"].as_str().unwrap(),
                    rule["shortDescription"]["text"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            rules,
            [
                (
                    "other-owners",
                    "OtherOwners",
                    "error",
                    "9.0",
                    "The trust policy admits other owners' repositories, projects or AWS accounts"
                ),
                (
                    "whole-owner",
                    "WholeOwner",
                    "error",
                    "7.0",
                    "The trust policy admits every repository of one owner"
                ),
                (
                    "no-audience",
                    "NoAudience",
                    "warning",
                    "3.5",
                    "No audience condition where every customer shares the issuer's audience"
                ),
                (
                    "admits-nothing",
                    "AdmitsNothing",
                    "warning",
                    "4.0",
                    "The statement admits no token at all"
                ),
                (
                    "malformed",
                    "Malformed",
                    "error",
                    "6.5",
                    "The policy text is not what IAM reads"
                ),
                (
                    "not-judged",
                    "NotJudged",
                    "warning",
                    "5.0",
                    "The statement could not be judged"
                ),
                (
                    "best-practice",
                    "Advice",
                    "note",
                    "2.0",
                    "Tight, but short of today's practice"
                ),
            ]
        );
        let advice = &log["runs"][0]["tool"]["driver"]["rules"][6];
        assert_eq!(
            advice["help"]["text"],
            format!(
                "{} Each finding's message ends with the Condition that fixes it.",
                advice["fullDescription"]["text"].as_str().unwrap()
            )
        );
        assert_eq!(log["version"], "2.1.0");
        assert_eq!(log["runs"][0]["results"], json!([]));
    }

    #[test]
    fn paths_are_uri_references() {
        assert_eq!(uri("infra/roles.yaml"), "infra/roles.yaml");
        assert_eq!(uri("my roles/a b.json"), "my%20roles/a%20b.json");
        assert_eq!(uri("/tmp/x.json"), "file:///tmp/x.json");
        assert_eq!(uri(r"infra\x.json"), "infra/x.json");
    }
}
