use super::*;
use crate::cli::{Cli, Command};
use crate::error::Kind;
use crate::hop::replay;
use crate::sink::Order;
use aws_smithy_http_client::test_util::StaticReplayClient;
use clap::{CommandFactory, FromArgMatches};

const ROLE: &str = "arn:aws:iam::123456789012:role/deploy";
const CFN: &str = "arn:aws:iam::123456789012:role/cfn";

fn keys() -> Vec<(&'static str, &'static str)> {
    vec![
        ("AWS_ACCESS_KEY_ID", "AKIAEXAMPLEKEY123456"),
        ("AWS_SECRET_ACCESS_KEY", "secret"),
        ("AWS_ENDPOINT_URL", "http://127.0.0.1:1"),
    ]
}

/// The plan for `vault-ci assume ARGV` in an environment of exactly `env`.
fn plan(argv: &[&str], env: &[(&str, &str)]) -> Result<Plan> {
    Plan::new(&args(argv), &Env::of(env.iter().copied()))
}

/// `vault-ci assume ARGV`'s arguments.
fn args(argv: &[&str]) -> AssumeArgs {
    // The command line alone: clap would read VAULT_CI_* from the process
    // running the tests.
    let matches = Cli::command()
        .mut_subcommand("assume", |assume| assume.mut_args(|arg| arg.env(None)))
        .try_get_matches_from(["vault-ci", "assume"].iter().chain(argv))
        .unwrap_or_else(|e| panic!("{e}"));
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| panic!("{e}"));
    let Command::Assume(args) = cli.command else {
        unreachable!()
    };
    *args
}

/// The steps of a plan that names every role by its ARN: no request is made.
fn steps(plan: &Plan) -> Vec<Step> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(plan.steps()).unwrap()
}

#[track_caller]
fn refused(argv: &[&str], env: &[(&str, &str)]) -> String {
    match plan(argv, env) {
        Ok(_) => panic!("{argv:?} was accepted"),
        Err(err) => err.message().to_string(),
    }
}

/// A directory for the files bad input names, with an env file that no
/// refusal may touch.
struct Scratch(tempfile::TempDir);

impl Scratch {
    const KEPT: &str = "export KEEP=me\n";

    fn new() -> Scratch {
        let dir = tempfile::TempDir::new().unwrap();
        std::fs::write(dir.path().join("aws-env.sh"), Scratch::KEPT).unwrap();
        Scratch(dir)
    }

    fn path(&self, name: &str) -> String {
        self.0.path().join(name).display().to_string()
    }

    /// `vault-ci assume ARGV` (to the env file, unless it names a
    /// destination) is refused as bad usage (exit 2) with exactly `says`,
    /// and the env file is as it was.
    #[track_caller]
    fn refuses(&self, argv: &[&str], env: &[(&str, &str)], says: &str) {
        self.refuses_as(Kind::Usage, argv, env, says);
    }

    /// The same, refused as `kind`.
    #[track_caller]
    fn refuses_as(&self, kind: Kind, argv: &[&str], env: &[(&str, &str)], says: &str) {
        let env_file = self.path("aws-env.sh");
        let mut argv = argv.to_vec();
        let destinations = ["--env-file", "--format", "--github-env", "--bash-env"];
        if !argv.iter().any(|a| destinations.contains(a)) {
            argv.extend(["--env-file", &env_file]);
        }
        let err = match plan(&argv, env) {
            Ok(_) => panic!("{argv:?} was accepted"),
            Err(err) => err,
        };
        assert_eq!(err.message(), says, "{argv:?}");
        assert_eq!(err.kind(), kind, "{argv:?}: {says}");
        assert_eq!(
            std::fs::read_to_string(&env_file).unwrap(),
            Scratch::KEPT,
            "{argv:?} touched the env file"
        );
    }
}

/// What the OS says of a file that is not there.
fn no_such_file() -> String {
    std::io::Error::from_raw_os_error(2).to_string()
}

#[test]
fn a_chain_asks_for_the_short_minimum_in_between_and_the_duration_at_the_end() {
    let plan = plan(
        &[
            "--role-arn",
            ROLE,
            "--chain",
            CFN,
            "--duration",
            "1800",
            "--session-policy",
            r#"{"Statement":[]}"#,
        ],
        &keys(),
    )
    .unwrap();
    let steps = steps(&plan);
    let shown: Vec<(&str, u32, bool)> = steps
        .iter()
        .map(|s| (s.label.as_str(), s.duration, s.policy.is_some()))
        .collect();
    assert_eq!(shown, [(ROLE, 900, false), (CFN, 1800, true)]);
    assert!(steps[0].session_name.starts_with("vault-ci-"));
    assert!(matches!(plan.finish, Finish::Done));
    assert_eq!(plan.sinks.len(), 1, "export lines on stdout");
}

#[test]
fn names_in_the_chain_come_from_vault_ci_role_variables() {
    let mut env = keys();
    env.push(("VAULT_CI_ROLE_DEPLOY_APP", ROLE));
    let plan = plan(&["--chain", "deploy-app"], &env).unwrap();
    assert_eq!(steps(&plan)[0].role, ROLE.parse().unwrap());
    assert_eq!(
        refused(&["--chain", "cfn"], &keys()),
        "--chain cfn: VAULT_CI_ROLE_CFN is not set; set it to the role's ARN (e.g. as a CI variable) or put the ARN in --chain"
    );
}

#[test]
fn a_bare_role_name_waits_for_the_keys_account() {
    let plan = plan(&["--role-arn", "deploy"], &keys()).unwrap();
    assert!(matches!(
        plan.roles.as_slice(),
        [(Role::InCallersAccount(name), _)] if name == "deploy"
    ));
    let token_file = [("AWS_WEB_IDENTITY_TOKEN_FILE", "/t")];
    assert_eq!(
        refused(&["--role-arn", "deploy"], &token_file),
        "--role-arn `deploy` is a role name, which vault-ci can complete only from static keys' \
         account; give the whole ARN (arn:aws:iam::ACCOUNT:role/deploy)"
    );
}

