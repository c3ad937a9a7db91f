#!/usr/bin/env bash
# The field notes' deploy, on this machine: a local STS (moto on 127.0.0.1)
# with an AssumeRole-only deploy user and two roles, then
#   vault-ci assume --chain deploy,cfn -- aws sts get-caller-identity
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-test-peers.sh
cargo build --release --locked --quiet
vault_ci=$PWD/target/release/vault-ci

# The peer serves until its stdin closes, i.e. until this script exits.
coproc STS { python3 tests/peers/peer.py moto --auth; }
IFS= read -r ready <&"${STS[0]}"
field() { python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(eval("d"+sys.argv[2]))' "$ready" "$1"; }

export AWS_ENDPOINT_URL AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
AWS_ENDPOINT_URL=$(field '["endpoint"]')
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_CA_BUNDLE
echo "== local STS (moto) at $AWS_ENDPOINT_URL, IAM policies enforced"

# What a CI secret store would hold: the deploy user's keys and the role ARNs.
export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY VAULT_CI_ROLE_DEPLOY VAULT_CI_ROLE_CFN
AWS_ACCESS_KEY_ID=$(field '["deploy_user"]["access_key_id"]')
AWS_SECRET_ACCESS_KEY=$(field '["deploy_user"]["secret_access_key"]')
VAULT_CI_ROLE_DEPLOY=$(field '["roles"]["deploy"]')
VAULT_CI_ROLE_CFN=$(field '["roles"]["cfn"]')
echo "== deploy user $(field '["deploy_user"]["arn"]') may only call sts:AssumeRole on the deploy role"
echo "   VAULT_CI_ROLE_DEPLOY=$VAULT_CI_ROLE_DEPLOY"
echo "   VAULT_CI_ROLE_CFN=$VAULT_CI_ROLE_CFN"
echo

echo '$ vault-ci assume --chain deploy,cfn -- aws sts get-caller-identity'
"$vault_ci" assume --chain deploy,cfn --session-name demo -- aws sts get-caller-identity
echo

echo '$ vault-ci assume --chain deploy --env-file aws-env.sh   # what assume_role.sh used to write'
demo_dir=$(mktemp -d)
trap 'rm -rf "$demo_dir"' EXIT
"$vault_ci" assume --chain deploy --session-name demo --env-file "$demo_dir/aws-env.sh"
sed -E "/(SECRET_ACCESS_KEY|SESSION_TOKEN)=/ s/='(.{4}).*'/='\\1…'/" "$demo_dir/aws-env.sh"
