//! The stories every shipped platform must keep, run against the vault-ci under test:
//! this build, or a cross-built Windows binary under wine or Linux-arm64 one under qemu
//! (`VAULT_CI_TEST_BINARY`, `VAULT_CI_TEST_LAUNCHER`: scripts/test-platforms.sh).
//!
//! The command after `--` is the target's own: `sh` on Unix; on Windows `cmd` and `.cmd`
//! scripts, because a Windows program under wine can start a Linux one but gets no handle
//! to wait on or read its exit code from. What the command sees it writes to a file,
//! which is checked here, on Linux, with the real aws CLI.
//!
//! scripts/test-platforms.sh lists the tests that fail on Windows for a known bug of
//! vault-ci's, with the reason; the rest pass everywhere.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::harness::*;

fn windows() -> bool {
    binary().windows
}

/// A path as the binary under test names it: wine shows Linux's `/` as drive `Z:`.
fn native(path: &Path) -> String {
    let path = path.display().to_string();
    if windows() && !cfg!(windows) {
        format!("Z:{}", path.replace('/', "\\"))
    } else {
        path
    }
}

/// Writes a script for the command after `--` (`sh` on Unix, a `.cmd` run by `cmd /c` on
/// Windows) and returns its command line.
fn script(env: &Env, name: &str, unix: &str, windows_cmd: &str) -> Vec<String> {
    if windows() {
        let text = format!("@echo off\n{windows_cmd}\n").replace('\n', "\r\n");
        let path = env.write(&format!("{name}.cmd"), &text);
        vec!["cmd".into(), "/c".into(), native(&path)]
    } else {
        let path = env.write(name, unix);
        vec!["sh".into(), path.display().to_string()]
    }
}

/// A script that runs `unix_first` (Unix), writes its AWS_ variables to `env.txt`
/// (atomically) and then waits, at most a minute, until the test creates `done`; it then
/// exits 3.
fn waiting_child(env: &Env, unix_first: &str) -> Vec<String> {
    script(
        env,
        "child",
        &format!(
            "{unix_first}\n\
             env | grep '^AWS_' > env.tmp; mv env.tmp env.txt\n\
             i=0\n\
             while [ ! -e done ]; do i=$((i + 1)); [ $i -lt 600 ] || exit 99; sleep 0.1; done\n\
             exit 3\n"
        ),
        // `>file set X` and not `set X >file`: wine's cmd keeps the blank before `>`.
        ">env.tmp set AWS_\n\
         ren env.tmp env.txt\n\
         set n=0\n\
         :wait\n\
         if exist done exit /b 3\n\
         set /a n+=1\n\
         if %n% geq 60 exit /b 99\n\
         ping -n 2 127.0.0.1 >nul\n\
         goto wait",
    )
}

/// The three variables that hold a session's keys, as `json` names them.
const KEYS: [(&str, &str); 3] = [
    ("AWS_ACCESS_KEY_ID", "AccessKeyId"),
    ("AWS_SECRET_ACCESS_KEY", "SecretAccessKey"),
    ("AWS_SESSION_TOKEN", "SessionToken"),
];