#[test]
fn a_role_that_cannot_be_assumed_is_refused_by_name() {
    let at = Scratch::new();
    let keys = keys();
    at.refuses(
        &["--role-arn", "de ploy"],
        &keys,
        "--role-arn: `de ploy` is not a role ARN: it needs six ':'-separated parts \
         (expected e.g. arn:aws:iam::123456789012:role/deploy)",
    );
    at.refuses(
        &["--role-arn", "arn:aws:iam::1234:role/x"],
        &keys,
        "--role-arn: `arn:aws:iam::1234:role/x` is not a role ARN: the account id `1234` must be \
         exactly 12 digits (expected e.g. arn:aws:iam::123456789012:role/deploy)",
    );
    at.refuses(
        &["--role-arn", "arn:aws:iam::123456789012:user/x"],
        &keys,
        "--role-arn: `arn:aws:iam::123456789012:user/x` is not a role ARN: the resource `user/x` \
         must start with `role/` (expected e.g. arn:aws:iam::123456789012:role/deploy)",
    );
    at.refuses(
        &["--chain", "deploy"],
        &keys,
        "--chain deploy: VAULT_CI_ROLE_DEPLOY is not set; set it to the role's ARN \
         (e.g. as a CI variable) or put the ARN in --chain",
    );
    at.refuses(
        &["--chain", "a,,b"],
        &keys,
        "--chain has an empty entry at position 2: write names or ARNs separated by single commas",
    );
    at.refuses(
        &["--role-arn", ROLE, "--chain", "a,,b"],
        &keys,
        "--chain has an empty entry at position 2: write names or ARNs separated by single commas",
    );
    at.refuses(
        &["--chain", "de ploy"],
        &keys,
        "--chain entry `de ploy` is neither a role ARN nor a name of letters, digits, `-` and `_`",
    );
    let mut named = keys.clone();
    named.push(("VAULT_CI_ROLE_DEPLOY", "deploy-role"));
    at.refuses(
        &["--chain", "deploy"],
        &named,
        "--chain deploy: VAULT_CI_ROLE_DEPLOY holds `deploy-role` is not a role ARN: it needs six \
         ':'-separated parts (expected e.g. arn:aws:iam::123456789012:role/deploy)",
    );
    at.refuses(
        &[],
        &keys,
        "no role to assume: pass --role-arn ARN, or --chain NAME,... with VAULT_CI_ROLE_<NAME> set, \
         or --no-role to deliver these credentials as they are",
    );
    let mut default_endpoint = keys.clone();
    default_endpoint.retain(|(k, _)| *k != "AWS_ENDPOINT_URL");
    at.refuses(
        &["--role-arn", "arn:aws-cn:iam::123456789012:role/x"],
        &default_endpoint,
        "arn:aws-cn:iam::123456789012:role/x is in the aws-cn partition, which the default STS \
         region (us-east-1) cannot reach: pass --region (e.g. cn-north-1 or us-gov-west-1)",
    );
}

#[test]
fn a_duration_or_session_option_sts_would_refuse_is_refused_first() {
    let at = Scratch::new();
    let keys = keys();
    at.refuses(
        &["--role-arn", ROLE, "--duration", "60"],
        &keys,
        "--duration 60 is out of range: STS accepts 900 to 43200 seconds",
    );
    at.refuses(
        &["--role-arn", ROLE, "--duration", "50000"],
        &keys,
        "--duration 50000 is out of range: STS accepts 900 to 43200 seconds",
    );
    at.refuses(
        &["--role-arn", ROLE, "--chain", ROLE, "--duration", "7200"],
        &keys,
        "--duration 7200 is too long for a chained role: STS caps role chaining at 3600 seconds; \
         use --duration 3600 or less",
    );
    at.refuses(
        &["--role-arn", ROLE, "--session-policy", "{nope"],
        &keys,
        "--session-policy JSON is not valid JSON (key must be a string at line 1 column 2); \
         pass a policy document or @FILE",
    );
    let missing = at.path("missing.json");
    at.refuses(
        &[
            "--role-arn",
            ROLE,
            "--session-policy",
            &format!("@{missing}"),
        ],
        &keys,
        &format!(
            "--session-policy @{missing}: cannot read the file: {}",
            no_such_file()
        ),
    );
    at.refuses(
        &["--role-arn", ROLE, "--session-policy", "[1,2]"],
        &keys,
        "--session-policy JSON is not an IAM policy: it needs a JSON object with a \"Statement\"",
    );
    at.refuses(
        &["--role-arn", ROLE, "--tag", "team"],
        &keys,
        "--tag `team` has no `=`: write it as KEY=VALUE, e.g. --tag team=payments",
    );
    at.refuses(
        &["--role-arn", ROLE, "--tag", "aws:x=1"],
        &keys,
        "--tag key `aws:x` starts with `aws:`, which is reserved for AWS",
    );
    at.refuses(
        &["--role-arn", ROLE, "--tag", "a=1", "--tag", "A=2"],
        &keys,
        "--tag A is given twice (tag keys are case-insensitive): keep one",
    );
    at.refuses(
        &["--role-arn", ROLE, "--managed-policy", "ReadOnly"],
        &keys,
        "--managed-policy `ReadOnly` is not a managed policy ARN (expected e.g. \
         arn:aws:iam::aws:policy/ReadOnlyAccess or arn:aws:iam::123456789012:policy/deploy)",
    );
    at.refuses(
        &["--role-arn", ROLE, "--external-id", "x"],
        &keys,
        "--external-id must be 2-1224 characters of letters, digits and +=,.@:/_-",
    );
    at.refuses(
        &["--role-arn", ROLE, "--source-identity", "a b"],
        &keys,
        "--source-identity `a b` must be 2-64 characters of letters, digits and +=,.@_- \
         (not starting with aws:)",
    );
    let mfa = "arn:aws:iam::123456789012:mfa/me";
    at.refuses(
        &["--role-arn", ROLE, "--mfa-serial", mfa, "--mfa-code", "12"],
        &keys,
        "--mfa-code must be the 6 digits your MFA device shows now",
    );
    at.refuses(
        &[
            "--role-arn",
            ROLE,
            "--mfa-serial",
            "x",
            "--mfa-code",
            "123456",
        ],
        &keys,
        "--mfa-serial `x` is not an MFA device (expected e.g. arn:aws:iam::123456789012:mfa/alice)",
    );
}

