#!/usr/bin/env python3
"""Turns bench/run.sh's raw results into the markdown report.

  report.py RESULTS_DIR                 print the report (tables, targets, facts)
  report.py --splice FILE REPORT_MD     put REPORT_MD between FILE's bench markers

RESULTS_DIR holds contenders.tsv (group, id, label, command), rounds/*.json
(hyperfine exports, command names are the ids), rss.tsv (id, KiB), requests.tsv
(id, hops, STS requests seen by the peer, final ARN) and facts.tsv (key, value),
and matrix/matrix.json when bench/matrix.py ran (issue 13: a CI matrix against a
throttled STS; its section is matrix_section()).
Targets are reported, never enforced: the exit status does not depend on them.
"""

from __future__ import annotations

import glob
import json
import statistics
import sys
from pathlib import Path

BEGIN = "<!-- bench/run.sh: begin (generated; edit outside these markers) -->"
END = "<!-- bench/run.sh: end -->"
MIB = 1024 * 1024


def tsv(path: Path) -> list[list[str]]:
    if not path.exists():
        return []
    return [line.split("\t") for line in path.read_text().splitlines() if line]


def quantile(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    pos = (len(xs) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def verdict(value: float, limit: float, at_most: bool) -> str:
    ok = value <= limit if at_most else value >= limit
    if ok:
        return "MET"
    short = value / limit - 1 if at_most else 1 - value / limit
    return f"**MISSED** (by {short:.0%})"


MATRIX_LABELS = {
    "vault-ci": "vault-ci",
    "vault-ci-warm": "vault-ci, already started (barrier at its first connection)",
    "cac": "configure-aws-credentials 6.2.3",
    "cac-warm": "configure-aws-credentials 6.2.3, node already started (barrier at its first connection)",
    "boto3-standard-warm": "boto3, standard retry mode, already started",
    "boto3-adaptive-warm": "boto3, adaptive retry mode, already started",
}


def matrix_targets(m: dict) -> list[tuple[str, str, str]]:
    """Issue 13's targets for vault-ci (each batch): every job, few requests, near the floor."""
    targets = []
    for tool in ("vault-ci", "vault-ci-warm"):
        v = m.get("tools", {}).get(tool)
        if not v:
            continue
        n = v["jobs"]
        which = "" if tool == "vault-ci" else " (already started)"
        ratio = v["last_job_done_s"] / v["floor_s"] if v["floor_s"] else float("inf")
        mean = v["requests_per_job"]["mean"]
        targets += [
            (f"CI matrix{which}: {n}/{n} vault-ci jobs get credentials", f"{v['succeeded']}/{n}",
             "MET" if v["succeeded"] == n else f"**MISSED** ({n - v['succeeded']} failed)"),
            (f"CI matrix{which}: ≤ 2.5 STS requests per vault-ci job (mean)", f"{mean:.2f}",
             verdict(mean, 2.5, at_most=True)),
            (f"CI matrix{which}: last vault-ci job done ≤ 1.5× the {v['floor_s']:.1f} s floor, every job succeeding",
             f"{v['last_job_done_s']:.2f} s = {ratio:.2f}× floor"
             + ("" if v["succeeded"] == n else f", but {n - v['succeeded']} job(s) gave up"),
             verdict(ratio, 1.5, at_most=True) if v["succeeded"] == n else "**MISSED** (not every job succeeded)"),
        ]
    return targets


def matrix_section(m: dict, with_targets: bool = True) -> str:
    """The markdown of one bench/matrix.py run (matrix.json)."""
    out: list[str] = []
    w = out.append
    n, rate, burst = m["jobs"], m["rate"], m["burst"]
    upstream = "moto" if m.get("upstream") == "moto" else "the peer itself"
    w(f"CI matrix (issue 13, `bench/matrix.py`, {m.get('mode', '?')} mode, {m.get('date', '?')}): {n} jobs "
      f"released at once from one barrier against `peer.py throttled-sts`, an STS quota of {rate:g} requests/s "
      f"(token bucket of {burst:g}, full at the start; a request past it gets HTTP 400 `Throttling`). One batch "
      f"per tool, each with a fresh bucket; admitted requests are answered by {upstream}. Requests are what the "
      "peer logged (every POST, AssumeRoleWithWebIdentity and GetCallerIdentity alike); times are from the release "
      "to each job's exit; the floor is when the bucket can have admitted the last request the batch needs "
      "((jobs × requests a job needs − bucket) / rate).")
    w("")
    w("| tool | jobs succeeded | STS requests (admitted + throttled) | requests per job, mean / max "
      "| first requests arrive | last job done | floor | × floor | job p50 / p95 | peak processes "
      "| peak private RSS, all jobs | CPU, all jobs |")
    w("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for tool, t in m["tools"].items():
        ratio = t["last_job_done_s"] / t["floor_s"] if t["floor_s"] else float("inf")
        rpj = t["requests_per_job"]
        d = t["duration_s"]
        first = "–".join(f"{x:.2f}" for x in t["first_requests_s"]) + " s" if t.get("first_requests_s") else ""
        w(f"| {MATRIX_LABELS.get(tool, tool)} | {t['succeeded']}/{t['jobs']} | {t['sts_requests']} "
          f"({t['admitted']} + {t['throttled']}) | {rpj['mean']:.2f} / {rpj['max']} "
          f"| {first} | {t['last_job_done_s']:.2f} s "
          f"| {t['floor_s']:.1f} s | {ratio:.2f}× | {d['p50']:.2f} / {d['p95']:.2f} s | {t['peak_processes']} "
          f"| {t['peak_private_rss_mib']:,.0f} MiB | {t['cpu_s_total']:.1f} s |")
    w("")
    w("\"First requests arrive\": the first and the last job's first STS request. On this machine the "
      f"jobs share {m.get('nproc')} cores, so {n} processes take a while to reach their first request "
      "(node: tens of seconds), and that start-up, not the retry policy, spreads the storm out. In a real "
      "matrix each job has a runner of its own, which is what the \"already started\" batches show: the "
      "tool runs unchanged, but its first connection is held until every job has got there "
      "(`LD_PRELOAD` of bench/matrix-barrier.c for vault-ci, `NODE_OPTIONS=--require "
      "bench/matrix-barrier.cjs` for node), and times count from that release. Jobs run `SCHED_IDLE` "
      f"and the peers at a higher priority ({m.get('priorities', '?')}), so the STS answers as if on "
      "machines of its own.")
    for tool, t in m["tools"].items():
        if t.get("start_up_before_release_s") is not None:
            w(f"({MATRIX_LABELS.get(tool, tool)}: the jobs took {t['start_up_before_release_s']:.1f} s "
              "to reach the barrier.)")
    w("")
    for tool, t in m["tools"].items():
        if t["failed_reasons"]:
            w(f"Why {MATRIX_LABELS.get(tool, tool)} jobs failed (last line of their output):")
            w("")
            for reason, count in sorted(t["failed_reasons"].items(), key=lambda kv: -kv[1]):
                w(f"- {count} × `{reason}`")
            w("")
    w("Admitted requests per second since the release (the quota allows "
      f"{burst + rate:g} in the first second, {rate:g} in each after):")
    w("")
    for tool, t in m["tools"].items():
        w(f"- {MATRIX_LABELS.get(tool, tool)}: {' '.join(str(x) for x in t['admitted_per_second'])}")
    w("")
    targets = matrix_targets(m) if with_targets else []
    if targets:
        w("| target | measured | verdict |")
        w("|---|---|---|")
        for name, value, v in targets:
            w(f"| {name} | {value} | {v} |")
        w("")
    facts = [f"{k}: {m[k]}" for k in ("vault_ci", "cac", "node") if k in m]
    facts.append(f"cores: {m.get('nproc')}")
    if "total_s" in m:
        facts.append(f"matrix.py wall time: {m['total_s']:.0f} s")
    w("Versions and machine: " + "; ".join(facts) + ".")
    return "\n".join(out) + "\n"


def report(res: Path) -> str:
    contenders = tsv(res / "contenders.tsv")
    facts = dict((k, v) for k, v in tsv(res / "facts.tsv"))
    times: dict[str, list[float]] = {}
    for path in sorted(glob.glob(str(res / "rounds" / "*.json"))):
        for result in json.loads(Path(path).read_text())["results"]:
            times.setdefault(result["command"], []).extend(result["times"])
    rss: dict[str, list[int]] = {}
    for cid, kib in tsv(res / "rss.tsv"):
        if kib.isdigit():
            rss.setdefault(cid, []).append(int(kib))
    requests = {row[0]: row for row in tsv(res / "requests.tsv")}

    med = {cid: statistics.median(ts) * 1000 for cid, ts in times.items()}
    iqr = {cid: (quantile(ts, 0.25) * 1000, quantile(ts, 0.75) * 1000) for cid, ts in times.items()}
    rss_mib = {cid: statistics.median(v) / 1024 for cid, v in rss.items()}
    label = {c[1]: c[2] for c in contenders}
    group_of = {c[1]: c[0] for c in contenders}

    out: list[str] = []
    w = out.append
    quick = facts.get("mode") == "quick"
    w(f"Run: {facts.get('date', '?')}, {facts.get('mode', '?')} mode"
      + (" (few runs: indicative only)" if quick else ""))
    w("")
    w(f"Medians over {facts.get('rounds')} interleaved rounds × {facts.get('runs')} runs "
      f"({facts.get('slow_runs')} per round in the static-keys group, whose baselines take ~1 s); "
      "IQR is the 25th–75th percentile; peak RSS is the median of GNU time's maximum resident set.")
    w("")

    # ------------------------------------------------------------ main table
    targets: list[tuple[str, str, str]] = []

    def ratio_cell(cid: str) -> tuple[str, str, str]:
        """(ratio, target, verdict) cells of one row."""
        g = group_of[cid]
        if cid in ("wi_vault", "tls_vault"):
            floor = "wi_curl" if g == "http" else "tls_curl"
            if floor in med:
                r = med[cid] / med[floor]
                v = verdict(r, 1.5, at_most=True)
                name = "web identity → JSON, " + ("http" if g == "http" else "https") + ": ≤ 1.5× curl"
                targets.append((name, f"{r:.2f}× curl", v))
                return f"{r:.2f}× curl", "≤ 1.5× curl", v
        if cid == "wi_vault_gnu" and "wi_curl" in med:
            return f"{med[cid] / med['wi_curl']:.2f}× curl", "", ""
        base = {"http": "wi_vault", "tls": "tls_vault", "static": "st_vault"}.get(g)
        if base and cid != base and base in med and not cid.endswith("curl"):
            r = med[cid] / med[base]
            if cid.endswith("_node"):
                v = verdict(r, 10, at_most=False)
                targets.append((f"≥ 10× faster than node @aws-sdk/client-sts ({ {'http': 'web identity, http', 'tls': 'web identity, https', 'static': 'static keys'}[g] })", f"{r:.0f}×", v))
                return f"{r:.0f}× vault-ci", "≥ 10×", v
            if cid == "st_seed":
                v = verdict(r, 40, at_most=False)
                targets.append(("static keys → env file: ≥ 40× faster than the seed's assume_role.sh", f"{r:.0f}×", v))
                return f"{r:.0f}× vault-ci", "≥ 40×", v
            return f"{r:.0f}× vault-ci", "", ""
        return "", "", ""

    titles = {"http": "web identity, http", "tls": "web identity, https", "static": "static keys → env file"}
    w("Cases: **web identity** = AssumeRoleWithWebIdentity from a token file, credentials JSON on "
      "stdout (moto over plain http, and over https with a test CA); **static keys → env file** = "
      "AssumeRole signed with the deploy user's keys, `export` lines in a file (moto enforcing "
      "SigV4 and IAM).")
    w("")
    w("| case | contender | median ms | IQR ms | peak RSS MiB | ratio | target | verdict |")
    w("|---|---|---:|---:|---:|---|---|---|")
    for g in ("http", "tls", "static"):
        for c in contenders:
            if c[0] != g or c[1] not in med:
                continue
            cid = c[1]
            lo, hi = iqr[cid]
            r, t, v = ratio_cell(cid)
            rs = f"{rss_mib[cid]:.1f}" if cid in rss_mib else ""
            w(f"| {titles[g]} | {label[cid]} | {med[cid]:.1f} | {lo:.1f}–{hi:.1f} | {rs} | {r} | {t} | {v} |")
    w("")

    # ------------------------------------------------------------ chains
    w("Cost per hop (vault-ci, `--format json`; the final ARN is checked; requests are the POSTs the peer logged for one run):")
    w("")
    w("| chain | hops | STS requests | final role | median ms | IQR ms | + ms over one hop fewer |")
    w("|---|---:|---:|---|---:|---:|---:|")
    linear = True
    for cid in ("ch1", "ch2", "ch3", "cs1", "cs2"):
        if cid not in med or cid not in requests:
            continue
        _, hops, n, arn = requests[cid]
        linear &= hops == n
        prev = cid[:2] + str(int(cid[2:]) - 1)
        delta = f"{med[cid] - med[prev]:+.1f}" if prev in med else ""
        lo, hi = iqr[cid]
        role = arn.split(":assumed-role/")[-1].split("/")[0]
        w(f"| {label[cid]} | {hops} | {n} | {role} | {med[cid]:.1f} | {lo:.1f}–{hi:.1f} | {delta} |")
    w("")
    targets.append(("cost linear in work: one STS round trip per hop (1, 2, 3 hops)",
                    "requests = hops" if linear else "requests ≠ hops", "MET" if linear else "**MISSED**"))

    # ------------------------------------------------------------ RSS, size
    vault_rss = {cid: v for cid, v in rss.items() if cid.endswith("vault") or cid[:2] in ("ch", "cs")}
    if vault_rss:
        peak = max(max(v) for v in vault_rss.values()) / 1024
        worst = max(statistics.median(v) for v in vault_rss.values()) / 1024
        targets.append(("peak RSS ≤ 16 MiB (worst vault-ci case: median / max)",
                        f"{worst:.1f} / {peak:.1f} MiB", verdict(peak, 16, at_most=True)))
    if "size_musl" in facts:
        size = int(facts["size_musl"]) / MIB
        targets.append(("stripped static (musl) dist binary ≤ 5 MiB (issue 20)", f"{size:.2f} MiB", verdict(size, 5, at_most=True)))
    else:
        targets.append(("stripped static (musl) dist binary ≤ 5 MiB (issue 20)", "no musl build", "**MISSED** (not built)"))
    if "image_bytes" in facts:
        size = int(facts["image_bytes"]) / 1e6
        targets.append(("container image ≤ 8 MB (OCI archive, scripts/test-image.sh)", f"{size:.2f} MB",
                        verdict(size, 8, at_most=True)))
    else:
        targets.append(("container image ≤ 8 MB", "not measured: run scripts/test-image.sh first", "not measured"))
    if "refresh_rps" in facts:
        rps = float(facts["refresh_rps"])
        calls = int(facts["refresh_sts_calls"])
        targets.append(("--refresh endpoint ≥ 5,000 requests/s from memory, one STS call per refresh",
                        f"{rps:,.0f} requests/s; {calls} STS call(s) while serving",
                        "MET" if rps >= 5000 and calls == 0 else "**MISSED**"))

    matrix_path = res / "matrix" / "matrix.json"
    matrix = json.loads(matrix_path.read_text()) if matrix_path.exists() else None
    if matrix:
        w(matrix_section(matrix, with_targets=False))
        targets.extend(matrix_targets(matrix))

    w("Targets:")
    w("")
    w("| target | measured | verdict |")
    w("|---|---|---|")
    for name, value, v in targets:
        w(f"| {name} | {value} | {v} |")
    w("")

    w("Binaries (`dist` profile, see below):")
    w("")
    w("| build | size | `file` | build time in this run |")
    w("|---|---:|---|---:|")
    for kind, key in (("x86_64-unknown-linux-gnu", "gnu"), ("x86_64-unknown-linux-musl", "musl")):
        if f"size_{key}" in facts:
            size = int(facts[f"size_{key}"])
            built = facts.get(f"build_{key}_s", "?")
            built = "up to date" if built in ("0", "1") else f"{built} s"
            w(f"| {kind} | {size / MIB:.2f} MiB ({size} B) | {facts.get(f'file_{key}', '')} | {built} |")
    if "size_release" in facts:
        size = int(facts["size_release"])
        w(f"| (for comparison: `release` profile, gnu) | {size / MIB:.2f} MiB ({size} B) | | |")
    w("")

    w("Machine and versions:")
    w("")
    for key, name in (
        ("cpu", "CPU"), ("nproc", "cores (nproc)"), ("memory", "memory (free -h)"), ("kernel", "kernel"),
        ("vault_ci", "vault-ci"), ("rustc", "rustc"), ("aws_cli", "aws CLI"), ("node", "node"),
        ("client_sts", "@aws-sdk/client-sts"), ("moto", "moto"), ("curl", "curl"),
        ("hyperfine", "hyperfine"), ("jq", "jq"), ("matrix_s", "bench/matrix.py (CI matrix) wall time, s"),
        ("total_s", "bench/run.sh wall time, s (builds included)"),
    ):
        if key in facts:
            w(f"- {name}: {facts[key]}")
    w("")
    missed = [t for t in targets if "MISSED" in t[2]]
    w("Summary: " + (f"{len(missed)} target(s) MISSED: " + "; ".join(t[0] for t in missed) if missed
                     else "every measured target MET") + ".")
    return "\n".join(out) + "\n"


def splice(path: Path, block_path: Path) -> None:
    block = block_path.read_text()
    text = path.read_text() if path.exists() else ""
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
    else:
        head = text or "# Benchmarks\n\nReproduce: `bench/run.sh` (see bench/README.md).\n\n"
        tail = "\n"
    path.write_text(f"{head}{BEGIN}\n{block}{END}{tail}")


def main() -> int:
    if len(sys.argv) == 4 and sys.argv[1] == "--splice":
        splice(Path(sys.argv[2]), Path(sys.argv[3]))
        return 0
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    sys.stdout.write(report(Path(sys.argv[1])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
