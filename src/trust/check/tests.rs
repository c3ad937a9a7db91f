use super::*;
use crate::trust::policy::{percent_decode, strings};
use proptest::prelude::*;

fn fixtures(kind: &str) -> Vec<(String, Value)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/trust")
        .join(kind);
    let mut all: Vec<(String, Value)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .map(|path| {
            let text = std::fs::read_to_string(&path).unwrap();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
            (name, value)
        })
        .collect();
    all.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(!all.is_empty(), "no fixtures in {}", dir.display());
    all
}

/// What is wrong with it: its findings' classes, best-practice notes left out.
fn classes(policy: &Value) -> Vec<Class> {
    faults(policy).iter().map(|f| f.class).collect()
}

fn faults(policy: &Value) -> Vec<Finding> {
    let mut findings = check(policy).unwrap();
    findings.retain(|f| f.class != Advice);
    findings
}

use Class::*;

/// What each fixture in unsafe/ must give, in order (also in its README).
const UNSAFE: &[(&str, &[Class])] = &[
    ("aws-any-account.json", &[OtherOwners]),
    ("aws-star-external-id.json", &[OtherOwners]),
    ("azure-project-wildcard.json", &[WholeOwner]),
    ("bitbucket-any-repository.json", &[WholeOwner]),
    ("buildkite-any-organization.json", &[OtherOwners]),
    ("circleci-all-projects.json", &[WholeOwner]),
    ("circleci-org-wildcard.json", &[WholeOwner]),
    ("federated-list-two-providers.json", &[AdmitsNothing]),
    ("forgejo-owner-prefix.json", &[OtherOwners]),
    ("get-role-url-encoded.json", &[OtherOwners]),
    ("ghes-aud-only.json", &[OtherOwners]),
    ("github-action-star.json", &[OtherOwners]),
    ("github-aud-only-gist.json", &[OtherOwners]),
    ("github-enterprise-no-sub.json", &[WholeOwner]),
    ("github-list-one-wildcard.json", &[OtherOwners]),
    ("github-no-condition.json", &[OtherOwners, NoAudience]),
    ("github-org-wildcard-readme.json", &[WholeOwner]),
    ("github-other-provider-key.json", &[AdmitsNothing]),
    ("github-owner-prefix.json", &[OtherOwners]),
    ("github-repo-star.json", &[OtherOwners]),
    ("github-reusable-workflow-only.json", &[OtherOwners]),
    ("github-sub-typo-forallvalues.json", &[OtherOwners]),
    ("github-sub-typo.json", &[AdmitsNothing]),
    ("gitlab-any-project.json", &[OtherOwners]),
    ("gitlab-group-prefix.json", &[OtherOwners]),
    ("google-no-condition.json", &[OtherOwners]),
    ("google-oaud-only.json", &[OtherOwners]),
    ("jenkins-aud-only.json", &[WholeOwner]),
    ("principal-star-web-identity.json", &[OtherOwners]),
];

/// Documented examples that admit a whole owner on purpose: GitLab documents
/// `project_path:mygroup/*` as "all projects under a group". The finding
/// stands (it is what the pattern admits), at its lower class.
const SAFE_ORG_WIDE: &[(&str, &[Class])] = &[("gitlab-docs-group-wildcard.json", &[WholeOwner])];

#[test]
fn documented_policies_admit_one_repository() {
    for (name, policy) in fixtures("safe") {
        let expected = SAFE_ORG_WIDE
            .iter()
            .find(|(file, _)| *file == name)
            .map(|(_, classes)| classes.to_vec())
            .unwrap_or_default();
        let findings = faults(&policy);
        assert_eq!(
            findings.iter().map(|f| f.class).collect::<Vec<_>>(),
            expected,
            "{name}: {findings:#?}"
        );
    }
}

#[test]
fn published_mistakes_are_found() {
    let all = fixtures("unsafe");
    let names: Vec<&str> = all.iter().map(|(name, _)| name.as_str()).collect();
    let listed: Vec<&str> = UNSAFE.iter().map(|(name, _)| *name).collect();
    assert_eq!(
        names, listed,
        "every unsafe fixture has its expected classes here"
    );
    for ((name, policy), (_, expected)) in all.iter().zip(UNSAFE) {
        let findings = faults(policy);
        assert_eq!(
            findings.iter().map(|f| f.class).collect::<Vec<_>>(),
            expected.to_vec(),
            "{name}: {findings:#?}"
        );
    }
}

/// The statement a finding is about, with the fix's Condition in place of
/// its own (and, for a provider's finding, only that provider).
fn fixed(policy: &Value, finding: &Finding) -> Value {
    let role = policy.get("Role").unwrap_or(policy);
    let document = match role.get("AssumeRolePolicyDocument").unwrap_or(policy) {
        Value::String(text) => serde_json::from_str(&percent_decode(text)).unwrap(),
        other => other.clone(),
    };
    let statements = match &document["Statement"] {
        Value::Array(all) => all.clone(),
        one => vec![one.clone()],
    };
    let index: usize = finding.statement["statement ".len()..]
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let mut statement = statements[index - 1].clone();
    let condition = finding.fix.condition.clone().unwrap();
    statement["Condition"] = condition.clone();
    let conditions = Document::parse(&json!({ "Statement": { "Condition": condition } }))
        .unwrap()
        .statements
        .remove(0)
        .conditions;
    let fix_issuers = issuers_named(&conditions);
    if let Some(federated) = statement["Principal"].get("Federated") {
        let kept: Vec<String> = strings(federated)
            .into_iter()
            .filter(|arn| {
                fix_issuers
                    .iter()
                    .any(|i| arn == i || arn.ends_with(&format!("/{i}")))
            })
            .collect();
        statement["Principal"]["Federated"] = json!(kept);
    }
    json!({ "Version": "2012-10-17", "Statement": [statement] })
}

/// `vault-ci trust-policy ARGS` as its own command line reads them: the
/// subject it writes, its partition and account.
fn trust_policy(argv: &[String]) -> (crate::cli::TrustPolicyArgs, Vec<Subject>) {
    use clap::{Args, FromArgMatches};
    let command = crate::cli::TrustPolicyArgs::augment_args(
        clap::Command::new("trust-policy").no_binary_name(true),
    )
    .mut_args(|arg| arg.env(None::<&'static str>));
    let matches = command
        .try_get_matches_from(argv)
        .unwrap_or_else(|e| panic!("trust-policy {argv:?}: {e}"));
    let parsed = crate::cli::TrustPolicyArgs::from_arg_matches(&matches).unwrap();
    let subjects = crate::cmd::trust_policy::subjects(&parsed).unwrap();
    (parsed, subjects)
}

/// The fix's command is one trust-policy takes, and prints the fix's Condition.
fn assert_fix_is_what_trust_policy_prints(finding: &Finding) {
    let (Some(args), Some(condition)) = (&finding.fix.args, &finding.fix.condition) else {
        return;
    };
    let (parsed, subjects) = trust_policy(args);
    let printed = subjects[0].statement(&parsed.partition, &parsed.account_id)["Condition"].clone();
    assert_eq!(&printed, condition, "{finding}: trust-policy {args:?}");
}

#[test]
fn every_fix_is_a_command_trust_policy_takes_and_prints_that_condition() {
    for kind in ["safe", "unsafe"] {
        for (_, policy) in fixtures(kind) {
            check(&policy)
                .unwrap()
                .iter()
                .for_each(assert_fix_is_what_trust_policy_prints);
        }
    }
}

#[test]
fn every_fix_admits_one_repository() {
    for (name, policy) in fixtures("unsafe") {
        for mut finding in check(&policy).unwrap() {
            // A `*` principal's fix names the issuer to trust: fill in one of
            // a CI vault-ci knows (any other is not judged).
            let text = finding
                .fix
                .condition
                .unwrap()
                .to_string()
                .replace("ISSUER", "token.actions.githubusercontent.com");
            finding.fix.condition = Some(serde_json::from_str(&text).unwrap());
            let repaired = fixed(&policy, &finding);
            assert_eq!(classes(&repaired), [], "{name}: {finding}\n{repaired:#}");
        }
    }
}

fn only_finding(policy: Value) -> Finding {
    let mut findings = faults(&policy);
    assert_eq!(findings.len(), 1, "{findings:#?}");
    findings.remove(0)
}

fn github(condition: Value) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": { "Federated": "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com" },
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": condition,
        }]
    })
}

