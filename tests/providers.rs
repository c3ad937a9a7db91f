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

#[cfg(unix)]
#[test]
fn buildkite_session_tags_are_asked_of_the_agent_as_aws_assume_role_with_web_identity_asks() {
    let mut env = ci_env();
    env.set("BUILDKITE", "true")
        .set("BUILDKITE_BUILD_NUMBER", "12")
        .set(
            "VAULT_CI_BUILDKITE_SESSION_TAGS",
            "organization_slug,pipeline_slug",
        )
        .fake_cli("buildkite-agent", &buildkite_token("deploy", "main"));
    let out = env.vault_ci([
        "assume",
        "--role-arn",
        &moto().role("gha-deploy"),
        "--format",
        "json",
    ]);
    out.json();
    assert_eq!(
        env.fake_cli_args("buildkite-agent"),
        [
            "oidc",
            "request-token",
            "--audience",
            "sts.amazonaws.com",
            "--aws-session-tag",
            "organization_slug,pipeline_slug"
        ]
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
    let azure_peer = azure_endpoint(&[]);
    let azure = azure_job(&azure_peer);
    let mut jenkins = jenkins_build();
    jenkins.set("VAULT_CI_ID_TOKEN", mint_token(&["--ci", "jenkins"]));
    let forgejo_peer = github_endpoint(&["--flavor", "forgejo"]);
    let forgejo = forgejo_job(&forgejo_peer);
    let metadata = gcp_metadata(&[]);
    let google = cloud_build_step(&metadata);

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
        (&azure, "Azure Pipelines", "https://vstoken.dev.azure.com/"),
        (&jenkins, "Jenkins", "https://jenkins.acme.com/oidc"),
        (&forgejo, "Forgejo Actions", "http://127.0.0.1:"),
        (&google, "Google Cloud", "https://accounts.google.com"),
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

// ---------------------------------------------------------------------------
// Azure Pipelines, Jenkins, Forgejo and Gitea Actions, Google Cloud (issue 21)
// ---------------------------------------------------------------------------

/// An Azure Pipelines step whose pipeline maps System.AccessToken into it.
pub fn azure_job(endpoint: &Peer) -> Env {
    let mut env = ci_env();
    env.set("TF_BUILD", "True")
        .set("SYSTEM_OIDCREQUESTURI", endpoint.str("/url"))
        .set("SYSTEM_ACCESSTOKEN", endpoint.str("/access_token"))
        .set("SYSTEM_TEAMPROJECT", "web")
        .set("BUILD_DEFINITIONNAME", "deploy")
        .set("BUILD_BUILDID", "812")
        .set("SYSTEM_JOBATTEMPT", "1");
    env
}

#[test]
fn an_azure_pipelines_step_gets_its_service_connections_token_and_credentials_in_an_env_file() {
    let endpoint = azure_endpoint(&[]);
    let connection = endpoint.str("/connections/aws-deploy");
    let env = azure_job(&endpoint);
    let out = env.vault_ci([
        "assume",
        "--role-arn",
        &moto().role("gha-deploy"),
        "--service-connection-id",
        &connection,
        "--env-file",
        "aws.env",
    ]);
    out.success();
    assert!(
        out.stderr.contains("identity: Azure Pipelines OIDC token"),
        "{out}"
    );
    let vars = source_exports(&env, &env.path("aws.env"));
    assert_eq!(
        env.caller_arn(&vars),
        assumed_role("gha-deploy", "azure-812-1")
    );
    // Oidctoken - Create as Microsoft's own clients call it: a POST with an
    // empty body, the job's token as bearer, api-version 7.1.
    let log = endpoint.log();
    assert_eq!(log.len(), 1, "{log:?}");
    assert_eq!(log[0]["authorized"], true);
    assert_eq!(log[0]["content_length"], "0");
    assert_eq!(log[0]["content_type"], "application/json");
    assert_eq!(log[0]["query"]["api-version"], serde_json::json!(["7.1"]));
    assert_eq!(
        log[0]["query"]["serviceConnectionId"],
        serde_json::json!([connection])
    );
    // The access token is a credential: it shows nowhere.
    assert!(!out.stderr.contains(&endpoint.str("/access_token")));
}

#[test]
fn an_azure_pipelines_step_without_a_service_connection_uses_the_pipelines_own_token() {
    let endpoint = azure_endpoint(&[]);
    let env = azure_job(&endpoint);
    let doc = detected(&env, &[]).json();
    assert_eq!(doc["source"], "Azure Pipelines OIDC token");
    assert_eq!(doc["claims"]["sub"], "p://acme/web/deploy");
    assert_eq!(doc["claims"]["aud"], "api://AzureADTokenExchange");
    assert!(
        endpoint.log()[0]["query"]
            .get("serviceConnectionId")
            .is_none()
    );
}

#[test]
fn azure_without_system_accesstoken_in_the_step_is_told_the_one_line_fix() {
    let endpoint = azure_endpoint(&[]);
    let mut env = azure_job(&endpoint);
    env.remove("SYSTEM_ACCESSTOKEN");
    env.vault_ci([
        "assume",
        "--role-arn",
        &moto().role("gha-deploy"),
        "--env-file",
        "aws.env",
    ])
    .fails(
        1,
        "vault-ci: this Azure Pipelines step has no SYSTEM_ACCESSTOKEN, which requesting an OIDC \
         token needs; add to the step: env: SYSTEM_ACCESSTOKEN: $(System.AccessToken)",
    )
    .stderr_has_line("      SYSTEM_ACCESSTOKEN: $(System.AccessToken)");
    assert!(endpoint.log().is_empty());
}

#[test]
fn a_service_connection_moved_to_the_entra_issuer_gets_entras_token() {
    let endpoint = azure_endpoint(&["--entra", ci::ENTRA_TENANT]);
    let env = azure_job(&endpoint);
    let connection = endpoint.str("/connections/aws-deploy");
    let doc = detected(&env, &["--service-connection-id", &connection]).json();
    assert_eq!(
        doc["claims"]["iss"],
        format!(
            "https://login.microsoftonline.com/{}/v2.0",
            ci::ENTRA_TENANT
        )
    );
    assert_eq!(doc["claims"]["aud"], "fb60f99c-7a34-4190-8149-302f77469936");
    let out = env.vault_ci([
        "-v",
        "assume",
        "--role-arn",
        &moto().role("gha-deploy"),
        "--service-connection-id",
        &connection,
        "--format",
        "json",
    ]);
    assert_eq!(
        out.json()["RoleArn"],
        assumed_role("gha-deploy", "azure-812-1")
    );
    assert!(
        out.stderr
            .contains("the token is from the Microsoft Entra issuer login.microsoftonline.com/"),
        "{out}"
    );
}

/// A Jenkins build: its variables, and the oidc-provider token where the test binds it.
pub fn jenkins_build() -> Env {
    let mut env = ci_env();
    env.set("JENKINS_URL", "https://jenkins.acme.com/")
        .set(
            "BUILD_URL",
            "https://jenkins.acme.com/job/team/job/deploy/42/",
        )
        .set("JOB_NAME", "team/deploy")
        .set("BUILD_NUMBER", "42")
        .set("BUILD_TAG", "jenkins-team-deploy-42");
    env
}

#[test]
fn a_jenkins_build_with_the_token_bound_by_withcredentials_runs_the_command() {
    let mut env = jenkins_build();
    env.set("VAULT_CI_ID_TOKEN", mint_token(&["--ci", "jenkins"]));
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
        assumed_role("gha-deploy", "jenkins-team-deploy-42")
    );
}

#[test]
fn a_jenkins_build_with_the_token_bound_as_a_file_gets_an_env_file() {
    // The plugin's AWS example: the token's file beside AWS_ROLE_ARN, the SDKs' pair.
    let mut env = jenkins_build();
    let file = env.write("id-token", &mint_token(&["--ci", "jenkins"]));
    env.set("AWS_WEB_IDENTITY_TOKEN_FILE", file.display().to_string())
        .set("AWS_ROLE_ARN", moto().role("gha-deploy"));
    let out = env.vault_ci(["assume", "--env-file", "aws.env"]);
    out.success();
    assert!(out.stderr.contains("identity: Jenkins OIDC token"), "{out}");
    let vars = source_exports(&env, &env.path("aws.env"));
    assert_eq!(
        env.caller_arn(&vars),
        assumed_role("gha-deploy", "jenkins-team-deploy-42")
    );
}

#[test]
fn jenkins_without_a_bound_token_prints_the_withcredentials_snippet() {
    jenkins_build()
        .vault_ci([
            "assume",
            "--role-arn",
            &moto().role("gha-deploy"),
            "--env-file",
            "aws.env",
        ])
        .fails(
            1,
            "vault-ci: this Jenkins build has no OIDC token: $VAULT_CI_ID_TOKEN and \
             AWS_WEB_IDENTITY_TOKEN_FILE are not set",
        )
        .stderr_has_line(
            "  withCredentials([string(credentialsId: 'aws-oidc', variable: 'VAULT_CI_ID_TOKEN')]) {",
        );
}

/// A Forgejo Actions job with `enable-openid-connect: true`: its runner sets
/// GitHub's variables too.
pub fn forgejo_job(endpoint: &Peer) -> Env {
    let mut env = ci_env();
    env.github_actions_with(endpoint)
        .set("GITEA_ACTIONS", "true")
        .set("FORGEJO_ACTIONS", "true")
        .set("GITHUB_REPOSITORY", "acme/app");
    env
}

#[test]
fn a_forgejo_job_gets_credentials_in_github_env_as_forgejo_not_github() {
    let endpoint = github_endpoint(&["--flavor", "forgejo", "--repository", "acme/app"]);
    let env = forgejo_job(&endpoint);
    let out = env.vault_ci([
        "assume",
        "--role-arn",
        &moto().role("gha-deploy"),
        "--github-env",
    ]);
    out.success();
    assert!(
        out.stderr.contains("identity: Forgejo Actions OIDC token"),
        "{out}"
    );
    let later_steps = parse_github_file(&env.read("github_env"));
    assert_eq!(
        env.caller_arn(&later_steps),
        assumed_role("gha-deploy", "forgejo-4242-2")
    );
    let log = endpoint.log();
    assert_eq!(
        log[0]["query"]["audience"],
        serde_json::json!(["sts.amazonaws.com"])
    );
    let doc = detected(&env, &[]).json();
    assert_eq!(
        doc["claims"]["iss"],
        format!(
            "{}/api/actions",
            endpoint.str("/url").split("/api/").next().unwrap()
        )
    );
    assert_eq!(doc["claims"]["sub"], "repo:acme/app:ref:refs/heads/main");
}

#[test]
fn a_forgejo_job_without_openid_connect_and_a_gitea_job_are_each_told_what_they_lack() {
    let endpoint = github_endpoint(&["--flavor", "forgejo"]);
    let mut env = forgejo_job(&endpoint);
    env.remove("ACTIONS_ID_TOKEN_REQUEST_URL")
        .remove("ACTIONS_ID_TOKEN_REQUEST_TOKEN");
    let assume = [
        "assume",
        "--role-arn",
        &moto().role("gha-deploy"),
        "--github-env",
    ];
    env.vault_ci(assume)
        .fails(
            1,
            "vault-ci: this Forgejo Actions job has no OIDC token endpoint \
             (ACTIONS_ID_TOKEN_REQUEST_URL / ACTIONS_ID_TOKEN_REQUEST_TOKEN are not set): add \
             `enable-openid-connect: true` to the workflow or the job (Forgejo 15 or later)",
        )
        .stderr_has_line("  enable-openid-connect: true");
    env.remove("FORGEJO_ACTIONS");
    env.vault_ci(assume).fails(
        1,
        "vault-ci: this Gitea Actions job has no OIDC token: Gitea Actions issues none \
         (go-gitea/gitea#26383 is open); give the job a deploy user's keys from secrets \
         (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY), or run it where the machine has a role",
    );
}

/// A Cloud Build step whose `env:` maps $BUILD_ID, with a metadata server.
pub fn cloud_build_step(metadata: &Peer) -> Env {
    let mut env = ci_env();
    env.set("BUILDER_OUTPUT", "/builder/outputs")
        .set("BUILD_ID", "b5a1c0de")
        .set("PROJECT_ID", "acme-build")
        .set("GCE_METADATA_HOST", metadata.str("/host"));
    env
}

#[test]
fn a_cloud_build_step_gets_its_service_accounts_token_from_the_metadata_server() {
    let metadata = gcp_metadata(&[]);
    let env = cloud_build_step(&metadata);
    let out = env.vault_ci([
        "assume",
        "--role-arn",
        &moto().role("gha-deploy"),
        "--env-file",
        "aws.env",
    ]);
    out.success();
    assert!(
        out.stderr.contains("identity: Google Cloud OIDC token"),
        "{out}"
    );
    let vars = source_exports(&env, &env.path("aws.env"));
    assert_eq!(
        env.caller_arn(&vars),
        assumed_role("gha-deploy", "google-b5a1c0de")
    );
    let log = metadata.log();
    assert_eq!(log.len(), 1, "{log:?}");
    assert_eq!(log[0]["flavoured"], true);
    assert_eq!(
        log[0]["query"]["audience"],
        serde_json::json!(["sts.amazonaws.com"])
    );
    assert_eq!(log[0]["query"]["format"], serde_json::json!(["full"]));
    let doc = detected(&env, &["--audience", "deploy-role"]).json();
    assert_eq!(doc["claims"]["aud"], "deploy-role");
    assert_eq!(doc["claims"]["azp"], metadata.str("/account_id"));
}

#[test]
fn gitlab_finds_the_token_the_ambient_credential_libraries_name_and_refuses_the_removed_ones() {
    let mut env = ci_env();
    env.set("GITLAB_CI", "true")
        .set("CI_PIPELINE_ID", "900")
        .set("CI_JOB_ID", "901")
        .set(
            "STS_AMAZONAWS_COM_ID_TOKEN",
            gitlab_token("acme/app", "main"),
        );
    let out = env.vault_ci([
        "assume",
        "--role-arn",
        &moto().role("gha-deploy"),
        "--format",
        "json",
    ]);
    assert_eq!(
        out.json()["RoleArn"],
        assumed_role("gha-deploy", "gitlab-900-901")
    );
    env.remove("STS_AMAZONAWS_COM_ID_TOKEN")
        .set("CI_JOB_JWT_V2", gitlab_token("acme/app", "main"));
    env.vault_ci([
        "assume",
        "--role-arn",
        &moto().role("gha-deploy"),
        "--env-file",
        "aws.env",
    ])
    .fails(
        1,
        "vault-ci: $CI_JOB_JWT_V2 is the job token GitLab removed in 17.0, and vault-ci does \
             not use it: declare an OIDC token with `id_tokens:` instead",
    )
    .stderr_has_line("    id_tokens:");
}

#[test]
fn ci_session_tags_tag_the_assume_role_hops_with_the_runs_metadata() {
    let endpoint = azure_endpoint(&[]);
    let sts = faulty_sts(&["--forward", &moto().endpoint()]);
    let mut env = azure_job(&endpoint);
    env.set("AWS_ENDPOINT_URL", sts.endpoint())
        .set("BUILD_SOURCEBRANCH", "refs/heads/main");
    let out = env.vault_ci([
        "assume",
        "--role-arn",
        &moto().role("gha-deploy"),
        "--chain",
        &moto().role("cfn"),
        "--ci-session-tags",
        "--format",
        "json",
    ]);
    assert_eq!(out.json()["RoleArn"], assumed_role("cfn", "azure-812-1"));
    let log = sts.log();
    assert_eq!(log[0]["action"], "AssumeRoleWithWebIdentity");
    assert_eq!(log[1]["action"], "AssumeRole");
    assert_eq!(
        log[1]["tags"],
        serde_json::json!({
            "CI": "azure-pipelines",
            "Project": "web",
            "Pipeline": "deploy",
            "Branch": "refs/heads/main",
            "Build": "812",
        })
    );
}
