"""Benchmark: all corpus properties vs one vectorised replay, and the all-traces proofs.

Run: ``python benchmarks/bench_prove.py [--traces N]`` (default 1,000,000 traces, ~10 spans
each).  The corpus is generated directly as a :class:`Corpus` (no parsing: the cache path).
Prints the replay time (one ``evaluate_corpus``), the time of every corpus property (they
share one evaluation, which also judges the error and must-keep expressions), spans/s and
the ratio (target <= 2x), each the best of ``--repeat`` runs (default 3) with the load
average beside (the machine is shared), then the all-traces proof time per example policy
(target < 1 s each).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from pytest_nectar.corpus.table import KIND_FLOAT, KIND_INT, KIND_STRING, Column, Corpus, StringPool
from pytest_nectar.prover import prove
from pytest_nectar.prover.engine import load_target
from pytest_nectar.refinery.vector import evaluate_corpus

ROOT = Path(__file__).resolve().parent.parent
POLICY = """nectar_policy{version,name,budget_per_second,rules}:
  1
  bench
  5000
  rules[10]{name,match,action,priority}:
    drop-health,"root.http.route in [\\"/healthz\\", \\"/readyz\\"]",drop,100
    keep-errors,http.status >= 500,keep,90
    keep-slow,duration > 2s,keep,80
    keep-big,descendants > 40,keep,70
    drop-404,http.status = 404,drop,60
    cart,"http.route starts-with \\"/api/cart\\"",sample(1/5),50
    checkout,"service.name = \\"checkout\\"",sample(1/2),40
    frontend,"span(service.name = \\"frontend\\" and duration > 500ms)",sample(1/3),30
    products,"http.route = \\"/api/products\\"",sample(1/20),20
    rest,true,sample(1/10),0
"""
SERVICES = ["frontend", "checkout", "cart", "payments", "shipping"]
ROUTES = ["/api/cart", "/api/products", "/api/checkout", "/healthz", "/", "/readyz"]


def _column(
    name: str, rows: np.ndarray, kind: int, ints=None, floats=None, codes=None, strings=()
) -> Column:  # type: ignore[no-untyped-def]
    k = len(rows)
    return Column(
        name,
        rows.astype(np.int64),
        np.full(k, kind, dtype=np.uint8),
        ints if ints is not None else np.zeros(k, dtype=np.int64),
        floats if floats is not None else np.zeros(k, dtype=np.float64),
        codes if codes is not None else np.full(k, -1, dtype=np.int32),
        StringPool.from_strings(list(strings)),
    )


def make_corpus(n: int, seed: int = 7) -> Corpus:
    rng = np.random.default_rng(seed)
    lengths = rng.integers(5, 16, size=n)  # mean 10 rows per trace
    offsets = np.concatenate(([0], np.cumsum(lengths))).astype(np.int64)
    rows = int(offsets[-1])
    row_trace = np.repeat(np.arange(n, dtype=np.int32), lengths)
    roots = offsets[1:] - 1  # the root arrives last
    is_root = np.zeros(rows, dtype=np.bool_)
    is_root[roots] = True
    start = np.sort(rng.uniform(0, 3600, size=n))
    status = rng.choice([200, 200, 200, 404, 500, 503], size=n).astype(np.int64)
    svc_codes = rng.integers(0, len(SERVICES), size=rows).astype(np.int32)
    route_codes = rng.integers(0, len(ROUTES), size=n).astype(np.int32)
    durations = rng.exponential(300.0, size=rows)
    columns = {
        "service.name": _column(
            "service.name", np.arange(rows), KIND_STRING, codes=svc_codes, strings=SERVICES
        ),
        "http.route": _column("http.route", roots, KIND_STRING, codes=route_codes, strings=ROUTES),
        "http.status_code": _column(
            "http.status_code", roots, KIND_INT, ints=status, floats=status.astype(np.float64)
        ),
        "duration_ms": _column("duration_ms", np.arange(rows), KIND_FLOAT, floats=durations),
    }
    return Corpus(
        trace_ids=tuple(f"{i:032x}" for i in range(n)),
        trace_offsets=offsets,
        row_trace=row_trace,
        is_root=is_root,
        root_row=roots.astype(np.int64),
        row_time=np.repeat(start, lengths),
        trace_start=start,
        weight=np.ones(n, dtype=np.float64),
        must_keep=np.zeros(n, dtype=np.bool_),
        must_keep_reasons={},
        columns=columns,
        digest="bench",
    )


CORPUS_PROPERTIES = [
    "fallback",
    "error-preservation",
    "must-keep",
    "budget",
    "unreachable-rules",
    "unknown-fields",
    "mixed-types",
]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--traces", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="best of this many runs")
    args = parser.parse_args()
    t0 = time.perf_counter()
    corpus = make_corpus(args.traces)
    print(
        f"corpus: {corpus.n_traces:,} traces, {corpus.n_rows:,} spans "
        f"(generated in {time.perf_counter() - t0:.1f} s)"
    )
    load_before = os.getloadavg()
    replays: list[float] = []
    runs: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.toon"
        path.write_text(POLICY)
        target = load_target(str(path))
        for _ in range(max(1, args.repeat)):
            t0 = time.perf_counter()
            evaluate_corpus(target.rules_file, corpus, target.env)
            replays.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            report = prove(target, corpus=corpus, properties=CORPUS_PROPERTIES)
            runs.append(time.perf_counter() - t0)
    load_after = os.getloadavg()
    replay, proofs = min(replays), min(runs)
    print(
        f"load average (1/5/15 min): before {' '.join(f'{x:.2f}' for x in load_before)}, "
        f"after {' '.join(f'{x:.2f}' for x in load_after)} (2 cores)"
    )
    every = ", ".join(f"{r:.2f}/{p:.2f}" for r, p in zip(replays, runs, strict=True))
    print(f"runs (replay/properties, s): {every}; best of {len(runs)}:")
    print(f"one vectorised replay:      {replay:7.2f} s  {corpus.n_rows / replay:,.0f} spans/s")
    print(f"all corpus properties:      {proofs:7.2f} s  {corpus.n_rows / proofs:,.0f} spans/s")
    print(f"ratio properties / replay:  {proofs / replay:7.2f}x  (target <= 2x)")
    for pid, result in report.results.items():
        print(f"  {result.verdict.value:<7} {pid}: {result.summary[:90]}")
    print("all-traces proofs (error-preservation-all, must-keep-all, shadowed-rules):")
    policies = sorted((ROOT / "examples").rglob("*.toon"))
    with tempfile.TemporaryDirectory() as tmp:
        extra = Path(tmp) / "bench.toon"
        extra.write_text(POLICY)
        for policy in [*policies, extra]:
            t0 = time.perf_counter()
            rep = prove(
                policy, properties=["error-preservation-all", "must-keep-all", "shadowed-rules"]
            )
            took = time.perf_counter() - t0
            verdicts = ", ".join(f"{k}={r.verdict.value}" for k, r in rep.results.items())
            print(f"  {took:6.3f} s  {policy.name}: {verdicts}")


if __name__ == "__main__":
    main()