fn github_sub(operator: &str, sub: Value) -> Value {
    github(json!({
        "StringEquals": { "token.actions.githubusercontent.com:aud": "sts.amazonaws.com" },
        operator: { "token.actions.githubusercontent.com:sub": sub },
    }))
}

#[test]
fn the_fix_is_what_trust_policy_prints_for_the_repository_meant() {
    let cases = [
        ("repo:*", "--repo OWNER/REPO", "repo:OWNER/REPO:*"),
        ("repo:acme*", "--repo acme/REPO", "repo:acme/REPO:*"),
        ("repo:acme/*", "--repo acme/REPO", "repo:acme/REPO:*"),
        (
            "repo:acme/*:ref:refs/heads/main",
            "--repo acme/REPO --branch main",
            "repo:acme/REPO:ref:refs/heads/main",
        ),
        (
            "repo:acme/*:environment:prod",
            "--repo acme/REPO --environment prod",
            "repo:acme/REPO:environment:prod",
        ),
        (
            "repo:acme@123/*",
            "--repo acme/REPO --owner-id 123 --repo-id REPO_ID",
            "repo:acme@123/REPO@REPO_ID:*",
        ),
        ("*", "--repo OWNER/REPO", "repo:OWNER/REPO:*"),
    ];
    for (pattern, args, subject) in cases {
        let finding = only_finding(github_sub("StringLike", json!(pattern)));
        assert_eq!(
            finding.fix.command().as_deref(),
            Some(
                format!("vault-ci trust-policy --provider github {args} --account-id 123456789012")
                    .as_str()
            ),
            "{pattern}"
        );
        let condition = finding.fix.condition.as_ref().unwrap();
        let sub = condition["StringLike"]["token.actions.githubusercontent.com:sub"]
            .as_str()
            .or(condition["StringEquals"]["token.actions.githubusercontent.com:sub"].as_str());
        assert_eq!(sub, Some(subject), "{pattern}");
        assert_eq!(
            condition["StringEquals"]["token.actions.githubusercontent.com:aud"],
            "sts.amazonaws.com"
        );
    }
    // With no sub at all, GitHub's default audience still names the owner.
    let finding = only_finding(github(json!({
        "StringEquals": { "token.actions.githubusercontent.com:aud": "https://github.com/acme" }
    })));
    assert_eq!(
        finding.fix.command().as_deref(),
        Some(
            "vault-ci trust-policy --provider github --repo acme/REPO --audience https://github.com/acme --account-id 123456789012"
        )
    );
}

#[test]
fn what_each_pattern_admits() {
    let cases = [
        ("repo:*", OtherOwners, "any repository on GitHub"),
        ("*", OtherOwners, "any repository on GitHub"),
        (
            "repo:acme*",
            OtherOwners,
            "the repositories of every owner whose name starts with \"acme\", such as acme-evil/…",
        ),
        (
            "repo:acme/*",
            WholeOwner,
            "every present and future repository of acme",
        ),
        (
            "repo:acme/app*",
            WholeOwner,
            "every repository of acme whose name starts with \"app\"",
        ),
        (
            "repo:acme@123/*",
            WholeOwner,
            "every present and future repository of acme@123",
        ),
        (
            "repository_owner:acme:*",
            WholeOwner,
            "every present and future repository of acme",
        ),
        (
            "ref:refs/heads/main",
            OtherOwners,
            "any repository on GitHub: the pattern names no owner",
        ),
    ];
    for (pattern, class, admits) in cases {
        let finding = only_finding(github_sub("StringLike", json!(pattern)));
        assert_eq!(
            (finding.class, finding.admits.as_str()),
            (class, admits),
            "{pattern}"
        );
        assert_eq!(finding.value.as_deref(), Some(pattern));
    }
    // One repository, any ref, with or without wildcards: nothing to say.
    for pattern in [
        "repo:acme/app:*",
        "repo:acme/app:ref:refs/heads/*",
        "repo:acme@1/app@2:*",
        "repo:acme/app",
        "repository_id:74:*",
        "repository_owner:acme:repo:acme/app:*",
        "nonsense*",
    ] {
        assert_eq!(
            classes(&github_sub("StringLike", json!(pattern))),
            [],
            "{pattern}"
        );
    }
    // StringEquals compares literally: `*` there is just a character.
    let literal = github(json!({ "StringEquals": {
        "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
        "token.actions.githubusercontent.com:sub": "repo:*",
    } }));
    assert_eq!(classes(&literal), []);
    // Only the text before the first wildcard is read: a repository named
    // after it is not seen (reported, conservatively).
    let late = "job_workflow_ref:acme/ci/.github/workflows/d.yml@*:repo:acme/app";
    assert_eq!(
        classes(&github_sub("StringLike", json!(late))),
        [OtherOwners]
    );
}

#[test]
fn conditions_are_anded_and_values_ored() {
    // Two conditions: the narrower one decides.
    let policy = github(json!({
        "StringEquals": {
            "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
            "token.actions.githubusercontent.com:sub": "repo:acme/app:ref:refs/heads/main",
        },
        "StringLike": { "token.actions.githubusercontent.com:sub": "repo:*" },
    }));
    assert_eq!(classes(&policy), []);
    // Whichever comes first.
    let policy = github(json!({
        "StringLike": { "token.actions.githubusercontent.com:sub": "repo:acme/*" },
        "StringEquals": {
            "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
            "token.actions.githubusercontent.com:sub": "repo:acme/app:ref:refs/heads/main",
        },
    }));
    assert_eq!(classes(&policy), []);
    // Each value too wide is a finding, of the same class or not.
    let policy = github_sub("StringLike", json!(["repo:acme/*", "repo:beta/*"]));
    assert_eq!(classes(&policy), [WholeOwner, WholeOwner]);
    // One list: the widest value decides.
    let policy = github_sub(
        "ForAnyValue:StringLike",
        json!(["repo:acme/app:*", "repo:acme/*"]),
    );
    let finding = only_finding(policy);
    assert_eq!(
        (finding.class, finding.value.as_deref()),
        (WholeOwner, Some("repo:acme/*"))
    );
}

