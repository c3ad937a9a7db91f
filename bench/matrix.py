#!/usr/bin/env python3
"""bench/matrix.py: issue 13's benchmark. A CI matrix of N jobs starting at once
against an STS with a request quota, vault-ci side by side with
configure-aws-credentials, in one run.

  matrix.py [--quick] [--jobs N] [--rate R] [--burst B] [--vault-ci BIN]
            [--warm-vault-ci BIN] [--cac DIR] [--upstream moto|self] [--out DIR]
            [--tools vault-ci,vault-ci-warm,cac,cac-warm]

Starts, for each tool, a fresh `peer.py throttled-sts --rate R --burst B` (a full
bucket per batch) that answers admitted requests itself; with --upstream moto
they go on to `peer.py moto`. moto alone serves 200-300 AssumeRoleWithWebIdentity
a second here, but on 2 cores its CPU comes out of the jobs' start-up and
spreads the storm out (the first requests of 200 started jobs arrive within
0.3-0.9 s answered by the peer, 1.4 s through moto), so it is not the default.
Then forks N jobs that all wait on one pipe (the barrier) and, once it is
closed, exec at the same instant:

  vault-ci  assume --role-arn R --token-file T --session-name job-<i> --format json
            (AWS_ENDPOINT_URL = the throttled peer, AWS_REGION = us-east-1)
  cac       node dist/index.js of configure-aws-credentials with INPUT_ROLE-TO-ASSUME,
            INPUT_WEB-IDENTITY-TOKEN-FILE, INPUT_STS-ENDPOINT, INPUT_ROLE-SESSION-NAME
            = job-<i>, GITHUB_ENV/GITHUB_OUTPUT files and the runner variables it needs

The *-warm batches run the same tools, but hold each job at its first connect()
instead of before exec (LD_PRELOAD of bench/matrix-barrier.c, which needs a
dynamically linked vault-ci and cc; NODE_OPTIONS=--require
bench/matrix-barrier.cjs), so start-up on this machine's few cores does not
spread the storm out: every job sends its first request at the same instant,
as 200 runners would. Jobs run SCHED_IDLE and the peers at nice -10 (as root),
so the peers are not starved by the jobs they serve.

Each job runs in the same clean environment as bench/run.sh's contenders. The
peer's /_log gives every STS request (time, action, admitted or throttled, job).
Writes OUT/matrix.json (the results), OUT/<tool>/ (per-job output, the peer log)
and prints the table (bench/report.py's matrix section). Targets are reported,
never enforced: the exit status is 0 unless the benchmark itself cannot run.

  --quick  50 jobs against rate 12.5/s, bucket 12.5: the same shape (jobs =
           4 × bucket = 4 s × rate, so the same 3 s floor) at a quarter of the load
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
PEER = ROOT / "tests" / "peers" / "peer.py"
CAC_NAME = "configure-aws-credentials-6.2.3"
ROLE_ARN = "arn:aws:iam::123456789012:role/gha-deploy"
# A job that has not finished by then is killed and counted as failed.
BATCH_TIMEOUT_S = 300
# Admitted STS requests one job needs when nothing is throttled.
NEEDS = {"vault-ci": 1, "vault-ci-warm": 1, "cac": 2, "cac-warm": 2,  # cac: AssumeRoleWithWebIdentity, GetCallerIdentity
         "boto3-standard-warm": 1, "boto3-adaptive-warm": 1}
# boto3-*-warm (not run by default): boto3's assume_role_with_web_identity in
# botocore's standard or adaptive retry mode (AWS_RETRY_MODE), to check
# bench/retry_sim.py's model of the SDKs' client-side rate limiting.
BOTO3_JOB = (
    "import json, os, boto3\n"
    "sts = boto3.client('sts')\n"
    "r = sts.assume_role_with_web_identity(RoleArn=os.environ['ROLE_ARN'], RoleSessionName=os.environ['SESSION'],"
    " WebIdentityToken=open(os.environ['TOKEN_FILE']).read(), DurationSeconds=900)\n"
    "print(json.dumps({'SessionToken': r['Credentials']['SessionToken']}))\n"
)
# *-warm: the same tool, but each job's barrier is its first STS connection
# (bench/matrix-barrier.c via LD_PRELOAD, bench/matrix-barrier.cjs via NODE_OPTIONS),
# so the process has started when the batch is released: as in a real matrix,
# where every job has a runner of its own instead of sharing these 2 cores.
BARRIER_C = BENCH / "matrix-barrier.c"
BARRIER_JS = BENCH / "matrix-barrier.cjs"

sys.path.insert(0, str(BENCH))
import report  # noqa: E402  (bench/report.py: the table is its matrix section)


def say(msg: str) -> None:
    print(f"\033[1mmatrix:\033[0m {msg}", file=sys.stderr, flush=True)


def find_cac(explicit: str | None) -> Path | None:
    """The published action: --cac, $VAULT_CI_CAC_DIR, or shared/peers/ beside an
    ancestor of the repository (CI clones it next to a copy of shared/)."""
    if explicit:
        return Path(explicit)
    if os.environ.get("VAULT_CI_CAC_DIR"):
        return Path(os.environ["VAULT_CI_CAC_DIR"])
    for parent in ROOT.parents:
        candidate = parent / "shared" / "peers" / CAC_NAME
        if (candidate / "dist" / "index.js").is_file():
            return candidate
    return None


class Peer:
    """`peer.py ARGS` in the background; it serves until its stdin closes."""

    def __init__(self, work: Path, name: str, *args: str) -> None:
        self.log_path = work / f"{name}.log"
        self.proc = subprocess.Popen(
            [sys.executable, str(PEER), *args],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log_path.open("wb"),
        )
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait()
            raise SystemExit(f"peer {name} did not start:\n{self.log_path.read_text()}")
        self.ready = json.loads(line)
        self.prioritized = prioritize(self.proc.pid)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def prioritize(pid: int) -> bool:
    """Nice -10 for every thread of a peer (threads it starts later inherit it).

    With 2 cores and 200 jobs runnable at once, a peer at the jobs' priority
    gets ~1/200 of the CPU and its answers, not STS's quota, become the
    bottleneck. The jobs run SCHED_IDLE (see run_batch), which needs no
    privilege; this needs root, and without it the peer keeps nice 0."""
    ok = True
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            os.setpriority(os.PRIO_PROCESS, int(task), -10)
        except (PermissionError, ProcessLookupError):
            ok = False
    return ok


def clean_env(work: Path) -> dict[str, str]:
    """What every job starts from (as bench/run.sh's contenders): nothing from
    this machine's AWS or CI settings, a temporary HOME and AWS config."""
    home = work / "home"
    home.mkdir(exist_ok=True)
    node_dir = os.path.dirname(shutil.which("node") or "/usr/bin/node")
    return {
        "PATH": f"{node_dir}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home),
        "TMPDIR": str(work),
        "LANG": "C.UTF-8",
        "AWS_CONFIG_FILE": str(home / "aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "aws-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }


def dynamically_linked(binary: str) -> bool:
    """Whether LD_PRELOAD can reach it (an ELF with an interpreter)."""
    with open(binary, "rb") as f:
        return b"/ld-linux" in f.read(4096)


def build_barrier(work: Path) -> Path | None:
    cc = shutil.which("cc") or shutil.which("gcc")
    if not cc:
        return None
    so = work / "matrix-barrier.so"
    built = subprocess.run([cc, "-shared", "-fPIC", "-O2", "-o", str(so), str(BARRIER_C), "-ldl", "-lpthread"],
                           capture_output=True, text=True)
    if built.returncode != 0:
        say(f"cannot build {BARRIER_C.name}: {built.stderr.strip()}")
        return None
    return so


def job_commands(tool: str, n: int, work: Path, endpoint: str, token: Path, vault_ci: str,
                 cac: Path | None, barrier_so: Path | None) -> list[tuple[list[str], dict[str, str], Path]]:
    """(argv, environment, directory) of each job."""
    base = clean_env(work)
    jobs = []
    for i in range(1, n + 1):
        d = work / tool / f"job-{i}"
        d.mkdir(parents=True)
        env = dict(base)
        if tool.startswith("vault-ci"):
            env.update(AWS_REGION="us-east-1", AWS_DEFAULT_REGION="us-east-1", AWS_ENDPOINT_URL=endpoint)
            if tool == "vault-ci-warm":
                env["LD_PRELOAD"] = str(barrier_so)
            argv = [vault_ci, "assume", "--role-arn", ROLE_ARN, "--token-file", str(token),
                    "--session-name", f"job-{i}", "--format", "json"]
        elif tool.startswith("boto3"):
            env.update(AWS_REGION="us-east-1", AWS_ENDPOINT_URL=endpoint, LD_PRELOAD=str(barrier_so),
                       AWS_RETRY_MODE=tool.split("-")[1], ROLE_ARN=ROLE_ARN, SESSION=f"job-{i}",
                       TOKEN_FILE=str(token))
            argv = [sys.executable, "-c", BOTO3_JOB]
        else:
            (d / "github_env").touch()
            (d / "github_output").touch()
            (d / "workspace").mkdir()
            env.update({
                # What a runner sets and the action reads (its session tags need them).
                "GITHUB_ACTIONS": "true", "CI": "true",
                "GITHUB_ENV": str(d / "github_env"), "GITHUB_OUTPUT": str(d / "github_output"),
                "GITHUB_WORKSPACE": str(d / "workspace"), "RUNNER_TEMP": str(work),
                "GITHUB_REPOSITORY": "octo-org/octo-repo", "GITHUB_WORKFLOW": "deploy",
                "GITHUB_ACTION": "configure-aws-credentials", "GITHUB_ACTOR": "octocat",
                "GITHUB_SHA": "0123456789abcdef0123456789abcdef01234567",
                "GITHUB_RUN_ID": "1", "GITHUB_RUN_ATTEMPT": "1",
                "INPUT_ROLE-TO-ASSUME": ROLE_ARN, "INPUT_AWS-REGION": "us-east-1",
                "INPUT_WEB-IDENTITY-TOKEN-FILE": str(token), "INPUT_STS-ENDPOINT": endpoint,
                "INPUT_ROLE-SESSION-NAME": f"job-{i}", "INPUT_ROLE-DURATION-SECONDS": "900",
            })
            if tool == "cac-warm":
                env["NODE_OPTIONS"] = f"--require {BARRIER_JS}"
            argv = [shutil.which("node") or "node", str(cac / "dist" / "index.js")]
        jobs.append((argv, env, d))
    return jobs


WAITING_COMM = "matrix-wait"  # a forked job's name until it execs its tool


def read_job(pid: int) -> int | None:
    """A job's private resident pages (resident - shared: the executable and
    libc are counted once per machine, not once per job) once it runs its
    tool, or None while it waits to exec or once it is gone."""
    try:
        with open(f"/proc/{pid}/comm", "rb") as f:
            if f.read().strip() == WAITING_COMM.encode():
                return None
        with open(f"/proc/{pid}/statm", "rb") as f:
            fields = f.read().split()
    except OSError:
        return None
    return int(fields[1]) - int(fields[2])


def run_batch(tool: str, jobs: list[tuple[list[str], dict[str, str], Path]], at_connect: bool) -> dict:
    """Forks every job behind one barrier, releases them together, reaps them.

    Each child redirects its output, then blocks reading the barrier pipe; the
    parent closes the write end once all are forked, so all reads return at
    once and every child execs its tool. With at_connect the child execs at
    once instead, with the pipe as fd 3 and a "ready" pipe as fd 4: the tool
    (node with bench/matrix-barrier.cjs, or a dynamically linked program with
    bench/matrix-barrier.c preloaded) blocks on fd 3 before its first
    connection, and the parent releases the batch once all have said so on
    fd 4. Times are wall-clock (time.time()) so they line up with the peer's log.
    """
    r, w = os.pipe()
    ready_r, ready_w = os.pipe()
    pids: dict[int, int] = {}
    for index, (argv, env, d) in enumerate(jobs):
        pid = os.fork()
        if pid == 0:  # the job
            try:
                os.close(w)
                with open("/proc/self/comm", "w") as comm:
                    comm.write(WAITING_COMM)
                devnull = os.open(os.devnull, os.O_RDONLY)
                out = os.open(d / "stdout", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                err = os.open(d / "stderr", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                os.dup2(devnull, 0)
                os.dup2(out, 1)
                os.dup2(err, 2)
                os.chdir(d)
                # Below every peer: STS is a service of its own, not on these cores.
                os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
                if at_connect:
                    # Inheritable copies as fd 3 and 4 (the tool waits on them),
                    # by way of fds >= 10 so neither can overwrite the other.
                    high_r, high_ready = (fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in (r, ready_w))
                    os.dup2(high_r, 3)
                    os.dup2(high_ready, 4)
                else:
                    os.read(r, 1)  # the barrier: EOF when the parent closes w
                os.execve(argv[0], argv, env)
            except BaseException as e:  # noqa: BLE001 (the child must never return)
                try:
                    os.write(2, f"matrix.py: cannot run {argv[0]}: {e}\n".encode())
                finally:
                    os._exit(127)
            finally:
                os._exit(127)
        pids[pid] = index
    os.close(r)

    # Peak concurrency: a sampler counts the jobs that are running the tool
    # (past exec: no longer named WAITING_COMM) and their summed private RSS.
    page = os.sysconf("SC_PAGE_SIZE")
    alive = set(pids)
    lock = threading.Lock()
    peak = {"processes": 0, "rss_bytes": 0, "samples": 0}
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.05):
            with lock:
                current = list(alive)
            count = rss = 0
            for pid in current:
                private = read_job(pid)
                if private is not None:
                    count += 1
                    rss += private * page
            peak["processes"] = max(peak["processes"], count)
            peak["rss_bytes"] = max(peak["rss_bytes"], rss)
            peak["samples"] += 1

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    os.close(ready_w)
    waiting_since = time.time()
    if at_connect:
        # Every job reports once it is at its first connection (or has died).
        arrived = 0
        while arrived < len(pids) and time.time() - waiting_since < BATCH_TIMEOUT_S:
            chunk = os.read(ready_r, 4096)
            if not chunk:
                break  # every job exited or closed fd 4
            arrived += len(chunk)
    else:
        time.sleep(0.2)  # let every child reach the barrier read
    start_up = time.time() - waiting_since
    os.close(ready_r)
    released = time.time()
    os.close(w)

    ended: dict[int, dict] = {}

    def kill_stragglers() -> None:
        with lock:
            for pid in alive:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass

    timer = threading.Timer(BATCH_TIMEOUT_S, kill_stragglers)
    timer.start()
    while len(ended) < len(pids):
        pid, status, usage = os.wait4(-1, 0)
        at = time.time()
        if pid not in pids:
            continue
        with lock:
            alive.discard(pid)
        ended[pids[pid]] = {
            "end": at,
            "exit": os.waitstatus_to_exitcode(status),
            "cpu_s": usage.ru_utime + usage.ru_stime,
            "max_rss_kib": usage.ru_maxrss,
        }
    timer.cancel()
    stop.set()
    sampler.join()
    return {"released": released, "ended": [ended[i] for i in range(len(jobs))], "peak": peak,
            "start_up_s": start_up if at_connect else None}


def succeeded(tool: str, d: Path, exit_code: int) -> bool:
    if exit_code != 0:
        return False
    if tool.startswith(("vault-ci", "boto3")):
        try:
            return bool(json.loads((d / "stdout").read_text()).get("SessionToken"))
        except (ValueError, AttributeError):
            return False
    return "AWS_SESSION_TOKEN<<" in (d / "github_env").read_text()


def failure_reason(tool: str, d: Path) -> str:
    lines = [line.strip() for line in (d / "stderr").read_text(errors="replace").splitlines() if line.strip()]
    if tool.startswith("cac"):
        lines += [line.strip() for line in (d / "stdout").read_text(errors="replace").splitlines()
                  if line.startswith("::error::")]
    return lines[-1][:200] if lines else "(no output)"


def summarize(tool: str, n: int, rate: float, burst: float, batch: dict, log: list[dict],
              jobs: list[tuple[list[str], dict[str, str], Path]]) -> dict:
    t0 = batch["released"]
    durations = [e["end"] - t0 for e in batch["ended"]]
    ok = [succeeded(tool, d, e["exit"]) for (_, _, d), e in zip(jobs, batch["ended"])]
    per_job = {f"job-{i}": 0 for i in range(1, n + 1)}
    unattributed = 0
    for entry in log:
        if entry.get("job") in per_job:
            per_job[entry["job"]] += 1
        else:
            unattributed += 1
    counts = list(per_job.values())
    first: dict[str, float] = {}
    for entry in log:
        if entry.get("job") in per_job:
            first[entry["job"]] = min(first.get(entry["job"], entry["t"]), entry["t"])
    admitted = sum(1 for e in log if e["admitted"])
    actions: dict[str, dict[str, int]] = {}
    for e in log:
        a = actions.setdefault(e["action"] or "(none)", {"admitted": 0, "throttled": 0})
        a["admitted" if e["admitted"] else "throttled"] += 1
    reasons: dict[str, int] = {}
    for ((_, _, d), good) in zip(jobs, ok):
        if not good:
            reason = failure_reason(tool, d)
            reasons[reason] = reasons.get(reason, 0) + 1
    # The floor: the bucket admits `burst` at once and `rate` per second after,
    # so the last of n × needs requests cannot be admitted before this.
    needed = n * NEEDS[tool]
    floor = max(0.0, (needed - burst) / rate)
    # Admitted requests per second of the batch, to see how well the quota was used.
    last = max(durations)
    timeline = [0] * (int(last) + 1)
    for e in log:
        if e["admitted"] and e["t"] >= t0:
            timeline[min(int(e["t"] - t0), len(timeline) - 1)] += 1
    return {
        "tool": tool,
        "jobs": n,
        "succeeded": sum(ok),
        "failed_reasons": reasons,
        "sts_requests": len(log),
        "admitted": admitted,
        "throttled": len(log) - admitted,
        "by_action": actions,
        "unattributed_requests": unattributed,
        "requests_per_job": {"mean": statistics.mean(counts), "max": max(counts), "min": min(counts)},
        "last_job_done_s": last,
        "floor_s": floor,
        "floor_note": f"({n} jobs × {NEEDS[tool]} request(s) − bucket {burst:g}) / {rate:g} per s",
        "duration_s": {"p50": report.quantile(durations, 0.5), "p95": report.quantile(durations, 0.95),
                       "min": min(durations), "max": last},
        "first_requests_s": [min(first.values()) - t0, max(first.values()) - t0] if first else None,
        "start_up_before_release_s": batch["start_up_s"],
        "peak_processes": batch["peak"]["processes"],
        "peak_private_rss_mib": batch["peak"]["rss_bytes"] / 2**20,
        "cpu_s_total": sum(e["cpu_s"] for e in batch["ended"]),
        "admitted_per_second": timeline,
        "exit_codes": sorted({e["exit"] for e in batch["ended"]}),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="50 jobs, rate and bucket 12.5 (same 3 s floor)")
    parser.add_argument("--jobs", type=int)
    parser.add_argument("--rate", type=float)
    parser.add_argument("--burst", type=float)
    parser.add_argument("--vault-ci", default=shutil.which("vault-ci"), help="the binary (default: on PATH)")
    parser.add_argument("--warm-vault-ci", metavar="BIN",
                        help="a dynamically linked build for the vault-ci-warm batch (LD_PRELOAD cannot reach a "
                             "static one; default: --vault-ci if it is dynamically linked)")
    parser.add_argument("--cac", help=f"the {CAC_NAME} directory (default: shared/peers/ beside the repo)")
    parser.add_argument("--upstream", choices=("self", "moto"), default="self",
                        help="who answers admitted requests: the peer itself (default), or moto behind it")
    parser.add_argument("--tools", default="vault-ci,vault-ci-warm,cac,cac-warm",
                        help="comma-separated: vault-ci, vault-ci-warm, cac, cac-warm "
                             "(and, to check retry_sim.py, boto3-standard-warm, boto3-adaptive-warm)")
    parser.add_argument("--out", default=str(ROOT / "target" / "bench-results" / "matrix"))
    args = parser.parse_args()
    # Each job runs in a directory of its own: the binaries are named absolutely.
    args.vault_ci = os.path.abspath(args.vault_ci) if args.vault_ci else None
    args.warm_vault_ci = os.path.abspath(args.warm_vault_ci) if args.warm_vault_ci else None
    for binary in (args.vault_ci, args.warm_vault_ci):
        if binary and not os.access(binary, os.X_OK):
            parser.error(f"{binary} is not an executable file")
    n = args.jobs or (50 if args.quick else 200)
    rate = args.rate or (12.5 if args.quick else 50.0)
    burst = args.burst or (12.5 if args.quick else 50.0)
    tools = [t for t in args.tools.split(",") if t]
    if not args.vault_ci and "vault-ci" in tools:
        parser.error("no vault-ci on PATH: pass --vault-ci BIN")
    cac = find_cac(args.cac)
    if any(t.startswith("cac") for t in tools) and (cac is None or not shutil.which("node")):
        say(f"{CAC_NAME} (--cac DIR or VAULT_CI_CAC_DIR) or node not found: its batches are skipped")
        tools = [t for t in tools if not t.startswith("cac")]

    warm_vault_ci = args.warm_vault_ci or (args.vault_ci if args.vault_ci and dynamically_linked(args.vault_ci) else None)
    if "vault-ci-warm" in tools and not warm_vault_ci:
        say("no dynamically linked vault-ci (--warm-vault-ci BIN): the vault-ci-warm batch is skipped")
        tools.remove("vault-ci-warm")

    started = time.time()
    out = Path(args.out)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    work = Path(tempfile.mkdtemp(prefix="vault-ci-matrix."))
    peers: list[Peer] = []
    results: dict = {
        "mode": "quick" if args.quick else "full", "jobs": n, "rate": rate, "burst": burst,
        "upstream": args.upstream, "date": time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime()),
        "nproc": os.cpu_count(), "tools": {},
        "priorities": "jobs SCHED_IDLE, peers nice -10",
    }
    try:
        token = work / "token.jwt"
        token.write_text(subprocess.run(
            [sys.executable, str(PEER), "mint-token", "--aud", "sts.amazonaws.com", "--exp-in", "7200"],
            check=True, capture_output=True, text=True).stdout.strip())
        preloaded = [t for t in tools if t == "vault-ci-warm" or t.startswith("boto3")]
        barrier_so = build_barrier(work) if preloaded else None
        if preloaded and barrier_so is None:
            say(f"no C compiler: the {', '.join(preloaded)} batch(es) are skipped")
            tools = [t for t in tools if t not in preloaded]
        forward: list[str] = []
        if args.upstream == "moto":
            say("starting moto (the upstream STS)")
            moto = Peer(work, "moto", "moto")
            peers.append(moto)
            forward = ["--forward", moto.ready["endpoint"]]
            if not moto.prioritized:
                results["priorities"] = "jobs SCHED_IDLE, peers nice 0 (not root)"
        for tool in tools:
            peer = Peer(work, f"throttled-{tool}", "throttled-sts", "--rate", str(rate), "--burst", str(burst), *forward)
            peers.append(peer)
            if not peer.prioritized:
                results["priorities"] = "jobs SCHED_IDLE, peers nice 0 (not root)"
            binary = warm_vault_ci if tool == "vault-ci-warm" else args.vault_ci
            jobs = job_commands(tool, n, work, peer.ready["endpoint"], token, binary, cac, barrier_so)
            say(f"{tool}: {n} jobs at once against {rate:g} requests/s (bucket {burst:g})")
            batch = run_batch(tool, jobs, at_connect=tool.endswith("-warm"))
            time.sleep(0.2)
            with urllib.request.urlopen(peer.ready["log"], timeout=30) as response:
                log = json.loads(response.read())
            peer.stop()
            (out / tool).mkdir()
            (out / tool / "sts-log.json").write_text(json.dumps(log, indent=0))
            summary = summarize(tool, n, rate, burst, batch, log, jobs)
            for _, _, d in jobs[: min(n, 5)]:
                shutil.copytree(d, out / tool / d.name)
            failed = [d for (_, _, d), e in zip(jobs, batch["ended"]) if not succeeded(tool, d, e["exit"])]
            for d in failed[:5]:
                if not (out / tool / d.name).exists():
                    shutil.copytree(d, out / tool / d.name)
            results["tools"][tool] = summary
            say(f"{tool}: {summary['succeeded']}/{n} succeeded, {summary['sts_requests']} STS requests, "
                f"last job done at {summary['last_job_done_s']:.2f} s")
        if args.vault_ci:
            results["vault_ci"] = subprocess.run([args.vault_ci, "--version"], capture_output=True, text=True).stdout.strip()
            results["vault_ci_binary"] = args.vault_ci
        if warm_vault_ci and "vault-ci-warm" in tools:
            results["vault_ci_warm_binary"] = warm_vault_ci
        if any(t.startswith("cac") for t in tools):
            results["cac"] = CAC_NAME
            results["node"] = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
        results["total_s"] = time.time() - started
    finally:
        for peer in peers:
            peer.stop()
        shutil.rmtree(work, ignore_errors=True)
    (out / "matrix.json").write_text(json.dumps(results, indent=2) + "\n")
    table = report.matrix_section(results)
    (out / "table.md").write_text(table)
    sys.stdout.write(table)
    say(f"done in {results['total_s']:.0f} s; results in {out}")
    # Throttled or not, every job reaches STS at least once: a batch that never
    # did measured nothing (the tool could not run), and that is an error.
    broken = [t for t, r in results["tools"].items() if r["sts_requests"] == 0]
    if broken:
        for tool in broken:
            reasons = "; ".join(results["tools"][tool]["failed_reasons"]) or "?"
            say(f"error: no {tool} job reached STS ({reasons})")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
