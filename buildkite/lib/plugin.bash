#!/bin/bash
# The plugin's work, sourced by its hooks as the agent sources them: the options arrive as
# BUILDKITE_PLUGIN_VAULT_CI_<OPTION> (arrays as _0, _1, …). vault-ci is installed by
# install.sh next to this file (its release's digests pinned in it), mints the token with
# `buildkite-agent oidc request-token` and exchanges it; then exactly what
# aws-assume-role-with-web-identity exports is exported: the keys (credential-name-prefix
# applied), and the region when the region option is set. A failure exports nothing.

vault_ci_fail() {
  echo "vault-ci: $*" >&2
  exit 1
}

# Options as aws-assume-role-with-web-identity 1.7 takes them, and vault-ci's own.
vault_ci_known='ROLE_ARN|ROLE_SESSION_NAME|ROLE_SESSION_DURATION|OIDC_TOKEN_LIFETIME|REGION|SESSION_TAGS_[0-9]+|CREDENTIAL_NAME_PREFIX|HOOK|CHAIN|REFRESH|ALLOWED_ACCOUNT_IDS(_[0-9]+)?'
for vault_ci_var in "${!BUILDKITE_PLUGIN_VAULT_CI_@}"; do
  vault_ci_option=${vault_ci_var#BUILDKITE_PLUGIN_VAULT_CI_}
  vault_ci_name=$(printf '%s' "${vault_ci_option%_[0-9]*}" | tr 'A-Z_' 'a-z-')
  case ${!vault_ci_var} in
    *$'\n'* | *$'\r'*) vault_ci_fail "the $vault_ci_name option has a line break in it: give it on one line" ;;
  esac
  if [[ $vault_ci_option == SESSION_TAGS ]]; then
    vault_ci_fail "the session-tags option is a string; give a list of claims (session-tags: [organization_slug, pipeline_slug])"
  fi
  [[ $vault_ci_option =~ ^($vault_ci_known)$ ]] ||
    vault_ci_fail "no option $vault_ci_name: the options are role-arn, role-session-name, role-session-duration, oidc-token-lifetime, region, session-tags, credential-name-prefix, hook, chain, refresh, allowed-account-ids"
done

vault_ci_role=${BUILDKITE_PLUGIN_VAULT_CI_ROLE_ARN:-}
[[ -n $vault_ci_role ]] || vault_ci_fail "the role-arn option is missing: give the role to assume (role-arn: arn:aws:iam::123456789012:role/deploy)"
vault_ci_prefix=${BUILDKITE_PLUGIN_VAULT_CI_CREDENTIAL_NAME_PREFIX:-}
[[ $vault_ci_prefix =~ ^([A-Za-z_][A-Za-z0-9_]*)?$ ]] ||
  vault_ci_fail "credential-name-prefix '$vault_ci_prefix' cannot begin a variable name: use letters, digits and _"
vault_ci_refresh=${BUILDKITE_PLUGIN_VAULT_CI_REFRESH:-false}
[[ $vault_ci_refresh == true || $vault_ci_refresh == false ]] ||
  vault_ci_fail "refresh is '$vault_ci_refresh': give true or false"
if [[ $vault_ci_refresh == true && -n $vault_ci_prefix ]]; then
  vault_ci_fail "refresh serves the AWS SDKs' own variables, which credential-name-prefix would rename: drop one of them"
fi
if [[ -n ${BUILDKITE_PLUGIN_VAULT_CI_OIDC_TOKEN_LIFETIME:-} ]]; then
  [[ $BUILDKITE_PLUGIN_VAULT_CI_OIDC_TOKEN_LIFETIME =~ ^[0-9]+$ ]] ||
    vault_ci_fail "oidc-token-lifetime is '$BUILDKITE_PLUGIN_VAULT_CI_OIDC_TOKEN_LIFETIME': give seconds"
  echo "vault-ci: oidc-token-lifetime is not needed: the token is asked for right before each exchange" >&2
fi

