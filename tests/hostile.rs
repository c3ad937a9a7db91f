//! Issue 13: hostile peers and hostile surroundings. An STS or token endpoint
//! that lies or never stops talking, files that are not what they seem, a
//! signal mid-write, text from outside that tries to become a workflow command,
//! a flood of connections to the `--refresh` endpoint, a process that wants the
//! command's environment or vault-ci's memory. Each test checks what the user
//! sees: the exit code, the one error line, the files and their modes, what a
//! consumer gets.
//!
//! Already covered elsewhere, and not repeated here: a CA bundle that is not PEM
//! (network.rs), a proxy URL that is no URL or not http (leaks.rs), an STS reply
//! that is not STS XML (faults.rs), the env file's 0600 and atomic replacement
//! under the default umask (sinks.rs).

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::harness::*;

const ROLE: &str = "arn:aws:iam::123456789012:role/gha-deploy";
const BIN: &str = env!("CARGO_BIN_EXE_vault-ci");

/// What an STS error message could try in order to become a command of the
/// runner, which reads both stdout and stderr line by line.
const INJECTION: &str = "Not authorized\n::set-env name=INJECTED::1\r::add-mask::x\n::error::fake";
/// The same, as vault-ci shows it: on one line, the line breaks spelt out.
const INJECTION_SHOWN: &str =
    r"Not authorized\n::set-env name=INJECTED::1\r::add-mask::x\n::error::fake";

// ---------------------------------------------------------------------------
// Running vault-ci where the harness's `output()` is not enough
// ---------------------------------------------------------------------------

/// A started process whose stdout (unless given elsewhere) and stderr are read
/// as it runs.
struct Running {
    child: std::process::Child,
    pid: libc::pid_t,
    stdout: Option<JoinHandle<Vec<u8>>>,
    stderr: JoinHandle<Vec<u8>>,
}

/// How a process ended and what it printed.
struct Ended {
    out: Outcome,
    signal: Option<i32>,
}

fn reader(mut from: impl Read + Send + 'static) -> JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut all = Vec::new();
        let _ = from.read_to_end(&mut all);
        all
    })
}

impl Running {
    /// Starts `command`; its stdout is captured unless `stdout` is given.
    fn start(mut command: Command, stdout: Option<Stdio>) -> Running {
        let capture = stdout.is_none();
        command
            .stdout(stdout.unwrap_or_else(Stdio::piped))
            .stderr(Stdio::piped());
        let mut child = command.spawn().unwrap();
        Running {
            pid: child.id() as libc::pid_t,
            stdout: capture.then(|| reader(child.stdout.take().unwrap())),
            stderr: reader(child.stderr.take().unwrap()),
            child,
        }
    }

    fn signal(&self, signal: i32) {
        // SAFETY: kill(2) on the pid of a child this test started and has not reaped.
        assert_eq!(unsafe { libc::kill(self.pid, signal) }, 0);
    }

    /// Waits for the end, which must come within `limit`: a process still
    /// running then is a hang the user would see as a job that never ends.
    #[track_caller]
    fn wait_within(mut self, limit: Duration) -> Ended {
        use std::os::unix::process::ExitStatusExt;
        let deadline = Instant::now() + limit;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                let stderr = String::from_utf8_lossy(&self.stderr.join().unwrap()).into_owned();
                panic!("still running after {limit:?}: it hangs\n--- stderr\n{stderr}");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let text = |bytes: Vec<u8>| String::from_utf8_lossy(&bytes).into_owned();
        Ended {
            out: Outcome {
                code: status.code(),
                stdout: self
                    .stdout
                    .map(|t| text(t.join().unwrap()))
                    .unwrap_or_default(),
                stderr: text(self.stderr.join().unwrap()),
            },
            signal: status.signal(),
        }
    }
}

/// Runs a program and writes the most memory it ever held (its peak RSS, in
/// KiB) to a file. A process started by this test binary would count the
/// binary's own memory too: the kernel keeps the high-water mark across exec,
/// from the moment of the fork (or vfork) on. Python forks from a small process.
const PEAK_RSS: &str = r#"
import os, sys
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[2], sys.argv[2:])
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as f:
    f.write(str(usage.ru_maxrss))
sys.exit(os.waitstatus_to_exitcode(status) % 256)
"#;

/// Waits for `what` to become true, for a generous while; the thing waited
/// for is a state of another process, not a duration.
#[track_caller]
fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "never happened: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn alive(pid: libc::pid_t) -> bool {
    // Gone, or a zombie nobody has reaped yet (its parent died too).
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

fn mkfifo(path: &Path) {
    let c_path = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo with a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
}

/// A pipe's write end (or a FIFO's) made as small as a pipe can be and full,
/// so that the next write to it waits for a reader to read.
fn fill(file: &std::fs::File) {
    let fd = file.as_raw_fd();
    // SAFETY: fcntl on a descriptor `file` owns.
    unsafe {
        libc::fcntl(fd, libc::F_SETPIPE_SZ, 4096);
        let flags = libc::fcntl(fd, libc::F_GETFL);
        libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK);
    }
    let chunk = [b'#'; 512];
    let mut file = file;
    while file.write(&chunk).is_ok() {}
    // The same open file description is what a child inherits: blocking again.
    // SAFETY: as above.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK);
    }
}

/// The names in a directory, sorted.
fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

// ---------------------------------------------------------------------------
// What the runner reads
// ---------------------------------------------------------------------------

/// Every line of stdout and stderr that the runner would take for a workflow
/// command: it starts with `::`, lines broken at `\n` and at `\r`.
fn workflow_commands(out: &Outcome) -> Vec<String> {
    out.stdout
        .split(['\n', '\r'])
        .chain(out.stderr.split(['\n', '\r']))
        .filter(|line| line.starts_with("::"))
        .map(str::to_string)
        .collect()
}

/// The only workflow commands are vault-ci's own: masks and one annotation.
#[track_caller]
fn only_own_commands(out: &Outcome) {
    for command in workflow_commands(out) {
        assert!(
            command.starts_with("::add-mask::") || command.starts_with("::error title=vault-ci"),
            "a workflow command that is not vault-ci's: {command:?}\n{out}"
        );
    }
}

/// Nothing reached a destination: $GITHUB_ENV and $GITHUB_OUTPUT are as empty
/// as the runner made them, no env file exists, and no foreign command was
/// printed.
#[track_caller]
fn nothing_delivered(env: &Env, out: &Outcome) {
    env.file_is("github_env", "");
    env.file_is("github_output", "");
    assert!(
        !env.path("aws.env").exists(),
        "an env file was written:\n{out}"
    );
    only_own_commands(out);
}

/// A GitHub Actions step (token endpoint: the shared peer) whose STS is `sts`.
fn github_job(sts: &Peer) -> Env {
    let mut env = Env::new();
    env.github_actions()
        .set("AWS_ENDPOINT_URL", sts.endpoint())
        .set("AWS_REGION", "us-east-1");
    env
}