#[test]
fn keys_are_case_insensitive_operator_names_are_not() {
    let policy = github(json!({
        "StringEquals": {
            "Token.Actions.GitHubUserContent.com:AUD": "sts.amazonaws.com",
            "TOKEN.ACTIONS.GITHUBUSERCONTENT.COM:Sub": "repo:acme/app:ref:refs/heads/main",
        }
    }));
    assert_eq!(classes(&policy), []);
    // IAM refuses "stringequals" when the role is written; read here, it
    // narrows nothing.
    let policy = github(json!({
        "StringEquals": { "token.actions.githubusercontent.com:aud": "sts.amazonaws.com" },
        "stringequals": { "token.actions.githubusercontent.com:sub": "repo:acme/app:*" },
    }));
    assert_eq!(classes(&policy), [OtherOwners]);
}

#[test]
fn if_exists_and_for_all_values_narrow_only_keys_the_token_carries() {
    // `sub` is in every token: these narrow it as the plain operator would.
    for operator in [
        "StringLikeIfExists",
        "ForAllValues:StringLike",
        "ForAnyValue:StringLike",
    ] {
        assert_eq!(
            classes(&github_sub(operator, json!("repo:acme/app:*"))),
            [],
            "{operator}"
        );
    }
    // A typo'd key is absent: false under StringLike (nothing admitted),
    // true under IfExists (nothing narrowed).
    let typo = |operator: &str| {
        github(json!({
            "StringEquals": { "token.actions.githubusercontent.com:aud": "sts.amazonaws.com" },
            operator: { "token.actions.githubusercontent.com/sub": "repo:acme/app:*" },
        }))
    };
    assert_eq!(classes(&typo("StringLike")), [AdmitsNothing]);
    assert_eq!(classes(&typo("StringLikeIfExists")), [OtherOwners]);
    let finding = only_finding(typo("StringLike"));
    assert_eq!(
        finding.fix.command().as_deref(),
        Some("vault-ci trust-policy --provider github --repo acme/app --account-id 123456789012")
    );
}

#[test]
fn deny_statements_admit_nothing_but_can_narrow() {
    let allow = json!({
        "Effect": "Allow",
        "Principal": { "Federated": "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com" },
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": { "StringEquals": { "token.actions.githubusercontent.com:aud": "sts.amazonaws.com" } },
    });
    let deny = |condition: Value| {
        json!({
            "Effect": "Deny",
            "Principal": "*",
            "Action": "sts:*",
            "Condition": condition,
        })
    };
    let narrowing = deny(
        json!({ "StringNotLike": { "token.actions.githubusercontent.com:sub": "repo:acme/app:*" } }),
    );
    let policy = json!({ "Statement": [allow.clone(), narrowing] });
    assert_eq!(classes(&policy), []);
    // A Deny that only sometimes applies narrows nothing.
    let partial = deny(json!({
        "StringNotLike": { "token.actions.githubusercontent.com:sub": "repo:acme/app:*" },
        "IpAddress": { "aws:SourceIp": "192.0.2.0/24" },
    }));
    let policy = json!({ "Statement": [allow.clone(), partial] });
    assert_eq!(classes(&policy), [OtherOwners]);
    // A Deny on its own admits nothing, and says nothing.
    let policy = json!({ "Statement": [deny(json!({}))] });
    assert_eq!(classes(&policy), []);
    // Only a Deny of every other `sub` narrows: not one of another key, nor one
    // that refuses the listed subjects themselves.
    for other in [
        json!({ "StringNotEquals": { "token.actions.githubusercontent.com:aud": "sts.amazonaws.com" } }),
        json!({ "StringLike": { "token.actions.githubusercontent.com:sub": "repo:acme/app:*" } }),
        json!({ "ForAnyValue:StringNotLike": { "token.actions.githubusercontent.com:sub": "repo:acme/app:*" } }),
        json!({ "StringNotLike": { "token.actions.githubusercontent.com:sub": [] } }),
    ] {
        let policy = json!({ "Statement": [allow.clone(), deny(other.clone())] });
        assert_eq!(classes(&policy), [OtherOwners], "{other}");
    }
}

#[test]
fn aws_principals_need_a_condition_on_the_callers_account() {
    let star = |condition: Value| {
        json!({ "Statement": [{
            "Effect": "Allow",
            "Principal": { "AWS": "*" },
            "Action": "sts:AssumeRole",
            "Condition": condition,
        }]})
    };
    for pinned in [
        json!({ "StringEquals": { "aws:PrincipalAccount": "123456789012" } }),
        json!({ "StringEquals": { "AWS:principalorgid": "o-a1b2c3d4e5" } }),
        json!({ "ArnLike": { "aws:PrincipalArn": "arn:aws:iam::123456789012:role/*" } }),
        json!({ "ForAnyValue:StringLike": { "aws:PrincipalOrgPaths": "o-a1b2c3d4e5/r-ab12/*" } }),
        json!({ "StringLike": { "aws:userid": "AROAEXAMPLE:*" } }),
    ] {
        assert_eq!(classes(&star(pinned.clone())), [], "{pinned}");
    }
    for open in [
        json!({}),
        json!({ "StringEquals": { "sts:ExternalId": "shared" } }),
        json!({ "StringLike": { "aws:PrincipalAccount": "*" } }),
        json!({ "ArnLike": { "aws:PrincipalArn": "arn:aws:iam::*:role/deploy" } }),
        json!({ "StringEqualsIfExists": { "aws:SourceAccount": "123456789012" } }),
        json!({ "StringNotEquals": { "aws:PrincipalAccount": "111122223333" } }),
        json!({ "StringLike": { "aws:userid": "AROAEXAMPLE*" } }),
        json!({ "StringLike": { "aws:PrincipalAccount": "1234*" } }),
        json!({ "StringEquals": { "aws:userid": "" } }),
    ] {
        assert_eq!(classes(&star(open.clone())), [OtherOwners], "{open}");
    }
    // Actions that do not include sts:AssumeRole are not this check's.
    let policy = json!({ "Statement": [{ "Effect": "Allow", "Principal": "*", "Action": "sts:GetCallerIdentity" }] });
    assert_eq!(classes(&policy), []);
    // A Deny for everyone outside the organization narrows the Allow.
    let policy = json!({ "Statement": [
        { "Effect": "Allow", "Principal": { "AWS": "*" }, "Action": "sts:AssumeRole" },
        { "Effect": "Deny", "Principal": "*", "Action": "sts:AssumeRole",
          "Condition": { "StringNotEquals": { "aws:PrincipalOrgID": "o-a1b2c3d4e5" } } },
    ]});
    assert_eq!(classes(&policy), []);
    // …as does one for everyone but a named principal outside it.
    let policy = json!({ "Statement": [
        { "Effect": "Allow", "Principal": { "AWS": "*" }, "Action": "sts:AssumeRole" },
        { "Effect": "Deny", "NotPrincipal": { "AWS": "arn:aws:iam::123456789012:root" }, "Action": "sts:AssumeRole",
          "Condition": { "StringNotEquals": { "aws:PrincipalOrgID": "o-a1b2c3d4e5" } } },
    ]});
    assert_eq!(classes(&policy), []);
    // Not one for a named principal only.
    let policy = json!({ "Statement": [
        { "Effect": "Allow", "Principal": { "AWS": "*" }, "Action": "sts:AssumeRole" },
        { "Effect": "Deny", "Principal": { "AWS": "arn:aws:iam::123456789012:root" }, "Action": "sts:AssumeRole",
          "Condition": { "StringNotEquals": { "aws:PrincipalOrgID": "o-a1b2c3d4e5" } } },
    ]});
    assert_eq!(classes(&policy), [OtherOwners]);
    // Not one that leaves AssumeRole alone, or denies the organization itself.
    for (action, condition) in [
        (
            "sts:TagSession",
            json!({ "StringNotEquals": { "aws:PrincipalOrgID": "o-a1b2c3d4e5" } }),
        ),
        (
            "sts:AssumeRole",
            json!({ "StringEquals": { "aws:PrincipalOrgID": "o-a1b2c3d4e5" } }),
        ),
    ] {
        let policy = json!({ "Statement": [
            { "Effect": "Allow", "Principal": { "AWS": "*" }, "Action": "sts:AssumeRole" },
            { "Effect": "Deny", "Principal": "*", "Action": action, "Condition": condition },
        ]});
        assert_eq!(classes(&policy), [OtherOwners], "{action} {condition}");
    }
    // The fix names the role's own account when get-role output says it.
    let output = json!({ "Role": { "Arn": "arn:aws:iam::210987654321:role/x", "AssumeRolePolicyDocument": star(json!({})) } });
    assert_eq!(
        only_finding(output).fix.condition.unwrap(),
        json!({ "StringEquals": { "aws:PrincipalAccount": "210987654321" } })
    );
}

