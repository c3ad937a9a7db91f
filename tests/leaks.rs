//! Secrets never leave through a side door: every path runs at the most
//! verbose log level, and every output and file but the intended destination
//! is searched for every secret value involved.

use std::path::Path;

use crate::harness::*;

/// Fails if any secret appears in stdout (masks aside), stderr, or any file
/// under the test's directory except the named destinations.
#[track_caller]
fn assert_nowhere(env: &Env, out: &Outcome, secrets: &[String], destinations: &[&str]) {
    let stdout: String = out
        .stdout
        .lines()
        .filter(|l| !l.starts_with("::add-mask::"))
        .collect::<Vec<_>>()
        .join("\n");
    let mut places = vec![
        ("stdout".to_string(), stdout),
        ("stderr".to_string(), out.stderr.clone()),
    ];
    collect_files(env.dir.path(), destinations, &mut places);
    for secret in secrets.iter().filter(|s| s.len() >= 8) {
        for (place, text) in &places {
            assert!(
                !text.contains(secret.as_str()),
                "a secret reached {place}:\n{text}"
            );
        }
    }
}

fn collect_files(dir: &Path, skip: &[&str], out: &mut Vec<(String, String)>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if path.is_dir() {
            collect_files(&path, skip, out);
        } else if !skip.contains(&name.as_str()) {
            let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
            out.push((path.display().to_string(), text));
        }
    }
}

fn final_secrets(vars: &std::collections::BTreeMap<String, String>) -> Vec<String> {
    vec![
        vars["AWS_SECRET_ACCESS_KEY"].clone(),
        vars["AWS_SESSION_TOKEN"].clone(),
    ]
}

#[test]
fn the_deploy_users_chain_into_an_env_file_leaks_nothing() {
    let moto = moto_auth();
    let mut env = Env::new();
    env.sts(moto).deploy_user(moto);
    let out = env.vault_ci([
        "-vv",
        "assume",
        "--chain",
        &format!("{},{}", moto.role("deploy"), moto.role("cfn")),
        "--env-file",
        "aws-env.sh",
    ]);
    out.success();
    let mut secrets = final_secrets(&source_exports(&env, &env.path("aws-env.sh")));
    secrets.push(moto.str("/deploy_user/secret_access_key"));
    assert_nowhere(&env, &out, &secrets, &["aws-env.sh"]);
}

#[test]
fn an_intermediate_session_is_never_written_anywhere() {
    // An STS that says which keys it gave each hop.
    let sts = start_peer(&["lying-sts"]);
    for (level, with_key_id) in [("-v", true), ("-vv", false), ("trace", false)] {
        let mut env = Env::new();
        env.set("AWS_ENDPOINT_URL", sts.endpoint())
            .set("AWS_REGION", "us-east-1");
        if level == "trace" {
            env.set("RUST_LOG", "trace");
        }
        let token = env.write("t.jwt", &mint_token(&[]));
        let out = env.vault_ci([
            if level == "trace" { "-v" } else { level },
            "assume",
            "--token-file",
            token.to_str().unwrap(),
            "--role-arn",
            "arn:aws:iam::123456789012:role/gha-deploy",
            "--chain",
            "arn:aws:iam::123456789012:role/cfn",
            "--env-file",
            "aws-env.sh",
        ]);
        out.success();
        let log = sts.log();
        let hops = &log[log.len() - 2..];
        let minted =
            |hop: usize, name: &str| hops[hop]["minted"][name].as_str().unwrap().to_string();
        let last = source_exports(&env, &env.path("aws-env.sh"));
        assert_eq!(last["AWS_SECRET_ACCESS_KEY"], minted(1, "SecretAccessKey"));
        let mut first = vec![minted(0, "SecretAccessKey"), minted(0, "SessionToken")];
        // From -vv on, the SDK's own debug lines show the key ID (not the secret)
        // of the credentials it signs with, as for the deploy user's keys.
        if with_key_id {
            first.push(minted(0, "AccessKeyId"));
        }
        // Not even in the env file: only the last hop's session goes there.
        assert_nowhere(&env, &out, &first, &[]);
    }
}

