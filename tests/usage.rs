//! Bad input: one line naming the problem and the fix, exit 2, no request made
//! (STS here is a closed port), and the destination left as it was.

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

#[test]
fn bad_input_is_refused_before_any_request() {
    let cases: &[(&[&str], &[&str])] = &[
        (&["--role-arn", "deploy"], &["--role-arn", "not a role ARN"]),
        (&["--role-arn", "arn:aws:iam::1234:role/x"], &["12 digits"]),
        (&["--chain", "deploy"], &["VAULT_CI_ROLE_DEPLOY is not set"]),
        (&["--chain", "a,,b"], &["empty entry at position 2"]),
        (&["--chain", "de ploy"], &["neither a role ARN nor a name"]),
        (
            &["--role-arn", ROLE, "--duration", "60"],
            &["--duration 60", "900 to 43200"],
        ),
        (
            &["--role-arn", ROLE, "--chain", ROLE, "--duration", "7200"],
            &["role chaining", "3600"],
        ),
        (
            &["--role-arn", ROLE, "--session-policy", "{nope"],
            &["--session-policy", "not valid JSON"],
        ),
        (
            &["--role-arn", ROLE, "--session-policy", "@missing.json"],
            &["cannot read the file"],
        ),
        (
            &["--role-arn", ROLE, "--tag", "team"],
            &["--tag `team`", "KEY=VALUE"],
        ),
        (
            &["--role-arn", ROLE, "--managed-policy", "ReadOnly"],
            &["--managed-policy", "not a managed policy ARN"],
        ),
        (
            &["--role-arn", ROLE, "--region", "US East"],
            &["not an AWS region"],
        ),
        (
            &["--role-arn", ROLE, "--external-id", "x"],
            &["--external-id"],
        ),
        (
            &["--role-arn", ROLE, "--source-identity", "a b"],
            &["--source-identity"],
        ),
        (
            &[
                "--role-arn",
                ROLE,
                "--mfa-serial",
                "arn:aws:iam::123456789012:mfa/me",
                "--mfa-code",
                "12",
            ],
            &["6 digits"],
        ),
        (
            &["--role-arn", ROLE, "--sts-endpoint", "not a url"],
            &["--sts-endpoint", "not a URL"],
        ),
        (
            &["--role-arn", ROLE, "--http-proxy", "::"],
            &["--http-proxy", "not a URL"],
        ),
        (
            &["--role-arn", ROLE, "--github-env"],
            &["$GITHUB_ENV", "not set"],
        ),
        (
            &["--role-arn", ROLE, "--bash-env"],
            &["$BASH_ENV", "not set"],
        ),
        (
            &["--role-arn", ROLE, "--env-file", "no/such/dir/x.sh"],
            &["does not exist"],
        ),
        (
            &["--role-arn", ROLE, "--format", "json", "--", "true"],
            &["--format", "one or the other"],
        ),
        (
            &["--role-arn", ROLE, "--provider", "token-file"],
            &["--token-file"],
        ),
        (&[], &["no role to assume"]),
    ];
    let env = env_with_keys();
    for (args, fragments) in cases {
        let mut argv = vec!["assume"];
        argv.extend_from_slice(args);
        if !args.iter().any(|a| {
            a.starts_with("--env-file")
                || *a == "--format"
                || a.starts_with("--github")
                || a.starts_with("--bash")
        }) {
            argv.extend(["--env-file", "aws-env.sh"]);
        }
        let out = env.vault_ci(&argv);
        out.failure(2, fragments);
        assert_eq!(
            out.stderr
                .lines()
                .filter(|l| l.starts_with("vault-ci: "))
                .count(),
            1,
            "{argv:?}: one error line expected:\n{out}"
        );
        assert_eq!(
            env.read("aws-env.sh"),
            "export KEEP=me\n",
            "{argv:?} touched the env file"
        );
        assert_eq!(out.stdout, "", "{argv:?}");
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
    env.vault_ci(&args)
        .failure(2, &["--tag applies to AssumeRole hops"]);
    let mut args = base.to_vec();
    args.extend([
        "--mfa-serial",
        "arn:aws:iam::123456789012:mfa/me",
        "--mfa-code",
        "123456",
    ]);
    env.vault_ci(&args).failure(2, &["static keys"]);
}

#[test]
fn without_any_identity_the_error_lists_the_ways_to_provide_one() {
    let env = Env::new();
    env.vault_ci(["assume", "--role-arn", ROLE]).failure(
        1,
        &[
            "no identity found",
            "AWS_WEB_IDENTITY_TOKEN_FILE",
            "AWS_ACCESS_KEY_ID",
        ],
    );
}

#[test]
fn an_unreachable_sts_is_named_with_what_to_check() {
    let env = env_with_keys();
    let out = env.vault_ci(["assume", "--role-arn", ROLE, "--env-file", "aws-env.sh"]);
    out.failure(1, &["cannot reach STS at http://127.0.0.1:9", ROLE]);
    assert_eq!(env.read("aws-env.sh"), "export KEEP=me\n");
}

#[test]
fn version_and_help_describe_the_tool() {
    let env = Env::new();
    let version = env.vault_ci(["--version"]);
    version.success();
    assert_eq!(
        version.stdout.trim(),
        format!("vault-ci {}", env!("CARGO_PKG_VERSION"))
    );
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
    assert_eq!(env.vault_ci(["assume", "--no-such-flag"]).code, Some(2));
}

#[test]
fn secrets_stay_out_of_the_most_verbose_logs() {
    let moto = moto_auth();
    let mut env = Env::new();
    env.sts(moto).deploy_user(moto);
    let out = env.vault_ci([
        "-vv",
        "assume",
        "--chain",
        &moto.role("deploy"),
        "--chain",
        &moto.role("cfn"),
        "--format",
        "json",
    ]);
    let doc = out.json();
    let secrets = [
        moto.str("/deploy_user/secret_access_key"),
        doc["SecretAccessKey"].as_str().unwrap().to_string(),
        doc["SessionToken"].as_str().unwrap().to_string(),
    ];
    assert!(out.stderr.lines().count() > 5, "-vv should log:\n{out}");
    for secret in &secrets {
        assert!(
            !out.stderr.contains(secret.as_str()),
            "a secret reached the log:\n{}",
            out.stderr
        );
    }

    let moto = crate::harness::moto();
    let mut env = Env::new();
    env.sts(moto);
    let jwt = mint_token(&[]);
    let token = env.write("t.jwt", &jwt);
    // The widest filter a user can set: every crate, including the SDK, at trace.
    env.set("RUST_LOG", "trace");
    let out = env.vault_ci([
        "assume",
        "--token-file",
        token.to_str().unwrap(),
        "--role-arn",
        &moto.role("gha-deploy"),
        "--format",
        "json",
    ]);
    let doc = out.json();
    assert!(!out.stderr.contains(&jwt), "the token reached the log");
    assert!(
        !out.stderr.contains(jwt.split('.').nth(2).unwrap()),
        "the token signature reached the log"
    );
    assert!(
        !out.stderr
            .contains(doc["SecretAccessKey"].as_str().unwrap())
    );
    assert!(!out.stderr.contains(doc["SessionToken"].as_str().unwrap()));
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
    .failure(2, &["aws-cn partition", "--region"]);
}
