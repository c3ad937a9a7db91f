#!/bin/bash
# Hands the command's parameters to vault-ci as its VAULT_CI_<OPTION> variables
# (empty ones stay unset: vault-ci's default, or a context's variable, applies) and
# lets it write the credentials to $BASH_ENV.
set -euo pipefail

for option in ROLE_ARN CHAIN DURATION REGION SESSION_NAME AUDIENCE; do
  param=PARAM_$option
  if [ -n "${!param:-}" ]; then export "VAULT_CI_$option=${!param}"; fi
done
exec vault-ci assume --bash-env
