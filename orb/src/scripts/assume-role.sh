#!/bin/bash
# Hands the command's parameters to vault-ci as its VAULT_CI_<OPTION> variables
# (empty ones stay unset: vault-ci's default, or a context's variable, applies) and
# lets it write the credentials to $BASH_ENV.
set -euo pipefail

for option in ROLE_ARN CHAIN DURATION REGION SESSION_NAME AUDIENCE; do
  param=PARAM_$option
  if [ -n "${!param:-}" ]; then export "VAULT_CI_$option=${!param}"; fi
done
# A boolean parameter reaches the step as 1 or 0.
if [ "${PARAM_REFRESH:-0}" = 1 ] || [ "${PARAM_REFRESH:-}" = true ]; then export VAULT_CI_SERVE=true; fi
exec vault-ci assume --bash-env