/// `assume` into $GITHUB_ENV and an env file, as session `session`.
fn assume_into_files(session: &str) -> Vec<String> {
    [
        "assume",
        "--role-arn",
        ROLE,
        "--session-name",
        session,
        "--github-env",
        "--env-file",
        "aws.env",
    ]
    .map(String::from)
    .to_vec()
}

fn requests_for(sts: &Peer, session: &str) -> usize {
    sts.log().iter().filter(|e| e["session"] == session).count()
}

// ---------------------------------------------------------------------------
// 1. STS's hostile twins
// ---------------------------------------------------------------------------

#[test]
fn an_endless_sts_answer_is_refused_at_the_cap_without_being_held_in_memory() {
    let sts = start_peer(&["lying-sts"]);
    let env = github_job(&sts);
    let peak = env.path("peak-rss");
    let mut args = vec![
        "-c".to_string(),
        PEAK_RSS.into(),
        peak.display().to_string(),
        BIN.into(),
    ];
    args.extend(assume_into_files("lie-huge"));
    let ended =
        Running::start(env.command("python3", args), None).wait_within(Duration::from_secs(120));
    ended.out.fails(
        1,
        &format!(
            "vault-ci: STS at {} answered AssumeRoleWithWebIdentity on {ROLE} with more than 1048576 \
             bytes, where STS's answers are a few kilobytes: is it really STS? check --sts-endpoint / \
             AWS_ENDPOINT_URL_STS",
            sts.endpoint()
        ),
    );
    nothing_delivered(&env, &ended.out);
    assert_eq!(requests_for(&sts, "lie-huge"), 1, "it was retried");
    // vault-ci needs about 20 MiB; reading the 64 MiB answer would take 64 MiB more.
    let peak_kib: u64 = std::fs::read_to_string(&peak).unwrap().parse().unwrap();
    assert!(
        peak_kib < 48 * 1024,
        "vault-ci held {peak_kib} KiB at its peak"
    );
}

#[test]
fn sts_answers_no_sts_gives_are_refused_and_nothing_is_delivered() {
    let sts = start_peer(&["lying-sts"]);
    // What each lie is called on the error line, as a pattern: the expired
    // credentials' time is the lying STS's clock.
    let answered = regex_lite::escape(&format!(
        "vault-ci: STS at {} answered for {ROLE} ",
        sts.endpoint()
    ));
    for (lie, says) in [
        ("empty-secret", "with an empty SecretAccessKey"),
        (
            "expired",
            r"with credentials that expired at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ",
        ),
        (
            "beyond-max",
            "with credentials that outlive the 12 hours STS ever grants",
        ),
        // Cut off in the session token: the SDK's parser takes what it got.
        ("truncated", r"with no Expiration \(an answer cut short\?\)"),
        (
            "bad-arn",
            "with the assumed-role ARN `arn:aws:iam::123456789012:role/not-a-session`, which is not one",
        ),
    ] {
        let env = github_job(&sts);
        let session = format!("lie-{lie}");
        let out = env.vault_ci(assume_into_files(&session));
        out.fails_matching(1, &format!(r"{answered}{says}; is it really STS\?"));
        nothing_delivered(&env, &out);
        assert_eq!(requests_for(&sts, &session), 1, "{lie} was retried");
    }
}

// ---------------------------------------------------------------------------
// 2. The GitHub token endpoint
// ---------------------------------------------------------------------------

#[test]
fn an_endless_token_endpoint_reply_is_refused_at_the_cap() {
    let github = github_endpoint(&["--huge", &(64u64 << 20).to_string()]);
    let mut env = Env::new();
    env.sts(moto()).github_actions_with(&github);
    let out = env.vault_ci(assume_into_files("huge-token"));
    out.fails(
        1,
        "vault-ci: GitHub's OIDC token endpoint sent an unexpected reply: the answer is larger than \
         1048576 bytes; is ACTIONS_ID_TOKEN_REQUEST_URL right?",
    );
    nothing_delivered(&env, &out);
    assert_eq!(github.log().len(), 1, "it was retried: {:?}", github.log());
}

#[test]
fn an_untrusted_certificate_on_the_token_endpoint_is_named_and_not_retried() {
    let mut env = Env::new();
    let github = github_endpoint(&["--tls", env.path("tls").to_str().unwrap()]);
    env.sts(moto()).github_actions_with(&github);
    let out = env.vault_ci(assume_into_files("tls-token"));
    out.fails(
        1,
        "vault-ci: cannot reach GitHub's OIDC token endpoint: TLS: invalid peer certificate: UnknownIssuer",
    )
    .stderr_has_line(
        "  hint: the endpoint's certificate is not trusted: if a corporate proxy or CA signs it, pass \
         its CA as --ca-bundle PEM (or AWS_CA_BUNDLE)",
    );
    nothing_delivered(&env, &out);
    let log = github.log();
    assert_eq!(log.len(), 1, "one connection, and no retry: {log:?}");
    assert!(
        log[0]["tls"].as_str().unwrap().starts_with("failed"),
        "{log:?}"
    );

    // The certificate was the only thing wrong: with its CA, the same endpoint serves.
    let mut args = assume_into_files("tls-token");
    args.extend(["--ca-bundle".into(), github.str("/ca_bundle")]);
    env.vault_ci(args).success();
    let later_steps = parse_github_file(&env.read("github_env"));
    assert_eq!(
        env.caller_arn(&later_steps),
        assumed_role("gha-deploy", "tls-token")
    );
    let log = github.log();
    assert_eq!(log[1]["tls"], "ok", "{log:?}");
    assert_eq!(log[2]["authorized"], true, "{log:?}");
}

// ---------------------------------------------------------------------------
// 3. Token files
// ---------------------------------------------------------------------------

#[test]
fn token_files_that_cannot_be_tokens_are_refused_at_once() {
    let mut env = Env::new();
    // Nothing listens here: no request may be made.
    env.set("AWS_ENDPOINT_URL", "http://127.0.0.1:9");
    let fifo = env.path("token.fifo");
    mkfifo(&fifo);
    let big = env.write("big.jwt", &"a".repeat(64 * 1024 + 1));
    for (file, says) in [
        // No writer ever comes: opening it to read would wait forever.
        (
            fifo.as_path(),
            "it is not a regular file (a FIFO, a device or a directory)",
        ),
        // It never ends.
        (
            Path::new("/dev/zero"),
            "it is not a regular file (a FIFO, a device or a directory)",
        ),
        (big.as_path(), "it is larger than 65536 bytes"),
    ] {
        let command = env.command(
            BIN,
            [
                "assume",
                "--token-file",
                file.to_str().unwrap(),
                "--role-arn",
                ROLE,
                "--timeout",
                "5",
            ],
        );
        // Well within --timeout 5, or vault-ci waited on the file.
        let ended = Running::start(command, None).wait_within(Duration::from_secs(30));
        ended
            .out
            .fails(
                1,
                &format!(
                    "vault-ci: cannot read the OIDC token file {}: {says}; check --token-file / \
                     AWS_WEB_IDENTITY_TOKEN_FILE",
                    file.display()
                ),
            )
            .stdout_is("");
    }
}

