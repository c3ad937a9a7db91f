//! The GitHub Action and the CircleCI orb, run as their users run them: a job's
//! steps executed the way the runner does it (tests/runners/ci.py), vault-ci
//! installed from a release laid out by scripts/dist.sh, later steps calling the
//! aws CLI against moto. The container image is tested by scripts/test-image.sh.
#![cfg(unix)]

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::harness::*;
use crate::providers::circleci_token;

const VERSION: &str = env!("CARGO_PKG_VERSION");

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn repo_file(name: &str) -> String {
    repo().join(name).display().to_string()
}

/// A YAML file as JSON, read by PyYAML like the runners read it.
fn yaml(env: &Env, path: &Path) -> Value {
    let script = "import json,sys,yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))";
    env.run("python3", ["-c", script, &path.display().to_string()])
        .json()
}

/// The runner's PATH before anything installed vault-ci.
fn path_without_vault_ci() -> String {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs = std::env::split_paths(&path).filter(|d| !d.join("vault-ci").exists());
    std::env::join_paths(dirs).unwrap().into_string().unwrap()
}

/// A directory holding this build as `vault-ci`, for a PATH that already has one.
fn preinstalled(env: &Env) -> PathBuf {
    let bin = env.path("preinstalled");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::copy(env!("CARGO_BIN_EXE_vault-ci"), bin.join("vault-ci")).unwrap();
    bin
}

/// This build published the way the release pipeline publishes it (scripts/dist.sh
/// names the asset and writes its .sha256), under a file:// "GitHub server".
/// Returns the server URL; the assets are under `<server>/vault-ci/vault-ci/releases/download/v<VERSION>/`.
fn publish_release(env: &Env) -> String {
    let target = match std::env::consts::OS {
        "macos" => format!("{}-apple-darwin", std::env::consts::ARCH),
        _ => format!("{}-unknown-linux-gnu", std::env::consts::ARCH),
    };
    let dist = env.path("dist");
    let mut dist_sh = env.command("bash", [&repo_file("scripts/dist.sh"), &target]);
    dist_sh
        .arg(env!("CARGO_BIN_EXE_vault-ci"))
        .env("DIST_DIR", &dist);
    let outcome: Outcome = dist_sh.output().into();
    outcome.success();
    let download = release_dir(env);
    std::fs::create_dir_all(&download).unwrap();
    for asset in std::fs::read_dir(dist.join("assets")).unwrap() {
        let asset = asset.unwrap().path();
        std::fs::copy(&asset, download.join(asset.file_name().unwrap())).unwrap();
    }
    format!("file://{}", env.path("server").display())
}

fn release_dir(env: &Env) -> PathBuf {
    env.path("server/vault-ci/vault-ci/releases/download")
        .join(format!("v{VERSION}"))
}

/// Every release asset of this platform (the binary and its .sha256).
fn release_assets(env: &Env) -> Vec<PathBuf> {
    std::fs::read_dir(release_dir(env))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect()
}

// ── GitHub Actions ──────────────────────────────────────────────────────────

/// A GitHub-hosted runner: the job has `permissions: id-token: write`, and its
/// GITHUB_SERVER_URL serves the action's releases.
/// A GitHub runner whose PATH already has this build's vault-ci (as on a
/// self-hosted runner), with no release to download, talking to `sts`.
fn runner_with_vault_ci_installed(sts: &Peer) -> Env {
    let mut env = Env::new();
    env.sts(sts);
    github_runner(&mut env, "file:///nonexistent");
    let bin = preinstalled(&env);
    env.set(
        "PATH",
        format!("{}:{}", bin.display(), path_without_vault_ci()),
    );
    env
}

