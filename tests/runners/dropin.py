#!/usr/bin/env python3
"""Runs one scenario under aws-actions/configure-aws-credentials 6.2.3 ("CAC") and
under vault-ci's action, against the same peers, and says where they differ.

  dropin.py SCENARIO.yml [--peers JSON] [--vault-ci BINARY] [--cac DIR] [--keep DIR]

Both runs are the same job run by tests/runners/ci.py (the GitHub-runner emulation):
CAC as the node action it is (`node dist/index.js`, INPUT_* from `with:` plus its
action.yml defaults), vault-ci as its composite action `vault-ci/vault-ci@main` with
this build preinstalled on PATH. Each run gets fresh temp dirs (HOME, ~/.aws, the
workspace, RUNNER_TEMP) and the same runner variables. After the action step(s) a
later step runs `aws sts get-caller-identity` (with `--profile NAME` when the last
action step writes a profile) with whatever the steps exported, as a workflow would.

SCENARIO (YAML or JSON, read with GitHub's YAML rules):
  sts: moto | moto-auth        which STS peer (default moto; moto-auth checks SigV4 + IAM)
  permissions: {id-token: write}   the job may mint OIDC tokens (github-token peer)
  env: {NAME: value}           the job's env:
  files: {PATH: text}          files before the job: `~/…` under HOME, others in the workspace
  sts-faults: [STATUS:CODE, …] the first STS requests of each run get these errors
  sts-delay: SECONDS           every STS request of the action steps waits this long
  with: {input: value}         shorthand for steps: [{uses: ACTION, with: …}]
  steps: [ … ]                 earlier `run:` steps and the action step(s): `uses: ACTION`
Strings may hold placeholders: <sts> (the STS endpoint both tools are given: a recorder
forwarding to moto), <moto> (moto itself), <account>, <role:NAME>, <deploy-user-key>,
<deploy-user-secret>, <proxy>, <oidc-token> (one GitHub OIDC token for the scenario).

--peers is a JSON object of the peers' ready lines ({"moto": …, "moto-auth": …,
"github": …, "proxy": …}, see tests/peers/README.md); peers it lacks are started here.

Prints one JSON report: {"agree", "differences": [..], "normalisations": [..],
"comparison_rules": [..], "compared": {"cac", "vault-ci"}, "cac": {..}, "vault-ci": {..}}
("compared" is what was compared, the tools' entries everything recorded of their runs,
logs included); exits 0 when they agree, 1 when they differ, 2 when the scenario could
not be run.
"""

from __future__ import annotations

import argparse
import base64
import configparser
import datetime
import http.client
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ci import as_input, load_workflow  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
PEER_PY = REPO / "tests/peers/peer.py"
CI_PY = REPO / "tests/runners/ci.py"
CAC_DIR = Path("/work/shared/peers/configure-aws-credentials-6.2.3")
CAC_USES = "aws-actions/configure-aws-credentials@v6.2.3"
VAULT_CI_USES = "vault-ci/vault-ci@main"
RUN_ID, RUN_ATTEMPT = "4242", "2"
DEFAULT_SESSION = {"cac": "GitHubActions", "vault-ci": f"github-{RUN_ID}-{RUN_ATTEMPT}"}
ROLE_CALLS = ("AssumeRole", "AssumeRoleWithWebIdentity")
SECRET_OUTPUTS = {
    "aws-access-key-id": "AWS_ACCESS_KEY_ID",
    "aws-secret-access-key": "AWS_SECRET_ACCESS_KEY",
    "aws-session-token": "AWS_SESSION_TOKEN",
}
PLAIN_VARIABLES = ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE")

