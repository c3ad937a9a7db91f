//! What configure-aws-credentials users write, as vault-ci options any CLI or
//! orb user has too: profiles, an account guard, keys delivered as they are,
//! GitHub's booleans. (tests/dropin.rs runs the original side by side.)

use crate::harness::*;

const NO_ROLE: &str = "vault-ci: no role to assume: pass --role-arn ARN, or --chain NAME,... with \
    VAULT_CI_ROLE_<NAME> set, or --no-role to deliver these credentials as they are";

fn deploy_user_env() -> Env {
    let moto = moto_auth();
    let mut env = Env::new();
    env.sts(moto).deploy_user(moto);
    env
}

#[test]
fn a_profile_is_what_aws_profile_reads_and_other_profiles_stay() {
    let env = deploy_user_env();
    env.write(
        "home/aws-config",
        "[profile other]\nregion = ap-south-1\ns3 =\n  max_concurrent_requests = 20\n",
    );
    env.vault_ci([
        "assume",
        "--role-arn",
        &moto_auth().role("deploy"),
        "--session-name",
        "profiled",
        "--aws-profile",
        "deploy",
    ])
    .success();

    let mut bare = env.command(
        "aws",
        [
            "sts",
            "get-caller-identity",
            "--profile",
            "deploy",
            "--output",
            "json",
        ],
    );
    bare.env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_REGION")
        .env_remove("AWS_DEFAULT_REGION");
    let outcome: Outcome = bare.output().into();
    assert_eq!(outcome.json()["Arn"], assumed_role("deploy", "profiled"));
    let region = env.run("aws", ["configure", "get", "region", "--profile", "deploy"]);
    region.success().stdout_is("us-east-1\n");
    let other = env.run(
        "aws",
        [
            "configure",
            "get",
            "s3.max_concurrent_requests",
            "--profile",
            "other",
        ],
    );
    other.success().stdout_is("20\n");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for file in ["home/aws-config", "home/aws-credentials"] {
            let mode = std::fs::metadata(env.path(file))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{file}");
        }
    }
}

#[test]
fn an_existing_profile_is_refused_before_any_request_unless_overwritten() {
    let env = deploy_user_env();
    env.write(
        "home/aws-credentials",
        "[deploy]\naws_access_key_id = AKIAKEEPME\n",
    );
    let out = env.vault_ci([
        "assume",
        "--role-arn",
        &moto_auth().role("deploy"),
        "--aws-profile",
        "deploy",
    ]);
    out.fails(
        2,
        &format!(
            "vault-ci: --aws-profile deploy: {} already has [deploy]; pass --overwrite-aws-profile \
             to replace it, or choose another name",
            env.path("home/aws-credentials").display()
        ),
    );
    assert!(
        !out.stderr.contains("AssumeRole"),
        "refused before STS: {out}"
    );
    assert!(env.read("home/aws-credentials").contains("AKIAKEEPME"));

    env.vault_ci([
        "assume",
        "--role-arn",
        &moto_auth().role("deploy"),
        "--session-name",
        "overwritten",
        "--aws-profile",
        "deploy",
        "--overwrite-aws-profile",
    ])
    .success();
    assert!(!env.read("home/aws-credentials").contains("AKIAKEEPME"));
    assert_eq!(
        profile_arn(&env, "deploy"),
        assumed_role("deploy", "overwritten")
    );
}

#[test]
fn two_profiles_give_one_job_two_roles() {
    let env = deploy_user_env();
    // The deploy user may assume only deploy; cfn is a hop further.
    for (chain, profile) in [("deploy", "app"), ("deploy,cfn", "infra")] {
        let chain: Vec<String> = chain.split(',').map(|r| moto_auth().role(r)).collect();
        env.vault_ci([
            "assume",
            "--chain",
            &chain.join(","),
            "--session-name",
            profile,
            "--aws-profile",
            profile,
        ])
        .success();
    }
    for (role, profile) in [("deploy", "app"), ("cfn", "infra")] {
        assert_eq!(profile_arn(&env, profile), assumed_role(role, profile));
    }
}