/// The background server of `--serve`, as `ps` shows it to every user.
#[cfg(target_os = "linux")]
#[test]
fn the_serve_daemons_arguments_and_environment_hold_no_secret() {
    let github = github_endpoint(&[]);
    let mut env = Env::new();
    let runner_temp = env.path("runner-temp");
    std::fs::create_dir(&runner_temp).unwrap();
    env.sts(moto())
        .github_actions_with(&github)
        .set("RUNNER_TEMP", runner_temp.display().to_string())
        .set("VAULT_CI_SERVE_MAX", "120");
    let out = env.vault_ci([
        "assume",
        "--role-arn",
        &moto().role("gha-deploy"),
        "--github-env",
        "--serve",
    ]);
    out.success();
    let pid: u32 = out
        .stderr
        .split("(process ")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .and_then(|pid| pid.parse().ok())
        .unwrap_or_else(|| panic!("no server process named:\n{out}"));
    let vars = parse_github_file(&env.read("github_env"));
    let token = vars["AWS_CONTAINER_AUTHORIZATION_TOKEN"].clone();
    let served = env.run(
        "python3",
        [
            "-c",
            "import sys, urllib.request; print(urllib.request.urlopen(urllib.request.Request(\
             sys.argv[1], headers={'Authorization': sys.argv[2]})).read().decode())",
            &vars["AWS_CONTAINER_CREDENTIALS_FULL_URI"],
            &token,
        ],
    );
    let doc = served.json();
    let secrets = [
        token.clone(),
        doc["SecretAccessKey"].as_str().unwrap().to_string(),
        doc["Token"].as_str().unwrap().to_string(),
    ];
    let read = |what: &str| {
        String::from_utf8_lossy(&std::fs::read(format!("/proc/{pid}/{what}")).unwrap()).into_owned()
    };
    let (cmdline, environ) = (read("cmdline"), read("environ"));
    let mut stop = env.command(env!("CARGO_BIN_EXE_vault-ci"), ["stop"]);
    stop.envs(&vars);
    Outcome::from(stop.output()).success();
    for secret in &secrets {
        assert!(!cmdline.contains(secret.as_str()), "{cmdline}");
        assert!(
            !environ.contains(secret.as_str()),
            "a secret in its environment"
        );
    }
}

#[test]
fn github_env_and_outputs_leak_nothing_at_trace_level() {
    let github = github_endpoint(&[]);
    let mut env = Env::new();
    env.sts(moto())
        .github_actions_with(&github)
        .set("RUST_LOG", "trace");
    let out = env.vault_ci([
        "assume",
        "--role-arn",
        &moto().role("gha-deploy"),
        "--github-env",
    ]);
    out.success();
    let vars = parse_github_file(&env.read("github_env"));
    let mut secrets = final_secrets(&vars);
    secrets.push(github.str("/request_token"));
    // The token was masked first thing; its signature is the secret part.
    let jwt = out
        .stdout
        .lines()
        .next()
        .unwrap()
        .trim_start_matches("::add-mask::")
        .to_string();
    assert_eq!(
        jwt.split('.').count(),
        3,
        "the token is masked before anything else"
    );
    secrets.push(jwt.split('.').nth(2).unwrap().to_string());
    assert_nowhere(&env, &out, &secrets, &["github_env"]);
}

#[test]
fn bash_env_exec_and_stdout_paths_leak_nothing() {
    let moto = moto();
    let mut env = Env::new();
    env.sts(moto);
    let jwt = mint_token(&[]);
    let token = env.write("t.jwt", &jwt);
    let bash_env = env.write("bash_env", "");
    env.set("BASH_ENV", bash_env.display().to_string());
    let signature = jwt.split('.').nth(2).unwrap().to_string();
    let base = [
        "-vv",
        "assume",
        "--token-file",
        token.to_str().unwrap(),
        "--role-arn",
        &moto.role("gha-deploy"),
    ];

    let mut args = base.to_vec();
    args.push("--bash-env");
    let out = env.vault_ci(&args);
    out.success();
    let mut secrets = final_secrets(&source_exports(&env, &bash_env));
    secrets.push(signature.clone());
    assert_nowhere(&env, &out, &secrets, &["bash_env", "t.jwt"]);

    let mut args = base.to_vec();
    args.extend(["--", "sh", "-c", "echo ran"]);
    let out = env.vault_ci(&args);
    out.success().stdout_is("ran\n");
    assert_nowhere(
        &env,
        &out,
        std::slice::from_ref(&signature),
        &["bash_env", "t.jwt"],
    );

    let mut args = base.to_vec();
    args.extend(["--format", "json"]);
    let out = env.vault_ci(&args);
    let doc = out.json();
    let secrets = [
        doc["SecretAccessKey"].as_str().unwrap().to_string(),
        doc["SessionToken"].as_str().unwrap().to_string(),
        signature,
    ];
    assert!(
        !secrets.iter().any(|s| out.stderr.contains(s.as_str())),
        "{}",
        out.stderr
    );
}

