#!/usr/bin/env bash
# Builds vault-ci for one Rust target and lays out dist/ as the release, the
# action, the orb and the Dockerfile expect it:
#   dist/<os>-<arch>/vault-ci[.exe]                          the Dockerfile's input
#   dist/assets/vault-ci-<version>-<os>-<arch>[.exe]         a release asset
#   dist/assets/vault-ci-<version>-<os>-<arch>[.exe].sha256  its `sha256sum` line
#   dist/ca-certificates.crt                                 (Linux) the image's CA roots
#   dist/linux-<arch>/busybox/                                (Linux, busybox-static installed) the
#                                                             shell image's BusyBox root
# Usage: scripts/dist.sh RUST_TARGET [BINARY]  (BINARY: package it instead of building)
set -euo pipefail
cd "$(dirname "$0")/.."

target=${1:?usage: scripts/dist.sh RUST_TARGET [BINARY]}
case $target in
  x86_64-unknown-linux-*) platform=linux-amd64 ;;
  aarch64-unknown-linux-*) platform=linux-arm64 ;;
  x86_64-apple-darwin) platform=macos-amd64 ;;
  aarch64-apple-darwin) platform=macos-arm64 ;;
  x86_64-pc-windows-*) platform=windows-amd64 ;;
  *) echo "dist.sh: no release platform for $target" >&2; exit 2 ;;
esac
exe=
if [[ $target == *windows* ]]; then exe=.exe; fi

binary=${2:-}
if [ -z "$binary" ]; then
  # The `dist` profile (Cargo.toml) is what ships: smallest at no cost in run time.
  # musl-gcc (musl-tools) builds for this machine's own arch only; a cross build (arm64 on
  # x86_64) takes the C compiler and linker that .cargo/config.toml names.
  cc=CC_${target//-/_}
  if [[ $target == "$(uname -m)"-*-linux-musl ]] && [ -z "${!cc:-}" ] && command -v musl-gcc >/dev/null; then
    export "$cc=musl-gcc" # as bench/run.sh builds it, so the two share one build
  fi
  cargo build --locked --profile dist --target "$target"
  binary=${CARGO_TARGET_DIR:-target}/$target/dist/vault-ci$exe
fi

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
asset=vault-ci-$version-$platform$exe
dist=${DIST_DIR:-dist}
mkdir -p "$dist/$platform" "$dist/assets"
cp "$binary" "$dist/$platform/vault-ci$exe"
cp "$binary" "$dist/assets/$asset"
if command -v sha256sum >/dev/null; then sum=(sha256sum); else sum=(shasum -a 256); fi
(cd "$dist/assets" && "${sum[@]}" "$asset" >"$asset.sha256")
# The image is FROM scratch: it trusts the CA roots of the machine that built it.
if [[ $platform == linux-* ]]; then cp /etc/ssl/certs/ca-certificates.crt "$dist/"; fi
# The job image's root (Dockerfile target `shell`): BusyBox's static binary from Debian's
# busybox-static, with a link for each applet, /tmp, /root and a passwd file. Only where this
# machine can run a busybox of the platform's arch (the release builds each on its own arch).
busybox=$(command -v busybox 2>/dev/null || true)
if [[ $platform == linux-* && -n $busybox ]] && ! readelf -lW "$busybox" 2>/dev/null | grep -q 'program interpreter' &&
  [[ $platform == linux-$(uname -m | sed 's/x86_64/amd64/; s/aarch64/arm64/') ]]; then
  root=$dist/$platform/busybox
  rm -rf "$root"
  mkdir -p "$root/bin" "$root/root" "$root/etc" "$root/tmp"
  chmod 1777 "$root/tmp"
  cp "$busybox" "$root/bin/busybox"
  for applet in $("$busybox" --list); do
    [ "$applet" = busybox ] || ln -s busybox "$root/bin/$applet"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nnonroot:x:65532:65532:nonroot:/home/nonroot:/bin/sh\n' >"$root/etc/passwd"
  printf 'root:x:0:\nnonroot:x:65532:\n' >"$root/etc/group"
fi
echo "$dist/assets/$asset"
