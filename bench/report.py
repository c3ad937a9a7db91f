#!/usr/bin/env python3
"""Turns bench/run.sh's raw results into the markdown report.

  report.py RESULTS_DIR                 print the report (tables, targets, facts)
  report.py --splice FILE REPORT_MD     put REPORT_MD between FILE's bench markers

RESULTS_DIR holds contenders.tsv (group, id, label, command), rounds/*.json
(hyperfine exports, command names are the ids), rss.tsv (id, KiB), requests.tsv
(id, hops, STS requests seen by the peer, final ARN) and facts.tsv (key, value).
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
        targets.append(("stripped static (musl) dist binary ≤ 6 MiB", f"{size:.2f} MiB", verdict(size, 6, at_most=True)))
    else:
        targets.append(("stripped static (musl) dist binary ≤ 6 MiB", "no musl build", "**MISSED** (not built)"))
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
        ("hyperfine", "hyperfine"), ("jq", "jq"), ("total_s", "bench/run.sh wall time, s (builds included)"),
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
