//! Bad input: one line naming the problem and the fix, exit 2 (1 when the job
//! lacks an identity), no request made (STS here is a closed port: a request
//! would be the line "cannot reach STS"), and the destination left as it was.

use crate::harness::*;

const ROLE: &str = "arn:aws:iam::123456789012:role/deploy";

fn env_with_keys() -> Env {
    let mut env = Env::new();
    env.set("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .set("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")
        .set(
            "AWS_SECRET_ACCESS_KEY",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        );
    env.write("aws-env.sh", "export KEEP=me\n");
    env
}

/// One bad input: the arguments after `assume`, the exit code and the whole
/// error line.
struct Case {
    args: &'static [&'static str],
    code: i32,
    says: &'static str,
}

const fn case(args: &'static [&'static str], code: i32, says: &'static str) -> Case {
    Case { args, code, says }
}

/// What the binary adds to `Plan::new`'s refusals (src/plan.rs tests every one
/// of those in-process): what clap and the identity source decide, the exit code,
/// the one line, paths relative to the working directory.
const BAD_INPUT: &[Case] = &[
    // clap reads the command line before there is a plan.
    case(
        &["--role-arn", ROLE, "--duration", "abc"],
        2,
        "vault-ci: invalid value 'abc' for '--duration <SECONDS>': invalid digit found in string",
    ),
    case(
        &["--role-arn", ROLE, "--max-attempts", "0"],
        2,
        "vault-ci: invalid value '0' for '--max-attempts <N>': 0 is not in 1..=20",
    ),
    case(
        &["--role-arn", ROLE, "--format", "yaml"],
        2,
        "vault-ci: invalid value 'yaml' for '--format <FORMAT>'",
    ),
    case(
        &["--role-arn", ROLE, "--provider", "travis"],
        2,
        "vault-ci: invalid value 'travis' for '--provider <PROVIDER>'",
    ),
    case(
        &[
            "--role-arn",
            ROLE,
            "--mfa-serial",
            "arn:aws:iam::123456789012:mfa/me",
        ],
        2,
        "vault-ci: the following required arguments were not provided: --mfa-code <CODE>",
    ),
    // A plan's refusal: a directory relative to where vault-ci runs.
    case(
        &["--role-arn", ROLE, "--env-file", "no/such/dir/x.sh"],
        2,
        "vault-ci: --env-file no/such/dir/x.sh: the directory no/such/dir does not exist; create it first",
    ),
    // A missing identity is exit 1, not bad usage; the token is read after the plan.
    case(
        &["--role-arn", ROLE, "--provider", "github"],
        1,
        "vault-ci: --provider github needs GitHub Actions' OIDC token endpoint \
         (ACTIONS_ID_TOKEN_REQUEST_URL / ACTIONS_ID_TOKEN_REQUEST_TOKEN are not set)",
    ),
    case(
        &["--role-arn", ROLE, "--token-file", "missing.jwt"],
        1,
        "vault-ci: cannot read the OIDC token file missing.jwt: No such file or directory (os error 2); \
         check --token-file / AWS_WEB_IDENTITY_TOKEN_FILE",
    ),
    case(
        &["--role-arn", ROLE, "--token-file", "aws-env.sh"],
        1,
        "vault-ci: the OIDC token from the file aws-env.sh is not a JWT (InvalidToken); \
         expected three base64url parts separated by dots",
    ),
];

#[test]
fn bad_input_is_refused_in_one_line_before_any_request() {
    for case in BAD_INPUT {
        let env = env_with_keys();
        let mut argv = vec!["assume"];
        argv.extend_from_slice(case.args);
        let picks_destination = case
            .args
            .iter()
            .any(|a| ["--env-file", "--format", "--github-env", "--bash-env"].contains(a));
        if !picks_destination {
            argv.extend(["--env-file", "aws-env.sh"]);
        }
        let out = env.vault_ci(&argv);
        out.fails(case.code, case.says).stdout_is("");
        env.file_is("aws-env.sh", "export KEEP=me\n");
    }
}