/// The files the SDK's providers read for vault-ci (item 8 of issue 23) as
/// hostile twins: no writer, no end, a link to no end, too much.
fn hostile_files(env: &Env) -> Vec<(PathBuf, &'static str)> {
    let fifo = env.path("hostile.fifo");
    if !fifo.exists() {
        mkfifo(&fifo);
    }
    let link = env.path("zero-link");
    if !link.exists() {
        std::os::unix::fs::symlink("/dev/zero", &link).unwrap();
    }
    let huge = env.path("huge");
    // 1 GiB that takes no disk: a sparse file.
    std::fs::File::create(&huge)
        .unwrap()
        .set_len(1 << 30)
        .unwrap();
    let device = "it is not a regular file (a FIFO, a device or a directory)";
    vec![
        (fifo, device),
        (PathBuf::from("/dev/zero"), device),
        (link, device),
        (huge, "it is larger than 65536 bytes"),
    ]
}

/// `command` run with at most 2 GiB of address space: should a file ever be
/// read without its cap again, vault-ci fails instead of the machine.
fn within_memory(mut command: Command) -> Command {
    use std::os::unix::process::CommandExt;
    // SAFETY: setrlimit(2) is async-signal-safe, as pre_exec requires.
    unsafe {
        command.pre_exec(|| {
            let limit = libc::rlimit {
                rlim_cur: 2 << 30,
                rlim_max: 2 << 30,
            };
            libc::setrlimit(libc::RLIMIT_AS, &limit);
            Ok(())
        });
    }
    command
}

#[test]
fn files_the_sdk_reads_for_vault_ci_are_held_to_vault_cis_rules() {
    let mut env = Env::new();
    // Nothing listens here: no request may be made.
    env.set("AWS_ENDPOINT_URL", "http://127.0.0.1:9").set(
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "http://127.0.0.1:9/creds",
    );
    let fix = "point it at the token file the container agent writes";
    for (file, says) in hostile_files(&env) {
        env.set(
            "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
            file.display().to_string(),
        );
        let command = env.command(
            BIN,
            [
                "assume",
                "--provider",
                "container",
                "--role-arn",
                ROLE,
                "--format",
                "json",
                "--timeout",
                "5",
            ],
        );
        let ended =
            Running::start(within_memory(command), None).wait_within(Duration::from_secs(30));
        ended
            .out
            .fails(
                2,
                &format!(
                    "vault-ci: AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE {}, which the AWS SDK reads \
                     for vault-ci, cannot be used: {says}; {fix}",
                    file.display()
                ),
            )
            .stdout_is("");
    }
    env.remove("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")
        .remove("AWS_CONTAINER_CREDENTIALS_FULL_URI");

    // --use-existing-credentials asks the SDK's whole default chain.
    let token = env.write("t.jwt", &mint_token(&[]));
    let fix = "point the variable at an AWS config file, or remove what is there";
    for var in [
        "AWS_CONFIG_FILE",
        "AWS_SHARED_CREDENTIALS_FILE",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
    ] {
        for (file, says) in hostile_files(&env) {
            let mut env = Env::new();
            env.set("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
                .set("AWS_REGION", "us-east-1")
                .set(var, file.display().to_string());
            let (fix, says) = match var {
                "AWS_WEB_IDENTITY_TOKEN_FILE" => ("point it at the OIDC token file", says),
                // A config file of many profiles may be larger than a token.
                _ if says.starts_with("it is larger") => (fix, "it is larger than 1048576 bytes"),
                _ => (fix, says),
            };
            let command = env.command(
                BIN,
                [
                    "assume",
                    "--use-existing-credentials",
                    "--token-file",
                    token.to_str().unwrap(),
                    "--role-arn",
                    ROLE,
                    "--format",
                    "json",
                    "--timeout",
                    "5",
                ],
            );
            let ended =
                Running::start(within_memory(command), None).wait_within(Duration::from_secs(30));
            ended
                .out
                .fails(
                    2,
                    &format!(
                        "vault-ci: {var} {}, which the AWS SDK reads for vault-ci, cannot be \
                         used: {says}; {fix}",
                        file.display()
                    ),
                )
                .stdout_is("");
        }
    }
}

#[test]
fn a_token_file_reached_through_a_symlink_is_read() {
    let mut env = Env::new();
    env.sts(moto());
    let token = env.write("token.jwt", &mint_token(&[]));
    std::os::unix::fs::symlink(&token, env.path("link.jwt")).unwrap();
    let doc = env
        .vault_ci([
            "assume",
            "--token-file",
            "link.jwt",
            "--role-arn",
            ROLE,
            "--session-name",
            "linked",
            "--format",
            "json",
        ])
        .json();
    assert_eq!(doc["RoleArn"], assumed_role("gha-deploy", "linked"));
}

// ---------------------------------------------------------------------------
// 4. Destinations
// ---------------------------------------------------------------------------

#[test]
fn new_destinations_are_created_owner_only_even_under_umask_000() {
    let mut env = Env::new();
    env.sts(moto()).github_actions();
    // The runner creates these; here vault-ci is the first to write them.
    for name in ["github_env", "github_output"] {
        std::fs::remove_file(env.path(name)).unwrap();
    }
    env.set("BASH_ENV", env.path("bash_env").display().to_string());
    let script = format!(
        "umask 000; : > by-the-shell; exec '{BIN}' assume --role-arn '{}' --github-env --bash-env --env-file aws.env",
        moto().role("gha-deploy")
    );
    env.run("sh", ["-c", &script]).success();
    assert_eq!(
        mode(&env.path("by-the-shell")),
        0o666,
        "umask 000 is in effect"
    );
    for name in ["github_env", "github_output", "bash_env", "aws.env"] {
        assert_eq!(mode(&env.path(name)), 0o600, "{name}");
    }
    let vars = parse_github_file(&env.read("github_env"));
    assert!(vars["AWS_ACCESS_KEY_ID"].starts_with("ASIA"), "{vars:?}");
    assert_eq!(
        source_exports(&env, &env.path("bash_env")),
        source_exports(&env, &env.path("aws.env"))
    );
}

#[test]
fn env_file_dev_stdout_writes_through_and_replaces_nothing() {
    let mut env = Env::new();
    env.sts(moto());
    let token = env.write("t.jwt", &mint_token(&[]));
    let args = [
        "assume",
        "--token-file",
        token.to_str().unwrap(),
        "--role-arn",
        ROLE,
        "--env-file",
        "/dev/stdout",
    ];

    // stdout is a pipe, as a CI captures it.
    let out = env.vault_ci(args);
    out.success();
    assert!(
        out.stdout.starts_with("export AWS_ACCESS_KEY_ID='ASIA"),
        "{out}"
    );
    assert!(
        std::fs::symlink_metadata("/dev/stdout")
            .unwrap()
            .file_type()
            .is_symlink(),
        "/dev/stdout was replaced"
    );

    // stdout appends to a file that holds the step's earlier output.
    let log = env.write("step.log", "earlier output\n");
    let inode = std::fs::metadata(&log).unwrap().ino();
    let script = format!("exec '{BIN}' {} >> step.log", args.join(" "));
    env.run("sh", ["-c", &script]).success();
    let text = env.read("step.log");
    assert!(
        text.starts_with("earlier output\nexport AWS_ACCESS_KEY_ID='ASIA"),
        "{text}"
    );
    assert_eq!(
        std::fs::metadata(&log).unwrap().ino(),
        inode,
        "the file stdout writes to was replaced"
    );
    assert!(
        std::fs::symlink_metadata("/dev/stdout")
            .unwrap()
            .file_type()
            .is_symlink()
    );

    // In GitHub Actions stdout is the job log: refused, as --format is there.
    let github = github_endpoint(&[]);
    env.github_actions_with(&github);
    for path in ["/dev/stdout", "/dev/stderr", "/proc/self/fd/1"] {
        let mut args = args;
        args[6] = path;
        let out = env.vault_ci(args);
        out.fails(
            2,
            &format!(
                "vault-ci: --env-file {path} is this step's output, which in GitHub Actions is the job \
                 log: the keys would be published there; give a file path, or use --github-env"
            ),
        );
        assert!(
            !out.stdout.contains("ASIA") && !out.stderr.contains("ASIA"),
            "{out}"
        );
    }
}

#[test]
fn an_env_file_that_is_a_symlink_stays_one_and_its_file_gets_the_credentials() {
    let mut env = Env::new();
    env.sts(moto());
    let token = env.write("t.jwt", &mint_token(&[]));
    std::fs::create_dir(env.path("real")).unwrap();
    let real = env.write("real/aws.env", "export OLD=1\n");
    std::os::unix::fs::symlink("real/aws.env", env.path("aws.env")).unwrap();
    env.vault_ci([
        "assume",
        "--token-file",
        token.to_str().unwrap(),
        "--role-arn",
        ROLE,
        "--env-file",
        "aws.env",
    ])
    .success();
    assert_eq!(
        std::fs::read_link(env.path("aws.env")).unwrap(),
        PathBuf::from("real/aws.env")
    );
    let text = std::fs::read_to_string(&real).unwrap();
    assert!(text.starts_with("export AWS_ACCESS_KEY_ID='ASIA"), "{text}");
    assert!(!text.contains("OLD"), "{text}");
    assert_eq!(mode(&real), 0o600);
}

#[test]
fn an_env_file_that_is_a_fifo_goes_to_its_reader_and_is_refused_without_one() {
    let mut env = Env::new();
    env.sts(moto());
    let token = env.write("t.jwt", &mint_token(&[]));
    let fifo = env.path("aws.fifo");
    mkfifo(&fifo);
    let command = || {
        env.command(
            BIN,
            [
                "assume",
                "--token-file",
                token.to_str().unwrap(),
                "--role-arn",
                ROLE,
                "--env-file",
                "aws.fifo",
            ],
        )
    };

    // Nothing reads it: an error, not a step that hangs (with SIGTERM held).
    let ended = Running::start(command(), None).wait_within(Duration::from_secs(60));
    ended.out.fails(
        1,
        "vault-ci: cannot replace --env-file aws.fifo: nothing reads it (a FIFO or socket without a reader)",
    );

    // A reader (`. <(…)` or a process reading the FIFO) gets the export lines.
    let path = fifo.clone();
    let reading = std::thread::spawn(move || std::fs::read_to_string(path).unwrap());
    let ended = Running::start(command(), None).wait_within(Duration::from_secs(60));
    if !reading.is_finished() {
        // Let the reader go, whatever vault-ci did.
        let _ = std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&fifo);
    }
    let text = reading.join().unwrap();
    ended.out.success();
    assert!(
        text.starts_with("export AWS_ACCESS_KEY_ID='ASIA"),
        "{text:?}"
    );
    assert_eq!(text.lines().count(), 6, "{text}");
}

