//! A token in a file: EKS, Jenkins, GitLab jobs, anything that writes one.

use crate::harness::*;

#[test]
fn the_sdk_convention_of_token_file_and_role_arn_variables_works_unchanged() {
    let moto = moto();
    let mut env = Env::new();
    env.sts(moto);
    let token = env.write("token.jwt", &mint_token(&[]));
    env.set("AWS_WEB_IDENTITY_TOKEN_FILE", token.display().to_string())
        .set("AWS_ROLE_ARN", moto.role("gha-deploy"))
        .set("AWS_ROLE_SESSION_NAME", "eks-pod");
    let doc = env.vault_ci(["assume", "--format", "json"]).json();
    assert_eq!(doc["RoleArn"], assumed_role("gha-deploy", "eks-pod"));
}

#[test]
fn a_web_identity_hop_chains_into_another_role() {
    let moto = moto();
    let mut env = Env::new();
    env.sts(moto);
    let token = env.write("token.jwt", &mint_token(&[]));
    let doc = env
        .vault_ci([
            "assume",
            "--token-file",
            token.to_str().unwrap(),
            "--role-arn",
            &moto.role("gha-deploy"),
            "--chain",
            &moto.role("cfn"),
            "--session-name",
            "two-hops",
            "--duration",
            "3600",
            "--format",
            "json",
        ])
        .json();
    assert_eq!(doc["RoleArn"], assumed_role("cfn", "two-hops"));
}

#[test]
fn an_expired_token_is_refused_before_any_request() {
    let mut env = Env::new();
    env.set("AWS_ENDPOINT_URL", "http://127.0.0.1:9"); // nothing listens: no request may be made
    let token = env.write("token.jwt", &mint_token(&["--exp-in", "-120"]));
    let out = env.vault_ci([
        "assume",
        "--token-file",
        token.to_str().unwrap(),
        "--role-arn",
        "arn:aws:iam::123456789012:role/gha-deploy",
        "--format",
        "json",
    ]);
    out.fails(
        1,
        &format!(
            "vault-ci: the OIDC token from the file {} expired 2m ago \
             (iss=https://token.actions.githubusercontent.com aud=https://github.com/octo-org \
             sub=repo:octo-org/octo-repo:ref:refs/heads/main); fetch a fresh token",
            token.display()
        ),
    );
    let jwt = env.read("token.jwt");
    assert!(!out.stderr.contains(jwt.trim()), "the token was echoed");
}

#[test]
fn a_file_that_is_not_a_jwt_is_named() {
    let env = Env::new();
    let token = env.write("token.jwt", "hello");
    env.vault_ci([
        "assume",
        "--token-file",
        token.to_str().unwrap(),
        "--role-arn",
        "arn:aws:iam::123456789012:role/gha-deploy",
    ])
    .fails(
        1,
        &format!(
            "vault-ci: the OIDC token from the file {} is not a JWT (InvalidToken); expected three \
             base64url parts separated by dots",
            token.display()
        ),
    );
}
