#!/usr/bin/env python3
"""One install script (install.sh) for every packaging, and the digests it trusts.

  scripts/pin-digests.py embed [--root DIR] [--check]
      Copies install.sh into every packaging that cannot read it from the repository
      when it runs: the GitLab component (templates/assume-role.yml) and the orb's
      install step (orb/src/scripts/install.sh) carry it as a here-document between
      `<<'VAULT_CI_INSTALL_SH'` and `VAULT_CI_INSTALL_SH`; the Buildkite plugin as
      buildkite/lib/install.sh. --check changes nothing and fails, naming the file,
      where a copy is not install.sh exactly.

  scripts/pin-digests.py pin [--root DIR] VERSION SHA256SUMS...
      What the release does: writes VERSION and the SHA-256 of each of its assets
      (`sha256sum` lines, as scripts/dist.sh writes them next to each asset) into
      install.sh, then embeds it as above, so every packaging pins them.

DIR (default: this repository) is a checkout, or a test's copy of the packaging.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

MARK = "VAULT_CI_INSTALL_SH"
HEREDOC_TARGETS = ("templates/assume-role.yml", "orb/src/scripts/install.sh")
COPY_TARGETS = ("buildkite/lib/install.sh",)
ASSET = re.compile(r"^([0-9a-f]{64}) [ *]?(vault-ci-(\S+?)-(linux|macos|windows)-(amd64|arm64)(\.exe)?)$")
VERSION = re.compile(r"^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.]+)?$")


def embedded(text: str, script: str, name: str) -> str:
    """`text` with the here-document body replaced by `script`, indented as its
    closing line is (a YAML block scalar's indentation is not part of the script)."""
    lines = text.split("\n")
    starts = [i for i, line in enumerate(lines) if f"<<'{MARK}'" in line]
    ends = [i for i, line in enumerate(lines) if line.strip() == MARK]
    if len(starts) != 1 or len(ends) != 1 or ends[0] < starts[0]:
        sys.exit(f"pin-digests: {name} needs exactly one <<'{MARK}' … {MARK} here-document")
    start, end = starts[0], ends[0]
    indent = lines[end][: len(lines[end]) - len(lines[end].lstrip())]
    body = [indent + line if line else "" for line in script.rstrip("\n").split("\n")]
    return "\n".join(lines[: start + 1] + body + lines[end:])


def embed(root: Path, check: bool) -> int:
    script = (root / "install.sh").read_text()
    stale = []
    for name in HEREDOC_TARGETS + COPY_TARGETS:
        path = root / name
        if not path.exists():
            continue  # a test's copy may hold one packaging only
        before = path.read_text()
        after = script if name in COPY_TARGETS else embedded(before, script, name)
        if after != before:
            stale.append(name)
            if not check:
                path.write_text(after)
    if check and stale:
        print(f"pin-digests: {', '.join(stale)}: the embedded install.sh is not install.sh; "
              "run scripts/pin-digests.py embed", file=sys.stderr)
        return 1
    return 0


def pin(root: Path, version: str, sums: list[Path]) -> int:
    if not VERSION.match(version):
        sys.exit(f"pin-digests: {version!r} is not a version such as 1.2.3")
    digests = []
    for sums_file in sums:
        for line in sums_file.read_text().splitlines():
            if not line.strip():
                continue
            match = ASSET.match(line.strip())
            if not match or match.group(3) != version:
                sys.exit(f"pin-digests: {sums_file}: not the SHA-256 of a vault-ci {version} asset: {line!r}")
            digests.append(f"{match.group(1)}  {match.group(2)}")
    if not digests:
        sys.exit("pin-digests: no digests given")
    path = root / "install.sh"
    text = path.read_text()
    block = re.compile(r"^pinned_version='[^']*'\npinned_digests='[^']*'$", re.M)
    if len(block.findall(text)) != 1:
        sys.exit("pin-digests: install.sh has no pinned_version/pinned_digests block")
    new = f"pinned_version='{version}'\npinned_digests='\n" + "\n".join(sorted(digests)) + "\n'"
    path.write_text(block.sub(lambda _: new, text))
    return embed(root, check=False)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    e = commands.add_parser("embed")
    e.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent)
    e.add_argument("--check", action="store_true")
    p = commands.add_parser("pin")
    p.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent)
    p.add_argument("version")
    p.add_argument("sums", type=Path, nargs="+")
    args = parser.parse_args()
    if args.command == "embed":
        return embed(args.root, args.check)
    return pin(args.root, args.version, args.sums)


if __name__ == "__main__":
    sys.exit(main())
