#!/usr/bin/env bash
# Issue 14: the Windows and Linux-arm64 binaries, built here (scripts/build-cross.sh) and
# run under wine and qemu-user against moto on 127.0.0.1: tests/platforms.rs on both, and
# on arm64 also the stories whose commands are Linux programs (the aws CLI, sh, boto3);
# then release.yml's smoke test (scripts/smoke-test.sh) of both.
# The integration-test binary is this machine's (`cargo test` builds it once); only the
# vault-ci it runs is foreign (tests/harness.rs: VAULT_CI_TEST_BINARY, _LAUNCHER).
#
# Fails on a failing test unless EXPECTED_FAILURES names it, and on a named one that
# passes: a fix landed, so take its line out. Usage: scripts/test-platforms.sh [PROFILE]
set -euo pipefail
cd "$(dirname "$0")/.."

# Known failures under wine and qemu, PLATFORM/TEST, reason. Windows' console sends
# Ctrl-C to every process attached to it, which the tests mimic with a SIGINT to the
# process group (wine turns it into a Ctrl-C for each process): the command stops, and
# vault-ci, which ignores Ctrl-C while it waits, passes the command's status on. On
# Windows that status is 0xC000013A (STATUS_CONTROL_C_EXIT); wine ends a process on
# Ctrl-C with status 0 (`wine ping -n 30 127.0.0.1`, SIGINT to its group: exit 0), so
# the tests' "the job failed" check cannot hold here.
declare -A EXPECTED_FAILURES=(
  [windows-amd64/platforms::ctrl_c_stops_the_command_and_fails_the_job]="wine ends a process on Ctrl-C with status 0, Windows with 0xC000013A"
  [windows-amd64/platforms::ctrl_c_stops_the_refreshed_command_and_fails_the_job]="the same under --refresh"
  # --serve starts a second vault-ci, its own program: qemu-user runs only the program
  # it was given, and with no binfmt_misc here the kernel cannot run an arm64 one.
  [linux-arm64/platforms::serve_leaves_a_server_for_later_steps_until_stopped]="qemu-user cannot start an arm64 program from one (no binfmt_misc here); --serve starts itself again"
)

# Debug: the stories test vault-ci's use of the platform (processes, exit codes, signals,
# files), which no optimisation changes, and it builds fastest; release.yml runs the shipped
# (`dist`) binaries on real Windows and arm64 runners.
profile=${1:-dev}

scripts/install-cross.sh
scripts/install-test-peers.sh

SECONDS=0
scripts/build-cross.sh "$profile"
echo "platforms: cross builds ($profile) in ${SECONDS}s"
target_dir=${CARGO_TARGET_DIR:-target}
case $target_dir in /*) ;; *) target_dir=$(pwd)/$target_dir ;; esac
out=$target_dir/platforms

# Wine: quiet, its own prefix under the target folder, no display (none is needed), no
# offer to install Mono or Gecko. `wine` picks Debian's 64-bit loader when no 32-bit one
# is installed; a persistent wineserver saves every test its start-up.
export WINEPREFIX=$out/wine WINEDEBUG=-all WINEDLLOVERRIDES='mscoree,mshtml='
wine=wine
if command -v wine64 >/dev/null; then wine=wine64; fi
mkdir -p "$WINEPREFIX"
wineserver -p 2>/dev/null || true # fails if one already serves this prefix
trap 'wineserver -k 2>/dev/null || true' EXIT
SECONDS=0
# The first program of a wineserver starts wine's services (rpcss, plugplay, svchost),
# which would hold on to that program's stdout, a test's pipe, until the server ends:
# wineboot starts them here, on /dev/null. `-i` makes the prefix first.
init=()
if [ ! -f "$WINEPREFIX/system.reg" ]; then init=(-i); fi
"$wine" wineboot "${init[@]}" </dev/null >/dev/null 2>&1
echo "platforms: wine prefix and services ready in ${SECONDS}s"

summary=()
failed=0
run() {
  local platform=$1 binary=$2 launcher=$3
  shift 3
  local log=$out/$platform.log
  SECONDS=0
  VAULT_CI_TEST_BINARY=$binary VAULT_CI_TEST_LAUNCHER=$launcher \
    cargo test --locked --test integration -- "$@" >"$log" 2>&1 || true
  local took=$SECONDS passed=0 expected=0 unexpected=() fixed=() name result
  while read -r name result; do
    local known=${EXPECTED_FAILURES[$platform/$name]:-}
    case $result in
      ok) if [ -n "$known" ]; then fixed+=("$name"); else passed=$((passed + 1)); fi ;;
      FAILED) if [ -n "$known" ]; then expected=$((expected + 1)); else unexpected+=("$name"); fi ;;
    esac
  done < <(sed -n 's/^test \([^ ]*\) \.\.\. \(ok\|FAILED\)$/\1 \2/p' "$log")
  if ! grep -q '^test result:' "$log"; then
    cat "$log" >&2
    unexpected+=("(the tests did not run)")
  elif [ ${#unexpected[@]} -gt 0 ]; then
    cat "$log" >&2
  fi
  summary+=("$platform under $launcher: $passed passed, $expected known failures, ${#unexpected[@]} failed, ${#fixed[@]} now passing (${took}s)")
  local name_
  for name_ in "${!EXPECTED_FAILURES[@]}"; do
    if [[ $name_ == "$platform/"* ]]; then
      summary+=("  known: ${name_#*/}: ${EXPECTED_FAILURES[$name_]}")
    fi
  done
  for name in "${unexpected[@]}"; do summary+=("  FAILED: $name"); done
  for name in "${fixed[@]}"; do
    summary+=("  NOW PASSES: $name: take it out of EXPECTED_FAILURES in $0")
  done
  if [ ${#unexpected[@]} -gt 0 ] || [ ${#fixed[@]} -gt 0 ]; then failed=1; fi
}

run windows-amd64 "$out/windows-amd64/vault-ci.exe" "$wine" platforms::
run linux-arm64 "$out/linux-arm64/vault-ci" qemu-aarch64-static \
  platforms:: deploy_user:: exec:: refresh:: sinks:: token_file::

# release.yml's smoke test, as each build job runs it on its runner.
smoke() {
  if scripts/smoke-test.sh "$@" >"$out/smoke-test.log" 2>&1; then
    summary+=("$(tail -n 1 "$out/smoke-test.log")")
  else
    cat "$out/smoke-test.log" >&2
    summary+=("smoke test FAILED: $1 under $2")
    failed=1
  fi
}
smoke "$out/windows-amd64/vault-ci.exe" "$wine"
smoke "$out/linux-arm64/vault-ci" qemu-aarch64-static

printf 'platforms: %s\n' "${summary[@]}"
exit "$failed"
