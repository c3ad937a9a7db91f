#!/usr/bin/env bash
# The field notes' deploy, on this machine: a local STS (moto on 127.0.0.1)
# with an AssumeRole-only deploy user and two roles, then
#   vault-ci assume --chain deploy,cfn -- aws sts get-caller-identity
# Needs a Rust toolchain and Python 3; installs moto and the aws CLI from PyPI
# if they are missing. Runs in bash 3.2 (macOS) and later.
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3}
missing=()
"$python" -c 'import moto.server, werkzeug, cryptography' 2>/dev/null || missing+=('moto[server]>=5,<6')
command -v aws >/dev/null 2>&1 || missing+=('awscli')
if [ ${#missing[@]} -gt 0 ]; then
  echo "== installing from PyPI: ${missing[*]}"
  "$python" -m pip install --quiet "${missing[@]}"
fi

echo "== building vault-ci (cargo build --release; the first build takes a few minutes)"
started=$(date +%s)
cargo build --release --locked --bin vault-ci
vault_ci=$PWD/target/release/vault-ci
echo "== built in $(($(date +%s) - started)) s: $vault_ci"

# The STS peer serves until its stdin closes: this script holds it open (fd 3)
# until it exits, whatever way it exits.
work=$(mktemp -d)
trap 'exec 3>&-; rm -rf "$work"' EXIT
mkfifo "$work/sts-stdin"
"$python" tests/peers/peer.py moto --auth <"$work/sts-stdin" >"$work/sts-ready" &
exec 3>"$work/sts-stdin"
until [ -s "$work/sts-ready" ]; do sleep 0.1; done
ready=$(head -n 1 "$work/sts-ready")
field() { "$python" -c 'import json,sys; d=json.loads(sys.argv[1]); print(eval("d"+sys.argv[2]))' "$ready" "$1"; }

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
"$vault_ci" assume --chain deploy --session-name demo --env-file "$work/aws-env.sh"
sed -E "/(SECRET_ACCESS_KEY|SESSION_TOKEN)=/ s/='(.{4}).*'/='\\1…'/" "$work/aws-env.sh"
echo
echo "== vault-ci is at $vault_ci"
echo "   next: $vault_ci assume -h   (this build on PATH: cargo install --locked --path .)"
