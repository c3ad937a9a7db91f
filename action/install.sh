#!/usr/bin/env bash
# The action's first step: puts vault-ci on PATH for the later steps, through vault-ci's
# install.sh (next to action.yml), which uses only a binary whose SHA-256 is the one the
# action's release pinned in it: one in the tool cache, one on PATH, or a download.
set -euo pipefail

# Wanted: the `version` input, else the action's ref when it is a version tag (v1.2.3, or
# v1: the newest 1.x, which is what that tag checks out), else the version pinned.
want=${VERSION:-}
if [ -z "$want" ] && [[ ${ACTION_REF:-} =~ ^v[0-9]+(\.[0-9]+){0,2}$ ]]; then want=$ACTION_REF; fi
want=${want#v}

err=$(mktemp "$RUNNER_TEMP/vault-ci-install.XXXXXX")
trap 'rm -f "$err"' EXIT
status=0
dir=$(VAULT_CI_INSTALL_VERSION=$want \
  VAULT_CI_INSTALL_DIR="${RUNNER_TOOL_CACHE:-$RUNNER_TEMP}/vault-ci/${want:-pinned}/$RUNNER_ARCH" \
  VAULT_CI_INSTALL_URL="${GITHUB_SERVER_URL:-https://github.com}/${ACTION_REPOSITORY:-vault-ci/vault-ci}/releases/download" \
  sh "$GITHUB_ACTION_PATH/install.sh" 2>"$err") || status=$?
cat "$err" >&2
if [ "$status" != 0 ]; then
  echo "::error title=vault-ci install::$(sed -n 's/^vault-ci install: //p' "$err" | tail -n 1)"
  exit "$status"
fi
echo "$dir" >>"$GITHUB_PATH"
