#!/bin/bash
# Puts vault-ci on PATH for this and later steps (through $BASH_ENV). A vault-ci
# already on PATH of the wanted version is used as it is; otherwise the release
# binary is downloaded and checked against its published SHA-256.
set -euo pipefail

want=${PARAM_VERSION#v}
if have=$(vault-ci --version 2>/dev/null) && [[ ${have#vault-ci } == "$want" || ${have#vault-ci } == "$want".* ]]; then
  echo "Using $have from $(command -v vault-ci)"
  exit 0
fi
if ! [[ $want =~ ^[0-9]+\.[0-9]+\.[0-9]+ ]]; then
  echo "vault-ci: version $want is not on PATH; give a full version such as 1.2.3 to download one" >&2
  exit 1
fi

case $(uname -s)-$(uname -m) in
  Linux-x86_64) platform=linux-amd64 ;;
  Linux-aarch64 | Linux-arm64) platform=linux-arm64 ;;
  Darwin-x86_64) platform=macos-amd64 ;;
  Darwin-arm64) platform=macos-arm64 ;;
  *) echo "vault-ci: no release for $(uname -s) $(uname -m); put a vault-ci $want on PATH" >&2; exit 1 ;;
esac
asset=vault-ci-$want-$platform
url=$PARAM_RELEASES_URL/v$want/$asset
download=$(mktemp -d)
trap 'rm -rf "$download"' EXIT
curl -fsSL --retry 3 -o "$download/$asset" "$url" -o "$download/$asset.sha256" "$url.sha256"
if command -v sha256sum >/dev/null; then sum=(sha256sum); else sum=(shasum -a 256); fi
if ! (cd "$download" && "${sum[@]}" --check --status "$asset.sha256"); then
  echo "vault-ci: $asset does not match its published SHA-256 ($url.sha256); not installed" >&2
  exit 1
fi
bin=$HOME/.vault-ci/$want/bin
mkdir -p "$bin"
install -m 0755 "$download/$asset" "$bin/vault-ci"
echo "export PATH=\"$bin:\$PATH\"" >>"$BASH_ENV"
"$bin/vault-ci" --version