#[test]
fn actions_follow_iam_wildcards() {
    for action in [
        json!("sts:AssumeRoleWithWebIdentity"),
        json!("STS:assumerole*"),
        json!("*"),
        json!(["s3:GetObject", "sts:*"]),
    ] {
        let mut policy = github(
            json!({ "StringEquals": { "token.actions.githubusercontent.com:aud": "sts.amazonaws.com" } }),
        );
        policy["Statement"][0]["Action"] = action.clone();
        assert_eq!(classes(&policy), [OtherOwners], "{action}");
    }
    let mut policy = github(json!({}));
    policy["Statement"][0]["Action"] = json!("sts:AssumeRole");
    assert_eq!(classes(&policy), []);
    let mut policy = github(json!({}));
    policy["Statement"][0]
        .as_object_mut()
        .unwrap()
        .remove("Action");
    policy["Statement"][0]["NotAction"] = json!("s3:*");
    assert_eq!(classes(&policy), [OtherOwners, NoAudience]);
}

#[test]
fn other_providers_and_their_issuers() {
    let statement = |issuer: &str, condition: Value| {
        json!({ "Statement": [{
            "Effect": "Allow",
            "Principal": { "Federated": format!("arn:aws:iam::123456789012:oidc-provider/{issuer}") },
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": condition,
        }]})
    };
    // GHE.com: one enterprise's issuer; no sub admits that enterprise.
    let policy = statement("token.actions.octocorp.ghe.com", json!({}));
    let finding = only_finding(policy);
    assert_eq!(finding.class, WholeOwner);
    assert_eq!(
        finding.admits,
        "every present and future repository of the GitHub enterprise octocorp"
    );
    assert_eq!(
        finding.fix.command().as_deref(),
        Some(
            "vault-ci trust-policy --provider github --repo OWNER/REPO --issuer token.actions.octocorp.ghe.com --account-id 123456789012"
        )
    );
    // A token from the enterprise issuer carries the enterprise issuer's keys.
    let policy = statement(
        "token.actions.githubusercontent.com/octocat-inc",
        json!({ "StringLike": { "token.actions.githubusercontent.com:sub": "repo:octocat-inc/app:*" } }),
    );
    assert_eq!(classes(&policy), [AdmitsNothing]);
    // gitlab.com shares its audience with every customer; a self-managed
    // instance (recognised by project_path:) does not.
    let policy = statement(
        "gitlab.com",
        json!({ "StringLike": { "gitlab.com:sub": "project_path:g/p:*" } }),
    );
    let finding = only_finding(policy);
    assert_eq!(finding.class, NoAudience);
    assert_eq!(
        finding.fix.command().as_deref(),
        Some(
            "vault-ci trust-policy --provider gitlab --project-path g/p --account-id 123456789012"
        )
    );
    let policy = statement(
        "gitlab.example.com",
        json!({ "StringLike": { "gitlab.example.com:sub": "project_path:g/sub/*:ref_type:tag:ref:v*" } }),
    );
    let finding = only_finding(policy);
    assert_eq!(
        (finding.class, finding.admits.as_str()),
        (WholeOwner, "every present and future project under g/sub")
    );
    assert_eq!(
        finding.fix.command().as_deref(),
        Some(
            "vault-ci trust-policy --provider gitlab --project-path g/sub/PROJECT --tag 'v*' --issuer gitlab.example.com --account-id 123456789012"
        )
    );
    // Buildkite: a sub pattern, or the session tags its docs use.
    let policy = statement(
        "agent.buildkite.com",
        json!({ "StringEquals": { "agent.buildkite.com:aud": "sts.amazonaws.com" },
                "StringLike": { "agent.buildkite.com:sub": "organization:acme:*" } }),
    );
    let finding = only_finding(policy);
    assert_eq!(finding.class, WholeOwner);
    assert_eq!(
        finding.fix.command().as_deref(),
        Some(
            "vault-ci trust-policy --provider buildkite --organization acme --pipeline PIPELINE --account-id 123456789012"
        )
    );
    let policy = statement(
        "agent.buildkite.com",
        json!({ "StringEquals": { "agent.buildkite.com:aud": "sts.amazonaws.com",
                                  "aws:RequestTag/organization_slug": "acme" } }),
    );
    let finding = only_finding(policy);
    assert_eq!(
        (finding.class, finding.key.as_str()),
        (WholeOwner, "aws:RequestTag/organization_slug")
    );
    assert_eq!(
        finding.fix.command().as_deref(),
        Some(
            "vault-ci trust-policy --provider buildkite --organization acme --pipeline PIPELINE --account-id 123456789012"
        )
    );
    // CircleCI and Bitbucket: the issuer names the owner already.
    let org = "11111111-2222-3333-4444-555555555555";
    let issuer = format!("oidc.circleci.com/org/{org}");
    let policy = statement(
        &issuer,
        json!({ "StringEquals": { format!("{issuer}:aud"): org } }),
    );
    let finding = only_finding(policy);
    assert_eq!(finding.class, WholeOwner);
    assert_eq!(
        finding.fix.command(),
        Some(format!(
            "vault-ci trust-policy --provider circleci --org-id {org} --project-id PROJECT_ID --account-id 123456789012"
        ))
    );
    let policy = statement(
        &issuer,
        json!({ "StringLike": { format!("{issuer}:sub"): "org/99999999-2222-3333-4444-555555555555/*" } }),
    );
    assert_eq!(
        classes(&policy),
        [],
        "another organization's sub matches nothing from this issuer"
    );
    let issuer = "api.bitbucket.org/2.0/workspaces/acme/pipelines-config/identity/oidc";
    let policy = statement(
        issuer,
        json!({ "StringLike": { format!("{issuer}:sub"): "{9a8b7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c5d}:*" } }),
    );
    assert_eq!(classes(&policy), []);
    // Any other issuer: only a missing or all-wildcard sub is judged; what a
    // pattern or a value reaches is its CI's grammar, which vault-ci lacks.
    for sub in ["system:*", "system:serviceaccount:ns:deploy"] {
        let policy = statement(
            "oidc.example.com",
            json!({ "StringLike": { "oidc.example.com:sub": sub } }),
        );
        let finding = only_finding(policy);
        assert_eq!(finding.class, NotJudged, "{sub}");
        assert_eq!(
            finding.to_string(),
            "not judged: statement 1: the condition on oidc.example.com:sub: \
             vault-ci does not know the `sub` grammar of oidc.example.com"
        );
        assert_eq!(finding.fix.to_string(), "");
    }
    let policy = statement(
        "oidc.example.com",
        json!({ "StringLike": { "oidc.example.com:sub": ["*", "system:*"] } }),
    );
    assert_eq!(classes(&policy), [OtherOwners, NotJudged]);
    let finding = only_finding(statement("oidc.example.com", json!({})));
    assert_eq!((finding.class, finding.fix.command()), (OtherOwners, None));
    assert_eq!(
        finding.fix.condition.unwrap(),
        json!({ "StringEquals": { "oidc.example.com:aud": "AUDIENCE", "oidc.example.com:sub": "SUBJECT" } })
    );
}

