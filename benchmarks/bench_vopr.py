"""VOPR at the seed's sizes: chaos 10,000 + evolution 365 days + determinism 5,000.

Run: python benchmarks/bench_vopr.py [--workers N]
Policy and corpus: the quickstart example (checkout policy, OpenTelemetry Demo corpus).
The seed's headline was 20,375 iterations "in ~13 s" (Rust, checks that mostly could not
fail); here every step checks errors kept, must-keep kept, budget per window (evolution),
reference = vectorised = simulated decisions, replay determinism and corrupted text.
Prints wall and simulated time per campaign and for the whole run, with 1 worker as the
baseline measured in the same run (``--no-baseline`` skips it).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from pytest_nectar.vopr.campaigns import Setup, run_campaigns

ROOT = Path(__file__).parent.parent / "examples/quickstart"
SIZES = {"chaos": 10_000, "evolution": 365, "determinism": 5_000}
TARGET_S = 13.0


def _run(setup: Setup, workers: int) -> float:
    start = time.perf_counter()
    results = run_campaigns(setup, list(SIZES), 0x2A, sizes=SIZES, workers=workers)
    wall = time.perf_counter() - start
    total_iter = sum(r.iterations for r in results)
    total_sim = sum(r.simulated_seconds for r in results)
    for r in results:
        print(
            f"  {r.campaign:<12} {r.iterations:>6} iterations  "
            f"{r.simulated_seconds / 86400:8.1f} simulated days  {r.traces:>7} traces  "
            f"{r.checks:>6} checks  {sum(r.violation_counts.values())} violations"
        )
    print(
        f"  total: {total_iter} iterations, {total_sim / 86400 / 365:.2f} simulated years "
        f"in {wall:.2f} s wall with {workers} worker(s)"
    )
    return wall


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-baseline", action="store_true")
    args = parser.parse_args()
    start = time.perf_counter()
    setup = Setup.build(ROOT / "policies/checkout.toon", ROOT / "corpus")
    print(f"set-up (parse, compile, corpus, traffic model): {time.perf_counter() - start:.2f} s")
    print(f"traffic: {setup.rate.base:.3f} traces/s learned from the corpus")
    wall = _run(setup, args.workers)
    print(f"target {TARGET_S:.0f} s: {'met' if wall < TARGET_S else 'missed'} ({wall:.2f} s)")
    if not args.no_baseline and args.workers > 1:
        base = _run(setup, 1)
        print(f"speed-up of {args.workers} workers over 1: {base / wall:.2f}x")


if __name__ == "__main__":
    main()