fn github_runner(env: &mut Env, server: &str) {
    let (temp, tool_cache) = (env.path("runner-temp"), env.path("tool-cache"));
    std::fs::create_dir_all(&temp).unwrap();
    env.github_actions()
        .set(
            "RUNNER_OS",
            if cfg!(target_os = "macos") {
                "macOS"
            } else {
                "Linux"
            },
        )
        .set("RUNNER_ARCH", runner_arch())
        .set("RUNNER_TEMP", temp.display().to_string())
        .set("RUNNER_TOOL_CACHE", tool_cache.display().to_string())
        .set("GITHUB_SERVER_URL", server)
        .set("PATH", path_without_vault_ci());
}

fn runner_arch() -> &'static str {
    if std::env::consts::ARCH == "aarch64" {
        "ARM64"
    } else {
        "X64"
    }
}

/// Runs a job's steps (YAML) the way the runner does, with `vault-ci/vault-ci@REF`
/// being this checkout.
fn run_github_job(env: &Env, job: &str) -> Value {
    let file = env.write("job.yml", job);
    env.run(
        "python3",
        [
            &repo_file("tests/runners/ci.py"),
            "github",
            &file.display().to_string(),
            "--action",
            &format!("vault-ci/vault-ci={}", repo().display()),
        ],
    )
    .json()
}

fn log(report: &Value) -> &str {
    report["log"].as_str().unwrap()
}

#[track_caller]
fn assert_succeeded(report: &Value) {
    assert_eq!(report["result"], "success", "{}", pretty(report));
}

#[track_caller]
fn assert_failed_with(report: &Value, annotation: &str) {
    assert_eq!(report["result"], "failure", "{}", pretty(report));
    let errors: Vec<&str> = report["annotations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["level"] == "error")
        .map(|a| a["message"].as_str().unwrap())
        .collect();
    assert!(
        errors.iter().any(|e| e.contains(annotation)),
        "no ::error:: annotation with {annotation:?}:\n{}",
        pretty(report)
    );
}

/// No credential the job exported ever reached its log unmasked.
#[track_caller]
fn assert_no_secret_in_log(report: &Value, secrets: &[&str]) {
    for secret in secrets {
        assert!(!secret.is_empty());
        assert!(
            !log(report).contains(secret),
            "a secret is in the log:\n{}",
            log(report)
        );
    }
}

fn exported<'a>(report: &'a Value, name: &str) -> &'a str {
    report["env"][name]
        .as_str()
        .unwrap_or_else(|| panic!("{name} not exported:\n{}", pretty(report)))
}

fn pretty(report: &Value) -> String {
    serde_json::to_string_pretty(report).unwrap()
}

#[test]
fn a_workflow_using_the_action_installs_the_release_and_its_later_steps_are_the_role() {
    let moto = moto();
    let mut env = Env::new();
    env.sts(moto);
    let server = publish_release(&env);
    github_runner(&mut env, &server);

    let report = run_github_job(
        &env,
        &r#"
steps:
  - uses: vault-ci/vault-ci@v<VERSION>
    id: aws
    with:
      role-to-assume: <ROLE>
      aws-region: us-east-1
  - run: aws sts get-caller-identity --query Arn --output text
  - run: echo "account ${{ steps.aws.outputs.aws-account-id }} until ${{ steps.aws.outputs.aws-expiration }}"
"#
        .replace("<VERSION>", VERSION)
        .replace("<ROLE>", &moto.role("gha-deploy")),
    );
    assert_succeeded(&report);
    let log = log(&report);
    assert!(
        log.contains(&assumed_role("gha-deploy", "github-4242-2")),
        "{log}"
    );
    assert!(
        log.contains(&format!("account {ACCOUNT} until 20")),
        "{log}"
    );

    // The release binary was checked and kept in the tool cache, and is on PATH.
    let cached = env
        .path("tool-cache/vault-ci")
        .join(VERSION)
        .join(runner_arch());
    assert!(cached.join("vault-ci").is_file());
    assert!(cached.with_extension("complete").is_file());
    assert_eq!(report["path"][0], cached.display().to_string());
    assert!(log.contains(&format!("vault-ci {VERSION}")), "{log}");

    // Secrets are masked before anything prints them; they are outputs only on request.
    assert_no_secret_in_log(
        &report,
        &[
            exported(&report, "AWS_ACCESS_KEY_ID"),
            exported(&report, "AWS_SECRET_ACCESS_KEY"),
            exported(&report, "AWS_SESSION_TOKEN"),
        ],
    );
    assert_eq!(report["steps"][0]["outputs"]["aws-secret-access-key"], "");
    assert_eq!(exported(&report, "AWS_REGION"), "us-east-1");
}

