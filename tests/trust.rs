//! Trust policies only one repository can use: `trust-policy --check` against
//! the policies the AWS, GitHub and GitLab documentation show and the mistakes
//! published write-ups show (tests/fixtures/trust, each file's source in its
//! README), an issuer vault-ci does not know, the CloudFormation template
//! deployed on moto, and `token --trust-policy` on the operators IAM has beyond
//! the plain four.

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
    let token = env.write("t.jwt", &mint_token(&["--aud", "sts.amazonaws.com"]));
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

/// `vault-ci token --trust-policy POLICY` on a GitHub token for `sub`.
fn judge(env: &Env, sub: &str, policy: &serde_json::Value) -> Outcome {
    let token = env.write(
        "t.jwt",
        &mint_token(&["--aud", "sts.amazonaws.com", "--sub", sub]),
    );
    let policy = env.write("policy.json", &policy.to_string());
    env.vault_ci([
        "token",
        "--token-file",
        token.to_str().unwrap(),
        "--trust-policy",
        policy.to_str().unwrap(),
    ])
}

fn github_role(condition: serde_json::Value) -> serde_json::Value {
    serde_json::json!({ "Version": "2012-10-17", "Statement": [{
        "Effect": "Allow",
        "Principal": { "Federated": format!("arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com") },
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": condition,
    }]})
}

#[test]
fn token_refuses_what_ignore_case_if_exists_and_for_any_value_conditions_refuse() {
    let env = Env::new();
    let ours = "repo:octo-org/octo-repo:ref:refs/heads/main";
    let theirs = "repo:evil-org/octo-repo:ref:refs/heads/main";
    for (operator, value) in [
        (
            "StringEqualsIgnoreCase",
            "REPO:OCTO-ORG/OCTO-REPO:REF:REFS/HEADS/MAIN",
        ),
        ("StringLikeIfExists", "repo:octo-org/octo-repo:*"),
        ("ForAnyValue:StringLike", "repo:octo-org/*"),
    ] {
        let policy = github_role(serde_json::json!({
            operator: { "token.actions.githubusercontent.com:sub": value }
        }));
        let admitted = judge(&env, ours, &policy);
        admitted.success();
        assert!(
            admitted.stdout.contains("trust policy: admits this token"),
            "{operator}:\n{admitted}"
        );
        let refused = judge(&env, theirs, &policy);
        assert_eq!(refused.code, Some(1), "{operator}:\n{refused}");
        assert!(
            refused
                .stdout
                .contains("trust policy: does NOT admit this token"),
            "{refused}"
        );
        assert!(
            refused.stdout.contains(&format!(
                "{operator} token.actions.githubusercontent.com:sub wants {value}; the token has {theirs}"
            )),
            "{operator}:\n{refused}"
        );
    }
}

#[test]
fn token_says_so_when_only_sts_can_tell() {
    let env = Env::new();
    // Buildkite's documented shape: an address condition next to the claims.
    let policy = github_role(serde_json::json!({
        "StringLike": { "token.actions.githubusercontent.com:sub": "repo:octo-org/octo-repo:*" },
        "IpAddress": { "aws:SourceIp": "192.0.2.0/24" },
    }));
    let out = judge(&env, "repo:octo-org/octo-repo:ref:refs/heads/main", &policy);
    assert_eq!(out.code, Some(3), "{out}");
    assert!(
        out.stdout.contains("trust policy: may admit this token"),
        "{out}"
    );
    assert!(out.stdout.contains("IpAddress aws:SourceIp"), "{out}");
    // What vault-ci can tell still decides: another repository is refused.
    let out = judge(&env, "repo:evil-org/octo-repo:ref:refs/heads/main", &policy);
    assert_eq!(out.code, Some(1), "{out}");
}

/// A role for an issuer no CI of vault-ci's is (an EKS cluster here).
fn eks_role(condition: serde_json::Value) -> serde_json::Value {
    let issuer = "oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE";
    serde_json::json!({ "Statement": [{
        "Effect": "Allow",
        "Principal": { "Federated": format!("arn:aws:iam::{ACCOUNT}:oidc-provider/{issuer}") },
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": condition,
    }]})
}

