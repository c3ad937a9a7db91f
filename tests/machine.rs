//! Self-hosted runners whose machine has a role: the container's credentials
//! endpoint (ECS, CodeBuild, EKS Pod Identity) and EC2 instance metadata, found
//! as every AWS SDK finds them, then exchanged for the deploy chain's roles.

use crate::harness::*;

/// The deploy role's session, as an instance profile would hand it out.
fn deploy_session(moto: &Peer) -> serde_json::Value {
    let mut env = Env::new();
    env.sts(moto).deploy_user(moto);
    let out = env.run(
        "aws",
        [
            "sts",
            "assume-role",
            "--role-arn",
            &moto.role("deploy"),
            "--role-session-name",
            "i-0123456789abcdef0",
            "--output",
            "json",
        ],
    );
    let creds = out.json()["Credentials"].clone();
    serde_json::json!({
        "AccessKeyId": creds["AccessKeyId"],
        "SecretAccessKey": creds["SecretAccessKey"],
        "Token": creds["SessionToken"],
        "Expiration": creds["Expiration"],
    })
}

fn imds(args: &[&str]) -> Peer {
    let mut all = vec!["imds"];
    all.extend_from_slice(args);
    start_peer(&all)
}

/// A runner on an EC2 instance: no OIDC token, no keys, instance metadata at `imds`.
fn instance_runner(moto: &Peer, imds: &Peer) -> Env {
    let mut env = Env::new();
    env.sts(moto)
        .github_actions()
        .remove("ACTIONS_ID_TOKEN_REQUEST_URL")
        .remove("ACTIONS_ID_TOKEN_REQUEST_TOKEN")
        .remove("AWS_EC2_METADATA_DISABLED")
        .set("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.endpoint());
    env
}

#[test]
fn a_self_hosted_runner_on_ec2_assumes_the_role_with_its_instance_role() {
    let moto = moto_auth();
    let session = deploy_session(moto);
    // Instance metadata that stumbles once, as it does under load.
    let imds = imds(&["--credentials", &session.to_string(), "--fail-token", "1"]);
    let env = instance_runner(moto, &imds);

    let out = env.vault_ci([
        "assume",
        "--role-arn",
        &moto.role("cfn"),
        "--session-name",
        "from-instance",
        "--github-env",
    ]);
    out.success();
    assert!(
        out.stderr
            .contains("identity: the EC2 instance's role (instance metadata)"),
        "{out}"
    );
    let vars = parse_github_file(&env.read("github_env"));
    assert_eq!(env.caller_arn(&vars), assumed_role("cfn", "from-instance"));
    // IMDSv2: a session token first, then the role and its credentials with it.
    let log: Vec<(String, String, u64)> = imds
        .log()
        .iter()
        .map(|r| {
            (
                r["method"].as_str().unwrap().into(),
                r["path"].as_str().unwrap().into(),
                r["answer"].as_u64().unwrap(),
            )
        })
        .collect();
    let token = |answer| ("PUT".to_string(), "/latest/api/token".to_string(), answer);
    assert_eq!(log[..2], [token(503), token(200)], "{log:?}");
    let log: Vec<(String, String)> = log.into_iter().map(|(m, p, _)| (m, p)).collect();
    assert!(log.contains(&(
        "GET".into(),
        "/latest/meta-data/iam/security-credentials/runner-instance-role".into()
    )));
}

#[test]
fn an_instance_role_session_is_role_chaining_for_sts() {
    let moto = moto_auth();
    let imds = imds(&["--credentials", &deploy_session(moto).to_string()]);
    let env = instance_runner(moto, &imds);
    env.vault_ci([
        "assume",
        "--role-arn",
        &moto.role("cfn"),
        "--duration",
        "7200",
        "--github-env",
    ])
    .fails(
        2,
        "vault-ci: --duration 7200 is too long for a chained role: STS caps role chaining at 3600 \
         seconds; use --duration 3600 or less",
    );
    assert!(imds.log().is_empty(), "refused before any request");
}

#[test]
fn an_instance_without_a_role_reports_the_missing_oidc_permission_first() {
    let moto = moto_auth();
    let imds = imds(&["--credentials", "{}", "--no-role"]);
    let env = instance_runner(moto, &imds);
    let out = env.vault_ci(["assume", "--role-arn", &moto.role("cfn"), "--github-env"]);
    out.fails(
        1,
        "vault-ci: this GitHub Actions step has no OIDC token endpoint (ACTIONS_ID_TOKEN_REQUEST_URL / \
         ACTIONS_ID_TOKEN_REQUEST_TOKEN are not set)",
    )
    .stderr_has_line("    id-token: write");
    env.file_is("github_env", "");
}

#[test]
fn no_instance_metadata_at_all_fails_in_seconds_with_the_reason() {
    let moto = moto_auth();
    let mut env = Env::new();
    env.sts(moto)
        .remove("AWS_EC2_METADATA_DISABLED")
        .set("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:9");
    let started = std::time::Instant::now();
    let out = env.vault_ci([
        "assume",
        "--provider",
        "imds",
        "--role-arn",
        &moto.role("cfn"),
    ]);
    out.fails(
        1,
        "vault-ci: the instance's role credentials (instance metadata) could not be had: the \
         credential provider was not enabled: could not communicate with IMDS: dispatch failure: io \
         error: error sending request: client error (Connect): tcp connect error: Connection refused \
         (os error 111); is this an EC2 instance with an instance profile? set \
         AWS_EC2_METADATA_DISABLED=true where it is not",
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
}

#[test]
fn a_task_gets_its_roles_through_the_container_credentials_endpoint() {
    // vault-ci's own --refresh endpoint is a container-credentials endpoint,
    // as ECS's agent and EKS Pod Identity's are: the inner vault-ci is the task.
    let moto = moto_auth();
    let mut env = Env::new();
    env.sts(moto).deploy_user(moto);
    let inner = format!(
        "{} assume --role-arn {} --session-name in-task --format json",
        env!("CARGO_BIN_EXE_vault-ci"),
        moto.role("cfn")
    );
    let out = env.vault_ci([
        "assume",
        "--role-arn",
        &moto.role("deploy"),
        "--refresh",
        "--",
        "sh",
        "-c",
        &inner,
    ]);
    out.success();
    assert!(
        out.stderr
            .contains("identity: container credentials from http://127.0.0.1:"),
        "{out}"
    );
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(doc["RoleArn"], assumed_role("cfn", "in-task"));
}

#[test]
fn a_container_endpoint_that_refuses_the_token_is_named() {
    let moto = moto_auth();
    let mut env = Env::new();
    env.sts(moto).deploy_user(moto);
    // The task's token is replaced with a wrong one on its way to the inner vault-ci.
    let inner = format!(
        "AWS_CONTAINER_AUTHORIZATION_TOKEN=wrong {} assume --provider container --role-arn {}",
        env!("CARGO_BIN_EXE_vault-ci"),
        moto.role("cfn")
    );
    let out = env.vault_ci([
        "assume",
        "--role-arn",
        &moto.role("deploy"),
        "--refresh",
        "--",
        "sh",
        "-c",
        &inner,
    ]);
    // The inner vault-ci's error, and its status passed on.
    out.fails(
        1,
        "vault-ci: the container credentials could not be had: an error occurred while loading \
         credentials: Non-success status from HTTP credential provider: StatusCode(403)",
    );
}

#[test]
fn a_container_uri_off_the_machine_over_plain_http_is_refused_by_the_sdks_rule() {
    let mut env = Env::new();
    env.sts(moto_auth()).set(
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "http://198.51.100.7/creds",
    );
    let out = env.vault_ci([
        "assume",
        "--role-arn",
        &moto_auth().role("cfn"),
        "--format",
        "json",
    ]);
    out.fails(
        1,
        "vault-ci: the container credentials could not be had: the credentials provider was not \
         properly configured: invalid full URI for ECS provider (URI did not refer to an allowed IP \
         address): http://198.51.100.7/creds; check AWS_CONTAINER_CREDENTIALS_FULL_URI / _RELATIVE_URI \
         and AWS_CONTAINER_AUTHORIZATION_TOKEN(_FILE)",
    );
}

#[test]
fn a_github_hosted_runner_without_the_oidc_permission_is_told_so_without_asking_instance_metadata()
{
    let moto = moto_auth();
    let imds = imds(&["--credentials", "{}", "--no-role"]);
    let mut env = instance_runner(moto, &imds);
    env.set("RUNNER_ENVIRONMENT", "github-hosted");
    let out = env.vault_ci(["assume", "--role-arn", &moto.role("cfn"), "--github-env"]);
    out.fails(
        1,
        "vault-ci: this GitHub Actions step has no OIDC token endpoint (ACTIONS_ID_TOKEN_REQUEST_URL / \
         ACTIONS_ID_TOKEN_REQUEST_TOKEN are not set)",
    );
    out.stderr_has_line("    id-token: write");
    assert!(!out.stderr.contains("IMDS"), "{out}");
    assert!(!out.stderr.contains("instance"), "{out}");
    assert!(
        imds.log().is_empty(),
        "instance metadata was asked: {:?}",
        imds.log()
    );
}
