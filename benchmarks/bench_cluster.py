"""Benchmark: ``prove`` on a local Dask cluster of 1 and of 2 workers, and in one process.

Run: ``python benchmarks/bench_cluster.py [--spans N] [--repeat N]`` (default 10,000,000
spans, ~10 per trace; needs ``pip install -e '.[cluster]'``).  The corpus is generated as
columns (``bench_prove.make_corpus``) and saved as a columnar store in a temporary cache
folder, which the workers read by path, as they would on shared storage.  Each timing is
the best of ``--repeat`` runs of every corpus property, after one warm-up run that starts
the cluster's processes and maps the store; the results of every run are checked equal to
the single-process ones.  Prints the times, spans/s and the scaling from 1 to 2 workers
(target >= 1.6x on 2 cores), with the load average beside (the machine may be shared).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_prove import CORPUS_PROPERTIES, POLICY, make_corpus

from pytest_nectar.corpus.store import save_store, store_path
from pytest_nectar.prover import distributed, prove
from pytest_nectar.prover.engine import load_target


def _verdicts(report: Any) -> list[tuple[str, str, str]]:
    return [(k, r.verdict.value, r.summary) for k, r in report.results.items()]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--spans", type=int, default=10_000_000, help="about this many spans")
    parser.add_argument("--repeat", type=int, default=3, help="best of this many runs")
    args = parser.parse_args()
    t0 = time.perf_counter()
    corpus = make_corpus(max(1, args.spans // 10))
    print(
        f"corpus: {corpus.n_traces:,} traces, {corpus.n_rows:,} spans "
        f"(generated in {time.perf_counter() - t0:.1f} s)"
    )
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["NECTAR_CACHE_DIR"] = tmp  # where store_of finds the store (workers too)
        t0 = time.perf_counter()
        save_store(corpus, store_path(Path(tmp), corpus.digest))
        print(f"store written in {time.perf_counter() - t0:.1f} s")
        policy = Path(tmp) / "bench.toon"
        policy.write_text(POLICY)
        target = load_target(str(policy))
        load_before = os.getloadavg()
        best: dict[str, float] = {}
        expected: list[tuple[str, str, str]] | None = None
        for label, cluster in [("1 process", None), ("local:1", "local:1"), ("local:2", "local:2")]:
            times = []
            for run in range(max(1, args.repeat) + (cluster is not None)):
                t0 = time.perf_counter()
                report = prove(target, corpus=corpus, properties=CORPUS_PROPERTIES, cluster=cluster)
                took = time.perf_counter() - t0
                if cluster is None or run > 0:  # the first cluster run starts it: warm-up
                    times.append(took)
                got = _verdicts(report)
                expected = expected if expected is not None else got
                if got != expected:
                    raise SystemExit(f"{label}: results differ from the single-process run")
            best[label] = min(times)
            print(
                f"{label:<10} {best[label]:7.2f} s  {corpus.n_rows / best[label]:>13,.0f} spans/s"
                f"  (runs: {', '.join(f'{t:.2f}' for t in times)})"
            )
            if cluster is not None:
                distributed._close()  # one cluster at a time: they share the cores
        load_after = os.getloadavg()
    print(
        f"load average (1/5/15 min): before {' '.join(f'{x:.2f}' for x in load_before)}, "
        f"after {' '.join(f'{x:.2f}' for x in load_after)}"
    )
    print(
        f"scaling 1 -> 2 workers:        {best['local:1'] / best['local:2']:5.2f}x  "
        "(target >= 1.6x on 2 cores)"
    )
    print(f"single process / 2 workers:    {best['1 process'] / best['local:2']:5.2f}x")
    print(f"results identical in every run: {len(expected or [])} properties")


if __name__ == "__main__":
    main()