#[test]
fn where_sts_is_and_how_to_reach_it_is_checked_before_a_request() {
    let at = Scratch::new();
    let keys = keys();
    at.refuses(
        &["--role-arn", ROLE, "--region", "US East"],
        &keys,
        "region `US East` is not an AWS region name (expected e.g. us-east-1, eu-central-1)",
    );
    at.refuses(
        &["--role-arn", ROLE, "--sts-endpoint", "not a url"],
        &keys,
        "--sts-endpoint `not a url` is not a URL (relative URL without a base); \
         expected e.g. https://sts.eu-west-1.amazonaws.com",
    );
    at.refuses(
        &[
            "--role-arn",
            ROLE,
            "--sts-endpoint",
            "ftp://sts.example.com",
        ],
        &keys,
        "--sts-endpoint `ftp://sts.example.com` must be an http:// or https:// URL with a host",
    );
    at.refuses(
        &["--role-arn", ROLE, "--http-proxy", "::"],
        &keys,
        "--http-proxy is not a URL (empty host); expected e.g. http://proxy.internal:3128",
    );
    let missing = at.path("missing.pem");
    at.refuses(
        &["--role-arn", ROLE, "--ca-bundle", &missing],
        &keys,
        &format!(
            "CA bundle {missing}: cannot read it ({}); point --ca-bundle or AWS_CA_BUNDLE at a PEM file",
            no_such_file()
        ),
    );
    let mut sts_variable = keys.clone();
    sts_variable.push(("AWS_ENDPOINT_URL_STS", "sts"));
    at.refuses(
        &["--role-arn", ROLE],
        &sts_variable,
        "AWS_ENDPOINT_URL_STS `sts` is not a URL (relative URL without a base); \
         expected e.g. https://sts.eu-west-1.amazonaws.com",
    );
}

#[test]
fn a_destination_that_cannot_be_written_is_refused_before_a_request() {
    let at = Scratch::new();
    let keys = keys();
    at.refuses(
        &["--role-arn", ROLE, "--github-env"],
        &keys,
        "--github-env needs $GITHUB_ENV, which is not set: it exists only inside a GitHub \
         Actions step; elsewhere use --env-file PATH",
    );
    at.refuses(
        &["--role-arn", ROLE, "--bash-env"],
        &keys,
        "--bash-env needs $BASH_ENV, which is not set: CircleCI sets it in every job; \
         elsewhere use --env-file PATH",
    );
    let (nowhere, dir) = (at.path("no/such/dir/x.sh"), at.path("no/such/dir"));
    at.refuses(
        &["--role-arn", ROLE, "--env-file", &nowhere],
        &keys,
        &format!("--env-file {nowhere}: the directory {dir} does not exist; create it first"),
    );
    let (inside, file) = (at.path("aws-env.sh/inside"), at.path("aws-env.sh"));
    at.refuses(
        &["--role-arn", ROLE, "--env-file", &inside],
        &keys,
        &format!("--env-file {inside}: the directory {file} does not exist; create it first"),
    );
    let here = at.path("");
    let here = here.trim_end_matches(std::path::MAIN_SEPARATOR);
    at.refuses(
        &["--role-arn", ROLE, "--env-file", here],
        &keys,
        &format!("--env-file {here} is a directory; give a file path"),
    );
    at.refuses(
        &["--role-arn", ROLE, "--format", "json", "--", "true"],
        &keys,
        "--format prints the credentials to stdout, which the command after `--` also writes \
         to: use one or the other",
    );
}

#[test]
fn an_identity_that_is_not_there_is_refused_before_a_request() {
    let at = Scratch::new();
    let keys = keys();
    at.refuses(
        &["--role-arn", ROLE, "--provider", "token-file"],
        &keys,
        "--provider token-file needs --token-file PATH or AWS_WEB_IDENTITY_TOKEN_FILE",
    );
    // Exit 1, not 2: the command line is right, the job lacks the identity.
    at.refuses_as(
        Kind::Identity,
        &["--role-arn", ROLE, "--provider", "github"],
        &keys,
        "--provider github needs GitHub Actions' OIDC token endpoint \
         (ACTIONS_ID_TOKEN_REQUEST_URL / ACTIONS_ID_TOKEN_REQUEST_TOKEN are not set)",
    );
    at.refuses_as(
        Kind::Identity,
        &["--role-arn", ROLE, "--provider", "gitlab"],
        &keys,
        "this GitLab job has no OIDC token: none of $VAULT_CI_ID_TOKEN, $GITLAB_OIDC_TOKEN, \
         $AWS_WEB_IDENTITY_TOKEN, $STS_AMAZONAWS_COM_ID_TOKEN is set",
    );
    let missing = at.path("missing.json");
    at.refuses(
        &["--role-arn", ROLE, "--trust-policy", &missing],
        &keys,
        &format!(
            "--trust-policy {missing}: cannot read it ({})",
            no_such_file()
        ),
    );
    let not_json = at.path("aws-env.sh");
    at.refuses(
        &["--role-arn", ROLE, "--trust-policy", &not_json],
        &keys,
        &format!(
            "--trust-policy {not_json} is not JSON (expected value at line 1 column 1); save the \
             role's trust policy, e.g. aws iam get-role --role-name NAME --query \
             Role.AssumeRolePolicyDocument"
        ),
    );
}

