#!/usr/bin/env python3
"""Splits the GitLab component (templates/assume-role.yml) for the linters, which read one
YAML document: writes DIR/component-spec.yml (its `spec:` header), DIR/component-jobs.yml
(its jobs) and DIR/component-before-script.sh (the hidden job's before_script).

Usage: scripts/split-component.py COMPONENT DIR
"""

import sys
from pathlib import Path

import yaml

header, body = yaml.safe_load_all(Path(sys.argv[1]).read_text())
out = Path(sys.argv[2])
(out / "component-spec.yml").write_text(yaml.safe_dump(header))
(out / "component-jobs.yml").write_text(yaml.safe_dump(body))
script = "\n".join(body[".vault-ci-assume-role"]["before_script"])
(out / "component-before-script.sh").write_text(script + "\n")
