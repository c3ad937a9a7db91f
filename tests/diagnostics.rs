//! When a trust policy refuses a token: `vault-ci token`, `vault-ci
//! trust-policy`, and the hint on a denied exchange.

use crate::harness::*;
use crate::providers::*;

#[test]
fn token_shows_the_claims_but_not_the_token() {
    let mut env = Env::new();
    let jwt = mint_token(&["--sub", "repo:octo-org/octo-repo:environment:prod"]);
    let file = env.write("t.jwt", &jwt);
    env.set("AWS_WEB_IDENTITY_TOKEN_FILE", file.display().to_string());

    let out = env.vault_ci(["token"]);
    out.success();
    assert!(
        out.stdout
            .contains("subject   repo:octo-org/octo-repo:environment:prod"),
        "{out}"
    );
    assert!(
        out.stdout
            .contains("issuer    https://token.actions.githubusercontent.com"),
        "{out}"
    );
    assert!(
        out.stdout.contains("(expires in 5m)") || out.stdout.contains("(expires in 4m)"),
        "{out}"
    );
    assert!(
        out.stdout.contains("repository: octo-org/octo-repo"),
        "{out}"
    );
    assert!(
        !out.stdout.contains(jwt.split('.').nth(2).unwrap()),
        "the token was printed"
    );

    let raw = env.vault_ci(["token", "--raw", "--format", "json"]).json();
    assert_eq!(raw["token"], jwt.as_str());
    assert_eq!(raw["header"]["alg"], "RS256");
    assert!(raw["expires_in_seconds"].as_i64().unwrap() > 200);
}

#[test]
fn token_through_github_requests_the_audience_asked_for() {
    let mut env = Env::new();
    env.github_actions();
    let doc = env
        .vault_ci([
            "token",
            "--audience",
            "https://example.com/aud",
            "--format",
            "json",
        ])
        .json();
    assert_eq!(doc["claims"]["aud"], "https://example.com/aud");
}

/// Writes `vault-ci trust-policy ARGS` to a file after checking it is JSON.
fn policy(env: &Env, args: &[&str]) -> std::path::PathBuf {
    let mut argv = vec!["trust-policy", "--account-id", ACCOUNT];
    argv.extend_from_slice(args);
    let out = env.vault_ci(&argv);
    let doc = out.json();
    assert_eq!(
        doc["Statement"][0]["Action"], "sts:AssumeRoleWithWebIdentity",
        "{doc}"
    );
    env.write("policy.json", &out.stdout)
}

/// `vault-ci token --trust-policy` on a token: (admitted, report).
fn judge(env: &Env, token: &str, policy: &std::path::Path) -> (bool, String) {
    let file = env.write("judged.jwt", token);
    let out = env.vault_ci([
        "token",
        "--token-file",
        file.to_str().unwrap(),
        "--trust-policy",
        policy.to_str().unwrap(),
    ]);
    match out.code {
        Some(0) => (true, out.stdout),
        Some(1) => (false, out.stdout),
        _ => panic!("unexpected outcome:\n{out}"),
    }
}