#[test]
fn taking_back_github_env_after_a_later_failure_keeps_what_others_appended_meanwhile() {
    let mut env = Env::new();
    env.sts(moto()).github_actions();
    env.write("github_env", "EARLIER_STEP=kept\n");
    // $BASH_ENV is a FIFO whose reader never reads and whose pipe is full:
    // vault-ci's append to it waits once $GITHUB_ENV has its entries.
    let fifo = env.path("bash_env");
    mkfifo(&fifo);
    env.set("BASH_ENV", fifo.display().to_string());
    let open = |write: bool| {
        std::fs::OpenOptions::new()
            .read(!write)
            .write(write)
            .custom_flags(libc::O_NONBLOCK)
            .open(&fifo)
            .unwrap()
    };
    let reader = open(false);
    fill(&open(true));

    let running = Running::start(
        env.command(
            BIN,
            [
                "assume",
                "--role-arn",
                &moto().role("gha-deploy"),
                "--github-env",
                "--bash-env",
            ],
        ),
        None,
    );
    wait_for(
        "the $GITHUB_OUTPUT entries, written after $GITHUB_ENV's",
        || env.read("github_output").contains("aws-role-arn<<"),
    );
    // Another process of the job appends meanwhile.
    std::fs::OpenOptions::new()
        .append(true)
        .open(env.path("github_env"))
        .unwrap()
        .write_all(b"ANOTHER_PROCESS=also-kept\n")
        .unwrap();
    // The reader goes away: the append to $BASH_ENV fails.
    drop(reader);
    let ended = running.wait_within(Duration::from_secs(60));
    ended.out.fails(
        1,
        &format!(
            "vault-ci: cannot append to $BASH_ENV ({}): Broken pipe (os error 32)",
            fifo.display()
        ),
    );

    let text = env.read("github_env");
    assert!(text.starts_with("EARLIER_STEP=kept\n"), "{text}");
    let vars = parse_github_file(&text);
    assert_eq!(vars["EARLIER_STEP"], "kept");
    assert_eq!(vars["ANOTHER_PROCESS"], "also-kept", "{text}");
    for name in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_CREDENTIAL_EXPIRATION",
    ] {
        assert_eq!(vars[name], "", "{name} was not taken back:\n{text}");
    }
    let outputs = parse_github_file(&env.read("github_output"));
    assert_eq!(outputs["aws-role-arn"], "", "{outputs:?}");
}

/// A $GITHUB_OUTPUT on a full disk, as vault-ci reports it.
const FULL: &str =
    "vault-ci: cannot append to $GITHUB_OUTPUT (/dev/full): No space left on device (os error 28)";