/// Who the aws CLI is with `--profile PROFILE` and no keys in the environment.
fn profile_arn(env: &Env, profile: &str) -> String {
    let mut aws = env.command(
        "aws",
        [
            "sts",
            "get-caller-identity",
            "--profile",
            profile,
            "--output",
            "json",
        ],
    );
    aws.env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY");
    let outcome: Outcome = aws.output().into();
    outcome.json()["Arn"].as_str().unwrap().to_string()
}

#[test]
fn credentials_for_an_account_not_allowed_are_never_written() {
    let env = deploy_user_env();
    let role = moto_auth().role("deploy");
    env.vault_ci(["assume", "--role-arn", &role, "--allowed-account-id", "999999999999", "--env-file", "aws.env"])
        .fails(
            1,
            &format!(
                "vault-ci: the role {role} is in account {ACCOUNT}, which is not among --allowed-account-id \
                 999999999999; nothing was written: check the role ARN, or add the account"
            ),
        );
    assert!(!env.path("aws.env").exists());

    // A bare role name's account is known only after GetCallerIdentity: checked
    // then, before the role is assumed.
    let out = env.vault_ci([
        "assume",
        "--role-arn",
        "deploy",
        "--allowed-account-id",
        "111111111111,999999999999",
        "--env-file",
        "aws.env",
    ]);
    out.fails(
        1,
        &format!(
            "vault-ci: the role arn:aws:iam::{ACCOUNT}:role/deploy is in account {ACCOUNT}, which is not \
             among --allowed-account-id 111111111111, 999999999999; nothing was written: check the role ARN, \
             or add the account"
        ),
    );
    assert!(!env.path("aws.env").exists());

    env.vault_ci([
        "assume",
        "--role-arn",
        &role,
        "--allowed-account-id",
        &format!("111111111111, {ACCOUNT}"),
        "--env-file",
        "aws.env",
    ])
    .success();
    let exported = source_exports(&env, &env.path("aws.env"));
    let caller = env.caller_arn(&exported);
    assert!(
        caller.starts_with(&assumed_role("deploy", "vault-ci-")),
        "{caller}"
    );
    env.vault_ci([
        "assume",
        "--role-arn",
        &role,
        "--allowed-account-id",
        "12345",
    ])
    .fails(
        2,
        "vault-ci: --allowed-account-id `12345` is not a 12-digit AWS account id",
    );
}

#[test]
fn keys_without_a_role_are_checked_and_delivered_as_they_are() {
    let env = deploy_user_env();
    let out = env.vault_ci(["assume", "--no-role", "--format", "json"]);
    let doc = out.json();
    assert_eq!(
        doc["AccessKeyId"],
        moto_auth().str("/deploy_user/access_key_id")
    );
    assert_eq!(doc["RoleArn"], moto_auth().str("/deploy_user/arn"));
    assert_eq!(doc["AccountId"], ACCOUNT);
    assert_eq!(doc["Expiration"], serde_json::Value::Null);

    let mut wrong = deploy_user_env();
    wrong.set("AWS_SECRET_ACCESS_KEY", "not-the-secret");
    wrong
        .vault_ci(["assume", "--no-role", "--format", "json"])
        .fails(
            1,
            &format!("vault-ci: STS refused GetCallerIdentity: {SIGNATURE_DOES_NOT_MATCH}"),
        );

    let hint = env.vault_ci(["assume"]);
    hint.fails(2, NO_ROLE);
}

#[test]
fn without_a_role_an_oidc_token_is_no_credential() {
    let mut env = Env::new();
    env.sts(moto()).github_actions();
    env.vault_ci([
        "assume",
        "--provider",
        "github",
        "--no-role",
        "--github-env",
    ])
    .fails(
        2,
        "vault-ci: --no-role delivers the identity's own credentials, and GitHub Actions OIDC token \
         is an OIDC token, not credentials: name the role to exchange it for with --role-arn",
    );
}

