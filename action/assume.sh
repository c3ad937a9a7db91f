#!/usr/bin/env bash
# The action's second step: the inputs arrive as vault-ci's own VAULT_CI_<OPTION>
# variables (see action.yml) and vault-ci does the work.
set -euo pipefail

# An input left empty means "vault-ci's default", not an empty value.
for name in "${!VAULT_CI_@}"; do
  if [ -z "${!name}" ]; then unset "$name"; fi
done

# Keys given as inputs are the identity, whatever else the job has (as in
# configure-aws-credentials); they reach vault-ci as the SDKs' variables, never argv.
if [ -n "${INPUT_AWS_ACCESS_KEY_ID:-}" ]; then
  export AWS_ACCESS_KEY_ID=$INPUT_AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY=${INPUT_AWS_SECRET_ACCESS_KEY:-}
  if [ -n "${INPUT_AWS_SESSION_TOKEN:-}" ]; then
    export AWS_SESSION_TOKEN=$INPUT_AWS_SESSION_TOKEN
  else
    unset AWS_SESSION_TOKEN
  fi
  export VAULT_CI_PROVIDER=static
fi
# With no role to assume, the credentials are delivered as they are.
if [ -z "${VAULT_CI_ROLE_ARN:-}${VAULT_CI_CHAIN:-}" ]; then export VAULT_CI_NO_ROLE=true; fi

# Sessions assumed with keys are tagged with the run, unless role-skip-session-tagging.
export VAULT_CI_GITHUB_SESSION_TAGS=true
exec vault-ci assume --github-env
