#!/bin/bash
# aws-cli/setup's parameters, handed to vault-ci as its VAULT_CI_<OPTION>
# variables: the profile (and $BASH_ENV) get the role's credentials for role_arn,
# or the keys given as they are.
set -euo pipefail

# Parameters may name variables ($AWS_ROLE_ARN, ${CIRCLE_JOB}), expanded as
# aws-cli/setup expands them: by CircleCI's own CLI, after $BASH_ENV.
subst() { printf '%s' "$1" | circleci env subst; }
flag() { if [ "$1" = 1 ] || [ "$1" = true ]; then echo true; else echo false; fi; }

export VAULT_CI_AWS_PROFILE VAULT_CI_OVERWRITE_AWS_PROFILE=true
VAULT_CI_AWS_PROFILE=$(subst "$PARAM_PROFILE_NAME")
VAULT_CI_CONFIGURE_PROFILE_REGION=$(flag "$PARAM_CONFIGURE_PROFILE_REGION")
VAULT_CI_CONFIGURE_DEFAULT_REGION=$(flag "$PARAM_CONFIGURE_DEFAULT_REGION")
export VAULT_CI_CONFIGURE_PROFILE_REGION VAULT_CI_CONFIGURE_DEFAULT_REGION
region=$(subst "$PARAM_REGION")
if [ -n "$region" ]; then export VAULT_CI_REGION=$region; fi

role=$(subst "$PARAM_ROLE_ARN")
if [ -n "$role" ]; then
  export VAULT_CI_ROLE_ARN=$role VAULT_CI_PROVIDER=circleci
  VAULT_CI_SESSION_NAME=$(subst "$PARAM_ROLE_SESSION_NAME")
  VAULT_CI_DURATION=$(subst "$PARAM_SESSION_DURATION")
  export VAULT_CI_SESSION_NAME VAULT_CI_DURATION
  if [ "$(flag "$PARAM_SET_AWS_ENV_VARS")" = true ]; then export VAULT_CI_BASH_ENV=true; fi
else
  # The keys reach vault-ci as the SDKs' variables, never as arguments.
  AWS_ACCESS_KEY_ID=$(subst "$PARAM_AWS_ACCESS_KEY_ID")
  AWS_SECRET_ACCESS_KEY=$(subst "$PARAM_AWS_SECRET_ACCESS_KEY")
  export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY VAULT_CI_PROVIDER=static VAULT_CI_NO_ROLE=true
fi
exec vault-ci assume