#[test]
fn booleans_from_the_environment_follow_githubs_core_schema() {
    let mut env = deploy_user_env();
    env.set("VAULT_CI_NO_ROLE", "True");
    let keys = env.vault_ci(["assume", "--format", "json"]).json();
    assert_eq!(
        keys["AccessKeyId"],
        moto_auth().str("/deploy_user/access_key_id")
    );
    env.set("VAULT_CI_NO_ROLE", "yes");
    env.vault_ci(["assume", "--format", "json"]).fails(
        2,
        "vault-ci: invalid value 'yes' in VAULT_CI_NO_ROLE (for --no-role): expected true | True | \
         TRUE | false | False | FALSE",
    );
    env.set("VAULT_CI_NO_ROLE", "FALSE");
    env.vault_ci(["assume", "--format", "json"])
        .fails(2, NO_ROLE);
}

#[test]
fn with_output_env_credentials_false_later_steps_get_outputs_but_no_variables() {
    let moto = moto();
    let mut env = Env::new();
    env.sts(moto).github_actions();
    env.vault_ci([
        "assume",
        "--role-arn",
        &moto.role("gha-deploy"),
        "--github-env",
        "--output-env-credentials",
        "false",
        "--output-credentials",
    ])
    .success();
    env.file_is("github_env", "");
    let outputs = parse_github_file(&env.read("github_output"));
    assert_eq!(outputs["aws-account-id"], ACCOUNT);
    assert_eq!(
        outputs["authenticated-arn"],
        assumed_role("gha-deploy", "github-4242-2")
    );
    assert!(outputs["aws-secret-access-key"].len() >= 20);
}

#[test]
fn a_profile_with_github_env_exports_aws_profile_only_when_asked() {
    let moto = moto();
    let mut env = Env::new();
    env.sts(moto).github_actions();
    let args = |extra: &[&str]| {
        let mut all = vec![
            "assume",
            "--role-arn",
            &*Box::leak(moto.role("gha-deploy").into_boxed_str()),
            "--github-env",
            "--aws-profile",
            "ci",
            "--overwrite-aws-profile",
        ];
        all.extend_from_slice(extra);
        all.into_iter().map(String::from).collect::<Vec<_>>()
    };
    env.vault_ci(args(&[])).success();
    // A profile is instead of variables.
    env.file_is("github_env", "");
    assert_eq!(
        profile_arn(&env, "ci"),
        assumed_role("gha-deploy", "github-4242-2")
    );
    env.vault_ci(args(&["--output-env-credentials", "true"]))
        .success();
    let vars = parse_github_file(&env.read("github_env"));
    assert_eq!(vars["AWS_PROFILE"], "ci");
    assert!(vars.contains_key("AWS_SESSION_TOKEN"));
}

#[test]
fn existing_working_keys_mean_nothing_to_do() {
    let env = deploy_user_env();
    let out = env.vault_ci([
        "assume",
        "--role-arn",
        &moto_auth().role("deploy"),
        "--use-existing-credentials",
        "--env-file",
        "aws.env",
    ]);
    out.success();
    assert!(
        out.stderr.contains("Pre-existing credentials are valid"),
        "{out}"
    );
    assert!(!env.path("aws.env").exists());

    let mut stale = deploy_user_env();
    stale.set("AWS_SECRET_ACCESS_KEY", "rotated");
    let out = stale.vault_ci([
        "assume",
        "--role-arn",
        &moto_auth().role("deploy"),
        "--use-existing-credentials",
        "--env-file",
        "aws.env",
    ]);
    // The stale keys are the only identity too: the exchange then fails on them.
    out.fails(
        1,
        &format!(
            "vault-ci: STS refused AssumeRole on {}: {SIGNATURE_DOES_NOT_MATCH}",
            moto_auth().role("deploy")
        ),
    );
    assert!(
        out.stderr
            .contains("No valid credentials exist. Running as normal."),
        "{out}"
    );
}