#[test]
fn a_web_identity_hop_takes_no_tags_or_external_id() {
    let token = [("AWS_WEB_IDENTITY_TOKEN_FILE", "/t")];
    assert_eq!(
        refused(&["--role-arn", ROLE, "--tag", "a=b"], &token),
        "--tag applies to AssumeRole hops, and this run has only a web-identity hop: put session \
         tags in the token's https://aws.amazon.com/tags claim, or chain a role after it"
    );
    assert_eq!(
        refused(&["--role-arn", ROLE, "--external-id", "xyz"], &token),
        "--external-id applies to AssumeRole hops, and this run has only a web-identity hop"
    );
    let plan = plan(
        &[
            "--role-arn",
            ROLE,
            "--chain",
            CFN,
            "--tag",
            "a=b",
            "--external-id",
            "xyz",
        ],
        &token,
    )
    .unwrap();
    let steps = steps(&plan);
    assert!(steps[0].tags.is_empty() && steps[0].external_id.is_none());
    assert_eq!(steps[1].tags, [("a".to_string(), "b".to_string())]);
    assert_eq!(steps[1].external_id.as_deref(), Some("xyz"));
}

#[test]
fn in_github_actions_keys_never_go_to_the_job_log() {
    let mut env = keys();
    env.push(("GITHUB_ACTIONS", "true"));
    assert_eq!(
        refused(&["--role-arn", ROLE], &env),
        "no destination given, and in GitHub Actions stdout is the job log: add --github-env \
         (or --env-file PATH, or `-- COMMAND`)"
    );
    assert!(plan(&["--role-arn", ROLE, "--format", "json"], &env).is_ok());
    let at = Scratch::new();
    let env_file = at.path("aws-env.sh");
    let to_file = plan(&["--role-arn", ROLE, "--env-file", &env_file], &env).unwrap();
    assert_eq!(orders(&to_file), [Order::Replace]);
}

#[test]
fn roles_regions_and_endpoints_of_different_partitions_are_refused_before_a_request() {
    let scratch = Scratch::new();
    let mut env = keys();
    env.retain(|(k, _)| *k != "AWS_ENDPOINT_URL");
    let cn = "arn:aws-cn:iam::123456789012:role/deploy";
    scratch.refuses(
        &["--role-arn", cn, "--region", "eu-west-1"],
        &env,
        "arn:aws-cn:iam::123456789012:role/deploy is in the aws-cn partition, and region \
         eu-west-1 in aws: STS there does not know the role; pass a region of aws-cn (e.g. \
         cn-northwest-1)",
    );
    scratch.refuses(
        &["--role-arn", ROLE, "--chain", cn, "--region", "eu-west-1"],
        &env,
        "the chain crosses partitions: arn:aws:iam::123456789012:role/deploy is in aws, \
         arn:aws-cn:iam::123456789012:role/deploy in aws-cn; a session of one partition cannot \
         assume a role of another",
    );
    scratch.refuses(
        &["--role-arn", "arn:aws-mars:iam::123456789012:role/deploy"],
        &env,
        "arn:aws-mars:iam::123456789012:role/deploy: `aws-mars` is not an AWS partition; the \
         partitions are aws, aws-cn, aws-eusc, aws-iso, aws-iso-b, aws-iso-e, aws-iso-f, aws-us-gov",
    );
    scratch.refuses(
        &[
            "--role-arn",
            ROLE,
            "--sts-endpoint",
            "https://sts.cn-north-1.amazonaws.com.cn",
        ],
        &env,
        "the STS endpoint https://sts.cn-north-1.amazonaws.com.cn is in the aws-cn partition, and \
         arn:aws:iam::123456789012:role/deploy in aws: use an STS endpoint of aws, or drop the \
         endpoint and pass --region (e.g. us-east-1)",
    );
    let gov = "arn:aws-us-gov:iam::123456789012:role/deploy";
    assert!(plan(&["--role-arn", gov, "--region", "us-gov-west-1"], &env).is_ok());
    // A local STS names no partition.
    assert!(plan(&["--role-arn", cn, "--region", "cn-north-1"], &keys()).is_ok());
}

#[test]
fn a_command_that_cannot_be_found_is_refused_before_a_request() {
    let bin = tempfile::TempDir::new().unwrap();
    let tool = bin.path().join("deploy-tool");
    std::fs::write(&tool, "#!/bin/sh\n").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let mut env = keys();
    let path = bin.path().display().to_string();
    env.push(("PATH", &path));
    let Err(err) = plan(&["--role-arn", ROLE, "--", "depoly-tool", "--stack"], &env) else {
        panic!("a command nowhere on PATH was accepted");
    };
    assert_eq!(
        err.message(),
        "cannot run `depoly-tool`: command not found; is it installed and on PATH?"
    );
    assert_eq!(err.kind(), Kind::Exec(127));
    assert!(plan(&["--role-arn", ROLE, "--", "deploy-tool", "--stack"], &env).is_ok());
    let by_path = tool.display().to_string();
    assert!(plan(&["--role-arn", ROLE, "--", &by_path], &env).is_ok());
}

#[test]
fn every_account_the_plan_can_see_is_among_those_masked_before_it_is_made() {
    let env = [
        ("VAULT_CI_ROLE_PROD", "arn:aws:iam::210987654321:role/prod"),
        (
            "VAULT_CI_ROLE_UNUSED",
            "arn:aws:iam::333333333333:role/other",
        ),
        ("AWS_ROLE_ARN", "arn:aws:iam::111122223333:role/x"),
    ];
    let argv = [
        "--role-arn",
        ROLE,
        "--chain",
        "prod,arn:aws:iam::444455556666:role/y",
        "--allowed-account-id",
        "777788889999,000011112222",
        "--managed-policy",
        "arn:aws:iam::555555555555:policy/p",
        "--allowed-account-id",
        "12345678901",
    ];
    let named = named_accounts(&args(&argv), &Env::of(env));
    assert_eq!(
        named,
        [
            "000011112222",
            "111122223333",
            "123456789012",
            "210987654321",
            "333333333333",
            "444455556666",
            "555555555555",
            "777788889999",
        ]
    );
    // A refusal of the plan quotes what it refuses: masked all the same.
    let refusal = refused(&argv, &[keys(), env.to_vec()].concat());
    assert!(refusal.contains("12345678901"), "{refusal}");
    let argv = &argv[..4];
    let plan = plan(argv, &[keys(), env.to_vec()].concat()).unwrap();
    for (role, _) in &plan.roles {
        let Role::Arn(arn) = role else { unreachable!() };
        assert!(named.iter().any(|a| a == arn.account().as_str()), "{arn}");
    }
}