#[test]
fn a_vault_ci_on_path_that_satisfies_the_version_is_used_and_nothing_is_downloaded() {
    let mut env = Env::new();
    env.sts(moto());
    let server = env.path("empty-server");
    github_runner(&mut env, &format!("file://{}", server.display()));
    let bin = preinstalled(&env);
    let path = format!("{}:{}", bin.display(), path_without_vault_ci());
    env.set("PATH", path);
    let major = VERSION.split('.').next().unwrap();

    let report = run_github_job(
        &env,
        &r#"
steps:
  - uses: vault-ci/vault-ci@v<MAJOR>
    with:
      role-to-assume: <ROLE>
  - run: aws sts get-caller-identity --query Arn --output text
"#
        .replace("<MAJOR>", major)
        .replace("<ROLE>", &moto().role("gha-deploy")),
    );
    assert_succeeded(&report);
    let using = format!("Using vault-ci {VERSION} from {}/vault-ci", bin.display());
    assert!(log(&report).contains(&using), "{}", log(&report));
    assert!(
        !env.path("tool-cache").exists(),
        "nothing may be downloaded"
    );
}

#[test]
fn a_release_binary_that_does_not_match_its_published_checksum_is_not_installed() {
    let mut env = Env::new();
    env.sts(moto());
    let server = publish_release(&env);
    github_runner(&mut env, &server);
    let binary = release_assets(&env)
        .into_iter()
        .find(|p| p.extension().is_none_or(|e| e != "sha256"))
        .unwrap();
    std::fs::write(&binary, b"#!/bin/sh\necho pwned\n").unwrap();

    let report = run_github_job(
        &env,
        &r#"
steps:
  - uses: vault-ci/vault-ci@v<VERSION>
    with:
      role-to-assume: <ROLE>
  - run: aws sts get-caller-identity
"#
        .replace("<VERSION>", VERSION)
        .replace("<ROLE>", &moto().role("gha-deploy")),
    );
    assert_failed_with(&report, "does not match its published SHA-256");
    assert_eq!(report["steps"][1]["outcome"], "skipped");
    assert!(!log(&report).contains("pwned"));
    assert!(!env.path("tool-cache/vault-ci").join(VERSION).exists());
    assert_eq!(report["env"], serde_json::json!({}));
}

#[test]
fn a_release_binary_that_does_not_run_on_the_runner_is_not_cached() {
    let mut env = Env::new();
    env.sts(moto());
    let server = publish_release(&env);
    github_runner(&mut env, &server);
    let binary = release_assets(&env)
        .into_iter()
        .find(|p| p.extension().is_none_or(|e| e != "sha256"))
        .unwrap();
    // What a binary of another platform does here, with a checksum that matches it.
    std::fs::write(&binary, b"#!/bin/sh\nexit 126\n").unwrap();
    let name = binary.file_name().unwrap().to_str().unwrap();
    env.run(
        "sh",
        [
            "-c",
            &format!(
                "cd '{}' && sha256sum {name} > {name}.sha256",
                release_dir(&env).display()
            ),
        ],
    )
    .success();

    let report = run_github_job(
        &env,
        &r#"
steps:
  - uses: vault-ci/vault-ci@v<VERSION>
    with:
      role-to-assume: <ROLE>
  - run: aws sts get-caller-identity
"#
        .replace("<VERSION>", VERSION)
        .replace("<ROLE>", &moto().role("gha-deploy")),
    );
    assert_failed_with(&report, "does not run on this Linux");
    assert_eq!(report["steps"][1]["outcome"], "skipped");
    let cached = env
        .path("tool-cache/vault-ci")
        .join(VERSION)
        .join(runner_arch());
    assert!(
        !cached.with_extension("complete").exists(),
        "a binary that does not run is marked installed"
    );
}

