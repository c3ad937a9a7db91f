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

/// One bad input: the arguments after `assume`, variables to set, the exit
/// code and fragments the one-line error must contain.
struct Case {
    args: &'static [&'static str],
    env: &'static [(&'static str, &'static str)],
    code: i32,
    says: &'static [&'static str],
}

const fn case(args: &'static [&'static str], code: i32, says: &'static [&'static str]) -> Case {
    Case {
        args,
        env: &[],
        code,
        says,
    }
}

const BAD_INPUT: &[Case] = &[
    // roles
    case(
        &["--role-arn", "de ploy"],
        2,
        &["--role-arn", "not a role ARN"],
    ),
    case(
        &["--role-arn", "arn:aws:iam::1234:role/x"],
        2,
        &["12 digits"],
    ),
    case(
        &["--role-arn", "arn:aws:iam::123456789012:user/x"],
        2,
        &["role/"],
    ),
    case(
        &["--chain", "deploy"],
        2,
        &["VAULT_CI_ROLE_DEPLOY is not set"],
    ),
    case(&["--chain", "a,,b"], 2, &["empty entry at position 2"]),
    case(
        &["--chain", "de ploy"],
        2,
        &["neither a role ARN nor a name"],
    ),
    Case {
        args: &["--chain", "deploy"],
        env: &[("VAULT_CI_ROLE_DEPLOY", "deploy-role")],
        code: 2,
        says: &["VAULT_CI_ROLE_DEPLOY holds", "not a role ARN"],
    },
    case(&[], 2, &["no role to assume"]),
    // durations and per-hop options
    case(
        &["--role-arn", ROLE, "--duration", "60"],
        2,
        &["--duration 60", "900 to 43200"],
    ),
    case(
        &["--role-arn", ROLE, "--duration", "50000"],
        2,
        &["--duration 50000"],
    ),
    case(
        &["--role-arn", ROLE, "--chain", ROLE, "--duration", "7200"],
        2,
        &["role chaining", "3600"],
    ),
    case(
        &["--role-arn", ROLE, "--duration", "abc"],
        2,
        &["--duration", "invalid digit"],
    ),
    case(
        &["--role-arn", ROLE, "--session-policy", "{nope"],
        2,
        &["--session-policy", "not valid JSON"],
    ),
    case(
        &["--role-arn", ROLE, "--session-policy", "@missing.json"],
        2,
        &["cannot read the file"],
    ),
    case(
        &["--role-arn", ROLE, "--session-policy", "[1,2]"],
        2,
        &["not an IAM policy"],
    ),
    case(
        &["--role-arn", ROLE, "--tag", "team"],
        2,
        &["--tag `team`", "KEY=VALUE"],
    ),
    case(
        &["--role-arn", ROLE, "--tag", "aws:x=1"],
        2,
        &["reserved for AWS"],
    ),
    case(
        &["--role-arn", ROLE, "--tag", "a=1", "--tag", "A=2"],
        2,
        &["given twice"],
    ),
    case(
        &["--role-arn", ROLE, "--managed-policy", "ReadOnly"],
        2,
        &["--managed-policy", "not a managed policy ARN"],
    ),
    case(
        &["--role-arn", ROLE, "--external-id", "x"],
        2,
        &["--external-id"],
    ),
    case(
        &["--role-arn", ROLE, "--source-identity", "a b"],
        2,
        &["--source-identity"],
    ),
    case(
        &[
            "--role-arn",
            ROLE,
            "--mfa-serial",
            "arn:aws:iam::123456789012:mfa/me",
            "--mfa-code",
            "12",
        ],
        2,
        &["6 digits"],
    ),
    case(
        &[
            "--role-arn",
            ROLE,
            "--mfa-serial",
            "arn:aws:iam::123456789012:mfa/me",
        ],
        2,
        &["--mfa-code"],
    ),
    // where STS is
    case(
        &["--role-arn", ROLE, "--region", "US East"],
        2,
        &["not an AWS region"],
    ),
    case(
        &["--role-arn", ROLE, "--sts-endpoint", "not a url"],
        2,
        &["--sts-endpoint", "not a URL"],
    ),
    case(
        &[
            "--role-arn",
            ROLE,
            "--sts-endpoint",
            "ftp://sts.example.com",
        ],
        2,
        &["http:// or https://"],
    ),
    case(
        &["--role-arn", ROLE, "--http-proxy", "::"],
        2,
        &["--http-proxy", "not a URL"],
    ),
    case(
        &["--role-arn", ROLE, "--ca-bundle", "missing.pem"],
        2,
        &["CA bundle", "cannot read it"],
    ),
    case(
        &["--role-arn", ROLE, "--max-attempts", "0"],
        2,
        &["--max-attempts"],
    ),
    Case {
        args: &["--role-arn", ROLE],
        env: &[("AWS_ENDPOINT_URL_STS", "sts")],
        code: 2,
        says: &["AWS_ENDPOINT_URL_STS", "not a URL"],
    },
    // destinations
    case(
        &["--role-arn", ROLE, "--github-env"],
        2,
        &["$GITHUB_ENV", "not set"],
    ),
    case(
        &["--role-arn", ROLE, "--bash-env"],
        2,
        &["$BASH_ENV", "not set"],
    ),
    case(
        &["--role-arn", ROLE, "--env-file", "no/such/dir/x.sh"],
        2,
        &["does not exist"],
    ),
    case(
        &["--role-arn", ROLE, "--env-file", "aws-env.sh/inside"],
        2,
        &["does not exist"],
    ),
    case(
        &["--role-arn", ROLE, "--env-file", "."],
        2,
        &["is a directory"],
    ),
    case(
        &["--role-arn", ROLE, "--format", "yaml"],
        2,
        &["invalid value 'yaml'"],
    ),
    case(
        &["--role-arn", ROLE, "--format", "json", "--", "true"],
        2,
        &["--format", "one or the other"],
    ),
    // identity
    case(
        &["--role-arn", ROLE, "--provider", "token-file"],
        2,
        &["--token-file"],
    ),
    case(
        &["--role-arn", ROLE, "--provider", "travis"],
        2,
        &["invalid value 'travis'"],
    ),
    case(
        &["--role-arn", ROLE, "--provider", "github"],
        1,
        &["GitHub Actions' OIDC token endpoint"],
    ),
    case(
        &["--role-arn", ROLE, "--provider", "gitlab"],
        1,
        &["GitLab job has no OIDC token"],
    ),
    case(
        &["--role-arn", ROLE, "--token-file", "missing.jwt"],
        1,
        &["cannot read the OIDC token file", "missing.jwt"],
    ),
    case(
        &["--role-arn", ROLE, "--token-file", "aws-env.sh"],
        1,
        &["not a JWT"],
    ),
    case(
        &["--role-arn", ROLE, "--trust-policy", "missing.json"],
        2,
        &["--trust-policy", "cannot read it"],
    ),
    case(
        &["--role-arn", ROLE, "--trust-policy", "aws-env.sh"],
        2,
        &["--trust-policy", "is not JSON"],
    ),
];

