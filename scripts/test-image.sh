#!/usr/bin/env bash
# The container image as its users run it: build the static binary and the image
# with buildah, check its size, user and labels, then run it for --version and for
# a real exchange against moto on 127.0.0.1 (a token file in, an env file out, as
# a Kubernetes init container would).
set -euo pipefail
cd "$(dirname "$0")/.."

target=x86_64-unknown-linux-musl
if ! command -v buildah >/dev/null; then
  echo "SKIPPED the image test: buildah is not installed and could not be (apt-get install buildah)"
  exit 0
fi
if ! rustup target list --installed 2>/dev/null | grep -qx "$target"; then
  echo "SKIPPED the image test: the Rust target $target is not installed and could not be (rustup target add $target)"
  exit 0
fi

SECONDS=0
scripts/dist.sh "$target" >/dev/null
version=$(dist/linux-amd64/vault-ci --version)
echo "image: static binary built in ${SECONDS}s"

# buildah and the files of the image's user need root; nothing else does.
as_root=()
if [ "$(id -u)" != 0 ]; then as_root=(sudo); fi
work=$(mktemp -d)
buildah=("${as_root[@]}" buildah --root "$work/storage" --runroot "$work/run" --storage-driver vfs)
trap '"${buildah[@]}" rm --all >/dev/null 2>&1 || true; "${as_root[@]}" rm -rf "$work"' EXIT

image=localhost/vault-ci:test
"${buildah[@]}" bud --quiet --isolation chroot --platform linux/amd64 \
  --build-arg "VERSION=${version#vault-ci }" --tag "$image" . >/dev/null
inspect() { "${buildah[@]}" inspect --type image --format "$1" "$image"; }
# What a registry stores and a runner pulls: the image as an OCI archive.
"${buildah[@]}" push --quiet "$image" "oci-archive:$work/image.tar" >/dev/null
bytes=$("${as_root[@]}" stat -c %s "$work/image.tar")
size=$(((bytes + 999999) / 1000000))
# For bench/run.sh, which reports it against the 8 MB target.
mkdir -p "${CARGO_TARGET_DIR:-target}"
echo "$bytes" >"${CARGO_TARGET_DIR:-target}/image-size"
user=$(inspect '{{.OCIv1.Config.User}}')
labels=$(inspect '{{.OCIv1.Config.Labels}}')
fail() { echo "image: $*" >&2; exit 1; }
[ "$size" -le 8 ] || fail "${size} MB, expected at most 8"
[ "$user" = 65532:65532 ] || fail "runs as '$user', expected 65532:65532"
for label in title source licenses version; do
  [[ $labels == *"org.opencontainers.image.$label:"* ]] || fail "no OCI label $label in $labels"
done

container=$("${buildah[@]}" from --quiet "$image")
run() { "${buildah[@]}" run --isolation chroot --network host "$@"; }
[ "$(run "$container" -- /usr/local/bin/vault-ci --version)" = "$version" ] || fail "--version is not $version"

# moto's STS on 127.0.0.1, serving until this script exits.
coproc MOTO { exec python3 tests/peers/peer.py moto; }
IFS= read -r ready <&"${MOTO[0]}"
read -r endpoint role < <(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(d["endpoint"], d["roles"]["gha-deploy"])' "$ready")
mkdir -m 0755 "$work/in" "$work/out"
python3 tests/peers/peer.py mint-token >"$work/in/token"
chmod 0644 "$work/in/token"
"${as_root[@]}" chown 65532:65532 "$work/out"

run --env AWS_ENDPOINT_URL="$endpoint" --env AWS_REGION=us-east-1 \
  --volume "$work/in:/in:ro" --volume "$work/out:/out" "$container" -- \
  /usr/local/bin/vault-ci assume --role-arn "$role" --token-file /in/token \
  --session-name image-test --env-file /out/aws.env
owner=$("${as_root[@]}" stat -c %u "$work/out/aws.env")
[ "$owner" = 65532 ] || fail "the env file belongs to uid $owner, expected 65532"
arn=$(eval "$("${as_root[@]}" cat "$work/out/aws.env")" &&
  AWS_ENDPOINT_URL=$endpoint aws sts get-caller-identity --query Arn --output text)
[[ $arn == */gha-deploy/image-test ]] || fail "the exchange gave $arn"

echo "image: ${size} MB, runs as $user, $version, exchanged a token for $arn (${SECONDS}s in all)"