#[test]
fn a_failure_after_the_env_file_was_replaced_puts_back_what_was_there() {
    let mut env = Env::new();
    env.sts(moto()).github_actions();
    // $GITHUB_OUTPUT's append fails after the env file's rename and $GITHUB_ENV's append.
    env.set("GITHUB_OUTPUT", "/dev/full");
    let args = [
        "assume",
        "--role-arn",
        &moto().role("gha-deploy"),
        "--github-env",
        "--env-file",
        "aws.env",
    ];
    let old = env.write("aws.env", "export FROM_AN_EARLIER_RUN=1\n");
    env.vault_ci(args).fails(1, FULL);
    env.file_is("aws.env", "export FROM_AN_EARLIER_RUN=1\n");
    assert_eq!(mode(&old), 0o600);

    std::fs::remove_file(&old).unwrap();
    env.vault_ci(args).fails(1, FULL);
    assert!(!old.exists(), "a new env file was left behind");
    let vars = parse_github_file(&env.read("github_env"));
    assert_eq!(vars["AWS_SESSION_TOKEN"], "", "{vars:?}");

    // The shared credentials file of --aws-profile, too.
    let profiles = "[other]\naws_access_key_id = AKIAOTHER\naws_secret_access_key = x\n";
    env.write("home/aws-credentials", profiles);
    env.vault_ci([
        "assume",
        "--role-arn",
        &moto().role("gha-deploy"),
        "--github-env",
        "--aws-profile",
        "ci",
        "--region",
        "us-east-1",
    ])
    .fails(1, FULL);
    env.file_is("home/aws-credentials", profiles);
    assert!(!env.path("home/aws-config").exists());
}

/// A GitHub step with the deploy user's keys writing $GITHUB_ENV and an env
/// file, whose stdout is a pipe that is full: it stops at the first mask, once
/// the env file is staged and before anything is in place.
fn stuck_while_staged() -> (Env, Running, std::io::PipeReader) {
    let moto = moto_auth();
    let mut env = Env::new();
    env.sts(moto).deploy_user(moto);
    let github_env = env.write("github_env", "");
    let github_output = env.write("github_output", "");
    env.set("GITHUB_ACTIONS", "true")
        .set("GITHUB_ENV", github_env.display().to_string())
        .set("GITHUB_OUTPUT", github_output.display().to_string());
    let (reader, writer) = std::io::pipe().unwrap();
    let writer_file = std::fs::File::from(std::os::fd::OwnedFd::from(writer));
    fill(&writer_file);
    let running = Running::start(
        env.command(
            BIN,
            [
                "assume",
                "--provider",
                "static",
                "--role-arn",
                &moto.role("deploy"),
                "--github-env",
                "--env-file",
                "aws.env",
            ],
        ),
        Some(Stdio::from(writer_file)),
    );
    let dir = std::fs::canonicalize(env.dir.path()).unwrap();
    wait_for("a staged env file open in vault-ci", || {
        std::fs::read_dir(format!("/proc/{}/fd", running.pid))
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|fd| std::fs::read_link(fd.path()).ok())
            .any(|target| target.starts_with(&dir) && !target.ends_with("github_env"))
    });
    (env, running, reader)
}

#[test]
fn sigkill_while_the_env_file_is_staged_leaves_no_copy_of_the_keys() {
    let (env, running, _reader) = stuck_while_staged();
    running.signal(libc::SIGKILL);
    let ended = running.wait_within(Duration::from_secs(30));
    assert_eq!(ended.signal, Some(libc::SIGKILL));
    assert_eq!(
        entries(env.dir.path()),
        ["github_env", "github_output", "home"],
        "a file was left behind"
    );
    env.file_is("github_env", "");
}

#[test]
fn sigterm_while_the_env_file_is_staged_waits_until_everything_is_in_place() {
    let (env, running, mut reader) = stuck_while_staged();
    running.signal(libc::SIGTERM);
    wait_for("SIGTERM pending, held back", || {
        let status = std::fs::read_to_string(format!("/proc/{}/status", running.pid)).unwrap();
        status.lines().any(|l| {
            l.strip_prefix("ShdPnd:")
                .and_then(|mask| u64::from_str_radix(mask.trim(), 16).ok())
                .is_some_and(|mask| mask & (1 << (libc::SIGTERM - 1)) != 0)
        })
    });
    assert!(alive(running.pid), "SIGTERM ended vault-ci mid-delivery");
    // The log is read again: vault-ci goes on, and the signal takes effect at the end.
    let drained = std::thread::spawn(move || {
        let mut all = String::new();
        let _ = reader.read_to_string(&mut all);
        all
    });
    let ended = running.wait_within(Duration::from_secs(60));
    assert_eq!(ended.signal, Some(libc::SIGTERM), "{}", ended.out);
    let vars = parse_github_file(&env.read("github_env"));
    let exported = source_exports(&env, &env.path("aws.env"));
    for name in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_CREDENTIAL_EXPIRATION",
    ] {
        assert_eq!(exported[name], vars[name], "{name}");
    }
    assert_ne!(
        exported["AWS_ACCESS_KEY_ID"],
        moto_auth().str("/deploy_user/access_key_id"),
        "the deploy user's own key"
    );
    assert!(
        drained
            .join()
            .unwrap()
            .contains(&format!("::add-mask::{}", vars["AWS_SESSION_TOKEN"]))
    );
    assert_eq!(
        entries(env.dir.path()),
        ["aws.env", "github_env", "github_output", "home"]
    );
}

#[test]
fn sigterm_or_sigint_while_sts_is_slow_leaves_no_file_behind() {
    for signal in [libc::SIGTERM, libc::SIGINT] {
        let sts = faulty_sts(&["--respond", "slow:60"]);
        let mut env = Env::new();
        env.set("AWS_ENDPOINT_URL", sts.endpoint());
        env.write("t.jwt", &mint_token(&[]));
        let running = Running::start(
            env.command(
                BIN,
                [
                    "assume",
                    "--token-file",
                    "t.jwt",
                    "--role-arn",
                    ROLE,
                    "--attempt-timeout",
                    "60",
                    "--env-file",
                    "aws.env",
                ],
            ),
            None,
        );
        wait_for("the request at STS", || !sts.log().is_empty());
        running.signal(signal);
        let ended = running.wait_within(Duration::from_secs(30));
        assert_eq!(ended.signal, Some(signal), "{}", ended.out);
        assert_eq!(
            entries(env.dir.path()),
            ["home", "t.jwt"],
            "signal {signal}"
        );
    }
}

// ---------------------------------------------------------------------------
// 5. Output that others read
// ---------------------------------------------------------------------------

