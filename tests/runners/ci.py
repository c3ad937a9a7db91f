#!/usr/bin/env python3
"""Runs a job's steps the way the GitHub Actions runner or CircleCI runs them, so
the action and the orb are tested as their users run them (tests/packaging.rs).

  ci.py github JOB.yml [--action OWNER/REPO=DIR]...
  ci.py circleci JOB.yml --orb NAME=PACKED_ORB.yml

JOB.yml is a job's `steps:` (and optional `env:`), as in a workflow or config file.
The environment is this process's, as the test set it (GITHUB_*, CIRCLECI, BASH_ENV...).
Prints one JSON report: {"result", "steps": [{"name", "outcome", "outputs", "env"}], "env",
"path", "log", "annotations"}. "log" is what the job log shows: GitHub masks applied,
workflow commands processed.

GitHub: each `run:` step is `bash --noprofile --norc -eo pipefail FILE` with fresh
GITHUB_ENV / GITHUB_OUTPUT / GITHUB_PATH files, read back after the step (later steps
get the variables and PATH entries; `steps.<id>.outputs`). `uses: OWNER/REPO@REF` runs
the action in DIR: a composite one with inputs substituted (`github.action_ref` is REF)
and `GITHUB_ACTION_PATH` set; a node one (`runs.using: node*`) as `node DIR/MAIN` with
each input as INPUT_<NAME> (upper case, spaces as `_`, dashes kept), its outputs being
whatever it wrote to GITHUB_OUTPUT (its `post:` is not run: it would run after every
later step). An input the action does not declare is a warning, as on GitHub:
`Unexpected input(s) 'foo', valid inputs are ['a', 'b']`, and the step goes on. The
workflow is read with YAML 1.2's core schema, as GitHub reads it (`yes`, `on`, `010`
and dates are strings or decimals, not YAML 1.1's booleans, octals and timestamps).
Expressions (in `run:`, `env:` and `with:`) are property look-ups (`${{ inputs.x }}`,
`${{ steps.id.outputs.y }}`, `${{ env.NAME }}`); `if:` is refused. A step's "env" is
what it exported.

CircleCI: `ORB/command` steps expand with `<< parameters.x >>` substituted (defaults,
types and unknown parameters checked); `run:` steps run as `/bin/bash -eo pipefail`,
which sources $BASH_ENV first, as on CircleCI. A failed step ends the job either way.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import yaml

EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
PROPERTY = re.compile(r"[A-Za-z_][\w-]*(\.[A-Za-z_][\w-]*)*")
COMMAND = re.compile(r"^::([a-z-]+)( [^:]*)?::(.*)$")
PARAMETER = re.compile(r"<<\s*parameters\.([\w-]+)\s*>>")


class JobError(Exception):
    """The job definition itself is wrong (not a step failing)."""


class GitHubLoader(yaml.SafeLoader):
    """YAML with the core schema of YAML 1.2, the one GitHub reads workflows with:
    plain `true`/`True`/`TRUE` (and false) are booleans, `null`/`~`/empty is null,
    decimal, `0o` and `0x` integers and floats are numbers; everything else
    (`yes`, `off`, `2024-01-01`, `1_000`) is a string."""


GitHubLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers
            if tag.rsplit(":", 1)[-1] not in ("bool", "int", "float", "null", "timestamp")]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
for _tag, _pattern, _first in [
    ("bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    ("null", r"^(?:null|Null|NULL|~|)$", ["n", "N", "~", ""]),
    ("int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", "-+0123456789"),
    ("float", r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
              r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$", "-+.0123456789"),
]:
    GitHubLoader.add_implicit_resolver(f"tag:yaml.org,2002:{_tag}", re.compile(_pattern), list(_first))


def _github_int(loader, node) -> int:
    text = loader.construct_scalar(node)
    if text.startswith(("0o", "0x")):
        return int(text[2:], 8 if text[1] == "o" else 16)
    return int(text)


def _github_float(loader, node) -> float:
    text = loader.construct_scalar(node).lower()
    return float(text.replace(".inf", "inf").replace(".nan", "nan"))


GitHubLoader.add_constructor("tag:yaml.org,2002:int", _github_int)
GitHubLoader.add_constructor("tag:yaml.org,2002:float", _github_float)


def load_workflow(text: str):
    return yaml.load(text, Loader=GitHubLoader)


def as_input(value) -> str:
    """A YAML value as the string an action receives."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "" if value is None else str(value)