# The deliberate differences vault-ci documents (its README lists them); nothing else may differ.
NORMALISATIONS = [
    "vault-ci also exports AWS_CREDENTIAL_EXPIRATION and sets the output aws-role-arn: both are left out.",
    "aws-expiration: CAC's is a JSON-quoted ISO string with milliseconds (\"2030-01-02T03:04:05.000Z\"), "
    "vault-ci's RFC 3339 without quotes: each must be in its own form, and they are compared as instants "
    "(as the lifetime, when role-duration-seconds is given).",
    "Default session name (CAC GitHubActions, vault-ci github-<run id>-<attempt>): for a step that does not set "
    "role-session-name, a session name equal to the tool's default is compared as <default>.",
    "Default duration (CAC 3600 s, vault-ci 900 s): DurationSeconds and the credential lifetime are compared "
    "only for a step that sets role-duration-seconds.",
    "Error messages are reported, not compared: which step failed is.",
    "After a failed step, what it exported is reported, not compared (no later step runs; CAC leaves what it "
    "exported before the error, vault-ci takes its exports back).",
    "inline-session-policy is compared as JSON: vault-ci sends it minified (STS counts its characters).",
    "Outputs vault-ci sets that CAC leaves empty (aws-account-id and authenticated-arn with "
    "output-env-credentials false) are left out: no workflow can rely on an output being empty.",
    "vault-ci checks allowed-account-ids against the role's ARN before any request: when both refuse the "
    "account, the request CAC made first is not compared.",
]

# How the comparison looks at a run: what a workflow can observe, nothing of how a tool gets there.
COMPARISON_RULES = [
    "Only role-assuming STS requests (AssumeRole, AssumeRoleWithWebIdentity) are compared, per action step and "
    "in order, not GetCallerIdentity; identical consecutive requests (retries, special-characters-workaround) "
    "count once; an empty TransitiveTagKeys list is no list; a web-identity token is compared by its aud claim.",
    "Credential values differ by nature: exported ones are compared as <set> or empty, credential outputs as "
    "`= <the exported variable>` or <set>; an empty output is the same as one not set.",
    "Whether the account id reaches the log is compared only when a step sets mask-aws-account-id.",
    "When the steps' outcomes differ, only that (with each failing tool's error), the unexpected inputs and the "
    "STS role requests are listed: the rest follows from it.",
]


class ScenarioError(Exception):
    pass


# --------------------------------------------------------------------------
# Peers
# --------------------------------------------------------------------------


