"""Benchmark: ``prove`` on a local Dask cluster of 1 and of 2 workers, and in one process.

Run: ``python benchmarks/bench_cluster.py [--spans N] [--parts P] [--repeat N]`` (default
10,000,000 spans, ~10 per trace; needs ``pip install -e '.[cluster]'``).  The corpus is
generated as columns (``bench_prove.make_corpus``) and laid out twice in a temporary cache
folder, which the workers read by path, as they would on shared storage:

- **one store**: the columnar store of the corpus in memory; each run splits it into one
  trace range per worker;
- **partitions**: the same corpus stored in ``--parts`` partitions (default 8), as
  ``corpus/parts.py`` lays out a corpus larger than ``partition_rows`` (a part per trace
  range, its order and end arrays, the manifest), opened as a ``PartedCorpus``: each task
  reads its own partition, the client holds only per-trace arrays.

Each timing is the best of ``--repeat`` runs of every corpus property, after one warm-up run
that starts the cluster's processes and maps the stores; the results of every run are
checked equal to the single-process in-memory ones.  Beside each time: the part spent in
the corpus evaluation (the rest is the client's proofs: budget, witnesses, lints), and the
CPU seconds of that run: the client's, each worker's, and the other processes' on the
machine (from /proc/stat): scaling needs the cores free, and a run whose neighbours took
one says so.  Prints the times, spans/s and the scaling from 1 to 2 workers (target >= 1.6x
on 2 cores) per layout, with the load average beside.
"""

from __future__ import annotations

import argparse
import itertools
import os
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from bench_prove import CORPUS_PROPERTIES, POLICY, make_corpus

from pytest_nectar.corpus.partition import slice_corpus
from pytest_nectar.corpus.parts import PartedCorpus, open_parted, parted_path
from pytest_nectar.corpus.parts_build import part_digest, write_manifest, write_part
from pytest_nectar.corpus.store import save_store, store_path
from pytest_nectar.corpus.table import Corpus
from pytest_nectar.prover import corpus_proofs, distributed, prove
from pytest_nectar.prover.engine import load_target


