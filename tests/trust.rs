//! Trust policies only one repository can use: `trust-policy --check` against
//! the policies the AWS, GitHub and GitLab documentation show and the mistakes
//! published write-ups show (tests/fixtures/trust, each file's source in its
//! README), and the CloudFormation template deployed on moto.

use std::path::{Path, PathBuf};

use crate::harness::*;

fn fixtures(kind: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/trust")
        .join(kind)
}

/// The README's table: each file and the severities `--check` must report, in order.
fn expected(kind: &str) -> Vec<(String, Vec<String>)> {
    let readme = std::fs::read_to_string(fixtures(kind).join("README.md")).unwrap();
    readme
        .lines()
        .filter(|l| l.starts_with("| `"))
        .map(|line| {
            let cells: Vec<&str> = line.split(" | ").collect();
            let file = cells[0].trim_start_matches("| `").trim_end_matches('`');
            let column = cells
                .last()
                .unwrap()
                .trim_end_matches(" |")
                .replace("**", "");
            // `high`, `medium, low`, or `medium: why …`: the severities come first.
            let head = column.split([':', '.', '(']).next().unwrap_or_default();
            let severities = head
                .split([',', ' '])
                .filter(|w| ["high", "medium", "low", "broken"].contains(w))
                .map(str::to_string)
                .collect::<Vec<_>>();
            (file.to_string(), severities)
        })
        .collect()
}

fn check(file: &Path) -> Outcome {
    Env::new().vault_ci(["trust-policy", "--check", file.to_str().unwrap()])
}

#[test]
fn the_documented_policies_pass_and_the_published_mistakes_are_named_with_their_fix() {
    for kind in ["safe", "unsafe"] {
        let table = expected(kind);
        assert!(table.len() >= 10, "{kind}: {table:?}");
        for (file, severities) in table {
            let out = check(&fixtures(kind).join(&file));
            let reported: Vec<String> = out
                .stdout
                .lines()
                .filter(|l| !l.starts_with(' '))
                .map(|l| l.split(':').next().unwrap().to_string())
                .collect();
            if severities.is_empty() {
                assert_eq!(out.code, Some(0), "{kind}/{file}:\n{out}");
                assert_eq!(out.stdout, "", "{kind}/{file}");
            } else {
                assert_eq!(out.code, Some(1), "{kind}/{file}:\n{out}");
                assert_eq!(reported, severities, "{kind}/{file}:\n{out}");
                assert!(out.stdout.contains("  fix: "), "{kind}/{file}:\n{out}");
            }
        }
    }
}

#[test]
fn an_aud_only_policy_is_open_to_every_repository_and_the_fix_is_printed() {
    let out = check(&fixtures("unsafe").join("github-aud-only-gist.json"));
    out.failure(1, &["1 finding"]);
    let first = out.stdout.lines().next().unwrap();
    assert!(first.starts_with("high: statement 1"), "{first}");
    assert!(first.contains("admits any repository on GitHub"), "{first}");
}

#[test]
fn a_file_that_is_no_policy_is_bad_usage() {
    let env = Env::new();
    let file = env.write("not.json", "[1, 2]");
    env.vault_ci(["trust-policy", "--check", file.to_str().unwrap()])
        .failure(2, &["--check", "not.json"]);
    let file = env.write("text.json", "hello");
    env.vault_ci(["trust-policy", "--check", file.to_str().unwrap()])
        .failure(2, &["is not JSON"]);
}

#[test]
fn the_cloudformation_template_deploys_the_role_trust_policy_prints() {
    let moto = moto();
    let mut env = Env::new();
    env.sts(moto)
        .set("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
        .set("AWS_SECRET_ACCESS_KEY", "secret");
    let scope = [
        "trust-policy",
        "--provider",
        "github",
        "--repo",
        "octo-org/app",
        "--branch",
        "main",
        "--account-id",
        ACCOUNT,
    ];
    let policy = env.vault_ci(scope).json();
    let mut args = scope.to_vec();
    // moto's CloudFormation has no AWS::IAM::OIDCProvider; the account has one already.
    args.extend(["--format", "cloudformation", "--existing-oidc-provider"]);
    let template = env.vault_ci(&args).success().stdout.clone();
    let file = env.write("role.json", &template);
    env.run(
        "aws",
        [
            "cloudformation",
            "deploy",
            "--template-file",
            file.to_str().unwrap(),
            "--stack-name",
            "ci-role",
            "--parameter-overrides",
            "RoleName=ci-deploy",
            "ManagedPolicyArns=arn:aws:iam::aws:policy/ReadOnlyAccess",
            "--capabilities",
            "CAPABILITY_NAMED_IAM",
        ],
    )
    .success();
    let role = env.run(
        "aws",
        [
            "iam",
            "get-role",
            "--role-name",
            "ci-deploy",
            "--output",
            "json",
        ],
    );
    assert_eq!(role.json()["Role"]["AssumeRolePolicyDocument"], policy);
    let saved = env.write("get-role.json", &role.stdout);
    let out = check(&saved);
    assert_eq!(out.code, Some(0), "{out}");
}

#[test]
fn assume_warns_about_a_trust_policy_open_to_others_before_it_is_used() {
    let env = Env::new();
    let policy = fixtures("unsafe").join("github-repo-star.json");
    let mut env = env;
    env.sts(moto());
    let token = env.write("t.jwt", &mint_token(&[]));
    let out = env.vault_ci([
        "assume",
        "--token-file",
        token.to_str().unwrap(),
        "--role-arn",
        &moto().role("gha-deploy"),
        "--trust-policy",
        policy.to_str().unwrap(),
        "--format",
        "json",
    ]);
    out.success();
    let warning = out
        .stderr
        .lines()
        .find(|l| l.contains("WARN --trust-policy high:"))
        .unwrap_or_else(|| panic!("no warning:\n{out}"));
    assert!(warning.contains("admits"), "{warning}");
    assert!(
        out.stderr
            .contains("fix: the Condition `vault-ci trust-policy --provider github"),
        "{out}"
    );
}
