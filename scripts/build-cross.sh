#!/usr/bin/env bash
# Builds vault-ci for Windows (x86_64-pc-windows-gnu, with mingw-w64) and static Linux
# arm64 (aarch64-unknown-linux-musl, with the settings of .cargo/config.toml) on this
# machine, and lays them out for scripts/test-platforms.sh:
#   target/platforms/windows-amd64/vault-ci.exe
#   target/platforms/windows-amd64/bcryptprimitives.dll   a stand-in for wine (see below)
#   target/platforms/linux-arm64/vault-ci                 checked to be statically linked
# Usage: scripts/build-cross.sh [PROFILE]  (default dev; `dist` is what scripts/dist.sh ships)
# Run scripts/install-cross.sh first.
set -euo pipefail
cd "$(dirname "$0")/.."

profile=${1:-dev}
case $profile in
  dev | test) folder=debug ;;
  *) folder=$profile ;;
esac
target_dir=${CARGO_TARGET_DIR:-target}
windows=x86_64-pc-windows-gnu
arm64=aarch64-unknown-linux-musl

# One cargo run for both targets: their jobs share the cores.
cargo build --locked --profile "$profile" --target "$windows" --target "$arm64"

out=$target_dir/platforms
mkdir -p "$out/windows-amd64" "$out/linux-arm64"
cp "$target_dir/$windows/$folder/vault-ci.exe" "$out/windows-amd64/"
cp "$target_dir/$arm64/$folder/vault-ci" "$out/linux-arm64/"

# Wine 8.0 (Debian 12) has no bcryptprimitives.dll, whose ProcessPrng Rust's std (>= 1.78)
# imports; Windows 10 and later have it. This stand-in lives only here, beside the test
# copy of the binary: scripts/dist.sh never sees it.
x86_64-w64-mingw32-gcc -shared -O2 -Wall -Werror -o "$out/windows-amd64/bcryptprimitives.dll" \
  tests/platforms/bcryptprimitives.c tests/platforms/bcryptprimitives.def -ladvapi32

# Static: no program interpreter and no shared library to load.
elf=$out/linux-arm64/vault-ci
if readelf -lW "$elf" | grep -q 'program interpreter' || readelf -dW "$elf" | grep -q '(NEEDED)'; then
  echo "build-cross: $elf is not statically linked:" >&2
  readelf -lW -dW "$elf" | grep -E 'interpreter|NEEDED' >&2
  exit 1
fi
