#!/usr/bin/env bash
# Installs, unless present, what scripts/build-cross.sh and scripts/test-platforms.sh use:
# from Debian's packages the mingw-w64 C compiler (x86_64-w64-mingw32-gcc), wine with its
# 64-bit loader (Debian 12: /usr/lib/wine/wine64, run by `wine`), qemu-user-static
# (qemu-aarch64-static) and the arm64 gcc with its libc headers; the Rust targets
# x86_64-pc-windows-gnu and aarch64-unknown-linux-musl.
set -euo pipefail

packages=()
command -v x86_64-w64-mingw32-gcc >/dev/null || packages+=(gcc-mingw-w64-x86-64)
command -v wine >/dev/null || packages+=(wine)
command -v wine64 >/dev/null || [ -x /usr/lib/wine/wine64 ] || packages+=(wine64)
command -v qemu-aarch64-static >/dev/null || packages+=(qemu-user-static)
command -v aarch64-linux-gnu-gcc >/dev/null || packages+=(gcc-aarch64-linux-gnu)
# Its libc headers, only recommended by it: ring's C includes <stdint.h>.
[ -f /usr/aarch64-linux-gnu/include/stdint.h ] || packages+=(libc6-dev-arm64-cross)
if [ ${#packages[@]} -gt 0 ]; then
  as_root=()
  if [ "$(id -u)" != 0 ]; then as_root=(sudo); fi
  echo "installing ${packages[*]} from Debian's packages" >&2
  "${as_root[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq --no-install-recommends \
    "${packages[@]}" >/dev/null
fi

for target in x86_64-pc-windows-gnu aarch64-unknown-linux-musl; do
  rustup target list --installed | grep -qx "$target" || rustup target add "$target"
done