#[test]
fn deploy_user_keys_chain_into_named_roles_with_credentials_as_outputs_and_an_env_file() {
    let moto = moto_auth();
    let env = runner_with_vault_ci_installed(moto);

    let report = run_github_job(
        &env,
        &r#"
env:
  VAULT_CI_ROLE_CFN: <CFN>
steps:
  - uses: vault-ci/vault-ci@main
    id: aws
    with:
      aws-access-key-id: <KEY>
      aws-secret-access-key: <SECRET>
      role-to-assume: <DEPLOY>
      chain: cfn
      role-duration-seconds: 1800
      output-credentials: true
      env-file: aws-env.sh
  - run: aws sts get-caller-identity --query Arn --output text
"#
        .replace("<CFN>", &moto.role("cfn"))
        .replace("<KEY>", &moto.str("/deploy_user/access_key_id"))
        .replace("<SECRET>", &moto.str("/deploy_user/secret_access_key"))
        .replace("<DEPLOY>", &moto.role("deploy")),
    );
    assert_succeeded(&report);
    let cfn = format!("arn:aws:sts::{ACCOUNT}:assumed-role/cfn/");
    assert!(log(&report).contains(&cfn), "{}", log(&report));

    let outputs = &report["steps"][0]["outputs"];
    for (output, name) in [
        ("aws-access-key-id", "AWS_ACCESS_KEY_ID"),
        ("aws-secret-access-key", "AWS_SECRET_ACCESS_KEY"),
        ("aws-session-token", "AWS_SESSION_TOKEN"),
    ] {
        assert_eq!(outputs[output], exported(&report, name), "{output}");
    }
    let file = source_exports(&env, &env.path("aws-env.sh"));
    assert_eq!(
        file["AWS_ACCESS_KEY_ID"],
        exported(&report, "AWS_ACCESS_KEY_ID")
    );
    assert_no_secret_in_log(
        &report,
        &[
            exported(&report, "AWS_SECRET_ACCESS_KEY"),
            exported(&report, "AWS_SESSION_TOKEN"),
            &moto.str("/deploy_user/secret_access_key"),
        ],
    );
}

#[test]
fn role_chaining_starts_from_the_credentials_an_earlier_step_exported() {
    let moto = moto_auth();
    let env = runner_with_vault_ci_installed(moto);

    // configure-aws-credentials' two-step pattern, unchanged but for `uses:`.
    let report = run_github_job(
        &env,
        &r#"
steps:
  - uses: vault-ci/vault-ci@main
    with:
      aws-access-key-id: <KEY>
      aws-secret-access-key: <SECRET>
      role-to-assume: <DEPLOY>
  - uses: vault-ci/vault-ci@main
    with:
      role-chaining: true
      role-to-assume: <CFN>
      role-session-name: second-hop
  - run: aws sts get-caller-identity --query Arn --output text
"#
        .replace("<KEY>", &moto.str("/deploy_user/access_key_id"))
        .replace("<SECRET>", &moto.str("/deploy_user/secret_access_key"))
        .replace("<DEPLOY>", &moto.role("deploy"))
        .replace("<CFN>", &moto.role("cfn")),
    );
    assert_succeeded(&report);
    assert!(
        log(&report).contains(&assumed_role("cfn", "second-hop")),
        "{}",
        log(&report)
    );
}