#[test]
fn a_star_principal_is_read_as_the_issuers_its_conditions_name() {
    let star = |condition: Value| {
        json!({ "Statement": [{
            "Effect": "Allow", "Principal": "*", "Action": "sts:*", "Condition": condition,
        }]})
    };
    // GitHub's keys are false for every other issuer's tokens and for AWS
    // callers: this admits one repository and nothing else.
    let policy = star(json!({ "StringEquals": {
        "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
        "token.actions.githubusercontent.com:sub": "repo:acme/app:ref:refs/heads/main",
    } }));
    assert_eq!(classes(&policy), []);
    // Under IfExists they are true for everyone else.
    let policy = star(json!({ "StringLikeIfExists": {
        "token.actions.githubusercontent.com:sub": "repo:acme/app:*",
    } }));
    assert_eq!(classes(&policy), [OtherOwners, OtherOwners]);
    // Keys are compared, never cut: non-ASCII text is just text (and `é`,
    // a key no request carries, makes the statement admit nothing).
    let policy = star(json!({ "StringEquals": { "tökén.example.com:sub": "x", "é": "y" } }));
    assert_eq!(classes(&policy), [AdmitsNothing]);
}

#[test]
fn inputs_that_are_not_trust_policies_are_errors() {
    assert!(check(&json!({})).is_err());
    assert!(check(&json!({ "Statement": "x" })).is_err());
    assert!(check(&json!({ "Statement": [1] })).is_err());
    assert!(check(&json!({ "Role": { "AssumeRolePolicyDocument": "not json" } })).is_err());
    // A lone statement object is a statement list of one.
    let mut policy = github(json!({}));
    policy["Statement"] = policy["Statement"][0].clone();
    assert_eq!(classes(&policy), [OtherOwners, NoAudience]);
}

#[test]
fn each_finding_is_one_line_and_its_fix_a_condition_block() {
    let policy = github(
        json!({ "StringEquals": { "token.actions.githubusercontent.com:aud": "sts.amazonaws.com" } }),
    );
    let mut policy_with_sid = policy.clone();
    policy_with_sid["Statement"][0]["Sid"] = json!("GitHubDeploy");
    let findings = check(&policy_with_sid).unwrap();
    assert_eq!(
        findings[0].to_string(),
        "high: statement 1 (GitHubDeploy): no condition on token.actions.githubusercontent.com:sub admits any repository on GitHub"
    );
    let fix = findings[0].fix.to_string();
    assert!(fix.starts_with(
        "  fix: the Condition `vault-ci trust-policy --provider github --repo OWNER/REPO --account-id 123456789012` prints:\n    {\n"
    ), "{fix}");
    let block: String = fix
        .lines()
        .skip(1)
        .map(|l| format!("{}\n", &l[4..]))
        .collect();
    assert_eq!(
        serde_json::from_str::<Value>(&block).unwrap(),
        findings[0].fix.condition.clone().unwrap()
    );
    // Two findings with one fix: the fix is printed once, after both.
    let findings = check(&github(json!({}))).unwrap();
    let report = report(&findings);
    assert_eq!(report.matches("fix:").count(), 1, "{report}");
    assert!(
        report.starts_with(
            "high: statement 1: no condition on token.actions.githubusercontent.com:sub"
        )
    );
    assert!(
        report.lines().nth(1).unwrap().starts_with(
            "low: statement 1: no condition on token.actions.githubusercontent.com:aud"
        )
    );
    assert!(findings.iter().all(|f| !f.to_string().contains('\n')));
}

// ── every policy trust-policy prints passes ─────────────────────────────

fn args(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| w.to_string()).collect()
}

fn pick(flag: &'static str) -> impl Fn(String) -> Vec<String> {
    move |value| vec![flag.to_string(), value]
}

fn uuid() -> impl Strategy<Value = String> {
    "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
}

fn branch_or_tag() -> impl Strategy<Value = Vec<String>> {
    prop_oneof![
        Just(Vec::new()),
        "[A-Za-z0-9_][A-Za-z0-9._/-]{0,15}\\*?".prop_map(pick("--branch")),
        "v[0-9][0-9.]{0,5}\\*?".prop_map(pick("--tag")),
    ]
}

