#!/usr/bin/env python3
"""bench/retry_sim.py: issue 13's what-if. A discrete-event simulation of N
one-shot clients (CI jobs, one process each) against STS's request quota (a
token bucket), to choose a retry policy for throttling without touching src/.

  retry_sim.py [--jobs 200] [--rate 50] [--burst 50] [--rtt 0.002] [--spread 0]
               [--seeds 40] [--json FILE] [--only NAME,...]

Every client sends its first request at U(0, spread) after the release; a
request reaches the bucket rtt/2 later and its answer comes back rtt/2 after
that. Admitted = done. Throttled = the client's policy picks a delay, or gives
up. Each client only knows its own answers: per-process state, as with a CLI.

Policies (delays in seconds; "full jitter" = U(0, min(cap, base * 2^(k-1))) after
the k-th failed attempt, as src/retry.rs does):
  fj-B-C-A      full jitter, base B, cap C, A attempts in all (A = inf: until the deadline);
                fj-B-C-A-gF grows by F instead of 2
  fjh-B-C-A-H   full jitter over U(0, B) for the first H retries, then doubling up to C
  eqj-B-C-A     equal jitter: c/2 + U(0, c/2) with c = min(cap, base * 2^(k-1))
  dj-B-C-A      decorrelated jitter: min(cap, U(base, 3 * previous delay))
  botocore-standard   botocore's standard mode for throttling: U(0, min(20, 2^(k-1))), 3 attempts
  botocore-adaptive   the same plus botocore's client rate limiter (retries/adaptive.py,
                      bucket.py, throttling.py), ported to the simulation clock: a client-side
                      token bucket, off until the first throttle, whose rate follows CUBIC
  *-inf suffix        the same until the deadline (--deadline, vault-ci's --timeout: 120 s)

Prints, per policy, the mean over seeds and the worst seed of: jobs that got
credentials, requests per job (mean and max), when the last job finished, and
job duration p50/p95.
"""

from __future__ import annotations

import argparse
import heapq
import json
import math
import random
import statistics
import sys

INF = float("inf")


# ----------------------------------------------------------------------------
# Server: STS's quota
# ----------------------------------------------------------------------------


class Bucket:
    def __init__(self, rate: float, burst: float) -> None:
        self.rate, self.burst, self.tokens, self.stamp = rate, burst, burst, 0.0

    def take(self, now: float) -> bool:
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


# ----------------------------------------------------------------------------
# Client policies: next_delay(attempt, now) -> seconds, or None to give up;
# send_at(now) -> when the request actually leaves (client-side rate limiting).
# ----------------------------------------------------------------------------


class Backoff:
    def __init__(self, rng: random.Random, kind: str, base: float, cap: float, attempts: float,
                 growth: float = 2.0) -> None:
        self.rng, self.kind, self.base, self.cap, self.attempts = rng, kind, base, cap, attempts
        self.growth = growth
        self.hold = 0
        self.previous = base

    def next_delay(self, attempt: int, now: float) -> float | None:
        if attempt >= self.attempts:
            return None
        steps = attempt - 1 if self.kind != "fjh" else max(0, attempt - self.hold)
        ceiling = min(self.cap, self.base * self.growth ** steps)
        if self.kind in ("fj", "fjh"):
            return self.rng.uniform(0, ceiling)
        if self.kind == "eqj":
            return ceiling / 2 + self.rng.uniform(0, ceiling / 2)
        if self.kind == "dj":
            self.previous = min(self.cap, self.rng.uniform(self.base, self.previous * 3))
            return self.previous
        raise ValueError(self.kind)

    def send_at(self, now: float) -> float:
        return now

    def on_response(self, now: float, throttled: bool) -> None:
        pass