class Peers:
    """The peers' ready lines; those not given are started here for this run."""

    COMMANDS = {"moto": ["moto"], "moto-auth": ["moto", "--auth"], "github": ["github-token"], "proxy": ["proxy"]}

    def __init__(self, given: dict) -> None:
        self.info = dict(given)
        self.processes: list[subprocess.Popen] = []

    def __getitem__(self, name: str) -> dict:
        if name not in self.info:
            process = subprocess.Popen(
                [sys.executable, str(PEER_PY), *self.COMMANDS[name]],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            self.processes.append(process)
            line = process.stdout.readline()
            if not line:
                raise ScenarioError(f"peer {name} did not start")
            self.info[name] = json.loads(line)
        return self.info[name]

    def close(self) -> None:
        for process in self.processes:
            process.stdin.close()
            process.wait(timeout=10)


def get_json(url: str, headers: dict | None = None):
    request = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


# --------------------------------------------------------------------------
# The STS both tools are given: a recorder in front of moto
# --------------------------------------------------------------------------


def jwt_claims(token: str) -> dict:
    try:
        payload = token.strip().split(".")[1]
        return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return {}


def sts_request(form: dict, authorization: str) -> dict:
    """What a request asked STS for, in a form both tools can be compared in."""
    value = lambda name: form.get(name, [None])[0]  # noqa: E731
    members = lambda prefix: [  # noqa: E731
        form[k][0] for k in sorted((k for k in form if re.fullmatch(re.escape(prefix) + r"\d+", k)),
                                   key=lambda k: int(k[len(prefix):]))]
    request = {"Action": value("Action")}
    for name in ("RoleArn", "RoleSessionName", "DurationSeconds", "ExternalId", "Policy", "ProviderId",
                 "SerialNumber"):
        if value(name) is not None:
            request[name] = value(name)
    tags = {}
    for n in range(1, 51):
        if f"Tags.member.{n}.Key" in form:
            tags[value(f"Tags.member.{n}.Key")] = value(f"Tags.member.{n}.Value") or ""
    if tags:
        request["Tags"] = tags
    # `TransitiveTagKeys=` (an empty list on the wire) and no list are the same request.
    transitive = sorted(members("TransitiveTagKeys.member."))
    if transitive:
        request["TransitiveTagKeys"] = transitive
    policy_arns = members("PolicyArns.member.") or [
        form[k][0] for k in sorted(k for k in form if re.fullmatch(r"PolicyArns\.member\.\d+\.arn", k))]
    if policy_arns:
        request["PolicyArns"] = policy_arns
    if value("WebIdentityToken") is not None:
        request["WebIdentityToken"] = {"aud": jwt_claims(value("WebIdentityToken")).get("aud")}
    scope = re.search(r"Credential=[^/]+/\d{8}/([^/]+)/([^/]+)/", authorization or "")
    request["signed"] = f"{scope.group(1)}/{scope.group(2)}" if scope else "unsigned"
    return request


class Recorder:
    """Forwards STS requests to moto, recording what each asked for; answers the
    first requests of a run with scripted faults, or late, when the scenario says so."""

    def __init__(self, upstream: str) -> None:
        self.upstream = urllib.parse.urlsplit(upstream)
        self.lock = threading.Lock()
        self.reset([], 0)
        recorder = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_args) -> None:
                pass

            def send(self, status: int, body: bytes, content_type: str = "text/xml") -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                # `GET /_mark/N`: the action steps after this one are step N.
                mark = re.fullmatch(r"/_mark/(\d+)", self.path)
                if mark:
                    with recorder.lock:
                        recorder.step = int(mark.group(1))
                    self.send(200, b"ok\n", "text/plain")
                else:
                    self.send(404, b"", "text/plain")

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                form = urllib.parse.parse_qs(body.decode(errors="replace"), keep_blank_values=True)
                with recorder.lock:
                    fault = recorder.faults.pop(0) if recorder.faults else None
                    entry = sts_request(form, self.headers.get("Authorization", ""))
                    entry["step"] = recorder.step
                    recorder.requests.append(entry)
                    delay = recorder.delay
                if delay:
                    time.sleep(delay)
                if fault:
                    status, code = fault.split(":", 1)
                    entry["answer"] = int(status)
                    self.send(int(status), (
                        '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error>'
                        f"<Type>Receiver</Type><Code>{code}</Code><Message>{code} (scripted)</Message>"
                        "</Error><RequestId>00000000-0000-0000-0000-000000000000</RequestId></ErrorResponse>"
                    ).encode())
                    return
                upstream = recorder.upstream
                connection = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=60)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection", "keep-alive")}
                # The Host header is signed: moto must see the one the client signed.
                connection.request("POST", self.path, body=body, headers=headers)
                response = connection.getresponse()
                payload = response.read()
                connection.close()
                entry["answer"] = response.status
                self.send(response.status, payload, response.getheader("Content-Type", "text/xml"))

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def reset(self, faults: list[str], delay: float) -> None:
        with self.lock:
            self.requests: list[dict] = []
            self.faults = list(faults)
            self.delay = delay
            self.step = 0

    def stop_delaying(self) -> None:
        with self.lock:
            self.delay = 0


# --------------------------------------------------------------------------
# One run of the job
# --------------------------------------------------------------------------


def substitute(value, table: dict):
    if isinstance(value, dict):
        return {substitute(k, table): substitute(v, table) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, table) for v in value]
    if isinstance(value, str):
        def one(match: re.Match) -> str:
            if match.group(0) not in table:
                raise ScenarioError(f"unknown placeholder {match.group(0)}")
            return table[match.group(0)]
        return re.sub(r"<(?:sts|moto|account|proxy|oidc-token|deploy-user-key|deploy-user-secret|role:[\w+=,.@-]+)>",
                      one, value)
    return value


