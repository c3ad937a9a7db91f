//! Every CI provider's token, obtained the way that CI hands it out, exchanged
//! against moto and consumed through the destination that CI's users use.

use crate::harness::*;

pub const CIRCLE_ORG: &str = "9f5a2c4e-0000-4000-8000-00000000c1c1";
pub const CIRCLE_PROJECT: &str = "1b2c3d4e-0000-4000-8000-0000000000aa";

pub fn circleci_token(branch: &str) -> String {
    mint_token(&[
        "--iss",
        &format!("https://oidc.circleci.com/org/{CIRCLE_ORG}"),
        "--aud",
        CIRCLE_ORG,
        "--sub",
        &format!(
            "org/{CIRCLE_ORG}/project/{CIRCLE_PROJECT}/user/5e6f/vcs-origin/github.com/acme/app/vcs-ref/refs/heads/{branch}"
        ),
    ])
}

pub fn gitlab_token(project: &str, branch: &str) -> String {
    mint_token(&[
        "--iss",
        "https://gitlab.com",
        "--aud",
        "sts.amazonaws.com",
        "--sub",
        &format!("project_path:{project}:ref_type:branch:ref:{branch}"),
    ])
}

pub fn buildkite_token(pipeline: &str, branch: &str) -> String {
    mint_token(&[
        "--iss",
        "https://agent.buildkite.com",
        "--aud",
        "sts.amazonaws.com",
        "--sub",
        &format!(
            "organization:acme:pipeline:{pipeline}:ref:refs/heads/{branch}:commit:4f1e:step:deploy"
        ),
    ])
}

pub const BITBUCKET_WORKSPACE_UUID: &str = "a1b2c3d4-0000-4000-8000-0000000000bb";
pub const BITBUCKET_REPO_UUID: &str = "{7c1d0000-0000-4000-8000-0000000000cc}";

pub fn bitbucket_token(repo_uuid: &str) -> String {
    mint_token(&[
        "--iss",
        "https://api.bitbucket.org/2.0/workspaces/acme/pipelines-config/identity/oidc",
        "--aud",
        &format!("ari:cloud:bitbucket::workspace/{BITBUCKET_WORKSPACE_UUID}"),
        "--sub",
        &format!("{repo_uuid}:{{8d2e0000-0000-4000-8000-0000000000dd}}"),
    ])
}

fn ci_env() -> Env {
    let mut env = Env::new();
    env.sts(moto());
    env
}

#[test]
fn a_circleci_job_with_a_context_gets_credentials_in_bash_env() {
    let mut env = ci_env();
    let bash_env = env.write("bash_env", "");
    env.set("CIRCLECI", "true")
        .set("CIRCLE_BUILD_NUM", "77")
        .set("CIRCLE_PROJECT_REPONAME", "app")
        .set("CIRCLE_OIDC_TOKEN", mint_token(&["--sub", "v1-token"]))
        .set("CIRCLE_OIDC_TOKEN_V2", circleci_token("main"))
        .set("BASH_ENV", bash_env.display().to_string());
    let out = env.vault_ci([
        "assume",
        "--role-arn",
        &moto().role("gha-deploy"),
        "--bash-env",
    ]);
    out.success();
    assert!(out.stderr.contains("CircleCI OIDC token"), "{out}");
    // The V2 token is preferred: its sub names the VCS ref.
    assert!(out.stderr.contains("vcs-ref/refs/heads/main"), "{out}");

    let vars = source_exports(&env, &bash_env);
    assert_eq!(
        env.caller_arn(&vars),
        assumed_role("gha-deploy", "circleci-app-77")
    );
}

#[cfg(unix)]
#[test]
fn circleci_mints_a_token_for_another_audience_with_its_cli() {
    let mut env = ci_env();
    env.set("CIRCLECI", "true")
        .set("CIRCLE_OIDC_TOKEN_V2", circleci_token("main"))
        .fake_cli("circleci", &mint_token(&["--aud", "sts.amazonaws.com"]));
    let doc = env
        .vault_ci([
            "assume",
            "--role-arn",
            &moto().role("gha-deploy"),
            "--audience",
            "sts.amazonaws.com",
            "--session-name",
            "circle-aud",
            "--format",
            "json",
        ])
        .json();
    assert_eq!(doc["RoleArn"], assumed_role("gha-deploy", "circle-aud"));
    assert_eq!(
        env.fake_cli_args("circleci"),
        [
            "run",
            "oidc",
            "get",
            "--claims",
            r#"{"aud":"sts.amazonaws.com"}"#
        ]
    );
}

