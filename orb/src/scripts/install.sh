#!/bin/bash
# Puts vault-ci on PATH for this and later steps (through $BASH_ENV). vault-ci's own
# install.sh, embedded below with the digests the orb's release pinned in it
# (scripts/pin-digests.py), checks the binary before it is used: one an earlier step
# installed, one on PATH, or a download. One that does not match never runs.
set -euo pipefail

want=${PARAM_VERSION#v}
if ! [[ $want =~ ^[0-9]+(\.[0-9]+){0,2}(-[0-9A-Za-z.]+)?$ ]]; then
  echo "vault-ci: version '$PARAM_VERSION' is not a version such as 1.2.3" >&2
  exit 1
fi
out=$(mktemp)
trap 'rm -f "$out"' EXIT
VAULT_CI_INSTALL_VERSION=$want VAULT_CI_INSTALL_DIR=$HOME/.vault-ci/$want/bin \
  VAULT_CI_INSTALL_URL=$PARAM_RELEASES_URL sh -s >"$out" <<'VAULT_CI_INSTALL_SH'
#!/bin/sh
# Installs vault-ci: the release binary for this OS and architecture, checked against the
# SHA-256 digests pinned in this file by the release, into DIR (default ~/.local/bin).
#
#   curl -fsSL https://github.com/vault-ci/vault-ci/releases/download/v0.1.0/install.sh | sh
#   sh install.sh [--version VERSION] [--dir DIR] [--releases-url URL] [--verify-attestation]
#
# Every packaging (the GitHub Action, the CircleCI orb, the GitLab component, the Buildkite
# plugin) runs this same script. A binary is used only if its SHA-256 is the pinned one, and
# is checked before every use: one already in DIR, a vault-ci on PATH (used where it is), or
# a download. One that does not match never runs. The directory holding the verified vault-ci
# is the only line on stdout; everything else goes to stderr.
# VERSION: the pinned version or a prefix of it (1, 1.2). The settings may also come from
# VAULT_CI_INSTALL_VERSION, VAULT_CI_INSTALL_DIR and VAULT_CI_INSTALL_URL.
# --verify-attestation (or VAULT_CI_INSTALL_VERIFY_ATTESTATION=true) also checks, before every
# use, the build provenance the release attested for the binary, with the GitHub CLI
# (`gh attestation verify`, which needs gh logged in or GH_TOKEN): one that does not verify
# never runs.
# POSIX sh (dash, busybox ash, bash, zsh); needs curl or wget, and sha256sum, shasum or openssl.
set -eu

# Pinned by the release (scripts/pin-digests.py): empty between releases.
pinned_version=''
pinned_digests='
'

fail() {
  echo "vault-ci install: $*" >&2
  exit 1
}
note() { echo "vault-ci install: $*" >&2; }

version=${VAULT_CI_INSTALL_VERSION:-}
dir=${VAULT_CI_INSTALL_DIR:-}
url=${VAULT_CI_INSTALL_URL:-https://github.com/vault-ci/vault-ci/releases/download}
attestation=${VAULT_CI_INSTALL_VERIFY_ATTESTATION:-false}
while [ $# -gt 0 ]; do
  case $1 in
    --verify-attestation)
      attestation=true
      shift
      ;;
    --version | --dir | --releases-url)
      [ $# -ge 2 ] || fail "$1 needs a value"
      case $1 in
        --version) version=$2 ;;
        --dir) dir=$2 ;;
        *) url=$2 ;;
      esac
      shift 2
      ;;
    -h | --help)
      echo "usage: install.sh [--version VERSION] [--dir DIR] [--releases-url URL] [--verify-attestation]" >&2
      exit 0
      ;;
    *) fail "unknown argument '$1': use --version VERSION, --dir DIR, --releases-url URL, --verify-attestation" ;;
  esac
done
case $attestation in
  true) command -v gh >/dev/null 2>&1 ||
    fail "VAULT_CI_INSTALL_VERIFY_ATTESTATION=true needs the GitHub CLI (gh) to verify the release's attestation: install gh, or drop the setting" ;;
  false | '') ;;
  *) fail "VAULT_CI_INSTALL_VERIFY_ATTESTATION is '$attestation': use true or false" ;;
esac
version=${version#v}
version=${version:-$pinned_version}
if [ -z "$dir" ]; then
  [ -n "${HOME:-}" ] || fail "no HOME to install into: give --dir DIR"
  dir=$HOME/.local/bin
fi

# Only what the release pinned can be verified, so only that can be installed.
[ -n "$pinned_version" ] ||
  fail "this install.sh has no pinned digests, only a release's has: use the release's (…/releases/download/vX.Y.Z/install.sh)"
if ! printf '%s\n' "$version" | grep -Eqx '([0-9]+(\.[0-9]+){0,2}(-[0-9A-Za-z.]+)?)?'; then
  fail "version '$version' is not a version such as $pinned_version"
fi
case $pinned_version in
  "$version" | "$version".*) version=$pinned_version ;;
  *) fail "vault-ci $version: this packaging pins the digests of vault-ci $pinned_version only; use version $pinned_version, or the packaging's release of $version" ;;