class _Timed:
    """The seconds each run spends in the corpus evaluation (the rest: the client's proofs)."""

    def __init__(self) -> None:
        self.real = corpus_proofs.evaluate_pass
        self.seconds = 0.0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return self.real(*args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - t0


def _worker_cpu() -> float:
    """This process's CPU seconds (run in each worker)."""
    import resource

    used = resource.getrusage(resource.RUSAGE_SELF)
    return used.ru_utime + used.ru_stime


def _machine_busy() -> float:
    """CPU seconds every process of the machine has used (Linux's /proc/stat; 0 elsewhere)."""
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            fields = [int(x) for x in stat.readline().split()[1:9]]
    except OSError:
        return 0.0
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


class _Cpu:
    """CPU seconds of one run: the client's, each worker's, and the other processes' (the
    machine is shared: a run whose neighbours took a core is not a measure of scaling)."""

    def __init__(self, cluster: str | None) -> None:
        self.made = distributed.client(cluster) if cluster is not None else None

    def __enter__(self) -> _Cpu:
        self.workers0 = self.made.run(_worker_cpu) if self.made is not None else {}
        self.machine0, self.client0 = _machine_busy(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.client = time.process_time() - self.client0
        after = self.made.run(_worker_cpu) if self.made is not None else {}
        self.workers = [after[w] - self.workers0[w] for w in sorted(after)]
        self.others = max(0.0, _machine_busy() - self.machine0 - self.client - sum(self.workers))

    def __str__(self) -> str:
        workers = "+".join(f"{w:.2f}" for w in self.workers)
        return (
            f"CPU: client {self.client:.2f} s"
            + (f", workers {workers} s" if workers else "")
            + f"; other processes {self.others:.2f} s"
        )


def _verdicts(report: Any) -> list[tuple[str, str, str]]:
    return [(k, r.verdict.value, r.summary) for k, r in report.results.items()]


def stored_in_parts(corpus: Corpus, cache: Path, parts: int) -> PartedCorpus:
    """``corpus`` stored in ``parts`` partitions of contiguous traces (corpus/parts.py's
    layout), opened as the PartedCorpus a corpus larger than ``partition_rows`` loads as."""
    bounds = np.linspace(0, corpus.n_traces, max(1, parts) + 1).round().astype(np.int64)
    folder = parted_path(cache, corpus.digest, corpus.n_rows // max(1, parts))
    folder.mkdir(parents=True)
    entries = []
    for k, (a, b) in enumerate(itertools.pairwise(bounds.tolist())):
        part = replace(slice_corpus(corpus, a, b), digest=part_digest(corpus.digest, k))
        entries.append(write_part(folder, k, part, np.arange(a, b, dtype=np.int64)))
    write_manifest(
        folder,
        digest=corpus.digest,
        part_rows=corpus.n_rows // max(1, parts),
        parts=entries,
        skipped=(),
        sources=corpus.sources,
        formats=corpus.formats,
        must_keep_unmatched=(),
    )
    return open_parted(folder)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--spans", type=int, default=10_000_000, help="about this many spans")
    parser.add_argument("--parts", type=int, default=8, help="partitions of the stored corpus")
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
        parted = stored_in_parts(corpus, Path(tmp), args.parts)
        print(
            f"one store and {parted.n_parts} partitions written in {time.perf_counter() - t0:.1f} s"
        )
        policy = Path(tmp) / "bench.toon"
        policy.write_text(POLICY)
        target = load_target(str(policy))
        timed = _Timed()
        corpus_proofs.evaluate_pass = timed  # type: ignore[assignment]
        load_before = os.getloadavg()
        best: dict[tuple[str, str], float] = {}
        expected: list[tuple[str, str, str]] | None = None
        layouts: list[tuple[str, Corpus | PartedCorpus]] = [
            ("one store", corpus),
            ("partitions", parted),
        ]
        for cluster in [None, "local:1", "local:2"]:
            label = cluster or "1 process"
            for layout, table in layouts:
                times: list[tuple[float, float, _Cpu]] = []  # (prove, its evaluation, CPU)
                for run in range(max(1, args.repeat) + (cluster is not None)):
                    timed.seconds = 0.0
                    with _Cpu(cluster) as cpu:
                        t0 = time.perf_counter()
                        report = prove(
                            target, corpus=table, properties=CORPUS_PROPERTIES, cluster=cluster
                        )
                        took = time.perf_counter() - t0
                    if cluster is None or run > 0:  # a cluster's first run starts it: warm-up
                        times.append((took, timed.seconds, cpu))
                    got = _verdicts(report)
                    expected = expected if expected is not None else got
                    if got != expected:
                        raise SystemExit(f"{label}, {layout}: results differ from one process")
                took, evaluation, cpu = min(times, key=lambda t: t[0])
                best[label, layout] = took
                print(
                    f"{label:<10} {layout:<11} {took:7.2f} s  {corpus.n_rows / took:>13,.0f} "
                    f"spans/s; evaluation {evaluation:.2f} s of it"
                    f"  (runs: {', '.join(f'{t:.2f}' for t, _, _ in times)})\n"
                    f"{'':<23}best run's {cpu}"
                )
            if cluster is not None:
                distributed._close()  # one cluster at a time: they share the cores
        load_after = os.getloadavg()
    print(
        f"load average (1/5/15 min): before {' '.join(f'{x:.2f}' for x in load_before)}, "
        f"after {' '.join(f'{x:.2f}' for x in load_after)}"
    )
    for layout, _ in layouts:
        one, two = best["local:1", layout], best["local:2", layout]
        print(
            f"{layout:<11} scaling 1 -> 2 workers {one / two:5.2f}x (target >= 1.6x on 2 cores); "
            f"one process / 2 workers {best['1 process', layout] / two:5.2f}x"
        )
    print(f"results identical in every run: {len(expected or [])} properties")


if __name__ == "__main__":
    main()
