//! What the policy's text says that IAM does not read as its author meant,
//! found before (and besides) what the statements admit: a key written twice
//! in one object (JSON parsers, IAM's included, keep the last: GOV.UK's
//! infrastructure lost a `sub` condition to a second `StringEquals`,
//! alphagov/govuk-infrastructure #879), an operator IAM does not have, a
//! condition block that is no block, and a condition on a key of an issuer the
//! statement does not trust, which never applies.

use serde_json::Value;

use super::check::{Class, Finding, Fix};
use super::policy::{Document, Family, Operator, Statement};
use super::sources::Duplicate;

/// The findings for a document's text: `duplicates` are its repeated keys, at
/// JSON pointers of the document; `lines` says whether their lines are the file's.
pub fn lint(document: &Value, duplicates: &[Duplicate], lines: bool) -> Vec<Finding> {
    let parsed = Document::parse(document).ok();
    let statements = parsed
        .as_ref()
        .map(|d| d.statements.as_slice())
        .unwrap_or_default();
    let mut findings = Vec::new();
    for duplicate in duplicates {
        let statement = statements
            .iter()
            .find(|s| duplicate.at == s.at || duplicate.at.starts_with(&format!("{}/", s.at)));
        let lines = match lines {
            true => format!(" (lines {} and {})", duplicate.lost, duplicate.kept),
            false => String::new(),
        };
        findings.push(malformed(
            statement.map_or("the document", |s| s.label.as_str()),
            format!("{}/{}", duplicate.at, duplicate.key),
            format!("`{}`", duplicate.key),
            format!(
                "is written twice in one object{lines}: IAM reads only the last, so {} is \
                 ignored; merge the two into one",
                duplicate.lost_value
            ),
        ));
    }
    for statement in statements {
        findings.extend(operators(statement, document));
        findings.extend(other_issuers(statement));
    }
    findings
}

fn malformed(statement: &str, at: String, key: String, why: String) -> Finding {
    Finding {
        statement: statement.to_string(),
        at,
        key,
        value: None,
        admits: why,
        class: Class::Malformed,
        fix: Fix::default(),
    }
}

/// Condition operators IAM does not have, and blocks that are no blocks.
fn operators(statement: &Statement, document: &Value) -> Vec<Finding> {
    let mut findings = Vec::new();
    let block = document
        .pointer(&statement.at)
        .or_else(|| {
            document
                .get("Role")?
                .get("AssumeRolePolicyDocument")?
                .pointer(&statement.at)
        })
        .and_then(|s| s.get("Condition"));
    let Some(Value::Object(block)) = block else {
        return findings;
    };
    for (name, tests) in block {
        let at = super::sources::push(&format!("{}/Condition", statement.at), name);
        if !tests.is_object() {
            findings.push(malformed(
                &statement.label,
                at,
                format!("`{name}`"),
                "is followed by no block of keys and values: it tests nothing".into(),
            ));
            continue;
        }
        if Operator::parse(name).family != Family::Unknown {
            continue;
        }
        let hint = match suggestion(name) {
            Some(known) => format!(" (`{known}`?)"),
            None => String::new(),
        };
        findings.push(malformed(
            &statement.label,
            at,
            format!("`{name}`"),
            format!(
                "is not an IAM condition operator{hint}: IAM refuses the policy (operator names \
                 are case-sensitive), and vault-ci reads the test as narrowing nothing"
            ),
        ));
    }
    findings
}

/// The operator IAM has that is nearest to `name`.
fn suggestion(name: &str) -> Option<String> {
    const BASES: &[&str] = &[
        "StringEquals",
        "StringNotEquals",
        "StringEqualsIgnoreCase",
        "StringNotEqualsIgnoreCase",
        "StringLike",
        "StringNotLike",
        "NumericEquals",
        "NumericNotEquals",
        "NumericLessThan",
        "NumericLessThanEquals",
        "NumericGreaterThan",
        "NumericGreaterThanEquals",
        "DateEquals",
        "DateNotEquals",
        "DateLessThan",
        "DateLessThanEquals",
        "DateGreaterThan",
        "DateGreaterThanEquals",
        "Bool",
        "BinaryEquals",
        "IpAddress",
        "NotIpAddress",
        "ArnEquals",
        "ArnLike",
        "ArnNotEquals",
        "ArnNotLike",
    ];
    let mut known = vec!["Null".to_string()];
    for base in BASES {
        for qualifier in ["", "ForAnyValue:", "ForAllValues:"] {
            for suffix in ["", "IfExists"] {
                known.push(format!("{qualifier}{base}{suffix}"));
            }
        }
    }
    known
        .into_iter()
        .map(|known| {
            (
                strsim::jaro_winkler(&name.to_lowercase(), &known.to_lowercase()),
                known,
            )
        })
        .filter(|(score, _)| *score > 0.9)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, known)| known)
}

