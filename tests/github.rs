//! A GitHub Actions job with `permissions: id-token: write`.

use crate::harness::*;

#[test]
fn a_github_job_with_id_token_permission_gets_credentials_for_the_role_in_github_env() {
    let moto = moto();
    let github = github_endpoint(&[]);
    let mut env = Env::new();
    env.sts(moto).github_actions_with(&github);
    let role = moto.role("gha-deploy");

    let out = env.vault_ci(["assume", "--role-arn", &role, "--github-env"]);
    out.success();

    // Later steps see the variables exactly as the runner parses the file.
    let vars = parse_github_file(&env.read("github_env"));
    let session = "github-4242-2";
    assert_eq!(env.caller_arn(&vars), assumed_role("gha-deploy", session));
    assert_eq!(vars["AWS_REGION"], "us-east-1");
    assert!(vars["AWS_CREDENTIAL_EXPIRATION"].ends_with('Z'));

    // Every secret is masked on stdout, and nothing but masks is printed there.
    for name in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
    ] {
        let mask = format!("::add-mask::{}", vars[name]);
        assert!(
            out.stdout.lines().any(|l| l == mask),
            "{name} not masked:\n{out}"
        );
    }
    assert!(
        out.stdout.lines().all(|l| l.starts_with("::add-mask::")),
        "{out}"
    );
    assert!(!out.stderr.contains(&vars["AWS_SECRET_ACCESS_KEY"]));

    let outputs = parse_github_file(&env.read("github_output"));
    assert_eq!(outputs["aws-account-id"], ACCOUNT);
    assert_eq!(
        outputs["authenticated-arn"],
        assumed_role("gha-deploy", "github-4242-2")
    );
    // As configure-aws-credentials: the expiry is an output only with the keys.
    assert!(!outputs.contains_key("aws-expiration"), "{outputs:?}");

    // The token was asked for the STS audience, with the runner's bearer token.
    let log = github.log();
    assert_eq!(log.len(), 1, "one token request expected: {log:?}");
    let request = &log[0];
    assert_eq!(request["authorized"], true, "{request}");
    assert_eq!(
        request["query"]["audience"][0], "sts.amazonaws.com",
        "{request}"
    );
    assert_eq!(request["query"]["api-version"][0], "2.0", "{request}");
}

#[test]
fn a_custom_audience_is_requested_from_github() {
    let moto = moto();
    let github = github_endpoint(&[]);
    let mut env = Env::new();
    env.sts(moto).github_actions_with(&github);
    env.vault_ci([
        "assume",
        "--role-arn",
        &moto.role("gha-deploy"),
        "--audience",
        "https://github.com/octo-org",
        "--github-env",
    ])
    .success();
    let log = github.log();
    assert_eq!(
        log[0]["query"]["audience"][0], "https://github.com/octo-org",
        "{log:?}"
    );
}

#[test]
fn a_workflow_without_id_token_permission_is_told_what_to_add() {
    let mut env = Env::new();
    env.sts(moto()).github_actions();
    env.remove("ACTIONS_ID_TOKEN_REQUEST_URL")
        .remove("ACTIONS_ID_TOKEN_REQUEST_TOKEN");
    let out = env.vault_ci([
        "assume",
        "--role-arn",
        &moto().role("gha-deploy"),
        "--github-env",
    ]);
    out.fails(
        1,
        "vault-ci: this GitHub Actions step has no OIDC token endpoint \
         (ACTIONS_ID_TOKEN_REQUEST_URL / ACTIONS_ID_TOKEN_REQUEST_TOKEN are not set)",
    )
    .stderr_has_line(
        "  hint: the job needs permission to request an OIDC token; add to the workflow or job:",
    )
    .stderr_has_line("    id-token: write");
    env.file_is("github_env", "");
}