/// trust-policy's arguments for one CI, and whether they name a whole
/// owner (`--repo owner/*`, no project/pipeline/repository given).
fn trust_policy_args() -> impl Strategy<Value = (Vec<String>, bool)> {
    let github = (
        "[A-Za-z0-9]([A-Za-z0-9-]{0,8}[A-Za-z0-9])?",
        proptest::option::of("[A-Za-z0-9_][A-Za-z0-9._-]{0,12}"),
        proptest::option::of(("[1-9][0-9]{0,8}", "[1-9][0-9]{0,8}")),
        prop_oneof![
            Just(Vec::new()),
            "[A-Za-z0-9_][A-Za-z0-9._/-]{0,15}\\*?".prop_map(pick("--branch")),
            "v[0-9][0-9.]{0,5}\\*?".prop_map(pick("--tag")),
            "[A-Za-z0-9_][A-Za-z0-9 _.-]{0,12}".prop_map(pick("--environment")),
            Just(args(&["--pull-request"])),
        ],
        prop_oneof![
            Just(Vec::new()),
            Just(args(&[
                "--issuer",
                "https://ghes.example.com/_services/token"
            ])),
            Just(args(&[
                "--issuer",
                "token.actions.githubusercontent.com/octocat-inc"
            ])),
            Just(args(&[
                "--issuer",
                "https://token.actions.octocorp.ghe.com"
            ])),
        ],
    )
        .prop_map(|(owner, repo, ids, context, issuer)| {
            let mut argv = args(&["--provider", "github", "--repo"]);
            argv.push(format!("{owner}/{}", repo.as_deref().unwrap_or("*")));
            if let (Some((owner_id, repo_id)), Some(_)) = (ids, &repo) {
                argv.extend(["--owner-id".into(), owner_id, "--repo-id".into(), repo_id]);
            }
            argv.extend(context);
            argv.extend(issuer);
            (argv, repo.is_none())
        });
    let gitlab = (
        "[A-Za-z0-9_][A-Za-z0-9_.-]{0,10}(/[A-Za-z0-9_][A-Za-z0-9_.-]{0,10}){0,2}",
        proptest::option::of("[A-Za-z0-9_][A-Za-z0-9_.-]{0,10}"),
        branch_or_tag(),
        prop_oneof![
            Just(Vec::new()),
            Just(args(&["--issuer", "https://gitlab.example.com"]))
        ],
    )
        .prop_map(|(groups, project, context, issuer)| {
            let mut argv = args(&["--provider", "gitlab", "--project-path"]);
            argv.push(format!("{groups}/{}", project.as_deref().unwrap_or("*")));
            argv.extend(context);
            argv.extend(issuer);
            (argv, project.is_none())
        });
    let circleci = (uuid(), proptest::option::of(uuid()), branch_or_tag()).prop_map(
        |(org, project, context)| {
            let mut argv = args(&["--provider", "circleci", "--org-id"]);
            argv.push(org);
            if let Some(project) = &project {
                argv.extend(["--project-id".into(), project.clone()]);
            }
            argv.extend(context);
            (argv, project.is_none())
        },
    );
    let buildkite = (
        "[a-z0-9][a-z0-9-]{0,10}",
        proptest::option::of("[a-z0-9][a-z0-9-]{0,10}"),
        branch_or_tag(),
    )
        .prop_map(|(organization, pipeline, context)| {
            let mut argv = args(&["--provider", "buildkite", "--organization"]);
            argv.push(organization);
            if let Some(pipeline) = &pipeline {
                argv.extend(["--pipeline".into(), pipeline.clone()]);
            }
            argv.extend(context);
            (argv, pipeline.is_none())
        });
    let bitbucket = (
        "[a-z0-9][a-z0-9_-]{0,10}",
        uuid(),
        proptest::option::of(uuid()),
        proptest::option::of(uuid()),
    )
        .prop_map(|(workspace, workspace_uuid, repo, environment)| {
            let mut argv = args(&["--provider", "bitbucket", "--workspace"]);
            argv.extend([
                workspace,
                "--workspace-uuid".into(),
                format!("{{{workspace_uuid}}}"),
            ]);
            if let Some(repo) = &repo {
                argv.extend(["--repo-uuid".into(), repo.clone()]);
            }
            if let Some(environment) = environment {
                argv.extend(["--environment".into(), environment]);
            }
            (argv, repo.is_none())
        });
    let azure = (
        uuid(),
        "[a-z0-9][a-z0-9-]{0,8}",
        "[A-Za-z0-9][A-Za-z0-9 _-]{0,8}",
        prop_oneof![
            "[A-Za-z0-9][A-Za-z0-9 _.-]{0,10}".prop_map(pick("--pipeline")),
            "[A-Za-z0-9][A-Za-z0-9 _.-]{0,10}".prop_map(pick("--service-connection")),
        ],
        proptest::option::of((uuid(), uuid())),
        any::<bool>(),
    )
        .prop_map(|(org_id, organization, project, which, entra, devops)| {
            let mut argv = args(&["--provider", "azure", "--org-id", &org_id]);
            if devops || entra.is_none() {
                argv.extend(["--organization".into(), organization]);
                if which[0] == "--pipeline" {
                    argv.extend(which.clone());
                }
                argv.extend(["--project".into(), project]);
                if which[0] == "--service-connection" {
                    argv.extend(which);
                }
            }
            if let Some((connection, tenant)) = entra {
                argv.extend([
                    "--service-connection-id".into(),
                    connection,
                    "--tenant-id".into(),
                    tenant,
                ]);
            }
            (argv, false)
        });
    let jenkins = (
        "[A-Za-z0-9_][A-Za-z0-9 _.-]{0,8}(/[A-Za-z0-9_][A-Za-z0-9 _.-]{0,8}){0,2}",
        prop_oneof![
            Just((None, false)),
            Just((Some("jenkins:${JOB_NAME}"), false)),
            Just((Some("${JOB_URL}#${BUILD_NUMBER}"), true)),
        ],
        prop_oneof![
            Just("https://jenkins.example.com/oidc"),
            Just("jenkins.example.com/ci/job/team/oidc"),
        ],
    )
        .prop_map(|(job, (template, wild), issuer)| {
            let mut argv = args(&["--provider", "jenkins", "--job", &job]);
            if let Some(template) = template {
                argv.extend(["--claim-template".into(), template.into()]);
            }
            argv.extend(["--issuer".into(), issuer.into()]);
            (argv, wild)
        });
    let forgejo = (
        "[A-Za-z0-9]([A-Za-z0-9-]{0,8}[A-Za-z0-9])?/[A-Za-z0-9_][A-Za-z0-9._-]{0,12}",
        proptest::option::of(("[1-9][0-9]{0,8}", "[1-9][0-9]{0,8}")),
        prop_oneof![
            Just(Vec::new()),
            "[A-Za-z0-9_][A-Za-z0-9._/-]{0,15}\\*?".prop_map(pick("--branch")),
            "v[0-9][0-9.]{0,5}\\*?".prop_map(pick("--tag")),
            Just(args(&["--pull-request"])),
        ],
        prop_oneof![
            Just(Vec::new()),
            Just(args(&["--issuer", "https://git.example.com/api/actions"]))
        ],
    )
        .prop_map(|(repo, ids, context, issuer)| {
            let mut argv = args(&["--provider", "forgejo", "--repo", &repo]);
            if let Some((owner_id, repo_id)) = ids {
                argv.extend(["--owner-id".into(), owner_id, "--repo-id".into(), repo_id]);
            }
            argv.extend(context);
            argv.extend(issuer);
            (argv, false)
        });
    let google = (
        "[1-9][0-9]{0,20}",
        proptest::option::of("[a-z][a-z0-9.:/-]{0,20}"),
    )
        .prop_map(|(id, audience)| {
            let mut argv = args(&["--provider", "google", "--service-account-id", &id]);
            if let Some(audience) = audience {
                argv.extend(["--audience".into(), audience]);
            }
            (argv, false)
        });
    prop_oneof![
        github, gitlab, circleci, buildkite, bitbucket, azure, jenkins, forgejo, google
    ]
}