class BotocoreAdaptive(Backoff):
    """botocore's standard backoff for throttling (U(0, min(20, 2^(k-1)))) and,
    with adaptive=True, its ClientRateLimiter, line for line but on the
    simulation's clock (epoch = start + offset: RateClocker buckets on absolute
    half-seconds, and starts at floor(seconds))."""

    MIN_RATE = 0.5
    SMOOTHING = 0.8
    BUCKET_SCALE = 2  # 1 / 0.5 s
    C, BETA = 0.4, 0.7

    def __init__(self, rng: random.Random, attempts: float, adaptive: bool, epoch: float) -> None:
        super().__init__(rng, "fj", 1.0, 20.0, attempts)
        self.adaptive, self.epoch = adaptive, epoch
        t = epoch
        # RateClocker
        self.measured, self.count, self.last_bucket = 0.0, 0, math.floor(t)
        # TokenBucket(max_rate=1)
        self.fill_rate, self.max_capacity, self.capacity, self.last_ts = None, None, 0.0, None
        self.set_max_rate(1.0, t)
        # CubicCalculator(starting_max_rate=0, start_time=t)
        self.w_max, self.last_fail = 0.0, t
        self.k = self.zero_point()
        self.enabled = False

    # TokenBucket
    def refill(self, t: float) -> None:
        if self.last_ts is None:
            self.last_ts = t
            return
        self.capacity = min(self.max_capacity, self.capacity + (t - self.last_ts) * self.fill_rate)
        self.last_ts = t

    def set_max_rate(self, value: float, t: float) -> None:
        self.refill(t)
        self.fill_rate = max(value, self.MIN_RATE)
        self.max_capacity = value if value >= 1 else 1
        self.capacity = min(self.capacity, self.max_capacity)

    def acquire(self, t: float) -> float:
        """When one token is available (and taken)."""
        self.refill(t)
        if self.capacity >= 1:
            self.capacity -= 1
            return t
        wait = (1 - self.capacity) / self.fill_rate
        t += wait
        self.refill(t)
        self.capacity -= 1
        return t

    # CubicCalculator
    def zero_point(self) -> float:
        return (self.w_max * (1 - self.BETA) / self.C) ** (1 / 3)

    def send_at(self, now: float) -> float:
        if self.adaptive and self.enabled:
            return self.acquire(now + self.epoch) - self.epoch
        return now

    def on_response(self, now: float, throttled: bool) -> None:
        if not self.adaptive:
            return
        t = now + self.epoch
        # RateClocker.record
        bucket = math.floor(t * self.BUCKET_SCALE) / self.BUCKET_SCALE
        self.count += 1
        if bucket > self.last_bucket:
            current = self.count / (bucket - self.last_bucket)
            self.measured = current * self.SMOOTHING + self.measured * (1 - self.SMOOTHING)
            self.count, self.last_bucket = 0, bucket
        measured = self.measured
        if not throttled:
            new_rate = self.C * (t - self.last_fail - self.k) ** 3 + self.w_max
        else:
            rate = measured if not self.enabled else min(measured, self.fill_rate)
            self.w_max, self.last_fail = rate, t
            self.k = self.zero_point()
            new_rate = rate * self.BETA
            self.enabled = True
        self.set_max_rate(min(new_rate, 2 * measured), t)


def make_policy(name: str, rng: random.Random, epoch: float):
    parts = name.split("-")
    if parts[0] == "botocore":
        attempts = INF if parts[-1] == "inf" else 3
        return BotocoreAdaptive(rng, attempts, parts[1] == "adaptive", epoch)
    if parts[0] == "fjh":
        _, base, cap, attempts, hold = parts
        policy = Backoff(rng, "fjh", float(base), float(cap), INF if attempts == "inf" else int(attempts))
        policy.hold = int(hold)
        return policy
    kind, base, cap, attempts, *growth = parts
    return Backoff(rng, kind, float(base), float(cap), INF if attempts == "inf" else int(attempts),
                   float(growth[0][1:]) if growth else 2.0)


# ----------------------------------------------------------------------------
# The simulation
# ----------------------------------------------------------------------------


