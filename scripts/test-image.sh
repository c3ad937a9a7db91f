#!/usr/bin/env bash
# The container images as their users run them: build the static binary and both images
# with buildah, check their size, user and labels, then run the scratch one for --version and
# for a real exchange against moto on 127.0.0.1 (a token file in, an env file out, as a
# Kubernetes init container would), and in the shell one (target `shell`, BusyBox's sh from
# Debian's busybox-static) the GitLab component's before_script as a GitLab job runs it: it
# finds the image's vault-ci, checks it against the digest pinned in the component, and
# leaves the credentials in the shell.
set -euo pipefail
cd "$(dirname "$0")/.."

target=x86_64-unknown-linux-musl
if ! command -v buildah >/dev/null; then
  echo "SKIPPED the image test: buildah is not installed and could not be (apt-get install buildah)"
  exit 0
fi
if ! command -v busybox >/dev/null; then
  echo "SKIPPED the image test: busybox is not installed and could not be (apt-get install busybox-static)"
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

echo "image: ${size} MB, runs as $user, $version, exchanged a token for $arn"

# The shell image, for CI jobs.
shell_image=localhost/vault-ci:test-shell
"${buildah[@]}" bud --quiet --isolation chroot --platform linux/amd64 --target shell \
  --build-arg "VERSION=${version#vault-ci }" --tag "$shell_image" . >/dev/null
"${buildah[@]}" push --quiet "$shell_image" "oci-archive:$work/shell.tar" >/dev/null
shell_bytes=$("${as_root[@]}" stat -c %s "$work/shell.tar")
shell_size=$(((shell_bytes + 999999) / 1000000))
shell_inspect() { "${buildah[@]}" inspect --type image --format "$1" "$shell_image"; }
[ "$shell_size" -le 12 ] || fail "the shell image is ${shell_size} MB, expected at most 12"
[ -z "$(shell_inspect '{{.OCIv1.Config.Entrypoint}}' | tr -d '[]')" ] || fail "the shell image has an entrypoint: a CI's runner could not start its shell"
[[ $(shell_inspect '{{.OCIv1.Config.Labels}}') == *"org.opencontainers.image.licenses:(MIT OR Apache-2.0) AND GPL-2.0-only"* ]] ||
  fail "the shell image's licence label does not name BusyBox's GPL-2.0"
shell=$("${buildah[@]}" from --quiet "$shell_image")
[ "$(run "$shell" -- sh -c 'vault-ci --version')" = "$version" ] || fail "sh -c 'vault-ci --version' is not $version in the shell image"

# The component as its release leaves it: this musl binary's digest pinned.
mkdir -p "$work/component" "$work/job"
cp -R install.sh templates "$work/component/"
python3 scripts/pin-digests.py pin --root "$work/component" "${version#vault-ci }" dist/assets/*-linux-amd64.sha256
python3 scripts/split-component.py "$work/component/templates/assume-role.yml" "$work/job"
printf '%s\n' '. /job/component-before-script.sh' 'env | grep "^AWS_" > /job/aws.env' >"$work/job/job.sh"
token=$(python3 tests/peers/peer.py mint-token --iss https://gitlab.com --aud sts.amazonaws.com \
  --sub project_path:acme/app:ref_type:branch:ref:main)
run --env AWS_ENDPOINT_URL="$endpoint" --env GITLAB_CI=true --env CI_PIPELINE_ID=900 --env CI_JOB_ID=901 \
  --env VAULT_CI_ID_TOKEN="$token" --env VAULT_CI_INPUT_ROLE_ARN="$role" --env VAULT_CI_INPUT_REGION=eu-west-1 \
  --env VAULT_CI_INPUT_DURATION=900 --env VAULT_CI_INPUT_SESSION_NAME= --env VAULT_CI_INPUT_AUDIENCE=sts.amazonaws.com \
  --env VAULT_CI_INPUT_CHAIN= --env VAULT_CI_INPUT_REFRESH=false --env VAULT_CI_INPUT_VERSION= \
  --volume "$work/job:/job" "$shell" -- sh /job/job.sh 2>"$work/job/log" || { cat "$work/job/log" >&2; fail "the component's before_script failed in the shell image"; }
grep -q "^vault-ci install: Using vault-ci ${version#vault-ci } from /usr/local/bin/vault-ci " "$work/job/log" ||
  { cat "$work/job/log" >&2; fail "the component did not use the image's vault-ci"; }
shell_arn=$(eval "$("${as_root[@]}" sed 's/^/export /' "$work/job/aws.env")" &&
  AWS_ENDPOINT_URL=$endpoint aws sts get-caller-identity --query Arn --output text)
[[ $shell_arn == */gha-deploy/gitlab-900-901 ]] || fail "the component in the shell image gave $shell_arn"

echo "image (shell): ${shell_size} MB, the GitLab component's before_script in BusyBox sh gave $shell_arn (${SECONDS}s in all)"
