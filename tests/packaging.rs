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
pub fn path_without_vault_ci() -> String {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs = std::env::split_paths(&path).filter(|d| !d.join("vault-ci").exists());
    std::env::join_paths(dirs).unwrap().into_string().unwrap()
}

/// A directory holding this build as `vault-ci`, for a PATH that already has one.
pub fn preinstalled(env: &Env) -> PathBuf {
    let bin = env.path("preinstalled");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::copy(env!("CARGO_BIN_EXE_vault-ci"), bin.join("vault-ci")).unwrap();
    bin
}

/// This build as the release's build jobs leave it: scripts/dist.sh names the asset and
/// writes its `.sha256` (once per test). Returns dist/assets.
fn dist(env: &Env) -> PathBuf {
    let dist = env.path("dist");
    let assets = dist.join("assets");
    if assets.is_dir() {
        return assets;
    }
    let target = match std::env::consts::OS {
        "macos" => format!("{}-apple-darwin", std::env::consts::ARCH),
        _ => format!("{}-unknown-linux-gnu", std::env::consts::ARCH),
    };
    let mut dist_sh = env.command("bash", [&repo_file("scripts/dist.sh"), &target]);
    dist_sh
        .arg(env!("CARGO_BIN_EXE_vault-ci"))
        .env("DIST_DIR", &dist);
    let outcome: Outcome = dist_sh.output().into();
    outcome.success();
    assets
}

/// This build published the way the release pipeline publishes it (scripts/dist.sh
/// names the asset and writes its .sha256), under a file:// "GitHub server".
/// Returns the server URL; the assets are under `<server>/vault-ci/vault-ci/releases/download/v<VERSION>/`.
fn publish_release(env: &Env) -> String {
    let download = release_dir(env);
    std::fs::create_dir_all(&download).unwrap();
    for asset in std::fs::read_dir(dist(env)).unwrap() {
        let asset = asset.unwrap().path();
        std::fs::copy(&asset, download.join(asset.file_name().unwrap())).unwrap();
    }
    format!("file://{}", env.path("server").display())
}