def simulate(policy: str, n: int, rate: float, burst: float, rtt: float, spread: float,
             deadline: float, seed: int) -> dict:
    rng = random.Random(seed)
    epoch = 1_800_000_000 + rng.random()
    bucket = Bucket(rate, burst)
    clients = [make_policy(policy, random.Random(rng.random()), epoch) for _ in range(n)]
    events: list[tuple[float, int, int, str]] = []  # (time, seq, client, what)
    seq = 0
    attempts = [0] * n
    done = [None] * n
    ok = [False] * n
    for i in range(n):
        heapq.heappush(events, (rng.uniform(0, spread), seq, i, "send"))
        seq += 1
    while events:
        t, _, i, what = heapq.heappop(events)
        if what == "send":
            t_send = clients[i].send_at(t)
            if t_send > t:
                heapq.heappush(events, (t_send, seq, i, "go"))
                seq += 1
                continue
            what = "go"
        if what == "go":
            attempts[i] += 1
            admitted = bucket.take(t + rtt / 2)
            heapq.heappush(events, (t + rtt, seq, i, "ok" if admitted else "throttled"))
            seq += 1
        elif what == "ok":
            clients[i].on_response(t, throttled=False)
            done[i], ok[i] = t, True
        elif what == "throttled":
            clients[i].on_response(t, throttled=True)
            delay = clients[i].next_delay(attempts[i], t)
            if delay is None or t + delay > deadline:
                done[i] = t if delay is None else deadline
            else:
                heapq.heappush(events, (t + delay, seq, i, "send"))
                seq += 1
    durations = sorted(done)
    return {
        "succeeded": sum(ok),
        "requests": sum(attempts),
        "requests_per_job_mean": sum(attempts) / n,
        "requests_per_job_max": max(attempts),
        "last_done": max(done),
        "p50": durations[len(durations) // 2],
        "p95": durations[int(len(durations) * 0.95)],
    }


DEFAULT_POLICIES = [
    # vault-ci today (src/retry.rs), and today with more attempts (--max-attempts, no code change)
    "fj-0.25-8-5", "fj-0.25-8-10", "fj-0.25-8-20", "fj-0.25-8-inf",
    # full jitter, retrying throttling until the deadline, other bases and caps
    "fj-0.5-4-inf", "fj-0.5-8-inf", "fj-1-2-inf", "fj-1-4-inf", "fj-1-8-inf", "fj-1-20-inf",
    "fj-2-4-inf", "fj-2-8-inf", "fj-3-3-inf", "fj-4-4-inf",
    # same bases with a bounded number of attempts
    "fj-1-4-5", "fj-1-4-8", "fj-1-8-8", "fj-2-4-8",
    # other jitters
    "eqj-1-4-inf", "eqj-0.5-4-inf", "dj-0.25-8-inf", "dj-1-8-inf",
    # the AWS SDKs
    "botocore-standard", "botocore-standard-inf", "botocore-adaptive", "botocore-adaptive-inf",
]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--jobs", type=int, default=200)
    p.add_argument("--rate", type=float, default=50)
    p.add_argument("--burst", type=float, default=50)
    p.add_argument("--rtt", type=float, default=0.002, help="request round trip, s (loopback: 0.002)")
    p.add_argument("--spread", type=float, default=0.0, help="first requests arrive over U(0, spread) s")
    p.add_argument("--deadline", type=float, default=120.0, help="a job gives up then (vault-ci --timeout)")
    p.add_argument("--seeds", type=int, default=40)
    p.add_argument("--only", help="comma-separated policy names")
    p.add_argument("--json", help="also write the results here")
    args = p.parse_args()
    policies = args.only.split(",") if args.only else DEFAULT_POLICIES
    floor = max(0.0, (args.jobs - args.burst) / args.rate)
    print(f"{args.jobs} jobs, quota {args.rate:g}/s, bucket {args.burst:g}, rtt {args.rtt * 1000:g} ms, "
          f"first requests over {args.spread:g} s, {args.seeds} seeds; floor {floor:.2f} s")
    print()
    print("| policy | succeeded, mean (worst) | requests/job mean (worst) | max requests/job (worst) "
          "| last job done s, mean (worst) | × floor (worst) | p50 s | p95 s |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    results = {}
    for policy in policies:
        runs = [simulate(policy, args.jobs, args.rate, args.burst, args.rtt, args.spread, args.deadline, seed)
                for seed in range(args.seeds)]
        mean = {k: statistics.mean(r[k] for r in runs) for k in runs[0]}
        worst = {
            "succeeded": min(r["succeeded"] for r in runs),
            "requests_per_job_mean": max(r["requests_per_job_mean"] for r in runs),
            "requests_per_job_max": max(r["requests_per_job_max"] for r in runs),
            "last_done": max(r["last_done"] for r in runs),
        }
        results[policy] = {"mean": mean, "worst": worst}
        ratio = (lambda x: f"{x / floor:.2f}") if floor else (lambda x: "")
        print(f"| {policy} | {mean['succeeded']:.1f} ({worst['succeeded']}) "
              f"| {mean['requests_per_job_mean']:.2f} ({worst['requests_per_job_mean']:.2f}) "
              f"| {mean['requests_per_job_max']:.1f} ({worst['requests_per_job_max']}) "
              f"| {mean['last_done']:.2f} ({worst['last_done']:.2f}) | {ratio(mean['last_done'])} "
              f"({ratio(worst['last_done'])}) | {mean['p50']:.2f} | {mean['p95']:.2f} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "floor": floor, "results": results}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