class Job:
    def __init__(self) -> None:
        self.env = dict(os.environ)
        self.added_env: dict[str, str] = {}
        self.path: list[str] = []
        self.log: list[str] = []
        self.masks: list[str] = []
        self.annotations: list[dict] = []
        self.steps: list[dict] = []
        self.step_exports: dict[str, str] = {}
        self.failed = False
        self.temp = Path(self.env.get("RUNNER_TEMP") or tempfile.mkdtemp())

    def emit(self, line: str) -> None:
        """One line of step output, as the runner treats it."""
        match = COMMAND.match(line)
        if match:
            command, _props, value = match.groups()
            if command == "add-mask":
                if value:
                    self.masks.append(value)
                return
            if command in ("error", "warning", "notice"):
                self.annotations.append({"level": command, "message": value})
        for secret in self.masks:
            line = line.replace(secret, "***")
        self.log.append(line)

    def run_script(self, argv: list[str], script: str | None, env: dict, extra_files: bool) -> tuple[int, dict]:
        """Runs argv (followed by a file holding `script`, if given); returns its exit
        code and the contents of the file-command files it was given."""
        files = {}
        if extra_files:
            for name in ("GITHUB_ENV", "GITHUB_OUTPUT", "GITHUB_PATH", "GITHUB_STATE"):
                files[name] = self.temp / f"{name.lower()}_{uuid.uuid4()}"
                files[name].write_text("")
                env[name] = str(files[name])
        if script is not None:
            script_file = self.temp / f"step_{uuid.uuid4()}.sh"
            script_file.write_text(script)
            argv = [*argv, str(script_file)]
        process = subprocess.run(
            argv, env=env, cwd=os.getcwd(), stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for line in process.stdout.splitlines():
            self.emit(line)
        return process.returncode, {k: v.read_text() for k, v in files.items()}

    def report(self) -> dict:
        return {
            "result": "failure" if self.failed else "success",
            "steps": self.steps,
            "env": self.added_env,
            "path": self.path,
            "log": "\n".join(self.log),
            "annotations": self.annotations,
        }


# --------------------------------------------------------------------------
# GitHub Actions
# --------------------------------------------------------------------------


def parse_file_command(text: str) -> dict[str, str]:
    """NAME=value lines, or NAME<<DELIMITER ... DELIMITER, as the runner reads them."""
    values, lines = {}, iter(text.splitlines())
    for line in lines:
        if not line:
            continue
        equals, heredoc = line.find("="), line.find("<<")
        if equals >= 0 and (heredoc < 0 or equals < heredoc):
            values[line[:equals]] = line[equals + 1:]
        elif heredoc >= 0:
            name, delimiter, value = line[:heredoc], line[heredoc + 2:], []
            for next_line in lines:
                if next_line == delimiter:
                    break
                value.append(next_line)
            else:
                raise JobError(f"{name}: no closing delimiter")
            values[name] = "\n".join(value)
        else:
            raise JobError(f"the runner rejects the file command line {line!r}")
    return values


def evaluate(text: str, context: dict) -> str:
    def lookup(match: re.Match) -> str:
        expression = match.group(1)
        if not PROPERTY.fullmatch(expression):
            raise JobError(f"unsupported expression ${{{{ {expression} }}}}")
        value = context
        for part in expression.split("."):
            value = value.get(part, "") if isinstance(value, dict) else ""
        return as_input(value)

    return EXPRESSION.sub(lookup, text)


class GitHubJob(Job):
    def __init__(self, actions: dict[str, Path]) -> None:
        super().__init__()
        self.actions = actions
        self.env.setdefault("RUNNER_OS", {"Darwin": "macOS", "Windows": "Windows"}.get(platform.system(), "Linux"))
        self.env.setdefault("RUNNER_ARCH", "ARM64" if platform.machine() in ("aarch64", "arm64") else "X64")
        self.env.setdefault("RUNNER_TEMP", str(self.temp))
        self.temp = Path(self.env["RUNNER_TEMP"])

    def step_env(self, step_env: dict) -> dict:
        env = dict(self.env)
        if self.path:
            env["PATH"] = os.pathsep.join([*reversed(self.path), self.env.get("PATH", "")])
        env.update(step_env)
        return env

    def take_files(self, files: dict) -> dict:
        """Applies what a process wrote to GITHUB_ENV and GITHUB_PATH; returns the
        variables it exported."""
        added = parse_file_command(files["GITHUB_ENV"])
        self.env.update(added)
        self.added_env.update(added)
        self.step_exports.update(added)
        self.path += [line for line in files["GITHUB_PATH"].splitlines() if line]
        return added

    def run(self, step: dict, context: dict, step_env: dict) -> tuple[bool, dict]:
        """A `run:` step; returns (succeeded, outputs)."""
        if "if" in step:
            raise JobError("`if:` is not supported by this runner")
        shell = step.get("shell", "bash")
        if shell != "bash":
            raise JobError(f"shell {shell!r} is not supported by this runner")
        env = self.step_env({k: evaluate(as_input(v), context) for k, v in step.get("env", {}).items()})
        env.update(step_env)
        script = evaluate(step["run"], context)
        code, files = self.run_script(["bash", "--noprofile", "--norc", "-eo", "pipefail"], script, env, True)
        self.take_files(files)
        if code != 0:
            self.emit(f"Error: Process completed with exit code {code}.")
        return code == 0, parse_file_command(files["GITHUB_OUTPUT"])

    def uses(self, step: dict, job_context: dict) -> tuple[bool, dict]:
        name, _, ref = step["uses"].partition("@")
        directory = self.actions.get(name)
        if directory is None:
            raise JobError(f"no local checkout for {step['uses']} (pass --action {name}=DIR)")
        action = load_workflow((directory / "action.yml").read_text())
        declared = action.get("inputs") or {}
        given = {k: evaluate(as_input(v), job_context) for k, v in (step.get("with") or {}).items()}
        unknown = [k for k in given if k not in declared]
        if unknown:
            # The runner's own words (ActionRunner), as a warning annotation.
            self.emit("::warning::Unexpected input(s) '{}', valid inputs are ['{}']".format(
                "', '".join(unknown), "', '".join(declared)))
        inputs = {k: given.get(k, as_input((spec or {}).get("default"))) for k, spec in declared.items()}
        # The runner hands an action every input it was given, declared or not.
        inputs.update({k: given[k] for k in unknown})
        runs = action["runs"]
        github = {"action_path": str(directory), "action_ref": ref, "action_repository": name}
        action_env = {
            "GITHUB_ACTION_PATH": str(directory),
            "GITHUB_ACTION_REPOSITORY": name,
            "GITHUB_ACTION_REF": ref,
            **{k: evaluate(as_input(v), job_context) for k, v in (step.get("env") or {}).items()},
        }
        using = runs.get("using", "")
        if using.startswith("node"):
            return self.node(directory, runs, inputs, action_env)
        if using != "composite":
            raise JobError(f"{step['uses']}: `using: {using}` actions are not supported")
        context = {"inputs": inputs, "github": github, "runner": {"os": self.env["RUNNER_OS"]}, "steps": {}}
        ok = True
        for inner in runs["steps"]:
            ok, outputs = self.run(inner, context, action_env)
            if "id" in inner:
                context["steps"][inner["id"]] = {"outputs": outputs}
            if not ok:
                break
        outputs = {k: evaluate(spec["value"], context) for k, spec in (action.get("outputs") or {}).items()}
        return ok, outputs

    def node(self, directory: Path, runs: dict, inputs: dict, action_env: dict) -> tuple[bool, dict]:
        """A JavaScript action's main entry point; every output it sets is an output."""
        env = self.step_env(action_env)
        for name, value in inputs.items():
            env[f"INPUT_{name.replace(' ', '_').upper()}"] = value
        code, files = self.run_script(["node", str(directory / runs["main"])], None, env, True)
        self.take_files(files)
        if code != 0:
            self.emit(f"Error: Process completed with exit code {code}.")
        return code == 0, parse_file_command(files["GITHUB_OUTPUT"])

    def run_job(self, job: dict) -> None:
        job_env = {k: as_input(v) for k, v in (job.get("env") or {}).items()}
        self.env.update(job_env)
        context: dict = {"steps": {}}
        for step in job["steps"]:
            # `env.X`: the job's env: and what earlier steps exported.
            context["env"] = {**job_env, **self.added_env}
            name = step.get("name") or step.get("uses") or step["run"].splitlines()[0]
            if self.failed:
                self.steps.append({"name": name, "outcome": "skipped", "outputs": {}, "env": {}})
                continue
            self.step_exports = {}
            if "uses" in step:
                ok, outputs = self.uses(step, context)
            else:
                ok, outputs = self.run(step, context, {})
            if "id" in step:
                context["steps"][step["id"]] = {"outputs": outputs}
            self.steps.append({"name": name, "outcome": "success" if ok else "failure", "outputs": outputs,
                               "env": self.step_exports})
            self.failed = not ok


# --------------------------------------------------------------------------
# CircleCI
# --------------------------------------------------------------------------


def check_parameter(command: str, name: str, spec: dict, value):
    kind = spec.get("type", "string")
    valid = {
        "string": lambda v: isinstance(v, str),
        "env_var_name": lambda v: isinstance(v, str) and re.fullmatch(r"[A-Za-z_]\w*", v),
        "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "boolean": lambda v: isinstance(v, bool),
        "enum": lambda v: v in spec.get("enum", []),
    }.get(kind)
    if valid is None:
        raise JobError(f"{command}: parameter {name} has unsupported type {kind}")
    if not valid(value):
        raise JobError(f"{command}: parameter {name}={value!r} is not a valid {kind}")


def substitute(value, parameters: dict):
    if isinstance(value, dict):
        return {k: substitute(v, parameters) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, parameters) for v in value]
    if isinstance(value, str):
        whole = PARAMETER.fullmatch(value.strip())
        if whole:
            # A whole-value reference keeps the parameter's type (integer, boolean).
            return parameters[whole.group(1)]
        return PARAMETER.sub(lambda m: as_input(parameters[m.group(1)]), value)
    return value