// ── with STS answering: a bare role name is completed before the first hop ──

/// The plan's STS, played by the replay client: each request gets the next of
/// `answers`. Retries keep the plan's policy, without the pauses.
fn answering(plan: &mut Plan, answers: Vec<(u16, String)>) -> StaticReplayClient {
    let (mut sts, client) = replay::sts(answers);
    sts.retry = RetryPolicy {
        jitter: || 0.0,
        ..plan.sts.retry.clone()
    };
    plan.sts = sts;
    client
}

/// The steps, or the refusal, of a plan that may ask STS.
fn steps_or_refusal(plan: &Plan) -> Result<Vec<Step>> {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap()
        .block_on(plan.steps())
}

const CALLER: &str = "arn:aws:iam::210987654321:user/ci";

#[test]
fn a_bare_role_name_is_the_role_of_that_name_in_the_keys_own_account() {
    let mut plan = plan(&["--role-arn", "deploy"], &keys()).unwrap();
    let sts = answering(&mut plan, vec![replay::caller(CALLER)]);
    let steps = steps_or_refusal(&plan).unwrap();
    let shown: Vec<(String, &str)> = steps
        .iter()
        .map(|s| (s.role.to_string(), s.label.as_str()))
        .collect();
    assert_eq!(
        shown,
        [(
            "arn:aws:iam::210987654321:role/deploy".to_string(),
            "deploy"
        )]
    );
    let sent: Vec<_> = sts.actual_requests().map(replay::form).collect();
    assert_eq!(
        sent,
        [replay::pairs(&[
            ("Action", "GetCallerIdentity"),
            ("Version", "2011-06-15")
        ])]
    );
}

#[test]
fn a_bare_role_name_in_another_account_than_allowed_is_refused_before_assume_role() {
    let argv = [
        "--role-arn",
        "deploy",
        "--allowed-account-id",
        "123456789012",
    ];
    let mut plan = plan(&argv, &keys()).unwrap();
    let sts = answering(&mut plan, vec![replay::caller(CALLER)]);
    let err = steps_or_refusal(&plan).unwrap_err();
    assert_eq!(
        err.message(),
        "the role arn:aws:iam::210987654321:role/deploy is in account 210987654321, which is not \
         among --allowed-account-id 123456789012; nothing was written: check the role ARN, or \
         add the account"
    );
    assert_eq!(err.kind(), Kind::Denied);
    assert_eq!(sts.actual_requests().count(), 1, "GetCallerIdentity alone");
}

#[test]
fn a_chain_may_pass_through_another_account_when_it_ends_in_an_allowed_one() {
    let argv = [
        "--role-arn",
        "deploy",
        "--chain",
        CFN,
        "--allowed-account-id",
        "123456789012",
    ];
    let mut plan = plan(&argv, &keys()).unwrap();
    answering(&mut plan, vec![replay::caller(CALLER)]);
    let roles: Vec<String> = steps_or_refusal(&plan)
        .unwrap()
        .iter()
        .map(|s| s.role.to_string())
        .collect();
    assert_eq!(roles, ["arn:aws:iam::210987654321:role/deploy", CFN]);
}

#[test]
fn max_attempts_is_how_often_a_failing_sts_is_asked() {
    let unavailable = || replay::refused(503, "ServiceUnavailable", "Service unavailable");
    for (argv, asked) in [
        (vec!["--role-arn", "deploy", "--max-attempts", "2"], 2),
        (vec!["--role-arn", "deploy", "--disable-retry"], 1),
    ] {
        let mut plan = plan(&argv, &keys()).unwrap();
        let sts = answering(&mut plan, vec![unavailable(), unavailable(), unavailable()]);
        let err = steps_or_refusal(&plan).unwrap_err();
        assert_eq!(sts.actual_requests().count(), asked, "{argv:?}");
        let gave_up = match asked {
            1 => String::new(),
            n => format!(" (gave up after {n} attempts)"),
        };
        assert_eq!(
            err.message(),
            format!(
                "STS failed GetCallerIdentity: HTTP 503 ServiceUnavailable: Service \
                 unavailable{gave_up}"
            ),
            "{argv:?}"
        );
    }
}

// ── what each step's request carries ──

#[test]
fn the_first_assume_role_from_static_keys_carries_the_external_id_tags_and_source_identity() {
    let plan = plan(
        &[
            "--role-arn",
            ROLE,
            "--external-id",
            "partner-42",
            "--tag",
            "team=payments",
            "--tag",
            "env=prod",
            "--source-identity",
            "alice",
            // As the action passes a multi-line input.
            "--transitive-tag-key",
            "team\nenv\n",
        ],
        &keys(),
    )
    .unwrap();
    let [step] = steps(&plan).try_into().unwrap();
    assert_eq!(step.external_id.as_deref(), Some("partner-42"));
    assert_eq!(
        step.tags,
        [("team", "payments"), ("env", "prod")].map(|(k, v)| (k.to_string(), v.to_string()))
    );
    assert_eq!(step.transitive_tag_keys, ["team", "env"]);
    assert_eq!(step.source_identity.as_deref(), Some("alice"));
    assert!(step.mfa.is_none() && !step.plain_keys);
    // A transitive key must be one of the tags, whatever others there are.
    assert_eq!(
        refused(
            &[
                "--role-arn",
                ROLE,
                "--tag",
                "team=payments",
                "--transitive-tag-key",
                "owner"
            ],
            &keys()
        ),
        "--transitive-tag-key owner is not one of the session's tags; add it with --tag owner=VALUE"
    );
}