#[test]
fn a_hop_that_cannot_take_tags_or_external_ids_says_so() {
    let mut env = Env::new();
    env.set("AWS_ENDPOINT_URL", "http://127.0.0.1:9");
    let token = env.write("t.jwt", &mint_token(&[]));
    let base = [
        "assume",
        "--token-file",
        token.to_str().unwrap(),
        "--role-arn",
        ROLE,
    ];
    let mut args = base.to_vec();
    args.extend(["--tag", "team=x"]);
    env.vault_ci(&args).fails(
        2,
        "vault-ci: --tag applies to AssumeRole hops, and this run has only a web-identity hop: \
         put session tags in the token's https://aws.amazon.com/tags claim, or chain a role after it",
    );
    let mut args = base.to_vec();
    args.extend([
        "--mfa-serial",
        "arn:aws:iam::123456789012:mfa/me",
        "--mfa-code",
        "123456",
    ]);
    env.vault_ci(&args).fails(
        2,
        "vault-ci: --mfa-serial applies to AssumeRole from static keys (a person's IAM user); \
         an OIDC token carries no MFA",
    );
}

#[test]
fn without_any_identity_the_error_lists_the_ways_to_provide_one() {
    let env = Env::new();
    let out = env.vault_ci(["assume", "--role-arn", ROLE]);
    out.fails(
        1,
        "vault-ci: no identity found: not in a CI that issues OIDC tokens, no \
         AWS_WEB_IDENTITY_TOKEN_FILE, no AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, no container \
         credentials and no instance metadata",
    );
    out.stderr_has_line(
        "  hint: in GitHub Actions grant `permissions: id-token: write`; elsewhere pass --provider, \
         --token-file PATH, or export the deploy user's keys",
    );
}

#[test]
fn an_unreachable_sts_is_named_with_what_to_check() {
    let env = env_with_keys();
    let out = env.vault_ci(["assume", "--role-arn", ROLE, "--env-file", "aws-env.sh"]);
    out.fails(
        1,
        &format!(
            "vault-ci: cannot reach STS at http://127.0.0.1:9 for AssumeRole on {ROLE}: dispatch \
             failure: io error: error sending request: client error (Connect): tcp connect error: \
             Connection refused (os error 111) (gave up after 5 attempts)"
        ),
    );
    env.file_is("aws-env.sh", "export KEEP=me\n");
}

#[test]
fn version_and_help_describe_the_tool() {
    let env = Env::new();
    env.vault_ci(["--version"])
        .success()
        .stdout_is(&format!("vault-ci {}\n", env!("CARGO_PKG_VERSION")));
    let top = env.vault_ci(["--help"]);
    top.success();
    for command in ["assume", "token", "trust-policy"] {
        assert!(top.stdout.contains(command), "--help lacks {command}");
    }
    let help = env.vault_ci(["assume", "--help"]);
    help.success();
    for option in [
        "--role-arn",
        "--chain",
        "--github-env",
        "--bash-env",
        "--env-file",
        "--format",
        "VAULT_CI_ROLE_<NAME>",
    ] {
        assert!(help.stdout.contains(option), "--help lacks {option}");
    }
    env.vault_ci(["assume", "--no-such-flag"])
        .fails(2, "vault-ci: unexpected argument '--no-such-flag' found");
}

#[test]
fn a_role_in_another_partition_needs_a_region_of_that_partition() {
    let mut env = env_with_keys();
    env.remove("AWS_ENDPOINT_URL");
    env.vault_ci([
        "assume",
        "--role-arn",
        "arn:aws-cn:iam::123456789012:role/deploy",
    ])
    .fails(
        2,
        "vault-ci: arn:aws-cn:iam::123456789012:role/deploy is in the aws-cn partition, which the \
         default STS region (us-east-1) cannot reach: pass --region (e.g. cn-north-1 or us-gov-west-1)",
    );
}

#[test]
fn a_bare_role_name_needs_keys_to_know_the_account() {
    let mut env = Env::new();
    env.set("AWS_ENDPOINT_URL", "http://127.0.0.1:9");
    let token = env.write("t.jwt", &mint_token(&[]));
    env.vault_ci([
        "assume",
        "--token-file",
        token.to_str().unwrap(),
        "--role-arn",
        "deploy",
    ])
    .fails(
        2,
        "vault-ci: --role-arn `deploy` is a role name, which vault-ci can complete only from static \
         keys' account; give the whole ARN (arn:aws:iam::ACCOUNT:role/deploy)",
    );
}

