#!/usr/bin/env python3
"""Reads cargo-mutants' outcomes.json and prints, per file and in all, how many mutants
the tests caught, missed, timed out on (counted as caught: the mutant hangs the tests)
or could not build (left out); then the missed ones. Exits 1 when fewer than 85% of
the mutants that built were caught.

Usage: scripts/mutants-report.py OUTCOMES_JSON...  (several: the shards of one measurement)
"""
import collections
import json
import sys

GOAL = 0.85


def main(paths: list) -> int:
    outcomes = [o for path in paths for o in json.load(open(path))["outcomes"]]
    per_file = collections.defaultdict(collections.Counter)
    missed = []
    for outcome in outcomes:
        scenario = outcome["scenario"]
        if scenario == "Baseline":
            continue
        mutant = scenario["Mutant"]
        summary = outcome["summary"]
        per_file[mutant["file"]][summary] += 1
        if summary == "MissedMutant":
            missed.append(mutant.get("name", str(mutant)))
    total = collections.Counter()
    print(f"{'file':32} {'caught':>7} {'missed':>7} {'timeout':>8} {'unviable':>9} {'killed':>7}")
    for file in sorted(per_file):
        counts = per_file[file]
        total.update(counts)
        print(row(file, counts))
    print(row("all", total))
    if missed:
        print("\nmissed:")
        print("\n".join(missed))
    return 0 if rate(total) >= GOAL else 1


def rate(counts) -> float:
    killed = counts["CaughtMutant"] + counts["Timeout"]
    viable = killed + counts["MissedMutant"]
    return killed / viable if viable else 1.0


def row(name: str, counts) -> str:
    return (
        f"{name:32} {counts['CaughtMutant']:7} {counts['MissedMutant']:7} "
        f"{counts['Timeout']:8} {counts['Unviable']:9} {rate(counts):7.1%}"
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