#[test]
fn an_sts_message_cannot_become_a_workflow_command() {
    let sts = start_peer(&["lying-sts", "--message", INJECTION]);
    for verbosity in ["-q", "-vv"] {
        let env = github_job(&sts);
        let mut args = vec![verbosity.to_string()];
        args.extend(assume_into_files("lie-error"));
        let out = env.vault_ci(args);
        out.fails(
            1,
            &format!(
                "vault-ci: STS refused AssumeRoleWithWebIdentity on {ROLE}: AccessDenied: {INJECTION_SHOWN}"
            ),
        );
        nothing_delivered(&env, &out);
        let commands = workflow_commands(&out);
        // The token's mask, then the annotation with the message on its one line.
        assert_eq!(commands.len(), 2, "{verbosity}: {commands:#?}");
        assert!(commands[0].starts_with("::add-mask::ey"), "{commands:?}");
        assert!(
            commands[1].starts_with("::error title=vault-ci%3A access denied::")
                && commands[1].contains(INJECTION_SHOWN),
            "{}",
            commands[1]
        );
    }
}

#[test]
fn a_file_name_cannot_become_a_workflow_command_in_the_log() {
    let mut env = Env::new();
    env.sts(moto()).github_actions();
    // The SDKs' convention names the token file in a variable a job may not control.
    let name = "t\n::set-env name=INJECTED::1\r.jwt";
    let token = env.write(name, &mint_token(&[]));
    env.set("AWS_WEB_IDENTITY_TOKEN_FILE", token.display().to_string())
        .set("AWS_ROLE_ARN", moto().role("gha-deploy"));
    let out = env.vault_ci(["-vv", "assume", "--provider", "token-file", "--github-env"]);
    out.success();
    only_own_commands(&out);
    assert!(
        out.stderr.contains(r"t\n::set-env name=INJECTED::1\r.jwt"),
        "{out}"
    );
}

#[test]
fn a_key_with_a_line_break_is_refused_before_it_reaches_the_job_log() {
    let sts = start_peer(&["lying-sts", "--lie", "newline-token"]);
    for destination in [&["--github-env"][..], &["--format", "env"]] {
        let env = github_job(&sts);
        let mut args = vec!["assume", "--role-arn", ROLE];
        args.extend_from_slice(destination);
        let out = env.vault_ci(args);
        out.fails(
            1,
            &format!(
                "vault-ci: STS at {} answered for {ROLE} with a SessionToken holding a line break or \
                 another control character; is it really STS?",
                sts.endpoint()
            ),
        );
        env.file_is("github_env", "");
        only_own_commands(&out);
        assert!(
            !out.stdout.contains("set-env"),
            "{destination:?} printed the token:\n{out}"
        );
    }
}

// ---------------------------------------------------------------------------
// 6. No panics: odd proxies and CA bundles
// ---------------------------------------------------------------------------

#[test]
fn a_proxy_password_with_odd_characters_reaches_the_proxy_as_typed_and_nowhere_else() {
    let proxy = start_peer(&["proxy"]);
    let mut env = Env::new();
    env.sts(moto());
    let token = env.write("t.jwt", &mint_token(&[]));
    let url = proxy
        .str("/url")
        .replace("http://", "http://ci:pa^ss word@");
    let out = env.vault_ci([
        "-vv",
        "assume",
        "--token-file",
        token.to_str().unwrap(),
        "--role-arn",
        ROLE,
        "--http-proxy",
        &url,
        "--format",
        "json",
    ]);
    out.success();
    assert_eq!(
        proxy.fetch("/auth"),
        [serde_json::json!("ci:pa^ss word")],
        "{:?}",
        proxy.log()
    );
    for shown in ["pa^ss word", "pa%5Ess%20word", "pa%5Ess word"] {
        assert!(!out.stderr.contains(shown), "{shown} was logged:\n{out}");
    }
}

#[test]
fn proxies_that_cannot_be_used_are_one_line_errors_without_the_password() {
    let env = Env::new();
    let token = env.write("t.jwt", &mint_token(&[]));
    // Why the URL is none, or (None) a host IDNA spells (xn--prxy-8ra.invalid)
    // that does not resolve.
    for (proxy, not_a_url) in [
        // Not a host name IDNA can spell.
        (
            "http://ci:pa^ss word@xn--a.example:3128",
            Some("invalid international domain name"),
        ),
        (
            "http://ci:pa^ss word@exa mple:3128",
            Some("invalid international domain name"),
        ),
        (
            "http://ci:pa^ss word@prøxy:99999",
            Some("invalid port number"),
        ),
        ("http://ci:pa^ss word@prøxy.invalid:3128", None),
    ] {
        for (flag, variable) in [(true, None), (false, Some("HTTPS_PROXY"))] {
            let mut env_here = Env::new();
            env_here.set("AWS_ENDPOINT_URL", "http://127.0.0.1:9");
            if let Some(name) = variable {
                env_here.set(name, proxy).set("HTTP_PROXY", proxy);
            }
            let mut args = vec![
                "assume",
                "--token-file",
                token.to_str().unwrap(),
                "--role-arn",
                ROLE,
                "--max-attempts",
                "1",
            ];
            if flag {
                args.extend(["--http-proxy", proxy]);
            }
            let out = env_here.vault_ci(args);
            match not_a_url {
                Some(why) => out.fails(
                    2,
                    &format!(
                        "vault-ci: {} is not a URL ({why}); expected e.g. http://proxy.internal:3128",
                        variable.unwrap_or("--http-proxy")
                    ),
                ),
                // The resolver's words for the failure are the machine's.
                None => out.fails_matching(
                    1,
                    &format!(
                        "vault-ci: cannot reach STS at http://127\\.0\\.0\\.1:9 for \
                         AssumeRoleWithWebIdentity on {}: dispatch failure: io error: error sending \
                         request: client error \\(Connect\\): dns error: .+",
                        regex_lite::escape(ROLE)
                    ),
                ),
            };
            let error: Vec<&str> = out
                .stderr
                .lines()
                .filter(|l| !l.starts_with(' ') && !l.starts_with("vault-ci: "))
                .filter(|l| !l.contains(" INFO ") && !l.contains(" WARN "))
                .collect();
            assert!(error.is_empty(), "{proxy}: more than one line: {error:?}");
            assert!(!out.stderr.contains("internal error"), "{proxy}:\n{out}");
            for secret in ["pa^ss word", "pa%5Ess%20word"] {
                assert!(!out.stderr.contains(secret), "{proxy}:\n{out}");
            }
        }
    }
}

#[test]
fn a_ca_bundle_holding_a_broken_certificate_is_a_usage_error() {
    let mut env = Env::new();
    env.sts(moto_tls());
    let token = env.write("t.jwt", &mint_token(&[]));
    let good = std::fs::read_to_string(moto_tls().str("/ca_bundle")).unwrap();
    let broken =
        "-----BEGIN CERTIFICATE-----\nTUlJQm5vdGFjZXJ0aWZpY2F0ZQ==\n-----END CERTIFICATE-----\n";
    for (bundle, says) in [
        (
            broken.to_string(),
            "certificate 1 is not a valid X.509 certificate",
        ),
        (
            format!("{good}{broken}"),
            "certificate 2 is not a valid X.509 certificate",
        ),
    ] {
        let file = env.write("ca.pem", &bundle);
        env.vault_ci([
            "assume",
            "--token-file",
            token.to_str().unwrap(),
            "--role-arn",
            ROLE,
            "--ca-bundle",
            file.to_str().unwrap(),
        ])
        .fails(
            2,
            &format!(
                "vault-ci: CA bundle {}: {says}; export the CA again as PEM",
                file.display()
            ),
        );
    }
    // The good certificate alone is taken.
    let file = env.write("ca.pem", &good);
    env.vault_ci([
        "assume",
        "--token-file",
        token.to_str().unwrap(),
        "--role-arn",
        ROLE,
        "--ca-bundle",
        file.to_str().unwrap(),
        "--format",
        "json",
    ])
    .success();
}