#[test]
fn the_issue_21_cis_and_their_issuers() {
    let statement = |federated: &str, condition: Value| {
        json!({ "Statement": [{
            "Effect": "Allow",
            "Principal": { "Federated": federated },
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": condition,
        }]})
    };
    let provider = |issuer: &str| format!("arn:aws:iam::123456789012:oidc-provider/{issuer}");
    // Google: the built-in principal. Only `aud` (the token's azp) or `sub`
    // narrows it: `oaud` is whatever audience the caller asked for.
    let google = "accounts.google.com";
    for condition in [
        json!({}),
        json!({ "StringEquals": { "accounts.google.com:oaud": "sts.amazonaws.com" } }),
    ] {
        let finding = only_finding(statement(google, condition));
        assert_eq!(finding.class, OtherOwners);
        assert_eq!(
            finding.to_string(),
            "high: statement 1: no condition on accounts.google.com:sub admits any Google account's \
             token: every service account of every Google Cloud project, and every person with a \
             Google account"
        );
        assert_eq!(
            finding.fix.command().as_deref(),
            Some("vault-ci trust-policy --provider google --service-account-id SERVICE_ACCOUNT_ID")
        );
    }
    let id = "100018646976219416293";
    for key in ["accounts.google.com:aud", "accounts.google.com:sub"] {
        let policy = statement(google, json!({ "StringEquals": { key: id } }));
        assert_eq!(classes(&policy), [], "{key}");
    }
    let finding = only_finding(statement(
        google,
        json!({ "StringLike": { "accounts.google.com:sub": "1000*" },
                "StringEquals": { "accounts.google.com:oaud": "deploy" } }),
    ));
    assert_eq!(finding.class, OtherOwners);
    assert_eq!(
        finding.fix.command().as_deref(),
        Some(
            "vault-ci trust-policy --provider google --service-account-id SERVICE_ACCOUNT_ID --audience deploy"
        )
    );
    // Azure DevOps: the organization's issuer; a project's every service connection.
    let org = "0ca3ddd9-f0b0-4635-a98c-5866526961b6";
    let issuer = format!("vstoken.dev.azure.com/{org}");
    let finding = only_finding(statement(
        &provider(&issuer),
        json!({ "StringLike": { format!("{issuer}:sub"): "sc://acme/web/*" } }),
    ));
    assert_eq!(
        (finding.class, finding.admits.as_str()),
        (
            WholeOwner,
            "every service connection of the Azure DevOps project acme/web"
        )
    );
    assert_eq!(
        finding.fix.command(),
        Some(format!(
            "vault-ci trust-policy --provider azure --org-id {org} --organization acme --project web \
             --service-connection SERVICE_CONNECTION --account-id 123456789012"
        ))
    );
    // The Entra issuer: a tenant's, with no sub every workload of it.
    let tenant = "ff882432-09b0-437b-bd22-ca13c0037ded";
    let entra = format!("login.microsoftonline.com/{tenant}/v2.0");
    let finding = only_finding(statement(
        &provider(&entra),
        json!({ "StringEquals": { format!("{entra}:aud"): "fb60f99c-7a34-4190-8149-302f77469936" } }),
    ));
    assert_eq!(finding.class, WholeOwner);
    assert_eq!(
        finding.fix.command(),
        Some(format!(
            "vault-ci trust-policy --provider azure --org-id ORG_ID --service-connection-id \
             SERVICE_CONNECTION_ID --tenant-id {tenant} --account-id 123456789012"
        ))
    );
    // Jenkins: the plugin README's statement is one job; a folder wildcard is the folder.
    let jenkins = "jenkins.acme.com/oidc";
    let policy = statement(
        &provider(jenkins),
        json!({ "StringEquals": { "jenkins.acme.com/oidc:aud": "sts.amazonaws.com",
                                  "jenkins.acme.com/oidc:sub": "https://jenkins.acme.com/job/my-job/" } }),
    );
    assert_eq!(classes(&policy), []);
    let finding = only_finding(statement(
        &provider(jenkins),
        json!({ "StringLike": { "jenkins.acme.com/oidc:sub": "https://jenkins.acme.com/job/team/*" } }),
    ));
    assert_eq!(
        (finding.class, finding.admits.as_str()),
        (WholeOwner, "every job under team")
    );
    assert_eq!(
        finding.fix.command().as_deref(),
        Some(
            "vault-ci trust-policy --provider jenkins --job team/JOB --issuer jenkins.acme.com/oidc \
             --account-id 123456789012"
        )
    );
    // Forgejo: an instance every user can create repositories on.
    let forgejo = "codeberg.org/api/actions";
    let finding = only_finding(statement(
        &provider(forgejo),
        json!({ "StringEquals": { "codeberg.org/api/actions:aud": "sts.amazonaws.com" },
                "StringLike": { "codeberg.org/api/actions:sub": "repo:acme*" } }),
    ));
    assert_eq!(
        (finding.class, finding.admits.as_str()),
        (
            OtherOwners,
            "the repositories of every owner whose name starts with \"acme\", such as acme-evil/…"
        )
    );
    assert_eq!(
        finding.fix.command().as_deref(),
        Some("vault-ci trust-policy --provider forgejo --repo acme/REPO --account-id 123456789012")
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn every_policy_trust_policy_prints_passes((argv, whole_owner) in trust_policy_args()) {
        use clap::{Args, FromArgMatches};
        let command = crate::cli::TrustPolicyArgs::augment_args(
            clap::Command::new("trust-policy").no_binary_name(true),
        )
        .mut_args(|arg| arg.env(None::<&'static str>));
        let matches = command.try_get_matches_from(&argv).unwrap();
        let parsed = crate::cli::TrustPolicyArgs::from_arg_matches(&matches).unwrap();
        // Scope::to_args is trust-policy's own command line, in its order.
        let scope = crate::cmd::trust_policy::scope(&parsed);
        prop_assert_eq!(&scope.to_args()[..], &argv[2..]);
        // trust-policy prints only what its check finds tight; it refuses the rest.
        let printed = crate::cmd::trust_policy::subjects(&parsed);
        prop_assert_eq!(printed.is_err(), whole_owner, "{:?}: {:?}", argv, printed.as_ref().err().map(|e| e.message().to_string()));
        // What the CI's grammar writes for the scope, refused or not, is what the check reads.
        let subjects = parsed.provider.unwrap().system().trust_subjects(&scope).unwrap();
        let document = crate::trust::document(&subjects, "aws", "123456789012");
        let findings = faults(&document);
        let expected: Vec<Class> = if whole_owner { vec![WholeOwner] } else { Vec::new() };
        prop_assert_eq!(
            findings.iter().map(|f| f.class).collect::<Vec<_>>(),
            expected,
            "{:?}\n{:#}\n{:#?}", argv, document, findings
        );
        // And the fix of the whole-owner finding names one repository.
        for finding in &findings {
            assert_fix_is_what_trust_policy_prints(finding);
            let repaired = fixed(&document, finding);
            prop_assert_eq!(classes(&repaired), Vec::<Class>::new());
        }
    }
}

// ── issue 24: no false all-clear ────────────────────────────────────────────

const GITHUB_PROVIDER: &str =
    "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com";

fn statement(effect: &str, principal: Value, condition: Value) -> Value {
    let (key, principal) = match principal.get("Not") {
        Some(not) => ("NotPrincipal", not.clone()),
        None => ("Principal", principal),
    };
    json!({
        "Effect": effect,
        key: principal,
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": condition,
    })
}

#[test]
fn a_deny_narrows_only_the_tokens_its_principal_covers() {
    let aud_only = statement(
        "Allow",
        json!({ "Federated": GITHUB_PROVIDER }),
        json!({ "StringEquals": { "token.actions.githubusercontent.com:aud": "sts.amazonaws.com" } }),
    );
    let refuse_others = json!({ "StringNotLike": { "token.actions.githubusercontent.com:sub": "repo:acme/app:*" } });
    // NotPrincipal naming GitHub's provider: the Deny never applies to its tokens.
    let never = statement(
        "Deny",
        json!({ "Not": { "Federated": GITHUB_PROVIDER } }),
        refuse_others.clone(),
    );
    let policy = json!({ "Statement": [aud_only.clone(), never] });
    assert_eq!(classes(&policy), [OtherOwners]);
    // NotPrincipal naming someone else: it applies, and narrows.
    let applies = statement(
        "Deny",
        json!({ "Not": { "AWS": "arn:aws:iam::123456789012:root" } }),
        refuse_others.clone(),
    );
    assert_eq!(
        classes(&json!({ "Statement": [aud_only.clone(), applies] })),
        []
    );
    // A Deny whose principal is another provider narrows nothing of GitHub's.
    let other = statement(
        "Deny",
        json!({ "Federated": "arn:aws:iam::123456789012:oidc-provider/gitlab.com" }),
        refuse_others,
    );
    assert_eq!(
        classes(&json!({ "Statement": [aud_only, other] })),
        [OtherOwners]
    );
}

#[test]
fn an_allow_with_not_principal_admits_everyone_it_does_not_name() {
    // Not GitHub's: every other issuer's tokens, none of whose `sub` is tested.
    let policy = json!({ "Statement": [statement(
        "Allow",
        json!({ "Not": { "Federated": GITHUB_PROVIDER } }),
        json!({ "StringLike": { "token.actions.githubusercontent.com:sub": "repo:acme/app:*" } }),
    )] });
    assert_eq!(classes(&policy), [OtherOwners]);
    let finding = only_finding(policy);
    assert_eq!(finding.at, "/Statement/0/NotPrincipal");
    // Not GitHub's, but a positive test of gitlab.com's keys: gitlab.com is judged.
    let policy = json!({ "Statement": [statement(
        "Allow",
        json!({ "Not": { "Federated": GITHUB_PROVIDER } }),
        json!({ "StringLike": { "gitlab.com:sub": "project_path:*" } }),
    )] });
    assert_eq!(classes(&policy), [OtherOwners, NoAudience]);
}

#[test]
fn a_principal_that_cannot_be_read_is_not_judged_unless_its_conditions_name_the_issuer() {
    let unresolved = json!({ "Federated": { "Fn::Sub": "arn:aws:iam::${AWS::AccountId}:oidc-provider/token.actions.githubusercontent.com" } });
    let policy = json!({ "Statement": [statement("Allow", unresolved.clone(), json!({}))] });
    let finding = only_finding(policy);
    assert_eq!(finding.class, NotJudged);
    assert_eq!(finding.at, "/Statement/0/Principal");
    assert!(
        finding
            .to_string()
            .starts_with("not judged: statement 1: the principal {\"Fn::Sub\":"),
        "{finding}"
    );
    // Its conditions' positive tests name GitHub: only GitHub's tokens can pass them.
    let policy = json!({ "Statement": [statement(
        "Allow",
        unresolved.clone(),
        json!({ "StringEquals": { "token.actions.githubusercontent.com:aud": "sts.amazonaws.com" } }),
    )] });
    assert_eq!(classes(&policy), [OtherOwners]);
    let policy = json!({ "Statement": [statement(
        "Allow",
        unresolved,
        json!({ "StringEquals": {
            "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
            "token.actions.githubusercontent.com:sub": "repo:acme/app:ref:refs/heads/main",
        } }),
    )] });
    assert_eq!(classes(&policy), []);
    // A name that is no provider's ARN (a template's placeholder) is read the same way;
    // a SAML provider's admits no web identity token at all.
    let aud_only = json!({ "StringEquals": { "token.actions.githubusercontent.com:aud": "sts.amazonaws.com" } });
    for (name, expected) in [
        ("${GitHubOidcProvider}", &[OtherOwners][..]),
        ("arn:aws:iam::123456789012:saml-provider/okta", &[]),
    ] {
        let policy = json!({ "Statement": [statement("Allow", json!({ "Federated": name }), aud_only.clone())] });
        assert_eq!(classes(&policy), expected, "{name}");
    }
    let policy = json!({ "Statement": [statement("Allow", json!({ "Federated": "${GitHubOidcProvider}" }), json!({}))] });
    assert_eq!(classes(&policy), [NotJudged]);
}

#[test]
fn the_built_in_providers_each_pin_their_app() {
    let built_in = |name: &str, condition: Value| json!({ "Statement": [statement("Allow", json!({ "Federated": name }), condition)] });
    let cases = [
        (
            "cognito-identity.amazonaws.com",
            "cognito-identity.amazonaws.com:aud",
            "us-east-1:12345678-1234-1234-1234-123456789012",
        ),
        (
            "www.amazon.com",
            "www.amazon.com:app_id",
            "amzn1.application.1234",
        ),
        (
            "graph.facebook.com",
            "graph.facebook.com:app_id",
            "1234567890",
        ),
    ];
    for (name, key, id) in cases {
        let finding = only_finding(built_in(name, json!({})));
        assert_eq!(
            (finding.class, finding.key.as_str()),
            (OtherOwners, key),
            "{name}"
        );
        assert!(
            finding.fix.condition.as_ref().unwrap()["StringEquals"]
                .get(key)
                .is_some()
        );
        let wild = only_finding(built_in(name, json!({ "StringLike": { key: "*" } })));
        assert_eq!(wild.class, OtherOwners, "{name}");
        let pinned = built_in(name, json!({ "StringEquals": { key: id } }));
        assert_eq!(classes(&pinned), [], "{name}");
    }
    // A pool's guests get the role too unless `amr` says otherwise: a note.
    let pool = built_in(
        "cognito-identity.amazonaws.com",
        json!({ "StringEquals": { "cognito-identity.amazonaws.com:aud": "us-east-1:1" } }),
    );
    let notes: Vec<Class> = check(&pool).unwrap().iter().map(|f| f.class).collect();
    assert_eq!(notes, [Advice]);
    let signed_in = built_in(
        "cognito-identity.amazonaws.com",
        json!({ "StringEquals": { "cognito-identity.amazonaws.com:aud": "us-east-1:1" },
                "ForAnyValue:StringLike": { "cognito-identity.amazonaws.com:amr": "authenticated" } }),
    );
    assert!(check(&signed_in).unwrap().is_empty());
}

#[test]
fn tight_statements_get_todays_practice_as_notes_with_their_fix() {
    let notes = |sub: &str| -> Vec<Finding> {
        check(&github_sub("StringLike", json!(sub)))
            .unwrap()
            .into_iter()
            .inspect(|f| assert_eq!(f.class, Advice, "{f}"))
            .collect()
    };
    let both = notes("repo:acme/app:*");
    assert_eq!(both.len(), 2);
    assert!(
        both[0].admits.starts_with("names acme/app by name"),
        "{}",
        both[0]
    );
    assert_eq!(
        both[0].fix.command().as_deref(),
        Some(
            "vault-ci trust-policy --provider github --repo acme/app --owner-id OWNER_ID --repo-id REPO_ID --account-id 123456789012"
        )
    );
    assert_eq!(
        both[1].fix.command().as_deref(),
        Some(
            "vault-ci trust-policy --provider github --repo acme/app --environment ENVIRONMENT --account-id 123456789012"
        )
    );
    for finding in &both {
        assert_fix_is_what_trust_policy_prints(finding);
    }
    // An environment, and the immutable subject: nothing to add.
    assert_eq!(notes("repo:acme/app:environment:prod").len(), 1);
    assert!(notes("repo:acme@1/app@2:environment:prod").is_empty());
    // A repository_id condition pins the repository as the IDs do.
    let pinned = github(json!({
        "StringEquals": {
            "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
            "token.actions.githubusercontent.com:sub": "repo:acme/app:ref:refs/heads/main",
            "token.actions.githubusercontent.com:repository_id": "74",
        }
    }));
    assert!(check(&pinned).unwrap().is_empty());
    // What is open gets no notes, only its finding.
    assert_eq!(
        check(&github_sub("StringLike", json!("repo:acme/*")))
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn immutable_subjects_with_their_ids_left_to_wildcards_are_one_owners() {
    // GitHub names new repositories `repo:OWNER@ID/REPO@ID:…` (2026-07-15 on);
    // a module that wildcards the IDs pins the names, but its `*` spans `/`.
    let finding = only_finding(github_sub("StringLike", json!(["repo:acme@*/app@*:*"])));
    assert_eq!(finding.class, WholeOwner);
    assert_eq!(
        finding.fix.command().as_deref(),
        Some(
            "vault-ci trust-policy --provider github --repo acme/app --owner-id OWNER_ID --repo-id REPO_ID --account-id 123456789012"
        )
    );
    assert_fix_is_what_trust_policy_prints(&finding);
}