#[test]
fn github_trust_policies_admit_exactly_the_branch_environment_or_tag() {
    let env = Env::new();
    let token = |sub: &str| mint_token(&["--aud", "sts.amazonaws.com", "--sub", sub]);

    let main = policy(
        &env,
        &[
            "--provider",
            "github",
            "--repo",
            "octo-org/octo-repo",
            "--branch",
            "main",
        ],
    );
    // What the user pastes as the role's trust relationship.
    env.file_is(
        &main,
        &format!(
            r#"{{
  "Version": "2012-10-17",
  "Statement": [
    {{
      "Effect": "Allow",
      "Principal": {{
        "Federated": "arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com"
      }},
      "Action": "sts:AssumeRoleWithWebIdentity",
      "Condition": {{
        "StringEquals": {{
          "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
          "token.actions.githubusercontent.com:sub": "repo:octo-org/octo-repo:ref:refs/heads/main"
        }}
      }}
    }}
  ]
}}
"#
        ),
    );
    assert!(
        judge(
            &env,
            &token("repo:octo-org/octo-repo:ref:refs/heads/main"),
            &main
        )
        .0
    );
    let (admitted, report) = judge(
        &env,
        &token("repo:octo-org/octo-repo:ref:refs/heads/feature"),
        &main,
    );
    assert!(!admitted);
    assert!(report.contains("token.actions.githubusercontent.com:sub wants repo:octo-org/octo-repo:ref:refs/heads/main; the token has repo:octo-org/octo-repo:ref:refs/heads/feature"), "{report}");
    assert!(
        !judge(
            &env,
            &token("repo:evil-org/octo-repo:ref:refs/heads/main"),
            &main
        )
        .0
    );

    let prod = policy(
        &env,
        &[
            "--provider",
            "github",
            "--repo",
            "octo-org/octo-repo",
            "--environment",
            "prod",
        ],
    );
    assert!(
        judge(
            &env,
            &token("repo:octo-org/octo-repo:environment:prod"),
            &prod
        )
        .0
    );
    assert!(
        !judge(
            &env,
            &token("repo:octo-org/octo-repo:environment:staging"),
            &prod
        )
        .0
    );

    let tags = policy(
        &env,
        &[
            "--provider",
            "github",
            "--repo",
            "octo-org/octo-repo",
            "--tag",
            "v*",
        ],
    );
    assert!(
        judge(
            &env,
            &token("repo:octo-org/octo-repo:ref:refs/tags/v1.2.0"),
            &tags
        )
        .0
    );
    assert!(
        !judge(
            &env,
            &token("repo:octo-org/octo-repo:ref:refs/heads/v1"),
            &tags
        )
        .0
    );

    let immutable = policy(
        &env,
        &[
            "--provider",
            "github",
            "--repo",
            "octo-org/octo-repo",
            "--owner-id",
            "123",
            "--repo-id",
            "456",
            "--pull-request",
        ],
    );
    assert!(
        judge(
            &env,
            &token("repo:octo-org@123/octo-repo@456:pull_request"),
            &immutable
        )
        .0
    );
    assert!(
        !judge(
            &env,
            &token("repo:octo-org@999/octo-repo@456:pull_request"),
            &immutable
        )
        .0
    );

    // A token for another audience fails the aud condition, and says so.
    let (admitted, report) = judge(
        &env,
        &mint_token(&["--sub", "repo:octo-org/octo-repo:ref:refs/heads/main"]),
        &main,
    );
    assert!(!admitted);
    assert!(
        report.contains("token.actions.githubusercontent.com:aud wants sts.amazonaws.com"),
        "{report}"
    );
}

#[test]
fn circleci_gitlab_buildkite_and_bitbucket_trust_policies_admit_their_own_tokens_only() {
    let env = Env::new();

    let circle = policy(
        &env,
        &[
            "--provider",
            "circleci",
            "--org-id",
            CIRCLE_ORG,
            "--project-id",
            CIRCLE_PROJECT,
            "--branch",
            "main",
        ],
    );
    assert!(judge(&env, &circleci_token("main"), &circle).0);
    assert!(!judge(&env, &circleci_token("feature"), &circle).0);

    let gitlab = policy(
        &env,
        &[
            "--provider",
            "gitlab",
            "--project-path",
            "acme/app",
            "--branch",
            "main",
        ],
    );
    assert!(judge(&env, &gitlab_token("acme/app", "main"), &gitlab).0);
    assert!(!judge(&env, &gitlab_token("acme/app", "dev"), &gitlab).0);
    assert!(!judge(&env, &gitlab_token("acme/other", "main"), &gitlab).0);

    let buildkite = policy(
        &env,
        &[
            "--provider",
            "buildkite",
            "--organization",
            "acme",
            "--pipeline",
            "deploy",
            "--branch",
            "main",
        ],
    );
    assert!(judge(&env, &buildkite_token("deploy", "main"), &buildkite).0);
    assert!(!judge(&env, &buildkite_token("deploy", "dev"), &buildkite).0);
    assert!(!judge(&env, &buildkite_token("other", "main"), &buildkite).0);

    let bitbucket = policy(
        &env,
        &[
            "--provider",
            "bitbucket",
            "--workspace",
            "acme",
            "--workspace-uuid",
            BITBUCKET_WORKSPACE_UUID,
            "--repo-uuid",
            BITBUCKET_REPO_UUID,
        ],
    );
    assert!(judge(&env, &bitbucket_token(BITBUCKET_REPO_UUID), &bitbucket).0);
    assert!(
        !judge(
            &env,
            &bitbucket_token("{00000000-0000-4000-8000-000000000000}"),
            &bitbucket
        )
        .0
    );

    // A GitHub token is from another issuer altogether.
    let (admitted, report) = judge(&env, &mint_token(&["--aud", "sts.amazonaws.com"]), &gitlab);
    assert!(!admitted);
    assert!(
        report.contains("the token's issuer is token.actions.githubusercontent.com"),
        "{report}"
    );
}