def condition(value) -> bool:
    """A CircleCI logic statement: a literal (empty, false, 0 and null are false),
    or not / and / or / equal of them."""
    if isinstance(value, dict):
        (op, arg), = value.items()
        if op == "not":
            return not condition(arg)
        if op == "and":
            return all(condition(v) for v in arg)
        if op == "or":
            return any(condition(v) for v in arg)
        if op == "equal":
            return all(v == arg[0] for v in arg)
        raise JobError(f"unsupported logic statement {op!r}")
    return value not in (None, False, "", 0, "false")


class CircleCiJob(Job):
    def __init__(self, orbs: dict[str, dict]) -> None:
        super().__init__()
        self.orbs = orbs

    def expand(self, step, orb: str | None) -> list[tuple[str, dict]]:
        """A config step as the `run` steps it stands for, with their display names."""
        if isinstance(step, str):
            step = {step: {}}
        (key, args), = step.items()
        args = args or {}
        if key == "run":
            run = {"command": args} if isinstance(args, str) else args
            if run.get("when", "on_success") != "on_success":
                raise JobError(f"run `when: {run['when']}` is not supported by this runner")
            return [(run.get("name") or run["command"].splitlines()[0], run)]
        if key in ("when", "unless"):
            # Decided when the config is compiled, on the parameters' values.
            holds = condition(args["condition"])
            if holds == (key == "when"):
                return [run for inner in args["steps"] for run in self.expand(inner, orb)]
            return []
        owner, _, command = key.rpartition("/")
        owner = owner or orb
        if owner not in self.orbs or command not in self.orbs[owner].get("commands", {}):
            raise JobError(f"unknown step {key!r}")
        definition = self.orbs[owner]["commands"][command]
        declared = definition.get("parameters", {})
        unknown = set(args) - set(declared)
        if unknown:
            raise JobError(f"{key}: no parameter(s) {sorted(unknown)}")
        parameters = {}
        for name, spec in declared.items():
            if name not in args and "default" not in spec:
                raise JobError(f"{key}: parameter {name} is required")
            parameters[name] = args.get(name, spec.get("default"))
            check_parameter(key, name, spec, parameters[name])
        expanded = []
        for inner in substitute(definition["steps"], parameters):
            expanded += self.expand(inner, owner)
        return expanded

    def run_job(self, job: dict) -> None:
        self.env.update({k: as_input(v) for k, v in (job.get("environment") or {}).items()})
        runs = [run for step in job["steps"] for run in self.expand(step, None)]
        for name, run in runs:
            if self.failed:
                self.steps.append({"name": name, "outcome": "skipped", "outputs": {}})
                continue
            env = dict(self.env)
            # CircleCI hands a boolean parameter to a step's environment as 1 or 0.
            env.update({k: (str(int(v)) if isinstance(v, bool) else as_input(v))
                        for k, v in (run.get("environment") or {}).items()})
            code, _ = self.run_script(["/bin/bash", "-eo", "pipefail"], run["command"], env, False)
            if code != 0:
                self.emit(f"Exited with code exit status {code}")
            self.steps.append({"name": name, "outcome": "success" if code == 0 else "failure", "outputs": {}})
            self.failed = code != 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="ci", required=True)
    github = commands.add_parser("github")
    github.add_argument("job", type=Path)
    github.add_argument("--action", action="append", default=[], metavar="OWNER/REPO=DIR")
    circleci = commands.add_parser("circleci")
    circleci.add_argument("job", type=Path)
    circleci.add_argument("--orb", action="append", default=[], metavar="NAME=PACKED_ORB.yml")
    args = parser.parse_args()

    text = args.job.read_text()
    job_definition = load_workflow(text) if args.ci == "github" else yaml.safe_load(text)
    try:
        if args.ci == "github":
            actions = dict(a.split("=", 1) for a in args.action)
            job: Job = GitHubJob({k: Path(v) for k, v in actions.items()})
        else:
            orbs = dict(o.split("=", 1) for o in args.orb)
            job = CircleCiJob({k: yaml.safe_load(Path(v).read_text()) for k, v in orbs.items()})
        job.run_job(job_definition)
    except JobError as e:
        print(f"ci.py: {e}", file=sys.stderr)
        return 2
    json.dump(job.report(), sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