#[test]
fn diagnostics_and_denials_leak_nothing() {
    let mut env = Env::new();
    let jwt = mint_token(&[]);
    let token = env.write("t.jwt", &jwt);
    env.set("AWS_WEB_IDENTITY_TOKEN_FILE", token.display().to_string());
    let signature = jwt.split('.').nth(2).unwrap().to_string();

    let out = env.vault_ci(["-vv", "token"]);
    out.success();
    assert_nowhere(&env, &out, std::slice::from_ref(&signature), &["t.jwt"]);

    let sts = faulty_sts(&["--respond", "403:AccessDenied:Not authorized"]);
    env.set("AWS_ENDPOINT_URL", sts.endpoint());
    let out = env.vault_ci([
        "-vv",
        "assume",
        "--role-arn",
        "arn:aws:iam::123456789012:role/gha-deploy",
        "--env-file",
        "aws.env",
    ]);
    out.fails(
        1,
        "vault-ci: STS refused AssumeRoleWithWebIdentity on arn:aws:iam::123456789012:role/gha-deploy: \
         AccessDenied: Not authorized",
    );
    assert_nowhere(&env, &out, &[signature], &["t.jwt"]);
}

#[test]
fn wrong_keys_and_mfa_codes_leak_nothing() {
    let moto = moto_auth();
    let mut env = Env::new();
    env.sts(moto).deploy_user(moto).set(
        "AWS_SECRET_ACCESS_KEY",
        "Wr0ngSecretWr0ngSecretWr0ngSecret123456",
    );
    let out = env.vault_ci([
        "-vv",
        "assume",
        "--role-arn",
        &moto.role("deploy"),
        "--mfa-serial",
        "arn:aws:iam::123456789012:mfa/me",
        "--mfa-code",
        "918273",
        "--env-file",
        "aws.env",
    ]);
    out.fails(
        1,
        &format!(
            "vault-ci: STS refused AssumeRole on {}: {SIGNATURE_DOES_NOT_MATCH}",
            moto.role("deploy")
        ),
    );
    assert_nowhere(
        &env,
        &out,
        &["Wr0ngSecretWr0ngSecretWr0ngSecret123456".into()],
        &[],
    );
    assert!(
        !out.stderr.contains("918273"),
        "the MFA code was logged:\n{out}"
    );
}

#[test]
fn a_proxy_password_never_reaches_an_error() {
    let mut env = Env::new();
    let token = env.write("t.jwt", &mint_token(&[]));
    env.set("AWS_WEB_IDENTITY_TOKEN_FILE", token.display().to_string());
    for (proxy, error) in [
        (
            "ftp://ci:Pr0xyPassw0rd!@proxy.internal:3128",
            "vault-ci: --http-proxy `ftp://ci:****@proxy.internal:3128/`: the proxy must be an http:// \
             or https:// URL with a host",
        ),
        (
            "http://ci:Pr0xyPassw0rd!@[bad",
            "vault-ci: --http-proxy is not a URL (invalid IPv6 address); expected e.g. \
             http://proxy.internal:3128",
        ),
    ] {
        let out = env.vault_ci([
            "assume",
            "--role-arn",
            "arn:aws:iam::123456789012:role/x",
            "--http-proxy",
            proxy,
        ]);
        out.fails(2, error);
        assert_nowhere(&env, &out, &["Pr0xyPassw0rd!".into()], &[]);
    }
}
