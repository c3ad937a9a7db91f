//! `assume --refresh -- COMMAND`: the command gets a local credentials
//! endpoint instead of keys, read by the real aws CLI and boto3, and the
//! endpoint re-assumes the chain before the credentials run out.

use crate::harness::*;

/// A child that reports, as one JSON line, what it sees of the endpoint:
/// its environment, answers to bad and good requests, and the access key
/// boto3 gets on each of `rounds` fresh sessions (waiting up to 15 s for a
/// key that differs from the first, when `until_new` is set).
const CHILD: &str = r#"
import json, os, subprocess, sys, time, urllib.error, urllib.request
import boto3

rounds, until_new = int(sys.argv[1]), sys.argv[2] == "new"
uri = os.environ["AWS_CONTAINER_CREDENTIALS_FULL_URI"]
token = os.environ["AWS_CONTAINER_AUTHORIZATION_TOKEN"]

def status(headers):
    try:
        return urllib.request.urlopen(urllib.request.Request(uri, headers=headers)).status
    except urllib.error.HTTPError as e:
        return e.code

def key():
    return boto3.session.Session().get_credentials().get_frozen_credentials().access_key

keys = [key()]
deadline = time.time() + 15
while len(keys) < rounds or (until_new and keys[-1] == keys[0] and time.time() < deadline):
    time.sleep(0.2)
    keys.append(key())