#[test]
fn a_stale_request_token_is_reported_as_refused() {
    let mut env = Env::new();
    env.sts(moto()).github_actions();
    env.set("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "not-the-runners-token");
    let out = env.vault_ci([
        "assume",
        "--role-arn",
        &moto().role("gha-deploy"),
        "--github-env",
    ]);
    out.fails(
        1,
        "vault-ci: GitHub's OIDC token endpoint answered HTTP 401 Unauthorized: the request token \
         was refused: it belongs to another job or has expired; request the token in the same job \
         that uses it",
    );
    assert!(!out.stderr.contains("not-the-runners-token"), "{out}");
    env.file_is("github_env", "");
}

#[test]
fn printing_keys_to_the_job_log_is_refused() {
    let mut env = Env::new();
    env.sts(moto()).github_actions();
    env.vault_ci(["assume", "--role-arn", &moto().role("gha-deploy")])
        .fails(
            2,
            "vault-ci: no destination given, and in GitHub Actions stdout is the job log: add \
             --github-env (or --env-file PATH, or `-- COMMAND`)",
        );
}

#[test]
fn output_credentials_and_a_masked_account_id_serve_configure_aws_credentials_users() {
    let moto = moto();
    let mut env = Env::new();
    env.sts(moto).github_actions();
    let out = env.vault_ci([
        "assume",
        "--role-arn",
        &moto.role("gha-deploy"),
        "--github-env",
        "--output-credentials",
        "--mask-account-id",
    ]);
    out.success();
    // The account is masked before anything else is printed or logged.
    assert_eq!(
        out.stdout.lines().next(),
        Some(format!("::add-mask::{ACCOUNT}").as_str())
    );
    let vars = parse_github_file(&env.read("github_env"));
    let outputs = parse_github_file(&env.read("github_output"));
    assert_eq!(outputs["aws-access-key-id"], vars["AWS_ACCESS_KEY_ID"]);
    assert_eq!(
        outputs["aws-secret-access-key"],
        vars["AWS_SECRET_ACCESS_KEY"]
    );
    assert_eq!(outputs["aws-session-token"], vars["AWS_SESSION_TOKEN"]);
}

#[test]
fn assume_role_sessions_are_tagged_with_the_run_like_configure_aws_credentials_does() {
    let sts = faulty_sts(&["--forward", &moto().endpoint()]);
    let mut env = Env::new();
    env.github_actions()
        .set("AWS_ENDPOINT_URL", sts.endpoint())
        .set("AWS_REGION", "us-east-1")
        .set("GITHUB_WORKFLOW", "Deploy (prod), #1")
        .set("GITHUB_ACTION", "__run_2")
        .set("GITHUB_ACTOR", "octocat")
        .set("GITHUB_SHA", "4f1e0c0ffee")
        .set("GITHUB_REF", "refs/heads/main");
    env.vault_ci([
        "assume",
        "--role-arn",
        &moto().role("gha-deploy"),
        "--chain",
        &moto().role("cfn"),
        "--github-session-tags",
        "--github-env",
    ])
    .success();
    let log = sts.log();
    assert_eq!(log.len(), 2, "{log:?}");
    // A web-identity hop cannot take tags; the AssumeRole hop after it does.
    assert_eq!(log[0]["action"], "AssumeRoleWithWebIdentity");
    assert_eq!(log[0]["tags"], serde_json::json!({}));
    let tags = &log[1]["tags"];
    assert_eq!(tags["GitHub"], "Actions", "{tags}");
    assert_eq!(tags["Repository"], "octo-org/octo-repo", "{tags}");
    // Characters STS refuses in a tag become `_`.
    assert_eq!(tags["Workflow"], "Deploy _prod__ _1", "{tags}");
    assert_eq!(tags["Actor"], "octocat", "{tags}");
    assert_eq!(tags["Commit"], "4f1e0c0ffee", "{tags}");
    // configure-aws-credentials' Branch is the whole ref; its optional tags follow.
    assert_eq!(tags["Branch"], "refs/heads/main", "{tags}");
    assert_eq!(tags["RunId"], "4242", "{tags}");
    assert_eq!(
        tags.as_object().unwrap().keys().collect::<Vec<_>>(),
        [
            "GitHub",
            "Repository",
            "Workflow",
            "Action",
            "Actor",
            "Commit",
            "Branch",
            "RunId"
        ],
        "{tags}"
    );
    // Later steps are the last role of the chain.
    let later_steps = parse_github_file(&env.read("github_env"));
    assert_eq!(
        env.caller_arn(&later_steps),
        assumed_role("cfn", "github-4242-2")
    );
}

/// vault-ci's stdout and stderr as the runner reads them: one stream, in order.
fn job_log(env: &Env, args: &[&str]) -> Vec<String> {
    let (mut reader, writer) = std::io::pipe().unwrap();
    let mut command = env.vault_ci_command(args);
    command.stdout(writer.try_clone().unwrap()).stderr(writer);
    let mut child = command.spawn().unwrap();
    drop(command);
    let mut log = String::new();
    std::io::Read::read_to_string(&mut reader, &mut log).unwrap();
    child.wait().unwrap();
    log.lines().map(str::to_string).collect()
}

#[test]
fn a_masked_account_id_is_masked_before_a_refusal_of_the_plan_quotes_it() {
    let mut env = Env::new();
    env.sts(moto())
        .github_actions()
        .set("VAULT_CI_ROLE_PROD", "arn:aws:iam::210987654321:role/");
    let role = moto().role("gha-deploy");
    let runs: [(&[&str], &[&str]); 2] = [
        // The role's account is not among the allowed: the refusal names both.
        (
            &["--role-arn", &role, "--allowed-account-id", "111122223333"],
            &[ACCOUNT, "111122223333"],
        ),
        // A role variable holding no ARN is quoted in its refusal.
        (&["--chain", "prod"], &["210987654321"]),
    ];
    for (run, accounts) in runs {
        let mut args = vec!["assume", "--github-env", "--mask-account-id"];
        args.extend(run);
        let log = job_log(&env, &args);
        assert!(
            log.iter().any(|l| l.starts_with("::error ")),
            "no refusal:\n{log:#?}"
        );
        for account in accounts {
            let shown = log
                .iter()
                .position(|l| l.contains(account) && !l.starts_with("::add-mask::"));
            let masked = log
                .iter()
                .position(|l| *l == format!("::add-mask::{account}"));
            assert!(
                shown.is_some() && masked.is_some_and(|masked| Some(masked) < shown),
                "{account} shown before it was masked:\n{log:#?}"
            );
        }
        env.file_is("github_env", "");
    }
}
