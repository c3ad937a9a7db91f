//! The field notes' scenario: an IAM user that can only call sts:AssumeRole,
//! chained into a deploy role and then the CloudFormation role.

use crate::harness::*;

fn deploy_user_env() -> Env {
    let moto = moto_auth();
    let mut env = Env::new();
    env.sts(moto)
        .deploy_user(moto)
        .set("VAULT_CI_ROLE_DEPLOY", moto.role("deploy"))
        .set("VAULT_CI_ROLE_CFN", moto.role("cfn"));
    env
}

#[test]
fn the_deploy_user_chains_into_deploy_then_cfn_and_runs_a_command() {
    let env = deploy_user_env();
    let out = env.vault_ci([
        "assume",
        "--chain",
        "deploy,cfn",
        "--session-name",
        "release-42",
        "--",
        "aws",
        "sts",
        "get-caller-identity",
    ]);
    assert_eq!(out.json()["Arn"], assumed_role("cfn", "release-42"));
}

#[test]
fn the_deploy_user_alone_cannot_do_anything_but_assume_the_deploy_role() {
    let env = deploy_user_env();
    // Skipping the deploy role: the user's policy does not allow it.
    let out = env.vault_ci([
        "assume",
        "--role-arn",
        &moto_auth().role("cfn"),
        "--format",
        "json",
    ]);
    let cfn = moto_auth().role("cfn");
    out.fails(
        1,
        &format!(
            "vault-ci: STS refused AssumeRole on {cfn}: AccessDenied: User: \
             arn:aws:iam::{ACCOUNT}:user/deploy-user is not authorized to perform: sts:AssumeRole"
        ),
    )
    .stderr_has_line(&format!(
        "  hint: the caller needs `sts:AssumeRole` on {cfn} in its own policy, and the trust \
         policy of cfn must name the caller as Principal"
    ))
    .stdout_is("");
}

#[test]
fn wrong_deploy_user_keys_fail_with_a_hint_about_rotation() {
    let mut env = deploy_user_env();
    env.set(
        "AWS_SECRET_ACCESS_KEY",
        "wrongwrongwrongwrongwrongwrongwrongwrong",
    );
    let out = env.vault_ci(["assume", "--chain", "deploy"]);
    out.fails(
        1,
        &format!(
            "vault-ci: STS refused AssumeRole on {}: {SIGNATURE_DOES_NOT_MATCH}",
            moto_auth().role("deploy")
        ),
    )
    .stderr_has_line(
        "  hint: the static keys are wrong or were rotated; check AWS_ACCESS_KEY_ID and \
         AWS_SECRET_ACCESS_KEY",
    );
    assert!(!out.stderr.contains("wrongwrongwrong"), "{out}");
}

#[test]
fn a_cloudformation_deploy_runs_through_the_deploy_role_with_the_cfn_service_role() {
    let env = deploy_user_env();
    let template = env.write(
        "template.yaml",
        "Resources:\n  Param:\n    Type: AWS::SSM::Parameter\n    Properties:\n      Name: /app/version\n      Type: String\n      Value: '42'\n",
    );
    let cfn = moto_auth().role("cfn");
    let stack = format!("app-{}", std::process::id());
    env.vault_ci([
        "assume",
        "--chain",
        "deploy",
        "--",
        "aws",
        "cloudformation",
        "deploy",
        "--template-file",
        template.to_str().unwrap(),
        "--stack-name",
        &stack,
        "--role-arn",
        &cfn,
    ])
    .success();

    let described = env.vault_ci([
        "assume",
        "--chain",
        "deploy",
        "--",
        "aws",
        "cloudformation",
        "describe-stacks",
        "--stack-name",
        &stack,
        "--output",
        "json",
    ]);
    let stack_info = &described.json()["Stacks"][0];
    assert_eq!(stack_info["StackStatus"], "CREATE_COMPLETE", "{stack_info}");
    assert_eq!(stack_info["RoleARN"], cfn.as_str(), "{stack_info}");
}

#[test]
fn a_bare_role_name_is_completed_with_the_deploy_users_account() {
    let env = deploy_user_env();
    let out = env.vault_ci([
        "assume",
        "--role-arn",
        "deploy",
        "--session-name",
        "by-name",
        "--format",
        "json",
    ]);
    assert_eq!(out.json()["RoleArn"], assumed_role("deploy", "by-name"));
    assert!(
        out.stderr.contains(&format!(
            "arn:aws:iam::{ACCOUNT}:role/deploy, in the account of the static keys from the environment"
        )),
        "{out}"
    );
}
