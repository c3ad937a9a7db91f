#!/usr/bin/env python3
"""Runs a Buildkite step's plugins the way the agent runs plugin hooks, so a plugin is
tested as its users run it (tests/buildkite.rs).

  buildkite.py bootstrap STEP.yml --plugin NAME=DIR [--plugin NAME=DIR]...

STEP.yml is one step of a pipeline (`plugins:`, `env:`, `command:`). A plugin reference
`ORG/NAME#REF` or `NAME#REF` is the checkout in DIR given for NAME (`-buildkite-plugin`
dropped, as the agent drops it). Each plugin's options become
BUILDKITE_PLUGIN_<NAME>_<OPTION> variables as the agent makes them (upper case, every
character but letters and digits as `_`; a list as _0, _1, …; a map as _<KEY>; booleans as
true/false). Then, as the agent's job phases go: every plugin's `environment` hook, in order,
then every `pre-command` hook, each sourced by bash in a wrapper that keeps what it
exported for the later hooks and the command, then `command` with bash -c. A failing hook
ends the job.

Prints one JSON report: {"result": "success"|"failure", "failed": hook or "command",
"env": the variables the hooks added or changed (name: value), "unset": those they
removed, "log": every line printed}.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

WRAPPER = r"""
trap 'status=$?; env -0 > "$RUNNER_EMULATOR_ENV_AFTER"; exit $status' EXIT
. "$1"
"""


def plugin_variables(name: str, config) -> dict[str, str]:
    prefix = "BUILDKITE_PLUGIN_" + re.sub(r"[^A-Za-z0-9]", "_", name).upper()
    out: dict[str, str] = {}

    def walk(key: str, value) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(f"{key}_{re.sub(r'[^A-Za-z0-9]', '_', str(k)).upper()}", v)
        elif isinstance(value, list):
            for i, v in enumerate(value):
                walk(f"{key}_{i}", v)
        elif isinstance(value, bool):
            out[key] = "true" if value else "false"
        elif value is not None:
            out[key] = str(value)

    walk(prefix, config or {})
    return out


def plugin_name(reference: str) -> str:
    name = reference.split("#", 1)[0].rstrip("/").rsplit("/", 1)[-1]
    return name.removesuffix("-buildkite-plugin")


def read_env(path: Path) -> dict[str, str]:
    data = path.read_bytes().split(b"\0")
    env = {}
    for item in data:
        if b"=" in item:
            k, _, v = item.partition(b"=")
            env[k.decode()] = v.decode(errors="replace")
    return env


def as_the_agents_job_process() -> None:
    """The agent runs each job in `buildkite-agent bootstrap`, which outlives its hooks and
    command; a process that watches the job (vault-ci's --serve) finds it by that name and
    argument. This emulator is that process: it takes the name (Linux's prctl PR_SET_NAME)
    and is started with `bootstrap` among its arguments."""
    try:
        import ctypes

        ctypes.CDLL(None).prctl(15, b"buildkite-agent", 0, 0, 0)
    except (OSError, AttributeError):
        pass


def main() -> int:
    as_the_agents_job_process()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("phase", choices=["bootstrap"], help="as the agent names the job's process")
    parser.add_argument("step", type=Path)
    parser.add_argument("--plugin", action="append", default=[], metavar="NAME=DIR")
    args = parser.parse_args()
    dirs = dict(p.split("=", 1) for p in args.plugin)
    step = yaml.safe_load(args.step.read_text())

    env = dict(os.environ)
    env.update({k: str(v) for k, v in (step.get("env") or {}).items()})
    start = dict(env)
    plugins = []
    for entry in step.get("plugins") or []:
        (reference, config), = (entry.items() if isinstance(entry, dict) else [(entry, None)])
        name = plugin_name(reference)
        if name not in dirs:
            print(f"buildkite.py: no checkout for {reference} (pass --plugin {name}=DIR)", file=sys.stderr)
            return 2
        plugins.append((name, Path(dirs[name])))
        env.update(plugin_variables(name, config))
    log: list[str] = []
    failed = None
    with tempfile.TemporaryDirectory() as tmp:
        after = Path(tmp) / "env"
        for phase in ("environment", "pre-command"):
            for name, directory in plugins:
                hook = directory / "hooks" / phase
                if failed or not hook.exists():
                    continue
                run_env = {**env, "RUNNER_EMULATOR_ENV_AFTER": str(after)}
                process = subprocess.run(["bash", "-c", WRAPPER, "hook", str(hook)], env=run_env,
                                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                         stderr=subprocess.STDOUT, text=True)
                log.extend(process.stdout.splitlines())
                if process.returncode != 0:
                    failed = f"{name} {phase}"
                    continue
                env = read_env(after)
                env.pop("RUNNER_EMULATOR_ENV_AFTER", None)
        if not failed and step.get("command"):
            process = subprocess.run(["bash", "-c", step["command"]], env=env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            log.extend(process.stdout.splitlines())
            if process.returncode != 0:
                failed = "command"
    ignored = ("BUILDKITE_PLUGIN_", "BASH", "SHLVL", "_", "PWD", "OLDPWD")
    changed = {k: v for k, v in env.items()
               if start.get(k) != v and not k.startswith(ignored) and k not in ignored}
    report = {
        "result": "failure" if failed else "success",
        "failed": failed,
        "env": changed,
        "unset": sorted(k for k in start if k not in env),
        "log": "\n".join(log),
    }
    json.dump(report, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
