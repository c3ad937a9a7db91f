#!/usr/bin/env python3
"""Packs orb/src into the one YAML document CircleCI publishes, as `circleci orb pack`
does: @orb.yml, then every commands/, executors/, jobs/ and examples/ file under its
name, with each `<<include(scripts/x.sh)>>` value replaced by that file's text.

Usage: scripts/pack-orb.py [SRC_DIR] > orb.yml   (SRC_DIR defaults to orb/src)
"""

import re
import sys
from pathlib import Path

import yaml

INCLUDE = re.compile(r"<<\s*include\(([^)]+)\)\s*>>")
SECTIONS = ("commands", "executors", "jobs", "examples")


def resolve_includes(value, src: Path):
    if isinstance(value, dict):
        return {k: resolve_includes(v, src) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve_includes(v, src) for v in value]
    if isinstance(value, str) and (match := INCLUDE.fullmatch(value.strip())):
        return (src / match.group(1)).read_text()
    if isinstance(value, str) and INCLUDE.search(value):
        sys.exit(f"pack-orb: <<include()>> must be the whole value: {value!r}")
    return value


def literal_blocks(dumper, text: str):
    style = "|" if "\n" in text else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


def main() -> None:
    src = Path(sys.argv[1] if len(sys.argv) > 1 else "orb/src")
    orb = yaml.safe_load((src / "@orb.yml").read_text())
    for section in SECTIONS:
        files = sorted((src / section).glob("*.yml"))
        if files:
            orb[section] = {f.stem: yaml.safe_load(f.read_text()) for f in files}
    yaml.SafeDumper.add_representer(str, literal_blocks)
    yaml.safe_dump(resolve_includes(orb, src), sys.stdout, sort_keys=False, width=100)


if __name__ == "__main__":
    main()