#[test]
fn an_mfa_code_goes_with_the_first_assume_role_only() {
    let mfa = "arn:aws:iam::123456789012:mfa/alice";
    let argv = [
        "--role-arn",
        ROLE,
        "--chain",
        CFN,
        "--mfa-serial",
        mfa,
        "--mfa-code",
        "123456",
    ];
    let plan = plan(&argv, &keys()).unwrap();
    let sent: Vec<Option<(String, String)>> = steps(&plan)
        .iter()
        .map(|s| {
            s.mfa
                .as_ref()
                .map(|(serial, code)| (serial.clone(), code.expose().to_string()))
        })
        .collect();
    assert_eq!(sent, [Some((mfa.to_string(), "123456".to_string())), None]);
    let token = [("AWS_WEB_IDENTITY_TOKEN_FILE", "/t")];
    assert_eq!(
        refused(&argv, &token),
        "--mfa-serial applies to AssumeRole from static keys (a person's IAM user); an OIDC \
         token carries no MFA"
    );
}

#[test]
fn only_the_final_keys_are_asked_for_without_special_characters() {
    let plain_keys = |extra: &[&str]| -> Vec<bool> {
        let argv = [&["--role-arn", ROLE, "--chain", CFN], extra].concat();
        steps(&plan(&argv, &keys()).unwrap())
            .iter()
            .map(|s| s.plain_keys)
            .collect()
    };
    assert_eq!(
        plain_keys(&["--special-characters-workaround"]),
        [false, true]
    );
    assert_eq!(plain_keys(&[]), [false, false]);
}

/// Keys in a GitHub Actions run of octo-org/app.
fn github_run() -> Vec<(&'static str, &'static str)> {
    let mut env = keys();
    env.extend([
        ("GITHUB_REPOSITORY", "octo-org/app"),
        ("GITHUB_RUN_ID", "42"),
        ("GITHUB_JOB", "deploy"),
    ]);
    env
}

#[test]
fn github_session_tags_name_the_run_before_the_users_and_the_optional_ones_may_go() {
    let tagged = plan(
        &[
            "--role-arn",
            ROLE,
            "--github-session-tags",
            "--tag",
            "team=payments",
        ],
        &github_run(),
    )
    .unwrap();
    let [step] = steps(&tagged).try_into().unwrap();
    assert_eq!(
        step.tags,
        [
            ("GitHub", "Actions"),
            ("Repository", "octo-org/app"),
            ("RunId", "42"),
            ("Job", "deploy"),
            ("team", "payments"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()))
    );
    assert_eq!(step.droppable_tags, ["RunId", "Job"]);

    let skipped = plan(
        &[
            "--role-arn",
            ROLE,
            "--github-session-tags",
            "--role-skip-session-tagging",
            "--tag",
            "team=payments",
        ],
        &github_run(),
    )
    .unwrap();
    let [step] = steps(&skipped).try_into().unwrap();
    assert_eq!(step.tags, [("team".to_string(), "payments".to_string())]);
    assert!(step.droppable_tags.is_empty());
}

#[test]
fn a_web_identity_hop_alone_gets_none_of_the_runs_tags() {
    let mut env = github_run();
    env.retain(|(k, _)| !k.starts_with("AWS_"));
    env.push(("AWS_WEB_IDENTITY_TOKEN_FILE", "/t"));
    let argv = ["--role-arn", ROLE, "--github-session-tags"];
    let [step] = steps(&plan(&argv, &env).unwrap()).try_into().unwrap();
    assert!(step.tags.is_empty() && step.droppable_tags.is_empty());
    assert_eq!(
        refused(
            &[&argv[..], &["--transitive-tag-key", "Repository"]].concat(),
            &env
        ),
        "--transitive-tag-key Repository is not one of the session's tags; add it with --tag \
         Repository=VALUE"
    );
}

#[test]
fn the_runs_tags_and_the_users_together_are_at_most_fifty() {
    // The run's four: GitHub, Repository, RunId, Job.
    let with_user_tags = |count: usize| {
        let tags: Vec<String> = (0..count).map(|n| format!("--tag=t{n}=v")).collect();
        let mut argv = vec!["--role-arn", ROLE, "--github-session-tags"];
        argv.extend(tags.iter().map(String::as_str));
        plan(&argv, &github_run())
    };
    let [step] = steps(&with_user_tags(46).unwrap()).try_into().unwrap();
    assert_eq!(step.tags.len(), 50);
    assert_eq!(
        with_user_tags(47).err().unwrap().message(),
        "51 session tags with the run's own: STS accepts at most 50"
    );
}

// ── where the keys go ──

/// When each destination writes, in the order the plan lists them.
fn orders(plan: &Plan) -> Vec<Order> {
    plan.sinks.iter().map(|sink| sink.order()).collect()
}

/// A program that is surely there to run after `--`.
fn a_command() -> String {
    std::env::current_exe().unwrap().display().to_string()
}

#[test]
fn keys_go_to_stdout_only_when_nothing_else_takes_them() {
    let at = Scratch::new();
    let printed = plan(&["--role-arn", ROLE], &keys()).unwrap();
    assert_eq!(orders(&printed), [Order::Print]);
    let env_file = at.path("aws-env.sh");
    let to_file = plan(&["--role-arn", ROLE, "--env-file", &env_file], &keys()).unwrap();
    assert_eq!(orders(&to_file), [Order::Replace]);
    assert!(matches!(to_file.finish, Finish::Done));
    let to_command = plan(&["--role-arn", ROLE, "--", &a_command()], &keys()).unwrap();
    assert_eq!(orders(&to_command), []);
    assert!(matches!(to_command.finish, Finish::Exec(_)));
    let github_env = at.path("github-env");
    let mut env = keys();
    env.push(("GITHUB_ENV", &github_env));
    let served = plan(&["--role-arn", ROLE, "--serve", "--github-env"], &env).unwrap();
    assert_eq!(orders(&served), [Order::Append]);
    assert!(matches!(served.finish, Finish::Serve { .. }));
}

