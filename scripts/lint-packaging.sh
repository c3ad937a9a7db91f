#!/usr/bin/env bash
# Lints what users run besides the binary: every shell script (the action's, the
# orb's, ours), action.yml and the workflows against GitHub's schemas and actionlint,
# and the packed orb against CircleCI's schema.
set -euo pipefail
cd "$(dirname "$0")/.."

shellcheck .ci/run scripts/*.sh action/*.sh orb/src/scripts/*.sh demo/*.sh bench/*.sh

check-jsonschema --builtin-schema vendor.github-actions action.yml
check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml examples/github-workflow.yml
# The runtime deprecations it knows of come with dates: the verdict would change by itself.
actionlint -ignore 'runtime "node[0-9]+" is deprecated' .github/workflows/*.yml examples/github-workflow.yml
check-jsonschema --builtin-schema vendor.gitlab-ci examples/gitlab-ci.yml

packed=$(mktemp -d)
trap 'rm -rf "$packed"' EXIT
scripts/pack-orb.py orb/src >"$packed/orb.yml"
check-jsonschema --builtin-schema vendor.circle-ci "$packed/orb.yml"