def path_without_vault_ci() -> list[str]:
    return [d for d in os.environ.get("PATH", "").split(os.pathsep) if d and not (Path(d) / "vault-ci").exists()]


def runner_env(root: Path, bin_dir: Path, oidc: dict | None) -> dict:
    """What a GitHub-hosted runner gives every step of a push-triggered job."""
    home, workspace = root / "home", root / "workspace"
    env = {
        "PATH": os.pathsep.join([str(bin_dir), *path_without_vault_ci()]),
        "LANG": os.environ.get("LANG", "C.UTF-8"),
        "HOME": str(home),
        "AWS_CONFIG_FILE": str(home / ".aws/config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / ".aws/credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "CI": "true",
        "GITHUB_ACTIONS": "true",
        "GITHUB_SERVER_URL": "file:///nonexistent",
        "GITHUB_REPOSITORY": "octo-org/octo-repo",
        "GITHUB_REPOSITORY_OWNER": "octo-org",
        "GITHUB_WORKFLOW": "deploy",
        "GITHUB_JOB": "deploy",
        "GITHUB_ACTION": "aws",
        "GITHUB_ACTOR": "octocat",
        "GITHUB_TRIGGERING_ACTOR": "octocat",
        "GITHUB_EVENT_NAME": "push",
        "GITHUB_REF": "refs/heads/main",
        "GITHUB_REF_NAME": "main",
        "GITHUB_REF_TYPE": "branch",
        "GITHUB_BASE_REF": "",
        "GITHUB_HEAD_REF": "",
        "GITHUB_SHA": "8f2a3c5e9d0b1a4c7e6f8a9b0c1d2e3f4a5b6c7d",
        "GITHUB_RUN_ID": RUN_ID,
        "GITHUB_RUN_NUMBER": "10",
        "GITHUB_RUN_ATTEMPT": RUN_ATTEMPT,
        "GITHUB_WORKSPACE": str(workspace),
        "RUNNER_OS": "Linux",
        "RUNNER_ARCH": "ARM64" if os.uname().machine in ("aarch64", "arm64") else "X64",
        "RUNNER_TEMP": str(root / "runner-temp"),
        "RUNNER_TOOL_CACHE": str(root / "tool-cache"),
    }
    if oidc:
        env["ACTIONS_ID_TOKEN_REQUEST_URL"] = oidc["url"]
        env["ACTIONS_ID_TOKEN_REQUEST_TOKEN"] = oidc["request_token"]
    return env


def action_steps(job_steps: list[dict]) -> list[int]:
    return [i for i, step in enumerate(job_steps) if step.get("uses") == "ACTION"]


def build_job(scenario: dict, tool: str, recorder: Recorder, moto: str, caller_file: Path) -> dict:
    steps, n = [], 0
    for step in scenario["steps"]:
        step = dict(step)
        if step.get("uses") == "ACTION":
            n += 1
            # Invisible to both tools: tells the recorder which action step asks next.
            steps.append({"name": f"dropin: step {n}", "run": f"curl -fsS --noproxy '*' -o /dev/null {recorder.url}/_mark/{n}"})
            step["uses"] = CAC_USES if tool == "cac" else VAULT_CI_USES
            step.setdefault("id", f"aws{n}")
        steps.append(step)
    profile = scenario["profile"]
    steps.append({
        "name": "later step",
        "env": {"AWS_ENDPOINT_URL_STS": moto},
        "run": (
            f"if aws sts get-caller-identity --output json{' --profile ' + profile if profile else ''}"
            f" > '{caller_file}' 2> '{caller_file}.err'; then cat '{caller_file}'; else cat '{caller_file}.err'; fi"
        ),
    })
    return {"env": scenario.get("env") or {}, "steps": steps}


def parse_instant(text: str) -> datetime.datetime | None:
    try:
        return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def read_ini(path: Path) -> dict | None:
    if not path.exists():
        return None
    parser = configparser.RawConfigParser(default_section="\0none")
    parser.read_string(path.read_text())
    return {
        "mode": oct(path.stat().st_mode & 0o777),
        "sections": {s: dict(parser.items(s)) for s in parser.sections()},
    }


def run_tool(tool: str, scenario: dict, root: Path, recorder: Recorder, peers: Peers, args) -> dict:
    root.mkdir(parents=True)
    for name in ("home", "workspace", "runner-temp", "tool-cache", "bin"):
        (root / name).mkdir()
    (root / "bin/vault-ci").symlink_to(Path(args.vault_ci).resolve())
    for name, text in (scenario.get("files") or {}).items():
        path = root / "home" / name[2:] if name.startswith("~/") else root / "workspace" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)

    sts = peers[scenario["sts"]]
    oidc = peers["github"] if scenario["oidc"] else None
    env = runner_env(root, root / "bin", oidc)
    caller_file = root / "runner-temp/caller.json"
    job = build_job(scenario, tool, recorder, sts["endpoint"], caller_file)
    job_file = root / "job.json"
    job_file.write_text(json.dumps(job, indent=2))

    uses_proxy = any("http-proxy" in (s.get("with") or {}) for s in scenario["steps"]) \
        or "HTTPS_PROXY" in (scenario.get("env") or {}) or "HTTP_PROXY" in (scenario.get("env") or {})
    proxy_seen = len(get_json(peers["proxy"]["log"])) if uses_proxy else 0

    recorder.reset(scenario.get("sts-faults") or [], float(scenario.get("sts-delay") or 0))
    started = time.monotonic()
    process = subprocess.run(
        [sys.executable, str(CI_PY), "github", str(job_file),
         "--action", f"aws-actions/configure-aws-credentials={args.cac}",
         "--action", f"vault-ci/vault-ci={args.action}"],
        env=env, cwd=root / "workspace", stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300)
    elapsed = time.monotonic() - started
    recorder.stop_delaying()
    if process.returncode != 0:
        raise ScenarioError(f"ci.py could not run the {tool} job ({process.returncode}):\n{process.stderr}")
    report = json.loads(process.stdout)
    finished = datetime.datetime.now(datetime.timezone.utc)

    # The job's steps without the recorder's markers and the later step.
    steps = [s for s in report["steps"] if not s["name"].startswith("dropin: ")]
    later = steps.pop()
    indices = action_steps(scenario["steps"])
    acting = [steps[i] for i in indices]
    exported: dict[str, str] = {}
    for step in acting:
        exported.update(step["env"])
    final_env = dict(report["env"])

    caller, later_error = None, None
    if later["outcome"] == "success":
        try:
            caller = json.loads(caller_file.read_text()).get("Arn")
        except (OSError, ValueError):
            later_error = (Path(f"{caller_file}.err").read_text().strip().splitlines() or [""])[-1]

    annotations = report["annotations"]
    log = report["log"]
    secrets = {v for k, v in final_env.items() if k in ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN") and v}
    secrets |= {peers[scenario["sts"]]["deploy_user"]["secret_access_key"]}
    home = root / "home"
    result = {
        "steps": [s["outcome"] for s in acting],
        "errors": [a["message"] for a in annotations if a["level"] == "error"],
        "warnings": [a["message"] for a in annotations if a["level"] == "warning"],
        "unexpected_inputs": sorted({
            name for a in annotations if a["level"] == "warning"
            for m in [re.match(r"Unexpected input\(s\) '(.*?)', valid inputs are", a["message"])] if m
            for name in m.group(1).split("', '")}),
        "later_step": later["outcome"] if later["outcome"] != "success" else ("ok" if caller else "failed"),
        "later_step_error": later_error,
        "caller_arn": caller,
        "exported": exported,
        "outputs": acting[-1]["outputs"] if acting else {},
        "final_env": {k: v for k, v in final_env.items()},
        "profiles": {
            "credentials": read_ini(home / ".aws/credentials"),
            "config": read_ini(home / ".aws/config"),
        },
        "sts_requests": recorder.requests,
        "finished": finished.isoformat(),
        "secrets_in_log": sorted(s[:4] + "…" for s in secrets if s in log),
        "account_in_log": peers[scenario["sts"]]["account_id"] in log,
        "seconds": round(elapsed, 2),
        "log": log,
    }
    if uses_proxy:
        port = f"127.0.0.1:{recorder.server.server_port}"
        result["through_proxy"] = [t for t in get_json(peers["proxy"]["log"])[proxy_seen:] if port in t]
    return result


# --------------------------------------------------------------------------
# Comparison
# --------------------------------------------------------------------------


def truthy(value) -> bool:
    return as_input(value) in ("true", "True", "TRUE")


def session_names(scenario: dict) -> set[str]:
    return {as_input(s["with"].get("role-session-name")) for s in scenario["steps"]
            if s.get("uses") == "ACTION" and (s.get("with") or {}).get("role-session-name")}


def normal_arn(arn: str | None, tool: str, explicit: set[str]) -> str | None:
    if not arn:
        return arn
    match = re.fullmatch(r"(arn:[^:]+:sts::[^:]*:assumed-role/[^/]+/)(.*)", arn)
    if match and match.group(2) == DEFAULT_SESSION[tool] and match.group(2) not in explicit:
        return match.group(1) + "<default>"
    return arn


def view(tool: str, run: dict, scenario: dict) -> dict:
    """What is compared of one run, after the documented normalisations."""
    explicit = session_names(scenario)
    action = [s.get("with") or {} for s in scenario["steps"] if s.get("uses") == "ACTION"]
    failed = "failure" in run["steps"]

    exported = {}
    for name, value in sorted(run["exported"].items()):
        if tool == "vault-ci" and name == "AWS_CREDENTIAL_EXPIRATION":
            continue
        exported[name] = value if name in PLAIN_VARIABLES or value == "" else "<set>"

    outputs = {}
    for name, value in sorted(run["outputs"].items()):
        if value == "" or (tool == "vault-ci" and name == "aws-role-arn"):
            continue
        if name == "aws-expiration":
            if tool == "cac":
                good = re.fullmatch(r'"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"', value)
                instant = parse_instant(value.strip('"')) if good else None
            else:
                instant = parse_instant(value) if not value.startswith('"') else None
            outputs[name] = "<instant>" if instant else value
        elif name in SECRET_OUTPUTS:
            same = run["final_env"].get(SECRET_OUTPUTS[name]) == value
            outputs[name] = f"= {SECRET_OUTPUTS[name]}" if same else "<set>"
        elif name == "authenticated-arn" and value.endswith(":user/moto"):
            # moto's GetCallerIdentity for a session it cannot place (aws-cn web identity):
            # CAC asks it, vault-ci takes STS's own answer; real STS gives both the same.
            continue
        elif name == "authenticated-arn":
            outputs[name] = normal_arn(value, tool, explicit)
        else:
            outputs[name] = value

    profiles = {}
    for kind, ini in run["profiles"].items():
        if ini is None:
            continue
        sections = {
            section: {k: (v if k in ("region", "output") else "<set>") for k, v in sorted(keys.items())}
            for section, keys in ini["sections"].items()
        }
        profiles[kind] = {"mode": ini["mode"], "sections": sections}

    requests = []
    for entry in run["sts_requests"]:
        if entry["Action"] not in ROLE_CALLS:
            continue
        step = entry["step"]
        inputs = action[step - 1] if 0 < step <= len(action) else {}
        request = {k: v for k, v in entry.items() if k not in ("answer",)}
        if "Policy" in request:
            try:
                request["Policy"] = json.loads(request["Policy"])
            except ValueError:
                pass
        if not inputs.get("role-session-name") and request.get("RoleSessionName") == DEFAULT_SESSION[tool]:
            request["RoleSessionName"] = "<default>"
        if not inputs.get("role-duration-seconds"):
            request.pop("DurationSeconds", None)
        if not requests or requests[-1] != request:
            requests.append(request)

    compared = {
        "steps": run["steps"],
        "unexpected inputs": run["unexpected_inputs"],
        "later step": run["later_step"],
        "caller ARN of the later step": normal_arn(run["caller_arn"], tool, explicit),
        "outputs": outputs,
        "profile files": profiles,
        "STS role requests": requests,
        "secrets in the log": run["secrets_in_log"],
    }
    if any(truthy(w.get("mask-aws-account-id")) for w in action):
        # Only then: otherwise whether a tool logs role ARNs (which hold the account) is its own affair.
        compared["account id in the log"] = run["account_in_log"]
    if not failed:
        compared["exported"] = exported
    if action and action[-1].get("role-duration-seconds"):
        expiration = run["outputs"].get("aws-expiration", "").strip('"')
        instant = parse_instant(expiration) if expiration else None
        finished = datetime.datetime.fromisoformat(run["finished"])
        compared["lifetime (s, to the minute)"] = (
            round((instant - finished).total_seconds() / 60) * 60 if instant else None)
    if any(truthy(w.get("special-characters-workaround")) for w in action):
        secret = run["final_env"].get("AWS_SECRET_ACCESS_KEY", "")
        compared["final secret key has special characters"] = bool(
            re.search(r"[!@#$%^&*()_+\-=\[\]{};':\"\\|,.<>/?]", secret)) if secret else None
    if "through_proxy" in run:
        compared["STS through the proxy"] = bool(run["through_proxy"])
    return compared


def describe(value) -> str:
    if value is None:
        return "(none)"
    return json.dumps(value, sort_keys=True)


def first_error(run: dict) -> str:
    """Why a run failed: its first ::error::, or else the last thing its log said."""
    if run["errors"]:
        text = run["errors"][0].replace("%0D", "").replace("%0A", " / ").replace("%25", "%")
        return f" ({text[:300]})"
    if "failure" not in run["steps"]:
        return ""
    lines = [line.strip() for line in run["log"].split("Error: Process completed")[0].splitlines() if line.strip()]
    # vault-ci's own error line, else whatever came last.
    said = next((line for line in reversed(lines) if line.startswith("vault-ci: ")), lines[-1] if lines else "")
    return f" (no ::error:: annotation; the log says {said[:300]!r})"


def differences(cac: dict, vault_ci: dict, runs: dict) -> list[str]:
    found = []
    cac, vault_ci = dict(cac), dict(vault_ci)
    # vault-ci may set more outputs than CAC; never fewer, never other values.
    vault_ci["outputs"] = {k: v for k, v in vault_ci["outputs"].items()
                           if k in cac["outputs"] or k not in ("aws-account-id", "authenticated-arn")}
    account_guard = "not among --allowed-account-id"
    if ("failure" in cac["steps"] and "failure" in vault_ci["steps"]
            and any(account_guard in e for e in runs["vault-ci"]["log"].splitlines())):
        cac["STS role requests"] = vault_ci["STS role requests"]
    keys = dict.fromkeys([*cac, *vault_ci])
    if cac["steps"] != vault_ci["steps"]:
        # When one fails and the other does not, the rest follows from that: say why it failed.
        found.append(f"steps: CAC {describe(cac['steps'])}{first_error(runs['cac'])}, "
                     f"vault-ci {describe(vault_ci['steps'])}{first_error(runs['vault-ci'])}")
        keys = ["unexpected inputs", "STS role requests"]
    for key in keys:
        a, b = cac.get(key), vault_ci.get(key)
        if a == b:
            continue
        if isinstance(a, dict) and isinstance(b, dict):
            for sub in dict.fromkeys([*a, *b]):
                if a.get(sub, "∅") != b.get(sub, "∅"):
                    found.append(f"{key} {sub}: CAC {describe(a.get(sub))}, vault-ci {describe(b.get(sub))}")
        elif isinstance(a, list) and isinstance(b, list) and key == "STS role requests" and len(a) == len(b):
            for n, (x, y) in enumerate(zip(a, b), 1):
                for field in dict.fromkeys([*x, *y]):
                    if x.get(field, "∅") != y.get(field, "∅"):
                        found.append(f"{key} #{n} ({x.get('Action')}) {field}: "
                                     f"CAC {describe(x.get(field))}, vault-ci {describe(y.get(field))}")
        else:
            found.append(f"{key}: CAC {describe(a)}, vault-ci {describe(b)}")
    return found


# --------------------------------------------------------------------------


def load_scenario(path: Path) -> dict:
    scenario = load_workflow(path.read_text()) or {}
    if "with" in scenario:
        if "steps" in scenario:
            raise ScenarioError("give `with:` or `steps:`, not both")
        scenario["steps"] = [{"uses": "ACTION", "with": scenario.pop("with")}]
    if not action_steps(scenario.get("steps") or []):
        raise ScenarioError("the scenario has no `uses: ACTION` step")
    scenario.setdefault("sts", "moto")
    if scenario["sts"] not in ("moto", "moto-auth"):
        raise ScenarioError(f"sts: {scenario['sts']!r} is not moto or moto-auth")
    scenario["oidc"] = (scenario.get("permissions") or {}).get("id-token") == "write"
    last = [s for s in scenario["steps"] if s.get("uses") == "ACTION"][-1]
    scenario["profile"] = as_input((last.get("with") or {}).get("aws-profile")) or None
    return scenario


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", type=Path)
    parser.add_argument("--peers", default="{}", help="JSON: the peers' ready lines by name")
    parser.add_argument("--vault-ci", default=str(REPO / "target/debug/vault-ci"), help="the vault-ci binary")
    parser.add_argument("--cac", type=Path, default=CAC_DIR, help="configure-aws-credentials 6.2.3")
    parser.add_argument("--action", type=Path, default=REPO,
                        help="vault-ci's action as released (its install.sh pinning --vault-ci's digest)")
    parser.add_argument("--keep", type=Path, help="run in this directory and keep it")
    args = parser.parse_args()

    peers = Peers(json.loads(args.peers))
    root = args.keep or Path(tempfile.mkdtemp(prefix="dropin."))
    try:
        scenario = load_scenario(args.scenario)
        if not (args.cac / "dist/index.js").is_file():
            raise ScenarioError(f"no configure-aws-credentials at {args.cac}")
        if not Path(args.vault_ci).is_file():
            raise ScenarioError(f"no vault-ci binary at {args.vault_ci}")
        sts = peers[scenario["sts"]]
        recorder = Recorder(sts["endpoint"])
        table = {
            "<sts>": recorder.url,
            "<moto>": sts["endpoint"],
            "<account>": sts["account_id"],
            "<deploy-user-key>": sts["deploy_user"]["access_key_id"],
            "<deploy-user-secret>": sts["deploy_user"]["secret_access_key"],
            **{f"<role:{name}>": arn for name, arn in sts["roles"].items()},
        }
        text = json.dumps(scenario)
        if "<proxy>" in text:
            table["<proxy>"] = peers["proxy"]["url"]
        if "<oidc-token>" in text:
            github = peers["github"]
            table["<oidc-token>"] = get_json(
                f"{github['url']}&audience=sts.amazonaws.com",
                {"Authorization": f"Bearer {github['request_token']}"})["value"]
        scenario = substitute(scenario, table)

        runs = {tool: run_tool(tool, scenario, root / tool, recorder, peers, args) for tool in ("cac", "vault-ci")}
        views = {tool: view(tool, run, scenario) for tool, run in runs.items()}
        found = differences(views["cac"], views["vault-ci"], runs)
        json.dump({
            "agree": not found,
            "differences": found,
            "normalisations": NORMALISATIONS,
            "comparison_rules": COMPARISON_RULES,
            "compared": views,
            "cac": runs["cac"],
            "vault-ci": runs["vault-ci"],
        }, sys.stdout, indent=2)
        print()
        return 0 if not found else 1
    except ScenarioError as e:
        print(f"dropin.py: {e}", file=sys.stderr)
        return 2
    finally:
        peers.close()
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