#[test]
fn in_a_ci_keys_go_to_the_job_log_only_when_asked_for() {
    for (ci, says) in [
        (
            ("CIRCLECI", "true"),
            "no destination given, and in CircleCI stdout is the job log: add --bash-env (or \
             `-- COMMAND`), or --format env to print the keys anyway",
        ),
        (
            ("GITLAB_CI", "true"),
            "no destination given, and in GitLab CI stdout is the job log: add --env-file PATH \
             (or `-- COMMAND`), or --format env to print the keys anyway",
        ),
        (
            ("CI", "true"),
            "no destination given, and in a CI (CI=true) stdout is the job log: add --env-file \
             PATH (or `-- COMMAND`), or --format env to print the keys anyway",
        ),
    ] {
        let mut env = keys();
        env.push(ci);
        let Err(err) = plan(&["--role-arn", ROLE], &env) else {
            panic!("{ci:?}: keys printed to the job log unasked");
        };
        assert_eq!((err.message(), err.kind()), (says, Kind::Usage), "{ci:?}");
        let asked = plan(&["--role-arn", ROLE, "--format", "env"], &env).unwrap();
        assert_eq!(orders(&asked), [Order::Print], "{ci:?}");
    }
}

#[test]
fn github_outputs_need_the_runners_output_file_only_when_they_hold_keys() {
    let at = Scratch::new();
    let github_env = at.path("github-env");
    let mut env = keys();
    env.push(("GITHUB_ENV", &github_env));
    let variables = plan(&["--role-arn", ROLE, "--github-env"], &env).unwrap();
    assert_eq!(orders(&variables), [Order::Append]);
    at.refuses(
        &["--role-arn", ROLE, "--github-env", "--output-credentials"],
        &env,
        "--output-credentials needs $GITHUB_OUTPUT, which is not set: it exists only inside a \
         GitHub Actions step",
    );
}

#[test]
fn an_endpoint_is_refused_where_the_shared_files_would_win_over_it() {
    let home = Scratch::new();
    std::fs::create_dir(home.path(".aws")).unwrap();
    std::fs::write(
        home.path(".aws/credentials"),
        "[default]\naws_access_key_id = AKIAEXAMPLE\naws_secret_access_key = s\n",
    )
    .unwrap();
    let home_dir = home.path("");
    let mut env = keys();
    env.push(("HOME", &home_dir));
    let says = format!(
        "{} has aws_access_key_id in [default], which every AWS SDK would use before vault-ci's \
         endpoint: remove it, or point AWS_SHARED_CREDENTIALS_FILE / AWS_CONFIG_FILE elsewhere",
        home.path(".aws/credentials")
    );
    let command = a_command();
    assert_eq!(
        refused(&["--role-arn", ROLE, "--refresh", "--", &command], &env),
        says
    );
    let env_file = home.path("aws-env.sh");
    assert_eq!(
        refused(
            &["--role-arn", ROLE, "--serve", "--env-file", &env_file],
            &env
        ),
        says
    );
}

// ── --unset-current-credentials ──

/// `vault-ci assume ARGV --unset-current-credentials` in a GitHub Actions step
/// after one that exported keys and a region: what later steps read in
/// $GITHUB_ENV once the blanks are delivered, and whether the plan still sees
/// the old keys.
fn unset_in_github_actions(argv: &[&str]) -> (Vec<(String, String)>, bool) {
    let at = Scratch::new();
    let github_env = at.path("github-env");
    std::fs::write(&github_env, "").unwrap();
    let mut env = keys();
    env.extend([
        ("GITHUB_ACTIONS", "true"),
        ("AWS_REGION", "eu-west-1"),
        ("GITHUB_ENV", &github_env),
    ]);
    let argv = [argv, &["--unset-current-credentials"]].concat();
    let mut unset = unset_current(&args(&argv), &Env::of(env)).expect("in GitHub Actions");
    sink::deliver(&mut unset.sinks, &unset.blank).unwrap();
    let text = std::fs::read_to_string(&github_env).unwrap();
    let later = runner_files::read(&text, runner_files::Runner::Unix).unwrap();
    (later, unset.env.has("AWS_ACCESS_KEY_ID"))
}

#[test]
fn unset_current_credentials_blanks_the_keys_and_region_an_earlier_step_exported() {
    let blank = [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
    ]
    .map(|name| (name.to_string(), String::new()));
    assert_eq!(
        unset_in_github_actions(&["--role-arn", ROLE, "--github-env"]),
        (blank.to_vec(), false)
    );
    // A profile instead of variables (configure-aws-credentials' output-env-credentials).
    assert_eq!(
        unset_in_github_actions(&["--role-arn", ROLE, "--aws-profile", "ci"]),
        (Vec::new(), false)
    );
    let both = [
        "--role-arn",
        ROLE,
        "--aws-profile",
        "ci",
        "--output-env-credentials",
        "true",
    ];
    assert_eq!(unset_in_github_actions(&both), (blank.to_vec(), false));
}

#[test]
fn unset_current_credentials_does_nothing_outside_github_actions_or_unasked() {
    let argv = ["--role-arn", ROLE, "--unset-current-credentials"];
    assert!(unset_current(&args(&argv), &Env::of(keys())).is_none());
    let mut env = keys();
    env.push(("GITHUB_ACTIONS", "true"));
    assert!(unset_current(&args(&argv[..2]), &Env::of(env)).is_none());
}

// ── where the identity comes from ──

#[test]
fn role_chaining_starts_from_the_keys_an_earlier_step_exported_even_beside_a_token_file() {
    let mut env = keys();
    env.push(("AWS_WEB_IDENTITY_TOKEN_FILE", "/t"));
    let source = |argv: &[&str]| plan(argv, &env).unwrap().source.describe();
    assert_eq!(source(&["--role-arn", ROLE]), "OIDC token file /t");
    assert_eq!(
        source(&["--role-arn", ROLE, "--role-chaining"]),
        "static keys from the environment"
    );
    assert_eq!(source(&["--no-role"]), "static keys from the environment");
}

#[test]
fn no_role_delivers_credentials_as_they_are_and_a_token_is_none() {
    let as_they_are = plan(&["--no-role"], &keys()).unwrap();
    assert!(steps(&as_they_are).is_empty());
    assert_eq!(
        refused(
            &[
                "--no-role",
                "--provider",
                "token-file",
                "--token-file",
                "/t"
            ],
            &keys()
        ),
        "--no-role delivers the identity's own credentials, and OIDC token file /t is an OIDC \
         token, not credentials: name the role to exchange it for with --role-arn"
    );
}