cli = subprocess.run(["aws", "sts", "get-caller-identity", "--output", "json"], capture_output=True, text=True)
print(json.dumps({
    "uri": uri,
    "keys_in_env": [k for k in os.environ if k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")],
    "no_auth": status({}),
    "wrong_auth": status({"Authorization": "not-the-token"}),
    "right_auth": status({"Authorization": token}),
    "keys": keys,
    "cli": json.loads(cli.stdout) if cli.returncode == 0 else cli.stderr,
}))
"#;

fn refreshing(
    env: &mut Env,
    sts: &Peer,
    extra: &[&str],
    rounds: &str,
    until: &str,
) -> serde_json::Value {
    env.set("AWS_ENDPOINT_URL", sts.endpoint())
        .set("AWS_REGION", "us-east-1")
        .set("AWS_DEFAULT_REGION", "us-east-1");
    let child = env.write("child.py", CHILD);
    let mut args = vec![
        "assume",
        "--role-arn",
        "arn:aws:iam::123456789012:role/gha-deploy",
        "--session-name",
        "refresh",
        "--refresh",
    ];
    args.extend_from_slice(extra);
    args.extend(["--", "python3", child.to_str().unwrap(), rounds, until]);
    let out = env.vault_ci(&args);
    out.success();
    assert!(
        out.stderr.contains("serving refreshing credentials"),
        "{out}"
    );
    // In GitHub Actions, `::add-mask::` lines for each fresh token surround it.
    let report = out
        .stdout
        .lines()
        .find(|l| l.starts_with('{'))
        .unwrap_or_else(|| panic!("no report:\n{out}"));
    serde_json::from_str(report).unwrap()
}

/// How many times the chain was run: the STS calls that assume a role.
fn exchanges(sts: &Peer) -> usize {
    sts.log()
        .iter()
        .filter(|e| {
            e["action"]
                .as_str()
                .unwrap_or_default()
                .starts_with("AssumeRole")
        })
        .count()
}

fn token_file_env() -> (Env, String) {
    let env = Env::new();
    let token = env.write("t.jwt", &mint_token(&[]));
    (env, token.display().to_string())
}

#[test]
fn the_aws_cli_and_boto3_get_credentials_from_the_endpoint_and_nothing_else() {
    let sts = faulty_sts(&["--forward", &moto().endpoint()]);
    let (mut env, token) = token_file_env();
    let report = refreshing(&mut env, &sts, &["--token-file", &token], "1", "-");

    assert_eq!(
        report["cli"]["Arn"],
        assumed_role("gha-deploy", "refresh"),
        "{report}"
    );
    assert_eq!(
        report["keys_in_env"],
        serde_json::json!([]),
        "no keys in the command's environment"
    );
    assert!(
        report["uri"]
            .as_str()
            .unwrap()
            .starts_with("http://127.0.0.1:"),
        "{report}"
    );
    assert_eq!(report["no_auth"], 401);
    assert_eq!(report["wrong_auth"], 403);
    assert_eq!(report["right_auth"], 200);
    // The default window (300 s) is far from a 900 s expiry: one exchange only.
    assert_eq!(exchanges(&sts), 1, "{:?}", sts.log());
}

#[test]
fn inside_the_refresh_window_each_request_is_served_and_triggers_a_fresh_chain() {
    let sts = faulty_sts(&["--forward", &moto().endpoint()]);
    let github = github_endpoint(&[]);
    let mut env = Env::new();
    env.github_actions_with(&github);
    // A window longer than the credentials' life: every request is inside it.
    let report = refreshing(&mut env, &sts, &["--refresh-window", "1000"], "2", "new");
    let keys = report["keys"].as_array().unwrap();
    assert_ne!(
        keys.first(),
        keys.last(),
        "the command never saw new keys: {report}"
    );
    assert!(exchanges(&sts) >= 2, "{:?}", sts.log());
    // Each refresh asked GitHub for a fresh token.
    assert!(github.log().len() >= 2, "{:?}", github.log());
}

#[test]
fn a_failing_refresh_keeps_the_old_credentials_and_recovers() {
    let moto_endpoint = moto().endpoint();
    let sts = faulty_sts(&[
        "--respond",
        "forward",
        "--respond",
        "500:InternalFailure:down",
        "--forward",
        &moto_endpoint,
    ]);
    let (mut env, token) = token_file_env();
    let report = refreshing(
        &mut env,
        &sts,
        &[
            "--token-file",
            &token,
            "--refresh-window",
            "1000",
            "--max-attempts",
            "1",
        ],
        "2",
        "new",
    );
    let keys: Vec<&str> = report["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap())
        .collect();
    assert_eq!(
        keys[1], keys[0],
        "while STS failed, the old credentials kept working: {report}"
    );
    assert_ne!(
        keys.last(),
        keys.first(),
        "the endpoint never recovered: {report}"
    );
    let answers: Vec<_> = sts
        .log()
        .iter()
        .map(|e| e["answer"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        answers[..3],
        ["forward", "500:InternalFailure:down", "forward"],
        "{answers:?}"
    );
    assert_eq!(report["cli"]["Arn"], assumed_role("gha-deploy", "refresh"));
}

#[test]
fn the_endpoint_lives_exactly_as_long_as_the_command() {
    let (mut env, token) = token_file_env();
    env.sts(moto());
    let out = env.vault_ci([
        "assume",
        "--token-file",
        &token,
        "--role-arn",
        &moto().role("gha-deploy"),
        "--refresh",
        "--",
        "sh",
        "-c",
        "echo \"$AWS_CONTAINER_CREDENTIALS_FULL_URI\" > uri.txt; exit 7",
    ]);
    assert_eq!(out.code, Some(7), "{out}");
    let uri = env.read("uri.txt");
    let address = uri
        .trim()
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap()
        .to_string();
    assert!(
        std::net::TcpStream::connect(&address).is_err(),
        "{address} still accepts connections after the command exited"
    );
}

#[test]
fn refresh_needs_a_command_and_no_other_destination() {
    let env = Env::new();
    env.vault_ci([
        "assume",
        "--role-arn",
        "arn:aws:iam::123456789012:role/x",
        "--refresh",
    ])
    .fails(
        2,
        "vault-ci: --refresh serves the credentials to a command: add `-- COMMAND`, or use --serve \
         for the later steps of a job",
    );
    env.vault_ci([
        "assume",
        "--role-arn",
        "arn:aws:iam::123456789012:role/x",
        "--refresh",
        "--env-file",
        "x",
        "--",
        "true",
    ])
    .fails(
        2,
        "vault-ci: --refresh cannot be used with --env-file: drop one of them (vault-ci assume \
         --help lists what each does)",
    );
    assert!(!env.path("x").exists(), "nothing is written");
}

#[cfg(unix)]
#[test]
fn signals_reach_the_command_and_its_status_is_ours() {
    let (mut env, token) = token_file_env();
    env.sts(moto());
    let args = [
        "assume",
        "--token-file",
        &token,
        "--role-arn",
        &moto().role("gha-deploy"),
        "--refresh",
    ]
    .map(String::from);
    // vault-ci stays the parent here; the signal goes to it and on to the command.
    assert_eq!(env.exit_code_after_sigterm(&args), Some(42));
}

#[test]
fn a_ci_that_cannot_mint_new_tokens_says_how_long_refresh_can_last() {
    let mut env = Env::new();
    env.sts(moto()).set("GITLAB_CI", "true").set(
        "VAULT_CI_ID_TOKEN",
        crate::providers::gitlab_token("acme/app", "main"),
    );
    let out = env.vault_ci([
        "assume",
        "--role-arn",
        &moto().role("gha-deploy"),
        "--refresh",
        "--",
        "true",
    ]);
    out.success();
    assert!(
        out.stderr
            .contains("--refresh can keep the credentials fresh only until"),
        "{out}"
    );
    assert!(
        out.stderr.contains("GitLab CI cannot mint a new one"),
        "{out}"
    );
}