#[test]
fn an_issuer_vault_ci_does_not_know_is_not_judged_and_never_passes() {
    let env = Env::new();
    let issuer = "oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE";
    let policy = env.write(
        "eks.json",
        &eks_role(serde_json::json!({ "StringLike": {
            format!("{issuer}:sub"): "system:serviceaccount:deploy:*",
            format!("{issuer}:aud"): "sts.amazonaws.com",
        }}))
        .to_string(),
    );
    let out = check(&policy);
    out.failure(3, &["1 statement not judged"]);
    assert_eq!(
        out.stdout,
        format!(
            "not judged: statement 1: the condition on {issuer}:sub: \
             vault-ci does not know the `sub` grammar of {issuer}\n"
        )
    );
    // What needs no grammar is still judged: no `sub` at all is open to all.
    let open = env.write(
        "open.json",
        &eks_role(
            serde_json::json!({ "StringEquals": { format!("{issuer}:aud"): "sts.amazonaws.com" } }),
        )
        .to_string(),
    );
    let out = check(&open);
    out.failure(1, &["1 finding"]);
    assert!(
        out.stdout
            .starts_with(&format!("high: statement 1: no condition on {issuer}:sub admits any identity {issuer} issues tokens for")),
        "{out}"
    );
}

/// `trust-policy` for one of issue 21's CIs, what `--check` says of it, and
/// what `token --trust-policy` says of a token of the job it names and of a
/// token of another.
fn written_checked_and_judged(policy_args: &[&str], ours: &[&str], theirs: &[&str]) {
    let env = Env::new();
    let mut args = vec!["trust-policy"];
    args.extend_from_slice(policy_args);
    args.extend(["--account-id", ACCOUNT]);
    let written = env.vault_ci(&args);
    let policy = written.json();
    let file = env.write("policy.json", &policy.to_string());
    let checked = check(&file);
    assert_eq!(checked.code, Some(0), "{policy_args:?}:\n{checked}");
    assert_eq!(checked.stdout, "", "{policy_args:?}");
    for (claims, admitted) in [(ours, true), (theirs, false)] {
        let token = env.write("t.jwt", &mint_token(claims));
        let out = env.vault_ci([
            "token",
            "--token-file",
            token.to_str().unwrap(),
            "--trust-policy",
            file.to_str().unwrap(),
        ]);
        let (code, verdict) = match admitted {
            true => (0, "trust policy: admits this token"),
            false => (1, "trust policy: does NOT admit this token"),
        };
        assert_eq!(
            out.code,
            Some(code),
            "{policy_args:?} {claims:?}:\n{out}\n{policy:#}"
        );
        assert!(out.stdout.contains(verdict), "{claims:?}:\n{out}");
    }
}