/// A condition on the keys of an issuer the statement does not trust: STS
/// never sets them for its tokens. A positive test is false then (the checker
/// reports the statement as admitting nothing); any other never narrows.
fn other_issuers(statement: &Statement) -> Vec<Finding> {
    let principal = &statement.principal;
    if principal.anyone || principal.not || !principal.unknown.is_empty() {
        return Vec::new();
    }
    let trusted: Vec<String> = principal.oidc_providers().map(|p| p.issuer).collect();
    if trusted.is_empty() {
        return Vec::new();
    }
    let mut findings = Vec::new();
    for condition in &statement.conditions {
        let Some((prefix, _)) = condition.key.rsplit_once(':') else {
            continue;
        };
        let other = prefix.contains('.') && !trusted.iter().any(|t| t.eq_ignore_ascii_case(prefix));
        if !other || condition.when_absent() == Some(false) {
            continue;
        }
        findings.push(malformed(
            &statement.label,
            condition.at.clone(),
            condition.key.clone(),
            format!(
                "is a key of {prefix}'s tokens, but the statement trusts only {}: under `{}` \
                 the test is always true, and narrows nothing",
                trusted.join(", "),
                condition.operator.name
            ),
        ));
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn classes_and_keys(findings: &[Finding]) -> Vec<(String, String)> {
        findings
            .iter()
            .map(|f| (f.statement.clone(), f.key.clone()))
            .collect()
    }

    #[test]
    fn operators_iam_lacks_and_keys_of_issuers_not_trusted() {
        let policy = json!({ "Statement": [{
            "Sid": "ci",
            "Effect": "Allow",
            "Principal": { "Federated": "arn:aws:iam::1:oidc-provider/token.actions.githubusercontent.com" },
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {
                "stringequals": { "token.actions.githubusercontent.com:sub": "repo:a/b:*" },
                "StringNotLike": { "gitlab.com:sub": "project_path:evil/*" },
                "StringLike": { "gitlab.com:aud": "x" },
                "Null": "true",
            }
        }]});
        let findings = lint(&policy, &[], true);
        assert_eq!(
            classes_and_keys(&findings),
            [
                ("statement 1 (ci)".into(), "`stringequals`".into()),
                ("statement 1 (ci)".into(), "`Null`".into()),
                ("statement 1 (ci)".into(), "gitlab.com:sub".into()),
            ]
        );
        assert!(
            findings[0].admits.contains("(`StringEquals`?)"),
            "{}",
            findings[0].admits
        );
        assert_eq!(findings[0].at, "/Statement/0/Condition/stringequals");
        assert!(findings.iter().all(|f| f.class == Class::Malformed));
    }

    fn lines(findings: &[Finding]) -> Vec<String> {
        findings.iter().map(Finding::to_string).collect()
    }

    #[test]
    fn a_repeated_key_is_said_of_its_statement_or_of_the_document() {
        let text = r#"{"Version": "2008-10-17", "Version": "2012-10-17", "Statement": [
            {"Effect": "Deny", "Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole"}]}"#;
        let tree = super::super::sources::Tree::json(text).unwrap();
        // In a file, with the lines; in a string of the file (an embedded
        // document), whose lines are not the file's, without.
        assert_eq!(
            lines(&lint(&tree.value, &tree.duplicates, true)),
            [
                "broken: the document: `Version` is written twice in one object (lines 1 and 1): IAM \
                 reads only the last, so \"2008-10-17\" is ignored; merge the two into one",
                "broken: statement 1: `Effect` is written twice in one object (lines 2 and 2): IAM reads \
                 only the last, so \"Deny\" is ignored; merge the two into one",
            ]
        );
        let findings = lint(&tree.value, &tree.duplicates, false);
        assert_eq!(
            lines(&findings)[1],
            "broken: statement 1: `Effect` is written twice in one object: IAM reads only the last, \
             so \"Deny\" is ignored; merge the two into one"
        );
        assert_eq!(
            (findings[0].at.as_str(), findings[1].at.as_str()),
            ("/Version", "/Statement/0/Effect")
        );
    }

    #[test]
    fn an_operator_iam_lacks_is_named_with_the_nearest_one_it_has() {
        let policy = |operator: &str| {
            json!({ "Role": { "AssumeRolePolicyDocument": { "Statement": [{
                "Effect": "Allow",
                "Principal": { "Federated": "arn:aws:iam::1:oidc-provider/token.actions.githubusercontent.com" },
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": { operator: { "token.actions.githubusercontent.com:sub": "repo:a/b:*" } },
            }] } } })
        };
        let said = |operator: &str| lines(&lint(&policy(operator), &[], true));
        assert_eq!(
            said("ForAnyValue:StringLikeIfExist"),
            [
                "broken: statement 1: `ForAnyValue:StringLikeIfExist` is not an IAM condition operator \
              (`ForAnyValue:StringLikeIfExists`?): IAM refuses the policy (operator names are \
              case-sensitive), and vault-ci reads the test as narrowing nothing"
            ]
        );
        assert_eq!(
            said("Matches"),
            [
                "broken: statement 1: `Matches` is not an IAM condition operator: IAM refuses the policy \
              (operator names are case-sensitive), and vault-ci reads the test as narrowing nothing"
            ]
        );
        assert_eq!(
            said("ForAllValues:StringNotLikeIfExists"),
            Vec::<String>::new()
        );
        assert_eq!(suggestion("nul"), Some("Null".into()));
        assert_eq!(suggestion("Bool"), Some("Bool".into()));
        assert_eq!(suggestion("IpAdress"), Some("IpAddress".into()));
    }

    #[test]
    fn a_key_of_an_issuer_the_statement_does_not_trust_never_applies() {
        let statement = |principal: Value, condition: Value| {
            json!({ "Statement": [{
                "Effect": "Allow", "Principal": principal,
                "Action": "sts:AssumeRoleWithWebIdentity", "Condition": condition,
            }] })
        };
        let github = json!({ "Federated": "arn:aws:iam::1:oidc-provider/token.actions.githubusercontent.com" });
        let said = |principal: &Value, condition: Value| {
            lines(&lint(&statement(principal.clone(), condition), &[], true))
        };
        assert_eq!(
            said(
                &github,
                json!({ "StringLikeIfExists": { "GitLab.com:sub": "project_path:a/*" } })
            ),
            [
                "broken: statement 1: GitLab.com:sub is a key of GitLab.com's tokens, but the statement \
              trusts only token.actions.githubusercontent.com: under `StringLikeIfExists` the test is \
              always true, and narrows nothing"
            ]
        );
        // Not said: a positive test (false: the checker says the statement
        // admits nothing), the trusted issuer's own keys in any case, AWS's keys.
        for condition in [
            json!({ "StringLike": { "gitlab.com:sub": "project_path:a/*" } }),
            json!({ "StringNotLike": { "TOKEN.actions.githubusercontent.com:sub": "repo:evil/*" } }),
            json!({ "StringNotEquals": { "aws:SourceAccount": "1", "nokey": "x" } }),
        ] {
            assert_eq!(
                said(&github, condition.clone()),
                Vec::<String>::new(),
                "{condition}"
            );
        }
        // Nor where the principal does not say which issuers it trusts.
        let negated = json!({ "StringNotLike": { "gitlab.com:sub": "project_path:evil/*" } });
        for principal in [
            json!("*"),
            json!({ "AWS": "arn:aws:iam::1:root" }),
            json!({ "Federated": { "Fn::Sub": "x" } }),
        ] {
            assert_eq!(
                said(&principal, negated.clone()),
                Vec::<String>::new(),
                "{principal}"
            );
        }
        let mut not = statement(github, negated);
        let principal = not["Statement"][0]
            .as_object_mut()
            .unwrap()
            .remove("Principal")
            .unwrap();
        not["Statement"][0]["NotPrincipal"] = principal;
        assert_eq!(lint(&not, &[], true), []);
    }

    #[test]
    fn a_repeated_key_is_named_with_what_it_loses() {
        let text = r#"{"Statement": [{"Effect": "Allow", "Condition": {
            "StringEquals": {"gitlab.com:sub": "project_path:a/b:ref_type:branch:ref:main"},
            "StringEquals": {"gitlab.com:aud": "https://gitlab.com"}}}]}"#;
        let tree = super::super::sources::Tree::json(text).unwrap();
        let findings = lint(&tree.value, &tree.duplicates, true);
        assert_eq!(findings.len(), 1);
        assert_eq!(
            findings[0].to_string(),
            "broken: statement 1: `StringEquals` is written twice in one object (lines 2 and 3): \
             IAM reads only the last, so {\"gitlab.com:sub\":\"project_path:a/b:ref_type:branch:ref:main\"} \
             is ignored; merge the two into one"
        );
    }
}
