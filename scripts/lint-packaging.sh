#!/usr/bin/env bash
# Lints what users run besides the binary: every shell script (install.sh, the action's,
# the orb's, ours), action.yml and the workflows against GitHub's schemas and actionlint,
# the packed orb against CircleCI's schema, and that every packaging embeds install.sh
# as it is.
set -euo pipefail
cd "$(dirname "$0")/.."

shellcheck .ci/run install.sh scripts/*.sh action/*.sh orb/src/scripts/*.sh demo/*.sh bench/*.sh
shellcheck -x buildkite/hooks/* buildkite/lib/plugin.bash
# install.sh is POSIX sh: GitLab's and Bitbucket's job images may have no bash.
shellcheck --shell=sh install.sh
# Every packaging's copy of install.sh is install.sh.
scripts/pin-digests.py embed --check

check-jsonschema --builtin-schema vendor.github-actions action.yml
check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml examples/github-workflow.yml
# The runtime deprecations it knows of come with dates: the verdict would change by itself.
actionlint -ignore 'runtime "node[0-9]+" is deprecated' .github/workflows/*.yml examples/github-workflow.yml
check-jsonschema --builtin-schema vendor.gitlab-ci examples/gitlab-ci.yml .github/gitlab-catalog.yml

packed=$(mktemp -d)
trap 'rm -rf "$packed"' EXIT
# The GitLab component: its `spec:` header and its jobs, each against GitLab's schema; its
# before_script as the POSIX sh it must be (GitLab's job images may have no bash).
scripts/split-component.py templates/assume-role.yml "$packed"
check-jsonschema --builtin-schema vendor.gitlab-ci "$packed/component-spec.yml" "$packed/component-jobs.yml"
shellcheck --shell=sh "$packed/component-before-script.sh"

# The Buildkite plugin's configuration is a JSON schema (draft 7, as the agent's validator).
python3 -c 'import json,sys,yaml; json.dump(yaml.safe_load(open(sys.argv[1]))["configuration"], open(sys.argv[2], "w"))' \
  buildkite/plugin.yml "$packed/buildkite-configuration.json"
check-jsonschema --check-metaschema "$packed/buildkite-configuration.json"

scripts/pack-orb.py orb/src >"$packed/orb.yml"
check-jsonschema --builtin-schema vendor.circle-ci "$packed/orb.yml"
