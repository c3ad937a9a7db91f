#!/usr/bin/env bash
# The action's first step: puts vault-ci on PATH for the later steps. A vault-ci
# already on PATH of the wanted version is used as it is; otherwise the release
# binary for this runner is downloaded, checked against its published SHA-256 and
# kept in the tool cache.
set -euo pipefail

fail() {
  echo "::error title=vault-ci install::$*"
  exit 1
}

# Wanted: the `version` input, else the action's ref when it is a version tag
# (v1.2.3, or v1: the newest 1.x, which is what that tag checks out), else the
# version of this checkout of the action.
own=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$GITHUB_ACTION_PATH/Cargo.toml" | head -n 1)
want=${VERSION:-}
if [ -z "$want" ] && [[ ${ACTION_REF:-} =~ ^v[0-9]+(\.[0-9]+){0,2}$ ]]; then want=$ACTION_REF; fi
want=${want#v}
want=${want:-$own}

if have=$(vault-ci --version 2>/dev/null) && [[ ${have#vault-ci } == "$want" || ${have#vault-ci } == "$want".* ]]; then
  echo "Using $have from $(command -v vault-ci)"
  exit 0
fi

if ! [[ $want =~ ^[0-9]+\.[0-9]+\.[0-9]+ ]]; then
  [[ $own == "$want".* ]] || fail "version $want: give a full version such as $own"
  want=$own
fi

exe=
case $RUNNER_OS-$RUNNER_ARCH in
  Linux-X64) platform=linux-amd64 ;;
  Linux-ARM64) platform=linux-arm64 ;;
  macOS-X64) platform=macos-amd64 ;;
  macOS-ARM64) platform=macos-arm64 ;;
  Windows-X64 | Windows-ARM64) platform=windows-amd64 exe=.exe ;; # Windows on Arm runs x64 builds
  *) fail "no vault-ci release for $RUNNER_OS $RUNNER_ARCH: put a vault-ci $want on PATH" ;;
esac
asset=vault-ci-$want-$platform$exe
dir=${RUNNER_TOOL_CACHE:-$RUNNER_TEMP}/vault-ci/$want/$RUNNER_ARCH

if [ ! -f "$dir.complete" ]; then
  url=${GITHUB_SERVER_URL:-https://github.com}/${ACTION_REPOSITORY:-vault-ci/vault-ci}/releases/download/v$want/$asset
  download=$(mktemp -d "$RUNNER_TEMP/vault-ci.XXXXXX")
  curl -fsSL --retry 3 -o "$download/$asset" "$url" -o "$download/$asset.sha256" "$url.sha256" ||
    fail "could not download $url and its .sha256"
  if command -v sha256sum >/dev/null; then sum=(sha256sum); else sum=(shasum -a 256); fi
  (cd "$download" && "${sum[@]}" --check --status "$asset.sha256") ||
    fail "$asset does not match its published SHA-256 ($url.sha256); not installed"
  mkdir -p "$dir"
  mv "$download/$asset" "$dir/vault-ci$exe"
  chmod +x "$dir/vault-ci$exe"
  rm -rf "$download"
  # Cached for later jobs only once it runs here: a binary that cannot (wrong platform,
  # a broken download that matched a broken checksum) is fetched anew next time.
  "$dir/vault-ci$exe" --version >/dev/null || fail "$asset does not run on this $RUNNER_OS $RUNNER_ARCH runner; not installed"
  touch "$dir.complete"
fi
echo "$dir" >>"$GITHUB_PATH"
"$dir/vault-ci$exe" --version