/// The packagings (install.sh, the action, the orb, the GitLab component, the Buildkite
/// plugin) copied to `<env>/packaging` and pinned as the release pins them:
/// `scripts/pin-digests.py pin` with the `.sha256` of this build's asset (of the
/// published one, if the test published a release and changed it since).
pub fn released_packaging(env: &Env) -> PathBuf {
    let packaging = env.path("packaging");
    if packaging.is_dir() {
        return packaging;
    }
    std::fs::create_dir_all(&packaging).unwrap();
    let into = format!("{}/", packaging.display());
    for item in [
        "install.sh",
        "action.yml",
        "action",
        "orb",
        "templates",
        "buildkite",
    ] {
        env.run("cp", ["-R", &repo_file(item), &into]).success();
    }
    let published = release_dir(env);
    let sums_dir = if published.is_dir() {
        published
    } else {
        dist(env)
    };
    let mut pin = vec![
        repo_file("scripts/pin-digests.py"),
        "pin".into(),
        "--root".into(),
        packaging.display().to_string(),
        VERSION.into(),
    ];
    for sums in std::fs::read_dir(&sums_dir).unwrap() {
        let sums = sums.unwrap().path();
        if sums.extension().is_some_and(|e| e == "sha256") {
            pin.push(sums.display().to_string());
        }
    }
    env.run("python3", &pin).success();
    packaging
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
/// being this checkout. Every input these jobs give is one the action declares.
fn run_github_job(env: &Env, job: &str) -> Value {
    let report = run_github_job_as_written(env, job);
    assert!(
        !warnings(&report).any(|w| w.starts_with("Unexpected input(s)")),
        "the action does not declare an input:\n{}",
        pretty(&report)
    );
    report
}

/// The same, whatever the inputs.
fn run_github_job_as_written(env: &Env, job: &str) -> Value {
    let file = env.write("job.yml", job);
    env.run(
        "python3",
        [
            &repo_file("tests/runners/ci.py"),
            "github",
            &file.display().to_string(),
            "--action",
            &format!("vault-ci/vault-ci={}", released_packaging(env).display()),
        ],
    )
    .json()
}

fn warnings(report: &Value) -> impl Iterator<Item = &str> {
    report["annotations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["level"] == "warning")
        .map(|a| a["message"].as_str().unwrap())
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
      output-credentials: true
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
    assert_eq!(
        report["steps"][0]["outputs"]["aws-secret-access-key"],
        exported(&report, "AWS_SECRET_ACCESS_KEY")
    );
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
fn a_release_binary_that_does_not_match_the_digest_pinned_in_the_action_is_not_installed() {
    let mut env = Env::new();
    env.sts(moto());
    let server = publish_release(&env);
    github_runner(&mut env, &server);
    released_packaging(&env);
    // The release's download replaced, and the .sha256 published next to it too.
    let binary = release_assets(&env)
        .into_iter()
        .find(|p| p.extension().is_none_or(|e| e != "sha256"))
        .unwrap();
    std::fs::write(&binary, b"#!/bin/sh\necho pwned\n").unwrap();
    let name = binary.file_name().unwrap().to_str().unwrap();
    let dir = release_dir(&env).display().to_string();
    let script = format!("cd '{dir}' && sha256sum {name} > {name}.sha256");
    env.run("sh", ["-c", &script]).success();

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
    assert_failed_with(
        &report,
        &format!(
            "{name} from {server}/vault-ci/vault-ci/releases/download/v{VERSION}/{name} does not match the SHA-256 pinned in this packaging"
        ),
    );
    assert_eq!(report["steps"][1]["outcome"], "skipped");
    assert!(!log(&report).contains("pwned"));
    assert!(!env.path("tool-cache/vault-ci").join(VERSION).exists());
    assert_eq!(report["env"], serde_json::json!({}));
}

#[test]
fn a_planted_vault_ci_on_path_or_in_the_tool_cache_never_runs() {
    let mut env = Env::new();
    env.sts(moto());
    let server = publish_release(&env);
    github_runner(&mut env, &server);
    // A vault-ci that is not the release's, where the action looks first.
    let planted = b"#!/bin/sh\necho pwned >&2\ntouch \"$0.ran\"\n";
    let bin = env.path("planted-bin");
    let cached = env
        .path("tool-cache/vault-ci")
        .join(VERSION)
        .join(runner_arch());
    for dir in [&bin, &cached] {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join("vault-ci"), planted).unwrap();
        env.run("chmod", ["755", dir.join("vault-ci").to_str().unwrap()])
            .success();
    }
    env.set(
        "PATH",
        format!("{}:{}", bin.display(), path_without_vault_ci()),
    );

    let report = run_github_job(
        &env,
        &r#"
steps:
  - uses: vault-ci/vault-ci@v<VERSION>
    with:
      role-to-assume: <ROLE>
  - run: aws sts get-caller-identity --query Arn --output text
"#
        .replace("<VERSION>", VERSION)
        .replace("<ROLE>", &moto().role("gha-deploy")),
    );
    assert_succeeded(&report);
    let log = log(&report);
    assert!(!log.contains("pwned"), "{log}");
    assert!(!bin.join("vault-ci.ran").exists() && !cached.join("vault-ci.ran").exists());
    assert!(
        log.contains(&format!(
            "{}/vault-ci is not the release binary of vault-ci {VERSION}",
            bin.display()
        )),
        "{log}"
    );
    // The tool cache's was replaced by the verified download, and that is what ran.
    assert_eq!(
        std::fs::read(cached.join("vault-ci")).unwrap(),
        std::fs::read(env!("CARGO_BIN_EXE_vault-ci")).unwrap()
    );
    assert!(
        log.contains(&assumed_role("gha-deploy", "github-4242-2")),
        "{log}"
    );
}

/// `install.sh --verify-attestation`: a binary runs only after `gh attestation verify`
/// accepted its build provenance. GitHub's attestation service is not reachable here, so
/// `gh` is a stand-in that answers as told and records how it was asked.
#[test]
fn with_verify_attestation_a_binary_runs_only_after_gh_verifies_its_provenance() {
    let mut env = Env::new();
    let server = publish_release(&env);
    let install = released_packaging(&env).join("install.sh");
    let releases = format!("{server}/vault-ci/vault-ci/releases/download");
    let dir = env.path("bin");
    let args = [
        install.to_str().unwrap(),
        "--dir",
        dir.to_str().unwrap(),
        "--releases-url",
        &releases,
        "--verify-attestation",
    ];
    // No gh: refused before anything is downloaded.
    env.set("PATH", path_without_vault_ci());
    let out = env.run("sh", args);
    assert_eq!(out.code, Some(1), "{out}");
    out.stderr_has_line(
        "vault-ci install: VAULT_CI_INSTALL_VERIFY_ATTESTATION=true needs the GitHub CLI (gh) to \
         verify the release's attestation: install gh, or drop the setting",
    );
    assert!(!dir.exists());
    let gh_dir = env.path("gh-bin");
    std::fs::create_dir_all(&gh_dir).unwrap();
    env.set(
        "PATH",
        format!("{}:{}", gh_dir.display(), path_without_vault_ci()),
    );
    let calls = env.path("gh-calls");
    let gh = |status: i32| {
        let script = format!(
            "#!/bin/sh\nprintf '%s\\n' \"$*\" >>'{}'\nexit {status}\n",
            calls.display()
        );
        std::fs::write(gh_dir.join("gh"), script).unwrap();
        env.run("chmod", ["755", gh_dir.join("gh").to_str().unwrap()])
            .success();
    };
    // Provenance that does not verify: downloaded and checksummed, never run.
    gh(1);
    let out = env.run("sh", args);
    assert_eq!(out.code, Some(1), "{out}");
    out.stderr_has_line(&format!(
        "vault-ci install: {}/vault-ci matches its pinned SHA-256 but its build provenance does \
         not verify (gh attestation verify --repo vault-ci/vault-ci); not used",
        dir.display()
    ));
    assert_eq!(out.stdout, "", "{out}");
    assert!(!out.stderr.contains("Using vault-ci"), "{out}");
    // Provenance that verifies: the binary in DIR is checked again, and used.
    gh(0);
    env.run("sh", args)
        .success()
        .stdout_is(&format!("{}\n", dir.display()));
    let asked = format!(
        "attestation verify {}/vault-ci --repo vault-ci/vault-ci\n",
        dir.display()
    );
    assert_eq!(std::fs::read_to_string(&calls).unwrap(), asked.repeat(2));
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
        !cached.join("vault-ci").exists(),
        "a binary that does not run is left in the tool cache"
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
fn an_input_the_action_does_not_declare_is_a_warning_and_the_step_goes_on() {
    let env = runner_with_vault_ci_installed(moto());

    let report = run_github_job_as_written(
        &env,
        &r#"
steps:
  - uses: vault-ci/vault-ci@main
    with:
      role-to-assume: <ROLE>
      no-such-input: 1
      another-one: x
  - run: aws sts get-caller-identity --query Arn --output text
"#
        .replace("<ROLE>", &moto().role("gha-deploy")),
    );
    // GitHub's runner says so in these words, lists what the action declares, and runs it.
    assert_succeeded(&report);
    let action = yaml(&env, &repo().join("action.yml"));
    let declared: Vec<String> = action["inputs"]
        .as_object()
        .unwrap()
        .keys()
        .map(|k| format!("'{k}'"))
        .collect();
    let warning = format!(
        "Unexpected input(s) 'no-such-input', 'another-one', valid inputs are [{}]",
        declared.join(", ")
    );
    assert_eq!(warnings(&report).collect::<Vec<_>>(), [warning.as_str()]);
    assert!(log(&report).contains(&warning), "{}", log(&report));
    assert!(
        log(&report).contains(&assumed_role("gha-deploy", "github-4242-2")),
        "{}",
        log(&report)
    );
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
    let orb_src = released_packaging(env).join("orb/src");
    let packed = env.run(
        "python3",
        [&repo_file("scripts/pack-orb.py"), orb_src.to_str().unwrap()],
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
fn the_orb_refuses_a_release_binary_that_does_not_match_the_digest_it_pins() {
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
        log(&report).contains("does not match the SHA-256 pinned in this packaging"),
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
        if name == "refresh" {
            // The job-wide server: --serve, not the one command's --refresh.
            assert!(script.contains("PARAM_REFRESH") && script.contains("VAULT_CI_SERVE=true"));
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

/// CircleCI's own CLI in the job's image (a stand-in: tests/runners/circleci),
/// minting `token` on request.
fn circleci_cli(env: &mut Env, token: &str) {
    let bin = env.path("circleci-bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::os::unix::fs::symlink(repo().join("tests/runners/circleci"), bin.join("circleci"))
        .unwrap();
    let log = env.path("circleci-oidc.log");
    let path = format!("{}:{}", bin.display(), env_var(env, "PATH"));
    env.set("PATH", path)
        .set("STAND_IN_CIRCLECI_TOKEN", token)
        .set("STAND_IN_CIRCLECI_LOG", log.display().to_string());
}

fn env_var(env: &Env, name: &str) -> String {
    let out = env.run("sh", ["-c", &format!("printf %s \"${name}\"")]);
    out.stdout
}

/// The official AWS orbs' way: `aws … --profile NAME`, which reads the shared
/// files only (botocore ignores the environment's keys for a named profile).
fn as_aws_orbs_do(profile: &str) -> String {
    format!(
        "env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_SESSION_TOKEN \
         aws sts get-caller-identity --profile {profile} --query Arn --output text"
    )
}

#[test]
fn setup_is_aws_cli_setup_for_the_official_orbs_profile_and_later_steps() {
    let moto = moto();
    let mut env = Env::new();
    env.sts(moto).remove("AWS_REGION");
    circleci_job(&mut env);
    circleci_cli(&mut env, &circleci_token("main"));
    let bin = preinstalled(&env);
    env.set(
        "PATH",
        format!("{}:{}", bin.display(), env_var(&env, "PATH")),
    )
    .set("CIRCLE_JOB", "deploy app")
    .set("CIRCLE_OIDC_TOKEN_V2", circleci_token("main"))
    .set("CIRCLE_ORGANIZATION_ID", crate::providers::CIRCLE_ORG)
    .set("AWS_ROLE_ARN", moto.role("gha-deploy"))
    .set("AWS_DEFAULT_REGION", "eu-west-1");

    // An aws-cli/setup step as real configs write it, with `aws-cli` renamed.
    let report = run_circleci_job(
        &env,
        r#"
steps:
  - vault-ci/setup:
      role_arn: $AWS_ROLE_ARN
  - run: aws sts get-caller-identity --query Arn --output text
  - run: <AS_AWS_ORBS_DO>
  - run: aws configure get region --profile default
"#
        .replace("<AS_AWS_ORBS_DO>", &as_aws_orbs_do("default"))
        .as_str(),
    );
    assert_succeeded(&report);
    let log = log(&report);
    // The session is named after the job, as aws-cli/setup names it.
    let arn = assumed_role("gha-deploy", "deploy-app");
    assert_eq!(log.lines().filter(|l| *l == arn).count(), 2, "{log}");
    assert!(
        log.contains("AWS CLI is already installed, skipping installation."),
        "{log}"
    );
    assert!(log.contains("\neu-west-1"), "{log}");
    // The job's token was in the environment: nothing was minted.
    assert_eq!(env.read("circleci-oidc.log"), "");
    let vars = source_exports(&env, &env.path("bash_env"));
    assert_no_secret_in_log(
        &report,
        &[&vars["AWS_SECRET_ACCESS_KEY"], &vars["AWS_SESSION_TOKEN"]],
    );
    assert_eq!(vars["AWS_PAGER"], "");
}

#[test]
fn setup_without_the_jobs_token_mints_one_and_fills_a_named_profile_only() {
    let moto = moto();
    let mut env = Env::new();
    env.sts(moto);
    circleci_job(&mut env);
    circleci_cli(&mut env, &circleci_token("main"));
    let bin = preinstalled(&env);
    env.set(
        "PATH",
        format!("{}:{}", bin.display(), env_var(&env, "PATH")),
    )
    .set("CIRCLE_ORGANIZATION_ID", crate::providers::CIRCLE_ORG);
    let report = run_circleci_job(
        &env,
        &r#"
steps:
  - vault-ci/setup:
      role_arn: <ROLE>
      role_session_name: release
      profile_name: deploy
      region: us-east-1
      set_aws_env_vars: false
      configure_default_region: false
  - run: <AS_AWS_ORBS_DO>
"#
        .replace("<ROLE>", &moto.role("gha-deploy"))
        .replace("<AS_AWS_ORBS_DO>", &as_aws_orbs_do("deploy")),
    );
    assert_succeeded(&report);
    assert!(
        log(&report).contains(&assumed_role("gha-deploy", "release")),
        "{}",
        log(&report)
    );
    let minted = env.read("circleci-oidc.log");
    assert_eq!(
        minted.trim(),
        format!(r#"{{"aud": "{}"}}"#, crate::providers::CIRCLE_ORG)
    );
    assert!(
        !env.read("bash_env").contains("AWS_ACCESS_KEY_ID"),
        "set_aws_env_vars: false"
    );
    let config = env.read("home/aws-config");
    assert!(
        config.contains("[profile deploy]\nregion = us-east-1"),
        "{config}"
    );
    assert!(
        !config.contains("[default]"),
        "configure_default_region: false\n{config}"
    );
}

#[test]
fn setup_with_keys_stores_them_in_the_profile_as_they_are() {
    let moto = moto_auth();
    let mut env = Env::new();
    env.sts(moto).deploy_user(moto);
    circleci_job(&mut env);
    circleci_cli(&mut env, "");
    let bin = preinstalled(&env);
    env.set(
        "PATH",
        format!("{}:{}", bin.display(), env_var(&env, "PATH")),
    );
    let report = run_circleci_job(
        &env,
        &r#"
steps:
  - vault-ci/setup:
      region: us-east-1
  - run: <AS_AWS_ORBS_DO>
"#
        .replace("<AS_AWS_ORBS_DO>", &as_aws_orbs_do("default")),
    );
    assert_succeeded(&report);
    assert!(
        log(&report).contains(&moto.str("/deploy_user/arn")),
        "{}",
        log(&report)
    );
    let credentials = env.read("home/aws-credentials");
    assert!(
        credentials.contains(&moto.str("/deploy_user/access_key_id")),
        "{credentials}"
    );
}

#[test]
fn setup_installs_the_aws_cli_where_it_is_missing_as_aws_cli_setup_does() {
    // AWS's installer zip, as awscli.amazonaws.com serves it, from a stand-in curl.
    let moto = moto_auth();
    let mut env = Env::new();
    env.sts(moto).deploy_user(moto);
    circleci_job(&mut env);
    circleci_cli(&mut env, "");
    let downloads = env.path("downloads");
    std::fs::create_dir_all(downloads.join("aws")).unwrap();
    std::fs::write(
        downloads.join("aws/install"),
        "#!/bin/sh\n# AWS's installer: --update -i DIR -b BIN\n\
         while [ $# -gt 0 ]; do case $1 in -i) dir=$2; shift;; -b) bin=$2; shift;; esac; shift; done\n\
         mkdir -p \"$dir/v2/current/bin\" \"$bin\"\n\
         printf '#!/bin/sh\\necho aws-cli/2.99.0 Python/3.13 Linux/6 exe/x86_64\\n' > \"$dir/v2/current/bin/aws\"\n\
         chmod +x \"$dir/v2/current/bin/aws\"\nln -sf \"$dir/v2/current/bin/aws\" \"$bin/aws\"\n",
    )
    .unwrap();
    env.run(
        "chmod",
        ["755", downloads.join("aws/install").to_str().unwrap()],
    )
    .success();
    env.run("sh", ["-c", "cd downloads && zip -qr awscliv2.zip aws"])
        .success();
    let fake = env.path("fake-bin");
    std::fs::create_dir_all(&fake).unwrap();
    std::fs::write(
        fake.join("curl"),
        format!(
            "#!/bin/sh\n# Records the URL, serves the zip to -o.\n\
             while [ $# -gt 0 ]; do case $1 in -o) out=$2; shift;; http*) echo \"$1\" >> '{log}';; esac; shift; done\n\
             cp '{zip}' \"$out\"\n",
            log = env.path("curl.log").display(),
            zip = downloads.join("awscliv2.zip").display()
        ),
    )
    .unwrap();
    env.run("chmod", ["755", fake.join("curl").to_str().unwrap()])
        .success();
    // A PATH with vault-ci, the stand-ins, the system tools, and no aws.
    let bin = preinstalled(&env);
    let system: Vec<String> = std::env::split_paths(&env_var(&env, "PATH"))
        .filter(|dir| !dir.join("aws").exists())
        .map(|dir| dir.display().to_string())
        .collect();
    env.set(
        "PATH",
        format!("{}:{}:{}", bin.display(), fake.display(), system.join(":")),
    );
    let report = run_circleci_job(
        &env,
        &r#"
steps:
  - vault-ci/setup:
      version: 2.99.0
      install_dir: <TOOLS>/aws-cli
      binary_dir: <TOOLS>/bin
      disable_aws_pager: false
"#
        .replace("<TOOLS>", &env.path("tools").display().to_string()),
    );
    assert_succeeded(&report);
    assert_eq!(
        report["steps"][1]["name"],
        "Install AWS CLI - 2.99.0",
        "{}",
        pretty(&report)
    );
    assert_eq!(
        report["steps"][1]["outcome"],
        "success",
        "{}",
        pretty(&report)
    );
    let urls = env.read("curl.log");
    assert_eq!(
        urls.trim(),
        format!(
            "https://awscli.amazonaws.com/awscli-exe-linux-{}-2.99.0.zip",
            std::env::consts::ARCH
        )
    );
    assert!(log(&report).contains("aws-cli/2.99.0"), "{}", log(&report));
    assert!(env.path("tools/bin/aws").exists());
    assert!(
        !env.read("bash_env").contains("AWS_PAGER"),
        "disable_aws_pager: false"
    );
}

#[test]
fn setup_takes_exactly_aws_cli_setups_parameters_and_defaults() {
    // circleci/aws-cli 5.4.1's setup, as its orb source declares it.
    let expected = [
        ("version", "string", "latest"),
        ("override_installed", "boolean", "false"),
        ("disable_aws_pager", "boolean", "true"),
        ("install_dir", "string", "/usr/local/aws-cli"),
        ("binary_dir", "string", "/usr/local/bin"),
        ("profile_name", "string", "default"),
        ("aws_access_key_id", "string", "$AWS_ACCESS_KEY_ID"),
        ("aws_secret_access_key", "string", "$AWS_SECRET_ACCESS_KEY"),
        ("region", "string", "${AWS_DEFAULT_REGION}"),
        ("configure_default_region", "boolean", "true"),
        ("configure_profile_region", "boolean", "true"),
        ("role_arn", "string", ""),
        ("role_session_name", "string", "${CIRCLE_JOB}"),
        ("session_duration", "string", "3600"),
        ("set_aws_env_vars", "boolean", "true"),
        ("use_brew", "boolean", "false"),
        ("disable_aws_install", "boolean", "false"),
        ("when", "enum", "on_success"),
    ];
    let env = Env::new();
    let setup = yaml(&env, &repo().join("orb/src/commands/setup.yml"));
    let declared = setup["parameters"].as_object().unwrap();
    assert_eq!(declared.len(), expected.len(), "{declared:?}");
    for (name, kind, default) in expected {
        let spec = &declared[name];
        assert_eq!(spec["type"], kind, "{name}");
        let shown = match &spec["default"] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        assert_eq!(shown, default, "{name}");
    }
}

#[test]
fn the_orbs_refresh_serves_later_steps_a_renewing_endpoint_instead_of_keys() {
    let moto = moto();
    let mut env = Env::new();
    env.sts(moto);
    circleci_job(&mut env);
    let bin = preinstalled(&env);
    env.set(
        "PATH",
        format!("{}:{}", bin.display(), path_without_vault_ci()),
    )
    .set("CIRCLE_OIDC_TOKEN_V2", circleci_token("main"))
    .set("VAULT_CI_REFRESH_WINDOW", "895")
    .set("VAULT_CI_SERVE_MAX", "120");
    let report = run_circleci_job(
        &env,
        &r#"
steps:
  - vault-ci/assume-role:
      role_arn: <ROLE>
      refresh: true
  - run: test -z "$AWS_ACCESS_KEY_ID" && aws sts get-caller-identity --query Arn --output text
  - run: sleep 6
  - run: python3 -c "import boto3; print(boto3.client('sts').get_caller_identity()['Arn'])"
  - run: vault-ci stop
"#
        .replace("<ROLE>", &moto.role("gha-deploy")),
    );
    assert_succeeded(&report);
    let log = log(&report);
    let arn = assumed_role("gha-deploy", "circleci-app-77");
    assert_eq!(log.lines().filter(|l| *l == arn).count(), 2, "{log}");
    let vars = source_exports(&env, &env.path("bash_env"));
    assert!(vars["AWS_CONTAINER_CREDENTIALS_FULL_URI"].starts_with("http://127.0.0.1:"));
    let script = format!(
        ". '{}' && printf %s \"$VAULT_CI_SERVE_LOG\"",
        env.path("bash_env").display()
    );
    let served_log = env.run("sh", ["-c", &script]).stdout;
    let served = std::fs::read_to_string(&served_log).unwrap();
    assert!(
        served.contains("refreshed the credentials served"),
        "{served}"
    );
    let stopped = (0..50).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(100));
        std::fs::read_to_string(&served_log)
            .unwrap()
            .contains("the credentials server stops: vault-ci stop")
    });
    assert!(stopped, "{served}");
}

#[test]
fn the_orbs_version_is_a_version_and_never_runs_in_later_steps() {
    let mut env = Env::new();
    circleci_job(&mut env);
    let bin = preinstalled(&env);
    env.set(
        "PATH",
        format!("{}:{}", bin.display(), path_without_vault_ci()),
    );
    // It passed the old prefix check, and $BASH_ENV ran it in every later step.
    let report = run_circleci_job(
        &env,
        r#"
steps:
  - vault-ci/install:
      version: 0.1.0$(touch pwned)
  - run: "true"
"#,
    );
    assert_eq!(report["result"], "failure", "{}", pretty(&report));
    assert!(
        log(&report)
            .contains("vault-ci: version '0.1.0$(touch pwned)' is not a version such as 1.2.3"),
        "{}",
        log(&report)
    );
    assert_eq!(env.read("bash_env"), "");
    assert!(!env.path("pwned").exists());

    // A directory with a quote, a space or a `$` in it is written to $BASH_ENV quoted.
    let mut env = Env::new();
    circleci_job(&mut env);
    let odd = env.path("it's a $HOME");
    std::fs::create_dir_all(&odd).unwrap();
    env.set("HOME", odd.display().to_string());
    let report = run_circleci_job(
        &env,
        &r#"
steps:
  - vault-ci/install:
      releases_url: <SERVER>/vault-ci/vault-ci/releases/download
  - run: command -v vault-ci
"#
        .replace("<SERVER>", &publish_release(&env)),
    );
    assert_succeeded(&report);
    let installed = odd.join(format!(".vault-ci/{VERSION}/bin/vault-ci"));
    assert!(
        log(&report)
            .lines()
            .any(|l| l == installed.display().to_string()),
        "{}",
        log(&report)
    );
}