#[test]
fn circleci_without_its_cli_says_what_a_custom_audience_needs() {
    let mut env = ci_env();
    env.set("CIRCLECI", "true")
        .set("CIRCLE_OIDC_TOKEN_V2", circleci_token("main"))
        .set("PATH", "/nonexistent");
    env.vault_ci([
        "assume",
        "--role-arn",
        &moto().role("gha-deploy"),
        "--audience",
        "other",
        "--format",
        "json",
    ])
    .fails(
        1,
        "vault-ci: `circleci` is not on PATH, and it is what mints CircleCI tokens with a custom \
         audience; run vault-ci inside the job's environment, or drop --audience",
    );
}

#[test]
fn a_gitlab_job_with_id_tokens_gets_credentials_in_an_env_file() {
    let mut env = ci_env();
    env.set("GITLAB_CI", "true")
        .set("CI_PIPELINE_ID", "900")
        .set("CI_JOB_ID", "901")
        .set("VAULT_CI_ID_TOKEN", gitlab_token("acme/app", "main"));
    env.vault_ci([
        "assume",
        "--role-arn",
        &moto().role("gha-deploy"),
        "--env-file",
        "aws.env",
    ])
    .success();
    let vars = source_exports(&env, &env.path("aws.env"));
    assert_eq!(
        env.caller_arn(&vars),
        assumed_role("gha-deploy", "gitlab-900-901")
    );
}

#[test]
fn gitlab_reads_the_variable_named_by_token_env() {
    let mut env = ci_env();
    env.set("GITLAB_CI", "true")
        .set("MY_AWS_TOKEN", gitlab_token("acme/app", "main"));
    let out = env.vault_ci([
        "assume",
        "--token-env",
        "MY_AWS_TOKEN",
        "--role-arn",
        &moto().role("gha-deploy"),
        "--session-name",
        "named",
        "--format",
        "json",
    ]);
    assert_eq!(out.json()["RoleArn"], assumed_role("gha-deploy", "named"));
}

#[test]
fn gitlab_without_id_tokens_shows_the_snippet_to_add() {
    let mut env = ci_env();
    env.set("GITLAB_CI", "true");
    let out = env.vault_ci([
        "assume",
        "--role-arn",
        &moto().role("gha-deploy"),
        "--env-file",
        "aws.env",
    ]);
    out.fails(
        1,
        "vault-ci: this GitLab job has no OIDC token: none of $VAULT_CI_ID_TOKEN, $GITLAB_OIDC_TOKEN, \
         $AWS_WEB_IDENTITY_TOKEN, $STS_AMAZONAWS_COM_ID_TOKEN is set",
    )
    .stderr_has_line("    id_tokens:")
    .stderr_has_line("        aud: sts.amazonaws.com");
}

#[test]
fn gitlab_token_with_another_audience_is_named() {
    let mut env = ci_env();
    env.set("GITLAB_CI", "true")
        .set("VAULT_CI_ID_TOKEN", gitlab_token("acme/app", "main"));
    env.vault_ci([
        "assume",
        "--role-arn",
        &moto().role("gha-deploy"),
        "--audience",
        "https://gitlab.com",
        "--env-file",
        "aws.env",
    ])
    .fails(
        1,
        "vault-ci: the token in $VAULT_CI_ID_TOKEN is for audience sts.amazonaws.com, not the \
         --audience https://gitlab.com asked for; set that `aud:` under `id_tokens:` in .gitlab-ci.yml",
    );
}

#[cfg(unix)]
#[test]
fn a_buildkite_step_asks_the_agent_for_a_token_and_runs_the_command() {
    let mut env = ci_env();
    env.set("BUILDKITE", "true")
        .set("BUILDKITE_BUILD_NUMBER", "12")
        .set("BUILDKITE_JOB_ID", "0190-job")
        .fake_cli("buildkite-agent", &buildkite_token("deploy", "main"));
    let out = env.vault_ci([
        "assume",
        "--role-arn",
        &moto().role("gha-deploy"),
        "--",
        "aws",
        "sts",
        "get-caller-identity",
    ]);
    assert_eq!(
        out.json()["Arn"],
        assumed_role("gha-deploy", "buildkite-12-0190-job")
    );
    assert_eq!(
        env.fake_cli_args("buildkite-agent"),
        ["oidc", "request-token", "--audience", "sts.amazonaws.com"]
    );
}

#[test]
fn a_bitbucket_step_with_oidc_runs_the_command() {
    let mut env = ci_env();
    env.set("BITBUCKET_BUILD_NUMBER", "5").set(
        "BITBUCKET_STEP_OIDC_TOKEN",
        bitbucket_token(BITBUCKET_REPO_UUID),
    );
    let out = env.vault_ci([
        "assume",
        "--role-arn",
        &moto().role("gha-deploy"),
        "--",
        "aws",
        "sts",
        "get-caller-identity",
    ]);
    assert_eq!(out.json()["Arn"], assumed_role("gha-deploy", "bitbucket-5"));
}