vault_ci_args=(assume --provider buildkite --role-arn "$vault_ci_role"
  --session-name "${BUILDKITE_PLUGIN_VAULT_CI_ROLE_SESSION_NAME:-buildkite-job-${BUILDKITE_JOB_ID:-}}")
if [[ -n ${BUILDKITE_PLUGIN_VAULT_CI_ROLE_SESSION_DURATION:-} ]]; then
  vault_ci_args+=(--duration "$BUILDKITE_PLUGIN_VAULT_CI_ROLE_SESSION_DURATION")
fi
if [[ -n ${BUILDKITE_PLUGIN_VAULT_CI_CHAIN:-} ]]; then
  vault_ci_args+=(--chain "$BUILDKITE_PLUGIN_VAULT_CI_CHAIN")
fi
for vault_ci_var in "${!BUILDKITE_PLUGIN_VAULT_CI_ALLOWED_ACCOUNT_IDS@}"; do
  IFS=, read -r -a vault_ci_ids <<<"${!vault_ci_var}"
  for vault_ci_id in "${vault_ci_ids[@]}"; do vault_ci_args+=(--allowed-account-id "$vault_ci_id"); done
done
if [[ $vault_ci_refresh == true ]]; then vault_ci_args+=(--serve); fi
vault_ci_tags=()
for vault_ci_var in "${!BUILDKITE_PLUGIN_VAULT_CI_SESSION_TAGS_@}"; do
  vault_ci_tags+=("${!vault_ci_var}")
done
vault_ci_env=(env)
# The original leaves the region alone unless it is given; so does vault-ci then.
if [[ -n ${BUILDKITE_PLUGIN_VAULT_CI_REGION:-} ]]; then
  vault_ci_args+=(--region "$BUILDKITE_PLUGIN_VAULT_CI_REGION")
else
  vault_ci_env+=(-u AWS_REGION -u AWS_DEFAULT_REGION)
fi
if [[ ${#vault_ci_tags[@]} -gt 0 ]]; then
  vault_ci_env+=("VAULT_CI_BUILDKITE_SESSION_TAGS=$(IFS=,; echo "${vault_ci_tags[*]}")")
  echo "Including session tags in OIDC request: $(IFS=,; echo "${vault_ci_tags[*]}")"
fi

vault_ci_bin=$(sh "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/install.sh") || exit 1
vault_ci_dir=$(mktemp -d)
vault_ci_args+=(--env-file "$vault_ci_dir/env")
# Not exec'd, and in a subshell: with refresh, the server ends with the job's shell.
if ! ("${vault_ci_env[@]}" "$vault_ci_bin/vault-ci" "${vault_ci_args[@]}"; exit $?); then
  rm -rf "$vault_ci_dir"
  exit 1
fi
if [[ $vault_ci_refresh == true ]]; then
  # shellcheck source=/dev/null # vault-ci's env file: export lines, safely quoted
  . "$vault_ci_dir/env"
else
  while IFS= read -r -d '' vault_ci_name && IFS= read -r -d '' vault_ci_value; do
    export "$vault_ci_prefix$vault_ci_name=$vault_ci_value"
  done < <(
    # shellcheck source=/dev/null
    . "$vault_ci_dir/env"
    for vault_ci_name in AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_CREDENTIAL_EXPIRATION; do
      printf '%s\0%s\0' "$vault_ci_name" "${!vault_ci_name}"
    done
  )
fi
rm -rf "$vault_ci_dir"
if [[ -n ${BUILDKITE_PLUGIN_VAULT_CI_REGION:-} ]]; then
  export AWS_DEFAULT_REGION=$BUILDKITE_PLUGIN_VAULT_CI_REGION AWS_REGION=$BUILDKITE_PLUGIN_VAULT_CI_REGION
  echo "Using region: $AWS_REGION"
fi
unset vault_ci_known vault_ci_var vault_ci_option vault_ci_name vault_ci_value vault_ci_role vault_ci_prefix \
  vault_ci_refresh vault_ci_args vault_ci_ids vault_ci_id vault_ci_tags vault_ci_env vault_ci_bin vault_ci_dir
unset -f vault_ci_fail
