#!/usr/bin/env bash
# Coverage-guided fuzzing (cargo fuzz, libFuzzer) of vault-ci's token decoding,
# trust-policy reading, proxy URLs, CA bundles and env writers: FUZZING.md.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#
# Builds every target, then runs each (all by default) for SECONDS_PER_TARGET
# (default 30), starting from the seeds in fuzz/corpus/<target>/; what a run
# adds to them goes to fuzz/work/corpus/<target>/ (not checked in). Targets run
# $FUZZ_JOBS (default: one per core) at a time. Fails if any target crashed,
# naming the input that did it (fuzz/artifacts/<target>/…) and how to replay it.
# The build goes to $CARGO_TARGET_DIR if set, otherwise fuzz/target.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-30}
[ $# -gt 0 ] && shift
case $seconds in
  '' | *[!0-9]*) echo "usage: scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]" >&2; exit 2 ;;
esac

cargo_fuzz_version=0.13.2
if ! cargo fuzz --version 2>/dev/null | grep -qF "cargo-fuzz $cargo_fuzz_version"; then
  echo "installing cargo-fuzz $cargo_fuzz_version" >&2
  cargo install --locked --quiet cargo-fuzz --version "$cargo_fuzz_version"
fi

# cargo fuzz passes rustc nightly-only flags (the sancov passes, --cfg fuzzing);
# RUSTC_BOOTSTRAP lets the stable toolchain, the only one here, take them.
export RUSTC_BOOTSTRAP=1
# Every crate of fuzz/Cargo.lock, as locked: the build below then changes no lock file.
if ! (cd fuzz && cargo fetch --locked --quiet); then
  echo "fuzz: fuzz/Cargo.lock is out of step with vault-ci's dependencies; bring it in step" \
    "with Cargo.lock: cp Cargo.lock fuzz/Cargo.lock && (cd fuzz && cargo metadata >/dev/null)" >&2
  exit 1
fi

# No sanitizer: vault-ci is safe Rust, and the panics and failed assertions that
# the targets look for need none (ASan would slow each run down some 2-3 times).
# -a: debug assertions and overflow checks on, so an arithmetic overflow fails
# here instead of wrapping silently in a release build. 16 codegen units: the
# build (the STS SDK is most of it) takes half the time of cargo fuzz's default 1.
flags=(--sanitizer none --debug-assertions --codegen-units 16)

if [ $# -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(cargo fuzz list)
fi

cargo fuzz build "${flags[@]}"

# One target per core at a time: each libFuzzer process is single-threaded.
jobs=${FUZZ_JOBS:-$(nproc 2>/dev/null || echo 1)}
mkdir -p fuzz/work
run() {
  local target=$1
  mkdir -p "fuzz/work/corpus/$target" "fuzz/artifacts/$target"
  # -timeout: an input that takes 10 s is a hang, and fails like a crash.
  local status=0
  cargo fuzz run "${flags[@]}" "$target" "fuzz/work/corpus/$target" "fuzz/corpus/$target" -- \
    -max_total_time="$seconds" -timeout=10 -print_final_stats=1 >"fuzz/work/$target.log" 2>&1 || status=$?
  echo "$status" >"fuzz/work/$target.status"
}
echo "fuzz: ${#targets[@]} targets, ${seconds}s each, $jobs at a time" >&2
running=0
for target in "${targets[@]}"; do
  if [ "$running" -ge "$jobs" ]; then
    wait -n
    running=$((running - 1))
  fi
  run "$target" &
  running=$((running + 1))
done
wait

failed=0
for target in "${targets[@]}"; do
  log=fuzz/work/$target.log
  if [ "$(cat "fuzz/work/$target.status")" != 0 ]; then
    failed=1
    grep -E -A2 'panicked at|ERROR: libFuzzer' "$log" | head -n 20 >&2
    artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
    echo "fuzz: $target FAILED; the input is ${artifact:-(none written: see $log)}" >&2
    echo "fuzz: reproduce with: RUSTC_BOOTSTRAP=1 cargo fuzz run ${flags[*]} $target ${artifact:-}" >&2
    continue
  fi
  stats=$(sed -n 's/^stat::\(number_of_executed_units\|average_exec_per_sec\): *//p' "$log" | paste -sd ' ')
  final=$(sed -n 's/^#[0-9]*.*DONE *\(cov: [0-9]* ft: [0-9]* corp: [^ ]*\).*/\1/p' "$log")
  read -r execs per_sec <<<"$stats"
  echo "fuzz: $target: $execs runs, $per_sec/s, $final" >&2
done
if [ "$failed" != 0 ]; then
  exit 1
fi
echo "fuzz: ${#targets[@]} targets, ${seconds}s each: no crash" >&2