#[test]
fn unset_current_credentials_removes_stale_keys_even_when_the_action_fails() {
    let mut env = runner_with_vault_ci_installed(moto());
    // No `permissions: id-token: write` this time.
    env.remove("ACTIONS_ID_TOKEN_REQUEST_URL")
        .remove("ACTIONS_ID_TOKEN_REQUEST_TOKEN");

    let report = run_github_job(
        &env,
        &r#"
steps:
  - run: |
      echo "AWS_ACCESS_KEY_ID=AKIASTALESTALESTALE1" >> "$GITHUB_ENV"
      echo "AWS_SECRET_ACCESS_KEY=stale-secret" >> "$GITHUB_ENV"
  - uses: vault-ci/vault-ci@main
    with:
      role-to-assume: <ROLE>
      unset-current-credentials: true
"#
        .replace("<ROLE>", &moto().role("gha-deploy")),
    );
    assert_failed_with(&report, "id-token: write");
    assert_eq!(exported(&report, "AWS_ACCESS_KEY_ID"), "");
    assert_eq!(exported(&report, "AWS_SECRET_ACCESS_KEY"), "");
}

#[test]
fn mask_aws_account_id_keeps_the_account_out_of_the_log() {
    let env = runner_with_vault_ci_installed(moto());

    let report = run_github_job(
        &env,
        &r#"
steps:
  - uses: vault-ci/vault-ci@main
    with:
      role-to-assume: <ROLE>
      mask-aws-account-id: true
  - run: aws sts get-caller-identity --query Arn --output text
"#
        .replace("<ROLE>", &moto().role("gha-deploy")),
    );
    assert_succeeded(&report);
    let log = log(&report);
    assert!(
        log.contains("arn:aws:sts::***:assumed-role/gha-deploy/"),
        "{log}"
    );
    assert!(!log.contains(ACCOUNT), "{log}");
}

#[test]
fn session_tagging_inputs_are_accepted_as_configure_aws_credentials_takes_them() {
    let env = runner_with_vault_ci_installed(moto());

    let report = run_github_job(
        &env,
        &r#"
steps:
  - uses: vault-ci/vault-ci@main
    with:
      role-to-assume: <ROLE>
      role-skip-session-tagging: false
"#
        .replace("<ROLE>", &moto().role("gha-deploy")),
    );
    // With the OIDC token there is nothing to tag: the input changes nothing.
    assert_succeeded(&report);
}

#[test]
fn every_action_input_reaches_vault_ci_and_every_option_it_passes_exists() {
    let env = Env::new();
    let action = yaml(&env, &repo().join("action.yml"));
    let help = env.vault_ci(["assume", "--help"]).success().stdout.clone();

    // configure-aws-credentials' names, so that switching is a one-line change.
    let inputs = action["inputs"].as_object().unwrap();
    for name in [
        "aws-region",
        "role-to-assume",
        "role-duration-seconds",
        "role-session-name",
        "role-external-id",
        "audience",
        "role-chaining",
        "inline-session-policy",
        "managed-session-policies",
        "web-identity-token-file",
        "aws-access-key-id",
        "aws-secret-access-key",
        "aws-session-token",
        "output-credentials",
        "unset-current-credentials",
        "mask-aws-account-id",
        "role-skip-session-tagging",
        "retry-max-attempts",
        "chain",
        "env-file",
        "version",
    ] {
        assert!(inputs.contains_key(name), "action.yml lacks input {name}");
    }
    let outputs = action["outputs"].as_object().unwrap();
    for name in [
        "aws-account-id",
        "aws-access-key-id",
        "aws-secret-access-key",
        "aws-session-token",
        "aws-expiration",
    ] {
        assert!(outputs.contains_key(name), "action.yml lacks output {name}");
    }

    // Every input is consumed by a step.
    let steps = action["runs"]["steps"].as_array().unwrap();
    let runs = serde_json::to_string(steps).unwrap();
    for name in inputs.keys() {
        assert!(
            runs.contains(&format!("inputs.{name} }}}}")),
            "input {name} is not used"
        );
    }

    // Each step's variables are vault-ci options or read by the step's script.
    for step in steps {
        let run = step["run"].as_str().unwrap();
        let script = run
            .split('"')
            .nth(1)
            .unwrap()
            .replace("$GITHUB_ACTION_PATH/", "");
        let script = std::fs::read_to_string(repo().join(&script)).unwrap();
        for name in step["env"].as_object().unwrap().keys() {
            if name.starts_with("VAULT_CI_") {
                assert!(
                    help.contains(&format!("[env: {name}=")),
                    "vault-ci has no {name}"
                );
            } else {
                assert!(
                    script.contains(&format!("${{{name}")),
                    "{run} does not read {name}"
                );
            }
        }
        for flag in vault_ci_flags(&script) {
            assert!(
                help.contains(&format!("--{flag}")),
                "vault-ci assume has no --{flag}"
            );
        }
    }
}