#[test]
fn trust_policy_refuses_what_a_providers_sub_cannot_express() {
    let env = Env::new();
    env.vault_ci(["trust-policy", "--provider", "github"])
        .fails(2, "vault-ci: --provider github needs --repo OWNER/REPO");
    env.vault_ci([
        "trust-policy",
        "--provider",
        "gitlab",
        "--project-path",
        "a/b",
        "--environment",
        "prod",
    ])
    .fails(
        2,
        "vault-ci: --environment cannot be expressed in GitLab's `sub` claim; it supports --branch, --tag",
    );
    // --branch and --tag together: clap refuses the combination itself.
    env.vault_ci([
        "trust-policy",
        "--provider",
        "github",
        "--repo",
        "a/b",
        "--branch",
        "x",
        "--tag",
        "y",
    ])
    .fails(
        2,
        "vault-ci: the argument '--branch <BRANCH>' cannot be used with '--tag <TAG>'",
    );
}

/// An environment whose STS denies every exchange, a GitHub token for `branch`
/// and the trust policy of a role that admits octo-org/octo-repo's main branch.
fn denying_sts_and_a_token_for(
    branch: &str,
) -> (Peer, Env, std::path::PathBuf, std::path::PathBuf) {
    let sts = faulty_sts(&[
        "--respond",
        "403:AccessDenied:Not authorized to perform sts:AssumeRoleWithWebIdentity",
    ]);
    let mut env = Env::new();
    env.set("AWS_ENDPOINT_URL", sts.endpoint())
        .set("AWS_REGION", "us-east-1");
    let sub = format!("repo:octo-org/octo-repo:ref:refs/heads/{branch}");
    let token = env.write(
        "t.jwt",
        &mint_token(&["--aud", "sts.amazonaws.com", "--sub", &sub]),
    );
    let trust = policy(
        &env,
        &[
            "--provider",
            "github",
            "--repo",
            "octo-org/octo-repo",
            "--branch",
            "main",
        ],
    );
    (sts, env, token, trust)
}

#[test]
fn a_token_the_trust_policy_refuses_is_named_before_sts_is_asked() {
    let (sts, env, token, trust) = denying_sts_and_a_token_for("feature");
    let role = format!("arn:aws:iam::{ACCOUNT}:role/gha-deploy");
    let out = env.vault_ci([
        "assume",
        "--token-file",
        token.to_str().unwrap(),
        "--role-arn",
        &role,
        "--trust-policy",
        trust.to_str().unwrap(),
        "--env-file",
        "aws.env",
    ]);
    out.fails(
        1,
        &format!(
            "vault-ci: --trust-policy: the trust policy of {role} does not admit the token from the \
             file {}: statement 1: StringEquals token.actions.githubusercontent.com:sub wants \
             repo:octo-org/octo-repo:ref:refs/heads/main; the token has \
             repo:octo-org/octo-repo:ref:refs/heads/feature",
            token.display()
        ),
    );
    out.stderr_has_line(
        "        \"token.actions.githubusercontent.com:sub\": \"repo:octo-org/octo-repo:ref:refs/heads/feature\"",
    );
    assert!(!env.path("aws.env").exists());
    assert!(sts.log().is_empty(), "STS was asked: {:?}", sts.log());
}

#[test]
fn a_denied_exchange_names_the_claims_sts_judged_and_what_the_policy_copy_says() {
    let (sts, env, token, trust) = denying_sts_and_a_token_for("main");
    let role = format!("arn:aws:iam::{ACCOUNT}:role/gha-deploy");
    let out = env.vault_ci([
        "assume",
        "--token-file",
        token.to_str().unwrap(),
        "--role-arn",
        &role,
        "--trust-policy",
        trust.to_str().unwrap(),
        "--env-file",
        "aws.env",
    ]);
    out.fails(
        1,
        &format!(
            "vault-ci: STS refused AssumeRoleWithWebIdentity on {role}: AccessDenied: Not authorized \
             to perform sts:AssumeRoleWithWebIdentity"
        ),
    );
    for line in [
        &format!(
            "  hint: STS judged the token from the file {}: iss=https://token.actions.githubusercontent.com \
             aud=sts.amazonaws.com sub=repo:octo-org/octo-repo:ref:refs/heads/main",
            token.display()
        ),
        "  checked against --trust-policy:",
        "    statement 1: admits this token",
    ] {
        out.stderr_has_line(line);
    }
    assert!(!env.path("aws.env").exists());
    // A permanent refusal is asked once, not retried.
    assert_eq!(sts.log().len(), 1, "{:?}", sts.log());
}
