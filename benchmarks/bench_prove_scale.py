"""Benchmark: prove a day of traffic (100,000,000 spans) streamed from partitions on disk.

Run: ``python benchmarks/bench_prove_scale.py [--spans N] [--part-rows N]
[--compare-part-rows N] [--baseline-spans N] [--folder DIR]`` (defaults: 100,000,000 spans in
partitions of 1,000,000 rows; the same corpus again in partitions of 10,000,000 rows; an
in-memory baseline of 10,000,000 spans).

The corpus is written by ``scale_corpus.generate_parted`` (the built-in shop's seeded
traffic, tiled over a day with fresh trace ids), then proven in a fresh child process with
the quickstart's checkout policy (every corpus property: errors, must-keep, fallback, budget
windows over the whole day, lints), which prints its wall time and its own peak resident
memory (``VmHWM``; target: under 4 GB).  The same corpus is then written again in
fewer, larger partitions (the first copy is deleted first: the disk holds one at a time)
and proven again: the verdicts, figures and witnesses must be identical, or the script
exits 1.  The baseline, in the same run, proves ``--baseline-spans`` spans of the same
traffic held as ONE partition (the in-memory path, memory-mapped), for the time per span
and the memory of not streaming.  The load average is printed beside each figure.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from scale_corpus import generate_parted

ROOT = Path(__file__).resolve().parent.parent
POLICY = ROOT / "examples" / "quickstart" / "policies" / "checkout.toon"

#: Runs in the child: prove, then print the report (without timings) and the figures.
CHILD = r"""
import json, sys, time
from pathlib import Path

def peak_rss_gb():
    # VmHWM: this process's peak resident set (ru_maxrss would carry the parent's over exec).
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024 / 1e9

t0 = time.perf_counter()
from pytest_nectar.corpus.parts import open_parted
from pytest_nectar.prover import prove
from pytest_nectar.prover.engine import load_target
from pytest_nectar.prover.proof_report import render_json

folder, policy, in_memory = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
parted = open_parted(Path(folder))
corpus = parted.part(0) if in_memory else parted
opened = time.perf_counter() - t0
target = load_target(policy)
props = ["fallback", "error-preservation", "must-keep", "budget", "unreachable-rules",
         "unknown-fields", "mixed-types"]
t1 = time.perf_counter()
report = prove(target, corpus=corpus, properties=props, corpus_paths=["<generated>"])
proved = time.perf_counter() - t1
text = render_json([report])
print(json.dumps({
    "open_s": opened, "prove_s": proved, "rss_gb": peak_rss_gb(),
    "spans": parted.n_rows, "traces": parted.n_traces, "parts": 1 if in_memory else parted.n_parts,
    "report": text,
}))
"""


def _load() -> str:
    return "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def _prove(folder: Path, in_memory: bool = False) -> dict[str, object]:
    t0 = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(folder), str(POLICY), "1" if in_memory else "0"],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    result["wall_s"] = time.perf_counter() - t0
    return result


def _show(label: str, r: dict[str, object]) -> None:
    spans = int(r["spans"])  # type: ignore[call-overload]
    prove_s = float(r["prove_s"])  # type: ignore[arg-type]
    print(
        f"{label}: {spans:,} spans, {int(r['traces']):,} traces in {r['parts']} partition(s): "  # type: ignore[call-overload]
        f"open {float(r['open_s']):.2f} s, prove {prove_s:.2f} s "  # type: ignore[arg-type]
        f"({spans / prove_s:,.0f} spans/s), peak RSS {float(r['rss_gb']):.2f} GB "  # type: ignore[arg-type]
        f"[load {_load()}]"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spans", type=int, default=100_000_000)
    parser.add_argument("--part-rows", type=int, default=1_000_000)
    parser.add_argument("--compare-part-rows", type=int, default=10_000_000)
    parser.add_argument("--baseline-spans", type=int, default=10_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--folder", type=Path, help="scratch folder (default: a temporary one)")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="nectar-scale-", dir=args.folder))
    try:
        base = scratch / "baseline"
        generate_parted(base, args.baseline_spans, args.seed, args.baseline_spans, log=False)
        baseline = _prove(base, in_memory=True)
        shutil.rmtree(base)
        _show("baseline, one partition in memory", baseline)

        results = []
        for rows in (args.part_rows, args.compare_part_rows):
            folder = scratch / f"parts-{rows}"
            t0 = time.perf_counter()
            generate_parted(folder, args.spans, args.seed, rows, log=False)
            print(f"generated {args.spans:,} spans in partitions of {rows:,} rows: "
                  f"{time.perf_counter() - t0:.1f} s")  # fmt: skip
            result = _prove(folder)
            shutil.rmtree(folder)  # the disk holds one copy at a time
            _show(f"streamed, partitions of {rows:,} rows", result)
            results.append(result)
        same = results[0]["report"] == results[1]["report"]
        per_span = [float(r["prove_s"]) / int(r["spans"]) for r in (baseline, results[0])]  # type: ignore[call-overload, arg-type]
        print(
            f"streamed prove costs {per_span[1] / per_span[0]:.2f}x the in-memory time per span; "
            f"verdicts, figures and witnesses identical across partitionings: {same}"
        )
        if not same:
            sys.exit(1)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
