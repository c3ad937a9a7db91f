//! `--serve`: one credentials server for every later step of a job, refreshing
//! before the 900-second credentials expire, read by consumers others wrote —
//! the aws CLI, boto3 and the AWS SDK for JavaScript v3 — and gone when told to.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::harness::*;

/// What a later step of the job sees: the process environment plus $GITHUB_ENV.
fn later_step(env: &Env) -> BTreeMap<String, String> {
    parse_github_file(&env.read("github_env"))
}

/// Who the credentials of `vars` are, asked by three consumers others wrote,
/// each with only what the SDK's default chain finds.
fn consumers(env: &Env, vars: &BTreeMap<String, String>) -> Vec<(String, String)> {
    let node = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/consumers/whoami.mjs");
    let boto3 = "import boto3, json; s = boto3.Session(); c = s.get_credentials(); \
                 print(json.dumps({'Arn': s.client('sts').get_caller_identity()['Arn'], \
                 'AccessKeyId': c.get_frozen_credentials().access_key}))";
    let runs: [(&str, Vec<String>); 3] = [
        (
            "aws",
            ["sts", "get-caller-identity", "--output", "json"]
                .map(String::from)
                .to_vec(),
        ),
        ("python3", vec!["-c".into(), boto3.into()]),
        ("node", vec![node.display().to_string()]),
    ];
    runs.iter()
        .map(|(program, args)| {
            let mut command = env.command(program, args);
            command.envs(vars);
            let outcome: Outcome = command.output().into();
            let doc = outcome.json();
            (
                doc["Arn"].as_str().unwrap().to_string(),
                doc["AccessKeyId"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

fn serving_job(github: &Peer) -> Env {
    let mut env = Env::new();
    let runner_temp = env.path("runner-temp");
    std::fs::create_dir_all(&runner_temp).unwrap();
    env.sts(moto())
        .github_actions_with(github)
        .set("RUNNER_TEMP", runner_temp.display().to_string())
        // 900-second credentials renewed 895 s before they expire: every ~5 s.
        .set("VAULT_CI_REFRESH_WINDOW", "895")
        // A failed test must not leave a server behind for long.
        .set("VAULT_CI_SERVE_MAX", "120");
    env
}

fn stop(env: &Env, vars: &BTreeMap<String, String>) {
    let mut command = env.command(env!("CARGO_BIN_EXE_vault-ci"), ["stop"]);
    command.envs(vars);
    let outcome: Outcome = command.output().into();
    outcome.success();
}

fn server_gone(log: &Path) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if std::fs::read_to_string(log)
            .unwrap_or_default()
            .contains("the credentials server stops")
        {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

#[test]
fn a_job_with_serve_gets_credentials_that_outlive_a_refresh_in_every_later_step() {
    let github = github_endpoint(&[]);
    let env = serving_job(&github);
    let out = env.vault_ci([
        "assume",
        "--role-arn",
        &moto().role("gha-deploy"),
        "--github-env",
        "--serve",
    ]);
    out.success();
    let vars = later_step(&env);
    assert!(vars["AWS_CONTAINER_CREDENTIALS_FULL_URI"].starts_with("http://127.0.0.1:"));
    for name in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
    ] {
        assert_eq!(vars[name], "", "{name}: no key is handed to later steps");
    }
    let token = &vars["AWS_CONTAINER_AUTHORIZATION_TOKEN"];
    assert!(
        out.stdout
            .lines()
            .any(|l| l == format!("::add-mask::{token}")),
        "the token is masked:\n{out}"
    );

    let role = assumed_role("gha-deploy", "github-4242-2");
    let first = consumers(&env, &vars);
    assert!(first.iter().all(|(arn, _)| *arn == role), "{first:?}");
    std::thread::sleep(Duration::from_secs(7));
    let later = consumers(&env, &vars);
    assert!(later.iter().all(|(arn, _)| *arn == role), "{later:?}");
    // boto3 and the JS SDK say which key signed (the aws CLI does not).
    for consumer in [1, 2] {
        assert!(first[consumer].1.starts_with("ASIA"), "{first:?}");
        assert_ne!(
            first[consumer].1, later[consumer].1,
            "the credentials were refreshed"
        );
    }

    // Each refresh asked GitHub for a fresh token, as a job-long request URL allows.
    let log = std::fs::read_to_string(&vars["VAULT_CI_SERVE_LOG"]).unwrap();
    assert!(log.contains("refreshed the credentials served"), "{log}");
    assert!(github.log().len() >= 2, "{:?}", github.log());
    for (_, key) in first
        .iter()
        .chain(&later)
        .filter(|(_, key)| !key.is_empty())
    {
        assert!(!log.contains(key), "a key reached the log:\n{log}");
    }
    assert!(!log.contains(token.as_str()), "the token reached the log");

    stop(&env, &vars);
    assert!(server_gone(Path::new(&vars["VAULT_CI_SERVE_LOG"])));
    let log = std::fs::read_to_string(&vars["VAULT_CI_SERVE_LOG"]).unwrap();
    assert!(
        log.contains("the credentials server stops: vault-ci stop"),
        "{log}"
    );
    // A second `vault-ci stop` (a clean-up step that always runs) finds it gone: done.
    let mut again = env.command(env!("CARGO_BIN_EXE_vault-ci"), ["stop"]);
    again.envs(&vars);
    let again: Outcome = again.output().into();
    again.success().stderr_has_line(&format!(
        " INFO no credentials server answers at {}: it has stopped already",
        vars["AWS_CONTAINER_CREDENTIALS_FULL_URI"]
    ));
}

#[test]
fn the_server_ends_when_the_jobs_runner_process_does() {
    let github = github_endpoint(&[]);
    let env = serving_job(&github);
    // A runner process (sh) running a step (sh) that starts the server.
    let script = format!(
        "sh -c '{} assume --role-arn {} --github-env --serve' ; echo started",
        env!("CARGO_BIN_EXE_vault-ci"),
        moto().role("gha-deploy")
    );
    env.run("sh", ["-c", &script]).success();
    let vars = later_step(&env);
    assert!(
        server_gone(Path::new(&vars["VAULT_CI_SERVE_LOG"])),
        "the server outlived its runner"
    );
    let log = std::fs::read_to_string(&vars["VAULT_CI_SERVE_LOG"]).unwrap();
    assert!(
        log.contains("stops: the job's runner process ended"),
        "{log}"
    );
}

#[test]
fn a_profile_that_would_win_over_the_server_is_refused() {
    let github = github_endpoint(&[]);
    let env = serving_job(&github);
    env.write(
        "home/aws-credentials",
        "[default]\naws_access_key_id = AKIAOLD\naws_secret_access_key = x\n",
    );
    env.vault_ci([
        "assume",
        "--role-arn",
        &moto().role("gha-deploy"),
        "--github-env",
        "--serve",
    ])
    .fails(
        2,
        &format!(
            "vault-ci: {} has aws_access_key_id in [default], which every AWS SDK would use before \
             vault-ci's endpoint: remove it, or point AWS_SHARED_CREDENTIALS_FILE / AWS_CONFIG_FILE \
             elsewhere",
            env.path("home/aws-credentials").display()
        ),
    );
    env.file_is("github_env", "");

    let mut env = serving_job(&github);
    env.set("AWS_PROFILE", "ci");
    env.vault_ci([
        "assume",
        "--role-arn",
        &moto().role("gha-deploy"),
        "--github-env",
        "--serve",
    ])
    .fails(
        2,
        "vault-ci: --serve: AWS_PROFILE is set, and later steps' SDKs would use it before the server \
         (a step can set variables but not unset them): drop it from the job, or use --refresh -- \
         COMMAND, whose command gets a clean environment",
    );
}

#[test]
fn serve_needs_a_destination_for_its_address() {
    let github = github_endpoint(&[]);
    let env = serving_job(&github);
    env.vault_ci([
        "assume",
        "--role-arn",
        &moto().role("gha-deploy"),
        "--serve",
    ])
    .fails(
        2,
        "vault-ci: --serve hands the server's address to later steps: add --github-env, --bash-env or \
         --env-file PATH",
    );
}

#[test]
fn stop_without_a_server_says_so() {
    Env::new()
        .vault_ci(["stop"])
        .fails(
            2,
            "vault-ci: no server to stop: AWS_CONTAINER_CREDENTIALS_FULL_URI and \
             AWS_CONTAINER_AUTHORIZATION_TOKEN are not set (a `vault-ci assume --serve` step exports \
             them for the later ones)",
        );
}

#[test]
fn serve_refuses_what_its_changing_keys_cannot_go_with_but_not_flags_set_to_false() {
    let github = github_endpoint(&[]);
    let role = moto().role("gha-deploy");
    for (extra, says) in [
        (
            vec!["--format", "env"],
            "vault-ci: --serve cannot be used with --format: drop one of them (vault-ci assume --help lists what each does)",
        ),
        (
            vec!["--output-credentials"],
            "vault-ci: --serve cannot be used with --output-credentials (the server's keys change): drop one of them (vault-ci assume --help lists what each does)",
        ),
        (
            vec!["--aws-profile", "ci"],
            "vault-ci: --serve cannot be used with --aws-profile: drop one of them (vault-ci assume --help lists what each does)",
        ),
        (
            vec!["--", "true"],
            "vault-ci: --serve cannot be used with a command after `--` (--refresh serves one command): drop one of them (vault-ci assume --help lists what each does)",
        ),
    ] {
        let env = serving_job(&github);
        let mut args = vec!["assume", "--role-arn", &role, "--github-env", "--serve"];
        args.extend(extra);
        env.vault_ci(args).fails(2, says);
        env.file_is("github_env", "");
    }
    assert!(
        github.log().is_empty(),
        "no token was asked for: {:?}",
        github.log()
    );

    // What the action always passes: false from the environment is no flag at all.
    let mut env = serving_job(&github);
    env.set("VAULT_CI_SERVE", "false")
        .set("VAULT_CI_REFRESH", "false")
        .set("VAULT_CI_OUTPUT_CREDENTIALS", "true");
    env.vault_ci(["assume", "--role-arn", &role, "--github-env"])
        .success();
    let vars = later_step(&env);
    assert!(vars.contains_key("AWS_SESSION_TOKEN"), "{vars:?}");
    assert!(
        !vars.contains_key("AWS_CONTAINER_CREDENTIALS_FULL_URI"),
        "{vars:?}"
    );
    assert_eq!(
        env.caller_arn(&vars),
        assumed_role("gha-deploy", "github-4242-2")
    );
}

#[test]
fn a_gitlab_job_serves_through_an_env_file_its_script_sources() {
    let mut env = Env::new();
    env.sts(moto())
        .set("GITLAB_CI", "true")
        .set("CI_JOB_ID", "981")
        .set("CI_PROJECT_PATH", "acme/app")
        .set(
            "VAULT_CI_ID_TOKEN",
            crate::providers::gitlab_token("acme/app", "main"),
        )
        .set("VAULT_CI_SERVE_MAX", "120");
    // before_script and script run in one shell, as GitLab runs them.
    let script = format!(
        "set -e\n\
         {bin} assume --role-arn {role} --serve --env-file aws.env\n\
         . ./aws.env\n\
         aws sts get-caller-identity --query Arn --output text\n\
         echo \"log=$VAULT_CI_SERVE_LOG\"\n\
         {bin} stop\n",
        bin = env!("CARGO_BIN_EXE_vault-ci"),
        role = moto().role("gha-deploy"),
    );
    let out = env.run("sh", ["-c", &script]);
    out.success();
    let arn = out
        .stdout
        .lines()
        .find(|l| l.starts_with("arn:"))
        .unwrap_or_default();
    assert!(
        arn.starts_with("arn:aws:sts::123456789012:assumed-role/gha-deploy/"),
        "{out}"
    );
    let file = env.read("aws.env");
    assert!(
        file.contains("AWS_CONTAINER_CREDENTIALS_FULL_URI="),
        "{file}"
    );
    assert!(!file.contains("ASIA"), "no key in the file:\n{file}");
    let log = out
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("log="))
        .unwrap();
    assert!(server_gone(Path::new(log)), "vault-ci stop stopped it");
}

/// CircleCI's job token lives an hour; past it, `circleci run oidc get` mints one, as
/// every refresh of a long job needs. Here the job's token is about to expire.
#[cfg(unix)]
#[test]
fn a_circleci_job_mints_a_token_with_its_cli_for_each_refresh() {
    use std::os::unix::fs::PermissionsExt;
    let mut env = Env::new();
    let bash_env = env.write("bash_env", "");
    let calls = env.path("circleci.calls");
    let fresh = crate::providers::circleci_token("main");
    let bin = env.path("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let cli = bin.join("circleci");
    std::fs::write(
        &cli,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$*\" >> '{}'\nprintf '%s\\n' '{fresh}'\n",
            calls.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&cli, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let expiring = mint_token(&[
        "--iss",
        &format!(
            "https://oidc.circleci.com/org/{}",
            crate::providers::CIRCLE_ORG
        ),
        "--aud",
        crate::providers::CIRCLE_ORG,
        "--exp-in",
        "30",
    ]);
    env.sts(moto())
        .set("PATH", path)
        .set("CIRCLECI", "true")
        .set("CIRCLE_BUILD_NUM", "77")
        .set("CIRCLE_PROJECT_REPONAME", "app")
        .set("CIRCLE_ORGANIZATION_ID", crate::providers::CIRCLE_ORG)
        .set("CIRCLE_OIDC_TOKEN_V2", expiring)
        .set("BASH_ENV", bash_env.display().to_string())
        .set("VAULT_CI_REFRESH_WINDOW", "895")
        .set("VAULT_CI_SERVE_MAX", "120");
    let out = env.vault_ci([
        "assume",
        "--role-arn",
        &moto().role("gha-deploy"),
        "--bash-env",
        "--serve",
    ]);
    out.success();
    assert!(
        !out.stderr
            .contains("can keep the credentials fresh only until"),
        "the CLI can mint: no limit to announce\n{out}"
    );
    let vars = source_exports(&env, &bash_env);
    std::thread::sleep(Duration::from_secs(7));
    let seen = consumers(&env, &vars);
    assert!(
        seen.iter()
            .all(|(arn, _)| *arn == assumed_role("gha-deploy", "circleci-app-77")),
        "{seen:?}"
    );
    let minted = std::fs::read_to_string(&calls).unwrap();
    let audience = format!(
        "run oidc get --claims {{\"aud\":\"{}\"}}",
        crate::providers::CIRCLE_ORG
    );
    assert!(
        minted.lines().count() >= 2 && minted.lines().all(|l| l == audience),
        "one `circleci run oidc get` for the start and each refresh:\n{minted}"
    );
    stop(&env, &vars);
    let script = format!(
        ". '{}' && printf %s \"$VAULT_CI_SERVE_LOG\"",
        bash_env.display()
    );
    let log = env.run("sh", ["-c", &script]).stdout;
    assert!(server_gone(Path::new(&log)), "vault-ci stop stopped it");
}

#[test]
fn a_deploy_users_bare_role_name_is_completed_for_every_refresh_too() {
    let github = github_endpoint(&[]);
    let mut env = serving_job(&github);
    env.sts(moto_auth()).deploy_user(moto_auth());
    let out = env.vault_ci([
        "assume",
        "--provider",
        "static",
        "--role-arn",
        "deploy",
        "--github-env",
        "--serve",
    ]);
    out.success();
    let vars = later_step(&env);
    std::thread::sleep(Duration::from_secs(7));
    let log = std::fs::read_to_string(&vars["VAULT_CI_SERVE_LOG"]).unwrap();
    assert!(
        log.contains("refreshed the credentials served"),
        "the server refreshes the completed role:\n{log}"
    );
    assert!(!log.contains("refreshing the credentials failed"), "{log}");
    stop(&env, &vars);
    assert!(server_gone(Path::new(&vars["VAULT_CI_SERVE_LOG"])));
}

/// The HTTP status and body a request to the endpoint gets.
fn ask(env: &Env, vars: &BTreeMap<String, String>) -> (u16, String) {
    let script = "import os, urllib.request, urllib.error\n\
                  r = urllib.request.Request(os.environ['AWS_CONTAINER_CREDENTIALS_FULL_URI'], \
                  headers={'Authorization': os.environ['AWS_CONTAINER_AUTHORIZATION_TOKEN']})\n\
                  try:\n    a = urllib.request.urlopen(r); print(a.status); print(a.read().decode())\n\
                  except urllib.error.HTTPError as e:\n    print(e.code); print(e.read().decode())\n";
    let mut command = env.command("python3", ["-c", script]);
    command.envs(vars);
    let outcome: Outcome = command.output().into();
    outcome.success();
    let (status, body) = outcome.stdout.split_once('\n').unwrap();
    (status.parse().unwrap(), body.trim_end().to_string())
}

#[cfg(unix)]
#[test]
fn a_server_whose_address_could_not_be_handed_on_does_not_outlive_the_step() {
    let github = github_endpoint(&[]);
    let mut env = serving_job(&github);
    // $GITHUB_OUTPUT a directory: the step fails once the server runs.
    let github_output = env.path("github_output_dir");
    std::fs::create_dir(&github_output).unwrap();
    env.set("GITHUB_OUTPUT", github_output.display().to_string());
    let out = env.vault_ci([
        "assume",
        "--role-arn",
        &moto().role("gha-deploy"),
        "--github-env",
        "--serve",
    ]);
    assert_eq!(out.code, Some(1), "{out}");
    let pid: u32 = out
        .stderr
        .split("(process ")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .and_then(|pid| pid.parse().ok())
        .unwrap_or_else(|| panic!("the server's process is named:\n{out}"));
    assert!(
        out.stderr.lines().any(|l| l
            == format!(
                " INFO the credentials server (process {pid}) was stopped: the step failed"
            )),
        "{out}"
    );
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "the server outlived the failed step"
    );
}

#[test]
fn after_its_idle_limit_the_server_keeps_its_port_and_says_why_it_serves_nothing() {
    let github = github_endpoint(&[]);
    let mut env = serving_job(&github);
    // The shortest idle limit there is: a minute.
    env.set("VAULT_CI_SERVE_IDLE", "60");
    env.vault_ci([
        "assume",
        "--role-arn",
        &moto().role("gha-deploy"),
        "--github-env",
        "--serve",
    ])
    .success();
    let vars = later_step(&env);
    let log = Path::new(&vars["VAULT_CI_SERVE_LOG"]);
    let deadline = Instant::now() + Duration::from_secs(180);
    while !std::fs::read_to_string(log)
        .unwrap_or_default()
        .contains("serves no more credentials")
    {
        assert!(Instant::now() < deadline, "the idle limit never came");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(
        ask(&env, &vars),
        (
            503,
            r#"{"code":"ServerClosed","message":"vault-ci's credentials server serves no more credentials: no credentials were asked for within --serve-idle"}"#
                .to_string()
        )
    );
    stop(&env, &vars);
    assert!(server_gone(log));
}

#[cfg(unix)]
#[test]
fn the_servers_files_are_in_a_fresh_directory_of_its_own() {
    use std::os::unix::fs::PermissionsExt;
    let github = github_endpoint(&[]);
    let mut env = serving_job(&github);
    env.set("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "/dev/null");
    env.vault_ci([
        "assume",
        "--role-arn",
        &moto().role("gha-deploy"),
        "--github-env",
        "--serve",
    ])
    .success();
    let vars = later_step(&env);
    let log = Path::new(&vars["VAULT_CI_SERVE_LOG"]);
    let dir = log.parent().unwrap();
    assert_eq!(dir.parent().unwrap(), env.path("runner-temp"));
    assert!(
        dir.file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("vault-ci-serve-")
    );
    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(dir), 0o700);
    assert_eq!(mode(log), 0o600);
    let token_file = Path::new(&vars["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"]);
    assert_eq!(token_file, dir.join("serve.token"));
    assert_eq!(mode(token_file), 0o600);
    assert_eq!(
        std::fs::read_to_string(token_file).unwrap(),
        vars["AWS_CONTAINER_AUTHORIZATION_TOKEN"]
    );
    stop(&env, &vars);
    assert!(server_gone(log));
}

/// Writes an executable `#!/bin/sh` script at bin/NAME: a program called NAME in
/// the process table, as the runners' own programs are.
#[cfg(unix)]
fn program(env: &Env, name: &str, script: &str) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let bin = env.path("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let path = bin.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{script}")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// Each runner's process tree, as its long-lived agent starts a job and the
/// job's step runs `vault-ci … --serve`: the server must end when the job's
/// process does, while the agent lives on. Each runs the step the way that
/// runner does, including the one-command `bash -c` that execs vault-ci.
#[cfg(target_os = "linux")]
#[test]
fn the_server_ends_with_the_job_not_with_the_long_lived_agent_on_every_runner() {
    let vault_ci = env!("CARGO_BIN_EXE_vault-ci");
    let step = format!(
        "{vault_ci} assume --provider token-file --token-file \"$DIR/t.jwt\" --role-arn {} \
         --env-file \"$DIR/aws.env\" --serve",
        moto().role("gha-deploy")
    );
    // (the CI's marker, the agent's program and script, the job's program and script)
    let shapes: [(&str, &str, String, &str, String); 4] = [
        (
            "BUILDKITE",
            "buildkite-agent",
            format!(
                "case \"$1\" in\n\
                 start) \"$0\" bootstrap; touch \"$DIR/job-ended\"; exec sleep 120 ;;\n\
                 bootstrap) bash -e -c '{step}'; sleep 1 ;;\n\
                 esac\n"
            ),
            "",
            String::new(),
        ),
        (
            "CIRCLECI",
            "circleci-launch",
            "\"$DIR/bin/circleci-agent\"; touch \"$DIR/job-ended\"; exec sleep 120\n".into(),
            "circleci-agent",
            format!("bash -eo pipefail -c '{step}'\nsleep 1\n"),
        ),
        (
            "GITLAB_CI",
            "gitlab-runner",
            "bash \"$DIR/job.sh\"; touch \"$DIR/job-ended\"; exec sleep 120\n".into(),
            "",
            String::new(),
        ),
        (
            "GITHUB_ACTIONS",
            "Runner.Listener",
            "\"$DIR/bin/Runner.Worker\"; touch \"$DIR/job-ended\"; exec sleep 120\n".into(),
            "Runner.Worker",
            // The action's assume.sh: `exec vault-ci …` in a bash step.
            format!("bash -e -c 'exec {step}'\nsleep 1\n"),
        ),
    ];
    for (marker, agent, agent_script, job, job_script) in shapes {
        let mut env = Env::new();
        env.sts(moto()).set(marker, "true");
        env.set("DIR", env.dir.path().display().to_string())
            // A failed test must not leave a server behind for long.
            .set("VAULT_CI_SERVE_MAX", "120");
        env.write("t.jwt", &mint_token(&["--aud", "sts.amazonaws.com"]));
        // GitLab's shell executor: the job's script, line after line, in one shell.
        env.write("job.sh", &format!("{step}\necho the next line\nsleep 1\n"));
        let agent = program(&env, agent, &agent_script);
        if !job.is_empty() {
            program(&env, job, &job_script);
        }
        let mut agent_process = env
            .command(agent.to_str().unwrap(), ["start"])
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        while !env.path("job-ended").exists() {
            assert!(Instant::now() < deadline, "{marker}: the job never ended");
            std::thread::sleep(Duration::from_millis(100));
        }
        let script = format!(
            ". '{}' && printf %s \"$VAULT_CI_SERVE_LOG\"",
            env.path("aws.env").display()
        );
        let log = std::path::PathBuf::from(env.run("sh", ["-c", &script]).stdout);
        let ended = server_gone(&log);
        let agent_lives = agent_process.try_wait().unwrap().is_none();
        let _ = agent_process.kill();
        let _ = agent_process.wait();
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        assert!(ended, "{marker}: the server outlived the job:\n{text}");
        assert!(
            text.contains("the credentials server stops: the job's runner process ended"),
            "{marker}: {text}"
        );
        assert!(agent_lives, "{marker}: the agent was to outlive the job");
    }
}