// ---------------------------------------------------------------------------
// 7. The --refresh endpoint under load, and after expiry
// ---------------------------------------------------------------------------

/// Holds 300 idle connections and 100 half-sent requests to the endpoint, and
/// once a second opens again whatever the endpoint closed, until killed.
const FLOOD: &str = r#"
import select, socket, sys, time
host, port, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def open_one(half):
    s = socket.create_connection((host, port))
    if half:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: ".encode())
    return s
conns = [(open_one(False), False) for _ in range(300)] + [(open_one(True), True) for _ in range(100)]
print("ready", flush=True)
while True:
    time.sleep(1)
    poller = select.poll()
    for s, _ in conns:
        poller.register(s, select.POLLIN)
    closed = {fd for fd, _ in poller.poll(0)}
    fresh = []
    for s, half in conns:
        if s.fileno() in closed:
            s.close()
            fresh.append((open_one(half), half))
        else:
            fresh.append((s, half))
    conns = fresh
"#;

/// The command under `--refresh`: starts the flood before its first request,
/// then asks with the aws CLI and boto3 (their own container-credentials
/// timeouts), measures vault-ci's CPU time over 5 s of flood, and asks again.
const FLOODED_CHILD: &str = r#"
import json, os, subprocess, sys, time
import boto3
uri = os.environ["AWS_CONTAINER_CREDENTIALS_FULL_URI"]
host, port = uri.split("/")[2].split(":")
path = "/" + uri.split("/", 3)[3]
vault_ci = os.getppid()
flood = subprocess.Popen([sys.executable, "flood.py", host, port, path], stdout=subprocess.PIPE, text=True)
assert flood.stdout.readline().strip() == "ready"
def cpu_seconds():
    fields = open(f"/proc/{vault_ci}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
def cli():
    done = subprocess.run(["aws", "sts", "get-caller-identity", "--output", "json"], capture_output=True, text=True)
    return json.loads(done.stdout)["Arn"] if done.returncode == 0 else done.stderr
first = cli()
key = boto3.session.Session().get_credentials().get_frozen_credentials().access_key
before = cpu_seconds()
time.sleep(5)
cpu = cpu_seconds() - before
later = cli()
flood.kill()
print(json.dumps({"first": first, "boto3": key, "cpu": cpu, "later": later}))
"#;

#[test]
fn a_flood_of_idle_and_half_sent_connections_neither_starves_the_command_nor_burns_cpu() {
    let mut env = Env::new();
    env.sts(moto());
    let token = env.write("t.jwt", &mint_token(&[]));
    env.write("flood.py", FLOOD);
    let child = env.write("child.py", FLOODED_CHILD);
    let out = env.vault_ci([
        "assume",
        "--token-file",
        token.to_str().unwrap(),
        "--role-arn",
        ROLE,
        "--session-name",
        "flooded",
        "--refresh",
        "--",
        "python3",
        child.to_str().unwrap(),
    ]);
    out.success();
    let report: serde_json::Value =
        serde_json::from_str(out.stdout.lines().last().unwrap_or_default())
            .unwrap_or_else(|e| panic!("no report ({e}):\n{out}"));
    let role = assumed_role("gha-deploy", "flooded");
    assert_eq!(report["first"], role.as_str(), "{report}");
    assert!(
        report["boto3"].as_str().unwrap().starts_with("ASIA"),
        "{report}"
    );
    assert_eq!(report["later"], role.as_str(), "{report}");
    let cpu = report["cpu"].as_f64().unwrap();
    assert!(cpu < 1.0, "vault-ci used {cpu} s of CPU in 5 s of flood");
}

/// Asks once while the credentials are valid (which starts a refresh that
/// fails), then once they have expired, with curl (2 s at most) and the aws CLI.
const EXPIRING_CHILD: &str = r#"
import json, os, subprocess, time, urllib.request
uri = os.environ["AWS_CONTAINER_CREDENTIALS_FULL_URI"]
token = os.environ["AWS_CONTAINER_AUTHORIZATION_TOKEN"]
first = urllib.request.urlopen(urllib.request.Request(uri, headers={"Authorization": token})).status
expiry = json.loads(urllib.request.urlopen(urllib.request.Request(uri, headers={"Authorization": token})).read())["Expiration"]
time.sleep(6)
curl = subprocess.run(["curl", "-s", "--max-time", "2", "-H", f"Authorization: {token}", "-w", "\n%{http_code}", uri],
                      capture_output=True, text=True)
cli = subprocess.run(["aws", "sts", "get-caller-identity"], capture_output=True, text=True)
print(json.dumps({"first": first, "expiry": expiry, "curl": curl.stdout, "curl_exit": curl.returncode,
                  "cli_exit": cli.returncode, "cli": cli.stderr}))
"#;

#[test]
fn after_expiry_with_failing_refreshes_a_request_gets_503_at_once_with_the_reason() {
    // Credentials for 4 s, then STS is down.
    let sts = start_peer(&[
        "lying-sts",
        "--lie",
        "short",
        "--lie",
        "unavailable",
        "--message",
        "STS is down for maintenance",
    ]);
    let mut env = Env::new();
    env.set("AWS_ENDPOINT_URL", sts.endpoint())
        .set("AWS_REGION", "us-east-1");
    let token = env.write("t.jwt", &mint_token(&[]));
    let child = env.write("child.py", EXPIRING_CHILD);
    let out = env.vault_ci([
        "assume",
        "--token-file",
        token.to_str().unwrap(),
        "--role-arn",
        ROLE,
        "--max-attempts",
        "1",
        "--refresh",
        "--",
        "python3",
        child.to_str().unwrap(),
    ]);
    out.success();
    let report: serde_json::Value =
        serde_json::from_str(out.stdout.lines().last().unwrap_or_default())
            .unwrap_or_else(|e| panic!("no report ({e}):\n{out}"));
    assert_eq!(report["first"], 200, "{report}");
    // curl gave up after 2 s if the answer waited for a refresh.
    assert_eq!(report["curl_exit"], 0, "{report}");
    let curl = report["curl"].as_str().unwrap();
    let (body, status) = curl.rsplit_once('\n').unwrap();
    assert_eq!(status, "503", "{report}");
    let doc: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(doc["code"], "CredentialsExpired");
    let message = doc["message"].as_str().unwrap();
    assert!(
        message.starts_with("vault-ci could not refresh the credentials before they expired: ")
            && message.contains("ServiceUnavailable")
            && message.contains("STS is down for maintenance"),
        "{message}"
    );
    // The aws CLI fails and says why.
    assert_ne!(report["cli_exit"], 0, "{report}");
    assert!(
        report["cli"]
            .as_str()
            .unwrap()
            .contains("STS is down for maintenance"),
        "{report}"
    );
}

// ---------------------------------------------------------------------------
// 8. The command's environment and vault-ci's process
// ---------------------------------------------------------------------------

#[test]
fn the_command_never_gets_the_pod_identity_token_file() {
    let mut env = Env::new();
    env.sts(moto());
    let token = env.write("t.jwt", &mint_token(&[]));
    // EKS Pod Identity's token file: SDKs read it before AWS_CONTAINER_AUTHORIZATION_TOKEN.
    let pod_token = env.write("pod-identity-token", "the-pods-own-token");
    env.set(
        "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
        pod_token.display().to_string(),
    );
    let script = "env | grep -c '^AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=' ; \
                  aws sts get-caller-identity --query Arn --output text";
    for refresh in [true, false] {
        let mut args = vec![
            "assume",
            "--token-file",
            token.to_str().unwrap(),
            "--role-arn",
            ROLE,
            "--session-name",
            "pod",
        ];
        if refresh {
            args.push("--refresh");
        }
        args.extend(["--", "sh", "-c", script]);
        let out = env.vault_ci(args);
        out.success();
        // With the file passed on, the CLI would send its token and get 403.
        assert_eq!(
            out.stdout,
            format!("0\n{}\n", assumed_role("gha-deploy", "pod")),
            "refresh: {refresh}\n{out}"
        );
    }
}

#[test]
fn the_refresh_command_dies_with_vault_ci() {
    let mut env = Env::new();
    env.sts(moto());
    let token = env.write("t.jwt", &mint_token(&[]));
    let running = Running::start(
        env.command(
            BIN,
            [
                "assume",
                "--token-file",
                token.to_str().unwrap(),
                "--role-arn",
                ROLE,
                "--refresh",
                "--",
                "sh",
                "-c",
                // Its own output elsewhere: our pipes close with vault-ci.
                "echo $$ > child.pid; exec sleep 120 > /dev/null 2>&1",
            ],
        ),
        None,
    );
    wait_for("the command's pid", || {
        env.read("child.pid").ends_with('\n')
    });
    let child: libc::pid_t = env.read("child.pid").trim().parse().unwrap();
    assert!(alive(child));
    running.signal(libc::SIGKILL);
    running.wait_within(Duration::from_secs(30));
    // SIGKILL leaves vault-ci no chance to clean up: the kernel kills the command.
    let deadline = Instant::now() + Duration::from_secs(10);
    while alive(child) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let survived = alive(child);
    if survived {
        // SAFETY: kill(2) with a pid read from the test's own command.
        unsafe { libc::kill(child, libc::SIGKILL) };
    }
    assert!(!survived, "the command outlived vault-ci");
}

/// vault-ci and a directory to run it in, placed where user `uid` can reach
/// them: a clone under a private directory (a home of mode 0700) keeps this
/// build's binary from every other user. `None`, said on stderr, where this
/// cannot be (not root, or no directory that user can reach).
fn staged_for(uid: u32) -> Option<(tempfile::TempDir, PathBuf)> {
    use std::os::unix::process::CommandExt;
    // SAFETY: geteuid(2) has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: only root can run a process as user {uid}");
        return None;
    }
    for parent in [std::env::temp_dir(), PathBuf::from("/tmp")] {
        let Ok(dir) = tempfile::Builder::new()
            .prefix("vault-ci-other-user-")
            .tempdir_in(&parent)
        else {
            continue;
        };
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let binary = dir.path().join("vault-ci");
        std::fs::copy(BIN, &binary).unwrap();
        std::fs::set_permissions(&binary, std::fs::Permissions::from_mode(0o755)).unwrap();
        let reached = Command::new(&binary)
            .arg("--version")
            .current_dir(dir.path())
            .uid(uid)
            .gid(uid)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        if reached {
            return Some((dir, binary));
        }
    }
    eprintln!(
        "skipped: user {uid} can reach neither {} nor /tmp to run vault-ci from",
        std::env::temp_dir().display()
    );
    None
}

