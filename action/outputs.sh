#!/usr/bin/env bash
# The action's last step: what configure-aws-credentials also offers, from the
# credentials the assume step exported (they are masked already).
set -euo pipefail

if [ "${MASK_AWS_ACCOUNT_ID:-}" = true ] && [ -n "${ACCOUNT_ID:-}" ]; then
  echo "::add-mask::$ACCOUNT_ID"
fi
if [ "${OUTPUT_CREDENTIALS:-}" = true ]; then
  {
    echo "aws-access-key-id=$AWS_ACCESS_KEY_ID"
    echo "aws-secret-access-key=$AWS_SECRET_ACCESS_KEY"
    echo "aws-session-token=$AWS_SESSION_TOKEN"
  } >>"$GITHUB_OUTPUT"
fi
