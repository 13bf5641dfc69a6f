"""Benchmark: peak memory of building a corpus partitioned by trace id vs ``load_corpus``.

Run: ``python benchmarks/bench_parts_build.py [--spans N] [--part-rows N] [--workers N]``
(default 2,000,000 spans in partitions of 200,000 rows, one parsing process each).  An
OTLP JSON Lines file of about ``--spans`` spans is written to a temporary folder (a seeded
shop corpus, repeated with fresh trace ids), then read twice, each time in a fresh process
so that its peak RSS is its own: ``load_corpus`` (the whole corpus in memory) and
``build_parted`` (a few chunks, then one partition in memory), each with ``--workers``
parsing processes.  Prints the time and peak RSS of each and their ratio.
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pytest_nectar.synth import shop_model, synthesize

_TRACE_ID = re.compile(rb'"traceId": "([0-9a-f]{8})')


def write_input(path: Path, spans: int, seed: int) -> None:
    """About ``spans`` spans: a 100,000-span shop corpus, then copies with new trace ids."""
    base = synthesize(shop_model(), seed, traces=10_000, duration=600.0).encode()
    per_copy = base.count(b'"spanId"')
    with open(path, "wb") as out:
        for copy in range(max(1, round(spans / per_copy))):
            head = f"{copy:08x}".encode()
            out.write(_TRACE_ID.sub(b'"traceId": "' + head, base))


def child(kind: str, source: str, folder: str, part_rows: int, workers: int) -> None:
    t0 = time.perf_counter()
    if kind == "load":
        from pytest_nectar.corpus.load import load_corpus

        corpus = load_corpus(source, cache=False, workers=workers)
        rows, parts = corpus.n_rows, 1
    else:
        from pytest_nectar.corpus.parts import build_parted

        parted = build_parted(source, Path(folder) / "parts", part_rows=part_rows, workers=workers)
        rows, parts = parted.n_rows, parted.n_parts
    took = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"rows": rows, "parts": parts, "seconds": took, "peak": peak}))


def run(kind: str, source: Path, folder: Path, part_rows: int, workers: int) -> dict[str, float]:
    command = [sys.executable, __file__, "--child", kind, str(source), str(folder)]
    out = subprocess.run(
        [*command, str(part_rows), str(workers)],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), int(sys.argv[6]))
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("--spans", type=int, default=2_000_000)
    parser.add_argument("--part-rows", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=1, help="parsing processes (0: all cores)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "traces.jsonl"
        t0 = time.perf_counter()
        write_input(source, args.spans, args.seed)
        size = source.stat().st_size
        print(f"input: {size / 1e6:,.0f} MB of OTLP JSON Lines ({time.perf_counter() - t0:.1f} s)")
        load = run("load", source, Path(tmp), args.part_rows, args.workers)
        parted = run("parted", source, Path(tmp), args.part_rows, args.workers)
        for label, r in (("load_corpus", load), ("build_parted", parted)):
            print(
                f"{label:13s} {int(r['rows']):,} rows, {int(r['parts'])} partition(s): "
                f"{r['seconds']:.1f} s, {r['rows'] / r['seconds']:,.0f} spans/s, "
                f"peak RSS {r['peak'] / 1e6:,.0f} MB"
            )
        print(
            f"peak RSS build_parted / load_corpus: {parted['peak'] / load['peak']:.2f}; "
            f"time: {parted['seconds'] / load['seconds']:.2f}"
        )


if __name__ == "__main__":
    main()