/// Whether a process of user `uid` may read `/proc/<pid>/environ`.
fn environ_readable_by(uid: u32, pid: libc::pid_t) -> bool {
    use std::os::unix::process::CommandExt;
    Command::new("cat")
        .arg(format!("/proc/{pid}/environ"))
        .uid(uid)
        .gid(uid)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap()
        .success()
}

/// A non-dumpable process (PR_SET_DUMPABLE 0) can be neither ptraced nor read
/// through /proc (`environ`, `mem`) by other processes of the same user; the
/// kernel checks ptrace access for both. So a process of vault-ci's own user
/// that can read a plain process's environ but not vault-ci's shows vault-ci
/// non-dumpable, with nothing but what any process of that user can try.
#[test]
fn another_process_of_the_same_user_cannot_read_vault_cis_environment() {
    use std::os::unix::process::CommandExt;
    const NOBODY: u32 = 65534;
    // What nobody runs and reads is staged where nobody can reach it.
    let Some((staged, binary)) = staged_for(NOBODY) else {
        return;
    };
    let sts = faulty_sts(&["--respond", "slow:60"]);
    let mut env = Env::new();
    env.set("AWS_ENDPOINT_URL", sts.endpoint());
    let token = staged.path().join("t.jwt");
    std::fs::write(&token, mint_token(&[])).unwrap();
    std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o644)).unwrap();

    let mut command = env.command(
        binary.to_str().unwrap(),
        [
            "assume",
            "--token-file",
            token.to_str().unwrap(),
            "--role-arn",
            ROLE,
            "--attempt-timeout",
            "60",
        ],
    );
    command.uid(NOBODY).gid(NOBODY).current_dir(staged.path());
    let vault_ci = Running::start(command, None);
    // Mid-exchange: the token is in its memory.
    wait_for("the request at STS", || !sts.log().is_empty());

    let mut plain = Command::new("sleep");
    plain.arg("60").uid(NOBODY).gid(NOBODY);
    let mut plain = plain.spawn().unwrap();
    let plain_readable = environ_readable_by(NOBODY, plain.id() as libc::pid_t);
    let vault_ci_readable = environ_readable_by(NOBODY, vault_ci.pid);
    plain.kill().unwrap();
    plain.wait().unwrap();
    vault_ci.signal(libc::SIGKILL);
    vault_ci.wait_within(Duration::from_secs(30));

    assert!(plain_readable, "the check itself does not work here");
    assert!(!vault_ci_readable, "vault-ci's environment was readable");
}