// ── what the user is warned of ──

/// What `work` warns of, each warning as the user reads it (without its level).
fn warnings<T>(work: impl FnOnce() -> T) -> (T, Vec<String>) {
    #[derive(Clone, Default)]
    struct Log(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
    impl std::io::Write for Log {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let log = Log::default();
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::WARN)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_level(false)
        .with_target(false)
        .without_time()
        .finish();
    let result = tracing::subscriber::with_default(subscriber, work);
    let text = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
    (result, text.lines().map(str::to_string).collect())
}

#[test]
fn credential_process_on_credentials_of_15_minutes_or_less_is_warned_of() {
    let argv = |more: &[&'static str]| {
        [
            &["--role-arn", ROLE, "--format", "credential-process"],
            more,
        ]
        .concat()
    };
    let (planned, warned) = warnings(|| plan(&argv(&["--duration", "900"]), &keys()).unwrap());
    assert_eq!(
        warned,
        [
            "--duration 900 with --format credential-process: the aws CLI and boto3 run the \
             process again on every call while the credentials expire within 15 minutes; give \
             more than 900 s, e.g. 3600"
        ]
    );
    assert_eq!(steps(&planned)[0].duration, 900);
    let (planned, warned) = warnings(|| plan(&argv(&["--duration", "901"]), &keys()).unwrap());
    assert_eq!((steps(&planned)[0].duration, warned), (901, vec![]));
    let (planned, warned) = warnings(|| plan(&argv(&[]), &keys()).unwrap());
    assert_eq!((steps(&planned)[0].duration, warned), (3600, vec![]));
}

#[test]
fn dotenv_output_where_keys_are_set_already_says_to_load_it_with_override() {
    let argv = |format| {
        [
            "--role-arn",
            ROLE,
            "--region",
            "eu-west-1",
            "--format",
            format,
        ]
    };
    let (_, warned) = warnings(|| plan(&argv("dotenv"), &keys()).unwrap());
    assert_eq!(
        warned,
        [
            "AWS_ACCESS_KEY_ID is already set here, and dotenv loaders keep variables that are \
             set: load the output with override (python-dotenv: load_dotenv(override=True); \
             npm's dotenv: config({ override: true })), or run the program under `vault-ci \
             assume … --`"
        ]
    );
    let (_, warned) = warnings(|| plan(&argv("env"), &keys()).unwrap());
    assert_eq!(warned, Vec::<String>::new());
}

#[test]
fn a_session_name_sts_would_refuse_is_made_one_it_accepts_and_the_user_told() {
    let argv = |name| {
        [
            "--role-arn",
            ROLE,
            "--region",
            "eu-west-1",
            "--session-name",
            name,
        ]
    };
    let (planned, warned) = warnings(|| plan(&argv("feat/new thing"), &keys()).unwrap());
    assert_eq!(steps(&planned)[0].session_name, "feat-new-thing");
    assert_eq!(
        warned,
        ["session name `feat/new thing` is not accepted by STS as is; using `feat-new-thing`"]
    );
    let (planned, warned) = warnings(|| plan(&argv("deploy-42"), &keys()).unwrap());
    assert_eq!(
        (steps(&planned)[0].session_name.as_str(), warned),
        ("deploy-42", vec![])
    );
}

#[test]
fn refresh_serves_one_command_and_serve_the_later_steps_never_both() {
    let at = Scratch::new();
    let command = a_command();
    let env_file = at.path("aws-env.sh");
    for (argv, says) in [
        (
            vec!["--role-arn", ROLE, "--refresh"],
            "--refresh serves the credentials to a command: add `-- COMMAND`, or use --serve for \
             the later steps of a job",
        ),
        (
            vec!["--role-arn", ROLE, "--refresh", "--serve", "--", &command],
            "--refresh cannot be used with --serve: drop one of them (vault-ci assume --help \
             lists what each does)",
        ),
        (
            vec![
                "--role-arn",
                ROLE,
                "--refresh",
                "--env-file",
                &env_file,
                "--",
                &command,
            ],
            "--refresh cannot be used with --env-file: drop one of them (vault-ci assume --help \
             lists what each does)",
        ),
        (
            vec![
                "--role-arn",
                ROLE,
                "--serve",
                "--env-file",
                &env_file,
                "--",
                &command,
            ],
            "--serve cannot be used with a command after `--` (--refresh serves one command): \
             drop one of them (vault-ci assume --help lists what each does)",
        ),
        (
            vec![
                "--role-arn",
                ROLE,
                "--serve",
                "--github-env",
                "--output-credentials",
            ],
            "--serve cannot be used with --output-credentials (the server's keys change): drop \
             one of them (vault-ci assume --help lists what each does)",
        ),
    ] {
        at.refuses(&argv, &keys(), says);
    }
    let refreshed = plan(&["--role-arn", ROLE, "--refresh", "--", &command], &keys()).unwrap();
    assert!(matches!(refreshed.finish, Finish::Refresh { .. }));
    assert_eq!(orders(&refreshed), []);
}

#[cfg(unix)]
#[test]
fn an_env_file_in_a_directory_every_user_may_write_to_is_warned_of() {
    use std::os::unix::fs::PermissionsExt;
    let at = Scratch::new();
    for (mode, warned) in [(0o777, true), (0o1777, false), (0o775, false)] {
        std::fs::set_permissions(at.path(""), std::fs::Permissions::from_mode(mode)).unwrap();
        let env_file = at.path("aws-env.sh");
        let argv = [
            "--role-arn",
            ROLE,
            "--region",
            "eu-west-1",
            "--env-file",
            &env_file,
        ];
        let (_, warned_of) = warnings(|| plan(&argv, &keys()).unwrap());
        let expected = format!(
            "--env-file: the directory {} is writable by every user of this machine; write \
             credentials to a private directory instead",
            at.0.path().display()
        );
        let expected = if warned { vec![expected] } else { vec![] };
        assert_eq!(warned_of, expected, "{mode:o}");
    }
}
