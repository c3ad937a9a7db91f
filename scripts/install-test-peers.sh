#!/usr/bin/env bash
# Installs what the tests and the demo talk to: moto's STS (with its server
# extras) and the aws CLI, from PyPI, unless they are already there.
set -euo pipefail

python=${PYTHON:-python3}
missing=()
"$python" -c 'import moto.server, werkzeug, cryptography, boto3' 2>/dev/null || missing+=('moto[server]>=5,<6')
command -v aws >/dev/null 2>&1 || missing+=('awscli')
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing test peers: ${missing[*]}" >&2
  "$python" -m pip install --quiet "${missing[@]}"
fi
