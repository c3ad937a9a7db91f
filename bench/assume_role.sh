#!/usr/bin/env bash
# The seed's assume_role.sh (field notes seeds/003, slide 86), reconstructed for
# bench/run.sh as the baseline vault-ci replaces: the aws CLI v1 + jq writing
# aws-env.sh. Faithful except for two transcription slips on the slide that
# would stop it from running at all: the variable is named `sts_credentials`
# but read as `$aws_sts_credentials` (fatal under `set -u`), and curly quotes.
# `set -x` stays: it is part of the baseline (and prints the keys to stderr).
# shellcheck disable=SC2086 # the slide's unquoted $sts_credentials, kept as written
set -xeuo pipefail

sts_credentials="$(aws sts assume-role \
  --role-arn "$AWS_DEPLOY_IAM_ROLE_ARN" \
  --role-session-name "$ROLE_SESSION_NAME" \
  --duration-seconds 900 \
  --query "Credentials" \
  --output "json")"

cat <<EOT > "aws-env.sh"
export AWS_ACCESS_KEY_ID="$(echo $sts_credentials | jq -r '.AccessKeyId')"
export AWS_SECRET_ACCESS_KEY="$(echo $sts_credentials | jq -r '.SecretAccessKey')"
export AWS_SESSION_TOKEN="$(echo $sts_credentials | jq -r '.SessionToken')"
EOT