#[test]
fn plain_http_to_another_host_is_refused_unless_asked_for() {
    let mut env = env_with_keys();
    // A LocalStack service container, as GitLab and GitHub services name them.
    env.set("AWS_ENDPOINT_URL", "http://localstack:4566");
    let out = env.vault_ci(["assume", "--role-arn", ROLE, "--env-file", "aws-env.sh"]);
    out.fails(
        2,
        "vault-ci: the STS endpoint http://localstack:4566 is plain http on another host: the OIDC \
         token and the credentials would cross the network unencrypted. Use https://, or add \
         --allow-plain-http (VAULT_CI_ALLOW_PLAIN_HTTP=true) if that network is yours, e.g. a \
         LocalStack service container",
    );
    env.file_is("aws-env.sh", "export KEEP=me\n");

    // Asked for, the exchange goes ahead: here to an address nothing answers at.
    env.set("AWS_ENDPOINT_URL", "http://192.0.2.1:9");
    let out = env.vault_ci([
        "assume",
        "--role-arn",
        ROLE,
        "--env-file",
        "aws-env.sh",
        "--allow-plain-http",
        "--max-attempts",
        "1",
        "--attempt-timeout",
        "1",
    ]);
    // Refused or unanswered, as the network has it.
    out.fails_matching(
        1,
        r"vault-ci: cannot reach STS at http://192\.0\.2\.1:9 for AssumeRole on arn:aws:iam::123456789012:role/deploy: .+",
    );
    env.file_is("aws-env.sh", "export KEEP=me\n");
}

#[test]
fn vault_ci_log_takes_target_and_level_directives() {
    let moto = moto();
    let mut env = Env::new();
    env.sts(moto);
    let token = env.write("token.jwt", &mint_token(&[]));
    let role = moto.role("gha-deploy");
    let run = |filter: &str| {
        let mut env = Env::new();
        env.sts(moto).set("VAULT_CI_LOG", filter);
        let out = env.vault_ci([
            "assume",
            "--token-file",
            token.to_str().unwrap(),
            "--role-arn",
            &role,
            "--",
            "true",
        ]);
        out.success();
        out.stderr.clone()
    };
    // vault-ci's own debug line for the command, and none of the SDK's.
    let ours = run("warn,vault_ci=debug");
    assert!(ours.contains("DEBUG running true"), "{ours}");
    assert!(!ours.contains("aws_smithy"), "{ours}");
    assert!(!run("error").contains("INFO"), "error hides the info lines");
    // A filter that does not parse is no filter: the default's info lines.
    assert!(run("vault_ci=loud").contains(" INFO "));
    drop(env);
}

/// A job of each CI vault-ci detects, with the deploy user's keys as its identity.
fn jobs_of_every_ci() -> Vec<(&'static str, Env)> {
    let markers: [(&str, &[(&str, &str)]); 5] = [
        ("GitLab CI", &[("GITLAB_CI", "true")]),
        ("CircleCI", &[("CIRCLECI", "true")]),
        ("Buildkite", &[("BUILDKITE", "true")]),
        ("Bitbucket Pipelines", &[("BITBUCKET_BUILD_NUMBER", "7")]),
        ("a CI (CI=true)", &[("CI", "true")]),
    ];
    markers
        .into_iter()
        .map(|(title, vars)| {
            let mut env = Env::new();
            env.sts(moto_auth()).deploy_user(moto_auth());
            for (name, value) in vars {
                env.set(name, *value);
            }
            (title, env)
        })
        .collect()
}

#[test]
fn in_every_ci_keys_reach_the_job_log_only_when_format_asks() {
    let role = moto_auth().role("deploy");
    for (title, env) in jobs_of_every_ci() {
        let destination = if title == "CircleCI" {
            "--bash-env"
        } else {
            "--env-file PATH"
        };
        let out = env.vault_ci(["assume", "--provider", "static", "--role-arn", &role]);
        out.fails(
            2,
            &format!(
                "vault-ci: no destination given, and in {title} stdout is the job log: add \
                 {destination} (or `-- COMMAND`), or --format env to print the keys anyway"
            ),
        );
        assert_eq!(out.stdout, "", "{title}");
        let out = env.vault_ci([
            "assume",
            "--provider",
            "static",
            "--role-arn",
            &role,
            "--format",
            "env",
        ]);
        out.success();
        let exports = env.write("exports.sh", &out.stdout);
        let vars = source_exports(&env, &exports);
        let session = env.caller_arn(&vars);
        assert!(
            session.starts_with(&format!("arn:aws:sts::{ACCOUNT}:assumed-role/deploy/")),
            "{title}: {session}"
        );
    }
}

#[test]
fn a_misspelt_vault_ci_variable_is_refused_before_anything_is_done() {
    let (_, mut env) = jobs_of_every_ci().remove(0);
    // What a GitLab project's CI/CD variable might say: meant VAULT_CI_ENV_FILE.
    env.set("VAULT_CI_ENVFILE", "aws.env");
    let out = env.vault_ci(["assume", "--role-arn", &moto_auth().role("deploy")]);
    out.fails(
        2,
        "vault-ci: VAULT_CI_ENVFILE is set, and vault-ci has no such setting: did you mean \
         VAULT_CI_ENV_FILE? Rename it, or unset it",
    );
    assert_eq!(out.stdout, "");
    assert!(!env.path("aws.env").exists());
}