/// The `--flags` a script passes to `vault-ci assume`.
fn vault_ci_flags(script: &str) -> Vec<String> {
    script
        .lines()
        .filter_map(|l| l.split_once("vault-ci assume "))
        .flat_map(|(_, args)| args.split_whitespace())
        .filter_map(|a| a.strip_prefix("--"))
        .map(|a| a.trim_end_matches(';').to_string())
        .collect()
}

// ── CircleCI ────────────────────────────────────────────────────────────────

/// A CircleCI job: `CIRCLECI`, the build number, `BASH_ENV`; with a context, the token.
fn circleci_job(env: &mut Env) {
    let bash_env = env.write("bash_env", "");
    env.set("CIRCLECI", "true")
        .set("CI", "true")
        .set("CIRCLE_BUILD_NUM", "77")
        .set("CIRCLE_PROJECT_REPONAME", "app")
        .set("BASH_ENV", bash_env.display().to_string())
        .set("PATH", path_without_vault_ci());
}

/// Packs the orb as the release does, then runs the job's steps as CircleCI does.
fn run_circleci_job(env: &Env, job: &str) -> Value {
    let packed = env.run(
        "python3",
        [&repo_file("scripts/pack-orb.py"), &repo_file("orb/src")],
    );
    packed.success();
    let orb = env.write("orb.yml", &packed.stdout);
    let file = env.write("job.yml", job);
    env.run(
        "python3",
        [
            &repo_file("tests/runners/ci.py"),
            "circleci",
            &file.display().to_string(),
            "--orb",
            &format!("vault-ci={}", orb.display()),
        ],
    )
    .json()
}

#[test]
fn a_circleci_job_with_a_context_installs_vault_ci_and_later_steps_are_the_role() {
    let mut env = Env::new();
    env.sts(moto());
    let server = publish_release(&env);
    circleci_job(&mut env);
    env.set("CIRCLE_OIDC_TOKEN_V2", circleci_token("main"));

    let report = run_circleci_job(
        &env,
        &r#"
steps:
  - vault-ci/install:
      releases_url: <SERVER>/vault-ci/vault-ci/releases/download
  - vault-ci/assume-role:
      role_arn: <ROLE>
  - run: aws sts get-caller-identity --query Arn --output text
"#
        .replace("<SERVER>", &server)
        .replace("<ROLE>", &moto().role("gha-deploy")),
    );
    assert_succeeded(&report);
    let log = log(&report);
    assert!(
        log.contains(&assumed_role("gha-deploy", "circleci-app-77")),
        "{log}"
    );
    // assume-role's own install step found the binary the first step put on PATH.
    let installed = env
        .path("home/.vault-ci")
        .join(VERSION)
        .join("bin/vault-ci");
    assert!(
        log.contains(&format!(
            "Using vault-ci {VERSION} from {}",
            installed.display()
        )),
        "{log}"
    );

    // CircleCI masks nothing: vault-ci must print no secret at all.
    let vars = source_exports(&env, &env.path("bash_env"));
    assert_no_secret_in_log(
        &report,
        &[&vars["AWS_SECRET_ACCESS_KEY"], &vars["AWS_SESSION_TOKEN"]],
    );
}

