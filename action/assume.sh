#!/usr/bin/env bash
# The action's second step: the inputs arrive as vault-ci's own VAULT_CI_<OPTION>
# variables (see action.yml) and vault-ci does the work.
set -euo pipefail

# An input left empty means "vault-ci's default", not an empty value.
for name in "${!VAULT_CI_@}"; do
  if [ -z "${!name}" ]; then unset "$name"; fi
done
if [ -n "${VAULT_CI_MANAGED_POLICY:-}" ]; then
  # One ARN per line, as configure-aws-credentials takes them; vault-ci splits on commas.
  VAULT_CI_MANAGED_POLICY=$(echo "$VAULT_CI_MANAGED_POLICY" | tr -s ' \r\n' ',' | sed 's/^,//; s/,$//')
fi

if [ "${UNSET_CURRENT_CREDENTIALS:-}" = true ]; then
  # Later steps lose the old keys even if this step fails.
  printf '%s=\n' AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN >>"$GITHUB_ENV"
  unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN
fi

if [ -n "${INPUT_AWS_ACCESS_KEY_ID:-}" ]; then
  export AWS_ACCESS_KEY_ID=$INPUT_AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY=${INPUT_AWS_SECRET_ACCESS_KEY:-}
  if [ -n "${INPUT_AWS_SESSION_TOKEN:-}" ]; then
    export AWS_SESSION_TOKEN=$INPUT_AWS_SESSION_TOKEN
  else
    unset AWS_SESSION_TOKEN
  fi
  export VAULT_CI_PROVIDER=static
elif [ "${ROLE_CHAINING:-}" = true ]; then
  export VAULT_CI_PROVIDER=static
fi
# Like configure-aws-credentials: sessions assumed with keys are tagged with the run
# unless told not to (web-identity sessions cannot carry tags).
if [ "${VAULT_CI_PROVIDER:-}" = static ] && [ "${ROLE_SKIP_SESSION_TAGGING:-}" != true ]; then
  export VAULT_CI_GITHUB_SESSION_TAGS=true
fi

exec vault-ci assume --github-env
