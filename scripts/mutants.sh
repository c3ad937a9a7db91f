#!/usr/bin/env bash
# Issue 20's measure of test strength: cargo-mutants changes the code of src/trust/,
# src/plan.rs, src/validate.rs and src/hop/ one mutant at a time, and the library's unit
# tests alone (`cargo test --lib`: in-process, no peer, no binary) must catch at least 85%
# of the mutants that build. Prints the numbers per file and in all; exits 1 below 85%.
# Not part of .ci/run: about two hours on two cores. It mutates the tree it runs in
# (--in-place), so run it in a checkout of its own:
#   git worktree add /tmp/mutants HEAD && /tmp/mutants/scripts/mutants.sh
# Usage: scripts/mutants.sh [cargo-mutants options]: --file src/validate.rs measures one file
# instead of them all; --shard 0/3 --sharding round-robin a third of every file's mutants
# (into target/shard-0-of-3/; run 1/3 and 2/3 after it, then
# `scripts/mutants-report.py target/shard-*/mutants.out/outcomes.json` counts them all).
set -euo pipefail
cd "$(dirname "$0")/.."

version=27.1.0
if ! cargo mutants --version 2>/dev/null | grep -qxF "cargo-mutants $version"; then
  echo "installing cargo-mutants $version" >&2
  cargo install --locked --quiet cargo-mutants --version "$version"
fi

files=(--file 'src/trust/**/*.rs' --file src/plan.rs --file 'src/plan/*.rs' --file src/validate.rs --file 'src/hop/*.rs')
output=target
previous=
for arg in "$@"; do
  case $arg in -f | --file | --file=*) files=() ;; esac
  # A shard's outcomes go to a folder of their own: target/shard-0-of-3/mutants.out.
  if [ "$previous" = --shard ]; then output=target/shard-${arg%/*}-of-${arg#*/}; fi
  case $arg in --shard=*) shard=${arg#--shard=} output=target/shard-${shard%/*}-of-${shard#*/} ;; esac
  previous=$arg
done
out=$output/mutants.out
rm -rf "$out"
# 2: some mutants were missed, 3: some timed out; the report below judges the rate.
status=0
# The shell and dotenv writers' proptests start node and python for each case: they test
# src/sink/shell.rs, which is not mutated here, and would triple the time.
cargo mutants --in-place --no-shuffle --package vault-ci --output "$output" \
  "${files[@]}" "$@" -- --lib -- --skip sink::shell::tests || status=$?
case $status in 0 | 2 | 3) ;; *) exit "$status" ;; esac
scripts/mutants-report.py "$out/outcomes.json"