#[test]
fn the_orb_chains_a_deploy_user_through_roles_named_in_project_variables() {
    let moto = moto_auth();
    let mut env = Env::new();
    env.sts(moto).deploy_user(moto);
    circleci_job(&mut env);
    let bin = preinstalled(&env);
    env.set(
        "PATH",
        format!("{}:{}", bin.display(), path_without_vault_ci()),
    )
    .set("VAULT_CI_ROLE_DEPLOY", moto.role("deploy"))
    .set("VAULT_CI_ROLE_CFN", moto.role("cfn"));

    let report = run_circleci_job(
        &env,
        r#"
steps:
  - vault-ci/assume-role:
      chain: deploy,cfn
      duration: 1800
      session_name: release-42
  - run: aws sts get-caller-identity --query Arn --output text
"#,
    );
    assert_succeeded(&report);
    assert!(
        log(&report).contains(&assumed_role("cfn", "release-42")),
        "{}",
        log(&report)
    );
    let vars = source_exports(&env, &env.path("bash_env"));
    assert_ne!(
        vars["AWS_ACCESS_KEY_ID"],
        moto.str("/deploy_user/access_key_id")
    );
}

#[test]
fn the_orb_refuses_a_release_binary_that_does_not_match_its_checksum() {
    let mut env = Env::new();
    let server = publish_release(&env);
    circleci_job(&mut env);
    for asset in release_assets(&env) {
        if asset.extension().is_none_or(|e| e != "sha256") {
            std::fs::write(&asset, b"#!/bin/sh\necho pwned\n").unwrap();
        }
    }
    let report = run_circleci_job(
        &env,
        &r#"
steps:
  - vault-ci/install:
      releases_url: <SERVER>/vault-ci/vault-ci/releases/download
"#
        .replace("<SERVER>", &server),
    );
    assert_eq!(report["result"], "failure", "{}", pretty(&report));
    assert!(
        log(&report).contains("does not match its published SHA-256"),
        "{}",
        log(&report)
    );
    assert!(!env.path("home/.vault-ci").join(VERSION).exists());
    assert_eq!(env.read("bash_env"), "");
}

#[test]
fn every_orb_parameter_reaches_vault_ci_and_the_orb_installs_this_version() {
    let env = Env::new();
    let help = env.vault_ci(["assume", "--help"]).success().stdout.clone();
    let src = repo().join("orb/src");
    let assume = yaml(&env, &src.join("commands/assume-role.yml"));
    let install = yaml(&env, &src.join("commands/install.yml"));
    let script = std::fs::read_to_string(src.join("scripts/assume-role.sh")).unwrap();

    for (name, _) in assume["parameters"].as_object().unwrap() {
        if name == "version" {
            continue;
        }
        let option = name.to_uppercase();
        assert!(
            help.contains(&format!("[env: VAULT_CI_{option}=")),
            "vault-ci has no VAULT_CI_{option}"
        );
        assert!(
            script.contains(&format!(" {option} ")) || script.contains(&format!(" {option};")),
            "assume-role.sh does not pass {name}"
        );
        let step = serde_json::to_string(&assume["steps"]).unwrap();
        assert!(
            step.contains(&format!("\"PARAM_{option}\":\"<< parameters.{name} >>\"")),
            "{name} is not handed to the script"
        );
    }
    for flag in vault_ci_flags(&script) {
        assert!(
            help.contains(&format!("--{flag}")),
            "vault-ci assume has no --{flag}"
        );
    }
    assert_eq!(install["parameters"]["version"]["default"], VERSION);
    assert_eq!(assume["parameters"]["version"]["default"], VERSION);
}