#[test]
fn bad_input_is_refused_before_any_request() {
    assert!(BAD_INPUT.len() >= 30);
    for case in BAD_INPUT {
        let mut env = env_with_keys();
        for (name, value) in case.env {
            env.set(name, *value);
        }
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
        out.failure(case.code, case.says);
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
    .failure(
        2,
        &[
            "`deploy` is a role name",
            "arn:aws:iam::ACCOUNT:role/deploy",
        ],
    );
}

#[test]
fn plain_http_to_another_host_is_refused_unless_asked_for() {
    let mut env = env_with_keys();
    // A LocalStack service container, as GitLab and GitHub services name them.
    env.set("AWS_ENDPOINT_URL", "http://localstack:4566");
    let out = env.vault_ci(["assume", "--role-arn", ROLE, "--env-file", "aws-env.sh"]);
    out.failure(
        2,
        &[
            "the STS endpoint http://localstack:4566 is plain http on another host",
            "credentials would cross the network unencrypted",
            "--allow-plain-http",
        ],
    );
    assert_eq!(env.read("aws-env.sh"), "export KEEP=me\n");

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
    out.failure(1, &["cannot reach STS at http://192.0.2.1:9"]);
    assert_eq!(env.read("aws-env.sh"), "export KEEP=me\n");
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