#[test]
fn each_new_cis_policy_passes_check_and_admits_its_job_alone() {
    use crate::harness::ci::*;
    let other_sub = format!("sc://{AZURE_ORG}/{AZURE_PROJECT}/other-connection");
    written_checked_and_judged(
        &[
            "--provider",
            "azure",
            "--org-id",
            AZURE_ORG_ID,
            "--organization",
            AZURE_ORG,
            "--project",
            AZURE_PROJECT,
            "--service-connection",
            AZURE_CONNECTION,
        ],
        &["--ci", "azure-connection"],
        &["--ci", "azure-connection", "--sub", &other_sub],
    );
    written_checked_and_judged(
        &[
            "--provider",
            "azure",
            "--org-id",
            AZURE_ORG_ID,
            "--organization",
            AZURE_ORG,
            "--project",
            AZURE_PROJECT,
            "--pipeline",
            "deploy",
        ],
        &["--ci", "azure"],
        &["--ci", "azure", "--sub", "p://acme/web/deploy-evil"],
    );
    written_checked_and_judged(
        &[
            "--provider",
            "jenkins",
            "--job",
            "team/deploy",
            "--issuer",
            JENKINS_ISSUER,
        ],
        &["--ci", "jenkins"],
        &[
            "--ci",
            "jenkins",
            "--sub",
            "https://jenkins.acme.com/job/team/job/deploy-evil/",
        ],
    );
    written_checked_and_judged(
        &[
            "--provider",
            "jenkins",
            "--job",
            "team/deploy",
            "--claim-template",
            "jenkins:${JOB_NAME}",
            "--issuer",
            JENKINS_ISSUER,
        ],
        &["--ci", "jenkins", "--sub", "jenkins:team/deploy"],
        &["--ci", "jenkins", "--sub", "jenkins:team/other"],
    );
    written_checked_and_judged(
        &[
            "--provider",
            "forgejo",
            "--repo",
            FORGEJO_REPOSITORY,
            "--branch",
            "main",
            "--audience",
            "https://codeberg.org/acme",
        ],
        &["--ci", "forgejo"],
        &[
            "--ci",
            "forgejo",
            "--sub",
            "repo:acme-evil/app:ref:refs/heads/main",
        ],
    );
    written_checked_and_judged(
        &[
            "--provider",
            "google",
            "--service-account-id",
            GOOGLE_ACCOUNT_ID,
        ],
        &["--ci", "google"],
        &[
            "--ci",
            "google",
            "--claims",
            r#"{"sub": "111111111111111111111", "azp": "111111111111111111111"}"#,
        ],
    );
}

#[test]
fn an_azure_service_connection_moving_to_entra_is_admitted_from_both_issuers() {
    use crate::harness::ci::*;
    let scope = [
        "--provider",
        "azure",
        "--org-id",
        AZURE_ORG_ID,
        "--organization",
        AZURE_ORG,
        "--project",
        AZURE_PROJECT,
        "--service-connection",
        AZURE_CONNECTION,
        "--service-connection-id",
        "64171687-7a59-4fce-b2c8-823278dcf176",
        "--tenant-id",
        ENTRA_TENANT,
    ];
    written_checked_and_judged(
        &scope,
        &["--ci", "entra"],
        &[
            "--ci",
            "entra",
            "--sub",
            &ENTRA_SUB.replace("64171687", "99999999"),
        ],
    );
    written_checked_and_judged(
        &scope,
        &["--ci", "azure-connection"],
        &["--ci", "azure", "--sub", "sc://acme/web/other"],
    );
    let env = Env::new();
    let mut args = vec!["trust-policy"];
    args.extend(scope);
    let policy = env.vault_ci(&args).json();
    let principals: Vec<&str> = policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["Principal"]["Federated"].as_str().unwrap())
        .collect();
    assert_eq!(
        principals,
        [
            format!("arn:aws:iam::ACCOUNT_ID:oidc-provider/vstoken.dev.azure.com/{AZURE_ORG_ID}"),
            format!(
                "arn:aws:iam::ACCOUNT_ID:oidc-provider/login.microsoftonline.com/{ENTRA_TENANT}/v2.0"
            ),
        ]
    );
}

#[test]
fn googles_policy_names_the_built_in_principal_and_its_own_keys() {
    let env = Env::new();
    let policy = env
        .vault_ci([
            "trust-policy",
            "--provider",
            "google",
            "--service-account-id",
            "100018646976219416293",
            "--account-id",
            ACCOUNT,
        ])
        .json();
    assert_eq!(
        policy,
        serde_json::json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Principal": { "Federated": "accounts.google.com" },
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": { "StringEquals": {
                    "accounts.google.com:aud": "100018646976219416293",
                    "accounts.google.com:oaud": "sts.amazonaws.com",
                    "accounts.google.com:sub": "100018646976219416293",
                } },
            }],
        })
    );
    let template = env
        .vault_ci([
            "trust-policy",
            "--provider",
            "google",
            "--service-account-id",
            "100018646976219416293",
            "--format",
            "cloudformation",
        ])
        .json();
    assert!(
        template["Resources"].get("OidcProvider").is_none(),
        "{template:#}"
    );
}