#[test]
fn the_account_guards_variable_takes_the_name_the_options_rule_gives() {
    let mut env = Env::new();
    env.sts(moto_auth()).deploy_user(moto_auth());
    env.set("VAULT_CI_ALLOWED_ACCOUNT_ID", "999999999999");
    let role = moto_auth().role("deploy");
    env.vault_ci(["assume", "--role-arn", &role, "--env-file", "aws.env"])
        .fails(
            1,
            &format!(
                "vault-ci: the role {role} is in account {ACCOUNT}, which is not among \
                 --allowed-account-id (from VAULT_CI_ALLOWED_ACCOUNT_ID) 999999999999; nothing was \
                 written: check the role ARN, or add the account"
            ),
        );
    assert!(!env.path("aws.env").exists());
}

#[test]
fn a_command_that_is_not_there_is_named_before_sts_is_asked() {
    let env = env_with_keys();
    env.vault_ci([
        "assume",
        "--role-arn",
        ROLE,
        "--region",
        "eu-west-1",
        "--",
        "terraform-nope",
        "apply",
    ])
    .fails(
        127,
        "vault-ci: cannot run `terraform-nope`: command not found; is it installed and on PATH?",
    );
}

#[test]
fn a_token_for_another_audience_is_refused_before_sts_is_asked() {
    let mut env = Env::new();
    // A closed port: a request would be the line "cannot reach STS".
    env.set("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .set("AWS_REGION", "eu-west-1");
    let token = env.write(
        "t.jwt",
        &mint_token(&["--aud", "https://github.com/octo-org"]),
    );
    env.vault_ci([
        "assume",
        "--token-file",
        token.to_str().unwrap(),
        "--audience",
        "sts.amazonaws.com",
        "--role-arn",
        ROLE,
        "--env-file",
        "aws.env",
    ])
    .fails(
        1,
        &format!(
            "vault-ci: the token from the file {} is for audience https://github.com/octo-org, not the \
             --audience sts.amazonaws.com asked for: request it for sts.amazonaws.com where the job \
             gets it (GitLab: `aud:` under `id_tokens:`), or drop --audience",
            token.display()
        ),
    );
    assert!(!env.path("aws.env").exists());
}

#[test]
fn a_missing_or_misspelt_region_is_said_before_the_next_step_finds_out() {
    let mut env = Env::new();
    env.set("AWS_ENDPOINT_URL", moto_auth().endpoint())
        .deploy_user(moto_auth());
    let role = moto_auth().role("deploy");
    let out = env.vault_ci(["assume", "--role-arn", &role, "--env-file", "aws.env"]);
    out.success().stderr_has_line(
        " WARN no region given (--region, AWS_REGION): the credentials go out without AWS_REGION, \
         and the aws CLI stops with \"You must specify a region\" unless its config names one; STS \
         is asked in us-east-1",
    );
    let mut env = Env::new();
    env.deploy_user(moto_auth());
    // No endpoint: the misspelt region is where STS would be looked for.
    let out = env.vault_ci([
        "assume",
        "--role-arn",
        &role,
        "--region",
        "eu-west1",
        "--timeout",
        "1",
        "--env-file",
        "aws.env",
    ]);
    out.stderr_has_line(
        " WARN region `eu-west1` is no region of any AWS partition the SDK knows (did you mean \
         eu-west-1?): STS there will not answer",
    );
}

#[test]
fn a_bad_value_from_a_variable_names_the_variable() {
    let mut env = env_with_keys();
    env.set("VAULT_CI_DURATION", "60");
    env.vault_ci(["assume", "--role-arn", ROLE, "--env-file", "aws-env.sh"])
        .fails(
            2,
            "vault-ci: --duration (from VAULT_CI_DURATION) 60 is out of range: STS accepts 900 to \
             43200 seconds",
        );
    // Given on the command line, the flag is named as it was given.
    env.vault_ci([
        "assume",
        "--role-arn",
        ROLE,
        "--duration",
        "60",
        "--env-file",
        "aws-env.sh",
    ])
    .fails(
        2,
        "vault-ci: --duration 60 is out of range: STS accepts 900 to 43200 seconds",
    );
}