esac

exe=
os=$(uname -s)
arch=$(uname -m)
case $os-$arch in
  Linux-x86_64 | Linux-amd64) platform=linux-amd64 ;;
  Linux-aarch64 | Linux-arm64) platform=linux-arm64 ;;
  Darwin-x86_64) platform=macos-amd64 ;;
  Darwin-arm64) platform=macos-arm64 ;;
  # Git Bash, MSYS2, Cygwin; Windows on Arm runs the x64 build.
  MINGW*-* | MSYS*-* | CYGWIN*-*) platform=windows-amd64 exe=.exe ;;
  *) fail "no vault-ci release for $os $arch: build it with cargo install --locked --git https://github.com/vault-ci/vault-ci" ;;
esac
asset=vault-ci-$version-$platform$exe
want=$(printf '%s\n' "$pinned_digests" | awk -v asset="$asset" '$2 == asset || $2 == "*" asset { print $1 }')
printf '%s\n' "$want" | grep -Eqx '[0-9a-f]{64}' || fail "no SHA-256 of $asset is pinned here"

# The SHA-256 of a file's bytes (the file itself: no name in a checksum file is trusted).
sha256() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum <"$1" | cut -d ' ' -f 1
  elif command -v shasum >/dev/null 2>&1; then
    shasum -a 256 <"$1" | cut -d ' ' -f 1
  elif command -v openssl >/dev/null 2>&1; then
    openssl dgst -sha256 <"$1" | sed 's/^.*= *//'
  else
    fail "no sha256sum, shasum or openssl to check vault-ci with"
  fi
}
verified() { [ -f "$1" ] && [ "$(sha256 "$1")" = "$want" ]; }

# Runs only a binary checked just now; says where it is on stdout.
use() {
  if [ "$attestation" = true ] &&
    ! gh attestation verify "$1/vault-ci$exe" --repo vault-ci/vault-ci >&2; then
    fail "$1/vault-ci$exe matches its pinned SHA-256 but its build provenance does not verify (gh attestation verify --repo vault-ci/vault-ci); not used"
  fi
  have=$("$1/vault-ci$exe" --version 2>/dev/null | tr -d '\r') || have=
  if [ "$have" != "vault-ci $version" ]; then
    [ "$1" != "$dir" ] || rm -f "$dir/vault-ci$exe"
    fail "$asset matches its pinned SHA-256 but does not run on this $os $arch${have:+ (it says: $have)}; not installed"
  fi
  note "Using vault-ci $version from $1/vault-ci$exe (SHA-256 $want)"
  printf '%s\n' "$1"
  exit 0
}

if verified "$dir/vault-ci$exe"; then use "$dir"; fi
if found=$(command -v "vault-ci$exe" 2>/dev/null) && [ -n "$found" ]; then
  if verified "$found"; then use "$(cd "$(dirname "$found")" && pwd)"; fi
  note "$found is not the release binary of vault-ci $version for $platform (its SHA-256 differs): not used"
fi

source_url=$url/v$version/$asset
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vault-ci-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
note "downloading $source_url"
if command -v curl >/dev/null 2>&1; then
  curl -fsSL --retry 3 -o "$tmp/$asset" "$source_url" || fail "could not download $source_url"
elif command -v wget >/dev/null 2>&1; then
  wget -q -O "$tmp/$asset" "$source_url" || fail "could not download $source_url"
else
  fail "neither curl nor wget is here to download $source_url"
fi
got=$(sha256 "$tmp/$asset")
[ "$got" = "$want" ] ||
  fail "$asset from $source_url does not match the SHA-256 pinned in this packaging ($want; it has $got); not installed"

# Into DIR under a temporary name, checked again there, then renamed: DIR never holds a
# partial or unchecked vault-ci.
mkdir -p "$dir" || fail "cannot create $dir"
if ! cp "$tmp/$asset" "$dir/.vault-ci.$$" || ! chmod 0755 "$dir/.vault-ci.$$"; then
  rm -f "$dir/.vault-ci.$$"
  fail "cannot write to $dir"
fi
if ! verified "$dir/.vault-ci.$$"; then
  rm -f "$dir/.vault-ci.$$"
  fail "$dir/.vault-ci.$$ changed while it was installed; not installed"
fi
mv -f "$dir/.vault-ci.$$" "$dir/vault-ci$exe"
use "$dir"
VAULT_CI_INSTALL_SH
# shellcheck disable=SC2016 # $PATH is $BASH_ENV's to expand, in each later step
printf 'export PATH=%q:"$PATH"\n' "$(cat "$out")" >>"$BASH_ENV"
