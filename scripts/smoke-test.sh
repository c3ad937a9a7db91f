#!/usr/bin/env bash
# Smoke-tests a built vault-ci on the machine that built it, before it is published (each
# build job of release.yml runs it on its own runner OS): `--version` is the crate's, and
# a web-identity exchange against moto on 127.0.0.1 (tests/peers/peer.py; a token minted
# by `peer.py mint-token` in a file, the credentials as JSON) gives the role's session.
# Needs Python with moto[server] (scripts/install-test-peers.sh); PYTHON names it.
# Usage: scripts/smoke-test.sh BINARY [LAUNCHER...]   (e.g. vault-ci.exe wine)
set -euo pipefail
cd "$(dirname "$0")/.."

binary=${1:?usage: scripts/smoke-test.sh BINARY [LAUNCHER...]}
shift
run=("$@" "$binary")
python=${PYTHON:-python3}
fail() { echo "smoke-test: $binary: $*" >&2; exit 1; }

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
got=$("${run[@]}" --version | tr -d '\r')
[ "$got" = "vault-ci $version" ] || fail "--version says '$got', expected 'vault-ci $version'"

# moto's STS, serving until this script exits (its stdin closes).
coproc MOTO { exec "$python" tests/peers/peer.py moto; }
IFS= read -r ready <&"${MOTO[0]}" || fail "moto did not start"
read -r endpoint role < <("$python" -c 'import json,sys; d=json.loads(sys.argv[1]); print(d["endpoint"], d["roles"]["gha-deploy"])' "$ready" | tr -d '\r')
# A relative folder: the same path for every binary, a Windows one included.
work=$(mktemp -d smoke-test.XXXXXX)
trap 'rm -rf "$work"' EXIT
"$python" tests/peers/peer.py mint-token >"$work/token"

json=$(AWS_ENDPOINT_URL=$endpoint AWS_REGION=us-east-1 "${run[@]}" assume --role-arn "$role" \
  --token-file "$work/token" --session-name smoke-test --format json) || fail "the exchange failed"
arn=$("$python" -c 'import json,sys; print(json.load(sys.stdin)["RoleArn"])' <<<"$json" | tr -d '\r')
[ "$arn" = "arn:aws:sts::123456789012:assumed-role/gha-deploy/smoke-test" ] ||
  fail "the exchange gave '$arn'"
# The binary's own platform is what it was built for; under a launcher (wine, qemu) the
# host's uname is not it.
where="on $(uname -sm)"
if [ $# -gt 0 ]; then
  kind=$(file -b "$binary" 2>/dev/null | cut -d, -f1-2) || kind=
  where="(${kind:-$(basename "$binary")}) under $1 on $(uname -sm)"
fi
echo "smoke-test: $got $where exchanged a token for $arn"