/// The `NAME=value` lines of the waiting child's `env.txt`, once it is there.
fn child_env(env: &Env) -> BTreeMap<String, String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !env.path("env.txt").exists() {
        assert!(Instant::now() < deadline, "the command never started");
        std::thread::sleep(Duration::from_millis(50));
    }
    env.read("env.txt")
        .lines()
        .filter_map(|l| l.trim_end_matches('\r').split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A web-identity exchange against moto (a token file: no CI needed), then `rest`.
fn token_args(env: &Env, rest: &[&str]) -> Vec<String> {
    let token = env.write("token.jwt", &mint_token(&[]));
    let mut args: Vec<String> = [
        "assume",
        "--token-file",
        &native(&token),
        "--role-arn",
        &moto().role("gha-deploy"),
        "--session-name",
        "platform",
    ]
    .map(String::from)
    .to_vec();
    args.extend(rest.iter().map(|a| a.to_string()));
    args
}

fn token_env() -> Env {
    let mut env = Env::new();
    env.sts(moto());
    env
}

#[test]
fn it_runs_and_reports_its_version() {
    let out = Env::new().vault_ci(["--version"]);
    out.success();
    assert_eq!(
        out.stdout.trim(),
        format!("vault-ci {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn the_deploy_user_chains_into_deploy_then_cfn() {
    let moto = moto_auth();
    let mut env = Env::new();
    env.sts(moto)
        .deploy_user(moto)
        .set("VAULT_CI_ROLE_DEPLOY", moto.role("deploy"))
        .set("VAULT_CI_ROLE_CFN", moto.role("cfn"));
    let out = env.vault_ci([
        "assume",
        "--chain",
        "deploy,cfn",
        "--session-name",
        "release-42",
        "--format",
        "json",
    ]);
    let creds = out.json();
    assert_eq!(creds["RoleArn"], assumed_role("cfn", "release-42"), "{out}");
    let keys = KEYS
        .iter()
        .map(|(var, field)| (var.to_string(), creds[*field].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(env.caller_arn(&keys), assumed_role("cfn", "release-42"));
}

#[test]
fn an_env_file_is_written_for_the_next_step() {
    let env = token_env();
    let file = env.path("aws-env.sh");
    env.vault_ci(token_args(&env, &["--env-file", &native(&file)]))
        .success();
    let vars = source_exports(&env, &file);
    assert!(vars.contains_key("AWS_CREDENTIAL_EXPIRATION"), "{vars:?}");
    assert_eq!(
        env.caller_arn(&vars),
        assumed_role("gha-deploy", "platform")
    );
}

/// On Windows the file gets a protected DACL with one entry, for the user. wine keeps
/// the DACL as the file's Linux mode, and maps an entry for any SID of the user's token
/// onto the group bits too (server/file.c, sd_to_mode): there the check is that nobody
/// else (the "other" bits, which only an Everyone entry sets) can read it, and that it
/// is not executable. A file with its directory's inherited ACL is 0644 under wine.
#[cfg(unix)]
#[test]
fn the_env_file_is_readable_only_by_its_owner() {
    use std::os::unix::fs::PermissionsExt;
    let env = token_env();
    let file = env.path("aws-env.sh");
    env.vault_ci(token_args(&env, &["--env-file", &native(&file)]))
        .success();
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    if windows() {
        assert_eq!(mode & 0o117, 0, "the env file is {mode:o}");
        assert_eq!(mode & 0o600, 0o600, "the env file is {mode:o}");
    } else {
        assert_eq!(mode, 0o600, "the env file is {mode:o}");
    }
}

#[test]
fn the_command_gets_the_credentials_and_no_stale_ones() {
    let mut env = token_env();
    env.set("AWS_PROFILE", "someone-elses")
        .set("AWS_SESSION_TOKEN", "stale-token");
    let mut args = token_args(&env, &["--"]);
    args.extend(script(
        &env,
        "dump",
        "env | grep '^AWS_' > env.txt\n",
        ">env.txt set AWS_",
    ));
    env.vault_ci(args).success();
    let vars = child_env(&env);
    assert!(!vars.contains_key("AWS_PROFILE"), "{vars:?}");
    assert_ne!(vars["AWS_SESSION_TOKEN"], "stale-token");
    assert!(vars["AWS_ACCESS_KEY_ID"].starts_with("ASIA"), "{vars:?}");
    assert!(vars.contains_key("AWS_CREDENTIAL_EXPIRATION"), "{vars:?}");
    let keys = KEYS
        .iter()
        .map(|(var, _)| (var.to_string(), vars[*var].clone()))
        .collect();
    env.remove("AWS_PROFILE");
    assert_eq!(
        env.caller_arn(&keys),
        assumed_role("gha-deploy", "platform")
    );
}

#[test]
fn the_commands_exit_status_is_vault_cis() {
    let env = token_env();
    let mut args = token_args(&env, &["--"]);
    args.extend(script(&env, "seven", "exit 7\n", "exit /b 7"));
    assert_eq!(env.vault_ci(args).code, Some(7));
}

/// A crash must fail the job. A Windows process that crashes exits with its exception
/// code, e.g. 0xC0000005 (access violation), which is what the `.cmd` exits with.
/// Windows: a known failure while vault-ci clamps the code into 0..=255, which makes
/// that 0 (wine hands Linux the low byte of a Windows exit code).
#[test]
fn a_crashing_command_fails_the_job() {
    let env = token_env();
    let mut args = token_args(&env, &["--"]);
    args.extend(script(
        &env,
        "crash",
        "kill -SEGV $$\n",
        "exit /b -1073741819",
    ));
    let out = env.vault_ci(args);
    assert_ne!(out.code, Some(0), "a crashed command passed:\n{out}");
}

#[test]
fn a_missing_command_is_named() {
    let env = token_env();
    let out = env.vault_ci(token_args(&env, &["--", "no-such-tool-xyz"]));
    out.fails(
        127,
        "vault-ci: cannot run `no-such-tool-xyz`: command not found; is it installed and on PATH?",
    );
}

/// `-- deploy` runs `deploy.cmd` on Windows, as a shell would, through PATHEXT; npm and
/// pip install their tools as such shims. Windows: a known failure while vault-ci looks
/// for `deploy.exe` only.
#[test]
fn a_command_on_path_is_found_by_its_pathext_extension() {
    let mut env = token_env();
    let bin = env.path("bin");
    std::fs::create_dir(&bin).unwrap();
    if windows() {
        std::fs::write(bin.join("deploy.cmd"), "@echo off\r\nexit /b 9\r\n").unwrap();
    } else {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let shim = bin.join("deploy");
            std::fs::write(&shim, "#!/bin/sh\nexit 9\n").unwrap();
            std::fs::set_permissions(&shim, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
    }
    let separator = if windows() { ';' } else { ':' };
    let path = format!(
        "{}{separator}{}",
        native(&bin),
        std::env::var("PATH").unwrap_or_default()
    );
    // Wine gives Windows programs its own PATH, with WINEPATH in front.
    env.set("PATH", path).set("WINEPATH", native(&bin));
    let out = env.vault_ci(token_args(&env, &["--", "deploy"]));
    assert_eq!(out.code, Some(9), "{out}");
}

#[test]
fn refresh_serves_the_command_its_credentials_from_an_endpoint() {
    let env = token_env();
    let mut args = token_args(&env, &["--refresh", "--"]);
    args.extend(waiting_child(&env, ""));
    let child = env
        .vault_ci_command(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let _release = Release(&env);
    let vars = child_env(&env);
    for (key, _) in KEYS {
        assert!(
            !vars.contains_key(key),
            "{key} reached the command: {vars:?}"
        );
    }
    let uri = &vars["AWS_CONTAINER_CREDENTIALS_FULL_URI"];
    assert!(uri.starts_with("http://127.0.0.1:"), "{uri}");
    // The aws CLI, here on Linux, reads the credentials from the endpoint.
    let endpoint = container_endpoint(&vars);
    assert_eq!(
        env.caller_arn(&endpoint),
        assumed_role("gha-deploy", "platform")
    );
    std::fs::write(env.path("done"), "").unwrap();
    let out: Outcome = child.wait_with_output().into();
    assert_eq!(out.code, Some(3), "the command's exit status:\n{out}");
}

/// `--serve` (the action's `refresh: true`): the step's vault-ci ends at once, leaving a
/// server behind that outlives it; the env file holds its address and token and no key;
/// a consumer (the aws CLI, here on Linux) gets the role's credentials from it; `vault-ci
/// stop` with the file's variables ends it, and its port closes.
#[test]
fn serve_leaves_a_server_for_later_steps_until_stopped() {
    let mut env = token_env();
    let temp = env.path("runner-temp");
    std::fs::create_dir_all(&temp).unwrap();
    env.set("RUNNER_TEMP", native(&temp))
        // A failed test must not leave a server behind for long.
        .set("VAULT_CI_SERVE_MAX", "60");
    let file = env.path("aws.env");
    // The step's stderr is a file: wine keeps each process's Unix stderr for its own
    // messages, the server's included, whatever its Windows handles say.
    let err = std::fs::File::create(env.path("step.err")).unwrap();
    let mut step = env
        .vault_ci_command(token_args(&env, &["--serve", "--env-file", &native(&file)]))
        .stdout(Stdio::piped())
        .stderr(err)
        .spawn()
        .unwrap();
    // A runner reads a step's output to its end: the server must not hold it open.
    let mut stdout = step.stdout.take().unwrap();
    let (ended, ending) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        let _ = ended.send(text);
    });
    let status = step.wait().unwrap();
    let output_ended = ending.recv_timeout(Duration::from_secs(20));
    let log = env.read("step.err");
    assert!(status.success(), "{status:?}\n{log}");
    assert!(
        output_ended.is_ok(),
        "the step's output did not end: the server holds it\n{log}"
    );
    let vars = source_exports(&env, &file);
    for (key, _) in KEYS {
        assert_eq!(
            vars.get(key).map(String::as_str),
            Some(""),
            "{key}: {vars:?}"
        );
    }
    let uri = &vars["AWS_CONTAINER_CREDENTIALS_FULL_URI"];
    let port: u16 = uri
        .strip_prefix("http://127.0.0.1:")
        .and_then(|rest| rest.split('/').next())
        .and_then(|port| port.parse().ok())
        .unwrap_or_else(|| panic!("{uri}"));
    let endpoint = container_endpoint(&vars);
    assert_eq!(
        env.caller_arn(&endpoint),
        assumed_role("gha-deploy", "platform")
    );
    let stopped: Outcome = env
        .vault_ci_command(["stop"])
        .envs(&endpoint)
        .output()
        .into();
    stopped.success();
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
        assert!(
            Instant::now() < deadline,
            "the server still listens after vault-ci stop"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The `AWS_CONTAINER_*` variables of `vars`: what a consumer needs to reach the endpoint.
fn container_endpoint(vars: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    vars.iter()
        .filter(|(k, _)| k.starts_with("AWS_CONTAINER_"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Creates `done` when dropped, so that a waiting child never outlives a failed test
/// by more than a second or so.
struct Release<'a>(&'a Env);

impl Drop for Release<'_> {
    fn drop(&mut self) {
        let _ = std::fs::write(self.0.path("done"), "");
    }
}

/// Ctrl-C while a command runs under `-- …`, with or without `--refresh`: vault-ci exits
/// non-zero and the command stops with it; none is left running. Unix: a CI runner's
/// SIGINT goes to vault-ci alone, which must pass it on; the command's trap exits 42, which
/// becomes vault-ci's status (a command that ignores Ctrl-C would finish its loop and exit 3).
/// Windows: a console sends Ctrl-C to every process attached to it, the command included,
/// and vault-ci must outlive it to pass the command's status on. wine turns a SIGINT into a
/// Ctrl-C for the process that got it, so the test sends SIGINT to the process group that
/// vault-ci and the command share, as the console would. (The command then stops, but wine
/// ends a process stopped by Ctrl-C with status 0 where Windows gives 0xC000013A, so the
/// status check stays a known failure under wine: scripts/test-platforms.sh.)
fn ctrl_c_stops_the_command_and_fails(extra: &[&str]) {
    let env = token_env();
    let mut rest = extra.to_vec();
    rest.push("--");
    let mut args = token_args(&env, &rest);
    args.extend(waiting_child(&env, "trap 'exit 42' INT"));
    // The command shares vault-ci's stdout: its end means that no process holds it.
    let mut command = env.vault_ci_command(&args);
    // Its own process group, so that Windows' broadcast reaches no test process.
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let release = Release(&env);
    let mut stdout = child.stdout.take().unwrap();
    let (closed, closing) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = stdout.read_to_end(&mut Vec::new());
        let _ = closed.send(());
    });
    child_env(&env);
    let sent = std::process::Command::new("kill")
        .args(["-INT", "--", &ctrl_c_target(child.id())])
        .status()
        .unwrap();
    assert!(sent.success());
    let stopped = closing.recv_timeout(Duration::from_secs(15)).is_ok();
    drop(release);
    let code = child.wait().unwrap().code();
    assert!(
        stopped,
        "the command still ran 15 s after Ctrl-C (vault-ci exited {code:?})"
    );
    assert_ne!(code, Some(0), "Ctrl-C ended the job with success");
    if !windows() {
        assert_eq!(code, Some(42), "the command's status after its trap");
    }
}

/// Windows: a Ctrl-C that reaches vault-ci (every process of the console gets one) does
/// not end it while the command runs: it waits and passes the command's own status on.
/// Here the Ctrl-C goes to vault-ci alone (wine's SIGINT), so the command runs on, and
/// vault-ci must still be there when it ends with 3; a vault-ci without its console
/// handler exits 0 at once and leaves the command orphaned. (Unix has no such case: a
/// SIGINT to vault-ci is passed on, `ctrl_c_stops_the_command_and_fails`.)
fn ctrl_c_to_vault_ci_waits_for_the_command_on_windows(extra: &[&str]) {
    if !windows() {
        return;
    }
    let env = token_env();
    let mut rest = extra.to_vec();
    rest.push("--");
    let mut args = token_args(&env, &rest);
    args.extend(waiting_child(&env, ""));
    let mut child = env
        .vault_ci_command(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let release = Release(&env);
    child_env(&env);
    let sent = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    std::thread::sleep(Duration::from_secs(2));
    let early = child.try_wait().unwrap();
    drop(release);
    let code = child.wait().unwrap().code();
    assert_eq!(
        early, None,
        "vault-ci ended on Ctrl-C while the command still ran"
    );
    assert_eq!(code, Some(3), "vault-ci's status is not the command's");
}

#[test]
fn ctrl_c_to_vault_ci_waits_for_the_command_on_windows_and_passes_its_status() {
    ctrl_c_to_vault_ci_waits_for_the_command_on_windows(&[]);
}

#[test]
fn ctrl_c_to_vault_ci_waits_for_the_refreshed_command_on_windows() {
    ctrl_c_to_vault_ci_waits_for_the_command_on_windows(&["--refresh"]);
}

/// What `kill -INT` gets: vault-ci's pid on Unix, its process group (`-pid`) on Windows.
fn ctrl_c_target(pid: u32) -> String {
    if windows() {
        format!("-{pid}")
    } else {
        pid.to_string()
    }
}

#[test]
fn ctrl_c_stops_the_command_and_fails_the_job() {
    ctrl_c_stops_the_command_and_fails(&[]);
}

#[test]
fn ctrl_c_stops_the_refreshed_command_and_fails_the_job() {
    ctrl_c_stops_the_command_and_fails(&["--refresh"]);
}