#[test]
fn a_bitbucket_step_without_oidc_is_told_to_enable_it() {
    let mut env = ci_env();
    env.set("BITBUCKET_BUILD_NUMBER", "5");
    let out = env.vault_ci([
        "assume",
        "--role-arn",
        &moto().role("gha-deploy"),
        "--",
        "true",
    ]);
    out.fails(
        1,
        "vault-ci: this Bitbucket Pipelines step has no OIDC token (BITBUCKET_STEP_OIDC_TOKEN is not set)",
    )
    .stderr_has_line("      oidc: true");
}

/// The source `vault-ci token` reports for an environment.
fn detected(env: &Env, extra: &[&str]) -> crate::harness::Outcome {
    let mut args = vec!["token", "--format", "json"];
    args.extend_from_slice(extra);
    env.vault_ci(args)
}

#[cfg(unix)]
#[test]
fn each_ci_environment_alone_picks_its_provider() {
    let mut github = Env::new();
    github.github_actions();
    let mut circleci = Env::new();
    circleci
        .set("CIRCLECI", "true")
        .set("CIRCLE_OIDC_TOKEN_V2", circleci_token("main"));
    let mut gitlab = Env::new();
    gitlab
        .set("GITLAB_CI", "true")
        .set("GITLAB_OIDC_TOKEN", gitlab_token("acme/app", "main"));
    let mut buildkite = Env::new();
    buildkite
        .set("BUILDKITE", "true")
        .fake_cli("buildkite-agent", &buildkite_token("deploy", "main"));
    let mut bitbucket = Env::new();
    bitbucket.set("BITBUCKET_BUILD_NUMBER", "5").set(
        "BITBUCKET_STEP_OIDC_TOKEN",
        bitbucket_token(BITBUCKET_REPO_UUID),
    );
    let mut token_file = Env::new();
    let file = token_file.write("t.jwt", &mint_token(&[]));
    token_file.set("AWS_WEB_IDENTITY_TOKEN_FILE", file.display().to_string());

    for (env, source, issuer) in [
        (
            &github,
            "GitHub Actions",
            "https://token.actions.githubusercontent.com",
        ),
        (&circleci, "CircleCI", "https://oidc.circleci.com/org/"),
        (&gitlab, "GitLab CI", "https://gitlab.com"),
        (&buildkite, "Buildkite", "https://agent.buildkite.com"),
        (
            &bitbucket,
            "Bitbucket Pipelines",
            "https://api.bitbucket.org/",
        ),
        (
            &token_file,
            "OIDC token file",
            "https://token.actions.githubusercontent.com",
        ),
    ] {
        let doc = detected(env, &[]).json();
        assert!(
            doc["source"].as_str().unwrap().starts_with(source),
            "{source}: {doc}"
        );
        assert!(
            doc["claims"]["iss"].as_str().unwrap().starts_with(issuer),
            "{source}: {doc}"
        );
    }
}

#[test]
fn two_cis_at_once_need_provider_to_choose() {
    let mut env = Env::new();
    env.github_actions()
        .set("GITLAB_CI", "true")
        .set("VAULT_CI_ID_TOKEN", gitlab_token("acme/app", "main"));
    detected(&env, &[]).fails(
        2,
        "vault-ci: more than one CI detected: GitHub Actions (GITHUB_ACTIONS=true), GitLab CI \
         (GITLAB_CI=true); pass --provider github|gitlab to choose",
    );
    let doc = detected(&env, &["--provider", "gitlab"]).json();
    assert_eq!(doc["claims"]["iss"], "https://gitlab.com");
}

#[test]
fn a_ci_without_oidc_falls_back_to_the_deploy_users_keys() {
    let moto = moto_auth();
    let mut env = Env::new();
    env.sts(moto)
        .deploy_user(moto)
        .set("CIRCLECI", "true")
        .set("CIRCLE_BUILD_NUM", "31")
        .set("CIRCLE_PROJECT_REPONAME", "app");
    let out = env.vault_ci([
        "assume",
        "--role-arn",
        &moto.role("deploy"),
        "--format",
        "json",
    ]);
    // The keys are the deploy user's, but the session is still named after the run.
    assert_eq!(
        out.json()["RoleArn"],
        assumed_role("deploy", "circleci-app-31")
    );
    assert!(out.stderr.contains("static keys"), "{out}");
}
